//! Test support: locating the shared real-data folder (`../shared/data`).
//!
//! A test that needs it calls [`shared_data`]; when the folder is missing the test fails if the
//! `CI` environment variable is set, and otherwise reports itself as skipped on stderr.
use std::path::PathBuf;
use tch::Device;

/// The device numeric tests run on: `$HELIXFOLD_TEST_DEVICE` (`cpu`, `cuda`, `cuda:N`), else the
/// CPU. Lets the same parity tests check a GPU build. Panics on an unusable value, since a test
/// silently falling back to the CPU would claim a GPU check it did not make.
pub fn test_device() -> Device {
    match std::env::var("HELIXFOLD_TEST_DEVICE") {
        Ok(spec) => crate::device::parse_device(&spec)
            .unwrap_or_else(|e| panic!("HELIXFOLD_TEST_DEVICE={spec}: {e:#}")),
        Err(_) => Device::Cpu,
    }
}

/// Root of the shared data: `$HELIXFOLD_SHARED_DATA`, else `../shared/data` beside the checkout.
pub fn shared_data_root() -> PathBuf {
    std::env::var_os("HELIXFOLD_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

/// Path of `relative` under the shared data, or `None` (test skipped) when it is absent outside
/// CI. Panics when it is absent and `CI` is set, so CI can never pass by skipping.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = shared_data_root().join(relative);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!("required test data {} is missing (CI is set, so this is a failure)", path.display());
    }
    eprintln!("SKIPPED: test data {} is missing", path.display());
    None
}

fn reference_root() -> PathBuf {
    std::env::var_os("HELIXFOLD_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/reference"))
}

/// Folder of the numeric reference case `case` written by DeepMind's AlphaFold through
/// `tests/reference/make_reference.py` (`params.npz`, `inputs.npz`, `outputs.npz`): under
/// `$HELIXFOLD_REFERENCE`, else `target/reference` of the checkout; generated there on first
/// use. `None` (test skipped) when it cannot be generated (no JAX in `.venv`), outside CI;
/// panics when it is absent and `CI` is set.
pub fn reference_case(case: &str) -> Option<PathBuf> {
    generated_reference_case("make_reference.py", case)
}

/// [`reference_case`] for a case written by another generator in `tests/reference/` (run as
/// `.venv/bin/python tests/reference/<script> --out <root> --case <case>`).
pub fn generated_reference_case(script: &str, case: &str) -> Option<PathBuf> {
    let root = reference_root();
    let folder = root.join(case);
    if folder.join("outputs.npz").exists() {
        return Some(folder);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let status = std::process::Command::new(manifest.join(".venv/bin/python"))
        .arg(manifest.join("tests/reference").join(script))
        .arg("--out")
        .arg(&root)
        .args(["--case", case])
        .status();
    if matches!(&status, Ok(s) if s.success()) && folder.join("outputs.npz").exists() {
        return Some(folder);
    }
    if std::env::var_os("CI").is_some() {
        panic!("reference case {} could not be generated ({status:?}; CI is set, so this is a failure)", folder.display());
    }
    eprintln!(
        "SKIPPED: reference case {} could not be generated ({status:?}); generate it with \
         .venv/bin/python tests/reference/{script} --out target/reference --case {case}",
        folder.display()
    );
    None
}
