//! Experimentally-resolved loss, Jumper et al. (2021) Suppl. 1.9.10 (DeepMind's `modules.py`
//! `ExperimentallyResolvedHead.loss`): per-atom binary cross-entropy of the head's atom37
//! logits against whether the atom was resolved, over atoms that exist for the residue type;
//! zero outside the resolution window.
use super::cross_entropy::sigmoid_cross_entropy;
use tch::{Kind, Tensor};

/// 1.0 when `min ≤ resolution ≤ max` (Å), else 0.0, as a tensor of `resolution`'s shape; the
/// loss filter of the pLDDT, experimentally-resolved and PAE heads.
pub fn resolution_weight(resolution: &Tensor, min_resolution: f64, max_resolution: f64) -> Tensor {
    resolution
        .ge(min_resolution)
        .logical_and(&resolution.le(max_resolution))
        .to_kind(Kind::Float)
}

/// The loss (`[*]`) of `logits` `[*, N, 37]` against the true atom mask `all_atom_mask`
/// `[*, N, 37]`, over atoms in `atom37_atom_exists` `[*, N, 37]`. Filtering by resolution is
/// the caller's ([`resolution_weight`]).
pub fn experimentally_resolved_loss(logits: &Tensor, all_atom_mask: &Tensor, atom37_atom_exists: &Tensor) -> Tensor {
    let errors = sigmoid_cross_entropy(&logits.to_kind(Kind::Float), &all_atom_mask.to_kind(Kind::Float));
    let exists = atom37_atom_exists.to_kind(Kind::Float);
    let dims = [-2i64, -1];
    (errors * &exists).sum_dim_intlist(dims.as_slice(), false, Kind::Float)
        / (exists.sum_dim_intlist(dims.as_slice(), false, Kind::Float) + 1e-8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_logits_cost_ln2_per_existing_atom() {
        // σ(0) = 1/2 whatever the label: ln 2 per atom; the nonexistent atom's large error on
        // a wrong logit is ignored.
        let logits = Tensor::from_slice(&[0.0f32, 0.0, -80.0]).reshape([1, 3]);
        let resolved = Tensor::from_slice(&[1.0f32, 0.0, 1.0]).reshape([1, 3]);
        let exists = Tensor::from_slice(&[1.0f32, 1.0, 0.0]).reshape([1, 3]);
        let loss = experimentally_resolved_loss(&logits, &resolved, &exists).double_value(&[]);
        assert!((loss - 2f64.ln() * 2.0 / (2.0 + 1e-8)).abs() < 1e-6);
    }

    #[test]
    fn resolution_window_is_inclusive() {
        let resolution = Tensor::from_slice(&[0.05f32, 0.1, 1.5, 3.0, 3.5]);
        let weights = Vec::<f32>::try_from(resolution_weight(&resolution, 0.1, 3.0)).unwrap();
        assert_eq!(weights, vec![0.0, 1.0, 1.0, 1.0, 0.0]);
    }
}
