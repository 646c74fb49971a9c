//! `helixfold train --preset P (--dataset DIR | --structure FILE [--msa FILE]...) (--steps N |
//! --minutes M) --out DIR [...]`: a training run; the work is [`crate::train::job::TrainJob`].
//! Ctrl-C stops it between two steps and still writes the checkpoint.
use super::runtime_args::TechniqueArgs;
use crate::device::parse_device;
use crate::train::job::{TrainJob, TrainOverrides, TrainingData};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Model preset (tiny, initial_training, finetune, model_1..model_5[_ptm]).
    #[arg(long, default_value = "initial_training")]
    pub preset: String,
    /// A training set: OpenFold's layout (`alignments/<id>/`, `mmcif/<pdb>.cif`) or HelixFold's
    /// (`features/<id>/features.pkl.gz`, `mmcif/`, `protein_clust/*.list`; or its distillation set).
    #[arg(long, conflicts_with = "structure", required_unless_present = "structure")]
    pub dataset: Option<PathBuf>,
    /// One structure to train on (mmCIF or PDB; its first chain).
    #[arg(long)]
    pub structure: Option<PathBuf>,
    /// Alignments of `--structure` (`.a3m`, `.sto`); without any, a single-sequence MSA.
    #[arg(long = "msa", requires = "structure")]
    pub msas: Vec<PathBuf>,
    /// Total optimiser steps of the run (a resumed run counts its earlier steps).
    #[arg(long, required_unless_present = "minutes")]
    pub steps: Option<u64>,
    /// Minutes of training for this invocation.
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Seed of the initial weights, the data and every random draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue from a checkpoint written by an earlier run (its settings are kept).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Predict and score against the native (lDDT-Cα, TM-score) every K steps.
    #[arg(long, value_name = "K")]
    pub eval_every: Option<u64>,
    /// Write the checkpoint every K steps (it is always written at the end).
    #[arg(long, value_name = "K")]
    pub checkpoint_every: Option<u64>,
    /// Peak learning rate (AlphaFold: 1e-3).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Warm-up steps of the learning rate (AlphaFold: 1000).
    #[arg(long)]
    pub warmup: Option<u64>,
    /// Residues per crop; 0 keeps whole chains (default: the preset's).
    #[arg(long)]
    pub crop: Option<i64>,
    /// MSA cluster rows (default: the preset's).
    #[arg(long)]
    pub max_msa_clusters: Option<i64>,
    /// Extra-MSA rows (default: the preset's).
    #[arg(long)]
    pub max_extra_msa: Option<i64>,
    /// Largest number of recycles drawn per example (default: the preset's).
    #[arg(long)]
    pub max_recycle: Option<i64>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// libtorch's intra-op CPU threads (default: libtorch's choice, one per core).
    #[arg(long)]
    pub threads: Option<i32>,
    #[command(flatten)]
    pub techniques: TechniqueArgs,
    /// Output folder (metrics.jsonl, checkpoint.safetensors, average.safetensors).
    #[arg(long)]
    pub out: PathBuf,
}

impl TrainArgs {
    fn job(&self) -> Result<TrainJob> {
        let data = match (&self.dataset, &self.structure) {
            (Some(dir), None) => {
                if !dir.is_dir() {
                    bail!("--dataset {}: not a folder", dir.display());
                }
                TrainingData::Dataset(dir.clone())
            }
            (None, Some(file)) => {
                for path in std::iter::once(file).chain(&self.msas) {
                    if !path.is_file() {
                        bail!("{}: no such file", path.display());
                    }
                }
                TrainingData::Structure { structure: file.clone(), msas: self.msas.clone() }
            }
            _ => bail!("give exactly one of --dataset and --structure"),
        };
        if let Some(path) = &self.resume {
            if !path.is_file() {
                bail!("--resume {}: no such file", path.display());
            }
        }
        if self.minutes.is_some_and(|m| m.is_nan() || m <= 0.0) {
            bail!("--minutes must be positive");
        }
        let crop_size = match self.crop {
            Some(0) => Some(None),
            Some(n) if n < 0 => bail!("--crop must not be negative (got {n})"),
            Some(n) => Some(Some(n)),
            None => None,
        };
        Ok(TrainJob {
            preset: self.preset.clone(),
            data,
            steps: self.steps,
            minutes: self.minutes,
            seed: self.seed,
            resume: self.resume.clone(),
            eval_every: self.eval_every,
            eval_with_average: true,
            checkpoint_every: self.checkpoint_every,
            overrides: TrainOverrides {
                lr: self.lr,
                warmup_steps: self.warmup,
                crop_size,
                max_msa_clusters: self.max_msa_clusters,
                max_extra_msa: self.max_extra_msa,
                max_recycle: self.max_recycle,
                ..TrainOverrides::default()
            },
            device: parse_device(&self.device).context("--device")?,
            runtime: self.techniques.runtime(),
            out_dir: self.out.clone(),
        })
    }
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let job = args.job()?;
    match args.threads {
        Some(n) if n < 1 => bail!("--threads must be at least 1 (got {n})"),
        Some(n) => tch::set_num_threads(n),
        None => {}
    }
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    // A second handler cannot be installed when one exists already (e.g. in tests); the run
    // then simply cannot be interrupted by Ctrl-C.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    let summary = job.run(&interrupt, |record| {
        let r = &record.report;
        let evaluation = record
            .evaluation
            .map(|e| format!(" lddt_ca {:.4} tm {:.4}", e.lddt_ca, e.tm_score))
            .unwrap_or_default();
        println!("step {} loss {:.4} lr {:.2e} grad_norm {:.3} {:.2}s{evaluation}", r.step, r.loss, r.lr, r.grad_norm, r.seconds);
    })?;
    println!(
        "{} steps ({:?}) in {:.1}s; checkpoint {}",
        summary.steps_run,
        summary.end,
        summary.seconds,
        summary.checkpoint.display()
    );
    Ok(())
}
