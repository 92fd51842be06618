//! The optimizer of a run and its update of the model.

use burn::{
    optim::{
        Adam, AdamConfig, GradientsParams, Optimizer, adaptor::OptimizerAdaptor,
        decay::WeightDecayConfig,
    },
    tensor::backend::AutodiffBackend,
};

use crate::{config::TrainConfig, model::FerModel};

/// The optimizer of a run: Adam with L2 weight decay.
pub type Adamw<B> = OptimizerAdaptor<Adam, FerModel<B>, B>;

/// The optimizer `config` asks for (the learning rate is given at each step).
pub fn optimizer<B: AutodiffBackend>(config: &TrainConfig) -> Adamw<B> {
    AdamConfig::new()
        .with_weight_decay(Some(WeightDecayConfig::new(
            config.optim.weight_decay as f32,
        )))
        .init()
}

/// One Adam update of `model` from `grads`: the backbone at learning rate `lr[0]`, the
/// method's heads at `lr[1]` (one step each, on disjoint parameters, when they differ).
pub fn update<B: AutodiffBackend>(
    optimizer: &mut Adamw<B>,
    model: FerModel<B>,
    mut grads: B::Gradients,
    [lr, head_lr]: [f64; 2],
) -> FerModel<B> {
    if head_lr == lr {
        let grads = GradientsParams::from_grads(grads, &model);
        return optimizer.step(lr, model, grads);
    }
    let heads = GradientsParams::from_module(&mut grads, &model.heads);
    let rest = GradientsParams::from_grads(grads, &model);
    let model = optimizer.step(lr, model, rest);
    optimizer.step(head_lr, model, heads)
}
