//! Drawing one face: an identity wearing an expression (its action units), placed by the pose
//! jitter, over a cluttered background, then lit, blurred and noised.

use image::{Rgb, RgbImage};
use rand::Rng;

use super::{
    color::{mix, shade},
    config::SynthFerConfig,
    expression::{ActionUnits, Expression},
    face::{HairStyle, Identity},
    geometry::{Pose, Vec2, bezier, bezier_points, ellipse, fill, stroke, superellipse},
    nuisance::Nuisance,
};

/// Everything that determines one image: what [`render`] draws.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceSpec {
    /// The expression (the sample's clean label).
    pub expression: Expression,
    /// The expression intensity in `[0, 1]` the action units were drawn at.
    pub intensity: f32,
    /// The action units actually drawn.
    pub action_units: ActionUnits,
    /// The person.
    pub identity: Identity,
    /// Pose, background, lighting, occluder, blur and noise.
    pub nuisance: Nuisance,
}

impl FaceSpec {
    /// Draws a sample of `expression` within the ranges of `config`: its intensity, action units,
    /// identity and nuisances.
    pub fn sample(expression: Expression, rng: &mut impl Rng, config: &SynthFerConfig) -> FaceSpec {
        let intensity = rng.random_range(config.min_intensity..=config.max_intensity);
        let action_units = expression.jittered_action_units(intensity, config.au_jitter, rng);
        let identity = Identity::sample(rng, config.glasses_prob);
        Self::sample_wearing(identity, expression, intensity, action_units, rng, config)
    }

    /// Draws `identity` showing `expression` at an intensity drawn from 0 (neutral) to
    /// `config.max_intensity`, with its own action-unit jitter and nuisances: one render of a
    /// known person, as the identity pretraining set draws them.
    pub fn sample_of(
        identity: Identity,
        expression: Expression,
        rng: &mut impl Rng,
        config: &SynthFerConfig,
    ) -> FaceSpec {
        let intensity = rng.random_range(0.0..=config.max_intensity);
        let action_units = expression.jittered_action_units(intensity, config.au_jitter, rng);
        Self::sample_wearing(identity, expression, intensity, action_units, rng, config)
    }

    fn sample_wearing(
        identity: Identity,
        expression: Expression,
        intensity: f32,
        action_units: ActionUnits,
        rng: &mut impl Rng,
        config: &SynthFerConfig,
    ) -> FaceSpec {
        let nuisance = Nuisance::sample(rng, config, identity.skin);
        FaceSpec {
            expression,
            intensity,
            action_units,
            identity,
            nuisance,
        }
    }

    /// The same person and nuisances wearing `expression` at `intensity`, without jitter.
    pub fn with_expression(self, expression: Expression, intensity: f32) -> FaceSpec {
        FaceSpec {
            expression,
            intensity,
            action_units: expression.action_units(intensity),
            ..self
        }
    }
}

/// Renders `spec` as a `size` x `size` image, drawn at `supersample` times that size and
/// averaged down.
pub fn render(spec: &FaceSpec, size: u32, supersample: u32) -> RgbImage {
    let side = size * supersample;
    let mut canvas = RgbImage::new(side, side);
    let nuisance = &spec.nuisance;
    nuisance.draw_background(&mut canvas);
    let s = side as f32;
    let pose = Pose::new(
        Vec2::new(s * (0.5 + nuisance.shift.x), s * (0.53 + nuisance.shift.y)),
        s * 0.33 * nuisance.scale,
        nuisance.rotation,
    );
    let face = Face {
        id: &spec.identity,
        au: &spec.action_units,
        pose,
    };
    face.draw(&mut canvas);
    if let Some(occluder) = &nuisance.occluder {
        let id = &spec.identity;
        occluder.draw(&mut canvas, &pose, id.eye_y, id.eye_spacing, id.mouth_y);
    }
    nuisance.finish(&canvas, supersample)
}

/// A person with an expression, placed on the canvas.
struct Face<'a> {
    id: &'a Identity,
    au: &'a ActionUnits,
    pose: Pose,
}

/// Curve sampling density: points per curve segment.
const SEGMENTS: usize = 10;

