//! The ResNet backbone: the last stage's feature map F and the logits z = linear(GAP(F)).

use burn::{
    config::Config,
    module::Module,
    nn::{
        BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d, Relu,
        conv::Conv2d,
        pool::{MaxPool2d, MaxPool2dConfig},
    },
    tensor::{Tensor, backend::Backend},
};

use crate::{
    arch::{Arch, ArchSpec, StemPool},
    block::{ResidualBlock, ResidualBlockConfig, conv},
    norm::batch_norm,
};

/// Global average pooling of a feature map: the mean over its spatial positions, GAP(F).
///
/// # Shapes
/// - `features`: `[N, K, h, w]`
/// - output: `[N, K]`
pub fn global_average_pool<B: Backend>(features: Tensor<B, 4>) -> Tensor<B, 2> {
    let [n, k, h, w] = features.dims();
    features.reshape([n, k, h * w]).mean_dim(2).reshape([n, k])
}

/// Configuration of a [`ResNet`].
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// The architecture (`resnet18`, `resnet34`, `resnet50`, `resnet50-vggface2`,
    /// `resnet-narrow`). Default: `resnet50`, the specification's backbone.
    #[config(default = "Arch::ResNet50")]
    pub arch: Arch,
    /// Number of classes C of the classifier. Default: 7 (RAF-DB's basic expressions).
    #[config(default = 7)]
    pub num_classes: usize,
    /// Stage widths replacing the architecture's (the stem gets the first one), for a
    /// reduced-width network of the same topology and key names, as in small test files.
    /// Default: none, the architecture's own widths.
    #[config(default = "None")]
    pub widths: Option<[usize; 4]>,
}

/// What the backbone computes for a batch.
#[derive(Debug, Clone)]
pub struct BackboneOutput<B: Backend> {
    /// The last stage's feature map F (output of `layer4`), `[N, K, h, w]`.
    pub features: Tensor<B, 4>,
    /// The logits z = GAP(F) W^T + b, `[N, C]`.
    pub logits: Tensor<B, 2>,
}

/// A ResNet with torchvision's topology and parameter names (`conv1`, `bn1`,
/// `layer1.0.conv1`, `layer2.0.downsample.0`, `fc`, ...).
///
/// Batch norm follows Burn's convention: on an autodiff backend (`B::ad_enabled`) it
/// normalises with batch statistics and updates the running ones (torchvision's `train()`);
/// on an inner backend, for example after [`burn::module::AutodiffModule::valid`], it uses
/// the running statistics (torchvision's `eval()`).
#[derive(Module, Debug)]
pub struct ResNet<B: Backend> {
    /// Stem convolution, 7x7, stride 2.
    pub conv1: Conv2d<B>,
    /// Stem batch norm.
    pub bn1: BatchNorm<B>,
    /// The activation.
    pub relu: Relu,
    /// Stem max pooling, 3x3, stride 2.
    pub maxpool: MaxPool2d,
    /// Stage 1 (stride 1).
    pub layer1: Vec<ResidualBlock<B>>,
    /// Stage 2 (stride 2).
    pub layer2: Vec<ResidualBlock<B>>,
    /// Stage 3 (stride 2).
    pub layer3: Vec<ResidualBlock<B>>,
    /// Stage 4 (stride 2); its output is the feature map F.
    pub layer4: Vec<ResidualBlock<B>>,
    /// The classifier on the globally average-pooled features. Burn stores its weight as
    /// `[K, C]` (input by output), the transpose of PyTorch's; see [`ResNet::head_weight`].
    pub fc: Linear<B>,
    /// The architecture this network was built as.
    pub arch: Arch,
}

