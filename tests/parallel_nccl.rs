//! NCCL process groups (PyTorch's ProcessGroupNCCL through `libhelixfold_nccl.so`) on CUDA
//! tensors, and how requests that cannot be served are refused.
//!
//! The ignored tests need a CUDA device; `scripts/gpu-checks.sh run` runs them. NCCL refuses two
//! ranks of one group on one GPU, so on a one-GPU machine a one-rank group on cuda:0 runs every
//! collective; with two GPUs or more, two processes (the harness of `support/ranks.rs`) also
//! average a gradient over an NCCL DP group. The other tests run anywhere.
#[path = "support/ranks.rs"]
mod ranks;

use helixfold::parallel::autograd;
use helixfold::parallel::data_parallel::DataParallel;
use helixfold::parallel::groups::{ParallelGroups, Placement, RankInfo};
use helixfold::parallel::layout::{Axis, ParallelLayout};
use helixfold::parallel::nccl;
use helixfold::parallel::process_group::{Backend, ProcessGroup, ReduceOp, Store};
use ranks::{free_port, read_results, role, run_ranks, values, write_results, GROUP_TIMEOUT};
use std::collections::BTreeMap;
use tch::{Device, Kind, Tensor};

const GPU_ONLY: &str = "needs a CUDA device: run by scripts/gpu-checks.sh";

fn one_rank_store() -> Store {
    Store::connect("127.0.0.1", free_port(), 1, true, GROUP_TIMEOUT).unwrap()
}

fn cuda_devices() -> usize {
    if helixfold::device::ensure_cuda_backend() {
        usize::try_from(tch::Cuda::device_count()).unwrap_or(0)
    } else {
        0
    }
}

/// Asking for a CUDA device that does not exist (`cuda:{count}`) is an error that says why:
/// the build lacks NCCL, or there is no CUDA here, or the machine has fewer devices.
#[test]
fn nccl_on_a_missing_device_is_a_clear_error() {
    let store = one_rank_store();
    let devices = cuda_devices();
    let error = ProcessGroup::new(Backend::Nccl { device: devices }, &store, 0, 1, "", GROUP_TIMEOUT)
        .err()
        .expect("there is no such device");
    let message = format!("{error:#}");
    assert!(message.contains(&format!("joining an NCCL group of 1 as rank 0 on cuda:{devices}")), "{message}");
    let reason = match (nccl::missing_from_build(), devices) {
        (Some(_), _) => "built without the NCCL backend".to_string(),
        (None, 0) => "CUDA is not available here".to_string(),
        (None, count) => format!("this machine has {count} CUDA device(s)"),
    };
    assert!(message.contains(&reason), "{message}");
}

/// Each backend takes tensors on its own device only, and says so.
#[test]
fn backends_refuse_tensors_on_other_devices() {
    let gloo = Backend::Gloo.check_device(Device::Cuda(0)).unwrap_err().to_string();
    assert!(gloo.contains("the Gloo backend takes CPU tensors, got one on Cuda(0)"), "{gloo}");
    assert!(Backend::Gloo.check_device(Device::Cpu).is_ok());
    let nccl = Backend::Nccl { device: 1 };
    assert!(nccl.check_device(Device::Cuda(1)).is_ok());
    for other in [Device::Cpu, Device::Cuda(0)] {
        let message = nccl.check_device(other).unwrap_err().to_string();
        assert!(message.contains(&format!("takes tensors on Cuda(1), got one on {other:?}")), "{message}");
    }
    assert_eq!(nccl.device(), Device::Cuda(1));
    assert_eq!(Backend::Gloo.device(), Device::Cpu);
}

/// `[4, 3]` on `device`, distinct values.
fn input(device: Device) -> Tensor {
    Tensor::arange(12, (Kind::Float, device)).view([4, 3]) + 0.5
}

fn assert_same(name: &str, got: &Tensor, expected: &Tensor) {
    assert_eq!(got.device(), expected.device(), "{name} stays on the group's device");
    assert!(got.allclose(expected, 1e-6, 1e-6, false), "{name}: {got} != {expected}");
}

