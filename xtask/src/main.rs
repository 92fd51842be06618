//! `cargo xtask <task>`: the project's automation, in plain Rust.
//!
//! `main` only parses and dispatches; each task lives in its own module and all flags are
//! declared in `flags`.

mod afcn;
mod doc_figures;
mod flags;
mod fuzz;
mod gpu_bundle;
mod gpu_check;
mod prerequisites;
mod process;
mod reproduce;
mod test;

use clap::Parser;

fn main() -> std::process::ExitCode {
    match run(flags::Xtask::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            let (code, message) = process::exit(&err);
            if let Some(message) = message {
                eprintln!("{message}");
            }
            std::process::ExitCode::from(code)
        }
    }
}

/// Runs the task `flags` names.
fn run(flags: flags::Xtask) -> anyhow::Result<()> {
    process::enter_workspace_root()?;
    match flags.task {
        flags::Task::Test(f) => test::run(&f),
        flags::Task::GpuBundle(f) => gpu_bundle::run(&f),
        flags::Task::GpuCheck(f) => gpu_check::run(&f),
        flags::Task::Train(f) => afcn::run("train", &f),
        flags::Task::Pretrain(f) => afcn::run("pretrain", &f),
        flags::Task::Synth(f) => afcn::run("synth", &f),
        flags::Task::Reproduce(f) => reproduce::run_study(&f),
        flags::Task::Bench(f) => afcn::run("bench", &f),
        flags::Task::DocFigures(f) => doc_figures::run(&f),
        flags::Task::Fuzz(f) => fuzz::run(&f),
    }
}
