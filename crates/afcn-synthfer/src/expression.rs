//! The seven RAF-DB expressions, each defined by the facial action units (FACS) it moves.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// One of the seven basic expressions, in RAF-DB order: `index()` is the 0-based class index
/// used by the models, `rafdb_label()` the 1-based label of RAF-DB's list files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Expression {
    /// Brows raised, eyes wide, jaw dropped (AU 1, 2, 5, 26).
    Surprise,
    /// Brows raised and drawn together, eyes wide, lips stretched (AU 1, 2, 4, 5, 20, 25).
    Fear,
    /// Nose wrinkled, upper lip raised, eyes narrowed (AU 9, 10, 7, 15, 17).
    Disgust,
    /// Lip corners up, cheeks raised, eyes narrowed (AU 6, 12, 25).
    Happiness,
    /// Inner brows raised, lip corners down (AU 1, 4, 15, 17).
    Sadness,
    /// Brows lowered and drawn together, lips pressed (AU 4, 5, 7, 24).
    Anger,
    /// No action unit.
    Neutral,
}

impl Expression {
    /// The seven expressions in RAF-DB order.
    pub const ALL: [Expression; 7] = [
        Expression::Surprise,
        Expression::Fear,
        Expression::Disgust,
        Expression::Happiness,
        Expression::Sadness,
        Expression::Anger,
        Expression::Neutral,
    ];

    /// The number of classes.
    pub const COUNT: usize = 7;

    /// The 0-based class index (RAF-DB label minus one).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The 1-based label written in RAF-DB's `list_patition_label.txt`.
    pub fn rafdb_label(self) -> u8 {
        self as u8 + 1
    }

    /// The expression with 0-based class index `index`, if there is one.
    pub fn from_index(index: usize) -> Option<Expression> {
        Self::ALL.get(index).copied()
    }

    /// The English name, lower case.
    pub fn name(self) -> &'static str {
        match self {
            Expression::Surprise => "surprise",
            Expression::Fear => "fear",
            Expression::Disgust => "disgust",
            Expression::Happiness => "happiness",
            Expression::Sadness => "sadness",
            Expression::Anger => "anger",
            Expression::Neutral => "neutral",
        }
    }

    /// The action units of this expression at full intensity (each in `[0, 1]`).
    pub fn prototype(self) -> ActionUnits {
        let none = ActionUnits::default();
        match self {
            Expression::Surprise => ActionUnits {
                inner_brow_raise: 1.0,
                outer_brow_raise: 1.0,
                upper_lid_raise: 0.8,
                jaw_drop: 1.0,
                ..none
            },
            Expression::Fear => ActionUnits {
                inner_brow_raise: 1.0,
                outer_brow_raise: 0.5,
                brow_lower: 0.7,
                upper_lid_raise: 1.0,
                lip_stretch: 1.0,
                jaw_drop: 0.3,
                ..none
            },
            Expression::Disgust => ActionUnits {
                nose_wrinkle: 1.0,
                upper_lip_raise: 1.0,
                lid_tighten: 0.7,
                brow_lower: 0.35,
                lip_corner_depress: 0.4,
                chin_raise: 0.5,
                ..none
            },
            Expression::Happiness => ActionUnits {
                cheek_raise: 1.0,
                lip_corner_pull: 1.0,
                jaw_drop: 0.25,
                ..none
            },
            Expression::Sadness => ActionUnits {
                inner_brow_raise: 1.0,
                brow_lower: 0.45,
                lip_corner_depress: 1.0,
                chin_raise: 0.6,
                ..none
            },
            Expression::Anger => ActionUnits {
                brow_lower: 1.0,
                upper_lid_raise: 0.4,
                lid_tighten: 0.8,
                lip_press: 1.0,
                ..none
            },
            Expression::Neutral => none,
        }
    }

    /// The prototype scaled by `intensity` (in `[0, 1]`). At intensity 0 every expression is
    /// neutral.
    pub fn action_units(self, intensity: f32) -> ActionUnits {
        let mut aus = self.prototype();
        for unit in aus.units_mut() {
            *unit = (*unit * intensity).clamp(0.0, 1.0);
        }
        aus
    }

    /// The action units of one sample at `intensity`: [`action_units`](Self::action_units) with
    /// each unit jittered by up to `jitter` (relative), so that no two samples of a class move
    /// their faces identically.
    pub fn jittered_action_units(
        self,
        intensity: f32,
        jitter: f32,
        rng: &mut impl Rng,
    ) -> ActionUnits {
        let mut aus = self.action_units(intensity);
        for unit in aus.units_mut() {
            let factor = 1.0 + jitter * rng.random_range(-1.0f32..=1.0);
            *unit = (*unit * factor).clamp(0.0, 1.0);
        }
        aus
    }
}

