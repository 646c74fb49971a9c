//! `%%rust` cells: a cell whose first line is `%%rust [tensors=NAME,...]` is Rust code, evaluated
//! by evcxr in a helper process (`kernel/rust-cells`, binary `helixfold-rust-cells`) with this
//! crate and `tch` as dependencies. The helper starts at the first such cell and keeps one evcxr
//! context, so variables and items live from cell to cell; the helper's JSON-lines protocol is
//! documented in `kernel/rust-cells/src/main.rs`.
//!
//! Session tensors reach a cell through a safetensors file: before each cell the kernel writes
//! the tensors the cell names (outputs of the last `infer`, or parameters, see
//! [`crate::session::ModelState::tensor`]) to a snapshot whose path the helper knows from
//! `HELIXFOLD_SESSION_TENSORS`, and the cell's `session_tensors()` reads it. Without `cargo` and
//! `rustc` on PATH, or without the helper binary, a `%%rust` cell fails with an error saying what
//! to install; an interrupt kills the helper (its variables are lost) and the next `%%rust` cell
//! starts a new one. Everything else in the kernel is untouched by either.
use crate::session::Session;
use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};
use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;
use tch::{Device, Tensor};

/// The first word of a Rust cell.
pub const MAGIC: &str = "%%rust";
/// Names the helper binary, overriding the search next to the kernel's executable.
pub const HELPER_ENV: &str = "HELIXFOLD_RUST_CELLS";
const HELPER_NAME: &str = "helixfold-rust-cells";
/// What builds the helper, in the helixfold source tree.
const BUILD_COMMAND: &str = "cargo build --profile rust-cells -p helixfold-rust-cells";
/// The environment variable through which the helper (and the cells it runs) find the snapshot.
const SNAPSHOT_ENV: &str = "HELIXFOLD_SESSION_TENSORS";
/// How often a running cell looks at the interrupt flag.
const POLL: Duration = Duration::from_millis(50);

/// A `%%rust` cell: the session tensors its first line names and the Rust code below it.
#[derive(Debug, Clone, PartialEq)]
pub struct RustCell<'a> {
    pub tensors: Vec<String>,
    pub code: &'a str,
}

/// The cell, when `code`'s first line is `%%rust ...`; an error when that line has an argument
/// other than `tensors=NAME,...`.
pub fn parse(code: &str) -> Option<Result<RustCell<'_>>> {
    let (first, body) = code.split_once('\n').unwrap_or((code, ""));
    let arguments = first.trim_end().strip_prefix(MAGIC)?;
    if !arguments.is_empty() && !arguments.starts_with(char::is_whitespace) {
        return None;
    }
    let mut tensors = Vec::new();
    for word in arguments.split_whitespace() {
        match word.strip_prefix("tensors=") {
            Some(list) => tensors.extend(list.split(',').filter(|name| !name.is_empty()).map(str::to_string)),
            None => return Some(Err(anyhow!("`{MAGIC}` takes `tensors=NAME,...` only, not `{word}`"))),
        }
    }
    Some(Ok(RustCell { tensors, code: body }))
}

/// What a Rust cell shows while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum CellOutput {
    /// Text on `stdout` or `stderr` (Jupyter's stream names).
    Stream { name: String, text: String },
    /// A MIME bundle (`text/html`, `image/png`, ...), from evcxr's rich output.
    Display(Value),
}

/// A failed Rust cell, as Jupyter's `error` content names it.
#[derive(Debug, Clone, PartialEq)]
pub struct CellError {
    pub ename: String,
    pub evalue: String,
    pub traceback: Vec<String>,
}

impl CellError {
    pub fn new(ename: &str, error: &anyhow::Error) -> Self {
        let evalue = format!("{error:#}");
        Self { ename: ename.to_string(), traceback: vec![evalue.clone()], evalue }
    }

    /// The `ename`/`evalue`/`traceback` object of `error` messages and error replies.
    pub fn content(&self) -> Value {
        json!({"ename": self.ename, "evalue": self.evalue, "traceback": self.traceback})
    }
}

