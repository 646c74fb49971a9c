//! Memory measurement for benchmarks (the process's peak resident set, the CUDA device memory in
//! use) and the guard that refuses host work which cannot fit ([`ensure_fits`]).
//!
//! CPU: Linux's `VmHWM` ("high water mark") line of `/proc/self/status` (proc(5)) is the largest
//! resident set the process has had since it started, or since the mark was last reset by
//! writing `5` to `/proc/self/clear_refs` ([`reset_peak_rss`]). It is a peak over the whole
//! process, not per allocation: a measurement of one phase resets the mark before it. The kernel
//! batches per-thread RSS counts, so the mark is exact to a few pages (tens of KiB).
//!
//! CUDA: libtorch's caching-allocator statistics (`torch.cuda.max_memory_allocated`,
//! `c10::cuda::CUDACachingAllocator::getDeviceStats`) are C++ only and not part of the C API that
//! tch 0.24 wraps, so they are not reachable from Rust without a C++ shim. What is reachable is
//! the CUDA runtime's `cudaMemGetInfo` (C ABI, exported by the `libcudart` that
//! `libtorch_cuda.so` loads): device memory in use is `total - free`. It counts every process on
//! the device and the CUDA context as well as libtorch's reserved (cached) blocks. Since the
//! caching allocator keeps what it reserved until the cache is emptied, after a run this is an
//! upper bound on the run's peak allocated memory, not the peak itself.
use anyhow::{bail, Context, Result};
use std::ffi::{c_int, c_void, CString};

/// Reads a `kB` field of `/proc/self/status` in bytes.
fn proc_status_bytes(field: &str) -> Result<u64> {
    status_file_bytes("/proc/self/status", field)
}

/// Reads a `kB` field of the status file at `path` (`/proc/<pid>/status`) in bytes.
fn status_file_bytes(path: &str, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    parse_status_bytes(&status, field).with_context(|| path.to_string())
}

/// Finds `field:  <n> kB` in the text of a `/proc/<pid>/status` file and returns `n * 1024`.
fn parse_status_bytes(status: &str, field: &str) -> Result<u64> {
    let prefix = format!("{field}:");
    let (number, line) = status
        .lines()
        .enumerate()
        .find(|(_, line)| line.starts_with(&prefix))
        .with_context(|| format!("no '{field}' line"))?;
    let mut words = line[prefix.len()..].split_whitespace();
    let (Some(value), Some("kB")) = (words.next(), words.next()) else {
        bail!("line {}: expected '{field}: <n> kB', got '{line}'", number + 1);
    };
    let kib: u64 = value.parse().with_context(|| format!("line {}: '{value}' is not a count", number + 1))?;
    Ok(kib * 1024)
}

/// Peak resident set size of this process in bytes (`VmHWM`, a high-water mark: see the module
/// documentation).
pub fn peak_rss_bytes() -> Result<u64> {
    proc_status_bytes("VmHWM")
}

/// Peak resident set size of process `pid` in bytes (its `VmHWM`), e.g. a worker this process
/// started.
pub fn peak_rss_bytes_of(pid: u32) -> Result<u64> {
    status_file_bytes(&format!("/proc/{pid}/status"), "VmHWM")
}

/// Current resident set size of this process in bytes (`VmRSS`).
pub fn current_rss_bytes() -> Result<u64> {
    proc_status_bytes("VmRSS")
}

/// Resets the peak resident set to the current one (writes `5` to `/proc/self/clear_refs`,
/// Linux 4.0 and later), so that [`peak_rss_bytes`] measures from now on.
pub fn reset_peak_rss() -> Result<()> {
    let path = "/proc/self/clear_refs";
    std::fs::write(path, "5").with_context(|| format!("writing to {path}"))
}

/// Host memory this process can still take, in bytes: the kernel's `MemAvailable` estimate
/// (`/proc/meminfo`), lowered to what the address-space limit (`ulimit -v`, `RLIMIT_AS`) leaves.
/// `None` when neither is known.
pub fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let mem_available = meminfo.and_then(|text| parse_status_bytes(&text, "MemAvailable").ok());
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit struct through a valid pointer.
    let limited = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0 && limit.rlim_cur != libc::RLIM_INFINITY;
    let address_space_left = if limited {
        proc_status_bytes("VmSize").ok().map(|used| (limit.rlim_cur as u64).saturating_sub(used))
    } else {
        None
    };
    match (mem_available, address_space_left) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Fails with a message naming `what` and how to shrink it when `needed` bytes exceed the host
