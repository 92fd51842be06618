//! `run-gpu-check`: the driver of the GPU bundle (`cargo xtask gpu-bundle`), run on the
//! machine that has the GPU, with no cargo there.
//!
//! It sits beside the bundle's `afcn` binary (cuda and wgpu compiled in) and its
//! `backend_parity` test binary, finds `libcuda`, NVRTC and the Vulkan drivers
//! (`libs`), and runs, each as a step with its own log and time limit: `afcn backend`; the
//! backend-parity tests (cuda required where a driver is found, wgpu where a Vulkan driver
//! is); `afcn bench --json` on cuda and wgpu for cross-entropy and AFCN (ResNet-18 at 112,
//! batch 16, then at 224, batch 64); PyTorch's same step where `python3` imports torch; a
//! short `afcn train` of the `synthfer` preset on cpu and on each GPU backend, whose test
//! accuracy is compared with the cpu run's. It writes `OUT/gpu-check.json` after every step
//! (so a killed run leaves what it measured), prints a table of the figures, and exits 1 when
//! a step failed. A backend without its driver is reported as such (`"cuda": "no driver"`)
//! and its steps as skipped, not failed; `--quick` shrinks every shape so that the whole
//! check runs on a CPU-only machine with Mesa's lavapipe (CI does that).

mod libs;
mod runner;

