//! Costs of the attention maps: the closed form for a training batch (32 x 512 x 7 x 7, 7
//! classes, forward and backward) and an autodiff Grad-CAM of one image.

use afcn_gradcam::{CamError, CamMethod, CamTarget, ClassTarget, GradCam, class_attention};
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Distribution, Tensor, backend::Backend};
use criterion::{Criterion, criterion_group, criterion_main};

type B = Autodiff<Flex>;

/// A 3x3 convolution stage then a GAP + linear head, enough for a Grad-CAM through autodiff.
struct ConvHead<B: Backend> {
    conv: burn::nn::conv::Conv2d<B>,
    fc: burn::nn::Linear<B>,
}

impl<B: Backend> CamTarget<B> for ConvHead<B> {
    fn cam_layers(&self) -> Vec<String> {
        vec!["conv".into()]
    }
    fn activation(&self, x: Tensor<B, 4>, layer: &str) -> Result<Tensor<B, 4>, CamError> {
        self.check_layer(layer)?;
        Ok(burn::tensor::activation::relu(self.conv.forward(x)))
    }
    fn logits_from(&self, a: Tensor<B, 4>, layer: &str) -> Result<Tensor<B, 2>, CamError> {
        self.check_layer(layer)?;
        let [n, k, _, _] = a.dims();
        Ok(self.fc.forward(a.mean_dim(3).mean_dim(2).reshape([n, k])))
    }
}

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
    let model = ConvHead::<B> {
        conv: burn::nn::conv::Conv2dConfig::new([64, 512], [3, 3])
            .with_padding(burn::nn::PaddingConfig2d::Same)
            .init(&device),
        fc: burn::nn::LinearConfig::new(512, 7).init(&device),
    };
    let input = Tensor::<B, 4>::random([1, 64, 7, 7], Distribution::Normal(0.0, 1.0), &device);
    c.bench_function("GradCam::explain one image, 64->512 conv at 7x7", |b| {
        b.iter(|| {
            GradCam
                .explain(&model, input.clone(), "conv", &ClassTarget::Predicted)
                .map(|e| e.map)
        })
    });
}

criterion_group!(benches, closed_form, autodiff_grad_cam);
criterion_main!(benches);
