//! `helixfold repl --existing FILE`: the terminal REPL attached to a running kernel (as
//! `jupyter console --existing` is), so a notebook and a terminal drive one session. Lines go
//! to the kernel as cells through [`crate::kernel::client`]; completion asks the kernel; Ctrl-C
//! while a cell runs sends `interrupt_request` (the kernel stops at the next step boundary and
//! keeps its state). Other clients' cells and their outputs are printed as they arrive while
//! this terminal waits on its own cell, and after each of its cells otherwise.
use super::{read_eval_loop, usage_hint};
use crate::kernel::client::{terminal_text, Event, KernelClient, Stream};
use crate::session::args;
use anyhow::{Context as _, Result};
use rustyline::completion::Completer;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper, Highlighter};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Completion from the kernel; hints and multi-line input from the command table.
#[derive(Helper, Highlighter)]
struct KernelHelper {
    client: Arc<KernelClient>,
}

impl Completer for KernelHelper {
    type Candidate = String;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<String>)> {
        // The protocol counts the cursor in characters; rustyline gives a byte offset.
        let cursor = line[..pos].chars().count();
        match self.client.complete(line, cursor) {
            Ok((matches, start, _)) => {
                let start_byte = line.char_indices().nth(start).map_or(line.len(), |(i, _)| i);
                Ok((start_byte, matches))
            }
            Err(_) => Ok((pos, Vec::new())),
        }
    }
}

impl Hinter for KernelHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        usage_hint(line, pos)
    }
}

impl Validator for KernelHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if args::is_complete(ctx.input()) { ValidationResult::Valid(None) } else { ValidationResult::Incomplete })
    }
}

fn print_event(event: &Event) {
    if let Some((stream, text)) = terminal_text(event) {
        match stream {
            Stream::Stdout => {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
            Stream::Stderr => eprint!("{text}"),
        }
    }
}

/// Runs the attached loop until Ctrl-D, `exit`/`quit`, or Ctrl-C twice while idle. The kernel
/// keeps running afterwards.
pub fn run_attached(connection: &str) -> Result<()> {
    let client = Arc::new(KernelClient::connect_to(connection)?);
    // Ctrl-C raises this flag (see `super::sigint`); a watcher turns it into an
    // interrupt_request, which a signal handler could not send itself.
    let pressed = Arc::new(AtomicBool::new(false));
    let interrupter = client.interrupter();
    let watched = Arc::clone(&pressed);
    std::thread::Builder::new()
        .name("helixfold-interrupt-watch".into())
        .spawn(move || loop {
            if watched.swap(false, Ordering::SeqCst) && interrupter.interrupt().is_err() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        })
        .context("starting the interrupt watcher")?;
    let mut editor: Editor<KernelHelper, DefaultHistory> = Editor::new().context("starting the line editor")?;
    editor.set_helper(Some(KernelHelper { client: Arc::clone(&client) }));
    println!("helixfold {} attached to the kernel of {connection} — Ctrl-D detaches", env!("CARGO_PKG_VERSION"));
    client.pending_events().iter().for_each(print_event);
    read_eval_loop(&mut editor, "helixfold[kernel]> ", "detach (the kernel keeps running)", |line| {
        pressed.store(false, Ordering::SeqCst);
        super::sigint::claim(&pressed);
        client.execute(line, |event| print_event(&event)).context("running the cell in the kernel")?;
        client.pending_events().iter().for_each(print_event);
        Ok(())
    })
}
