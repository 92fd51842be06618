//! The label correction rule: when an uncertain current label gives way to the prediction.

use serde::{Deserialize, Serialize};

/// Re-labels a sample whose current label is uncertain.
///
/// From epoch `from_epoch` on (epochs count from 0), a sample with current label `y` and mean
/// prediction `p` is re-labelled to `c* = argmax_c p_c` when `p_y < tau` and
/// `p_c* - p_y > delta`. With `tau = 1` the first condition holds whenever the second can
/// (probabilities sum to 1), and the rule is SCN's relabelling (`p_max - p_label > delta`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CorrectionRule {
    /// A label is uncertain when its predicted probability is below `tau`. Default 0.5.
    pub tau: f64,
    /// The predicted class must beat the current label by more than `delta`. Default 0.2
    /// (SCN's margin).
    pub delta: f64,
    /// First epoch (0-based) in which labels are corrected. Default 10, one sixth of the
    /// specification's 60 epochs.
    pub from_epoch: usize,
}

impl Default for CorrectionRule {
    fn default() -> Self {
        Self {
            tau: 0.5,
            delta: 0.2,
            from_epoch: 10,
        }
    }
}

impl CorrectionRule {
    /// Whether labels are corrected in `epoch` (0-based): `epoch >= from_epoch`.
    pub fn is_active(&self, epoch: usize) -> bool {
        epoch >= self.from_epoch
    }

    /// The new label of a sample with current label `label` and class probabilities
    /// `probabilities`, or `None` when the label stays. Ties in the argmax go to the lowest
    /// class index. `label` must index `probabilities`.
    pub fn relabel(&self, probabilities: &[f32], label: usize) -> Option<usize> {
        let (top, p_top) = argmax(probabilities)?;
        let p_label = f64::from(*probabilities.get(label)?);
        let uncertain = p_label < self.tau;
        let beaten = f64::from(p_top) - p_label > self.delta;
        (uncertain && beaten && top != label).then_some(top)
    }
}

/// Index and value of the largest entry (the first one on ties), `None` when empty.
pub(crate) fn argmax(values: &[f32]) -> Option<(usize, f32)> {
    values
        .iter()
        .copied()
        .enumerate()
        .fold(None, |best, (i, v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((i, v)),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncertain_and_beaten_label_is_replaced_by_the_argmax() {
        let rule = CorrectionRule::default();
        // p_y = 0.1 < 0.5 and 0.7 - 0.1 > 0.2.
        assert_eq!(rule.relabel(&[0.1, 0.7, 0.2], 0), Some(1));
    }

    #[test]
    fn certain_label_stays() {
        // p_y = 0.5 is not below tau = 0.5.
        assert_eq!(CorrectionRule::default().relabel(&[0.5, 0.0, 0.5], 0), None);
    }

    #[test]
    fn small_margin_keeps_the_label() {
        // p_y = 0.3 < 0.5 but 0.45 - 0.3 = 0.15 is not above delta = 0.2.
        assert_eq!(
            CorrectionRule::default().relabel(&[0.3, 0.45, 0.25], 0),
            None
        );
    }

    #[test]
    fn tau_bounds_which_labels_count_as_uncertain() {
        let strict = CorrectionRule {
            tau: 0.25,
            ..CorrectionRule::default()
        };
        let scn = CorrectionRule {
            tau: 2.0,
            ..CorrectionRule::default()
        };
        // p_y = 0.3 is not below 0.25: kept; SCN only asks for the margin 0.7 - 0.3 > 0.2.
        assert_eq!(strict.relabel(&[0.3, 0.7], 0), None);
        assert_eq!(scn.relabel(&[0.3, 0.7], 0), Some(1));
    }

    #[test]
    fn epochs_count_from_zero() {
        let rule = CorrectionRule {
            from_epoch: 2,
            ..CorrectionRule::default()
        };
        assert!(!rule.is_active(1));
        assert!(rule.is_active(2));
    }

    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(argmax(&[0.2, 0.4, 0.4]), Some((1, 0.4)));
        assert_eq!(argmax(&[]), None);
    }
}
