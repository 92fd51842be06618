//! Time of the AFCN objective and its consistency term on a ResNet-18-sized batch
//! (N = 32, C = 7, K = 512, 7 x 7), forward only, on Flex.

use afcn_certainty::{Certainty, LabelStore};
use afcn_losses::{AfcnConfig, AfcnObjective, FusionConsistency, ViewOutput};
use burn::backend::Flex;
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};

const N: usize = 32;
const C: usize = 7;
const K: usize = 512;
const HW: usize = 7;

fn view() -> ViewOutput<Flex> {
    let device = Default::default();
    ViewOutput {
        logits: Tensor::random([N, C], Distribution::Normal(0.0, 2.0), &device),
        features: Tensor::random([N, K, HW, HW], Distribution::Uniform(0.0, 1.0), &device),
    }
}

fn bench(c: &mut Criterion) {
    let device = Default::default();
    let head_weight = Tensor::<Flex, 2>::random([C, K], Distribution::Normal(0.0, 0.05), &device);
    let (view_1, view_2) = (view(), view());
    let indices: Vec<usize> = (0..N).collect();
    let objective = AfcnObjective::new(AfcnConfig::for_epochs(60)).expect("default config");
    let mut store = LabelStore::new((0..N).map(|i| i % C).collect(), C).expect("labels");

    // One step as a trainer runs it: in correcting epochs the certainty, the correction of the
    // batch in the label store (one read of the mean probabilities), then the loss.
    for (name, epoch) in [("objective warm-up", 0), ("objective with correction", 20)] {
        c.bench_function(name, |b| {
            b.iter(|| {
                let config = objective.config();
                if config.corrects_in(epoch) {
                    let certainty =
                        Certainty::from_views(view_1.logits.clone(), Some(view_2.logits.clone()));
                    store
                        .correct_batch(
                            epoch,
                            &indices,
                            certainty.mean_probabilities,
                            &config.correction_rule(),
                        )
                        .expect("consistent batch");
                }
                let labels = store
                    .labels_tensor::<Flex>(&indices, &device)
                    .expect("known samples");
                objective
                    .forward(
                        view_1.clone(),
                        Some(view_2.clone()),
                        head_weight.clone(),
                        labels,
                        epoch,
                    )
                    .expect("consistent batch")
                    .loss
                    .into_scalar()
            })
        });
    }

    let a1 = Tensor::<Flex, 4>::random([N, C, HW, HW], Distribution::Uniform(0.0, 1.0), &device);
    let a2 = Tensor::<Flex, 4>::random([N, C, HW, HW], Distribution::Uniform(0.0, 1.0), &device);
    c.bench_function("fusion consistency", |b| {
        b.iter(|| {
            FusionConsistency::fused(a1.clone(), a2.clone(), 0.5)
                .loss
                .into_scalar()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
