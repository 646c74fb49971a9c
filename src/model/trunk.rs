//! The trunk: embeddings, template embedding, extra-MSA stack and Evoformer stack, Jumper et al.
//! (2021) Suppl. Alg. 2 "Inference" lines 5-18 (DeepMind's `modules.EmbeddingsAndEvoformer`,
//! haiku scope `evoformer`). It produces the MSA, pair and single representations that the
//! structure module and heads consume.
use super::config::{ModelConfig, RuntimeOptions};
use super::embedders::{extra_msa_feature, ExtraMsaEmbedder, InputEmbedder, Recycled, RecyclingEmbedder};
use super::evoformer::EvoformerStack;
use super::primitives::{Init, Linear};
use super::recompute::RecomputeTape;
use super::template_embedder::{TemplateBatch, TemplateEmbedding, TemplateSingleEmbedding};
use crate::geometry::torsions::atom37_to_torsion_angles;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use tch::{nn, Kind, Tensor};

/// One iteration's input features by AlphaFold's names (no ensemble or recycling axis).
#[derive(Debug)]
pub struct TrunkBatch {
    /// `[N_res]` residue types (integer).
    pub aatype: Tensor,
    /// `[N_res, 22]`
    pub target_feat: Tensor,
    /// `[N_res]` (integer)
    pub residue_index: Tensor,
    /// `[N_res]`
    pub seq_mask: Tensor,
    /// `[N_seq, N_res, 49]`
    pub msa_feat: Tensor,
    /// `[N_seq, N_res]`
    pub msa_mask: Tensor,
    /// `[N_extra, N_res]` (integer)
    pub extra_msa: Tensor,
    /// `[N_extra, N_res]`
    pub extra_has_deletion: Tensor,
    /// `[N_extra, N_res]`
    pub extra_deletion_value: Tensor,
    /// `[N_extra, N_res]`
    pub extra_msa_mask: Tensor,
    /// Required exactly when the model config enables templates.
    pub templates: Option<TemplateBatch>,
}

/// The trunk's representations (AlphaFold's `representations`), in fp32 whatever the trunk's
/// precision: the structure module, heads and losses downstream run in fp32.
#[derive(Debug)]
pub struct TrunkOutput<'a> {
    /// `[N_seq, N_res, c_m]`, template rows removed.
    pub msa: Tensor,
    /// `[N_res, c_m]`, recycled into the next iteration.
    pub msa_first_row: Tensor,
    /// `[N_res, N_res, c_z]`
    pub pair: Tensor,
    /// `[N_res, c_s]`
    pub single: Tensor,
    /// With `RuntimeOptions::recompute` under grad mode, the record of the recomputed stacks:
    /// call its `backward` after the loss's. Empty otherwise.
    pub recompute_tape: RecomputeTape<'a>,
}

impl TrunkOutput<'_> {
    /// The next iteration's recycled inputs (Alg. 2 line 6, gradients stopped) from this
    /// iteration's trunk output and the structure module's `final_atom_positions [N_res, 37, 3]`.
    pub fn recycled(&self, final_atom_positions: &Tensor) -> Recycled {
        Recycled {
            prev_pos: final_atom_positions.detach(),
            prev_msa_first_row: self.msa_first_row.detach(),
            prev_pair: self.pair.detach(),
        }
    }
}

/// Haiku scope `evoformer`.
#[derive(Debug)]
pub struct EmbeddingsAndEvoformer {
    pub input_embedder: InputEmbedder,
    pub recycling_embedder: RecyclingEmbedder,
    pub template_embedding: Option<TemplateEmbedding>,
    pub template_single_embedding: Option<TemplateSingleEmbedding>,
    pub extra_msa_embedder: ExtraMsaEmbedder,
    pub extra_msa_stack: EvoformerStack,
    pub evoformer_iteration: EvoformerStack,
    pub single_activations: Linear,
}

