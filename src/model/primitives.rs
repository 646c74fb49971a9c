//! Building blocks shared by every AlphaFold2 module: `Linear` with AlphaFold's named
//! initialisers, `LayerNorm`, gated multi-head `Attention`, `GlobalAttention` (Jumper et al.
//! (2021) Suppl. Alg. 19 lines 2-7) and the shared residual dropout of Suppl. 1.11.6.
//!
//! Parameters are laid out exactly as DeepMind's haiku modules store them
//! (`alphafold/model/common_modules.py`, `modules.py` `Attention`/`GlobalAttention`):
//! `weights` is `[in, out]`, attention projections are `[c, H, d]`, so importing
//! `params_model_*.npz` copies arrays without transposing.
use super::chunking::{chunked, narrow_if_batched};
use super::config::{AttentionConfig, DropoutConfig, GlobalConfig, Orientation, RuntimeOptions};
use std::sync::{Mutex, MutexGuard};
use tch::{nn, Kind, Tensor};

/// Standard deviation of a unit normal truncated to [-2, 2]
/// (`TRUNCATED_NORMAL_STDDEV_FACTOR` in `common_modules.py`).
const TRUNCATED_NORMAL_STDDEV_FACTOR: f64 = 0.879_625_661_034_239_8;
/// Layer-norm epsilon of haiku's `LayerNorm` as AlphaFold uses it.
pub const LAYER_NORM_EPSILON: f64 = 1e-5;
/// Logit given to masked-out keys (`_SOFTMAX_MASK` in `modules.py`).
const SOFTMAX_MASK: f64 = -1e9;

/// AlphaFold's weight initialisers (`common_modules.get_initializer_scale`, `glorot_uniform`,
/// and the gating/final conventions of `modules.py`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// LeCun: truncated normal with variance 1/fan_in (AlphaFold's `'linear'`); zero bias.
    Default,
    /// He: truncated normal with variance 2/fan_in (`'relu'`); zero bias.
    Relu,
    /// Glorot uniform, haiku's `VarianceScaling(1, 'fan_avg', 'uniform')`; zero bias.
    Glorot,
    /// Zero weights and unit bias, so a sigmoid gate starts half open.
    Gating,
    /// Zero weights and bias: residual updates start at zero (`final_init` with `zero_init`).
    Final,
    /// Normal with the given standard deviation (pair-bias projections).
    Normal(f64),
}

impl Init {
    /// `utils.final_init`: zeros when the global config asks for it, LeCun otherwise.
    pub fn final_init(global: &GlobalConfig) -> Init {
        if global.zero_init {
            Init::Final
        } else {
            Init::Default
        }
    }

    /// Samples a weight tensor of `shape` (haiku layout, last axes the outputs) on CPU.
    pub fn sample(self, shape: &[i64]) -> Tensor {
        let opts = (Kind::Float, tch::Device::Cpu);
        let (fan_in, fan_out) = fans(shape);
        match self {
            Init::Default => truncated_normal(shape, (1.0 / fan_in).sqrt()),
            Init::Relu => truncated_normal(shape, (2.0 / fan_in).sqrt()),
            Init::Glorot => {
                let limit = (3.0 / ((fan_in + fan_out) / 2.0)).sqrt();
                Tensor::rand(shape, opts) * (2.0 * limit) - limit
            }
            Init::Gating | Init::Final => Tensor::zeros(shape, opts),
            Init::Normal(stddev) => Tensor::randn(shape, opts) * stddev,
        }
    }

    fn bias_value(self) -> f64 {
        match self {
            Init::Gating => 1.0,
            _ => 0.0,
        }
    }
}

/// Haiku's `_compute_fans`: for rank > 2 the leading axes form a receptive field.
fn fans(shape: &[i64]) -> (f64, f64) {
    match shape {
        [] => (1.0, 1.0),
        [n] => (*n as f64, *n as f64),
        [a, b] => (*a as f64, *b as f64),
        _ => {
            let n = shape.len();
            let receptive: i64 = shape[..n - 2].iter().product();
            ((shape[n - 2] * receptive) as f64, (shape[n - 1] * receptive) as f64)
        }
    }
}

