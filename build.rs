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
//!   the data-parallel reduction that overlaps the backward pass) into the same library;
//! - compiles `src/parallel/nccl_shim.cpp` into the shared library `libhelixfold_nccl.so` in
//!   OUT_DIR: PyTorch's ProcessGroupNCCL lives in libtorch_cuda.so, which the crate does not
//!   link, so the crate opens this library at run time (`src/parallel/nccl.rs`) and learns its
//!   path from `HELIXFOLD_NCCL_SHIM_BUILT`. It needs libtorch_cuda.so, the CUDA runtime's
//!   headers (the `nvidia/cu13` wheel next to torch, or `CUDA_INCLUDE_DIR`), `nccl.h`
//!   (`NCCL_INCLUDE_DIR`, `.venv/nccl/include`, or the `nvidia/nccl` wheel of the CUDA set-up)
//!   and the CUDA library headers libtorch's CUDA headers include (cuBLAS, cuSPARSE, cuSOLVER,
//!   crt, nv: `scripts/fetch-nccl-header.sh` puts them and nccl.h in `.venv/nccl/include`).
//!   Without libtorch_cuda.so or a header the `helixfold_no_nccl` cfg is set and
//!   `HELIXFOLD_NCCL_MISSING` says what was missing, for the error NCCL requests get.
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
const HANDLES: &str = "src/parallel/c10d_handles.hpp";
const NCCL_SHIM: &str = "src/parallel/nccl_shim.cpp";
const NCCL_LIBRARY: &str = "libhelixfold_nccl.so";

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

/// The first of `candidates` that holds `file`.
fn directory_with(file: &str, candidates: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    candidates.into_iter().find(|dir| dir.join(file).is_file())
}

