//! The closed form of Grad-CAM for a GAP + linear head (used in training) equals the Grad-CAM
//! computed through autodiff, for every class, on a small convolutional model.

use afcn_gradcam::{
    CamError, CamMethod, CamTarget, ClassTarget, GradCam, SplitForward, class_activation_map,
    class_attention,
};
use burn::{
    backend::{Autodiff, Flex},
    nn::{
        Linear, LinearConfig, PaddingConfig2d,
        conv::{Conv2d, Conv2dConfig},
    },
    tensor::{Distribution, Tensor, Tolerance, activation::relu, backend::Backend},
};

type B = Autodiff<Flex>;

struct ConvGapLinear<Bk: Backend> {
    conv: Conv2d<Bk>,
    fc: Linear<Bk>,
}

impl<Bk: Backend> ConvGapLinear<Bk> {
    fn new(device: &Bk::Device) -> Self {
        Self {
            conv: Conv2dConfig::new([3, 6], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            fc: LinearConfig::new(6, 4).init(device),
        }
    }

    fn features(&self, x: Tensor<Bk, 4>) -> Tensor<Bk, 4> {
        relu(self.conv.forward(x))
    }

    fn head(&self, f: Tensor<Bk, 4>) -> Tensor<Bk, 2> {
        let [n, k, _, _] = f.dims();
        self.fc.forward(f.mean_dim(3).mean_dim(2).reshape([n, k]))
    }
}

#[test]
fn autodiff_grad_cam_equals_the_closed_form_for_every_class() {
    let device = Default::default();
    let model = ConvGapLinear::<B>::new(&device);
    let target = SplitForward::new("conv", |x| model.features(x), |f| model.head(f));
    let x = Tensor::<B, 4>::random([3, 3, 5, 6], Distribution::Normal(0.0, 1.0), &device);

    // The fc weight is [K, C] in Burn; the closed form takes [C, K].
    let weight = model.fc.weight.val().inner().transpose();
    let features = model.features(x.clone()).inner();
    let closed = class_attention(features.clone(), weight.clone());
    let raw_cam = class_activation_map(features, weight);
    assert_eq!(closed.dims(), [3, 4, 5, 6]);

    for class in 0..4 {
        let explained = GradCam
            .explain(
                &target,
                x.clone(),
                "conv",
                &ClassTarget::Given(vec![class; 3]),
            )
            .unwrap();
        let expected = closed.clone().narrow(1, class, 1).reshape([3, 5, 6]);
        explained
            .map
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-5));
        // The raw CAM is the same map before the ReLU and the 1 / (h w).
        let from_cam = relu(raw_cam.clone().narrow(1, class, 1).reshape([3, 5, 6]) / 30.0);
        closed
            .clone()
            .narrow(1, class, 1)
            .reshape([3, 5, 6])
            .into_data()
            .assert_approx_eq::<f32>(&from_cam.into_data(), Tolerance::absolute(1e-5));
    }
}

#[test]
fn the_predicted_class_is_the_arg_max_of_the_logits() {
    let device = Default::default();
    let model = ConvGapLinear::<B>::new(&device);
    let target = SplitForward::new("conv", |x| model.features(x), |f| model.head(f));
    let x = Tensor::<B, 4>::random([4, 3, 4, 4], Distribution::Normal(0.0, 1.0), &device);
    let explained = GradCam
        .explain(&target, x.clone(), "conv", &ClassTarget::Predicted)
        .unwrap();
    let logits = model.head(model.features(x.clone())).inner();
    let argmax: Vec<usize> = logits
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .map(|c| c as usize)
        .collect();
    assert_eq!(explained.classes, argmax);
    let given = GradCam
        .explain(&target, x, "conv", &ClassTarget::Given(argmax))
        .unwrap();
    explained
        .map
        .into_data()
        .assert_approx_eq::<f32>(&given.map.into_data(), Tolerance::absolute(1e-6));
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let device = Default::default();
    let model = ConvGapLinear::<B>::new(&device);
    let target = SplitForward::new("conv", |x| model.features(x), |f| model.head(f));
    let x = Tensor::<B, 4>::zeros([2, 3, 4, 4], &device);
    let explain = |layer: &str, classes: ClassTarget| {
        GradCam
            .explain(&target, x.clone(), layer, &classes)
            .unwrap_err()
    };
    assert!(matches!(
        explain("conv", ClassTarget::Given(vec![1, 4])),
        CamError::ClassOutOfRange {
            class: 4,
            num_classes: 4
        }
    ));
    assert!(matches!(
        explain("conv", ClassTarget::Given(vec![1])),
        CamError::ClassCount {
            classes: 1,
            images: 2
        }
    ));
    let unknown = explain("layer4", ClassTarget::Predicted);
    assert!(matches!(unknown, CamError::UnknownLayer { .. }));
    assert!(unknown.to_string().contains("conv"), "{unknown}");
    assert_eq!(target.cam_layers(), ["conv"]);
}

#[test]
fn logits_that_ignore_the_layer_are_an_error() {
    let device = Default::default();
    let bias = Tensor::<B, 2>::ones([1, 3], &device).require_grad();
    let target = SplitForward::new("x", |x: Tensor<B, 4>| x, |_| bias.clone());
    let err = GradCam
        .explain(
            &target,
            Tensor::zeros([1, 2, 2, 2], &device),
            "x",
            &ClassTarget::Predicted,
        )
        .unwrap_err();
    assert!(matches!(err, CamError::NoGradient { .. }), "{err}");
}
