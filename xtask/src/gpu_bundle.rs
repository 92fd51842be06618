//! `cargo xtask gpu-bundle --out DIR`: everything the GPU check runs, built here for a machine
//! that has the GPU but no Rust toolchain and no network.
//!
//! In release, with `cargo-zigbuild` for `x86_64-unknown-linux-gnu.2.28` (zig's linker
//! against glibc 2.28's symbols, so the binaries start on any Linux with glibc 2.28 or later,
//! whatever glibc this machine has): the `afcn` binary with the cuda and wgpu backends, the
//! backend-parity test binary (`cargo test --no-run`, its path read from cargo's JSON
//! messages) and the driver `run-gpu-check` (`xtask/src/bin/run-gpu-check/`), stripped. The
//! cuda backend loads `libcuda` and NVRTC at run time (cudarc's `dynamic-loading`) and wgpu
//! the Vulkan loader, so no GPU library is linked: the check below proves it. cudarc's
//! bindings are those of CUDA 12.8 (`CUDARC_CUDA_VERSION`), the oldest that cubecl-cuda
//! compiles with; a newer driver still serves them, while CUDA 13's would need a 13 driver.
//!
//! Each binary is checked with `objdump -T` (no `GLIBC_` symbol version above 2.28) and
//! `objdump -p` (only system libraries needed); the bundle is packed into `DIR.tar.xz`, whose
//! size, with the checkout's tracked files, must fit the 64 MiB that travel to the GPU
//! machine. The test fixtures are not copied: the driver reads the checkout's `fixtures/`
//! (11.7 MB, which travel with the tracked files anyway). `DIR/bundle.json` records what was
//! built.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::{
    flags::GpuBundleFlags,
    prerequisites::{self, OnMissing},
    process::{self, executable},
};

/// The target: x86-64 Linux, linked against glibc 2.28's symbol versions.
pub const TARGET: &str = "x86_64-unknown-linux-gnu.2.28";

/// The newest glibc symbol version a bundled binary may need.
pub const MAX_GLIBC: (u32, u32) = (2, 28);

/// The CUDA version of cudarc's bindings (`CUDARC_CUDA_VERSION`): 12.8.
const CUDA_BINDINGS: &str = "12080";

/// What may travel to the GPU machine: the checkout's tracked files and the carried paths.
const TRAVEL_LIMIT: u64 = 64 << 20;

/// Libraries a bundled binary may link (the C library's parts and the unwinder).
const SYSTEM_LIBRARIES: [&str; 8] = [
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libgcc_s.so.1",
    "ld-linux-x86-64.so.2",
    "libutil.so.1",
];

