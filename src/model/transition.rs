//! Position-wise two-layer transition, Jumper et al. (2021) Suppl. Alg. 9 "MSATransition" and
//! Alg. 15 "PairTransition" (DeepMind's `modules.Transition`).
use super::chunking::chunked;
use super::config::{GlobalConfig, RuntimeOptions, TransitionConfig};
use super::primitives::{Init, LayerNorm, Linear};
use tch::{nn, Tensor};

#[derive(Debug)]
pub struct Transition {
    pub input_layer_norm: LayerNorm,
    pub transition1: Linear,
    pub transition2: Linear,
}

impl Transition {
    pub fn new(p: nn::Path, cfg: &TransitionConfig, channels: i64, global: &GlobalConfig) -> Self {
        let hidden = channels * cfg.num_intermediate_factor;
        Transition {
            input_layer_norm: LayerNorm::new(&p / "input_layer_norm", channels),
            transition1: Linear::new(&p / "transition1", channels, hidden, Init::Relu),
            transition2: Linear::new(&p / "transition2", hidden, channels, Init::final_init(global)),
        }
    }

    /// `[*, N, M, c] -> [*, N, M, c]` (the update), chunked along `N`. Padding needs no mask:
    /// the transition is position-wise.
    pub fn forward(&self, act: &Tensor, opts: &RuntimeOptions) -> Tensor {
        let rows = act.size()[act.dim() - 3];
        chunked(rows, opts.chunk_size, -3, |start, len| {
            let x = self.input_layer_norm.forward(&act.narrow(-3, start, len));
            // [*, n, M, c * factor]
            let hidden = self.transition1.forward(&x).relu();
            // [*, n, M, c]
            self.transition2.forward(&hidden)
        })
    }
}
