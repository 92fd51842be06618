//! `afcn bench`: the throughput of one training step on random images.
//!
//! Each step is the trainer's own code path ([`step::forward`], then [`Step::loss`], then
//! backward and the Adam update), fed the same random images every time, so that the figure
//! measures the network, the losses and the optimizer, not the data pipeline. Images per
//! second count source images: a two-view step (AFCN, EAC) sends each image through the
//! network twice and still counts it once.
//!
//! With `--phases`, each step is split into forward / attention and loss / backward /
//! optimizer, with a synchronisation at every boundary (reading one scalar from the device):
//! on asynchronous backends (wgpu, cuda) that sync stalls the queue, so the phase run is
//! slower than a plain run and its `images_per_sec` is not the headline figure.

use std::time::{Duration, Instant};

use afcn_backbone::Arch;
use afcn_certainty::LabelStore;
use anyhow::Context;
use burn::tensor::{Distribution, ElementConversion, Tensor, backend::AutodiffBackend};
use serde::Serialize;

use afcn_train::{
    backend::{BackendKind, BackendTask, run_on},
    config::{Preset, TrainConfig},
    distributed::{DataParallel, RunningStats},
    methods::MethodKind,
    model::FerModel,
    optim,
    step::{self, Step},
};

/// Arguments of `afcn bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The compute backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
    /// The method whose step is timed (`ce` is the cross-entropy baseline).
    #[arg(long, value_enum, default_value_t = MethodKind::Afcn)]
    pub method: MethodKind,
    /// The backbone architecture.
    #[arg(long, default_value_t = Arch::ResNet18)]
    pub arch: Arch,
    /// The input side in pixels.
    #[arg(long, default_value_t = 112)]
    pub size: usize,
    /// Source images per batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Untimed steps first (allocation, autotuning, shader compilation).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// The epoch the steps pretend to be in (it decides warm-up and relabelling); default:
    /// the paper preset's last epoch, where every method's schedule has started.
    #[arg(long)]
    pub epoch: Option<usize>,
    /// Number of classes.
    #[arg(long, default_value_t = 7)]
    pub classes: usize,
    /// Seed of the weights, the images and the labels.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Time the phases of each step (forward, attention and loss, backward, optimizer),
    /// synchronising the device at each boundary.
    #[arg(long)]
    pub phases: bool,
    /// Print one JSON line instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Median milliseconds of each phase of a step (`--phases` only).
#[derive(Clone, Debug, Serialize)]
pub struct PhaseTimes {
    /// The batched forward of every view through the backbone.
    pub forward_ms: f64,
    /// Attention maps, certainty, label correction and the loss terms.
    pub loss_ms: f64,
    /// `backward` of the loss.
    pub backward_ms: f64,
    /// Gradient collection and the Adam update.
    pub optimizer_ms: f64,
}

/// What `afcn bench` measured.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// The method (`baseline` is cross-entropy).
    pub method: MethodKind,
    /// The backbone.
    pub arch: String,
    /// The input side in pixels.
    pub size: usize,
    /// Source images per batch.
    pub batch: usize,
    /// The backend.
    pub backend: BackendKind,
    /// Views of each image per step (2 for AFCN and EAC).
    pub views: usize,
    /// The epoch the steps pretended to be in.
    pub epoch: usize,
    /// Timed steps.
    pub steps: usize,
    /// Untimed steps before them.
    pub warmup: usize,
    /// Seconds of the untimed steps.
    pub warmup_seconds: f64,
    /// Source images per second over the timed steps.
    pub images_per_sec: f64,
    /// Mean milliseconds of a timed step.
    pub step_ms: f64,
    /// Peak resident memory of the process in MiB (`VmHWM`; Linux only). Host memory: device
    /// memory of wgpu and cuda is not in it.
    pub peak_rss_mib: Option<f64>,
    /// The split of a step, when `--phases` was given.
    pub phases: Option<PhaseTimes>,
}

/// Runs `afcn bench`.
pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.batch >= 2, "--batch must be at least 2");
    anyhow::ensure!(args.steps >= 1, "--steps must be at least 1");
    anyhow::ensure!(args.size >= 32, "--size must be at least 32 pixels");
    let json = args.json;
    let report = run_on(args.backend, Bench(args))??;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// The benchmark as a backend task.
struct Bench(Args);

impl BackendTask for Bench {
    type Output = anyhow::Result<BenchReport>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        bench::<B>(&self.0, &device)
    }
}

/// The run configuration of the benchmark: the paper's preset with the flags applied.
fn config(args: &Args) -> TrainConfig {
    let mut config = Preset::Paper.config();
    config.method = args.method;
    config.backend = args.backend;
    config.arch = args.arch;
    config.batch_size = args.batch;
    config.seed = args.seed;
    config.augment.image_size = args.size as u32;
    config
}

