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
use helixfold::model::config::{ModelConfig, OuterProductMeanPosition, Precision, RuntimeOptions};
use helixfold::model::embedders::Recycled;
use helixfold::model::primitives::lock_generator;
use helixfold::model::trunk::{EmbeddingsAndEvoformer, TrunkBatch};
use helixfold::parallel::groups::{ParallelGroups, Placement, RankInfo};
use helixfold::parallel::layout::ParallelLayout;
use helixfold::parallel::process_group::{ReduceOp, Store};
use helixfold::parallel::sharding::{run_sharded, ShardingGroups};
use std::collections::BTreeMap;
use std::path::Path;
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

/// What a comparison runs: the blocks' order, whether the sharded ranks recompute their stacks
/// in the backward pass (`model::recompute`; the one process keeps its activations) and the
/// precision both run in.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub position: OuterProductMeanPosition,
    pub recompute: bool,
    pub precision: Precision,
}

impl Case {
    /// AlphaFold's fp32 pass with the blocks in `position`'s order.
    pub fn plain(position: OuterProductMeanPosition) -> Self {
        Self { position, recompute: false, precision: Precision::Fp32 }
    }

    fn write(&self, dir: &Path) {
        let bf16 = self.precision == Precision::Bf16;
        std::fs::write(dir.join("case"), format!("{} {} {bf16}", self.position.name(), self.recompute)).unwrap();
    }

    fn read(dir: &Path) -> Self {
        let text = std::fs::read_to_string(dir.join("case")).unwrap();
        let words: Vec<&str> = text.split(' ').collect();
        let precision = if words[2] == "true" { Precision::Bf16 } else { Precision::Fp32 };
        Self { position: OuterProductMeanPosition::from_name(words[0]).unwrap(), recompute: words[1] == "true", precision }
    }

    fn label(&self) -> String {
        format!("{} recompute={} {:?}", self.position.name(), self.recompute, self.precision)
    }
}

/// The trunk's outputs (msa, pair, single), the loss [`weighted_sum`] of them and every
/// variable's whole gradient (`grad NAME`), in one process (`groups` None) or as one rank of a
/// sharded pass, as `case` says (outputs in fp32 whatever the precision).
pub fn trunk_run(case: Case, groups: Option<&ShardingGroups>) -> BTreeMap<String, Tensor> {
    let position = case.position;
    // The parent's tests share libtorch's generator.
    let _generator = lock_generator();
    let (vs, trunk, batch) = trunk_fixture(position);
    let prev = Recycled::zeros(N_RES, &config(position).embeddings_and_evoformer, FLOAT);
    let opts = RuntimeOptions { training: true, recompute: case.recompute, precision: case.precision, ..Default::default() };
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

/// A rank of [`compare_with_one_process`]: the trunk under `layout`, in the case the parent
/// wrote.
pub fn trunk_rank(role: &Role, layout: ParallelLayout) {
    let case = Case::read(&role.out);
    let (_store, _groups, sharding) = join_layout(role, layout);
    let results = trunk_run(case, Some(&sharding));
    write_results(role, &results.iter().map(|(k, v)| (k.clone(), values(v))).collect());
}

/// `have` against `want` to `tolerance` relative to the largest magnitude of `want` (at least 1).
pub fn assert_close(name: &str, have: &[f32], want: &[f32], tolerance: f32) {
    assert_eq!(have.len(), want.len(), "{name}: length");
    let scale = want.iter().fold(1f32, |m, w| m.max(w.abs()));
    let worst = have.iter().zip(want).map(|(h, w)| (h - w).abs()).fold(0f32, f32::max);
    assert!(worst <= tolerance * scale, "{name}: differs by {worst} (scale {scale})");
}

/// `have` (a bf16 run) is as accurate as `single` (the one-process bf16 run), both measured
/// against `exact` (the one-process fp32 run): its largest error is at most twice the single
/// process's, plus four bf16 steps (4·2⁻⁸) of the largest magnitude. Measured: the two errors
/// agree to 2% where bf16 is far off (up to 10× the magnitude, on gradients of cancelling
/// sums), and differ by up to 2.9× (0.014 against 0.005 of 1) where both are small.
fn assert_as_accurate(name: &str, have: &[f32], single: &[f32], exact: &[f32]) {
    assert_eq!(have.len(), exact.len(), "{name}: length");
    let scale = exact.iter().fold(1f32, |m, w| m.max(w.abs()));
    let error = |values: &[f32]| values.iter().zip(exact).map(|(v, e)| (v - e).abs()).fold(0f32, f32::max);
    let (sharded, one_process) = (error(have), error(single));
    let bound = 2.0 * one_process + 4.0 * scale / 256.0;
    assert!(sharded <= bound, "{name}: off fp32 by {sharded}, one bf16 process by {one_process} (scale {scale})");
}

/// Runs `test`'s `world` ranks (each calling [`trunk_rank`]) in `case` and compares every
/// rank with one process: the outputs to 1e-5 relative to their largest magnitude, the loss and
/// every gradient to 1e-4 relative to their largest element (at least 1). A sharded pass
/// reorders fp32 sums (DAP's blocked products, gradients summed over ranks); measured
/// differences are below 6e-7 for the outputs and 5e-6 for the gradients, and the loss, a signed
/// sum of ~10³ outputs that largely cancel, each off by up to ~1e-6, moves by up to 2.1e-5
/// (BP×DAP; 4e-6 with DAP alone). A wrong dropout block, order or dual gives differences of
/// order one. With `recompute` the ranks recompute their stacks in the backward pass and the
/// one process does not, so the replay of blocks, dropout and collectives is compared as well.
/// In bf16 the reordered sums round differently (gradients differ from the one bf16 process by
/// up to 5% of their largest element), so a bf16 run is held to the accuracy of the one bf16
/// process instead, both against the fp32 run ([`assert_as_accurate`]); the collectives carry
/// bf16 tensors.
pub fn compare_with_one_process(test: &str, world: usize, case: Case) {
    tch::set_num_threads(1);
    let expected = trunk_run(Case { recompute: false, ..case }, None);
    let exact = (case.precision == Precision::Bf16).then(|| trunk_run(Case { recompute: false, precision: Precision::Fp32, ..case }, None));
    let nonzero_gradients = expected.iter().filter(|(k, v)| k.starts_with("grad ") && v.abs().max().double_value(&[]) > 0.0).count();
    assert!(nonzero_gradients > 100, "the loss reaches the parameters ({nonzero_gradients})");
    let out = run_ranks_prepared(test, world, |out| case.write(out));
    for rank in 0..world {
        let got = read_results(out.path(), rank);
        assert_eq!(got.len(), expected.len(), "rank {rank} reports every value");
        for (name, want) in &expected {
            let label = format!("{} rank {rank} {name}", case.label());
            match &exact {
                Some(exact) => assert_as_accurate(&label, &got[name], &values(want), &values(&exact[name])),
                None => {
                    let tolerance = if matches!(name.as_str(), "msa" | "pair" | "single") { 1e-5 } else { 1e-4 };
                    assert_close(&label, &got[name], &values(want), tolerance);
                }
            }
        }
    }
}
