//! Label-quality scores of every training sample, the ranking of suspected label issues, the
//! per-class health table and, when the clean labels are known, how good the flags are.
//!
//! Everything here is arithmetic on the two-view mean probabilities `p` of each sample:
//!
//! - **self-confidence** `p[given]` (cleanlab's default label-quality score);
//! - **normalised margin** `(p[given] - max_{k != given} p[k] + 1) / 2`, in `[0, 1]`;
//! - **certainty** `1 - H(p) / ln C` (AFCN's sample certainty, the same formula as training);
//! - the **class threshold** `t_c`: the mean self-confidence of the samples labelled `c`
//!   (confident learning's per-class threshold), which absorbs the network's bias for or
//!   against a class;
//! - the **issue score** `t_given / (t_given + p[given])`, in `(0, 1]`, by which samples are
//!   ranked (highest first): the self-confidence relative to the class's, 0.5 for a sample as
//!   self-confident as its class on average.
//!
//! A sample is **flagged** when another class is more probable than its given label and its
//! issue score is above 0.5 (its self-confidence is below its class threshold).

use std::collections::BTreeMap;

use afcn_certainty::normalised_entropy_of_row;
use serde::Serialize;

/// One training sample's scores.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SampleScore {
    /// Index in the training split.
    pub sample: usize,
    /// The sample's name in the dataset's label file (RAF-DB: `train_00001.jpg`).
    pub name: String,
    /// The given label.
    pub given: usize,
    /// The most probable class (argmax of the two-view mean probabilities).
    pub suggested: usize,
    /// The two-view mean probabilities.
    pub probabilities: Vec<f32>,
    /// `p[given]`.
    pub self_confidence: f32,
    /// `(p[given] - max_{k != given} p[k] + 1) / 2`.
    pub margin: f32,
    /// `1 - H(p) / ln C`.
    pub certainty: f32,
    /// `t / (t + p[given])` for the class threshold `t` of the given label: the ranking key,
    /// highest first (set by [`rank`]).
    pub issue_score: f32,
    /// Whether the sample is a suspected label issue (set by [`rank`]).
    pub flagged: bool,
    /// When the training run changed this sample's label: the last change's epoch and label.
    pub corrected: Option<(usize, usize)>,
    /// The clean label, when known (SynthFER, or `--clean-labels`).
    pub clean: Option<usize>,
}

impl SampleScore {
    /// The scores of one sample from its probabilities (`probabilities.len() >= 2`).
    pub fn new(sample: usize, name: String, given: usize, probabilities: Vec<f32>) -> Self {
        let suggested = argmax(&probabilities);
        let self_confidence = probabilities[given];
        let best_other = probabilities
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != given)
            .map(|(_, &p)| p)
            .fold(0.0f32, f32::max);
        let margin = (self_confidence - best_other + 1.0) / 2.0;
        let certainty = (1.0 - normalised_entropy_of_row(&probabilities)).clamp(0.0, 1.0);
        Self {
            sample,
            name,
            given,
            suggested,
            self_confidence,
            margin,
            certainty,
            issue_score: 0.5,
            flagged: false,
            probabilities,
            corrected: None,
            clean: None,
        }
    }
}

/// The index of the largest value (the first of ties).
fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold(0, |best, (k, &v)| if v > values[best] { k } else { best })
}

/// The lowest class threshold (confident learning's floor), so that an issue score is defined.
const THRESHOLD_FLOOR: f32 = 2e-6;

/// The class thresholds of `scores` over `classes` classes: the mean self-confidence of the
/// samples labelled each class (1 for a class nobody is labelled).
pub fn class_thresholds(scores: &[SampleScore], classes: usize) -> Vec<f32> {
    let mut sum = vec![0.0f64; classes];
    let mut count = vec![0usize; classes];
    for s in scores {
        sum[s.given] += f64::from(s.self_confidence);
        count[s.given] += 1;
    }
    (0..classes)
        .map(|c| match count[c] {
            0 => 1.0,
            n => ((sum[c] / n as f64) as f32).max(THRESHOLD_FLOOR),
        })
        .collect()
}

