//! `cargo xtask test`: what CI runs.

use crate::{flags::TestFlags, process};

/// Formatting, clippy over every feature (so that the wgpu, cuda and mpi code at least
/// compiles), the workspace tests on the cpu backend, the MPI tests (2 ranks under `mpirun`),
/// then the backend-parity tests with wgpu.
///
/// The parity tests decide themselves whether a Vulkan adapter exists; with
/// `AFCN_REQUIRE_WGPU=1` (set by `.ci/run`) a missing adapter fails them instead of skipping.
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
    process::run_ok(
        process::cargo(&[
            "test",
            "-p",
            "afcn-train",
            "--features",
            "wgpu",
            "--test",
            "backend_parity",
        ])
        .env("XDG_RUNTIME_DIR", process::runtime_dir()?),
    )?;
    Ok(())
}
