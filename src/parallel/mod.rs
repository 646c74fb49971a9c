//! Multi-process parallelism on PyTorch's distributed runtime (c10d through a C++ shim, see
//! `c10d_shim.cpp`, and for NCCL a second one loaded at run time, `nccl_shim.cpp`): process groups and their collectives, HelixFold's rank layout, data
//! parallelism, the groups a sharded forward pass runs over, and the worker processes that run
//! a session's commands on every rank.
pub mod autograd;
pub mod data_parallel;
mod ffi;
pub mod grad_hooks;
pub mod gradient_buckets;
pub mod groups;
pub mod layout;
pub mod local_workers;
pub mod nccl;
pub mod overlapped_reduction;
pub mod process_group;
pub mod sharding;
pub mod workers;

pub use ffi::NO_GLOO;
