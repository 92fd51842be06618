//! `afcn data`: dataset tools. `afcn data inspect` opens every split of a dataset, counts its
//! samples per class, injects (or reads) label noise and reports the realised rate and
//! transition matrix, and lists every problem found; it fails when the dataset cannot be used.

use std::path::PathBuf;

use afcn_data::{
    FerDataset, LoadOptions, NoiseConfig, NoiseKind, NoisyLabels, Relabeled, Split,
    write_label_list,
};
use anyhow::{Context, bail};

use afcn_train::{
    config::{DataConfig, DatasetKind},
    data,
};

/// Arguments of `afcn data`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// The dataset tools.
#[derive(Debug, clap::Subcommand)]
pub enum DataCommand {
    /// Counts per split and class, realised label noise, and every problem found.
    Inspect(InspectArgs),
}

/// Arguments of `afcn data inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The dataset (`synthfer` is the generated one with its default configuration).
    #[arg(long, value_enum)]
    pub dataset: DatasetKind,
    /// The dataset's root folder (all formats but synthfer).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// The number of classes for FERPlus and AffectNet: 7, or 8 with contempt; default 7, as
    /// for `afcn train` (`data.classes`).
    #[arg(long, value_parser = clap::value_parser!(u8).range(7..=8))]
    pub classes: Option<u8>,
    /// RAF-DB only: an alternative train label list (e.g. noise01.txt) whose labels replace the
    /// official ones; its realised noise is reported.
    #[arg(long)]
    pub train_labels: Option<PathBuf>,
    /// Inject label noise into the train split with this probability (0 to 1).
    #[arg(long)]
    pub noise: Option<f64>,
    /// The kind of injected noise.
    #[arg(long, default_value = "symmetric")]
    pub noise_kind: NoiseKind,
    /// The seed of the injected noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the train split's (noisy) labels to this file in the RAF-DB line format.
    #[arg(long)]
    pub export_labels: Option<PathBuf>,
    /// Accept a dataset with bad entries: they are listed and left out, and the exit code is 0
    /// as long as every split still holds samples.
    #[arg(long)]
    pub skip_bad: bool,
    /// Only check that images exist instead of decoding every one of them.
    #[arg(long)]
    pub no_decode: bool,
}

/// Runs `afcn data`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        DataCommand::Inspect(args) => inspect(args),
    }
}

/// The data configuration of the arguments: the one `afcn train` would open.
fn data_config(args: &InspectArgs) -> anyhow::Result<DataConfig> {
    let defaults = DataConfig::default();
    if args.dataset.format().is_some() && args.root.is_none() {
        bail!("--root is needed for {}", args.dataset);
    }
    let classes = args.classes.map_or(defaults.classes, usize::from);
    if args.classes.is_some() && !args.dataset.format().is_some_and(|f| f.has_class_choice()) {
        bail!("--classes applies to FERPlus and AffectNet only");
    }
    if args.train_labels.is_some() && args.dataset != DatasetKind::Rafdb {
        bail!("--train-labels applies to RAF-DB only");
    }
    Ok(DataConfig {
        dataset: args.dataset,
        root: args.root.clone(),
        classes,
        train_labels: args.train_labels.clone(),
        ..defaults
    })
}

fn inspect(args: InspectArgs) -> anyhow::Result<()> {
    let config = data_config(&args)?;
    // Bad entries are collected rather than stopping at the first.
    let options = LoadOptions {
        skip_bad: true,
        verify_images: !args.no_decode,
        ..LoadOptions::default()
    };
    let root = config.root.clone().unwrap_or_default();
    println!("dataset: {} {}", args.dataset, root.display());
    let mut problems = Vec::new();
    let mut failed = Vec::new();
    let mut opened = Vec::new();
    for split in data::splits(&config) {
        match data::open_split(&config, split, &options) {
            Ok(dataset) => {
                // A bad line of a file shared by the splits is met once per split: list it once.
                for problem in dataset.skipped().iter().map(|e| e.to_string()) {
                    if !problems.contains(&problem) {
                        problems.push(problem);
                    }
                }
                opened.push((split, dataset));
            }
            Err(err) => failed.push(format!("{split}: {err:#}")),
        }
    }
    if let Some((_, first)) = opened.first() {
        print_counts(first.class_names(), &opened)?;
    }
    if let Some((_, train)) = opened.iter().find(|(s, _)| *s == Split::Train) {
        report_noise(&args, train.as_ref())?;
    }
    println!("problems: {}", problems.len() + failed.len());
    for problem in problems.iter().chain(&failed) {
        println!("  {problem}");
    }
    if !failed.is_empty() {
        bail!(
            "the dataset cannot be used: {} split(s) could not be opened",
            failed.len()
        );
    }
    if !problems.is_empty() && !args.skip_bad {
        bail!(
            "the dataset has {} bad entries; fix them or pass --skip-bad to leave them out",
            problems.len()
        );
    }
    println!("usable: yes");
    Ok(())
}

/// Prints a table of samples per split and class.
fn print_counts(classes: &[String], opened: &[(Split, Box<dyn FerDataset>)]) -> anyhow::Result<()> {
    println!("classes: {}", classes.len());
    print!("{:<8}{:>8}", "split", "total");
    for class in classes {
        print!("{class:>12}");
    }
    println!();
    for (split, dataset) in opened {
        let mut counts = vec![0usize; classes.len()];
        for annotation in dataset.annotations()? {
            if let Some(count) = counts.get_mut(annotation.clean_label) {
                *count += 1;
            }
        }
        print!("{:<8}{:>8}", split.name(), dataset.len());
        for count in counts {
            print!("{count:>12}");
        }
        println!();
    }
    Ok(())
}

/// Injects the asked-for noise into the train split (or measures a loaded noisy list), prints
/// the realised rate and the transition matrix, and exports the labels when asked.
fn report_noise(args: &InspectArgs, train: &dyn FerDataset) -> anyhow::Result<()> {
    let annotations = train.annotations()?;
    let clean: Vec<usize> = annotations.iter().map(|a| a.clean_label).collect();
    let classes = train.num_classes();
    let (title, noisy, relabeled) = match args.noise {
        Some(rate) => {
            let config = NoiseConfig {
                kind: args.noise_kind,
                rate,
                seed: args.seed,
            };
            let (relabeled, noisy) = Relabeled::with_noise(train, &config)?;
            let title = format!("{} noise p={rate} seed={}", args.noise_kind, args.seed);
            (title, noisy, Some(relabeled))
        }
        None => {
            let given = annotations.iter().map(|a| a.label).collect();
            let noisy = NoisyLabels::compare(&clean, given, classes)?;
            ("given labels".to_string(), noisy, None)
        }
    };
    println!(
        "train noise ({title}): realised rate {:.4} ({} of {} labels changed)",
        noisy.realised_rate(),
        noisy.changed(),
        noisy.labels.len()
    );
    if noisy.changed() > 0 {
        println!("transition matrix (rows: clean label, columns: given label):");
        for (class, row) in train.class_names().iter().zip(noisy.transition_matrix()) {
            let cells: Vec<String> = row.iter().map(|p| format!("{p:.3}")).collect();
            println!("  {class:<12}{}", cells.join(" "));
        }
    }
    if let Some(path) = &args.export_labels {
        match &relabeled {
            Some(relabeled) => write_label_list(relabeled, path),
            None => write_label_list(train, path),
        }
        .with_context(|| format!("exporting the train labels to {}", path.display()))?;
        println!("train labels written to {}", path.display());
    }
    Ok(())
}
