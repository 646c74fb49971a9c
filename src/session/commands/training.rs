//! `train step [N] | for DURATION | until METRIC<VALUE | reset` and `checkpoint save|load FILE`:
//! training inside the session ([`crate::train::trainer::Trainer`], Jumper et al. (2021)
//! Suppl. Alg. 31) on a loaded structure with the loaded alignments, or on a loaded training
//! set (cluster-balanced sampling), one optimiser step at a time, with progress after every step
//! and a stop at the next step boundary on interrupt.
//!
//! The first `train` starts a run from the session's parameters (`params init|load`) with
//! AlphaFold's optimiser settings, or those given (`lr=`, `warmup=`, `max_recycle=`,
//! `seed=`, `accumulation=`, `clip=example|batch`, `overlap=`); later ones continue it. After every command the trained weights are copied back
//! into the session's network, so `infer`, `eval` and `params save` see them. `model` and
//! `params` start over.
//!
//! In a multi-process job (`parallel`) every rank runs `train`: the ranks first check in with
//! each other (all ready, same seed, same step), the trainer joins the job's data-parallel group
//! ([`attach_parallel`]), rank `r` of the dp group steps on its own examples (those of the
//! ranks of its DAP/BP groups are the same), and before every step the ranks agree whether to go
//! on, so that an interrupt, a deadline or a reached condition on any rank stops them all at the
//! same step.
use crate::data::datasets::TrainingExample;
use crate::data::msa::Msa;
use crate::model::config::ModelConfig;
use crate::model::config::RuntimeOptions;
use crate::parallel::data_parallel::DataParallel;
use crate::parallel::sharding::ShardingGroups;
use crate::parallel::groups::ParallelGroups;
use crate::parallel::layout::Axis;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::model_state::TrainingRun;
use crate::session::output::Output;
use crate::session::Session;
use crate::train::batches::{example_from_protein, training_data_config, BatchSource, DatasetBatches, ExampleBatches};
use crate::train::schedule::LearningRateSchedule;
use crate::train::trainer::{ClipScope, StepReport, TrainConfig, Trainer};
use anyhow::{anyhow, bail, Context as _, Result};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `action` words of `train`.
pub const ACTIONS: &[&str] = &["step", "for", "until", "reset"];

/// Steps `until` runs at most unless `max_steps=` says otherwise.
const DEFAULT_MAX_STEPS: u64 = 10_000;

/// When a run stops.
#[derive(Debug, Clone, PartialEq)]
enum Goal {
    Steps(u64),
    Duration(Duration),
    Below { metric: String, value: f64, max_steps: u64 },
}

/// `90s`, `5m`, `1.5h` or plain seconds.
fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number.trim().parse().with_context(|| format!("duration '{text}': expected e.g. 90s, 5m or 1h"))?;
    let seconds = match unit {
        "s" | "sec" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => bail!("duration '{text}': unknown unit '{other}' (s, m or h)"),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        bail!("duration '{text}' must be positive");
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `loss<0.5` or `fape<1.2`: the metric (the total loss or a term) and the value to get under.
fn parse_condition(text: &str) -> Result<(String, f64)> {
    let (metric, value) = text
        .split_once('<')
        .ok_or_else(|| anyhow!("condition '{text}': expected METRIC<VALUE, e.g. loss<1.5"))?;
    let value: f64 = value.trim().parse().with_context(|| format!("condition '{text}': '{value}' is not a number"))?;
    Ok((metric.trim().to_string(), value))
}

fn goal(args: &Args, action: &str) -> Result<Goal> {
    let amount = args.text("amount");
    Ok(match (action, amount) {
        ("step", None) => Goal::Steps(1),
        ("step", Some(n)) => Goal::Steps(
            n.parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| anyhow!("`train step {n}`: the step count must be a positive integer"))?,
        ),
        ("for", Some(duration)) => Goal::Duration(parse_duration(duration)?),
        ("until", Some(condition)) => {
            let (metric, value) = parse_condition(condition)?;
            let max_steps = args.int("max_steps").map_or(Ok(DEFAULT_MAX_STEPS), u64::try_from).context("max_steps")?;
            Goal::Below { metric, value, max_steps }
        }
        (action, None) => bail!("`train {action}` needs {}", if action == "for" { "a DURATION (e.g. 5m)" } else { "a METRIC<VALUE (e.g. loss<1.5)" }),
        (action, Some(extra)) => bail!("`train {action}` takes no '{extra}'"),
    })
}

