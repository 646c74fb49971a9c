//! Test support: a real structure in AlphaFold's atom37 layout, read from the fixed PDB columns
//! of the ATOM records (wwPDB format v3.3, section 9) of
//! `alphafold_testdata/glucagon.pdb` (1GCN, 29 residues, one chain, no alternate locations).
use tch::{Kind, Tensor};

use crate::residue_constants::{atom37_index, one_letter_code, restype_index, ATOM_TYPE_NUM};
use crate::testing::shared_data;

/// A chain in atom37 layout: `aatype [N]` (i64), `positions [N, 37, 3]` and `mask [N, 37]`
/// (f32).
pub struct Atom37Chain {
    pub aatype: Tensor,
    pub positions: Tensor,
    pub mask: Tensor,
}

/// Glucagon (HSQGTFTSDYSKYLDSRRAQDFVQWLMNT) from the shared data, or `None` when it is absent.
pub fn glucagon() -> Option<Atom37Chain> {
    let path = shared_data("alphafold_testdata/glucagon.pdb")?;
    let text = std::fs::read_to_string(&path).expect("glucagon.pdb is readable");
    let mut residue_numbers: Vec<&str> = Vec::new();
    let mut aatype: Vec<i64> = Vec::new();
    let mut positions: Vec<[[f32; 3]; ATOM_TYPE_NUM]> = Vec::new();
    let mut mask: Vec<[f32; ATOM_TYPE_NUM]> = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("ATOM  ")) {
        let residue_number = &line[22..27];
        if residue_numbers.last() != Some(&residue_number) {
            residue_numbers.push(residue_number);
            let one_letter = one_letter_code(&line[17..20]).expect("a standard residue");
            aatype.push(restype_index(one_letter) as i64);
            positions.push([[0.0; 3]; ATOM_TYPE_NUM]);
            mask.push([0.0; ATOM_TYPE_NUM]);
        }
        let atom = atom37_index(line[12..16].trim()).expect("a heavy atom of atom37");
        let coordinate = |range: std::ops::Range<usize>| -> f32 {
            line[range].trim().parse().expect("a coordinate")
        };
        let residue = positions.len() - 1;
        positions[residue][atom] = [coordinate(30..38), coordinate(38..46), coordinate(46..54)];
        mask[residue][atom] = 1.0;
    }
    let n = aatype.len() as i64;
    Some(Atom37Chain {
        aatype: Tensor::from_slice(&aatype),
        positions: Tensor::from_slice(positions.as_flattened().as_flattened()).reshape([
            n,
            ATOM_TYPE_NUM as i64,
            3,
        ]),
        mask: Tensor::from_slice(mask.as_flattened())
            .reshape([n, ATOM_TYPE_NUM as i64])
            .to_kind(Kind::Float),
    })
}