impl EmbeddingsAndEvoformer {
    /// `p` is the scope the model lives in (normally the VarStore root); the trunk adds `evoformer`.
    pub fn new(p: nn::Path, cfg: &ModelConfig) -> Self {
        let p = &p / "evoformer";
        let e = &cfg.embeddings_and_evoformer;
        let g = &cfg.global_config;
        let t = &e.template;
        EmbeddingsAndEvoformer {
            input_embedder: InputEmbedder::new(&p, e),
            recycling_embedder: RecyclingEmbedder::new(&p, e),
            template_embedding: t.enabled.then(|| {
                TemplateEmbedding::new(
                    &p / "template_embedding",
                    t,
                    e.pair_channel,
                    cfg.template_pair_channel(),
                    g,
                )
            }),
            template_single_embedding: (t.enabled && t.embed_torsion_angles)
                .then(|| TemplateSingleEmbedding::new(&p, e.msa_channel)),
            extra_msa_embedder: ExtraMsaEmbedder::new(&p, e),
            extra_msa_stack: EvoformerStack::new(
                &p / "extra_msa_stack",
                e.extra_msa_stack_num_block,
                &e.evoformer,
                e.extra_msa_channel,
                e.pair_channel,
                true,
                g,
            ),
            evoformer_iteration: EvoformerStack::new(
                &p / "evoformer_iteration",
                e.evoformer_num_block,
                &e.evoformer,
                e.msa_channel,
                e.pair_channel,
                false,
                g,
            ),
            single_activations: Linear::new(
                &p / "single_activations",
                e.msa_channel,
                e.seq_channel,
                Init::Default,
            ),
        }
    }

    /// One pass of Alg. 2 lines 5-18 given the previous iteration's outputs. The embedders and
    /// stacks run in `opts.precision` (parameters stay fp32 and are cast where used, so their
    /// gradients are fp32); the representations are returned in fp32.
    pub fn forward(
        &self,
        batch: &TrunkBatch,
        prev: &Recycled,
        opts: &RuntimeOptions,
    ) -> Result<TrunkOutput<'_>> {
        let kind = opts.precision.kind();
        // A model without the template embedding ignores a batch's templates, as AlphaFold's
        // `template.enabled = False` does.
        if self.template_embedding.is_some() && batch.templates.is_none() {
            bail!("the model embeds templates but the batch lacks them");
        }
        let target_feat = batch.target_feat.to_kind(kind);
        // [N_seq, N_res, c_m]
        let msa = self.input_embedder.msa(&target_feat, &batch.msa_feat.to_kind(kind));
        // [N_res, N_res, c_z]
        let pair = self.input_embedder.pair(&target_feat);
        let seq_mask = batch.seq_mask.to_kind(kind);
        // [N_res, N_res]
        let pair_mask = seq_mask.unsqueeze(-1) * seq_mask.unsqueeze(-2);
        let (msa, pair) = self.recycling_embedder.forward(&msa, &pair, prev, &batch.aatype);
        let mut pair = pair + self.input_embedder.relpos(&batch.residue_index).to_kind(kind);
        let mut tape = RecomputeTape::new();
        if let (Some(embedding), Some(templates)) = (&self.template_embedding, &batch.templates) {
            pair = &pair + embedding.forward(&pair, templates, &pair_mask, opts, &mut tape);
        }

        // Extra MSA stack (Alg. 2 lines 14-16).
        let extra_feat =
            extra_msa_feature(&batch.extra_msa, &batch.extra_has_deletion, &batch.extra_deletion_value);
        // [N_extra, N_res, c_e]
        let extra = self.extra_msa_embedder.forward(&extra_feat.to_kind(kind));
        let extra_mask = batch.extra_msa_mask.to_kind(kind);
        let pair = self.extra_msa_stack.forward(&extra, &pair, &extra_mask, &pair_mask, opts, &mut tape).pair;