use std::{
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::Parser;
use serde_json::{Value, json};

use runner::{Ran, Status, Step};

/// The PyTorch step, written into the work folder and run with `python3`.
const TORCH_STEP: &str = include_str!("torch_step.py");

/// Lines of each log kept in the report (the logs folder holds them whole).
const LOG_LINES: usize = 60;

/// Runs the GPU checks of the bundle it sits in and writes `OUT/gpu-check.json`.
#[derive(Debug, Parser)]
#[command(name = "run-gpu-check")]
struct Args {
    /// Folder of `gpu-check.json`, the step logs (`logs/`) and the runs (`work/`).
    #[arg(long, default_value = "gpu-check")]
    out: PathBuf,
    /// The folder holding the test fixtures (`resnet18w32-112/`): a checkout's `fixtures/`.
    #[arg(long, default_value = "fixtures")]
    fixtures: PathBuf,
    /// Small shapes, one timed step and a training run on 64 images: proves every step on a
    /// machine without a GPU (wgpu then runs on lavapipe); its figures mean nothing.
    #[arg(long)]
    quick: bool,
    /// Seconds after which no further step starts (those left are reported as skipped) and a
    /// running one is stopped: default 450 (the check fits 8 minutes on an H200), 1800 with
    /// `--quick` (on a CPU, wgpu's kernel compilation dominates).
    #[arg(long)]
    deadline: Option<u64>,
    /// The most seconds one step may run: default 240, 600 with `--quick`.
    #[arg(long)]
    step_limit: Option<u64>,
}

/// The shape of one benchmark.
#[derive(Clone, Copy, Debug)]
struct Shape {
    arch: &'static str,
    size: usize,
    batch: usize,
    steps: usize,
    warmup: usize,
}

impl Shape {
    /// `112x16`, for step names.
    fn tag(&self) -> String {
        format!("{}x{}", self.size, self.batch)
    }

    /// The shape flags of `afcn bench` and of the PyTorch step.
    fn flags(&self) -> Vec<String> {
        [
            ("--size", self.size),
            ("--batch", self.batch),
            ("--steps", self.steps),
            ("--warmup", self.warmup),
        ]
        .iter()
        .flat_map(|(flag, value)| [flag.to_string(), value.to_string()])
        .collect()
    }
}

/// What the check runs: benchmark shapes and the training run's size.
struct Plan {
    benches: Vec<Shape>,
    epochs: usize,
    train_size: usize,
    test_size: usize,
    /// Grad-CAM overlays the training runs draw (their kernels are a part of the check).
    overlays: usize,
}

impl Plan {
    /// The check as sized for an H200 (under 8 minutes), or `--quick`'s.
    fn new(quick: bool) -> Self {
        if quick {
            let tiny = Shape {
                arch: "resnet-narrow",
                size: 32,
                batch: 4,
                steps: 1,
                warmup: 1,
            };
            return Self {
                benches: vec![tiny],
                epochs: 1,
                train_size: 64,
                test_size: 32,
                overlays: 0,
            };
        }
        // Three warm-up steps absorb kernel compilation and autotuning; ten timed steps.
        let shape = |size, batch| Shape {
            arch: "resnet18",
            size,
            batch,
            steps: 10,
            warmup: 3,
        };
        Self {
            benches: vec![shape(112, 16), shape(224, 64)],
            epochs: 3,
            train_size: 4000,
            test_size: 1000,
            overlays: 4,
        }
    }
}

/// How a GPU backend stands on this machine.
#[derive(Clone, Debug, PartialEq)]
enum Availability {
    /// Its driver was found; `afcn backend` decides whether it runs.
    Found,
    /// Its driver is missing (the report's status, e.g. "no driver"), with the detail.
    Missing(&'static str, String),
}

/// The running check: where it writes and what it has recorded.
struct Driver {
    out: PathBuf,
    logs: PathBuf,
    work: PathBuf,
    common_env: Vec<(String, String)>,
    started: Instant,
    deadline: Duration,
    step_limit: Duration,
    report: Value,
}

impl Driver {
    /// Runs `step` unless the deadline has passed, records it, rewrites the report.
    fn run(&mut self, step: Step) -> anyhow::Result<Option<Ran>> {
        let left = self.deadline.saturating_sub(self.started.elapsed());
        if left.is_zero() {
            self.skip(&step.name, "the check's deadline (--deadline) had passed");
            return Ok(None);
        }
        let ran = runner::run(
            &step,
            &self.common_env,
            &self.logs,
            &self.work,
            left.min(self.step_limit),
        )?;
        let record = ran.to_json(&step, LOG_LINES);
        self.push(record)?;
        Ok(Some(ran))
    }

    /// Records a step that did not run, and why.
    fn skip(&mut self, name: &str, reason: &str) {
        eprintln!("- {name}: skipped ({reason})");
        let record = json!({ "name": name, "status": "skipped", "reason": reason });
        // A report that cannot be written fails at the next step's push.
        self.push(record).ok();
    }

    /// Appends a step record and rewrites `gpu-check.json`.
    fn push(&mut self, record: Value) -> anyhow::Result<()> {
        self.report["steps"]
            .as_array_mut()
            .context("steps is a list")?
            .push(record);
        self.write()
    }

    /// The last step record, to add its parsed result to.
    fn last(&mut self) -> &mut Value {
        let steps = self.report["steps"]
            .as_array_mut()
            .expect("steps is a list");
        steps.last_mut().expect("a step was recorded")
    }

    /// Writes the report as it stands.
    fn write(&mut self) -> anyhow::Result<()> {
        self.report["total_seconds"] = json!(self.started.elapsed().as_secs_f64());
        let path = self.out.join("gpu-check.json");
        let tmp = self.out.join("gpu-check.json.tmp");
        fs::write(&tmp, serde_json::to_string_pretty(&self.report)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }
}

fn main() -> ExitCode {
    match check(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Creates `dir` readable by its owner only (the GPU runtimes want that of
/// `XDG_RUNTIME_DIR`).
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("setting the mode of {}", dir.display()))
}

/// Links `link` to `target`, replacing an older link.
fn link(target: &Path, link: &Path) -> anyhow::Result<()> {
    if link.symlink_metadata().is_ok() {
        fs::remove_file(link).with_context(|| format!("removing {}", link.display()))?;
    }
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("linking {} to {}", link.display(), target.display()))
}

/// Runs the whole check; `Ok(false)` when a step failed.
fn check(args: Args) -> anyhow::Result<bool> {
    let bundle = std::env::current_exe()
        .context("locating the driver")?
        .parent()
        .context("the driver lives in the bundle's folder")?
        .to_path_buf();
    let afcn = bundle.join("afcn");
    let parity = bundle.join("backend_parity");
    for binary in [&afcn, &parity] {
        anyhow::ensure!(
            binary.is_file(),
            "{} is missing: the driver runs from a bundle made by `cargo xtask gpu-bundle`",
            binary.display()
        );
    }
    let out = args.out.clone();
    let (logs, work) = (out.join("logs"), out.join("work"));
    for dir in [&out, &logs, &work] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let (out, logs, work) = (
        out.canonicalize()?,
        logs.canonicalize()?,
        work.canonicalize()?,
    );
    let xdg = work.join("xdg");
    private_dir(&xdg)?;
    let plan = Plan::new(args.quick);

    // What the machine has, and the environment that makes the backends find it.
    let machine = libs::inspect();
    let nvrtc = libs::choose_nvrtc(&machine.nvrtc, machine.driver_cuda);
    let libdir = work.join("libs");
    fs::create_dir_all(&libdir)?;
    let mut library_path = vec![libdir.clone()];
    let cuda = match (&machine.libcuda, nvrtc) {
        (None, _) => Availability::Missing(
            "no driver",
            "libcuda.so not found (LD_LIBRARY_PATH, the driver's and the CUDA toolkit's \
             folders, ldconfig's cache): no NVIDIA driver on this machine"
                .into(),
        ),
        (Some(_), None) => Availability::Missing(
            "no nvrtc",
            "libcuda found but no libnvrtc.so* (the CUDA toolkit's lib64, or pip's \
             nvidia-cuda-nvrtc package): the cuda backend compiles its kernels with NVRTC"
                .into(),
        ),
        (Some(libcuda), Some(nvrtc)) => {
            // cudarc tries `libcuda.so` and `libnvrtc.so` first: links in a folder of our own,
            // first on the path, make it load these, whatever their versioned names.
            link(libcuda, &libdir.join("libcuda.so"))?;
            link(&nvrtc.path, &libdir.join("libnvrtc.so"))?;
            for lib in [libcuda, &nvrtc.path] {
                if let Some(dir) = lib.parent() {
                    library_path.push(dir.to_path_buf());
                }
            }
            Availability::Found
        }
    };
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH") {
        library_path.extend(std::env::split_paths(&old));
    }
    let library_path = std::env::join_paths(&library_path)?
        .to_string_lossy()
        .into_owned();
    let mut common_env = vec![
        ("LD_LIBRARY_PATH".to_owned(), library_path),
        (
            "XDG_RUNTIME_DIR".to_owned(),
            xdg.to_string_lossy().into_owned(),
        ),
        ("RUST_BACKTRACE".to_owned(), "1".to_owned()),
    ];
    if args.quick {
        // Fewer kernel candidates to compile and time: --quick's figures mean nothing anyway.
        common_env.push(("CUBECL_AUTOTUNE_LEVEL".to_owned(), "minimal".to_owned()));
    }
    let gpu_icd = libs::gpu_icd(&machine.icds);
    let software_icd = machine.icds.iter().find(|icd| icd.software);
    let wgpu = match (gpu_icd, software_icd) {
        _ if machine.vulkan_loader.is_none() => Availability::Missing(
            "no vulkan loader",
            "libvulkan.so.1 not found (apt-get install libvulkan1, or carry it)".into(),
        ),
        (Some(icd), _) => {
            // Only the GPU's driver, so that wgpu cannot pick lavapipe instead.
            let files = icd.manifest.to_string_lossy().into_owned();
            common_env.push(("VK_DRIVER_FILES".to_owned(), files.clone()));
            common_env.push(("VK_ICD_FILENAMES".to_owned(), files));
            Availability::Found
        }
        (None, Some(_)) if args.quick => Availability::Found,
        (None, Some(_)) => Availability::Missing(
            "software vulkan only",
            "only a software Vulkan driver (lavapipe): the parity tests run on it, the \
             benchmarks and the training run only with --quick (a ResNet-18 step takes \
             seconds there)"
                .into(),
        ),
        (None, None) => Availability::Missing(
            "no vulkan driver",
            "no Vulkan driver manifest (vulkan/icd.d/*.json)".into(),
        ),
    };
    let any_icd = machine.vulkan_loader.is_some() && !machine.icds.is_empty();
    let torch = libs::output(std::process::Command::new("python3").args([
        "-c",
        "import torch; print(torch.__version__, torch.cuda.is_available())",
    ]))
    .map(|s| s.trim().to_owned());
    let manifest = fs::read_to_string(bundle.join("bundle.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok());

    let mut driver = Driver {
        out: out.clone(),
        logs,
        work: work.clone(),
        common_env: common_env.clone(),
        started: Instant::now(),
        deadline: Duration::from_secs(args.deadline.unwrap_or(if args.quick { 1800 } else { 450 })),
        step_limit: Duration::from_secs(args.step_limit.unwrap_or(if args.quick {
            600
        } else {
            240
        })),
        report: json!({
            "quick": args.quick,
            "bundle": manifest,
            "machine": machine.to_json(nvrtc),
            "python_torch": torch,
            "environment": common_env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            "backends": {
                "cpu": "unchecked",
                "wgpu": status_name(&wgpu),
                "cuda": status_name(&cuda),
            },
            "backend_detail": {
                "wgpu": detail(&wgpu),
                "cuda": detail(&cuda),
            },
            "steps": [],
        }),
    };

    // 1. Which backends compute.
    let ran = driver.run(Step::new("backend", &afcn, &["backend"]))?;
    let lines = ran.as_ref().map(Ran::text).unwrap_or_default();
    let said = backend_lines(&lines);
    for kind in ["cpu", "wgpu", "cuda"] {
        let found = match kind {
            "wgpu" => wgpu == Availability::Found,
            "cuda" => cuda == Availability::Found,
            _ => true,
        };
        if found {
            let status = match said.iter().find(|(k, _)| k == kind) {
                Some((_, line)) if line == "ok" => "ok".to_owned(),
                Some((_, line)) => format!("failed: {line}"),
                None => "failed: `afcn backend` did not report it".to_owned(),
            };
            driver.report["backends"][kind] = json!(status);
        }
    }
    let usable = |driver: &Driver, kind: &str| driver.report["backends"][kind] == "ok";

    // 2. The parity tests: cuda required where its driver was found, wgpu where any Vulkan
    // driver (lavapipe included) was.
    let fixtures = args
        .fixtures
        .canonicalize()
        .unwrap_or(args.fixtures.clone());
    let missing_fixture = ["weights.safetensors", "io.safetensors"]
        .iter()
        .map(|f| fixtures.join("resnet18w32-112").join(f))
        .find(|p| !p.is_file());
    match missing_fixture {
        Some(path) => driver.skip(
            "parity",
            &format!(
                "fixture {} not found: run from a checkout's root or pass --fixtures DIR \
                 (the checkout's fixtures/)",
                path.display()
            ),
        ),
        None => {
            let mut test = Step::new("parity", &parity, &["--test-threads=1"])
                .env("AFCN_FIXTURES", fixtures.to_string_lossy());
            if cuda == Availability::Found {
                test = test.env("AFCN_REQUIRE_CUDA", "1");
            } else {
                test.args.extend(["--skip".into(), "cuda".into()]);
            }
            if any_icd {
                test = test.env("AFCN_REQUIRE_WGPU", "1");
            } else {
                test.args.extend(["--skip".into(), "wgpu".into()]);
            }
            if driver.run(test)?.is_some() {
                let text = fs::read_to_string(driver.logs.join("parity.log")).unwrap_or_default();
                driver.last()["result"] = json!({ "tests": test_results(&text) });
            }
        }
    }

    // 3. Benchmarks, PyTorch's same step, the training runs, then the larger shape.
    let torch_script = work.join("torch_step.py");
    fs::write(&torch_script, TORCH_STEP)?;
    let sample = machine.gpus.is_some();
    let gpu_backends = [("cuda", &cuda), ("wgpu", &wgpu)];
    for (index, shape) in plan.benches.iter().enumerate() {
        for (backend, availability) in gpu_backends {
            for method in ["ce", "afcn"] {
                let name = format!("bench-{backend}-{method}-{}", shape.tag());
                if !usable(&driver, backend) {
                    let reason = skip_reason(backend, availability, &driver.report);
                    driver.skip(&name, &reason);
                    continue;
                }
                let mut args = vec!["bench", "--json", "--backend", backend, "--method", method];
                args.extend(["--arch", shape.arch, "--seed", "0"]);
                let mut step = Step::new(&name, &afcn, &args);
                step.args.extend(shape.flags());
                step.sample_gpu_memory = sample;
                if let Some(ran) = driver.run(step)? {
                    driver.last()["result"] = bench_result(&ran.text());
                }
            }
        }
        for method in ["ce", "afcn"] {
            let name = format!("torch-{method}-{}", shape.tag());
            if torch.is_none() {
                driver.skip(&name, "python3 cannot import torch");
                continue;
            }
            let script = torch_script.to_string_lossy();
            let mut step = Step::new(&name, "python3", &[&script, "--method", method])
                .env("PYTHONUNBUFFERED", "1");
            step.args.extend(shape.flags());
            step.sample_gpu_memory = sample;
            if let Some(ran) = driver.run(step)? {
                driver.last()["result"] = last_json_line(&ran.text(), "images_per_sec");
            }
        }
        if index == 0 {
            train_and_compare(
                &mut driver,
                &afcn,
                &plan,
                [("cuda", &cuda), ("wgpu", &wgpu)],
            )?;
        }
    }

    // The figures, for docs/performance.md.
    let summary = summary(&driver.report);
    driver.report["summary"] = json!(summary);
    let failed: Vec<Value> = driver.report["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["status"] != "ok" && s["status"] != "skipped")
        .map(|s| s["name"].clone())
        .collect();
    driver.report["failed"] = json!(failed);
    driver.write()?;
    println!("{}", markdown(&summary));
    println!("backends: {}", driver.report["backends"]);
    println!("report: {}", out.join("gpu-check.json").display());
    if !failed.is_empty() {
        eprintln!("failed steps: {}", json!(failed));
    }
    Ok(failed.is_empty())
}

/// The report's name of an availability (`found` until `afcn backend` says more).
fn status_name(availability: &Availability) -> &'static str {
    match availability {
        Availability::Found => "found",
        Availability::Missing(status, _) => status,
    }
}

/// The detail of a missing driver.
fn detail(availability: &Availability) -> Option<&str> {
    match availability {
        Availability::Found => None,
        Availability::Missing(_, detail) => Some(detail),
    }
}

/// Why the steps of a backend that is not usable are skipped.
fn skip_reason(backend: &str, availability: &Availability, report: &Value) -> String {
    match availability {
        Availability::Missing(status, detail) => format!("{backend}: {status} ({detail})"),
        Availability::Found => format!(
            "{backend} does not compute: {}",
            report["backends"][backend].as_str().unwrap_or("unknown")
        ),
    }
}

/// The short training runs on cpu and on each usable GPU backend, and the comparison of
/// their test accuracy with the cpu run's.
fn train_and_compare(
    driver: &mut Driver,
    afcn: &Path,
    plan: &Plan,
    gpu_backends: [(&str, &Availability); 2],
) -> anyhow::Result<()> {
    let config = driver.work.join("train.toml");
    fs::write(
        &config,
        format!(
            "# The short synthfer run of run-gpu-check.\nepochs = {}\noverlays = {}\n\n\
             [data.synthfer]\ntrain_size = {}\ntest_size = {}\n",
            plan.epochs, plan.overlays, plan.train_size, plan.test_size
        ),
    )?;
    let mut accuracy = std::collections::BTreeMap::new();
    let runnable: Vec<&str> = std::iter::once("cpu")
        .chain(gpu_backends.iter().map(|(b, _)| *b))
        .collect();
    for backend in runnable {
        let name = format!("train-{backend}");
        if backend != "cpu" && driver.report["backends"][backend] != "ok" {
            let availability = gpu_backends
                .iter()
                .find(|(b, _)| *b == backend)
                .map(|(_, a)| *a)
                .expect("a GPU backend");
            let reason = skip_reason(backend, availability, &driver.report);
            driver.skip(&name, &reason);
            continue;
        }
        let run_dir = driver.work.join(&name);
        if run_dir.exists() {
            fs::remove_dir_all(&run_dir)
                .with_context(|| format!("removing the old {}", run_dir.display()))?;
        }
        let (config, run) = (config.to_string_lossy(), run_dir.to_string_lossy());
        let args = ["train", "--preset", "synthfer", "--config", &config];
        let mut step = Step::new(&name, afcn, &args);
        step.args
            .extend(["--backend", backend, "--seed", "0", "--out", &run].map(String::from));
        step.sample_gpu_memory = backend != "cpu" && driver.report["machine"]["gpus"].is_string();
        if let Some(ran) = driver.run(step)? {
            let result = run_result(&run_dir.join("metrics.json"));
            if ran.status == Status::Ok
                && let Some(acc) = result["test_accuracy"].as_f64()
            {
                accuracy.insert(backend.to_owned(), acc);
            }
            driver.last()["result"] = result;
        }
    }
    for (backend, _) in gpu_backends {
        let name = format!("compare-train-{backend}");
        match (accuracy.get("cpu"), accuracy.get(backend)) {
            (Some(&cpu), Some(&other)) => {
                let verdict = compare(cpu, other, plan.test_size);
                let ok = verdict["within_noise"] == true;
                let record = json!({
                    "name": name,
                    "status": if ok { "ok" } else { "failed" },
                    "result": verdict,
                });
                driver.push(record)?;
            }
            _ => driver.skip(
                &name,
                &format!("no accuracy of both the cpu and the {backend} run"),
            ),
        }
    }
    Ok(())
}

/// Whether two test accuracies on `n` images are within noise of each other: their
/// difference is at most three standard deviations of the difference of two independent
/// binomial estimates at their mean, `3 sqrt(2 p (1 - p) / n)`. (The backends start from
/// different random weights, since each has its own generator, so the runs are independent
/// draws; on the 1000 test images at 50% that allows 6.7 points.)
fn compare(cpu: f64, other: f64, n: usize) -> Value {
    let p = (cpu + other) / 2.0;
    let tolerance = 3.0 * (2.0 * p * (1.0 - p) / n as f64).sqrt();
    let difference = other - cpu;
    json!({
        "cpu_accuracy": cpu,
        "accuracy": other,
        "difference": difference,
        "tolerance": tolerance,
        "test_images": n,
        "within_noise": difference.abs() <= tolerance,
    })
}

/// The `backend: status` lines of `afcn backend`.
fn backend_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (kind, status) = line.split_once(": ")?;
            ["cpu", "wgpu", "cuda"]
                .contains(&kind)
                .then(|| (kind.to_owned(), status.trim().to_owned()))
        })
        .collect()
}

/// `test NAME ... ok|FAILED|ignored` lines of a test binary's output, as a map.
fn test_results(text: &str) -> Value {
    let mut map = serde_json::Map::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        if let Some((name, outcome)) = rest.split_once(" ... ") {
            map.insert(name.to_owned(), json!(outcome.trim()));
        }
    }
    Value::Object(map)
}

