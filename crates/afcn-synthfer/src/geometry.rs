//! Face-space geometry: points, the pose that maps face space to pixels, and the polygon
//! helpers every drawing step goes through.
//!
//! Face space has its origin at the centre of the face, `x` to the subject's left on the
//! image (image right), `y` downwards, and the unit is the half-width of an average face.

use image::{Rgb, RgbImage};
use imageproc::{drawing::draw_polygon_mut, point::Point};

/// A point or vector in face space or pixel space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vec2 {
    /// Horizontal coordinate, growing to the right.
    pub x: f32,
    /// Vertical coordinate, growing downwards.
    pub y: f32,
}

impl Vec2 {
    /// The point `(x, y)`.
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    /// Linear interpolation: `self` at `t = 0`, `other` at `t = 1`.
    pub fn lerp(self, other: Vec2, t: f32) -> Vec2 {
        Vec2::new(
            self.x + (other.x - self.x) * t,
            self.y + (other.y - self.y) * t,
        )
    }
}

/// A point on the cubic Bezier curve `p0 p1 p2 p3` at parameter `t` in `[0, 1]`.
pub fn bezier(p: [Vec2; 4], t: f32) -> Vec2 {
    let mt = 1.0 - t;
    let (a, b, c, d) = (mt * mt * mt, 3.0 * mt * mt * t, 3.0 * mt * t * t, t * t * t);
    Vec2::new(
        a * p[0].x + b * p[1].x + c * p[2].x + d * p[3].x,
        a * p[0].y + b * p[1].y + c * p[2].y + d * p[3].y,
    )
}

/// `n + 1` points sampled evenly in `t` along a cubic Bezier curve, both ends included.
pub fn bezier_points(p: [Vec2; 4], n: usize) -> Vec<Vec2> {
    (0..=n).map(|k| bezier(p, k as f32 / n as f32)).collect()
}

/// `n` points on the super-ellipse `|x/rx|^e + |y/ry|^e = 1` around `centre`; `e = 2` is an
/// ellipse, larger exponents are squarer.
pub fn superellipse(centre: Vec2, rx: f32, ry: f32, exponent: f32, n: usize) -> Vec<Vec2> {
    let power = 2.0 / exponent;
    (0..n)
        .map(|k| {
            let angle = std::f32::consts::TAU * k as f32 / n as f32;
            let (s, c) = angle.sin_cos();
            Vec2::new(
                centre.x + rx * c.signum() * c.abs().powf(power),
                centre.y + ry * s.signum() * s.abs().powf(power),
            )
        })
        .collect()
}

/// `n` points on an ellipse around `centre`.
pub fn ellipse(centre: Vec2, rx: f32, ry: f32, n: usize) -> Vec<Vec2> {
    superellipse(centre, rx, ry, 2.0, n)
}

/// The outline of a stroke of width `width` along the polyline `path`: the path offset by half
/// the width on one side, then back along the other side. Fill it to draw a thick curve.
pub fn stroke(path: &[Vec2], width: f32) -> Vec<Vec2> {
    let half = width / 2.0;
    let normal = |k: usize| {
        let a = path[k.saturating_sub(1)];
        let b = path[(k + 1).min(path.len() - 1)];
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len = (dx * dx + dy * dy).sqrt().max(1e-6);
        Vec2::new(-dy / len * half, dx / len * half)
    };
    let left = (0..path.len()).map(|k| {
        let n = normal(k);
        Vec2::new(path[k].x + n.x, path[k].y + n.y)
    });
    let right = (0..path.len()).rev().map(|k| {
        let n = normal(k);
        Vec2::new(path[k].x - n.x, path[k].y - n.y)
    });
    left.chain(right).collect()
}

/// The similarity transform from face space to pixel space (of the supersampled canvas):
/// rotate by `angle`, scale by `scale`, then translate to `centre`.
#[derive(Debug, Clone, Copy)]
pub struct Pose {
    centre: Vec2,
    cos: f32,
    sin: f32,
}

impl Pose {
    /// A pose putting the face-space origin at pixel `centre`, one face unit `scale` pixels
    /// long, rotated clockwise by `angle` radians.
    pub fn new(centre: Vec2, scale: f32, angle: f32) -> Self {
        let (sin, cos) = angle.sin_cos();
        Self {
            centre,
            cos: cos * scale,
            sin: sin * scale,
        }
    }

    /// The pixel position of face-space point `p`.
    pub fn apply(&self, p: Vec2) -> Vec2 {
        Vec2::new(
            self.centre.x + self.cos * p.x - self.sin * p.y,
            self.centre.y + self.sin * p.x + self.cos * p.y,
        )
    }

    /// How many pixels one face unit spans.
    pub fn scale(&self) -> f32 {
        self.cos.hypot(self.sin)
    }
}

