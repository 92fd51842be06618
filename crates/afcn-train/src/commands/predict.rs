//! `afcn predict`: classifies face images with a backbone and its weights.
//!
//! Each image is resized to S x S (kept as it is when it already has that size), normalised
//! with ImageNet's statistics and classified in eval mode (batch norm with running
//! statistics). Per image it prints the predicted class and the probabilities, or with
//! `--json` one object per line: `{"image", "class", "index", "logits", "probs"}`.

use std::path::{Path, PathBuf};

use afcn_backbone::{Arch, HeadStatus, ResNet, ResNetConfig, checkpoint_classes};
use afcn_data::{ImageLimits, Location, RAFDB_CLASSES, decode_image, image_to_tensor};
use anyhow::{anyhow, bail};
use burn::tensor::{activation::softmax, backend::AutodiffBackend};

use crate::backend::{BackendKind, BackendTask, run_on};

/// Arguments of `afcn predict`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backbone architecture the weights belong to.
    #[arg(long)]
    pub arch: Arch,
    /// The weights: a torchvision state dict (`.pth`, `.pt`, `.safetensors`) or a model saved
    /// by afcn, with a classifier.
    #[arg(long)]
    pub weights: PathBuf,
    /// Side S of the square network input, in pixels.
    #[arg(long, default_value_t = 224)]
    pub size: u32,
    /// Print one JSON object per image and line instead of text.
    #[arg(long)]
    pub json: bool,
    /// The compute backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
    /// Class names, comma-separated, in the classifier's order (default: RAF-DB's seven
    /// names for a 7-way classifier, `class0`, `class1`, ... otherwise).
    #[arg(long, value_delimiter = ',')]
    pub classes: Option<Vec<String>>,
    /// The images to classify.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

/// Classifies the images in order and prints one line per image as it goes.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.size == 0 {
        bail!("--size must be positive");
    }
    let found = checkpoint_classes(&args.weights)?;
    let num_classes = match (found, &args.classes) {
        (None, _) => bail!(
            "{}: the checkpoint has no classifier (fc.weight); predict needs a trained head",
            args.weights.display()
        ),
        (Some(n), Some(names)) if names.len() != n => bail!(
            "--classes lists {} names but the classifier of {} has {n} outputs",
            names.len(),
            args.weights.display()
        ),
        (Some(n), _) => n,
    };
    let kind = args.backend;
    run_on(kind, Predict { args, num_classes })?
}

/// The class names used when `--classes` is not given.
fn default_names(num_classes: usize) -> Vec<String> {
    if num_classes == RAFDB_CLASSES.len() {
        RAFDB_CLASSES.iter().map(|name| name.to_string()).collect()
    } else {
        (0..num_classes).map(|i| format!("class{i}")).collect()
    }
}

/// The prediction work, run on the chosen backend.
struct Predict {
    args: Args,
    num_classes: usize,
}

impl BackendTask for Predict {
    type Output = anyhow::Result<()>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let Predict { args, num_classes } = self;
        let model = load_model::<B::InnerBackend>(args.arch, &args.weights, num_classes, &device)?;
        let names = args
            .classes
            .clone()
            .unwrap_or_else(|| default_names(num_classes));
        for path in &args.images {
            let image = decode_image(path, ImageLimits::default(), &Location::file(path))
                .map_err(|err| anyhow!("cannot read image {err}"))?;
            let x = image_to_tensor::<B::InnerBackend>(&image, args.size, &device).unsqueeze::<4>();
            let logits = model.forward(x).logits;
            let probs = softmax(logits.clone(), 1);
            let logits: Vec<f32> = logits.into_data().to_vec().map_err(to_anyhow)?;
            let probs: Vec<f32> = probs.into_data().to_vec().map_err(to_anyhow)?;
            println!(
                "{}",
                format_prediction(path, &names, &logits, &probs, args.json)
            );
        }
        Ok(())
    }
}

/// Burn's tensor-data error (no `std::error::Error` impl) as an anyhow error.
fn to_anyhow(err: burn::tensor::DataError) -> anyhow::Error {
    anyhow!("{err:?}")
}

/// Builds the network and loads the weights; refuses a checkpoint that leaves part of the
/// network uninitialised (also used by `afcn eval`).
pub(crate) fn load_model<B: burn::tensor::backend::Backend>(
    arch: Arch,
    weights: &Path,
    num_classes: usize,
    device: &B::Device,
) -> anyhow::Result<ResNet<B>> {
    let (model, report) = ResNetConfig::new()
        .with_arch(arch)
        .with_num_classes(num_classes)
        .init::<B>(device)
        .load_weights(weights)?;
    if report.head != HeadStatus::Loaded || !report.missing.is_empty() {
        bail!(
            "{}: the checkpoint does not cover the {} network: {report}",
            weights.display(),
            arch
        );
    }
    if !report.unused.is_empty() {
        eprintln!(
            "warning: {}: {} checkpoint tensors unused: {:?}",
            weights.display(),
            report.unused.len(),
            report.unused
        );
    }
    Ok(model)
}

/// One output line: text (`image<TAB>class<TAB>probability<TAB>name=p ...`) or JSON.
fn format_prediction(
    path: &Path,
    names: &[String],
    logits: &[f32],
    probs: &[f32],
    json: bool,
) -> String {
    let index = probs
        .iter()
        .enumerate()
        .fold(0, |best, (i, p)| if *p > probs[best] { i } else { best });
    if json {
        serde_json::json!({
            "image": path.display().to_string(),
            "class": names[index],
            "index": index,
            "logits": logits,
            "probs": probs,
        })
        .to_string()
    } else {
        let all = names
            .iter()
            .zip(probs)
            .map(|(name, p)| format!("{name}={p:.4}"))
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "{}\t{}\t{:.4}\t{all}",
            path.display(),
            names[index],
            probs[index]
        )
    }
}
