//! Typed configuration of the AlphaFold2 network and the runtime options passed down through it.
//!
//! The model presets mirror DeepMind's `alphafold/model/config.py` (`CONFIG` plus
//! `CONFIG_DIFFS` for `model_1`..`model_5` and the `_ptm` variants, Jumper et al. (2021)
//! Suppl. Table 5); HelixFold's `initial_training` and `finetune` presets mirror the `initial`
//! and `finetune` diffs of PaddleHelix's `alphafold_paddle/model/config.py` together with the
//! crop sizes of the HelixFold paper (Wang et al. (2022), Sec. 4.1: 256 then 384 residues).
//! Field names are AlphaFold's, so that a config reads like its Python counterpart.
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::Kind;

/// Which axis a residual update's shared dropout mask is broadcast along
/// (AlphaFold's `orientation`; `per_row` shares the mask across rows, i.e. broadcasts dim 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Orientation {
    PerRow,
    PerColumn,
}

/// Dropout of a residual update (AlphaFold's `dropout_rate`, `shared_dropout`, `orientation`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DropoutConfig {
    pub dropout_rate: f64,
    pub shared_dropout: bool,
    pub orientation: Orientation,
}

/// Gated multi-head attention as used by the MSA, triangle and template attention modules.
/// `key_dim`/`value_dim` are totals over heads; `None` means "the input channel count".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AttentionConfig {
    pub num_head: i64,
    pub gating: bool,
    pub key_dim: Option<i64>,
    pub value_dim: Option<i64>,
    pub dropout: DropoutConfig,
}

/// Two-layer transition (Alg. 9 / 15).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TransitionConfig {
    pub num_intermediate_factor: i64,
    pub dropout: DropoutConfig,
}

/// Where an Evoformer block applies its outer product mean (HelixFold's
/// `global_config.outer_product_mean_position`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OuterProductMeanPosition {
    /// AlphaFold's order (Alg. 6): after the MSA branch, before the pair branch.
    #[default]
    Origin,
    /// Before the MSA updates (DeepMind's multimer, `outer_product_mean.first`).
    First,
    /// At the end of the block: the pair branch runs on the block's input pair and the outer
    /// product of the new MSA is added to its result, so the two branches are independent
    /// (HelixFold's "parallel Evoformer", which branch parallelism needs to overlap them).
    End,
}

impl OuterProductMeanPosition {
    pub const NAMES: [&'static str; 3] = ["origin", "first", "end"];

    pub fn name(self) -> &'static str {
        match self {
            Self::Origin => "origin",
            Self::First => "first",
            Self::End => "end",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Origin, Self::First, Self::End].into_iter().find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

/// Outer product mean (Alg. 10).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OuterProductMeanConfig {
    pub position: OuterProductMeanPosition,
    pub chunk_size: i64,
    pub num_outer_channel: i64,
    pub dropout: DropoutConfig,
}

/// Edge direction of a triangle multiplicative update; AlphaFold's `equation`
/// (`ikc,jkc->ijc` outgoing, `kjc,kic->ijc` incoming).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriangleDirection {
    Outgoing,
    Incoming,
}

/// Triangle multiplicative update (Alg. 11 / 12).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TriangleMultiplicationConfig {
    pub direction: TriangleDirection,
    pub num_intermediate_channel: i64,
    pub dropout: DropoutConfig,
}

/// One Evoformer (or extra-MSA) block's sub-modules.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvoformerConfig {
    pub msa_row_attention_with_pair_bias: AttentionConfig,
    pub msa_column_attention: AttentionConfig,
    pub msa_transition: TransitionConfig,
    pub outer_product_mean: OuterProductMeanConfig,
    pub triangle_attention_starting_node: AttentionConfig,
    pub triangle_attention_ending_node: AttentionConfig,
    pub triangle_multiplication_outgoing: TriangleMultiplicationConfig,
    pub triangle_multiplication_incoming: TriangleMultiplicationConfig,
    pub pair_transition: TransitionConfig,
}

/// Template pair stack (Alg. 16).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TemplatePairStackConfig {
    pub num_block: i64,
    pub triangle_attention_starting_node: AttentionConfig,
    pub triangle_attention_ending_node: AttentionConfig,
    pub triangle_multiplication_outgoing: TriangleMultiplicationConfig,
    pub triangle_multiplication_incoming: TriangleMultiplicationConfig,
    pub pair_transition: TransitionConfig,
}

