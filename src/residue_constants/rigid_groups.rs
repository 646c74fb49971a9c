//! The eight rigid groups of a residue and the torsion angles that place them (Jumper et al.
//! (2021) Suppl. 1.8 and Table 2): which atoms define each torsion, which atoms ride on which
//! group, the "literature" atom positions inside each group, and the default group-to-parent
//! frames that the structure module composes with torsion rotations (Suppl. Alg. 24).
//!
//! Tables from DeepMind's `alphafold/common/residue_constants.py` (`chi_angles_atoms`,
//! `chi_angles_mask`, `chi_pi_periodic`, `rigid_group_atom_positions`); the derived tables are
//! built as its `_make_rigid_group_constants` and `alphafold/model/all_atom.py`
//! (`get_chi_atom_indices`, `atom37_to_frames`) build them.
use std::sync::OnceLock;

use super::atom14::{atom14_index, RESIDUE_ATOM_RENAMING_SWAPS};
use super::{
    atom37_index, resname_index, ATOM14_NUM, ATOM_TYPE_NUM, RESTYPE_NUM, RESTYPE_NUM_WITH_X,
};

/// Number of rigid groups per residue.
pub const NUM_RIGID_GROUPS: usize = 8;
/// Group 0: the backbone frame (N, CA, C, and CB).
pub const BACKBONE_GROUP: usize = 0;
/// Group 1: the pre-omega group (holds no heavy atoms).
pub const PRE_OMEGA_GROUP: usize = 1;
/// Group 2: the phi group (holds only hydrogens, so no heavy atoms).
pub const PHI_GROUP: usize = 2;
/// Group 3: the psi group (holds O).
pub const PSI_GROUP: usize = 3;
/// Group 4: the chi1 group; chi2..chi4 are groups 5..7.
pub const CHI1_GROUP: usize = 4;
/// Number of torsion angles per residue: pre-omega, phi, psi, chi1..chi4 (group `k + 1`).
pub const NUM_TORSIONS: usize = 7;

/// Atoms defining each chi angle, one row per residue type in `RESTYPES` order plus `UNK`
/// (empty): chi1, chi2, ... as far as the residue has them. The middle two atoms are the
/// rotation axis; the last atom lies in the xy-plane of the chi group's frame. ARG's chi5 is
/// always 0 ± 5° and is left out.
#[rustfmt::skip]
pub const CHI_ANGLES_ATOMS: [&[[&str; 4]]; RESTYPE_NUM_WITH_X] = [
    &[], // ALA
    &[
        ["N", "CA", "CB", "CG"],
        ["CA", "CB", "CG", "CD"],
        ["CB", "CG", "CD", "NE"],
        ["CG", "CD", "NE", "CZ"],
    ], // ARG
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "OD1"]], // ASN
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "OD1"]], // ASP
    &[["N", "CA", "CB", "SG"]], // CYS
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD"], ["CB", "CG", "CD", "OE1"]], // GLN
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD"], ["CB", "CG", "CD", "OE1"]], // GLU
    &[], // GLY
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "ND1"]], // HIS
    &[["N", "CA", "CB", "CG1"], ["CA", "CB", "CG1", "CD1"]], // ILE
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD1"]], // LEU
    &[
        ["N", "CA", "CB", "CG"],
        ["CA", "CB", "CG", "CD"],
        ["CB", "CG", "CD", "CE"],
        ["CG", "CD", "CE", "NZ"],
    ], // LYS
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "SD"], ["CB", "CG", "SD", "CE"]], // MET
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD1"]], // PHE
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD"]], // PRO
    &[["N", "CA", "CB", "OG"]], // SER
    &[["N", "CA", "CB", "OG1"]], // THR
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD1"]], // TRP
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD1"]], // TYR
    &[["N", "CA", "CB", "CG1"]], // VAL
    &[], // UNK
];

/// 1.0 where the residue type has the chi angle (`chi_angles_mask`), `[21, 4]` in `RESTYPES`
/// order; the `UNK` row is the zero row that `all_atom.py` appends.
pub const CHI_ANGLES_MASK: [[f32; 4]; RESTYPE_NUM_WITH_X] = [
    [0.0, 0.0, 0.0, 0.0], // ALA
    [1.0, 1.0, 1.0, 1.0], // ARG
    [1.0, 1.0, 0.0, 0.0], // ASN
    [1.0, 1.0, 0.0, 0.0], // ASP
    [1.0, 0.0, 0.0, 0.0], // CYS
    [1.0, 1.0, 1.0, 0.0], // GLN
    [1.0, 1.0, 1.0, 0.0], // GLU
    [0.0, 0.0, 0.0, 0.0], // GLY
    [1.0, 1.0, 0.0, 0.0], // HIS
    [1.0, 1.0, 0.0, 0.0], // ILE
    [1.0, 1.0, 0.0, 0.0], // LEU
    [1.0, 1.0, 1.0, 1.0], // LYS
    [1.0, 1.0, 1.0, 0.0], // MET
    [1.0, 1.0, 0.0, 0.0], // PHE
    [1.0, 1.0, 0.0, 0.0], // PRO
    [1.0, 0.0, 0.0, 0.0], // SER
    [1.0, 0.0, 0.0, 0.0], // THR
    [1.0, 1.0, 0.0, 0.0], // TRP
    [1.0, 1.0, 0.0, 0.0], // TYR
    [1.0, 0.0, 0.0, 0.0], // VAL
    [0.0, 0.0, 0.0, 0.0], // UNK
];

