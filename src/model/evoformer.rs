//! The Evoformer block and stacks, Jumper et al. (2021) Suppl. Alg. 6 "EvoformerStack" lines
//! 2-10 (DeepMind's `modules.EvoformerIteration`), and the extra-MSA stack, Alg. 18
//! "ExtraMsaStack", which is the same block with global column attention (Alg. 19).
//!
//! A block is split into the MSA branch (row attention with pair bias, column attention, MSA
//! transition), the outer product mean that links the branches, and the pair branch (triangle
//! updates and attention, pair transition), so that HelixFold's Branch Parallelism can run the
//! branches on two devices. Composed in [`EvoformerIteration::forward`] they give AlphaFold's
//! order exactly. Under dynamic axial parallelism a stack runs its blocks on shards instead
//! (`model::axial_parallel`).
use super::config::{
    AttentionConfig, DropoutConfig, EvoformerConfig, GlobalConfig, Orientation, OuterProductMeanPosition,
    RuntimeOptions, TransitionConfig, TriangleMultiplicationConfig,
};
use super::msa_column_attention::MsaColumnAttention;
use super::msa_column_global_attention::MsaColumnGlobalAttention;
use super::msa_row_attention::MsaRowAttentionWithPairBias;
use super::outer_product_mean::OuterProductMean;
use super::primitives::{draw_seed, dropout_active, residual_update};
use super::axial_parallel::AxialShards;
use super::branch_parallel;
use super::capture::{self, Stack};
use super::recompute::{Block, RecomputeTape};
use super::transition::Transition;
use super::triangle_attention::TriangleAttention;
use super::triangle_multiplication::TriangleMultiplication;
use crate::parallel::sharding;
use tch::{nn, Tensor};

/// Column attention of a block: full attention in the main stack, global in the extra-MSA stack.
#[derive(Debug)]
pub enum ColumnAttention {
    Full(MsaColumnAttention),
    Global(MsaColumnGlobalAttention),
}

impl ColumnAttention {
    pub(super) fn forward(&self, msa: &Tensor, msa_mask: &Tensor, opts: &RuntimeOptions) -> Tensor {
        match self {
            ColumnAttention::Full(m) => m.forward(msa, msa_mask, opts),
            ColumnAttention::Global(m) => m.forward(msa, msa_mask, opts),
        }
    }
}

/// The triangle updates, triangle attention and pair transition shared by Evoformer blocks and
/// template pair stack blocks (Alg. 6 lines 6-10, Alg. 16 lines 2-6).
#[derive(Debug)]
pub struct PairStackModules {
    pub triangle_multiplication_outgoing: TriangleMultiplication,
    pub triangle_multiplication_incoming: TriangleMultiplication,
    pub triangle_attention_starting_node: TriangleAttention,
    pub triangle_attention_ending_node: TriangleAttention,
    pub pair_transition: Transition,
    pub(super) config: PairStackDropout,
}

/// Dropout settings of the pair-branch updates, kept to apply the residual updates.
#[derive(Debug, Clone, Copy)]
pub(super) struct PairStackDropout {
    pub(super) tri_mul_out: DropoutConfig,
    pub(super) tri_mul_in: DropoutConfig,
    pub(super) tri_att_start: DropoutConfig,
    pub(super) tri_att_end: DropoutConfig,
    pub(super) transition: DropoutConfig,
    pub(super) global: GlobalConfig,
}

/// The pair-branch configuration slices common to [`EvoformerConfig`] and the template stack.
pub struct PairStackConfig<'a> {
    pub triangle_attention_starting_node: &'a AttentionConfig,
    pub triangle_attention_ending_node: &'a AttentionConfig,
    pub triangle_multiplication_outgoing: &'a TriangleMultiplicationConfig,
    pub triangle_multiplication_incoming: &'a TriangleMultiplicationConfig,
    pub pair_transition: &'a TransitionConfig,
}

