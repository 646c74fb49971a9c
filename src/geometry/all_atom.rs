//! All-atom coordinates from backbone frames and torsion angles, Jumper et al. (2021)
//! Suppl. Alg. 24 "computeAllAtomCoordinates": each residue's eight rigid groups (backbone,
//! pre-omega, phi, psi, chi1–chi4) are placed by rotating their literature default frames
//! about x by the predicted torsions, chaining chi2–chi4 onto the preceding chi frame, and
//! the atoms' literature positions are mapped into the global frame.
//!
//! As DeepMind's `alphafold/model/all_atom.py` (`torsion_angles_to_frames`,
//! `frames_and_literature_positions_to_atom14_pos`) computes it. `*` are batch dimensions,
//! `N` residues.
use super::residue_tables::{
    gather_by_restype, restype_atom14_mask, restype_atom14_rigid_group_positions, restype_atom14_to_rigid_group,
    restype_rigid_group_default_frame,
};
use super::{Rigid, Rotation};
use tch::Tensor;

/// Number of rigid groups per residue (backbone, pre-omega, phi, psi, chi1..chi4).
pub const NUM_RIGID_GROUPS: i64 = 8;

/// Frames of the eight rigid groups `[*, N, 8]` in the global frame, from residue types
/// `aatype [*, N]`, backbone frames `backbone_to_global [*, N]` (Å) and torsions
/// `torsion_sin_cos [*, N, 7, 2]` (sin, cos of pre-omega, phi, psi, chi1..chi4) (Alg. 24
/// lines 1–10).
pub fn torsion_angles_to_frames(aatype: &Tensor, backbone_to_global: &Rigid, torsion_sin_cos: &Tensor) -> Rigid {
    let device = torsion_sin_cos.device();
    let kind = torsion_sin_cos.kind();
    let default_4x4 = gather_by_restype(&restype_rigid_group_default_frame(device), aatype).to_kind(kind); // [*, N, 8, 4, 4]
    let default_frames = Rigid::from_tensor_4x4(&default_4x4).expect("the default-frame table is [21, 8, 4, 4]"); // [*, N, 8]

    // The backbone group is not rotated: prepend the angle 0 (sin 0, cos 1).
    let sin = torsion_sin_cos.select(-1, 0); // [*, N, 7]
    let cos = torsion_sin_cos.select(-1, 1); // [*, N, 7]
    let sin = Tensor::cat(&[sin.zeros_like().narrow(-1, 0, 1), sin], -1); // [*, N, 8]
    let cos = Tensor::cat(&[cos.ones_like().narrow(-1, 0, 1), cos], -1); // [*, N, 8]
    let (zeros, ones) = (sin.zeros_like(), sin.ones_like());
    let entries = [&ones, &zeros, &zeros, &zeros, &cos, &(-&sin), &zeros, &sin, &cos];
    let mut shape = sin.size();
    shape.extend([3, 3]);
    let x_rotations = Tensor::stack(&entries, -1).reshape(shape); // [*, N, 8, 3, 3]
    let x_rotations = Rotation::from_matrices(x_rotations).expect("stacked to [*, 3, 3]");
    let zero_translation = sin.zeros_like().unsqueeze(-1).expand_as(default_frames.translation()); // [*, N, 8, 3]
    let torsion_rotations = Rigid::new(x_rotations, zero_translation).expect("one batch shape");
    let frames_to_parent = default_frames.compose(&torsion_rotations); // [*, N, 8]

    // chi2..chi4 are given relative to the preceding chi frame: chain them to the backbone.
    let mut to_backbone: Vec<Rigid> = (0..5).map(|g| frames_to_parent.select(-1, g)).collect(); // 5 × [*, N]
    for group in 5..NUM_RIGID_GROUPS {
        let chained = to_backbone[group as usize - 1].compose(&frames_to_parent.select(-1, group));
        to_backbone.push(chained);
    }
    let to_backbone: Vec<&Rigid> = to_backbone.iter().collect();
    let all_to_backbone = Rigid::stack(&to_backbone, -1); // [*, N, 8]
    backbone_to_global.unsqueeze(-1).compose(&all_to_backbone) // [*, N, 8]
}

