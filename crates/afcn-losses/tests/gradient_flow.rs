//! Where the AFCN objective sends gradients (Autodiff<Flex>): the fused target is detached,
//! certainty is detached, and with fusion off both views are pulled towards each other.

use afcn_losses::{AfcnConfig, AfcnObjective, ViewOutput};
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Distribution, Int, Tensor};

type Ad = Autodiff<Flex>;

struct Leaves {
    logits_1: Tensor<Ad, 2>,
    logits_2: Tensor<Ad, 2>,
    features_1: Tensor<Ad, 4>,
    features_2: Tensor<Ad, 4>,
    head_weight: Tensor<Ad, 2>,
}

fn leaves() -> Leaves {
    let device = Default::default();
    let normal = Distribution::Normal(0.0, 1.0);
    let positive = Distribution::Uniform(0.0, 1.0);
    Leaves {
        logits_1: Tensor::random([4, 5], normal, &device).require_grad(),
        logits_2: Tensor::random([4, 5], normal, &device).require_grad(),
        features_1: Tensor::random([4, 6, 3, 3], positive, &device).require_grad(),
        features_2: Tensor::random([4, 6, 3, 3], positive, &device).require_grad(),
        head_weight: Tensor::random([5, 6], normal, &device).require_grad(),
    }
}

/// Largest absolute gradient of a leaf for the given loss part, `None` when it has none.
fn max_abs<const D: usize>(
    leaf: &Tensor<Ad, D>,
    grads: &<Ad as burn::tensor::backend::AutodiffBackend>::Gradients,
) -> Option<f32> {
    leaf.grad(grads).map(|g| g.abs().max().into_scalar())
}

/// Backpropagates the chosen part of the objective under `config` (epoch 5, past warm-up).
fn backward(
    config: AfcnConfig,
    part: fn(afcn_losses::AfcnLoss<Ad>) -> Tensor<Ad, 1>,
) -> (
    Leaves,
    <Ad as burn::tensor::backend::AutodiffBackend>::Gradients,
) {
    let l = leaves();
    let labels = Tensor::<Ad, 1, Int>::from_data([0, 1, 2, 3], &Default::default());
    let out = AfcnObjective::new(config)
        .unwrap()
        .forward(
            ViewOutput {
                logits: l.logits_1.clone(),
                features: l.features_1.clone(),
            },
            Some(ViewOutput {
                logits: l.logits_2.clone(),
                features: l.features_2.clone(),
            }),
            l.head_weight.clone(),
            labels,
            5,
        )
        .unwrap();
    let grads = part(out).backward();
    (l, grads)
}

fn config() -> AfcnConfig {
    AfcnConfig {
        warmup_epochs: 2,
        correct_from_epoch: 2,
        ..AfcnConfig::default()
    }
}

/// With beta = 1 the fused target is `A_1` itself. Detached, `(A_1 - A_f)^2` has zero gradient
/// and only view 2 is pulled; were `A_f` differentiated, `(flip(A_2) - A_f)^2` would pull
/// view 1 too.
#[test]
fn fused_target_is_detached() {
    let (l, grads) = backward(
        AfcnConfig {
            beta: 1.0,
            ..config()
        },
        |o| o.consistency,
    );
    assert_eq!(
        max_abs(&l.features_1, &grads).unwrap_or(0.0),
        0.0,
        "no gradient through A_f"
    );
    assert!(
        max_abs(&l.features_2, &grads).unwrap() > 0.0,
        "view 2 is pulled to the target"
    );
    assert!(
        max_abs(&l.head_weight, &grads).is_none(),
        "the head weight of the CAM is detached"
    );
}

#[test]
fn fusion_consistency_pulls_both_views() {
    let (l, grads) = backward(config(), |o| o.consistency);
    assert!(max_abs(&l.features_1, &grads).unwrap() > 0.0);
    assert!(max_abs(&l.features_2, &grads).unwrap() > 0.0);
}

#[test]
fn without_fusion_both_sides_get_gradients() {
    let (l, grads) = backward(
        AfcnConfig {
            attention_fusion: false,
            beta: 1.0,
            ..config()
        },
        |o| o.consistency,
    );
    assert!(max_abs(&l.features_1, &grads).unwrap() > 0.0);
    assert!(max_abs(&l.features_2, &grads).unwrap() > 0.0);
}

/// The total reaches view 1's logits through the cross-entropy; certainty, weights and the
/// corrected labels are detached, so view 2's logits get nothing.
#[test]
fn certainty_and_weights_are_detached() {
    let (l, grads) = backward(config(), |o| o.loss);
    assert!(max_abs(&l.logits_1, &grads).unwrap() > 0.0);
    assert_eq!(max_abs(&l.logits_2, &grads).unwrap_or(0.0), 0.0);
}