impl PairStackModules {
    pub fn new(p: nn::Path, cfg: &PairStackConfig, c_z: i64, global: &GlobalConfig) -> Self {
        PairStackModules {
            triangle_multiplication_outgoing: TriangleMultiplication::new(
                &p / "triangle_multiplication_outgoing",
                cfg.triangle_multiplication_outgoing,
                c_z,
                global,
            ),
            triangle_multiplication_incoming: TriangleMultiplication::new(
                &p / "triangle_multiplication_incoming",
                cfg.triangle_multiplication_incoming,
                c_z,
                global,
            ),
            triangle_attention_starting_node: TriangleAttention::new(
                &p / "triangle_attention_starting_node",
                cfg.triangle_attention_starting_node,
                Orientation::PerRow,
                c_z,
                global,
            ),
            triangle_attention_ending_node: TriangleAttention::new(
                &p / "triangle_attention_ending_node",
                cfg.triangle_attention_ending_node,
                Orientation::PerColumn,
                c_z,
                global,
            ),
            pair_transition: Transition::new(&p / "pair_transition", cfg.pair_transition, c_z, global),
            config: PairStackDropout {
                tri_mul_out: cfg.triangle_multiplication_outgoing.dropout,
                tri_mul_in: cfg.triangle_multiplication_incoming.dropout,
                tri_att_start: cfg.triangle_attention_starting_node.dropout,
                tri_att_end: cfg.triangle_attention_ending_node.dropout,
                transition: cfg.pair_transition.dropout,
                global: *global,
            },
        }
    }

    /// AlphaFold's Evoformer order: outgoing, incoming multiplication, starting-, ending-node
    /// attention, transition. `pair [*, N_res, N_res, c_z]` -> same shape.
    pub fn evoformer_order(&self, pair: &Tensor, pair_mask: &Tensor, opts: &RuntimeOptions) -> Tensor {
        let pair = self.multiplications(pair, pair_mask, opts);
        let pair = self.attentions(&pair, pair_mask, opts);
        self.transition(&pair, opts)
    }

    /// The template pair stack's order (Alg. 16): attentions first, then multiplications.
    pub fn template_order(&self, pair: &Tensor, pair_mask: &Tensor, opts: &RuntimeOptions) -> Tensor {
        let pair = self.attentions(pair, pair_mask, opts);
        let pair = self.multiplications(&pair, pair_mask, opts);
        self.transition(&pair, opts)
    }

    fn multiplications(&self, pair: &Tensor, pair_mask: &Tensor, opts: &RuntimeOptions) -> Tensor {
        let c = &self.config;
        let update = self.triangle_multiplication_outgoing.forward(pair, pair_mask);
        let pair = residual_update(pair, update, &c.tri_mul_out, &c.global, opts);
        let update = self.triangle_multiplication_incoming.forward(&pair, pair_mask);
        residual_update(&pair, update, &c.tri_mul_in, &c.global, opts)
    }

    fn attentions(&self, pair: &Tensor, pair_mask: &Tensor, opts: &RuntimeOptions) -> Tensor {
        let c = &self.config;
        let update = self.triangle_attention_starting_node.forward(pair, pair_mask, opts);
        let pair = residual_update(pair, update, &c.tri_att_start, &c.global, opts);
        let update = self.triangle_attention_ending_node.forward(&pair, pair_mask, opts);
        residual_update(&pair, update, &c.tri_att_end, &c.global, opts)
    }

    fn transition(&self, pair: &Tensor, opts: &RuntimeOptions) -> Tensor {
        let c = &self.config;
        residual_update(pair, self.pair_transition.forward(pair, opts), &c.transition, &c.global, opts)
    }
}

/// One Evoformer block (`evoformer_iteration`) or extra-MSA block (`extra_msa_stack`).
#[derive(Debug)]
pub struct EvoformerIteration {
    pub msa_row_attention_with_pair_bias: MsaRowAttentionWithPairBias,
    pub msa_column_attention: ColumnAttention,
    pub msa_transition: Transition,
    pub outer_product_mean: OuterProductMean,
    pub pair_stack: PairStackModules,
    pub(super) config: EvoformerConfig,
    pub(super) global: GlobalConfig,
}

