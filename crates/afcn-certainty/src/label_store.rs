//! The label store: each sample's current label, corrected across epochs.

use std::path::{Path, PathBuf};

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::certainty::normalised_entropy_of_row;
use crate::correction::{CorrectionRule, argmax};
use crate::suspects::{self, Observation, Suspect};
use crate::{CorrectionQuality, LabelChange, LabelStoreError};
use crate::{change_log, csv_file};

/// The current label of every training sample, starting from the given (possibly noisy)
/// labels and kept across epochs by sample index.
///
/// Corrections may themselves be corrected later; every change is logged. When the clean
/// labels are known (noise injected on purpose), [`LabelStore::quality`] measures the
/// corrections. The latest prediction of each sample seen by [`LabelStore::observe`] or
/// [`LabelStore::correct`] is kept for [`LabelStore::suspects`]. It serialises with serde,
/// so that a trainer can checkpoint it; deserialising checks the state as [`LabelStore::new`]
/// does (lengths, label ranges) and fails with a [`LabelStoreError`] message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "LabelStoreState")]
pub struct LabelStore {
    num_classes: usize,
    given: Vec<usize>,
    current: Vec<usize>,
    clean: Option<Vec<usize>>,
    paths: Option<Vec<PathBuf>>,
    observations: Vec<Option<Observation>>,
    changes: Vec<LabelChange>,
}

impl LabelStore {
    /// A store whose current labels are the `given` labels of `num_classes` classes.
    pub fn new(given: Vec<usize>, num_classes: usize) -> Result<Self, LabelStoreError> {
        if num_classes < 2 {
            return Err(LabelStoreError::TooFewClasses(num_classes));
        }
        check_labels("given", &given, num_classes)?;
        Ok(Self {
            num_classes,
            current: given.clone(),
            observations: vec![None; given.len()],
            given,
            clean: None,
            paths: None,
            changes: Vec::new(),
        })
    }

    /// Adds the clean labels (one per sample), enabling [`LabelStore::quality`].
    pub fn with_clean_labels(mut self, clean: Vec<usize>) -> Result<Self, LabelStoreError> {
        self.check_len("clean labels", clean.len())?;
        check_labels("clean", &clean, self.num_classes)?;
        self.clean = Some(clean);
        Ok(self)
    }

    /// Adds the image path of every sample, written in the suspects CSV.
    pub fn with_paths(mut self, paths: Vec<PathBuf>) -> Result<Self, LabelStoreError> {
        self.check_len("paths", paths.len())?;
        self.paths = Some(paths);
        Ok(self)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.given.len()
    }

