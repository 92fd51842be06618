//! The training methods: one module each, and the registry that lists them.
//!
//! A method is a value: its configuration section (`[methods.<name>]` in a config file),
//! implementing [`Method`] with its own checks, the heads it adds to the backbone, how many
//! views of each image a step needs, its relabelling policy, one forward of a batch and the
//! loss of that forward. The trainer's step ([`crate::step`]) only dispatches through the
//! registry at the bottom of this file, which generates [`MethodKind`] (the names on the
//! command line and in config files), [`MethodConfigs`] (every method's section) and
//! [`MethodHeads`] (every method's extra modules). Adding a method is one module and one
//! registry line: see `docs/architecture.md` and the `new_method` example.

// `MethodHeads` and the record enum its derive generates hold one method's modules: RUL's
// variant is larger than the others, and there is one such value per model.
#![allow(clippy::large_enum_variant)]

mod afcn;
mod baseline;
mod eac;
mod rul;
mod scn;

pub use afcn::AfcnForward;
pub use baseline::Baseline;
pub use eac::EacForward;
pub use rul::{Rul, RulBranch, RulForward, RulHeads};
pub use scn::{Scn, ScnForward, ScnHeads};

use std::fmt;

use afcn_backbone::ResNet;
use afcn_certainty::{CorrectionRule, InvalidField};
use afcn_data::Views;
use afcn_losses::{AfcnConfig, AfcnLossError, EacConfig};
use burn::{
    backend::Flex,
    module::Module,
    tensor::{Int, Tensor, backend::AutodiffBackend, backend::Backend},
};
use serde::{Serialize, de::DeserializeOwned};

/// One training method of the comparison: a method is its configuration section.
///
/// A method keeps no state between steps (the label store and the optimizer are the
/// trainer's). A step calls [`Method::forward`] once per batch; its output feeds both the
/// relabelling ([`Method::relabel_probabilities`]) and the loss ([`Method::loss`]), so no head
/// runs twice.
pub trait Method: Clone + fmt::Debug + PartialEq + Default + Serialize + DeserializeOwned {
    /// The name on the command line, in config files and in run directory names.
    const NAME: &'static str;
    /// Other names accepted on the command line (`ce` for the baseline).
    const ALIASES: &'static [&'static str] = &[];
    /// One line for `afcn train --help` and `afcn methods`.
    const ABOUT: &'static str;

    /// The modules the method adds to the backbone (`PhantomData<B>` for none).
    type Heads<B: Backend>: Module<B>;
    /// What the trained model classifies with: [`BackboneHead`], so that the exported
    /// backbone (`model.safetensors`) alone predicts as the trained model, or (a part of) the
    /// method's heads, which a run then also writes (`heads.mpk`) and `afcn eval --config`
    /// loads.
    type Classifier<B: Backend>: Classifier<B>;
    /// One forward of a batch through the method's heads: what relabelling and the loss read.
    type Forward<B: AutodiffBackend>;

    /// Checks the section's values; the error names the key inside the section.
    fn validate(&self) -> Result<(), InvalidField>;

    /// The section for a run of `epochs` epochs instead of `from` (schedules keep their
    /// share of the run). Unchanged by default.
    fn with_epochs(self, from: usize, epochs: usize) -> Self {
        let _ = (from, epochs);
        self
    }

    /// Views of each image a step sends through the network: the image and its mirror, or the
    /// image alone.
    fn views(&self) -> Views;

    /// The heads' learning rate as a multiple of the backbone's. 1 by default.
    fn head_lr_factor(&self) -> f64 {
        1.0
    }

    /// Freshly initialised heads for a backbone whose last feature map is `shape`.
    fn heads<B: Backend>(&self, shape: FeatureShape, device: &B::Device) -> Self::Heads<B>;

    /// The classifier of the trained model, from its heads.
    fn classifier<B: Backend>(heads: &Self::Heads<B>) -> &Self::Classifier<B>;

    /// How the method relabels in `epoch` (0-based): `None` when it does not.
    fn relabelling(&self, epoch: usize) -> Option<Relabelling> {
        let _ = epoch;
        None
    }

    /// The method's heads on the backbone's feature maps of one batch.
    fn forward<B: AutodiffBackend>(
        &self,
        heads: &Self::Heads<B>,
        backbone: &ResNet<B>,
        batch: StepBatch<B>,
    ) -> Self::Forward<B>;

    /// The method's class scores of view 1 in `forward`: the training accuracy's predictions,
    /// and what relabelling decides on by default.
    ///
    /// # Shapes
    /// - output: `[N, C]`
    fn predictions<B: AutodiffBackend>(forward: &Self::Forward<B>) -> Tensor<B, 2>;

    /// The class probabilities that relabelling decides on, detached. Only called in epochs
    /// where [`Method::relabelling`] is `Some`; the softmax of [`Method::predictions`] by
    /// default.
    fn relabel_probabilities<B: AutodiffBackend>(
        &self,
        forward: &Self::Forward<B>,
    ) -> Tensor<B::InnerBackend, 2> {
        burn::tensor::activation::softmax(Self::predictions(forward).inner(), 1)
    }

    /// The loss of `forward` against `labels` (after any relabelling that applies to it).
    fn loss<B: AutodiffBackend>(
        &self,
        forward: Self::Forward<B>,
        labels: Tensor<B, 1, Int>,
    ) -> Result<LossParts<B>, MethodError>;
}