impl EvoformerIteration {
    /// `is_extra_msa` selects global column attention (`msa_column_global_attention`).
    pub fn new(
        p: nn::Path,
        cfg: &EvoformerConfig,
        c_m: i64,
        c_z: i64,
        is_extra_msa: bool,
        global: &GlobalConfig,
    ) -> Self {
        let msa_column_attention = if is_extra_msa {
            ColumnAttention::Global(MsaColumnGlobalAttention::new(
                &p / "msa_column_global_attention",
                &cfg.msa_column_attention,
                c_m,
                global,
            ))
        } else {
            ColumnAttention::Full(MsaColumnAttention::new(
                &p / "msa_column_attention",
                &cfg.msa_column_attention,
                c_m,
                global,
            ))
        };
        let pair_cfg = PairStackConfig {
            triangle_attention_starting_node: &cfg.triangle_attention_starting_node,
            triangle_attention_ending_node: &cfg.triangle_attention_ending_node,
            triangle_multiplication_outgoing: &cfg.triangle_multiplication_outgoing,
            triangle_multiplication_incoming: &cfg.triangle_multiplication_incoming,
            pair_transition: &cfg.pair_transition,
        };
        EvoformerIteration {
            msa_row_attention_with_pair_bias: MsaRowAttentionWithPairBias::new(
                &p / "msa_row_attention_with_pair_bias",
                &cfg.msa_row_attention_with_pair_bias,
                c_m,
                c_z,
                global,
            ),
            msa_column_attention,
            msa_transition: Transition::new(&p / "msa_transition", &cfg.msa_transition, c_m, global),
            outer_product_mean: OuterProductMean::new(
                &p / "outer_product_mean",
                &cfg.outer_product_mean,
                c_m,
                c_z,
                global,
            ),
            pair_stack: PairStackModules::new(p, &pair_cfg, c_z, global),
            config: *cfg,
            global: *global,
        }
    }

    /// MSA branch (Alg. 6 lines 2-4): `msa [*, N_seq, N_res, c_m]` updated with the pair bias
    /// from `pair [*, N_res, N_res, c_z]`; returns the new MSA.
    pub fn msa_branch(
        &self,
        msa: &Tensor,
        msa_mask: &Tensor,
        pair: &Tensor,
        opts: &RuntimeOptions,
    ) -> Tensor {
        let (c, g) = (&self.config, &self.global);
        let update = self.msa_row_attention_with_pair_bias.forward(msa, msa_mask, pair, opts);
        let msa = residual_update(msa, update, &c.msa_row_attention_with_pair_bias.dropout, g, opts);
        let update = self.msa_column_attention.forward(&msa, msa_mask, opts);
        let msa = residual_update(&msa, update, &c.msa_column_attention.dropout, g, opts);
        let update = self.msa_transition.forward(&msa, opts);
        residual_update(&msa, update, &c.msa_transition.dropout, g, opts)
    }

    /// Communication (Alg. 6 line 5): `pair + OuterProductMean(msa)`.
    pub fn outer_product_update(
        &self,
        msa: &Tensor,
        msa_mask: &Tensor,
        pair: &Tensor,
        opts: &RuntimeOptions,
    ) -> Tensor {
        let update = self.outer_product_mean.forward(msa, msa_mask, opts);
        residual_update(pair, update, &self.config.outer_product_mean.dropout, &self.global, opts)
    }

    /// Pair branch (Alg. 6 lines 6-10): `pair [*, N_res, N_res, c_z]` -> same shape.
    pub fn pair_branch(&self, pair: &Tensor, pair_mask: &Tensor, opts: &RuntimeOptions) -> Tensor {
        self.pair_stack.evoformer_order(pair, pair_mask, opts)
    }

    /// The whole block in the configured order (`outer_product_mean.position`, AlphaFold's by
    /// default), its branches split over the active BP group if there is one
    /// (`model::branch_parallel`); returns `(msa, pair)`.
    pub fn forward(
        &self,
        msa: &Tensor,
        pair: &Tensor,
        msa_mask: &Tensor,
        pair_mask: &Tensor,
        opts: &RuntimeOptions,
    ) -> (Tensor, Tensor) {
        let parts = WholeParts { block: self, msa_mask, pair_mask, opts };
        compose_block(&parts, msa.shallow_clone(), pair.shallow_clone())
    }
}

/// The parts of an Evoformer block over one representation of the activations: whole tensors
/// in one process ([`WholeParts`]) or shards under dynamic axial parallelism
/// (`model::axial_parallel`). [`compose_block`] puts the parts in the block's order.
pub(super) trait BlockParts {
    /// How an activation is held (a tensor, or a rank's block of one).
    type Act;

