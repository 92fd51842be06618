//! Sample certainty, certainty weights and the label store of AFCN (specification sections 1
//! and 2, `docs/afcn-method.md`).
//!
//! - [`Certainty`]: the normalised entropy of the two views' mean prediction, `s = 1 - H`.
//! - [`certainty_weights`]: `w_i = s_i / mean(s)` (mean 1), all 1 during warm-up.
//! - [`LabelStore`]: the current label of every sample, the [`CorrectionRule`] (tau, delta,
//!   from-epoch), the [`LabelChange`] log, [`CorrectionQuality`] against clean labels, and the
//!   CSV of [`Suspect`]ed mislabelled samples.
//!
//! ```
//! use afcn_certainty::{Certainty, CorrectionRule, LabelStore, certainty_weights};
//! use burn::backend::Flex;
//! use burn::tensor::Tensor;
//!
//! let device = Default::default();
//! // Two samples, three classes; both views agree that sample 0 is class 1.
//! let z1 = Tensor::<Flex, 2>::from_data([[0.0, 4.0, 0.0], [1.0, 1.0, 1.0]], &device);
//! let z2 = Tensor::<Flex, 2>::from_data([[0.0, 5.0, 0.0], [1.0, 1.0, 1.2]], &device);
//! let certainty = Certainty::from_two_views(z1, z2);
//! let weights = certainty_weights(certainty.certainty.clone(), false);
//! assert!((weights.mean().into_scalar() - 1.0).abs() < 1e-6);
//!
//! // Sample 0 came labelled 2: from epoch 0 on, it is corrected to 1.
//! let mut labels = LabelStore::new(vec![2, 0], 3)?;
//! let rule = CorrectionRule { from_epoch: 0, ..CorrectionRule::default() };
//! labels.correct_batch(0, &[0, 1], certainty.mean_probabilities, &rule)?;
//! assert_eq!(labels.current(), &[1, 0]);
//! # Ok::<(), afcn_certainty::LabelStoreError>(())
//! ```

mod certainty;
mod change_log;
mod correction;
mod csv_file;
mod error;
mod label_store;
mod quality;
mod suspects;
mod weights;

pub use certainty::{Certainty, PROBABILITY_FLOOR, normalised_entropy, normalised_entropy_of_row};
pub use change_log::LabelChange;
pub use correction::CorrectionRule;
pub use error::LabelStoreError;
pub use label_store::{LabelStore, label_tensor};
pub use quality::CorrectionQuality;
pub use suspects::{Observation, Suspect};
pub use weights::certainty_weights;
