//! Numeric parity of every trunk module and head with DeepMind's AlphaFold 2.0.0 (JAX/haiku),
//! on the cases `tests/reference/make_reference.py` generates (see tests/reference/README.md):
//! the same parameters (imported through `model::weights`) and inputs must give outputs within
//! max|Δ| / std(reference) ≤ 1e-4 in float32.
//!
//! Cases are generated on first use into `target/reference` (or `$HELIXFOLD_REFERENCE`) by
//! `helixfold::testing::reference_case`; where the generator cannot run (no JAX in `.venv`), a
//! test reports itself skipped, and fails when `CI` is set.
use helixfold::model::config::{ModelConfig, Orientation, RuntimeOptions};
use helixfold::model::embedders::Recycled;
use helixfold::model::evoformer::{EvoformerIteration, EvoformerStack};
use helixfold::model::heads::{
    DistogramHead, ExperimentallyResolvedHead, MaskedMsaHead, PredictedAlignedErrorHead,
    PredictedLddtHead,
};
use helixfold::model::msa_column_attention::MsaColumnAttention;
use helixfold::model::msa_column_global_attention::MsaColumnGlobalAttention;
use helixfold::model::msa_row_attention::MsaRowAttentionWithPairBias;
use helixfold::model::outer_product_mean::OuterProductMean;
use helixfold::model::transition::Transition;
use helixfold::model::triangle_attention::TriangleAttention;
use helixfold::model::triangle_multiplication::TriangleMultiplication;
use helixfold::model::trunk::{EmbeddingsAndEvoformer, TrunkBatch};
use helixfold::model::{confidence, weights};
use helixfold::testing::{generated_reference_case, reference_case, test_device};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

/// Channels of model_1 used by every module case.
const C_M: i64 = 256;
const C_Z: i64 = 128;
const C_E: i64 = 64;
const C_S: i64 = 384;
const TOLERANCE: f64 = 1e-4;

struct Case {
    params: BTreeMap<String, Tensor>,
    inputs: BTreeMap<String, Tensor>,
    outputs: BTreeMap<String, Tensor>,
}

fn load_case(name: &str) -> Option<Case> {
    Some(read_case(&reference_case(name)?))
}

fn read_case(dir: &Path) -> Case {
    let read = |f: &str| weights::read_haiku_npz(&dir.join(f)).unwrap();
    let inputs = read("inputs.npz").into_iter().map(|(k, t)| (k, t.to_device(test_device()))).collect();
    Case { params: read("params.npz"), inputs, outputs: read("outputs.npz") }
}

fn assert_close(name: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.size(), want.size(), "{name}: shape");
    let got = got.to_device(Device::Cpu);
    let want = want.to_kind(Kind::Double);
    let diff = (got.to_kind(Kind::Double) - &want).abs().max().double_value(&[]);
    let std = want.std(true).double_value(&[]).max(1e-12);
    assert!(
        diff / std <= TOLERANCE,
        "{name}: max|Δ| = {diff:e}, std(reference) = {std:e}, ratio {:e}",
        diff / std
    );
}

fn model_1_ptm() -> ModelConfig {
    ModelConfig::preset("model_1_ptm").unwrap()
}

/// Builds a module in a fresh store with `build`, imports the case's parameters (all must be
/// used), and returns the store with the module.
fn with_params<M>(case: &Case, build: impl FnOnce(&nn::Path) -> M) -> (nn::VarStore, M) {
    let vs = nn::VarStore::new(test_device());
    let module = build(&vs.root());
    weights::load_haiku_params(&vs, &case.params).unwrap();
    (vs, module)
}

fn evoformer_block_path<'a>(root: &nn::Path<'a>) -> nn::Path<'a> {
    root / "evoformer" / "evoformer_iteration" / 0
}

fn opts() -> RuntimeOptions {
    RuntimeOptions::default()
}

