//! Seeded random processed batches of any size, for benchmarks: what AlphaFold's input pipeline
//! would hand the model for a protein of `length` residues (DeepMind's processed-batch names,
//! every feature with a leading recycle axis of `recycles + 1` copies, the MSA features drawn
//! afresh per copy as AlphaFold resamples them). The statistics follow the reference
//! generator's `processed_batch` (tests/reference/make_reference.py): a mutated, gapped MSA
//! with BERT masking and deletions, and templates that are rotated, noised copies of one
//! chain-like random walk. Timing does not depend on the values, but masks and gaps are kept
//! realistic so that no path is skipped.
use crate::geometry::atom_maps::{make_atom14_masks, pseudo_beta, pseudo_beta_mask};
use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use tch::{Device, Kind, Tensor};

/// The sizes of a synthetic batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchShape {
    pub length: i64,
    /// Clustered MSA rows (`msa_feat`'s second axis).
    pub msa: i64,
    pub extra_msa: i64,
    /// 0 leaves the template features out.
    pub templates: i64,
    pub recycles: i64,
}

impl BatchShape {
    fn validate(&self) -> Result<()> {
        if self.length < 1 || self.msa < 1 || self.extra_msa < 1 {
            bail!("a batch needs at least one residue, one MSA row and one extra MSA row (got {self:?})");
        }
        if self.templates < 0 || self.recycles < 0 {
            bail!("templates and recycles must not be negative (got {self:?})");
        }
        Ok(())
    }
}

const FLOAT: (Kind, Device) = (Kind::Float, Device::Cpu);
const INT: (Kind, Device) = (Kind::Int64, Device::Cpu);

/// Random tensors from a stream of this batch's own (libtorch's generator is shared by the whole
/// process, so another thread's draws could change a batch drawn from it).
struct Draws(StdRng);

impl Draws {
    /// Uniform on `[0, 1)`.
    fn uniform(&mut self, shape: &[i64]) -> Tensor {
        let count = shape.iter().product::<i64>() as usize;
        let values: Vec<f32> = (0..count).map(|_| self.0.gen::<f32>()).collect();
        Tensor::from_slice(&values).reshape(shape)
    }

    /// Integers uniform on `low..high`.
    fn integers(&mut self, low: i64, high: i64, shape: &[i64]) -> Tensor {
        let count = shape.iter().product::<i64>() as usize;
        let values: Vec<i64> = (0..count).map(|_| self.0.gen_range(low..high)).collect();
        Tensor::from_slice(&values).reshape(shape)
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self, shape: &[i64]) -> Tensor {
        let count = shape.iter().product::<i64>() as usize;
        let values: Vec<f32> = (0..count)
            .map(|_| {
                let (u, v) = (1.0 - self.0.gen::<f64>(), self.0.gen::<f64>());
                ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
            })
            .collect();
        Tensor::from_slice(&values).reshape(shape)
    }

    /// `[rows, n]` booleans, each true with probability `p`.
    fn chance(&mut self, rows: i64, n: i64, p: f64) -> Tensor {
        self.uniform(&[rows, n]).lt(p)
    }
}

/// A processed batch of `shape`, on the CPU, reproducible from `seed`.
pub fn synthetic_batch(shape: BatchShape, seed: u64) -> Result<BTreeMap<String, Tensor>> {
    shape.validate()?;
    let mut draws = Draws(StdRng::seed_from_u64(seed));
    let n = shape.length;
    let aatype = draws.integers(0, 20, &[n]);
    let mut fixed: Vec<(&str, Tensor)> = vec![
        ("target_feat", Tensor::cat(&[Tensor::zeros([n, 1], FLOAT), aatype.one_hot(21).to_kind(Kind::Float)], -1)),
        ("residue_index", Tensor::arange(n, INT)),
        ("seq_length", Tensor::from(n)),
        ("seq_mask", Tensor::ones([n], FLOAT)),
    ];
    if shape.templates > 0 {
        fixed.extend(template_features(&mut draws, &aatype, shape.templates));
    }
    fixed.push(("aatype", aatype.shallow_clone()));

    let copies = shape.recycles + 1;
    let mut batch: BTreeMap<String, Tensor> = fixed
        .into_iter()
        .map(|(name, t)| {
            let mut sizes = t.size();
            sizes.insert(0, copies);
            (name.to_string(), t.unsqueeze(0).expand(sizes.as_slice(), false).contiguous())
        })
        .collect();
    let per_copy: Vec<Vec<(&str, Tensor)>> = (0..copies).map(|_| msa_features(&mut draws, &aatype, shape.msa, shape.extra_msa)).collect();
    for index in 0..per_copy[0].len() {
        let name = per_copy[0][index].0;
        let stacked: Vec<&Tensor> = per_copy.iter().map(|features| &features[index].1).collect();
        batch.insert(name.to_string(), Tensor::stack(&stacked, 0));
    }
    Ok(batch)
}

