//! A tensor of rigid transforms (frames) `T = (R, t)`, `x ↦ R x + t`: the backbone and
//! side-chain frames of Jumper et al. (2021) Suppl. Sec. 1.8, with the operations of DeepMind's
//! `alphafold/model/r3.py` / `quat_affine.py` and OpenFold's `Rigid` (`utils/rigid_utils.py`).
//!
//! Batch dimensions `*` lead; dimension arguments count batch dimensions only (see
//! [`Rotation`]).
use super::quaternion;
use super::rotation::{batch_dim, Rotation};
use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

/// Rigid transforms: rotations `[*, 3, 3]` and translations `[*, 3]` of one batch shape.
#[derive(Debug)]
pub struct Rigid {
    rotation: Rotation,
    translation: Tensor,
}

impl Clone for Rigid {
    /// Shares the underlying tensors (tch's shallow clone), as cloning a tensor handle does.
    fn clone(&self) -> Self {
        Self { rotation: self.rotation.clone(), translation: self.translation.shallow_clone() }
    }
}

/// Length √(|v|² + ε) of vectors `[*, 3] -> [*, 1]`, kept away from zero as AlphaFold's
/// `r3.vecs_robust_norm` does.
fn robust_norm(v: &Tensor, eps: f64) -> Tensor {
    (v.square().sum_dim_intlist(-1, true, None) + eps).sqrt()
}

fn check_points(name: &str, points: &Tensor) -> Result<()> {
    if points.size().last() != Some(&3) {
        bail!("{name} must have shape [*, 3], got {:?}", points.size());
    }
    Ok(())
}

impl Rigid {
    /// Pairs rotations `[*, 3, 3]` with translations `[*, 3]` of the same batch shape.
    pub fn new(rotation: Rotation, translation: Tensor) -> Result<Self> {
        let size = translation.size();
        if size.last() != Some(&3) || size[..size.len() - 1] != rotation.batch_shape()[..] {
            bail!(
                "translation shape {size:?} does not match rotations of batch shape {:?} (expected [*, 3])",
                rotation.batch_shape()
            );
        }
        Ok(Self { rotation, translation })
    }

    /// Identity transforms with batch shape `batch`.
    pub fn identity(batch: &[i64], options: (Kind, Device)) -> Self {
        let mut shape = batch.to_vec();
        shape.push(3);
        Self { rotation: Rotation::identity(batch, options), translation: Tensor::zeros(shape, options) }
    }

    /// Frames from three points `[*, 3]` by Gram–Schmidt, Jumper et al. (2021) Suppl. Alg. 21
    /// `rigidFrom3Points(x1, x2, x3)`: origin at `x2`, x axis towards `x3`, `x1` in the xy plane
    /// with positive y. A backbone frame is `(N, CA, C)`. `eps` guards the normalisations
    /// (AlphaFold uses 1e-8).
    pub fn from_3_points(x1: &Tensor, x2: &Tensor, x3: &Tensor, eps: f64) -> Result<Self> {
        check_points("x1", x1)?;
        check_points("x2", x2)?;
        check_points("x3", x3)?;
        Ok(Self::gram_schmidt(&(x3 - x2), &(x1 - x2), x2, eps))
    }

    /// Frames with origin `origin`, `point_on_neg_x_axis` on the negative x axis and
    /// `point_on_xy_plane` in the xy plane with positive y, all `[*, 3]`: the convention of
    /// DeepMind's `r3.rigids_from_3_points`, which `all_atom.atom37_to_frames` uses for the
    /// rigid groups.
    pub fn from_points_on_axes(
        point_on_neg_x_axis: &Tensor,
        origin: &Tensor,
        point_on_xy_plane: &Tensor,
        eps: f64,
    ) -> Result<Self> {
        check_points("point_on_neg_x_axis", point_on_neg_x_axis)?;
        check_points("origin", origin)?;
        check_points("point_on_xy_plane", point_on_xy_plane)?;
        Ok(Self::gram_schmidt(&(origin - point_on_neg_x_axis), &(point_on_xy_plane - origin), origin, eps))
    }

    /// Orthonormal frame at `origin` whose x axis is along `x_direction` and whose xy plane
    /// holds `xy_direction` (positive y side), all `[*, 3]`; batch shapes broadcast.
    fn gram_schmidt(x_direction: &Tensor, xy_direction: &Tensor, origin: &Tensor, eps: f64) -> Self {
        let e1 = x_direction / robust_norm(x_direction, eps); // [*, 3]
        let along = (&e1 * xy_direction).sum_dim_intlist(-1, true, None); // [*, 1]
        let u2 = xy_direction - &e1 * along; // [*, 3]
        let e2 = &u2 / robust_norm(&u2, eps); // [*, 3]
        let e3 = e1.linalg_cross(&e2, -1); // [*, 3]
        let matrices = Tensor::stack(&[e1, e2, e3], -1); // columns e1, e2, e3: [*, 3, 3]
        let mut batch = matrices.size();
        batch.truncate(batch.len() - 2);
        batch.push(3);
        let translation = origin.expand(batch, false); // [*, 3]
        Self { rotation: Rotation { matrices }, translation }
    }