        // Template torsion rows join the MSA (Alg. 2 lines 7-8).
        let num_seq = msa.size()[0];
        let mut msa_mask = batch.msa_mask.to_kind(kind);
        let mut msa = msa;
        if let (Some(single), Some(templates)) = (&self.template_single_embedding, &batch.templates) {
            let (rows, rows_mask) = single.forward(templates, kind);
            msa = Tensor::cat(&[msa, rows], 0);
            msa_mask = Tensor::cat(&[msa_mask, rows_mask], 0);
        }

        // Evoformer stack (Alg. 2 lines 17-18).
        let out = self.evoformer_iteration.forward(&msa, &pair, &msa_mask, &pair_mask, opts, &mut tape);
        let msa_first_row = out.msa.get(0);
        let fp32 = |t: &Tensor| t.to_kind(Kind::Float);
        Ok(TrunkOutput {
            single: fp32(&self.single_activations.forward(&msa_first_row)),
            msa: fp32(&out.msa.narrow(0, 0, num_seq)),
            msa_first_row: fp32(&msa_first_row),
            pair: fp32(&out.pair),
            recompute_tape: tape,
        })
    }
}

impl TrunkBatch {
    /// Picks the features from arrays keyed by AlphaFold's names (one iteration, no leading
    /// recycle axis). Templates are read when `template_aatype` is present; their torsion
    /// features are taken from `template_torsion_angles_sin_cos`,
    /// `template_alt_torsion_angles_sin_cos` and `template_torsion_angles_mask` (OpenFold's names)
    /// when all three are given, and otherwise computed from the template atoms with
    /// `atom37_to_torsion_angles` without placeholders, as AlphaFold does under `zero_init`
    /// (every preset).
    pub fn from_arrays(arrays: &BTreeMap<String, Tensor>) -> Result<Self> {
        let get = |name: &str| {
            arrays
                .get(name)
                .map(Tensor::shallow_clone)
                .with_context(|| format!("batch lacks feature '{name}'"))
        };
        let templates = if arrays.contains_key("template_aatype") {
            let given = [
                "template_torsion_angles_sin_cos",
                "template_alt_torsion_angles_sin_cos",
                "template_torsion_angles_mask",
            ];
            let (sin_cos, alt_sin_cos, mask) = if given.iter().all(|k| arrays.contains_key(*k)) {
                (get(given[0])?, get(given[1])?, get(given[2])?)
            } else {
                let torsions = atom37_to_torsion_angles(
                    &get("template_aatype")?.to_kind(Kind::Int64),
                    &get("template_all_atom_positions")?,
                    &get("template_all_atom_masks")?,
                    false,
                )
                .context("computing the template torsion features")?;
                (torsions.sin_cos, torsions.alt_sin_cos, torsions.mask)
            };
            Some(TemplateBatch {
                template_aatype: get("template_aatype")?,
                template_all_atom_positions: get("template_all_atom_positions")?,
                template_all_atom_masks: get("template_all_atom_masks")?,
                template_pseudo_beta: get("template_pseudo_beta")?,
                template_pseudo_beta_mask: get("template_pseudo_beta_mask")?,
                template_mask: get("template_mask")?,
                template_torsion_angles_sin_cos: sin_cos,
                template_alt_torsion_angles_sin_cos: alt_sin_cos,
                template_torsion_angles_mask: mask,
            })
        } else {
            None
        };
        Ok(TrunkBatch {
            aatype: get("aatype")?,
            target_feat: get("target_feat")?,
            residue_index: get("residue_index")?,
            seq_mask: get("seq_mask")?,
            msa_feat: get("msa_feat")?,
            msa_mask: get("msa_mask")?,
            extra_msa: get("extra_msa")?,
            extra_has_deletion: get("extra_has_deletion")?,
            extra_deletion_value: get("extra_deletion_value")?,
            extra_msa_mask: get("extra_msa_mask")?,
            templates,
        })
    }
}

