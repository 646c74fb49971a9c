//! Input, recycling and extra-MSA embedders: Jumper et al. (2021) Suppl. Alg. 3
//! "InputEmbedder" with Alg. 4 "relpos" and Alg. 5 "one_hot", Alg. 32 "RecyclingEmbedder", and
//! Alg. 2 lines 14-15 (extra MSA embedding), as in DeepMind's `modules.EmbeddingsAndEvoformer`.
//! Every parameter sits directly under the trunk's `evoformer` scope, as in AlphaFold.
use super::config::EmbeddingsAndEvoformerConfig;
use super::primitives::{Init, LayerNorm, Linear};
use crate::geometry::atom_maps::pseudo_beta;
use crate::residue_constants::ATOM_TYPES;
use tch::{nn, Kind, Tensor};

/// Channels of `target_feat`: 20 amino acids, unknown, and the between-segment flag.
pub const TARGET_FEAT_DIM: i64 = 22;
/// Channels of `msa_feat`: cluster one-hot (23), has/value of deletion (2), cluster profile (23),
/// deletion mean (1).
pub const MSA_FEAT_DIM: i64 = 49;
/// Classes of the extra MSA one-hot: 20 amino acids, unknown, gap, BERT mask.
pub const EXTRA_MSA_CLASSES: i64 = 23;

/// One-hot distance bins between all pairs (`dgram_from_positions`):
/// `positions [*, N_res, 3]` -> `[*, N_res, N_res, num_bins]`; the last bin is open-ended.
pub fn dgram_from_positions(positions: &Tensor, num_bins: i64, min_bin: f64, max_bin: f64) -> Tensor {
    let opts = (Kind::Float, positions.device());
    let lower = Tensor::linspace(min_bin, max_bin, num_bins, opts).square();
    let upper = Tensor::cat(
        &[lower.narrow(0, 1, num_bins - 1), Tensor::from_slice(&[1e8f32]).to_device(positions.device())],
        0,
    );
    let x = positions.to_kind(Kind::Float);
    // [*, N_res, N_res, 1]
    let dist2 = (x.unsqueeze(-2) - x.unsqueeze(-3)).square().sum_dim_intlist(-1, true, Kind::Float);
    (dist2.gt_tensor(&lower).to_kind(Kind::Float)) * (dist2.lt_tensor(&upper).to_kind(Kind::Float))
}

/// Alg. 3 with Alg. 4: MSA and pair activations from the target and MSA features.
#[derive(Debug)]
pub struct InputEmbedder {
    pub preprocess_1d: Linear,
    pub preprocess_msa: Linear,
    pub left_single: Linear,
    pub right_single: Linear,
    /// Relative position embedding; AlphaFold's spelling of the scope name.
    pub pair_activiations: Linear,
    max_relative_feature: i64,
}

impl InputEmbedder {
    /// `p` is the trunk's `evoformer` scope.
    pub fn new(p: &nn::Path, cfg: &EmbeddingsAndEvoformerConfig) -> Self {
        let (c_m, c_z) = (cfg.msa_channel, cfg.pair_channel);
        let relpos_bins = 2 * cfg.max_relative_feature + 1;
        InputEmbedder {
            preprocess_1d: Linear::new(p / "preprocess_1d", TARGET_FEAT_DIM, c_m, Init::Default),
            preprocess_msa: Linear::new(p / "preprocess_msa", MSA_FEAT_DIM, c_m, Init::Default),
            left_single: Linear::new(p / "left_single", TARGET_FEAT_DIM, c_z, Init::Default),
            right_single: Linear::new(p / "right_single", TARGET_FEAT_DIM, c_z, Init::Default),
            pair_activiations: Linear::new(p / "pair_activiations", relpos_bins, c_z, Init::Default),
            max_relative_feature: cfg.max_relative_feature,
        }
    }

    /// `target_feat [*, N_res, 22]`, `msa_feat [*, N_seq, N_res, 49]` ->
    /// MSA activations `[*, N_seq, N_res, c_m]`.
    pub fn msa(&self, target_feat: &Tensor, msa_feat: &Tensor) -> Tensor {
        self.preprocess_1d.forward(target_feat).unsqueeze(-3) + self.preprocess_msa.forward(msa_feat)
    }

