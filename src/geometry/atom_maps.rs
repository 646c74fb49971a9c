//! Conversions between AlphaFold's two all-atom layouts (Jumper et al. (2021) Suppl. 1.2.1):
//! atom37 (one slot per atom name, shared by all residue types) and atom14 (a dense slot order
//! per residue type); the ground-truth atom14 positions with their symmetry-renamed alternative
//! (Suppl. 1.8.5, Table 3); and the pseudo-beta atom.
//!
//! As DeepMind computes them in `alphafold/model/tf/data_transforms.py` (`make_atom14_masks`,
//! `pseudo_beta_fn`), `alphafold/model/all_atom.py` (`atom37_to_atom14`, `atom14_to_atom37`,
//! `get_alt_atom14`) and `alphafold/relax/amber_minimize.py` (`make_atom14_positions`).
//! Leading batch dimensions `*` are allowed everywhere; `N` is the number of residues.
use tch::{Kind, Tensor};

use super::residue_tables::{
    gather_by_restype, restype_atom14_is_ambiguous, restype_atom14_mask, restype_atom14_swap_index,
    restype_atom14_to_atom37, restype_atom37_mask, restype_atom37_to_atom14,
};
use crate::residue_constants::{atom37_index, restype_index};

/// Per-residue index maps and existence masks of a sequence (`make_atom14_masks`).
#[derive(Debug)]
pub struct Atom14Masks {
    /// `[*, N, 14]` f32: 1.0 where the residue's type has an atom in the atom14 slot.
    pub atom14_atom_exists: Tensor,
    /// `[*, N, 14]` int64: atom37 index of each atom14 slot (0 for empty slots).
    pub residx_atom14_to_atom37: Tensor,
    /// `[*, N, 37]` int64: atom14 slot of each atom37 atom (0 for atoms the type lacks).
    pub residx_atom37_to_atom14: Tensor,
    /// `[*, N, 37]` f32: 1.0 where the residue's type has the atom37 atom.
    pub atom37_atom_exists: Tensor,
}

/// The atom14/atom37 maps of residues `aatype` `[*, N]` (integer residue types; types above 20
/// read as unknown, which has no atoms).
pub fn make_atom14_masks(aatype: &Tensor) -> Atom14Masks {
    let device = aatype.device();
    Atom14Masks {
        atom14_atom_exists: gather_by_restype(&restype_atom14_mask(device), aatype),
        residx_atom14_to_atom37: gather_by_restype(&restype_atom14_to_atom37(device), aatype),
        residx_atom37_to_atom14: gather_by_restype(&restype_atom37_to_atom14(device), aatype),
        atom37_atom_exists: gather_by_restype(&restype_atom37_mask(device), aatype),
    }
}

/// Per-residue atom data `data` `[*, N, A]` or `[*, N, A, C]` at per-residue atom indices
/// `index` `[*, N, I...]` (`index_dims` trailing index dimensions, integer): `[*, N, I...]` or
/// `[*, N, I..., C]` (AlphaFold's `utils.batched_gather(data, index, batch_dims=1)`).
pub fn gather_residue_atoms(data: &Tensor, index: &Tensor, index_dims: usize) -> Tensor {
    let index_shape = index.size();
    let residue_dims = index_shape.len() - index_dims; // the dims of [*, N]
    let mut flat_shape = index_shape[..residue_dims].to_vec();
    flat_shape.push(-1);
    let flat_index = index.reshape(&flat_shape); // [*, N, K]
    let mut out_shape = index_shape;
    if data.dim() == residue_dims + 2 {
        let channels = data.size()[residue_dims + 1];
        let mut expanded = flat_index.size();
        expanded.push(channels);
        out_shape.push(channels);
        let index = flat_index.unsqueeze(-1).expand(&expanded, false); // [*, N, K, C]
        data.gather(-2, &index, false).reshape(&out_shape)
    } else {
        data.gather(-1, &flat_index, false).reshape(&out_shape)
    }
}

/// [`gather_residue_atoms`] with one index dimension `[*, N, B]`, zeroing the slots where
/// `exists` `[*, N, B]` is 0.
fn gather_atoms(data: &Tensor, index: &Tensor, exists: &Tensor) -> Tensor {
    let gathered = gather_residue_atoms(data, index, 1);
    let exists = exists.to_kind(data.kind());
    if gathered.dim() > exists.dim() {
        gathered * exists.unsqueeze(-1)
    } else {
        gathered * exists
    }
}

/// atom37 data `[*, N, 37]` or `[*, N, 37, C]` in atom14 layout: `[*, N, 14]` / `[*, N, 14, C]`
/// (`all_atom.atom37_to_atom14`).
pub fn atom37_to_atom14(atom37_data: &Tensor, masks: &Atom14Masks) -> Tensor {
    gather_atoms(
        atom37_data,
        &masks.residx_atom14_to_atom37,
        &masks.atom14_atom_exists,
    )
}