impl std::fmt::Display for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Activations of the facial action units the renderer draws, each in `[0, 1]` (0: at rest).
/// Names follow FACS; the AU number is in each field's documentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionUnits {
    /// AU 1: raises the inner ends of the brows (forehead lines in the middle).
    pub inner_brow_raise: f32,
    /// AU 2: raises the outer ends of the brows (arched brows, forehead lines).
    pub outer_brow_raise: f32,
    /// AU 4: lowers the brows and draws them together (vertical lines between them).
    pub brow_lower: f32,
    /// AU 5: raises the upper lids (eyes wide open).
    pub upper_lid_raise: f32,
    /// AU 6: raises the cheeks, pushing the lower lids up into a crescent.
    pub cheek_raise: f32,
    /// AU 7: tightens the lids, narrowing the eyes from below.
    pub lid_tighten: f32,
    /// AU 9: wrinkles the nose and lifts the nostrils.
    pub nose_wrinkle: f32,
    /// AU 10: raises the upper lip, baring the upper teeth.
    pub upper_lip_raise: f32,
    /// AU 12: pulls the lip corners up and out (smile).
    pub lip_corner_pull: f32,
    /// AU 15: pulls the lip corners down.
    pub lip_corner_depress: f32,
    /// AU 17: pushes the chin and lower lip up.
    pub chin_raise: f32,
    /// AU 20: stretches the lips sideways.
    pub lip_stretch: f32,
    /// AU 24: presses the lips together, thinning them.
    pub lip_press: f32,
    /// AU 26: drops the jaw, opening the mouth.
    pub jaw_drop: f32,
}

impl ActionUnits {
    /// Every unit, mutably, in declaration order.
    fn units_mut(&mut self) -> [&mut f32; 14] {
        [
            &mut self.inner_brow_raise,
            &mut self.outer_brow_raise,
            &mut self.brow_lower,
            &mut self.upper_lid_raise,
            &mut self.cheek_raise,
            &mut self.lid_tighten,
            &mut self.nose_wrinkle,
            &mut self.upper_lip_raise,
            &mut self.lip_corner_pull,
            &mut self.lip_corner_depress,
            &mut self.chin_raise,
            &mut self.lip_stretch,
            &mut self.lip_press,
            &mut self.jaw_drop,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn rafdb_order_and_labels() {
        let names: Vec<_> = Expression::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(
            names,
            [
                "surprise",
                "fear",
                "disgust",
                "happiness",
                "sadness",
                "anger",
                "neutral"
            ]
        );
        for (k, e) in Expression::ALL.into_iter().enumerate() {
            assert_eq!(e.index(), k);
            assert_eq!(usize::from(e.rafdb_label()), k + 1);
            assert_eq!(Expression::from_index(k), Some(e));
        }
        assert_eq!(Expression::from_index(7), None);
    }

    #[test]
    fn prototypes_are_distinct_and_neutral_is_rest() {
        assert_eq!(Expression::Neutral.prototype(), ActionUnits::default());
        for (i, a) in Expression::ALL.iter().enumerate() {
            for b in &Expression::ALL[i + 1..] {
                assert_ne!(a.prototype(), b.prototype(), "{a} and {b}");
            }
        }
    }

    #[test]
    fn zero_intensity_is_neutral_and_units_stay_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for e in Expression::ALL {
            assert_eq!(
                e.jittered_action_units(0.0, 0.2, &mut rng),
                ActionUnits::default()
            );
            assert_eq!(e.action_units(1.0), e.prototype());
            let mut full = e.jittered_action_units(1.0, 0.5, &mut rng);
            assert!(full.units_mut().iter().all(|u| (0.0..=1.0).contains(&**u)));
        }
    }
}
