#![doc = include_str!("../README.md")]

pub mod affectnet;
pub mod batch;
pub mod dataset;
pub mod decode;
pub mod error;
pub mod ferplus;
pub mod files;
pub mod folder;
pub mod label_list;
pub mod noise;
mod open;
pub mod options;
pub mod paths;
pub mod rafdb;
mod table;
pub mod transform;

pub use affectnet::{AFFECTNET_CLASSES, AffectNetClasses, open_affectnet};
pub use batch::{Batch, Views, epoch_order, eval_batch, train_batch};
pub use dataset::{Annotation, FerDataset, Sample, Split, check_index};
pub use decode::decode_image;
pub use error::{DataError, Location, Result};
pub use ferplus::{FERPLUS_CLASSES, FerPlus, FerPlusClasses, majority_label, open_ferplus};
pub use files::{FaceBox, ImageEntry, ImageFiles};
pub use folder::{folder_classes, open_folder};
/// The `image` crate this crate's API speaks (`RgbImage`), re-exported for dependents.
pub use image;
pub use label_list::{ListEntry, read_label_list, read_labels_for, write_label_list};
pub use noise::{NoiseConfig, NoiseKind, NoisyLabels, Relabeled, inject_noise, pair_targets};
pub use open::{DatasetFormat, DatasetSource};
pub use options::{ImageLimits, LoadOptions};
pub use rafdb::{RAFDB_CLASSES, open_rafdb};
pub use transform::{
    AugmentConfig, IMAGENET_MEAN, IMAGENET_STD, eval_pixels, image_to_tensor, normalize_chw,
    resize_square, sample_rng,
};
