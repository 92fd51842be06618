//! Inference with a trained model: its predictions on a split, and their confusion matrix.

use burn::tensor::{Tensor, backend::Backend};

use crate::{
    data::SharedDataset, distributed::DataParallel, metrics::ConfusionMatrix, model::FerModel,
};

/// Samples scored at once.
pub const EVAL_BATCH: usize = 64;

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

/// The prediction of `model` for the samples `indices` of `dataset`, at input side `size`,
/// scored [`EVAL_BATCH`] at a time.
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

/// The confusion matrix of `model` on `dataset`, at input side `size`, in one process.
pub fn evaluate<B: Backend>(
    model: &FerModel<B>,
    dataset: &SharedDataset,
    size: u32,
    device: &B::Device,
) -> anyhow::Result<ConfusionMatrix> {
    evaluate_shared(model, dataset, size, device, &DataParallel::solo())
}

/// The confusion matrix of `model` on `dataset` over the processes of `parallel`: each
/// predicts its share of the split ([`DataParallel::evaluation_share`]) and the counts are
/// summed over the ranks (collective: every rank calls it). In one process, every sample.
pub fn evaluate_shared<B: Backend>(
    model: &FerModel<B>,
    dataset: &SharedDataset,
    size: u32,
    device: &B::Device,
    parallel: &DataParallel,
) -> anyhow::Result<ConfusionMatrix> {
    let indices = parallel.evaluation_share(dataset.len(), EVAL_BATCH);
    let predictions = predict_samples(model, dataset, &indices, size, device)?;
    let mut confusion = confusion(&predictions, dataset.class_names().len());
    parallel.sum_confusion(&mut confusion);
    Ok(confusion)
}
