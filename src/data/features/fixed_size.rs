//! Residue cropping and zero padding to fixed sizes (DeepMind's
//! `alphafold/model/tf/data_transforms.py` `random_crop_to_size` and `make_fixed_size`, driven
//! by the shape schema `config.data.eval.feat` of `alphafold/model/config.py`).
use crate::data::array::{ArrayData, FeatureDict, NpArray};
use anyhow::{bail, Context, Result};

/// Meaning of one axis of a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Residues (`NUM_RES`).
    Res,
    /// MSA cluster rows (`NUM_MSA_SEQ`).
    MsaSeq,
    /// Extra-MSA rows (`NUM_EXTRA_SEQ`).
    ExtraSeq,
    /// Templates (`NUM_TEMPLATES`).
    Templates,
    /// A fixed axis (channels, atoms, coordinates).
    Fixed,
}

/// Axes of every feature the processed batch keeps (AlphaFold's `feat` schema, for the
/// features an inference batch has and the training labels). `None` for features the batch drops.
pub fn feature_axes(key: &str) -> Option<&'static [Axis]> {
    use Axis::*;
    Some(match key {
        "aatype" | "residue_index" | "seq_mask" => &[Res],
        "seq_length" | "is_distillation" => &[],
        "random_crop_to_size_seed" => &[Fixed],
        "msa_mask" | "bert_mask" | "true_msa" => &[MsaSeq, Res],
        "msa_row_mask" => &[MsaSeq],
        "msa_feat" => &[MsaSeq, Res, Fixed],
        "extra_msa" | "extra_msa_mask" | "extra_has_deletion" | "extra_deletion_value" => {
            &[ExtraSeq, Res]
        }
        "extra_msa_row_mask" => &[ExtraSeq],
        "target_feat"
        | "atom14_atom_exists"
        | "residx_atom14_to_atom37"
        | "residx_atom37_to_atom14"
        | "atom37_atom_exists" => &[Res, Fixed],
        "template_aatype" | "template_pseudo_beta_mask" => &[Templates, Res],
        "template_all_atom_masks" | "template_pseudo_beta" => &[Templates, Res, Fixed],
        "template_all_atom_positions" => &[Templates, Res, Fixed, Fixed],
        "template_mask" => &[Templates],
        "template_sum_probs" => &[Templates, Fixed],
        // Training labels (`features/labels.rs`).
        "resolution" => &[],
        "backbone_affine_mask" | "pseudo_beta_mask" => &[Res],
        "all_atom_mask"
        | "atom14_gt_exists"
        | "atom14_alt_gt_exists"
        | "atom14_atom_is_ambiguous"
        | "rigidgroups_gt_exists"
        | "rigidgroups_group_exists"
        | "rigidgroups_group_is_ambiguous"
        | "backbone_affine_tensor"
        | "pseudo_beta"
        | "chi_mask" => &[Res, Fixed],
        "all_atom_positions"
        | "atom14_gt_positions"
        | "atom14_alt_gt_positions"
        | "rigidgroups_gt_frames"
        | "rigidgroups_alt_gt_frames"
        | "chi_angles_sin_cos" => &[Res, Fixed, Fixed],
        _ => return None,
    })
}

/// Which residues and templates to keep, and what to pad each axis kind to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropAndPad {
    pub residue_start: usize,
    pub residue_count: usize,
    pub template_count: usize,
    /// Padded sizes of the residue, MSA, extra-MSA and template axes (`None`: no padding).
    pub padded: Option<PaddedSizes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaddedSizes {
    pub num_res: usize,
    pub msa_seq: usize,
    pub extra_seq: usize,
    pub templates: usize,
}

