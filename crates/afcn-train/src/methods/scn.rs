//! SCN (Wang et al., "Suppressing Uncertainties for Large-Scale Facial Expression
//! Recognition"): importance-scaled logits, rank regularisation, and relabelling after the
//! update, as its official code does.

use afcn_backbone::{ResNet, global_average_pool};
use afcn_certainty::{CorrectionRule, InvalidField};
use afcn_data::Views;
use afcn_losses::{RankRegularisation, cross_entropy_per_sample, importance_scaled_logits};
use burn::{
    module::Module,
    nn::{Linear, LinearConfig},
    tensor::{
        Int, Tensor,
        activation::{sigmoid, softmax},
        backend::AutodiffBackend,
        backend::Backend,
    },
};
use serde::{Deserialize, Serialize};

use super::{
    BackboneHead, FeatureShape, LossParts, Method, MethodError, RelabelTiming, Relabelling,
    StepBatch,
};

/// Self-Cure Network: one view, an importance branch, relabelling from the importance-scaled
/// outputs that takes effect in later epochs. Its knobs, with SCN's defaults, are the rank
/// regularisation's and the relabelling's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scn {
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

impl Default for Scn {
    fn default() -> Self {
        Self {
            rank_margin: 0.15,
            high_ratio: 0.7,
            relabel_margin: 0.2,
            relabel_from_epoch: 10,
        }
    }
}

impl Scn {
    /// The rank regularisation of the importance weights.
    pub fn rank(&self) -> RankRegularisation {
        RankRegularisation {
            margin: self.rank_margin,
            high_ratio: self.high_ratio,
        }
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
}

/// SCN's importance branch on GAP(F).
#[derive(Module, Debug)]
pub struct ScnHeads<B: Backend> {
    /// `alpha = sigmoid(linear(GAP(F)))`, `K -> 1`.
    pub importance: Linear<B>,
}

/// One forward of SCN.
pub struct ScnForward<B: AutodiffBackend> {
    /// The importance-scaled logits `alpha_i z_i`, `[N, C]`. `alpha_i > 0` scales a row
    /// without changing its argmax: these are the predictions.
    pub scaled: Tensor<B, 2>,
    /// The importances `alpha_i`, `[N]`.
    pub importance: Tensor<B, 1>,
}

impl Method for Scn {
    const NAME: &'static str = "scn";
    const ABOUT: &'static str =
        "Self-Cure Network: importance-scaled logits, rank regularisation, relabelling";

    type Heads<B: Backend> = ScnHeads<B>;
    type Classifier<B: Backend> = BackboneHead;
    type Forward<B: AutodiffBackend> = ScnForward<B>;

    /// Checks the margins (finite, non-negative) and the high group's share (in `[0, 1]`).
    fn validate(&self) -> Result<(), InvalidField> {
        InvalidField::non_negative("rank_margin", self.rank_margin)?;
        InvalidField::fraction("high_ratio", self.high_ratio)?;
        InvalidField::non_negative("relabel_margin", self.relabel_margin)
    }

    fn views(&self) -> Views {
        Views::One
    }

    fn heads<B: Backend>(&self, shape: FeatureShape, device: &B::Device) -> ScnHeads<B> {
        ScnHeads {
            importance: LinearConfig::new(shape.channels, 1).init(device),
        }
    }

    fn classifier<B: Backend>(_: &ScnHeads<B>) -> &BackboneHead {
        &BackboneHead
    }

    fn relabelling(&self, epoch: usize) -> Option<Relabelling> {
        let rule = self.relabel_rule();
        rule.is_active(epoch).then_some(Relabelling {
            rule,
            timing: RelabelTiming::LaterSteps,
        })
    }

    fn forward<B: AutodiffBackend>(
        &self,
        heads: &ScnHeads<B>,
        backbone: &ResNet<B>,
        batch: StepBatch<B>,
    ) -> ScnForward<B> {
        let pooled = global_average_pool(batch.features);
        let [n, _] = pooled.dims();
        let importance = sigmoid(heads.importance.forward(pooled.clone())).reshape([n]);
        let logits = backbone.fc.forward(pooled);
        ScnForward {
            scaled: importance_scaled_logits(logits, importance.clone()),
            importance,
        }
    }

    fn predictions<B: AutodiffBackend>(forward: &ScnForward<B>) -> Tensor<B, 2> {
        forward.scaled.clone()
    }

    /// The softmax of the importance-scaled outputs (SCN's `softmax(alpha z)`).
    fn relabel_probabilities<B: AutodiffBackend>(
        &self,
        forward: &ScnForward<B>,
    ) -> Tensor<B::InnerBackend, 2> {
        softmax(forward.scaled.clone().inner(), 1)
    }

    fn loss<B: AutodiffBackend>(
        &self,
        forward: ScnForward<B>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<LossParts<B>, MethodError> {
        let ce = cross_entropy_per_sample(forward.scaled, labels).mean();
        let rank = self.rank().forward(forward.importance);
        Ok(LossParts {
            loss: ce.clone() + rank.clone(),
            cross_entropy: ce,
            auxiliary: rank,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relabel_rule_is_the_margin_rule() {
        let rule = Scn::default().relabel_rule();
        assert_eq!(rule.relabel(&[0.35, 0.65], 0), Some(1));
        assert_eq!(rule.relabel(&[0.45, 0.55], 0), None);
        assert!(!rule.is_active(9) && rule.is_active(10));
    }

    #[test]
    fn validation_names_the_section_key() {
        let bad = Scn {
            rank_margin: -1.0,
            ..Scn::default()
        };
        let e = bad.validate().unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("rank_margin", "-1.0")
        );
        assert!(Scn::default().validate().is_ok());
    }
}