/// Normal(0, stddev) truncated to two standard deviations, with the stddev corrected for the
/// truncation as AlphaFold does; sampled by inverting the normal CDF on the truncated range.
fn truncated_normal(shape: &[i64], stddev: f64) -> Tensor {
    // Phi(-2) and Phi(2) for the unit normal.
    let (lo, hi) = (0.022_750_131_948_179_2, 0.977_249_868_051_820_8);
    let u = Tensor::rand(shape, (Kind::Float, tch::Device::Cpu)) * (hi - lo) + lo;
    let unit = (u * 2.0 - 1.0).erfinv() * std::f64::consts::SQRT_2;
    unit * (stddev / TRUNCATED_NORMAL_STDDEV_FACTOR)
}

/// Creates a trainable variable `name` under `p` holding `value`.
pub fn param(p: &nn::Path, name: &str, value: &Tensor) -> Tensor {
    p.var_copy(name, value)
}

/// Linear layer `y = x W + b` over the last axis, `weights: [c_in, c_out]`, `bias: [c_out]`.
#[derive(Debug)]
pub struct Linear {
    pub weights: Tensor,
    pub bias: Tensor,
}

impl Linear {
    pub fn new(p: nn::Path, c_in: i64, c_out: i64, init: Init) -> Self {
        Self::with_bias_init(p, c_in, c_out, init, init.bias_value())
    }

    /// A sigmoid gate as AlphaFold builds one: `final_init` weights (zeros, i.e. [`Init::Gating`],
    /// under `zero_init`) and a bias of 1.
    pub fn gate(p: nn::Path, c_in: i64, c_out: i64, global: &GlobalConfig) -> Self {
        let init = if global.zero_init { Init::Gating } else { Init::Default };
        Self::with_bias_init(p, c_in, c_out, init, 1.0)
    }

    fn with_bias_init(p: nn::Path, c_in: i64, c_out: i64, init: Init, bias: f64) -> Self {
        let weights = param(&p, "weights", &init.sample(&[c_in, c_out]));
        let bias = param(&p, "bias", &Tensor::full([c_out], bias, (Kind::Float, tch::Device::Cpu)));
        Linear { weights, bias }
    }

    /// `[*, c_in] -> [*, c_out]`. libtorch's `linear` (weights as `[c_out, c_in]`, here a
    /// transposed view) folds the leading axes and adds the bias inside the matrix product
    /// (`addmm`), instead of a product followed by a separate pass over the output.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let kind = x.kind();
        x.linear(&self.weights.to_kind(kind).tr(), Some(self.bias.to_kind(kind)))
    }
}

/// Layer normalisation over the last axis with learned `scale` and `offset`, computed in fp32.
#[derive(Debug)]
pub struct LayerNorm {
    pub scale: Tensor,
    pub offset: Tensor,
    channels: i64,
}

impl LayerNorm {
    pub fn new(p: nn::Path, channels: i64) -> Self {
        let cpu = (Kind::Float, tch::Device::Cpu);
        let scale = param(&p, "scale", &Tensor::ones([channels], cpu));
        let offset = param(&p, "offset", &Tensor::zeros([channels], cpu));
        LayerNorm { scale, offset, channels }
    }

    /// `[*, c] -> [*, c]`, in the input's kind.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let kind = x.kind();
        x.to_kind(Kind::Float)
            .layer_norm(
                [self.channels],
                Some(self.scale.to_kind(Kind::Float)),
                Some(self.offset.to_kind(Kind::Float)),
                LAYER_NORM_EPSILON,
                true,
            )
            .to_kind(kind)
    }
}

