//! `afcn train`: trains a method on a dataset and writes a run directory.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, atomic::AtomicBool};

use afcn_backbone::Arch;
use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::report;
use afcn_train::{
    backend::{BackendKind, BackendTask, run_on_device},
    checkpoint::Checkpoint,
    config::{DatasetKind, Preset, TrainConfig},
    data,
    distributed::{self, Collective, DataParallel},
    methods::MethodKind,
    run_dir::{RunDir, names},
    trainer::Trainer,
};

/// Arguments of `afcn train`. Flags override the configuration file, which overrides the
/// preset.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The preset the configuration starts from.
    #[arg(long, value_enum, default_value_t = Preset::Synthfer)]
    pub preset: Preset,
    /// A TOML configuration file (see `docs/training.md`); its keys override the preset.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The method to train.
    #[arg(long, value_enum)]
    pub method: Option<MethodKind>,
    /// The dataset.
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetKind>,
    /// The dataset's root directory.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Symmetric label-noise rate injected into the training split, in [0, 1].
    #[arg(long)]
    pub noise: Option<f64>,
    /// The run's seed (also the noise seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The compute backend.
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// Number of epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// The backbone architecture.
    #[arg(long)]
    pub arch: Option<Arch>,
    /// Pretrained weights (torchvision names, `.pth` or `.safetensors`).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// The run directory (default `runs/<method>-<dataset>-noise<P>-seed<S>`).
    #[arg(long, conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory from its latest checkpoint.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Skip a batch whose loss is NaN or infinite (counted in the metrics) instead of stopping
    /// the run.
    #[arg(long)]
    pub skip_nonfinite: bool,
    /// Also print the full configuration at the start (it is always saved as `config.toml`).
    #[arg(long)]
    pub verbose: bool,
    /// The device number on the backend (a CUDA device, WGPU's discrete GPU); by default the
    /// local rank under an MPI launcher (`OMPI_COMM_WORLD_LOCAL_RANK`, `SLURM_LOCALID`), else
    /// the backend's default device.
    #[arg(long)]
    pub device: Option<usize>,
}

impl Args {
    /// The configuration these arguments describe.
    pub fn config(&self) -> anyhow::Result<TrainConfig> {
        let base = self.preset.config();
        let mut config = match &self.config {
            Some(path) => TrainConfig::from_toml_file(path, &base)?,
            None => base,
        };
        if let Some(method) = self.method {
            config.method = method;
        }
        if let Some(dataset) = self.dataset {
            config.data.dataset = dataset;
        }
        if let Some(root) = &self.root {
            config.data.root = Some(root.clone());
        }
        if let Some(noise) = self.noise {
            config.data.noise.rate = noise;
        }
        if let Some(seed) = self.seed {
            config.seed = seed;
            config.data.noise.seed = seed;
        }
        if let Some(backend) = self.backend {
            config.backend = backend;
        }
        if let Some(epochs) = self.epochs {
            config = config.with_epochs(epochs);
        }
        if let Some(batch_size) = self.batch_size {
            config.batch_size = batch_size;
        }
        if let Some(arch) = self.arch {
            config.arch = arch;
        }
        if let Some(weights) = &self.weights {
            config.weights = Some(weights.clone());
        }
        if self.skip_nonfinite {
            config.skip_nonfinite = true;
        }
        if let Some(weights) = &config.weights {
            anyhow::ensure!(
                weights.is_file() || config.weights != Preset::SynthferPretrained.config().weights,
                "the synthfer-pretrained preset starts from {}, which does not exist yet: \
                 make it with `afcn pretrain` (or `cargo xtask pretrain`)",
                weights.display()
            );
        }
        config.validate()?;
        Ok(config)
    }
}

/// Runs `afcn train`: in one process, or as one rank of an MPI job (`mpirun -np N afcn
/// train ...`), where rank 0 alone resolves the configuration, locks and writes the run
/// directory, and an error on any rank ends the whole job.
pub fn run(args: Args) -> anyhow::Result<()> {
    let start = match &args.resume {
        Some(dir) => Start::Resume(dir.clone()),
        None => {
            let config = args.config()?;
            let out = args.out.clone().unwrap_or_else(|| default_run_dir(&config));
            Start::New {
                config: Box::new(config),
                out,
            }
        }
    };
    execute(start, args.verbose, args.device)
}

