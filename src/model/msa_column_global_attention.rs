//! MSA column-wise global attention of the extra-MSA stack, Jumper et al. (2021) Suppl. Alg. 19
//! "MSAColumnGlobalAttention" (DeepMind's `modules.MSAColumnGlobalAttention`).
//!
//! Columns (residues) are independent, so any shard of the `N_res` axis may be passed.
use super::config::{AttentionConfig, GlobalConfig, RuntimeOptions};
use super::primitives::{GlobalAttention, LayerNorm};
use tch::{nn, Tensor};

#[derive(Debug)]
pub struct MsaColumnGlobalAttention {
    pub query_norm: LayerNorm,
    pub attention: GlobalAttention,
}

impl MsaColumnGlobalAttention {
    pub fn new(p: nn::Path, cfg: &AttentionConfig, c_m: i64, global: &GlobalConfig) -> Self {
        MsaColumnGlobalAttention {
            query_norm: LayerNorm::new(&p / "query_norm", c_m),
            attention: GlobalAttention::new(&p / "attention", cfg, c_m, global),
        }
    }

    /// `msa [*, N_extra, R, c_e]`, `msa_mask [*, N_extra, R]` -> update `[*, N_extra, R, c_e]`.
    pub fn forward(&self, msa: &Tensor, msa_mask: &Tensor, opts: &RuntimeOptions) -> Tensor {
        // [*, R, N_extra, c_e]
        let m = self.query_norm.forward(&msa.transpose(-2, -3));
        // [*, R, N_extra]
        let mask = msa_mask.transpose(-1, -2);
        // [*, N_extra, R, c_e]
        self.attention.forward(&m, &mask, opts).transpose(-2, -3)
    }
}
