//! The residual blocks of torchvision's ResNets: `BasicBlock` and `Bottleneck` (v1.5, or the
//! original with the stride on its first 1x1 convolution).

use burn::{
    module::{Initializer, Module},
    nn::{
        BatchNorm, BatchNormConfig, PaddingConfig2d, Relu,
        conv::{Conv2d, Conv2dConfig},
    },
    tensor::{Tensor, backend::Backend},
};

use crate::{
    arch::{BlockKind, BottleneckStride},
    norm::batch_norm,
};

/// A residual block, basic or bottleneck, with torchvision's field (and so key) names.
///
/// - basic: `conv1` (3x3, stride) `bn1` ReLU `conv2` (3x3) `bn2`, plus the shortcut, ReLU;
/// - bottleneck: `conv1` (1x1) `bn1` ReLU `conv2` (3x3, stride) `bn2` ReLU `conv3` (1x1)
///   `bn3`, plus the shortcut, ReLU; with [`BottleneckStride::FirstConv1x1`] the stride moves
///   to `conv1`.
///
/// The shortcut is the identity, or `downsample` = (1x1 convolution with the block's stride,
/// batch norm) when the block changes the resolution or the channel count; as a tuple it is
/// stored under torchvision's keys `downsample.0` and `downsample.1`.
#[derive(Module, Debug)]
pub struct ResidualBlock<B: Backend> {
    /// First convolution (3x3 with the block's stride in a basic block, 1x1 in a bottleneck,
    /// strided there only with [`BottleneckStride::FirstConv1x1`]).
    pub conv1: Conv2d<B>,
    /// Batch norm after `conv1`.
    pub bn1: BatchNorm<B>,
    /// Second convolution (3x3; carries the bottleneck's stride with
    /// [`BottleneckStride::Conv3x3`]).
    pub conv2: Conv2d<B>,
    /// Batch norm after `conv2`.
    pub bn2: BatchNorm<B>,
    /// Third convolution (1x1 expansion), bottleneck blocks only.
    pub conv3: Option<Conv2d<B>>,
    /// Batch norm after `conv3`, bottleneck blocks only.
    pub bn3: Option<BatchNorm<B>>,
    /// Projection shortcut (1x1 convolution, batch norm), when the shape changes.
    pub downsample: Option<(Conv2d<B>, BatchNorm<B>)>,
    /// The activation.
    pub relu: Relu,
}

/// Builds a [`ResidualBlock`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResidualBlockConfig {
    /// Basic or bottleneck.
    pub kind: BlockKind,
    /// Input channels.
    pub in_channels: usize,
    /// torchvision's `planes`: the block outputs `width * kind.expansion()` channels.
    pub width: usize,
    /// Stride of the block (1, or 2 at the first block of stages 2 to 4).
    pub stride: usize,
    /// Which convolution of a bottleneck carries the stride (basic blocks ignore it).
    pub bottleneck_stride: BottleneckStride,
}

impl ResidualBlockConfig {
    /// Output channels of the block.
    pub fn out_channels(&self) -> usize {
        self.width * self.kind.expansion()
    }

    /// Initialises the block: convolutions with torchvision's Kaiming-normal (fan out, ReLU
    /// gain), batch norms with weight 1 and bias 0.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ResidualBlock<B> {
        let out = self.out_channels();
        let (conv1, conv2, conv3) = match self.kind {
            BlockKind::Basic => (
                conv(self.in_channels, self.width, 3, self.stride, device),
                conv(self.width, self.width, 3, 1, device),
                None,
            ),
            BlockKind::Bottleneck => {
                let (first, middle) = match self.bottleneck_stride {
                    BottleneckStride::Conv3x3 => (1, self.stride),
                    BottleneckStride::FirstConv1x1 => (self.stride, 1),
                };
                (
                    conv(self.in_channels, self.width, 1, first, device),
                    conv(self.width, self.width, 3, middle, device),
                    Some(conv(self.width, out, 1, 1, device)),
                )
            }
        };
        let downsample = (self.stride != 1 || self.in_channels != out).then(|| {
            (
                conv(self.in_channels, out, 1, self.stride, device),
                BatchNormConfig::new(out).init(device),
            )
        });
        ResidualBlock {
            conv1,
            bn1: BatchNormConfig::new(self.width).init(device),
            conv2,
            bn2: BatchNormConfig::new(self.width).init(device),
            bn3: conv3
                .as_ref()
                .map(|_| BatchNormConfig::new(out).init(device)),
            conv3,
            downsample,
            relu: Relu::new(),
        }
    }
}

/// A bias-free square convolution with torchvision's padding (`kernel / 2`) and
/// initialisation (`kaiming_normal_(mode="fan_out", nonlinearity="relu")`).
pub(crate) fn conv<B: Backend>(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    device: &B::Device,
) -> Conv2d<B> {
    Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            kernel / 2,
            kernel / 2,
            kernel / 2,
            kernel / 2,
        ))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        })
        .init(device)
}

impl<B: Backend> ResidualBlock<B> {
    /// Applies the block. Batch norm uses batch statistics when `B` is an autodiff backend and
    /// the running statistics otherwise (Burn's `B::ad_enabled` convention).
    ///
    /// # Shapes
    /// - `x`: `[N, in_channels, H, W]`
    /// - output: `[N, width * expansion, H / stride, W / stride]`
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let shortcut = match &self.downsample {
            Some((conv, bn)) => batch_norm(bn, conv.forward(x.clone())),
            None => x.clone(),
        };
        let y = self
            .relu
            .forward(batch_norm(&self.bn1, self.conv1.forward(x)));
        let mut y = batch_norm(&self.bn2, self.conv2.forward(y));
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            y = batch_norm(bn3, conv3.forward(self.relu.forward(y)));
        }
        self.relu.forward(y + shortcut)
    }
}