/// A one-rank NCCL group on cuda:0: with one rank every reduction, gather, scatter and exchange
/// returns the rank's own tensor (so the expected values are the input), on the GPU; it also
/// serves the autograd collectives and DP without a host copy, refuses CPU tensors, and a Gloo
/// group refuses CUDA tensors.
#[test]
#[ignore = "needs a CUDA device: run by scripts/gpu-checks.sh"]
fn a_one_rank_nccl_group_runs_every_collective_on_cuda() {
    assert!(cuda_devices() >= 1, "{GPU_ONLY}");
    let store = one_rank_store();
    let group = ProcessGroup::new(Backend::Nccl { device: 0 }, &store, 0, 1, "", GROUP_TIMEOUT).unwrap();
    assert_eq!(group.device(), Device::Cuda(0));
    let x = input(Device::Cuda(0));
    for op in [ReduceOp::Sum, ReduceOp::Average, ReduceOp::Max, ReduceOp::Min] {
        assert_same(&format!("all_reduce {op:?}"), &group.all_reduce(&x, op).unwrap(), &x);
    }
    assert_same("all_gather", &group.all_gather(&x).unwrap(), &x);
    assert_same("reduce_scatter", &group.reduce_scatter(&x, ReduceOp::Sum).unwrap(), &x);
    assert_same("all_to_all", &group.all_to_all(&x).unwrap(), &x);
    assert_same("broadcast", &group.broadcast(&x, 0).unwrap(), &x);
    group.barrier().unwrap();
    let first = group.all_reduce_async(&x, ReduceOp::Sum).unwrap();
    let second = group.all_reduce_async(&(&x * 2.0), ReduceOp::Sum).unwrap();
    assert_same("second in flight", &second.wait().unwrap(), &(&x * 2.0));
    assert_same("first in flight", &first.wait().unwrap(), &x);
    assert_same("input untouched", &x, &input(Device::Cuda(0)));

    let refused = group.all_reduce(&x.to_device(Device::Cpu), ReduceOp::Sum).err().expect("CPU tensor refused");
    assert!(refused.to_string().contains("takes tensors on Cuda(0), got one on Cpu"), "{refused}");

    assert_same("autograd gather", &autograd::gather(&group, &x, 1).unwrap(), &x);
    assert_same("autograd all_to_all", &autograd::all_to_all(&group, &x, 0, 1).unwrap(), &x);
    let dp = DataParallel::new(group).with_bucket_elements(5);
    assert_same("DP average in 3 buckets", &dp.average_gradient(&x.reshape([-1])).unwrap(), &x.reshape([-1]));

    let gloo_store = one_rank_store();
    let gloo = ProcessGroup::new(Backend::Gloo, &gloo_store, 0, 1, "127.0.0.1", GROUP_TIMEOUT).unwrap();
    let refused = gloo.all_reduce(&x, ReduceOp::Sum).err().expect("CUDA tensor refused by Gloo");
    assert!(refused.to_string().contains("the Gloo backend takes CPU tensors"), "{refused}");
}

/// A one-rank job placed on cuda:0 runs its axis groups on NCCL and its world group on Gloo.
#[test]
#[ignore = "needs a CUDA device: run by scripts/gpu-checks.sh"]
fn a_job_on_cuda_ranks_runs_its_axis_groups_on_nccl() {
    assert!(cuda_devices() >= 1, "{GPU_ONLY}");
    let me = RankInfo::here(0, Placement::Cuda(0));
    assert!(me.nccl, "this build and machine run NCCL");
    let store = one_rank_store();
    let groups = ParallelGroups::join(&store, ParallelLayout::default(), me, "127.0.0.1", GROUP_TIMEOUT).unwrap();
    assert_eq!(groups.world().backend(), Backend::Gloo);
    for axis in Axis::ALL {
        assert_eq!(groups.axis(axis).backend(), Backend::Nccl { device: 0 }, "{}", axis.name());
    }
    assert_eq!(groups.gather_i64(&[4, -2]).unwrap(), vec![vec![4, -2]]);
}

/// Rank `r`'s gradient `[10]` on its own GPU.
fn gradient(rank: usize) -> Tensor {
    Tensor::arange(10, (Kind::Float, Device::Cuda(rank))) * (rank + 1) as f64
}

/// Two processes, one per GPU, average their gradients over an NCCL DP group (in 3 buckets);
/// expected: the mean of both ranks' gradients, computed here.
#[test]
#[ignore = "needs a CUDA device: run by scripts/gpu-checks.sh"]
fn two_ranks_average_a_gradient_over_nccl() {
    if let Some(role) = role() {
        let store = Store::connect("127.0.0.1", role.port, role.world, role.rank == 0, GROUP_TIMEOUT).unwrap();
        let group = ProcessGroup::new(Backend::Nccl { device: role.rank }, &store, role.rank, role.world, "", GROUP_TIMEOUT).unwrap();
        let dp = DataParallel::new(group).with_bucket_elements(4);
        let averaged = dp.average_gradient(&gradient(role.rank)).unwrap();
        assert_eq!(averaged.device(), Device::Cuda(role.rank));
        write_results(&role, &BTreeMap::from([("averaged".to_string(), values(&averaged.to_device(Device::Cpu)))]));
        return;
    }
    let devices = cuda_devices();
    assert!(devices >= 1, "{GPU_ONLY}");
    if devices < 2 {
        eprintln!("one CUDA device: NCCL needs a GPU per rank, so the two-rank average is not run");
        return;
    }
    let out = run_ranks("two_ranks_average_a_gradient_over_nccl", 2);
    let expected = values(&((gradient(0).to_device(Device::Cpu) + gradient(1).to_device(Device::Cpu)) / 2.0));
    for rank in 0..2 {
        assert_eq!(read_results(out.path(), rank)["averaged"], expected, "rank {rank}");
    }
}
