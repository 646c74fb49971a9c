//! Confidence plots: per-residue pLDDT and the predicted aligned error (PAE) matrix.
//!
//! pLDDT bands and colours are AlphaFold's (`alphafold/notebooks/notebook_utils.py` /
//! AlphaFold DB legend: very high > 90 `#0053D6`, confident 70–90 `#65CBF3`, low 50–70
//! `#FFDB13`, very low < 50 `#FF7D45`). The PAE matrix is indexed `[aligned, scored]` as in
//! AlphaFold's `predicted_aligned_error` output (row i: residue i's frame used for alignment),
//! shown top-down on a 0–`max` Å green-to-white scale as the AlphaFold DB viewer does.
use anyhow::{ensure, Result};
use plotters::style::RGBColor;

use super::colour::GREENS_REVERSED;
use super::figure::{render, Figure};
use super::heatmap::{flatten_square, ColourBar, Heatmap, HeatmapGrid};
use super::line::{Band, LineChart, Series};

/// AlphaFold's pLDDT confidence bands, from very high to very low.
const PLDDT_BANDS: [(f64, f64, RGBColor, &str); 4] = [
    (90.0, 100.0, RGBColor(0x00, 0x53, 0xD6), "Very high (> 90)"),
    (70.0, 90.0, RGBColor(0x65, 0xCB, 0xF3), "Confident (70–90)"),
    (50.0, 70.0, RGBColor(0xFF, 0xDB, 0x13), "Low (50–70)"),
    (0.0, 50.0, RGBColor(0xFF, 0x7D, 0x45), "Very low (< 50)"),
];

/// Per-residue pLDDT (`[N_res]`, 0–100) as a line over AlphaFold's coloured confidence bands.
pub fn plddt(plddt: &[f32]) -> Result<Figure> {
    let mut chart = plddt_chart("Predicted lDDT per residue", &[("pLDDT", plddt)])?;
    chart.line_colour = Some(RGBColor(0, 0, 0));
    render(&chart)
}

/// Two pLDDT profiles (e.g. two checkpoints or runs) over the same bands, one colour each.
pub fn plddt_comparison(a: (&str, &[f32]), b: (&str, &[f32])) -> Result<Figure> {
    ensure!(
        a.1.len() == b.1.len(),
        "pLDDT comparison: '{}' has {} residues, '{}' {}",
        a.0,
        a.1.len(),
        b.0,
        b.1.len()
    );
    render(&plddt_chart(&format!("Predicted lDDT: {} vs {}", a.0, b.0), &[a, b])?)
}

/// Named pLDDT series (each 0–100, one value per residue) on a 0–100 axis over AlphaFold's bands.
fn plddt_chart(title: &str, named: &[(&str, &[f32])]) -> Result<LineChart> {
    let mut series = Vec::new();
    for (name, plddt) in named {
        ensure!(!plddt.is_empty(), "pLDDT plot: no residues");
        if let Some((i, v)) = plddt.iter().enumerate().find(|(_, v)| !(0.0..=100.0).contains(*v)) {
            anyhow::bail!("pLDDT plot: residue {} has pLDDT {v}, outside 0–100", i + 1);
        }
        let points = plddt.iter().enumerate().map(|(i, &v)| ((i + 1) as f64, v as f64)).collect();
        series.push(Series::new(*name, points));
    }
    let mut chart = LineChart::new(title, ("Residue", "pLDDT"), series)?;
    chart.y_range = Some((0.0, 100.0));
    chart.bands = PLDDT_BANDS
        .iter()
        .map(|&(from, to, colour, label)| Band {
            from,
            to,
            colour,
            label,
        })
        .collect();
    Ok(chart)
}

/// The PAE matrix (`[N_res][N_res]` in Å, rows = aligned residue, columns = scored residue)
/// on a 0–`max_pae` Å scale (AlphaFold's `max_predicted_aligned_error` is 31.75 Å; ColabFold and
/// the AlphaFold DB show 0–30).
pub fn pae(pae: &[Vec<f32>], max_pae: f32) -> Result<Figure> {
    ensure!(
        max_pae > 0.0 && max_pae.is_finite(),
        "PAE plot: max PAE {max_pae} must be > 0"
    );
    render(&pae_heatmap("Predicted aligned error", pae, max_pae)?)
}

