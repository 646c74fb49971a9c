//! The connection file a Jupyter kernel is started with: the five ports, the transport, and
//! the HMAC key and scheme that sign every message (Jupyter client documentation, "Connection
//! files"; `jupyter_client/connect.py` writes them).
use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The fields of a connection file this kernel uses (unknown fields such as `kernel_name`
/// are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    #[serde(default = "default_transport")]
    pub transport: String,
    pub ip: String,
    pub shell_port: u16,
    pub iopub_port: u16,
    pub stdin_port: u16,
    pub control_port: u16,
    pub hb_port: u16,
    #[serde(default)]
    pub key: String,
    #[serde(default = "default_signature_scheme")]
    pub signature_scheme: String,
}

fn default_transport() -> String {
    "tcp".into()
}

fn default_signature_scheme() -> String {
    "hmac-sha256".into()
}

impl ConnectionInfo {
    /// Reads and checks a connection file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the connection file {}", path.display()))?;
        let info: Self = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a Jupyter connection file", path.display()))?;
        info.check().with_context(|| format!("{}", path.display()))?;
        Ok(info)
    }

    fn check(&self) -> Result<()> {
        if self.transport != "tcp" && self.transport != "ipc" {
            bail!("transport '{}' is not supported (tcp or ipc)", self.transport);
        }
        if self.signature_scheme != "hmac-sha256" {
            bail!("signature scheme '{}' is not supported (hmac-sha256)", self.signature_scheme);
        }
        Ok(())
    }

    /// The ZeroMQ endpoint of one port: `tcp://IP:PORT`, or `ipc://IP-PORT` as
    /// jupyter_client names IPC sockets. A wildcard IP (`*`) binds every interface.
    pub fn endpoint(&self, port: u16) -> String {
        match self.transport.as_str() {
            "ipc" => format!("ipc://{}-{port}", self.ip),
            _ => {
                let ip = if self.ip == "*" { "0.0.0.0" } else { self.ip.as_str() };
                format!("tcp://{ip}:{port}")
            }
        }
    }

    /// The endpoint a client connects to: as [`ConnectionInfo::endpoint`], with a wildcard
    /// address (`*`, `0.0.0.0`) replaced by the loopback one.
    pub fn client_endpoint(&self, port: u16) -> String {
        if self.transport == "tcp" && (self.ip == "*" || self.ip == "0.0.0.0") {
            return format!("tcp://127.0.0.1:{port}");
        }
        self.endpoint(port)
    }
}

/// Jupyter's runtime directory, where kernels' connection files live (`jupyter --runtime-dir`):
/// `$JUPYTER_RUNTIME_DIR`, else `runtime` under the user data directory.
pub fn runtime_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("JUPYTER_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(super::kernelspec::user_data_dir()?.join("runtime"))
}

/// A connection file given as a path, or as a name in the runtime directory with or without
/// `.json` (`kernel-1234`, as `jupyter console --existing` accepts).
pub fn resolve_connection_file(file_or_name: &str) -> Result<PathBuf> {
    let given = PathBuf::from(file_or_name);
    if given.is_file() {
        return Ok(given);
    }
    let runtime = runtime_dir()?;
    let mut candidates = vec![runtime.join(file_or_name)];
    if !file_or_name.ends_with(".json") {
        candidates.push(runtime.join(format!("{file_or_name}.json")));
    }
    candidates.into_iter().find(|c| c.is_file()).with_context(|| {
        format!("no connection file '{file_or_name}' (neither a file nor in the Jupyter runtime directory {})", runtime.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout `jupyter_client.connect.write_connection_file` writes.
    const SAMPLE: &str = r#"{"shell_port": 50001, "iopub_port": 50002, "stdin_port": 50003,
        "control_port": 50004, "hb_port": 50005, "ip": "127.0.0.1", "key": "a0b1",
        "transport": "tcp", "signature_scheme": "hmac-sha256", "kernel_name": "helixfold"}"#;

    #[test]
    fn reads_a_jupyter_client_connection_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kernel-1.json");
        std::fs::write(&path, SAMPLE).unwrap();
        let info = ConnectionInfo::read(&path).unwrap();
        assert_eq!(info.endpoint(info.shell_port), "tcp://127.0.0.1:50001");
        assert_eq!(info.key, "a0b1");
    }

    #[test]
    fn resolves_names_in_the_runtime_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kernel-42.json"), SAMPLE).unwrap();
        std::env::set_var("JUPYTER_RUNTIME_DIR", dir.path());
        let by_name = resolve_connection_file("kernel-42").unwrap();
        assert_eq!(by_name, dir.path().join("kernel-42.json"));
        assert_eq!(resolve_connection_file("kernel-42.json").unwrap(), by_name);
        let by_path = by_name.to_string_lossy().to_string();
        assert_eq!(resolve_connection_file(&by_path).unwrap(), by_name);
        let err = resolve_connection_file("kernel-7").unwrap_err().to_string();
        assert!(err.contains("no connection file 'kernel-7'"), "{err}");
        let info = ConnectionInfo { ip: "0.0.0.0".into(), ..ConnectionInfo::read(&by_name).unwrap() };
        assert!(info.client_endpoint(5).starts_with("tcp://127.0.0.1:"), "{}", info.client_endpoint(5));
    }

    #[test]
    fn rejects_an_unknown_scheme_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, SAMPLE.replace("hmac-sha256", "hmac-md5")).unwrap();
        let error = format!("{:#}", ConnectionInfo::read(&path).unwrap_err());
        assert!(error.contains("bad.json") && error.contains("hmac-md5"), "{error}");
    }
}
