//! The kernel's robustness on the wire, spoken directly over ZeroMQ (a DEALER for shell and
//! control, a REQ for the heartbeat), messages framed per the Jupyter messaging protocol 5.3:
//! a bad signature is never executed, malformed frames do not crash it, the heartbeat echoes,
//! queued cells are answered in order, completion and interrupt are served while a cell
//! runs, a long command's progress is one display updated in place, training redraws a live
//! loss plot in place, and `reset` asks for confirmation on the stdin channel.
use helixfold::kernel::message::{KernelSession, Message};
use helixfold::kernel::wire::{self, Signer};
use serde_json::{json, Value};
use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use zeromq::util::PeerIdentity;
use zeromq::{DealerSocket, ReqSocket, Socket, SocketOptions, SocketRecv, SocketSend, SubSocket, ZmqMessage};

const KEY: &str = "7c2d9e4f-test-key";
const TIMEOUT: Duration = Duration::from_secs(20);
/// The routing identity of the test client's shell and stdin sockets: the kernel sends an
/// `input_request` to the stdin socket whose identity is the shell request's (as
/// jupyter_client gives both its session id).
const CLIENT_IDENTITY: &str = "helixfold-test-client";

fn client_dealer() -> DealerSocket {
    let mut options = SocketOptions::default();
    options.peer_identity(PeerIdentity::try_from(CLIENT_IDENTITY.as_bytes().to_vec()).unwrap());
    DealerSocket::with_options(options)
}

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
    stdin_endpoint: String,
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
        let mut shell = client_dealer();
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
        let (iopub_endpoint, stdin_endpoint) = (endpoint(ports[1]), endpoint(ports[2]));
        Some(Self { process, shell, control, heartbeat, signer: Signer::new(KEY), session: KernelSession::new(), iopub_endpoint, stdin_endpoint, _dir: dir })
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

    /// A stdin socket with the shell's identity, so the kernel's questions reach it.
    async fn connect_stdin(&self) -> DealerSocket {
        let mut stdin = client_dealer();
        tokio::time::timeout(TIMEOUT, stdin.connect(&self.stdin_endpoint)).await.expect("stdin connects").unwrap();
        stdin
    }

    /// Runs `code` with `allow_stdin` and waits for its reply.
    async fn execute(&mut self, code: &str, allow_stdin: bool) -> Message {
        let id = self.send_shell("execute_request", json!({"code": code, "silent": false, "allow_stdin": allow_stdin})).await;
        let reply = self.recv_shell().await;
        assert_eq!(reply.parent_header["msg_id"], id.as_str());
        reply
    }

    /// The text output the kernel recorded for the last cell (history with output).
    async fn last_output(&mut self) -> String {
        self.send_shell("history_request", json!({"hist_access_type": "tail", "n": 1, "output": true, "raw": true})).await;
        let reply = self.recv_shell().await;
        reply.content["history"][0][2][1].as_str().unwrap_or_default().to_string()
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

/// `reset` in a cell run with `allow_stdin` sends an `input_request` on stdin to the client
/// that ran it (messaging protocol 5.3, "Messages on the stdin ROUTER/DEALER channel"): "n"
/// keeps the session, "y" resets it. Without stdin, or with `force=true`, nothing is asked,
/// as IPython's `%reset` does.
#[tokio::test]
async fn reset_asks_for_confirmation_on_stdin() {
    let mut kernel = Kernel::start().await;
    let mut stdin = kernel.connect_stdin().await;
    for (answer, seed_after) in [("n", "seed       9"), ("y", "seed       0")] {
        assert_eq!(kernel.execute("data seed=9", false).await.content["status"], "ok");
        let cell = kernel.send_shell("execute_request", json!({"code": "reset", "silent": false, "allow_stdin": true})).await;
        let question = Kernel::recv(&mut stdin, &kernel.signer).await;
        assert_eq!(question.msg_type(), "input_request");
        assert_eq!(question.parent_header["msg_id"], cell.as_str());
        assert!(question.content["prompt"].as_str().unwrap().ends_with("[y/N] "), "{}", question.content);
        let mut reply = kernel.request("input_reply", json!({"status": "ok", "value": answer}));
        reply.parent_header = question.header.clone();
        stdin.send(Kernel::frames(wire::encode(&reply, &kernel.signer))).await.unwrap();
        let done = kernel.recv_shell().await;
        assert_eq!(done.parent_header["msg_id"], cell.as_str());
        assert_eq!(done.content["status"], "ok", "{}", done.content);
        kernel.execute("data", false).await;
        let settings = kernel.last_output().await;
        assert!(settings.contains(seed_after), "after answering {answer:?}: {settings}");
    }
    for code in ["data seed=9\nreset", "data seed=9\nreset force=true"] {
        let allow_stdin = code.ends_with("force=true");
        assert_eq!(kernel.execute(code, allow_stdin).await.content["status"], "ok");
        assert!(tokio::time::timeout(Duration::from_millis(300), stdin.recv()).await.is_err(), "{code}: asked anyway");
        kernel.execute("data", false).await;
        let settings = kernel.last_output().await;
        assert!(settings.contains("seed       0"), "{code}: {settings}");
    }
    kernel.shutdown().await;
}

/// `train step 20` redraws a loss curve every few steps in one display of its own: a
/// `display_data` with an SVG, then `update_display_data` of the same `display_id`.
#[tokio::test]
async fn training_redraws_a_live_loss_plot_in_place() {
    let mut kernel = Kernel::start().await;
    let mut iopub = kernel.subscribe_iopub().await;
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/1a8o.pdb");
    let code = format!("load {demo} name=native\nmodel tiny templates=false\nparams init\ntrain step 20 warmup=0");
    let cell = kernel.send_shell("execute_request", json!({"code": code, "silent": false})).await;
    let mut plots = Vec::new();
    loop {
        let message = kernel.recv_iopub(&mut iopub).await;
        if message.parent_header["msg_id"] != cell.as_str() {
            continue;
        }
        let display_id = message.content["transient"]["display_id"].as_str().unwrap_or_default().to_string();
        match message.msg_type() {
            "display_data" | "update_display_data" if display_id.ends_with("-loss") => {
                let svg = message.content["data"]["image/svg+xml"].as_str().unwrap_or_default();
                assert!(svg.contains("<svg") && svg.contains("Training loss"), "{}", message.content);
                plots.push((message.msg_type().to_string(), display_id));
            }
            "status" if message.content["execution_state"] == "idle" => break,
            _ => {}
        }
    }
    let reply = kernel.recv_shell().await;
    assert_eq!(reply.content["status"], "ok", "{}", reply.content);
    let kinds: Vec<&str> = plots.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["display_data", "update_display_data", "update_display_data", "update_display_data"], "{plots:?}");
    assert!(plots.iter().all(|(_, id)| id == &plots[0].1), "{plots:?}");
    kernel.shutdown().await;
}
