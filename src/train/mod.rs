//! Training (Jumper et al. (2021) Suppl. 1.11): the training forward pass with sampled
//! recycling, the combined loss, Adam on flat parameter buffers with AlphaFold's schedule,
//! gradient clipping and weight averaging, the step API ([`trainer::Trainer`]), checkpoints,
//! batch sources, the loop and the run that `helixfold train` drives ([`job`]).
pub mod adam;
pub mod batches;
pub mod checkpoint;
pub mod ema;
pub mod evaluate;
pub mod flat_parameters;
pub mod forward;
pub mod job;
pub mod loss;
pub mod run;
pub mod schedule;
pub mod trainer;

pub use trainer::{Batch, StepReport, TrainConfig, Trainer};
