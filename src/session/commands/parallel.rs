//! `parallel [off] [dp=N] [dap=M] [bp=K] [launch=local|external] [port=P] [timeout=S]`: sets
//! HelixFold's hybrid-parallel layout ([`ParallelLayout`]) and runs the session on its
//! `dp × dap × bp` ranks; alone, shows it. Rank 0 is this session: it starts the other ranks as
//! worker processes on this machine ([`LocalWorkers`]) or waits for workers started elsewhere
//! (`launch=external`, e.g. by Slurm), has every rank join the job's process groups
//! ([`ParallelGroups`]), and from then on runs every command on every rank ([`on_every_rank`]).
//! `off` stops the workers.
use crate::parallel::groups::{ParallelGroups, Placement, RankInfo};
use crate::parallel::layout::{Axis, ParallelLayout};
use crate::parallel::local_workers::LocalWorkers;
use crate::parallel::workers::JobPlan;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::Session;
use anyhow::{Context as _, Result};
use std::time::Duration;

/// How long workers get to start, a collective to complete, and a silent worker to answer,
/// unless `timeout=` says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The store's port for `launch=external` unless `port=` says otherwise (torchrun's default).
const DEFAULT_PORT: u16 = 29500;

/// The multi-process job a session is a rank of: its groups and, on rank 0, the workers.
pub struct Job {
    // Fields drop in order: the groups before the workers are stopped.
    groups: ParallelGroups,
    workers: Option<LocalWorkers>,
    launch: &'static str,
    /// Intra-op threads before the job set this rank's share; restored when it ends.
    threads_before: i32,
}

impl Job {
    /// A worker's side of a job it joined.
    pub fn worker(groups: ParallelGroups) -> Self {
        Self { groups, workers: None, launch: "worker", threads_before: tch::get_num_threads() }
    }

    pub fn groups(&self) -> &ParallelGroups {
        &self.groups
    }

    /// The workers this rank dispatches commands to (rank 0 only).
    pub fn workers(&self) -> Option<&LocalWorkers> {
        self.workers.as_ref()
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        tch::set_num_threads(self.threads_before);
    }
}

/// On a worker rank, the output of a command that writes a file, which rank 0 alone writes (the
/// ranks hold the same state; several writers would clobber one path); `None` on rank 0 or
/// outside a job.
pub fn left_to_rank_zero(session: &Session, what: &str) -> Option<Output> {
    let rank = session.parallel_groups().map_or(0, ParallelGroups::rank);
    (rank != 0).then(|| Output::Text(format!("rank {rank} leaves {what} to rank 0")))
}

fn degree(args: &Args, key: &str, current: u32) -> Result<u32> {
    match args.int(key) {
        Some(n) => u32::try_from(n).with_context(|| format!("{key}={n} is out of range")),
        None => Ok(current),
    }
}

/// The layout and the processes running it, and (in a job) every rank's place.
pub fn layout_tables(session: &Session) -> Vec<Output> {
    let mut rows: Vec<Vec<String>> = session.model.parallel.rows().into_iter().map(Vec::from).collect();
    let job = session.job.as_ref();
    let processes = job.map_or(1, |job| job.groups.ranks().len());
    rows.push(vec!["processes".into(), processes.to_string()]);
    if let Some(job) = job {
        rows.push(vec!["launch".into(), job.launch.to_string()]);
        rows.push(vec!["this rank".into(), job.groups.rank().to_string()]);
        rows.push(vec!["timeout".into(), format!("{} s", job.groups.world().timeout().as_secs())]);
        let mut backends = vec![format!("world {}", job.groups.world().backend())];
        backends.extend(Axis::ALL.iter().map(|&axis| format!("{} {}", axis.name(), job.groups.axis(axis).backend())));
        rows.push(vec!["backends".into(), backends.join(", ")]);
    }
    let mut outputs = vec![Output::table(&["setting", "value"], rows)];
    if let Some(job) = job {
        let layout = job.groups.layout();
        let ranks = job
            .groups
            .ranks()
            .iter()
            .map(|info| {
                let (device, threads) = info.placement.describe();
                let place = layout.coordinates(info.rank).map_or_else(|_| ["?".into(), "?".into(), "?".into()], |c| {
                    [c.dp.to_string(), c.dap.to_string(), c.bp.to_string()]
                });
                let mut row = vec![info.rank.to_string()];
                row.extend(place);
                row.extend([info.host.clone(), info.pid.to_string(), device, threads]);
                row
            })
            .collect();
        outputs.push(Output::table(&["rank", "dp", "dap", "bp", "host", "pid", "device", "threads"], ranks));
    }
    outputs
}

