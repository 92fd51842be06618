//! What the tests and the GPU bundle need from the machine beyond the Rust toolchain, as data:
//! how each thing is found and how it is installed.
//!
//! `cargo xtask test` checks them all before building anything and installs what is missing:
//! the Debian packages in one `apt-get update` and `apt-get install` (directly as root, through
//! `sudo` otherwise), then zig (Python's `ziglang` package) and cargo-zigbuild. Where it cannot
//! (not root and no `sudo`), or with `--no-install`, it stops with the one command line that
//! installs them. `cargo xtask gpu-bundle` checks its own tools from the same data.
//!
//! The checks read the machine through [`System`] (the program search path, the root that
//! file patterns are under, whether xtask runs as root), so that the tests can point them at
//! a made-up machine.

use std::{
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, bail};

use crate::process;

/// One thing the machine must have.
#[derive(Debug)]
pub struct Prerequisite {
    /// What it is, as a person calls it.
    pub what: &'static str,
    /// What needs it.
    pub why: &'static str,
    /// How it is found: present when any of these holds.
    pub found: &'static [Probe],
    /// How it is installed.
    pub source: Source,
}

/// A way to find a prerequisite.
#[derive(Debug)]
pub enum Probe {
    /// Every one of these programs is on the search path.
    Programs(&'static [&'static str]),
    /// A file matches this absolute path, whose components may hold `*` (any run of
    /// characters).
    File(&'static str),
    /// This command (its program looked up on the search path) runs and succeeds.
    Runs(&'static [&'static str]),
}

/// Where a prerequisite is installed from.
#[derive(Debug)]
pub enum Source {
    /// These Debian packages (`apt-get install`).
    Debian(&'static [&'static str]),
    /// This Python package requirement (`python3 -m pip install`).
    Python(&'static str),
    /// This crate's binaries at this version (`cargo install --locked`).
    Crate(&'static str, &'static str),
}

/// Mesa's software Vulkan driver.
pub const LAVAPIPE: Prerequisite = Prerequisite {
    what: "Mesa's lavapipe Vulkan driver",
    why: "the wgpu tests run on it (the backend-parity tests of the GPU bundle's check)",
    found: &[Probe::File("/usr/share/vulkan/icd.d/lvp_icd.*.json")],
    source: Source::Debian(&["mesa-vulkan-drivers", "libvulkan1"]),
};

/// The browser the audit's review page is tested in.
pub const CHROMIUM: Prerequisite = Prerequisite {
    what: "chromium",
    why: "the audit's review page is tested in it",
    found: &[Probe::Programs(&["chromium"])],
    source: Source::Debian(&["chromium"]),
};

/// objdump, which reads the bundled binaries' symbol versions and libraries.
pub const OBJDUMP: Prerequisite = Prerequisite {
    what: "objdump",
    why: "the GPU bundle's binaries are checked with it",
    found: &[Probe::Programs(&["objdump"])],
    source: Source::Debian(&["binutils"]),
};

/// xz, which `tar -J` packs the bundle with.
pub const XZ: Prerequisite = Prerequisite {
    what: "xz",
    why: "the GPU bundle is packed with it",
    found: &[Probe::Programs(&["xz"])],
    source: Source::Debian(&["xz-utils"]),
};

/// OpenMPI: its launcher and its compiler wrapper (which the mpi crate's build asks for the
/// library's flags).
pub const OPENMPI: Prerequisite = Prerequisite {
    what: "OpenMPI",
    why: "the mpi feature builds against it and the data-parallel tests run 2 ranks under mpirun",
    found: &[Probe::Programs(&["mpirun", "mpicc"])],
    source: Source::Debian(&["libopenmpi-dev", "openmpi-bin"]),
};

/// libclang, with which bindgen generates the mpi crate's bindings.
pub const LIBCLANG: Prerequisite = Prerequisite {
    what: "libclang",
    why: "the mpi crate's bindings are generated with it",
    found: &[Probe::File("/usr/lib/llvm-*/lib/libclang.so*")],
    source: Source::Debian(&["libclang-dev"]),
};

