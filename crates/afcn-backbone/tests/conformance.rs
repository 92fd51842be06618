//! Conformance with torchvision: the ResNet-18 fixture made by `fixtures/make_fixtures.py`
//! (random weights and batch-norm statistics, 7 classes, 112x112 input) must reproduce
//! PyTorch's eval-mode logits and layer-4 features to relative error <= 1e-4.

mod support;

use std::path::Path;

use afcn_backbone::{Arch, HeadStatus, ResNetConfig};
use burn::tensor::Tensor;
use support::{B, relative_error};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/resnet18w32-112"
);

/// The fixture's stage widths (`meta.json`): torchvision's ResNet-18 topology, every layer's
/// kind, kernel, stride and name, at half its widths (a quarter of its parameters).
const FIXTURE_WIDTHS: [usize; 4] = [32, 64, 128, 256];

fn io_tensor<const D: usize>(name: &str) -> Tensor<B, D> {
    support::io_tensor(&Path::new(FIXTURE).join("io.safetensors"), name)
}

#[test]
fn resnet18_fixture_reproduces_torchvision_eval_logits_and_features() {
    let device = Default::default();
    let (model, report) = ResNetConfig::new()
        .with_arch(Arch::ResNet18)
        .with_widths(Some(FIXTURE_WIDTHS))
        .with_num_classes(7)
        .init::<B>(&device)
        .load_weights(format!("{FIXTURE}/weights.safetensors"))
        .expect("the fixture loads");

    // 20 convolutions, 20 batch norms with 4 tensors each, fc weight and bias.
    assert_eq!(report.applied.len(), 20 + 20 * 4 + 2, "{report}");
    assert!(report.is_complete(), "{report}");
    assert!(report.unused.is_empty(), "{report}");
    assert_eq!(
        report.ignored.len(),
        20,
        "one num_batches_tracked per batch norm"
    );
    assert_eq!(report.head, HeadStatus::Loaded);
    assert!(
        report
            .applied
            .contains(&"layer2.0.downsample.1.running_var".to_string())
    );

    let out = model.forward(io_tensor::<4>("input"));
    let features = io_tensor::<4>("features");
    let logits = io_tensor::<2>("logits");
    assert_eq!(out.features.dims(), features.dims());
    assert_eq!(out.logits.dims(), logits.dims());
    let logits_error = relative_error(out.logits, logits);
    let features_error = relative_error(out.features, features);
    println!("relative error: logits {logits_error:e}, features {features_error:e}");
    assert!(logits_error <= 1e-4, "logits relative error {logits_error}");
    assert!(
        features_error <= 1e-4,
        "features relative error {features_error}"
    );
}
