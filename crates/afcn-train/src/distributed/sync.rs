//! What the processes of a data-parallel run keep in step: the gradients, summed over the
//! ranks, and the running batch-norm statistics, averaged over the shards; and the order in
//! which a sharded run draws the model's initial values.

use burn::{
    module::{Module, ModuleMapper, ModuleVisitor, Param},
    tensor::{Tensor, TensorData, backend::AutodiffBackend},
};

use super::DataParallel;
use crate::model::FerModel;

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

    /// Ends a step that is skipped: sets the running batch-norm statistics to their mean over
    /// all shards ([`RunningStats::reduce`] does it with the gradients otherwise). Nothing to
    /// do for a run of one shard.
    pub fn average<B: AutodiffBackend>(self, model: &FerModel<B>) {
        if self.parallel.shards() == 1 {
            return;
        }
        let parallel = self.parallel.clone();
        let ranks = parallel.ranks() as f32;
        let mut values = self.local(model);
        parallel.collective().sum_f32(&mut values);
        let values = values.iter().map(|v| v / ranks).collect();
        write_running(model, values, &model.devices()[0]);
    }

    /// Ends a step: sums `grads` over the ranks (each rank's loss is already weighted by its
    /// share of the global batch) and sets the running batch-norm statistics to their mean
    /// over all shards, with one host transfer each way for both. Nothing to do for a run of
    /// one shard.
    pub fn reduce<B: AutodiffBackend>(self, model: &FerModel<B>, grads: &mut B::Gradients) {
        if self.parallel.shards() == 1 {
            return;
        }
        let device = model.devices()[0].clone();
        let parallel = self.parallel.clone();
        let running = self.local(model);
        if parallel.ranks() == 1 {
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
        parallel.collective().sum_f32(&mut host);
        let ranks = parallel.ranks() as f32;
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

/// Initialises every parameter of `model` that is still lazy, in visiting order, when
/// `parallel` has more than one shard.
///
/// Burn draws a parameter's initial value on its first use; a sharded step uses parameters
/// in another order than a whole-batch one (the running statistics are read first), so a run
/// of several shards fixes the order before its first step, the same on every rank and for
/// every number of shards. A run of one shard draws them in the order of its first forward.
pub fn initialize<B: AutodiffBackend>(parallel: &DataParallel, model: &FerModel<B>) {
    if parallel.shards() == 1 {
        return;
    }
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
