//! `cargo xtask test`: the README's test command, which is all CI runs (`.ci/run`).

use std::process::Command;

use crate::{
    flags::{GpuBundleFlags, TestFlags},
    gpu_bundle,
    prerequisites::{self, OnMissing},
    process,
};

/// First what the tests need from the machine ([`prerequisites::TESTS`]: checked, and what
/// is missing installed unless `--no-install`), then formatting, clippy over every feature (so
/// that the wgpu, cuda and mpi code at least compiles), the API docs (broken links denied),
/// `cargo package` of every library crate, the workspace tests and doc tests on
/// the cpu backend, built once with the mpi feature (the MPI tests, 2 ranks under `mpirun`,
/// among them), then the GPU bundle (`cargo xtask
/// gpu-bundle`): built, checked, and its driver run with `--quick`, which runs the
/// backend-parity tests on wgpu (on Mesa's lavapipe here) and every other step of the GPU
/// check at small sizes.
pub fn run(flags: &TestFlags) -> anyhow::Result<()> {
    let on_missing = if flags.no_install {
        OnMissing::Fail
    } else {
        OnMissing::Install
    };
    prerequisites::ensure(&prerequisites::TESTS, on_missing)?;
    if !flags.no_lint {
        process::run_ok(&mut process::cargo(&["fmt", "--all", "--", "--check"]))?;
        process::run_ok(&mut process::cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))?;
        // The API docs with every feature (sharing clippy's checked dependencies): a broken
        // or private intra-doc link fails.
        process::run_ok(
            process::cargo(&["doc", "--workspace", "--no-deps", "--all-features"]).env(
                "RUSTDOCFLAGS",
                "-D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links",
            ),
        )?;
        // Every library crate packages as crates.io would take it: manifests, versions of
        // the path dependencies, READMEs, included files. Not verified by a build of each
        // package: the builds below compile the same sources.
        process::run_ok(&mut process::cargo(&[
            "package",
            "--workspace",
            "--exclude",
            "xtask",
            "--no-verify",
            "--allow-dirty",
            "--locked",
        ]))?;
    }
    // The workspace tests with the mpi feature, so that one build serves them and the
    // data-parallel tests (2 MPI ranks on this machine, `tests/mpi_train.rs`), and the doc
    // tests with the same features (another feature set would rebuild afcn-train and afcn-cli).
    process::run_ok(&mut cargo_test(&[
        "--workspace",
        "--all-targets",
        "--features",
        MPI,
    ]))?;
    process::run_ok(&mut cargo_test(&[
        "--workspace",
        "--doc",
        "--features",
        MPI,
    ]))?;
    // The GPU bundle, whose driver runs the backend-parity tests here on wgpu (and reports
    // cuda as without a driver): built in release for glibc 2.28, then checked by the
    // ignored test that needs it.
    let bundle = GpuBundleFlags {
        out: "target/gpu-bundle".into(),
    };
    gpu_bundle::run(&bundle)?;
    process::run_ok(
        cargo_test(&[
            "-p",
            "xtask",
            "--bin",
            "xtask",
            "--",
            "--ignored",
            "--exact",
            "gpu_bundle::built::the_bundle_is_portable_and_its_driver_runs_without_a_gpu",
        ])
        .env("AFCN_GPU_BUNDLE", &bundle.out),
    )?;
    Ok(())
}

/// The feature that compiles in data-parallel training (OpenMPI, installed above).
const MPI: &str = "afcn-cli/mpi";

/// `cargo test <args>` with `AFCN_REQUIRE_CHROMIUM` set: chromium is installed above, so a
/// test that needs it fails instead of skipping when it cannot start it.
fn cargo_test(args: &[&str]) -> Command {
    let mut command = process::cargo(&["test"]);
    command.args(args).env("AFCN_REQUIRE_CHROMIUM", "1");
    command
}