impl Face<'_> {
    fn draw(&self, canvas: &mut RgbImage) {
        self.draw_body(canvas);
        self.draw_head(canvas);
        self.draw_forehead_lines(canvas);
        self.draw_hair(canvas);
        self.draw_brows(canvas);
        for side in [-1.0, 1.0] {
            self.draw_eye(canvas, side);
        }
        self.draw_nose(canvas);
        self.draw_mouth(canvas);
        self.draw_glasses(canvas);
    }

    fn fill(&self, canvas: &mut RgbImage, points: &[Vec2], color: Rgb<u8>) {
        fill(canvas, &self.pose, points, color);
    }

    /// A thick line along `path`.
    fn line(&self, canvas: &mut RgbImage, path: &[Vec2], width: f32, color: Rgb<u8>) {
        // Keep strokes at least one supersampled pixel wide so that they never vanish.
        let width = width.max(1.0 / self.pose.scale());
        fill(canvas, &self.pose, &stroke(path, width), color);
    }

    /// A crease of the skin: the skin darkened in proportion to `strength` (0 invisible).
    fn crease(&self, strength: f32) -> Rgb<u8> {
        mix(self.id.skin, shade(self.id.skin, 0.45), strength)
    }

    /// Draws a crease along `path` unless it is too faint to see.
    fn crease_line(&self, canvas: &mut RgbImage, path: &[Vec2], strength: f32) {
        if strength > 0.04 {
            self.line(canvas, path, 0.035, self.crease(strength));
        }
    }

    fn draw_body(&self, canvas: &mut RgbImage) {
        let id = self.id;
        let bottom = id.face_height + 0.12 * self.au.jaw_drop;
        if id.hair == HairStyle::Long {
            let w = id.face_width;
            let mut back: Vec<Vec2> = (0..=12)
                .map(|k| {
                    let a = std::f32::consts::PI * (1.0 + k as f32 / 12.0);
                    Vec2::new(1.18 * w * a.cos(), 1.1 * id.face_height * a.sin() - 0.05)
                })
                .collect();
            back.extend([
                Vec2::new(1.3 * w, bottom + 0.5),
                Vec2::new(-1.3 * w, bottom + 0.5),
            ]);
            self.fill(canvas, &back, shade(id.hair_color, 0.85));
        }
        let neck = [
            Vec2::new(-0.36, 0.3),
            Vec2::new(0.36, 0.3),
            Vec2::new(0.42, bottom + 0.6),
            Vec2::new(-0.42, bottom + 0.6),
        ];
        self.fill(canvas, &neck, shade(id.skin, 0.82));
        let shoulders = [
            Vec2::new(-0.45, bottom + 0.3),
            Vec2::new(0.0, bottom + 0.55),
            Vec2::new(0.45, bottom + 0.3),
            Vec2::new(2.6, bottom + 0.7),
            Vec2::new(2.6, 4.0),
            Vec2::new(-2.6, 4.0),
            Vec2::new(-2.6, bottom + 0.7),
        ];
        self.fill(canvas, &shoulders, id.clothes);
        for side in [-1.0, 1.0] {
            let ear = ellipse(
                Vec2::new(side * id.face_width * 0.97, id.eye_y + 0.12),
                0.11,
                0.19,
                12,
            );
            self.fill(canvas, &ear, shade(id.skin, 0.92));
        }
    }

    fn draw_head(&self, canvas: &mut RgbImage) {
        let id = self.id;
        let stretch = 1.0 + 0.12 * self.au.jaw_drop / id.face_height;
        let outline: Vec<Vec2> = superellipse(
            Vec2::new(0.0, 0.0),
            id.face_width,
            id.face_height,
            id.jaw_squareness,
            40,
        )
        .into_iter()
        .map(|p| {
            if p.y > 0.0 {
                // Taper towards the chin; a dropped jaw lengthens the lower face.
                let taper = 1.0 - 0.18 * (p.y / id.face_height).powi(2);
                Vec2::new(p.x * taper, p.y * stretch)
            } else {
                p
            }
        })
        .collect();
        self.fill(canvas, &outline, id.skin);
    }

    fn brow_y(&self) -> f32 {
        self.id.eye_y - self.id.brow_gap - self.id.resting_brow
    }

    fn draw_forehead_lines(&self, canvas: &mut RgbImage) {
        let au = self.au;
        let raise = 0.55 * au.inner_brow_raise + 0.45 * au.outer_brow_raise;
        let half = 0.18 + 0.22 * au.outer_brow_raise;
        for k in 0..2 {
            let y = self.brow_y() - 0.2 - 0.09 * k as f32;
            let path = bezier_points(
                [
                    Vec2::new(-half, y + 0.02),
                    Vec2::new(-half / 3.0, y - 0.02),
                    Vec2::new(half / 3.0, y - 0.02),
                    Vec2::new(half, y + 0.02),
                ],
                SEGMENTS,
            );
            self.crease_line(canvas, &path, self.id.crease * 0.5 + 0.8 * raise);
        }
        for side in [-1.0, 1.0] {
            let x = side * 0.05;
            let y = self.brow_y() + 0.1 * au.brow_lower;
            let path = [Vec2::new(x, y - 0.05), Vec2::new(x * 1.2, y + 0.1)];
            self.crease_line(canvas, &path, 0.85 * au.brow_lower);
        }
    }

    fn draw_hair(&self, canvas: &mut RgbImage) {
        let id = self.id;
        if id.hair == HairStyle::Bald {
            return;
        }
        let (w, h) = (id.face_width * 1.07, id.face_height * 1.08);
        let temple = 0.4;
        // The outer edge: the top of a slightly enlarged head, from the left temple round to
        // the right one; then the hairline back.
        let mut cap: Vec<Vec2> = (0..=16)
            .map(|k| {
                let a = std::f32::consts::PI
                    + temple
                    + (std::f32::consts::PI - 2.0 * temple) * k as f32 / 16.0;
                Vec2::new(w * a.cos(), h * a.sin() - 0.03)
            })
            .collect();
        let hairline = if id.hair == HairStyle::Fringe {
            self.brow_y() - 0.13
        } else {
            -0.62 * id.face_height
        };
        let (right, left) = (cap[16], cap[0]);
        let p = id.parting;
        cap.extend(bezier_points(
            [
                right,
                Vec2::new(0.55 + p * 0.3, hairline + 0.05),
                Vec2::new(p * 0.5, hairline - 0.08),
                left,
            ],
            SEGMENTS,
        ));
        self.fill(canvas, &cap, id.hair_color);
    }

    fn draw_brows(&self, canvas: &mut RgbImage) {
        let (id, au) = (self.id, self.au);
        let color = mix(id.hair_color, Rgb([35, 28, 24]), 0.45);
        let base = self.brow_y();
        for side in [-1.0, 1.0] {
            let inner = Vec2::new(
                side * (id.eye_spacing - 0.85 * id.eye_width - 0.08 * au.brow_lower),
                base - 0.14 * au.inner_brow_raise + 0.11 * au.brow_lower,
            );
            let outer = Vec2::new(
                side * (id.eye_spacing + 1.2 * id.eye_width),
                base + 0.03 - 0.12 * au.outer_brow_raise + 0.03 * au.brow_lower,
            );
            let mid = Vec2::new(
                side * (id.eye_spacing + 0.15 * id.eye_width),
                base - id.brow_arch - 0.12 * au.outer_brow_raise - 0.06 * au.inner_brow_raise
                    + 0.08 * au.brow_lower,
            );
            // A quadratic through `mid`, written as a cubic Bezier.
            let chord = inner.lerp(outer, 0.5);
            let q = Vec2::new(2.0 * mid.x - chord.x, 2.0 * mid.y - chord.y);
            let path = bezier_points(
                [
                    inner,
                    inner.lerp(q, 2.0 / 3.0),
                    outer.lerp(q, 2.0 / 3.0),
                    outer,
                ],
                SEGMENTS,
            );
            self.line(canvas, &path, id.brow_thickness, color);
        }
    }

    fn draw_eye(&self, canvas: &mut RgbImage, side: f32) {
        let (id, au) = (self.id, self.au);
        let h = id.eye_opening;
        let upper = h
            * (1.0 + 1.0 * au.upper_lid_raise
                - 0.3 * au.lid_tighten
                - 0.3 * au.cheek_raise
                - 0.25 * au.brow_lower)
                .max(0.25);
        let lower = (h
            * (0.85 + 0.3 * au.upper_lid_raise - 0.75 * au.lid_tighten - 0.95 * au.cheek_raise))
            .max(-0.6 * upper);
        let inner = Vec2::new(side * (id.eye_spacing - id.eye_width), id.eye_y);
        let outer = Vec2::new(
            side * (id.eye_spacing + id.eye_width),
            id.eye_y - id.eye_tilt,
        );
        let lid = |t: f32, rise: f32| {
            let p = inner.lerp(outer, t);
            Vec2::new(p.x, p.y - 4.0 * rise * t * (1.0 - t))
        };
        let ts = (0..=SEGMENTS).map(|k| k as f32 / SEGMENTS as f32);
        let top: Vec<Vec2> = ts.clone().map(|t| lid(t, upper)).collect();
        let white: Vec<Vec2> = top
            .iter()
            .copied()
            .chain(ts.rev().map(|t| lid(t, -lower)))
            .collect();
        self.fill(canvas, &white, Rgb([238, 236, 230]));
        // Iris and pupil, clipped to the opening between the lids.
        let centre = Vec2::new(
            side * id.eye_spacing + id.gaze.x * id.eye_width * 0.6,
            id.eye_y - id.eye_tilt / 2.0 + id.gaze.y * h,
        );
        let clip = |p: Vec2| {
            let t = ((p.x - inner.x) / (outer.x - inner.x)).clamp(0.02, 0.98);
            let (a, b) = (lid(t, upper).y, lid(t, -lower).y);
            Vec2::new(inner.lerp(outer, t).x, p.y.clamp(a.min(b), a.max(b)))
        };
        for (radius, color) in [(0.95 * h, id.iris), (0.45 * h, Rgb([15, 12, 12]))] {
            let disc: Vec<Vec2> = ellipse(centre, radius, radius, 14)
                .into_iter()
                .map(clip)
                .collect();
            self.fill(canvas, &disc, color);
        }
        self.line(canvas, &top, 0.035, shade(id.skin, 0.3));
        // Raised cheeks and tightened lids crease the skin below the eye.
        let bag: Vec<Vec2> = (0..=SEGMENTS)
            .map(|k| {
                let t = 0.15 + 0.75 * k as f32 / SEGMENTS as f32;
                let p = lid(t, -lower);
                Vec2::new(p.x, p.y + 0.06)
            })
            .collect();
        self.crease_line(canvas, &bag, 0.75 * au.cheek_raise + 0.4 * au.lid_tighten);
    }

    fn draw_nose(&self, canvas: &mut RgbImage) {
        let (id, au) = (self.id, self.au);
        let lift = 0.05 * au.nose_wrinkle + 0.02 * au.upper_lip_raise;
        let (y, w) = (
            id.nose_y - lift,
            id.nose_width * (1.0 + 0.25 * au.nose_wrinkle),
        );
        let bridge = [Vec2::new(0.06, id.eye_y + 0.05), Vec2::new(0.09, y - 0.08)];
        self.crease_line(canvas, &bridge, 0.3);
        let base = bezier_points(
            [
                Vec2::new(-w, y - 0.05),
                Vec2::new(-w, y + 0.06),
                Vec2::new(w, y + 0.06),
                Vec2::new(w, y - 0.05),
            ],
            SEGMENTS,
        );
        self.crease_line(canvas, &base, 0.45);
        for side in [-1.0, 1.0] {
            let nostril = ellipse(Vec2::new(side * w * 0.5, y + 0.01), 0.045, 0.022, 10);
            self.fill(canvas, &nostril, shade(id.skin, 0.4));
        }
        // AU 9: wrinkles across the bridge.
        for k in 0..3 {
            let wy = id.eye_y + 0.04 + 0.05 * k as f32;
            let wrinkle = [
                Vec2::new(-0.07, wy + 0.01),
                Vec2::new(0.0, wy - 0.01),
                Vec2::new(0.07, wy + 0.01),
            ];
            self.crease_line(canvas, &wrinkle, 0.9 * au.nose_wrinkle);
        }
        // The nasolabial folds, from the nose wings past the mouth corners.
        let mouth = self.mouth_shape();
        let fold = id.crease
            + (0.45 * (au.cheek_raise + au.lip_corner_pull))
                .max(0.6 * au.nose_wrinkle + 0.4 * au.upper_lip_raise);
        for side in [-1.0, 1.0] {
            let path = bezier_points(
                [
                    Vec2::new(side * (w + 0.04), y - 0.03),
                    Vec2::new(side * (w + 0.14), y + 0.05),
                    Vec2::new(side * (mouth.width + 0.12), mouth.corner_y - 0.05),
                    Vec2::new(side * (mouth.width + 0.07), mouth.corner_y + 0.08),
                ],
                SEGMENTS,
            );
            self.crease_line(canvas, &path, fold.min(1.0));
        }
    }

    fn mouth_shape(&self) -> MouthShape {
        let (id, au) = (self.id, self.au);
        let width = (id.mouth_width
            * (1.0 + 0.2 * au.lip_corner_pull + 0.35 * au.lip_stretch
                - 0.22 * au.lip_press
                - 0.3 * au.jaw_drop * (1.0 - au.lip_stretch)))
            .max(0.12);
        let corner_y = id.mouth_y - id.resting_smile - 0.15 * au.lip_corner_pull
            + 0.13 * au.lip_corner_depress
            + 0.07 * au.lip_stretch;
        let open = 0.4 * au.jaw_drop + 0.08 * au.lip_stretch + 0.1 * au.lip_corner_pull;
        let upper_inner = id.mouth_y - 0.08 * au.upper_lip_raise - 0.25 * open;
        let lower_inner = id.mouth_y + 0.75 * open - 0.03 * au.chin_raise;
        let thin = (1.0 - 0.7 * au.lip_press) * (1.0 - 0.3 * au.lip_stretch);
        MouthShape {
            width,
            corner_y,
            upper_inner,
            lower_inner,
            upper_outer: upper_inner - id.lip_thickness * thin,
            lower_outer: lower_inner + 1.25 * id.lip_thickness * thin,
        }
    }

    fn draw_mouth(&self, canvas: &mut RgbImage) {
        let (id, au) = (self.id, self.au);
        let m = self.mouth_shape();
        let curve = |centre_y: f32| m.curve(centre_y);
        let upper_outer = curve(m.upper_outer);
        let lower_outer = curve(m.lower_outer);
        let lips: Vec<Vec2> = upper_outer
            .iter()
            .chain(lower_outer.iter().rev())
            .copied()
            .collect();
        self.fill(canvas, &lips, id.lips);
        let (upper_inner, lower_inner) = (curve(m.upper_inner), curve(m.lower_inner));
        let gap = m.lower_inner - m.upper_inner;
        if gap > 0.015 {
            let inside: Vec<Vec2> = upper_inner
                .iter()
                .chain(lower_inner.iter().rev())
                .copied()
                .collect();
            self.fill(canvas, &inside, Rgb([70, 22, 28]));
            let teeth_edge = curve(m.upper_inner + (0.6 * gap).min(0.07));
            let teeth: Vec<Vec2> = upper_inner
                .iter()
                .chain(teeth_edge.iter().rev())
                .copied()
                .collect();
            self.fill(canvas, &teeth, Rgb([236, 232, 218]));
        }
        self.line(canvas, &upper_inner, 0.022, shade(id.lips, 0.55));
        let chin_y = m.lower_outer + 0.11;
        let chin = [
            Vec2::new(-0.12, chin_y),
            Vec2::new(0.0, chin_y + 0.03),
            Vec2::new(0.12, chin_y),
        ];
        self.crease_line(canvas, &chin, 0.7 * au.chin_raise);
    }

    fn draw_glasses(&self, canvas: &mut RgbImage) {
        let id = self.id;
        let Some(glasses) = id.glasses else {
            return;
        };
        let rx = id.eye_width + 0.08;
        for side in [-1.0, 1.0] {
            let centre = Vec2::new(side * id.eye_spacing, id.eye_y - 0.01);
            let mut rim = superellipse(centre, rx, glasses.rim_height, glasses.squareness, 24);
            rim.push(rim[0]);
            self.line(canvas, &rim, 0.035, glasses.frame);
            let temple = [
                Vec2::new(side * (id.eye_spacing + rx), id.eye_y - 0.03),
                Vec2::new(side * id.face_width * 0.98, id.eye_y + 0.02),
            ];
            self.line(canvas, &temple, 0.03, glasses.frame);
        }
        let bridge = [
            Vec2::new(-(id.eye_spacing - rx), id.eye_y - 0.04),
            Vec2::new(0.0, id.eye_y - 0.07),
            Vec2::new(id.eye_spacing - rx, id.eye_y - 0.04),
        ];
        self.line(canvas, &bridge, 0.03, glasses.frame);
    }
}

