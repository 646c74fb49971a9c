//! Branch parallelism (BP) of an Evoformer block, HelixFold's (Wang et al. (2022), "HelixFold:
//! An Efficient Implementation of AlphaFold2 using PaddlePaddle", Sec. 3.2; PaddleHelix's
//! `distributed/bp.py` and `EvoformerIteration` with `outer_product_mean_position`): of the two
//! ranks of a BP group, one runs the MSA branch and the outer product mean, the other the pair
//! branch, and they exchange the results so that both leave the block with the whole
//! `(msa, pair)`.
//!
//! With the outer product mean at the end of the block ("parallel Evoformer", `end`) the
//! branches are independent and run at the same time: `pair' = PairBranch(pair) +
//! OuterProductMean(MSABranch(msa, pair))`. In AlphaFold's order (`origin`) the pair branch
//! needs the outer product first, so the ranks take turns; with `first` (multimer) the outer
//! product comes first and the branches then overlap. Either way the result is the one-process
//! block's.
//!
//! An exchange sums the ranks' parts (zeros where a rank has none): forward a sum, backward a
//! sum of the ranks' gradients (FastFold's `reduce` then `copy` on the active pass's tape), so
//! each part receives the gradient of every rank's use of the result. Training counts the loss
//! on one rank of the group (the others back-propagate zero) and sums every parameter's
//! gradient over the group: each parameter's gradient is then its whole one (see
//! `train::trainer`).
use super::config::OuterProductMeanPosition;
use super::evoformer::{BlockParts, Part, PartSeeds};
use super::recompute::grad_enabled;
use crate::parallel::process_group::ProcessGroup;
use crate::parallel::sharding::record;
use std::sync::Arc;
use tch::Tensor;

/// The rank of a BP group that runs the MSA branch and the outer product mean (and whose loss
/// counts in training); the other runs the pair branch.
pub const MSA_BRANCH_RANK: usize = 0;

/// Sums `mine` (this rank's part; zeros shaped like `like` where it has none) over the group.
fn exchange(group: &Arc<ProcessGroup>, mine: Option<Tensor>, like: &Tensor) -> Tensor {
    let part = mine.unwrap_or_else(|| {
        let zeros = like.zeros_like();
        // A part that takes part in autograd on one rank must on every rank, so that the
        // ranks record the same collectives for the backward pass.
        if grad_enabled() {
            zeros.set_requires_grad(true)
        } else {
            zeros
        }
    });
    record("BP exchange", |tape| {
        let summed = tape.reduce(group, &part)?;
        tape.copy(group, &summed)
    })
}

/// One block with its branches on the two ranks of `group`; see the module documentation.
pub(super) fn compose<P: BlockParts>(
    parts: &P,
    group: &Arc<ProcessGroup>,
    position: OuterProductMeanPosition,
    seeds: &PartSeeds,
    msa: P::Act,
    pair: P::Act,
) -> (P::Act, P::Act) {
    let msa_rank = group.rank() == MSA_BRANCH_RANK;
    let share = |mine: Option<P::Act>, like: &P::Act| {
        parts.from_tensor(exchange(group, mine.map(|act| parts.to_tensor(&act)), &parts.to_tensor(like)))
    };
    // `OuterProductMean(msa)` with dropout, alone (added to zeros).
    let outer_product = |msa: &P::Act| {
        let zeros = parts.from_tensor(parts.to_tensor(&pair).zeros_like());
        seeds.run(Part::OuterProduct, || parts.outer_product_update(msa, &zeros))
    };
    let plus = |a: &P::Act, b: &P::Act| parts.from_tensor(parts.to_tensor(a) + parts.to_tensor(b));
    match position {
        OuterProductMeanPosition::End => {
            let (new_msa, pair_part) = if msa_rank {
                let new_msa = seeds.run(Part::Msa, || parts.msa_branch(&msa, &pair));
                let outer = outer_product(&new_msa);
                (Some(new_msa), outer)
            } else {
                (None, seeds.run(Part::Pair, || parts.pair_branch(&pair)))
            };
            (share(new_msa, &msa), share(Some(pair_part), &pair))
        }
        OuterProductMeanPosition::Origin => {
            let (new_msa, outer) = if msa_rank {
                let new_msa = seeds.run(Part::Msa, || parts.msa_branch(&msa, &pair));
                let outer = outer_product(&new_msa);
                (Some(new_msa), Some(outer))
            } else {
                (None, None)
            };
            let updated = plus(&pair, &share(outer, &pair));
            let branch = (!msa_rank).then(|| seeds.run(Part::Pair, || parts.pair_branch(&updated)));
            (share(new_msa, &msa), share(branch, &pair))
        }
        OuterProductMeanPosition::First => {
            let outer = msa_rank.then(|| outer_product(&msa));
            let updated = plus(&pair, &share(outer, &pair));
            let new_msa = msa_rank.then(|| seeds.run(Part::Msa, || parts.msa_branch(&msa, &updated)));
            let branch = (!msa_rank).then(|| seeds.run(Part::Pair, || parts.pair_branch(&updated)));
            (share(new_msa, &msa), share(branch, &pair))
        }
    }
}
