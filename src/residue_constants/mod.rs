//! AlphaFold2's residue tables (Jumper et al. (2021) Suppl. 1.2.1; DeepMind's
//! `alphafold/common/residue_constants.py`): residue types, the atom37 and atom14 atom orders,
//! and the per-residue geometry the structure module and losses use.
//!
//! Every table indexed by residue type uses [`RESTYPES`] order (index 20 = unknown, `UNK`/`X`).
//! The per-residue atom layouts are in [`atom14`], the rigid groups and torsion definitions in
//! [`rigid_groups`], and the literature bond geometry used by the violation losses in
//! [`stereo_chemistry`].
pub mod atom14;
pub mod rigid_groups;
pub mod stereo_chemistry;

/// The 20 standard residue types in AlphaFold's order (alphabetical by three-letter code);
/// index 20 is the unknown type `X`.
pub const RESTYPES: [char; 20] = [
    'A', 'R', 'N', 'D', 'C', 'Q', 'E', 'G', 'H', 'I', 'L', 'K', 'M', 'F', 'P', 'S', 'T', 'W', 'Y',
    'V',
];
/// Number of standard residue types (`restype_num`).
pub const RESTYPE_NUM: usize = 20;
/// Number of residue types including unknown (`X`).
pub const RESTYPE_NUM_WITH_X: usize = 21;
/// Index of the unknown residue type.
pub const UNKNOWN_RESTYPE: usize = 20;

/// Three-letter codes in [`RESTYPES`] order (`restype_1to3` read in that order).
pub const RESTYPE_3: [&str; 20] = [
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
    "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL",
];

/// Three-letter names of all 21 residue types, [`RESTYPES`] order plus `UNK` (`resnames`).
pub const RESNAMES: [&str; 21] = [
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
    "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL", "UNK",
];

/// The residue alphabet of MSA and template features (`restypes_with_x_and_gap`): [`RESTYPES`],
/// then `X` (20) and the alignment gap `-` (21). `template_aatype` and `msa` use this order.
pub const RESTYPES_WITH_X_AND_GAP: [char; 22] = [
    'A', 'R', 'N', 'D', 'C', 'Q', 'E', 'G', 'H', 'I', 'L', 'K', 'M', 'F', 'P', 'S', 'T', 'W', 'Y',
    'V', 'X', '-',
];
/// Index of the gap `-` in [`RESTYPES_WITH_X_AND_GAP`].
pub const GAP_INDEX: usize = 21;

/// HHblits' residue alphabet (`ID_TO_HHBLITS_AA`): the 20 residues in one-letter alphabetical
/// order, then `X` (20) and the gap `-` (21). HHblits' a3m/hhm files and AlphaFold's raw MSA
/// features use these ids before [`MAP_HHBLITS_AATYPE_TO_OUR_AATYPE`] re-orders them.
pub const ID_TO_HHBLITS_AA: [char; 22] = [
    'A', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'K', 'L', 'M', 'N', 'P', 'Q', 'R', 'S', 'T', 'V', 'W',
    'Y', 'X', '-',
];

/// Position `i` holds the [`RESTYPES_WITH_X_AND_GAP`] index of HHblits id `i`
/// (`MAP_HHBLITS_AATYPE_TO_OUR_AATYPE`).
pub const MAP_HHBLITS_AATYPE_TO_OUR_AATYPE: [usize; 22] = [
    0, 4, 3, 6, 13, 7, 8, 9, 11, 10, 12, 2, 14, 5, 1, 15, 16, 19, 17, 18, 20, 21,
];

/// HHblits id of an alignment character (`HHBLITS_AA_TO_ID`): upper-case residues and `-`;
/// the ambiguity codes fold as HHblits does (`B`->`D`, `Z`->`E`, `U`->`C`, `J`/`O`->`X`).
/// `None` for any other character (lower-case insertions are removed before this mapping).
pub fn hhblits_aa_index(aa: char) -> Option<usize> {
    let folded = match aa {
        'B' => 'D',
        'Z' => 'E',
        'U' => 'C',
        'J' | 'O' => 'X',
        other => other,
    };
    ID_TO_HHBLITS_AA.iter().position(|c| *c == folded)
}

/// Distance (Å) between consecutive CA atoms of a trans peptide (omega = 180°) (`ca_ca`).
pub const CA_CA: f64 = 3.80209737096;

/// The 37 heavy-atom names of the atom37 representation, in AlphaFold's order.
pub const ATOM_TYPES: [&str; 37] = [
    "N", "CA", "C", "CB", "O", "CG", "CG1", "CG2", "OG", "OG1", "SG", "CD", "CD1", "CD2", "ND1",
    "ND2", "OD1", "OD2", "SD", "CE", "CE1", "CE2", "CE3", "NE", "NE1", "NE2", "OE1", "OE2", "CH2",
    "NH1", "NH2", "OH", "CZ", "CZ2", "CZ3", "NZ", "OXT",
];
/// Number of atom slots in the atom37 representation.
pub const ATOM_TYPE_NUM: usize = 37;
/// Number of atom slots in the atom14 representation (the most heavy atoms of any residue: TRP).
pub const ATOM14_NUM: usize = 14;

