//! What the GPU backends need from the machine, found where machines keep it.
//!
//! Burn's cuda backend (cubecl-cuda through cudarc, built with `dynamic-loading`) links
//! neither the driver nor NVRTC: at its first use it `dlopen`s `libcuda.so` and `libnvrtc.so`
//! (then versioned names such as `libnvrtc.so.12`), so a missing driver is a run-time error,
//! not a loader error at start. The wgpu backend likewise `dlopen`s the Vulkan loader
//! (`libvulkan.so.1`), which reads the installable client drivers (ICDs) under
//! `vulkan/icd.d/`. This module finds `libcuda`, every NVRTC (the driver's library folders,
//! the CUDA toolkit's, and the `nvidia-cuda-nvrtc` Python package's folder) and the Vulkan
//! ICDs, and picks the NVRTC to use.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::{Value, json};

/// One NVRTC library found on the machine.
#[derive(Clone, Debug, PartialEq)]
pub struct Nvrtc {
    /// The library file (`libnvrtc.so.13`, `libnvrtc.so.12.8.93`, ...).
    pub path: PathBuf,
    /// Its CUDA major version, read from the file name or the name a link points to.
    pub major: Option<u32>,
}

/// A Vulkan installable client driver.
#[derive(Clone, Debug, PartialEq)]
pub struct Icd {
    /// Its manifest (`.../icd.d/nvidia_icd.json`).
    pub manifest: PathBuf,
    /// Whether it is a software rasteriser on the CPU (Mesa's lavapipe), not a GPU.
    pub software: bool,
}

/// What the machine offers the GPU backends.
#[derive(Debug, Default)]
pub struct Machine {
    /// The CUDA driver library, when found.
    pub libcuda: Option<PathBuf>,
    /// Every NVRTC found, in search order.
    pub nvrtc: Vec<Nvrtc>,
    /// The CUDA version the driver supports (`nvidia-smi`'s "CUDA Version"), when known.
    pub driver_cuda: Option<(u32, u32)>,
    /// `nvidia-smi --query-gpu=name,driver_version,memory.total`, when it runs.
    pub gpus: Option<String>,
    /// The Vulkan loader (`libvulkan.so.1`), when found.
    pub vulkan_loader: Option<PathBuf>,
    /// The Vulkan ICDs found.
    pub icds: Vec<Icd>,
}

/// The folders searched for `libcuda` and NVRTC, in order: `LD_LIBRARY_PATH`, the toolkit
/// named by `CUDA_HOME`/`CUDA_PATH`, the usual driver and toolkit folders, the folders the
/// dynamic loader's cache names, and the Python `nvidia` packages' library folders.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(paths) = std::env::var_os("LD_LIBRARY_PATH") {
        dirs.extend(std::env::split_paths(&paths));
    }
    for var in ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"] {
        if let Some(root) = std::env::var_os(var) {
            let root = PathBuf::from(root);
            dirs.push(root.join("lib64"));
            dirs.push(root.join("targets/x86_64-linux/lib"));
        }
    }
    let mut toolkits = entries(Path::new("/usr/local"), |name| name.starts_with("cuda"));
    toolkits.reverse();
    for root in toolkits {
        dirs.push(root.join("lib64"));
        dirs.push(root.join("targets/x86_64-linux/lib"));
        dirs.push(root.join("compat"));
    }
    dirs.extend(
        [
            "/usr/local/nvidia/lib64",
            "/usr/local/nvidia/lib",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib64",
            "/usr/lib",
            "/lib/x86_64-linux-gnu",
            "/usr/lib/wsl/lib",
        ]
        .map(PathBuf::from),
    );
    dirs.extend(ldconfig_dirs());
    dirs.extend(python_nvidia_dirs());
    let mut seen = BTreeSet::new();
    dirs.retain(|dir| dir.is_dir() && seen.insert(dir.clone()));
    dirs
}

