// libhelixfold_nccl.so: creates PyTorch's ProcessGroupNCCL (c10d's NCCL backend, the one
// torch.distributed uses under `init_process_group(backend="nccl")`) for CUDA tensors.
// ProcessGroupNCCL lives in libtorch_cuda.so, which the crate does not link (it links only
// libtorch_cpu.so and loads libtorch_cuda.so at run time when a GPU is asked for, see
// src/device.rs), so this shim is a shared library of its own that src/parallel/nccl.rs opens
// with dlopen. build.rs compiles it with -DUSE_C10D_NCCL against libtorch's, the CUDA runtime's
// and NCCL's headers and links it against libtorch_cuda.so, libc10_cuda.so, libtorch_cpu.so and
// libc10.so.
//
// The group it returns is c10d_shim.cpp's `hf_c10d_group` (c10d_handles.hpp), so every
// collective of that shim runs on it; the store it takes is that shim's `hf_c10d_store`.
#include "c10d_handles.hpp"

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>

extern "C" {

// A group of `size` ranks meeting through `store`, this rank on CUDA device `device_index`.
// The communicator is created here (eagerly, as torch.distributed does when given a device_id),
// so the rendezvous happens now, not at the first collective. `timeout_ms` is the timeout of
// every collective, which NCCL's watchdog thread enforces.
//
// A failed or timed-out collective: unless the user set TORCH_NCCL_ASYNC_ERROR_HANDLING, it is
// set to 2 (CleanUpOnly): the watchdog aborts the group's communicators and the error reaches
// whoever waits for the collective, and the process lives on (torch's default, 3, takes the
// whole process down, which would end an interactive session). The group is unusable after
// such an error; the job is restarted.
__attribute__((visibility("default"))) char* hf_nccl_group_create(hf_c10d_store* store, int rank, int size,
                                                                   int64_t timeout_ms, int device_index,
                                                                   hf_c10d_group** out) {
  return hf_c10d::guarded([&] {
    setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "2", 0);
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = std::chrono::milliseconds(timeout_ms);
    auto backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(store->store, rank, size, options);
    at::Device device(at::DeviceType::CUDA, static_cast<c10::DeviceIndex>(device_index));
    backend->setBoundDeviceId(device);
    backend->eagerConnectSingleDevice(device);
    *out = new hf_c10d_group{backend, size, true};
  });
}

}  // extern "C"
