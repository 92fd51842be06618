//! Backend parity: a small conv net's forward pass, backward pass and one optimizer step give
//! the same numbers on the cpu backend and on each accelerator backend compiled in, and the
//! torchvision ResNet-18 fixture reproduces PyTorch's logits and features there (relative
//! error <= 1e-4, measured as max |a - b| / max |b| over each tensor), so that a backend swap
//! is proven, not assumed.
//!
//! A backend without a device is skipped with a message, unless `AFCN_REQUIRE_WGPU=1` or
//! `AFCN_REQUIRE_CUDA=1` asks for it, in which case the test fails.
#![cfg(any(feature = "wgpu", feature = "cuda"))]

use afcn_backbone::{Arch, ResNetConfig};
use afcn_train::backend::{BackendKind, check};
use burn::{
    backend::{Autodiff, Flex},
    module::{Module, ModuleMapper, ModuleVisitor, Param},
    nn::{
        BatchNorm, BatchNormConfig, Linear, LinearConfig, Relu,
        conv::{Conv2d, Conv2dConfig},
        loss::CrossEntropyLossConfig,
        pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig},
    },
    optim::{GradientsParams, Optimizer, SgdConfig},
    tensor::{Int, Tensor, TensorData, backend::AutodiffBackend, backend::Backend},
};
use burn_store::{ModuleStore, SafetensorsStore};

/// conv 3x3 (3 -> 8) - batch norm - ReLU - conv 3x3 stride 2 (8 -> 16) - ReLU - GAP - linear.
#[derive(Module, Debug)]
struct SmallNet<B: Backend> {
    conv1: Conv2d<B>,
    bn1: BatchNorm<B>,
    conv2: Conv2d<B>,
    relu: Relu,
    pool: AdaptiveAvgPool2d,
    fc: Linear<B>,
}

impl<B: Backend> SmallNet<B> {
    fn new(device: &B::Device) -> Self {
        Self {
            conv1: Conv2dConfig::new([3, 8], [3, 3])
                .with_padding(burn::nn::PaddingConfig2d::Same)
                .init(device),
            bn1: BatchNormConfig::new(8).init(device),
            conv2: Conv2dConfig::new([8, 16], [3, 3])
                .with_stride([2, 2])
                .init(device),
            relu: Relu::new(),
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(16, 5).init(device),
        }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = self.relu.forward(self.bn1.forward(self.conv1.forward(x)));
        let x = self.relu.forward(self.conv2.forward(x));
        self.fc.forward(self.pool.forward(x).flatten(1, 3))
    }
}

/// Everything the comparison looks at, as host vectors.
struct Trace {
    logits: Vec<f32>,
    loss: Vec<f32>,
    grad_conv1: Vec<f32>,
    grad_fc: Vec<f32>,
    stepped_conv1: Vec<f32>,
    stepped_fc: Vec<f32>,
}

fn input(n: usize, size: usize) -> (TensorData, TensorData) {
    let values: Vec<f32> = (0..n * 3 * size * size)
        .map(|i| ((i as f32 * 0.37).sin() + (i as f32 * 0.011).cos()) * 0.8)
        .collect();
    let labels: Vec<i64> = (0..n as i64).map(|i| i % 5).collect();
    (
        TensorData::new(values, [n, 3, size, size]),
        TensorData::new(labels, [n]),
    )
}

fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().expect("f32 data")
}

/// Forward, cross-entropy, backward and one SGD step of `model` on `B`.
fn trace<B: AutodiffBackend>(model: SmallNet<B>, device: &B::Device) -> Trace {
    let (x, y) = input(4, 12);
    let x = Tensor::<B, 4>::from_data(x, device);
    let y = Tensor::<B, 1, Int>::from_data(y, device);
    let logits = model.forward(x);
    let loss = CrossEntropyLossConfig::new()
        .init(device)
        .forward(logits.clone(), y);
    let grads = loss.backward();
    let grad_conv1 = host(
        model
            .conv1
            .weight
            .grad(&grads)
            .expect("conv1 has a gradient"),
    );
    let grad_fc = host(model.fc.weight.grad(&grads).expect("fc has a gradient"));
    let params = GradientsParams::from_grads(grads, &model);
    let mut optimizer = SgdConfig::new().init();
    let stepped = optimizer.step(0.1, model, params);
    Trace {
        logits: host(logits),
        loss: host(loss),
        grad_conv1,
        grad_fc,
        stepped_conv1: host(stepped.conv1.weight.val()),
        stepped_fc: host(stepped.fc.weight.val()),
    }
}

/// Collects every float parameter of a module, in visiting order.
struct Collect(Vec<TensorData>);

impl<B: Backend> ModuleVisitor<B> for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.push(param.val().into_data());
    }
}

/// Replaces every float parameter of a module by the next collected value.
struct Assign<'a, B: Backend>(std::vec::IntoIter<TensorData>, &'a B::Device);

impl<B: Backend> ModuleMapper<B> for Assign<'_, B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, old, mapper) = param.consume();
        let data = self.0.next().expect("both models have the same parameters");
        let value = Tensor::from_data(data, self.1);
        let value = if old.is_require_grad() {
            value.require_grad()
        } else {
            value
        };
        Param::from_mapped_value(id, value, mapper)
    }
}

