//! Command-line front end of the `helixfold` binary: the argument grammar (clap) and one
//! subcommand per file. `main.rs` only parses and calls [`Command::run`]; each subcommand's
//! `run` returns errors as values for `main` to print.
use anyhow::Result;
use clap::{Parser, Subcommand};

pub mod predict;
pub mod score;

/// HelixFold (AlphaFold2) in Rust on libtorch.
#[derive(Debug, Parser)]
#[command(name = "helixfold", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare a model with its native structure: TM-score, GDT-TS, GDT-HA, RMSD, lDDT-Cα.
    Score(score::ScoreArgs),
    /// Predict a structure with one AlphaFold model: PDB with pLDDT, PAE, ranking, timings, outputs.
    Predict(predict::PredictArgs),
}

impl Command {
    /// Runs the subcommand, writing its report to stdout.
    pub fn run(&self) -> Result<()> {
        match self {
            Command::Score(args) => score::run(args),
            Command::Predict(args) => predict::run(args),
        }
    }
}
