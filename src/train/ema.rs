//! Exponential moving average of the weights, used for evaluation and the released models
//! (Jumper et al. (2021) Suppl. 1.11.7: decay 0.999). The average is kept in fp32 on the flat
//! parameter buffer, and its decay is warmed up as TensorFlow's
//! `tf.train.ExponentialMovingAverage(num_updates=…)` does, `min(decay, (1 + n) / (10 + n))`,
//! so that the random initial weights are forgotten quickly.
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmaConfig {
    pub decay: f64,
    /// Use the warmed-up decay `min(decay, (1 + n) / (10 + n))`.
    pub warmup: bool,
}

impl Default for EmaConfig {
    fn default() -> Self {
        Self { decay: 0.999, warmup: true }
    }
}

/// The averaged weights `[P]` and the number of updates folded in.
#[derive(Debug)]
pub struct ExponentialMovingAverage {
    pub config: EmaConfig,
    pub values: Tensor,
    pub updates: u64,
}

impl ExponentialMovingAverage {
    /// Starts the average at `params` `[P]` (copied to fp32).
    pub fn new(config: EmaConfig, params: &Tensor) -> Self {
        let values = tch::no_grad(|| params.to_kind(Kind::Float).copy());
        Self { config, values, updates: 0 }
    }

    /// The decay of the next update.
    pub fn current_decay(&self) -> f64 {
        if self.config.warmup {
            let n = self.updates as f64;
            self.config.decay.min((1.0 + n) / (10.0 + n))
        } else {
            self.config.decay
        }
    }

    /// `average ← decay · average + (1 - decay) · params`.
    pub fn update(&mut self, params: &Tensor) {
        let decay = self.current_decay();
        tch::no_grad(|| {
            let _ = self.values.lerp_(&params.to_kind(Kind::Float), 1.0 - decay);
        });
        self.updates += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn warmed_up_average_follows_tensorflow() {
        // Decays (1+n)/(10+n): 0.1, 2/11, then a constant 0.5 with warm-up off.
        let start = Tensor::zeros([2], (Kind::Float, Device::Cpu));
        let mut ema = ExponentialMovingAverage::new(EmaConfig::default(), &start);
        let ones = Tensor::ones([2], (Kind::Float, Device::Cpu));
        ema.update(&ones);
        assert!((ema.values.double_value(&[0]) - 0.9).abs() < 1e-6);
        ema.update(&(&ones * 2.0));
        let expected = 2.0 / 11.0 * 0.9 + 9.0 / 11.0 * 2.0;
        assert!((ema.values.double_value(&[1]) - expected).abs() < 1e-6);
        let mut plain = ExponentialMovingAverage::new(EmaConfig { decay: 0.5, warmup: false }, &start);
        plain.update(&ones);
        assert!((plain.values.double_value(&[0]) - 0.5).abs() < 1e-6);
        assert_eq!(plain.updates, 1);
    }
}
