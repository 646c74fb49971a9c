//! Dynamic axial parallelism (DAP) of the Evoformer, extra-MSA and template pair stacks, as
//! FastFold introduced it (Cheng et al. (2022) "FastFold: Reducing AlphaFold Training Time from
//! 11 Days to 67 Hours", Sec. 4.1; `fastfold/model/fastnn/{evoformer,msa,ops,triangle}.py`) and
//! HelixFold uses it (`alphafold_paddle/model/modules.py` with `distributed/dap.py`).
//!
//! Each of the `W` ranks of the DAP group holds one block of every activation along one axis:
//! the MSA `[N_seq, N_res, c_m]` by sequences ([`Split::Rows`]) or residues ([`Split::Columns`]),
//! the pair `[*, N_res, N_res, c_z]` by rows `i` or columns `j`. At a stack's entry both axes are
//! padded to a multiple of `W` (mask 0, so the padding is never attended to or summed over) and
//! every rank keeps its row block; at the exit the blocks are gathered and the padding cut. In a
//! block each module runs on the split its independent axis allows, switching with an
//! all-to-all: MSA row attention on sequence blocks with the pair bias all-gathered; column
//! attention, transition and the outer product mean on residue blocks (the right projection
//! all-gathered, the update landing on this rank's pair rows); the outgoing triangle
//! multiplication on row blocks with the right operand all-gathered, the incoming one on column
//! blocks likewise; triangle attention around the starting node on rows and around the ending
//! node on columns, with the bias all-gathered. AlphaFold's order of the updates is kept.
//!
//! The collectives are recorded on the active pass's tape ([`crate::parallel::sharding`]): the
//! gradient of an all-gathered operand is the sum of the ranks' partial ones (reduce-scatter),
//! so the parameters of the sharded stacks get partial gradients on each rank, to be summed over
//! the DAP group; everything before the entry or after the exit gets the full gradient.
//!
//! Dropout draws the mask of the whole (unpadded) update, exactly as the unsharded run does,
//! and each rank applies its block of it ([`dropped_out_part`]): for the same generator
//! state the masks agree with the single-process run.
use super::config::{DropoutConfig, GlobalConfig, Orientation, RuntimeOptions, TriangleDirection};
use super::evoformer::{compose_block, BlockParts, EvoformerIteration, PairStackModules};
use super::primitives::dropped_out_part;
use super::triangle_attention::TriangleAttention;
use super::triangle_multiplication::TriangleMultiplication;
use crate::parallel::process_group::ProcessGroup;
use crate::parallel::sharding::{self, dap_all_gather, dap_all_to_all, dap_gather, dap_scatter};
use tch::Tensor;

/// Which axis of an activation `[*, A, B, c]` a rank holds a block of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Axis -3: MSA sequences, pair rows `i`.
    Rows,
    /// Axis -2: residues (MSA columns, pair columns `j`).
    Columns,
}

impl Split {
    /// The split axis of the activation.
    fn dim(self) -> i64 {
        match self {
            Split::Rows => -3,
            Split::Columns => -2,
        }
    }

    /// The same axis of the activation's mask `[*, A, B]`.
    fn mask_dim(self) -> i64 {
        self.dim() + 1
    }
}

/// One rank's block of an activation and the axis it is split along.
struct Sharded {
    act: Tensor,
    split: Split,
}

impl Sharded {
    /// The same activation split along `split`, exchanged with the other ranks if needed
    /// (`[A/W, B]` rows to `[A, B/W]` columns or back).
    fn along(&self, split: Split) -> Sharded {
        let act = if self.split == split {
            self.act.shallow_clone()
        } else {
            dap_all_to_all(&self.act, split.dim(), self.split.dim())
        };
        Sharded { act, split }
    }
}

/// An axis's true length and its length padded to a multiple of the DAP degree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extent {
    len: i64,
    padded: i64,
}

impl Extent {
    fn new(len: i64, degree: i64) -> Self {
        Extent { len, padded: (len + degree - 1) / degree * degree }
    }
}