/// The kernel's side of Rust cells: the helper process once started, and the snapshot file.
pub struct RustCells {
    helper: Option<Helper>,
    snapshot: PathBuf,
}

impl Default for RustCells {
    fn default() -> Self {
        Self::new()
    }
}

impl RustCells {
    /// Nothing starts until the first `%%rust` cell.
    pub fn new() -> Self {
        let folder = std::env::temp_dir().join(format!("helixfold-rust-cells-{}", std::process::id()));
        Self { helper: None, snapshot: folder.join("session.safetensors") }
    }

    /// Runs `cell` with the tensors it names from `session`, passing what it prints to
    /// `output`; `interrupt` set while it runs stops the helper.
    pub fn run(
        &mut self,
        session: &Session,
        cell: &RustCell,
        interrupt: &AtomicBool,
        output: &mut dyn FnMut(CellOutput),
    ) -> std::result::Result<(), CellError> {
        self.write_snapshot(session, &cell.tensors).map_err(|e| CellError::new("SessionTensorError", &e))?;
        let mut helper = match self.helper.take() {
            Some(helper) => helper,
            None => {
                output(CellOutput::Stream {
                    name: "stderr".into(),
                    text: "Starting the Rust evaluator (evcxr). The first Rust cell after installing compiles \
                           helixfold, tch and torch-sys, which takes minutes (see the README's \"Rust cells\").\n"
                        .into(),
                });
                Helper::start(&self.snapshot).map_err(|e| CellError::new("RustCellsUnavailable", &e))?
            }
        };
        match helper.exchange(cell.code, interrupt, output) {
            Exchange::Finished(result) => {
                self.helper = Some(helper);
                result
            }
            Exchange::Stopped(error) => {
                helper.stop();
                Err(error)
            }
        }
    }

    /// Writes the named tensors to the snapshot, or removes it when the cell names none.
    fn write_snapshot(&self, session: &Session, names: &[String]) -> Result<()> {
        match std::fs::remove_file(&self.snapshot) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error).with_context(|| format!("removing {}", self.snapshot.display())),
        }
        if names.is_empty() {
            return Ok(());
        }
        let model = session.model();
        let tensors = names
            .iter()
            .map(|name| match model.tensor(name) {
                Some(tensor) => Ok((name.as_str(), tensor.to_device(Device::Cpu).contiguous())),
                None => Err(missing_tensor(name, &model.output_names())),
            })
            .collect::<Result<Vec<_>>>()?;
        let folder = self.snapshot.parent().context("the snapshot path has no folder")?;
        std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
        Tensor::write_safetensors(&tensors, &self.snapshot).with_context(|| format!("writing {}", self.snapshot.display()))
    }
}

