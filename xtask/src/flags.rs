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
    /// The README's test command: first installs what the tests need and the machine lacks
    /// (Debian packages through apt-get, zig, cargo-zigbuild), then formatting, clippy, the
    /// workspace tests on the cpu backend, then the GPU bundle, built and checked, and its
    /// driver run with `--quick` (the backend-parity tests on wgpu among its steps).
    Test(TestFlags),
    /// Builds, on this machine, what the GPU check runs on a machine with a GPU and no Rust
    /// toolchain: the release `afcn` binary with cuda and wgpu, the backend-parity test binary
    /// and the driver `run-gpu-check`, linked against glibc 2.28 (cargo-zigbuild), checked
    /// and sized, packed into `<out>.tar.xz` (docs/performance.md).
    GpuBundle(GpuBundleFlags),
    /// Builds the GPU bundle into `target/gpu-bundle` and runs its driver here: the GPU
    /// check on this machine (backends without a driver are reported and skipped).
    GpuCheck(GpuCheckFlags),
    /// Trains a method (AFCN on SynthFER by default): runs `afcn train` with these flags
    /// (`--config F`, `--method M`, `--dataset D --root DIR`, `--noise P`, `--seed S`,
    /// `--backend B`, `--epochs E`, `--out DIR`, `--resume RUN_DIR`; see `afcn train --help`),
    /// compiling in the backend that `--backend` names. `--preset synthfer-pretrained` first
    /// makes the pretrained backbone (`cargo xtask pretrain`) if it does not exist yet.
    Train(AfcnFlags),
    /// Makes the face-pretrained backbone of the `synthfer-pretrained` preset once: runs
    /// `afcn pretrain --reuse` with these flags (`--arch A`, `--identities N`, `--epochs E`,
    /// `--out DIR`; see `afcn pretrain --help`), which keeps a complete pretraining run.
    Pretrain(AfcnFlags),
    /// Renders SynthFER into a folder in RAF-DB's layout: runs `afcn synth` with these flags
    /// (`--out DIR`, `--train N`, `--test M`, `--size S`, `--seed K`, `--config F`; see
    /// `afcn synth --help`).
    Synth(AfcnFlags),
    /// Times the training step on random images: runs `afcn bench` with these flags
    /// (`--backend B`, `--method ce|eac|afcn`, `--arch A`, `--size S`, `--batch N`,
    /// `--steps K`, `--warmup W`, `--phases`, `--json`; see `afcn bench --help`), compiling in
    /// the backend that `--backend` names.
    Bench(AfcnFlags),
    /// The paper's tables, measured: trains every cell (methods x noise levels, or the ablation,
    /// or the beta x lambda grid) for each seed and writes a markdown table of mean +- std;
    /// complete runs are reused, so an interrupted reproduce continues.
    Reproduce(ReproduceFlags),
    /// Checks that the seed-0 figures the documentation quotes are the code's: each page that
    /// `docs/figures.toml` lists must quote its run's final test accuracy and label
    /// corrections as the file writes them, and each run, trained into
    /// `target/doc-figures/<name>` (`afcn train`, minutes each), must give them.
    DocFigures(DocFiguresFlags),
    /// Fuzzes the label-list, CSV and config parsers (`fuzz/`, cargo-fuzz on nightly) for a
    /// bounded time per target; without nightly or cargo-fuzz, says so and replays the
    /// committed corpus on stable instead.
    Fuzz(FuzzFlags),
}

/// Flags of `cargo xtask doc-figures`.
#[derive(Debug, clap::Args)]
pub struct DocFiguresFlags {
    /// Check the pages against `docs/figures.toml` only, training nothing (seconds).
    #[arg(long)]
    pub only_docs: bool,
}

/// Flags of `cargo xtask fuzz`.
#[derive(Debug, clap::Args)]
pub struct FuzzFlags {
    /// Seconds of fuzzing per target.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Only this target (`label_list`, `ferplus_csv`, `affectnet_csv`, `config`).
    #[arg(long)]
    pub target: Option<String>,
}