/// Builds the bundle in `flags.out` and its archive `<out>.tar.xz`, checks and sizes them.
pub fn run(flags: &GpuBundleFlags) -> anyhow::Result<()> {
    prerequisites::ensure(&prerequisites::GPU_BUNDLE, OnMissing::Fail)?;
    let out = &flags.out;
    if out.exists() {
        fs::remove_dir_all(out).with_context(|| format!("removing the old {}", out.display()))?;
    }
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;

    // The trainer library's parity test, then the `afcn` command over the same build of it.
    let parity_build = zigbuild(&[
        "test",
        "-p",
        "afcn-train",
        "--features",
        "cuda,wgpu",
        "--test",
        "backend_parity",
        "--no-run",
    ])?;
    let afcn_build = zigbuild(&[
        "build",
        "-p",
        "afcn-cli",
        "--features",
        "cuda,wgpu",
        "--bin",
        "afcn",
    ])?;
    let driver_build = zigbuild(&["build", "-p", "xtask", "--bin", "run-gpu-check"])?;
    let binaries = [
        ("afcn", executable(&afcn_build, "afcn", "bin")?),
        (
            "backend_parity",
            executable(&parity_build, "backend_parity", "test")?,
        ),
        (
            "run-gpu-check",
            executable(&driver_build, "run-gpu-check", "bin")?,
        ),
    ];
    let mut files = serde_json::Map::new();
    for (name, built) in &binaries {
        let dest = out.join(name);
        fs::copy(built, &dest)
            .with_context(|| format!("copying {} to {}", built.display(), dest.display()))?;
        let check = check_binary(&dest)?;
        eprintln!(
            "{name}: {:.1} MiB, glibc <= {}.{}, needs {}",
            mib(check.size),
            check.max_glibc.0,
            check.max_glibc.1,
            check.needed.join(" ")
        );
        files.insert(
            name.to_string(),
            json!({
                "bytes": check.size,
                "max_glibc": format!("{}.{}", check.max_glibc.0, check.max_glibc.1),
                "needed": check.needed,
            }),
        );
    }
    let manifest = json!({
        "built_by": "cargo xtask gpu-bundle",
        "commit": git(&["rev-parse", "HEAD"]),
        "dirty": git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()),
        "target": TARGET,
        "features": "cuda,wgpu",
        "profile": "release, stripped",
        "cudarc_cuda_version": CUDA_BINDINGS,
        "files": files,
        "fixtures": "not bundled: the driver reads --fixtures (default: fixtures/ of the \
                     checkout it runs in)",
    });
    fs::write(
        out.join("bundle.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;

    let archive = archive_path(out);
    pack(out, &archive)?;
    let packed = fs::metadata(&archive)?.len();
    let unpacked = dir_size(out)?;
    let tracked = tracked_size(Path::new("."))?;
    eprintln!(
        "bundle: {} ({:.1} MiB), {} ({:.1} MiB); with the checkout's tracked files ({:.1} MiB) \
         {:.1} of the {:.0} MiB that travel to the GPU machine",
        out.display(),
        mib(unpacked),
        archive.display(),
        mib(packed),
        mib(tracked),
        mib(tracked + packed),
        mib(TRAVEL_LIMIT),
    );
    if tracked + packed > TRAVEL_LIMIT {
        bail!(
            "{} ({:.1} MiB) and the tracked files ({:.1} MiB) exceed the {:.0} MiB that travel",
            archive.display(),
            mib(packed),
            mib(tracked),
            mib(TRAVEL_LIMIT)
        );
    }
    Ok(())
}

/// `<out>.tar.xz`, beside `out`.
pub fn archive_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".tar.xz");
    out.with_file_name(name)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// Runs `cargo-zigbuild <args> --release --target TARGET` (release, stripped, no debug
/// info; cudarc's bindings pinned) and returns its JSON messages.
fn zigbuild(args: &[&str]) -> anyhow::Result<Vec<Value>> {
    let mut command = Command::new("cargo-zigbuild");
    command
        .args(args)
        .args(["--release", "--locked", "--target", TARGET])
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .env("CUDARC_CUDA_VERSION", CUDA_BINDINGS);
    process::build(&mut command)
}

/// What the checks of a bundled binary found.
#[derive(Debug)]
pub struct BinaryCheck {
    /// Its size in bytes.
    pub size: u64,
    /// The newest `GLIBC_` symbol version it needs.
    pub max_glibc: (u32, u32),
    /// The shared libraries it needs (`NEEDED`).
    pub needed: Vec<String>,
}

