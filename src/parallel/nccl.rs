//! The NCCL backend's library, `libhelixfold_nccl.so` (`nccl_shim.cpp`, built by build.rs): it
//! creates PyTorch's ProcessGroupNCCL, which lives in libtorch_cuda.so, a library the crate does
//! not link (see `src/device.rs`). It is opened with `dlopen` the first time an NCCL group is
//! asked for, after [`crate::device::ensure_cuda_backend`] has loaded libtorch_cuda.so, and is
//! looked for, in order:
//! 1. the file named by the environment variable `HELIXFOLD_NCCL_SHIM` (only there when set);
//! 2. `libhelixfold_nccl.so` next to the running executable (copies of the binaries, such as
//!    `scripts/gpu-checks.sh` makes);
//! 3. where build.rs wrote it.
//!
//! The groups it creates are ordinary c10d groups of the main shim (`c10d_handles.hpp`), so
//! [`super::process_group::ProcessGroup`] runs their collectives like Gloo's.
use super::ffi::{GroupHandle, StoreHandle};
use anyhow::{bail, ensure, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

/// The library's file name.
pub const SHIM_FILE: &str = "libhelixfold_nccl.so";

/// The environment variable that names the library explicitly.
pub const SHIM_VARIABLE: &str = "HELIXFOLD_NCCL_SHIM";

/// Where build.rs wrote the library; `None` in a build without the NCCL backend.
pub fn built_shim() -> Option<&'static Path> {
    #[cfg(not(helixfold_no_nccl))]
    return Some(Path::new(env!("HELIXFOLD_NCCL_SHIM_BUILT")));
    #[cfg(helixfold_no_nccl)]
    return None;
}

/// Why this build has no NCCL backend; `None` when it has one.
pub fn missing_from_build() -> Option<&'static str> {
    #[cfg(helixfold_no_nccl)]
    return Some(env!("HELIXFOLD_NCCL_MISSING"));
    #[cfg(not(helixfold_no_nccl))]
    return None;
}

/// The places the library is looked for, in order (see the module doc).
pub fn shim_candidates() -> Vec<PathBuf> {
    candidates(std::env::var_os(SHIM_VARIABLE), std::env::current_exe().ok())
}

/// The places to look given the variable's value and the executable's path.
fn candidates(explicit: Option<OsString>, executable: Option<PathBuf>) -> Vec<PathBuf> {
    if let Some(explicit) = explicit {
        return vec![PathBuf::from(explicit)];
    }
    let beside_executable = executable.and_then(|exe| exe.parent().map(|dir| dir.join(SHIM_FILE)));
    beside_executable.into_iter().chain(built_shim().map(Path::to_path_buf)).collect()
}

/// Whether this process can create NCCL groups: the build has the backend, CUDA is available
/// and the library loads. The error says what is missing.
pub fn available() -> Result<()> {
    if let Some(missing) = missing_from_build() {
        bail!("this helixfold was built without the NCCL backend ({missing})");
    }
    if !crate::device::ensure_cuda_backend() {
        bail!(
            "the NCCL backend needs a CUDA device, and CUDA is not available here (no GPU, or libtorch_cuda.so and its NVIDIA libraries, NCCL's among them, are not installed: use TORCH_VARIANT=cuda)"
        );
    }
    library::load().map(drop)
}

/// An NCCL group of `size` ranks meeting at `store`, this process being `rank` on CUDA device
/// `device`. `timeout_ms` bounds the rendezvous and every collective.
pub(super) fn create_group(store: *mut StoreHandle, rank: i32, size: i32, timeout_ms: i64, device: usize) -> Result<NonNull<GroupHandle>> {
    available()?;
    let devices = usize::try_from(tch::Cuda::device_count()).unwrap_or(0);
    ensure!(device < devices, "the NCCL backend was asked for cuda:{device}, but this machine has {devices} CUDA device(s)");
    library::create_group(store, rank, size, timeout_ms, i32::try_from(device)?)
}

/// The opened library, in a build that has it.
#[cfg(not(helixfold_no_nccl))]
mod library {
    use super::{shim_candidates, GroupHandle, StoreHandle, SHIM_FILE, SHIM_VARIABLE};
    use crate::parallel::ffi;
    use anyhow::{anyhow, ensure, Context, Result};
    use std::ffi::{c_char, CStr, CString};
    use std::path::Path;
    use std::ptr::{self, NonNull};
    use std::sync::OnceLock;

    /// `hf_nccl_group_create(store, rank, size, timeout_ms, device_index, out_group)`.
    type CreateGroup = unsafe extern "C" fn(*mut StoreHandle, i32, i32, i64, i32, *mut *mut GroupHandle) -> *mut c_char;

    /// The last `dlerror()` message.
    fn dl_error() -> String {
        // SAFETY: dlerror returns null or a NUL-terminated string owned by libc, copied at once.
        unsafe {
            let message = libc::dlerror();
            if message.is_null() {
                "no message from dlerror".into()
            } else {
                CStr::from_ptr(message).to_string_lossy().into_owned()
            }
        }
    }

