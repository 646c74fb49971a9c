//! The data-parallel gradient average overlapped with a backward pass, as PyTorch's
//! DistributedDataParallel does it (Li et al. (2020) "PyTorch Distributed", Sec. 3.2.3;
//! `torch/csrc/distributed/c10d/reducer.cpp`): hooks on the variables' gradient accumulators
//! ([`GradHooks`]) copy each gradient into its slice of a flat buffer `[P]` on the group's
//! device (host memory for Gloo, the rank's GPU for NCCL) as soon as the
//! backward pass has produced it, and every bucket of the buffer whose variables have all
//! reported is all-reduced at once ([`BucketTracker`], which also keeps the ranks' launch order
//! identical), while the backward pass goes on. [`OverlappedAverage::finish`], after the pass,
//! fills in the variables it did not reach (their gradient counts as zero, as DDP's
//! `find_unused_parameters`), launches the rest and waits.
//!
//! The reduced value is `(earlier + gradient) / examples`: `earlier` `[P]` is the sum of a
//! step's earlier examples' gradients, so an accumulated step's whole gradient travels in one
//! reduction, and each element goes through the same operations as in the post-backward
//! [`super::data_parallel::DataParallel::average_gradient`] of `(earlier + gradient) / examples`
//! (same additions, same division, the same bucket cuts): the two give the same bits.
//!
//! Bucket layout: buckets launch from the buffer's end (see [`BucketTracker::new`]). The first
//! reduction lays the buffer out as the flat gradient is (by variable name); it records the
//! order the gradients arrive in, the ranks adopt rank 0's, and later reductions lay the buffer
//! out in that order reversed, so the first gradients of a backward pass fill the first
//! buckets to leave (DDP rebuilds its buckets after the first iteration the same way). The
//! buffer is put back in the flat gradient's order after the reduction; the reduction is
//! elementwise, so the layout does not change any value's operations.
//!
//! One backward call per reduction: a variable reporting twice (a pass in several backward
//! calls that reach it more than once) is an error, since its bucket may have left already.
use super::gradient_buckets::{bucket_ranges, BucketTracker};
use super::grad_hooks::GradHooks;
use super::process_group::{PendingWork, ProcessGroup, ReduceOp};
use anyhow::{ensure, Context, Result};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};
use tch::Tensor;

/// A reduction in progress: the hooks are armed until [`OverlappedAverage::finish`] or drop.
pub struct OverlappedAverage {
    /// Declared first: dropped (removed) before the state they call into.
    hooks: Option<GradHooks>,
    state: Arc<Mutex<ReductionState>>,
}

struct ReductionState {
    /// Each variable and its offset in the flat gradient.
    variables: Vec<(Tensor, i64)>,
    /// Each variable's offset in `buffer`.
    positions: Vec<i64>,
    /// The variables in the order their gradients arrived.
    arrivals: Vec<usize>,
    /// The arrival order the group agreed on, shared by the reductions of one DP group.
    learned_order: Arc<Mutex<Option<Vec<usize>>>>,
    /// `[P]` the earlier examples' summed gradient, on the training device.
    earlier: Tensor,
    examples: f64,
    /// `[P]` on the group's device: what the buckets send.
    buffer: Tensor,
    buckets: Vec<Range<i64>>,
    tracker: BucketTracker,
    group: Arc<ProcessGroup>,
    /// Launched buckets, in launch order.
    pending: Vec<(usize, PendingWork)>,
    /// The first failure inside a hook (hooks cannot return errors).
    error: Option<anyhow::Error>,
}

