//! Everything that changes the picture but not the expression: pose jitter, background
//! clutter, occluders, lighting, blur and pixel noise.

use image::{Rgb, RgbImage};
use imageproc::{
    drawing::{draw_antialiased_line_segment_mut, draw_filled_ellipse_mut, draw_filled_rect_mut},
    filter::gaussian_blur_f32,
    pixelops::interpolate,
    rect::Rect,
};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{
    color::{any, mix, shade},
    config::SynthFerConfig,
    geometry::{Pose, Vec2, ellipse, fill, stroke, superellipse},
};

/// A background shape, in image fractions (0 to 1 across the image).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clutter {
    /// An axis-aligned rectangle from `from` to `to`.
    Rect {
        /// One corner.
        from: Vec2,
        /// The opposite corner.
        to: Vec2,
        /// Fill colour.
        color: Rgb<u8>,
    },
    /// An axis-aligned ellipse.
    Ellipse {
        /// Centre.
        centre: Vec2,
        /// Radii.
        radii: Vec2,
        /// Fill colour.
        color: Rgb<u8>,
    },
    /// An anti-aliased line.
    Line {
        /// Start.
        from: Vec2,
        /// End.
        to: Vec2,
        /// Colour.
        color: Rgb<u8>,
    },
}

/// What covers part of the face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OccluderKind {
    /// A skin-coloured palm with fingers.
    Hand,
    /// A plain rectangle (a phone, a sheet of paper, a microphone).
    Patch,
    /// A face mask over the nose and mouth.
    Mask,
    /// Dark glasses over both eyes.
    Sunglasses,
}

/// An occluder placed in face space (it moves with the head).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Occluder {
    /// What it is.
    pub kind: OccluderKind,
    /// Its centre, in face units (hands and patches only; masks and sunglasses sit where
    /// they are worn).
    pub centre: Vec2,
    /// Its half-size, in face units.
    pub size: f32,
    /// Its rotation, in radians.
    pub angle: f32,
    /// Its colour.
    pub color: Rgb<u8>,
}

/// The nuisances of one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Nuisance {
    /// Shift of the face centre, as a fraction of the image size.
    pub shift: Vec2,
    /// Relative face size (1: average).
    pub scale: f32,
    /// In-plane rotation, in radians (clockwise on the image).
    pub rotation: f32,
    /// Background colour.
    pub background: Rgb<u8>,
    /// Background shapes, drawn behind the person.
    pub clutter: Vec<Clutter>,
    /// Direction the light comes from (unit vector in the image plane).
    pub light_direction: Vec2,
    /// Strength of the illumination gradient: brightness varies by `1 ± strength` across
    /// the image.
    pub light_strength: f32,
    /// Overall brightness factor.
    pub brightness: f32,
    /// The occluder, if any.
    pub occluder: Option<Occluder>,
    /// Standard deviation of the Gaussian blur in output pixels (0: none).
    pub blur_sigma: f32,
    /// Standard deviation of the additive pixel noise, in 8-bit levels.
    pub noise_std: f32,
    /// Seed of the pixel noise.
    pub noise_seed: u64,
}

impl Nuisance {
    /// Draws the nuisances of one sample within the ranges of `config`; `skin` colours hands.
    pub fn sample(rng: &mut impl Rng, config: &SynthFerConfig, skin: Rgb<u8>) -> Nuisance {
        let mut unit = |max: f32| max * rng.random_range(-1.0f32..=1.0);
        let shift = Vec2::new(unit(config.max_shift), unit(config.max_shift));
        let scale = 1.0 + unit(config.max_scale_jitter);
        let rotation = unit(config.max_rotation_deg).to_radians();
        let clutter = (0..rng.random_range(0..=config.max_clutter))
            .map(|_| Clutter::sample(rng))
            .collect();
        let light_angle = rng.random_range(0.0..std::f32::consts::TAU);
        let occluder = rng
            .random_bool(f64::from(config.occlusion_prob))
            .then(|| Occluder::sample(rng, skin));
        let blur_sigma = if rng.random_bool(f64::from(config.blur_prob)) {
            let per_64 = config.image_size as f32 / 64.0;
            let max = config.max_blur_sigma;
            rng.random_range(max.min(0.3)..=max) * per_64
        } else {
            0.0
        };
        Nuisance {
            shift,
            scale,
            rotation,
            background: any(rng),
            clutter,
            light_direction: Vec2::new(light_angle.cos(), light_angle.sin()),
            light_strength: rng.random_range(0.0..=config.max_illumination),
            brightness: rng.random_range(0.85..1.15),
            occluder,
            blur_sigma,
            noise_std: rng.random_range(0.0..=config.max_noise_std),
            noise_seed: rng.next_u64(),
        }
    }

