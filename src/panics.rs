//! libtorch errors (CUDA out of memory, shape mismatches deep in a kernel) reach Rust as panics
//! from tch's infallible calls. Front ends catch them here and report them as errors, so a
//! session keeps its state and a command-line run exits with a message rather than a crash.
use anyhow::{anyhow, Result};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; a panic inside becomes an error carrying the panic's message, `f`'s own errors
/// pass through untouched.
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| Err(anyhow!("internal error: {}", panic_message(&*panic))))
}

/// What a caught panic says: its message's first line (libtorch appends its C++ stack).
pub fn panic_message(panic: &(dyn Any + Send)) -> &str {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    message.lines().next().unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_libtorch_error_becomes_an_error() {
        let err = catch_panic(|| -> Result<()> {
            let _ = tch::Tensor::zeros([2], (tch::Kind::Float, tch::Device::Cpu)).matmul(&tch::Tensor::zeros([3], (tch::Kind::Float, tch::Device::Cpu)));
            Ok(())
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("internal error: "), "{err}");
        assert_eq!(catch_panic(|| Ok(5)).unwrap(), 5);
        let own = catch_panic(|| -> Result<()> { Err(anyhow!("inner").context("outer")) }).unwrap_err();
        assert_eq!(format!("{own:#}"), "outer: inner");
    }
}
