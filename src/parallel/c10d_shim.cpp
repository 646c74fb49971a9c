// A C interface over PyTorch's own distributed runtime (c10d, libtorch_cpu.so): TCPStore for
// rendezvous and ProcessGroupGloo for collectives on CPU tensors, the pieces torch.distributed
// uses under `init_process_group(backend="gloo")`, and the collectives of every group, Gloo's
// and the ProcessGroupNCCL groups that `nccl_shim.cpp` (libhelixfold_nccl.so) creates. Built by
// build.rs with the cc crate against libtorch's headers and Debian's libgloo-dev headers;
// `src/parallel/ffi.rs` declares it, `c10d_handles.hpp` holds the handles and the error
// convention.
//
// Tensors are `at::Tensor*` (tch's C_tensor); results are allocated here with `new at::Tensor`
// and owned by the caller (tch's Tensor::from_ptr). A collective returns a Work handle at once
// (Gloo runs it on its own threads, NCCL on its own CUDA stream); hf_c10d_work_wait blocks the
// calling thread until it finishes, fails, or the timeout passes, and for NCCL also makes the
// current CUDA stream wait for the collective's stream, so the result is ready for both.
#include "c10d_handles.hpp"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using hf_c10d::guarded;

namespace {

// Gloo runs dense contiguous CPU tensors, NCCL dense contiguous CUDA tensors.
at::Tensor dense(const hf_c10d_group* group, const at::Tensor& tensor) {
  if (group->takes_cuda) {
    TORCH_CHECK(tensor.device().is_cuda(), "the NCCL backend takes CUDA tensors, got one on ", tensor.device());
  } else {
    TORCH_CHECK(tensor.device().is_cpu(), "the Gloo backend takes CPU tensors, got one on ", tensor.device(),
                " (CUDA tensors need an NCCL group)");
  }
  return tensor.contiguous();
}

c10d::ReduceOp reduce_op(int op) {
  switch (op) {
    case 0:
      return c10d::ReduceOp::SUM;
    case 1:
      return c10d::ReduceOp::MAX;
    case 2:
      return c10d::ReduceOp::MIN;
    default:
      TORCH_CHECK(false, "unknown reduce operation code ", op);
  }
}

}  // namespace

extern "C" {

void hf_c10d_free_string(char* text) { std::free(text); }

char* hf_c10d_free_bytes(uint8_t* bytes) {
  std::free(bytes);
  return nullptr;
}

char* hf_c10d_store_create(const char* host, uint16_t port, int world_size, int is_master, int64_t timeout_ms,
                           hf_c10d_store** out) {
  return guarded([&] {
    c10d::TCPStoreOptions options;
    options.port = port;
    options.isServer = is_master != 0;
    options.numWorkers = static_cast<std::size_t>(world_size);
    options.waitWorkers = true;
    options.timeout = std::chrono::milliseconds(timeout_ms);
    auto store = c10::make_intrusive<c10d::TCPStore>(std::string(host), options);
    *out = new hf_c10d_store{store};
  });
}

char* hf_c10d_store_prefixed(hf_c10d_store* base, const char* prefix, hf_c10d_store** out) {
  return guarded([&] {
    auto store = c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), base->store);
    *out = new hf_c10d_store{store};
  });
}

char* hf_c10d_store_destroy(hf_c10d_store* store) {
  delete store;
  return nullptr;
}

char* hf_c10d_store_set(hf_c10d_store* store, const char* key, const uint8_t* data, size_t length) {
  return guarded([&] { store->store->set(std::string(key), std::vector<uint8_t>(data, data + length)); });
}

// Waits for `key` up to `timeout_ms`, then reads it into a malloc'ed buffer.
char* hf_c10d_store_get(hf_c10d_store* store, const char* key, int64_t timeout_ms, uint8_t** data, size_t* length) {
  return guarded([&] {
    std::string name(key);
    store->store->wait({name}, std::chrono::milliseconds(timeout_ms));
    std::vector<uint8_t> value = store->store->get(name);
    *length = value.size();
    *data = static_cast<uint8_t*>(std::malloc(value.empty() ? 1 : value.size()));
    TORCH_CHECK(*data != nullptr, "out of memory reading store key ", name);
    std::memcpy(*data, value.data(), value.size());
  });
}

// Whether `key` is set, without waiting.
char* hf_c10d_store_check(hf_c10d_store* store, const char* key, int* present) {
  return guarded([&] { *present = store->store->check({std::string(key)}) ? 1 : 0; });
}

char* hf_c10d_store_add(hf_c10d_store* store, const char* key, int64_t delta, int64_t* value) {
  return guarded([&] { *value = store->store->add(std::string(key), delta); });
}

// A Gloo group of `size` ranks meeting through `store`. `device_host` names the address Gloo
// binds to (e.g. "127.0.0.1" for one machine); empty lets Gloo resolve this machine's hostname
// and fall back to loopback (`createDefaultDevice`). `timeout_ms` bounds every collective.
char* hf_c10d_group_create_gloo(hf_c10d_store* store, int rank, int size, int64_t timeout_ms, const char* device_host,
                                hf_c10d_group** out) {
  return guarded([&] {
    auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::milliseconds(timeout_ms));
    std::string host(device_host);
    options->devices.push_back(host.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                                            : c10d::ProcessGroupGloo::createDeviceForHostname(host));
    auto backend = c10::make_intrusive<c10d::ProcessGroupGloo>(store->store, rank, size, options);
    *out = new hf_c10d_group{backend, size, false};
  });
}

