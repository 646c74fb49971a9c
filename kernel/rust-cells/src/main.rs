//! `helixfold-rust-cells`: evaluates the helixfold Jupyter kernel's `%%rust` cells with evcxr
//! (its `CommandContext`, which is what the `evcxr_jupyter` kernel drives), one persistent
//! context per process so variables, items and `:dep`s live from cell to cell.
//!
//! The kernel starts it (`src/kernel/rust_cells.rs`) as
//! `helixfold-rust-cells --crate-dir DIR`, where DIR is the helixfold source tree, and talks
//! JSON lines:
//! - request on stdin: `{"code": "..."}`, one cell;
//! - replies on stdout, any number of `{"stream": {"name": "stdout"|"stderr", "text": "..."}}`
//!   while the cell runs, then one `{"done": {"data": {MIME: CONTENT, ...}}}` (evcxr's rich output, e.g.
//!   `EVCXR_BEGIN_CONTENT text/html` blocks printed by the cell), or
//!   `{"done": {"error": {"ename": ..., "evalue": ..., "traceback": [...]}}}` (compile
//!   diagnostics as rustc renders them, or evcxr's message).
//!
//! Before the first cell it runs a prelude: `:dep helixfold` (the path dependency on DIR),
//! `:dep tch` (the version helixfold pins), and `session_tensors()`, which loads the
//! safetensors snapshot the kernel writes to `$HELIXFOLD_SESSION_TENSORS` for the tensors a cell
//! names. evcxr's build folder lives under the user's cache folder
//! (`$HELIXFOLD_RUST_CELLS_CACHE`, default `$XDG_CACHE_HOME/helixfold/rust-cells` or
//! `~/.cache/helixfold/rust-cells`), so only the first cell ever compiles helixfold, tch and
//! torch-sys; a second helper running while the first holds that folder builds in a temporary
//! one. evcxr re-runs this executable as the process that loads and runs the compiled cells,
//! hence `evcxr::runtime_hook()` first in `main`.
use anyhow::{bail, Context as _, Result};
use evcxr::{CommandContext, Error as EvalError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead as _, Write as _};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// The environment variable naming the kernel's safetensors snapshot of session tensors.
const SNAPSHOT_ENV: &str = "HELIXFOLD_SESSION_TENSORS";
/// Overrides the folder where evcxr keeps its build.
const CACHE_ENV: &str = "HELIXFOLD_RUST_CELLS_CACHE";

#[derive(Deserialize)]
struct Request {
    code: String,
}

/// A line of the reply stream (see the module documentation).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Stream { name: &'static str, text: String },
    Done(Done),
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Done {
    Data(HashMap<String, String>),
    Error { ename: String, evalue: String, traceback: Vec<String> },
}

fn main() {
    evcxr::runtime_hook();
    if let Err(error) = run() {
        eprintln!("helixfold-rust-cells: {error:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let crate_dir = crate_dir_argument()?;
    let build_folder = BuildFolder::open()?;
    std::env::set_var("EVCXR_TMPDIR", build_folder.path());
    let (mut context, outputs) = CommandContext::new().map_err(|e| anyhow::anyhow!("starting evcxr: {e}"))?;
    // Cheapest builds: the cells drive libtorch, whose speed does not depend on this.
    context.set_opt_level("0").map_err(|e| anyhow::anyhow!("{e}"))?;

    let (dones, done_queue) = mpsc::channel::<Reply>();
    let writer = std::thread::spawn(move || forward(outputs, done_queue));
    let mut cells = Cells { context, crate_dir, build_dir: build_folder.path().to_path_buf(), prelude_done: false };
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading a request")?;
        if line.trim().is_empty() {
            continue;
        }
        let done = match serde_json::from_str::<Request>(&line) {
            Ok(request) => cells.evaluate(&request.code),
            Err(error) => failure("RequestError", format!("not a request: {error}"), Vec::new()),
        };
        // The writer drains the cell's last output lines before it writes `done`.
        if dones.send(Reply::Done(done)).is_err() {
            break;
        }
    }
    drop(dones);
    let _ = writer.join();
    Ok(())
}

fn crate_dir_argument() -> Result<PathBuf> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (Some("--crate-dir"), Some(dir)) => {
            let dir = PathBuf::from(dir);
            if !dir.join("Cargo.toml").is_file() {
                bail!("--crate-dir {}: no Cargo.toml there (it must be the helixfold source tree)", dir.display());
            }
            Ok(dir)
        }
        _ => bail!("usage: helixfold-rust-cells --crate-dir HELIXFOLD_SOURCE_DIR (started by `helixfold kernel`)"),
    }
}

/// Where evcxr builds.
enum BuildFolder {
    /// The persistent folder, locked for this process until it exits.
    Cache { path: PathBuf, _lock: File },
    /// A folder of this process's own, removed when it ends normally.
    Private(PathBuf),
}

impl BuildFolder {
    /// The persistent folder, or a private one when another helper holds it (two evcxr
    /// contexts must not write the same crate).
    fn open() -> Result<Self> {
        let base = match std::env::var_os(CACHE_ENV) {
            Some(dir) => PathBuf::from(dir),
            None => std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
                .context("neither HOME nor XDG_CACHE_HOME is set: set HELIXFOLD_RUST_CELLS_CACHE")?
                .join("helixfold/rust-cells"),
        };
        std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
        let lock_path = base.join(".lock");
        let lock = File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
        // SAFETY: flock on a file descriptor this function owns.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Self::Cache { path: base, _lock: lock });
        }
        let private = std::env::temp_dir().join(format!("helixfold-rust-cells-{}", std::process::id()));
        eprintln!(
            "helixfold-rust-cells: {} is in use by another kernel; building in {} instead (this session's first Rust cell compiles everything)",
            base.display(),
            private.display()
        );
        std::fs::create_dir_all(&private).with_context(|| format!("creating {}", private.display()))?;
        Ok(Self::Private(private))
    }

    fn path(&self) -> &Path {
        match self {
            Self::Cache { path, .. } | Self::Private(path) => path,
        }
    }
}

