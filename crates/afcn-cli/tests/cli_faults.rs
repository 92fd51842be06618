//! Training faults and reproducibility on a tiny SynthFER run: a loss that turns NaN or
//! infinite (forced by a real configuration, an absurd learning rate) stops the run naming the
//! epoch, batch and samples and keeps the last good checkpoint, or is skipped and counted under
//! `--skip-nonfinite`; a run killed with SIGKILL at several points resumes to the uninterrupted
//! result; the same seed gives the same run on the cpu backend, whatever the thread count.

mod support;

use std::{
    path::Path,
    process::{Child, Command, Output, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use afcn_train::config::TrainConfig;
use support::{failure, resume, success, train_command};

/// A tiny run of `epochs` epochs at learning rate `lr`: four batches of 8 per epoch.
fn tiny(epochs: usize, lr: f64) -> String {
    format!(
        "epochs = {epochs}\nbatch_size = 8\n[data.synthfer]\ntrain_size = 32\ntest_size = 16\n\
         [optim]\nlr = {lr:e}\n"
    )
}

/// A learning rate past f32's range: the first Adam step makes the weights infinite or NaN
/// (whatever the optimizer's state), so the next batch's loss is not finite.
const ABSURD_LR: f64 = 1e300;

/// A sane learning rate.
const LR: f64 = 1e-3;

/// `afcn train` on the tiny configuration (written next to `run`), writing to `run`; more
/// flags or an environment may be added to the returned command.
fn tiny_train(run: &Path, epochs: usize, lr: f64) -> Command {
    train_command(&run.with_extension("toml"), &tiny(epochs, lr), run)
}

/// `afcn train` on the tiny configuration, writing to `run`.
fn train(run: &Path, epochs: usize, lr: f64, extra: &[&str]) -> Output {
    tiny_train(run, epochs, lr).args(extra).output().unwrap()
}

/// Starts (or, once it has saved its configuration, resumes) the run `run` as a child process.
fn spawn(run: &Path, epochs: usize) -> Child {
    let mut command = if run.join("config.toml").is_file() {
        support::resume_command(run)
    } else {
        tiny_train(run, epochs, LR)
    };
    command.stderr(Stdio::null()).spawn().unwrap()
}

/// Rewrites the configuration saved in a run directory.
fn edit_config(run: &Path, edit: impl FnOnce(&mut TrainConfig)) {
    let path = run.join("config.toml");
    let mut config = TrainConfig::from_toml_file(&path, &TrainConfig::default()).unwrap();
    edit(&mut config);
    std::fs::write(&path, config.to_toml()).unwrap();
}

/// The `epochs` array of a run's `metrics.json` (empty before the file is first written).
fn epochs(run: &Path) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(run.join("metrics.json")) else {
        return Vec::new();
    };
    let metrics: serde_json::Value = serde_json::from_str(&text).unwrap();
    metrics["epochs"].as_array().unwrap().clone()
}

/// The next epoch recorded in the latest checkpoint, which must be complete and readable.
fn checkpoint_next_epoch(run: &Path) -> u64 {
    let latest = std::fs::read_to_string(run.join("latest")).unwrap();
    let checkpoint = run.join(latest.trim());
    for file in ["model.mpk", "optimizer.mpk", "state.json"] {
        assert!(checkpoint.join(file).is_file(), "{file} missing");
    }
    let state = std::fs::read_to_string(checkpoint.join("state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    state["next_epoch"].as_u64().unwrap()
}

#[test]
fn a_nonfinite_loss_stops_the_run_naming_where_and_keeps_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");

    // From the start: the first step makes the weights huge, the second batch's loss is not
    // finite; no checkpoint exists yet and the run is not complete.
    let fresh = tmp.path().join("fresh");
    let message = failure(&train(&fresh, 2, ABSURD_LR, &[]));
    assert!(
        message.contains("in epoch 0, batch 1 (samples ["),
        "{message}"
    );
    assert!(
        message.contains("the last good checkpoint is kept"),
        "{message}"
    );
    assert!(!fresh.join("latest").exists() && !fresh.join("COMPLETE").exists());

    // After a good epoch: the loss turns non-finite in epoch 1; checkpoint 0 is intact and a
    // resume with a sane learning rate completes the run.
    success(&train(&run, 1, LR, &[]));
    std::fs::remove_file(run.join("COMPLETE")).unwrap();
    edit_config(&run, |c| {
        c.epochs = 2;
        c.optim.lr = ABSURD_LR;
    });
    let message = failure(&resume(&run));
    assert!(
        message.contains("in epoch 1, batch 1 (samples ["),
        "{message}"
    );
    assert!(!run.join("COMPLETE").exists());
    assert_eq!(checkpoint_next_epoch(&run), 1);
    edit_config(&run, |c| c.optim.lr = LR);
    success(&resume(&run));
    assert_eq!(epochs(&run).len(), 2);
    assert!(run.join("COMPLETE").is_file());
}

#[test]
fn skip_nonfinite_skips_and_counts_the_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    success(&train(&run, 1, ABSURD_LR, &["--skip-nonfinite"]));
    let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(saved.contains("skip_nonfinite = true"), "{saved}");
    let epoch = &epochs(&run)[0];
    // Four batches of 8: the first is finite and takes the absurd step, the other three not.
    assert_eq!(epoch["skipped_batches"].as_u64(), Some(3), "{epoch}");
    assert!(epoch["loss"].as_f64().unwrap().is_finite(), "{epoch}");
}

#[test]
fn sigkill_at_several_points_loses_at_most_the_epoch_in_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    success(&train(&whole, 3, LR, &[]));
    let expected = epochs(&whole);

    let run = tmp.path().join("killed");
    // Kill points, each observed in the run directory rather than timed, so that a fast
    // machine cannot finish the run first: in the start-up (as soon as the configuration is
    // written), as soon as the first checkpoint is named, and early in the epoch after the
    // next checkpoint.
    let mut done_before = 0;
    for point in 0..3 {
        let named = std::fs::read_to_string(run.join("latest")).ok();
        let mut child = spawn(&run, 3);
        let start = Instant::now();
        let wait_for = |ready: &dyn Fn() -> bool| {
            while !ready() {
                assert!(
                    start.elapsed() < Duration::from_secs(120),
                    "kill point {point} never came"
                );
                sleep(Duration::from_millis(2));
            }
        };
        match point {
            0 => wait_for(&|| run.join("config.toml").is_file()),
            1 => wait_for(&|| run.join("latest").exists()),
            _ => {
                wait_for(&|| std::fs::read_to_string(run.join("latest")).ok() != named);
                sleep(Duration::from_millis(20));
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!run.join("COMPLETE").exists());
        if run.join("latest").exists() {
            // The checkpoint named is whole; the metrics lag it by at most the one epoch whose
            // checkpoint was written just before the kill.
            let next = checkpoint_next_epoch(&run);
            assert!(next >= done_before, "a checkpoint went backwards");
            let recorded = epochs(&run).len() as u64;
            assert!(
                next == recorded || next == recorded + 1,
                "{next} vs {recorded}"
            );
            done_before = next;
        }
    }
    success(&resume(&run));
    assert!(run.join("COMPLETE").is_file());
    // Everything but the wall-clock time is as in the uninterrupted run.
    assert_eq!(
        strip(epochs(&run)),
        strip(expected),
        "the resumed run diverged"
    );
}

/// The header (as JSON, whose key order the writer does not fix) and the tensor bytes of a
/// run's `model.safetensors`.
fn weights(run: &Path) -> (serde_json::Value, Vec<u8>) {
    let bytes = std::fs::read(run.join("model.safetensors")).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    (header, bytes[8 + len..].to_vec())
}

/// Every metric but the wall-clock time.
fn strip(epochs: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    epochs
        .into_iter()
        .map(|mut e| {
            e.as_object_mut().unwrap().remove("seconds");
            e
        })
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    success(&train(&a, 2, LR, &["--seed", "5"]));
    // The same seed on one thread: the same noisy labels, augmentations, losses and weights.
    let one_thread = tiny_train(&b, 2, LR)
        .env("RAYON_NUM_THREADS", "1")
        .args(["--seed", "5"])
        .output()
        .unwrap();
    success(&one_thread);
    assert_eq!(strip(epochs(&a)), strip(epochs(&b)));
    assert!(weights(&a) == weights(&b), "the weights differ");
    success(&train(&c, 2, LR, &["--seed", "6"]));
    assert_ne!(strip(epochs(&a)), strip(epochs(&c)));
}
