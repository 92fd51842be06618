//! The field's published weight formats, in small files written by real PyTorch and Python
//! pickle (`fixtures/published_weights.py`): EAC's VGGFace2 ResNet-50 pickle (as Python 2
//! wrote it, and re-saved by Python 3), RUL's `{'state_dict': ...}` `.pth`, SCN's legacy
//! `.pth.tar` with `module.` keys, and a plain torchvision `.pth`. Each must reproduce
//! PyTorch's eval-mode logits to 1e-4; bad files are errors naming the file and the key.

mod support;

use std::{collections::BTreeMap, path::PathBuf};

use afcn_backbone::{Arch, HeadStatus, LoadReport, ResNet, ResNetConfig, WeightsError};
use burn::tensor::Tensor;
use support::{B, relative_error};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/published-weights"
);

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(FIXTURE).join(name)
}

fn io_tensor<const D: usize>(name: &str) -> Tensor<B, D> {
    support::io_tensor(&fixture("io.safetensors"), name)
}

/// The VGGFace2 topology at the fixture's widths, with its 12 "identities".
fn vggface2(classes: usize) -> ResNet<B> {
    ResNetConfig::new()
        .with_arch(Arch::ResNet50VggFace2)
        .with_num_classes(classes)
        .with_widths(Some([2, 4, 8, 16]))
        .init(&Default::default())
}

/// torchvision's ResNet-18 topology at the fixture's widths.
fn resnet18(classes: usize) -> ResNet<B> {
    ResNetConfig::new()
        .with_arch(Arch::ResNet18)
        .with_num_classes(classes)
        .with_widths(Some([4, 8, 16, 32]))
        .init(&Default::default())
}

fn load(model: ResNet<B>, file: &str) -> (ResNet<B>, LoadReport) {
    model
        .load_weights(fixture(file))
        .unwrap_or_else(|err| panic!("{file} loads: {err}"))
}

#[test]
fn the_vggface2_pickle_reproduces_pytorch_as_written_by_python_2_and_3() {
    let input = io_tensor::<4>("vggface2_input");
    for file in ["vggface2-py2.pkl", "vggface2-py3.pkl"] {
        let (model, report) = load(vggface2(12), file);
        // 53 convolutions and batch norms (4 tensors each), fc weight and bias; no
        // num_batches_tracked in this format.
        assert_eq!(report.applied.len(), 53 + 53 * 4 + 2, "{file}: {report}");
        assert!(report.is_complete(), "{file}: {report}");
        assert!(
            report.unused.is_empty() && report.ignored.is_empty(),
            "{report}"
        );

        let out = model.forward(input.clone());
        let logits = relative_error(out.logits, io_tensor("vggface2_logits"));
        let features = relative_error(out.features, io_tensor("vggface2_features"));
        println!("{file}: relative error logits {logits:e}, features {features:e}");
        assert!(
            logits <= 1e-4 && features <= 1e-4,
            "{file}: {logits} {features}"
        );
    }
}

#[test]
fn the_vggface2_classifier_is_dropped_for_the_expression_classes() {
    let (model, report) = load(vggface2(7), "vggface2-py2.pkl");
    assert_eq!(
        report.head,
        HeadStatus::Reinitialised {
            checkpoint: Some(vec![12, 64]),
            model: vec![7, 64],
        }
    );
    assert_eq!(report.unused, ["fc.bias", "fc.weight"]);
    let out = model.forward(io_tensor("vggface2_input"));
    let features = relative_error(out.features, io_tensor("vggface2_features"));
    assert!(features <= 1e-4, "{features}");
}

#[test]
fn the_torchvision_topology_does_not_reproduce_the_vggface2_network() {
    // Same keys and shapes, other strides: the logits tell the topologies apart.
    let (model, report) = load(
        ResNetConfig::new()
            .with_arch(Arch::ResNet50)
            .with_num_classes(12)
            .with_widths(Some([2, 4, 8, 16]))
            .init(&Default::default()),
        "vggface2-py2.pkl",
    );
    assert!(report.is_complete(), "{report}");
    let out = model.forward(io_tensor("vggface2_input"));
    assert_ne!(
        out.features.dims()[2],
        2,
        "torchvision's stem keeps a 17-wide map"
    );
}

