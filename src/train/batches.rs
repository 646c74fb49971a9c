//! Where training batches come from: a [`BatchSource`] gives batch `i` of a run as a pure
//! function of the run's data seed and `i`, so that the data position of a checkpoint is just
//! the number of examples consumed and a resumed run sees the batches the uninterrupted one
//! would have. Sources: one structure with its alignments (the whole chain, resampled MSA and
//! corruption every step), or a training set drawn cluster-balanced
//! ([`crate::data::datasets::TrainingSampler`], one sampler stream per batch index).
use super::trainer::Batch;
use crate::data::array::{ArrayData, FeatureDict};
use crate::data::datasets::{Dataset, TrainingExample, TrainingSampler, Warning};
use crate::data::features::sequence_features::make_raw_features;
use crate::data::features::DataConfig;
use crate::data::mmcif::{mmcif_chain_to_protein, read_mmcif};
use crate::data::msa::{read_alignment, Msa};
use crate::data::protein::Protein;
use crate::data::pdb::read_pdb;
use crate::model::config::ModelConfig;
use crate::residue_constants::RESTYPES;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tch::Device;

/// Batches by index.
pub trait BatchSource {
    /// Batch `index` of the run (the `index`-th example consumed).
    fn batch(&mut self, index: u64) -> Result<Batch>;
    /// Examples skipped so far because they failed to load (dataset sources).
    fn take_warnings(&mut self) -> Vec<Warning> {
        Vec::new()
    }
}

/// The feature pipeline's settings for training `model`: its MSA sizes and recycles, and its
/// crop (`None` keeps whole chains).
pub fn training_data_config(model: &ModelConfig) -> Result<DataConfig> {
    let mut data = crate::predict::data_config(model)?;
    data.crop_size = match model.data.crop_size {
        Some(n) => Some(usize::try_from(n).with_context(|| format!("preset crop_size {n}"))?),
        None => None,
    };
    let m = &model.data.masked_msa;
    data.masked_msa.uniform_prob = m.uniform_prob as f32;
    data.masked_msa.profile_prob = m.profile_prob as f32;
    data.masked_msa.same_prob = m.same_prob as f32;
    data.masked_msa_replace_fraction = m.replace_fraction as f32;
    Ok(data)
}

/// Processed features as tensors on `device` (string features dropped).
pub fn features_to_batch(features: &FeatureDict, device: Device) -> Result<Batch> {
    let mut batch = Batch::new();
    for (name, array) in features {
        if matches!(array.data, ArrayData::Bytes(_)) {
            continue;
        }
        let tensor = array.to_tensor().with_context(|| format!("batch feature '{name}'"))?;
        batch.insert(name.clone(), tensor.to_device(device));
    }
    Ok(batch)
}

/// Reads a structure file's first chain (mmCIF by `.cif`, else PDB) and its alignments
/// (`.sto` Stockholm, else A3M) into a training example; without alignments the MSA is the
/// query alone. Errors name the file.
pub fn load_structure_example(structure: &Path, msas: &[PathBuf]) -> Result<TrainingExample> {
    let is_mmcif = structure.extension().is_some_and(|e| e.eq_ignore_ascii_case("cif"));
    let (protein, resolution) = if is_mmcif {
        let mmcif = read_mmcif(structure)?;
        let Some(chain) = mmcif.chain_to_seqres.keys().next().cloned() else {
            bail!("{}: no protein chain", structure.display());
        };
        let protein = mmcif_chain_to_protein(&mmcif, &chain).with_context(|| format!("{} chain {chain}", structure.display()))?;
        (protein, mmcif.header.resolution as f32)
    } else {
        let protein = read_pdb(structure)?;
        let Some(chain) = protein.chain_ids.first().cloned() else {
            bail!("{}: no chain", structure.display());
        };
        (protein.chain(&chain).with_context(|| format!("{} chain {chain}", structure.display()))?, 0.0)
    };
    let alignments = msas.iter().map(|p| read_alignment(p)).collect::<Result<Vec<_>>>()?;
    let id = structure.file_stem().map_or_else(|| "structure".to_string(), |s| s.to_string_lossy().into_owned());
    let refs: Vec<&Msa> = alignments.iter().collect();
    example_from_protein(&id, &protein, resolution, &refs).with_context(|| format!("training example {}", structure.display()))
}

/// A training example of `protein` (a resolved chain; `resolution` in Å, 0 when unknown) with
/// `alignments` of its sequence, or the query alone when there are none.
pub fn example_from_protein(id: &str, protein: &Protein, resolution: f32, alignments: &[&Msa]) -> Result<TrainingExample> {
    let sequence: String = protein.aatype.iter().map(|&a| RESTYPES.get(a).copied().unwrap_or('X')).collect();
    let query = Msa::single_sequence(&sequence, "query");
    let alignments = if alignments.is_empty() { vec![&query] } else { alignments.to_vec() };
    let raw = make_raw_features(&sequence, id, &alignments).with_context(|| format!("features of {id}"))?;
    TrainingExample::new(id, raw, protein, resolution, false)
}

/// The seed of batch `index` in a run seeded `seed`.
fn batch_seed(seed: u64, index: u64) -> u64 {
    seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

/// One example, processed afresh for every batch.
pub struct ExampleBatches {
    pub example: TrainingExample,
    pub data: DataConfig,
    pub seed: u64,
    pub device: Device,
}

impl BatchSource for ExampleBatches {
    fn batch(&mut self, index: u64) -> Result<Batch> {
        let features = self.example.process(&self.data, batch_seed(self.seed, index))?;
        features_to_batch(&features, self.device)
    }
}

/// A training set: batch `index` is the first example accepted by a sampler seeded from
/// `(seed, index)`, processed with that sampler's next seed.
pub struct DatasetBatches {
    pub dataset: Arc<dyn Dataset>,
    pub data: DataConfig,
    pub seed: u64,
    pub device: Device,
    warnings: Vec<Warning>,
}

impl DatasetBatches {
    pub fn new(dataset: Arc<dyn Dataset>, data: DataConfig, seed: u64, device: Device) -> Self {
        Self { dataset, data, seed, device, warnings: Vec::new() }
    }
}

impl BatchSource for DatasetBatches {
    fn batch(&mut self, index: u64) -> Result<Batch> {
        let mut sampler = TrainingSampler::new(self.dataset.clone(), batch_seed(self.seed, index))?;
        let example = sampler.next_example(&mut self.warnings)?;
        let features = example
            .process(&self.data, sampler.next_seed())
            .with_context(|| format!("processing {}", example.id))?;
        features_to_batch(&features, self.device)
    }

    fn take_warnings(&mut self) -> Vec<Warning> {
        std::mem::take(&mut self.warnings)
    }
}
