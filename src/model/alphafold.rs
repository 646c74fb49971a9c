//! The whole monomer network with recycling, Jumper et al. (2021) Suppl. Alg. 2 ("Inference"),
//! as DeepMind's `modules.AlphaFold` / `AlphaFoldIteration` (`alphafold/model/modules.py`) run it
//! at inference: iteration r (of `num_recycle + 1`) reads batch copy r, embeds the previous
//! iteration's final atom positions, first MSA row and pair representation (zeros at the first
//! iteration, gradients stopped), runs the trunk and the structure module; the heads run on the
//! last iteration only, whose outputs are returned by AlphaFold's names.
use super::capture;
use super::config::{ModelConfig, RuntimeOptions};
use super::confidence::{compute_plddt, compute_predicted_aligned_error, predicted_tm_score};
use super::embedders::Recycled;
use super::heads::Heads;
use super::recompute::RecomputeTape;
use super::structure_module::StructureModule;
use super::trunk::{EmbeddingsAndEvoformer, TrunkBatch};
use crate::geometry::atom_maps::make_atom14_masks;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use tch::{nn, Kind, Tensor};

/// Outputs by AlphaFold's names flattened with `/` (`distogram/logits`, `plddt`, ...).
pub type NamedOutputs = BTreeMap<String, Tensor>;

/// The network: trunk, structure module and heads under AlphaFold's haiku scopes.
#[derive(Debug)]
pub struct AlphaFold {
    pub trunk: EmbeddingsAndEvoformer,
    pub structure_module: StructureModule,
    pub heads: Heads,
    config: ModelConfig,
}

impl AlphaFold {
    /// Builds the preset's network under `p` (normally the VarStore root, which stands for
    /// haiku's `alphafold/alphafold_iteration`).
    pub fn new(p: nn::Path, config: &ModelConfig) -> Self {
        let e = &config.embeddings_and_evoformer;
        AlphaFold {
            trunk: EmbeddingsAndEvoformer::new(p.clone(), config),
            structure_module: StructureModule::new(
                &p / "structure_module",
                &config.heads.structure_module,
                e.seq_channel,
                e.pair_channel,
                &config.global_config,
            ),
            heads: Heads::new(p, config),
            config: config.clone(),
        }
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Runs `num_recycle + 1` iterations on `batch`, whose every feature has a leading recycle
    /// axis of at least `num_recycle + 1` copies (AlphaFold's processed batch), and returns the
    /// last iteration's outputs. `on_iteration(r)` is called after iteration r (for timing).
    /// With `opts.recompute` under grad mode the gradients need the tape: use
    /// [`Self::forward_with_tape`] (this is an error here).
    pub fn forward(
        &self,
        batch: &BTreeMap<String, Tensor>,
        num_recycle: i64,
        opts: &RuntimeOptions,
        on_iteration: impl FnMut(i64),
    ) -> Result<NamedOutputs> {
        let (outputs, tape) = self.forward_with_tape(batch, num_recycle, opts, on_iteration)?;
        if !tape.is_empty() {
            bail!(
                "recompute is on with gradients enabled: use forward_with_tape and call the tape's \
                 backward after the loss's"
            );
        }
        Ok(outputs)
    }

    /// [`Self::forward`] that also returns the last iteration's recomputation tape (earlier
    /// iterations run without gradients and record nothing). For training with
    /// `opts.recompute`: `loss.backward()`, then `tape.backward()`, then the optimizer step.
    /// The tape is empty (its `backward` a no-op) when recompute is off or gradients disabled.
    pub fn forward_with_tape(
        &self,
        batch: &BTreeMap<String, Tensor>,
        num_recycle: i64,
        opts: &RuntimeOptions,
        mut on_iteration: impl FnMut(i64),
    ) -> Result<(NamedOutputs, RecomputeTape<'_>)> {
        let last = self.last_iteration(batch, num_recycle, opts, &mut on_iteration)?;
        let outputs = self.heads_outputs(&last);
        on_iteration(num_recycle);
        Ok((outputs, last.trunk.recompute_tape))
    }

    /// The trunk and structure module of iteration `num_recycle` (batch copy `num_recycle`),
    /// after the earlier iterations have run without gradients and fed it their recycled
    /// outputs; gradients flow through this last iteration only (Suppl. 1.10), and with
    /// `opts.recompute` its trunk carries the recomputation tape. The heads are the caller's
    /// (inference confidences, or training losses). `on_iteration(r)` is called after each
    /// earlier iteration r.
    pub fn last_iteration(
        &self,
        batch: &BTreeMap<String, Tensor>,
        num_recycle: i64,
        opts: &RuntimeOptions,
        mut on_iteration: impl FnMut(i64),
    ) -> Result<Iteration<'_>> {
        if num_recycle < 0 {
            bail!("the number of recycles must not be negative (got {num_recycle})");
        }
        let aatype = batch.get("aatype").context("batch lacks feature 'aatype'")?;
        if aatype.dim() != 2 {
            bail!("batch feature 'aatype' must be [recycles + 1, N_res], got {:?}", aatype.size());
        }
        let copies = aatype.size()[0];
        if copies < num_recycle + 1 {
            bail!("the batch has {copies} recycle copies but {} iterations were asked for", num_recycle + 1);
        }
        let n_res = aatype.size()[1];
        let kind = opts.precision.kind();
        let mut prev = Recycled::zeros(n_res, &self.config.embeddings_and_evoformer, (kind, aatype.device()));
        for r in 0..num_recycle {
            let copy = batch_copy(batch, r)?;
            prev = tch::no_grad(|| -> Result<Recycled> {
                let iteration = self.iteration(&copy, r, &prev, opts)?;
                Ok(iteration.trunk.recycled(&iteration.structure.final_atom_positions))
            })?;
            on_iteration(r);
        }
        let copy = batch_copy(batch, num_recycle)?;
        self.iteration(&copy, num_recycle, &prev, opts)
    }