#[test]
fn msa_row_attention_with_pair_bias() {
    let Some(case) = load_case("msa_row_attention_with_pair_bias") else { return };
    let cfg = model_1_ptm();
    let (_vs, m) = with_params(&case, |p| {
        MsaRowAttentionWithPairBias::new(
            evoformer_block_path(p) / "msa_row_attention_with_pair_bias",
            &cfg.embeddings_and_evoformer.evoformer.msa_row_attention_with_pair_bias,
            C_M,
            C_Z,
            &cfg.global_config,
        )
    });
    let i = &case.inputs;
    let out = m.forward(&i["msa_act"], &i["msa_mask"], &i["pair_act"], &opts());
    assert_close("msa_row_attention_with_pair_bias", &out, &case.outputs["output"]);
    let chunked = m.forward(
        &i["msa_act"],
        &i["msa_mask"],
        &i["pair_act"],
        &RuntimeOptions { chunk_size: Some(4), ..opts() },
    );
    assert_close("msa_row_attention_with_pair_bias (chunked)", &chunked, &case.outputs["output"]);
    let fused = m.forward(
        &i["msa_act"],
        &i["msa_mask"],
        &i["pair_act"],
        &RuntimeOptions { fused_attention: true, ..opts() },
    );
    assert_close("msa_row_attention_with_pair_bias (fused)", &fused, &case.outputs["output"]);
}

#[test]
fn msa_column_attention() {
    let Some(case) = load_case("msa_column_attention") else { return };
    let cfg = model_1_ptm();
    let (_vs, m) = with_params(&case, |p| {
        MsaColumnAttention::new(
            evoformer_block_path(p) / "msa_column_attention",
            &cfg.embeddings_and_evoformer.evoformer.msa_column_attention,
            C_M,
            &cfg.global_config,
        )
    });
    let out = m.forward(&case.inputs["msa_act"], &case.inputs["msa_mask"], &opts());
    assert_close("msa_column_attention", &out, &case.outputs["output"]);
}

#[test]
fn msa_column_global_attention() {
    let Some(case) = load_case("msa_column_global_attention") else { return };
    let cfg = model_1_ptm();
    let (_vs, m) = with_params(&case, |p| {
        MsaColumnGlobalAttention::new(
            p / "evoformer" / "extra_msa_stack" / 0 / "msa_column_global_attention",
            &cfg.embeddings_and_evoformer.evoformer.msa_column_attention,
            C_E,
            &cfg.global_config,
        )
    });
    let out = m.forward(&case.inputs["msa_act"], &case.inputs["msa_mask"], &opts());
    assert_close("msa_column_global_attention", &out, &case.outputs["output"]);
}

#[test]
fn msa_transition() {
    let Some(case) = load_case("msa_transition") else { return };
    let cfg = model_1_ptm();
    let (_vs, m) = with_params(&case, |p| {
        Transition::new(
            evoformer_block_path(p) / "msa_transition",
            &cfg.embeddings_and_evoformer.evoformer.msa_transition,
            C_M,
            &cfg.global_config,
        )
    });
    assert_close("msa_transition", &m.forward(&case.inputs["msa_act"], &opts()), &case.outputs["output"]);
}

#[test]
fn outer_product_mean() {
    let Some(case) = load_case("outer_product_mean") else { return };
    let cfg = model_1_ptm();
    let (_vs, m) = with_params(&case, |p| {
        OuterProductMean::new(
            evoformer_block_path(p) / "outer_product_mean",
            &cfg.embeddings_and_evoformer.evoformer.outer_product_mean,
            C_M,
            C_Z,
            &cfg.global_config,
        )
    });
    let out = m.forward(&case.inputs["msa_act"], &case.inputs["msa_mask"], &opts());
    assert_close("outer_product_mean", &out, &case.outputs["output"]);
}

fn triangle_multiplication(name: &str) {
    let Some(case) = load_case(name) else { return };
    let cfg = model_1_ptm();
    let e = &cfg.embeddings_and_evoformer.evoformer;
    let module_cfg = if name.ends_with("outgoing") {
        &e.triangle_multiplication_outgoing
    } else {
        &e.triangle_multiplication_incoming
    };
    let (_vs, m) = with_params(&case, |p| {
        TriangleMultiplication::new(evoformer_block_path(p) / name, module_cfg, C_Z, &cfg.global_config)
    });
    assert_close(
        name,
        &m.forward(&case.inputs["pair_act"], &case.inputs["pair_mask"]),
        &case.outputs["output"],
    );
}

#[test]
fn triangle_multiplication_outgoing() {
    triangle_multiplication("triangle_multiplication_outgoing");
}

#[test]
fn triangle_multiplication_incoming() {
    triangle_multiplication("triangle_multiplication_incoming");
}

