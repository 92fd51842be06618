//! `afcn eval` on the weights of a tiny SynthFER run: it scores the run's test split exactly as
//! the run's own `confusion.json` does; and the run's pictures (curves, confusion heat map,
//! Grad-CAM panels, the grids of confidently wrong test images and of wrong corrections) exist,
//! are PNGs of the expected size and are linked from `report.md`. A RUL run is scored, and
//! `afcn predict` classifies, with the run's own heads.

mod support;

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use afcn_cli::commands::model_args::load_fer_model;
use afcn_data::image_to_tensor;
use afcn_train::config::{Preset, TrainConfig};
use support::{failure, success, tiny_config, train_command};

/// An explanation panel: three 224-pixel tiles with gaps, under a caption strip.
const PANEL: (u32, u32) = (3 * 224 + 4 * 8, 30 + 224 + 8);

/// Trains the tiny run (it makes wrong corrections for the report to show) into `dir/run`.
fn tiny_run(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    success(
        &train_command(&dir.join("tiny.toml"), &tiny_config(48, 24, 3), &run)
            .output()
            .unwrap(),
    );
    run
}

/// `afcn eval --weights <weights> <rest>`.
fn eval(weights: &Path, rest: &[&str]) -> Output {
    support::afcn([&["eval", "--weights", weights.to_str().unwrap()], rest].concat())
}

/// Width and height of a PNG file (and that it decodes as PNG).
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    // IHDR: width and height, big-endian, after the signature and the chunk header.
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn eval_reproduces_the_runs_confusion_matrix_and_the_run_has_its_pictures() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_run(tmp.path());

    // Pictures, linked from the report.
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    for picture in ["curves.png", "confusion.png"] {
        let (w, h) = png_size(&run.join(picture));
        assert!(w >= 400 && h >= 300, "{picture} is {w}x{h}");
        assert!(report.contains(&format!("]({picture})")), "{report}");
    }
    let mut overlays: Vec<String> = std::fs::read_dir(run.join("overlays"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with("wrong_"))
        .collect();
    overlays.sort();
    assert_eq!(overlays.len(), 3, "{overlays:?}");
    // The grids: three panels each, two to a row.
    for grid in ["overlays/wrong_test.png", "overlays/wrong_corrections.png"] {
        assert_eq!(
            png_size(&run.join(grid)),
            (2 * PANEL.0, 2 * PANEL.1),
            "{grid}"
        );
        assert!(report.contains(&format!("]({grid})")), "{grid}: {report}");
    }
    assert!(
        report.contains("## The most confidently wrong test images"),
        "{report}"
    );
    assert!(
        report.contains("## Label corrections that were wrong"),
        "{report}"
    );
    for name in &overlays {
        // The 64-pixel input shown at 224.
        assert_eq!(png_size(&run.join("overlays").join(name)), PANEL, "{name}");
        assert!(
            report.contains(&format!("](overlays/{name})")),
            "{name}: {report}"
        );
        assert_eq!(
            name.matches('-').count(),
            2,
            "<sample>-<true>-<predicted>.png: {name}"
        );
    }

    // `afcn eval` with the run's config scores exactly what the run reported.
    let weights = run.join("model.safetensors");
    let config = run.join("config.toml");
    let stdout = success(&eval(
        &weights,
        &["--config", config.to_str().unwrap(), "--json"],
    ));
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let reported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("confusion.json")).unwrap())
            .unwrap();
    assert_eq!(result["counts"], reported["counts"]);
    assert_eq!(result["classes"], reported["classes"]);
    assert_eq!(result["samples"], 24);
    assert_eq!(result["accuracy"], reported["accuracy"]);
    assert_eq!(
        result["mean_class_accuracy"],
        reported["mean_class_accuracy"]
    );

    // Text output, flags instead of the config: a different split size, same network.
    let sized = tmp.path().join("sized.toml");
    std::fs::write(&sized, "[data.synthfer]\ntest_size = 10\n").unwrap();
    let eval_sized = |arch: &str| {
        let config = sized.to_str().unwrap();
        eval(
            &weights,
            &["--config", config, "--arch", arch, "--size", "64"],
        )
    };
    let text = success(&eval_sized("resnet-narrow"));
    assert!(text.starts_with("samples: 10\naccuracy: "), "{text}");
    assert!(text.contains("mean class accuracy: "), "{text}");
    assert!(text.contains("| true \\ predicted |"), "{text}");

    // The wrong architecture is refused with the checkpoint's name.
    let stderr = failure(&eval_sized("resnet18"));
    assert!(stderr.contains("model.safetensors"), "{stderr}");
}