/// What a trained model classifies with, beside the backbone's feature maps.
pub trait Classifier<B: Backend> {
    /// Whether this is the backbone's own head, which needs nothing beside the exported
    /// backbone. Only [`BackboneHead`] sets it.
    const BACKBONE: bool = false;

    /// Class scores at inference.
    ///
    /// # Shapes
    /// - `images`: `[N, 3, S, S]`; output `[N, C]`
    fn logits(&self, backbone: &ResNet<B>, images: Tensor<B, 4>) -> Tensor<B, 2>;
}

/// The backbone's own head `z = GAP(F) W^T + b`: the classifier of every method whose
/// inference needs none of its heads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackboneHead;

impl<B: Backend> Classifier<B> for BackboneHead {
    const BACKBONE: bool = true;

    fn logits(&self, backbone: &ResNet<B>, images: Tensor<B, 4>) -> Tensor<B, 2> {
        backbone.forward(images).logits
    }
}

/// The shape of a backbone's last feature map `F`, from which heads are sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureShape {
    /// Channels `K`.
    pub channels: usize,
    /// Height `h`.
    pub height: usize,
    /// Width `w`.
    pub width: usize,
    /// Number of classes `C`.
    pub classes: usize,
}

/// When a method's relabelling takes effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelabelTiming {
    /// The batch's loss already uses the new labels (AFCN: correct, then learn).
    ThisStep,
    /// The batch's loss uses the labels it had; the new ones serve later epochs (SCN relabels
    /// after the optimizer's update).
    LaterSteps,
}

/// A method's relabelling in one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Relabelling {
    /// Which labels change.
    pub rule: CorrectionRule,
    /// When the change takes effect.
    pub timing: RelabelTiming,
}

/// The network's last feature maps of one batch, with what a loss needs to know about it.
pub struct StepBatch<B: AutodiffBackend> {
    /// `F` of every view: `[V N, K, h, w]`, view 1 of every sample first.
    pub features: Tensor<B, 4>,
    /// Samples in the batch, `N`.
    pub samples: usize,
    /// The epoch (0-based).
    pub epoch: usize,
    /// The run's seed.
    pub seed: u64,
    /// The samples' indices in the training split.
    pub indices: Vec<usize>,
}

impl<B: AutodiffBackend> StepBatch<B> {
    /// `F` of view `v` (0 for the image, 1 for its mirror): `[N, K, h, w]`.
    pub fn view_features(&self, v: usize) -> Tensor<B, 4> {
        let [_, k, h, w] = self.features.dims();
        let n = self.samples;
        self.features
            .clone()
            .slice([v * n..(v + 1) * n, 0..k, 0..h, 0..w])
    }
}

/// A method's loss of one batch and its parts, on the device.
pub struct LossParts<B: AutodiffBackend> {
    /// The loss to differentiate. Shape `[1]`.
    pub loss: Tensor<B, 1>,
    /// The (weighted) cross-entropy part. Shape `[1]`.
    pub cross_entropy: Tensor<B, 1>,
    /// The method's second term (0 when it has none). Shape `[1]`.
    pub auxiliary: Tensor<B, 1>,
}