/// Distance binning (`dgram_from_positions`): `num_bins` lower edges evenly spaced from
/// `min_bin` to `max_bin` Å, the last bin open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DgramConfig {
    pub min_bin: f64,
    pub max_bin: f64,
    pub num_bins: i64,
}

/// Template embedding (Alg. 2 lines 7-13, Alg. 16, 17).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TemplateConfig {
    pub enabled: bool,
    pub embed_torsion_angles: bool,
    pub attention: AttentionConfig,
    pub dgram_features: DgramConfig,
    pub template_pair_stack: TemplatePairStackConfig,
    pub max_templates: i64,
    pub subbatch_size: i64,
    pub use_template_unit_vector: bool,
}

/// Embeddings and Evoformer trunk (AlphaFold's `model.embeddings_and_evoformer`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsAndEvoformerConfig {
    pub evoformer_num_block: i64,
    pub evoformer: EvoformerConfig,
    pub extra_msa_channel: i64,
    pub extra_msa_stack_num_block: i64,
    pub max_relative_feature: i64,
    pub msa_channel: i64,
    pub pair_channel: i64,
    pub seq_channel: i64,
    pub prev_pos: DgramConfig,
    pub recycle_features: bool,
    pub recycle_pos: bool,
    pub template: TemplateConfig,
}

/// AlphaFold's `model.global_config` entries that change the network's maths or initialisation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GlobalConfig {
    /// No dropout at all when set.
    pub deterministic: bool,
    /// Output layers initialised to zero (`final_init` gives `zeros`) rather than lecun.
    pub zero_init: bool,
    /// Apply dropout even outside training.
    pub eval_dropout: bool,
}

/// Distogram head (Suppl. 1.9.8).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DistogramHeadConfig {
    pub first_break: f64,
    pub last_break: f64,
    pub num_bins: i64,
    pub weight: f64,
}

/// Resolution window outside which a head's loss is zeroed (NMR and distillation have 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ResolutionFilter {
    pub filter_by_resolution: bool,
    pub min_resolution: f64,
    pub max_resolution: f64,
}

/// Predicted aligned error head (Suppl. 1.9.7); present only in the `_ptm` models.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictedAlignedErrorHeadConfig {
    pub max_error_bin: f64,
    pub num_bins: i64,
    pub num_channels: i64,
    pub resolution: ResolutionFilter,
    pub weight: f64,
}

/// Predicted lDDT head (Alg. 29).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictedLddtHeadConfig {
    pub num_bins: i64,
    pub num_channels: i64,
    pub resolution: ResolutionFilter,
    pub weight: f64,
}

/// Experimentally-resolved head (Suppl. 1.9.10).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExperimentallyResolvedHeadConfig {
    pub resolution: ResolutionFilter,
    pub weight: f64,
}

/// Masked MSA head (Suppl. 1.9.9).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MaskedMsaHeadConfig {
    pub num_output: i64,
    pub weight: f64,
}

/// FAPE loss settings of the structure module.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FapeConfig {
    pub clamp_distance: f64,
    pub loss_unit_distance: f64,
}

/// Side-chain (angle resnet) part of the structure module.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SidechainConfig {
    pub atom_clamp_distance: f64,
    pub num_channel: i64,
    pub num_residual_block: i64,
    pub weight_frac: f64,
    pub length_scale: f64,
}

/// Structure module (Alg. 20) hyper-parameters and loss weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StructureModuleConfig {
    pub num_layer: i64,
    pub fape: FapeConfig,
    pub angle_norm_weight: f64,
    pub chi_weight: f64,
    pub clash_overlap_tolerance: f64,
    pub dropout: f64,
    pub num_channel: i64,
    pub num_head: i64,
    pub num_layer_in_transition: i64,
    pub num_point_qk: i64,
    pub num_point_v: i64,
    pub num_scalar_qk: i64,
    pub num_scalar_v: i64,
    pub position_scale: f64,
    pub sidechain: SidechainConfig,
    pub structural_violation_loss_weight: f64,
    pub violation_tolerance_factor: f64,
    pub weight: f64,
}