fn lock(state: &Mutex<ReductionState>) -> MutexGuard<'_, ReductionState> {
    // Nothing panics while holding the lock (failures are kept in `error`).
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ReductionState {
    /// Copies `(earlier + gradient) / examples` of `variable` into the buffer; a variable
    /// without gradient counts as zero.
    fn stage(&mut self, variable: usize) -> Result<()> {
        let (tensor, offset) = &self.variables[variable];
        let numel = tensor.numel() as i64;
        let grad = tensor.grad();
        let grad = if grad.defined() { grad.f_reshape([-1])? } else { tensor.f_zeros_like()?.f_reshape([-1])? };
        let piece = self.earlier.f_narrow(0, *offset, numel)?.f_add(&grad)?.f_div_scalar(self.examples)?;
        self.buffer.f_narrow(0, self.positions[variable], numel)?.f_copy_(&piece)?;
        Ok(())
    }

    fn launch(&mut self, buckets: Vec<usize>) -> Result<()> {
        for bucket in buckets {
            let range = &self.buckets[bucket];
            let slice = self.buffer.f_narrow(0, range.start, range.end - range.start)?;
            let work = self.group.all_reduce_async(&slice, ReduceOp::Average).with_context(|| format!("launching gradient bucket {bucket}"))?;
            self.pending.push((bucket, work));
        }
        Ok(())
    }

    fn on_ready(&mut self, variable: usize) {
        if self.error.is_some() {
            return;
        }
        self.arrivals.push(variable);
        let reported = self
            .stage(variable)
            .with_context(|| format!("copying the gradient of variable {variable}"))
            .and_then(|()| self.tracker.report(variable))
            .and_then(|buckets| self.launch(buckets));
        if let Err(error) = reported {
            self.error = Some(error);
        }
    }
}

impl OverlappedAverage {
    /// Arms hooks on `variables` (each with its offset in the flat gradient `[P]`, covering it
    /// in order) for the next backward pass; their gradient plus `earlier` `[P]`, divided by
    /// `examples`, is averaged over `group` in buckets of `bucket_elements`.
    /// `learned_order`: the arrival order the group agreed on (set by the first reduction).
    pub fn start(
        group: Arc<ProcessGroup>,
        bucket_elements: i64,
        variables: Vec<(Tensor, i64)>,
        earlier: &Tensor,
        examples: f64,
        learned_order: Arc<Mutex<Option<Vec<usize>>>>,
    ) -> Result<Self> {
        let total = earlier.size().first().copied().unwrap_or(0);
        let buckets = bucket_ranges(total, bucket_elements);
        let sizes: Vec<i64> = variables.iter().map(|(tensor, _)| tensor.numel() as i64).collect();
        let positions = match lock_order(&learned_order).as_deref() {
            Some(order) if order.len() == variables.len() => positions_in_reverse(order, &sizes),
            _ => variables.iter().map(|(_, offset)| *offset).collect(),
        };
        let ranges: Vec<Range<i64>> = positions.iter().zip(&sizes).map(|(&at, &size)| at..at + size).collect();
        let tracker = BucketTracker::new(&ranges, &buckets);
        let handles: Vec<Tensor> = variables.iter().map(|(tensor, _)| tensor.shallow_clone()).collect();
        // On the group's device: host memory for Gloo, the rank's GPU for NCCL.
        let buffer = Tensor::zeros([total], (tch::Kind::Float, group.device()));
        let state = Arc::new(Mutex::new(ReductionState {
            variables,
            positions,
            arrivals: Vec::new(),
            learned_order,
            earlier: earlier.shallow_clone(),
            examples,
            buffer,
            buckets,
            tracker,
            group,
            pending: Vec::new(),
            error: None,
        }));
        let hooked = Arc::clone(&state);
        let hooks = GradHooks::install(&handles, move |variable| lock(&hooked).on_ready(variable))?;
        Ok(Self { hooks: Some(hooks), state })
    }

    /// Buckets launched so far (during the backward pass, before [`OverlappedAverage::finish`]).
    pub fn launched_buckets(&self) -> usize {
        lock(&self.state).pending.len()
    }

    /// After the backward pass: counts the variables it did not reach, launches the remaining
    /// buckets, waits for all, and returns the average `[P]` on `earlier`'s device.
    pub fn finish(mut self) -> Result<Tensor> {
        self.hooks = None;
        let mut state = lock(&self.state);
        if let Some(error) = state.error.take() {
            return Err(error.context("in a gradient hook during the backward pass"));
        }
        for variable in state.tracker.unreported() {
            state.stage(variable).with_context(|| format!("copying the gradient of unreached variable {variable}"))?;
        }
        let rest = state.tracker.finish();
        state.launch(rest)?;
        let mut reduced: Vec<Option<Tensor>> = (0..state.buckets.len()).map(|_| None).collect();
        for (bucket, work) in std::mem::take(&mut state.pending) {
            reduced[bucket] = Some(work.wait().with_context(|| format!("all-reducing gradient bucket {bucket}"))?);
        }
        let device = state.earlier.device();
        let reduced: Vec<Tensor> = reduced.into_iter().collect::<Option<_>>().context("a gradient bucket was never launched")?;
        let averaged = if reduced.is_empty() { state.buffer.shallow_clone() } else { Tensor::cat(&reduced, 0) };
        let averaged = state.in_flat_order(&averaged)?;
        state.agree_on_arrival_order()?;
        Ok(averaged.to_device(device))
    }
}

