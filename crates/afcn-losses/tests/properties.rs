//! Invariants of the losses: a finite objective at extreme logits, flipping twice is the
//! identity.

use afcn_losses::{AfcnConfig, AfcnObjective, ViewOutput, flip_width};
use burn::backend::Flex;
use burn::tensor::{Int, Tensor, TensorData};
use proptest::prelude::*;

const N: usize = 4;
const C: usize = 5;

fn extreme_logits() -> impl Strategy<Value = Vec<f32>> {
    let value = prop_oneof![Just(1e4f32), Just(-1e4f32), -10.0f32..10.0];
    prop::collection::vec(value, N * C)
}

fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<Flex, D> {
    Tensor::from_data(TensorData::new(values, shape), &Default::default())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn loss_is_finite_for_extreme_logits(
        z1 in extreme_logits(),
        z2 in extreme_logits(),
        labels in prop::collection::vec(0usize..C, N),
        epoch in 0usize..4,
        fusion in any::<bool>(),
        gradcam in any::<bool>(),
    ) {
        let config = AfcnConfig {
            warmup_epochs: 2,
            correct_from_epoch: 2,
            attention_fusion: fusion,
            gradcam_attention: gradcam,
            ..AfcnConfig::default()
        };
        let features: Vec<f32> = (0..N * 3 * 2 * 2).map(|i| (i % 7) as f32 * 0.3).collect();
        let weight: Vec<f32> = (0..C * 3).map(|i| (i % 5) as f32 * 0.2 - 0.4).collect();
        let labels: Vec<i64> = labels.into_iter().map(|l| l as i64).collect();
        let labels = Tensor::<Flex, 1, Int>::from_data(TensorData::new(labels, [N]), &Default::default());
        let out = AfcnObjective::new(config).unwrap().forward(
            ViewOutput { logits: tensor(z1, [N, C]), features: tensor(features.clone(), [N, 3, 2, 2]) },
            Some(ViewOutput { logits: tensor(z2, [N, C]), features: tensor(features, [N, 3, 2, 2]) }),
            tensor(weight, [C, 3]),
            labels,
            epoch,
        ).unwrap();
        let loss = out.loss.into_scalar();
        prop_assert!(loss.is_finite() && loss >= 0.0, "loss {loss}");
    }

    #[test]
    fn flipping_twice_is_the_identity(
        (shape, values) in (1usize..3, 1usize..3, 1usize..4, 1usize..6).prop_flat_map(|(n, c, h, w)| {
            (Just([n, c, h, w]), prop::collection::vec(-1e3f32..1e3, n * c * h * w))
        }),
    ) {
        let maps = tensor(values.clone(), shape);
        let back: Vec<f32> = flip_width(flip_width(maps)).into_data().iter::<f32>().collect();
        prop_assert_eq!(back, values);
    }
}
