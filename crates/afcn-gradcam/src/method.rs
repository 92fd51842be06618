//! What Grad-CAM and Grad-CAM++ share: channel weights from a layer gradient, then the ReLU of
//! the weighted sum of the layer's channels.

use burn::tensor::{Tensor, activation::relu, backend::AutodiffBackend, backend::Backend};

use crate::channel_sum::weighted_channel_sum;
use crate::{CamError, CamTarget, ClassTarget, layer_gradient};

/// A class activation map of a batch: one map per image for its target class.
#[derive(Clone, Debug)]
pub struct Explanation<B: Backend> {
    /// The raw map `ReLU(sum_k w_k A_k)` at the layer's resolution, `[N, h, w]`.
    pub map: Tensor<B, 3>,
    /// The class each map explains.
    pub classes: Vec<usize>,
    /// The model's logits, `[N, C]`.
    pub logits: Tensor<B, 2>,
}

/// A gradient-weighted class activation mapping: how a layer's channels are weighted from the
/// gradient of the class score. The map is `ReLU(sum_k w_k A_k)`.
pub trait CamMethod {
    /// The weight `w_nk` of each channel `k` of each image `n`.
    ///
    /// # Shapes
    /// - `activation`, `gradient`: `[N, K, h, w]`.
    /// - returns `[N, K]`.
    fn channel_weights<B: Backend>(
        &self,
        activation: Tensor<B, 4>,
        gradient: Tensor<B, 4>,
    ) -> Tensor<B, 2>;

    /// The map of `layer` for each image of `input` and its target class.
    ///
    /// # Shapes
    /// - `input`: `[N, ...]` as the model takes it.
    /// - the map is `[N, h, w]` (the layer's resolution; see [`crate::heatmap`] to bring it to
    ///   the input's).
    fn explain<B: AutodiffBackend, M: CamTarget<B>>(
        &self,
        model: &M,
        input: Tensor<B, 4>,
        layer: &str,
        target: &ClassTarget,
    ) -> Result<Explanation<B::InnerBackend>, CamError> {
        let grad = layer_gradient(model, input, layer, target)?;
        let weights = self.channel_weights(grad.activation.clone(), grad.gradient);
        Ok(Explanation {
            map: weighted_map(weights, grad.activation),
            classes: grad.classes,
            logits: grad.logits,
        })
    }
}

/// `ReLU(sum_k weights[n, k] A[n, k])`.
///
/// # Shapes
/// - `weights`: `[N, K]`; `activation`: `[N, K, h, w]`; returns `[N, h, w]`.
pub fn weighted_map<B: Backend>(weights: Tensor<B, 2>, activation: Tensor<B, 4>) -> Tensor<B, 3> {
    let [n, k, h, w] = activation.dims();
    relu(weighted_channel_sum(weights.reshape([n, 1, k]), activation)).reshape([n, h, w])
}
