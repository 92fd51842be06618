//! `afcn audit`: scores every training sample of a finished run (or of a dataset, with given
//! weights), ranks the suspected label issues, writes `label_issues.csv`, the per-class health
//! table, the dataset's health score and the review page; `afcn audit apply` turns a review's
//! decisions into a corrected label file.
//!
//! Everything is checked before anything is written: an incomplete run directory, weights
//! that do not fit, unreadable clean labels are errors and leave no audit directory.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use afcn_backbone::Arch;
use afcn_data::{FerDataset, read_labels_for};
use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::{
    audit::{
        AuditError,
        labels::LabelFile,
        probabilities::{cross_validated, two_view_probabilities},
        review::ReviewPage,
        scores::{SampleScore, issues_csv, rank, summarise, summary_text},
    },
    commands::model_args::load_fer_model,
};
use afcn_train::{
    backend::{BackendKind, BackendTask, run_on},
    checkpoint::STATE_FILE,
    config::{DataConfig, DatasetKind, TrainConfig},
    data,
    methods::{MethodConfigs, MethodKind},
    model::HEADS_FILE,
    progress::progress_bar,
    run_dir::{RunDir, names, write_atomic},
    trainer::TrainerState,
};

/// The ranked scores of every sample.
pub const LABEL_ISSUES: &str = "label_issues.csv";
/// The summary (health table, confused pairs, health score, flag quality) as JSON.
pub const SUMMARY_JSON: &str = "summary.json";
/// The summary as text.
pub const SUMMARY_MD: &str = "summary.md";
/// What `afcn audit apply` needs: every sample's name, given and suggested label.
pub const LABELS_JSON: &str = "labels.json";
/// The review page.
pub const REVIEW_HTML: &str = "review.html";

/// Arguments of `afcn audit`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// Apply a review's decisions instead of auditing.
    #[command(subcommand)]
    pub apply: Option<Apply>,
    /// A finished training run: its configuration, final weights and label corrections.
    #[arg(long, conflicts_with_all = ["weights", "arch", "dataset", "root", "classes", "size"])]
    pub run: Option<PathBuf>,
    /// Weights with a classifier (instead of --run): a model saved by `afcn train` or a
    /// torchvision state dict.
    #[arg(long, requires = "arch")]
    pub weights: Option<PathBuf>,
    /// The architecture of --weights.
    #[arg(long)]
    pub arch: Option<Arch>,
    /// The dataset of --weights.
    #[arg(long, value_enum, default_value_t = DatasetKind::Synthfer)]
    pub dataset: DatasetKind,
    /// The dataset's root directory (every dataset but `synthfer` needs one).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Classes of FERPlus or AffectNet: 7 or 8.
    #[arg(long, default_value_t = 7)]
    pub classes: usize,
    /// Side of the network input for --weights, in pixels.
    #[arg(long, default_value_t = 224)]
    pub size: u32,
    /// Out-of-sample probabilities: K-fold cross-training with the run's configuration
    /// (K trainings, each on K-1 folds); without it the scores are in-sample.
    #[arg(long, value_name = "K")]
    pub folds: Option<usize>,
    /// The clean labels of the training split, in RAF-DB's list format (`name label`), to
    /// measure the flags against (SynthFER and injected noise know theirs).
    #[arg(long)]
    pub clean_labels: Option<PathBuf>,
    /// Flagged samples on the review page, best ranked first (each adds three pictures, about
    /// 75 kB at the default tile).
    #[arg(long, default_value_t = 200)]
    pub review: usize,
    /// Side of each picture on the review page, in pixels.
    #[arg(long, default_value_t = 128)]
    pub tile: u32,
    /// The audit directory (default: RUN_DIR/audit, or `audit` with --weights).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The compute backend (default: the run's).
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
}

/// `afcn audit apply`.
#[derive(Debug, clap::Subcommand)]
pub enum Apply {
    /// Writes the corrected label file from a review's decisions (never the original file).
    Apply(ApplyArgs),
}

/// Arguments of `afcn audit apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The audit directory the decisions were made in.
    #[arg(long)]
    pub audit: PathBuf,
    /// The decisions exported from the review page (`decisions.csv`).
    #[arg(long)]
    pub decisions: PathBuf,
    /// The corrected label file to write (default: in the audit directory); an existing file
    /// is refused.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What `afcn audit apply` reads back: every sample's line and suggested label.
