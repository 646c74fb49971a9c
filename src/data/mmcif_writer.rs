//! Writing a [`Protein`] as mmCIF (the PDBx/mmCIF dictionary's `_atom_site`, `_entity_poly_seq`,
//! `_struct_asym`, `_chem_comp`, `_entity` and `_entity_poly` categories), the output format of
//! AlphaFold's later releases (`alphafold/common/protein.py::to_mmcif`): one entity per chain,
//! per-atom B-factors (pLDDT for predictions) in `B_iso_or_equiv`, author numbering from
//! `residue_index`, `label_seq_id` counting the chain's residues from 1. Residues with no atom
//! stay in `_entity_poly_seq`, so they read back as missing residues. gemmi, Biopython and
//! [`super::mmcif`] read the result.
use super::protein::Protein;
use crate::residue_constants::ATOM_TYPES;
use anyhow::{bail, Result};
use std::collections::BTreeSet;
use std::fmt::Write;

/// The data block's name.
const BLOCK_NAME: &str = "helixfold";

/// Chain names usable as bare CIF values: the protein's own when every one is a unique,
/// non-empty token, else `A, B, ..., Z, AA, AB, ...` by chain order.
fn cif_chain_names(protein: &Protein) -> Vec<String> {
    let bare_token = |id: &String| {
        !id.is_empty()
            && id.chars().all(|c| c.is_ascii_graphic())
            && !id.starts_with(['_', '#', '$', '\'', '"', ';', '[', ']'])
            && !matches!(id.as_str(), "." | "?")
    };
    let unique = protein.chain_ids.iter().collect::<BTreeSet<_>>().len() == protein.chain_ids.len();
    if unique && protein.chain_ids.iter().all(bare_token) {
        return protein.chain_ids.clone();
    }
    (0..protein.chain_ids.len())
        .map(|mut index| {
            let mut name = Vec::new();
            loop {
                name.push(b'A' + (index % 26) as u8);
                if index < 26 {
                    break;
                }
                index = index / 26 - 1;
            }
            name.iter().rev().map(|&b| b as char).collect()
        })
        .collect()
}

