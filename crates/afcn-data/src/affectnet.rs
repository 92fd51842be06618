//! AffectNet (manually annotated part): `training.csv` and `validation.csv` with
//! subDirectory_filePath, the face box and the expression code 0-10; the face box is cropped;
//! the validation set is the test set.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataset::{Annotation, Split};
use crate::error::{DataError, Problems, Result};
use crate::files::{FaceBox, ImageEntry, ImageFiles, names};
use crate::options::LoadOptions;
use crate::paths::resolve_within;
use crate::table::{Row, Table, parse_field};

/// AffectNet's expression classes, codes 0-7 (8-10 are None, Uncertain and Non-Face).
pub const AFFECTNET_CLASSES: [&str; 8] = [
    "Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger", "Contempt",
];

/// The highest expression code in the files (10, Non-Face).
const LAST_CODE: i64 = 10;

/// Which classes an AffectNet split keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AffectNetClasses {
    /// Codes 0-6 (the usual 7-class protocol); contempt is left out.
    #[default]
    Seven,
    /// Codes 0-7.
    Eight,
}

impl AffectNetClasses {
    /// The number of classes.
    pub fn count(self) -> usize {
        match self {
            AffectNetClasses::Seven => 7,
            AffectNetClasses::Eight => 8,
        }
    }
}

const COLUMNS: [&str; 6] = [
    "subDirectory_filePath",
    "face_x",
    "face_y",
    "face_width",
    "face_height",
    "expression",
];

/// Finds a file under `root` or, as AffectNet ships it, under `root/<folder>`.
fn find(root: &Path, folder: &str, name: &str) -> PathBuf {
    let nested = root.join(folder).join(name);
    if nested.exists() {
        nested
    } else {
        root.join(name)
    }
}

/// Opens a split (train or test) of AffectNet at `root`. The lists are read from `root` or
/// `root/Manually_Annotated_file_lists`, the images from `root/Manually_Annotated_Images` when
/// that folder exists, else from `root`. Codes 8-10 (and 7 with seven classes) are left out.
pub fn open_affectnet(
    root: &Path,
    split: Split,
    classes: AffectNetClasses,
    options: &LoadOptions,
) -> Result<ImageFiles> {
    let list = match split {
        Split::Train => "training.csv",
        Split::Test => "validation.csv",
        Split::Valid => {
            return Err(DataError::NoSuchSplit {
                dataset: "AffectNet",
                split,
            });
        }
    };
    let list = find(root, "Manually_Annotated_file_lists", list);
    let images = root.join("Manually_Annotated_Images");
    let images = if images.is_dir() {
        images
    } else {
        root.to_path_buf()
    };
    let mut problems = Problems::new(options.skip_bad);
    let mut entries = Vec::new();
    for row in Table::open(&list, &COLUMNS)? {
        let entry = row.and_then(|row| parse_row(root, &images, &row, classes));
        if let Some(Some(entry)) = problems.check(entry)? {
            entries.push(entry);
        }
    }
    ImageFiles::finish(
        root,
        split,
        names(&AFFECTNET_CLASSES[..classes.count()]),
        entries,
        problems,
        options,
    )
}

/// The entry of one row, `None` when its code is not among the classes.
fn parse_row(
    root: &Path,
    images: &Path,
    row: &Row,
    classes: AffectNetClasses,
) -> Result<Option<ImageEntry>> {
    let at = &row.at.clone().with_entry(&row.fields[0]);
    let code: i64 = parse_field(&row.fields[5], "expression", "an integer in 0..=10", at)?;
    if !(0..=LAST_CODE).contains(&code) {
        return Err(DataError::BadValue {
            at: at.clone(),
            field: "expression",
            value: code.to_string(),
            expected: "an integer in 0..=10".into(),
        });
    }
    // Checked non-negative above.
    let label = code as usize;
    if label >= classes.count() {
        return Ok(None);
    }
    let mut bounds = [0i64; 4];
    for (value, (field, name)) in bounds
        .iter_mut()
        .zip(row.fields[1..5].iter().zip(&COLUMNS[1..5]))
    {
        let number: f64 = parse_field(field, name, "a number of pixels", at)?;
        // Far past any image: refused before the box arithmetic could overflow.
        if number.is_nan() || number.abs() > f64::from(i32::MAX) {
            return Err(DataError::BadValue {
                at: at.clone(),
                field: name,
                value: field.clone(),
                expected: "a number of pixels".into(),
            });
        }
        *value = number.round() as i64;
    }
    let [x, y, width, height] = bounds;
    if width <= 0 || height <= 0 {
        return Err(DataError::BadValue {
            at: at.clone(),
            field: "face box",
            value: format!("{width}x{height}"),
            expected: "a positive width and height".into(),
        });
    }
    let image = resolve_within(root, images, &row.fields[0], at)?;
    Ok(Some(ImageEntry {
        image,
        name: row.fields[0].clone(),
        annotation: Annotation::clean(label),
        at: at.clone(),
        face: Some(FaceBox {
            x,
            y,
            width,
            height,
        }),
    }))
}
