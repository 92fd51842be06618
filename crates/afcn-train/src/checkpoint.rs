//! A checkpoint's files: the model, the optimizer and the trainer state, read, written, and
//! sent from rank 0 to the other ranks of a data-parallel run.

use std::path::Path;

use anyhow::Context;

use crate::distributed::DataParallel;

/// The model's record in a checkpoint (named MessagePack, full precision).
pub const MODEL_FILE: &str = "model.mpk";
/// The optimizer's record in a checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.mpk";
/// The trainer state in a checkpoint (JSON).
pub const STATE_FILE: &str = "state.json";

/// The files of a checkpoint directory, as bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The model's record.
    pub model: Vec<u8>,
    /// The optimizer's record.
    pub optimizer: Vec<u8>,
    /// The trainer state (JSON).
    pub state: Vec<u8>,
}

impl Checkpoint {
    /// Reads the checkpoint directory `dir`.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
        };
        Ok(Self {
            model: read(MODEL_FILE)?,
            optimizer: read(OPTIMIZER_FILE)?,
            state: read(STATE_FILE)?,
        })
    }

    /// Writes the files into the directory `dir`; a failed write (a full disk) is reported
    /// with its path and the operating system's error.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        for (name, bytes) in self.parts() {
            let path = dir.join(name);
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }

    /// Rank 0's checkpoint (or its absence) on every rank of `parallel` (collective).
    pub fn broadcast(parallel: &DataParallel, checkpoint: Option<Self>) -> Option<Self> {
        let mut bytes = checkpoint.as_ref().map_or(Vec::new(), Self::frame);
        parallel.broadcast_bytes(&mut bytes);
        Self::unframe(&bytes)
    }

    /// The files with their names, in order.
    fn parts(&self) -> [(&'static str, &[u8]); 3] {
        [
            (MODEL_FILE, &self.model),
            (OPTIMIZER_FILE, &self.optimizer),
            (STATE_FILE, &self.state),
        ]
    }

    /// The checkpoint as one buffer: each part's length (8 bytes, little-endian), then its
    /// bytes.
    fn frame(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (_, part) in self.parts() {
            bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
            bytes.extend_from_slice(part);
        }
        bytes
    }

    /// The checkpoint of a [`Checkpoint::frame`]d buffer; `None` for an empty one (no
    /// checkpoint).
    fn unframe(mut bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() {
            return None;
        }
        let mut part = || {
            let (len, tail) = bytes.split_at(8);
            let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
            let (part, tail) = tail.split_at(len);
            bytes = tail;
            part.to_vec()
        };
        Some(Self {
            model: part(),
            optimizer: part(),
            state: part(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_framed_checkpoint_reads_back_part_by_part() {
        let c = Checkpoint {
            model: vec![1, 2],
            optimizer: vec![3],
            state: vec![],
        };
        assert_eq!(Checkpoint::unframe(&c.frame()), Some(c));
        assert_eq!(Checkpoint::unframe(&[]), None);
    }

    #[test]
    fn a_written_checkpoint_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Checkpoint {
            model: vec![7; 5],
            optimizer: vec![],
            state: b"{}".to_vec(),
        };
        c.write(tmp.path()).unwrap();
        assert_eq!(Checkpoint::read(tmp.path()).unwrap(), c);
        let err = Checkpoint::read(&tmp.path().join("none")).unwrap_err();
        assert!(format!("{err:#}").contains("model.mpk"), "{err:#}");
    }
}
