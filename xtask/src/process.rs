//! Running cargo and other tools: echo the command, time it, fail with its name.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::Context;

/// Changes the current directory to the workspace root (the parent of `xtask/`).
pub fn enter_workspace_root() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask lives inside the workspace")?;
    std::env::set_current_dir(root).with_context(|| format!("entering {}", root.display()))
}

/// `cargo` with the given arguments.
pub fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args);
    command
}

/// `cargo run -p afcn-train --bin afcn` with the cargo `features` (for example `wgpu`), ready
/// for the `afcn` arguments. It uses the dev profile, whose dependencies are optimised
/// (see the workspace `Cargo.toml`), so that it shares its build with `cargo xtask test`.
pub fn afcn(features: &[&str]) -> Command {
    let mut command = cargo(&["run", "--quiet", "-p", "afcn-train", "--bin", "afcn"]);
    if !features.is_empty() {
        command.arg("--features").arg(features.join(","));
    }
    command.arg("--");
    command
}

/// The cargo feature that compiles in the backend named by a `--backend` flag in `args`.
pub fn backend_feature(args: &[String]) -> Option<&'static str> {
    let value = flag_value(args, "--backend")?;
    match value {
        "wgpu" => Some("wgpu"),
        "cuda" => Some("cuda"),
        _ => None,
    }
}

/// The value of `--name V` or `--name=V` in `args`.
pub fn flag_value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .enumerate()
        .find_map(|(i, arg)| match arg.strip_prefix(name) {
            Some("") => args.get(i + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        })
}

/// What a finished command did.
pub struct Outcome {
    /// How it ended.
    pub status: std::process::ExitStatus,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Runs `command` with inherited output, echoing it first and its duration after.
pub fn run(command: &mut Command) -> anyhow::Result<Outcome> {
    let shown = format!("{command:?}");
    eprintln!("$ {shown}");
    let start = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("starting {shown}"))?;
    let elapsed = start.elapsed();
    eprintln!("  ({:.1} s, {status})", elapsed.as_secs_f64());
    Ok(Outcome { status, elapsed })
}

/// A command that ran and failed; it has printed its own error.
#[derive(Debug, thiserror::Error)]
#[error("failed ({status}): {command}")]
pub struct Failed {
    /// The command, as echoed.
    pub command: String,
    /// How it ended.
    pub status: std::process::ExitStatus,
}

impl Failed {
    /// The exit status to end xtask with: the command's own, 1 when it had none (a signal).
    pub fn exit_code(&self) -> u8 {
        self.status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .filter(|&c| c != 0)
            .unwrap_or(1)
    }
}

/// Runs `command` like [`run`] and fails with [`Failed`] unless it succeeded.
pub fn run_ok(command: &mut Command) -> anyhow::Result<Duration> {
    let shown = format!("{command:?}");
    let outcome = run(command)?;
    if !outcome.status.success() {
        return Err(Failed {
            command: shown,
            status: outcome.status,
        }
        .into());
    }
    Ok(outcome.elapsed)
}

/// The exit status and the message of xtask for `err`: a failed command's own status and no
/// message (it printed its own error), else 1 and the error's chain on one line (no
/// backtrace, whatever `RUST_BACKTRACE` says).
pub fn exit(err: &anyhow::Error) -> (u8, Option<String>) {
    match err.downcast_ref::<Failed>() {
        Some(failed) => (failed.exit_code(), None),
        None => (1, Some(format!("error: {err:#}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_command_gives_its_own_status_and_no_message_of_ours() {
        let err = run_ok(Command::new("sh").args(["-c", "exit 3"])).unwrap_err();
        assert_eq!(exit(&err), (3, None));
        let err = run_ok(Command::new("sh").args(["-c", "kill -9 $$"])).unwrap_err();
        assert_eq!(exit(&err), (1, None), "killed by a signal");
        let err = anyhow::anyhow!("inner").context("outer");
        assert_eq!(exit(&err), (1, Some("error: outer: inner".into())));
    }
}