/// All output heads (AlphaFold's `model.heads`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeadsConfig {
    pub distogram: DistogramHeadConfig,
    /// `None` for the non-pTM models, which have no such parameters.
    pub predicted_aligned_error: Option<PredictedAlignedErrorHeadConfig>,
    pub experimentally_resolved: ExperimentallyResolvedHeadConfig,
    pub structure_module: StructureModuleConfig,
    pub predicted_lddt: PredictedLddtHeadConfig,
    pub masked_msa: MaskedMsaHeadConfig,
}

/// BERT-style MSA masking probabilities (`data.common.masked_msa`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MaskedMsaConfig {
    pub profile_prob: f64,
    pub same_prob: f64,
    pub uniform_prob: f64,
    pub replace_fraction: f64,
}

/// The data-side settings that differ between presets (`data.common`, `data.eval`, crop size).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DataConfig {
    pub max_extra_msa: i64,
    pub max_msa_clusters: i64,
    pub max_templates: i64,
    pub reduce_msa_clusters_by_max_templates: bool,
    pub use_templates: bool,
    pub num_recycle: i64,
    pub resample_msa_in_recycling: bool,
    pub masked_msa: MaskedMsaConfig,
    /// Training crop (residues); `None` for inference on whole chains.
    pub crop_size: Option<i64>,
}

/// A full model preset: data settings plus the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub name: String,
    pub data: DataConfig,
    pub embeddings_and_evoformer: EmbeddingsAndEvoformerConfig,
    pub global_config: GlobalConfig,
    pub heads: HeadsConfig,
    pub num_recycle: i64,
    pub resample_msa_in_recycling: bool,
}

/// Names accepted by [`ModelConfig::preset`].
pub const PRESET_NAMES: [&str; 13] = [
    "model_1",
    "model_2",
    "model_3",
    "model_4",
    "model_5",
    "model_1_ptm",
    "model_2_ptm",
    "model_3_ptm",
    "model_4_ptm",
    "model_5_ptm",
    "initial_training",
    "finetune",
    "tiny",
];

fn dropout(dropout_rate: f64, orientation: Orientation) -> DropoutConfig {
    DropoutConfig { dropout_rate, shared_dropout: true, orientation }
}

fn attention(num_head: i64, dim: Option<i64>, rate: f64, orientation: Orientation) -> AttentionConfig {
    AttentionConfig {
        num_head,
        gating: true,
        key_dim: dim,
        value_dim: dim,
        dropout: dropout(rate, orientation),
    }
}

fn triangle_multiplication(direction: TriangleDirection, channels: i64) -> TriangleMultiplicationConfig {
    TriangleMultiplicationConfig {
        direction,
        num_intermediate_channel: channels,
        dropout: dropout(0.25, Orientation::PerRow),
    }
}

fn transition(factor: i64) -> TransitionConfig {
    TransitionConfig { num_intermediate_factor: factor, dropout: dropout(0.0, Orientation::PerRow) }
}

