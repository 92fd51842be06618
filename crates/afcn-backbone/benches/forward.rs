//! Forward, and forward + backward, of every architecture at 112 and 224 on the cpu backend
//! (Burn's flex). Batch 1; `cargo bench -p afcn-backbone` (the 224 ResNet-50 cases take long).

use afcn_backbone::{Arch, ResNetConfig};
use burn::{
    backend::{Autodiff, Flex},
    module::AutodiffModule,
    tensor::{Distribution, Tensor},
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

type B = Autodiff<Flex>;

fn forward_and_backward(c: &mut Criterion) {
    let device = Default::default();
    let mut group = c.benchmark_group("resnet");
    group.sample_size(10);
    for arch in Arch::ALL {
        let model = ResNetConfig::new().with_arch(arch).init::<B>(&device);
        let eval = model.valid();
        for size in [112, 224] {
            let x = Tensor::<B, 4>::random([1, 3, size, size], Distribution::Default, &device);
            let id = format!("{arch}/{size}");
            group.bench_function(BenchmarkId::new("forward", &id), |b| {
                b.iter(|| eval.forward(x.clone().inner()).logits.into_data())
            });
            group.bench_function(BenchmarkId::new("forward_backward", &id), |b| {
                b.iter(|| {
                    let out = model.forward(x.clone());
                    out.logits.sum().backward()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, forward_and_backward);
criterion_main!(benches);