/// The training example: a loaded structure (the `structure=` one, else the only one) with
/// every loaded alignment, or the query alone.
fn example(session: &Session, args: &Args) -> Result<(String, TrainingExample)> {
    let structures = &session.inputs.structures;
    let name = match args.text("structure") {
        Some(name) => name.to_string(),
        None if structures.len() == 1 => structures.keys().next().cloned().unwrap_or_default(),
        None if structures.is_empty() => bail!("no structure to train on: `load FILE.pdb|.cif` first"),
        None => bail!("several structures are loaded ({}): choose one with structure=NAME", structures.keys().cloned().collect::<Vec<_>>().join(", ")),
    };
    let structure = structures.get(&name).ok_or_else(|| anyhow!("no loaded structure '{name}' (loaded: {})", structures.keys().cloned().collect::<Vec<_>>().join(", ")))?;
    let alignments: Vec<&Msa> = session.inputs.msas.iter().map(|m| &m.msa).collect();
    let example = example_from_protein(&name, &structure.protein, 0.0, &alignments).with_context(|| format!("training example '{name}'"))?;
    Ok((name, example))
}

/// Where a run's batches come from: the structure named by `structure=`, else a loaded training
/// set, else the only loaded structure. Returns the source's description for messages.
fn batch_source(session: &Session, args: &Args, config: &ModelConfig, seed: u64) -> Result<(String, Box<dyn BatchSource + Send>)> {
    let data = training_data_config(config)?;
    let device = session.device;
    if let (None, Some(loaded)) = (args.text("structure"), &session.inputs.dataset) {
        let source = format!("training set {}", loaded.source.display());
        return Ok((source, Box::new(DatasetBatches::new(loaded.dataset.clone(), data, seed, device))));
    }
    let (name, example) = example(session, args)?;
    Ok((format!("'{name}'"), Box::new(ExampleBatches { example, data, seed, device })))
}

/// Starts a run from the session's network, its configuration and the given settings.
fn start_run(session: &Session, args: &Args) -> Result<TrainingRun> {
    let config = session.model.config.as_ref().ok_or_else(|| anyhow!("no model: `model PRESET` first (e.g. `model tiny`)"))?;
    let network = session.model.network.as_ref().ok_or_else(|| anyhow!("no parameters: `params init` or `params load FILE` first"))?;
    let seed = args.int("seed").map_or(Ok(0), u64::try_from).context("seed")?;
    let (source, batches) = batch_source(session, args, config, seed)?;
    let defaults = TrainConfig::alphafold(config, seed);
    let schedule = LearningRateSchedule {
        base_lr: args.float("lr").unwrap_or(defaults.schedule.base_lr),
        warmup_steps: args.int("warmup").map_or(Ok(defaults.schedule.warmup_steps), u64::try_from).context("warmup")?,
        ..defaults.schedule
    };
    let train_config = TrainConfig {
        max_recycle: args.int("max_recycle").unwrap_or(defaults.max_recycle),
        accumulation: args.int("accumulation").map_or(Ok(defaults.accumulation), usize::try_from).context("accumulation")?,
        clip_scope: args.text("clip").map_or(Ok(defaults.clip_scope), ClipScope::parse)?,
        overlap_reduction: args.flag("overlap").unwrap_or(defaults.overlap_reduction),
        schedule,
        runtime: RuntimeOptions { training: true, ..session.model.runtime },
        ..defaults
    };
    let trainer = Trainer::from_parameters(config, train_config, &network.vs)?;
    Ok(TrainingRun { trainer, source, batches, history: Vec::new(), job: None })
}

const RUN_SETTINGS: &[&str] = &["structure", "lr", "warmup", "max_recycle", "seed", "accumulation", "clip", "overlap"];