/// Sets every sample's issue score and flag from the class thresholds of all of them, and
/// returns them in rank order: the highest issue score first, ties by sample index.
pub fn rank(mut scores: Vec<SampleScore>, classes: usize) -> Vec<SampleScore> {
    let thresholds = class_thresholds(&scores, classes);
    for s in &mut scores {
        let t = thresholds[s.given];
        s.issue_score = t / (t + s.self_confidence);
        s.flagged = s.suggested != s.given && s.self_confidence < t;
    }
    scores.sort_by(|a, b| {
        b.issue_score
            .total_cmp(&a.issue_score)
            .then(a.sample.cmp(&b.sample))
    });
    scores
}

/// One row of the per-class health table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassHealth {
    /// The class name.
    pub class: String,
    /// Samples given this label.
    pub labelled: usize,
    /// The class threshold: the mean self-confidence of the samples labelled this class.
    pub threshold: f32,
    /// Of those, flagged.
    pub flagged: usize,
    /// `flagged / labelled` (0 for an empty class).
    pub share: f64,
    /// The class most often suggested for its flagged samples, if any.
    pub most_suggested: Option<String>,
}

/// A (given, suggested) pair among the flagged samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConfusedPair {
    /// The given class.
    pub given: String,
    /// The suggested class.
    pub suggested: String,
    /// Flagged samples with this pair.
    pub count: usize,
}

/// How the flags and the ranking compare with the clean labels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlagQuality {
    /// Samples whose given label is not the clean one.
    pub noisy: usize,
    /// Flagged samples.
    pub flagged: usize,
    /// Flagged samples that are noisy.
    pub true_flags: usize,
    /// `true_flags / flagged`.
    pub precision: Option<f64>,
    /// `true_flags / noisy`.
    pub recall: Option<f64>,
    /// k of the top-k figures: the number of noisy samples.
    pub k: usize,
    /// Share of noisy samples among the first k of the ranking (equal to the recall at k).
    pub precision_at_k: Option<f64>,
    /// Of the flagged noisy samples, the share whose suggested class is the clean label.
    pub suggestion_accuracy: Option<f64>,
}

/// The audit's summary: the health of every class, the most confused pairs, one dataset
/// health score and, with clean labels, the flags' quality.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Samples scored.
    pub samples: usize,
    /// Samples flagged.
    pub flagged: usize,
    /// `1 - flagged / samples`: the share of labels the audit does not doubt.
    pub health: f64,
    /// One row per class, in class order.
    pub classes: Vec<ClassHealth>,
    /// The (given, suggested) pairs of the flagged samples, most frequent first (at most 10).
    pub confused_pairs: Vec<ConfusedPair>,
    /// Against the clean labels, when every sample has one.
    pub quality: Option<FlagQuality>,
    /// Where the probabilities come from: `in-sample` or `out-of-sample (K folds)`.
    pub probabilities: String,
}

