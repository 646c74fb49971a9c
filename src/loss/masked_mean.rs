//! Masked mean over all elements, DeepMind's `alphafold/model/utils.py` `mask_mean` with
//! `axis=None`: a mask dimension of size 1 stands for the whole value dimension it broadcasts
//! over, so it counts that many times in the denominator.
use tch::{Kind, Tensor};

/// `Σ mask·value / (Σ mask · broadcast_factor + 1e-10)` for `mask` of the same rank as `value`,
/// each mask dimension either equal to the value's or 1. Returns a scalar.
pub fn mask_mean(mask: &Tensor, value: &Tensor) -> Tensor {
    let broadcast_factor: i64 = mask
        .size()
        .iter()
        .zip(value.size())
        .filter(|(mask_size, _)| **mask_size == 1)
        .map(|(_, value_size)| value_size)
        .product();
    (mask * value).sum(Kind::Float) / (mask.sum(Kind::Float) * broadcast_factor as f64 + 1e-10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_mask_dimension_counts_every_value() {
        // Values [2, 3]: rows 1,2,3 and 4,5,6; mask [1, 3] selects columns 0 and 2 of both rows:
        // (1 + 3 + 4 + 6) / (2 · 2) = 3.5.
        let value = Tensor::from_slice(&[1.0f32, 2., 3., 4., 5., 6.]).reshape([2, 3]);
        let mask = Tensor::from_slice(&[1.0f32, 0., 1.]).reshape([1, 3]);
        let mean = mask_mean(&mask, &value).double_value(&[]);
        assert!((mean - 3.5).abs() < 1e-6);
    }
}
