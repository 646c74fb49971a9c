//! The worker processes of a session (`parallel dp=N ...`): `world - 1` copies of this
//! executable that run `helixfold worker` against a store this process serves on a free local
//! port ([`super::workers`]), or (`launch=external`) workers started elsewhere, e.g. by Slurm,
//! that connect to the store this process serves on a given port. Dropping the handle stops
//! them.
use super::groups::ParallelGroups;
use super::process_group::Store;
use super::workers::{Cluster, JobPlan, WorkerReport};
use anyhow::{Context, Result};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Running workers (those started here, if any) and rank 0's side of their store.
pub struct LocalWorkers {
    cluster: Cluster,
    children: Vec<Child>,
    timeout: Duration,
}

fn free_local_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free local port")?;
    Ok(listener.local_addr()?.port())
}

impl LocalWorkers {
    /// Starts ranks `1..world` and waits up to `timeout` for them to join; `timeout` is also
    /// how long a silent worker is waited for before it counts as lost.
    pub fn spawn(world: usize, timeout: Duration) -> Result<Self> {
        let executable = std::env::current_exe().context("locating this executable to start workers")?;
        let port = free_local_port()?;
        let mut children = Vec::with_capacity(world.saturating_sub(1));
        for rank in 1..world {
            let child = Command::new(&executable)
                .args(["worker", "--rendezvous", &format!("127.0.0.1:{port}")])
                .args(["--rank", &rank.to_string(), "--world", &world.to_string()])
                .args(["--timeout", &timeout.as_secs_f64().to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("starting worker {rank} ({})", executable.display()));
            match child {
                Ok(child) => children.push(child),
                Err(error) => {
                    stop_children(&mut children, Duration::ZERO);
                    return Err(error);
                }
            }
        }
        match Cluster::host(port, world, timeout) {
            Ok(cluster) => Ok(Self { cluster, children, timeout }),
            Err(error) => {
                stop_children(&mut children, Duration::ZERO);
                Err(error.context(format!("waiting for {} workers to join", world - 1)))
            }
        }
    }

    /// Serves the store on `port` and waits up to `timeout` for workers `1..world`, started
    /// elsewhere (`helixfold worker --rendezvous THIS_HOST:PORT --rank R --world W`), to connect.
    pub fn external(port: u16, world: usize, timeout: Duration) -> Result<Self> {
        let cluster = Cluster::host(port, world, timeout)
            .with_context(|| format!("waiting for {} workers to connect to port {port}", world.saturating_sub(1)))?;
        Ok(Self { cluster, children: Vec::new(), timeout })
    }

    /// Process ids of the workers started here, in rank order.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// The job's store.
    pub fn store(&self) -> &Store {
        self.cluster.store()
    }

    /// Has every rank join the job's groups ([`Cluster::join_groups`]).
    pub fn join_groups(&mut self, plan: &JobPlan, join_here: impl FnOnce(&Store) -> Result<ParallelGroups>) -> Result<ParallelGroups> {
        self.cluster.join_groups(plan, join_here)
    }

    /// Processes in the job, this one included.
    pub fn world(&self) -> usize {
        self.cluster.world()
    }

    /// Sends `line` to every worker ([`Cluster::dispatch`]).
    pub fn dispatch(&mut self, line: &str) -> Result<u64> {
        self.cluster.dispatch(line)
    }

    /// The workers' reports on command `index` ([`Cluster::collect`]).
    pub fn collect(&self, index: u64) -> Result<Vec<WorkerReport>> {
        self.cluster.collect(index)
    }
}

impl Drop for LocalWorkers {
    fn drop(&mut self) {
        if self.children.is_empty() {
            // Workers started elsewhere: keep serving the store until they have read the stop
            // (a dead one is given up after the timeout); nothing more can be done here.
            let _ = self.cluster.stop_and_wait();
        } else {
            // Workers that miss the stop (dead, or busy past the timeout) are killed below.
            let _ = self.cluster.stop();
            stop_children(&mut self.children, self.timeout);
        }
    }
}

/// Waits up to `grace` for the children to exit, then kills the rest.
fn stop_children(children: &mut [Child], grace: Duration) {
    let started = Instant::now();
    for child in children.iter_mut() {
        while matches!(child.try_wait(), Ok(None)) && started.elapsed() < grace {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(child.try_wait(), Ok(None)) {
            // A child that cannot be killed or reaped has already gone.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
