//! The floating-point kind the softmax cross-entropy (and with it the distogram and masked-MSA
//! losses) computes in: float32 at least, so that half-precision logits do not lose the sums
//! over thousands of terms (AlphaFold computes its losses in float32), and float64 when the
//! logits are float64, so that the gradients can be checked against finite differences.
use tch::Kind;

/// `Double` for `Double` inputs, `Float` for every other kind.
pub fn reduction_kind(input: Kind) -> Kind {
    match input {
        Kind::Double => Kind::Double,
        _ => Kind::Float,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_is_raised_and_double_kept() {
        assert_eq!(reduction_kind(Kind::Half), Kind::Float);
        assert_eq!(reduction_kind(Kind::BFloat16), Kind::Float);
        assert_eq!(reduction_kind(Kind::Float), Kind::Float);
        assert_eq!(reduction_kind(Kind::Double), Kind::Double);
    }
}
