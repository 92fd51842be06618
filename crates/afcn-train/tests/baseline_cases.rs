//! Conformance of the SCN, RUL and EAC baselines with the float64 PyTorch reference written
//! from their official code (`fixtures/baseline-loss-cases.json`, made by
//! `fixtures/baselines_reference.py`), term by term, in f32 on Autodiff<Flex>.
//!
//! SCN and EAC run through their [`Method`] implementations (the trainer's own code) with the
//! backbone's classifier replaced by the fixture's; RUL's branches run through its heads,
//! and its mixing and add-up loss through the functions its loss calls, with the fixture's
//! partners (the trainer draws them from the run's seed).
//!
//! Tolerance: `|got - want| <= 1e-5 |want| + 1e-6`.

use afcn_backbone::{Arch, ResNet, ResNetConfig};
use afcn_losses::{EacConfig, add_up_loss, mix_features, relative_uncertainty};
use afcn_train::methods::{FeatureShape, Method, Rul, RulBranch, Scn, ScnHeads, StepBatch};
use burn::{
    backend::{Autodiff, Flex},
    module::Param,
    nn::{Linear, LinearConfig},
    tensor::{Int, Tensor, TensorData, backend::Backend},
};
use serde::Deserialize;

type B = Autodiff<Flex>;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/baseline-loss-cases.json"
);

type Matrix = Vec<Vec<f64>>;
type Maps = Vec<Vec<Vec<Vec<f64>>>>;

#[derive(Deserialize)]
struct Fixture {
    scn: Vec<ScnCase>,
    rul: Vec<RulCase>,
    eac: Vec<EacCase>,
}

#[derive(Deserialize)]
struct ScnCase {
    name: String,
    config: Scn,
    inputs: ScnInputs,
    expected: ScnExpected,
}

#[derive(Deserialize)]
struct ScnInputs {
    pooled: Matrix,
    importance_weight: Matrix,
    importance_bias: Vec<f64>,
    fc_weight: Matrix,
    fc_bias: Vec<f64>,
    labels: Vec<usize>,
}

#[derive(Deserialize)]
struct ScnExpected {
    importance: Vec<f64>,
    outputs: Matrix,
    cross_entropy: f64,
    rank_regularisation: f64,
    loss: f64,
    relabel_probabilities: Matrix,
    labels_after: Vec<usize>,
}

#[derive(Deserialize)]
struct RulCase {
    name: String,
    inputs: RulInputs,
    expected: RulExpected,
}

#[derive(Deserialize)]
struct RulInputs {
    features: Maps,
    mean_weight: Matrix,
    mean_bias: Vec<f64>,
    log_variance_weight: Matrix,
    log_variance_bias: Vec<f64>,
    fc_weight: Matrix,
    fc_bias: Vec<f64>,
    labels: Vec<usize>,
    partners: Vec<usize>,
}

#[derive(Deserialize)]
struct RulExpected {
    mean: Matrix,
    log_variance: Matrix,
    uncertainty: Vec<f64>,
    mix_weights: Vec<f64>,
    mixed: Matrix,
    outputs: Matrix,
    loss: f64,
    inference_logits: Matrix,
}

#[derive(Deserialize)]
struct EacCase {
    name: String,
    config: EacConfig,
    inputs: EacInputs,
    expected: EacExpected,
}

#[derive(Deserialize)]
struct EacInputs {
    features_1: Maps,
    features_2: Maps,
    fc_weight: Matrix,
    fc_bias: Vec<f64>,
    labels: Vec<usize>,
}

#[derive(Deserialize)]
struct EacExpected {
    logits_1: Matrix,
    cam_1: Maps,
    cam_2_flipped: Maps,
    cross_entropy: f64,
    consistency: f64,
    loss: f64,
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(FIXTURE).expect("the fixture is in the repository");
    serde_json::from_str(&text).expect("the fixture parses")
}

fn f32s(values: impl IntoIterator<Item = f64>) -> Vec<f32> {
    values.into_iter().map(|v| v as f32).collect()
}

fn vector<Bk: Backend>(v: &[f64]) -> Tensor<Bk, 1> {
    Tensor::from_data(
        TensorData::new(f32s(v.iter().copied()), [v.len()]),
        &Default::default(),
    )
}

