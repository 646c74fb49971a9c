//! The kernel's robustness on the wire, spoken directly over ZeroMQ (a DEALER for shell and
//! control, a REQ for the heartbeat), messages framed per the Jupyter messaging protocol 5.3:
//! a bad signature is never executed, malformed frames do not crash it, the heartbeat echoes,
//! queued cells are answered in order, completion and interrupt are served while a cell
//! runs, and a long command's progress is one display updated in place.
use helixfold::kernel::message::{KernelSession, Message};
use helixfold::kernel::wire::{self, Signer};
use serde_json::{json, Value};
use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use zeromq::{DealerSocket, ReqSocket, Socket, SocketRecv, SocketSend, SubSocket, ZmqMessage};

const KEY: &str = "7c2d9e4f-test-key";
const TIMEOUT: Duration = Duration::from_secs(20);

/// Ports the OS reports free right now (the kernel binds them a moment later).
fn free_ports() -> Vec<u16> {
    let listeners: Vec<_> = (0..5).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

struct Kernel {
    process: Child,
    shell: DealerSocket,
    control: DealerSocket,
    heartbeat: ReqSocket,
    signer: Signer,
    session: KernelSession,
    iopub_endpoint: String,
    _dir: tempfile::TempDir,
}

impl Kernel {
    /// Starts a kernel on ports free a moment ago. Another process can take one of them in
    /// between, and then the kernel exits at once: that start is retried on fresh ports rather
    /// than left to hang the test on a socket nobody listens to.
    async fn start() -> Self {
        for _ in 0..5 {
            if let Some(kernel) = Self::try_start().await {
                return kernel;
            }
        }
        panic!("the kernel did not start in 5 attempts");
    }

    async fn try_start() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let ports = free_ports();
        let info = json!({
            "transport": "tcp", "ip": "127.0.0.1", "key": KEY, "signature_scheme": "hmac-sha256",
            "shell_port": ports[0], "iopub_port": ports[1], "stdin_port": ports[2],
            "control_port": ports[3], "hb_port": ports[4],
        });
        let file = dir.path().join("kernel.json");
        std::fs::write(&file, info.to_string()).unwrap();
        let mut process = Command::new(env!("CARGO_BIN_EXE_helixfold"))
            .args(["kernel", "--connection-file"])
            .arg(&file)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let endpoint = |port: u16| format!("tcp://127.0.0.1:{port}");
        let mut shell = DealerSocket::new();
        let mut control = DealerSocket::new();
        let mut heartbeat = ReqSocket::new();
        // `connect` waits until the kernel, just started, listens: bounded, and a heartbeat
        // must come back before the kernel counts as started.
        let connected = tokio::time::timeout(TIMEOUT, async {
            shell.connect(&endpoint(ports[0])).await.unwrap();
            control.connect(&endpoint(ports[3])).await.unwrap();
            heartbeat.connect(&endpoint(ports[4])).await.unwrap();
            heartbeat.send(ZmqMessage::from(b"start".to_vec())).await.unwrap();
            heartbeat.recv().await.unwrap();
        })
        .await;
        if connected.is_err() {
            let _ = process.kill();
            let _ = process.wait();
            return None;
        }
        let iopub_endpoint = endpoint(ports[1]);
        Some(Self { process, shell, control, heartbeat, signer: Signer::new(KEY), session: KernelSession::new(), iopub_endpoint, _dir: dir })
    }

    fn request(&self, msg_type: &str, content: Value) -> Message {
        Message {
            identities: Vec::new(),
            header: self.session.header(msg_type),
            parent_header: json!({}),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
        }
    }

    fn frames(message: Vec<Vec<u8>>) -> ZmqMessage {
        let mut frames = message.into_iter();
        let mut zmq = ZmqMessage::from(frames.next().unwrap());
        frames.for_each(|f| zmq.push_back(f.into()));
        zmq
    }

    /// Sends a request on shell; returns its msg_id.
    async fn send_shell(&mut self, msg_type: &str, content: Value) -> String {
        let request = self.request(msg_type, content);
        self.shell.send(Self::frames(wire::encode(&request, &self.signer))).await.unwrap();
        request.msg_id().to_string()
    }

    async fn recv(socket: &mut DealerSocket, signer: &Signer) -> Message {
        let received = tokio::time::timeout(TIMEOUT, socket.recv()).await.expect("no reply in time").unwrap();
        wire::decode(received.into_vec().iter().map(|f| f.to_vec()).collect(), signer).unwrap()
    }

    async fn recv_shell(&mut self) -> Message {
        Self::recv(&mut self.shell, &self.signer).await
    }

    /// An iopub subscriber that receives everything published from now on. A subscription
    /// reaches the kernel asynchronously, so cells are run until one of them is seen on iopub.
    async fn subscribe_iopub(&mut self) -> SubSocket {
        let mut iopub = SubSocket::new();
        iopub.connect(&self.iopub_endpoint).await.unwrap();
        iopub.subscribe("").await.unwrap();
        for _ in 0..100 {
            self.send_shell("execute_request", json!({"code": "echo ready", "silent": false})).await;
            self.recv_shell().await;
            if tokio::time::timeout(Duration::from_millis(200), iopub.recv()).await.is_ok() {
                return iopub;
            }
        }
        panic!("nothing arrived on iopub");
    }

    async fn recv_iopub(&self, iopub: &mut SubSocket) -> Message {
        let received = tokio::time::timeout(TIMEOUT, iopub.recv()).await.expect("no iopub message in time").unwrap();
        wire::decode(received.into_vec().iter().map(|f| f.to_vec()).collect(), &self.signer).unwrap()
    }

    async fn shutdown(&mut self) -> String {
        let request = self.request("shutdown_request", json!({"restart": false}));
        self.control.send(Self::frames(wire::encode(&request, &self.signer))).await.unwrap();
        let reply = Self::recv(&mut self.control, &self.signer).await;
        assert_eq!(reply.msg_type(), "shutdown_reply");
        // Blocking is fine here: nothing else is left to run on this runtime.
        let status = self.process.wait().unwrap();
        assert!(status.success(), "kernel exit status {status:?}");
        let mut stderr = String::new();
        self.process.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        stderr
    }
}

