//! Weight import from torchvision state dicts and safetensors export, through burn-store.
//!
//! Files are read by burn-store (`.safetensors` by [`SafetensorsStore`], `.pth`/`.pt`/`.bin`
//! and `.pth.tar` by burn-store's `PytorchReader`, the zip and the legacy serialisation alike; nested
//! dictionaries such as `{'state_dict': ...}` come out as `state_dict.`-prefixed keys), and
//! pickled dicts of numpy arrays (`.pkl`, the VGGFace2 ResNet-50's format) by `serde-pickle`
//! (see `pickle.rs`). Before anything is applied the keys are normalised and checked against
//! the model:
//!
//! - wrapper prefixes (`state_dict.`, `model.`, `module.`, repeated or combined) are stripped;
//! - batch norm's `num_batches_tracked` counters, which Burn's batch norm does not keep, are
//!   set aside as *ignored*;
//! - floating-point tensors are converted to the model's precision;
//! - a tensor whose shape differs from the model's is an error naming the key and both shapes,
//!   except in the classifier (`fc.*`): a classifier of another size, or none, leaves the
//!   head as initialised, and the report says so ([`HeadStatus::Reinitialised`]).
//!
//! All key names in a [`LoadReport`] and in errors are torchvision's (`bn1.weight`, not
//! Burn's `bn1.gamma`).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    path::{Path, PathBuf},
    rc::Rc,
};

use burn::tensor::{DType, backend::Backend};
use burn_store::{
    ApplyError, BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot, ModuleStore,
    PyTorchToBurnAdapter, SafetensorsStore, TensorSnapshot, pytorch::PytorchReader,
};

use crate::resnet::ResNet;

/// Key prefix of the classifier, the only part whose shape may differ from the checkpoint's.
const HEAD_PREFIX: &str = "fc.";
/// Wrapper prefixes stripped from checkpoint keys (any number of them, in any order).
const WRAPPER_PREFIXES: &str = r"^((state_dict|model|module)\.)+";
/// Suffix of the batch-norm counters that have no counterpart in Burn.
const BATCH_COUNTER: &str = ".num_batches_tracked";

/// Why weights could not be read, applied or written.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file extension names no format afcn reads.
    #[error(
        "cannot read weights {path}: unknown format (expected .safetensors, .pth/.pt/.bin/.pth.tar \
         for a PyTorch state dict, or .pkl for a pickled dict of numpy arrays)"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// burn-store could not read the file.
    #[error("cannot read weights {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// burn-store's message.
        message: String,
    },
    /// A `.pkl` file is not a pickled dict of numpy arrays.
    #[error(
        "weights {path}: {}{message} (expected a pickled dict of numpy arrays, as \
         resnet50_ft_weight.pkl)",
        key.as_ref().map(|key| format!("`{key}` ")).unwrap_or_default()
    )]
    NotArrayDict {
        /// The file.
        path: PathBuf,
        /// The first offending key (in sorted order), when the problem is one entry.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A tensor outside the classifier has another shape than the model's.
    #[error(
        "weights {path}: `{key}` has shape {found:?} in the checkpoint but the {arch} model \
         expects {expected:?} (is --arch right?)"
    )]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// The torchvision key.
        key: String,
        /// The architecture of the model being loaded.
        arch: crate::Arch,
        /// The model's shape (PyTorch orientation).
        expected: Vec<usize>,
        /// The checkpoint's shape.
        found: Vec<usize>,
    },
    /// A tensor could not be applied (unreadable data, unsupported type).
    #[error("weights {path}: cannot apply `{key}`: {message}")]
    Apply {
        /// The file.
        path: PathBuf,
        /// The torchvision key.
        key: String,
        /// What went wrong.
        message: String,
    },
    /// The file could not be written.
    #[error("cannot write weights {path}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// burn-store's message.
        message: String,
    },
}

/// What happened to the classifier when weights were loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadStatus {
    /// The checkpoint's classifier was loaded.
    Loaded,
    /// The classifier kept its fresh initialisation: the checkpoint has none (`checkpoint` is
    /// `None`) or one of another shape (for example a face-recognition or ImageNet head).
    Reinitialised {
        /// Shape of the checkpoint's `fc.weight` (`[classes, K]`), if it has one.
        checkpoint: Option<Vec<usize>>,
        /// Shape of the model's `fc.weight` (`[C, K]`).
        model: Vec<usize>,
    },
}

