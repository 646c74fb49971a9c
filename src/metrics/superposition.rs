//! Optimal rigid superposition of two point sets (the Kabsch problem) and the RMSD after it.
//!
//! The rotation minimising `Σ |R·x_i + t − y_i|²` is found with Horn's unit-quaternion method
//! (Horn, J. Opt. Soc. Am. A 4:629, 1987): after centring both sets, the optimal rotation is the
//! quaternion eigenvector of the largest eigenvalue of a symmetric 4×4 matrix built from the
//! 3×3 correlation matrix. Unlike an SVD-based Kabsch (Kabsch, Acta Cryst. A32:922, 1976) it
//! never produces a reflection, so no determinant correction is needed, and degenerate sets
//! (one point, collinear points) still give a proper rotation. This plays the role of the
//! `u3b` routine in the TM-score program.

/// A point in Å, `[x, y, z]`.
pub type Vec3 = [f64; 3];

/// A rigid transform `x ↦ rotation · x + translation` moving the mobile set onto the target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Superposition {
    /// Proper rotation matrix, row-major.
    pub rotation: [[f64; 3]; 3],
    /// Translation in Å, applied after the rotation.
    pub translation: Vec3,
}

impl Superposition {
    /// The transform that leaves every point where it is.
    pub fn identity() -> Self {
        Superposition {
            rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [0.0; 3],
        }
    }

    /// `rotation · point + translation`.
    pub fn apply(&self, point: Vec3) -> Vec3 {
        let r = &self.rotation;
        let t = &self.translation;
        [
            r[0][0] * point[0] + r[0][1] * point[1] + r[0][2] * point[2] + t[0],
            r[1][0] * point[0] + r[1][1] * point[1] + r[1][2] * point[2] + t[1],
            r[2][0] * point[0] + r[2][1] * point[1] + r[2][2] * point[2] + t[2],
        ]
    }
}

/// The rigid transform minimising the summed squared distance between `apply(mobile[i])` and
/// `target[i]`. An empty input gives the identity; a single point gives a pure translation.
///
/// # Panics
/// When the two sets differ in length (a caller's bug: pairs always come from one
/// correspondence).
pub fn superpose(mobile: &[Vec3], target: &[Vec3]) -> Superposition {
    assert_eq!(mobile.len(), target.len(), "superpose: point sets of different lengths");
    if mobile.is_empty() {
        return Superposition::identity();
    }
    let mobile_centre = centroid(mobile);
    let target_centre = centroid(target);

    // Correlation matrix s[a][b] = Σ x_a · y_b over the centred sets.
    let mut s = [[0.0f64; 3]; 3];
    for (x, y) in mobile.iter().zip(target) {
        let x = sub(*x, mobile_centre);
        let y = sub(*y, target_centre);
        for a in 0..3 {
            for b in 0..3 {
                s[a][b] += x[a] * y[b];
            }
        }
    }
    let [[sxx, sxy, sxz], [syx, syy, syz], [szx, szy, szz]] = s;
    let horn = [
        [sxx + syy + szz, syz - szy, szx - sxz, sxy - syx],
        [syz - szy, sxx - syy - szz, sxy + syx, szx + sxz],
        [szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy],
        [sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz],
    ];
    let quaternion = top_eigenvector(horn);
    let rotation = quaternion_to_matrix(quaternion);
    let rotated_centre = Superposition { rotation, translation: [0.0; 3] }.apply(mobile_centre);
    Superposition { rotation, translation: sub(target_centre, rotated_centre) }
}

/// Root-mean-square distance between `transform.apply(mobile[i])` and `target[i]` (0 for empty
/// sets).
///
/// # Panics
/// When the two sets differ in length.
pub fn rmsd_under(transform: &Superposition, mobile: &[Vec3], target: &[Vec3]) -> f64 {
    assert_eq!(mobile.len(), target.len(), "rmsd_under: point sets of different lengths");
    if mobile.is_empty() {
        return 0.0;
    }
    let sum: f64 =
        mobile.iter().zip(target).map(|(x, y)| squared_distance(transform.apply(*x), *y)).sum();
    (sum / mobile.len() as f64).sqrt()
}

/// RMSD after optimal superposition, with the transform that achieves it.
pub fn superposed_rmsd(mobile: &[Vec3], target: &[Vec3]) -> (f64, Superposition) {
    let transform = superpose(mobile, target);
    (rmsd_under(&transform, mobile, target), transform)
}

/// Squared Euclidean distance.
pub fn squared_distance(a: Vec3, b: Vec3) -> f64 {
    let d = sub(a, b);
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
}

fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn centroid(points: &[Vec3]) -> Vec3 {
    let sum = points.iter().fold([0.0; 3], |acc, p| [acc[0] + p[0], acc[1] + p[1], acc[2] + p[2]]);
    let n = points.len() as f64;
    [sum[0] / n, sum[1] / n, sum[2] / n]
}

/// Rotation matrix of the unit quaternion `(w, x, y, z)`.
fn quaternion_to_matrix([w, x, y, z]: [f64; 4]) -> [[f64; 3]; 3] {
    [
        [w * w + x * x - y * y - z * z, 2.0 * (x * y - w * z), 2.0 * (x * z + w * y)],
        [2.0 * (x * y + w * z), w * w - x * x + y * y - z * z, 2.0 * (y * z - w * x)],
        [2.0 * (x * z - w * y), 2.0 * (y * z + w * x), w * w - x * x - y * y + z * z],
    ]
}

