//! The layout of a data-parallel run: its processes, the shards of each global batch, and the
//! collective calls of the trainer over them.

use std::{ops::Range, rc::Rc};

use super::collective::{Collective, Solo};
use crate::metrics::ConfusionMatrix;

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

    /// One process, one shard: a run that is not data-parallel, which every step and
    /// evaluation treats as the data-parallel run of one rank.
    pub fn solo() -> Self {
        Self::virtual_shards(1)
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

    /// Replaces `bytes` on every rank by rank 0's.
    pub fn broadcast_bytes(&self, bytes: &mut Vec<u8>) {
        self.collective.broadcast_bytes(bytes);
    }

    /// The samples of a split of `n` that this process evaluates: every `ranks()`-th chunk of
    /// `chunk` samples, in order (every sample in one process).
    pub fn evaluation_share(&self, n: usize, chunk: usize) -> Vec<usize> {
        (0..n)
            .filter(|i| (i / chunk) % self.ranks() == self.rank())
            .collect()
    }

    /// Replaces the counts of `confusion` by their sums over the ranks.
    pub fn sum_confusion(&self, confusion: &mut ConfusionMatrix) {
        let classes = confusion.counts.len().max(1);
        let mut counts: Vec<f64> = confusion
            .counts
            .iter()
            .flatten()
            .map(|&c| c as f64)
            .collect();
        self.collective.sum_f64(&mut counts);
        for (row, sums) in confusion.counts.iter_mut().zip(counts.chunks(classes)) {
            for (count, &sum) in row.iter_mut().zip(sums) {
                *count = sum as u64;
            }
        }
    }

    /// The collective calls under this layout.
    pub(super) fn collective(&self) -> &dyn Collective {
        self.collective.as_ref()
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

    /// Rank 1 of 2 ranks whose other rank holds the same values: sums are doubles.
    struct SecondOfTwins;

    impl Collective for SecondOfTwins {
        fn rank(&self) -> usize {
            1
        }
        fn ranks(&self) -> usize {
            2
        }
        fn sum_f32(&self, values: &mut [f32]) {
            values.iter_mut().for_each(|v| *v *= 2.0);
        }
        fn sum_f64(&self, values: &mut [f64]) {
            values.iter_mut().for_each(|v| *v *= 2.0);
        }
        fn gather_f32(&self, local: &[f32], _: &[usize]) -> Vec<f32> {
            [local, local].concat()
        }
        fn gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>> {
            vec![local.to_vec(); 2]
        }
        fn broadcast_bytes(&self, _: &mut Vec<u8>) {}
        fn abort(&self, code: i32) -> ! {
            std::process::exit(code)
        }
    }

    #[test]
    fn ranks_evaluate_alternate_chunks_and_sum_their_counts_cell_by_cell() {
        let solo = DataParallel::solo();
        assert_eq!(solo.evaluation_share(5, 2), vec![0, 1, 2, 3, 4]);
        let second = DataParallel::new(Rc::new(SecondOfTwins), 1);
        assert_eq!(second.evaluation_share(9, 2), vec![2, 3, 6, 7]);
        assert_eq!(second.local_ranges(10), vec![5..10]);

        let mut confusion = ConfusionMatrix::new(3);
        confusion.add(0, 0);
        confusion.add(2, 1);
        confusion.add(2, 1);
        let mut alone = confusion.clone();
        solo.sum_confusion(&mut alone);
        assert_eq!(alone, confusion);
        second.sum_confusion(&mut confusion);
        assert_eq!(
            confusion.counts,
            vec![vec![2, 0, 0], vec![0; 3], vec![0, 4, 0]]
        );
    }
}
