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
    optim::Optimizer,
    record::Recorder,
    tensor::{Tensor, backend::AutodiffBackend},
};
use serde::{Deserialize, Serialize};

use crate::{
    checkpoint::{Checkpoint, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE},
    config::TrainConfig,
    data::{RunData, SharedDataset},
    distributed::{self, DataParallel, RunningStats},
    inference::{self, Prediction},
    metrics::EpochMetrics,
    model::{FerModel, recorder},
    optim::{self, Adamw},
    progress::progress_bar,
    run_dir::RunDir,
    step::Step,
};

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
    /// The run's layout: its processes and the shards of each global batch
    /// ([`DataParallel::solo`] for a run that is not data-parallel).
    parallel: DataParallel,
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

impl<B: AutodiffBackend> Trainer<B> {
    /// A fresh run of `config` on `data`, in one process and one shard (see
    /// [`Trainer::with_parallel`]).
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
            optimizer: optim::optimizer(&config),
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
            parallel: DataParallel::solo(),
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

    /// Trains with the layout `parallel`: this process computes its shards of every global
    /// batch of `batch_size` samples.
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
        distributed::initialize(&parallel, &self.model);
        self.parallel = parallel;
        Ok(self)
    }

    /// The run's layout ([`DataParallel::solo`] unless [`Trainer::with_parallel`] set one).
    pub fn parallel(&self) -> &DataParallel {
        &self.parallel
    }

    /// Whether this process writes the run directory (the only one, or rank 0).
    pub fn is_writer(&self) -> bool {
        self.parallel.is_writer()
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
        // Encoded in memory, then written as plain files.
        let checkpoint = Checkpoint {
            model: Recorder::<B>::record(&recorder(), self.model.clone().into_record(), ())
                .context("encoding the model")?,
            optimizer: Recorder::<B>::record(&recorder(), self.optimizer.to_record(), ())
                .context("encoding the optimizer")?,
            state: serde_json::to_vec(&self.state).context("encoding the trainer state")?,
        };
        run.checkpoint(self.state.next_epoch - 1, |dir| checkpoint.write(dir))
    }

    /// One epoch: the steps over the shuffled training split, then the evaluation; every
    /// process of a data-parallel run runs it, in step with the others.
    fn epoch(&mut self, epoch: usize, run: &RunDir) -> anyhow::Result<EpochMetrics> {
        let start = Instant::now();
        let config = &self.config;
        let lr = config.optim.lr * config.optim.lr_decay.powi(epoch as i32);
        let order = afcn_data::epoch_order(self.data.train.len(), config.seed, epoch);
        let batches: Vec<&[usize]> = order
            .chunks(config.batch_size)
            .filter(|chunk| chunk.len() >= self.parallel.min_batch())
            .collect();
        let bar = progress_bar(batches.len() as u64, &format!("epoch {epoch}"));
        let (mut loss_sum, mut ce_sum, mut aux_sum) = (0.0, 0.0, 0.0);
        let (mut correct, mut clean_correct, mut seen, mut corrections) = (0u64, 0u64, 0u64, 0);
        let mut skipped = 0;
        let parallel = &self.parallel;
        for (b, indices) in batches.iter().enumerate() {
            let interrupted = self
                .interrupt
                .as_ref()
                .is_some_and(|f| f.load(Ordering::SeqCst));
            // Every rank stops at the same batch.
            if parallel.any(interrupted) {
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
            let mut running = RunningStats::begin(parallel, &self.model);
            let out = step.run(
                &self.model,
                &self.data.train,
                indices,
                epoch,
                &self.device,
                &mut running,
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
            parallel.sum(&mut parts);
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
                running.average(&self.model);
                skipped += 1;
                bar.inc(1);
                continue;
            }
            let head_lr = lr * config.method.head_lr_factor(&config.methods);
            let mut grads = out.loss.backward();
            running.reduce(&self.model, &mut grads);
            self.model = optim::update(
                &mut self.optimizer,
                self.model.clone(),
                grads,
                [lr, head_lr],
            );

            let predicted: Vec<i64> = out.logits.argmax(1).into_data().iter::<i64>().collect();
            let clean = clean_labels(&self.state.labels);
            let mine = &indices[parallel.local_span(indices.len())];
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
        let mut counts = [correct, clean_correct, seen].map(|c| c as f64);
        parallel.sum(&mut counts);
        [correct, clean_correct, seen] = counts.map(|c| c as u64);
        let confusion = inference::evaluate_shared(
            &self.model.valid(),
            &self.data.test,
            config.augment.image_size,
            &self.device,
            parallel,
        )?;
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

    /// The model's (inference mode) prediction for every sample of `dataset`.
    pub fn predict(&self, dataset: &SharedDataset) -> anyhow::Result<Vec<Prediction>> {
        inference::predict_split(
            &self.model.valid(),
            dataset,
            self.config.augment.image_size,
            &self.device,
        )
    }
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
