//! The training transform T of the specification: resize, Gaussian pixel noise, ImageNet
//! normalisation and random erasing, seeded per (run seed, sample index, epoch); and the
//! deterministic evaluation transform (resize and normalise) as a reusable tensor function.

use burn::tensor::{Tensor, TensorData, backend::Backend};
use image::RgbImage;
use image::imageops::{self, FilterType};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use afcn_certainty::InvalidField;

/// ImageNet's per-channel mean (RGB, pixel values in [0, 1]).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation (RGB, pixel values in [0, 1]).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The stochastic training transform [ref: EAC].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// The side S of the square network input, in pixels. Default: 224.
    pub image_size: u32,
    /// The probability of mirroring the image before the views are made. Default: 0.5.
    pub flip_p: f64,
    /// The probability of random erasing, per view. Default: 0.5.
    pub erasing_p: f64,
    /// The erased area as a fraction of the image, `[min, max]`. Default: `[0.02, 0.25]`.
    pub erasing_scale: [f64; 2],
    /// The aspect ratio (height / width) of the erased rectangle, `[min, max]`, drawn
    /// log-uniformly. Default: `[0.3, 3.3]`.
    pub erasing_ratio: [f64; 2],
    /// The probability of Gaussian pixel noise, per view that takes it. Default: 0.5.
    pub noise_p: f64,
    /// The standard deviation of the pixel noise on the 0-255 scale. Default: the square root of
    /// 30 (EAC's variance of 30), about 5.48.
    pub noise_std: f32,
    /// Whether the second (mirrored) view also takes pixel noise; the specification puts it on
    /// view 1 only. Default: false.
    pub noise_on_second_view: bool,
    /// The per-channel mean subtracted after scaling to [0, 1]. Default: ImageNet's.
    pub mean: [f32; 3],
    /// The per-channel standard deviation divided by. Default: ImageNet's.
    pub std: [f32; 3],
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            image_size: 224,
            flip_p: 0.5,
            erasing_p: 0.5,
            erasing_scale: [0.02, 0.25],
            erasing_ratio: [0.3, 3.3],
            noise_p: 0.5,
            noise_std: 30f32.sqrt(),
            noise_on_second_view: false,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        }
    }
}

impl AugmentConfig {
    /// Checks the probabilities, ranges and normalisation: values the transform would
    /// otherwise panic on or turn into NaN pixels.
    pub fn validate(&self) -> Result<(), InvalidField> {
        for (field, p) in [
            ("flip_p", self.flip_p),
            ("erasing_p", self.erasing_p),
            ("noise_p", self.noise_p),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(InvalidField::new(field, p, "a probability in [0, 1]"));
            }
        }
        let [lo, hi] = self.erasing_scale;
        if !(lo > 0.0 && lo <= hi && hi <= 1.0) {
            return Err(InvalidField::new(
                "erasing_scale",
                self.erasing_scale,
                "[min, max] with 0 < min <= max <= 1",
            ));
        }
        let [lo, hi] = self.erasing_ratio;
        if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
            return Err(InvalidField::new(
                "erasing_ratio",
                self.erasing_ratio,
                "[min, max] with 0 < min <= max, finite",
            ));
        }
        if !(self.noise_std >= 0.0 && self.noise_std.is_finite()) {
            return Err(InvalidField::new(
                "noise_std",
                self.noise_std,
                "a finite number >= 0",
            ));
        }
        if !self.mean.iter().all(|m| m.is_finite()) {
            return Err(InvalidField::new("mean", self.mean, "finite numbers"));
        }
        if !self.std.iter().all(|s| *s > 0.0 && s.is_finite()) {
            return Err(InvalidField::new("std", self.std, "finite numbers > 0"));
        }
        if !(32..=4096).contains(&self.image_size) {
            return Err(InvalidField::new(
                "image_size",
                self.image_size,
                "in 32..=4096 (the ResNet stem and four stages halve it five times)",
            ));
        }
        Ok(())
    }
}

