//! `cargo xtask test`: what CI runs.

use crate::{flags::TestFlags, process};

/// Formatting, clippy over every feature (so that the wgpu and cuda code at least compiles),
/// the workspace tests on the cpu backend, then the backend-parity tests with wgpu.
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