    /// The block being run.
    fn block(&self) -> &EvoformerIteration;
    fn opts(&self) -> &RuntimeOptions;
    /// Alg. 6 lines 2-4: the new MSA from the MSA and the pair.
    fn msa_branch(&self, msa: &Self::Act, pair: &Self::Act) -> Self::Act;
    /// Alg. 6 line 5: `pair + dropout(OuterProductMean(msa))`.
    fn outer_product_update(&self, msa: &Self::Act, pair: &Self::Act) -> Self::Act;
    /// Alg. 6 lines 6-10: the new pair.
    fn pair_branch(&self, pair: &Self::Act) -> Self::Act;
    /// The activation as one tensor in a fixed layout, for exchanging it between ranks that hold
    /// it the same way.
    fn to_tensor(&self, act: &Self::Act) -> Tensor;
    /// The inverse of [`BlockParts::to_tensor`].
    fn from_tensor(&self, tensor: Tensor) -> Self::Act;
}

/// A block on whole activations.
struct WholeParts<'b> {
    block: &'b EvoformerIteration,
    msa_mask: &'b Tensor,
    pair_mask: &'b Tensor,
    opts: &'b RuntimeOptions,
}

impl BlockParts for WholeParts<'_> {
    type Act = Tensor;

    fn block(&self) -> &EvoformerIteration {
        self.block
    }

    fn opts(&self) -> &RuntimeOptions {
        self.opts
    }

    fn msa_branch(&self, msa: &Tensor, pair: &Tensor) -> Tensor {
        self.block.msa_branch(msa, self.msa_mask, pair, self.opts)
    }

    fn outer_product_update(&self, msa: &Tensor, pair: &Tensor) -> Tensor {
        self.block.outer_product_update(msa, self.msa_mask, pair, self.opts)
    }

    fn pair_branch(&self, pair: &Tensor) -> Tensor {
        self.block.pair_branch(pair, self.pair_mask, self.opts)
    }

    fn to_tensor(&self, act: &Tensor) -> Tensor {
        act.shallow_clone()
    }

    fn from_tensor(&self, tensor: Tensor) -> Tensor {
        tensor
    }
}

/// One block in the order its configuration names (`outer_product_mean.position`), in this
/// process or, under an active BP group, with its branches on the group's two ranks.
pub(super) fn compose_block<P: BlockParts>(parts: &P, msa: P::Act, pair: P::Act) -> (P::Act, P::Act) {
    let block = parts.block();
    let seeds = PartSeeds::draw(dropout_active(&block.global, parts.opts()));
    let position = block.config.outer_product_mean.position;
    if let Some(group) = sharding::bp() {
        return branch_parallel::compose(parts, &group, position, &seeds, msa, pair);
    }
    match position {
        OuterProductMeanPosition::Origin => {
            let msa = seeds.run(Part::Msa, || parts.msa_branch(&msa, &pair));
            let pair = seeds.run(Part::OuterProduct, || parts.outer_product_update(&msa, &pair));
            let pair = seeds.run(Part::Pair, || parts.pair_branch(&pair));
            (msa, pair)
        }
        OuterProductMeanPosition::First => {
            let pair = seeds.run(Part::OuterProduct, || parts.outer_product_update(&msa, &pair));
            let msa = seeds.run(Part::Msa, || parts.msa_branch(&msa, &pair));
            let pair = seeds.run(Part::Pair, || parts.pair_branch(&pair));
            (msa, pair)
        }
        OuterProductMeanPosition::End => {
            let new_msa = seeds.run(Part::Msa, || parts.msa_branch(&msa, &pair));
            let pair = seeds.run(Part::Pair, || parts.pair_branch(&pair));
            let pair = seeds.run(Part::OuterProduct, || parts.outer_product_update(&new_msa, &pair));
            (new_msa, pair)
        }
    }
}

/// The parts of a block that draw dropout masks.
#[derive(Debug, Clone, Copy)]
pub(super) enum Part {
    Msa,
    OuterProduct,
    Pair,
}

/// One seed per [`Part`] of a block, drawn when the block starts while dropout is active: each
/// part's masks then depend neither on the order the parts run in nor on which of them run in
/// this process, so a block split over ranks (branch parallelism) draws the same masks as one
/// process.
pub(super) struct PartSeeds(Option<[i64; 3]>);

impl PartSeeds {
    fn draw(dropout_active: bool) -> Self {
        Self(dropout_active.then(|| [draw_seed(), draw_seed(), draw_seed()]))
    }

