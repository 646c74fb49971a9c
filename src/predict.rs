//! Structure prediction end to end, as DeepMind's `run_alphafold.py` does it for one model:
//! features (from a FASTA file and its alignments, an AlphaFold `features.pkl[.gz]`, or an
//! already processed batch `.npz`), parameter loading (DeepMind's `params_model_*.npz`, an own
//! `.safetensors` checkpoint, or seeded random values), the recycled forward pass
//! ([`crate::model::alphafold::AlphaFold`]) and the files AlphaFold writes: `ranked_0.pdb` with
//! per-residue pLDDT B-factors, `pae.json` (AlphaFold DB format, `_ptm` models),
//! `ranking_debug.json`, `timings.json` (seconds per stage) and `outputs.npz` (the outputs by
//! AlphaFold's names), with ColabFold's pictures next to them: `coverage.png` (the input MSA,
//! when the input was not an already processed batch), `plddt.png` and `pae.png` (`_ptm`).
use crate::data::array::{FeatureDict, NpArray};
use crate::data::fasta::read_fasta;
use crate::data::feature_file::read_feature_file;
use crate::data::features::{process_features, DataConfig};
use crate::data::msa::{read_alignment, Msa};
use crate::data::npz::write_npz;
use crate::data::pae_json::{write_pae_json, PaeMatrix};
use crate::data::pdb::to_pdb_string;
use crate::data::protein::Protein;
use crate::data::features::sequence_features::make_raw_features;
use crate::model::alphafold::{AlphaFold, NamedOutputs};
use crate::model::config::{ModelConfig, RuntimeOptions};
use crate::model::weights::{import_alphafold_params, load_checkpoint};
use crate::residue_constants::ATOM_TYPE_NUM;
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{nn, Device, Kind, Tensor};

/// What to predict and how.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// A FASTA file (first record), a raw feature file, or a processed batch `.npz`.
    pub input: PathBuf,
    /// Alignments (`.a3m`, `.sto`) of a FASTA query; none gives a single-sequence MSA.
    pub msas: Vec<PathBuf>,
    pub preset: String,
    /// DeepMind `.npz` or own `.safetensors`; random parameters seeded by `seed` when `None`.
    pub params: Option<PathBuf>,
    pub seed: u64,
    /// Recycling iterations; defaults to the preset's (or, for a batch with a recycle axis, its
    /// copies less one).
    pub num_recycle: Option<i64>,
    /// Overrides of the preset's MSA sizes for the feature pipeline.
    pub max_extra_msa: Option<usize>,
    pub max_msa_clusters: Option<usize>,
    pub device: Device,
    pub runtime: RuntimeOptions,
    pub out_dir: PathBuf,
}

/// The headline numbers of a prediction.
#[derive(Debug, Clone)]
pub struct PredictionSummary {
    pub mean_plddt: f64,
    pub ptm: Option<f64>,
    pub num_residues: i64,
    pub num_recycle: i64,
    /// Seconds per stage, AlphaFold's `timings.json` names.
    pub timings: BTreeMap<String, f64>,
}

/// Runs the prediction and writes its files into `options.out_dir`.
pub fn predict(options: &PredictOptions) -> Result<PredictionSummary> {
    let config = ModelConfig::preset(&options.preset)?;
    let mut timings = BTreeMap::new();

    let started = Instant::now();
    let (batch, num_recycle, input_msa) = load_batch(options, &config)?;
    timings.insert("features".to_string(), started.elapsed().as_secs_f64());

    let started = Instant::now();
    let (_vs, model) = build_model(&config, options.device, options.params.as_deref(), options.seed)?;
    timings.insert("parameter loading".to_string(), started.elapsed().as_secs_f64());

    let started = Instant::now();
    let outputs = tch::no_grad(|| model.forward(&batch, num_recycle, &options.runtime, |_| {}))
        .context("running the model")?;
    timings.insert("predict".to_string(), started.elapsed().as_secs_f64());

    let summary = write_outputs(options, &batch, &outputs, num_recycle, timings)?;
    write_pictures(&options.out_dir, input_msa.as_ref(), &outputs)?;
    Ok(summary)
}

