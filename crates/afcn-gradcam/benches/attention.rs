//! Costs of the attention maps: the closed form for a training batch (32 x 512 x 7 x 7, 7
//! classes, forward and backward), and an autodiff Grad-CAM of one 224 x 224 image at layer 4
//! of a ResNet-18 (eval-mode forward, head under autodiff, backward, weighting).

use afcn_backbone::{Arch, ResNetConfig};
use afcn_gradcam::{CamMethod, ClassTarget, GradCam, SplitForward, class_attention};
use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};

type B = Autodiff<Flex>;

fn closed_form(c: &mut Criterion) {
    let device = Default::default();
    let features = Tensor::<B, 4>::random([32, 512, 7, 7], Distribution::Normal(0.0, 1.0), &device);
    let weight = Tensor::<B, 2>::random([7, 512], Distribution::Normal(0.0, 0.05), &device);
    c.bench_function("class_attention forward+backward b32 512x7x7 C7", |b| {
        b.iter(|| {
            let f = features.clone().require_grad();
            let grads = class_attention(f.clone(), weight.clone()).sum().backward();
            f.grad(&grads)
        })
    });
}

fn autodiff_grad_cam(c: &mut Criterion) {
    let device = Default::default();
    let model = ResNetConfig::new()
        .with_arch(Arch::ResNet18)
        .with_num_classes(7)
        .init::<B>(&device);
    let eval = model.valid();
    let target = SplitForward::new(
        "layer4",
        |x: Tensor<B, 4>| Tensor::from_inner(eval.features(x.inner())),
        |f: Tensor<B, 4>| model.head(f),
    );
    let input = Tensor::<B, 4>::random([1, 3, 224, 224], Distribution::Normal(0.0, 1.0), &device);
    let mut group = c.benchmark_group("autodiff");
    group.sample_size(10);
    group.bench_function(
        "GradCam::explain ResNet-18 layer4, one 224x224 image",
        |b| {
            b.iter(|| {
                GradCam
                    .explain(&target, input.clone(), "layer4", &ClassTarget::Predicted)
                    .map(|e| e.map)
            })
        },
    );
    group.finish();
}

criterion_group!(benches, closed_form, autodiff_grad_cam);
criterion_main!(benches);