/// The folders of the libraries in the dynamic loader's cache (`ldconfig -p`).
fn ldconfig_dirs() -> Vec<PathBuf> {
    let Some(text) = output(Command::new("ldconfig").arg("-p"))
        .or_else(|| output(Command::new("/sbin/ldconfig").arg("-p")))
    else {
        return Vec::new();
    };
    parse_ldconfig(&text)
}

/// The folders of the `libcuda`, `libnvrtc` and `libvulkan` entries of `ldconfig -p`'s
/// output (`\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1`).
pub fn parse_ldconfig(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let (name, path) = line.trim().split_once(" => ")?;
            let wanted = ["libcuda.so", "libnvrtc.so", "libvulkan.so"];
            wanted
                .iter()
                .any(|w| name.starts_with(w))
                .then(|| Path::new(path.trim()).parent().map(Path::to_path_buf))?
        })
        .collect()
}

/// The library folders under the Python `nvidia` namespace package (the pip wheels
/// `nvidia-cuda-nvrtc`, `nvidia-cuda-runtime`, ...: `nvidia/cuda_nvrtc/lib` for CUDA 12,
/// `nvidia/cu13/lib` for CUDA 13), found through `python3`.
fn python_nvidia_dirs() -> Vec<PathBuf> {
    let script = "import nvidia\nfor p in nvidia.__path__: print(p)";
    let Some(text) = output(Command::new("python3").args(["-c", script])) else {
        return Vec::new();
    };
    let mut dirs = Vec::new();
    for root in text.lines() {
        for package in entries(Path::new(root), |_| true) {
            let lib = package.join("lib");
            if lib.is_dir() {
                dirs.push(lib);
            }
        }
    }
    dirs
}

/// The entries of `dir` whose file name passes `keep`, sorted (none when it cannot be read).
fn entries(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| keep(&name.to_string_lossy()))
        })
        .collect();
    found.sort();
    found
}