fn matrix<Bk: Backend>(m: &Matrix) -> Tensor<Bk, 2> {
    let shape = [m.len(), m[0].len()];
    Tensor::from_data(
        TensorData::new(f32s(m.iter().flatten().copied()), shape),
        &Default::default(),
    )
}

fn maps<Bk: Backend>(m: &Maps) -> Tensor<Bk, 4> {
    let shape = [m.len(), m[0].len(), m[0][0].len(), m[0][0][0].len()];
    let flat = m.iter().flatten().flatten().flatten().copied();
    Tensor::from_data(TensorData::new(f32s(flat), shape), &Default::default())
}

fn indices<Bk: Backend>(v: &[usize]) -> Tensor<Bk, 1, Int> {
    let values: Vec<i64> = v.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(values, [v.len()]), &Default::default())
}

/// A linear layer with PyTorch's `[out, in]` weight and its bias.
fn linear(weight: &Matrix, bias: &[f64]) -> Linear<B> {
    let mut layer = LinearConfig::new(weight[0].len(), weight.len()).init::<B>(&Default::default());
    layer.weight = Param::from_tensor(matrix::<B>(weight).transpose());
    layer.bias = Some(Param::from_tensor(vector::<B>(bias)));
    layer
}

/// A backbone whose classifier is the fixture's (its convolutions are never run here).
fn backbone_with_head(weight: &Matrix, bias: &[f64]) -> ResNet<B> {
    let mut backbone = ResNetConfig::new()
        .with_arch(Arch::ResNetNarrow)
        .with_num_classes(weight.len())
        .init::<B>(&Default::default());
    backbone.fc = linear(weight, bias);
    backbone
}

fn close<const D: usize>(case: &str, what: &str, got: Tensor<impl Backend, D>, want: &[f64]) {
    let got: Vec<f32> = got.into_data().convert::<f32>().iter::<f32>().collect();
    assert_eq!(got.len(), want.len(), "{case}: {what} length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (f64::from(g) - w).abs();
        assert!(
            err <= 1e-5 * w.abs() + 1e-6,
            "{case}: {what}[{i}] = {g}, expected {w} (error {err:e})"
        );
    }
}

fn flat(m: &Matrix) -> Vec<f64> {
    m.iter().flatten().copied().collect()
}

fn flat_maps(m: &Maps) -> Vec<f64> {
    m.iter().flatten().flatten().flatten().copied().collect()
}

/// A step's batch of `samples` samples (`features` holds every view).
fn batch(features: Tensor<B, 4>, samples: usize) -> StepBatch<B> {
    StepBatch {
        features,
        samples,
        epoch: 0,
        seed: 0,
        indices: (0..samples).collect(),
    }
}

#[test]
fn scn_matches_its_official_step() {
    let cases = fixture().scn;
    assert_eq!(cases.len(), 3);
    for case in cases {
        let (name, inputs, want) = (case.name.as_str(), &case.inputs, &case.expected);
        let backbone = backbone_with_head(&inputs.fc_weight, &inputs.fc_bias);
        let heads = ScnHeads {
            importance: linear(&inputs.importance_weight, &inputs.importance_bias),
        };
        // GAP of a 1 x 1 map is the map: the fixture's pooled features.
        let [n, k] = [inputs.pooled.len(), inputs.pooled[0].len()];
        let features = matrix::<B>(&inputs.pooled).reshape([n, k, 1, 1]);
        let importance = burn::tensor::activation::sigmoid(
            heads.importance.forward(matrix::<B>(&inputs.pooled)),
        );
        close(name, "importance", importance, &want.importance);

        // One forward feeds the relabelling and the loss.
        let forward = case.config.forward(&heads, &backbone, batch(features, n));
        close(
            name,
            "outputs",
            Scn::predictions(&forward),
            &flat(&want.outputs),
        );
        let probabilities = case.config.relabel_probabilities(&forward);
        close(
            name,
            "relabel probabilities",
            probabilities.clone(),
            &flat(&want.relabel_probabilities),
        );
        let rule = case.config.relabel_rule();
        let host: Vec<f32> = probabilities.into_data().iter::<f32>().collect();
        let after: Vec<usize> = inputs
            .labels
            .iter()
            .enumerate()
            .map(|(i, &y)| rule.relabel(&host[i * 7..(i + 1) * 7], y).unwrap_or(y))
            .collect();
        assert_eq!(after, want.labels_after, "{name}: labels after relabelling");

        let parts = case.config.loss(forward, indices(&inputs.labels)).unwrap();
        close(
            name,
            "cross-entropy",
            parts.cross_entropy,
            &[want.cross_entropy],
        );
        close(
            name,
            "rank regularisation",
            parts.auxiliary,
            &[want.rank_regularisation],
        );
        close(name, "loss", parts.loss, &[want.loss]);
    }
}

