//! The worked example of `docs/architecture.md`: a new training method, GCE (the generalised
//! cross-entropy `(1 - p_y^q) / q` of Zhang and Sabuncu, 2018, on one view), as the module
//! `crates/afcn-train/src/methods/gce.rs` would hold it. Registering it is one more line in
//! the registry of `methods/mod.rs` (`Gce: gce => Gce,`); this example runs the method's one
//! forward and its loss on a batch of random images, as a training step would.
//!
//! ```text
//! cargo run -p afcn-train --example new_method
//! ```

use std::marker::PhantomData;

use afcn_backbone::{Arch, ResNet, ResNetConfig};
use afcn_certainty::InvalidField;
use afcn_data::Views;
use afcn_train::methods::{BackboneHead, FeatureShape, LossParts, Method, MethodError, StepBatch};
use burn::{
    backend::{Autodiff, Flex},
    tensor::{
        Distribution, Int, Tensor,
        activation::softmax,
        backend::{AutodiffBackend, Backend},
    },
};
use serde::{Deserialize, Serialize};

/// GCE on one view: no heads, no relabelling. The method is its section, `[methods.gce]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gce {
    /// The exponent q in (0, 1]. Default 0.7.
    pub q: f64,
}

impl Default for Gce {
    fn default() -> Self {
        Self { q: 0.7 }
    }
}

impl Method for Gce {
    const NAME: &'static str = "gce";
    const ABOUT: &'static str = "generalised cross-entropy on one view";

    type Heads<B: Backend> = PhantomData<B>;
    // The backbone's own head classifies: the exported backbone alone predicts.
    type Classifier<B: Backend> = BackboneHead;
    // What one forward gives the loss: the logits.
    type Forward<B: AutodiffBackend> = Tensor<B, 2>;

    fn validate(&self) -> Result<(), InvalidField> {
        if self.q > 0.0 && self.q <= 1.0 {
            Ok(())
        } else {
            Err(InvalidField::new("q", self.q, "in (0, 1]"))
        }
    }

    fn views(&self) -> Views {
        Views::One
    }

    fn heads<B: Backend>(&self, _: FeatureShape, _: &B::Device) -> PhantomData<B> {
        PhantomData
    }

    fn classifier<B: Backend>(_: &PhantomData<B>) -> &BackboneHead {
        &BackboneHead
    }

    fn forward<B: AutodiffBackend>(
        &self,
        _: &PhantomData<B>,
        backbone: &ResNet<B>,
        batch: StepBatch<B>,
    ) -> Tensor<B, 2> {
        backbone.head(batch.features)
    }

    fn predictions<B: AutodiffBackend>(logits: &Tensor<B, 2>) -> Tensor<B, 2> {
        logits.clone()
    }

    fn loss<B: AutodiffBackend>(
        &self,
        logits: Tensor<B, 2>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<LossParts<B>, MethodError> {
        let [n, _] = logits.dims();
        let p_y = softmax(logits, 1)
            .gather(1, labels.reshape([n, 1]))
            .reshape([n]);
        let loss = p_y
            .powf_scalar(self.q)
            .neg()
            .add_scalar(1.0)
            .div_scalar(self.q);
        Ok(LossParts::cross_entropy_only(loss.mean()))
    }
}

/// One training step's worth of `method` on 8 random 64 x 64 images with labels
/// `0, 1, ..., 6, 0`: the loss, and the predicted probabilities of the labels.
fn one_step(method: Gce) -> Result<(f32, Vec<f32>), Box<dyn std::error::Error>> {
    type B = Autodiff<Flex>;
    let device = Default::default();
    method.validate()?;
    let backbone = ResNetConfig::new()
        .with_arch(Arch::ResNetNarrow)
        .with_num_classes(7)
        .init::<B>(&device);
    let images = Tensor::<B, 4>::random([8, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);
    let features = backbone.features(images);
    let [_, channels, height, width] = features.dims();
    let shape = FeatureShape {
        channels,
        height,
        width,
        classes: 7,
    };
    let batch = StepBatch {
        features,
        samples: 8,
        epoch: 0,
        seed: 0,
        indices: (0..8).collect(),
    };
    let labels = [0, 1, 2, 3, 4, 5, 6, 0];
    // What the trainer's step does: one forward, the predictions, the loss of that forward.
    let heads = method.heads::<B>(shape, &device);
    let forward = method.forward(&heads, &backbone, batch);
    let probabilities: Vec<f32> = softmax(Gce::predictions(&forward), 1)
        .into_data()
        .iter::<f32>()
        .collect();
    let p_label = labels
        .iter()
        .enumerate()
        .map(|(i, &y)| probabilities[i * 7 + y as usize])
        .collect();
    let parts = method.loss(forward, Tensor::<B, 1, Int>::from_data(labels, &device))?;
    Ok((parts.loss.into_scalar(), p_label))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // An out-of-range section is refused with its key and value.
    println!("refused: {}", Gce { q: 0.0 }.validate().unwrap_err());
    let method = Gce::default();
    let (loss, _) = one_step(method)?;
    println!("{}: one step on 8 images, loss {loss:.4}", Gce::NAME);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_is_the_generalised_cross_entropy_of_the_forward() {
        for q in [0.7, 1.0] {
            let (loss, p_label) = one_step(Gce { q }).unwrap();
            let q = q as f32;
            let want = p_label.iter().map(|p| (1.0 - p.powf(q)) / q).sum::<f32>() / 8.0;
            assert!((loss - want).abs() < 1e-5, "q = {q}: {loss} against {want}");
        }
    }

    #[test]
    fn an_out_of_range_exponent_names_its_key() {
        let refused = Gce { q: 1.5 }.validate().unwrap_err();
        assert_eq!(
            (refused.field.as_str(), refused.value.as_str()),
            ("q", "1.5")
        );
        assert!(one_step(Gce { q: 0.0 }).is_err());
    }
}
