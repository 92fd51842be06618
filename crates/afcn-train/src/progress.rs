//! Progress of long work on standard error.

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar on standard error (hidden when it is not a terminal).
pub fn progress_bar(len: u64, prefix: &str) -> ProgressBar {
    let bar = ProgressBar::new(len).with_prefix(prefix.to_owned());
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}
