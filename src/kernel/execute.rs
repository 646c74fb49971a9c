//! Cell execution on the session's own thread (messaging protocol 5.3, "Execute"): the
//! [`Session`] lives on one thread and takes `execute_request`s through a channel, so the
//! event loop keeps serving control, heartbeat and introspection while a cell runs.
//!
//! For each request: status `busy`, `execute_input`, the outputs, `execute_reply` on shell,
//! status `idle`. A cell runs as a script (one command line per line, `#` comments, `\`
//! continuations). Output mapping: `Text` → stream stdout, `Stderr`/`Warning` → stream
//! stderr, `Table` → display_data (text/html + text/plain), `Image` → display_data
//! (image/svg+xml and/or base64 image/png + text/plain). `Progress` is sent as it happens: the
//! first report of a command as `display_data` with `transient.display_id` set to the report's
//! id, later ones as `update_display_data` of that display, so a notebook shows one progress bar
//! per command (text/html `<progress>` + text/plain); `train`'s reports also redraw a live loss
//! plot in a display of its own ([`super::live_plot`]). A command that asks for confirmation
//! (`reset`) sends an `input_request` on stdin to the client that ran the cell, when that
//! client set `allow_stdin`, and waits for its `input_reply` (messaging protocol 5.3,
//! "Messages on the stdin ROUTER/DEALER channel"); an interrupt ends the wait. The cell's value, like a Python
//! cell's last expression, is its final output when that is `Text` from a command other than
//! `echo` (`echo` prints, as Python's `print` does): it is sent as `execute_result` instead
//! of a stream. A cell whose first line is `%%rust` is Rust code instead, run by
//! [`super::rust_cells`]: its printed lines are streams, evcxr's rich output a `display_data`,
//! and a compile error an `error` with rustc's diagnostics.
use super::history::History;
use super::live_plot::LiveLossPlot;
use super::message::{KernelSession, Message};
use super::rust_cells::{self, CellError, CellOutput, RustCell, RustCells};
use crate::session::script::{run_script, ScriptError};
use crate::session::{Output, Session};
use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// A message for the event loop to send.
#[derive(Debug)]
pub enum Outgoing {
    Shell(Message),
    Iopub(Message),
    Stdin(Message),
}

/// How often a command waiting for an `input_reply` looks at the interrupt flag.
const INPUT_POLL: Duration = Duration::from_millis(50);

/// The event loop's handle on the session thread.
pub struct Executor {
    jobs: Sender<Message>,
    interrupt: Arc<AtomicBool>,
    /// Requests submitted and not yet answered.
    pending: Arc<AtomicUsize>,
    /// `input_reply`s from the stdin channel, for the command waiting on one.
    answers: Sender<Message>,
}

impl Executor {
    /// Starts the session thread.
    pub fn spawn(kernel: KernelSession, history: Arc<Mutex<History>>, out: UnboundedSender<Outgoing>) -> Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel::<Message>();
        let (answers, answer_queue) = std::sync::mpsc::channel::<Message>();
        let (flag_sender, flag_receiver) = std::sync::mpsc::channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let pending_in_thread = Arc::clone(&pending);
        std::thread::Builder::new()
            .name("helixfold-session".into())
            .spawn(move || {
                let session = Session::new();
                // The receiver waits for this send before it returns from spawn.
                let _ = flag_sender.send(session.interrupt_flag());
                let answers = Arc::new(Mutex::new(answer_queue));
                let mut cells = Cells { session, publisher: Publisher { kernel, out }, history, answers, count: 0, rust: RustCells::new() };
                cells.serve(&queue, &pending_in_thread);
            })
            .context("starting the session thread")?;
        let interrupt = flag_receiver.recv().context("the session thread did not start")?;
        Ok(Self { jobs, interrupt, pending, answers })
    }

    /// Hands an `input_reply` to the command waiting for it (none waiting: it is dropped at
    /// the next question).
    pub fn answer(&self, reply: Message) {
        // The session thread outlives the event loop's use of this sender.
        let _ = self.answers.send(reply);
    }

    /// Queues an `execute_request`; requests run one after another in arrival order.
    pub fn submit(&self, request: Message) -> Result<()> {
        self.pending.fetch_add(1, Ordering::SeqCst);
        self.jobs.send(request).context("the session thread has stopped")
    }

    /// Asks the running command to stop at its next step.
    pub fn interrupt(&self) {
        self.interrupt.store(true, Ordering::SeqCst);
    }

    /// Whether a cell is running or queued.
    pub fn is_busy(&self) -> bool {
        self.pending.load(Ordering::SeqCst) > 0
    }
}

