//! `cargo xtask train`: the README's main command. Runs `afcn train`, with the cargo
//! feature of the backend that `--backend` asks for; with no flags it trains AFCN on
//! SynthFER on the cpu backend (the `synthfer` preset).

use crate::{
    flags::TrainFlags,
    process::{afcn, backend_feature, run_ok},
};

/// Runs `afcn train` with the flags given.
pub fn run(flags: &TrainFlags) -> anyhow::Result<()> {
    let features: Vec<&str> = backend_feature(&flags.args).into_iter().collect();
    let mut command = afcn(&features);
    command.arg("train").args(&flags.args);
    run_ok(&mut command)?;
    Ok(())
}
