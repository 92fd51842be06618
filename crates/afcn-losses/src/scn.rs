//! SCN's losses (Wang et al., "Suppressing Uncertainties for Large-Scale Facial Expression
//! Recognition"): importance-scaled logits and rank regularisation. SCN's relabelling is
//! the method's, not a loss's (`afcn_train::methods::Scn`).

use afcn_certainty::InvalidField;
use burn::tensor::{Tensor, activation::relu, backend::Backend};
use serde::{Deserialize, Serialize};

/// SCN's rank regularisation of the importance weights, with SCN's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RankRegularisation {
    /// Margin `delta_1` between the high and low importance groups. Default 0.15.
    pub margin: f64,
    /// Fraction of the batch in the high importance group. Default 0.7.
    pub high_ratio: f64,
}

impl Default for RankRegularisation {
    fn default() -> Self {
        Self {
            margin: 0.15,
            high_ratio: 0.7,
        }
    }
}

impl RankRegularisation {
    /// Checks the margin (finite, non-negative) and the high group's share (in `[0, 1]`).
    pub fn validate(&self) -> Result<(), InvalidField> {
        InvalidField::non_negative("margin", self.margin)?;
        InvalidField::fraction("high_ratio", self.high_ratio)
    }

    /// `max(0, delta_1 - (mean of the high group - mean of the low group))` of the
    /// importance weights, the high group being the `floor(high_ratio N)` largest weights.
    /// Zero when either group is empty. Gradients flow to the weights (the ranking itself is
    /// not differentiated).
    ///
    /// # Shapes
    /// - `importance`: `[N]`, the weights `alpha_i = sigmoid(linear(GAP feature))`
    /// - returns `[1]`
    pub fn forward<B: Backend>(&self, importance: Tensor<B, 1>) -> Tensor<B, 1> {
        let [n] = importance.dims();
        let high = ((n as f64) * self.high_ratio).floor() as usize;
        if high == 0 || high >= n {
            return Tensor::zeros([1], &importance.device());
        }
        let (_, order) = importance.clone().detach().sort_descending_with_indices(0);
        let sorted = importance.gather(0, order);
        let high_mean = sorted.clone().slice(0..high).mean();
        let low_mean = sorted.slice(high..n).mean();
        relu((low_mean - high_mean).add_scalar(self.margin))
    }
}

/// SCN's importance-scaled logits `alpha_i z_i`.
///
/// # Shapes
/// - `logits`: `[N, C]`; `importance`: `[N]`
/// - returns `[N, C]`
pub fn importance_scaled_logits<B: Backend>(
    logits: Tensor<B, 2>,
    importance: Tensor<B, 1>,
) -> Tensor<B, 2> {
    let [n] = importance.dims();
    logits * importance.reshape([n, 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};

    type Ad = Autodiff<Flex>;

    #[test]
    fn rank_regularisation_matches_hand_computed_groups() {
        let device = Default::default();
        // N = 10, high group = 7 largest: 0.9 x 7 (mean 0.9); low group 0.8 x 3 (mean 0.8).
        // 0.15 - (0.9 - 0.8) = 0.05.
        let w: Vec<f32> = [0.8, 0.9, 0.9, 0.8, 0.9, 0.9, 0.9, 0.8, 0.9, 0.9].to_vec();
        let alpha = Tensor::<Ad, 1>::from_data(w.as_slice(), &device).require_grad();
        let loss = RankRegularisation::default().forward(alpha.clone());
        assert!((loss.clone().into_scalar() - 0.05).abs() < 1e-6);
        // d/d alpha: -1/7 on the high group, +1/3 on the low group.
        let grad: Vec<f32> = alpha
            .grad(&loss.backward())
            .unwrap()
            .into_data()
            .iter::<f32>()
            .collect();
        for (g, v) in grad.iter().zip(&w) {
            let want = if *v > 0.85 { -1.0 / 7.0 } else { 1.0 / 3.0 };
            assert!((g - want).abs() < 1e-6, "{grad:?}");
        }
    }

    #[test]
    fn rank_regularisation_vanishes_past_the_margin_and_for_tiny_batches() {
        let device = Default::default();
        let rank = RankRegularisation::default();
        let spread = Tensor::<Flex, 1>::from_data([0.9f32, 0.9, 0.1], &device);
        assert_eq!(rank.forward(spread).into_scalar(), 0.0);
        let one = Tensor::<Flex, 1>::from_data([0.5f32], &device);
        assert_eq!(rank.forward(one).into_scalar(), 0.0);
    }

    #[test]
    fn logits_are_scaled_per_sample() {
        let device = Default::default();
        let z = Tensor::<Flex, 2>::from_data([[1.0f32, -2.0], [3.0, 4.0]], &device);
        let a = Tensor::<Flex, 1>::from_data([0.5f32, 2.0], &device);
        let out: Vec<f32> = importance_scaled_logits(z, a)
            .into_data()
            .iter::<f32>()
            .collect();
        assert_eq!(out, vec![0.5, -1.0, 6.0, 8.0]);
    }
}
