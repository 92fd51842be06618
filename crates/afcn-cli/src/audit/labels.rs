//! The dataset's own label file, rewritten with reviewed labels, and the decisions a review
//! exports.
//!
//! [`LabelFile`] knows, for every training sample, the line it contributes to a corrected
//! label file at any label: RAF-DB's list (every sample, `train_00001.jpg 5`; also SynthFER,
//! which `afcn synth` exports in RAF-DB's layout), FERPlus rows of `fer2013new.csv` for the
//! changed samples (all ten votes for the new class), AffectNet rows
//! (`subDirectory_filePath,expression`) for the changed samples, or, for an image folder, the
//! moves (`from<TAB>to`, relative to the root) that put each changed image into its new class
//! folder. The review page renders the file from the same lines, so that the page's export
//! and `afcn audit apply` write the same bytes.
//!
//! A decisions file is CSV with the header `sample,name,given,decision,label`: one reviewed
//! sample per row, its decision `accept` (the suggested label), `reject` (the given label) or
//! `relabel` (another class), the label it ends with, classes by name.

use std::{collections::HashSet, path::Path};

use afcn_data::{FERPLUS_CLASSES, FerDataset};
use serde::{Deserialize, Serialize};

use afcn_train::config::DatasetKind;

/// The layout of a corrected label file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelFileKind {
    /// RAF-DB's list: `name label` (1-based), every sample.
    List,
    /// FERPlus `fer2013new.csv` rows of the changed samples.
    Ferplus,
    /// AffectNet `subDirectory_filePath,expression` rows of the changed samples.
    Affectnet,
    /// `from<TAB>to` moves of the changed images of an image folder.
    Moves,
}

/// Every sample's line at every label: what a corrected label file is made of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelFile {
    /// The layout.
    pub kind: LabelFileKind,
    /// The class names.
    pub classes: Vec<String>,
    /// Each sample's name (its key in the dataset's label file).
    pub names: Vec<String>,
    /// Each sample's given label.
    pub given: Vec<usize>,
}

/// A decisions file that cannot be applied: the file and row, and why.
#[derive(Debug, thiserror::Error)]
pub enum DecisionsError {
    /// The file cannot be read.
    #[error("cannot read decisions {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The header is not `sample,name,given,decision,label`.
    #[error("{path}: line 1: the header must be `sample,name,given,decision,label`, not `{found}`")]
    Header {
        /// The file.
        path: String,
        /// The header found.
        found: String,
    },
    /// A row is malformed or names something the audit does not know.
    #[error("{path}: line {line}: {message}")]
    Row {
        /// The file.
        path: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// What a reviewer decided for one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The suggested label is right.
    Accept,
    /// The given label is right.
    Reject,
    /// Another class is right.
    Relabel,
}

/// The header of a decisions file.
pub const DECISIONS_HEADER: &str = "sample,name,given,decision,label";

impl LabelFile {
    /// The label file of `train`, a training split of `dataset`.
    pub fn of(dataset: DatasetKind, train: &dyn FerDataset) -> anyhow::Result<Self> {
        let kind = match dataset {
            DatasetKind::Synthfer | DatasetKind::SynthferIdentities | DatasetKind::Rafdb => {
                LabelFileKind::List
            }
            DatasetKind::Ferplus => LabelFileKind::Ferplus,
            DatasetKind::Affectnet => LabelFileKind::Affectnet,
            DatasetKind::Folder => LabelFileKind::Moves,
        };
        let mut names = Vec::with_capacity(train.len());
        let mut given = Vec::with_capacity(train.len());
        for i in 0..train.len() {
            names.push(train.name(i)?);
            given.push(train.annotation(i)?.label);
        }
        Ok(Self {
            kind,
            classes: train.class_names().to_vec(),
            names,
            given,
        })
    }

    /// The file name of the corrected label file.
    pub fn file_name(&self) -> &'static str {
        match self.kind {
            LabelFileKind::List => "train_labels_corrected.txt",
            LabelFileKind::Ferplus => "fer2013new_corrected_rows.csv",
            LabelFileKind::Affectnet => "training_corrected_rows.csv",
            LabelFileKind::Moves => "moves.tsv",
        }
    }