/// Additive attention bias from a 0/1 mask: 0 where kept, -1e9 where masked.
pub fn mask_bias(mask: &Tensor) -> Tensor {
    (mask.to_kind(Kind::Float) - 1.0) * (-SOFTMAX_MASK)
}

/// Projects `[*, n, c]` with a `[c, H, d]` weight to `[*, H, n, d]`.
fn project_heads(x: &Tensor, w: &Tensor) -> Tensor {
    let (c, h, d) = w.size3().expect("head projection weights are [c, H, d]");
    let mut shape = x.size();
    shape.pop();
    shape.extend([h, d]);
    // [*, n, H, d]
    let projected = x.matmul(&w.to_kind(x.kind()).reshape([c, h * d])).reshape(shape.as_slice());
    // [*, H, n, d]
    projected.transpose(-2, -3)
}

/// Gated multi-head attention (`modules.Attention`), used with row/column/triangle/template
/// orientations by the modules around it.
#[derive(Debug)]
pub struct Attention {
    pub query_w: Tensor,
    pub key_w: Tensor,
    pub value_w: Tensor,
    /// `(gating_w [c_q, H, d_v], gating_b [H, d_v])` when the config asks for gating.
    pub gating: Option<(Tensor, Tensor)>,
    pub output_w: Tensor,
    pub output_b: Tensor,
    key_dim: i64,
}

impl Attention {
    /// `c_q`/`c_m`: query and memory channels; `c_out`: output channels.
    pub fn new(
        p: nn::Path,
        cfg: &AttentionConfig,
        c_q: i64,
        c_m: i64,
        c_out: i64,
        global: &GlobalConfig,
    ) -> Self {
        let h = cfg.num_head;
        let key_dim = cfg.key_dim.unwrap_or(c_q) / h;
        let value_dim = cfg.value_dim.unwrap_or(c_m) / h;
        let cpu = (Kind::Float, tch::Device::Cpu);
        let query_w = param(&p, "query_w", &Init::Glorot.sample(&[c_q, h, key_dim]));
        let key_w = param(&p, "key_w", &Init::Glorot.sample(&[c_m, h, key_dim]));
        let value_w = param(&p, "value_w", &Init::Glorot.sample(&[c_m, h, value_dim]));
        let gating = cfg.gating.then(|| {
            (
                param(&p, "gating_w", &Tensor::zeros([c_q, h, value_dim], cpu)),
                param(&p, "gating_b", &Tensor::ones([h, value_dim], cpu)),
            )
        });
        let output_init = if global.zero_init { Init::Final } else { Init::Glorot };
        let output_w = param(&p, "output_w", &output_init.sample(&[h, value_dim, c_out]));
        let output_b = param(&p, "output_b", &Tensor::zeros([c_out], cpu));
        Attention { query_w, key_w, value_w, gating, output_w, output_b, key_dim }
    }

    /// Attends from `q_data [*, B, Q, c_q]` to `m_data [*, B, K, c_m]`; every bias broadcasts to
    /// `[*, B, H, Q, K]` (a mask bias is usually `[*, B, 1, 1, K]`, a pair bias `[*, 1, H, Q, K]`).
    /// The `B` axis is processed in chunks of `opts.chunk_size`. Returns `[*, B, Q, c_out]`.
    pub fn forward(
        &self,
        q_data: &Tensor,
        m_data: &Tensor,
        biases: &[&Tensor],
        opts: &RuntimeOptions,
    ) -> Tensor {
        let batch = q_data.size()[q_data.dim() - 3];
        chunked(batch, opts.chunk_size, -3, |start, len| {
            let q = q_data.narrow(-3, start, len);
            let m = narrow_if_batched(m_data, -3, batch, start, len);
            let b: Vec<Tensor> = biases.iter().map(|t| narrow_if_batched(t, -4, batch, start, len)).collect();
            self.attend(&q, &m, &b, opts)
        })
    }