/// memory still available. Rust's allocator aborts the process when an allocation fails, so
/// host-side work whose size is known beforehand (the feature pipeline) asks first instead.
pub fn ensure_fits(needed: u64, what: &str, how_to_shrink: &str) -> Result<()> {
    match available_bytes() {
        Some(available) if needed > available => bail!(
            "{what} needs about {} but only {} of memory is available; {how_to_shrink}",
            gibibytes(needed),
            gibibytes(available)
        ),
        _ => Ok(()),
    }
}

fn gibibytes(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// `cudaError_t cudaMemGetInfo(size_t *free, size_t *total)`.
type CudaMemGetInfo = unsafe extern "C" fn(*mut usize, *mut usize) -> c_int;

/// Finds `cudaMemGetInfo` among the loaded libraries, or in a CUDA runtime `libtorch_cuda.so`
/// already loaded (never loading one that is not).
fn cuda_mem_get_info() -> Option<CudaMemGetInfo> {
    let symbol = CString::new("cudaMemGetInfo").expect("static name has no NUL");
    // SAFETY: dlsym on the global scope with a valid C string.
    let mut address: *mut c_void = unsafe { libc::dlsym(libc::RTLD_DEFAULT, symbol.as_ptr()) };
    for name in ["libcudart.so.13", "libcudart.so.12", "libcudart.so"] {
        if !address.is_null() {
            break;
        }
        let name = CString::new(name).expect("static name has no NUL");
        // SAFETY: RTLD_NOLOAD only returns a handle to a library that is already loaded; the
        // handle's reference is never released because that library stays loaded anyway.
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
        if !handle.is_null() {
            // SAFETY: dlsym on a valid handle with a valid C string.
            address = unsafe { libc::dlsym(handle, symbol.as_ptr()) };
        }
    }
    // SAFETY: the symbol, when found, is the CUDA runtime's cudaMemGetInfo with this signature.
    (!address.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, CudaMemGetInfo>(address) })
}

/// CUDA device memory in use in bytes (`total - free` from `cudaMemGetInfo` on the current
/// device), or `None` without a CUDA device or runtime. An upper bound on libtorch's peak
/// allocation, not `max_memory_allocated` itself: see the module documentation.
pub fn cuda_memory_in_use_bytes() -> Option<u64> {
    if !crate::device::ensure_cuda_backend() {
        return None;
    }
    let get_info = cuda_mem_get_info()?;
    let (mut free, mut total) = (0usize, 0usize);
    // SAFETY: both pointers are valid for writes of one size_t each.
    let status = unsafe { get_info(&mut free, &mut total) };
    (status == 0).then(|| total.saturating_sub(free) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_lines_and_names_bad_ones() {
        let status = "Name:\thelixfold\nVmHWM:\t  2048 kB\nVmRSS:\t1024 kB\nVmSwap:\tlots\n";
        assert_eq!(parse_status_bytes(status, "VmHWM").unwrap(), 2048 * 1024);
        assert_eq!(parse_status_bytes(status, "VmRSS").unwrap(), 1024 * 1024);
        let err = parse_status_bytes(status, "VmSwap").unwrap_err().to_string();
        assert!(err.contains("line 4"), "{err}");
        let err = parse_status_bytes(status, "VmPeak").unwrap_err().to_string();
        assert!(err.contains("no 'VmPeak' line"), "{err}");
    }

    /// Touching 64 MiB raises the high-water mark by about as much, and it stays raised after
    /// the memory is freed (the current RSS would drop by as much).
    #[test]
    fn peak_rss_is_a_high_water_mark() {
        let size = 64 << 20;
        reset_peak_rss().unwrap();
        let before = current_rss_bytes().unwrap();
        let block = vec![1u8; size];
        assert_eq!(block.iter().map(|&b| b as usize).sum::<usize>(), size);
        let during = peak_rss_bytes().unwrap();
        drop(block);
        let after = peak_rss_bytes().unwrap();
        assert!(during >= before + (size as u64) / 2, "peak went from {before} to {during}");
        // The kernel batches per-thread RSS counts, so the mark is exact only to a few pages.
        assert!(after + (size as u64) / 8 >= during, "the mark fell from {during} to {after}");
    }

    #[test]
    fn work_larger_than_the_machine_is_refused_with_a_hint() {
        let available = available_bytes().expect("/proc/meminfo is readable on Linux");
        assert!(available > 0);
        ensure_fits(1 << 20, "a small batch", "crop it").unwrap();
        let err = ensure_fits(u64::MAX / 2, "a huge batch", "crop it with `data crop_size=`").unwrap_err().to_string();
        assert!(err.starts_with("a huge batch needs about") && err.ends_with("crop it with `data crop_size=`"), "{err}");
    }

    #[test]
    fn cuda_memory_is_absent_without_a_device() {
        if !crate::device::ensure_cuda_backend() {
            assert_eq!(cuda_memory_in_use_bytes(), None);
        }
    }
}
