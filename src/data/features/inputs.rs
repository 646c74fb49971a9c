//! The raw features of one protein, checked and brought into AlphaFold's conventions: the
//! non-ensembled part of DeepMind's pipeline (`alphafold/model/tf/input_pipeline.py`
//! `nonensembled_map_fns`: `correct_msa_restypes`, `squeeze_features`, `make_seq_mask`,
//! `make_msa_mask`, `make_hhblits_profile`, `fix_templates_aatype`), applied to the features
//! `make_data_config` selects (`unsupervised_features`, plus `template_features` when templates
//! are used; `alphafold/model/features.py` also turns `deletion_matrix_int` into floats).
use super::msa_rows::MsaRows;
use super::msa_sampling::hhblits_profile;
use super::templates::Templates;
use crate::data::array::{FeatureDict, NpArray};
use crate::residue_constants::{MAP_HHBLITS_AATYPE_TO_OUR_AATYPE, RESTYPE_NUM_WITH_X};
use anyhow::{bail, Context, Result};

/// One protein's features, ready for the ensembled (random) steps.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineInputs {
    pub num_res: usize,
    /// `[N_res]` residue types 0..=20 (AlphaFold's order, 20 = unknown).
    pub aatype: Vec<i32>,
    /// `[N_res]`.
    pub residue_index: Vec<i32>,
    /// `[N_res]` domain-break flags.
    pub between_segment_residues: Vec<i32>,
    /// The full MSA in AlphaFold's residue order, query first.
    pub msa: MsaRows,
    /// `[N_res, 22]` column frequencies over the full MSA (`hhblits_profile`).
    pub profile: Vec<f32>,
    /// Present when the configuration uses templates (none found: an empty set).
    pub templates: Option<Templates>,
}

impl PipelineInputs {
    /// Reads and checks the raw features (AlphaFold's `features.pkl` keys); every problem is an
    /// error naming the feature.
    pub fn from_raw(features: &FeatureDict, use_templates: bool) -> Result<Self> {
        let aatype_array = required(features, "aatype")?;
        let aatype = match aatype_array.shape.as_slice() {
            [_, classes] if *classes == RESTYPE_NUM_WITH_X => one_hot_argmax(aatype_array)?,
            [_] => aatype_array
                .to_i64_vec()?
                .into_iter()
                .map(|v| v as i32)
                .collect(),
            other => bail!("aatype has shape {other:?}, expected [N_res, 21] or [N_res]"),
        };
        if let Some(bad) = aatype
            .iter()
            .find(|&&a| !(0..RESTYPE_NUM_WITH_X as i32).contains(&a))
        {
            bail!("aatype holds {bad}, outside 0..=20");
        }
        let num_res = aatype.len();
        if let Some(seq_length) = features.get("seq_length") {
            let values = seq_length.to_i64_vec().context("seq_length")?;
            if values.first().is_some_and(|&l| l != num_res as i64) {
                bail!(
                    "seq_length says {:?} but aatype has {num_res} residues",
                    values.first()
                );
            }
        }
        let per_residue = |key: &str| -> Result<Option<Vec<i32>>> {
            let Some(array) = features.get(key) else {
                return Ok(None);
            };
            let values = array.to_i64_vec().with_context(|| key.to_owned())?;
            if values.len() != num_res {
                bail!("{key} has shape {:?}, expected [{num_res}]", array.shape);
            }
            Ok(Some(values.into_iter().map(|v| v as i32).collect()))
        };
        let residue_index = per_residue("residue_index")?.context("residue_index is missing")?;
        let between_segment_residues =
            per_residue("between_segment_residues")?.unwrap_or_else(|| vec![0; num_res]);
        let msa = read_msa(features, num_res)?;
        let profile = hhblits_profile(&msa);
        let templates = if use_templates {
            Some(Templates::from_raw(features, num_res)?.unwrap_or_else(|| Templates::empty(num_res)))
        } else {
            None
        };
        Ok(Self {
            num_res,
            aatype,
            residue_index,
            between_segment_residues,
            msa,
            profile,
            templates,
        })
    }
}

fn required<'a>(features: &'a FeatureDict, key: &str) -> Result<&'a NpArray> {
    features
        .get(key)
        .with_context(|| format!("feature {key} is missing"))
}

