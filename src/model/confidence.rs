//! Confidence metrics from head logits, as DeepMind's `alphafold/common/confidence.py`
//! computes them: per-residue pLDDT (Jumper et al. (2021) Suppl. 1.9.6), predicted aligned
//! error and predicted TM-score (Suppl. 1.9.7; d0 from Yang & Skolnick (2004) eqn. 5).
use tch::{Kind, Tensor};

/// Expected lDDT-Cα in [0, 100] per residue from `logits [*, N_res, num_bins]`
/// (bins of equal width over [0, 1], valued at their centres). Returns `[*, N_res]` (f64).
pub fn compute_plddt(logits: &Tensor) -> Tensor {
    let num_bins = logits.size()[logits.dim() - 1];
    let width = 1.0 / num_bins as f64;
    let centers = Tensor::arange(num_bins, (Kind::Double, logits.device())) * width + 0.5 * width;
    let probs = logits.to_kind(Kind::Double).softmax(-1, Kind::Double);
    (probs * centers).sum_dim_intlist(-1, false, Kind::Double) * 100.0
}

/// Error bin centres `[num_bins]` from the `num_bins - 1` bin edges: each edge plus half a step,
/// and a catch-all bin one step beyond the last.
pub fn bin_centers(breaks: &Tensor) -> Tensor {
    let breaks = breaks.to_kind(Kind::Double);
    let n = breaks.size()[0];
    let step = (breaks.get(1) - breaks.get(0)).double_value(&[]);
    let centers = breaks + step / 2.0;
    let last = centers.get(n - 1) + step;
    Tensor::cat(&[centers, last.unsqueeze(0)], 0)
}

/// The predicted aligned error head's bin edges: `num_bins - 1` evenly spaced in
/// `[0, max_error_bin]` Å.
pub fn aligned_error_breaks(max_error_bin: f64, num_bins: i64) -> Tensor {
    Tensor::linspace(0.0, max_error_bin, num_bins - 1, (Kind::Double, tch::Device::Cpu))
}

/// Predicted aligned error and its largest possible value.
#[derive(Debug)]
pub struct AlignedError {
    /// `[N_res, N_res, num_bins]` probabilities.
    pub aligned_confidence_probs: Tensor,
    /// `[N_res, N_res]` expected error in Å (frame of residue i, position of residue j).
    pub predicted_aligned_error: Tensor,
    /// The centre of the catch-all bin, the maximum the expectation can reach.
    pub max_predicted_aligned_error: f64,
}

/// Expected aligned error from `logits [N_res, N_res, num_bins]` and the bin edges.
pub fn compute_predicted_aligned_error(logits: &Tensor, breaks: &Tensor) -> AlignedError {
    let probs = logits.to_kind(Kind::Double).softmax(-1, Kind::Double);
    let centers = bin_centers(breaks).to_device(logits.device());
    let num_bins = centers.size()[0];
    AlignedError {
        predicted_aligned_error: (&probs * &centers).sum_dim_intlist(-1, false, Kind::Double),
        aligned_confidence_probs: probs,
        max_predicted_aligned_error: centers.get(num_bins - 1).double_value(&[]),
    }
}

