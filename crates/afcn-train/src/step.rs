//! One training step of any method: from a batch to the loss to call `backward` on.
//!
//! A step is four parts: reading and augmenting the batch ([`Step::images`]), one batched
//! forward of all its views through the backbone ([`forward`]), the method's relabelling of
//! the batch in the label store, and the method's loss ([`Step::loss`]). Relabelling happens
//! here, for every method that relabels, after the step's prediction and before the loss that
//! uses the new labels; methods only say when and on which probabilities
//! ([`crate::methods::Method`]). The trainer runs all four; `afcn bench` feeds the last two
//! random images, so both time the same code.

use afcn_backbone::ResNet;
use afcn_certainty::{LabelStore, label_tensor};
use afcn_data::AugmentConfig;
use burn::tensor::{Tensor, backend::AutodiffBackend};

use crate::{
    config::TrainConfig,
    data::SharedDataset,
    methods::{HeadsVisitor, Method, RelabelTiming, StepBatch},
    model::FerModel,
};

/// What a step gives back besides the gradients: the loss and its parts, still on the device.
pub struct StepOutput<B: AutodiffBackend> {
    /// The loss to differentiate. Shape `[1]`.
    pub loss: Tensor<B, 1>,
    /// The (weighted) cross-entropy part. Shape `[1]`.
    pub cross_entropy: Tensor<B, 1>,
    /// The method's second term (0 when it has none). Shape `[1]`.
    pub auxiliary: Tensor<B, 1>,
    /// The method's predictions on view 1, detached. Shape `[N, C]`.
    pub logits: Tensor<B::InnerBackend, 2>,
    /// The labels the loss was computed against, one per sample of the batch.
    pub trained_on: Vec<usize>,
    /// Number of label changes the step made.
    pub corrections: usize,
}

/// The loss of one batch under the run's method, with the label store that relabelling
/// updates.
pub struct Step<'a> {
    /// The run's configuration.
    pub config: &'a TrainConfig,
    /// The current label of every training sample.
    pub labels: &'a mut LabelStore,
}

impl Step<'_> {
    /// Builds the batch of `indices` from `dataset` and computes its loss under `model` in
    /// `epoch`: [`Step::images`], then [`forward`], then [`Step::loss`].
    pub fn run<B: AutodiffBackend>(
        &mut self,
        model: &FerModel<B>,
        dataset: &SharedDataset,
        indices: &[usize],
        epoch: usize,
        device: &B::Device,
    ) -> anyhow::Result<StepOutput<B>> {
        let images = self.images::<B>(dataset, indices, epoch, device)?;
        let features = forward(model, images);
        self.loss(model, features, indices, epoch, device)
    }

    /// Views of each image a step sends through the network: 2 for the two-view methods (the
    /// image and its mirror), else 1.
    pub fn views(&self) -> usize {
        self.config.method.views(&self.config.methods)
    }

    /// Reads and augments the samples `indices` of `dataset`: the network input of a step,
    /// with view 1 of every sample first, then view 2 for two-view methods.
    ///
    /// # Shapes
    /// - output: `[V N, 3, S, S]`, `V` = [`Step::views`], `N` = `indices.len()`
    pub fn images<B: AutodiffBackend>(
        &self,
        dataset: &SharedDataset,
        indices: &[usize],
        epoch: usize,
        device: &B::Device,
    ) -> anyhow::Result<Tensor<B, 4>> {
        let config = self.config;
        let augment: &AugmentConfig = &config.augment;
        Ok(if self.views() == 2 {
            let batch = afcn_data::two_view_batch::<B, _>(
                dataset.as_ref(),
                indices,
                augment,
                config.seed,
                epoch,
                device,
            )?;
            Tensor::cat(vec![batch.view1, batch.view2], 0)
        } else {
            afcn_data::train_batch::<B, _>(
                dataset.as_ref(),
                indices,
                augment,
                config.seed,
                epoch,
                device,
            )?
            .images
        })
    }

    /// The method's relabelling and loss of one batch from the backbone's feature maps on it
    /// (see [`forward`]); `indices` are the samples' keys in the label store.
    ///
    /// # Shapes
    /// - `features`: `[V N, K, h, w]`, view 1 of every sample first (`V` = [`Step::views`])
    /// - `indices`: `N` entries
    pub fn loss<B: AutodiffBackend>(
        &mut self,
        model: &FerModel<B>,
        features: Tensor<B, 4>,
        indices: &[usize],
        epoch: usize,
        device: &B::Device,
    ) -> anyhow::Result<StepOutput<B>> {
        let config = self.config;
        let n = indices.len();
        let rows = features.dims()[0];
        anyhow::ensure!(
            rows == self.views() * n,
            "the network output has {rows} rows; {} views of {n} samples need {}",
            self.views(),
            self.views() * n
        );
        anyhow::ensure!(
            model.heads.kind() == config.method,
            "the model has the heads of {}, the run trains {}",
            model.heads.kind(),
            config.method
        );
        let batch = StepBatch {
            features,
            samples: n,
            epoch,
            seed: config.seed,
            indices: indices.to_vec(),
        };
        model.heads.visit(
            &config.methods,
            MethodStep {
                backbone: &model.backbone,
                batch,
                labels: self.labels,
                device,
            },
        )
    }
}

/// The relabelling and loss of one batch, run with the method's static types.
struct MethodStep<'a, B: AutodiffBackend> {
    backbone: &'a ResNet<B>,
    batch: StepBatch<B>,
    labels: &'a mut LabelStore,
    device: &'a B::Device,
}

impl<B: AutodiffBackend> HeadsVisitor<B> for MethodStep<'_, B> {
    type Output = anyhow::Result<StepOutput<B>>;

    fn visit<M: Method>(self, config: &M::Config, heads: &M::Heads<B>) -> Self::Output {
        let MethodStep {
            backbone,
            batch,
            labels,
            device,
        } = self;
        let indices = batch.indices.clone();
        let relabelling = M::relabelling(config, batch.epoch);
        // A method whose new labels serve later epochs learns from the labels it had.
        let before = match relabelling {
            Some(r) if r.timing == RelabelTiming::LaterSteps => Some(labels.labels_of(&indices)?),
            _ => None,
        };
        let corrections = match relabelling {
            Some(r) => {
                let probabilities = M::relabel_probabilities(config, heads, backbone, &batch);
                labels
                    .correct_batch(batch.epoch, &indices, probabilities, &r.rule)?
                    .len()
            }
            None => 0,
        };
        let trained_on = match before {
            Some(before) => before,
            None => labels.labels_of(&indices)?,
        };
        let label_tensor = label_tensor::<B>(&trained_on, device);
        let parts = M::loss(config, heads, backbone, batch, label_tensor)?;
        Ok(StepOutput {
            loss: parts.loss,
            cross_entropy: parts.cross_entropy,
            auxiliary: parts.auxiliary,
            logits: parts.logits,
            trained_on,
            corrections,
        })
    }
}

/// One batched forward of a step's images through the backbone (both views at once for the
/// two-view methods): the last stage's feature maps, from which every method's loss starts.
///
/// # Shapes
/// - `images`: `[V N, 3, S, S]`; output `[V N, K, h, w]`
pub fn forward<B: AutodiffBackend>(model: &FerModel<B>, images: Tensor<B, 4>) -> Tensor<B, 4> {
    model.backbone.features(images)
}
