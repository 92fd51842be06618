//! `afcn pretrain` end to end on a tiny identity set: the run directory and its
//! `backbone.safetensors`, `--reuse`, and fine-tuning from it with `afcn train --weights`.

mod support;

use std::process::Output;

use support::{afcn, failure, text, train_command};

/// Asserts success and returns everything the run printed.
#[track_caller]
fn ok(out: Output) -> String {
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    log
}

const TINY_PEOPLE: &str = "epochs = 2\nbatch_size = 8\n\
    [data.synthfer]\nimage_size = 32\n\
    [data.identities]\nidentities = 6\ntrain_renders = 4\ntest_renders = 2\n";

const TINY_EXPRESSIONS: &str = "epochs = 1\nbatch_size = 16\n[data.synthfer]\nimage_size = 32\ntrain_size = 32\ntest_size = 16\n";

#[test]
fn pretraining_writes_a_backbone_that_fine_tuning_loads() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("people.toml");
    std::fs::write(&config, TINY_PEOPLE).unwrap();
    let run = dir.path().join("pretrain");
    let args = [
        "pretrain".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--identities".as_ref(),
        "5".as_ref(),
        "--out".as_ref(),
        run.as_os_str(),
    ];
    let log = ok(afcn(args));
    assert!(
        log.contains(
            "training baseline on synthfer-identities: 20 train / 10 test images, 5 classes"
        ),
        "{log}"
    );
    let backbone = run.join("backbone.safetensors");
    assert!(backbone.is_file(), "{log}");
    assert_eq!(
        std::fs::read(&backbone).unwrap(),
        std::fs::read(run.join("model.safetensors")).unwrap()
    );
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("backbone.safetensors"), "{report}");
    assert!(
        report.contains("Identity accuracy on held-out renders"),
        "{report}"
    );

    // Made once: a second call with --reuse keeps the run; without it, the run is refused.
    let again = ok(afcn(args.iter().copied().chain(["--reuse".as_ref()])));
    assert!(
        again.contains("reusing the face-pretrained backbone"),
        "{again}"
    );
    let refused = failure(&afcn(args));
    assert!(refused.contains("already holds a run"), "{refused}");
    // A run of another configuration is not taken for the one asked.
    let other = failure(&afcn(args.iter().copied().chain([
        "--reuse".as_ref(),
        "--epochs".as_ref(),
        "3".as_ref(),
    ])));
    assert!(
        other.contains(
            "holds a pretraining run of another configuration (epochs = 3 (the run has 2)"
        ),
        "{other}"
    );

    // Fine-tuning from it: every backbone tensor applied, the 5-way classifier re-created.
    let tuned = dir.path().join("tuned");
    let toml = format!(
        "weights = {:?}\n{TINY_EXPRESSIONS}",
        backbone.display().to_string()
    );
    let log = ok(train_command(&dir.path().join("tuned.toml"), &toml, &tuned)
        .output()
        .unwrap());
    assert!(log.contains("applied 100 tensors"), "{log}");
    assert!(
        log.contains("classifier re-initialised: checkpoint fc.weight [5, 128], model [7, 128]"),
        "{log}"
    );
    assert!(tuned.join("COMPLETE").exists());
}

#[test]
fn the_synthfer_pretrained_preset_says_how_to_make_its_backbone() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_afcn"))
        .current_dir(dir.path())
        .args(["train", "--preset", "synthfer-pretrained", "--epochs", "1"])
        .output()
        .unwrap();
    let err = failure(&out);
    assert!(
        err.contains("runs/pretrain-resnet-narrow-seed0/backbone.safetensors")
            && err.contains("afcn pretrain"),
        "{err}"
    );
    assert!(!dir.path().join("runs").exists(), "nothing is written");
}
