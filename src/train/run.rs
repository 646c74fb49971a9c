//! The training loop: steps until a step count or a deadline is reached or a shared flag asks
//! it to stop. The flag is read between steps only, so an interrupted run leaves the trainer
//! between two complete updates, ready to be checkpointed or continued.
use super::batches::BatchSource;
use super::trainer::{StepReport, Trainer};
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// When the loop ends (whichever comes first; neither runs until interrupted).
#[derive(Debug, Clone, Copy, Default)]
pub struct StopAt {
    /// Total optimiser steps of the run (including those before a resume).
    pub steps: Option<u64>,
    pub deadline: Option<Instant>,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopEnd {
    StepsDone,
    DeadlineReached,
    Interrupted,
}

/// Runs steps, each on `trainer.config().accumulation` batches taken from `source` at the
/// trainer's data position, calling `on_step` after each (for logging, evaluation,
/// checkpoints; an error from it stops the loop).
pub fn train_loop(
    trainer: &mut Trainer,
    source: &mut dyn BatchSource,
    stop_at: StopAt,
    interrupt: &Arc<AtomicBool>,
    mut on_step: impl FnMut(&mut Trainer, &StepReport) -> Result<()>,
) -> Result<LoopEnd> {
    loop {
        if interrupt.load(Ordering::SeqCst) {
            return Ok(LoopEnd::Interrupted);
        }
        if stop_at.steps.is_some_and(|steps| trainer.step_count() >= steps) {
            return Ok(LoopEnd::StepsDone);
        }
        if stop_at.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Ok(LoopEnd::DeadlineReached);
        }
        let first = trainer.data_position();
        let batches = (first..first + trainer.config().accumulation as u64)
            .map(|index| source.batch(index).with_context(|| format!("training batch {index}")))
            .collect::<Result<Vec<_>>>()?;
        let report = trainer
            .step_accumulated(&batches)
            .with_context(|| format!("training step {}", trainer.step_count()))?;
        on_step(trainer, &report)?;
    }
}
