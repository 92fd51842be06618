//! AFCN, this project's method (`docs/method.md`): certainty-weighted cross-entropy, label
//! correction before the loss, and fusion consistency of the Grad-CAM attention of an image
//! and its mirror. The method is its objective's configuration, [`AfcnConfig`].

use std::marker::PhantomData;

use afcn_backbone::ResNet;
use afcn_certainty::{Certainty, InvalidField};
use afcn_data::Views;
use afcn_losses::{AfcnConfig, AfcnObjective, ViewOutput};
use burn::tensor::{Int, Tensor, backend::AutodiffBackend, backend::Backend};

use super::{
    BackboneHead, FeatureShape, LossParts, Method, MethodError, RelabelTiming, Relabelling,
    StepBatch,
};

/// One forward of AFCN: each view's logits and feature maps.
pub struct AfcnForward<B: AutodiffBackend> {
    /// The image's.
    pub view_1: ViewOutput<B>,
    /// The mirror's, when fusion consistency is on.
    pub view_2: Option<ViewOutput<B>>,
    /// The backbone head's weight, detached, `[C, K]`.
    pub head_weight: Tensor<B, 2>,
    /// The epoch (0-based): certainty weighting starts after the warm-up.
    pub epoch: usize,
}

/// The Attention-based Fusion Consistency Network: two views (one with consistency off), no
/// extra heads, label correction that the batch's own loss already uses.
impl Method for AfcnConfig {
    const NAME: &'static str = "afcn";
    const ABOUT: &'static str =
        "Attention-based Fusion Consistency Network (this project's method)";

    type Heads<B: Backend> = PhantomData<B>;
    type Classifier<B: Backend> = BackboneHead;
    type Forward<B: AutodiffBackend> = AfcnForward<B>;

    fn validate(&self) -> Result<(), InvalidField> {
        AfcnConfig::validate(self)
    }

    fn with_epochs(self, from: usize, epochs: usize) -> AfcnConfig {
        AfcnConfig::with_epochs(self, from, epochs)
    }

    /// Two when fusion consistency is on, else one.
    fn views(&self) -> Views {
        if self.consistency {
            Views::Two
        } else {
            Views::One
        }
    }

    fn heads<B: Backend>(&self, _: FeatureShape, _: &B::Device) -> PhantomData<B> {
        PhantomData
    }

    fn classifier<B: Backend>(_: &PhantomData<B>) -> &BackboneHead {
        &BackboneHead
    }

    fn relabelling(&self, epoch: usize) -> Option<Relabelling> {
        self.corrects_in(epoch).then(|| Relabelling {
            rule: self.correction_rule(),
            timing: RelabelTiming::ThisStep,
        })
    }

    fn forward<B: AutodiffBackend>(
        &self,
        _: &PhantomData<B>,
        backbone: &ResNet<B>,
        batch: StepBatch<B>,
    ) -> AfcnForward<B> {
        let view = |v: usize| {
            let features = batch.view_features(v);
            ViewOutput {
                logits: backbone.head(features.clone()),
                features,
            }
        };
        AfcnForward {
            view_1: view(0),
            view_2: (Method::views(self) == Views::Two).then(|| view(1)),
            head_weight: backbone.head_weight().detach(),
            epoch: batch.epoch,
        }
    }

    fn predictions<B: AutodiffBackend>(forward: &AfcnForward<B>) -> Tensor<B, 2> {
        forward.view_1.logits.clone()
    }

    /// The mean prediction of the two views (of view 1 alone with consistency off).
    fn relabel_probabilities<B: AutodiffBackend>(
        &self,
        forward: &AfcnForward<B>,
    ) -> Tensor<B::InnerBackend, 2> {
        let logits_2 = forward.view_2.as_ref().map(|v| v.logits.clone().inner());
        Certainty::from_views(forward.view_1.logits.clone().inner(), logits_2).mean_probabilities
    }

    fn loss<B: AutodiffBackend>(
        &self,
        forward: AfcnForward<B>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<LossParts<B>, MethodError> {
        let out = AfcnObjective::new(*self)?.forward(
            forward.view_1,
            forward.view_2,
            forward.head_weight,
            labels,
            forward.epoch,
        )?;
        Ok(LossParts {
            loss: out.loss,
            cross_entropy: out.weighted_cross_entropy,
            auxiliary: out.consistency,
        })
    }
}
