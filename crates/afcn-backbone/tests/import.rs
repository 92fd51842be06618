//! Weight import: checkpoints written by the tests themselves with torchvision's key names
//! (the key list is derived here from torchvision's `resnet.py`, independently of the crate),
//! wrappers and prefixes, a classifier of another size, missing keys, shape mismatches, and
//! the safetensors round trip.

use std::path::Path;

use afcn_backbone::{Arch, HeadStatus, ResNet, ResNetConfig, WeightsError};
use burn::{
    backend::Flex,
    tensor::{Distribution, Tensor, Tolerance},
};
use safetensors::{Dtype, tensor::TensorView};

type B = Flex;

/// One entry of a torchvision state dict: key, shape, and whether it is the int64
/// `num_batches_tracked` counter.
struct Entry {
    key: String,
    shape: Vec<usize>,
    counter: bool,
}

/// The state dict keys and shapes of torchvision's `ResNet(block, layers, num_classes)`,
/// following `torchvision/models/resnet.py` (with the stem and widths of `arch`).
fn torchvision_state_dict(arch: Arch, num_classes: usize) -> Vec<Entry> {
    let spec = arch.spec();
    let bottleneck = spec.block == afcn_backbone::BlockKind::Bottleneck;
    let expansion = if bottleneck { 4 } else { 1 };
    let mut entries = Vec::new();
    let mut tensor = |key: String, shape: Vec<usize>| {
        entries.push(Entry {
            key,
            shape,
            counter: false,
        })
    };
    let mut convs = Vec::new();
    let mut norms = Vec::new();
    convs.push(("conv1".to_string(), vec![spec.stem_channels, 3, 7, 7]));
    norms.push(("bn1".to_string(), spec.stem_channels));
    let mut inplanes = spec.stem_channels;
    for (stage, (&planes, &blocks)) in spec.widths.iter().zip(&spec.depths).enumerate() {
        let stride = if stage == 0 { 1 } else { 2 };
        for block in 0..blocks {
            let p = format!("layer{}.{block}", stage + 1);
            if bottleneck {
                convs.push((format!("{p}.conv1"), vec![planes, inplanes, 1, 1]));
                convs.push((format!("{p}.conv2"), vec![planes, planes, 3, 3]));
                convs.push((format!("{p}.conv3"), vec![planes * 4, planes, 1, 1]));
                norms.extend([
                    (format!("{p}.bn1"), planes),
                    (format!("{p}.bn2"), planes),
                    (format!("{p}.bn3"), planes * 4),
                ]);
            } else {
                convs.push((format!("{p}.conv1"), vec![planes, inplanes, 3, 3]));
                convs.push((format!("{p}.conv2"), vec![planes, planes, 3, 3]));
                norms.extend([(format!("{p}.bn1"), planes), (format!("{p}.bn2"), planes)]);
            }
            if block == 0 && (stride != 1 || inplanes != planes * expansion) {
                convs.push((
                    format!("{p}.downsample.0"),
                    vec![planes * expansion, inplanes, 1, 1],
                ));
                norms.push((format!("{p}.downsample.1"), planes * expansion));
            }
            inplanes = planes * expansion;
        }
    }
    for (name, shape) in convs {
        tensor(format!("{name}.weight"), shape);
    }
    for (name, channels) in &norms {
        for param in ["weight", "bias", "running_mean", "running_var"] {
            tensor(format!("{name}.{param}"), vec![*channels]);
        }
    }
    tensor("fc.weight".into(), vec![num_classes, inplanes]);
    tensor("fc.bias".into(), vec![num_classes]);
    for (name, _) in norms {
        entries.push(Entry {
            key: format!("{name}.num_batches_tracked"),
            shape: vec![],
            counter: true,
        });
    }
    entries
}

/// The value a test checkpoint holds at element `i` of tensor `key`: small, deterministic,
/// different per tensor, and positive variances.
fn value(key: &str, i: usize) -> f32 {
    let salt = key
        .bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
    let x = ((salt + i * 7) % 101) as f32 / 101.0;
    if key.ends_with("running_var") {
        0.5 + x
    } else {
        0.05 * (x - 0.5)
    }
}