#[derive(Clone)]
struct Publisher {
    kernel: KernelSession,
    out: UnboundedSender<Outgoing>,
}

impl Publisher {
    fn iopub(&self, parent: &Message, msg_type: &str, content: Value) {
        // A closed channel means the event loop is shutting down; nothing is left to tell.
        let _ = self.out.send(Outgoing::Iopub(self.kernel.broadcast(parent, msg_type, content)));
    }

    fn reply(&self, request: &Message, content: Value) {
        let _ = self.out.send(Outgoing::Shell(self.kernel.reply(request, "execute_reply", content)));
    }

    fn status(&self, parent: &Message, state: &str) {
        self.iopub(parent, "status", json!({"execution_state": state}));
    }

    /// Shows a progress report: a new display for an id not in `shown`, else an update of it.
    fn progress(&self, parent: &Message, output: &Output, shown: &mut HashSet<String>) {
        let Output::Progress { id, .. } = output else { return };
        let msg_type = if shown.insert(id.clone()) { "display_data" } else { "update_display_data" };
        let data = json!({"text/plain": output.to_text(), "text/html": output.to_html()});
        self.iopub(parent, msg_type, json!({"data": data, "metadata": {}, "transient": {"display_id": id}}));
    }

    /// Redraws the live loss plot of a training report when one is due.
    fn loss_plot(&self, parent: &Message, output: &Output, plots: &mut HashMap<String, LiveLossPlot>) {
        let Output::Progress { id, .. } = output else { return };
        match plots.entry(id.clone()).or_default().record(output) {
            Ok(Some((msg_type, content))) => self.iopub(parent, msg_type, content),
            Ok(None) => {}
            // A figure that cannot be drawn costs the picture, never the training.
            Err(error) => eprintln!("helixfold kernel: live loss plot: {error:#}"),
        }
    }

    /// Asks the client that sent `request` for a line on the stdin channel and waits for the
    /// answer, or for an interrupt.
    fn ask(&self, request: &Message, prompt: &str, answers: &Mutex<Receiver<Message>>, interrupt: &AtomicBool) -> Result<String> {
        let answers = answers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Replies to earlier questions that nobody waited for must not answer this one.
        while answers.try_recv().is_ok() {}
        let question = self.kernel.reply(request, "input_request", json!({"prompt": prompt, "password": false}));
        let question_id = question.msg_id().to_string();
        if self.out.send(Outgoing::Stdin(question)).is_err() {
            bail!("the kernel is shutting down");
        }
        loop {
            match answers.recv_timeout(INPUT_POLL) {
                Ok(reply) if reply.parent_header["msg_id"] == question_id.as_str() => {
                    return Ok(reply.content["value"].as_str().unwrap_or_default().to_string());
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) if interrupt.load(Ordering::SeqCst) => bail!("interrupted while waiting for input"),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => bail!("the kernel is shutting down"),
            }
        }
    }

    fn output(&self, parent: &Message, output: &Output) {
        let (msg_type, content) = match output {
            Output::Text(text) => ("stream", json!({"name": "stdout", "text": format!("{text}\n")})),
            Output::Stderr(_) | Output::Warning(_) => {
                ("stream", json!({"name": "stderr", "text": format!("{}\n", output.to_text())}))
            }
            Output::Table { .. } | Output::Image { .. } | Output::Progress { .. } => {
                ("display_data", json!({"data": mime_bundle(output), "metadata": {}, "transient": {}}))
            }
        };
        self.iopub(parent, msg_type, content);
    }
}