/// The last line of `text` that is a JSON object with the field `key`.
fn last_json_line(text: &str, key: &str) -> Value {
    text.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .find(|value| value.get(key).is_some())
        .unwrap_or(Value::Null)
}

/// `afcn bench --json`'s line, with the first steps' overhead (kernel compilation and
/// autotuning): the warm-up's seconds less as many ordinary steps.
fn bench_result(text: &str) -> Value {
    let mut result = last_json_line(text, "images_per_sec");
    if let (Some(warmup_s), Some(step_ms), Some(warmup)) = (
        result["warmup_seconds"].as_f64(),
        result["step_ms"].as_f64(),
        result["warmup"].as_f64(),
    ) {
        result["first_steps_overhead_s"] = json!(warmup_s - warmup * step_ms / 1000.0);
    }
    result
}

/// The final epoch of a run's `metrics.json`, with the run's seconds per epoch.
fn run_result(metrics: &Path) -> Value {
    let text = fs::read_to_string(metrics).unwrap_or_default();
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let epochs = value["epochs"].as_array().cloned().unwrap_or_default();
    match epochs.last() {
        Some(last) => json!({
            "epochs": epochs.len(),
            "test_accuracy": last["test_accuracy"],
            "train_accuracy": last["train_accuracy"],
            "loss": last["loss"],
        }),
        None => json!({ "error": format!("no epochs in {}", metrics.display()) }),
    }
}

