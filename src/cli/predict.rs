//! `helixfold predict INPUT --out DIR [...]`: one model's structure prediction with AlphaFold's
//! output files; the work is [`crate::predict::predict`].
use crate::device::parse_device;
use crate::model::config::RuntimeOptions;
use crate::predict::{predict, PredictOptions};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A FASTA file, an AlphaFold `features.pkl[.gz]` (or `.npz` of raw features), or a processed
    /// batch `.npz` by AlphaFold's names (with or without the leading recycle axis; used as is).
    pub input: PathBuf,
    /// Alignments (`.a3m`, `.sto`) of a FASTA query; without any, a single-sequence MSA.
    #[arg(long = "msa")]
    pub msas: Vec<PathBuf>,
    /// Model preset (model_1..model_5[_ptm], tiny, ...).
    #[arg(long, default_value = "model_1_ptm")]
    pub preset: String,
    /// Parameters: DeepMind's `params_model_*.npz` or an own `.safetensors` checkpoint; random
    /// (seeded) without.
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// Seed of random parameters and of the feature pipeline's sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Recycling iterations (default: the preset's).
    #[arg(long)]
    pub recycles: Option<i64>,
    /// Extra-MSA rows kept by the feature pipeline (default: the preset's).
    #[arg(long)]
    pub max_extra_msa: Option<usize>,
    /// MSA cluster rows sampled by the feature pipeline (default: the preset's).
    #[arg(long)]
    pub max_msa_clusters: Option<usize>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &PredictArgs) -> Result<()> {
    let options = PredictOptions {
        input: args.input.clone(),
        msas: args.msas.clone(),
        preset: args.preset.clone(),
        params: args.params.clone(),
        seed: args.seed,
        num_recycle: args.recycles,
        max_extra_msa: args.max_extra_msa,
        max_msa_clusters: args.max_msa_clusters,
        device: parse_device(&args.device)?,
        runtime: RuntimeOptions::default(),
        out_dir: args.out.clone(),
    };
    let summary = predict(&options)?;
    println!(
        "{} residues, {} recycles: mean pLDDT {:.2}{}; wrote {}",
        summary.num_residues,
        summary.num_recycle,
        summary.mean_plddt,
        summary.ptm.map(|p| format!(", pTM {p:.4}")).unwrap_or_default(),
        args.out.display()
    );
    Ok(())
}
