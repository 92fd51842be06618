//! Suspected mislabelled samples and their CSV export.

use std::path::PathBuf;

use serde::Serialize;

/// The latest prediction seen for one sample.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Observation {
    /// Epoch (0-based) of the prediction.
    pub epoch: usize,
    /// Most probable class (`argmax` of the mean prediction).
    pub predicted: usize,
    /// Probability of the sample's given label.
    pub given_probability: f32,
    /// Certainty `1 - H` of the prediction.
    pub certainty: f32,
}

/// A sample whose latest prediction disagrees with its given label: one row of the
/// suspected-mislabelled CSV, the way cleanlab lists label issues.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    /// Index of the sample in the training set.
    pub index: usize,
    /// Image path, empty when the store has no paths.
    pub path: String,
    /// The label the sample came with.
    pub given_label: usize,
    /// The class the model predicts.
    pub predicted_label: usize,
    /// Certainty `1 - H` of the prediction, in `[0, 1]`.
    pub certainty: f32,
    /// Probability of the given label; suspects are listed from the lowest (cleanlab's
    /// self-confidence ranking). Not a CSV column.
    #[serde(skip)]
    pub given_probability: f32,
}

/// Builds the suspect list from per-sample given labels, observations and optional paths:
/// every observed sample whose predicted class differs from its given label, the least
/// self-confident first (ties by index).
pub(crate) fn suspects(
    given: &[usize],
    observations: &[Option<Observation>],
    paths: Option<&[PathBuf]>,
) -> Vec<Suspect> {
    let mut list: Vec<Suspect> = given
        .iter()
        .zip(observations)
        .enumerate()
        .filter_map(|(index, (&given_label, observation))| {
            let o = observation.as_ref()?;
            (o.predicted != given_label).then(|| Suspect {
                index,
                path: paths
                    .and_then(|p| p.get(index))
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                given_label,
                predicted_label: o.predicted,
                certainty: o.certainty,
                given_probability: o.given_probability,
            })
        })
        .collect();
    list.sort_by(|a, b| {
        a.given_probability
            .total_cmp(&b.given_probability)
            .then(a.index.cmp(&b.index))
    });
    list
}

/// Columns of the suspects CSV, in the order of [`Suspect`]'s serialized fields.
pub(crate) const COLUMNS: [&str; 5] = [
    "index",
    "path",
    "given_label",
    "predicted_label",
    "certainty",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv_file::write_rows;

    fn observation(predicted: usize, given_probability: f32) -> Option<Observation> {
        Some(Observation {
            epoch: 3,
            predicted,
            given_probability,
            certainty: 0.5,
        })
    }

    #[test]
    fn lists_disagreements_least_self_confident_first() {
        let given = [0, 1, 2, 3];
        let observations = [
            observation(1, 0.3),
            observation(1, 0.9),
            None,
            observation(0, 0.1),
        ];
        let list = suspects(&given, &observations, None);
        let order: Vec<usize> = list.iter().map(|s| s.index).collect();
        assert_eq!(order, vec![3, 0]);
    }

    #[test]
    fn csv_has_header_and_quotes_paths() {
        let paths = [PathBuf::from("a,b.jpg")];
        let list = suspects(&[2], &[observation(4, 0.05)], Some(&paths));
        let mut out = Vec::new();
        write_rows(&mut out, &COLUMNS, &list).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "index,path,given_label,predicted_label,certainty\n0,\"a,b.jpg\",2,4,0.5\n"
        );
    }

    #[test]
    fn empty_list_still_has_a_header() {
        let mut out = Vec::new();
        write_rows::<_, Suspect>(&mut out, &COLUMNS, &[]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "index,path,given_label,predicted_label,certainty\n"
        );
    }
}
