//! Invariant point attention (IPA), Jumper et al. (2021) Suppl. Alg. 22: attention over
//! residues whose logits combine scalar query–key products, distances between query and key
//! points placed in the global frame by each residue's backbone frame, and a pair-representation
//! bias; its outputs are read back into each residue's local frame, so the result is invariant
//! to any global rigid motion of the frames.
//!
//! Parameter names and layouts are those of DeepMind's `InvariantPointAttention`
//! (`alphafold/model/folding.py`): point projections produce `[3, H, P]` (x, y, z blocks) on
//! their output axis, `kv_*` produce keys before values per head. `*` are batch dimensions,
//! `N` residues, `H` heads.
use super::config::{GlobalConfig, StructureModuleConfig};
use super::primitives::{param, Init, Linear};
use crate::geometry::Rigid;
use tch::{nn, Kind, Tensor};

/// Keeps the length of the output points differentiable at zero (`dist_epsilon` in AlphaFold).
const DISTANCE_EPSILON: f64 = 1e-8;
/// Logit penalty for pairs with a padded residue (AlphaFold's `1e5 * (1 - mask_2d)`).
const MASK_PENALTY: f64 = 1e5;

/// Invariant point attention over `[*, N, c_s]` with a `[*, N, N, c_z]` pair bias.
#[derive(Debug)]
pub struct InvariantPointAttention {
    q_scalar: Linear,
    kv_scalar: Linear,
    q_point_local: Linear,
    kv_point_local: Linear,
    /// `[H]`, passed through softplus (γ^h of Alg. 22).
    trainable_point_weights: Tensor,
    attention_2d: Linear,
    output_projection: Linear,
    num_head: i64,
    num_scalar_qk: i64,
    num_scalar_v: i64,
    num_point_qk: i64,
    num_point_v: i64,
}

/// Splits `[*, N, 3·H·P]` (x, y, z blocks) into points `[*, N, H, P, 3]`.
fn to_points(projected: &Tensor, num_head: i64, num_points: i64) -> Tensor {
    let xyz = projected.chunk(3, -1); // 3 × [*, N, H·P]
    let mut shape = projected.size();
    shape.pop();
    shape.extend([num_head, num_points, 3]);
    Tensor::stack(&xyz, -1).reshape(shape) // [*, N, H, P, 3]
}

impl InvariantPointAttention {
    /// `c_s`: single (and output) channels, `c_z`: pair channels.
    pub fn new(p: nn::Path, cfg: &StructureModuleConfig, c_s: i64, c_z: i64, global: &GlobalConfig) -> Self {
        let h = cfg.num_head;
        let (c_qk, c_v, p_qk, p_v) = (cfg.num_scalar_qk, cfg.num_scalar_v, cfg.num_point_qk, cfg.num_point_v);
        let c_out_features = h * (c_v + 4 * p_v + c_z);
        // softplus(log(e - 1)) = 1: every head starts with unit point weight.
        let softplus_one = (std::f64::consts::E - 1.0).ln();
        InvariantPointAttention {
            q_scalar: Linear::new(&p / "q_scalar", c_s, h * c_qk, Init::Default),
            kv_scalar: Linear::new(&p / "kv_scalar", c_s, h * (c_qk + c_v), Init::Default),
            q_point_local: Linear::new(&p / "q_point_local", c_s, h * 3 * p_qk, Init::Default),
            kv_point_local: Linear::new(&p / "kv_point_local", c_s, h * 3 * (p_qk + p_v), Init::Default),
            trainable_point_weights: param(
                &p,
                "trainable_point_weights",
                &Tensor::full([h], softplus_one, (Kind::Float, tch::Device::Cpu)),
            ),
            attention_2d: Linear::new(&p / "attention_2d", c_z, h, Init::Default),
            output_projection: Linear::new(&p / "output_projection", c_out_features, c_s, Init::final_init(global)),
            num_head: h,
            num_scalar_qk: c_qk,
            num_scalar_v: c_v,
            num_point_qk: p_qk,
            num_point_v: p_v,
        }
    }