/// 1.0 for chi angles that are π-periodic: rotating by π maps the side chain onto itself up to
/// the atom renaming of the atom14 module's `RESIDUE_ATOM_RENAMING_SWAPS` (`chi_pi_periodic`),
/// `[21, 4]` in `RESTYPES` order plus `UNK`.
pub const CHI_PI_PERIODIC: [[f32; 4]; RESTYPE_NUM_WITH_X] = [
    [0.0, 0.0, 0.0, 0.0], // ALA
    [0.0, 0.0, 0.0, 0.0], // ARG
    [0.0, 0.0, 0.0, 0.0], // ASN
    [0.0, 1.0, 0.0, 0.0], // ASP
    [0.0, 0.0, 0.0, 0.0], // CYS
    [0.0, 0.0, 0.0, 0.0], // GLN
    [0.0, 0.0, 1.0, 0.0], // GLU
    [0.0, 0.0, 0.0, 0.0], // GLY
    [0.0, 0.0, 0.0, 0.0], // HIS
    [0.0, 0.0, 0.0, 0.0], // ILE
    [0.0, 0.0, 0.0, 0.0], // LEU
    [0.0, 0.0, 0.0, 0.0], // LYS
    [0.0, 0.0, 0.0, 0.0], // MET
    [0.0, 1.0, 0.0, 0.0], // PHE
    [0.0, 0.0, 0.0, 0.0], // PRO
    [0.0, 0.0, 0.0, 0.0], // SER
    [0.0, 0.0, 0.0, 0.0], // THR
    [0.0, 0.0, 0.0, 0.0], // TRP
    [0.0, 1.0, 0.0, 0.0], // TYR
    [0.0, 0.0, 0.0, 0.0], // VAL
    [0.0, 0.0, 0.0, 0.0], // UNK
];

/// One heavy atom's idealised ("literature") position inside its rigid group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RigidGroupAtom {
    /// PDB atom name.
    pub name: &'static str,
    /// Rigid group (0..8) the atom moves with.
    pub group: usize,
    /// Position (Å) in the group's frame: relative to the end atom of the group's rotation axis,
    /// x along the axis, and the torsion-defining atom in the xy-plane with positive y. Backbone
    /// group atoms are in the backbone frame (CA at the origin, C on +x, N in the xy-plane).
    pub position: [f64; 3],
}

