//! Data-parallel training over MPI (feature `mpi`): `mpirun --oversubscribe -np 2` on this
//! machine, cpu backend, a tiny SynthFER split.
//!
//! A 2-rank run must equal, to float rounding, the one-process run of the same global batch
//! with `shards_per_process = 2` (the same shards, each with its own batch statistics, in one
//! process): the same weights, the same label corrections and the same metrics, for AFCN and
//! for SCN (which relabels for later steps and ranks its batch). A rank killed mid-run ends
//! the whole job with an error naming it, and the run resumes from its last checkpoint.
#![cfg(feature = "mpi")]

mod support;

use std::{
    path::Path,
    process::{Command, Output},
    time::{Duration, Instant},
};

use support::{stderr, success};

/// The tiny run: 16 training and 8 test images of 32 x 32, global batches of 8, two epochs,
/// relabelling from epoch 1 with no margin so that an untrained network relabels.
fn tiny(method: &str, extra: &str) -> String {
    format!(
        "method = \"{method}\"\nepochs = 2\nbatch_size = 8\narch = \"resnet-narrow\"\n\
         overlays = 0\n{extra}\n\
         [data.noise]\nrate = 0.0\n\
         [data.synthfer]\ntrain_size = 16\ntest_size = 8\nimage_size = 32\n\
         [augment]\nimage_size = 32\n\
         [methods.afcn]\nwarmup_epochs = 1\ncorrect_from_epoch = 1\ntau = 1.0\ndelta = 0.0\n\
         [methods.scn]\nrelabel_from_epoch = 1\nrelabel_margin = 0.0\n"
    )
}

/// `mpirun --oversubscribe -np <ranks> afcn <args>` (allowed to run as root, as CI does).
fn mpirun(ranks: usize) -> Command {
    let mut command = Command::new("mpirun");
    command
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args(["--oversubscribe", "-np", &ranks.to_string()])
        .arg(env!("CARGO_BIN_EXE_afcn"));
    command
}

/// `afcn train --config <dir>/<name>.toml --out <dir>/<name>` after writing the file.
fn train_args(command: &mut Command, dir: &Path, name: &str, toml: &str) {
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, toml).unwrap();
    command
        .arg("train")
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(dir.join(name));
}

fn run(mut command: Command) -> Output {
    command.output().expect("the command runs")
}

/// The float tensors of a safetensors file, by name.
fn weights(path: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut all: Vec<(String, Vec<f32>)> = tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            (name, values)
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// The per-epoch metrics of a run directory that must agree between layouts.
fn metrics(run: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run.join("metrics.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let epochs = value
        .as_array()
        .cloned()
        .or_else(|| value["epochs"].as_array().cloned());
    epochs.expect("metrics.json lists epochs")
}

#[track_caller]
fn assert_close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-4 * (1.0 + a.abs()),
        "{what}: {a} against {b}"
    );
}

/// Trains `method` on 2 ranks and on one process with 2 shards per process; compares.
fn two_ranks_equal_two_shards_in_one_process(method: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let mut one = support::command();
    train_args(
        &mut one,
        tmp.path(),
        "one",
        &tiny(method, "shards_per_process = 2"),
    );
    success(&run(one));
    let mut two = mpirun(2);
    train_args(&mut two, tmp.path(), "two", &tiny(method, ""));
    let out = run(two);
    success(&out);
    assert!(
        stderr(&out).contains("data-parallel: 2 rank(s) x 1 shard(s)"),
        "{}",
        stderr(&out)
    );
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    let report = std::fs::read_to_string(two.join("report.md")).unwrap();
    assert!(report.contains("2 rank(s)"), "{report}");

    for ((name, a), (other, b)) in weights(&one.join("model.safetensors"))
        .into_iter()
        .zip(weights(&two.join("model.safetensors")))
    {
        assert_eq!(name, other);
        assert_eq!(a.len(), b.len(), "{name}");
        for (x, y) in a.iter().zip(&b) {
            assert_close(f64::from(*x), f64::from(*y), &name);
        }
    }
    let changes = |run: &Path| std::fs::read_to_string(run.join("corrections.csv")).unwrap();
    assert_eq!(changes(&one), changes(&two), "the label changes");
    assert!(changes(&one).lines().count() > 1, "the run relabels");
    let (m1, m2) = (metrics(&one), metrics(&two));
    assert_eq!(m1.len(), 2);
    assert_eq!(m1.len(), m2.len());
    for (a, b) in m1.iter().zip(&m2) {
        for key in ["loss", "cross_entropy", "auxiliary"] {
            assert_close(a[key].as_f64().unwrap(), b[key].as_f64().unwrap(), key);
        }
        for key in [
            "train_accuracy",
            "train_clean_accuracy",
            "test_accuracy",
            "corrections",
            "label_noise",
        ] {
            assert_eq!(a[key], b[key], "{key}");
        }
    }
}

