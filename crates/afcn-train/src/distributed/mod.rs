//! Data-parallel training: every global batch split into shards, gradients summed over the
//! shards before the same Adam step on every process.
//!
//! A run has `R` processes (MPI ranks, cargo feature `mpi`; one process without it) and each
//! process `L` shards of every global batch (`shards_per_process`, 1 by default), so `T = R L`
//! shards. Shard `k` of a global batch of `N` samples is its contiguous slice
//! `[k N / T, (k + 1) N / T)`; rank `r` owns shards `r L .. (r + 1) L`. Every batch-level
//! quantity of a method (certainty weights, SCN's ranking, RUL's partners) and the batch-norm
//! statistics are those of the shard, as in PyTorch's DDP; the loss of the step is
//! `sum_k (n_k / N) L_k`, whose gradient is what the ranks' all-reduce sums. The running
//! batch-norm statistics are averaged over the shards after every step. Label correction
//! decides on the probabilities of the whole global batch, gathered to every rank, so every
//! rank makes the same changes. `docs/method.md` says why; `docs/training.md` how to launch.
//!
//! One process with `shards_per_process = R` therefore computes what `R` ranks compute (to
//! float rounding): that is how the MPI test checks a 2-rank run.
//!
//! A run that is not data-parallel is the data-parallel run of one rank and one shard
//! ([`DataParallel::solo`]): the trainer has one path for both, and the layout's calls cost
//! nothing there.
//!
//! By job: [`mod@collective`] (how processes exchange values, and which there are), [`layout`]
//! (the shards of a global batch and the trainer's collective calls), [`sync`] (the
//! gradients and batch-norm statistics kept in step).

pub mod collective;
pub mod layout;
#[cfg(feature = "mpi")]
mod mpi;
pub mod sync;

pub use collective::{Collective, collective, launched_by_mpi, local_rank};
pub use layout::DataParallel;
pub use sync::{RunningStats, initialize};
