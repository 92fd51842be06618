#![doc = include_str!("../README.md")]

mod arch;
mod block;
mod norm;
mod pickle;
mod resnet;
mod weights;

pub use arch::{Arch, ArchSpec, BlockKind, BottleneckStride, StemPool, UnknownArch};
pub use block::{ResidualBlock, ResidualBlockConfig};
pub use norm::batch_norm;
pub use resnet::{BackboneOutput, ResNet, ResNetConfig, global_average_pool};
pub use weights::{HeadStatus, LoadReport, WeightsError, checkpoint_classes};