/// Writes a protein as an mmCIF data block.
pub fn to_mmcif_string(protein: &Protein) -> Result<String> {
    protein.check_consistent()?;
    if protein.is_empty() {
        bail!("cannot write an empty protein as mmCIF");
    }
    for (i, values) in protein.atom_positions.iter().enumerate() {
        let finite = values
            .iter()
            .flatten()
            .chain(protein.b_factors[i].iter())
            .all(|v| v.is_finite());
        if !finite {
            bail!(
                "residue {} has a non-finite coordinate or B-factor",
                protein.residue_index[i]
            );
        }
    }
    let chains = cif_chain_names(protein);
    let names: Vec<&str> = (0..protein.len())
        .map(|i| protein.residue_name(i))
        .collect::<Result<_>>()?;
    let mut out = String::new();
    let mut line = |text: &str| {
        out.push_str(text);
        out.push('\n');
    };
    line(&format!("data_{BLOCK_NAME}"));
    line("#");
    line(&format!("_entry.id {BLOCK_NAME}"));
    line("#");
    line("loop_\n_chem_comp.id\n_chem_comp.type");
    for name in names.iter().collect::<BTreeSet<_>>() {
        let kind = if *name == "GLY" {
            "'peptide linking'"
        } else {
            "'L-peptide linking'"
        };
        line(&format!("{name} {kind}"));
    }
    line("#");
    line("loop_\n_entity.id\n_entity.type");
    for entity in 1..=chains.len() {
        line(&format!("{entity} polymer"));
    }
    line("#");
    line("loop_\n_entity_poly.entity_id\n_entity_poly.type");
    for entity in 1..=chains.len() {
        line(&format!("{entity} 'polypeptide(L)'"));
    }
    line("#");
    line("loop_\n_struct_asym.id\n_struct_asym.entity_id");
    for (index, chain) in chains.iter().enumerate() {
        line(&format!("{chain} {}", index + 1));
    }
    line("#");
    line("loop_\n_entity_poly_seq.entity_id\n_entity_poly_seq.num\n_entity_poly_seq.mon_id\n_entity_poly_seq.hetero");
    let mut label_seq = vec![0usize; protein.len()];
    let mut next_in_chain = vec![1usize; chains.len()];
    for i in 0..protein.len() {
        let chain = protein.chain_index[i];
        label_seq[i] = next_in_chain[chain];
        next_in_chain[chain] += 1;
        line(&format!("{} {} {} n", chain + 1, label_seq[i], names[i]));
    }
    line("#");
    line(
        "loop_\n_atom_site.group_PDB\n_atom_site.id\n_atom_site.type_symbol\n_atom_site.label_atom_id\n\
         _atom_site.label_alt_id\n_atom_site.label_comp_id\n_atom_site.label_asym_id\n\
         _atom_site.label_entity_id\n_atom_site.label_seq_id\n_atom_site.pdbx_PDB_ins_code\n\
         _atom_site.Cartn_x\n_atom_site.Cartn_y\n_atom_site.Cartn_z\n_atom_site.occupancy\n\
         _atom_site.B_iso_or_equiv\n_atom_site.auth_seq_id\n_atom_site.auth_asym_id\n\
         _atom_site.pdbx_PDB_model_num",
    );
    let mut serial = 1;
    let mut atom_line = String::new();
    for i in 0..protein.len() {
        let chain = &chains[protein.chain_index[i]];
        let entity = protein.chain_index[i] + 1;
        let insertion = match protein.insertion_code[i] {
            c if c.is_ascii_alphanumeric() => c.to_string(),
            _ => "?".to_string(),
        };
        for (slot, atom_name) in ATOM_TYPES.iter().enumerate() {
            if protein.atom_mask[i][slot] < 0.5 {
                continue;
            }
            let [x, y, z] = protein.atom_positions[i][slot];
            atom_line.clear();
            write!(
                atom_line,
                "ATOM {serial} {} {atom_name} . {} {chain} {entity} {} {insertion} {x:.3} {y:.3} {z:.3} 1.00 {:.2} {} {chain} 1",
                &atom_name[..1],
                names[i],
                label_seq[i],
                protein.b_factors[i][slot],
                protein.residue_index[i],
            )?;
            line(&atom_line);
            serial += 1;
        }
    }
    line("#");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mmcif::{mmcif_chain_to_protein, parse_mmcif};
    use crate::residue_constants::{atom37_index, ATOM_TYPE_NUM};

    fn sample() -> Protein {
        let mut protein = Protein {
            aatype: vec![12, 7, 1],
            atom_positions: vec![[[0.0; 3]; ATOM_TYPE_NUM]; 3],
            atom_mask: vec![[0.0; ATOM_TYPE_NUM]; 3],
            residue_index: vec![10, 11, 5],
            insertion_code: vec![' ', ' ', ' '],
            chain_index: vec![0, 0, 1],
            chain_ids: vec!["A".into(), "B".into()],
            b_factors: vec![[0.0; ATOM_TYPE_NUM]; 3],
        };
        let ca = atom37_index("CA").unwrap();
        for (i, x) in [(0, 1.25f32), (2, -3.5)] {
            protein.atom_positions[i][ca] = [x, 2.0, 3.0];
            protein.atom_mask[i][ca] = 1.0;
        }
        protein.set_residue_b_factors(&[90.0, 0.0, 55.5]).unwrap();
        protein
    }

    #[test]
    fn round_trips_through_the_mmcif_reader_with_missing_residues() {
        let text = to_mmcif_string(&sample()).unwrap();
        let mmcif = parse_mmcif(&text, "sample").unwrap();
        assert_eq!(mmcif.chain_to_seqres["A"], "MG");
        assert_eq!(mmcif.chain_to_seqres["B"], "R");
        let chain_a = &mmcif.seqres_to_structure["A"];
        assert!(!chain_a[0].is_missing && chain_a[1].is_missing);
        assert_eq!(chain_a[0].position.as_ref().unwrap().residue_number, 10);
        let protein = mmcif_chain_to_protein(&mmcif, "B").unwrap();
        let ca = atom37_index("CA").unwrap();
        assert_eq!(protein.atom_positions[0][ca], [-3.5, 2.0, 3.0]);
        assert_eq!(protein.b_factors[0][ca], 55.5);
    }

    #[test]
    fn awkward_chain_names_are_replaced() {
        let mut protein = sample();
        protein.chain_ids = vec![" ".into(), "B".into()];
        assert_eq!(cif_chain_names(&protein), vec!["A", "B"]);
        protein.chain_ids = (0..28).map(|i| format!("{i} x")).collect();
        let names = cif_chain_names(&protein);
        assert_eq!(
            (names[25].as_str(), names[26].as_str(), names[27].as_str()),
            ("Z", "AA", "AB")
        );
        let mut broken = sample();
        broken.aatype[0] = 99;
        assert!(to_mmcif_string(&broken).is_err());
        broken = sample();
        broken.atom_positions[0][1][0] = f32::NAN;
        assert!(to_mmcif_string(&broken).is_err());
    }
}
