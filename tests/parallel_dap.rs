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

use helixfold::model::config::{ModelConfig, OuterProductMeanPosition, Precision, RuntimeOptions};
use helixfold::model::embedders::Recycled;
use helixfold::parallel::layout::ParallelLayout;
use helixfold::parallel::sharding::{run_sharded, ShardingGroups};
use helixfold::train::batches::BatchSource;
use ranks::{die_or_survive, kill_rank_one, read_results, role, run_ranks_prepared, values, world_group, write_results, Role};
use sharded_trunk::{assert_close, compare_with_one_process, config, trunk_fixture, trunk_rank, Case, FLOAT, N_RES};
use std::collections::BTreeMap;
use std::sync::Arc;
use training::{flat_parameters, tiny_model, tiny_training, tiny_training_with};

/// DAP=2 against one process on the same trunk, batch and dropout seed, in AlphaFold's block
/// order (tolerances at [`compare_with_one_process`]).
#[test]
fn dap_trunk_matches_one_process() {
    if let Some(role) = role() {
        return trunk_rank(&role, dap_layout());
    }
    compare_with_one_process("dap_trunk_matches_one_process", 2, Case::plain(OuterProductMeanPosition::Origin));
}

/// The same with the outer product mean first in every block (AlphaFold-Multimer's order).
#[test]
fn dap_trunk_with_outer_product_first_matches_one_process() {
    if let Some(role) = role() {
        return trunk_rank(&role, dap_layout());
    }
    compare_with_one_process("dap_trunk_with_outer_product_first_matches_one_process", 2, Case::plain(OuterProductMeanPosition::First));
}

/// DAP=2 in bf16 against one process in bf16: the collectives carry bf16 activations over
/// Gloo (tolerance at [`compare_with_one_process`]).
#[test]
fn dap_trunk_in_bf16_matches_one_process() {
    if let Some(role) = role() {
        return trunk_rank(&role, dap_layout());
    }
    let case = Case { precision: Precision::Bf16, ..Case::plain(OuterProductMeanPosition::Origin) };
    compare_with_one_process("dap_trunk_in_bf16_matches_one_process", 2, case);
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

/// Trains one step with DAP over the world, with recomputation as the parent wrote.
fn step_rank(role: &Role) {
    let recompute = std::fs::read_to_string(role.out.join("recompute")).unwrap() == "true";
    let (_store, group) = world_group(role);
    let (mut trainer, mut source) = tiny_training_with(&step_model(), STEP_SEED, |config| config.runtime.recompute = recompute)
        .expect("the parent checked the shared data");
    trainer.set_sharding(ShardingGroups::dap(Arc::new(group))).unwrap();
    let report = trainer.step(&source.batch(0).unwrap()).unwrap();
    let mut results = BTreeMap::new();
    results.insert("parameters".to_string(), values(&flat_parameters(&trainer)));
    results.insert("loss".to_string(), vec![report.loss as f32]);
    results.insert("grad_norm".to_string(), vec![report.grad_norm as f32]);
    write_results(role, &results);
}

/// One Trainer step with DAP=2 (1psm cropped to 31 residues, dropout on, one recycle drawn as
/// the single process draws it) against one process, without and with recomputation on the
/// ranks (the one process keeps its activations): loss and gradient norm to 1e-5 relative;
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
    for recompute in [false, true] {
        let out = run_ranks_prepared("dap_training_step_matches_one_process", 2, |out| {
            std::fs::write(out.join("recompute"), recompute.to_string()).unwrap()
        });
        for rank in 0..2 {
            let got = read_results(out.path(), rank);
            let label = format!("recompute={recompute} rank {rank}");
            assert_close(&format!("{label} loss"), &got["loss"], &[report.loss as f32], 1e-5);
            assert_close(&format!("{label} grad_norm"), &got["grad_norm"], &[report.grad_norm as f32], 1e-5);
            let have = &got["parameters"];
            assert_eq!(have.len(), expected.len());
            let worst = have.iter().zip(&expected).map(|(h, w)| (h - w).abs()).fold(0f32, f32::max);
            assert!(worst <= 2e-6, "{label}: parameters differ by up to {worst}");
        }
    }
}

fn dying_rank(role: &Role) {
    let (_store, group) = world_group(role);
    let group = Arc::new(group);
    die_or_survive(role, &group, || {
        let (_vs, trunk, batch) = trunk_fixture(OuterProductMeanPosition::Origin);
        let prev = Recycled::zeros(N_RES, &config(OuterProductMeanPosition::Origin).embeddings_and_evoformer, FLOAT);
        run_sharded(&ShardingGroups::dap(Arc::clone(&group)), || trunk.forward(&batch, &prev, &RuntimeOptions::default()))?.0?;
        Ok(())
    });
}

/// A DAP peer that dies while the other rank runs the forward pass (waiting for it in the
/// first collective, or reaching it after the death): the survivor's pass returns an error
/// naming the collective within the group's timeout, and no panic escapes.
#[test]
fn a_dead_dap_peer_is_an_error_within_the_timeout() {
    if let Some(role) = role() {
        return dying_rank(&role);
    }
    let error = kill_rank_one("a_dead_dap_peer_is_an_error_within_the_timeout");
    assert!(error.contains("collective DAP"), "{error}");
}