    /// The attention probabilities `[*, B, H, Q, K]` (fp32) that [`Self::forward`] applies to
    /// the values, for the same arguments (unchunked; for captures and plots).
    pub fn probabilities(&self, q_data: &Tensor, m_data: &Tensor, biases: &[&Tensor]) -> Tensor {
        let (q, k) = self.queries_and_keys(q_data, m_data);
        Self::softmax(&q, &k, summed_bias(biases.iter().copied()))
    }

    /// `[*, H, Q, d_k]` queries pre-scaled by 1/sqrt(d_k) and `[*, H, K, d_k]` keys.
    fn queries_and_keys(&self, q_data: &Tensor, m_data: &Tensor) -> (Tensor, Tensor) {
        let q = project_heads(q_data, &self.query_w) * (self.key_dim as f64).powf(-0.5);
        (q, project_heads(m_data, &self.key_w))
    }

    /// `[*, H, Q, K]` softmax over keys of the scaled dot products plus the bias, in fp32.
    fn softmax(q: &Tensor, k: &Tensor, bias: Option<Tensor>) -> Tensor {
        let logits = q.matmul(&k.transpose(-1, -2)).to_kind(Kind::Float);
        let logits = match bias {
            Some(b) => logits + b,
            None => logits,
        };
        logits.softmax(-1, Kind::Float)
    }

    fn attend(&self, q_data: &Tensor, m_data: &Tensor, biases: &[Tensor], opts: &RuntimeOptions) -> Tensor {
        let kind = q_data.kind();
        let (q, k) = self.queries_and_keys(q_data, m_data);
        // [*, H, K, d_v]
        let v = project_heads(m_data, &self.value_w);
        let bias = summed_bias(biases.iter());
        // [*, H, Q, d_v]
        let weighted = if opts.fused_attention {
            fused_attention(&q, &k, &v, bias.map(|b| b.to_kind(kind)))
        } else {
            Self::softmax(&q, &k, bias).to_kind(kind).matmul(&v)
        };
        // [*, Q, H, d_v]
        let weighted = weighted.transpose(-2, -3);
        let weighted = match &self.gating {
            Some((gating_w, gating_b)) => {
                // [*, Q, H, d_v]
                let gate = project_heads(q_data, gating_w).transpose(-2, -3) + gating_b.to_kind(kind);
                weighted * gate.sigmoid()
            }
            None => weighted,
        };
        let (h, d_v, c_out) = self.output_w.size3().expect("output_w is [H, d_v, c_out]");
        // [*, Q, H * d_v]
        let flat = weighted.flatten(-2, -1);
        // [*, Q, c_out]
        flat.matmul(&self.output_w.to_kind(kind).reshape([h * d_v, c_out])) + self.output_b.to_kind(kind)
    }
}

/// `softmax(q·kᵀ + bias)·v` by one of libtorch's fused kernels: `q [*, H, Q, d]` (pre-scaled),
/// `k [*, H, K, d]`, `v [*, H, K, d_v]`, `bias` broadcastable to `[*, H, Q, K]` in q's dtype.
///
/// On CUDA a biased attention goes to the memory-efficient kernel directly: left to choose,
/// libtorch 2.11 picks cuDNN's attention for these shapes on an H100, whose graph fails to run
/// in training (BENCHMARKS.md). The kernel takes 4-D inputs and a bias whose strides are
/// multiples of 16 elements, so the leading axes are flattened into one and the bias is padded
/// before being broadcast (as libtorch's own `preprocess_mask` does). Shapes the kernel refuses
/// go back to libtorch's choice.
fn fused_attention(q: &Tensor, k: &Tensor, v: &Tensor, bias: Option<Tensor>) -> Tensor {
    let sdpa = |bias: Option<&Tensor>| Tensor::scaled_dot_product_attention(q, k, v, bias, 0.0, false, Some(1.0), false);
    let Some(bias) = bias else { return sdpa(None) };
    if !q.device().is_cuda() {
        return sdpa(Some(&bias));
    }
    let heads = q.size()[q.dim() - 3];
    let four_d = |t: &Tensor| t.reshape([-1, heads, t.size()[t.dim() - 2], t.size()[t.dim() - 1]]);
    let mut logits_shape = q.size();
    logits_shape[q.dim() - 1] = k.size()[k.dim() - 2];
    let broadcast = keys_aligned(&bias).expand(logits_shape.as_slice(), false);
    let broadcast = four_d(&broadcast);
    let broadcast = if strides_aligned(&broadcast) { broadcast } else { keys_aligned(&broadcast) };
    let grad = super::recompute::grad_enabled();
    match Tensor::f_internal_scaled_dot_product_efficient_attention(&four_d(q), &four_d(k), &four_d(v), Some(&broadcast), grad, 0.0, false, Some(1.0)) {
        Ok((out, _, _, _)) => {
            let mut out_shape = v.size();
            out_shape[v.dim() - 2] = q.size()[q.dim() - 2];
            out.reshape(out_shape.as_slice())
        }
        Err(_) => sdpa(Some(&bias)),
    }
}

