//! A `helixfold kernel` process on ports that were free a moment ago, for tests that drive it
//! with `helixfold::kernel::client`; it is killed when dropped.
// Each test file includes this module and uses part of it.
#![allow(dead_code)]
use helixfold::kernel::ConnectionInfo;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct KernelProcess {
    child: Child,
    pub info: ConnectionInfo,
    /// Holds the connection file `kernel-test.json`.
    pub dir: tempfile::TempDir,
}

impl Drop for KernelProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A kernel with the test's environment.
pub fn start_kernel() -> KernelProcess {
    start_kernel_with(&[])
}

/// A kernel with `env` added to the test's environment.
pub fn start_kernel_with(env: &[(&str, &OsStr)]) -> KernelProcess {
    start_kernel_from(Path::new(env!("CARGO_BIN_EXE_helixfold")), env)
}

/// The kernel of the `helixfold` executable at `program`, with `env` added.
pub fn start_kernel_from(program: &Path, env: &[(&str, &OsStr)]) -> KernelProcess {
    let dir = tempfile::tempdir().unwrap();
    let listeners: Vec<_> = (0..5).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    let ports: Vec<u16> = listeners.iter().map(|l| l.local_addr().unwrap().port()).collect();
    drop(listeners);
    let file = dir.path().join("kernel-test.json");
    let text = serde_json::json!({
        "transport": "tcp", "ip": "127.0.0.1", "key": "client-test-key", "signature_scheme": "hmac-sha256",
        "shell_port": ports[0], "iopub_port": ports[1], "stdin_port": ports[2],
        "control_port": ports[3], "hb_port": ports[4],
    });
    std::fs::write(&file, text.to_string()).unwrap();
    let child = Command::new(program)
        .args(["kernel", "--connection-file"])
        .arg(&file)
        .envs(env.iter().copied())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    KernelProcess { child, info: ConnectionInfo::read(&file).unwrap(), dir }
}
