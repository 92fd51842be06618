#![doc = include_str!("../README.md")]

mod channel_sum;
mod closed_form;
mod error;
mod export;
mod grad_cam;
mod grad_cam_plus_plus;
mod gradient;
mod method;
mod overlay;
mod postprocess;
mod target;

pub use closed_form::{class_activation_map, class_attention};
pub use error::CamError;
pub use export::write_npy;
pub use grad_cam::GradCam;
pub use grad_cam_plus_plus::GradCamPlusPlus;
pub use gradient::{ClassTarget, LayerGradient, layer_gradient};
pub use method::{CamMethod, Explanation, weighted_map};
pub use overlay::{IMAGE_WEIGHT, heat_colour, overlay, save_overlay_png};
pub use postprocess::{heatmap, normalize_min_max, upsample};
pub use target::{CamTarget, SplitForward};
