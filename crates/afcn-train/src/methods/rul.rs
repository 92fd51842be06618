//! RUL (Zhang et al., "Relative Uncertainty Learning for Facial Expression Recognition"), as
//! its official code: a mean and a log-variance branch on the last feature map, features of
//! each sample mixed with a random partner's by relative uncertainty, the add-up loss, and
//! inference from the mean branch.

use afcn_backbone::ResNet;
use afcn_certainty::InvalidField;
use afcn_data::Views;
use afcn_losses::{add_up_loss, mix_features, relative_uncertainty};
use burn::{
    module::Module,
    nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig},
    tensor::{Int, Tensor, TensorData, backend::AutodiffBackend, backend::Backend},
};
use rand::{SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Classifier, FeatureShape, LossParts, Method, MethodError, StepBatch};

/// Relative Uncertainty Learning: one view, two branches and a classifier of their own, with
/// the official code's knobs.
///
/// Each branch (mean and log variance) is `BatchNorm2d` without affine parameters, dropout,
/// a linear map of the flattened last feature map to `embedding_dim`, and `BatchNorm1d`; the
/// classifier reads the (mixed) mean embedding.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rul {
    /// Width of the mean and log-variance embeddings. Default 64.
    pub embedding_dim: usize,
    /// Dropout probability before each branch's linear map. Default 0.4.
    pub dropout: f64,
    /// The branches' and classifier's learning rate as a multiple of the backbone's. Default
    /// 10 (the official 2e-3 against 2e-4).
    pub head_lr_factor: f64,
}

impl Default for Rul {
    fn default() -> Self {
        Self {
            embedding_dim: 64,
            dropout: 0.4,
            head_lr_factor: 10.0,
        }
    }
}

/// Batch-norm epsilon of both branches (the official code's).
const EPSILON: f64 = 2e-5;

/// One of RUL's branches: `BatchNorm2d` without affine parameters, dropout, a linear map of
/// the flattened feature map to the embedding, `BatchNorm1d`.
#[derive(Module, Debug)]
pub struct RulBranch<B: Backend> {
    /// Normalises F; its scale and shift are frozen at 1 and 0 (no affine parameters).
    pub norm: BatchNorm<B>,
    /// Dropout before the linear map.
    pub dropout: Dropout,
    /// `K h w -> D`.
    pub linear: Linear<B>,
    /// Normalises the embedding.
    pub embedding_norm: BatchNorm<B>,
}

impl<B: Backend> RulBranch<B> {
    /// A freshly initialised branch of `config` on a feature map of `shape`.
    pub fn new(config: &Rul, shape: FeatureShape, device: &B::Device) -> Self {
        let inputs = shape.channels * shape.height * shape.width;
        Self {
            norm: BatchNormConfig::new(shape.channels)
                .with_epsilon(EPSILON)
                .init(device)
                .no_grad(),
            dropout: DropoutConfig::new(config.dropout).init(),
            linear: LinearConfig::new(inputs, config.embedding_dim).init(device),
            embedding_norm: BatchNormConfig::new(config.embedding_dim)
                .with_epsilon(EPSILON)
                .init(device),
        }
    }

    /// The branch's embedding of each sample.
    ///
    /// # Shapes
    /// - `features`: `[N, K, h, w]`; output `[N, D]`
    pub fn forward(&self, features: Tensor<B, 4>) -> Tensor<B, 2> {
        let [n, k, h, w] = features.dims();
        let x = self.dropout.forward(self.norm.forward(features));
        self.embedding_norm
            .forward(self.linear.forward(x.reshape([n, k * h * w])))
    }
}

/// RUL's modules beside the backbone (whose own classifier it does not use). They are also
/// what the trained model classifies with: the classifier on the mean branch's embedding.
#[derive(Module, Debug)]
pub struct RulHeads<B: Backend> {
    /// The mean branch: the embedding that is mixed, and classified at inference.
    pub mean: RulBranch<B>,
    /// The log-variance branch: `u_i = mean_d exp(log_var_id)`.
    pub log_variance: RulBranch<B>,
    /// The classifier of embeddings, `D -> C`.
    pub classifier: Linear<B>,
}