/// Writes `entries` as a safetensors file, every key prefixed with `prefix`.
fn write_checkpoint(path: &Path, entries: &[Entry], prefix: &str) {
    let bytes: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| {
            if e.counter {
                100i64.to_le_bytes().to_vec()
            } else {
                let n: usize = e.shape.iter().product();
                (0..n)
                    .flat_map(|i| value(&e.key, i).to_le_bytes())
                    .collect()
            }
        })
        .collect();
    let views = entries.iter().zip(&bytes).map(|(e, data)| {
        let dtype = if e.counter { Dtype::I64 } else { Dtype::F32 };
        let view = TensorView::new(dtype, e.shape.clone(), data).expect("consistent view");
        (format!("{prefix}{}", e.key), view)
    });
    safetensors::serialize_to_file(views, None, path).expect("checkpoint written");
}

fn model(arch: Arch, num_classes: usize) -> ResNet<B> {
    ResNetConfig::new()
        .with_arch(arch)
        .with_num_classes(num_classes)
        .init(&Default::default())
}

fn values_of(tensor: Tensor<B, 1>) -> Vec<f32> {
    tensor.into_data().to_vec().expect("f32 data")
}

#[test]
fn resnet50_checkpoint_with_torchvision_keys_loads_every_tensor() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("resnet50.safetensors");
    let entries = torchvision_state_dict(Arch::ResNet50, 7);
    // torchvision's resnet50 state dict has 320 entries.
    assert_eq!(entries.len(), 320);
    write_checkpoint(&path, &entries, "");

    let (model, report) = model(Arch::ResNet50, 7)
        .load_weights(&path)
        .expect("resnet50 checkpoint loads");
    assert_eq!(report.applied.len(), 320 - 53, "{report}");
    assert_eq!(report.ignored.len(), 53, "{report}");
    assert!(report.is_complete() && report.unused.is_empty(), "{report}");
    for key in [
        "layer1.0.conv3.weight",
        "layer1.0.downsample.0.weight",
        "layer1.0.downsample.1.running_var",
        "layer4.0.downsample.1.weight",
        "layer4.2.bn3.bias",
    ] {
        assert!(report.applied.iter().any(|k| k == key), "{key} not applied");
    }

    let block = &model.layer1[0];
    let (_, down_bn) = block
        .downsample
        .as_ref()
        .expect("layer1.0 projects 64 -> 256");
    let expected: Vec<f32> = (0..256)
        .map(|i| value("layer1.0.downsample.1.running_var", i))
        .collect();
    assert_eq!(values_of(down_bn.running_var.value()), expected);
    let gamma: Vec<f32> = (0..2048).map(|i| value("layer4.2.bn3.weight", i)).collect();
    let bn3 = model.layer4[2].bn3.as_ref().expect("bottleneck has bn3");
    assert_eq!(values_of(bn3.gamma.val()), gamma);
    // fc.weight is [C, K] in the file and from head_weight (Burn stores the transpose).
    let row2: Vec<f32> = (0..2048)
        .map(|i| value("fc.weight", 2 * 2048 + i))
        .collect();
    let head_row = model.head_weight().slice([2..3, 0..2048]).reshape([2048]);
    assert_eq!(values_of(head_row), row2);

    let out = model.forward(Tensor::random(
        [1, 3, 32, 32],
        Distribution::Default,
        &Default::default(),
    ));
    assert_eq!(out.features.dims(), [1, 2048, 1, 1]);
    let logits = values_of(out.logits.reshape([7]));
    assert!(logits.iter().all(|z| z.is_finite()), "{logits:?}");
}

#[test]
fn wrapped_prefixed_checkpoint_with_another_classifier_reinitialises_the_head() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("face.safetensors");
    // `torch.save({'state_dict': model.state_dict()})` of a DataParallel model with 10 classes
    // reads as `state_dict.module.`-prefixed keys.
    write_checkpoint(
        &path,
        &torchvision_state_dict(Arch::ResNetNarrow, 10),
        "state_dict.module.",
    );

    assert_eq!(
        afcn_backbone::checkpoint_classes(&path).expect("readable"),
        Some(10)
    );
    let fresh = model(Arch::ResNetNarrow, 7);
    let fresh_head = fresh.head_weight();
    let (loaded, report) = fresh.load_weights(&path).expect("loads");
    assert_eq!(report.stripped_prefixes, ["state_dict.module."]);
    assert_eq!(
        report.head,
        HeadStatus::Reinitialised {
            checkpoint: Some(vec![10, 128]),
            model: vec![7, 128]
        }
    );
    assert_eq!(report.unused, ["fc.bias", "fc.weight"]);
    assert_eq!(report.missing, ["fc.bias", "fc.weight"]);
    assert!(!report.is_complete());
    assert!(
        report.to_string().contains("classifier re-initialised"),
        "{report}"
    );
    loaded
        .head_weight()
        .into_data()
        .assert_eq(&fresh_head.into_data(), true);
    let conv1: Vec<f32> = values_of(loaded.conv1.weight.val().reshape([16 * 3 * 7 * 7]));
    assert_eq!(conv1[5], value("conv1.weight", 5));
}

