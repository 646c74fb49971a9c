//! Process groups on PyTorch's distributed runtime (c10d, as `torch.distributed` uses it): a
//! [`Store`] is the TCPStore rendezvous (a key-value server on rank 0 that every rank connects
//! to), and a [`ProcessGroup`] runs collectives among a set of ranks over one of two backends:
//! - Gloo (`c10d_shim.cpp`, linked in): CPU tensors; ranks on CUDA devices exchange through
//!   host memory;
//! - NCCL (`nccl_shim.cpp`): CUDA tensors, GPU to GPU, for ranks that each own a CUDA device.
//!   PyTorch's ProcessGroupNCCL lives in libtorch_cuda.so, which the crate only loads at run
//!   time, so it comes in a library of its own, `libhelixfold_nccl.so`, opened on the first NCCL
//!   request: from `HELIXFOLD_NCCL_SHIM` when set, else next to the executable, else where the
//!   build wrote it ([`super::nccl`]).
//!
//! [`ProcessGroup::device`] says where a group takes its tensors; callers move tensors there
//! (a no-op for NCCL on the rank's own device), so one code path serves both backends.
//!
//! Every collective leaves its input untouched and returns a new tensor; the `_async` forms
//! return a [`PendingWork`] at once (Gloo runs the collective on its own threads, NCCL on its
//! own CUDA stream) so that communication can overlap computation. Every store operation and
//! collective is bounded by the group's timeout: a dead peer surfaces as an error, never as a
//! hang. For NCCL, NCCL's watchdog thread enforces the timeout; `TORCH_NCCL_ASYNC_ERROR_HANDLING`
//! defaults to 2 (the failed group's communicators are aborted, the process lives on; the
//! group cannot be used again), and a user's own setting is kept.
//!
//! Tensors are split along dimension 0 (the block of rank `r` is rows `r·d0/W..(r+1)·d0/W`);
//! [`crate::parallel::autograd`] moves other dimensions there.
use super::ffi::{self, c10d_call};
use anyhow::{ensure, Context, Result};
use std::ffi::CString;
use std::ptr::{self, NonNull};
use std::time::Duration;
use tch::{Device, Tensor};

/// Which c10d backend runs a group's collectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Gloo: CPU tensors, any machine.
    Gloo,
    /// NCCL: tensors on this rank's CUDA device `cuda:{device}` (one rank per device: NCCL
    /// refuses two ranks of a group on one GPU).
    Nccl { device: usize },
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Gloo => write!(f, "gloo"),
            Backend::Nccl { device } => write!(f, "nccl (cuda:{device})"),
        }
    }
}

impl Backend {
    /// Where the backend's collectives take their tensors.
    pub fn device(self) -> Device {
        match self {
            Backend::Gloo => Device::Cpu,
            Backend::Nccl { device } => Device::Cuda(device),
        }
    }

    /// Whether the backend takes tensors on `device`; the error says which it takes.
    pub fn check_device(self, device: Device) -> Result<()> {
        match self {
            Backend::Gloo => ensure!(
                device == Device::Cpu,
                "the Gloo backend takes CPU tensors, got one on {device:?} (CUDA tensors need an NCCL group)"
            ),
            Backend::Nccl { .. } => ensure!(
                device == self.device(),
                "this rank's NCCL group takes tensors on {:?}, got one on {device:?}",
                self.device()
            ),
        }
        Ok(())
    }
}

/// How a reduction combines the ranks' values. Gloo has no averaging operation: averages are
/// sums divided by the group size ([`ProcessGroup::all_reduce`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Average,
    Max,
    Min,
}

impl ReduceOp {
    /// The shim's code for the operation the backend runs (averages run as sums).
    fn code(self) -> i32 {
        match self {
            ReduceOp::Sum | ReduceOp::Average => 0,
            ReduceOp::Max => 1,
            ReduceOp::Min => 2,
        }
    }
}

fn millis(timeout: Duration) -> i64 {
    i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)
}

fn c_string(text: &str, what: &str) -> Result<CString> {
    CString::new(text).with_context(|| format!("{what} {text:?} contains a NUL byte"))
}

/// A c10d TCPStore (or a key prefix inside one): the rendezvous of a job's processes.
pub struct Store {
    raw: NonNull<ffi::StoreHandle>,
    timeout: Duration,
}

// SAFETY: c10d stores serialise their requests internally (TCPStore holds a mutex around its
// client socket), and the handle is only freed by Drop.
unsafe impl Send for Store {}
unsafe impl Sync for Store {}

