//! Synthetic label noise: symmetric (SCN's protocol) and pairwise, seeded; the realised rate and
//! transition matrix; and a dataset wrapper whose given labels are replaced while the clean ones
//! travel beside them.

use std::fmt;
use std::str::FromStr;

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use afcn_certainty::InvalidField;

use crate::dataset::{Annotation, FerDataset, check_index};
use crate::error::{DataError, Result};

/// How a noisy label is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    /// Uniform over the other C - 1 classes.
    #[default]
    Symmetric,
    /// Each class to one fixed confusable class (see [`pair_targets`]).
    Pairwise,
}

impl fmt::Display for NoiseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoiseKind::Symmetric => "symmetric",
            NoiseKind::Pairwise => "pairwise",
        })
    }
}

impl FromStr for NoiseKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "symmetric" => Ok(NoiseKind::Symmetric),
            "pairwise" => Ok(NoiseKind::Pairwise),
            _ => Err(format!(
                "unknown noise `{s}`: expected symmetric or pairwise"
            )),
        }
    }
}

/// Label noise to inject into a training split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoiseConfig {
    /// How a noisy label is drawn. Default: symmetric.
    pub kind: NoiseKind,
    /// The probability that a label is replaced, in [0, 1]. Default: 0.3 (the protocol's 10%,
    /// 20% and 30% are 0.1, 0.2, 0.3).
    pub rate: f64,
    /// The seed: the same seed, rate and labels give the same noisy labels. Default: 0.
    pub seed: u64,
}

impl Default for NoiseConfig {
    fn default() -> Self {
        Self {
            kind: NoiseKind::Symmetric,
            rate: 0.3,
            seed: 0,
        }
    }
}

impl NoiseConfig {
    /// Checks that the rate is a probability.
    pub fn validate(&self) -> Result<(), InvalidField> {
        if (0.0..=1.0).contains(&self.rate) {
            Ok(())
        } else {
            Err(InvalidField::new("rate", self.rate, "in [0, 1]"))
        }
    }
}

/// Confusable expression pairs, by lowercase class name: each class's noisy target.
const CONFUSABLE: [(&str, &str); 12] = [
    ("surprise", "fear"),
    ("fear", "surprise"),
    ("disgust", "anger"),
    ("anger", "disgust"),
    ("happiness", "neutral"),
    ("happy", "neutral"),
    ("sadness", "neutral"),
    ("sad", "neutral"),
    ("neutral", "sadness"),
    ("contempt", "disgust"),
    ("neutral", "sad"),
    ("contempt", "anger"),
];

/// The pairwise target of each class: its confusable expression when both names are among
/// `class_names` (surprise and fear, disgust and anger, happiness and sadness to neutral,
/// neutral to sadness, contempt to disgust), else the next class (c + 1 mod C).
pub fn pair_targets(class_names: &[String]) -> Vec<usize> {
    let find = |name: &str| {
        class_names
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    };
    (0..class_names.len())
        .map(|c| {
            CONFUSABLE
                .iter()
                .filter(|(from, _)| class_names[c].eq_ignore_ascii_case(from))
                .find_map(|(_, to)| find(to))
                .filter(|&t| t != c)
                .unwrap_or((c + 1) % class_names.len())
        })
        .collect()
}

/// Noisy labels and what the noise did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoisyLabels {
    /// The noisy label of each sample, in index order.
    pub labels: Vec<usize>,
    /// The transition counts: `transitions[clean][noisy]`.
    pub transitions: Vec<Vec<usize>>,
}

impl NoisyLabels {
    /// Compares `noisy` with `clean` labels among `num_classes` classes.
    pub fn compare(clean: &[usize], noisy: Vec<usize>, num_classes: usize) -> Result<Self> {
        if clean.len() != noisy.len() {
            return Err(DataError::Labels {
                message: format!("{} noisy labels for {} samples", noisy.len(), clean.len()),
            });
        }
        let mut transitions = vec![vec![0; num_classes]; num_classes];
        for (&c, &n) in clean.iter().zip(&noisy) {
            if c >= num_classes || n >= num_classes {
                return Err(DataError::Labels {
                    message: format!("label {} is not below {num_classes}", c.max(n)),
                });
            }
            transitions[c][n] += 1;
        }
        Ok(Self {
            labels: noisy,
            transitions,
        })
    }

