//! `helixfold repl [--existing FILE]` (and `helixfold` alone on a terminal): the interactive
//! front end ([`crate::repl`]) on a fresh session, or attached to a running kernel's session.
use crate::session::Session;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Default, Args)]
pub struct ReplArgs {
    /// Attach to a running helixfold kernel: its connection file, or its name in the Jupyter
    /// runtime directory (e.g. kernel-1234), as `jupyter console --existing` takes it.
    #[arg(long, value_name = "FILE")]
    pub existing: Option<String>,
}

pub fn run(args: &ReplArgs) -> Result<()> {
    match &args.existing {
        Some(connection) => crate::repl::run_attached(connection),
        None => crate::repl::run(&mut Session::new()),
    }
}