    /// Outer sum of the target projections: `[*, N_res, 22]` -> `[*, N_res, N_res, c_z]`.
    pub fn pair(&self, target_feat: &Tensor) -> Tensor {
        self.left_single.forward(target_feat).unsqueeze(-2)
            + self.right_single.forward(target_feat).unsqueeze(-3)
    }

    /// Alg. 4: embedding of the clipped residue offset `i - j`:
    /// `residue_index [*, N_res]` -> `[*, N_res, N_res, c_z]`.
    pub fn relpos(&self, residue_index: &Tensor) -> Tensor {
        let r = residue_index.to_kind(Kind::Int64);
        let max = self.max_relative_feature;
        let offset = (r.unsqueeze(-1) - r.unsqueeze(-2) + max).clamp(0, 2 * max);
        let one_hot = offset.one_hot(2 * max + 1).to_kind(self.pair_activiations.weights.kind());
        self.pair_activiations.forward(&one_hot)
    }
}

/// The previous iteration's outputs fed back in (Alg. 2 line 6). Zeros on the first pass.
#[derive(Debug)]
pub struct Recycled {
    /// `[*, N_res, 37, 3]` atom positions.
    pub prev_pos: Tensor,
    /// `[*, N_res, c_m]`
    pub prev_msa_first_row: Tensor,
    /// `[*, N_res, N_res, c_z]`
    pub prev_pair: Tensor,
}

impl Recycled {
    /// The all-zero inputs of the first iteration for `n_res` residues.
    pub fn zeros(n_res: i64, cfg: &EmbeddingsAndEvoformerConfig, options: (Kind, tch::Device)) -> Self {
        Recycled {
            prev_pos: Tensor::zeros([n_res, ATOM_TYPES.len() as i64, 3], options),
            prev_msa_first_row: Tensor::zeros([n_res, cfg.msa_channel], options),
            prev_pair: Tensor::zeros([n_res, n_res, cfg.pair_channel], options),
        }
    }
}

/// Alg. 32: recycled pseudo-β distogram and normalised first MSA row and pair.
#[derive(Debug)]
pub struct RecyclingEmbedder {
    pub prev_pos_linear: Option<Linear>,
    pub prev_msa_first_row_norm: Option<LayerNorm>,
    pub prev_pair_norm: Option<LayerNorm>,
    prev_pos_bins: (i64, f64, f64),
}

impl RecyclingEmbedder {
    /// `p` is the trunk's `evoformer` scope; parts switched off by `recycle_pos` /
    /// `recycle_features` have no parameters.
    pub fn new(p: &nn::Path, cfg: &EmbeddingsAndEvoformerConfig) -> Self {
        let bins = cfg.prev_pos;
        RecyclingEmbedder {
            prev_pos_linear: cfg
                .recycle_pos
                .then(|| Linear::new(p / "prev_pos_linear", bins.num_bins, cfg.pair_channel, Init::Default)),
            prev_msa_first_row_norm: cfg
                .recycle_features
                .then(|| LayerNorm::new(p / "prev_msa_first_row_norm", cfg.msa_channel)),
            prev_pair_norm: cfg
                .recycle_features
                .then(|| LayerNorm::new(p / "prev_pair_norm", cfg.pair_channel)),
            prev_pos_bins: (bins.num_bins, bins.min_bin, bins.max_bin),
        }
    }