/// How a run starts.
pub enum Start {
    /// A new run of `config` into the directory `out`.
    New {
        /// The configuration.
        config: Box<TrainConfig>,
        /// The run directory (created; it must not hold a run yet).
        out: PathBuf,
    },
    /// The unfinished run in this directory, from its latest checkpoint.
    Resume(PathBuf),
}

/// Trains a run to its end and writes its outputs: what `afcn train` and `afcn pretrain` do,
/// in one process or as one rank of an MPI job, on `device` (by default the first, or the
/// local rank under a launcher).
pub fn execute(start: Start, verbose: bool, device: Option<usize>) -> anyhow::Result<()> {
    // Installed before anything is written, so that a Ctrl-C at any point is ours.
    let interrupt = interrupt_flag()?;
    let collective = distributed::collective()?;
    if collective.ranks() == 1 {
        return run_rank(start, verbose, device, interrupt, collective);
    }
    let rank = collective.rank();
    match run_rank(start, verbose, device, interrupt, Rc::clone(&collective)) {
        Err(e) if !e.is::<afcn_train::trainer::Interrupted>() => {
            // The other ranks may wait in a collective call for this one: end them all.
            eprintln!("afcn: rank {rank} of {}: error: {e:#}", collective.ranks());
            collective.abort(1)
        }
        outcome => outcome,
    }
}

/// [`execute`] on one rank of `collective`: rank 0 alone reads `start`.
fn run_rank(
    start: Start,
    verbose: bool,
    device: Option<usize>,
    interrupt: Arc<AtomicBool>,
    collective: Rc<dyn Collective>,
) -> anyhow::Result<()> {
    let parallel = DataParallel::new(Rc::clone(&collective), 1);
    if !parallel.is_writer() {
        let path = PathBuf::from(parallel.broadcast_text(String::new())?);
        let text = parallel.broadcast_text(String::new())?;
        let config = TrainConfig::from_toml_str(&text, &TrainConfig::default())
            .map_err(|e| anyhow::anyhow!("the configuration from rank 0: {e}"))?;
        let run = RunDir::create(&path)?;
        return train_on(device, config, run, interrupt, collective);
    }
    // Held until the run ends: no other process trains into the same directory meanwhile.
    let lock;
    let (config, run) = match start {
        Start::Resume(dir) => {
            let run = RunDir::create(&dir)?;
            lock = run.lock()?;
            anyhow::ensure!(
                !run.is_complete(),
                "{} holds a complete run; nothing to resume",
                dir.display()
            );
            let config =
                TrainConfig::from_toml_file(&run.join(names::CONFIG), &TrainConfig::default())?;
            (config, run)
        }
        Start::New { config, out } => {
            let config = *config;
            let run = RunDir::create(&out)?;
            lock = run.lock()?;
            anyhow::ensure!(
                run.latest_checkpoint()?.is_none() && !run.is_complete(),
                "{} already holds a run: resume it with `--resume {}` or choose another --out",
                out.display(),
                out.display()
            );
            run.write(names::CONFIG, &config.to_toml())?;
            (config, run)
        }
    };
    if verbose {
        eprintln!("{}", config.to_toml());
    }
    if parallel.ranks() > 1 {
        parallel.broadcast_text(run.path().display().to_string())?;
        parallel.broadcast_text(config.to_toml())?;
    }
    let outcome = train_on(device, config, run, interrupt, collective);
    drop(lock);
    outcome
}

/// Trains `config` into `run` on this process's device.
fn train_on(
    device: Option<usize>,
    config: TrainConfig,
    run: RunDir,
    interrupt: Arc<AtomicBool>,
    collective: Rc<dyn Collective>,
) -> anyhow::Result<()> {
    let parallel = DataParallel::new(collective, config.shards_per_process);
    let device = device.or_else(|| {
        (parallel.ranks() > 1)
            .then(distributed::local_rank)
            .flatten()
    });
    run_on_device(
        config.backend,
        device,
        TrainTask {
            config,
            run,
            interrupt,
            parallel,
        },
    )?
}

