//! `afcn pretrain`: a face-pretrained backbone from SynthFER's people.
//!
//! The paper, EAC, SCN and RUL fine-tune a backbone pretrained on face recognition
//! (MS-Celeb-1M, VGGFace2). None can be downloaded here, so afcn makes one the same way:
//! cross-entropy over [`IdentityConfig::identities`](afcn_synthfer::IdentityConfig) people,
//! each rendered under many expressions, poses and nuisances (`synthfer-identities`, the
//! `pretrain` preset). The run directory is a training run's (progress, checkpoints,
//! `--resume`, `report.md` with the identity accuracy on held-out renders), plus
//! `backbone.safetensors`, which `afcn train --weights` takes (its identity classifier is
//! dropped and re-created for the expression classes).

use std::path::PathBuf;

use afcn_backbone::Arch;
use anyhow::bail;

use afcn_train::{
    backend::BackendKind,
    config::{Preset, TrainConfig},
    run_dir::{RunDir, names},
};

use super::train::{Start, execute};

/// Arguments of `afcn pretrain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A TOML configuration file whose keys override the `pretrain` preset (for example
    /// `[data.synthfer] image_size = 112` or `[data.identities] train_renders = 32`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The backbone architecture. Default: the `pretrain` preset's (`resnet-narrow`).
    #[arg(long)]
    pub arch: Option<Arch>,
    /// Number of people to tell apart. Default: 300.
    #[arg(long)]
    pub identities: Option<usize>,
    /// Number of epochs. Default: 20.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per batch. Default: 64.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// The run's seed (weights, shuffling, augmentation; not the people, which follow the
    /// SynthFER seed `data.synthfer.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The compute backend.
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// The run directory. Default: `runs/pretrain-<arch>-seed<S>`, the one the
    /// `synthfer-pretrained` preset reads for the default architecture and seed.
    #[arg(long, conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the pretraining run in this directory from its latest checkpoint.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// When the run directory already holds a complete pretraining run, keep it and only say
    /// where its backbone is (`cargo xtask pretrain` does this, so the backbone is made once).
    #[arg(long, conflicts_with = "resume")]
    pub reuse: bool,
    /// Also print the full configuration at the start.
    #[arg(long)]
    pub verbose: bool,
}

impl Args {
    /// The pretraining configuration: the `pretrain` preset with these flags.
    pub fn config(&self) -> anyhow::Result<TrainConfig> {
        let base = Preset::Pretrain.config();
        let mut config = match &self.config {
            Some(path) => TrainConfig::from_toml_file(path, &base)?,
            None => base,
        };
        if let Some(arch) = self.arch {
            config.arch = arch;
        }
        if let Some(identities) = self.identities {
            config.data.identities.identities = identities;
        }
        if let Some(epochs) = self.epochs {
            config = config.with_epochs(epochs);
        }
        if let Some(batch_size) = self.batch_size {
            config.batch_size = batch_size;
        }
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        if let Some(backend) = self.backend {
            config.backend = backend;
        }
        config.validate()?;
        Ok(config)
    }
}

/// The default run directory of a pretraining configuration.
pub fn default_run_dir(config: &TrainConfig) -> PathBuf {
    PathBuf::from("runs").join(format!("pretrain-{}-seed{}", config.arch, config.seed))
}

