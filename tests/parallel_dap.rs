//! Dynamic axial parallelism on two Gloo processes against one process (harness:
//! `support/ranks.rs`): the trunk's outputs, a loss and its gradient, and a whole training step.
//!
//! Both runs use the tiny preset with non-zero initialisation and dropout active (training
//! mode), an odd residue count and odd MSA depths, so the padding to a multiple of the degree
//! and the sharded dropout masks are exercised. The sharded run reorders floating-point
//! reductions (the padded, blocked matrix products; partial gradients summed over the ranks), so
//! the results agree to rounding, not bit for bit; the tolerances are stated at each comparison.
#[path = "support/ranks.rs"]
mod ranks;
#[path = "support/training.rs"]
mod training;

use helixfold::model::axial_parallel::is_sharded_stack_parameter;
use helixfold::model::config::{ModelConfig, OuterProductMeanPosition, RuntimeOptions};
use helixfold::model::embedders::Recycled;
use helixfold::model::trunk::{EmbeddingsAndEvoformer, TrunkBatch};
use helixfold::parallel::autograd::CommTape;
use helixfold::parallel::process_group::ReduceOp;
use helixfold::parallel::sharding::{run_sharded, ShardingGroups};
use helixfold::train::batches::BatchSource;
use ranks::{read_results, role, run_ranks, spawn_ranks, values, wait_all, world_group, write_results, Role, GROUP_TIMEOUT, RANK_LIMIT};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tch::{nn, Device, Kind, Tensor};
use training::{flat_parameters, tiny_model, tiny_training};

const FLOAT: (Kind, Device) = (Kind::Float, Device::Cpu);
/// Seeds the weights and the batch.
const MODEL_SEED: i64 = 17;
/// Seeds the dropout masks of the forward pass.
const DROPOUT_SEED: i64 = 23;
/// Residues (odd: padded to 8).
const N_RES: i64 = 7;
/// MSA rows: 3 plus 2 template rows, padded to 6.
const N_SEQ: i64 = 3;
const N_TEMPL: i64 = 2;
/// Extra MSA rows, padded to 6.
const N_EXTRA: i64 = 5;

/// The tiny preset with non-zero initialisation; `outer_product_first`: the multimer block order.
fn tiny_nonzero(outer_product_first: bool) -> ModelConfig {
    let mut cfg = ModelConfig::tiny();
    cfg.global_config.zero_init = false;
    if outer_product_first {
        cfg.embeddings_and_evoformer.evoformer.outer_product_mean.position = OuterProductMeanPosition::First;
    }
    cfg
}

/// The trunk, its variables and a batch, identical in every process.
fn trunk_fixture(outer_product_first: bool) -> (nn::VarStore, EmbeddingsAndEvoformer, TrunkBatch) {
    tch::manual_seed(MODEL_SEED);
    let vs = nn::VarStore::new(Device::Cpu);
    let trunk = EmbeddingsAndEvoformer::new(vs.root(), &tiny_nonzero(outer_product_first));
    let batch = TrunkBatch::tiny_random(N_RES, N_SEQ, N_EXTRA, Some(N_TEMPL));
    (vs, trunk, batch)
}

/// A loss that weighs every output element differently: `Σ w ⊙ out` over msa, pair and single
/// with `w = sin(index)`.
fn weighted_sum(outputs: &[&Tensor]) -> Tensor {
    outputs
        .iter()
        .map(|t| {
            let w = Tensor::arange(t.numel() as i64, FLOAT).sin().view(t.size().as_slice());
            (*t * w).sum(Kind::Float)
        })
        .reduce(|a, b| a + b)
        .unwrap()
}

