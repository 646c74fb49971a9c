//! Autograd post-hooks on leaf variables' gradient accumulators (`grad_hooks.cpp`): a callback
//! learns, while a backward pass runs, that a variable's `.grad` now holds that pass's gradient,
//! as PyTorch's DistributedDataParallel learns it (`torch/csrc/distributed/c10d/reducer.cpp`:
//! post-hooks on `impl::grad_accumulator(variable)`).
//!
//! Within one backward call the engine runs a variable's accumulator once, after summing every
//! contribution to it, so each hook fires at most once per call (a variable the pass does not
//! reach never fires). Several backward calls (a recomputation tape's replays, a sharded pass's
//! tape) fire a hook once per call that reaches the variable.
use super::ffi;
use anyhow::Result;
use tch::Tensor;

/// What a hook runs: the index of the variable whose gradient is ready. It runs on the thread
/// that executes the accumulator (the caller of `backward` on the CPU, a device thread on CUDA)
/// and must not panic: a panic cannot unwind through the engine and aborts the process.
type OnReady = Box<dyn Fn(usize) + Send + Sync>;

/// Hooks installed on a list of variables; dropping them removes them.
pub struct GradHooks {
    #[cfg(not(helixfold_no_gloo))]
    raw: std::ptr::NonNull<ffi::GradHooksHandle>,
    /// Boxed twice so that the hooks' user data is a thin pointer; lives until the hooks are gone.
    #[cfg(not(helixfold_no_gloo))]
    _on_ready: Box<OnReady>,
}

#[cfg(not(helixfold_no_gloo))]
extern "C" fn gradient_ready(user_data: *mut std::ffi::c_void, index: i64) {
    // SAFETY: `user_data` is the `Box<OnReady>` of the `GradHooks` whose hooks call this; it
    // outlives them (Drop removes the hooks before the box is freed).
    let on_ready = unsafe { &*(user_data as *const OnReady) };
    on_ready(usize::try_from(index).unwrap_or(usize::MAX));
}

impl GradHooks {
    /// Calls `on_ready(i)` each time a backward pass has accumulated the gradient of
    /// `variables[i]` (leaves that require grad), until the hooks are dropped.
    #[cfg(not(helixfold_no_gloo))]
    pub fn install(variables: &[Tensor], on_ready: impl Fn(usize) + Send + Sync + 'static) -> Result<Self> {
        use anyhow::Context;
        let on_ready: Box<OnReady> = Box::new(Box::new(on_ready));
        let pointers: Vec<*const torch_sys::C_tensor> = variables.iter().map(|v| v.as_ptr() as *const _).collect();
        let mut raw: *mut ffi::GradHooksHandle = std::ptr::null_mut();
        ffi::c10d_call!(hf_grad_hooks_install(
            pointers.as_ptr(),
            i64::try_from(pointers.len())?,
            gradient_ready,
            &*on_ready as *const OnReady as *mut std::ffi::c_void,
            &mut raw,
        ))
        .context("installing the gradient hooks")?;
        let raw = std::ptr::NonNull::new(raw).context("the gradient hooks shim returned no hooks")?;
        Ok(Self { raw, _on_ready: on_ready })
    }

    /// In a build without Gloo there is no native side, and no data parallelism to serve.
    #[cfg(helixfold_no_gloo)]
    pub fn install(_variables: &[Tensor], _on_ready: impl Fn(usize) + Send + Sync + 'static) -> Result<Self> {
        Err(anyhow::anyhow!(ffi::NO_GLOO))
    }
}

impl Drop for GradHooks {
    fn drop(&mut self) {
        // Removal cannot fail in the shim; nothing is left to report at drop.
        #[cfg(not(helixfold_no_gloo))]
        let _ = ffi::c10d_call!(hf_grad_hooks_remove(self.raw.as_ptr()));
    }
}

#[cfg(all(test, not(helixfold_no_gloo)))]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tch::Kind;

    /// Each hook fires once per backward call that reaches its variable, after the variable's
    /// gradient holds the call's whole contribution (`a` is used twice: the hook sees both
    /// terms), never for a variable the call does not reach, and not once removed.
    #[test]
    fn hooks_fire_once_per_backward_after_accumulation() {
        let a = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
        let b = Tensor::from_slice(&[3.0f32]).set_requires_grad(true);
        let unused = Tensor::from_slice(&[5.0f32]).set_requires_grad(true);
        let variables = vec![a.shallow_clone(), b.shallow_clone(), unused.shallow_clone()];
        let seen: Arc<Mutex<Vec<(usize, Vec<f32>)>>> = Arc::default();
        let hooks = {
            let seen = Arc::clone(&seen);
            let handles = Mutex::new(variables.iter().map(Tensor::shallow_clone).collect::<Vec<_>>());
            GradHooks::install(&variables, move |index| {
                let grad = Vec::<f32>::try_from(&handles.lock().unwrap()[index].grad()).unwrap();
                seen.lock().unwrap().push((index, grad));
            })
            .unwrap()
        };
        // d/da (2a + a²) = 2 + 2a; d/db (3b) = 3.
        let loss = (&a * 2.0).sum(Kind::Float) + a.square().sum(Kind::Float) + (&b * 3.0).sum(Kind::Float);
        loss.backward();
        let mut first = seen.lock().unwrap().clone();
        first.sort_by_key(|(index, _)| *index);
        assert_eq!(first, [(0, vec![4.0, 6.0]), (1, vec![3.0])]);
        // A second backward call fires again, with the accumulated gradient.
        (&b * 1.0).sum(Kind::Float).backward();
        assert_eq!(seen.lock().unwrap().last(), Some(&(1, vec![4.0])));
        let calls = seen.lock().unwrap().len();
        drop(hooks);
        (&b * 1.0).sum(Kind::Float).backward();
        assert_eq!(seen.lock().unwrap().len(), calls, "no call after the hooks are removed");
        assert_eq!(Vec::<f32>::try_from(&b.grad()).unwrap(), [5.0]);
    }
}