/// Whether every stride but the last (which is 1) is a multiple of 16 elements, as the
/// memory-efficient attention kernel needs of its bias.
fn strides_aligned(tensor: &Tensor) -> bool {
    let strides = tensor.stride();
    strides.last() == Some(&1) && strides[..strides.len() - 1].iter().all(|s| s % 16 == 0)
}

/// `tensor` stored with its last axis padded to a multiple of 16 elements, viewed at its size.
fn keys_aligned(tensor: &Tensor) -> Tensor {
    let keys = tensor.size()[tensor.dim() - 1];
    if strides_aligned(tensor) {
        return tensor.shallow_clone();
    }
    tensor.constant_pad_nd([0, (16 - keys % 16) % 16]).narrow(-1, 0, keys)
}

/// The sum of attention biases in fp32 (`None` without any).
fn summed_bias<'t>(biases: impl Iterator<Item = &'t Tensor>) -> Option<Tensor> {
    biases.map(|b| b.to_kind(Kind::Float)).reduce(|a, b| a + b)
}

/// Global attention (Suppl. Alg. 19 lines 2-7): one averaged query per head attends over all
/// keys, keys and values are single-headed, and gating restores a per-position output.
#[derive(Debug)]
pub struct GlobalAttention {
    pub query_w: Tensor,
    pub key_w: Tensor,
    pub value_w: Tensor,
    pub gating_w: Tensor,
    pub gating_b: Tensor,
    pub output_w: Tensor,
    pub output_b: Tensor,
    key_dim: i64,
}

impl GlobalAttention {
    /// Always gated, as the extra-MSA stack's column attention is in every AlphaFold model.
    pub fn new(p: nn::Path, cfg: &AttentionConfig, c: i64, global: &GlobalConfig) -> Self {
        let h = cfg.num_head;
        let key_dim = cfg.key_dim.unwrap_or(c) / h;
        let value_dim = cfg.value_dim.unwrap_or(c) / h;
        let cpu = (Kind::Float, tch::Device::Cpu);
        let output_init = if global.zero_init { Init::Final } else { Init::Glorot };
        GlobalAttention {
            query_w: param(&p, "query_w", &Init::Glorot.sample(&[c, h, key_dim])),
            key_w: param(&p, "key_w", &Init::Glorot.sample(&[c, key_dim])),
            value_w: param(&p, "value_w", &Init::Glorot.sample(&[c, value_dim])),
            gating_w: param(&p, "gating_w", &Tensor::zeros([c, h, value_dim], cpu)),
            gating_b: param(&p, "gating_b", &Tensor::ones([h, value_dim], cpu)),
            output_w: param(&p, "output_w", &output_init.sample(&[h, value_dim, c])),
            output_b: param(&p, "output_b", &Tensor::zeros([c], cpu)),
            key_dim,
        }
    }

