//! The training step (Jumper et al. (2021) Suppl. 1.11.3, Alg. 31): a [`Trainer`] owns the
//! model's variables, the Adam moments, the weight average, the schedule position and the
//! random streams, and turns batches into parameter updates.
//!
//! One step takes one or more examples (gradient accumulation). For each example: a number of
//! recycles uniform on `0..=max_recycle` and the clamped-or-not backbone FAPE are drawn, the
//! loss is back-propagated through the last iteration, and the example's gradient is clipped to
//! global norm 0.1 (AlphaFold clips every example's gradient before averaging over the batch).
//! The mean clipped gradient then drives Adam at the schedule's rate, and the weight average
//! follows the new weights. [`ClipScope::Batch`] clips the step's mean gradient instead, after
//! the data-parallel average (HelixFold, OpenFold).
//!
//! Randomness is a function of `(seed, step, example)`: the recycles, the FAPE clamping and
//! libtorch's generator (dropout) are re-seeded from it before each example, so a run resumed
//! from a checkpoint repeats the uninterrupted run bit for bit on the same device. libtorch's
//! generator is global to the process, so trainers in several threads take turns with it.
//!
//! Data parallelism ([`Trainer::set_data_parallel`]): each rank of the DP group steps on its
//! own examples, numbered by their index in the whole step (rank `r` of a step with `k`
//! examples per rank has examples `r·k..(r+1)·k`), and the mean clipped gradient is averaged
//! over the ranks before Adam; the step then equals one process accumulating all of them.
//! Without per-example clipping, the average of the step's gradient (the earlier examples' sum
//! plus the last example's gradient) is all-reduced while the last backward pass runs
//! ([`crate::parallel::overlapped_reduction`]), with the same result.
//!
//! Dynamic axial parallelism ([`Trainer::set_sharding`]): the ranks of a DAP group step on the
//! same examples with the same random streams; each forward pass runs under
//! [`run_sharded`], its backward through the collectives' tape ([`CommTape::backward`]), and
//! the partial gradients of the sharded stacks' parameters are summed over the group before
//! clipping (FastFold's and HelixFold's `grad_sync`); the other parameters' gradients are
//! already whole on every rank. The group's ranks then take identical steps.
//!
//! Branch parallelism (a BP group in [`Trainer::set_sharding`], `model::branch_parallel`): the
//! two ranks step on the same examples; the loss counts on the MSA-branch rank (the other
//! back-propagates zero), and every parameter's gradient is summed over the group, which makes
//! it whole. With DAP as well, the BP sum comes first.
use super::adam::{Adam, AdamConfig};
use super::ema::{EmaConfig, ExponentialMovingAverage};
use super::flat_parameters::FlatParameters;
use super::forward::{draw_num_recycle, forward_training};
use super::loss::training_loss;
use crate::model::primitives::lock_generator;
use super::schedule::LearningRateSchedule;
use crate::model::axial_parallel::is_sharded_stack_parameter;
use crate::model::branch_parallel::MSA_BRANCH_RANK;
use crate::parallel::autograd::CommTape;
use crate::parallel::data_parallel::DataParallel;
use crate::parallel::process_group::ReduceOp;
use crate::parallel::sharding::{run_sharded, ShardingGroups};
use crate::model::alphafold::AlphaFold;
use crate::model::config::{ModelConfig, RuntimeOptions};
use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;
use tch::{nn, Device, Kind, Tensor};

/// A processed training batch by AlphaFold's names, each feature with its leading recycle axis
/// (`process_training_features`, as tensors on the training device).
pub type Batch = BTreeMap<String, Tensor>;

/// Where the gradient is clipped to `clip_norm`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipScope {
    /// Each example's gradient, before the examples and the ranks are averaged (AlphaFold,
    /// Jumper et al. (2021) Suppl. 1.11.3).
    #[default]
    Example,
    /// The step's gradient, averaged over its examples and the data-parallel ranks, by its
    /// global norm (HelixFold's `train.py`: `dp.grad_sync` then Adam's `ClipGradByGlobalNorm`;
    /// OpenFold's `gradient_clip_val`). Lets the data-parallel reduction overlap the last
    /// backward pass.
    Batch,
}

