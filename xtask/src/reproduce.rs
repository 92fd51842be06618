//! `cargo xtask reproduce`: the paper's tables, measured. Runs `afcn train` once per cell and
//! seed, reads each run's final clean-test accuracy from its `metrics.json`, and writes a
//! markdown table of mean +- standard deviation over the seeds:
//!
//! - the comparison (default): methods x noise levels;
//! - `--ablation`: AFCN in full and with each of its five switches off, x noise levels;
//! - `--grid`: AFCN over beta {0.1, 0.3, 0.5, 0.7, 1} x lambda {1, 3, 5, 7, 10}, one table per
//!   noise level.
//!
//! It builds `afcn` once (cargo's progress shown), with the backend of `--backend`, and runs
//! that binary for every cell, so that parallel runs share one build.
//!
//! Every run has its own directory under `--out`; a run already complete (its `COMPLETE`
//! marker) is reused, and one with a checkpoint is resumed, so an interrupted reproduce
//! continues where it stopped. The ablation's full row is the comparison's AFCN run
//! (`comparison/afcn-noise<N>-seed<S>`): run both studies into the same `--out` and it is
//! trained once.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use anyhow::{Context, bail};

use crate::{
    flags::ReproduceFlags,
    process::{build_afcn, run},
};

/// The five switches of AFCN's ablation, as named in the `[methods.afcn]` section of a config.
pub const SWITCHES: [&str; 5] = [
    "label_correction",
    "certainty_weighting",
    "gradcam_attention",
    "attention_fusion",
    "consistency",
];
/// The grid's beta axis (fusion weight of view 1).
pub const BETAS: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 1.0];
/// The grid's lambda axis (weight of the consistency term).
pub const LAMBDAS: [f64; 5] = [1.0, 3.0, 5.0, 7.0, 10.0];

/// One training run of a study.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The table the run belongs to (the grid has one per noise level).
    pub table: String,
    /// The row of the table (method, ablation case or beta).
    pub row: String,
    /// The column of the table (noise level or lambda).
    pub column: String,
    /// The method trained.
    pub method: String,
    /// The injected noise rate.
    pub noise: f64,
    /// The run's seed.
    pub seed: u64,
    /// The `[methods.afcn]` keys of the generated config file (`None`: no config file).
    pub afcn: Option<String>,
    /// The run directory, relative to `--out`.
    pub dir: String,
}

/// The noise level as a column heading: `30%`.
fn percent(rate: f64) -> String {
    format!("{}%", (rate * 100.0).round())
}

/// What to run: every cell of the study that `flags` asks for.
pub fn plan(flags: &ReproduceFlags) -> Vec<Cell> {
    let seeds = 0..flags.seeds as u64;
    let mut cells = Vec::new();
    for &noise in &flags.noise_levels() {
        let tag = format!("noise{}", (noise * 100.0).round());
        for seed in seeds.clone() {
            let mut push = |table: String,
                            row: String,
                            column: String,
                            method: &str,
                            afcn: Option<String>,
                            name: String| {
                cells.push(Cell {
                    table,
                    row,
                    column,
                    method: method.to_owned(),
                    noise,
                    seed,
                    afcn,
                    dir: format!("{name}-{tag}-seed{seed}"),
                });
            };
            if flags.grid {
                for beta in BETAS {
                    for lambda in LAMBDAS {
                        push(
                            format!("noise {}", percent(noise)),
                            format!("beta = {beta}"),
                            format!("lambda = {lambda}"),
                            "afcn",
                            Some(format!("beta = {beta:?}\nlambda = {lambda:?}\n")),
                            format!("grid/beta{beta}-lambda{lambda}"),
                        );
                    }
                }
            } else if flags.ablation {
                // The full row is the comparison's AFCN run (same arguments, same directory):
                // whichever study runs first makes it, and the other reuses it.
                push(
                    String::new(),
                    "AFCN (full)".into(),
                    percent(noise),
                    "afcn",
                    None,
                    "comparison/afcn".into(),
                );
                for switch in SWITCHES {
                    push(
                        String::new(),
                        format!("without {switch}"),
                        percent(noise),
                        "afcn",
                        Some(format!("{switch} = false\n")),
                        format!("ablation/no-{switch}"),
                    );
                }
            } else {
                for method in flags.methods.iter().flatten() {
                    push(
                        String::new(),
                        method.clone(),
                        percent(noise),
                        method,
                        None,
                        format!("comparison/{method}"),
                    );
                }
            }
        }
    }
    cells
}

