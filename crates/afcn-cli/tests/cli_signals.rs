//! Two processes on one run directory, and Ctrl-C, with real `afcn train` processes: the
//! second process is refused naming the first; the first interrupt stops a run at a batch
//! boundary with its checkpoint and a message on how to resume, a second stops it at once.

mod support;

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use support::{failure, resume, stderr, success, train_command};

/// A run of `epochs` epochs of 16 batches of 8 tiny images, at network input side `side`.
fn start(run: &Path, epochs: usize, side: u32) -> Child {
    let toml = format!(
        "epochs = {epochs}\nbatch_size = 8\noverlays = 0\n[augment]\nimage_size = {side}\n\
         [data.synthfer]\ntrain_size = 128\ntest_size = 16\n"
    );
    train_command(&run.with_extension("toml"), &toml, run)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the afcn binary starts")
}

/// Waits until `path` exists (the run reached that point), failing after two minutes.
fn wait_for(path: &Path, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {} appeared",
            path.display()
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{} never appeared",
            path.display()
        );
        sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

fn stderr_of(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_second_process_on_the_same_run_directory_is_refused_naming_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut first = start(&run, 50, 64);
    wait_for(&run.join("config.toml"), &mut first);
    let pid = first.id();

    // Before the first checkpoint exists, as `--out` again and as `--resume`.
    let again = train_command(&tmp.path().join("again.toml"), "epochs = 1\n", &run)
        .output()
        .unwrap();
    let err = failure(&again);
    assert!(err.contains("in use by another afcn process"), "{err}");
    assert!(err.contains(&format!("pid {pid} on ")), "{err}");
    let err = failure(&resume(&run));
    assert!(err.contains(&format!("pid {pid} on ")), "{err}");

    signal(&first, "KILL");
    first.wait().unwrap();
    // The lock went with the killed process: the run resumes, taking over its lock file.
    let lock = std::fs::read_to_string(run.join("lock")).unwrap();
    assert!(lock.contains(&format!("pid {pid} ")), "{lock}");
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    std::fs::write(
        run.join("config.toml"),
        config.replace("epochs = 50", "epochs = 1"),
    )
    .unwrap();
    let out = resume(&run);
    success(&out);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("taking over the lock of pid {pid} on ")),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(run.join("lock")).unwrap(),
        "",
        "released at the end"
    );
}

#[test]
fn the_first_interrupt_stops_at_a_batch_boundary_and_the_run_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut child = start(&run, 3, 64);
    wait_for(&run.join("latest"), &mut child);
    signal(&child, "INT");
    let (code, err) = stderr_of(child);
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted in epoch "), "{err}");
    assert!(
        err.contains(&format!("afcn train --resume {}", run.display())),
        "{err}"
    );
    assert!(run.join("latest").is_file() && !run.join("COMPLETE").exists());

    success(&resume(&run));
    assert!(run.join("COMPLETE").is_file());
}

#[test]
fn a_second_interrupt_stops_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // Steps of 16 images of 768 x 768 take far longer than the gap between the signals, so
    // no batch boundary falls between them.
    let mut child = start(&run, 50, 768);
    // The handler is installed before the configuration is written.
    wait_for(&run.join("config.toml"), &mut child);
    signal(&child, "INT");
    // Two signals sent together would merge into one: the second follows the first's handling.
    sleep(Duration::from_millis(200));
    signal(&child, "INT");
    let (code, err) = stderr_of(child);
    assert_eq!(code, Some(130), "{err}");
    // It did not wait for a batch boundary to print the resume message.
    assert!(!err.contains("interrupted in epoch "), "{err}");
}