/// Two PAE matrices side by side on one 0–`max_pae` Å scale.
pub fn pae_comparison(a: (&str, &[Vec<f32>]), b: (&str, &[Vec<f32>]), max_pae: f32) -> Result<Figure> {
    ensure!(
        max_pae > 0.0 && max_pae.is_finite(),
        "PAE plot: max PAE {max_pae} must be > 0"
    );
    let panels = vec![pae_heatmap(a.0, a.1, max_pae)?, pae_heatmap(b.0, b.1, max_pae)?];
    render(&HeatmapGrid::new(format!("Predicted aligned error: {} vs {}", a.0, b.0), panels)?)
}

fn pae_heatmap(title: &str, pae: &[Vec<f32>], max_pae: f32) -> Result<Heatmap> {
    let values = flatten_square("PAE plot", pae)?;
    let n = pae.len();
    Heatmap::from_values(
        title.to_string(),
        ("Scored residue", "Aligned residue"),
        (n, n),
        &values,
        ColourBar {
            colormap: GREENS_REVERSED,
            range: (0.0, max_pae as f64),
            label: "Expected position error (Å)".to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::figure::tests::check_snapshot;

    /// A synthetic 40-residue profile: a confident core, a low loop and a disordered tail.
    fn synthetic_plddt() -> Vec<f32> {
        (0..40)
            .map(|i| match i {
                0..=24 => 92.0 - (i % 5) as f32,
                25..=31 => 62.0,
                _ => 35.0 + i as f32 * 0.5,
            })
            .collect()
    }

    /// Two 10-residue domains: low error within each, high between them.
    fn synthetic_pae() -> Vec<Vec<f32>> {
        (0..20)
            .map(|i| {
                (0..20)
                    .map(|j| {
                        if (i < 10) == (j < 10) {
                            2.0 + (i as f32 - j as f32).abs() * 0.3
                        } else {
                            25.0
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn plddt_snapshot() {
        check_snapshot("plddt", &plddt(&synthetic_plddt()).unwrap());
    }

    #[test]
    fn pae_snapshot() {
        check_snapshot("pae", &pae(&synthetic_pae(), 30.0).unwrap());
    }

    #[test]
    fn comparison_snapshots() {
        let a = synthetic_plddt();
        let b: Vec<f32> = a.iter().map(|v| (v + 8.0).min(100.0)).collect();
        check_snapshot("plddt_comparison", &plddt_comparison(("step 0", &a), ("step 100", &b)).unwrap());
        let pae_a = synthetic_pae();
        let pae_b: Vec<Vec<f32>> = pae_a.iter().map(|row| row.iter().map(|v| v * 0.5).collect()).collect();
        let figure = pae_comparison(("step 0", &pae_a), ("step 100", &pae_b), 30.0).unwrap();
        check_snapshot("pae_comparison", &figure);
        assert!(plddt_comparison(("a", &a), ("b", &a[1..])).is_err());
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(plddt(&[]).is_err());
        assert!(plddt(&[50.0, 101.0])
            .unwrap_err()
            .to_string()
            .contains("residue 2"));
        assert!(pae(&[], 30.0).is_err());
        assert!(pae(&[vec![1.0, 2.0], vec![3.0]], 30.0).is_err());
        assert!(pae(&[vec![1.0]], 0.0).is_err());
    }

    #[test]
    fn plots_a_colabfold_prediction() {
        let Some(path) = crate::testing::shared_data("colabfold/single_5AWL_1.pred.npz") else {
            return;
        };
        let arrays =
            crate::plot::fixtures::read_npz_f32(&path, &["plddt", "predicted_aligned_error"]);
        let n = arrays[0].1[0];
        let figure = plddt(&arrays[0].0).unwrap();
        crate::plot::figure::tests::check_png(&figure);
        let matrix: Vec<Vec<f32>> = arrays[1].0.chunks(n).map(<[f32]>::to_vec).collect();
        let figure = pae(&matrix, 30.0).unwrap();
        crate::plot::figure::tests::check_png(&figure);
    }
}