/// The shard geometry of one stack run under DAP.
#[derive(Debug, Clone)]
pub struct AxialShards {
    rank: i64,
    degree: i64,
    sequences: Extent,
    residues: Extent,
}

/// Which order a pair stack runs its updates in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PairOrder {
    /// Multiplications, attentions, transition (Alg. 6).
    Evoformer,
    /// Attentions, multiplications, transition (Alg. 16).
    Template,
}

/// `x` extended with zeros along each `(dim, length)` up to that length.
fn pad(x: &Tensor, targets: &[(i64, i64)]) -> Tensor {
    targets.iter().fold(x.shallow_clone(), |x, &(dim, length)| {
        let axis = (dim + x.dim() as i64) as usize;
        let mut shape = x.size();
        let missing = length - shape[axis];
        if missing <= 0 {
            return x;
        }
        shape[axis] = missing;
        Tensor::cat(&[x.shallow_clone(), Tensor::zeros(shape.as_slice(), (x.kind(), x.device()))], dim)
    })
}

impl AxialShards {
    /// The geometry for a stack over `sequences` MSA rows (0 for the template pair stack) and
    /// `residues` residues, split over `group`.
    pub fn new(group: &ProcessGroup, sequences: i64, residues: i64) -> Self {
        let degree = group.size() as i64;
        AxialShards {
            rank: group.rank() as i64,
            degree,
            sequences: Extent::new(sequences, degree),
            residues: Extent::new(residues, degree),
        }
    }

    /// The geometry for a stack about to run, when a DAP group is active on this thread.
    pub fn active(sequences: i64, residues: i64) -> Option<Self> {
        let group = sharding::dap()?;
        Some(Self::new(&group, sequences, residues))
    }

    /// This rank's block of `x` along `dim` (no communication: for masks every rank holds).
    fn block(&self, x: &Tensor, dim: i64) -> Tensor {
        let length = x.size()[(dim + x.dim() as i64) as usize] / self.degree;
        x.narrow(dim, self.rank * length, length)
    }

    /// Stack entry: `msa [N_seq, N_res, c_m]` padded and this rank's sequence block
    /// `[S/W, R, c_m]` of it (`S`, `R` the padded lengths).
    pub fn enter_msa(&self, msa: &Tensor) -> Tensor {
        let padded = pad(msa, &[(-3, self.sequences.padded), (-2, self.residues.padded)]);
        dap_scatter(&padded, Split::Rows.dim())
    }

    /// `msa_mask [N_seq, N_res]` padded with zeros to `[S, R]` (every rank holds all of it).
    pub fn pad_msa_mask(&self, msa_mask: &Tensor) -> Tensor {
        pad(msa_mask, &[(-2, self.sequences.padded), (-1, self.residues.padded)])
    }

    /// Stack entry: `pair [*, N_res, N_res, c]` padded and this rank's row block `[*, R/W, R, c]`.
    pub fn enter_pair(&self, pair: &Tensor) -> Tensor {
        let padded = pad(pair, &[(-3, self.residues.padded), (-2, self.residues.padded)]);
        dap_scatter(&padded, Split::Rows.dim())
    }

    /// `pair_mask [N_res, N_res]` padded with zeros to `[R, R]`.
    pub fn pad_pair_mask(&self, pair_mask: &Tensor) -> Tensor {
        pad(pair_mask, &[(-2, self.residues.padded), (-1, self.residues.padded)])
    }

    /// Stack exit: the whole MSA `[N_seq, N_res, c_m]` from the sequence blocks.
    pub fn exit_msa(&self, msa: &Tensor) -> Tensor {
        let whole = dap_gather(msa, Split::Rows.dim());
        whole.narrow(-3, 0, self.sequences.len).narrow(-2, 0, self.residues.len)
    }

