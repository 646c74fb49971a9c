//! Template embedding: the pair path, Jumper et al. (2021) Suppl. Alg. 2 lines 9-13 with
//! Alg. 16 "TemplatePairStack" and Alg. 17 "TemplatePointwiseAttention" (DeepMind's
//! `modules.TemplateEmbedding` / `SingleTemplateEmbedding` / `TemplatePairStack`), and the
//! torsion-angle path, Alg. 2 lines 7-8 (`template_single_embedding`, `template_projection`).
//!
//! The torsion features (`atom37_to_torsion_angles`, Alg. 24) are inputs here: the data pipeline
//! computes them, as OpenFold does, so the network has no geometry of its own.
use super::capture::{self, Stack};
use super::config::{GlobalConfig, RuntimeOptions, TemplateConfig};
use super::embedders::dgram_from_positions;
use super::evoformer::{PairStackConfig, PairStackModules};
use super::primitives::{dropout_active, mask_bias, Attention, Init, LayerNorm, Linear};
use super::axial_parallel::AxialShards;
use super::recompute::{Block, RecomputeTape};
use crate::residue_constants::ATOM_TYPES;
use tch::{nn, Kind, Tensor};

/// Residue classes of the template aatype one-hot (20 amino acids, unknown, gap).
const TEMPLATE_AATYPE_CLASSES: i64 = 22;
/// Per-template torsion features: aatype one-hot (22), sin/cos of 7 torsions (14), of their
/// alternatives (14), and the 7 torsion masks.
pub const TEMPLATE_SINGLE_FEAT_DIM: i64 = 57;
/// Index of ψ among the 7 torsions; its mask marks template residues usable as MSA rows.
const PSI_TORSION: i64 = 2;

/// Template features by AlphaFold's names (leading `[N_templ]` axis).
#[derive(Debug)]
pub struct TemplateBatch {
    /// `[N_templ, N_res]` (integer)
    pub template_aatype: Tensor,
    /// `[N_templ, N_res, 37, 3]`
    pub template_all_atom_positions: Tensor,
    /// `[N_templ, N_res, 37]`
    pub template_all_atom_masks: Tensor,
    /// `[N_templ, N_res, 3]`
    pub template_pseudo_beta: Tensor,
    /// `[N_templ, N_res]`
    pub template_pseudo_beta_mask: Tensor,
    /// `[N_templ]`: 1 for real templates, 0 for padding.
    pub template_mask: Tensor,
    /// `[N_templ, N_res, 7, 2]` from `atom37_to_torsion_angles`.
    pub template_torsion_angles_sin_cos: Tensor,
    /// `[N_templ, N_res, 7, 2]`
    pub template_alt_torsion_angles_sin_cos: Tensor,
    /// `[N_templ, N_res, 7]`
    pub template_torsion_angles_mask: Tensor,
}

fn atom(name: &str) -> i64 {
    ATOM_TYPES.iter().position(|&a| a == name).expect("atom in the atom37 table") as i64
}

/// Unit vectors from each residue's backbone frame (built from N, Cα, C as
/// `quat_affine.make_transform_from_reference`: x along Cα→C, N in the xy-plane) to every other
/// Cα, in that frame. `positions [*, N_res, 37, 3]`, `backbone_mask_2d [*, N_res, N_res]` ->
/// `[*, N_res, N_res, 3]`, zero where the mask is.
fn backbone_unit_vectors(positions: &Tensor, backbone_mask_2d: &Tensor) -> Tensor {
    let n = positions.select(-2, atom("N"));
    let ca = positions.select(-2, atom("CA"));
    let c = positions.select(-2, atom("C"));
    let normalise = |v: &Tensor| v / (v.square().sum_dim_intlist(-1, true, Kind::Float) + 1e-12).sqrt();
    let e1 = normalise(&(&c - &ca));
    let to_n = &n - &ca;
    let e2 = normalise(&(&to_n - &e1 * (&to_n * &e1).sum_dim_intlist(-1, true, Kind::Float)));
    let e3 = e1.cross(&e2, -1);
    // [*, N_res, 3 (axes), 3 (xyz)]
    let rot = Tensor::stack(&[e1, e2, e3], -2);
    // [*, N_res(i), N_res(j), 3]: Cα_j - Cα_i in frame i
    let diff = ca.unsqueeze(-3) - ca.unsqueeze(-2);
    let local = rot.unsqueeze(-3).matmul(&diff.unsqueeze(-1)).squeeze_dim(-1);
    let inv_dist = (local.square().sum_dim_intlist(-1, true, Kind::Float) + 1e-6).rsqrt()
        * backbone_mask_2d.unsqueeze(-1);
    local * inv_dist
}

