//! Side-chain torsion loss, Jumper et al. (2021) Suppl. 1.9.1 / Alg. 27 (`torsionAngleLoss`),
//! as DeepMind's `folding.py` `supervised_chi_loss`: the squared (sin, cos) error of the
//! predicted chi angles of every structure-module layer against the true ones — or, for
//! π-periodic chis, against the true angle + π when closer — and the angle-norm loss that keeps
//! the unnormalised (sin, cos) outputs near unit length.
use super::masked_mean::mask_mean;
use crate::geometry::residue_tables::{chi_pi_periodic, gather_by_restype};
use tch::{Kind, Tensor};

/// Guard inside the square root of the angle norm.
const ANGLE_NORM_EPSILON: f64 = 1e-6;

/// The torsion terms of the structure module's loss.
#[derive(Debug)]
pub struct ChiLoss {
    /// Scalar: mean squared chi (sin, cos) error over layers and existing chis.
    pub chi_loss: Tensor,
    /// Scalar: mean `| |(sin, cos)| - 1 |` of all 7 unnormalised torsions over layers and residues.
    pub angle_norm_loss: Tensor,
    /// `chi_weight · chi_loss + angle_norm_weight · angle_norm_loss`.
    pub loss: Tensor,
}

/// Chi and angle-norm losses of the per-layer torsions `angles_sin_cos` and
/// `unnormalized_angles_sin_cos` `[L, *, N, 7, 2]` (order ω, φ, ψ, χ1..χ4) against the true
/// chis `true_chi_sin_cos` `[*, N, 4, 2]` with mask `chi_mask` `[*, N, 4]`, for residues `aatype`
/// `[*, N]` with `seq_mask` `[*, N]`. AlphaFold's weights: chi 0.5, angle norm 0.01.
#[allow(clippy::too_many_arguments)]
pub fn supervised_chi_loss(
    angles_sin_cos: &Tensor,
    unnormalized_angles_sin_cos: &Tensor,
    aatype: &Tensor,
    seq_mask: &Tensor,
    chi_mask: &Tensor,
    true_chi_sin_cos: &Tensor,
    chi_weight: f64,
    angle_norm_weight: f64,
) -> ChiLoss {
    let pred_chi = angles_sin_cos.narrow(-2, 3, 4); // [L, *, N, 4, 2]
    let pi_periodic = gather_by_restype(&chi_pi_periodic(aatype.device()), aatype)
        .to_kind(pred_chi.kind()); // [*, N, 4]
    // sin and cos of χ + π are those of χ negated.
    let shift = (pi_periodic.ones_like() - pi_periodic * 2.0).unsqueeze(-1); // [*, N, 4, 1]
    let true_chi = true_chi_sin_cos.to_kind(pred_chi.kind());
    let true_chi_shifted = &true_chi * shift;
    let squared_error = |truth: &Tensor| (&pred_chi - truth).square().sum_dim_intlist(-1, false, Kind::Float);
    let chi_error = squared_error(&true_chi).minimum(&squared_error(&true_chi_shifted)); // [L, *, N, 4]
    let chi_loss = mask_mean(&chi_mask.to_kind(Kind::Float).unsqueeze(0), &chi_error);

    let angle_norm =
        (unnormalized_angles_sin_cos.square().sum_dim_intlist(-1, false, Kind::Float) + ANGLE_NORM_EPSILON).sqrt(); // [L, *, N, 7]
    let norm_error = (angle_norm - 1.0).abs();
    let angle_norm_loss = mask_mean(&seq_mask.to_kind(Kind::Float).unsqueeze(0).unsqueeze(-1), &norm_error);
    let loss = &chi_loss * chi_weight + &angle_norm_loss * angle_norm_weight;
    ChiLoss { chi_loss, angle_norm_loss, loss }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::residue_constants::restype_index;
    use tch::Device;

    /// (sin, cos) of angles `[N, 4]` given in radians.
    fn sin_cos(angles: &[f64], n: i64) -> Tensor {
        let angles = Tensor::from_slice(angles).reshape([n, 4]);
        Tensor::stack(&[angles.sin(), angles.cos()], -1) // [N, 4, 2]
    }

    /// Torsions `[1, N, 7, 2]` with zero backbone angles and the given chis `[N, 4, 2]`.
    fn with_backbone(chis: &Tensor) -> Tensor {
        let n = chis.size()[0];
        let backbone = Tensor::zeros([n, 3, 2], (Kind::Double, Device::Cpu));
        let _ = backbone.select(-1, 1).fill_(1.0);
        Tensor::cat(&[backbone, chis.shallow_clone()], -2).unsqueeze(0)
    }

    #[test]
    fn true_angles_and_pi_shifted_periodic_angles_cost_nothing() {
        // PHE's chi2 is π-periodic (Suppl. Table 2): predicting χ2 + π costs nothing, while
        // shifting χ1 by π costs the full squared distance |2 (sin, cos)|² = 4 on one of 8 chis.
        let aatype = Tensor::from_slice(&[restype_index('F') as i64, restype_index('F') as i64]);
        let seq_mask = Tensor::ones([2], (Kind::Float, Device::Cpu));
        let chi_mask = Tensor::from_slice(&[1.0f32, 1., 0., 0., 1., 1., 0., 0.]).reshape([2, 4]);
        let truth = [0.3, -1.2, 0.0, 0.0, 2.0, 0.7, 0.0, 0.0];
        let true_chi = sin_cos(&truth, 2);
        let pi = std::f64::consts::PI;
        let loss_of = |pred: &[f64]| {
            let angles = with_backbone(&sin_cos(pred, 2));
            supervised_chi_loss(&angles, &angles, &aatype, &seq_mask, &chi_mask, &true_chi, 0.5, 0.01)
        };
        let exact = loss_of(&truth);
        assert!(exact.chi_loss.double_value(&[]).abs() < 1e-10);
        let periodic = loss_of(&[0.3, -1.2 + pi, 0.0, 0.0, 2.0, 0.7 - pi, 0.0, 0.0]);
        assert!(periodic.chi_loss.double_value(&[]).abs() < 1e-10);
        let flipped = loss_of(&[0.3 + pi, -1.2, 0.0, 0.0, 2.0, 0.7, 0.0, 0.0]);
        assert!((flipped.chi_loss.double_value(&[]) - 4.0 / 4.0).abs() < 1e-6);
        // Unit (sin, cos) pairs: the angle norm is sqrt(1 + 1e-6), off 1 by ≈ 5e-7.
        assert!(exact.angle_norm_loss.double_value(&[]) < 1e-6);
        assert!((flipped.loss.double_value(&[]) - 0.5 * 1.0 - 0.01 * exact.angle_norm_loss.double_value(&[])).abs() < 1e-6);
    }

    #[test]
    fn angle_norm_loss_measures_distance_from_the_unit_circle() {
        // Every unnormalised pair scaled to length 2: | sqrt(4 + 1e-6) - 1 | ≈ 1 for all torsions.
        let aatype = Tensor::from_slice(&[restype_index('A') as i64]);
        let seq_mask = Tensor::ones([1], (Kind::Float, Device::Cpu));
        let chi_mask = Tensor::zeros([1, 4], (Kind::Float, Device::Cpu));
        let angles = with_backbone(&sin_cos(&[0.0; 4], 1));
        let loss = supervised_chi_loss(&angles, &(&angles * 2.0), &aatype, &seq_mask, &chi_mask, &sin_cos(&[0.0; 4], 1), 0.5, 0.01);
        assert!((loss.angle_norm_loss.double_value(&[]) - ((4.0f64 + 1e-6).sqrt() - 1.0)).abs() < 1e-6);
    }
}