    /// `x [*, B, K, c]` with `mask [*, B, K]` (1 = present) -> `[*, B, K, c]`, chunked over `B`.
    pub fn forward(&self, x: &Tensor, mask: &Tensor, opts: &RuntimeOptions) -> Tensor {
        let batch = x.size()[x.dim() - 3];
        chunked(batch, opts.chunk_size, -3, |start, len| {
            self.attend(&x.narrow(-3, start, len), &narrow_if_batched(mask, -2, batch, start, len))
        })
    }

    fn attend(&self, x: &Tensor, mask: &Tensor) -> Tensor {
        let kind = x.kind();
        let mask = mask.to_kind(kind);
        // [*, B, K, 1]
        let mask_c = mask.unsqueeze(-1);
        // [*, B, c]: masked mean of the queries over K
        let q_avg = (x * &mask_c).sum_dim_intlist(-2, false, kind)
            / (mask_c.sum_dim_intlist(-2, false, kind) + 1e-10);
        let (c, h, d_k) = self.query_w.size3().expect("query_w is [c, H, d_k]");
        let mut q_shape = q_avg.size();
        q_shape.pop();
        q_shape.extend([h, d_k]);
        // [*, B, H, d_k]
        let q = q_avg.matmul(&self.query_w.to_kind(kind).reshape([c, h * d_k])).reshape(q_shape.as_slice())
            * (self.key_dim as f64).powf(-0.5);
        // [*, B, K, d_k]
        let k = x.matmul(&self.key_w.to_kind(kind));
        // [*, B, K, d_v]
        let v = x.matmul(&self.value_w.to_kind(kind));
        // [*, B, H, K]
        let logits = q.matmul(&k.transpose(-1, -2)).to_kind(Kind::Float) + mask_bias(&mask).unsqueeze(-2);
        let weights = logits.softmax(-1, Kind::Float).to_kind(kind);
        // [*, B, 1, H, d_v]
        let weighted = weights.matmul(&v).unsqueeze(-3);
        // [*, B, K, H, d_v]
        let gate = project_heads(x, &self.gating_w).transpose(-2, -3) + self.gating_b.to_kind(kind);
        let gated = weighted * gate.sigmoid();
        let (h, d_v, c_out) = self.output_w.size3().expect("output_w is [H, d_v, c_out]");
        // [*, B, K, c]
        gated.flatten(-2, -1).matmul(&self.output_w.to_kind(kind).reshape([h * d_v, c_out]))
            + self.output_b.to_kind(kind)
    }
}

/// Whether dropout applies: in training (or with `eval_dropout`) unless the model is deterministic.
pub fn dropout_active(global: &GlobalConfig, opts: &RuntimeOptions) -> bool {
    (opts.training || global.eval_dropout) && !global.deterministic
}

/// AlphaFold's `dropout_wrapper` after the module: `act + dropout(update)`, where the dropout
/// mask is shared along rows (`per_row`, axis -3) or columns (`per_column`, axis -2).
pub fn residual_update(
    act: &Tensor,
    update: Tensor,
    dropout: &DropoutConfig,
    global: &GlobalConfig,
    opts: &RuntimeOptions,
) -> Tensor {
    act + dropped_out(update, dropout, global, opts)
}

/// `update` with `dropout` applied (kept entries scaled by `1 / keep`), or as it is when dropout
/// is off.
pub fn dropped_out(update: Tensor, dropout: &DropoutConfig, global: &GlobalConfig, opts: &RuntimeOptions) -> Tensor {
    let shape = update.size();
    dropped_out_part(update, dropout, global, opts, &shape, |mask| mask)
}

