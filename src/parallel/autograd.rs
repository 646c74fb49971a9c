//! Collectives that take part in back-propagation, each with its dual as its backward, as
//! FastFold defines them for dynamic axial parallelism (`fastfold/distributed/comm.py`, used by
//! HelixFold's `distributed/dap.py`):
//!
//! | forward                                   | backward                                |
//! |-------------------------------------------|-----------------------------------------|
//! | `scatter(x, d)`: this rank's block along d | `gather(g, d)`                          |
//! | `gather(x, d)`: all blocks along d         | `split(g, d)`: this rank's block        |
//! | `all_gather(x, d)`: all blocks along d     | `reduce_scatter(g, d)`: this rank's block of the sum |
//! | `reduce(x)`: all-reduce sum                | identity                                |
//! | `copy(x)`: identity                        | all-reduce sum                          |
//! | `all_to_all(x, i, o)`: split i, concat o   | `all_to_all(g, o, i)`                   |
//!
//! tch 0.24 exposes no custom autograd Function (Python's `torch.autograd.Function`), and a
//! backward that communicates cannot be written with differentiable local operations. So the
//! collectives here cut the graph: the result is a new leaf, and a [`CommTape`] records
//! `(input, leaf, dual)`. [`CommTape::backward`] back-propagates the loss, then walks the
//! records from last to first: the dual of the leaf's gradient is back-propagated into the
//! input's graph (as `Σ input · dual(grad)`), which reaches earlier leaves only, so each leaf's
//! gradient is complete when its turn comes. Every rank walks the same records in the same
//! order, so the duals' collectives match up. A stack recorded for recomputation
//! (`model::recompute`) leaves a mark on the tape, where [`CommTape::backward_replaying`]
//! replays it. The graph is kept through these passes
//! (`keep_graph`), since the segments may share nodes; it is freed with the tensors.
//!
//! `gather` suits a stack's exit, where every rank goes on with the same full tensor and the
//! same loss, so each rank's gradient of it is already the whole one; `all_gather` (HelixFold's
//! `all_gather` with its `all_gather_opp` dual) suits a full operand used by each rank's own
//! shard of the computation (the pair bias, the right-hand operands), whose gradient is the
//! sum of the ranks' partial ones.
//!
//! The plain forms ([`split`], [`gather`], [`reduce_scatter`], [`all_to_all`]) move dimension
//! `d` to the front for [`ProcessGroup`]'s dimension-0 collectives, and the tensors to the
//! group's device and back ([`ProcessGroup::device`]): through host memory for a Gloo group,
//! nowhere for an NCCL group on the rank's own GPU. A tape holds its groups by
//! `Arc`, so it can outlive the caller's borrows (e.g. in [`super::sharding`]'s thread-local).
use super::process_group::{ProcessGroup, ReduceOp};
use anyhow::{anyhow, ensure, Context, Result};
use std::sync::Arc;
use tch::{Kind, Tensor};

/// A dimension index that may count from the end (`-1` is the last).
fn axis(tensor: &Tensor, dim: i64) -> Result<i64> {
    let rank = tensor.dim() as i64;
    let resolved = if dim < 0 { dim + rank } else { dim };
    ensure!((0..rank).contains(&resolved), "dimension {dim} is outside a tensor of shape {:?}", tensor.size());
    Ok(resolved)
}

fn block_size(group: &ProcessGroup, tensor: &Tensor, dim: i64) -> Result<i64> {
    let length = tensor.size()[dim as usize];
    let ranks = group.size() as i64;
    ensure!(length % ranks == 0, "dimension {dim} of {:?} does not split into {ranks} equal blocks", tensor.size());
    Ok(length / ranks)
}

/// The sum over ranks of `tensor` (any shape).
fn sum_over_ranks(group: &ProcessGroup, tensor: &Tensor) -> Result<Tensor> {
    group.on_own_device(tensor, |t| group.all_reduce(t, ReduceOp::Sum))
}

/// This rank's block of `tensor` along `dim` (`[.., D, ..]` → `[.., D/W, ..]`), no communication.
pub fn split(group: &ProcessGroup, tensor: &Tensor, dim: i64) -> Result<Tensor> {
    let dim = axis(tensor, dim)?;
    let size = block_size(group, tensor, dim)?;
    Ok(tensor.narrow(dim, group.rank() as i64 * size, size).contiguous())
}

/// Every rank's `tensor` concatenated along `dim` in rank order (`[.., D, ..]` → `[.., W·D, ..]`).
pub fn gather(group: &ProcessGroup, tensor: &Tensor, dim: i64) -> Result<Tensor> {
    let dim = axis(tensor, dim)?;
    let gathered = group.on_own_device(&tensor.transpose(0, dim), |t| group.all_gather(t))?;
    Ok(gathered.transpose(0, dim).contiguous())
}