/// Flags of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct TestFlags {
    /// Skip `cargo fmt --check`, clippy, the doc build and `cargo package` (only the tests run).
    #[arg(long)]
    pub no_lint: bool,
    /// Install nothing: when something the tests need is missing, fail with the command line
    /// that installs it.
    #[arg(long)]
    pub no_install: bool,
}

/// Flags of the tasks that run an `afcn` subcommand (`train`, `bench`, `synth`): passed
/// through unchanged.
#[derive(Debug, clap::Args)]
pub struct AfcnFlags {
    /// The flags of the `afcn` subcommand.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// Flags of `cargo xtask gpu-bundle`.
#[derive(Debug, clap::Args)]
pub struct GpuBundleFlags {
    /// The bundle's folder (replaced); its archive is written beside it as `<out>.tar.xz`.
    #[arg(long, default_value = "target/gpu-bundle")]
    pub out: PathBuf,
}

/// Flags of `cargo xtask gpu-check`.
#[derive(Debug, clap::Args)]
pub struct GpuCheckFlags {
    /// Directory for `gpu-check.json`, the logs of each step and the training runs.
    #[arg(long, default_value = "target/gpu-check")]
    pub out: PathBuf,
    /// The driver's `--quick`: small shapes, for a machine without a GPU.
    #[arg(long)]
    pub quick: bool,
}

/// Flags of `cargo xtask reproduce`.
#[derive(Clone, Debug, clap::Args)]
pub struct ReproduceFlags {
    /// The preset every run starts from (`synthfer`, `synthfer-pretrained`, `paper`);
    /// `synthfer-pretrained` first makes the pretrained backbone (`cargo xtask pretrain`).
    #[arg(long, default_value = "synthfer")]
    pub preset: String,
    /// The dataset (`synthfer`, `rafdb`, `ferplus`, `affectnet`, `folder`).
    #[arg(long, default_value = "synthfer")]
    pub dataset: String,
    /// The dataset's root directory (every dataset but synthfer).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Noise rates, comma-separated (default 0.1,0.2,0.3; 0.3 for --ablation and --grid).
    #[arg(long, value_delimiter = ',')]
    pub noise: Option<Vec<f64>>,
    /// Methods of the comparison, comma-separated (default: every method of `afcn methods`).
    #[arg(long, value_delimiter = ',')]
    pub methods: Option<Vec<String>>,
    /// Seeds per cell (0, 1, ... N-1).
    #[arg(long, default_value_t = 3)]
    pub seeds: usize,
    /// The ablation instead: AFCN in full and with each of its five switches off.
    #[arg(long, conflicts_with = "grid")]
    pub ablation: bool,
    /// The 5x5 grid instead: AFCN over beta {0.1, 0.3, 0.5, 0.7, 1} x lambda {1, 3, 5, 7, 10}.
    #[arg(long)]
    pub grid: bool,
    /// A base `afcn train` config file for every run (e.g. smaller SynthFER splits); the
    /// ablation and the grid add their `[methods.afcn]` keys to it, so it must not set those.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Epochs per run (default: the preset's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// The compute backend of every run (`cpu`, `wgpu`, `cuda`).
    #[arg(long)]
    pub backend: Option<String>,
    /// Runs trained at once. On the cpu backend one run keeps about one core busy, so a
    /// machine with N cores can take `--jobs N`; with more than one, each run's output goes to
    /// `<run dir>.log` instead of the terminal.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// The directory of the runs and of the table (`<out>/comparison.md`, `ablation.md` or
    /// `grid.md`). Default: `runs/reproduce`, or `runs/reproduce-<preset>` for a preset other
    /// than `synthfer`.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl ReproduceFlags {
    /// The directory of the runs and the table.
    pub fn out_dir(&self) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| match self.preset.as_str() {
                "synthfer" => PathBuf::from("runs/reproduce"),
                preset => PathBuf::from(format!("runs/reproduce-{preset}")),
            })
    }

    /// The noise rates to run: `--noise`, or the study's default.
    pub fn noise_levels(&self) -> Vec<f64> {
        match &self.noise {
            Some(levels) => levels.clone(),
            None if self.ablation || self.grid => vec![0.3],
            None => vec![0.1, 0.2, 0.3],
        }
    }
}