    /// Transforms from homogeneous matrices `[*, 4, 4]` (`[[R, t], [0, 1]]`).
    pub fn from_tensor_4x4(matrices: &Tensor) -> Result<Self> {
        let size = matrices.size();
        if size.len() < 2 || size[size.len() - 2..] != [4, 4] {
            bail!("homogeneous transforms must have shape [*, 4, 4], got {size:?}");
        }
        let top = matrices.narrow(-2, 0, 3); // [*, 3, 4]
        let rotation = Rotation { matrices: top.narrow(-1, 0, 3) }; // [*, 3, 3]
        let translation = top.select(-1, 3); // [*, 3]
        Ok(Self { rotation, translation })
    }

    /// Homogeneous matrices `[*, 4, 4]`.
    pub fn to_tensor_4x4(&self) -> Tensor {
        let top = Tensor::cat(&[self.rotation.matrices(), &self.translation.unsqueeze(-1)], -1); // [*, 3, 4]
        let mut bottom_shape = self.batch_shape();
        bottom_shape.extend([1, 4]);
        let bottom = Tensor::from_slice(&[0.0f64, 0.0, 0.0, 1.0])
            .to_kind(top.kind())
            .to_device(top.device())
            .expand(bottom_shape, false); // [*, 1, 4]
        Tensor::cat(&[top, bottom], -2) // [*, 4, 4]
    }

    /// Transforms from AlphaFold's affine tensors `[*, 7]`: a quaternion (real part first,
    /// normalised here) then the translation, the layout of `QuatAffine.to_tensor`.
    pub fn from_tensor_7(affines: &Tensor) -> Result<Self> {
        if affines.size().last() != Some(&7) {
            bail!("affine tensors must have shape [*, 7], got {:?}", affines.size());
        }
        let rotation = Rotation::from_quaternions(&affines.narrow(-1, 0, 4), true)?;
        Ok(Self { rotation, translation: affines.narrow(-1, 4, 3) })
    }

    /// AlphaFold's affine tensors `[*, 7]`: unit quaternion (non-negative real part), then
    /// the translation.
    pub fn to_tensor_7(&self) -> Tensor {
        Tensor::cat(&[self.rotation.to_quaternions(), self.translation.shallow_clone()], -1)
        // [*, 7]
    }

    pub fn rotation(&self) -> &Rotation {
        &self.rotation
    }

    /// Translations `[*, 3]`.
    pub fn translation(&self) -> &Tensor {
        &self.translation
    }

    /// The batch shape `*`.
    pub fn batch_shape(&self) -> Vec<i64> {
        self.rotation.batch_shape()
    }

    /// `self ∘ other`: first `other`, then `self` (`R = R₁R₂`, `t = R₁t₂ + t₁`).
    pub fn compose(&self, other: &Rigid) -> Rigid {
        Self {
            rotation: self.rotation.compose(&other.rotation),
            translation: self.rotation.apply(&other.translation) + &self.translation,
        }
    }

    /// The inverse transforms (`R⁻¹ = Rᵀ`, `t⁻¹ = -Rᵀt`).
    pub fn invert(&self) -> Rigid {
        let rotation = self.rotation.invert();
        let translation = -rotation.apply(&self.translation);
        Self { rotation, translation }
    }

    /// Maps points `[*, 3]` to `R x + t`; batch dimensions broadcast against the frames' (a
    /// frame per residue applied to many points per residue: `frames.unsqueeze(-1)`).
    pub fn apply(&self, points: &Tensor) -> Tensor {
        self.rotation.apply(points) + &self.translation // [*, 3]
    }

    /// Maps points `[*, 3]` by the inverse transforms, `Rᵀ(x - t)`.
    pub fn invert_apply(&self, points: &Tensor) -> Tensor {
        self.rotation.invert_apply(&(points - &self.translation)) // [*, 3]
    }