impl ModelConfig {
    /// AlphaFold's base `CONFIG` (which is `model_5`'s network) under the given name.
    fn base(name: &str) -> Self {
        use Orientation::{PerColumn, PerRow};
        let evoformer = EvoformerConfig {
            msa_row_attention_with_pair_bias: attention(8, None, 0.15, PerRow),
            msa_column_attention: attention(8, None, 0.0, PerColumn),
            msa_transition: transition(4),
            outer_product_mean: OuterProductMeanConfig {
                position: OuterProductMeanPosition::Origin,
                chunk_size: 128,
                num_outer_channel: 32,
                dropout: dropout(0.0, PerRow),
            },
            triangle_attention_starting_node: attention(4, None, 0.25, PerRow),
            triangle_attention_ending_node: attention(4, None, 0.25, PerColumn),
            triangle_multiplication_outgoing: triangle_multiplication(TriangleDirection::Outgoing, 128),
            triangle_multiplication_incoming: triangle_multiplication(TriangleDirection::Incoming, 128),
            pair_transition: transition(4),
        };
        let template = TemplateConfig {
            enabled: false,
            embed_torsion_angles: false,
            attention: AttentionConfig {
                num_head: 4,
                gating: false,
                key_dim: Some(64),
                value_dim: Some(64),
                dropout: dropout(0.0, PerRow),
            },
            dgram_features: DgramConfig { min_bin: 3.25, max_bin: 50.75, num_bins: 39 },
            template_pair_stack: TemplatePairStackConfig {
                num_block: 2,
                triangle_attention_starting_node: attention(4, Some(64), 0.25, PerRow),
                triangle_attention_ending_node: attention(4, Some(64), 0.25, PerColumn),
                triangle_multiplication_outgoing: triangle_multiplication(TriangleDirection::Outgoing, 64),
                triangle_multiplication_incoming: triangle_multiplication(TriangleDirection::Incoming, 64),
                pair_transition: transition(2),
            },
            max_templates: 4,
            subbatch_size: 128,
            use_template_unit_vector: false,
        };
        let resolution =
            ResolutionFilter { filter_by_resolution: true, min_resolution: 0.1, max_resolution: 3.0 };
        ModelConfig {
            name: name.to_string(),
            data: DataConfig {
                max_extra_msa: 1024,
                max_msa_clusters: 512,
                max_templates: 4,
                reduce_msa_clusters_by_max_templates: false,
                use_templates: false,
                num_recycle: 3,
                resample_msa_in_recycling: true,
                masked_msa: MaskedMsaConfig {
                    profile_prob: 0.1,
                    same_prob: 0.1,
                    uniform_prob: 0.1,
                    replace_fraction: 0.15,
                },
                crop_size: None,
            },
            embeddings_and_evoformer: EmbeddingsAndEvoformerConfig {
                evoformer_num_block: 48,
                evoformer,
                extra_msa_channel: 64,
                extra_msa_stack_num_block: 4,
                max_relative_feature: 32,
                msa_channel: 256,
                pair_channel: 128,
                seq_channel: 384,
                prev_pos: DgramConfig { min_bin: 3.25, max_bin: 20.75, num_bins: 15 },
                recycle_features: true,
                recycle_pos: true,
                template,
            },
            global_config: GlobalConfig { deterministic: false, zero_init: true, eval_dropout: false },
            heads: HeadsConfig {
                distogram: DistogramHeadConfig {
                    first_break: 2.3125,
                    last_break: 21.6875,
                    num_bins: 64,
                    weight: 0.3,
                },
                predicted_aligned_error: None,
                experimentally_resolved: ExperimentallyResolvedHeadConfig { resolution, weight: 0.01 },
                structure_module: StructureModuleConfig {
                    num_layer: 8,
                    fape: FapeConfig { clamp_distance: 10.0, loss_unit_distance: 10.0 },
                    angle_norm_weight: 0.01,
                    chi_weight: 0.5,
                    clash_overlap_tolerance: 1.5,
                    dropout: 0.1,
                    num_channel: 384,
                    num_head: 12,
                    num_layer_in_transition: 3,
                    num_point_qk: 4,
                    num_point_v: 8,
                    num_scalar_qk: 16,
                    num_scalar_v: 16,
                    position_scale: 10.0,
                    sidechain: SidechainConfig {
                        atom_clamp_distance: 10.0,
                        num_channel: 128,
                        num_residual_block: 2,
                        weight_frac: 0.5,
                        length_scale: 10.0,
                    },
                    structural_violation_loss_weight: 1.0,
                    violation_tolerance_factor: 12.0,
                    weight: 1.0,
                },
                predicted_lddt: PredictedLddtHeadConfig {
                    num_bins: 50,
                    num_channels: 128,
                    resolution,
                    weight: 0.01,
                },
                masked_msa: MaskedMsaHeadConfig { num_output: 23, weight: 2.0 },
            },
            num_recycle: 3,
            resample_msa_in_recycling: true,
        }
    }

    /// Templates in the network and the data (`use_templates`, `embed_torsion_angles`,
    /// `reduce_msa_clusters_by_max_templates`), as models 1 and 2 have them.
    fn with_templates(mut self) -> Self {
        self.data.use_templates = true;
        self.data.reduce_msa_clusters_by_max_templates = true;
        self.embeddings_and_evoformer.template.enabled = true;
        self.embeddings_and_evoformer.template.embed_torsion_angles = true;
        self
    }

    /// The pTM fine-tuned variant: adds the predicted aligned error head.
    fn with_ptm_head(mut self) -> Self {
        self.heads.predicted_aligned_error = Some(PredictedAlignedErrorHeadConfig {
            max_error_bin: 31.0,
            num_bins: 64,
            num_channels: 128,
            resolution: ResolutionFilter {
                filter_by_resolution: true,
                min_resolution: 0.1,
                max_resolution: 3.0,
            },
            weight: 0.1,
        });
        self
    }

