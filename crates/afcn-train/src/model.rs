//! The network a run trains: the backbone, plus the heads its method adds.

use std::path::Path;

use afcn_backbone::{Arch, ResNet, ResNetConfig};
use anyhow::Context;
use burn::{
    module::Module,
    record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder},
    tensor::{Tensor, backend::Backend},
};

use crate::methods::{FeatureShape, MethodConfigs, MethodHeads, MethodKind};

/// A backbone with the heads of one method (the variant of [`MethodHeads`] is the method).
#[derive(Module, Debug)]
pub struct FerModel<B: Backend> {
    /// The ResNet: feature map F and logits z = GAP(F) W^T + b.
    pub backbone: ResNet<B>,
    /// The method's extra modules.
    pub heads: MethodHeads<B>,
}

impl<B: Backend> FerModel<B> {
    /// A freshly initialised model for `method` (configured by `configs`) with inputs of side
    /// `image_size`, which sizes the heads that read the whole feature map.
    pub fn new(
        method: MethodKind,
        configs: &MethodConfigs,
        arch: Arch,
        num_classes: usize,
        image_size: usize,
        device: &B::Device,
    ) -> Self {
        let backbone = ResNetConfig::new()
            .with_arch(arch)
            .with_num_classes(num_classes)
            .init(device);
        let shape = feature_shape(&backbone, image_size);
        Self {
            heads: method.heads(configs, shape, device),
            backbone,
        }
    }

    /// The method's class scores for inference (SCN's importance and RUL's mixing are
    /// training-time devices; RUL classifies its mean branch).
    ///
    /// # Shapes
    /// - `x`: `[N, 3, S, S]`
    /// - output: `[N, C]`
    pub fn logits(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        self.heads.logits(&self.backbone, x)
    }

    /// The method's heads, encoded for [`HEADS_FILE`].
    pub fn heads_bytes(&self) -> anyhow::Result<Vec<u8>> {
        Recorder::<B>::record(&recorder(), self.heads.clone().into_record(), ())
            .context("encoding the method's heads")
    }

    /// Loads the method's heads from `path` (written from [`FerModel::heads_bytes`]).
    pub fn load_heads(mut self, path: &Path, device: &B::Device) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let record = Recorder::<B>::load(&recorder(), bytes, device).with_context(|| {
            format!(
                "{}: not the heads of a {} model",
                path.display(),
                self.heads.kind()
            )
        })?;
        self.heads = self.heads.load_record(record);
        Ok(self)
    }
}

/// The recorder of checkpoints and of the heads file: named MessagePack in memory, full
/// precision (written and read with std, so that I/O errors name their file).
pub fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::new()
}

/// The heads file written beside `model.safetensors` for methods that classify with their own
/// heads ([`MethodKind::backbone_inference`] false).
pub const HEADS_FILE: &str = "heads.mpk";

/// The shape of `backbone`'s last feature map for inputs of side `image_size`.
fn feature_shape<B: Backend>(backbone: &ResNet<B>, image_size: usize) -> FeatureShape {
    let side = backbone.feature_side(image_size);
    FeatureShape {
        channels: backbone.feature_dim(),
        height: side,
        width: side,
        classes: backbone.num_classes(),
    }
}
