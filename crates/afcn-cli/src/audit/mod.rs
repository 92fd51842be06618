//! `afcn audit`: find, review and fix the wrong labels of a training split.
//!
//! - [`probabilities`]: the two-view mean probabilities of every sample, in-sample from a
//!   trained model or out-of-sample by K-fold cross-training with the trainer.
//! - [`scores`]: self-confidence, normalised margin, certainty, the ranking, the flags, the
//!   per-class health table and the flags' precision and recall against clean labels.
//! - [`labels`]: the corrected label file in the dataset's own format, and the decisions a
//!   review exports.
//! - [`review`]: the self-contained review page.
//!
//! The workflow and which scores to trust are in `docs/audit.md`.

pub mod labels;
pub mod probabilities;
pub mod review;
pub mod scores;

use std::path::PathBuf;

/// Why an audit cannot start; nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The run directory lacks a file a finished run has.
    #[error(
        "{dir} is not a finished run: {missing} is missing (train it to the end, or resume it \
         with `afcn train --resume {dir}`)"
    )]
    IncompleteRun {
        /// The run directory.
        dir: PathBuf,
        /// The missing file.
        missing: String,
    },
    /// The run's label store does not describe the training split it opens to.
    #[error(
        "{state}: the run trained on {run} samples with other given labels than the {found} \
         samples of the training split opened from its config.toml (was the dataset changed?)"
    )]
    StaleRun {
        /// The checkpoint's state file.
        state: PathBuf,
        /// The samples the run trained on.
        run: usize,
        /// The samples of the training split.
        found: usize,
    },
    /// Neither a run nor weights were given.
    #[error("give a finished run (--run RUN_DIR) or weights (--weights W with --arch A)")]
    NothingToAudit,
    /// Cross-training needs a training configuration.
    #[error("--folds needs a run (--run RUN_DIR): the folds train with its configuration")]
    FoldsNeedRun,
    /// Fewer than two folds.
    #[error("--folds {0} is out of range: expected at least 2 (or leave it out)")]
    Folds(usize),
    /// The output already exists and is not ours to replace.
    #[error("{0} exists: choose another --out (the original label files are never replaced)")]
    OutputExists(PathBuf),
}
