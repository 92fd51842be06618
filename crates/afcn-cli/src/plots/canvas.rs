//! A white RGB canvas that plotters draws on, encoded as PNG, and the embedded font.

use std::{io::Cursor, path::Path, sync::OnceLock};

use afcn_data::image::{ImageFormat, Rgb, RgbImage};
use anyhow::{Context, anyhow};
use plotters::{
    coord::Shift,
    prelude::{BitMapBackend, DrawingArea, IntoDrawingArea},
    style::FontStyle,
};

use afcn_train::run_dir::write_atomic;

/// The font family every picture uses.
pub(super) const FONT: &str = "sans-serif";

/// The drawing area of a canvas.
pub(super) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Registers DejaVu Sans as [`FONT`] (once per process).
fn register_font() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    ok.then_some(())
        .ok_or_else(|| anyhow!("the embedded DejaVu Sans font cannot be parsed"))
}

/// Draws on a white `width` x `height` canvas and returns the picture as PNG bytes.
pub(super) fn render_png(
    (width, height): (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<u8>> {
    encode_png(&draw_over(
        RgbImage::from_pixel(width, height, Rgb([255; 3])),
        draw,
    )?)
}

/// Draws over `background` and returns the picture.
pub(super) fn draw_over(
    background: RgbImage,
    draw: impl FnOnce(&Area<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<RgbImage> {
    register_font()?;
    let (width, height) = background.dimensions();
    let mut pixels = background.into_raw();
    {
        let area = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        draw(&area)?;
        area.present()?;
    }
    RgbImage::from_raw(width, height, pixels).context("the canvas buffer has the picture's size")
}

/// A picture as PNG bytes.
pub(crate) fn encode_png(image: &RgbImage) -> anyhow::Result<Vec<u8>> {
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .context("encoding a PNG")?;
    Ok(png)
}

/// Writes PNG bytes to `path` atomically.
pub(super) fn save(path: &Path, png: &[u8]) -> anyhow::Result<()> {
    write_atomic(path, png)
}
