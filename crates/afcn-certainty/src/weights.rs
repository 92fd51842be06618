//! Certainty weights: each sample's certainty relative to the batch mean.

use burn::tensor::{Tensor, backend::Backend};

/// Certainty weights `w_i = s_i / mean_j(s_j)`, so that the weights of a batch have mean 1.
///
/// When every certainty is 0 the weights are all 1, and during warm-up (`in_warm_up`) they are
/// all 1 whatever the certainties. Computed on the device without reading the mean back:
/// with `z = [mean <= 0]` (0 or 1), `w_i = (s_i + z) / (mean + z)`, which is `s_i / mean`
/// when the mean is positive and `1` when every `s_i` is 0 (certainties are non-negative).
/// The result is detached.
///
/// # Shapes
/// - `certainty`: `[N]`, values in `[0, 1]`
/// - returns `[N]`
pub fn certainty_weights<B: Backend>(certainty: Tensor<B, 1>, in_warm_up: bool) -> Tensor<B, 1> {
    let certainty = certainty.detach();
    if in_warm_up {
        return certainty.ones_like();
    }
    let mean = certainty.clone().mean();
    let all_zero = mean.clone().lower_equal_elem(0.0).float();
    (certainty + all_zero.clone()) / (mean + all_zero)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    type B = Flex;

    fn weights(s: [f32; 3], warm_up: bool) -> Vec<f32> {
        let s = Tensor::<B, 1>::from_data(s, &Default::default());
        certainty_weights(s, warm_up)
            .into_data()
            .iter::<f32>()
            .collect()
    }

    #[test]
    fn weights_are_certainty_over_batch_mean() {
        // mean = 0.4: 0.2 / 0.4, 0.4 / 0.4, 0.6 / 0.4.
        let w = weights([0.2, 0.4, 0.6], false);
        for (got, want) in w.iter().zip([0.5f32, 1.0, 1.5]) {
            assert!((got - want).abs() < 1e-6, "{w:?}");
        }
    }

    #[test]
    fn all_zero_certainty_gives_unit_weights() {
        assert_eq!(weights([0.0, 0.0, 0.0], false), vec![1.0; 3]);
    }

    #[test]
    fn warm_up_gives_unit_weights() {
        assert_eq!(weights([0.1, 0.9, 0.3], true), vec![1.0; 3]);
    }
}
