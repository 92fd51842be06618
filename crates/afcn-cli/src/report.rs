//! The outputs of a run: `metrics.json` after every epoch, and at the end the final weights,
//! the confusion matrix, the correction log, the suspected mislabelled samples and
//! `report.md`, which ties them together.

use std::fmt::Write as _;

use anyhow::Context;
use burn::{module::AutodiffModule, tensor::backend::AutodiffBackend};
use serde_json::json;

use crate::{
    overlays::{
        Overlay, WRONG_CORRECTIONS, WRONG_TEST, write_overlays, write_wrong_corrections_grid,
        write_wrong_test_grid,
    },
    plots::{save_confusion_png, save_curves_png},
};
use afcn_train::{
    config::DatasetKind,
    inference::confusion,
    metrics::EpochMetrics,
    model::HEADS_FILE,
    run_dir::{RunDir, names},
    trainer::Trainer,
};

/// The correction log: one line per label change.
pub const CORRECTIONS: &str = "corrections.csv";
/// The suspected mislabelled samples, least self-confident first.
pub const SUSPECTS: &str = "suspects.csv";
/// The confusion matrix on the clean test split, as JSON.
pub const CONFUSION: &str = "confusion.json";
/// The confusion matrix as a heat map.
pub const CONFUSION_PNG: &str = "confusion.png";
/// The training curves: loss parts, accuracies, correction quality per epoch.
pub const CURVES: &str = "curves.png";

/// Writes `metrics.json` (atomically) with the epochs so far.
pub fn write_metrics(run: &RunDir, history: &[EpochMetrics]) -> anyhow::Result<()> {
    run.write(
        names::METRICS,
        &serde_json::to_string_pretty(&json!({ "epochs": history }))?,
    )
}

/// Beyond this many classes (an identity set) the confusion matrix is too large to read: it is
/// kept in `confusion.json` only, neither drawn nor tabled in the report.
const MAX_SHOWN_CLASSES: usize = 20;

