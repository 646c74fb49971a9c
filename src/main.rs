//! The `helixfold` binary: parses the command line and runs what it asks for. Every failure,
//! a usage error included, prints `error: ...` (with its chain of causes) on stderr and exits
//! with status 1.
use clap::Parser;
use helixfold::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(usage) => {
            // clap renders help and version as "errors" too; those go to stdout and succeed.
            let failed = usage.use_stderr();
            // A failure to print the usage message leaves nothing more useful to report.
            let _ = usage.print();
            return if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
