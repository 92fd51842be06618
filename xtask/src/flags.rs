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
    /// Trains a method (AFCN on SynthFER by default): runs `afcn train` with these flags
    /// (`--config F`, `--method M`, `--dataset D --root DIR`, `--noise P`, `--seed S`,
    /// `--backend B`, `--epochs E`, `--out DIR`, `--resume RUN_DIR`; see `afcn train --help`),
    /// compiling in the backend that `--backend` names.
    Train(TrainFlags),
    /// Renders SynthFER into a folder in RAF-DB's layout.
    Synth(SynthFlags),
    /// Times the training step on random images: runs `afcn bench` with these flags
    /// (`--backend B`, `--method ce|eac|afcn`, `--arch A`, `--size S`, `--batch N`,
    /// `--steps K`, `--warmup W`, `--phases`, `--json`; see `afcn bench --help`), compiling in
    /// the backend that `--backend` names.
    Bench(BenchFlags),
}

/// Flags of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct TestFlags {
    /// Skip `cargo fmt --check` and clippy (only the tests run).
    #[arg(long)]
    pub no_lint: bool,
}

/// Flags of `cargo xtask train`: passed through to `afcn train`.
#[derive(Debug, clap::Args)]
pub struct TrainFlags {
    /// The flags of `afcn train`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// Flags of `cargo xtask bench`: passed through to `afcn bench`.
#[derive(Debug, clap::Args)]
pub struct BenchFlags {
    /// The flags of `afcn bench`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// Flags of `cargo xtask synth`.
#[derive(Debug, clap::Args)]
pub struct SynthFlags {
    /// The dataset root to write (`EmoLabel/list_patition_label.txt`, `Image/aligned/`).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of training images (SynthFER's default when omitted: 4000).
    #[arg(long)]
    pub train: Option<usize>,
    /// Number of test images (default 1000).
    #[arg(long)]
    pub test: Option<usize>,
    /// Image side in pixels (default 64).
    #[arg(long)]
    pub size: Option<u32>,
    /// Generator seed (default 0).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Flags of `cargo xtask gpu-check`.
#[derive(Debug, clap::Args)]
pub struct GpuCheckFlags {
    /// Directory for `gpu-check.json` and the logs of each step.
    #[arg(long)]
    pub out: PathBuf,
}
