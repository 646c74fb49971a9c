//! The flags that choose how the network runs (precision, chunking, fused attention,
//! recomputation), shared by `helixfold train` and the benchmarks.
use crate::model::config::{Precision, RuntimeOptions};
use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PrecisionArg {
    Fp32,
    Bf16,
}

/// HelixFold's memory and speed techniques; none changes what is computed, beyond rounding.
#[derive(Debug, Args)]
pub struct TechniqueArgs {
    #[arg(long, value_enum, default_value = "fp32")]
    pub precision: PrecisionArg,
    /// Chunk attention, transitions and outer product mean into this many rows.
    #[arg(long)]
    pub chunk_size: Option<i64>,
    /// Use libtorch's fused scaled_dot_product_attention.
    #[arg(long)]
    pub fused_attention: bool,
    /// Recompute the trunk's blocks during backward instead of keeping their activations.
    #[arg(long)]
    pub recompute: bool,
}

impl TechniqueArgs {
    pub fn runtime(&self) -> RuntimeOptions {
        RuntimeOptions {
            chunk_size: self.chunk_size,
            precision: match self.precision {
                PrecisionArg::Fp32 => Precision::Fp32,
                PrecisionArg::Bf16 => Precision::Bf16,
            },
            fused_attention: self.fused_attention,
            recompute: self.recompute,
            ..RuntimeOptions::default()
        }
    }
}