    /// The number of labels that differ from the clean ones.
    pub fn changed(&self) -> usize {
        let total: usize = self.transitions.iter().flatten().sum();
        let kept: usize = (0..self.transitions.len())
            .map(|c| self.transitions[c][c])
            .sum();
        total - kept
    }

    /// The realised noise rate: the fraction of labels changed (0 when there are none).
    pub fn realised_rate(&self) -> f64 {
        if self.labels.is_empty() {
            0.0
        } else {
            self.changed() as f64 / self.labels.len() as f64
        }
    }

    /// The transition matrix: row `clean` holds the fractions of its samples given each label
    /// (a row of zeros for a class without samples).
    pub fn transition_matrix(&self) -> Vec<Vec<f64>> {
        self.transitions
            .iter()
            .map(|row| {
                let total: usize = row.iter().sum();
                row.iter()
                    .map(|&n| {
                        if total == 0 {
                            0.0
                        } else {
                            n as f64 / total as f64
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

/// Draws noisy labels from `clean` ones among `class_names`: each label independently, with
/// probability `config.rate`, is replaced as `config.kind` says.
pub fn inject_noise(
    clean: &[usize],
    class_names: &[String],
    config: &NoiseConfig,
) -> Result<NoisyLabels> {
    let classes = class_names.len();
    if !(0.0..=1.0).contains(&config.rate) || classes < 2 {
        return Err(DataError::Labels {
            message: format!(
                "noise rate {} among {classes} classes: expected a rate in [0, 1] and two classes or more",
                config.rate
            ),
        });
    }
    let targets = pair_targets(class_names);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let noisy = clean
        .iter()
        .map(|&label| {
            if !rng.random_bool(config.rate) {
                return label;
            }
            match config.kind {
                NoiseKind::Symmetric => {
                    let other = rng.random_range(0..classes - 1);
                    if other >= label { other + 1 } else { other }
                }
                NoiseKind::Pairwise => targets.get(label).copied().unwrap_or(label),
            }
        })
        .collect();
    NoisyLabels::compare(clean, noisy, classes)
}

/// A dataset whose given labels are replaced (by injected noise or an imported list); the
/// inner dataset's clean labels stay beside them.
#[derive(Debug)]
pub struct Relabeled<D> {
    inner: D,
    labels: Vec<usize>,
}

impl<D: FerDataset> Relabeled<D> {
    /// Gives `inner`'s samples the labels `labels` (one per sample, each below the class count).
    pub fn new(inner: D, labels: Vec<usize>) -> Result<Self> {
        let classes = inner.num_classes();
        if labels.len() != inner.len() || labels.iter().any(|&l| l >= classes) {
            return Err(DataError::Labels {
                message: format!(
                    "{} labels for {} samples of {classes} classes",
                    labels.len(),
                    inner.len()
                ),
            });
        }
        Ok(Self { inner, labels })
    }

    /// Injects noise into `inner`'s clean labels; returns the noisy dataset and what the noise
    /// did.
    pub fn with_noise(inner: D, config: &NoiseConfig) -> Result<(Self, NoisyLabels)> {
        let clean: Vec<usize> = inner.annotations()?.iter().map(|a| a.clean_label).collect();
        let noisy = inject_noise(&clean, inner.class_names(), config)?;
        Ok((Self::new(inner, noisy.labels.clone())?, noisy))
    }

    /// The wrapped dataset.
    pub fn inner(&self) -> &D {
        &self.inner
    }
}

impl<D: FerDataset> FerDataset for Relabeled<D> {
    fn class_names(&self) -> &[String] {
        self.inner.class_names()
    }

    fn len(&self) -> usize {
        self.inner.len()
    }

    fn annotation(&self, index: usize) -> Result<Annotation> {
        check_index(index, self.labels.len())?;
        Ok(Annotation {
            label: self.labels[index],
            clean_label: self.inner.annotation(index)?.clean_label,
        })
    }

    fn image(&self, index: usize) -> Result<RgbImage> {
        self.inner.image(index)
    }

    fn name(&self, index: usize) -> Result<String> {
        self.inner.name(index)
    }

    fn skipped(&self) -> &[DataError] {
        self.inner.skipped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::names;
    use crate::rafdb::RAFDB_CLASSES;

    fn clean(n: usize, classes: usize) -> Vec<usize> {
        (0..n).map(|i| i % classes).collect()
    }

    #[test]
    fn symmetric_noise_hits_its_rate_uniformly_and_is_reproducible() {
        let classes = names(&RAFDB_CLASSES);
        let clean = clean(14_000, 7);
        let config = NoiseConfig {
            kind: NoiseKind::Symmetric,
            rate: 0.3,
            seed: 7,
        };
        let noisy = inject_noise(&clean, &classes, &config).unwrap();
        assert_eq!(noisy, inject_noise(&clean, &classes, &config).unwrap());
        let other = inject_noise(&clean, &classes, &NoiseConfig { seed: 8, ..config }).unwrap();
        assert_ne!(noisy.labels, other.labels);
        // 14,000 draws at p = 0.3: standard deviation 0.0039.
        assert!(
            (noisy.realised_rate() - 0.3).abs() < 0.015,
            "{}",
            noisy.realised_rate()
        );
        let matrix = noisy.transition_matrix();
        for (c, row) in matrix.iter().enumerate() {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            for (n, &rate) in row.iter().enumerate() {
                let expected = if c == n { 0.7 } else { 0.05 };
                assert!((rate - expected).abs() < 0.025, "{c}->{n}: {rate}");
            }
        }
        let changed = clean
            .iter()
            .zip(&noisy.labels)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(changed, noisy.changed());
    }

    #[test]
    fn pairwise_noise_goes_to_the_confusable_class() {
        let classes = names(&RAFDB_CLASSES);
        // Surprise<->Fear, Disgust<->Anger, Happiness->Neutral, Sadness->Neutral,
        // Neutral->Sadness.
        assert_eq!(pair_targets(&classes), vec![1, 0, 5, 6, 6, 2, 4]);
        assert_eq!(pair_targets(&names(&["a", "b", "c"])), vec![1, 2, 0]);
        let clean = clean(7_000, 7);
        let config = NoiseConfig {
            kind: NoiseKind::Pairwise,
            rate: 0.2,
            seed: 1,
        };
        let noisy = inject_noise(&clean, &classes, &config).unwrap();
        let targets = pair_targets(&classes);
        for (c, row) in noisy.transitions.iter().enumerate() {
            for (n, &count) in row.iter().enumerate() {
                if n != c && n != targets[c] {
                    assert_eq!(count, 0, "{c}->{n}");
                }
            }
        }
        assert!((noisy.realised_rate() - 0.2).abs() < 0.02);
    }

    #[test]
    fn rejects_bad_rates() {
        let classes = names(&RAFDB_CLASSES);
        for rate in [-0.1, 1.5, f64::NAN] {
            let config = NoiseConfig {
                rate,
                ..NoiseConfig::default()
            };
            assert!(inject_noise(&[0, 1], &classes, &config).is_err());
        }
        assert!(inject_noise(&[0], &names(&["only"]), &NoiseConfig::default()).is_err());
        let zero = NoiseConfig {
            rate: 0.0,
            ..NoiseConfig::default()
        };
        assert_eq!(
            inject_noise(&[3, 1], &classes, &zero)
                .unwrap()
                .realised_rate(),
            0.0
        );
    }
}
