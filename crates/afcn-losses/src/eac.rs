//! EAC's loss: cross-entropy of view 1 plus its flip consistency of class activation maps.

use afcn_certainty::InvalidField;
use afcn_gradcam::class_activation_map;
use burn::tensor::{Int, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::consistency::flip_consistency;
use crate::cross_entropy::cross_entropy_per_sample;
use crate::flip::flip_width;

/// Knobs of EAC's loss (Zhang et al., "Learn From All: Erasing Attention Consistency").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EacConfig {
    /// Weight of the flip consistency term. Default 5 (EAC's).
    pub lambda: f64,
}

impl Default for EacConfig {
    fn default() -> Self {
        Self { lambda: 5.0 }
    }
}

/// The parts of EAC's loss of one step.
#[derive(Debug, Clone)]
pub struct EacLoss<B: Backend> {
    /// `CE(z1, y) + lambda MSE(CAM_1, flip_w(CAM_2))`. Shape `[1]`.
    pub loss: Tensor<B, 1>,
    /// Mean cross-entropy of view 1. Shape `[1]`.
    pub cross_entropy: Tensor<B, 1>,
    /// The flip consistency term. Shape `[1]`.
    pub consistency: Tensor<B, 1>,
}

impl EacConfig {
    /// Checks that `lambda` is finite and non-negative.
    pub fn validate(&self) -> Result<(), InvalidField> {
        InvalidField::non_negative("lambda", self.lambda)
    }

    /// EAC's loss of a batch: view 1's cross-entropy plus `lambda` times the mean squared
    /// difference between view 1's raw class activation maps and view 2's flipped back, with
    /// gradients to both views.
    ///
    /// # Shapes
    /// - `logits_1`: `[N, C]`; `labels`: `[N]`
    /// - `features_1`, `features_2`: `[N, K, h, w]` (view 2 is the mirrored image)
    /// - `head_weight`: `[C, K]` (`[out, in]` layout), detached
    pub fn loss<B: Backend>(
        &self,
        logits_1: Tensor<B, 2>,
        labels: Tensor<B, 1, Int>,
        features_1: Tensor<B, 4>,
        features_2: Tensor<B, 4>,
        head_weight: Tensor<B, 2>,
    ) -> EacLoss<B> {
        let cross_entropy = cross_entropy_per_sample(logits_1, labels).mean();
        let cam_1 = class_activation_map(features_1, head_weight.clone());
        let cam_2_flipped = flip_width(class_activation_map(features_2, head_weight));
        let consistency = flip_consistency(cam_1, cam_2_flipped);
        EacLoss {
            loss: cross_entropy.clone() + consistency.clone().mul_scalar(self.lambda),
            cross_entropy,
            consistency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn mirrored_features_give_zero_consistency() {
        let device = Default::default();
        let f1 = Tensor::<Flex, 4>::from_data([[[[1.0f32, 2.0, 5.0]], [[0.5, 0.0, 1.0]]]], &device);
        let f2 = f1.clone().flip([3]);
        let w = Tensor::<Flex, 2>::from_data([[1.0f32, -1.0], [0.5, 2.0]], &device);
        let z = Tensor::<Flex, 2>::from_data([[0.0f32, 0.0]], &device);
        let y = Tensor::<Flex, 1, Int>::from_data([1], &device);
        let out = EacConfig::default().loss(z, y.clone(), f1.clone(), f2, w.clone());
        assert!(out.consistency.into_scalar().abs() < 1e-7);
        assert!((out.loss.into_scalar() - 2f32.ln()).abs() < 1e-6);

        // View 2 not mirrored: CAM_1 class 0 = [0.5, 2, 4], class 1 = [1.5, 1, 4.5]; flipped
        // CAM_2 = [4, 2, 0.5], [4.5, 1, 1.5]: squared differences 12.25, 0, 12.25, 9, 0, 9.
        let z = Tensor::<Flex, 2>::from_data([[0.0f32, 0.0]], &device);
        let out = EacConfig::default().loss(z, y, f1.clone(), f1, w);
        let want = (12.25 + 12.25 + 9.0 + 9.0) / 6.0;
        assert!((out.consistency.into_scalar() - want).abs() < 1e-5);
    }
}
