//! Peak memory of a measured region, by device, on top of [`crate::memory`].
//!
//! CPU: the process's resident-set high-water mark, reset at the start of the region, so the
//! figure is the peak while the region ran, including everything already resident (parameters,
//! the batch, libtorch itself).
//!
//! CUDA: libtorch's caching allocator keeps what it reserved until told otherwise, so the
//! device memory in use after the region minus what was in use before it is the allocator's
//! reserved high-water mark for the region: an upper bound on `max_memory_allocated`, which
//! tch cannot reach.
use crate::memory::{cuda_memory_in_use_bytes, peak_rss_bytes, reset_peak_rss};
use anyhow::{Context, Result};
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

fn cuda_in_use(index: usize) -> Result<u64> {
    tch::Cuda::synchronize(index as i64);
    cuda_memory_in_use_bytes().context("the CUDA runtime's memory information is not available")
}

impl MemoryProbe {
    /// Resets the CPU high-water mark, or records the CUDA memory in use now.
    pub fn start(device: Device) -> Result<Self> {
        let baseline_bytes = match device {
            Device::Cuda(index) => cuda_in_use(index)?,
            _ => {
                reset_peak_rss()?;
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
            Device::Cuda(index) => cuda_in_use(index)?.saturating_sub(self.baseline_bytes),
            _ => peak_rss_bytes()?,
        };
        Ok(bytes as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn cpu_peak_sees_a_large_temporary_allocation() {
        let probe = MemoryProbe::start(Device::Cpu).unwrap();
        let before = probe.peak_mib().unwrap();
        // 256 MiB, touched so it becomes resident. Read while it is alive: another test thread
        // may reset the process-wide mark at any moment, but never below what is resident.
        let block = Tensor::ones([64 * 1024 * 1024], (Kind::Float, Device::Cpu));
        let after = probe.peak_mib().unwrap();
        drop(block);
        assert!(after - before >= 200.0, "peak went from {before} to {after} MiB");
        assert_eq!(probe.measure(), MemoryMeasure::PeakResidentSet);
    }
}
