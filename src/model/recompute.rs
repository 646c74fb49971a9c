//! Activation recomputation ("gradient checkpointing", Chen et al. (2016) "Training Deep Nets
//! with Sublinear Memory Cost"), as HelixFold (Wang et al. (2022) "HelixFold: An Efficient
//! Implementation of AlphaFold2 using PaddlePaddle", arXiv:2207.05477, memory optimisation by
//! "Recompute") applies it to the Evoformer blocks: the forward pass keeps only each block's
//! input, and the backward pass recomputes the block from it to get the activations its gradient
//! needs, at the cost of one more forward pass of every block. With `RuntimeOptions::recompute`
//! the trunk records its three stacks this way: the template pair stack, the extra-MSA stack and
//! the Evoformer stack (on CPU, 8 Evoformer blocks of width 32 on 96 residues and 16 sequences:
//! training-step peak RSS growth 573 MiB instead of 1040 MiB).
//!
//! libtorch's C API, as tch exposes it, has neither `torch.utils.checkpoint` nor custom autograd
//! functions, so recomputation is a tape kept beside the autograd graph:
//!
//! - Forward ([`RecomputeTape::run_stack`]): when recording, a stack's blocks run under `no_grad`
//!   and each block's input is saved; the stack's outputs are handed to the rest of the network
//!   as fresh leaves (detached, `requires_grad`), so the caller's graph ends there.
//! - Backward ([`RecomputeTape::backward`]), after the caller's `loss.backward()` has filled the
//!   leaves' gradients: segments are replayed in reverse creation order; for each block, last to
//!   first, the block is recomputed with gradients from its saved input (detached,
//!   `requires_grad`) and the incoming output gradient `g` is back-propagated as the
//!   vector-Jacobian product `sum(out * g)`, which accumulates the block's parameter gradients and
//!   yields the gradient of its input for the previous block. The first block's input gradient is
//!   pushed the same way into the graph that produced the stack's input (embedders, or an earlier
//!   segment's leaves, which is why the order is reversed).
//!
//! Under dynamic axial or branch parallelism (`parallel::sharding`) the blocks' collectives cut
//! the graph too, so the two tapes are walked as one ([`RecomputeTape::backward_sharded`]): the
//! sharded pass's collective tape marks where each recorded stack ended, its records are undone
//! last to first, and a stack is replayed where its mark is. Each replayed block runs inside a
//! sharded pass of its own (the groups are kept with the stack) and its output gradients go
//! back through that pass's collectives, so every rank repeats the forward collectives and their
//! duals in the same order, as the plain sharded backward does.
//!
//! Dropout replays exactly: whenever dropout is active, every block of a stack gets a seed drawn
//! from the global generator before the stack runs, and the global generator is re-seeded with it
//! (`tch::manual_seed`, which seeds the CPU and every CUDA generator) before the block runs,
//! recorded or not, and again before its recomputation. After the stack, the generator is
//! re-seeded with one more drawn seed, so later randomness does not depend on how much the blocks
//! consumed; `backward` likewise leaves the generator re-seeded from a seed drawn before replay.
//! Because the plain path seeds the same way, recomputation gives the plain path's masks, so the
//! two agree to rounding even with dropout on. tch has no per-call generator argument, so this
//! relies on no other thread drawing from the global generators while a seeded stack runs or is
//! replayed (a data loader using libtorch's RNG on another thread would break the replay).
use super::primitives::draw_seed;
use crate::parallel::autograd::{backward_keeping_graph, CommTape};
use crate::parallel::sharding::{self, run_sharded, ShardingGroups};
use anyhow::{bail, Context, Result};
use tch::{Kind, Tensor};

/// One block of a stack: maps the state (e.g. `[msa, pair]`) to the next state of the same arity.
pub type Block<'a> = Box<dyn Fn(&[Tensor]) -> Vec<Tensor> + 'a>;

/// A block's saved input and replay seed.
struct Step<'a> {
    block: Block<'a>,
    seed: Option<i64>,
    input: Vec<Tensor>,
}

