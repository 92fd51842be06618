//! The AFCN objective and the losses of the SCN, RUL and EAC baselines
//! (`docs/afcn-method.md`, sections 3 to 6 and "Baselines in the same harness").
//!
//! - [`AfcnConfig`]: every knob of the objective with the specification's defaults and the
//!   five ablation switches; [`AfcnObjective`] computes `L = L_wce + lambda L_fc` of one step
//!   with every intermediate ([`AfcnLoss`]). Every loss here is pure (tensors and labels in,
//!   a loss and its parts out): label correction is the caller's, on an
//!   [`afcn_certainty::LabelStore`], between the step's prediction and its loss.
//! - Its parts, one file each: [`cross_entropy_per_sample`] and [`weighted_cross_entropy`],
//!   [`flip_width`], [`fuse_attention`], [`FusionConsistency`] and EAC's
//!   [`flip_consistency`].
//! - Baselines: [`EacConfig::loss`], SCN's [`importance_scaled_logits`] and
//!   [`ScnConfig::rank_regularisation`], RUL's [`relative_uncertainty`], [`mix_features`]
//!   and [`add_up_loss`], each configuration with its own `validate`.
//!
//! ```
//! use afcn_certainty::{Certainty, LabelStore};
//! use afcn_losses::{AfcnConfig, AfcnObjective, ViewOutput};
//! use burn::backend::Flex;
//! use burn::tensor::{Distribution, Tensor};
//!
//! let device = Default::default();
//! let view = || ViewOutput {
//!     logits: Tensor::<Flex, 2>::random([4, 7], Distribution::Normal(0.0, 1.0), &device),
//!     features: Tensor::<Flex, 4>::random([4, 8, 3, 3], Distribution::Uniform(0.0, 1.0), &device),
//! };
//! let head_weight = Tensor::<Flex, 2>::random([7, 8], Distribution::Normal(0.0, 0.3), &device);
//! let mut labels = LabelStore::new(vec![0, 1, 2, 3, 4, 5, 6, 0], 7)?;
//!
//! let objective = AfcnObjective::new(AfcnConfig::for_epochs(60))?;
//! let (view_1, view_2) = (view(), view());
//! let indices = [0, 2, 4, 6];
//! // Label correction first (epoch 12 corrects), then the loss on the corrected labels.
//! let epoch = 12;
//! if objective.config().corrects_in(epoch) {
//!     let certainty = Certainty::from_views(view_1.logits.clone(), Some(view_2.logits.clone()));
//!     let rule = objective.config().correction_rule();
//!     labels.correct_batch(epoch, &indices, certainty.mean_probabilities, &rule)?;
//! }
//! let batch_labels = labels.labels_tensor::<Flex>(&indices, &device)?;
//! let step = objective.forward(view_1, Some(view_2), head_weight, batch_labels, epoch)?;
//! assert!(step.loss.into_scalar().is_finite());
//! assert_eq!(step.fused.expect("fusion is on").dims(), [4, 7, 3, 3]);
//! # Ok::<(), afcn_losses::AfcnLossError>(())
//! ```

mod config;
mod consistency;
mod cross_entropy;
mod eac;
mod error;
mod flip;
mod fusion;
mod objective;
mod rul;
mod scn;

pub use config::AfcnConfig;
pub use consistency::{FusionConsistency, flip_consistency};
pub use cross_entropy::{cross_entropy_per_sample, weighted_cross_entropy};
pub use eac::{EacConfig, EacLoss};
pub use error::AfcnLossError;
pub use flip::flip_width;
pub use fusion::fuse_attention;
pub use objective::{AfcnLoss, AfcnObjective, ViewOutput};
pub use rul::{RulConfig, RulMix, add_up_loss, mix_features, relative_uncertainty};
pub use scn::{ScnConfig, importance_scaled_logits};
