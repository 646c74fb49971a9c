//! A training run into an output folder, what `helixfold train` (and the session) starts: the
//! trainer from a preset (or a checkpoint to resume), batches from a training set or one
//! structure, the loop with periodic evaluation and checkpoints, and the folder's files:
//!
//! - `metrics.jsonl`: one JSON object per step — `step`, `loss`, every loss term by name, `lr`,
//!   `grad_norm`, `train_lddt_ca` and `train_tm_score` (the step's prediction against its own
//!   labels), `seconds`,
//!   `recycles`, `peak_memory_bytes`, and `lddt_ca` / `tm_score` (the averaged weights against
//!   the native) on evaluated steps (appended to when a run is resumed);
//! - `checkpoint.safetensors`: the latest training state ([`super::checkpoint`]);
//! - `average.safetensors`: the averaged weights at the end, a model for `predict --params`.
use super::batches::{load_structure_example, training_data_config, BatchSource, DatasetBatches, ExampleBatches};
use super::evaluate::{evaluate, Evaluation};
use super::run::{train_loop, LoopEnd, StopAt};
use super::trainer::{StepReport, TrainConfig, Trainer};
use crate::data::datasets::open_dataset;
use crate::model::config::{ModelConfig, RuntimeOptions};
use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tch::Device;

/// What to train on.
#[derive(Debug, Clone)]
pub enum TrainingData {
    /// A training set in OpenFold's layout (`alignments/`, `mmcif/`).
    Dataset(PathBuf),
    /// One structure (mmCIF or PDB, first chain) with its alignments (none: single sequence).
    Structure { structure: PathBuf, msas: Vec<PathBuf> },
}

/// Departures from the preset's and AlphaFold's training settings (all optional).
#[derive(Debug, Clone, Default)]
pub struct TrainOverrides {
    pub lr: Option<f64>,
    pub warmup_steps: Option<u64>,
    /// `(factor, every)`: multiply the rate by `factor` every `every` steps.
    pub lr_decay: Option<(f64, u64)>,
    /// `Some(None)` keeps whole chains.
    pub crop_size: Option<Option<i64>>,
    pub max_msa_clusters: Option<i64>,
    pub max_extra_msa: Option<i64>,
    pub max_recycle: Option<i64>,
    pub accumulation: Option<usize>,
    pub ema_decay: Option<f64>,
    pub violation_loss_weight: Option<f64>,
    /// Probability of the clamped backbone FAPE (AlphaFold: 0.9).
    pub clamped_fape_probability: Option<f64>,
    /// `Some(false)` turns dropout off (the model config's `deterministic`).
    pub dropout: Option<bool>,
}

/// A training run.
#[derive(Debug, Clone)]
pub struct TrainJob {
    pub preset: String,
    pub data: TrainingData,
    /// Total steps of the run, or minutes of this invocation (at least one must be given).
    pub steps: Option<u64>,
    pub minutes: Option<f64>,
    pub seed: u64,
    /// Continue from this checkpoint (its configuration wins over preset and overrides).
    pub resume: Option<PathBuf>,
    /// Evaluate every this many steps (and after the last).
    pub eval_every: Option<u64>,
    /// Evaluate with the averaged weights (AlphaFold's practice) rather than the trained ones.
    pub eval_with_average: bool,
    /// Write the checkpoint every this many steps (and always at the end).
    pub checkpoint_every: Option<u64>,
    pub overrides: TrainOverrides,
    pub device: Device,
    /// How the network runs (precision, chunking, fused attention, recompute), also on resume.
    pub runtime: RuntimeOptions,
    pub out_dir: PathBuf,
}

/// One step's line of `metrics.jsonl`.
#[derive(Debug, Clone)]
pub struct StepRecord {
    pub report: StepReport,
    pub evaluation: Option<Evaluation>,
}

impl StepRecord {
    /// The flat JSON object written to `metrics.jsonl`.
    pub fn to_json(&self) -> Value {
        let r = &self.report;
        let mut line = Map::new();
        line.insert("step".into(), r.step.into());
        line.insert("loss".into(), r.loss.into());
        for (name, value) in &r.terms {
            line.insert(name.clone(), (*value).into());
        }
        if let Some(e) = &self.evaluation {
            line.insert("lddt_ca".into(), e.lddt_ca.into());
            line.insert("tm_score".into(), e.tm_score.into());
        }
        line.insert("lr".into(), r.lr.into());
        line.insert("grad_norm".into(), r.grad_norm.into());
        line.insert("train_lddt_ca".into(), r.lddt_ca.into());
        line.insert("train_tm_score".into(), r.tm_score.into());
        line.insert("seconds".into(), r.seconds.into());
        line.insert("recycles".into(), r.recycles.clone().into());
        if let Some(bytes) = r.peak_memory_bytes {
            line.insert("peak_memory_bytes".into(), bytes.into());
        }
        Value::Object(line)
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub end: LoopEnd,
    /// Steps taken by this invocation.
    pub steps_run: u64,
    /// Total steps of the run so far.
    pub step: u64,
    pub last_loss: Option<f64>,
    pub last_evaluation: Option<Evaluation>,
    pub checkpoint: PathBuf,
    pub seconds: f64,
}

impl TrainJob {
    /// The trainer: resumed, or fresh from the preset with the overrides.
    fn trainer(&self) -> Result<Trainer> {
        let mut trainer = self.configured_trainer()?;
        trainer.set_runtime(self.runtime);
        Ok(trainer)
    }

