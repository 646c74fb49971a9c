//! The process groups of one multi-process job: the world group (every rank) and, for each
//! axis of the [`ParallelLayout`] (dp, dap, bp), the group of ranks that differ only along it,
//! as HelixFold's `scg.init_process_group` creates them (Wang et al. (2022) Sec. 3.2; PaddleHelix
//! `apps/protein_folding/helixfold/utils/init_env.py`). Rank 0 (the session) and every worker
//! join them when `parallel` starts the job, each rank the groups that hold it, axis by axis in
//! [`Axis::ALL`] order, so the rendezvous of every group meets.
//!
//! Each rank also says where it computes ([`Placement`]: one CUDA device per rank, or an equal
//! share of the CPU cores) and who it is (host, process id) through the job's store, so that
//! every rank knows the whole job ([`ParallelGroups::ranks`], `show parallel`).
//!
//! Backends: an axis group whose ranks all compute on CUDA devices and can run NCCL runs on
//! NCCL, GPU to GPU (as HelixFold's groups do); any other axis group, and the world group, which
//! carries the job's control traffic (flags, counts), run on Gloo (tensors cross through host
//! memory), so a build without the NCCL backend still runs on GPUs.
use super::layout::{Axis, Coordinates, ParallelLayout};
use super::sharding::ShardingGroups;
use super::process_group::{Backend, ProcessGroup, ReduceOp, Store};
use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tch::{Device, Kind, Tensor};

/// Where a rank computes: its own CUDA device, or `threads` intra-op threads on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Placement {
    Cuda(usize),
    Cpu { threads: usize },
}

impl Placement {
    /// The placement of rank `local_rank` of `ranks_here` ranks on this machine: CUDA device
    /// `local_rank` when the machine has CUDA devices (at least one per rank), otherwise
    /// `max(1, cores / ranks_here)` threads, so the ranks share the cores instead of each
    /// taking all of them.
    pub fn for_local_rank(local_rank: usize, ranks_here: usize) -> Result<Self> {
        crate::device::ensure_cuda_backend();
        let devices = usize::try_from(tch::Cuda::device_count()).unwrap_or(0);
        if devices > 0 {
            ensure!(
                ranks_here <= devices,
                "{ranks_here} ranks on this machine but {devices} CUDA device(s): each rank needs its own device"
            );
            return Ok(Placement::Cuda(local_rank));
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Placement::Cpu { threads: (cores / ranks_here.max(1)).max(1) })
    }

    /// Sets this process's intra-op threads for a CPU placement.
    pub fn apply(&self) {
        if let Placement::Cpu { threads } = *self {
            tch::set_num_threads(i32::try_from(threads).unwrap_or(i32::MAX));
        }
    }

    /// The device a session on this rank uses when it is asked for `requested`: a CUDA request
    /// goes to this rank's own device.
    pub fn device_for(&self, requested: Device) -> Device {
        match (self, requested) {
            (Placement::Cuda(index), Device::Cuda(_)) => Device::Cuda(*index),
            _ => requested,
        }
    }

    /// `(device, threads)` for display.
    pub fn describe(&self) -> (String, String) {
        match self {
            Placement::Cuda(index) => (format!("cuda:{index}"), "-".into()),
            Placement::Cpu { threads } => ("cpu".into(), threads.to_string()),
        }
    }
}

/// What a rank tells the others about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankInfo {
    pub rank: usize,
    pub host: String,
    pub pid: u32,
    pub placement: Placement,
    /// Whether this rank can run NCCL groups: it computes on a CUDA device and its build has
    /// the NCCL backend, which loads ([`crate::parallel::nccl::available`]).
    #[serde(default)]
    pub nccl: bool,
}

impl RankInfo {
    /// This process as rank `rank`.
    pub fn here(rank: usize, placement: Placement) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map_or_else(|_| "localhost".into(), |h| h.trim().to_string());
        let nccl = matches!(placement, Placement::Cuda(_)) && super::nccl::available().is_ok();
        Self { rank, host, pid: std::process::id(), placement, nccl }
    }
}

fn rank_key(rank: usize) -> String {
    format!("rank/{rank}")
}

/// Distinguishes jobs within one process (a trainer remembers which job it joined).
static NEXT_JOB: AtomicU64 = AtomicU64::new(0);

