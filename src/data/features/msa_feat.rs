//! The model's MSA and target inputs (Jumper et al. (2021) Suppl. 1.2.9 and Table 1; DeepMind's
//! `alphafold/model/tf/data_transforms.py` `make_msa_feat`).
//!
//! `msa_feat` `[N_clust, N_res, 49]`: 23-way one-hot of the (corrupted) residue id, has-deletion
//! (deletions clipped to [0, 1]), deletion value `2/π · atan(d / 3)`, the 23-way cluster
//! profile and the transformed cluster deletion mean. `target_feat` `[N_res, 22]`: a domain
//! break flag then the 21-way one-hot of `aatype`.
use super::msa_clusters::{one_hot_class, ClusterSummary};
use super::msa_rows::{MsaRows, MSA_ONE_HOT};
use crate::residue_constants::RESTYPE_NUM_WITH_X;

/// Channels of `msa_feat` with cluster features.
pub const MSA_FEAT_CHANNELS: usize = 2 * MSA_ONE_HOT + 3;
/// Channels of `target_feat`.
pub const TARGET_FEAT_CHANNELS: usize = RESTYPE_NUM_WITH_X + 1;

/// `2/π · atan(d / 3)`: deletion counts squashed into [0, 1).
pub fn deletion_value(deletions: f32) -> f32 {
    (deletions / 3.0).atan() * (2.0 / std::f32::consts::PI)
}

/// Deletions clipped to [0, 1] (`has_deletion`).
pub fn has_deletion(deletions: f32) -> f32 {
    deletions.clamp(0.0, 1.0)
}

/// `msa_feat` `[N_clust, N_res, 23 + 2 (+ 24 with clusters)]` of the cluster centres, whose
/// corrupted residue ids are `centre_ids`.
pub fn make_msa_feat(
    centres: &MsaRows,
    centre_ids: &[i32],
    clusters: Option<&ClusterSummary>,
) -> (Vec<f32>, usize) {
    let channels = if clusters.is_some() {
        MSA_FEAT_CHANNELS
    } else {
        MSA_ONE_HOT + 2
    };
    let positions = centre_ids.len();
    let mut feat = vec![0f32; positions * channels];
    for position in 0..positions {
        let out = &mut feat[position * channels..(position + 1) * channels];
        if let Some(class) = one_hot_class(centre_ids[position]) {
            out[class] = 1.0;
        }
        let deletions = centres.deletion_matrix[position];
        out[MSA_ONE_HOT] = has_deletion(deletions);
        out[MSA_ONE_HOT + 1] = deletion_value(deletions);
        if let Some(summary) = clusters {
            out[MSA_ONE_HOT + 2..2 * MSA_ONE_HOT + 2].copy_from_slice(
                &summary.profile[position * MSA_ONE_HOT..(position + 1) * MSA_ONE_HOT],
            );
            out[2 * MSA_ONE_HOT + 2] = deletion_value(summary.deletion_mean[position]);
        }
    }
    (feat, channels)
}

/// `target_feat` `[N_res, 22]` from `aatype` (0..=20) and `between_segment_residues`.
pub fn make_target_feat(aatype: &[i32], between_segment_residues: &[i32]) -> Vec<f32> {
    let mut feat = vec![0f32; aatype.len() * TARGET_FEAT_CHANNELS];
    for (r, (&residue, &segment_break)) in aatype.iter().zip(between_segment_residues).enumerate() {
        let out = &mut feat[r * TARGET_FEAT_CHANNELS..(r + 1) * TARGET_FEAT_CHANNELS];
        out[0] = (segment_break as f32).clamp(0.0, 1.0);
        if let Some(class) = usize::try_from(residue)
            .ok()
            .filter(|&c| c < RESTYPE_NUM_WITH_X)
        {
            out[1 + class] = 1.0;
        }
    }
    feat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_transforms_match_the_paper() {
        // Suppl. Table 1: deletion_value = 2/π · arctan(d/3); d = 3 gives 2/π · π/4 = 0.5.
        assert!((deletion_value(3.0) - 0.5).abs() < 1e-7);
        assert_eq!(deletion_value(0.0), 0.0);
        assert_eq!(has_deletion(4.0), 1.0);
        assert_eq!(has_deletion(0.0), 0.0);
    }

    #[test]
    fn msa_feat_layout() {
        let centres = MsaRows::new(2, vec![4, 21], vec![0.0, 3.0]);
        let summary = ClusterSummary {
            profile: (0..2 * MSA_ONE_HOT).map(|i| i as f32).collect(),
            deletion_mean: vec![0.0, 3.0],
        };
        let (feat, channels) = make_msa_feat(&centres, &[22, 21], Some(&summary));
        assert_eq!(channels, 49);
        assert_eq!(feat.len(), 2 * 49);
        assert_eq!(feat[22], 1.0);
        assert_eq!(feat[..23].iter().sum::<f32>(), 1.0);
        assert_eq!(feat[49 + 21], 1.0);
        assert_eq!(feat[49 + 23], 1.0);
        assert!((feat[49 + 24] - 0.5).abs() < 1e-7);
        assert_eq!(feat[25..48], summary.profile[..23]);
        assert!((feat[49 + 48] - 0.5).abs() < 1e-7);
        let (plain, plain_channels) = make_msa_feat(&centres, &[22, 21], None);
        assert_eq!(plain_channels, 25);
        assert_eq!(plain.len(), 50);
    }

    #[test]
    fn target_feat_layout() {
        let feat = make_target_feat(&[0, 20], &[0, 3]);
        assert_eq!(feat.len(), 44);
        assert_eq!(feat[1], 1.0);
        assert_eq!(feat[22], 1.0);
        assert_eq!(feat[22 + 21], 1.0);
        assert_eq!(feat.iter().sum::<f32>(), 3.0);
    }
}