fn triangle_attention(name: &str, orientation: Orientation) {
    let Some(case) = load_case(name) else { return };
    let cfg = model_1_ptm();
    let e = &cfg.embeddings_and_evoformer.evoformer;
    let module_cfg = match orientation {
        Orientation::PerRow => &e.triangle_attention_starting_node,
        Orientation::PerColumn => &e.triangle_attention_ending_node,
    };
    let (_vs, m) = with_params(&case, |p| {
        TriangleAttention::new(
            evoformer_block_path(p) / name,
            module_cfg,
            orientation,
            C_Z,
            &cfg.global_config,
        )
    });
    let out = m.forward(
        &case.inputs["pair_act"],
        &case.inputs["pair_mask"],
        &RuntimeOptions { chunk_size: Some(5), ..opts() },
    );
    assert_close(name, &out, &case.outputs["output"]);
}

#[test]
fn triangle_attention_starting_node() {
    triangle_attention("triangle_attention_starting_node", Orientation::PerRow);
}

#[test]
fn triangle_attention_ending_node() {
    triangle_attention("triangle_attention_ending_node", Orientation::PerColumn);
}

#[test]
fn pair_transition() {
    let Some(case) = load_case("pair_transition") else { return };
    let cfg = model_1_ptm();
    let (_vs, m) = with_params(&case, |p| {
        Transition::new(
            evoformer_block_path(p) / "pair_transition",
            &cfg.embeddings_and_evoformer.evoformer.pair_transition,
            C_Z,
            &cfg.global_config,
        )
    });
    assert_close("pair_transition", &m.forward(&case.inputs["pair_act"], &opts()), &case.outputs["output"]);
}

fn block_case(name: &str, stack: &str, c_m: i64, is_extra_msa: bool) {
    let Some(case) = load_case(name) else { return };
    let cfg = model_1_ptm();
    let e = &cfg.embeddings_and_evoformer;
    let (_vs, stack) = with_params(&case, |p| {
        EvoformerStack::new(
            p / "evoformer" / stack,
            1,
            &e.evoformer,
            c_m,
            C_Z,
            is_extra_msa,
            &cfg.global_config,
        )
    });
    let block: &EvoformerIteration = &stack.blocks[0];
    let i = &case.inputs;
    let (msa, pair) = block.forward(&i["msa_act"], &i["pair_act"], &i["msa_mask"], &i["pair_mask"], &opts());
    assert_close(&format!("{name} msa"), &msa, &case.outputs["msa"]);
    assert_close(&format!("{name} pair"), &pair, &case.outputs["pair"]);
}

#[test]
fn evoformer_iteration() {
    block_case("evoformer_iteration", "evoformer_iteration", C_M, false);
}

#[test]
fn extra_msa_iteration() {
    block_case("extra_msa_iteration", "extra_msa_stack", C_E, true);
}

#[test]
fn distogram_head() {
    let Some(case) = load_case("distogram") else { return };
    let cfg = model_1_ptm();
    let (_vs, m) = with_params(&case, |p| {
        DistogramHead::new(p / "distogram_head", &cfg.heads.distogram, C_Z, &cfg.global_config)
    });
    assert_close(
        "distogram logits",
        &m.forward(&case.inputs["representations/pair"]),
        &case.outputs["logits"],
    );
    assert_close("distogram bin_edges", &m.bin_edges(), &case.outputs["bin_edges"]);
}

#[test]
fn masked_msa_head() {
    let Some(case) = load_case("masked_msa") else { return };
    let cfg = model_1_ptm();
    let (_vs, m) = with_params(&case, |p| {
        MaskedMsaHead::new(p / "masked_msa_head", &cfg.heads.masked_msa, C_M, &cfg.global_config)
    });
    assert_close(
        "masked_msa logits",
        &m.forward(&case.inputs["representations/msa"]),
        &case.outputs["logits"],
    );
}

#[test]
fn predicted_lddt_head() {
    let Some(case) = load_case("predicted_lddt") else { return };
    let cfg = model_1_ptm();
    let (_vs, m) = with_params(&case, |p| {
        PredictedLddtHead::new(p / "predicted_lddt_head", &cfg.heads.predicted_lddt, C_S, &cfg.global_config)
    });
    let logits = m.forward(&case.inputs["representations/structure_module"]);
    assert_close("predicted_lddt logits", &logits, &case.outputs["logits"]);
    assert_close("plddt", &confidence::compute_plddt(&logits), &case.outputs["plddt"]);
}

