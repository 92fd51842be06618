//! Errors of the losses.

use afcn_certainty::LabelStoreError;

/// What can go wrong when configuring or computing a loss.
#[derive(Debug, thiserror::Error)]
pub enum AfcnLossError {
    /// A configuration knob out of its range.
    #[error("configuration knob `{knob}` = {value}: expected {expected}")]
    InvalidConfig {
        /// The knob's name as in the configuration file.
        knob: &'static str,
        /// The value given.
        value: f64,
        /// What was expected.
        expected: &'static str,
    },
    /// Consistency learning is switched on but the second view was not given.
    #[error("the consistency term is switched on but no second (flipped) view was given")]
    MissingSecondView,
    /// Inputs of one batch that disagree in size.
    #[error("{what} is {got}, expected {expected}")]
    BatchMismatch {
        /// Which size: "batch indices", "view 2 logits shape", ...
        what: &'static str,
        /// The size found.
        got: String,
        /// The size expected.
        expected: String,
    },
    /// The label store refused the batch.
    #[error(transparent)]
    Labels(#[from] LabelStoreError),
}
