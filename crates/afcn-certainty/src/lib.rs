#![doc = include_str!("../README.md")]

mod certainty;
mod change_log;
mod correction;
mod csv_file;
mod error;
mod invalid_field;
mod label_store;
mod quality;
mod suspects;
mod weights;

pub use certainty::{Certainty, PROBABILITY_FLOOR, normalised_entropy, normalised_entropy_of_row};
pub use change_log::LabelChange;
pub use correction::CorrectionRule;
pub use error::LabelStoreError;
pub use invalid_field::InvalidField;
pub use label_store::{LabelStore, label_tensor};
pub use quality::CorrectionQuality;
pub use suspects::{Observation, Suspect};
pub use weights::certainty_weights;
