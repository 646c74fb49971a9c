//! Running one session on several processes: rank 0 holds the session the user sees (the
//! [`Cluster`] side) and ranks `1..W` are workers (`helixfold worker`, [`run_worker`]) that
//! execute every command in their own session, so that the commands' collectives meet.
//!
//! Everything goes through the job's c10d TCPStore, served by rank 0:
//! - `command/<i>`: the `i`-th command line (or [`STOP`]), set by rank 0 and read by every worker.
//!   A session's first command is [`Cluster::join_groups`]'s plan ([`JobPlan`]: the layout,
//!   where Gloo binds, each rank's placement), on which every rank joins the job's groups
//!   ([`ParallelGroups::join`]);
//! - `result/<i>/<rank>`: a worker's outcome of command `i` as JSON ([`WorkerReport`]); a worker
//!   acknowledges [`STOP`] the same way before it exits;
//! - `heartbeat/<rank>`: a counter each worker bumps every [`HEARTBEAT`]; rank 0 declares a worker
//!   dead when its counter stops moving for the cluster's timeout, so a long command is waited
//!   for but a dead worker is reported within the timeout.
//!
//! A worker whose store connection breaks (rank 0 gone) stops.
use super::groups::{ParallelGroups, Placement, RankInfo};
use super::layout::ParallelLayout;
use super::process_group::Store;
use crate::session::Session;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The command line that ends the workers.
pub const STOP: &str = "\u{4}stop";

/// How often a worker signals that it is alive.
pub const HEARTBEAT: Duration = Duration::from_millis(500);

/// How often a waiting side looks for its key (c10d's blocking reads log every timed-out poll,
/// so waits poll with `check` instead).
const POLL: Duration = Duration::from_millis(20);

/// Starts the command line that carries a [`JobPlan`] (as JSON) to the workers.
const JOIN: &str = "\u{4}join ";

/// What rank 0 tells every worker before the groups are created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPlan {
    pub dp: u32,
    pub dap: u32,
    pub bp: u32,
    /// The address Gloo binds to on every rank: `127.0.0.1` when all ranks share this machine,
    /// empty for each host's own name (workers started elsewhere).
    pub device_host: String,
    /// Each rank's placement when rank 0 chose them (workers it started on its machine); `None`
    /// lets each worker choose its own.
    pub placements: Option<Vec<Placement>>,
}

impl JobPlan {
    pub fn layout(&self) -> Result<ParallelLayout> {
        ParallelLayout::new(self.dp, self.dap, self.bp)
    }
}

/// What one worker made of one command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerReport {
    pub rank: usize,
    /// The command's outputs as text, or its error.
    pub outcome: std::result::Result<String, String>,
}

fn command_key(index: u64) -> String {
    format!("command/{index}")
}

fn result_key(index: u64, rank: usize) -> String {
    format!("result/{index}/{rank}")
}

fn heartbeat_key(rank: usize) -> String {
    format!("heartbeat/{rank}")
}

/// Rank 0's handle on the workers.
pub struct Cluster {
    store: Store,
    world: usize,
    next_command: u64,
    timeout: Duration,
}

impl Cluster {
    /// Serves the store on `port` of this machine and waits up to `timeout` for the `world - 1`
    /// workers to connect.
    pub fn host(port: u16, world: usize, timeout: Duration) -> Result<Self> {
        let store = Store::connect("127.0.0.1", port, world, true, timeout)?;
        Ok(Self { store, world, next_command: 0, timeout })
    }

    /// How long a silent worker is waited for before it is reported dead (initially the
    /// rendezvous timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn world(&self) -> usize {
        self.world
    }

    /// The job's store (for creating its groups).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Sends `plan` to the workers, which join the job's groups on it; rank 0 then joins them
    /// through `join_here` (which creates its own groups), and the workers' reports say whether
    /// they joined.
    pub fn join_groups(&mut self, plan: &JobPlan, join_here: impl FnOnce(&Store) -> Result<ParallelGroups>) -> Result<ParallelGroups> {
        let index = self.dispatch(&format!("{JOIN}{}", serde_json::to_string(plan)?))?;
        let groups = join_here(&self.store)?;
        for report in self.collect(index)? {
            if let Err(error) = report.outcome {
                bail!("worker {} could not join the job's groups: {error}", report.rank);
            }
        }
        Ok(groups)
    }

    /// Sends `line` to every worker; returns the index to [`Cluster::collect`] its results by.
    pub fn dispatch(&mut self, line: &str) -> Result<u64> {
        let index = self.next_command;
        self.store.set(&command_key(index), line.as_bytes())?;
        self.next_command += 1;
        Ok(index)
    }

    /// Every worker's report on command `index`, waiting while the workers are alive. Fails
    /// when a worker's heartbeat stops for the timeout: the job has lost that rank.
    pub fn collect(&self, index: u64) -> Result<Vec<WorkerReport>> {
        (1..self.world).map(|rank| self.await_result(index, rank)).collect()
    }

    fn await_result(&self, index: u64, rank: usize) -> Result<WorkerReport> {
        let key = result_key(index, rank);
        let mut beats = self.store.add(&heartbeat_key(rank), 0)?;
        let mut last_beat = Instant::now();
        while !self.store.contains(&key)? {
            std::thread::sleep(POLL);
            let now = self.store.add(&heartbeat_key(rank), 0)?;
            if now != beats {
                beats = now;
                last_beat = Instant::now();
            } else if last_beat.elapsed() > self.timeout {
                bail!("worker {rank} stopped answering (no heartbeat for {:?}): it has died or hangs", self.timeout);
            }
        }
        let bytes = self.store.get(&key, self.timeout)?;
        serde_json::from_slice(&bytes).with_context(|| format!("worker {rank}'s report is not valid"))
    }

    /// Tells the workers to stop (they exit after their current command).
    pub fn stop(&mut self) -> Result<()> {
        self.dispatch(STOP).map(|_| ())
    }

    /// Tells the workers to stop and waits until each has acknowledged it (or is found dead),
    /// so that the store outlives their last read of it.
    pub fn stop_and_wait(&mut self) -> Result<()> {
        let index = self.dispatch(STOP)?;
        self.collect(index).map(drop)
    }
}