#[test]
fn predicted_aligned_error_head() {
    let Some(case) = load_case("predicted_aligned_error") else { return };
    let cfg = model_1_ptm();
    let head_cfg = cfg.heads.predicted_aligned_error.unwrap();
    let (_vs, m) = with_params(&case, |p| {
        PredictedAlignedErrorHead::new(p / "predicted_aligned_error_head", &head_cfg, C_Z, &cfg.global_config)
    });
    let logits = m.forward(&case.inputs["representations/pair"]);
    assert_close("predicted_aligned_error logits", &logits, &case.outputs["logits"]);
    let breaks = m.breaks();
    assert_close("breaks", &breaks, &case.outputs["breaks"]);
    let pae = confidence::compute_predicted_aligned_error(&logits, &breaks);
    assert_close(
        "predicted_aligned_error",
        &pae.predicted_aligned_error,
        &case.outputs["predicted_aligned_error"],
    );
    let want_max = case.outputs["max_predicted_aligned_error"].double_value(&[]);
    assert!((pae.max_predicted_aligned_error - want_max).abs() < 1e-6);
    let ptm = confidence::predicted_tm_score(&logits, &breaks, None);
    let want_ptm = case.outputs["ptm"].double_value(&[]);
    assert!((ptm - want_ptm).abs() < 1e-5, "ptm {ptm} vs {want_ptm}");
}

#[test]
fn experimentally_resolved_head() {
    let Some(case) = load_case("experimentally_resolved") else { return };
    let cfg = model_1_ptm();
    let (_vs, m) = with_params(&case, |p| {
        ExperimentallyResolvedHead::new(p / "experimentally_resolved_head", C_S, &cfg.global_config)
    });
    assert_close(
        "experimentally_resolved logits",
        &m.forward(&case.inputs["representations/single"]),
        &case.outputs["logits"],
    );
}

/// The whole trunk (embedders, templates, extra-MSA and Evoformer stacks) on the first
/// iteration, from `make_trunk_reference.py` (model_1_ptm with 2 Evoformer blocks and 1
/// extra-MSA block; see that script's header).
#[test]
fn embeddings_and_evoformer() {
    let Some(dir) = generated_reference_case("make_trunk_reference.py", "embeddings_and_evoformer") else {
        return;
    };
    let case = read_case(&dir);
    let mut cfg = model_1_ptm();
    cfg.embeddings_and_evoformer.evoformer_num_block = 2;
    cfg.embeddings_and_evoformer.extra_msa_stack_num_block = 1;
    let (_vs, trunk) = with_params(&case, |p| EmbeddingsAndEvoformer::new(p.clone(), &cfg));
    let i = &case.inputs;
    let get = |k: &str| i[k].shallow_clone();
    // Without torsion features in the arrays, the batch computes them from the template atoms
    // (geometry's atom37_to_torsion_angles); they must match DeepMind's, which the generator
    // stores under `torsion/<AlphaFold's name>`.
    let arrays: BTreeMap<String, Tensor> = i
        .iter()
        .filter(|(k, _)| !k.starts_with("torsion/"))
        .map(|(k, v)| (k.clone(), v.shallow_clone()))
        .collect();
    let batch = TrunkBatch::from_arrays(&arrays).unwrap();
    let templates = batch.templates.as_ref().unwrap();
    for (ours, name) in [
        (&templates.template_torsion_angles_sin_cos, "torsion_angles_sin_cos"),
        (&templates.template_alt_torsion_angles_sin_cos, "alt_torsion_angles_sin_cos"),
        (&templates.template_torsion_angles_mask, "torsion_angles_mask"),
    ] {
        assert_close(name, ours, &get(&format!("torsion/{name}")));
    }
    let prev = Recycled {
        prev_pos: get("prev_pos"),
        prev_msa_first_row: get("prev_msa_first_row"),
        prev_pair: get("prev_pair"),
    };
    let out = trunk.forward(&batch, &prev, &opts()).unwrap();
    let o = &case.outputs;
    assert_close("trunk pair", &out.pair, &o["pair"]);
    assert_close("trunk msa", &out.msa, &o["msa"]);
    assert_close("trunk msa_first_row", &out.msa_first_row, &o["msa_first_row"]);
    assert_close("trunk single", &out.single, &o["single"]);
}
