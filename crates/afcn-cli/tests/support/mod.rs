//! What the `afcn` binary's integration tests share: running the binary, reading what it
//! printed, and the small inputs they hand it (a narrow ResNet's weights, a synthetic image).
//!
//! Each test file includes this module with `mod support;` and uses only some of its items.

// Every test file is its own crate with its own copy of this module, so an item that one of
// them does not use would be reported as dead code there.
#![allow(dead_code)]

use std::{
    ffi::OsStr,
    path::Path,
    process::{Command, Output},
};

use afcn_backbone::{Arch, ResNet, ResNetConfig};
use afcn_data::image::{Rgb, RgbImage};
use burn::backend::Flex;

/// The backend the tests build networks on.
pub type B = Flex;

/// A command that runs the `afcn` binary built for these tests, with no arguments yet.
pub fn command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_afcn"))
}

/// Runs `afcn <args>` to the end and returns what it printed and its status.
pub fn afcn<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Output {
    command().args(args).output().expect("the afcn binary runs")
}

/// `afcn train --config <config> --out <run>`, with `toml` written to `config` first; more
/// flags may be added to the returned command.
pub fn train_command(config: &Path, toml: &str, run: &Path) -> Command {
    std::fs::write(config, toml).expect("the configuration is written");
    let mut command = command();
    command
        .arg("train")
        .arg("--config")
        .arg(config)
        .arg("--out")
        .arg(run);
    command
}

/// The configuration of a tiny SynthFER run of `train` and `test` samples with `overlays`
/// overlays: two epochs of batch 16, relabelling eagerly from the second (no margin), so that
/// the run makes corrections, right and wrong.
pub fn tiny_config(train: usize, test: usize, overlays: usize) -> String {
    format!(
        "epochs = 2\nbatch_size = 16\noverlays = {overlays}\n\
         [data.synthfer]\ntrain_size = {train}\ntest_size = {test}\n\
         [methods.afcn]\nwarmup_epochs = 1\ncorrect_from_epoch = 1\ntau = 1.0\ndelta = 0.0\n"
    )
}

/// `afcn train --resume <run>`.
pub fn resume_command(run: &Path) -> Command {
    let mut command = command();
    command.arg("train").arg("--resume").arg(run);
    command
}

/// Runs `afcn train --resume <run>` to the end.
pub fn resume(run: &Path) -> Output {
    resume_command(run).output().expect("the afcn binary runs")
}

/// What a run wrote to stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What a run wrote to stdout, then what it wrote to stderr.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that the run succeeded (showing its stderr if not) and returns its stdout.
#[track_caller]
pub fn success(out: &Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// Asserts that the run failed and returns its stderr.
#[track_caller]
pub fn failure(out: &Output) -> String {
    assert!(!out.status.success(), "succeeded: {}", text(out));
    stderr(out)
}

/// A freshly initialised narrow ResNet (the small test architecture) with `num_classes`
/// outputs.
pub fn narrow_resnet(num_classes: usize) -> ResNet<B> {
    ResNetConfig::new()
        .with_arch(Arch::ResNetNarrow)
        .with_num_classes(num_classes)
        .init(&Default::default())
}

/// [`narrow_resnet`], saved as safetensors at `path`; returns the network.
pub fn save_narrow_resnet(path: &Path, num_classes: usize) -> ResNet<B> {
    let net = narrow_resnet(num_classes);
    net.save_safetensors(path).expect("weights saved");
    net
}

/// A deterministic colourful `side` x `side` image; another `seed` gives another image.
pub fn image(side: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(side, side, |x, y| {
        Rgb([
            ((x * 7 + y * 3 + seed * 11) % 256) as u8,
            ((x * x + y + seed) % 256) as u8,
            ((y * 13 + seed * 5) % 256) as u8,
        ])
    })
}
