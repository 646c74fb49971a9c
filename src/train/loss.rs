//! Every loss term of one training example from the last iteration's outputs and the batch's
//! labels, combined with the config's weights (Jumper et al. (2021) Suppl. 1.9 Eq. 7, as
//! DeepMind's `modules.py` `AlphaFoldIteration` and `folding.py` `StructureModule.loss` wire
//! them): the backbone FAPE over the whole trajectory, the side-chain FAPE of the final layer
//! after the symmetric ground-truth atoms have been renamed (Alg. 26), torsion and angle-norm
//! losses, structural violations when weighed, the distogram, masked-MSA, pLDDT,
//! experimentally-resolved and (pTM models) predicted-aligned-error losses.
use super::forward::TrainingOutputs;
use crate::geometry::{Rigid, Rotation};
use crate::loss::atom14_swap::compute_renamed_ground_truth;
use crate::loss::distogram::distogram_loss;
use crate::loss::experimentally_resolved::experimentally_resolved_loss;
use crate::loss::fape::{backbone_fape, sidechain_fape};
use crate::loss::masked_msa::masked_msa_loss;
use crate::loss::pae::predicted_aligned_error_loss;
use crate::loss::plddt::{per_residue_lddt, plddt_loss};
use crate::loss::torsion::supervised_chi_loss;
use crate::loss::total::{structure_module_loss, total_loss, HeadLosses, StructureModuleLosses};
use crate::loss::violations::{find_structural_violations, structural_violation_loss};
use crate::model::config::ModelConfig;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use tch::{Kind, Tensor};

/// atom37 (and atom14) slot of Cα.
const CA_INDEX: i64 = 1;

/// The weighted total and every term by name, all scalars with gradients, and the prediction's
/// lDDT-Cα against the labels (a metric, not part of the loss).
#[derive(Debug)]
pub struct LossTerms {
    /// What is back-propagated.
    pub total: Tensor,
    /// Mean per-residue lDDT-Cα (0–1) of the final structure against the labels' resolved Cα, the
    /// quantity the pLDDT head learns to predict; no gradient.
    pub lddt_ca: Tensor,
    /// TM-score (0–1) of the final Cα against the labels' resolved Cα, normalised by their count.
    pub tm_score: f64,
    /// Unweighted terms: `distogram`, `masked_msa`, `backbone_fape`, `sidechain_fape`, `chi`,
    /// `angle_norm`, `violation` (when weighed), `structure_module` (their mix),
    /// `predicted_lddt`, `experimentally_resolved`, `predicted_aligned_error` (pTM models).
    pub terms: BTreeMap<String, Tensor>,
}

/// Rigid transforms from AlphaFold's flat-12 layout `[*, 12]` (rotation row by row, then the
/// translation; `r3.rigids_from_tensor_flat12`).
pub fn rigid_from_flat12(flat: &Tensor) -> Result<Rigid> {
    let mut shape = flat.size();
    if shape.last() != Some(&12) {
        anyhow::bail!("flat-12 frames must have shape [*, 12], got {shape:?}");
    }
    shape.pop();
    let rotation_shape: Vec<i64> = shape.iter().copied().chain([3, 3]).collect();
    let rotation = Rotation::from_matrices(flat.narrow(-1, 0, 9).reshape(rotation_shape.as_slice()))?;
    Rigid::new(rotation, flat.narrow(-1, 9, 3))
}

/// AlphaFold's affine tensors `[*, 7]` with every all-zero quaternion (residues padded to the
/// crop size, or without a backbone) replaced by the identity: normalising a zero quaternion
/// gives NaN, which the backbone mask cannot remove afterwards (NaN × 0 is NaN).
fn identity_where_padded(affines: &Tensor) -> Tensor {
    let quaternion = affines.narrow(-1, 0, 4);
    let present = quaternion.abs().sum_dim_intlist([-1].as_slice(), true, Kind::Float).gt(0.0);
    let identity = Tensor::from_slice(&[1f32, 0.0, 0.0, 0.0]).to_kind(quaternion.kind()).to_device(quaternion.device());
    let quaternion = quaternion.where_self(&present, &identity.expand_as(&quaternion));
    Tensor::cat(&[quaternion, affines.narrow(-1, 4, 3)], -1)
}

