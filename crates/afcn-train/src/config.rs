//! The configuration of a training run: one TOML file with every knob, presets, and the
//! checks that reject a bad value before any work starts.

use std::{fmt, path::Path, path::PathBuf};

use afcn_backbone::Arch;
use afcn_certainty::InvalidField;
use afcn_data::{AugmentConfig, DatasetFormat, NoiseConfig};
use afcn_losses::AfcnConfig;
use afcn_synthfer::{IdentityConfig, SynthFerConfig};
use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;
use crate::methods::{MethodConfigs, MethodKind};

/// The datasets a run can train on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// The embedded synthetic dataset (no download).
    #[default]
    Synthfer,
    /// SynthFER's people labelled by identity (`[data.identities]`): the face-pretraining set
    /// of `afcn pretrain`, disjoint from the expression benchmark's people.
    #[serde(rename = "synthfer-identities")]
    SynthferIdentities,
    /// RAF-DB basic.
    Rafdb,
    /// FERPlus (majority protocol).
    Ferplus,
    /// AffectNet.
    Affectnet,
    /// An image folder `root/{train,test}/<class>/*.jpg`.
    Folder,
}

impl DatasetKind {
    /// The on-disk format, `None` for the generated SynthFER.
    pub fn format(self) -> Option<DatasetFormat> {
        match self {
            DatasetKind::Synthfer | DatasetKind::SynthferIdentities => None,
            DatasetKind::Rafdb => Some(DatasetFormat::Rafdb),
            DatasetKind::Ferplus => Some(DatasetFormat::Ferplus),
            DatasetKind::Affectnet => Some(DatasetFormat::Affectnet),
            DatasetKind::Folder => Some(DatasetFormat::Folder),
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetKind::Synthfer => f.write_str("synthfer"),
            DatasetKind::SynthferIdentities => f.write_str("synthfer-identities"),
            other => other.format().map_or(Ok(()), |format| format.fmt(f)),
        }
    }
}

/// Where the images come from and how their labels are corrupted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// The dataset. Default: `synthfer`.
    pub dataset: DatasetKind,
    /// The dataset's root directory (every dataset but `synthfer` needs one).
    pub root: Option<PathBuf>,
    /// Number of classes for FERPlus (7 or 8) and AffectNet (7 or 8). Default: 7.
    pub classes: usize,
    /// RAF-DB only: a train label list in the official line format (such as the published
    /// `noise01.txt`) whose labels replace the official ones. Default: none.
    pub train_labels: Option<PathBuf>,
    /// Label noise injected into the training split (rate 0 for none). Default: 30% symmetric.
    pub noise: NoiseConfig,
    /// Skip unreadable samples (and report them) instead of failing. Default: false.
    pub skip_bad: bool,
    /// The SynthFER generator, when `dataset = "synthfer"` or `"synthfer-identities"` (whose
    /// split sizes come from `identities`).
    pub synthfer: SynthFerConfig,
    /// The people of the identity set, when `dataset = "synthfer-identities"`.
    pub identities: IdentityConfig,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dataset: DatasetKind::Synthfer,
            root: None,
            classes: 7,
            train_labels: None,
            noise: NoiseConfig::default(),
            skip_bad: false,
            synthfer: SynthFerConfig::default(),
            identities: IdentityConfig::default(),
        }
    }
}

/// Adam with decoupled learning-rate decay per epoch [ref: EAC].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    /// Initial learning rate. Default: 2e-4 (EAC's ResNet-18 rate).
    pub lr: f64,
    /// Factor applied to the learning rate after each epoch. Default: 0.9.
    pub lr_decay: f64,
    /// L2 weight decay. Default: 1e-4.
    pub weight_decay: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            lr: 2e-4,
            lr_decay: 0.9,
            weight_decay: 1e-4,
        }
    }
}