    /// Whether the store holds no sample.
    pub fn is_empty(&self) -> bool {
        self.given.is_empty()
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The labels the samples came with.
    pub fn given(&self) -> &[usize] {
        &self.given
    }

    /// The current labels.
    pub fn current(&self) -> &[usize] {
        &self.current
    }

    /// The clean labels, when they were given ([`LabelStore::with_clean_labels`]).
    pub fn clean(&self) -> Option<&[usize]> {
        self.clean.as_deref()
    }

    /// Every label change so far, in order.
    pub fn changes(&self) -> &[LabelChange] {
        &self.changes
    }

    /// Current labels of a batch of sample indices.
    pub fn labels_of(&self, indices: &[usize]) -> Result<Vec<usize>, LabelStoreError> {
        indices
            .iter()
            .map(|&i| {
                self.current
                    .get(i)
                    .copied()
                    .ok_or(LabelStoreError::IndexOutOfRange {
                        index: i,
                        len: self.len(),
                    })
            })
            .collect()
    }

    /// Current labels of a batch as an integer tensor on `device` (one upload).
    ///
    /// # Shapes
    /// - returns `[indices.len()]`
    pub fn labels_tensor<B: Backend>(
        &self,
        indices: &[usize],
        device: &B::Device,
    ) -> Result<Tensor<B, 1, Int>, LabelStoreError> {
        Ok(label_tensor(&self.labels_of(indices)?, device))
    }

    /// Records the latest prediction of a batch without changing labels.
    ///
    /// `probabilities` holds the `[indices.len(), num_classes]` class probabilities row-major.
    pub fn observe(
        &mut self,
        epoch: usize,
        indices: &[usize],
        probabilities: &[f32],
    ) -> Result<(), LabelStoreError> {
        self.check_batch(indices, probabilities)?;
        for (&i, row) in indices.iter().zip(probabilities.chunks(self.num_classes)) {
            let (predicted, _) = argmax(row).unwrap_or((0, 0.0));
            self.observations[i] = Some(Observation {
                epoch,
                predicted,
                given_probability: row[self.given[i]],
                certainty: (1.0 - normalised_entropy_of_row(row)).clamp(0.0, 1.0),
            });
        }
        Ok(())
    }

    /// Observes a batch and, when `rule` is active in `epoch`, re-labels its uncertain samples
    /// (see [`CorrectionRule`]); returns the changes made, which are also logged.
    ///
    /// `probabilities` holds the `[indices.len(), num_classes]` mean class probabilities
    /// row-major. A sample index appearing twice is corrected twice, in order.
    pub fn correct(
        &mut self,
        epoch: usize,
        indices: &[usize],
        probabilities: &[f32],
        rule: &CorrectionRule,
    ) -> Result<Vec<LabelChange>, LabelStoreError> {
        self.observe(epoch, indices, probabilities)?;
        if !rule.is_active(epoch) {
            return Ok(Vec::new());
        }
        let mut made = Vec::new();
        for (&i, row) in indices.iter().zip(probabilities.chunks(self.num_classes)) {
            let old = self.current[i];
            if let Some(new) = rule.relabel(row, old) {
                self.current[i] = new;
                made.push(LabelChange {
                    epoch,
                    sample: i,
                    old,
                    new,
                });
            }
        }
        self.changes.extend_from_slice(&made);
        Ok(made)
    }

    /// [`LabelStore::correct`] for mean probabilities on the device.
    ///
    /// This is the training step's only device-to-host transfer: the small `[N, C]`
    /// probability tensor is read once per batch, because labels are per-sample state kept on
    /// the host by sample index.
    ///
    /// # Shapes
    /// - `probabilities`: `[indices.len(), num_classes]`
    pub fn correct_batch<B: Backend>(
        &mut self,
        epoch: usize,
        indices: &[usize],
        probabilities: Tensor<B, 2>,
        rule: &CorrectionRule,
    ) -> Result<Vec<LabelChange>, LabelStoreError> {
        let host: Vec<f32> = probabilities.detach().into_data().iter::<f32>().collect();
        self.correct(epoch, indices, &host, rule)
    }

    /// Precision and recall of the corrections, when the clean labels are known.
    pub fn quality(&self) -> Option<CorrectionQuality> {
        let clean = self.clean.as_deref()?;
        Some(CorrectionQuality::measure(
            &self.given,
            &self.current,
            clean,
        ))
    }

    /// Samples whose latest observed prediction differs from their given label, the least
    /// self-confident (lowest probability of the given label) first.
    pub fn suspects(&self) -> Vec<Suspect> {
        suspects::suspects(&self.given, &self.observations, self.paths.as_deref())
    }

    /// Writes [`LabelStore::suspects`] to a CSV file with the columns
    /// `index,path,given_label,predicted_label,certainty`.
    pub fn write_suspects_csv(&self, path: &Path) -> Result<(), LabelStoreError> {
        csv_file::write_file(path, &suspects::COLUMNS, &self.suspects())
    }

    /// Writes the change log to a CSV file with the columns `epoch,sample,old,new`.
    pub fn write_changes_csv(&self, path: &Path) -> Result<(), LabelStoreError> {
        csv_file::write_file(path, &change_log::COLUMNS, &self.changes)
    }

    fn check_len(&self, what: &'static str, got: usize) -> Result<(), LabelStoreError> {
        if got == self.len() {
            Ok(())
        } else {
            Err(LabelStoreError::LengthMismatch {
                what,
                got,
                expected: self.len(),
            })
        }
    }

    fn check_batch(&self, indices: &[usize], probabilities: &[f32]) -> Result<(), LabelStoreError> {
        if probabilities.len() != indices.len() * self.num_classes {
            return Err(LabelStoreError::ProbabilityShape {
                got: probabilities.len(),
                samples: indices.len(),
                num_classes: self.num_classes,
            });
        }
        match indices.iter().find(|&&i| i >= self.len()) {
            Some(&index) => Err(LabelStoreError::IndexOutOfRange {
                index,
                len: self.len(),
            }),
            None => Ok(()),
        }
    }
}

/// A serialised [`LabelStore`], checked before it becomes one.
#[derive(Deserialize)]
struct LabelStoreState {
    num_classes: usize,
    given: Vec<usize>,
    current: Vec<usize>,
    clean: Option<Vec<usize>>,
    paths: Option<Vec<PathBuf>>,
    observations: Vec<Option<Observation>>,
    changes: Vec<LabelChange>,
}

impl TryFrom<LabelStoreState> for LabelStore {
    type Error = LabelStoreError;

