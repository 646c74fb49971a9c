//! Clustering of the extra MSA around the sampled cluster centres (Jumper et al. (2021) Suppl.
//! 1.2.7 "MSA clustering"; DeepMind's `alphafold/model/tf/data_transforms.py`
//! `nearest_neighbor_clusters` and `summarize_clusters`): each extra row joins the centre it
//! agrees with at the most positions (gaps and mask tokens never count as agreement), and every
//! cluster gets a residue profile and a mean deletion count over its centre and members.
use super::msa_rows::{MsaRows, MSA_GAP, MSA_ONE_HOT};

/// Profile and mean deletions per cluster centre.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSummary {
    /// `[N_clust, N_res, 23]` (`cluster_profile`).
    pub profile: Vec<f32>,
    /// `[N_clust, N_res]` (`cluster_deletion_mean`).
    pub deletion_mean: Vec<f32>,
}

/// Index of the nearest centre of each extra row (`extra_cluster_assignment`); ties go to the
/// first centre, as `argmax` does. `centre_ids` are the (corrupted) centre residue ids.
pub fn assign_clusters(centres: &MsaRows, centre_ids: &[i32], extra: &MsaRows) -> Vec<usize> {
    let n = centres.num_res;
    // Agreement counts only residues and unknown (weight 1), not gaps or mask tokens (weight
    // 0), and only where both positions are unmasked. Encode the ineligible positions with two
    // different sentinels so that they never compare equal; the inner loop is then a plain
    // byte comparison the compiler vectorises.
    const CENTRE_SKIP: u8 = 254;
    const EXTRA_SKIP: u8 = 255;
    let centre_codes: Vec<u8> = centre_ids
        .iter()
        .zip(&centres.mask)
        .map(|(&id, &mask)| {
            if mask == 0.0 || !(0..MSA_GAP).contains(&id) {
                CENTRE_SKIP
            } else {
                id as u8
            }
        })
        .collect();
    let extra_codes: Vec<u8> = extra
        .msa
        .iter()
        .zip(&extra.mask)
        .map(|(&id, &mask)| {
            if mask == 0.0 || !(0..=MSA_GAP).contains(&id) {
                EXTRA_SKIP
            } else {
                id as u8
            }
        })
        .collect();
    let num_centres = centres.num_seq();
    (0..extra.num_seq())
        .map(|e| {
            let extra_row = &extra_codes[e * n..(e + 1) * n];
            let mut best = (0usize, 0u32);
            for c in 0..num_centres {
                let centre_row = &centre_codes[c * n..(c + 1) * n];
                let agreement: u32 = extra_row
                    .iter()
                    .zip(centre_row)
                    .map(|(a, b)| (a == b) as u32)
                    .sum();
                if agreement > best.1 {
                    best = (c, agreement);
                }
            }
            best.0
        })
        .collect()
}

/// Profiles and mean deletions of each cluster: centre plus assigned extra rows, weighted by
/// their masks (`summarize_clusters`). The centre contributes its corrupted ids `centre_ids`.
pub fn summarize_clusters(
    centres: &MsaRows,
    centre_ids: &[i32],
    extra: &MsaRows,
    assignment: &[usize],
) -> ClusterSummary {
    let n = centres.num_res;
    let num_centres = centres.num_seq();
    let mut member_counts = vec![0f32; num_centres * n];
    let mut residue_sums = vec![0f32; num_centres * n * MSA_ONE_HOT];
    let mut deletion_sums = vec![0f32; num_centres * n];
    for (e, &c) in assignment.iter().enumerate() {
        for r in 0..n {
            let mask = extra.mask[e * n + r];
            member_counts[c * n + r] += mask;
            deletion_sums[c * n + r] += mask * extra.deletion_matrix[e * n + r];
            if let Some(class) = one_hot_class(extra.msa[e * n + r]) {
                residue_sums[(c * n + r) * MSA_ONE_HOT + class] += mask;
            }
        }
    }
    let mut profile = residue_sums;
    let mut deletion_mean = deletion_sums;
    for position in 0..num_centres * n {
        if let Some(class) = one_hot_class(centre_ids[position]) {
            profile[position * MSA_ONE_HOT + class] += 1.0;
        }
        deletion_mean[position] += centres.deletion_matrix[position];
        // Same summation order as AlphaFold (1e-6 + centre mask + member count) so that the
        // f32 result is bit-identical.
        let count = 1e-6f32 + centres.mask[position] + member_counts[position];
        for value in &mut profile[position * MSA_ONE_HOT..(position + 1) * MSA_ONE_HOT] {
            *value /= count;
        }
        deletion_mean[position] /= count;
    }
    ClusterSummary {
        profile,
        deletion_mean,
    }
}

/// Channel of a residue id in a 23-way one-hot; out-of-range ids have none (as `tf.one_hot`).
pub fn one_hot_class(id: i32) -> Option<usize> {
    usize::try_from(id).ok().filter(|&c| c < MSA_ONE_HOT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::features::msa_rows::MSA_MASK_TOKEN;

    #[test]
    fn extra_rows_join_the_most_similar_centre() {
        let centres = MsaRows::new(4, vec![0, 1, 2, 3, 5, 6, 7, 8], vec![0.0; 8]);
        // Centre 1 is corrupted to gaps at columns 1 and 2. Row 0 then agrees with centre 1 at
        // column 0 only; row 1 shares only gaps with centre 1 and agrees with centre 0 once;
        // row 2 agrees with nothing and goes to centre 0.
        let extra = MsaRows::new(
            4,
            vec![5, 6, 7, 0, 0, 21, 21, 9, 9, 9, 9, 9],
            vec![0.0, 2.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        );
        let mut gapped = centres.msa.clone();
        gapped[5] = 21;
        gapped[6] = 21;
        let assignment = assign_clusters(&centres, &gapped, &extra);
        assert_eq!(assignment, vec![1, 0, 0]);

        let summary = summarize_clusters(&centres, &gapped, &extra, &assignment);
        let profile = |c: usize, r: usize, class: usize| summary.profile[(c * 4 + r) * 23 + class];
        let members = 1e-6f32 + 1.0 + 2.0;
        assert_eq!(profile(0, 0, 0), 2.0 / members);
        assert_eq!(profile(0, 0, 9), 1.0 / members);
        assert_eq!(profile(1, 1, 6), 1.0 / (1e-6f32 + 1.0 + 1.0));
        assert_eq!(profile(1, 1, 21), 1.0 / (1e-6f32 + 1.0 + 1.0));
        assert_eq!(summary.deletion_mean[0], 4.0 / members);
        assert_eq!(summary.deletion_mean[4 + 1], 2.0 / (1e-6f32 + 1.0 + 1.0));
    }

    #[test]
    fn mask_tokens_and_masked_positions_never_agree() {
        let centres = MsaRows::new(2, vec![3, 3, 4, 4], vec![0.0; 4]);
        let corrupted = vec![MSA_MASK_TOKEN, MSA_MASK_TOKEN, 4, 4];
        let mut extra = MsaRows::new(2, vec![3, 3, 4, 4], vec![0.0; 4]);
        extra.mask[2] = 0.0;
        assert_eq!(assign_clusters(&centres, &corrupted, &extra), vec![0, 1]);
        extra.mask[3] = 0.0;
        assert_eq!(assign_clusters(&centres, &corrupted, &extra), vec![0, 0]);
    }
}
