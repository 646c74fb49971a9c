//! Data parallelism (DP): every rank of a DP group holds the whole model and trains on its own
//! share of the examples; the ranks start from rank 0's parameters and average their gradients
//! before each update, so they stay identical (HelixFold's `distributed/dataparallel.py`:
//! `param_sync` broadcasts from rank 0, `grad_sync` all-reduces and scales by 1/nranks).
//!
//! Unlike HelixFold's per-parameter all-reduce, the gradient here is the trainer's flat
//! `[P]` buffer ([`crate::train::flat_parameters::FlatParameters::flat_gradient`]), reduced in
//! contiguous buckets (PyTorch DDP's 25 MiB default) that are all in flight at once, so Gloo
//! overlaps the buckets' transfers with each other. The flat gradient exists only after the
//! backward pass, so communication does not overlap the backward computation itself.
//!
//! The tensors go to the group's device ([`ProcessGroup::device`]): an NCCL group reduces them
//! where they are, on the rank's GPU; Gloo reduces CPU tensors, so values on a CUDA device cross
//! through host memory.
//!
//! Sharding: a step over `k` examples per rank consumes `dp · k` examples of the stream, and
//! rank `r` takes the block `r·k..(r+1)·k`; with the per-example random streams seeded by that
//! global index, a DP step equals one process accumulating all `dp · k` examples.
use super::process_group::{PendingWork, ProcessGroup, ReduceOp};
use anyhow::{Context, Result};
use std::ops::Range;
use std::sync::Arc;
use tch::Tensor;

/// Elements per gradient bucket: 25 MiB of fp32 (PyTorch DDP's `bucket_cap_mb` default).
pub const DEFAULT_BUCKET_ELEMENTS: i64 = 25 * 1024 * 1024 / 4;

/// A DP group and how it reduces gradients.
pub struct DataParallel {
    group: Arc<ProcessGroup>,
    bucket_elements: i64,
}

impl DataParallel {
    /// Over `group`, owned or shared with the session's other users of the job's groups.
    pub fn new(group: impl Into<Arc<ProcessGroup>>) -> Self {
        Self { group: group.into(), bucket_elements: DEFAULT_BUCKET_ELEMENTS }
    }

    /// Reduces gradients in buckets of `elements` (at least 1).
    pub fn with_bucket_elements(mut self, elements: i64) -> Self {
        self.bucket_elements = elements.max(1);
        self
    }

    pub fn group(&self) -> &ProcessGroup {
        &self.group
    }

    /// This rank's index in the DP group.
    pub fn rank(&self) -> usize {
        self.group.rank()
    }

    /// The DP degree.
    pub fn degree(&self) -> usize {
        self.group.size()
    }

    /// Rank 0's `values` (e.g. the flat parameters `[P]`), for every rank to start from.
    pub fn broadcast_from_first(&self, values: &Tensor) -> Result<Tensor> {
        let first = self.group.broadcast(&values.to_device(self.group.device()), 0).context("broadcasting rank 0's parameters")?;
        Ok(first.to_device(values.device()))
    }

    /// `gradient` `[P]` averaged over the DP group, reduced in contiguous buckets.
    pub fn average_gradient(&self, gradient: &Tensor) -> Result<Tensor> {
        let total = gradient.size().first().copied().unwrap_or(0);
        let device = gradient.device();
        let flat = gradient.reshape([-1]).to_device(self.group.device());
        let mut pending: Vec<PendingWork> = Vec::new();
        let mut start = 0;
        while start < total {
            let length = self.bucket_elements.min(total - start);
            pending.push(self.group.all_reduce_async(&flat.narrow(0, start, length), ReduceOp::Average)?);
            start += length;
        }
        let buckets = pending
            .into_iter()
            .enumerate()
            .map(|(index, work)| work.wait().with_context(|| format!("all-reducing gradient bucket {index}")))
            .collect::<Result<Vec<_>>>()?;
        let averaged = if buckets.is_empty() { flat } else { Tensor::cat(&buckets, 0) };
        Ok(averaged.to_device(device))
    }

    /// This rank's examples of a step that starts at stream position `step_start` and gives
    /// every rank `per_rank` examples.
    pub fn shard(&self, step_start: u64, per_rank: usize) -> Range<u64> {
        let begin = step_start + (self.rank() * per_rank) as u64;
        begin..begin + per_rank as u64
    }
}