/// Literature atom positions per rigid group (`rigid_group_atom_positions`), one row per
/// standard residue type in `RESTYPES` order; within a row, residue_constants.py's order.
#[rustfmt::skip]
pub const RIGID_GROUP_ATOM_POSITIONS: [&[RigidGroupAtom]; RESTYPE_NUM] = [
    // ALA
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.525, 1.363, 0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.526, -0.000, -0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.529, -0.774, -1.205] },
        RigidGroupAtom { name: "O", group: 3, position: [0.627, 1.062, 0.000] },
    ],
    // ARG
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.524, 1.362, -0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.525, -0.000, -0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.524, -0.778, -1.209] },
        RigidGroupAtom { name: "O", group: 3, position: [0.626, 1.062, 0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.616, 1.390, -0.000] },
        RigidGroupAtom { name: "CD", group: 5, position: [0.564, 1.414, 0.000] },
        RigidGroupAtom { name: "NE", group: 6, position: [0.539, 1.357, -0.000] },
        RigidGroupAtom { name: "NH1", group: 7, position: [0.206, 2.301, 0.000] },
        RigidGroupAtom { name: "NH2", group: 7, position: [2.078, 0.978, -0.000] },
        RigidGroupAtom { name: "CZ", group: 7, position: [0.758, 1.093, -0.000] },
    ],
    // ASN
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.536, 1.357, 0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.526, -0.000, -0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.531, -0.787, -1.200] },
        RigidGroupAtom { name: "O", group: 3, position: [0.625, 1.062, 0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.584, 1.399, 0.000] },
        RigidGroupAtom { name: "ND2", group: 5, position: [0.593, -1.188, 0.001] },
        RigidGroupAtom { name: "OD1", group: 5, position: [0.633, 1.059, 0.000] },
    ],
    // ASP
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.525, 1.362, -0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.527, 0.000, -0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.526, -0.778, -1.208] },
        RigidGroupAtom { name: "O", group: 3, position: [0.626, 1.062, -0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.593, 1.398, -0.000] },
        RigidGroupAtom { name: "OD1", group: 5, position: [0.610, 1.091, 0.000] },
        RigidGroupAtom { name: "OD2", group: 5, position: [0.592, -1.101, -0.003] },
    ],
    // CYS
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.522, 1.362, -0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.524, 0.000, 0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.519, -0.773, -1.212] },
        RigidGroupAtom { name: "O", group: 3, position: [0.625, 1.062, -0.000] },
        RigidGroupAtom { name: "SG", group: 4, position: [0.728, 1.653, 0.000] },
    ],
    // GLN
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.526, 1.361, -0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.526, 0.000, 0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.525, -0.779, -1.207] },
        RigidGroupAtom { name: "O", group: 3, position: [0.626, 1.062, -0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.615, 1.393, 0.000] },
        RigidGroupAtom { name: "CD", group: 5, position: [0.587, 1.399, -0.000] },
        RigidGroupAtom { name: "NE2", group: 6, position: [0.593, -1.189, -0.001] },
        RigidGroupAtom { name: "OE1", group: 6, position: [0.634, 1.060, 0.000] },
    ],
    // GLU
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.528, 1.361, 0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.526, -0.000, -0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.526, -0.781, -1.207] },
        RigidGroupAtom { name: "O", group: 3, position: [0.626, 1.062, 0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.615, 1.392, 0.000] },
        RigidGroupAtom { name: "CD", group: 5, position: [0.600, 1.397, 0.000] },
        RigidGroupAtom { name: "OE1", group: 6, position: [0.607, 1.095, -0.000] },
        RigidGroupAtom { name: "OE2", group: 6, position: [0.589, -1.104, -0.001] },
    ],
    // GLY
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.572, 1.337, 0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.517, -0.000, -0.000] },
        RigidGroupAtom { name: "O", group: 3, position: [0.626, 1.062, -0.000] },
    ],
    // HIS
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.527, 1.360, 0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.525, 0.000, 0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.525, -0.778, -1.208] },
        RigidGroupAtom { name: "O", group: 3, position: [0.625, 1.063, 0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.600, 1.370, -0.000] },
        RigidGroupAtom { name: "CD2", group: 5, position: [0.889, -1.021, 0.003] },
        RigidGroupAtom { name: "ND1", group: 5, position: [0.744, 1.160, -0.000] },
        RigidGroupAtom { name: "CE1", group: 5, position: [2.030, 0.851, 0.002] },
        RigidGroupAtom { name: "NE2", group: 5, position: [2.145, -0.466, 0.004] },
    ],
    // ILE
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.493, 1.373, -0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.527, -0.000, -0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.536, -0.793, -1.213] },
        RigidGroupAtom { name: "O", group: 3, position: [0.627, 1.062, -0.000] },
        RigidGroupAtom { name: "CG1", group: 4, position: [0.534, 1.437, -0.000] },
        RigidGroupAtom { name: "CG2", group: 4, position: [0.540, -0.785, -1.199] },
        RigidGroupAtom { name: "CD1", group: 5, position: [0.619, 1.391, 0.000] },
    ],
    // LEU
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.520, 1.363, 0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.525, -0.000, -0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.522, -0.773, -1.214] },
        RigidGroupAtom { name: "O", group: 3, position: [0.625, 1.063, -0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.678, 1.371, 0.000] },
        RigidGroupAtom { name: "CD1", group: 5, position: [0.530, 1.430, -0.000] },
        RigidGroupAtom { name: "CD2", group: 5, position: [0.535, -0.774, 1.200] },
    ],
    // LYS
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.526, 1.362, -0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.526, 0.000, 0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.524, -0.778, -1.208] },
        RigidGroupAtom { name: "O", group: 3, position: [0.626, 1.062, -0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.619, 1.390, 0.000] },
        RigidGroupAtom { name: "CD", group: 5, position: [0.559, 1.417, 0.000] },
        RigidGroupAtom { name: "CE", group: 6, position: [0.560, 1.416, 0.000] },
        RigidGroupAtom { name: "NZ", group: 7, position: [0.554, 1.387, 0.000] },
    ],
    // MET
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.521, 1.364, -0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.525, 0.000, 0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.523, -0.776, -1.210] },
        RigidGroupAtom { name: "O", group: 3, position: [0.625, 1.062, -0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.613, 1.391, -0.000] },
        RigidGroupAtom { name: "SD", group: 5, position: [0.703, 1.695, 0.000] },
        RigidGroupAtom { name: "CE", group: 6, position: [0.320, 1.786, -0.000] },
    ],
    // PHE
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.518, 1.363, 0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.524, 0.000, -0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.525, -0.776, -1.212] },
        RigidGroupAtom { name: "O", group: 3, position: [0.626, 1.062, -0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.607, 1.377, 0.000] },
        RigidGroupAtom { name: "CD1", group: 5, position: [0.709, 1.195, -0.000] },
        RigidGroupAtom { name: "CD2", group: 5, position: [0.706, -1.196, 0.000] },
        RigidGroupAtom { name: "CE1", group: 5, position: [2.102, 1.198, -0.000] },
        RigidGroupAtom { name: "CE2", group: 5, position: [2.098, -1.201, -0.000] },
        RigidGroupAtom { name: "CZ", group: 5, position: [2.794, -0.003, -0.001] },
    ],
    // PRO
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.566, 1.351, -0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.527, -0.000, 0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.546, -0.611, -1.293] },
        RigidGroupAtom { name: "O", group: 3, position: [0.621, 1.066, 0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.382, 1.445, 0.000] },
        // residue_constants.py: CD "manually made angle 2 degrees larger" than (0.427, 1.440).
        RigidGroupAtom { name: "CD", group: 5, position: [0.477, 1.424, 0.000] },
    ],
    // SER
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.529, 1.360, -0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.525, -0.000, -0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.518, -0.777, -1.211] },
        RigidGroupAtom { name: "O", group: 3, position: [0.626, 1.062, -0.000] },
        RigidGroupAtom { name: "OG", group: 4, position: [0.503, 1.325, 0.000] },
    ],
    // THR
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.517, 1.364, 0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.526, 0.000, -0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.516, -0.793, -1.215] },
        RigidGroupAtom { name: "O", group: 3, position: [0.626, 1.062, 0.000] },
        RigidGroupAtom { name: "CG2", group: 4, position: [0.550, -0.718, -1.228] },
        RigidGroupAtom { name: "OG1", group: 4, position: [0.472, 1.353, 0.000] },
    ],
    // TRP
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.521, 1.363, 0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.525, -0.000, 0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.523, -0.776, -1.212] },
        RigidGroupAtom { name: "O", group: 3, position: [0.627, 1.062, 0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.609, 1.370, -0.000] },
        RigidGroupAtom { name: "CD1", group: 5, position: [0.824, 1.091, 0.000] },
        RigidGroupAtom { name: "CD2", group: 5, position: [0.854, -1.148, -0.005] },
        RigidGroupAtom { name: "CE2", group: 5, position: [2.186, -0.678, -0.007] },
        RigidGroupAtom { name: "CE3", group: 5, position: [0.622, -2.530, -0.007] },
        RigidGroupAtom { name: "NE1", group: 5, position: [2.140, 0.690, -0.004] },
        RigidGroupAtom { name: "CH2", group: 5, position: [3.028, -2.890, -0.013] },
        RigidGroupAtom { name: "CZ2", group: 5, position: [3.283, -1.543, -0.011] },
        RigidGroupAtom { name: "CZ3", group: 5, position: [1.715, -3.389, -0.011] },
    ],
    // TYR
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.522, 1.362, 0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.524, -0.000, -0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.522, -0.776, -1.213] },
        RigidGroupAtom { name: "O", group: 3, position: [0.627, 1.062, -0.000] },
        RigidGroupAtom { name: "CG", group: 4, position: [0.607, 1.382, -0.000] },
        RigidGroupAtom { name: "CD1", group: 5, position: [0.716, 1.195, -0.000] },
        RigidGroupAtom { name: "CD2", group: 5, position: [0.713, -1.194, -0.001] },
        RigidGroupAtom { name: "CE1", group: 5, position: [2.107, 1.200, -0.002] },
        RigidGroupAtom { name: "CE2", group: 5, position: [2.104, -1.201, -0.003] },
        RigidGroupAtom { name: "OH", group: 5, position: [4.168, -0.002, -0.005] },
        RigidGroupAtom { name: "CZ", group: 5, position: [2.791, -0.001, -0.003] },
    ],
    // VAL
    &[
        RigidGroupAtom { name: "N", group: 0, position: [-0.494, 1.373, -0.000] },
        RigidGroupAtom { name: "CA", group: 0, position: [0.000, 0.000, 0.000] },
        RigidGroupAtom { name: "C", group: 0, position: [1.527, -0.000, -0.000] },
        RigidGroupAtom { name: "CB", group: 0, position: [-0.533, -0.795, -1.213] },
        RigidGroupAtom { name: "O", group: 3, position: [0.627, 1.062, -0.000] },
        RigidGroupAtom { name: "CG1", group: 4, position: [0.540, 1.429, -0.000] },
        RigidGroupAtom { name: "CG2", group: 4, position: [0.533, -0.776, 1.203] },
    ],
];

