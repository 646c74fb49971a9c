//! Per-residue atom14/atom37 index maps and atom-existence masks (DeepMind's
//! `alphafold/model/tf/data_transforms.py` `make_atom14_masks`), gathered by residue type from
//! the tables of [`crate::residue_constants::atom14`].
use crate::data::array::{ArrayData, FeatureDict, NpArray};
use crate::residue_constants::atom14::atom14_tables;
use crate::residue_constants::{ATOM14_NUM, ATOM_TYPE_NUM, UNKNOWN_RESTYPE};
use anyhow::Result;

/// `atom14_atom_exists` `[N_res, 14]`, `residx_atom14_to_atom37` `[N_res, 14]`,
/// `residx_atom37_to_atom14` `[N_res, 37]` and `atom37_atom_exists` `[N_res, 37]` for residue
/// types `aatype` (0..=20; anything else is treated as unknown).
pub fn make_atom14_masks(aatype: &[i32]) -> Result<FeatureDict> {
    let tables = atom14_tables();
    let n = aatype.len();
    let mut atom14_exists = Vec::with_capacity(n * ATOM14_NUM);
    let mut atom14_to_atom37 = Vec::with_capacity(n * ATOM14_NUM);
    let mut atom37_to_atom14 = Vec::with_capacity(n * ATOM_TYPE_NUM);
    let mut atom37_exists = Vec::with_capacity(n * ATOM_TYPE_NUM);
    for &residue in aatype {
        let restype = usize::try_from(residue)
            .ok()
            .filter(|&r| r < UNKNOWN_RESTYPE)
            .unwrap_or(UNKNOWN_RESTYPE);
        atom14_exists.extend_from_slice(&tables.atom14_mask[restype]);
        atom14_to_atom37.extend(tables.atom14_to_atom37[restype].iter().map(|&i| i as i32));
        atom37_to_atom14.extend(tables.atom37_to_atom14[restype].iter().map(|&i| i as i32));
        atom37_exists.extend_from_slice(&tables.atom37_mask[restype]);
    }
    let mut features = FeatureDict::new();
    features.insert(
        "atom14_atom_exists".into(),
        NpArray::new(vec![n, ATOM14_NUM], ArrayData::F32(atom14_exists))?,
    );
    features.insert(
        "residx_atom14_to_atom37".into(),
        NpArray::new(vec![n, ATOM14_NUM], ArrayData::I32(atom14_to_atom37))?,
    );
    features.insert(
        "residx_atom37_to_atom14".into(),
        NpArray::new(vec![n, ATOM_TYPE_NUM], ArrayData::I32(atom37_to_atom14))?,
    );
    features.insert(
        "atom37_atom_exists".into(),
        NpArray::new(vec![n, ATOM_TYPE_NUM], ArrayData::F32(atom37_exists))?,
    );
    Ok(features)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glycine_and_unknown_rows() {
        // G = 7 has N, CA, C, O only; 20 (unknown) has no atoms at all in AlphaFold's tables.
        let features = make_atom14_masks(&[7, 20]).unwrap();
        let ArrayData::F32(exists) = &features["atom14_atom_exists"].data else {
            panic!()
        };
        assert_eq!(&exists[..5], &[1.0, 1.0, 1.0, 1.0, 0.0]);
        assert!(exists[14..].iter().all(|&e| e == 0.0));
        let ArrayData::I32(to37) = &features["residx_atom14_to_atom37"].data else {
            panic!()
        };
        // atom14 slot 3 is O, atom37 index 4.
        assert_eq!(&to37[..4], &[0, 1, 2, 4]);
        assert_eq!(features["atom37_atom_exists"].shape, vec![2, 37]);
    }
}