/// Embeds each template's pair features and runs the template pair stack (`single_template_embedding`).
#[derive(Debug)]
pub struct SingleTemplateEmbedding {
    pub embedding2d: Linear,
    pub template_pair_stack: Vec<PairStackModules>,
    pub output_layer_norm: LayerNorm,
    cfg: TemplateConfig,
    global: GlobalConfig,
}

impl SingleTemplateEmbedding {
    /// Pair feature channels: distogram, pseudo-β mask, two aatype one-hots, unit vector,
    /// backbone mask.
    fn input_channels(cfg: &TemplateConfig) -> i64 {
        cfg.dgram_features.num_bins + 1 + 2 * TEMPLATE_AATYPE_CLASSES + 3 + 1
    }

    pub fn new(p: nn::Path, cfg: &TemplateConfig, c_t: i64, global: &GlobalConfig) -> Self {
        let stack = &cfg.template_pair_stack;
        let pair_cfg = PairStackConfig {
            triangle_attention_starting_node: &stack.triangle_attention_starting_node,
            triangle_attention_ending_node: &stack.triangle_attention_ending_node,
            triangle_multiplication_outgoing: &stack.triangle_multiplication_outgoing,
            triangle_multiplication_incoming: &stack.triangle_multiplication_incoming,
            pair_transition: &stack.pair_transition,
        };
        let stack_path = &p / "template_pair_stack";
        SingleTemplateEmbedding {
            embedding2d: Linear::new(&p / "embedding2d", Self::input_channels(cfg), c_t, Init::Relu),
            template_pair_stack: (0..stack.num_block)
                .map(|i| PairStackModules::new(&stack_path / i, &pair_cfg, c_t, global))
                .collect(),
            output_layer_norm: LayerNorm::new(&p / "output_layer_norm", c_t),
            cfg: *cfg,
            global: *global,
        }
    }

    /// Template pair features `[N_templ, N_res, N_res, 88]` (Alg. 2 line 9's input).
    pub fn pair_features(&self, t: &TemplateBatch) -> Tensor {
        let d = &self.cfg.dgram_features;
        let n_res = t.template_aatype.size()[1];
        let pb_mask = t.template_pseudo_beta_mask.to_kind(Kind::Float);
        // [T, R, R]
        let pb_mask_2d = pb_mask.unsqueeze(-1) * pb_mask.unsqueeze(-2);
        let dgram = dgram_from_positions(&t.template_pseudo_beta, d.num_bins, d.min_bin, d.max_bin);
        // [T, R, 22]
        let aatype =
            t.template_aatype.to_kind(Kind::Int64).one_hot(TEMPLATE_AATYPE_CLASSES).to_kind(Kind::Float);
        let aatype_j = aatype.unsqueeze(-3).expand([-1, n_res, -1, -1], false);
        let aatype_i = aatype.unsqueeze(-2).expand([-1, -1, n_res, -1], false);
        let masks = t.template_all_atom_masks.to_kind(Kind::Float);
        // [T, R]: residues with N, Cα and C
        let backbone =
            masks.select(-1, atom("N")) * masks.select(-1, atom("CA")) * masks.select(-1, atom("C"));
        let backbone_2d = backbone.unsqueeze(-1) * backbone.unsqueeze(-2);
        let unit_vector = if self.cfg.use_template_unit_vector {
            backbone_unit_vectors(&t.template_all_atom_positions.to_kind(Kind::Float), &backbone_2d)
        } else {
            Tensor::zeros([backbone_2d.size()[0], n_res, n_res, 3], (Kind::Float, backbone_2d.device()))
        };
        let act = Tensor::cat(
            &[dgram, pb_mask_2d.unsqueeze(-1), aatype_j, aatype_i, unit_vector, backbone_2d.unsqueeze(-1)],
            -1,
        );
        act * backbone_2d.unsqueeze(-1)
    }

