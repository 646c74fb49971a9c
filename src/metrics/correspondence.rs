//! Residue correspondence between a model and a native structure by residue identity, the
//! TM-score program's rule (`TMscore.f`: equal residue number and insertion code; with `-c`,
//! equal chain too), on Cα atoms.
//!
//! Chains correspond by identifier. When both structures have exactly one chain, those chains
//! correspond whatever their identifiers: predicted models often carry a blank or different
//! chain ID (the TM-score program, in its default single-chain mode, ignores chain IDs
//! altogether). Residues without a Cα in either structure take no part. Where a structure
//! repeats a residue identifier, only its first occurrence is used (the program warns that its
//! result is then unreliable).
use super::superposition::Vec3;
use crate::data::protein::Protein;
use anyhow::{bail, Result};
use std::collections::{HashMap, HashSet};

/// Index of the Cα in the atom37 order (`residue_constants::ATOM_TYPES[1]`).
pub const CA_ATOM_INDEX: usize = 1;

/// The Cα positions of the residues two structures have in common, in the model's order.
#[derive(Debug, Clone, PartialEq)]
pub struct CaPairs {
    /// `[N_common, 3]` model Cα positions.
    pub model: Vec<Vec3>,
    /// `[N_common, 3]` native Cα positions, `native[i]` corresponding to `model[i]`.
    pub native: Vec<Vec3>,
    /// Residues of the model with a Cα.
    pub model_length: usize,
    /// Residues of the native with a Cα: the length the TM-score normalises by.
    pub native_length: usize,
}

/// A residue's identity: chain (or `None` for the single chain of a one-chain pair), residue
/// number, insertion code.
type ResidueKey<'a> = (Option<&'a str>, i32, char);

/// Pairs the Cα atoms of `model` and `native` residues with equal identities.
///
/// Fails when either structure's per-residue arrays are inconsistent (different lengths, a
/// chain index out of range).
pub fn ca_pairs(model: &Protein, native: &Protein) -> Result<CaPairs> {
    let ignore_chains = model.chain_ids.len() == 1 && native.chain_ids.len() == 1;
    let model_residues = ca_residues(model, ignore_chains, "model")?;
    let native_residues = ca_residues(native, ignore_chains, "native")?;

    let mut native_by_key: HashMap<ResidueKey, Vec3> = HashMap::new();
    for (key, position) in &native_residues {
        native_by_key.entry(*key).or_insert(*position);
    }
    let mut pairs = CaPairs {
        model: Vec::new(),
        native: Vec::new(),
        model_length: model_residues.len(),
        native_length: native_residues.len(),
    };
    let mut used = HashSet::new();
    for (key, position) in &model_residues {
        if let Some(native_position) = native_by_key.get(key) {
            if used.insert(*key) {
                pairs.model.push(*position);
                pairs.native.push(*native_position);
            }
        }
    }
    Ok(pairs)
}

