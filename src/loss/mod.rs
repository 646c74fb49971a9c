//! AlphaFold2's training losses (Jumper et al. (2021) Suppl. 1.9), one file per loss, on tch
//! tensors so that they stay differentiable; [`total`] combines them with the config's weights.
//! Details follow DeepMind's `alphafold/model/folding.py`, `modules.py` (the heads' `loss`) and
//! `all_atom.py` (alphafold 2.0.0).
pub mod atom14_swap;
pub mod cross_entropy;
pub mod distogram;
pub mod experimentally_resolved;
pub mod fape;
#[cfg(test)]
mod gradient_check;
pub mod masked_mean;
pub mod masked_msa;
pub mod pae;
pub mod plddt;
pub mod precision;
pub mod torsion;
pub mod total;
pub mod violations;