/// Unit eigenvector of the largest eigenvalue of a symmetric 4×4 matrix, by cyclic Jacobi
/// rotations (Golub & Van Loan, Matrix Computations, §8.5). Jacobi converges quadratically and
/// is accurate for small symmetric matrices, including repeated eigenvalues, where any unit
/// vector of the eigenspace is returned.
fn top_eigenvector(matrix: [[f64; 4]; 4]) -> [f64; 4] {
    let mut a = matrix;
    let mut v = [[0.0f64; 4]; 4];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let scale: f64 = a.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
    const MAX_SWEEPS: usize = 64;
    for _ in 0..MAX_SWEEPS {
        let off_diagonal: f64 = (0..4)
            .flat_map(|p| (p + 1..4).map(move |q| (p, q)))
            .map(|(p, q)| a[p][q] * a[p][q])
            .sum();
        if off_diagonal.sqrt() <= f64::EPSILON * scale {
            break;
        }
        for p in 0..4 {
            for q in p + 1..4 {
                if a[p][q] == 0.0 {
                    continue;
                }
                // Rotation angle that zeroes a[p][q]: tan(2θ) = 2 a_pq / (a_qq − a_pp).
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..4 {
                    let akp = a[k][p];
                    let akq = a[k][q];
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..4 {
                    let apk = a[p][k];
                    let aqk = a[q][k];
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let vkp = row[p];
                    let vkq = row[q];
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let best = (0..4).fold(0, |best, i| if a[i][i] > a[best][best] { i } else { best });
    let vector = [v[0][best], v[1][best], v[2][best], v[3][best]];
    let norm = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
    vector.map(|x| x / norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::test_traces::helix;

    /// Rotation by `angle` radians about the unit `axis` (Rodrigues' formula).
    fn axis_angle(axis: Vec3, angle: f64) -> [[f64; 3]; 3] {
        let (s, c) = angle.sin_cos();
        let [x, y, z] = axis;
        [
            [c + x * x * (1.0 - c), x * y * (1.0 - c) - z * s, x * z * (1.0 - c) + y * s],
            [y * x * (1.0 - c) + z * s, c + y * y * (1.0 - c), y * z * (1.0 - c) - x * s],
            [z * x * (1.0 - c) - y * s, z * y * (1.0 - c) + x * s, c + z * z * (1.0 - c)],
        ]
    }

    fn determinant(m: &[[f64; 3]; 3]) -> f64 {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    }


    #[test]
    fn recovers_a_known_rigid_motion() {
        let norm = (1.0f64 + 4.0 + 9.0).sqrt();
        let moved = Superposition {
            rotation: axis_angle([1.0 / norm, 2.0 / norm, 3.0 / norm], 2.1),
            translation: [10.0, -4.0, 7.5],
        };
        let mobile = helix(12);
        let target: Vec<Vec3> = mobile.iter().map(|p| moved.apply(*p)).collect();
        let (rmsd, found) = superposed_rmsd(&mobile, &target);
        assert!(rmsd < 1e-9, "rmsd {rmsd}");
        for i in 0..3 {
            assert!((found.translation[i] - moved.translation[i]).abs() < 1e-9);
            for j in 0..3 {
                assert!((found.rotation[i][j] - moved.rotation[i][j]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn mirror_image_is_not_superposed_by_a_reflection() {
        let mobile = helix(10);
        let mirrored: Vec<Vec3> = mobile.iter().map(|p| [p[0], p[1], -p[2]]).collect();
        let (rmsd, found) = superposed_rmsd(&mobile, &mirrored);
        assert!((determinant(&found.rotation) - 1.0).abs() < 1e-12);
        assert!(rmsd > 0.5, "a helix and its mirror image cannot coincide, rmsd {rmsd}");
    }

    #[test]
    fn rmsd_of_a_stretched_pair_is_the_half_stretch() {
        // Points ±1 Å on x against ±2 Å on y: the best rotation lines them up and each point is
        // then 1 Å from its partner, so the RMSD is exactly 1 Å.
        let mobile = [[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]];
        let target = [[5.0, 2.0, 0.0], [5.0, -2.0, 0.0]];
        let (rmsd, found) = superposed_rmsd(&mobile, &target);
        assert!((rmsd - 1.0).abs() < 1e-12, "rmsd {rmsd}");
        assert!((determinant(&found.rotation) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn degenerate_inputs_give_proper_transforms() {
        assert_eq!(superpose(&[], &[]), Superposition::identity());
        let single = superpose(&[[1.0, 2.0, 3.0]], &[[4.0, 4.0, 4.0]]);
        let moved = single.apply([1.0, 2.0, 3.0]);
        assert!(squared_distance(moved, [4.0, 4.0, 4.0]) < 1e-20);
        let line: Vec<Vec3> = (0..5).map(|i| [i as f64, 0.0, 0.0]).collect();
        let target: Vec<Vec3> = (0..5).map(|i| [0.0, 0.0, i as f64]).collect();
        let (rmsd, found) = superposed_rmsd(&line, &target);
        assert!(rmsd < 1e-9);
        assert!((determinant(&found.rotation) - 1.0).abs() < 1e-12);
    }
}