#[test]
fn rul_scn_and_torchvision_checkpoints_reproduce_pytorch() {
    let input = io_tensor::<4>("resnet18_input");
    let cases = [
        ("rul-resnet18.pth", vec!["state_dict."]),
        ("scn-resnet18.pth.tar", vec!["state_dict.module."]),
        ("torchvision-resnet18.pth", vec![]),
    ];
    for (file, prefixes) in cases {
        let (model, report) = load(resnet18(10), file);
        assert!(report.is_complete(), "{file}: {report}");
        assert_eq!(report.stripped_prefixes, prefixes, "{file}");
        assert_eq!(
            report.ignored.len(),
            20,
            "{file}: one counter per batch norm"
        );
        assert!(report.unused.is_empty(), "{file}: {report}");
        let logits = relative_error(
            model.forward(input.clone()).logits,
            io_tensor("resnet18_logits"),
        );
        println!("{file}: logits relative error {logits:e}");
        assert!(logits <= 1e-4, "{file}: {logits}");
    }
}

#[test]
fn scn_s_classifier_is_skipped_for_seven_expressions() {
    let (_, report) = load(resnet18(7), "scn-resnet18.pth.tar");
    assert!(
        matches!(report.head, HeadStatus::Reinitialised { .. }),
        "{report}"
    );
    assert_eq!(report.missing, ["fc.bias", "fc.weight"]);
    assert!(
        report.to_string().contains("classifier re-initialised"),
        "{report}"
    );
}

#[test]
fn a_file_of_another_architecture_names_the_file_and_the_first_offending_key() {
    let err = resnet18(12)
        .load_weights(fixture("vggface2-py2.pkl"))
        .map(|_| ())
        .unwrap_err();
    match &err {
        WeightsError::ShapeMismatch { path, key, .. } => {
            assert!(path.ends_with("vggface2-py2.pkl"));
            assert_eq!(key, "conv1.weight", "{err}");
        }
        other => panic!("expected a shape mismatch, got {other}"),
    }
    assert!(err.to_string().contains("is --arch right?"), "{err}");
}

#[test]
fn a_truncated_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        ("vggface2-py2.pkl", vggface2(12)),
        ("scn-resnet18.pth.tar", resnet18(10)),
        ("rul-resnet18.pth", resnet18(10)),
    ];
    for (file, model) in cases {
        let bytes = std::fs::read(fixture(file)).expect("fixture reads");
        let cut = dir.path().join(file);
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("writes");
        let err = model.load_weights(&cut).map(|_| ()).unwrap_err();
        let message = err.to_string();
        println!("{file}: {message}");
        // The legacy format's header survives the cut: its tensor data is read lazily and
        // the first tensor without data is named.
        assert!(
            matches!(err, WeightsError::Read { .. } | WeightsError::Apply { .. }),
            "{file}: {message}"
        );
        assert!(message.contains(&cut.display().to_string()), "{message}");
    }
}

#[test]
fn a_pickle_that_is_not_a_dict_of_arrays_names_the_first_offending_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, bytes: Vec<u8>| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("writes");
        path
    };
    use serde_pickle::{HashableValue, Value};
    let dict = BTreeMap::from([
        (HashableValue::String("bn1.bias".into()), Value::F64(0.5)),
        (
            HashableValue::String("conv1.weight".into()),
            Value::String("weights".into()),
        ),
    ]);
    let bad_entries = write(
        "entries.pkl",
        serde_pickle::value_to_vec(&Value::Dict(dict), Default::default()).expect("pickles"),
    );
    let list = write(
        "list.pkl",
        serde_pickle::to_vec(&vec![1, 2, 3], Default::default()).expect("pickles"),
    );

    let err = vggface2(12)
        .load_weights(&bad_entries)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&err, WeightsError::NotArrayDict { key: Some(key), .. } if key == "bn1.bias"),
        "{err}"
    );
    assert!(err.to_string().contains("entries.pkl"), "{err}");
    assert!(
        err.to_string().contains("is a float, not a numpy array"),
        "{err}"
    );

    let err = vggface2(12).load_weights(&list).map(|_| ()).unwrap_err();
    assert!(
        matches!(&err, WeightsError::NotArrayDict { key: None, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("a list, not a dict"), "{err}");
}
