//! MSA plots: ColabFold's coverage plot and the alignment depth per position.
//!
//! Coverage follows ColabFold's `plot_msa_v2` (`colabfold/plot.py`): each sequence's identity to
//! the query is the fraction of query columns it matches; rows are sorted by identity (most
//! identical at the top), aligned residues are coloured by that identity on `rainbow_r`, gaps are
//! blank, and a black line counts the non-gap sequences per position.
use anyhow::{ensure, Result};

use super::colour::Colormap;
use super::figure::{render, Figure};
use super::heatmap::{ColourBar, Heatmap};
use super::line::{LineChart, Series};
use crate::data::msa::Msa;

/// The aligned sequences as byte rows, checking every row is as long as the query.
fn aligned_rows(msa: &Msa) -> Result<Vec<&[u8]>> {
    let query = msa.sequences.first().map(String::len).unwrap_or(0);
    ensure!(query > 0, "MSA plot: the MSA has no query sequence");
    let rows: Vec<&[u8]> = msa.sequences.iter().map(|s| s.as_bytes()).collect();
    for (i, row) in rows.iter().enumerate() {
        ensure!(
            row.len() == query,
            "MSA plot: sequence {} ('{}') has {} aligned columns, the query has {query}",
            i + 1,
            msa.descriptions.get(i).map(String::as_str).unwrap_or(""),
            row.len()
        );
    }
    Ok(rows)
}

fn is_gap(residue: u8) -> bool {
    residue == b'-'
}

/// Non-gap sequences per alignment column (`[N_columns]`).
pub fn msa_depth_per_position(msa: &Msa) -> Result<Vec<usize>> {
    let rows = aligned_rows(msa)?;
    Ok((0..rows[0].len())
        .map(|col| rows.iter().filter(|row| !is_gap(row[col])).count())
        .collect())
}

/// ColabFold-style coverage: sequences sorted by identity to the query, coloured by identity.
pub fn msa_coverage(msa: &Msa) -> Result<Figure> {
    let rows = aligned_rows(msa)?;
    let query = rows[0];
    let identity: Vec<f32> = rows
        .iter()
        .map(|row| {
            let same = row.iter().zip(query).filter(|(a, b)| a == b).count();
            same as f32 / query.len() as f32
        })
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    // Stable sort, most identical first, so the query tops the plot and ties keep file order.
    order.sort_by(|&a, &b| identity[b].total_cmp(&identity[a]));
    let values: Vec<f32> = order
        .iter()
        .flat_map(|&i| {
            let row_identity = identity[i];
            rows[i]
                .iter()
                .map(move |&r| if is_gap(r) { f32::NAN } else { row_identity })
        })
        .collect();
    let mut heatmap = Heatmap::from_values(
        format!("Sequence coverage ({} sequences)", rows.len()),
        ("Position", "Sequences"),
        (rows.len(), query.len()),
        &values,
        ColourBar {
            colormap: Colormap::RainbowReversed,
            range: (0.0, 1.0),
            label: "Sequence identity to query".to_string(),
        },
    )?;
    // Row 0 (most identical) drawn at the top of a bottom-up axis so the depth line reads as a
    // count of sequences, as in ColabFold.
    heatmap.rows_top_down = false;
    heatmap.cells = order_rows_bottom_up(heatmap.cells, query.len());
    heatmap.overlay = Some(
        msa_depth_per_position(msa)?
            .into_iter()
            .map(|d| d as f64)
            .collect(),
    );
    render(&heatmap)
}

/// Reverses the row order of row-major cells `[rows, cols]`.
fn order_rows_bottom_up<T>(cells: Vec<T>, cols: usize) -> Vec<T> {
    let mut rows: Vec<Vec<T>> = Vec::new();
    let mut cells = cells.into_iter();
    loop {
        let row: Vec<T> = cells.by_ref().take(cols).collect();
        if row.is_empty() {
            break;
        }
        rows.push(row);
    }
    rows.into_iter().rev().flatten().collect()
}

/// Non-gap sequences per position as a line chart.
pub fn msa_depth(msa: &Msa) -> Result<Figure> {
    let depth = msa_depth_per_position(msa)?;
    let points = depth
        .iter()
        .enumerate()
        .map(|(i, &d)| ((i + 1) as f64, d as f64))
        .collect();
    render(&LineChart::new(
        "MSA depth per position",
        ("Position", "Sequences (non-gap)"),
        vec![Series::new("depth", points)],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::msa::parse_a3m;
    use crate::plot::figure::tests::{check_png, check_snapshot};

    const A3M: &str =
        ">query\nMKVLAAGIVG\n>close\nMKVLAAGLVG\n>partial\n----AAGIV-\n>far\nMRILSSG---\n";

    #[test]
    fn depth_counts_non_gap_rows() {
        let msa = parse_a3m(A3M, "test.a3m").unwrap();
        // Column 1: "partial" starts with a gap; columns 5–7 are aligned in all four rows;
        // column 10: query and close only.
        let depth = msa_depth_per_position(&msa).unwrap();
        assert_eq!(depth, vec![3, 3, 3, 3, 4, 4, 4, 3, 3, 2]);
    }

    #[test]
    fn coverage_and_depth_snapshots() {
        let msa = parse_a3m(A3M, "test.a3m").unwrap();
        check_snapshot("msa_coverage", &msa_coverage(&msa).unwrap());
        check_snapshot("msa_depth", &msa_depth(&msa).unwrap());
    }

    #[test]
    fn empty_msa_is_an_error() {
        assert!(msa_coverage(&Msa::default()).is_err());
        assert!(msa_depth(&Msa::default()).is_err());
    }

    #[test]
    fn plots_a_colabfold_a3m() {
        let Some(path) = crate::testing::shared_data("colabfold/6A5J.a3m") else {
            return;
        };
        let msa = crate::data::msa::read_a3m(&path).unwrap();
        check_png(&msa_coverage(&msa).unwrap());
    }
}
