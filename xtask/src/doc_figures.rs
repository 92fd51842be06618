//! `cargo xtask doc-figures [--only-docs]`: checks that the seed-0 figures the documentation
//! quotes are the ones the code gives.
//!
//! [`FIGURES`] (`docs/figures.toml`) is their one source: for each documented run, its
//! `afcn train` arguments, its final clean-test accuracy (percent, one decimal), its number of
//! label corrections (every change made, as `metrics.json` counts them epoch by epoch) and the
//! pages that quote them. The command checks that every page quotes both figures as the file
//! writes them, then trains each run into `target/doc-figures/<name>` (minutes each on the cpu
//! backend) and compares what it gives with the file. It reports every mismatch and fails if
//! there is one. `--only-docs` skips the training: only the pages are checked, in seconds.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::{
    afcn,
    flags::{AfcnFlags, DocFiguresFlags},
    process::flag_value,
    reproduce,
};

/// The documented runs and their figures.
pub const FIGURES: &str = "docs/figures.toml";

/// The directory the runs are trained into, one folder per run.
pub const OUT: &str = "target/doc-figures";

/// The contents of [`FIGURES`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    /// The documented runs (`[[run]]` tables).
    #[serde(rename = "run")]
    pub runs: Vec<Run>,
}

/// A documented run and the figures the documentation quotes from it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// Names the run in messages and its directory under [`OUT`] (letters, digits, `-`).
    pub name: String,
    /// The `afcn train` arguments (none: the README's `cargo xtask train`); never `--out` or
    /// `--resume`, which the check sets.
    pub args: Vec<String>,
    /// The final clean-test accuracy, in percent with one decimal.
    pub accuracy: f64,
    /// The label corrections over the whole run (a sample changed twice counts twice).
    pub corrections: u64,
    /// The pages that quote the figures, relative to the checkout's root.
    pub pages: Vec<PathBuf>,
    /// The machine the figures were measured on. A run is deterministic on one machine, not
    /// across CPUs (the matrix products' kernel and blocking follow the CPU, docs/results.md):
    /// on another machine a mismatch says that, not that the code changed.
    pub machine: String,
}

/// The figures of a run, as the documentation writes them.
#[derive(Debug, PartialEq)]
pub struct Quoted {
    /// The final clean-test accuracy: `80.6`.
    pub accuracy: String,
    /// The label corrections: `960`.
    pub corrections: String,
}

impl Quoted {
    /// The figures from an accuracy in percent and a count of corrections.
    pub fn new(accuracy: f64, corrections: u64) -> Self {
        Self {
            accuracy: format!("{accuracy:.1}"),
            corrections: corrections.to_string(),
        }
    }

    /// Each figure with what it is.
    fn named(&self) -> [(&'static str, &str); 2] {
        [
            ("final test accuracy", &self.accuracy),
            ("label corrections", &self.corrections),
        ]
    }
}

impl Run {
    /// The figures [`FIGURES`] gives for this run.
    pub fn documented(&self) -> Quoted {
        Quoted::new(self.accuracy, self.corrections)
    }
}

/// A figure that disagrees.
#[derive(Debug, PartialEq)]
pub enum Mismatch {
    /// The run gives another figure than [`FIGURES`] (and the pages) say.
    Run {
        /// The run's name.
        run: String,
        /// What the figure is.
        figure: &'static str,
        /// What the run gave.
        measured: String,
        /// What the documentation says.
        documented: String,
        /// The pages that quote the documented figure.
        pages: Vec<PathBuf>,
    },
    /// A page does not quote a figure of [`FIGURES`].
    Page {
        /// The run's name.
        run: String,
        /// What the figure is.
        figure: &'static str,
        /// The figure, as [`FIGURES`] has it.
        documented: String,
        /// The page.
        page: PathBuf,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Run {
                run,
                figure,
                measured,
                documented,
                pages,
            } => {
                let pages: Vec<String> = pages.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "{run}: {figure}: the run gives {measured}, the documentation says \
                     {documented} ({FIGURES}, {})",
                    pages.join(", ")
                )
            }
            Mismatch::Page {
                run,
                figure,
                documented,
                page,
            } => write!(
                f,
                "{run}: {} does not quote the {figure} {documented} that {FIGURES} gives",
                page.display()
            ),
        }
    }
}

