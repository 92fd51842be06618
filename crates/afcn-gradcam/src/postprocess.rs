//! From a raw class activation map to a heat map at the input's resolution, as pytorch-grad-cam
//! does it: ReLU, per-image min-max normalisation, bilinear resize, and normalisation again.

use burn::tensor::{
    Tensor,
    activation::relu,
    backend::Backend,
    module::interpolate,
    ops::{InterpolateMode, InterpolateOptions},
};

/// Keeps the division of a constant map finite, as pytorch-grad-cam does.
const EPS: f32 = 1e-7;

/// Per-image min-max normalisation to `[0, 1)`: `(m - min m) / (max(m - min m) + 1e-7)`.
///
/// A constant map becomes all zeros.
///
/// # Shapes
/// - `maps`: `[N, h, w]`; returns `[N, h, w]`.
pub fn normalize_min_max<B: Backend>(maps: Tensor<B, 3>) -> Tensor<B, 3> {
    let [n, h, w] = maps.dims();
    let flat = maps.reshape([n, h * w]);
    let shifted = flat.clone() - flat.min_dim(1);
    let scale = shifted.clone().max_dim(1).add_scalar(EPS);
    (shifted / scale).reshape([n, h, w])
}

/// Bilinear resize of each map to `size = [height, width]`, with half-pixel centres
/// (`align_corners = false`): the convention of OpenCV's `resize` and of PyTorch's
/// `interpolate(..., align_corners=False)`.
///
/// # Shapes
/// - `maps`: `[N, h, w]`; returns `[N, height, width]`.
pub fn upsample<B: Backend>(maps: Tensor<B, 3>, size: [usize; 2]) -> Tensor<B, 3> {
    let [n, h, w] = maps.dims();
    let options = InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(false);
    interpolate(maps.reshape([n, 1, h, w]), size, options).reshape([n, size[0], size[1]])
}

/// The displayable heat map of raw class activation maps: ReLU, min-max normalisation,
/// bilinear resize to `size = [height, width]`, min-max normalisation again (pytorch-grad-cam
/// normalises before resizing and once more after it). Values lie in `[0, 1)`.
///
/// # Shapes
/// - `raw`: `[N, h, w]`; returns `[N, height, width]`.
pub fn heatmap<B: Backend>(raw: Tensor<B, 3>, size: [usize; 2]) -> Tensor<B, 3> {
    normalize_min_max(upsample(normalize_min_max(relu(raw)), size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::{TensorData, Tolerance};

    type B = Flex;

    #[test]
    fn min_max_normalisation_is_per_image() {
        let device = Default::default();
        let maps = Tensor::<B, 3>::from_floats(
            [[[1.0, 3.0], [2.0, 5.0]], [[-2.0, -2.0], [-2.0, -2.0]]],
            &device,
        );
        normalize_min_max(maps).into_data().assert_approx_eq::<f32>(
            &TensorData::from([[[0.0, 0.5], [0.25, 1.0]], [[0.0, 0.0], [0.0, 0.0]]]),
            Tolerance::absolute(1e-6),
        );
    }

    #[test]
    fn upsampling_uses_half_pixel_centres() {
        let device = Default::default();
        // 1x2 -> 1x4: output centres map to source x = -0.25, 0.25, 0.75, 1.25, clamped to
        // the border: values 0, 0.25, 0.75, 1 of the ramp from 0 to 1.
        let maps = Tensor::<B, 3>::from_floats([[[0.0, 1.0]]], &device);
        upsample(maps, [1, 4]).into_data().assert_approx_eq::<f32>(
            &TensorData::from([[[0.0, 0.25, 0.75, 1.0]]]),
            Tolerance::absolute(1e-6),
        );
    }

    #[test]
    fn heatmap_clips_negative_evidence() {
        let device = Default::default();
        let raw = Tensor::<B, 3>::from_floats([[[-4.0, 2.0], [0.0, 4.0]]], &device);
        heatmap(raw, [2, 2]).into_data().assert_approx_eq::<f32>(
            &TensorData::from([[[0.0, 0.5], [0.0, 1.0]]]),
            Tolerance::absolute(1e-6),
        );
    }
}
