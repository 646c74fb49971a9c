//! MSA row-wise gated self-attention with pair bias, Jumper et al. (2021) Suppl. Alg. 7
//! "MSARowAttentionWithPairBias" (DeepMind's `modules.MSARowAttentionWithPairBias`).
//!
//! Rows (sequences) are independent given the pair bias, so under dynamic axial parallelism a
//! device may pass any shard of the `N_seq` axis to [`MsaRowAttentionWithPairBias::attend`]
//! together with the bias computed once from the whole pair representation.
use super::capture::{self, AttentionModule};
use super::config::{AttentionConfig, GlobalConfig, RuntimeOptions};
use super::primitives::{mask_bias, param, Attention, Init, LayerNorm};
use tch::{nn, Tensor};

#[derive(Debug)]
pub struct MsaRowAttentionWithPairBias {
    pub query_norm: LayerNorm,
    pub feat_2d_norm: LayerNorm,
    /// `[c_z, H]`
    pub feat_2d_weights: Tensor,
    pub attention: Attention,
}

impl MsaRowAttentionWithPairBias {
    pub fn new(p: nn::Path, cfg: &AttentionConfig, c_m: i64, c_z: i64, global: &GlobalConfig) -> Self {
        let init = Init::Normal(1.0 / (c_z as f64).sqrt());
        MsaRowAttentionWithPairBias {
            query_norm: LayerNorm::new(&p / "query_norm", c_m),
            feat_2d_norm: LayerNorm::new(&p / "feat_2d_norm", c_z),
            feat_2d_weights: param(&p, "feat_2d_weights", &init.sample(&[c_z, cfg.num_head])),
            attention: Attention::new(&p / "attention", cfg, c_m, c_m, c_m, global),
        }
    }

    /// Pair bias from the whole pair representation: `[*, N_res, N_res, c_z] -> [*, 1, H, N_res, N_res]`.
    pub fn pair_bias(&self, pair: &Tensor) -> Tensor {
        let z = self.feat_2d_norm.forward(pair);
        // [*, N_res, N_res, H]
        let bias = z.matmul(&self.feat_2d_weights.to_kind(z.kind()));
        // [*, 1, H, N_res, N_res]
        bias.transpose(-1, -2).transpose(-2, -3).unsqueeze(-4)
    }

    /// Update for `msa [*, S, N_res, c_m]` (any shard `S` of the rows) with `msa_mask [*, S, N_res]`
    /// and a bias from [`Self::pair_bias`]; returns `[*, S, N_res, c_m]`.
    pub fn attend(
        &self,
        msa: &Tensor,
        msa_mask: &Tensor,
        pair_bias: &Tensor,
        opts: &RuntimeOptions,
    ) -> Tensor {
        let m = self.query_norm.forward(msa);
        // [*, S, 1, 1, N_res]
        let mask = mask_bias(msa_mask).unsqueeze(-2).unsqueeze(-2);
        self.attention.forward(&m, &m, &[&mask, pair_bias], opts)
    }

    /// Update for the whole MSA: `[*, N_seq, N_res, c_m]`. An active capture asking for this
    /// module gets the weights `[H, N_res, N_res]` of one row (or their mean over rows).
    pub fn forward(&self, msa: &Tensor, msa_mask: &Tensor, pair: &Tensor, opts: &RuntimeOptions) -> Tensor {
        let pair_bias = self.pair_bias(pair);
        if let Some(row) = capture::attention_wanted(AttentionModule::MsaRow) {
            let m = capture::queries(&self.query_norm.forward(msa), -3, row);
            if let (Some(m), Some(mask)) = (m, capture::queries(msa_mask, -2, row)) {
                let mask = mask_bias(&mask).unsqueeze(-2).unsqueeze(-2);
                capture::record_attention(&self.attention.probabilities(&m, &m, &[&mask, &pair_bias]));
            }
        }
        self.attend(msa, msa_mask, &pair_bias, opts)
    }
}
