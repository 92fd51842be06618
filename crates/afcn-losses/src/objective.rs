//! The AFCN objective: certainty, weighted cross-entropy, attention, fusion and fusion
//! consistency, joined as `L = L_wce + lambda L_fc`.
//!
//! The objective is pure: it maps a batch's tensors and labels to a loss and its parts. Label
//! correction, which changes per-sample state, is the caller's: it decides on the mean
//! probabilities of [`Certainty::from_views`], in the epochs of [`AfcnConfig::corrects_in`].

use afcn_certainty::{Certainty, certainty_weights};
use afcn_gradcam::{class_activation_map, class_attention};
use burn::tensor::{Int, Tensor, backend::Backend};

use crate::consistency::FusionConsistency;
use crate::cross_entropy::{cross_entropy_per_sample, weighted_cross_entropy};
use crate::flip::flip_width;
use crate::{AfcnConfig, AfcnLossError};

/// What the network gives for one view of a batch.
#[derive(Debug, Clone)]
pub struct ViewOutput<B: Backend> {
    /// Class scores `z = GAP(F) W^T + b`. Shape `[N, C]`.
    pub logits: Tensor<B, 2>,
    /// The last stage's feature map `F`, before pooling. Shape `[N, K, h, w]`.
    pub features: Tensor<B, 4>,
}

/// The AFCN objective of one training step, with every intermediate of the specification.
#[derive(Debug, Clone)]
pub struct AfcnLoss<B: Backend> {
    /// `L = L_wce + lambda L_fc`, to call `backward` on. Shape `[1]`.
    pub loss: Tensor<B, 1>,
    /// `L_wce`. Shape `[1]`.
    pub weighted_cross_entropy: Tensor<B, 1>,
    /// `L_fc` (0 when consistency is off). Shape `[1]`.
    pub consistency: Tensor<B, 1>,
    /// Mean prediction and certainty of each sample.
    pub certainty: Certainty<B>,
    /// Certainty weights `w_i` (all 1 in warm-up or with weighting off). Shape `[N]`.
    pub weights: Tensor<B, 1>,
    /// Labels the cross-entropy used. Shape `[N]`.
    pub labels: Tensor<B, 1, Int>,
    /// `CE(z1_i, y_i)` of each sample. Shape `[N]`.
    pub cross_entropy: Tensor<B, 1>,
    /// View 1's attention `A_1` (`None` with consistency off). Shape `[N, C, h, w]`.
    pub attention_1: Option<Tensor<B, 4>>,
    /// View 2's attention flipped back, `flip_w(A_2)` (`None` with consistency off).
    /// Shape `[N, C, h, w]`.
    pub attention_2_flipped: Option<Tensor<B, 4>>,
    /// The detached fused map `A_f` (`None` with consistency or fusion off).
    /// Shape `[N, C, h, w]`.
    pub fused: Option<Tensor<B, 4>>,
}

/// The AFCN objective (steps 2 to 7 of the specification in `docs/method.md`) under an
/// [`AfcnConfig`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AfcnObjective {
    config: AfcnConfig,
}

impl AfcnObjective {
    /// The objective for a validated configuration.
    pub fn new(config: AfcnConfig) -> Result<Self, AfcnLossError> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> &AfcnConfig {
        &self.config
    }

