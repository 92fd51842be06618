//! Grad-CAM of your own Burn model: a small CNN defined here (two 3 x 3 convolutions with ReLU,
//! global average pooling, a linear layer), not one of afcn-backbone's networks, explained by
//! implementing [`CamTarget`] for it, then [`GradCam`] on one picture and the heat map laid
//! over it as PNG with [`save_overlay_png`].
//!
//! ```sh
//! cargo run -p afcn-gradcam --example own_model -- cam.png            # a synthetic picture
//! cargo run -p afcn-gradcam --example own_model -- cam.png face.jpg   # your own picture
//! ```
//!
//! The output defaults to `own_model_cam.png` in the current directory. So that the map means
//! something, the network first learns (for a second or two, from a fixed seed) to tell
//! pictures with a cartoon face from pictures without one; the picture explained holds a face
//! and a green square, and the map of the class "face" should cover the face. On your own
//! picture it shows where this toy network sees a face-like blob: put your trained model in
//! its place. A model with batch norm should run the part before the explained layer in eval
//! mode (see `afcn_gradcam::SplitForward`).

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use afcn_gradcam::{
    CamError, CamMethod, CamTarget, ClassTarget, GradCam, heatmap, save_overlay_png,
};
use burn::{
    backend::{Autodiff, Flex},
    module::Module,
    nn::{
        Linear, LinearConfig, PaddingConfig2d,
        conv::{Conv2d, Conv2dConfig},
        loss::CrossEntropyLossConfig,
    },
    optim::{AdamConfig, GradientsParams, Optimizer},
    tensor::{
        Int, Tensor, TensorData,
        activation::{relu, softmax},
        backend::{AutodiffBackend, Backend},
    },
};
use image::{Rgb, RgbImage, imageops::FilterType};

/// The backend: Burn's CPU backend under autodiff, which Grad-CAM needs for the gradient.
type B = Autodiff<Flex>;

/// The output file when none is given.
const DEFAULT_OUT: &str = "own_model_cam.png";
/// The side of the synthetic picture explained, and the longest side a given picture is
/// shrunk to.
const SIDE: u32 = 96;
/// The classes of the example network.
const CLASSES: [&str; 2] = ["no face", "face"];
/// The layer explained: the output of the second convolution (after its ReLU).
const LAYER: &str = "conv2";
/// Training: steps, pictures per step, their side.
const STEPS: usize = 60;
const BATCH: usize = 16;
const TRAIN_SIDE: u32 = 48;

/// A small CNN: conv 3 -> 16 (stride 2), ReLU, conv 16 -> 32 (stride 2), ReLU, global average
/// pooling, linear 32 -> classes.
#[derive(Module, Debug)]
struct SmallCnn<B: Backend> {
    conv1: Conv2d<B>,
    conv2: Conv2d<B>,
    fc: Linear<B>,
}

