//! A tensor of 3D rotations: rotation matrices `[*, 3, 3]` that index, broadcast, compose and
//! apply like one tensor whose elements are rotations (the role of `Rots` in DeepMind's
//! `alphafold/model/r3.py` and of `Rotation` in OpenFold's `utils/rigid_utils.py`).
//!
//! The leading `*` dimensions are the *batch* dimensions; every dimension argument of this type
//! counts batch dimensions only (`-1` is the last batch dimension, not a matrix axis).
use super::quaternion;
use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

/// Rotations stored as matrices `[*, 3, 3]`, acting on column vectors (`x' = R x`).
#[derive(Debug)]
pub struct Rotation {
    pub(super) matrices: Tensor,
}

impl Clone for Rotation {
    fn clone(&self) -> Self {
        Self { matrices: self.matrices.shallow_clone() }
    }
}

/// A batch dimension (negative counts from the end) as a non-negative index into a tensor whose
/// leading `batch_ndim` dimensions are the batch; `extra` is 1 where the dimension may name one
/// past the end (unsqueeze).
pub(crate) fn batch_dim(dim: i64, batch_ndim: usize, extra: i64) -> i64 {
    if dim < 0 {
        dim + batch_ndim as i64 + extra
    } else {
        dim
    }
}

impl Rotation {
    /// Wraps rotation matrices `[*, 3, 3]`.
    pub fn from_matrices(matrices: Tensor) -> Result<Self> {
        let size = matrices.size();
        if size.len() < 2 || size[size.len() - 2..] != [3, 3] {
            bail!("rotation matrices must have shape [*, 3, 3], got {size:?}");
        }
        Ok(Self { matrices })
    }

    /// Rotations of quaternions `[*, 4]` (real part first); non-unit quaternions are normalised
    /// when `normalize` is set, as in Jumper et al. (2021) Suppl. Alg. 23 line 2.
    pub fn from_quaternions(quaternions: &Tensor, normalize: bool) -> Result<Self> {
        let size = quaternions.size();
        if size.last() != Some(&4) {
            bail!("quaternions must have shape [*, 4], got {size:?}");
        }
        let unit = if normalize { quaternion::normalize(quaternions) } else { quaternions.shallow_clone() };
        Ok(Self { matrices: quaternion::to_rotation_matrix(&unit) })
    }

    /// Identity rotations with batch shape `batch`.
    pub fn identity(batch: &[i64], options: (Kind, Device)) -> Self {
        let mut shape = batch.to_vec();
        shape.extend([3, 3]);
        let eye = Tensor::eye(3, options); // [3, 3]
        Self { matrices: eye.expand(shape, false).contiguous() } // [*, 3, 3]
    }

    /// The matrices `[*, 3, 3]`.
    pub fn matrices(&self) -> &Tensor {
        &self.matrices
    }

    /// Unit quaternions `[*, 4]` with non-negative real part.
    pub fn to_quaternions(&self) -> Tensor {
        quaternion::from_rotation_matrix(&self.matrices)
    }

    /// The batch shape `*`.
    pub fn batch_shape(&self) -> Vec<i64> {
        let size = self.matrices.size();
        size[..size.len() - 2].to_vec()
    }

    pub fn kind(&self) -> Kind {
        self.matrices.kind()
    }

    pub fn device(&self) -> Device {
        self.matrices.device()
    }

    /// `self ∘ other`: first `other`, then `self` (`R = R_self R_other`), broadcasting batches.
    pub fn compose(&self, other: &Rotation) -> Rotation {
        Self { matrices: self.matrices.matmul(&other.matrices) }
    }

    /// The inverse rotations (transposes).
    pub fn invert(&self) -> Rotation {
        Self { matrices: self.matrices.transpose(-1, -2) }
    }

    /// Rotates points `[*, 3]` (batch dimensions broadcast against the rotations').
    pub fn apply(&self, points: &Tensor) -> Tensor {
        self.matrices.matmul(&points.unsqueeze(-1)).squeeze_dim(-1) // [*, 3]
    }

    /// Rotates points `[*, 3]` by the inverse rotations.
    pub fn invert_apply(&self, points: &Tensor) -> Tensor {
        self.invert().apply(points)
    }

    /// Applies `f` to each of the nine matrix entries, each a tensor of the batch shape `[*]`,
    /// and reassembles the results; `f` may change the batch shape (index, unsqueeze, expand).
    pub fn map(&self, f: impl Fn(&Tensor) -> Tensor) -> Rotation {
        let batch = self.batch_shape();
        let mut flat_shape = batch.clone();
        flat_shape.push(9);
        let entries: Vec<Tensor> = self.matrices.reshape(flat_shape).unbind(-1).iter().map(f).collect(); // 9 × [*']
        let mapped = Tensor::stack(&entries, -1); // [*', 9]
        let mut shape = mapped.size();
        shape.pop();
        shape.extend([3, 3]);
        Self { matrices: mapped.reshape(shape) } // [*', 3, 3]
    }