/// Parses the text of [`FIGURES`] and checks it: at least one run, names usable as folder
/// names and distinct, accuracies in percent with one decimal, no `--out` or `--resume`
/// among the arguments, at least one page each.
pub fn parse(text: &str) -> anyhow::Result<Figures> {
    let figures: Figures = toml::from_str(text)?;
    anyhow::ensure!(!figures.runs.is_empty(), "no [[run]]");
    for (i, run) in figures.runs.iter().enumerate() {
        let name = &run.name;
        anyhow::ensure!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "run name `{name}`: letters, digits and `-` only"
        );
        anyhow::ensure!(
            figures.runs[..i].iter().all(|other| other.name != *name),
            "two runs are named `{name}`"
        );
        anyhow::ensure!(
            (0.0..=100.0).contains(&run.accuracy)
                && (run.accuracy * 10.0).round() / 10.0 == run.accuracy,
            "{name}: accuracy {} is not a percentage with one decimal",
            run.accuracy
        );
        if let Some(flag) = ["--out", "--resume"]
            .into_iter()
            .find(|flag| flag_value(&run.args, flag).is_some())
        {
            bail!("{name}: the args set {flag}, which the check sets itself");
        }
        anyhow::ensure!(!run.pages.is_empty(), "{name}: no pages");
    }
    Ok(figures)
}

/// Whether `text` holds `figure` as a number of its own, not inside a longer one: no digit or
/// `.` right before it, no digit or `.` and digit right after it (`80.6` is found in `80.6%`,
/// `| 80.6 |` and `80.6.` but not in `180.6` or `80.65`).
pub fn quotes(text: &str, figure: &str) -> bool {
    let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
    text.match_indices(figure).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let mut after = text[at + figure.len()..].chars();
        let next = after.next();
        let longer = digit(before)
            || before == Some('.')
            || digit(next)
            || (next == Some('.') && digit(after.next()));
        !longer
    })
}

/// The figures of `run` that the page `page`, whose text is `text`, does not quote.
pub fn page_mismatches(run: &Run, page: &Path, text: &str) -> Vec<Mismatch> {
    run.documented()
        .named()
        .into_iter()
        .filter(|(_, documented)| !quotes(text, documented))
        .map(|(figure, documented)| Mismatch::Page {
            run: run.name.clone(),
            figure,
            documented: documented.to_owned(),
            page: page.to_owned(),
        })
        .collect()
}

/// The figures of `run` that differ from those its training gave (`measured`).
pub fn run_mismatches(run: &Run, measured: &Quoted) -> Vec<Mismatch> {
    run.documented()
        .named()
        .into_iter()
        .zip(measured.named())
        .filter(|((_, documented), (_, measured))| documented != measured)
        .map(|((figure, documented), (_, measured))| Mismatch::Run {
            run: run.name.clone(),
            figure,
            measured: measured.to_owned(),
            documented: documented.to_owned(),
            pages: run.pages.clone(),
        })
        .collect()
}

/// The figures of the complete run in `run_dir`, from its `metrics.json`: the last epoch's
/// test accuracy and the corrections of every epoch, summed.
pub fn measured(run_dir: &Path) -> anyhow::Result<Quoted> {
    let accuracy = reproduce::final_accuracy(run_dir)?;
    let (epochs, path) = reproduce::epochs(run_dir)?;
    let mut corrections = 0;
    for (i, epoch) in epochs.iter().enumerate() {
        corrections += epoch["corrections"]
            .as_u64()
            .with_context(|| format!("{}: epoch {i} has no corrections count", path.display()))?;
    }
    Ok(Quoted::new(100.0 * accuracy, corrections))
}