fn bench<B: AutodiffBackend>(args: &Args, device: &B::Device) -> anyhow::Result<BenchReport> {
    let config = config(args);
    let epoch = args.epoch.unwrap_or(config.epochs - 1);
    B::seed(device, config.seed);
    let mut model = FerModel::<B>::new(
        config.method,
        &config.methods,
        config.arch,
        args.classes,
        args.size,
        device,
    );
    let mut optimizer = optim::optimizer::<B>(&config);
    // One process, one shard: the trainer's path for a run that is not data-parallel.
    let solo = DataParallel::solo();
    let given = (0..args.batch)
        .map(|i| (i * 5 + 3) % args.classes)
        .collect();
    let mut labels = LabelStore::new(given, args.classes)?;
    let indices: Vec<usize> = (0..args.batch).collect();
    let mut step = Step {
        config: &config,
        labels: &mut labels,
    };
    let views = step.views().count();
    let images = Tensor::<B, 4>::random(
        [views * args.batch, 3, args.size, args.size],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    let lr = config.optim.lr;

    let mut phases: Vec<[Duration; 4]> = Vec::with_capacity(args.steps);
    let mut warmup_seconds = 0.0;
    let mut start = Instant::now();
    for s in 0..args.warmup + args.steps {
        if s == args.warmup {
            sync(&model);
            warmup_seconds = start.elapsed().as_secs_f64();
            start = Instant::now();
        }
        let mut marks = [Instant::now(); 5];
        let forward = step::forward(&model, images.clone());
        if args.phases {
            read_scalar(forward.clone());
            marks[1] = Instant::now();
        }
        let mut running = RunningStats::begin(&solo, &model);
        let out = step
            .loss(
                &model,
                vec![(forward, 0..args.batch)],
                &indices,
                epoch,
                device,
                &mut running,
            )
            .with_context(|| format!("step {s}"))?;
        if args.phases {
            read_scalar(out.loss.clone());
            marks[2] = Instant::now();
        }
        let mut grads = out.loss.backward();
        running.reduce(&model, &mut grads);
        if args.phases {
            if let Some(grad) = model.backbone.conv1.weight.grad(&grads) {
                read_scalar(grad);
            }
            marks[3] = Instant::now();
        }
        let head_lr = lr * config.method.head_lr_factor(&config.methods);
        model = optim::update(&mut optimizer, model, grads, [lr, head_lr]);
        if args.phases {
            sync(&model);
            marks[4] = Instant::now();
            if s >= args.warmup {
                phases.push([1, 2, 3, 4].map(|i| marks[i] - marks[i - 1]));
            }
        }
    }
    sync(&model);
    let seconds = start.elapsed().as_secs_f64();
    Ok(BenchReport {
        method: config.method,
        arch: config.arch.to_string(),
        size: args.size,
        batch: args.batch,
        backend: args.backend,
        views,
        epoch,
        steps: args.steps,
        warmup: args.warmup,
        warmup_seconds,
        images_per_sec: (args.steps * args.batch) as f64 / seconds,
        step_ms: 1e3 * seconds / args.steps as f64,
        peak_rss_mib: peak_rss_mib(),
        phases: (!phases.is_empty()).then(|| PhaseTimes {
            forward_ms: median_ms(&phases, 0),
            loss_ms: median_ms(&phases, 1),
            backward_ms: median_ms(&phases, 2),
            optimizer_ms: median_ms(&phases, 3),
        }),
    })
}

/// Waits for the device: reads one scalar computed from the stem's weight, which the last
/// optimizer update wrote (devices run their queue in order, so everything queued before it
/// is done too).
fn sync<B: AutodiffBackend>(model: &FerModel<B>) {
    read_scalar(model.backbone.conv1.weight.val().inner());
}

/// Reads the sum of `tensor` back to the host, which waits for everything it depends on.
fn read_scalar<B: burn::tensor::backend::Backend, const D: usize>(tensor: Tensor<B, D>) -> f64 {
    tensor.sum().into_scalar().elem()
}

/// The median of phase `phase` over the timed steps, in milliseconds.
fn median_ms(steps: &[[Duration; 4]], phase: usize) -> f64 {
    let mut times: Vec<f64> = steps.iter().map(|s| s[phase].as_secs_f64()).collect();
    times.sort_by(f64::total_cmp);
    let mid = times.len() / 2;
    let median = if times.len() % 2 == 1 {
        times[mid]
    } else {
        (times[mid - 1] + times[mid]) / 2.0
    };
    1e3 * median
}

/// The process's peak resident set size (`VmHWM` in `/proc/self/status`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn print_table(report: &BenchReport) {
    println!(
        "{} {} at {} px, batch {} ({} view{} per image), {} backend, epoch {}",
        report.method,
        report.arch,
        report.size,
        report.batch,
        report.views,
        if report.views == 1 { "" } else { "s" },
        report.backend,
        report.epoch
    );
    println!(
        "  {:.2} images/s, {:.1} ms per step ({} steps after {} warm-up steps of {:.1} s)",
        report.images_per_sec, report.step_ms, report.steps, report.warmup, report.warmup_seconds
    );
    if let Some(mib) = report.peak_rss_mib {
        println!("  peak resident memory {mib:.0} MiB");
    }
    if let Some(p) = &report.phases {
        let total = p.forward_ms + p.loss_ms + p.backward_ms + p.optimizer_ms;
        for (name, ms) in [
            ("forward", p.forward_ms),
            ("attention + loss", p.loss_ms),
            ("backward", p.backward_ms),
            ("optimizer", p.optimizer_ms),
        ] {
            println!("  {name:<17} {ms:>9.1} ms  {:>5.1}%", 100.0 * ms / total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = |v: &[u64]| -> Vec<[Duration; 4]> {
            v.iter().map(|&m| [Duration::from_millis(m); 4]).collect()
        };
        assert_eq!(median_ms(&ms(&[5, 1, 3]), 0), 3.0);
        assert_eq!(median_ms(&ms(&[4, 1, 3, 10]), 2), 3.5);
    }

    #[test]
    fn peak_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let mib = peak_rss_mib().expect("VmHWM on Linux");
            assert!(mib > 0.0 && mib < 1e6, "{mib}");
        }
    }
}
