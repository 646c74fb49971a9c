//! MSA column-wise gated self-attention, Jumper et al. (2021) Suppl. Alg. 8
//! "MSAColumnAttention" (DeepMind's `modules.MSAColumnAttention`).
//!
//! Columns (residues) are independent, so any shard of the `N_res` axis may be passed.
use super::capture::{self, AttentionModule};
use super::config::{AttentionConfig, GlobalConfig, RuntimeOptions};
use super::primitives::{mask_bias, Attention, LayerNorm};
use tch::{nn, Tensor};

#[derive(Debug)]
pub struct MsaColumnAttention {
    pub query_norm: LayerNorm,
    pub attention: Attention,
}

impl MsaColumnAttention {
    pub fn new(p: nn::Path, cfg: &AttentionConfig, c_m: i64, global: &GlobalConfig) -> Self {
        MsaColumnAttention {
            query_norm: LayerNorm::new(&p / "query_norm", c_m),
            attention: Attention::new(&p / "attention", cfg, c_m, c_m, c_m, global),
        }
    }

    /// `msa [*, N_seq, R, c_m]`, `msa_mask [*, N_seq, R]` for any shard `R` of the columns
    /// -> update `[*, N_seq, R, c_m]`. An active capture asking for this module gets the weights
    /// `[H, N_seq, N_seq]` of one column (or their mean over columns).
    pub fn forward(&self, msa: &Tensor, msa_mask: &Tensor, opts: &RuntimeOptions) -> Tensor {
        // [*, R, N_seq, c_m]
        let m = self.query_norm.forward(&msa.transpose(-2, -3));
        // [*, R, 1, 1, N_seq]
        let mask = mask_bias(&msa_mask.transpose(-1, -2)).unsqueeze(-2).unsqueeze(-2);
        if let Some(column) = capture::attention_wanted(AttentionModule::MsaColumn) {
            if let (Some(m), Some(mask)) = (capture::queries(&m, -3, column), capture::queries(&mask, -4, column)) {
                capture::record_attention(&self.attention.probabilities(&m, &m, &[&mask]));
            }
        }
        // [*, N_seq, R, c_m]
        self.attention.forward(&m, &m, &[&mask], opts).transpose(-2, -3)
    }
}