/// This rank's block along `dim` of the sum over ranks of `tensor` (`[.., W·D, ..]` → `[.., D, ..]`).
pub fn reduce_scatter(group: &ProcessGroup, tensor: &Tensor, dim: i64) -> Result<Tensor> {
    let dim = axis(tensor, dim)?;
    block_size(group, tensor, dim)?;
    let reduced = group.on_own_device(&tensor.transpose(0, dim).contiguous(), |t| group.reduce_scatter(t, ReduceOp::Sum))?;
    Ok(reduced.transpose(0, dim).contiguous())
}

/// Splits `tensor` into `W` blocks along `in_dim`, sends block `j` to rank `j`, and concatenates
/// the received blocks along `out_dim` in rank order (FastFold's `_all_to_all`: with
/// `in_dim = 1, out_dim = 2`, `[B, I, J/W·..]`-style row shards become column shards).
pub fn all_to_all(group: &ProcessGroup, tensor: &Tensor, in_dim: i64, out_dim: i64) -> Result<Tensor> {
    let in_dim = axis(tensor, in_dim)?;
    let out_dim = axis(tensor, out_dim)?;
    block_size(group, tensor, in_dim)?;
    let blocks = tensor.chunk(group.size() as i64, in_dim);
    let stacked = Tensor::stack(&blocks, 0);
    let received = group.on_own_device(&stacked, |t| group.all_to_all(t))?;
    Ok(Tensor::cat(&received.unbind(0), out_dim))
}

/// The backward of one recorded collective.
#[derive(Debug, Clone, Copy)]
enum Dual {
    Gather { dim: i64 },
    Split { dim: i64 },
    ReduceScatter { dim: i64 },
    Identity,
    AllReduce,
    AllToAll { in_dim: i64, out_dim: i64 },
}

struct Collective {
    group: Arc<ProcessGroup>,
    input: Tensor,
    leaf: Tensor,
    dual: Dual,
}

/// One step of a sharded forward pass that its backward must undo in order.
enum Record {
    Collective(Collective),
    /// The `index`-th stack recorded for recomputation ([`crate::model::recompute`]) ended
    /// here: its leaves' gradients are complete once the later records are undone, and its
    /// replay pushes gradients into the earlier ones.
    RecomputedStack { index: usize },
}

/// The collectives of one forward pass, for [`CommTape::backward`].
#[derive(Default)]
pub struct CommTape {
    records: Vec<Record>,
}

impl std::fmt::Debug for CommTape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries: Vec<String> = self
            .records
            .iter()
            .map(|record| match record {
                Record::Collective(c) => format!("{:?}", c.dual),
                Record::RecomputedStack { index } => format!("RecomputedStack({index})"),
            })
            .collect();
        f.debug_struct("CommTape").field("records", &entries).finish()
    }
}

impl CommTape {
    pub fn new() -> Self {
        Self { records: Vec::new() }
    }

    /// Number of recorded collectives.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The forward result as a new leaf, recorded when `input` takes part in autograd.
    fn record(&mut self, group: &Arc<ProcessGroup>, input: &Tensor, output: Tensor, dual: Dual) -> Tensor {
        if !input.requires_grad() {
            return output;
        }
        let leaf = output.detach().set_requires_grad(true);
        self.records.push(Record::Collective(Collective {
            group: Arc::clone(group),
            input: input.shallow_clone(),
            leaf: leaf.shallow_clone(),
            dual,
        }));
        leaf
    }

    /// Marks the end of the `index`-th recomputed stack, so that [`CommTape::backward_replaying`]
    /// replays it between the collectives recorded after and before it.
    pub fn mark_recomputed_stack(&mut self, index: usize) {
        self.records.push(Record::RecomputedStack { index });
    }

    /// FastFold's `scatter`: this rank's block along `dim`; backward gathers the gradient.
    pub fn scatter(&mut self, group: &Arc<ProcessGroup>, input: &Tensor, dim: i64) -> Result<Tensor> {
        let output = tch::no_grad(|| split(group, input, dim))?;
        Ok(self.record(group, input, output, Dual::Gather { dim }))
    }

    /// FastFold's `gather`: all blocks along `dim`; backward keeps this rank's block.
    pub fn gather(&mut self, group: &Arc<ProcessGroup>, input: &Tensor, dim: i64) -> Result<Tensor> {
        let output = tch::no_grad(|| gather(group, input, dim))?;
        Ok(self.record(group, input, output, Dual::Split { dim }))
    }