    /// Opens `path` and finds `hf_nccl_group_create` in it. `flags` are dlopen's.
    pub(super) fn open(path: &Path, flags: i32) -> Result<CreateGroup> {
        let path_c = CString::new(path.as_os_str().as_encoded_bytes())
            .with_context(|| format!("{} contains a NUL byte", path.display()))?;
        // SAFETY: dlopen with a valid C string. The handle is never closed: the groups made by
        // the library run code of the libraries it pulled in.
        let handle = unsafe { libc::dlopen(path_c.as_ptr(), flags) };
        ensure!(!handle.is_null(), "{}: cannot be loaded: {}", path.display(), dl_error());
        let symbol = CString::new("hf_nccl_group_create").expect("static name has no NUL");
        // SAFETY: a live handle and a valid C string.
        let address = unsafe { libc::dlsym(handle, symbol.as_ptr()) };
        ensure!(!address.is_null(), "{}: has no hf_nccl_group_create: {}", path.display(), dl_error());
        // SAFETY: nccl_shim.cpp defines hf_nccl_group_create with exactly this signature.
        Ok(unsafe { std::mem::transmute::<*mut libc::c_void, CreateGroup>(address) })
    }

    /// Finds and opens the library, once per process.
    pub(super) fn load() -> Result<CreateGroup> {
        static LOADED: OnceLock<std::result::Result<CreateGroup, String>> = OnceLock::new();
        let loaded = LOADED.get_or_init(|| {
            let candidates = shim_candidates();
            let Some(path) = candidates.iter().find(|path| path.is_file()) else {
                let searched: Vec<String> = candidates.iter().map(|path| path.display().to_string()).collect();
                return Err(format!("{SHIM_FILE} was not found (looked at: {}; set {SHIM_VARIABLE})", searched.join(", ")));
            };
            open(path, libc::RTLD_NOW | libc::RTLD_LOCAL).map_err(|error| format!("{error:#}"))
        });
        loaded.as_ref().copied().map_err(|message| anyhow!("loading the NCCL backend: {message}"))
    }

    pub(super) fn create_group(store: *mut StoreHandle, rank: i32, size: i32, timeout_ms: i64, device: i32) -> Result<NonNull<GroupHandle>> {
        let create = load()?;
        let mut raw: *mut GroupHandle = ptr::null_mut();
        // SAFETY: a live store handle of the main shim, a valid out-pointer, and the signature
        // nccl_shim.cpp defines.
        ffi::check(unsafe { create(store, rank, size, timeout_ms, device, &mut raw) })?;
        NonNull::new(raw).context("the NCCL shim returned no group")
    }
}

#[cfg(helixfold_no_nccl)]
mod library {
    use super::{GroupHandle, StoreHandle};
    use std::ptr::NonNull;

    // Unreachable: [`super::available`] answers first with what the build is missing.
    pub(super) fn load() -> anyhow::Result<()> {
        anyhow::bail!("this helixfold was built without the NCCL backend")
    }

    pub(super) fn create_group(_: *mut StoreHandle, _: i32, _: i32, _: i64, _: i32) -> anyhow::Result<NonNull<GroupHandle>> {
        anyhow::bail!("this helixfold was built without the NCCL backend")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The library build.rs made exports `hf_nccl_group_create`. Where its dependencies are
    /// installed (a CUDA set-up) it is opened and the symbol looked up; in the lean CPU set-up
    /// libtorch_cuda.so's own NVIDIA libraries are missing, so the ELF dynamic symbol table is
    /// read instead (`nm -D`).
    #[test]
    #[cfg(not(helixfold_no_nccl))]
    fn the_built_library_exports_group_creation() {
        let path = built_shim().expect("a build with the NCCL backend knows its library");
        assert!(path.is_file(), "{} is missing", path.display());
        if let Err(error) = library::open(path, libc::RTLD_LAZY | libc::RTLD_LOCAL) {
            let message = format!("{error:#}");
            assert!(message.contains("cannot be loaded"), "{message}");
            let output = std::process::Command::new("nm").args(["-D", "--defined-only"]).arg(path).output().expect("nm runs");
            let symbols = String::from_utf8_lossy(&output.stdout);
            assert!(
                symbols.lines().any(|line| line.ends_with(" T hf_nccl_group_create")),
                "{} exports no hf_nccl_group_create:\n{symbols}",
                path.display()
            );
        }
    }

    #[test]
    fn the_variable_overrides_then_the_executable_folder_then_the_build() {
        let explicit = candidates(Some("/opt/nccl/custom.so".into()), Some("/opt/hf/helixfold".into()));
        assert_eq!(explicit, vec![PathBuf::from("/opt/nccl/custom.so")]);
        let found = candidates(None, Some("/opt/hf/helixfold".into()));
        let mut expected = vec![PathBuf::from("/opt/hf/libhelixfold_nccl.so")];
        expected.extend(built_shim().map(Path::to_path_buf));
        assert_eq!(found, expected);
    }
}
