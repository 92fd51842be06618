//! What can go wrong between a dataset on disk and a sample: every error names the file and,
//! where there is one, the line.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::dataset::Split;

/// A place in a dataset's files: a file and, for list and CSV files, the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line in `file`; `None` for an image found by listing a folder.
    pub line: Option<u64>,
    /// The entry the line lists (an image name), once known. Boxed to keep every error
    /// small.
    pub entry: Option<Box<str>>,
}

impl Location {
    /// A line of a list or CSV file.
    pub fn line(file: &Path, line: u64) -> Self {
        Self {
            file: file.to_path_buf(),
            line: Some(line),
            entry: None,
        }
    }

    /// The same place, naming the entry listed there.
    pub fn with_entry(mut self, entry: &str) -> Self {
        self.entry = Some(entry.into());
        self
    }

    /// A whole file (an image found by listing a folder).
    pub fn file(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            line: None,
            entry: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file.display())?,
            None => write!(f, "{}", self.file.display())?,
        }
        match &self.entry {
            Some(entry) => write!(f, ": {entry}"),
            None => Ok(()),
        }
    }
}

/// An error reading a dataset. Loaders never panic on user data; every variant says where.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A CSV file is malformed (bad quoting, invalid UTF-8, ...).
    #[error("{at}: malformed CSV: {source}")]
    Csv {
        /// Where.
        at: Location,
        /// The CSV reader's error.
        source: csv::Error,
    },
    /// A row or line has fewer (or more) fields than the format has.
    #[error("{at}: expected {expected} fields, found {found}")]
    FieldCount {
        /// Where.
        at: Location,
        /// What the format has.
        expected: usize,
        /// What the row has.
        found: usize,
    },
    /// A CSV header lacks a column the format needs.
    #[error("{at}: the header has no `{column}` column")]
    MissingColumn {
        /// The header line.
        at: Location,
        /// The column's name.
        column: String,
    },
    /// A field does not parse or is out of its range.
    #[error("{at}: {field} `{value}` is invalid: expected {expected}")]
    BadValue {
        /// Where.
        at: Location,
        /// Which field (e.g. `label`, `pixels`, `face_width`).
        field: &'static str,
        /// The text found.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// An image path leaves the dataset root (`..`, an absolute path, a symbolic link).
    #[error("{at}: `{entry}` escapes the dataset root {}", root.display())]
    EscapesRoot {
        /// Where the path was listed.
        at: Location,
        /// The path as listed.
        entry: String,
        /// The dataset root.
        root: PathBuf,
    },
    /// A listed image does not exist.
    #[error("{at}: image {} does not exist", image.display())]
    MissingImage {
        /// Where the image was listed.
        at: Location,
        /// The path it was looked for at.
        image: PathBuf,
    },
    /// An image is corrupt, truncated or in a format that cannot be decoded.
    #[error("{at}: image {} cannot be decoded: {source}", image.display())]
    Decode {
        /// Where the image was listed.
        at: Location,
        /// The image file.
        image: PathBuf,
        /// The decoder's error (boxed: it is large).
        source: Box<image::ImageError>,
    },
    /// An image is over the size limit (a decompression bomb, or simply too large).
    #[error("{at}: image {} is over the size limit: {reason}", image.display())]
    TooLarge {
        /// Where the image was listed.
        at: Location,
        /// The image file.
        image: PathBuf,
        /// The decoder's account of the limit.
        reason: String,
    },
    /// A face box does not overlap the image it crops.
    #[error(
        "{at}: face box {x},{y} {width}x{height} lies outside the {image_width}x{image_height} image"
    )]
    FaceBox {
        /// Where the box was listed.
        at: Location,
        /// Left edge.
        x: i64,
        /// Top edge.
        y: i64,
        /// Width.
        width: i64,
        /// Height.
        height: i64,
        /// The image's width.
        image_width: u32,
        /// The image's height.
        image_height: u32,
    },
    /// Two files that must agree do not (row counts, usage columns, duplicate names).
    #[error("{at}: {message}")]
    Inconsistent {
        /// Where.
        at: Location,
        /// What disagrees.
        message: String,
    },
    /// A split holds no usable sample.
    #[error("{}: the {split} split holds no usable sample", root.display())]
    EmptySplit {
        /// The dataset root.
        root: PathBuf,
        /// The split.
        split: Split,
    },
    /// The dataset format has no such split (e.g. RAF-DB has no validation split).
    #[error("{dataset} has no {split} split")]
    NoSuchSplit {
        /// The dataset format.
        dataset: &'static str,
        /// The split asked for.
        split: Split,
    },
    /// A sample index past the end of the dataset.
    #[error("sample index {index} is out of range: the dataset holds {len} samples")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The dataset's length.
        len: usize,
    },
    /// A label list for a dataset does not fit it (wrong length, label out of range).
    #[error("labels do not fit the dataset: {message}")]
    Labels {
        /// What does not fit.
        message: String,
    },
}

/// A shorthand for results of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Gathers the problems met while loading: with `skip_bad` a bad entry is recorded and skipped,
/// without it the first one is returned as the error.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    skip_bad: bool,
    skipped: Vec<DataError>,
}

impl Problems {
    /// A collector that skips (`skip_bad`) or fails on the first problem.
    pub(crate) fn new(skip_bad: bool) -> Self {
        Self {
            skip_bad,
            skipped: Vec::new(),
        }
    }

    /// Records `result`'s error (returning `None`) when skipping, or passes it on.
    pub(crate) fn check<T>(&mut self, result: Result<T>) -> Result<Option<T>> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(err) if self.skip_bad => {
                self.skipped.push(err);
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// The problems skipped so far.
    pub(crate) fn into_skipped(self) -> Vec<DataError> {
        self.skipped
    }
}