fn ratio(numerator: usize, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// The summary of `ranked` (in rank order) over `class_names`.
pub fn summarise(ranked: &[SampleScore], class_names: &[String], probabilities: &str) -> Summary {
    let c = class_names.len();
    let mut labelled = vec![0usize; c];
    let mut flagged = vec![0usize; c];
    let mut pairs: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for s in ranked {
        labelled[s.given] += 1;
        if s.flagged {
            flagged[s.given] += 1;
            *pairs.entry((s.given, s.suggested)).or_default() += 1;
        }
    }
    let thresholds = class_thresholds(ranked, c);
    let classes = (0..c)
        .map(|k| ClassHealth {
            class: class_names[k].clone(),
            labelled: labelled[k],
            threshold: thresholds[k],
            flagged: flagged[k],
            share: ratio(flagged[k], labelled[k]).unwrap_or(0.0),
            most_suggested: pairs
                .iter()
                .filter(|((g, _), _)| *g == k)
                .max_by_key(|&(&(_, s), &n)| (n, std::cmp::Reverse(s)))
                .map(|(&(_, s), _)| class_names[s].clone()),
        })
        .collect();
    let mut confused: Vec<((usize, usize), usize)> = pairs.into_iter().collect();
    confused.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let confused_pairs = confused
        .into_iter()
        .take(10)
        .map(|((g, s), count)| ConfusedPair {
            given: class_names[g].clone(),
            suggested: class_names[s].clone(),
            count,
        })
        .collect();
    let total_flagged: usize = flagged.iter().sum();
    Summary {
        samples: ranked.len(),
        flagged: total_flagged,
        health: 1.0 - ratio(total_flagged, ranked.len()).unwrap_or(0.0),
        classes,
        confused_pairs,
        quality: flag_quality(ranked),
        probabilities: probabilities.to_owned(),
    }
}

/// The flags' and the ranking's quality, when every sample has a clean label.
fn flag_quality(ranked: &[SampleScore]) -> Option<FlagQuality> {
    let clean: Vec<usize> = ranked.iter().map(|s| s.clean).collect::<Option<_>>()?;
    let noisy = |i: usize| ranked[i].given != clean[i];
    let n_noisy = (0..ranked.len()).filter(|&i| noisy(i)).count();
    let flagged: Vec<usize> = (0..ranked.len()).filter(|&i| ranked[i].flagged).collect();
    let true_flags: Vec<usize> = flagged.iter().copied().filter(|&i| noisy(i)).collect();
    let fixed = true_flags
        .iter()
        .filter(|&&i| ranked[i].suggested == clean[i])
        .count();
    let top = (0..n_noisy).filter(|&i| noisy(i)).count();
    Some(FlagQuality {
        noisy: n_noisy,
        flagged: flagged.len(),
        true_flags: true_flags.len(),
        precision: ratio(true_flags.len(), flagged.len()),
        recall: ratio(true_flags.len(), n_noisy),
        k: n_noisy,
        precision_at_k: ratio(top, n_noisy),
        suggestion_accuracy: ratio(fixed, true_flags.len()),
    })
}

/// The summary as a few lines of text (the per-class table in markdown).
pub fn summary_text(summary: &Summary) -> String {
    use std::fmt::Write as _;
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} samples scored (probabilities: {}), {} flagged: dataset health {}\n",
        summary.samples,
        summary.probabilities,
        summary.flagged,
        pct(summary.health)
    );
    let _ = writeln!(
        out,
        "| class | labelled | threshold | flagged | share | most suggested |\n\
         |---|---|---|---|---|---|"
    );
    for c in &summary.classes {
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {} | {} | {} |",
            c.class,
            c.labelled,
            c.threshold,
            c.flagged,
            pct(c.share),
            c.most_suggested.as_deref().unwrap_or("")
        );
    }
    if !summary.confused_pairs.is_empty() {
        let _ = writeln!(out, "\nmost confused (given -> suggested):");
        for p in &summary.confused_pairs {
            let _ = writeln!(out, "  {} -> {}: {}", p.given, p.suggested, p.count);
        }
    }
    if let Some(q) = &summary.quality {
        let opt = |x: Option<f64>| x.map_or("n/a".to_owned(), pct);
        let _ = writeln!(
            out,
            "\nagainst the clean labels: {} noisy; flags precision {} recall {}; \
             precision at k = {}: {}; suggestions right for {} of the true flags",
            q.noisy,
            opt(q.precision),
            opt(q.recall),
            q.k,
            opt(q.precision_at_k),
            opt(q.suggestion_accuracy)
        );
    }
    out
}