impl Drop for Kernel {
    /// A failed test must not leave its kernel running.
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[tokio::test]
async fn bad_signatures_and_malformed_frames_are_dropped_and_the_heartbeat_echoes() {
    let mut kernel = Kernel::start().await;
    let forged = kernel.request("execute_request", json!({"code": "echo forged", "silent": false}));
    let mut frames = wire::encode(&forged, &Signer::new("not-the-key"));
    kernel.shell.send(Kernel::frames(frames.clone())).await.unwrap();
    // Correctly signed, but the header is not JSON.
    frames[2] = b"{not json".to_vec();
    let signature = kernel.signer.sign(&[frames[2].as_slice(), frames[3].as_slice(), frames[4].as_slice(), frames[5].as_slice()]);
    frames[1] = signature.into_bytes();
    kernel.shell.send(Kernel::frames(frames)).await.unwrap();
    kernel.shell.send(ZmqMessage::from(b"no delimiter".to_vec())).await.unwrap();

    let id = kernel.send_shell("history_request", json!({"hist_access_type": "tail", "n": 10, "output": false, "raw": true})).await;
    let reply = kernel.recv_shell().await;
    assert_eq!(reply.parent_header["msg_id"], id.as_str());
    assert_eq!(reply.content["history"], json!([]), "the forged cell must not have run");

    kernel.heartbeat.send(ZmqMessage::from(b"ping".to_vec())).await.unwrap();
    let pong = tokio::time::timeout(TIMEOUT, kernel.heartbeat.recv()).await.unwrap().unwrap();
    assert_eq!(pong.into_vec()[0].to_vec(), b"ping".to_vec());

    let stderr = kernel.shutdown().await;
    assert!(stderr.contains("invalid signature"), "{stderr}");
    assert!(stderr.contains("header frame is not JSON"), "{stderr}");
}

#[tokio::test]
async fn a_hundred_queued_cells_are_answered_in_order() {
    let mut kernel = Kernel::start().await;
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(kernel.send_shell("execute_request", json!({"code": format!("echo {i}"), "silent": false})).await);
    }
    for (i, id) in ids.iter().enumerate() {
        let reply = kernel.recv_shell().await;
        assert_eq!(reply.msg_type(), "execute_reply");
        assert_eq!(reply.parent_header["msg_id"], id.as_str(), "reply {i} out of order");
        assert_eq!(reply.content["status"], "ok");
        assert_eq!(reply.content["execution_count"], i + 1);
    }
    kernel.shutdown().await;
}