impl Store {
    /// Connects to the store at `host:port`; the master (rank 0) also serves it. Waits up to
    /// `timeout` for all `world_size` processes to connect.
    pub fn connect(host: &str, port: u16, world_size: usize, is_master: bool, timeout: Duration) -> Result<Self> {
        let host_c = c_string(host, "host")?;
        let world = i32::try_from(world_size).context("world size out of range")?;
        let mut raw: *mut ffi::StoreHandle = ptr::null_mut();
        c10d_call!(hf_c10d_store_create(host_c.as_ptr(), port, world, i32::from(is_master), millis(timeout), &mut raw))
            .with_context(|| format!("rendezvous at {host}:{port} with {world_size} processes"))?;
        let raw = NonNull::new(raw).context("the c10d shim returned no store")?;
        Ok(Self { raw, timeout })
    }

    /// A view of this store whose keys all start with `prefix` (c10d's PrefixStore), e.g. one
    /// per process group so that groups do not read each other's rendezvous keys.
    pub fn prefixed(&self, prefix: &str) -> Result<Self> {
        let prefix_c = c_string(prefix, "prefix")?;
        let mut raw: *mut ffi::StoreHandle = ptr::null_mut();
        c10d_call!(hf_c10d_store_prefixed(self.raw.as_ptr(), prefix_c.as_ptr(), &mut raw))?;
        let raw = NonNull::new(raw).context("the c10d shim returned no store")?;
        Ok(Self { raw, timeout: self.timeout })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        let key_c = c_string(key, "key")?;
        c10d_call!(hf_c10d_store_set(self.raw.as_ptr(), key_c.as_ptr(), value.as_ptr(), value.len()))
            .with_context(|| format!("setting store key {key:?}"))
    }

    /// The value of `key`, waiting up to `timeout` for some process to set it.
    pub fn get(&self, key: &str, timeout: Duration) -> Result<Vec<u8>> {
        let key_c = c_string(key, "key")?;
        let mut data: *mut u8 = ptr::null_mut();
        let mut length = 0usize;
        c10d_call!(hf_c10d_store_get(self.raw.as_ptr(), key_c.as_ptr(), millis(timeout), &mut data, &mut length))
            .with_context(|| format!("reading store key {key:?}"))?;
        // SAFETY: on success the shim malloc'ed `length` bytes at `data` (at least one byte).
        let value = unsafe { std::slice::from_raw_parts(data, length).to_vec() };
        c10d_call!(hf_c10d_free_bytes(data))?;
        Ok(value)
    }

    /// Whether some process has set `key` (answers at once).
    pub fn contains(&self, key: &str) -> Result<bool> {
        let key_c = c_string(key, "key")?;
        let mut present: i32 = 0;
        c10d_call!(hf_c10d_store_check(self.raw.as_ptr(), key_c.as_ptr(), &mut present))
            .with_context(|| format!("checking store key {key:?}"))?;
        Ok(present != 0)
    }

    /// Atomically adds `delta` to the integer at `key` (0 when unset); returns the new value.
    pub fn add(&self, key: &str, delta: i64) -> Result<i64> {
        let key_c = c_string(key, "key")?;
        let mut value: i64 = 0;
        c10d_call!(hf_c10d_store_add(self.raw.as_ptr(), key_c.as_ptr(), delta, &mut value))
            .with_context(|| format!("adding to store key {key:?}"))?;
        Ok(value)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Destruction cannot fail in the shim; nothing is left to report at drop.
        let _ = c10d_call!(hf_c10d_store_destroy(self.raw.as_ptr()));
    }
}

/// A set of ranks that run collectives together.
pub struct ProcessGroup {
    raw: NonNull<ffi::GroupHandle>,
    backend: Backend,
    rank: usize,
    size: usize,
    timeout: Duration,
}

// SAFETY: c10d backends accept collectives from any thread (they enqueue work under a lock);
// the handle is only freed by Drop.
unsafe impl Send for ProcessGroup {}
unsafe impl Sync for ProcessGroup {}

