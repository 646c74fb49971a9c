//! Per-residue heavy-atom layouts: the dense atom14 order, the atoms each residue type has, the
//! atom14 <-> atom37 index maps, and the naming ambiguities of symmetric side chains.
//!
//! Tables from DeepMind's `alphafold/common/residue_constants.py` (`restype_name_to_atom14_names`,
//! `residue_atoms`, `residue_atom_renaming_swaps`); the derived maps are built as
//! `alphafold/model/tf/data_transforms.py` `make_atom14_masks` and
//! `alphafold/model/all_atom.py` `_make_renaming_matrices` build them (Jumper et al. (2021)
//! Suppl. 1.2.1 and Table 3).
use std::sync::OnceLock;

use super::{atom37_index, ATOM14_NUM, ATOM_TYPE_NUM, RESNAMES, RESTYPE_NUM, RESTYPE_NUM_WITH_X};

/// Atom names of each atom14 slot, one row per residue type in `RESTYPES` order plus `UNK`
/// (row 20, all empty). `""` marks an unused slot. Backbone first (N, CA, C, O), then CB and
/// the side chain outwards.
#[rustfmt::skip]
pub const RESTYPE_NAME_TO_ATOM14_NAMES: [[&str; ATOM14_NUM]; RESTYPE_NUM_WITH_X] = [
    ["N", "CA", "C", "O", "CB", "", "", "", "", "", "", "", "", ""], // ALA
    ["N", "CA", "C", "O", "CB", "CG", "CD", "NE", "CZ", "NH1", "NH2", "", "", ""], // ARG
    ["N", "CA", "C", "O", "CB", "CG", "OD1", "ND2", "", "", "", "", "", ""], // ASN
    ["N", "CA", "C", "O", "CB", "CG", "OD1", "OD2", "", "", "", "", "", ""], // ASP
    ["N", "CA", "C", "O", "CB", "SG", "", "", "", "", "", "", "", ""], // CYS
    ["N", "CA", "C", "O", "CB", "CG", "CD", "OE1", "NE2", "", "", "", "", ""], // GLN
    ["N", "CA", "C", "O", "CB", "CG", "CD", "OE1", "OE2", "", "", "", "", ""], // GLU
    ["N", "CA", "C", "O", "", "", "", "", "", "", "", "", "", ""], // GLY
    ["N", "CA", "C", "O", "CB", "CG", "ND1", "CD2", "CE1", "NE2", "", "", "", ""], // HIS
    ["N", "CA", "C", "O", "CB", "CG1", "CG2", "CD1", "", "", "", "", "", ""], // ILE
    ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2", "", "", "", "", "", ""], // LEU
    ["N", "CA", "C", "O", "CB", "CG", "CD", "CE", "NZ", "", "", "", "", ""], // LYS
    ["N", "CA", "C", "O", "CB", "CG", "SD", "CE", "", "", "", "", "", ""], // MET
    ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ", "", "", ""], // PHE
    ["N", "CA", "C", "O", "CB", "CG", "CD", "", "", "", "", "", "", ""], // PRO
    ["N", "CA", "C", "O", "CB", "OG", "", "", "", "", "", "", "", ""], // SER
    ["N", "CA", "C", "O", "CB", "OG1", "CG2", "", "", "", "", "", "", ""], // THR
    ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2", "NE1", "CE2", "CE3", "CZ2", "CZ3", "CH2"], // TRP
    ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ", "OH", "", ""], // TYR
    ["N", "CA", "C", "O", "CB", "CG1", "CG2", "", "", "", "", "", "", ""], // VAL
    ["", "", "", "", "", "", "", "", "", "", "", "", "", ""], // UNK
];

/// Heavy atoms (PDB names, no hydrogens, no OXT) of each standard residue type, in `RESTYPES`
/// order; within a row the order is residue_constants.py's (it carries no meaning).
#[rustfmt::skip]
pub const RESIDUE_ATOMS: [&[&str]; RESTYPE_NUM] = [
    &["C", "CA", "CB", "N", "O"], // ALA
    &["C", "CA", "CB", "CG", "CD", "CZ", "N", "NE", "O", "NH1", "NH2"], // ARG
    &["C", "CA", "CB", "CG", "N", "ND2", "O", "OD1"], // ASN
    &["C", "CA", "CB", "CG", "N", "O", "OD1", "OD2"], // ASP
    &["C", "CA", "CB", "N", "O", "SG"], // CYS
    &["C", "CA", "CB", "CG", "CD", "N", "NE2", "O", "OE1"], // GLN
    &["C", "CA", "CB", "CG", "CD", "N", "O", "OE1", "OE2"], // GLU
    &["C", "CA", "N", "O"], // GLY
    &["C", "CA", "CB", "CG", "CD2", "CE1", "N", "ND1", "NE2", "O"], // HIS
    &["C", "CA", "CB", "CG1", "CG2", "CD1", "N", "O"], // ILE
    &["C", "CA", "CB", "CG", "CD1", "CD2", "N", "O"], // LEU
    &["C", "CA", "CB", "CG", "CD", "CE", "N", "NZ", "O"], // LYS
    &["C", "CA", "CB", "CG", "CE", "N", "O", "SD"], // MET
    &["C", "CA", "CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ", "N", "O"], // PHE
    &["C", "CA", "CB", "CG", "CD", "N", "O"], // PRO
    &["C", "CA", "CB", "N", "O", "OG"], // SER
    &["C", "CA", "CB", "CG2", "N", "O", "OG1"], // THR
    &[
        "C", "CA", "CB", "CG", "CD1", "CD2", "CE2", "CE3", "CZ2", "CZ3", "CH2", "N", "NE1", "O",
    ], // TRP
    &["C", "CA", "CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ", "N", "O", "OH"], // TYR
    &["C", "CA", "CB", "CG1", "CG2", "N", "O"], // VAL
];

