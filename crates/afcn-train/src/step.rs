//! One training step of each method: from a batch to the loss to call `backward` on.
//!
//! A step is three parts: reading and augmenting the batch ([`Step::images`]), one batched
//! forward of all its views ([`forward`]), and the method's loss ([`Step::loss`]). The trainer
//! runs all three; `afcn bench` feeds the last two random images, so both time the same code.

use afcn_backbone::global_average_pool;
use afcn_certainty::LabelStore;
use afcn_data::AugmentConfig;
use afcn_losses::{
    AfcnObjective, ViewOutput, add_up_loss, cross_entropy_per_sample, importance_scaled_logits,
    mix_features, relative_uncertainty,
};
use burn::tensor::{Int, Tensor, TensorData, backend::AutodiffBackend};
use rand::{SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;

use crate::{
    config::{Method, TrainConfig},
    data::SharedDataset,
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
    /// View 1's logits, detached. Shape `[N, C]`.
    pub logits: Tensor<B::InnerBackend, 2>,
    /// Number of label changes the step made.
    pub corrections: usize,
}

/// The per-method loss of one batch, with the label store that corrections update.
pub struct Step<'a> {
    /// The run's configuration.
    pub config: &'a TrainConfig,
    /// The AFCN objective (built once per run).
    pub objective: &'a AfcnObjective,
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
        let forward = forward(model, images);
        self.loss(model, forward, indices, epoch, device)
    }

    /// Views of each image a step sends through the network: 2 for the two-view methods (the
    /// image and its mirror), else 1.
    pub fn views(&self) -> usize {
        if self.config.method.two_views(&self.config.afcn) {
            2
        } else {
            1
        }
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

    /// The method's loss of one batch from the network's outputs on it (see [`forward`]);
    /// `indices` are the samples' keys in the label store, which label correction updates.
    ///
    /// # Shapes
    /// - `forward`: `V N` rows, view 1 of every sample first (`V` = [`Step::views`])
    /// - `indices`: `N` entries
    pub fn loss<B: AutodiffBackend>(
        &mut self,
        model: &FerModel<B>,
        forward: StepForward<B>,
        indices: &[usize],
        epoch: usize,
        device: &B::Device,
    ) -> anyhow::Result<StepOutput<B>> {
        let config = self.config;
        let n = indices.len();
        let rows = forward.logits.dims()[0];
        anyhow::ensure!(
            rows == self.views() * n,
            "the network output has {rows} rows; {} views of {n} samples need {}",
            self.views(),
            self.views() * n
        );
        if self.views() == 2 {
            let [_, k, h, w] = forward.features.dims();
            let c = forward.logits.dims()[1];
            let view = |i: usize| ViewOutput {
                logits: forward.logits.clone().slice([i * n..(i + 1) * n, 0..c]),
                features: forward
                    .features
                    .clone()
                    .slice([i * n..(i + 1) * n, 0..k, 0..h, 0..w]),
            };
            let (view_1, view_2) = (view(0), view(1));
            return match config.method {
                Method::Eac => {
                    let head_weight = model.backbone.head_weight().detach();
                    let labels = self.labels.labels_tensor::<B>(indices, device)?;
                    let eac = config.eac.loss(
                        view_1.logits.clone(),
                        labels,
                        view_1.features,
                        view_2.features,
                        head_weight,
                    );
                    Ok(StepOutput {
                        loss: eac.loss,
                        cross_entropy: eac.cross_entropy,
                        auxiliary: eac.consistency,
                        logits: view_1.logits.inner(),
                        corrections: 0,
                    })
                }
                _ => self.afcn(model, view_1, Some(view_2), indices, epoch),
            };
        }

        match config.method {
            Method::Afcn => {
                let view_1 = ViewOutput {
                    logits: forward.logits,
                    features: forward.features,
                };
                self.afcn(model, view_1, None, indices, epoch)
            }
            Method::Baseline => {
                let labels = self.labels.labels_tensor::<B>(indices, device)?;
                let logits = forward.logits;
                let ce = cross_entropy_per_sample(logits.clone(), labels).mean();
                Ok(StepOutput {
                    loss: ce.clone(),
                    auxiliary: ce.zeros_like(),
                    cross_entropy: ce,
                    logits: logits.inner(),
                    corrections: 0,
                })
            }
            Method::Scn => {
                let (pooled, logits) = (forward.pooled, forward.logits);
                let importance = model
                    .importance(pooled)
                    .expect("an SCN model has its importance branch");
                let corrections = if epoch >= config.scn.relabel_from_epoch {
                    let probabilities = burn::tensor::activation::softmax(logits.clone(), 1);
                    self.labels
                        .correct_batch(epoch, indices, probabilities, &config.scn.relabel_rule())?
                        .len()
                } else {
                    0
                };
                let labels = self.labels.labels_tensor::<B>(indices, device)?;
                let scaled = importance_scaled_logits(logits.clone(), importance.clone());
                let ce = cross_entropy_per_sample(scaled, labels).mean();
                let rank = config.scn.rank_regularisation(importance);
                Ok(StepOutput {
                    loss: ce.clone() + rank.clone(),
                    cross_entropy: ce,
                    auxiliary: rank,
                    logits: logits.inner(),
                    corrections,
                })
            }
            Method::Rul => {
                let labels = self.labels.labels_tensor::<B>(indices, device)?;
                let pooled = forward.pooled;
                let log_variance = model
                    .log_variance
                    .as_ref()
                    .expect("an RUL model has its log-variance branch")
                    .forward(pooled.clone());
                let uncertainty = relative_uncertainty(log_variance);
                let partners = partners::<B>(n, config.seed, epoch, indices, device);
                let mixed = mix_features(pooled, uncertainty, partners.clone());
                let mixed_logits = model.backbone.fc.forward(mixed.features);
                let loss = add_up_loss(mixed_logits, labels, partners);
                Ok(StepOutput {
                    cross_entropy: loss.clone(),
                    auxiliary: loss.zeros_like(),
                    loss,
                    logits: forward.logits.inner(),
                    corrections: 0,
                })
            }
            Method::Eac => unreachable!("EAC always has two views"),
        }
    }

    /// The AFCN objective on one view, or on two when fusion consistency is on.
    fn afcn<B: AutodiffBackend>(
        &mut self,
        model: &FerModel<B>,
        view_1: ViewOutput<B>,
        view_2: Option<ViewOutput<B>>,
        indices: &[usize],
        epoch: usize,
    ) -> anyhow::Result<StepOutput<B>> {
        let logits = view_1.logits.clone().inner();
        let head_weight = model.backbone.head_weight().detach();
        let out =
            self.objective
                .forward(view_1, view_2, head_weight, indices, self.labels, epoch)?;
        Ok(StepOutput {
            loss: out.loss,
            cross_entropy: out.weighted_cross_entropy,
            auxiliary: out.consistency,
            logits,
            corrections: out.changes.len(),
        })
    }
}

