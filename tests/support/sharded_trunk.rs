//! The trunk comparison the sharded-parallelism tests share (`parallel_dap.rs`,
//! `parallel_bp.rs`): the tiny preset's trunk with non-zero initialisation, in training mode
//! (dropout on), on a random batch with templates and an extra MSA whose residue count and MSA
//! depths are odd, so that DAP pads; run in one process, or as one rank of a layout's sharded
//! pass, and compared.
//!
//! Gradients follow the rule of `model::branch_parallel` and `model::axial_parallel`: the loss
//! counts on the BP group's MSA-branch rank (the other back-propagates zero), every gradient is
//! summed over the BP group, and the sharded stacks' gradients over the DAP group.
#![allow(dead_code)]
use super::ranks::{read_results, run_ranks_prepared, values, write_results, Role, GROUP_TIMEOUT};
use helixfold::model::axial_parallel::is_sharded_stack_parameter;
use helixfold::model::branch_parallel::MSA_BRANCH_RANK;
use helixfold::model::config::{ModelConfig, OuterProductMeanPosition, RuntimeOptions};
use helixfold::model::embedders::Recycled;
use helixfold::model::primitives::lock_generator;
use helixfold::model::trunk::{EmbeddingsAndEvoformer, TrunkBatch};
use helixfold::parallel::groups::{ParallelGroups, Placement, RankInfo};
use helixfold::parallel::layout::ParallelLayout;
use helixfold::parallel::process_group::{ReduceOp, Store};
use helixfold::parallel::sharding::{run_sharded, ShardingGroups};
use std::collections::BTreeMap;
use tch::{nn, Device, Kind, Tensor};

pub const FLOAT: (Kind, Device) = (Kind::Float, Device::Cpu);
/// Seeds the weights and the batch.
const MODEL_SEED: i64 = 17;
/// Seeds the dropout masks of the forward pass.
const DROPOUT_SEED: i64 = 23;
/// Residues (odd: DAP=2 pads them to 8).
pub const N_RES: i64 = 7;
/// MSA rows: 3 plus 2 template rows, padded to 6.
const N_SEQ: i64 = 3;
const N_TEMPL: i64 = 2;
/// Extra MSA rows, padded to 6.
const N_EXTRA: i64 = 5;

/// The tiny preset with non-zero initialisation and the blocks' order `position`.
pub fn config(position: OuterProductMeanPosition) -> ModelConfig {
    let mut cfg = ModelConfig::tiny();
    cfg.global_config.zero_init = false;
    cfg.embeddings_and_evoformer.evoformer.outer_product_mean.position = position;
    cfg
}

/// The trunk, its variables and a batch, identical in every process.
pub fn trunk_fixture(position: OuterProductMeanPosition) -> (nn::VarStore, EmbeddingsAndEvoformer, TrunkBatch) {
    tch::manual_seed(MODEL_SEED);
    let vs = nn::VarStore::new(Device::Cpu);
    let trunk = EmbeddingsAndEvoformer::new(vs.root(), &config(position));
    let batch = TrunkBatch::tiny_random(N_RES, N_SEQ, N_EXTRA, Some(N_TEMPL));
    (vs, trunk, batch)
}

/// `Σ sin(index) ⊙ out` over the outputs: every element weighs differently.
fn weighted_sum(outputs: &[&Tensor]) -> Tensor {
    outputs
        .iter()
        .map(|t| (*t * Tensor::arange(t.numel() as i64, FLOAT).sin().view(t.size().as_slice())).sum(Kind::Float))
        .reduce(|a, b| a + b)
        .unwrap()
}

