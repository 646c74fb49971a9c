//! Batch mode: `helixfold run SCRIPT`, `helixfold -c "cmd; cmd"` and a script on standard
//! input run the session's command language ([`crate::session::script`]) with plain text output,
//! stopping at the first failing command with `SCRIPT:LINE: command: cause`.
use crate::repl::{ProgressStyle, Renderer};
use crate::session::script::run_script;
use crate::session::Session;
use anyhow::{Context, Result};
use clap::Args;
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The script: one command per line, `#` comments, `\` at a line's end continues it.
    pub script: PathBuf,
}

pub fn run(args: &RunArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.script)
        .with_context(|| format!("cannot read script {}", args.script.display()))?;
    run_batch(&text, &args.script.display().to_string())
}

/// Runs the script on standard input (`helixfold < script.hf`).
pub fn run_stdin() -> Result<()> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("cannot read the script from standard input")?;
    run_batch(&text, "<stdin>")
}

/// Runs `text` in a fresh session, printing each command's output as it finishes; `source_name`
/// names the script in errors.
pub fn run_batch(text: &str, source_name: &str) -> Result<()> {
    let mut session = Session::new();
    let mut renderer = Renderer::new(ProgressStyle::Log);
    run_script(&mut session, text, source_name, &mut |output| renderer.show(output))?;
    Ok(())
}
