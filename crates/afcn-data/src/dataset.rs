//! The dataset trait every loader implements, and what it yields.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// A split of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The training split (the one noise is injected into).
    Train,
    /// The validation split, where the format has one (FERPlus' PublicTest).
    Valid,
    /// The test split, scored on clean labels.
    Test,
}

impl Split {
    /// All splits, in order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    /// The split's lowercase name, also its folder name in an image folder dataset.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Split {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Split::ALL
            .into_iter()
            .find(|split| split.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown split `{s}`: expected train, valid or test"))
    }
}

/// A sample's labels: the one training sees and the dataset's own annotation beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// The given label, 0-based: noisy when noise was injected or a noisy list was loaded.
    pub label: usize,
    /// The dataset's own annotation, 0-based; equal to `label` when no noise was added. Label
    /// correction is scored against it.
    pub clean_label: usize,
}

impl Annotation {
    /// An annotation without noise: `label == clean_label`.
    pub fn clean(label: usize) -> Self {
        Self {
            label,
            clean_label: label,
        }
    }

    /// Whether the given label differs from the clean one.
    pub fn is_noisy(&self) -> bool {
        self.label != self.clean_label
    }
}

/// One sample: the decoded image with its labels and its index in the dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The image, converted to 8-bit RGB (and cropped to the face where the format has a box).
    pub image: RgbImage,
    /// The given (possibly noisy) label and the clean one.
    pub annotation: Annotation,
    /// The sample's index in its dataset: the key of the trainer's label store.
    pub index: usize,
}

/// A facial-expression dataset split: a fixed number of samples, each with a label among
/// [`class_names`](FerDataset::class_names). Nothing assumes 7 classes.
///
/// Implementors provide the class names, the length, the annotation (cheap, no decoding) and the
/// image (decoded on demand); `get` combines them. Implementations are shared between decoding
/// threads, hence `Send + Sync`.
pub trait FerDataset: Send + Sync {
    /// The class names; a label `c` names `class_names()[c]`.
    fn class_names(&self) -> &[String];

    /// The number of samples.
    fn len(&self) -> usize;

    /// The labels of sample `index`, without decoding its image.
    fn annotation(&self, index: usize) -> Result<Annotation>;

    /// The image of sample `index`, decoded and converted to 8-bit RGB.
    fn image(&self, index: usize) -> Result<RgbImage>;

    /// The name of sample `index` in a label list (for RAF-DB `train_00001.jpg`); by default its
    /// index.
    fn name(&self, index: usize) -> Result<String> {
        check_index(index, self.len())?;
        Ok(index.to_string())
    }

    /// The problems skipped while loading (with `skip_bad`); empty by default.
    fn skipped(&self) -> &[DataError] {
        &[]
    }

    /// The number of classes.
    fn num_classes(&self) -> usize {
        self.class_names().len()
    }

    /// Whether the dataset holds no sample.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `index`: image, labels and index.
    fn get(&self, index: usize) -> Result<Sample> {
        Ok(Sample {
            annotation: self.annotation(index)?,
            image: self.image(index)?,
            index,
        })
    }

    /// All annotations, in index order.
    fn annotations(&self) -> Result<Vec<Annotation>> {
        (0..self.len()).map(|i| self.annotation(i)).collect()
    }
}

/// Fails with [`DataError::IndexOutOfRange`] unless `index < len`.
pub fn check_index(index: usize, len: usize) -> Result<()> {
    if index < len {
        Ok(())
    } else {
        Err(DataError::IndexOutOfRange { index, len })
    }
}

macro_rules! forward_dataset {
    ($($ty:ty),*) => {$(
        impl<D: FerDataset + ?Sized> FerDataset for $ty {
            fn class_names(&self) -> &[String] {
                (**self).class_names()
            }
            fn len(&self) -> usize {
                (**self).len()
            }
            fn annotation(&self, index: usize) -> Result<Annotation> {
                (**self).annotation(index)
            }
            fn image(&self, index: usize) -> Result<RgbImage> {
                (**self).image(index)
            }
            fn name(&self, index: usize) -> Result<String> {
                (**self).name(index)
            }
            fn skipped(&self) -> &[DataError] {
                (**self).skipped()
            }
        }
    )*};
}

forward_dataset!(&D, Box<D>, Arc<D>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names_round_trip() {
        for split in Split::ALL {
            assert_eq!(split.name().parse::<Split>(), Ok(split));
        }
        assert_eq!("TEST".parse::<Split>(), Ok(Split::Test));
        assert!("validation".parse::<Split>().is_err());
    }

    #[test]
    fn check_index_rejects_the_end() {
        assert!(check_index(2, 3).is_ok());
        assert!(matches!(
            check_index(3, 3),
            Err(DataError::IndexOutOfRange { index: 3, len: 3 })
        ));
    }
}