impl ProcessGroup {
    /// Joins the group of `size` ranks meeting at `store` as `rank`. `device_host` is the
    /// address Gloo binds to ("127.0.0.1" for one machine; empty: this machine's hostname); NCCL
    /// finds its own interfaces (`NCCL_SOCKET_IFNAME` chooses). `timeout` bounds the rendezvous
    /// and every collective.
    pub fn new(
        backend: Backend,
        store: &Store,
        rank: usize,
        size: usize,
        device_host: &str,
        timeout: Duration,
    ) -> Result<Self> {
        ensure!(rank < size, "rank {rank} is outside a group of {size}");
        let (rank_c, size_c) = (i32::try_from(rank)?, i32::try_from(size)?);
        let raw = match backend {
            Backend::Gloo => {
                let host_c = c_string(device_host, "device host")?;
                let mut raw: *mut ffi::GroupHandle = ptr::null_mut();
                c10d_call!(hf_c10d_group_create_gloo(store.raw.as_ptr(), rank_c, size_c, millis(timeout), host_c.as_ptr(), &mut raw))
                    .with_context(|| format!("joining a Gloo group of {size} as rank {rank}"))?;
                NonNull::new(raw).context("the c10d shim returned no group")?
            }
            Backend::Nccl { device } => {
                super::nccl::create_group(store.raw.as_ptr(), rank_c, size_c, millis(timeout), device)
                    .with_context(|| format!("joining an NCCL group of {size} as rank {rank} on cuda:{device}"))?
            }
        };
        Ok(Self { raw, backend, rank, size, timeout })
    }

    /// The group of `ranks` (global ranks, in group-rank order), joined by the process of
    /// global rank `global_rank`, which must be one of them. Its rendezvous keys live under
    /// `name` in `store`; every member must pass the same `name` and `ranks`.
    pub fn subgroup(
        backend: Backend,
        store: &Store,
        name: &str,
        ranks: &[usize],
        global_rank: usize,
        device_host: &str,
        timeout: Duration,
    ) -> Result<Self> {
        let position = ranks
            .iter()
            .position(|&r| r == global_rank)
            .with_context(|| format!("rank {global_rank} is not in group {name} {ranks:?}"))?;
        let prefix = format!("{name}/{}", ranks.iter().map(usize::to_string).collect::<Vec<_>>().join(","));
        let store = store.prefixed(&prefix)?;
        Self::new(backend, &store, position, ranks.len(), device_host, timeout)
    }