impl TrunkBatch {
    /// The features by AlphaFold's names, each repeated `copies` times along a new leading
    /// recycle axis (the layout `AlphaFold::forward` reads); the inverse of [`Self::from_arrays`]
    /// on one copy, template torsion features included.
    pub fn to_recycled_arrays(&self, copies: i64) -> BTreeMap<String, Tensor> {
        let mut arrays = BTreeMap::new();
        let mut put = |name: &str, t: &Tensor| {
            let repeated: Vec<Tensor> = (0..copies).map(|_| t.shallow_clone()).collect();
            arrays.insert(name.to_string(), Tensor::stack(&repeated, 0));
        };
        put("aatype", &self.aatype);
        put("target_feat", &self.target_feat);
        put("residue_index", &self.residue_index);
        put("seq_mask", &self.seq_mask);
        put("msa_feat", &self.msa_feat);
        put("msa_mask", &self.msa_mask);
        put("extra_msa", &self.extra_msa);
        put("extra_has_deletion", &self.extra_has_deletion);
        put("extra_deletion_value", &self.extra_deletion_value);
        put("extra_msa_mask", &self.extra_msa_mask);
        if let Some(t) = &self.templates {
            put("template_aatype", &t.template_aatype);
            put("template_all_atom_positions", &t.template_all_atom_positions);
            put("template_all_atom_masks", &t.template_all_atom_masks);
            put("template_pseudo_beta", &t.template_pseudo_beta);
            put("template_pseudo_beta_mask", &t.template_pseudo_beta_mask);
            put("template_mask", &t.template_mask);
            put("template_torsion_angles_sin_cos", &t.template_torsion_angles_sin_cos);
            put("template_alt_torsion_angles_sin_cos", &t.template_alt_torsion_angles_sin_cos);
            put("template_torsion_angles_mask", &t.template_torsion_angles_mask);
        }
        arrays
    }
}

/// Float kinds used by [`TrunkBatch::tiny_random`].
const FLOAT: (Kind, tch::Device) = (Kind::Float, tch::Device::Cpu);

impl TrunkBatch {
    /// A random batch of the given sizes with all masks set, for shape and property tests.
    pub fn tiny_random(n_res: i64, n_seq: i64, n_extra: i64, n_templ: Option<i64>) -> Self {
        let int = (Kind::Int64, tch::Device::Cpu);
        let aatype = Tensor::randint(20, [n_res], int);
        let templates = n_templ.map(|t| TemplateBatch {
            template_aatype: Tensor::randint(20, [t, n_res], int),
            template_all_atom_positions: Tensor::randn([t, n_res, 37, 3], FLOAT) * 10.0,
            template_all_atom_masks: Tensor::ones([t, n_res, 37], FLOAT),
            template_pseudo_beta: Tensor::randn([t, n_res, 3], FLOAT) * 10.0,
            template_pseudo_beta_mask: Tensor::ones([t, n_res], FLOAT),
            template_mask: Tensor::ones([t], FLOAT),
            template_torsion_angles_sin_cos: Tensor::randn([t, n_res, 7, 2], FLOAT),
            template_alt_torsion_angles_sin_cos: Tensor::randn([t, n_res, 7, 2], FLOAT),
            template_torsion_angles_mask: Tensor::ones([t, n_res, 7], FLOAT),
        });
        TrunkBatch {
            target_feat: aatype.one_hot(22).to_kind(Kind::Float),
            aatype,
            residue_index: Tensor::arange(n_res, int),
            seq_mask: Tensor::ones([n_res], FLOAT),
            msa_feat: Tensor::rand([n_seq, n_res, 49], FLOAT),
            msa_mask: Tensor::ones([n_seq, n_res], FLOAT),
            extra_msa: Tensor::randint(23, [n_extra, n_res], int),
            extra_has_deletion: Tensor::zeros([n_extra, n_res], FLOAT),
            extra_deletion_value: Tensor::zeros([n_extra, n_res], FLOAT),
            extra_msa_mask: Tensor::ones([n_extra, n_res], FLOAT),
            templates,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::heads::Heads;
    use crate::model::structure_module::StructureModule;
    use crate::model::weights::parameter_count;
    use tch::Device;

    fn tiny_nonzero() -> ModelConfig {
        let mut cfg = ModelConfig::tiny();
        cfg.global_config.zero_init = false;
        cfg
    }

    fn run<'a>(
        trunk: &'a EmbeddingsAndEvoformer,
        batch: &TrunkBatch,
        cfg: &ModelConfig,
        opts: &RuntimeOptions,
    ) -> TrunkOutput<'a> {
        let n_res = batch.aatype.size()[0];
        let prev = Recycled::zeros(n_res, &cfg.embeddings_and_evoformer, FLOAT);
        trunk.forward(batch, &prev, opts).unwrap()
    }

