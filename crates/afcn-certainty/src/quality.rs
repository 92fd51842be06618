//! How good the corrections are, measured against the clean labels.

use serde::{Deserialize, Serialize};

/// Precision and recall of label correction against the clean labels (known when the noise was
/// injected on purpose).
///
/// A sample is *noisy* when its given label differs from its clean label, *changed* when its
/// current label differs from its given label, *fixed* when it is changed and its current label
/// is the clean one, and *damaged* when its given label was clean and its current one is not.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CorrectionQuality {
    /// Samples whose given label is wrong.
    pub noisy: usize,
    /// Samples whose current label differs from the given one.
    pub changed: usize,
    /// Changed samples whose current label is the clean label.
    pub fixed: usize,
    /// Samples with a clean given label and a wrong current label.
    pub damaged: usize,
}

impl CorrectionQuality {
    /// Counts the four sets from per-sample given, current and clean labels (equal lengths).
    pub fn measure(given: &[usize], current: &[usize], clean: &[usize]) -> Self {
        let mut quality = Self {
            noisy: 0,
            changed: 0,
            fixed: 0,
            damaged: 0,
        };
        for ((&g, &c), &t) in given.iter().zip(current).zip(clean) {
            quality.noisy += usize::from(g != t);
            quality.changed += usize::from(c != g);
            quality.fixed += usize::from(c != g && c == t);
            quality.damaged += usize::from(g == t && c != t);
        }
        quality
    }

    /// Fraction of changed labels that are now clean; `None` when nothing changed.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.fixed, self.changed)
    }

    /// Fraction of noisy labels that are now clean; `None` when no label was noisy.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.fixed, self.noisy)
    }
}

fn ratio(numerator: usize, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fixed_damaged_and_ratios() {
        // sample: 0 noisy+fixed, 1 noisy+changed wrongly, 2 noisy untouched,
        //         3 clean+damaged, 4 clean untouched.
        let clean = [0, 1, 2, 3, 4];
        let given = [5, 5, 5, 3, 4];
        let current = [0, 6, 5, 0, 4];
        let q = CorrectionQuality::measure(&given, &current, &clean);
        assert_eq!(
            q,
            CorrectionQuality {
                noisy: 3,
                changed: 3,
                fixed: 1,
                damaged: 1
            }
        );
        assert_eq!(q.precision(), Some(1.0 / 3.0));
        assert_eq!(q.recall(), Some(1.0 / 3.0));
    }

    #[test]
    fn ratios_are_undefined_without_denominators() {
        let q = CorrectionQuality::measure(&[1, 2], &[1, 2], &[1, 2]);
        assert_eq!((q.precision(), q.recall()), (None, None));
    }
}
