//! Test support: locating the shared real-data folder (`../shared/data`).
//!
//! A test that needs it calls [`shared_data`]; when the folder is missing the test fails if the
//! `CI` environment variable is set, and otherwise reports itself as skipped on stderr.
use std::path::PathBuf;

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

/// Folder of the numeric reference case `case` written by DeepMind's AlphaFold through
/// `tests/reference/make_reference.py` (`params.npz`, `inputs.npz`, `outputs.npz`): under
/// `$HELIXFOLD_REFERENCE`, else `target/reference` of the checkout. `None` (test skipped) when it
/// has not been generated, outside CI; panics when it is absent and `CI` is set.
pub fn reference_case(case: &str) -> Option<PathBuf> {
    let root = std::env::var_os("HELIXFOLD_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/reference"));
    let folder = root.join(case);
    if folder.join("outputs.npz").exists() {
        return Some(folder);
    }
    if std::env::var_os("CI").is_some() {
        panic!("reference case {} is missing (CI is set, so this is a failure)", folder.display());
    }
    eprintln!(
        "SKIPPED: reference case {} is missing (generate it with .venv/bin/python \
         tests/reference/make_reference.py --out target/reference --case {case})",
        folder.display()
    );
    None
}
