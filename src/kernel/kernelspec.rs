//! Registering the kernel with Jupyter: a kernelspec folder `kernels/NAME/` holding
//! `kernel.json` and logos, in one of Jupyter's data folders (jupyter_client's
//! `KernelSpecManager.install_kernel_spec` and jupyter_core's `jupyter_data_dir` /
//! `jupyter_path` decide the same places): `--user` → `$JUPYTER_DATA_DIR` or
//! `~/.local/share/jupyter`; `--sys-prefix` → `$VIRTUAL_ENV` or Python's `sys.prefix`, then
//! `share/jupyter`; `--prefix P` → `P/share/jupyter`.
use anyhow::{bail, Context as _, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The default kernelspec name.
pub const DEFAULT_NAME: &str = "helixfold";
/// The `language` every HelixFold kernelspec declares; `list` and `uninstall` go by it.
const LANGUAGE: &str = "helixfold";
const LOGO_32: &[u8] = include_bytes!("../../kernel/logo-32x32.png");
const LOGO_64: &[u8] = include_bytes!("../../kernel/logo-64x64.png");

/// Where a kernelspec goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    User,
    SysPrefix,
    Prefix(PathBuf),
}

/// The `kernels` folder of a location.
pub fn kernels_dir(location: &Location) -> Result<PathBuf> {
    let data_dir = match location {
        Location::User => user_data_dir()?,
        Location::SysPrefix => python_prefix()?.join("share/jupyter"),
        Location::Prefix(prefix) => prefix.join("share/jupyter"),
    };
    Ok(data_dir.join("kernels"))
}

/// Jupyter's per-user data directory (`jupyter --data-dir`).
pub fn user_data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("JUPYTER_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("jupyter"));
    }
    let home = std::env::var_os("HOME").context("neither JUPYTER_DATA_DIR nor HOME is set")?;
    Ok(PathBuf::from(home).join(".local/share/jupyter"))
}

fn python_prefix() -> Result<PathBuf> {
    if let Some(prefix) = std::env::var_os("VIRTUAL_ENV") {
        return Ok(PathBuf::from(prefix));
    }
    let output = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.prefix)"])
        .output()
        .context("running python3 to find sys.prefix (or set VIRTUAL_ENV, or use --prefix)")?;
    if !output.status.success() {
        bail!("python3 could not report sys.prefix");
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
}

/// Kernel names are what Jupyter accepts: ASCII letters, digits, `.`, `_` and `-`.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        bail!("invalid kernel name '{name}': use letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

/// The `kernel.json` that starts `binary` as this kernel.
pub fn kernel_json(binary: &Path) -> serde_json::Value {
    json!({
        "argv": [binary.display().to_string(), "kernel", "--connection-file", "{connection_file}"],
        "display_name": "HelixFold",
        "language": LANGUAGE,
        "interrupt_mode": "message",
        "metadata": {"debugger": false},
    })
}

/// Writes the kernelspec `NAME` into `location`, replacing an older one; returns its folder.
pub fn install(location: &Location, name: &str, binary: &Path) -> Result<PathBuf> {
    check_name(name)?;
    let dir = kernels_dir(location)?.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let spec = serde_json::to_string_pretty(&kernel_json(binary)).context("serialising kernel.json")?;
    for (file, bytes) in [("kernel.json", spec.as_bytes()), ("logo-32x32.png", LOGO_32), ("logo-64x64.png", LOGO_64)] {
        let path = dir.join(file);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}

/// Every folder Jupyter searches for kernelspecs, as jupyter_core orders them: the user's,
/// `$JUPYTER_PATH`, the environment's, then the system's.
fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(dir) = kernels_dir(&Location::User) {
        dirs.push(dir);
    }
    if let Some(paths) = std::env::var_os("JUPYTER_PATH") {
        dirs.extend(std::env::split_paths(&paths).map(|p| p.join("kernels")));
    }
    if let Some(prefix) = std::env::var_os("VIRTUAL_ENV") {
        dirs.push(PathBuf::from(prefix).join("share/jupyter/kernels"));
    }
    dirs.push(PathBuf::from("/usr/local/share/jupyter/kernels"));
    dirs.push(PathBuf::from("/usr/share/jupyter/kernels"));
    dirs
}

/// Installed HelixFold kernelspecs: (name, folder), in search order.
pub fn list() -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for dir in search_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut specs: Vec<(String, PathBuf)> = entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| is_helixfold_spec(&entry.path()))
            .map(|entry| (entry.file_name().to_string_lossy().into_owned(), entry.path()))
            .collect();
        specs.sort();
        found.extend(specs);
    }
    found
}

fn is_helixfold_spec(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("kernel.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|spec| spec["language"] == LANGUAGE)
}

/// Removes every installed HelixFold kernelspec called `name`; returns the folders removed.
pub fn uninstall(name: &str) -> Result<Vec<PathBuf>> {
    check_name(name)?;
    let mut removed = Vec::new();
    for (found, dir) in list() {
        if found == name {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
            removed.push(dir);
        }
    }
    if removed.is_empty() {
        bail!("no HelixFold kernel named '{name}' is installed (see `helixfold kernel list`)");
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_a_spec_with_logos_under_a_prefix() {
        let prefix = tempfile::tempdir().unwrap();
        let location = Location::Prefix(prefix.path().to_path_buf());
        let dir = install(&location, "hf-test", Path::new("/opt/bin/helixfold")).unwrap();
        assert_eq!(dir, prefix.path().join("share/jupyter/kernels/hf-test"));
        let spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("kernel.json")).unwrap()).unwrap();
        assert_eq!(spec["argv"], json!(["/opt/bin/helixfold", "kernel", "--connection-file", "{connection_file}"]));
        assert_eq!(spec["interrupt_mode"], "message");
        let logo = std::fs::read(dir.join("logo-64x64.png")).unwrap();
        assert_eq!(&logo[..8], b"\x89PNG\r\n\x1a\n");
        assert!(is_helixfold_spec(&dir));
    }

    #[test]
    fn rejects_names_jupyter_would_not_accept() {
        assert!(check_name("helixfold-1.0_b").is_ok());
        assert!(check_name("../x").is_err());
        assert!(check_name("").is_err());
    }
}
