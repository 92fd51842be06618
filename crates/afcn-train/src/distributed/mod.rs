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

#[cfg(feature = "mpi")]
mod mpi;

use std::{ops::Range, rc::Rc};

use burn::{
    module::{Module, ModuleMapper, ModuleVisitor, Param},
    tensor::{Tensor, TensorData, backend::AutodiffBackend},
};

use crate::{
    data::SharedDataset,
    metrics::ConfusionMatrix,
    model::FerModel,
    trainer::{Checkpoint, Prediction, predict_samples},
};

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
struct Solo;

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
        Ok(Rc::new(mpi::Mpi::init()?))
    }
    #[cfg(not(feature = "mpi"))]
    {
        anyhow::bail!(
            "this process was started by an MPI launcher, but afcn was built without the `mpi` \
             feature: rebuild with `cargo build --release -p afcn-train --features mpi`"
        )
    }
}

/// The layout of a data-parallel run: its processes and the shards of each global batch.
#[derive(Clone)]
pub struct DataParallel {
    collective: Rc<dyn Collective>,
    shards_per_process: usize,
    /// Every rank's device, once known ([`DataParallel::with_devices`]).
    devices: Vec<String>,
}

impl std::fmt::Debug for DataParallel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DataParallel(rank {} of {}, {} shard(s) each)",
            self.rank(),
            self.ranks(),
            self.shards_per_process
        )
    }
}

impl DataParallel {
    /// `shards_per_process` shards of every global batch on each process of `collective`.
    pub fn new(collective: Rc<dyn Collective>, shards_per_process: usize) -> Self {
        Self {
            collective,
            shards_per_process: shards_per_process.max(1),
            devices: Vec::new(),
        }
    }

    /// The layout with every rank's device, given this one's (collective).
    pub fn with_devices(mut self, device: &str) -> Self {
        self.devices = self.gather_text(device);
        self
    }