/// Runs the trunk (under `groups` when given) and back-propagates [`weighted_sum`]; returns
/// the outputs, the loss and the gradients by variable name (stack gradients summed over DAP).
fn trunk_run(groups: Option<&ShardingGroups>, outer_product_first: bool) -> BTreeMap<String, Tensor> {
    // The parent's tests share libtorch's generator.
    let _generator = helixfold::model::primitives::lock_generator();
    let (vs, trunk, batch) = trunk_fixture(outer_product_first);
    let cfg = tiny_nonzero(outer_product_first);
    let prev = Recycled::zeros(N_RES, &cfg.embeddings_and_evoformer, FLOAT);
    let opts = RuntimeOptions { training: true, ..Default::default() };
    tch::manual_seed(DROPOUT_SEED);
    let (out, tape) = match groups {
        Some(groups) => run_sharded(groups, || trunk.forward(&batch, &prev, &opts)).unwrap(),
        None => (trunk.forward(&batch, &prev, &opts), CommTape::new()),
    };
    let out = out.unwrap();
    let loss = weighted_sum(&[&out.msa, &out.pair, &out.single]);
    tape.backward(&loss).unwrap();
    let mut results = BTreeMap::new();
    // By name, so that every rank all-reduces the same variable at the same time.
    let variables: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    for (name, variable) in variables {
        let mut grad = variable.grad();
        if !grad.defined() {
            grad = variable.zeros_like();
        }
        if let (Some(group), true) = (groups.and_then(|g| g.dap.as_ref()), is_sharded_stack_parameter(&name)) {
            grad = group.all_reduce(&grad, ReduceOp::Sum).unwrap();
        }
        results.insert(format!("grad {name}"), grad);
    }
    results.insert("msa".into(), out.msa.detach());
    results.insert("pair".into(), out.pair.detach());
    results.insert("single".into(), out.single.detach());
    results.insert("loss".into(), loss.detach());
    results
}

fn trunk_rank(role: &Role, outer_product_first: bool) {
    let (_store, group) = world_group(role);
    let groups = ShardingGroups::dap(Arc::new(group));
    let results = trunk_run(Some(&groups), outer_product_first);
    write_results(role, &results.iter().map(|(k, v)| (k.clone(), values(v))).collect());
}

/// `have` against `want` to `tolerance` relative to the largest magnitude of `want` (at least 1).
fn assert_close(name: &str, have: &[f32], want: &[f32], tolerance: f32) {
    assert_eq!(have.len(), want.len(), "{name}: length");
    let scale = want.iter().fold(1f32, |m, w| m.max(w.abs()));
    let worst = have.iter().zip(want).map(|(h, w)| (h - w).abs()).fold(0f32, f32::max);
    assert!(worst <= tolerance * scale, "{name}: differs by {worst} (scale {scale})");
}

/// Runs the trunk comparison of [`dap_trunk_matches_one_process`] for test `test`.
fn compare_trunks(test: &str, outer_product_first: bool) {
    tch::set_num_threads(1);
    let expected = trunk_run(None, outer_product_first);
    let out = run_ranks(test, 2);
    let nonzero_gradients = expected.iter().filter(|(k, v)| k.starts_with("grad ") && v.abs().max().double_value(&[]) > 0.0).count();
    assert!(nonzero_gradients > 100, "the loss reaches the parameters ({nonzero_gradients})");
    for rank in 0..2 {
        let got = read_results(out.path(), rank);
        assert_eq!(got.len(), expected.len(), "rank {rank} reports every value");
        for (name, want) in &expected {
            let tolerance = match name.as_str() {
                "loss" => 2e-5,
                "msa" | "pair" | "single" => 1e-5,
                _ => 1e-4,
            };
            assert_close(&format!("rank {rank} {name}"), &got[name], &values(want), tolerance);
        }
    }
}

/// DAP=2 against one process on the same trunk, batch and dropout seed: the trunk's outputs
/// (msa, pair, single) to 1e-5 relative to their largest magnitude, the loss to 2e-5 relative,
/// every variable's gradient (the stacks' summed over the ranks) to 1e-4 relative to its
/// largest element. The sharded run reorders fp32 sums (blocked products, partial gradients
/// summed over ranks): measured differences are below 6e-7 for the outputs and 5e-6 for the
/// gradients; the loss, a signed sum of ~10⁴ terms that largely cancel, differs by up to 4e-6
/// of itself (outer product first). A wrong dropout block, order or dual gives differences of
/// order one.
#[test]
fn dap_trunk_matches_one_process() {
    if let Some(role) = role() {
        return trunk_rank(&role, false);
    }
    compare_trunks("dap_trunk_matches_one_process", false);
}

/// The same with the outer product mean first in every block (AlphaFold-Multimer's order).
#[test]
fn dap_trunk_with_outer_product_first_matches_one_process() {
    if let Some(role) = role() {
        return trunk_rank(&role, true);
    }
    compare_trunks("dap_trunk_with_outer_product_first_matches_one_process", true);
}

const STEP_SEED: u64 = 9;
/// Residues after cropping 1psm (odd, so padded to 32).
const CROP: i64 = 31;

fn step_model() -> ModelConfig {
    let mut model = tiny_model(Some(CROP));
    model.global_config.zero_init = false;
    model
}

