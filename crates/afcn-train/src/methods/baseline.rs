//! The baseline: cross-entropy on one view.

use std::marker::PhantomData;

use afcn_backbone::ResNet;
use afcn_data::Views;
use afcn_losses::{AfcnLossError, cross_entropy_per_sample};
use burn::tensor::{Int, Tensor, backend::AutodiffBackend, backend::Backend};
use serde::{Deserialize, Serialize};

use super::{FeatureShape, LossParts, Method, StepBatch};

/// Cross-entropy on one view of each image, with no extra heads.
pub struct Baseline;

/// The baseline has no knobs of its own; its section is empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineConfig {}

impl Method for Baseline {
    const NAME: &'static str = "baseline";
    const ALIASES: &'static [&'static str] = &["ce"];
    const ABOUT: &'static str = "cross-entropy on one view";

    type Config = BaselineConfig;
    type Heads<B: Backend> = PhantomData<B>;

    fn validate(_: &BaselineConfig) -> Result<(), AfcnLossError> {
        Ok(())
    }

    fn views(_: &BaselineConfig) -> Views {
        Views::One
    }

    fn heads<B: Backend>(_: &BaselineConfig, _: FeatureShape, _: &B::Device) -> PhantomData<B> {
        PhantomData
    }

    fn loss<B: AutodiffBackend>(
        _: &BaselineConfig,
        _: &PhantomData<B>,
        backbone: &ResNet<B>,
        batch: StepBatch<B>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<LossParts<B>, AfcnLossError> {
        let logits = backbone.head(batch.features);
        let ce = cross_entropy_per_sample(logits.clone(), labels).mean();
        Ok(LossParts::cross_entropy_only(ce, logits.inner()))
    }
}
