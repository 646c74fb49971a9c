//! Frame aligned point error, Jumper et al. (2021) Suppl. Alg. 28 (`computeFAPE`), and the two
//! FAPE terms of the structure module's loss (Suppl. 1.9.2–1.9.3): the backbone FAPE averaged
//! over the structure module's layers (DeepMind's `folding.py` `backbone_loss`) and the
//! side-chain FAPE of the final layer's rigid-group frames and atoms after the alternative
//! ground-truth naming has been chosen (`sidechain_loss`).
use crate::geometry::{Rigid, Rotation};
use anyhow::{Context, Result};
use tch::Tensor;

/// Guard of Alg. 28's distance `sqrt(|Δ|² + ε)` and of the normalisation, `1e-4` Å².
pub const FAPE_EPSILON: f64 = 1e-4;

/// FAPE of predicted frames `[*, F]` and points `[*, P, 3]` against target frames and points of
/// the same shapes, with masks `frames_mask` `[*, F]` and `positions_mask` `[*, P]`: the mean over
/// all (frame, point) pairs of `min(clamp, |T_pred⁻¹ x_pred - T_true⁻¹ x_true|) / length_scale`
/// (no clamp when `clamp_distance` is `None`). Returns `[*]`.
#[allow(clippy::too_many_arguments)]
pub fn frame_aligned_point_error(
    pred_frames: &Rigid,
    target_frames: &Rigid,
    frames_mask: &Tensor,
    pred_positions: &Tensor,
    target_positions: &Tensor,
    positions_mask: &Tensor,
    clamp_distance: Option<f64>,
    length_scale: f64,
) -> Tensor {
    // Every point in every frame: frames [*, F, 1] against points [*, 1, P, 3].
    let local_pred = pred_frames.unsqueeze(-1).invert_apply(&pred_positions.unsqueeze(-3)); // [*, F, P, 3]
    let local_target = target_frames.unsqueeze(-1).invert_apply(&target_positions.unsqueeze(-3));
    let error = ((local_pred - local_target).square().sum_dim_intlist(-1, false, None) + FAPE_EPSILON).sqrt(); // [*, F, P]
    let error = match clamp_distance {
        Some(clamp) => error.clamp_max(clamp),
        None => error,
    };
    let frames_mask = frames_mask.to_kind(error.kind());
    let positions_mask = positions_mask.to_kind(error.kind());
    let pair_mask = frames_mask.unsqueeze(-1) * positions_mask.unsqueeze(-2); // [*, F, P]
    let normed_error = (error / length_scale * pair_mask).sum_dim_intlist([-2i64, -1].as_slice(), false, None);
    let normalization =
        frames_mask.sum_dim_intlist(-1, false, None) * positions_mask.sum_dim_intlist(-1, false, None);
    normed_error / (normalization + FAPE_EPSILON) // [*]
}

/// The backbone FAPE term of the structure module's loss.
#[derive(Debug)]
pub struct BackboneFape {
    /// `[L, *]` FAPE of each layer's backbone frames (and their Cα positions).
    pub per_layer: Tensor,
    /// `[*]` mean over the layers: the term added to the structure module's loss.
    pub loss: Tensor,
}

/// Backbone FAPE (`backbone_loss`) of the trajectory of predicted backbone frames `[L, *, N]`
/// (Å) against the true backbone frames `[*, N]` with mask `[*, N]`; the frames' origins (Cα)
/// are the points. `use_clamped_fape` (`[*]` or scalar, 1 clamped / 0 not; AlphaFold samples 1
/// with probability 0.9 in training) mixes the clamped and unclamped errors.
pub fn backbone_fape(
    trajectory: &Rigid,
    true_frames: &Rigid,
    backbone_mask: &Tensor,
    use_clamped_fape: &Tensor,
    clamp_distance: f64,
    loss_unit_distance: f64,
) -> BackboneFape {
    let fape = |clamp: Option<f64>| {
        frame_aligned_point_error(
            trajectory,
            true_frames,
            backbone_mask,
            trajectory.translation(),
            true_frames.translation(),
            backbone_mask,
            clamp,
            loss_unit_distance,
        ) // [L, *]
    };
    let use_clamped = use_clamped_fape.to_kind(trajectory.kind());
    let per_layer = fape(Some(clamp_distance)) * &use_clamped + fape(None) * (use_clamped.ones_like() - &use_clamped);
    let loss = per_layer.mean_dim(0, false, None);
    BackboneFape { per_layer, loss }
}

/// Picks `alternative` where `use_alternative` `[*]` is 1 and `original` where it is 0.
fn blend(original: &Tensor, alternative: &Tensor, use_alternative: &Tensor) -> Tensor {
    original * (use_alternative.ones_like() - use_alternative) + alternative * use_alternative
}

