//! Run-time choice of the compute backend: `--backend cpu|wgpu|cuda`.
//!
//! Every backend but the CPU one sits behind a cargo feature of this crate (`wgpu`, `cuda`).
//! Code that trains or evaluates is written once as a [`BackendTask`], generic over an
//! [`AutodiffBackend`], and [`run_on`] instantiates it for the backend the user picked. A
//! backend that was not compiled in, or that finds no device, is a [`BackendError`], never a
//! panic.

use std::panic::{self, AssertUnwindSafe};

use burn::tensor::{Tensor, backend::AutodiffBackend};
use serde::{Deserialize, Serialize};

/// The compute backends afcn can run on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Burn's `flex` CPU backend (always compiled in).
    #[default]
    Cpu,
    /// Burn's WGPU backend with the WGSL compiler (cargo feature `wgpu`); runs on any Vulkan,
    /// Metal or DX12 adapter, Mesa's software Vulkan driver included.
    Wgpu,
    /// Burn's CUDA backend (cargo feature `cuda`); needs an NVIDIA driver at run time.
    Cuda,
}

impl BackendKind {
    /// All backends, in the order they are documented.
    pub const ALL: [BackendKind; 3] = [BackendKind::Cpu, BackendKind::Wgpu, BackendKind::Cuda];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cuda => "cuda",
        }
    }

    /// The cargo feature of `afcn-train` that compiles this backend in (`None` for the CPU).
    pub fn feature(self) -> Option<&'static str> {
        match self {
            BackendKind::Cpu => None,
            BackendKind::Wgpu => Some("wgpu"),
            BackendKind::Cuda => Some("cuda"),
        }
    }

    /// Whether this binary was compiled with the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            BackendKind::Cpu => true,
            BackendKind::Wgpu => cfg!(feature = "wgpu"),
            BackendKind::Cuda => cfg!(feature = "cuda"),
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a backend cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The binary was built without the backend's cargo feature.
    #[error(
        "backend `{backend}` is not compiled into this binary: rebuild with `--features {feature}` \
         (for example `cargo xtask train --backend {backend}` does this)"
    )]
    NotCompiled {
        /// The backend asked for.
        backend: BackendKind,
        /// The cargo feature that compiles it in.
        feature: &'static str,
    },
    /// The backend is compiled in but could not run a first operation on its default device.
    #[error("backend `{backend}` found no usable device ({hint}): {reason}")]
    NoDevice {
        /// The backend asked for.
        backend: BackendKind,
        /// What is usually missing.
        hint: &'static str,
        /// The message of the failure.
        reason: String,
    },
}

/// Work that can run on any autodiff backend; see [`run_on`].
pub trait BackendTask {
    /// What the work returns.
    type Output;

    /// Runs the work on backend `B` and its `device`.
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output;
}

/// Runs `task` on the backend `kind`, after checking that the backend is compiled in and that
/// its default device computes.
pub fn run_on<T: BackendTask>(kind: BackendKind, task: T) -> Result<T::Output, BackendError> {
    run_on_device(kind, None, task)
}

/// [`run_on`] on the backend's device number `index` (`None`: its default device): the
/// CUDA device of that index, WGPU's discrete GPU of that index; the cpu backend has one.
pub fn run_on_device<T: BackendTask>(
    kind: BackendKind,
    index: Option<usize>,
    task: T,
) -> Result<T::Output, BackendError> {
    let _ = index;
    match kind {
        BackendKind::Cpu => {
            type B = burn::backend::Autodiff<burn::backend::Flex>;
            Ok(task.run::<B>(Default::default()))
        }
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => {
            type B = burn::backend::Autodiff<burn::backend::Wgpu>;
            let device = probe::<B>(
                kind,
                "a Vulkan, Metal or DX12 driver; on Linux without a GPU install mesa-vulkan-drivers",
                index.map_or_else(
                    Default::default,
                    burn::backend::wgpu::WgpuDevice::DiscreteGpu,
                ),
            )?;
            Ok(task.run::<B>(device))
        }
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => {
            type B = burn::backend::Autodiff<burn::backend::Cuda>;
            let device = probe::<B>(
                kind,
                "an NVIDIA GPU with its driver (libcuda)",
                burn::backend::cuda::CudaDevice::new(index.unwrap_or(0)),
            )?;
            Ok(task.run::<B>(device))
        }
        #[allow(unreachable_patterns)]
        other => Err(BackendError::NotCompiled {
            backend: other,
            feature: other.feature().unwrap_or("cpu"),
        }),
    }
}

/// Checks that `kind` is compiled in and that its default device computes a first operation.
pub fn check(kind: BackendKind) -> Result<(), BackendError> {
    struct Nothing;
    impl BackendTask for Nothing {
        type Output = ();
        fn run<B: AutodiffBackend>(self, _device: B::Device) {}
    }
    run_on(kind, Nothing)
}

/// Runs a tiny computation on `device` of `B`. Runtimes report a missing driver or
/// adapter by panicking on first use; the panic is caught here (with the default panic message
/// silenced) and turned into [`BackendError::NoDevice`].
#[cfg_attr(not(any(feature = "wgpu", feature = "cuda")), allow(dead_code))]
fn probe<B: AutodiffBackend>(
    kind: BackendKind,
    hint: &'static str,
    device: B::Device,
) -> Result<B::Device, BackendError> {
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let x = Tensor::<B, 1>::from_floats([1.0, 2.0], &device);
        let sum = x.sum().into_scalar();
        (device, burn::tensor::ElementConversion::elem::<f32>(sum))
    }));
    panic::set_hook(previous_hook);
    match outcome {
        Ok((device, 3.0)) => Ok(device),
        Ok((_, sum)) => Err(BackendError::NoDevice {
            backend: kind,
            hint,
            reason: format!("1 + 2 computed as {sum}"),
        }),
        Err(payload) => Err(BackendError::NoDevice {
            backend: kind,
            hint,
            reason: payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the runtime panicked".into()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_available() {
        check(BackendKind::Cpu).expect("the cpu backend always runs");
    }

    #[test]
    fn a_backend_not_compiled_in_is_an_error_naming_its_feature() {
        for kind in BackendKind::ALL.into_iter().filter(|k| !k.is_compiled()) {
            let message = check(kind).unwrap_err().to_string();
            assert!(
                message.contains(&format!("--features {}", kind.name())),
                "{message}"
            );
        }
    }
}