/// A 4x4 homogeneous rigid transform, row-major: `[[R | t], [0 0 0 1]]`.
pub type Transform4x4 = [[f32; 4]; 4];

/// Per-residue-type rigid-group tables, built once from the tables above.
pub struct RigidGroupTables {
    /// `[21, 37]` rigid group of each atom37 atom (0 for atoms the residue lacks).
    pub atom37_to_rigid_group: [[usize; ATOM_TYPE_NUM]; RESTYPE_NUM_WITH_X],
    /// `[21, 37, 3]` literature position of each atom37 atom in its group's frame.
    pub atom37_rigid_group_positions: [[[f32; 3]; ATOM_TYPE_NUM]; RESTYPE_NUM_WITH_X],
    /// `[21, 14]` rigid group of each atom14 slot (0 for unused slots).
    pub atom14_to_rigid_group: [[usize; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
    /// `[21, 14, 3]` literature position of each atom14 atom in its group's frame.
    pub atom14_rigid_group_positions: [[[f32; 3]; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
    /// `[21, 8, 4, 4]` default transform from each group's frame to its parent's frame
    /// (`restype_rigid_group_default_frame`): groups 1..=4 map into the backbone frame, chi2..4
    /// into the previous chi group. Identity for groups 0 and 1; all zeros for groups a residue
    /// lacks and for the whole `UNK` row, as in residue_constants.py.
    pub default_frame: [[Transform4x4; NUM_RIGID_GROUPS]; RESTYPE_NUM_WITH_X],
    /// `[21, 4, 4]` atom37 indices of the four atoms of each chi angle; `[0, 0, 0, 0]` for chi
    /// angles the residue lacks (`get_chi_atom_indices`).
    pub chi_angles_atom37_indices: [[[usize; 4]; 4]; RESTYPE_NUM_WITH_X],
    /// `[21, 8, 3]` atom37 indices of the three atoms that fix each group's frame, in the order
    /// (point on the negative x-axis, origin, point in the xy-plane) of Suppl. Alg. 21:
    /// (C, CA, N) for the backbone, (CA, C, O) for psi, chi atoms 2..4 for the chi groups;
    /// `[0, 0, 0]` for the empty groups (`atom37_to_frames`).
    pub group_base_atom37_indices: [[[usize; 3]; NUM_RIGID_GROUPS]; RESTYPE_NUM_WITH_X],
    /// `[21, 8]` 1.0 for the groups a residue type has: backbone, psi and its chi groups (the
    /// backbone and psi groups are marked also for `UNK`, as in `atom37_to_frames`).
    pub group_exists: [[f32; NUM_RIGID_GROUPS]; RESTYPE_NUM_WITH_X],
    /// `[21, 8]` 1.0 for the last chi group of residues with ambiguous atom names: its frame
    /// is equally valid rotated by 180° about its x-axis.
    pub group_is_ambiguous: [[f32; NUM_RIGID_GROUPS]; RESTYPE_NUM_WITH_X],
}

/// The rigid-group tables (`_make_rigid_group_constants` and the per-type tables of
/// `atom37_to_frames` / `get_chi_atom_indices`).
pub fn rigid_group_tables() -> &'static RigidGroupTables {
    static TABLES: OnceLock<RigidGroupTables> = OnceLock::new();
    TABLES.get_or_init(build_rigid_group_tables)
}

/// Number of chi angles residue type `restype` has.
pub fn num_chi_angles(restype: usize) -> usize {
    CHI_ANGLES_ATOMS.get(restype).map_or(0, |chis| chis.len())
}

/// Looks up a name that the tables in this module guarantee to exist.
fn known_atom37(name: &str) -> usize {
    atom37_index(name).unwrap_or_else(|| panic!("rigid-group table names unknown atom {name}"))
}

/// Rigid transform whose x-axis is `ex`, whose y-axis is `ey` made orthogonal to it
/// (Gram-Schmidt), and whose origin is `translation` (`_make_rigid_transformation_4x4`).
/// Computed in f64 like numpy, then stored as f32.
fn transform_from_two_axes(ex: [f64; 3], ey: [f64; 3], translation: [f64; 3]) -> Transform4x4 {
    let norm = |v: [f64; 3]| dot(v, v).sqrt();
    let ex_len = norm(ex);
    let x = ex.map(|c| c / ex_len);
    let ey_along_x = dot(ey, x);
    let y_unnormalised = [0, 1, 2].map(|i| ey[i] - ey_along_x * x[i]);
    let y_len = norm(y_unnormalised);
    let y = y_unnormalised.map(|c| c / y_len);
    let z = cross(x, y);
    let mut m = [[0.0f32; 4]; 4];
    for row in 0..3 {
        m[row] = [x[row], y[row], z[row], translation[row]].map(|v| v as f32);
    }
    m[3] = [0.0, 0.0, 0.0, 1.0];
    m
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn identity4x4() -> Transform4x4 {
    std::array::from_fn(|i| std::array::from_fn(|j| if i == j { 1.0 } else { 0.0 }))
}

fn build_rigid_group_tables() -> RigidGroupTables {
    let mut t = RigidGroupTables {
        atom37_to_rigid_group: [[0; ATOM_TYPE_NUM]; RESTYPE_NUM_WITH_X],
        atom37_rigid_group_positions: [[[0.0; 3]; ATOM_TYPE_NUM]; RESTYPE_NUM_WITH_X],
        atom14_to_rigid_group: [[0; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
        atom14_rigid_group_positions: [[[0.0; 3]; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
        default_frame: [[[[0.0; 4]; 4]; NUM_RIGID_GROUPS]; RESTYPE_NUM_WITH_X],
        chi_angles_atom37_indices: [[[0; 4]; 4]; RESTYPE_NUM_WITH_X],
        group_base_atom37_indices: [[[0; 3]; NUM_RIGID_GROUPS]; RESTYPE_NUM_WITH_X],
        group_exists: [[0.0; NUM_RIGID_GROUPS]; RESTYPE_NUM_WITH_X],
        group_is_ambiguous: [[0.0; NUM_RIGID_GROUPS]; RESTYPE_NUM_WITH_X],
    };
    for (restype, atoms) in RIGID_GROUP_ATOM_POSITIONS.iter().enumerate() {
        for atom in atoms.iter() {
            let position = atom.position.map(|c| c as f32);
            let atom37 = known_atom37(atom.name);
            t.atom37_to_rigid_group[restype][atom37] = atom.group;
            t.atom37_rigid_group_positions[restype][atom37] = position;
            let slot = atom14_index(restype, atom.name).unwrap_or_else(|| {
                panic!(
                    "rigid-group atom {} absent from atom14 row {restype}",
                    atom.name
                )
            });
            t.atom14_to_rigid_group[restype][slot] = atom.group;
            t.atom14_rigid_group_positions[restype][slot] = position;
        }
        t.default_frame[restype] = default_frames(restype, atoms);
    }
    let chi_atom_triples = |restype: usize| CHI_ANGLES_ATOMS[restype].iter().enumerate();
    for restype in 0..RESTYPE_NUM_WITH_X {
        t.group_base_atom37_indices[restype][BACKBONE_GROUP] = ["C", "CA", "N"].map(known_atom37);
        t.group_base_atom37_indices[restype][PSI_GROUP] = ["CA", "C", "O"].map(known_atom37);
        t.group_exists[restype][BACKBONE_GROUP] = 1.0;
        t.group_exists[restype][PSI_GROUP] = 1.0;
        for (chi, atoms) in chi_atom_triples(restype) {
            t.chi_angles_atom37_indices[restype][chi] = atoms.map(known_atom37);
            t.group_base_atom37_indices[restype][CHI1_GROUP + chi] =
                [atoms[1], atoms[2], atoms[3]].map(known_atom37);
            t.group_exists[restype][CHI1_GROUP + chi] = 1.0;
        }
    }
    for (resname, _) in RESIDUE_ATOM_RENAMING_SWAPS {
        let restype = resname_index(resname)
            .unwrap_or_else(|| panic!("renaming swap names unknown residue {resname}"));
        let last_chi = num_chi_angles(restype)
            .checked_sub(1)
            .unwrap_or_else(|| panic!("ambiguous residue {resname} has no chi angle"));
        t.group_is_ambiguous[restype][CHI1_GROUP + last_chi] = 1.0;
    }
    t
}

/// Default group-to-parent frames of one standard residue type (`_make_rigid_group_constants`).
fn default_frames(restype: usize, atoms: &[RigidGroupAtom]) -> [Transform4x4; NUM_RIGID_GROUPS] {
    let position = |name: &str| {
        atoms
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.position)
            .unwrap_or_else(|| panic!("rigid-group row {restype} lacks atom {name}"))
    };
    let sub = |a: [f64; 3], b: [f64; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    let (n, ca, c) = (position("N"), position("CA"), position("C"));
    let mut frames = [[[0.0f32; 4]; 4]; NUM_RIGID_GROUPS];
    frames[BACKBONE_GROUP] = identity4x4();
    // The pre-omega group holds no atoms; its frame is a placeholder identity.
    frames[PRE_OMEGA_GROUP] = identity4x4();
    frames[PHI_GROUP] = transform_from_two_axes(sub(n, ca), [1.0, 0.0, 0.0], n);
    frames[PSI_GROUP] = transform_from_two_axes(sub(c, ca), sub(ca, n), c);
    for (chi, names) in CHI_ANGLES_ATOMS[restype].iter().enumerate() {
        let frame = if chi == 0 {
            let [first, axis_start, axis_end, _] = names.map(position);
            transform_from_two_axes(sub(axis_end, axis_start), sub(first, axis_start), axis_end)
        } else {
            // Each later chi axis starts at the previous group's origin, so the axis end atom's
            // position (in the previous group's frame) is also the axis direction.
            let axis_end = position(names[2]);
            transform_from_two_axes(axis_end, [-1.0, 0.0, 0.0], axis_end)
        };
        frames[CHI1_GROUP + chi] = frame;
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::residue_constants::atom14::atom14_tables;
    use crate::residue_constants::{restype_index, RESTYPE_3};

    fn assert_close(actual: &[f32], expected: &[f32], tol: f32) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() <= tol, "{actual:?} != {expected:?}");
        }
    }

    #[test]
    fn chi_tables_agree_with_each_other() {
        for restype in 0..RESTYPE_NUM_WITH_X {
            let from_mask = CHI_ANGLES_MASK[restype]
                .iter()
                .filter(|m| **m == 1.0)
                .count();
            assert_eq!(num_chi_angles(restype), from_mask, "restype {restype}");
            // The periodic chis are the last chi of the residues with ambiguous names.
            for chi in 0..4 {
                if CHI_PI_PERIODIC[restype][chi] == 1.0 {
                    assert_eq!(chi + 1, num_chi_angles(restype));
                }
            }
        }
        // residue_constants.py: ARG and LYS have four chis, ALA/GLY none, chi_pi_periodic TYR chi2.
        assert_eq!(num_chi_angles(restype_index('R')), 4);
        assert_eq!(num_chi_angles(restype_index('K')), 4);
        assert_eq!(num_chi_angles(restype_index('G')), 0);
        assert_eq!(CHI_PI_PERIODIC[restype_index('Y')], [0.0, 1.0, 0.0, 0.0]);
        // all_atom.py get_chi_atom_indices for ARG, as printed by alphafold-colabfold 2.3.27:
        // [[0 1 3 5] [1 3 5 11] [3 5 11 23] [5 11 23 32]].
        let t = rigid_group_tables();
        assert_eq!(
            t.chi_angles_atom37_indices[restype_index('R')],
            [[0, 1, 3, 5], [1, 3, 5, 11], [3, 5, 11, 23], [5, 11, 23, 32]]
        );
        assert_eq!(t.chi_angles_atom37_indices[restype_index('A')], [[0; 4]; 4]);
    }

    #[test]
    fn literature_positions_cover_every_atom_of_every_residue() {
        let atoms = atom14_tables();
        let t = rigid_group_tables();
        for (restype, row) in RIGID_GROUP_ATOM_POSITIONS.iter().enumerate() {
            // residue_constants.py builds restype_atom37_mask from these rows; it must match
            // the mask built from residue_atoms.
            let mut mask = [0.0f32; ATOM_TYPE_NUM];
            for atom in row.iter() {
                mask[known_atom37(atom.name)] = 1.0;
            }
            assert_eq!(mask, atoms.atom37_mask[restype], "{}", RESTYPE_3[restype]);
        }
        // residue_constants.py line `['CB', 0, (-0.529, -0.774, -1.205)]` of ALA (atom14 slot 4).
        let ala = restype_index('A');
        assert_close(
            &t.atom14_rigid_group_positions[ala][4],
            &[-0.529, -0.774, -1.205],
            0.0,
        );
        assert_eq!(
            t.atom14_to_rigid_group[ala],
            [0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        // TRP `['CH2', 5, (3.028, -2.890, -0.013)]`, atom14 slot 13; restype_atom14_to_rigid_group
        // TRP row as printed by alphafold-colabfold 2.3.27: [0 0 0 3 0 4 5 5 5 5 5 5 5 5].
        let trp = restype_index('W');
        assert_close(
            &t.atom14_rigid_group_positions[trp][13],
            &[3.028, -2.890, -0.013],
            0.0,
        );
        assert_eq!(
            t.atom14_to_rigid_group[trp],
            [0, 0, 0, 3, 0, 4, 5, 5, 5, 5, 5, 5, 5, 5]
        );
        // ARG NH1 (atom37 29) rides on chi4: `['NH1', 7, (0.206, 2.301, 0.000)]`.
        let arg = restype_index('R');
        assert_eq!(t.atom37_to_rigid_group[arg][29], 7);
        assert_close(
            &t.atom37_rigid_group_positions[arg][29],
            &[0.206, 2.301, 0.0],
            0.0,
        );
    }

    #[test]
    fn psi_default_frame_of_alanine_by_hand() {
        // ALA: C - CA = (1.526, 0, 0) gives x = (1, 0, 0); CA - N = (0.525, -1.363, 0) minus its
        // x part gives y = (0, -1, 0); z = x × y = (0, 0, -1); origin at C = (1.526, 0, 0).
        let frame = rigid_group_tables().default_frame[restype_index('A')][PSI_GROUP];
        let expected = [
            [1.0, 0.0, 0.0, 1.526],
            [0.0, -1.0, 0.0, 0.0],
            [0.0, 0.0, -1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert_close(frame.as_flattened(), expected.as_flattened(), 1e-6);
    }

    #[test]
    fn default_frames_match_alphafold() {
        // restype_rigid_group_default_frame as printed by alphafold-colabfold 2.3.27 (numpy).
        let t = rigid_group_tables();
        let ala_phi = [
            [-0.35943782, 0.93316907, 0.0, -0.525],
            [0.93316907, 0.35943782, 0.0, 1.363],
            [0.0, 0.0, -1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert_close(
            t.default_frame[0][PHI_GROUP].as_flattened(),
            ala_phi.as_flattened(),
            1e-6,
        );
        let arg_chi1 = [
            [-0.3424368, -0.51215166, 0.7876787, -0.524],
            [-0.50842714, 0.80601937, 0.30304232, -0.778],
            [-0.79008794, -0.29670438, -0.53640246, -1.209],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert_close(
            t.default_frame[1][CHI1_GROUP].as_flattened(),
            arg_chi1.as_flattened(),
            1e-6,
        );
        let arg_chi2 = [
            [0.4051618, -0.914245, 0.0, 0.616],
            [0.914245, 0.4051618, 0.0, 1.39],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert_close(
            t.default_frame[1][CHI1_GROUP + 1].as_flattened(),
            arg_chi2.as_flattened(),
            1e-6,
        );
        // Groups 0 and 1 are the identity; ALA has no chi frames; UNK is all zeros.
        assert_eq!(t.default_frame[0][BACKBONE_GROUP], identity4x4());
        assert_eq!(t.default_frame[0][PRE_OMEGA_GROUP], identity4x4());
        assert_eq!(t.default_frame[0][CHI1_GROUP], [[0.0; 4]; 4]);
        assert_eq!(t.default_frame[20], [[[0.0; 4]; 4]; NUM_RIGID_GROUPS]);
    }

    #[test]
    fn chi1_frame_sits_on_cb_with_x_along_ca_cb() {
        // The chi1 frame maps its axis end (CB) to the origin: CB's backbone position is the
        // frame's translation, and CA, the axis start, lies on the frame's negative x-axis.
        let t = rigid_group_tables();
        for restype in 0..RESTYPE_NUM {
            if num_chi_angles(restype) == 0 {
                continue;
            }
            let frame = t.default_frame[restype][CHI1_GROUP];
            let cb = t.atom37_rigid_group_positions[restype][3];
            assert_close(&[frame[0][3], frame[1][3], frame[2][3]], &cb, 1e-6);
            let x_axis = [frame[0][0], frame[1][0], frame[2][0]];
            let cb_len = cb.iter().map(|c| c * c).sum::<f32>().sqrt();
            assert_close(&x_axis, &cb.map(|c| c / cb_len), 1e-6);
        }
    }

    /// Sum of `values[k] * (k % 13 + 1)` over the flattened table: a checksum that also sees
    /// permuted entries.
    fn weighted_checksum(values: impl Iterator<Item = f64>) -> f64 {
        values
            .enumerate()
            .map(|(k, v)| v * (k % 13 + 1) as f64)
            .sum()
    }

    #[test]
    fn whole_tables_match_alphafold_checksums() {
        // Reference checksums computed the same way with numpy from alphafold==2.0.0's
        // residue_constants (float32 tables widened to float64).
        let t = rigid_group_tables();
        let frames = t
            .default_frame
            .iter()
            .flatten()
            .flatten()
            .flatten()
            .map(|v| *v as f64);
        assert!((weighted_checksum(frames) - 2112.6594781130552).abs() < 1e-3);
        let positions = t.atom14_rigid_group_positions.iter().flatten().flatten();
        assert!(
            (weighted_checksum(positions.map(|v| *v as f64)) - 1051.9640071546892).abs() < 1e-3
        );
        let groups = t.atom14_to_rigid_group.iter().flatten().map(|g| *g as f64);
        assert_eq!(weighted_checksum(groups), 2828.0);
    }

    #[test]
    fn frame_base_atoms_and_ambiguity() {
        let t = rigid_group_tables();
        // atom37_to_frames: backbone from (C, CA, N) = atom37 (2, 1, 0); psi from (CA, C, O).
        assert_eq!(t.group_base_atom37_indices[0][BACKBONE_GROUP], [2, 1, 0]);
        assert_eq!(t.group_base_atom37_indices[20][PSI_GROUP], [1, 2, 4]);
        // PHE chi2 group from (CB, CG, CD1) = atom37 (3, 5, 12).
        let phe = restype_index('F');
        assert_eq!(t.group_base_atom37_indices[phe][CHI1_GROUP + 1], [3, 5, 12]);
        assert_eq!(
            t.group_exists[phe],
            [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
        );
        assert_eq!(t.group_exists[20], [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        // The ambiguous group is the last chi group of ASP, GLU, PHE, TYR, the π-periodic chi.
        for restype in 0..RESTYPE_NUM_WITH_X {
            assert_eq!(
                &t.group_is_ambiguous[restype][CHI1_GROUP..],
                &CHI_PI_PERIODIC[restype]
            );
        }
        let ambiguous: f32 = t.group_is_ambiguous.iter().flatten().sum();
        assert_eq!(ambiguous, 4.0);
    }
}