/// The loss of one example. `labels` is the batch copy the last iteration read (a training
/// batch from `process_training_features`); `use_clamped_fape` is 1.0 for the clamped backbone
/// FAPE (AlphaFold draws it with probability 0.9 per example) and 0.0 for the unclamped one.
pub fn training_loss(outputs: &TrainingOutputs, config: &ModelConfig, use_clamped_fape: f64) -> Result<LossTerms> {
    let labels = &outputs.labels;
    let label = |name: &str| -> Result<Tensor> {
        labels
            .get(name)
            .map(|t| t.to_kind(Kind::Float))
            .with_context(|| format!("the training batch lacks label '{name}'"))
    };
    let integers = |name: &str| -> Result<Tensor> { Ok(label(name)?.to_kind(Kind::Int64)) };
    let heads = &config.heads;
    let sm_config = &heads.structure_module;
    let structure = &outputs.structure;
    let device = outputs.distogram_logits.device();
    let float = |t: &Tensor| t.to_kind(Kind::Float);

    let true_frames = Rigid::from_tensor_7(&identity_where_padded(&label("backbone_affine_tensor")?))?;
    let backbone_mask = label("backbone_affine_mask")?;
    let trajectory = structure.frames.to_kind(Kind::Float);
    let backbone = backbone_fape(
        &trajectory,
        &true_frames,
        &backbone_mask,
        &Tensor::from(use_clamped_fape).to_device(device),
        sm_config.fape.clamp_distance,
        sm_config.fape.loss_unit_distance,
    );

    let num_layer = sm_config.num_layer;
    let final_atom14 = float(&structure.final_atom14_positions); // [N, 14, 3]
    let renamed = compute_renamed_ground_truth(
        &final_atom14,
        &label("atom14_gt_positions")?,
        &label("atom14_alt_gt_positions")?,
        &label("atom14_gt_exists")?,
        &label("atom14_alt_gt_exists")?,
        &label("atom14_atom_is_ambiguous")?,
    );
    let final_sidechain_frames = structure.sidechain_frames.select(0, num_layer - 1).to_kind(Kind::Float); // [N, 8]
    let sidechain = sidechain_fape(
        &final_sidechain_frames,
        &final_atom14,
        &rigid_from_flat12(&label("rigidgroups_gt_frames")?)?,
        &rigid_from_flat12(&label("rigidgroups_alt_gt_frames")?)?,
        &label("rigidgroups_gt_exists")?,
        &renamed.alt_naming_is_better,
        &renamed.renamed_atom14_gt_positions,
        &renamed.renamed_atom14_gt_exists,
        sm_config.sidechain.atom_clamp_distance,
        sm_config.sidechain.length_scale,
    )?;

    let aatype = integers("aatype")?;
    let chi = supervised_chi_loss(
        &float(&structure.angles_sin_cos),
        &float(&structure.unnormalized_angles_sin_cos),
        &aatype,
        &label("seq_mask")?,
        &label("chi_mask")?,
        &label("chi_angles_sin_cos")?,
        sm_config.chi_weight,
        sm_config.angle_norm_weight,
    );
    let atom14_atom_exists = float(&structure.final_atom14_mask);
    let violation = if sm_config.structural_violation_loss_weight != 0.0 {
        let violations = find_structural_violations(
            &final_atom14,
            &atom14_atom_exists,
            &label("residue_index")?,
            &aatype,
            sm_config.violation_tolerance_factor,
            sm_config.clash_overlap_tolerance,
        );
        Some(structural_violation_loss(&violations, &atom14_atom_exists))
    } else {
        None
    };

    let mut terms = BTreeMap::new();
    terms.insert("backbone_fape".to_string(), backbone.loss.shallow_clone());
    terms.insert("sidechain_fape".to_string(), sidechain.shallow_clone());
    terms.insert("chi".to_string(), chi.chi_loss.shallow_clone());
    terms.insert("angle_norm".to_string(), chi.angle_norm_loss.shallow_clone());
    if let Some(v) = &violation {
        terms.insert("violation".to_string(), v.shallow_clone());
    }
    let structure_module = structure_module_loss(
        &StructureModuleLosses { backbone_fape: backbone.loss, sidechain_fape: sidechain, chi, violation },
        sm_config,
    )?;

    let distogram = distogram_loss(
        &outputs.distogram_logits,
        &label("pseudo_beta")?,
        &label("pseudo_beta_mask")?,
        heads.distogram.first_break,
        heads.distogram.last_break,
        heads.distogram.num_bins,
    );
    let masked_msa = masked_msa_loss(&outputs.masked_msa_logits, &integers("true_msa")?, &label("bert_mask")?);
    let all_atom_positions = label("all_atom_positions")?;
    let all_atom_mask = label("all_atom_mask")?;
    let predicted_ca = float(&structure.final_atom_positions).select(-2, CA_INDEX);
    let (true_ca, true_ca_mask) = (all_atom_positions.select(-2, CA_INDEX), all_atom_mask.select(-1, CA_INDEX));
    let predicted_lddt = plddt_loss(&outputs.predicted_lddt_logits, &predicted_ca, &true_ca, &true_ca_mask);
    let lddt_ca = {
        let per_residue = per_residue_lddt(&predicted_ca.detach(), &true_ca, &true_ca_mask);
        (per_residue * &true_ca_mask).sum(Kind::Float) / (true_ca_mask.sum(Kind::Float) + 1e-10)
    };
    let tm_score = resolved_tm_score(&predicted_ca, &true_ca, &true_ca_mask)?;
    let experimentally_resolved = experimentally_resolved_loss(
        &outputs.experimentally_resolved_logits,
        &all_atom_mask,
        &float(&structure.final_atom_mask),
    );
    let predicted_aligned_error = match (&outputs.predicted_aligned_error_logits, &heads.predicted_aligned_error) {
        (Some(logits), Some(pae_config)) => Some(predicted_aligned_error_loss(
            logits,
            &trajectory.select(0, num_layer - 1),
            &true_frames,
            &backbone_mask,
            pae_config.max_error_bin,
        )),
        _ => None,
    };

    terms.insert("structure_module".to_string(), structure_module.shallow_clone());
    terms.insert("distogram".to_string(), distogram.shallow_clone());
    terms.insert("masked_msa".to_string(), masked_msa.shallow_clone());
    terms.insert("predicted_lddt".to_string(), predicted_lddt.shallow_clone());
    terms.insert("experimentally_resolved".to_string(), experimentally_resolved.shallow_clone());
    if let Some(pae) = &predicted_aligned_error {
        terms.insert("predicted_aligned_error".to_string(), pae.shallow_clone());
    }
    let head_losses = HeadLosses {
        distogram,
        masked_msa,
        structure_module,
        predicted_lddt,
        experimentally_resolved,
        predicted_aligned_error,
    };
    let total = total_loss(&head_losses, heads, &label("resolution")?);
    Ok(LossTerms { total, lddt_ca, tm_score, terms })
}

