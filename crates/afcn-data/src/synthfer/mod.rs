//! SynthFER: a procedural facial-expression dataset, the embedded default of afcn.
//!
//! Faces are drawn with imageproc from an identity (head shape, skin, feature placement, hair,
//! glasses), the action units of one of the seven RAF-DB expressions at a sampled intensity,
//! and nuisances (pose jitter, lighting, clutter, occluders, blur, pixel noise). Sample `i` of a
//! split is a pure function of `(seed, split, i)`.

mod color;
pub mod expression;
pub mod face;
pub mod geometry;

pub use expression::{ActionUnits, Expression};
pub use face::{Glasses, HairStyle, Identity};
