//! The knobs of SynthFER: split sizes, image size, seed, and how hard the images are.

use serde::{Deserialize, Serialize};

use afcn_certainty::InvalidField;

/// Configuration of the SynthFER generator. Every field has a default (`SynthFerConfig::default()`
/// or an empty TOML/JSON table); the difficulty knobs below the seed are the defaults the
/// benchmark figures in `docs/synthfer.md` refer to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthFerConfig {
    /// Number of training samples. Default 4000.
    pub train_size: usize,
    /// Number of test samples. Default 1000 (RAF-DB's 4:1 ratio).
    pub test_size: usize,
    /// Side of the square images, in pixels (16 to 1024). Default 64.
    pub image_size: u32,
    /// The seed: sample `i` of a split is a pure function of `(seed, split, i)`. Default 0.
    pub seed: u64,
    /// Faces are drawn at `supersample` times the image size, then averaged down (anti-aliasing);
    /// 1 to 4. Default 2.
    pub supersample: u32,
    /// Smallest expression intensity drawn (uniformly up to `max_intensity`); near 0 every
    /// expression looks neutral. Default 0.75 (the benchmark's tuning, `docs/synthfer.md`).
    pub min_intensity: f32,
    /// Largest expression intensity drawn, at most 1. Default 1.0.
    pub max_intensity: f32,
    /// Relative jitter of each action unit around the class prototype. Default 0.15.
    pub au_jitter: f32,
    /// Largest shift of the face centre, as a fraction of the image size. Default 0.06.
    pub max_shift: f32,
    /// Largest relative change of the face size. Default 0.1.
    pub max_scale_jitter: f32,
    /// Largest in-plane rotation, in degrees. Default 8.
    pub max_rotation_deg: f32,
    /// Largest strength of the illumination gradient across the image (0: flat). Default 0.45.
    pub max_illumination: f32,
    /// Largest number of background clutter shapes. Default 3.
    pub max_clutter: u32,
    /// Probability of clear glasses. Default 0.15.
    pub glasses_prob: f32,
    /// Probability of an occluder (hand, patch, mask, sunglasses) over part of the face.
    /// Default 0.1.
    pub occlusion_prob: f32,
    /// Probability of a Gaussian blur. Default 0.1.
    pub blur_prob: f32,
    /// Largest blur standard deviation, in pixels of a 64-pixel image (scaled with the size).
    /// Default 1.0.
    pub max_blur_sigma: f32,
    /// Largest standard deviation of the additive pixel noise, in 8-bit levels. Default 5.
    pub max_noise_std: f32,
}

impl Default for SynthFerConfig {
    fn default() -> Self {
        Self {
            train_size: 4000,
            test_size: 1000,
            image_size: 64,
            seed: 0,
            supersample: 2,
            min_intensity: 0.75,
            max_intensity: 1.0,
            au_jitter: 0.15,
            max_shift: 0.06,
            max_scale_jitter: 0.1,
            max_rotation_deg: 8.0,
            max_illumination: 0.45,
            max_clutter: 3,
            glasses_prob: 0.15,
            occlusion_prob: 0.1,
            blur_prob: 0.1,
            max_blur_sigma: 1.0,
            max_noise_std: 5.0,
        }
    }
}

impl SynthFerConfig {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), InvalidField> {
        let bad = |field, value: &dyn std::fmt::Debug, expected| {
            InvalidField::new(field, value, expected)
        };
        if !(16..=1024).contains(&self.image_size) {
            return Err(bad("image_size", &self.image_size, "16 to 1024 pixels"));
        }
        if !(1..=4).contains(&self.supersample) {
            return Err(bad("supersample", &self.supersample, "1 to 4"));
        }
        if !(0.0..=1.0).contains(&self.max_intensity) {
            return Err(bad("max_intensity", &self.max_intensity, "0 to 1"));
        }
        if !(0.0..=self.max_intensity).contains(&self.min_intensity) {
            return Err(bad(
                "min_intensity",
                &self.min_intensity,
                "0 to max_intensity",
            ));
        }
        let fractions = [
            ("au_jitter", self.au_jitter),
            ("max_shift", self.max_shift),
            ("max_scale_jitter", self.max_scale_jitter),
            ("max_illumination", self.max_illumination),
            ("glasses_prob", self.glasses_prob),
            ("occlusion_prob", self.occlusion_prob),
            ("blur_prob", self.blur_prob),
        ];
        if let Some((field, value)) = fractions.iter().find(|(_, v)| !(0.0..=1.0).contains(v)) {
            return Err(bad(field, value, "0 to 1"));
        }
        let amounts = [
            ("max_rotation_deg", self.max_rotation_deg, 45.0),
            ("max_blur_sigma", self.max_blur_sigma, 8.0),
            ("max_noise_std", self.max_noise_std, 128.0),
        ];
        if let Some((field, value, _)) =
            amounts.iter().find(|(_, v, max)| !(0.0..=*max).contains(v))
        {
            let expected = match *field {
                "max_rotation_deg" => "0 to 45 degrees",
                "max_blur_sigma" => "0 to 8 pixels",
                _ => "0 to 128 levels",
            };
            return Err(bad(field, value, expected));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_an_empty_table_gives_them() {
        let config = SynthFerConfig::default();
        assert_eq!(config.validate(), Ok(()));
        let parsed: SynthFerConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, config);
        let parsed: SynthFerConfig = serde_json::from_str(r#"{"image_size": 48}"#).unwrap();
        assert_eq!(parsed.image_size, 48);
        assert!(serde_json::from_str::<SynthFerConfig>(r#"{"imagesize": 48}"#).is_err());
    }

    #[test]
    fn out_of_range_fields_are_named() {
        type Edit = fn(&mut SynthFerConfig);
        let cases: [(Edit, &str); 5] = [
            (|c| c.image_size = 8, "image_size"),
            (|c| c.min_intensity = 1.5, "min_intensity"),
            (|c| c.occlusion_prob = -0.1, "occlusion_prob"),
            (|c| c.max_rotation_deg = 90.0, "max_rotation_deg"),
            (|c| c.max_noise_std = f32::NAN, "max_noise_std"),
        ];
        for (edit, field) in cases {
            let mut config = SynthFerConfig::default();
            edit(&mut config);
            assert_eq!(config.validate().unwrap_err().field, field);
        }
    }
}
