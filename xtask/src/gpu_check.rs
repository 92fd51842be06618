//! `cargo xtask gpu-check --out DIR`: the one command to run on a machine with a GPU.
//!
//! It builds the `afcn` binary with the cuda and wgpu backends in release mode, asks each
//! backend for a device, runs the backend-parity tests (cuda required, wgpu where a Vulkan
//! adapter exists), times the training step with `afcn bench --json` on cuda and on wgpu
//! (ResNet-18 at 112, batch 16, AFCN and cross-entropy; each JSON line goes into its step's
//! `result`), and writes `DIR/gpu-check.json` with every step's command, outcome, duration and
//! log file (`DIR/<step>.log`). Sized to finish within 10 minutes on an H200.

use std::{fs, path::Path, process::Command};

use anyhow::Context;
use serde_json::json;

use crate::{flags::GpuCheckFlags, process};

const FEATURES: &str = "wgpu,cuda";

/// The benchmark's shape: few steps, as the first ones (kernel compilation, autotuning) are
/// the warm-up and dominate the time.
const BENCH_SHAPE: [&str; 12] = [
    "--arch", "resnet18", "--size", "112", "--batch", "16", "--steps", "10", "--warmup", "3",
    "--seed", "0",
];

/// Runs every step, even after a failure, then writes the report; fails if any step failed.
pub fn run(flags: &GpuCheckFlags) -> anyhow::Result<()> {
    fs::create_dir_all(&flags.out).with_context(|| format!("creating {}", flags.out.display()))?;
    let xdg = process::runtime_dir()?;
    let mut steps = Vec::new();

    let mut build = process::cargo(&[
        "build",
        "--release",
        "-p",
        "afcn-train",
        "--features",
        FEATURES,
    ]);
    steps.push(step(&flags.out, "build", &mut build)?);

    let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
    let mut devices = Command::new(Path::new(&target).join("release/afcn"));
    devices.arg("backend").env("XDG_RUNTIME_DIR", &xdg);
    steps.push(step(&flags.out, "backends", &mut devices)?);

    let mut parity = process::cargo(&[
        "test",
        "--release",
        "-p",
        "afcn-train",
        "--features",
        FEATURES,
        "--test",
        "backend_parity",
    ]);
    parity
        .env("AFCN_REQUIRE_CUDA", "1")
        .env("XDG_RUNTIME_DIR", &xdg);
    steps.push(step(&flags.out, "parity", &mut parity)?);

    let afcn = Path::new(&target).join("release/afcn");
    for backend in ["cuda", "wgpu"] {
        // cuda is required; wgpu is benchmarked where a Vulkan adapter exists, as in parity.
        let usable = Command::new(&afcn)
            .args(["backend", "--backend", backend])
            .env("XDG_RUNTIME_DIR", &xdg)
            .output()
            .is_ok_and(|out| out.status.success());
        for method in ["afcn", "ce"] {
            let name = format!("bench-{backend}-{method}");
            if backend == "wgpu" && !usable {
                steps.push(json!({ "name": name, "success": true, "skipped": "no wgpu adapter" }));
                continue;
            }
            let mut bench = Command::new(&afcn);
            bench
                .args(["bench", "--json", "--backend", backend, "--method", method])
                .args(BENCH_SHAPE)
                .env("XDG_RUNTIME_DIR", &xdg);
            let mut outcome = step(&flags.out, &name, &mut bench)?;
            outcome["result"] = bench_result(&flags.out.join(format!("{name}.log")));
            steps.push(outcome);
        }
    }

    let failed: Vec<String> = steps
        .iter()
        .filter(|s| s["success"] == false)
        .map(|s| s["name"].to_string())
        .collect();
    let report = json!({ "features": FEATURES, "steps": steps, "failed": failed });
    let path = flags.out.join("gpu-check.json");
    fs::write(&path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("report: {}", path.display());
    anyhow::ensure!(failed.is_empty(), "gpu-check steps failed: {failed:?}");
    Ok(())
}

/// The JSON line that `afcn bench --json` printed into the log `path` (null when none).
fn bench_result(path: &Path) -> serde_json::Value {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|value| value.get("images_per_sec").is_some())
        .unwrap_or(serde_json::Value::Null)
}

/// Runs one step with its output captured in `out/<name>.log`.
fn step(out: &Path, name: &str, command: &mut Command) -> anyhow::Result<serde_json::Value> {
    let log_path = out.join(format!("{name}.log"));
    let log =
        fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    command.stdout(log.try_clone()?).stderr(log);
    let shown = format!("{command:?}");
    let outcome = process::run(command)?;
    if !outcome.status.success() {
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        eprintln!("--- {name} failed; last lines of {}:", log_path.display());
        for line in tail.iter().rev() {
            eprintln!("{line}");
        }
    }
    Ok(json!({
        "name": name,
        "command": shown,
        "success": outcome.status.success(),
        "seconds": outcome.elapsed.as_secs_f64(),
        "log": log_path.file_name().map(|f| f.to_string_lossy().into_owned()),
    }))
}
