//! One training step of any method: from a batch to the loss to call `backward` on.
//!
//! A step is five parts: reading and augmenting the batch ([`Step::images`]), one batched
//! forward of all its views through the backbone ([`forward`]), one forward through the
//! method's heads ([`Method::forward`]), the method's relabelling of the batch in the label
//! store, and the method's loss of that same forward ([`Step::loss`] runs the last three).
//! Relabelling happens here, for every method that relabels, after the step's prediction and
//! before the loss that uses the new labels; methods only say when and on which probabilities
//! ([`Method::relabelling`], [`Method::relabel_probabilities`]). The trainer runs all five;
//! `afcn bench` feeds the last three random images, so both time the same code.

use std::ops::Range;

use afcn_certainty::{LabelStore, label_tensor};
use afcn_data::Views;
use burn::tensor::{Tensor, backend::AutodiffBackend};

use crate::{
    config::TrainConfig,
    data::SharedDataset,
    distributed::RunningStats,
    methods::{HeadsVisitor, LossParts, Method, MethodError, RelabelTiming, StepBatch},
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
    /// `epoch`: for each of this process's shards of the batch ([`RunningStats::parallel`];
    /// the whole batch in a run of one shard), [`Step::images`] then [`forward`]; then
    /// [`Step::loss`].
    ///
    /// `indices` is the global batch. In a data-parallel run each shard is read and sent
    /// through the network on its own (its own batch-norm statistics), label correction
    /// decides on the probabilities of the whole global batch (gathered from every rank), and
    /// the shards' losses are weighted by their shares of the global batch and summed. See
    /// [`crate::distributed`].
    pub fn run<B: AutodiffBackend>(
        &mut self,
        model: &FerModel<B>,
        dataset: &SharedDataset,
        indices: &[usize],
        epoch: usize,
        device: &B::Device,
        running: &mut RunningStats,
    ) -> anyhow::Result<StepOutput<B>> {
        let mut shards = Vec::new();
        for range in running.parallel().local_ranges(indices.len()) {
            let images = self.images::<B>(dataset, &indices[range.clone()], epoch, device)?;
            shards.push((forward(model, images), range));
            running.settle(model);
        }
        self.loss(model, shards, indices, epoch, device, running)
    }

    /// Views of each image a step sends through the network: two for the two-view methods
    /// (the image and its mirror), else one.
    pub fn views(&self) -> Views {
        self.config.method.views(&self.config.methods)
    }

    /// Reads and augments the samples `indices` of `dataset`: the network input of a step,
    /// with view 1 of every sample first, then view 2 for two-view methods.
    ///
    /// # Shapes
    /// - output: `[V N, 3, S, S]`, `V` = [`Step::views`] (counted), `N` = `indices.len()`
    pub fn images<B: AutodiffBackend>(
        &self,
        dataset: &SharedDataset,
        indices: &[usize],
        epoch: usize,
        device: &B::Device,
    ) -> anyhow::Result<Tensor<B, 4>> {
        let config = self.config;
        let batch = afcn_data::train_batch::<B, _>(
            dataset.as_ref(),
            indices,
            &config.augment,
            self.views(),
            config.seed,
            epoch,
            device,
        )?;
        Ok(batch.images)
    }

    /// The method's forward, relabelling and loss of one global batch from the backbone's
    /// feature maps on this process's shards of it (see [`forward`]), each with its positions
    /// in the batch; `indices` are the global batch's keys in the label store.
    ///
    /// # Shapes
    /// - each shard's features: `[V n, K, h, w]` for its `n` samples, view 1 of every sample
    ///   first (`V` = [`Step::views`])
    /// - `indices`: the global batch
    ///
    /// # Errors
    /// A shard's features have another number of rows, the model has the heads of another
    /// method than the run's, or the label store refuses a change.
    pub fn loss<B: AutodiffBackend>(
        &mut self,
        model: &FerModel<B>,
        shards: Vec<(Tensor<B, 4>, Range<usize>)>,
        indices: &[usize],
        epoch: usize,
        device: &B::Device,
        running: &mut RunningStats,
    ) -> anyhow::Result<StepOutput<B>> {
        let config = self.config;
        if model.heads.kind() != config.method {
            return Err(MethodError::WrongHeads {
                model: model.heads.kind(),
                run: config.method,
            }
            .into());
        }
        if shards.is_empty() {
            return Err(MethodError::NoShards.into());
        }
        let views = self.views().count();
        let mut batches = Vec::with_capacity(shards.len());
        for (features, range) in shards {
            let (rows, n) = (features.dims()[0], range.len());
            if rows != views * n || range.end > indices.len() {
                return Err(MethodError::Rows {
                    samples: range,
                    batch: indices.len(),
                    rows,
                    views,
                }
                .into());
            }
            let batch = StepBatch {
                features,
                samples: n,
                epoch,
                seed: config.seed,
                indices: indices[range.clone()].to_vec(),
            };
            batches.push((batch, range));
        }
        model.heads.visit(
            &config.methods,
            MethodStep {
                model,
                shards: batches,
                global: indices,
                labels: self.labels,
                device,
                running,
            },
        )
    }
}