    /// This process's rank in the group.
    pub fn rank(&self) -> usize {
        self.rank
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where the group's collectives take their tensors: the CPU for Gloo, this rank's CUDA
    /// device for NCCL.
    pub fn device(&self) -> Device {
        self.backend.device()
    }

    /// `collective` of `tensor` moved to the group's device, brought back to `tensor`'s device
    /// (no copies where they agree, as for NCCL on the rank's own GPU): for callers whose
    /// tensors live on the training device, whatever the backend.
    pub fn on_own_device(&self, tensor: &Tensor, collective: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
        let home = tensor.device();
        Ok(collective(&tensor.to_device(self.device()))?.to_device(home))
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn start(&self, launch: impl FnOnce(*mut ffi::GroupHandle, *mut *mut ffi::WorkHandle) -> Result<()>) -> Result<PendingWork> {
        let mut raw: *mut ffi::WorkHandle = ptr::null_mut();
        launch(self.raw.as_ptr(), &mut raw)?;
        let raw = NonNull::new(raw).context("the c10d shim returned no work")?;
        Ok(PendingWork { raw, timeout: self.timeout, divisor: None })
    }

    fn check_device(&self, tensor: &Tensor) -> Result<()> {
        self.backend.check_device(tensor.device())
    }

    fn check_divisible(&self, tensor: &Tensor, what: &str) -> Result<()> {
        let rows = tensor.size().first().copied().unwrap_or(0);
        ensure!(
            rows % self.size as i64 == 0 && tensor.dim() >= 1,
            "{what}: dimension 0 of {:?} is not a multiple of the group size {}",
            tensor.size(),
            self.size
        );
        Ok(())
    }

    /// `work` divided by the group's size when it finishes if `op` is the average.
    fn averaging(&self, mut work: PendingWork, op: ReduceOp) -> PendingWork {
        if op == ReduceOp::Average {
            work.divisor = Some(self.size as f64);
        }
        work
    }

    /// Starts an all-reduce of `tensor` (any shape): every rank gets the reduction over ranks.
    pub fn all_reduce_async(&self, tensor: &Tensor, op: ReduceOp) -> Result<PendingWork> {
        self.check_device(tensor)?;
        let work = self.start(|g, out| c10d_call!(hf_c10d_all_reduce(g, tensor.as_ptr(), op.code(), out)))?;
        Ok(self.averaging(work, op))
    }

    pub fn all_reduce(&self, tensor: &Tensor, op: ReduceOp) -> Result<Tensor> {
        self.all_reduce_async(tensor, op)?.wait().context("all_reduce")
    }

    /// `[W·d0, ...]`: every rank's `tensor` `[d0, ...]` stacked along dimension 0 in rank order.
    pub fn all_gather_async(&self, tensor: &Tensor) -> Result<PendingWork> {
        self.check_device(tensor)?;
        ensure!(tensor.dim() >= 1, "all_gather needs at least one dimension");
        self.start(|g, out| c10d_call!(hf_c10d_all_gather(g, tensor.as_ptr(), out)))
    }

    pub fn all_gather(&self, tensor: &Tensor) -> Result<Tensor> {
        self.all_gather_async(tensor)?.wait().context("all_gather")
    }

    /// `tensor` `[W·d0, ...]` in `W` blocks along dimension 0; rank `r` gets block `r` reduced
    /// over ranks, `[d0, ...]`.
    pub fn reduce_scatter_async(&self, tensor: &Tensor, op: ReduceOp) -> Result<PendingWork> {
        self.check_device(tensor)?;
        self.check_divisible(tensor, "reduce_scatter")?;
        let work = self.start(|g, out| c10d_call!(hf_c10d_reduce_scatter(g, tensor.as_ptr(), op.code(), out)))?;
        Ok(self.averaging(work, op))
    }

    pub fn reduce_scatter(&self, tensor: &Tensor, op: ReduceOp) -> Result<Tensor> {
        self.reduce_scatter_async(tensor, op)?.wait().context("reduce_scatter")
    }

    /// Equal-split all-to-all along dimension 0: `tensor` `[W·d0, ...]`; block `j` goes to rank
    /// `j`, and block `i` of the result `[W·d0, ...]` is what rank `i` sent here.
    pub fn all_to_all_async(&self, tensor: &Tensor) -> Result<PendingWork> {
        self.check_device(tensor)?;
        self.check_divisible(tensor, "all_to_all")?;
        self.start(|g, out| c10d_call!(hf_c10d_all_to_all(g, tensor.as_ptr(), out)))
    }

    pub fn all_to_all(&self, tensor: &Tensor) -> Result<Tensor> {
        self.all_to_all_async(tensor)?.wait().context("all_to_all")
    }

    /// Rank `root`'s `tensor` on every rank (every rank passes a tensor of the same shape).
    pub fn broadcast(&self, tensor: &Tensor, root: usize) -> Result<Tensor> {
        self.check_device(tensor)?;
        ensure!(root < self.size, "broadcast root {root} is outside a group of {}", self.size);
        let root = i32::try_from(root)?;
        self.start(|g, out| c10d_call!(hf_c10d_broadcast(g, tensor.as_ptr(), root, out)))?
            .wait()
            .context("broadcast")
    }

    /// Returns when every rank has called it.
    pub fn barrier(&self) -> Result<()> {
        self.start(|g, out| c10d_call!(hf_c10d_barrier(g, out)))?.wait().context("barrier").map(drop)
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // Destruction cannot fail in the shim; nothing is left to report at drop.
        let _ = c10d_call!(hf_c10d_group_destroy(self.raw.as_ptr()));
    }
}

/// A collective in flight; [`PendingWork::wait`] gives its result.
pub struct PendingWork {
    raw: NonNull<ffi::WorkHandle>,
    timeout: Duration,
    /// Divides the result (averages run as sums).
    divisor: Option<f64>,
}

// SAFETY: a c10d Work may be waited on from any thread; the handle is only freed by Drop.
unsafe impl Send for PendingWork {}

impl PendingWork {
    /// Blocks until the collective finishes (or fails, or the group's timeout passes).
    pub fn wait(self) -> Result<Tensor> {
        let mut result: *mut torch_sys::C_tensor = ptr::null_mut();
        c10d_call!(hf_c10d_work_wait(self.raw.as_ptr(), millis(self.timeout), &mut result))?;
        let result = NonNull::new(result).context("the c10d shim returned no tensor")?;
        // SAFETY: the shim allocated a fresh at::Tensor for the caller to own.
        let tensor = unsafe { Tensor::from_ptr(result.as_ptr()) };
        Ok(match self.divisor {
            Some(divisor) => tensor / divisor,
            None => tensor,
        })
    }
}

impl Drop for PendingWork {
    fn drop(&mut self) {
        // Destruction cannot fail in the shim; nothing is left to report at drop.
        let _ = c10d_call!(hf_c10d_work_destroy(self.raw.as_ptr()));
    }
}
