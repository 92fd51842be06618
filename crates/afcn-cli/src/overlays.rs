//! Grad-CAM overlays of a few test images, written into the run directory: where the trained
//! network looks for the class it predicts.
//!
//! The maps use the closed form of Grad-CAM for the backbone's GAP + linear head
//! ([`afcn_gradcam::class_attention`], equal to the autodiff Grad-CAM at `layer4`), computed in
//! inference mode on the evaluation pixels; they are post-processed as pytorch-grad-cam does
//! ([`afcn_gradcam::heatmap`]) and drawn as a panel: the face, the jet heat map beside it and
//! blended over it, each at least 224 pixels, under the true and predicted class names.

use std::path::Path;

use afcn_backbone::ResNet;
use afcn_certainty::LabelStore;
use afcn_data::{FerDataset, eval_batch};
use afcn_gradcam::{class_attention, heatmap};
use anyhow::{Context, anyhow};
use burn::tensor::backend::Backend;

use crate::plots;
use afcn_train::{inference::Prediction, run_dir::write_atomic};

/// The folder of a run directory that holds the overlays.
pub const OVERLAYS: &str = "overlays";

/// One overlay written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlay {
    /// The file, relative to the run directory (`overlays/<sample>-<true>-<predicted>.png`).
    pub file: String,
    /// The test sample.
    pub sample: usize,
    /// Its clean label.
    pub truth: usize,
    /// The class the network predicts (the one explained).
    pub predicted: usize,
}

/// `count` test samples spread evenly over a split of `len` samples (all when fewer).
pub fn overlay_samples(len: usize, count: usize) -> Vec<usize> {
    let count = count.min(len);
    (0..count).map(|i| i * len / count).collect()
}

/// A class name made safe for a file name: letters, digits, `-` and `_` kept, the rest `_`.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One sample's Grad-CAM heat map, with its labels.
pub(crate) struct Explained {
    /// The clean label.
    pub truth: usize,
    /// The class the network predicts.
    pub predicted: usize,
    /// The heat map, row-major, in `[0, 1]`.
    pub heat: Vec<f32>,
}

/// The Grad-CAM heat map (at side `side`, row-major) of each of `samples` of `dataset` at input
/// side `size`, for the class `classes` gives it (the predicted class for `None`), with the
/// sample's clean label and predicted class.
pub(crate) fn explain_samples<B: Backend>(
    backbone: &ResNet<B>,
    dataset: &dyn FerDataset,
    samples: &[usize],
    classes: &[Option<usize>],
    size: u32,
    side: u32,
) -> anyhow::Result<Vec<Explained>> {
    let device = backbone.head_weight().device();
    let batch = eval_batch::<B, _>(dataset, samples, size, &device)?;
    let features = backbone.features(batch.images);
    let [_, _, h, w] = features.dims();
    let predicted: Vec<i64> = backbone
        .head(features.clone())
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .collect();
    let attention = class_attention(features, backbone.head_weight());
    let side = side as usize;
    let mut explained = Vec::with_capacity(samples.len());
    for (i, (class, annotation)) in classes.iter().zip(&batch.annotations).enumerate() {
        let predicted = predicted[i] as usize;
        let map = attention
            .clone()
            .narrow(0, i, 1)
            .narrow(1, class.unwrap_or(predicted), 1)
            .reshape([1, h, w]);
        let heat: Vec<f32> = heatmap(map, [side, side])
            .into_data()
            .convert::<f32>()
            .to_vec()
            .map_err(|err| anyhow!("reading a heat map back: {err:?}"))?;
        explained.push(Explained {
            truth: annotation.clean_label,
            predicted,
            heat,
        });
    }
    Ok(explained)
}