/// The mouth of one face: corners at `(±width, corner_y)`, four lip curves through the midline
/// at the given heights.
struct MouthShape {
    width: f32,
    corner_y: f32,
    upper_outer: f32,
    upper_inner: f32,
    lower_inner: f32,
    lower_outer: f32,
}

impl MouthShape {
    /// The lip curve from the left corner to the right one through `(0, centre_y)`.
    fn curve(&self, centre_y: f32) -> Vec<Vec2> {
        let (l, r) = (
            Vec2::new(-self.width, self.corner_y),
            Vec2::new(self.width, self.corner_y),
        );
        // Control points at equal height k make the midpoint 0.25 corner + 0.75 k.
        let k = (centre_y - 0.25 * self.corner_y) / 0.75;
        let p = [
            l,
            Vec2::new(-self.width / 3.0, k),
            Vec2::new(self.width / 3.0, k),
            r,
        ];
        (0..=SEGMENTS)
            .map(|i| bezier(p, i as f32 / SEGMENTS as f32))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SynthFer;

    /// The sum of absolute differences between two images.
    fn distance(a: &RgbImage, b: &RgbImage) -> u64 {
        a.as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(&x, &y)| u64::from(x.abs_diff(y)))
            .sum()
    }

    /// A person without occluder, blur or noise (so that only the expression differs).
    fn clean_person(index: usize) -> FaceSpec {
        let data = SynthFer::new(SynthFerConfig::default(), afcn_data::Split::Train).unwrap();
        let mut spec = data.spec(index);
        spec.nuisance.occluder = None;
        spec.nuisance.noise_std = 0.0;
        spec
    }

