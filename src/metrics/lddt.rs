//! lDDT, the superposition-free local distance difference test (Mariani et al.,
//! Bioinformatics 29:2722, 2013), in the approximate form AlphaFold uses
//! (DeepMind's `alphafold/model/lddt.py`; Jumper et al. 2021 Suppl. 1.9.6): no stereochemistry
//! checks, one point per residue (Cα for lDDT-Cα).
//!
//! A pair (i, j), i ≠ j, both present in the true structure, is scored when its true distance
//! is under the 15 Å inclusion radius. Its score is the fraction of the thresholds
//! 0.5, 1, 2, 4 Å that `|d_true − d_pred|` stays under. Distances are
//! `sqrt(1e-10 + Σ Δ²)`, and both sums below carry AlphaFold's `1e-10`, so a residue with no
//! scored pair gets 1:
//! - per residue i: `(1e-10 + Σ_j w_ij s_ij) / (1e-10 + Σ_j w_ij)`;
//! - global: the same over all pairs (not the mean of the per-residue values).
use super::superposition::{squared_distance, Vec3};

/// Inclusion radius in Å (pairs farther apart in the true structure are not scored).
pub const LDDT_CUTOFF: f64 = 15.0;
/// Distance-difference thresholds in Å.
pub const LDDT_THRESHOLDS: [f64; 4] = [0.5, 1.0, 2.0, 4.0];
/// AlphaFold's guard against empty sums and zero distances.
const EPSILON: f64 = 1e-10;

/// lDDT per residue and over the whole structure, both in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lddt {
    /// `[N_res]` score of each residue over its scored pairs.
    pub per_residue: Vec<f64>,
    /// Score over all scored pairs.
    pub global: f64,
}

/// lDDT of `predicted` against `true_points` (`[N_res]` points each, one per residue), with
/// `true_mask[i]` saying whether residue i exists in the true structure, and inclusion radius
/// `cutoff` (AlphaFold: [`LDDT_CUTOFF`]).
///
/// # Panics
/// When the three slices differ in length.
pub fn lddt(predicted: &[Vec3], true_points: &[Vec3], true_mask: &[bool], cutoff: f64) -> Lddt {
    let n = predicted.len();
    assert_eq!(true_points.len(), n, "lddt: predicted and true point lists differ in length");
    assert_eq!(true_mask.len(), n, "lddt: mask and point lists differ in length");
    let distance = |points: &[Vec3], i: usize, j: usize| {
        (EPSILON + squared_distance(points[i], points[j])).sqrt()
    };

    let mut per_residue = Vec::with_capacity(n);
    let (mut total_score, mut total_pairs) = (0.0, 0.0);
    for i in 0..n {
        let (mut score, mut pairs) = (0.0, 0.0);
        for j in 0..n {
            if i == j || !true_mask[i] || !true_mask[j] {
                continue;
            }
            let true_distance = distance(true_points, i, j);
            if true_distance >= cutoff {
                continue;
            }
            let difference = (true_distance - distance(predicted, i, j)).abs();
            let preserved =
                LDDT_THRESHOLDS.iter().filter(|&&threshold| difference < threshold).count();
            score += preserved as f64 / LDDT_THRESHOLDS.len() as f64;
            pairs += 1.0;
        }
        per_residue.push((EPSILON + score) / (EPSILON + pairs));
        total_score += score;
        total_pairs += pairs;
    }
    Lddt { per_residue, global: (EPSILON + total_score) / (EPSILON + total_pairs) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_structures_score_one() {
        let points: Vec<Vec3> = (0..6).map(|i| [3.8 * i as f64, 0.0, 0.0]).collect();
        let result = lddt(&points, &points, &[true; 6], LDDT_CUTOFF);
        assert!((result.global - 1.0).abs() < 1e-12);
        assert!(result.per_residue.iter().all(|s| (s - 1.0).abs() < 1e-12));
    }

    #[test]
    fn scores_a_hand_worked_three_point_example() {
        // True points on a line at x = 0, 3, 20. Pairs within 15 Å: (0,1) at 3 Å only; (0,2)
        // and (1,2) are 20 and 17 Å apart and not scored. The prediction stretches (0,1) to
        // 4.5 Å: |Δ| = 1.5 passes the 2 and 4 Å thresholds, so the pair scores 0.5.
        // Residue 2 has no scored pair and gets 1 (AlphaFold's epsilon ratio).
        let truth = [[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [20.0, 0.0, 0.0]];
        let predicted = [[0.0, 0.0, 0.0], [4.5, 0.0, 0.0], [20.0, 0.0, 0.0]];
        let result = lddt(&predicted, &truth, &[true; 3], LDDT_CUTOFF);
        assert!((result.per_residue[0] - 0.5).abs() < 1e-9);
        assert!((result.per_residue[1] - 0.5).abs() < 1e-9);
        assert!((result.per_residue[2] - 1.0).abs() < 1e-9);
        assert!((result.global - 0.5).abs() < 1e-9);
    }

    #[test]
    fn masked_residues_are_not_scored() {
        // Residue 1 is absent from the truth, so the badly placed prediction of it is ignored
        // and the remaining pair (0,2), 5 Å apart in both, is perfect.
        let truth = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [5.0, 0.0, 0.0]];
        let predicted = [[0.0, 0.0, 0.0], [50.0, 0.0, 0.0], [5.0, 0.0, 0.0]];
        let result = lddt(&predicted, &truth, &[true, false, true], LDDT_CUTOFF);
        assert!((result.global - 1.0).abs() < 1e-9);
    }
}
