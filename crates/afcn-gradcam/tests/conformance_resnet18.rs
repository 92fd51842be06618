//! Conformance with pytorch-grad-cam on the ResNet-18 fixture made by
//! `fixtures/make_fixtures.py` (random weights and batch-norm statistics, 7 classes, 112x112
//! input, targets 3 and 5): raw Grad-CAM and Grad-CAM++ maps at layer 4 to relative error
//! <= 1e-4, and pytorch-grad-cam's up-sampled normalised map (`gradcam_up`, OpenCV bilinear) to
//! max absolute error <= 0.02.
//!
//! Two paths: from the fixture's own layer-4 features and `fc` weights (the head of a ResNet
//! after layer 4 is GAP + linear, so this checks the gradient, weighting and post-processing
//! alone), and the whole network loaded with afcn-backbone.

use afcn_backbone::{Arch, ResNetConfig};
use afcn_gradcam::{
    CamMethod, ClassTarget, GradCam, GradCamPlusPlus, SplitForward, class_attention, heatmap,
};
use burn::{
    backend::{Autodiff, Flex},
    module::AutodiffModule,
    tensor::{Tensor, TensorData, backend::Backend},
};
use burn_store::{ModuleStore, SafetensorsStore};

type B = Autodiff<Flex>;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/resnet18w32-112"
);

/// The fixture's stage widths (`meta.json`): torchvision's ResNet-18 topology, every layer's
/// kind, kernel, stride and name, at half its widths (a quarter of its parameters).
const FIXTURE_WIDTHS: [usize; 4] = [32, 64, 128, 256];
const LAYER: &str = "layer4";

fn fixture_data(file: &str, name: &str) -> TensorData {
    SafetensorsStore::from_file(format!("{FIXTURE}/{file}"))
        .get_snapshot(name)
        .expect("the fixture reads")
        .unwrap_or_else(|| panic!("{file} has `{name}`"))
        .to_data()
        .expect("tensor data reads")
}

fn fixture<Bk: Backend, const D: usize>(file: &str, name: &str) -> Tensor<Bk, D> {
    Tensor::from_data(fixture_data(file, name), &Default::default())
}

fn targets() -> Vec<usize> {
    fixture_data("io.safetensors", "targets")
        .iter::<i64>()
        .map(|t| t as usize)
        .collect()
}

/// max |actual - expected| / max |expected|, over the whole tensor.
fn relative_error<const D: usize>(actual: Tensor<Flex, D>, expected: Tensor<Flex, D>) -> f32 {
    assert_eq!(actual.dims(), expected.dims());
    let scale: f32 = expected.clone().abs().max().into_scalar();
    let diff: f32 = (actual - expected).abs().max().into_scalar();
    diff / scale
}

fn max_abs_error<const D: usize>(actual: Tensor<Flex, D>, expected: Tensor<Flex, D>) -> f32 {
    assert_eq!(actual.dims(), expected.dims());
    (actual - expected).abs().max().into_scalar()
}

/// Checks the raw maps of both methods and the up-sampled Grad-CAM against the fixture.
fn check_against_fixture(target: &impl afcn_gradcam::CamTarget<B>, input: Tensor<B, 4>) {
    let classes = ClassTarget::Given(targets());
    let gradcam = GradCam
        .explain(target, input.clone(), LAYER, &classes)
        .unwrap();
    let gradcampp = GradCamPlusPlus
        .explain(target, input, LAYER, &classes)
        .unwrap();

    let gc_error = relative_error(gradcam.map.clone(), fixture("io.safetensors", "gradcam"));
    let pp_error = relative_error(gradcampp.map, fixture("io.safetensors", "gradcampp"));
    let up = heatmap(gradcam.map, [112, 112]);
    let up_error = max_abs_error(up, fixture("io.safetensors", "gradcam_up"));
    println!("gradcam rel {gc_error:e}, gradcam++ rel {pp_error:e}, gradcam_up abs {up_error:e}");
    assert!(gc_error <= 1e-4, "Grad-CAM relative error {gc_error}");
    assert!(pp_error <= 1e-4, "Grad-CAM++ relative error {pp_error}");
    assert!(
        up_error <= 0.02,
        "up-sampled Grad-CAM max abs error {up_error}"
    );
}

#[test]
fn maps_from_the_fixture_features_and_head_match_pytorch_grad_cam() {
    let weight: Tensor<B, 2> = fixture("weights.safetensors", "fc.weight"); // [C, K]
    let bias: Tensor<B, 1> = fixture("weights.safetensors", "fc.bias");
    let head = |a: Tensor<B, 4>| {
        let [n, k, _, _] = a.dims();
        let pooled = a.mean_dim(3).mean_dim(2).reshape([n, k]);
        pooled.matmul(weight.clone().transpose()) + bias.clone().unsqueeze()
    };
    let target = SplitForward::new(LAYER, |a: Tensor<B, 4>| a, head);
    let features: Tensor<B, 4> = fixture("io.safetensors", "features");
    check_against_fixture(&target, features.clone());

    // The closed form gives the same Grad-CAM for the targets' classes.
    let all = class_attention(features.inner(), weight.inner());
    let [n, c, h, w] = all.dims();
    let picked = targets()
        .into_iter()
        .enumerate()
        .map(|(i, t)| all.clone().slice([i..i + 1, t..t + 1]).reshape([1, h, w]))
        .collect();
    assert_eq!((n, c), (2, 7));
    let error = relative_error(Tensor::cat(picked, 0), fixture("io.safetensors", "gradcam"));
    assert!(error <= 1e-4, "closed-form relative error {error}");
}

#[test]
fn maps_from_the_whole_resnet18_match_pytorch_grad_cam() {
    let device = Default::default();
    let (model, report) = ResNetConfig::new()
        .with_arch(Arch::ResNet18)
        .with_widths(Some(FIXTURE_WIDTHS))
        .with_num_classes(7)
        .init::<B>(&device)
        .load_weights(format!("{FIXTURE}/weights.safetensors"))
        .expect("the fixture loads");
    assert!(report.is_complete(), "{report}");
    // Eval mode: the layers before layer 4 run on the inner backend (batch norm with running
    // statistics); only the head runs under autodiff.
    let eval = model.valid();
    let target = SplitForward::new(
        LAYER,
        |x: Tensor<B, 4>| Tensor::from_inner(eval.features(x.inner())),
        |a: Tensor<B, 4>| model.head(a),
    );
    check_against_fixture(&target, fixture("io.safetensors", "input"));
}
