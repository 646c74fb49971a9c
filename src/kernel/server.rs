//! The kernel's sockets and event loop (messaging protocol 5.3, "Introduction": shell and
//! control ROUTER, IOPub PUB, stdin ROUTER, heartbeat REP echo) on the `zeromq` crate and a
//! single-threaded tokio runtime. Every incoming message is verified before it is parsed; a
//! bad signature or a malformed frame is reported on stderr and dropped. Cells run on the
//! session thread ([`super::execute`]); everything else is answered here at once. The stdin
//! channel carries the session thread's `input_request`s to the client that ran the cell
//! (routed by that client's identity, which Jupyter clients give their shell and stdin sockets
//! alike) and its `input_reply`s back.
use super::connection::ConnectionInfo;
use super::execute::{Executor, Outgoing};
use super::history::History;
use super::introspection;
use super::message::{KernelSession, Message};
use super::wire::{self, Signer};
use anyhow::{Context as _, Result};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use zeromq::{PubSocket, RepSocket, RouterSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

/// Serves the kernel described by `info` until a `shutdown_request`.
pub fn run(info: &ConnectionInfo) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(info))
}

async fn bind<S: Socket>(info: &ConnectionInfo, port: u16, name: &str) -> Result<S> {
    let mut socket = S::new();
    let endpoint = info.endpoint(port);
    socket.bind(&endpoint).await.with_context(|| format!("binding the {name} socket to {endpoint}"))?;
    Ok(socket)
}

fn frames_of(message: ZmqMessage) -> Vec<Vec<u8>> {
    message.into_vec().iter().map(|frame| frame.to_vec()).collect()
}

/// A multipart ZeroMQ message of `frames` (`None` for no frames).
pub(super) fn zmq_message(frames: Vec<Vec<u8>>) -> Option<ZmqMessage> {
    let mut frames = frames.into_iter();
    let mut message = ZmqMessage::from(frames.next()?);
    for frame in frames {
        message.push_back(frame.into());
    }
    Some(message)
}

/// Which socket a request came in on.
#[derive(Clone, Copy, PartialEq)]
enum Channel {
    Shell,
    Control,
}

/// Whether the loop goes on after a request.
#[derive(PartialEq)]
enum Flow {
    Continue,
    Shutdown,
}

struct Kernel {
    signer: Signer,
    session: KernelSession,
    history: Arc<Mutex<History>>,
    executor: Executor,
    shell: RouterSocket,
    control: RouterSocket,
    stdin: RouterSocket,
    iopub: PubSocket,
}

async fn serve(info: &ConnectionInfo) -> Result<()> {
    let shell: RouterSocket = bind(info, info.shell_port, "shell").await?;
    let control: RouterSocket = bind(info, info.control_port, "control").await?;
    let stdin: RouterSocket = bind(info, info.stdin_port, "stdin").await?;
    let iopub: PubSocket = bind(info, info.iopub_port, "iopub").await?;
    let mut heartbeat: RepSocket = bind(info, info.hb_port, "heartbeat").await?;
    tokio::spawn(async move {
        while let Ok(ping) = heartbeat.recv().await {
            if heartbeat.send(ping).await.is_err() {
                break;
            }
        }
    });
    let session = KernelSession::new();
    let history = Arc::new(Mutex::new(History::default()));
    let (out, mut outgoing) = tokio::sync::mpsc::unbounded_channel();
    let executor = Executor::spawn(session.clone(), Arc::clone(&history), out)?;
    let mut kernel =
        Kernel { signer: Signer::new(&info.key), session, history, executor, shell, control, stdin, iopub };
    loop {
        let flow = tokio::select! {
            received = kernel.shell.recv() => kernel.receive(received, Channel::Shell).await,
            received = kernel.control.recv() => kernel.receive(received, Channel::Control).await,
            received = kernel.stdin.recv() => {
                kernel.receive_input(received);
                Flow::Continue
            }
            Some(message) = outgoing.recv() => {
                kernel.send(message).await;
                Flow::Continue
            }
        };
        if flow == Flow::Shutdown {
            return Ok(());
        }
    }
}

impl Kernel {
    async fn receive(&mut self, received: zeromq::ZmqResult<ZmqMessage>, channel: Channel) -> Flow {
        let name = if channel == Channel::Shell { "shell" } else { "control" };
        let frames = match received {
            Ok(message) => frames_of(message),
            Err(error) => {
                eprintln!("helixfold kernel: {name}: receive failed: {error}");
                return Flow::Continue;
            }
        };
        match wire::decode(frames, &self.signer) {
            Ok(request) => self.handle(request, channel).await,
            Err(error) => {
                eprintln!("helixfold kernel: {name}: dropped a message: {error:#}");
                Flow::Continue
            }
        }
    }