/// `target` with the parameter values of `source` (same architecture, any backends).
fn transfer<A: Backend, B: Backend>(
    source: &SmallNet<A>,
    target: SmallNet<B>,
    device: &B::Device,
) -> SmallNet<B> {
    let mut collect = Collect(Vec::new());
    source.visit(&mut collect);
    target.map(&mut Assign(collect.0.into_iter(), device))
}

fn relative_error(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let diff = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    let scale = b.iter().map(|y| y.abs()).fold(f32::MIN_POSITIVE, f32::max);
    diff / scale
}

/// Whether `kind` has a device; without one the test is skipped, unless
/// `AFCN_REQUIRE_<KIND>=1` makes it fail.
fn available(kind: BackendKind) -> bool {
    let Err(err) = check(kind) else {
        return true;
    };
    let variable = format!("AFCN_REQUIRE_{}", kind.name().to_uppercase());
    if std::env::var(&variable).as_deref() == Ok("1") {
        panic!("{variable}=1 but {err}");
    }
    eprintln!("skipping the {kind} test: {err}");
    false
}

/// The fixture's stage widths (`meta.json`): torchvision's ResNet-18 topology, every layer's
/// kind, kernel, stride and name, at half its widths (a quarter of its parameters).
const FIXTURE_WIDTHS: [usize; 4] = [32, 64, 128, 256];

/// The torchvision ResNet-18 fixture: under `$AFCN_FIXTURES` when set (a test binary run away
/// from the checkout it was built in, as `cargo xtask gpu-bundle` makes), else the checkout's.
fn fixture(file: &str) -> String {
    let root = std::env::var("AFCN_FIXTURES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures").into());
    format!("{root}/resnet18w32-112/{file}")
}

/// The torchvision ResNet-18 fixture in eval mode on `B`: logits and layer-4 features equal
/// PyTorch's to relative error <= 1e-4.
fn assert_fixture<B: Backend>(kind: BackendKind) {
    if !available(kind) {
        return;
    }
    let device = B::Device::default();
    let io = |name: &str| -> Vec<f32> {
        let mut store = SafetensorsStore::from_file(fixture("io.safetensors"));
        let snapshot = store.get_snapshot(name).expect("io.safetensors reads");
        let data = snapshot
            .expect("the tensor exists")
            .to_data()
            .expect("data");
        data.to_vec().expect("f32")
    };
    let (model, report) = ResNetConfig::new()
        .with_arch(Arch::ResNet18)
        .with_widths(Some(FIXTURE_WIDTHS))
        .with_num_classes(7)
        .init::<B>(&device)
        .load_weights(fixture("weights.safetensors"))
        .expect("the fixture loads");
    assert!(report.is_complete(), "{report}");
    let input = TensorData::new(io("input"), [2, 3, 112, 112]);
    let out = model.forward(Tensor::from_data(input, &device));
    for (name, actual) in [
        ("logits", host(out.logits)),
        ("features", host(out.features)),
    ] {
        let error = relative_error(&actual, &io(name));
        eprintln!("{kind} ResNet-18 fixture, {name}: relative error {error:.2e}");
        assert!(
            error <= 1e-4,
            "{kind} {name}: relative error {error:.2e} > 1e-4"
        );
    }
}

/// Runs the trace on the cpu backend and on `B` from the same weights and compares.
fn assert_parity<B: AutodiffBackend>(kind: BackendKind) {
    if !available(kind) {
        return;
    }
    type Cpu = Autodiff<Flex>;
    let cpu_device = Default::default();
    let cpu_model = SmallNet::<Cpu>::new(&cpu_device);

    let device = B::Device::default();
    let model = transfer(&cpu_model, SmallNet::<B>::new(&device), &device);

    let reference = trace(cpu_model, &cpu_device);
    let other = trace(model, &device);
    for (name, a, b) in [
        ("logits", &other.logits, &reference.logits),
        ("loss", &other.loss, &reference.loss),
        ("d loss / d conv1", &other.grad_conv1, &reference.grad_conv1),
        ("d loss / d fc", &other.grad_fc, &reference.grad_fc),
        (
            "conv1 after SGD",
            &other.stepped_conv1,
            &reference.stepped_conv1,
        ),
        ("fc after SGD", &other.stepped_fc, &reference.stepped_fc),
    ] {
        let error = relative_error(a, b);
        eprintln!("{kind} vs cpu, {name}: relative error {error:.2e}");
        assert!(
            error <= 1e-4,
            "{kind} vs cpu, {name}: relative error {error:.2e} > 1e-4"
        );
    }
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_matches_cpu() {
    assert_parity::<Autodiff<burn::backend::Wgpu>>(BackendKind::Wgpu);
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_reproduces_the_torchvision_fixture() {
    assert_fixture::<burn::backend::Wgpu>(BackendKind::Wgpu);
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_matches_cpu() {
    assert_parity::<Autodiff<burn::backend::Cuda>>(BackendKind::Cuda);
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_reproduces_the_torchvision_fixture() {
    assert_fixture::<burn::backend::Cuda>(BackendKind::Cuda);
}
