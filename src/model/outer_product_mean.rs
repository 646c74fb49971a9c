//! Outer product mean, Jumper et al. (2021) Suppl. Alg. 10 "OuterProductMean" (DeepMind's
//! `modules.OuterProductMean`): the MSA's per-column features are combined into a pair update,
//! averaged over the unmasked sequences.
//!
//! The left residues `i` are independent, so under dynamic axial parallelism a device may pass a
//! shard of the MSA's columns as `left` while `right` covers all residues
//! ([`OuterProductMean::update`]).
use super::chunking::chunked;
use super::config::{GlobalConfig, OuterProductMeanConfig, RuntimeOptions};
use super::primitives::{param, Init, LayerNorm, Linear};
use tch::{nn, Kind, Tensor};

/// Added to the count of sequences seen by each pair, as AlphaFold does.
const NORM_EPSILON: f64 = 1e-3;

#[derive(Debug)]
pub struct OuterProductMean {
    pub layer_norm_input: LayerNorm,
    pub left_projection: Linear,
    pub right_projection: Linear,
    /// `[c_o, c_o, c_z]`
    pub output_w: Tensor,
    /// `[c_z]`
    pub output_b: Tensor,
}

impl OuterProductMean {
    pub fn new(p: nn::Path, cfg: &OuterProductMeanConfig, c_m: i64, c_z: i64, global: &GlobalConfig) -> Self {
        let c = cfg.num_outer_channel;
        let output_init = if global.zero_init { Init::Final } else { Init::Relu };
        OuterProductMean {
            layer_norm_input: LayerNorm::new(&p / "layer_norm_input", c_m),
            left_projection: Linear::new(&p / "left_projection", c_m, c, Init::Default),
            right_projection: Linear::new(&p / "right_projection", c_m, c, Init::Default),
            output_w: param(&p, "output_w", &output_init.sample(&[c, c, c_z])),
            output_b: param(&p, "output_b", &Tensor::zeros([c_z], (Kind::Float, tch::Device::Cpu))),
        }
    }

    /// Masked projections `(left, right)`, each `[*, N_seq, R, c_o]`, of `msa [*, N_seq, R, c_m]`.
    pub fn projections(&self, msa: &Tensor, msa_mask: &Tensor) -> (Tensor, Tensor) {
        let mask = msa_mask.to_kind(msa.kind()).unsqueeze(-1);
        let x = self.layer_norm_input.forward(msa);
        (self.left_projection.forward(&x) * &mask, self.right_projection.forward(&x) * &mask)
    }

    /// Pair update `[*, I, J, c_z]` from projections `left [*, N_seq, I, c_o]` (with mask
    /// `[*, N_seq, I]`) and `right [*, N_seq, J, c_o]` (mask `[*, N_seq, J]`), chunked over `I`.
    pub fn update(
        &self,
        left: &Tensor,
        left_mask: &Tensor,
        right: &Tensor,
        right_mask: &Tensor,
        opts: &RuntimeOptions,
    ) -> Tensor {
        let kind = left.kind();
        let (c, _, c_z) = self.output_w.size3().expect("output_w is [c_o, c_o, c_z]");
        let w = self.output_w.to_kind(kind).reshape([c * c, c_z]);
        let b = self.output_b.to_kind(kind);
        let rows = left.size()[left.dim() - 2];
        chunked(rows, opts.chunk_size, -3, |start, len| {
            let l = left.narrow(-2, start, len);
            // [*, i, J, c_o, c_o]: sum over sequences of left_i (x) right_j
            let outer = Tensor::einsum("...sic,...sje->...ijce", &[&l, right], None::<i64>);
            // [*, i, J, c_z]
            let projected = outer.flatten(-2, -1).matmul(&w) + &b;
            // [*, i, J]: number of sequences where both residues are present
            let lm = left_mask.narrow(-1, start, len).to_kind(kind);
            let norm = lm.transpose(-1, -2).matmul(&right_mask.to_kind(kind));
            projected / (norm.unsqueeze(-1) + NORM_EPSILON)
        })
    }

    /// `msa [*, N_seq, N_res, c_m]`, `msa_mask [*, N_seq, N_res]` -> update `[*, N_res, N_res, c_z]`.
    pub fn forward(&self, msa: &Tensor, msa_mask: &Tensor, opts: &RuntimeOptions) -> Tensor {
        let (left, right) = self.projections(msa, msa_mask);
        self.update(&left, msa_mask, &right, msa_mask, opts)
    }
}