/// Checks that `binary` needs no glibc symbol newer than [`MAX_GLIBC`], links only system
/// libraries (the GPU ones are loaded at run time) and is stripped.
pub fn check_binary(binary: &Path) -> anyhow::Result<BinaryCheck> {
    let objdump = |flag: &str| -> anyhow::Result<String> {
        let out = Command::new("objdump")
            .arg(flag)
            .arg(binary)
            .output()
            .context("running objdump")?;
        anyhow::ensure!(
            out.status.success(),
            "objdump {flag} {} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let max_glibc = max_glibc(&objdump("-T")?)
        .with_context(|| format!("{} names no GLIBC_ symbol version", binary.display()))?;
    if max_glibc > MAX_GLIBC {
        bail!(
            "{} needs GLIBC_{}.{}, newer than {}.{}: it would not start on an older Linux",
            binary.display(),
            max_glibc.0,
            max_glibc.1,
            MAX_GLIBC.0,
            MAX_GLIBC.1
        );
    }
    let needed = needed_libraries(&objdump("-p")?);
    if let Some(other) = needed
        .iter()
        .find(|lib| !SYSTEM_LIBRARIES.contains(&lib.as_str()))
    {
        bail!(
            "{} links {other}, which the GPU machine may not have (only {SYSTEM_LIBRARIES:?})",
            binary.display()
        );
    }
    if objdump("-h")?.contains(".symtab") {
        bail!("{} is not stripped (it has a .symtab)", binary.display());
    }
    Ok(BinaryCheck {
        size: fs::metadata(binary)?.len(),
        max_glibc,
        needed,
    })
}

/// The newest `GLIBC_x.y` version in `objdump -T` output.
pub fn max_glibc(dynamic_symbols: &str) -> Option<(u32, u32)> {
    dynamic_symbols
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|version| {
            let mut parts = version.split('.');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
            Some((major, minor))
        })
        .max()
}

/// The `NEEDED` entries of `objdump -p` output.
pub fn needed_libraries(private_headers: &str) -> Vec<String> {
    private_headers
        .lines()
        .filter_map(|line| line.trim().strip_prefix("NEEDED"))
        .map(|lib| lib.trim().to_owned())
        .collect()
}

/// Packs `dir` into `archive` (`tar -cJf`, the folder's name as its root) as one xz stream
/// with the x86 branch filter and a dictionary larger than the whole bundle, so that the code
/// the binaries share (Burn, cubecl, wgpu) is stored once: 15.7 MB instead of 21.2 MB for the
/// two large binaries packed apart (measured). Unpacking needs about 200 MiB of memory.
fn pack(dir: &Path, archive: &Path) -> anyhow::Result<()> {
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
    let name = dir.file_name().context("the bundle folder has a name")?;
    let mut tar = Command::new("tar");
    tar.arg("-cJf").arg(std::path::absolute(archive)?);
    if let Some(parent) = parent {
        tar.arg("-C").arg(parent);
    }
    tar.arg(name)
        .env("XZ_OPT", "--x86 --lzma2=preset=9e,dict=192MiB");
    process::run_ok(&mut tar)?;
    Ok(())
}

/// Bytes of the files under `dir`.
fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// Bytes of the tracked files of the checkout at `root` (they travel to the GPU machine with
/// the bundle).
fn tracked_size(root: &Path) -> anyhow::Result<u64> {
    let list = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z"])
        .output()
        .context("running git ls-files")?;
    anyhow::ensure!(list.status.success(), "git ls-files failed");
    Ok(list
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .filter_map(|p| fs::metadata(root.join(String::from_utf8_lossy(p).as_ref())).ok())
        .map(|m| m.len())
        .sum())
}

/// `git <args>`'s trimmed output, when git runs.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_glibc_version_is_found_in_objdump_output() {
        let text = "\
DYNAMIC SYMBOL TABLE:
0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.2.5) free
0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.28) fcntl64
0000000000000000      DF *UND*  0000000000000000  GLIBC_2.3.4 __memcpy_chk
0000000000000000  w   DF *UND*  0000000000000000 (GLIBC_PRIVATE) _dl_x
";
        assert_eq!(max_glibc(text), Some((2, 28)));
        assert_eq!(max_glibc("(GLIBC_2.34) __libc_start_main"), Some((2, 34)));
        assert_eq!(max_glibc("no versions"), None);
    }

    #[test]
    fn needed_libraries_are_read_from_the_dynamic_section() {
        let text = "Dynamic Section:\n  NEEDED               libgcc_s.so.1\n  \
                    NEEDED               libc.so.6\n  SONAME  x\n";
        assert_eq!(needed_libraries(text), ["libgcc_s.so.1", "libc.so.6"]);
    }

    #[test]
    fn the_archive_sits_beside_the_bundle() {
        assert_eq!(
            archive_path(Path::new("target/gpu-bundle")),
            PathBuf::from("target/gpu-bundle.tar.xz")
        );
    }
}

/// The bundle that `cargo xtask test` built, run here: on a machine without a GPU.
#[cfg(test)]
mod built {
    use super::*;

