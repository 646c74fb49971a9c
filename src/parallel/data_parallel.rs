//! Data parallelism (DP): every rank of a DP group holds the whole model and trains on its own
//! share of the examples; the ranks start from rank 0's parameters and average their gradients
//! before each update, so they stay identical (HelixFold's `distributed/dataparallel.py`:
//! `param_sync` broadcasts from rank 0, `grad_sync` all-reduces and scales by 1/nranks).
//!
//! Unlike HelixFold's per-parameter all-reduce, the gradient here is the trainer's flat
//! `[P]` buffer ([`crate::train::flat_parameters::FlatParameters::flat_gradient`]), reduced in
//! contiguous buckets (PyTorch DDP's 25 MiB default) that are all in flight at once, so Gloo
//! overlaps the buckets' transfers with each other. Two ways to launch them:
//! - after the backward pass ([`DataParallel::average_gradient`]), the only way when each
//!   example's gradient is clipped on its own (AlphaFold, Suppl. 1.11.3): a rank's clip scale
//!   is known only once its last backward pass has finished;
//! - during the last backward pass of a step ([`DataParallel::start_overlapped_average`],
//!   [`OverlappedAverage`]), as PyTorch DDP does: hooks on the gradient accumulators launch
//!   each bucket once its gradients exist, so communication overlaps the backward computation.
//!   The trainer uses it when the step's gradient is clipped as a whole after the average
//!   (HelixFold and OpenFold) or not at all, and its backward pass is one call: not with
//!   recomputation (the tape replays blocks in backward calls of their own) nor under DAP or BP
//!   (the gradient is summed over those groups after the pass), which fall back to the
//!   post-backward reduction. Both give the same bits.
//!
//! The tensors go to the group's device ([`ProcessGroup::device`]): an NCCL group reduces them
//! where they are, on the rank's GPU; Gloo reduces CPU tensors, so values on a CUDA device cross
//! through host memory.
//!
//! Sharding: a step over `k` examples per rank consumes `dp · k` examples of the stream, and
//! rank `r` takes the block `r·k..(r+1)·k`; with the per-example random streams seeded by that
//! global index, a DP step equals one process accumulating all `dp · k` examples.
use super::gradient_buckets::bucket_ranges;
use super::overlapped_reduction::OverlappedAverage;
use super::process_group::{PendingWork, ProcessGroup, ReduceOp};
use anyhow::{Context, Result};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use tch::Tensor;

/// Elements per gradient bucket: 25 MiB of fp32 (PyTorch DDP's `bucket_cap_mb` default).
pub const DEFAULT_BUCKET_ELEMENTS: i64 = 25 * 1024 * 1024 / 4;

/// A DP group and how it reduces gradients.
pub struct DataParallel {
    group: Arc<ProcessGroup>,
    bucket_elements: i64,
    /// The order the gradients arrived in during the first overlapped reduction, as rank 0 saw
    /// it: the buffer layout of the later ones ([`OverlappedAverage`]).
    arrival_order: Arc<Mutex<Option<Vec<usize>>>>,
}

impl DataParallel {
    /// Over `group`, owned or shared with the session's other users of the job's groups.
    pub fn new(group: impl Into<Arc<ProcessGroup>>) -> Self {
        Self { group: group.into(), bucket_elements: DEFAULT_BUCKET_ELEMENTS, arrival_order: Arc::default() }
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
        self.group.on_own_device(values, |values| self.group.broadcast(values, 0)).context("broadcasting rank 0's parameters")
    }

    /// `gradient` `[P]` averaged over the DP group, reduced in contiguous buckets after the
    /// backward pass that produced it.
    pub fn average_gradient(&self, gradient: &Tensor) -> Result<Tensor> {
        let total = gradient.size().first().copied().unwrap_or(0);
        let device = gradient.device();
        let flat = gradient.reshape([-1]).to_device(self.group.device());
        let pending = bucket_ranges(total, self.bucket_elements)
            .into_iter()
            .map(|bucket| self.group.all_reduce_async(&flat.narrow(0, bucket.start, bucket.end - bucket.start), ReduceOp::Average))
            .collect::<Result<Vec<PendingWork>>>()?;
        let buckets = pending
            .into_iter()
            .enumerate()
            .map(|(index, work)| work.wait().with_context(|| format!("all-reducing gradient bucket {index}")))
            .collect::<Result<Vec<_>>>()?;
        let averaged = if buckets.is_empty() { flat } else { Tensor::cat(&buckets, 0) };
        Ok(averaged.to_device(device))
    }

    /// Arms the average of `(earlier + g) / examples` over the group, where `g` is the gradient
    /// `[P]` of `variables` (each with its offset in `[P]`) that the next backward pass
    /// produces, reduced in the same buckets as [`DataParallel::average_gradient`] while the
    /// pass runs ([`OverlappedAverage`]); call [`OverlappedAverage::finish`] after the pass.
    pub fn start_overlapped_average(&self, variables: Vec<(Tensor, i64)>, earlier: &Tensor, examples: f64) -> Result<OverlappedAverage> {
        OverlappedAverage::start(Arc::clone(&self.group), self.bucket_elements, variables, earlier, examples, Arc::clone(&self.arrival_order))
    }

    /// This rank's examples of a step that starts at stream position `step_start` and gives
    /// every rank `per_rank` examples.
    pub fn shard(&self, step_start: u64, per_rank: usize) -> Range<u64> {
        let begin = step_start + (self.rank() * per_rank) as u64;
        begin..begin + per_rank as u64
    }
}
