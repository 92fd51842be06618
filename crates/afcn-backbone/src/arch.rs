//! The ResNet architectures afcn knows, selected by name
//! (`--arch resnet18|resnet34|resnet50|resnet50-vggface2|resnet-narrow`).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A ResNet architecture.
///
/// The three torchvision networks keep torchvision's topology exactly (so that its state dicts
/// load key for key); [`Arch::ResNet50VggFace2`] is the VGGFace2 authors' ResNet-50 (the
/// topology of `resnet50_ft_weight.pkl`); [`Arch::ResNetNarrow`] is afcn's own small network
/// for fast CPU runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Arch {
    /// torchvision `resnet18`: basic blocks, depths 2-2-2-2, widths 64-128-256-512 (K = 512).
    #[serde(rename = "resnet18")]
    ResNet18,
    /// torchvision `resnet34`: basic blocks, depths 3-4-6-3, widths 64-128-256-512 (K = 512).
    #[serde(rename = "resnet34")]
    ResNet34,
    /// torchvision `resnet50` (v1.5, stride on the 3x3 convolution): bottleneck blocks,
    /// depths 3-4-6-3, widths 64-128-256-512 with expansion 4 (K = 2048). The architecture of
    /// the specification's protocol.
    #[default]
    #[serde(rename = "resnet50")]
    ResNet50,
    /// The VGGFace2 authors' ResNet-50 (Cao et al. 2018; pretrained on MS-Celeb-1M and
    /// fine-tuned on VGGFace2), the backbone of EAC and of the paper's table: torchvision's
    /// ResNet-50 key names and widths (K = 2048), but the original (Caffe) topology: the
    /// stride of a downsampling bottleneck on its first 1x1 convolution, and a stem max-pool
    /// with padding 0 and ceiling rounding. Its weights are `resnet50_ft_weight.pkl`.
    #[serde(rename = "resnet50-vggface2")]
    ResNet50VggFace2,
    /// A narrow ResNet-18 for fast CPU runs: basic blocks, depths 2-2-2-2, widths
    /// 16-32-64-128 and a 16-channel stem (K = 128); same stem, strides and key names as
    /// torchvision's ResNet-18.
    #[serde(rename = "resnet-narrow")]
    ResNetNarrow,
}

/// The residual block a stage is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Two 3x3 convolutions (torchvision `BasicBlock`, expansion 1).
    Basic,
    /// 1x1, 3x3, 1x1 convolutions (torchvision `Bottleneck`, expansion 4).
    Bottleneck,
}

impl BlockKind {
    /// How many output channels a block has per unit of its stage width.
    pub fn expansion(self) -> usize {
        match self {
            BlockKind::Basic => 1,
            BlockKind::Bottleneck => 4,
        }
    }
}

/// Which convolution of a downsampling bottleneck carries its stride.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BottleneckStride {
    /// The 3x3 convolution (torchvision's ResNet "v1.5").
    Conv3x3,
    /// The first 1x1 convolution (the original ResNet, and Caffe models such as VGGFace2's).
    FirstConv1x1,
}

/// The stem's 3x3, stride-2 max pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StemPool {
    /// Padding 1, floor rounding (torchvision): a side of s becomes `ceil(s / 2)`.
    Padded,
    /// Padding 0, ceiling rounding (Caffe; PyTorch's `MaxPool2d(3, 2, 0, ceil_mode=True)`): a
    /// side of s becomes `ceil((s - 1) / 2)`.
    CeilUnpadded,
}

impl StemPool {
    /// The side of the pooled map for an input side `side`.
    pub fn output_side(self, side: usize) -> usize {
        match self {
            StemPool::Padded => side.div_ceil(2),
            StemPool::CeilUnpadded => side.saturating_sub(1).div_ceil(2),
        }
    }
}