/// The MIME bundle of a table or picture.
fn mime_bundle(output: &Output) -> Value {
    let mut data = serde_json::Map::new();
    data.insert("text/plain".into(), json!(output.to_text()));
    match output {
        Output::Table { .. } => {
            data.insert("text/html".into(), json!(output.to_html()));
        }
        Output::Image { svg, png, .. } => {
            if let Some(svg) = svg {
                data.insert("image/svg+xml".into(), json!(svg));
            }
            if let Some(png) = png {
                data.insert("image/png".into(), json!(base64::engine::general_purpose::STANDARD.encode(png)));
            }
        }
        _ => {}
    }
    Value::Object(data)
}

/// The session thread's state.
struct Cells {
    session: Session,
    publisher: Publisher,
    history: Arc<Mutex<History>>,
    /// `input_reply`s for the command that asked.
    answers: Arc<Mutex<Receiver<Message>>>,
    /// The execution count: cells stored in history so far.
    count: u64,
    /// The evaluator of `%%rust` cells, started by the first one.
    rust: RustCells,
}

impl Cells {
    fn serve(&mut self, queue: &Receiver<Message>, pending: &AtomicUsize) {
        while let Ok(request) = queue.recv() {
            let failed = self.execute(&request);
            pending.fetch_sub(1, Ordering::SeqCst);
            if failed && request.flag("stop_on_error", true) {
                // As ipykernel does: requests already queued behind a failed cell are aborted.
                while let Ok(queued) = queue.try_recv() {
                    self.publisher.status(&queued, "busy");
                    self.publisher.reply(&queued, json!({"status": "aborted", "execution_count": self.count}));
                    pending.fetch_sub(1, Ordering::SeqCst);
                    self.publisher.status(&queued, "idle");
                }
            }
        }
    }

    /// Runs one cell and answers it; returns whether it failed.
    fn execute(&mut self, request: &Message) -> bool {
        let code = request.text("code", "");
        let silent = request.flag("silent", false);
        let store_history = !silent && request.flag("store_history", true);
        let publisher = &self.publisher;
        publisher.status(request, "busy");
        if store_history {
            self.count += 1;
        }
        let count = self.count;
        if !silent {
            publisher.iopub(request, "execute_input", json!({"code": code, "execution_count": count}));
        }
        let mut transcript = Vec::new();
        let result = match rust_cells::parse(code) {
            Some(cell) => self.run_rust(request, cell, silent, &mut transcript),
            None => self.run_commands(request, code, count, silent, &mut transcript),
        };
        if store_history {
            // A poisoned lock only means a panic elsewhere while recording; the data is intact.
            let mut history = self.history.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            history.record(count, code, transcript.join("\n"));
        }
        let failed = result.is_err();
        let publisher = &self.publisher;
        match result {
            Ok(()) => publisher.reply(
                request,
                json!({"status": "ok", "execution_count": count, "payload": [], "user_expressions": {}}),
            ),
            Err(content) => {
                if !silent {
                    publisher.iopub(request, "error", content.clone());
                }
                let mut reply = content;
                reply["status"] = json!("error");
                reply["execution_count"] = json!(count);
                publisher.reply(request, reply);
            }
        }
        publisher.status(request, "idle");
        failed
    }

    /// Runs a cell of commands; the `error` content when one failed.
    fn run_commands(&mut self, request: &Message, code: &str, count: u64, silent: bool, transcript: &mut Vec<String>) -> Result<(), Value> {
        let publisher = &self.publisher;
        // Each output is held back until the next one arrives, so the last can become the
        // cell's value.
        let mut held: Option<Output> = None;
        let mut progress_displays = HashSet::new();
        let mut loss_plots = HashMap::new();
        let source_name = format!("In [{count}]");
        if !silent && request.flag("allow_stdin", false) {
            let (asker, parent, answers) = (publisher.clone(), request.clone(), Arc::clone(&self.answers));
            let interrupt = self.session.interrupt_flag();
            self.session.set_prompter(Some(Box::new(move |prompt: &str| asker.ask(&parent, prompt, &answers, &interrupt))));
        }
        let result = run_script(&mut self.session, code, &source_name, &mut |output| {
            if matches!(output, Output::Progress { .. }) {
                if !silent {
                    publisher.progress(request, output, &mut progress_displays);
                    publisher.loss_plot(request, output, &mut loss_plots);
                }
                return;
            }
            transcript.push(output.to_text());
            if let Some(previous) = held.replace(output.clone()) {
                if !silent {
                    publisher.output(request, &previous);
                }
            }
        });
        self.session.set_prompter(None);
        let last_was_echo = self
            .session
            .history()
            .last()
            .is_some_and(|command| command.split_whitespace().next() == Some("echo"));
        if let (Some(last), false) = (held, silent) {
            match last {
                Output::Text(text) if result.is_ok() && !last_was_echo => publisher.iopub(
                    request,
                    "execute_result",
                    json!({"execution_count": count, "data": {"text/plain": text}, "metadata": {}}),
                ),
                other => publisher.output(request, &other),
            }
        }
        result.map_err(|error| error_content(&error, self.session.interrupt_flag().load(Ordering::SeqCst)))
    }

