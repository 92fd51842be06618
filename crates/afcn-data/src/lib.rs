//! FER datasets (RAF-DB, FERPlus, AffectNet, image folders), the SynthFER generator, the
//! two-view training transform and label-noise injection: everything between files on disk and
//! a batch of two-view tensors.
//!
//! Every loader implements [`FerDataset`]: a split of a dataset whose samples carry the given
//! (possibly noisy) label, the clean label beside it, and their index.

pub mod dataset;
pub mod error;
pub mod synthfer;

pub use dataset::{Annotation, FerDataset, Sample, Split, check_index};
pub use error::{DataError, Location, Result};
/// The `image` crate this crate's API speaks (`RgbImage`), re-exported for dependents.
pub use image;
