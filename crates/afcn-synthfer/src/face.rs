//! The identity of a synthetic person: head shape, feature placement, colours, hair and
//! glasses. Everything here stays fixed while the expression changes.

use image::Rgb;
use rand::Rng;

use super::{
    color::{mix, pick},
    geometry::Vec2,
};

/// Hair styles; drawn behind the head, over its top, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HairStyle {
    /// No hair.
    Bald,
    /// A cap of hair over the top of the head.
    Short,
    /// A cap plus hair falling behind the head to the shoulders.
    Long,
    /// A cap with a fringe over the forehead, reaching down towards the brows.
    Fringe,
}

/// Glasses worn by the person (clear lenses; sunglasses are an occluder).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Glasses {
    /// Frame colour.
    pub frame: Rgb<u8>,
    /// Squareness of the rims (super-ellipse exponent: 2 round, 4 nearly rectangular).
    pub squareness: f32,
    /// Half-height of a rim in face units.
    pub rim_height: f32,
}

/// Everything that makes one synthetic face look like one person. Lengths are in face units
/// (the half-width of an average face); `y` grows downwards from the face centre.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Half-width of the head.
    pub face_width: f32,
    /// Half-height of the head.
    pub face_height: f32,
    /// Squareness of the jaw (super-ellipse exponent, 2 = oval).
    pub jaw_squareness: f32,
    /// Skin colour.
    pub skin: Rgb<u8>,
    /// Horizontal distance of each eye centre from the midline.
    pub eye_spacing: f32,
    /// Height of the eye centres.
    pub eye_y: f32,
    /// Half-width of an eye.
    pub eye_width: f32,
    /// Half-height of the eye opening at rest.
    pub eye_opening: f32,
    /// Rise of the outer eye corners relative to the inner ones.
    pub eye_tilt: f32,
    /// Iris colour.
    pub iris: Rgb<u8>,
    /// Where the eyes look, as an offset of the iris (fraction of the eye half-width).
    pub gaze: Vec2,
    /// Distance from the eye centres up to the brows.
    pub brow_gap: f32,
    /// Thickness of the brows.
    pub brow_thickness: f32,
    /// Arch of the brows at rest.
    pub brow_arch: f32,
    /// Height of the nose tip.
    pub nose_y: f32,
    /// Half-width of the nose wings.
    pub nose_width: f32,
    /// Height of the line between the lips.
    pub mouth_y: f32,
    /// Half-width of the mouth at rest.
    pub mouth_width: f32,
    /// Thickness of each lip.
    pub lip_thickness: f32,
    /// Lip colour.
    pub lips: Rgb<u8>,
    /// Resting rise of the lip corners (some people look slightly happy or sad at rest).
    pub resting_smile: f32,
    /// Resting rise of the brows.
    pub resting_brow: f32,
    /// Contrast of the creases every face has (age), in `[0, 1]`.
    pub crease: f32,
    /// Hair style.
    pub hair: HairStyle,
    /// Hair colour (the brows take a darker shade of it).
    pub hair_color: Rgb<u8>,
    /// Horizontal position of the hair parting, in face units.
    pub parting: f32,
    /// Clothing colour.
    pub clothes: Rgb<u8>,
    /// Glasses, if any.
    pub glasses: Option<Glasses>,
}

const SKIN_LIGHT: Rgb<u8> = Rgb([250, 220, 192]);
const SKIN_DARK: Rgb<u8> = Rgb([110, 68, 44]);
const HAIR: [[u8; 3]; 6] = [
    [28, 24, 22],
    [62, 40, 28],
    [115, 78, 48],
    [206, 172, 112],
    [150, 66, 32],
    [168, 166, 160],
];
const IRIS: [[u8; 3]; 5] = [
    [70, 45, 25],
    [40, 28, 20],
    [60, 100, 150],
    [70, 110, 70],
    [100, 100, 105],
];
const FRAMES: [[u8; 3]; 4] = [[20, 20, 20], [90, 60, 30], [160, 160, 170], [120, 20, 30]];

impl Identity {
    /// Draws a random person; `glasses_prob` is the chance of wearing clear glasses.
    pub fn sample(rng: &mut impl Rng, glasses_prob: f32) -> Identity {
        let skin = mix(SKIN_LIGHT, SKIN_DARK, rng.random_range(0.0..1.0f32));
        let skin = pick(&[skin.0], 10, rng);
        let lips = mix(skin, Rgb([170, 60, 70]), rng.random_range(0.3..0.55));
        let hair = match rng.random_range(0..10u8) {
            0 => HairStyle::Bald,
            1..=3 => HairStyle::Short,
            4..=6 => HairStyle::Long,
            _ => HairStyle::Fringe,
        };
        let glasses = rng.random_bool(f64::from(glasses_prob)).then(|| Glasses {
            frame: pick(&FRAMES, 15, rng),
            squareness: rng.random_range(2.0..4.0),
            rim_height: rng.random_range(0.14..0.19),
        });
        Identity {
            face_width: rng.random_range(0.86..1.0),
            face_height: rng.random_range(1.15..1.35),
            jaw_squareness: rng.random_range(2.0..2.8),
            skin,
            eye_spacing: rng.random_range(0.33..0.42),
            eye_y: rng.random_range(-0.16..-0.06),
            eye_width: rng.random_range(0.18..0.22),
            eye_opening: rng.random_range(0.085..0.105),
            eye_tilt: rng.random_range(-0.03..0.03),
            iris: pick(&IRIS, 12, rng),
            gaze: Vec2::new(rng.random_range(-0.25..0.25), rng.random_range(-0.1..0.1)),
            brow_gap: rng.random_range(0.2..0.27),
            brow_thickness: rng.random_range(0.08..0.12),
            brow_arch: rng.random_range(0.0..0.06),
            nose_y: rng.random_range(0.26..0.36),
            nose_width: rng.random_range(0.1..0.15),
            mouth_y: rng.random_range(0.58..0.68),
            mouth_width: rng.random_range(0.33..0.4),
            lip_thickness: rng.random_range(0.065..0.09),
            lips,
            resting_smile: rng.random_range(-0.025..0.025),
            resting_brow: rng.random_range(-0.03..0.03),
            crease: rng.random_range(0.0..0.2),
            hair,
            hair_color: pick(&HAIR, 12, rng),
            parting: rng.random_range(-0.4..0.4),
            clothes: super::color::any(rng),
            glasses,
        }
    }
}
