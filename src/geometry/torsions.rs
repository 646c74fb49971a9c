//! The seven torsion angles of each residue from its atom37 coordinates, as (sin, cos) pairs:
//! the training labels of the structure module's angle head (Jumper et al. (2021) Suppl. 1.9.1,
//! Alg. 27 "torsionAngleLoss"), computed as DeepMind's `alphafold/model/all_atom.py`
//! `atom37_to_torsion_angles` computes them.
//!
//! Order: pre-omega (the omega between the previous residue and this one), phi, psi, chi1..4.
//! Each angle is read from four atoms `a0 a1 a2 a3`: in the frame with origin `a2`, `a1` on the
//! negative x-axis and `a0` in the xy-plane (positive y), `a3` sits at
//! `(·, cos θ, sin θ)·r`; this θ is the IUPAC dihedral a0-a1-a2-a3. Psi is read from O
//! instead of the next residue's N (so that the last residue has one), which puts it off by π; the sign of
//! both sin and cos is flipped to undo that.
use anyhow::{bail, Result};
use tch::{Kind, Tensor};

use super::atom_maps::gather_residue_atoms;
use super::residue_tables::{
    chi_angles_atom37_indices, chi_angles_mask, chi_pi_periodic, gather_by_restype,
};
use super::Rigid;
use crate::residue_constants::ATOM_TYPE_NUM;

/// Torsion-angle labels of a chain.
#[derive(Debug)]
pub struct TorsionAngles {
    /// `[*, N, 7, 2]`: (sin, cos) of the seven torsions.
    pub sin_cos: Tensor,
    /// `[*, N, 7, 2]`: as `sin_cos`, with the π-periodic chi angles (the last chi of ASP, GLU,
    /// PHE, TYR) shifted by π, the label under the alternative atom naming.
    pub alt_sin_cos: Tensor,
    /// `[*, N, 7]` f32: 1.0 where all four atoms of the torsion were resolved and the residue
    /// type has it. The first residue's pre-omega and phi are undefined (mask 0).
    pub mask: Tensor,
}

