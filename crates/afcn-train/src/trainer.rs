//! The training loop: epochs of steps, evaluation on the clean test split, metrics, and a
//! checkpoint after every epoch.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use afcn_certainty::LabelStore;
use anyhow::Context;
use burn::{
    module::{AutodiffModule, Module},
    optim::{
        Adam, AdamConfig, GradientsParams, Optimizer, adaptor::OptimizerAdaptor,
        decay::WeightDecayConfig,
    },
    record::Recorder,
    tensor::{Tensor, backend::AutodiffBackend, backend::Backend},
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::{
    config::TrainConfig,
    data::{RunData, SharedDataset},
    distributed::{DataParallel, RunningStats},
    metrics::{ConfusionMatrix, EpochMetrics},
    model::{FerModel, recorder},
    run_dir::RunDir,
    step::Step,
};

/// Batches scored at once during evaluation.
const EVAL_BATCH: usize = 64;

/// The trainer's state between epochs (saved in every checkpoint beside the model).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainerState {
    /// The first epoch still to train.
    pub next_epoch: usize,
    /// The metrics of the epochs trained so far.
    pub history: Vec<EpochMetrics>,
    /// The label store: current labels and every change so far.
    pub labels: LabelStore,
}

/// The optimizer of a run: Adam with L2 weight decay.
pub type Adamw<B> = OptimizerAdaptor<Adam, FerModel<B>, B>;

/// A run in progress: model, optimizer, labels and the data it trains on.
pub struct Trainer<B: AutodiffBackend> {
    config: TrainConfig,
    device: B::Device,
    model: FerModel<B>,
    optimizer: Adamw<B>,
    data: RunData,
    state: TrainerState,
    class_names: Vec<String>,
    interrupt: Option<Arc<AtomicBool>>,
    /// The layout of a data-parallel run (`None`: one process, one shard).
    parallel: Option<DataParallel>,
}

/// A run stopped by an interrupt (Ctrl-C) at a batch boundary; its last checkpoint is kept.
#[derive(Debug, thiserror::Error)]
#[error(
    "interrupted in epoch {epoch}, batch {batch}: the run keeps its checkpoint after {epoch} \
     epoch(s) and loses the epoch in progress; continue with `afcn train --resume {dir}`"
)]
pub struct Interrupted {
    /// The epoch in progress (0-based), which is also the number of epochs completed and
    /// checkpointed.
    pub epoch: usize,
    /// The batch at whose start the interrupt was seen.
    pub batch: usize,
    /// The run directory.
    pub dir: String,
}

/// The model's record in a checkpoint (named MessagePack, full precision).
const MODEL_FILE: &str = "model.mpk";
/// The optimizer's record in a checkpoint.
const OPTIMIZER_FILE: &str = "optimizer.mpk";
/// The trainer state in a checkpoint (JSON).
const STATE_FILE: &str = "state.json";

/// The bytes of a checkpoint file.
fn read_record(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The files of a checkpoint directory, as read (rank 0 reads them and sends them to the
/// other ranks of a data-parallel run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The model's record.
    pub model: Vec<u8>,
    /// The optimizer's record.
    pub optimizer: Vec<u8>,
    /// The trainer state (JSON).
    pub state: Vec<u8>,
}

impl Checkpoint {
    /// Reads the checkpoint directory `dir`.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            model: read_record(&dir.join(MODEL_FILE))?,
            optimizer: read_record(&dir.join(OPTIMIZER_FILE))?,
            state: read_record(&dir.join(STATE_FILE))?,
        })
    }
}

impl<B: AutodiffBackend> Trainer<B> {
    /// A fresh run of `config` on `data`.
    pub fn new(config: TrainConfig, data: RunData, device: B::Device) -> anyhow::Result<Self> {
        let class_names = data.train.class_names().to_vec();
        B::seed(&device, config.seed);
        let mut model = FerModel::new(
            config.method,
            &config.methods,
            config.arch,
            class_names.len(),
            config.augment.image_size as usize,
            &device,
        );
        if let Some(weights) = &config.weights {
            let (backbone, report) = model
                .backbone
                .load_weights(weights)
                .with_context(|| format!("loading {}", weights.display()))?;
            eprintln!("weights {}: {report}", weights.display());
            model.backbone = backbone;
        }
        let labels = label_store(&data.train)?;
        Ok(Self {
            optimizer: optimizer(&config),
            state: TrainerState {
                next_epoch: 0,
                history: Vec::new(),
                labels,
            },
            class_names,
            config,
            device,
            model,
            data,
            interrupt: None,
            parallel: None,
        })
    }