/// One copy's MSA features: `msa_feat` `[S, N, 49]` (masked MSA one-hot 23, has-deletion,
/// deletion value, cluster profile 23, deletion mean), masks, BERT targets and the extra MSA.
fn msa_features(draws: &mut Draws, aatype: &Tensor, rows: i64, extra_rows: i64) -> Vec<(&'static str, Tensor)> {
    let n = aatype.size()[0];
    let first_row_kept = |mask: Tensor| {
        let _ = mask.get(0).fill_(0);
        mask
    };
    let query = aatype.unsqueeze(0).expand([rows, n], false);
    let mutated = query.where_self(&first_row_kept(draws.chance(rows, n, 0.75)).logical_not(), &draws.integers(0, 20, &[rows, n]));
    let msa = Tensor::full([rows, n], 21, INT).where_self(&first_row_kept(draws.chance(rows, n, 0.1)), &mutated);
    let bert_mask = draws.chance(rows, n, 0.15);
    let masked = Tensor::full([rows, n], 22, INT).where_self(&bert_mask, &msa);
    let deletions = draws.integers(1, 6, &[rows, n]) * draws.chance(rows, n, 0.1);
    let deletion_value = (deletions.to_kind(Kind::Float) / 3.0).arctan() * (2.0 / std::f64::consts::PI);
    let profile = draws.uniform(&[rows, n, 23]).softmax(-1, Kind::Float);
    let deletion_mean = (draws.uniform(&[rows, n]) * (2.0 / 3.0)).arctan() * (2.0 / std::f64::consts::PI);
    let msa_feat = Tensor::cat(
        &[
            masked.one_hot(23).to_kind(Kind::Float),
            deletions.gt(0).to_kind(Kind::Float).unsqueeze(-1),
            deletion_value.unsqueeze(-1),
            profile,
            deletion_mean.unsqueeze(-1),
        ],
        -1,
    );
    let extra_query = aatype.unsqueeze(0).expand([extra_rows, n], false);
    let extra_msa = extra_query.where_self(&draws.chance(extra_rows, n, 0.3).logical_not(), &draws.integers(0, 22, &[extra_rows, n]));
    let extra_deletions = draws.integers(1, 6, &[extra_rows, n]) * draws.chance(extra_rows, n, 0.1);
    vec![
        ("msa_feat", msa_feat),
        ("msa_mask", Tensor::ones([rows, n], FLOAT)),
        ("msa_row_mask", Tensor::ones([rows], FLOAT)),
        ("bert_mask", bert_mask.to_kind(Kind::Float)),
        ("true_msa", msa),
        ("extra_msa", extra_msa),
        ("extra_has_deletion", extra_deletions.gt(0).to_kind(Kind::Float)),
        ("extra_deletion_value", (extra_deletions.to_kind(Kind::Float) / 3.0).arctan() * (2.0 / std::f64::consts::PI)),
        ("extra_msa_mask", draws.chance(extra_rows, n, 0.95).to_kind(Kind::Float)),
        ("extra_msa_row_mask", Tensor::ones([extra_rows], FLOAT)),
    ]
}

