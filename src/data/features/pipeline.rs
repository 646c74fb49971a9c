//! From raw features to the model's batch: AlphaFold's inference input pipeline (Jumper et al.
//! (2021) Suppl. 1.2; DeepMind's `alphafold/model/tf/input_pipeline.py`
//! `process_tensors_from_config` with the `eval` settings of `alphafold/model/config.py`).
//!
//! The non-ensembled features are computed once; then, for each of the `num_batches` copies
//! (one per recycling iteration and ensemble member), the MSA is sampled into cluster centres
//! and extra rows, corrupted BERT-style, clustered, turned into `msa_feat`, and every feature is
//! cropped to `crop_size` residues and zero-padded to fixed sizes. The copies are stacked along a
//! new leading axis: `msa_feat` is `[num_batches, N_clust, N_res, 49]`.
use super::atom14_masks::make_atom14_masks;
use super::config::DataConfig;
use super::fixed_size::{feature_axes, stack_batches, Axis, CropAndPad, PaddedSizes};
use super::inputs::PipelineInputs;
use super::msa_clusters::{assign_clusters, summarize_clusters};
use super::msa_feat::{deletion_value, has_deletion, make_msa_feat, make_target_feat};
use super::msa_rows::MsaRows;
use super::msa_sampling::{crop_extra_msa, make_masked_msa, sample_msa, MaskedMsa};
use crate::data::array::{ArrayData, FeatureDict, NpArray};
use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Runs the whole pipeline on raw features (a `features.pkl`'s contents) with a seeded RNG.
pub fn process_features(raw: &FeatureDict, config: &DataConfig, seed: u64) -> Result<FeatureDict> {
    let inputs = PipelineInputs::from_raw(raw, config.use_templates)?;
    process_inputs(&inputs, config, seed)
}

/// The pipeline after the raw features have been read and checked.
pub fn process_inputs(
    inputs: &PipelineInputs,
    config: &DataConfig,
    seed: u64,
) -> Result<FeatureDict> {
    process_inputs_with_labels(inputs, &FeatureDict::new(), config, seed)
}

/// The pipeline of a training example: the features of [`process_features`] plus the training
/// labels (`features::labels::make_labels`, over the same residues as `raw`), cropped and padded
/// with the same residue window and stacked on the same leading axis.
pub fn process_training_features(
    raw: &FeatureDict,
    labels: &FeatureDict,
    config: &DataConfig,
    seed: u64,
) -> Result<FeatureDict> {
    let inputs = PipelineInputs::from_raw(raw, config.use_templates)?;
    for (key, array) in labels {
        let per_residue = feature_axes(key).is_some_and(|axes| axes.first() == Some(&Axis::Res));
        if per_residue && array.shape.first() != Some(&inputs.num_res) {
            bail!(
                "label {key} has shape {:?}, the features have {} residues",
                array.shape,
                inputs.num_res
            );
        }
    }
    process_inputs_with_labels(&inputs, labels, config, seed)
}

fn process_inputs_with_labels(
    inputs: &PipelineInputs,
    labels: &FeatureDict,
    config: &DataConfig,
    seed: u64,
) -> Result<FeatureDict> {
    if config.msa_cluster_rows() == 0 {
        bail!(
            "the configuration leaves no MSA cluster rows (max_msa_clusters {})",
            config.max_msa_clusters
        );
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let crop_seed = [rng.gen::<i32>(), rng.gen::<i32>()];
    let mut shared = non_ensembled_features(inputs, crop_seed)?;
    shared.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    let plan = crop_plan(inputs, config, crop_seed);
    crate::memory::ensure_fits(
        estimated_peak_bytes(inputs, config, &plan),
        &format!("the processed batch of {} residues", inputs.num_res),
        "crop it (`data crop_size=`, `--crop`) or use fewer MSA rows (`data msa_depth= extra_msa=`)",
    )?;
    let batches = (0..config.num_batches())
        .map(|_| {
            let (centres, extra) = sample_msa(&inputs.msa, config.msa_cluster_rows(), &mut rng);
            let masked = make_masked_msa(
                &centres,
                &inputs.profile,
                &config.masked_msa,
                config.masked_msa_replace_fraction,
                &mut rng,
            );
            let mut batch = shared.clone();
            batch.extend(msa_features(&centres, &masked, &extra, config, &mut rng)?);
            crop_and_pad(&batch, &plan)
        })
        .collect::<Result<Vec<_>>>()?;
    stack_batches(&batches)
}

/// A generous estimate of the host memory the pipeline holds at its peak, in bytes. The MSA
/// features of a copy are built on all residues and all sampled rows, then cropped and padded to
/// the fixed sizes; the copies are then stacked: about three versions of every copy are alive at
/// the peak. Per residue and row: `msa_feat`'s channels plus its masks; per extra row: four
/// features; per template: its atom positions, masks and pseudo-β.
fn estimated_peak_bytes(inputs: &PipelineInputs, config: &DataConfig, plan: &CropAndPad) -> u64 {
    const PER_RESIDUE_FIXED: usize = 64;
    const PER_TEMPLATE_RESIDUE: usize = 37 * 3 + 37 + 4;
    let padded = plan.padded;
    let residues = inputs.num_res.max(padded.map_or(0, |p| p.num_res));
    let msa_rows = inputs.msa.num_seq().min(config.msa_cluster_rows()).max(padded.map_or(0, |p| p.msa_seq));
    let extra_rows = inputs.msa.num_seq().min(config.max_extra_msa).max(padded.map_or(0, |p| p.extra_seq));
    let templates = plan.template_count.max(padded.map_or(0, |p| p.templates));
    let per_residue = msa_rows * (super::msa_feat::MSA_FEAT_CHANNELS + 4)
        + extra_rows * 4
        + templates * PER_TEMPLATE_RESIDUE
        + PER_RESIDUE_FIXED;
    let per_copy = (residues * per_residue * std::mem::size_of::<f32>()) as u64;
    3 * config.num_batches() as u64 * per_copy
}

/// Features that are the same in every copy: sequence, masks, atom maps, `target_feat`,
/// templates (`nonensembled_map_fns` and the deterministic half of `make_msa_feat`).
pub fn non_ensembled_features(inputs: &PipelineInputs, crop_seed: [i32; 2]) -> Result<FeatureDict> {
    let n = inputs.num_res;
    let mut features = make_atom14_masks(&inputs.aatype)?;
    let mut insert = |key: &str, shape: Vec<usize>, data: ArrayData| -> Result<()> {
        features.insert(key.to_owned(), NpArray::new(shape, data)?);
        Ok(())
    };
    insert("aatype", vec![n], ArrayData::I32(inputs.aatype.clone()))?;
    insert(
        "residue_index",
        vec![n],
        ArrayData::I32(inputs.residue_index.clone()),
    )?;
    insert("seq_length", vec![], ArrayData::I32(vec![n as i32]))?;
    insert("is_distillation", vec![], ArrayData::F32(vec![0.0]))?;
    insert("seq_mask", vec![n], ArrayData::F32(vec![1.0; n]))?;
    insert(
        "random_crop_to_size_seed",
        vec![2],
        ArrayData::I32(crop_seed.to_vec()),
    )?;
    insert(
        "target_feat",
        vec![n, super::msa_feat::TARGET_FEAT_CHANNELS],
        ArrayData::F32(make_target_feat(
            &inputs.aatype,
            &inputs.between_segment_residues,
        )),
    )?;
    if let Some(templates) = &inputs.templates {
        features.extend(templates.to_features()?);
    }
    Ok(features)
}

/// The MSA features of one copy, given its cluster centres, their corruption and the extra
/// rows: `nearest_neighbor_clusters`, `summarize_clusters`, `crop_extra_msa` (or
/// `delete_extra_msa`) and `make_msa_feat`.
pub fn msa_features(
    centres: &MsaRows,
    masked: &MaskedMsa,
    extra: &MsaRows,
    config: &DataConfig,
    rng: &mut impl Rng,
) -> Result<FeatureDict> {
    let (s, n) = (centres.num_seq(), centres.num_res);
    let clusters = config.msa_cluster_features.then(|| {
        let assignment = assign_clusters(centres, &masked.msa, extra);
        summarize_clusters(centres, &masked.msa, extra, &assignment)
    });
    let (msa_feat, channels) = make_msa_feat(centres, &masked.msa, clusters.as_ref());
    let mut features = FeatureDict::new();
    let mut insert = |key: &str, shape: Vec<usize>, data: ArrayData| -> Result<()> {
        features.insert(key.to_owned(), NpArray::new(shape, data)?);
        Ok(())
    };
    insert("msa_feat", vec![s, n, channels], ArrayData::F32(msa_feat))?;
    insert("msa_mask", vec![s, n], ArrayData::F32(centres.mask.clone()))?;
    insert(
        "msa_row_mask",
        vec![s],
        ArrayData::F32(centres.row_mask.clone()),
    )?;
    insert(
        "bert_mask",
        vec![s, n],
        ArrayData::F32(masked.bert_mask.clone()),
    )?;
    insert(
        "true_msa",
        vec![s, n],
        ArrayData::I32(masked.true_msa.clone()),
    )?;
    if config.max_extra_msa > 0 {
        let extra = crop_extra_msa(extra, config.max_extra_msa, rng);
        let e = extra.num_seq();
        let deletions = &extra.deletion_matrix;
        insert("extra_msa", vec![e, n], ArrayData::I32(extra.msa.clone()))?;
        insert(
            "extra_msa_mask",
            vec![e, n],
            ArrayData::F32(extra.mask.clone()),
        )?;
        insert(
            "extra_msa_row_mask",
            vec![e],
            ArrayData::F32(extra.row_mask.clone()),
        )?;
        insert(
            "extra_has_deletion",
            vec![e, n],
            ArrayData::F32(deletions.iter().map(|&d| has_deletion(d)).collect()),
        )?;
        insert(
            "extra_deletion_value",
            vec![e, n],
            ArrayData::F32(deletions.iter().map(|&d| deletion_value(d)).collect()),
        )?;
    }
    Ok(features)
}

/// Residue window and padded sizes shared by all copies (`random_crop_to_size`,
/// `make_fixed_size`). The window start is drawn from `crop_seed`, so that every copy crops
/// alike; without a crop size (AlphaFold's inference setting) the window is the whole chain.
pub fn crop_plan(inputs: &PipelineInputs, config: &DataConfig, crop_seed: [i32; 2]) -> CropAndPad {
    let n = inputs.num_res;
    let crop_size = config.crop_size.unwrap_or(n);
    let residue_count = n.min(crop_size);
    let seed = ((crop_seed[0] as u32 as u64) << 32) | crop_seed[1] as u32 as u64;
    let residue_start = StdRng::seed_from_u64(seed).gen_range(0..=n - residue_count);
    let num_templates = inputs.templates.as_ref().map_or(0, |t| t.num_templates);
    let padded = config.fixed_size.then(|| PaddedSizes {
        num_res: crop_size,
        msa_seq: config.msa_cluster_rows(),
        extra_seq: config.max_extra_msa,
        templates: config.max_templates,
    });
    CropAndPad {
        residue_start,
        residue_count,
        template_count: num_templates.min(config.max_templates),
        padded,
    }
}

/// Applies the crop and padding to every feature, with `seq_length` set to the kept length.
pub fn crop_and_pad(features: &FeatureDict, plan: &CropAndPad) -> Result<FeatureDict> {
    let mut out = FeatureDict::new();
    for (key, array) in features {
        if feature_axes(key).is_none() {
            continue;
        }
        let processed = plan
            .apply(key, array)
            .with_context(|| format!("cropping {key}"))?;
        out.insert(key.clone(), processed);
    }
    out.insert(
        "seq_length".into(),
        NpArray::scalar(ArrayData::I32(vec![plan.residue_count as i32]))?,
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::features::sequence_features::make_raw_features;
    use crate::data::msa::parse_a3m;

    fn toy_features() -> FeatureDict {
        let a3m = ">q
MKWVL
>1
MKW-aL
>2
AKWVaL
>3
MRWVI
>4
-KWVaaL
>5
MKGVL
";
        let msa = parse_a3m(a3m, "toy.a3m").unwrap();
        make_raw_features("MKWVL", "toy", &[&msa]).unwrap()
    }

    #[test]
    fn batch_has_alphafold_shapes() {
        let config = DataConfig {
            max_msa_clusters: 3,
            max_extra_msa: 4,
            crop_size: Some(7),
            ..DataConfig::default()
        };
        let batch = process_features(&toy_features(), &config, 0).unwrap();
        assert_eq!(batch["msa_feat"].shape, vec![4, 3, 7, 49]);
        assert_eq!(batch["extra_msa"].shape, vec![4, 4, 7]);
        assert_eq!(batch["target_feat"].shape, vec![4, 7, 22]);
        assert_eq!(batch["seq_length"].data, ArrayData::I32(vec![5; 4]));
        // Three extra rows are real, the fourth is padding.
        let ArrayData::F32(row_mask) = &batch["extra_msa_row_mask"].data else {
            panic!()
        };
        assert_eq!(&row_mask[..4], &[1.0, 1.0, 1.0, 0.0]);
        let again = process_features(&toy_features(), &config, 0).unwrap();
        assert_eq!(batch, again, "the same seed must give the same batch");
        let other = process_features(&toy_features(), &config, 1).unwrap();
        assert_ne!(
            batch["random_crop_to_size_seed"],
            other["random_crop_to_size_seed"]
        );
    }

    #[test]
    fn crop_keeps_a_window_shared_by_all_copies() {
        let config = DataConfig {
            max_msa_clusters: 2,
            max_extra_msa: 2,
            crop_size: Some(3),
            ..DataConfig::default()
        };
        let batch = process_features(&toy_features(), &config, 3).unwrap();
        let ArrayData::I32(residue_index) = &batch["residue_index"].data else {
            panic!()
        };
        let start = residue_index[0];
        assert_eq!(residue_index.len(), 4 * 3);
        for copy in residue_index.chunks(3) {
            assert_eq!(copy, &[start, start + 1, start + 2]);
        }
        assert_eq!(batch["seq_length"].data, ArrayData::I32(vec![3; 4]));
    }
}