/// The network's outputs on a step's images, from which every method's loss starts.
pub struct StepForward<B: AutodiffBackend> {
    /// The last stage's feature maps F. Shape `[V N, K, h, w]`.
    pub features: Tensor<B, 4>,
    /// GAP(F). Shape `[V N, K]`.
    pub pooled: Tensor<B, 2>,
    /// The backbone's logits, `z = GAP(F) W^T + b`. Shape `[V N, C]`.
    pub logits: Tensor<B, 2>,
}

/// One batched forward of a step's images through the backbone (both views at once for the
/// two-view methods).
///
/// # Shapes
/// - `images`: `[V N, 3, S, S]`
pub fn forward<B: AutodiffBackend>(model: &FerModel<B>, images: Tensor<B, 4>) -> StepForward<B> {
    let features = model.backbone.features(images);
    let pooled = global_average_pool(features.clone());
    let logits = model.backbone.fc.forward(pooled.clone());
    StepForward {
        features,
        pooled,
        logits,
    }
}

/// RUL's random partner of each sample in the batch: a permutation seeded by the run, the
/// epoch and the batch's first sample.
fn partners<B: AutodiffBackend>(
    n: usize,
    seed: u64,
    epoch: usize,
    indices: &[usize],
    device: &B::Device,
) -> Tensor<B, 1, Int> {
    let mut order: Vec<i64> = (0..n as i64).collect();
    let key = seed ^ ((epoch as u64) << 32) ^ indices.first().copied().unwrap_or(0) as u64;
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(key));
    Tensor::from_data(TensorData::new(order, [n]), device)
}
