//! SCN (Wang et al., "Suppressing Uncertainties for Large-Scale Facial Expression
//! Recognition"): importance-scaled logits, rank regularisation, and relabelling after the
//! update, as its official code does.

use afcn_backbone::{ResNet, global_average_pool};
use afcn_data::Views;
use afcn_losses::{AfcnLossError, ScnConfig, cross_entropy_per_sample, importance_scaled_logits};
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

use super::{FeatureShape, LossParts, Method, RelabelTiming, Relabelling, StepBatch};

/// Self-Cure Network: one view, an importance branch, relabelling from the importance-scaled
/// outputs that takes effect in later epochs.
pub struct Scn;

/// SCN's importance branch on GAP(F).
#[derive(Module, Debug)]
pub struct ScnHeads<B: Backend> {
    /// `alpha = sigmoid(linear(GAP(F)))`, `K -> 1`.
    pub importance: Linear<B>,
}

impl Scn {
    /// The importance-scaled logits `alpha_i z_i` and the importances `alpha_i`.
    fn scaled<B: AutodiffBackend>(
        heads: &ScnHeads<B>,
        backbone: &ResNet<B>,
        features: Tensor<B, 4>,
    ) -> (Tensor<B, 2>, Tensor<B, 1>) {
        let pooled = global_average_pool(features);
        let [n, _] = pooled.dims();
        let importance = sigmoid(heads.importance.forward(pooled.clone())).reshape([n]);
        let logits = backbone.fc.forward(pooled);
        (
            importance_scaled_logits(logits, importance.clone()),
            importance,
        )
    }
}

impl Method for Scn {
    const NAME: &'static str = "scn";
    const ABOUT: &'static str =
        "Self-Cure Network: importance-scaled logits, rank regularisation, relabelling";

    type Config = ScnConfig;
    type Heads<B: Backend> = ScnHeads<B>;

    fn validate(config: &ScnConfig) -> Result<(), AfcnLossError> {
        config.validate()
    }

    fn views(_: &ScnConfig) -> Views {
        Views::One
    }

    fn heads<B: Backend>(_: &ScnConfig, shape: FeatureShape, device: &B::Device) -> ScnHeads<B> {
        ScnHeads {
            importance: LinearConfig::new(shape.channels, 1).init(device),
        }
    }

    fn relabelling(config: &ScnConfig, epoch: usize) -> Option<Relabelling> {
        let rule = config.relabel_rule();
        rule.is_active(epoch).then_some(Relabelling {
            rule,
            timing: RelabelTiming::LaterSteps,
        })
    }

    /// The softmax of the importance-scaled outputs (SCN's `softmax(alpha z)`).
    fn relabel_probabilities<B: AutodiffBackend>(
        _: &ScnConfig,
        heads: &ScnHeads<B>,
        backbone: &ResNet<B>,
        batch: &StepBatch<B>,
    ) -> Tensor<B::InnerBackend, 2> {
        let (scaled, _) = Self::scaled(heads, backbone, batch.features.clone());
        softmax(scaled.inner(), 1)
    }

    fn loss<B: AutodiffBackend>(
        config: &ScnConfig,
        heads: &ScnHeads<B>,
        backbone: &ResNet<B>,
        batch: StepBatch<B>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<LossParts<B>, AfcnLossError> {
        let (scaled, importance) = Self::scaled(heads, backbone, batch.features);
        let ce = cross_entropy_per_sample(scaled.clone(), labels).mean();
        let rank = config.rank_regularisation(importance);
        Ok(LossParts {
            loss: ce.clone() + rank.clone(),
            cross_entropy: ce,
            auxiliary: rank,
            // alpha_i > 0 scales a row without changing its argmax: these are the predictions.
            logits: scaled.inner(),
        })
    }
}
