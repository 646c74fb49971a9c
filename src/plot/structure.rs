//! Structure figures: the structure module's trajectory (Cα traces after each of its layers,
//! Jumper et al. (2021) Suppl. Alg. 20), the predicted Cα trace coloured by pLDDT, and predicted
//! against native Cα–Cα distances.
//!
//! 3-D traces are drawn on their principal plane: the two leading eigenvectors of the Cα
//! coordinates' covariance (principal component analysis), found with the cyclic Jacobi
//! eigenvalue method for symmetric matrices (Golub & Van Loan, "Matrix Computations", §8.5).
//! Each axis's sign is fixed so that its largest component is positive, so the same structure
//! always gives the same picture.
use anyhow::{ensure, Result};
use plotters::style::RGBColor;

use super::colour::{PLDDT_BANDS, VIRIDIS};
use super::figure::{render, Figure};
use super::heatmap::ColourBar;
use super::scatter::{Point, PointChart, Trace};

/// A point in Å.
pub type Vec3 = [f64; 3];

/// The centroid and the two leading principal axes (unit vectors) of `points`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plane {
    pub centre: Vec3,
    pub axes: [Vec3; 2],
}

impl Plane {
    /// The principal plane of `points` (at least one point).
    pub fn principal(points: &[Vec3]) -> Result<Plane> {
        ensure!(!points.is_empty(), "a principal plane needs at least one point");
        let n = points.len() as f64;
        let centre: Vec3 = [0, 1, 2].map(|d| points.iter().map(|p| p[d]).sum::<f64>() / n);
        let mut covariance = [[0.0; 3]; 3];
        for p in points {
            for (a, row) in covariance.iter_mut().enumerate() {
                for (b, cell) in row.iter_mut().enumerate() {
                    *cell += (p[a] - centre[a]) * (p[b] - centre[b]) / n;
                }
            }
        }
        let (values, vectors) = symmetric_eigen(covariance);
        let mut order = [0, 1, 2];
        order.sort_by(|&i, &j| values[j].total_cmp(&values[i]));
        let axis = |k: usize| {
            let v: Vec3 = [vectors[0][k], vectors[1][k], vectors[2][k]];
            let largest = v.iter().copied().fold(0.0, |m: f64, c| if c.abs() > m.abs() { c } else { m });
            if largest < 0.0 {
                v.map(|c| -c)
            } else {
                v
            }
        };
        Ok(Plane { centre, axes: [axis(order[0]), axis(order[1])] })
    }

    /// `point`'s coordinates along the two axes, Å.
    pub fn project(&self, point: &Vec3) -> (f64, f64) {
        let d = [0, 1, 2].map(|k| point[k] - self.centre[k]);
        let dot = |a: &Vec3| a[0] * d[0] + a[1] * d[1] + a[2] * d[2];
        (dot(&self.axes[0]), dot(&self.axes[1]))
    }
}

/// Eigenvalues and eigenvectors (columns) of a symmetric 3 × 3 matrix by cyclic Jacobi rotations.
fn symmetric_eigen(mut a: [[f64; 3]; 3]) -> ([f64; 3], [[f64; 3]; 3]) {
    let mut v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for _sweep in 0..50 {
        let off = a[0][1].powi(2) + a[0][2].powi(2) + a[1][2].powi(2);
        if off < 1e-30 {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q].abs() < 1e-300 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let c = 1.0 / (t * t + 1.0).sqrt();
            let s = t * c;
            // A <- Jᵀ A J with the rotation J in the (p, q) plane.
            for k in 0..3 {
                let (akp, akq) = (a[k][p], a[k][q]);
                a[k][p] = c * akp - s * akq;
                a[k][q] = s * akp + c * akq;
            }
            for k in 0..3 {
                let (apk, aqk) = (a[p][k], a[q][k]);
                a[p][k] = c * apk - s * aqk;
                a[q][k] = s * apk + c * aqk;
            }
            for row in v.iter_mut() {
                let (vp, vq) = (row[p], row[q]);
                row[p] = c * vp - s * vq;
                row[q] = s * vp + c * vq;
            }
        }
    }
    ([a[0][0], a[1][1], a[2][2]], v)
}

/// Cα traces after each structure-module layer (`layers[l][i]`, Å), projected on the last
/// layer's principal plane and coloured by layer (viridis, first to last).
pub fn trajectory(layers: &[Vec<Vec3>]) -> Result<Figure> {
    let last = layers.last().filter(|l| !l.is_empty());
    let last = last.ok_or_else(|| anyhow::anyhow!("trajectory plot: no layers with residues"))?;
    for (l, layer) in layers.iter().enumerate() {
        ensure!(layer.len() == last.len(), "trajectory plot: layer {} has {} residues, the last {}", l + 1, layer.len(), last.len());
    }
    let plane = Plane::principal(last)?;
    let count = layers.len();
    let colour_of = |l: usize| VIRIDIS.at(if count > 1 { l as f64 / (count - 1) as f64 } else { 1.0 });
    let traces = layers
        .iter()
        .enumerate()
        .map(|(l, layer)| Trace {
            points: layer.iter().map(|p| plane.project(p)).collect(),
            colour: colour_of(l),
            width: if l + 1 == count { 3 } else { 1 },
        })
        .collect();
    let chart = PointChart {
        title: "Structure-module trajectory (Cα per layer)".to_string(),
        x_label: "First principal axis of the final Cα (Å)".to_string(),
        y_label: "Second principal axis (Å)".to_string(),
        traces,
        points: Vec::new(),
        point_radius: 2,
        diagonal: false,
        equal_axes: true,
        colour_bar: Some(ColourBar {
            colormap: VIRIDIS,
            range: (1.0, count.max(2) as f64),
            label: "Structure-module layer".to_string(),
        }),
    }
    .validated()?;
    render(&chart)
}

