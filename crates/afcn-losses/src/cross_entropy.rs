//! Certainty-weighted cross-entropy, `L_wce = (1/N) sum_i w_i CE(z_i, y_i)`.

use burn::tensor::{Int, Tensor, activation::log_softmax, backend::Backend};

/// Cross-entropy of each sample, `-log softmax(z_i)[y_i]`, from a numerically stable log-softmax.
///
/// # Shapes
/// - `logits`: `[N, C]`
/// - `labels`: `[N]`, class indices in `0..C`
/// - returns `[N]`
pub fn cross_entropy_per_sample<B: Backend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
) -> Tensor<B, 1> {
    let [n, _] = logits.dims();
    log_softmax(logits, 1)
        .gather(1, labels.reshape([n, 1]))
        .reshape([n])
        .neg()
}

/// Certainty-weighted cross-entropy: the mean over the batch of `w_i CE(z_i, y_i)`. The weights
/// are used as given (detach them: they are targets of no gradient).
///
/// # Shapes
/// - `per_sample`: `[N]`, from [`cross_entropy_per_sample`]
/// - `weights`: `[N]`
/// - returns `[1]`
pub fn weighted_cross_entropy<B: Backend>(
    per_sample: Tensor<B, 1>,
    weights: Tensor<B, 1>,
) -> Tensor<B, 1> {
    (per_sample * weights).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    type B = Flex;

    #[test]
    fn matches_hand_computed_cross_entropy() {
        let device = Default::default();
        // Logits [0, ln 3]: softmax [1/4, 3/4].
        let logits = Tensor::<B, 2>::from_data([[0.0f32, 3f32.ln()], [0.0, 3f32.ln()]], &device);
        let labels = Tensor::<B, 1, Int>::from_data([0, 1], &device);
        let ce: Vec<f32> = cross_entropy_per_sample(logits, labels.clone())
            .into_data()
            .iter::<f32>()
            .collect();
        assert!((ce[0] - 4f32.ln()).abs() < 1e-6 && (ce[1] - (4f32 / 3.0).ln()).abs() < 1e-6);
        let weights = Tensor::<B, 1>::from_data([0.5f32, 1.5], &device);
        let l = weighted_cross_entropy(Tensor::from_data([2.0f32, 4.0], &device), weights);
        assert!((l.into_scalar() - 3.5).abs() < 1e-6);
    }
}