/// One row per benchmark (ours and PyTorch's) that ran.
fn summary(report: &Value) -> Vec<Value> {
    report["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["status"] == "ok" && s["result"]["images_per_sec"].is_number())
        .map(|s| {
            let r = &s["result"];
            let framework = if r["framework"] == "pytorch" {
                "pytorch"
            } else {
                "afcn"
            };
            let backend = if framework == "pytorch" {
                &r["device"]
            } else {
                &r["backend"]
            };
            let method = if r["method"] == "baseline" {
                json!("ce")
            } else {
                r["method"].clone()
            };
            json!({
                "step": s["name"],
                "framework": framework,
                "backend": backend,
                "method": method,
                "size": r["size"],
                "batch": r["batch"],
                "images_per_sec": r["images_per_sec"],
                "step_ms": r["step_ms"],
                "first_steps_overhead_s": r["first_steps_overhead_s"].as_f64()
                    .or_else(|| r["warmup_seconds"].as_f64()),
                "gpu_memory_peak_mib": s["gpu_memory_mib"]["peak_minus_before"],
            })
        })
        .collect()
}

/// The summary as a markdown table.
fn markdown(rows: &[Value]) -> String {
    let mut text = String::from(
        "| framework | backend | method | size | batch | images/s | step ms | first steps' overhead s | GPU memory MiB |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let show = |v: &Value| match v.as_f64() {
        Some(x) => format!("{x:.1}"),
        None => v.as_str().map(str::to_owned).unwrap_or_else(|| "-".into()),
    };
    for row in rows {
        let cells: Vec<String> = [
            "framework",
            "backend",
            "method",
            "size",
            "batch",
            "images_per_sec",
            "step_ms",
            "first_steps_overhead_s",
            "gpu_memory_peak_mib",
        ]
        .iter()
        .map(|key| match *key {
            "size" | "batch" => row[key].to_string(),
            _ => show(&row[key]),
        })
        .collect();
        text.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_lines_are_read_per_backend() {
        let text = "cpu: ok\nwgpu: ok\ncuda: backend `cuda` found no usable device (x): y\n";
        let lines = backend_lines(text);
        assert_eq!(lines[0], ("cpu".into(), "ok".into()));
        assert_eq!(lines[2].0, "cuda");
        assert!(
            lines[2]
                .1
                .starts_with("backend `cuda` found no usable device")
        );
    }

    #[test]
    fn test_outcomes_are_read_from_the_harness_output() {
        let text = "running 2 tests\ntest wgpu_matches_cpu ... ok\n\
                    test cuda_matches_cpu ... FAILED\n\ntest result: FAILED.";
        assert_eq!(
            test_results(text),
            json!({"wgpu_matches_cpu": "ok", "cuda_matches_cpu": "FAILED"})
        );
    }

    #[test]
    fn the_first_steps_overhead_is_the_warmup_less_ordinary_steps() {
        let text = "some log\n{\"images_per_sec\": 100.0, \"warmup_seconds\": 5.0, \
                    \"step_ms\": 200.0, \"warmup\": 3}\n";
        let result = bench_result(text);
        let overhead = result["first_steps_overhead_s"].as_f64().unwrap();
        assert!((overhead - 4.4).abs() < 1e-9, "{overhead}");
        assert_eq!(bench_result("no json here"), Value::Null);
    }

    #[test]
    fn accuracies_within_three_binomial_deviations_agree() {
        // 1000 images at 50%: tolerance 3 sqrt(0.5 / 1000) = 0.067.
        let close = compare(0.50, 0.55, 1000);
        assert!((close["tolerance"].as_f64().unwrap() - 0.0671).abs() < 1e-3);
        assert_eq!(close["within_noise"], true);
        assert_eq!(compare(0.50, 0.60, 1000)["within_noise"], false);
        assert_eq!(compare(0.60, 0.50, 1000)["within_noise"], false);
    }

    #[test]
    fn the_summary_has_a_row_per_benchmark_that_ran() {
        let report = json!({"steps": [
            {"name": "backend", "status": "ok"},
            {"name": "bench-cuda-ce-112x16", "status": "ok", "gpu_memory_mib": {"peak_minus_before": 812.0},
             "result": {"backend": "cuda", "method": "baseline", "size": 112, "batch": 16,
                        "images_per_sec": 900.5, "step_ms": 17.8, "first_steps_overhead_s": 12.5}},
            {"name": "bench-wgpu-ce-112x16", "status": "skipped"},
            {"name": "torch-ce-112x16", "status": "ok",
             "result": {"framework": "pytorch", "device": "NVIDIA H200", "method": "ce", "size": 112,
                        "batch": 16, "images_per_sec": 2000.0, "step_ms": 8.0, "warmup_seconds": 2.0}},
        ]});
        let rows = summary(&report);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["method"], "ce");
        assert_eq!(rows[1]["backend"], "NVIDIA H200");
        let table = markdown(&rows);
        assert!(
            table.contains("| afcn | cuda | ce | 112 | 16 | 900.5 | 17.8 | 12.5 | 812.0 |"),
            "{table}"
        );
    }
}