/// One recorded stack.
struct Segment<'a> {
    /// The stack's input as the network produced it (attached to that graph).
    roots: Vec<Tensor>,
    steps: Vec<Step<'a>>,
    /// The stack's output as handed on: detached tensors with `requires_grad`.
    leaves: Vec<Tensor>,
    /// The groups of the sharded pass that ran the stack, whose collectives the replay repeats.
    groups: Option<ShardingGroups>,
}

/// The recomputation record of one forward pass; empty when recomputation is off or gradients
/// are disabled. `'a` is the lifetime of the model whose blocks it replays.
#[derive(Default)]
pub struct RecomputeTape<'a> {
    /// In creation order; a replayed segment is taken out.
    segments: Vec<Option<Segment<'a>>>,
}

impl std::fmt::Debug for RecomputeTape<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let blocks: Vec<usize> = self.segments.iter().flatten().map(|s| s.steps.len()).collect();
        f.debug_struct("RecomputeTape").field("blocks_per_segment", &blocks).finish()
    }
}

/// Whether autograd records operations right now (libtorch's grad mode), probed with an
/// operation on a tensor that requires a gradient.
pub fn grad_enabled() -> bool {
    let probe = Tensor::zeros([], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
    (probe * 1.0).requires_grad()
}

/// `sum_i sum(outputs_i * grads_i)` over the outputs that have a gradient, in fp32; its gradient
/// with respect to anything upstream is the vector-Jacobian product. `None` when no output has one.
fn vjp_objective(outputs: &[Tensor], grads: &[Option<Tensor>]) -> Option<Tensor> {
    outputs
        .iter()
        .zip(grads)
        .filter_map(|(out, grad)| {
            let grad = grad.as_ref()?;
            let product = || out.to_kind(Kind::Float) * grad.to_kind(Kind::Float);
            out.requires_grad().then(|| product().sum(Kind::Float))
        })
        .reduce(|a, b| a + b)
}

/// The accumulated gradient of `t`, if any reached it.
fn grad_of(t: &Tensor) -> Option<Tensor> {
    let grad = t.grad();
    grad.defined().then_some(grad)
}

impl<'a> RecomputeTape<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    /// True when nothing was recorded (`backward` is then a no-op).
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Number of recorded blocks over all stacks.
    pub fn num_blocks(&self) -> usize {
        self.segments.iter().flatten().map(|s| s.steps.len()).sum()
    }

    /// Runs `blocks` in order on `input` and returns the final state. `seeded`: dropout is active,
    /// so each block runs under its own seed (see the module documentation). `recompute`: record
    /// the stack on this tape when gradients are enabled, returning leaves; otherwise the stack
    /// runs as plain autograd. `on_block` sees each block's output (for captured intermediates).
    pub fn run_stack(
        &mut self,
        blocks: Vec<Block<'a>>,
        input: Vec<Tensor>,
        seeded: bool,
        recompute: bool,
        mut on_block: impl FnMut(&[Tensor]),
    ) -> Vec<Tensor> {
        let seeds: Vec<Option<i64>> = blocks.iter().map(|_| seeded.then(draw_seed)).collect();
        let resume = seeded.then(draw_seed);
        let record = recompute && grad_enabled();
        let mut state = input;
        let mut steps = Vec::with_capacity(if record { blocks.len() } else { 0 });
        let roots: Vec<Tensor> = state.iter().map(Tensor::shallow_clone).collect();
        for (block, seed) in blocks.into_iter().zip(seeds) {
            if let Some(seed) = seed {
                tch::manual_seed(seed);
            }
            if record {
                let saved: Vec<Tensor> = state.iter().map(Tensor::detach).collect();
                state = tch::no_grad(|| block(&saved));
                steps.push(Step { block, seed, input: saved });
            } else {
                state = block(&state);
            }
            on_block(&state);
        }
        if let Some(seed) = resume {
            tch::manual_seed(seed);
        }
        if !record {
            return state;
        }
        let leaves: Vec<Tensor> = state.iter().map(|t| t.detach().set_requires_grad(true)).collect();
        let handed_on = leaves.iter().map(Tensor::shallow_clone).collect();
        let groups = sharding::active_groups();
        self.segments.push(Some(Segment { roots, steps, leaves, groups }));
        sharding::mark_recomputed_stack(self.segments.len() - 1);
        handed_on
    }

    /// Completes the backward pass after the caller's `loss.backward()`: replays every recorded
    /// block and accumulates the gradients of their parameters and of everything upstream of the
    /// recorded stacks (see the module documentation).
    pub fn backward(self) -> Result<()> {
        self.replaying(RecomputeTape::replay_remaining)
    }

    /// Back-propagates `loss` through a sharded forward pass whose collectives are on
    /// `collectives`: the collectives' duals and the recorded stacks' replays run in reverse
    /// order of the forward pass (a stack replays under its pass's groups, repeating its
    /// collectives with every rank of them). Every rank of those groups must call it.
    pub fn backward_sharded(self, collectives: CommTape, loss: &Tensor) -> Result<()> {
        self.replaying(|tape| {
            collectives.backward_replaying(loss, |index| tape.replay(index))?;
            tape.replay_remaining()
        })
    }

    /// Runs `backward` with gradients enabled; when stacks were recorded, leaves the generator
    /// re-seeded from a seed drawn before it (see the module documentation).
    fn replaying(mut self, backward: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let resume = (!self.is_empty()).then(draw_seed);
        let result = tch::with_grad(|| backward(&mut self));
        if let Some(seed) = resume {
            tch::manual_seed(seed);
        }
        result
    }

    /// Replays the `index`-th recorded stack, once.
    fn replay(&mut self, index: usize) -> Result<()> {
        let segment = self.segments.get_mut(index).and_then(Option::take);
        let segment = segment.with_context(|| format!("recomputed stack {index} is not on the tape or was replayed"))?;
        segment.backward().with_context(|| format!("replaying recomputed stack {index}"))
    }

    /// Replays the stacks not replayed yet, last first.
    fn replay_remaining(&mut self) -> Result<()> {
        for index in (0..self.segments.len()).rev() {
            if self.segments[index].is_some() {
                self.replay(index)?;
            }
        }
        Ok(())
    }
}

