//! Distogram loss, Jumper et al. (2021) Suppl. 1.9.8 (DeepMind's `modules.py`
//! `_distogram_log_loss`): cross-entropy of the distogram head's logits against the bin of the
//! true pseudo-β (Cβ, Cα for glycine) distance, averaged over residue pairs present in the truth.
//! AlphaFold: 64 bins with 63 edges evenly from 2.3125 to 21.6875 Å.
use super::cross_entropy::softmax_cross_entropy;
use tch::{Kind, Tensor};

/// Bin index `[*]` of squared distances `[*]` among bins whose edges `breaks` `[B-1]` are given
/// in Å (a value equal to an edge falls in the lower bin, as `dist2 > sq_breaks` counts).
pub fn bin_of_squared_distance(squared_distances: &Tensor, breaks: &Tensor) -> Tensor {
    squared_distances
        .unsqueeze(-1)
        .gt_tensor(&breaks.square())
        .sum_dim_intlist(-1, false, Kind::Int64)
}

/// The distogram loss (scalar, or `[*]`) of `logits` `[*, N, N, num_bins]` against the true
/// pseudo-β positions `[*, N, 3]` with mask `[*, N]`.
pub fn distogram_loss(
    logits: &Tensor,
    pseudo_beta: &Tensor,
    pseudo_beta_mask: &Tensor,
    first_break: f64,
    last_break: f64,
    num_bins: i64,
) -> Tensor {
    let breaks = Tensor::linspace(first_break, last_break, num_bins - 1, (Kind::Float, logits.device()));
    let positions = pseudo_beta.to_kind(Kind::Float);
    let squared_distances = (positions.unsqueeze(-2) - positions.unsqueeze(-3))
        .square()
        .sum_dim_intlist(-1, false, Kind::Float); // [*, N, N]
    let true_bins = bin_of_squared_distance(&squared_distances, &breaks);
    let errors = softmax_cross_entropy(logits, &true_bins); // [*, N, N]
    let mask = pseudo_beta_mask.to_kind(errors.kind());
    let square_mask = mask.unsqueeze(-1) * mask.unsqueeze(-2);
    let dims = [-2i64, -1];
    (errors * &square_mask).sum_dim_intlist(dims.as_slice(), false, None)
        / (square_mask.sum_dim_intlist(dims.as_slice(), false, None) + 1e-6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::gradient_check::assert_gradient_matches_finite_differences;
    use tch::Device;

    #[test]
    fn confident_correct_prediction_costs_almost_nothing() {
        // Three points 0, 5 and 12 Å apart on a line. Logits of 100 on each pair's true bin and
        // 0 elsewhere give a cross-entropy of log(1 + 63 e^-100) ≈ 0; putting them on the next
        // bin instead costs exactly 100 per pair (diagonal pairs included).
        let positions = Tensor::from_slice(&[0.0f32, 0., 0., 5., 0., 0., 12., 0., 0.]).reshape([3, 3]);
        let mask = Tensor::ones([3], (Kind::Float, Device::Cpu));
        let breaks = Tensor::linspace(2.3125, 21.6875, 63, (Kind::Float, Device::Cpu));
        let squared = (positions.unsqueeze(-2) - positions.unsqueeze(-3)).square().sum_dim_intlist(-1, false, Kind::Float);
        let bins = bin_of_squared_distance(&squared, &breaks);
        // 5 Å lies in bin 1 + floor((5 - 2.3125) / 0.3125) = 9.
        assert_eq!(bins.int64_value(&[0, 1]), 9);
        let logits_for = |bins: &Tensor| bins.one_hot(64).to_kind(Kind::Float) * 100.0;
        let right = distogram_loss(&logits_for(&bins), &positions, &mask, 2.3125, 21.6875, 64);
        assert!(right.double_value(&[]) < 1e-6);
        let wrong = distogram_loss(&logits_for(&(&bins + 1)), &positions, &mask, 2.3125, 21.6875, 64);
        assert!((wrong.double_value(&[]) - 100.0 * 9.0 / (9.0 + 1e-6)).abs() < 1e-3);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Four residues 0-20 Å apart (one without a pseudo-β), logits [4, 4, 64] ~ N(0, 2²).
        tch::manual_seed(5);
        let options = (Kind::Double, Device::Cpu);
        let positions = Tensor::rand([4, 3], options) * 12.0;
        let mask = Tensor::from_slice(&[1.0f64, 1., 0., 1.]);
        let logits = Tensor::randn([4, 4, 64], options) * 2.0;
        assert_gradient_matches_finite_differences(
            &logits,
            |logits| distogram_loss(logits, &positions, &mask, 2.3125, 21.6875, 64),
            1e-5,
            1e-7,
        );
    }
}
