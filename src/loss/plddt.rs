//! Predicted lDDT loss, Jumper et al. (2021) Suppl. 1.9.6 / Alg. 29 (DeepMind's `modules.py`
//! `PredictedLDDTHead.loss`): the per-residue lDDT-Cα of the final predicted structure against
//! the truth (DeepMind's `lddt.py`, 15 Å inclusion radius, no gradient) is binned into the head's
//! bins (50 in AlphaFold) and the head's logits are scored by cross-entropy over residues whose
//! Cα was resolved.
use super::cross_entropy::softmax_cross_entropy;
use tch::{Kind, Tensor};

/// lDDT inclusion radius, Å.
const LDDT_CUTOFF: f64 = 15.0;

/// Per-point lDDT `[*, N]` of predicted points `[*, N, 3]` against true points `[*, N, 3]`
/// present where `true_mask` `[*, N]` is 1 (DeepMind's `lddt.lddt` with `per_residue=True`;
/// the slice version is [`crate::metrics::lddt`]).
pub fn per_residue_lddt(predicted: &Tensor, true_points: &Tensor, true_mask: &Tensor) -> Tensor {
    let distances = |points: &Tensor| {
        ((points.unsqueeze(-2) - points.unsqueeze(-3)).square().sum_dim_intlist(-1, false, Kind::Float) + 1e-10).sqrt()
    }; // [*, N, N]
    let true_distances = distances(true_points);
    let pred_distances = distances(predicted);
    let mask = true_mask.to_kind(Kind::Float);
    let n = mask.size().last().copied().unwrap_or(0);
    let off_diagonal = Tensor::ones([n, n], (Kind::Float, mask.device())) - Tensor::eye(n, (Kind::Float, mask.device()));
    let scored = true_distances.lt(LDDT_CUTOFF).to_kind(Kind::Float) * mask.unsqueeze(-1) * mask.unsqueeze(-2) * off_diagonal;
    let difference = (true_distances - pred_distances).abs();
    let score = [0.5, 1.0, 2.0, 4.0]
        .iter()
        .map(|threshold| difference.lt(*threshold).to_kind(Kind::Float))
        .fold(Tensor::zeros_like(&difference), |sum, hit| sum + hit)
        * 0.25;
    let norm = (scored.sum_dim_intlist(-1, false, Kind::Float) + 1e-10).reciprocal();
    norm * ((scored * score).sum_dim_intlist(-1, false, Kind::Float) + 1e-10)
}

/// The pLDDT loss (`[*]`) of `logits` `[*, N, num_bins]` for the final predicted Cα positions
/// `[*, N, 3]` against the true Cα positions `[*, N, 3]` with mask `true_ca_mask` `[*, N]`.
/// Filtering by resolution is the caller's.
pub fn plddt_loss(logits: &Tensor, pred_ca: &Tensor, true_ca: &Tensor, true_ca_mask: &Tensor) -> Tensor {
    let num_bins = logits.size().last().copied().unwrap_or(1);
    let lddt = per_residue_lddt(&pred_ca.detach().to_kind(Kind::Float), &true_ca.to_kind(Kind::Float), true_ca_mask);
    let bins = (lddt * num_bins as f64).floor().to_kind(Kind::Int64).clamp_max(num_bins - 1);
    let errors = softmax_cross_entropy(logits, &bins); // [*, N]
    let mask = true_ca_mask.to_kind(Kind::Float);
    (errors * &mask).sum_dim_intlist(-1, false, Kind::Float) / (mask.sum_dim_intlist(-1, false, Kind::Float) + 1e-8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn perfect_prediction_lands_in_the_top_bin() {
        // A prediction equal to the truth has lDDT 1 for every residue, i.e. bin 49 of 50
        // (floor(50) clipped); logits peaked there cost ≈ 0, peaked on bin 0 cost 100.
        let truth = Tensor::randn([6, 3], (Kind::Float, Device::Cpu)) * 4.0;
        let mask = Tensor::ones([6], (Kind::Float, Device::Cpu));
        let lddt = per_residue_lddt(&truth, &truth, &mask);
        assert!((lddt - 1.0).abs().max().double_value(&[]) < 1e-6);
        let top = Tensor::full([6], 49i64, (Kind::Int64, Device::Cpu)).one_hot(50).to_kind(Kind::Float) * 100.0;
        assert!(plddt_loss(&top, &truth, &truth, &mask).double_value(&[]) < 1e-6);
        let bottom = Tensor::zeros([6], (Kind::Int64, Device::Cpu)).one_hot(50).to_kind(Kind::Float) * 100.0;
        assert!((plddt_loss(&bottom, &truth, &truth, &mask).double_value(&[]) - 100.0).abs() < 1e-3);
    }

    #[test]
    fn lddt_scores_the_fraction_of_thresholds_kept() {
        // Two points 3 Å apart predicted 4.2 Å apart: |Δ| = 1.2 Å keeps the 2 and 4 Å
        // thresholds, so each residue scores 0.5.
        let truth = Tensor::from_slice(&[0.0f32, 0., 0., 3., 0., 0.]).reshape([2, 3]);
        let pred = Tensor::from_slice(&[0.0f32, 0., 0., 4.2, 0., 0.]).reshape([2, 3]);
        let mask = Tensor::ones([2], (Kind::Float, Device::Cpu));
        let lddt = Vec::<f32>::try_from(per_residue_lddt(&pred, &truth, &mask)).unwrap();
        assert!(lddt.iter().all(|v| (v - 0.5).abs() < 1e-6), "{lddt:?}");
    }
}
