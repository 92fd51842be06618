//! The weighted sum of feature channels behind every class activation map.

use burn::tensor::{Tensor, backend::Backend};

/// `M[n, c] = sum_k weights[n, c, k] F[n, k]`, as one batched matrix product. A weight tensor
/// with a batch of 1 is shared by every image (the matmul broadcasts it without a copy).
///
/// # Shapes
/// - `weights`: `[N, C, K]` or `[1, C, K]`.
/// - `features`: `[N, K, h, w]`.
/// - returns `[N, C, h, w]`.
pub(crate) fn weighted_channel_sum<B: Backend>(
    weights: Tensor<B, 3>,
    features: Tensor<B, 4>,
) -> Tensor<B, 4> {
    let [n, k, h, w] = features.dims();
    let [_, c, _] = weights.dims();
    weights
        .matmul(features.reshape([n, k, h * w]))
        .reshape([n, c, h, w])
}
