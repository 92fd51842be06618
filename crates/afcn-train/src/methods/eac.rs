//! EAC (Zhang et al., "Learn From All: Erasing Attention Consistency"): view 1's
//! cross-entropy plus the flip consistency of raw class activation maps. The method is its
//! loss's configuration, [`EacConfig`].

use std::marker::PhantomData;

use afcn_backbone::ResNet;
use afcn_certainty::InvalidField;
use afcn_data::Views;
use afcn_losses::EacConfig;
use burn::tensor::{Int, Tensor, backend::AutodiffBackend, backend::Backend};

use super::{BackboneHead, FeatureShape, LossParts, Method, MethodError, StepBatch};

/// One forward of EAC: view 1's logits and both views' feature maps.
pub struct EacForward<B: AutodiffBackend> {
    /// View 1's logits, `[N, C]`. The mirrored view's are not computed (as in EAC's code):
    /// only view 1 is classified.
    pub logits_1: Tensor<B, 2>,
    /// `F` of the image, `[N, K, h, w]`.
    pub features_1: Tensor<B, 4>,
    /// `F` of its mirror, `[N, K, h, w]`.
    pub features_2: Tensor<B, 4>,
    /// The backbone head's weight, detached, `[C, K]`.
    pub head_weight: Tensor<B, 2>,
}

/// Erasing Attention Consistency: two views, no extra heads, no relabelling.
impl Method for EacConfig {
    const NAME: &'static str = "eac";
    const ABOUT: &'static str =
        "Erasing Attention Consistency: flip consistency of class activation maps";

    type Heads<B: Backend> = PhantomData<B>;
    type Classifier<B: Backend> = BackboneHead;
    type Forward<B: AutodiffBackend> = EacForward<B>;

    fn validate(&self) -> Result<(), InvalidField> {
        EacConfig::validate(self)
    }

    fn views(&self) -> Views {
        Views::Two
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
    ) -> EacForward<B> {
        let (features_1, features_2) = (batch.view_features(0), batch.view_features(1));
        EacForward {
            logits_1: backbone.head(features_1.clone()),
            features_1,
            features_2,
            head_weight: backbone.head_weight().detach(),
        }
    }

    fn predictions<B: AutodiffBackend>(forward: &EacForward<B>) -> Tensor<B, 2> {
        forward.logits_1.clone()
    }

    fn loss<B: AutodiffBackend>(
        &self,
        forward: EacForward<B>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<LossParts<B>, MethodError> {
        let eac = EacConfig::loss(
            self,
            forward.logits_1,
            labels,
            forward.features_1,
            forward.features_2,
            forward.head_weight,
        );
        Ok(LossParts {
            loss: eac.loss,
            cross_entropy: eac.cross_entropy,
            auxiliary: eac.consistency,
        })
    }
}