/// The keys whose values differ between the configuration `asked` and the one a run `held`,
/// each as `key = asked (the run has held)`, with dotted keys (`data.identities.identities`).
fn differing_keys(asked: &TrainConfig, held: &TrainConfig) -> Vec<String> {
    let (mut asked_keys, mut held_keys) = (Vec::new(), Vec::new());
    flatten("", &toml_value(asked), &mut asked_keys);
    flatten("", &toml_value(held), &mut held_keys);
    let value_of = |keys: &[(String, String)], key: &str| {
        keys.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    // A key set on one side only (an optional value such as `weights`) differs too.
    let mut keys: Vec<&String> = asked_keys.iter().map(|(k, _)| k).collect();
    for (key, _) in &held_keys {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.into_iter()
        .filter_map(|key| {
            let (ours, theirs) = (value_of(&asked_keys, key), value_of(&held_keys, key));
            (ours != theirs).then(|| {
                let none = || "none".to_owned();
                let (ours, theirs) = (ours.unwrap_or_else(none), theirs.unwrap_or_else(none));
                format!("{key} = {ours} (the run has {theirs})")
            })
        })
        .collect()
}

/// A configuration as a TOML value.
fn toml_value(config: &TrainConfig) -> toml::Value {
    toml::Value::try_from(config).expect("a TrainConfig always serialises")
}

/// The leaves of a TOML value as (dotted key, value) pairs.
fn flatten(prefix: &str, value: &toml::Value, out: &mut Vec<(String, String)>) {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table {
                flatten(&format!("{prefix}{key}."), value, out);
            }
        }
        leaf => out.push((prefix.trim_end_matches('.').to_owned(), leaf.to_string())),
    }
}

/// Runs `afcn pretrain`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (start, out) = match &args.resume {
        Some(dir) => (Start::Resume(dir.clone()), dir.clone()),
        None => {
            let config = args.config()?;
            let out = args.out.clone().unwrap_or_else(|| default_run_dir(&config));
            let kept = if args.reuse {
                let run = RunDir::create(&out)?;
                let config_file = run.join(names::CONFIG);
                if config_file.exists() {
                    let mut held =
                        TrainConfig::from_toml_file(&config_file, &TrainConfig::default())?;
                    held.backend = config.backend;
                    let differences = differing_keys(&config, &held);
                    if !differences.is_empty() {
                        bail!(
                            "{} holds a pretraining run of another configuration ({}): remove it \
                             to pretrain again, or pass --out DIR",
                            out.display(),
                            differences.join("; ")
                        );
                    }
                }
                if run.is_complete() {
                    eprintln!(
                        "reusing the face-pretrained backbone {} (remove {} to pretrain again)",
                        out.join(names::BACKBONE).display(),
                        out.display()
                    );
                    return Ok(());
                }
                run.latest_checkpoint()?.is_some()
            } else {
                false
            };
            if kept {
                (Start::Resume(out.clone()), out)
            } else {
                (
                    Start::New {
                        config: Box::new(config),
                        out: out.clone(),
                    },
                    out,
                )
            }
        }
    };
    execute(start, args.verbose, None)?;
    eprintln!(
        "face-pretrained backbone: {} (afcn train --weights)",
        out.join(names::BACKBONE).display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use afcn_train::config::{DatasetKind, PRETRAINED_BACKBONE};
    use afcn_train::methods::MethodKind;

    #[test]
    fn the_default_run_is_where_the_synthfer_pretrained_preset_reads() {
        let config = Preset::Pretrain.config();
        assert_eq!(config.method, MethodKind::Baseline);
        assert_eq!(config.data.dataset, DatasetKind::SynthferIdentities);
        assert_eq!(config.data.noise.rate, 0.0);
        let backbone = default_run_dir(&config).join(names::BACKBONE);
        assert_eq!(backbone, PathBuf::from(PRETRAINED_BACKBONE));
        assert_eq!(Preset::SynthferPretrained.config().weights, Some(backbone),);
    }

    #[test]
    fn differing_keys_name_both_sides_and_keys_set_on_one_side_only() {
        let asked = Preset::Pretrain.config();
        assert!(differing_keys(&asked, &asked).is_empty());
        let mut held = asked.clone().with_epochs(10);
        held.weights = Some(PathBuf::from("old.safetensors"));
        let differences = differing_keys(&asked, &held);
        assert!(
            differences.contains(&"epochs = 20 (the run has 10)".to_owned()),
            "{differences:?}"
        );
        assert!(
            differences.contains(&"weights = none (the run has \"old.safetensors\")".to_owned()),
            "{differences:?}"
        );
    }
}