/// TM-score of predicted against true Cα `[N_res, 3]` over the residues `mask` `[N_res]` marks
/// resolved (Zhang & Skolnick (2004), `metrics::tm_score`); 0 when none is.
fn resolved_tm_score(predicted: &Tensor, truth: &Tensor, mask: &Tensor) -> Result<f64> {
    let (model, native) = super::evaluate::resolved_ca(predicted, truth, mask)?;
    if native.is_empty() {
        return Ok(0.0);
    }
    Ok(crate::metrics::tm_score::tm_score(&model, &native, native.len()).score)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A structure scores 1 against itself over its resolved residues (the unresolved one, far
    /// off, is left out), and 0 when nothing is resolved.
    #[test]
    fn tm_score_covers_the_resolved_residues() {
        let truth = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 3.8, 0.0, 0.0, 7.6, 0.0, 0.0, 11.4, 0.0, 0.0]).reshape([4, 3]);
        let predicted = truth.copy();
        let _ = predicted.get(3).fill_(100.0);
        let mask = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 0.0]);
        assert!((resolved_tm_score(&predicted, &truth, &mask).unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(resolved_tm_score(&predicted, &truth, &mask.zeros_like()).unwrap(), 0.0);
    }

    #[test]
    fn flat12_frames_round_trip() {
        // A rotation about z by 90° and a translation, laid out as labels.rs writes it.
        let flat = Tensor::from_slice(&[0.0f32, -1., 0., 1., 0., 0., 0., 0., 1., 1., 2., 3.]).reshape([1, 12]);
        let rigid = rigid_from_flat12(&flat).unwrap();
        let moved = rigid.apply(&Tensor::from_slice(&[1.0f32, 0., 0.]).reshape([1, 3]));
        // R·(1,0,0) = (0,1,0), plus the translation.
        let expected = Tensor::from_slice(&[1.0f32, 3., 3.]).reshape([1, 3]);
        assert!((moved - expected).abs().max().double_value(&[]) < 1e-6);
        assert!(rigid_from_flat12(&Tensor::zeros([2, 7], (Kind::Float, tch::Device::Cpu))).is_err());
    }
}
