//! SCN's losses (Wang et al., "Suppressing Uncertainties for Large-Scale Facial Expression
//! Recognition"): importance-scaled logits and rank regularisation.

use afcn_certainty::CorrectionRule;
use burn::tensor::{Tensor, activation::relu, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::AfcnLossError;
use crate::error::{fraction, non_negative};

/// Knobs of SCN, with SCN's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScnConfig {
    /// Rank regularisation margin `delta_1` between the high and low importance groups.
    /// Default 0.15.
    pub rank_margin: f64,
    /// Fraction of the batch in the high importance group. Default 0.7.
    pub high_ratio: f64,
    /// Relabel when `p_max - p_label` exceeds this margin. Default 0.2.
    pub relabel_margin: f64,
    /// First epoch (0-based) of relabelling. Default 10.
    pub relabel_from_epoch: usize,
}

impl Default for ScnConfig {
    fn default() -> Self {
        Self {
            rank_margin: 0.15,
            high_ratio: 0.7,
            relabel_margin: 0.2,
            relabel_from_epoch: 10,
        }
    }
}

impl ScnConfig {
    /// Checks the margins (finite, non-negative) and the high group's share (in `[0, 1]`).
    pub fn validate(&self) -> Result<(), AfcnLossError> {
        non_negative("rank_margin", self.rank_margin)?;
        non_negative("relabel_margin", self.relabel_margin)?;
        fraction("high_ratio", self.high_ratio)
    }

    /// SCN's relabelling as a [`CorrectionRule`]: `tau = 1` makes every label that another
    /// class can beat by a margin uncertain, so only `p_max - p_label > delta` decides.
    pub fn relabel_rule(&self) -> CorrectionRule {
        CorrectionRule {
            tau: 1.0,
            delta: self.relabel_margin,
            from_epoch: self.relabel_from_epoch,
        }
    }

    /// Rank regularisation `max(0, delta_1 - (mean of the high group - mean of the low
    /// group))` of the importance weights, the high group being the `floor(high_ratio N)`
    /// largest weights. Zero when either group is empty. Gradients flow to the weights (the
    /// ranking itself is not differentiated).
    ///
    /// # Shapes
    /// - `importance`: `[N]`, the weights `alpha_i = sigmoid(linear(GAP feature))`
    /// - returns `[1]`
    pub fn rank_regularisation<B: Backend>(&self, importance: Tensor<B, 1>) -> Tensor<B, 1> {
        let [n] = importance.dims();
        let high = ((n as f64) * self.high_ratio).floor() as usize;
        if high == 0 || high >= n {
            return Tensor::zeros([1], &importance.device());
        }
        let (_, order) = importance.clone().detach().sort_descending_with_indices(0);
        let sorted = importance.gather(0, order);
        let high_mean = sorted.clone().slice(0..high).mean();
        let low_mean = sorted.slice(high..n).mean();
        relu((low_mean - high_mean).add_scalar(self.rank_margin))
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
        let loss = ScnConfig::default().rank_regularisation(alpha.clone());
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
        let scn = ScnConfig::default();
        let spread = Tensor::<Flex, 1>::from_data([0.9f32, 0.9, 0.1], &device);
        assert_eq!(scn.rank_regularisation(spread).into_scalar(), 0.0);
        let one = Tensor::<Flex, 1>::from_data([0.5f32], &device);
        assert_eq!(scn.rank_regularisation(one).into_scalar(), 0.0);
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

    #[test]
    fn relabel_rule_is_the_margin_rule() {
        let rule = ScnConfig::default().relabel_rule();
        assert_eq!(rule.relabel(&[0.35, 0.65], 0), Some(1));
        assert_eq!(rule.relabel(&[0.45, 0.55], 0), None);
        assert!(!rule.is_active(9) && rule.is_active(10));
    }
}
