//! `afcn train` end to end on a tiny SynthFER: the run directory it writes, a resume after
//! SIGKILL that reproduces the uninterrupted run exactly, and configuration errors.

use std::{
    path::Path,
    process::{Command, Output},
    thread::sleep,
    time::{Duration, Instant},
};

const TINY: &str =
    "epochs = 3\nbatch_size = 16\n[data.synthfer]\ntrain_size = 96\ntest_size = 32\n";

fn afcn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_afcn"))
}

fn train(dir: &Path, extra: &[&str]) -> Output {
    let config = dir.join("tiny.toml");
    std::fs::write(&config, TINY).unwrap();
    afcn()
        .arg("train")
        .arg("--config")
        .arg(&config)
        .args(extra)
        .output()
        .unwrap()
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
    let out = train(tmp.path(), &["--out", whole.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    std::fs::write(tmp.path().join("tiny.toml"), TINY).unwrap();
    let mut child = afcn()
        .arg("train")
        .arg("--config")
        .arg(tmp.path().join("tiny.toml"))
        .arg("--out")
        .arg(&killed)
        .stderr(std::process::Stdio::null())
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

    let resumed = afcn()
        .arg("train")
        .arg("--resume")
        .arg(&killed)
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
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
    let out = train(tmp.path(), &["--out", run.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--resume"), "{stderr}");
}

#[test]
fn bad_configuration_values_are_named_errors() {
    let tmp = tempfile::tempdir().unwrap();
    for (text, expected) in [
        ("epochz = 3\n", "epochz"),
        ("[afcn]\nbeta = 2.0\n", "beta"),
        ("batch_size = 0\n", "batch_size"),
    ] {
        let config = tmp.path().join("bad.toml");
        std::fs::write(&config, text).unwrap();
        let out = afcn()
            .arg("train")
            .arg("--config")
            .arg(&config)
            .arg("--out")
            .arg(tmp.path().join("never"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{text}: {stderr}");
        assert!(!tmp.path().join("never").exists());
    }
}