#[derive(Debug, Serialize, Deserialize)]
struct AuditLabels {
    labels: LabelFile,
    suggested: Vec<usize>,
}

/// Runs `afcn audit` or `afcn audit apply`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(Apply::Apply(apply)) = args.apply {
        return run_apply(&apply);
    }
    let plan = plan(&args)?;
    let backend = args.backend.unwrap_or(plan.backend);
    let out = plan.out.clone();
    let summary = run_on(backend, Audit { args, plan })??;
    println!("{summary}");
    eprintln!("audit written to {}", out.display());
    Ok(())
}

/// The model and data an audit scores, checked before anything is written.
struct Plan {
    config: TrainConfig,
    weights: PathBuf,
    /// The label store at the end of the run (its corrections), when auditing a run.
    state: Option<(PathBuf, TrainerState)>,
    out: PathBuf,
    backend: BackendKind,
}

/// Reads and checks the run directory, or builds the configuration of --weights.
fn plan(args: &Args) -> anyhow::Result<Plan> {
    if let Some(k) = args.folds.filter(|&k| k < 2) {
        return Err(AuditError::Folds(k).into());
    }
    if let Some(dir) = &args.run {
        anyhow::ensure!(dir.is_dir(), "{}: no such run directory", dir.display());
        let run = RunDir::create(dir)?;
        let missing = |name: &str| AuditError::IncompleteRun {
            dir: dir.clone(),
            missing: name.to_owned(),
        };
        for name in [names::CONFIG, names::WEIGHTS, names::COMPLETE] {
            if !run.join(name).is_file() {
                return Err(missing(name).into());
            }
        }
        let config =
            TrainConfig::from_toml_file(&run.join(names::CONFIG), &TrainConfig::default())?;
        if !config.method.backbone_inference() && !run.join(HEADS_FILE).is_file() {
            return Err(missing(HEADS_FILE).into());
        }
        let checkpoint = run
            .latest_checkpoint()?
            .ok_or_else(|| missing(names::LATEST))?;
        let state_file = checkpoint.join(STATE_FILE);
        let text = std::fs::read_to_string(&state_file)
            .map_err(|_| missing(&state_file.display().to_string()))?;
        let state: TrainerState = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", state_file.display()))?;
        return Ok(Plan {
            backend: config.backend,
            weights: run.join(names::WEIGHTS),
            state: Some((state_file, state)),
            out: args.out.clone().unwrap_or_else(|| dir.join("audit")),
            config,
        });
    }
    let (Some(weights), Some(arch)) = (&args.weights, args.arch) else {
        return Err(AuditError::NothingToAudit.into());
    };
    if args.folds.is_some() {
        return Err(AuditError::FoldsNeedRun.into());
    }
    anyhow::ensure!(args.size > 0, "--size must be positive");
    let mut config = TrainConfig {
        method: MethodKind::Baseline,
        methods: MethodConfigs::default(),
        arch,
        data: DataConfig {
            dataset: args.dataset,
            root: args.root.clone(),
            classes: args.classes,
            ..DataConfig::default()
        },
        ..TrainConfig::default()
    };
    // The labels as the dataset gives them: no noise is injected into what is audited.
    config.data.noise.rate = 0.0;
    config.augment.image_size = args.size;
    config.validate()?;
    Ok(Plan {
        backend: config.backend,
        weights: weights.clone(),
        state: None,
        out: args.out.clone().unwrap_or_else(|| PathBuf::from("audit")),
        config,
    })
}

/// The audit, run on the chosen backend.
struct Audit {
    args: Args,
    plan: Plan,
}

impl BackendTask for Audit {
    type Output = anyhow::Result<String>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let Audit { args, plan } = self;
        let config = &plan.config;
        let data = data::open(&config.data).context("opening the dataset")?;
        let train: Arc<dyn FerDataset> = Arc::from(data.train);
        let class_names = train.class_names().to_vec();
        let size = config.augment.image_size;
        let model = load_fer_model::<B::InnerBackend>(
            &plan.weights,
            (config.method, &config.methods),
            config.arch,
            (class_names.len(), &config.data.dataset.to_string()),
            size,
            &device,
        )?;
        let annotations = train.annotations()?;
        let given: Vec<usize> = annotations.iter().map(|a| a.label).collect();
        let corrected = match &plan.state {
            Some((file, state)) => Some(corrections(file, state, &given)?),
            None => None,
        };
        let clean: Option<Vec<usize>> = match &args.clean_labels {
            Some(path) => Some(read_labels_for(train.as_ref(), path)?),
            None => clean_known(&config.data)
                .then(|| annotations.iter().map(|a| a.clean_label).collect()),
        };
        let labels = LabelFile::of(config.data.dataset, train.as_ref())?;

