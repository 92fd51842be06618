//! Grad-CAM++ (Chattopadhyay et al., 2018), as pytorch-grad-cam computes it.

use burn::tensor::{Tensor, activation::relu, backend::Backend};

use crate::CamMethod;

/// Grad-CAM++: with `g = dz_c / dA_k`, the pixel weights are
/// `alpha = g^2 / (2 g^2 + sum_{h,w}(A_k) g^3 + 1e-7)` (zero where `g == 0`) and the channel
/// weight is `w_k = sum_{h,w} alpha ReLU(g)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GradCamPlusPlus;

/// Keeps the denominator of `alpha` away from zero, as pytorch-grad-cam does.
const EPS: f32 = 1e-7;

impl CamMethod for GradCamPlusPlus {
    fn channel_weights<B: Backend>(
        &self,
        activation: Tensor<B, 4>,
        gradient: Tensor<B, 4>,
    ) -> Tensor<B, 2> {
        let [n, k, h, w] = gradient.dims();
        let g = gradient.reshape([n, k, h * w]);
        let activation_sum = activation.reshape([n, k, h * w]).sum_dim(2);
        let g2 = g.clone().powi_scalar(2);
        let g3 = g2.clone() * g.clone();
        let alpha = g2.clone() / (g2.mul_scalar(2.0) + g3 * activation_sum).add_scalar(EPS);
        let alpha = alpha.mask_fill(g.clone().equal_elem(0.0), 0.0);
        (alpha * relu(g)).sum_dim(2).reshape([n, k])
    }
}