/// zig, the linker of cargo-zigbuild, on the search path or as Python's `ziglang` package
/// (cargo-zigbuild finds either).
pub const ZIG: Prerequisite = Prerequisite {
    what: "zig",
    why: "cargo-zigbuild links the GPU bundle against glibc 2.28 with it",
    found: &[
        Probe::Programs(&["zig"]),
        Probe::Runs(&["python3", "-m", "ziglang", "version"]),
    ],
    source: Source::Python("ziglang==0.17.1"),
};

/// cargo-zigbuild, which builds the GPU bundle.
pub const CARGO_ZIGBUILD: Prerequisite = Prerequisite {
    what: "cargo-zigbuild",
    why: "the GPU bundle is built with it",
    found: &[Probe::Programs(&["cargo-zigbuild"])],
    source: Source::Crate("cargo-zigbuild", "0.24.1"),
};

/// What `cargo xtask test` needs.
pub const TESTS: [&Prerequisite; 8] = [
    &LAVAPIPE,
    &CHROMIUM,
    &OBJDUMP,
    &XZ,
    &OPENMPI,
    &LIBCLANG,
    &ZIG,
    &CARGO_ZIGBUILD,
];

/// What `cargo xtask gpu-bundle` needs.
pub const GPU_BUNDLE: [&Prerequisite; 4] = [&OBJDUMP, &XZ, &ZIG, &CARGO_ZIGBUILD];

/// What to do when something is missing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OnMissing {
    /// Install it.
    Install,
    /// Fail with the command line that installs it.
    Fail,
}

/// The machine as the checks see it.
#[derive(Debug)]
pub struct System {
    /// The directories searched for programs, as in `PATH`.
    pub path: OsString,
    /// The directory that the absolute paths of [`Probe::File`] are under (`/`).
    pub root: PathBuf,
    /// Whether xtask runs as root.
    pub is_root: bool,
}

impl System {
    /// This machine: its `PATH`, `/`, and whether the user is root (`id -u`).
    pub fn here() -> anyhow::Result<Self> {
        let id = Command::new("id")
            .arg("-u")
            .output()
            .context("running `id -u`")?;
        anyhow::ensure!(id.status.success(), "`id -u` failed ({})", id.status);
        Ok(Self {
            path: std::env::var_os("PATH").unwrap_or_default(),
            root: PathBuf::from("/"),
            is_root: String::from_utf8_lossy(&id.stdout).trim() == "0",
        })
    }

    /// The program `name` on the search path.
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        std::env::split_paths(&self.path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    }

    /// Whether `probe` holds here.
    pub fn holds(&self, probe: &Probe) -> bool {
        match probe {
            Probe::Programs(names) => names.iter().all(|name| self.find(name).is_some()),
            Probe::File(pattern) => matches_a_file(&self.root, pattern),
            Probe::Runs(argv) => argv.split_first().is_some_and(|(program, args)| {
                self.find(program).is_some_and(|program| {
                    Command::new(program)
                        .args(args)
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|status| status.success())
                })
            }),
        }
    }

    /// The prerequisites of `needed` that are not here.
    pub fn missing<'a>(&self, needed: &[&'a Prerequisite]) -> Vec<&'a Prerequisite> {
        needed
            .iter()
            .copied()
            .filter(|p| !p.found.iter().any(|probe| self.holds(probe)))
            .collect()
    }

    /// Whether this user can install Debian packages: as root, or through `sudo`.
    pub fn can_install_packages(&self) -> bool {
        self.is_root || self.find("sudo").is_some()
    }
}

/// Whether `pattern` (an absolute path whose components may hold `*`) names a file or
/// directory under `root`.
fn matches_a_file(root: &Path, pattern: &str) -> bool {
    let mut candidates = vec![root.to_path_buf()];
    for part in pattern.split('/').filter(|part| !part.is_empty()) {
        candidates = candidates
            .into_iter()
            .flat_map(|dir| -> Vec<PathBuf> {
                if !part.contains('*') {
                    return vec![dir.join(part)];
                }
                fs::read_dir(&dir)
                    .into_iter()
                    .flatten()
                    .filter_map(Result::ok)
                    .filter(|entry| wildcard(part, &entry.file_name().to_string_lossy()))
                    .map(|entry| entry.path())
                    .collect()
            })
            .collect();
    }
    candidates.iter().any(|path| path.exists())
}