impl<B: Backend> Classifier<B> for RulHeads<B> {
    /// The classifier on the mean branch's embedding.
    fn logits(&self, backbone: &ResNet<B>, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.classifier
            .forward(self.mean.forward(backbone.features(images)))
    }
}

/// One forward of RUL.
pub struct RulForward<B: AutodiffBackend> {
    /// The classifier on the mixed embeddings, `[N, C]`.
    pub mixed_logits: Tensor<B, 2>,
    /// The classifier on the (unmixed) mean embeddings: the predictions, `[N, C]`.
    pub logits: Tensor<B, 2>,
    /// Each sample's partner in the mix, `[N]`.
    pub partners: Tensor<B, 1, Int>,
}

impl Method for Rul {
    const NAME: &'static str = "rul";
    const ABOUT: &'static str =
        "Relative Uncertainty Learning: uncertainty-weighted feature mixing, add-up loss";

    type Heads<B: Backend> = RulHeads<B>;
    type Classifier<B: Backend> = RulHeads<B>;
    type Forward<B: AutodiffBackend> = RulForward<B>;

    /// Checks that the embedding is at least 1 wide, the dropout a probability below 1 and
    /// the learning-rate factor positive.
    fn validate(&self) -> Result<(), InvalidField> {
        if self.embedding_dim == 0 {
            return Err(InvalidField::new(
                "embedding_dim",
                self.embedding_dim,
                "at least 1",
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(InvalidField::new(
                "dropout",
                self.dropout,
                "a probability in [0, 1)",
            ));
        }
        if !(self.head_lr_factor > 0.0 && self.head_lr_factor.is_finite()) {
            return Err(InvalidField::new(
                "head_lr_factor",
                self.head_lr_factor,
                "a finite value > 0",
            ));
        }
        Ok(())
    }

    fn views(&self) -> Views {
        Views::One
    }

    fn head_lr_factor(&self) -> f64 {
        self.head_lr_factor
    }

    fn heads<B: Backend>(&self, shape: FeatureShape, device: &B::Device) -> RulHeads<B> {
        RulHeads {
            mean: RulBranch::new(self, shape, device),
            log_variance: RulBranch::new(self, shape, device),
            classifier: LinearConfig::new(self.embedding_dim, shape.classes).init(device),
        }
    }

    fn classifier<B: Backend>(heads: &RulHeads<B>) -> &RulHeads<B> {
        heads
    }

    fn forward<B: AutodiffBackend>(
        &self,
        heads: &RulHeads<B>,
        _: &ResNet<B>,
        batch: StepBatch<B>,
    ) -> RulForward<B> {
        let partners = partners::<B>(&batch, &batch.features.device());
        let mean = heads.mean.forward(batch.features.clone());
        let uncertainty = relative_uncertainty(heads.log_variance.forward(batch.features));
        let mixed = mix_features(mean.clone(), uncertainty, partners.clone());
        RulForward {
            mixed_logits: heads.classifier.forward(mixed.features),
            logits: heads.classifier.forward(mean),
            partners,
        }
    }

    fn predictions<B: AutodiffBackend>(forward: &RulForward<B>) -> Tensor<B, 2> {
        forward.logits.clone()
    }

    fn loss<B: AutodiffBackend>(
        &self,
        forward: RulForward<B>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<LossParts<B>, MethodError> {
        Ok(LossParts::cross_entropy_only(add_up_loss(
            forward.mixed_logits,
            labels,
            forward.partners,
        )))
    }
}

/// RUL's random partner of each sample in the batch: a permutation seeded by the run, the
/// epoch and the batch's first sample.
fn partners<B: AutodiffBackend>(batch: &StepBatch<B>, device: &B::Device) -> Tensor<B, 1, Int> {
    let n = batch.samples;
    let mut order: Vec<i64> = (0..n as i64).collect();
    let first = batch.indices.first().copied().unwrap_or(0) as u64;
    let key = batch.seed ^ ((batch.epoch as u64) << 32) ^ first;
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(key));
    Tensor::from_data(TensorData::new(order, [n]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_prints_the_value_as_written() {
        let bad = Rul {
            embedding_dim: 0,
            ..Rul::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "`embedding_dim` = 0 is out of range: expected at least 1"
        );
        assert!(Rul::default().validate().is_ok());
    }
}
