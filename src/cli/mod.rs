//! Command-line front end of the `helixfold` binary: the argument grammar (clap) and one
//! subcommand per file. `main.rs` only parses and calls [`Cli::run`]; each subcommand's `run`
//! returns errors as values for `main` to print.
//!
//! Without a subcommand the binary runs the session's command language: `-c "cmd; cmd"`, the
//! REPL when standard input is a terminal, else the script read from standard input.
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::io::IsTerminal;

pub mod bench;
pub mod kernel;
pub mod predict;
pub mod repl;
pub mod run;
pub mod runtime_args;
pub mod score;
pub mod train;
pub mod worker;

/// HelixFold (AlphaFold2) in Rust on libtorch.
#[derive(Debug, Parser)]
#[command(name = "helixfold", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Run these commands (separated by `;` or newlines) and exit; see docs/commands.md.
    #[arg(short = 'c', value_name = "COMMANDS")]
    pub commands: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare a model with its native structure: TM-score, GDT-TS, GDT-HA, RMSD, lDDT-Cα.
    Score(score::ScoreArgs),
    /// Run a script of session commands (batch mode), stopping at the first failure.
    Run(run::RunArgs),
    /// Start the interactive session (also what `helixfold` alone does on a terminal), or
    /// attach to a running kernel's session with `--existing`.
    Repl(repl::ReplArgs),
    /// Serve a Jupyter kernel, or install, list and uninstall its kernelspec.
    Kernel(kernel::KernelArgs),
    /// Predict a structure with one AlphaFold model: PDB with pLDDT, PAE, ranking, timings, outputs.
    Predict(predict::PredictArgs),
    /// Benchmarks: `bench infer` (forward time and memory, optionally against DeepMind's JAX code).
    Bench(bench::BenchArgs),
    /// Train a model: metrics.jsonl, checkpoints, optional evaluation against the native.
    Train(train::TrainArgs),
    /// Join a multi-process session as one of its ranks (started by `parallel` or a scheduler).
    Worker(worker::WorkerArgs),
}

impl Cli {
    /// Runs what the command line asks for, writing its output to stdout; a libtorch failure
    /// (e.g. CUDA out of memory) is an error like any other ([`crate::panics`]).
    pub fn run(&self) -> Result<()> {
        crate::panics::catch_panic(|| self.dispatch())
    }

    fn dispatch(&self) -> Result<()> {
        match (&self.commands, &self.command) {
            (Some(commands), _) => run::run_batch(commands, "-c"),
            (None, Some(Command::Score(args))) => score::run(args),
            (None, Some(Command::Run(args))) => run::run(args),
            (None, Some(Command::Kernel(args))) => kernel::run(args),
            (None, Some(Command::Predict(args))) => predict::run(args),
            (None, Some(Command::Bench(args))) => bench::run(args),
            (None, Some(Command::Train(args))) => train::run(args),
            (None, Some(Command::Repl(args))) => repl::run(args),
            (None, Some(Command::Worker(args))) => worker::run(args),
            (None, None) if std::io::stdin().is_terminal() => repl::run(&repl::ReplArgs::default()),
            (None, None) => run::run_stdin(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_grammar_is_consistent_and_keeps_batch_apart_from_subcommands() {
        Cli::command().debug_assert();
        let batch = Cli::try_parse_from(["helixfold", "-c", "echo hi"]).unwrap();
        assert_eq!(batch.commands.as_deref(), Some("echo hi"));
        assert!(batch.command.is_none());
        assert!(Cli::try_parse_from(["helixfold", "-c", "echo hi", "repl"]).is_err());
    }
}