    /// Paints the background colour and the clutter over the whole canvas.
    pub fn draw_background(&self, canvas: &mut RgbImage) {
        let side = canvas.width() as f32;
        for pixel in canvas.pixels_mut() {
            *pixel = self.background;
        }
        let px = |p: Vec2| (p.x * side, p.y * side);
        for shape in &self.clutter {
            match *shape {
                Clutter::Rect { from, to, color } => {
                    let (x0, y0) = px(from);
                    let (x1, y1) = px(to);
                    let rect = Rect::at(x0.min(x1) as i32, y0.min(y1) as i32).of_size(
                        (x1 - x0).abs().max(1.0) as u32,
                        (y1 - y0).abs().max(1.0) as u32,
                    );
                    draw_filled_rect_mut(canvas, rect, color);
                }
                Clutter::Ellipse {
                    centre,
                    radii,
                    color,
                } => {
                    let (cx, cy) = px(centre);
                    let (rx, ry) = px(radii);
                    draw_filled_ellipse_mut(
                        canvas,
                        (cx as i32, cy as i32),
                        rx.max(1.0) as i32,
                        ry.max(1.0) as i32,
                        color,
                    );
                }
                Clutter::Line { from, to, color } => {
                    let (x0, y0) = px(from);
                    let (x1, y1) = px(to);
                    draw_antialiased_line_segment_mut(
                        canvas,
                        (x0 as i32, y0 as i32),
                        (x1 as i32, y1 as i32),
                        color,
                        interpolate,
                    );
                }
            }
        }
    }

    /// Downsamples the supersampled `canvas` by `factor` (box filter) under the lighting, then
    /// blurs and adds pixel noise.
    pub fn finish(&self, canvas: &RgbImage, factor: u32) -> RgbImage {
        let size = canvas.width() / factor;
        let area = (factor * factor) as f32;
        let half = size as f32 / 2.0;
        let (dx, dy) = (
            self.light_direction.x * self.light_strength / half,
            self.light_direction.y * self.light_strength / half,
        );
        let mut out = RgbImage::new(size, size);
        for (x, y, pixel) in out.enumerate_pixels_mut() {
            let gain = self.brightness
                * (1.0 + dx * (x as f32 + 0.5 - half) + dy * (y as f32 + 0.5 - half)).max(0.2)
                / area;
            let mut sum = [0u32; 3];
            for sy in y * factor..(y + 1) * factor {
                for sx in x * factor..(x + 1) * factor {
                    let p = canvas.get_pixel(sx, sy).0;
                    for k in 0..3 {
                        sum[k] += u32::from(p[k]);
                    }
                }
            }
            *pixel = Rgb(sum.map(|s| (s as f32 * gain).min(255.0) as u8));
        }
        if self.blur_sigma > 0.0 {
            out = gaussian_blur_f32(&out, self.blur_sigma);
        }
        if self.noise_std > 0.0 {
            add_noise(&mut out, self.noise_std, self.noise_seed);
        }
        out
    }
}

/// Adds zero-mean noise of standard deviation `std` to every channel: the sum of two uniform
/// bytes (a triangular distribution, close enough to Gaussian for pixel noise and four times
/// cheaper than a Box-Muller draw).
fn add_noise(image: &mut RgbImage, std: f32, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // The difference of two uniform bytes has standard deviation 255 / sqrt(6).
    let gain = std * 6f32.sqrt() / 255.0;
    let mut bytes = [0u8; 64];
    for chunk in image.as_mut().chunks_mut(32) {
        rng.fill_bytes(&mut bytes);
        for (k, v) in chunk.iter_mut().enumerate() {
            let noise = (f32::from(bytes[2 * k]) - f32::from(bytes[2 * k + 1])) * gain;
            *v = (f32::from(*v) + noise).round().clamp(0.0, 255.0) as u8;
        }
    }
}

impl Clutter {
    fn sample(rng: &mut impl Rng) -> Clutter {
        let mut point = || Vec2::new(rng.random_range(-0.1..1.1), rng.random_range(-0.1..1.1));
        let (a, b) = (point(), point());
        let color = any(rng);
        match rng.random_range(0..3u8) {
            0 => Clutter::Rect {
                from: a,
                to: a.lerp(b, 0.5),
                color,
            },
            1 => Clutter::Ellipse {
                centre: a,
                radii: Vec2::new(rng.random_range(0.03..0.25), rng.random_range(0.03..0.25)),
                color,
            },
            _ => Clutter::Line {
                from: a,
                to: b,
                color,
            },
        }
    }
}

impl Occluder {
    fn sample(rng: &mut impl Rng, skin: Rgb<u8>) -> Occluder {
        let kind = match rng.random_range(0..8u8) {
            0..=2 => OccluderKind::Hand,
            3..=4 => OccluderKind::Patch,
            5..=6 => OccluderKind::Mask,
            _ => OccluderKind::Sunglasses,
        };
        // Hands and patches cover one region: an eye, a cheek, the mouth or the forehead.
        let centre = match rng.random_range(0..5u8) {
            0 => Vec2::new(-0.4, -0.1),
            1 => Vec2::new(0.4, -0.1),
            2 => Vec2::new(0.0, 0.65),
            3 => Vec2::new(if rng.random_bool(0.5) { -0.7 } else { 0.7 }, 0.35),
            _ => Vec2::new(0.0, -0.6),
        };
        let jitter = Vec2::new(rng.random_range(-0.12..0.12), rng.random_range(-0.12..0.12));
        let color = match kind {
            OccluderKind::Hand => mix(skin, Rgb([255, 255, 255]), rng.random_range(0.0..0.12)),
            OccluderKind::Sunglasses => Rgb([20, 20, 24]),
            OccluderKind::Patch | OccluderKind::Mask => any(rng),
        };
        Occluder {
            kind,
            centre: Vec2::new(centre.x + jitter.x, centre.y + jitter.y),
            size: rng.random_range(0.28..0.45),
            angle: rng.random_range(-0.6..0.6),
            color,
        }
    }

