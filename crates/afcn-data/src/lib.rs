//! FER datasets (RAF-DB, FERPlus, AffectNet, image folders), the SynthFER generator, the
//! two-view training transform and label-noise injection: everything between files on disk and
//! a batch of two-view tensors.
//!
//! Every loader implements [`FerDataset`]: a split of a dataset whose samples carry the given
//! (possibly noisy) label, the clean label beside it, and their index. Bad input (a corrupt or
//! missing image, a malformed row, a path leaving the root, a decompression bomb) is a
//! [`DataError`] naming the file and line; with [`LoadOptions::skip_bad`] it is skipped and
//! reported instead.
//!
//! ```
//! use afcn_data::{AugmentConfig, FerDataset, NoiseConfig, Relabeled, open_folder, LoadOptions, Split};
//! use afcn_data::image::{Rgb, RgbImage};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root = tempfile::tempdir()?;
//! for (class, shade) in [("happy", 200u8), ("sad", 40)] {
//!     let dir = root.path().join("train").join(class);
//!     std::fs::create_dir_all(&dir)?;
//!     for i in 0..5 {
//!         RgbImage::from_pixel(16, 16, Rgb([shade; 3])).save(dir.join(format!("{i}.png")))?;
//!     }
//! }
//! let train = open_folder(root.path(), Split::Train, &LoadOptions::default())?;
//! assert_eq!(train.class_names(), ["happy", "sad"]);
//! let noise = NoiseConfig { rate: 0.2, seed: 1, ..NoiseConfig::default() };
//! let (noisy, report) = Relabeled::with_noise(train, &noise)?;
//! println!("realised noise {:.2}", report.realised_rate());
//! let augment = AugmentConfig { image_size: 8, ..AugmentConfig::default() };
//! let batch = afcn_data::two_view_batch::<burn::backend::Flex, _>(
//!     &noisy, &[0, 7], &augment, 42, 0, &Default::default())?;
//! assert_eq!(batch.view2.dims(), [2, 3, 8, 8]);
//! # Ok(())
//! # }
//! ```

pub mod affectnet;
pub mod batch;
pub mod dataset;
pub mod decode;
pub mod error;
pub mod ferplus;
pub mod files;
pub mod folder;
mod invalid_field;
pub mod label_list;
pub mod noise;
mod open;
pub mod options;
pub mod paths;
pub mod rafdb;
mod table;
pub mod transform;

pub use affectnet::{AFFECTNET_CLASSES, AffectNetClasses, open_affectnet};
pub use batch::{Batch, TwoViewBatch, epoch_order, eval_batch, train_batch, two_view_batch};
pub use dataset::{Annotation, FerDataset, Sample, Split, check_index};
pub use decode::decode_image;
pub use error::{DataError, Location, Result};
pub use ferplus::{FERPLUS_CLASSES, FerPlus, FerPlusClasses, majority_label, open_ferplus};
pub use files::{FaceBox, ImageEntry, ImageFiles};
pub use folder::{folder_classes, open_folder};
/// The `image` crate this crate's API speaks (`RgbImage`), re-exported for dependents.
pub use image;
pub use invalid_field::InvalidField;
pub use label_list::{ListEntry, read_label_list, read_labels_for, write_label_list};
pub use noise::{NoiseConfig, NoiseKind, NoisyLabels, Relabeled, inject_noise, pair_targets};
pub use open::{DatasetFormat, DatasetSource};
pub use options::{ImageLimits, LoadOptions};
pub use rafdb::{RAFDB_CLASSES, open_rafdb};
pub use transform::{
    AugmentConfig, IMAGENET_MEAN, IMAGENET_STD, eval_pixels, image_to_tensor, normalize_chw,
    resize_square, sample_rng,
};
