//! Ground-truth frames of the eight rigid groups of each residue from its atom37 coordinates
//! (Jumper et al. (2021) Suppl. 1.8 and Table 2; the FAPE and side-chain labels of Suppl.
//! 1.9.2-1.9.3), computed as DeepMind's `alphafold/model/all_atom.py` `atom37_to_frames`
//! computes them: each group's frame from three of its atoms by Gram-Schmidt (Suppl. Alg. 21),
//! in `r3.rigids_from_3_points`' convention.
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

use super::atom_maps::gather_residue_atoms;
use super::residue_tables::{
    gather_by_restype, rigid_group_base_atom37_indices, rigid_group_exists,
    rigid_group_is_ambiguous,
};
use super::{Rigid, Rotation};
use crate::residue_constants::rigid_groups::{BACKBONE_GROUP, NUM_RIGID_GROUPS};
use crate::residue_constants::ATOM_TYPE_NUM;

/// Rigid-group frames of a chain, batch shape `[*, N, 8]`.
#[derive(Debug)]
pub struct RigidGroupFrames {
    /// Frames (local group coordinates -> global), `[*, N, 8]`.
    pub gt_frames: Rigid,
    /// `[*, N, 8]` f32: 1.0 where the group exists and its three defining atoms were resolved.
    pub gt_exists: Tensor,
    /// `[*, N, 8]` f32: 1.0 where the residue type has the group.
    pub group_exists: Tensor,
    /// `[*, N, 8]` f32: 1.0 for the last chi group of ASP, GLU, PHE and TYR.
    pub group_is_ambiguous: Tensor,
    /// The frames under the alternative atom naming: ambiguous groups turned 180° about their
    /// x-axis, others unchanged, `[*, N, 8]`.
    pub alt_gt_frames: Rigid,
}

/// Rotations `[8, 3, 3]` that are the identity except for `group`, which gets `diagonal`.
fn diagonal_rotation_for_group(
    diagonal: [f32; 3],
    group: usize,
    options: (Kind, tch::Device),
) -> Tensor {
    let mut values = [[[0.0f32; 3]; 3]; NUM_RIGID_GROUPS];
    for (g, matrix) in values.iter_mut().enumerate() {
        for axis in 0..3 {
            matrix[axis][axis] = if g == group { diagonal[axis] } else { 1.0 };
        }
    }
    Tensor::from_slice(values.as_flattened().as_flattened())
        .reshape([NUM_RIGID_GROUPS as i64, 3, 3])
        .to_kind(options.0)
        .to_device(options.1)
}

/// Rigid transforms with rotations `rotations` `[*, 3, 3]` and no translation.
fn pure_rotation(rotations: Tensor) -> Result<Rigid> {
    let mut shape = rotations.size();
    shape.pop();
    let translation = Tensor::zeros(&shape, (rotations.kind(), rotations.device()));
    Rigid::new(Rotation::from_matrices(rotations)?, translation)
}

