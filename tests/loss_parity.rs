//! Parity of every loss term with DeepMind's AlphaFold 2.0.0 on the reference case
//! `model_1_ptm_loss` (tests/reference/README.md): 1GCN's first 16 residues with seeded random
//! parameters, `compute_loss=True`. Each term is computed here from the reference's own
//! predictions (`outputs.npz`: head logits, structure-module trajectory, side-chain frames and
//! atoms) and labels (`inputs.npz`, the last recycling iteration's copy) and compared with the
//! reference's loss outputs.
//!
//! Tolerance: relative 1e-4. Both sides compute in float32 from identical inputs; the losses
//! are sums of a few thousand terms with float32 rounding (~6e-8 each) accumulated in
//! different orders (XLA vs libtorch), and square roots near the 1e-4 FAPE guard, so agreement
//! to ~1e-5 is expected and 1e-4 leaves a margin without hiding any formula difference (a
//! wrong weight, mask or epsilon moves these values by far more). Measured: every term within
//! 4e-7 relative. Per-atom tensors are compared by their largest absolute difference: renamed
//! ground-truth positions (Å) and clash sums to 1e-5, within-residue sums to 1e-4 (all zero in
//! this case; `loss::violations`' unit tests compare non-zero ones with AlphaFold); the
//! violation masks and the naming choice exactly.
//!
//! The labels are those of the last recycling iteration: AlphaFold slices the batch per
//! recycle (`resample_msa_in_recycling`) and computes the losses in the last iteration, so the
//! masked-MSA loss is against that iteration's `true_msa` and `bert_mask` (the first copy's,
//! resampled differently, give 3.43 instead of 4.03).
use helixfold::geometry::{Rigid, Rotation};
use helixfold::loss::atom14_swap::compute_renamed_ground_truth;
use helixfold::loss::distogram::distogram_loss;
use helixfold::loss::experimentally_resolved::experimentally_resolved_loss;
use helixfold::loss::fape::{backbone_fape, sidechain_fape};
use helixfold::loss::masked_msa::masked_msa_loss;
use helixfold::loss::pae::predicted_aligned_error_loss;
use helixfold::loss::plddt::plddt_loss;
use helixfold::loss::torsion::supervised_chi_loss;
use helixfold::loss::total::{structure_module_loss, total_loss, HeadLosses, StructureModuleLosses};
use helixfold::loss::violations::{find_structural_violations, structural_violation_loss};
use helixfold::model::config::ModelConfig;
use helixfold::testing::reference_case;
use std::collections::HashMap;
use tch::Tensor;

struct Case {
    inputs: HashMap<String, Tensor>,
    outputs: HashMap<String, Tensor>,
}

impl Case {
    fn load() -> Option<Case> {
        let folder = reference_case("model_1_ptm_loss")?;
        let read = |name: &str| -> HashMap<String, Tensor> {
            Tensor::read_npz(folder.join(name)).expect("readable npz").into_iter().collect()
        };
        Some(Case { inputs: read("inputs.npz"), outputs: read("outputs.npz") })
    }

    /// A label as the losses see it: the last recycling iteration's slice of the batch.
    /// AlphaFold (`modules.AlphaFold.__call__`) computes the losses in the final
    /// `do_call(recycle_idx=num_iter)`, on that iteration's features; this matters for the MSA
    /// labels (`true_msa`, `bert_mask`), which are resampled per recycle. The structure labels
    /// are identical copies.
    fn label(&self, name: &str) -> Tensor {
        self.inputs.get(name).unwrap_or_else(|| panic!("inputs.npz lacks {name}")).get(-1)
    }

    fn output(&self, name: &str) -> &Tensor {
        self.outputs.get(name).unwrap_or_else(|| panic!("outputs.npz lacks {name}"))
    }

    fn expected(&self, name: &str) -> f64 {
        self.output(name).double_value(&[])
    }
}

fn assert_close(name: &str, actual: &Tensor, expected: f64) {
    let actual = actual.double_value(&[]);
    let relative = (actual - expected).abs() / expected.abs().max(1e-12);
    assert!(relative < 1e-4, "{name}: ours {actual}, AlphaFold {expected} (relative {relative:e})");
}