    /// One pass of trunk and structure module on batch copy `recycle`; an active capture
    /// (`model::capture`) sees its outputs and structure trajectory.
    fn iteration(
        &self,
        copy: &BTreeMap<String, Tensor>,
        recycle: i64,
        prev: &Recycled,
        opts: &RuntimeOptions,
    ) -> Result<Iteration<'_>> {
        capture::enter_recycle(recycle);
        let batch = TrunkBatch::from_arrays(copy)?;
        let trunk = self.trunk.forward(&batch, prev, opts)?;
        let aatype = batch.aatype.to_kind(Kind::Int64);
        let masks = make_atom14_masks(&aatype);
        let structure = self.structure_module.forward(
            &trunk.single,
            &trunk.pair,
            &aatype,
            &batch.seq_mask.to_kind(trunk.single.kind()),
            &masks,
            opts,
        );
        capture::record_structure_layers(&structure.frames);
        capture::record_recycle(&trunk.pair, &trunk.single, &trunk.msa_first_row, &structure.final_atom_positions);
        Ok(Iteration { trunk, structure })
    }

    /// The heads and confidence metrics of the last iteration, by AlphaFold's names.
    fn heads_outputs(&self, last: &Iteration) -> NamedOutputs {
        let float = |t: &Tensor| t.to_kind(Kind::Float);
        let (trunk, structure) = (&last.trunk, &last.structure);
        let heads = &self.heads;
        let device = trunk.pair.device();
        let mut out = NamedOutputs::new();
        let mut put = |name: &str, t: Tensor| {
            out.insert(name.to_string(), t);
        };
        put("distogram/logits", float(&heads.distogram.forward(&trunk.pair)));
        put("distogram/bin_edges", heads.distogram.bin_edges().to_device(device));
        put("masked_msa/logits", float(&heads.masked_msa.forward(&trunk.msa)));
        let lddt_logits = float(&heads.predicted_lddt.forward(&structure.act));
        put("plddt", float(&compute_plddt(&lddt_logits)));
        put("predicted_lddt/logits", lddt_logits);
        put("experimentally_resolved/logits", float(&heads.experimentally_resolved.forward(&trunk.single)));
        put("structure_module/final_atom_positions", float(&structure.final_atom_positions));
        put("structure_module/final_atom_mask", float(&structure.final_atom_mask));
        put("representations/single", float(&trunk.single));
        put("representations/pair", float(&trunk.pair));
        put("representations/msa", float(&trunk.msa));
        put("representations/msa_first_row", float(&trunk.msa_first_row));
        put("representations/structure_module", float(&structure.act));
        if let Some(pae_head) = &heads.predicted_aligned_error {
            let logits = float(&pae_head.forward(&trunk.pair));
            let breaks = pae_head.breaks().to_kind(Kind::Float).to_device(device);
            let aligned = compute_predicted_aligned_error(&logits, &breaks);
            let ptm = predicted_tm_score(&logits, &breaks, None);
            put("predicted_aligned_error", float(&aligned.predicted_aligned_error));
            put(
                "max_predicted_aligned_error",
                Tensor::from(aligned.max_predicted_aligned_error as f32).to_device(device),
            );
            put("ptm", Tensor::from(ptm as f32).to_device(device));
            put("predicted_aligned_error/logits", logits);
            put("predicted_aligned_error/breaks", breaks);
        }
        out
    }
}

