//! `cargo xtask train`, `pretrain`, `bench` and `synth`: build `afcn` with the backend that
//! `--backend` names compiled in, showing cargo's progress, then run its subcommand of the same
//! name with the flags given.
//!
//! `cargo xtask train` is the README's main command: with no flags it trains AFCN on SynthFER
//! on the cpu backend (the `synthfer` preset). They use the dev profile, whose dependencies
//! (Burn) are built optimised, so that they share one build with `cargo xtask test`;
//! `docs/performance.md` compares it with a release build.

use std::{path::Path, process::Command};

use crate::{
    flags::AfcnFlags,
    process::{build_afcn, flag_value, run_ok},
};

/// Builds `afcn` and runs `afcn <subcommand>` with the flags given.
pub fn run(subcommand: &str, flags: &AfcnFlags) -> anyhow::Result<()> {
    let afcn = build_afcn(flag_value(&flags.args, "--backend"))?;
    if subcommand == "train"
        && let Some(preset) = flag_value(&flags.args, "--preset")
    {
        ensure_preset_weights(&afcn, preset)?;
    }
    let mut command = Command::new(&afcn);
    command.arg(subcommand).args(&flags.args);
    if subcommand == "pretrain" {
        command.arg("--reuse");
    }
    run_ok(&mut command)?;
    Ok(())
}

/// Makes, with the `afcn` binary at `afcn`, the weights a preset starts from when it needs
/// some: `synthfer-pretrained` needs the backbone of `afcn pretrain` (made once, then reused).
pub fn ensure_preset_weights(afcn: &Path, preset: &str) -> anyhow::Result<()> {
    if preset == "synthfer-pretrained" {
        run_ok(Command::new(afcn).args(["pretrain", "--reuse"]))?;
    }
    Ok(())
}
