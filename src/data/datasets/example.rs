//! One training example (raw features and the native laid onto the query), the record of a
//! skipped one, and the interface every training set offers; the checks that decide an example
//! is malformed (Jumper et al. (2021) Suppl. 1.2.5: training chains need resolved structure and
//! an alignment).
use crate::data::array::FeatureDict;
use crate::data::features::inputs::PipelineInputs;
use crate::data::features::labels::{align_native_to_query, make_labels};
use crate::data::features::{process_training_features, DataConfig};
use crate::data::protein::Protein;
use crate::residue_constants::RESTYPES;
use anyhow::{bail, Result};

/// A loaded training example.
#[derive(Debug, Clone)]
pub struct TrainingExample {
    /// The chain's id in its set (e.g. `102l_A`).
    pub id: String,
    /// Raw features, as in AlphaFold's `features.pkl`.
    pub raw: FeatureDict,
    /// The native structure over the query's residues (zero masks where unresolved).
    pub native: Protein,
    /// Resolution in Å (0 for predictions).
    pub resolution: f32,
    /// Whether the native is a prediction (self-distillation set).
    pub is_distillation: bool,
}

impl TrainingExample {
    /// Builds and checks an example from its raw features and a structure of its sequence;
    /// malformed inputs (empty MSA, a structure of another sequence, no resolved backbone) are
    /// errors.
    pub fn new(
        id: &str,
        raw: FeatureDict,
        structure: &Protein,
        resolution: f32,
        is_distillation: bool,
    ) -> Result<Self> {
        let inputs = PipelineInputs::from_raw(&raw, false)?;
        if inputs.msa.num_seq() == 0 {
            bail!("the MSA is empty");
        }
        let sequence: String = inputs
            .aatype
            .iter()
            .map(|&a| RESTYPES.get(a as usize).copied().unwrap_or('X'))
            .collect();
        let native = align_native_to_query(structure, &sequence)?;
        let backbone_resolved = native
            .atom_mask
            .iter()
            .any(|mask| mask[..3].iter().all(|&m| m > 0.0));
        if !backbone_resolved {
            bail!("the structure has no residue with N, CA and C resolved");
        }
        Ok(Self {
            id: id.to_owned(),
            raw,
            native,
            resolution,
            is_distillation,
        })
    }

    /// Number of residues.
    pub fn num_res(&self) -> usize {
        self.native.len()
    }

    /// The training labels (`features::labels::make_labels`).
    pub fn labels(&self) -> Result<FeatureDict> {
        make_labels(&self.native, self.resolution, self.is_distillation)
    }

    /// The model's training batch: features and labels through the pipeline with one crop.
    pub fn process(&self, config: &DataConfig, seed: u64) -> Result<FeatureDict> {
        process_training_features(&self.raw, &self.labels()?, config, seed)
    }
}

/// An example that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub id: String,
    pub reason: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "skipped {}: {}", self.id, self.reason)
    }
}

/// A training set: clusters of chain ids, and a loader for one id.
pub trait Dataset: Send + Sync {
    /// Clusters of example ids; sampling picks a cluster uniformly, then a member.
    fn clusters(&self) -> &[Vec<String>];
    /// Loads and checks one example.
    fn load(&self, id: &str) -> Result<TrainingExample>;
}