    /// Stack exit: the whole pair `[*, N_res, N_res, c]` from the row blocks.
    pub fn exit_pair(&self, pair: &Tensor) -> Tensor {
        let whole = dap_gather(pair, Split::Rows.dim());
        whole.narrow(-3, 0, self.residues.len).narrow(-2, 0, self.residues.len)
    }

    /// One Evoformer (or extra-MSA) block on the sequence block of the MSA and the row block of
    /// the pair, with the padded masks; returns the blocks of the new `(msa, pair)`.
    pub fn evoformer_block(
        &self,
        block: &EvoformerIteration,
        msa: &Tensor,
        pair: &Tensor,
        msa_mask: &Tensor,
        pair_mask: &Tensor,
        opts: &RuntimeOptions,
    ) -> (Tensor, Tensor) {
        let parts = ShardedParts { shards: self, block, msa_mask, pair_mask, opts };
        let msa = Sharded { act: msa.shallow_clone(), split: Split::Rows };
        let pair = Sharded { act: pair.shallow_clone(), split: Split::Rows };
        let (msa, pair) = compose_block(&parts, msa, pair);
        (msa.along(Split::Rows).act, pair.along(Split::Rows).act)
    }

    /// One template pair stack block on the row block `[T, R/W, R, c_t]` of the templates' pair
    /// activations, with the padded pair mask; returns the new row block.
    pub fn template_block(
        &self,
        modules: &PairStackModules,
        pair: &Tensor,
        pair_mask: &Tensor,
        opts: &RuntimeOptions,
    ) -> Tensor {
        let pair = Sharded { act: pair.shallow_clone(), split: Split::Rows };
        let pair = self.pair_stack(modules, pair, pair_mask, PairOrder::Template, opts);
        pair.along(Split::Rows).act
    }

    /// `act + dropout(update)` for a block of an activation whose whole (unpadded) extents
    /// along axes -3 and -2 are `rows` and `columns`.
    fn residual(
        &self,
        act: &Sharded,
        update: Tensor,
        dropout: &DropoutConfig,
        global: &GlobalConfig,
        opts: &RuntimeOptions,
        (rows, columns): (Extent, Extent),
    ) -> Sharded {
        let mut whole = act.act.size();
        let n = whole.len();
        whole[n - 3] = rows.len;
        whole[n - 2] = columns.len;
        let part_of = |mask: Tensor| {
            // An axis of length 1 is the shared one (broadcast), or one with nothing to pad whose
            // single row serves the padding too; either way it is not cut.
            let targets: Vec<(i64, i64)> = [(-3, rows.padded), (-2, columns.padded)]
                .into_iter()
                .filter(|&(dim, _)| mask.size()[(dim + n as i64) as usize] != 1)
                .collect();
            let mask = pad(&mask, &targets);
            if mask.size()[(act.split.dim() + n as i64) as usize] == 1 {
                mask
            } else {
                self.block(&mask, act.split.dim())
            }
        };
        let act_next = &act.act + dropped_out_part(update, dropout, global, opts, &whole, part_of);
        Sharded { act: act_next, split: act.split }
    }

    fn msa_extents(&self) -> (Extent, Extent) {
        (self.sequences, self.residues)
    }

    fn pair_extents(&self) -> (Extent, Extent) {
        (self.residues, self.residues)
    }

    /// Alg. 6 lines 2-4 (Alg. 18 with global column attention); returns the MSA split by residues.
    fn msa_branch(
        &self,
        block: &EvoformerIteration,
        msa: &Sharded,
        pair: &Sharded,
        msa_mask: &Tensor,
        opts: &RuntimeOptions,
    ) -> Sharded {
        let (c, g) = (&block.config, &block.global);
        let row = &block.msa_row_attention_with_pair_bias;
        let msa = msa.along(Split::Rows);
        // [1, H, R, R]
        let bias = dap_all_gather(&row.pair_bias(&pair.along(Split::Rows).act), -2);
        let update = row.attend(&msa.act, &self.block(msa_mask, Split::Rows.mask_dim()), &bias, opts);
        let msa = self.residual(&msa, update, &c.msa_row_attention_with_pair_bias.dropout, g, opts, self.msa_extents());
        let msa = msa.along(Split::Columns);
        let columns_mask = self.block(msa_mask, Split::Columns.mask_dim());
        let update = block.msa_column_attention.forward(&msa.act, &columns_mask, opts);
        let msa = self.residual(&msa, update, &c.msa_column_attention.dropout, g, opts, self.msa_extents());
        let update = block.msa_transition.forward(&msa.act, opts);
        self.residual(&msa, update, &c.msa_transition.dropout, g, opts, self.msa_extents())
    }

