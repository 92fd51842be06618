//! Errors of the losses.

use afcn_certainty::InvalidField;

/// What can go wrong when configuring or computing a loss.
#[derive(Debug, thiserror::Error)]
pub enum AfcnLossError {
    /// A configuration knob out of its range.
    #[error("configuration: {0}")]
    InvalidConfig(#[from] InvalidField),
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
}
