//! Evaluation during training: inference (no dropout, every recycle of the batch) on a
//! training batch, scored against the native the batch's labels carry — lDDT-Cα as AlphaFold's
//! `lddt.py` computes it and TM-score as the TM-score program does ([`crate::metrics`]), over the
//! residues whose Cα the native resolves.
use super::trainer::Batch;
use crate::metrics::lddt::{lddt, LDDT_CUTOFF};
use crate::metrics::superposition::Vec3;
use crate::metrics::tm_score::tm_score_search;
use crate::model::alphafold::AlphaFold;
use crate::model::config::RuntimeOptions;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// atom37 slot of Cα.
const CA_INDEX: i64 = 1;

/// Scores of a prediction against its native.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Global lDDT-Cα in `[0, 1]`.
    pub lddt_ca: f64,
    /// TM-score normalised by the native's resolved residues.
    pub tm_score: f64,
    /// Residues with a resolved Cα.
    pub num_residues: usize,
}

/// `[N, 3]` rows as points.
fn points(t: &Tensor) -> Result<Vec<Vec3>> {
    let flat = Vec::<f64>::try_from(t.detach().to_device(Device::Cpu).to_kind(Kind::Double).reshape([-1]))?;
    Ok(flat.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
}

/// The predicted and native Cα `[N, 3]` of the residues `resolved` `[N]` marks (> 0.5), as
/// matched point lists.
pub fn resolved_ca(predicted: &Tensor, native: &Tensor, resolved: &Tensor) -> Result<(Vec<Vec3>, Vec<Vec3>)> {
    let resolved: Vec<bool> =
        Vec::<f32>::try_from(resolved.to_device(Device::Cpu).to_kind(Kind::Float))?.iter().map(|&m| m > 0.5).collect();
    let (predicted, native) = (points(predicted)?, points(native)?);
    let kept = |all: &[Vec3]| -> Vec<Vec3> {
        all.iter().zip(&resolved).filter(|(_, &r)| r).map(|(p, _)| *p).collect()
    };
    Ok((kept(&predicted), kept(&native)))
}

/// Predicts `batch` with `model` (all its recycle copies) and scores the Cα trace.
pub fn evaluate(model: &AlphaFold, batch: &Batch, runtime: &RuntimeOptions) -> Result<Evaluation> {
    let copies = batch.get("aatype").context("the batch lacks feature 'aatype'")?.size()[0];
    let opts = RuntimeOptions { training: false, ..*runtime };
    let outputs = tch::no_grad(|| model.forward(batch, copies - 1, &opts, |_| {}))?;
    let label = |name: &str| {
        batch.get(name).map(|t| t.get(0)).with_context(|| format!("the batch lacks label '{name}'"))
    };
    let predicted = outputs
        .get("structure_module/final_atom_positions")
        .context("the model gave no final atom positions")?
        .select(-2, CA_INDEX);
    let native = label("all_atom_positions")?.select(-2, CA_INDEX);
    let resolved = label("all_atom_mask")?.select(-1, CA_INDEX).to_kind(Kind::Float) * label("seq_mask")?.to_kind(Kind::Float);
    let (model_ca, native_ca) = resolved_ca(&predicted, &native, &resolved)?;
    if native_ca.is_empty() {
        bail!("the native resolves no Cα in this batch");
    }
    let lddt_ca = lddt(&model_ca, &native_ca, &vec![true; native_ca.len()], LDDT_CUTOFF).global;
    let tm = tm_score_search(&model_ca, &native_ca, native_ca.len(), |_| {});
    Ok(Evaluation { lddt_ca, tm_score: tm.score, num_residues: native_ca.len() })
}
