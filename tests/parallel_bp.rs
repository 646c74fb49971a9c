//! Branch parallelism on two Gloo processes, and BP=2 × DAP=2 on four, against one process
//! (harness: `support/ranks.rs`): the trunk's outputs, a loss and every parameter's gradient,
//! for HelixFold's parallel Evoformer (`outer_product_mean=end`, whose branches overlap) and
//! AlphaFold's order (`origin`, whose ranks take turns). The session-level training step under
//! these layouts is in `parallel_session.rs`.
//!
//! The model is the tiny preset with non-zero initialisation, in training mode (dropout on),
//! with an odd residue count so that DAP pads. Gradients follow the rule of
//! `model::branch_parallel`: the loss counts on the BP group's MSA-branch rank, every gradient is
//! summed over the BP group, and the sharded stacks' gradients over the DAP group. BP's exchanges
//! add zeros, which is exact, but its gradients add the two ranks' parts where one process
//! accumulates them in its own order, and DAP reorders the sums inside the modules: results
//! agree to rounding; the tolerances are stated at the test.
#[path = "support/ranks.rs"]
mod ranks;

use helixfold::model::axial_parallel::is_sharded_stack_parameter;
use helixfold::model::branch_parallel::MSA_BRANCH_RANK;
use helixfold::model::config::{ModelConfig, OuterProductMeanPosition, RuntimeOptions};
use helixfold::model::embedders::Recycled;
use helixfold::model::primitives::lock_generator;
use helixfold::model::trunk::{EmbeddingsAndEvoformer, TrunkBatch};
use helixfold::parallel::autograd::CommTape;
use helixfold::parallel::groups::{ParallelGroups, Placement, RankInfo};
use helixfold::parallel::layout::{Axis, ParallelLayout};
use helixfold::parallel::process_group::{ReduceOp, Store};
use helixfold::parallel::sharding::{run_sharded, ShardingGroups};
use ranks::{read_results, role, values, write_results, Role, GROUP_TIMEOUT};
use std::collections::BTreeMap;
use std::sync::Arc;
use tch::{nn, Device, Kind, Tensor};

const FLOAT: (Kind, Device) = (Kind::Float, Device::Cpu);
const MODEL_SEED: i64 = 31;
const DROPOUT_SEED: i64 = 37;
/// Residues (odd: DAP pads them to 8).
const N_RES: i64 = 7;
const N_SEQ: i64 = 3;
const N_TEMPL: i64 = 2;
const N_EXTRA: i64 = 5;

fn config(position: OuterProductMeanPosition) -> ModelConfig {
    let mut cfg = ModelConfig::tiny();
    cfg.global_config.zero_init = false;
    cfg.embeddings_and_evoformer.evoformer.outer_product_mean.position = position;
    cfg
}

/// `Σ sin(index) ⊙ out` over msa, pair and single: every output element weighs differently.
fn weighted_sum(outputs: &[&Tensor]) -> Tensor {
    outputs
        .iter()
        .map(|t| (*t * Tensor::arange(t.numel() as i64, FLOAT).sin().view(t.size().as_slice())).sum(Kind::Float))
        .reduce(|a, b| a + b)
        .unwrap()
}

/// The trunk's outputs, loss and whole gradients (by variable name) for `position`, in one
/// process (`groups` None) or as one rank of a sharded pass.
fn trunk_run(position: OuterProductMeanPosition, groups: Option<&ShardingGroups>) -> BTreeMap<String, Tensor> {
    // The parent's tests share libtorch's generator.
    let _generator = lock_generator();
    let cfg = config(position);
    tch::manual_seed(MODEL_SEED);
    let vs = nn::VarStore::new(Device::Cpu);
    let trunk = EmbeddingsAndEvoformer::new(vs.root(), &cfg);
    let batch = TrunkBatch::tiny_random(N_RES, N_SEQ, N_EXTRA, Some(N_TEMPL));
    let prev = Recycled::zeros(N_RES, &cfg.embeddings_and_evoformer, FLOAT);
    let opts = RuntimeOptions { training: true, ..Default::default() };
    tch::manual_seed(DROPOUT_SEED);
    let (out, tape) = match groups {
        Some(groups) => run_sharded(groups, || trunk.forward(&batch, &prev, &opts)).unwrap(),
        None => (trunk.forward(&batch, &prev, &opts), CommTape::new()),
    };
    let out = out.unwrap();
    let loss = weighted_sum(&[&out.msa, &out.pair, &out.single]);
    let bp = groups.and_then(|g| g.bp.as_ref());
    let counted = match bp {
        Some(group) if group.rank() != MSA_BRANCH_RANK => &loss * 0.0,
        _ => loss.shallow_clone(),
    };
    tape.backward(&counted).unwrap();
    let mut results = BTreeMap::new();
    for (name, variable) in vs.variables().into_iter().collect::<BTreeMap<_, _>>() {
        let mut grad = variable.grad();
        if !grad.defined() {
            grad = variable.zeros_like();
        }
        if let Some(group) = bp {
            grad = group.all_reduce(&grad, ReduceOp::Sum).unwrap();
        }
        if let (Some(group), true) = (groups.and_then(|g| g.dap.as_ref()), is_sharded_stack_parameter(&name)) {
            grad = group.all_reduce(&grad, ReduceOp::Sum).unwrap();
        }
        results.insert(format!("grad {name}"), grad);
    }
    for (name, tensor) in [("msa", &out.msa), ("pair", &out.pair), ("single", &out.single), ("loss", &loss)] {
        results.insert(name.to_string(), tensor.detach());
    }
    results
}