#[test]
fn rul_matches_its_official_step() {
    let cases = fixture().rul;
    assert_eq!(cases.len(), 2);
    for case in cases {
        let (name, inputs, want) = (case.name.as_str(), &case.inputs, &case.expected);
        let f = &inputs.features;
        let shape = FeatureShape {
            channels: f[0].len(),
            height: f[0][0].len(),
            width: f[0][0][0].len(),
            classes: inputs.fc_weight.len(),
        };
        // Dropout 0: the reference is deterministic.
        let config = Rul {
            embedding_dim: inputs.mean_weight.len(),
            dropout: 0.0,
            ..Rul::default()
        };
        let mut heads = config.heads::<B>(shape, &Default::default());
        let with_linear = |mut branch: RulBranch<B>, w: &Matrix, b: &[f64]| {
            branch.linear = linear(w, b);
            branch
        };
        heads.mean = with_linear(heads.mean, &inputs.mean_weight, &inputs.mean_bias);
        heads.log_variance = with_linear(
            heads.log_variance,
            &inputs.log_variance_weight,
            &inputs.log_variance_bias,
        );
        heads.classifier = linear(&inputs.fc_weight, &inputs.fc_bias);

        let features = maps::<B>(f);
        let mean = heads.mean.forward(features.clone());
        close(name, "mean branch", mean.clone(), &flat(&want.mean));
        let log_variance = heads.log_variance.forward(features);
        close(
            name,
            "log-variance branch",
            log_variance.clone(),
            &flat(&want.log_variance),
        );
        let uncertainty = relative_uncertainty(log_variance);
        close(name, "uncertainty", uncertainty.clone(), &want.uncertainty);
        let partners = indices::<B>(&inputs.partners);
        let mixed = mix_features(mean.clone(), uncertainty, partners.clone());
        close(name, "mix weights", mixed.weights, &want.mix_weights);
        close(name, "mixed", mixed.features.clone(), &flat(&want.mixed));
        let outputs = heads.classifier.forward(mixed.features);
        close(name, "outputs", outputs.clone(), &flat(&want.outputs));
        let loss = add_up_loss(outputs, indices(&inputs.labels), partners);
        close(name, "add-up loss", loss, &[want.loss]);
        close(
            name,
            "inference logits",
            heads.classifier.forward(mean),
            &flat(&want.inference_logits),
        );
    }
}

#[test]
fn eac_matches_its_official_step() {
    let cases = fixture().eac;
    assert_eq!(cases.len(), 2);
    for case in cases {
        let (name, inputs, want) = (case.name.as_str(), &case.inputs, &case.expected);
        let backbone = backbone_with_head(&inputs.fc_weight, &inputs.fc_bias);
        let head_weight = backbone.head_weight();
        let (f1, f2) = (maps::<B>(&inputs.features_1), maps::<B>(&inputs.features_2));
        close(
            name,
            "CAM 1",
            afcn_gradcam::class_activation_map(f1.clone(), head_weight.clone()),
            &flat_maps(&want.cam_1),
        );
        let cam_2 = afcn_gradcam::class_activation_map(f2.clone(), head_weight);
        close(
            name,
            "CAM 2 flipped",
            afcn_losses::flip_width(cam_2),
            &flat_maps(&want.cam_2_flipped),
        );

        let forward = case.config.forward(
            &std::marker::PhantomData,
            &backbone,
            batch(Tensor::cat(vec![f1, f2], 0), inputs.labels.len()),
        );
        close(
            name,
            "logits 1",
            EacConfig::predictions(&forward),
            &flat(&want.logits_1),
        );
        let parts = Method::loss(&case.config, forward, indices(&inputs.labels)).unwrap();
        close(
            name,
            "cross-entropy",
            parts.cross_entropy,
            &[want.cross_entropy],
        );
        close(name, "consistency", parts.auxiliary, &[want.consistency]);
        close(name, "loss", parts.loss, &[want.loss]);
    }
}