/// The Cα trace (`ca[i]`, Å) on its principal plane, each residue coloured by its pLDDT band.
pub fn plddt_structure(ca: &[Vec3], plddt: &[f32]) -> Result<Figure> {
    ensure!(!ca.is_empty(), "structure plot: no residues");
    ensure!(ca.len() == plddt.len(), "structure plot: {} Cα positions but {} pLDDT values", ca.len(), plddt.len());
    let plane = Plane::principal(ca)?;
    let projected: Vec<(f64, f64)> = ca.iter().map(|p| plane.project(p)).collect();
    let points = projected
        .iter()
        .zip(plddt)
        .map(|(&at, &v)| Point { at, colour: PLDDT_BANDS.scaled(v as f64, (0.0, 100.0)) })
        .collect();
    let chart = PointChart {
        title: "Predicted structure coloured by pLDDT (Cα trace)".to_string(),
        x_label: "First principal axis (Å)".to_string(),
        y_label: "Second principal axis (Å)".to_string(),
        traces: vec![Trace { points: projected, colour: RGBColor(0x90, 0x90, 0x90), width: 1 }],
        points,
        point_radius: 4,
        diagonal: false,
        equal_axes: true,
        colour_bar: Some(ColourBar { colormap: PLDDT_BANDS, range: (0.0, 100.0), label: "pLDDT".to_string() }),
    }
    .validated()?;
    render(&chart)
}

/// Every residue pair's Cα–Cα distance in the prediction against the native (Å), with `y = x`.
pub fn distance_scatter(predicted: &[Vec3], native: &[Vec3]) -> Result<Figure> {
    ensure!(predicted.len() == native.len(), "distance plot: {} predicted residues but {} native", predicted.len(), native.len());
    ensure!(predicted.len() >= 2, "distance plot: at least two residues are needed");
    let distance = |a: &Vec3, b: &Vec3| (0..3).map(|d| (a[d] - b[d]).powi(2)).sum::<f64>().sqrt();
    let mut points = Vec::new();
    for i in 0..predicted.len() {
        for j in i + 1..predicted.len() {
            let at = (distance(&native[i], &native[j]), distance(&predicted[i], &predicted[j]));
            points.push(Point { at, colour: RGBColor(0x1f, 0x77, 0xb4) });
        }
    }
    let chart = PointChart {
        title: "Cα–Cα distances: predicted vs native".to_string(),
        x_label: "Native distance (Å)".to_string(),
        y_label: "Predicted distance (Å)".to_string(),
        traces: Vec::new(),
        points,
        point_radius: 1,
        diagonal: true,
        equal_axes: false,
        colour_bar: None,
    }
    .validated()?;
    render(&chart)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::figure::tests::check_snapshot;

    /// A synthetic helix: 3.6 residues per turn, radius 2.3 Å, rise 1.5 Å (the α-helix's
    /// textbook geometry, Pauling & Corey 1951).
    fn helix(n: usize, scale: f64) -> Vec<Vec3> {
        (0..n)
            .map(|i| {
                let angle = i as f64 * 2.0 * std::f64::consts::PI / 3.6;
                [2.3 * scale * angle.cos(), 2.3 * scale * angle.sin(), 1.5 * scale * i as f64]
            })
            .collect()
    }

    #[test]
    fn principal_plane_of_a_line_is_along_it() {
        let points: Vec<Vec3> = (0..5).map(|i| [0.0, 2.0 * i as f64, 0.0]).collect();
        let plane = Plane::principal(&points).unwrap();
        assert!((plane.axes[0][1] - 1.0).abs() < 1e-9, "{plane:?}");
        assert_eq!(plane.centre, [0.0, 4.0, 0.0]);
        let (x, _) = plane.project(&[0.0, 8.0, 0.0]);
        assert!((x - 4.0).abs() < 1e-9);
    }

    #[test]
    fn jacobi_recovers_a_known_spectrum() {
        // diag(3, 1, 2) rotated by 30° about z: eigenvalues stay {3, 2, 1}.
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let a = [[3.0 * c * c + s * s, 2.0 * c * s, 0.0], [2.0 * c * s, 3.0 * s * s + c * c, 0.0], [0.0, 0.0, 2.0]];
        let (mut values, _) = symmetric_eigen(a);
        values.sort_by(f64::total_cmp);
        for (got, want) in values.iter().zip([1.0, 2.0, 3.0]) {
            assert!((got - want).abs() < 1e-9, "{values:?}");
        }
    }

    #[test]
    fn trajectory_snapshot() {
        let layers: Vec<Vec<Vec3>> = (1..=4).map(|l| helix(20, l as f64 / 4.0)).collect();
        check_snapshot("trajectory", &trajectory(&layers).unwrap());
        assert!(trajectory(&[]).is_err());
        assert!(trajectory(&[helix(3, 1.0), helix(4, 1.0)]).is_err());
    }

    #[test]
    fn plddt_structure_snapshot() {
        let plddt: Vec<f32> = (0..20).map(|i| 40.0 + 3.0 * i as f32).collect();
        check_snapshot("plddt_structure", &plddt_structure(&helix(20, 1.0), &plddt).unwrap());
        assert!(plddt_structure(&helix(3, 1.0), &[50.0]).is_err());
    }

    #[test]
    fn distance_scatter_snapshot() {
        let native = helix(12, 1.0);
        let predicted: Vec<Vec3> = native.iter().map(|p| [p[0] * 1.1, p[1], p[2] * 0.9]).collect();
        check_snapshot("distance_scatter", &distance_scatter(&predicted, &native).unwrap());
        assert!(distance_scatter(&predicted[..1], &native[..1]).is_err());
    }
}
