//! SynthFER: a procedural facial-expression dataset, the embedded default of afcn.
//!
//! Faces are drawn with imageproc from an [`Identity`] (head shape, skin, feature placement,
//! hair, glasses), the [`ActionUnits`] of one of the seven RAF-DB [`Expression`]s at a sampled
//! intensity, and a [`Nuisance`] (pose jitter, lighting, clutter, occluders, blur, pixel noise).
//! Sample `i` of a split is a pure function of `(seed, split, i)`: [`SynthFer`] renders it on
//! demand, [`export_rafdb`] writes both splits in RAF-DB's layout. [`SynthFerIdentities`]
//! labels SynthFER's people instead of their expressions, for face pretraining
//! (`afcn pretrain`).
//!
//! ```
//! use afcn_data::{FerDataset, Split};
//! use afcn_synthfer::{SynthFer, SynthFerConfig};
//!
//! let config = SynthFerConfig { train_size: 10, image_size: 32, ..Default::default() };
//! let train = SynthFer::new(config, Split::Train)?;
//! let sample = train.get(3)?;
//! assert_eq!(sample.image.dimensions(), (32, 32));
//! assert!(sample.annotation.label < 7);
//! // Deterministic: the same index renders the same pixels.
//! assert_eq!(train.get(3)?.image, sample.image);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
