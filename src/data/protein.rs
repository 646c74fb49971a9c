//! A protein structure in AlphaFold's atom37 representation (DeepMind's
//! `alphafold/common/protein.py`): what structure parsers produce, writers consume, metrics
//! compare and the feature pipeline turns into labels and templates.
use crate::residue_constants::ATOM_TYPE_NUM;

/// Per-residue arrays, all of length `N_res`, in chain order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Protein {
    /// `[N_res]` residue type index in `residue_constants::RESTYPES` order (20 = unknown).
    pub aatype: Vec<usize>,
    /// `[N_res, 37, 3]` atom coordinates in Å, atom37 order.
    pub atom_positions: Vec<[[f32; 3]; ATOM_TYPE_NUM]>,
    /// `[N_res, 37]` 1.0 where the atom is present.
    pub atom_mask: Vec<[f32; ATOM_TYPE_NUM]>,
    /// `[N_res]` residue number as written in the file (author numbering).
    pub residue_index: Vec<i32>,
    /// `[N_res]` insertion code (`' '` when none).
    pub insertion_code: Vec<char>,
    /// `[N_res]` index into [`Protein::chain_ids`].
    pub chain_index: Vec<usize>,
    /// Chain identifiers in order of first appearance.
    pub chain_ids: Vec<String>,
    /// `[N_res, 37]` B-factors (pLDDT for predictions).
    pub b_factors: Vec<[f32; ATOM_TYPE_NUM]>,
}

impl Protein {
    /// Number of residues.
    pub fn len(&self) -> usize {
        self.aatype.len()
    }

    pub fn is_empty(&self) -> bool {
        self.aatype.is_empty()
    }
}
