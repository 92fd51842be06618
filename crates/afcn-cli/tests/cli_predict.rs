//! `afcn predict` end to end: weights saved by afcn-backbone, images written here, the
//! binary's logits checked against the network run in-process on hand-normalised pixels.

mod support;

use std::{path::Path, process::Output};

use afcn_backbone::ResNet;
use afcn_data::{RAFDB_CLASSES, image::RgbImage};
use burn::tensor::{Tensor, TensorData};
use support::{B, failure, image, save_narrow_resnet, success};

const SIZE: u32 = 32;

/// ImageNet normalisation written out: (v / 255 - mean) / std, channel first.
fn normalised(image: &RgbImage) -> Tensor<B, 4> {
    const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    const STD: [f32; 3] = [0.229, 0.224, 0.225];
    let (w, h) = image.dimensions();
    let mut values = Vec::new();
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                let v = f32::from(image.get_pixel(x, y).0[c]) / 255.0;
                values.push((v - MEAN[c]) / STD[c]);
            }
        }
    }
    let data = TensorData::new(values, [1, 3, h as usize, w as usize]);
    Tensor::from_data(data, &Default::default())
}

/// `afcn predict --arch <arch> --weights <weights> <rest>`.
fn predict(arch: &str, weights: &str, rest: &[&str]) -> Output {
    support::afcn([&["predict", "--arch", arch, "--weights", weights], rest].concat())
}

/// Saves a narrow ResNet with `num_classes` outputs in `dir`; returns it and the file's path.
fn write_weights(dir: &Path, num_classes: usize) -> (ResNet<B>, String) {
    let path = dir.join("weights.safetensors");
    let net = save_narrow_resnet(&path, num_classes);
    (net, path.display().to_string())
}

#[test]
fn json_lines_carry_the_network_logits_and_their_softmax() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (net, weights) = write_weights(dir.path(), 3);
    let paths: Vec<String> = (0..2)
        .map(|i| {
            let path = dir.path().join(format!("face{i}.png"));
            image(SIZE, i).save(&path).expect("image written");
            path.display().to_string()
        })
        .collect();
    let size = SIZE.to_string();
    let mut rest = vec!["--size", &size, "--json"];
    rest.extend(paths.iter().map(String::as_str));
    let stdout = success(&predict("resnet-narrow", &weights, &rest));
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["image"], paths[i]);
        let floats = |key: &str| -> Vec<f32> {
            line[key]
                .as_array()
                .expect("array")
                .iter()
                .map(|v| v.as_f64().expect("number") as f32)
                .collect()
        };
        let (logits, probs) = (floats("logits"), floats("probs"));
        // The image already has the input size: no resize, only normalisation.
        let expected: Vec<f32> = net
            .forward(normalised(&image(SIZE, i as u32)))
            .logits
            .into_data()
            .to_vec()
            .expect("f32");
        for (a, b) in logits.iter().zip(&expected) {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "{logits:?} vs {expected:?}"
            );
        }
        let max = logits.iter().cloned().fold(f32::MIN, f32::max);
        let z: f32 = logits.iter().map(|l| (l - max).exp()).sum();
        for (p, l) in probs.iter().zip(&logits) {
            assert!((p - (l - max).exp() / z).abs() < 1e-5, "{probs:?}");
        }
        let argmax = (0..3).fold(0, |b, k| if logits[k] > logits[b] { k } else { b });
        assert_eq!(line["index"], argmax);
        assert_eq!(line["class"], format!("class{argmax}"));
    }
}

#[test]
fn text_output_names_the_class_and_resizes_other_sizes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, weights) = write_weights(dir.path(), 7);
    let path = dir.path().join("big.jpg");
    image(50, 3).save(&path).expect("image written");
    let path = path.display().to_string();
    let stdout = success(&predict(
        "resnet-narrow",
        &weights,
        &["--size", "32", &path],
    ));
    let fields: Vec<&str> = stdout.trim_end().split('\t').collect();
    assert_eq!(fields[0], path);
    assert!(RAFDB_CLASSES.contains(&fields[1]), "{stdout}");
    let probs: f32 = fields[3]
        .split(' ')
        .map(|kv| {
            kv.split_once('=')
                .expect("name=p")
                .1
                .parse::<f32>()
                .expect("p")
        })
        .sum();
    assert!((probs - 1.0).abs() < 1e-3, "{stdout}");
    assert!(
        RAFDB_CLASSES
            .iter()
            .all(|name| fields[3].contains(&format!("{name}="))),
        "{stdout}"
    );

    let stdout = success(&predict(
        "resnet-narrow",
        &weights,
        &["--size", "32", "--classes", "a,b,c,d,e,f,g", &path],
    ));
    assert!(stdout.contains("a=") && stdout.contains("g="), "{stdout}");
}

#[test]
fn errors_name_the_bad_image_and_the_class_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, weights) = write_weights(dir.path(), 3);
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"this is not a png").expect("written");
    let bad = bad.display().to_string();
    let stderr = failure(&predict("resnet-narrow", &weights, &["--size", "32", &bad]));
    assert!(stderr.contains("broken.png"), "{stderr}");

    let stderr = failure(&predict(
        "resnet-narrow",
        &weights,
        &["--classes", "x,y", &bad],
    ));
    assert!(
        stderr.contains("2 names") && stderr.contains("3 outputs"),
        "{stderr}"
    );

    let stderr = failure(&predict("resnet18", &weights, &[&bad]));
    assert!(stderr.contains("conv1.weight"), "{stderr}");
}