/// [`dropped_out`] for a part of an activation (a shard under dynamic axial parallelism): the
/// dropout mask is drawn for the whole activation of shape `whole` (the same draws as the
/// unsharded run makes) and `part_of` cuts this part's mask out of it.
pub fn dropped_out_part(
    update: Tensor,
    dropout: &DropoutConfig,
    global: &GlobalConfig,
    opts: &RuntimeOptions,
    whole: &[i64],
    part_of: impl FnOnce(Tensor) -> Tensor,
) -> Tensor {
    if !dropout_active(global, opts) || dropout.dropout_rate == 0.0 {
        return update;
    }
    let mut shape = whole.to_vec();
    if let Some(axis) = shared_dropout_axis(dropout, shape.len()) {
        shape[axis] = 1;
    }
    let keep = 1.0 - dropout.dropout_rate;
    let mask =
        Tensor::rand(shape.as_slice(), (update.kind(), update.device())).lt(keep).to_kind(update.kind());
    update * part_of(mask) / keep
}

/// The axis of a rank-`dims` activation along which a shared dropout mask is broadcast.
pub fn shared_dropout_axis(dropout: &DropoutConfig, dims: usize) -> Option<usize> {
    dropout.shared_dropout.then(|| match dropout.orientation {
        Orientation::PerRow => dims - 3,
        Orientation::PerColumn => dims - 2,
    })
}

/// libtorch's generator is global to the process: whoever seeds it (a trainer, a test) holds
/// this lock until its last draw (initialisation, or an example's dropout), so that other
/// threads cannot take numbers from its stream.
static TORCH_GENERATOR: Mutex<()> = Mutex::new(());

pub fn lock_generator() -> MutexGuard<'static, ()> {
    TORCH_GENERATOR.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A seed from the global generator (non-negative, as `manual_seed` takes it).