/// Mean and sample standard deviation (0 for one value); `None` for no value.
pub fn mean_std(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Some((mean, var.sqrt()))
}

/// An accuracy cell in percent: `87.45 +- 0.31 (3)` with the number of seeds, `87.45 (1)`,
/// or `-` when no run of the cell finished.
pub fn format_cell(accuracies: &[f64]) -> String {
    match mean_std(accuracies) {
        None => "-".into(),
        Some((mean, _)) if accuracies.len() == 1 => format!("{:.2} (1)", 100.0 * mean),
        Some((mean, std)) => format!(
            "{:.2} ± {:.2} ({})",
            100.0 * mean,
            100.0 * std,
            accuracies.len()
        ),
    }
}

/// A markdown table: `corner` heading the row names, one row per `rows`, one column per
/// `columns`, each cell the accuracies of its runs.
pub fn format_table(
    corner: &str,
    rows: &[String],
    columns: &[String],
    accuracies: &BTreeMap<(String, String), Vec<f64>>,
) -> String {
    let mut out = format!("| {corner} |");
    for column in columns {
        let _ = write!(out, " {column} |");
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(columns.len()));
    out.push('\n');
    for row in rows {
        let _ = write!(out, "| {row} |");
        for column in columns {
            let cell = accuracies
                .get(&(row.clone(), column.clone()))
                .map_or("-".into(), |a| format_cell(a));
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

/// The names in first-seen order.
fn ordered(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for name in names {
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen
}

/// The markdown of a whole study: a heading, what was run, and its tables; `results` holds the
/// final accuracy of each cell's finished runs.
pub fn format_study(title: &str, setting: &str, cells: &[Cell], results: &[Option<f64>]) -> String {
    let corner = if cells.iter().any(|c| c.row.starts_with("beta")) {
        "beta \\ lambda"
    } else if cells.iter().any(|c| c.row.starts_with("without")) {
        "case \\ noise"
    } else {
        "method \\ noise"
    };
    let mut out = format!(
        "# {title}\n\n{setting}\n\nClean-test accuracy (%) after the last epoch, mean ± sample \
         standard deviation over seeds (number of finished runs in brackets).\n"
    );
    for table in ordered(cells.iter().map(|c| c.table.clone())) {
        let mine: Vec<(&Cell, &Option<f64>)> = cells
            .iter()
            .zip(results)
            .filter(|(c, _)| c.table == table)
            .collect();
        let mut accuracies: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
        for (cell, result) in &mine {
            let entry = accuracies
                .entry((cell.row.clone(), cell.column.clone()))
                .or_default();
            if let Some(accuracy) = result {
                entry.push(*accuracy);
            }
        }
        let rows = ordered(mine.iter().map(|(c, _)| c.row.clone()));
        let columns = ordered(mine.iter().map(|(c, _)| c.column.clone()));
        if !table.is_empty() {
            let _ = write!(out, "\n## {table}\n");
        }
        let _ = write!(
            out,
            "\n{}",
            format_table(corner, &rows, &columns, &accuracies)
        );
    }
    out
}

/// The epochs of a run's `metrics.json` (one object each, in order), and the file's path for
/// messages.
pub fn epochs(run_dir: &Path) -> anyhow::Result<(Vec<serde_json::Value>, PathBuf)> {
    let path = run_dir.join("metrics.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut metrics: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    match metrics.get_mut("epochs").map(serde_json::Value::take) {
        Some(serde_json::Value::Array(epochs)) => Ok((epochs, path)),
        _ => bail!("{}: no list of epochs", path.display()),
    }
}

/// The final clean-test accuracy of a complete run, from its `metrics.json`.
pub fn final_accuracy(run_dir: &Path) -> anyhow::Result<f64> {
    let (epochs, path) = epochs(run_dir)?;
    epochs
        .last()
        .and_then(|last| last["test_accuracy"].as_f64())
        .with_context(|| format!("{}: no epoch with a test_accuracy", path.display()))
}

/// The config text `base` with `keys` (TOML key lines) set in its `[methods.afcn]` table: a
/// key that `base` sets already is replaced, the rest of the file (comments, order, other
/// tables) kept as written. The table is added when `base` has none.
///
/// # Errors
/// `base` is not TOML, or its `methods` or `methods.afcn` is not a table.
pub fn with_afcn_keys(base: &str, keys: &str) -> anyhow::Result<String> {
    let mut doc: toml_edit::DocumentMut = base.parse()?;
    let keys: toml_edit::DocumentMut = keys
        .parse()
        .with_context(|| format!("the generated keys {keys:?}"))?;
    let table = || {
        let mut table = toml_edit::Table::new();
        table.set_implicit(true);
        toml_edit::Item::Table(table)
    };
    let afcn = doc
        .entry("methods")
        .or_insert_with(table)
        .as_table_like_mut()
        .context("`methods` is not a table")?
        .entry("afcn")
        .or_insert_with(table)
        .as_table_like_mut()
        .context("`methods.afcn` is not a table")?;
    for (key, item) in keys.iter() {
        afcn.insert(key, item.clone());
    }
    Ok(doc.to_string())
}

/// Trains one cell with the `afcn` binary at `afcn` unless its run is complete (resuming it
/// when it has a checkpoint); returns whether the run is complete afterwards. With `log`, the
/// run's output goes to that file.
fn train_cell(
    afcn: &Path,
    flags: &ReproduceFlags,
    cell: &Cell,
    dir: &Path,
    log: Option<&Path>,
) -> anyhow::Result<bool> {
    if dir.join("COMPLETE").exists() {
        eprintln!("reusing {}", dir.display());
        return Ok(true);
    }
    let mut args: Vec<String> = Vec::new();
    if dir.join("latest").exists() {
        args.extend(["--resume".into(), dir.display().to_string()]);
    } else {
        args.extend([
            "--preset".into(),
            flags.preset.clone(),
            "--method".into(),
            cell.method.clone(),
            "--dataset".into(),
            flags.dataset.clone(),
            "--noise".into(),
            cell.noise.to_string(),
            "--seed".into(),
            cell.seed.to_string(),
            "--out".into(),
            dir.display().to_string(),
        ]);
        let base = match &flags.config {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
            ),
            None => None,
        };
        if let Some(keys) = &cell.afcn {
            let config = dir.with_extension("toml");
            if let Some(parent) = config.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            let text = with_afcn_keys(base.as_deref().unwrap_or(""), keys).with_context(|| {
                let base = flags.config.as_ref().map(|p| p.display().to_string());
                format!(
                    "setting {keys:?} in {}",
                    base.as_deref().unwrap_or("the defaults")
                )
            })?;
            std::fs::write(&config, text)
                .with_context(|| format!("writing {}", config.display()))?;
            args.extend(["--config".into(), config.display().to_string()]);
        } else if let Some(path) = &flags.config {
            args.extend(["--config".into(), path.display().to_string()]);
        }
        if let Some(root) = &flags.root {
            args.extend(["--root".into(), root.display().to_string()]);
        }
        if let Some(epochs) = flags.epochs {
            args.extend(["--epochs".into(), epochs.to_string()]);
        }
        if let Some(backend) = &flags.backend {
            args.extend(["--backend".into(), backend.clone()]);
        }
    }
    let mut command = Command::new(afcn);
    command.arg("train").args(&args);
    if let Some(log) = log {
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let copy = file
            .try_clone()
            .with_context(|| format!("opening {}", log.display()))?;
        command.stdout(copy).stderr(file);
    }
    Ok(run(&mut command)?.status.success() && dir.join("COMPLETE").exists())
}

/// The method names of `afcn methods --names` (the binary at `afcn`), in the order of the
/// paper's tables.
fn method_names(afcn: &Path) -> anyhow::Result<Vec<String>> {
    let mut command = Command::new(afcn);
    command.args(["methods", "--names"]);
    let output = command
        .output()
        .with_context(|| format!("starting {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)
        .context("`afcn methods --names` printed non-UTF-8 text")?
        .lines()
        .map(str::to_owned)
        .collect())
}

/// Builds `afcn` once (with the backend of `--backend`), then runs the study with it and
/// writes its table to `--out/<study>.md` (and standard output).
pub fn run_study(flags: &ReproduceFlags) -> anyhow::Result<()> {
    let afcn = build_afcn(flags.backend.as_deref())?;
    crate::afcn::ensure_preset_weights(&afcn, &flags.preset)?;
    let known = method_names(&afcn)?;
    let mut flags = flags.clone();
    match &flags.methods {
        Some(methods) => {
            if let Some(unknown) = methods.iter().find(|m| !known.contains(m)) {
                bail!(
                    "unknown method `{unknown}`: expected one of {}",
                    known.join(", ")
                );
            }
        }
        None => flags.methods = Some(known),
    }
    let flags = &flags;
    let cells = plan(flags);
    let (name, title) = if flags.grid {
        ("grid", "AFCN: beta x lambda grid")
    } else if flags.ablation {
        ("ablation", "AFCN: ablation")
    } else {
        ("comparison", "Comparison under label noise")
    };
    // Workers take the cells in order; each cell's outcome lands in its own slot.
    let next = AtomicUsize::new(0);
    let outcomes: Vec<Mutex<Option<anyhow::Result<bool>>>> =
        cells.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..flags.jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(cell) = cells.get(i) else { break };
                    let dir = flags.out_dir().join(&cell.dir);
                    let log = (flags.jobs > 1).then(|| dir.with_extension("log"));
                    eprintln!("[{}/{}] {}", i + 1, cells.len(), dir.display());
                    let outcome = train_cell(&afcn, flags, cell, &dir, log.as_deref());
                    *outcomes[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
                }
            });
        }
    });
    let mut results = Vec::with_capacity(cells.len());
    let mut failed = Vec::new();
    for (cell, outcome) in cells.iter().zip(outcomes) {
        let dir = flags.out_dir().join(&cell.dir);
        let outcome = outcome.into_inner().unwrap_or_else(|e| e.into_inner());
        if outcome.context("every cell was run")?? {
            results.push(Some(final_accuracy(&dir)?));
        } else {
            failed.push(dir.display().to_string());
            results.push(None);
        }
    }
    let setting = format!(
        "Preset `{}`, dataset `{}`, {} seed(s), {}; runs in `{}`.",
        flags.preset,
        flags.dataset,
        flags.seeds,
        flags
            .epochs
            .map_or("the preset's epochs".into(), |e| format!("{e} epochs")),
        flags.out_dir().display()
    );
    let markdown = format_study(title, &setting, &cells, &results);
    let path: PathBuf = flags.out_dir().join(format!("{name}.md"));
    std::fs::create_dir_all(flags.out_dir())
        .with_context(|| format!("creating {}", flags.out_dir().display()))?;
    std::fs::write(&path, &markdown).with_context(|| format!("writing {}", path.display()))?;
    println!("{markdown}");
    eprintln!("wrote {}", path.display());
    if !failed.is_empty() {
        bail!("{} run(s) failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::flags::{Task, Xtask};

    fn flags(args: &[&str]) -> ReproduceFlags {
        let all = ["cargo xtask", "reproduce"].iter().chain(args);
        match Xtask::try_parse_from(all).unwrap().task {
            Task::Reproduce(flags) => flags,
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn jobs_default_to_one_and_must_be_positive() {
        assert_eq!(flags(&[]).jobs, 1);
        assert_eq!(flags(&["--jobs", "2"]).jobs, 2);
        let zero = ["cargo xtask", "reproduce", "--jobs", "0"];
        assert!(Xtask::try_parse_from(zero).is_err());
    }

    #[test]
    fn the_comparison_runs_every_method_noise_level_and_seed() {
        // `run_study` fills the methods in from `afcn methods --names` when none are given.
        let cells = plan(&flags(&["--methods", "baseline,scn,rul,eac,afcn"]));
        assert_eq!(cells.len(), 5 * 3 * 3);
        let first = &cells[0];
        assert_eq!(
            (first.row.as_str(), first.column.as_str(), first.seed),
            ("baseline", "10%", 0)
        );
        assert_eq!(first.dir, "comparison/baseline-noise10-seed0");
        assert!(cells.iter().all(|c| c.afcn.is_none()));
        let dirs: std::collections::BTreeSet<_> = cells.iter().map(|c| &c.dir).collect();
        assert_eq!(dirs.len(), cells.len(), "every run has its own directory");

        let two = plan(&flags(&[
            "--methods",
            "eac,afcn",
            "--noise",
            "0.3",
            "--seeds",
            "2",
        ]));
        let rows: Vec<_> = two.iter().map(|c| (c.method.as_str(), c.seed)).collect();
        assert_eq!(rows, [("eac", 0), ("afcn", 0), ("eac", 1), ("afcn", 1)]);
    }

    #[test]
    fn the_ablation_switches_off_one_component_per_case_at_30_percent() {
        let cells = plan(&flags(&["--ablation", "--seeds", "1"]));
        assert_eq!(cells.len(), 6);
        assert!(cells.iter().all(|c| c.method == "afcn" && c.noise == 0.3));
        assert_eq!(cells[0].afcn, None);
        let comparison = plan(&flags(&[
            "--seeds",
            "1",
            "--noise",
            "0.3",
            "--methods",
            "afcn",
        ]));
        assert_eq!(
            (&cells[0].method, &cells[0].dir, &cells[0].afcn),
            (
                &comparison[0].method,
                &comparison[0].dir,
                &comparison[0].afcn
            ),
            "the full row is the comparison's AFCN run"
        );
        for (cell, switch) in cells[1..].iter().zip(SWITCHES) {
            assert_eq!(
                cell.afcn.as_deref(),
                Some(format!("{switch} = false\n").as_str())
            );
            assert_eq!(cell.dir, format!("ablation/no-{switch}-noise30-seed0"));
        }
    }

    #[test]
    fn the_grid_covers_beta_by_lambda() {
        let cells = plan(&flags(&["--grid", "--seeds", "1"]));
        assert_eq!(cells.len(), 25);
        assert_eq!(cells[0].afcn.as_deref(), Some("beta = 0.1\nlambda = 1.0\n"));
        assert_eq!(
            cells[24].afcn.as_deref(),
            Some("beta = 1.0\nlambda = 10.0\n")
        );
        assert_eq!(
            (cells[7].row.as_str(), cells[7].column.as_str()),
            ("beta = 0.3", "lambda = 5")
        );
        assert!(cells.iter().all(|c| c.table == "noise 30%"));
    }

    #[test]
    fn mean_and_sample_standard_deviation() {
        assert_eq!(mean_std(&[]), None);
        assert_eq!(mean_std(&[0.5]), Some((0.5, 0.0)));
        // mean 0.8; deviations -0.1, 0, 0.1; sample variance 0.02 / 2 = 0.01.
        let (mean, std) = mean_std(&[0.7, 0.8, 0.9]).unwrap();
        assert!((mean - 0.8).abs() < 1e-12 && (std - 0.1).abs() < 1e-12);
    }

    #[test]
    fn cells_are_percentages_with_the_number_of_runs() {
        assert_eq!(format_cell(&[]), "-");
        assert_eq!(format_cell(&[0.87454]), "87.45 (1)");
        assert_eq!(format_cell(&[0.7, 0.8, 0.9]), "80.00 ± 10.00 (3)");
    }

    #[test]
    fn a_study_table_has_a_row_per_method_and_a_column_per_noise_level() {
        let f = flags(&[
            "--methods",
            "baseline,afcn",
            "--noise",
            "0.1,0.3",
            "--seeds",
            "2",
        ]);
        let cells = plan(&f);
        // Accuracy = method offset + noise offset + seed, one run (afcn at 30%, seed 1) missing.
        let results: Vec<Option<f64>> = cells
            .iter()
            .map(|c| {
                let missing = c.method == "afcn" && c.noise == 0.3 && c.seed == 1;
                let base = if c.method == "afcn" { 0.8 } else { 0.6 };
                (!missing).then(|| base - c.noise / 10.0 + c.seed as f64 / 100.0)
            })
            .collect();
        let md = format_study("Comparison", "Dataset `synthfer`.", &cells, &results);
        let expected = "\
| method \\ noise | 10% | 30% |
|---|---:|---:|
| baseline | 59.50 ± 0.71 (2) | 57.50 ± 0.71 (2) |
| afcn | 79.50 ± 0.71 (2) | 77.00 (1) |
";
        assert!(
            md.starts_with("# Comparison\n\nDataset `synthfer`.\n"),
            "{md}"
        );
        assert!(md.ends_with(expected), "{md}");
    }

    #[test]
    fn the_grid_writes_one_table_per_noise_level() {
        let cells = plan(&flags(&["--grid", "--seeds", "1", "--noise", "0.2,0.3"]));
        let results = vec![Some(0.5); cells.len()];
        let md = format_study("Grid", "", &cells, &results);
        assert!(md.contains("\n## noise 20%\n\n| beta \\ lambda | lambda = 1 | lambda = 3 |"));
        assert!(md.contains("\n## noise 30%\n"));
        assert_eq!(md.matches("| beta = 0.7 |").count(), 2, "{md}");
    }

    #[test]
    fn generated_keys_join_the_base_configs_afcn_table() {
        assert_eq!(
            with_afcn_keys("", "beta = 0.1\n").unwrap(),
            "[methods.afcn]\nbeta = 0.1\n"
        );
        assert_eq!(
            with_afcn_keys(
                "epochs = 2\n[methods.afcn]\ntau = 0.4\n[data]\nskip_bad = true",
                "consistency = false\n"
            )
            .unwrap(),
            "epochs = 2\n[methods.afcn]\ntau = 0.4\nconsistency = false\n[data]\nskip_bad = true\n"
        );
        assert_eq!(
            with_afcn_keys(
                "epochs = 2\n[data.synthfer]\ntest_size = 8\n",
                "beta = 1.0\n"
            )
            .unwrap(),
            "epochs = 2\n[data.synthfer]\ntest_size = 8\n\n[methods.afcn]\nbeta = 1.0\n"
        );
    }

    #[test]
    fn a_key_the_base_config_sets_is_replaced_not_repeated() {
        let base = "# the ablation's base\n[methods.afcn]\nconsistency = true # on\nbeta = 0.7\n";
        let text = with_afcn_keys(base, "consistency = false\n").unwrap();
        assert_eq!(text.matches("consistency").count(), 1, "{text}");
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        let afcn = &parsed["methods"]["afcn"];
        assert_eq!(afcn["consistency"].as_bool(), Some(false), "{text}");
        assert_eq!(afcn["beta"].as_float(), Some(0.7), "{text}");
        assert!(text.starts_with("# the ablation's base\n"), "{text}");
        // An inline table and a dotted key are tables too.
        let text = with_afcn_keys("methods = { afcn = { beta = 0.7 } }\n", "beta = 0.1\n").unwrap();
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            parsed["methods"]["afcn"]["beta"].as_float(),
            Some(0.1),
            "{text}"
        );
        let text = with_afcn_keys("methods.afcn.lambda = 3.0\n", "lambda = 1.0\n").unwrap();
        assert_eq!(text.matches("lambda").count(), 1, "{text}");
        let err = with_afcn_keys("methods = 3\n", "beta = 0.1\n").unwrap_err();
        assert_eq!(err.to_string(), "`methods` is not a table");
        assert!(with_afcn_keys("epochs = \n", "beta = 0.1\n").is_err());
    }

    #[test]
    fn the_final_accuracy_is_the_last_epochs() {
        let dir = std::env::temp_dir().join(format!("xtask-reproduce-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("metrics.json"),
            r#"{"epochs": [{"test_accuracy": 0.25}, {"test_accuracy": 0.75}]}"#,
        )
        .unwrap();
        assert_eq!(final_accuracy(&dir).unwrap(), 0.75);
        std::fs::write(dir.join("metrics.json"), r#"{"epochs": []}"#).unwrap();
        let err = final_accuracy(&dir).unwrap_err().to_string();
        assert!(err.contains("metrics.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
