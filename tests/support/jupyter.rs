//! Shared by the tests that drive real Jupyter clients (nbclient, `jupyter console`,
//! JupyterLab): the project's `.venv` with the Jupyter packages of
//! `scripts/requirements-reference.txt`, the HelixFold kernelspec installed into a temporary
//! prefix (`helixfold kernel install --prefix`) that only these processes see, and the folder
//! where a test keeps what it produced for people to look at (`target/test-artifacts/<test>`).
// Each test file includes this module and uses part of it.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A kernelspec installed under a temporary prefix, with the Jupyter folders pointed there.
pub struct Jupyter {
    pub kernel: String,
    prefix: tempfile::TempDir,
}

impl Jupyter {
    /// Installs the kernelspec `kernel`; `None` (test skipped) when the `.venv` is missing
    /// outside CI, a failure when `CI` is set.
    pub fn install(kernel: &str) -> Option<Self> {
        let python = root().join(".venv/bin/python");
        if !python.exists() {
            assert!(std::env::var_os("CI").is_none(), "{} is missing (CI is set, so this is a failure)", python.display());
            eprintln!("SKIPPED: {} is missing", python.display());
            return None;
        }
        let prefix = tempfile::tempdir().unwrap();
        let install = Command::new(env!("CARGO_BIN_EXE_helixfold"))
            .args(["kernel", "install", "--name", kernel, "--prefix"])
            .arg(prefix.path())
            .output()
            .unwrap();
        assert!(install.status.success(), "kernel install failed: {}", String::from_utf8_lossy(&install.stderr));
        Some(Self { kernel: kernel.to_string(), prefix })
    }

    /// A program of the `.venv` (`python`, `jupyter`, ...) that finds only this kernelspec's
    /// prefix, with runtime and data folders of its own.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(root().join(".venv/bin").join(program));
        command
            .env("JUPYTER_PATH", self.prefix.path().join("share/jupyter"))
            .env("JUPYTER_RUNTIME_DIR", self.prefix.path().join("runtime"))
            .env("JUPYTER_DATA_DIR", self.prefix.path().join("data"))
            .env("JUPYTER_CONFIG_DIR", self.prefix.path().join("config"))
            .env("IPYTHONDIR", self.prefix.path().join("ipython"))
            .env("JUPYTER_PLATFORM_DIRS", "1");
        command
    }

    /// A folder of this installation's own (`config`, `data`, `runtime`, ...).
    pub fn dir(&self, sub: &str) -> PathBuf {
        self.prefix.path().join(sub)
    }

    /// The `.sh`-quoted environment assignments of [`Jupyter::command`], for a shell line.
    pub fn env_prefix(&self) -> String {
        let dir = |sub: &str| self.prefix.path().join(sub).display().to_string();
        format!(
            "JUPYTER_PATH='{}' JUPYTER_RUNTIME_DIR='{}' JUPYTER_DATA_DIR='{}' JUPYTER_CONFIG_DIR='{}' IPYTHONDIR='{}' JUPYTER_PLATFORM_DIRS=1",
            dir("share/jupyter"),
            dir("runtime"),
            dir("data"),
            dir("config"),
            dir("ipython")
        )
    }
}

/// `target/test-artifacts/<test>`, emptied: where a test leaves executed notebooks and
/// screenshots (CI keeps the folder).
pub fn artifacts(test: &str) -> PathBuf {
    let dir = root().join("target/test-artifacts").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the notebook driver `tests/kernel/run_notebooks.py` on `notebooks`, writing the
/// executed copies to `out`; returns whether every notebook ran clean and the driver's report.
pub fn execute_notebooks(jupyter: &Jupyter, notebooks: &[PathBuf], out: &Path) -> (bool, String) {
    let output = jupyter
        .command("python")
        .arg(root().join("tests/kernel/run_notebooks.py"))
        .args(["--kernel", &jupyter.kernel, "--out"])
        .arg(out)
        .args(notebooks)
        .output()
        .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), report)
}
