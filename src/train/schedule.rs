//! The learning-rate schedule of AlphaFold's training, Jumper et al. (2021) Suppl. 1.11.3: the
//! rate rises linearly over a warm-up, then is multiplied by a factor at every decay interval
//! (AlphaFold: 1e-3, 1000 warm-up steps, ×0.95 every 50 000 steps; fine-tuning starts at 5e-4).
use serde::{Deserialize, Serialize};

/// Linear warm-up, then step decay.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LearningRateSchedule {
    /// Rate after the warm-up.
    pub base_lr: f64,
    /// Steps of the linear rise; 0 starts at `base_lr`.
    pub warmup_steps: u64,
    /// Multiplier applied once per `decay_every` steps.
    pub decay_factor: f64,
    /// Steps between decays (counted from step 0); 0 disables the decay.
    pub decay_every: u64,
}

impl Default for LearningRateSchedule {
    /// AlphaFold's initial-training schedule.
    fn default() -> Self {
        Self { base_lr: 1e-3, warmup_steps: 1000, decay_factor: 0.95, decay_every: 50_000 }
    }
}

impl LearningRateSchedule {
    /// The rate of optimiser step `step` (0-based): `base · min(1, (step + 1) / warmup) ·
    /// factor^⌊step / decay_every⌋`, so that the first step already moves the weights.
    pub fn lr(&self, step: u64) -> f64 {
        let warmup = if self.warmup_steps == 0 {
            1.0
        } else {
            ((step + 1) as f64 / self.warmup_steps as f64).min(1.0)
        };
        let decays = if self.decay_every == 0 { 0 } else { step / self.decay_every };
        self.base_lr * warmup * self.decay_factor.powi(decays.min(i32::MAX as u64) as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_linearly_then_decays_in_steps() {
        let schedule = LearningRateSchedule::default();
        assert!((schedule.lr(0) - 1e-6).abs() < 1e-15);
        assert!((schedule.lr(499) - 5e-4).abs() < 1e-15);
        assert_eq!(schedule.lr(999), 1e-3);
        assert_eq!(schedule.lr(49_999), 1e-3);
        assert!((schedule.lr(50_000) - 0.95e-3).abs() < 1e-15);
        assert!((schedule.lr(120_000) - 0.95f64.powi(2) * 1e-3).abs() < 1e-15);
        let flat = LearningRateSchedule { base_lr: 0.1, warmup_steps: 0, decay_factor: 0.5, decay_every: 0 };
        assert_eq!(flat.lr(0), 0.1);
        assert_eq!(flat.lr(10_000_000), 0.1);
    }
}
