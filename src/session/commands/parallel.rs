//! `parallel [off] [dp=N] [dap=M] [bp=K]`: sets HelixFold's hybrid-parallel layout
//! ([`ParallelLayout`]); alone, shows it. A data-parallel layout (`dp=N`, no DAP or BP) starts
//! `N - 1` worker processes on this machine ([`LocalWorkers`]) and from then on every command
//! runs on every rank ([`on_every_rank`]); `off` stops them. DAP and BP layouts are recorded
//! only, which the output says.
use crate::parallel::layout::ParallelLayout;
use crate::parallel::local_workers::LocalWorkers;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::Session;
use anyhow::{Context as _, Result};
use std::time::Duration;

/// How long workers get to start, and how long a silent worker is waited for.
const WORKER_TIMEOUT: Duration = Duration::from_secs(60);

fn degree(args: &Args, key: &str, current: u32) -> Result<u32> {
    match args.int(key) {
        Some(n) => u32::try_from(n).with_context(|| format!("{key}={n} is out of range")),
        None => Ok(current),
    }
}

/// The layout and the processes running it, as a table.
pub fn layout_table(session: &Session) -> Output {
    let mut rows: Vec<Vec<String>> = session.model.parallel.rows().into_iter().map(Vec::from).collect();
    let processes = session.workers.as_ref().map_or(1, LocalWorkers::world);
    rows.push(vec!["processes".into(), processes.to_string()]);
    Output::table(&["setting", "value"], rows)
}

pub fn parallel(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    if args.text("mode") == Some("off") {
        session.workers = None;
        session.model.parallel = ParallelLayout::default();
        return Ok(vec![layout_table(session)]);
    }
    let current = session.model.parallel;
    let layout = ParallelLayout::new(
        degree(args, "dp", current.dp)?,
        degree(args, "dap", current.dap)?,
        degree(args, "bp", current.bp)?,
    )?;
    let mut outputs = Vec::new();
    let data_parallel_only = layout.dap == 1 && layout.bp == 1;
    let world = usize::try_from(layout.world_size())?;
    let running = session.workers.as_ref().map_or(1, LocalWorkers::world);
    if data_parallel_only && world != running {
        session.workers = None;
        if world > 1 {
            session.workers = Some(LocalWorkers::spawn(world, WORKER_TIMEOUT)?);
        }
    } else if !data_parallel_only {
        outputs.push(Output::Warning(format!(
            "layout recorded for {} devices, but DAP and BP execution is not active yet: commands run in {running} process(es)",
            layout.world_size()
        )));
    }
    session.model.parallel = layout;
    outputs.insert(0, layout_table(session));
    Ok(outputs)
}

/// Runs one command here through `run` and, while workers run, on every worker too: the
/// command goes to the workers first so that collectives inside it meet. Workers' errors are
/// added as warnings; a lost worker stops them all and returns the session to one process.
/// `parallel` itself runs here only.
pub fn on_every_rank(
    session: &mut Session,
    line: &str,
    run: impl FnOnce(&mut Session) -> Result<Vec<Output>>,
) -> Result<Vec<Output>> {
    let is_parallel = line.split_whitespace().next() == Some("parallel");
    let dispatched = match session.workers.as_mut() {
        Some(workers) if !is_parallel => Some(workers.dispatch(line)),
        _ => None,
    };
    let local = run(session);
    let Some(dispatched) = dispatched else { return local };
    let collected = dispatched.and_then(|index| match session.workers.as_ref() {
        Some(workers) => workers.collect(index),
        None => Ok(Vec::new()),
    });
    let mut notes = Vec::new();
    match collected {
        Ok(reports) => {
            for report in reports {
                if let Err(error) = report.outcome {
                    notes.push(Output::Warning(format!("rank {}: {error}", report.rank)));
                }
            }
        }
        Err(lost) => {
            session.workers = None;
            session.model.parallel = ParallelLayout::default();
            notes.push(Output::Warning(format!("{lost:#}; the workers are stopped and the session runs in one process")));
        }
    }
    let mut outputs = local?;
    outputs.extend(notes);
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_a_valid_layout_and_keeps_it_on_error() {
        let mut session = Session::new();
        let outputs = session.execute("parallel dap=2 bp=2").unwrap();
        assert!(outputs[1].to_text().contains("not active yet"), "{outputs:?}");
        let set = ParallelLayout::new(1, 2, 2).unwrap();
        assert_eq!(session.model().parallel, set);
        for line in ["parallel bp=3", "parallel dap=0", "parallel dp=x", "parallel on"] {
            assert!(session.execute(line).is_err(), "{line}");
            assert_eq!(session.model().parallel, set, "{line}");
        }
        let shown = session.execute("show parallel").unwrap()[0].to_text();
        assert!(shown.contains("world size  4"), "{shown}");
        assert!(shown.contains("processes   1"), "{shown}");
        session.execute("parallel off").unwrap();
        assert_eq!(session.model().parallel, ParallelLayout::default());
    }
}