    /// Runs a `%%rust` cell (see [`super::rust_cells`]); the `error` content when it failed.
    fn run_rust(&mut self, request: &Message, cell: Result<RustCell>, silent: bool, transcript: &mut Vec<String>) -> Result<(), Value> {
        let cell = cell.map_err(|error| CellError::new("RustCellError", &error).content())?;
        let interrupt = self.session.interrupt_flag();
        interrupt.store(false, Ordering::SeqCst);
        let publisher = &self.publisher;
        let mut show = |output: CellOutput| {
            let (msg_type, content) = match output {
                CellOutput::Stream { name, text } => {
                    transcript.push(text.trim_end().to_string());
                    ("stream", json!({"name": name, "text": text}))
                }
                CellOutput::Display(data) => {
                    transcript.push(data["text/plain"].as_str().unwrap_or_default().to_string());
                    ("display_data", json!({"data": data, "metadata": {}, "transient": {}}))
                }
            };
            if !silent {
                publisher.iopub(request, msg_type, content);
            }
        };
        self.rust.run(&self.session, &cell, &interrupt, &mut show).map_err(|error| error.content())
    }
}

/// `ename`, `evalue` and `traceback` of a failed cell: which line and command, and why.
fn error_content(error: &ScriptError, interrupted: bool) -> Value {
    let ename = if interrupted { "Interrupted" } else { "CommandError" };
    let cause = format!("{:#}", error.error.cause);
    json!({
        "ename": ename,
        "evalue": cause,
        "traceback": [
            format!("\u{1b}[31m{ename}\u{1b}[0m at {}:{}, command `{}`", error.source_name, error.line, error.error.command),
            cause,
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jupyter's display protocol (messaging 5.3, "Update Display Data"): the first report of a
    /// command opens a display named by `transient.display_id`, later ones update it.
    #[test]
    fn progress_opens_one_display_per_command_and_updates_it() {
        let (out, mut received) = tokio::sync::mpsc::unbounded_channel();
        let kernel = KernelSession::new();
        let parent = Message {
            identities: Vec::new(),
            header: kernel.header("execute_request"),
            parent_header: json!({}),
            metadata: json!({}),
            content: json!({}),
            buffers: Vec::new(),
        };
        let publisher = Publisher { kernel, out };
        let report = |id: &str, done| Output::Progress { id: id.into(), label: "infer".into(), done, total: 2, message: String::new(), metrics: Vec::new() };
        let mut shown = HashSet::new();
        publisher.progress(&parent, &report("infer-1", 1), &mut shown);
        publisher.progress(&parent, &report("infer-1", 2), &mut shown);
        publisher.progress(&parent, &report("infer-2", 1), &mut shown);
        let mut sent = Vec::new();
        while let Ok(Outgoing::Iopub(message)) = received.try_recv() {
            sent.push((message.msg_type().to_string(), message.content["transient"]["display_id"].clone(), message.content["data"]["text/plain"].clone()));
        }
        assert_eq!(
            sent,
            vec![
                ("display_data".to_string(), json!("infer-1"), json!("infer: 1/2")),
                ("update_display_data".to_string(), json!("infer-1"), json!("infer: 2/2")),
                ("display_data".to_string(), json!("infer-2"), json!("infer: 1/2")),
            ]
        );
    }
}
