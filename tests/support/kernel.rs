//! A `helixfold kernel` process on ports that were free a moment ago, for tests that drive it
//! with `helixfold::kernel::client`; it is killed when dropped. Kernels of one test binary start
//! one at a time, each holding the start until its ports are taken: two tests choosing ports
//! at once could otherwise be handed the same just-freed ports, and one kernel would fail to
//! bind them.
// Each test file includes this module and uses part of it.
#![allow(dead_code)]
use helixfold::kernel::ConnectionInfo;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Held from choosing ports until the kernel has bound them.
static STARTING: Mutex<()> = Mutex::new(());

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
    let _starting = STARTING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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
    let mut kernel = KernelProcess { child, info: ConnectionInfo::read(&file).unwrap(), dir };
    kernel.wait_until_bound(&ports, Duration::from_secs(30));
    kernel
}

impl KernelProcess {
    /// Waits until every one of `ports` is listening (as Linux's socket table says, so the
    /// probe neither takes a port nor connects), the kernel has exited, or `limit` has passed;
    /// the test's client then reports what it finds.
    fn wait_until_bound(&mut self, ports: &[u16], limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit && matches!(self.child.try_wait(), Ok(None)) {
            let listening = listening_ports();
            if ports.iter().all(|port| listening.contains(port)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Local ports in the LISTEN state (`0A`) in /proc/net/tcp and tcp6.
fn listening_ports() -> Vec<u16> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let port = fields.get(1)?.rsplit(':').next()?;
                    (fields.get(3) == Some(&"0A")).then(|| u16::from_str_radix(port, 16).ok()).flatten()
                })
                .collect::<Vec<u16>>()
        })
        .collect()
}
