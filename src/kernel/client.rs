//! A Jupyter client of a running kernel (messaging protocol 5.3), as `jupyter console
//! --existing` is one: shell and control DEALERs and an IOPub SUB socket on the kernel's ports,
//! every message signed with the connection file's key. The terminal REPL uses it to attach to
//! a notebook's kernel, so both drive one session.
//!
//! The sockets live on a background thread with its own single-threaded tokio runtime; the
//! caller talks to it through channels and stays synchronous. IOPub carries every client's
//! traffic: [`KernelClient::execute`] hands the caller its own cell's messages and the others'
//! alike (marked by [`Event::mine`]), so outputs from a notebook show up in the terminal too.
use super::connection::ConnectionInfo;
use super::message::{KernelSession, Message};
use super::server::zmq_message;
use super::wire::{self, Signer};
use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use zeromq::{DealerSocket, Socket, SocketRecv, SocketSend, SubSocket, ZmqMessage};

/// How long a request may wait for the kernel's reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may wait for the kernel's sockets.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which socket a message travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Shell,
    Control,
    Iopub,
}

/// A message from the kernel, as the background thread received it.
#[derive(Debug, Clone)]
pub struct Event {
    pub channel: Channel,
    pub message: Message,
    /// Whether it answers, or was published for, the request the caller is waiting on.
    pub mine: bool,
}

/// Sends `interrupt_request`s from any thread (e.g. a Ctrl-C handler) while a cell runs.
#[derive(Clone)]
pub struct Interrupter {
    requests: UnboundedSender<(Channel, Message)>,
    session: KernelSession,
}

impl Interrupter {
    pub fn interrupt(&self) -> Result<()> {
        let request = request(&self.session, "interrupt_request", json!({}));
        self.requests
            .send((Channel::Control, request))
            .map_err(|_| anyhow::anyhow!("the connection to the kernel is closed"))
    }
}

/// A connected client.
pub struct KernelClient {
    requests: UnboundedSender<(Channel, Message)>,
    incoming: Receiver<(Channel, Message)>,
    session: KernelSession,
    /// Where the kernel listens, for messages.
    endpoint: String,
}

fn request(session: &KernelSession, msg_type: &str, content: Value) -> Message {
    Message {
        identities: Vec::new(),
        header: session.header(msg_type),
        parent_header: json!({}),
        metadata: json!({}),
        content,
        buffers: Vec::new(),
    }
}

