//! `afcn explain` end to end: weights saved by afcn-backbone, an image written here; the
//! dumped raw map must equal the closed-form Grad-CAM of the same network computed in-process
//! (at layer 4 a ResNet's head is GAP + linear, so the two are the same map), and the overlay
//! and the up-sampled map must have the input's size.

mod support;

use std::{path::Path, process::Output};

use afcn_backbone::ResNet;
use afcn_data::image_to_tensor;
use afcn_gradcam::{class_attention, heatmap};
use burn::{
    module::Param,
    tensor::{Tensor, TensorData},
};
use support::{B, failure, image, narrow_resnet, success};

/// Input side: ResNets divide by 32, so the map is 2 x 2.
const SIZE: u32 = 64;
const CLASSES: usize = 3;

/// The network input of the test image (of the input size, so the binary does not resize it),
/// as `afcn predict` prepares it (its own test checks that normalisation against hand-written
/// arithmetic).
fn input() -> Tensor<B, 4> {
    image_to_tensor::<B>(&image(SIZE, 0), SIZE, &Default::default()).unsqueeze()
}

/// A narrow ResNet whose head is built for the test instead of drawn: class `c` below the
/// last weighs the channels `k` with `k % CLASSES == c` by 0.1 and no other, the last class
/// weighs every channel by 0.1 and has a bias of 1. Layer 4's features come out of a ReLU, so
/// every class map is a sum of non-negative terms: no cancellation near zero (where a relative
/// comparison of two computations of the same map would measure rounding), and a class's map
/// is positive wherever its channels are. The last class's logit exceeds every other one by at
/// least its bias (it holds each other class's terms and more), so it is the prediction
/// whatever the features, by a margin far above rounding.
fn purpose_built_network() -> ResNet<B> {
    let mut net = narrow_resnet(CLASSES);
    let [features, classes] = net.fc.weight.dims();
    let weight: Vec<f32> = (0..features * classes)
        .map(|i| {
            let (k, c) = (i / classes, i % classes);
            if c == classes - 1 || k % classes == c {
                0.1
            } else {
                0.0
            }
        })
        .collect();
    let device = Default::default();
    net.fc.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(weight, [features, classes]),
        &device,
    ));
    let mut bias = vec![0.0; classes];
    bias[classes - 1] = 1.0;
    net.fc.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(bias, [classes]),
        &device,
    )));
    net
}

/// Writes the network's weights and the image; returns the network and both paths.
fn setup(dir: &Path) -> (ResNet<B>, String, String) {
    let weights = dir.join("weights.safetensors");
    let net = purpose_built_network();
    net.save_safetensors(&weights).expect("weights saved");
    let picture = dir.join("face.png");
    image(SIZE, 0).save(&picture).expect("image written");
    (
        net,
        weights.display().to_string(),
        picture.display().to_string(),
    )
}

/// `afcn explain --arch resnet-narrow --weights <weights> --size 64 <rest>`.
fn explain(weights: &str, rest: &[&str]) -> Output {
    let size = SIZE.to_string();
    let base = [
        "explain",
        "--arch",
        "resnet-narrow",
        "--weights",
        weights,
        "--size",
        &size,
    ];
    support::afcn([&base[..], rest].concat())
}

fn read_npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let array = npyz::NpyFile::new(&bytes[..]).expect("a .npy file");
    let shape = array.shape().to_vec();
    (shape, array.into_vec::<f32>().expect("float32"))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn dumps_the_grad_cam_of_the_network_and_writes_a_readable_panel() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (net, weights, picture) = setup(dir.path());
    let out = dir.path().join("heat.png");
    let prefix = dir.path().join("face");
    for class in 0..CLASSES {
        let stdout = success(&explain(
            &weights,
            &[
                "--class",
                &class.to_string(),
                "--out",
                &out.display().to_string(),
                "--dump",
                &prefix.display().to_string(),
                &picture,
            ],
        ));
        assert!(stdout.contains(&format!("class {class}")));

        // The reference: the closed form on the in-process network (eval mode on Flex).
        let features = net.features(input());
        let expected = class_attention(features, net.head_weight())
            .narrow(1, class, 1)
            .reshape([1, 2, 2]);
        let expected_up = heatmap(expected.clone(), [SIZE as usize; 2]);
        let expected: Vec<f32> = expected.into_data().to_vec().expect("f32");
        let scale = expected.iter().cloned().fold(1e-6, f32::max);

        let (raw_shape, raw) = read_npy(&dir.path().join("face.raw.npy"));
        assert_eq!(raw_shape, [2, 2]);
        assert!(raw.iter().any(|&v| v > 0.0), "class {class}: {raw:?}");
        let error = max_abs_diff(&raw, &expected) / scale;
        assert!(error <= 1e-4, "class {class}: {raw:?} vs {expected:?}");

        let (up_shape, up) = read_npy(&dir.path().join("face.up.npy"));
        assert_eq!(up_shape, [u64::from(SIZE); 2]);
        assert!(up.iter().all(|v| (0.0..=1.0).contains(v)));
        let expected_up: Vec<f32> = expected_up.into_data().to_vec().expect("f32");
        assert!(max_abs_diff(&up, &expected_up) <= 1e-3);

        // The panel: three tiles of at least 224 px under a caption strip.
        let side = SIZE.max(224);
        let panel = afcn_data::image::open(&out).expect("a PNG").to_rgb8();
        assert_eq!(panel.dimensions(), (3 * side + 32, side + 38));
    }
}

#[test]
fn grad_cam_plus_plus_explains_the_predicted_class() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (net, weights, picture) = setup(dir.path());
    let out = dir.path().join("pp.png");
    let stdout = success(&explain(
        &weights,
        &[
            "--method",
            "gradcam++",
            "--out",
            &out.display().to_string(),
            &picture,
        ],
    ));
    let logits: Vec<f32> = net
        .forward(input())
        .logits
        .into_data()
        .to_vec()
        .expect("f32");
    let predicted = (0..CLASSES).fold(0, |b, k| if logits[k] > logits[b] { k } else { b });
    assert_eq!(
        predicted,
        CLASSES - 1,
        "the head's bias decides: {logits:?}"
    );
    assert!(
        stdout.contains(&format!("class {predicted} (gradcam++ at layer4)")),
        "{stdout}"
    );
    assert!(out.exists());
}

#[test]
fn an_unknown_layer_or_class_is_an_error_that_says_why() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, weights, picture) = setup(dir.path());
    let stderr = failure(&explain(&weights, &["--layer", "layer3", &picture]));
    assert!(
        stderr.contains("unknown layer `layer3`") && stderr.contains("layer4"),
        "{stderr}"
    );

    let stderr = failure(&explain(&weights, &["--class", "3", &picture]));
    assert!(stderr.contains("--class 3 is out of range"), "{stderr}");
}