impl ReductionState {
    /// `buffer` `[P]` laid out by `positions`, rearranged into the flat gradient's order.
    fn in_flat_order(&self, buffer: &Tensor) -> Result<Tensor> {
        if self.variables.iter().zip(&self.positions).all(|((_, offset), position)| offset == position) {
            return Ok(buffer.shallow_clone());
        }
        let flat = buffer.f_empty_like()?;
        for ((tensor, offset), &position) in self.variables.iter().zip(&self.positions) {
            let numel = tensor.numel() as i64;
            flat.f_narrow(0, *offset, numel)?.f_copy_(&buffer.f_narrow(0, position, numel)?)?;
        }
        Ok(flat)
    }

    /// After the first reduction: every rank adopts rank 0's arrival order (the variables
    /// never reached at the end, by index), for the buffer layout of the next ones.
    fn agree_on_arrival_order(&mut self) -> Result<()> {
        if lock_order(&self.learned_order).is_some() {
            return Ok(());
        }
        let mut order = std::mem::take(&mut self.arrivals);
        let mut seen = vec![false; self.variables.len()];
        order.iter().for_each(|&variable| seen[variable] = true);
        order.extend((0..self.variables.len()).filter(|&variable| !seen[variable]));
        let mine: Vec<i64> = order.iter().map(|&variable| variable as i64).collect();
        let agreed = self
            .group
            .on_own_device(&Tensor::from_slice(&mine), |mine| self.group.broadcast(mine, 0))
            .context("agreeing on the gradients' arrival order")?;
        let agreed: Vec<i64> = Vec::<i64>::try_from(&agreed).context("reading the agreed arrival order")?;
        let agreed: Vec<usize> = agreed.into_iter().filter_map(|variable| usize::try_from(variable).ok()).collect();
        let mut sorted = agreed.clone();
        sorted.sort_unstable();
        ensure!(sorted.into_iter().eq(0..self.variables.len()), "rank 0's arrival order is not an order of this rank's variables");
        *lock_order(&self.learned_order) = Some(agreed);
        Ok(())
    }
}

fn lock_order(order: &Mutex<Option<Vec<usize>>>) -> MutexGuard<'_, Option<Vec<usize>>> {
    order.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Buffer offsets that put the variables in `order` reversed: the first to arrive at the end,
/// in the buckets that launch first. `sizes`: each variable's element count.
fn positions_in_reverse(order: &[usize], sizes: &[i64]) -> Vec<i64> {
    let mut positions = vec![0; sizes.len()];
    let mut next = 0;
    for &variable in order.iter().rev() {
        positions[variable] = next;
        next += sizes[variable];
    }
    positions
}

#[cfg(all(test, not(helixfold_no_gloo)))]
mod tests {
    use super::*;
    use crate::parallel::data_parallel::DataParallel;
    use crate::parallel::sharding::single_rank_group;
    use tch::{Device, Kind};

    /// Variables `unused` [0,4), `a` [4,7), `b` [7,9) in buckets of 3: [0,3) [3,6) [6,9).
    struct Setup {
        unused: Tensor,
        a: Tensor,
        b: Tensor,
        earlier: Tensor,
    }

    impl Setup {
        fn new() -> Self {
            let variable = |values: &[f32]| Tensor::from_slice(values).set_requires_grad(true);
            Self {
                unused: variable(&[1.0, 2.0, 3.0, 4.0]),
                a: variable(&[0.5, -1.5, 2.5]),
                b: variable(&[3.0, -0.25]),
                earlier: Tensor::arange(9, (Kind::Float, Device::Cpu)) * 0.1,
            }
        }

