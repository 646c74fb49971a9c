//! The process groups a forward pass is sharded over (dynamic axial parallelism, DAP, and
//! branch parallelism, BP; see [`super::layout`]), made active on the current thread while the
//! pass runs, so that model code reaches them without a group argument in every signature, as
//! FastFold's and HelixFold's global communication groups do (`fastfold/distributed/core.py`,
//! HelixFold's `distributed/comm_group.py` `scg`).
//!
//! [`run_sharded`] installs the groups and a fresh [`CommTape`] thread-locally, runs the pass and
//! returns the tape of every collective recorded inside, for [`CommTape::backward`]. Model code
//! runs infallible tensor maths (`-> Tensor`), so a collective failing inside it (a dead peer, a
//! timeout) panics with a [`CollectiveFailure`] naming the collective and the cause;
//! [`run_sharded`] catches it and returns it as an error, so no panic leaves the pass.
use super::autograd::CommTape;
use super::process_group::ProcessGroup;
use crate::panics::{catch_unwind_quietly, describe_panic};
use anyhow::{anyhow, ensure, Result};
use std::cell::RefCell;
use std::sync::Arc;
use tch::Tensor;

/// The groups one forward pass is sharded over; `None` for an axis that is not split.
#[derive(Clone, Default)]
pub struct ShardingGroups {
    /// Dynamic axial parallelism: the Evoformer-like stacks' activations split along one axis.
    pub dap: Option<Arc<ProcessGroup>>,
    /// Branch parallelism: an Evoformer block's MSA and pair branches on two ranks.
    pub bp: Option<Arc<ProcessGroup>>,
}

impl ShardingGroups {
    /// Whether a pass runs split over any group.
    pub fn is_sharded(&self) -> bool {
        self.dap.is_some() || self.bp.is_some()
    }

    /// Groups for DAP alone.
    pub fn dap(group: Arc<ProcessGroup>) -> Self {
        Self { dap: Some(group), bp: None }
    }
}

impl std::fmt::Debug for ShardingGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let degree = |g: &Option<Arc<ProcessGroup>>| g.as_ref().map(|g| g.size());
        f.debug_struct("ShardingGroups").field("dap", &degree(&self.dap)).field("bp", &degree(&self.bp)).finish()
    }
}

/// The panic payload of a collective that failed inside model code; [`run_sharded`] turns it
/// back into its error.
#[derive(Debug)]
pub struct CollectiveFailure(pub anyhow::Error);

struct Active {
    groups: ShardingGroups,
    tape: CommTape,
}

thread_local! {
    static ACTIVE: RefCell<Option<Active>> = const { RefCell::new(None) };
}

/// Removes the active state when dropped, so that it is gone however `run_sharded` leaves.
struct Installed;

impl Installed {
    fn take(self) -> Option<Active> {
        ACTIVE.with(|a| a.borrow_mut().take())
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.borrow_mut().take());
    }
}

/// Runs `f` with `groups` active on this thread and returns its result with the tape of the
/// collectives recorded inside. A panic inside `f` (a failed collective, or a libtorch error)
/// comes back as an error. Passes do not nest.
pub fn run_sharded<T>(groups: &ShardingGroups, f: impl FnOnce() -> T) -> Result<(T, CommTape)> {
    ensure!(!is_active(), "a sharded forward pass is already running on this thread");
    ACTIVE.with(|a| *a.borrow_mut() = Some(Active { groups: groups.clone(), tape: CommTape::new() }));
    let installed = Installed;
    let outcome = catch_unwind_quietly(f);
    let active = installed.take();
    match outcome {
        Ok(value) => {
            let tape = active.map(|a| a.tape).unwrap_or_default();
            Ok((value, tape))
        }
        Err(panic) => Err(match panic.downcast::<CollectiveFailure>() {
            Ok(failure) => {
                let CollectiveFailure(error) = *failure;
                error
            }
            Err(other) => anyhow!("{}", describe_panic(&*other)),
        }),
    }
}

/// Whether a sharded pass is running on this thread.
pub fn is_active() -> bool {
    ACTIVE.with(|a| a.borrow().is_some())
}

/// The groups of the pass running on this thread, if any.
pub fn active_groups() -> Option<ShardingGroups> {
    ACTIVE.with(|a| a.borrow().as_ref().map(|active| active.groups.clone()))
}

/// Marks the end of the `index`-th recomputed stack on the active pass's tape (no-op outside a
/// sharded pass); see [`CommTape::backward_replaying`].
pub fn mark_recomputed_stack(index: usize) {
    ACTIVE.with(|a| {
        if let Some(active) = a.borrow_mut().as_mut() {
            active.tape.mark_recomputed_stack(index);
        }
    });
}

/// The active DAP group, if the running pass is sharded along an axis.
pub fn dap() -> Option<Arc<ProcessGroup>> {
    ACTIVE.with(|a| a.borrow().as_ref().and_then(|active| active.groups.dap.clone()))
}

/// The active BP group, if the running pass splits the Evoformer's branches.
pub fn bp() -> Option<Arc<ProcessGroup>> {
    ACTIVE.with(|a| a.borrow().as_ref().and_then(|active| active.groups.bp.clone()))
}