/// Whether `name` matches `pattern`, in which `*` stands for any run of characters.
fn wildcard(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(mut rest) = name.strip_prefix(parts.next().unwrap_or_default()) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// How a probe is described in a message.
fn describe(probe: &Probe) -> String {
    match probe {
        Probe::Programs(names) => format!("`{}` on the PATH", names.join("` and `")),
        Probe::File(pattern) => format!("file {pattern}"),
        Probe::Runs(argv) => format!("`{}` succeeding", argv.join(" ")),
    }
}

/// One line per missing prerequisite: what it is, what was looked for, what needs it, what
/// installs it.
fn report(missing: &[&Prerequisite]) -> String {
    missing
        .iter()
        .map(|p| {
            let looked_for: Vec<String> = p.found.iter().map(describe).collect();
            let source = match p.source {
                Source::Debian(packages) => format!("Debian packages {}", packages.join(" ")),
                Source::Python(requirement) => format!("Python package {requirement}"),
                Source::Crate(name, version) => format!("crate {name} {version}"),
            };
            format!(
                "  {}: no {}; {}; from {source}",
                p.what,
                looked_for.join(" nor "),
                p.why
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `apt-get install` without questions, nor the packages' recommendations.
const APT_INSTALL: [&str; 6] = [
    "env",
    "DEBIAN_FRONTEND=noninteractive",
    "apt-get",
    "install",
    "-y",
    "--no-install-recommends",
];

/// The commands that install `missing`, each as its argument list: every Debian package in one
/// `apt-get update` and one `apt-get install` (prefixed with `sudo` unless `as_root`), then
/// the Python packages and the crates.
pub fn plan(missing: &[&Prerequisite], as_root: bool) -> Vec<Vec<String>> {
    let mut packages: Vec<&str> = Vec::new();
    for p in missing {
        if let Source::Debian(names) = p.source {
            for name in names {
                if !packages.contains(name) {
                    packages.push(name);
                }
            }
        }
    }
    let sudo: &[&str] = if as_root { &[] } else { &["sudo"] };
    let mut steps: Vec<Vec<String>> = Vec::new();
    if !packages.is_empty() {
        steps.push(words(&[sudo, &["apt-get", "update"]]));
        steps.push(words(&[sudo, &APT_INSTALL, &packages]));
    }
    for p in missing {
        match p.source {
            Source::Debian(_) => {}
            Source::Python(requirement) => {
                // Debian's own Python refuses pip installs outside a virtual environment
                // (PEP 668) unless told; other Pythons ignore the variable.
                steps.push(words(&[&[
                    "env",
                    "PIP_BREAK_SYSTEM_PACKAGES=1",
                    "python3",
                    "-m",
                    "pip",
                    "install",
                    requirement,
                ]]));
            }
            Source::Crate(name, version) => {
                steps.push(words(&[&[
                    "cargo",
                    "install",
                    "--locked",
                    name,
                    "--version",
                    version,
                ]]));
            }
        }
    }
    steps
}

/// The words of `parts`, in order, as one argument list.
fn words(parts: &[&[&str]]) -> Vec<String> {
    parts.concat().into_iter().map(str::to_owned).collect()
}

/// The steps as one shell command line, joined with `&&`.
fn command_line(steps: &[Vec<String>]) -> String {
    steps
        .iter()
        .map(|step| step.join(" "))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// Runs one step: its program from the search path (`cargo`: the cargo running xtask).
fn run_step(step: &[String]) -> anyhow::Result<()> {
    let (program, args) = step
        .split_first()
        .context("an install step names a program")?;
    let mut command = if program == "cargo" {
        process::cargo(&[])
    } else {
        Command::new(program)
    };
    process::run_ok(command.args(args))?;
    Ok(())
}

/// Makes sure this machine has everything of `needed`: installs what is missing, or fails
/// saying how to (see [`ensure_on`]).
pub fn ensure(needed: &[&Prerequisite], on_missing: OnMissing) -> anyhow::Result<()> {
    ensure_on(&System::here()?, needed, on_missing, &mut run_step)
}

/// Checks `needed` on `system`. When something is missing, it fails with the one command line
/// that installs it if `on_missing` says so or the Debian packages cannot be installed (not
/// root, no `sudo`); otherwise it says what it installs and why, runs the commands of [`plan`]
/// through `run`, and checks again, failing if something is still missing.
pub fn ensure_on(
    system: &System,
    needed: &[&Prerequisite],
    on_missing: OnMissing,
    run: &mut dyn FnMut(&[String]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let missing = system.missing(needed);
    if missing.is_empty() {
        return Ok(());
    }
    let needs_packages = missing
        .iter()
        .any(|p| matches!(p.source, Source::Debian(_)));
    if on_missing == OnMissing::Fail || (needs_packages && !system.can_install_packages()) {
        let it = if missing.len() == 1 { "it" } else { "them" };
        let why = if on_missing == OnMissing::Fail {
            format!("install {it} with")
        } else {
            format!(
                "xtask cannot install Debian packages here (not root, no sudo); install {it} with"
            )
        };
        bail!(
            "missing:\n{}\n{why}:\n  {}",
            report(&missing),
            command_line(&plan(&missing, system.is_root))
        );
    }
    eprintln!("installing what is missing:\n{}", report(&missing));
    for step in plan(&missing, system.is_root) {
        run(&step).with_context(|| format!("installing with `{}`", step.join(" ")))?;
    }
    let still = system.missing(needed);
    if !still.is_empty() {
        bail!("still missing after installing:\n{}", report(&still));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up machine in a temporary directory: `bin/` is its search path, holding
    /// `programs`, and `files` exist under it as the root.
    struct Fake {
        dir: tempfile::TempDir,
    }

    impl Fake {
        fn new(programs: &[&str], files: &[&str]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir(dir.path().join("bin")).unwrap();
            for program in programs {
                fs::write(dir.path().join("bin").join(program), "").unwrap();
            }
            for file in files {
                let path = dir.path().join(file.trim_start_matches('/'));
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, "").unwrap();
            }
            Self { dir }
        }

        /// Everything of [`TESTS`] present (zig as a program), and `sudo`.
        fn complete() -> Self {
            Self::new(
                &[
                    "chromium",
                    "objdump",
                    "xz",
                    "mpirun",
                    "mpicc",
                    "zig",
                    "cargo-zigbuild",
                    "sudo",
                ],
                &[
                    "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
                    "/usr/lib/llvm-19/lib/libclang.so.1",
                ],
            )
        }

        fn remove(&self, program: &str) {
            fs::remove_file(self.dir.path().join("bin").join(program)).unwrap();
        }

        fn system(&self, is_root: bool) -> System {
            System {
                path: self.dir.path().join("bin").into_os_string(),
                root: self.dir.path().to_path_buf(),
                is_root,
            }
        }
    }

    /// [`ensure_on`] with a runner that records the steps instead of running them.
    fn ensure_recorded(
        system: &System,
        on_missing: OnMissing,
    ) -> (anyhow::Result<()>, Vec<String>) {
        let mut ran = Vec::new();
        let outcome = ensure_on(system, &TESTS, on_missing, &mut |step| {
            ran.push(step.join(" "));
            Ok(())
        });
        (outcome, ran)
    }

    #[test]
    fn nothing_is_planned_when_everything_is_there() {
        let fake = Fake::complete();
        for is_root in [false, true] {
            let system = fake.system(is_root);
            assert!(system.missing(&TESTS).is_empty());
            let (outcome, ran) = ensure_recorded(&system, OnMissing::Install);
            outcome.unwrap();
            assert!(ran.is_empty(), "{ran:?}");
        }
    }

    #[test]
    fn without_mpicc_openmpi_is_installed_through_sudo() {
        let fake = Fake::complete();
        fake.remove("mpicc");
        let system = fake.system(false);
        let missing = system.missing(&TESTS);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].what, "OpenMPI");
        let (outcome, ran) = ensure_recorded(&system, OnMissing::Install);
        assert_eq!(
            ran,
            [
                "sudo apt-get update",
                "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y \
                 --no-install-recommends libopenmpi-dev openmpi-bin",
            ]
        );
        // The recorder installed nothing: the check after it still misses OpenMPI.
        let err = format!("{:#}", outcome.unwrap_err());
        assert!(
            err.starts_with("still missing after installing:\n  OpenMPI: no `mpirun` and `mpicc`"),
            "{err}"
        );
    }

    #[test]
    fn without_root_or_sudo_the_error_is_the_one_command_line_and_nothing_runs() {
        let fake = Fake::new(&["chromium", "objdump", "xz"], &[]);
        let (outcome, ran) = ensure_recorded(&fake.system(false), OnMissing::Install);
        assert!(ran.is_empty(), "{ran:?}");
        let err = format!("{:#}", outcome.unwrap_err());
        let line = err.lines().last().unwrap().trim();
        assert_eq!(
            line,
            "sudo apt-get update && sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y \
             --no-install-recommends mesa-vulkan-drivers libvulkan1 libopenmpi-dev openmpi-bin \
             libclang-dev && env PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install ziglang==0.17.1 && cargo install --locked \
             cargo-zigbuild --version 0.24.1"
        );
        assert_eq!(err.matches("apt-get install").count(), 1, "{err}");
        assert!(err.contains("not root, no sudo"), "{err}");
        assert!(
            err.contains("  OpenMPI: no `mpirun` and `mpicc` on the PATH"),
            "{err}"
        );
    }

    #[test]
    fn as_root_the_plan_is_apt_get_without_sudo() {
        let fake = Fake::complete();
        fake.remove("sudo");
        fake.remove("chromium");
        fake.remove("zig");
        let system = fake.system(true);
        let missing = system.missing(&TESTS);
        let names: Vec<&str> = missing.iter().map(|p| p.what).collect();
        assert_eq!(names, ["chromium", "zig"]);
        let (outcome, ran) = ensure_recorded(&system, OnMissing::Install);
        assert!(outcome.is_err(), "the recorder installs nothing");
        assert_eq!(
            ran,
            [
                "apt-get update",
                "env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                 chromium",
                "env PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install ziglang==0.17.1",
            ]
        );
    }

    #[test]
    fn check_only_fails_with_the_command_line_even_when_it_could_install() {
        let fake = Fake::complete();
        fake.remove("cargo-zigbuild");
        let (outcome, ran) = ensure_recorded(&fake.system(true), OnMissing::Fail);
        assert!(ran.is_empty(), "{ran:?}");
        let err = format!("{:#}", outcome.unwrap_err());
        assert!(
            err.ends_with(
                "install it with:\n  cargo install --locked cargo-zigbuild --version 0.24.1"
            ),
            "{err}"
        );
    }

    #[test]
    fn what_an_install_provides_is_found_by_the_check_after_it() {
        let fake = Fake::complete();
        fake.remove("xz");
        let system = fake.system(false);
        let bin = fake.dir.path().join("bin");
        let outcome = ensure_on(&system, &GPU_BUNDLE, OnMissing::Install, &mut |step| {
            if step.last().is_some_and(|w| w == "xz-utils") {
                fs::write(bin.join("xz"), "")?;
            }
            Ok(())
        });
        outcome.unwrap();
    }

    #[test]
    fn file_patterns_match_any_run_of_characters_in_a_component() {
        assert!(wildcard("lvp_icd.*.json", "lvp_icd.x86_64.json"));
        assert!(wildcard("libclang.so*", "libclang.so"));
        assert!(wildcard("libclang.so*", "libclang.so.19.1"));
        assert!(wildcard("llvm-*", "llvm-19"));
        assert!(!wildcard("lvp_icd.*.json", "radeon_icd.x86_64.json"));
        assert!(!wildcard("a*a", "a"));
        assert!(!wildcard("exact", "exactly"));
        let fake = Fake::new(&[], &["/usr/lib/llvm-19/lib/libclang.so.1"]);
        assert!(matches_a_file(
            fake.dir.path(),
            "/usr/lib/llvm-*/lib/libclang.so*"
        ));
        assert!(!matches_a_file(
            fake.dir.path(),
            "/usr/lib/llvm-*/lib/libLLVM.so*"
        ));
    }
}
