//! What a model exposes to be explained: the activation of a named layer, and the logits
//! computed from that activation.

use burn::tensor::{Tensor, backend::Backend};

use crate::CamError;

/// A model whose forward pass can be split at a named layer, so that Grad-CAM can take the
/// gradient of a class score with respect to that layer's activation.
///
/// Implement it for any Burn model (or a thin wrapper around one): [`activation`] runs the
/// network up to and including the layer, [`logits_from`] runs the rest. The two together
/// must equal the model's forward pass.
///
/// [`activation`]: CamTarget::activation
/// [`logits_from`]: CamTarget::logits_from
///
/// ```
/// use afcn_gradcam::{CamError, CamTarget};
/// use burn::{nn::{Linear, LinearConfig}, tensor::{Tensor, backend::Backend}};
///
/// /// Features are the input itself; the head is GAP then a linear layer.
/// struct Tiny<B: Backend> {
///     fc: Linear<B>,
/// }
///
/// impl<B: Backend> CamTarget<B> for Tiny<B> {
///     fn cam_layers(&self) -> Vec<String> {
///         vec!["input".into()]
///     }
///     fn activation(&self, input: Tensor<B, 4>, layer: &str) -> Result<Tensor<B, 4>, CamError> {
///         self.check_layer(layer)?;
///         Ok(input)
///     }
///     fn logits_from(&self, activation: Tensor<B, 4>, layer: &str) -> Result<Tensor<B, 2>, CamError> {
///         self.check_layer(layer)?;
///         let [n, k, _, _] = activation.dims();
///         Ok(self.fc.forward(activation.mean_dim(3).mean_dim(2).reshape([n, k])))
///     }
/// }
///
/// let device = Default::default();
/// let tiny = Tiny::<burn::backend::Flex> { fc: LinearConfig::new(3, 2).init(&device) };
/// assert!(tiny.activation(Tensor::zeros([1, 3, 4, 4], &device), "layer9").is_err());
/// ```
pub trait CamTarget<B: Backend> {
    /// The names of the layers this model can explain.
    fn cam_layers(&self) -> Vec<String>;

    /// The activation of `layer` for `input`.
    ///
    /// # Shapes
    /// - `input`: whatever the model takes, e.g. `[N, 3, H, W]` images.
    /// - returns `[N, K, h, w]`.
    fn activation(&self, input: Tensor<B, 4>, layer: &str) -> Result<Tensor<B, 4>, CamError>;

    /// The logits computed from the activation of `layer`: the rest of the forward pass.
    ///
    /// # Shapes
    /// - `activation`: `[N, K, h, w]`.
    /// - returns `[N, C]`.
    fn logits_from(&self, activation: Tensor<B, 4>, layer: &str) -> Result<Tensor<B, 2>, CamError>;

    /// `Ok` when `layer` is one of [`cam_layers`](CamTarget::cam_layers), else
    /// [`CamError::UnknownLayer`].
    fn check_layer(&self, layer: &str) -> Result<(), CamError> {
        let available = self.cam_layers();
        if available.iter().any(|name| name == layer) {
            Ok(())
        } else {
            Err(CamError::UnknownLayer {
                layer: layer.to_string(),
                available,
            })
        }
    }
}

/// A [`CamTarget`] made of two closures, for a model split at one layer: `activation` runs the
/// network up to the layer, `head` the rest.
///
/// On an autodiff backend Burn's batch norm runs in training mode (batch statistics). To
/// explain a trained network as it predicts, run the part before the layer on the inner
/// backend (`model.valid()`) and lift its output with `Tensor::from_inner`; only the part
/// after the layer needs autodiff.
///
/// ```
/// use afcn_gradcam::{CamTarget, SplitForward};
/// use burn::{backend::Flex, tensor::Tensor};
///
/// let target = SplitForward::new(
///     "features",
///     |x: Tensor<Flex, 4>| x.exp(),
///     |a: Tensor<Flex, 4>| a.sum_dim(3).sum_dim(2).squeeze_dims(&[2, 3]),
/// );
/// let x = Tensor::<Flex, 4>::zeros([1, 2, 3, 3], &Default::default());
/// let logits = target.logits_from(target.activation(x, "features")?, "features")?;
/// assert_eq!(logits.into_data().to_vec::<f32>().unwrap(), [9.0, 9.0]);
/// # Ok::<(), afcn_gradcam::CamError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SplitForward<F, H> {
    layer: String,
    activation: F,
    head: H,
}

impl<F, H> SplitForward<F, H> {
    /// A model split at the layer named `layer`.
    pub fn new(layer: impl Into<String>, activation: F, head: H) -> Self {
        Self {
            layer: layer.into(),
            activation,
            head,
        }
    }
}

impl<B, F, H> CamTarget<B> for SplitForward<F, H>
where
    B: Backend,
    F: Fn(Tensor<B, 4>) -> Tensor<B, 4>,
    H: Fn(Tensor<B, 4>) -> Tensor<B, 2>,
{
    fn cam_layers(&self) -> Vec<String> {
        vec![self.layer.clone()]
    }

    fn activation(&self, input: Tensor<B, 4>, layer: &str) -> Result<Tensor<B, 4>, CamError> {
        self.check_layer(layer)?;
        Ok((self.activation)(input))
    }

    fn logits_from(&self, activation: Tensor<B, 4>, layer: &str) -> Result<Tensor<B, 2>, CamError> {
        self.check_layer(layer)?;
        Ok((self.head)(activation))
    }
}
