//! Device selection. The binary links only `libtorch_cpu`; CUDA support lives in
//! `libtorch_cuda.so`, which registers itself with libtorch when loaded. Loading it on demand
//! keeps CPU-only installs small (see `scripts/setup.sh`) while GPU machines still get CUDA.
use anyhow::{bail, Context, Result};
use std::ffi::CString;
use tch::Device;

/// Loads `libtorch_cuda.so` (found through the binary's rpath or `LD_LIBRARY_PATH`) once, so
/// that CUDA devices become visible to libtorch. Returns whether CUDA is usable afterwards.
pub fn ensure_cuda_backend() -> bool {
    static LOADED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LOADED.get_or_init(|| {
        // Load before asking: libtorch looks its CUDA hooks up once, on the first query, and
        // keeps the CPU-only stub forever if libtorch_cuda has not registered by then.
        let name = CString::new("libtorch_cuda.so").expect("static name has no NUL");
        // SAFETY: dlopen with a valid C string; the handle is intentionally never closed because
        // libtorch keeps references to the CUDA hooks it registers. A null handle (CPU-only
        // install, or libtorch_cuda already linked in) leaves the answer to libtorch.
        unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        tch::Cuda::is_available()
    })
}

/// Parses `cpu`, `cuda`, `cuda:N` (or `gpu`) into a device, loading the CUDA backend if needed.
pub fn parse_device(spec: &str) -> Result<Device> {
    let spec = spec.trim().to_ascii_lowercase();
    if spec == "cpu" {
        return Ok(Device::Cpu);
    }
    let index = match spec.as_str() {
        "cuda" | "gpu" => 0,
        other => match other.strip_prefix("cuda:") {
            Some(n) => n
                .parse::<usize>()
                .with_context(|| format!("device '{spec}': the index after 'cuda:' must be a number"))?,
            None => bail!("unknown device '{spec}': expected cpu, cuda or cuda:N"),
        },
    };
    if !ensure_cuda_backend() {
        bail!("device '{spec}' requested but CUDA is not available (no GPU, or libtorch_cuda.so and its NVIDIA libraries are not installed: use TORCH_VARIANT=cuda)");
    }
    let count = tch::Cuda::device_count() as usize;
    if index >= count {
        bail!("device '{spec}': only {count} CUDA device(s) present");
    }
    Ok(Device::Cuda(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_rejects_garbage() {
        assert_eq!(parse_device("CPU").unwrap(), Device::Cpu);
        let err = parse_device("tpu").unwrap_err().to_string();
        assert!(err.contains("unknown device 'tpu'"), "{err}");
        let err = parse_device("cuda:x").unwrap_err().to_string();
        assert!(err.contains("must be a number"), "{err}");
    }
}