/// The position each test rank runs, passed through the output folder's name.
fn position_of(role: &Role) -> OuterProductMeanPosition {
    let name = std::fs::read_to_string(role.out.join("position")).unwrap();
    OuterProductMeanPosition::from_name(&name).unwrap()
}

fn trunk_rank(role: &Role, layout: ParallelLayout) {
    tch::set_num_threads(1);
    let store = Store::connect("127.0.0.1", role.port, role.world, role.rank == 0, GROUP_TIMEOUT).unwrap();
    let me = RankInfo::here(role.rank, Placement::Cpu { threads: 1 });
    let groups = ParallelGroups::join(&store, layout, me, "127.0.0.1", GROUP_TIMEOUT).unwrap();
    let sharding = ShardingGroups {
        dap: (layout.dap > 1).then(|| Arc::clone(groups.axis(Axis::Dap))),
        bp: (layout.bp > 1).then(|| Arc::clone(groups.axis(Axis::Bp))),
    };
    let results = trunk_run(position_of(role), Some(&sharding));
    write_results(role, &results.iter().map(|(k, v)| (k.clone(), values(v))).collect());
}

/// `have` against `want` to `tolerance` relative to the largest magnitude of `want` (at least 1).
fn assert_close(name: &str, have: &[f32], want: &[f32], tolerance: f32) {
    assert_eq!(have.len(), want.len(), "{name}: length");
    let scale = want.iter().fold(1f32, |m, w| m.max(w.abs()));
    let worst = have.iter().zip(want).map(|(h, w)| (h - w).abs()).fold(0f32, f32::max);
    assert!(worst <= tolerance * scale, "{name}: differs by {worst} (scale {scale})");
}

/// Runs `test`'s ranks for each position and compares every rank with one process: outputs and
/// gradients to 1e-4 relative to their largest element, the loss to 1e-5 (fp32 sums of a few
/// dozen terms reordered move results by a few 1e-6; the bounds leave a margin of ten).
fn check_against_one_process(test: &str, world: usize, positions: &[OuterProductMeanPosition]) {
    tch::set_num_threads(1);
    for &position in positions {
        let expected = trunk_run(position, None);
        let out = run_ranks_with(test, world, position);
        for rank in 0..world {
            let got = read_results(out.path(), rank);
            assert_eq!(got.len(), expected.len(), "rank {rank} reports every value");
            for (name, want) in &expected {
                let tolerance = if name == "loss" { 1e-5 } else { 1e-4 };
                assert_close(&format!("{} rank {rank} {name}", position.name()), &got[name], &values(want), tolerance);
            }
        }
    }
}

/// `run_ranks` with the position written where the ranks read it.
fn run_ranks_with(test: &str, world: usize, position: OuterProductMeanPosition) -> tempfile::TempDir {
    ranks::run_ranks_prepared(test, world, |out| std::fs::write(out.join("position"), position.name()).unwrap())
}

#[test]
fn bp_trunk_matches_one_process() {
    let layout = ParallelLayout::new(1, 1, 2).unwrap();
    if let Some(role) = role() {
        return trunk_rank(&role, layout);
    }
    check_against_one_process(
        "bp_trunk_matches_one_process",
        2,
        &[OuterProductMeanPosition::End, OuterProductMeanPosition::Origin],
    );
}

#[test]
fn bp_and_dap_trunk_matches_one_process() {
    let layout = ParallelLayout::new(1, 2, 2).unwrap();
    if let Some(role) = role() {
        return trunk_rank(&role, layout);
    }
    check_against_one_process("bp_and_dap_trunk_matches_one_process", 4, &[OuterProductMeanPosition::End]);
}