#[test]
fn eval_refuses_a_dataset_without_its_root_and_missing_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tmp.path().join("none.safetensors");
    let stderr = failure(&eval(&weights, &["--dataset", "rafdb"]));
    assert!(stderr.contains("--root"), "{stderr}");

    let stderr = failure(&eval(&weights, &[]));
    assert!(stderr.contains("none.safetensors"), "{stderr}");
}

#[test]
fn a_rul_run_is_scored_and_predicted_with_its_own_heads() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("rul");
    let toml = "method = \"rul\"\nepochs = 1\nbatch_size = 16\noverlays = 0\n\
                [data.synthfer]\ntrain_size = 48\ntest_size = 24\n";
    success(
        &train_command(&tmp.path().join("rul.toml"), toml, &run)
            .output()
            .unwrap(),
    );
    // RUL classifies its mean branch: the run writes its heads beside the backbone, and eval
    // with the run's config scores exactly what the run reported.
    assert!(run.join("heads.mpk").is_file());
    let (weights, config) = (run.join("model.safetensors"), run.join("config.toml"));
    let config = config.to_str().unwrap();
    let stdout = success(&eval(&weights, &["--config", config, "--json"]));
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let reported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("confusion.json")).unwrap())
            .unwrap();
    assert_eq!(result["counts"], reported["counts"]);

    // predict with the run's config classifies as the run does: the logits are those of the
    // model with its heads, not of the backbone's own (untrained) classifier.
    let face = tmp.path().join("face.png");
    support::image(64, 3).save(&face).unwrap();
    let (weights_arg, face_arg) = (weights.to_str().unwrap(), face.to_str().unwrap());
    let predicted = |rest: &[&str]| -> Vec<f32> {
        let args = [
            &["predict", "--weights", weights_arg, "--json"],
            rest,
            &[face_arg],
        ];
        let stdout = success(&support::afcn(args.concat()));
        let line: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        serde_json::from_value(line["logits"].clone()).unwrap()
    };
    let device = Default::default();
    let trained =
        TrainConfig::from_toml_file(&run.join("config.toml"), &Preset::Synthfer.config()).unwrap();
    let model = load_fer_model::<support::B>(
        &weights,
        (trained.method, &trained.methods),
        trained.arch,
        (7, "synthfer"),
        64,
        &device,
    )
    .unwrap();
    let input = image_to_tensor(&support::image(64, 3), 64, &device).unsqueeze::<4>();
    let expected: Vec<f32> = model.logits(input).into_data().to_vec().unwrap();
    let with_heads = predicted(&["--config", config]);
    let close = |a: &[f32], b: &[f32]| {
        a.len() == b.len() && a.iter().zip(b).all(|(a, b)| (a - b).abs() <= 1e-4)
    };
    assert!(
        close(&with_heads, &expected),
        "{with_heads:?} vs {expected:?}"
    );
    let backbone_only = predicted(&["--arch", "resnet-narrow", "--size", "64"]);
    assert!(!close(&backbone_only, &expected), "{backbone_only:?}");
    // explain covers the backbone's classifier only, so it refuses the run.
    let stderr = failure(&support::afcn([
        "explain",
        "--weights",
        weights_arg,
        "--config",
        config,
        face_arg,
    ]));
    assert!(
        stderr.contains("a rul run classifies with its method's heads"),
        "{stderr}"
    );

    std::fs::remove_file(run.join("heads.mpk")).unwrap();
    let stderr = failure(&eval(&weights, &["--config", config]));
    assert!(stderr.contains("heads.mpk"), "{stderr}");
    let stderr = failure(&support::afcn([
        "predict",
        "--weights",
        weights_arg,
        "--config",
        config,
        face_arg,
    ]));
    assert!(stderr.contains("heads.mpk"), "{stderr}");
}