    /// Alg. 6 line 5: this rank's residues are the left operand `i`, the right projection of
    /// every residue is gathered, and the update `[R/W, R, c_z]` lands on this rank's pair rows.
    fn outer_product_update(
        &self,
        block: &EvoformerIteration,
        msa: &Sharded,
        pair: &Sharded,
        msa_mask: &Tensor,
        opts: &RuntimeOptions,
    ) -> Sharded {
        let opm = &block.outer_product_mean;
        let msa = msa.along(Split::Columns);
        let columns_mask = self.block(msa_mask, Split::Columns.mask_dim());
        let (left, right) = opm.projections(&msa.act, &columns_mask);
        // [S, R, c_o]
        let right = dap_all_gather(&right, -2);
        let update = opm.update(&left, &columns_mask, &right, msa_mask, opts);
        let dropout = &block.config.outer_product_mean.dropout;
        self.residual(&pair.along(Split::Rows), update, dropout, &block.global, opts, self.pair_extents())
    }

    /// The triangle updates, triangle attention and pair transition in `order`.
    fn pair_stack(
        &self,
        modules: &PairStackModules,
        pair: Sharded,
        pair_mask: &Tensor,
        order: PairOrder,
        opts: &RuntimeOptions,
    ) -> Sharded {
        let c = &modules.config;
        let multiplications = |pair: Sharded| {
            let pair = self.triangle_multiplication(&modules.triangle_multiplication_outgoing, &pair, pair_mask, &c.tri_mul_out, &c.global, opts);
            self.triangle_multiplication(&modules.triangle_multiplication_incoming, &pair, pair_mask, &c.tri_mul_in, &c.global, opts)
        };
        let attentions = |pair: Sharded| {
            let pair = self.triangle_attention(&modules.triangle_attention_starting_node, &pair, pair_mask, &c.tri_att_start, &c.global, opts);
            self.triangle_attention(&modules.triangle_attention_ending_node, &pair, pair_mask, &c.tri_att_end, &c.global, opts)
        };
        let pair = match order {
            PairOrder::Evoformer => attentions(multiplications(pair)),
            PairOrder::Template => multiplications(attentions(pair)),
        };
        let update = modules.pair_transition.forward(&pair.act, opts);
        self.residual(&pair, update, &c.transition, &c.global, opts, self.pair_extents())
    }

    /// Outgoing on row blocks (`right_jk` gathered over `j`), incoming on column blocks
    /// (`right_ki` gathered over `i`).
    fn triangle_multiplication(
        &self,
        module: &TriangleMultiplication,
        pair: &Sharded,
        pair_mask: &Tensor,
        dropout: &DropoutConfig,
        global: &GlobalConfig,
        opts: &RuntimeOptions,
    ) -> Sharded {
        let split = match module.direction() {
            TriangleDirection::Outgoing => Split::Rows,
            TriangleDirection::Incoming => Split::Columns,
        };
        let pair = pair.along(split);
        let (left, right, x) = module.projections(&pair.act, &self.block(pair_mask, split.mask_dim()));
        let right = dap_all_gather(&right, split.dim());
        let update = module.output(&module.combine(&left, &right), &x);
        self.residual(&pair, update, dropout, global, opts, self.pair_extents())
    }