    /// Continues from the checkpoint directory `dir`.
    pub fn resume(self, dir: &Path) -> anyhow::Result<Self> {
        self.restore(Checkpoint::read(dir)?)
            .with_context(|| format!("restoring the checkpoint {}", dir.display()))
    }

    /// Continues from `checkpoint`.
    pub fn restore(mut self, checkpoint: Checkpoint) -> anyhow::Result<Self> {
        self.state = serde_json::from_slice(&checkpoint.state)
            .with_context(|| format!("parsing {STATE_FILE}"))?;
        let model = Recorder::<B>::load(&recorder(), checkpoint.model, &self.device)
            .with_context(|| format!("decoding {MODEL_FILE}"))?;
        // Burn 0.21 decodes a record's tensors as requiring a gradient, and a running state
        // (batch norm's statistics) moves its value with a recorded operation on load: each
        // step's update of the statistics would then extend an autodiff graph that is never
        // freed, and every step after a resume would be slower than the last (epochs of 10 s
        // took 65 s five epochs after a resume). The round trip through the inner module keeps
        // the parameters' `require_grad` and makes every tensor a leaf again.
        self.model = FerModel::from_inner(self.model.load_record(model).valid());
        let optimizer = Recorder::<B>::load(&recorder(), checkpoint.optimizer, &self.device)
            .with_context(|| format!("decoding {OPTIMIZER_FILE}"))?;
        self.optimizer = self.optimizer.load_record(optimizer);
        Ok(self)
    }

    /// Trains data-parallel with the layout `parallel`: this process computes its shards of
    /// every global batch of `batch_size` samples.
    ///
    /// # Errors
    /// The global batch leaves a shard fewer than 2 samples.
    pub fn with_parallel(mut self, parallel: DataParallel) -> anyhow::Result<Self> {
        anyhow::ensure!(
            self.config.batch_size >= parallel.min_batch(),
            "batch_size {} is the global batch of {} shards ({} rank(s) x {} shard(s) each) and \
             leaves a shard fewer than 2 samples: use a batch of at least {}",
            self.config.batch_size,
            parallel.shards(),
            parallel.ranks(),
            parallel.shards_per_process(),
            parallel.min_batch()
        );
        crate::distributed::initialize(&self.model);
        self.parallel = Some(parallel);
        Ok(self)
    }

    /// The layout of a data-parallel run (`None` for one process, one shard).
    pub fn parallel(&self) -> Option<&DataParallel> {
        self.parallel.as_ref()
    }

    /// Whether this process writes the run directory (the only one, or rank 0).
    pub fn is_writer(&self) -> bool {
        self.parallel.as_ref().is_none_or(DataParallel::is_writer)
    }

