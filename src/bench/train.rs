//! `helixfold bench train`: seconds per training step and peak memory for a preset on one real
//! example (a structure and its alignments), processed by the training pipeline as the preset
//! sets it (crop and pad to its crop size, its MSA depths), with each memory technique as a
//! switch so its effect can be read side by side.
//!
//! Protocol: random initial parameters, one untimed warm-up step, then `steps` timed steps
//! (forward, every loss, backward, clipping, Adam and the weight average), each ending with a
//! device synchronisation; the figure is the median step. Recycling is capped at
//! `max_recycle` (0 by default, so every step costs the same: one iteration with gradients;
//! AlphaFold draws 0–3 extra gradient-free iterations per step). Memory is the peak from building
//! the trainer to the last step ([`super::memory`]).
use super::infer::median;
use super::memory::{MemoryMeasure, MemoryProbe};
use crate::model::config::{ModelConfig, RuntimeOptions};
use crate::train::batches::{features_to_batch, load_structure_example, training_data_config};
use crate::train::trainer::{TrainConfig, Trainer};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::time::Instant;
use tch::Device;

/// What to time.
#[derive(Debug, Clone)]
pub struct TrainBench {
    pub preset: String,
    pub structure: PathBuf,
    pub msas: Vec<PathBuf>,
    pub device: Device,
    pub runtime: RuntimeOptions,
    pub max_recycle: i64,
    /// Residues to crop and pad to instead of the preset's crop size.
    pub crop_size: Option<usize>,
    /// Timed steps (at least 1).
    pub steps: usize,
    pub seed: u64,
}

/// The measurement.
#[derive(Debug, Clone)]
pub struct TrainTiming {
    pub seconds_per_step: f64,
    pub step_seconds: Vec<f64>,
    pub peak_memory_mib: f64,
    pub memory_measure: MemoryMeasure,
    /// Residues per example after cropping and padding.
    pub residues: i64,
    pub parameters: i64,
}

/// Builds a trainer for the bench's preset and times its steps on the bench's example.
pub fn time_training(bench: &TrainBench) -> Result<TrainTiming> {
    if bench.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let model_config = ModelConfig::preset(&bench.preset)?;
    let mut data = training_data_config(&model_config)?;
    if bench.crop_size.is_some() {
        data.crop_size = bench.crop_size;
    }
    let example = load_structure_example(&bench.structure, &bench.msas)?;
    let features = example.process(&data, bench.seed).with_context(|| format!("processing {}", bench.structure.display()))?;
    let batch = features_to_batch(&features, bench.device)?;
    let residues = batch.get("aatype").map_or(0, |t| t.size().last().copied().unwrap_or(0));
    let probe = MemoryProbe::start(bench.device)?;
    let config = TrainConfig {
        max_recycle: bench.max_recycle,
        runtime: RuntimeOptions { training: true, ..bench.runtime },
        ..TrainConfig::alphafold(&model_config, bench.seed)
    };
    let mut trainer = Trainer::new(&model_config, config, bench.device)?;
    let parameters = crate::model::weights::parameter_count(trainer.var_store());
    let mut timed_step = || -> Result<f64> {
        let started = Instant::now();
        trainer.step(&batch)?;
        if let Device::Cuda(index) = bench.device {
            tch::Cuda::synchronize(index as i64);
        }
        Ok(started.elapsed().as_secs_f64())
    };
    timed_step()?;
    let step_seconds = (0..bench.steps).map(|_| timed_step()).collect::<Result<Vec<_>>>()?;
    Ok(TrainTiming {
        seconds_per_step: median(&step_seconds),
        step_seconds,
        peak_memory_mib: probe.peak_mib()?,
        memory_measure: probe.measure(),
        residues,
        parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::shared_data;

    #[test]
    fn times_tiny_training_steps_on_1psm() {
        let Some(root) = shared_data("openfold_mini") else { return };
        let bench = TrainBench {
            preset: "tiny".into(),
            structure: root.join("mmcif/1psm.cif"),
            msas: Vec::new(),
            device: Device::Cpu,
            runtime: RuntimeOptions::default(),
            max_recycle: 0,
            crop_size: None,
            steps: 2,
            seed: 0,
        };
        let timing = time_training(&bench).unwrap();
        assert_eq!(timing.step_seconds.len(), 2);
        assert!(timing.seconds_per_step > 0.0 && timing.peak_memory_mib > 0.0);
        assert_eq!(timing.residues, 32, "1psm's 38 residues cropped to tiny's 32");
        // Padded past the chain (as initial_training pads to 256): padding must not make the
        // loss NaN, which the trainer reports as an error.
        let padded = time_training(&TrainBench { crop_size: Some(48), steps: 1, ..bench.clone() }).unwrap();
        assert_eq!(padded.residues, 48);
        let err = time_training(&TrainBench { structure: root.join("mmcif/none.cif"), ..bench }).unwrap_err();
        assert!(format!("{err:#}").contains("none.cif"), "{err:#}");
    }
}