impl ClipScope {
    /// The words the session's `clip=` takes.
    pub const NAMES: &'static [&'static str] = &["example", "batch"];

    pub fn parse(word: &str) -> Result<Self> {
        match word {
            "example" => Ok(Self::Example),
            "batch" => Ok(Self::Batch),
            other => bail!("clip scope '{other}': expected example or batch"),
        }
    }
}

fn overlap_by_default() -> bool {
    true
}

/// How to train (AlphaFold's initial-training settings by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Seeds the initial weights and every random draw of training.
    pub seed: u64,
    /// Recycles are drawn uniformly from `0..=max_recycle` (capped by the batch's copies).
    pub max_recycle: i64,
    pub schedule: LearningRateSchedule,
    pub adam: AdamConfig,
    /// Global-norm clip of the gradient (see `clip_scope`); `None` leaves gradients as they are.
    pub clip_norm: Option<f64>,
    /// Whether `clip_norm` applies to each example or to the step's averaged gradient.
    #[serde(default)]
    pub clip_scope: ClipScope,
    /// Under data parallelism, all-reduce the last example's gradient while its backward pass
    /// runs where the step allows it ([`crate::parallel::data_parallel`]); `false` always
    /// reduces after the pass. The result is the same either way.
    #[serde(default = "overlap_by_default")]
    pub overlap_reduction: bool,
    pub ema: EmaConfig,
    /// Examples whose gradients are averaged into one update.
    pub accumulation: usize,
    /// Probability of the clamped backbone FAPE for an example (AlphaFold: 0.9).
    pub clamped_fape_probability: f64,
    /// Chunking and precision; `training` is forced on.
    pub runtime: RuntimeOptions,
}

