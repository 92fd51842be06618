//! `afcn explain` end to end: weights saved by afcn-backbone, an image written here; the
//! dumped raw map must equal the closed-form Grad-CAM of the same network computed in-process
//! (at layer 4 a ResNet's head is GAP + linear, so the two are the same map), and the overlay
//! and the up-sampled map must have the input's size.

use std::{path::Path, process::Command};

use afcn_backbone::{Arch, ResNet, ResNetConfig};
use afcn_data::{
    image::{Rgb, RgbImage},
    image_to_tensor,
};
use afcn_gradcam::{class_attention, heatmap};
use burn::{backend::Flex, tensor::Tensor};

type B = Flex;

/// Input side: ResNets divide by 32, so the map is 2 x 2.
const SIZE: u32 = 64;
const CLASSES: usize = 3;

fn afcn(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_afcn"))
        .args(args)
        .output()
        .expect("the afcn binary runs")
}

/// A deterministic colourful image of the input size (so the binary does not resize it).
fn image() -> RgbImage {
    RgbImage::from_fn(SIZE, SIZE, |x, y| {
        Rgb([
            ((x * 7 + y * 3) % 256) as u8,
            ((x * x + y) % 256) as u8,
            ((y * 13 + x) % 256) as u8,
        ])
    })
}

/// The network input of [`image`], as `afcn predict` prepares it (its own test checks that
/// normalisation against hand-written arithmetic).
fn input() -> Tensor<B, 4> {
    image_to_tensor::<B>(&image(), SIZE, &Default::default()).unsqueeze()
}

/// Writes the network's weights and the image; returns the network and both paths.
fn setup(dir: &Path) -> (ResNet<B>, String, String) {
    let net = ResNetConfig::new()
        .with_arch(Arch::ResNetNarrow)
        .with_num_classes(CLASSES)
        .init::<B>(&Default::default());
    let weights = dir.join("weights.safetensors");
    net.save_safetensors(&weights).expect("weights saved");
    let picture = dir.join("face.png");
    image().save(&picture).expect("image written");
    (
        net,
        weights.display().to_string(),
        picture.display().to_string(),
    )
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
fn dumps_the_grad_cam_of_the_network_and_an_overlay_of_the_input_size() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (net, weights, picture) = setup(dir.path());
    let out = dir.path().join("heat.png");
    let prefix = dir.path().join("face");
    let size = SIZE.to_string();
    let mut explained_something = false;
    for class in 0..CLASSES {
        let class_arg = class.to_string();
        let run = afcn(&[
            "explain",
            "--arch",
            "resnet-narrow",
            "--weights",
            &weights,
            "--size",
            &size,
            "--class",
            &class_arg,
            "--out",
            &out.display().to_string(),
            "--dump",
            &prefix.display().to_string(),
            &picture,
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(String::from_utf8_lossy(&run.stdout).contains(&format!("class {class}")));

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
        explained_something |= raw.iter().any(|&v| v > 0.0);
        let error = max_abs_diff(&raw, &expected) / scale;
        assert!(error <= 1e-4, "class {class}: {raw:?} vs {expected:?}");

        let (up_shape, up) = read_npy(&dir.path().join("face.up.npy"));
        assert_eq!(up_shape, [u64::from(SIZE); 2]);
        assert!(up.iter().all(|v| (0.0..=1.0).contains(v)));
        let expected_up: Vec<f32> = expected_up.into_data().to_vec().expect("f32");
        assert!(max_abs_diff(&up, &expected_up) <= 1e-3);

        let overlay = afcn_data::image::open(&out).expect("a PNG").to_rgb8();
        assert_eq!(overlay.dimensions(), (SIZE, SIZE));
    }
    assert!(explained_something, "some class has positive evidence");
}

#[test]
fn grad_cam_plus_plus_explains_the_predicted_class() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (net, weights, picture) = setup(dir.path());
    let out = dir.path().join("pp.png");
    let run = afcn(&[
        "explain",
        "--arch",
        "resnet-narrow",
        "--weights",
        &weights,
        "--size",
        &SIZE.to_string(),
        "--method",
        "gradcam++",
        "--out",
        &out.display().to_string(),
        &picture,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let logits: Vec<f32> = net
        .forward(input())
        .logits
        .into_data()
        .to_vec()
        .expect("f32");
    let predicted = (0..CLASSES).fold(0, |b, k| if logits[k] > logits[b] { k } else { b });
    let stdout = String::from_utf8_lossy(&run.stdout);
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
    let size = SIZE.to_string();
    let base = [
        "explain",
        "--arch",
        "resnet-narrow",
        "--weights",
        &weights,
        "--size",
        &size,
    ];
    let layer = afcn(&[&base[..], &["--layer", "layer3", &picture]].concat());
    assert!(!layer.status.success());
    let stderr = String::from_utf8_lossy(&layer.stderr);
    assert!(
        stderr.contains("unknown layer `layer3`") && stderr.contains("layer4"),
        "{stderr}"
    );

    let class = afcn(&[&base[..], &["--class", "3", &picture]].concat());
    assert!(!class.status.success());
    let stderr = String::from_utf8_lossy(&class.stderr);
    assert!(stderr.contains("--class 3 is out of range"), "{stderr}");
}
