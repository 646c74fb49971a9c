//! Benchmarks (`helixfold bench ...`): speed and memory measured on the current device, next to
//! a reference implementation run in the same invocation where one exists. Figures and the
//! commands that produced them are recorded in `BENCHMARKS.md`; no test asserts a timing.
pub mod infer;
pub mod memory;
pub mod parallel;
pub mod reference;
pub mod synthetic;
pub mod train;

use infer::{time_inference, InferBench, InferTiming};
use reference::{JaxReference, ReferenceTiming};
use anyhow::{Context, Result};
use serde_json::json;
use synthetic::synthetic_batch;

/// One `bench infer` result: ours, and DeepMind's on the same batch when asked for.
#[derive(Debug, Clone)]
pub struct InferReport {
    pub bench: InferBench,
    pub timing: InferTiming,
    pub reference: Option<ReferenceTiming>,
}

impl InferReport {
    /// How many times faster than the reference (its seconds per recycle over ours).
    pub fn speedup(&self) -> Option<f64> {
        self.reference.as_ref().map(|r| r.seconds_per_recycle / self.timing.seconds_per_recycle)
    }

    pub fn to_json(&self) -> serde_json::Value {
        let shape = &self.bench.shape;
        json!({
            "benchmark": "infer",
            "preset": self.bench.preset,
            "length": shape.length,
            "msa": shape.msa,
            "extra_msa": shape.extra_msa,
            "templates": shape.templates,
            "recycles": shape.recycles,
            "device": format!("{:?}", self.bench.device),
            "precision": format!("{:?}", self.bench.runtime.precision),
            "chunk_size": self.bench.runtime.chunk_size,
            "fused_attention": self.bench.runtime.fused_attention,
            "parameters": self.timing.parameters,
            "seconds_per_recycle": self.timing.seconds_per_recycle,
            "pass_seconds": self.timing.pass_seconds,
            "peak_memory_mib": self.timing.peak_memory_mib,
            "memory_measure": self.timing.memory_measure.describe(),
            "reference": self.reference.as_ref().map(|r| json!({
                "implementation": "alphafold==2.0.0 (JAX)",
                "seconds_per_recycle": r.seconds_per_recycle,
                "compile_seconds": r.compile_seconds,
                "peak_rss_mib": r.peak_rss_mib,
                "device": r.device,
            })),
            "speedup": self.speedup(),
        })
    }

    /// A few aligned lines for a terminal.
    pub fn to_text(&self) -> String {
        let shape = &self.bench.shape;
        let mut text = format!(
            "{} ({} parameters), {} residues, MSA {}, extra MSA {}, templates {}, {} recycles, {:?}, {:?}\n",
            self.bench.preset,
            self.timing.parameters,
            shape.length,
            shape.msa,
            shape.extra_msa,
            shape.templates,
            shape.recycles,
            self.bench.device,
            self.bench.runtime.precision,
        );
        text += &format!(
            "helixfold        {:>9.3} s/recycle   {:>9.0} MiB {}\n",
            self.timing.seconds_per_recycle,
            self.timing.peak_memory_mib,
            self.timing.memory_measure.describe()
        );
        if let Some(r) = &self.reference {
            text += &format!(
                "alphafold (JAX)  {:>9.3} s/recycle   {:>9.0} MiB peak RSS (compile {:.1} s, {})\n",
                r.seconds_per_recycle, r.peak_rss_mib, r.compile_seconds, r.device
            );
        }
        if let Some(speedup) = self.speedup() {
            text += &format!("speed-up         {speedup:>9.2}x\n");
        }
        text
    }
}

/// Times the bench's preset on a synthetic batch of its shape and, with `reference`, DeepMind's
/// model on the same batch (written to a temporary `.npz` for the child process).
pub fn bench_inference(bench: &InferBench, reference: Option<&JaxReference>) -> Result<InferReport> {
    let batch = synthetic_batch(bench.shape, bench.seed)?;
    let reference = match reference {
        Some(jax) => {
            let path = std::env::temp_dir().join(format!("helixfold-bench-{}.npz", std::process::id()));
            let named: Vec<(&str, &tch::Tensor)> = batch.iter().map(|(k, t)| (k.as_str(), t)).collect();
            tch::Tensor::write_npz(&named, &path).with_context(|| format!("cannot write {}", path.display()))?;
            let timing = jax.time(&bench.preset, &path, bench.repeats);
            let _ = std::fs::remove_file(&path);
            Some(timing?)
        }
        None => None,
    };
    let timing = time_inference(bench, &batch)?;
    Ok(InferReport { bench: bench.clone(), timing, reference })
}

impl train::TrainTiming {
    /// One JSON object describing `bench` and this measurement.
    pub fn to_json(&self, bench: &train::TrainBench) -> serde_json::Value {
        json!({
            "benchmark": "train",
            "preset": bench.preset,
            "structure": bench.structure.display().to_string(),
            "residues": self.residues,
            "max_recycle": bench.max_recycle,
            "device": format!("{:?}", bench.device),
            "precision": format!("{:?}", bench.runtime.precision),
            "recompute": bench.runtime.recompute,
            "chunk_size": bench.runtime.chunk_size,
            "fused_attention": bench.runtime.fused_attention,
            "parameters": self.parameters,
            "seconds_per_step": self.seconds_per_step,
            "step_seconds": self.step_seconds,
            "peak_memory_mib": self.peak_memory_mib,
            "memory_measure": self.memory_measure.describe(),
        })
    }

    /// Two lines for a terminal.
    pub fn to_text(&self, bench: &train::TrainBench) -> String {
        let r = &bench.runtime;
        format!(
            "{} ({} parameters), {} residues, {:?}, {:?}, recompute {}, chunk {:?}, fused attention {}\n\
             helixfold train  {:>9.3} s/step   {:>9.0} MiB {}\n",
            bench.preset,
            self.parameters,
            self.residues,
            bench.device,
            r.precision,
            r.recompute,
            r.chunk_size,
            r.fused_attention,
            self.seconds_per_step,
            self.peak_memory_mib,
            self.memory_measure.describe()
        )
    }
}
