//! `afcn methods`: the training methods the registry holds, one per line.

use afcn_train::methods::MethodKind;

/// Arguments of `afcn methods`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only the names, one per line (for scripts such as `cargo xtask reproduce`).
    #[arg(long)]
    pub names: bool,
}

/// Prints every method with its description, or only the names.
pub fn run(args: Args) -> anyhow::Result<()> {
    print!("{}", listing(args.names));
    Ok(())
}

/// The listing `afcn methods` prints.
fn listing(names_only: bool) -> String {
    MethodKind::ALL
        .iter()
        .map(|m| match (names_only, m.aliases()) {
            (true, _) => format!("{m}\n"),
            (false, []) => format!("{:<10} {}\n", m.name(), m.about()),
            (false, aliases) => format!(
                "{:<10} {} (also `{}`)\n",
                m.name(),
                m.about(),
                aliases.join("`, `")
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_registry_in_order() {
        assert_eq!(listing(true), "baseline\nscn\nrul\neac\nafcn\n");
        let full = listing(false);
        assert!(
            full.starts_with("baseline   cross-entropy on one view (also `ce`)\n"),
            "{full}"
        );
        assert_eq!(full.lines().count(), MethodKind::ALL.len());
    }
}
