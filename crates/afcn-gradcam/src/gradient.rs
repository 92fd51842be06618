//! The gradient of a class score with respect to a layer's activation, through autodiff.

use burn::tensor::{Int, Tensor, TensorData, backend::AutodiffBackend, backend::Backend};

use crate::{CamError, CamTarget};

/// Which class each image is explained for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ClassTarget {
    /// The class the model predicts for the image (the arg-max of its logits).
    #[default]
    Predicted,
    /// One class per image, in batch order.
    Given(Vec<usize>),
}

/// A layer's activation, the gradient of the target class scores with respect to it, and the
/// logits, all detached from the autodiff graph.
#[derive(Clone, Debug)]
pub struct LayerGradient<B: Backend> {
    /// The activation `A` of the layer, `[N, K, h, w]`.
    pub activation: Tensor<B, 4>,
    /// `dz_{t_n} / dA_n` for each image `n` and its target class `t_n`, `[N, K, h, w]`.
    pub gradient: Tensor<B, 4>,
    /// The logits `z`, `[N, C]`.
    pub logits: Tensor<B, 2>,
    /// The target class `t_n` of each image.
    pub classes: Vec<usize>,
}

/// Runs `model` on `input` split at `layer` and back-propagates the sum over the batch of each
/// image's target class score to the layer's activation (images do not interact, so each
/// image gets the gradient of its own score).
///
/// The result lives on the inner (non-autodiff) backend.
///
/// # Shapes
/// - `input`: `[N, ...]` as the model takes it.
/// - the activation and gradient are `[N, K, h, w]`, the logits `[N, C]`.
pub fn layer_gradient<B: AutodiffBackend, M: CamTarget<B>>(
    model: &M,
    input: Tensor<B, 4>,
    layer: &str,
    target: &ClassTarget,
) -> Result<LayerGradient<B::InnerBackend>, CamError> {
    let activation = model.activation(input, layer)?.detach().require_grad();
    let logits = model.logits_from(activation.clone(), layer)?;
    let [images, num_classes] = logits.dims();
    let classes = match target {
        ClassTarget::Predicted => logits
            .clone()
            .argmax(1)
            .into_data()
            .iter::<i64>()
            .map(|class| class as usize)
            .collect(),
        ClassTarget::Given(classes) => {
            if classes.len() != images {
                return Err(CamError::ClassCount {
                    classes: classes.len(),
                    images,
                });
            }
            if let Some(&class) = classes.iter().find(|&&class| class >= num_classes) {
                return Err(CamError::ClassOutOfRange { class, num_classes });
            }
            classes.clone()
        }
    };
    let indices = Tensor::<B, 2, Int>::from_data(
        TensorData::new(classes.iter().map(|&c| c as i64).collect(), [images, 1]),
        &logits.device(),
    );
    let grads = logits.clone().gather(1, indices).sum().backward();
    let gradient = activation
        .grad(&grads)
        .ok_or_else(|| CamError::NoGradient {
            layer: layer.to_string(),
        })?;
    Ok(LayerGradient {
        activation: activation.inner(),
        gradient,
        logits: logits.inner(),
        classes,
    })
}