impl KernelClient {
    /// Connects to the kernel of `info` and checks that it answers `kernel_info_request`.
    pub fn connect(info: &ConnectionInfo) -> Result<Self> {
        let (requests, mut outgoing) = unbounded_channel::<(Channel, Message)>();
        let (incoming_sender, incoming) = std::sync::mpsc::channel();
        let (ready_sender, ready) = std::sync::mpsc::channel::<Result<()>>();
        let info_for_thread = info.clone();
        std::thread::Builder::new()
            .name("helixfold-kernel-client".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready_sender.send(Err(error).context("starting the async runtime"));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let info = info_for_thread;
                    let mut shell = DealerSocket::new();
                    let mut control = DealerSocket::new();
                    let mut iopub = SubSocket::new();
                    // zeromq's connect waits for a listener, so it is bounded here.
                    let connecting = async {
                        shell.connect(&info.client_endpoint(info.shell_port)).await.context("connecting shell")?;
                        control.connect(&info.client_endpoint(info.control_port)).await.context("connecting control")?;
                        iopub.connect(&info.client_endpoint(info.iopub_port)).await.context("connecting iopub")?;
                        iopub.subscribe("").await.context("subscribing to iopub")
                    };
                    let connected = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
                        Ok(result) => result,
                        Err(_) => Err(anyhow::anyhow!("nothing listens there (waited {} s)", CONNECT_TIMEOUT.as_secs())),
                    };
                    let failed = connected.is_err();
                    let _ = ready_sender.send(connected);
                    if failed {
                        return;
                    }
                    let signer = Signer::new(&info.key);
                    let deliver = |channel: Channel, received: zeromq::ZmqResult<ZmqMessage>| -> bool {
                        let Ok(message) = received else { return false };
                        let frames = message.into_vec().iter().map(|f| f.to_vec()).collect();
                        match wire::decode(frames, &signer) {
                            Ok(message) => incoming_sender.send((channel, message)).is_ok(),
                            // A message that fails verification is not from our kernel: drop it.
                            Err(_) => true,
                        }
                    };
                    loop {
                        let alive = tokio::select! {
                            request = outgoing.recv() => match request {
                                Some((channel, message)) => {
                                    let Some(frames) = zmq_message(wire::encode(&message, &signer)) else { continue };
                                    let sent = match channel {
                                        Channel::Control => control.send(frames).await,
                                        _ => shell.send(frames).await,
                                    };
                                    sent.is_ok()
                                }
                                None => false,
                            },
                            received = shell.recv() => deliver(Channel::Shell, received),
                            received = control.recv() => deliver(Channel::Control, received),
                            received = iopub.recv() => deliver(Channel::Iopub, received),
                        };
                        if !alive {
                            break;
                        }
                    }
                });
            })
            .context("starting the kernel client thread")?;
        let endpoint = info.client_endpoint(info.shell_port);
        ready
            .recv()
            .context("the kernel client thread stopped")?
            .with_context(|| format!("no kernel answered at {endpoint}"))?;
        let client = KernelClient {
            requests,
            incoming,
            session: KernelSession::new(),
            endpoint,
        };
        client
            .shell_request("kernel_info_request", json!({}), CONNECT_TIMEOUT, |_| {})
            .with_context(|| format!("no kernel answered at {}", client.endpoint))?;
        Ok(client)
    }

    /// Reads a connection file, or a name under the Jupyter runtime directory
    /// (`kernel-1234.json`, with or without `.json`), and connects.
    pub fn connect_to(file_or_name: &str) -> Result<Self> {
        let path = super::connection::resolve_connection_file(file_or_name)?;
        let info = ConnectionInfo::read(&path)?;
        Self::connect(&info).with_context(|| format!("attaching to the kernel of {}", path.display()))
    }

    pub fn interrupter(&self) -> Interrupter {
        Interrupter { requests: self.requests.clone(), session: self.session.clone() }
    }

    fn send(&self, channel: Channel, message: Message) -> Result<()> {
        self.requests
            .send((channel, message))
            .map_err(|_| anyhow::anyhow!("the connection to the kernel at {} is closed", self.endpoint))
    }

    /// Sends a shell request and waits for its reply, passing everything else to `on_event`.
    fn shell_request(&self, msg_type: &str, content: Value, timeout: Duration, mut on_event: impl FnMut(Event)) -> Result<Value> {
        let message = request(&self.session, msg_type, content);
        let id = message.msg_id().to_string();
        self.send(Channel::Shell, message)?;
        let deadline = Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let (channel, message) = match self.incoming.recv_timeout(remaining) {
                Ok(received) => received,
                Err(RecvTimeoutError::Timeout) => bail!("no {msg_type} reply within {} s", timeout.as_secs()),
                Err(RecvTimeoutError::Disconnected) => bail!("the connection to the kernel closed"),
            };
            let mine = message.parent_header["msg_id"].as_str() == Some(id.as_str());
            if mine && channel == Channel::Shell {
                return Ok(message.content);
            }
            on_event(Event { channel, message, mine });
        }
    }

    /// The kernel's `kernel_info_reply` content.
    pub fn kernel_info(&self) -> Result<Value> {
        self.shell_request("kernel_info_request", json!({}), REPLY_TIMEOUT, |_| {})
    }

    /// Completions of `code` at byte offset `cursor`: the matches and the replaced range.
    pub fn complete(&self, code: &str, cursor: usize) -> Result<(Vec<String>, usize, usize)> {
        let reply = self.shell_request("complete_request", json!({"code": code, "cursor_pos": cursor}), REPLY_TIMEOUT, |_| {})?;
        let matches = reply["matches"]
            .as_array()
            .map(|m| m.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let start = reply["cursor_start"].as_u64().unwrap_or(cursor as u64) as usize;
        let end = reply["cursor_end"].as_u64().unwrap_or(cursor as u64) as usize;
        Ok((matches, start, end))
    }

    /// Runs `code` as a cell and returns the `execute_reply` content once the kernel is idle
    /// again. Every IOPub message that arrives meanwhile, this cell's and other clients', goes
    /// to `on_event`. No time limit: cells (training) may run for hours; interrupt instead.
    pub fn execute(&self, code: &str, mut on_event: impl FnMut(Event)) -> Result<Value> {
        let message = request(
            &self.session,
            "execute_request",
            json!({"code": code, "silent": false, "store_history": true,
                   "user_expressions": {}, "allow_stdin": false, "stop_on_error": true}),
        );
        let id = message.msg_id().to_string();
        self.send(Channel::Shell, message)?;
        let (mut reply, mut idle) = (None, false);
        while reply.is_none() || !idle {
            let (channel, message) = self.incoming.recv().context("the connection to the kernel closed")?;
            let mine = message.parent_header["msg_id"].as_str() == Some(id.as_str());
            match (mine, channel) {
                (true, Channel::Shell) => reply = Some(message.content),
                (true, Channel::Iopub) if message.msg_type() == "status" => {
                    idle = message.content["execution_state"] == "idle";
                }
                _ => on_event(Event { channel, message, mine }),
            }
        }
        Ok(reply.unwrap_or(Value::Null))
    }

    /// Messages that arrived while no request was waiting (other clients' cells), without
    /// blocking.
    pub fn pending_events(&self) -> Vec<Event> {
        self.incoming
            .try_iter()
            .map(|(channel, message)| Event { channel, message, mine: false })
            .collect()
    }
}

