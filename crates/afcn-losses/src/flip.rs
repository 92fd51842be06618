//! Horizontal flip of maps and images: `flip_w` reverses the width (last) axis.

use burn::tensor::{Tensor, backend::Backend};

/// Reverses the last axis (the width) of a map or image batch: `flip_w`. Differentiable.
///
/// # Shapes
/// - `maps`: `[N, C, h, w]`; returns the same shape.
pub fn flip_width<B: Backend>(maps: Tensor<B, 4>) -> Tensor<B, 4> {
    maps.flip([3])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn reverses_the_width_only() {
        let x = Tensor::<Flex, 4>::from_data(
            [[[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]]],
            &Default::default(),
        );
        let flipped: Vec<f32> = flip_width(x).into_data().iter::<f32>().collect();
        assert_eq!(flipped, vec![3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
    }
}