pub fn draw_seed() -> i64 {
    Tensor::randint(i64::MAX, [1], (Kind::Int64, tch::Device::Cpu)).int64_value(&[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::ModelConfig;
    use tch::Device;

    fn cpu() -> (Kind, Device) {
        (Kind::Float, Device::Cpu)
    }

    #[test]
    fn linear_initialisers_have_haiku_statistics() {
        let vs = nn::VarStore::new(Device::Cpu);
        let lin = Linear::new(vs.root() / "l", 400, 300, Init::Relu);
        assert_eq!(lin.weights.size(), vec![400, 300]);
        // He: stddev sqrt(2/400) after correcting for the truncation.
        let std = lin.weights.std(true).double_value(&[]);
        assert!((std - (2.0f64 / 400.0).sqrt()).abs() < 0.003, "std {std}");
        let max = lin.weights.abs().max().double_value(&[]);
        assert!(max <= 2.0 * (2.0f64 / 400.0).sqrt() / TRUNCATED_NORMAL_STDDEV_FACTOR + 1e-6);
        let gate = Linear::new(vs.root() / "g", 4, 3, Init::Gating);
        assert_eq!(gate.weights.abs().sum(Kind::Float).double_value(&[]), 0.0);
        assert_eq!(gate.bias.sum(Kind::Float).double_value(&[]), 3.0);
        let names: Vec<String> = vs.variables().into_keys().collect();
        assert!(names.contains(&"l.weights".to_string()) && names.contains(&"g.bias".to_string()));
    }

    #[test]
    fn haiku_fans_for_head_weights() {
        assert_eq!(fans(&[8, 4, 2]), (32.0, 16.0));
        assert_eq!(fans(&[5, 7]), (5.0, 7.0));
    }

    #[test]
    fn layer_norm_normalises() {
        let vs = nn::VarStore::new(Device::Cpu);
        let ln = LayerNorm::new(vs.root() / "ln", 6);
        let y = ln.forward(&(Tensor::randn([3, 6], cpu()) * 5.0 + 2.0));
        let mean = y.mean_dim(-1, false, Kind::Float).abs().max().double_value(&[]);
        assert!(mean < 1e-5);
    }

    fn attention_fixture() -> (nn::VarStore, Attention) {
        let vs = nn::VarStore::new(Device::Cpu);
        let mut global = ModelConfig::tiny().global_config;
        global.zero_init = false;
        let cfg = ModelConfig::tiny().embeddings_and_evoformer.evoformer.msa_row_attention_with_pair_bias;
        let att = Attention::new(vs.root() / "attention", &cfg, 6, 6, 6, &global);
        tch::no_grad(|| {
            for (_, mut v) in vs.variables() {
                v.copy_(&(Tensor::randn(v.size(), cpu()) * 0.5));
            }
        });
        (vs, att)
    }

    #[test]
    fn attention_is_chunk_and_fusion_invariant_and_respects_masks() {
        let (_vs, att) = attention_fixture();
        let x = Tensor::randn([5, 4, 6], cpu());
        let mask = Tensor::ones([5, 4], cpu());
        let _ = mask.narrow(1, 3, 1).fill_(0.0);
        // [B, 1, 1, K]
        let bias = mask_bias(&mask).unsqueeze(1).unsqueeze(1);
        let pair = Tensor::randn([1, 2, 4, 4], cpu());
        let plain = RuntimeOptions::default();
        let out = att.forward(&x, &x, &[&bias, &pair], &plain);
        assert_eq!(out.size(), vec![5, 4, 6]);
        let chunked = att.forward(&x, &x, &[&bias, &pair], &RuntimeOptions { chunk_size: Some(2), ..plain });
        assert!(out.allclose(&chunked, 1e-5, 1e-5, false));
        let fused = att.forward(&x, &x, &[&bias, &pair], &RuntimeOptions { fused_attention: true, ..plain });
        assert!(out.allclose(&fused, 1e-4, 1e-4, false));
        // Changing a masked key must not change any output.
        let x2 = x.copy();
        let _ = x2.narrow(1, 3, 1).fill_(7.0);
        let out2 = att.forward(&x2, &x2, &[&bias, &pair], &plain);
        assert!(out.narrow(1, 0, 3).allclose(&out2.narrow(1, 0, 3), 1e-5, 1e-5, false));
    }

    #[test]
    fn global_attention_ignores_masked_rows() {
        let vs = nn::VarStore::new(Device::Cpu);
        let mut global = ModelConfig::tiny().global_config;
        global.zero_init = false;
        let cfg = ModelConfig::tiny().embeddings_and_evoformer.evoformer.msa_column_attention;
        let att = GlobalAttention::new(vs.root() / "attention", &cfg, 6, &global);
        let x = Tensor::randn([3, 5, 6], cpu());
        let mask = Tensor::ones([3, 5], cpu());
        let _ = mask.narrow(1, 4, 1).fill_(0.0);
        let out = att.forward(&x, &mask, &RuntimeOptions::default());
        assert_eq!(out.size(), vec![3, 5, 6]);
        let x2 = x.copy();
        let _ = x2.narrow(1, 4, 1).fill_(-3.0);
        let out2 = att.forward(&x2, &mask, &RuntimeOptions { chunk_size: Some(1), ..Default::default() });
        assert!(out.narrow(1, 0, 4).allclose(&out2.narrow(1, 0, 4), 1e-5, 1e-5, false));
    }

    #[test]
    fn dropout_is_shared_along_rows() {
        let global = ModelConfig::tiny().global_config;
        let cfg = DropoutConfig { dropout_rate: 0.5, shared_dropout: true, orientation: Orientation::PerRow };
        let training = RuntimeOptions { training: true, ..Default::default() };
        let zero = Tensor::zeros([4, 3, 2], cpu());
        let out = residual_update(&zero, Tensor::ones([4, 3, 2], cpu()), &cfg, &global, &training);
        let first = out.get(0);
        for row in 1..4 {
            assert!(out.get(row).equal(&first));
        }
        let eval =
            residual_update(&zero, Tensor::ones([4, 3, 2], cpu()), &cfg, &global, &RuntimeOptions::default());
        assert!(eval.equal(&Tensor::ones([4, 3, 2], cpu())));
    }
}
