//! What a run measures: the confusion matrix of an evaluation and the record of each epoch.

use serde::{Deserialize, Serialize};

/// Counts of (true class, predicted class) pairs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// `counts[t][p]`: samples of true class `t` predicted as `p`.
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// An empty matrix over `classes` classes.
    pub fn new(classes: usize) -> Self {
        Self {
            counts: vec![vec![0; classes]; classes],
        }
    }

    /// Adds one prediction.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth][predicted] += 1;
    }

    /// Number of samples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Fraction of samples on the diagonal (0 when empty).
    pub fn accuracy(&self) -> f64 {
        let correct: u64 = (0..self.counts.len()).map(|c| self.counts[c][c]).sum();
        ratio(correct, self.total())
    }

    /// Recall of each class (`None` for a class without samples).
    pub fn class_accuracies(&self) -> Vec<Option<f64>> {
        self.counts
            .iter()
            .enumerate()
            .map(|(c, row)| {
                let n: u64 = row.iter().sum();
                (n > 0).then(|| ratio(row[c], n))
            })
            .collect()
    }

    /// Mean of the per-class accuracies over the classes that have samples.
    pub fn mean_class_accuracy(&self) -> f64 {
        let present: Vec<f64> = self.class_accuracies().into_iter().flatten().collect();
        if present.is_empty() {
            0.0
        } else {
            present.iter().sum::<f64>() / present.len() as f64
        }
    }

    /// The matrix as a markdown table with class names on both axes.
    pub fn to_markdown(&self, class_names: &[String]) -> String {
        let mut out = String::from("| true \\ predicted |");
        for name in class_names {
            out.push_str(&format!(" {name} |"));
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(class_names.len()));
        out.push('\n');
        for (name, row) in class_names.iter().zip(&self.counts) {
            out.push_str(&format!("| {name} |"));
            for count in row {
                out.push_str(&format!(" {count} |"));
            }
            out.push('\n');
        }
        out
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Everything measured in one epoch; `metrics.json` holds one per epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// The epoch, from 0.
    pub epoch: usize,
    /// The learning rate of the epoch.
    pub lr: f64,
    /// Mean total loss over the epoch's batches.
    pub loss: f64,
    /// Mean of the (weighted) cross-entropy part.
    pub cross_entropy: f64,
    /// Mean of the method's second term (L_fc for AFCN, the flip consistency for EAC, the rank
    /// regularisation for SCN; 0 otherwise).
    pub auxiliary: f64,
    /// Training accuracy of view 1 against the labels trained on (noisy or corrected).
    pub train_accuracy: f64,
    /// Training accuracy of view 1 against the clean labels.
    pub train_clean_accuracy: f64,
    /// Accuracy on the clean test split.
    pub test_accuracy: f64,
    /// Mean class accuracy on the test split.
    pub test_mean_class_accuracy: f64,
    /// Label changes made in this epoch.
    pub corrections: usize,
    /// Batches skipped because their loss was NaN or infinite (`skip_nonfinite`).
    #[serde(default)]
    pub skipped_batches: usize,
    /// Of all labels currently changed, the fraction now equal to the clean label (`None`
    /// before any change or without clean labels).
    pub correction_precision: Option<f64>,
    /// Of all noisy labels, the fraction now fixed (`None` without noise).
    pub correction_recall: Option<f64>,
    /// Fraction of training labels that differ from the clean ones at the end of the epoch.
    pub label_noise: f64,
    /// Wall-clock seconds of the epoch (training and evaluation).
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracies_from_a_hand_filled_matrix() {
        let mut m = ConfusionMatrix::new(3);
        for (t, p) in [
            (0, 0),
            (0, 0),
            (0, 1),
            (1, 1),
            (2, 0),
            (2, 2),
            (2, 2),
            (2, 2),
        ] {
            m.add(t, p);
        }
        assert_eq!(m.total(), 8);
        assert!((m.accuracy() - 6.0 / 8.0).abs() < 1e-12);
        let per_class = m.class_accuracies();
        assert_eq!(per_class, vec![Some(2.0 / 3.0), Some(1.0), Some(0.75)]);
        let mean = (2.0 / 3.0 + 1.0 + 0.75) / 3.0;
        assert!((m.mean_class_accuracy() - mean).abs() < 1e-12);
    }

    #[test]
    fn classes_without_samples_do_not_count_in_the_mean() {
        let mut m = ConfusionMatrix::new(3);
        m.add(0, 0);
        m.add(1, 0);
        assert_eq!(m.class_accuracies()[2], None);
        assert!((m.mean_class_accuracy() - 0.5).abs() < 1e-12);
    }
}