/// Identity and Cα position of every residue of `protein` that has a Cα.
fn ca_residues<'a>(
    protein: &'a Protein,
    ignore_chains: bool,
    role: &str,
) -> Result<Vec<(ResidueKey<'a>, Vec3)>> {
    let n = protein.len();
    let lengths = [
        ("atom_positions", protein.atom_positions.len()),
        ("atom_mask", protein.atom_mask.len()),
        ("residue_index", protein.residue_index.len()),
        ("insertion_code", protein.insertion_code.len()),
        ("chain_index", protein.chain_index.len()),
    ];
    for (name, length) in lengths {
        if length != n {
            bail!("{role} structure is inconsistent: {n} residues but {length} entries in {name}");
        }
    }
    let mut residues = Vec::with_capacity(n);
    for i in 0..n {
        if protein.atom_mask[i][CA_ATOM_INDEX] <= 0.0 {
            continue;
        }
        let chain = if ignore_chains {
            None
        } else {
            let Some(chain_id) = protein.chain_ids.get(protein.chain_index[i]) else {
                bail!(
                    "{role} structure is inconsistent: residue {i} has chain index {} of {} chains",
                    protein.chain_index[i],
                    protein.chain_ids.len()
                );
            };
            Some(chain_id.as_str())
        };
        let key = (chain, protein.residue_index[i], protein.insertion_code[i]);
        residues.push((key, protein.atom_positions[i][CA_ATOM_INDEX].map(f64::from)));
    }
    Ok(residues)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::residue_constants::{ATOM_TYPES, ATOM_TYPE_NUM};

    /// A protein whose residue i has its Cα at `(i, 0, 0)` (when `has_ca[i]`), with the given
    /// chain of each residue, numbers and insertion codes.
    fn protein(chains: &[&str], residues: &[(usize, i32, char, bool)]) -> Protein {
        let mut p = Protein {
            chain_ids: chains.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        };
        for (i, &(chain, number, insertion, has_ca)) in residues.iter().enumerate() {
            let mut positions = [[0.0f32; 3]; ATOM_TYPE_NUM];
            let mut mask = [0.0f32; ATOM_TYPE_NUM];
            positions[CA_ATOM_INDEX] = [i as f32, 0.0, 0.0];
            mask[CA_ATOM_INDEX] = if has_ca { 1.0 } else { 0.0 };
            p.aatype.push(0);
            p.atom_positions.push(positions);
            p.atom_mask.push(mask);
            p.residue_index.push(number);
            p.insertion_code.push(insertion);
            p.chain_index.push(chain);
            p.b_factors.push([0.0; ATOM_TYPE_NUM]);
        }
        p
    }

    #[test]
    fn ca_is_atom37_slot_one() {
        assert_eq!(ATOM_TYPES[CA_ATOM_INDEX], "CA");
    }

    #[test]
    fn matches_number_and_insertion_code_on_residues_with_a_ca() {
        let model = protein(
            &[" "],
            &[(0, 1, ' ', true), (0, 2, ' ', true), (0, 2, 'A', true), (0, 3, ' ', false)],
        );
        let native = protein(
            &["A"],
            &[(0, 2, 'A', true), (0, 3, ' ', true), (0, 1, ' ', true), (0, 4, ' ', true)],
        );
        let pairs = ca_pairs(&model, &native).unwrap();
        // Model residues 1 and 2A match native positions 2 and 0; 2 (no insertion) has no
        // partner and 3 has no Cα in the model. One chain each, so " " pairs with "A".
        assert_eq!(pairs.model, vec![[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]);
        assert_eq!(pairs.native, vec![[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);
        assert_eq!(pairs.model_length, 3);
        assert_eq!(pairs.native_length, 4);
    }

    #[test]
    fn several_chains_match_by_chain_identifier() {
        let model = protein(&["A", "B"], &[(0, 1, ' ', true), (1, 1, ' ', true)]);
        let native = protein(&["B", "A"], &[(0, 1, ' ', true), (1, 1, ' ', true)]);
        let pairs = ca_pairs(&model, &native).unwrap();
        assert_eq!(pairs.model, vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]);
        assert_eq!(pairs.native, vec![[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);
    }

    #[test]
    fn repeated_identifiers_use_the_first_occurrence() {
        let model = protein(&["A"], &[(0, 5, ' ', true), (0, 5, ' ', true)]);
        let native = protein(&["A"], &[(0, 5, ' ', true), (0, 5, ' ', true)]);
        let pairs = ca_pairs(&model, &native).unwrap();
        assert_eq!(pairs.model, vec![[0.0, 0.0, 0.0]]);
        assert_eq!(pairs.native, vec![[0.0, 0.0, 0.0]]);
    }

    #[test]
    fn inconsistent_proteins_are_errors_not_panics() {
        let mut model = protein(&["A"], &[(0, 1, ' ', true)]);
        let native = model.clone();
        model.residue_index.clear();
        let message = format!("{:#}", ca_pairs(&model, &native).unwrap_err());
        assert!(message.contains("residue_index"), "{message}");
        let two_chains = protein(&["A", "B"], &[(0, 1, ' ', true), (7, 2, ' ', true)]);
        let message = format!("{:#}", ca_pairs(&two_chains, &two_chains).unwrap_err());
        assert!(message.contains("chain index 7"), "{message}");
    }
}