/// Index of the first maximum of each row of a `[N, C]` array.
fn one_hot_argmax(array: &NpArray) -> Result<Vec<i32>> {
    let classes = *array.shape.last().context("0-d one-hot")?;
    let values = array.to_f32_vec()?;
    Ok(values
        .chunks_exact(classes)
        .map(|row| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = i;
                }
            }
            best as i32
        })
        .collect())
}

/// `msa` (HHblits ids, `[N_seq, N_res]`) re-ordered to AlphaFold's ids, with
/// `deletion_matrix_int` (or `deletion_matrix`) as floats.
fn read_msa(features: &FeatureDict, num_res: usize) -> Result<MsaRows> {
    let msa = required(features, "msa")?;
    let num_seq = match msa.shape.as_slice() {
        [s, n] | [s, n, 1] if *n == num_res => *s,
        other => bail!("msa has shape {other:?}, expected [N_seq, {num_res}]"),
    };
    if num_seq == 0 {
        bail!("msa has no rows; the query itself must be its first row");
    }
    let ids = msa
        .to_i64_vec()
        .context("msa")?
        .into_iter()
        .map(|id| {
            usize::try_from(id)
                .ok()
                .and_then(|i| MAP_HHBLITS_AATYPE_TO_OUR_AATYPE.get(i))
                .map(|&ours| ours as i32)
                .with_context(|| format!("msa holds {id}, not an HHblits residue id (0..=21)"))
        })
        .collect::<Result<Vec<i32>>>()?;
    let (key, deletions) = match (
        features.get("deletion_matrix_int"),
        features.get("deletion_matrix"),
    ) {
        (Some(array), _) => ("deletion_matrix_int", array),
        (None, Some(array)) => ("deletion_matrix", array),
        (None, None) => bail!("feature deletion_matrix_int (or deletion_matrix) is missing"),
    };
    let deletion_matrix = deletions.to_f32_vec().with_context(|| key.to_owned())?;
    if deletion_matrix.len() != ids.len() {
        bail!(
            "{key} has shape {:?}, msa has {:?}",
            deletions.shape,
            msa.shape
        );
    }
    Ok(MsaRows::new(num_res, ids, deletion_matrix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::array::ArrayData;
    use crate::data::features::sequence_features::{make_raw_features, make_sequence_features};
    use crate::data::msa::parse_a3m;

    #[test]
    fn raw_features_become_alphafold_ids() {
        // Five residues deleted before the last column of the second row.
        let msa = parse_a3m(
            ">query
MKW
>hit
M-aaaaaA
",
            "toy.a3m",
        )
        .unwrap();
        let features = make_raw_features("MKW", "toy", &[&msa]).unwrap();
        let inputs = PipelineInputs::from_raw(&features, true).unwrap();
        // AlphaFold's order: M = 12, K = 11, W = 17, A = 0, gap = 21.
        assert_eq!(inputs.aatype, vec![12, 11, 17]);
        assert_eq!(inputs.msa.msa, vec![12, 11, 17, 12, 21, 0]);
        assert_eq!(inputs.msa.deletion_matrix[5], 5.0);
        assert_eq!(inputs.profile[12], 1.0);
        assert_eq!(inputs.profile[22 + 21], 0.5);
        // No template features under a configuration that uses templates: an empty set.
        assert_eq!(inputs.templates, Some(Templates::empty(3)));
        assert!(PipelineInputs::from_raw(&features, false).unwrap().templates.is_none());
    }

    #[test]
    fn inconsistent_features_are_errors() {
        let mut features = make_sequence_features("MK", "toy").unwrap();
        let err = PipelineInputs::from_raw(&features, false).unwrap_err();
        assert!(err.to_string().contains("feature msa is missing"), "{err}");
        features.insert(
            "msa".into(),
            NpArray::new(vec![1, 2], ArrayData::I32(vec![10, 30])).unwrap(),
        );
        features.insert(
            "deletion_matrix_int".into(),
            NpArray::new(vec![1, 2], ArrayData::I32(vec![0, 0])).unwrap(),
        );
        let err = PipelineInputs::from_raw(&features, false).unwrap_err();
        assert!(err.to_string().contains("msa holds 30"), "{err}");
        features.insert(
            "msa".into(),
            NpArray::new(vec![1, 3], ArrayData::I32(vec![10, 8, 0])).unwrap(),
        );
        let err = PipelineInputs::from_raw(&features, false).unwrap_err();
        assert!(err.to_string().contains("msa has shape [1, 3]"), "{err}");
    }
}