/// What loading a checkpoint did, in torchvision key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Model tensors set from the checkpoint, in the model's order.
    pub applied: Vec<String>,
    /// Model tensors the checkpoint does not provide (they keep their initialisation), sorted.
    pub missing: Vec<String>,
    /// Checkpoint tensors the model has no place for (after prefix stripping), a classifier
    /// of another size included; sorted.
    pub unused: Vec<String>,
    /// Checkpoint tensors deliberately skipped: batch norm's `num_batches_tracked`.
    pub ignored: Vec<String>,
    /// Wrapper prefixes that were stripped from the checkpoint's keys (e.g. `module.`).
    pub stripped_prefixes: Vec<String>,
    /// Whether the classifier was loaded or re-initialised.
    pub head: HeadStatus,
}

impl LoadReport {
    /// True when every model tensor came from the checkpoint.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.head == HeadStatus::Loaded
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "applied {} tensors", self.applied.len())?;
        if !self.stripped_prefixes.is_empty() {
            write!(f, "; stripped prefixes {:?}", self.stripped_prefixes)?;
        }
        if !self.ignored.is_empty() {
            write!(f, "; ignored {} num_batches_tracked", self.ignored.len())?;
        }
        if !self.missing.is_empty() {
            write!(f, "; missing {:?}", self.missing)?;
        }
        if !self.unused.is_empty() {
            write!(f, "; unused {:?}", self.unused)?;
        }
        if let HeadStatus::Reinitialised { checkpoint, model } = &self.head {
            match checkpoint {
                Some(shape) => write!(
                    f,
                    "; classifier re-initialised: checkpoint fc.weight {shape:?}, model {model:?}"
                )?,
                None => write!(
                    f,
                    "; classifier re-initialised: the checkpoint has no fc.weight (model {model:?})"
                )?,
            }
        }
        Ok(())
    }
}

/// One model tensor: its torchvision key, its Burn path and its shape in PyTorch orientation.
struct Expected {
    torch_key: String,
    burn_path: String,
    shape: Vec<usize>,
    dtype: DType,
}

