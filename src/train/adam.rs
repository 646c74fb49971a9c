//! Adam (Kingma & Ba 2015, Alg. 1) on flat parameter and gradient buffers, as AlphaFold trains
//! (Jumper et al. (2021) Suppl. 1.11.3: β₁ 0.9, β₂ 0.999, ε 1e-6, no weight decay), with the
//! bias corrections folded into the step size the way PyTorch's `torch.optim.Adam` does:
//!
//! `m ← β₁m + (1-β₁)g`, `v ← β₂v + (1-β₂)g²`, `θ ← θ - lr/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + ε)`.
//!
//! Every update is a few element-wise kernels over the whole `[P]` buffer, whatever the number
//! of parameter tensors (see [`super::flat_parameters`]).
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// Adam's hyper-parameters (AlphaFold's by default).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self { beta1: 0.9, beta2: 0.999, eps: 1e-6 }
    }
}

/// The optimiser's state: first and second moments `[P]` (fp32) and the update count.
#[derive(Debug)]
pub struct Adam {
    pub config: AdamConfig,
    pub exp_avg: Tensor,
    pub exp_avg_sq: Tensor,
    /// Updates applied so far (`t` of the bias corrections).
    pub steps: u64,
}

impl Adam {
    /// Zero moments for `numel` parameters.
    pub fn new(config: AdamConfig, numel: i64, device: Device) -> Self {
        Self {
            config,
            exp_avg: Tensor::zeros([numel], (Kind::Float, device)),
            exp_avg_sq: Tensor::zeros([numel], (Kind::Float, device)),
            steps: 0,
        }
    }

    /// One update of `params` `[P]` in place with `grad` `[P]` at learning rate `lr`.
    pub fn update(&mut self, params: &Tensor, grad: &Tensor, lr: f64) {
        let AdamConfig { beta1, beta2, eps } = self.config;
        self.steps += 1;
        let t = self.steps.min(i32::MAX as u64) as i32;
        let bias1 = 1.0 - beta1.powi(t);
        let bias2 = 1.0 - beta2.powi(t);
        tch::no_grad(|| {
            let _ = self.exp_avg.lerp_(grad, 1.0 - beta1);
            let _ = self.exp_avg_sq.lerp_(&grad.square(), 1.0 - beta2);
            let denominator = self.exp_avg_sq.sqrt() / bias2.sqrt() + eps;
            let mut params = params.shallow_clone();
            let _ = params.addcdiv_(&(&self.exp_avg * (-lr / bias1)), &denominator);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adam written out per tensor and element-wise in f64, from Kingma & Ba (2015) Alg. 1 with
    /// PyTorch's placement of ε: the reference the flat implementation must match.
    struct PlainAdam {
        m: Vec<Vec<f64>>,
        v: Vec<Vec<f64>>,
        t: i32,
    }

    impl PlainAdam {
        fn step(&mut self, params: &mut [Vec<f64>], grads: &[Vec<f64>], lr: f64, c: &AdamConfig) {
            self.t += 1;
            for (k, (p, g)) in params.iter_mut().zip(grads).enumerate() {
                for i in 0..p.len() {
                    self.m[k][i] = c.beta1 * self.m[k][i] + (1.0 - c.beta1) * g[i];
                    self.v[k][i] = c.beta2 * self.v[k][i] + (1.0 - c.beta2) * g[i] * g[i];
                    let m_hat = self.m[k][i] / (1.0 - c.beta1.powi(self.t));
                    let v_hat = self.v[k][i] / (1.0 - c.beta2.powi(self.t));
                    p[i] -= lr * m_hat / (v_hat.sqrt() + c.eps);
                }
            }
        }
    }

    #[test]
    fn flat_adam_matches_per_tensor_adam() {
        // Three "tensors" of different sizes, random gradients for five steps with a changing
        // learning rate; fp32 flat buffers against the f64 reference.
        tch::manual_seed(7);
        let sizes = [5usize, 1, 12];
        let config = AdamConfig::default();
        let total: usize = sizes.iter().sum();
        let flat = Tensor::randn([total as i64], (Kind::Float, Device::Cpu));
        let split = |t: &Tensor| -> Vec<Vec<f64>> {
            let all = Vec::<f64>::try_from(t.to_kind(Kind::Double)).unwrap();
            let mut start = 0;
            sizes
                .iter()
                .map(|&n| {
                    start += n;
                    all[start - n..start].to_vec()
                })
                .collect()
        };
        let mut reference_params = split(&flat);
        let mut reference = PlainAdam {
            m: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            v: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            t: 0,
        };
        let mut adam = Adam::new(config, total as i64, Device::Cpu);
        for step in 0..5 {
            let grad = Tensor::randn([total as i64], (Kind::Float, Device::Cpu)) * (0.1 + step as f64);
            let lr = 1e-3 * (step + 1) as f64;
            adam.update(&flat, &grad, lr);
            reference.step(&mut reference_params, &split(&grad), lr, &config);
        }
        let ours = split(&flat);
        for (a, b) in ours.iter().flatten().zip(reference_params.iter().flatten()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert_eq!(adam.steps, 5);
    }
}
