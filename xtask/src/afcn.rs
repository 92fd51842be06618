//! `cargo xtask train`, `bench` and `synth`: run the `afcn` subcommand of the same name with
//! the flags given, compiling in the backend that `--backend` names.
//!
//! `cargo xtask train` is the README's main command: with no flags it trains AFCN on SynthFER
//! on the cpu backend (the `synthfer` preset). They use the dev profile, whose dependencies
//! (Burn) are built optimised, so that they share one build with `cargo xtask test`;
//! `docs/performance.md` compares it with a release build.

use crate::{
    flags::AfcnFlags,
    process::{afcn, backend_feature, run_ok},
};

/// Runs `afcn <subcommand>` with the flags given.
pub fn run(subcommand: &str, flags: &AfcnFlags) -> anyhow::Result<()> {
    let features: Vec<&str> = backend_feature(&flags.args).into_iter().collect();
    let mut command = afcn(&features);
    command.arg(subcommand).args(&flags.args);
    run_ok(&mut command)?;
    Ok(())
}