    /// Draws the occluder over a face placed by `pose`; `eye_y`, `eye_spacing` and `mouth_y`
    /// place masks and sunglasses.
    pub fn draw(
        &self,
        canvas: &mut RgbImage,
        pose: &Pose,
        eye_y: f32,
        eye_spacing: f32,
        mouth_y: f32,
    ) {
        let (sin, cos) = self.angle.sin_cos();
        let local = |p: Vec2| {
            Vec2::new(
                self.centre.x + cos * p.x - sin * p.y,
                self.centre.y + sin * p.x + cos * p.y,
            )
        };
        let s = self.size;
        match self.kind {
            OccluderKind::Hand => {
                let palm: Vec<Vec2> = ellipse(Vec2::new(0.0, 0.25 * s), 0.8 * s, s, 24)
                    .into_iter()
                    .map(local)
                    .collect();
                fill(canvas, pose, &palm, self.color);
                for k in 0..4 {
                    let x = (k as f32 - 1.5) * 0.42 * s;
                    let finger = [Vec2::new(x, 0.0), Vec2::new(x * 1.15, -1.35 * s)].map(local);
                    fill(canvas, pose, &stroke(&finger, 0.36 * s), self.color);
                    let crease = [
                        Vec2::new(x + 0.2 * s, -0.2 * s),
                        Vec2::new(x * 1.15 + 0.2 * s, -1.3 * s),
                    ]
                    .map(local);
                    fill(canvas, pose, &stroke(&crease, 0.04), shade(self.color, 0.8));
                }
            }
            OccluderKind::Patch => {
                let rect: Vec<Vec2> = superellipse(Vec2::new(0.0, 0.0), 1.2 * s, 0.8 * s, 8.0, 16)
                    .into_iter()
                    .map(local)
                    .collect();
                fill(canvas, pose, &rect, self.color);
            }
            OccluderKind::Mask => {
                let top = (eye_y + mouth_y) / 2.0 + 0.05;
                let mask = [
                    Vec2::new(-0.9, top + 0.1),
                    Vec2::new(0.0, top - 0.05),
                    Vec2::new(0.9, top + 0.1),
                    Vec2::new(0.75, mouth_y + 0.3),
                    Vec2::new(0.0, mouth_y + 0.45),
                    Vec2::new(-0.75, mouth_y + 0.3),
                ];
                fill(canvas, pose, &mask, self.color);
            }
            OccluderKind::Sunglasses => {
                for side in [-1.0, 1.0] {
                    let lens =
                        superellipse(Vec2::new(side * eye_spacing, eye_y), 0.25, 0.17, 3.0, 20);
                    fill(canvas, pose, &lens, self.color);
                }
                let bridge = [
                    Vec2::new(-eye_spacing + 0.2, eye_y - 0.05),
                    Vec2::new(eye_spacing - 0.2, eye_y - 0.05),
                ];
                fill(canvas, pose, &stroke(&bridge, 0.05), self.color);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_has_the_asked_standard_deviation() {
        let mut image = RgbImage::from_pixel(64, 64, Rgb([128, 128, 128]));
        add_noise(&mut image, 10.0, 7);
        let values: Vec<f32> = image
            .as_raw()
            .iter()
            .map(|&v| f32::from(v) - 128.0)
            .collect();
        let n = values.len() as f32;
        let mean = values.iter().sum::<f32>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
        assert!(mean.abs() < 0.5, "mean {mean}");
        assert!((std - 10.0).abs() < 0.6, "std {std}");
    }

    #[test]
    fn finish_averages_blocks_under_flat_light() {
        let mut canvas = RgbImage::from_pixel(4, 4, Rgb([0, 0, 0]));
        canvas.put_pixel(0, 0, Rgb([200, 100, 40]));
        let nuisance = Nuisance {
            shift: Vec2::new(0.0, 0.0),
            scale: 1.0,
            rotation: 0.0,
            background: Rgb([0, 0, 0]),
            clutter: Vec::new(),
            light_direction: Vec2::new(1.0, 0.0),
            light_strength: 0.0,
            brightness: 1.0,
            occluder: None,
            blur_sigma: 0.0,
            noise_std: 0.0,
            noise_seed: 0,
        };
        let out = nuisance.finish(&canvas, 2);
        assert_eq!(out.dimensions(), (2, 2));
        assert_eq!(out.get_pixel(0, 0), &Rgb([50, 25, 10]));
        assert_eq!(out.get_pixel(1, 1), &Rgb([0, 0, 0]));
    }
}