/// The random number generator of one sample in one epoch of one run: the same three numbers
/// always give the same augmentations, whatever the thread or batch order.
pub fn sample_rng(run_seed: u64, index: usize, epoch: usize) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&run_seed.to_le_bytes());
    key[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    key[16..24].copy_from_slice(&(epoch as u64).to_le_bytes());
    key[24..].copy_from_slice(b"afcnview");
    ChaCha8Rng::from_seed(key)
}

/// Resizes `image` to `size` x `size` (bilinear); returns a copy when it already is.
pub fn resize_square(image: &RgbImage, size: u32) -> RgbImage {
    if image.dimensions() == (size, size) {
        image.clone()
    } else {
        imageops::resize(image, size, size, FilterType::Triangle)
    }
}

/// The normalised channel-first pixels of `image`: `(v / 255 - mean[c]) / std[c]`, optionally
/// with Gaussian noise of standard deviation `noise_std` (0-255 scale) added and clipped to
/// [0, 255] before scaling.
///
/// # Shapes
/// - `image`: H x W RGB
/// - output: `[3, H, W]`, flattened
pub fn normalize_chw(
    image: &RgbImage,
    mean: [f32; 3],
    std: [f32; 3],
    noise: Option<(f32, &mut ChaCha8Rng)>,
) -> Vec<f32> {
    let plane = (image.width() * image.height()) as usize;
    let mut out = vec![0f32; 3 * plane];
    let scale = std.map(|s| 1.0 / (255.0 * s));
    let shift = [0, 1, 2].map(|c| mean[c] / std[c]);
    match noise {
        None => {
            for (i, pixel) in image.pixels().enumerate() {
                for c in 0..3 {
                    out[c * plane + i] = f32::from(pixel.0[c]) * scale[c] - shift[c];
                }
            }
        }
        Some((sigma, rng)) => {
            for (i, pixel) in image.pixels().enumerate() {
                for c in 0..3 {
                    let z: f32 = rng.sample(StandardNormal);
                    let v = (f32::from(pixel.0[c]) + sigma * z).clamp(0.0, 255.0);
                    out[c * plane + i] = v * scale[c] - shift[c];
                }
            }
        }
    }
    out
}

/// The evaluation transform as a tensor: `image` resized to `size` x `size` and normalised with
/// ImageNet's statistics; what `predict` and `explain` feed the network.
///
/// # Shapes
/// - output: `[3, size, size]`
pub fn image_to_tensor<B: Backend>(
    image: &RgbImage,
    size: u32,
    device: &B::Device,
) -> Tensor<B, 3> {
    let pixels = eval_pixels(image, size);
    let side = size as usize;
    Tensor::from_data(TensorData::new(pixels, [3, side, side]), device)
}

/// The evaluation transform on the host: resize and ImageNet normalisation.
///
/// # Shapes
/// - output: `[3, size, size]`, flattened
pub fn eval_pixels(image: &RgbImage, size: u32) -> Vec<f32> {
    normalize_chw(
        &resize_square(image, size),
        IMAGENET_MEAN,
        IMAGENET_STD,
        None,
    )
}

impl AugmentConfig {
    /// Applies T to an image already resized to the input side: pixel noise (when `noise` and
    /// with probability `noise_p`), normalisation, then random erasing.
    ///
    /// # Shapes
    /// - `image`: S x S RGB
    /// - output: `[3, S, S]`, flattened
    pub fn augment(&self, image: &RgbImage, rng: &mut ChaCha8Rng, noise: bool) -> Vec<f32> {
        let noisy = noise && rng.random_bool(self.noise_p);
        let sigma = self.noise_std;
        let mut pixels = normalize_chw(
            image,
            self.mean,
            self.std,
            noisy.then_some((sigma, &mut *rng)),
        );
        if rng.random_bool(self.erasing_p) {
            self.erase(
                &mut pixels,
                image.height() as usize,
                image.width() as usize,
                rng,
            );
        }
        pixels
    }