    /// Composes with AlphaFold's backbone update `[*, 6]` = `(b, c, d, t_x, t_y, t_z)`,
    /// Jumper et al. (2021) Suppl. Alg. 23: the non-unit quaternion `(1, b, c, d)` is normalised
    /// into a rotation, and `T ← T ∘ (R_update, t_update)`, as DeepMind's
    /// `QuatAffine.pre_compose` does.
    pub fn compose_backbone_update(&self, update: &Tensor) -> Rigid {
        let bcd = update.narrow(-1, 0, 3); // [*, 3]
        let quaternions = Tensor::cat(&[bcd.ones_like().narrow(-1, 0, 1), bcd], -1); // [*, 4]
        let rotation = Rotation { matrices: quaternion::to_rotation_matrix(&quaternion::normalize(&quaternions)) };
        let step = Self { rotation, translation: update.narrow(-1, 3, 3) };
        self.compose(&step)
    }

    /// Applies `f` to every component tensor of batch shape `[*]` (nine rotation entries and
    /// three translation coordinates); `f` may reshape the batch (index, expand, mask).
    pub fn map(&self, f: impl Fn(&Tensor) -> Tensor) -> Rigid {
        let rotation = self.rotation.map(&f);
        let coordinates: Vec<Tensor> = self.translation.unbind(-1).iter().map(&f).collect(); // 3 × [*']
        Self { rotation, translation: Tensor::stack(&coordinates, -1) }
    }

    /// Inserts a batch dimension of size 1 at `dim`.
    pub fn unsqueeze(&self, dim: i64) -> Rigid {
        let dim = batch_dim(dim, self.translation.dim() - 1, 1);
        Self { rotation: self.rotation.unsqueeze(dim), translation: self.translation.unsqueeze(dim) }
    }

    /// The transforms at `index` along batch dimension `dim` (which disappears).
    pub fn select(&self, dim: i64, index: i64) -> Rigid {
        let dim = batch_dim(dim, self.translation.dim() - 1, 0);
        Self { rotation: self.rotation.select(dim, index), translation: self.translation.select(dim, index) }
    }

    /// `length` transforms from `start` along batch dimension `dim`.
    pub fn narrow(&self, dim: i64, start: i64, length: i64) -> Rigid {
        let dim = batch_dim(dim, self.translation.dim() - 1, 0);
        Self {
            rotation: self.rotation.narrow(dim, start, length),
            translation: self.translation.narrow(dim, start, length),
        }
    }

    /// The transforms at the integer positions `index` along batch dimension `dim`.
    pub fn index_select(&self, dim: i64, index: &Tensor) -> Rigid {
        let dim = batch_dim(dim, self.translation.dim() - 1, 0);
        Self {
            rotation: self.rotation.index_select(dim, index),
            translation: self.translation.index_select(dim, index),
        }
    }

    /// Concatenates along batch dimension `dim`.
    pub fn cat(rigids: &[&Rigid], dim: i64) -> Rigid {
        let batch_ndim = rigids.first().map_or(0, |r| r.translation.dim() - 1);
        let dim = batch_dim(dim, batch_ndim, 0);
        let rotations: Vec<&Rotation> = rigids.iter().map(|r| &r.rotation).collect();
        let translations: Vec<&Tensor> = rigids.iter().map(|r| &r.translation).collect();
        Self { rotation: Rotation::cat(&rotations, dim), translation: Tensor::cat(&translations, dim) }
    }

    /// Stacks along a new batch dimension `dim`.
    pub fn stack(rigids: &[&Rigid], dim: i64) -> Rigid {
        let batch_ndim = rigids.first().map_or(0, |r| r.translation.dim() - 1);
        let dim = batch_dim(dim, batch_ndim, 1);
        let rotations: Vec<&Rotation> = rigids.iter().map(|r| &r.rotation).collect();
        let translations: Vec<&Tensor> = rigids.iter().map(|r| &r.translation).collect();
        Self { rotation: Rotation::stack(&rotations, dim), translation: Tensor::stack(&translations, dim) }
    }

    /// Multiplies the translations by `factor` (AlphaFold's `scale_translation`, converting
    /// between the structure module's nanometre-like units and Ångström).
    pub fn scale_translation(&self, factor: f64) -> Rigid {
        Self { rotation: self.rotation.clone(), translation: &self.translation * factor }
    }

    /// The same transforms with the rotations cut from the autograd graph (AlphaFold's
    /// stop-gradient between structure-module layers, Suppl. Alg. 20 line 20).
    pub fn detach_rotation(&self) -> Rigid {
        Self { rotation: self.rotation.detach(), translation: self.translation.shallow_clone() }
    }

    /// The same transforms cut from the autograd graph entirely.
    pub fn detach(&self) -> Rigid {
        Self { rotation: self.rotation.detach(), translation: self.translation.detach() }
    }

