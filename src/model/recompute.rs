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
}

/// The recomputation record of one forward pass; empty when recomputation is off or gradients
/// are disabled. `'a` is the lifetime of the model whose blocks it replays.
#[derive(Default)]
pub struct RecomputeTape<'a> {
    segments: Vec<Segment<'a>>,
}

impl std::fmt::Debug for RecomputeTape<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let blocks: Vec<usize> = self.segments.iter().map(|s| s.steps.len()).collect();
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
        self.segments.iter().map(|s| s.steps.len()).sum()
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
        self.segments.push(Segment { roots, steps, leaves });
        handed_on
    }

    /// Completes the backward pass after the caller's `loss.backward()`: replays every recorded
    /// block and accumulates the gradients of their parameters and of everything upstream of the
    /// recorded stacks (see the module documentation).
    pub fn backward(self) -> Result<()> {
        if self.segments.is_empty() {
            return Ok(());
        }
        let resume = draw_seed();
        let result = tch::with_grad(|| {
            self.segments
                .into_iter()
                .enumerate()
                .rev()
                .try_for_each(|(index, segment)| {
                    segment.backward().with_context(|| format!("replaying recomputed stack {index}"))
                })
        });
        tch::manual_seed(resume);
        result
    }
}

impl Segment<'_> {
    fn backward(self) -> Result<()> {
        let mut grads: Vec<Option<Tensor>> = self.leaves.iter().map(grad_of).collect();
        for (index, step) in self.steps.iter().enumerate().rev() {
            let input: Vec<Tensor> = step.input.iter().map(|t| t.detach().set_requires_grad(true)).collect();
            if grads.iter().all(Option::is_none) {
                grads = input.iter().map(|_| None).collect();
                continue;
            }
            if let Some(seed) = step.seed {
                tch::manual_seed(seed);
            }
            let output = (step.block)(&input);
            if output.len() != grads.len() {
                let (returned, recorded) = (output.len(), grads.len());
                bail!("block {index} returned {returned} tensors on replay, {recorded} were recorded");
            }
            if let Some(objective) = vjp_objective(&output, &grads) {
                objective.f_backward().with_context(|| format!("back-propagating block {index}"))?;
            }
            grads = input.iter().map(grad_of).collect();
        }
        if let Some(objective) = vjp_objective(&self.roots, &grads) {
            objective.f_backward().context("back-propagating into the stack's input")?;
        }
        Ok(())
    }
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
