//! Class activation maps for any Burn model: Grad-CAM, Grad-CAM++ and the closed form of
//! Grad-CAM for a global-average-pooling + linear head.

mod closed_form;

pub use closed_form::{class_activation_map, class_attention};
