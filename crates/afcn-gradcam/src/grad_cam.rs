//! Grad-CAM (Selvaraju et al., 2017), as pytorch-grad-cam computes it.

use burn::tensor::{Tensor, backend::Backend};

use crate::CamMethod;

/// Grad-CAM: the weight of a channel is the spatial mean of the class score's gradient,
/// `w_k = mean_{h,w} dz_c / dA_k`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GradCam;

impl CamMethod for GradCam {
    fn channel_weights<B: Backend>(
        &self,
        _activation: Tensor<B, 4>,
        gradient: Tensor<B, 4>,
    ) -> Tensor<B, 2> {
        let [n, k, h, w] = gradient.dims();
        gradient.reshape([n, k, h * w]).mean_dim(2).reshape([n, k])
    }
}
