#![doc = include_str!("../README.md")]

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
pub use rul::{RulMix, add_up_loss, mix_features, relative_uncertainty};
pub use scn::{RankRegularisation, importance_scaled_logits};
