//! Training curves: loss terms, learning rate, gradient norm, lDDT-Cα and TM-score, and step time
//! over steps.
//!
//! Every series is a `&[(step, value)]` slice as a training loop logs it; the plots are line
//! charts with a legend when there is more than one series.
use anyhow::Result;

use super::figure::{render, Figure};
use super::line::{LineChart, Series};

/// Named `(step, value)` series.
pub type NamedSeries<'a> = (&'a str, &'a [(u64, f64)]);

fn to_series(named: &[NamedSeries]) -> Vec<Series> {
    named
        .iter()
        .map(|(name, points)| {
            Series::new(
                *name,
                points.iter().map(|&(step, v)| (step as f64, v)).collect(),
            )
        })
        .collect()
}

fn steps_chart(title: &str, y_label: &str, named: &[NamedSeries], log_y: bool) -> Result<Figure> {
    let chart = LineChart::new(title, ("Step", y_label), to_series(named))?;
    render(&if log_y { chart.with_log_y()? } else { chart })
}

/// Loss terms over steps (e.g. `fape`, `distogram`, `masked_msa`, `total`), optionally on a
/// log₁₀ scale (then every value must be positive).
pub fn losses(terms: &[NamedSeries], log_y: bool) -> Result<Figure> {
    steps_chart("Training loss", "Loss", terms, log_y)
}

/// Learning rate over steps (log scale shows warm-up and decay alike).
pub fn learning_rate(points: &[(u64, f64)], log_y: bool) -> Result<Figure> {
    steps_chart(
        "Learning rate",
        "Learning rate",
        &[("learning rate", points)],
        log_y,
    )
}

/// Global gradient norm (before clipping) over steps.
pub fn grad_norm(points: &[(u64, f64)], log_y: bool) -> Result<Figure> {
    steps_chart("Gradient norm", "‖g‖₂", &[("grad norm", points)], log_y)
}

/// Structure scores over steps (lDDT-Cα, TM-score; 0–1), one series each.
pub fn structure_scores(series: &[NamedSeries]) -> Result<Figure> {
    steps_chart("lDDT-Cα and TM-score", "Score (0–1)", series, false)
}

/// Wall-clock seconds per step.
pub fn step_time(points: &[(u64, f64)]) -> Result<Figure> {
    steps_chart(
        "Step time",
        "Seconds per step",
        &[("step time", points)],
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::figure::tests::check_snapshot;

    /// Synthetic exponential decays toward different floors, one point every 10 steps.
    fn decay(start: f64, floor: f64) -> Vec<(u64, f64)> {
        (0..30)
            .map(|i| (i * 10, floor + (start - floor) * (-(i as f64) / 8.0).exp()))
            .collect()
    }

    #[test]
    fn loss_snapshot_linear_and_log() {
        let fape = decay(3.0, 0.8);
        let distogram = decay(4.0, 1.5);
        let terms = [
            ("fape", fape.as_slice()),
            ("distogram", distogram.as_slice()),
        ];
        check_snapshot("losses", &losses(&terms, false).unwrap());
        check_snapshot("losses_log", &losses(&terms, true).unwrap());
    }

    #[test]
    fn single_series_plots_render() {
        let lr: Vec<(u64, f64)> = (0..50)
            .map(|s| (s, 1e-3 * (s.min(10) as f64 + 1.0) / 11.0))
            .collect();
        check_snapshot("learning_rate", &learning_rate(&lr, true).unwrap());
        let times = decay(2.0, 1.0);
        check_snapshot("step_time", &step_time(&times).unwrap());
        check_snapshot("grad_norm", &grad_norm(&times, false).unwrap());
        let lddt: Vec<(u64, f64)> = decay(0.1, 0.8);
        let tm: Vec<(u64, f64)> = decay(0.05, 0.6);
        check_snapshot("structure_scores", &structure_scores(&[("lDDT-Cα", &lddt), ("TM-score", &tm)]).unwrap());
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(losses(&[], false).is_err());
        let err = learning_rate(&[(0, 0.0), (1, 1e-3)], true).unwrap_err();
        assert!(err.to_string().contains("positive"), "{err}");
        assert!(step_time(&[(0, f64::INFINITY)]).is_err());
    }
}