    #[test]
    fn tiny_trunk_shapes_and_chunking() {
        tch::manual_seed(1);
        let cfg = tiny_nonzero();
        let vs = nn::VarStore::new(Device::Cpu);
        let trunk = EmbeddingsAndEvoformer::new(vs.root(), &cfg);
        let batch = TrunkBatch::tiny_random(7, 4, 5, Some(2));
        let opts = RuntimeOptions::default();
        let out = run(&trunk, &batch, &cfg, &opts);
        let e = &cfg.embeddings_and_evoformer;
        assert_eq!(out.msa.size(), vec![4, 7, e.msa_channel]);
        assert_eq!(out.pair.size(), vec![7, 7, e.pair_channel]);
        assert_eq!(out.single.size(), vec![7, e.seq_channel]);
        let chunked =
            run(&trunk, &batch, &cfg, &RuntimeOptions { chunk_size: Some(2), ..Default::default() });
        assert!(out.pair.allclose(&chunked.pair, 1e-4, 1e-4, false));
        assert!(out.single.allclose(&chunked.single, 1e-4, 1e-4, false));
        let no_templates = TrunkBatch::tiny_random(7, 4, 5, None);
        let err = trunk.forward(&no_templates, &Recycled::zeros(7, e, FLOAT), &opts).unwrap_err();
        assert!(err.to_string().contains("lacks"), "{err}");
    }

    /// A padded residue (all masks 0) must not influence the real residues' representations.
    #[test]
    fn padding_does_not_leak_into_real_residues() {
        tch::manual_seed(2);
        let cfg = tiny_nonzero();
        let vs = nn::VarStore::new(Device::Cpu);
        let trunk = EmbeddingsAndEvoformer::new(vs.root(), &cfg);
        let n = 6;
        let pad = |batch: &mut TrunkBatch| {
            let _ = batch.seq_mask.narrow(0, n - 1, 1).fill_(0.0);
            let _ = batch.msa_mask.narrow(1, n - 1, 1).fill_(0.0);
            let _ = batch.extra_msa_mask.narrow(1, n - 1, 1).fill_(0.0);
            let t = batch.templates.as_mut().unwrap();
            let _ = t.template_all_atom_masks.narrow(1, n - 1, 1).fill_(0.0);
            let _ = t.template_pseudo_beta_mask.narrow(1, n - 1, 1).fill_(0.0);
            let _ = t.template_torsion_angles_mask.narrow(1, n - 1, 1).fill_(0.0);
        };
        let mut a = TrunkBatch::tiny_random(n, 3, 4, Some(2));
        pad(&mut a);
        let mut b = TrunkBatch {
            msa_feat: a.msa_feat.copy(),
            target_feat: a.target_feat.copy(),
            ..TrunkBatch::tiny_random(n, 3, 4, Some(2))
        };
        b.aatype = a.aatype.copy();
        b.residue_index = a.residue_index.copy();
        b.extra_msa = a.extra_msa.copy();
        b.templates = a.templates.as_ref().map(|t| TemplateBatch {
            template_aatype: t.template_aatype.copy(),
            template_all_atom_positions: t.template_all_atom_positions.copy(),
            template_all_atom_masks: t.template_all_atom_masks.copy(),
            template_pseudo_beta: t.template_pseudo_beta.copy(),
            template_pseudo_beta_mask: t.template_pseudo_beta_mask.copy(),
            template_mask: t.template_mask.copy(),
            template_torsion_angles_sin_cos: t.template_torsion_angles_sin_cos.copy(),
            template_alt_torsion_angles_sin_cos: t.template_alt_torsion_angles_sin_cos.copy(),
            template_torsion_angles_mask: t.template_torsion_angles_mask.copy(),
        });
        pad(&mut b);
        // Change everything about the padded residue.
        let _ = b.msa_feat.narrow(1, n - 1, 1).fill_(3.0);
        let _ = b.target_feat.narrow(0, n - 1, 1).fill_(1.0);
        let _ = b.templates.as_mut().unwrap().template_pseudo_beta.narrow(1, n - 1, 1).fill_(50.0);
        let opts = RuntimeOptions::default();
        let (oa, ob) = (run(&trunk, &a, &cfg, &opts), run(&trunk, &b, &cfg, &opts));
        let real =
            |t: &Tensor, dims: &[i64]| dims.iter().fold(t.shallow_clone(), |x, &d| x.narrow(d, 0, n - 1));
        assert!(real(&oa.pair, &[0, 1]).allclose(&real(&ob.pair, &[0, 1]), 1e-4, 1e-4, false));
        assert!(real(&oa.single, &[0]).allclose(&real(&ob.single, &[0]), 1e-4, 1e-4, false));
        assert!(real(&oa.msa, &[1]).allclose(&real(&ob.msa, &[1]), 1e-4, 1e-4, false));
    }