/// `count` templates: rotated copies of one random-walk chain (3.8 Å steps between Cα, atoms
/// scattered around them), each noised more than the last; odd ones miss their last 3 residues.
fn template_features(draws: &mut Draws, aatype: &Tensor, count: i64) -> Vec<(&'static str, Tensor)> {
    let n = aatype.size()[0];
    let steps = draws.normal(&[n, 3]);
    let trace = (&steps / steps.norm_scalaropt_dim(2, [-1], true) * 3.8).cumsum(0, Kind::Float);
    let atoms = trace.unsqueeze(1) + draws.normal(&[n, 37, 3]);
    let exists = make_atom14_masks(aatype).atom37_atom_exists;
    let (mut aatypes, mut positions, mut masks) = (Vec::new(), Vec::new(), Vec::new());
    for t in 0..count {
        let (rotation, _) = Tensor::linalg_qr(&draws.normal(&[3, 3]), "reduced");
        let moved = atoms.matmul(&rotation.tr()) + draws.normal(&[n, 37, 3]) * (0.3 * (t + 1) as f64);
        let residue_kept = Tensor::ones([n], FLOAT);
        let template_aatype = aatype.copy();
        if t % 2 == 1 && n > 3 {
            let _ = residue_kept.narrow(0, n - 3, 3).fill_(0);
            let _ = template_aatype.narrow(0, n - 3, 3).fill_(21);
        }
        let mask = &exists * residue_kept.unsqueeze(-1);
        positions.push(moved * mask.unsqueeze(-1));
        masks.push(mask);
        aatypes.push(template_aatype);
    }
    let template_aatype = Tensor::stack(&aatypes, 0);
    let positions = Tensor::stack(&positions, 0);
    let masks = Tensor::stack(&masks, 0);
    vec![
        ("template_pseudo_beta", pseudo_beta(&template_aatype, &positions)),
        ("template_pseudo_beta_mask", pseudo_beta_mask(&template_aatype, &masks)),
        ("template_aatype", template_aatype),
        ("template_all_atom_positions", positions),
        ("template_all_atom_masks", masks),
        ("template_mask", Tensor::ones([count], FLOAT)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: BatchShape = BatchShape { length: 12, msa: 5, extra_msa: 7, templates: 2, recycles: 1 };

    #[test]
    fn has_alphafold_names_and_shapes_with_a_recycle_axis() {
        let batch = synthetic_batch(SHAPE, 3).unwrap();
        let shape = |k: &str| batch[k].size();
        assert_eq!(shape("aatype"), [2, 12]);
        assert_eq!(shape("target_feat"), [2, 12, 22]);
        assert_eq!(shape("msa_feat"), [2, 5, 12, 49]);
        assert_eq!(shape("extra_msa"), [2, 7, 12]);
        assert_eq!(shape("template_all_atom_positions"), [2, 2, 12, 37, 3]);
        assert_eq!(shape("template_pseudo_beta"), [2, 2, 12, 3]);
        assert_eq!(shape("seq_length"), [2]);
        // The query row is never mutated or gapped, and MSA resampling differs per copy.
        let msa = batch["true_msa"].shallow_clone();
        assert!(msa.select(1, 0).get(0).equal(&batch["aatype"].get(0)));
        assert!(!batch["msa_feat"].get(0).equal(&batch["msa_feat"].get(1)));
        // The odd template misses its last three residues.
        let kept = batch["template_all_atom_masks"].get(0).get(1).sum_dim_intlist([-1].as_slice(), false, Kind::Float);
        assert_eq!(kept.narrow(0, 9, 3).sum(Kind::Float).double_value(&[]), 0.0);
    }

    #[test]
    fn same_seed_same_batch_and_template_free_batches() {
        let a = synthetic_batch(SHAPE, 7).unwrap();
        let b = synthetic_batch(SHAPE, 7).unwrap();
        assert!(a.iter().all(|(k, t)| t.equal(&b[k])));
        let plain = synthetic_batch(BatchShape { templates: 0, ..SHAPE }, 7).unwrap();
        assert!(!plain.contains_key("template_aatype"));
        let err = synthetic_batch(BatchShape { msa: 0, ..SHAPE }, 7).unwrap_err().to_string();
        assert!(err.contains("at least one residue, one MSA row"), "{err}");
    }
}