/// This rank's groups in a job.
pub struct ParallelGroups {
    job: u64,
    layout: ParallelLayout,
    rank: usize,
    coordinates: Coordinates,
    world: Arc<ProcessGroup>,
    /// One group per axis, in [`Axis::ALL`] order.
    axes: [Arc<ProcessGroup>; 3],
    ranks: Vec<RankInfo>,
}

impl ParallelGroups {
    /// Joins the job meeting at `store` as `me.rank`: publishes `me`, reads every rank's
    /// [`RankInfo`], then creates the world group and this rank's group along each axis (with
    /// the backend [`axis_backend`] picks). Every rank calls this with the same layout.
    /// `device_host` is the address Gloo binds to (see [`ProcessGroup::new`]); `timeout` bounds
    /// the rendezvous and every collective.
    pub fn join(store: &Store, layout: ParallelLayout, me: RankInfo, device_host: &str, timeout: Duration) -> Result<Self> {
        let rank = me.rank;
        let world_size = usize::try_from(layout.world_size())?;
        let coordinates = layout.coordinates(rank)?;
        store.set(&rank_key(rank), &serde_json::to_vec(&me)?)?;
        let ranks = (0..world_size)
            .map(|r| {
                let bytes = store.get(&rank_key(r), timeout)?;
                serde_json::from_slice(&bytes).with_context(|| format!("rank {r}'s description is not valid"))
            })
            .collect::<Result<Vec<RankInfo>>>()?;
        let world_store = store.prefixed("group/world")?;
        let world = Arc::new(
            ProcessGroup::new(Backend::Gloo, &world_store, rank, world_size, device_host, timeout)
                .context("creating the world group")?,
        );
        let mut axes = Vec::with_capacity(Axis::ALL.len());
        for axis in Axis::ALL {
            let members = layout.group_of(axis, rank)?;
            let backend = axis_backend(&ranks, &members, rank)?;
            let group = ProcessGroup::subgroup(backend, store, &format!("group/{}", axis.name()), &members, rank, device_host, timeout)
                .with_context(|| format!("creating the {} group {members:?} on {backend:?}", axis.name()))?;
            axes.push(Arc::new(group));
        }
        let axes: [Arc<ProcessGroup>; 3] = axes.try_into().map_err(|_| anyhow::anyhow!("one group per axis"))?;
        Ok(Self { job: NEXT_JOB.fetch_add(1, Ordering::SeqCst), layout, rank, coordinates, world, axes, ranks })
    }

    /// Identifies this job among the jobs this process has joined.
    pub fn job(&self) -> u64 {
        self.job
    }

    pub fn layout(&self) -> ParallelLayout {
        self.layout
    }

    /// This process's rank in the world.
    pub fn rank(&self) -> usize {
        self.rank
    }

    pub fn coordinates(&self) -> Coordinates {
        self.coordinates
    }

    pub fn world(&self) -> &Arc<ProcessGroup> {
        &self.world
    }

    /// The groups a forward pass is sharded over: the dap and bp groups whose degree is above 1.
    pub fn sharding(&self) -> ShardingGroups {
        ShardingGroups {
            dap: (self.layout.dap > 1).then(|| Arc::clone(self.axis(Axis::Dap))),
            bp: (self.layout.bp > 1).then(|| Arc::clone(self.axis(Axis::Bp))),
        }
    }

    /// This rank's group along `axis`.
    pub fn axis(&self, axis: Axis) -> &Arc<ProcessGroup> {
        let index = Axis::ALL.iter().position(|&a| a == axis).unwrap_or(0);
        &self.axes[index]
    }

    /// Every rank of the job, in rank order.
    pub fn ranks(&self) -> &[RankInfo] {
        &self.ranks
    }

    /// This rank's placement.
    pub fn placement(&self) -> Placement {
        self.ranks.get(self.rank).map_or(Placement::Cpu { threads: 1 }, |info| info.placement)
    }

    /// Every rank's `values` (the same count on each rank), row `r` from rank `r`.
    pub fn gather_i64(&self, values: &[i64]) -> Result<Vec<Vec<i64>>> {
        let row = Tensor::from_slice(values).view([1, values.len() as i64]);
        let gathered = self.world.all_gather(&row)?;
        let flat = Vec::<i64>::try_from(gathered.to_kind(Kind::Int64).reshape([-1])).context("reading the gathered values")?;
        Ok(flat.chunks(values.len().max(1)).map(<[i64]>::to_vec).collect())
    }