#[tokio::test]
async fn completion_and_interrupt_are_served_while_a_cell_runs() {
    let mut kernel = Kernel::start().await;
    let cell = kernel.send_shell("execute_request", json!({"code": "sleep 60", "silent": false})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let complete = kernel.send_shell("complete_request", json!({"code": "he", "cursor_pos": 2})).await;
    let reply = kernel.recv_shell().await;
    assert_eq!(reply.parent_header["msg_id"], complete.as_str(), "completion waited for the cell");
    assert_eq!(reply.content["matches"], json!(["help"]));

    let interrupt = kernel.request("interrupt_request", json!({}));
    kernel.control.send(Kernel::frames(wire::encode(&interrupt, &kernel.signer))).await.unwrap();
    let reply = Kernel::recv(&mut kernel.control, &kernel.signer).await;
    assert_eq!(reply.msg_type(), "interrupt_reply");
    let reply = kernel.recv_shell().await;
    assert_eq!(reply.parent_header["msg_id"], cell.as_str());
    assert_eq!(reply.content["status"], "error");
    assert_eq!(reply.content["ename"], "Interrupted");
    kernel.shutdown().await;
}

/// `infer` reports each iteration; the notebook sees one `display_data` with a
/// `transient.display_id`, then `update_display_data` of the same display (messaging protocol
/// 5.3, "Update Display Data").
#[tokio::test]
async fn progress_is_one_display_updated_in_place() {
    let mut kernel = Kernel::start().await;
    let mut iopub = kernel.subscribe_iopub().await;
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/1a8o.pdb");
    let code = format!(
        "load {demo} name=native\nfeatures from=native recycles=2\nmodel tiny templates=false\nparams init\ninfer recycles=2"
    );
    let cell = kernel.send_shell("execute_request", json!({"code": code, "silent": false})).await;
    let mut displays = Vec::new();
    loop {
        let message = kernel.recv_iopub(&mut iopub).await;
        if message.parent_header["msg_id"] != cell.as_str() {
            continue;
        }
        match message.msg_type() {
            "display_data" | "update_display_data" if !message.content["transient"]["display_id"].is_null() => displays.push((
                message.msg_type().to_string(),
                message.content["transient"]["display_id"].as_str().unwrap().to_string(),
                message.content["data"]["text/plain"].as_str().unwrap().to_string(),
            )),
            "status" if message.content["execution_state"] == "idle" => break,
            _ => {}
        }
    }
    let reply = kernel.recv_shell().await;
    assert_eq!(reply.content["status"], "ok", "{}", reply.content);
    let kinds: Vec<&str> = displays.iter().map(|(kind, _, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["display_data", "update_display_data", "update_display_data"], "{displays:?}");
    assert!(displays.iter().all(|(_, id, _)| id == &displays[0].1), "{displays:?}");
    assert!(displays[2].2.starts_with("infer: 3/3 iteration 3 of 3"), "{displays:?}");
    kernel.shutdown().await;
}