    /// `[N_templ, N_res, N_res, c_t]` embeddings of all templates; with `opts.recompute` the
    /// template pair stack is recorded on `tape`.
    pub fn forward<'a>(
        &'a self,
        t: &TemplateBatch,
        pair_mask: &Tensor,
        opts: &RuntimeOptions,
        tape: &mut RecomputeTape<'a>,
    ) -> Tensor {
        let features = self.pair_features(t).to_kind(opts.precision.kind());
        // [T, R, R, c_t]
        let act = self.embedding2d.forward(&features);
        // Under DAP each rank runs the stack on its rows of every template's pair.
        let shards = AxialShards::active(0, act.size()[1]);
        let (act, pair_mask) = match &shards {
            Some(s) => (s.enter_pair(&act), s.pad_pair_mask(pair_mask)),
            None => (act, pair_mask.shallow_clone()),
        };
        let blocks = self
            .template_pair_stack
            .iter()
            .zip(0..)
            .map(|(block, index)| -> Block<'a> {
                let (pair_mask, opts, shards) = (pair_mask.shallow_clone(), *opts, shards.clone());
                Box::new(move |state: &[Tensor]| {
                    capture::enter_block(Stack::TemplatePair, index);
                    vec![match &shards {
                        Some(s) => s.template_block(block, &state[0], &pair_mask, &opts),
                        None => block.template_order(&state[0], &pair_mask, &opts),
                    }]
                })
            })
            .collect();
        let seeded = dropout_active(&self.global, opts);
        let mut state = tape.run_stack(blocks, vec![act], seeded, opts.recompute, |_| {});
        let act = state.pop().expect("a template pair block maps one tensor to one");
        let act = match &shards {
            Some(s) => s.exit_pair(&act),
            None => act,
        };
        self.output_layer_norm.forward(&act)
    }
}

/// Alg. 17 and the template path of Alg. 2 (`template_embedding`).
#[derive(Debug)]
pub struct TemplateEmbedding {
    pub single_template_embedding: SingleTemplateEmbedding,
    /// Pointwise attention from the pair to the templates (`template_embedding/attention`).
    pub attention: Attention,
}

impl TemplateEmbedding {
    pub fn new(p: nn::Path, cfg: &TemplateConfig, c_z: i64, c_t: i64, global: &GlobalConfig) -> Self {
        TemplateEmbedding {
            single_template_embedding: SingleTemplateEmbedding::new(
                &p / "single_template_embedding",
                cfg,
                c_t,
                global,
            ),
            attention: Attention::new(&p / "attention", &cfg.attention, c_z, c_t, c_z, global),
        }
    }

    /// Update for `pair [N_res, N_res, c_z]` from the templates; zero when none is present.
    pub fn forward<'a>(
        &'a self,
        pair: &Tensor,
        t: &TemplateBatch,
        pair_mask: &Tensor,
        opts: &RuntimeOptions,
        tape: &mut RecomputeTape<'a>,
    ) -> Tensor {
        let templates = self.single_template_embedding.forward(t, pair_mask, opts, tape);
        let (num_templ, n_res, _, c_t) = templates.size4().expect("templates are [T, R, R, c_t]");
        let c_z = pair.size()[2];
        // [R * R, 1, c_z]
        let query = pair.reshape([n_res * n_res, 1, c_z]);
        // [R * R, T, c_t]
        let memory = templates.permute([1, 2, 0, 3]).reshape([n_res * n_res, num_templ, c_t]);
        let template_mask = t.template_mask.to_kind(Kind::Float);
        // [1, 1, 1, T]
        let bias = mask_bias(&template_mask).reshape([1, 1, 1, num_templ]);
        let embedding = self.attention.forward(&query, &memory, &[&bias], opts).reshape([n_res, n_res, c_z]);
        let any_template = template_mask.sum(Kind::Float).gt(0.0).to_kind(embedding.kind());
        embedding * any_template
    }
}