    /// HelixFold's `all_gather`: all blocks along `dim`; backward sums the gradient over ranks
    /// and keeps this rank's block.
    pub fn all_gather(&mut self, group: &Arc<ProcessGroup>, input: &Tensor, dim: i64) -> Result<Tensor> {
        let output = tch::no_grad(|| gather(group, input, dim))?;
        Ok(self.record(group, input, output, Dual::ReduceScatter { dim }))
    }

    /// FastFold's `reduce`: the sum over ranks; backward passes the gradient through.
    pub fn reduce(&mut self, group: &Arc<ProcessGroup>, input: &Tensor) -> Result<Tensor> {
        let output = tch::no_grad(|| sum_over_ranks(group, input))?;
        Ok(self.record(group, input, output, Dual::Identity))
    }

    /// FastFold's `copy`: the input itself; backward sums the gradient over ranks.
    pub fn copy(&mut self, group: &Arc<ProcessGroup>, input: &Tensor) -> Result<Tensor> {
        let output = tch::no_grad(|| input.copy());
        Ok(self.record(group, input, output, Dual::AllReduce))
    }

    /// FastFold's `All_to_All`: split along `in_dim`, exchange, concatenate along `out_dim`;
    /// backward is the all-to-all with the dimensions swapped.
    pub fn all_to_all(&mut self, group: &Arc<ProcessGroup>, input: &Tensor, in_dim: i64, out_dim: i64) -> Result<Tensor> {
        let output = tch::no_grad(|| all_to_all(group, input, in_dim, out_dim))?;
        Ok(self.record(group, input, output, Dual::AllToAll { in_dim, out_dim }))
    }

    /// Back-propagates `loss` (a scalar) through the whole forward pass, collectives included.
    /// Every rank of every recorded group must call it. A tape with recomputed stacks needs
    /// [`CommTape::backward_replaying`].
    pub fn backward(self, loss: &Tensor) -> Result<()> {
        self.backward_replaying(loss, |index| {
            Err(anyhow!("recomputed stack {index} was recorded, but this backward pass cannot replay it"))
        })
    }

    /// [`CommTape::backward`] that calls `replay(index)` where the `index`-th recomputed stack
    /// was marked, so a stack's replay sees its output gradients complete and its input
    /// gradients reach the collectives before it.
    pub fn backward_replaying(self, loss: &Tensor, mut replay: impl FnMut(usize) -> Result<()>) -> Result<()> {
        backward_keeping_graph(loss).context("back-propagating the loss")?;
        for (index, record) in self.records.into_iter().enumerate().rev() {
            match record {
                Record::Collective(collective) => {
                    collective.backward().with_context(|| format!("undoing record {index}"))?
                }
                Record::RecomputedStack { index: stack } => replay(stack)?,
            }
        }
        Ok(())
    }
}

impl Collective {
    /// Back-propagates the dual of the leaf's gradient into the input's graph.
    fn backward(self) -> Result<()> {
        let gradient = self.leaf.grad();
        let gradient = if gradient.defined() { gradient } else { self.leaf.zeros_like() };
        let group = &*self.group;
        let input_gradient = tch::no_grad(|| match self.dual {
            Dual::Gather { dim } => gather(group, &gradient, dim),
            Dual::Split { dim } => split(group, &gradient, dim),
            Dual::ReduceScatter { dim } => reduce_scatter(group, &gradient, dim),
            Dual::Identity => Ok(gradient.shallow_clone()),
            Dual::AllReduce => sum_over_ranks(group, &gradient),
            Dual::AllToAll { in_dim, out_dim } => all_to_all(group, &gradient, out_dim, in_dim),
        })
        .context("the backward collective")?;
        let objective = (&self.input * input_gradient).sum(Kind::Float);
        backward_keeping_graph(&objective).context("back-propagating into the collective's input")
    }
}

/// `tensor.backward(retain_graph=True)`, which tch 0.24 does not wrap.
pub(crate) fn backward_keeping_graph(tensor: &Tensor) -> Result<()> {
    // SAFETY: `tensor` is a live tensor; libtch reports failures through its thread-local error
    // string, which is read and freed right after.
    unsafe {
        torch_sys::at_backward(tensor.as_ptr() as *mut _, 1, 0);
        let error = torch_sys::get_and_reset_last_err();
        if error.is_null() {
            return Ok(());
        }
        let message = std::ffi::CStr::from_ptr(error).to_string_lossy().into_owned();
        libc::free(error as *mut libc::c_void);
        Err(anyhow!("{message}"))
    }
}
