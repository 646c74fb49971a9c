//! Template coverage: which query residues each template covers, coloured by the template's
//! sequence identity to the query over the residues it covers, in the style of the MSA coverage
//! plot (ColabFold's `plot_msa_v2`, `colabfold/plot.py`). Templates are the batch's
//! `template_aatype` and `template_all_atom_masks` rows (AlphaFold's template features), aligned
//! to the query position by position.
use anyhow::{ensure, Result};

use super::colour::Colormap;
use super::figure::{render, Figure};
use super::heatmap::{ColourBar, Heatmap};

/// One template aligned to the query: its residue type per query position and whether it has
/// coordinates (Cα) there.
pub struct TemplateRow {
    pub aatype: Vec<i64>,
    pub covered: Vec<bool>,
}

/// Identity of a template to the query over its covered positions (0 when it covers none).
fn identity(query: &[i64], template: &TemplateRow) -> f32 {
    let covered: Vec<usize> = (0..query.len()).filter(|&i| template.covered[i]).collect();
    if covered.is_empty() {
        return 0.0;
    }
    covered.iter().filter(|&&i| template.aatype[i] == query[i]).count() as f32 / covered.len() as f32
}

/// Rows in template order (template 1 at the top), blank where a template has no coordinates.
pub fn template_coverage(query: &[i64], templates: &[TemplateRow]) -> Result<Figure> {
    ensure!(!query.is_empty(), "template plot: the query has no residues");
    ensure!(!templates.is_empty(), "template plot: the batch has no templates");
    for (t, row) in templates.iter().enumerate() {
        ensure!(
            row.aatype.len() == query.len() && row.covered.len() == query.len(),
            "template plot: template {} has {} positions, the query {}",
            t + 1,
            row.aatype.len(),
            query.len()
        );
    }
    let values: Vec<f32> = templates
        .iter()
        .flat_map(|row| {
            let id = identity(query, row);
            row.covered.iter().map(move |&c| if c { id } else { f32::NAN })
        })
        .collect();
    let heatmap = Heatmap::from_values(
        format!("Template coverage ({} templates)", templates.len()),
        ("Position", "Template"),
        (templates.len(), query.len()),
        &values,
        ColourBar {
            colormap: Colormap::RainbowReversed,
            range: (0.0, 1.0),
            label: "Template identity to query".to_string(),
        },
    )?;
    render(&heatmap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::figure::tests::check_snapshot;

    #[test]
    fn template_coverage_snapshot() {
        let query: Vec<i64> = (0..30).map(|i| i % 20).collect();
        let full = TemplateRow { aatype: query.clone(), covered: vec![true; 30] };
        let partial = TemplateRow {
            aatype: query.iter().map(|&a| if a % 2 == 0 { a } else { 0 }).collect(),
            covered: (0..30).map(|i| (5..25).contains(&i)).collect(),
        };
        assert_eq!(identity(&query, &full), 1.0);
        // Positions 5..25 are covered (20 residues); the template keeps the even residue types
        // (10 of them) and puts type 0 at the odd ones, which never equal the query's.
        assert_eq!(identity(&query, &partial), 0.5);
        check_snapshot("template_coverage", &template_coverage(&query, &[full, partial]).unwrap());
        assert!(template_coverage(&query, &[]).is_err());
        assert!(template_coverage(&query, &[TemplateRow { aatype: vec![0], covered: vec![true] }]).is_err());
    }
}