/// Writes every final output of a trained run (all but the `COMPLETE` marker).
pub fn write_final<B: AutodiffBackend>(run: &RunDir, trainer: &Trainer<B>) -> anyhow::Result<()> {
    let class_names = trainer.class_names();
    write_metrics(run, trainer.history())?;
    trainer
        .model()
        .backbone
        .save_safetensors(run.join(names::WEIGHTS))?;
    if trainer.config().data.dataset == DatasetKind::SynthferIdentities {
        let backbone = run.join(names::BACKBONE);
        std::fs::copy(run.join(names::WEIGHTS), &backbone)
            .with_context(|| format!("writing {}", backbone.display()))?;
    }
    if !trainer.config().method.backbone_inference() {
        run.write_bytes(HEADS_FILE, &trainer.model().heads_bytes()?)?;
    }

    let test = &trainer.data().test;
    let predictions = trainer.predict(test)?;
    let confusion = confusion(&predictions, class_names.len());
    run.write(
        CONFUSION,
        &serde_json::to_string_pretty(&json!({
            "classes": class_names,
            "counts": confusion.counts,
            "accuracy": confusion.accuracy(),
            "mean_class_accuracy": confusion.mean_class_accuracy(),
        }))?,
    )?;

    let show_confusion = class_names.len() <= MAX_SHOWN_CLASSES;
    if show_confusion {
        save_confusion_png(&run.join(CONFUSION_PNG), &confusion, class_names)?;
    }
    save_curves_png(&run.join(CURVES), trainer.history())?;
    let backbone = trainer.model().valid().backbone;
    let (count, size) = (
        trainer.config().overlays,
        trainer.config().augment.image_size,
    );
    let overlays = write_overlays(&backbone, test.as_ref(), count, size, run.path())?;
    let wrong_test = write_wrong_test_grid(
        &backbone,
        test.as_ref(),
        &predictions,
        count,
        size,
        run.path(),
    )?;
    let wrong_corrections = write_wrong_corrections_grid(
        &backbone,
        trainer.data().train.as_ref(),
        trainer.labels(),
        count,
        size,
        run.path(),
    )?;

    let labels = trainer.labels();
    let mut log = String::from("epoch,sample,old,new\n");
    for change in labels.changes() {
        writeln!(
            log,
            "{},{},{},{}",
            change.epoch, change.sample, change.old, change.new
        )?;
    }
    run.write(CORRECTIONS, &log)?;
    labels.write_suspects_csv(&run.join(SUSPECTS))?;

    let config = std::fs::read_to_string(run.join(names::CONFIG)).unwrap_or_default();
    let mut report = String::new();
    writeln!(report, "# Training report\n")?;
    if let Some(last) = trainer.history().last() {
        let what = match trainer.config().data.dataset {
            DatasetKind::SynthferIdentities => "Identity accuracy on held-out renders",
            _ => "Clean test accuracy",
        };
        writeln!(
            report,
            "{what} **{:.2}%**, mean class accuracy {:.2}%, after {} epochs.\n",
            100.0 * last.test_accuracy,
            100.0 * last.test_mean_class_accuracy,
            last.epoch + 1
        )?;
    }
    if trainer.parallel().shards() > 1 {
        writeln!(report, "Trained {}.\n", trainer.parallel().describe())?;
    }
    writeln!(report, "## Epochs\n")?;
    writeln!(
        report,
        "| epoch | lr | loss | CE | aux | train acc | train acc (clean) | test acc | mean class acc | corrections | precision | recall | label noise | s |"
    )?;
    writeln!(
        report,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    let percent = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", 100.0 * v));
    for m in trainer.history() {
        writeln!(
            report,
            "| {} | {:.2e} | {:.4} | {:.4} | {:.4} | {:.1}% | {:.1}% | {:.2}% | {:.2}% | {} | {} | {} | {:.1}% | {:.0} |",
            m.epoch,
            m.lr,
            m.loss,
            m.cross_entropy,
            m.auxiliary,
            100.0 * m.train_accuracy,
            100.0 * m.train_clean_accuracy,
            100.0 * m.test_accuracy,
            100.0 * m.test_mean_class_accuracy,
            m.corrections,
            percent(m.correction_precision),
            percent(m.correction_recall),
            100.0 * m.label_noise,
            m.seconds,
        )?;
    }
    writeln!(report, "\n![Training curves]({CURVES})\n")?;
    writeln!(report, "## Confusion matrix (clean test split)\n")?;
    if show_confusion {
        writeln!(report, "{}", confusion.to_markdown(class_names))?;
        writeln!(report, "![Confusion matrix]({CONFUSION_PNG})\n")?;
    } else {
        writeln!(
            report,
            "{} classes are too many to show: the counts are in [`{CONFUSION}`]({CONFUSION}).\n",
            class_names.len()
        )?;
    }
    write_overlay_section(&mut report, &overlays, class_names)?;
    if !wrong_test.is_empty() {
        writeln!(
            report,
            "## The most confidently wrong test images\n\nThe {} test images predicted wrong \
             with the highest confidence, most confident first, with the Grad-CAM of the \
             predicted class.\n\n![Most confidently wrong test images]({WRONG_TEST})\n",
            wrong_test.len()
        )?;
    }
    if !wrong_corrections.is_empty() {
        writeln!(
            report,
            "## Label corrections that were wrong\n\n{} training images whose label the run \
             changed and that end with a wrong label (against the known clean labels), latest \
             change first, with the Grad-CAM of the label they now have.\n\n\
             ![Wrong label corrections]({WRONG_CORRECTIONS})\n",
            wrong_corrections.len()
        )?;
    }
    writeln!(report, "## Files\n")?;
    for (file, what) in [
        (names::CONFIG, "the configuration of the run"),
        (names::METRICS, "the metrics of every epoch"),
        (CONFUSION, "the confusion matrix"),
        (CONFUSION_PNG, "the confusion matrix as a heat map"),
        (
            names::BACKBONE,
            "the pretrained backbone for `afcn train --weights` (`afcn pretrain` runs)",
        ),
        (
            CURVES,
            "loss parts, accuracies and correction quality per epoch",
        ),
        (names::WEIGHTS, "the final weights (torchvision key names)"),
        (CORRECTIONS, "every label change (epoch, sample, old, new)"),
        (
            SUSPECTS,
            "samples whose prediction disagrees with their given label",
        ),
    ] {
        if !run.join(file).exists() {
            continue;
        }
        writeln!(report, "- [`{file}`]({file}): {what}")?;
    }
    writeln!(report, "\n## Configuration\n\n```toml\n{config}```")?;
    run.write(names::REPORT, &report)
}

/// The report's Grad-CAM section: one row per overlay, with the picture inline.
fn write_overlay_section(
    report: &mut String,
    overlays: &[Overlay],
    class_names: &[String],
) -> std::fmt::Result {
    if overlays.is_empty() {
        return Ok(());
    }
    writeln!(
        report,
        "## Grad-CAM of test images\n\nWhere the network looks for the class it predicts \
         (closed-form Grad-CAM at the last stage, jet colour map).\n"
    )?;
    writeln!(report, "| test sample | true class | predicted | overlay |")?;
    writeln!(report, "|---:|---|---|---|")?;
    for o in overlays {
        writeln!(
            report,
            "| {} | {} | {} | ![{}]({}) |",
            o.sample, class_names[o.truth], class_names[o.predicted], o.file, o.file
        )?;
    }
    writeln!(report)
}
