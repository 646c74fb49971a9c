//! Declarations of `c10d_shim.cpp`'s C interface (compiled by build.rs) and [`c10d_call!`], the
//! one way the rest of the module calls it: the call's error string becomes an `anyhow` error,
//! and in a build without Gloo (`helixfold_no_gloo`, set by build.rs when `libgloo-dev` is
//! missing) every call is that error instead, so nothing links against the absent shim.

/// Explains why a build has no multi-process support.
pub const NO_GLOO: &str =
    "this helixfold was built without Gloo, so it cannot run several processes: install libgloo-dev (apt-get install libgloo-dev) and rebuild";

macro_rules! opaque {
    ($($name:ident),*) => {$(
        /// An object owned by the C++ shim.
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
        }
    )*};
}
opaque!(StoreHandle, GroupHandle, WorkHandle);

/// The shim's functions, in a build that has it.
#[cfg(not(helixfold_no_gloo))]
mod shim {
    use super::{GroupHandle, StoreHandle, WorkHandle};
    use std::ffi::c_char;
    use torch_sys::C_tensor;

    extern "C" {
        pub fn hf_c10d_free_string(text: *mut c_char);
        pub fn hf_c10d_free_bytes(bytes: *mut u8) -> *mut c_char;
        pub fn hf_c10d_store_create(
            host: *const c_char,
            port: u16,
            world_size: i32,
            is_master: i32,
            timeout_ms: i64,
            out: *mut *mut StoreHandle,
        ) -> *mut c_char;
        pub fn hf_c10d_store_prefixed(base: *mut StoreHandle, prefix: *const c_char, out: *mut *mut StoreHandle) -> *mut c_char;
        pub fn hf_c10d_store_destroy(store: *mut StoreHandle) -> *mut c_char;
        pub fn hf_c10d_store_set(store: *mut StoreHandle, key: *const c_char, data: *const u8, length: usize) -> *mut c_char;
        pub fn hf_c10d_store_get(
            store: *mut StoreHandle,
            key: *const c_char,
            timeout_ms: i64,
            data: *mut *mut u8,
            length: *mut usize,
        ) -> *mut c_char;
        pub fn hf_c10d_store_check(store: *mut StoreHandle, key: *const c_char, present: *mut i32) -> *mut c_char;
        pub fn hf_c10d_store_add(store: *mut StoreHandle, key: *const c_char, delta: i64, value: *mut i64) -> *mut c_char;
        pub fn hf_c10d_group_create_gloo(
            store: *mut StoreHandle,
            rank: i32,
            size: i32,
            timeout_ms: i64,
            device_host: *const c_char,
            out: *mut *mut GroupHandle,
        ) -> *mut c_char;
        pub fn hf_c10d_group_destroy(group: *mut GroupHandle) -> *mut c_char;
        pub fn hf_c10d_work_destroy(work: *mut WorkHandle) -> *mut c_char;
        pub fn hf_c10d_work_wait(work: *mut WorkHandle, timeout_ms: i64, result: *mut *mut C_tensor) -> *mut c_char;
        pub fn hf_c10d_all_reduce(group: *mut GroupHandle, input: *const C_tensor, op: i32, out: *mut *mut WorkHandle) -> *mut c_char;
        pub fn hf_c10d_all_gather(group: *mut GroupHandle, input: *const C_tensor, out: *mut *mut WorkHandle) -> *mut c_char;
        pub fn hf_c10d_reduce_scatter(
            group: *mut GroupHandle,
            input: *const C_tensor,
            op: i32,
            out: *mut *mut WorkHandle,
        ) -> *mut c_char;
        pub fn hf_c10d_all_to_all(group: *mut GroupHandle, input: *const C_tensor, out: *mut *mut WorkHandle) -> *mut c_char;
        pub fn hf_c10d_broadcast(group: *mut GroupHandle, input: *const C_tensor, root: i32, out: *mut *mut WorkHandle) -> *mut c_char;
        pub fn hf_c10d_barrier(group: *mut GroupHandle, out: *mut *mut WorkHandle) -> *mut c_char;
    }

    /// The shim's error string (freed here) as a `Result`.
    pub fn check(error: *mut c_char) -> anyhow::Result<()> {
        if error.is_null() {
            return Ok(());
        }
        // SAFETY: a non-null return is a NUL-terminated string malloc'ed by the shim, freed once here.
        let message = unsafe {
            let message = std::ffi::CStr::from_ptr(error).to_string_lossy().into_owned();
            hf_c10d_free_string(error);
            message
        };
        Err(anyhow::anyhow!("c10d: {message}"))
    }
}
#[cfg(not(helixfold_no_gloo))]
pub use shim::*;

/// `c10d_call!(hf_c10d_x(args...))`: calls the shim function, `anyhow::Result<()>`.
#[cfg(not(helixfold_no_gloo))]
macro_rules! c10d_call {
    ($function:ident($($arg:expr),* $(,)?)) => {
        // SAFETY: the callers pass live handles owned by this module and valid out-pointers.
        $crate::parallel::ffi::check(unsafe { $crate::parallel::ffi::$function($($arg),*) })
    };
}

#[cfg(helixfold_no_gloo)]
macro_rules! c10d_call {
    ($function:ident($($arg:expr),* $(,)?)) => {{
        $(let _ = $arg;)*
        Err::<(), _>(anyhow::anyhow!($crate::parallel::ffi::NO_GLOO))
    }};
}
pub(crate) use c10d_call;

/// `grad_hooks.cpp`: post-hooks on autograd's gradient accumulators (see
/// [`crate::parallel::grad_hooks`]). Its errors are freed with `hf_c10d_free_string` through
/// [`check`], as the shim's are.
#[cfg(not(helixfold_no_gloo))]
mod grad_hooks_shim {
    use std::ffi::{c_char, c_void};
    use torch_sys::C_tensor;

    /// An installed set of hooks, owned by `grad_hooks.cpp`.
    #[repr(C)]
    pub struct GradHooksHandle {
        _private: [u8; 0],
    }

    /// What a hook calls: the user data given at installation and the variable's index.
    pub type GradientReady = extern "C" fn(user_data: *mut c_void, index: i64);

    extern "C" {
        pub fn hf_grad_hooks_install(
            variables: *const *const C_tensor,
            count: i64,
            ready: GradientReady,
            user_data: *mut c_void,
            out: *mut *mut GradHooksHandle,
        ) -> *mut c_char;
        pub fn hf_grad_hooks_remove(hooks: *mut GradHooksHandle) -> *mut c_char;
    }
}
#[cfg(not(helixfold_no_gloo))]
pub use grad_hooks_shim::*;