/// Torsion angles of residues `aatype` `[*, N]` with atom37 positions `[*, N, 37, 3]` and mask
/// `[*, N, 37]`. With `placeholder_for_undefined`, masked torsions (in both outputs) are set to
/// AlphaFold's placeholder (sin, cos) = (1, 0).
pub fn atom37_to_torsion_angles(
    aatype: &Tensor,
    all_atom_positions: &Tensor,
    all_atom_mask: &Tensor,
    placeholder_for_undefined: bool,
) -> Result<TorsionAngles> {
    let positions_shape = all_atom_positions.size();
    let mut expected = aatype.size();
    expected.extend([ATOM_TYPE_NUM as i64, 3]);
    if positions_shape != expected || all_atom_mask.size() != expected[..expected.len() - 1] {
        bail!(
            "atom37_to_torsion_angles: aatype {:?} needs positions {expected:?} and mask {:?}, got {positions_shape:?} and {:?}",
            aatype.size(),
            &expected[..expected.len() - 1],
            all_atom_mask.size()
        );
    }
    if aatype.size().last().is_none_or(|n| *n == 0) {
        bail!(
            "atom37_to_torsion_angles: aatype {:?} has no residue axis or no residues",
            aatype.size()
        );
    }
    let device = aatype.device();
    let positions = all_atom_positions;
    let mask = all_atom_mask.to_kind(positions.kind());

    // The previous residue's atoms, zero (and masked) before the first residue.
    let previous = |x: &Tensor, residue_axis: i64| {
        let length = x.size()[(x.dim() as i64 + residue_axis) as usize];
        let first = x.narrow(residue_axis, 0, 1).zeros_like();
        Tensor::cat(
            &[first, x.narrow(residue_axis, 0, length - 1)],
            residue_axis,
        )
    };
    let prev_positions = previous(positions, -3); // [*, N, 37, 3]
    let prev_mask = previous(&mask, -2); // [*, N, 37]
    let atoms = |x: &Tensor, start: i64, count: i64| x.narrow(-2, start, count);
    let mask_atoms = |m: &Tensor, start: i64, count: i64| m.narrow(-1, start, count);
    let product = |m: Tensor| m.prod_dim_int(-1, false, None); // [*, N]

    // atom37 order starts N(0), CA(1), C(2), CB(3), O(4).
    // [*, N, 4, 3] each.
    let pre_omega_atoms = Tensor::cat(&[atoms(&prev_positions, 1, 2), atoms(positions, 0, 2)], -2);
    let phi_atoms = Tensor::cat(&[atoms(&prev_positions, 2, 1), atoms(positions, 0, 3)], -2);
    let psi_atoms = Tensor::cat(&[atoms(positions, 0, 3), atoms(positions, 4, 1)], -2);
    // [*, N] each.
    let pre_omega_mask = product(mask_atoms(&prev_mask, 1, 2)) * product(mask_atoms(&mask, 0, 2));
    let phi_mask = mask_atoms(&prev_mask, 2, 1).squeeze_dim(-1) * product(mask_atoms(&mask, 0, 3));
    let psi_mask = product(mask_atoms(&mask, 0, 3)) * mask_atoms(&mask, 4, 1).squeeze_dim(-1);

    // [*, N, 4 chis, 4 atoms]
    let chi_indices = gather_by_restype(&chi_angles_atom37_indices(device), aatype);
    let chi_atoms = gather_residue_atoms(positions, &chi_indices, 2); // [*, N, 4, 4, 3]
    let chi_atoms_resolved = gather_residue_atoms(&mask, &chi_indices, 2); // [*, N, 4, 4]
    let chis_mask = gather_by_restype(&chi_angles_mask(device), aatype).to_kind(positions.kind())
        * product(chi_atoms_resolved); // [*, N, 4]

    // [*, N, 7, 4, 3] and [*, N, 7].
    let torsion_atoms = Tensor::cat(
        &[
            pre_omega_atoms.unsqueeze(-3),
            phi_atoms.unsqueeze(-3),
            psi_atoms.unsqueeze(-3),
            chi_atoms,
        ],
        -3,
    );
    let torsion_mask = Tensor::cat(
        &[
            pre_omega_mask.unsqueeze(-1),
            phi_mask.unsqueeze(-1),
            psi_mask.unsqueeze(-1),
            chis_mask,
        ],
        -1,
    );

    let atom = |k: i64| torsion_atoms.select(-2, k); // [*, N, 7, 3]
    let frames = Rigid::from_points_on_axes(&atom(1), &atom(2), &atom(0), 1e-8)?;
    let fourth = frames.invert_apply(&atom(3)); // [*, N, 7, 3]
    let sin_cos = Tensor::stack(&[fourth.select(-1, 2), fourth.select(-1, 1)], -1); // [*, N, 7, 2]
    let norm = (sin_cos.square().sum_dim_intlist(-1, true, None) + 1e-8).sqrt();
    let psi_from_oxygen = Tensor::from_slice(&[1.0f32, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0])
        .to_kind(positions.kind())
        .to_device(device)
        .unsqueeze(-1); // [7, 1]
    let sin_cos = sin_cos / norm * psi_from_oxygen;

    // [*, N, 4]
    let chi_is_periodic =
        gather_by_restype(&chi_pi_periodic(device), aatype).to_kind(positions.kind());
    // No alternative for pre-omega, phi, psi; the periodic chis turn by π.
    let mirror = Tensor::cat(
        &[
            chi_is_periodic.narrow(-1, 0, 3).ones_like(),
            1.0 - chi_is_periodic * 2.0,
        ],
        -1,
    ); // [*, N, 7]
    let alt_sin_cos = &sin_cos * mirror.unsqueeze(-1);

    let (sin_cos, alt_sin_cos) = if placeholder_for_undefined {
        // [*, N, 7, 2]
        let placeholder = Tensor::stack(&[torsion_mask.ones_like(), torsion_mask.zeros_like()], -1);
        let keep = torsion_mask.unsqueeze(-1);
        let fill = |x: &Tensor| x * &keep + &placeholder * (1.0 - &keep);
        (fill(&sin_cos), fill(&alt_sin_cos))
    } else {
        (sin_cos, alt_sin_cos)
    };
    Ok(TorsionAngles {
        sin_cos,
        alt_sin_cos,
        mask: torsion_mask.to_kind(Kind::Float),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::test_structures::glucagon;
    use crate::residue_constants::atom37_index;
    use crate::residue_constants::rigid_groups::CHI_ANGLES_ATOMS;

    /// IUPAC dihedral a0-a1-a2-a3 (radians), written independently of the frame construction:
    /// the angle between the a0 and a3 bond projections onto the plane normal to a1→a2.
    fn dihedral(a0: [f64; 3], a1: [f64; 3], a2: [f64; 3], a3: [f64; 3]) -> f64 {
        let sub = |a: [f64; 3], b: [f64; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
        let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        let cross = |a: [f64; 3], b: [f64; 3]| {
            [
                a[1] * b[2] - a[2] * b[1],
                a[2] * b[0] - a[0] * b[2],
                a[0] * b[1] - a[1] * b[0],
            ]
        };
        let (b0, b1, b2) = (sub(a0, a1), sub(a2, a1), sub(a3, a2));
        let axis_len = dot(b1, b1).sqrt();
        let axis = b1.map(|c| c / axis_len);
        let v = sub(b0, axis.map(|c| c * dot(b0, axis)));
        let w = sub(b2, axis.map(|c| c * dot(b2, axis)));
        dot(cross(axis, v), w).atan2(dot(v, w))
    }

    fn atom(chain_positions: &Tensor, residue: i64, atom37: i64) -> [f64; 3] {
        let v: Vec<f64> = chain_positions
            .get(residue)
            .get(atom37)
            .to_kind(Kind::Double)
            .try_into()
            .unwrap();
        [v[0], v[1], v[2]]
    }

    fn angle_of(sin_cos: &Tensor, residue: i64, torsion: i64) -> f64 {
        let pair = sin_cos.get(residue).get(torsion);
        pair.double_value(&[0]).atan2(pair.double_value(&[1]))
    }

    /// Difference of two angles wrapped into [-π, π].
    fn angle_gap(a: f64, b: f64) -> f64 {
        let d = (a - b).rem_euclid(std::f64::consts::TAU);
        d.min(std::f64::consts::TAU - d)
    }

    #[test]
    fn backbone_torsions_of_glucagon_match_independent_dihedrals() {
        let Some(chain) = glucagon() else { return };
        let t =
            atom37_to_torsion_angles(&chain.aatype, &chain.positions, &chain.mask, false).unwrap();
        assert_eq!(t.sin_cos.size(), [29, 7, 2]);
        assert_eq!(t.mask.size(), [29, 7]);
        let p = &chain.positions;
        let (n, ca, c, o) = (0, 1, 2, 4);
        for i in 1..29 {
            let omega = dihedral(
                atom(p, i - 1, ca),
                atom(p, i - 1, c),
                atom(p, i, n),
                atom(p, i, ca),
            );
            let phi = dihedral(
                atom(p, i - 1, c),
                atom(p, i, n),
                atom(p, i, ca),
                atom(p, i, c),
            );
            let psi_o = dihedral(atom(p, i, n), atom(p, i, ca), atom(p, i, c), atom(p, i, o));
            assert!(
                angle_gap(angle_of(&t.sin_cos, i, 0), omega) < 1e-4,
                "omega {i}"
            );
            assert!(angle_gap(angle_of(&t.sin_cos, i, 1), phi) < 1e-4, "phi {i}");
            // Psi is read from O and turned by π. (1GCN's carbonyl O sits up to 36° off the
            // peptide plane, so this label differs as much from the psi read from the next N.)
            let psi_label = angle_of(&t.sin_cos, i, 2);
            assert!(
                angle_gap(psi_label, psi_o + std::f64::consts::PI) < 1e-4,
                "psi {i}"
            );
        }
        // Side chains: every defined chi against the dihedral of its four named atoms.
        let aatype: Vec<i64> = chain.aatype.shallow_clone().try_into().unwrap();
        let mut checked = 0;
        for (i, restype) in aatype.iter().enumerate() {
            for (chi, names) in CHI_ANGLES_ATOMS[*restype as usize].iter().enumerate() {
                let [a0, a1, a2, a3] =
                    names.map(|name| atom(p, i as i64, atom37_index(name).unwrap() as i64));
                let label = angle_of(&t.sin_cos, i as i64, 3 + chi as i64);
                assert!(
                    angle_gap(label, dihedral(a0, a1, a2, a3)) < 1e-4,
                    "residue {i} chi{}",
                    chi + 1
                );
                checked += 1;
            }
        }
        // 141 defined torsions = 28 pre-omega + 28 phi + 29 psi + 56 chis.
        assert_eq!(checked, 56);
        // The first residue has no pre-omega and no phi.
        let first: Vec<f32> = t.mask.get(0).try_into().unwrap();
        assert_eq!(&first[..3], [0.0, 0.0, 1.0]);
    }

    #[test]
    fn glucagon_torsions_match_alphafold() {
        // Reference: alphafold==2.0.0 all_atom.atom37_to_torsion_angles on glucagon.pdb read by
        // alphafold.common.protein.from_pdb_string (float32, CPU).
        let Some(chain) = glucagon() else { return };
        let batched = |x: &Tensor| x.unsqueeze(0);
        let t = atom37_to_torsion_angles(
            &batched(&chain.aatype),
            &batched(&chain.positions),
            &batched(&chain.mask),
            false,
        )
        .unwrap();
        assert_eq!(t.sin_cos.size(), [1, 29, 7, 2]);
        let (sin_cos, alt, mask) = (t.sin_cos.get(0), t.alt_sin_cos.get(0), t.mask.get(0));
        let row = |x: &Tensor, residue: i64| -> Vec<f32> {
            x.get(residue).reshape([-1]).try_into().unwrap()
        };
        let close = |actual: Vec<f32>, expected: &[f32]| {
            assert_eq!(actual.len(), expected.len());
            for (a, e) in actual.iter().zip(expected) {
                assert!((a - e).abs() < 2e-5, "{actual:?} vs {expected:?}");
            }
        };
        // HIS 1: mask [0 0 1 1 1 0 0]; psi, chi1, chi2 as printed.
        close(row(&mask, 0), &[0., 0., 1., 1., 1., 0., 0.]);
        close(
            row(&sin_cos, 0)[4..10].to_vec(),
            &[-0.83987, -0.542787, 0.822134, 0.569293, 0.386516, 0.922283],
        );
        // PHE 6: all five defined torsions; chi2 is π-periodic, so the alternative flips it.
        close(
            row(&sin_cos, 5),
            &[
                0.105929, -0.994374, -0.915176, 0.403055, -0.841497, 0.540261, -0.121034,
                -0.992648, -0.610452, 0.792054, 0., 0., 0., 0.,
            ],
        );
        close(row(&alt, 5)[8..10].to_vec(), &[0.610452, -0.792054]);
        // ASP 9 chi2 and its alternative.
        close(row(&sin_cos, 8)[8..10].to_vec(), &[-0.272267, 0.962222]);
        close(row(&alt, 8)[8..10].to_vec(), &[0.272267, -0.962222]);
        // SER 2: nothing ambiguous.
        close(row(&alt, 1), &row(&sin_cos, 1));
        // Whole chain: sum of masked (sin, cos) -63.182289 over 141 defined torsions.
        assert_eq!(mask.sum(Kind::Float).double_value(&[]), 141.0);
        let total = (&sin_cos * mask.unsqueeze(-1))
            .sum(Kind::Double)
            .double_value(&[]);
        assert!((total + 63.182289123535156).abs() < 1e-3, "{total}");
    }

    #[test]
    fn placeholders_fill_undefined_torsions() {
        let Some(chain) = glucagon() else { return };
        let t =
            atom37_to_torsion_angles(&chain.aatype, &chain.positions, &chain.mask, true).unwrap();
        // all_atom.py placeholder: (sin, cos) = (1, 0) where the mask is 0.
        let first: Vec<f32> = t.sin_cos.get(0).get(0).try_into().unwrap();
        assert_eq!(first, [1.0, 0.0]);
        let glycine_chi1: Vec<f32> = t.alt_sin_cos.get(3).get(3).try_into().unwrap();
        assert_eq!(glycine_chi1, [1.0, 0.0]);
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let aatype = Tensor::zeros([4], (Kind::Int64, tch::Device::Cpu));
        let positions = Tensor::zeros([5, 37, 3], (Kind::Float, tch::Device::Cpu));
        let mask = Tensor::zeros([5, 37], (Kind::Float, tch::Device::Cpu));
        assert!(atom37_to_torsion_angles(&aatype, &positions, &mask, false).is_err());
    }
}