/// Runs as worker `rank` of `world` for the session at `host:port` until rank 0 sends [`STOP`]
/// or goes away. `timeout` bounds the rendezvous and the job's collectives. `placement` is where
/// this worker computes unless rank 0's plan says otherwise; without either, the worker takes
/// its share of this machine ([`Placement::for_local_rank`]).
pub fn run_worker(host: &str, port: u16, rank: usize, world: usize, timeout: Duration, placement: Option<Placement>) -> Result<()> {
    if rank == 0 || rank >= world {
        bail!("worker rank {rank} must be in 1..{world} (rank 0 is the session)");
    }
    let store = Arc::new(Store::connect(host, port, world, false, timeout)?);
    let done = Arc::new(AtomicBool::new(false));
    let heartbeat = {
        let (store, done) = (Arc::clone(&store), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) && store.add(&heartbeat_key(rank), 1).is_ok() {
                std::thread::sleep(HEARTBEAT);
            }
        })
    };
    let served = serve(&store, (rank, world), placement);
    done.store(true, Ordering::SeqCst);
    // The heartbeat thread only loops and sleeps; a panic there has nothing to report.
    let _ = heartbeat.join();
    served
}

/// Takes this rank's placement (the plan's, else `placement`, else a share of this machine) and
/// joins the job's groups.
fn join(session: &mut Session, store: &Store, plan: &str, worker: (usize, usize), placement: Option<Placement>) -> Result<String> {
    let (rank, world) = worker;
    let plan: JobPlan = serde_json::from_str(plan).context("the job's plan is not valid")?;
    let layout = plan.layout()?;
    if layout.world_size() != world as u64 {
        bail!("the session's layout dp={} dap={} bp={} has {} ranks, but this worker was started for {world}", plan.dp, plan.dap, plan.bp, layout.world_size());
    }
    let placement = match (plan.placements.as_ref().and_then(|all| all.get(rank)), placement) {
        (Some(planned), _) => *planned,
        (None, Some(given)) => given,
        (None, None) => Placement::for_local_rank(rank, world)?,
    };
    placement.apply();
    let groups = ParallelGroups::join(store, layout, RankInfo::here(rank, placement), &plan.device_host, store.timeout())?;
    session.join_job(Some(groups));
    Ok(format!("rank {rank} joined the job"))
}

/// Reads and runs commands as `worker` (rank, world size) until [`STOP`]; fails when rank 0's
/// store is gone.
fn serve(store: &Store, worker: (usize, usize), placement: Option<Placement>) -> Result<()> {
    let rank = worker.0;
    let mut session = Session::new();
    for index in 0.. {
        let key = command_key(index);
        while !store.contains(&key).context("lost the session's store (rank 0 is gone)")? {
            std::thread::sleep(POLL);
        }
        let line = String::from_utf8_lossy(&store.get(&key, store.timeout())?).into_owned();
        if line == STOP {
            let acknowledged = serde_json::to_vec(&WorkerReport { rank, outcome: Ok("stopped".into()) })?;
            return store.set(&result_key(index, rank), &acknowledged);
        }
        let outcome = match line.strip_prefix(JOIN) {
            Some(plan) => join(&mut session, store, plan, worker, placement).map_err(|error| format!("{error:#}")),
            None => match session.execute(&line) {
                Ok(outputs) => Ok(outputs.iter().map(|o| o.to_text()).collect::<Vec<_>>().join("\n")),
                Err((_, error)) => Err(error.to_string()),
            },
        };
        let report = serde_json::to_vec(&WorkerReport { rank, outcome })?;
        store.set(&result_key(index, rank), &report)?;
    }
    Ok(())
}
