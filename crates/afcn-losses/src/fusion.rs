//! Attention fusion: the fused map of an image and its mirror, the consistency target.

use burn::tensor::{Tensor, backend::Backend};

/// The fused attention `A_f = beta A_1 + (1 - beta) flip_w(A_2)`, detached: a target, not a
/// path for gradients.
///
/// # Shapes
/// - `attention_1`: `[N, C, h, w]`, view 1's attention
/// - `attention_2_flipped`: `[N, C, h, w]`, view 2's attention flipped back, `flip_w(A_2)`
/// - returns `[N, C, h, w]`
pub fn fuse_attention<B: Backend>(
    attention_1: Tensor<B, 4>,
    attention_2_flipped: Tensor<B, 4>,
    beta: f64,
) -> Tensor<B, 4> {
    (attention_1.detach().mul_scalar(beta) + attention_2_flipped.detach().mul_scalar(1.0 - beta))
        .detach()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn fuses_with_beta_on_view_one() {
        let device = Default::default();
        let a1 = Tensor::<Flex, 4>::from_data([[[[1.0f32, 2.0]]]], &device);
        let a2 = Tensor::<Flex, 4>::from_data([[[[3.0f32, 6.0]]]], &device);
        let fused: Vec<f32> = fuse_attention(a1, a2, 0.25)
            .into_data()
            .iter::<f32>()
            .collect();
        assert_eq!(fused, vec![2.5, 5.0]);
    }
}
