//! An MSA with the per-row features that travel with it through sampling and cropping
//! (`_MSA_FEATURE_NAMES` of DeepMind's `alphafold/model/tf/data_transforms.py`: `msa`,
//! `deletion_matrix`, `msa_mask`, `msa_row_mask`).

/// Residue ids of MSA features in AlphaFold's order (`restypes_with_x_and_gap`): 0..=19 the
/// amino acids, 20 unknown, 21 gap; 22 is the BERT mask token, 23 the one-hot width with it.
pub const MSA_GAP: i32 = 21;
pub const MSA_MASK_TOKEN: i32 = 22;
pub const MSA_ONE_HOT: usize = 23;

/// `N_seq` aligned rows of `N_res` columns, each field row-major `[N_seq, N_res]` except
/// `row_mask` (`[N_seq]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MsaRows {
    pub num_res: usize,
    /// Residue ids (see [`MSA_GAP`]).
    pub msa: Vec<i32>,
    /// Deleted residues before each column (`deletion_matrix`).
    pub deletion_matrix: Vec<f32>,
    /// 1.0 for real positions (`msa_mask`), 0.0 once padded.
    pub mask: Vec<f32>,
    /// 1.0 for real rows (`msa_row_mask`).
    pub row_mask: Vec<f32>,
}

impl MsaRows {
    /// Rows with all masks set, as `make_msa_mask` makes them.
    pub fn new(num_res: usize, msa: Vec<i32>, deletion_matrix: Vec<f32>) -> Self {
        let num_seq = if num_res == 0 { 0 } else { msa.len() / num_res };
        Self {
            num_res,
            mask: vec![1.0; msa.len()],
            row_mask: vec![1.0; num_seq],
            msa,
            deletion_matrix,
        }
    }

    pub fn num_seq(&self) -> usize {
        self.row_mask.len()
    }

    /// Residue ids of row `i`.
    pub fn row(&self, i: usize) -> &[i32] {
        &self.msa[i * self.num_res..(i + 1) * self.num_res]
    }

    /// The rows at `indices`, in that order (`tf.gather` on every MSA feature).
    pub fn gather(&self, indices: &[usize]) -> Self {
        let n = self.num_res;
        let take_rows = |values: &[f32]| -> Vec<f32> {
            indices
                .iter()
                .flat_map(|&i| values[i * n..(i + 1) * n].iter().copied())
                .collect()
        };
        Self {
            num_res: n,
            msa: indices
                .iter()
                .flat_map(|&i| self.row(i).iter().copied())
                .collect(),
            deletion_matrix: take_rows(&self.deletion_matrix),
            mask: take_rows(&self.mask),
            row_mask: indices.iter().map(|&i| self.row_mask[i]).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_reorders_every_field() {
        let rows = MsaRows::new(
            2,
            vec![0, 1, 2, 3, 4, 5],
            vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        );
        assert_eq!(rows.num_seq(), 3);
        let picked = rows.gather(&[2, 0]);
        assert_eq!(picked.msa, vec![4, 5, 0, 1]);
        assert_eq!(picked.deletion_matrix, vec![4.0, 5.0, 0.0, 1.0]);
        assert_eq!(picked.mask, vec![1.0; 4]);
        assert_eq!(picked.row_mask, vec![1.0; 2]);
    }
}
