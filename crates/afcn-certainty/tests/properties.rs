//! Invariants of certainty and certainty weights over random and extreme logits.

use afcn_certainty::{Certainty, certainty_weights};
use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use proptest::prelude::*;

/// A batch of logits `[n, c]` mixing ordinary values with the extremes +-1e4.
fn logits() -> impl Strategy<Value = (usize, usize, Vec<f32>)> {
    (1usize..8, 2usize..9).prop_flat_map(|(n, c)| {
        let value = prop_oneof![
            4 => -30.0f32..30.0,
            1 => Just(1e4f32),
            1 => Just(-1e4f32),
        ];
        (Just(n), Just(c), prop::collection::vec(value, n * c))
    })
}

fn tensor(n: usize, c: usize, values: Vec<f32>) -> Tensor<Flex, 2> {
    Tensor::from_data(TensorData::new(values, [n, c]), &Default::default())
}

proptest! {
    #[test]
    fn certainty_is_in_unit_interval((n, c, z1) in logits(), shift in -3.0f32..3.0) {
        let z2: Vec<f32> = z1.iter().map(|v| v + shift).collect();
        let s = Certainty::from_two_views(tensor(n, c, z1), tensor(n, c, z2)).certainty;
        for v in s.into_data().iter::<f32>() {
            prop_assert!((0.0..=1.0).contains(&v), "certainty {v}");
        }
    }

    #[test]
    fn weights_have_mean_one((n, c, z) in logits()) {
        let s = Certainty::from_one_view(tensor(n, c, z)).certainty;
        let w: Vec<f32> = certainty_weights(s, false).into_data().iter::<f32>().collect();
        prop_assert!(w.iter().all(|v| v.is_finite() && *v >= 0.0), "{w:?}");
        let mean = w.iter().sum::<f32>() / n as f32;
        prop_assert!((mean - 1.0).abs() < 1e-5, "mean {mean} of {w:?}");
    }
}