/// Every knob of a training run. Unknown keys in a TOML file are errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// The method to train. Default: `afcn`.
    pub method: MethodKind,
    /// The compute backend. Default: `cpu`.
    pub backend: BackendKind,
    /// The run's seed: weights, shuffling, augmentation (label noise has its own seed in
    /// `data.noise`). Default: 0.
    pub seed: u64,
    /// Number of epochs. Default: 60.
    pub epochs: usize,
    /// Images per batch. Default: 32.
    pub batch_size: usize,
    /// The backbone. Default: `resnet18`.
    pub arch: Arch,
    /// Pretrained weights to start from (torchvision names; `.pth` or `.safetensors`).
    pub weights: Option<PathBuf>,
    /// The optimiser.
    pub optim: OptimConfig,
    /// The dataset.
    pub data: DataConfig,
    /// The training transform (its `image_size` is the network input side).
    pub augment: AugmentConfig,
    /// Every method's section (`[methods.afcn]`, `[methods.scn]`, ...); the run uses the one
    /// of `method`.
    pub methods: MethodConfigs,
    /// Test images whose Grad-CAM overlays go into the run directory. Default: 4.
    pub overlays: usize,
    /// Skip a batch whose loss is NaN or infinite (no optimizer step; counted in the epoch's
    /// `skipped_batches`) instead of stopping the run. Default: false (the run stops, naming
    /// the epoch, batch and samples, and keeps its last good checkpoint).
    pub skip_nonfinite: bool,
    /// Shards each process splits its part of every global batch into, each with its own
    /// batch statistics and batch-level quantities, exactly as that many MPI ranks would
    /// (`crate::distributed`): a one-process run with `shards_per_process = R` computes what
    /// an `R`-rank run computes. Default: 1.
    pub shards_per_process: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Preset::Paper.config()
    }
}

/// Named starting points for a configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// SynthFER, the narrow ResNet at 64 x 64, 30% symmetric noise, the cpu backend: the main
    /// job of `cargo xtask train`, sized to finish within 10 minutes on a 2-core CPU.
    #[default]
    Synthfer,
    /// EAC's protocol: ResNet-18 at 224 x 224, Adam 2e-4 (1e-4 for ResNet-50), x0.9 per epoch,
    /// 60 epochs, batch 32, RAF-DB. Give the face-pretrained weights with `--weights`
    /// (`docs/training.md` lists which published file goes with which `--arch`).
    Paper,
    /// The paper's protocol on SynthFER: the `synthfer` run fine-tuned from the face-pretrained
    /// backbone of `afcn pretrain` ([`PRETRAINED_BACKBONE`]), with the specification's method
    /// defaults unchanged (correction from one sixth of the epochs, delta 0.2, tau 0.5, EAC
    /// lambda 5, SCN as specified).
    #[serde(rename = "synthfer-pretrained")]
    SynthferPretrained,
    /// Face pretraining for `afcn pretrain`: cross-entropy on SynthFER's people
    /// (`synthfer-identities`, no label noise), the narrow ResNet at 64 x 64.
    Pretrain,
}

/// Where `afcn pretrain` (and `cargo xtask pretrain`) writes the backbone the
/// `synthfer-pretrained` preset starts from, relative to the working directory.
pub const PRETRAINED_BACKBONE: &str = "runs/pretrain-resnet-narrow-seed0/backbone.safetensors";

