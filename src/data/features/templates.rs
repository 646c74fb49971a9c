//! Template features as AlphaFold's model consumes them (Jumper et al. (2021) Suppl. 1.2.3;
//! DeepMind's `alphafold/model/tf/data_transforms.py` `fix_templates_aatype`,
//! `make_template_mask`, `make_pseudo_beta('template_')`): residue ids re-ordered from
//! HHblits' alphabet to AlphaFold's, a per-template mask, and the pseudo-β atom (CB, or CA for
//! glycine) with its mask.
use crate::data::array::{ArrayData, FeatureDict, NpArray};
use crate::residue_constants::{
    atom37_index, restype_index, ATOM_TYPE_NUM, MAP_HHBLITS_AATYPE_TO_OUR_AATYPE,
};
use anyhow::{bail, Context, Result};

/// Classes of the raw one-hot `template_aatype` (HHblits' 20 residues, unknown, gap).
const TEMPLATE_AATYPE_CLASSES: usize = 22;

/// Templates of one query, `T` of them over `N_res` residues.
#[derive(Debug, Clone, PartialEq)]
pub struct Templates {
    pub num_templates: usize,
    pub num_res: usize,
    /// `[T, N_res]` residue ids in AlphaFold's order (`restypes_with_x_and_gap`).
    pub aatype: Vec<i32>,
    /// `[T, N_res, 37, 3]` Å.
    pub all_atom_positions: Vec<f32>,
    /// `[T, N_res, 37]`.
    pub all_atom_masks: Vec<f32>,
    /// `[T, 1]` HHsearch's summed alignment probabilities.
    pub sum_probs: Vec<f32>,
}

impl Templates {
    /// No templates: what AlphaFold's pipeline feeds when the template search finds no hit (the
    /// fixed-size padding then adds `max_templates` masked-out ones, which the template embedder
    /// ignores).
    pub fn empty(num_res: usize) -> Self {
        Self {
            num_templates: 0,
            num_res,
            aatype: Vec::new(),
            all_atom_positions: Vec::new(),
            all_atom_masks: Vec::new(),
            sum_probs: Vec::new(),
        }
    }

    /// Reads the raw `template_*` features (one-hot `template_aatype` `[T, N_res, 22]` in HHblits
    /// order, as `features.pkl` holds it); `None` when there are none.
    pub fn from_raw(features: &FeatureDict, num_res: usize) -> Result<Option<Self>> {
        let Some(aatype) = features.get("template_aatype") else {
            return Ok(None);
        };
        let num_templates = *aatype.shape.first().context("template_aatype is 0-d")?;
        let expect = |key: &str, tail: &[usize]| -> Result<Vec<f32>> {
            let array = features
                .get(key)
                .with_context(|| format!("{key} is missing"))?;
            let mut shape = vec![num_templates, num_res];
            shape.extend_from_slice(tail);
            // `template_all_atom_masks` is `[T, N_res, 37]` or `[T, N_res, 37, 1]`.
            let squeezed: Vec<usize> =
                if array.shape.len() == shape.len() + 1 && array.shape.last() == Some(&1) {
                    array.shape[..array.shape.len() - 1].to_vec()
                } else {
                    array.shape.clone()
                };
            if squeezed != shape {
                bail!("{key} has shape {:?}, expected {shape:?}", array.shape);
            }
            array.to_f32_vec().with_context(|| key.to_owned())
        };
        let one_hot = expect("template_aatype", &[TEMPLATE_AATYPE_CLASSES])?;
        let aatype = one_hot
            .chunks_exact(TEMPLATE_AATYPE_CLASSES)
            .map(|classes| MAP_HHBLITS_AATYPE_TO_OUR_AATYPE[argmax(classes)] as i32)
            .collect();
        let all_atom_positions = expect("template_all_atom_positions", &[ATOM_TYPE_NUM, 3])?;
        let all_atom_masks = expect("template_all_atom_masks", &[ATOM_TYPE_NUM])?;
        let sum_probs = match features.get("template_sum_probs") {
            Some(array) if array.data.len() == num_templates => array.to_f32_vec()?,
            Some(array) => bail!(
                "template_sum_probs has shape {:?}, expected [{num_templates}, 1]",
                array.shape
            ),
            None => vec![0.0; num_templates],
        };
        Ok(Some(Self {
            num_templates,
            num_res,
            aatype,
            all_atom_positions,
            all_atom_masks,
            sum_probs,
        }))
    }

