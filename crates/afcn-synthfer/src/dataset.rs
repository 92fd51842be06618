//! [`SynthFer`]: a split of the generated dataset, rendered on demand.

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use afcn_data::{Annotation, FerDataset, Split, check_index};

use super::{
    config::SynthFerConfig,
    error::SynthFerError,
    expression::Expression,
    render::{FaceSpec, render},
};

/// One split of SynthFER: `len()` samples, each drawn and rendered on demand from
/// `(seed, split, index)` alone, with clean labels (inject noise on top, as for RAF-DB).
#[derive(Debug, Clone)]
pub struct SynthFer {
    config: SynthFerConfig,
    split: Split,
    class_names: Vec<String>,
}

impl SynthFer {
    /// The `split` (train or test) of the dataset `config` describes.
    pub fn new(config: SynthFerConfig, split: Split) -> Result<SynthFer, SynthFerError> {
        config.validate()?;
        if split == Split::Valid {
            return Err(SynthFerError::NoSuchSplit(split));
        }
        let class_names = Expression::ALL
            .iter()
            .map(|e| e.name().to_owned())
            .collect();
        Ok(SynthFer {
            config,
            split,
            class_names,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SynthFerConfig {
        &self.config
    }

    /// The split.
    pub fn split(&self) -> Split {
        self.split
    }

    /// The expression of sample `index` (its clean label), without drawing anything else.
    /// Defined for every index, also past `len()`.
    pub fn expression(&self, index: usize) -> Expression {
        draw_expression(&mut self.rng(index))
    }

    /// Everything that determines sample `index`: expression, intensity, action units, identity
    /// and nuisances. Defined for every index, also past `len()`.
    pub fn spec(&self, index: usize) -> FaceSpec {
        let mut rng = self.rng(index);
        let expression = draw_expression(&mut rng);
        FaceSpec::sample(expression, &mut rng, &self.config)
    }

    /// The image of sample `index`. Defined for every index, also past `len()`.
    pub fn render(&self, index: usize) -> RgbImage {
        render(
            &self.spec(index),
            self.config.image_size,
            self.config.supersample,
        )
    }

    fn rng(&self, index: usize) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(sample_seed(self.config.seed, self.split, index))
    }
}

/// Classes are balanced in expectation: uniform over the seven.
fn draw_expression(rng: &mut impl Rng) -> Expression {
    Expression::ALL[rng.random_range(0..Expression::COUNT)]
}

/// The seed of sample `index` of `split`: SplitMix64 finalisers chained over the three, so
/// that neighbouring indices and seeds give unrelated streams.
pub fn sample_seed(seed: u64, split: Split, index: usize) -> u64 {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let tag = match split {
        Split::Train => 0x0074_7261_696e,
        Split::Valid => 0x0076_616c_6964,
        Split::Test => 0x7465_7374,
    };
    mix(mix(mix(seed) ^ tag) ^ index as u64)
}

impl FerDataset for SynthFer {
    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn len(&self) -> usize {
        match self.split {
            Split::Train => self.config.train_size,
            Split::Valid | Split::Test => self.config.test_size,
        }
    }

    fn annotation(&self, index: usize) -> afcn_data::Result<Annotation> {
        check_index(index, self.len())?;
        Ok(Annotation::clean(self.expression(index).index()))
    }

    fn image(&self, index: usize) -> afcn_data::Result<RgbImage> {
        check_index(index, self.len())?;
        Ok(self.render(index))
    }

    /// RAF-DB's name for the sample: `train_00001.jpg` for index 0 of the train split.
    fn name(&self, index: usize) -> afcn_data::Result<String> {
        check_index(index, self.len())?;
        Ok(rafdb_name(self.split, index))
    }
}

/// RAF-DB's list name of sample `index` (0-based) of `split`: `train_00001.jpg`.
pub fn rafdb_name(split: Split, index: usize) -> String {
    format!("{}_{:05}.jpg", split.name(), index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use afcn_data::DataError;

    fn small(seed: u64) -> SynthFerConfig {
        SynthFerConfig {
            train_size: 40,
            test_size: 10,
            image_size: 32,
            seed,
            ..SynthFerConfig::default()
        }
    }

    #[test]
    fn a_sample_is_a_pure_function_of_seed_split_and_index() {
        let a = SynthFer::new(small(1), Split::Train).unwrap();
        let b = SynthFer::new(small(1), Split::Train).unwrap();
        assert_eq!(a.get(5).unwrap(), b.get(5).unwrap());
        // Order of access does not matter.
        let later = a.image(7).unwrap();
        let _ = a.image(3).unwrap();
        assert_eq!(a.image(7).unwrap(), later);
        // Anything else changes the pixels.
        let other_seed = SynthFer::new(small(2), Split::Train).unwrap();
        let test = SynthFer::new(small(1), Split::Test).unwrap();
        assert_ne!(a.image(5).unwrap(), a.image(6).unwrap());
        assert_ne!(a.image(5).unwrap(), other_seed.image(5).unwrap());
        assert_ne!(a.image(5).unwrap(), test.image(5).unwrap());
    }

    #[test]
    fn labels_are_clean_in_range_and_cover_every_class() {
        let data = SynthFer::new(
            SynthFerConfig {
                train_size: 200,
                ..small(0)
            },
            Split::Train,
        )
        .unwrap();
        assert_eq!(data.num_classes(), 7);
        assert_eq!(data.class_names()[3], "happiness");
        let mut counts = [0usize; 7];
        for annotation in data.annotations().unwrap() {
            assert!(!annotation.is_noisy());
            counts[annotation.label] += 1;
        }
        // 200 uniform draws over 7 classes: expected 28.6 each.
        assert!(counts.iter().all(|&c| (10..=50).contains(&c)), "{counts:?}");
        for index in 0..20 {
            assert_eq!(data.spec(index).expression, data.expression(index));
        }
    }

    #[test]
    fn sizes_names_and_splits() {
        for size in [16, 48] {
            let data = SynthFer::new(
                SynthFerConfig {
                    image_size: size,
                    ..small(0)
                },
                Split::Test,
            )
            .unwrap();
            assert_eq!(data.len(), 10);
            assert_eq!(data.image(0).unwrap().dimensions(), (size, size));
        }
        let data = SynthFer::new(small(0), Split::Train).unwrap();
        assert_eq!(data.len(), 40);
        assert_eq!(data.name(0).unwrap(), "train_00001.jpg");
        assert!(matches!(
            data.get(40),
            Err(DataError::IndexOutOfRange { index: 40, len: 40 })
        ));
        assert!(matches!(
            SynthFer::new(small(0), Split::Valid),
            Err(SynthFerError::NoSuchSplit(Split::Valid))
        ));
        let bad = SynthFerConfig {
            image_size: 4,
            ..small(0)
        };
        assert!(matches!(
            SynthFer::new(bad, Split::Train),
            Err(SynthFerError::Config(_))
        ));
    }

    #[test]
    fn seeds_of_neighbouring_indices_are_unrelated() {
        let seeds: std::collections::HashSet<u64> = (0..1000)
            .flat_map(|i| {
                [
                    sample_seed(0, Split::Train, i),
                    sample_seed(0, Split::Test, i),
                    sample_seed(1, Split::Train, i),
                ]
            })
            .collect();
        assert_eq!(seeds.len(), 3000);
    }
}