impl Preset {
    /// The configuration of this preset.
    pub fn config(self) -> TrainConfig {
        match self {
            Preset::Paper => TrainConfig {
                method: MethodKind::Afcn,
                backend: BackendKind::Cpu,
                seed: 0,
                epochs: 60,
                batch_size: 32,
                arch: Arch::ResNet18,
                weights: None,
                optim: OptimConfig::default(),
                data: DataConfig {
                    dataset: DatasetKind::Rafdb,
                    ..DataConfig::default()
                },
                augment: AugmentConfig::default(),
                methods: MethodConfigs {
                    afcn: AfcnConfig::for_epochs(60),
                    ..MethodConfigs::default()
                },
                overlays: 4,
                skip_nonfinite: false,
                shards_per_process: 1,
            },
            Preset::Synthfer => {
                let epochs = 12;
                let synthfer = SynthFerConfig::default();
                TrainConfig {
                    epochs,
                    batch_size: 32,
                    arch: Arch::ResNetNarrow,
                    optim: OptimConfig {
                        lr: 1e-3,
                        ..OptimConfig::default()
                    },
                    augment: AugmentConfig {
                        image_size: synthfer.image_size,
                        ..AugmentConfig::default()
                    },
                    data: DataConfig {
                        dataset: DatasetKind::Synthfer,
                        synthfer,
                        ..DataConfig::default()
                    },
                    // Label correction starts at two thirds of the run, not at the one sixth of
                    // the specification, and asks a margin of 0.6, not 0.2: a network trained
                    // from scratch for 12 epochs is far less sure than the paper's pretrained
                    // one. Correcting from epoch 2 re-labelled 2710 of 4000 samples at chance
                    // precision; from epoch 8 with delta 0.2 it re-labelled 1585 in one epoch
                    // at 50% precision, with delta 0.6 464 at 90% (docs/results.md).
                    methods: MethodConfigs {
                        afcn: AfcnConfig {
                            correct_from_epoch: 8,
                            delta: 0.6,
                            ..AfcnConfig::for_epochs(epochs)
                        },
                        ..MethodConfigs::default()
                    },
                    ..Preset::Paper.config()
                }
            }
            Preset::SynthferPretrained => {
                let synthfer = Preset::Synthfer.config();
                TrainConfig {
                    weights: Some(PathBuf::from(PRETRAINED_BACKBONE)),
                    methods: MethodConfigs {
                        afcn: AfcnConfig::for_epochs(synthfer.epochs),
                        ..MethodConfigs::default()
                    },
                    ..synthfer
                }
            }
            Preset::Pretrain => {
                let synthfer = Preset::Synthfer.config();
                TrainConfig {
                    method: MethodKind::Baseline,
                    // Ten epochs reach 49% identity accuracy and transfer nothing to the
                    // expression benchmark; twenty reach 71% and lift the fine-tuned baseline's
                    // third epoch from 65% to 73% (docs/results.md).
                    epochs: 20,
                    batch_size: 64,
                    data: DataConfig {
                        dataset: DatasetKind::SynthferIdentities,
                        noise: NoiseConfig {
                            rate: 0.0,
                            ..NoiseConfig::default()
                        },
                        ..synthfer.data
                    },
                    overlays: 0,
                    ..synthfer
                }
            }
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a [`TrainConfig`] (unknown key, wrong type...).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is outside its range: the dotted key, the value as written and the range.
    #[error("config: {0}")]
    OutOfRange(#[from] InvalidField),
    /// The dataset needs a root directory.
    #[error("config: dataset `{0}` needs `data.root` (or `--root DIR`)")]
    MissingRoot(DatasetKind),
}

impl TrainConfig {
    /// Reads a TOML file; keys it does not give keep the values of `base`.
    pub fn from_toml_file(path: &Path, base: &TrainConfig) -> Result<TrainConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text, base).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text over `base` (the keys given replace those of `base`).
    pub fn from_toml_str(text: &str, base: &TrainConfig) -> Result<TrainConfig, String> {
        // Parsed on its own first, so that an unknown key or a wrong type is reported at its
        // line and column in `text` (the merged table below has no positions).
        toml::from_str::<TrainConfig>(text).map_err(|e| e.to_string())?;
        let overrides: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut merged = toml::Table::try_from(base).map_err(|e| e.to_string())?;
        merge(&mut merged, overrides);
        merged
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())
    }

    /// The configuration for `epochs` epochs: the epochs at which certainty weighting and
    /// label correction start keep their share of the run (at least epoch 1).
    pub fn with_epochs(mut self, epochs: usize) -> TrainConfig {
        self.methods = self.methods.with_epochs(self.epochs, epochs);
        self.epochs = epochs;
        self
    }

    /// The configuration as TOML, as printed at the start of a run and saved beside it.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a TrainConfig always serialises")
    }

