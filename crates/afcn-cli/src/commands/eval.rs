//! `afcn eval`: the accuracy, mean class accuracy and confusion matrix of a backbone and its
//! weights on a dataset's test split (clean labels).
//!
//! The images go through the evaluation transform the trainer uses (resize to S x S,
//! ImageNet normalisation) and the network runs in inference mode. With `--config` a run's
//! `config.toml` supplies the dataset (SynthFER's generator settings included) and the input
//! side, so that `afcn eval --config RUN/config.toml --weights RUN/model.safetensors` scores a
//! run exactly as its report does; the flags override it.

use std::path::PathBuf;

use afcn_backbone::Arch;
use afcn_data::Split;
use anyhow::{Context, bail};
use burn::tensor::backend::AutodiffBackend;
use serde_json::json;

use crate::commands::model_args::load_fer_model;
use afcn_train::{
    backend::{BackendKind, BackendTask, run_on},
    config::{DataConfig, DatasetKind, Preset, TrainConfig},
    data::{load_options, open_split},
    inference::evaluate,
    methods::{MethodConfigs, MethodKind},
    metrics::ConfusionMatrix,
};

/// Arguments of `afcn eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backbone architecture the weights belong to (default: the config's, else
    /// `resnet18`).
    #[arg(long)]
    pub arch: Option<Arch>,
    /// The weights with a classifier: a model saved by `afcn train` (`model.safetensors`) or a
    /// torchvision state dict (`.pth`, `.pt`, `.safetensors`).
    #[arg(long)]
    pub weights: PathBuf,
    /// A training configuration (a run's `config.toml`): its dataset, architecture and input
    /// side are the defaults of the flags below.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The dataset (default: the config's, else `synthfer`).
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetKind>,
    /// The dataset's root directory (every dataset but `synthfer` needs one).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Classes of FERPlus or AffectNet: 7 or 8 (default: the config's, else 7).
    #[arg(long)]
    pub classes: Option<usize>,
    /// Side S of the square network input, in pixels (default: the config's
    /// `augment.image_size`, else 224); use the side the network was trained at.
    #[arg(long)]
    pub size: Option<u32>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// The compute backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
}

/// What `afcn eval` scores: the data, the network's shape and the input side.
#[derive(Debug)]
struct Plan {
    data: DataConfig,
    arch: Arch,
    size: u32,
    /// The run's method: one that classifies with its own heads loads them from
    /// [`afcn_train::model::HEADS_FILE`] beside the weights.
    method: MethodKind,
    methods: MethodConfigs,
}

impl Args {
    /// The dataset, architecture and input side: the config (if any) with the flags applied.
    fn plan(&self) -> anyhow::Result<Plan> {
        // Without a run's config, the weights are scored as a plain backbone.
        let mut method = (MethodKind::Baseline, MethodConfigs::default());
        let (mut data, mut arch, mut size) = match &self.config {
            Some(path) => {
                let config = TrainConfig::from_toml_file(path, &Preset::Synthfer.config())?;
                method = (config.method, config.methods);
                (config.data, config.arch, config.augment.image_size)
            }
            None => (DataConfig::default(), Arch::ResNet18, 224),
        };
        if let Some(dataset) = self.dataset {
            data.dataset = dataset;
        }
        if let Some(root) = &self.root {
            data.root = Some(root.clone());
        }
        if let Some(classes) = self.classes {
            data.classes = classes;
        }
        arch = self.arch.unwrap_or(arch);
        size = self.size.unwrap_or(size);
        if size == 0 {
            bail!("--size must be positive");
        }
        if !matches!(data.classes, 7 | 8) {
            bail!(
                "--classes {} is out of range: expected 7 or 8",
                data.classes
            );
        }
        Ok(Plan {
            data,
            arch,
            size,
            method: method.0,
            methods: method.1,
        })
    }
}

/// Scores the weights on the test split and prints the result.
pub fn run(args: Args) -> anyhow::Result<()> {
    let plan = args.plan()?;
    let kind = args.backend;
    let (confusion, classes) = run_on(kind, Eval { args: &args, plan })??;
    println!("{}", format_result(&confusion, &classes, args.json));
    Ok(())
}

/// The evaluation, run on the chosen backend.
struct Eval<'a> {
    args: &'a Args,
    plan: Plan,
}

impl BackendTask for Eval<'_> {
    type Output = anyhow::Result<(ConfusionMatrix, Vec<String>)>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let Eval { args, plan } = self;
        let test = open_split(&plan.data, Split::Test, &load_options(&plan.data))
            .with_context(|| format!("opening the test split of {}", plan.data.dataset))?;
        let classes = test.class_names().to_vec();
        let model = load_fer_model::<B::InnerBackend>(
            &args.weights,
            (plan.method, &plan.methods),
            plan.arch,
            (classes.len(), &plan.data.dataset.to_string()),
            plan.size,
            &device,
        )?;
        let confusion = evaluate(&model, &test, plan.size, &device)?;
        Ok((confusion, classes))
    }
}

/// The result as text (accuracies and a markdown confusion matrix) or one JSON object.
fn format_result(confusion: &ConfusionMatrix, classes: &[String], json: bool) -> String {
    if json {
        json!({
            "samples": confusion.total(),
            "accuracy": confusion.accuracy(),
            "mean_class_accuracy": confusion.mean_class_accuracy(),
            "classes": classes,
            "class_accuracy": confusion.class_accuracies(),
            "counts": confusion.counts,
        })
        .to_string()
    } else {
        format!(
            "samples: {}\naccuracy: {:.2}%\nmean class accuracy: {:.2}%\n\n{}",
            confusion.total(),
            100.0 * confusion.accuracy(),
            100.0 * confusion.mean_class_accuracy(),
            confusion.to_markdown(classes)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix() -> (ConfusionMatrix, Vec<String>) {
        let mut m = ConfusionMatrix::new(2);
        for (t, p) in [(0, 0), (0, 0), (0, 1), (1, 1)] {
            m.add(t, p);
        }
        (m, vec!["calm".into(), "angry".into()])
    }

    #[test]
    fn text_output_gives_both_accuracies_and_the_matrix() {
        let (m, names) = matrix();
        let text = format_result(&m, &names, false);
        assert!(text.contains("samples: 4\n"), "{text}");
        assert!(text.contains("accuracy: 75.00%"), "{text}");
        // (2/3 + 1) / 2
        assert!(text.contains("mean class accuracy: 83.33%"), "{text}");
        assert!(text.contains("| calm | 2 | 1 |"), "{text}");
    }

    #[test]
    fn json_output_is_one_object_with_the_counts() {
        let (m, names) = matrix();
        let value: serde_json::Value =
            serde_json::from_str(&format_result(&m, &names, true)).unwrap();
        assert_eq!(value["accuracy"], 0.75);
        assert_eq!(value["counts"], json!([[2, 1], [0, 1]]));
        assert_eq!(value["classes"], json!(["calm", "angry"]));
    }
}