/// Fills the polygon whose vertices are `points` (pixel space) with `color`.
///
/// imageproc's scan-line filler wants integer vertices, an open path, and (to keep its
/// crossing count even) no horizontal edges: vertices are rounded, repeated vertices dropped,
/// and a vertex level with its predecessor moved by one (supersampled) pixel.
pub fn fill_pixels(canvas: &mut RgbImage, points: impl IntoIterator<Item = Vec2>, color: Rgb<u8>) {
    let mut poly: Vec<Point<i32>> = Vec::new();
    for p in points {
        let q = Point::new(p.x.round() as i32, p.y.round() as i32);
        if poly.last() != Some(&q) {
            poly.push(q);
        }
    }
    while poly.len() > 1 && poly.first() == poly.last() {
        poly.pop();
    }
    if poly.len() < 3 {
        return;
    }
    // Walking forwards, each vertex is compared with its already-adjusted predecessor and
    // kept off its successor's level, so no two neighbours end up level.
    let n = poly.len();
    for k in 0..n {
        let prev = poly[(k + n - 1) % n].y;
        if poly[k].y == prev {
            let next = poly[(k + 1) % n].y;
            poly[k].y = [prev + 1, prev - 1, prev + 2]
                .into_iter()
                .find(|&y| y != next)
                .unwrap_or(prev + 1);
        }
    }
    draw_polygon_mut(canvas, &poly, color);
}

/// Fills a face-space polygon, mapped to pixels by `pose`.
pub fn fill(canvas: &mut RgbImage, pose: &Pose, points: &[Vec2], color: Rgb<u8>) {
    fill_pixels(canvas, points.iter().map(|&p| pose.apply(p)), color);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pose_rotates_scales_and_translates() {
        let pose = Pose::new(Vec2::new(10.0, 20.0), 2.0, std::f32::consts::FRAC_PI_2);
        let p = pose.apply(Vec2::new(1.0, 0.0));
        assert!(
            (p.x - 10.0).abs() < 1e-5 && (p.y - 22.0).abs() < 1e-5,
            "{p:?}"
        );
        assert!((pose.scale() - 2.0).abs() < 1e-6);
    }

    #[test]
    fn bezier_hits_its_end_points() {
        let p = [
            Vec2::new(0.0, 0.0),
            Vec2::new(1.0, 2.0),
            Vec2::new(3.0, 2.0),
            Vec2::new(4.0, 0.0),
        ];
        assert_eq!(bezier(p, 0.0), p[0]);
        assert_eq!(bezier(p, 1.0), p[3]);
        // Symmetric control polygon: the midpoint is at x = 2, y = 3/4 * 2.
        let mid = bezier(p, 0.5);
        assert!((mid.x - 2.0).abs() < 1e-6 && (mid.y - 1.5).abs() < 1e-6);
    }

    #[test]
    fn filled_square_covers_its_inside_only() {
        let mut canvas = RgbImage::new(10, 10);
        let square = [
            Vec2::new(2.0, 2.0),
            Vec2::new(7.0, 2.0),
            Vec2::new(7.0, 7.0),
            Vec2::new(2.0, 7.0),
        ];
        fill_pixels(&mut canvas, square, Rgb([255, 0, 0]));
        assert_eq!(canvas.get_pixel(4, 4), &Rgb([255, 0, 0]));
        assert_eq!(canvas.get_pixel(0, 0), &Rgb([0, 0, 0]));
        assert_eq!(canvas.get_pixel(9, 9), &Rgb([0, 0, 0]));
    }

    #[test]
    fn degenerate_and_level_polygons_never_panic() {
        let mut canvas = RgbImage::new(16, 16);
        let shapes: [&[Vec2]; 4] = [
            &[
                Vec2::new(1.0, 1.0),
                Vec2::new(1.0, 1.0),
                Vec2::new(1.0, 1.0),
            ],
            &[
                Vec2::new(1.0, 5.0),
                Vec2::new(9.0, 5.0),
                Vec2::new(12.0, 5.2),
            ],
            &[
                Vec2::new(0.0, 3.0),
                Vec2::new(5.0, 3.0),
                Vec2::new(5.0, 8.0),
                Vec2::new(9.0, 8.0),
                Vec2::new(9.0, 3.0),
                Vec2::new(14.0, 3.0),
                Vec2::new(14.0, 12.0),
                Vec2::new(0.0, 12.0),
            ],
            &[
                Vec2::new(-40.0, -3.0),
                Vec2::new(50.0, 20.0),
                Vec2::new(-4.0, 30.0),
            ],
        ];
        for shape in shapes {
            fill_pixels(&mut canvas, shape.iter().copied(), Rgb([9, 9, 9]));
        }
        // A stroke along a path with repeated points stays finite.
        let outline = stroke(
            &[
                Vec2::new(2.0, 2.0),
                Vec2::new(2.0, 2.0),
                Vec2::new(8.0, 9.0),
            ],
            2.0,
        );
        assert!(outline.iter().all(|p| p.x.is_finite() && p.y.is_finite()));
    }
}