    /// Recomputation under a (one-rank) DAP group: the stacks' blocks replay inside sharded
    /// passes of their own, between the pass's collectives' duals, and give exactly the
    /// gradients of the same sharded pass that keeps its activations (a missed replay or dual
    /// would lose or double gradients). The sharded pass against one process is
    /// `tests/parallel_dap.rs`.
    #[test]
    fn recomputation_under_dap_gives_the_kept_activations_gradients() {
        use crate::parallel::sharding::{run_sharded, single_rank_group, ShardingGroups};
        let cfg = tiny_nonzero();
        let vs = nn::VarStore::new(Device::Cpu);
        let trunk = EmbeddingsAndEvoformer::new(vs.root(), &cfg);
        let batch = TrunkBatch::tiny_random(5, 2, 3, Some(1));
        let prev = Recycled::zeros(5, &cfg.embeddings_and_evoformer, FLOAT);
        let groups = ShardingGroups::dap(single_rank_group());
        let gradients = |recompute: bool| -> Vec<Tensor> {
            let opts = RuntimeOptions { recompute, ..Default::default() };
            let (outcome, collectives) = run_sharded(&groups, || trunk.forward(&batch, &prev, &opts)).unwrap();
            let mut out = outcome.unwrap();
            let tape = std::mem::take(&mut out.recompute_tape);
            assert_eq!(tape.num_blocks() > 0, recompute);
            let objective = (&out.pair * out.pair.ones_like().cumsum(-1, Kind::Float)).sum(Kind::Float) + out.single.sum(Kind::Float);
            tape.backward_sharded(collectives, &objective).unwrap();
            let variables = vs.trainable_variables();
            let grads: Vec<Tensor> = variables.iter().map(|v| v.grad().copy()).collect();
            for variable in variables {
                let _ = variable.grad().zero_();
            }
            grads
        };
        let kept = gradients(false);
        let recomputed = gradients(true);
        let reached = kept.iter().filter(|g| g.abs().max().double_value(&[]) > 0.0).count();
        assert!(reached > 100, "the objective reaches the parameters ({reached})");
        for (kept, recomputed) in kept.iter().zip(&recomputed) {
            assert!(recomputed.equal(kept), "differs by {:?}", (recomputed - kept).abs().max());
        }
    }