impl<B: Backend> SmallCnn<B> {
    fn new(classes: usize, device: &B::Device) -> Self {
        let conv = |channels| {
            Conv2dConfig::new(channels, [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Self {
            conv1: conv([3, 16]),
            conv2: conv([16, 32]),
            fc: LinearConfig::new(32, classes).init(device),
        }
    }

    /// Images `[N, 3, H, W]` to the activation of `conv1`, `[N, 16, H/2, W/2]`.
    fn block1(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        relu(self.conv1.forward(images))
    }

    /// The activation of `conv1` to that of `conv2`, `[N, 32, H/4, W/4]`.
    fn block2(&self, a: Tensor<B, 4>) -> Tensor<B, 4> {
        relu(self.conv2.forward(a))
    }

    /// The activation of `conv2` to the logits `[N, C]`: global average pooling, then linear.
    fn head(&self, a: Tensor<B, 4>) -> Tensor<B, 2> {
        let [n, k, _, _] = a.dims();
        self.fc.forward(a.mean_dim(3).mean_dim(2).reshape([n, k]))
    }

    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.head(self.block2(self.block1(images)))
    }
}

/// What Grad-CAM needs: the forward pass split at a named layer. `activation` then
/// `logits_from` is exactly `forward`.
impl<B: Backend> CamTarget<B> for SmallCnn<B> {
    fn cam_layers(&self) -> Vec<String> {
        vec!["conv1".into(), "conv2".into()]
    }

    fn activation(&self, images: Tensor<B, 4>, layer: &str) -> Result<Tensor<B, 4>, CamError> {
        self.check_layer(layer)?;
        let a = self.block1(images);
        Ok(if layer == "conv1" { a } else { self.block2(a) })
    }

    fn logits_from(&self, a: Tensor<B, 4>, layer: &str) -> Result<Tensor<B, 2>, CamError> {
        self.check_layer(layer)?;
        let a = if layer == "conv1" { self.block2(a) } else { a };
        Ok(self.head(a))
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("own_model: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args_os().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| DEFAULT_OUT.into()));
    let input = args.next().map(PathBuf::from);
    if args.next().is_some() {
        return Err("usage: own_model [OUT.png] [IMAGE]".into());
    }
    explain_to_png(&out, input.as_deref())?;
    Ok(())
}

/// Trains the network, explains the class "face" on `input` (the synthetic picture when
/// `None`), writes the overlay to `out` and says so; returns the heat map (`[0, 1]`, one value
/// per pixel of the picture, row-major).
fn explain_to_png(out: &Path, input: Option<&Path>) -> Result<Vec<f32>, String> {
    // Read the input before training, so that a bad path fails at once.
    let picture = match input {
        Some(path) => read_picture(path)?,
        None => Scene::explained().draw(SIDE),
    };

    let device = Default::default();
    let model = train::<B>(&device);

    let face = 1;
    let explained = GradCam
        .explain(
            &model,
            to_tensor(&picture, &device),
            LAYER,
            &ClassTarget::Given(vec![face]),
        )
        .map_err(|e| format!("Grad-CAM failed: {e}"))?;
    let probability = softmax(explained.logits.clone(), 1)
        .narrow(1, face, 1)
        .into_scalar();
    let [_, h, w] = explained.map.dims();
    let (width, height) = picture.dimensions();
    let heat = heatmap(explained.map, [height as usize, width as usize])
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| format!("reading the heat map back: {e:?}"))?;
    save_overlay_png(out, &picture, &heat).map_err(|e| e.to_string())?;

    let source = match input {
        Some(path) => path.display().to_string(),
        None => "a synthetic picture".to_string(),
    };
    println!(
        "wrote {}: Grad-CAM of layer `{LAYER}` ({h} x {w}) for the class `{}` (probability \
         {probability:.2}), over {source} ({width} x {height})",
        out.display(),
        CLASSES[face],
    );
    Ok(heat)
}

/// A fresh network trained for [`STEPS`] Adam steps on random scenes, labelled by whether
/// they hold a face. Any autodiff backend does.
fn train<T: AutodiffBackend>(device: &T::Device) -> SmallCnn<T> {
    T::seed(device, 0);
    let mut model = SmallCnn::<T>::new(CLASSES.len(), device);
    let mut optimizer = AdamConfig::new().init();
    let loss = CrossEntropyLossConfig::new().init(device);
    let mut rng = XorShift(0x5eed);
    for step in 1..=STEPS {
        let scenes: Vec<Scene> = (0..BATCH).map(|_| Scene::random(&mut rng)).collect();
        let images = scenes
            .iter()
            .map(|s| to_tensor(&s.draw(TRAIN_SIDE), device));
        let labels: Vec<i64> = scenes.iter().map(|s| i64::from(s.face.is_some())).collect();
        let labels = Tensor::<T, 1, Int>::from_data(TensorData::new(labels, [BATCH]), device);
        let logits = model.forward(Tensor::cat(images.collect(), 0));
        let value = loss.forward(logits.clone(), labels.clone());
        if step % 20 == 0 {
            let right = logits.argmax(1).squeeze_dim::<1>(1).equal(labels);
            let right = right.into_data().iter::<bool>().filter(|&r| r).count();
            let value = value.clone().into_data().iter::<f32>().sum::<f32>();
            eprintln!("step {step:>2}: loss {value:.3}, {right} of {BATCH} right");
        }
        let grads = GradientsParams::from_grads(value.backward(), &model);
        model = optimizer.step(1e-2, model, grads);
    }
    model
}

/// A synthetic scene in unit coordinates: a blue-grey background with a vertical gradient,
/// maybe a cartoon face (a warm disc with two dark eyes), maybe a green square.
struct Scene {
    /// Centre and radius of the face.
    face: Option<(f32, f32, f32)>,
    /// Top-left corner and side of the square.
    square: Option<(f32, f32, f32)>,
}

impl Scene {
    /// The picture explained: a face left of centre, a square at the bottom right.
    fn explained() -> Self {
        Scene {
            face: Some((0.38, 0.40, 0.24)),
            square: Some((0.70, 0.70, 0.20)),
        }
    }

    /// A face in half the scenes, a square in half, each at a random place and size.
    fn random(rng: &mut XorShift) -> Self {
        let face = (rng.next() < 0.5).then(|| {
            let r = 0.15 + 0.15 * rng.next();
            (
                r + (1.0 - 2.0 * r) * rng.next(),
                r + (1.0 - 2.0 * r) * rng.next(),
                r,
            )
        });
        let square = (rng.next() < 0.5).then(|| {
            let side = 0.15 + 0.15 * rng.next();
            ((1.0 - side) * rng.next(), (1.0 - side) * rng.next(), side)
        });
        Scene { face, square }
    }

    /// The scene as a `side x side` picture; the square is drawn over the face.
    fn draw(&self, side: u32) -> RgbImage {
        let s = side as f32;
        RgbImage::from_fn(side, side, |x, y| {
            let (x, y) = ((x as f32 + 0.5) / s, (y as f32 + 0.5) / s);
            let within = |cx: f32, cy: f32, r: f32| (x - cx).powi(2) + (y - cy).powi(2) < r * r;
            if let Some((x0, y0, a)) = self.square
                && x > x0
                && x < x0 + a
                && y > y0
                && y < y0 + a
            {
                return Rgb([40, 170, 60]);
            }
            if let Some((cx, cy, r)) = self.face {
                let eye = 0.2 * r;
                if within(cx - 0.4 * r, cy - 0.25 * r, eye)
                    || within(cx + 0.4 * r, cy - 0.25 * r, eye)
                {
                    return Rgb([40, 25, 20]);
                }
                if within(cx, cy, r) {
                    return Rgb([225, 170, 130]);
                }
            }
            Rgb([
                (90.0 + 60.0 * y) as u8,
                (110.0 + 60.0 * y) as u8,
                (150.0 + 60.0 * y) as u8,
            ])
        })
    }
}

/// Marsaglia's xorshift64: uniform numbers in `[0, 1)` from a fixed seed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Reads a picture as RGB, shrunk (keeping its aspect ratio) so that its longest side is at
/// most [`SIDE`].
fn read_picture(path: &Path) -> Result<RgbImage, String> {
    let image = image::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let image = if image.width().max(image.height()) > SIDE {
        image.resize(SIDE, SIDE, FilterType::Triangle)
    } else {
        image
    };
    Ok(image.to_rgb8())
}

/// An RGB picture as a `[1, 3, H, W]` tensor of values in `[0, 1]`.
fn to_tensor<T: Backend>(picture: &RgbImage, device: &T::Device) -> Tensor<T, 4> {
    let (width, height) = picture.dimensions();
    let plane = (width * height) as usize;
    let mut values = vec![0.0f32; 3 * plane];
    for (i, pixel) in picture.pixels().enumerate() {
        for c in 0..3 {
            values[c * plane + i] = f32::from(pixel[c]) / 255.0;
        }
    }
    Tensor::from_data(
        TensorData::new(values, [1, 3, height as usize, width as usize]),
        device,
    )
}

/// The example as CI runs it (`test = true` in Cargo.toml: `cargo test --all-targets` runs
/// this): the overlay is written, and the map of the class "face" is stronger on the face than
/// on the square and the background.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_an_overlay_whose_heat_lies_on_the_face() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let out = dir.path().join("cam.png");
        let heat = explain_to_png(&out, None).expect("the example runs");
        let overlay = image::open(&out).expect("a readable PNG");
        assert_eq!((overlay.width(), overlay.height()), (SIDE, SIDE));

        // Mean heat over the pixels of each part of the picture explained.
        let scene = Scene::explained();
        let (cx, cy, r) = scene.face.expect("a face");
        let (x0, y0, a) = scene.square.expect("a square");
        let mut sums = [(0.0f32, 0usize); 3]; // face, square, background
        for (i, &value) in heat.iter().enumerate() {
            let side = SIDE as usize;
            let x = ((i % side) as f32 + 0.5) / SIDE as f32;
            let y = ((i / side) as f32 + 0.5) / SIDE as f32;
            let part = if x > x0 && x < x0 + a && y > y0 && y < y0 + a {
                1
            } else if (x - cx).powi(2) + (y - cy).powi(2) < r * r {
                0
            } else {
                2
            };
            sums[part].0 += value;
            sums[part].1 += 1;
        }
        let [face, square, background] = sums.map(|(sum, n)| sum / n as f32);
        assert!(
            face > square && face > background,
            "mean heat: face {face}, square {square}, background {background}"
        );
    }
}
