//! The structure module, Jumper et al. (2021) Suppl. Alg. 20: from the single and pair
//! representations, eight layers sharing one set of weights (`fold_iteration`) refine
//! per-residue backbone frames — starting from identity ("black hole" initialisation) — with
//! invariant point attention (Alg. 22), a transition, and a backbone update (Alg. 23), and
//! predict torsions from which all atoms are placed (Alg. 24).
//!
//! Parameter names follow DeepMind's `StructureModule` / `FoldIteration`
//! (`alphafold/model/folding.py`): `single_layer_norm`, `initial_projection`,
//! `pair_layer_norm`, and under `fold_iteration`: `invariant_point_attention`,
//! `attention_layer_norm`, `transition`, `transition_1`, `transition_2`,
//! `transition_layer_norm`, `affine_update`, `rigid_sidechain`. Frames travel between layers
//! in units of `position_scale` Å (nanometres for AlphaFold's 10) and are reported in Å.
//! `*` are batch dimensions, `N` residues, `L` layers.
use super::config::{GlobalConfig, RuntimeOptions, StructureModuleConfig};
use super::invariant_point_attention::InvariantPointAttention;
use super::primitives::{Init, LayerNorm, Linear};
use super::rigid_sidechain::{repeated_module_name, RigidSidechain};
use crate::geometry::atom_maps::{atom14_to_atom37, Atom14Masks};
use crate::geometry::Rigid;
use tch::{nn, Tensor};

/// Size of AlphaFold's backbone update: quaternion vector part (b, c, d) and translation.
const BACKBONE_UPDATE_SIZE: i64 = 6;

/// Everything the structure module predicts.
#[derive(Debug)]
pub struct StructureModuleOutput {
    /// `[*, N, c]` single representation after the last layer (input of the pLDDT head).
    pub act: Tensor,
    /// Backbone frames after each layer, Å: batch `[L, *, N]` (AlphaFold's `traj`, which is
    /// `frames.to_tensor_7()`).
    pub frames: Rigid,
    /// Rigid-group frames after each layer, Å: batch `[L, *, N, 8]`.
    pub sidechain_frames: Rigid,
    /// `[L, *, N, 7, 2]` unit (sin, cos) torsions.
    pub angles_sin_cos: Tensor,
    /// `[L, *, N, 7, 2]` torsions before normalisation.
    pub unnormalized_angles_sin_cos: Tensor,
    /// `[L, *, N, 14, 3]` atom positions, Å.
    pub atom14_positions: Tensor,
    /// `[*, N, 14, 3]` the last layer's atom positions, Å.
    pub final_atom14_positions: Tensor,
    /// `[*, N, 14]` which atom14 slots exist.
    pub final_atom14_mask: Tensor,
    /// `[*, N, 37, 3]` the last layer's atom positions in atom37 layout, Å (zero where absent).
    pub final_atom_positions: Tensor,
    /// `[*, N, 37]` which atom37 atoms exist.
    pub final_atom_mask: Tensor,
}

/// One structure-module layer (Alg. 20 lines 6–21); the module applies it `num_layer` times.
#[derive(Debug)]
struct FoldIteration {
    invariant_point_attention: InvariantPointAttention,
    attention_layer_norm: LayerNorm,
    transition: Vec<Linear>,
    transition_layer_norm: LayerNorm,
    affine_update: Linear,
    rigid_sidechain: RigidSidechain,
}

/// What one layer hands to the next and reports.
struct LayerOutput {
    act: Tensor,
    /// In units of `position_scale` Å, rotations detached from the graph.
    next_frames: Rigid,
    /// In Å.
    frames: Rigid,
    sidechain: super::rigid_sidechain::SidechainOutput,
}

