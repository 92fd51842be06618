//! RUL (Zhang et al., "Relative Uncertainty Learning for Facial Expression Recognition"), as
//! its official code: a mean and a log-variance branch on the last feature map, features of
//! each sample mixed with a random partner's by relative uncertainty, the add-up loss, and
//! inference from the mean branch.

use afcn_backbone::ResNet;
use afcn_data::Views;
use afcn_losses::{AfcnLossError, RulConfig, add_up_loss, mix_features, relative_uncertainty};
use burn::{
    module::Module,
    nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig},
    tensor::{Int, Tensor, TensorData, backend::AutodiffBackend, backend::Backend},
};
use rand::{SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;

use super::{FeatureShape, LossParts, Method, StepBatch};

/// Relative Uncertainty Learning: one view, two branches and a classifier of their own.
pub struct Rul;

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
    fn new(config: &RulConfig, shape: FeatureShape, device: &B::Device) -> Self {
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

/// RUL's modules beside the backbone (whose own classifier it does not use).
#[derive(Module, Debug)]
pub struct RulHeads<B: Backend> {
    /// The mean branch: the embedding that is mixed, and classified at inference.
    pub mean: RulBranch<B>,
    /// The log-variance branch: `u_i = mean_d exp(log_var_id)`.
    pub log_variance: RulBranch<B>,
    /// The classifier of embeddings, `D -> C`.
    pub classifier: Linear<B>,
}

impl Method for Rul {
    const NAME: &'static str = "rul";
    const ABOUT: &'static str =
        "Relative Uncertainty Learning: uncertainty-weighted feature mixing, add-up loss";
    const BACKBONE_INFERENCE: bool = false;

    type Config = RulConfig;
    type Heads<B: Backend> = RulHeads<B>;

    fn validate(config: &RulConfig) -> Result<(), AfcnLossError> {
        config.validate()
    }

    fn views(_: &RulConfig) -> Views {
        Views::One
    }

    fn head_lr_factor(config: &RulConfig) -> f64 {
        config.head_lr_factor
    }

    fn heads<B: Backend>(
        config: &RulConfig,
        shape: FeatureShape,
        device: &B::Device,
    ) -> RulHeads<B> {
        RulHeads {
            mean: RulBranch::new(config, shape, device),
            log_variance: RulBranch::new(config, shape, device),
            classifier: LinearConfig::new(config.embedding_dim, shape.classes).init(device),
        }
    }

    fn loss<B: AutodiffBackend>(
        _: &RulConfig,
        heads: &RulHeads<B>,
        _: &ResNet<B>,
        batch: StepBatch<B>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<LossParts<B>, AfcnLossError> {
        let partners = partners::<B>(&batch, &batch.features.device());
        let mean = heads.mean.forward(batch.features.clone());
        let uncertainty = relative_uncertainty(heads.log_variance.forward(batch.features));
        let mixed = mix_features(mean.clone(), uncertainty, partners.clone());
        let loss = add_up_loss(heads.classifier.forward(mixed.features), labels, partners);
        let logits = heads.classifier.forward(mean).inner();
        Ok(LossParts::cross_entropy_only(loss, logits))
    }

    /// The classifier on the mean branch's embedding.
    fn logits<B: Backend>(
        heads: &RulHeads<B>,
        backbone: &ResNet<B>,
        images: Tensor<B, 4>,
    ) -> Tensor<B, 2> {
        heads
            .classifier
            .forward(heads.mean.forward(backbone.features(images)))
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
