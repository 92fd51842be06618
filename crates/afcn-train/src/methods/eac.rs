//! EAC (Zhang et al., "Learn From All: Erasing Attention Consistency"): view 1's
//! cross-entropy plus the flip consistency of raw class activation maps.

use std::marker::PhantomData;

use afcn_backbone::ResNet;
use afcn_data::Views;
use afcn_losses::{AfcnLossError, EacConfig};
use burn::tensor::{Int, Tensor, backend::AutodiffBackend, backend::Backend};

use super::{FeatureShape, LossParts, Method, StepBatch};

/// Erasing Attention Consistency: two views, no extra heads, no relabelling.
pub struct Eac;

impl Method for Eac {
    const NAME: &'static str = "eac";
    const ABOUT: &'static str =
        "Erasing Attention Consistency: flip consistency of class activation maps";

    type Config = EacConfig;
    type Heads<B: Backend> = PhantomData<B>;

    fn validate(config: &EacConfig) -> Result<(), AfcnLossError> {
        config.validate()
    }

    fn views(_: &EacConfig) -> Views {
        Views::Two
    }

    fn heads<B: Backend>(_: &EacConfig, _: FeatureShape, _: &B::Device) -> PhantomData<B> {
        PhantomData
    }

    fn loss<B: AutodiffBackend>(
        config: &EacConfig,
        _: &PhantomData<B>,
        backbone: &ResNet<B>,
        batch: StepBatch<B>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<LossParts<B>, AfcnLossError> {
        let (features_1, features_2) = (batch.view_features(0), batch.view_features(1));
        // The mirrored view's logits are unused (as in EAC's code): only view 1 is classified.
        let logits_1 = backbone.head(features_1.clone());
        let head_weight = backbone.head_weight().detach();
        let eac = config.loss(
            logits_1.clone(),
            labels,
            features_1,
            features_2,
            head_weight,
        );
        Ok(LossParts {
            loss: eac.loss,
            cross_entropy: eac.cross_entropy,
            auxiliary: eac.consistency,
            logits: logits_1.inner(),
        })
    }
}
