//! What can go wrong while explaining a model.

use std::path::PathBuf;

/// Errors of Grad-CAM and of writing its results.
#[derive(Debug, thiserror::Error)]
pub enum CamError {
    /// The model has no layer of that name to explain.
    #[error("unknown layer `{layer}`: this model explains {}", available.join(", "))]
    UnknownLayer {
        /// The layer asked for.
        layer: String,
        /// The layers the model can explain.
        available: Vec<String>,
    },
    /// A target class is not one of the model's classes.
    #[error("class {class} is out of range: the model has {num_classes} classes")]
    ClassOutOfRange {
        /// The class asked for.
        class: usize,
        /// The number of classes of the model.
        num_classes: usize,
    },
    /// The number of target classes differs from the number of images.
    #[error("{classes} target classes given for {images} images")]
    ClassCount {
        /// How many classes were given.
        classes: usize,
        /// How many images the batch holds.
        images: usize,
    },
    /// The class scores do not depend on the layer's activation.
    #[error("the logits do not depend on the activation of layer `{layer}`")]
    NoGradient {
        /// The layer asked for.
        layer: String,
    },
    /// A map and the picture it is laid on differ in size.
    #[error("a {map_width}x{map_height} map cannot be laid on a {width}x{height} image")]
    SizeMismatch {
        /// Width of the map.
        map_width: usize,
        /// Height of the map.
        map_height: usize,
        /// Width of the image.
        width: u32,
        /// Height of the image.
        height: u32,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A picture could not be encoded or written.
    #[error("cannot write image {}: {source}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: image::ImageError,
    },
}