    /// Whether `flag` is set on any rank (every rank calls this).
    pub fn any(&self, flag: bool) -> Result<bool> {
        let reduced = self.world.all_reduce(&Tensor::from_slice(&[i64::from(flag)]), ReduceOp::Max)?;
        Ok(reduced.int64_value(&[0]) != 0)
    }
}

/// The backend of the axis group `members` (global ranks) as seen by member `rank`: NCCL on
/// `rank`'s own device when every member computes on a CUDA device and can run NCCL, Gloo
/// otherwise. Every member reaches the same answer from the same [`RankInfo`]s.
pub fn axis_backend(ranks: &[RankInfo], members: &[usize], rank: usize) -> Result<Backend> {
    let info = |r: usize| ranks.get(r).with_context(|| format!("rank {r} has not described itself"));
    for &member in members {
        let member = info(member)?;
        if !(member.nccl && matches!(member.placement, Placement::Cuda(_))) {
            return Ok(Backend::Gloo);
        }
    }
    Ok(match info(rank)?.placement {
        Placement::Cuda(device) => Backend::Nccl { device },
        Placement::Cpu { .. } => Backend::Gloo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ranks_share_the_cores_and_cuda_requests_go_to_the_rank_device() {
        if tch::Cuda::device_count() == 0 {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            assert_eq!(Placement::for_local_rank(0, 1).unwrap(), Placement::Cpu { threads: cores });
            assert_eq!(Placement::for_local_rank(3, 4 * cores).unwrap(), Placement::Cpu { threads: 1 });
        }
        let pinned = Placement::Cuda(2);
        assert_eq!(pinned.device_for(Device::Cuda(0)), Device::Cuda(2));
        assert_eq!(pinned.device_for(Device::Cpu), Device::Cpu);
        assert_eq!(Placement::Cpu { threads: 3 }.device_for(Device::Cuda(1)), Device::Cuda(1));
        assert_eq!(pinned.describe(), ("cuda:2".to_string(), "-".to_string()));
    }

    #[test]
    fn axis_groups_of_nccl_capable_cuda_ranks_use_nccl_and_any_other_member_means_gloo() {
        let info = |rank, placement, nccl| RankInfo { rank, host: "h".into(), pid: 1, placement, nccl };
        let cpu = Placement::Cpu { threads: 2 };
        let ranks = [
            info(0, Placement::Cuda(0), true),
            info(1, Placement::Cuda(1), true),
            info(2, cpu, false),
            info(3, Placement::Cuda(0), true),
            info(4, Placement::Cuda(1), false),
        ];
        assert_eq!(axis_backend(&ranks, &[0, 1], 1).unwrap(), Backend::Nccl { device: 1 });
        assert_eq!(axis_backend(&ranks, &[3], 3).unwrap(), Backend::Nccl { device: 0 });
        assert_eq!(axis_backend(&ranks, &[0, 2], 0).unwrap(), Backend::Gloo);
        assert_eq!(axis_backend(&ranks, &[2], 2).unwrap(), Backend::Gloo);
        assert_eq!(axis_backend(&ranks, &[3, 4], 3).unwrap(), Backend::Gloo);
        let error = axis_backend(&ranks, &[0, 5], 0).unwrap_err().to_string();
        assert!(error.contains("rank 5"), "{error}");
    }

    /// One rank is a whole job: every group has one member, and the collectives return the
    /// rank's own values.
    #[test]
    #[cfg_attr(helixfold_no_gloo, ignore = "this build has no Gloo")]
    fn a_one_rank_job_joins_every_group() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let timeout = Duration::from_secs(20);
        let store = Store::connect("127.0.0.1", port, 1, true, timeout).unwrap();
        let me = RankInfo::here(0, Placement::Cpu { threads: 1 });
        let groups = ParallelGroups::join(&store, ParallelLayout::default(), me.clone(), "127.0.0.1", timeout).unwrap();
        assert_eq!(groups.ranks(), [me]);
        for axis in Axis::ALL {
            assert_eq!(groups.axis(axis).size(), 1);
        }
        assert_eq!(groups.gather_i64(&[7, -3]).unwrap(), vec![vec![7, -3]]);
        assert!(groups.any(true).unwrap());
        assert!(!groups.any(false).unwrap());
    }
}