    /// The header line, if the layout has one.
    pub fn header(&self) -> Option<String> {
        match self.kind {
            LabelFileKind::List => None,
            LabelFileKind::Ferplus => Some(
                "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,\
                 contempt,unknown,NF"
                    .into(),
            ),
            LabelFileKind::Affectnet => Some("subDirectory_filePath,expression".into()),
            LabelFileKind::Moves => Some("from\tto".into()),
        }
    }

    /// The line of `sample` at `label`; `None` where the layout lists changed samples only and
    /// `label` is the given one.
    pub fn line(&self, sample: usize, label: usize) -> Option<String> {
        let name = &self.names[sample];
        let changed = label != self.given[sample];
        match self.kind {
            LabelFileKind::List => Some(format!("{name} {}", label + 1)),
            _ if !changed => None,
            LabelFileKind::Ferplus => {
                let votes: Vec<&str> = (0..FERPLUS_CLASSES.len() + 2)
                    .map(|k| if k == label { "10" } else { "0" })
                    .collect();
                Some(format!("Training,{name},{}", votes.join(",")))
            }
            LabelFileKind::Affectnet => Some(format!("{name},{label}")),
            LabelFileKind::Moves => {
                let file = name.rsplit('/').next().unwrap_or(name);
                Some(format!(
                    "train/{name}\ttrain/{}/{file}",
                    self.classes[label]
                ))
            }
        }
    }

