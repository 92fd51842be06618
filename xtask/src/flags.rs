//! The command-line flags of every task, in one place.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Project automation for afcn.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
pub struct Xtask {
    /// The task to run.
    #[command(subcommand)]
    pub task: Task,
}

/// The tasks.
#[derive(Debug, Subcommand)]
pub enum Task {
    /// The README's test command: formatting, clippy, the workspace tests on the cpu backend,
    /// then the backend-parity tests on wgpu when a Vulkan adapter exists.
    Test(TestFlags),
    /// One command for a GPU machine: builds with cuda and wgpu, runs the backend-parity tests
    /// and the training-step benchmark on each backend, writes a JSON report.
    GpuCheck(GpuCheckFlags),
}

/// Flags of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct TestFlags {
    /// Skip `cargo fmt --check` and clippy (only the tests run).
    #[arg(long)]
    pub no_lint: bool,
}

/// Flags of `cargo xtask gpu-check`.
#[derive(Debug, clap::Args)]
pub struct GpuCheckFlags {
    /// Directory for `gpu-check.json` and the logs of each step.
    #[arg(long)]
    pub out: PathBuf,
}
