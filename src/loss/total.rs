//! The training loss, Jumper et al. (2021) Suppl. 1.9 Eq. 7: each head's loss times its weight
//! in the config, as DeepMind's `modules.py` `AlphaFoldIteration` sums them, with the structure
//! module's own mix of its terms (`folding.py` `StructureModule.loss`). AlphaFold's weights:
//! masked MSA 2.0, distogram 0.3, structure module 1.0 (backbone and side-chain FAPE half each,
//! chi 0.5, angle norm 0.01, violations 0 initially / 1.0 in fine-tuning), predicted lDDT 0.01,
//! experimentally resolved 0 initially / 0.01 in fine-tuning, predicted aligned error 0.1 (pTM
//! models only). The pLDDT, experimentally-resolved and PAE losses count only for structures
//! whose resolution lies in the head's window.
use super::experimentally_resolved::resolution_weight;
use super::torsion::ChiLoss;
use crate::model::config::{HeadsConfig, ResolutionFilter, StructureModuleConfig};
use anyhow::{Context, Result};
use tch::Tensor;

/// The structure module's loss terms, each already reduced (scalar or `[*]`).
#[derive(Debug)]
pub struct StructureModuleLosses {
    /// Backbone FAPE averaged over layers ([`super::fape::BackboneFape::loss`]).
    pub backbone_fape: Tensor,
    /// Side-chain FAPE of the final layer.
    pub sidechain_fape: Tensor,
    /// Chi and angle-norm losses, weighted by the config's `chi_weight` and `angle_norm_weight`.
    pub chi: ChiLoss,
    /// [`super::violations::structural_violation_loss`]; needed only when the config weighs it.
    pub violation: Option<Tensor>,
}

/// `(1 - f)·backbone + f·side chain + chi terms + w_violation·violation`, with `f` the
/// side-chain `weight_frac` (0.5). Fails when the config weighs violations but no violation
/// loss was given.
pub fn structure_module_loss(losses: &StructureModuleLosses, config: &StructureModuleConfig) -> Result<Tensor> {
    let fraction = config.sidechain.weight_frac;
    let loss = &losses.backbone_fape * (1.0 - fraction) + &losses.sidechain_fape * fraction + &losses.chi.loss;
    if config.structural_violation_loss_weight == 0.0 {
        return Ok(loss);
    }
    let violation = losses
        .violation
        .as_ref()
        .context("the config weighs structural violations, but their loss was not computed")?;
    Ok(loss + violation * config.structural_violation_loss_weight)
}

/// Each head's unweighted, unfiltered loss.
#[derive(Debug)]
pub struct HeadLosses {
    pub distogram: Tensor,
    pub masked_msa: Tensor,
    /// [`structure_module_loss`].
    pub structure_module: Tensor,
    pub predicted_lddt: Tensor,
    pub experimentally_resolved: Tensor,
    /// Present for the pTM models.
    pub predicted_aligned_error: Option<Tensor>,
}

fn filtered(loss: &Tensor, filter: &ResolutionFilter, resolution: &Tensor) -> Tensor {
    if filter.filter_by_resolution {
        loss * resolution_weight(resolution, filter.min_resolution, filter.max_resolution)
    } else {
        loss.shallow_clone()
    }
}

/// The weighted sum of the head losses for a structure of `resolution` Å (scalar or `[*]`).
/// The PAE loss counts when both it and the config's PAE head are present.
pub fn total_loss(losses: &HeadLosses, heads: &HeadsConfig, resolution: &Tensor) -> Tensor {
    let mut total = &losses.distogram * heads.distogram.weight
        + &losses.masked_msa * heads.masked_msa.weight
        + &losses.structure_module * heads.structure_module.weight
        + filtered(&losses.predicted_lddt, &heads.predicted_lddt.resolution, resolution) * heads.predicted_lddt.weight
        + filtered(&losses.experimentally_resolved, &heads.experimentally_resolved.resolution, resolution)
            * heads.experimentally_resolved.weight;
    if let (Some(loss), Some(config)) = (&losses.predicted_aligned_error, &heads.predicted_aligned_error) {
        total += filtered(loss, &config.resolution, resolution) * config.weight;
    }
    total
}