/// Predicted TM-score: the best, over alignment frames i, of the expected TM term averaged over
/// residues j with `residue_weights [N_res]` (all ones when `None`). N_res for d0 is the weight
/// sum, clipped to at least 19 so that d0 stays positive.
pub fn predicted_tm_score(logits: &Tensor, breaks: &Tensor, residue_weights: Option<&Tensor>) -> f64 {
    let n = logits.size()[0];
    let device = logits.device();
    let weights = match residue_weights {
        Some(w) => w.to_kind(Kind::Double).to_device(device),
        None => Tensor::ones([n], (Kind::Double, device)),
    };
    let num_res = weights.sum(Kind::Double).double_value(&[]).trunc();
    let clipped = num_res.max(19.0);
    let d0 = 1.24 * (clipped - 15.0).cbrt() - 1.8;
    let probs = logits.to_kind(Kind::Double).softmax(-1, Kind::Double);
    let centers = bin_centers(breaks).to_device(device);
    let tm_per_bin = (centers.square() / (d0 * d0) + 1.0).reciprocal();
    // [N_res, N_res]
    let tm_term = (probs * tm_per_bin).sum_dim_intlist(-1, false, Kind::Double);
    // [N_res, N_res]
    let pair_weights = weights.unsqueeze(0) * weights.unsqueeze(1);
    let normed = &pair_weights / (pair_weights.sum_dim_intlist(-1, true, Kind::Double) + 1e-8);
    // [N_res]
    let per_alignment = (tm_term * normed).sum_dim_intlist(-1, false, Kind::Double);
    let best = (&per_alignment * &weights).argmax(0, false);
    per_alignment.get(best.int64_value(&[])).double_value(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::shared_data;
    use std::collections::HashMap;

    fn read_npz(path: &std::path::Path) -> HashMap<String, Tensor> {
        Tensor::read_npz(path).unwrap().into_iter().collect()
    }

    #[test]
    fn uniform_logits_give_mid_plddt_and_mean_error() {
        let plddt = compute_plddt(&Tensor::zeros([3, 50], (Kind::Float, tch::Device::Cpu)));
        assert!((plddt.get(0).double_value(&[]) - 50.0).abs() < 1e-9);
        let breaks = aligned_error_breaks(31.0, 64);
        let centers = bin_centers(&breaks);
        assert_eq!(centers.size(), vec![64]);
        assert!((centers.get(63).double_value(&[]) - 31.75).abs() < 1e-9);
    }

    /// Real ColabFold model_1_ptm outputs (/work/shared/data/colabfold, README there): our
    /// metrics from the stored logits must reproduce `expected_confidence.json` and the stored
    /// per-residue pLDDT and PAE. The batched files are padded to 13 residues, so their metrics
    /// are over the residues of `seq_mask` in the matching `.feat.npz`.
    #[test]
    fn reproduces_colabfold_confidence() {
        let Some(dir) = shared_data("colabfold") else { return };
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected_confidence.json")).unwrap())
                .unwrap();
        for stem in ["batch_5AWL_1", "batch_6A5J", "single_5AWL_1"] {
            let pred = read_npz(&dir.join(format!("{stem}.pred.npz")));
            let feat = read_npz(&dir.join(format!("{stem}.feat.npz")));
            let want = &expected[format!("{stem}.pred")];
            let seq_mask = feat["seq_mask"].get(0).to_kind(Kind::Double);
            let real = seq_mask.sum(Kind::Double).double_value(&[]) as i64;

            let plddt = compute_plddt(&pred["predicted_lddt/logits"]);
            let stored = pred["plddt"].to_kind(Kind::Double);
            let diff = (&plddt - &stored).abs().max().double_value(&[]);
            assert!(diff < 1e-3, "{stem}: per-residue pLDDT differs by {diff}");
            let mean = plddt.narrow(0, 0, real).mean(Kind::Double).double_value(&[]);
            let want_mean = want["mean_plddt"].as_f64().unwrap();
            assert!((mean - want_mean).abs() < 1e-3, "{stem}: mean pLDDT {mean} vs {want_mean}");

            // The files keep the PAE head's probabilities, not its logits; their log is a valid
            // logit vector (softmax(log p) = p).
            let logits = &pred["aligned_confidence_probs"].to_kind(Kind::Double).log();
            let breaks = aligned_error_breaks(31.0, 64);
            let pae = compute_predicted_aligned_error(logits, &breaks);
            let want_max = want["max_pae"].as_f64().unwrap();
            assert!((pae.max_predicted_aligned_error - want_max).abs() < 1e-9);
            let stored = pred["predicted_aligned_error"].to_kind(Kind::Double);
            let diff = (&pae.predicted_aligned_error - &stored).abs().max().double_value(&[]);
            assert!(diff < 1e-3, "{stem}: PAE differs by {diff}");

            let ptm = predicted_tm_score(logits, &breaks, Some(&seq_mask));
            let want_ptm = want["ptm"].as_f64().unwrap();
            assert!((ptm - want_ptm).abs() < 1e-5, "{stem}: pTM {ptm} vs {want_ptm}");
        }
    }
}
