//! Predicted aligned error loss of the `_ptm` models, Jumper et al. (2021) Suppl. 1.9.7
//! (DeepMind's `modules.py` `PredictedAlignedErrorHead.loss`): for every pair (i, j) the error
//! `|T_i⁻¹ x_j - T_i^true⁻¹ x_j^true|` of residue j's Cα seen from residue i's backbone frame
//! (no gradient) is binned (AlphaFold: 64 bins, 63 edges from 0 to 31 Å) and the head's logits
//! are scored by cross-entropy over pairs with both true frames.
use super::cross_entropy::softmax_cross_entropy;
use super::distogram::bin_of_squared_distance;
use crate::geometry::Rigid;
use tch::{Kind, Tensor};

/// Squared aligned errors `[*, N, N]` (frame i, point j) of predicted backbone frames `[*, N]`
/// against true frames `[*, N]`, their origins being the points.
pub fn squared_aligned_error(pred_frames: &Rigid, true_frames: &Rigid) -> Tensor {
    let local = |frames: &Rigid| frames.unsqueeze(-1).invert_apply(&frames.translation().unsqueeze(-3)); // [*, N, N, 3]
    (local(pred_frames) - local(true_frames)).square().sum_dim_intlist(-1, false, Kind::Float)
}

/// The PAE loss (`[*]`) of `logits` `[*, N, N, num_bins]` for the final predicted backbone
/// frames against the true ones (`[*, N]`, Å) with mask `backbone_mask` `[*, N]`; the bins'
/// edges run evenly from 0 to `max_error_bin` Å. Filtering by resolution is the caller's.
pub fn predicted_aligned_error_loss(
    logits: &Tensor,
    pred_frames: &Rigid,
    true_frames: &Rigid,
    backbone_mask: &Tensor,
    max_error_bin: f64,
) -> Tensor {
    let num_bins = logits.size().last().copied().unwrap_or(1);
    let breaks = Tensor::linspace(0.0, max_error_bin, num_bins - 1, (Kind::Float, logits.device()));
    let squared_error = squared_aligned_error(&pred_frames.detach(), true_frames).to_kind(Kind::Float);
    let true_bins = bin_of_squared_distance(&squared_error, &breaks);
    let errors = softmax_cross_entropy(logits, &true_bins); // [*, N, N]
    let mask = backbone_mask.to_kind(Kind::Float);
    let square_mask = mask.unsqueeze(-1) * mask.unsqueeze(-2);
    let dims = [-2i64, -1];
    (errors * &square_mask).sum_dim_intlist(dims.as_slice(), false, Kind::Float)
        / (square_mask.sum_dim_intlist(dims.as_slice(), false, Kind::Float) + 1e-8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Rotation;
    use tch::Device;

    #[test]
    fn aligned_error_of_a_moved_residue() {
        // Identity frames at origins; moving residue 0 by 2.2 Å gives an error of 2.2 Å for the
        // pairs (0, j≠0) and (i≠0, 0), zero elsewhere; a global move gives zero everywhere.
        let options = (Kind::Float, Device::Cpu);
        let origins = Tensor::randn([3, 3], options) * 5.0;
        let truth = Rigid::new(Rotation::identity(&[3], options), origins.shallow_clone()).unwrap();
        let shift = Tensor::from_slice(&[2.2f32, 0., 0., 0., 0., 0., 0., 0., 0.]).reshape([3, 3]);
        let moved = Rigid::new(Rotation::identity(&[3], options), &origins + shift).unwrap();
        let errors = squared_aligned_error(&moved, &truth);
        let expected = Tensor::from_slice(&[0.0f32, 4.84, 4.84, 4.84, 0., 0., 4.84, 0., 0.]).reshape([3, 3]);
        assert!((errors - expected).abs().max().double_value(&[]) < 1e-4);
        let global = Rigid::new(Rotation::identity(&[3], options), &origins + 7.0).unwrap();
        assert!(squared_aligned_error(&global, &truth).abs().max().double_value(&[]) < 1e-4);
        // 2.2 Å lies above the edges 0, 0.5, 1.0, 1.5, 2.0 (every 31/62 = 0.5 Å): bin 5. Logits
        // peaked on the true bins cost ≈ 0.
        let bins = bin_of_squared_distance(&squared_aligned_error(&moved, &truth), &Tensor::linspace(0.0, 31.0, 63, options));
        assert_eq!(bins.int64_value(&[0, 1]), 5);
        let logits = bins.one_hot(64).to_kind(Kind::Float) * 100.0;
        let mask = Tensor::ones([3], options);
        assert!(predicted_aligned_error_loss(&logits, &moved, &truth, &mask, 31.0).double_value(&[]) < 1e-5);
    }
}