impl FoldIteration {
    fn new(p: nn::Path, cfg: &StructureModuleConfig, c_initial: i64, c_z: i64, global: &GlobalConfig) -> Self {
        let c = cfg.num_channel;
        let num_transition = cfg.num_layer_in_transition as usize;
        let transition = (0..num_transition)
            .map(|i| {
                let init = if i + 1 < num_transition { Init::Relu } else { Init::final_init(global) };
                Linear::new(&p / repeated_module_name("transition", i), c, c, init)
            })
            .collect();
        FoldIteration {
            invariant_point_attention: InvariantPointAttention::new(
                &p / "invariant_point_attention",
                cfg,
                c,
                c_z,
                global,
            ),
            attention_layer_norm: LayerNorm::new(&p / "attention_layer_norm", c),
            transition,
            transition_layer_norm: LayerNorm::new(&p / "transition_layer_norm", c),
            affine_update: Linear::new(&p / "affine_update", c, BACKBONE_UPDATE_SIZE, Init::final_init(global)),
            rigid_sidechain: RigidSidechain::new(&p / "rigid_sidechain", &cfg.sidechain, c, c_initial, global),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        act: &Tensor,
        frames: &Rigid,
        initial_act: &Tensor,
        pair: &Tensor,
        seq_mask: &Tensor,
        aatype: &Tensor,
        cfg: &StructureModuleConfig,
        dropout_active: bool,
    ) -> LayerOutput {
        let attended = act + self.invariant_point_attention.forward(act, pair, seq_mask, frames); // [*, N, c]
        let act = self.attention_layer_norm.forward(&attended.dropout(cfg.dropout, dropout_active));

        let mut hidden = act.shallow_clone();
        for (i, layer) in self.transition.iter().enumerate() {
            hidden = layer.forward(&hidden);
            if i + 1 < self.transition.len() {
                hidden = hidden.relu();
            }
        }
        let act = self.transition_layer_norm.forward(&(hidden + &act).dropout(cfg.dropout, dropout_active)); // [*, N, c]

        let frames = frames.compose_backbone_update(&self.affine_update.forward(&act)); // [*, N]
        let frames_angstrom = frames.scale_translation(cfg.position_scale);
        let sidechain = self.rigid_sidechain.forward(&frames_angstrom, &act, initial_act, aatype);
        LayerOutput { act, next_frames: frames.detach_rotation(), frames: frames_angstrom, sidechain }
    }
}

/// The structure module with its shared-weight layer.
#[derive(Debug)]
pub struct StructureModule {
    single_layer_norm: LayerNorm,
    initial_projection: Linear,
    pair_layer_norm: LayerNorm,
    fold_iteration: FoldIteration,
    cfg: StructureModuleConfig,
    global: GlobalConfig,
}

impl StructureModule {
    /// `c_s`: channels of the single representation, `c_z`: of the pair representation.
    pub fn new(p: nn::Path, cfg: &StructureModuleConfig, c_s: i64, c_z: i64, global: &GlobalConfig) -> Self {
        StructureModule {
            single_layer_norm: LayerNorm::new(&p / "single_layer_norm", c_s),
            initial_projection: Linear::new(&p / "initial_projection", c_s, cfg.num_channel, Init::Default),
            pair_layer_norm: LayerNorm::new(&p / "pair_layer_norm", c_z),
            fold_iteration: FoldIteration::new(&p / "fold_iteration", cfg, c_s, c_z, global),
            cfg: *cfg,
            global: *global,
        }
    }

