//! The ResNet family (torchvision topology) for Burn, with PyTorch and safetensors weight
//! import.
//!
//! [`ResNetConfig`] builds ResNet-18, ResNet-34, ResNet-50, the VGGFace2 authors' ResNet-50
//! (the face-pretrained backbone of EAC and the paper) or a narrow ResNet for CPU runs
//! ([`Arch`]); every network returns the last stage's feature map F and the logits
//! z = linear(GAP(F)) ([`BackboneOutput`]), and exposes the classifier's weight for the
//! closed-form attention ([`ResNet::head_weight`]). [`ResNet::load_weights`] imports a
//! torchvision-named state dict (`.pth`, `.pt`, `.pth.tar`, `.safetensors`, or a `.pkl` dict
//! of numpy arrays such as `resnet50_ft_weight.pkl`) and reports what it applied
//! ([`LoadReport`]); [`ResNet::save_safetensors`] writes one back with torchvision's names.
//!
//! ```
//! use afcn_backbone::{Arch, ResNetConfig};
//! use burn::{backend::Flex, tensor::Tensor};
//!
//! let device = Default::default();
//! let model = ResNetConfig::new()
//!     .with_arch(Arch::ResNetNarrow)
//!     .with_num_classes(7)
//!     .init::<Flex>(&device);
//! let out = model.forward(Tensor::zeros([1, 3, 64, 64], &device));
//! assert_eq!(out.features.dims(), [1, 128, 2, 2]);
//! assert_eq!(out.logits.dims(), [1, 7]);
//! assert_eq!(model.head_weight().dims(), [7, 128]);
//! ```

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