impl Segment<'_> {
    fn backward(self) -> Result<()> {
        let mut grads: Vec<Option<Tensor>> = self.leaves.iter().map(grad_of).collect();
        for (index, step) in self.steps.iter().enumerate().rev() {
            let input: Vec<Tensor> = step.input.iter().map(|t| t.detach().set_requires_grad(true)).collect();
            // A sharded replay runs even without gradients: its collectives must meet the other
            // ranks', whose gradients may differ.
            if self.groups.is_none() && grads.iter().all(Option::is_none) {
                grads = input.iter().map(|_| None).collect();
                continue;
            }
            if let Some(seed) = step.seed {
                tch::manual_seed(seed);
            }
            let back_propagated = match &self.groups {
                None => replay_block(&step.block, &input, &grads),
                Some(groups) => replay_sharded_block(groups, &step.block, &input, &grads),
            };
            back_propagated.with_context(|| format!("block {index}"))?;
            grads = input.iter().map(grad_of).collect();
        }
        if let Some(objective) = vjp_objective(&self.roots, &grads) {
            // A sharded stack's roots lead into the graph the pass's collectives still walk.
            let pushed = match self.groups {
                None => objective.f_backward().map_err(anyhow::Error::from),
                Some(_) => backward_keeping_graph(&objective),
            };
            pushed.context("back-propagating into the stack's input")?;
        }
        Ok(())
    }
}

/// Recomputes `block` from `input` and back-propagates the output gradients `grads`.
fn replay_block(block: &Block<'_>, input: &[Tensor], grads: &[Option<Tensor>]) -> Result<()> {
    let output = block(input);
    check_arity(&output, grads)?;
    if let Some(objective) = vjp_objective(&output, grads) {
        objective.f_backward()?;
    }
    Ok(())
}