    /// Adds the recycled signals to `msa [*, N_seq, N_res, c_m]` (first row only) and
    /// `pair [*, N_res, N_res, c_z]`; `aatype [*, N_res]` picks the pseudo-β atom.
    pub fn forward(&self, msa: &Tensor, pair: &Tensor, prev: &Recycled, aatype: &Tensor) -> (Tensor, Tensor) {
        let pair = match &self.prev_pos_linear {
            Some(linear) => {
                let (num_bins, min_bin, max_bin) = self.prev_pos_bins;
                let dgram =
                    dgram_from_positions(&pseudo_beta(aatype, &prev.prev_pos), num_bins, min_bin, max_bin);
                pair + linear.forward(&dgram.to_kind(msa.kind()))
            }
            None => pair.shallow_clone(),
        };
        match (&self.prev_msa_first_row_norm, &self.prev_pair_norm) {
            (Some(msa_norm), Some(pair_norm)) => {
                let first = msa.narrow(-3, 0, 1)
                    + msa_norm.forward(&prev.prev_msa_first_row.to_kind(msa.kind())).unsqueeze(-3);
                let rest_len = msa.size()[msa.dim() - 3] - 1;
                let msa = Tensor::cat(&[first, msa.narrow(-3, 1, rest_len)], -3);
                let pair = pair + pair_norm.forward(&prev.prev_pair.to_kind(msa.kind()));
                (msa, pair)
            }
            _ => (msa.shallow_clone(), pair),
        }
    }
}

/// Extra MSA features (`create_extra_msa_feature`): one-hot residues with deletion flags
/// and values. `extra_msa [*, N_extra, N_res]` (integer), the others `[*, N_extra, N_res]`
/// -> `[*, N_extra, N_res, 25]`.
pub fn extra_msa_feature(extra_msa: &Tensor, has_deletion: &Tensor, deletion_value: &Tensor) -> Tensor {
    let one_hot = extra_msa.to_kind(Kind::Int64).one_hot(EXTRA_MSA_CLASSES).to_kind(Kind::Float);
    Tensor::cat(
        &[
            one_hot,
            has_deletion.to_kind(Kind::Float).unsqueeze(-1),
            deletion_value.to_kind(Kind::Float).unsqueeze(-1),
        ],
        -1,
    )
}

/// Alg. 2 line 15: projection of the extra MSA features (`extra_msa_activations`).
#[derive(Debug)]
pub struct ExtraMsaEmbedder {
    pub extra_msa_activations: Linear,
}

impl ExtraMsaEmbedder {
    pub fn new(p: &nn::Path, cfg: &EmbeddingsAndEvoformerConfig) -> Self {
        ExtraMsaEmbedder {
            extra_msa_activations: Linear::new(
                p / "extra_msa_activations",
                EXTRA_MSA_CLASSES + 2,
                cfg.extra_msa_channel,
                Init::Default,
            ),
        }
    }

    /// `[*, N_extra, N_res, 25] -> [*, N_extra, N_res, c_e]`
    pub fn forward(&self, extra_msa_feat: &Tensor) -> Tensor {
        self.extra_msa_activations.forward(extra_msa_feat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::ModelConfig;
    use tch::Device;

    #[test]
    fn relpos_clips_offsets() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = ModelConfig::tiny().embeddings_and_evoformer;
        let emb = InputEmbedder::new(&vs.root(), &cfg);
        let ri = Tensor::from_slice(&[0i64, 1, 100]);
        let z = emb.relpos(&ri);
        assert_eq!(z.size(), vec![3, 3, cfg.pair_channel]);
        // Offsets -99 and -100 both clip to the first bin.
        let w = &emb.pair_activiations;
        let first_bin = w.weights.get(0) + &w.bias;
        assert!(z.get(0).get(2).allclose(&first_bin, 1e-6, 1e-6, false));
        assert!(z.get(1).get(2).allclose(&first_bin, 1e-6, 1e-6, false));
    }

    #[test]
    fn dgram_bins_distances() {
        let x = Tensor::from_slice(&[0f32, 0., 0., 5., 0., 0., 30., 0., 0.]).reshape([3, 3]);
        let d = dgram_from_positions(&x, 15, 3.25, 20.75);
        assert_eq!(d.size(), vec![3, 3, 15]);
        // 5 Å lies in bin [3.25 + 1.25, 3.25 + 2.5) = bin 1; 30 Å in the open last bin; 0 in none.
        assert_eq!(d.get(0).get(1).argmax(0, false).int64_value(&[]), 1);
        assert_eq!(d.get(0).get(2).argmax(0, false).int64_value(&[]), 14);
        assert_eq!(d.get(0).get(0).sum(Kind::Float).double_value(&[]), 0.0);
    }
}
