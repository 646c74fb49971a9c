//! Raw (unprocessed) features of a query sequence and its MSAs, as DeepMind's
//! `alphafold/data/pipeline.py` builds them (`make_sequence_features`, and `make_msa_features`
//! through [`crate::data::msa`]): the contents of a `features.pkl` without templates.
use crate::data::array::{ArrayData, FeatureDict, NpArray};
use crate::data::msa::{make_msa_features, Msa};
use crate::residue_constants::{restype_index, RESTYPE_NUM_WITH_X};
use anyhow::Result;

/// `aatype` (one-hot `[N_res, 21]`, int32, unknown residues as `X`), `between_segment_residues`,
/// `domain_name`, `residue_index` (0-based), `seq_length` (`[N_res]`, every entry `N_res`) and
/// `sequence`.
pub fn make_sequence_features(sequence: &str, description: &str) -> Result<FeatureDict> {
    let num_res = sequence.chars().count();
    let mut aatype = vec![0i32; num_res * RESTYPE_NUM_WITH_X];
    for (i, residue) in sequence.chars().enumerate() {
        aatype[i * RESTYPE_NUM_WITH_X + restype_index(residue)] = 1;
    }
    let mut features = FeatureDict::new();
    let int_feature = |values: Vec<i32>| NpArray::new(vec![num_res], ArrayData::I32(values));
    features.insert(
        "aatype".into(),
        NpArray::new(vec![num_res, RESTYPE_NUM_WITH_X], ArrayData::I32(aatype))?,
    );
    features.insert(
        "between_segment_residues".into(),
        int_feature(vec![0; num_res])?,
    );
    features.insert(
        "domain_name".into(),
        NpArray::new(
            vec![1],
            ArrayData::Bytes(vec![description.as_bytes().to_vec()]),
        )?,
    );
    features.insert(
        "residue_index".into(),
        int_feature((0..num_res as i32).collect())?,
    );
    features.insert(
        "seq_length".into(),
        int_feature(vec![num_res as i32; num_res])?,
    );
    features.insert(
        "sequence".into(),
        NpArray::new(
            vec![1],
            ArrayData::Bytes(vec![sequence.as_bytes().to_vec()]),
        )?,
    );
    Ok(features)
}

/// The raw features of a query and its parsed alignments (`DataPipeline.process` without the
/// template search): sequence features plus [`make_msa_feature_dict`].
pub fn make_raw_features(sequence: &str, description: &str, msas: &[&Msa]) -> Result<FeatureDict> {
    let mut features = make_sequence_features(sequence, description)?;
    features.extend(make_msa_feature_dict(msas)?);
    Ok(features)
}

/// `msa` (`[N_seq, N_res]` HHblits ids), `deletion_matrix_int` and `num_alignments` of one or
/// more parsed alignments of the same query (rows deduplicated across them by
/// [`make_msa_features`]).
pub fn make_msa_feature_dict(msas: &[&Msa]) -> Result<FeatureDict> {
    let encoded = make_msa_features(msas)?;
    let num_seq = encoded.msa.len();
    let num_res = encoded.msa.first().map_or(0, Vec::len);
    let mut features = FeatureDict::new();
    features.insert(
        "msa".into(),
        NpArray::new(vec![num_seq, num_res], ArrayData::I32(encoded.msa.concat()))?,
    );
    features.insert(
        "deletion_matrix_int".into(),
        NpArray::new(
            vec![num_seq, num_res],
            ArrayData::I32(encoded.deletion_matrix.concat()),
        )?,
    );
    features.insert(
        "num_alignments".into(),
        NpArray::new(
            vec![num_res],
            ArrayData::I32(vec![encoded.num_alignments as i32; num_res]),
        )?,
    );
    Ok(features)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::msa::parse_a3m;

    #[test]
    fn sequence_features_match_alphafold_layout() {
        let features = make_sequence_features("MKB", "query").unwrap();
        let aatype = &features["aatype"];
        assert_eq!(aatype.shape, vec![3, 21]);
        let ArrayData::I32(one_hot) = &aatype.data else {
            panic!("aatype is not int32")
        };
        // M = 12, K = 11 in AlphaFold's order; B is not standard, so X = 20.
        assert_eq!(one_hot[12], 1);
        assert_eq!(one_hot[21 + 11], 1);
        assert_eq!(one_hot[42 + 20], 1);
        assert_eq!(one_hot.iter().sum::<i32>(), 3);
        assert_eq!(features["seq_length"].data, ArrayData::I32(vec![3, 3, 3]));
        assert_eq!(
            features["residue_index"].data,
            ArrayData::I32(vec![0, 1, 2])
        );
    }

    #[test]
    fn msa_features_drop_repeated_rows_and_use_hhblits_ids() {
        // Lower-case letters are insertions: two deleted residues before column 1.
        let first = parse_a3m(">query\nMK-\n>hit\nMwwKA\n", "first.a3m").unwrap();
        let second = parse_a3m(">query\nMKA\n>hit\nAwwKA\n", "second.a3m").unwrap();
        let features = make_raw_features("MK", "q", &[&first, &second]).unwrap();
        assert_eq!(features["msa"].shape, vec![3, 3]);
        // HHblits ids (`ID_TO_HHBLITS_AA`): M = 10, K = 8, A = 0, gap = 21.
        assert_eq!(
            features["msa"].data,
            ArrayData::I32(vec![10, 8, 21, 10, 8, 0, 0, 8, 0])
        );
        assert_eq!(
            features["deletion_matrix_int"].data,
            ArrayData::I32(vec![0, 0, 0, 0, 2, 0, 0, 2, 0])
        );
        assert_eq!(
            features["num_alignments"].data,
            ArrayData::I32(vec![3, 3, 3])
        );
    }
}