/// The network of `config` on `device` with its parameters: DeepMind's `.npz`, an own
/// `.safetensors` checkpoint, or random values seeded by `seed` when `params` is `None`.
pub fn build_model(
    config: &ModelConfig,
    device: Device,
    params: Option<&Path>,
    seed: u64,
) -> Result<(nn::VarStore, AlphaFold)> {
    tch::manual_seed(seed as i64);
    let mut vs = nn::VarStore::new(device);
    let model = AlphaFold::new(vs.root(), config);
    match params {
        Some(path) if path.extension().is_some_and(|e| e == "safetensors") => load_checkpoint(&mut vs, path)?,
        Some(path) => import_alphafold_params(&vs, path)?,
        None => {}
    }
    Ok((vs, model))
}

/// The processed batch on the device, with a leading recycle axis of `num_recycle + 1` copies,
/// the number of recycles, and the input MSA (raw features only: a processed batch has lost it).
fn load_batch(options: &PredictOptions, config: &ModelConfig) -> Result<(BTreeMap<String, Tensor>, i64, Option<Msa>)> {
    let path = &options.input;
    let head = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let features = if head.first() == Some(&b'>') {
        raw_from_fasta(path, &options.msas)?
    } else {
        read_feature_file(path)?
    };
    let input_msa = match (features.get("msa"), features.contains_key("msa_feat")) {
        (Some(msa), false) => {
            let num_res = msa.shape.get(1).copied().unwrap_or(0);
            Some(Msa::from_hhblits_ids(&msa.to_i64_vec()?, num_res).with_context(|| format!("the MSA of {}", path.display()))?)
        }
        _ => None,
    };
    let processed = if features.contains_key("msa_feat") {
        features
    } else {
        let mut data = data_config(config)?;
        if let Some(r) = options.num_recycle {
            data.num_recycle = usize::try_from(r).context("the number of recycles must not be negative")?;
        }
        if let Some(n) = options.max_extra_msa {
            data.max_extra_msa = n;
        }
        if let Some(n) = options.max_msa_clusters {
            data.max_msa_clusters = n;
        }
        process_features(&features, &data, options.seed)
            .with_context(|| format!("processing the features of {}", path.display()))?
    };
    let (batch, num_recycle) = batch_tensors(&processed, options.device, options.num_recycle, config.num_recycle)
        .with_context(|| format!("the batch of {}", path.display()))?;
    Ok((batch, num_recycle, input_msa))
}