/// AlphaFold's flat `r3.Rigids` `[*, 12]` (row-major rotation, then translation).
fn rigid_from_flat12(flat: &Tensor) -> Rigid {
    let mut shape = flat.size();
    shape.pop();
    let rotation = flat.narrow(-1, 0, 9).reshape([shape.clone(), vec![3, 3]].concat());
    Rigid::new(Rotation::from_matrices(rotation).unwrap(), flat.narrow(-1, 9, 3)).unwrap()
}

#[test]
fn head_losses_match_alphafold() {
    let Some(case) = Case::load() else { return };
    let heads = ModelConfig::preset("model_1_ptm").unwrap().heads;
    let distogram = distogram_loss(
        case.output("distogram/logits"),
        &case.label("pseudo_beta"),
        &case.label("pseudo_beta_mask"),
        heads.distogram.first_break,
        heads.distogram.last_break,
        heads.distogram.num_bins,
    );
    assert_close("distogram", &distogram, case.expected("distogram/loss"));
    let masked_msa = masked_msa_loss(case.output("masked_msa/logits"), &case.label("true_msa"), &case.label("bert_mask"));
    assert_close("masked_msa", &masked_msa, case.expected("masked_msa/loss"));
    let resolved = experimentally_resolved_loss(
        case.output("experimentally_resolved/logits"),
        &case.label("all_atom_mask"),
        &case.label("atom37_atom_exists"),
    );
    assert_close("experimentally_resolved", &resolved, case.expected("experimentally_resolved/loss"));
    let ca = |positions: &Tensor| positions.select(-2, 1);
    let plddt = plddt_loss(
        case.output("predicted_lddt/logits"),
        &ca(case.output("structure_module/final_atom_positions")),
        &ca(&case.label("all_atom_positions")),
        &case.label("all_atom_mask").select(-1, 1),
    );
    assert_close("predicted_lddt", &plddt, case.expected("predicted_lddt/loss"));
    let pae = predicted_aligned_error_loss(
        case.output("predicted_aligned_error/logits"),
        &Rigid::from_tensor_7(case.output("structure_module/final_affines")).unwrap(),
        &Rigid::from_tensor_7(&case.label("backbone_affine_tensor")).unwrap(),
        &case.label("backbone_affine_mask"),
        heads.predicted_aligned_error.unwrap().max_error_bin,
    );
    assert_close("predicted_aligned_error", &pae, case.expected("predicted_aligned_error/loss"));
}

