//! Peak memory of a measured region, by device.
//!
//! CPU: the process's resident-set high-water mark (`VmHWM` in `/proc/self/status`), reset at
//! the start of the region by writing `5` to `/proc/self/clear_refs` (Linux ≥ 4.0), so the
//! figure is the peak while the region ran, including everything already resident (parameters,
//! the batch, libtorch itself).
//!
//! CUDA: libtorch's caching allocator keeps what it reserved until told otherwise, so the
//! device memory in use after the region (`cudaMemGetInfo`, from the CUDA runtime libtorch has
//! loaded) minus what was in use before it is the allocator's reserved high-water mark for the
//! region. Reserved memory bounds `torch.cuda.max_memory_allocated` from above; tch exposes no
//! allocator statistics, so this is the figure reported.
use anyhow::{bail, Context, Result};
use std::ffi::CString;
use tch::Device;

/// How a [`MemoryProbe`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryMeasure {
    PeakResidentSet,
    CudaReserved,
}

impl MemoryMeasure {
    pub fn describe(self) -> &'static str {
        match self {
            MemoryMeasure::PeakResidentSet => "peak RSS",
            MemoryMeasure::CudaReserved => "CUDA reserved",
        }
    }
}

/// Started before a region, read after it.
#[derive(Debug)]
pub struct MemoryProbe {
    device: Device,
    baseline_bytes: u64,
}

impl MemoryProbe {
    /// Resets the CPU high-water mark, or records the CUDA memory in use now.
    pub fn start(device: Device) -> Result<Self> {
        let baseline_bytes = match device {
            Device::Cuda(index) => {
                tch::Cuda::synchronize(index as i64);
                cuda_used_bytes()?
            }
            _ => {
                std::fs::write("/proc/self/clear_refs", "5")
                    .context("cannot reset the peak RSS through /proc/self/clear_refs")?;
                0
            }
        };
        Ok(MemoryProbe { device, baseline_bytes })
    }

    pub fn measure(&self) -> MemoryMeasure {
        match self.device {
            Device::Cuda(_) => MemoryMeasure::CudaReserved,
            _ => MemoryMeasure::PeakResidentSet,
        }
    }

    /// The peak since [`MemoryProbe::start`], in MiB.
    pub fn peak_mib(&self) -> Result<f64> {
        let bytes = match self.device {
            Device::Cuda(index) => {
                tch::Cuda::synchronize(index as i64);
                cuda_used_bytes()?.saturating_sub(self.baseline_bytes)
            }
            _ => peak_rss_bytes()?,
        };
        Ok(bytes as f64 / (1024.0 * 1024.0))
    }
}

fn peak_rss_bytes() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("cannot read /proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("/proc/self/status has no VmHWM line")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("unreadable VmHWM line '{line}'"))?;
    Ok(kib * 1024)
}

type MemGetInfo = unsafe extern "C" fn(*mut usize, *mut usize) -> i32;

/// Device memory in use on the current CUDA device (total − free).
fn cuda_used_bytes() -> Result<u64> {
    let symbol = CString::new("cudaMemGetInfo").expect("static name has no NUL");
    // SAFETY: dlsym on the global namespace with a valid C string; libtorch_cuda (loaded with
    // RTLD_GLOBAL by `device::ensure_cuda_backend`) brought the CUDA runtime in.
    let mut address = unsafe { libc::dlsym(libc::RTLD_DEFAULT, symbol.as_ptr()) };
    if address.is_null() {
        for library in ["libcudart.so.13", "libcudart.so.12", "libcudart.so"] {
            let name = CString::new(library).expect("static name has no NUL");
            // SAFETY: as above; the handle stays open for the process's life.
            let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
            if !handle.is_null() {
                // SAFETY: valid handle and C string.
                address = unsafe { libc::dlsym(handle, symbol.as_ptr()) };
                break;
            }
        }
    }
    if address.is_null() {
        bail!("the CUDA runtime's cudaMemGetInfo is not loaded, so CUDA memory cannot be measured");
    }
    // SAFETY: cudaMemGetInfo has this C signature in every CUDA runtime.
    let get_info: MemGetInfo = unsafe { std::mem::transmute(address) };
    let (mut free, mut total) = (0usize, 0usize);
    // SAFETY: both pointers are valid for writes.
    let status = unsafe { get_info(&mut free, &mut total) };
    if status != 0 {
        bail!("cudaMemGetInfo failed with CUDA error {status}");
    }
    Ok(total.saturating_sub(free) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn cpu_peak_sees_a_large_temporary_allocation() {
        let probe = MemoryProbe::start(Device::Cpu).unwrap();
        let before = probe.peak_mib().unwrap();
        // 256 MiB, touched so it becomes resident, then freed: only the high-water mark keeps it.
        drop(Tensor::ones([64 * 1024 * 1024], (Kind::Float, Device::Cpu)));
        let after = probe.peak_mib().unwrap();
        assert!(after - before >= 200.0, "peak went from {before} to {after} MiB");
        assert_eq!(probe.measure(), MemoryMeasure::PeakResidentSet);
    }
}