/// The method's forward, relabelling and loss of one batch (one shard in one process, this
/// process's shards of a global batch in a data-parallel run), run with the method's static
/// types.
struct MethodStep<'a, B: AutodiffBackend> {
    model: &'a FerModel<B>,
    /// The shards and their positions in the global batch.
    shards: Vec<(StepBatch<B>, Range<usize>)>,
    /// The global batch.
    global: &'a [usize],
    labels: &'a mut LabelStore,
    device: &'a B::Device,
    /// The running statistics of the step, which know the run's layout.
    running: &'a mut RunningStats,
}

impl<B: AutodiffBackend> HeadsVisitor<B> for MethodStep<'_, B> {
    type Output = anyhow::Result<StepOutput<B>>;

    fn visit<M: Method>(self, method: &M, heads: &M::Heads<B>) -> Self::Output {
        let MethodStep {
            model,
            shards,
            global,
            labels,
            device,
            running,
        } = self;
        let epoch = shards[0].0.epoch;
        // One forward of each shard through the method's heads, which both the relabelling and
        // the loss read.
        let mut forwards = Vec::with_capacity(shards.len());
        for (batch, range) in shards {
            let keys = batch.indices.clone();
            forwards.push((method.forward(heads, &model.backbone, batch), keys, range));
            running.settle(model);
        }
        let relabelling = method.relabelling(epoch);
        // A method whose new labels serve later epochs learns from the labels it had.
        let before = match relabelling {
            Some(r) if r.timing == RelabelTiming::LaterSteps => Some(labels.labels_of(global)?),
            _ => None,
        };
        let corrections = match relabelling {
            Some(r) => {
                let probabilities = cat_rows(
                    forwards
                        .iter()
                        .map(|(forward, _, _)| method.relabel_probabilities(forward))
                        .collect(),
                );
                let local = probabilities.into_data().iter::<f32>().collect();
                let classes = labels.num_classes();
                let all = running.parallel().gather_rows(local, global.len(), classes);
                labels.correct(epoch, global, &all, &r.rule)?.len()
            }
            None => 0,
        };
        let mut outputs = Vec::with_capacity(forwards.len());
        for (forward, keys, range) in forwards {
            let trained_on = match &before {
                Some(before) => before[range.clone()].to_vec(),
                None => labels.labels_of(&keys)?,
            };
            let logits = M::predictions(&forward).inner();
            let parts = method.loss(forward, label_tensor::<B>(&trained_on, device))?;
            outputs.push(ShardOutput {
                parts,
                logits,
                trained_on,
                size: range.len(),
            });
        }
        Ok(weighted_sum(outputs, global.len(), corrections))
    }
}

/// The rows of `parts` one under the other (one part as it is).
fn cat_rows<B: burn::tensor::backend::Backend>(mut parts: Vec<Tensor<B, 2>>) -> Tensor<B, 2> {
    match parts.len() {
        1 => parts.remove(0),
        _ => Tensor::cat(parts, 0),
    }
}

