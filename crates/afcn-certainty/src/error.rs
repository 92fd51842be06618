//! Errors of the label store.

use std::path::PathBuf;

/// What can go wrong when building, updating or exporting a [`LabelStore`](crate::LabelStore).
#[derive(Debug, thiserror::Error)]
pub enum LabelStoreError {
    /// Labels need at least two classes (the normalised entropy divides by `ln C`).
    #[error("a label store needs at least 2 classes, got {0}")]
    TooFewClasses(usize),
    /// A label is not a class index.
    #[error(
        "{which} label {label} of sample {sample} is not a class index (expected 0..{num_classes})"
    )]
    LabelOutOfRange {
        /// Which labels: "given" or "clean".
        which: &'static str,
        /// Sample index.
        sample: usize,
        /// The offending label.
        label: usize,
        /// Number of classes of the store.
        num_classes: usize,
    },
    /// A sample index is not in the store.
    #[error("sample index {index} is out of range: the store holds {len} samples")]
    IndexOutOfRange {
        /// The offending index.
        index: usize,
        /// Number of samples in the store.
        len: usize,
    },
    /// A per-sample list does not have one entry per sample.
    #[error("{what} has {got} entries, expected {expected}")]
    LengthMismatch {
        /// What was given: "clean labels", "paths", ...
        what: &'static str,
        /// Entries given.
        got: usize,
        /// Entries expected.
        expected: usize,
    },
    /// Predicted probabilities that are not `[batch, classes]`.
    #[error("probabilities hold {got} values, expected {samples} samples x {num_classes} classes")]
    ProbabilityShape {
        /// Number of values given.
        got: usize,
        /// Number of samples in the batch.
        samples: usize,
        /// Number of classes of the store.
        num_classes: usize,
    },
    /// Writing a CSV file failed.
    #[error("writing {path}: {source}")]
    Csv {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        source: csv::Error,
    },
}
