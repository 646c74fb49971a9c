//! `helixfold bench infer|train|parallel|plot [...]`: speed and memory benchmarks; the work is
//! [`crate::bench`] and [`crate::plot::bench`].
use crate::bench::infer::InferBench;
use crate::bench::parallel::{bench_parallel, parse_layout, ParallelBench, Reduction};
use crate::bench::reference::JaxReference;
use crate::bench::synthetic::BatchShape;
use crate::bench::bench_inference;
use crate::bench::train::{time_training, TrainBench};
use crate::device::parse_device;
use super::runtime_args::TechniqueArgs;
use crate::model::config::RuntimeOptions;
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Forward time per recycle and peak memory of a preset on a synthetic batch, optionally
    /// next to DeepMind's JAX AlphaFold on the same batch.
    Infer(InferArgs),
    /// Seconds per training step and peak memory of a preset on one structure.
    Train(TrainArgs),
    /// Seconds per training step and peak memory per rank of hybrid-parallel layouts
    /// (dp×dap×bp), each run through the session's `parallel` and `train`.
    Parallel(ParallelArgs),
    /// Seconds to render each heavy plot (SVG + PNG) for a given number of residues.
    Plot(PlotArgs),
}

/// The device and the techniques a benchmark runs with.
#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[command(flatten)]
    pub techniques: TechniqueArgs,
}

impl RuntimeArgs {
    fn runtime(&self) -> RuntimeOptions {
        self.techniques.runtime()
    }
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Model preset (initial_training, finetune, tiny, model_1..5[_ptm]).
    #[arg(long, default_value = "initial_training")]
    pub preset: String,
    /// The example's structure (mmCIF or PDB, first chain); cropped and padded as the preset says.
    #[arg(long)]
    pub structure: PathBuf,
    /// Its alignments (.a3m, .sto); without any, the query alone.
    #[arg(long = "msa")]
    pub msas: Vec<PathBuf>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Most recycling iterations per step (drawn uniformly from 0..=N).
    #[arg(long, default_value_t = 0)]
    pub max_recycle: i64,
    /// Crop and pad to this many residues instead of the preset's crop size.
    #[arg(long)]
    pub crop: Option<usize>,
    /// Timed steps (the median counts).
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Append the result as one JSON line to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ParallelArgs {
    /// Comma-separated layouts DPxDAPxBP; those needing more ranks than this machine has cores
    /// (or CUDA devices) are skipped.
    #[arg(long, default_value = "1x1x1,2x1x1,1x2x1,1x1x2", value_delimiter = ',')]
    pub layouts: Vec<String>,
    /// Model preset.
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    /// The example's structure (mmCIF or PDB, first chain).
    #[arg(long, default_value = "examples/data/1a8o.pdb")]
    pub structure: PathBuf,
    /// Its alignments (.a3m, .sto); without any, the query alone.
    #[arg(long = "msa")]
    pub msas: Vec<PathBuf>,
    /// cpu or cuda (each rank on its own device).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Crop and pad to this many residues instead of the preset's crop size.
    #[arg(long)]
    pub crop: Option<usize>,
    /// Timed steps per layout (the median counts).
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    /// Seconds for the workers to start and for each collective.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Compare data-parallel gradient reductions, comma-separated: `after` the last backward
    /// pass, `overlapped` with it. Every row then clips the step's averaged gradient
    /// (clip=batch) and each dp>1 layout runs once per reduction.
    #[arg(long, value_delimiter = ',')]
    pub reductions: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Residues of the synthetic PAE and distogram.
    #[arg(long, default_value_t = 1000)]
    pub length: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReferenceArg {
    None,
    Jax,
}

#[derive(Debug, Args)]
pub struct InferArgs {
    /// Model preset (model_1..model_5[_ptm], initial_training, finetune, tiny).
    #[arg(long, default_value = "model_1")]
    pub preset: String,
    /// Residues.
    #[arg(long, default_value_t = 80)]
    pub length: i64,
    /// Clustered MSA rows.
    #[arg(long, default_value_t = 32)]
    pub msa: i64,
    /// Extra MSA rows.
    #[arg(long, default_value_t = 64)]
    pub extra_msa: i64,
    /// Templates (0: none, and the template embedder is switched off).
    #[arg(long, default_value_t = 4)]
    pub templates: i64,
    /// Recycling iterations per forward pass.
    #[arg(long, default_value_t = 3)]
    pub recycles: i64,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Timed forward passes (the median counts).
    #[arg(long, default_value_t = 1)]
    pub repeats: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also time DeepMind's alphafold==2.0.0 (JAX, CPU) on the same batch.
    #[arg(long, value_enum, default_value = "none")]
    pub reference: ReferenceArg,
    /// Python interpreter with the reference packages (default: $HELIXFOLD_PYTHON, .venv/bin/python).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Append the result as one JSON line to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn run(args: &BenchArgs) -> Result<()> {
    match &args.what {
        BenchCommand::Infer(args) => infer(args),
        BenchCommand::Train(args) => train(args),
        BenchCommand::Parallel(args) => parallel(args),
        BenchCommand::Plot(args) => plot(args),
    }
}

fn parallel(args: &ParallelArgs) -> Result<()> {
    let bench = ParallelBench {
        layouts: args.layouts.iter().map(|text| parse_layout(text)).collect::<Result<Vec<_>>>()?,
        preset: args.preset.clone(),
        structure: args.structure.clone(),
        msas: args.msas.clone(),
        device: args.device.clone(),
        crop: args.crop,
        steps: args.steps,
        timeout_seconds: args.timeout,
        reductions: args.reductions.iter().map(|word| Reduction::parse(word)).collect::<Result<Vec<_>>>()?,
    };
    let results = bench_parallel(&bench)?;
    print!("{}", crate::bench::parallel::to_text(&bench, &results));
    Ok(())
}

fn train(args: &TrainArgs) -> Result<()> {
    let bench = TrainBench {
        preset: args.preset.clone(),
        structure: args.structure.clone(),
        msas: args.msas.clone(),
        device: parse_device(&args.runtime.device)?,
        runtime: args.runtime.runtime(),
        max_recycle: args.max_recycle,
        crop_size: args.crop,
        steps: args.steps,
        seed: args.seed,
    };
    let timing = time_training(&bench)?;
    print!("{}", timing.to_text(&bench));
    append_json(args.json.as_deref(), &timing.to_json(&bench))
}

fn append_json(path: Option<&std::path::Path>, value: &serde_json::Value) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    writeln!(file, "{value}").with_context(|| format!("cannot write {}", path.display()))
}

fn plot(args: &PlotArgs) -> Result<()> {
    println!("{} residues", args.length);
    for (name, seconds) in crate::plot::bench::bench_plots(args.length)? {
        println!("{name:<28} {seconds:>8.3} s");
    }
    Ok(())
}

fn infer(args: &InferArgs) -> Result<()> {
    let bench = InferBench {
        preset: args.preset.clone(),
        shape: BatchShape {
            length: args.length,
            msa: args.msa,
            extra_msa: args.extra_msa,
            templates: args.templates,
            recycles: args.recycles,
        },
        device: parse_device(&args.runtime.device)?,
        runtime: args.runtime.runtime(),
        repeats: args.repeats,
        seed: args.seed,
    };
    let reference = match args.reference {
        ReferenceArg::Jax => Some(JaxReference::locate(args.python.as_deref())?),
        ReferenceArg::None => None,
    };
    let report = bench_inference(&bench, reference.as_ref())?;
    print!("{}", report.to_text());
    append_json(args.json.as_deref(), &report.to_json())
}