impl Drop for BuildFolder {
    fn drop(&mut self) {
        if let Self::Private(path) = self {
            // A leftover folder in the temporary directory is all a failure costs.
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// The prelude of every context: helixfold and tch as dependencies, and `session_tensors()`.
fn prelude(crate_dir: &Path) -> String {
    format!(
        r#":dep helixfold = {{ path = {path:?} }}
:dep tch = "=0.24.0"
/// The tensors this cell named on its first line (`%%rust tensors=NAME,...`), loaded from the
/// snapshot the kernel wrote; name → tensor (CPU).
fn session_tensors() -> Result<std::collections::BTreeMap<String, tch::Tensor>, String> {{
    let path = std::env::var("{SNAPSHOT_ENV}").map_err(|_| "not started by the helixfold kernel".to_string())?;
    if !std::path::Path::new(&path).exists() {{
        return Err("this cell named no session tensors: start it with `%%rust tensors=NAME,...`".to_string());
    }}
    let tensors = tch::Tensor::read_safetensors(&path).map_err(|e| format!("reading {{path}}: {{e}}"))?;
    Ok(tensors.into_iter().collect())
}}
"#,
        path = crate_dir.display().to_string()
    )
}

/// The evcxr context and what its prelude needs.
struct Cells {
    context: CommandContext,
    crate_dir: PathBuf,
    build_dir: PathBuf,
    prelude_done: bool,
}

impl Cells {
    fn evaluate(&mut self, code: &str) -> Done {
        if !self.prelude_done {
            self.seed_lock_file();
            if let Err(error) = self.context.execute(&prelude(&self.crate_dir)) {
                let (ename, evalue, traceback) = describe(error);
                return failure(&ename, format!("preparing Rust cells (helixfold as a dependency): {evalue}"), traceback);
            }
            self.prelude_done = true;
        }
        match self.context.execute(code) {
            Ok(outputs) => Done::Data(outputs.content_by_mime_type),
            Err(error) => {
                let (ename, evalue, traceback) = describe(error);
                failure(&ename, evalue, traceback)
            }
        }
    }

    /// Gives evcxr's crate the versions helixfold was built and tested with (and no registry
    /// look-up for them): cargo keeps the entries of a lock file that fit the manifest. Copied
    /// just before the `:dep`s, since evcxr's first build (no dependencies) prunes the file.
    fn seed_lock_file(&self) {
        // Without it cargo resolves afresh, which works online; nothing to report.
        let _ = std::fs::copy(self.crate_dir.join("Cargo.lock"), self.build_dir.join("Cargo.lock"));
    }
}

/// `ename`, `evalue` and traceback lines of an evcxr error: compile errors as rustc renders
/// them (one traceback entry each), everything else as evcxr's message.
fn describe(error: EvalError) -> (String, String, Vec<String>) {
    match error {
        EvalError::CompilationErrors(errors) => {
            let rendered: Vec<String> = errors.iter().map(|e| e.rendered()).collect();
            let first = errors.first().map(|e| e.message()).unwrap_or_default();
            ("CompilationError".into(), first, rendered)
        }
        EvalError::SubprocessTerminated(message) => ("SubprocessTerminated".into(), message.clone(), vec![message]),
        other => {
            let message = other.to_string();
            ("EvalError".into(), message.clone(), vec![message])
        }
    }
}

fn failure(ename: &str, evalue: String, traceback: Vec<String>) -> Done {
    let traceback = if traceback.is_empty() { vec![evalue.clone()] } else { traceback };
    Done::Error { ename: ename.to_string(), evalue, traceback }
}

/// The only writer of stdout: the cells' output lines as they come, and each `done` after the
/// lines the cell printed before it finished (evcxr hands them over before `execute` returns).
fn forward(outputs: evcxr::EvalContextOutputs, dones: mpsc::Receiver<Reply>) {
    let write = |reply: &Reply| -> bool {
        let mut out = std::io::stdout().lock();
        serde_json::to_string(reply).map(|line| writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()).unwrap_or(false)
    };
    let stream = |name: &'static str, text: String| Reply::Stream { name, text: format!("{text}\n") };
    loop {
        crossbeam_channel::select! {
            recv(outputs.stdout) -> line => match line {
                Ok(text) => { if !write(&stream("stdout", text)) { return; } }
                Err(_) => return,
            },
            recv(outputs.stderr) -> line => match line {
                Ok(text) => { if !write(&stream("stderr", text)) { return; } }
                Err(_) => return,
            },
            default(std::time::Duration::from_millis(20)) => {}
        }
        match dones.try_recv() {
            Ok(done) => {
                for text in outputs.stdout.try_iter() {
                    write(&stream("stdout", text));
                }
                for text in outputs.stderr.try_iter() {
                    write(&stream("stderr", text));
                }
                if !write(&done) {
                    return;
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => return,
            Err(mpsc::TryRecvError::Empty) => {}
        }
    }
}