    pub(super) fn run<T>(&self, part: Part, f: impl FnOnce() -> T) -> T {
        if let Some(seeds) = self.0 {
            tch::manual_seed(seeds[part as usize]);
        }
        f()
    }
}

/// A stack of blocks, each under `<p>/<i>`; the per-layer structure lets a trainer recompute
/// one block at a time from its saved input.
#[derive(Debug)]
pub struct EvoformerStack {
    pub blocks: Vec<EvoformerIteration>,
}

/// Output of a stack: final activations.
#[derive(Debug)]
pub struct StackOutput {
    pub msa: Tensor,
    pub pair: Tensor,
}

impl EvoformerStack {
    pub fn new(
        p: nn::Path,
        num_block: i64,
        cfg: &EvoformerConfig,
        c_m: i64,
        c_z: i64,
        is_extra_msa: bool,
        global: &GlobalConfig,
    ) -> Self {
        let blocks = (0..num_block)
            .map(|i| EvoformerIteration::new(&p / i, cfg, c_m, c_z, is_extra_msa, global))
            .collect();
        EvoformerStack { blocks }
    }

    /// Which stack this is, for captures: the extra-MSA stack's blocks use global column attention.
    fn capture_stack(&self) -> Stack {
        match self.blocks.first().map(|b| &b.msa_column_attention) {
            Some(ColumnAttention::Global(_)) => Stack::ExtraMsa,
            _ => Stack::Evoformer,
        }
    }

