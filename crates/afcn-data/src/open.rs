//! One opener for every dataset format on disk: what `afcn train`, `afcn eval` and
//! `afcn data inspect` all call.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{
    AffectNetClasses, DataError, FerDataset, FerPlusClasses, LoadOptions, Location, Result, Split,
    open_affectnet, open_ferplus, open_folder, open_rafdb,
};

/// The dataset formats read from disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetFormat {
    /// RAF-DB basic (`EmoLabel/list_patition_label.txt`, `Image/aligned/`).
    Rafdb,
    /// FERPlus (`fer2013.csv` with `fer2013new.csv`, majority protocol).
    Ferplus,
    /// AffectNet (`training.csv`, `validation.csv`, `Manually_Annotated_Images/`).
    Affectnet,
    /// An image folder `<root>/<split>/<class>/*.{jpg,jpeg,png}`.
    Folder,
}

impl DatasetFormat {
    /// The format's name in configuration files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DatasetFormat::Rafdb => "rafdb",
            DatasetFormat::Ferplus => "ferplus",
            DatasetFormat::Affectnet => "affectnet",
            DatasetFormat::Folder => "folder",
        }
    }

    /// Whether the format has a choice of 7 or 8 classes (FERPlus and AffectNet).
    pub fn has_class_choice(self) -> bool {
        matches!(self, DatasetFormat::Ferplus | DatasetFormat::Affectnet)
    }

    /// The splits a dataset of this format at `root` has: FERPlus always has a validation
    /// split, an image folder when `<root>/valid` exists, the others train and test only.
    pub fn splits(self, root: &Path) -> Vec<Split> {
        match self {
            DatasetFormat::Ferplus => Split::ALL.to_vec(),
            DatasetFormat::Folder if root.join(Split::Valid.name()).is_dir() => Split::ALL.to_vec(),
            _ => vec![Split::Train, Split::Test],
        }
    }
}

impl fmt::Display for DatasetFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a dataset is and how to read it.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSource {
    /// The format.
    pub format: DatasetFormat,
    /// The dataset's root folder.
    pub root: PathBuf,
    /// 7 or 8 classes, for FERPlus (8 with contempt) and AffectNet (8 with contempt); the
    /// other formats have their own class list and ignore it.
    pub classes: usize,
    /// RAF-DB only: a train label list in the official line format (such as the published
    /// `noise01.txt`) whose labels replace the official ones.
    pub train_labels: Option<PathBuf>,
}

impl DatasetSource {
    /// Opens `split`; `options` decide whether bad entries stop it or are listed and left out.
    ///
    /// # Errors
    /// A missing or malformed file, named with its line; a class count other than 7 or 8 for
    /// FERPlus and AffectNet; train labels for another format than RAF-DB.
    pub fn open(&self, split: Split, options: &LoadOptions) -> Result<Box<dyn FerDataset>> {
        let root = self.root.as_path();
        if self.format.has_class_choice() && !matches!(self.classes, 7 | 8) {
            return Err(DataError::Inconsistent {
                at: Location::file(root),
                message: format!("{} has 7 or 8 classes, not {}", self.format, self.classes),
            });
        }
        if self.train_labels.is_some() && self.format != DatasetFormat::Rafdb {
            return Err(DataError::Inconsistent {
                at: Location::file(root),
                message: format!(
                    "train labels replace RAF-DB's list only, not {}'s",
                    self.format
                ),
            });
        }
        let eight = self.classes == 8;
        Ok(match self.format {
            DatasetFormat::Rafdb => {
                let labels = self
                    .train_labels
                    .as_deref()
                    .filter(|_| split == Split::Train);
                Box::new(open_rafdb(root, split, labels, options)?)
            }
            DatasetFormat::Ferplus => {
                let classes = if eight {
                    FerPlusClasses::Eight
                } else {
                    FerPlusClasses::Seven
                };
                Box::new(open_ferplus(root, split, classes, options.skip_bad)?)
            }
            DatasetFormat::Affectnet => {
                let classes = if eight {
                    AffectNetClasses::Eight
                } else {
                    AffectNetClasses::Seven
                };
                Box::new(open_affectnet(root, split, classes, options)?)
            }
            DatasetFormat::Folder => Box::new(open_folder(root, split, options)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(format: DatasetFormat, classes: usize, train_labels: Option<&str>) -> DatasetSource {
        DatasetSource {
            format,
            root: PathBuf::from("/nonexistent/dataset"),
            classes,
            train_labels: train_labels.map(PathBuf::from),
        }
    }

    fn error(source: DatasetSource) -> String {
        match source.open(Split::Train, &LoadOptions::default()) {
            Ok(_) => panic!("{source:?} opened"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn class_counts_other_than_7_or_8_are_refused_before_any_file_is_read() {
        let err = error(source(DatasetFormat::Ferplus, 6, None));
        assert!(err.contains("ferplus has 7 or 8 classes, not 6"), "{err}");
        assert!(err.contains("/nonexistent/dataset"), "{err}");
    }

    #[test]
    fn train_labels_belong_to_rafdb_only() {
        let err = error(source(DatasetFormat::Folder, 7, Some("noise01.txt")));
        assert!(err.contains("RAF-DB's list only, not folder's"), "{err}");
        // RAF-DB gets past the check and fails on its missing list instead.
        let err = error(source(DatasetFormat::Rafdb, 7, Some("noise01.txt")));
        assert!(err.contains("list_patition_label.txt"), "{err}");
    }

    #[test]
    fn ferplus_has_three_splits_and_rafdb_two() {
        let root = Path::new("/nonexistent");
        assert_eq!(DatasetFormat::Ferplus.splits(root).len(), 3);
        assert_eq!(
            DatasetFormat::Rafdb.splits(root),
            [Split::Train, Split::Test]
        );
        assert_eq!(
            DatasetFormat::Folder.splits(root),
            [Split::Train, Split::Test]
        );
    }
}
