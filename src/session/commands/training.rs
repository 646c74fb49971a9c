//! `train step [N] | for DURATION | until METRIC<VALUE | reset` and `checkpoint save|load FILE`:
//! training inside the session ([`crate::train::trainer::Trainer`], Jumper et al. (2021)
//! Suppl. Alg. 31) on a loaded structure with the loaded alignments, or on a loaded training
//! set (cluster-balanced sampling), one optimiser step at a time, with progress after every step
//! and a stop at the next step boundary on interrupt.
//!
//! The first `train` starts a run from the session's parameters (`params init|load`) with
//! AlphaFold's optimiser settings, or those given (`lr=`, `warmup=`, `max_recycle=`,
//! `seed=`); later ones continue it. After every command the trained weights are copied back
//! into the session's network, so `infer`, `eval` and `params save` see them. `model` and
//! `params` start over.
use crate::data::datasets::TrainingExample;
use crate::data::msa::Msa;
use crate::model::config::ModelConfig;
use crate::model::config::RuntimeOptions;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::model_state::TrainingRun;
use crate::session::output::Output;
use crate::session::Session;
use crate::train::batches::{example_from_protein, training_data_config, BatchSource, DatasetBatches, ExampleBatches};
use crate::train::schedule::LearningRateSchedule;
use crate::train::trainer::{StepReport, TrainConfig, Trainer};
use anyhow::{anyhow, bail, Context as _, Result};
use std::path::Path;
use std::sync::atomic::Ordering;
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
        schedule,
        runtime: RuntimeOptions { training: true, ..session.model.runtime },
        ..defaults
    };
    let trainer = Trainer::from_parameters(config, train_config, &network.vs)?;
    Ok(TrainingRun { trainer, source, batches, history: Vec::new() })
}

const RUN_SETTINGS: &[&str] = &["structure", "lr", "warmup", "max_recycle", "seed"];

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
    let given: Vec<&str> = RUN_SETTINGS.iter().copied().filter(|k| args.contains(k)).collect();
    let mut run = match session.model.training.take() {
        Some(run) if given.is_empty() => run,
        Some(run) => {
            session.model.training = Some(run);
            bail!("{} apply to a new run: `train reset` first (the current run keeps its settings)", given.join(", "));
        }
        None => start_run(session, args)?,
    };
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

/// Steps until the goal, an interrupt or an error; returns the steps' reports and why it stopped.
fn run_steps(session: &Session, run: &mut TrainingRun, goal: &Goal, context: &mut Context) -> Result<(Vec<StepReport>, &'static str)> {
    let interrupt = session.interrupt_flag();
    let started = Instant::now();
    let mut reports: Vec<StepReport> = Vec::new();
    loop {
        let (done, total) = match goal {
            Goal::Steps(n) => (reports.len() as u64, *n),
            Goal::Duration(d) => (started.elapsed().as_secs().min(d.as_secs()), d.as_secs().max(1)),
            Goal::Below { max_steps, .. } => (reports.len() as u64, *max_steps),
        };
        if done >= total && !matches!(goal, Goal::Duration(_)) {
            return Ok((reports, "done"));
        }
        if let Goal::Duration(d) = goal {
            if started.elapsed() >= *d {
                return Ok((reports, "time is up"));
            }
        }
        if let (Goal::Below { metric, value, .. }, Some(last)) = (goal, reports.last()) {
            let reached = metric_value(last, metric)?;
            if reached < *value {
                return Ok((reports, "condition met"));
            }
        }
        if interrupt.load(Ordering::SeqCst) {
            return Ok((reports, "interrupted"));
        }
        let index = run.trainer.data_position();
        let batch = run.batches.batch(index).with_context(|| format!("batch {index} of {}", run.source))?;
        let report = run.trainer.step(&batch).with_context(|| format!("training step {}", run.trainer.step_count()))?;
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
    session.model.training = Some(TrainingRun { trainer, source, batches, history: Vec::new() });
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
