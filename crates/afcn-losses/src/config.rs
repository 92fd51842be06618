//! The configuration of the AFCN objective: every knob of the specification.

use afcn_certainty::CorrectionRule;
use serde::{Deserialize, Serialize};

use afcn_certainty::InvalidField;

/// Every knob of the AFCN objective (the specification in `docs/method.md`), with its
/// defaults, and the five ablation switches.
///
/// Epochs count from 0. Deserializes the flat JSON shape of the reference fixtures
/// (`label_correction`, `certainty_weighting`, `gradcam_attention`, `attention_fusion`,
/// `consistency`, `beta`, `lambda`, `tau`, `delta`, `warmup_epochs`, `correct_from_epoch`);
/// missing keys take their defaults, unknown keys are rejected.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AfcnConfig {
    /// Switch: re-label uncertain samples from `correct_from_epoch` on. Default on.
    pub label_correction: bool,
    /// Switch: weight the cross-entropy by certainty after warm-up; off, every weight is 1.
    /// Default on.
    pub certainty_weighting: bool,
    /// Switch: Grad-CAM attention `ReLU(sum_k W_ck / (h w) F_k)`; off, EAC's raw class
    /// activation map `sum_k W_ck F_k`. Default on.
    pub gradcam_attention: bool,
    /// Switch: consistency towards the detached fused map; off, EAC's
    /// `mean (A_1 - flip_w(A_2))^2` with gradients to both sides. Default on.
    pub attention_fusion: bool,
    /// Switch: the fusion consistency term `L_fc`; off, no attention and no `L_fc` (and the
    /// second view is only used for certainty, when given). Default on.
    pub consistency: bool,
    /// Fusion weight of view 1: `A_f = beta A_1 + (1 - beta) flip_w(A_2)`, in `[0, 1]`.
    /// Default 0.5 (the paper's best grid point).
    pub beta: f64,
    /// Weight of the consistency term: `L = L_wce + lambda L_fc`, non-negative. Default 3 (the
    /// paper's best grid point).
    pub lambda: f64,
    /// Label correction: a label is uncertain when its mean predicted probability is below
    /// `tau`. Default 0.5.
    pub tau: f64,
    /// Label correction: the predicted class must beat the label by more than `delta`.
    /// Default 0.2 (SCN's margin).
    pub delta: f64,
    /// Certainty weights are all 1 in epochs `0..warmup_epochs`. Default 10, one sixth of the
    /// specification's 60 epochs (see [`AfcnConfig::for_epochs`]).
    pub warmup_epochs: usize,
    /// First epoch (0-based) with label correction. Default 10, one sixth of 60 epochs.
    pub correct_from_epoch: usize,
}

impl Default for AfcnConfig {
    fn default() -> Self {
        Self::for_epochs(60)
    }
}

impl AfcnConfig {
    /// The defaults for a run of `epochs` epochs: warm-up and the start of label correction at
    /// one sixth of the epochs (rounded down, and at least 1: an untrained network's
    /// predictions never re-label samples or weight them), everything else as in
    /// [`AfcnConfig::default`].
    pub fn for_epochs(epochs: usize) -> Self {
        let sixth = (epochs / 6).max(1);
        Self {
            label_correction: true,
            certainty_weighting: true,
            gradcam_attention: true,
            attention_fusion: true,
            consistency: true,
            beta: 0.5,
            lambda: 3.0,
            tau: 0.5,
            delta: 0.2,
            warmup_epochs: sixth,
            correct_from_epoch: sixth,
        }
    }

    /// The label correction rule these knobs describe.
    pub fn correction_rule(&self) -> CorrectionRule {
        CorrectionRule {
            tau: self.tau,
            delta: self.delta,
            from_epoch: self.correct_from_epoch,
        }
    }

    /// Whether `epoch` (0-based) is in the warm-up, where every certainty weight is 1.
    pub fn in_warm_up(&self, epoch: usize) -> bool {
        epoch < self.warmup_epochs
    }

    /// Whether labels are corrected in `epoch` (0-based).
    pub fn corrects_in(&self, epoch: usize) -> bool {
        self.label_correction && self.correction_rule().is_active(epoch)
    }

    /// Checks the ranges of the numeric knobs.
    pub fn validate(&self) -> Result<(), InvalidField> {
        InvalidField::fraction("beta", self.beta)?;
        InvalidField::non_negative("lambda", self.lambda)?;
        if !(self.tau.is_finite() && self.tau > 0.0) {
            return Err(InvalidField::new("tau", self.tau, "a finite value > 0"));
        }
        InvalidField::non_negative("delta", self.delta)
    }

    /// The configuration for a run of `epochs` epochs instead of `from`: warm-up and the start
    /// of label correction keep their share of the run (and start at epoch 1 at the earliest).
    pub fn with_epochs(mut self, from: usize, epochs: usize) -> Self {
        let rescale = |epoch: usize| {
            let share = epoch as f64 / from.max(1) as f64;
            ((share * epochs as f64).round() as usize).max(1)
        };
        self.warmup_epochs = rescale(self.warmup_epochs);
        self.correct_from_epoch = rescale(self.correct_from_epoch);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_specification_defaults() {
        let c = AfcnConfig::default();
        assert_eq!((c.beta, c.lambda, c.tau, c.delta), (0.5, 3.0, 0.5, 0.2));
        assert_eq!((c.warmup_epochs, c.correct_from_epoch), (10, 10));
        assert!(c.label_correction && c.certainty_weighting && c.gradcam_attention);
        assert!(c.attention_fusion && c.consistency);
        assert_eq!(AfcnConfig::for_epochs(30).warmup_epochs, 5);
    }

    #[test]
    fn short_runs_never_correct_or_weight_in_their_first_epoch() {
        for epochs in 1..6 {
            let c = AfcnConfig::for_epochs(epochs);
            assert_eq!(
                (c.warmup_epochs, c.correct_from_epoch),
                (1, 1),
                "{epochs} epochs"
            );
        }
    }

    #[test]
    fn deserializes_the_fixture_shape_and_fills_missing_keys() {
        let c: AfcnConfig =
            serde_json::from_str(r#"{"lambda": 10.0, "beta": 1.0, "consistency": false}"#).unwrap();
        assert_eq!((c.lambda, c.beta, c.consistency), (10.0, 1.0, false));
        assert_eq!(c.tau, 0.5);
        assert!(serde_json::from_str::<AfcnConfig>(r#"{"lamda": 1.0}"#).is_err());
    }

    #[test]
    fn warm_up_and_correction_epochs_count_from_zero() {
        let c = AfcnConfig {
            warmup_epochs: 2,
            correct_from_epoch: 2,
            ..AfcnConfig::default()
        };
        assert!(c.in_warm_up(1) && !c.in_warm_up(2));
        assert!(!c.corrects_in(1) && c.corrects_in(2));
        let off = AfcnConfig {
            label_correction: false,
            ..c
        };
        assert!(!off.corrects_in(5));
    }

    #[test]
    fn validate_rejects_out_of_range_knobs() {
        let bad = AfcnConfig {
            beta: 1.5,
            ..AfcnConfig::default()
        };
        let e = bad.validate().unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("beta", "1.5"));
        assert!(AfcnConfig::default().validate().is_ok());
    }
}