/// Frames of the rigid groups of residues `aatype` `[*, N]` with atom37 positions
/// `[*, N, 37, 3]` and mask `[*, N, 37]`.
///
/// Group frames are built from (point on the negative x-axis, origin, point in the xy-plane):
/// (C, CA, N) for the backbone, (CA, C, O) for psi, and chi atoms 2-4 for each chi group. The
/// backbone frame is then turned 180° about y (x and z mirrored), so that it is the frame of
/// the literature positions: x along CA->C, N in the xy-plane with positive y. Frames of groups
/// that are absent or unresolved carry whatever the (zero) inputs give; use `gt_exists`.
pub fn atom37_to_frames(
    aatype: &Tensor,
    all_atom_positions: &Tensor,
    all_atom_mask: &Tensor,
) -> Result<RigidGroupFrames> {
    let mut expected = aatype.size();
    expected.extend([ATOM_TYPE_NUM as i64, 3]);
    if all_atom_positions.size() != expected
        || all_atom_mask.size() != expected[..expected.len() - 1]
    {
        bail!(
            "atom37_to_frames: aatype {:?} needs positions {expected:?} and mask {:?}, got {:?} and {:?}",
            aatype.size(),
            &expected[..expected.len() - 1],
            all_atom_positions.size(),
            all_atom_mask.size()
        );
    }
    let device = aatype.device();
    let options = (all_atom_positions.kind(), device);

    // [*, N, 8 groups, 3 atoms] and their positions [*, N, 8, 3, 3].
    let base_indices = gather_by_restype(&rigid_group_base_atom37_indices(device), aatype);
    let base_positions = gather_residue_atoms(all_atom_positions, &base_indices, 2);
    let base_atom = |k: i64| base_positions.select(-2, k); // [*, N, 8, 3]
    let frames = Rigid::from_points_on_axes(&base_atom(0), &base_atom(1), &base_atom(2), 1e-8)?;

    let group_exists = gather_by_restype(&rigid_group_exists(device), aatype); // [*, N, 8]
    let mask = all_atom_mask.to_kind(Kind::Float);
    let base_resolved = gather_residue_atoms(&mask, &base_indices, 2); // [*, N, 8, 3]
    let gt_exists = base_resolved.amin(-1, false) * &group_exists;

    let mirror_backbone = diagonal_rotation_for_group([-1.0, 1.0, -1.0], BACKBONE_GROUP, options);
    let gt_frames = frames.compose(&pure_rotation(mirror_backbone)?);

    // [*, N, 8]
    let group_is_ambiguous = gather_by_restype(&rigid_group_is_ambiguous(device), aatype);
    // diag(1, s, s) with s = -1 for ambiguous groups: a half turn about x.
    let flip = (&group_is_ambiguous * -2.0 + 1.0).to_kind(options.0); // [*, N, 8]
    let ones = flip.ones_like();
    let zeros = flip.zeros_like();
    let ambiguity_rotations = Tensor::stack(
        &[
            &ones, &zeros, &zeros, &zeros, &flip, &zeros, &zeros, &zeros, &flip,
        ],
        -1,
    )
    .unflatten(-1, [3, 3]); // [*, N, 8, 3, 3]
    let alt_gt_frames = gt_frames.compose(&pure_rotation(ambiguity_rotations)?);

    Ok(RigidGroupFrames {
        gt_frames,
        gt_exists,
        group_exists,
        group_is_ambiguous,
        alt_gt_frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::test_structures::glucagon;
    use crate::residue_constants::rigid_groups::{rigid_group_tables, CHI1_GROUP, PSI_GROUP};
    use crate::residue_constants::{atom37_index, restype_index};
    use tch::Device;

    /// AlphaFold's `r3.rigids_to_tensor_flat12` layout: rotation row-major, then translation.
    fn flat12(frames: &Rigid) -> Tensor {
        let rotation = frames.rotation().matrices().flatten(-2, -1);
        Tensor::cat(&[rotation, frames.translation().shallow_clone()], -1)
    }

    fn assert_close(actual: &Tensor, expected: &[f32], tol: f64) {
        let actual: Vec<f32> = actual.reshape([-1]).try_into().unwrap();
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                f64::from((a - e).abs()) <= tol,
                "{actual:?} vs {expected:?}"
            );
        }
    }

    #[test]
    fn glucagon_frames_match_alphafold() {
        // Reference: alphafold==2.0.0 all_atom.atom37_to_frames on glucagon.pdb read by
        // alphafold.common.protein.from_pdb_string (float32, CPU), printed as flat12.
        let Some(chain) = glucagon() else { return };
        let f = atom37_to_frames(&chain.aatype, &chain.positions, &chain.mask).unwrap();
        assert_eq!(f.gt_frames.batch_shape(), [29, 8]);
        let (gt, alt) = (flat12(&f.gt_frames), flat12(&f.alt_gt_frames));
        let his_backbone = [
            -0.672657, -0.732329, -0.105959, 0.734819, -0.644263, -0.212052, 0.087026, -0.220499,
            0.971497, 50.197, 25.578, 10.784,
        ];
        assert_close(&gt.get(0).get(0), &his_backbone, 2e-5);
        assert_close(&alt.get(0).get(0), &his_backbone, 2e-5);
        // PHE 6 chi2 group and its 180°-about-x alternative.
        let phe_chi2 = [
            -0.779092, -0.616424, 0.114177, 0.318023, -0.545566, -0.775383, 0.540256, -0.567784,
            0.621084, 38.187, 27.923, 13.43,
        ];
        let phe_chi2_alt = [
            -0.779092, 0.616424, -0.114177, 0.318023, 0.545566, 0.775383, 0.540256, 0.567784,
            -0.621084, 38.187, 27.923, 13.43,
        ];
        assert_close(&gt.get(5).get(5), &phe_chi2, 2e-5);
        assert_close(&alt.get(5).get(5), &phe_chi2_alt, 2e-5);
        // ASP 9 chi1 group (not ambiguous).
        let asp_chi1 = [
            0.360921, 0.371847, 0.855258, 0.700269, -0.713726, 0.014797, 0.615922, 0.59357,
            -0.517992, 35.556, 23.874, 13.919,
        ];
        assert_close(&gt.get(8).get(4), &asp_chi1, 2e-5);
        assert_close(&alt.get(8).get(4), &asp_chi1, 2e-5);
        for residue in [0, 5, 8, 9] {
            assert_close(
                &f.gt_exists.get(residue),
                &[1., 0., 0., 1., 1., 1., 0., 0.],
                0.0,
            );
        }
        assert_close(
            &f.group_is_ambiguous.get(9),
            &[0., 0., 0., 0., 0., 1., 0., 0.],
            0.0,
        );
        // Whole chain: sum of flat12 entries over existing groups, 6409.0649 (alt 6408.3091).
        let exists = f.gt_exists.unsqueeze(-1);
        let total = |x: &Tensor| (x * &exists).sum(Kind::Double).double_value(&[]);
        assert!((total(&gt) - 6409.06494140625).abs() < 1e-2);
        assert!((total(&alt) - 6408.30908203125).abs() < 1e-2);
    }

    #[test]
    fn backbone_frames_put_glucagon_atoms_at_their_literature_places() {
        let Some(chain) = glucagon() else { return };
        let f = atom37_to_frames(&chain.aatype, &chain.positions, &chain.mask).unwrap();
        let backbone = f.gt_frames.narrow(-1, 0, 1); // [29, 1]

        // In the backbone frame CA is the origin, C lies on +x, N in the xy-plane (y > 0).
        let local = backbone.invert_apply(&chain.positions.narrow(-2, 0, 3)); // [29, 3, 3]
        let (n, ca, c) = (
            local.select(-2, 0),
            local.select(-2, 1),
            local.select(-2, 2),
        );
        assert!(ca.abs().max().double_value(&[]) < 1e-4);
        assert!(c.narrow(-1, 1, 2).abs().max().double_value(&[]) < 1e-4);
        assert!(c.select(-1, 0).min().double_value(&[]) > 1.4);
        assert!(n.select(-1, 2).abs().max().double_value(&[]) < 1e-4);
        assert!(n.select(-1, 1).min().double_value(&[]) > 1.2);
        // Mapped out by the frame, the literature CA lands on the observed CA, and the
        // literature C (on the x-axis) misses the observed C by exactly the difference of the
        // CA-C bond lengths.
        let literature = &rigid_group_tables().atom37_rigid_group_positions;
        let aatype: Vec<i64> = chain.aatype.shallow_clone().try_into().unwrap();
        let rows: Vec<f32> = aatype
            .iter()
            .flat_map(|t| literature[*t as usize][..3].as_flattened().to_vec())
            .collect();
        let ideal_local = Tensor::from_slice(&rows).reshape([29, 3, 3]);
        let placed = backbone.apply(&ideal_local); // [29, 3 atoms, 3]
        let observed = chain.positions.narrow(-2, 0, 3);
        let distance =
            |a: &Tensor, b: &Tensor| (a - b).square().sum_dim_intlist(-1, false, None).sqrt();
        let ca_error = distance(&placed.select(-2, 1), &observed.select(-2, 1));
        assert!(ca_error.max().double_value(&[]) < 1e-4);
        let c_error = distance(&placed.select(-2, 2), &observed.select(-2, 2));
        let observed_ca_c = distance(&observed.select(-2, 2), &observed.select(-2, 1));
        let bond_difference = (observed_ca_c - ideal_local.select(-2, 2).select(-1, 0)).abs();
        assert!((c_error - bond_difference).abs().max().double_value(&[]) < 1e-4);
    }

    #[test]
    fn literature_residue_moved_rigidly_gives_back_the_motion() {
        // ALA's literature backbone and O, moved by a known rotation (unit quaternion
        // (0.5, 0.5, 0.5, 0.5): x->y->z->x) and translation (1, -2, 3).
        let ala = restype_index('A');
        let literature = &rigid_group_tables().atom37_rigid_group_positions[ala];
        let shift = [1.0f32, -2.0, 3.0];
        let mut positions = [[0.0f32; 3]; ATOM_TYPE_NUM];
        let mut mask = [0.0f32; ATOM_TYPE_NUM];
        for name in ["N", "CA", "C", "CB"] {
            let i = atom37_index(name).unwrap();
            let [x, y, z] = literature[i];
            positions[i] = [z + shift[0], x + shift[1], y + shift[2]];
            mask[i] = 1.0;
        }
        let positions = Tensor::from_slice(positions.as_flattened()).reshape([1, 37, 3]);
        let mask = Tensor::from_slice(&mask).reshape([1, 37]);
        let aatype = Tensor::from_slice(&[ala as i64]);
        let f = atom37_to_frames(&aatype, &positions, &mask).unwrap();
        let expected = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, -2.0, 3.0];
        assert_close(&flat12(&f.gt_frames.narrow(-1, 0, 1)), &expected, 1e-5);
        // The frame maps the literature positions back onto the moved atoms (1e-3 Å).
        let ideal = Tensor::from_slice(literature.as_flattened()).reshape([1, 37, 3]);
        let placed = f.gt_frames.narrow(-1, 0, 1).apply(&ideal) * mask.unsqueeze(-1);
        assert!((placed - &positions).abs().max().double_value(&[]) < 1e-3);
        // O is missing, so the psi group has no ground truth; ALA has no chi groups.
        assert_close(&f.gt_exists, &[1., 0., 0., 0., 0., 0., 0., 0.], 0.0);
        assert_eq!(f.group_exists.double_value(&[0, PSI_GROUP as i64]), 1.0);
        assert_eq!(f.group_exists.double_value(&[0, CHI1_GROUP as i64]), 0.0);
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let options = (Kind::Float, Device::Cpu);
        let aatype = Tensor::zeros([2, 4], (Kind::Int64, Device::Cpu));
        let positions = Tensor::zeros([2, 4, 14, 3], options);
        let mask = Tensor::zeros([2, 4, 14], options);
        assert!(atom37_to_frames(&aatype, &positions, &mask).is_err());
    }
}