impl<B: Backend> ResNet<B> {
    /// Loads a torchvision-named state dict (`.safetensors`, `.pth`, `.pt`, `.bin`,
    /// `.pth.tar`, or a `.pkl` dict of numpy arrays) into this network and reports what was applied, in torchvision key names.
    ///
    /// Wrapper prefixes (`state_dict.`, `model.`, `module.`) are stripped, batch norm's
    /// `num_batches_tracked` counters are ignored, floating-point tensors are converted to the
    /// model's precision. A classifier (`fc.*`) of another shape, or none, leaves the head as
    /// initialised ([`HeadStatus::Reinitialised`]); any other shape difference is
    /// [`WeightsError::ShapeMismatch`]. The network is consumed so that a failed load leaves
    /// nothing half-loaded.
    pub fn load_weights(
        mut self,
        path: impl AsRef<Path>,
    ) -> Result<(Self, LoadReport), WeightsError> {
        let path = path.as_ref();
        let expected = self.expected_tensors();
        let (snapshots, stripped_prefixes) = read_checkpoint(path)?;

        let (ignored, snapshots): (Vec<_>, Vec<_>) = snapshots
            .into_iter()
            .partition(|s| s.full_path().ends_with(BATCH_COUNTER));
        let mut ignored: Vec<String> = ignored.iter().map(TensorSnapshot::full_path).collect();
        ignored.sort();

        let found: BTreeMap<String, Vec<usize>> = snapshots
            .iter()
            .map(|s| (s.full_path(), s.shape.to_vec()))
            .collect();
        let mut head_matches = true;
        for tensor in &expected {
            match found.get(&tensor.torch_key) {
                Some(shape) if *shape != tensor.shape => {
                    if tensor.torch_key.starts_with(HEAD_PREFIX) {
                        head_matches = false;
                    } else {
                        return Err(WeightsError::ShapeMismatch {
                            path: path.to_path_buf(),
                            key: tensor.torch_key.clone(),
                            arch: self.arch,
                            expected: tensor.shape.clone(),
                            found: shape.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        let head_key = format!("{HEAD_PREFIX}weight");
        let head = match found.get(&head_key) {
            Some(_) if head_matches => HeadStatus::Loaded,
            checkpoint => HeadStatus::Reinitialised {
                checkpoint: checkpoint.cloned(),
                model: vec![self.num_classes(), self.feature_dim()],
            },
        };
        let snapshots: Vec<_> = snapshots
            .into_iter()
            .filter(|s| head_matches || !s.full_path().starts_with(HEAD_PREFIX))
            .collect();

        let dtypes: BTreeMap<&str, DType> = expected
            .iter()
            .map(|t| (t.torch_key.as_str(), t.dtype))
            .collect();
        let snapshots = snapshots
            .into_iter()
            .map(|s| match dtypes.get(s.full_path().as_str()) {
                Some(&dtype) if s.dtype != dtype && s.dtype.is_float() && dtype.is_float() => {
                    convert_dtype(s, dtype)
                }
                _ => s,
            })
            .collect();

        let result = self.apply(snapshots, None, Some(Box::new(PyTorchToBurnAdapter)), false);
        let torch_key: BTreeMap<&str, &str> = expected
            .iter()
            .map(|t| (t.burn_path.as_str(), t.torch_key.as_str()))
            .collect();
        let rename = |burn_path: &str| {
            torch_key
                .get(burn_path)
                .map_or_else(|| burn_path.to_string(), |key| key.to_string())
        };
        if let Some(error) = result.errors.first() {
            let (key, message) = match error {
                ApplyError::ShapeMismatch { path, .. }
                | ApplyError::DTypeMismatch { path, .. }
                | ApplyError::AdapterError { path, .. }
                | ApplyError::LoadError { path, .. } => (rename(path), error.to_string()),
            };
            return Err(WeightsError::Apply {
                path: path.to_path_buf(),
                key,
                message,
            });
        }

        // burn-store lists a tensor found under its alternative name (`bn1.weight` for
        // `bn1.gamma`) as unused although it applied it, so unused is computed here.
        let applied: Vec<String> = result.applied.iter().map(|p| rename(p)).collect();
        let applied_keys: BTreeSet<&str> = applied.iter().map(String::as_str).collect();
        let unused = found
            .keys()
            .filter(|key| !applied_keys.contains(key.as_str()))
            .cloned()
            .collect();
        let mut missing: Vec<String> = result.missing.iter().map(|(p, _)| rename(p)).collect();
        missing.sort();
        let report = LoadReport {
            applied,
            missing,
            unused,
            ignored,
            stripped_prefixes,
            head,
        };
        Ok((self, report))
    }

    /// Writes the network as safetensors with torchvision's key names and orientations
    /// (`bn1.weight`, `fc.weight` as `[C, K]`), so that [`ResNet::load_weights`] and PyTorch
    /// (`load_state_dict(..., strict=False)`: there is no `num_batches_tracked`) read it back.
    /// The architecture and class count are recorded in the file's metadata.
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), WeightsError> {
        let path = path.as_ref();
        let failed = |message: String| WeightsError::Write {
            path: path.to_path_buf(),
            message,
        };
        // Encoded in memory, then written with std: a failed write names the operating
        // system's error (a full disk) rather than the encoder's.
        let mut store = SafetensorsStore::from_bytes(None)
            .with_to_adapter(BurnToPyTorchAdapter)
            .metadata("arch", self.arch.name())
            .metadata("num_classes", self.num_classes().to_string());
        self.save_into(&mut store)
            .map_err(|err| failed(err.to_string()))?;
        let bytes = store.get_bytes().map_err(|err| failed(err.to_string()))?;
        std::fs::write(path, bytes).map_err(|err| failed(err.to_string()))
    }

    /// The model's tensors in torchvision names, with their Burn paths, PyTorch-orientation
    /// shapes and precisions (two lazy traversals; no tensor data is copied).
    fn expected_tensors(&self) -> Vec<Expected> {
        let torch = self.collect(None, Some(Box::new(BurnToPyTorchAdapter)), false);
        let burn = self.collect(None, None, false);
        torch
            .into_iter()
            .zip(burn)
            .map(|(torch, burn)| Expected {
                torch_key: torch.full_path(),
                burn_path: burn.full_path(),
                shape: torch.shape.to_vec(),
                dtype: burn.dtype,
            })
            .collect()
    }
}

/// The number of classes of a checkpoint's classifier: the rows of its `fc.weight` (after
/// wrapper prefixes are stripped), or `None` when it has no classifier. Reads the file's
/// header only, no tensor data.
pub fn checkpoint_classes(path: impl AsRef<Path>) -> Result<Option<usize>, WeightsError> {
    let (snapshots, _) = read_checkpoint(path.as_ref())?;
    let head_key = format!("{HEAD_PREFIX}weight");
    Ok(snapshots
        .iter()
        .find(|s| s.full_path() == head_key && s.shape.len() == 2)
        .map(|s| s.shape[0]))
}

/// Reads every tensor of a checkpoint, keys stripped of wrapper prefixes; also returns the
/// distinct prefixes stripped.
fn read_checkpoint(path: &Path) -> Result<(Vec<TensorSnapshot>, Vec<String>), WeightsError> {
    let read_error = |message: String| WeightsError::Read {
        path: path.to_path_buf(),
        message,
    };
    if !path.is_file() {
        return Err(read_error("no such file".into()));
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let snapshots: Vec<TensorSnapshot> = match extension.as_deref() {
        Some("safetensors") => SafetensorsStore::from_file(path)
            .get_all_snapshots()
            .map_err(|e| read_error(e.to_string()))?
            .values()
            .cloned()
            .collect(),
        Some("pkl" | "pickle") => crate::pickle::read_numpy_pickle(path)?,
        Some("pth" | "pt" | "bin" | "tar") => {
            let reader = PytorchReader::new(path).map_err(|e| read_error(e.to_string()))?;
            // burn-store reads tensor data lazily and fills what the file lacks with zeros, so
            // a cut file is caught here: its tensors need more bytes than it holds (a lower
            // bound, as the tensors of a state dict do not share storage).
            let needed: usize = reader
                .tensors()
                .values()
                .map(|s| s.shape.iter().product::<usize>() * s.dtype.size())
                .sum();
            match reader.metadata().total_data_size {
                Some(held) if held < needed => {
                    return Err(read_error(format!(
                        "the file holds {held} bytes of tensor data but its tensors need \
                         {needed}: it is truncated"
                    )));
                }
                _ => reader
                    .into_tensors()
                    .into_iter()
                    .map(|(key, mut snapshot)| {
                        snapshot.path_stack = Some(key.split('.').map(str::to_string).collect());
                        snapshot
                    })
                    .collect(),
            }
        }
        _ => {
            return Err(WeightsError::UnknownFormat {
                path: path.to_path_buf(),
            });
        }
    };
    let remapper = KeyRemapper::new()
        .add_pattern(WRAPPER_PREFIXES, "")
        .expect("the wrapper pattern is a valid regex");
    let (snapshots, renames) = remapper.remap(snapshots);
    let stripped: BTreeSet<String> = renames
        .iter()
        .filter(|(new, old)| new != old)
        .map(|(new, old)| old[..old.len() - new.len()].to_string())
        .collect();
    Ok((snapshots, stripped.into_iter().collect()))
}

/// The same tensor, converted to `dtype` when its data is read.
fn convert_dtype(snapshot: TensorSnapshot, dtype: DType) -> TensorSnapshot {
    let data = snapshot.clone_data_fn();
    TensorSnapshot::from_closure(
        Rc::new(move || data().map(|d| d.convert_dtype(dtype))),
        dtype,
        snapshot.shape.clone(),
        snapshot.path_stack.clone().unwrap_or_default(),
        snapshot.container_stack.clone().unwrap_or_default(),
        snapshot.tensor_id.unwrap_or_default(),
    )
}
