//! FERPlus: the 48 x 48 grey faces of `fer2013.csv` relabelled by the ten annotators' votes of
//! `fer2013new.csv` (rows aligned one to one), under the majority protocol.

use std::path::Path;

use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use crate::dataset::{Annotation, FerDataset, Split, check_index};
use crate::error::{DataError, Location, Problems, Result};
use crate::files::names;
use crate::table::{Row, Table, parse_field};

/// FERPlus' eight emotion classes, in the order of the vote columns.
pub const FERPLUS_CLASSES: [&str; 8] = [
    "Neutral",
    "Happiness",
    "Surprise",
    "Sadness",
    "Anger",
    "Disgust",
    "Fear",
    "Contempt",
];

/// The vote columns of `fer2013new.csv`: the eight classes, then unknown and not-a-face.
const VOTE_COLUMNS: [&str; 10] = [
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
];

/// The side of a FER2013 image.
pub const FER_SIDE: u32 = 48;
const PIXELS: usize = (FER_SIDE * FER_SIDE) as usize;

/// Which classes a FERPlus split keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FerPlusClasses {
    /// All eight classes (the usual FERPlus protocol).
    #[default]
    Eight,
    /// Seven classes: samples whose majority is contempt are left out.
    Seven,
}

impl FerPlusClasses {
    /// The number of classes.
    pub fn count(self) -> usize {
        match self {
            FerPlusClasses::Eight => 8,
            FerPlusClasses::Seven => 7,
        }
    }
}

/// The majority label of one row of votes (neutral, happiness, surprise, sadness, anger,
/// disgust, fear, contempt, unknown, NF): votes of 1 or less count as 0; the row is kept when the
/// largest count is more than half the total and names one of the classes (not unknown or NF).
pub fn majority_label(votes: &[u32; 10], classes: FerPlusClasses) -> Option<usize> {
    let votes = votes.map(|v| if v <= 1 { 0 } else { v });
    // Summed in 64 bits: ten counts of up to 2^32 - 1 each cannot overflow.
    let total: u64 = votes.iter().map(|&v| u64::from(v)).sum();
    let (winner, &most) = votes
        .iter()
        .enumerate()
        .max_by_key(|&(i, v)| (*v, std::cmp::Reverse(i)))?;
    (2 * u64::from(most) > total && winner < classes.count()).then_some(winner)
}

/// A FERPlus split held in memory (48 x 48 grey pixels per sample).
#[derive(Debug)]
pub struct FerPlus {
    class_names: Vec<String>,
    pixels: Vec<u8>,
    labels: Vec<usize>,
    names: Vec<String>,
    skipped: Vec<DataError>,
}

/// Opens a split of FERPlus from `root/fer2013.csv` and `root/fer2013new.csv`: Training,
/// PublicTest and PrivateTest rows are train, valid and test.
pub fn open_ferplus(
    root: &Path,
    split: Split,
    classes: FerPlusClasses,
    skip_bad: bool,
) -> Result<FerPlus> {
    let images_path = root.join("fer2013.csv");
    let votes_path = root.join("fer2013new.csv");
    let mut images = Table::open(&images_path, &["pixels", "Usage"])?;
    let mut columns = vec!["Usage", "Image name"];
    columns.extend(VOTE_COLUMNS);
    let mut votes = Table::open(&votes_path, &columns)?;
    let mut problems = Problems::new(skip_bad);
    let mut set = FerPlus {
        class_names: names(&FERPLUS_CLASSES[..classes.count()]),
        pixels: Vec::new(),
        labels: Vec::new(),
        names: Vec::new(),
        skipped: Vec::new(),
    };
    for row in 0usize.. {
        let (image_row, vote_row) = match (images.next_row(), votes.next_row()) {
            (None, None) => break,
            (Some(image_row), Some(vote_row)) => (image_row, vote_row),
            (image_row, _) => {
                let (longer, shorter) = if image_row.is_some() {
                    (&images_path, &votes_path)
                } else {
                    (&votes_path, &images_path)
                };
                return Err(DataError::Inconsistent {
                    at: Location::file(longer),
                    message: format!(
                        "has more rows than {} ({row}): the files must be aligned row for row",
                        shorter.display()
                    ),
                });
            }
        };
        let kept = image_row.and_then(|image_row| {
            let vote_row = vote_row?;
            set.keep(row, &image_row, &vote_row, split, classes)
        });
        problems.check(kept)?;
    }
    if set.labels.is_empty() {
        return Err(DataError::EmptySplit {
            root: root.to_path_buf(),
            split,
        });
    }
    set.skipped = problems.into_skipped();
    Ok(set)
}