/// atom14 data `[*, N, 14]` or `[*, N, 14, C]` in atom37 layout: `[*, N, 37]` / `[*, N, 37, C]`
/// (`all_atom.atom14_to_atom37`).
pub fn atom14_to_atom37(atom14_data: &Tensor, masks: &Atom14Masks) -> Tensor {
    gather_atoms(
        atom14_data,
        &masks.residx_atom37_to_atom14,
        &masks.atom37_atom_exists,
    )
}

/// Ground-truth atom positions in atom14 layout with their renamed alternative
/// (`make_atom14_positions`).
#[derive(Debug)]
pub struct Atom14GroundTruth {
    pub masks: Atom14Masks,
    /// `[*, N, 14]` f32: 1.0 where the atom exists for the type and was resolved.
    pub atom14_gt_exists: Tensor,
    /// `[*, N, 14, 3]`: resolved positions, zero elsewhere.
    pub atom14_gt_positions: Tensor,
    /// `[*, N, 14, 3]`: the positions after swapping each ambiguous pair's names (for ASP, GLU,
    /// PHE, TYR; equal to `atom14_gt_positions` for other residues).
    pub atom14_alt_gt_positions: Tensor,
    /// `[*, N, 14]`: `atom14_gt_exists` renamed the same way.
    pub atom14_alt_gt_exists: Tensor,
    /// `[*, N, 14]` f32: 1.0 for atoms whose names are ambiguous.
    pub atom14_atom_is_ambiguous: Tensor,
}

/// atom14 ground truth from atom37 positions `[*, N, 37, 3]` and mask `[*, N, 37]` of residues
/// `aatype` `[*, N]`.
pub fn make_atom14_positions(
    aatype: &Tensor,
    all_atom_positions: &Tensor,
    all_atom_mask: &Tensor,
) -> Atom14GroundTruth {
    let masks = make_atom14_masks(aatype);
    let device = aatype.device();
    let mask = all_atom_mask.to_kind(Kind::Float);
    let atom14_gt_exists = atom37_to_atom14(&mask, &masks); // [*, N, 14]
    let atom14_gt_positions = atom37_to_atom14(all_atom_positions, &masks)
        * atom14_gt_exists
            .unsqueeze(-1)
            .to_kind(all_atom_positions.kind()); // [*, N, 14, 3]
    let swap = gather_by_restype(&restype_atom14_swap_index(device), aatype); // [*, N, 14]
    let atom14_alt_gt_exists = gather_residue_atoms(&atom14_gt_exists, &swap, 1);
    let atom14_alt_gt_positions = gather_residue_atoms(&atom14_gt_positions, &swap, 1);
    let atom14_atom_is_ambiguous = gather_by_restype(&restype_atom14_is_ambiguous(device), aatype);
    Atom14GroundTruth {
        masks,
        atom14_gt_exists,
        atom14_gt_positions,
        atom14_alt_gt_positions,
        atom14_alt_gt_exists,
        atom14_atom_is_ambiguous,
    }
}

/// Pseudo-beta positions `[*, N, 3]`: CB, or CA for glycine (`pseudo_beta_fn`), from atom37
/// positions `[*, N, 37, 3]` of residues `aatype` `[*, N]`.
pub fn pseudo_beta(aatype: &Tensor, all_atom_positions: &Tensor) -> Tensor {
    let (ca, cb) = ca_cb_indices();
    let is_gly = is_glycine(aatype).unsqueeze(-1); // [*, N, 1]
    all_atom_positions
        .select(-2, ca)
        .where_self(&is_gly, &all_atom_positions.select(-2, cb))
}

/// Mask `[*, N]` (f32) of the pseudo-beta atoms, from the atom37 mask `[*, N, 37]`.
pub fn pseudo_beta_mask(aatype: &Tensor, all_atom_mask: &Tensor) -> Tensor {
    let (ca, cb) = ca_cb_indices();
    let mask = all_atom_mask.to_kind(Kind::Float);
    mask.select(-1, ca)
        .where_self(&is_glycine(aatype), &mask.select(-1, cb))
}

fn ca_cb_indices() -> (i64, i64) {
    let index = |name| atom37_index(name).expect("CA and CB are atom37 atoms") as i64;
    (index("CA"), index("CB"))
}

