//! The network a run trains: the backbone, plus the extra heads that SCN and RUL need.

use afcn_backbone::{Arch, ResNet, ResNetConfig};
use burn::{
    module::Module,
    nn::{Linear, LinearConfig},
    tensor::{Tensor, activation::sigmoid, backend::Backend},
};

use crate::config::Method;

/// A backbone with the method-specific heads (each present only for its method).
#[derive(Module, Debug)]
pub struct FerModel<B: Backend> {
    /// The ResNet: feature map F and logits z = GAP(F) W^T + b.
    pub backbone: ResNet<B>,
    /// SCN's importance branch: alpha = sigmoid(linear(GAP(F))), `K -> 1`.
    pub importance: Option<Linear<B>>,
    /// RUL's log-variance branch on GAP(F), `K -> K`.
    pub log_variance: Option<Linear<B>>,
}

impl<B: Backend> FerModel<B> {
    /// A freshly initialised model for `method`.
    pub fn new(method: Method, arch: Arch, num_classes: usize, device: &B::Device) -> Self {
        let backbone = ResNetConfig::new()
            .with_arch(arch)
            .with_num_classes(num_classes)
            .init(device);
        let k = backbone.feature_dim();
        Self {
            importance: (method == Method::Scn).then(|| LinearConfig::new(k, 1).init(device)),
            log_variance: (method == Method::Rul).then(|| LinearConfig::new(k, k).init(device)),
            backbone,
        }
    }

    /// Logits for inference: the backbone's head for every method (SCN's importance and RUL's
    /// mixing are training-time devices).
    ///
    /// # Shapes
    /// - `x`: `[N, 3, S, S]`
    /// - output: `[N, C]`
    pub fn logits(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        self.backbone.forward(x).logits
    }

    /// SCN's importance of each sample.
    ///
    /// # Shapes
    /// - `pooled`: `[N, K]`
    /// - output: `[N]`
    pub fn importance(&self, pooled: Tensor<B, 2>) -> Option<Tensor<B, 1>> {
        let [n, _] = pooled.dims();
        let head = self.importance.as_ref()?;
        Some(sigmoid(head.forward(pooled)).reshape([n]))
    }
}
