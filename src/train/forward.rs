//! The training forward pass, Jumper et al. (2021) Suppl. Alg. 31 ("Training"; Suppl. 1.10):
//! the number of recycling iterations is drawn uniformly from `0..=max` for every example, the
//! earlier iterations run without gradients, and the heads run on the last one, whose outputs
//! (head logits and the whole structure-module trajectory) are what every loss term needs.
//! As DeepMind's `modules.py` `AlphaFold.__call__` with `is_training` (`num_iter` drawn by
//! `jax.random.randint`, `stop_gradient` on the recycled values).
use crate::model::alphafold::{batch_copy, AlphaFold};
use crate::model::config::RuntimeOptions;
use crate::model::recompute::RecomputeTape;
use crate::model::structure_module::StructureModuleOutput;
use anyhow::{Context, Result};
use rand::Rng;
use std::collections::BTreeMap;
use tch::{Kind, Tensor};

/// The last iteration's outputs, with gradients; `N` residues, `S` MSA rows, `L` layers.
#[derive(Debug)]
pub struct TrainingOutputs {
    /// `[N, N, num_bins]`.
    pub distogram_logits: Tensor,
    /// `[S, N, 23]`.
    pub masked_msa_logits: Tensor,
    /// `[N, num_bins]` (50 in AlphaFold).
    pub predicted_lddt_logits: Tensor,
    /// `[N, 37]`.
    pub experimentally_resolved_logits: Tensor,
    /// `[N, N, num_bins]`, pTM models only.
    pub predicted_aligned_error_logits: Option<Tensor>,
    /// Frames, side-chain frames, torsions and atom positions of every layer (`[L, ...]`).
    pub structure: StructureModuleOutput,
    /// The recycle copy of the batch the last iteration read: its labels are the targets
    /// (the MSA labels `true_msa`, `bert_mask` differ between copies).
    pub labels: BTreeMap<String, Tensor>,
    /// Recycling iterations run before the last one.
    pub num_recycle: i64,
}

/// Number of recycles for one example: uniform on `0..=max_recycle`.
pub fn draw_num_recycle(max_recycle: i64, rng: &mut impl Rng) -> i64 {
    rng.gen_range(0..=max_recycle.max(0))
}

/// Runs `model` on `batch` (leading recycle axis of at least `num_recycle + 1` copies) with
/// `num_recycle` gradient-free recycles and returns the outputs of the last iteration in float
/// (the losses run in fp32 whatever the activations' precision), with the trunk's
/// recomputation tape: empty unless `opts.recompute`, and then to be run backward right after
/// the loss ([`RecomputeTape::backward`]).
pub fn forward_training<'m>(
    model: &'m AlphaFold,
    batch: &BTreeMap<String, Tensor>,
    num_recycle: i64,
    opts: &RuntimeOptions,
) -> Result<(TrainingOutputs, RecomputeTape<'m>)> {
    let last = model
        .last_iteration(batch, num_recycle, opts, |_| {})
        .context("training forward pass")?;
    let float = |t: Tensor| t.to_kind(Kind::Float);
    let (trunk, heads) = (&last.trunk, &model.heads);
    let predicted_aligned_error_logits = heads
        .predicted_aligned_error
        .as_ref()
        .map(|head| float(head.forward(&trunk.pair)));
    let outputs = TrainingOutputs {
        distogram_logits: float(heads.distogram.forward(&trunk.pair)),
        masked_msa_logits: float(heads.masked_msa.forward(&trunk.msa)),
        predicted_lddt_logits: float(heads.predicted_lddt.forward(&last.structure.act)),
        experimentally_resolved_logits: float(heads.experimentally_resolved.forward(&trunk.single)),
        predicted_aligned_error_logits,
        labels: batch_copy(batch, num_recycle)?,
        structure: last.structure,
        num_recycle,
    };
    Ok((outputs, last.trunk.recompute_tape))
}