/// Index of an atom name in the atom37 order.
pub fn atom37_index(name: &str) -> Option<usize> {
    ATOM_TYPES.iter().position(|a| *a == name)
}

/// Residue type index (0..=20) of a one-letter code; anything non-standard maps to `X` (20).
pub fn restype_index(one_letter: char) -> usize {
    RESTYPES
        .iter()
        .position(|c| *c == one_letter.to_ascii_uppercase())
        .unwrap_or(UNKNOWN_RESTYPE)
}

/// Three-letter name of a standard one-letter code (`restype_1to3`); `None` for anything else.
pub fn restype_1to3(one_letter: char) -> Option<&'static str> {
    RESTYPES
        .iter()
        .position(|c| *c == one_letter)
        .map(|i| RESTYPE_3[i])
}

/// Residue type index (0..=20) of a three-letter name in [`RESNAMES`] (`resname_to_idx`).
pub fn resname_index(three_letter: &str) -> Option<usize> {
    RESNAMES.iter().position(|r| *r == three_letter)
}

/// One-letter code of a three-letter residue name (`MSE` reads as `M`, as AlphaFold does);
/// `None` for names that are not one of the 20 standard residues.
pub fn one_letter_code(three_letter: &str) -> Option<char> {
    let name = three_letter.trim().to_ascii_uppercase();
    if name == "MSE" {
        return Some('M');
    }
    RESTYPE_3
        .iter()
        .position(|r| *r == name)
        .map(|i| RESTYPES[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_alphafold_sizes_and_orders() {
        assert_eq!(ATOM_TYPES.len(), ATOM_TYPE_NUM);
        assert_eq!(atom37_index("CA"), Some(1));
        assert_eq!(atom37_index("CB"), Some(3));
        assert_eq!(atom37_index("OXT"), Some(36));
        assert_eq!(restype_index('W'), 17);
        assert_eq!(restype_index('B'), UNKNOWN_RESTYPE);
        assert_eq!(one_letter_code("MSE"), Some('M'));
        assert_eq!(one_letter_code("HOH"), None);
    }

    #[test]
    fn three_letter_names_follow_restype_order() {
        // residue_constants.py `restype_1to3`: 'W': 'TRP', 'V': 'VAL'; `unk_restype = 'UNK'`.
        assert_eq!(restype_1to3('W'), Some("TRP"));
        assert_eq!(restype_1to3('V'), Some("VAL"));
        assert_eq!(restype_1to3('X'), None);
        assert_eq!(resname_index("UNK"), Some(UNKNOWN_RESTYPE));
        for (i, name) in RESTYPE_3.iter().enumerate() {
            assert_eq!(RESNAMES[i], *name);
            assert_eq!(restype_1to3(RESTYPES[i]), Some(*name));
        }
        // "Reproduce it by taking 3-letter AA codes and sorting them alphabetically."
        let mut sorted = RESTYPE_3;
        sorted.sort_unstable();
        assert_eq!(sorted, RESTYPE_3);
    }

    #[test]
    fn hhblits_ids_map_onto_our_order_with_x_and_gap() {
        // residue_constants.py `HHBLITS_AA_TO_ID`: 'B': 2, 'J': 20, 'U': 1, 'Y': 19, '-': 21.
        assert_eq!(hhblits_aa_index('B'), Some(2));
        assert_eq!(hhblits_aa_index('J'), Some(20));
        assert_eq!(hhblits_aa_index('U'), Some(1));
        assert_eq!(hhblits_aa_index('Y'), Some(19));
        assert_eq!(hhblits_aa_index('-'), Some(21));
        assert_eq!(hhblits_aa_index('a'), None);
        // MAP_HHBLITS_AATYPE_TO_OUR_AATYPE is defined in residue_constants.py as
        // `restypes_with_x_and_gap.index(ID_TO_HHBLITS_AA[i])`; recompute it that way.
        for (hhblits_id, ours) in MAP_HHBLITS_AATYPE_TO_OUR_AATYPE.iter().enumerate() {
            let aa = ID_TO_HHBLITS_AA[hhblits_id];
            assert_eq!(
                RESTYPES_WITH_X_AND_GAP.iter().position(|c| *c == aa),
                Some(*ours)
            );
        }
        assert_eq!(RESTYPES_WITH_X_AND_GAP[GAP_INDEX], '-');
        assert_eq!(RESTYPES_WITH_X_AND_GAP[UNKNOWN_RESTYPE], 'X');
    }
}