    /// The layout in words, for the run's summary and report: ranks, shards, devices.
    pub fn describe(&self) -> String {
        let devices = match self.devices.as_slice() {
            [] => String::new(),
            [one] => format!(" on {one}"),
            all => format!(
                " on {}",
                all.iter()
                    .enumerate()
                    .map(|(r, d)| format!("rank {r} {d}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        format!(
            "data-parallel: {} rank(s) x {} shard(s) of each global batch{devices}",
            self.ranks(),
            self.shards_per_process
        )
    }

    /// One process computing `shards` shards of every global batch: what `shards` ranks
    /// compute.
    pub fn virtual_shards(shards: usize) -> Self {
        Self::new(Rc::new(Solo), shards)
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.collective.rank()
    }

    /// The number of processes.
    pub fn ranks(&self) -> usize {
        self.collective.ranks()
    }

    /// Shards of each global batch on each process.
    pub fn shards_per_process(&self) -> usize {
        self.shards_per_process
    }

    /// Shards of each global batch over all processes.
    pub fn shards(&self) -> usize {
        self.ranks() * self.shards_per_process
    }

    /// Whether this process writes the run directory (rank 0).
    pub fn is_writer(&self) -> bool {
        self.rank() == 0
    }

    /// The collective.
    pub fn collective(&self) -> &dyn Collective {
        self.collective.as_ref()
    }

    /// The smallest global batch the trainer steps on: two samples per shard.
    pub fn min_batch(&self) -> usize {
        2 * self.shards()
    }

    /// The positions in a global batch of `n` samples of every shard, in order.
    fn shard_ranges(&self, n: usize) -> Vec<Range<usize>> {
        let t = self.shards();
        (0..t).map(|k| k * n / t..(k + 1) * n / t).collect()
    }

    /// The positions of this process's shards in a global batch of `n` samples.
    pub fn local_ranges(&self, n: usize) -> Vec<Range<usize>> {
        let first = self.rank() * self.shards_per_process;
        self.shard_ranges(n)[first..first + self.shards_per_process].to_vec()
    }

    /// The positions of all of this process's samples in a global batch of `n` (its shards
    /// are contiguous).
    pub fn local_span(&self, n: usize) -> Range<usize> {
        let ranges = self.local_ranges(n);
        ranges[0].start..ranges[ranges.len() - 1].end
    }

    /// Whether `flag` is set on any rank.
    pub fn any(&self, flag: bool) -> bool {
        let mut v = [f64::from(u8::from(flag))];
        self.collective.sum_f64(&mut v);
        v[0] > 0.0
    }

    /// Replaces `values` by their sum over the ranks.
    pub fn sum(&self, values: &mut [f64]) {
        self.collective.sum_f64(values)
    }

    /// The rows (`columns` values each) of every shard of a global batch of `n` samples, in
    /// batch order, from this process's rows (`local`, its shards in order).
    pub fn gather_rows(&self, local: Vec<f32>, n: usize, columns: usize) -> Vec<f32> {
        if self.ranks() == 1 {
            return local;
        }
        let counts: Vec<usize> = (0..self.ranks())
            .map(|r| {
                let first = r * self.shards_per_process;
                let ranges = &self.shard_ranges(n)[first..first + self.shards_per_process];
                (ranges[ranges.len() - 1].end - ranges[0].start) * columns
            })
            .collect();
        self.collective.gather_f32(&local, &counts)
    }

    /// Every rank's `text`, in rank order.
    pub fn gather_text(&self, text: &str) -> Vec<String> {
        self.collective
            .gather_bytes(text.as_bytes())
            .into_iter()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    }

    /// Rank 0's `text` on every rank.
    pub fn broadcast_text(&self, text: String) -> anyhow::Result<String> {
        let mut bytes = text.into_bytes();
        self.collective.broadcast_bytes(&mut bytes);
        Ok(String::from_utf8(bytes)?)
    }

    /// Rank 0's checkpoint (or its absence) on every rank.
    pub fn broadcast_checkpoint(&self, checkpoint: Option<Checkpoint>) -> Option<Checkpoint> {
        if self.ranks() == 1 {
            return checkpoint;
        }
        let mut bytes = checkpoint.as_ref().map_or(Vec::new(), frame);
        self.collective.broadcast_bytes(&mut bytes);
        unframe(&bytes)
    }

    /// The confusion matrix of `model` on `dataset`, each rank predicting every `ranks()`-th
    /// chunk of `chunk` samples, the counts summed over the ranks.
    pub fn evaluate<B: burn::tensor::backend::Backend>(
        &self,
        model: &FerModel<B>,
        dataset: &SharedDataset,
        size: u32,
        chunk: usize,
        device: &B::Device,
    ) -> anyhow::Result<ConfusionMatrix> {
        let classes = dataset.class_names().len();
        let indices: Vec<usize> = (0..dataset.len())
            .filter(|i| (i / chunk) % self.ranks() == self.rank())
            .collect();
        let predictions: Vec<Prediction> = predict_samples(model, dataset, &indices, size, device)?;
        let mut counts = vec![0.0; classes * classes];
        for p in &predictions {
            counts[p.truth * classes + p.class] += 1.0;
        }
        self.collective.sum_f64(&mut counts);
        let mut confusion = ConfusionMatrix::new(classes);
        for (t, row) in counts.chunks(classes).enumerate() {
            for (p, &count) in row.iter().enumerate() {
                confusion.counts[t][p] = count as u64;
            }
        }
        Ok(confusion)
    }

    /// Sets the running batch-norm statistics to their mean over all shards (after a step
    /// that is skipped: [`DataParallel::reduce`] does it with the gradients otherwise).
    pub fn average_running<B: AutodiffBackend>(&self, model: &FerModel<B>, running: RunningStats) {
        let mut values = running.local(model);
        self.collective.sum_f32(&mut values);
        let ranks = self.ranks() as f32;
        let values = values.iter().map(|v| v / ranks).collect();
        write_running(model, values, &model.devices()[0]);
    }

    /// Sums `grads` over the ranks (each rank's loss is already weighted by its share of the
    /// global batch) and sets the running batch-norm statistics to their mean over all
    /// shards; one host transfer each way for both.
    pub fn reduce<B: AutodiffBackend>(
        &self,
        model: &FerModel<B>,
        grads: &mut B::Gradients,
        running: RunningStats,
    ) {
        let device = model.devices()[0].clone();
        let running = running.local(model);
        if self.ranks() == 1 {
            write_running(model, running, &device);
            return;
        }
        let mut reader = GradReader::<B> {
            grads,
            parts: Vec::new(),
        };
        model.visit(&mut reader);
        let mut parts = reader.parts;
        let grad_len: usize = parts.iter().map(|t| t.dims()[0]).sum();
        if !running.is_empty() {
            let len = running.len();
            parts.push(Tensor::from_data(TensorData::new(running, [len]), &device));
        }
        let mut host: Vec<f32> = Tensor::cat(parts, 0).into_data().iter::<f32>().collect();
        self.collective.sum_f32(&mut host);
        let ranks = self.ranks() as f32;
        let running: Vec<f32> = host.split_off(grad_len).iter().map(|v| v / ranks).collect();
        let len = host.len();
        let values = Tensor::from_data(TensorData::new(host, [len]), &device);
        model.visit(&mut GradWriter::<B> {
            grads,
            values,
            offset: 0,
        });
        write_running(model, running, &device);
    }
}

/// A checkpoint as one buffer: each part's length (8 bytes, little-endian), then its bytes.
fn frame(c: &Checkpoint) -> Vec<u8> {
    let mut bytes = Vec::new();
    for part in [&c.model, &c.optimizer, &c.state] {
        bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
        bytes.extend_from_slice(part);
    }
    bytes
}

/// The checkpoint of a [`frame`]d buffer; `None` for an empty one (no checkpoint).
fn unframe(mut bytes: &[u8]) -> Option<Checkpoint> {
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
    Some(Checkpoint {
        model: part(),
        optimizer: part(),
        state: part(),
    })
}

/// The running batch-norm statistics of a step's model across the shards of one process.
///
/// With several shards per process each shard's forward starts from the statistics of the
/// step's start (as each rank's would) and its move is recorded; after the step this
/// process's statistics are the start moved by the mean of the shards' moves.
pub struct RunningStats {
    parallel: DataParallel,
    start: Option<Vec<f32>>,
    moved: Vec<f32>,
}

impl RunningStats {
    /// The statistics at the start of a step of `parallel`.
    pub fn begin<B: AutodiffBackend>(parallel: &DataParallel, model: &FerModel<B>) -> Self {
        let start = (parallel.shards_per_process() > 1).then(|| read_running(model));
        Self {
            parallel: parallel.clone(),
            moved: start.as_ref().map_or(Vec::new(), |s| vec![0.0; s.len()]),
            start,
        }
    }

    /// The layout of the run.
    pub fn parallel(&self) -> &DataParallel {
        &self.parallel
    }

    /// After a shard's work: records its move of the statistics and restores the start.
    pub fn settle<B: AutodiffBackend>(&mut self, model: &FerModel<B>) {
        let Some(start) = &self.start else { return };
        let now = read_running(model);
        for ((m, n), s) in self.moved.iter_mut().zip(&now).zip(start) {
            *m += n - s;
        }
        write_running(model, start.clone(), &model.devices()[0]);
    }

    /// This process's statistics after the step.
    fn local<B: AutodiffBackend>(self, model: &FerModel<B>) -> Vec<f32> {
        let shards = self.parallel.shards_per_process() as f32;
        match self.start {
            Some(start) => start
                .iter()
                .zip(&self.moved)
                .map(|(s, m)| s + m / shards)
                .collect(),
            None => read_running(model),
        }
    }
}

/// Initialises every parameter of `model` that is still lazy, in visiting order.
///
/// Burn draws a parameter's initial value on its first use; a sharded step uses parameters
/// in another order than a whole-batch one (the running statistics are read first), so a
/// data-parallel run fixes the order before its first step, the same on every rank and for
/// every number of shards.
pub fn initialize<B: AutodiffBackend>(model: &FerModel<B>) {
    struct Initialize;
    impl<B: AutodiffBackend> ModuleVisitor<B> for Initialize {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let _ = param.val();
        }
    }
    model.visit(&mut Initialize);
}

/// Whether a visited float tensor is a running statistic (a [`burn::module::RunningState`]
/// is visited as a parameter that needs no gradient).
fn is_running<B: burn::tensor::backend::Backend, const D: usize>(
    param: &Param<Tensor<B, D>>,
) -> bool {
    !param.val().is_require_grad()
}

/// Applies the pending updates of the model's running statistics (Burn keeps a forward's
/// update aside until the next read on the same thread, or a record).
fn sync_running<B: AutodiffBackend>(model: &FerModel<B>) {
    let _ = model.clone().into_record();
}

/// The running statistics of `model`, flattened in visiting order.
fn read_running<B: AutodiffBackend>(model: &FerModel<B>) -> Vec<f32> {
    sync_running(model);
    let mut reader = RunningReader::<B> { parts: Vec::new() };
    model.visit(&mut reader);
    if reader.parts.is_empty() {
        return Vec::new();
    }
    Tensor::cat(reader.parts, 0)
        .into_data()
        .iter::<f32>()
        .collect()
}

/// Sets the running statistics of `model` (shared by its clones) to `values`.
fn write_running<B: AutodiffBackend>(model: &FerModel<B>, values: Vec<f32>, device: &B::Device) {
    if values.is_empty() {
        return;
    }
    sync_running(model);
    let len = values.len();
    let values = Tensor::<B, 1>::from_data(TensorData::new(values, [len]), device);
    // Running statistics live behind shared handles: mapping a clone sets the model's.
    let _ = model.clone().map(&mut RunningWriter { values, offset: 0 });
}

/// Collects the running statistics, flattened.
struct RunningReader<B: AutodiffBackend> {
    parts: Vec<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for RunningReader<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if is_running(param) {
            let t = param.val().inner();
            let n = t.shape().num_elements();
            self.parts.push(t.reshape([n]));
        }
    }
}

/// Replaces the running statistics by consecutive slices of `values`.
struct RunningWriter<B: AutodiffBackend> {
    values: Tensor<B, 1>,
    offset: usize,
}

impl<B: AutodiffBackend> ModuleMapper<B> for RunningWriter<B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        if !is_running(&param) {
            return param;
        }
        let dims = param.val().dims();
        let n: usize = dims.iter().product();
        let value = self
            .values
            .clone()
            .slice(self.offset..self.offset + n)
            .reshape(dims);
        self.offset += n;
        Param::initialized(param.id, value)
    }
}

