//! Colour arithmetic for the renderer: palettes are mixed and shaded in `f32`, drawn in `u8`.

use image::Rgb;
use rand::Rng;

/// `a` at `t = 0`, `b` at `t = 1`, linearly in between.
pub fn mix(a: Rgb<u8>, b: Rgb<u8>, t: f32) -> Rgb<u8> {
    let t = t.clamp(0.0, 1.0);
    Rgb(std::array::from_fn(|k| {
        (f32::from(a.0[k]) + (f32::from(b.0[k]) - f32::from(a.0[k])) * t).round() as u8
    }))
}

/// `c` with every channel multiplied by `factor` (saturating at 255).
pub fn shade(c: Rgb<u8>, factor: f32) -> Rgb<u8> {
    Rgb(c
        .0
        .map(|v| (f32::from(v) * factor).round().clamp(0.0, 255.0) as u8))
}

/// One colour of `palette`, each channel jittered by up to `jitter` levels.
pub fn pick(palette: &[[u8; 3]], jitter: i16, rng: &mut impl Rng) -> Rgb<u8> {
    let base = palette[rng.random_range(0..palette.len())];
    Rgb(base.map(|v| (i16::from(v) + rng.random_range(-jitter..=jitter)).clamp(0, 255) as u8))
}

/// A uniformly random colour.
pub fn any(rng: &mut impl Rng) -> Rgb<u8> {
    Rgb(rng.random())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_and_shade_by_hand() {
        let (a, b) = (Rgb([0, 100, 200]), Rgb([100, 100, 0]));
        assert_eq!(mix(a, b, 0.0), a);
        assert_eq!(mix(a, b, 1.0), b);
        assert_eq!(mix(a, b, 0.5), Rgb([50, 100, 100]));
        assert_eq!(mix(a, b, 7.0), b);
        assert_eq!(shade(Rgb([100, 200, 10]), 1.5), Rgb([150, 255, 15]));
    }
}
