//! Triangle multiplicative updates, Jumper et al. (2021) Suppl. Alg. 11
//! "TriangleMultiplicationOutgoing" and Alg. 12 "TriangleMultiplicationIncoming" (DeepMind's
//! `modules.TriangleMultiplication`, non-fused form used by every monomer model).
//!
//! Naming follows AlphaFold, which differs from the paper for the incoming direction: there
//! `b = left_projection` and `a = right_projection` (see the note in `modules.py`).
//! Outgoing: `z_ij = sum_k left_ik * right_jk`; incoming: `z_ij = sum_k left_kj * right_ki`.
use super::config::{GlobalConfig, TriangleDirection, TriangleMultiplicationConfig};
use super::primitives::{Init, LayerNorm, Linear};
use tch::{nn, Tensor};

#[derive(Debug)]
pub struct TriangleMultiplication {
    pub layer_norm_input: LayerNorm,
    pub left_projection: Linear,
    pub right_projection: Linear,
    pub left_gate: Linear,
    pub right_gate: Linear,
    pub center_layer_norm: LayerNorm,
    pub output_projection: Linear,
    pub gating_linear: Linear,
    direction: TriangleDirection,
}

impl TriangleMultiplication {
    pub fn new(p: nn::Path, cfg: &TriangleMultiplicationConfig, c_z: i64, global: &GlobalConfig) -> Self {
        let c = cfg.num_intermediate_channel;
        TriangleMultiplication {
            layer_norm_input: LayerNorm::new(&p / "layer_norm_input", c_z),
            left_projection: Linear::new(&p / "left_projection", c_z, c, Init::Default),
            right_projection: Linear::new(&p / "right_projection", c_z, c, Init::Default),
            left_gate: Linear::gate(&p / "left_gate", c_z, c, global),
            right_gate: Linear::gate(&p / "right_gate", c_z, c, global),
            center_layer_norm: LayerNorm::new(&p / "center_layer_norm", c),
            output_projection: Linear::new(&p / "output_projection", c, c_z, Init::final_init(global)),
            gating_linear: Linear::gate(&p / "gating_linear", c_z, c_z, global),
            direction: cfg.direction,
        }
    }

    /// Gated, masked projections `(left, right)`, each `[*, N_res, N_res, c]`, of
    /// `pair [*, N_res, N_res, c_z]`, and the normalised input for the output gate.
    pub fn projections(&self, pair: &Tensor, pair_mask: &Tensor) -> (Tensor, Tensor, Tensor) {
        let mask = pair_mask.to_kind(pair.kind()).unsqueeze(-1);
        let x = self.layer_norm_input.forward(pair);
        let left = self.left_projection.forward(&x) * &mask * self.left_gate.forward(&x).sigmoid();
        let right = self.right_projection.forward(&x) * &mask * self.right_gate.forward(&x).sigmoid();
        (left, right, x)
    }

    pub fn direction(&self) -> TriangleDirection {
        self.direction
    }

    /// `[*, I, J, c]` products of the projections: outgoing `sum_k left_ik right_jk` from
    /// `left [*, I, K, c]`, `right [*, J, K, c]`; incoming `sum_k left_kj right_ki` from
    /// `left [*, K, J, c]`, `right [*, K, I, c]`. Under dynamic axial parallelism `left` is a
    /// shard of its free axis and `right` whole.
    pub fn combine(&self, left: &Tensor, right: &Tensor) -> Tensor {
        match self.direction {
            TriangleDirection::Outgoing => Tensor::einsum("...ikc,...jkc->...ijc", &[left, right], None::<i64>),
            TriangleDirection::Incoming => Tensor::einsum("...kjc,...kic->...ijc", &[left, right], None::<i64>),
        }
    }

    /// The update `[*, I, J, c_z]` from the products `[*, I, J, c]` and the normalised input
    /// `x [*, I, J, c_z]` of the same positions (for the output gate).
    pub fn output(&self, combined: &Tensor, x: &Tensor) -> Tensor {
        let out = self.output_projection.forward(&self.center_layer_norm.forward(combined));
        out * self.gating_linear.forward(x).sigmoid()
    }

    /// `pair [*, N_res, N_res, c_z]`, `pair_mask [*, N_res, N_res]` -> update of the same shape.
    pub fn forward(&self, pair: &Tensor, pair_mask: &Tensor) -> Tensor {
        let (left, right, x) = self.projections(pair, pair_mask);
        self.output(&self.combine(&left, &right), &x)
    }
}
