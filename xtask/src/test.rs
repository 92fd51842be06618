//! `cargo xtask test`: what CI runs.

use crate::{
    flags::{GpuBundleFlags, TestFlags},
    gpu_bundle, process,
};

/// Formatting, clippy over every feature (so that the wgpu, cuda and mpi code at least
/// compiles), the workspace tests on the cpu backend, the MPI tests (2 ranks under `mpirun`),
/// then the GPU bundle (`cargo xtask gpu-bundle`): built, checked, and its driver run with
/// `--quick`, which runs the backend-parity tests on wgpu (a Vulkan driver is required where
/// one is installed: `.ci/run` installs lavapipe) and every other step of the GPU check at
/// small sizes.
pub fn run(flags: &TestFlags) -> anyhow::Result<()> {
    if !flags.no_lint {
        process::run_ok(&mut process::cargo(&["fmt", "--all", "--", "--check"]))?;
        process::run_ok(&mut process::cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))?;
    }
    process::run_ok(&mut process::cargo(&[
        "test",
        "--workspace",
        "--all-targets",
    ]))?;
    process::run_ok(&mut process::cargo(&["test", "--workspace", "--doc"]))?;
    // Data-parallel training: 2 MPI ranks on this machine (OpenMPI, installed by `.ci/run`).
    process::run_ok(&mut process::cargo(&[
        "test",
        "-p",
        "afcn-train",
        "--features",
        "mpi",
        "--test",
        "mpi_train",
    ]))?;
    // The GPU bundle, whose driver runs the backend-parity tests here on wgpu (and reports
    // cuda as without a driver): built in release for glibc 2.28, then checked by the
    // ignored test that needs it.
    let bundle = GpuBundleFlags {
        out: "target/gpu-bundle".into(),
    };
    gpu_bundle::run(&bundle)?;
    process::run_ok(
        process::cargo(&[
            "test",
            "-p",
            "xtask",
            "--bin",
            "xtask",
            "--",
            "--ignored",
            "--exact",
            "gpu_bundle::built::the_bundle_is_portable_and_its_driver_runs_without_a_gpu",
        ])
        .env("AFCN_GPU_BUNDLE", &bundle.out),
    )?;
    Ok(())
}
