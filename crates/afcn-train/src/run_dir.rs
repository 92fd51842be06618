//! The run directory: every file a run writes, written atomically, and the checkpoints that
//! let `--resume` continue after a crash.
//!
//! A checkpoint is a directory `checkpoint-<epoch>/` (model, optimizer, trainer state) that
//! is complete before the file `latest` is atomically replaced to name it; older checkpoints
//! are removed afterwards. A kill at any moment leaves `latest` naming a complete checkpoint
//! (or no checkpoint yet), never a half-written one. The run is complete once `report.md`
//! exists; `COMPLETE` is written last.
//!
//! One process at a time trains into a run directory: [`RunDir::lock`] takes an exclusive
//! operating-system lock on the file `lock` (released by the system when the process ends,
//! however it ends) and writes the holder's pid and host into it for the message a second
//! process gets.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::Context;

/// File names inside a run directory.
pub mod names {
    /// The configuration of the run, as TOML.
    pub const CONFIG: &str = "config.toml";
    /// Per-epoch metrics, JSON.
    pub const METRICS: &str = "metrics.json";
    /// The name of the latest complete checkpoint directory.
    pub const LATEST: &str = "latest";
    /// Marker written when every output exists.
    pub const COMPLETE: &str = "COMPLETE";
    /// The final weights (torchvision key names).
    pub const WEIGHTS: &str = "model.safetensors";
    /// The same file under the name a pretraining run (`afcn pretrain`) gives it: the
    /// face-pretrained backbone that `afcn train --weights` takes.
    pub const BACKBONE: &str = "backbone.safetensors";
    /// The report tying the outputs together.
    pub const REPORT: &str = "report.md";
    /// The lock file of the process training into the directory (its pid and host).
    pub const LOCK: &str = "lock";
}

/// The exclusive right to write a run directory, held until dropped (or the process ends).
#[derive(Debug)]
pub struct RunLock {
    file: fs::File,
    path: PathBuf,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // An empty, unlocked file is a released lock; the system lock goes with the handle.
        let _ = self.file.set_len(0);
    }
}

impl RunLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// This host's name, for the lock file (`unknown` where the system does not say).
fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("renaming into {}", path.display()))?;
    sync_dir(dir);
    Ok(())
}

/// Flushes a directory's entries (the renames in it) to disk, where the platform allows.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = fs::File::open(dir) {
        // Directories cannot be fsynced on every platform; the rename is still atomic.
        let _ = handle.sync_all();
    }
}

/// A run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Opens (creating if needed) the run directory `root`.
    pub fn create(root: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// Takes the directory's lock for this process, for as long as the returned value lives.
    ///
    /// # Errors
    /// Another live process holds it (the error names its pid and host), or the lock file
    /// cannot be opened or written. A lock left by a process that has ended is taken over
    /// with a message on standard error.
    pub fn lock(&self) -> anyhow::Result<RunLock> {
        let path = self.join(names::LOCK);
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        let previous = fs::read_to_string(&path).unwrap_or_default();
        let previous = previous.trim();
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => anyhow::bail!(
                "{} is in use by another afcn process ({}); wait for it to end or stop it \
                 (the lock goes with the process)",
                self.root.display(),
                if previous.is_empty() {
                    "holder unknown"
                } else {
                    previous
                }
            ),
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        if !previous.is_empty() {
            eprintln!(
                "note: {}: taking over the lock of {previous}, which has ended",
                path.display()
            );
        }
        let holder = format!("pid {} on {}\n", std::process::id(), host_name());
        file.set_len(0)
            .and_then(|()| file.write_all(holder.as_bytes()))
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing the lock file {}", path.display()))?;
        Ok(RunLock { file, path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Whether the run finished and wrote every output.
    pub fn is_complete(&self) -> bool {
        self.join(names::COMPLETE).exists()
    }

    /// The latest complete checkpoint directory, if any.
    pub fn latest_checkpoint(&self) -> anyhow::Result<Option<PathBuf>> {
        let latest = self.join(names::LATEST);
        match fs::read_to_string(&latest) {
            Ok(name) => {
                let dir = self.join(name.trim());
                anyhow::ensure!(
                    dir.is_dir(),
                    "{} names {}, which does not exist",
                    latest.display(),
                    dir.display()
                );
                Ok(Some(dir))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", latest.display())),
        }
    }

    /// Writes a checkpoint for the end of `epoch`: `write` fills a fresh directory, which then
    /// becomes the latest checkpoint; the previous ones are removed.
    pub fn checkpoint(
        &self,
        epoch: usize,
        write: impl FnOnce(&Path) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let name = format!("checkpoint-{epoch:04}");
        let dir = self.join(&name);
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        if let Err(err) = write(&dir) {
            // A partial checkpoint is never current; removing it frees what it took.
            let _ = fs::remove_dir_all(&dir);
            return Err(err.context(format!(
                "the checkpoint of epoch {epoch} was not written; the previous one stays current"
            )));
        }
        for entry in fs::read_dir(&dir)? {
            fs::File::open(entry?.path())?.sync_all()?;
        }
        sync_dir(&dir);
        write_atomic(&self.join(names::LATEST), name.as_bytes())?;
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let other = entry.file_name().to_string_lossy().into_owned();
            if other.starts_with("checkpoint-") && other != name {
                fs::remove_dir_all(entry.path())
                    .with_context(|| format!("removing {}", entry.path().display()))?;
            }
        }
        Ok(())
    }

    /// Writes a text file atomically.
    pub fn write(&self, name: &str, text: &str) -> anyhow::Result<()> {
        self.write_bytes(name, text.as_bytes())
    }

    /// Writes a file atomically.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        write_atomic(&self.join(name), bytes)
    }

    /// Marks the run complete (after every other output was written).
    pub fn mark_complete(&self) -> anyhow::Result<()> {
        self.write(names::COMPLETE, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_replaces_the_previous_one_and_latest_names_it() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::create(tmp.path()).unwrap();
        assert_eq!(run.latest_checkpoint().unwrap(), None);
        for epoch in 0..3 {
            run.checkpoint(epoch, |dir| {
                fs::write(dir.join("state"), epoch.to_string())?;
                Ok(())
            })
            .unwrap();
        }
        let latest = run.latest_checkpoint().unwrap().unwrap();
        assert_eq!(fs::read_to_string(latest.join("state")).unwrap(), "2");
        let dirs: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("checkpoint-"))
            .collect();
        assert_eq!(dirs, vec!["checkpoint-0002".to_string()]);
    }

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_a_released_one_is_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::create(tmp.path()).unwrap();
        let held = run.lock().unwrap();
        let holder = fs::read_to_string(held.path()).unwrap();
        assert!(
            holder.starts_with(&format!("pid {} on ", std::process::id())),
            "{holder}"
        );
        let err = run.lock().unwrap_err().to_string();
        assert!(
            err.contains("in use by another afcn process") && err.contains(holder.trim()),
            "{err}"
        );
        drop(held);
        assert_eq!(fs::read_to_string(run.join(names::LOCK)).unwrap(), "");
        run.lock().unwrap();
    }

    #[test]
    fn a_failed_checkpoint_leaves_the_previous_one_current() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::create(tmp.path()).unwrap();
        run.checkpoint(0, |dir| Ok(fs::write(dir.join("state"), "0")?))
            .unwrap();
        let failed = run.checkpoint(1, |_| anyhow::bail!("disk full"));
        assert!(failed.is_err());
        let latest = run.latest_checkpoint().unwrap().unwrap();
        assert_eq!(fs::read_to_string(latest.join("state")).unwrap(), "0");
    }
}