impl FerPlus {
    /// Adds row `row` when it belongs to `split` and has a majority label.
    fn keep(
        &mut self,
        row: usize,
        image_row: &Row,
        vote_row: &Row,
        split: Split,
        classes: FerPlusClasses,
    ) -> Result<()> {
        let named = match vote_row.fields[1].as_str() {
            "" => vote_row.at.clone(),
            name => vote_row.at.clone().with_entry(name),
        };
        let at = &named;
        let usage = &vote_row.fields[0];
        let row_split = match usage.as_str() {
            "Training" => Split::Train,
            "PublicTest" => Split::Valid,
            "PrivateTest" => Split::Test,
            _ => {
                return Err(DataError::BadValue {
                    at: at.clone(),
                    field: "Usage",
                    value: usage.clone(),
                    expected: "Training, PublicTest or PrivateTest".into(),
                });
            }
        };
        if image_row.fields[1] != *usage {
            return Err(DataError::Inconsistent {
                at: image_row.at.clone(),
                message: format!(
                    "Usage `{}` disagrees with `{usage}` at {at}",
                    image_row.fields[1]
                ),
            });
        }
        if row_split != split {
            return Ok(());
        }
        let mut counts = [0u32; 10];
        for (count, field) in counts.iter_mut().zip(&vote_row.fields[2..]) {
            *count = parse_field(field, "votes", "a vote count (a non-negative integer)", at)?;
        }
        let Some(label) = majority_label(&counts, classes) else {
            return Ok(());
        };
        let pixels = parse_pixels(&image_row.fields[0], &image_row.at)?;
        self.pixels.extend_from_slice(&pixels);
        self.labels.push(label);
        let name = &vote_row.fields[1];
        self.names.push(if name.is_empty() {
            format!("fer{row:07}.png")
        } else {
            name.clone()
        });
        Ok(())
    }
}

/// Parses 2,304 space-separated 8-bit values.
fn parse_pixels(text: &str, at: &Location) -> Result<Vec<u8>> {
    let bad = |value: &str| DataError::BadValue {
        at: at.clone(),
        field: "pixels",
        value: value.chars().take(40).collect(),
        expected: format!("{PIXELS} space-separated integers in 0..=255"),
    };
    let pixels = text
        .split_ascii_whitespace()
        .map(|v| v.parse::<u8>().map_err(|_| bad(v)))
        .collect::<Result<Vec<u8>>>()?;
    if pixels.len() == PIXELS {
        Ok(pixels)
    } else {
        Err(bad(&format!("{} values", pixels.len())))
    }
}

impl FerDataset for FerPlus {
    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn len(&self) -> usize {
        self.labels.len()
    }

    fn annotation(&self, index: usize) -> Result<Annotation> {
        check_index(index, self.len())?;
        Ok(Annotation::clean(self.labels[index]))
    }

    fn image(&self, index: usize) -> Result<RgbImage> {
        check_index(index, self.len())?;
        let pixels = self.pixels[index * PIXELS..(index + 1) * PIXELS].to_vec();
        let grey =
            GrayImage::from_raw(FER_SIDE, FER_SIDE, pixels).ok_or(DataError::IndexOutOfRange {
                index,
                len: self.len(),
            })?;
        Ok(image::DynamicImage::ImageLuma8(grey).into_rgb8())
    }

    fn name(&self, index: usize) -> Result<String> {
        check_index(index, self.len())?;
        Ok(self.names[index].clone())
    }

    fn skipped(&self) -> &[DataError] {
        &self.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_protocol() {
        use FerPlusClasses::{Eight, Seven};
        // Clear majority for happiness.
        assert_eq!(
            majority_label(&[0, 8, 1, 0, 0, 0, 0, 1, 0, 0], Eight),
            Some(1)
        );
        // Single votes are dropped before the majority test: 4 of 7 after dropping.
        assert_eq!(
            majority_label(&[4, 0, 3, 1, 1, 1, 0, 0, 0, 0], Eight),
            Some(0)
        );
        // Exactly half is not a majority.
        assert_eq!(majority_label(&[5, 5, 0, 0, 0, 0, 0, 0, 0, 0], Eight), None);
        // Unknown and not-a-face winners are dropped.
        assert_eq!(majority_label(&[0, 0, 0, 0, 0, 0, 0, 0, 9, 1], Eight), None);
        assert_eq!(
            majority_label(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 10], Eight),
            None
        );
        // Contempt is kept with eight classes and left out with seven.
        assert_eq!(
            majority_label(&[2, 0, 0, 0, 0, 0, 0, 8, 0, 0], Eight),
            Some(7)
        );
        assert_eq!(majority_label(&[2, 0, 0, 0, 0, 0, 0, 8, 0, 0], Seven), None);
        assert_eq!(majority_label(&[0; 10], Eight), None);
    }
}