/// Standard output of `command` when it runs and succeeds.
pub fn output(command: &mut Command) -> Option<String> {
    let out = command.stderr(std::process::Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The CUDA major version in an NVRTC file name: `libnvrtc.so.13` and `libnvrtc.so.12.8.93`
/// give 13 and 12; `libnvrtc.so` none (see [`Nvrtc::major`] for links).
pub fn nvrtc_major(file_name: &str) -> Option<u32> {
    file_name
        .strip_prefix("libnvrtc.so.")?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Whether `name` is an NVRTC library (not `libnvrtc-builtins`, not `libnvrtc_static.a`).
fn is_nvrtc(name: &str) -> bool {
    name == "libnvrtc.so" || name.starts_with("libnvrtc.so.")
}

/// The machine as found now.
pub fn inspect() -> Machine {
    let dirs = search_dirs();
    let find = |names: &[&str]| {
        dirs.iter().find_map(|dir| {
            names
                .iter()
                .map(|name| dir.join(name))
                .find(|path| path.exists())
        })
    };
    let libcuda = find(&["libcuda.so.1", "libcuda.so"]);
    let vulkan_loader = find(&["libvulkan.so.1"]);
    let mut nvrtc = Vec::new();
    for dir in &dirs {
        for path in entries(dir, is_nvrtc) {
            let resolved = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            let major = [&path, &resolved]
                .iter()
                .find_map(|p| nvrtc_major(&p.file_name()?.to_string_lossy()));
            if !nvrtc.iter().any(|n: &Nvrtc| {
                std::fs::canonicalize(&n.path).unwrap_or_else(|_| n.path.clone()) == resolved
            }) {
                nvrtc.push(Nvrtc { path, major });
            }
        }
    }
    let smi = output(&mut nvidia_smi());
    let gpus = output(nvidia_smi().args([
        "--query-gpu=name,driver_version,memory.total",
        "--format=csv,noheader",
    ]))
    .map(|s| s.trim().to_owned());
    Machine {
        libcuda,
        nvrtc,
        driver_cuda: smi.as_deref().and_then(driver_cuda_version),
        gpus,
        vulkan_loader,
        icds: vulkan_icds(),
    }
}

/// `nvidia-smi`: from the `PATH`, else from the driver's folder of a container
/// (`/usr/local/nvidia/bin`).
pub fn nvidia_smi() -> Command {
    let mounted = Path::new("/usr/local/nvidia/bin/nvidia-smi");
    let on_path = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join("nvidia-smi").is_file()));
    Command::new(if on_path || !mounted.is_file() {
        Path::new("nvidia-smi")
    } else {
        mounted
    })
}

/// The "CUDA Version: 13.0" of `nvidia-smi`'s header.
pub fn driver_cuda_version(smi: &str) -> Option<(u32, u32)> {
    let rest = smi.split("CUDA Version:").nth(1)?.trim_start();
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The NVRTC to load: the newest whose major version the driver supports (all of them when
/// the driver's version is unknown); one of unknown version only when none is known.
pub fn choose_nvrtc(found: &[Nvrtc], driver: Option<(u32, u32)>) -> Option<&Nvrtc> {
    let supported = |n: &&Nvrtc| match (n.major, driver) {
        (Some(major), Some((max, _))) => major <= max,
        _ => true,
    };
    found
        .iter()
        .filter(supported)
        .filter(|n| n.major.is_some())
        .max_by_key(|n| n.major)
        .or_else(|| found.iter().find(|n| n.major.is_none()))
}

/// The Vulkan ICD manifests in the loader's folders (or `VK_DRIVER_FILES` /
/// `VK_ICD_FILENAMES` when set).
fn vulkan_icds() -> Vec<Icd> {
    let listed =
        std::env::var_os("VK_DRIVER_FILES").or_else(|| std::env::var_os("VK_ICD_FILENAMES"));
    let mut manifests: Vec<PathBuf> = match listed {
        Some(files) => std::env::split_paths(&files).collect(),
        None => [
            "/etc/vulkan/icd.d",
            "/usr/share/vulkan/icd.d",
            "/usr/local/share/vulkan/icd.d",
            "/usr/local/nvidia/share/vulkan/icd.d",
        ]
        .iter()
        .flat_map(|dir| entries(Path::new(dir), |name| name.ends_with(".json")))
        .collect(),
    };
    manifests.sort();
    manifests.dedup();
    manifests
        .into_iter()
        .filter(|path| path.is_file())
        .map(|manifest| {
            let text = std::fs::read_to_string(&manifest).unwrap_or_default();
            let software = is_software_icd(&manifest, &text);
            Icd { manifest, software }
        })
        .collect()
}

/// Whether an ICD manifest is Mesa's lavapipe (or another CPU rasteriser): its file name or
/// its `library_path` names `lvp` / `lavapipe` / `swiftshader`.
pub fn is_software_icd(manifest: &Path, text: &str) -> bool {
    let library = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["ICD"]["library_path"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let name = manifest.file_name().unwrap_or_default().to_string_lossy();
    [name.as_ref(), library.as_str()].iter().any(|s| {
        let s = s.to_lowercase();
        s.contains("lvp") || s.contains("lavapipe") || s.contains("swiftshader")
    })
}

/// A GPU (not software) Vulkan driver whose library the loader can open: NVIDIA's first.
pub fn gpu_icd(icds: &[Icd]) -> Option<&Icd> {
    let gpu: Vec<&Icd> = icds.iter().filter(|icd| !icd.software).collect();
    let nvidia = gpu.iter().copied().find(|icd| {
        icd.manifest
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("nvidia"))
    });
    // Mesa's hardware drivers (radeon, intel) are installed on machines without such a GPU;
    // only NVIDIA's manifest says a GPU is there, since the bundle is for NVIDIA machines.
    nvidia
}

impl Machine {
    /// The machine as JSON for the report.
    pub fn to_json(&self, chosen: Option<&Nvrtc>) -> Value {
        json!({
            "gpus": self.gpus,
            "driver_cuda_version": self.driver_cuda.map(|(a, b)| format!("{a}.{b}")),
            "libcuda": self.libcuda,
            "nvrtc_found": self.nvrtc.iter().map(|n| json!({"path": n.path, "major": n.major})).collect::<Vec<_>>(),
            "nvrtc_chosen": chosen.map(|n| &n.path),
            "vulkan_loader": self.vulkan_loader,
            "vulkan_icds": self.icds.iter().map(|i| json!({"manifest": i.manifest, "software": i.software})).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvrtc_versions_come_from_file_names() {
        assert_eq!(nvrtc_major("libnvrtc.so.13"), Some(13));
        assert_eq!(nvrtc_major("libnvrtc.so.12.8.93"), Some(12));
        assert_eq!(nvrtc_major("libnvrtc.so"), None);
        assert!(!is_nvrtc("libnvrtc-builtins.so.13.0"));
        assert!(is_nvrtc("libnvrtc.so.12"));
    }

    #[test]
    fn the_newest_nvrtc_the_driver_supports_is_chosen() {
        let n = |path: &str, major| Nvrtc {
            path: path.into(),
            major,
        };
        let found = [
            n("/a/libnvrtc.so", None),
            n("/b/libnvrtc.so.12", Some(12)),
            n("/c/libnvrtc.so.13", Some(13)),
        ];
        let pick = |driver| choose_nvrtc(&found, driver).map(|n| n.path.clone());
        assert_eq!(pick(Some((13, 0))), Some("/c/libnvrtc.so.13".into()));
        assert_eq!(pick(Some((12, 8))), Some("/b/libnvrtc.so.12".into()));
        assert_eq!(pick(None), Some("/c/libnvrtc.so.13".into()));
        assert_eq!(pick(Some((11, 8))), Some("/a/libnvrtc.so".into()));
        assert_eq!(choose_nvrtc(&[], Some((13, 0))), None);
    }

    #[test]
    fn nvidia_smi_header_gives_the_driver_cuda_version() {
        let header =
            "| NVIDIA-SMI 580.159.03   Driver Version: 580.159.03   CUDA Version: 13.0     |";
        assert_eq!(driver_cuda_version(header), Some((13, 0)));
        assert_eq!(driver_cuda_version("no such line"), None);
    }

    #[test]
    fn ldconfig_entries_give_their_folders() {
        let text = "3 libs found in cache `/etc/ld.so.cache'\n\
            \tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1\n\
            \tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n\
            \tlibnvrtc.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libnvrtc.so.12\n";
        assert_eq!(
            parse_ldconfig(text),
            vec![
                PathBuf::from("/usr/lib/x86_64-linux-gnu"),
                PathBuf::from("/usr/local/cuda/lib64")
            ]
        );
    }

    #[test]
    fn lavapipe_is_a_software_driver_and_nvidia_a_gpu() {
        let lvp = r#"{"ICD": {"library_path": "/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"}}"#;
        assert!(is_software_icd(
            Path::new("/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"),
            lvp
        ));
        let nv = r#"{"ICD": {"library_path": "libGLX_nvidia.so.0"}}"#;
        let manifest = Path::new("/etc/vulkan/icd.d/nvidia_icd.json");
        assert!(!is_software_icd(manifest, nv));
        let icds = [
            Icd {
                manifest: "/x/lvp_icd.json".into(),
                software: true,
            },
            Icd {
                manifest: "/x/radeon_icd.json".into(),
                software: false,
            },
            Icd {
                manifest: manifest.into(),
                software: false,
            },
        ];
        assert_eq!(gpu_icd(&icds).map(|i| i.manifest.as_path()), Some(manifest));
        assert_eq!(gpu_icd(&icds[..2]), None);
    }
}
