//! The two-view mean probabilities of every training sample: in-sample from a trained model,
//! or out-of-sample by K-fold cross-training, each fold trained by the [`Trainer`] with the
//! run's configuration on the other folds and scoring its own samples.
//!
//! A fold's work lives in `folds/fold-<k>/` of the audit directory, a run directory of its
//! own: an interrupted audit resumes each fold from its latest checkpoint, and a fold whose
//! `probabilities.json` exists is not trained again.

use std::{path::Path, sync::Arc};

use afcn_certainty::Certainty;
use afcn_data::{Annotation, FerDataset, Split, image::RgbImage};
use afcn_losses::flip_width;
use anyhow::Context;
use burn::{
    module::AutodiffModule,
    tensor::backend::{AutodiffBackend, Backend},
};
use indicatif::ProgressBar;
use rand::{SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;

use afcn_train::{
    config::TrainConfig,
    data::{RunData, load_options, open_split},
    model::FerModel,
    progress::progress_bar,
    run_dir::{RunDir, write_atomic},
    trainer::Trainer,
};

/// Images scored per forward pass.
const BATCH: usize = 64;

/// The mean of the softmax of `model` over each image and its mirror, for `samples` of
/// `dataset` at input side `size` (the evaluation transform, as training's two views without
/// the augmentation); one row of class probabilities per sample, in the order of `samples`.
pub fn two_view_probabilities<B: Backend>(
    model: &FerModel<B>,
    dataset: &dyn FerDataset,
    samples: &[usize],
    size: u32,
    device: &B::Device,
    bar: &ProgressBar,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let classes = dataset.num_classes();
    let mut rows = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(BATCH) {
        let batch = afcn_data::eval_batch::<B, _>(dataset, chunk, size, device)?;
        let mirrored = flip_width(batch.images.clone());
        let p = Certainty::from_two_views(model.logits(batch.images), model.logits(mirrored))
            .mean_probabilities;
        let values: Vec<f32> = p.into_data().convert::<f32>().iter::<f32>().collect();
        rows.extend(values.chunks(classes).map(<[f32]>::to_vec));
        bar.inc(chunk.len() as u64);
    }
    Ok(rows)
}

/// Some samples of another dataset, renumbered from 0.
pub struct Subset {
    inner: Arc<dyn FerDataset>,
    indices: Vec<usize>,
}

impl Subset {
    /// The samples `indices` of `inner`, in that order.
    pub fn new(inner: Arc<dyn FerDataset>, indices: Vec<usize>) -> Self {
        Self { inner, indices }
    }

    fn at(&self, index: usize) -> afcn_data::Result<usize> {
        afcn_data::check_index(index, self.indices.len())?;
        Ok(self.indices[index])
    }
}

impl FerDataset for Subset {
    fn class_names(&self) -> &[String] {
        self.inner.class_names()
    }
    fn len(&self) -> usize {
        self.indices.len()
    }
    fn annotation(&self, index: usize) -> afcn_data::Result<Annotation> {
        self.inner.annotation(self.at(index)?)
    }
    fn image(&self, index: usize) -> afcn_data::Result<RgbImage> {
        self.inner.image(self.at(index)?)
    }
    fn name(&self, index: usize) -> afcn_data::Result<String> {
        self.inner.name(self.at(index)?)
    }
}

/// The fold (in `0..folds`) of each sample: within each given class, a seeded shuffle dealt
/// round-robin, so that every fold holds about the same share of every class.
pub fn fold_of(labels: &[usize], folds: usize, seed: u64) -> Vec<usize> {
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xa0d1_7f01d5);
    let mut fold = vec![0; labels.len()];
    let mut next = 0;
    for class in 0..classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        members.shuffle(&mut rng);
        for i in members {
            fold[i] = next % folds;
            next += 1;
        }
    }
    fold
}

/// The file of a finished fold: its held-out samples and their probabilities.
const FOLD_PROBABILITIES: &str = "probabilities.json";

/// Out-of-sample probabilities of every sample of `train` (its given labels are the ones the
/// folds train on): `folds` trainings of `config`, each on the other folds, in `dir/fold-<k>`.
pub fn cross_validated<B: AutodiffBackend>(
    config: &TrainConfig,
    train: Arc<dyn FerDataset>,
    folds: usize,
    dir: &Path,
    device: &B::Device,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let given: Vec<usize> = train.annotations()?.iter().map(|a| a.label).collect();
    let fold = fold_of(&given, folds, config.seed);
    let mut rows: Vec<Vec<f32>> = vec![Vec::new(); train.len()];
    for k in 0..folds {
        let held: Vec<usize> = (0..train.len()).filter(|&i| fold[i] == k).collect();
        let rest: Vec<usize> = (0..train.len()).filter(|&i| fold[i] != k).collect();
        let run = RunDir::create(&dir.join(format!("fold-{k}")))?;
        let done = run.join(FOLD_PROBABILITIES);
        let probabilities: Vec<(usize, Vec<f32>)> = if done.exists() {
            let text = std::fs::read_to_string(&done)
                .with_context(|| format!("reading {}", done.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {}", done.display()))?
        } else {
            eprintln!(
                "fold {}/{folds}: training on {} samples, scoring {}",
                k + 1,
                rest.len(),
                held.len()
            );
            let data = RunData {
                train: Box::new(Subset::new(Arc::clone(&train), rest)),
                test: open_split(&config.data, Split::Test, &load_options(&config.data))?,
                noise: None,
            };
            let mut trainer = Trainer::<B>::new(config.clone(), data, device.clone())?;
            if let Some(checkpoint) = run.latest_checkpoint()? {
                eprintln!("resuming fold {} from {}", k + 1, checkpoint.display());
                trainer = trainer.resume(&checkpoint)?;
            }
            trainer.train(&run, |_| Ok(()))?;
            let bar = progress_bar(held.len() as u64, &format!("fold {}", k + 1));
            let model = trainer.model().valid();
            let size = config.augment.image_size;
            let p = two_view_probabilities(&model, train.as_ref(), &held, size, device, &bar)?;
            bar.finish_and_clear();
            let pairs: Vec<(usize, Vec<f32>)> = held.iter().copied().zip(p).collect();
            write_atomic(&done, &serde_json::to_vec(&pairs)?)?;
            pairs
        };
        for (i, p) in probabilities {
            anyhow::ensure!(
                i < rows.len() && fold[i] == k,
                "{}: sample {i} is not in fold {k}; remove {} to train the fold again",
                done.display(),
                run.path().display()
            );
            rows[i] = p;
        }
    }
    anyhow::ensure!(
        rows.iter().all(|r| !r.is_empty()),
        "some samples have no out-of-sample probabilities: remove {} and audit again",
        dir.display()
    );
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified_and_seeded() {
        let labels: Vec<usize> = (0..60).map(|i| i % 3).collect();
        let fold = fold_of(&labels, 4, 7);
        assert_eq!(fold, fold_of(&labels, 4, 7));
        assert_ne!(fold, fold_of(&labels, 4, 8));
        for k in 0..4 {
            let members: Vec<usize> = (0..60).filter(|&i| fold[i] == k).collect();
            assert_eq!(members.len(), 15);
            for class in 0..3 {
                let n = members.iter().filter(|&&i| labels[i] == class).count();
                assert!((4..=6).contains(&n), "fold {k} class {class}: {n}");
            }
        }
    }
}