impl TrainConfig {
    /// AlphaFold's settings for `model`: its recycles, lr 1e-3 with 1000 warm-up steps and ×0.95
    /// every 50k, Adam (0.9, 0.999, 1e-6), clip 0.1, average decay 0.999, one example a step.
    pub fn alphafold(model: &ModelConfig, seed: u64) -> Self {
        Self {
            seed,
            max_recycle: model.num_recycle,
            schedule: LearningRateSchedule::default(),
            adam: AdamConfig::default(),
            clip_norm: Some(0.1),
            clip_scope: ClipScope::Example,
            overlap_reduction: true,
            ema: EmaConfig::default(),
            accumulation: 1,
            clamped_fape_probability: 0.9,
            runtime: RuntimeOptions { training: true, ..RuntimeOptions::default() },
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The step's index (0 for the first update).
    pub step: u64,
    /// Total loss, mean over the step's examples.
    pub loss: f64,
    /// Each term ([`super::loss::LossTerms::terms`]), mean over the examples.
    pub terms: BTreeMap<String, f64>,
    /// Global norm of the gradient before clipping: with [`ClipScope::Example`] the mean over
    /// the examples of each one's norm, with [`ClipScope::Batch`] the norm of the step's
    /// averaged gradient.
    pub grad_norm: f64,
    /// lDDT-Cα (0–1) of the step's predictions against their labels, mean over the examples
    /// ([`super::loss::LossTerms::lddt_ca`]).
    pub lddt_ca: f64,
    /// TM-score (0–1) of the step's predictions against their labels, mean over the examples
    /// ([`super::loss::LossTerms::tm_score`]).
    pub tm_score: f64,
    pub lr: f64,
    /// Recycles drawn for each example.
    pub recycles: Vec<i64>,
    pub seconds: f64,
    /// Peak memory so far (bytes): the process's resident set on the CPU, device memory in use
    /// on CUDA.
    pub peak_memory_bytes: Option<u64>,
}

/// Model, optimiser, weight average and position of a training run.
pub struct Trainer {
    model: AlphaFold,
    vs: nn::VarStore,
    model_config: ModelConfig,
    config: TrainConfig,
    params: FlatParameters,
    adam: Adam,
    ema: ExponentialMovingAverage,
    step: u64,
    data_position: u64,
    data_parallel: Option<DataParallel>,
    sharding: ShardingGroups,
}

/// A stream seed for example `example` of step `step` (SplitMix64's finaliser over the three,
/// so neighbouring steps get unrelated streams).
fn stream_seed(seed: u64, step: u64, example: u64) -> u64 {
    let mut z = seed
        .wrapping_add(step.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(example.wrapping_mul(0xD1B5_4A32_D192_ED69));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Trainer {
    /// A fresh run: weights initialised from `config.seed` on `device`.
    pub fn new(model_config: &ModelConfig, config: TrainConfig, device: Device) -> Result<Self> {
        if config.accumulation == 0 {
            bail!("gradient accumulation needs at least one example per step");
        }
        if config.max_recycle < 0 {
            bail!("max_recycle must not be negative (got {})", config.max_recycle);
        }
        let vs = nn::VarStore::new(device);
        let model = {
            let _generator = lock_generator();
            tch::manual_seed(config.seed as i64);
            AlphaFold::new(vs.root(), model_config)
        };
        let params = FlatParameters::new(&vs)?;
        let adam = Adam::new(config.adam, params.numel(), device);
        let ema = ExponentialMovingAverage::new(config.ema, &params.values);
        Ok(Self {
            model,
            vs,
            model_config: model_config.clone(),
            config,
            params,
            adam,
            ema,
            step: 0,
            data_position: 0,
            data_parallel: None,
            sharding: ShardingGroups::default(),
        })
    }

    /// A fresh run starting from the values of `source`'s variables (same configuration, any
    /// device), e.g. a session's parameters; the weight average starts from them too.
    pub fn from_parameters(model_config: &ModelConfig, config: TrainConfig, source: &nn::VarStore) -> Result<Self> {
        let mut trainer = Self::new(model_config, config, source.device())?;
        trainer.vs.copy(source).context("copying the starting parameters")?;
        trainer.ema = ExponentialMovingAverage::new(trainer.config.ema, &trainer.params.values);
        Ok(trainer)
    }

    pub fn model(&self) -> &AlphaFold {
        &self.model
    }

    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    pub fn model_config(&self) -> &ModelConfig {
        &self.model_config
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Optimiser steps taken.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Examples consumed (the index of the next batch in a [`super::batches::BatchSource`]).
    pub fn data_position(&self) -> u64 {
        self.data_position
    }

    pub fn device(&self) -> Device {
        self.params.device()
    }

    /// Joins a data-parallel group: the parameters and the weight average become rank 0's, and
    /// from now on every step averages its gradient over the group. Every rank of the group
    /// calls this (it broadcasts). `None` returns to single-process steps.
    pub fn set_data_parallel(&mut self, data_parallel: Option<DataParallel>) -> Result<()> {
        if let Some(group) = &data_parallel {
            let first = group.broadcast_from_first(&self.params.values)?;
            self.params.assign(&first);
            self.ema = ExponentialMovingAverage::new(self.config.ema, &self.params.values);
        }
        self.data_parallel = data_parallel;
        Ok(())
    }

    pub fn data_parallel(&self) -> Option<&DataParallel> {
        self.data_parallel.as_ref()
    }

    /// How the next steps run the network (precision, chunking, fused attention, recompute); a
    /// step is the same function of the parameters whatever these are, to rounding.
    pub fn set_runtime(&mut self, runtime: RuntimeOptions) {
        self.config.runtime = RuntimeOptions { training: true, ..runtime };
    }

    /// Runs every forward pass sharded over `groups` (see the module documentation). With a DAP
    /// group, the parameters and the weight average become the group's rank 0's; every rank of
    /// the group calls this (it broadcasts).
    pub fn set_sharding(&mut self, groups: ShardingGroups) -> Result<()> {
        for (name, group) in [("DAP", &groups.dap), ("BP", &groups.bp)] {
            let Some(group) = group else { continue };
            let first = group
                .on_own_device(&self.params.values, |values| group.broadcast(values, 0))
                .with_context(|| format!("broadcasting the {name} group's parameters"))?;
            self.params.assign(&first);
            self.ema = ExponentialMovingAverage::new(self.config.ema, &self.params.values);
        }
        self.sharding = groups;
        Ok(())
    }

    pub fn sharding(&self) -> &ShardingGroups {
        &self.sharding
    }

    pub(crate) fn state_mut(&mut self) -> TrainerState<'_> {
        TrainerState {
            params: &mut self.params,
            adam: &mut self.adam,
            ema: &mut self.ema,
            step: &mut self.step,
            data_position: &mut self.data_position,
        }
    }

    /// One update from one example.
    pub fn step(&mut self, batch: &Batch) -> Result<StepReport> {
        self.step_accumulated(std::slice::from_ref(batch))
    }

    /// One update from the mean clipped gradient of `batches` (any number of examples; the
    /// configured `accumulation` is what [`super::run::train_loop`] passes). On error nothing
    /// has changed but libtorch's generator.
    pub fn step_accumulated(&mut self, batches: &[Batch]) -> Result<StepReport> {
        if batches.is_empty() {
            bail!("a training step needs at least one example");
        }
        let started = Instant::now();
        let lr = self.config.schedule.lr(self.step);
        let mut gradient = Tensor::zeros([self.params.numel()], (Kind::Float, self.device()));
        let mut loss = 0.0;
        let mut terms: BTreeMap<String, f64> = BTreeMap::new();
        let mut grad_norm = 0.0;
        let mut lddt_ca = 0.0;
        let mut tm_score = 0.0;
        let mut recycles = Vec::with_capacity(batches.len());
        let runtime = RuntimeOptions { training: true, ..self.config.runtime };
        let (first_example, ranks) = match &self.data_parallel {
            Some(group) => (group.rank() * batches.len(), group.degree()),
            None => (0, 1),
        };
        let n = batches.len() as f64;
        let mut overlapped: Option<Tensor> = None;
        for (index, batch) in batches.iter().enumerate() {
            let example = (first_example + index) as u64;
            let mut rng = StdRng::seed_from_u64(stream_seed(self.config.seed, self.step, example));
            let torch_seed = rng.gen::<i64>();
            let copies = batch
                .get("aatype")
                .context("the training batch lacks feature 'aatype'")?
                .size()
                .first()
                .copied()
                .unwrap_or(1);
            let num_recycle = draw_num_recycle(self.config.max_recycle.min(copies - 1), &mut rng);
            let use_clamped_fape = f64::from(u8::from(rng.gen::<f64>() < self.config.clamped_fape_probability));
            let reduction = match self.overlapping_group() {
                Some(group) if index + 1 == batches.len() => Some(group.start_overlapped_average(self.variables_at_offsets(), &gradient, n)?),
                _ => None,
            };
            // The overlapped reduction reads the gradients itself; only a per-example norm
            // (reported, or clipped by) still needs the flat gradient then.
            let gather = reduction.is_none() || self.config.clip_scope == ClipScope::Example;
            let example_gradient = {
                let _generator = lock_generator();
                tch::manual_seed(torch_seed);
                self.example_gradient(batch, num_recycle, use_clamped_fape, &runtime, gather)
            };
            let reduced = match (reduction, &example_gradient) {
                (Some(reduction), Ok(_)) => Some(reduction.finish().context("data-parallel gradient, overlapped with the backward pass")),
                _ => None,
            };
            self.params.zero_grad();
            let (example_loss, example_terms, (example_lddt_ca, example_tm_score), example_gradient) = example_gradient?;
            overlapped = reduced.transpose()?;
            if let Some(example_gradient) = example_gradient {
                let scale = match self.config.clip_scope {
                    ClipScope::Example => {
                        let norm = example_gradient.norm().double_value(&[]);
                        grad_norm += norm;
                        clip_scale(self.config.clip_norm, norm)
                    }
                    ClipScope::Batch => 1.0,
                };
                if overlapped.is_none() {
                    gradient += example_gradient * scale;
                }
            }
            loss += example_loss;
            lddt_ca += example_lddt_ca;
            tm_score += example_tm_score;
            for (name, value) in example_terms {
                *terms.entry(name).or_default() += value;
            }
            recycles.push(num_recycle);
        }
        let gradient = match (overlapped, &self.data_parallel) {
            (Some(averaged), _) => averaged,
            (None, Some(group)) => group.average_gradient(&(gradient / n)).context("data-parallel gradient")?,
            (None, None) => gradient / n,
        };
        let (gradient, grad_norm) = match self.config.clip_scope {
            ClipScope::Example => (gradient, grad_norm / n),
            ClipScope::Batch => {
                let norm = gradient.norm().double_value(&[]);
                (gradient * clip_scale(self.config.clip_norm, norm), norm)
            }
        };
        self.adam.update(&self.params.values, &gradient, lr);
        self.ema.update(&self.params.values);
        let report = StepReport {
            step: self.step,
            loss: loss / n,
            terms: terms.into_iter().map(|(k, v)| (k, v / n)).collect(),
            grad_norm,
            lddt_ca: lddt_ca / n,
            tm_score: tm_score / n,
            lr,
            recycles,
            seconds: started.elapsed().as_secs_f64(),
            peak_memory_bytes: peak_memory_bytes(self.device()),
        };
        self.step += 1;
        self.data_position += (batches.len() * ranks) as u64;
        Ok(report)
    }

    /// The DP group when a step's reduction can overlap its last backward pass: the gradient
    /// is not clipped per example, and the pass is one backward call whose gradients are
    /// final (no recomputation tape, no DAP/BP sums after it; see [`crate::parallel::data_parallel`]).
    fn overlapping_group(&self) -> Option<&DataParallel> {
        let clipped_per_example = self.config.clip_scope == ClipScope::Example && self.config.clip_norm.is_some();
        let one_backward_call = !self.config.runtime.recompute && !self.sharding.is_sharded();
        let group = self.data_parallel.as_ref()?;
        (self.config.overlap_reduction && !clipped_per_example && one_backward_call).then_some(group)
    }

    /// The trainable variables with their offsets in the flat gradient.
    fn variables_at_offsets(&self) -> Vec<(Tensor, i64)> {
        self.params.variables().iter().zip(self.params.slots()).map(|(variable, slot)| (variable.shallow_clone(), slot.offset)).collect()
    }

    /// Loss, its terms, lDDT-Cα and TM-score, and with `gather` the flat gradient `[P]` of one
    /// example.
    fn example_gradient(
        &self,
        batch: &Batch,
        num_recycle: i64,
        use_clamped_fape: f64,
        runtime: &RuntimeOptions,
        gather: bool,
    ) -> Result<(f64, BTreeMap<String, f64>, (f64, f64), Option<Tensor>)> {
        let forward = || forward_training(&self.model, batch, num_recycle, runtime);
        let (forward, comm_tape) = if self.sharding.is_sharded() {
            run_sharded(&self.sharding, forward).context("sharded training forward pass")?
        } else {
            (forward(), CommTape::new())
        };
        let (outputs, recompute_tape) = forward?;
        let losses = training_loss(&outputs, &self.model_config, use_clamped_fape)?;
        let total = losses.total.double_value(&[]);
        if !total.is_finite() {
            bail!("the loss is {total} (terms: {:?})", values(&losses.terms));
        }
        if self.sharding.is_sharded() {
            let counted = match &self.sharding.bp {
                Some(group) if group.rank() != MSA_BRANCH_RANK => &losses.total * 0.0,
                _ => losses.total.shallow_clone(),
            };
            recompute_tape.backward_sharded(comm_tape, &counted).context("back-propagating the loss through the sharded pass")?;
        } else {
            losses.total.backward();
            recompute_tape.backward().context("recomputing the trunk's blocks for their gradients")?;
        }
        let scores = (losses.lddt_ca.double_value(&[]), losses.tm_score);
        let gradient = match gather {
            true => Some(self.summed_over_dap(self.summed_over_bp(self.params.flat_gradient())?)?),
            false => None,
        };
        Ok((total, values(&losses.terms), scores, gradient))
    }

    /// `gradient [P]` summed over the BP group (as it is without one): the loss counts on one
    /// rank and each rank's gradient holds the parts it computed (`model::branch_parallel`).
    fn summed_over_bp(&self, gradient: Tensor) -> Result<Tensor> {
        match &self.sharding.bp {
            Some(group) => group
                .on_own_device(&gradient, |gradient| group.all_reduce(gradient, ReduceOp::Sum))
                .context("summing the gradients over the BP group"),
            None => Ok(gradient),
        }
    }

    /// `gradient [P]` with the sharded stacks' partial gradients summed over the DAP group (as
    /// it is without one).
    fn summed_over_dap(&self, gradient: Tensor) -> Result<Tensor> {
        let Some(group) = &self.sharding.dap else { return Ok(gradient) };
        let ranges: Vec<(i64, i64)> = self
            .params
            .slots()
            .iter()
            .filter(|slot| is_sharded_stack_parameter(&slot.name))
            .map(|slot| (slot.offset, slot.numel()))
            .collect();
        if ranges.is_empty() {
            return Ok(gradient);
        }
        let partial = Tensor::cat(&ranges.iter().map(|&(at, len)| gradient.narrow(0, at, len)).collect::<Vec<_>>(), 0);
        let summed = group
            .on_own_device(&partial, |partial| group.all_reduce(partial, ReduceOp::Sum))
            .context("summing the sharded stacks' gradients over the DAP group")?;
        tch::no_grad(|| {
            let mut from = 0;
            for &(at, len) in &ranges {
                gradient.narrow(0, at, len).copy_(&summed.narrow(0, from, len));
                from += len;
            }
        });
        Ok(gradient)
    }

    /// Runs `f` with the averaged weights in the model, then puts the trained ones back.
    pub fn with_average_weights<T>(&mut self, f: impl FnOnce(&AlphaFold) -> T) -> T {
        let trained = tch::no_grad(|| self.params.values.copy());
        self.params.assign(&self.ema.values);
        let result = f(&self.model);
        self.params.assign(&trained);
        result
    }

    /// Saves the averaged weights alone (a model checkpoint for `predict --params`), under the
    /// VarStore's names.
    pub fn save_average_weights(&mut self, path: &std::path::Path) -> Result<()> {
        let trained = tch::no_grad(|| self.params.values.copy());
        self.params.assign(&self.ema.values);
        let saved = crate::model::weights::save_checkpoint(&self.vs, path);
        self.params.assign(&trained);
        saved
    }
}

/// Mutable access to the state a checkpoint restores.
pub(crate) struct TrainerState<'a> {
    pub params: &'a mut FlatParameters,
    pub adam: &'a mut Adam,
    pub ema: &'a mut ExponentialMovingAverage,
    pub step: &'a mut u64,
    pub data_position: &'a mut u64,
}

/// The factor that brings a gradient of global norm `norm` within `clip` (1 without a clip).
fn clip_scale(clip: Option<f64>, norm: f64) -> f64 {
    match clip {
        Some(clip) => (clip / (norm + 1e-6)).min(1.0),
        None => 1.0,
    }
}

fn values(terms: &BTreeMap<String, Tensor>) -> BTreeMap<String, f64> {
    terms.iter().map(|(k, v)| (k.clone(), v.double_value(&[]))).collect()
}

/// The process's peak resident set on the CPU; on CUDA the device memory in use, which libtorch's
/// caching allocator keeps at its high-water mark ([`crate::memory`]).
fn peak_memory_bytes(device: Device) -> Option<u64> {
    match device {
        Device::Cuda(_) => crate::memory::cuda_memory_in_use_bytes(),
        _ => crate::memory::peak_rss_bytes().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every word of the session's `clip=` names a scope, and a configuration saved before the
    /// scope and the overlap existed (a checkpoint's metadata) reads as AlphaFold's per-example
    /// clipping with the overlap on.
    #[test]
    fn clip_scopes_parse_and_old_configurations_read_with_the_defaults() {
        let scopes: Vec<ClipScope> = ClipScope::NAMES.iter().map(|word| ClipScope::parse(word).unwrap()).collect();
        assert_eq!(scopes, [ClipScope::Example, ClipScope::Batch]);
        assert!(ClipScope::parse("step").is_err());
        let config = TrainConfig { clip_scope: ClipScope::Batch, overlap_reduction: false, ..TrainConfig::alphafold(&ModelConfig::tiny(), 3) };
        let mut saved = serde_json::to_value(&config).unwrap();
        let fields = saved.as_object_mut().unwrap();
        assert_eq!(fields["clip_scope"], "batch");
        fields.remove("clip_scope");
        fields.remove("overlap_reduction");
        let read: TrainConfig = serde_json::from_value(saved).unwrap();
        assert_eq!(read, TrainConfig::alphafold(&ModelConfig::tiny(), 3));
    }
}

