//! A run directory on a full disk: a real `afcn train` on a 12 MiB tmpfs, where the first
//! checkpoint (about 8 MiB) fits and the second does not. The run ends naming the file it
//! could not write and the operating system's error, the first checkpoint stays current, and
//! the partial one is removed.
//!
//! Mounting needs root (CI runs as root); elsewhere the test says so and does nothing.

mod support;

use std::{path::PathBuf, process::Command};

use support::{failure, train_command};

/// A tmpfs mounted for the test's lifetime.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (such as `12m`) on a fresh folder; `None` when this user may
    /// not mount.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap().keep();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("mount runs");
        if status.success() {
            return Some(Self(dir));
        }
        let root = std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false);
        assert!(!root, "root could not mount a tmpfs on {}", dir.display());
        eprintln!("skipped: mounting a tmpfs needs root");
        None
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_full_disk_is_named_with_the_file_and_the_last_checkpoint_stays_current() {
    let Some(disk) = Tmpfs::mount("12m") else {
        return;
    };
    let run = disk.0.join("run");
    let toml = "epochs = 3\nbatch_size = 8\noverlays = 0\n[data.synthfer]\ntrain_size = 32\n\
                test_size = 16\n";
    let config = tempfile::tempdir().unwrap();
    let out = train_command(&config.path().join("tiny.toml"), toml, &run)
        .output()
        .unwrap();
    let err = failure(&out);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        err.contains(&format!(
            "writing {}",
            run.join("checkpoint-0001").display()
        )),
        "{err}"
    );
    assert!(err.contains("the previous one stays current"), "{err}");
    assert_eq!(
        std::fs::read_to_string(run.join("latest")).unwrap(),
        "checkpoint-0000"
    );
    for file in ["model.mpk", "optimizer.mpk", "state.json"] {
        assert!(run.join("checkpoint-0000").join(file).is_file(), "{file}");
    }
    assert!(
        !run.join("checkpoint-0001").exists(),
        "the partial checkpoint is removed"
    );
}
