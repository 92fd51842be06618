//! `afcn predict`: classifies face images with a trained network.
//!
//! Each image is resized to S x S (kept as it is when it already has that size), normalised
//! with ImageNet's statistics and classified in eval mode (batch norm with running
//! statistics) by the method's class scores: the backbone's classifier, or for a RUL run
//! (given with `--config`) its mean branch and classifier. Per image it prints the predicted
//! class and the probabilities, or with `--json` one object per line:
//! `{"image", "class", "index", "logits", "probs"}`.

use std::path::{Path, PathBuf};

use afcn_data::{ImageLimits, Location, RAFDB_CLASSES, decode_image, image_to_tensor};
use anyhow::{anyhow, bail};
use burn::tensor::{activation::softmax, backend::AutodiffBackend};

use crate::commands::model_args::{ModelArgs, Network};
use afcn_train::backend::{BackendTask, run_on};

/// Arguments of `afcn predict`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The network.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print one JSON object per image and line instead of text.
    #[arg(long)]
    pub json: bool,
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
    let network = args.model.network("predict")?;
    if let Some(names) = args
        .classes
        .as_ref()
        .filter(|names| names.len() != network.classes)
    {
        bail!(
            "--classes lists {} names but the classifier of {} has {} outputs",
            names.len(),
            network.weights.display(),
            network.classes
        );
    }
    let kind = args.model.backend;
    run_on(kind, Predict { args, network })?
}

/// The class names used when `--classes` is not given.
pub(crate) fn default_names(num_classes: usize) -> Vec<String> {
    if num_classes == RAFDB_CLASSES.len() {
        RAFDB_CLASSES.iter().map(|name| name.to_string()).collect()
    } else {
        (0..num_classes).map(|i| format!("class{i}")).collect()
    }
}

/// The prediction work, run on the chosen backend.
struct Predict {
    args: Args,
    network: Network,
}

impl BackendTask for Predict {
    type Output = anyhow::Result<()>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let Predict { args, network } = self;
        let model = network.load::<B::InnerBackend>(&device)?;
        let names = args
            .classes
            .clone()
            .unwrap_or_else(|| default_names(network.classes));
        for path in &args.images {
            let image = decode_image(path, ImageLimits::default(), &Location::file(path))
                .map_err(|err| anyhow!("cannot read image {err}"))?;
            let x =
                image_to_tensor::<B::InnerBackend>(&image, network.size, &device).unsqueeze::<4>();
            let logits = model.logits(x);
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