/// One iteration's trunk and structure-module results.
pub struct Iteration<'a> {
    pub trunk: super::trunk::TrunkOutput<'a>,
    pub structure: super::structure_module::StructureModuleOutput,
}

/// Copy `r` of every feature (AlphaFold's `slice_recycle_idx`), naming a feature without it.
pub fn batch_copy(batch: &BTreeMap<String, Tensor>, r: i64) -> Result<BTreeMap<String, Tensor>> {
    batch
        .iter()
        .map(|(name, t)| {
            if t.dim() == 0 || t.size()[0] <= r {
                bail!("batch feature '{name}' of shape {:?} has no recycle copy {r}", t.size());
            }
            Ok((name.clone(), t.get(r)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::weights::parameter_count;
    use tch::Device;

    fn tiny_batch(copies: i64, n_res: i64) -> BTreeMap<String, Tensor> {
        TrunkBatch::tiny_random(n_res, 4, 6, Some(2)).to_recycled_arrays(copies)
    }

    #[test]
    fn tiny_model_gives_every_output_with_alphafold_shapes() {
        tch::manual_seed(0);
        let cfg = ModelConfig::tiny();
        let vs = nn::VarStore::new(Device::Cpu);
        let model = AlphaFold::new(vs.root(), &cfg);
        assert!(parameter_count(&vs) > 0);
        let mut seen = Vec::new();
        let out = model.forward(&tiny_batch(2, 10), 1, &RuntimeOptions::default(), |r| seen.push(r)).unwrap();
        assert_eq!(seen, [0, 1]);
        let shape = |k: &str| out[k].size();
        assert_eq!(shape("distogram/logits"), [10, 10, 64]);
        assert_eq!(shape("masked_msa/logits"), [4, 10, 23]);
        assert_eq!(shape("structure_module/final_atom_positions"), [10, 37, 3]);
        assert_eq!(shape("plddt"), [10]);
        assert_eq!(shape("predicted_aligned_error"), [10, 10]);
        let ptm = out["ptm"].double_value(&[]);
        assert!((0.0..=1.0).contains(&ptm), "ptm {ptm}");
    }

    /// A captured inference gives the same outputs, bit for bit, as an ordinary one, and what it
    /// records coincides with those outputs where they meet: the last block's pair is the trunk's
    /// pair, the last iteration's Cα are the final atoms', as are the last structure layer's.
    #[test]
    fn capture_records_without_changing_outputs() {
        use crate::model::capture::{with_capture, AttentionModule, AttentionRequest, CaptureRequest, Stack};
        tch::manual_seed(0);
        let mut cfg = ModelConfig::tiny();
        cfg.global_config.zero_init = false;
        let vs = nn::VarStore::new(Device::Cpu);
        let model = AlphaFold::new(vs.root(), &cfg);
        let batch = tiny_batch(2, 9);
        let opts = RuntimeOptions::default();
        let plain = tch::no_grad(|| model.forward(&batch, 1, &opts, |_| {}).unwrap());
        let request = CaptureRequest {
            attention: Some(AttentionRequest {
                stack: Stack::Evoformer,
                module: AttentionModule::TriangleStart,
                block: cfg.embeddings_and_evoformer.evoformer_num_block - 1,
                index: Some(2),
            }),
            evoformer_blocks: true,
            recycles: true,
            structure_layers: true,
            recycle: None,
        };
        let (captured_run, captured) =
            with_capture(&request, || tch::no_grad(|| model.forward(&batch, 1, &opts, |_| {}).unwrap()));
        assert_eq!(plain.keys().collect::<Vec<_>>(), captured_run.keys().collect::<Vec<_>>());
        for (name, value) in &plain {
            assert!(value.equal(&captured_run[name]), "{name} changed under capture");
        }
        let blocks = &captured.evoformer_blocks;
        assert_eq!(blocks.len() as i64, cfg.embeddings_and_evoformer.evoformer_num_block);
        let last = blocks.last().unwrap();
        assert!(last.pair.equal(&plain["representations/pair"]));
        assert!(last.msa.get(0).equal(&plain["representations/msa_first_row"]));
        assert_eq!(captured.recycles.len(), 2);
        let final_ca = plain["structure_module/final_atom_positions"].select(1, 1);
        let last_recycle = captured.recycles.last().unwrap();
        assert!(last_recycle.pair.equal(&plain["representations/pair"]));
        assert!(last_recycle.single.equal(&plain["representations/single"]));
        assert!(last_recycle.ca_positions.equal(&final_ca));
        assert!(!captured.recycles[0].pair.equal(&last_recycle.pair));
        let layers = captured.structure_layers.unwrap();
        let num_layer = cfg.heads.structure_module.num_layer;
        assert_eq!(layers.ca_positions.size(), [num_layer, 9, 3]);
        assert_eq!(layers.frames.size(), [num_layer, 9, 7]);
        assert!(layers.ca_positions.get(num_layer - 1).allclose(&final_ca, 1e-5, 1e-4, false));
        let heads = cfg.embeddings_and_evoformer.evoformer.triangle_attention_starting_node.num_head;
        let attention = captured.attention.unwrap();
        assert_eq!(attention.size(), [heads, 9, 9]);
        let row_sums = attention.sum_dim_intlist(-1, false, Kind::Float);
        assert!(row_sums.allclose(&Tensor::ones([heads, 9], (Kind::Float, Device::Cpu)), 1e-5, 1e-5, false));
    }

    /// The chosen recycle's attention is kept, in every stack that has the module.
    #[test]
    fn capture_picks_the_requested_recycle_and_stack() {
        use crate::model::capture::{with_capture, AttentionModule, AttentionRequest, CaptureRequest, Stack};
        tch::manual_seed(5);
        let mut cfg = ModelConfig::tiny();
        cfg.global_config.zero_init = false;
        let vs = nn::VarStore::new(Device::Cpu);
        let model = AlphaFold::new(vs.root(), &cfg);
        let batch = tiny_batch(2, 7);
        let opts = RuntimeOptions::default();
        let attention = |stack, module, index, recycle| {
            let request = CaptureRequest {
                attention: Some(AttentionRequest { stack, module, block: 0, index }),
                recycle,
                ..Default::default()
            };
            let (_, captured) =
                with_capture(&request, || tch::no_grad(|| model.forward(&batch, 1, &opts, |_| {}).unwrap()));
            captured.attention
        };
        let first = attention(Stack::Evoformer, AttentionModule::MsaRow, Some(0), Some(0)).unwrap();
        let last = attention(Stack::Evoformer, AttentionModule::MsaRow, Some(0), None).unwrap();
        assert!(!first.allclose(&last, 1e-6, 1e-6, false));
        let column = attention(Stack::Evoformer, AttentionModule::MsaColumn, Some(3), None).unwrap();
        // The template torsion rows join the MSA (tiny embeds torsion angles).
        let n_seq = batch["msa_feat"].size()[1] + batch["template_aatype"].size()[1];
        assert_eq!(column.size()[1..], [n_seq, n_seq]);
        assert!(attention(Stack::ExtraMsa, AttentionModule::MsaRow, None, None).is_some());
        assert!(attention(Stack::TemplatePair, AttentionModule::TriangleEnd, Some(1), None).is_some());
        assert!(attention(Stack::Evoformer, AttentionModule::MsaRow, Some(99), None).is_none());
    }

    #[test]
    fn too_few_recycle_copies_is_an_error() {
        let cfg = ModelConfig::tiny();
        let vs = nn::VarStore::new(Device::Cpu);
        let model = AlphaFold::new(vs.root(), &cfg);
        let err = model.forward(&tiny_batch(1, 6), 1, &RuntimeOptions::default(), |_| {}).unwrap_err();
        assert!(err.to_string().contains("1 recycle copies but 2 iterations"), "{err}");
    }
}
