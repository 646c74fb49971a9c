//! Choice between the true atom naming and its alternative for residues with 180°-symmetric
//! side chains (ASP, GLU, PHE, TYR; Jumper et al. (2021) Suppl. 1.8.5, Alg. 26
//! `renameSymmetricGroundTruthAtoms`), as DeepMind's `folding.py`
//! `compute_renamed_ground_truth` does it: per residue, keep the naming whose ambiguous atoms'
//! distances to all unambiguous atoms of the chain better match the predicted ones.
use tch::{Kind, Tensor};

/// The true atoms renamed where the alternative naming fits the prediction better.
#[derive(Debug)]
pub struct RenamedGroundTruth {
    /// `[*, N]` f32: 1.0 where the alternative naming was chosen.
    pub alt_naming_is_better: Tensor,
    /// `[*, N, 14, 3]` true positions under the chosen naming.
    pub renamed_atom14_gt_positions: Tensor,
    /// `[*, N, 14]` their mask.
    pub renamed_atom14_gt_exists: Tensor,
}

/// All atom14 pair distances between residues `[*, N, 14, 3] -> [*, N, N, 14, 14]`, with
/// AlphaFold's `1e-10` inside the square root.
fn pair_distances(positions: &Tensor) -> Tensor {
    let a = positions.unsqueeze(-3).unsqueeze(-2); // [*, N, 1, 14, 1, 3]
    let b = positions.unsqueeze(-4).unsqueeze(-3); // [*, 1, N, 1, 14, 3]
    ((a - b).square().sum_dim_intlist(-1, false, Kind::Float) + 1e-10).sqrt()
}

/// Alg. 26 on predicted atom14 positions `[*, N, 14, 3]` and the atom14 ground truth:
/// `atom14_gt_positions` / `atom14_alt_gt_positions` `[*, N, 14, 3]`, `atom14_gt_exists` /
/// `atom14_alt_gt_exists` `[*, N, 14]`, `atom14_atom_is_ambiguous` `[*, N, 14]`.
pub fn compute_renamed_ground_truth(
    atom14_pred_positions: &Tensor,
    atom14_gt_positions: &Tensor,
    atom14_alt_gt_positions: &Tensor,
    atom14_gt_exists: &Tensor,
    atom14_alt_gt_exists: &Tensor,
    atom14_atom_is_ambiguous: &Tensor,
) -> RenamedGroundTruth {
    let pred_distances = pair_distances(atom14_pred_positions); // [*, N, N, 14, 14]
    let gt_distances = pair_distances(atom14_gt_positions);
    let alt_gt_distances = pair_distances(atom14_alt_gt_positions);
    let distance_error = ((&pred_distances - gt_distances).square() + 1e-10).sqrt();
    let alt_distance_error = ((pred_distances - alt_gt_distances).square() + 1e-10).sqrt();
    let exists = atom14_gt_exists.to_kind(Kind::Float);
    let ambiguous = atom14_atom_is_ambiguous.to_kind(Kind::Float);
    // Ambiguous atoms of residue i against unambiguous atoms of residue j.
    let mask = (&exists * &ambiguous).unsqueeze(-2).unsqueeze(-1)
        * (&exists * (ambiguous.ones_like() - &ambiguous)).unsqueeze(-3).unsqueeze(-2); // [*, N, N, 14, 14]
    let dims = [-3i64, -2, -1];
    let per_residue_error = (&mask * distance_error).sum_dim_intlist(dims.as_slice(), false, Kind::Float); // [*, N]
    let alt_per_residue_error = (mask * alt_distance_error).sum_dim_intlist(dims.as_slice(), false, Kind::Float);
    let alt_naming_is_better = alt_per_residue_error.lt_tensor(&per_residue_error).to_kind(Kind::Float); // [*, N]
    let keep = alt_naming_is_better.ones_like() - &alt_naming_is_better;
    let renamed_atom14_gt_positions = atom14_gt_positions * keep.unsqueeze(-1).unsqueeze(-1)
        + atom14_alt_gt_positions * alt_naming_is_better.unsqueeze(-1).unsqueeze(-1);
    let renamed_atom14_gt_exists =
        exists * keep.unsqueeze(-1) + atom14_alt_gt_exists.to_kind(Kind::Float) * alt_naming_is_better.unsqueeze(-1);
    RenamedGroundTruth { alt_naming_is_better, renamed_atom14_gt_positions, renamed_atom14_gt_exists }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::atom_maps::make_atom14_positions;
    use crate::geometry::test_structures::glucagon;

    #[test]
    fn prediction_in_the_alternative_naming_selects_it() {
        // 1GCN's true structure (glucagon, /work/shared/data) has ASP, PHE and TYR residues.
        // Predicting the truth itself keeps every naming; predicting the swapped atoms renames
        // exactly the residues whose swap moves atoms, and the renamed truth equals the
        // prediction.
        let Some(chain) = glucagon() else { return };
        let truth = make_atom14_positions(&chain.aatype, &chain.positions, &chain.mask);
        let rename = |pred: &Tensor| {
            compute_renamed_ground_truth(
                pred,
                &truth.atom14_gt_positions,
                &truth.atom14_alt_gt_positions,
                &truth.atom14_gt_exists,
                &truth.atom14_alt_gt_exists,
                &truth.atom14_atom_is_ambiguous,
            )
        };
        let same = rename(&truth.atom14_gt_positions);
        assert_eq!(same.alt_naming_is_better.sum(Kind::Float).double_value(&[]), 0.0);
        let swapped = rename(&truth.atom14_alt_gt_positions);
        let moved = (&truth.atom14_alt_gt_positions - &truth.atom14_gt_positions)
            .abs()
            .sum_dim_intlist([-2i64, -1].as_slice(), false, Kind::Float)
            .gt(1e-3)
            .to_kind(Kind::Float);
        assert!(moved.sum(Kind::Float).double_value(&[]) > 0.0, "glucagon has symmetric side chains");
        assert!(swapped.alt_naming_is_better.equal(&moved));
        let residual = (swapped.renamed_atom14_gt_positions - &truth.atom14_alt_gt_positions).abs().max();
        assert!(residual.double_value(&[]) < 1e-6);
    }
}
