//! The `afcn` command: train, evaluate and explain facial-expression recognition models that
//! stay accurate under label noise.

use clap::Parser;

/// Noise-robust facial-expression recognition (AFCN) in Rust.
#[derive(Debug, Parser)]
#[command(name = "afcn", version, about)]
struct Cli {
    #[command(subcommand)]
    command: afcn_cli::commands::Command,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command.run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            // 130, as a shell reports a process ended by Ctrl-C.
            if err
                .downcast_ref::<afcn_train::trainer::Interrupted>()
                .is_some()
            {
                std::process::ExitCode::from(130)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}
