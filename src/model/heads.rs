//! Output heads of AlphaFold2 (DeepMind's `modules.py`): distogram (Jumper et al. (2021)
//! Suppl. 1.9.8), masked MSA (1.9.9), predicted lDDT (Alg. 29 "predictPerResidueLDDT_Ca"),
//! predicted aligned error (1.9.7) and experimentally resolved (1.9.10). Each lives under its
//! own `<name>_head` scope, as in AlphaFold.
use super::config::{
    DistogramHeadConfig, GlobalConfig, MaskedMsaHeadConfig, PredictedAlignedErrorHeadConfig,
    PredictedLddtHeadConfig,
};
use super::primitives::{Init, LayerNorm, Linear};
use crate::residue_constants::ATOM_TYPE_NUM;
use tch::{nn, Kind, Tensor};

/// Distance bins of residue pairs (`distogram_head`).
#[derive(Debug)]
pub struct DistogramHead {
    pub half_logits: Linear,
    cfg: DistogramHeadConfig,
}

impl DistogramHead {
    pub fn new(p: nn::Path, cfg: &DistogramHeadConfig, c_z: i64, global: &GlobalConfig) -> Self {
        DistogramHead {
            half_logits: Linear::new(&p / "half_logits", c_z, cfg.num_bins, Init::final_init(global)),
            cfg: *cfg,
        }
    }

    /// Symmetric logits `[*, N_res, N_res, num_bins]` from `pair [*, N_res, N_res, c_z]`.
    pub fn forward(&self, pair: &Tensor) -> Tensor {
        let half = self.half_logits.forward(pair);
        &half + half.transpose(-2, -3)
    }

    /// The `num_bins - 1` bin edges in Å.
    pub fn bin_edges(&self) -> Tensor {
        Tensor::linspace(
            self.cfg.first_break,
            self.cfg.last_break,
            self.cfg.num_bins - 1,
            (Kind::Float, tch::Device::Cpu),
        )
    }
}

/// BERT-style reconstruction of the masked MSA (`masked_msa_head`).
#[derive(Debug)]
pub struct MaskedMsaHead {
    pub logits: Linear,
}

impl MaskedMsaHead {
    pub fn new(p: nn::Path, cfg: &MaskedMsaHeadConfig, c_m: i64, global: &GlobalConfig) -> Self {
        MaskedMsaHead { logits: Linear::new(&p / "logits", c_m, cfg.num_output, Init::final_init(global)) }
    }

    /// `msa [*, N_seq, N_res, c_m] -> [*, N_seq, N_res, 23]`
    pub fn forward(&self, msa: &Tensor) -> Tensor {
        self.logits.forward(msa)
    }
}

/// Per-residue lDDT-Cα bins from the structure module's single representation
/// (`predicted_lddt_head`).
#[derive(Debug)]
pub struct PredictedLddtHead {
    pub input_layer_norm: LayerNorm,
    pub act_0: Linear,
    pub act_1: Linear,
    pub logits: Linear,
}

impl PredictedLddtHead {
    pub fn new(p: nn::Path, cfg: &PredictedLddtHeadConfig, c_s: i64, global: &GlobalConfig) -> Self {
        let c = cfg.num_channels;
        PredictedLddtHead {
            input_layer_norm: LayerNorm::new(&p / "input_layer_norm", c_s),
            act_0: Linear::new(&p / "act_0", c_s, c, Init::Relu),
            act_1: Linear::new(&p / "act_1", c, c, Init::Relu),
            logits: Linear::new(&p / "logits", c, cfg.num_bins, Init::final_init(global)),
        }
    }

    /// `[*, N_res, c_s] -> [*, N_res, num_bins]`
    pub fn forward(&self, single: &Tensor) -> Tensor {
        let x = self.input_layer_norm.forward(single);
        let x = self.act_0.forward(&x).relu();
        let x = self.act_1.forward(&x).relu();
        self.logits.forward(&x)
    }
}

/// Aligned-error bins of residue j in the frame of residue i (`predicted_aligned_error_head`).
#[derive(Debug)]
pub struct PredictedAlignedErrorHead {
    pub logits: Linear,
    cfg: PredictedAlignedErrorHeadConfig,
}

impl PredictedAlignedErrorHead {
    pub fn new(p: nn::Path, cfg: &PredictedAlignedErrorHeadConfig, c_z: i64, global: &GlobalConfig) -> Self {
        PredictedAlignedErrorHead {
            logits: Linear::new(&p / "logits", c_z, cfg.num_bins, Init::final_init(global)),
            cfg: *cfg,
        }
    }

    /// `pair [*, N_res, N_res, c_z] -> [*, N_res, N_res, num_bins]`
    pub fn forward(&self, pair: &Tensor) -> Tensor {
        self.logits.forward(pair)
    }

    /// The `num_bins - 1` bin edges in Å.
    pub fn breaks(&self) -> Tensor {
        super::confidence::aligned_error_breaks(self.cfg.max_error_bin, self.cfg.num_bins)
    }
}

/// Whether each atom37 atom is resolved in a high-resolution experiment
/// (`experimentally_resolved_head`).
#[derive(Debug)]
pub struct ExperimentallyResolvedHead {
    pub logits: Linear,
}

impl ExperimentallyResolvedHead {
    pub fn new(p: nn::Path, c_s: i64, global: &GlobalConfig) -> Self {
        ExperimentallyResolvedHead {
            logits: Linear::new(&p / "logits", c_s, ATOM_TYPE_NUM as i64, Init::final_init(global)),
        }
    }

    /// `single [*, N_res, c_s] -> [*, N_res, 37]`
    pub fn forward(&self, single: &Tensor) -> Tensor {
        self.logits.forward(single)
    }
}

/// Every head a preset has, at AlphaFold's scopes under `p`.
#[derive(Debug)]
pub struct Heads {
    pub distogram: DistogramHead,
    pub masked_msa: MaskedMsaHead,
    pub predicted_lddt: PredictedLddtHead,
    /// Only in the `_ptm` presets.
    pub predicted_aligned_error: Option<PredictedAlignedErrorHead>,
    pub experimentally_resolved: ExperimentallyResolvedHead,
}

impl Heads {
    pub fn new(p: nn::Path, cfg: &super::config::ModelConfig) -> Self {
        let e = &cfg.embeddings_and_evoformer;
        let g = &cfg.global_config;
        let h = &cfg.heads;
        Heads {
            distogram: DistogramHead::new(&p / "distogram_head", &h.distogram, e.pair_channel, g),
            masked_msa: MaskedMsaHead::new(&p / "masked_msa_head", &h.masked_msa, e.msa_channel, g),
            predicted_lddt: PredictedLddtHead::new(
                &p / "predicted_lddt_head",
                &h.predicted_lddt,
                h.structure_module.num_channel,
                g,
            ),
            predicted_aligned_error: h.predicted_aligned_error.as_ref().map(|c| {
                PredictedAlignedErrorHead::new(&p / "predicted_aligned_error_head", c, e.pair_channel, g)
            }),
            experimentally_resolved: ExperimentallyResolvedHead::new(
                &p / "experimentally_resolved_head",
                e.seq_channel,
                g,
            ),
        }
    }
}