    /// Updates `single [*, N, c_s]` given `pair [*, N, N, c_z]`, `mask [*, N]` (1 for real
    /// residues) and backbone `frames [*, N]` (in the structure module's nanometre units).
    /// Returns `[*, N, c_s]`.
    pub fn forward(&self, single: &Tensor, pair: &Tensor, mask: &Tensor, frames: &Rigid) -> Tensor {
        let (h, c_qk, c_v, p_qk, p_v) =
            (self.num_head, self.num_scalar_qk, self.num_scalar_v, self.num_point_qk, self.num_point_v);
        let mut head_shape = single.size();
        head_shape.pop();
        head_shape.push(h);

        // Scalar queries, keys and values, heads before residues.
        let q = self.q_scalar.forward(single).reshape([head_shape.as_slice(), &[c_qk]].concat()); // [*, N, H, C_qk]
        let kv = self.kv_scalar.forward(single).reshape([head_shape.as_slice(), &[c_qk + c_v]].concat()); // [*, N, H, C_qk + C_v]
        let k = kv.narrow(-1, 0, c_qk); // [*, N, H, C_qk]
        let v = kv.narrow(-1, c_qk, c_v); // [*, N, H, C_v]

        // Points in the global frame (Alg. 22 lines 2–3).
        let frames_per_point = frames.unsqueeze(-1).unsqueeze(-1); // [*, N, 1, 1]
        let q_points = frames_per_point.apply(&to_points(&self.q_point_local.forward(single), h, p_qk)); // [*, N, H, P_qk, 3]
        let kv_points = frames_per_point.apply(&to_points(&self.kv_point_local.forward(single), h, p_qk + p_v)); // [*, N, H, P_qk + P_v, 3]
        let k_points = kv_points.narrow(-2, 0, p_qk); // [*, N, H, P_qk, 3]
        let v_points = kv_points.narrow(-2, p_qk, p_v); // [*, N, H, P_v, 3]

        // Each of the three logit terms is scaled to unit variance, then by w_L = √(1/3)
        // (Alg. 22 line 7 and its footnote; the 9/2 is the variance of a squared distance
        // between two points with unit-variance coordinates).
        let scalar_weight = (1.0 / (3.0 * c_qk.max(1) as f64)).sqrt();
        let point_weight = (1.0 / (3.0 * p_qk.max(1) as f64 * 9.0 / 2.0)).sqrt();
        let pair_weight = (1.0 / 3.0f64).sqrt();

        let q_heads = (q * scalar_weight).transpose(-2, -3); // [*, H, N, C_qk]
        let k_heads = k.transpose(-2, -3); // [*, H, N, C_qk]
        let scalar_logits = q_heads.matmul(&k_heads.transpose(-1, -2)); // [*, H, N, N]

        let point_weights = self.trainable_point_weights.to_kind(single.kind()).softplus() * point_weight; // [H]
        let difference = q_points.unsqueeze(-4) - k_points.unsqueeze(-5); // [*, N, N, H, P_qk, 3]
        let squared_distance = difference.square().sum_dim_intlist([-1i64, -2].as_slice(), false, None); // [*, N, N, H]
        let point_logits = (squared_distance * point_weights * -0.5).movedim(-1, -3); // [*, H, N, N]

        let pair_logits = self.attention_2d.forward(pair).movedim(-1, -3) * pair_weight; // [*, H, N, N]

        let mask = mask.to_kind(single.kind());
        let mask_2d = (mask.unsqueeze(-1) * mask.unsqueeze(-2)).unsqueeze(-3); // [*, 1, N, N]
        let pad_penalty = (mask_2d - 1.0) * MASK_PENALTY; // 0 for real pairs, -1e5 with padding: [*, 1, N, N]
        let logits = scalar_logits + point_logits + pair_logits + pad_penalty; // [*, H, N, N]
        let attention = logits.softmax(-1, None::<Kind>); // [*, H, N, N]

        // Outputs (Alg. 22 lines 8–11).
        let result_scalar = attention.matmul(&v.transpose(-2, -3)).transpose(-2, -3); // [*, N, H, C_v]
        let result_scalar = result_scalar.flatten(-2, -1); // [*, N, H·C_v]

        let v_points_heads = v_points.flatten(-2, -1).transpose(-2, -3); // [*, H, N, P_v·3]
        let result_points = attention.matmul(&v_points_heads).transpose(-2, -3); // [*, N, H, P_v·3]
        let mut point_shape = result_points.size();
        point_shape.truncate(point_shape.len() - 2);
        point_shape.extend([h * p_v, 3]);
        let result_points = result_points.reshape(point_shape); // [*, N, H·P_v, 3]
        let result_points_local = frames.unsqueeze(-1).invert_apply(&result_points); // [*, N, H·P_v, 3]
        let result_point_norm =
            (result_points_local.square().sum_dim_intlist(-1, false, None) + DISTANCE_EPSILON).sqrt(); // [*, N, H·P_v]

        let result_pair = Tensor::einsum("...hij,...ijc->...ihc", &[&attention, pair], None::<i64>); // [*, N, H, c_z]
        let result_pair = result_pair.flatten(-2, -1); // [*, N, H·c_z]

        let xyz = result_points_local.unbind(-1); // 3 × [*, N, H·P_v]
        let features = Tensor::cat(&[&result_scalar, &xyz[0], &xyz[1], &xyz[2], &result_point_norm, &result_pair], -1); // [*, N, H·(C_v + 4·P_v + c_z)]
        self.output_projection.forward(&features) // [*, N, c_s]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Rotation;
    use crate::model::config::ModelConfig;
    use tch::Device;

    const CPU: (Kind, Device) = (Kind::Float, Device::Cpu);

    /// Tiny IPA with lecun-initialised output projection (AlphaFold's zero init would make every
    /// output zero and the checks below vacuous).
    fn tiny() -> (nn::VarStore, InvariantPointAttention, i64, i64) {
        let config = ModelConfig::tiny();
        let global = GlobalConfig { zero_init: false, ..config.global_config };
        let cfg = config.heads.structure_module;
        let c_z = config.embeddings_and_evoformer.pair_channel;
        let vs = nn::VarStore::new(Device::Cpu);
        let ipa =
            InvariantPointAttention::new(vs.root() / "invariant_point_attention", &cfg, cfg.num_channel, c_z, &global);
        (vs, ipa, cfg.num_channel, c_z)
    }

    fn random_frames(batch: &[i64], translation_scale: f64) -> Rigid {
        let mut shape = batch.to_vec();
        shape.push(4);
        let rotation = Rotation::from_quaternions(&Tensor::randn(&shape, CPU), true).unwrap();
        shape.pop();
        shape.push(3);
        Rigid::new(rotation, Tensor::randn(shape, CPU) * translation_scale).unwrap()
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    #[test]
    fn shapes_and_parameter_names() {
        tch::manual_seed(30);
        let (vs, ipa, c_s, c_z) = tiny();
        let (b, n) = (2, 5);
        let out = ipa.forward(
            &Tensor::randn([b, n, c_s], CPU),
            &Tensor::randn([b, n, n, c_z], CPU),
            &Tensor::ones([b, n], CPU),
            &random_frames(&[b, n], 1.0),
        );
        assert_eq!(out.size(), [b, n, c_s]);
        let mut names: Vec<String> = vs.variables().into_keys().collect();
        names.sort();
        let prefix = "invariant_point_attention.";
        let expected = [
            "attention_2d.bias",
            "attention_2d.weights",
            "kv_point_local.bias",
            "kv_point_local.weights",
            "kv_scalar.bias",
            "kv_scalar.weights",
            "output_projection.bias",
            "output_projection.weights",
            "q_point_local.bias",
            "q_point_local.weights",
            "q_scalar.bias",
            "q_scalar.weights",
            "trainable_point_weights",
        ];
        let expected: Vec<String> = expected.iter().map(|n| format!("{prefix}{n}")).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn output_is_invariant_to_a_global_rigid_motion() {
        // Alg. 22's defining property: moving every frame by one rigid transform leaves the
        // output unchanged (the point terms use distances, and results are read back locally).
        tch::manual_seed(31);
        let (_vs, ipa, c_s, c_z) = tiny();
        let n = 7;
        let single = Tensor::randn([n, c_s], CPU);
        let pair = Tensor::randn([n, n, c_z], CPU);
        let mask = Tensor::ones([n], CPU);
        let frames = random_frames(&[n], 2.0);
        let motion = random_frames(&[], 5.0);
        let moved = motion.unsqueeze(0).compose(&frames);
        let out = ipa.forward(&single, &pair, &mask, &frames);
        let out_moved = ipa.forward(&single, &pair, &mask, &moved);
        assert!(out.abs().max().double_value(&[]) > 1e-3, "the output must not be trivially zero");
        assert!(max_abs_diff(&out, &out_moved) < 1e-4);
        // Moving frames independently per residue does change it.
        let scrambled = random_frames(&[n], 5.0).compose(&frames);
        assert!(max_abs_diff(&out, &ipa.forward(&single, &pair, &mask, &scrambled)) > 1e-3);
    }

    #[test]
    fn padded_residues_do_not_influence_real_ones() {
        tch::manual_seed(32);
        let (_vs, ipa, c_s, c_z) = tiny();
        let n = 6;
        let single = Tensor::randn([n, c_s], CPU);
        let pair = Tensor::randn([n, n, c_z], CPU);
        let mask = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 1.0, 0.0, 0.0]);
        let frames = random_frames(&[n], 1.0);
        let out = ipa.forward(&single, &pair, &mask, &frames);
        let changed_single = single.copy();
        let mut padded_rows = changed_single.narrow(0, 4, 2); // a view into `changed_single`
        padded_rows.copy_(&Tensor::randn([2, c_s], CPU));
        let out_changed = ipa.forward(&changed_single, &pair, &mask, &frames);
        assert!(max_abs_diff(&out.narrow(0, 0, 4), &out_changed.narrow(0, 0, 4)) < 1e-5);
        // Batching: the same residues as one item of a batch of two give the same result.
        let batched = ipa.forward(
            &Tensor::stack(&[&single, &changed_single], 0),
            &Tensor::stack(&[&pair, &pair], 0),
            &Tensor::stack(&[&mask, &mask], 0),
            &Rigid::stack(&[&frames, &frames], 0),
        );
        assert!(max_abs_diff(&batched.get(0), &out) < 1e-5);
    }

    #[test]
    fn matches_deepmind_invariant_point_attention() {
        // Reference: DeepMind's folding.InvariantPointAttention (alphafold 2.0.0) on seeded
        // random weights and inputs, case `invariant_point_attention` of
        // tests/reference/make_reference.py (model_1_ptm sizes, 12 residues, 2 padded).
        let Some(case) = crate::testing::reference_case("invariant_point_attention") else {
            return;
        };
        let config = ModelConfig::preset("model_1_ptm").unwrap();
        let cfg = config.heads.structure_module;
        let vs = nn::VarStore::new(Device::Cpu);
        let ipa = InvariantPointAttention::new(
            vs.root() / "structure_module" / "fold_iteration" / "invariant_point_attention",
            &cfg,
            cfg.num_channel,
            config.embeddings_and_evoformer.pair_channel,
            &config.global_config,
        );
        let read = |file: &str| crate::model::weights::read_haiku_npz(&case.join(file)).unwrap();
        crate::model::weights::load_haiku_params(&vs, &read("params.npz")).unwrap();
        let inputs = read("inputs.npz");
        let frames = Rigid::from_tensor_7(&inputs["affine"]).unwrap();
        let out = ipa.forward(&inputs["inputs_1d"], &inputs["inputs_2d"], &inputs["mask"].squeeze_dim(-1), &frames);
        let expected = &read("outputs.npz")["output"];
        let scale = expected.abs().max().double_value(&[]);
        let error = max_abs_diff(&out, expected);
        eprintln!("invariant_point_attention: max |Δ| = {error:.2e} (output scale {scale:.2e})");
        assert!(error < 1e-4 * scale.max(1.0), "max |Δ| = {error} (output scale {scale})");
    }
}