/// Collects the gradients of the parameters that have one, flattened.
struct GradReader<'a, B: AutodiffBackend> {
    grads: &'a B::Gradients,
    parts: Vec<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradReader<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(grad) = param.val().grad(self.grads) {
            let n = grad.shape().num_elements();
            self.parts.push(grad.reshape([n]));
        }
    }
}

/// Replaces the gradients [`GradReader`] read by consecutive slices of `values`.
struct GradWriter<'a, B: AutodiffBackend> {
    grads: &'a mut B::Gradients,
    values: Tensor<B::InnerBackend, 1>,
    offset: usize,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradWriter<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let tensor = param.val();
        if tensor.grad(self.grads).is_some() {
            let dims = tensor.dims();
            let n: usize = dims.iter().product();
            let grad = self
                .values
                .clone()
                .slice(self.offset..self.offset + n)
                .reshape(dims);
            self.offset += n;
            tensor.grad_replace(self.grads, grad);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_batch_in_order_with_sizes_within_one() {
        let p = DataParallel::virtual_shards(3);
        let ranges = p.shard_ranges(10);
        assert_eq!(ranges, vec![0..3, 3..6, 6..10]);
        assert_eq!(p.local_ranges(10), ranges);
        assert_eq!(p.local_span(10), 0..10);
        assert_eq!(p.min_batch(), 6);
    }

    #[test]
    fn a_framed_checkpoint_reads_back_part_by_part() {
        let c = Checkpoint {
            model: vec![1, 2],
            optimizer: vec![3],
            state: vec![],
        };
        assert_eq!(unframe(&frame(&c)), Some(c));
        assert_eq!(unframe(&[]), None);
    }
}