    /// Computes the loss of one step in `epoch` (0-based) against `labels`, the batch's
    /// labels after any correction of this step (see the module's documentation).
    ///
    /// In order: the mean prediction and certainty (of both views, or of view 1 alone when
    /// `view_2` is `None`), the certainty weights, the certainty-weighted cross-entropy of
    /// view 1, then, when consistency is on, the class attention of both views (Grad-CAM
    /// closed form from `afcn_gradcam`, or the raw CAM), view 2's flipped back, and the fusion
    /// consistency term. Nothing leaves the device.
    ///
    /// # Shapes
    /// - `view_1.logits`, `view_2.logits`: `[N, C]`
    /// - `view_1.features`, `view_2.features`: `[N, K, h, w]`
    /// - `head_weight`: `[C, K]`, the linear head's weight in `[out, in]` layout (Burn's
    ///   `Linear` stores `[in, out]`: pass `weight.val().transpose()`); detached here
    /// - `labels`: `[N]`, class indices below `C`
    pub fn forward<B: Backend>(
        &self,
        view_1: ViewOutput<B>,
        view_2: Option<ViewOutput<B>>,
        head_weight: Tensor<B, 2>,
        labels: Tensor<B, 1, Int>,
        epoch: usize,
    ) -> Result<AfcnLoss<B>, AfcnLossError> {
        let config = &self.config;
        check_batch(&view_1, view_2.as_ref(), &head_weight, &labels)?;
        if config.consistency && view_2.is_none() {
            return Err(AfcnLossError::MissingSecondView);
        }
        let device = view_1.logits.device();

        let certainty = Certainty::from_views(
            view_1.logits.clone(),
            view_2.as_ref().map(|v| v.logits.clone()),
        );
        let weights = if config.certainty_weighting {
            certainty_weights(certainty.certainty.clone(), config.in_warm_up(epoch))
        } else {
            certainty.certainty.ones_like()
        };
        let label_tensor = labels;

        let cross_entropy = cross_entropy_per_sample(view_1.logits, label_tensor.clone());
        let wce = weighted_cross_entropy(cross_entropy.clone(), weights.clone());

        let (consistency, attention_1, attention_2_flipped, fused) = match view_2 {
            Some(v2) if config.consistency => {
                let attention = |features| {
                    if config.gradcam_attention {
                        class_attention(features, head_weight.clone())
                    } else {
                        class_activation_map(features, head_weight.clone())
                    }
                };
                let a1 = attention(view_1.features);
                let a2_flipped = flip_width(attention(v2.features));
                let term = if config.attention_fusion {
                    FusionConsistency::fused(a1.clone(), a2_flipped.clone(), config.beta)
                } else {
                    FusionConsistency::unfused(a1.clone(), a2_flipped.clone())
                };
                (term.loss, Some(a1), Some(a2_flipped), term.fused)
            }
            _ => (Tensor::zeros([1], &device), None, None, None),
        };
        let loss = if attention_1.is_some() {
            wce.clone() + consistency.clone().mul_scalar(config.lambda)
        } else {
            wce.clone()
        };

        Ok(AfcnLoss {
            loss,
            weighted_cross_entropy: wce,
            consistency,
            certainty,
            weights,
            labels: label_tensor,
            cross_entropy,
            attention_1,
            attention_2_flipped,
            fused,
        })
    }
}

/// Checks that the batch's tensors and labels agree in size.
fn check_batch<B: Backend>(
    view_1: &ViewOutput<B>,
    view_2: Option<&ViewOutput<B>>,
    head_weight: &Tensor<B, 2>,
    labels: &Tensor<B, 1, Int>,
) -> Result<(), AfcnLossError> {
    let mismatch = |what, got: String, expected: String| {
        Err(AfcnLossError::BatchMismatch {
            what,
            got,
            expected,
        })
    };
    let [n, c] = view_1.logits.dims();
    let [fn_, k, _, _] = view_1.features.dims();
    let [labelled] = labels.dims();
    if labelled != n {
        return mismatch("the number of labels", labelled.to_string(), n.to_string());
    }
    if fn_ != n {
        return mismatch(
            "the batch size of view 1's features",
            fn_.to_string(),
            n.to_string(),
        );
    }
    if head_weight.dims() != [c, k] {
        return mismatch(
            "the head weight's shape",
            format!("{:?}", head_weight.dims()),
            format!("[{c}, {k}] ([classes, channels])"),
        );
    }
    if let Some(v2) = view_2 {
        if v2.logits.dims() != [n, c] {
            return mismatch(
                "view 2's logits shape",
                format!("{:?}", v2.logits.dims()),
                format!("{:?}", [n, c]),
            );
        }
        if v2.features.dims() != view_1.features.dims() {
            return mismatch(
                "view 2's feature shape",
                format!("{:?}", v2.features.dims()),
                format!("{:?}", view_1.features.dims()),
            );
        }
    }
    Ok(())
}
