//! Quaternions `(a, b, c, d)` (real part first, as AlphaFold writes them) and their conversion
//! to and from 3×3 rotation matrices.
//!
//! The matrix of a unit quaternion is Jumper et al. (2021) Suppl. Alg. 23, lines 2–3; the
//! inverse conversion takes the eigenvector of the largest eigenvalue of the symmetric 4×4
//! matrix built from the rotation (Bar-Itzhack 2000), as DeepMind's `quat_affine.rot_to_quat`
//! and OpenFold's `rigid_utils.rot_to_quat` do, which stays accurate near 180° rotations.
use tch::Tensor;

/// Divides each quaternion by its norm: `[*, 4] -> [*, 4]`.
pub fn normalize(quaternions: &Tensor) -> Tensor {
    let norm = quaternions.square().sum_dim_intlist(-1, true, None).sqrt(); // [*, 1]
    quaternions / norm
}

/// Rotation matrices of unit quaternions: `[*, 4] -> [*, 3, 3]`.
///
/// The caller normalises first (see [`normalize`]); a non-unit quaternion gives a scaled
/// rotation.
pub fn to_rotation_matrix(quaternions: &Tensor) -> Tensor {
    let q = quaternions.unbind(-1);
    let (a, b, c, d) = (&q[0], &q[1], &q[2], &q[3]);
    let entries = [
        a * a + b * b - c * c - d * d,
        (b * c - a * d) * 2.0,
        (b * d + a * c) * 2.0,
        (b * c + a * d) * 2.0,
        a * a - b * b + c * c - d * d,
        (c * d - a * b) * 2.0,
        (b * d - a * c) * 2.0,
        (c * d + a * b) * 2.0,
        a * a - b * b - c * c + d * d,
    ];
    let mut shape = a.size();
    shape.extend([3, 3]);
    Tensor::stack(&entries, -1).reshape(shape) // [*, 3, 3]
}

/// Unit quaternions of rotation matrices: `[*, 3, 3] -> [*, 4]`.
///
/// A rotation has two quaternions, `q` and `-q`; the one returned has a non-negative real part.
pub fn from_rotation_matrix(rotations: &Tensor) -> Tensor {
    let r = |i: i64, j: i64| rotations.select(-2, i).select(-1, j); // [*]
    let (xx, xy, xz) = (r(0, 0), r(0, 1), r(0, 2));
    let (yx, yy, yz) = (r(1, 0), r(1, 1), r(1, 2));
    let (zx, zy, zz) = (r(2, 0), r(2, 1), r(2, 2));
    let rows = [
        [&xx + &yy + &zz, &zy - &yz, &xz - &zx, &yx - &xy],
        [&zy - &yz, &xx - &yy - &zz, &xy + &yx, &xz + &zx],
        [&xz - &zx, &xy + &yx, &yy - &xx - &zz, &yz + &zy],
        [&yx - &xy, &xz + &zx, &yz + &zy, &zz - &xx - &yy],
    ];
    let rows: Vec<Tensor> = rows.iter().map(|row| Tensor::stack(row, -1)).collect();
    let k = Tensor::stack(&rows, -2) / 3.0; // [*, 4, 4]
    let (_, eigenvectors) = k.linalg_eigh("L"); // eigenvalues ascending; [*, 4, 4]
    let q = eigenvectors.select(-1, 3); // [*, 4]
    let sign = q.select(-1, 0).ge(0.0).to_kind(q.kind()) * 2.0 - 1.0; // [*]
    q * sign.unsqueeze(-1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    #[test]
    fn quaternion_rotation_round_trip_up_to_sign() {
        tch::manual_seed(1);
        let q = normalize(&Tensor::randn([5, 7, 4], (Kind::Double, Device::Cpu)));
        let r = to_rotation_matrix(&q);
        assert_eq!(r.size(), [5, 7, 3, 3]);
        let back = from_rotation_matrix(&r);
        let same_sign = (&back * &q).sum_dim_intlist(-1, true, None).sign(); // [5, 7, 1]
        assert!(max_abs_diff(&(back * same_sign), &q) < 1e-5);
    }

    #[test]
    fn matrices_are_proper_rotations() {
        tch::manual_seed(2);
        let q = normalize(&Tensor::randn([64, 4], (Kind::Float, Device::Cpu)));
        let r = to_rotation_matrix(&q);
        let eye = Tensor::eye(3, (Kind::Float, Device::Cpu));
        assert!(max_abs_diff(&r.matmul(&r.transpose(-1, -2)), &eye) < 1e-5);
        let det = Tensor::linalg_det(&r);
        assert!(max_abs_diff(&det, &det.ones_like()) < 1e-5);
    }

    #[test]
    fn known_quarter_turn_about_z() {
        // A rotation by θ about z has quaternion (cos θ/2, 0, 0, sin θ/2) (Hamilton convention);
        // θ = 90° maps x to y.
        let half = std::f64::consts::FRAC_PI_4;
        let q = Tensor::from_slice(&[half.cos(), 0.0, 0.0, half.sin()]);
        let r = to_rotation_matrix(&q);
        let x = Tensor::from_slice(&[1.0f64, 0.0, 0.0]);
        let rotated = r.matmul(&x);
        assert!(max_abs_diff(&rotated, &Tensor::from_slice(&[0.0f64, 1.0, 0.0])) < 1e-12);
        assert!(max_abs_diff(&from_rotation_matrix(&r), &q) < 1e-12);
    }
}
