//! `afcn synth`: renders SynthFER into a folder in RAF-DB's layout, so that every RAF-DB tool
//! (`afcn data inspect --dataset rafdb`, `afcn train`) reads it like the real dataset.

use std::path::PathBuf;

use afcn_synthfer::{SynthFerConfig, export_rafdb};
use anyhow::Context;

/// Arguments of `afcn synth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The dataset root to write (`EmoLabel/`, `Image/aligned/`); created if missing.
    #[arg(long)]
    pub out: PathBuf,
    /// A TOML file of SynthFER settings (`SynthFerConfig` fields: sizes, seed, difficulty
    /// knobs); the defaults when omitted. The flags below override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Number of training images (default 4000).
    #[arg(long)]
    pub train: Option<usize>,
    /// Number of test images (default 1000).
    #[arg(long)]
    pub test: Option<usize>,
    /// Image side in pixels (default 64).
    #[arg(long)]
    pub size: Option<u32>,
    /// Generator seed (default 0): the same seed writes the same images.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl Args {
    /// The generator settings: the config file (or the defaults) with the flags applied.
    pub fn synthfer_config(&self) -> anyhow::Result<SynthFerConfig> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => SynthFerConfig::default(),
        };
        config.train_size = self.train.unwrap_or(config.train_size);
        config.test_size = self.test.unwrap_or(config.test_size);
        config.image_size = self.size.unwrap_or(config.image_size);
        config.seed = self.seed.unwrap_or(config.seed);
        config.validate()?;
        Ok(config)
    }
}

/// Writes both splits and prints what was written.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args.synthfer_config()?;
    let start = std::time::Instant::now();
    let summary = export_rafdb(&config, &args.out)
        .with_context(|| format!("writing SynthFER to {}", args.out.display()))?;
    println!(
        "wrote {} train + {} test images of {px}x{px} (seed {}) to {} in {:.1} s; labels: {}",
        summary.train,
        summary.test,
        config.seed,
        summary.image_dir.display(),
        start.elapsed().as_secs_f64(),
        summary.label_list.display(),
        px = config.image_size,
    );
    Ok(())
}