/// [`replay_block`] for a block of a sharded pass: the block runs under `groups` again, and the
/// gradients go back through its collectives' duals. Missing output gradients count as zeros,
/// so every rank runs the same collectives.
fn replay_sharded_block(groups: &ShardingGroups, block: &Block<'_>, input: &[Tensor], grads: &[Option<Tensor>]) -> Result<()> {
    let (output, collectives) = run_sharded(groups, || block(input))?;
    check_arity(&output, grads)?;
    let grads: Vec<Option<Tensor>> =
        output.iter().zip(grads).map(|(out, grad)| Some(grad.as_ref().map_or_else(|| out.zeros_like(), Tensor::shallow_clone))).collect();
    let objective = vjp_objective(&output, &grads).context("the replayed block has no output that needs a gradient")?;
    collectives.backward(&objective)
}

fn check_arity(output: &[Tensor], grads: &[Option<Tensor>]) -> Result<()> {
    if output.len() != grads.len() {
        bail!("the block returned {} tensors on replay, {} were recorded", output.len(), grads.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    const F: (Kind, Device) = (Kind::Float, Device::Cpu);

    /// Blocks `(x, y) -> (tanh(x w) + y, y * sigmoid(that))`. They draw no random numbers: this
    /// binary's tests share the global generator across threads, so the replay of dropout masks
    /// is tested in `tests/memory_equivalence.rs`, whose tests run one at a time.
    fn blocks(weights: &[Tensor]) -> Vec<Block<'_>> {
        weights
            .iter()
            .map(|w| -> Block<'_> {
                Box::new(move |s: &[Tensor]| {
                    let a = s[0].matmul(w).tanh() + &s[1];
                    let b = &s[1] * a.sigmoid();
                    vec![a, b]
                })
            })
            .collect()
    }

    /// A two-state stack with parameters and an upstream parameter: recorded-and-replayed
    /// gradients equal plain autograd's.
    #[test]
    fn replay_gives_plain_gradients() {
        tch::manual_seed(11);
        let upstream = Tensor::randn([3, 4], F).set_requires_grad(true);
        let weights: Vec<Tensor> = (0..3).map(|_| Tensor::randn([4, 4], F).set_requires_grad(true)).collect();
        let objective_weights = [Tensor::randn([3, 4], F), Tensor::randn([3, 4], F)];
        let run = |recompute: bool| -> (f64, Vec<Tensor>) {
            for w in weights.iter().chain([&upstream]) {
                let mut grad = w.grad();
                if grad.defined() {
                    let _ = grad.zero_();
                }
            }
            let mut tape = RecomputeTape::new();
            let input = vec![upstream.exp(), upstream.cos()];
            let out = tape.run_stack(blocks(&weights), input, false, recompute, |_| {});
            assert_eq!(tape.num_blocks(), if recompute { 3 } else { 0 });
            let loss = (&out[0] * &objective_weights[0]).sum(Kind::Float)
                + (&out[1] * &objective_weights[1]).sum(Kind::Float);
            loss.backward();
            tape.backward().unwrap();
            let grads = weights.iter().chain([&upstream]).map(|w| w.grad().copy()).collect();
            (loss.double_value(&[]), grads)
        };
        let (plain_loss, plain) = run(false);
        let (recomputed_loss, recomputed) = run(true);
        assert_eq!(plain_loss, recomputed_loss);
        for (a, b) in plain.iter().zip(&recomputed) {
            assert!(a.abs().max().double_value(&[]) > 0.0);
            assert!(a.allclose(b, 1e-6, 1e-6, false), "{a} vs {b}");
        }
    }

    #[test]
    fn nothing_is_recorded_without_grad_mode() {
        assert!(grad_enabled());
        let mut tape = RecomputeTape::new();
        let block: Block<'_> = Box::new(|s: &[Tensor]| vec![&s[0] * 2.0]);
        let out = tch::no_grad(|| {
            assert!(!grad_enabled());
            tape.run_stack(vec![block], vec![Tensor::ones([2], F)], false, true, |_| {})
        });
        assert!(tape.is_empty() && !out[0].requires_grad());
        assert!(tape.backward().is_ok());
    }
}
