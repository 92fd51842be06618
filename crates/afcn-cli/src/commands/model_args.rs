//! The network flags that `afcn predict` and `afcn explain` share, and loading a trained
//! network from them.

use std::path::{Path, PathBuf};

use afcn_backbone::{Arch, HeadStatus, ResNet, ResNetConfig, checkpoint_classes};
use anyhow::bail;
use burn::tensor::backend::Backend;

use afcn_train::{
    backend::BackendKind,
    config::{Preset, TrainConfig},
    methods::{MethodConfigs, MethodKind},
    model::{FerModel, HEADS_FILE},
};

/// A trained network to run: its architecture, weights, input side and backend, and for a run
/// of `afcn train` its configuration.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// The backbone architecture the weights belong to (default: the config's).
    #[arg(long, required_unless_present = "config")]
    pub arch: Option<Arch>,
    /// The weights: a torchvision state dict (`.pth`, `.pt`, `.safetensors`) or a model saved
    /// by afcn, with a classifier.
    #[arg(long)]
    pub weights: PathBuf,
    /// The run's configuration (its `config.toml`), for weights saved by `afcn train`: its
    /// method classifies (RUL with its heads, read from `heads.mpk` beside the weights), and
    /// its architecture and input side are the defaults of `--arch` and `--size`. Without it
    /// the weights classify as a plain backbone.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Side S of the square network input, in pixels (default: the config's
    /// `augment.image_size`, else 224).
    #[arg(long)]
    pub size: Option<u32>,
    /// The compute backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
}

impl ModelArgs {
    /// The network the flags name: the run's configuration (if any) with the flags applied,
    /// and the class count of the weights' classifier; `command` names the subcommand in the
    /// error for weights without a classifier.
    pub fn network(&self, command: &str) -> anyhow::Result<Network> {
        let config = self
            .config
            .as_deref()
            .map(|path| TrainConfig::from_toml_file(path, &Preset::Synthfer.config()))
            .transpose()?;
        let Some(arch) = self.arch.or(config.as_ref().map(|config| config.arch)) else {
            bail!("--arch is needed without --config");
        };
        let size = self
            .size
            .or(config.as_ref().map(|config| config.augment.image_size))
            .unwrap_or(224);
        if size == 0 {
            bail!("--size must be positive");
        }
        let Some(classes) = checkpoint_classes(&self.weights)? else {
            bail!(
                "{}: the checkpoint has no classifier (fc.weight); {command} needs a trained head",
                self.weights.display()
            );
        };
        let (method, methods) = config.map_or_else(
            || (MethodKind::Baseline, MethodConfigs::default()),
            |config| (config.method, config.methods),
        );
        Ok(Network {
            weights: self.weights.clone(),
            arch,
            size,
            classes,
            method,
            methods,
        })
    }
}

/// A trained network, resolved from [`ModelArgs`].
#[derive(Debug)]
pub struct Network {
    /// The weights.
    pub weights: PathBuf,
    /// The backbone architecture.
    pub arch: Arch,
    /// Side S of the square input.
    pub size: u32,
    /// Outputs of the classifier.
    pub classes: usize,
    /// The method whose class scores are the network's ([`MethodKind::Baseline`]: the
    /// backbone's own classifier).
    pub method: MethodKind,
    /// The method's configuration.
    pub methods: MethodConfigs,
}

impl Network {
    /// The network with its weights (and its method's heads) loaded; the class count was read
    /// from the weights already.
    pub fn load<B: Backend>(&self, device: &B::Device) -> anyhow::Result<FerModel<B>> {
        fer_model(
            &self.weights,
            (self.method, &self.methods),
            self.arch,
            self.classes,
            self.size,
            device,
        )
    }
}

/// Builds the network and loads the weights; refuses a checkpoint that leaves part of the
/// network uninitialised, and warns about checkpoint tensors it did not use.
fn load_model<B: Backend>(
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

/// A trained model of `method` (with its configuration): the backbone `arch` from `weights`,
/// and, for a method that classifies with its own heads, the heads from [`HEADS_FILE`] beside
/// them, at input side `size`.
///
/// # Errors
/// Weights without a classifier, or whose classifier does not have the `classes.0` outputs of
/// the dataset named `classes.1`; weights that do not cover `arch`; missing or foreign heads.
pub fn load_fer_model<B: Backend>(
    weights: &Path,
    (method, methods): (MethodKind, &MethodConfigs),
    arch: Arch,
    (classes, dataset): (usize, &str),
    size: u32,
    device: &B::Device,
) -> anyhow::Result<FerModel<B>> {
    let Some(found) = checkpoint_classes(weights)? else {
        bail!(
            "{}: the checkpoint has no classifier (fc.weight); a trained head is needed",
            weights.display()
        );
    };
    if found != classes {
        bail!(
            "the classifier of {} has {found} outputs but {dataset} has {classes} classes",
            weights.display()
        );
    }
    fer_model(weights, (method, methods), arch, found, size, device)
}

/// The model of `method` with the backbone `arch` (a classifier of `classes` outputs) loaded
/// from `weights` and, for a method that classifies with its own heads, the heads from
/// [`HEADS_FILE`] beside them.
fn fer_model<B: Backend>(
    weights: &Path,
    (method, methods): (MethodKind, &MethodConfigs),
    arch: Arch,
    classes: usize,
    size: u32,
    device: &B::Device,
) -> anyhow::Result<FerModel<B>> {
    let mut model = FerModel::<B>::new(method, methods, arch, classes, size as usize, device);
    model.backbone = load_model(arch, weights, classes, device)?;
    if !method.backbone_inference() {
        model = model.load_heads(&weights.with_file_name(HEADS_FILE), device)?;
    }
    Ok(model)
}
