// Autograd post-hooks on the gradient accumulators of leaf variables, the mechanism PyTorch's
// DistributedDataParallel uses to start all-reducing gradients while the backward pass runs
// (torch/csrc/distributed/c10d/reducer.cpp: `impl::grad_accumulator(variable)`, the accumulators
// kept alive by the reducer, `add_post_hook` with a LambdaPostHook). Each hook calls a C
// function with the variable's index once its AccumulateGrad node has run, i.e. once the
// variable's `.grad` holds this backward pass's gradient. Built by build.rs next to
// c10d_shim.cpp with the same settings; `src/parallel/ffi.rs` declares it.
//
// Conventions as in c10d_shim.cpp (c10d_handles.hpp): nullptr on success or a malloc'ed error
// message (freed with hf_c10d_free_string); no C++ exception crosses the boundary.
#include "c10d_handles.hpp"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <cstdint>
#include <memory>
#include <vector>

// Called with the hook's user data and the variable's index in the installed list.
using hf_gradient_ready = void (*)(void* user_data, int64_t index);

// The accumulators (kept alive, so the variables keep these same nodes: a variable caches its
// accumulator through a weak pointer) and the keys of the hooks installed on them.
struct hf_grad_hooks {
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  std::vector<uintptr_t> keys;
};

extern "C" {

// Installs one post-hook per variable (`variables[i]`, leaves that require grad); each calls
// `ready(user_data, i)` after the variable's gradient has been accumulated, on the thread that
// runs that node (the caller of backward on the CPU, the device's thread on CUDA).
char* hf_grad_hooks_install(const at::Tensor* const* variables, int64_t count, hf_gradient_ready ready, void* user_data,
                            hf_grad_hooks** out) {
  return hf_c10d::guarded([&] {
    auto hooks = std::make_unique<hf_grad_hooks>();
    for (int64_t index = 0; index < count; ++index) {
      const at::Tensor& variable = *variables[index];
      TORCH_CHECK(variable.requires_grad() && variable.is_leaf(), "variable ", index,
                  " is not a leaf that requires grad, so it has no gradient accumulator");
      std::shared_ptr<torch::autograd::Node> accumulator = torch::autograd::impl::grad_accumulator(variable);
      TORCH_CHECK(accumulator != nullptr, "variable ", index, " has no gradient accumulator");
      uintptr_t key = accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
          [ready, user_data, index](const torch::autograd::variable_list& outputs,
                                    const torch::autograd::variable_list& /*inputs*/) {
            ready(user_data, index);
            return outputs;
          }));
      hooks->accumulators.push_back(std::move(accumulator));
      hooks->keys.push_back(key);
    }
    *out = hooks.release();
  });
}

// Removes the hooks (no call reaches `ready` afterwards) and frees them.
char* hf_grad_hooks_remove(hf_grad_hooks* hooks) {
  return hf_c10d::guarded([&] {
    std::unique_ptr<hf_grad_hooks> owned(hooks);
    for (std::size_t i = 0; i < owned->accumulators.size(); ++i) {
      owned->accumulators[i]->del_post_hook(owned->keys[i]);
    }
  });
}

}  // extern "C"