    /// The checkout's root (tests run in `xtask/`).
    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    /// The bundle folder named by `AFCN_GPU_BUNDLE` (relative to the checkout's root).
    fn bundle() -> PathBuf {
        std::env::var_os("AFCN_GPU_BUNDLE")
            .map(|dir| root().join(dir))
            .expect("AFCN_GPU_BUNDLE names a bundle built by `cargo xtask gpu-bundle`")
    }

    /// The step of the report named `name`.
    fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
        report["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|s| s["name"] == name))
            .unwrap_or_else(|| panic!("no step {name} in {report:#}"))
    }

    #[test]
    #[ignore = "needs a built bundle (a release build): `cargo xtask test` builds one and runs this"]
    fn the_bundle_is_portable_and_its_driver_runs_without_a_gpu() {
        let bundle = bundle();
        for name in ["afcn", "backend_parity", "run-gpu-check"] {
            let check = check_binary(&bundle.join(name)).unwrap();
            assert!(check.max_glibc <= MAX_GLIBC, "{name}: {check:?}");
        }
        let packed = fs::metadata(archive_path(&bundle)).unwrap().len();
        assert!(
            packed + tracked_size(root()).unwrap() <= TRAVEL_LIMIT,
            "{packed} bytes"
        );

        let out = tempfile::tempdir().unwrap();
        let status = Command::new(bundle.join("run-gpu-check"))
            .arg("--quick")
            .arg("--fixtures")
            .arg(root().join("fixtures"))
            .arg("--out")
            .arg(out.path())
            .status()
            .unwrap();
        let text = fs::read_to_string(out.path().join("gpu-check.json")).unwrap();
        let report: Value = serde_json::from_str(&text).unwrap();
        assert!(status.success(), "{report:#}");

        // No NVIDIA driver here: cuda is named as such, and its steps skipped, not failed.
        let gpu_here = Path::new("/dev/nvidiactl").exists();
        let cuda = report["backends"]["cuda"].as_str().unwrap();
        assert_eq!(
            cuda,
            if gpu_here { "ok" } else { "no driver" },
            "{report:#}"
        );
        assert_eq!(report["backends"]["cpu"], "ok");
        // Mesa's lavapipe (which `cargo xtask test` installs) runs wgpu.
        assert_eq!(report["backends"]["wgpu"], "ok", "{report:#}");
        let parity = &step(&report, "parity")["result"]["tests"];
        assert_eq!(parity["wgpu_matches_cpu"], "ok", "{parity}");
        assert_eq!(parity["wgpu_reproduces_the_torchvision_fixture"], "ok");
        if !gpu_here {
            assert!(parity.get("cuda_matches_cpu").is_none(), "{parity}");
            let bench = step(&report, "bench-cuda-afcn-32x4");
            assert_eq!(bench["status"], "skipped");
            assert!(bench["reason"].as_str().unwrap().contains("no driver"));
            assert_eq!(step(&report, "train-cuda")["status"], "skipped");
        }
        for name in ["bench-wgpu-ce-32x4", "bench-wgpu-afcn-32x4"] {
            let result = &step(&report, name)["result"];
            assert!(result["images_per_sec"].as_f64().unwrap() > 0.0, "{result}");
            assert!(result["first_steps_overhead_s"].is_number(), "{result}");
        }
        for backend in ["cpu", "wgpu"] {
            let result = &step(&report, &format!("train-{backend}"))["result"];
            assert_eq!(result["epochs"], 1, "{result}");
            let accuracy = result["test_accuracy"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&accuracy), "{result}");
        }
        let compare = &step(&report, "compare-train-wgpu")["result"];
        assert_eq!(compare["test_images"], 32, "{compare}");
        assert_eq!(report["failed"], json!([]));
        // Every run step names its command and keeps its log's end.
        for s in report["steps"].as_array().unwrap() {
            if s["status"] == "ok" && s["command"].is_string() {
                assert!(s["seconds"].is_number() && s["log_tail"].is_string(), "{s}");
            }
        }
    }
}