    #[test]
    fn every_expression_renders_and_moves_the_face() {
        for person in 0..3 {
            let spec = clean_person(person);
            let neutral = render(
                &spec.clone().with_expression(Expression::Neutral, 1.0),
                48,
                2,
            );
            let mut faces = Vec::new();
            for expression in Expression::ALL {
                let face = render(&spec.clone().with_expression(expression, 1.0), 48, 2);
                assert_eq!(face.dimensions(), (48, 48));
                if expression != Expression::Neutral {
                    assert!(
                        distance(&face, &neutral) > 2000,
                        "{expression} looks neutral"
                    );
                }
                faces.push(face);
            }
            for (i, a) in faces.iter().enumerate() {
                for b in &faces[i + 1..] {
                    assert_ne!(a, b);
                }
            }
        }
    }

    #[test]
    fn low_intensity_approaches_neutral() {
        let spec = clean_person(4);
        let neutral = render(
            &spec.clone().with_expression(Expression::Neutral, 1.0),
            48,
            2,
        );
        for expression in &Expression::ALL[..6] {
            let at =
                |intensity| render(&spec.clone().with_expression(*expression, intensity), 48, 2);
            assert_eq!(at(0.0), neutral, "{expression} at intensity 0");
            let (low, high) = (distance(&at(0.2), &neutral), distance(&at(1.0), &neutral));
            assert!(low < high, "{expression}: {low} >= {high}");
        }
    }

    #[test]
    fn extreme_knobs_never_panic() {
        let config = SynthFerConfig {
            image_size: 16,
            supersample: 1,
            min_intensity: 0.0,
            max_shift: 1.0,
            max_scale_jitter: 1.0,
            max_rotation_deg: 45.0,
            max_illumination: 1.0,
            max_clutter: 20,
            glasses_prob: 1.0,
            occlusion_prob: 1.0,
            blur_prob: 1.0,
            max_blur_sigma: 0.0,
            max_noise_std: 128.0,
            ..SynthFerConfig::default()
        };
        let data = SynthFer::new(config, afcn_data::Split::Test).unwrap();
        for index in 0..300 {
            assert_eq!(data.render(index).dimensions(), (16, 16));
        }
    }
}
