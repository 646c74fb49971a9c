//! Figures of the inside of the network (Jumper et al. (2021)): one attention head's weights
//! (Suppl. Algs. 7, 8, 13, 14), the pair and MSA representations after each Evoformer block
//! (Alg. 6) as channel norms or first principal components, and how much each recycling
//! iteration (Alg. 2) still changes. The values come from `model::capture` as plain slices.
use anyhow::{bail, ensure, Result};

use super::colour::VIRIDIS;
use super::figure::{render, Figure};
use super::heatmap::{ColourBar, Heatmap, HeatmapGrid};
use super::line::{LineChart, Series};

/// One matrix of a figure: its caption and row-major values.
pub struct Panel {
    pub caption: String,
    pub values: Vec<f32>,
}

/// How the panels' values are coloured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// From 0 to the largest value (weights, norms).
    FromZero,
    /// Symmetric about 0 (principal components, whose sign is a convention).
    Symmetric,
}

/// `panels` of `[rows, cols]` values on one colour scale: a single heatmap, or small multiples.
pub fn matrices(
    title: &str,
    panels: &[Panel],
    (rows, cols): (usize, usize),
    axes: (&str, &str),
    scale: Scale,
    colour_label: &str,
) -> Result<Figure> {
    ensure!(!panels.is_empty(), "{title}: nothing recorded to plot");
    let largest = panels.iter().flat_map(|p| p.values.iter()).filter(|v| v.is_finite()).fold(0.0f64, |m, &v| m.max(v.abs() as f64));
    let largest = if largest > 0.0 { largest } else { 1.0 };
    let range = match scale {
        Scale::FromZero => (0.0, largest),
        Scale::Symmetric => (-largest, largest),
    };
    let heatmap = |caption: String, values: &[f32]| {
        Heatmap::from_values(
            caption,
            axes,
            (rows, cols),
            values,
            ColourBar { colormap: VIRIDIS, range, label: colour_label.to_string() },
        )
    };
    if let [one] = panels {
        return render(&heatmap(format!("{title}: {}", one.caption), &one.values)?);
    }
    let panels = panels.iter().map(|p| heatmap(p.caption.clone(), &p.values)).collect::<Result<Vec<_>>>()?;
    render(&HeatmapGrid::new(title.to_string(), panels)?)
}

/// One head's attention weights `[queries, keys]` (row-major, each row summing to 1).
pub fn attention_map(title: &str, weights: &[f32], shape: (usize, usize), axes: (&str, &str)) -> Result<Figure> {
    if let Some(v) = weights.iter().find(|v| !(0.0..=1.0 + 1e-5).contains(*v)) {
        bail!("{title}: attention weight {v} is not a probability");
    }
    let heatmap = Heatmap::from_values(
        title.to_string(),
        axes,
        shape,
        weights,
        ColourBar {
            colormap: VIRIDIS,
            range: (0.0, weights.iter().copied().fold(0.0f32, f32::max).max(1e-6) as f64),
            label: "Attention weight".to_string(),
        },
    )?;
    render(&heatmap)
}

/// Change between consecutive recycling iterations: `(iteration, pair RMS change, single RMS
/// change, Cα RMSD in Å)` from iteration 1 on.
pub fn recycle_changes(changes: &[(usize, f64, f64, f64)]) -> Result<Figure> {
    ensure!(!changes.is_empty(), "recycling plot: needs at least two iterations (run with recycles of 1 or more)");
    let series = |name: &str, pick: fn(&(usize, f64, f64, f64)) -> f64| {
        Series::new(name, changes.iter().map(|c| (c.0 as f64, pick(c))).collect())
    };
    let chart = LineChart::new(
        "Change from the previous recycling iteration",
        ("Recycling iteration", "RMS change (representations) / Cα RMSD (Å)"),
        vec![
            series("pair representation RMS change", |c| c.1),
            series("single representation RMS change", |c| c.2),
            series("Cα RMSD (Å)", |c| c.3),
        ],
    )?;
    render(&chart)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::figure::tests::check_snapshot;

    /// A synthetic attention pattern: each query attends mostly to itself and its neighbours.
    fn banded_attention(n: usize) -> Vec<f32> {
        let mut weights = Vec::new();
        for q in 0..n {
            let raw: Vec<f32> = (0..n).map(|k| (-((q as f32 - k as f32).abs())).exp()).collect();
            let total: f32 = raw.iter().sum();
            weights.extend(raw.iter().map(|w| w / total));
        }
        weights
    }

    #[test]
    fn attention_snapshot() {
        let figure = attention_map(
            "Triangle attention (starting node), block 0, head 0, row 3",
            &banded_attention(16),
            (16, 16),
            ("Key residue k", "Query residue j"),
        )
        .unwrap();
        check_snapshot("attention", &figure);
        assert!(attention_map("t", &[2.0], (1, 1), ("x", "y")).is_err());
    }

    #[test]
    fn pair_blocks_snapshot_as_small_multiples() {
        let n = 12;
        let panels: Vec<Panel> = (0..3)
            .map(|b| Panel {
                caption: format!("block {b}"),
                values: (0..n * n).map(|k| ((k / n) as f32 - (k % n) as f32).abs() * (b + 1) as f32).collect(),
            })
            .collect();
        let figure = matrices("Pair representation ‖z_ij‖", &panels, (n, n), ("Residue j", "Residue i"), Scale::FromZero, "Channel norm").unwrap();
        check_snapshot("pair_blocks", &figure);
        assert_eq!(figure.size, (3 * 330 + 130, 310 + 40));
    }

    #[test]
    fn one_block_principal_component_snapshot() {
        let n = 10;
        let panels = [Panel { caption: "block 1".into(), values: (0..n * n).map(|k| ((k % n) as f32 - 4.5) * 0.3).collect() }];
        let figure = matrices("Pair representation, first principal component", &panels, (n, n), ("Residue j", "Residue i"), Scale::Symmetric, "PC1 score").unwrap();
        check_snapshot("pair_pc", &figure);
        assert!(matrices("t", &[], (n, n), ("x", "y"), Scale::FromZero, "v").is_err());
    }

    #[test]
    fn recycle_changes_snapshot() {
        let changes = [(1, 2.0, 1.5, 6.0), (2, 0.8, 0.5, 2.0), (3, 0.2, 0.1, 0.4)];
        check_snapshot("recycle_changes", &recycle_changes(&changes).unwrap());
        assert!(recycle_changes(&[]).is_err());
    }
}