pub fn train(session: &mut Session, args: &Args, context: &mut Context) -> Result<Vec<Output>> {
    let action = args.text("action").ok_or_else(|| anyhow!("missing action"))?;
    if action == "reset" {
        let dropped = session.model.training.take();
        return Ok(vec![Output::Text(match dropped {
            Some(run) => format!("dropped the training run on {} after {} steps; the network keeps its weights", run.source, run.trainer.step_count()),
            None => "no training run to drop".to_string(),
        })]);
    }
    let goal = goal(args, action)?;
    let prepared = prepare_run(session, args);
    if let Some(groups) = session.parallel_groups() {
        let checked = check_in(groups, prepared.as_ref().ok().map(|run| (run.trainer.config().seed, run.trainer.step_count())));
        if let Err(error) = checked {
            return match prepared {
                Ok(run) => {
                    session.model.training = Some(run);
                    Err(error)
                }
                Err(local) => Err(local),
            };
        }
    }
    let mut run = prepared?;
    if let Err(error) = attach_parallel(&mut run, session.parallel_groups()) {
        session.model.training = Some(run);
        return Err(error);
    }
    let outcome = run_steps(session, &mut run, &goal, context);
    let copied = match session.model.network.as_mut() {
        Some(network) => network.vs.copy(run.trainer.var_store()).context("copying the trained weights into the session's network"),
        None => Ok(()),
    };
    let result = match (outcome, copied) {
        (Ok((reports, stop)), Ok(())) => {
            run.history.extend(reports.iter().cloned());
            let skipped = run.batches.take_warnings().into_iter().map(|w| Output::Warning(w.to_string()));
            Ok(skipped.chain(summary(&run, &reports, stop)).collect())
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    session.model.training = Some(run);
    result
}

/// The run to continue (taken out of the session), or a new one from the session's network.
/// Settings for a new run while one exists are refused, leaving it in place.
fn prepare_run(session: &mut Session, args: &Args) -> Result<TrainingRun> {
    let given: Vec<&str> = RUN_SETTINGS.iter().copied().filter(|k| args.contains(k)).collect();
    match session.model.training.take() {
        Some(mut run) if given.is_empty() => {
            run.trainer.set_runtime(session.model.runtime);
            Ok(run)
        }
        Some(run) => {
            session.model.training = Some(run);
            bail!("{} apply to a new run: `train reset` first (the current run keeps its settings)", given.join(", "));
        }
        None => start_run(session, args),
    }
}

/// Every rank of the job says whether it has a run to train and with what `(seed, step)`
/// (`None`: it failed, and reports why itself); refuses to go on unless all ranks can, with one
/// seed and at one step, since the ranks' random streams and data shards follow from both.
fn check_in(groups: &ParallelGroups, run: Option<(u64, u64)>) -> Result<()> {
    let mine = match run {
        Some((seed, step)) => [1, i64::from_ne_bytes(seed.to_ne_bytes()), i64::try_from(step).unwrap_or(i64::MAX)],
        None => [0, 0, 0],
    };
    let all = groups.gather_i64(&mine).context("checking in with the other ranks before training")?;
    let failed: Vec<String> = all.iter().enumerate().filter(|(_, row)| row[0] == 0).map(|(rank, _)| rank.to_string()).collect();
    if !failed.is_empty() {
        bail!("rank(s) {} could not start training (see their messages); no rank trains", failed.join(", "));
    }
    let describe = |column: usize, what: &str| -> String {
        all.iter()
            .enumerate()
            .map(|(rank, row)| {
                let value = if column == 1 { u64::from_ne_bytes(row[1].to_ne_bytes()).to_string() } else { row[column].to_string() };
                format!("rank {rank} {what} {value}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if all.iter().any(|row| row[1] != all[0][1]) {
        bail!(
            "the ranks train with different seeds ({}): every rank must use the same seed= (workers run the same commands; a run started or loaded before `parallel` keeps its own seed, so `train reset` and start again)",
            describe(1, "seed")
        );
    }
    if all.iter().any(|row| row[2] != all[0][2]) {
        bail!("the ranks' runs are at different steps ({}): `train reset` and start again, or load one checkpoint on every rank", describe(2, "at step"));
    }
    Ok(())
}

/// Joins `run`'s trainer to the job of `groups` (`None`: no job, it trains alone), once per job.
/// This is the one place where the session's training meets the parallel layout: data
/// parallelism over the dp group, dynamic axial and branch parallelism over the dap and bp
/// groups (`Trainer::set_sharding`).
pub fn attach_parallel(run: &mut TrainingRun, groups: Option<&ParallelGroups>) -> Result<()> {
    if run.job == groups.map(ParallelGroups::job) {
        return Ok(());
    }
    run.job = None;
    run.trainer.set_data_parallel(None)?;
    run.trainer.set_sharding(ShardingGroups::default())?;
    let Some(groups) = groups else { return Ok(()) };
    run.trainer.set_data_parallel(Some(DataParallel::new(Arc::clone(groups.axis(Axis::Dp)))))?;
    run.trainer.set_sharding(groups.sharding())?;
    run.job = Some(groups.job());
    Ok(())
}

/// The stream positions of this rank's examples for the next step: `accumulation` of them,
/// this rank's share ([`DataParallel::shard`]) when the trainer is data-parallel.
fn step_examples(trainer: &Trainer) -> std::ops::Range<u64> {
    let (position, per_rank) = (trainer.data_position(), trainer.config().accumulation);
    match trainer.data_parallel() {
        Some(group) => group.shard(position, per_rank),
        None => position..position + per_rank as u64,
    }
}

/// Steps until the goal, an interrupt or an error; returns the steps' reports and why it stopped.
fn run_steps(session: &Session, run: &mut TrainingRun, goal: &Goal, context: &mut Context) -> Result<(Vec<StepReport>, &'static str)> {
    let interrupt = session.interrupt_flag();
    let started = Instant::now();
    let mut reports: Vec<StepReport> = Vec::new();
    loop {
        let stop = stop_reason(goal, &reports, started, &interrupt)?;
        let stop = match session.parallel_groups() {
            Some(groups) => match (groups.any(stop.is_some()).context("agreeing with the other ranks whether to go on")?, stop) {
                (true, None) => Some("another rank stopped"),
                (_, stop) => stop,
            },
            None => stop,
        };
        if let Some(stop) = stop {
            return Ok((reports, stop));
        }
        let batches = step_examples(&run.trainer)
            .map(|index| run.batches.batch(index).with_context(|| format!("batch {index} of {}", run.source)))
            .collect::<Result<Vec<_>>>()?;
        let report = run.trainer.step_accumulated(&batches).with_context(|| format!("training step {}", run.trainer.step_count()))?;
        let total = match goal {
            Goal::Steps(n) => *n,
            Goal::Duration(d) => d.as_secs().max(1),
            Goal::Below { max_steps, .. } => *max_steps,
        };
        let message = format!("step {}: loss {:.4}, lr {:.2e}, {:.2} s", report.step, report.loss, report.lr, report.seconds);
        let done = match goal {
            Goal::Duration(d) => started.elapsed().as_secs().min(d.as_secs()),
            _ => reports.len() as u64 + 1,
        };
        let mut metrics = vec![("step".to_string(), report.step as f64), ("loss".to_string(), report.loss)];
        metrics.extend(report.terms.iter().map(|(name, value)| (name.clone(), *value)));
        context.progress_with_metrics("train", done, total, message, metrics);
        reports.push(report);
    }
}

/// Why the run should stop before another step, if it should.
fn stop_reason(goal: &Goal, reports: &[StepReport], started: Instant, interrupt: &std::sync::atomic::AtomicBool) -> Result<Option<&'static str>> {
    match goal {
        Goal::Steps(n) if reports.len() as u64 >= *n => return Ok(Some("done")),
        Goal::Below { max_steps, .. } if reports.len() as u64 >= *max_steps => return Ok(Some("done")),
        Goal::Duration(d) if started.elapsed() >= *d => return Ok(Some("time is up")),
        _ => {}
    }
    if let (Goal::Below { metric, value, .. }, Some(last)) = (goal, reports.last()) {
        if metric_value(last, metric)? < *value {
            return Ok(Some("condition met"));
        }
    }
    Ok(interrupt.load(Ordering::SeqCst).then_some("interrupted"))
}

/// The total loss (`loss`) or a term by name.
fn metric_value(report: &StepReport, metric: &str) -> Result<f64> {
    if metric == "loss" {
        return Ok(report.loss);
    }
    report.terms.get(metric).copied().ok_or_else(|| {
        anyhow!("unknown metric '{metric}': loss or one of {}", report.terms.keys().cloned().collect::<Vec<_>>().join(", "))
    })
}

fn summary(run: &TrainingRun, reports: &[StepReport], stop: &str) -> Vec<Output> {
    let Some(last) = reports.last() else {
        return vec![Output::Text(format!("no step taken ({stop}); the run on {} is at step {}", run.source, run.trainer.step_count()))];
    };
    let seconds: f64 = reports.iter().map(|r| r.seconds).sum();
    let first_loss = reports.first().map_or(last.loss, |r| r.loss);
    let mut rows = vec![
        vec!["loss".to_string(), format!("{:.4}", last.loss)],
        vec!["grad_norm".to_string(), format!("{:.4}", last.grad_norm)],
        vec!["lddt_ca".to_string(), format!("{:.4}", last.lddt_ca)],
        vec!["tm_score".to_string(), format!("{:.4}", last.tm_score)],
        vec!["lr".to_string(), format!("{:.3e}", last.lr)],
    ];
    rows.extend(last.terms.iter().map(|(name, value)| vec![name.clone(), format!("{value:.4}")]));
    vec![
        Output::Text(format!(
            "{} step(s) on {} in {seconds:.1} s ({stop}); run at step {}; loss {first_loss:.4} -> {:.4}",
            reports.len(),
            run.source,
            run.trainer.step_count(),
            last.loss
        )),
        Output::table(&["metric", "last step"], rows),
    ]
}

/// `show training`: what the run trains on, steps taken, learning rate and the last step's losses.
pub fn training_table(session: &Session) -> Result<Output> {
    let run = session.model.training.as_ref().ok_or_else(|| anyhow!("no training run: `train step` starts one"))?;
    let mut rows = vec![
        vec!["data".to_string(), run.source.clone()],
        vec!["steps".to_string(), run.trainer.step_count().to_string()],
        vec!["steps this session".to_string(), run.history.len().to_string()],
    ];
    if let Some(last) = run.history.last() {
        rows.push(vec!["lr".to_string(), format!("{:.3e}", last.lr)]);
        rows.push(vec!["loss".to_string(), format!("{:.4}", last.loss)]);
        rows.extend(last.terms.iter().map(|(name, value)| vec![name.clone(), format!("{value:.4}")]));
    }
    Ok(Output::table(&["training", "value"], rows))
}

/// `checkpoint save FILE | load FILE`: the whole run (weights, optimiser moments, weight
/// average, schedule position, data position) in one safetensors file.
pub fn checkpoint(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let action = args.text("action").ok_or_else(|| anyhow!("missing action"))?;
    let file = args.path("file").ok_or_else(|| anyhow!("`checkpoint {action}` needs a FILE"))?;
    match action {
        "save" => {
            if let Some(left) = super::parallel::left_to_rank_zero(session, "saving the checkpoint") {
                return Ok(vec![left]);
            }
            let run = session.model.training.as_mut().ok_or_else(|| anyhow!("no training run to save: `train step` first"))?;
            run.trainer.save_checkpoint(file)?;
            Ok(vec![Output::Text(format!("saved the run on {} at step {} to {}", run.source, run.trainer.step_count(), file.display()))])
        }
        "load" => load_checkpoint(session, args, file),
        other => bail!("unknown action '{other}' (save or load)"),
    }
}

/// Resumes a run from `file` on the session's device, with a loaded structure or training set as
/// its data (chosen as `train` chooses); the session's model and network become the checkpoint's.
fn load_checkpoint(session: &mut Session, args: &Args, file: &Path) -> Result<Vec<Output>> {
    let trainer = Trainer::from_checkpoint(file, session.device)?;
    let config = trainer.model_config().clone();
    let (source, batches) = batch_source(session, args, &config, trainer.config().seed)?;
    let (vs, model) = crate::predict::build_model(&config, session.device, None, 0)?;
    let mut network = crate::session::model_state::Network { vs, model, source: file.display().to_string() };
    network.vs.copy(trainer.var_store()).context("copying the checkpoint's weights into the session's network")?;
    let step = trainer.step_count();
    session.model.config = Some(config);
    session.model.network = Some(network);
    session.model.prediction = None;
    let message = format!("resumed the run from {} at step {step}, training on {source}", file.display());
    session.model.training = Some(TrainingRun { trainer, source, batches, history: Vec::new(), job: None });
    Ok(vec![Output::Text(message)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_conditions() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("5 parsecs").unwrap_err().to_string().contains("unknown unit"));
        assert!(parse_duration("-1s").is_err());
        assert_eq!(parse_condition("fape < 0.5").unwrap(), ("fape".to_string(), 0.5));
        assert!(parse_condition("loss>1").unwrap_err().to_string().contains("METRIC<VALUE"));
    }
}