    /// Random erasing (torchvision's algorithm): up to ten tries at a rectangle of area
    /// `erasing_scale` x the image and log-uniform aspect `erasing_ratio` that fits; it is set
    /// to 0 in every channel.
    fn erase(&self, pixels: &mut [f32], height: usize, width: usize, rng: &mut ChaCha8Rng) {
        let area = (height * width) as f64;
        let [lo, hi] = self.erasing_ratio.map(f64::ln);
        for _ in 0..10 {
            let target = area * rng.random_range(self.erasing_scale[0]..=self.erasing_scale[1]);
            let aspect = rng.random_range(lo..=hi).exp();
            let h = (target * aspect).sqrt().round() as usize;
            let w = (target / aspect).sqrt().round() as usize;
            if h == 0 || w == 0 || h >= height || w >= width {
                continue;
            }
            let top = rng.random_range(0..=height - h);
            let left = rng.random_range(0..=width - w);
            for channel in pixels.chunks_exact_mut(height * width) {
                for row in channel.chunks_exact_mut(width).skip(top).take(h) {
                    row[left..left + w].fill(0.0);
                }
            }
            return;
        }
    }

    /// The two views of the specification for sample `index` in `epoch`: the image is resized
    /// and mirrored with probability `flip_p`, then v1 = T(x) and v2 = T(flip(x)), each view with
    /// its own erasing and noise draws (noise on v2 only with `noise_on_second_view`).
    ///
    /// # Shapes
    /// - output: two `[3, S, S]`, flattened
    pub fn two_views(
        &self,
        image: &RgbImage,
        run_seed: u64,
        index: usize,
        epoch: usize,
    ) -> [Vec<f32>; 2] {
        let mut rng = sample_rng(run_seed, index, epoch);
        let base = self.base(image, &mut rng);
        let mirror = imageops::flip_horizontal(&base);
        let first = self.augment(&base, &mut rng, true);
        let second = self.augment(&mirror, &mut rng, self.noise_on_second_view);
        [first, second]
    }

    /// One training view (for single-view baselines): random mirror, then T.
    ///
    /// # Shapes
    /// - output: `[3, S, S]`, flattened
    pub fn one_view(
        &self,
        image: &RgbImage,
        run_seed: u64,
        index: usize,
        epoch: usize,
    ) -> Vec<f32> {
        let mut rng = sample_rng(run_seed, index, epoch);
        let base = self.base(image, &mut rng);
        self.augment(&base, &mut rng, true)
    }