impl CropAndPad {
    /// Crops and pads one feature according to its axes.
    pub fn apply(&self, key: &str, array: &NpArray) -> Result<NpArray> {
        let axes =
            feature_axes(key).with_context(|| format!("feature {key} has no shape schema"))?;
        if axes.len() != array.shape.len() {
            bail!(
                "feature {key} has shape {:?}, its schema has {} axes",
                array.shape,
                axes.len()
            );
        }
        let mut windows = Vec::with_capacity(axes.len());
        for (&axis, &size) in axes.iter().zip(&array.shape) {
            let (start, keep) = match axis {
                Axis::Res => (self.residue_start, self.residue_count),
                Axis::Templates => (0, self.template_count.min(size)),
                _ => (0, size),
            };
            if start + keep > size {
                bail!(
                    "feature {key}: cannot keep {keep} entries from {start} of an axis of {size}"
                );
            }
            let out = match (self.padded, axis) {
                (Some(p), Axis::Res) => p.num_res,
                (Some(p), Axis::MsaSeq) => p.msa_seq,
                (Some(p), Axis::ExtraSeq) => p.extra_seq,
                (Some(p), Axis::Templates) => p.templates,
                _ => keep,
            };
            if out < keep {
                bail!("feature {key}: {keep} entries do not fit the fixed size {out}");
            }
            windows.push(Window { start, keep, out });
        }
        let shape = windows.iter().map(|w| w.out).collect();
        let data = match &array.data {
            ArrayData::F32(v) => ArrayData::F32(window(v, &array.shape, &windows)),
            ArrayData::F64(v) => ArrayData::F64(window(v, &array.shape, &windows)),
            ArrayData::I32(v) => ArrayData::I32(window(v, &array.shape, &windows)),
            ArrayData::I64(v) => ArrayData::I64(window(v, &array.shape, &windows)),
            ArrayData::U8(v) => ArrayData::U8(window(v, &array.shape, &windows)),
            ArrayData::Bool(v) => ArrayData::Bool(window(v, &array.shape, &windows)),
            ArrayData::Bytes(v) => ArrayData::Bytes(window(v, &array.shape, &windows)),
        };
        NpArray::new(shape, data)
    }
}

/// Per axis: copy `keep` entries from `start`, then fill with zeros up to `out`.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: usize,
    keep: usize,
    out: usize,
}

