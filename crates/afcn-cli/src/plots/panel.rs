//! An explanation a person can read: the face, its Grad-CAM heat map beside it and blended
//! over it, each at least [`MIN_SIDE`] pixels, under a line naming the true and the predicted
//! class.

use std::path::Path;

use afcn_data::image::{Rgb, RgbImage, imageops};
use afcn_data::transform::resize_square;
use afcn_gradcam::{heat_colour, overlay};
use plotters::{
    prelude::{BLACK, IntoFont, Text},
    style::TextStyle,
};

use super::canvas::{FONT, draw_over, encode_png, save};

/// The least side of each of the three tiles: a 64-pixel network input is shown at 224.
pub const MIN_SIDE: u32 = 224;
/// The caption strip above the tiles.
const CAPTION: u32 = 30;
/// The white space between and around the tiles.
const GAP: u32 = 8;

/// The side the tiles of an explanation of a `input_side` network input are drawn at.
pub fn panel_side(input_side: u32) -> u32 {
    input_side.max(MIN_SIDE)
}

/// The panel of `image` with `heat` (row-major values in `[0, 1]`, [`panel_side`] squared)
/// and `caption` above, as PNG bytes.
///
/// # Errors
/// `heat` does not have the tiles' size.
pub fn explanation_png(image: &RgbImage, heat: &[f32], caption: &str) -> anyhow::Result<Vec<u8>> {
    encode_png(&explanation_image(image, heat, caption)?)
}

/// The panel of [`explanation_png`] as a picture.
pub fn explanation_image(
    image: &RgbImage,
    heat: &[f32],
    caption: &str,
) -> anyhow::Result<RgbImage> {
    let side = (heat.len() as f64).sqrt() as u32;
    anyhow::ensure!(
        (side * side) as usize == heat.len() && side >= MIN_SIDE,
        "a heat map of {} values is not the square of a side of at least {MIN_SIDE}",
        heat.len()
    );
    let face = resize_square(image, side);
    let colours = RgbImage::from_fn(side, side, |x, y| {
        heat_colour(heat[(y * side + x) as usize])
    });
    let blended = overlay(&face, heat)?;
    let width = 3 * side + 4 * GAP;
    let height = CAPTION + side + GAP;
    let mut canvas = RgbImage::from_pixel(width, height, Rgb([255; 3]));
    for (i, tile) in [&face, &colours, &blended].into_iter().enumerate() {
        let x = GAP + i as u32 * (side + GAP);
        imageops::replace(&mut canvas, tile, i64::from(x), i64::from(CAPTION));
    }
    draw_over(canvas, |area| {
        let style = TextStyle::from((FONT, 18).into_font()).color(&BLACK);
        area.draw(&Text::new(caption.to_owned(), (GAP as i32, 6), style))?;
        Ok(())
    })
}

/// Panels (of one size) laid out `columns` to a row, as PNG bytes; `None` for no panel.
pub fn grid_png(panels: &[RgbImage], columns: usize) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(first) = panels.first() else {
        return Ok(None);
    };
    let (w, h) = first.dimensions();
    anyhow::ensure!(
        panels.iter().all(|p| p.dimensions() == (w, h)),
        "grid panels differ in size"
    );
    let columns = columns.clamp(1, panels.len());
    let rows = panels.len().div_ceil(columns);
    let mut grid = RgbImage::from_pixel(w * columns as u32, h * rows as u32, Rgb([255; 3]));
    for (i, panel) in panels.iter().enumerate() {
        let (x, y) = ((i % columns) as u32 * w, (i / columns) as u32 * h);
        imageops::replace(&mut grid, panel, i64::from(x), i64::from(y));
    }
    Ok(Some(encode_png(&grid)?))
}

/// Writes [`explanation_png`] to `path` atomically.
pub fn save_explanation_png(
    path: &Path,
    image: &RgbImage,
    heat: &[f32],
    caption: &str,
) -> anyhow::Result<()> {
    save(path, &explanation_png(image, heat, caption)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png: &[u8]) -> RgbImage {
        afcn_data::image::load_from_memory(png).unwrap().to_rgb8()
    }

    #[test]
    fn three_tiles_of_at_least_224_under_a_caption() {
        let image = RgbImage::from_fn(64, 64, |x, _| Rgb([(x * 4) as u8, 90, 30]));
        let side = panel_side(64);
        assert_eq!(side, 224);
        // Hot in the left half of the map, cold in the right.
        let heat: Vec<f32> = (0..side * side)
            .map(|i| if i % side < side / 2 { 1.0 } else { 0.0 })
            .collect();
        let png = explanation_png(&image, &heat, "true: Happiness   predicted: Sadness").unwrap();
        let panel = decode(&png);
        assert_eq!(panel.dimensions(), (3 * 224 + 4 * GAP, CAPTION + 224 + GAP));
        // The middle tile is the jet map: red where hot, blue where cold.
        let tile_x = GAP + side + GAP;
        let hot = panel.get_pixel(tile_x + 10, CAPTION + 100);
        let cold = panel.get_pixel(tile_x + side - 10, CAPTION + 100);
        assert!(hot[0] > 100 && hot[2] < 60, "{hot:?}");
        assert!(cold[2] > 100 && cold[0] < 60, "{cold:?}");
        // The caption is drawn: dark pixels in the strip, which is white elsewhere.
        let dark = (0..panel.width())
            .flat_map(|x| (0..CAPTION).map(move |y| (x, y)))
            .filter(|&(x, y)| panel.get_pixel(x, y)[0] < 100)
            .count();
        assert!(dark > 100, "{dark} dark caption pixels");
        assert!(explanation_png(&image, &heat[..100], "x").is_err());

        // Three panels, two to a row: a 2 x 2 grid with one blank cell.
        let one = explanation_image(&image, &heat, "a").unwrap();
        let (w, h) = one.dimensions();
        let grid = grid_png(&[one.clone(), one.clone(), one], 2)
            .unwrap()
            .unwrap();
        let grid = decode(&grid);
        assert_eq!(grid.dimensions(), (2 * w, 2 * h));
        assert_eq!(*grid.get_pixel(w + w / 2, h + h / 2), Rgb([255; 3]));
        assert!(grid_png(&[], 2).unwrap().is_none());
    }
}