/// Atom14 positions `[*, N, 14, 3]` (zero in empty slots) from the rigid-group frames
/// `frames [*, N, 8]` of [`torsion_angles_to_frames`] and `aatype [*, N]` (Alg. 24 line 11).
pub fn frames_and_literature_positions_to_atom14_pos(aatype: &Tensor, frames: &Rigid) -> Tensor {
    let device = frames.device();
    let kind = frames.kind();
    let group_of_atom = gather_by_restype(&restype_atom14_to_rigid_group(device), aatype); // [*, N, 14]
    let atom_frames = frames.map(|component| component.gather(-1, &group_of_atom, false)); // [*, N, 14]
    let literature = gather_by_restype(&restype_atom14_rigid_group_positions(device), aatype).to_kind(kind); // [*, N, 14, 3]
    let exists = gather_by_restype(&restype_atom14_mask(device), aatype).to_kind(kind); // [*, N, 14]
    atom_frames.apply(&literature) * exists.unsqueeze(-1) // [*, N, 14, 3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::residue_constants::restype_index;
    use tch::{Device, Kind};

    const CPU: (Kind, Device) = (Kind::Float, Device::Cpu);

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    /// sin/cos of all-zero torsions: `[N, 7, 2]`.
    fn zero_torsions(n: i64) -> Tensor {
        Tensor::stack(&[Tensor::zeros([n, 7], CPU), Tensor::ones([n, 7], CPU)], -1)
    }

    #[test]
    fn zero_torsions_and_identity_frames_give_literature_positions() {
        // With identity backbone frames and every torsion 0 (sin 0, cos 1) the backbone-group
        // atoms (N, CA, C, CB for ALA) sit exactly at their literature positions
        // (`restype_atom14_rigid_group_positions`), and every atom is the default frame chain
        // applied to its literature position.
        let aatype =
            Tensor::from_slice(&[restype_index('A') as i64, restype_index('W') as i64, restype_index('G') as i64]);
        let frames = torsion_angles_to_frames(&aatype, &Rigid::identity(&[3], CPU), &zero_torsions(3));
        assert_eq!(frames.batch_shape(), [3, 8]);
        let positions = frames_and_literature_positions_to_atom14_pos(&aatype, &frames);
        assert_eq!(positions.size(), [3, 14, 3]);
        let literature = gather_by_restype(&restype_atom14_rigid_group_positions(Device::Cpu), &aatype);
        let groups = gather_by_restype(&restype_atom14_to_rigid_group(Device::Cpu), &aatype);
        let exists = gather_by_restype(&restype_atom14_mask(Device::Cpu), &aatype);
        let backbone_atoms = groups.eq(0).logical_and(&exists.gt(0.5)).unsqueeze(-1);
        let difference = (&positions - &literature).abs() * backbone_atoms.to_kind(Kind::Float);
        assert!(difference.max().double_value(&[]) < 1e-6);
        // Every atom of the literature geometry: its group's default frame chain (zero
        // torsions) applied to its literature position.
        let defaults =
            Rigid::from_tensor_4x4(&gather_by_restype(&restype_rigid_group_default_frame(Device::Cpu), &aatype))
                .unwrap();
        let tryptophan_chi2 = defaults.select(0, 1).select(0, 4).compose(&defaults.select(0, 1).select(0, 5));
        // TRP atom14 slot 6 is CD1, in the chi2 group (residue_constants.rigid_group_atom_positions).
        assert_eq!(groups.int64_value(&[1, 6]), 5);
        let expected = tryptophan_chi2.apply(&literature.get(1).get(6));
        assert!(max_abs_diff(&positions.get(1).get(6), &expected) < 1e-5);
        // Glycine has no atoms beyond O: the empty slots are zero.
        assert_eq!(positions.get(2).narrow(0, 4, 10).abs().sum(Kind::Float).double_value(&[]), 0.0);
    }

    #[test]
    fn global_frames_move_atoms_rigidly() {
        tch::manual_seed(20);
        let aatype = Tensor::from_slice(&[restype_index('Y') as i64, restype_index('K') as i64]);
        let angles = Tensor::randn([2, 7, 2], CPU);
        let angles = &angles / angles.square().sum_dim_intlist(-1, true, None).sqrt();
        let local = frames_and_literature_positions_to_atom14_pos(
            &aatype,
            &torsion_angles_to_frames(&aatype, &Rigid::identity(&[2], CPU), &angles),
        );
        let quaternion = Tensor::randn([2, 4], CPU);
        let backbone =
            Rigid::new(Rotation::from_quaternions(&quaternion, true).unwrap(), Tensor::randn([2, 3], CPU) * 10.0)
                .unwrap();
        let moved = frames_and_literature_positions_to_atom14_pos(
            &aatype,
            &torsion_angles_to_frames(&aatype, &backbone, &angles),
        );
        let exists = gather_by_restype(&restype_atom14_mask(Device::Cpu), &aatype).unsqueeze(-1);
        let expected = backbone.unsqueeze(-1).apply(&local) * exists;
        assert!(max_abs_diff(&moved, &expected) < 1e-4);
    }

    #[test]
    fn chi1_rotation_moves_only_side_chain_atoms() {
        // Rotating chi1 by 90° about the CA-CB axis moves SER's OG but not its backbone atoms
        // or CB, and keeps the CB-OG bond length.
        let aatype = Tensor::from_slice(&[restype_index('S') as i64]);
        let identity = Rigid::identity(&[1], CPU);
        let base = frames_and_literature_positions_to_atom14_pos(
            &aatype,
            &torsion_angles_to_frames(&aatype, &identity, &zero_torsions(1)),
        );
        let turned = zero_torsions(1);
        let mut chi1 = turned.get(0).get(3); // a view into `turned`
        chi1.copy_(&Tensor::from_slice(&[1.0f32, 0.0]));
        let rotated = frames_and_literature_positions_to_atom14_pos(
            &aatype,
            &torsion_angles_to_frames(&aatype, &identity, &turned),
        );
        assert!(max_abs_diff(&base.get(0).narrow(0, 0, 5), &rotated.get(0).narrow(0, 0, 5)) < 1e-6);
        let og = 5; // SER atom14: N, CA, C, O, CB, OG
        assert!(max_abs_diff(&base.get(0).get(og), &rotated.get(0).get(og)) > 0.5);
        let bond = |p: &Tensor| (p.get(0).get(og) - p.get(0).get(4)).square().sum(Kind::Float).sqrt().double_value(&[]);
        assert!((bond(&base) - bond(&rotated)).abs() < 1e-5);
    }
}
