//! The terminal front end on rustyline: completion, hints and multi-line input from the
//! command table, a persistent history file, and Ctrl-C that interrupts a running command at
//! its next step boundary instead of killing the session.
mod attached;
mod render;
mod sigint;

use crate::session::{args, completion, table, Session};
use anyhow::{Context as _, Result};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper, Highlighter};
use std::path::PathBuf;

pub use attached::run_attached;
pub use render::{ProgressStyle, Renderer};

/// Completion, hints and multi-line validation, all from the command table.
#[derive(Helper, Highlighter)]
struct CommandHelper;

impl Completer for CommandHelper {
    type Candidate = String;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(completion::complete(line, pos))
    }
}

impl Hinter for CommandHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        usage_hint(line, pos)
    }
}

/// After a complete command name and a space, the rest of its usage line.
fn usage_hint(line: &str, pos: usize) -> Option<String> {
    if pos != line.len() || !line.ends_with(' ') {
        return None;
    }
    let segment = line.rsplit(';').next()?.trim_start();
    let mut words = segment.split_whitespace();
    let command = table::find(words.next()?)?;
    if words.next().is_some() {
        return None;
    }
    let usage = command.usage();
    usage.strip_prefix(command.name).map(|rest| rest.trim_start().to_string())
}

impl Validator for CommandHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if args::is_complete(ctx.input()) { ValidationResult::Valid(None) } else { ValidationResult::Incomplete })
    }
}

/// Where the REPL keeps its history: `$HELIXFOLD_HISTORY`, else `~/.helixfold_history`.
fn history_path() -> Option<PathBuf> {
    std::env::var_os("HELIXFOLD_HISTORY")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".helixfold_history")))
}

/// Runs the interactive loop until Ctrl-D, `exit`/`quit`, or Ctrl-C twice while idle.
pub fn run(session: &mut Session) -> Result<()> {
    let interrupt = session.interrupt_flag();
    let mut editor: Editor<CommandHelper, DefaultHistory> = Editor::new().context("starting the line editor")?;
    editor.set_helper(Some(CommandHelper));
    println!("helixfold {} — type `help` for commands, Ctrl-D to exit", env!("CARGO_PKG_VERSION"));
    read_eval_loop(&mut editor, "helixfold> ", "exit", |line| {
        sigint::claim(&interrupt);
        let mut renderer = Renderer::new(ProgressStyle::Line);
        match session.execute_streaming(line, &mut |output| renderer.show(output)) {
            Ok(outputs) => outputs.iter().for_each(|output| renderer.show(output)),
            Err((outputs, error)) => {
                outputs.iter().for_each(|output| renderer.show(output));
                renderer.end_line();
                eprintln!("error: {error}");
            }
        }
        Ok(())
    })
}

/// Reads lines with `editor` (history loaded from and saved to [`history_path`]) and hands each
/// non-empty one to `run`, until Ctrl-D, `exit`/`quit`, or Ctrl-C twice while idle; `leaving`
/// names what that does (exit, or detach) in the hint after the first Ctrl-C.
fn read_eval_loop<H: Helper>(
    editor: &mut Editor<H, DefaultHistory>,
    prompt: &str,
    leaving: &str,
    mut run: impl FnMut(&str) -> Result<()>,
) -> Result<()> {
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(path);
    }
    let mut interrupted_once = false;
    loop {
        match editor.readline(prompt) {
            Ok(line) => {
                interrupted_once = false;
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                editor.add_history_entry(line).context("recording history")?;
                if matches!(line, "exit" | "quit") {
                    break;
                }
                run(line)?;
            }
            Err(ReadlineError::Interrupted) if !interrupted_once => {
                interrupted_once = true;
                println!("(press Ctrl-C again or Ctrl-D to {leaving})");
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => break,
            Err(other) => return Err(other).context("reading the command line"),
        }
    }
    if let Some(path) = &history {
        editor.save_history(path).with_context(|| format!("saving history to {}", path.display()))?;
    }
    Ok(())
}