/// Alg. 2 lines 7-8: each template's torsion features become an extra MSA row.
#[derive(Debug)]
pub struct TemplateSingleEmbedding {
    pub template_single_embedding: Linear,
    pub template_projection: Linear,
}

impl TemplateSingleEmbedding {
    /// `p` is the trunk's `evoformer` scope.
    pub fn new(p: &nn::Path, c_m: i64) -> Self {
        TemplateSingleEmbedding {
            template_single_embedding: Linear::new(
                p / "template_single_embedding",
                TEMPLATE_SINGLE_FEAT_DIM,
                c_m,
                Init::Relu,
            ),
            template_projection: Linear::new(p / "template_projection", c_m, c_m, Init::Relu),
        }
    }

    /// Per-template features `[N_templ, N_res, 57]`.
    pub fn features(t: &TemplateBatch) -> Tensor {
        let aatype =
            t.template_aatype.to_kind(Kind::Int64).one_hot(TEMPLATE_AATYPE_CLASSES).to_kind(Kind::Float);
        Tensor::cat(
            &[
                aatype,
                t.template_torsion_angles_sin_cos.to_kind(Kind::Float).flatten(-2, -1),
                t.template_alt_torsion_angles_sin_cos.to_kind(Kind::Float).flatten(-2, -1),
                t.template_torsion_angles_mask.to_kind(Kind::Float),
            ],
            -1,
        )
    }

    /// MSA rows `[N_templ, N_res, c_m]` and their mask `[N_templ, N_res]` (the ψ torsion mask).
    pub fn forward(&self, t: &TemplateBatch, kind: Kind) -> (Tensor, Tensor) {
        let features = Self::features(t).to_kind(kind);
        let act = self.template_single_embedding.forward(&features).relu();
        let rows = self.template_projection.forward(&act);
        (rows, t.template_torsion_angles_mask.select(-1, PSI_TORSION).to_kind(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// Unit vectors are expressed in each residue's own frame: a global rotation and
    /// translation of the template leaves them unchanged; they have unit length where the
    /// backbone is present and are zero elsewhere.
    #[test]
    fn backbone_unit_vectors_are_invariant_and_masked() {
        tch::manual_seed(6);
        let f = (Kind::Float, Device::Cpu);
        let positions = Tensor::randn([5, 37, 3], f) * 5.0;
        let backbone = Tensor::from_slice(&[1f32, 1., 1., 1., 0.]);
        let mask_2d = backbone.unsqueeze(-1) * backbone.unsqueeze(-2);
        let a = backbone_unit_vectors(&positions, &mask_2d);
        let (q, _) = Tensor::linalg_qr(&Tensor::randn([3, 3], f), "reduced");
        // A proper rotation (det +1): a reflection would flip the frames' handedness.
        let q = &q * Tensor::linalg_det(&q).sign();
        let moved = positions.matmul(&q.transpose(0, 1)) + Tensor::from_slice(&[3f32, -7., 11.]);
        let b = backbone_unit_vectors(&moved, &mask_2d);
        assert!(a.allclose(&b, 1e-4, 1e-4, false));
        let norms = a.square().sum_dim_intlist(-1, false, Kind::Float).sqrt();
        let off_diagonal = norms.narrow(0, 0, 4).narrow(1, 0, 4) + Tensor::eye(4, f);
        assert!(off_diagonal.allclose(&Tensor::ones([4, 4], f), 1e-4, 1e-4, false));
        assert_eq!(norms.get(4).abs().sum(Kind::Float).double_value(&[]), 0.0);
    }
}
