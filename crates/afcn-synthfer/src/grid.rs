//! A contact sheet of SynthFER: every expression at several intensities, for the documentation.

use image::{Rgb, RgbImage, imageops};

use afcn_data::Split;

use super::{config::SynthFerConfig, dataset::SynthFer, expression::Expression, render::render};

/// A grid with one row per expression (RAF-DB order) and one column per pair of person and
/// intensity: for each of `people` persons (train samples `0..people` of `config`, keeping
/// their identity and nuisances), one column per entry of `intensities`. Cells are
/// `config.image_size` pixels with a 2-pixel white gutter.
pub fn sample_grid(
    config: &SynthFerConfig,
    people: usize,
    intensities: &[f32],
) -> Result<RgbImage, super::SynthFerError> {
    let data = SynthFer::new(config.clone(), Split::Train)?;
    let cell = config.image_size + 2;
    let columns = (people * intensities.len()) as u32;
    let mut sheet = RgbImage::from_pixel(
        columns * cell + 2,
        Expression::COUNT as u32 * cell + 2,
        Rgb([255, 255, 255]),
    );
    for person in 0..people {
        let spec = data.spec(person);
        for (k, &intensity) in intensities.iter().enumerate() {
            let column = (person * intensities.len() + k) as u32;
            for expression in Expression::ALL {
                let face = spec.clone().with_expression(expression, intensity);
                let image = render(&face, config.image_size, config.supersample);
                let (x, y) = (2 + column * cell, 2 + expression.index() as u32 * cell);
                imageops::replace(&mut sheet, &image, i64::from(x), i64::from(y));
            }
        }
    }
    Ok(sheet)
}
