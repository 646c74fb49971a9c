//! The model side of a session: the chosen configuration, the network with its parameters, the
//! runtime options (precision, chunking, fused attention), the recorded parallel layout, the
//! last prediction's outputs and the training run.
use crate::parallel::layout::ParallelLayout;
use crate::model::alphafold::{AlphaFold, NamedOutputs};
use crate::model::capture::{CaptureRequest, Captured};
use crate::model::config::{ModelConfig, RuntimeOptions};
use crate::train::batches::BatchSource;
use crate::train::trainer::{StepReport, Trainer};
use tch::{nn, Tensor};

/// A built network and where its parameter values came from.
#[derive(Debug)]
pub struct Network {
    pub vs: nn::VarStore,
    pub model: AlphaFold,
    /// `random (seed 0)`, or the file the values were read from.
    pub source: String,
}

/// The outputs of the last `infer`, on the CPU, by AlphaFold's names.
#[derive(Debug)]
pub struct Prediction {
    /// The session structure holding the predicted coordinates.
    pub structure: String,
    pub outputs: NamedOutputs,
    pub num_recycle: i64,
    pub mean_plddt: f64,
    pub ptm: Option<f64>,
    /// Wall time of each iteration (`num_recycle + 1` of them), seconds.
    pub iteration_seconds: Vec<f64>,
    /// What this inference recorded for `inspect` and `plot`, when it ran with a capture.
    pub capture: Option<SessionCapture>,
}

/// Intermediates one inference recorded and the request that named them.
#[derive(Debug)]
pub struct SessionCapture {
    pub request: CaptureRequest,
    pub captured: Captured,
    /// `commands::inference::inference_basis` when it was recorded.
    pub basis: String,
}

#[derive(Debug, Default)]
pub struct ModelState {
    /// Set by `model`; `None` until a preset is chosen.
    pub config: Option<ModelConfig>,
    /// Set by `params init|load`; dropped when `model` changes the configuration.
    pub network: Option<Network>,
    pub runtime: RuntimeOptions,
    pub parallel: ParallelLayout,
    pub prediction: Option<Prediction>,
    /// Set by the first `train`; dropped by `model` and `params`, which change the network.
    pub training: Option<TrainingRun>,
}

impl ModelState {
    /// A tensor of the session by name (a shallow copy): an output of the last `infer` by
    /// AlphaFold's name (`plddt`, `representations/pair`, ...), else a parameter of the network
    /// by its VarStore path (as `show params` lists them).
    pub fn tensor(&self, name: &str) -> Option<Tensor> {
        let output = self.prediction.as_ref().and_then(|p| p.outputs.get(name)).map(Tensor::shallow_clone);
        output.or_else(|| self.network.as_ref().and_then(|n| n.vs.variables().remove(name)))
    }

    /// The names of the last prediction's outputs, for messages (none before `infer`).
    pub fn output_names(&self) -> Vec<&str> {
        self.prediction.iter().flat_map(|p| p.outputs.keys().map(String::as_str)).collect()
    }
}

/// A training run in the session: the trainer (its own copy of the weights, optimiser moments
/// and weight average), where its batches come from (a loaded structure or a training set) and
/// every step's report.
pub struct TrainingRun {
    pub trainer: Trainer,
    /// What it trains on, for messages: `'NAME'` (a loaded structure) or `training set DIR`.
    pub source: String,
    /// Batch `i` of the run, processed afresh (crop, MSA sampling and masking seeded by `i`).
    pub batches: Box<dyn BatchSource + Send>,
    pub history: Vec<StepReport>,
    /// The multi-process job whose groups the trainer is attached to
    /// ([`crate::parallel::groups::ParallelGroups::job`]); `None` while it trains alone.
    pub job: Option<u64>,
}

impl std::fmt::Debug for TrainingRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingRun")
            .field("source", &self.source)
            .field("step", &self.trainer.step_count())
            .field("history", &self.history.len())
            .finish()
    }
}
