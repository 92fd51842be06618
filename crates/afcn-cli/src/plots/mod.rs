//! Pictures of a run, as PNG: the training curves, the confusion matrix as a heat map, and
//! explanation panels (a face, its Grad-CAM map beside it and over it, and the classes).
//!
//! Drawn with `plotters` into an RGB buffer (text in DejaVu Sans, embedded, so that no system
//! font library is needed) and encoded with `image`; files are written atomically.

mod canvas;
mod confusion;
mod curves;
mod panel;

pub(crate) use canvas::encode_png;
pub use confusion::{confusion_png, save_confusion_png};
pub use curves::{curves_png, save_curves_png};
pub use panel::{
    MIN_SIDE, explanation_image, explanation_png, grid_png, panel_side, save_explanation_png,
};
