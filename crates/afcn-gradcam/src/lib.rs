//! Class activation maps for any Burn model: Grad-CAM, Grad-CAM++ and the closed form of
//! Grad-CAM for a global-average-pooling + linear head.
//!
//! - [`CamTarget`]: what a model implements to be explained (the activation of a named layer,
//!   then the logits from that activation).
//! - [`GradCam`] and [`GradCamPlusPlus`] ([`CamMethod`]): maps through autodiff, for a given
//!   class per image or the predicted one ([`ClassTarget`]), with pytorch-grad-cam's formulas.
//! - [`class_attention`] and [`class_activation_map`]: the closed form used in training, all
//!   classes at once, differentiable with respect to the features.
//! - [`heatmap`], [`save_overlay_png`], [`write_npy`]: from a raw map to a picture or a file.
//!
//! ```
//! use afcn_gradcam::{CamError, CamMethod, CamTarget, ClassTarget, GradCam, class_attention, heatmap};
//! use burn::backend::{Autodiff, Flex};
//! use burn::tensor::{Tensor, backend::Backend};
//!
//! /// A GAP + linear head over the input itself.
//! struct Head<B: Backend>(Tensor<B, 2>); // weight [C, K]
//!
//! impl<B: Backend> CamTarget<B> for Head<B> {
//!     fn cam_layers(&self) -> Vec<String> {
//!         vec!["input".into()]
//!     }
//!     fn activation(&self, x: Tensor<B, 4>, layer: &str) -> Result<Tensor<B, 4>, CamError> {
//!         self.check_layer(layer).map(|()| x)
//!     }
//!     fn logits_from(&self, a: Tensor<B, 4>, layer: &str) -> Result<Tensor<B, 2>, CamError> {
//!         self.check_layer(layer)?;
//!         let [n, k, _, _] = a.dims();
//!         Ok(a.mean_dim(3).mean_dim(2).reshape([n, k]).matmul(self.0.clone().transpose()))
//!     }
//! }
//!
//! type B = Autodiff<Flex>;
//! let device = Default::default();
//! let x = Tensor::<B, 4>::from_floats([[[[1.0, 0.0], [0.0, 2.0]], [[0.0, 3.0], [1.0, 0.0]]]], &device);
//! let head = Head(Tensor::<B, 2>::from_floats([[1.0, -1.0], [0.5, 2.0]], &device));
//!
//! let explained = GradCam.explain(&head, x.clone(), "input", &ClassTarget::Given(vec![1]))?;
//! // For a GAP + linear head, autodiff Grad-CAM equals the closed form.
//! let closed = class_attention(x.inner(), head.0.inner()).narrow(1, 1, 1).reshape([1, 2, 2]);
//! explained.map.clone().into_data().assert_approx_eq::<f32>(&closed.into_data(), Default::default());
//! assert_eq!(heatmap(explained.map, [8, 8]).dims(), [1, 8, 8]);
//! # Ok::<(), CamError>(())
//! ```

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
