//! `afcn train` end to end on a tiny SynthFER: the run directory it writes, a resume after
//! SIGKILL that reproduces the uninterrupted run exactly, and configuration errors.

mod support;

use std::{
    path::Path,
    process::{Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use support::{failure, resume, success, train_command};

const TINY: &str =
    "epochs = 3\nbatch_size = 16\n[data.synthfer]\ntrain_size = 96\ntest_size = 32\n";

/// `afcn train` on the tiny configuration (written to `dir/tiny.toml`) into `run`.
fn tiny_train(dir: &Path, run: &Path) -> Command {
    train_command(&dir.join("tiny.toml"), TINY, run)
}

/// (loss, test accuracy, corrections) of each epoch in a run's `metrics.json`.
fn curve(run: &Path) -> Vec<(f64, f64, u64)> {
    let text = std::fs::read_to_string(run.join("metrics.json")).unwrap();
    let metrics: serde_json::Value = serde_json::from_str(&text).unwrap();
    metrics["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["loss"].as_f64().unwrap(),
                e["test_accuracy"].as_f64().unwrap(),
                e["corrections"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_run_writes_every_output_and_resumes_after_sigkill_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    success(&tiny_train(tmp.path(), &whole).output().unwrap());
    for file in [
        "config.toml",
        "metrics.json",
        "confusion.json",
        "model.safetensors",
        "corrections.csv",
        "suspects.csv",
        "report.md",
        "COMPLETE",
    ] {
        assert!(whole.join(file).is_file(), "missing {file}");
    }
    let expected = curve(&whole);
    assert_eq!(expected.len(), 3);
    assert!(expected.iter().all(|(loss, _, _)| loss.is_finite()));
    let report = std::fs::read_to_string(whole.join("report.md")).unwrap();
    assert!(report.contains("Clean test accuracy"), "{report}");

    // The same run, killed with SIGKILL as soon as its first checkpoint exists.
    let killed = tmp.path().join("killed");
    let mut child = tiny_train(tmp.path(), &killed)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !killed.join("latest").exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint");
        sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!killed.join("COMPLETE").exists());

    success(&resume(&killed));
    assert!(killed.join("COMPLETE").exists());
    assert_eq!(curve(&killed), expected, "the resumed run diverged");
}

#[test]
fn an_existing_run_is_not_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("latest"), "checkpoint-0000").unwrap();
    std::fs::create_dir(run.join("checkpoint-0000")).unwrap();
    let stderr = failure(&tiny_train(tmp.path(), &run).output().unwrap());
    assert!(stderr.contains("--resume"), "{stderr}");
}

#[test]
fn bad_configuration_values_are_named_errors() {
    let tmp = tempfile::tempdir().unwrap();
    for (text, expected) in [
        ("epochz = 3\n", "epochz"),
        ("[methods.afcn]\nbeta = 2.0\n", "methods.afcn.beta"),
        ("batch_size = 0\n", "batch_size"),
    ] {
        let never = tmp.path().join("never");
        let out = train_command(&tmp.path().join("bad.toml"), text, &never)
            .output()
            .unwrap();
        let stderr = failure(&out);
        assert!(stderr.contains(expected), "{text}: {stderr}");
        assert!(!never.exists());
    }
}
