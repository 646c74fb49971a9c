//! All trainable parameters of a VarStore as views into one contiguous buffer, so that the
//! optimiser, gradient clipping and the weight average update every parameter in a handful of
//! kernel launches (the "flat master parameters" of NVIDIA Apex and DeepSpeed; libtorch's
//! multi-tensor `_foreach_*` / `_fused_adam_` kernels are not exposed by tch 0.24).
//!
//! Each variable's data is rebound to its slice of the buffer (`Tensor::set_data`, PyTorch's
//! `p.data = view`), so the model's own handles read and write the buffer. Gradients stay per
//! variable (autograd allocates them) and are gathered into one flat tensor by [`flat_gradient`].
//! Variables are ordered by name, which fixes the layout independently of construction order.
use anyhow::{bail, Result};
use tch::{nn, Device, Kind, Tensor};

/// Where one variable lives in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub name: String,
    pub offset: i64,
    pub shape: Vec<i64>,
}

impl Slot {
    pub fn numel(&self) -> i64 {
        self.shape.iter().product()
    }
}

/// The trainable variables of a VarStore and the buffer they live in.
#[derive(Debug)]
pub struct FlatParameters {
    /// `[P]` fp32: every trainable parameter, in [`FlatParameters::slots`] order.
    pub values: Tensor,
    slots: Vec<Slot>,
    variables: Vec<Tensor>,
}

impl FlatParameters {
    /// Moves the trainable variables of `vs` into one fp32 buffer on `vs`'s device. Fails when
    /// a trainable variable is not fp32 (mixed precision keeps fp32 master weights).
    pub fn new(vs: &nn::VarStore) -> Result<Self> {
        let mut named: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        if named.is_empty() {
            bail!("the model has no trainable parameters");
        }
        let mut slots = Vec::with_capacity(named.len());
        let mut offset = 0;
        for (name, tensor) in &named {
            if tensor.kind() != Kind::Float {
                bail!("parameter '{name}' is {:?}; training needs fp32 parameters", tensor.kind());
            }
            let slot = Slot { name: name.clone(), offset, shape: tensor.size() };
            offset += slot.numel();
            slots.push(slot);
        }
        let values = Tensor::zeros([offset], (Kind::Float, vs.device()));
        let mut variables = Vec::with_capacity(named.len());
        tch::no_grad(|| {
            for ((_, mut tensor), slot) in named.into_iter().zip(&slots) {
                let mut view = values.narrow(0, slot.offset, slot.numel()).view(slot.shape.as_slice());
                view.copy_(&tensor);
                tensor.set_data(&view);
                variables.push(tensor);
            }
        });
        Ok(Self { values, slots, variables })
    }

    /// The layout: one slot per trainable variable, by name.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The variables, in slot order (handles sharing the model's).
    pub fn variables(&self) -> &[Tensor] {
        &self.variables
    }

    /// Number of scalar parameters.
    pub fn numel(&self) -> i64 {
        self.values.size()[0]
    }

    pub fn device(&self) -> Device {
        self.values.device()
    }

    /// `[P]` the variables' gradients in slot order (zeros for a variable without gradient).
    pub fn flat_gradient(&self) -> Tensor {
        let pieces: Vec<Tensor> = self
            .variables
            .iter()
            .map(|v| {
                let grad = v.grad();
                if grad.defined() {
                    grad.reshape([-1])
                } else {
                    v.zeros_like().reshape([-1])
                }
            })
            .collect();
        Tensor::cat(&pieces, 0)
    }

    /// Clears the variables' gradients (in place).
    pub fn zero_grad(&mut self) {
        for variable in &mut self.variables {
            variable.zero_grad();
        }
    }

    /// Overwrites the parameters with `values` `[P]`.
    pub fn assign(&self, values: &Tensor) {
        tch::no_grad(|| self.values.shallow_clone().copy_(values));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_handles_see_the_buffer() {
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let b = root.var("b", &[3], nn::Init::Const(2.0));
        let a = root.var("a", &[2, 2], nn::Init::Const(1.0));
        let flat = FlatParameters::new(&vs).unwrap();
        let names: Vec<&str> = flat.slots().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(Vec::<f32>::try_from(&flat.values).unwrap(), [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
        // Writing the buffer changes what the model computes with, and gradients flow to it.
        flat.assign(&Tensor::arange(7, (Kind::Float, Device::Cpu)));
        assert_eq!(Vec::<f32>::try_from(&b).unwrap(), [4.0, 5.0, 6.0]);
        let loss = (&a * 2.0).sum(Kind::Float) + b.square().sum(Kind::Float);
        loss.backward();
        let gradient = Vec::<f32>::try_from(&flat.flat_gradient()).unwrap();
        assert_eq!(gradient, [2.0, 2.0, 2.0, 2.0, 8.0, 10.0, 12.0]);
    }
}
