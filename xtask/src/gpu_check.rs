//! `cargo xtask gpu-check [--out DIR] [--quick]`: the GPU check on this machine, for one that
//! has both the Rust toolchain and a GPU. It builds the bundle (`cargo xtask gpu-bundle`,
//! into `target/gpu-bundle`) and runs its driver `run-gpu-check` with the checkout's
//! fixtures, exactly as a GPU machine without cargo runs it (docs/performance.md).

use std::path::Path;

use crate::{
    flags::{GpuBundleFlags, GpuCheckFlags},
    gpu_bundle, process,
};

/// Builds the bundle and runs its driver; fails when a step of the check failed.
pub fn run(flags: &GpuCheckFlags) -> anyhow::Result<()> {
    let bundle = GpuBundleFlags {
        out: "target/gpu-bundle".into(),
    };
    gpu_bundle::run(&bundle)?;
    let mut driver = std::process::Command::new(Path::new(&bundle.out).join("run-gpu-check"));
    driver
        .arg("--out")
        .arg(&flags.out)
        .args(["--fixtures", "fixtures"]);
    if flags.quick {
        driver.arg("--quick");
    }
    process::run_ok(&mut driver)?;
    Ok(())
}
