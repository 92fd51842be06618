//! The subcommands of the `afcn` binary, one file each.

use clap::Subcommand;

/// What `afcn` can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Checks that a compute backend is compiled in and finds a device.
    Backend(backend::Args),
    /// Trains a method on a dataset and writes a run directory.
    Train(train::Args),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Backend(args) => backend::run(args),
            Command::Train(args) => train::run(args),
        }
    }
}

mod backend;
pub mod train;