/// ColabFold's pictures of a prediction: MSA coverage, pLDDT and, for `_ptm` models, PAE.
fn write_pictures(dir: &Path, input_msa: Option<&Msa>, outputs: &NamedOutputs) -> Result<()> {
    let mut figures = vec![("plddt.png", crate::plot::confidence::plddt(&output_f32(outputs, "plddt")?)?)];
    if let Some(msa) = input_msa {
        figures.push(("coverage.png", crate::plot::msa::msa_coverage(msa)?));
    }
    if let Some(matrix) = predicted_pae(outputs)? {
        let rows: Vec<Vec<f32>> = matrix.values.chunks(matrix.num_res).map(<[f32]>::to_vec).collect();
        figures.push(("pae.png", crate::plot::confidence::pae(&rows, matrix.max_predicted_aligned_error)?));
    }
    for (name, figure) in figures {
        let path = dir.join(name);
        std::fs::write(&path, &figure.png).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// A processed batch as tensors on `device` with a leading recycle axis, and the number of
/// recycles to run. A batch with the axis (`aatype` `[copies, N_res]`) is used as is and runs
/// `num_recycle`, else `copies - 1`, recycles; one without it (`aatype` `[N_res]`) is repeated
/// `num_recycle + 1` times, `num_recycle` defaulting to `default_num_recycle`. String features
/// (`domain_name`, `sequence`) are left out.
pub fn batch_tensors(
    processed: &FeatureDict,
    device: Device,
    num_recycle: Option<i64>,
    default_num_recycle: i64,
) -> Result<(BTreeMap<String, Tensor>, i64)> {
    let aatype = processed.get("aatype").context("the batch lacks 'aatype'")?;
    let has_recycle_axis = aatype.shape.len() == 2;
    let mut batch = BTreeMap::new();
    for (name, array) in processed {
        if matches!(array.data, crate::data::array::ArrayData::Bytes(_)) {
            continue;
        }
        let tensor = array.to_tensor().with_context(|| format!("batch feature '{name}'"))?;
        batch.insert(name.clone(), tensor.to_device(device));
    }
    let num_recycle = match num_recycle {
        Some(r) if r < 0 => bail!("the number of recycles must not be negative (got {r})"),
        Some(r) => r,
        None if has_recycle_axis => aatype.shape[0] as i64 - 1,
        None => default_num_recycle,
    };
    if !has_recycle_axis {
        let repeat = num_recycle + 1;
        batch = batch
            .into_iter()
            .map(|(name, t)| {
                let mut sizes = t.size();
                sizes.insert(0, repeat);
                (name, t.unsqueeze(0).expand(sizes.as_slice(), false))
            })
            .collect();
    }
    Ok((batch, num_recycle))
}

/// The feature pipeline settings of a preset.
pub fn data_config(config: &ModelConfig) -> Result<DataConfig> {
    let d = &config.data;
    let size = |n: i64, what: &str| usize::try_from(n).with_context(|| format!("preset {what} {n}"));
    Ok(DataConfig {
        max_extra_msa: size(d.max_extra_msa, "max_extra_msa")?,
        max_msa_clusters: size(d.max_msa_clusters, "max_msa_clusters")?,
        max_templates: size(d.max_templates, "max_templates")?,
        reduce_msa_clusters_by_max_templates: d.reduce_msa_clusters_by_max_templates,
        use_templates: d.use_templates,
        num_recycle: size(d.num_recycle, "num_recycle")?,
        resample_msa_in_recycling: d.resample_msa_in_recycling,
        ..DataConfig::default()
    })
}

/// Raw features of the first FASTA record with its alignments (the query alone without). A preset
/// that embeds templates gets an empty template set from the feature pipeline.
fn raw_from_fasta(path: &Path, msa_paths: &[PathBuf]) -> Result<FeatureDict> {
    let records = read_fasta(path)?;
    let Some(query) = records.first() else { bail!("{}: no sequence", path.display()) };
    let mut msas = msa_paths.iter().map(|p| read_alignment(p)).collect::<Result<Vec<_>>>()?;
    if msas.is_empty() {
        msas.push(Msa::single_sequence(&query.sequence, "query"));
    }
    let msa_refs: Vec<&Msa> = msas.iter().collect();
    make_raw_features(&query.sequence, &query.description, &msa_refs)
}

/// Mean pLDDT and pTM (`_ptm` models) of the model's outputs.
pub fn confidence_summary(outputs: &NamedOutputs) -> Result<(f64, Option<f64>)> {
    let plddt = output_f32(outputs, "plddt")?;
    let mean_plddt = plddt.iter().map(|&p| p as f64).sum::<f64>() / plddt.len().max(1) as f64;
    Ok((mean_plddt, outputs.get("ptm").map(|t| t.double_value(&[]))))
}

/// Output `name` flattened to `f32` values on the CPU.
pub fn output_f32(outputs: &NamedOutputs, name: &str) -> Result<Vec<f32>> {
    let t = outputs.get(name).with_context(|| format!("the model gave no '{name}'"))?;
    Ok(Vec::<f32>::try_from(t.to_device(Device::Cpu).to_kind(Kind::Float).flatten(0, -1))?)
}

/// The predicted structure as AlphaFold's `protein.from_prediction` builds it: batch copy 0's
/// sequence, residues numbered from 1, chain A, per-residue pLDDT as B-factors.
pub fn predicted_protein(batch: &BTreeMap<String, Tensor>, outputs: &NamedOutputs) -> Result<Protein> {
    let first_copy = |name: &str| -> Result<Vec<i64>> {
        let t = batch.get(name).with_context(|| format!("batch lacks '{name}'"))?;
        Ok(Vec::<i64>::try_from(t.get(0).to_device(Device::Cpu).to_kind(Kind::Int64))?)
    };
    let aatype = first_copy("aatype")?;
    let residue_index = first_copy("residue_index")?;
    let positions = output_f32(outputs, "structure_module/final_atom_positions")?;
    let mask = output_f32(outputs, "structure_module/final_atom_mask")?;
    let mut protein = Protein {
        aatype: aatype.iter().map(|&a| a.clamp(0, 20) as usize).collect(),
        atom_positions: positions
            .chunks_exact(ATOM_TYPE_NUM * 3)
            .map(|r| std::array::from_fn(|a| [r[3 * a], r[3 * a + 1], r[3 * a + 2]]))
            .collect(),
        atom_mask: mask.chunks_exact(ATOM_TYPE_NUM).map(|r| std::array::from_fn(|a| r[a])).collect(),
        residue_index: residue_index.iter().map(|&i| i as i32 + 1).collect(),
        insertion_code: vec![' '; aatype.len()],
        chain_index: vec![0; aatype.len()],
        chain_ids: vec!["A".to_string()],
        b_factors: Vec::new(),
    };
    protein.set_residue_b_factors(&output_f32(outputs, "plddt")?)?;
    Ok(protein)
}

/// The predicted aligned error `[N_res, N_res]` of a model with the PAE head (`_ptm`).
pub fn predicted_pae(outputs: &NamedOutputs) -> Result<Option<PaeMatrix>> {
    if !outputs.contains_key("predicted_aligned_error") {
        return Ok(None);
    }
    let num_res = outputs.get("plddt").map_or(0, |t| t.numel());
    let pae = output_f32(outputs, "predicted_aligned_error")?;
    let max_pae = output_f32(outputs, "max_predicted_aligned_error")?;
    Ok(Some(PaeMatrix::new(num_res, pae, max_pae.first().copied().unwrap_or(0.0))?))
}

/// Every output as an array by AlphaFold's name (what `outputs.npz` holds).
pub fn output_arrays(outputs: &NamedOutputs) -> Result<FeatureDict> {
    let mut arrays = FeatureDict::new();
    for (name, t) in outputs {
        arrays.insert(name.clone(), NpArray::from_tensor(t).with_context(|| format!("output '{name}'"))?);
    }
    Ok(arrays)
}

/// Writes the prediction's files and returns its summary.
fn write_outputs(
    options: &PredictOptions,
    batch: &BTreeMap<String, Tensor>,
    outputs: &NamedOutputs,
    num_recycle: i64,
    mut timings: BTreeMap<String, f64>,
) -> Result<PredictionSummary> {
    let dir = &options.out_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (mean_plddt, ptm) = confidence_summary(outputs)?;
    let protein = predicted_protein(batch, outputs)?;
    let num_residues = protein.len() as i64;
    write_file(&dir.join("ranked_0.pdb"), &to_pdb_string(&protein)?)?;
    if let Some(matrix) = predicted_pae(outputs)? {
        write_pae_json(&dir.join("pae.json"), &matrix)?;
    }

    let model_name = &options.preset;
    let by_model = |value: f64| {
        let mut map = serde_json::Map::new();
        map.insert(model_name.clone(), json!(value));
        serde_json::Value::Object(map)
    };
    let ranking = json!({
        "plddts": by_model(mean_plddt),
        "ptm": ptm.map(by_model),
        "order": [model_name],
    });
    write_file(&dir.join("ranking_debug.json"), &serde_json::to_string_pretty(&ranking)?)?;

    let arrays = output_arrays(outputs)?;
    let started = Instant::now();
    write_npz(&dir.join("outputs.npz"), &arrays)?;
    timings.insert("writing outputs".to_string(), started.elapsed().as_secs_f64());
    write_file(&dir.join("timings.json"), &serde_json::to_string_pretty(&timings)?)?;
    Ok(PredictionSummary { mean_plddt, ptm, num_residues, num_recycle, timings })
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
