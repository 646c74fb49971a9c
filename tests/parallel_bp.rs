//! Branch parallelism on two Gloo processes, and BP=2 × DAP=2 on four, against one process
//! (harness: `support/ranks.rs`, trunk and comparison: `support/sharded_trunk.rs`): the trunk's
//! outputs, a loss and every parameter's gradient, for HelixFold's parallel Evoformer
//! (`outer_product_mean=end`, whose branches overlap) and AlphaFold's order (`origin`, whose
//! ranks take turns). BP's exchanges add zeros, which is exact, but its gradients add the two
//! ranks' parts where one process accumulates them in its own order, and DAP reorders the sums
//! inside the modules, so results agree to rounding. The session-level training step under these
//! layouts is in `parallel_session.rs`.
#[path = "support/ranks.rs"]
mod ranks;
#[path = "support/sharded_trunk.rs"]
mod sharded_trunk;

use helixfold::model::config::OuterProductMeanPosition;
use helixfold::parallel::layout::ParallelLayout;
use ranks::role;
use sharded_trunk::{compare_with_one_process, trunk_rank, Case};

#[test]
fn bp_trunk_matches_one_process() {
    let layout = ParallelLayout::new(1, 1, 2).unwrap();
    if let Some(role) = role() {
        return trunk_rank(&role, layout);
    }
    for position in [OuterProductMeanPosition::End, OuterProductMeanPosition::Origin] {
        compare_with_one_process("bp_trunk_matches_one_process", 2, Case::plain(position));
    }
}

#[test]
fn bp_and_dap_trunk_matches_one_process() {
    let layout = ParallelLayout::new(1, 2, 2).unwrap();
    if let Some(role) = role() {
        return trunk_rank(&role, layout);
    }
    compare_with_one_process("bp_and_dap_trunk_matches_one_process", 4, Case::plain(OuterProductMeanPosition::End));
}

/// BP=2 × DAP=2 with the ranks recomputing their stacks in the backward pass (each block's
/// collectives and dropout replayed) against one process that keeps its activations.
#[test]
fn bp_and_dap_trunk_with_recomputation_matches_one_process() {
    let layout = ParallelLayout::new(1, 2, 2).unwrap();
    if let Some(role) = role() {
        return trunk_rank(&role, layout);
    }
    let case = Case { recompute: true, ..Case::plain(OuterProductMeanPosition::End) };
    compare_with_one_process("bp_and_dap_trunk_with_recomputation_matches_one_process", 4, case);
}
