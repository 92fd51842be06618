//! `cargo xtask bench`: the training-step benchmark. Runs `afcn bench` with these flags
//! (`--backend B --method M --arch A --size S --batch N --steps K --warmup W --phases --json`;
//! see `afcn bench --help`), compiling in the backend that `--backend` names. It uses the dev
//! profile, whose dependencies (Burn) are built optimised, as `cargo xtask train` does;
//! `docs/performance.md` compares it with a release build.

use crate::{
    flags::BenchFlags,
    process::{afcn, backend_feature, run_ok},
};

/// Runs `afcn bench` with the flags given.
pub fn run(flags: &BenchFlags) -> anyhow::Result<()> {
    let features: Vec<&str> = backend_feature(&flags.args).into_iter().collect();
    let mut command = afcn(&features);
    command.arg("bench").args(&flags.args);
    run_ok(&mut command)?;
    Ok(())
}