    /// Predicts the structure from `single [*, N, c_s]`, `pair [*, N, N, c_z]`, residue types
    /// `aatype [*, N]`, `seq_mask [*, N]` and the atom maps of `aatype` (`make_atom14_masks`).
    pub fn forward(
        &self,
        single: &Tensor,
        pair: &Tensor,
        aatype: &Tensor,
        seq_mask: &Tensor,
        masks: &Atom14Masks,
        opts: &RuntimeOptions,
    ) -> StructureModuleOutput {
        let dropout_active = (opts.training || self.global.eval_dropout) && !self.global.deterministic;
        let initial_act = self.single_layer_norm.forward(single); // [*, N, c_s]
        let mut act = self.initial_projection.forward(&initial_act); // [*, N, c]
        let pair = self.pair_layer_norm.forward(pair); // [*, N, N, c_z]
        let mut batch = single.size();
        batch.pop();
        let mut frames = Rigid::identity(&batch, (single.kind(), single.device())); // [*, N]

        let mut layers = Vec::with_capacity(self.cfg.num_layer as usize);
        for _ in 0..self.cfg.num_layer {
            let layer = self.fold_iteration.forward(
                &act,
                &frames,
                &initial_act,
                &pair,
                seq_mask,
                aatype,
                &self.cfg,
                dropout_active,
            );
            act = layer.act.shallow_clone();
            frames = layer.next_frames.clone();
            layers.push(layer);
        }

        let per_layer_frames: Vec<&Rigid> = layers.iter().map(|l| &l.frames).collect();
        let per_layer_sidechain_frames: Vec<&Rigid> = layers.iter().map(|l| &l.sidechain.frames).collect();
        let stack = |pick: fn(&LayerOutput) -> &Tensor| {
            let tensors: Vec<&Tensor> = layers.iter().map(pick).collect();
            Tensor::stack(&tensors, 0) // [L, ...]
        };
        let atom14_positions = stack(|l| &l.sidechain.atom14_positions); // [L, *, N, 14, 3]
        let final_atom14_positions = atom14_positions.get(self.cfg.num_layer - 1); // [*, N, 14, 3]
        StructureModuleOutput {
            act,
            frames: Rigid::stack(&per_layer_frames, 0), // [L, *, N]
            sidechain_frames: Rigid::stack(&per_layer_sidechain_frames, 0), // [L, *, N, 8]
            angles_sin_cos: stack(|l| &l.sidechain.angles_sin_cos), // [L, *, N, 7, 2]
            unnormalized_angles_sin_cos: stack(|l| &l.sidechain.unnormalized_angles_sin_cos),
            final_atom_positions: atom14_to_atom37(&final_atom14_positions, masks), // [*, N, 37, 3]
            final_atom_mask: masks.atom37_atom_exists.shallow_clone(),
            final_atom14_mask: masks.atom14_atom_exists.shallow_clone(),
            final_atom14_positions,
            atom14_positions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::atom_maps::make_atom14_masks;
    use crate::geometry::residue_tables::{gather_by_restype, restype_atom14_rigid_group_positions};
    use crate::model::config::ModelConfig;
    use tch::{Device, Kind};

    const CPU: (Kind, Device) = (Kind::Float, Device::Cpu);

    fn build(config: &ModelConfig, global: &GlobalConfig) -> (nn::VarStore, StructureModule) {
        let e = &config.embeddings_and_evoformer;
        let vs = nn::VarStore::new(Device::Cpu);
        let module = StructureModule::new(
            vs.root() / "structure_module",
            &config.heads.structure_module,
            e.seq_channel,
            e.pair_channel,
            global,
        );
        (vs, module)
    }

    #[test]
    fn parameter_count_and_names_match_alphafold() {
        // model_1's structure module in DeepMind's params_model_1.npz: single/pair layer norms
        // 768 + 256, initial_projection 384·384+384, IPA 1,256,472 (q_scalar 384·192+192,
        // kv_scalar 384·384+384, q_point_local 384·144+144, kv_point_local 384·432+432,
        // 12 point weights, attention_2d 128·12+12, output_projection 2112·384+384), two
        // layer norms 2·768, three transitions 3·(384·384+384), affine_update 384·6+6 and
        // rigid_sidechain 166,414 (two input projections 2·(384·128+128), four resblock
        // linears 4·(128·128+128), unnormalized_angles 128·14+14).
        let config = ModelConfig::preset("model_1").unwrap();
        let (vs, _module) = build(&config, &config.global_config);
        let count: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
        assert_eq!(count, 2_019_116);
        let names = vs.variables();
        for name in [
            "structure_module.single_layer_norm.scale",
            "structure_module.initial_projection.weights",
            "structure_module.pair_layer_norm.offset",
            "structure_module.fold_iteration.invariant_point_attention.trainable_point_weights",
            "structure_module.fold_iteration.transition_2.weights",
            "structure_module.fold_iteration.affine_update.bias",
            "structure_module.fold_iteration.rigid_sidechain.input_projection_1.weights",
            "structure_module.fold_iteration.rigid_sidechain.resblock2_1.weights",
            "structure_module.fold_iteration.rigid_sidechain.unnormalized_angles.bias",
        ] {
            assert!(names.contains_key(name), "missing {name}");
        }
    }

    #[test]
    fn outputs_have_documented_shapes() {
        tch::manual_seed(40);
        let config = ModelConfig::tiny();
        let global = GlobalConfig { zero_init: false, ..config.global_config };
        let (_vs, module) = build(&config, &global);
        let e = &config.embeddings_and_evoformer;
        let (b, n, l) = (2, 5, config.heads.structure_module.num_layer);
        let aatype = Tensor::randint(20, [b, n], (Kind::Int64, Device::Cpu));
        let out = module.forward(
            &Tensor::randn([b, n, e.seq_channel], CPU),
            &Tensor::randn([b, n, n, e.pair_channel], CPU),
            &aatype,
            &Tensor::ones([b, n], CPU),
            &make_atom14_masks(&aatype),
            &RuntimeOptions::default(),
        );
        assert_eq!(out.act.size(), [b, n, config.heads.structure_module.num_channel]);
        assert_eq!(out.frames.batch_shape(), [l, b, n]);
        assert_eq!(out.frames.to_tensor_7().size(), [l, b, n, 7]);
        assert_eq!(out.sidechain_frames.batch_shape(), [l, b, n, 8]);
        assert_eq!(out.angles_sin_cos.size(), [l, b, n, 7, 2]);
        assert_eq!(out.unnormalized_angles_sin_cos.size(), [l, b, n, 7, 2]);
        assert_eq!(out.atom14_positions.size(), [l, b, n, 14, 3]);
        assert_eq!(out.final_atom14_positions.size(), [b, n, 14, 3]);
        assert_eq!(out.final_atom_positions.size(), [b, n, 37, 3]);
        assert_eq!(out.final_atom_mask.size(), [b, n, 37]);
        let norms = out.angles_sin_cos.square().sum_dim_intlist(-1, false, None);
        assert!((norms - 1.0).abs().max().double_value(&[]) < 1e-5);
        // The backbone moved away from the identity start, and CA sits at the frame origin.
        let translations = out.frames.translation();
        assert!(translations.abs().max().double_value(&[]) > 1e-3);
        let ca = out.final_atom14_positions.select(-2, 1);
        assert!((ca - translations.get(l - 1)).abs().max().double_value(&[]) < 1e-4);
    }

    #[test]
    fn zero_initialised_module_keeps_identity_frames() {
        // With AlphaFold's zero initialisation (global_config.zero_init) the backbone update is
        // zero, so every layer's frame is the identity and each residue's backbone atoms N, CA,
        // C sit at their literature positions (residue_constants.rigid_group_atom_positions).
        tch::manual_seed(41);
        let config = ModelConfig::tiny();
        assert!(config.global_config.zero_init);
        let (_vs, module) = build(&config, &config.global_config);
        let e = &config.embeddings_and_evoformer;
        let n = 4;
        let aatype = Tensor::from_slice(&[0i64, 7, 17, 12]);
        let out = module.forward(
            &Tensor::randn([n, e.seq_channel], CPU),
            &Tensor::randn([n, n, e.pair_channel], CPU),
            &aatype,
            &Tensor::ones([n], CPU),
            &make_atom14_masks(&aatype),
            &RuntimeOptions::default(),
        );
        let identity = crate::geometry::Rigid::identity(&out.frames.batch_shape(), CPU);
        assert!((out.frames.to_tensor_4x4() - identity.to_tensor_4x4()).abs().max().double_value(&[]) < 1e-6);
        let literature = gather_by_restype(&restype_atom14_rigid_group_positions(Device::Cpu), &aatype);
        let backbone = out.final_atom14_positions.narrow(-2, 0, 3);
        assert!((backbone - literature.narrow(-2, 0, 3)).abs().max().double_value(&[]) < 1e-5);
    }

    /// AlphaFold's flat rigid layout `[*, 12]` (`r3.rigids_to_tensor_flat12`: the rotation
    /// row by row, then the translation).
    fn flat12(frames: &Rigid) -> Tensor {
        Tensor::cat(&[frames.rotation().matrices().flatten(-2, -1), frames.translation().shallow_clone()], -1)
    }

    #[test]
    fn matches_deepmind_structure_module() {
        // Reference: DeepMind's folding.StructureModule (alphafold 2.0.0, model_1_ptm sizes,
        // eval mode) on seeded random weights and representations, with the first 12 residues
        // of 1GCN (2 padded): case `structure_module` of tests/reference/make_reference.py.
        let Some(case) = crate::testing::reference_case("structure_module") else {
            return;
        };
        let config = ModelConfig::preset("model_1_ptm").unwrap();
        let (vs, module) = build(&config, &config.global_config);
        let read = |file: &str| crate::model::weights::read_haiku_npz(&case.join(file)).unwrap();
        crate::model::weights::load_haiku_params(&vs, &read("params.npz")).unwrap();
        let inputs = read("inputs.npz");
        let index = |name: &str| inputs[name].to_kind(Kind::Int64);
        let masks = Atom14Masks {
            atom14_atom_exists: inputs["atom14_atom_exists"].shallow_clone(),
            residx_atom14_to_atom37: index("residx_atom14_to_atom37"),
            residx_atom37_to_atom14: index("residx_atom37_to_atom14"),
            atom37_atom_exists: inputs["atom37_atom_exists"].shallow_clone(),
        };
        let out = module.forward(
            &inputs["representations/single"],
            &inputs["representations/pair"],
            &index("aatype"),
            &inputs["seq_mask"],
            &masks,
            &RuntimeOptions::default(),
        );
        let expected = read("outputs.npz");
        let traj = Rigid::from_tensor_7(&expected["traj"]).unwrap();
        let final_affines = Rigid::from_tensor_7(&expected["final_affines"]).unwrap();
        let last = out.frames.select(0, config.heads.structure_module.num_layer - 1);
        // (ours, DeepMind's, tolerance): positions in Å, everything else unitless.
        let comparisons = [
            ("act", out.act.shallow_clone(), expected["act"].shallow_clone(), 1e-3),
            ("traj", out.frames.to_tensor_4x4(), traj.to_tensor_4x4(), 1e-3),
            ("final_affines", last.to_tensor_4x4(), final_affines.to_tensor_4x4(), 1e-3),
            ("sidechains/frames", flat12(&out.sidechain_frames), expected["sidechains/frames"].shallow_clone(), 1e-3),
            (
                "sidechains/angles_sin_cos",
                out.angles_sin_cos,
                expected["sidechains/angles_sin_cos"].shallow_clone(),
                1e-4,
            ),
            (
                "sidechains/unnormalized_angles_sin_cos",
                out.unnormalized_angles_sin_cos,
                expected["sidechains/unnormalized_angles_sin_cos"].shallow_clone(),
                1e-3,
            ),
            ("sidechains/atom_pos", out.atom14_positions, expected["sidechains/atom_pos"].shallow_clone(), 1e-3),
            (
                "final_atom14_positions",
                out.final_atom14_positions,
                expected["final_atom14_positions"].shallow_clone(),
                1e-3,
            ),
            ("final_atom_positions", out.final_atom_positions, expected["final_atom_positions"].shallow_clone(), 1e-3),
            ("final_atom_mask", out.final_atom_mask, expected["final_atom_mask"].shallow_clone(), 0.0),
        ];
        for (name, ours, theirs, tolerance) in comparisons {
            assert_eq!(ours.size(), theirs.size(), "{name}");
            let error = (&ours - &theirs).abs().max().double_value(&[]);
            eprintln!("{name}: max |Δ| = {error:.2e}");
            assert!(error <= tolerance, "{name}: max |Δ| = {error} > {tolerance}");
        }
    }
}