    pub fn to_device(&self, device: Device) -> Rigid {
        Self { rotation: self.rotation.to_device(device), translation: self.translation.to_device(device) }
    }

    pub fn to_kind(&self, kind: Kind) -> Rigid {
        Self { rotation: self.rotation.to_kind(kind), translation: self.translation.to_kind(kind) }
    }

    pub fn kind(&self) -> Kind {
        self.translation.kind()
    }

    pub fn device(&self) -> Device {
        self.translation.device()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPU64: (Kind, Device) = (Kind::Double, Device::Cpu);

    fn random(batch: &[i64]) -> Rigid {
        let mut shape = batch.to_vec();
        shape.push(4);
        let rotation = Rotation::from_quaternions(&Tensor::randn(&shape, CPU64), true).unwrap();
        shape.pop();
        shape.push(3);
        Rigid::new(rotation, Tensor::randn(shape, CPU64) * 5.0).unwrap()
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    fn assert_same(a: &Rigid, b: &Rigid) {
        assert!(max_abs_diff(&a.to_tensor_4x4(), &b.to_tensor_4x4()) < 1e-5);
    }

    #[test]
    fn new_checks_shapes() {
        let rotation = Rotation::identity(&[2, 5], CPU64);
        let err = Rigid::new(rotation.clone(), Tensor::zeros([2, 4, 3], CPU64)).unwrap_err();
        assert!(err.to_string().contains("[2, 4, 3]"), "{err}");
        assert!(Rigid::new(rotation, Tensor::zeros([2, 5, 3], CPU64)).is_ok());
        assert!(Rigid::from_tensor_4x4(&Tensor::zeros([3, 3], CPU64)).is_err());
        assert!(Rigid::from_tensor_7(&Tensor::zeros([2, 6], CPU64)).is_err());
        let p = Tensor::zeros([2, 4], CPU64);
        assert!(Rigid::from_3_points(&p, &p, &p, 1e-8).is_err());
    }

    #[test]
    fn invert_compose_is_identity() {
        tch::manual_seed(10);
        let t = random(&[3, 4]);
        let identity = Rigid::identity(&[3, 4], CPU64);
        assert_same(&t.invert().compose(&t), &identity);
        assert_same(&t.compose(&t.invert()), &identity);
        let x = Tensor::randn([3, 4, 3], CPU64);
        assert!(max_abs_diff(&t.invert_apply(&t.apply(&x)), &x) < 1e-5);
        assert!(max_abs_diff(&t.invert().apply(&x), &t.invert_apply(&x)) < 1e-5);
    }

    #[test]
    fn composition_is_associative_and_acts_in_order() {
        tch::manual_seed(11);
        let (a, b, c) = (random(&[6]), random(&[6]), random(&[6]));
        assert_same(&a.compose(&b).compose(&c), &a.compose(&b.compose(&c)));
        let x = Tensor::randn([6, 3], CPU64);
        assert!(max_abs_diff(&a.compose(&b).apply(&x), &a.apply(&b.apply(&x))) < 1e-5);
    }

    #[test]
    fn apply_matches_homogeneous_matmul() {
        tch::manual_seed(12);
        let t = random(&[2, 5]);
        let x = Tensor::randn([2, 5, 3], CPU64);
        let homogeneous = Tensor::cat(&[x.shallow_clone(), x.ones_like().narrow(-1, 0, 1)], -1); // [2, 5, 4]
        let expected = t.to_tensor_4x4().matmul(&homogeneous.unsqueeze(-1)).squeeze_dim(-1).narrow(-1, 0, 3);
        assert!(max_abs_diff(&t.apply(&x), &expected) < 1e-5);
        assert_same(&Rigid::from_tensor_4x4(&t.to_tensor_4x4()).unwrap(), &t);
        assert_same(&Rigid::from_tensor_7(&t.to_tensor_7()).unwrap(), &t);
    }

    #[test]
    fn frames_broadcast_over_extra_point_dimensions() {
        tch::manual_seed(13);
        let t = random(&[2, 5]);
        let x = Tensor::randn([2, 5, 7, 3], CPU64);
        let applied = t.unsqueeze(-1).apply(&x); // [2, 5, 7, 3]
        assert_eq!(applied.size(), [2, 5, 7, 3]);
        let one_point = t.apply(&x.select(2, 4));
        assert!(max_abs_diff(&applied.select(2, 4), &one_point) < 1e-12);
        // A single transform broadcasts against a whole batch.
        let single = random(&[]);
        let expected = single.unsqueeze(0).unsqueeze(0).apply(&x.select(2, 0));
        assert!(max_abs_diff(&single.apply(&x.select(2, 0)), &expected) < 1e-12);
    }

    #[test]
    fn batch_operations_index_the_transforms() {
        tch::manual_seed(14);
        let t = random(&[2, 5]);
        assert_eq!(t.unsqueeze(-1).batch_shape(), [2, 5, 1]);
        assert_eq!(Rigid::cat(&[&t, &t], 0).batch_shape(), [4, 5]);
        assert_eq!(Rigid::stack(&[&t, &t, &t], -1).batch_shape(), [2, 5, 3]);
        assert_same(&Rigid::cat(&[&t, &t], -1).narrow(-1, 5, 5), &t);
        assert_same(&t.map(|c| c.select(1, 2)), &t.select(-1, 2));
        let picked = t.index_select(1, &Tensor::from_slice(&[3i64, 1]));
        assert_same(&picked.select(1, 1), &t.select(1, 1));
        let expanded = t.map(|c| c.unsqueeze(0).expand([4, 2, 5], false));
        assert_same(&expanded.select(0, 3), &t);
    }

    #[test]
    fn from_3_points_reproduces_a_known_frame() {
        // A frame built by hand: origin o, orthonormal axes e1, e2, e3 (a rotation by 30° about
        // z). Points placed at o - 2 e1 (on the negative x axis), o + 1.5 e1 (on the positive x
        // axis) and o + 0.7 e1 + 1.3 e2 (xy plane, positive y) must give back exactly that frame.
        let (s, c) = (30f64.to_radians().sin(), 30f64.to_radians().cos());
        let matrix = Tensor::from_slice(&[c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0]).reshape([3, 3]);
        let origin = Tensor::from_slice(&[1.0f64, -2.0, 3.0]);
        let truth = Rigid::new(Rotation::from_matrices(matrix).unwrap(), origin.shallow_clone()).unwrap();
        let local = |x: f64, y: f64| truth.apply(&Tensor::from_slice(&[x, y, 0.0]));
        let alg21 = Rigid::from_3_points(&local(0.7, 1.3), &origin, &local(1.5, 0.0), 0.0).unwrap();
        assert_same(&alg21, &truth);
        let axes = Rigid::from_points_on_axes(&local(-2.0, 0.0), &origin, &local(0.7, 1.3), 0.0).unwrap();
        assert_same(&axes, &truth);
    }

    #[test]
    fn backbone_update_matches_alphafold_quaternion_update() {
        // DeepMind's QuatAffine.pre_compose: q' = normalise(q + q·(0, b, c, d)) and
        // t' = t + R(q) t_update. Starting from a quaternion q of our own.
        tch::manual_seed(15);
        let q = quaternion::normalize(&Tensor::randn([4, 4], CPU64));
        let t = Rigid::from_tensor_7(&Tensor::cat(&[q.shallow_clone(), Tensor::randn([4, 3], CPU64)], -1)).unwrap();
        let update = Tensor::randn([4, 6], CPU64) * 0.3;
        let qv = q.unbind(-1);
        let v = update.unbind(-1);
        let (a, b, c, d) = (&qv[0], &qv[1], &qv[2], &qv[3]);
        let (x, y, z) = (&v[0], &v[1], &v[2]);
        // Hamilton product q ⊗ (0, x, y, z).
        let product = Tensor::stack(
            &[-(b * x) - c * y - d * z, a * x + c * z - d * y, a * y - b * z + d * x, a * z + b * y - c * x],
            -1,
        );
        let new_q = quaternion::normalize(&(&q + product));
        let new_t = t.translation() + t.rotation().apply(&update.narrow(-1, 3, 3));
        let expected = Rigid::from_tensor_7(&Tensor::cat(&[new_q, new_t], -1)).unwrap();
        assert_same(&t.compose_backbone_update(&update), &expected);
    }

    #[test]
    fn stop_gradient_and_scaling() {
        let t = Rigid::identity(&[2], (Kind::Float, Device::Cpu));
        let rotation = t.rotation().matrices().set_requires_grad(true);
        let translation = t.translation().set_requires_grad(true);
        let t = Rigid::new(Rotation::from_matrices(rotation).unwrap(), translation).unwrap();
        let detached = t.detach_rotation();
        assert!(!detached.rotation().matrices().requires_grad());
        assert!(detached.translation().requires_grad());
        let scaled =
            Rigid::identity(&[2], CPU64).compose_backbone_update(&Tensor::ones([2, 6], CPU64)).scale_translation(10.0);
        assert!(max_abs_diff(scaled.translation(), &Tensor::full([2, 3], 10.0, CPU64)) < 1e-12);
        assert_eq!(t.to_kind(Kind::Double).kind(), Kind::Double);
    }
}
