//! Fusion consistency learning, and EAC's flip consistency it replaces when fusion is off.

use burn::tensor::{Tensor, backend::Backend};

use crate::fusion::fuse_attention;

/// The fusion consistency term and the fused map it pulls both views towards.
#[derive(Debug, Clone)]
pub struct FusionConsistency<B: Backend> {
    /// `L_fc`. Shape `[1]`.
    pub loss: Tensor<B, 1>,
    /// The detached fused target `A_f`, `None` for EAC's flip consistency (no fusion).
    /// Shape `[N, C, h, w]`.
    pub fused: Option<Tensor<B, 4>>,
}

impl<B: Backend> FusionConsistency<B> {
    /// AFCN's fusion consistency: `L_fc = mean over (N, C, h, w) of (A_1 - A_f)^2 +
    /// (flip_w(A_2) - A_f)^2` with `A_f` from [`fuse_attention`], detached, so gradients reach
    /// both views' attention only through their own distance to the target.
    ///
    /// # Shapes
    /// - `attention_1`, `attention_2_flipped`: `[N, C, h, w]`
    pub fn fused(attention_1: Tensor<B, 4>, attention_2_flipped: Tensor<B, 4>, beta: f64) -> Self {
        let fused = fuse_attention(attention_1.clone(), attention_2_flipped.clone(), beta);
        let loss = ((attention_1 - fused.clone()).square()
            + (attention_2_flipped - fused.clone()).square())
        .mean();
        Self {
            loss,
            fused: Some(fused),
        }
    }

    /// The term with attention fusion switched off: EAC's [`flip_consistency`], gradients to
    /// both sides, no fused map.
    ///
    /// # Shapes
    /// - `attention_1`, `attention_2_flipped`: `[N, C, h, w]`
    pub fn unfused(attention_1: Tensor<B, 4>, attention_2_flipped: Tensor<B, 4>) -> Self {
        Self {
            loss: flip_consistency(attention_1, attention_2_flipped),
            fused: None,
        }
    }
}

/// EAC's flip consistency: `mean over (N, C, h, w) of (A_1 - flip_w(A_2))^2`, with gradients
/// to both sides.
///
/// # Shapes
/// - `attention_1`, `attention_2_flipped`: `[N, C, h, w]`
/// - returns `[1]`
pub fn flip_consistency<B: Backend>(
    attention_1: Tensor<B, 4>,
    attention_2_flipped: Tensor<B, 4>,
) -> Tensor<B, 1> {
    (attention_1 - attention_2_flipped).square().mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{Distribution, Tolerance};

    type Ad = Autodiff<Flex>;

    fn maps() -> (Tensor<Ad, 4>, Tensor<Ad, 4>) {
        let device = Default::default();
        let shape = [2, 3, 2, 2];
        let a1 = Tensor::<Ad, 4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let a2 = Tensor::<Ad, 4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        (a1.require_grad(), a2.require_grad())
    }

    fn assert_close(got: Tensor<Flex, 4>, want: Tensor<Flex, 4>) {
        got.into_data()
            .assert_approx_eq::<f32>(&want.into_data(), Tolerance::default());
    }

    /// With `A_f` detached, `dL/dA_1 = 2 (A_1 - A_f) / M`. Were `A_f` differentiated, the
    /// gradient would be `2 ((1 - b)^2 + b^2) (A_1 - A_2f) / M` instead: different for b = 0.3.
    #[test]
    fn gradients_flow_to_both_views_but_not_through_the_fused_target() {
        let beta = 0.3;
        let (a1, a2) = maps();
        let term = FusionConsistency::fused(a1.clone(), a2.clone(), beta);
        let fused = term.fused.expect("fusion gives a fused map");
        assert!(!fused.is_require_grad(), "the fused target is detached");
        let grads = term.loss.backward();
        let m = 24.0;
        let fused = fused.inner();
        let want_1 = (a1.clone().inner() - fused.clone()).mul_scalar(2.0 / m);
        let want_2 = (a2.clone().inner() - fused).mul_scalar(2.0 / m);
        assert_close(a1.grad(&grads).expect("A_1 gets a gradient"), want_1);
        assert_close(a2.grad(&grads).expect("A_2 gets a gradient"), want_2);
    }

    #[test]
    fn unfused_consistency_sends_gradients_to_both_sides() {
        let (a1, a2) = maps();
        let term = FusionConsistency::unfused(a1.clone(), a2.clone());
        assert!(term.fused.is_none());
        let grads = term.loss.backward();
        let diff = (a1.clone().inner() - a2.clone().inner()).mul_scalar(2.0 / 24.0);
        assert_close(a1.grad(&grads).unwrap(), diff.clone());
        assert_close(a2.grad(&grads).unwrap(), diff.neg());
    }

    #[test]
    fn fused_loss_matches_hand_computed_value() {
        let device = Default::default();
        let a1 = Tensor::<Flex, 4>::from_data([[[[0.0f32, 2.0]]]], &device);
        let a2 = Tensor::<Flex, 4>::from_data([[[[4.0f32, 2.0]]]], &device);
        // beta 0.5: A_f = [2, 2]; ((0-2)^2 + (4-2)^2 + 0 + 0) / 2 = 4.
        let term = FusionConsistency::fused(a1, a2, 0.5);
        assert!((term.loss.into_scalar() - 4.0).abs() < 1e-6);
    }
}
