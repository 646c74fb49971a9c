//! Two jobs for the library's native side:
//! - embeds an rpath to libtorch's library folder so that binaries and tests run without
//!   `LD_LIBRARY_PATH`. torch-sys exports that folder as `DEP_TCH_LIBTORCH_LIB` to crates that
//!   depend on it directly. The folder may be a link view (the lean CPU set-up, see
//!   `scripts/setup.sh`); the rpath names the real folder so that libtorch's own
//!   `$ORIGIN`-relative rpaths (to the CUDA runtime wheels) resolve;
//! - compiles `src/parallel/c10d_shim.cpp`, the C interface to PyTorch's distributed runtime
//!   (c10d's TCPStore and ProcessGroupGloo, exported by libtorch_cpu.so), against that libtorch's
//!   headers and the Gloo headers of Debian's `libgloo-dev`. Without the Gloo headers the crate
//!   still builds: the `helixfold_no_gloo` cfg is set, and the parallel module answers every
//!   request with an error saying how to get them;
//! - compiles `src/parallel/grad_hooks.cpp` (autograd post-hooks on gradient accumulators, for
//!   the data-parallel reduction that overlaps the backward pass) into the same library.
use std::path::{Path, PathBuf};

fn real_torch_lib_dir(link_dir: &Path) -> PathBuf {
    std::fs::canonicalize(link_dir.join("libtorch_cpu.so"))
        .ok()
        .and_then(|lib| lib.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| link_dir.to_path_buf())
}

fn embed_torch_rpath() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        let real = real_torch_lib_dir(Path::new(&dir));
        let cuda_runtime = real.join("../../nvidia/cu13/lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", real.display());
        if let Ok(cuda_runtime) = std::fs::canonicalize(cuda_runtime) {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", cuda_runtime.display());
        }
        println!("cargo:rustc-env=HELIXFOLD_TORCH_LIB={}", real.display());
    }
}

const SHIM: &str = "src/parallel/c10d_shim.cpp";
const GRAD_HOOKS: &str = "src/parallel/grad_hooks.cpp";

/// libtorch's root: torch-sys (`links = "tch"`) publishes its lib directory to dependents as
/// `DEP_TCH_LIBTORCH_LIB`; `LIBTORCH` (scripts/env.sh) is the fallback.
fn libtorch_root() -> Option<PathBuf> {
    if let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") {
        return PathBuf::from(lib).parent().map(Path::to_path_buf);
    }
    std::env::var_os("LIBTORCH").map(PathBuf::from)
}

/// The directory holding `gloo/algorithm.h`: `GLOO_INCLUDE_DIR`, else the system's.
fn gloo_include() -> Option<PathBuf> {
    let candidates = std::env::var_os("GLOO_INCLUDE_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/include", "/usr/local/include"].map(PathBuf::from));
    candidates.into_iter().find(|dir| dir.join("gloo/algorithm.h").is_file())
}

fn compile_c10d_shim() {
    println!("cargo::rustc-check-cfg=cfg(helixfold_no_gloo)");
    println!("cargo:rerun-if-changed={SHIM}");
    println!("cargo:rerun-if-changed={GRAD_HOOKS}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GLOO_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Some(gloo) = gloo_include() else {
        println!("cargo:warning=Gloo headers not found (install libgloo-dev or set GLOO_INCLUDE_DIR): multi-process parallelism is left out of this build");
        println!("cargo:rustc-cfg=helixfold_no_gloo");
        return;
    };
    let Some(libtorch) = libtorch_root() else {
        println!("cargo:warning=libtorch's location is unknown (neither DEP_TCH_LIBTORCH_LIB nor LIBTORCH): multi-process parallelism is left out of this build");
        println!("cargo:rustc-cfg=helixfold_no_gloo");
        return;
    };
    // torch 2.x wheels and libtorch archives use the C++11 ABI; LIBTORCH_CXX11_ABI=0 for old builds.
    let cxx11_abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(libtorch.join("include"))
        .include(libtorch.join("include/torch/csrc/api/include"))
        .include(gloo)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={cxx11_abi}"))
        .flag("-DUSE_C10D_GLOO")
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .file(SHIM)
        .file(GRAD_HOOKS)
        .compile("helixfold_c10d");
}

fn main() {
    embed_torch_rpath();
    compile_c10d_shim();
}