    /// Starting node on row blocks, ending node on column blocks (rows of the transposed pair);
    /// the bias over every row is gathered.
    fn triangle_attention(
        &self,
        module: &TriangleAttention,
        pair: &Sharded,
        pair_mask: &Tensor,
        dropout: &DropoutConfig,
        global: &GlobalConfig,
        opts: &RuntimeOptions,
    ) -> Sharded {
        let split = match module.orientation() {
            Orientation::PerRow => Split::Rows,
            Orientation::PerColumn => Split::Columns,
        };
        let pair = pair.along(split);
        // Oriented: this rank's block is of rows either way.
        let (z, bias) = module.normalised_and_bias(&pair.act);
        let bias = dap_all_gather(&bias, -2);
        let rows_mask = self.block(&module.oriented_mask(pair_mask), Split::Rows.mask_dim());
        let update = module.oriented_pair(&module.attend(&z, &rows_mask, &bias, opts));
        self.residual(&pair, update, dropout, global, opts, self.pair_extents())
    }
}

/// Scopes (VarStore names, `.`-separated) of the stacks that run sharded under DAP.
const SHARDED_STACK_SCOPES: [&str; 3] = [
    "evoformer.evoformer_iteration.",
    "evoformer.extra_msa_stack.",
    "evoformer.template_embedding.single_template_embedding.template_pair_stack.",
];

/// Whether the variable `name` belongs to a sharded stack, so that under DAP each rank gets a
/// partial gradient of it, to be summed over the group.
pub fn is_sharded_stack_parameter(name: &str) -> bool {
    SHARDED_STACK_SCOPES.iter().any(|scope| name.starts_with(scope))
}

/// An Evoformer block's parts on this rank's shards, for [`compose_block`].
struct ShardedParts<'a> {
    shards: &'a AxialShards,
    block: &'a EvoformerIteration,
    msa_mask: &'a Tensor,
    pair_mask: &'a Tensor,
    opts: &'a RuntimeOptions,
}