impl<B: AutodiffBackend> LossParts<B> {
    /// The parts of a loss that is one cross-entropy term.
    pub fn cross_entropy_only(loss: Tensor<B, 1>) -> Self {
        Self {
            auxiliary: loss.zeros_like(),
            cross_entropy: loss.clone(),
            loss,
        }
    }
}

/// An operation run with a method's static types: what [`MethodHeads::visit`] calls with the
/// heads' method.
pub trait HeadsVisitor<B: AutodiffBackend> {
    /// What the operation gives back.
    type Output;
    /// Runs the operation for method `M` with its configuration section and heads.
    fn visit<M: Method>(self, method: &M, heads: &M::Heads<B>) -> Self::Output;
}

/// What can go wrong in a method's part of a step.
#[derive(Debug, thiserror::Error)]
pub enum MethodError {
    /// The model carries the heads of another method than the run trains.
    #[error("the model has the heads of {model}, the run trains {run}")]
    WrongHeads {
        /// The method of the model's heads.
        model: MethodKind,
        /// The method of the run.
        run: MethodKind,
    },
    /// A step was given no shard of its batch.
    #[error("a step needs at least one shard of its batch")]
    NoShards,
    /// A shard's network output does not hold one row per view and sample.
    #[error(
        "the network output of samples {samples:?} of a batch of {batch} has {rows} rows; \
         {views} views of {n} samples need {expected}",
        n = samples.len(),
        expected = views * samples.len()
    )]
    Rows {
        /// The shard's positions in the batch.
        samples: std::ops::Range<usize>,
        /// Samples in the batch.
        batch: usize,
        /// Rows of the shard's output.
        rows: usize,
        /// Views of each sample.
        views: usize,
    },
    /// The method's loss refused its inputs.
    #[error(transparent)]
    Loss(#[from] AfcnLossError),
}

/// Why a method name was not accepted.
#[derive(Debug, thiserror::Error)]
#[error("unknown method `{name}`: expected one of {}", MethodKind::names().join(", "))]
pub struct UnknownMethod {
    /// The name given.
    pub name: String,
}