/// What a person needs to know at the start of a run, in a few lines: the method, the data
/// and its size, the network, the schedule, the noise, the backend and where it all goes.
fn summary(
    config: &TrainConfig,
    data: &data::RunData,
    run: &RunDir,
    parallel: &DataParallel,
) -> String {
    let noise = match &data.noise {
        Some(noise) => format!(
            "{} {:.0}% asked, {} of {} training labels changed ({:.1}%)",
            config.data.noise.kind,
            100.0 * config.data.noise.rate,
            noise.changed(),
            data.train.len(),
            100.0 * noise.realised_rate()
        ),
        None => "none injected".into(),
    };
    let parallel = if parallel.shards() > 1 {
        format!("  parallel  {}\n", parallel.describe())
    } else {
        String::new()
    };
    format!(
        "training {method} on {dataset}: {train} train / {test} test images, {classes} classes\n\
         \x20 network   {arch} at {size} px, {epochs} epochs of batch {batch}, seed {seed}\n\
         \x20 noise     {noise}\n\
         \x20 backend   {backend}\n\
         {parallel}\
         \x20 run       {dir} (full configuration in {config_file})\n",
        method = config.method,
        dataset = config.data.dataset,
        train = data.train.len(),
        test = data.test.len(),
        classes = data.train.class_names().len(),
        arch = config.arch,
        size = config.augment.image_size,
        epochs = config.epochs,
        batch = config.batch_size,
        seed = config.seed,
        backend = config.backend,
        dir = run.path().display(),
        config_file = run.join(names::CONFIG).display(),
    )
}

/// A flag set by the first Ctrl-C (SIGINT) or SIGTERM, which the trainer reads at batch
/// boundaries; a second signal ends the process at once (exit status 130).
fn interrupt_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag as it was before this signal set it.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&flag))
            .context("installing the interrupt handler")?;
        signal_hook::flag::register(signal, Arc::clone(&flag))
            .context("installing the interrupt handler")?;
    }
    Ok(flag)
}

/// The default run directory of a configuration.
pub fn default_run_dir(config: &TrainConfig) -> PathBuf {
    PathBuf::from("runs").join(format!(
        "{}-{}-noise{}-seed{}",
        config.method,
        config.data.dataset,
        (config.data.noise.rate * 100.0).round(),
        config.seed
    ))
}

/// A whole run on one backend.
struct TrainTask {
    config: TrainConfig,
    run: RunDir,
    interrupt: Arc<AtomicBool>,
    parallel: DataParallel,
}

impl BackendTask for TrainTask {
    type Output = anyhow::Result<()>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> anyhow::Result<()> {
        let TrainTask {
            config,
            run,
            interrupt,
            parallel,
        } = self;
        let data = data::open(&config.data).context("opening the dataset")?;
        let device_name = format!("{device:?}");
        let mut trainer = Trainer::<B>::new(config, data, device)?.with_interrupt(interrupt);
        let parallel = parallel.with_devices(&device_name);
        let writer = parallel.is_writer();
        if writer {
            eprint!(
                "{}",
                summary(trainer.config(), trainer.data(), &run, &parallel)
            );
        }
        // Rank 0 reads the latest checkpoint and sends it to the other ranks.
        let latest = if writer {
            run.latest_checkpoint()?
        } else {
            None
        };
        if let Some(dir) = &latest {
            eprintln!("resuming from {}", dir.display());
        }
        let checkpoint = latest.map(|dir| Checkpoint::read(&dir)).transpose()?;
        if let Some(checkpoint) = Checkpoint::broadcast(&parallel, checkpoint) {
            trainer = trainer.restore(checkpoint)?;
        }
        trainer = trainer.with_parallel(parallel)?;
        if !writer {
            return trainer.train(&run, |_| Ok(()));
        }
        trainer.train(&run, |trainer| {
            report::write_metrics(&run, trainer.history())
        })?;
        report::write_final(&run, &trainer)?;
        run.mark_complete()?;
        eprintln!("done: {}", run.join(names::REPORT).display());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_method_data_network_noise_backend_and_files() {
        let mut config = Preset::Synthfer.config();
        config.data.synthfer.train_size = 40;
        config.data.synthfer.test_size = 10;
        let data = data::open(&config.data).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::create(tmp.path()).unwrap();
        let text = summary(&config, &data, &run, &DataParallel::solo());
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(
            text.starts_with("training afcn on synthfer: 40 train / 10 test images, 7 classes\n"),
            "{text}"
        );
        assert!(
            text.contains("resnet-narrow at 64 px, 12 epochs of batch 32, seed 0"),
            "{text}"
        );
        assert!(text.contains("symmetric 30% asked, "), "{text}");
        assert!(text.contains("backend   cpu"), "{text}");
        assert!(
            text.contains(&format!("{}/config.toml", tmp.path().display())),
            "{text}"
        );
    }
}