    /// The trainer as the checkpoint, or the preset and the overrides, configure it.
    fn configured_trainer(&self) -> Result<Trainer> {
        if let Some(path) = &self.resume {
            return Trainer::from_checkpoint(path, self.device);
        }
        let mut model = ModelConfig::preset(&self.preset)?;
        let o = &self.overrides;
        if let Some(crop) = o.crop_size {
            model.data.crop_size = crop;
        }
        if let Some(n) = o.max_msa_clusters {
            model.data.max_msa_clusters = n;
        }
        if let Some(n) = o.max_extra_msa {
            model.data.max_extra_msa = n;
        }
        if let Some(w) = o.violation_loss_weight {
            model.heads.structure_module.structural_violation_loss_weight = w;
        }
        if let Some(dropout) = o.dropout {
            model.global_config.deterministic = !dropout;
        }
        if let Some(r) = o.max_recycle {
            model.data.num_recycle = r;
            model.num_recycle = r;
        }
        let mut config = TrainConfig::alphafold(&model, self.seed);
        if let Some(lr) = o.lr {
            config.schedule.base_lr = lr;
        }
        if let Some(w) = o.warmup_steps {
            config.schedule.warmup_steps = w;
        }
        if let Some((factor, every)) = o.lr_decay {
            config.schedule.decay_factor = factor;
            config.schedule.decay_every = every;
        }
        if let Some(n) = o.accumulation {
            config.accumulation = n;
        }
        if let Some(d) = o.ema_decay {
            config.ema.decay = d;
        }
        if let Some(p) = o.clamped_fape_probability {
            config.clamped_fape_probability = p;
        }
        Trainer::new(&model, config, self.device)
    }

    fn source(&self, trainer: &Trainer) -> Result<Box<dyn BatchSource>> {
        let data = training_data_config(trainer.model_config())?;
        let seed = trainer.config().seed;
        Ok(match &self.data {
            TrainingData::Dataset(root) => {
                let (_, dataset) = open_dataset(root, None).with_context(|| format!("--dataset {}", root.display()))?;
                Box::new(DatasetBatches::new(dataset, data, seed, self.device))
            }
            TrainingData::Structure { structure, msas } => {
                let example = load_structure_example(structure, msas)?;
                Box::new(ExampleBatches { example, data, seed, device: self.device })
            }
        })
    }

    /// Runs until the step count, the time limit or `interrupt`, calling `on_step` after each
    /// step, and leaves the checkpoint (and the averaged weights) in the output folder.
    pub fn run(&self, interrupt: &Arc<AtomicBool>, mut on_step: impl FnMut(&StepRecord)) -> Result<TrainSummary> {
        if self.steps.is_none() && self.minutes.is_none() {
            bail!("give the run's length: a number of steps or of minutes");
        }
        if self.eval_every == Some(0) || self.checkpoint_every == Some(0) {
            bail!("evaluation and checkpoint intervals must be at least one step");
        }
        let started = Instant::now();
        let out = &self.out_dir;
        std::fs::create_dir_all(out).with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
        let mut trainer = self.trainer()?;
        let mut source = self.source(&trainer)?;
        let eval_batch = match self.eval_every {
            Some(_) => Some(source.batch(0).context("the evaluation batch")?),
            None => None,
        };
        let metrics_path = out.join("metrics.jsonl");
        let mut metrics = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&metrics_path)
            .with_context(|| format!("opening {}", metrics_path.display()))?;
        let checkpoint = out.join("checkpoint.safetensors");
        let stop_at = StopAt {
            steps: self.steps,
            deadline: self.minutes.map(|m| started + Duration::from_secs_f64(m.max(0.0) * 60.0)),
        };
        let first_step = trainer.step_count();
        let mut last_loss = None;
        let mut last_evaluation = None;
        let end = train_loop(&mut trainer, source.as_mut(), stop_at, interrupt, |trainer, report| {
            let done = trainer.step_count();
            let last = stop_at.steps.is_some_and(|s| done >= s);
            let evaluation = match (&eval_batch, self.eval_every) {
                (Some(batch), Some(every)) if done % every == 0 || last => {
                    Some(self.evaluate(trainer, batch).with_context(|| format!("evaluating after step {}", report.step))?)
                }
                _ => None,
            };
            let record = StepRecord { report: report.clone(), evaluation };
            writeln!(metrics, "{}", record.to_json()).with_context(|| format!("writing {}", metrics_path.display()))?;
            if self.checkpoint_every.is_some_and(|every| done % every == 0) {
                trainer.save_checkpoint(&checkpoint)?;
            }
            last_loss = Some(report.loss);
            if evaluation.is_some() {
                last_evaluation = evaluation;
            }
            on_step(&record);
            Ok(())
        })?;
        trainer.save_checkpoint(&checkpoint)?;
        trainer.save_average_weights(&out.join("average.safetensors"))?;
        Ok(TrainSummary {
            end,
            steps_run: trainer.step_count() - first_step,
            step: trainer.step_count(),
            last_loss,
            last_evaluation,
            checkpoint,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    fn evaluate(&self, trainer: &mut Trainer, batch: &super::Batch) -> Result<Evaluation> {
        let runtime = trainer.config().runtime;
        if self.eval_with_average {
            trainer.with_average_weights(|model| evaluate(model, batch, &runtime))
        } else {
            evaluate(trainer.model(), batch, &runtime)
        }
    }
}

/// Reads `metrics.jsonl` back (for plots and tests): one JSON object per line.
pub fn read_metrics(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).with_context(|| format!("{}:{}: not a JSON object", path.display(), i + 1))
        })
        .collect()
}