    /// The corrected label file for the labels `labels` (one per sample).
    pub fn render(&self, labels: &[usize]) -> String {
        let mut out = String::new();
        for line in self
            .header()
            .into_iter()
            .chain((0..labels.len()).filter_map(|i| self.line(i, labels[i])))
        {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The labels after the decisions file at `path`; `suggested` gives each sample's suggested
    /// label (what `accept` means).
    ///
    /// # Errors
    /// An unreadable file, a wrong header, a row with an unknown sample, a name or given label
    /// that does not match the audit, an unknown decision or class, a decision that contradicts
    /// its label, or a sample decided twice: each names its line.
    pub fn apply(&self, path: &Path, suggested: &[usize]) -> Result<Vec<usize>, DecisionsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DecisionsError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut labels = self.given.clone();
        let mut seen = HashSet::new();
        for (i, record) in reader.records().enumerate() {
            let line = i + 1;
            let bad = |message: String| DecisionsError::Row {
                path: shown.clone(),
                line,
                message,
            };
            let record = record.map_err(|e| bad(e.to_string()))?;
            let fields: Vec<&str> = record.iter().map(str::trim).collect();
            if line == 1 {
                if fields.join(",") != DECISIONS_HEADER {
                    return Err(DecisionsError::Header {
                        path: shown.clone(),
                        found: fields.join(","),
                    });
                }
                continue;
            }
            if fields.iter().all(|f| f.is_empty()) {
                continue;
            }
            let [sample, name, given, decision, label] = fields[..] else {
                return Err(bad(format!("expected 5 fields, found {}", fields.len())));
            };
            let sample: usize = sample
                .parse()
                .ok()
                .filter(|&s| s < self.names.len())
                .ok_or_else(|| {
                    bad(format!(
                        "unknown sample `{sample}`: the training split has samples 0 to {}",
                        self.names.len().saturating_sub(1)
                    ))
                })?;
            if name != self.names[sample] {
                return Err(bad(format!(
                    "sample {sample} is `{}` in this dataset, not `{name}`",
                    self.names[sample]
                )));
            }
            let class = |what: &str, value: &str| {
                self.classes.iter().position(|c| c == value).ok_or_else(|| {
                    bad(format!(
                        "unknown {what} label `{value}`: the classes are {}",
                        self.classes.join(", ")
                    ))
                })
            };
            if class("given", given)? != self.given[sample] {
                return Err(bad(format!(
                    "sample {sample} is labelled `{}`, not `{given}`: the decisions belong to \
                     another version of the labels",
                    self.classes[self.given[sample]]
                )));
            }
            let label = class("chosen", label)?;
            let decision = match decision {
                "accept" => Decision::Accept,
                "reject" => Decision::Reject,
                "relabel" => Decision::Relabel,
                other => {
                    return Err(bad(format!(
                        "unknown decision `{other}`: expected accept, reject or relabel"
                    )));
                }
            };
            let expected = match decision {
                Decision::Accept => Some(suggested[sample]),
                Decision::Reject => Some(self.given[sample]),
                Decision::Relabel => None,
            };
            if expected.is_some_and(|e| e != label) {
                return Err(bad(format!(
                    "`{}` of sample {sample} means label `{}`, not `{}`",
                    fields[3],
                    self.classes[expected.unwrap_or(label)],
                    self.classes[label]
                )));
            }
            if !seen.insert(sample) {
                return Err(bad(format!("sample {sample} is decided twice")));
            }
            labels[sample] = label;
        }
        Ok(labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(kind: LabelFileKind) -> LabelFile {
        LabelFile {
            kind,
            classes: ["calm", "angry", "sad"].map(String::from).to_vec(),
            names: vec![
                "calm/a.jpg".into(),
                "angry/b.jpg".into(),
                "sad/c.jpg".into(),
            ],
            given: vec![0, 1, 2],
        }
    }

    fn apply(text: &str) -> Result<Vec<usize>, DecisionsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.csv");
        std::fs::write(&path, text).unwrap();
        file(LabelFileKind::List).apply(&path, &[1, 1, 0])
    }

    #[test]
    fn each_layout_writes_its_own_lines() {
        let labels = [1, 1, 0];
        assert_eq!(
            file(LabelFileKind::List).render(&labels),
            "calm/a.jpg 2\nangry/b.jpg 2\nsad/c.jpg 1\n"
        );
        assert_eq!(
            file(LabelFileKind::Moves).render(&labels),
            "from\tto\ntrain/calm/a.jpg\ttrain/angry/a.jpg\ntrain/sad/c.jpg\ttrain/calm/c.jpg\n"
        );
        assert_eq!(
            file(LabelFileKind::Affectnet).render(&labels),
            "subDirectory_filePath,expression\ncalm/a.jpg,1\nsad/c.jpg,0\n"
        );
        let ferplus = file(LabelFileKind::Ferplus).render(&labels);
        assert!(
            ferplus.ends_with("Training,sad/c.jpg,10,0,0,0,0,0,0,0,0,0\n"),
            "{ferplus}"
        );
    }

    #[test]
    fn decisions_apply_and_bad_rows_name_their_line() {
        let header = format!("{DECISIONS_HEADER}\n");
        let ok = format!(
            "{header}0,calm/a.jpg,calm,accept,angry\n2,sad/c.jpg,sad,relabel,angry\n\
             1,angry/b.jpg,angry,reject,angry\n"
        );
        assert_eq!(apply(&ok).unwrap(), [1, 1, 1]);
        for (row, expected) in [
            ("7,x.jpg,calm,accept,angry", "line 2: unknown sample `7`"),
            ("0,other.jpg,calm,accept,angry", "not `other.jpg`"),
            (
                "0,calm/a.jpg,calm,relabel,happy",
                "unknown chosen label `happy`",
            ),
            (
                "0,calm/a.jpg,sad,reject,sad",
                "the decisions belong to another",
            ),
            ("0,calm/a.jpg,calm,maybe,calm", "unknown decision `maybe`"),
            ("0,calm/a.jpg,calm,accept,sad", "means label `angry`"),
            ("0,calm/a.jpg", "expected 5 fields"),
        ] {
            let err = apply(&format!("{header}{row}\n")).unwrap_err().to_string();
            assert!(err.contains(expected), "{row}: {err}");
        }
        let twice =
            format!("{header}0,calm/a.jpg,calm,reject,calm\n0,calm/a.jpg,calm,reject,calm\n");
        assert!(
            apply(&twice)
                .unwrap_err()
                .to_string()
                .contains("line 3: sample 0 is decided twice")
        );
        assert!(
            apply("a,b\n")
                .unwrap_err()
                .to_string()
                .contains("line 1: the header")
        );
    }
}
