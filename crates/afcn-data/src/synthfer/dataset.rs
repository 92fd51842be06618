//! [`SynthFer`]: a split of the generated dataset, rendered on demand.

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dataset::{Annotation, FerDataset, Split, check_index};

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
        Split::Train => 0x7472_6169_6e,
        Split::Valid => 0x7661_6c69_64,
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

    fn annotation(&self, index: usize) -> crate::Result<Annotation> {
        check_index(index, self.len())?;
        Ok(Annotation::clean(self.expression(index).index()))
    }

    fn image(&self, index: usize) -> crate::Result<RgbImage> {
        check_index(index, self.len())?;
        Ok(self.render(index))
    }

    /// RAF-DB's name for the sample: `train_00001.jpg` for index 0 of the train split.
    fn name(&self, index: usize) -> crate::Result<String> {
        check_index(index, self.len())?;
        Ok(rafdb_name(self.split, index))
    }
}

/// RAF-DB's list name of sample `index` (0-based) of `split`: `train_00001.jpg`.
pub fn rafdb_name(split: Split, index: usize) -> String {
    format!("{}_{:05}.jpg", split.name(), index + 1)
}