#[test]
fn structure_module_losses_and_total_match_alphafold() {
    let Some(case) = Case::load() else { return };
    let heads = ModelConfig::preset("model_1_ptm").unwrap().heads;
    let config = heads.structure_module;

    let true_frames = Rigid::from_tensor_7(&case.label("backbone_affine_tensor")).unwrap();
    let trajectory = Rigid::from_tensor_7(case.output("structure_module/traj")).unwrap();
    let backbone = backbone_fape(
        &trajectory,
        &true_frames,
        &case.label("backbone_affine_mask"),
        &case.label("use_clamped_fape"),
        config.fape.clamp_distance,
        config.fape.loss_unit_distance,
    );
    assert_close("fape (last layer)", &backbone.per_layer.get(-1), case.expected("structure_module/fape"));

    let final_positions = case.output("structure_module/final_atom14_positions");
    let renamed = compute_renamed_ground_truth(
        final_positions,
        &case.label("atom14_gt_positions"),
        &case.label("atom14_alt_gt_positions"),
        &case.label("atom14_gt_exists"),
        &case.label("atom14_alt_gt_exists"),
        &case.label("atom14_atom_is_ambiguous"),
    );
    assert!(renamed.alt_naming_is_better.equal(case.output("structure_module/alt_naming_is_better")));
    let renamed_error = (&renamed.renamed_atom14_gt_positions - case.output("structure_module/renamed_atom14_gt_positions"))
        .abs()
        .max()
        .double_value(&[]);
    assert!(renamed_error < 1e-5, "renamed ground truth differs by {renamed_error}");

    let last_layer = |name: &str| case.output(name).get(-1);
    let sidechain = sidechain_fape(
        &rigid_from_flat12(&last_layer("structure_module/sidechains/frames")),
        &last_layer("structure_module/sidechains/atom_pos"),
        &rigid_from_flat12(&case.label("rigidgroups_gt_frames")),
        &rigid_from_flat12(&case.label("rigidgroups_alt_gt_frames")),
        &case.label("rigidgroups_gt_exists"),
        &renamed.alt_naming_is_better,
        &renamed.renamed_atom14_gt_positions,
        &renamed.renamed_atom14_gt_exists,
        config.sidechain.atom_clamp_distance,
        config.sidechain.length_scale,
    )
    .unwrap();
    assert_close("sidechain_fape", &sidechain, case.expected("structure_module/sidechain_fape"));

    let chi_angles = case.label("chi_angles");
    let chi = supervised_chi_loss(
        case.output("structure_module/sidechains/angles_sin_cos"),
        case.output("structure_module/sidechains/unnormalized_angles_sin_cos"),
        &case.label("aatype"),
        &case.label("seq_mask"),
        &case.label("chi_mask"),
        &Tensor::stack(&[chi_angles.sin(), chi_angles.cos()], -1),
        config.chi_weight,
        config.angle_norm_weight,
    );
    assert_close("chi_loss", &chi.chi_loss, case.expected("structure_module/chi_loss"));
    assert_close("angle_norm_loss", &chi.angle_norm_loss, case.expected("structure_module/angle_norm_loss"));

    let exists = case.label("atom14_atom_exists");
    let violations = find_structural_violations(
        final_positions,
        &exists,
        &case.label("residue_index"),
        &case.label("aatype"),
        config.violation_tolerance_factor,
        config.clash_overlap_tolerance,
    );
    let prefix = "structure_module/violations/between_residues/";
    assert_close("bonds_c_n", &violations.bonds.c_n_loss_mean, case.expected(&format!("{prefix}bonds_c_n_loss_mean")));
    assert_close("angles_ca_c_n", &violations.bonds.ca_c_n_loss_mean, case.expected(&format!("{prefix}angles_ca_c_n_loss_mean")));
    assert_close("angles_c_n_ca", &violations.bonds.c_n_ca_loss_mean, case.expected(&format!("{prefix}angles_c_n_ca_loss_mean")));
    assert_close("clashes_mean", &violations.clashes.mean_loss, case.expected(&format!("{prefix}clashes_mean_loss")));
    let per_atom_error = (&violations.clashes.per_atom_loss_sum - case.output(&format!("{prefix}clashes_per_atom_loss_sum")))
        .abs()
        .max()
        .double_value(&[]);
    assert!(per_atom_error < 1e-5, "clash per-atom sums differ by {per_atom_error}");
    assert!(violations
        .per_residue_violations_mask
        .equal(case.output("structure_module/violations/total_per_residue_violations_mask")));
    let within_error = (&violations.within_residues.per_atom_loss_sum
        - case.output("structure_module/violations/within_residues/per_atom_loss_sum"))
        .abs()
        .max()
        .double_value(&[]);
    assert!(within_error < 1e-4, "within-residue per-atom sums differ by {within_error}");

    let structure_module = structure_module_loss(
        &StructureModuleLosses {
            backbone_fape: backbone.loss,
            sidechain_fape: sidechain,
            chi,
            violation: Some(structural_violation_loss(&violations, &exists)),
        },
        &config,
    )
    .unwrap();
    assert_close("structure_module", &structure_module, case.expected("structure_module/loss"));

    let losses = HeadLosses {
        distogram: case.output("distogram/loss").shallow_clone(),
        masked_msa: case.output("masked_msa/loss").shallow_clone(),
        structure_module,
        predicted_lddt: case.output("predicted_lddt/loss").shallow_clone(),
        experimentally_resolved: case.output("experimentally_resolved/loss").shallow_clone(),
        predicted_aligned_error: Some(case.output("predicted_aligned_error/loss").shallow_clone()),
    };
    let total = total_loss(&losses, &heads, &case.label("resolution"));
    assert_close("total", &total, case.expected("loss"));
}