pub fn parallel(session: &mut Session, args: &Args, context: &mut Context) -> Result<Vec<Output>> {
    if args.text("mode") == Some("off") {
        session.job = None;
        session.model.parallel = ParallelLayout::default();
        return Ok(layout_tables(session));
    }
    let current = session.model.parallel;
    let layout = ParallelLayout::new(
        degree(args, "dp", current.dp)?,
        degree(args, "dap", current.dap)?,
        degree(args, "bp", current.bp)?,
    )?;
    let external = args.text("launch") == Some("external");
    let port = match args.int("port") {
        Some(_) if !external => anyhow::bail!("port= is for launch=external (local workers use a free port)"),
        Some(port) => u16::try_from(port).with_context(|| format!("port={port} is out of range"))?,
        None => DEFAULT_PORT,
    };
    let timeout = args.int("timeout").map_or(Ok(DEFAULT_TIMEOUT), |s| u64::try_from(s).map(Duration::from_secs)).context("timeout")?;
    let launch = if external { "external" } else { "local" };
    let same_job = session.job.as_ref().is_some_and(|job| {
        job.groups.layout() == layout && job.launch == launch && job.groups.world().timeout() == timeout
    });
    let world = usize::try_from(layout.world_size())?;
    if !same_job && (world > 1 || session.job.is_some()) {
        session.job = None;
        session.model.parallel = ParallelLayout::default();
        if world > 1 {
            if external {
                context.progress("parallel", 0, world as u64 - 1, format!("waiting up to {timeout:?} for {} workers on port {port}", world - 1));
            }
            session.job = Some(start_job(layout, external.then_some(port), timeout)?);
            let device = session.device;
            session.device = session.job.as_ref().map_or(device, |job| job.groups.placement().device_for(device));
        }
    }
    session.model.parallel = layout;
    let mut outputs = layout_tables(session);
    let started = !same_job && world > 1;
    let has_state = session.model.config.is_some() || !session.inputs.structures.is_empty() || session.inputs.dataset.is_some();
    if started && has_state {
        outputs.push(Output::Warning(
            "the workers start with an empty session: run `model`, `params` and `load` again so that every rank has them".into(),
        ));
    }
    Ok(outputs)
}

/// Starts (or, with `external_port`, waits for) the workers of `layout` and joins every rank to
/// the job's groups; on failure the workers are stopped.
fn start_job(layout: ParallelLayout, external_port: Option<u16>, timeout: Duration) -> Result<Job> {
    let world = usize::try_from(layout.world_size())?;
    let (mut workers, placements, device_host) = match external_port {
        None => {
            let placements = (0..world).map(|rank| Placement::for_local_rank(rank, world)).collect::<Result<Vec<_>>>()?;
            (LocalWorkers::spawn(world, timeout)?, Some(placements), "127.0.0.1")
        }
        Some(port) => (LocalWorkers::external(port, world, timeout)?, None, ""),
    };
    let placement = match placements.as_ref().and_then(|all| all.first()) {
        Some(first) => *first,
        None => Placement::for_local_rank(0, 1)?,
    };
    let plan = JobPlan { dp: layout.dp, dap: layout.dap, bp: layout.bp, device_host: device_host.into(), placements };
    let threads_before = tch::get_num_threads();
    placement.apply();
    let joined = workers.join_groups(&plan, |store| ParallelGroups::join(store, layout, RankInfo::here(0, placement), device_host, timeout));
    match joined {
        Ok(groups) => Ok(Job {
            groups,
            workers: Some(workers),
            launch: if external_port.is_some() { "external" } else { "local" },
            threads_before,
        }),
        Err(error) => {
            tch::set_num_threads(threads_before);
            Err(error.context(format!("starting the {world} ranks of dp={} dap={} bp={}", layout.dp, layout.dap, layout.bp)))
        }
    }
}

/// Runs one command here through `run` and, on rank 0 of a job, on every worker too: the
/// command goes to the workers first so that collectives inside it meet. Workers' errors are
/// added as warnings; a lost worker ends the job (the session returns to one process) and is
/// reported with the command's outcome. `parallel` itself runs here only.
pub fn on_every_rank(
    session: &mut Session,
    line: &str,
    run: impl FnOnce(&mut Session) -> Result<Vec<Output>>,
) -> Result<Vec<Output>> {
    let is_parallel = line.split_whitespace().next() == Some("parallel");
    let dispatched = match session.job.as_mut().and_then(|job| job.workers.as_mut()) {
        Some(workers) if !is_parallel => Some(workers.dispatch(line)),
        _ => None,
    };
    let local = run(session);
    let Some(dispatched) = dispatched else { return local };
    let collected = dispatched.and_then(|index| match session.job.as_ref().and_then(Job::workers) {
        Some(workers) => workers.collect(index),
        None => Ok(Vec::new()),
    });
    let mut notes = Vec::new();
    let mut lost = None;
    match collected {
        Ok(reports) => {
            for report in reports {
                if let Err(error) = report.outcome {
                    notes.push(Output::Warning(format!("rank {}: {error}", report.rank)));
                }
            }
        }
        Err(error) => {
            session.job = None;
            session.model.parallel = ParallelLayout::default();
            let message = format!("{error:#}; the workers are stopped and the session runs in one process");
            notes.push(Output::Warning(message.clone()));
            lost = Some(message);
        }
    }
    match (local, lost) {
        (Ok(mut outputs), _) => {
            outputs.extend(notes);
            Ok(outputs)
        }
        (Err(error), Some(lost)) => Err(error.context(lost)),
        (Err(error), None) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_rank_layout_is_set_without_workers_and_kept_on_error() {
        let mut session = Session::new();
        session.execute("parallel dp=1 dap=1 bp=1").unwrap();
        assert!(session.job.is_none());
        let set = ParallelLayout::default();
        for line in ["parallel bp=3", "parallel dap=0", "parallel dp=x", "parallel on", "parallel dp=1 port=29500"] {
            assert!(session.execute(line).is_err(), "{line}");
            assert_eq!(session.model().parallel, set, "{line}");
        }
        let shown = session.execute("show parallel").unwrap()[0].to_text();
        assert!(shown.contains("world size  1"), "{shown}");
        assert!(shown.contains("processes   1"), "{shown}");
        session.execute("parallel off").unwrap();
        assert_eq!(session.model().parallel, ParallelLayout::default());
    }
}
