//! The Jupyter kernel against the Jupyter project's own kernel test suite: installs the
//! kernelspec into a temporary prefix with `helixfold kernel install --prefix`, then runs
//! `tests/kernel/test_helixfold_kernel.py` (jupyter_kernel_test 0.7.0 on jupyter_client, from
//! the project's `.venv`) with pytest; any failing or erroring Python test fails this one.
use std::path::Path;
use std::process::Command;

#[test]
fn jupyter_kernel_test_suite_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    if !python.exists() {
        assert!(std::env::var_os("CI").is_none(), "{} is missing (CI is set, so this is a failure)", python.display());
        eprintln!("SKIPPED: {} is missing", python.display());
        return;
    }
    let prefix = tempfile::tempdir().unwrap();
    let name = "helixfold-conformance";
    let install = Command::new(env!("CARGO_BIN_EXE_helixfold"))
        .args(["kernel", "install", "--name", name, "--prefix"])
        .arg(prefix.path())
        .output()
        .unwrap();
    assert!(install.status.success(), "install failed: {}", String::from_utf8_lossy(&install.stderr));
    let spec = prefix.path().join("share/jupyter/kernels").join(name).join("kernel.json");
    assert!(spec.exists(), "{} was not written", spec.display());

    let output = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/kernel/test_helixfold_kernel.py"])
        .current_dir(root)
        .env("JUPYTER_PATH", prefix.path().join("share/jupyter"))
        .env("JUPYTER_RUNTIME_DIR", prefix.path().join("runtime"))
        .env("JUPYTER_DATA_DIR", prefix.path().join("data"))
        .env("HELIXFOLD_KERNEL_NAME", name)
        .output()
        .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the Jupyter kernel tests failed:\n{report}");
    assert!(report.contains(" passed"), "pytest ran no test:\n{report}");
}