    /// A preset by name (see [`PRESET_NAMES`]).
    pub fn preset(name: &str) -> Result<Self> {
        let (stem, ptm) = match name.strip_suffix("_ptm") {
            Some(stem) => (stem, true),
            None => (name, false),
        };
        let base = Self::base(name);
        let config = match stem {
            "model_1" => {
                let mut c = base.with_templates();
                c.data.max_extra_msa = 5120;
                c
            }
            "model_2" => base.with_templates(),
            "model_3" | "model_4" => {
                let mut c = base;
                c.data.max_extra_msa = 5120;
                c
            }
            "model_5" => base,
            "initial_training" | "finetune" | "tiny" if ptm => {
                bail!("unknown model preset '{name}': '{stem}' has no _ptm variant")
            }
            "initial_training" => {
                let mut c = base.with_templates();
                c.data.max_msa_clusters = 128;
                c.data.max_extra_msa = 1024;
                c.data.crop_size = Some(256);
                c.heads.structure_module.structural_violation_loss_weight = 0.0;
                c.heads.experimentally_resolved.weight = 0.0;
                return Ok(c);
            }
            "finetune" => {
                let mut c = base.with_templates();
                c.data.max_msa_clusters = 512;
                c.data.max_extra_msa = 5120;
                c.data.crop_size = Some(384);
                return Ok(c);
            }
            "tiny" => return Ok(Self::tiny()),
            _ => bail!("unknown model preset '{name}': expected one of {}", PRESET_NAMES.join(", ")),
        };
        Ok(if ptm { config.with_ptm_head() } else { config })
    }

    /// A network small enough to train on a laptop CPU in minutes: every module present
    /// (templates, extra MSA, all heads including pTM), few blocks and narrow channels.
    pub fn tiny() -> Self {
        let mut c = Self::base("tiny").with_templates().with_ptm_head();
        c.data.max_msa_clusters = 16;
        c.data.max_extra_msa = 32;
        c.data.max_templates = 2;
        c.data.num_recycle = 1;
        c.data.crop_size = Some(32);
        c.num_recycle = 1;
        let e = &mut c.embeddings_and_evoformer;
        e.evoformer_num_block = 2;
        e.extra_msa_stack_num_block = 1;
        e.msa_channel = 16;
        e.pair_channel = 8;
        e.seq_channel = 16;
        e.extra_msa_channel = 8;
        for attention in
            [&mut e.evoformer.msa_row_attention_with_pair_bias, &mut e.evoformer.msa_column_attention]
        {
            attention.num_head = 2;
        }
        e.evoformer.triangle_attention_starting_node.num_head = 2;
        e.evoformer.triangle_attention_ending_node.num_head = 2;
        e.evoformer.outer_product_mean.num_outer_channel = 4;
        e.evoformer.triangle_multiplication_outgoing.num_intermediate_channel = 8;
        e.evoformer.triangle_multiplication_incoming.num_intermediate_channel = 8;
        e.evoformer.msa_transition.num_intermediate_factor = 2;
        e.evoformer.pair_transition.num_intermediate_factor = 2;
        let t = &mut e.template;
        t.max_templates = 2;
        t.attention.num_head = 2;
        t.attention.key_dim = Some(8);
        t.attention.value_dim = Some(8);
        let s = &mut t.template_pair_stack;
        s.num_block = 1;
        for attention in [&mut s.triangle_attention_starting_node, &mut s.triangle_attention_ending_node] {
            attention.num_head = 2;
            attention.key_dim = Some(8);
            attention.value_dim = Some(8);
        }
        s.triangle_multiplication_outgoing.num_intermediate_channel = 8;
        s.triangle_multiplication_incoming.num_intermediate_channel = 8;
        let sm = &mut c.heads.structure_module;
        sm.num_layer = 2;
        sm.num_channel = 16;
        sm.num_head = 2;
        sm.num_scalar_qk = 4;
        sm.num_scalar_v = 4;
        sm.num_point_qk = 2;
        sm.num_point_v = 2;
        sm.sidechain.num_channel = 8;
        c.heads.predicted_lddt.num_channels = 8;
        c
    }

