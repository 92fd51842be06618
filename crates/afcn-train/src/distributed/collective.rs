//! How the processes of a run exchange values, and which processes there are: one alone
//! ([`Solo`]) or the ranks of an MPI job.

use std::rc::Rc;

/// How the processes of a data-parallel run exchange values. Every call is collective: all
/// ranks make it, in the same order.
pub trait Collective {
    /// This process's rank, `0..ranks()`.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn ranks(&self) -> usize;
    /// Replaces `values` by their element-wise sum over the ranks.
    fn sum_f32(&self, values: &mut [f32]);
    /// Replaces `values` by their element-wise sum over the ranks.
    fn sum_f64(&self, values: &mut [f64]);
    /// The ranks' `local` values concatenated in rank order; rank `r` gives `counts[r]`.
    fn gather_f32(&self, local: &[f32], counts: &[usize]) -> Vec<f32>;
    /// Every rank's `local` bytes, in rank order.
    fn gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>>;
    /// Replaces `bytes` on every rank by rank 0's.
    fn broadcast_bytes(&self, bytes: &mut Vec<u8>);
    /// Ends every process of the run with exit status `code`.
    fn abort(&self, code: i32) -> !;
}

/// The collective of a run in one process.
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn ranks(&self) -> usize {
        1
    }
    fn sum_f32(&self, _: &mut [f32]) {}
    fn sum_f64(&self, _: &mut [f64]) {}
    fn gather_f32(&self, local: &[f32], _: &[usize]) -> Vec<f32> {
        local.to_vec()
    }
    fn gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>> {
        vec![local.to_vec()]
    }
    fn broadcast_bytes(&self, _: &mut Vec<u8>) {}
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// The environment variables an MPI launcher (OpenMPI's `mpirun`, a PMI or PMIx launcher
/// such as Slurm's `srun`) sets in each process it starts.
const LAUNCHER_VARIABLES: [&str; 4] = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"];

/// The environment variables that give a process's rank among those on its machine, first
/// found wins: OpenMPI, Slurm, MPICH.
const LOCAL_RANK_VARIABLES: [&str; 3] = [
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "SLURM_LOCALID",
    "MPI_LOCALRANKID",
];

/// Whether an MPI launcher started this process.
pub fn launched_by_mpi() -> bool {
    LAUNCHER_VARIABLES
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// This process's rank on its machine, from the launcher's environment (`None` outside one):
/// the default device index of a rank.
pub fn local_rank() -> Option<usize> {
    LOCAL_RANK_VARIABLES
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
}

/// The collective of this process: MPI's world when an MPI launcher started it, else one
/// process alone.
///
/// # Errors
/// Started by an MPI launcher but built without the `mpi` feature (each rank would train on
/// its own), or MPI fails to initialise.
pub fn collective() -> anyhow::Result<Rc<dyn Collective>> {
    if !launched_by_mpi() {
        return Ok(Rc::new(Solo));
    }
    #[cfg(feature = "mpi")]
    {
        Ok(Rc::new(super::mpi::Mpi::init()?))
    }
    #[cfg(not(feature = "mpi"))]
    {
        anyhow::bail!(
            "this process was started by an MPI launcher, but afcn was built without the `mpi` \
             feature: rebuild with `cargo build --release -p afcn-cli --features mpi`"
        )
    }
}