fn step_rank(role: &Role) {
    let (_store, group) = world_group(role);
    let (mut trainer, mut source) = tiny_training(&step_model(), STEP_SEED).expect("the parent checked the shared data");
    trainer.set_sharding(ShardingGroups::dap(Arc::new(group))).unwrap();
    let report = trainer.step(&source.batch(0).unwrap()).unwrap();
    let mut results = BTreeMap::new();
    results.insert("parameters".to_string(), values(&flat_parameters(&trainer)));
    results.insert("loss".to_string(), vec![report.loss as f32]);
    results.insert("grad_norm".to_string(), vec![report.grad_norm as f32]);
    write_results(role, &results);
}

/// One Trainer step with DAP=2 (1psm cropped to 31 residues, dropout on, one recycle drawn as
/// the single process draws it) against one process: loss and gradient norm to 1e-5 relative;
/// parameters to 2e-6 absolute. Adam's first step moves a parameter by `lr·g/(|g| + ε)`, whose
/// slope in `g` is at most `lr/ε` = 1e-3/1e-6, so rounding differences of the clipped gradient
/// (norm 0.1) of order 1e-10 move parameters by up to 1e-7, as measured (1.5e-7).
#[test]
fn dap_training_step_matches_one_process() {
    if let Some(role) = role() {
        return step_rank(&role);
    }
    tch::set_num_threads(1);
    let Some((mut single, mut source)) = tiny_training(&step_model(), STEP_SEED) else { return };
    let before = values(&flat_parameters(&single));
    let report = single.step(&source.batch(0).unwrap()).unwrap();
    let expected = values(&flat_parameters(&single));
    assert_ne!(before, expected, "the step changes the parameters");
    let out = run_ranks("dap_training_step_matches_one_process", 2);
    for rank in 0..2 {
        let got = read_results(out.path(), rank);
        assert_close(&format!("rank {rank} loss"), &got["loss"], &[report.loss as f32], 1e-5);
        assert_close(&format!("rank {rank} grad_norm"), &got["grad_norm"], &[report.grad_norm as f32], 1e-5);
        let have = &got["parameters"];
        assert_eq!(have.len(), expected.len());
        let worst = have.iter().zip(&expected).map(|(h, w)| (h - w).abs()).fold(0f32, f32::max);
        assert!(worst <= 2e-6, "rank {rank}: parameters differ by up to {worst}");
    }
}

fn dying_rank(role: &Role) {
    let (_store, group) = world_group(role);
    let group = Arc::new(group);
    group.barrier().unwrap();
    if role.rank == 1 {
        std::fs::write(role.out.join("ready"), b"").unwrap();
        // Killed by the parent while rank 0 runs the forward pass.
        std::thread::sleep(RANK_LIMIT);
        return;
    }
    let (_vs, trunk, batch) = trunk_fixture(false);
    let prev = Recycled::zeros(N_RES, &tiny_nonzero(false).embeddings_and_evoformer, FLOAT);
    let started = Instant::now();
    let outcome = run_sharded(&ShardingGroups::dap(group), || trunk.forward(&batch, &prev, &RuntimeOptions::default()));
    let error = format!("{:#}", outcome.err().expect("the forward pass with a dead peer fails"));
    write_results(role, &BTreeMap::from([("seconds".to_string(), vec![started.elapsed().as_secs_f32()])]));
    std::fs::write(role.out.join("error"), error).unwrap();
}

/// A DAP peer that dies while the other rank runs the forward pass (waiting for it in the
/// first collective, or reaching it after the death): the survivor's pass returns an error
/// naming the collective within the group's timeout, and no panic escapes.
#[test]
fn a_dead_dap_peer_is_an_error_within_the_timeout() {
    if let Some(role) = role() {
        return dying_rank(&role);
    }
    let out = tempfile::tempdir().unwrap();
    let mut children = spawn_ranks("a_dead_dap_peer_is_an_error_within_the_timeout", 2, out.path());
    let started = Instant::now();
    while !out.path().join("ready").exists() {
        assert!(started.elapsed() < RANK_LIMIT, "rank 1 never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    children[1].kill().unwrap();
    children[1].wait().unwrap();
    let mut survivor = [children.remove(0)];
    assert_eq!(wait_all(&mut survivor), [true], "rank 0 reports the failure and exits normally");
    let seconds = read_results(out.path(), 0)["seconds"][0];
    let error = std::fs::read_to_string(out.path().join("error")).unwrap();
    assert!(f64::from(seconds) <= GROUP_TIMEOUT.as_secs_f64() + 5.0, "took {seconds} s: {error}");
    assert!(error.contains("collective DAP"), "{error}");
}
