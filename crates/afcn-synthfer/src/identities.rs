//! [`SynthFerIdentities`]: SynthFER's people labelled by who they are, for face pretraining.
//!
//! MS-Celeb-1M and VGGFace2 pretrain a backbone by face recognition: many people, many
//! photos of each, the label the person. This split does the same with SynthFER's renderer:
//! [`IdentityConfig::identities`] people, each drawn under [`IdentityConfig::train_renders`]
//! (train) or [`IdentityConfig::test_renders`] (test, held out) random expressions (neutral
//! to full intensity), poses and nuisances.
//!
//! **Disjoint from the expression benchmark.** Person `p` is drawn from a random stream
//! seeded by `sample_seed(seed ^ IDENTITY_TAG, Train, p)`; every face of the expression
//! benchmark draws its person inside its own stream, seeded by `sample_seed(seed, split, i)`.
//! The two never share a stream (the tag changes the first mixing step, and SplitMix64's
//! finaliser is a bijection), and a person is a draw of continuous parameters (face shape,
//! feature placement, colours), so no benchmark face is the same person as a pretraining one.

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use afcn_certainty::InvalidField;
use afcn_data::{Annotation, FerDataset, Split, check_index};

use crate::{
    config::SynthFerConfig,
    dataset::sample_seed,
    error::SynthFerError,
    expression::Expression,
    face::Identity,
    render::{FaceSpec, render},
};

/// Mixed into the seed of the pretraining people and their renders ("identity").
const IDENTITY_TAG: u64 = 0x6964_656e_7469_7479;

/// How many people the pretraining set has and how often each is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// Number of people (classes). Default 300.
    pub identities: usize,
    /// Training renders per person. Default 16.
    pub train_renders: usize,
    /// Held-out renders per person (the test split). Default 4.
    pub test_renders: usize,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            identities: 300,
            train_renders: 16,
            test_renders: 4,
        }
    }
}

impl IdentityConfig {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), InvalidField> {
        if !(2..=100_000).contains(&self.identities) {
            return Err(InvalidField::new(
                "identities",
                self.identities,
                "2 to 100000 people",
            ));
        }
        for (field, value) in [
            ("train_renders", self.train_renders),
            ("test_renders", self.test_renders),
        ] {
            if !(1..=10_000).contains(&value) {
                return Err(InvalidField::new(field, value, "1 to 10000 renders"));
            }
        }
        Ok(())
    }
}

/// One split of the identity set: sample `i` is person `i % identities`, render
/// `i / identities`, drawn on demand from `(seed, split, i)` alone.
#[derive(Debug, Clone)]
pub struct SynthFerIdentities {
    faces: SynthFerConfig,
    people: IdentityConfig,
    split: Split,
    class_names: Vec<String>,
}

impl SynthFerIdentities {
    /// The `split` (train or test) of the identity set: the people of `people`, drawn with the
    /// image size, seed and nuisances of `faces` (its split sizes are not used).
    pub fn new(
        faces: SynthFerConfig,
        people: IdentityConfig,
        split: Split,
    ) -> Result<SynthFerIdentities, SynthFerError> {
        faces.validate()?;
        people.validate()?;
        if split == Split::Valid {
            return Err(SynthFerError::NoSuchSplit(split));
        }
        let class_names = (0..people.identities)
            .map(|p| format!("person-{:05}", p + 1))
            .collect();
        Ok(SynthFerIdentities {
            faces,
            people,
            split,
            class_names,
        })
    }

    /// The person of sample `index` (its label).
    pub fn person(&self, index: usize) -> usize {
        index % self.people.identities
    }

    /// Person `p`: the same for every split and render.
    pub fn identity(&self, person: usize) -> Identity {
        let seed = sample_seed(self.faces.seed ^ IDENTITY_TAG, Split::Train, person);
        Identity::sample(
            &mut ChaCha8Rng::seed_from_u64(seed),
            self.faces.glasses_prob,
        )
    }

