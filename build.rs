//! Embeds an rpath to libtorch's library folder so that binaries and tests run without
//! `LD_LIBRARY_PATH`. torch-sys exports that folder as `DEP_TCH_LIBTORCH_LIB` to crates
//! that depend on it directly. The folder may be a link view (the lean CPU set-up, see
//! `scripts/setup.sh`); the rpath names the real folder so that libtorch's own
//! `$ORIGIN`-relative rpaths (to the CUDA runtime wheels) resolve.
use std::path::{Path, PathBuf};

fn real_torch_lib_dir(link_dir: &Path) -> PathBuf {
    std::fs::canonicalize(link_dir.join("libtorch_cpu.so"))
        .ok()
        .and_then(|lib| lib.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| link_dir.to_path_buf())
}

fn main() {
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