        fn variables(&self) -> Vec<(Tensor, i64)> {
            vec![(self.unused.shallow_clone(), 0), (self.a.shallow_clone(), 4), (self.b.shallow_clone(), 7)]
        }

        fn loss(&self) -> Tensor {
            (&self.a * &self.a).sum(Kind::Float) * 0.3 + (&self.b * 7.0).sum(Kind::Float) + (&self.a * 1.1).sum(Kind::Float)
        }
    }

    /// The bucket of `a` and `b` leaves during the backward pass, the one holding part of the
    /// unused variable only at the end; the result has the bits of the post-backward average of
    /// `(earlier + gradient) / 2`, the unused variable's gradient counting as zero.
    #[test]
    fn buckets_leave_during_backward_and_the_result_matches_the_post_backward_average() {
        let group = single_rank_group();
        let setup = Setup::new();
        let reduction = OverlappedAverage::start(Arc::clone(&group), 3, setup.variables(), &setup.earlier, 2.0, Arc::default()).unwrap();
        assert_eq!(reduction.launched_buckets(), 0);
        setup.loss().backward();
        assert_eq!(reduction.launched_buckets(), 1, "bucket [6,9) holds a and b only");
        let overlapped = reduction.finish().unwrap();
        let gradient = Tensor::cat(&[setup.unused.zeros_like(), setup.a.grad(), setup.b.grad()], 0);
        let post_backward =
            DataParallel::new(group).with_bucket_elements(3).average_gradient(&((&setup.earlier + gradient) / 2.0)).unwrap();
        let bits = |t: &Tensor| Vec::<f32>::try_from(t).unwrap().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&overlapped), bits(&post_backward));
        // d/da (0.3 a² + 1.1 a) = 0.6 a + 1.1 at a = 0.5: 1.4; (0.4 + 1.4) / 2 = 0.9.
        assert!((overlapped.double_value(&[4]) - 0.9).abs() < 1e-6);
    }

    /// The first reduction records the arrival order (the unused variable last); the next one
    /// lays its buffer out in that order reversed and still gives the post-backward bits.
    #[test]
    fn later_reductions_lay_the_buffer_out_in_arrival_order() {
        let group = single_rank_group();
        let learned: Arc<Mutex<Option<Vec<usize>>>> = Arc::default();
        let bits = |t: &Tensor| Vec::<f32>::try_from(t).unwrap().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for round in 0..2 {
            let setup = Setup::new();
            let reduction =
                OverlappedAverage::start(Arc::clone(&group), 3, setup.variables(), &setup.earlier, 2.0, Arc::clone(&learned)).unwrap();
            setup.loss().backward();
            let overlapped = reduction.finish().unwrap();
            let gradient = Tensor::cat(&[setup.unused.zeros_like(), setup.a.grad(), setup.b.grad()], 0);
            let post_backward = DataParallel::new(Arc::clone(&group))
                .with_bucket_elements(3)
                .average_gradient(&((&setup.earlier + gradient) / 2.0))
                .unwrap();
            assert_eq!(bits(&overlapped), bits(&post_backward), "round {round}");
            let order = lock_order(&learned).clone().expect("the first reduction sets the order");
            assert_eq!(order.len(), 3);
            assert_eq!(order[2], 0, "the unused variable comes last: {order:?}");
        }
        let order = lock_order(&learned).clone().unwrap();
        let sizes = [4, 3, 2];
        let positions = positions_in_reverse(&order, &sizes);
        assert_eq!(positions[0], 0, "the last to arrive is laid out first");
        assert_eq!(positions[order[0]], 9 - sizes[order[0]], "the first to arrive is laid out last");
    }

    /// A second backward call reaching an already reported variable is an error, not a wrong
    /// sum.
    #[test]
    fn a_variable_reported_twice_is_an_error() {
        let setup = Setup::new();
        let reduction = OverlappedAverage::start(single_rank_group(), 3, setup.variables(), &setup.earlier, 1.0, Arc::default()).unwrap();
        setup.loss().backward();
        (&setup.b * 2.0).sum(Kind::Float).backward();
        let error = format!("{:#}", reduction.finish().unwrap_err());
        assert!(error.contains("twice"), "{error}");
    }
}