fn is_glycine(aatype: &Tensor) -> Tensor {
    aatype.to_kind(Kind::Int64).eq(restype_index('G') as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::test_structures::glucagon;
    use crate::residue_constants::atom14::RESTYPE_NAME_TO_ATOM14_NAMES;

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    #[test]
    fn glucagon_round_trips_between_layouts() {
        let Some(chain) = glucagon() else { return };
        let masks = make_atom14_masks(&chain.aatype);
        assert_eq!(masks.atom14_atom_exists.size(), [29, 14]);
        assert_eq!(masks.residx_atom37_to_atom14.size(), [29, 37]);
        let positions14 = atom37_to_atom14(&chain.positions, &masks);
        assert_eq!(positions14.size(), [29, 14, 3]);
        let mask14 = atom37_to_atom14(&chain.mask, &masks);
        // glucagon.pdb: 246 atoms, one of them the C-terminal OXT that atom14 has no slot for.
        assert_eq!(chain.mask.sum(Kind::Float).double_value(&[]), 246.0);
        assert_eq!(mask14.sum(Kind::Float).double_value(&[]), 245.0);
        // Residue 1 is HIS; its atom14 slot 6 is ND1 at (49.636, 26.144, 7.860) (ATOM 7).
        let nd1: Vec<f32> = positions14.get(0).get(6).try_into().unwrap();
        assert_eq!(nd1, [49.636, 26.144, 7.860]);
        // Back to atom37 everything but OXT is recovered.
        let back = atom14_to_atom37(&positions14, &masks);
        let oxt = atom37_index("OXT").unwrap() as i64;
        let resolved_without_oxt = &chain.mask * masks.atom37_atom_exists.shallow_clone();
        let expected = &chain.positions * resolved_without_oxt.unsqueeze(-1);
        assert_eq!(max_abs_diff(&back, &expected), 0.0);
        assert_eq!(
            back.get(28)
                .get(oxt)
                .abs()
                .sum(Kind::Float)
                .double_value(&[]),
            0.0
        );
    }

    #[test]
    fn alternative_ground_truth_swaps_symmetric_atoms() {
        let Some(chain) = glucagon() else { return };
        let truth = make_atom14_positions(&chain.aatype, &chain.positions, &chain.mask);
        // Residue 6 is PHE: CD1/CD2 (slots 6/7) and CE1/CE2 (8/9) trade places.
        let phe = 5;
        assert_eq!(RESTYPE_NAME_TO_ATOM14_NAMES[13][6], "CD1");
        let gt = truth.atom14_gt_positions.get(phe);
        let alt = truth.atom14_alt_gt_positions.get(phe);
        for (slot, partner) in [(6, 7), (7, 6), (8, 9), (9, 8), (5, 5), (10, 10)] {
            assert_eq!(
                max_abs_diff(&alt.get(slot), &gt.get(partner)),
                0.0,
                "slot {slot}"
            );
        }
        let ambiguous: Vec<f32> = truth.atom14_atom_is_ambiguous.get(phe).try_into().unwrap();
        assert_eq!(
            ambiguous,
            [0., 0., 0., 0., 0., 0., 1., 1., 1., 1., 0., 0., 0., 0.]
        );
        // Residue 2 is SER: nothing is ambiguous, the alternative equals the ground truth.
        assert_eq!(
            max_abs_diff(
                &truth.atom14_alt_gt_positions.get(1),
                &truth.atom14_gt_positions.get(1)
            ),
            0.0
        );
        // Everything resolved in this crystal structure: the alt mask equals the mask.
        assert_eq!(
            max_abs_diff(&truth.atom14_alt_gt_exists, &truth.atom14_gt_exists),
            0.0
        );
        assert_eq!(
            truth.atom14_gt_exists.sum(Kind::Float).double_value(&[]),
            245.0
        );
    }

    #[test]
    fn alternative_mask_follows_a_missing_partner() {
        // An ASP (type 3) whose OD2 (atom37 17, atom14 slot 7) is unresolved: in the renamed
        // view the missing atom is OD1 (slot 6).
        let aatype = Tensor::from_slice(&[3i64]);
        let mut mask = [1.0f32; 37];
        mask[17] = 0.0;
        let mask = Tensor::from_slice(&mask).reshape([1, 37]);
        let positions = Tensor::ones([1, 37, 3], (Kind::Float, tch::Device::Cpu));
        let truth = make_atom14_positions(&aatype, &positions, &mask);
        let exists: Vec<f32> = truth.atom14_gt_exists.get(0).try_into().unwrap();
        let alt_exists: Vec<f32> = truth.atom14_alt_gt_exists.get(0).try_into().unwrap();
        assert_eq!(&exists[4..9], [1.0, 1.0, 1.0, 0.0, 0.0]);
        assert_eq!(&alt_exists[4..9], [1.0, 1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn pseudo_beta_is_cb_or_glycine_ca() {
        let Some(chain) = glucagon() else { return };
        let batched = chain.positions.unsqueeze(0); // [1, 29, 37, 3]: batch dims pass through
        let beta = pseudo_beta(&chain.aatype.unsqueeze(0), &batched);
        assert_eq!(beta.size(), [1, 29, 3]);
        // Residue 4 is GLY: its CA; residue 1 (HIS) its CB at (51.312, 26.048, 9.843) (ATOM 5).
        assert_eq!(
            max_abs_diff(&beta.get(0).get(3), &chain.positions.get(3).get(1)),
            0.0
        );
        let his_cb: Vec<f32> = beta.get(0).get(0).try_into().unwrap();
        assert_eq!(his_cb, [51.312, 26.048, 9.843]);
        let mask = pseudo_beta_mask(&chain.aatype, &chain.mask);
        assert_eq!(mask.sum(Kind::Float).double_value(&[]), 29.0);
    }
}