    /// Channel count of the template pair representation (`c_t`), which AlphaFold reads from the
    /// template pair stack's ending-node attention `value_dim`.
    pub fn template_pair_channel(&self) -> i64 {
        let t = &self.embeddings_and_evoformer.template.template_pair_stack;
        t.triangle_attention_ending_node.value_dim.unwrap_or(self.embeddings_and_evoformer.pair_channel)
    }
}

/// Numeric precision of activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    #[default]
    Fp32,
    /// bfloat16 activations and weights; layer norms and softmaxes still run in fp32.
    Bf16,
}

impl Precision {
    /// The tensor kind activations are held in.
    pub fn kind(self) -> Kind {
        match self {
            Precision::Fp32 => Kind::Float,
            Precision::Bf16 => Kind::BFloat16,
        }
    }
}

/// How the network runs, as opposed to what it computes: one value passed down to every module.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RuntimeOptions {
    /// Split the batch-like axis of attention, transition and outer-product computations into
    /// chunks of this many rows to bound peak memory (AlphaFold's `subbatch_size`);
    /// `None` computes everything at once. Results do not depend on it.
    pub chunk_size: Option<i64>,
    pub precision: Precision,
    /// Use libtorch's fused `scaled_dot_product_attention` instead of explicit softmax(QK^T)V.
    pub fused_attention: bool,
    /// Training mode: dropout active (unless the model config is deterministic).
    pub training: bool,
    /// Recompute the Evoformer, extra-MSA and template pair stacks block by block in the
    /// backward pass instead of keeping their activations (HelixFold's recompute); the trunk
    /// then returns a `RecomputeTape` whose `backward` must follow the loss's
    /// (`model::recompute`). No effect when gradients are disabled.
    #[serde(default)]
    pub recompute: bool,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            chunk_size: None,
            precision: Precision::Fp32,
            fused_attention: false,
            training: false,
            recompute: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_builds_and_keeps_its_name() {
        for name in PRESET_NAMES {
            let c = ModelConfig::preset(name).unwrap();
            assert_eq!(c.name, name);
        }
        let err = ModelConfig::preset("model_6").unwrap_err().to_string();
        assert!(err.contains("unknown model preset 'model_6'"), "{err}");
        assert!(ModelConfig::preset("tiny_ptm").is_err());
    }

    /// The differences listed in DeepMind's `CONFIG_DIFFS` (alphafold/model/config.py).
    #[test]
    fn presets_follow_alphafold_config_diffs() {
        let m1 = ModelConfig::preset("model_1").unwrap();
        assert!(m1.embeddings_and_evoformer.template.enabled);
        assert_eq!(m1.data.max_extra_msa, 5120);
        assert!(m1.heads.predicted_aligned_error.is_none());
        let m2 = ModelConfig::preset("model_2_ptm").unwrap();
        assert!(m2.embeddings_and_evoformer.template.embed_torsion_angles);
        assert_eq!(m2.data.max_extra_msa, 1024);
        assert_eq!(m2.heads.predicted_aligned_error.unwrap().weight, 0.1);
        let m3 = ModelConfig::preset("model_3_ptm").unwrap();
        assert!(!m3.embeddings_and_evoformer.template.enabled);
        assert_eq!(m3.data.max_extra_msa, 5120);
        let m5 = ModelConfig::preset("model_5").unwrap();
        assert_eq!(m5.data.max_extra_msa, 1024);
        assert_eq!(m5.embeddings_and_evoformer.evoformer_num_block, 48);
        assert_eq!(m5.template_pair_channel(), 64);
    }

    #[test]
    fn helixfold_presets_set_crop_and_msa_sizes() {
        let initial = ModelConfig::preset("initial_training").unwrap();
        assert_eq!(
            (initial.data.crop_size, initial.data.max_msa_clusters, initial.data.max_extra_msa),
            (Some(256), 128, 1024)
        );
        let finetune = ModelConfig::preset("finetune").unwrap();
        assert_eq!(
            (finetune.data.crop_size, finetune.data.max_msa_clusters, finetune.data.max_extra_msa),
            (Some(384), 512, 5120)
        );
    }

    #[test]
    fn config_round_trips_through_json() {
        let tiny = ModelConfig::tiny();
        let text = serde_json::to_string(&tiny).unwrap();
        let back: ModelConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, tiny);
    }
}
