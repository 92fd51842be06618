//! The closed form of Grad-CAM for a global-average-pooling + linear head, used in training.
//!
//! When the logits are `z = GAP(F) W^T + b`, the gradient of `z_c` with respect to the feature
//! map is constant over space, `dz_c / dF_k(i, j) = W_ck / (h w)`, so Grad-CAM's channel weight
//! for class `c` is exactly `alpha_ck = W_ck / (h w)` and the attention of every class comes out
//! of one matrix product, with no second backward pass. Both functions here are differentiable
//! with respect to the features; the head weight is detached (it only shapes the map).
//!
//! Both are written as one batched matrix product, `[C, K] x [N, K, h w] -> [N, C, h w]`, rather
//! than a broadcast multiply-and-sum, which is slow on Burn 0.21's CPU backend.

use burn::tensor::{Tensor, activation::relu, backend::Backend};

use crate::channel_sum::weighted_channel_sum;

/// Grad-CAM attention of every class for a GAP + linear head: the specification's
/// `A^c = ReLU(sum_k W_ck / (h w) F_k)`, for all classes at once.
///
/// Equal to the autodiff Grad-CAM of the class score at the feature map (tested in this crate),
/// but costs one matrix product (about 1.2 ms forward and backward for 32 x 512 x 7 x 7 and 7
/// classes on two CPU cores; `benches/attention.rs`). Gradients flow to `features`;
/// `head_weight` is detached.
///
/// The training objective (afcn-losses) calls this function: its name and signature are stable.
///
/// # Shapes
/// - `features`: `[N, K, h, w]`, the last feature map (before pooling).
/// - `head_weight`: `[C, K]`, the linear head's weight in PyTorch's `[out, in]` layout. Burn's
///   `Linear` stores `[in, out]`: pass `linear.weight.val().transpose()`.
/// - returns `[N, C, h, w]`.
pub fn class_attention<B: Backend>(
    features: Tensor<B, 4>,
    head_weight: Tensor<B, 2>,
) -> Tensor<B, 4> {
    let [_, _, h, w] = features.dims();
    relu(class_activation_map(features, head_weight).div_scalar((h * w) as f32))
}

/// The raw class activation map of every class, `sum_k W_ck F_k` (no ReLU, no `1 / (h w)`):
/// EAC's attention, used when the Grad-CAM attention is switched off.
///
/// Gradients flow to `features`; `head_weight` is detached.
///
/// # Shapes
/// - `features`: `[N, K, h, w]`.
/// - `head_weight`: `[C, K]` (PyTorch's `[out, in]` layout, see [`class_attention`]).
/// - returns `[N, C, h, w]`.
pub fn class_activation_map<B: Backend>(
    features: Tensor<B, 4>,
    head_weight: Tensor<B, 2>,
) -> Tensor<B, 4> {
    let [c, k] = head_weight.dims();
    weighted_channel_sum(head_weight.detach().reshape([1, c, k]), features)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{Distribution, Tolerance};

    type B = Flex;
    type Ad = Autodiff<Flex>;

    /// The same maps computed element by element on the host.
    fn reference(features: &[f32], weight: &[f32], [n, k, c, hw]: [usize; 4]) -> Vec<f32> {
        let mut out = vec![0.0; n * c * hw];
        for i in 0..n {
            for cls in 0..c {
                for p in 0..hw {
                    out[(i * c + cls) * hw + p] = (0..k)
                        .map(|ch| weight[cls * k + ch] * features[(i * k + ch) * hw + p])
                        .sum();
                }
            }
        }
        out
    }

    #[test]
    fn raw_map_and_attention_match_a_host_reference() {
        let device = Default::default();
        let features =
            Tensor::<B, 4>::random([2, 5, 3, 4], Distribution::Normal(0.0, 1.0), &device);
        let weight = Tensor::<B, 2>::random([3, 5], Distribution::Normal(0.0, 1.0), &device);
        let expected = reference(
            &features.to_data().to_vec::<f32>().unwrap(),
            &weight.to_data().to_vec::<f32>().unwrap(),
            [2, 5, 3, 12],
        );
        let cam = class_activation_map(features.clone(), weight.clone());
        assert_eq!(cam.dims(), [2, 3, 3, 4]);
        cam.into_data().assert_approx_eq::<f32>(
            &burn::tensor::TensorData::new(expected.clone(), [2, 3, 3, 4]),
            Tolerance::default(),
        );
        let attention: Vec<f32> = expected.iter().map(|v| (v / 12.0).max(0.0)).collect();
        class_attention(features, weight)
            .into_data()
            .assert_approx_eq::<f32>(
                &burn::tensor::TensorData::new(attention, [2, 3, 3, 4]),
                Tolerance::default(),
            );
    }

    #[test]
    fn gradients_reach_the_features_but_not_the_head_weight() {
        let device = Default::default();
        let features =
            Tensor::<Ad, 4>::random([2, 4, 2, 2], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
        let weight =
            Tensor::<Ad, 2>::random([3, 4], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let grads = class_activation_map(features.clone(), weight.clone())
            .sum()
            .backward();
        // d/dF_k of sum over classes and positions = sum_c W_ck, at every position.
        let column_sums = weight
            .clone()
            .inner()
            .sum_dim(0)
            .reshape([1, 4, 1, 1])
            .expand([2, 4, 2, 2]);
        features
            .grad(&grads)
            .expect("features get a gradient")
            .into_data()
            .assert_approx_eq::<f32>(&column_sums.into_data(), Tolerance::default());
        assert!(weight.grad(&grads).is_none(), "the head weight is detached");
    }
}
