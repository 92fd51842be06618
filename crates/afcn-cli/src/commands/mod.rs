//! The subcommands of the `afcn` binary, one file each.

use clap::Subcommand;

/// What `afcn` can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Checks that a compute backend is compiled in and finds a device.
    Backend(backend::Args),
    /// Dataset tools: inspect a dataset's splits, classes, label noise and problems.
    Data(data::Args),
    /// Trains a method on a dataset and writes a run directory.
    Train(train::Args),
    /// Trains a face-pretrained backbone on SynthFER's people (identity classification) and
    /// writes it as `backbone.safetensors` for `afcn train --weights`.
    Pretrain(pretrain::Args),
    /// Lists the training methods (`--method` values and `[methods.<name>]` sections).
    Methods(methods::Args),
    /// Classifies face images with a backbone and its weights.
    Predict(predict::Args),
    /// Scores a backbone and its weights on a dataset's test split: accuracy, mean class
    /// accuracy, confusion matrix.
    Eval(eval::Args),
    /// Shows where the network looks: a Grad-CAM or Grad-CAM++ heat map over the image.
    Explain(explain::Args),
    /// Renders SynthFER, the generated dataset, into a folder in RAF-DB's layout.
    Synth(synth::Args),
    /// Finds, reviews and fixes the wrong labels of a training split: ranked label issues,
    /// class health, a review page, and `audit apply` for the corrected label file.
    Audit(audit::Args),
    /// Times the training step of a method on random images (images/s, memory, phases).
    Bench(bench::Args),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Backend(args) => backend::run(args),
            Command::Data(args) => data::run(args),
            Command::Train(args) => train::run(args),
            Command::Pretrain(args) => pretrain::run(args),
            Command::Methods(args) => methods::run(args),
            Command::Predict(args) => predict::run(args),
            Command::Eval(args) => eval::run(args),
            Command::Explain(args) => explain::run(args),
            Command::Synth(args) => synth::run(args),
            Command::Bench(args) => bench::run(args),
            Command::Audit(args) => audit::run(args),
        }
    }
}

pub mod audit;
mod backend;
pub mod bench;
pub mod data;
pub mod eval;
pub mod explain;
mod methods;
pub mod model_args;
pub mod predict;
pub mod pretrain;
pub mod synth;
pub mod train;
