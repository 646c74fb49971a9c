//! Raw (unprocessed) features of a query sequence and its MSAs, as DeepMind's
//! `alphafold/data/pipeline.py` builds them (`make_sequence_features`, `make_msa_features`):
//! the contents of a `features.pkl` before any template search.
use crate::data::array::{ArrayData, FeatureDict, NpArray};
use crate::residue_constants::{hhblits_aa_index, restype_index, RESTYPE_NUM_WITH_X};
use anyhow::{bail, Result};

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

/// One alignment: aligned rows (upper-case residues and `-`, insertions already removed, the
/// query first) with, per row, the number of deleted residues before each column.
#[derive(Debug, Clone, Copy)]
pub struct AlignedRows<'a> {
    pub sequences: &'a [String],
    pub deletion_matrix: &'a [Vec<i32>],
}

/// `msa` (`[N_seq, N_res]` HHblits ids), `deletion_matrix_int` and `num_alignments` from one or
/// more alignments of the same query, keeping the first copy of each distinct row across all of
/// them (AlphaFold 2.0's `make_msa_features`).
pub fn make_msa_features(alignments: &[AlignedRows]) -> Result<FeatureDict> {
    let Some(num_res) = alignments
        .first()
        .and_then(|a| a.sequences.first())
        .map(|s| s.chars().count())
    else {
        bail!("at least one alignment with at least one sequence is needed");
    };
    let mut seen = std::collections::HashSet::new();
    let mut msa = Vec::new();
    let mut deletions = Vec::new();
    for (alignment_index, alignment) in alignments.iter().enumerate() {
        if alignment.sequences.is_empty() {
            bail!("alignment {alignment_index} has no sequences");
        }
        if alignment.sequences.len() != alignment.deletion_matrix.len() {
            bail!(
                "alignment {alignment_index} has {} sequences but {} deletion rows",
                alignment.sequences.len(),
                alignment.deletion_matrix.len()
            );
        }
        for (row, (sequence, deletion_row)) in alignment
            .sequences
            .iter()
            .zip(alignment.deletion_matrix)
            .enumerate()
        {
            if !seen.insert(sequence.as_str()) {
                continue;
            }
            let ids = sequence
                .chars()
                .map(|c| {
                    hhblits_aa_index(c).map(|id| id as i32).ok_or_else(|| {
                        anyhow::anyhow!(
                            "alignment {alignment_index} row {row}: unexpected character {c:?}"
                        )
                    })
                })
                .collect::<Result<Vec<i32>>>()?;
            if ids.len() != num_res || deletion_row.len() != num_res {
                bail!(
                    "alignment {alignment_index} row {row} has {} columns and {} deletion \
                     counts; the query has {num_res}",
                    ids.len(),
                    deletion_row.len()
                );
            }
            msa.extend(ids);
            deletions.extend_from_slice(deletion_row);
        }
    }
    let num_seq = seen.len();
    let mut features = FeatureDict::new();
    features.insert(
        "msa".into(),
        NpArray::new(vec![num_seq, num_res], ArrayData::I32(msa))?,
    );
    features.insert(
        "deletion_matrix_int".into(),
        NpArray::new(vec![num_seq, num_res], ArrayData::I32(deletions))?,
    );
    features.insert(
        "num_alignments".into(),
        NpArray::new(vec![num_res], ArrayData::I32(vec![num_seq as i32; num_res]))?,
    );
    Ok(features)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let first = ["MK-".to_owned(), "MKA".to_owned()];
        let second = ["MKA".to_owned(), "AKA".to_owned()];
        let deletions = [vec![0, 0, 0], vec![0, 2, 0]];
        let features = make_msa_features(&[
            AlignedRows {
                sequences: &first,
                deletion_matrix: &deletions,
            },
            AlignedRows {
                sequences: &second,
                deletion_matrix: &deletions,
            },
        ])
        .unwrap();
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
        let ragged = ["MK".to_owned()];
        let err = make_msa_features(&[
            AlignedRows {
                sequences: &first,
                deletion_matrix: &deletions,
            },
            AlignedRows {
                sequences: &ragged,
                deletion_matrix: &[vec![0, 0]],
            },
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("alignment 1 row 0 has 2 columns"),
            "{err}"
        );
    }
}
