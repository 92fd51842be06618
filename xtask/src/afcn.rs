//! `cargo xtask train`, `pretrain`, `bench` and `synth`: run the `afcn` subcommand of the same
//! name with the flags given, compiling in the backend that `--backend` names.
//!
//! `cargo xtask train` is the README's main command: with no flags it trains AFCN on SynthFER
//! on the cpu backend (the `synthfer` preset). They use the dev profile, whose dependencies
//! (Burn) are built optimised, so that they share one build with `cargo xtask test`;
//! `docs/performance.md` compares it with a release build.

use crate::{
    flags::AfcnFlags,
    process::{afcn, backend_feature, flag_value, run_ok},
};

/// Runs `afcn <subcommand>` with the flags given.
pub fn run(subcommand: &str, flags: &AfcnFlags) -> anyhow::Result<()> {
    if subcommand == "train"
        && let Some(preset) = flag_value(&flags.args, "--preset")
    {
        ensure_preset_weights(preset)?;
    }
    let features: Vec<&str> = backend_feature(&flags.args).into_iter().collect();
    let mut command = afcn(&features);
    command.arg(subcommand).args(&flags.args);
    if subcommand == "pretrain" {
        command.arg("--reuse");
    }
    run_ok(&mut command)?;
    Ok(())
}

/// Makes the weights a preset starts from when it needs some: `synthfer-pretrained` needs
/// the backbone of `afcn pretrain` (made once, then reused).
pub fn ensure_preset_weights(preset: &str) -> anyhow::Result<()> {
    if preset == "synthfer-pretrained" {
        let mut command = afcn(&[]);
        command.args(["pretrain", "--reuse"]);
        run_ok(&mut command)?;
    }
    Ok(())
}
