//! Errors of the losses.

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
}

/// `Ok` when `value` is finite and at least 0, else the knob's [`AfcnLossError::InvalidConfig`].
pub(crate) fn non_negative(knob: &'static str, value: f64) -> Result<(), AfcnLossError> {
    if value >= 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(AfcnLossError::InvalidConfig {
            knob,
            value,
            expected: "a finite value >= 0",
        })
    }
}

/// `Ok` when `value` is in `[0, 1]`, else the knob's [`AfcnLossError::InvalidConfig`].
pub(crate) fn fraction(knob: &'static str, value: f64) -> Result<(), AfcnLossError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(AfcnLossError::InvalidConfig {
            knob,
            value,
            expected: "a value in [0, 1]",
        })
    }
}
