//! What can go wrong generating or exporting SynthFER.

use std::path::PathBuf;

use afcn_data::Split;

use afcn_certainty::InvalidField;

/// An error of the SynthFER generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthFerError {
    /// The configuration has a field out of range.
    #[error("SynthFER config: {0}")]
    Config(#[from] InvalidField),
    /// SynthFER has train and test splits only, like RAF-DB.
    #[error("SynthFER has no {0} split: it has train and test, like RAF-DB")]
    NoSuchSplit(Split),
    /// A file or folder of the export could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An image could not be encoded.
    #[error("{}: cannot encode the image: {source}", path.display())]
    Encode {
        /// The image file.
        path: PathBuf,
        /// The encoder's error.
        source: image::ImageError,
    },
}
