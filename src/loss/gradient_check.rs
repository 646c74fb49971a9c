//! Test support: compares autograd's gradient of a scalar loss with central finite differences
//! `(L(x + h e_i) - L(x - h e_i)) / 2h` at every element of a float64 input.
use tch::{Kind, Tensor};

/// Panics, naming the worst element, unless the gradient of `loss` at `input` (float64, any
/// shape) matches central differences with step `step` to `tolerance`, absolute or relative to
/// the larger of the two values, whichever is looser.
pub fn assert_gradient_matches_finite_differences(
    input: &Tensor,
    loss: impl Fn(&Tensor) -> Tensor,
    step: f64,
    tolerance: f64,
) {
    assert_eq!(
        input.kind(),
        Kind::Double,
        "finite differences need float64"
    );
    let point = input.detach().set_requires_grad(true);
    let value = loss(&point);
    let analytic = Tensor::run_backward(&[&value], &[&point], false, false).remove(0);
    let analytic = Vec::<f64>::try_from(analytic.flatten(0, -1)).expect("float64 gradient");
    let values = Vec::<f64>::try_from(input.detach().flatten(0, -1)).expect("float64 input");
    let at = |values: &[f64]| {
        let shifted = Tensor::from_slice(values).reshape(input.size());
        tch::no_grad(|| loss(&shifted)).double_value(&[])
    };
    let mut worst = (0.0f64, 0usize, 0.0f64, 0.0f64);
    for i in 0..values.len() {
        let mut shifted = values.clone();
        shifted[i] = values[i] + step;
        let above = at(&shifted);
        shifted[i] = values[i] - step;
        let below = at(&shifted);
        let numeric = (above - below) / (2.0 * step);
        let error = (analytic[i] - numeric).abs() / analytic[i].abs().max(numeric.abs()).max(1.0);
        if error > worst.0 {
            worst = (error, i, analytic[i], numeric);
        }
    }
    let (error, index, analytic, numeric) = worst;
    assert!(
        error <= tolerance,
        "element {index}: autograd {analytic}, finite differences {numeric} (error {error:e})"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "finite differences")]
    fn a_wrong_gradient_is_caught() {
        // Σ x·stop_gradient(x): autograd sees x, the true derivative of Σ x² is 2x.
        let input = Tensor::from_slice(&[0.5f64, -1.0, 2.0]);
        assert_gradient_matches_finite_differences(
            &input,
            |x| (x * x.detach()).sum(Kind::Double),
            1e-6,
            1e-6,
        );
    }

    #[test]
    fn a_right_gradient_passes() {
        let input = Tensor::from_slice(&[0.5f64, -1.0, 2.0]);
        assert_gradient_matches_finite_differences(
            &input,
            |x| (x * x).sum(Kind::Double),
            1e-6,
            1e-8,
        );
    }
}
