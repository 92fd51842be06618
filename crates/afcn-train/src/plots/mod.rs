//! Pictures of a run, as PNG: the training curves and the confusion matrix as a heat map.
//!
//! Drawn with `plotters` into an RGB buffer (text in DejaVu Sans, embedded, so that no system
//! font library is needed) and encoded with `image`; files are written atomically.

mod canvas;
mod confusion;
mod curves;

pub use confusion::{confusion_png, save_confusion_png};
pub use curves::{curves_png, save_curves_png};
