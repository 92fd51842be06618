//! `afcn explain`: where the network looks, as a Grad-CAM or Grad-CAM++ heat map laid over the
//! picture.
//!
//! The image is resized to S x S and normalised as `afcn predict` does; the network runs in
//! eval mode (batch norm with running statistics) up to the explained layer, and the rest of it
//! under autodiff for the gradient of the class score. The heat map is pytorch-grad-cam's: the
//! raw map (ReLU of the gradient-weighted channels), min-max normalised, resized to S x S
//! bilinearly and normalised again. It is written over the resized picture in the jet colour
//! map as PNG; with `--dump PREFIX` the raw map (`PREFIX.raw.npy`, h x w) and the heat map
//! (`PREFIX.up.npy`, S x S) are written as float32 NumPy arrays too.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use afcn_data::{ImageLimits, Location, decode_image, image_to_tensor};
use afcn_gradcam::{
    CamMethod, ClassTarget, Explanation, GradCam, GradCamPlusPlus, SplitForward, heatmap, write_npy,
};
use anyhow::{Context, anyhow, bail};
use burn::{
    module::AutodiffModule,
    tensor::{Tensor, backend::AutodiffBackend},
};

use crate::{
    commands::{
        model_args::{ModelArgs, Network},
        predict::default_names,
    },
    plots,
};
use afcn_train::backend::{BackendTask, run_on};

/// The layer of a ResNet that `afcn explain` can explain: the output of its last stage.
const LAYER4: &str = "layer4";

/// The class activation mapping to compute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Grad-CAM: channel weights are the spatial mean of the gradient.
    #[default]
    #[value(name = "gradcam")]
    GradCam,
    /// Grad-CAM++: channel weights from the positive gradients, weighted per pixel.
    #[value(name = "gradcam++")]
    GradCamPlusPlus,
}

impl Method {
    /// The name used on the command line and in the report line.
    pub fn name(self) -> &'static str {
        match self {
            Method::GradCam => "gradcam",
            Method::GradCamPlusPlus => "gradcam++",
        }
    }
}

/// Arguments of `afcn explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The network (`--size` is also the side of the heat map).
    #[command(flatten)]
    pub model: ModelArgs,
    /// The class to explain, as an index into the classifier's outputs (default: the
    /// predicted class).
    #[arg(long)]
    pub class: Option<usize>,
    /// The class activation mapping.
    #[arg(long, value_enum, default_value_t = Method::GradCam)]
    pub method: Method,
    /// The layer whose activation is explained (ResNets: `layer4`, the last stage).
    #[arg(long, default_value = LAYER4)]
    pub layer: String,
    /// The picture to write (PNG): the image, its heat map beside it and over it (each at
    /// least 224 px) and the class explained.
    #[arg(long, default_value = "heat.png")]
    pub out: PathBuf,
    /// Also write the raw map to `PREFIX.raw.npy` (h x w) and the heat map to
    /// `PREFIX.up.npy` (S x S), float32.
    #[arg(long, value_name = "PREFIX")]
    pub dump: Option<PathBuf>,
    /// The image to explain.
    pub image: PathBuf,
}

/// Explains the image and writes the overlay (and the dumps); prints one line saying what was
/// explained and where it went.
pub fn run(args: Args) -> anyhow::Result<()> {
    let network = args.model.network("explain")?;
    if !network.method.backbone_inference() {
        bail!(
            "a {} run classifies with its method's heads, and explain covers the backbone's \
             classifier only (its explanation would not be the run's)",
            network.method
        );
    }
    if let Some(class) = args.class.filter(|&class| class >= network.classes) {
        bail!(
            "--class {class} is out of range: the classifier has {} outputs",
            network.classes
        );
    }
    let kind = args.model.backend;
    run_on(kind, Explain { args, network })?
}

/// The explanation work, run on the chosen backend.
struct Explain {
    args: Args,
    network: Network,
}

impl BackendTask for Explain {
    type Output = anyhow::Result<()>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let Explain { args, network } = self;
        let model = network.load::<B>(&device)?.backbone;
        let image = decode_image(
            &args.image,
            ImageLimits::default(),
            &Location::file(&args.image),
        )
        .map_err(|err| anyhow!("cannot read image {err}"))?;
        let input = Tensor::<B, 4>::from_inner(
            image_to_tensor::<B::InnerBackend>(&image, network.size, &device).unsqueeze(),
        );

        // Eval mode before the layer (batch norm with running statistics), autodiff after it.
        let eval = model.valid();
        let target = SplitForward::new(
            LAYER4,
            |x: Tensor<B, 4>| Tensor::from_inner(eval.features(x.inner())),
            |features: Tensor<B, 4>| model.head(features),
        );
        let classes = args.class.map_or(ClassTarget::Predicted, |class| {
            ClassTarget::Given(vec![class])
        });
        let explained = match args.method {
            Method::GradCam => GradCam.explain(&target, input, &args.layer, &classes),
            Method::GradCamPlusPlus => {
                GradCamPlusPlus.explain(&target, input, &args.layer, &classes)
            }
        }?;
        write_outputs(&args, &network, &image, explained)
    }
}

/// Writes the overlay and, with `--dump`, both maps; prints what was done.
fn write_outputs<B: burn::tensor::backend::Backend>(
    args: &Args,
    network: &Network,
    image: &afcn_data::image::RgbImage,
    explained: Explanation<B>,
) -> anyhow::Result<()> {
    let side = network.size as usize;
    let [_, h, w] = explained.map.dims();
    let raw = host_values(explained.map.clone())?;
    let heat = host_values(heatmap(explained.map.clone(), [side, side]))?;
    let shown = plots::panel_side(network.size) as usize;
    let panel_heat = host_values(heatmap(explained.map, [shown, shown]))?;
    let class = explained.classes[0];
    let names = default_names(network.classes);
    let what = if args.class.is_some() {
        "class"
    } else {
        "predicted"
    };
    let caption = format!("{what}: {} ({})", names[class], args.method.name());
    plots::save_explanation_png(&args.out, image, &panel_heat, &caption)?;
    if let Some(prefix) = &args.dump {
        write_npy(with_suffix(prefix, ".raw.npy"), &raw, &[h as u64, w as u64])?;
        write_npy(
            with_suffix(prefix, ".up.npy"),
            &heat,
            &[side as u64, side as u64],
        )?;
    }
    println!(
        "{}: class {} ({} at {}), {}x{} map, overlay {}",
        args.image.display(),
        explained.classes[0],
        args.method.name(),
        args.layer,
        h,
        w,
        args.out.display()
    );
    Ok(())
}

/// A map's values on the host, row-major.
fn host_values<B: burn::tensor::backend::Backend, const D: usize>(
    map: Tensor<B, D>,
) -> anyhow::Result<Vec<f32>> {
    map.into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(|err| anyhow!("{err:?}"))
        .context("reading a map back from the device")
}

/// `prefix` with `suffix` appended to its last component (`out/face` + `.raw.npy`).
fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut path = OsString::from(prefix.as_os_str());
    path.push(suffix);
    PathBuf::from(path)
}