    /// Checks every value's range and the combinations that cannot train.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &str, value: &dyn fmt::Debug, expected| {
            ConfigError::OutOfRange(InvalidField::new(field, value, expected))
        };
        if self.epochs == 0 {
            return Err(bad("epochs", &self.epochs, "at least 1"));
        }
        // The configuration is saved as TOML, whose integers are signed 64-bit: a larger seed
        // (possible from `--seed`) could not be read back by `--resume`.
        for (field, seed) in [
            ("seed", self.seed),
            ("data.noise.seed", self.data.noise.seed),
            ("data.synthfer.seed", self.data.synthfer.seed),
        ] {
            if i64::try_from(seed).is_err() {
                return Err(bad(field, &seed, "at most 2^63 - 1 (a TOML integer)"));
            }
        }
        if self.batch_size < 2 {
            return Err(bad("batch_size", &self.batch_size, "at least 2"));
        }
        if self.shards_per_process == 0 || self.batch_size < 2 * self.shards_per_process {
            return Err(bad(
                "shards_per_process",
                &self.shards_per_process,
                "at least 1 and at most batch_size / 2",
            ));
        }
        if !(self.optim.lr > 0.0 && self.optim.lr.is_finite()) {
            return Err(bad("optim.lr", &self.optim.lr, "a positive number"));
        }
        if !(self.optim.lr_decay > 0.0 && self.optim.lr_decay <= 1.0) {
            return Err(bad("optim.lr_decay", &self.optim.lr_decay, "in (0, 1]"));
        }
        if !(self.optim.weight_decay >= 0.0 && self.optim.weight_decay.is_finite()) {
            return Err(bad(
                "optim.weight_decay",
                &self.optim.weight_decay,
                "a non-negative number",
            ));
        }
        if !matches!(self.data.classes, 7 | 8) {
            return Err(bad("data.classes", &self.data.classes, "7 or 8"));
        }
        // Each section's own checks, its keys named inside the section.
        let nested = |section: &'static str| move |e: InvalidField| e.within(section);
        self.augment.validate().map_err(nested("augment"))?;
        self.data.noise.validate().map_err(nested("data.noise"))?;
        self.data
            .synthfer
            .validate()
            .map_err(nested("data.synthfer"))?;
        self.data
            .identities
            .validate()
            .map_err(nested("data.identities"))?;
        self.methods.validate()?;
        if self.data.dataset.format().is_some() && self.data.root.is_none() {
            return Err(ConfigError::MissingRoot(self.data.dataset));
        }
        Ok(())
    }
}

/// Recursively replaces the keys of `base` by those of `overrides`.
fn merge(base: &mut toml::Table, overrides: toml::Table) {
    for (key, value) in overrides {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(over)) => merge(inner, over),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_round_trip_through_toml() {
        for preset in [Preset::Synthfer, Preset::Paper] {
            let mut config = preset.config();
            config.data.root.get_or_insert_with(|| "/data".into());
            config.validate().unwrap();
            let back = TrainConfig::from_toml_str(&config.to_toml(), &TrainConfig::default());
            assert_eq!(back.unwrap(), config);
        }
    }

    #[test]
    fn changing_the_epochs_keeps_the_schedule_shares() {
        let synthfer = Preset::Synthfer.config();
        assert_eq!(
            (synthfer.methods.afcn.tau, synthfer.methods.afcn.delta),
            (0.5, 0.6)
        );
        assert_eq!(
            (
                synthfer.methods.afcn.warmup_epochs,
                synthfer.methods.afcn.correct_from_epoch
            ),
            (2, 8)
        );
        let longer = synthfer.clone().with_epochs(24);
        assert_eq!(
            (
                longer.methods.afcn.warmup_epochs,
                longer.methods.afcn.correct_from_epoch
            ),
            (4, 16)
        );
        let shortest = synthfer.with_epochs(1);
        assert_eq!(
            (
                shortest.methods.afcn.warmup_epochs,
                shortest.methods.afcn.correct_from_epoch
            ),
            (1, 1)
        );
        let paper = Preset::Paper.config().with_epochs(30);
        assert_eq!(
            (
                paper.methods.afcn.warmup_epochs,
                paper.methods.afcn.correct_from_epoch
            ),
            (5, 5)
        );
    }

    #[test]
    fn a_file_overrides_only_the_keys_it_gives() {
        let base = Preset::Synthfer.config();
        let config =
            TrainConfig::from_toml_str("epochs = 3\n[methods.afcn]\nbeta = 0.7\n", &base).unwrap();
        assert_eq!(config.epochs, 3);
        assert_eq!(config.methods.afcn.beta, 0.7);
        assert_eq!(config.methods.afcn.lambda, base.methods.afcn.lambda);
        assert_eq!(config.arch, base.arch);
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let err = TrainConfig::from_toml_str("epocs = 3\n", &TrainConfig::default()).unwrap_err();
        assert!(err.contains("epocs"), "{err}");
    }

    #[test]
    fn out_of_range_values_are_rejected_with_the_key() {
        let base = Preset::Synthfer.config();
        for (text, key) in [
            ("batch_size = 0", "batch_size"),
            ("[methods.afcn]\nbeta = 1.5", "methods.afcn.beta"),
            ("[methods.afcn]\nlambda = -1.0", "methods.afcn.lambda"),
            ("[data.noise]\nrate = 1.2", "data.noise.rate"),
        ] {
            let config = TrainConfig::from_toml_str(text, &base).unwrap();
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }
}
