//! `afcn backend`: reports whether each compute backend is compiled in and usable.

use afcn_train::backend::{BackendKind, check};

/// Arguments of `afcn backend`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backend to check; all of them when omitted.
    #[arg(long)]
    pub backend: Option<BackendKind>,
}

/// Prints one line per backend; fails when the backend asked for cannot run.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.backend {
        Some(kind) => {
            check(kind)?;
            println!("{kind}: ok");
        }
        None => {
            for kind in BackendKind::ALL {
                match check(kind) {
                    Ok(()) => println!("{kind}: ok"),
                    Err(err) => println!("{kind}: {err}"),
                }
            }
        }
    }
    Ok(())
}
