//! The network flags that `afcn predict` and `afcn explain` share, and loading a trained
//! network from them.

use std::path::{Path, PathBuf};

use afcn_backbone::{Arch, HeadStatus, ResNet, ResNetConfig, checkpoint_classes};
use anyhow::bail;
use burn::tensor::backend::Backend;

use crate::{
    backend::BackendKind,
    methods::{MethodConfigs, MethodKind},
    model::{FerModel, HEADS_FILE},
};

/// A trained network to run: its architecture, weights, input side and backend.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
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
    /// The compute backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
}

impl ModelArgs {
    /// Checks the flags and reads the classifier's class count from the weights; `command`
    /// names the subcommand in the error for weights without a classifier.
    pub fn num_classes(&self, command: &str) -> anyhow::Result<usize> {
        if self.size == 0 {
            bail!("--size must be positive");
        }
        match checkpoint_classes(&self.weights)? {
            Some(n) => Ok(n),
            None => bail!(
                "{}: the checkpoint has no classifier (fc.weight); {command} needs a trained head",
                self.weights.display()
            ),
        }
    }

    /// The network with its weights loaded (see [`load_model`]).
    pub fn load<B: Backend>(
        &self,
        num_classes: usize,
        device: &B::Device,
    ) -> anyhow::Result<ResNet<B>> {
        load_model(self.arch, &self.weights, num_classes, device)
    }
}

/// Builds the network and loads the weights; refuses a checkpoint that leaves part of the
/// network uninitialised, and warns about checkpoint tensors it did not use.
pub fn load_model<B: Backend>(
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
    let mut model = FerModel::<B>::new(method, methods, arch, found, size as usize, device);
    model.backbone = load_model(arch, weights, found, device)?;
    if !method.backbone_inference() {
        model = model.load_heads(&weights.with_file_name(HEADS_FILE), device)?;
    }
    Ok(model)
}