/// Lists the methods: one line each, `Variant: config_key => Method`, the method being the
/// type of its section. The order is that of the paper's tables.
macro_rules! registry {
    ($($variant:ident: $key:ident => $method:ty),+ $(,)?) => {
        /// The training methods, by name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum MethodKind {
            $(
                #[doc = concat!("[`", stringify!($method), "`].")]
                $variant,
            )+
        }

        impl MethodKind {
            /// Every method, in the order of the paper's tables.
            pub const ALL: &'static [MethodKind] = &[$(MethodKind::$variant),+];

            /// The method's name on the command line, in config files and reports.
            pub fn name(self) -> &'static str {
                match self {
                    $(MethodKind::$variant => <$method as Method>::NAME,)+
                }
            }

            /// Other names the command line accepts.
            pub fn aliases(self) -> &'static [&'static str] {
                match self {
                    $(MethodKind::$variant => <$method as Method>::ALIASES,)+
                }
            }

            /// Whether the exported backbone alone predicts as the trained model: the
            /// method's [`Method::Classifier`] is [`BackboneHead`]. (The answer is the same on
            /// every backend; the CPU backend, always compiled in, asks.)
            pub fn backbone_inference(self) -> bool {
                match self {
                    $(MethodKind::$variant => {
                        <<$method as Method>::Classifier<Flex> as Classifier<Flex>>::BACKBONE
                    })+
                }
            }

            /// One line about the method.
            pub fn about(self) -> &'static str {
                match self {
                    $(MethodKind::$variant => <$method as Method>::ABOUT,)+
                }
            }

            /// Views of each image a step of this method needs under `configs`.
            pub fn views(self, configs: &MethodConfigs) -> Views {
                match self {
                    $(MethodKind::$variant => configs.$key.views(),)+
                }
            }

            /// The heads' learning rate as a multiple of the backbone's, under `configs`.
            pub fn head_lr_factor(self, configs: &MethodConfigs) -> f64 {
                match self {
                    $(MethodKind::$variant => configs.$key.head_lr_factor(),)+
                }
            }

            /// This method's relabelling in `epoch` under `configs`.
            pub fn relabelling(self, configs: &MethodConfigs, epoch: usize) -> Option<Relabelling> {
                match self {
                    $(MethodKind::$variant => configs.$key.relabelling(epoch),)+
                }
            }

            /// This method's heads, freshly initialised, for a feature map of `shape`.
            pub fn heads<B: Backend>(
                self,
                configs: &MethodConfigs,
                shape: FeatureShape,
                device: &B::Device,
            ) -> MethodHeads<B> {
                match self {
                    $(MethodKind::$variant => {
                        MethodHeads::$variant(configs.$key.heads::<B>(shape, device))
                    })+
                }
            }
        }

        /// Every method's configuration section (`[methods.<name>]` in a config file).
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct MethodConfigs {
            $(
                #[doc = concat!("[`", stringify!($method), "`]'s section.")]
                pub $key: $method,
            )+
        }

        impl MethodConfigs {
            /// Checks every section; the error names the dotted key (`methods.scn.high_ratio`).
            pub fn validate(&self) -> Result<(), InvalidField> {
                $(
                    Method::validate(&self.$key)
                        .map_err(|e| e.within(stringify!($key)).within("methods"))?;
                )+
                Ok(())
            }

            /// Every section for a run of `epochs` epochs instead of `from`.
            pub fn with_epochs(self, from: usize, epochs: usize) -> Self {
                Self {
                    $($key: Method::with_epochs(self.$key, from, epochs),)+
                }
            }
        }

        /// The heads of the method a model trains (the variant is the method).
        #[derive(Module, Debug)]
        pub enum MethodHeads<B: Backend> {
            $(
                #[doc = concat!("[`", stringify!($method), "`]'s heads.")]
                $variant(<$method as Method>::Heads<B>),
            )+
        }

        impl<B: Backend> MethodHeads<B> {
            /// The method these heads belong to.
            pub fn kind(&self) -> MethodKind {
                match self {
                    $(MethodHeads::$variant(_) => MethodKind::$variant,)+
                }
            }

            /// The trained model's class scores: its [`Method::Classifier`] on `images`.
            ///
            /// # Shapes
            /// - `images`: `[N, 3, S, S]`; output `[N, C]`
            pub fn logits(&self, backbone: &ResNet<B>, images: Tensor<B, 4>) -> Tensor<B, 2> {
                match self {
                    $(MethodHeads::$variant(heads) => {
                        <$method as Method>::classifier(heads).logits(backbone, images)
                    })+
                }
            }
        }

        impl<B: AutodiffBackend> MethodHeads<B> {
            /// Runs `visitor` with the heads' method, its section of `configs` and the heads.
            pub fn visit<V: HeadsVisitor<B>>(&self, configs: &MethodConfigs, visitor: V) -> V::Output {
                match self {
                    $(MethodHeads::$variant(heads) => visitor.visit(&configs.$key, heads),)+
                }
            }
        }
    };
}

registry! {
    Baseline: baseline => Baseline,
    Scn: scn => Scn,
    Rul: rul => Rul,
    Eac: eac => EacConfig,
    Afcn: afcn => AfcnConfig,
}

impl MethodKind {
    /// Every method's name, in the order of [`MethodKind::ALL`].
    pub fn names() -> Vec<&'static str> {
        MethodKind::ALL.iter().map(|m| m.name()).collect()
    }
}

impl Default for MethodKind {
    /// AFCN, this project's method.
    fn default() -> Self {
        MethodKind::Afcn
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for MethodKind {
    type Err = UnknownMethod;

    fn from_str(s: &str) -> Result<Self, UnknownMethod> {
        MethodKind::ALL
            .iter()
            .copied()
            .find(|m| m.name() == s || m.aliases().contains(&s))
            .ok_or_else(|| UnknownMethod { name: s.to_owned() })
    }
}

impl Serialize for MethodKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for MethodKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "clap")]
impl clap::ValueEnum for MethodKind {
    fn value_variants<'a>() -> &'a [Self] {
        MethodKind::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(
            clap::builder::PossibleValue::new(self.name())
                .aliases(self.aliases().iter().copied())
                .help(self.about()),
        )
    }
}
