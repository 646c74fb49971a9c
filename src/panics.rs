//! libtorch errors (out of memory, shape mismatches deep in a kernel) reach Rust as panics from
//! tch's infallible calls. Front ends catch them here and report them as errors, so a session
//! keeps its state and a command-line run exits with a message rather than a crash.
//!
//! A caught panic is reported once, as an error: while [`catch_panic`] or
//! [`catch_unwind_quietly`] runs, the panic hook stays silent (it would otherwise print the
//! message and libtorch's C++ stack before the error does). Panics anywhere else still reach the
//! previous hook.
use anyhow::{anyhow, Result};
use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// How many catching frames are active on this thread.
    static CATCHING: Cell<usize> = const { Cell::new(0) };
}

fn install_quiet_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, catching a panic without the panic hook's report.
pub fn catch_unwind_quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    install_quiet_hook();
    CATCHING.with(|c| c.set(c.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    result
}

/// Runs `f`; a panic inside becomes an error describing it ([`describe_panic`]), `f`'s own
/// errors pass through untouched.
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind_quietly(f).unwrap_or_else(|panic| Err(anyhow!("{}", describe_panic(&*panic))))
}

/// What a caught panic says, for a user: libtorch's own message without the C++ stack it
/// appends or the `Result::unwrap()` wrapping tch adds; running out of host or device memory
/// is named as such, with what to change.
pub fn describe_panic(panic: &(dyn Any + Send)) -> String {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    let message = libtorch_message(message);
    if is_out_of_memory(&message) {
        format!(
            "out of memory: {message}; use a smaller crop (`data crop_size=`), chunking (`runtime chunk_size=`) \
             or bf16 (`precision bf16`)"
        )
    } else {
        format!("internal error: {message}")
    }
}

/// The first line of libtorch's message inside tch's `called Result::unwrap() on an Err value:
/// Torch("...")` (the escaped `\n` ends it), without the `[enforce fail at FILE:LINE] COND.`
/// prefix; any other message's first line as it is.
fn libtorch_message(message: &str) -> String {
    let Some((_, inner)) = message.split_once("Torch(\"") else {
        return message.lines().next().unwrap_or(message).to_string();
    };
    let first_line = inner.split("\\n").next().unwrap_or(inner).trim_end_matches("\")");
    let without_location = match first_line.strip_prefix("[enforce fail at ") {
        Some(rest) => rest.split_once("] ").map_or(rest, |(_, after)| after),
        None => first_line,
    };
    let without_condition = without_location.strip_prefix("err == 0. ").unwrap_or(without_location);
    without_condition.replace("\\\"", "\"")
}

fn is_out_of_memory(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("out of memory") || lower.contains("can't allocate memory")
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
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("internal error: "), "{err}");
        assert!(!err.contains("frame #") && !err.contains("unwrap()"), "{err}");
        assert_eq!(catch_panic(|| Ok(5)).unwrap(), 5);
        let own = catch_panic(|| -> Result<()> { Err(anyhow!("inner").context("outer")) }).unwrap_err();
        assert_eq!(format!("{own:#}"), "outer: inner");
    }

    /// The message tch panics with when libtorch's CPU allocator is refused memory (seen with
    /// `ulimit -v 6000000` and a 3,000-residue `infer`), shortened to its first frames.
    #[test]
    fn running_out_of_memory_is_named_with_what_to_change() {
        let panic: Box<dyn Any + Send> = Box::new(String::from(
            "called `Result::unwrap()` on an `Err` value: Torch(\"[enforce fail at alloc_cpu.cpp:127] err == 0. \
             DefaultCPUAllocator: can't allocate memory: you tried to allocate 4680000000 bytes. Error code 12 \
             (Cannot allocate memory)\\nframe #0: c10::ThrowEnforceNotMet(char const*, int, char const*)\\n\")",
        ));
        assert_eq!(
            describe_panic(&*panic),
            "out of memory: DefaultCPUAllocator: can't allocate memory: you tried to allocate 4680000000 bytes. \
             Error code 12 (Cannot allocate memory); use a smaller crop (`data crop_size=`), chunking \
             (`runtime chunk_size=`) or bf16 (`precision bf16`)"
        );
        let cuda: Box<dyn Any + Send> = Box::new("CUDA out of memory. Tried to allocate 2.00 GiB");
        assert!(describe_panic(&*cuda).starts_with("out of memory: CUDA out of memory."));
    }
}