#[test]
fn afcn_on_two_ranks_equals_one_process_with_the_same_shards() {
    two_ranks_equal_two_shards_in_one_process("afcn");
}

#[test]
fn scn_on_two_ranks_equals_one_process_with_the_same_shards() {
    two_ranks_equal_two_shards_in_one_process("scn");
}

/// The pid of the process of rank `rank` training into `run` (from `/proc`).
fn rank_pid(run: &Path, rank: usize) -> Option<String> {
    let marker = format!("OMPI_COMM_WORLD_RANK={rank}\0");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid = entry.file_name().into_string().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let ours = String::from_utf8_lossy(&cmdline).contains(&*run.to_string_lossy());
            let environ = String::from_utf8_lossy(&environ);
            (ours && environ.contains(&marker)).then_some(pid)
        })
}

#[test]
fn a_killed_rank_ends_the_job_naming_it_and_the_run_resumes_on_another_rank_count() {
    let tmp = tempfile::tempdir().unwrap();
    let toml = tiny("afcn", "")
        .replace("epochs = 2", "epochs = 6")
        .replace("train_size = 16", "train_size = 64");
    let mut command = mpirun(2);
    train_args(&mut command, tmp.path(), "killed", &toml);
    let run_dir = tmp.path().join("killed");
    let child = command
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !run_dir.join("latest").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint came"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = rank_pid(&run_dir, 1).expect("rank 1 runs");
    let killed = Command::new("kill").args(["-9", &pid]).status().unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let message = stderr(&out);
    assert!(!out.status.success(), "{message}");
    assert!(message.contains("rank 1"), "{message}");
    assert!(!run_dir.join("COMPLETE").exists(), "the run was cut short");

    // Resumed by one process: the same global batch, another number of ranks.
    let resumed = support::resume(&run_dir);
    let message = success(&resumed) + &stderr(&resumed);
    assert!(message.contains("resuming from"), "{message}");
    assert!(run_dir.join("COMPLETE").exists());
    assert_eq!(metrics(&run_dir).len(), 6);
}

#[test]
fn a_nonfinite_loss_is_decided_by_every_rank_alike() {
    let tmp = tempfile::tempdir().unwrap();
    // A learning rate past f32's range: the first step is finite, the next ones are not.
    let toml = tiny("baseline", "").replace("epochs = 2", "epochs = 1") + "[optim]\nlr = 1e300\n";
    let mut stop = mpirun(2);
    train_args(&mut stop, tmp.path(), "stop", &toml);
    let out = run(stop);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("the loss is"), "{}", stderr(&out));

    let toml = toml.replace("overlays = 0", "overlays = 0\nskip_nonfinite = true");
    let mut skip = mpirun(2);
    train_args(&mut skip, tmp.path(), "skip", &toml);
    success(&run(skip));
    let epoch = &metrics(&tmp.path().join("skip"))[0];
    // Two global batches of 8: the first takes the absurd step, the second is skipped.
    assert_eq!(epoch["skipped_batches"].as_u64(), Some(1), "{epoch}");
}
