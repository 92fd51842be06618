//! `audit/review.html`: one self-contained page (inline CSS and JavaScript, images as PNG
//! `data:` URIs) to review the suspected label issues from disk, with no server and no
//! network. For each sample: the face, the Grad-CAM overlays of its given and its suggested
//! class, its scores and probabilities. The page template is `review.html` beside this file;
//! the audit's data replace its `"__AUDIT_DATA__"` placeholder as one JSON object.

use afcn_backbone::ResNet;
use afcn_data::{FerDataset, transform::resize_square};
use afcn_gradcam::overlay;
use base64::Engine as _;
use burn::tensor::backend::Backend;
use serde_json::json;

use crate::{
    audit::{labels::LabelFile, scores::SampleScore},
    overlays::explain_samples,
    plots::encode_png,
};
use afcn_train::progress::progress_bar;

/// The page template.
const TEMPLATE: &str = include_str!("review.html");
/// What the data replace in the template.
const PLACEHOLDER: &str = "\"__AUDIT_DATA__\"";
/// Samples explained per forward pass.
const CHUNK: usize = 32;

/// A picture as a PNG `data:` URI.
fn data_uri(image: &afcn_data::image::RgbImage) -> anyhow::Result<String> {
    let png = encode_png(image)?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

/// What the page shows and exports.
pub struct ReviewPage<'a> {
    /// The page title (the dataset and where the probabilities come from).
    pub title: String,
    /// The samples to review, in rank order.
    pub samples: Vec<&'a SampleScore>,
    /// Every sample's line in the corrected label file.
    pub labels: &'a LabelFile,
    /// The network input side.
    pub size: u32,
    /// The side of each picture on the page, in pixels.
    pub tile: u32,
}

impl ReviewPage<'_> {
    /// A key for the page's saved decisions: the reviewed samples, their labels and scores,
    /// so that two audits never share a review.
    fn fingerprint(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for s in &self.samples {
            (
                s.sample,
                &s.name,
                s.given,
                s.suggested,
                s.issue_score.to_bits(),
            )
                .hash(&mut hasher);
        }
        format!("{:016x}", hasher.finish())
    }

    /// The page as HTML, explaining each sample with `backbone` (its Grad-CAM at the last
    /// stage, the closed form of the run's overlays).
    pub fn render<B: Backend>(
        &self,
        backbone: &ResNet<B>,
        train: &dyn FerDataset,
    ) -> anyhow::Result<String> {
        let bar = progress_bar(self.samples.len() as u64, "review");
        let mut samples = Vec::with_capacity(self.samples.len());
        for chunk in self.samples.chunks(CHUNK) {
            let indices: Vec<usize> = chunk.iter().map(|s| s.sample).collect();
            let cams = |class: fn(&SampleScore) -> usize| {
                let classes: Vec<Option<usize>> = chunk.iter().map(|s| Some(class(s))).collect();
                explain_samples(backbone, train, &indices, &classes, self.size, self.tile)
            };
            let given = cams(|s| s.given)?;
            let suggested = cams(|s| s.suggested)?;
            for ((s, g), t) in chunk.iter().zip(given).zip(suggested) {
                let face = resize_square(&train.image(s.sample)?, self.tile);
                let lines: Vec<Option<String>> = (0..self.labels.classes.len())
                    .map(|c| self.labels.line(s.sample, c))
                    .collect();
                samples.push(json!({
                    "sample": s.sample,
                    "name": s.name,
                    "given": s.given,
                    "suggested": s.suggested,
                    "self_confidence": s.self_confidence,
                    "margin": s.margin,
                    "certainty": s.certainty,
                    "issue_score": s.issue_score,
                    "corrected": s.corrected,
                    "p": s.probabilities,
                    "face": data_uri(&face)?,
                    "cam_given": data_uri(&overlay(&face, &g.heat)?)?,
                    "cam_suggested": data_uri(&overlay(&face, &t.heat)?)?,
                    "lines": lines,
                }));
                bar.inc(1);
            }
        }
        bar.finish_and_clear();
        let base: Vec<Option<String>> = (0..self.labels.names.len())
            .map(|i| self.labels.line(i, self.labels.given[i]))
            .collect();
        let data = json!({
            "title": self.title,
            "id": self.fingerprint(),
            "classes": self.labels.classes,
            "file_name": self.labels.file_name(),
            "header": self.labels.header(),
            "base": base,
            "samples": samples,
        });
        // Inside a <script> element, `</` could close it: JSON allows `<\/` for `</`.
        let data = serde_json::to_string(&data)?.replace("</", "<\\/");
        Ok(TEMPLATE.replacen(PLACEHOLDER, &data, 1))
    }
}
