//! Masked MSA (BERT) loss, Jumper et al. (2021) Suppl. 1.9.9 (DeepMind's `modules.py`
//! `MaskedMsaHead.loss`): cross-entropy of the head's logits over the 23 MSA classes (20 amino
//! acids, unknown, gap, mask token) against the true MSA at the masked positions.
use super::cross_entropy::softmax_cross_entropy;
use tch::Tensor;

/// The masked MSA loss (`[*]`) of `logits` `[*, S, N, 23]` against `true_msa` `[*, S, N]`
/// (integer classes), averaged over positions where `bert_mask` `[*, S, N]` is 1.
pub fn masked_msa_loss(logits: &Tensor, true_msa: &Tensor, bert_mask: &Tensor) -> Tensor {
    let errors = softmax_cross_entropy(logits, true_msa); // [*, S, N]
    let mask = bert_mask.to_kind(errors.kind());
    let dims = [-2i64, -1];
    (errors * &mask).sum_dim_intlist(dims.as_slice(), false, None)
        / (mask.sum_dim_intlist(dims.as_slice(), false, None) + 1e-8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::gradient_check::assert_gradient_matches_finite_differences;
    use tch::{Device, Kind};

    #[test]
    fn only_masked_positions_count() {
        // Uniform logits cost ln 23 per position; the unmasked position holds a confident wrong
        // prediction that must not count.
        let logits = Tensor::zeros([1, 2, 23], (Kind::Float, Device::Cpu));
        let _ = logits.get(0).get(1).get(5).fill_(50.0);
        let true_msa = Tensor::from_slice(&[3i64, 4]).reshape([1, 2]);
        let bert_mask = Tensor::from_slice(&[1.0f32, 0.0]).reshape([1, 2]);
        let loss = masked_msa_loss(&logits, &true_msa, &bert_mask).double_value(&[]);
        assert!((loss - 23f64.ln() / (1.0 + 1e-8)).abs() < 1e-5, "{loss}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Logits [S=2, N=3, 23] ~ N(0, 2²); a third of the positions masked.
        tch::manual_seed(7);
        let logits = Tensor::randn([2, 3, 23], (Kind::Double, Device::Cpu)) * 2.0;
        let true_msa = Tensor::randint(23, [2, 3], (Kind::Int64, Device::Cpu));
        let bert_mask = Tensor::from_slice(&[1.0f64, 0., 1., 1., 1., 0.]).reshape([2, 3]);
        assert_gradient_matches_finite_differences(
            &logits,
            |logits| masked_msa_loss(logits, &true_msa, &bert_mask),
            1e-5,
            1e-7,
        );
    }
}
