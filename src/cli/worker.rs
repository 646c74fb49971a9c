//! `helixfold worker --rendezvous HOST:PORT --rank R --world W [--device D] [--threads N]`: joins
//! a multi-process session as rank `R` of `W` and runs every command the session (rank 0) sends,
//! until it stops or goes away ([`crate::parallel::workers`]). A cluster scheduler (Slurm `srun`,
//! torchrun-style launchers) starts these on other machines for `parallel ... launch=external`;
//! `parallel dp=N ...` starts them on this one.
use crate::parallel::groups::Placement;
use crate::parallel::workers::run_worker;
use anyhow::{Context, Result};
use clap::Args;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The session's store, `HOST:PORT` (rank 0 serves it).
    #[arg(long, value_name = "HOST:PORT")]
    pub rendezvous: String,
    /// This process's rank, 1..W (rank 0 is the session).
    #[arg(long)]
    pub rank: usize,
    /// Processes in the job, the session included.
    #[arg(long)]
    pub world: usize,
    /// Seconds to wait for the rendezvous.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// This rank's device when the session asks for CUDA (`cuda:N`, e.g. `cuda:$SLURM_LOCALID`),
    /// or `cpu`. Default: CUDA device R when the machine has one per rank, else the CPU.
    #[arg(long)]
    pub device: Option<String>,
    /// Intra-op CPU threads (e.g. `$SLURM_CPUS_PER_TASK`). Default: the cores divided by W.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Where `--device` and `--threads` place this worker (`None`: neither given).
fn placement(args: &WorkerArgs) -> Result<Option<Placement>> {
    let device = args.device.as_deref().map(crate::device::parse_device).transpose()?;
    Ok(match (device, args.threads) {
        (Some(tch::Device::Cuda(index)), _) => Some(Placement::Cuda(index)),
        (_, Some(threads)) => Some(Placement::Cpu { threads: threads.max(1) }),
        (Some(_), None) => Some(Placement::Cpu { threads: (std::thread::available_parallelism().map_or(1, usize::from) / args.world.max(1)).max(1) }),
        (None, None) => None,
    })
}

/// `HOST:PORT` split at its last colon (so that an IPv6 host keeps its own).
fn parse_rendezvous(text: &str) -> Result<(&str, u16)> {
    let (host, port) = text.rsplit_once(':').with_context(|| format!("--rendezvous {text:?} is not HOST:PORT"))?;
    let port = port.parse().with_context(|| format!("--rendezvous {text:?}: {port:?} is not a port number"))?;
    Ok((host.trim_start_matches('[').trim_end_matches(']'), port))
}

pub fn run(args: &WorkerArgs) -> Result<()> {
    let (host, port) = parse_rendezvous(&args.rendezvous)?;
    let timeout = Duration::try_from_secs_f64(args.timeout).context("--timeout must be a non-negative number of seconds")?;
    run_worker(host, port, args.rank, args.world, timeout, placement(args)?)
        .with_context(|| format!("worker {} of {} at {}", args.rank, args.world, args.rendezvous))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendezvous_addresses() {
        assert_eq!(parse_rendezvous("127.0.0.1:29500").unwrap(), ("127.0.0.1", 29500));
        assert_eq!(parse_rendezvous("[::1]:80").unwrap(), ("::1", 80));
        assert!(parse_rendezvous("node7").unwrap_err().to_string().contains("HOST:PORT"));
        assert!(parse_rendezvous("node7:http").is_err());
        assert!(parse_rendezvous("node7:70000").is_err());
    }
}
