//! `helixfold bench infer`: the network's forward time per recycle and peak memory for a preset
//! at a given length and MSA depth, on a seeded synthetic batch ([`super::synthetic`]), and
//! optionally the same batch through DeepMind's JAX AlphaFold ([`super::reference`]) in the same
//! invocation, as a ratio.
//!
//! Protocol: parameters are random (timing does not depend on their values); one forward pass
//! with no recycling warms up (allocator pools, kernel selection, lazy CUDA initialisation), then
//! `repeats` full forward passes of `recycles + 1` iterations are timed, each ending with a
//! device synchronisation; the figure is the median pass divided by `recycles + 1`. Memory is
//! the peak from building the model to the last pass, parameters and batch included
//! ([`super::memory`]).
use super::memory::{MemoryMeasure, MemoryProbe};
use super::synthetic::BatchShape;
use crate::model::alphafold::AlphaFold;
use crate::model::config::{ModelConfig, RuntimeOptions};
use crate::model::weights::parameter_count;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::time::Instant;
use tch::{nn, Device, Tensor};

/// What to time.
#[derive(Debug, Clone)]
pub struct InferBench {
    pub preset: String,
    pub shape: BatchShape,
    pub device: Device,
    pub runtime: RuntimeOptions,
    /// Timed forward passes (at least 1).
    pub repeats: usize,
    pub seed: u64,
}

/// The measurement.
#[derive(Debug, Clone)]
pub struct InferTiming {
    /// Median over the timed passes, seconds per iteration of trunk + structure module.
    pub seconds_per_recycle: f64,
    /// Every timed pass, seconds (whole forward).
    pub pass_seconds: Vec<f64>,
    pub peak_memory_mib: f64,
    pub memory_measure: MemoryMeasure,
    pub parameters: i64,
}

/// Builds the preset's network with random parameters on the bench's device and times it on
/// `batch` (a processed batch with at least `recycles + 1` copies, on the CPU).
pub fn time_inference(bench: &InferBench, batch: &BTreeMap<String, Tensor>) -> Result<InferTiming> {
    if bench.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    let mut config = ModelConfig::preset(&bench.preset)?;
    if bench.shape.templates == 0 {
        config.embeddings_and_evoformer.template.enabled = false;
    }
    // Started before anything is put on the device: CUDA's caching allocator keeps what the
    // warm-up pass reserves, so a later start would not see it.
    let probe = MemoryProbe::start(bench.device)?;
    tch::manual_seed(bench.seed as i64);
    let vs = nn::VarStore::new(bench.device);
    let model = AlphaFold::new(vs.root(), &config);
    let batch: BTreeMap<String, Tensor> = batch.iter().map(|(k, t)| (k.clone(), t.to_device(bench.device))).collect();
    let recycles = bench.shape.recycles;
    let run = |num_recycle: i64| -> Result<f64> {
        let started = Instant::now();
        let outputs = tch::no_grad(|| model.forward(&batch, num_recycle, &bench.runtime, |_| {}))
            .with_context(|| format!("running {} on {:?}", bench.preset, bench.device))?;
        synchronize(bench.device);
        drop(outputs);
        Ok(started.elapsed().as_secs_f64())
    };
    run(0)?;
    let pass_seconds = (0..bench.repeats).map(|_| run(recycles)).collect::<Result<Vec<_>>>()?;
    let peak_memory_mib = probe.peak_mib()?;
    Ok(InferTiming {
        seconds_per_recycle: median(&pass_seconds) / (recycles + 1) as f64,
        pass_seconds,
        peak_memory_mib,
        memory_measure: probe.measure(),
        parameters: parameter_count(&vs),
    })
}

fn synchronize(device: Device) {
    if let Device::Cuda(index) = device {
        tch::Cuda::synchronize(index as i64);
    }
}

/// The median of a non-empty list (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 0 {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::synthetic::synthetic_batch;

    #[test]
    fn median_of_odd_and_even_lists() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn times_the_tiny_preset_on_a_synthetic_batch() {
        let shape = BatchShape { length: 10, msa: 4, extra_msa: 6, templates: 2, recycles: 1 };
        let bench = InferBench {
            preset: "tiny".into(),
            shape,
            device: Device::Cpu,
            runtime: RuntimeOptions::default(),
            repeats: 2,
            seed: 0,
        };
        let timing = time_inference(&bench, &synthetic_batch(shape, 0).unwrap()).unwrap();
        assert_eq!(timing.pass_seconds.len(), 2);
        assert!(timing.seconds_per_recycle > 0.0);
        assert!(timing.peak_memory_mib > 0.0);
        assert!(timing.parameters > 0);
        let err = time_inference(&InferBench { repeats: 0, ..bench }, &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("--repeats"), "{err}");
    }
}
