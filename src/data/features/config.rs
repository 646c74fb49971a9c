//! Settings of the data pipeline: the `data` half of DeepMind's `alphafold/model/config.py`
//! (`data.common` and `data.eval`, with the per-model `CONFIG_DIFFS`), as a typed struct. The
//! network's own settings live with the model. Training-only settings (`subsample_templates`,
//! block deletion, distillation) are not part of it: this pipeline builds inference batches.
use anyhow::{bail, Result};

/// Probabilities of the BERT-style MSA corruption (Jumper et al. (2021) Suppl. 1.2.7): a chosen
/// position becomes a uniformly random amino acid, one drawn from the MSA profile, stays itself,
/// or (with the remaining probability) becomes the mask token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaskedMsaConfig {
    pub uniform_prob: f32,
    pub profile_prob: f32,
    pub same_prob: f32,
}

impl MaskedMsaConfig {
    /// Probability of the mask token: what the other three leave.
    pub fn mask_prob(&self) -> f32 {
        1.0 - self.uniform_prob - self.profile_prob - self.same_prob
    }
}

/// The data-pipeline configuration (`config.data`).
#[derive(Debug, Clone, PartialEq)]
pub struct DataConfig {
    /// `common.masked_msa`.
    pub masked_msa: MaskedMsaConfig,
    /// `eval.masked_msa_replace_fraction`: share of MSA positions chosen for corruption.
    pub masked_msa_replace_fraction: f32,
    /// `common.max_extra_msa`: extra-MSA rows kept (0 drops the extra MSA).
    pub max_extra_msa: usize,
    /// `eval.max_msa_clusters`: MSA rows sampled as cluster centres.
    pub max_msa_clusters: usize,
    /// `eval.max_templates`.
    pub max_templates: usize,
    /// `common.reduce_msa_clusters_by_max_templates`: leave room for template rows in the MSA
    /// stack (models 1 and 2).
    pub reduce_msa_clusters_by_max_templates: bool,
    /// `common.use_templates`.
    pub use_templates: bool,
    /// `common.msa_cluster_features`: add cluster profiles and deletion means to `msa_feat`.
    pub msa_cluster_features: bool,
    /// `common.num_recycle`.
    pub num_recycle: usize,
    /// `common.resample_msa_in_recycling`: one independently sampled batch per recycle.
    pub resample_msa_in_recycling: bool,
    /// `eval.num_ensemble`.
    pub num_ensemble: usize,
    /// `eval.crop_size`: residues kept and padded to. AlphaFold sets it to the sequence length
    /// at inference (`None` here), which makes the crop a no-op.
    pub crop_size: Option<usize>,
    /// `eval.fixed_size`: pad every dimension to its configured size.
    pub fixed_size: bool,
}

impl Default for DataConfig {
    /// `config.data` before any per-model difference.
    fn default() -> Self {
        Self {
            masked_msa: MaskedMsaConfig {
                uniform_prob: 0.1,
                profile_prob: 0.1,
                same_prob: 0.1,
            },
            masked_msa_replace_fraction: 0.15,
            max_extra_msa: 1024,
            max_msa_clusters: 512,
            max_templates: 4,
            reduce_msa_clusters_by_max_templates: false,
            use_templates: false,
            msa_cluster_features: true,
            num_recycle: 3,
            resample_msa_in_recycling: true,
            num_ensemble: 1,
            crop_size: None,
            fixed_size: true,
        }
    }
}

impl DataConfig {
    /// The data settings of one of AlphaFold's monomer models (`model_1` .. `model_5`, with or
    /// without `_ptm`), following `CONFIG_DIFFS` (Jumper et al. (2021) Suppl. Table 5).
    pub fn for_model(name: &str) -> Result<Self> {
        let base = name.strip_suffix("_ptm").unwrap_or(name);
        let mut config = Self::default();
        match base {
            "model_1" => {
                config.max_extra_msa = 5120;
                config.reduce_msa_clusters_by_max_templates = true;
                config.use_templates = true;
            }
            "model_2" => {
                config.reduce_msa_clusters_by_max_templates = true;
                config.use_templates = true;
            }
            "model_3" | "model_4" => config.max_extra_msa = 5120,
            "model_5" => {}
            _ => bail!("unknown AlphaFold model {name:?} (expected model_1 .. model_5[_ptm])"),
        }
        Ok(config)
    }

    /// MSA cluster rows after padding: `max_msa_clusters`, less the template rows when
    /// `reduce_msa_clusters_by_max_templates` is set (`input_pipeline.ensembled_map_fns`).
    pub fn msa_cluster_rows(&self) -> usize {
        if self.reduce_msa_clusters_by_max_templates {
            self.max_msa_clusters.saturating_sub(self.max_templates)
        } else {
            self.max_msa_clusters
        }
    }

    /// Size of the leading batch dimension: one copy per ensemble member and, when the MSA is
    /// resampled in recycling, per recycling iteration.
    pub fn num_batches(&self) -> usize {
        if self.resample_msa_in_recycling {
            self.num_ensemble * (self.num_recycle + 1)
        } else {
            self.num_ensemble
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values of DeepMind's `alphafold/model/config.py` (`CONFIG` and `CONFIG_DIFFS`).
    #[test]
    fn model_presets_follow_alphafold() {
        let model_1 = DataConfig::for_model("model_1_ptm").unwrap();
        assert_eq!(model_1.max_extra_msa, 5120);
        assert_eq!(model_1.msa_cluster_rows(), 508);
        assert!(model_1.use_templates);
        assert_eq!(model_1.num_batches(), 4);
        let model_5 = DataConfig::for_model("model_5").unwrap();
        assert_eq!(model_5.max_extra_msa, 1024);
        assert_eq!(model_5.msa_cluster_rows(), 512);
        assert!(!model_5.use_templates);
        assert!((model_5.masked_msa.mask_prob() - 0.7).abs() < 1e-6);
        assert!(DataConfig::for_model("model_6").is_err());
    }
}
