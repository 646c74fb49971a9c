// The handles that cross the C interface of helixfold's two c10d shims, and the error
// convention they share: `c10d_shim.cpp` (linked into the crate: TCPStore, ProcessGroupGloo and
// every collective) and `nccl_shim.cpp` (libhelixfold_nccl.so, loaded at run time: it only
// creates ProcessGroupNCCL groups). A group made by either shim is the same `hf_c10d_group`, so
// the collectives, waits and destruction of c10d_shim.cpp serve both backends. Both shims are
// compiled against the same libtorch headers with the same flags (build.rs), so the layouts
// agree.
//
// Conventions: a function returns nullptr on success or a malloc'ed error message that the
// caller frees with hf_c10d_free_string; no C++ exception crosses the boundary.
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <string>

struct hf_c10d_store {
  c10::intrusive_ptr<c10d::Store> store;
};

// A backend and the tensors it takes: host memory (Gloo) or CUDA memory (NCCL).
struct hf_c10d_group {
  c10::intrusive_ptr<c10d::Backend> backend;
  int size;
  bool takes_cuda;
};

// A running collective and how to turn its buffers into the result once it has finished.
struct hf_c10d_work {
  c10::intrusive_ptr<c10d::Work> work;
  std::function<at::Tensor()> result;
};

namespace hf_c10d {

inline char* copy_string(const std::string& text) {
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (out != nullptr) {
    std::memcpy(out, text.c_str(), text.size() + 1);
  }
  return out;
}

// Runs `body`; an exception becomes the returned error message.
template <typename F>
char* guarded(F&& body) {
  try {
    body();
    return nullptr;
  } catch (const std::exception& error) {
    return copy_string(error.what());
  } catch (...) {
    return copy_string("unknown C++ exception in the c10d shim");
  }
}

}  // namespace hf_c10d
