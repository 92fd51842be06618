//! The baseline: cross-entropy on one view.

use std::marker::PhantomData;

use afcn_backbone::ResNet;
use afcn_certainty::InvalidField;
use afcn_data::Views;
use afcn_losses::cross_entropy_per_sample;
use burn::tensor::{Int, Tensor, backend::AutodiffBackend, backend::Backend};
use serde::{Deserialize, Serialize};

use super::{BackboneHead, FeatureShape, LossParts, Method, MethodError, StepBatch};

/// Cross-entropy on one view of each image, with no extra heads. It has no knobs: its
/// section (`[methods.baseline]`) is empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {}

impl Method for Baseline {
    const NAME: &'static str = "baseline";
    const ALIASES: &'static [&'static str] = &["ce"];
    const ABOUT: &'static str = "cross-entropy on one view";

    type Heads<B: Backend> = PhantomData<B>;
    type Classifier<B: Backend> = BackboneHead;
    /// The logits of the batch.
    type Forward<B: AutodiffBackend> = Tensor<B, 2>;

    fn validate(&self) -> Result<(), InvalidField> {
        Ok(())
    }

    fn views(&self) -> Views {
        Views::One
    }

    fn heads<B: Backend>(&self, _: FeatureShape, _: &B::Device) -> PhantomData<B> {
        PhantomData
    }

    fn classifier<B: Backend>(_: &PhantomData<B>) -> &BackboneHead {
        &BackboneHead
    }

    fn forward<B: AutodiffBackend>(
        &self,
        _: &PhantomData<B>,
        backbone: &ResNet<B>,
        batch: StepBatch<B>,
    ) -> Tensor<B, 2> {
        backbone.head(batch.features)
    }

    fn predictions<B: AutodiffBackend>(logits: &Tensor<B, 2>) -> Tensor<B, 2> {
        logits.clone()
    }

    fn loss<B: AutodiffBackend>(
        &self,
        logits: Tensor<B, 2>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<LossParts<B>, MethodError> {
        Ok(LossParts::cross_entropy_only(
            cross_entropy_per_sample(logits, labels).mean(),
        ))
    }
}