#[test]
fn a_checkpoint_without_some_tensors_reports_them_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("partial.safetensors");
    let entries: Vec<Entry> = torchvision_state_dict(Arch::ResNetNarrow, 7)
        .into_iter()
        .filter(|e| !e.key.starts_with("layer4.1.bn2.") && !e.key.starts_with("fc."))
        .collect();
    write_checkpoint(&path, &entries, "");
    assert_eq!(
        afcn_backbone::checkpoint_classes(&path).expect("readable"),
        None
    );
    let (_, report) = model(Arch::ResNetNarrow, 7)
        .load_weights(&path)
        .expect("loads");
    assert_eq!(
        report.missing,
        [
            "fc.bias",
            "fc.weight",
            "layer4.1.bn2.bias",
            "layer4.1.bn2.running_mean",
            "layer4.1.bn2.running_var",
            "layer4.1.bn2.weight",
        ]
    );
    assert_eq!(
        report.head,
        HeadStatus::Reinitialised {
            checkpoint: None,
            model: vec![7, 128]
        }
    );
}

#[test]
fn a_shape_mismatch_outside_the_head_is_an_error_naming_key_and_shapes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("narrow.safetensors");
    write_checkpoint(
        &path,
        &torchvision_state_dict(Arch::ResNetNarrow, 7),
        "module.",
    );
    let err = model(Arch::ResNet18, 7).load_weights(&path).unwrap_err();
    match &err {
        WeightsError::ShapeMismatch {
            key,
            expected,
            found,
            ..
        } => {
            assert_eq!(key, "conv1.weight");
            assert_eq!(expected, &[64, 3, 7, 7]);
            assert_eq!(found, &[16, 3, 7, 7]);
        }
        other => panic!("expected a shape mismatch, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("conv1.weight") && message.contains("[16, 3, 7, 7]"),
        "{message}"
    );
    assert!(
        message.contains("[64, 3, 7, 7]") && message.contains("narrow.safetensors"),
        "{message}"
    );
}

#[test]
fn unreadable_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let unknown = dir.path().join("weights.onnx");
    std::fs::write(&unknown, b"not weights").expect("written");
    let err = model(Arch::ResNetNarrow, 7)
        .load_weights(&unknown)
        .unwrap_err();
    assert!(matches!(err, WeightsError::UnknownFormat { .. }), "{err}");

    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not weights").expect("written");
    let err = model(Arch::ResNetNarrow, 7)
        .load_weights(&garbage)
        .unwrap_err();
    assert!(matches!(err, WeightsError::Read { .. }), "{err}");
    assert!(err.to_string().contains("garbage.safetensors"), "{err}");

    let absent = dir.path().join("absent.pth");
    let err = model(Arch::ResNetNarrow, 7)
        .load_weights(&absent)
        .unwrap_err();
    assert!(err.to_string().contains("absent.pth"), "{err}");
}

#[test]
fn safetensors_round_trip_uses_torchvision_names_and_reproduces_outputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("saved.safetensors");
    let device = Default::default();
    let original = model(Arch::ResNetNarrow, 5);
    original.save_safetensors(&path).expect("saved");

    let bytes = std::fs::read(&path).expect("readable");
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
    let mut keys: Vec<String> = file.names().into_iter().map(String::from).collect();
    keys.sort();
    let mut expected: Vec<String> = torchvision_state_dict(Arch::ResNetNarrow, 5)
        .into_iter()
        .filter(|e| !e.counter)
        .map(|e| e.key)
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(file.tensor("fc.weight").expect("fc").shape(), [5, 128]);

    let (loaded, report) = model(Arch::ResNetNarrow, 5)
        .load_weights(&path)
        .expect("loads");
    assert!(report.is_complete() && report.unused.is_empty(), "{report}");
    let x = Tensor::<B, 4>::random([2, 3, 40, 40], Distribution::Default, &device);
    let a = original.forward(x.clone());
    let b = loaded.forward(x);
    b.logits
        .into_data()
        .assert_approx_eq::<f32>(&a.logits.into_data(), Tolerance::absolute(1e-6));
    b.features
        .into_data()
        .assert_approx_eq::<f32>(&a.features.into_data(), Tolerance::absolute(1e-6));
}
