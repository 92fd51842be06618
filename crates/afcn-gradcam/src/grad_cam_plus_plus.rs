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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::{Distribution, TensorData, Tolerance};

    /// pytorch-grad-cam's Grad-CAM++ weights, element by element on the host.
    fn reference(a: &[f32], g: &[f32], hw: usize) -> Vec<f32> {
        a.chunks(hw)
            .zip(g.chunks(hw))
            .map(|(a, g)| {
                let s: f32 = a.iter().sum();
                g.iter()
                    .map(|&g| {
                        let alpha = if g == 0.0 {
                            0.0
                        } else {
                            g * g / (2.0 * g * g + s * g * g * g + EPS)
                        };
                        alpha * g.max(0.0)
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn weights_match_the_formula_with_zero_gradients_masked() {
        let device = Default::default();
        let a = Tensor::<Flex, 4>::random([2, 3, 2, 2], Distribution::Uniform(0.0, 2.0), &device);
        let g = Tensor::<Flex, 4>::random([2, 3, 2, 2], Distribution::Normal(0.0, 1.0), &device);
        // Zero gradients in one channel: its alpha is 0, not 0 / 1e-7.
        let g = g.slice_assign([0..1, 1..2], Tensor::zeros([1, 1, 2, 2], &device));
        let expected = reference(
            &a.to_data().to_vec::<f32>().unwrap(),
            &g.to_data().to_vec::<f32>().unwrap(),
            4,
        );
        let weights = GradCamPlusPlus.channel_weights(a, g);
        weights.to_data().assert_approx_eq::<f32>(
            &TensorData::new(expected, [2, 3]),
            Tolerance::absolute(1e-5),
        );
        assert_eq!(weights.slice([0..1, 1..2]).into_scalar(), 0.0);
    }
}