/// The side-chain FAPE (`sidechain_loss`) of the final layer's rigid-group frames `[*, N, 8]`
/// and atom14 positions `[*, N, 14, 3]` against the true frames `[*, N, 8]` — or their
/// alternatives `alt_true_frames` for residues where `alt_naming_is_better` `[*, N]` is 1 —
/// with mask `true_frames_exist` `[*, N, 8]`, and the renamed true atoms `[*, N, 14, 3]` with mask
/// `[*, N, 14]` (see [`super::atom14_swap`]). Every frame sees every atom of the chain. Returns
/// `[*]`.
#[allow(clippy::too_many_arguments)]
pub fn sidechain_fape(
    pred_frames: &Rigid,
    pred_positions: &Tensor,
    true_frames: &Rigid,
    alt_true_frames: &Rigid,
    true_frames_exist: &Tensor,
    alt_naming_is_better: &Tensor,
    renamed_true_positions: &Tensor,
    renamed_true_exists: &Tensor,
    clamp_distance: f64,
    length_scale: f64,
) -> Result<Tensor> {
    let use_alternative = alt_naming_is_better.to_kind(true_frames.kind()).unsqueeze(-1); // [*, N, 1]
    let rotations = blend(
        true_frames.rotation().matrices(),
        alt_true_frames.rotation().matrices(),
        &use_alternative.unsqueeze(-1).unsqueeze(-1),
    ); // [*, N, 8, 3, 3]
    let translations = blend(
        true_frames.translation(),
        alt_true_frames.translation(),
        &use_alternative.unsqueeze(-1),
    ); // [*, N, 8, 3]
    let renamed_frames = Rigid::new(Rotation::from_matrices(rotations)?, translations)
        .context("side-chain FAPE: true and alternative frames differ in shape")?;
    let flatten_frames = |frames: &Rigid| frames.map(|t| t.flatten(-2, -1)); // [*, N·8]
    Ok(frame_aligned_point_error(
        &flatten_frames(pred_frames),
        &flatten_frames(&renamed_frames),
        &true_frames_exist.flatten(-2, -1),
        &pred_positions.flatten(-3, -2),
        &renamed_true_positions.flatten(-3, -2),
        &renamed_true_exists.flatten(-2, -1),
        Some(clamp_distance),
        length_scale,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::gradient_check::assert_gradient_matches_finite_differences;
    use tch::{Device, Kind};

    const OPTIONS: (Kind, Device) = (Kind::Double, Device::Cpu);

    fn random_frames(n: i64, seed: i64) -> Rigid {
        tch::manual_seed(seed);
        let quaternions = Tensor::randn([n, 4], OPTIONS);
        let rotation = Rotation::from_quaternions(&quaternions, true).unwrap();
        Rigid::new(rotation, Tensor::randn([n, 3], OPTIONS) * 5.0).unwrap()
    }

    fn fape_of(pred: &Rigid, pred_points: &Tensor, target: &Rigid, target_points: &Tensor, clamp: Option<f64>) -> f64 {
        let frames_mask = Tensor::ones([pred.batch_shape()[0]], OPTIONS);
        let points_mask = Tensor::ones([pred_points.size()[0]], OPTIONS);
        frame_aligned_point_error(pred, target, &frames_mask, pred_points, target_points, &points_mask, clamp, 10.0)
            .double_value(&[])
    }

    #[test]
    fn identical_structures_have_only_the_epsilon_error() {
        // Distances are sqrt(0 + 1e-4) = 0.01 Å everywhere, i.e. 0.001 in 10 Å units.
        let frames = random_frames(5, 1);
        let points = Tensor::randn([7, 3], OPTIONS) * 5.0;
        let fape = fape_of(&frames, &points, &frames, &points, Some(10.0));
        assert!((fape - 0.001).abs() < 1e-8, "{fape}");
    }

    #[test]
    fn global_rigid_motion_leaves_fape_unchanged() {
        // FAPE is invariant to applying one rigid transform to the whole prediction.
        let frames = random_frames(5, 2);
        let points = Tensor::randn([7, 3], OPTIONS) * 5.0;
        let motion = random_frames(1, 3);
        let moved_frames = motion.compose(&frames);
        let moved_points = motion.apply(&points);
        let fape = fape_of(&moved_frames, &moved_points, &frames, &points, None);
        assert!((fape - 0.001).abs() < 1e-8, "{fape}");
    }

    #[test]
    fn displaced_point_error_is_clamped() {
        // Identity frame; the one point displaced by 3 Å along x gives sqrt(9 + 1e-4)/10, and by
        // 30 Å gives the clamp 10/10 = 1 (Alg. 28 lines 3–4), but sqrt(900 + 1e-4)/10 unclamped.
        let frame = Rigid::identity(&[1], OPTIONS);
        let target = Tensor::zeros([1, 3], OPTIONS);
        for (shift, clamp, expected) in [
            (3.0, Some(10.0), (9.0f64 + 1e-4).sqrt() / 10.0),
            (30.0, Some(10.0), 1.0),
            (30.0, None, (900.0f64 + 1e-4).sqrt() / 10.0),
        ] {
            let pred = Tensor::from_slice(&[shift, 0.0, 0.0]).reshape([1, 3]);
            let fape = fape_of(&frame, &pred, &frame, &target, clamp);
            // The normalisation is 1·1 + 1e-4.
            assert!((fape - expected / (1.0 + 1e-4)).abs() < 1e-9, "shift {shift}: {fape}");
        }
    }

    #[test]
    fn backbone_fape_averages_layers_and_mixes_clamping() {
        // Identity rotations; in layer 1 residue 0 is moved 30 Å along x. Of the 4 × 4
        // (frame, point) pairs the 6 pairing residue 0 with another see a 30 Å error (clamped to
        // 10 Å), the other 10 only sqrt(1e-4) Å; layer 0 is exact. In 10 Å units, layer 1 is
        // 0.9 · clamped + 0.1 · unclamped, and the loss is the mean over the two layers.
        let identity = Rotation::identity(&[4], OPTIONS);
        let origins = Tensor::randn([4, 3], OPTIONS) * 5.0;
        let truth = Rigid::new(identity.clone(), origins.shallow_clone()).unwrap();
        let shift = Tensor::from_slice(&[30.0f64, 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.]).reshape([4, 3]);
        let moved = Rigid::new(identity, &origins + shift).unwrap();
        let trajectory = Rigid::stack(&[&truth, &moved], 0);
        let mask = Tensor::ones([4], OPTIONS);
        let result = backbone_fape(&trajectory, &truth, &mask, &Tensor::from(0.9f64), 10.0, 10.0);
        let per_layer = Vec::<f64>::try_from(&result.per_layer).unwrap();
        let normalization = 16.0 + 1e-4;
        let exact = 0.001;
        let clamped = (6.0 * 1.0 + 10.0 * exact) / normalization;
        let unclamped = (6.0 * (900.0f64 + 1e-4).sqrt() / 10.0 + 10.0 * exact) / normalization;
        let layer0 = 16.0 * exact / normalization;
        let layer1 = 0.9 * clamped + 0.1 * unclamped;
        assert!((per_layer[0] - layer0).abs() < 1e-9, "{per_layer:?}");
        assert!((per_layer[1] - layer1).abs() < 1e-9, "{per_layer:?}");
        assert!((result.loss.double_value(&[]) - (layer0 + layer1) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // The gradient with respect to every predicted quantity at once: 4 frames (quaternion,
        // normalised inside, and translation) and 6 points, packed into one vector. Errors
        // range over 0-25 Å, so some (frame, point) pairs sit above the 10 Å clamp (zero
        // gradient) and most below it.
        let (frames, points) = (4, 6);
        let target = random_frames(frames, 11);
        let target_points = Tensor::randn([points, 3], OPTIONS) * 5.0;
        let frames_mask = Tensor::from_slice(&[1.0f64, 1., 0., 1.]);
        let points_mask = Tensor::from_slice(&[1.0f64, 1., 1., 0., 1., 1.]);
        let prediction = Tensor::cat(
            &[
                Tensor::randn([frames * 4], OPTIONS),
                Tensor::randn([frames * 3], OPTIONS) * 5.0,
                Tensor::randn([points * 3], OPTIONS) * 5.0,
            ],
            0,
        );
        let fape = |prediction: &Tensor| {
            let quaternions = prediction.narrow(0, 0, frames * 4).reshape([frames, 4]);
            let translations = prediction.narrow(0, frames * 4, frames * 3).reshape([frames, 3]);
            let pred_points = prediction.narrow(0, frames * 7, points * 3).reshape([points, 3]);
            let pred_frames =
                Rigid::new(Rotation::from_quaternions(&quaternions, true).unwrap(), translations).unwrap();
            frame_aligned_point_error(
                &pred_frames,
                &target,
                &frames_mask,
                &pred_points,
                &target_points,
                &points_mask,
                Some(10.0),
                10.0,
            )
        };
        assert_gradient_matches_finite_differences(&prediction, fape, 1e-6, 1e-6);
    }
}