/// The shape of an architecture: what the network is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchSpec {
    /// The residual block of every stage.
    pub block: BlockKind,
    /// Blocks per stage (`layer1` to `layer4`).
    pub depths: [usize; 4],
    /// Width (torchvision's `planes`) of each stage; a block outputs `width * expansion`.
    pub widths: [usize; 4],
    /// Output channels of the 7x7 stem convolution.
    pub stem_channels: usize,
    /// Where a downsampling bottleneck puts its stride (unused by basic blocks).
    pub bottleneck_stride: BottleneckStride,
    /// The stem's max pooling.
    pub stem_pool: StemPool,
}

impl ArchSpec {
    /// Channels K of the last stage's feature map (the input size of the classifier).
    pub fn feature_dim(&self) -> usize {
        self.widths[3] * self.block.expansion()
    }
}

impl Arch {
    /// All architectures, in the order they are documented.
    pub const ALL: [Arch; 5] = [
        Arch::ResNet18,
        Arch::ResNet34,
        Arch::ResNet50,
        Arch::ResNet50VggFace2,
        Arch::ResNetNarrow,
    ];

    /// The name used on the command line, in configuration files and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Arch::ResNet18 => "resnet18",
            Arch::ResNet34 => "resnet34",
            Arch::ResNet50 => "resnet50",
            Arch::ResNet50VggFace2 => "resnet50-vggface2",
            Arch::ResNetNarrow => "resnet-narrow",
        }
    }

    /// The architecture's blocks, depths and widths.
    pub fn spec(self) -> ArchSpec {
        const TORCHVISION_WIDTHS: [usize; 4] = [64, 128, 256, 512];
        let torchvision = |block, depths| ArchSpec {
            block,
            depths,
            widths: TORCHVISION_WIDTHS,
            stem_channels: 64,
            bottleneck_stride: BottleneckStride::Conv3x3,
            stem_pool: StemPool::Padded,
        };
        match self {
            Arch::ResNet18 => torchvision(BlockKind::Basic, [2, 2, 2, 2]),
            Arch::ResNet34 => torchvision(BlockKind::Basic, [3, 4, 6, 3]),
            Arch::ResNet50 => torchvision(BlockKind::Bottleneck, [3, 4, 6, 3]),
            Arch::ResNet50VggFace2 => ArchSpec {
                bottleneck_stride: BottleneckStride::FirstConv1x1,
                stem_pool: StemPool::CeilUnpadded,
                ..torchvision(BlockKind::Bottleneck, [3, 4, 6, 3])
            },
            Arch::ResNetNarrow => ArchSpec {
                widths: [16, 32, 64, 128],
                stem_channels: 16,
                ..torchvision(BlockKind::Basic, [2, 2, 2, 2])
            },
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An architecture name that afcn does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown architecture `{0}`: expected one of resnet18, resnet34, resnet50, resnet50-vggface2, \
     resnet-narrow"
)]
pub struct UnknownArch(pub String);

impl FromStr for Arch {
    type Err = UnknownArch;

    /// Parses the names of [`Arch::name`], ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::ALL
            .into_iter()
            .find(|arch| arch.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownArch(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for arch in Arch::ALL {
            assert_eq!(arch.name().parse::<Arch>(), Ok(arch));
            let json = serde_json::to_string(&arch).expect("serialises");
            assert_eq!(json, format!("\"{}\"", arch.name()));
            assert_eq!(serde_json::from_str::<Arch>(&json).expect("parses"), arch);
        }
        assert_eq!("ResNet50".parse::<Arch>(), Ok(Arch::ResNet50));
    }

    #[test]
    fn an_unknown_name_is_an_error_listing_the_known_ones() {
        let err = "resnet101".parse::<Arch>().unwrap_err().to_string();
        assert!(
            err.contains("resnet101") && err.contains("resnet-narrow"),
            "{err}"
        );
    }

    #[test]
    fn feature_dims_are_torchvision_s() {
        assert_eq!(Arch::ResNet18.spec().feature_dim(), 512);
        assert_eq!(Arch::ResNet34.spec().feature_dim(), 512);
        assert_eq!(Arch::ResNet50.spec().feature_dim(), 2048);
        assert_eq!(Arch::ResNet50VggFace2.spec().feature_dim(), 2048);
        assert_eq!(Arch::ResNetNarrow.spec().feature_dim(), 128);
    }
}
