//! AFCN, this project's method (`docs/method.md`): certainty-weighted cross-entropy, label
//! correction before the loss, and fusion consistency of the Grad-CAM attention of an image
//! and its mirror.

use std::marker::PhantomData;

use afcn_backbone::ResNet;
use afcn_certainty::Certainty;
use afcn_data::Views;
use afcn_losses::{AfcnConfig, AfcnLossError, AfcnObjective, ViewOutput};
use burn::tensor::{Int, Tensor, backend::AutodiffBackend, backend::Backend};

use super::{FeatureShape, LossParts, Method, RelabelTiming, Relabelling, StepBatch};

/// The Attention-based Fusion Consistency Network: two views (one with consistency off), no
/// extra heads, label correction that the batch's own loss already uses.
pub struct Afcn;

impl Afcn {
    /// Each view's logits and features: view 1 always, view 2 when the step has two.
    fn views<B: AutodiffBackend>(
        config: &AfcnConfig,
        backbone: &ResNet<B>,
        batch: &StepBatch<B>,
    ) -> (ViewOutput<B>, Option<ViewOutput<B>>) {
        let view = |v: usize| {
            let features = batch.view_features(v);
            ViewOutput {
                logits: backbone.head(features.clone()),
                features,
            }
        };
        (
            view(0),
            (<Self as Method>::views(config) == Views::Two).then(|| view(1)),
        )
    }
}

impl Method for Afcn {
    const NAME: &'static str = "afcn";
    const ABOUT: &'static str =
        "Attention-based Fusion Consistency Network (this project's method)";

    type Config = AfcnConfig;
    type Heads<B: Backend> = PhantomData<B>;

    fn validate(config: &AfcnConfig) -> Result<(), AfcnLossError> {
        config.validate()
    }

    fn with_epochs(config: AfcnConfig, from: usize, epochs: usize) -> AfcnConfig {
        config.with_epochs(from, epochs)
    }

    /// Two when fusion consistency is on, else one.
    fn views(config: &AfcnConfig) -> Views {
        if config.consistency {
            Views::Two
        } else {
            Views::One
        }
    }

    fn heads<B: Backend>(_: &AfcnConfig, _: FeatureShape, _: &B::Device) -> PhantomData<B> {
        PhantomData
    }

    fn relabelling(config: &AfcnConfig, epoch: usize) -> Option<Relabelling> {
        config.corrects_in(epoch).then(|| Relabelling {
            rule: config.correction_rule(),
            timing: RelabelTiming::ThisStep,
        })
    }

    /// The mean prediction of the two views (of view 1 alone with consistency off).
    fn relabel_probabilities<B: AutodiffBackend>(
        config: &AfcnConfig,
        _: &PhantomData<B>,
        backbone: &ResNet<B>,
        batch: &StepBatch<B>,
    ) -> Tensor<B::InnerBackend, 2> {
        let (view_1, view_2) = Self::views(config, backbone, batch);
        Certainty::from_views(view_1.logits, view_2.map(|v| v.logits))
            .mean_probabilities
            .inner()
    }

    fn loss<B: AutodiffBackend>(
        config: &AfcnConfig,
        _: &PhantomData<B>,
        backbone: &ResNet<B>,
        batch: StepBatch<B>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<LossParts<B>, AfcnLossError> {
        let (view_1, view_2) = Self::views(config, backbone, &batch);
        let logits = view_1.logits.clone().inner();
        let head_weight = backbone.head_weight().detach();
        let out = AfcnObjective::new(*config)?.forward(
            view_1,
            view_2,
            head_weight,
            labels,
            batch.epoch,
        )?;
        Ok(LossParts {
            loss: out.loss,
            cross_entropy: out.weighted_cross_entropy,
            auxiliary: out.consistency,
            logits,
        })
    }
}
