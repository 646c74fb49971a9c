//! The random steps of AlphaFold's MSA processing (Jumper et al. (2021) Suppl. 1.2.5-1.2.7;
//! DeepMind's `alphafold/model/tf/data_transforms.py`): the MSA profile, the choice of cluster
//! centres (`sample_msa`), the BERT-style corruption (`make_masked_msa`) and the choice of
//! extra-MSA rows (`crop_extra_msa`). Randomness comes from a caller-seeded [`rand::Rng`]; the
//! distributions are AlphaFold's, the streams are not TensorFlow's.
use super::config::MaskedMsaConfig;
use super::msa_rows::{MsaRows, MSA_MASK_TOKEN};
use rand::seq::SliceRandom;
use rand::Rng;

/// Classes of `hhblits_profile`: 20 amino acids, unknown and gap.
pub const PROFILE_CLASSES: usize = 22;

/// `[N_res, 22]` frequency of each residue id per column over all rows
/// (`make_hhblits_profile`).
pub fn hhblits_profile(msa: &MsaRows) -> Vec<f32> {
    let n = msa.num_res;
    let mut counts = vec![0f32; n * PROFILE_CLASSES];
    for row in 0..msa.num_seq() {
        for (col, &id) in msa.row(row).iter().enumerate() {
            if let Ok(id) = usize::try_from(id) {
                if id < PROFILE_CLASSES {
                    counts[col * PROFILE_CLASSES + id] += 1.0;
                }
            }
        }
    }
    let num_seq = msa.num_seq() as f32;
    if num_seq > 0.0 {
        counts.iter_mut().for_each(|c| *c /= num_seq);
    }
    counts
}

/// Splits the MSA into up to `max_seq` cluster centres, the query first and the others drawn at
/// random, and the remaining rows (the extra MSA) in shuffled order (`sample_msa`).
pub fn sample_msa(msa: &MsaRows, max_seq: usize, rng: &mut impl Rng) -> (MsaRows, MsaRows) {
    let num_seq = msa.num_seq();
    let mut order: Vec<usize> = (1..num_seq).collect();
    order.shuffle(rng);
    if num_seq > 0 {
        order.insert(0, 0);
    }
    let num_selected = max_seq.min(num_seq);
    let (selected, rest) = order.split_at(num_selected);
    (msa.gather(selected), msa.gather(rest))
}

/// Keeps `max_extra` extra-MSA rows chosen at random (`crop_extra_msa`).
pub fn crop_extra_msa(extra: &MsaRows, max_extra: usize, rng: &mut impl Rng) -> MsaRows {
    let mut order: Vec<usize> = (0..extra.num_seq()).collect();
    order.shuffle(rng);
    order.truncate(max_extra);
    extra.gather(&order)
}

/// Result of the BERT corruption of the cluster-centre MSA.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskedMsa {
    /// `[N_seq, N_res]` ids after corruption (may hold [`MSA_MASK_TOKEN`]).
    pub msa: Vec<i32>,
    /// `[N_seq, N_res]` 1.0 where a position was chosen for corruption (`bert_mask`).
    pub bert_mask: Vec<f32>,
    /// `[N_seq, N_res]` ids before corruption (`true_msa`).
    pub true_msa: Vec<i32>,
}

/// Chooses each position with probability `replace_fraction` and replaces it by a draw from
/// `uniform_prob · U(20 amino acids) + profile_prob · profile + same_prob · itself`, with the
/// rest of the probability on the mask token (`make_masked_msa`, Suppl. 1.2.7).
pub fn make_masked_msa(
    msa: &MsaRows,
    profile: &[f32],
    config: &MaskedMsaConfig,
    replace_fraction: f32,
    rng: &mut impl Rng,
) -> MaskedMsa {
    let n = msa.num_res;
    let mut corrupted = msa.msa.clone();
    let mut bert_mask = vec![0f32; msa.msa.len()];
    let mut probs = [0f32; PROFILE_CLASSES + 1];
    for (index, id) in corrupted.iter_mut().enumerate() {
        if rng.gen::<f32>() >= replace_fraction {
            continue;
        }
        bert_mask[index] = 1.0;
        let column = &profile[(index % n) * PROFILE_CLASSES..][..PROFILE_CLASSES];
        for (class, p) in probs[..PROFILE_CLASSES].iter_mut().enumerate() {
            let uniform = if class < 20 { 0.05 } else { 0.0 };
            let same = if class as i32 == *id { 1.0 } else { 0.0 };
            *p = config.uniform_prob * uniform
                + config.profile_prob * column[class]
                + config.same_prob * same;
        }
        probs[PROFILE_CLASSES] = config.mask_prob();
        *id = draw_categorical(&probs, rng);
    }
    MaskedMsa {
        msa: corrupted,
        bert_mask,
        true_msa: msa.msa.clone(),
    }
}