    /// Stops training at the next batch boundary once `flag` is set (by a signal handler),
    /// with an [`Interrupted`] error; the checkpoint of the last complete epoch is kept.
    pub fn with_interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(flag);
        self
    }

    /// The run's configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The class names.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The metrics of the epochs trained so far.
    pub fn history(&self) -> &[EpochMetrics] {
        &self.state.history
    }

    /// The label store.
    pub fn labels(&self) -> &LabelStore {
        &self.state.labels
    }

    /// The model.
    pub fn model(&self) -> &FerModel<B> {
        &self.model
    }

    /// The run's data.
    pub fn data(&self) -> &RunData {
        &self.data
    }

    /// Trains the remaining epochs, writing a checkpoint and calling `after_epoch` after each
    /// (on the writing process only, see [`Trainer::is_writer`]).
    pub fn train(
        &mut self,
        run: &RunDir,
        mut after_epoch: impl FnMut(&Self) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        while self.state.next_epoch < self.config.epochs {
            let metrics = self.epoch(self.state.next_epoch, run)?;
            self.state.history.push(metrics);
            self.state.next_epoch += 1;
            if !self.is_writer() {
                continue;
            }
            let metrics = &self.state.history[self.state.history.len() - 1];
            eprintln!(
                "epoch {:>3}: loss {:.4}  train {:.2}%  test {:.2}%  corrections {}",
                metrics.epoch,
                metrics.loss,
                100.0 * metrics.train_accuracy,
                100.0 * metrics.test_accuracy,
                metrics.corrections
            );
            self.save_checkpoint(run)?;
            after_epoch(self)?;
        }
        Ok(())
    }

    /// Writes the checkpoint of the epochs done so far.
    fn save_checkpoint(&self, run: &RunDir) -> anyhow::Result<()> {
        // Encoded in memory, then written as plain files: a failed write (a full disk) is
        // reported with its path and the operating system's error.
        let model = Recorder::<B>::record(&recorder(), self.model.clone().into_record(), ())
            .context("encoding the model")?;
        let optimizer = Recorder::<B>::record(&recorder(), self.optimizer.to_record(), ())
            .context("encoding the optimizer")?;
        let state = serde_json::to_vec(&self.state).context("encoding the trainer state")?;
        run.checkpoint(self.state.next_epoch - 1, |dir| {
            for (name, bytes) in [
                (MODEL_FILE, &model),
                (OPTIMIZER_FILE, &optimizer),
                (STATE_FILE, &state),
            ] {
                let path = dir.join(name);
                std::fs::write(&path, bytes)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(())
        })
    }

    /// One epoch: the steps over the shuffled training split, then the evaluation.
    fn epoch(&mut self, epoch: usize, run: &RunDir) -> anyhow::Result<EpochMetrics> {
        let start = Instant::now();
        let config = &self.config;
        let lr = config.optim.lr * config.optim.lr_decay.powi(epoch as i32);
        let order = afcn_data::epoch_order(self.data.train.len(), config.seed, epoch);
        let batches: Vec<&[usize]> = order
            .chunks(config.batch_size)
            .filter(|chunk| chunk.len() >= self.parallel.as_ref().map_or(2, |p| p.min_batch()))
            .collect();
        let bar = progress_bar(batches.len() as u64, &format!("epoch {epoch}"));
        let (mut loss_sum, mut ce_sum, mut aux_sum) = (0.0, 0.0, 0.0);
        let (mut correct, mut clean_correct, mut seen, mut corrections) = (0u64, 0u64, 0u64, 0);
        let mut skipped = 0;
        let parallel = self.parallel.as_ref();
        for (b, indices) in batches.iter().enumerate() {
            let interrupted = self
                .interrupt
                .as_ref()
                .is_some_and(|f| f.load(Ordering::SeqCst));
            // Every rank stops at the same batch.
            if parallel.map_or(interrupted, |p| p.any(interrupted)) {
                bar.finish_and_clear();
                return Err(Interrupted {
                    epoch,
                    batch: b,
                    dir: run.path().display().to_string(),
                }
                .into());
            }
            let mut step = Step {
                config,
                labels: &mut self.state.labels,
            };
            let mut running = parallel.map(|p| RunningStats::begin(p, &self.model));
            let out = step.run(
                &self.model,
                &self.data.train,
                indices,
                epoch,
                &self.device,
                running.as_mut(),
            )?;
            // Two reads from the device per step: the loss and its parts here (the finite
            // check must come before the update), the predictions after it.
            let mut parts: Vec<f64> = Tensor::cat(
                vec![
                    out.loss.clone().inner(),
                    out.cross_entropy.inner(),
                    out.auxiliary.inner(),
                ],
                0,
            )
            .into_data()
            .iter::<f32>()
            .map(f64::from)
            .collect();
            // The global batch's loss: every rank sees the same, and decides the same.
            if let Some(p) = parallel {
                p.sum(&mut parts);
            }
            let [loss, cross_entropy, auxiliary] = parts[..] else {
                anyhow::bail!("a step's loss, cross-entropy and auxiliary term are 3 scalars")
            };
            if !loss.is_finite() {
                anyhow::ensure!(
                    config.skip_nonfinite,
                    "the loss is {loss} in epoch {epoch}, batch {b} (samples {indices:?}); \
                     the last good checkpoint is kept (`skip_nonfinite = true` skips such \
                     batches instead)"
                );
                // The shards' forward passes moved the running statistics: every rank keeps
                // their mean, as after a step.
                if let (Some(p), Some(running)) = (parallel, running) {
                    p.average_running(&self.model, running);
                }
                skipped += 1;
                bar.inc(1);
                continue;
            }
            let head_lr = lr * config.method.head_lr_factor(&config.methods);
            let mut grads = out.loss.backward();
            if let (Some(p), Some(running)) = (parallel, running) {
                p.reduce(&self.model, &mut grads, running);
            }
            self.model = update(
                &mut self.optimizer,
                self.model.clone(),
                grads,
                [lr, head_lr],
            );

            let predicted: Vec<i64> = out.logits.argmax(1).into_data().iter::<i64>().collect();
            let clean = clean_labels(&self.state.labels);
            let mine = &indices[parallel.map_or(0..indices.len(), |p| p.local_span(indices.len()))];
            for ((&p, &i), &label) in predicted.iter().zip(mine).zip(&out.trained_on) {
                correct += u64::from(p as usize == label);
                clean_correct += u64::from(p as usize == clean[i]);
            }
            seen += mine.len() as u64;
            loss_sum += loss;
            ce_sum += cross_entropy;
            aux_sum += auxiliary;
            corrections += out.corrections;
            bar.set_message(format!("loss {:.4}", loss_sum / (b + 1) as f64));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let confusion = match parallel {
            None => self.evaluate(&self.data.test)?,
            Some(p) => {
                let mut counts = [correct, clean_correct, seen].map(|c| c as f64);
                p.sum(&mut counts);
                [correct, clean_correct, seen] = counts.map(|c| c as u64);
                p.evaluate(
                    &self.model.valid(),
                    &self.data.test,
                    config.augment.image_size,
                    EVAL_BATCH,
                    &self.device,
                )?
            }
        };
        let steps = (batches.len() - skipped).max(1) as f64;
        let quality = self.state.labels.quality();
        let current = self.state.labels.current();
        let noisy = current
            .iter()
            .zip(clean_labels(&self.state.labels))
            .filter(|(a, b)| a != b)
            .count();
        Ok(EpochMetrics {
            epoch,
            lr,
            loss: loss_sum / steps,
            cross_entropy: ce_sum / steps,
            auxiliary: aux_sum / steps,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            train_clean_accuracy: clean_correct as f64 / seen.max(1) as f64,
            test_accuracy: confusion.accuracy(),
            test_mean_class_accuracy: confusion.mean_class_accuracy(),
            corrections,
            skipped_batches: skipped,
            correction_precision: quality.as_ref().and_then(|q| q.precision()),
            correction_recall: quality.as_ref().and_then(|q| q.recall()),
            label_noise: noisy as f64 / current.len().max(1) as f64,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// The confusion matrix of the model (in inference mode) on `dataset`.
    pub fn evaluate(&self, dataset: &SharedDataset) -> anyhow::Result<ConfusionMatrix> {
        evaluate(
            &self.model.valid(),
            dataset,
            self.config.augment.image_size,
            &self.device,
        )
    }

    /// The model's (inference mode) prediction for every sample of `dataset`.
    pub fn predict(&self, dataset: &SharedDataset) -> anyhow::Result<Vec<Prediction>> {
        predict_split(
            &self.model.valid(),
            dataset,
            self.config.augment.image_size,
            &self.device,
        )
    }
}

/// The model's prediction for one sample of a split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// The sample's clean label.
    pub truth: usize,
    /// The predicted class.
    pub class: usize,
    /// Its softmax probability.
    pub confidence: f32,
}

/// The prediction of `model` for every sample of `dataset`, at input side `size`.
pub fn predict_split<B: Backend>(
    model: &FerModel<B>,
    dataset: &SharedDataset,
    size: u32,
    device: &B::Device,
) -> anyhow::Result<Vec<Prediction>> {
    let indices: Vec<usize> = (0..dataset.len()).collect();
    predict_samples(model, dataset, &indices, size, device)
}

/// The prediction of `model` for the samples `indices` of `dataset`, at input side `size`.
pub fn predict_samples<B: Backend>(
    model: &FerModel<B>,
    dataset: &SharedDataset,
    indices: &[usize],
    size: u32,
    device: &B::Device,
) -> anyhow::Result<Vec<Prediction>> {
    let mut predictions = Vec::with_capacity(indices.len());
    for chunk in indices.chunks(EVAL_BATCH) {
        let batch = afcn_data::eval_batch::<B, _>(dataset.as_ref(), chunk, size, device)?;
        let probabilities = burn::tensor::activation::softmax(model.logits(batch.images), 1);
        let (confidence, class) = probabilities.max_dim_with_indices(1);
        // One read of both: [N, 2] as floats (class indices are small integers).
        let both: Vec<f32> = Tensor::cat(vec![confidence, class.float()], 1)
            .into_data()
            .convert::<f32>()
            .iter::<f32>()
            .collect();
        for (annotation, pair) in batch.annotations.iter().zip(both.chunks(2)) {
            predictions.push(Prediction {
                truth: annotation.clean_label,
                class: pair[1] as usize,
                confidence: pair[0],
            });
        }
    }
    Ok(predictions)
}

/// The confusion matrix of predictions over `classes` classes.
pub fn confusion(predictions: &[Prediction], classes: usize) -> ConfusionMatrix {
    let mut confusion = ConfusionMatrix::new(classes);
    for p in predictions {
        confusion.add(p.truth, p.class);
    }
    confusion
}

/// The confusion matrix of `model` on `dataset`, at input side `size`.
pub fn evaluate<B: Backend>(
    model: &FerModel<B>,
    dataset: &SharedDataset,
    size: u32,
    device: &B::Device,
) -> anyhow::Result<ConfusionMatrix> {
    let predictions = predict_split(model, dataset, size, device)?;
    Ok(confusion(&predictions, dataset.class_names().len()))
}

/// The label store of a training split: its given labels, with the clean labels beside them.
fn label_store(train: &SharedDataset) -> anyhow::Result<LabelStore> {
    let mut given = Vec::with_capacity(train.len());
    let mut clean = Vec::with_capacity(train.len());
    for index in 0..train.len() {
        let annotation = train.annotation(index)?;
        given.push(annotation.label);
        clean.push(annotation.clean_label);
    }
    Ok(LabelStore::new(given, train.class_names().len())?.with_clean_labels(clean)?)
}

/// The clean labels of a store built by [`label_store`] (which always adds them; the given
/// labels stand in for a store without them).
fn clean_labels(store: &LabelStore) -> &[usize] {
    store.clean().unwrap_or(store.given())
}

/// One Adam update of `model` from `grads`: the backbone at learning rate `lr[0]`, the
/// method's heads at `lr[1]` (one step each, on disjoint parameters, when they differ).
pub fn update<B: AutodiffBackend>(
    optimizer: &mut Adamw<B>,
    model: FerModel<B>,
    mut grads: B::Gradients,
    [lr, head_lr]: [f64; 2],
) -> FerModel<B> {
    if head_lr == lr {
        let grads = GradientsParams::from_grads(grads, &model);
        return optimizer.step(lr, model, grads);
    }
    let heads = GradientsParams::from_module(&mut grads, &model.heads);
    let rest = GradientsParams::from_grads(grads, &model);
    let model = optimizer.step(lr, model, rest);
    optimizer.step(head_lr, model, heads)
}

/// The optimizer `config` asks for (the learning rate is given at each step).
pub fn optimizer<B: AutodiffBackend>(config: &TrainConfig) -> Adamw<B> {
    AdamConfig::new()
        .with_weight_decay(Some(WeightDecayConfig::new(
            config.optim.weight_decay as f32,
        )))
        .init()
}

/// A progress bar on standard error (hidden when it is not a terminal).
pub fn progress_bar(len: u64, prefix: &str) -> ProgressBar {
    let bar = ProgressBar::new(len).with_prefix(prefix.to_owned());
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}
