//! Triangle gated self-attention around the starting node (Jumper et al. (2021) Suppl. Alg. 13
//! "TriangleAttentionStartingNode", `per_row`) and the ending node (Alg. 14
//! "TriangleAttentionEndingNode", `per_column`), DeepMind's `modules.TriangleAttention`.
//!
//! Row `i` of the (transposed, for the ending node) pair attends over `k` with a bias `b_jk`
//! from the whole pair; rows are independent given that bias, so under dynamic axial
//! parallelism a device passes its shard of rows to [`TriangleAttention::attend`].
use super::capture::{self, AttentionModule};
use super::config::{AttentionConfig, GlobalConfig, Orientation, RuntimeOptions};
use super::primitives::{mask_bias, param, Attention, Init, LayerNorm};
use tch::{nn, Tensor};

#[derive(Debug)]
pub struct TriangleAttention {
    pub query_norm: LayerNorm,
    /// `[c_z, H]`
    pub feat_2d_weights: Tensor,
    pub attention: Attention,
    orientation: Orientation,
}

impl TriangleAttention {
    /// `orientation`: `PerRow` for the starting node, `PerColumn` for the ending node.
    pub fn new(
        p: nn::Path,
        cfg: &AttentionConfig,
        orientation: Orientation,
        c_z: i64,
        global: &GlobalConfig,
    ) -> Self {
        let init = Init::Normal(1.0 / (c_z as f64).sqrt());
        TriangleAttention {
            query_norm: LayerNorm::new(&p / "query_norm", c_z),
            feat_2d_weights: param(&p, "feat_2d_weights", &init.sample(&[c_z, cfg.num_head])),
            attention: Attention::new(&p / "attention", cfg, c_z, c_z, c_z, global),
            orientation,
        }
    }

    pub fn orientation(&self) -> Orientation {
        self.orientation
    }

    /// The pair `[*, N_res, N_res, c_z]` in this module's row orientation (and back: the
    /// transposition is its own inverse).
    pub fn oriented_pair(&self, pair: &Tensor) -> Tensor {
        match self.orientation {
            Orientation::PerRow => pair.shallow_clone(),
            Orientation::PerColumn => pair.transpose(-2, -3),
        }
    }

    /// The pair mask `[*, N_res, N_res]` in this module's row orientation.
    pub fn oriented_mask(&self, pair_mask: &Tensor) -> Tensor {
        match self.orientation {
            Orientation::PerRow => pair_mask.shallow_clone(),
            Orientation::PerColumn => pair_mask.transpose(-1, -2),
        }
    }

    /// Layer-normalised oriented pair `[*, N_res, N_res, c_z]` and its bias `[*, 1, H, N_res, N_res]`.
    pub fn normalised_and_bias(&self, pair: &Tensor) -> (Tensor, Tensor) {
        let z = self.query_norm.forward(&self.oriented_pair(pair));
        // [*, N_res, N_res, H]
        let bias = z.matmul(&self.feat_2d_weights.to_kind(z.kind()));
        (z, bias.transpose(-1, -2).transpose(-2, -3).unsqueeze(-4))
    }

    /// Attention over rows `rows [*, I, N_res, c_z]` of the normalised oriented pair with their
    /// mask `[*, I, N_res]` and the shared bias; returns `[*, I, N_res, c_z]` (oriented).
    pub fn attend(&self, rows: &Tensor, rows_mask: &Tensor, bias: &Tensor, opts: &RuntimeOptions) -> Tensor {
        // [*, I, 1, 1, N_res]
        let mask = mask_bias(rows_mask).unsqueeze(-2).unsqueeze(-2);
        self.attention.forward(rows, rows, &[&mask, bias], opts)
    }

    /// `pair [*, N_res, N_res, c_z]`, `pair_mask [*, N_res, N_res]` -> update of the same shape.
    /// An active capture asking for this module gets the weights `[H, N_res, N_res]` of one
    /// (oriented) row: row `i` for the starting node, column `j` for the ending node (or
    /// their mean).
    pub fn forward(&self, pair: &Tensor, pair_mask: &Tensor, opts: &RuntimeOptions) -> Tensor {
        let (z, bias) = self.normalised_and_bias(pair);
        let mask = self.oriented_mask(pair_mask);
        let module = match self.orientation {
            Orientation::PerRow => AttentionModule::TriangleStart,
            Orientation::PerColumn => AttentionModule::TriangleEnd,
        };
        if let Some(index) = capture::attention_wanted(module) {
            if let (Some(rows), Some(rows_mask)) = (capture::queries(&z, -3, index), capture::queries(&mask, -2, index)) {
                let rows_mask = mask_bias(&rows_mask).unsqueeze(-2).unsqueeze(-2);
                capture::record_attention(&self.attention.probabilities(&rows, &rows, &[&rows_mask, &bias]));
            }
        }
        let out = self.attend(&z, &mask, &bias, opts);
        match self.orientation {
            Orientation::PerRow => out,
            Orientation::PerColumn => out.transpose(-2, -3),
        }
    }
}
