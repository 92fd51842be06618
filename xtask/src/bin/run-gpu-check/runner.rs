//! Running one step: its output into a log file, a time limit, and the GPU's memory sampled
//! while it runs.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::{Value, json};

/// A command to run as one step of the check.
pub struct Step {
    /// The step's name (also its log file's).
    pub name: String,
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables set for it (beyond the driver's own environment, shown in the report).
    pub env: Vec<(String, String)>,
    /// Whether to sample the GPU's memory while it runs (`nvidia-smi`).
    pub sample_gpu_memory: bool,
}

impl Step {
    /// A step running `program` with `args`.
    pub fn new(name: &str, program: impl Into<PathBuf>, args: &[&str]) -> Self {
        Self {
            name: name.into(),
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            sample_gpu_memory: false,
        }
    }

    /// Sets `key=value` for the step.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The command as one shell line (variables first), for the report.
    pub fn shown(&self) -> String {
        let mut words: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        words.push(quote(&self.program.to_string_lossy()));
        words.extend(self.args.iter().map(|a| quote(a)));
        words.join(" ")
    }
}

/// `word` quoted for a POSIX shell when it needs it.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Exit status 0.
    Ok,
    /// Another exit status, a signal, or no start.
    Failed,
    /// Killed at its time limit.
    TimedOut,
}

impl Status {
    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::TimedOut => "timed out",
        }
    }
}

/// What running a step gave.
pub struct Ran {
    /// How it ended.
    pub status: Status,
    /// The exit code, when it exited.
    pub code: Option<i32>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The log file (standard output and error, interleaved).
    pub log: PathBuf,
    /// The GPU's used memory before the step and at its peak, MiB, when sampled.
    pub gpu_memory: Option<(f64, f64)>,
}

impl Ran {
    /// The log's text.
    pub fn text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The report's fields for this run (the log's last `lines` lines included).
    pub fn to_json(&self, step: &Step, lines: usize) -> Value {
        let text = self.text();
        let all: Vec<&str> = text.lines().collect();
        let tail = all[all.len().saturating_sub(lines)..].join("\n");
        json!({
            "name": step.name,
            "command": step.shown(),
            "status": self.status.name(),
            "exit_code": self.code,
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
            "log": self.log,
            "log_tail": tail,
            "gpu_memory_mib": self.gpu_memory.map(|(idle, peak)| json!({
                "before": idle, "peak": peak, "peak_minus_before": peak - idle,
            })),
        })
    }
}

/// The GPU's used memory in MiB (the first GPU's `memory.used`), when `nvidia-smi` answers.
fn gpu_memory_used() -> Option<f64> {
    let text = crate::libs::output(
        crate::libs::nvidia_smi()
            .args(["--query-gpu=memory.used", "--format=csv,noheader,nounits"]),
    )?;
    text.lines().next()?.trim().parse().ok()
}

/// Runs `step` in `workdir`, with the variables `common` (shown once in the report, not in
/// each command) and its output in `logs/<name>.log`; killed after `limit`.
pub fn run(
    step: &Step,
    common: &[(String, String)],
    logs: &Path,
    workdir: &Path,
    limit: Duration,
) -> anyhow::Result<Ran> {
    let log_path = logs.join(format!("{}.log", step.name));
    let log =
        fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    eprintln!("$ {}", step.shown());
    let before = step.sample_gpu_memory.then(gpu_memory_used).flatten();
    let mut peak = before;
    let start = Instant::now();
    let mut command = Command::new(&step.program);
    command
        .args(&step.args)
        .envs(common.iter().chain(&step.env).map(|(k, v)| (k, v)))
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            fs::write(
                &log_path,
                format!("cannot start {}: {err}\n", step.program.display()),
            )?;
            return Ok(Ran {
                status: Status::Failed,
                code: None,
                seconds: 0.0,
                log: log_path,
                gpu_memory: None,
            });
        }
    };
    let mut last_sample = Instant::now();
    let (status, code) = loop {
        if let Some(exit) = child.try_wait()? {
            let status = if exit.success() {
                Status::Ok
            } else {
                Status::Failed
            };
            break (status, exit.code());
        }
        if start.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            break (Status::TimedOut, None);
        }
        if before.is_some() && last_sample.elapsed() > Duration::from_millis(500) {
            last_sample = Instant::now();
            if let Some(used) = gpu_memory_used() {
                peak = peak.map(|p| p.max(used));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "  {} in {seconds:.1} s (log {})",
        status.name(),
        log_path.display()
    );
    Ok(Ran {
        status,
        code,
        seconds,
        log: log_path,
        gpu_memory: before.zip(peak),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_a_shell_needs_it() {
        assert_eq!(quote("--batch"), "--batch");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        let step = Step::new("x", "/b/afcn", &["bench", "--json"]).env("A", "1 2");
        assert_eq!(step.shown(), "A='1 2' /b/afcn bench --json");
    }

    #[test]
    fn a_step_records_its_status_its_log_and_its_time_limit() {
        let dir = tempfile::tempdir().unwrap();
        let limit = Duration::from_secs(20);
        let ok = Step::new("ok", "sh", &["-c", "echo hello; echo err >&2"]);
        let ran = run(&ok, &[], dir.path(), dir.path(), limit).unwrap();
        assert_eq!((ran.status, ran.code), (Status::Ok, Some(0)));
        assert_eq!(ran.text(), "hello\nerr\n");
        let failed = Step::new("failed", "sh", &["-c", "exit 3"]);
        let ran = run(&failed, &[], dir.path(), dir.path(), limit).unwrap();
        assert_eq!((ran.status, ran.code), (Status::Failed, Some(3)));
        let slow = Step::new("slow", "sleep", &["30"]);
        let ran = run(
            &slow,
            &[],
            dir.path(),
            dir.path(),
            Duration::from_millis(300),
        )
        .unwrap();
        assert_eq!(ran.status, Status::TimedOut);
        assert!(ran.seconds < 10.0, "{}", ran.seconds);
        let missing = Step::new("missing", dir.path().join("no-such-program"), &[]);
        let ran = run(&missing, &[], dir.path(), dir.path(), limit).unwrap();
        assert_eq!(ran.status, Status::Failed);
        assert!(ran.text().contains("cannot start"), "{}", ran.text());
    }
}
