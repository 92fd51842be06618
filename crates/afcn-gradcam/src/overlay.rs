//! A heat map laid over the picture it explains, in the jet colour map, written as PNG.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::CamError;

/// How much of the picture shows through the colours, as in pytorch-grad-cam's
/// `show_cam_on_image`.
pub const IMAGE_WEIGHT: f32 = 0.5;

/// The colour of a heat value in `[0, 1]` (clamped) in the jet colour map, the one
/// pytorch-grad-cam overlays (OpenCV's `COLORMAP_JET`): dark blue for 0, through cyan, green
/// and yellow, to dark red for 1.
///
/// Jet is piecewise linear: each channel is a trapezoid of height 1 and slope 4 along the
/// value axis, `clamp(1.5 - |4 v - p|, 0, 1)` with the peak `p` at 3 for red, 2 for green and
/// 1 for blue. (colorous, the usual colour-map crate, has Turbo but not jet, and its Turbo
/// starts near black rather than blue.)
pub fn heat_colour(value: f32) -> Rgb<u8> {
    let v = 4.0 * value.clamp(0.0, 1.0);
    let channel = |peak: f32| ((1.5 - (v - peak).abs()).clamp(0.0, 1.0) * 255.0).round() as u8;
    Rgb([channel(3.0), channel(2.0), channel(1.0)])
}

/// Lays `heat` (values in `[0, 1]`, row-major, the picture's size) over `image`:
/// `IMAGE_WEIGHT * image + (1 - IMAGE_WEIGHT) * colour(heat)` at every pixel.
///
/// # Shapes
/// - `heat`: `image.height() x image.width()` values, row by row.
pub fn overlay(image: &RgbImage, heat: &[f32]) -> Result<RgbImage, CamError> {
    let (width, height) = image.dimensions();
    if heat.len() != width as usize * height as usize {
        return Err(CamError::SizeMismatch {
            map_width: width as usize,
            map_height: heat.len() / (width as usize).max(1),
            width,
            height,
        });
    }
    Ok(RgbImage::from_fn(width, height, |x, y| {
        let pixel = image.get_pixel(x, y);
        let colour = heat_colour(heat[(y * width + x) as usize]);
        Rgb(std::array::from_fn(|c| {
            let mixed =
                IMAGE_WEIGHT * f32::from(pixel[c]) + (1.0 - IMAGE_WEIGHT) * f32::from(colour[c]);
            mixed.round().clamp(0.0, 255.0) as u8
        }))
    }))
}

/// [`overlay`], written to `path` as PNG.
pub fn save_overlay_png(
    path: impl AsRef<Path>,
    image: &RgbImage,
    heat: &[f32],
) -> Result<(), CamError> {
    let path = path.as_ref();
    overlay(image, heat)?
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|source| CamError::Image {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jet_runs_from_dark_blue_through_green_to_dark_red() {
        assert_eq!(heat_colour(0.0), Rgb([0, 0, 128]));
        assert_eq!(heat_colour(0.25), Rgb([0, 128, 255]));
        assert_eq!(heat_colour(0.5), Rgb([128, 255, 128]));
        assert_eq!(heat_colour(0.75), Rgb([255, 128, 0]));
        assert_eq!(heat_colour(1.0), Rgb([128, 0, 0]));
        assert_eq!(heat_colour(-1.0), heat_colour(0.0), "values are clamped");
        assert_eq!(heat_colour(2.0), heat_colour(1.0), "values are clamped");
    }

    #[test]
    fn overlay_mixes_picture_and_colour_half_and_half() {
        let image = RgbImage::from_pixel(2, 1, Rgb([200, 100, 0]));
        let out = overlay(&image, &[0.0, 1.0]).unwrap();
        for (x, value) in [(0, 0.0), (1, 1.0)] {
            let colour = heat_colour(value);
            for c in 0..3 {
                let expected = (0.5 * f32::from(image.get_pixel(x, 0)[c])
                    + 0.5 * f32::from(colour[c]))
                .round() as u8;
                assert_eq!(out.get_pixel(x, 0)[c], expected);
            }
        }
    }

    #[test]
    fn a_map_of_the_wrong_size_is_an_error() {
        let image = RgbImage::new(4, 4);
        assert!(matches!(
            overlay(&image, &[0.5; 8]),
            Err(CamError::SizeMismatch { map_height: 2, .. })
        ));
    }
}