    /// The image resized to the input side and mirrored with probability `flip_p`.
    fn base(&self, image: &RgbImage, rng: &mut ChaCha8Rng) -> RgbImage {
        let mut base = resize_square(image, self.image_size);
        if rng.random_bool(self.flip_p) {
            imageops::flip_horizontal_in_place(&mut base);
        }
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([(x * 10) as u8, (y * 10) as u8, 128]))
    }

    #[test]
    fn normalisation_matches_hand_computed_values() {
        let image = RgbImage::from_fn(2, 1, |x, _| {
            if x == 0 {
                Rgb([0, 128, 255])
            } else {
                Rgb([255, 0, 51])
            }
        });
        let out = normalize_chw(&image, IMAGENET_MEAN, IMAGENET_STD, None);
        let expected = [
            (0.0 - 0.485) / 0.229,
            (1.0 - 0.485) / 0.229,
            (128.0 / 255.0 - 0.456) / 0.224,
            (0.0 - 0.456) / 0.224,
            (1.0 - 0.406) / 0.225,
            (0.2 - 0.406) / 0.225,
        ];
        for (got, want) in out.iter().zip(expected) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
    }

    #[test]
    fn image_to_tensor_has_chw_shape_and_matches_host_pixels() {
        let image = gradient(10, 6);
        let device = Default::default();
        let tensor = image_to_tensor::<burn::backend::Flex>(&image, 8, &device);
        assert_eq!(tensor.dims(), [3, 8, 8]);
        let values = tensor.into_data().to_vec::<f32>().unwrap();
        assert_eq!(values, eval_pixels(&image, 8));
    }

    #[test]
    fn views_are_reproducible_per_seed_sample_and_epoch() {
        // Erasing and noise always on, so that any two draws differ.
        let config = AugmentConfig {
            image_size: 16,
            erasing_p: 1.0,
            noise_p: 1.0,
            ..AugmentConfig::default()
        };
        let image = gradient(20, 20);
        let views = config.two_views(&image, 3, 5, 2);
        assert!(views == config.two_views(&image, 3, 5, 2));
        assert!(views != config.two_views(&image, 3, 5, 3));
        assert!(views != config.two_views(&image, 3, 6, 2));
        assert!(views != config.two_views(&image, 4, 5, 2));
        assert_eq!(views[0].len(), 3 * 16 * 16);
    }

    #[test]
    fn second_view_is_the_mirror_when_nothing_random_is_on() {
        let config = AugmentConfig {
            image_size: 12,
            flip_p: 0.0,
            erasing_p: 0.0,
            noise_p: 0.0,
            ..AugmentConfig::default()
        };
        let image = gradient(12, 12);
        let [first, second] = config.two_views(&image, 0, 0, 0);
        assert_eq!(first, eval_pixels(&image, 12));
        for c in 0..3 {
            for y in 0..12 {
                for x in 0..12 {
                    assert_eq!(
                        first[c * 144 + y * 12 + x],
                        second[c * 144 + y * 12 + 11 - x]
                    );
                }
            }
        }
        let flipped = AugmentConfig {
            flip_p: 1.0,
            ..config
        };
        let [mirrored, original] = flipped.two_views(&image, 0, 0, 0);
        assert_eq!(original, first);
        assert_eq!(mirrored, second);
    }

    #[test]
    fn erasing_zeroes_one_rectangle_within_the_scale_range() {
        let config = AugmentConfig {
            image_size: 40,
            erasing_p: 1.0,
            noise_p: 0.0,
            ..AugmentConfig::default()
        };
        // A white image normalises to positive values everywhere, so zeros are the erased area.
        let image = RgbImage::from_pixel(40, 40, Rgb([255, 255, 255]));
        let mut areas = Vec::new();
        for index in 0..200 {
            let view = config.one_view(&image, 1, index, 0);
            let plane = &view[..1600];
            let zeros: Vec<(usize, usize)> = (0..1600)
                .filter(|&i| plane[i] == 0.0)
                .map(|i| (i / 40, i % 40))
                .collect();
            assert!(!zeros.is_empty(), "sample {index} was not erased");
            let rows = zeros.iter().map(|z| z.0).max().unwrap()
                - zeros.iter().map(|z| z.0).min().unwrap()
                + 1;
            let cols = zeros.iter().map(|z| z.1).max().unwrap()
                - zeros.iter().map(|z| z.1).min().unwrap()
                + 1;
            assert_eq!(rows * cols, zeros.len(), "not a rectangle");
            assert_eq!(
                &view[1600..3200].iter().filter(|v| **v == 0.0).count(),
                &zeros.len()
            );
            areas.push(zeros.len() as f64 / 1600.0);
        }
        let (min, max) = areas
            .iter()
            .fold((1.0f64, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
        // Rounding of the sides lets the area stray a little past the scale range.
        assert!(min >= 0.015 && max <= 0.27, "{min}..{max}");
        assert!(max - min > 0.1, "areas should spread: {min}..{max}");
    }

    #[test]
    fn pixel_noise_has_the_configured_spread_and_probability() {
        let config = AugmentConfig {
            image_size: 32,
            flip_p: 0.0,
            erasing_p: 0.0,
            noise_p: 0.5,
            noise_std: 10.0,
            mean: [0.0; 3],
            std: [1.0 / 255.0; 3],
            ..AugmentConfig::default()
        };
        let image = RgbImage::from_pixel(32, 32, Rgb([128, 128, 128]));
        let mut noisy_views = 0;
        for index in 0..100 {
            let [first, second] = config.two_views(&image, 9, index, 0);
            assert!(
                second.iter().all(|v| (v - 128.0).abs() < 1e-3),
                "view 2 takes no noise"
            );
            let deviations: Vec<f32> = first.iter().map(|v| v - 128.0).collect();
            if deviations.iter().any(|d| d.abs() > 1e-3) {
                noisy_views += 1;
                let var = deviations.iter().map(|d| d * d).sum::<f32>() / deviations.len() as f32;
                assert!((var.sqrt() - 10.0).abs() < 0.5, "std {}", var.sqrt());
            }
        }
        assert!(
            (30..=70).contains(&noisy_views),
            "{noisy_views} of 100 views were noisy"
        );
    }
}