impl BlockParts for ShardedParts<'_> {
    type Act = Sharded;

    fn block(&self) -> &EvoformerIteration {
        self.block
    }

    fn opts(&self) -> &RuntimeOptions {
        self.opts
    }

    fn msa_branch(&self, msa: &Sharded, pair: &Sharded) -> Sharded {
        self.shards.msa_branch(self.block, msa, pair, self.msa_mask, self.opts)
    }

    fn outer_product_update(&self, msa: &Sharded, pair: &Sharded) -> Sharded {
        self.shards.outer_product_update(self.block, msa, pair, self.msa_mask, self.opts)
    }

    fn pair_branch(&self, pair: &Sharded) -> Sharded {
        let pair = Sharded { act: pair.act.shallow_clone(), split: pair.split };
        self.shards.pair_stack(&self.block.pair_stack, pair, self.pair_mask, PairOrder::Evoformer, self.opts)
    }

    /// The row block: ranks of a BP group with the same DAP index hold the same rows.
    fn to_tensor(&self, act: &Sharded) -> Tensor {
        act.along(Split::Rows).act
    }

    fn from_tensor(&self, tensor: Tensor) -> Sharded {
        Sharded { act: tensor, split: Split::Rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::{ModelConfig, OuterProductMeanPosition};
    use crate::model::evoformer::EvoformerStack;
    use crate::model::recompute::RecomputeTape;
    use crate::model::trunk::EmbeddingsAndEvoformer;
    use crate::parallel::sharding::{run_sharded, single_rank_group, ShardingGroups};
    use tch::{nn, Device, Kind};

    const F: (Kind, Device) = (Kind::Float, Device::Cpu);

    fn close(a: &Tensor, b: &Tensor) {
        assert_eq!(a.size(), b.size());
        assert!(a.allclose(b, 1e-5, 1e-5, false), "differ by {}", (a - b).abs().max());
    }

    /// With one rank the collectives are identities and nothing is padded, so the sharded
    /// composition must give the plain stack's result: AlphaFold's order of the updates, with the
    /// outer product mean after or before the MSA branch (multimer) or at the end, and the template order.
    /// Dropout stays off here: the tests of this binary share libtorch's generator across
    /// threads; tests/parallel_dap.rs checks the sharded masks in processes of their own.
    #[test]
    fn one_rank_reproduces_the_plain_stacks() {
        let groups = ShardingGroups::dap(single_rank_group());
        let opts = RuntimeOptions::default();
        for position in [OuterProductMeanPosition::Origin, OuterProductMeanPosition::First, OuterProductMeanPosition::End] {
            let mut cfg = ModelConfig::tiny();
            cfg.global_config.zero_init = false;
            cfg.embeddings_and_evoformer.evoformer.outer_product_mean.position = position;
            let e = &cfg.embeddings_and_evoformer;
            let vs = nn::VarStore::new(Device::Cpu);
            let stack =
                EvoformerStack::new(vs.root(), 2, &e.evoformer, e.msa_channel, e.pair_channel, false, &cfg.global_config);
            let msa = Tensor::randn([5, 7, e.msa_channel], F);
            let pair = Tensor::randn([7, 7, e.pair_channel], F);
            let msa_mask = Tensor::rand([5, 7], F).gt(0.2).to_kind(Kind::Float);
            let pair_mask = Tensor::ones([7, 7], F);
            let run = || stack.forward(&msa, &pair, &msa_mask, &pair_mask, &opts, &mut RecomputeTape::new());
            let plain = run();
            let (sharded, tape) = run_sharded(&groups, run).unwrap();
            close(&sharded.msa, &plain.msa);
            close(&sharded.pair, &plain.pair);
            assert!(!tape.is_empty(), "the stack's collectives are recorded");
        }
        let cfg = ModelConfig::tiny();
        let t = &cfg.embeddings_and_evoformer.template;
        let vs = nn::VarStore::new(Device::Cpu);
        let stack = &t.template_pair_stack;
        let c_t = cfg.template_pair_channel();
        let pair_cfg = crate::model::evoformer::PairStackConfig {
            triangle_attention_starting_node: &stack.triangle_attention_starting_node,
            triangle_attention_ending_node: &stack.triangle_attention_ending_node,
            triangle_multiplication_outgoing: &stack.triangle_multiplication_outgoing,
            triangle_multiplication_incoming: &stack.triangle_multiplication_incoming,
            pair_transition: &stack.pair_transition,
        };
        let mut global = cfg.global_config;
        global.zero_init = false;
        let modules = PairStackModules::new(vs.root(), &pair_cfg, c_t, &global);
        let pair = Tensor::randn([2, 7, 7, c_t], F);
        let pair_mask = Tensor::ones([7, 7], F);
        let plain = modules.template_order(&pair, &pair_mask, &opts);
        let (sharded, _) = run_sharded(&groups, || {
            let shards = AxialShards::active(0, 7).unwrap();
            let rows = shards.template_block(&modules, &shards.enter_pair(&pair), &shards.pad_pair_mask(&pair_mask), &opts);
            shards.exit_pair(&rows)
        })
        .unwrap();
        close(&sharded, &plain);
    }

    /// The scopes name exactly the three stacks' variables of a real trunk.
    #[test]
    fn sharded_scopes_cover_the_three_stacks() {
        let vs = nn::VarStore::new(Device::Cpu);
        let _trunk = EmbeddingsAndEvoformer::new(vs.root(), &ModelConfig::tiny());
        let names: Vec<String> = vs.variables().into_keys().collect();
        for scope in SHARDED_STACK_SCOPES {
            assert!(names.iter().any(|n| n.starts_with(scope)), "no variable under {scope}");
        }
        for outside in ["evoformer.preprocess_msa.weights", "evoformer.template_embedding.single_template_embedding.embedding2d.weights"] {
            assert!(names.iter().any(|n| n == outside), "{outside} exists");
            assert!(!is_sharded_stack_parameter(outside));
        }
    }
}
