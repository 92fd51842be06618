//! The training curves of a run: the loss and its parts, the accuracies, and the quality of
//! the label corrections, one panel each, against the epoch.

use std::path::Path;

use plotters::prelude::*;

use super::canvas::{Area, FONT, render_png, save};
use afcn_train::metrics::EpochMetrics;

/// Size of the picture: three panels side by side.
const SIZE: (u32, u32) = (1500, 450);

/// The colours of a panel's curves, in order (matplotlib's first four "tab10" colours).
pub(super) const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

/// At most this many epoch labels on the x axis.
const MAX_X_LABELS: usize = 12;

/// One curve of a panel: its legend and its points (epoch, value).
struct Curve {
    label: &'static str,
    points: Vec<(f64, f64)>,
}

/// A curve of the values `value` gives, skipping the epochs where it gives none.
fn curve(
    label: &'static str,
    history: &[EpochMetrics],
    value: impl Fn(&EpochMetrics) -> Option<f64>,
) -> Curve {
    Curve {
        label,
        points: history
            .iter()
            .filter_map(|m| value(m).map(|v| (m.epoch as f64, v)))
            .collect(),
    }
}

/// The three panels of `history`: (title, curves, whether the y axis is `[0, 1]`).
fn panels(history: &[EpochMetrics]) -> [(&'static str, Vec<Curve>, bool); 3] {
    [
        (
            "Loss",
            vec![
                curve("total", history, |m| Some(m.loss)),
                curve("cross-entropy", history, |m| Some(m.cross_entropy)),
                curve("auxiliary", history, |m| Some(m.auxiliary)),
            ],
            false,
        ),
        (
            "Accuracy",
            vec![
                curve("train (labels used)", history, |m| Some(m.train_accuracy)),
                curve("train (clean labels)", history, |m| {
                    Some(m.train_clean_accuracy)
                }),
                curve("test", history, |m| Some(m.test_accuracy)),
                curve("test mean class", history, |m| {
                    Some(m.test_mean_class_accuracy)
                }),
            ],
            true,
        ),
        (
            "Label corrections",
            vec![
                curve("precision", history, |m| m.correction_precision),
                curve("recall", history, |m| m.correction_recall),
                curve("label noise left", history, |m| Some(m.label_noise)),
            ],
            true,
        ),
    ]
}

/// Draws one panel.
fn draw_panel(
    area: &Area<'_>,
    title: &str,
    curves: &[Curve],
    unit: bool,
    last_epoch: f64,
) -> anyhow::Result<()> {
    let top = if unit {
        1.0
    } else {
        let max = curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max);
        if max > 0.0 { 1.05 * max } else { 1.0 }
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..last_epoch.max(1.0), 0.0..top)?;
    // Epochs are whole numbers: label only those.
    let epoch_label = |x: &f64| {
        if (x - x.round()).abs() < 1e-6 {
            format!("{x:.0}")
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels((last_epoch as usize + 1).clamp(2, MAX_X_LABELS))
        .light_line_style(WHITE)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .x_label_formatter(&epoch_label)
        .draw()?;
    for (c, colour) in curves.iter().zip(COLOURS) {
        chart
            .draw_series(LineSeries::new(
                c.points.iter().copied(),
                colour.stroke_width(2),
            ))?
            .label(c.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart.draw_series(c.points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The curves of `history` as PNG bytes: loss parts, accuracies (train against the labels
/// used and against the clean labels, test, test mean class) and the correction precision,
/// recall and remaining label noise, one panel each, against the epoch.
pub fn curves_png(history: &[EpochMetrics]) -> anyhow::Result<Vec<u8>> {
    let last_epoch = history.iter().map(|m| m.epoch).max().unwrap_or(0) as f64;
    render_png(SIZE, |area| {
        for (panel, (title, curves, unit)) in area.split_evenly((1, 3)).iter().zip(panels(history))
        {
            draw_panel(panel, title, &curves, unit, last_epoch)?;
        }
        Ok(())
    })
}

/// Writes [`curves_png`] to `path`.
pub fn save_curves_png(path: &Path, history: &[EpochMetrics]) -> anyhow::Result<()> {
    save(path, &curves_png(history)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use afcn_data::image::load_from_memory;

    fn epoch(epoch: usize, precision: Option<f64>) -> EpochMetrics {
        serde_json::from_value(serde_json::json!({
            "epoch": epoch,
            "lr": 1e-3,
            "loss": 2.0 - epoch as f64 * 0.5,
            "cross_entropy": 1.5,
            "auxiliary": 0.5,
            "train_accuracy": 0.5,
            "train_clean_accuracy": 0.4,
            "test_accuracy": 0.3,
            "test_mean_class_accuracy": 0.3,
            "corrections": 0,
            "correction_precision": precision,
            "correction_recall": null,
            "label_noise": 0.3,
            "seconds": 1.0,
        }))
        .unwrap()
    }

    #[test]
    fn epochs_without_a_value_have_no_point() {
        let history = [epoch(0, None), epoch(1, Some(0.8)), epoch(2, Some(0.9))];
        let [_, _, (_, corrections, unit)] = panels(&history);
        assert!(unit);
        assert_eq!(corrections[0].points, vec![(1.0, 0.8), (2.0, 0.9)]);
        assert!(corrections[1].points.is_empty(), "recall is never known");
        assert_eq!(corrections[2].points.len(), 3);
    }

    #[test]
    fn the_picture_is_a_png_with_every_panels_first_colour() {
        let history = [epoch(0, None), epoch(1, Some(0.8))];
        let png = curves_png(&history).unwrap();
        let image = load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), SIZE);
        // Each third of the picture holds a panel, and each panel draws its first curve.
        let third = SIZE.0 / 3;
        let [r, g, b] = [COLOURS[0].0, COLOURS[0].1, COLOURS[0].2];
        for panel in 0..3 {
            let found = (panel * third..(panel + 1) * third)
                .flat_map(|x| (0..SIZE.1).map(move |y| (x, y)))
                .any(|(x, y)| image.get_pixel(x, y).0 == [r, g, b]);
            assert!(found, "panel {panel} has no curve");
        }
    }

    #[test]
    fn an_empty_history_still_draws_the_axes() {
        let png = curves_png(&[]).unwrap();
        assert_eq!(load_from_memory(&png).unwrap().width(), SIZE.0);
    }
}