/// Explains the predicted class of `count` test samples of `dataset` (spread evenly over it)
/// with `backbone` at input side `size`, and writes one panel PNG each into
/// `run_dir/overlays/`.
pub fn write_overlays<B: Backend>(
    backbone: &ResNet<B>,
    dataset: &dyn FerDataset,
    count: usize,
    size: u32,
    run_dir: &Path,
) -> anyhow::Result<Vec<Overlay>> {
    let samples = overlay_samples(dataset.len(), count);
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let dir = run_dir.join(OVERLAYS);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let explained = explain_samples(
        backbone,
        dataset,
        &samples,
        &vec![None; samples.len()],
        size,
        plots::panel_side(size),
    )?;
    let names = dataset.class_names();
    let mut written = Vec::with_capacity(samples.len());
    for (
        &sample,
        Explained {
            truth,
            predicted,
            heat,
        },
    ) in samples.iter().zip(explained)
    {
        let file = format!(
            "{OVERLAYS}/{sample}-{}-{}.png",
            file_safe(&names[truth]),
            file_safe(&names[predicted])
        );
        let caption = format!("true: {}   predicted: {}", names[truth], names[predicted]);
        plots::save_explanation_png(
            &run_dir.join(&file),
            &dataset.image(sample)?,
            &heat,
            &caption,
        )?;
        written.push(Overlay {
            file,
            sample,
            truth,
            predicted,
        });
    }
    Ok(written)
}

/// Panels of `samples` of `dataset`, each explaining the class `picks` gives it, under the
/// caption `caption` makes of its index in `picks`; written as one grid PNG, two to a row, at
/// `run_dir/file`. Returns whether there was anything to draw.
fn write_grid<B: Backend>(
    backbone: &ResNet<B>,
    dataset: &dyn FerDataset,
    picks: &[(usize, usize)],
    caption: impl Fn(usize) -> String,
    size: u32,
    run_dir: &Path,
    file: &str,
) -> anyhow::Result<bool> {
    if picks.is_empty() {
        return Ok(false);
    }
    let samples: Vec<usize> = picks.iter().map(|&(s, _)| s).collect();
    let classes: Vec<Option<usize>> = picks.iter().map(|&(_, c)| Some(c)).collect();
    let side = plots::panel_side(size);
    let explained = explain_samples(backbone, dataset, &samples, &classes, size, side)?;
    let mut panels = Vec::with_capacity(picks.len());
    for (i, ((sample, _), Explained { heat, .. })) in picks.iter().zip(explained).enumerate() {
        panels.push(plots::explanation_image(
            &dataset.image(*sample)?,
            &heat,
            &caption(i),
        )?);
    }
    let png = plots::grid_png(&panels, 2)?.context("a grid of at least one panel")?;
    let dir = run_dir.join(OVERLAYS);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomic(&run_dir.join(file), &png)?;
    Ok(true)
}

/// The grid of the most confidently wrong test images: `overlays/wrong_test.png`.
pub const WRONG_TEST: &str = "overlays/wrong_test.png";
/// The grid of the label corrections that made a label wrong: `overlays/wrong_corrections.png`.
pub const WRONG_CORRECTIONS: &str = "overlays/wrong_corrections.png";

/// Writes [`WRONG_TEST`]: the `count` test images predicted wrong with the highest
/// confidence, each explained for its predicted class; returns them, most confident first.
pub fn write_wrong_test_grid<B: Backend>(
    backbone: &ResNet<B>,
    test: &dyn FerDataset,
    predictions: &[Prediction],
    count: usize,
    size: u32,
    run_dir: &Path,
) -> anyhow::Result<Vec<usize>> {
    let mut wrong: Vec<usize> = (0..predictions.len())
        .filter(|&i| predictions[i].class != predictions[i].truth)
        .collect();
    wrong.sort_by(|&a, &b| {
        predictions[b]
            .confidence
            .total_cmp(&predictions[a].confidence)
    });
    wrong.truncate(count);
    let picks: Vec<(usize, usize)> = wrong.iter().map(|&i| (i, predictions[i].class)).collect();
    let names = test.class_names();
    let caption = |i: usize| {
        let p = &predictions[wrong[i]];
        format!(
            "#{}  true: {}   predicted: {} ({:.0}%)",
            wrong[i],
            names[p.truth],
            names[p.class],
            100.0 * p.confidence
        )
    };
    write_grid(backbone, test, &picks, caption, size, run_dir, WRONG_TEST)?;
    Ok(wrong)
}