    /// Runs the blocks in order; with `opts.recompute` (and gradients enabled) the stack is
    /// recorded on `tape` and its outputs are the tape's leaves (see [`RecomputeTape`]). An
    /// active capture (`model::capture`) sees the main stack's block outputs. Under an active
    /// DAP group (`parallel::sharding`) the blocks run on shards ([`AxialShards`]); captures
    /// then see no block outputs, and a recorded stack replays its blocks' collectives.
    pub fn forward<'a>(
        &'a self,
        msa: &Tensor,
        pair: &Tensor,
        msa_mask: &Tensor,
        pair_mask: &Tensor,
        opts: &RuntimeOptions,
        tape: &mut RecomputeTape<'a>,
    ) -> StackOutput {
        let stack = self.capture_stack();
        let shards = AxialShards::active(msa.size()[0], msa.size()[1]);
        let (state, msa_mask, pair_mask) = match &shards {
            Some(s) => (vec![s.enter_msa(msa), s.enter_pair(pair)], s.pad_msa_mask(msa_mask), s.pad_pair_mask(pair_mask)),
            None => (vec![msa.shallow_clone(), pair.shallow_clone()], msa_mask.shallow_clone(), pair_mask.shallow_clone()),
        };
        let blocks = self
            .blocks
            .iter()
            .zip(0..)
            .map(|(block, index)| -> Block<'a> {
                let (msa_mask, pair_mask) = (msa_mask.shallow_clone(), pair_mask.shallow_clone());
                let (opts, shards) = (*opts, shards.clone());
                Box::new(move |state: &[Tensor]| {
                    capture::enter_block(stack, index);
                    let (msa, pair) = match &shards {
                        Some(s) => s.evoformer_block(block, &state[0], &state[1], &msa_mask, &pair_mask, &opts),
                        None => block.forward(&state[0], &state[1], &msa_mask, &pair_mask, &opts),
                    };
                    vec![msa, pair]
                })
            })
            .collect();
        let seeded = self.blocks.first().is_some_and(|b| dropout_active(&b.global, opts));
        let state = tape.run_stack(blocks, state, seeded, opts.recompute, |state| {
            if stack == Stack::Evoformer && shards.is_none() {
                capture::record_evoformer_block(&state[0], &state[1]);
            }
        });
        let [msa, pair]: [Tensor; 2] =
            state.try_into().expect("an Evoformer block maps (msa, pair) to (msa, pair)");
        match &shards {
            Some(s) => StackOutput { msa: s.exit_msa(&msa), pair: s.exit_pair(&pair) },
            None => StackOutput { msa, pair },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::ModelConfig;
    use tch::{Device, Kind};

    fn randomised_block(vs: &nn::VarStore) -> (ModelConfig, EvoformerIteration) {
        let mut cfg = ModelConfig::tiny();
        cfg.global_config.zero_init = false;
        let e = &cfg.embeddings_and_evoformer;
        let block = EvoformerIteration::new(
            vs.root() / "block",
            &e.evoformer,
            e.msa_channel,
            e.pair_channel,
            false,
            &cfg.global_config,
        );
        (cfg, block)
    }

    fn inputs(cfg: &ModelConfig, s: i64, r: i64) -> (Tensor, Tensor, Tensor, Tensor) {
        let e = &cfg.embeddings_and_evoformer;
        let f = (Kind::Float, Device::Cpu);
        let msa_mask = Tensor::rand([s, r], f).gt(0.2).to_kind(Kind::Float);
        (
            Tensor::randn([s, r, e.msa_channel], f),
            Tensor::randn([r, r, e.pair_channel], f),
            msa_mask,
            Tensor::ones([r, r], f),
        )
    }

    /// HelixFold's "end" position: the pair branch runs on the block's input pair and the outer
    /// product of the updated MSA is added to its output.
    #[test]
    fn end_position_adds_the_outer_product_after_the_pair_branch() {
        tch::manual_seed(5);
        let vs = nn::VarStore::new(Device::Cpu);
        let (cfg, mut block) = randomised_block(&vs);
        block.config.outer_product_mean.position = OuterProductMeanPosition::End;
        let (msa, pair, msa_mask, pair_mask) = inputs(&cfg, 4, 6);
        let opts = RuntimeOptions::default();
        let (new_msa, new_pair) = block.forward(&msa, &pair, &msa_mask, &pair_mask, &opts);
        let expected_msa = block.msa_branch(&msa, &msa_mask, &pair, &opts);
        let branch = block.pair_branch(&pair, &pair_mask, &opts);
        let expected_pair = block.outer_product_update(&expected_msa, &msa_mask, &branch, &opts);
        assert!(new_msa.equal(&expected_msa));
        assert!(new_pair.equal(&expected_pair));
        block.config.outer_product_mean.position = OuterProductMeanPosition::Origin;
        let (_, origin_pair) = block.forward(&msa, &pair, &msa_mask, &pair_mask, &opts);
        assert!(!origin_pair.allclose(&new_pair, 1e-4, 1e-4, false), "the two orders should differ");
    }

    /// Dynamic axial parallelism: each row-/column-wise module, given a shard of its
    /// independent axis (and the bias from the whole pair), yields that shard of the full result.
    #[test]
    fn shards_give_slices_of_the_full_result() {
        tch::manual_seed(4);
        let vs = nn::VarStore::new(Device::Cpu);
        let (cfg, block) = randomised_block(&vs);
        let (msa, pair, msa_mask, pair_mask) = inputs(&cfg, 5, 7);
        let opts = RuntimeOptions::default();
        let close = |a: &Tensor, b: &Tensor| assert!(a.allclose(b, 1e-5, 1e-5, false));

        let row = &block.msa_row_attention_with_pair_bias;
        let full = row.forward(&msa, &msa_mask, &pair, &opts);
        let bias = row.pair_bias(&pair);
        close(
            &row.attend(&msa.narrow(0, 1, 3), &msa_mask.narrow(0, 1, 3), &bias, &opts),
            &full.narrow(0, 1, 3),
        );

        let full = block.msa_column_attention.forward(&msa, &msa_mask, &opts);
        let shard =
            block.msa_column_attention.forward(&msa.narrow(1, 2, 4), &msa_mask.narrow(1, 2, 4), &opts);
        close(&shard, &full.narrow(1, 2, 4));

        let tri = &block.pair_stack.triangle_attention_starting_node;
        let full = tri.forward(&pair, &pair_mask, &opts);
        let (z, bias) = tri.normalised_and_bias(&pair);
        close(
            &tri.attend(&z.narrow(0, 3, 2), &pair_mask.narrow(0, 3, 2), &bias, &opts),
            &full.narrow(0, 3, 2),
        );

        let opm = &block.outer_product_mean;
        let full = opm.forward(&msa, &msa_mask, &opts);
        let (left, right) = opm.projections(&msa, &msa_mask);
        let shard = opm.update(&left.narrow(1, 2, 3), &msa_mask.narrow(1, 2, 3), &right, &msa_mask, &opts);
        close(&shard, &full.narrow(0, 2, 3));
    }
}