/// Checks the pages against [`FIGURES`], then (unless `--only-docs`) trains every run and
/// checks its figures; prints every mismatch and fails if there is one.
pub fn run(flags: &DocFiguresFlags) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(FIGURES).with_context(|| format!("reading {FIGURES}"))?;
    let figures = parse(&text).with_context(|| format!("parsing {FIGURES}"))?;
    let mut mismatches = Vec::new();
    for run in &figures.runs {
        for page in &run.pages {
            let text = std::fs::read_to_string(page).with_context(|| {
                format!(
                    "reading {}, a page of run `{}` in {FIGURES}",
                    page.display(),
                    run.name
                )
            })?;
            mismatches.extend(page_mismatches(run, page, &text));
        }
    }
    if !flags.only_docs {
        for run in &figures.runs {
            let dir = Path::new(OUT).join(&run.name);
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("removing the old run {}", dir.display()))?;
            }
            let mut args = run.args.clone();
            args.extend(["--out".into(), dir.display().to_string()]);
            afcn::run("train", &AfcnFlags { args })?;
            mismatches.extend(run_mismatches(run, &measured(&dir)?));
        }
    }
    for mismatch in &mismatches {
        eprintln!("mismatch: {mismatch}");
    }
    if let Some(Mismatch::Run { run, .. }) = mismatches
        .iter()
        .find(|m| matches!(m, Mismatch::Run { .. }))
    {
        let documented = figures.runs.iter().find(|r| r.name == *run);
        eprintln!(
            "the figures were measured on: {}\nthis machine: {} (another CPU sums in another \
             order: docs/results.md, \"The same seed on another machine\")",
            documented.map_or("?", |r| r.machine.as_str()),
            this_machine()
        );
    }
    if !mismatches.is_empty() {
        bail!("{} figure(s) disagree with {FIGURES}", mismatches.len());
    }
    eprintln!(
        "every figure of {FIGURES} is quoted by its pages{}",
        if flags.only_docs {
            " (runs not trained: --only-docs)"
        } else {
            " and is what its run gives"
        }
    );
    Ok(())
}

