//! One training step of each method: from a batch to the loss to call `backward` on.

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
    model::{FerModel, global_average_pool},
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
    /// The labels the step trained on, detached. Shape `[N]`.
    pub labels: Tensor<B::InnerBackend, 1, Int>,
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
    /// `epoch`. Two-view methods send both views through the network in one batched forward.
    pub fn run<B: AutodiffBackend>(
        &mut self,
        model: &FerModel<B>,
        dataset: &SharedDataset,
        indices: &[usize],
        epoch: usize,
        device: &B::Device,
    ) -> anyhow::Result<StepOutput<B>> {
        let config = self.config;
        let augment: &AugmentConfig = &config.augment;
        let n = indices.len();
        if config.method.two_views(&config.afcn) {
            let batch = afcn_data::two_view_batch::<B, _>(
                dataset.as_ref(),
                indices,
                augment,
                config.seed,
                epoch,
                device,
            )?;
            let both = model
                .backbone
                .forward(Tensor::cat(vec![batch.view1, batch.view2], 0));
            let [_, k, h, w] = both.features.dims();
            let c = both.logits.dims()[1];
            let view = |i: usize| ViewOutput {
                logits: both.logits.clone().slice([i * n..(i + 1) * n, 0..c]),
                features: both
                    .features
                    .clone()
                    .slice([i * n..(i + 1) * n, 0..k, 0..h, 0..w]),
            };
            let (view_1, view_2) = (view(0), view(1));
            let head_weight = model.backbone.head_weight().detach();
            return match config.method {
                Method::Eac => {
                    let labels = self.labels.labels_tensor::<B>(indices, device)?;
                    let eac = config.eac.loss(
                        view_1.logits.clone(),
                        labels.clone(),
                        view_1.features,
                        view_2.features,
                        head_weight,
                    );
                    Ok(StepOutput {
                        loss: eac.loss,
                        cross_entropy: eac.cross_entropy,
                        auxiliary: eac.consistency,
                        logits: view_1.logits.inner(),
                        labels: labels.inner(),
                        corrections: 0,
                    })
                }
                _ => {
                    let logits = view_1.logits.clone().inner();
                    let out = self.objective.forward(
                        view_1,
                        Some(view_2),
                        head_weight,
                        indices,
                        self.labels,
                        epoch,
                    )?;
                    Ok(StepOutput {
                        loss: out.loss,
                        cross_entropy: out.weighted_cross_entropy,
                        auxiliary: out.consistency,
                        logits,
                        labels: out.labels.inner(),
                        corrections: out.changes.len(),
                    })
                }
            };
        }

        let batch = afcn_data::train_batch::<B, _>(
            dataset.as_ref(),
            indices,
            augment,
            config.seed,
            epoch,
            device,
        )?;
        match config.method {
            Method::Afcn => {
                let out = model.backbone.forward(batch.images);
                let logits = out.logits.clone().inner();
                let view_1 = ViewOutput {
                    logits: out.logits,
                    features: out.features,
                };
                let head_weight = model.backbone.head_weight().detach();
                let out = self.objective.forward(
                    view_1,
                    None,
                    head_weight,
                    indices,
                    self.labels,
                    epoch,
                )?;
                Ok(StepOutput {
                    loss: out.loss,
                    cross_entropy: out.weighted_cross_entropy,
                    auxiliary: out.consistency,
                    logits,
                    labels: out.labels.inner(),
                    corrections: out.changes.len(),
                })
            }
            Method::Baseline => {
                let labels = self.labels.labels_tensor::<B>(indices, device)?;
                let logits = model.logits(batch.images);
                let ce = cross_entropy_per_sample(logits.clone(), labels.clone()).mean();
                Ok(StepOutput {
                    loss: ce.clone(),
                    auxiliary: ce.zeros_like(),
                    cross_entropy: ce,
                    logits: logits.inner(),
                    labels: labels.inner(),
                    corrections: 0,
                })
            }
            Method::Scn => {
                let features = model.backbone.features(batch.images);
                let pooled = global_average_pool(features);
                let logits = model.backbone.fc.forward(pooled.clone());
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
                let ce = cross_entropy_per_sample(scaled, labels.clone()).mean();
                let rank = config.scn.rank_regularisation(importance);
                Ok(StepOutput {
                    loss: ce.clone() + rank.clone(),
                    cross_entropy: ce,
                    auxiliary: rank,
                    logits: logits.inner(),
                    labels: labels.inner(),
                    corrections,
                })
            }
            Method::Rul => {
                let labels = self.labels.labels_tensor::<B>(indices, device)?;
                let features = model.backbone.features(batch.images);
                let pooled = global_average_pool(features);
                let log_variance = model
                    .log_variance
                    .as_ref()
                    .expect("an RUL model has its log-variance branch")
                    .forward(pooled.clone());
                let uncertainty = relative_uncertainty(log_variance);
                let partners = partners::<B>(n, config.seed, epoch, indices, device);
                let mixed = mix_features(pooled.clone(), uncertainty, partners.clone());
                let mixed_logits = model.backbone.fc.forward(mixed.features);
                let loss = add_up_loss(mixed_logits, labels.clone(), partners);
                let logits = model.backbone.fc.forward(pooled).inner();
                Ok(StepOutput {
                    cross_entropy: loss.clone(),
                    auxiliary: loss.zeros_like(),
                    loss,
                    logits,
                    labels: labels.inner(),
                    corrections: 0,
                })
            }
            Method::Eac => unreachable!("EAC always has two views"),
        }
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