fn window<T: Clone + Default>(values: &[T], shape: &[usize], windows: &[Window]) -> Vec<T> {
    let out_count: usize = windows.iter().map(|w| w.out).product();
    let mut out = vec![T::default(); out_count];
    if windows.iter().any(|w| w.keep == 0) {
        return out;
    }
    // Row-major strides of the source and the destination.
    let rank = shape.len();
    let mut src_strides = vec![1usize; rank];
    let mut dst_strides = vec![1usize; rank];
    for axis in (0..rank.saturating_sub(1)).rev() {
        src_strides[axis] = src_strides[axis + 1] * shape[axis + 1];
        dst_strides[axis] = dst_strides[axis + 1] * windows[axis + 1].out;
    }
    // Copy whole runs along the last axis, walking the multi-index of the others.
    let Some((last, outer)) = windows.split_last() else {
        out[0] = values[0].clone();
        return out;
    };
    let run_count: usize = outer.iter().map(|w| w.keep).product();
    let mut index = vec![0usize; outer.len()];
    for _ in 0..run_count {
        let src = (0..outer.len())
            .map(|a| (index[a] + outer[a].start) * src_strides[a])
            .sum::<usize>()
            + last.start;
        let dst: usize = (0..outer.len()).map(|a| index[a] * dst_strides[a]).sum();
        out[dst..dst + last.keep].clone_from_slice(&values[src..src + last.keep]);
        for axis in (0..outer.len()).rev() {
            index[axis] += 1;
            if index[axis] < outer[axis].keep {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

/// Stacks equally shaped arrays along a new leading axis (the ensemble / recycling axis).
pub fn stack(key: &str, arrays: &[NpArray]) -> Result<NpArray> {
    let first = arrays
        .first()
        .with_context(|| format!("nothing to stack for {key}"))?;
    let mut data = first.data.clone();
    for array in &arrays[1..] {
        if array.shape != first.shape {
            bail!(
                "{key}: cannot stack shapes {:?} and {:?}",
                first.shape,
                array.shape
            );
        }
        match (&mut data, &array.data) {
            (ArrayData::F32(a), ArrayData::F32(b)) => a.extend_from_slice(b),
            (ArrayData::F64(a), ArrayData::F64(b)) => a.extend_from_slice(b),
            (ArrayData::I32(a), ArrayData::I32(b)) => a.extend_from_slice(b),
            (ArrayData::I64(a), ArrayData::I64(b)) => a.extend_from_slice(b),
            (ArrayData::U8(a), ArrayData::U8(b)) => a.extend_from_slice(b),
            (ArrayData::Bool(a), ArrayData::Bool(b)) => a.extend_from_slice(b),
            (ArrayData::Bytes(a), ArrayData::Bytes(b)) => a.extend_from_slice(b),
            _ => bail!("{key}: cannot stack different dtypes"),
        }
    }
    let mut shape = vec![arrays.len()];
    shape.extend_from_slice(&first.shape);
    NpArray::new(shape, data)
}

/// Stacks per-batch feature dicts that share their keys.
pub fn stack_batches(batches: &[FeatureDict]) -> Result<FeatureDict> {
    let Some(first) = batches.first() else {
        bail!("no batches to stack");
    };
    let mut stacked = FeatureDict::new();
    for key in first.keys() {
        let arrays = batches
            .iter()
            .map(|b| {
                b.get(key)
                    .cloned()
                    .with_context(|| format!("a batch lacks {key}"))
            })
            .collect::<Result<Vec<_>>>()?;
        stacked.insert(key.clone(), stack(key, &arrays)?);
    }
    Ok(stacked)
}

/// Copy `index` of a stacked batch (the features of one recycling iteration / ensemble member),
/// with the leading axis removed.
pub fn batch_copy(batch: &FeatureDict, index: usize) -> Result<FeatureDict> {
    let mut copy = FeatureDict::new();
    for (key, array) in batch {
        let Some((&copies, shape)) = array.shape.split_first() else {
            bail!("{key} is 0-d, not a stacked feature");
        };
        if index >= copies {
            bail!("{key} has {copies} copies, copy {index} was asked for");
        }
        let size: usize = shape.iter().product();
        let range = index * size..(index + 1) * size;
        let data = match &array.data {
            ArrayData::F32(v) => ArrayData::F32(v[range].to_vec()),
            ArrayData::F64(v) => ArrayData::F64(v[range].to_vec()),
            ArrayData::I32(v) => ArrayData::I32(v[range].to_vec()),
            ArrayData::I64(v) => ArrayData::I64(v[range].to_vec()),
            ArrayData::U8(v) => ArrayData::U8(v[range].to_vec()),
            ArrayData::Bool(v) => ArrayData::Bool(v[range].to_vec()),
            ArrayData::Bytes(v) => ArrayData::Bytes(v[range].to_vec()),
        };
        copy.insert(key.clone(), NpArray::new(shape.to_vec(), data)?);
    }
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_residues_and_pads_every_axis() {
        // msa_feat-like [2 rows, 4 residues, 1 channel] holding 10 * row + residue.
        let values: Vec<f32> = (0..2)
            .flat_map(|s| (0..4).map(move |r| (10 * s + r) as f32))
            .collect();
        let array = NpArray::new(vec![2, 4, 1], ArrayData::F32(values)).unwrap();
        let plan = CropAndPad {
            residue_start: 1,
            residue_count: 2,
            template_count: 0,
            padded: Some(PaddedSizes {
                num_res: 3,
                msa_seq: 3,
                extra_seq: 0,
                templates: 0,
            }),
        };
        let out = plan.apply("msa_feat", &array).unwrap();
        assert_eq!(out.shape, vec![3, 3, 1]);
        assert_eq!(
            out.data,
            ArrayData::F32(vec![1.0, 2.0, 0.0, 11.0, 12.0, 0.0, 0.0, 0.0, 0.0])
        );
        let err = plan.apply("not_a_feature", &array).unwrap_err();
        assert!(err.to_string().contains("no shape schema"), "{err}");
        let too_small = CropAndPad {
            padded: Some(PaddedSizes {
                msa_seq: 1,
                ..plan.padded.unwrap()
            }),
            ..plan
        };
        assert!(too_small.apply("msa_feat", &array).is_err());
    }

    #[test]
    fn templates_are_truncated_then_padded() {
        let array = NpArray::new(vec![3], ArrayData::F32(vec![1.0, 1.0, 1.0])).unwrap();
        let plan = CropAndPad {
            residue_start: 0,
            residue_count: 0,
            template_count: 2,
            padded: Some(PaddedSizes {
                num_res: 0,
                msa_seq: 0,
                extra_seq: 0,
                templates: 4,
            }),
        };
        assert_eq!(
            plan.apply("template_mask", &array).unwrap().data,
            ArrayData::F32(vec![1.0, 1.0, 0.0, 0.0])
        );
    }

    #[test]
    fn stacking_adds_a_leading_axis() {
        let a = NpArray::new(vec![2], ArrayData::I32(vec![1, 2])).unwrap();
        let b = NpArray::new(vec![2], ArrayData::I32(vec![3, 4])).unwrap();
        let stacked = stack("x", &[a.clone(), b]).unwrap();
        assert_eq!(stacked.shape, vec![2, 2]);
        assert_eq!(stacked.data, ArrayData::I32(vec![1, 2, 3, 4]));
        let c = NpArray::new(vec![1], ArrayData::I32(vec![5])).unwrap();
        assert!(stack("x", &[a.clone(), c]).is_err());

        let single = FeatureDict::from([("x".to_owned(), a)]);
        let batches = vec![single.clone(), single.clone(), single.clone()];
        let stacked = stack_batches(&batches).unwrap();
        assert_eq!(batch_copy(&stacked, 2).unwrap(), single);
        let err = batch_copy(&stacked, 3).unwrap_err();
        assert!(err.to_string().contains("x has 3 copies, copy 3"), "{err}");
    }
}
