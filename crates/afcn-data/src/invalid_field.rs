//! A configuration field out of range: what every `validate` of this crate returns.

/// A field of a configuration struct ([`crate::AugmentConfig`], [`crate::NoiseConfig`],
/// `afcn_synthfer::SynthFerConfig`) whose value cannot be used. `field` is the key inside
/// its struct; a caller that nests the struct names the section around it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{field}` = {value} is out of range: expected {expected}")]
pub struct InvalidField {
    /// The field's key.
    pub field: &'static str,
    /// The value found, printed.
    pub value: String,
    /// What the field accepts.
    pub expected: &'static str,
}

impl InvalidField {
    /// The error for `field` holding `value`.
    pub fn new(field: &'static str, value: impl std::fmt::Debug, expected: &'static str) -> Self {
        Self {
            field,
            value: format!("{value:?}"),
            expected,
        }
    }
}
