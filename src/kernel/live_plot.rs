//! The live loss plot of a training cell: the kernel collects the `loss` and loss-term metrics
//! that `train` reports with each step ([`Output::Progress`]'s `metrics`) and, every
//! [`REDRAW_EVERY`] steps and at the command's last step, redraws one figure in place: the
//! first drawing opens a display (`display_data` with its own `transient.display_id`), later
//! ones replace it with `update_display_data` (messaging protocol 5.3, "Update Display Data").
//! The figure is [`crate::plot::training::losses`]: the total and every term against the run's
//! step (Jumper et al. (2021) Suppl. 1.9 names the terms).
use crate::plot::training::losses;
use crate::session::Output;
use anyhow::Result;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Steps between two redraws (drawing costs a few milliseconds; a step of a real model, seconds).
pub const REDRAW_EVERY: u64 = 5;

/// One training command's curve.
#[derive(Debug, Default)]
pub struct LiveLossPlot {
    /// `(step, value)` per series: `loss` (the total) and each term.
    series: BTreeMap<String, Vec<(u64, f64)>>,
    /// Whether the display has been opened.
    shown: bool,
}

/// The message type and content of a display update.
pub type DisplayMessage = (&'static str, Value);

impl LiveLossPlot {
    /// Takes one progress report; returns the display message due after it, if any. Reports
    /// without a `loss` metric (every command but `train`) give nothing.
    pub fn record(&mut self, report: &Output) -> Result<Option<DisplayMessage>> {
        let Output::Progress { id, done, total, metrics, .. } = report else { return Ok(None) };
        let value = |name: &str| metrics.iter().find(|(key, _)| key == name).map(|(_, v)| *v);
        if value("loss").is_none() {
            return Ok(None);
        }
        let step = value("step").map_or(*done, |s| s as u64);
        for (name, v) in metrics.iter().filter(|(name, _)| name != "step") {
            self.series.entry(name.clone()).or_default().push((step, *v));
        }
        if done % REDRAW_EVERY != 0 && done < total {
            return Ok(None);
        }
        let named: Vec<(&str, &[(u64, f64)])> = self.series.iter().map(|(name, points)| (name.as_str(), points.as_slice())).collect();
        let figure = losses(&named, false)?;
        let msg_type = if std::mem::replace(&mut self.shown, true) { "update_display_data" } else { "display_data" };
        let data = json!({
            "text/plain": format!("[{}: step {step}]", figure.title),
            "image/svg+xml": figure.svg,
            "image/png": base64::engine::general_purpose::STANDARD.encode(&figure.png),
        });
        Ok(Some((msg_type, json!({"data": data, "metadata": {}, "transient": {"display_id": format!("{id}-loss")}}))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(done: u64, total: u64, loss: f64) -> Output {
        Output::Progress {
            id: "train-1".into(),
            label: "train".into(),
            done,
            total,
            message: String::new(),
            metrics: vec![("step".into(), (10 + done) as f64), ("loss".into(), loss), ("fape".into(), loss / 2.0)],
        }
    }

    #[test]
    fn redraws_every_few_steps_and_at_the_end_in_one_display() {
        let mut plot = LiveLossPlot::default();
        let mut sent = Vec::new();
        for done in 1..=12 {
            if let Some((msg_type, content)) = plot.record(&step(done, 12, 3.0 / done as f64)).unwrap() {
                sent.push((done, msg_type, content));
            }
        }
        let drawn: Vec<(u64, &str)> = sent.iter().map(|(done, kind, _)| (*done, *kind)).collect();
        assert_eq!(drawn, [(5, "display_data"), (10, "update_display_data"), (12, "update_display_data")]);
        let last = &sent[2].2;
        assert_eq!(last["transient"]["display_id"], "train-1-loss");
        assert!(last["data"]["image/svg+xml"].as_str().unwrap().starts_with("<svg"), "{last}");
        assert_eq!(last["data"]["text/plain"], "[Training loss: step 22]");
        assert_eq!(plot.series["fape"].len(), 12);
        assert_eq!(plot.series["loss"][0], (11, 3.0));
    }

    #[test]
    fn progress_without_a_loss_draws_nothing() {
        let mut plot = LiveLossPlot::default();
        let infer = Output::Progress { id: "infer-1".into(), label: "infer".into(), done: 5, total: 5, message: String::new(), metrics: Vec::new() };
        assert!(plot.record(&infer).unwrap().is_none());
    }
}