impl ResNetConfig {
    /// Initialises a network with torchvision's initialisation (Kaiming-normal convolutions,
    /// unit batch norms, the default linear layer).
    pub fn init<B: Backend>(&self, device: &B::Device) -> ResNet<B> {
        let spec = self.spec();
        let mut in_channels = spec.stem_channels;
        let mut stages = [0, 1, 2, 3].map(|stage| {
            let blocks = (0..spec.depths[stage])
                .map(|index| {
                    let config = ResidualBlockConfig {
                        kind: spec.block,
                        in_channels,
                        width: spec.widths[stage],
                        stride: if stage > 0 && index == 0 { 2 } else { 1 },
                        bottleneck_stride: spec.bottleneck_stride,
                    };
                    in_channels = config.out_channels();
                    config.init(device)
                })
                .collect::<Vec<_>>();
            Some(blocks)
        });
        let mut take = |stage: usize| stages[stage].take().unwrap_or_default();
        ResNet {
            conv1: conv(3, spec.stem_channels, 7, 2, device),
            bn1: BatchNormConfig::new(spec.stem_channels).init(device),
            relu: Relu::new(),
            maxpool: stem_pool(spec.stem_pool),
            layer1: take(0),
            layer2: take(1),
            layer3: take(2),
            layer4: take(3),
            fc: LinearConfig::new(spec.feature_dim(), self.num_classes).init(device),
            arch: self.arch,
        }
    }
}

impl ResNetConfig {
    /// The shape of the network this configuration builds: the architecture's, with
    /// [`ResNetConfig::widths`] when set.
    pub fn spec(&self) -> ArchSpec {
        let spec = self.arch.spec();
        match self.widths {
            Some(widths) => ArchSpec {
                widths,
                stem_channels: widths[0],
                ..spec
            },
            None => spec,
        }
    }
}

/// The stem's 3x3, stride-2 max pooling.
fn stem_pool(pool: StemPool) -> MaxPool2d {
    let config = MaxPool2dConfig::new([3, 3]).with_strides([2, 2]);
    match pool {
        StemPool::Padded => config.with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
        StemPool::CeilUnpadded => config.with_ceil_mode(true),
    }
    .init()
}

impl<B: Backend> ResNet<B> {
    /// The backbone's forward pass: the feature map F and the logits z = linear(GAP(F)).
    ///
    /// # Shapes
    /// - `x`: `[N, 3, H, W]` (ImageNet-normalised RGB)
    /// - `features`: `[N, K, h, w]`, `h = feature_side(H)` (`ceil(H / 32)` for torchvision's
    ///   topology)
    /// - `logits`: `[N, C]`
    pub fn forward(&self, x: Tensor<B, 4>) -> BackboneOutput<B> {
        let features = self.features(x);
        let logits = self.head(features.clone());
        BackboneOutput { features, logits }
    }

