//! A configuration value out of range: what every `validate` of the afcn crates returns.

/// A key of a configuration struct whose value cannot be used: the key, the value as
/// written and the range the key accepts. A struct's own `validate` names the key inside the
/// struct; a caller that nests the struct names the section around it
/// ([`InvalidField::within`]), so that the error a user reads holds the dotted key of the
/// configuration file (`methods.afcn.delta`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{field}` = {value} is out of range: expected {expected}")]
pub struct InvalidField {
    /// The key, dotted from the outermost section that named itself.
    pub field: String,
    /// The value found, printed.
    pub value: String,
    /// What the key accepts.
    pub expected: &'static str,
}

impl InvalidField {
    /// The error for `field` holding `value`.
    pub fn new(field: &str, value: impl std::fmt::Debug, expected: &'static str) -> Self {
        Self {
            field: field.to_owned(),
            value: format!("{value:?}"),
            expected,
        }
    }

    /// The same error with its key inside `section`: `delta` within `methods.afcn` is
    /// `methods.afcn.delta`.
    pub fn within(mut self, section: &str) -> Self {
        self.field = format!("{section}.{}", self.field);
        self
    }

    /// `Ok` when `value` is finite and at least 0.
    pub fn non_negative(field: &str, value: f64) -> Result<(), Self> {
        if value >= 0.0 && value.is_finite() {
            Ok(())
        } else {
            Err(Self::new(field, value, "a finite value >= 0"))
        }
    }

    /// `Ok` when `value` is in `[0, 1]`.
    pub fn fraction(field: &str, value: f64) -> Result<(), Self> {
        if (0.0..=1.0).contains(&value) {
            Ok(())
        } else {
            Err(Self::new(field, value, "a value in [0, 1]"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_dotted_key_and_the_value_as_written() {
        let e = InvalidField::new("embedding_dim", 0usize, "at least 1")
            .within("rul")
            .within("methods");
        assert_eq!(
            e.to_string(),
            "`methods.rul.embedding_dim` = 0 is out of range: expected at least 1"
        );
        assert_eq!(
            InvalidField::non_negative("lambda", -1.0)
                .unwrap_err()
                .value,
            "-1.0"
        );
        assert!(InvalidField::fraction("high_ratio", 1.0).is_ok());
        assert!(InvalidField::fraction("high_ratio", f64::NAN).is_err());
    }
}