/// This machine's CPU as `/proc/cpuinfo` names it, and whether it has AVX-512 (which selects
/// the matrix products' kernel).
fn this_machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_once(':'))
            .map(|(_, value)| value.trim().to_owned())
    };
    let model = field("model name").unwrap_or_else(|| "an unknown CPU".into());
    let avx512 = field("flags").is_some_and(|flags| flags.split(' ').any(|f| f == "avx512f"));
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "{model}, {cores} cores, {} AVX-512",
        if avx512 { "with" } else { "without" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[[run]]
name = "main"
args = []
accuracy = 80.6
corrections = 960
pages = ["docs/synthfer.md", "README.md"]
machine = "a 2-core CPU"

[[run]]
name = "eac-seed1"
args = ["--method", "eac", "--seed", "1"]
accuracy = 38.9
corrections = 0
pages = ["docs/results.md"]
machine = "another 2-core CPU"
"#;

    #[test]
    fn the_figures_file_is_parsed_with_its_runs_in_order() {
        let figures = parse(SAMPLE).unwrap();
        let names: Vec<&str> = figures.runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["main", "eac-seed1"]);
        let main = &figures.runs[0];
        assert!(main.args.is_empty());
        assert_eq!(
            main.documented(),
            Quoted {
                accuracy: "80.6".into(),
                corrections: "960".into()
            }
        );
        assert_eq!(
            main.pages,
            [PathBuf::from("docs/synthfer.md"), "README.md".into()]
        );
        assert_eq!(figures.runs[1].args, ["--method", "eac", "--seed", "1"]);
    }

    #[test]
    fn the_repositorys_figures_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(FIGURES);
        let figures = parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(
            figures.runs.iter().any(|r| r.args.is_empty()),
            "the main command"
        );
    }

    #[test]
    fn a_figures_file_that_could_not_be_checked_is_refused() {
        let with = |from: &str, to: &str| {
            let text = SAMPLE.replacen(from, to, 1);
            format!("{:#}", parse(&text).unwrap_err())
        };
        assert!(with("80.6", "80.65").contains("one decimal"));
        assert!(with("80.6", "180.6").contains("one decimal"));
        assert!(with("args = []", r#"args = ["--out", "x"]"#).contains("the args set --out"));
        assert!(with("args = []", r#"args = ["--resume=x"]"#).contains("the args set --resume"));
        assert!(with(r#""eac-seed1""#, r#""main""#).contains("two runs are named `main`"));
        assert!(with(r#""main""#, r#""my run""#).contains("letters, digits"));
        assert!(with("corrections = 960", "corrections = 960\nseed = 0").contains("seed"));
        assert!(with("corrections = 960\n", "").contains("corrections"));
        assert!(parse("").unwrap_err().to_string().contains("run"));
    }

    #[test]
    fn a_figure_is_found_only_as_a_number_of_its_own() {
        for text in [
            "ends at 80.6%.",
            "| 80.6 |",
            "(80.6)",
            "80.6",
            "ended at 80.6.",
        ] {
            assert!(quotes(text, "80.6"), "{text}");
        }
        for text in ["180.6", "80.65", "80.60", "0.80.6", "8.06", "no figure"] {
            assert!(!quotes(text, "80.6"), "{text}");
        }
        assert!(quotes("| AFCN, 1 | 960 | 86.8% |", "960"));
        assert!(!quotes("9600 changes, 1960 more", "960"));
        assert!(
            quotes("1960 then 960 changes", "960"),
            "a later occurrence counts"
        );
    }

    #[test]
    fn a_page_missing_a_figure_is_reported_with_the_figure_and_the_page() {
        let figures = parse(SAMPLE).unwrap();
        let main = &figures.runs[0];
        let page = Path::new("docs/synthfer.md");
        assert!(page_mismatches(main, page, "80.6% after 960 corrections").is_empty());
        let found = page_mismatches(main, page, "80.6% after 963 corrections");
        assert_eq!(
            found,
            [Mismatch::Page {
                run: "main".into(),
                figure: "label corrections",
                documented: "960".into(),
                page: page.into(),
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "main: docs/synthfer.md does not quote the label corrections 960 that \
             docs/figures.toml gives"
        );
    }

    #[test]
    fn a_run_that_gives_another_figure_is_reported_with_both_values() {
        let figures = parse(SAMPLE).unwrap();
        let main = &figures.runs[0];
        assert!(run_mismatches(main, &Quoted::new(80.6249, 960)).is_empty());
        let found = run_mismatches(main, &Quoted::new(79.64, 960));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].to_string(),
            "main: final test accuracy: the run gives 79.6, the documentation says 80.6 \
             (docs/figures.toml, docs/synthfer.md, README.md)"
        );
        assert_eq!(run_mismatches(main, &Quoted::new(80.0, 1)).len(), 2);
    }

    #[test]
    fn the_figures_of_a_run_are_its_last_accuracy_and_all_its_corrections() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("metrics.json"),
            r#"{"epochs": [
                {"test_accuracy": 0.5, "corrections": 0},
                {"test_accuracy": 0.79, "corrections": 700},
                {"test_accuracy": 0.8061, "corrections": 260}
            ]}"#,
        )
        .unwrap();
        assert_eq!(measured(dir.path()).unwrap(), Quoted::new(80.6, 960));
        std::fs::write(
            dir.path().join("metrics.json"),
            r#"{"epochs": [{"test_accuracy": 0.5}]}"#,
        )
        .unwrap();
        let err = format!("{:#}", measured(dir.path()).unwrap_err());
        assert!(err.contains("epoch 0 has no corrections count"), "{err}");
    }
}
