//! The record of every label change.

use serde::{Deserialize, Serialize};

/// One label change made by the correction rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelChange {
    /// Epoch (0-based) in which the label changed.
    pub epoch: usize,
    /// Index of the sample in the training set.
    pub sample: usize,
    /// The label before the change.
    pub old: usize,
    /// The label after the change.
    pub new: usize,
}

/// Columns of the change log CSV, in the order of [`LabelChange`]'s fields.
pub(crate) const COLUMNS: [&str; 4] = ["epoch", "sample", "old", "new"];
