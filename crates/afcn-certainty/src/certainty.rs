//! Sample certainty analysis: the normalised entropy of the two views' mean prediction.

use burn::tensor::{Tensor, activation::softmax, backend::Backend};

/// Probabilities below this value are clamped before the logarithm of the entropy, so that a
/// class with probability 0 (softmax underflow at extreme logits) contributes 0 and not NaN.
pub const PROBABILITY_FLOOR: f64 = 1e-12;

/// The certainty of each sample of a batch and the mean prediction it is computed from.
///
/// With two views, `p_i = (softmax(z1_i) + softmax(z2_i)) / 2`; with one view, `p_i =
/// softmax(z1_i)`. Both are detached: certainty is a statistic of the prediction, not something
/// the network is trained to change. `H_i = -sum_c p_ic ln p_ic / ln C` is the normalised
/// entropy and `s_i = 1 - H_i` the certainty, clamped to `[0, 1]` against rounding.
#[derive(Debug, Clone)]
pub struct Certainty<B: Backend> {
    /// Mean class probabilities of the views, detached. Shape `[N, C]`.
    pub mean_probabilities: Tensor<B, 2>,
    /// Certainty `s_i = 1 - H_i` of each sample, in `[0, 1]`. Shape `[N]`.
    pub certainty: Tensor<B, 1>,
}

impl<B: Backend> Certainty<B> {
    /// Certainty from the logits of the two views of each sample (the image and its mirror).
    ///
    /// # Shapes
    /// - `logits_1`, `logits_2`: `[N, C]`
    pub fn from_two_views(logits_1: Tensor<B, 2>, logits_2: Tensor<B, 2>) -> Self {
        let p = (softmax(logits_1.detach(), 1) + softmax(logits_2.detach(), 1)).div_scalar(2.0);
        Self::from_probabilities(p)
    }

    /// Certainty from view 1's logits and, when given, view 2's: the two-view mean of
    /// [`Certainty::from_two_views`], or [`Certainty::from_one_view`].
    ///
    /// # Shapes
    /// - `logits_1`, `logits_2`: `[N, C]`
    pub fn from_views(logits_1: Tensor<B, 2>, logits_2: Option<Tensor<B, 2>>) -> Self {
        match logits_2 {
            Some(logits_2) => Self::from_two_views(logits_1, logits_2),
            None => Self::from_one_view(logits_1),
        }
    }

    /// Certainty from the logits of a single view.
    ///
    /// # Shapes
    /// - `logits`: `[N, C]`
    pub fn from_one_view(logits: Tensor<B, 2>) -> Self {
        Self::from_probabilities(softmax(logits.detach(), 1))
    }

    /// Certainty from class probabilities (rows summing to 1), which are detached.
    ///
    /// # Shapes
    /// - `probabilities`: `[N, C]` with `C >= 2`
    pub fn from_probabilities(probabilities: Tensor<B, 2>) -> Self {
        let probabilities = probabilities.detach();
        let certainty = normalised_entropy(probabilities.clone())
            .neg()
            .add_scalar(1.0)
            .clamp(0.0, 1.0);
        Self {
            mean_probabilities: probabilities,
            certainty,
        }
    }
}

/// Normalised Shannon entropy `-sum_c p_c ln p_c / ln C` of each row, in `[0, 1]` up to rounding.
///
/// # Shapes
/// - `probabilities`: `[N, C]` with `C >= 2`
/// - returns `[N]`
pub fn normalised_entropy<B: Backend>(probabilities: Tensor<B, 2>) -> Tensor<B, 1> {
    let classes = probabilities.dims()[1];
    let log_p = probabilities.clone().clamp_min(PROBABILITY_FLOOR).log();
    (probabilities * log_p)
        .sum_dim(1)
        .squeeze_dim::<1>(1)
        .div_scalar(-(classes as f64).ln())
}

/// Normalised entropy of one row of probabilities on the host, the same formula as
/// [`normalised_entropy`]; used where predictions already are on the host (the label store).
pub fn normalised_entropy_of_row(probabilities: &[f32]) -> f32 {
    let classes = probabilities.len() as f32;
    let h: f32 = probabilities
        .iter()
        .map(|&p| -p * p.max(PROBABILITY_FLOOR as f32).ln())
        .sum();
    h / classes.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    type B = Flex;

    fn values(t: Tensor<B, 1>) -> Vec<f32> {
        t.into_data().iter::<f32>().collect()
    }

    #[test]
    fn uniform_prediction_has_zero_certainty_and_one_hot_has_one() {
        let device = Default::default();
        let p = Tensor::<B, 2>::from_data(
            TensorData::new(vec![0.25f32, 0.25, 0.25, 0.25, 1.0, 0.0, 0.0, 0.0], [2, 4]),
            &device,
        );
        let s = values(Certainty::from_probabilities(p).certainty);
        assert!(s[0].abs() < 1e-6, "uniform: {}", s[0]);
        assert!((s[1] - 1.0).abs() < 1e-6, "one-hot: {}", s[1]);
    }

    #[test]
    fn two_views_average_their_softmax() {
        let device = Default::default();
        // View 1 is sure of class 0, view 2 of class 1: the mean is [0.5, 0.5] up to e^-20.
        let z1 = Tensor::<B, 2>::from_data([[20.0f32, 0.0]], &device);
        let z2 = Tensor::<B, 2>::from_data([[0.0f32, 20.0]], &device);
        let c = Certainty::from_two_views(z1, z2);
        let p: Vec<f32> = c.mean_probabilities.into_data().iter::<f32>().collect();
        assert!(
            (p[0] - 0.5).abs() < 1e-6 && (p[1] - 0.5).abs() < 1e-6,
            "{p:?}"
        );
        assert!(values(c.certainty)[0].abs() < 1e-6);
    }

    #[test]
    fn host_entropy_matches_hand_computed_value() {
        // H([0.5, 0.5, 0]) / ln 3 = ln 2 / ln 3.
        let h = normalised_entropy_of_row(&[0.5, 0.5, 0.0]);
        assert!((h - 2f32.ln() / 3f32.ln()).abs() < 1e-6, "{h}");
    }
}