    /// Inserts a batch dimension of size 1 at `dim`.
    pub fn unsqueeze(&self, dim: i64) -> Rotation {
        let dim = batch_dim(dim, self.matrices.dim() - 2, 1);
        Self { matrices: self.matrices.unsqueeze(dim) }
    }

    /// The rotations at `index` along batch dimension `dim` (which disappears).
    pub fn select(&self, dim: i64, index: i64) -> Rotation {
        let dim = batch_dim(dim, self.matrices.dim() - 2, 0);
        Self { matrices: self.matrices.select(dim, index) }
    }

    /// `length` rotations from `start` along batch dimension `dim`.
    pub fn narrow(&self, dim: i64, start: i64, length: i64) -> Rotation {
        let dim = batch_dim(dim, self.matrices.dim() - 2, 0);
        Self { matrices: self.matrices.narrow(dim, start, length) }
    }

    /// The rotations at the integer positions `index` along batch dimension `dim`.
    pub fn index_select(&self, dim: i64, index: &Tensor) -> Rotation {
        let dim = batch_dim(dim, self.matrices.dim() - 2, 0);
        Self { matrices: self.matrices.index_select(dim, index) }
    }

    /// Concatenates along batch dimension `dim`.
    pub fn cat(rotations: &[&Rotation], dim: i64) -> Rotation {
        let batch_ndim = rotations.first().map_or(0, |r| r.matrices.dim() - 2);
        let dim = batch_dim(dim, batch_ndim, 0);
        let matrices: Vec<&Tensor> = rotations.iter().map(|r| &r.matrices).collect();
        Self { matrices: Tensor::cat(&matrices, dim) }
    }

    /// Stacks along a new batch dimension `dim`.
    pub fn stack(rotations: &[&Rotation], dim: i64) -> Rotation {
        let batch_ndim = rotations.first().map_or(0, |r| r.matrices.dim() - 2);
        let dim = batch_dim(dim, batch_ndim, 1);
        let matrices: Vec<&Tensor> = rotations.iter().map(|r| &r.matrices).collect();
        Self { matrices: Tensor::stack(&matrices, dim) }
    }

    /// The same rotations cut from the autograd graph (AlphaFold's stop-gradient on rotations
    /// between structure-module layers, Suppl. Alg. 20 line 20).
    pub fn detach(&self) -> Rotation {
        Self { matrices: self.matrices.detach() }
    }

    pub fn to_device(&self, device: Device) -> Rotation {
        Self { matrices: self.matrices.to_device(device) }
    }

    pub fn to_kind(&self, kind: Kind) -> Rotation {
        Self { matrices: self.matrices.to_kind(kind) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(batch: &[i64]) -> Rotation {
        let mut shape = batch.to_vec();
        shape.push(4);
        let q = Tensor::randn(shape, (Kind::Double, Device::Cpu));
        Rotation::from_quaternions(&q, true).unwrap()
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    #[test]
    fn rejects_wrong_shapes() {
        let err = Rotation::from_matrices(Tensor::zeros([4, 3, 2], (Kind::Float, Device::Cpu)));
        assert!(err.unwrap_err().to_string().contains("[4, 3, 2]"));
        let err = Rotation::from_quaternions(&Tensor::zeros([4, 3], (Kind::Float, Device::Cpu)), true);
        assert!(err.unwrap_err().to_string().contains("[4, 3]"));
    }

    #[test]
    fn invert_compose_is_identity_and_apply_round_trips() {
        tch::manual_seed(3);
        let r = random(&[2, 5]);
        let identity = Rotation::identity(&[2, 5], (Kind::Double, Device::Cpu));
        assert!(max_abs_diff(r.invert().compose(&r).matrices(), identity.matrices()) < 1e-5);
        let x = Tensor::randn([2, 5, 3], (Kind::Double, Device::Cpu));
        assert!(max_abs_diff(&r.invert_apply(&r.apply(&x)), &x) < 1e-5);
    }

    #[test]
    fn map_and_batch_ops_act_on_batch_dimensions() {
        tch::manual_seed(4);
        let r = random(&[2, 5]);
        assert_eq!(r.unsqueeze(-1).batch_shape(), [2, 5, 1]);
        assert_eq!(r.unsqueeze(0).batch_shape(), [1, 2, 5]);
        assert_eq!(r.select(-1, 3).batch_shape(), [2]);
        assert!(max_abs_diff(r.select(-1, 3).matrices(), &r.matrices().select(1, 3)) < 1e-12);
        let mapped = r.map(|t| t.narrow(1, 1, 2));
        assert!(max_abs_diff(mapped.matrices(), r.narrow(-1, 1, 2).matrices()) < 1e-12);
        assert_eq!(Rotation::cat(&[&r, &r], -1).batch_shape(), [2, 10]);
        assert_eq!(Rotation::stack(&[&r, &r], -1).batch_shape(), [2, 5, 2]);
        let picked = r.index_select(1, &Tensor::from_slice(&[4i64, 0]));
        assert!(max_abs_diff(picked.select(1, 0).matrices(), r.select(1, 4).matrices()) < 1e-12);
    }
}
