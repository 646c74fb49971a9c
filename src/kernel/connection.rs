//! The connection file a Jupyter kernel is started with: the five ports, the transport, and
//! the HMAC key and scheme that sign every message (Jupyter client documentation, "Connection
//! files"; `jupyter_client/connect.py` writes them).
use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

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
    fn rejects_an_unknown_scheme_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, SAMPLE.replace("hmac-sha256", "hmac-md5")).unwrap();
        let error = format!("{:#}", ConnectionInfo::read(&path).unwrap_err());
        assert!(error.contains("bad.json") && error.contains("hmac-md5"), "{error}");
    }
}
