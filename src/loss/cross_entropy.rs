//! Cross-entropies of the heads' losses, as DeepMind's `alphafold/model/modules.py`
//! `softmax_cross_entropy` / `sigmoid_cross_entropy` define them (per element, not reduced).
use super::precision::reduction_kind;
use tch::{Kind, Tensor};

/// `-log softmax(logits)[label]` for logits `[*, C]` and integer class labels `[*]` -> `[*]`
/// (AlphaFold's softmax cross-entropy against `one_hot(label)`), in float32 or float64
/// ([`reduction_kind`]).
pub fn softmax_cross_entropy(logits: &Tensor, labels: &Tensor) -> Tensor {
    let log_probabilities = logits.log_softmax(-1, reduction_kind(logits.kind())); // [*, C]
    -log_probabilities
        .gather(-1, &labels.to_kind(Kind::Int64).unsqueeze(-1), false)
        .squeeze_dim(-1) // [*]
}

/// Binary cross-entropy `-y log σ(x) - (1 - y) log σ(-x)` of logits `[*]` against labels `[*]`
/// in `[0, 1]`, elementwise.
pub fn sigmoid_cross_entropy(logits: &Tensor, labels: &Tensor) -> Tensor {
    let log_p = logits.log_sigmoid();
    let log_not_p = (-logits).log_sigmoid();
    -(labels * log_p) - (labels.ones_like() - labels) * log_not_p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_cross_entropy_of_uniform_logits_is_log_of_class_count() {
        // Uniform logits over 4 classes: -log(1/4) = ln 4 whatever the label.
        let logits = Tensor::zeros([2, 4], (Kind::Float, tch::Device::Cpu));
        let labels = Tensor::from_slice(&[0i64, 3]);
        let loss = softmax_cross_entropy(&logits, &labels);
        for value in Vec::<f32>::try_from(loss).unwrap() {
            assert!((value as f64 - 4f64.ln()).abs() < 1e-6);
        }
    }

    #[test]
    fn sigmoid_cross_entropy_matches_the_closed_form() {
        // x = 2, y = 1: -log σ(2) = log(1 + e^-2); y = 0: -log σ(-2) = log(1 + e^2).
        let logits = Tensor::from_slice(&[2.0f32, 2.0]);
        let labels = Tensor::from_slice(&[1.0f32, 0.0]);
        let loss = Vec::<f32>::try_from(sigmoid_cross_entropy(&logits, &labels)).unwrap();
        assert!((loss[0] as f64 - (1.0 + (-2f64).exp()).ln()).abs() < 1e-6);
        assert!((loss[1] as f64 - (1.0 + 2f64.exp()).ln()).abs() < 1e-6);
    }
}