    /// Pseudo-β positions `[T, N_res, 3]` and mask `[T, N_res]` (`pseudo_beta_fn`).
    pub fn pseudo_beta(&self) -> (Vec<f32>, Vec<f32>) {
        let glycine = restype_index('G') as i32;
        let ca = atom37_index("CA").unwrap_or(1);
        let cb = atom37_index("CB").unwrap_or(3);
        let mut positions = Vec::with_capacity(self.aatype.len() * 3);
        let mut mask = Vec::with_capacity(self.aatype.len());
        for (residue, &id) in self.aatype.iter().enumerate() {
            let atom = if id == glycine { ca } else { cb };
            let slot = residue * ATOM_TYPE_NUM + atom;
            positions.extend_from_slice(&self.all_atom_positions[slot * 3..slot * 3 + 3]);
            mask.push(self.all_atom_masks[slot]);
        }
        (positions, mask)
    }

    /// The processed template features by AlphaFold's names.
    pub fn to_features(&self) -> Result<FeatureDict> {
        let (t, n) = (self.num_templates, self.num_res);
        let (pseudo_beta, pseudo_beta_mask) = self.pseudo_beta();
        let f32_array =
            |shape: Vec<usize>, values: Vec<f32>| NpArray::new(shape, ArrayData::F32(values));
        let mut features = FeatureDict::new();
        features.insert(
            "template_aatype".into(),
            NpArray::new(vec![t, n], ArrayData::I32(self.aatype.clone()))?,
        );
        features.insert(
            "template_all_atom_positions".into(),
            f32_array(
                vec![t, n, ATOM_TYPE_NUM, 3],
                self.all_atom_positions.clone(),
            )?,
        );
        features.insert(
            "template_all_atom_masks".into(),
            f32_array(vec![t, n, ATOM_TYPE_NUM], self.all_atom_masks.clone())?,
        );
        features.insert(
            "template_sum_probs".into(),
            f32_array(vec![t, 1], self.sum_probs.clone())?,
        );
        features.insert("template_mask".into(), f32_array(vec![t], vec![1.0; t])?);
        features.insert(
            "template_pseudo_beta".into(),
            f32_array(vec![t, n, 3], pseudo_beta)?,
        );
        features.insert(
            "template_pseudo_beta_mask".into(),
            f32_array(vec![t, n], pseudo_beta_mask)?,
        );
        Ok(features)
    }
}

/// First index of the largest value (`tf.argmax`).
fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_template(hhblits_ids: &[usize]) -> FeatureDict {
        let n = hhblits_ids.len();
        let mut one_hot = vec![0f32; n * 22];
        for (r, &id) in hhblits_ids.iter().enumerate() {
            one_hot[r * 22 + id] = 1.0;
        }
        let mut positions = vec![0f32; n * 37 * 3];
        let mut masks = vec![0f32; n * 37];
        for r in 0..n {
            for atom in 0..37 {
                positions[(r * 37 + atom) * 3] = (100 * r + atom) as f32;
            }
            masks[r * 37 + 1] = 1.0;
        }
        let mut features = FeatureDict::new();
        features.insert(
            "template_aatype".into(),
            NpArray::new(vec![1, n, 22], ArrayData::F32(one_hot)).unwrap(),
        );
        features.insert(
            "template_all_atom_positions".into(),
            NpArray::new(vec![1, n, 37, 3], ArrayData::F32(positions)).unwrap(),
        );
        features.insert(
            "template_all_atom_masks".into(),
            NpArray::new(vec![1, n, 37], ArrayData::F32(masks)).unwrap(),
        );
        features.insert(
            "template_sum_probs".into(),
            NpArray::new(vec![1, 1], ArrayData::F32(vec![9.5])).unwrap(),
        );
        features
    }

    #[test]
    fn glycine_uses_ca_and_others_cb() {
        // HHblits ids: G = 5, W = 18, gap = 21.
        let templates = Templates::from_raw(&one_template(&[5, 18, 21]), 3)
            .unwrap()
            .unwrap();
        // AlphaFold's order: G = 7, W = 17, gap = 21.
        assert_eq!(templates.aatype, vec![7, 17, 21]);
        let (positions, mask) = templates.pseudo_beta();
        assert_eq!(positions[0], 1.0); // CA (atom 1) of residue 0
        assert_eq!(positions[3], 103.0); // CB (atom 3) of residue 1
        assert_eq!(mask, vec![1.0, 0.0, 0.0]);
        let features = templates.to_features().unwrap();
        assert_eq!(features["template_mask"].data, ArrayData::F32(vec![1.0]));
        assert_eq!(features["template_pseudo_beta"].shape, vec![1, 3, 3]);
    }

    #[test]
    fn wrong_shapes_are_reported() {
        let err = Templates::from_raw(&one_template(&[5, 18]), 3).unwrap_err();
        assert!(
            err.to_string()
                .contains("template_aatype has shape [1, 2, 22]"),
            "{err}"
        );
        assert!(Templates::from_raw(&FeatureDict::new(), 3)
            .unwrap()
            .is_none());
    }
}