/// Where an output goes in a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The terminal text of an IOPub message: streams as they are, rich outputs by their
/// `text/plain`, errors by their traceback, and another client's cell by its input. Status
/// and other bookkeeping messages give `None`.
pub fn terminal_text(event: &Event) -> Option<(Stream, String)> {
    let content = &event.message.content;
    let text = |value: &Value| value.as_str().map(str::to_string);
    match event.message.msg_type() {
        "stream" => {
            let stream = if content["name"] == "stderr" { Stream::Stderr } else { Stream::Stdout };
            Some((stream, text(&content["text"])?))
        }
        "display_data" | "update_display_data" | "execute_result" => {
            let plain = text(&content["data"]["text/plain"])?;
            Some((Stream::Stdout, format!("{}\n", plain.trim_end())))
        }
        "error" => {
            let lines: Vec<String> = content["traceback"]
                .as_array()
                .map(|t| t.iter().filter_map(text).collect())
                .unwrap_or_default();
            let body = if lines.is_empty() {
                format!("{}: {}", content["ename"].as_str().unwrap_or("error"), content["evalue"].as_str().unwrap_or(""))
            } else {
                lines.join("\n")
            };
            Some((Stream::Stderr, format!("{}\n", body.trim_end())))
        }
        "execute_input" if !event.mine => {
            let count = content["execution_count"].as_u64().unwrap_or(0);
            Some((Stream::Stdout, format!("[another client, In {count}]: {}\n", content["code"].as_str().unwrap_or("").trim_end())))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(msg_type: &str, content: Value, mine: bool) -> Event {
        let session = KernelSession::new();
        let mut message = request(&session, msg_type, content);
        message.header["msg_type"] = json!(msg_type);
        Event { channel: Channel::Iopub, message, mine }
    }

    #[test]
    fn terminal_text_of_each_output_kind() {
        let stream = event("stream", json!({"name": "stderr", "text": "careful\n"}), true);
        assert_eq!(terminal_text(&stream), Some((Stream::Stderr, "careful\n".into())));
        let table = event("display_data", json!({"data": {"text/plain": "a  b\n1  2", "text/html": "<table/>"}}), true);
        assert_eq!(terminal_text(&table), Some((Stream::Stdout, "a  b\n1  2\n".into())));
        let error = event("error", json!({"ename": "CommandError", "evalue": "bad", "traceback": ["load x", "no such file"]}), true);
        assert_eq!(terminal_text(&error), Some((Stream::Stderr, "load x\nno such file\n".into())));
        let foreign = event("execute_input", json!({"code": "show data", "execution_count": 4}), false);
        assert_eq!(terminal_text(&foreign), Some((Stream::Stdout, "[another client, In 4]: show data\n".into())));
        assert_eq!(terminal_text(&event("execute_input", json!({"code": "x"}), true)), None);
        assert_eq!(terminal_text(&event("status", json!({"execution_state": "busy"}), true)), None);
    }
}
