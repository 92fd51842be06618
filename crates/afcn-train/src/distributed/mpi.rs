//! The [`Collective`] of an MPI job (rsmpi over the system's MPI library).

use mpi::{
    Count,
    collective::SystemOperation,
    datatype::PartitionMut,
    environment::Universe,
    topology::SimpleCommunicator,
    traits::{Communicator, CommunicatorCollectives, Root},
};

use super::collective::Collective;

/// MPI's world communicator; MPI is finalised when this is dropped.
pub struct Mpi {
    world: SimpleCommunicator,
    // Dropped after `world`: finalises MPI.
    _universe: Universe,
}

impl Mpi {
    /// Initialises MPI.
    ///
    /// # Errors
    /// MPI was already initialised in this process.
    pub fn init() -> anyhow::Result<Self> {
        let universe = mpi::initialize()
            .ok_or_else(|| anyhow::anyhow!("MPI is already initialised in this process"))?;
        Ok(Self {
            world: universe.world(),
            _universe: universe,
        })
    }
}

/// `counts` as MPI counts, with their displacements.
fn partition(counts: &[usize]) -> (Vec<Count>, Vec<Count>) {
    let counts: Vec<Count> = counts
        .iter()
        .map(|&c| Count::try_from(c).expect("an MPI message under 2^31 values"))
        .collect();
    let displacements = counts
        .iter()
        .scan(0, |at, &c| {
            let here = *at;
            *at += c;
            Some(here)
        })
        .collect();
    (counts, displacements)
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn ranks(&self) -> usize {
        self.world.size() as usize
    }

    fn sum_f32(&self, values: &mut [f32]) {
        let local = values.to_vec();
        self.world
            .all_reduce_into(&local[..], values, SystemOperation::sum());
    }

    fn sum_f64(&self, values: &mut [f64]) {
        let local = values.to_vec();
        self.world
            .all_reduce_into(&local[..], values, SystemOperation::sum());
    }

    fn gather_f32(&self, local: &[f32], counts: &[usize]) -> Vec<f32> {
        let mut all = vec![0.0; counts.iter().sum()];
        let (counts, displacements) = partition(counts);
        let mut partition = PartitionMut::new(&mut all[..], counts, &displacements[..]);
        self.world.all_gather_varcount_into(local, &mut partition);
        all
    }

    fn gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>> {
        let mut lengths = vec![0u64; self.ranks()];
        self.world
            .all_gather_into(&(local.len() as u64), &mut lengths[..]);
        let lengths: Vec<usize> = lengths.iter().map(|&l| l as usize).collect();
        let mut all = vec![0u8; lengths.iter().sum()];
        let (counts, displacements) = partition(&lengths);
        let mut partition = PartitionMut::new(&mut all[..], counts, &displacements[..]);
        self.world.all_gather_varcount_into(local, &mut partition);
        let mut rest = &all[..];
        lengths
            .iter()
            .map(|&l| {
                let (one, tail) = rest.split_at(l);
                rest = tail;
                one.to_vec()
            })
            .collect()
    }

    fn broadcast_bytes(&self, bytes: &mut Vec<u8>) {
        let root = self.world.process_at_rank(0);
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        // An empty buffer's dangling pointer is an invalid argument to MPI.
        if len > 0 {
            root.broadcast_into(&mut bytes[..]);
        }
    }

    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}
