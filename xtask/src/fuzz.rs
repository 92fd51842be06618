//! `cargo xtask fuzz [--seconds N] [--target T]`: runs the cargo-fuzz targets of `fuzz/` (the
//! label-list, FERPlus and AffectNet CSV, and config parsers) for N seconds each, starting from
//! the committed corpus `fuzz/corpus/<target>`.
//!
//! New corpus entries go to `fuzz/target/corpus/<target>` (ignored by git), crashes to
//! `fuzz/artifacts/<target>`; copy an input worth keeping into `fuzz/corpus/<target>` by hand.
//! cargo-fuzz needs a nightly toolchain; without it (or without cargo-fuzz) the task says what
//! is missing and replays the committed corpus through the same functions on stable, which
//! proves the corpus but fuzzes nothing.

use std::process::Command;

use anyhow::bail;

use crate::{
    flags::FuzzFlags,
    process::{self, run_ok},
};

/// Options of every `cargo fuzz` command: no sanitizer (our crates forbid `unsafe`; panics and
/// arithmetic overflows are what is looked for, hence debug assertions).
const FUZZ_OPTIONS: [&str; 3] = ["--sanitizer", "none", "--debug-assertions"];

/// `cargo` through rustup's proxy with `+nightly`, cleared of the variables the outer cargo
/// set, which would pin the stable toolchain.
fn nightly_cargo(args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command.arg("+nightly").args(args);
    for var in ["CARGO", "RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN"] {
        command.env_remove(var);
    }
    command
}

/// Whether `command` runs and exits with status 0 (its output discarded).
fn works(command: &mut Command) -> bool {
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs the fuzz targets, or explains what is missing and replays the corpus on stable.
pub fn run(flags: &FuzzFlags) -> anyhow::Result<()> {
    let missing = if !works(&mut nightly_cargo(&["--version"])) {
        Some("a nightly toolchain (`rustup toolchain install nightly`)")
    } else if !works(&mut nightly_cargo(&["fuzz", "--version"])) {
        Some("cargo-fuzz (`cargo install cargo-fuzz`)")
    } else {
        None
    };
    if let Some(missing) = missing {
        eprintln!(
            "cargo xtask fuzz needs {missing}; without it nothing is fuzzed. Replaying the \
             committed corpus fuzz/corpus/ on stable instead."
        );
        run_ok(&mut process::cargo(&[
            "test",
            "--manifest-path",
            "fuzz/Cargo.toml",
        ]))?;
        bail!("not fuzzed: {missing} is missing (the corpus replay passed)");
    }
    let targets: Vec<String> = match &flags.target {
        Some(target) => vec![target.clone()],
        None => {
            let out = nightly_cargo(&["fuzz", "list"]).output()?;
            anyhow::ensure!(out.status.success(), "`cargo fuzz list` failed");
            String::from_utf8(out.stdout)?
                .lines()
                .map(str::to_owned)
                .collect()
        }
    };
    let mut build = nightly_cargo(&["fuzz", "build"]);
    build.args(FUZZ_OPTIONS);
    run_ok(&mut build)?;
    let mut failed = Vec::new();
    for target in &targets {
        let scratch = format!("fuzz/target/corpus/{target}");
        std::fs::create_dir_all(&scratch)?;
        let mut command = nightly_cargo(&["fuzz", "run"]);
        command
            .args(FUZZ_OPTIONS)
            .args([target, &scratch, &format!("fuzz/corpus/{target}")])
            .args([
                "--",
                &format!("-max_total_time={}", flags.seconds),
                "-rss_limit_mb=2048",
                "-timeout=10",
            ]);
        if !process::run(&mut command)?.status.success() {
            failed.push(target.as_str());
        }
    }
    if !failed.is_empty() {
        bail!("fuzzing found failures in {failed:?}: inputs in fuzz/artifacts/");
    }
    eprintln!(
        "fuzzed {} target(s) for {} s each: no failure",
        targets.len(),
        flags.seconds
    );
    Ok(())
}