/// Atom pairs whose names are interchangeable because a 180° flip of the last side-chain group
/// maps the residue onto itself (`residue_atom_renaming_swaps`; Jumper et al. (2021) Suppl.
/// Table 3). Format: (three-letter name, [(atom, partner)]). LEU, VAL and ARG are not listed:
/// their naming is fixed by the positions of neighbouring atoms.
pub const RESIDUE_ATOM_RENAMING_SWAPS: [(&str, &[(&str, &str)]); 4] = [
    ("ASP", &[("OD1", "OD2")]),
    ("GLU", &[("OE1", "OE2")]),
    ("PHE", &[("CD1", "CD2"), ("CE1", "CE2")]),
    ("TYR", &[("CD1", "CD2"), ("CE1", "CE2")]),
];

/// atom14 slot of `atom_name` in residue type `restype` (0..=20); `None` if it has no such atom.
pub fn atom14_index(restype: usize, atom_name: &str) -> Option<usize> {
    if atom_name.is_empty() {
        return None;
    }
    RESTYPE_NAME_TO_ATOM14_NAMES
        .get(restype)?
        .iter()
        .position(|a| *a == atom_name)
}

/// Per-residue-type index maps between the atom14 and atom37 layouts, built once.
pub struct Atom14Tables {
    /// `[21, 14]` atom37 index of each atom14 slot; 0 for unused slots (mask them with
    /// `atom14_mask`).
    pub atom14_to_atom37: [[usize; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
    /// `[21, 37]` atom14 slot of each atom37 atom; 0 for atoms the residue lacks.
    pub atom37_to_atom14: [[usize; ATOM_TYPE_NUM]; RESTYPE_NUM_WITH_X],
    /// `[21, 14]` 1.0 where the residue type has an atom in the slot.
    pub atom14_mask: [[f32; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
    /// `[21, 37]` 1.0 where the residue type has the atom (from [`RESIDUE_ATOMS`]; `UNK` row 0).
    pub atom37_mask: [[f32; ATOM_TYPE_NUM]; RESTYPE_NUM_WITH_X],
    /// `[21, 14]` 1.0 for atoms in [`RESIDUE_ATOM_RENAMING_SWAPS`].
    pub atom14_is_ambiguous: [[f32; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
    /// `[21, 14]` slot each atom14 slot takes after renaming the ambiguous atoms (a permutation;
    /// the identity for unambiguous residues). The permutation matrix `P[i, swap[i]] = 1` is
    /// AlphaFold's `RENAMING_MATRICES`: alt_positions[j] = positions[swap[j]].
    pub atom14_swap_index: [[usize; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
}

/// The atom14/atom37 maps (`make_atom14_masks`, `_make_renaming_matrices`).
pub fn atom14_tables() -> &'static Atom14Tables {
    static TABLES: OnceLock<Atom14Tables> = OnceLock::new();
    TABLES.get_or_init(build_atom14_tables)
}

/// Looks up a name that the tables in this module guarantee to exist.
fn known_atom37(name: &str) -> usize {
    atom37_index(name).unwrap_or_else(|| panic!("residue table names unknown atom {name}"))
}

fn known_atom14(restype: usize, name: &str) -> usize {
    atom14_index(restype, name)
        .unwrap_or_else(|| panic!("residue table names atom {name} absent from restype {restype}"))
}

fn build_atom14_tables() -> Atom14Tables {
    let mut tables = Atom14Tables {
        atom14_to_atom37: [[0; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
        atom37_to_atom14: [[0; ATOM_TYPE_NUM]; RESTYPE_NUM_WITH_X],
        atom14_mask: [[0.0; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
        atom37_mask: [[0.0; ATOM_TYPE_NUM]; RESTYPE_NUM_WITH_X],
        atom14_is_ambiguous: [[0.0; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
        atom14_swap_index: [std::array::from_fn(|slot| slot); RESTYPE_NUM_WITH_X],
    };
    for (restype, names) in RESTYPE_NAME_TO_ATOM14_NAMES.iter().enumerate() {
        for (slot, name) in names.iter().enumerate().filter(|(_, n)| !n.is_empty()) {
            let atom37 = known_atom37(name);
            tables.atom14_to_atom37[restype][slot] = atom37;
            tables.atom37_to_atom14[restype][atom37] = slot;
            tables.atom14_mask[restype][slot] = 1.0;
        }
    }
    for (restype, atoms) in RESIDUE_ATOMS.iter().enumerate() {
        for name in atoms.iter() {
            tables.atom37_mask[restype][known_atom37(name)] = 1.0;
        }
    }
    for (resname, swaps) in RESIDUE_ATOM_RENAMING_SWAPS {
        let restype = RESNAMES
            .iter()
            .position(|r| *r == resname)
            .unwrap_or_else(|| {
                panic!("renaming swap names unknown residue {resname}");
            });
        for (first, second) in swaps.iter() {
            let (a, b) = (known_atom14(restype, first), known_atom14(restype, second));
            tables.atom14_swap_index[restype][a] = b;
            tables.atom14_swap_index[restype][b] = a;
            tables.atom14_is_ambiguous[restype][a] = 1.0;
            tables.atom14_is_ambiguous[restype][b] = 1.0;
        }
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::residue_constants::{restype_index, ATOM_TYPES};

    #[test]
    fn atom14_names_hold_each_residues_atoms_once() {
        for (restype, atoms) in RESIDUE_ATOMS.iter().enumerate() {
            let named: Vec<&str> = RESTYPE_NAME_TO_ATOM14_NAMES[restype]
                .iter()
                .copied()
                .filter(|n| !n.is_empty())
                .collect();
            let mut sorted_named = named.clone();
            sorted_named.sort_unstable();
            let mut sorted_atoms = atoms.to_vec();
            sorted_atoms.sort_unstable();
            assert_eq!(sorted_named, sorted_atoms, "restype {restype}");
            assert_eq!(&named[..4], ["N", "CA", "C", "O"]);
        }
        // residue_constants.py: TRP is the only residue filling all 14 slots, GLY has 4 atoms.
        assert_eq!(RESIDUE_ATOMS[restype_index('W')].len(), 14);
        assert_eq!(RESIDUE_ATOMS[restype_index('G')].len(), 4);
        let total: usize = RESIDUE_ATOMS.iter().map(|a| a.len()).sum();
        // 5+11+8+8+6+9+9+4+10+8+8+9+8+11+7+6+7+14+12+7 heavy atoms over the 20 types.
        assert_eq!(total, 167);
    }

    #[test]
    fn atom14_and_atom37_maps_invert_each_other() {
        let t = atom14_tables();
        for restype in 0..RESTYPE_NUM_WITH_X {
            for slot in 0..ATOM14_NUM {
                if t.atom14_mask[restype][slot] == 1.0 {
                    let atom37 = t.atom14_to_atom37[restype][slot];
                    assert_eq!(t.atom37_to_atom14[restype][atom37], slot);
                    assert_eq!(t.atom37_mask[restype][atom37], 1.0);
                }
            }
            let count14: f32 = t.atom14_mask[restype].iter().sum();
            let count37: f32 = t.atom37_mask[restype].iter().sum();
            assert_eq!(count14, count37);
        }
        // ARG atom14 slot 9 is NH1 (restype_name_to_atom14_names), atom37 index 29 (atom_types).
        let arg = restype_index('R');
        assert_eq!(t.atom14_to_atom37[arg][9], 29);
        assert_eq!(ATOM_TYPES[29], "NH1");
        // TRP CH2 is atom14 slot 13 and atom37 index 28.
        assert_eq!(t.atom37_to_atom14[restype_index('W')][28], 13);
        // make_atom14_masks appends all-zero UNK rows.
        assert!(t.atom14_mask[20].iter().all(|m| *m == 0.0));
        assert!(t.atom14_to_atom37[20].iter().all(|i| *i == 0));
    }

    #[test]
    fn ambiguous_atoms_swap_in_pairs() {
        let t = atom14_tables();
        // PHE: CD1/CD2 are slots 6/7, CE1/CE2 slots 8/9 (restype_name_to_atom14_names row PHE).
        let phe = restype_index('F');
        assert_eq!(
            t.atom14_swap_index[phe],
            [0, 1, 2, 3, 4, 5, 7, 6, 9, 8, 10, 11, 12, 13]
        );
        assert_eq!(
            t.atom14_is_ambiguous[phe],
            [0., 0., 0., 0., 0., 0., 1., 1., 1., 1., 0., 0., 0., 0.]
        );
        // ASP: OD1/OD2 are slots 6/7.
        assert_eq!(t.atom14_swap_index[restype_index('D')][6], 7);
        // LEU is not in residue_atom_renaming_swaps.
        assert!(t.atom14_is_ambiguous[restype_index('L')]
            .iter()
            .all(|a| *a == 0.0));
        let ambiguous: f32 = t.atom14_is_ambiguous.iter().flatten().sum();
        assert_eq!(ambiguous, 12.0);
        for row in &t.atom14_swap_index {
            for (slot, partner) in row.iter().enumerate() {
                assert_eq!(row[*partner], slot);
            }
        }
    }
}