/// The trunk's outputs (msa, pair, single), the loss [`weighted_sum`] of them and every
/// variable's whole gradient (`grad NAME`), in one process (`groups` None) or as one rank of a
/// sharded pass; with `recompute`, the stacks keep only their blocks' inputs and replay them
/// in the backward pass (`model::recompute`).
pub fn trunk_run(position: OuterProductMeanPosition, groups: Option<&ShardingGroups>, recompute: bool) -> BTreeMap<String, Tensor> {
    // The parent's tests share libtorch's generator.
    let _generator = lock_generator();
    let (vs, trunk, batch) = trunk_fixture(position);
    let prev = Recycled::zeros(N_RES, &config(position).embeddings_and_evoformer, FLOAT);
    let opts = RuntimeOptions { training: true, recompute, ..Default::default() };
    tch::manual_seed(DROPOUT_SEED);
    let (out, tape) = match groups {
        Some(groups) => run_sharded(groups, || trunk.forward(&batch, &prev, &opts)).unwrap(),
        None => (trunk.forward(&batch, &prev, &opts), Default::default()),
    };
    let mut out = out.unwrap();
    let recompute_tape = std::mem::take(&mut out.recompute_tape);
    let loss = weighted_sum(&[&out.msa, &out.pair, &out.single]);
    let bp = groups.and_then(|g| g.bp.as_ref());
    let counted = match bp {
        Some(group) if group.rank() != MSA_BRANCH_RANK => &loss * 0.0,
        _ => loss.shallow_clone(),
    };
    recompute_tape.backward_sharded(tape, &counted).unwrap();
    let mut results = BTreeMap::new();
    // By name, so that every rank all-reduces the same variable at the same time.
    let variables: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    for (name, variable) in variables {
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

/// The groups of `layout` that shard a pass, joined as `role`'s rank.
pub fn join_layout(role: &Role, layout: ParallelLayout) -> (Store, ParallelGroups, ShardingGroups) {
    tch::set_num_threads(1);
    let store = Store::connect("127.0.0.1", role.port, role.world, role.rank == 0, GROUP_TIMEOUT).unwrap();
    let me = RankInfo::here(role.rank, Placement::Cpu { threads: 1 });
    let groups = ParallelGroups::join(&store, layout, me, "127.0.0.1", GROUP_TIMEOUT).unwrap();
    let sharding = groups.sharding();
    (store, groups, sharding)
}

/// A rank of [`compare_with_one_process`]: the trunk under `layout`, with the position and
/// recomputation the parent wrote.
pub fn trunk_rank(role: &Role, layout: ParallelLayout) {
    let name = std::fs::read_to_string(role.out.join("position")).unwrap();
    let position = OuterProductMeanPosition::from_name(&name).unwrap();
    let recompute = std::fs::read_to_string(role.out.join("recompute")).unwrap() == "true";
    let (_store, _groups, sharding) = join_layout(role, layout);
    let results = trunk_run(position, Some(&sharding), recompute);
    write_results(role, &results.iter().map(|(k, v)| (k.clone(), values(v))).collect());
}

/// `have` against `want` to `tolerance` relative to the largest magnitude of `want` (at least 1).
pub fn assert_close(name: &str, have: &[f32], want: &[f32], tolerance: f32) {
    assert_eq!(have.len(), want.len(), "{name}: length");
    let scale = want.iter().fold(1f32, |m, w| m.max(w.abs()));
    let worst = have.iter().zip(want).map(|(h, w)| (h - w).abs()).fold(0f32, f32::max);
    assert!(worst <= tolerance * scale, "{name}: differs by {worst} (scale {scale})");
}

/// Runs `test`'s `world` ranks (each calling [`trunk_rank`]) for `position` and compares every
/// rank with one process: the outputs to 1e-5 relative to their largest magnitude, the loss and
/// every gradient to 1e-4 relative to their largest element (at least 1). A sharded pass
/// reorders fp32 sums (DAP's blocked products, gradients summed over ranks); measured
/// differences are below 6e-7 for the outputs and 5e-6 for the gradients, and the loss, a signed
/// sum of ~10³ outputs that largely cancel, each off by up to ~1e-6, moves by up to 2.1e-5
/// (BP×DAP; 4e-6 with DAP alone). A wrong dropout block, order or dual gives differences of
/// order one. With `recompute` the ranks recompute their stacks in the backward pass and the
/// one process does not, so the replay of blocks, dropout and collectives is compared as well.
pub fn compare_with_one_process(test: &str, world: usize, position: OuterProductMeanPosition, recompute: bool) {
    tch::set_num_threads(1);
    let expected = trunk_run(position, None, false);
    let nonzero_gradients = expected.iter().filter(|(k, v)| k.starts_with("grad ") && v.abs().max().double_value(&[]) > 0.0).count();
    assert!(nonzero_gradients > 100, "the loss reaches the parameters ({nonzero_gradients})");
    let out = run_ranks_prepared(test, world, |out| {
        std::fs::write(out.join("position"), position.name()).unwrap();
        std::fs::write(out.join("recompute"), recompute.to_string()).unwrap();
    });
    for rank in 0..world {
        let got = read_results(out.path(), rank);
        assert_eq!(got.len(), expected.len(), "rank {rank} reports every value");
        for (name, want) in &expected {
            let tolerance = match name.as_str() {
                "msa" | "pair" | "single" => 1e-5,
                _ => 1e-4,
            };
            let label = format!("{} recompute={recompute} rank {rank} {name}", position.name());
            assert_close(&label, &got[name], &values(want), tolerance);
        }
    }
}
