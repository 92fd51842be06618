//! RUL's losses (Zhang et al., "Relative Uncertainty Learning for Facial Expression
//! Recognition"): uncertainty-weighted feature mixing and the add-up loss.

use burn::tensor::{Int, Tensor, backend::Backend};

use crate::cross_entropy::cross_entropy_per_sample;

/// Each sample's uncertainty `u_i = mean_d exp(log_var_id)` from the log-variance head.
///
/// # Shapes
/// - `log_variance`: `[N, D]`
/// - returns `[N]`
pub fn relative_uncertainty<B: Backend>(log_variance: Tensor<B, 2>) -> Tensor<B, 1> {
    let [n, _] = log_variance.dims();
    log_variance.exp().mean_dim(1).reshape([n])
}

/// Features of a batch mixed with those of a partner sample, and the mixing weights.
#[derive(Debug, Clone)]
pub struct RulMix<B: Backend> {
    /// `m_i = lambda_i f_i + (1 - lambda_i) f_j`. Shape `[N, D]`.
    pub features: Tensor<B, 2>,
    /// `lambda_i = u_i / (u_i + u_j)`. Shape `[N]`.
    pub weights: Tensor<B, 1>,
}

/// Mixes every sample `i` with its partner `j = partners[i]`, weighting the two by their
/// relative uncertainty: `lambda_i = u_i / (u_i + u_j)`, `m_i = lambda_i f_i + (1 - lambda_i)
/// f_j`. Gradients reach the features and the uncertainties. The partners are a random
/// permutation drawn by the caller.
///
/// # Shapes
/// - `features`: `[N, D]` (the mean branch's embedding); `uncertainty`: `[N]`, positive
/// - `partners`: `[N]`, indices into the batch
pub fn mix_features<B: Backend>(
    features: Tensor<B, 2>,
    uncertainty: Tensor<B, 1>,
    partners: Tensor<B, 1, Int>,
) -> RulMix<B> {
    let [n, _] = features.dims();
    let partner_uncertainty = uncertainty.clone().select(0, partners.clone());
    let weights = uncertainty.clone() / (uncertainty + partner_uncertainty);
    let partner_features = features.clone().select(0, partners);
    let w = weights.clone().reshape([n, 1]);
    let mixed = partner_features.clone() + (features - partner_features) * w;
    RulMix {
        features: mixed,
        weights,
    }
}

/// RUL's add-up loss of the mixed samples' logits: `0.5 CE(out_i, y_i) + 0.5 CE(out_i, y_j)`,
/// averaged over the batch.
///
/// # Shapes
/// - `logits`: `[N, C]`, the classifier's output on the mixed features
/// - `labels`: `[N]`; `partners`: `[N]`, the same partners as in [`mix_features`]
/// - returns `[1]`
pub fn add_up_loss<B: Backend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
    partners: Tensor<B, 1, Int>,
) -> Tensor<B, 1> {
    let partner_labels = labels.clone().select(0, partners);
    let own = cross_entropy_per_sample(logits.clone(), labels);
    let partner = cross_entropy_per_sample(logits, partner_labels);
    (own + partner).mean().mul_scalar(0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    type B = Flex;

    fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().iter::<f32>().collect()
    }

    #[test]
    fn uncertainty_is_mean_variance() {
        let lv = Tensor::<B, 2>::from_data(
            [[0.0f32, 2f32.ln()], [3f32.ln(), 3f32.ln()]],
            &Default::default(),
        );
        let u = values(relative_uncertainty(lv));
        assert!(
            (u[0] - 1.5).abs() < 1e-6 && (u[1] - 3.0).abs() < 1e-6,
            "{u:?}"
        );
    }

    #[test]
    fn mixing_weights_follow_relative_uncertainty() {
        let device = Default::default();
        let f = Tensor::<B, 2>::from_data([[1.0f32, 0.0], [0.0, 1.0]], &device);
        let u = Tensor::<B, 1>::from_data([1.0f32, 3.0], &device);
        let partners = Tensor::<B, 1, Int>::from_data([1, 0], &device);
        let mix = mix_features(f, u, partners);
        assert_eq!(values(mix.weights), vec![0.25, 0.75]);
        // m_0 = 0.25 f_0 + 0.75 f_1, m_1 = 0.75 f_1 + 0.25 f_0.
        assert_eq!(values(mix.features), vec![0.25, 0.75, 0.25, 0.75]);
    }

    #[test]
    fn add_up_loss_averages_both_labels() {
        let device = Default::default();
        // Logits [0, ln 3]: CE to class 0 = ln 4, to class 1 = ln 4/3.
        let z = Tensor::<B, 2>::from_data([[0.0f32, 3f32.ln()], [0.0, 3f32.ln()]], &device);
        let y = Tensor::<B, 1, Int>::from_data([0, 1], &device);
        let partners = Tensor::<B, 1, Int>::from_data([1, 0], &device);
        let l = add_up_loss(z, y, partners).into_scalar();
        let want = 0.5 * (4f32.ln() + (4f32 / 3.0).ln());
        assert!((l - want).abs() < 1e-6, "{l} vs {want}");
    }
}