// Shuts the backend down before freeing it: ProcessGroupNCCL flushes and destroys its
// communicators (its destructor would abort them and warn); Gloo has nothing to do.
char* hf_c10d_group_destroy(hf_c10d_group* group) {
  char* error = guarded([&] { group->backend->shutdown(); });
  delete group;
  return error;
}

char* hf_c10d_work_destroy(hf_c10d_work* work) {
  delete work;
  return nullptr;
}

// Waits for the collective; on success `*result` is the new result tensor.
char* hf_c10d_work_wait(hf_c10d_work* work, int64_t timeout_ms, at::Tensor** result) {
  return guarded([&] {
    bool finished = work->work->wait(std::chrono::milliseconds(timeout_ms));
    TORCH_CHECK(finished, "the collective did not finish within ", timeout_ms, " ms");
    *result = new at::Tensor(work->result());
  });
}

// All-reduce of a copy of `input` (the input is left as it is).
char* hf_c10d_all_reduce(hf_c10d_group* group, const at::Tensor* input, int op, hf_c10d_work** out) {
  return guarded([&] {
    std::vector<at::Tensor> buffers{dense(group, *input).clone()};
    c10d::AllreduceOptions options;
    options.reduceOp = reduce_op(op);
    auto work = group->backend->allreduce(buffers, options);
    at::Tensor buffer = buffers[0];
    *out = new hf_c10d_work{work, [buffer] { return buffer; }};
  });
}

// `[world · d0, ...]`: every rank's `input` `[d0, ...]` concatenated along dim 0 in rank order.
char* hf_c10d_all_gather(hf_c10d_group* group, const at::Tensor* input, hf_c10d_work** out) {
  return guarded([&] {
    std::vector<at::Tensor> inputs{dense(group, *input)};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int i = 0; i < group->size; ++i) {
      outputs[0].push_back(at::empty_like(inputs[0]));
    }
    auto work = group->backend->allgather(outputs, inputs);
    std::vector<at::Tensor> pieces = outputs[0];
    *out = new hf_c10d_work{work, [pieces] { return at::cat(pieces, 0); }};
  });
}

// `input` `[world · d0, ...]` is split into `world` blocks along dim 0; rank r gets the sum over
// ranks of block r, `[d0, ...]`.
char* hf_c10d_reduce_scatter(hf_c10d_group* group, const at::Tensor* input, int op, hf_c10d_work** out) {
  return guarded([&] {
    at::Tensor whole = dense(group, *input);
    TORCH_CHECK(whole.dim() >= 1 && whole.size(0) % group->size == 0, "reduce_scatter: dim 0 of ", whole.sizes(),
                " is not a multiple of the group size ", group->size);
    std::vector<std::vector<at::Tensor>> inputs(1);
    for (const at::Tensor& block : whole.chunk(group->size, 0)) {
      inputs[0].push_back(block.contiguous());
    }
    std::vector<at::Tensor> outputs{at::empty_like(inputs[0][0])};
    c10d::ReduceScatterOptions options;
    options.reduceOp = reduce_op(op);
    auto work = group->backend->reduce_scatter(outputs, inputs, options);
    at::Tensor buffer = outputs[0];
    *out = new hf_c10d_work{work, [buffer] { return buffer; }};
  });
}

// Equal-split all-to-all along dim 0: `input` `[world · d0, ...]`; block j goes to rank j, and the
// result's block i is what rank i sent here.
char* hf_c10d_all_to_all(hf_c10d_group* group, const at::Tensor* input, hf_c10d_work** out) {
  return guarded([&] {
    at::Tensor send = dense(group, *input);
    TORCH_CHECK(send.dim() >= 1 && send.size(0) % group->size == 0, "all_to_all: dim 0 of ", send.sizes(),
                " is not a multiple of the group size ", group->size);
    at::Tensor receive = at::empty_like(send);
    std::vector<int64_t> equal_splits;
    c10d::AllToAllOptions options;
    auto work = group->backend->alltoall_base(receive, send, equal_splits, equal_splits, options);
    *out = new hf_c10d_work{work, [receive] { return receive; }};
  });
}

// Rank `root`'s `input` on every rank (a copy: the input is left as it is).
char* hf_c10d_broadcast(hf_c10d_group* group, const at::Tensor* input, int root, hf_c10d_work** out) {
  return guarded([&] {
    std::vector<at::Tensor> buffers{dense(group, *input).clone()};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    auto work = group->backend->broadcast(buffers, options);
    at::Tensor buffer = buffers[0];
    *out = new hf_c10d_work{work, [buffer] { return buffer; }};
  });
}

// Result: an empty tensor.
char* hf_c10d_barrier(hf_c10d_group* group, hf_c10d_work** out) {
  return guarded([&] {
    auto work = group->backend->barrier(c10d::BarrierOptions());
    *out = new hf_c10d_work{work, [] { return at::empty({0}); }};
  });
}

}  // extern "C"
