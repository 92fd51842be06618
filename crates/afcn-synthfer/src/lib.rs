#![doc = include_str!("../README.md")]

mod color;
pub mod config;
pub mod dataset;
pub mod error;
pub mod export;
pub mod expression;
pub mod face;
pub mod geometry;
pub mod grid;
pub mod identities;
pub mod nuisance;
pub mod render;

pub use config::SynthFerConfig;
pub use dataset::{SynthFer, rafdb_name, sample_seed};
pub use error::SynthFerError;
pub use export::{ExportSummary, export_rafdb};
pub use expression::{ActionUnits, Expression};
pub use face::{Glasses, HairStyle, Identity};
pub use grid::sample_grid;
pub use identities::{IdentityConfig, SynthFerIdentities};
pub use nuisance::{Clutter, Nuisance, Occluder, OccluderKind};
pub use render::{FaceSpec, render};
