//! Running cargo and other tools: echo the command, time it, fail with its name.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::Value;

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

/// Minutes that a first build of `cargo xtask train` takes on 2 cores (xtask, then
/// `cargo build -p afcn-cli --bin afcn` in the dev profile, crates downloaded), from a clean
/// clone with no `target/`: 8 min 55 s on a 2-core AMD EPYC (39 s xtask, 496 s afcn;
/// `afcn bench` of the narrow ResNet there: docs/synthfer.md), 13 min 34 s on the slower
/// 2-core machine of issue 28.
pub const FIRST_BUILD_MINUTES: [u32; 2] = [9, 14];

/// Builds the `afcn` binary with the cargo feature of `backend` (`wgpu`, `cuda`; none for
/// `cpu`), showing cargo's progress, and returns its path. It uses the dev profile, whose
/// dependencies are optimised (see the workspace `Cargo.toml`), so that it shares its build
/// with `cargo xtask test`.
pub fn build_afcn(backend: Option<&str>) -> anyhow::Result<PathBuf> {
    eprintln!(
        "building afcn: a first build takes {} to {} minutes on 2 cores, later builds seconds",
        FIRST_BUILD_MINUTES[0], FIRST_BUILD_MINUTES[1]
    );
    let mut command = cargo(&["build", "-p", "afcn-cli", "--bin", "afcn"]);
    if let Some(feature @ ("wgpu" | "cuda")) = backend {
        command.args(["--features", feature]);
    }
    executable(&build(&mut command)?, "afcn", "bin")
}

/// Runs the cargo build `command` (`cargo build`, `cargo test --no-run`, `cargo-zigbuild`...)
/// with `--message-format=json-render-diagnostics`, so that cargo's progress and diagnostics
/// show on standard error, and returns its JSON messages; fails with [`Failed`] unless it
/// succeeded.
pub fn build(command: &mut Command) -> anyhow::Result<Vec<Value>> {
    command
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped());
    let shown = format!("{command:?}");
    eprintln!("$ {shown}");
    let start = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {shown}"))?;
    let stdout = child.stdout.take().context("cargo's standard output")?;
    let mut messages = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.with_context(|| format!("reading the output of {shown}"))?;
        match serde_json::from_str::<Value>(&line) {
            Ok(message) => messages.push(message),
            Err(_) => println!("{line}"),
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for {shown}"))?;
    eprintln!("  ({:.1} s, {status})", start.elapsed().as_secs_f64());
    if !status.success() {
        return Err(Failed {
            command: shown,
            status,
        }
        .into());
    }
    Ok(messages)
}

/// The `executable` of the artifact of target `name` of kind `kind` (`bin`, `test`) in
/// cargo's JSON messages.
pub fn executable(messages: &[Value], name: &str, kind: &str) -> anyhow::Result<PathBuf> {
    messages
        .iter()
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .filter(|m| {
            m["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == kind))
        })
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo built no {kind} executable `{name}`"))
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

    #[test]
    fn executables_are_taken_from_cargos_messages() {
        let messages: Vec<Value> = [
            r#"{"reason":"compiler-artifact","target":{"name":"afcn_train","kind":["lib"]},"executable":null}"#,
            r#"{"reason":"compiler-artifact","target":{"name":"afcn","kind":["bin"]},"executable":"/t/release/afcn"}"#,
            r#"{"reason":"compiler-artifact","target":{"name":"backend_parity","kind":["test"]},"executable":"/t/release/deps/backend_parity-1f"}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
        assert_eq!(
            executable(&messages, "backend_parity", "test").unwrap(),
            PathBuf::from("/t/release/deps/backend_parity-1f")
        );
        assert_eq!(
            executable(&messages, "afcn", "bin").unwrap(),
            PathBuf::from("/t/release/afcn")
        );
        let err = executable(&messages, "afcn", "test")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no test executable `afcn`"), "{err}");
    }
}