/// A class drawn with probability proportional to `probs[class] + 1e-10` (AlphaFold samples
/// from `log(probs + 1e-10)` logits).
fn draw_categorical(probs: &[f32], rng: &mut impl Rng) -> i32 {
    const EPSILON: f32 = 1e-10;
    let total: f32 = probs.iter().map(|p| p + EPSILON).sum();
    let mut target = rng.gen::<f32>() * total;
    for (class, p) in probs.iter().enumerate() {
        target -= p + EPSILON;
        if target < 0.0 {
            return class as i32;
        }
    }
    MSA_MASK_TOKEN
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn toy_msa(num_seq: usize, num_res: usize) -> MsaRows {
        let ids = (0..num_seq * num_res).map(|i| (i % 20) as i32).collect();
        MsaRows::new(num_res, ids, vec![0.0; num_seq * num_res])
    }

    #[test]
    fn profile_is_column_frequency() {
        let msa = MsaRows::new(2, vec![0, 21, 0, 3, 5, 3, 0, 3], vec![0.0; 8]);
        let profile = hhblits_profile(&msa);
        assert_eq!(profile[0], 0.75);
        assert_eq!(profile[5], 0.25);
        assert_eq!(profile[PROFILE_CLASSES + 3], 0.75);
        assert_eq!(profile[PROFILE_CLASSES + 21], 0.25);
    }

    #[test]
    fn sampling_keeps_query_first_and_partitions_rows() {
        let msa = toy_msa(10, 3);
        let mut rng = StdRng::seed_from_u64(7);
        let (clusters, extra) = sample_msa(&msa, 4, &mut rng);
        assert_eq!(clusters.num_seq(), 4);
        assert_eq!(extra.num_seq(), 6);
        assert_eq!(clusters.row(0), msa.row(0));
        let mut first_ids: Vec<i32> = (0..4).map(|i| clusters.row(i)[0]).collect();
        first_ids.extend((0..6).map(|i| extra.row(i)[0]));
        first_ids.sort();
        let mut expected: Vec<i32> = (0..10).map(|i| msa.row(i)[0]).collect();
        expected.sort();
        assert_eq!(first_ids, expected);
        assert_eq!(crop_extra_msa(&extra, 2, &mut rng).num_seq(), 2);
        assert_eq!(crop_extra_msa(&extra, 100, &mut rng).num_seq(), 6);
    }

    #[test]
    fn masking_rates_follow_the_configuration() {
        // Suppl. 1.2.7: 15% of positions chosen; of those 70% become the mask token.
        let msa = toy_msa(200, 100);
        let profile = hhblits_profile(&msa);
        let config = MaskedMsaConfig {
            uniform_prob: 0.1,
            profile_prob: 0.1,
            same_prob: 0.1,
        };
        let mut rng = StdRng::seed_from_u64(1);
        let masked = make_masked_msa(&msa, &profile, &config, 0.15, &mut rng);
        let chosen = masked.bert_mask.iter().filter(|&&m| m == 1.0).count() as f64;
        let total = masked.bert_mask.len() as f64;
        assert!(
            (chosen / total - 0.15).abs() < 0.01,
            "chosen share {}",
            chosen / total
        );
        let mask_tokens = masked
            .msa
            .iter()
            .filter(|&&id| id == MSA_MASK_TOKEN)
            .count() as f64;
        assert!(
            (mask_tokens / chosen - 0.7).abs() < 0.03,
            "mask share {}",
            mask_tokens / chosen
        );
        for i in 0..masked.msa.len() {
            if masked.bert_mask[i] == 0.0 {
                assert_eq!(masked.msa[i], masked.true_msa[i]);
            }
        }
        let none = make_masked_msa(&msa, &profile, &config, 0.0, &mut rng);
        assert_eq!(none.msa, msa.msa);
        assert!(none.bert_mask.iter().all(|&m| m == 0.0));
    }
}