impl Drop for RustCells {
    fn drop(&mut self) {
        if let Some(helper) = self.helper.take() {
            helper.stop();
        }
        if let Some(folder) = self.snapshot.parent() {
            // Only a temporary file is lost if this fails.
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

fn missing_tensor(name: &str, outputs: &[&str]) -> anyhow::Error {
    if outputs.is_empty() {
        anyhow!("no session tensor '{name}': no prediction yet (run `infer`), and no parameter has that name (`show params`)")
    } else {
        anyhow!(
            "no session tensor '{name}'; outputs of the last `infer`: {}; parameters go by their `show params` names",
            outputs.join(", ")
        )
    }
}

/// How an exchange with the helper ended.
enum Exchange {
    /// The cell ran (or failed to compile); the helper lives on.
    Finished(std::result::Result<(), CellError>),
    /// Interrupted, or the helper died: it must go.
    Stopped(CellError),
}

/// A line the helper wrote, and on which of its outputs.
enum Line {
    Reply(String),
    Stderr(String),
}

/// The running helper process (its own process group: stopping it also stops the cargo and
/// rustc it started and the process running the cells).
struct Helper {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Line>,
}

impl Helper {
    fn start(snapshot: &Path) -> Result<Self> {
        let missing: Vec<&str> = ["cargo", "rustc"].into_iter().filter(|tool| find_on_path(tool).is_none()).collect();
        if !missing.is_empty() {
            bail!(
                "`{MAGIC}` cells compile Rust and need {} on PATH, which has none: install Rust (https://rustup.rs) \
                 and restart the kernel from an environment where `cargo --version` works",
                missing.join(" and ")
            );
        }
        let program = helper_program()?;
        let mut command = Command::new(&program);
        command
            .arg("--crate-dir")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .env(SNAPSHOT_ENV, snapshot)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // The cells link libtorch without an rpath to it; the kernel's own libtorch serves them.
        if let Some(torch_lib) = option_env!("HELIXFOLD_TORCH_LIB") {
            let mut paths = vec![PathBuf::from(torch_lib)];
            paths.extend(std::env::var_os("LD_LIBRARY_PATH").iter().flat_map(std::env::split_paths));
            command.env("LD_LIBRARY_PATH", std::env::join_paths(paths).context("joining LD_LIBRARY_PATH")?);
        }
        // torch-sys, built for the cells, must find the libtorch this kernel was built against.
        for (name, built_with) in [
            ("LIBTORCH", option_env!("LIBTORCH")),
            ("LIBTORCH_CXX11_ABI", option_env!("LIBTORCH_CXX11_ABI")),
            ("LIBTORCH_USE_PYTORCH", option_env!("LIBTORCH_USE_PYTORCH")),
        ] {
            if let (None, Some(value)) = (std::env::var_os(name), built_with) {
                command.env(name, value);
            }
        }
        let mut child = command.spawn().with_context(|| format!("starting {}", program.display()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
            bail!("{} started without pipes", program.display());
        };
        let (sender, lines) = mpsc::channel();
        forward_lines(stdout, sender.clone(), Line::Reply);
        forward_lines(stderr, sender, Line::Stderr);
        Ok(Self { child, stdin, lines })
    }

    /// Sends `code` and passes the helper's outputs on until its `done`.
    fn exchange(&mut self, code: &str, interrupt: &AtomicBool, output: &mut dyn FnMut(CellOutput)) -> Exchange {
        let request = json!({"code": code}).to_string();
        if writeln!(self.stdin, "{request}").and_then(|()| self.stdin.flush()).is_err() {
            return Exchange::Stopped(self.exit_error());
        }
        loop {
            match self.lines.recv_timeout(POLL) {
                Ok(Line::Reply(line)) => match serde_json::from_str::<Value>(&line) {
                    Ok(reply) if reply.get("done").is_some() => return Exchange::Finished(finished(&reply["done"], output)),
                    Ok(reply) if reply.get("stream").is_some() => output(CellOutput::Stream {
                        name: reply["stream"]["name"].as_str().unwrap_or("stdout").to_string(),
                        text: reply["stream"]["text"].as_str().unwrap_or_default().to_string(),
                    }),
                    _ => output(CellOutput::Stream { name: "stdout".into(), text: format!("{line}\n") }),
                },
                Ok(Line::Stderr(line)) => output(CellOutput::Stream { name: "stderr".into(), text: format!("{line}\n") }),
                Err(RecvTimeoutError::Timeout) if interrupt.load(Ordering::SeqCst) => {
                    return Exchange::Stopped(CellError::new(
                        "Interrupted",
                        &anyhow!(
                            "interrupted: the Rust evaluator was stopped and its variables are gone; \
                             the next `{MAGIC}` cell starts a new one"
                        ),
                    ))
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Exchange::Stopped(self.exit_error()),
            }
        }
    }

    fn exit_error(&mut self) -> CellError {
        let status = self.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
        CellError::new(
            "RustCellsExited",
            &anyhow!(
                "the Rust evaluator ({HELPER_NAME}) exited ({status}) and its variables are gone; \
                 the next `{MAGIC}` cell starts a new one"
            ),
        )
    }

    /// Kills the helper's process group and reaps the helper.
    fn stop(mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: signals the process group this helper leads (`process_group(0)`).
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        // Already gone is as good as killed.
        let _ = self.child.wait();
    }
}

/// The outcome a `done` reply carries, showing its rich output.
fn finished(done: &Value, output: &mut dyn FnMut(CellOutput)) -> std::result::Result<(), CellError> {
    if let Some(error) = done.get("error") {
        let text = |key: &str| error[key].as_str().unwrap_or_default().to_string();
        let traceback = error["traceback"]
            .as_array()
            .map(|lines| lines.iter().filter_map(|l| l.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        return Err(CellError { ename: text("ename"), evalue: text("evalue"), traceback });
    }
    match done.get("data") {
        Some(data) if data.as_object().is_some_and(|bundle| !bundle.is_empty()) => output(CellOutput::Display(data.clone())),
        _ => {}
    }
    Ok(())
}

fn forward_lines(source: impl Read + Send + 'static, sender: Sender<Line>, wrap: fn(String) -> Line) {
    std::thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { break };
            if sender.send(wrap(line)).is_err() {
                break;
            }
        }
    });
}

/// `tool` as the shell would find it on PATH.
fn find_on_path(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The helper binary: `$HELIXFOLD_RUST_CELLS`, else next to this executable, else in the
/// `rust-cells` profile's folder beside it (`target/release/helixfold` →
/// `target/rust-cells/helixfold-rust-cells`).
fn helper_program() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(HELPER_ENV) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("{HELPER_ENV}={} names no file", path.display());
        }
        return Ok(path);
    }
    let exe = std::env::current_exe().context("locating the kernel's executable")?;
    let dir = exe.parent().context("the kernel's executable has no folder")?;
    let candidates = [dir.join(HELPER_NAME), dir.join("../rust-cells").join(HELPER_NAME)];
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Ok(found.clone());
    }
    bail!(
        "the Rust cell evaluator `{HELPER_NAME}` is not built (looked for {} and {}): run `{BUILD_COMMAND}` in \
         the helixfold source tree, or set {HELPER_ENV} to its path",
        candidates[0].display(),
        candidates[1].display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_magic_line_and_its_tensors() {
        assert!(parse("load x.pdb").is_none());
        assert!(parse("%%rustic\nx").is_none());
        let cell = parse("%%rust tensors=plddt,representations/pair\nlet x = 1;\n").unwrap().unwrap();
        assert_eq!(cell.tensors, ["plddt", "representations/pair"]);
        assert_eq!(cell.code, "let x = 1;\n");
        let bare = parse("%%rust").unwrap().unwrap();
        assert!(bare.tensors.is_empty() && bare.code.is_empty());
        let error = parse("%%rust opt=2\n1").unwrap().unwrap_err();
        assert!(error.to_string().contains("not `opt=2`"), "{error}");
    }

    #[test]
    fn a_missing_tensor_names_what_the_session_has() {
        let session = Session::new();
        let cells = RustCells::new();
        let error = cells.write_snapshot(&session, &["plddt".to_string()]).unwrap_err();
        assert!(error.to_string().contains("no prediction yet (run `infer`)"), "{error}");
        assert!(cells.write_snapshot(&session, &[]).is_ok());
        assert!(!cells.snapshot.exists());
    }

    #[test]
    fn a_done_reply_becomes_a_display_or_an_error() {
        let mut shown = Vec::new();
        let ok = finished(&json!({"data": {"text/html": "<b>1</b>"}}), &mut |o| shown.push(o));
        assert_eq!(ok, Ok(()));
        assert_eq!(shown, [CellOutput::Display(json!({"text/html": "<b>1</b>"}))]);
        let failed = finished(
            &json!({"error": {"ename": "CompilationError", "evalue": "mismatched types", "traceback": ["error[E0308]"]}}),
            &mut |o| shown.push(o),
        );
        assert_eq!(failed.unwrap_err().traceback, ["error[E0308]"]);
        assert_eq!(shown.len(), 1);
    }
}