    /// Everything that determines sample `index`: its person, expression and nuisances.
    pub fn spec(&self, index: usize) -> FaceSpec {
        // Tagged once more, so that the render stream of train sample `p` is not person `p`'s.
        let seed = sample_seed(self.faces.seed ^ IDENTITY_TAG, self.split, index);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ IDENTITY_TAG);
        let expression = Expression::ALL[rng.random_range(0..Expression::COUNT)];
        FaceSpec::sample_of(
            self.identity(self.person(index)),
            expression,
            &mut rng,
            &self.faces,
        )
    }
}

impl FerDataset for SynthFerIdentities {
    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn len(&self) -> usize {
        let renders = match self.split {
            Split::Train => self.people.train_renders,
            Split::Valid | Split::Test => self.people.test_renders,
        };
        self.people.identities * renders
    }

    fn annotation(&self, index: usize) -> afcn_data::Result<Annotation> {
        check_index(index, self.len())?;
        Ok(Annotation::clean(self.person(index)))
    }

    fn image(&self, index: usize) -> afcn_data::Result<RgbImage> {
        check_index(index, self.len())?;
        Ok(render(
            &self.spec(index),
            self.faces.image_size,
            self.faces.supersample,
        ))
    }

    /// `train_00001.jpg`-style names, as the expression set's.
    fn name(&self, index: usize) -> afcn_data::Result<String> {
        check_index(index, self.len())?;
        Ok(crate::dataset::rafdb_name(self.split, index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SynthFer;

    fn small() -> IdentityConfig {
        IdentityConfig {
            identities: 5,
            train_renders: 3,
            test_renders: 2,
        }
    }

    #[test]
    fn every_person_is_drawn_in_every_split_with_one_identity_and_varied_renders() {
        let faces = SynthFerConfig {
            image_size: 32,
            ..Default::default()
        };
        let train = SynthFerIdentities::new(faces.clone(), small(), Split::Train).unwrap();
        let test = SynthFerIdentities::new(faces, small(), Split::Test).unwrap();
        assert_eq!((train.len(), test.len()), (15, 10));
        assert_eq!(train.class_names().len(), 5);
        for index in 0..train.len() {
            let person = train.annotation(index).unwrap().label;
            assert_eq!(person, index % 5);
            assert_eq!(train.spec(index).identity, train.identity(person));
        }
        // A held-out render shows a training person, in another pose.
        assert_eq!(test.spec(0).identity, train.spec(0).identity);
        assert_ne!(test.spec(0).nuisance, train.spec(0).nuisance);
        assert_ne!(train.spec(0).nuisance, train.spec(5).nuisance);
        assert_ne!(train.identity(0), train.identity(1));
        assert_eq!(train.image(7).unwrap(), train.image(7).unwrap());
    }

    #[test]
    fn no_pretraining_person_appears_in_the_expression_benchmark() {
        let faces = SynthFerConfig::default();
        let people =
            SynthFerIdentities::new(faces.clone(), IdentityConfig::default(), Split::Train)
                .unwrap();
        let bench_train = SynthFer::new(faces.clone(), Split::Train).unwrap();
        let bench_test = SynthFer::new(faces, Split::Test).unwrap();
        let pretraining: Vec<Identity> = (0..300).map(|p| people.identity(p)).collect();
        for index in 0..200 {
            for bench in [&bench_train, &bench_test] {
                let person = bench.spec(index).identity;
                assert!(!pretraining.contains(&person), "benchmark face {index}");
            }
        }
    }

    #[test]
    fn bad_sizes_name_the_field() {
        let err = SynthFerIdentities::new(
            SynthFerConfig::default(),
            IdentityConfig {
                identities: 1,
                ..small()
            },
            Split::Train,
        )
        .unwrap_err();
        assert!(err.to_string().contains("identities"), "{err}");
    }
}