/// Whether the Gloo shim is built, i.e. `helixfold_no_gloo` is not set.
fn compile_c10d_shim() -> bool {
    println!("cargo::rustc-check-cfg=cfg(helixfold_no_gloo)");
    println!("cargo:rerun-if-changed={SHIM}");
    println!("cargo:rerun-if-changed={GRAD_HOOKS}");
    println!("cargo:rerun-if-changed={HANDLES}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GLOO_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Some(gloo) = gloo_include() else {
        println!("cargo:warning=Gloo headers not found (install libgloo-dev or set GLOO_INCLUDE_DIR): multi-process parallelism is left out of this build");
        println!("cargo:rustc-cfg=helixfold_no_gloo");
        return false;
    };
    let Some(libtorch) = libtorch_root() else {
        println!("cargo:warning=libtorch's location is unknown (neither DEP_TCH_LIBTORCH_LIB nor LIBTORCH): multi-process parallelism is left out of this build");
        println!("cargo:rustc-cfg=helixfold_no_gloo");
        return false;
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
    true
}

/// What the NCCL shim is compiled with.
struct NcclInputs {
    torch_lib: PathBuf,
    /// libtorch's, the CUDA runtime's, nccl.h's and `.venv/nccl/include` (the CUDA headers
    /// that scripts/fetch-nccl-header.sh adds), in that order.
    includes: Vec<PathBuf>,
    nccl_header: PathBuf,
}

/// The NCCL shim's inputs, or what is missing.
fn nccl_inputs(gloo_built: bool) -> Result<NcclInputs, String> {
    if !gloo_built {
        return Err("the c10d shim it extends (Gloo) is not built".into());
    }
    let libtorch = libtorch_root().ok_or("libtorch's location is unknown")?;
    let torch_lib = real_torch_lib_dir(&libtorch.join("lib"));
    if !torch_lib.join("libtorch_cuda.so").is_file() {
        return Err(format!("{} has no libtorch_cuda.so", torch_lib.display()));
    }
    let site_nvidia = torch_lib.join("../../nvidia");
    let env_dir = |name: &str| std::env::var_os(name).map(PathBuf::from);
    let cuda_include = directory_with(
        "cuda_runtime_api.h",
        env_dir("CUDA_INCLUDE_DIR").into_iter().chain([site_nvidia.join("cu13/include"), "/usr/local/cuda/include".into()]),
    )
    .ok_or("the CUDA runtime headers (cuda_runtime_api.h) were not found: set CUDA_INCLUDE_DIR")?;
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let nccl_include = directory_with(
        "nccl.h",
        env_dir("NCCL_INCLUDE_DIR").into_iter().chain([manifest.join(".venv/nccl/include"), site_nvidia.join("nccl/include")]),
    )
    .ok_or("nccl.h was not found: run scripts/fetch-nccl-header.sh (or set NCCL_INCLUDE_DIR), then touch build.rs")?;
    let fetched = manifest.join(".venv/nccl/include");
    let mut includes = vec![libtorch.join("include"), libtorch.join("include/torch/csrc/api/include"), cuda_include];
    includes.push(nccl_include.clone());
    if fetched.is_dir() && fetched != nccl_include {
        includes.push(fetched);
    }
    Ok(NcclInputs { torch_lib, includes, nccl_header: nccl_include.join("nccl.h") })
}

/// Compiles and links `libhelixfold_nccl.so` into OUT_DIR; returns its path.
fn link_nccl_shim(inputs: &NcclInputs) -> Result<PathBuf, String> {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let library = out_dir.join(NCCL_LIBRARY);
    let cxx11_abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    let compiler = cc::Build::new().cpp(true).pic(true).warnings(false).get_compiler();
    let mut command = compiler.to_command();
    command
        .args(["-shared", "-fPIC", "-fvisibility=hidden", "-std=c++17"])
        .arg(format!("-D_GLIBCXX_USE_CXX11_ABI={cxx11_abi}"))
        .args(["-DUSE_C10D_NCCL", "-DGLOG_USE_GLOG_EXPORT"])
        .args(inputs.includes.iter().map(|dir| format!("-I{}", dir.display())))
        .arg(NCCL_SHIM)
        .arg("-o").arg(&library)
        .arg(format!("-L{}", inputs.torch_lib.display()))
        .arg(format!("-Wl,-rpath,{}", inputs.torch_lib.display()))
        .args(["-Wl,-z,defs", "-ltorch_cuda", "-lc10_cuda", "-ltorch_cpu", "-lc10"]);
    let output = command.output().map_err(|error| format!("running {:?}: {error}", compiler.path()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        return Err(format!("compiling {NCCL_SHIM} failed:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n")));
    }
    Ok(library)
}

/// Builds the NCCL shim when its inputs are there; otherwise sets `helixfold_no_nccl`.
fn compile_nccl_shim(gloo_built: bool) {
    println!("cargo::rustc-check-cfg=cfg(helixfold_no_nccl)");
    println!("cargo:rerun-if-changed={NCCL_SHIM}");
    for name in ["NCCL_INCLUDE_DIR", "CUDA_INCLUDE_DIR"] {
        println!("cargo:rerun-if-env-changed={name}");
    }
    let inputs = nccl_inputs(gloo_built);
    if let Ok(inputs) = &inputs {
        println!("cargo:rerun-if-changed={}", inputs.nccl_header.display());
    }
    match inputs.and_then(|inputs| link_nccl_shim(&inputs)) {
        Ok(library) => println!("cargo:rustc-env=HELIXFOLD_NCCL_SHIM_BUILT={}", library.display()),
        Err(missing) => {
            let first_line = missing.lines().next().unwrap_or_default();
            println!("cargo:warning=the NCCL backend is left out of this build: {first_line}");
            for line in missing.lines().skip(1) {
                println!("cargo:warning=  {line}");
            }
            println!("cargo:rustc-cfg=helixfold_no_nccl");
            println!("cargo:rustc-env=HELIXFOLD_NCCL_MISSING={first_line}");
        }
    }
}

fn main() {
    embed_torch_rpath();
    let gloo_built = compile_c10d_shim();
    compile_nccl_shim(gloo_built);
}