    #[test]
    fn from_arrays_names_a_missing_feature() {
        let mut arrays = BTreeMap::new();
        arrays.insert("aatype".to_string(), Tensor::zeros([3], (Kind::Int64, Device::Cpu)));
        let err = TrunkBatch::from_arrays(&arrays).unwrap_err().to_string();
        assert!(err.contains("batch lacks feature 'target_feat'"), "{err}");
        arrays.insert("template_aatype".to_string(), Tensor::zeros([1, 3], (Kind::Int64, Device::Cpu)));
        let err = TrunkBatch::from_arrays(&arrays).unwrap_err().to_string();
        assert!(err.contains("'template_all_atom_positions'"), "{err}");
    }

    /// A second iteration fed with the first one's outputs differs from it, and the recycled
    /// tensors carry no gradient.
    #[test]
    fn recycling_feeds_back_without_gradients() {
        tch::manual_seed(7);
        let cfg = tiny_nonzero();
        let vs = nn::VarStore::new(Device::Cpu);
        let trunk = EmbeddingsAndEvoformer::new(vs.root(), &cfg);
        let batch = TrunkBatch::tiny_random(6, 3, 4, Some(2));
        let opts = RuntimeOptions::default();
        let first = run(&trunk, &batch, &cfg, &opts);
        let prev = first.recycled(&(Tensor::randn([6, 37, 3], FLOAT) * 8.0));
        assert!(!prev.prev_pair.requires_grad() && !prev.prev_msa_first_row.requires_grad());
        let second = trunk.forward(&batch, &prev, &opts).unwrap();
        assert_eq!(second.pair.size(), first.pair.size());
        assert!(!second.pair.allclose(&first.pair, 1e-3, 1e-3, false));
    }

    /// bf16 activations run through the stacks, the representations come out in fp32, and
    /// they track the fp32 result.
    #[test]
    fn bf16_precision_tracks_fp32() {
        tch::manual_seed(3);
        let cfg = tiny_nonzero();
        let vs = nn::VarStore::new(Device::Cpu);
        let trunk = EmbeddingsAndEvoformer::new(vs.root(), &cfg);
        let batch = TrunkBatch::tiny_random(6, 3, 4, Some(2));
        let fp32 = run(&trunk, &batch, &cfg, &RuntimeOptions::default());
        let opts = RuntimeOptions {
            precision: crate::model::config::Precision::Bf16,
            ..Default::default()
        };
        let bf16 = run(&trunk, &batch, &cfg, &opts);
        assert_eq!(bf16.pair.kind(), Kind::Float);
        assert_eq!(bf16.single.kind(), Kind::Float);
        let diff = (bf16.single.to_kind(Kind::Float) - &fp32.single).abs().max().double_value(&[]);
        let scale = fp32.single.abs().max().double_value(&[]);
        assert!(diff <= 0.1 * scale, "bf16 single differs by {diff} (scale {scale})");
    }

    /// The whole network's parameter count (trunk, structure module, heads) against
    /// /work/shared/DESIGN.md's counts on DeepMind's params: model_1_ptm 93,237,338, model_1
    /// 93,229,082, model_3_ptm 92,907,930.
    #[test]
    fn parameter_counts_match_alphafold() {
        for (name, count) in [("model_1_ptm", 93_237_338), ("model_1", 93_229_082), ("model_3_ptm", 92_907_930)] {
            let cfg = ModelConfig::preset(name).unwrap();
            let e = &cfg.embeddings_and_evoformer;
            let vs = nn::VarStore::new(Device::Cpu);
            let _trunk = EmbeddingsAndEvoformer::new(vs.root(), &cfg);
            let _structure = StructureModule::new(
                vs.root() / "structure_module",
                &cfg.heads.structure_module,
                e.seq_channel,
                e.pair_channel,
                &cfg.global_config,
            );
            let _heads = Heads::new(vs.root(), &cfg);
            assert_eq!(parameter_count(&vs), count, "{name}");
        }
    }
}