/// What one shard's loss gives the step.
struct ShardOutput<B: AutodiffBackend> {
    parts: LossParts<B>,
    /// The method's predictions, detached.
    logits: Tensor<B::InnerBackend, 2>,
    /// The labels the loss was computed against.
    trained_on: Vec<usize>,
    /// Samples in the shard.
    size: usize,
}

/// The step's output from each shard's: the losses weighted by the shards' shares of the
/// global batch of `n` samples and summed (one shard covering the whole batch as it is).
fn weighted_sum<B: AutodiffBackend>(
    outputs: Vec<ShardOutput<B>>,
    n: usize,
    corrections: usize,
) -> StepOutput<B> {
    let mut loss = Vec::new();
    let (mut cross_entropy, mut auxiliary, mut logits) = (Vec::new(), Vec::new(), Vec::new());
    let mut all_trained_on = Vec::new();
    for ShardOutput {
        parts,
        logits: shard_logits,
        trained_on,
        size,
    } in outputs
    {
        let share = size as f64 / n as f64;
        let weigh = |t: Tensor<B, 1>| if size == n { t } else { t.mul_scalar(share) };
        loss.push(weigh(parts.loss));
        cross_entropy.push(weigh(parts.cross_entropy));
        auxiliary.push(weigh(parts.auxiliary));
        logits.push(shard_logits);
        all_trained_on.extend(trained_on);
    }
    let sum = |mut parts: Vec<Tensor<B, 1>>| match parts.len() {
        1 => parts.remove(0),
        _ => Tensor::cat(parts, 0).sum(),
    };
    StepOutput {
        loss: sum(loss),
        cross_entropy: sum(cross_entropy),
        auxiliary: sum(auxiliary),
        logits: cat_rows(logits),
        trained_on: all_trained_on,
        corrections,
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

#[cfg(test)]
mod tests {
    use afcn_backbone::Arch;
    use burn::backend::{Autodiff, Flex};

    use super::*;
    use crate::{
        config::Preset,
        distributed::{DataParallel, RunningStats},
        methods::MethodKind,
    };

    type B = Autodiff<Flex>;

    /// The error of a step of `run` on a model with the heads of `heads`, given one shard of
    /// the 4-sample batch whose network output has `rows` rows.
    fn refusal(run: MethodKind, heads: MethodKind, rows: usize) -> MethodError {
        let mut config = Preset::Synthfer.config();
        config.method = run;
        let device = Default::default();
        let model = FerModel::<B>::new(heads, &config.methods, Arch::ResNetNarrow, 7, 32, &device);
        let mut labels = LabelStore::new(vec![0; 4], 7).unwrap();
        let mut running = RunningStats::begin(&DataParallel::solo(), &model);
        let features = Tensor::<B, 4>::zeros([rows, 8, 1, 1], &device);
        let mut step = Step {
            config: &config,
            labels: &mut labels,
        };
        let result = step.loss(
            &model,
            vec![(features, 0..4)],
            &[0, 1, 2, 3],
            0,
            &device,
            &mut running,
        );
        match result {
            Ok(_) => panic!("a step of {run} on {heads} heads with {rows} rows ran"),
            Err(e) => e.downcast().expect("a method error"),
        }
    }

    #[test]
    fn a_step_refuses_other_heads_and_a_wrong_number_of_rows() {
        assert!(matches!(
            refusal(MethodKind::Afcn, MethodKind::Rul, 8),
            MethodError::WrongHeads {
                model: MethodKind::Rul,
                run: MethodKind::Afcn
            }
        ));
        // AFCN sends both views: 4 samples need 8 rows.
        let rows = refusal(MethodKind::Afcn, MethodKind::Afcn, 4);
        assert!(matches!(
            rows,
            MethodError::Rows {
                rows: 4,
                views: 2,
                ..
            }
        ));
        assert!(
            rows.to_string().contains("2 views of 4 samples need 8"),
            "{rows}"
        );
    }
}
