//! AlphaFold2's residue tables (Jumper et al. (2021) Suppl. 1.2.1; DeepMind's
//! `alphafold/common/residue_constants.py`): residue types, the atom37 and atom14 atom orders,
//! and the per-residue geometry the structure module and losses use.

/// The 20 standard residue types in AlphaFold's order (alphabetical by three-letter code);
/// index 20 is the unknown type `X`.
pub const RESTYPES: [char; 20] = [
    'A', 'R', 'N', 'D', 'C', 'Q', 'E', 'G', 'H', 'I', 'L', 'K', 'M', 'F', 'P', 'S', 'T', 'W', 'Y',
    'V',
];
/// Number of residue types including unknown (`X`).
pub const RESTYPE_NUM_WITH_X: usize = 21;
/// Index of the unknown residue type.
pub const UNKNOWN_RESTYPE: usize = 20;

/// Three-letter codes in [`RESTYPES`] order.
pub const RESTYPE_3: [&str; 20] = [
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
    "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL",
];

/// The 37 heavy-atom names of the atom37 representation, in AlphaFold's order.
pub const ATOM_TYPES: [&str; 37] = [
    "N", "CA", "C", "CB", "O", "CG", "CG1", "CG2", "OG", "OG1", "SG", "CD", "CD1", "CD2", "ND1",
    "ND2", "OD1", "OD2", "SD", "CE", "CE1", "CE2", "CE3", "NE", "NE1", "NE2", "OE1", "OE2", "CH2",
    "NH1", "NH2", "OH", "CZ", "CZ2", "CZ3", "NZ", "OXT",
];
/// Number of atom slots in the atom37 representation.
pub const ATOM_TYPE_NUM: usize = 37;

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

/// One-letter code of a three-letter residue name (`MSE` reads as `M`, as AlphaFold does);
/// `None` for names that are not one of the 20 standard residues.
pub fn one_letter_code(three_letter: &str) -> Option<char> {
    let name = three_letter.trim().to_ascii_uppercase();
    if name == "MSE" {
        return Some('M');
    }
    RESTYPE_3.iter().position(|r| *r == name).map(|i| RESTYPES[i])
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
}