    /// Passes an `input_reply` to the session thread; anything else on stdin is dropped.
    fn receive_input(&mut self, received: zeromq::ZmqResult<ZmqMessage>) {
        let decoded = match received {
            Ok(message) => wire::decode(frames_of(message), &self.signer),
            Err(error) => {
                eprintln!("helixfold kernel: stdin: receive failed: {error}");
                return;
            }
        };
        match decoded {
            Ok(reply) if reply.msg_type() == "input_reply" => self.executor.answer(reply),
            Ok(other) => eprintln!("helixfold kernel: stdin: ignoring a message of type '{}'", other.msg_type()),
            Err(error) => eprintln!("helixfold kernel: stdin: dropped a message: {error:#}"),
        }
    }

    async fn send(&mut self, outgoing: Outgoing) {
        let (socket_name, message) = match &outgoing {
            Outgoing::Shell(message) => ("shell", message),
            Outgoing::Iopub(message) => ("iopub", message),
            Outgoing::Stdin(message) => ("stdin", message),
        };
        let Some(frames) = zmq_message(wire::encode(message, &self.signer)) else { return };
        let sent = match &outgoing {
            Outgoing::Shell(_) => self.shell.send(frames).await,
            Outgoing::Iopub(_) => self.iopub.send(frames).await,
            Outgoing::Stdin(question) => {
                let sent = self.stdin.send(frames).await;
                if sent.is_err() {
                    // A question that cannot reach its client (no stdin socket with the shell's
                    // identity) is answered with an empty line, the default "no", rather than
                    // waited on for ever.
                    self.executor.answer(self.session.reply(question, "input_reply", json!({"value": ""})));
                }
                sent
            }
        };
        if let Err(error) = sent {
            eprintln!("helixfold kernel: {socket_name}: send failed: {error}");
        }
    }

    async fn reply(&mut self, request: &Message, channel: Channel, content: Value) {
        let msg_type = request.msg_type().replace("_request", "_reply");
        let reply = self.session.reply(request, &msg_type, content);
        let Some(frames) = zmq_message(wire::encode(&reply, &self.signer)) else { return };
        let sent = match channel {
            Channel::Shell => self.shell.send(frames).await,
            Channel::Control => self.control.send(frames).await,
        };
        if let Err(error) = sent {
            eprintln!("helixfold kernel: {msg_type}: send failed: {error}");
        }
    }

    async fn publish_status(&mut self, parent: &Message, state: &str) {
        let status = self.session.broadcast(parent, "status", json!({"execution_state": state}));
        self.send(Outgoing::Iopub(status)).await;
    }

    async fn handle(&mut self, request: Message, channel: Channel) -> Flow {
        if request.msg_type() == "execute_request" && channel == Channel::Shell {
            if let Err(error) = self.executor.submit(request) {
                eprintln!("helixfold kernel: {error:#}");
            }
            return Flow::Continue;
        }
        // Busy/idle frame every other request, except while a cell runs: an `idle` then
        // would tell front ends the cell had finished.
        let report_status = !self.executor.is_busy();
        if report_status {
            self.publish_status(&request, "busy").await;
        }
        let flow = self.answer(&request, channel).await;
        if report_status {
            self.publish_status(&request, "idle").await;
        }
        flow
    }

    async fn answer(&mut self, request: &Message, channel: Channel) -> Flow {
        let cursor = request.content["cursor_pos"].as_u64().unwrap_or(u64::MAX) as usize;
        let code = request.text("code", "");
        let content = match request.msg_type() {
            "kernel_info_request" => introspection::kernel_info(),
            "complete_request" => introspection::complete(code, cursor),
            "inspect_request" => introspection::inspect(code, cursor),
            "is_complete_request" => introspection::is_complete(code),
            "history_request" => {
                let history = self.history.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                history.reply(&request.content)
            }
            "comm_info_request" => json!({"status": "ok", "comms": {}}),
            "interrupt_request" => {
                self.executor.interrupt();
                json!({"status": "ok"})
            }
            "shutdown_request" => {
                let restart = request.flag("restart", false);
                self.reply(request, channel, json!({"status": "ok", "restart": restart})).await;
                return Flow::Shutdown;
            }
            other => {
                eprintln!("helixfold kernel: ignoring a message of unknown type '{other}'");
                return Flow::Continue;
            }
        };
        self.reply(request, channel, content).await;
        Flow::Continue
    }
}
