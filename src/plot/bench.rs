//! Plot timing for `helixfold bench plot`: how long the heatmaps take at a given size (the
//! target is under 2 s for 1,000 residues), on synthetic but realistically shaped inputs.
use std::time::Instant;

use anyhow::Result;

use super::{confidence, distogram};

/// Seconds to render (SVG + PNG) each heavy plot for `n_res` residues, plus the distogram
/// reductions they depend on.
pub fn bench_plots(n_res: usize) -> Result<Vec<(String, f64)>> {
    anyhow::ensure!(n_res > 0, "bench plot: need at least one residue");
    let edges: Vec<f32> = (0..63).map(|i| 2.3125 + i as f32 * 0.3125).collect();
    // A smooth chain-like distogram: the logit peaks at the bin of |i − j| × 3.8 Å.
    let mut logits = Vec::with_capacity(n_res * n_res * 64);
    for i in 0..n_res {
        for j in 0..n_res {
            let d = (i as f32 - j as f32).abs() * 3.8;
            logits.extend(
                edges
                    .iter()
                    .chain(std::iter::once(&22.0))
                    .map(|e| -(e - d).abs()),
            );
        }
    }
    let pae: Vec<Vec<f32>> = (0..n_res)
        .map(|i| {
            (0..n_res)
                .map(|j| (i as f32 - j as f32).abs().min(30.0))
                .collect()
        })
        .collect();
    let plddt: Vec<f32> = (0..n_res)
        .map(|i| 50.0 + 45.0 * ((i as f32) / 20.0).sin().abs())
        .collect();

    let mut timings = Vec::new();
    let mut time = |name: &str, f: &mut dyn FnMut() -> Result<()>| -> Result<()> {
        let start = Instant::now();
        f()?;
        timings.push((name.to_string(), start.elapsed().as_secs_f64()));
        Ok(())
    };
    time("plddt", &mut || confidence::plddt(&plddt).map(drop))?;
    time("pae", &mut || confidence::pae(&pae, 30.0).map(drop))?;
    let mut distances = Vec::new();
    time("expected_distances", &mut || {
        distances = distogram::expected_distances(&logits, &edges)?;
        Ok(())
    })?;
    time("distance_map", &mut || {
        distogram::distance_map(&distances).map(drop)
    })?;
    let mut contacts = Vec::new();
    time("contact_probabilities", &mut || {
        contacts = distogram::contact_probabilities(&logits, &edges)?;
        Ok(())
    })?;
    time("contact_map", &mut || {
        distogram::contact_map(&contacts, None).map(drop)
    })?;
    Ok(timings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_reports_every_plot() {
        // 200 residues keeps the unit test quick; `helixfold bench plot` runs the 1,000-residue case.
        let timings = bench_plots(200).unwrap();
        for (name, seconds) in &timings {
            eprintln!("bench plot n_res=200 {name}: {seconds:.3} s");
            assert!(seconds.is_finite() && *seconds >= 0.0);
        }
        let names: Vec<&str> = timings.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "plddt",
                "pae",
                "expected_distances",
                "distance_map",
                "contact_probabilities",
                "contact_map"
            ]
        );
        assert!(bench_plots(0).is_err());
    }
}
