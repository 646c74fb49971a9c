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
#[path = "support/sharded_trunk.rs"]
mod sharded_trunk;
#[path = "support/training.rs"]
mod training;

use helixfold::model::config::{ModelConfig, OuterProductMeanPosition, RuntimeOptions};
use helixfold::model::embedders::Recycled;
use helixfold::parallel::layout::ParallelLayout;
use helixfold::parallel::sharding::{run_sharded, ShardingGroups};
use helixfold::train::batches::BatchSource;
use ranks::{read_results, role, run_ranks, spawn_ranks, values, wait_all, world_group, write_results, Role, GROUP_TIMEOUT, RANK_LIMIT};
use sharded_trunk::{assert_close, compare_with_one_process, config, trunk_fixture, trunk_rank, FLOAT, N_RES};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use training::{flat_parameters, tiny_model, tiny_training};

/// DAP=2 against one process on the same trunk, batch and dropout seed, in AlphaFold's block
/// order (tolerances at [`compare_with_one_process`]).
#[test]
fn dap_trunk_matches_one_process() {
    if let Some(role) = role() {
        return trunk_rank(&role, dap_layout());
    }
    compare_with_one_process("dap_trunk_matches_one_process", 2, OuterProductMeanPosition::Origin);
}

/// The same with the outer product mean first in every block (AlphaFold-Multimer's order).
#[test]
fn dap_trunk_with_outer_product_first_matches_one_process() {
    if let Some(role) = role() {
        return trunk_rank(&role, dap_layout());
    }
    compare_with_one_process("dap_trunk_with_outer_product_first_matches_one_process", 2, OuterProductMeanPosition::First);
}

fn dap_layout() -> ParallelLayout {
    ParallelLayout::new(1, 2, 1).unwrap()
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
    let (_vs, trunk, batch) = trunk_fixture(OuterProductMeanPosition::Origin);
    let prev = Recycled::zeros(N_RES, &config(OuterProductMeanPosition::Origin).embeddings_and_evoformer, FLOAT);
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