/// Writes [`WRONG_CORRECTIONS`] when the clean labels are known: up to `count` training
/// samples whose label the run changed and that end with a wrong label, latest change first,
/// each explained for the label they now have; returns them.
pub fn write_wrong_corrections_grid<B: Backend>(
    backbone: &ResNet<B>,
    train: &dyn FerDataset,
    labels: &LabelStore,
    count: usize,
    size: u32,
    run_dir: &Path,
) -> anyhow::Result<Vec<usize>> {
    let Some(clean) = labels.clean() else {
        return Ok(Vec::new());
    };
    let current = labels.current();
    let mut wrong: Vec<usize> = Vec::new();
    for change in labels.changes().iter().rev() {
        let i = change.sample;
        if current[i] != clean[i] && !wrong.contains(&i) && wrong.len() < count {
            wrong.push(i);
        }
    }
    let picks: Vec<(usize, usize)> = wrong.iter().map(|&i| (i, current[i])).collect();
    let names = train.class_names();
    let given = labels.given();
    let caption = |k: usize| {
        let i = wrong[k];
        format!(
            "#{i}  given: {}   corrected to: {}   clean: {}",
            names[given[i]], names[current[i]], names[clean[i]]
        )
    };
    write_grid(
        backbone,
        train,
        &picks,
        caption,
        size,
        run_dir,
        WRONG_CORRECTIONS,
    )?;
    Ok(wrong)
}

#[cfg(test)]
mod tests {
    use super::*;
    use afcn_backbone::{Arch, ResNetConfig};
    use afcn_data::Split;
    use afcn_gradcam::{CamMethod, ClassTarget, GradCam, SplitForward};
    use afcn_synthfer::{SynthFer, SynthFerConfig};
    use burn::{
        backend::{Autodiff, Flex},
        module::AutodiffModule,
        tensor::Tensor,
    };

    type Ad = Autodiff<Flex>;

    #[test]
    fn overlays_equal_autodiff_grad_cam_of_the_predicted_class() {
        let data = SynthFer::new(
            SynthFerConfig {
                test_size: 4,
                ..SynthFerConfig::default()
            },
            Split::Test,
        )
        .unwrap();
        let size = 64;
        let device = Default::default();
        let model = ResNetConfig::new()
            .with_arch(Arch::ResNetNarrow)
            .with_num_classes(7)
            .init::<Ad>(&device);
        let eval = model.valid();
        let tmp = tempfile::tempdir().unwrap();
        let written = write_overlays(&eval, &data, 2, size, tmp.path()).unwrap();
        assert_eq!(written.iter().map(|o| o.sample).collect::<Vec<_>>(), [0, 2]);
        for o in &written {
            // The reference: Grad-CAM through autodiff (eval-mode features, then the head).
            let batch = eval_batch::<Ad, _>(&data, &[o.sample], size, &device).unwrap();
            let target = SplitForward::new(
                "layer4",
                |x: Tensor<Ad, 4>| Tensor::from_inner(eval.features(x.inner())),
                |features: Tensor<Ad, 4>| model.head(features),
            );
            let explained = GradCam
                .explain(&target, batch.images, "layer4", &ClassTarget::Predicted)
                .unwrap();
            assert_eq!(explained.classes, [o.predicted]);
            assert_eq!(o.truth, data.annotation(o.sample).unwrap().clean_label);
            // Shown at 224 px, the panel's least side.
            let heat: Vec<f32> = heatmap(explained.map, [224, 224])
                .into_data()
                .to_vec()
                .unwrap();
            let names = data.class_names();
            let caption = format!(
                "true: {}   predicted: {}",
                names[o.truth], names[o.predicted]
            );
            let png =
                plots::explanation_png(&data.image(o.sample).unwrap(), &heat, &caption).unwrap();
            let expected = afcn_data::image::load_from_memory(&png).unwrap().to_rgb8();
            let got = afcn_data::image::open(tmp.path().join(&o.file))
                .unwrap()
                .to_rgb8();
            assert_eq!(got.dimensions(), expected.dimensions());
            let worst = got
                .pixels()
                .zip(expected.pixels())
                .flat_map(|(a, b)| (0..3).map(move |c| a[c].abs_diff(b[c])))
                .max()
                .unwrap();
            assert!(worst <= 2, "{}: a pixel differs by {worst}", o.file);
        }
    }

    #[test]
    fn samples_are_spread_evenly_and_capped_by_the_split() {
        assert_eq!(overlay_samples(100, 4), vec![0, 25, 50, 75]);
        assert_eq!(overlay_samples(3, 4), vec![0, 1, 2]);
        assert_eq!(overlay_samples(10, 0), Vec::<usize>::new());
        assert_eq!(overlay_samples(0, 4), Vec::<usize>::new());
    }

    #[test]
    fn class_names_become_safe_file_name_parts() {
        assert_eq!(file_safe("happiness"), "happiness");
        assert_eq!(file_safe("no face/../x"), "no_face____x");
    }
}
