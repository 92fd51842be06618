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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::{TensorData, Tolerance};

    #[test]
    fn weights_are_the_spatial_mean_of_the_gradient() {
        let device = Default::default();
        let g = Tensor::<Flex, 4>::from_floats(
            [[[[1.0, 2.0], [3.0, 6.0]], [[-4.0, 0.0], [0.0, 0.0]]]],
            &device,
        );
        GradCam
            .channel_weights(Tensor::zeros([1, 2, 2, 2], &device), g)
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::from([[3.0, -1.0]]), Tolerance::default());
    }
}