    fn try_from(state: LabelStoreState) -> Result<Self, LabelStoreError> {
        let mut store = LabelStore::new(state.given, state.num_classes)?;
        if let Some(clean) = state.clean {
            store = store.with_clean_labels(clean)?;
        }
        if let Some(paths) = state.paths {
            store = store.with_paths(paths)?;
        }
        let classes = store.num_classes;
        store.check_len("current labels", state.current.len())?;
        check_labels("current", &state.current, classes)?;
        store.check_len("observations", state.observations.len())?;
        let predicted: Vec<usize> = state
            .observations
            .iter()
            .flatten()
            .map(|o| o.predicted)
            .collect();
        check_labels("predicted", &predicted, classes)?;
        for change in &state.changes {
            if change.sample >= store.len() {
                return Err(LabelStoreError::IndexOutOfRange {
                    index: change.sample,
                    len: store.len(),
                });
            }
            check_labels("changed", &[change.old, change.new], classes)?;
        }
        store.current = state.current;
        store.observations = state.observations;
        store.changes = state.changes;
        Ok(store)
    }
}

fn check_labels(
    which: &'static str,
    labels: &[usize],
    num_classes: usize,
) -> Result<(), LabelStoreError> {
    match labels.iter().position(|&l| l >= num_classes) {
        Some(sample) => Err(LabelStoreError::LabelOutOfRange {
            which,
            sample,
            label: labels[sample],
            num_classes,
        }),
        None => Ok(()),
    }
}

/// Class indices as an integer tensor on `device` (one upload).
///
/// # Shapes
/// - returns `[labels.len()]`
pub fn label_tensor<B: Backend>(labels: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let values: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::from_data(TensorData::new(values, [labels.len()]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    const RULE: CorrectionRule = CorrectionRule {
        tau: 0.5,
        delta: 0.2,
        from_epoch: 1,
    };

    fn store() -> LabelStore {
        // Sample 0's given label 2 is wrong (clean 0); 1 and 2 are clean.
        LabelStore::new(vec![2, 1, 0], 3)
            .unwrap()
            .with_clean_labels(vec![0, 1, 0])
            .unwrap()
    }

    #[test]
    fn corrects_only_from_the_first_active_epoch_and_logs_changes() {
        let mut s = store();
        let p = [0.8, 0.1, 0.1, 0.1, 0.8, 0.1];
        assert!(s.correct(0, &[0, 1], &p, &RULE).unwrap().is_empty());
        assert_eq!(s.current(), &[2, 1, 0]);
        let made = s.correct(1, &[0, 1], &p, &RULE).unwrap();
        let expected = LabelChange {
            epoch: 1,
            sample: 0,
            old: 2,
            new: 0,
        };
        assert_eq!(made, vec![expected]);
        assert_eq!(s.changes(), &[expected]);
        assert_eq!(s.current(), &[0, 1, 0]);
        assert_eq!(s.given(), &[2, 1, 0]);
    }

    #[test]
    fn corrections_can_be_corrected_again() {
        let mut s = store();
        s.correct(1, &[2], &[0.1, 0.8, 0.1], &RULE).unwrap();
        s.correct(2, &[2], &[0.8, 0.1, 0.1], &RULE).unwrap();
        assert_eq!(s.current()[2], 0);
        let log: Vec<(usize, usize, usize)> = s
            .changes()
            .iter()
            .map(|c| (c.epoch, c.old, c.new))
            .collect();
        assert_eq!(log, vec![(1, 0, 1), (2, 1, 0)]);
    }

    #[test]
    fn quality_reports_precision_and_recall() {
        let mut s = store();
        // Fix sample 0, damage sample 1.
        s.correct(1, &[0, 1], &[0.8, 0.1, 0.1, 0.1, 0.1, 0.8], &RULE)
            .unwrap();
        let q = s.quality().unwrap();
        assert_eq!(q.precision(), Some(0.5));
        assert_eq!(q.recall(), Some(1.0));
        assert!(LabelStore::new(vec![0], 2).unwrap().quality().is_none());
    }

    #[test]
    fn device_batch_is_read_once_and_corrected() {
        let mut s = store();
        let p = Tensor::<Flex, 2>::from_data([[0.8f32, 0.1, 0.1]], &Default::default());
        let made = s.correct_batch(1, &[0], p, &RULE).unwrap();
        assert_eq!(made.len(), 1);
        let labels = s
            .labels_tensor::<Flex>(&[0, 1], &Default::default())
            .unwrap();
        let labels: Vec<i64> = labels.into_data().iter::<i64>().collect();
        assert_eq!(labels, vec![0, 1]);
    }

    #[test]
    fn rejects_bad_user_data_with_context() {
        assert!(matches!(
            LabelStore::new(vec![0, 3], 3),
            Err(LabelStoreError::LabelOutOfRange {
                sample: 1,
                label: 3,
                ..
            })
        ));
        assert!(matches!(
            LabelStore::new(vec![0], 1),
            Err(LabelStoreError::TooFewClasses(1))
        ));
        let mut s = store();
        assert!(matches!(
            s.observe(0, &[5], &[0.2, 0.3, 0.5]),
            Err(LabelStoreError::IndexOutOfRange { index: 5, len: 3 })
        ));
        assert!(matches!(
            s.observe(0, &[0], &[0.2, 0.8]),
            Err(LabelStoreError::ProbabilityShape { got: 2, .. })
        ));
        assert!(matches!(
            store().with_paths(vec![PathBuf::from("a.jpg")]),
            Err(LabelStoreError::LengthMismatch { what: "paths", .. })
        ));
    }

    #[test]
    fn suspects_csv_lists_disagreements_with_paths() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("suspects.csv");
        let mut s = store()
            .with_paths(vec!["x/0.jpg".into(), "x/1.jpg".into(), "x/2.jpg".into()])
            .unwrap();
        s.observe(4, &[0, 1], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
            .unwrap();
        s.write_suspects_csv(&file).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            "index,path,given_label,predicted_label,certainty\n0,x/0.jpg,2,0,1.0\n"
        );
    }

    #[test]
    fn serde_round_trip_keeps_the_state_and_rejects_corrupt_checkpoints() {
        let mut s = store();
        s.correct(1, &[0, 1], &[0.8, 0.1, 0.1, 0.1, 0.8, 0.1], &RULE)
            .unwrap();
        let json = serde_json::to_string(&s).unwrap();
        let back: LabelStore = serde_json::from_str(&json).unwrap();
        assert_eq!(back.current(), s.current());
        assert_eq!(back.changes(), s.changes());
        assert_eq!(back.suspects(), s.suspects());
        assert_eq!(back.quality(), s.quality());

        let short = json.replace("\"current\":[0,1,0]", "\"current\":[0,1]");
        assert_ne!(short, json);
        let err = serde_json::from_str::<LabelStore>(&short).unwrap_err();
        assert!(
            err.to_string().contains("current labels has 2 entries"),
            "{err}"
        );
        let bad = json.replace("\"new\":0", "\"new\":9");
        assert!(serde_json::from_str::<LabelStore>(&bad).is_err());
    }

    #[test]
    fn change_log_csv_has_one_row_per_change() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("changes.csv");
        let mut s = store();
        s.correct(3, &[0], &[0.8, 0.1, 0.1], &RULE).unwrap();
        s.write_changes_csv(&file).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text, "epoch,sample,old,new\n3,0,2,0\n");
        let missing = dir.path().join("no/such/dir/changes.csv");
        assert!(matches!(
            s.write_changes_csv(&missing),
            Err(LabelStoreError::Csv { path, .. }) if path == missing
        ));
    }
}