/// Runs `collective` on the active pass's tape; its failure (or the absence of an active pass)
/// panics with a [`CollectiveFailure`] naming `name`, for [`run_sharded`] to report. For model
/// code, e.g. `record("bp copy", |tape| tape.copy(&group, &x))`.
pub fn record<T>(name: &str, collective: impl FnOnce(&mut CommTape) -> Result<T>) -> T {
    let outcome = ACTIVE.with(|a| match a.borrow_mut().as_mut() {
        Some(active) => collective(&mut active.tape),
        None => Err(anyhow!("no sharded forward pass is active on this thread")),
    });
    outcome.unwrap_or_else(|error| std::panic::panic_any(CollectiveFailure(error.context(format!("collective {name}")))))
}

fn dap_group(name: &str) -> Arc<ProcessGroup> {
    dap().unwrap_or_else(|| {
        std::panic::panic_any(CollectiveFailure(anyhow!("collective {name}: no DAP group is active on this thread")))
    })
}

/// FastFold's `scatter` over the DAP group: this rank's block of `x` along `dim`.
pub fn dap_scatter(x: &Tensor, dim: i64) -> Tensor {
    let group = dap_group("DAP scatter");
    record("DAP scatter", |tape| tape.scatter(&group, x, dim))
}

/// FastFold's `gather` over the DAP group (a stack's exit): every block of `x` along `dim`;
/// backward keeps this rank's block of the (identical) full gradient.
pub fn dap_gather(x: &Tensor, dim: i64) -> Tensor {
    let group = dap_group("DAP gather");
    record("DAP gather", |tape| tape.gather(&group, x, dim))
}

/// HelixFold's `all_gather` over the DAP group (an operand every shard uses): every block of
/// `x` along `dim`; backward sums the ranks' partial gradients and keeps this rank's block.
pub fn dap_all_gather(x: &Tensor, dim: i64) -> Tensor {
    let group = dap_group("DAP all_gather");
    record("DAP all_gather", |tape| tape.all_gather(&group, x, dim))
}

/// All-to-all over the DAP group: `x` split along `in_dim`, blocks exchanged, concatenated
/// along `out_dim` (e.g. a row shard `[N/W, N, c]` to a column shard with `in_dim = 1, out_dim = 0`).
pub fn dap_all_to_all(x: &Tensor, in_dim: i64, out_dim: i64) -> Tensor {
    let group = dap_group("DAP all_to_all");
    record("DAP all_to_all", |tape| tape.all_to_all(&group, x, in_dim, out_dim))
}

/// A Gloo group of this process alone (its collectives are identities), for unit tests of the
/// sharded code paths.
#[cfg(test)]
pub(crate) fn single_rank_group() -> Arc<ProcessGroup> {
    use super::process_group::{Backend, Store};
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let timeout = std::time::Duration::from_secs(20);
    let store = Store::connect("127.0.0.1", port, 1, true, timeout).unwrap();
    Arc::new(ProcessGroup::new(Backend::Gloo, &store, 0, 1, "127.0.0.1", timeout).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// The groups are visible inside the pass only, the tape holds the collectives of inputs
    /// that need a gradient, and a failure inside (here: a dimension out of range)
    /// comes back as an error naming the collective, with the state removed.
    #[test]
    fn groups_are_active_inside_the_pass_only() {
        let group = single_rank_group();
        let groups = ShardingGroups::dap(Arc::clone(&group));
        assert!(dap().is_none() && !is_active());
        let x = Tensor::arange(6, (Kind::Float, Device::Cpu)).view([2, 3]).set_requires_grad(true);
        let (y, tape) = run_sharded(&groups, || {
            assert!(is_active() && dap().is_some() && bp().is_none());
            let rows = dap_scatter(&x, 0);
            let exchanged = dap_all_to_all(&rows, 1, 0);
            let untracked = dap_all_gather(&x.detach(), 1);
            assert!(!untracked.requires_grad());
            dap_gather(&exchanged, 1) * 2.0
        })
        .unwrap();
        assert!(!is_active() && dap().is_none());
        assert_eq!(tape.len(), 3);
        assert!(y.equal(&(x.detach() * 2.0)));
        tape.backward(&y.sum(Kind::Float)).unwrap();
        assert!(x.grad().equal(&Tensor::full([2, 3], 2.0, (Kind::Float, Device::Cpu))));

        let odd = Tensor::ones([3], (Kind::Float, Device::Cpu));
        let two = ShardingGroups::dap(group);
        let error = run_sharded(&two, || dap_all_to_all(&odd.view([1, 3]), 0, 5)).unwrap_err();
        assert!(format!("{error:#}").contains("collective DAP all_to_all"), "{error:#}");
        assert!(!is_active());
        let error = run_sharded(&ShardingGroups::default(), || dap_scatter(&odd, 0)).unwrap_err();
        assert!(format!("{error:#}").contains("no DAP group"), "{error:#}");
        let nested = run_sharded(&ShardingGroups::default(), || run_sharded(&ShardingGroups::default(), || ()).is_err());
        assert!(nested.unwrap().0);
    }

    /// A panic that is not a collective's (libtorch's own) is reported as `describe_panic` does.
    #[test]
    fn other_panics_become_errors() {
        let a = Tensor::zeros([2], (Kind::Float, Device::Cpu));
        let error = run_sharded(&ShardingGroups::default(), || a.matmul(&Tensor::zeros([3], (Kind::Float, Device::Cpu))))
            .unwrap_err();
        assert!(error.to_string().starts_with("internal error: "), "{error}");
        assert!(!is_active());
    }
}
