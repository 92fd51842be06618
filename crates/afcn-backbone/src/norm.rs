//! Batch normalisation of a `[N, C, H, W]` activation, laid out for speed on Burn 0.21's
//! CPU backend.
//!
//! burn-nn's [`BatchNorm::forward`] broadcasts `[1, C, 1, 1]` statistics and affine parameters
//! against the `[N, C, H, W]` activation. Burn 0.21's flex backend has SIMD kernels for a
//! broadcast only when the broadcast dimensions are the innermost ones, so each of those
//! element-wise operations (four forward, more backward) walks the tensor element by element.
//! [`batch_norm`] computes the same function on a `[N, C, H*W]` view with per-channel values
//! repeated to `[N, C, 1]`, a shape flex runs as a SIMD loop. The parameters stay in burn-nn's
//! [`BatchNorm`], so records and weight import are unchanged.

use burn::{
    nn::BatchNorm,
    tensor::{Tensor, backend::Backend},
};

/// Applies `bn` to `x`: batch statistics when `B` is an autodiff backend (which also updates
/// the running statistics), the running statistics otherwise; Burn's `B::ad_enabled`
/// convention, as [`BatchNorm::forward`].
///
/// It differs from [`BatchNorm::forward`] in one respect, on purpose: the running variance is
/// updated with the unbiased batch variance (`n / (n - 1)` times the biased one, n = N*H*W),
/// as PyTorch does, so that running statistics learnt here match a PyTorch run. The
/// normalisation itself uses the biased variance in both.
///
/// # Shapes
/// - `x`: `[N, C, H, W]`
/// - output: `[N, C, H, W]`
pub fn batch_norm<B: Backend>(bn: &BatchNorm<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    let x = x.reshape([n, c, h * w]);
    let y = if B::ad_enabled(&x.device()) {
        batch_statistics(bn, x)
    } else {
        running_statistics(bn, x)
    };
    y.reshape([n, c, h, w])
}

/// Train mode on `[N, C, L]`: normalise by this batch's mean and biased variance, and move the
/// running statistics towards them by the momentum.
fn batch_statistics<B: Backend>(bn: &BatchNorm<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [n, c, l] = x.dims();
    let count = (n * l) as f64;
    let mean = x.clone().sum_dim(2).sum_dim(0).div_scalar(count);
    let centred = x - mean.clone().repeat_dim(0, n);
    let var = centred
        .clone()
        .square()
        .sum_dim(2)
        .sum_dim(0)
        .div_scalar(count)
        .reshape([c]);

    let unbiased = count / (count - 1.0).max(1.0);
    let device = var.device();
    let moved = |running: Tensor<B, 1>, batch: Tensor<B, 1>| {
        running.to_device(&device).mul_scalar(1.0 - bn.momentum)
            + batch.detach().mul_scalar(bn.momentum)
    };
    bn.running_mean
        .update(moved(bn.running_mean.value_sync(), mean.reshape([c])));
    bn.running_var.update(moved(
        bn.running_var.value_sync(),
        var.clone().mul_scalar(unbiased),
    ));

    let scale = bn.gamma.val() / var.add_scalar(bn.epsilon).sqrt();
    per_channel_affine(centred, scale, bn.beta.val())
}

/// Eval mode on `[N, C, L]`: the running statistics and the affine parameters folded into one
/// per-channel scale and shift.
fn running_statistics<B: Backend>(bn: &BatchNorm<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let device = x.device();
    let mean = bn.running_mean.value().to_device(&device);
    let var = bn.running_var.value().to_device(&device);
    let scale = bn.gamma.val() / var.add_scalar(bn.epsilon).sqrt();
    let shift = bn.beta.val() - mean * scale.clone();
    per_channel_affine(x, scale, shift)
}

/// `x * scale + shift` with one `[C]` scale and shift per channel of `[N, C, L]`, each
/// repeated to `[N, C, 1]`: a broadcast along the last axis only, which flex runs on its SIMD
/// path (a `[1, C, 1]` operand would not be).
fn per_channel_affine<B: Backend>(
    x: Tensor<B, 3>,
    scale: Tensor<B, 1>,
    shift: Tensor<B, 1>,
) -> Tensor<B, 3> {
    let [n, c, _] = x.dims();
    let column = |values: Tensor<B, 1>| values.reshape([1, c, 1]).repeat_dim(0, n);
    x * column(scale) + column(shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::{
        backend::{Autodiff, Flex},
        module::AutodiffModule,
        nn::BatchNormConfig,
        tensor::{Distribution, Tolerance},
    };

    type B = Flex;
    type AD = Autodiff<Flex>;

    /// A batch norm with non-trivial parameters and running statistics.
    fn layer(device: &burn::backend::flex::FlexDevice) -> BatchNorm<AD> {
        let mut bn = BatchNormConfig::new(5).init::<AD>(device);
        let values =
            |lo: f64, hi: f64| Tensor::<AD, 1>::random([5], Distribution::Uniform(lo, hi), device);
        bn.gamma = bn.gamma.map(|_| values(0.5, 2.0).require_grad());
        bn.beta = bn.beta.map(|_| values(-1.0, 1.0).require_grad());
        bn.running_mean = burn::module::RunningState::new(values(-0.5, 0.5));
        bn.running_var = burn::module::RunningState::new(values(0.5, 1.5));
        bn
    }

    fn input<BB: Backend>(device: &BB::Device) -> Tensor<BB, 4> {
        Tensor::random([3, 5, 4, 6], Distribution::Normal(0.3, 2.0), device)
    }

    #[test]
    fn train_mode_matches_burn_nn_in_output_and_gradients() {
        let device = Default::default();
        let ours = layer(&device);
        let theirs = ours.clone();
        let var_before = ours.running_var.value();
        let x = input::<AD>(&device).require_grad();
        let weights = Tensor::<AD, 4>::random([3, 5, 4, 6], Distribution::Default, &device);

        let y_ours = batch_norm(&ours, x.clone());
        let y_theirs = theirs.forward(x.clone());
        let tol = Tolerance::rel_abs(1e-5, 1e-5);
        y_ours
            .clone()
            .into_data()
            .assert_approx_eq::<f32>(&y_theirs.clone().into_data(), tol);

        let g_ours = (y_ours * weights.clone()).sum().backward();
        let g_theirs = (y_theirs * weights).sum().backward();
        let grads = |g| {
            let x_grad = x.grad(g).expect("x gradient").reshape([-1]);
            let gamma = ours.gamma.val().grad(g).expect("gamma gradient");
            let beta = ours.beta.val().grad(g).expect("beta gradient");
            Tensor::cat(vec![x_grad, gamma, beta], 0)
        };
        grads(&g_ours)
            .into_data()
            .assert_approx_eq::<f32>(&grads(&g_theirs).into_data(), tol);

        // The running mean moves as burn-nn's does; the running variance towards the unbiased
        // batch variance, as PyTorch's does.
        ours.running_mean
            .value()
            .into_data()
            .assert_approx_eq::<f32>(&theirs.running_mean.value().into_data(), tol);
        let unbiased = x
            .inner()
            .swap_dims(0, 1)
            .reshape([5, -1])
            .var(1)
            .reshape([5]);
        let expected = var_before.inner() * 0.9 + unbiased * 0.1;
        ours.running_var
            .value()
            .inner()
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), tol);
    }

    #[test]
    fn eval_mode_matches_burn_nn() {
        let device = Default::default();
        let bn = layer(&device).valid();
        let x = input::<B>(&device);
        batch_norm(&bn, x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&bn.forward(x).into_data(), Tolerance::rel_abs(1e-5, 1e-6));
    }
}