    /// The feature extractor alone: stem and the four stages, up to the output of `layer4`.
    ///
    /// # Shapes
    /// - `x`: `[N, 3, H, W]`
    /// - output: `[N, K, h, w]`, `h = feature_side(H)`
    pub fn features(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = self
            .relu
            .forward(batch_norm(&self.bn1, self.conv1.forward(x)));
        let x = self.maxpool.forward(x);
        [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
            .into_iter()
            .flatten()
            .fold(x, |x, block| block.forward(x))
    }

    /// The side of the feature map F for inputs of side `input_side`: the stem convolution,
    /// the stem pooling ([`StemPool::output_side`]) and three stages each halve it, rounding
    /// up; `ceil(input_side / 32)` for torchvision's topology.
    pub fn feature_side(&self, input_side: usize) -> usize {
        let pooled = self
            .arch
            .spec()
            .stem_pool
            .output_side(input_side.div_ceil(2));
        pooled.div_ceil(8)
    }

    /// The head alone: global average pooling then the linear classifier, z = GAP(F) W^T + b.
    ///
    /// # Shapes
    /// - `features`: `[N, K, h, w]`
    /// - output: `[N, C]`
    pub fn head(&self, features: Tensor<B, 4>) -> Tensor<B, 2> {
        self.fc.forward(global_average_pool(features))
    }

    /// The classifier's weight W in the paper's orientation, one row per class: `[C, K]`
    /// (PyTorch's orientation; Burn's `Linear` stores the transpose `[K, C]`). It is the
    /// parameter itself, not detached: call `.detach()` for a closed-form attention target.
    ///
    /// # Shapes
    /// - output: `[C, K]`
    pub fn head_weight(&self) -> Tensor<B, 2> {
        self.fc.weight.val().transpose()
    }

    /// The classifier's bias b, when it has one.
    ///
    /// # Shapes
    /// - output: `[C]`
    pub fn head_bias(&self) -> Option<Tensor<B, 1>> {
        self.fc.bias.as_ref().map(|bias| bias.val())
    }

    /// Number of classes C.
    pub fn num_classes(&self) -> usize {
        self.fc.weight.dims()[1]
    }

    /// Channels K of the feature map.
    pub fn feature_dim(&self) -> usize {
        self.fc.weight.dims()[0]
    }

    /// The configuration that rebuilds this network's shape.
    pub fn config(&self) -> ResNetConfig {
        let stages = [&self.layer1, &self.layer2, &self.layer3, &self.layer4];
        let widths = stages.map(|blocks| blocks.first().map_or(0, |b| b.bn1.gamma.dims()[0]));
        ResNetConfig::new()
            .with_arch(self.arch)
            .with_num_classes(self.num_classes())
            .with_widths((widths != self.arch.spec().widths).then_some(widths))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};

    type B = Flex;

    #[test]
    fn shapes_follow_torchvision_for_every_arch() {
        let device = Default::default();
        for arch in Arch::ALL {
            let model = ResNetConfig::new()
                .with_arch(arch)
                .with_num_classes(5)
                .init::<B>(&device);
            let out = model.forward(Tensor::zeros([1, 3, 33, 33], &device));
            let k = arch.spec().feature_dim();
            let side = if arch == Arch::ResNet50VggFace2 { 1 } else { 2 };
            assert_eq!(out.features.dims(), [1, k, side, side], "{arch}");
            for side in [32, 33, 64, 66, 112, 224] {
                let map = model.features(Tensor::zeros([1, 3, side, side], &device));
                let want = model.feature_side(side);
                assert_eq!(map.dims()[2..], [want, want], "{arch} at {side}");
            }
            assert_eq!(out.logits.dims(), [1, 5], "{arch}");
            assert_eq!(model.head_weight().dims(), [5, k], "{arch}");
            assert_eq!(model.config().arch, arch);
            assert_eq!(model.config().widths, None);
        }
    }

    #[test]
    fn head_is_linear_on_the_average_pooled_features() {
        let device = Default::default();
        let model = ResNetConfig::new()
            .with_arch(Arch::ResNetNarrow)
            .with_num_classes(3)
            .init::<B>(&device);
        let features = Tensor::<B, 4>::random(
            [2, 128, 2, 3],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let logits = model.head(features.clone());
        let pooled = features.mean_dim(3).mean_dim(2).reshape([2, 128]);
        let expected = pooled.matmul(model.head_weight().transpose())
            + model.head_bias().expect("fc has a bias").unsqueeze::<2>();
        logits.into_data().assert_approx_eq::<f32>(
            &expected.into_data(),
            burn::tensor::Tolerance::rel_abs(1e-5, 1e-6),
        );
    }

    #[test]
    fn batch_norm_uses_batch_statistics_only_under_autodiff() {
        use burn::module::AutodiffModule;
        let device = Default::default();
        let model = ResNetConfig::new()
            .with_arch(Arch::ResNetNarrow)
            .init::<Autodiff<B>>(&device);
        let x = Tensor::<Autodiff<B>, 4>::random(
            [2, 3, 16, 16],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        // Eval mode: fresh running statistics (mean 0, variance 1) leave the input as it is,
        // up to 1 / sqrt(1 + eps).
        let valid = model.valid();
        let conv = valid.conv1.forward(x.clone().inner());
        let eval = batch_norm(&valid.bn1, conv.clone());
        eval.into_data().assert_approx_eq::<f32>(
            &conv.into_data(),
            burn::tensor::Tolerance::rel_abs(1e-4, 1e-5),
        );
        // Train mode (which also updates the running statistics): every channel of the stem's batch norm output has batch mean 0.
        let train = batch_norm(&model.bn1, model.conv1.forward(x.clone()));
        let channel_means = train.swap_dims(0, 1).reshape([16, -1]).mean_dim(1);
        let worst: f32 = channel_means.abs().max().into_scalar();
        assert!(worst < 1e-4, "train-mode channel mean {worst}");
    }
}
