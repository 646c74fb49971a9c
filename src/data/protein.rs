//! A protein structure in AlphaFold's atom37 representation (DeepMind's
//! `alphafold/common/protein.py`): what structure parsers produce, writers consume, metrics
//! compare and the feature pipeline turns into labels and templates.
use crate::residue_constants::{ATOM_TYPE_NUM, RESTYPE_3, UNKNOWN_RESTYPE};
use anyhow::{bail, Result};

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

    /// Fails unless every per-residue array has `N_res` entries and every chain index names a
    /// chain; writers call it so that a hand-built `Protein` cannot make them index out of range.
    pub fn check_consistent(&self) -> Result<()> {
        let n = self.len();
        let lengths = [
            ("atom_positions", self.atom_positions.len()),
            ("atom_mask", self.atom_mask.len()),
            ("residue_index", self.residue_index.len()),
            ("insertion_code", self.insertion_code.len()),
            ("chain_index", self.chain_index.len()),
            ("b_factors", self.b_factors.len()),
        ];
        for (name, len) in lengths {
            if len != n {
                bail!("protein has {n} residues (aatype) but {name} has {len} entries");
            }
        }
        if let Some(&bad) = self
            .chain_index
            .iter()
            .find(|&&c| c >= self.chain_ids.len())
        {
            bail!(
                "chain index {bad} out of range: the protein has {} chains",
                self.chain_ids.len()
            );
        }
        Ok(())
    }

    /// The residues of chain `chain_id`, as a one-chain protein.
    pub fn chain(&self, chain_id: &str) -> Result<Protein> {
        let Some(wanted) = self.chain_ids.iter().position(|c| c == chain_id) else {
            bail!("no chain {chain_id:?}; the chains are {:?}", self.chain_ids);
        };
        let keep: Vec<usize> = (0..self.len())
            .filter(|&i| self.chain_index[i] == wanted)
            .collect();
        Ok(Protein {
            aatype: keep.iter().map(|&i| self.aatype[i]).collect(),
            atom_positions: keep.iter().map(|&i| self.atom_positions[i]).collect(),
            atom_mask: keep.iter().map(|&i| self.atom_mask[i]).collect(),
            residue_index: keep.iter().map(|&i| self.residue_index[i]).collect(),
            insertion_code: keep.iter().map(|&i| self.insertion_code[i]).collect(),
            chain_index: vec![0; keep.len()],
            chain_ids: vec![chain_id.to_string()],
            b_factors: keep.iter().map(|&i| self.b_factors[i]).collect(),
        })
    }

    /// Three-letter name of residue `i` (`UNK` for the unknown type), as the writers spell it.
    pub fn residue_name(&self, i: usize) -> Result<&'static str> {
        match self.aatype.get(i) {
            Some(&a) if a < RESTYPE_3.len() => Ok(RESTYPE_3[a]),
            Some(&UNKNOWN_RESTYPE) => Ok("UNK"),
            Some(other) => bail!("residue {i} has invalid aatype {other} (valid: 0..=20)"),
            None => bail!(
                "residue {i} out of range: the protein has {} residues",
                self.len()
            ),
        }
    }

    /// Sets every atom's B-factor to its residue's value (`[N_res]`, e.g. pLDDT), as AlphaFold
    /// does before writing a prediction.
    pub fn set_residue_b_factors(&mut self, per_residue: &[f32]) -> Result<()> {
        if per_residue.len() != self.len() {
            bail!(
                "{} per-residue B-factors for {} residues",
                per_residue.len(),
                self.len()
            );
        }
        self.b_factors = per_residue.iter().map(|&b| [b; ATOM_TYPE_NUM]).collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_chain_protein() -> Protein {
        Protein {
            aatype: vec![0, 1, 2],
            atom_positions: vec![[[0.0; 3]; ATOM_TYPE_NUM]; 3],
            atom_mask: vec![[1.0; ATOM_TYPE_NUM]; 3],
            residue_index: vec![1, 2, 7],
            insertion_code: vec![' ', ' ', 'A'],
            chain_index: vec![0, 1, 0],
            chain_ids: vec!["A".into(), "B".into()],
            b_factors: vec![[0.0; ATOM_TYPE_NUM]; 3],
        }
    }

    #[test]
    fn chain_selects_that_chains_residues_in_order() {
        let chain_a = two_chain_protein().chain("A").unwrap();
        assert_eq!(chain_a.aatype, vec![0, 2]);
        assert_eq!(chain_a.residue_index, vec![1, 7]);
        assert_eq!(chain_a.insertion_code, vec![' ', 'A']);
        assert_eq!(chain_a.chain_ids, vec!["A".to_string()]);
        chain_a.check_consistent().unwrap();
        let err = two_chain_protein().chain("C").unwrap_err().to_string();
        assert!(err.contains("no chain \"C\""), "{err}");
    }

    #[test]
    fn consistency_check_names_the_short_array() {
        let mut protein = two_chain_protein();
        protein.b_factors.pop();
        let err = protein.check_consistent().unwrap_err().to_string();
        assert!(err.contains("b_factors has 2 entries"), "{err}");
        let mut protein = two_chain_protein();
        protein.chain_index[0] = 5;
        assert!(protein.check_consistent().is_err());
    }

    #[test]
    fn residue_b_factors_fill_all_atoms() {
        let mut protein = two_chain_protein();
        protein.set_residue_b_factors(&[10.0, 20.0, 30.0]).unwrap();
        assert_eq!(protein.b_factors[1], [20.0; ATOM_TYPE_NUM]);
        assert!(protein.set_residue_b_factors(&[1.0]).is_err());
    }
}
