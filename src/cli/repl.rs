//! `helixfold repl` (and `helixfold` alone on a terminal): the interactive front end
//! ([`crate::repl`]) on a fresh session.
use crate::session::Session;
use anyhow::Result;

pub fn run() -> Result<()> {
    crate::repl::run(&mut Session::new())
}
