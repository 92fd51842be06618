//! The confusion matrix as a heat map: one cell per (true, predicted) pair, shaded by the
//! fraction of the true class's samples it holds, with the count written in it.

use std::path::Path;

use plotters::{
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};

use super::canvas::{Area, FONT, render_png, save};
use afcn_train::metrics::ConfusionMatrix;

/// Side of a cell, in pixels.
const CELL: i32 = 80;
/// Room left of the grid for the true class names.
const LEFT: i32 = 130;
/// Room above the grid for the title.
const TOP: i32 = 50;
/// Room below the grid for the predicted class names and the axis name.
const BOTTOM: i32 = 70;
/// Room right of the grid.
const RIGHT: i32 = 20;

/// The shade of a row fraction in `[0, 1]`: from near white to dark blue (the "Blues" map).
fn shade(fraction: f64) -> RGBColor {
    let f = fraction.clamp(0.0, 1.0);
    let lerp = |a: u8, b: u8| (f64::from(a) + f * (f64::from(b) - f64::from(a))).round() as u8;
    RGBColor(lerp(247, 8), lerp(251, 48), lerp(255, 107))
}

/// The top-left pixel of cell (`row`, `column`).
fn cell_origin(row: usize, column: usize) -> (i32, i32) {
    (LEFT + column as i32 * CELL, TOP + row as i32 * CELL)
}

fn draw(
    area: &Area<'_>,
    confusion: &ConfusionMatrix,
    class_names: &[String],
) -> anyhow::Result<()> {
    let n = class_names.len() as i32;
    let centred =
        |size| TextStyle::from((FONT, size).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
    area.draw_text(
        "Confusion matrix (rows: true class, shade: fraction of the row)",
        &centred(18),
        (LEFT + n * CELL / 2, TOP / 2),
    )?;
    for (row, counts) in confusion.counts.iter().enumerate() {
        let total: u64 = counts.iter().sum();
        for (column, &count) in counts.iter().enumerate() {
            let fraction = if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            };
            let (x, y) = cell_origin(row, column);
            area.draw(&Rectangle::new(
                [(x, y), (x + CELL, y + CELL)],
                shade(fraction).filled(),
            ))?;
            area.draw(&Rectangle::new(
                [(x, y), (x + CELL, y + CELL)],
                WHITE.stroke_width(1),
            ))?;
            let ink = if fraction > 0.5 { WHITE } else { BLACK };
            area.draw_text(
                &count.to_string(),
                &centred(18).color(&ink),
                (x + CELL / 2, y + CELL / 2),
            )?;
        }
    }
    let right_aligned =
        TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, name) in class_names.iter().enumerate() {
        let (x, y) = cell_origin(i, i);
        area.draw_text(name, &right_aligned, (LEFT - 8, y + CELL / 2))?;
        area.draw_text(name, &centred(14), (x + CELL / 2, TOP + n * CELL + 14))?;
    }
    area.draw_text(
        "predicted class",
        &centred(15),
        (LEFT + n * CELL / 2, TOP + n * CELL + 45),
    )?;
    Ok(())
}

/// The confusion matrix as a PNG heat map: rows are true classes, columns predicted ones,
/// each cell shaded by its share of the row and labelled with its count.
pub fn confusion_png(
    confusion: &ConfusionMatrix,
    class_names: &[String],
) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(
        confusion.counts.len() == class_names.len(),
        "a {}-class confusion matrix with {} class names",
        confusion.counts.len(),
        class_names.len()
    );
    let n = class_names.len() as i32;
    let size = (
        (LEFT + n * CELL + RIGHT) as u32,
        (TOP + n * CELL + BOTTOM) as u32,
    );
    render_png(size, |area| draw(area, confusion, class_names))
}

/// Writes [`confusion_png`] to `path`.
pub fn save_confusion_png(
    path: &Path,
    confusion: &ConfusionMatrix,
    class_names: &[String],
) -> anyhow::Result<()> {
    save(path, &confusion_png(confusion, class_names)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use afcn_data::image::load_from_memory;

    #[test]
    fn cells_are_shaded_by_their_share_of_the_row() {
        let mut m = ConfusionMatrix::new(3);
        for (t, p, n) in [(0, 0, 4), (1, 1, 1), (1, 2, 3), (2, 0, 2), (2, 2, 2)] {
            for _ in 0..n {
                m.add(t, p);
            }
        }
        let names: Vec<String> = ["calm", "angry", "happy"].map(String::from).to_vec();
        let image = load_from_memory(&confusion_png(&m, &names).unwrap())
            .unwrap()
            .to_rgb8();
        assert_eq!(
            image.dimensions(),
            (
                (LEFT + 3 * CELL + RIGHT) as u32,
                (TOP + 3 * CELL + BOTTOM) as u32
            )
        );
        // A point inside each cell, away from its border and its text.
        let colour = |row, column| {
            let (x, y) = cell_origin(row, column);
            let c = image.get_pixel((x + 6) as u32, (y + 6) as u32).0;
            RGBColor(c[0], c[1], c[2])
        };
        assert_eq!(colour(0, 0), shade(1.0));
        assert_eq!(colour(0, 1), shade(0.0));
        assert_eq!(colour(1, 1), shade(0.25));
        assert_eq!(colour(1, 2), shade(0.75));
        assert_eq!(colour(2, 0), shade(0.5));
    }

    #[test]
    fn the_shade_runs_from_near_white_to_dark_blue() {
        assert_eq!(shade(0.0), RGBColor(247, 251, 255));
        assert_eq!(shade(1.0), RGBColor(8, 48, 107));
        assert_eq!(shade(2.0), shade(1.0));
    }

    #[test]
    fn class_names_must_match_the_matrix() {
        let err = confusion_png(&ConfusionMatrix::new(2), &["a".into()]).unwrap_err();
        assert!(err.to_string().contains("2-class"), "{err}");
    }
}