        // Everything is checked: from here on the audit directory is written.
        let out = RunDir::create(&plan.out)?;
        let _lock = out.lock()?;
        let (probabilities, source) = match args.folds {
            Some(k) => (
                cross_validated::<B>(config, Arc::clone(&train), k, &out.join("folds"), &device)?,
                format!("out-of-sample, {k} folds"),
            ),
            None => {
                let all: Vec<usize> = (0..train.len()).collect();
                let bar = progress_bar(all.len() as u64, "scoring");
                let p = two_view_probabilities(&model, train.as_ref(), &all, size, &device, &bar)?;
                bar.finish_and_clear();
                (p, "in-sample".to_owned())
            }
        };
        let scores: Vec<SampleScore> = probabilities
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let mut s = SampleScore::new(i, labels.names[i].clone(), given[i], p);
                s.corrected = corrected.as_ref().and_then(|c| c[i]);
                s.clean = clean.as_ref().map(|c| c[i]);
                s
            })
            .collect();
        let suggested: Vec<usize> = scores.iter().map(|s| s.suggested).collect();
        let ranked = rank(scores, class_names.len());
        let summary = summarise(&ranked, &class_names, &source);
        let text = summary_text(&summary);
        out.write_bytes(LABEL_ISSUES, &issues_csv(&ranked, &class_names)?)?;
        out.write(SUMMARY_JSON, &serde_json::to_string_pretty(&summary)?)?;
        out.write(SUMMARY_MD, &text)?;
        let page = ReviewPage {
            title: format!("{} ({source})", config.data.dataset),
            samples: ranked
                .iter()
                .filter(|s| s.flagged)
                .take(args.review)
                .collect(),
            labels: &labels,
            size,
            tile: args.tile.max(16),
        };
        out.write(REVIEW_HTML, &page.render(&model.backbone, train.as_ref())?)?;
        out.write(
            LABELS_JSON,
            &serde_json::to_string(&AuditLabels { labels, suggested })?,
        )?;
        Ok(text)
    }
}

/// Whether the training split's clean labels are known: SynthFER is generated clean, injected
/// noise and RAF-DB's replacement lists keep the official label beside the given one.
fn clean_known(data: &DataConfig) -> bool {
    data.dataset == DatasetKind::Synthfer || data.noise.rate > 0.0 || data.train_labels.is_some()
}

/// Each sample's last correction by the run (epoch, label), when its final label is not the
/// given one; checks that the run's store describes these given labels.
fn corrections(
    file: &Path,
    state: &TrainerState,
    given: &[usize],
) -> anyhow::Result<Vec<Option<(usize, usize)>>> {
    let store = &state.labels;
    if store.given() != given {
        return Err(AuditError::StaleRun {
            state: file.to_owned(),
            run: store.len(),
            found: given.len(),
        }
        .into());
    }
    let mut last = vec![None; given.len()];
    for change in store.changes() {
        last[change.sample] = Some(change.epoch);
    }
    Ok((0..given.len())
        .map(|i| {
            let now = store.current()[i];
            (now != given[i]).then(|| (last[i].unwrap_or(0), now))
        })
        .collect())
}

/// `afcn audit apply`: checks every decision, then writes the corrected label file.
fn run_apply(args: &ApplyArgs) -> anyhow::Result<()> {
    let file = args.audit.join(LABELS_JSON);
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "reading {} (is {} an audit directory?)",
            file.display(),
            args.audit.display()
        )
    })?;
    let audit: AuditLabels =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
    let labels = audit.labels.apply(&args.decisions, &audit.suggested)?;
    let out = match &args.out {
        Some(out) if out.exists() => return Err(AuditError::OutputExists(out.clone()).into()),
        Some(out) => out.clone(),
        None => args.audit.join(audit.labels.file_name()),
    };
    write_atomic(&out, audit.labels.render(&labels).as_bytes())?;
    let changed = labels
        .iter()
        .zip(&audit.labels.given)
        .filter(|(a, b)| a != b)
        .count();
    println!("{}: {changed} labels changed", out.display());
    Ok(())
}
