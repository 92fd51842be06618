//! `cargo xtask synth`: renders SynthFER into a folder in RAF-DB's layout, by running
//! `afcn synth` (the export itself lives in `afcn_data::synthfer::export_rafdb`).

use crate::{
    flags::SynthFlags,
    process::{afcn, run_ok},
};

/// Runs `afcn synth ...` with the given flags.
pub fn run(flags: &SynthFlags) -> anyhow::Result<()> {
    let mut command = afcn(&[]);
    command.arg("synth").arg("--out").arg(&flags.out);
    let optional = [
        ("--train", flags.train.map(|n| n.to_string())),
        ("--test", flags.test.map(|n| n.to_string())),
        ("--size", flags.size.map(|n| n.to_string())),
        ("--seed", flags.seed.map(|n| n.to_string())),
    ];
    for (flag, value) in optional {
        if let Some(value) = value {
            command.args([flag, value.as_str()]);
        }
    }
    run_ok(&mut command)?;
    Ok(())
}