/// `audit/label_issues.csv`: one row per sample in rank order.
pub fn issues_csv(ranked: &[SampleScore], class_names: &[String]) -> anyhow::Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "rank",
        "sample",
        "path",
        "given",
        "suggested",
        "self_confidence",
        "margin",
        "certainty",
        "issue_score",
        "flagged",
        "corrected_epoch",
        "corrected_to",
        "clean",
    ]
    .map(String::from)
    .to_vec();
    header.extend(class_names.iter().map(|c| format!("p_{c}")));
    csv.write_record(&header)?;
    for (rank, s) in ranked.iter().enumerate() {
        let mut row = vec![
            (rank + 1).to_string(),
            s.sample.to_string(),
            s.name.clone(),
            class_names[s.given].clone(),
            class_names[s.suggested].clone(),
            format!("{:.6}", s.self_confidence),
            format!("{:.6}", s.margin),
            format!("{:.6}", s.certainty),
            format!("{:.6}", s.issue_score),
            if s.flagged { "yes" } else { "no" }.to_owned(),
            s.corrected.map(|c| c.0.to_string()).unwrap_or_default(),
            s.corrected
                .map(|c| class_names[c.1].clone())
                .unwrap_or_default(),
            s.clean.map(|c| class_names[c].clone()).unwrap_or_default(),
        ];
        row.extend(s.probabilities.iter().map(|p| format!("{p:.6}")));
        csv.write_record(&row)?;
    }
    Ok(csv.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["calm", "angry", "sad"].map(String::from).to_vec()
    }

    fn score(sample: usize, given: usize, p: [f32; 3], clean: usize) -> SampleScore {
        let mut s = SampleScore::new(sample, format!("s{sample}"), given, p.to_vec());
        s.clean = Some(clean);
        s
    }

    #[test]
    fn scores_follow_their_formulas() {
        let s = SampleScore::new(0, "a".into(), 0, vec![0.2, 0.7, 0.1]);
        assert_eq!(s.suggested, 1);
        assert!((s.self_confidence - 0.2).abs() < 1e-6);
        assert!((s.margin - 0.25).abs() < 1e-6);
        let h = -(0.2f32 * 0.2f32.ln() + 0.7 * 0.7f32.ln() + 0.1 * 0.1f32.ln()) / 3f32.ln();
        assert!((s.certainty - (1.0 - h)).abs() < 1e-5);
        let sure = SampleScore::new(1, "b".into(), 2, vec![0.0, 0.0, 1.0]);
        assert_eq!((sure.suggested, sure.margin), (2, 1.0));
    }

    #[test]
    fn ranking_summary_and_quality() {
        let ranked = rank(
            vec![
                score(0, 0, [0.9, 0.05, 0.05], 0),
                score(1, 0, [0.1, 0.8, 0.1], 1),
                score(2, 1, [0.6, 0.3, 0.1], 1),
                score(3, 2, [0.3, 0.3, 0.4], 0),
                score(4, 1, [0.2, 0.1, 0.7], 2),
            ],
            3,
        );
        // Thresholds 0.5, 0.2, 0.4; issue scores 0.357, 0.833, 0.4, 0.5, 0.667.
        let order: Vec<usize> = ranked.iter().map(|s| s.sample).collect();
        assert_eq!(order, [1, 4, 3, 2, 0]);
        assert!((ranked[0].issue_score - 0.5 / 0.6).abs() < 1e-6);
        // Sample 2 is out-voted but as self-confident as its class: not flagged.
        let flagged: Vec<usize> = ranked
            .iter()
            .filter(|s| s.flagged)
            .map(|s| s.sample)
            .collect();
        assert_eq!(flagged, [1, 4]);
        let summary = summarise(&ranked, &names(), "in-sample");
        assert_eq!((summary.samples, summary.flagged), (5, 2));
        assert!((summary.health - 0.6).abs() < 1e-12);
        assert_eq!(summary.classes[1].labelled, 2);
        assert!((summary.classes[1].threshold - 0.2).abs() < 1e-6);
        assert_eq!(summary.classes[1].flagged, 1);
        assert_eq!(summary.classes[2].flagged, 0);
        assert_eq!(summary.classes[0].most_suggested.as_deref(), Some("angry"));
        assert_eq!(summary.confused_pairs.len(), 2);
        let q = summary.quality.clone().unwrap();
        // Noisy: 1, 3, 4.
        assert_eq!((q.noisy, q.flagged, q.true_flags), (3, 2, 2));
        assert_eq!((q.precision, q.recall), (Some(1.0), Some(2.0 / 3.0)));
        // The top 3 are 1, 4, 3.
        assert_eq!(q.precision_at_k, Some(1.0));
        assert_eq!(q.suggestion_accuracy, Some(1.0));
        let text = summary_text(&summary);
        assert!(text.contains("2 flagged: dataset health 60.0%"), "{text}");
        assert!(
            text.contains("| angry | 2 | 0.200 | 1 | 50.0% | sad |"),
            "{text}"
        );
    }

    #[test]
    fn the_csv_has_one_row_per_sample_in_rank_order() {
        let ranked = rank(
            vec![
                score(0, 0, [0.9, 0.05, 0.05], 0),
                score(1, 0, [0.1, 0.8, 0.1], 1),
            ],
            3,
        );
        let text = String::from_utf8(issues_csv(&ranked, &names()).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("rank,sample,path,given,suggested,"));
        assert!(lines[0].ends_with(",p_calm,p_angry,p_sad"));
        assert!(
            lines[1].starts_with("1,1,s1,calm,angry,0.100000,"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(",yes,,,angry,"), "{}", lines[1]);
    }
}
