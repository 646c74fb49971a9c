//! What a session holds between commands: the inputs of a prediction (one query sequence, its
//! MSAs, its template hits), structures by name (loaded or predicted, each with its PAE when it
//! has one), and the data settings.
use crate::data::array::FeatureDict;
use crate::data::fasta::FastaRecord;
use crate::data::hhr::TemplateHit;
use crate::data::msa::Msa;
use crate::data::pae_json::PaeMatrix;
use crate::data::protein::Protein;
use anyhow::{bail, Result};
use crate::data::datasets::{Dataset, Layout};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The query sequence and the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSequence {
    pub source: PathBuf,
    pub record: FastaRecord,
}

/// An MSA under the name it was loaded with (`uniref90`, `bfd`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedMsa {
    pub name: String,
    pub source: PathBuf,
    pub msa: Msa,
}

/// HHsearch hits from one `.hhr` file.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedTemplateHits {
    pub source: PathBuf,
    pub hits: Vec<TemplateHit>,
}

/// A structure with where it came from and, for predictions, its PAE `[N_res, N_res]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Structure {
    pub source: PathBuf,
    pub protein: Protein,
    pub pae: Option<PaeMatrix>,
}

/// A training set loaded from its folder (`load DIR`), for `train`.
#[derive(Clone)]
pub struct LoadedDataset {
    pub source: PathBuf,
    pub layout: Layout,
    pub dataset: Arc<dyn Dataset>,
}

impl LoadedDataset {
    /// Chains over all clusters.
    pub fn num_chains(&self) -> usize {
        self.dataset.clusters().iter().map(Vec::len).sum()
    }
}

impl std::fmt::Debug for LoadedDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedDataset")
            .field("source", &self.source)
            .field("layout", &self.layout)
            .field("clusters", &self.dataset.clusters().len())
            .finish()
    }
}

/// Two loads are the same when they share the set read from the same folder.
impl PartialEq for LoadedDataset {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.layout == other.layout && Arc::ptr_eq(&self.dataset, &other.dataset)
    }
}

/// A processed batch (the model's input, leading recycle axis) and what it was built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub source: String,
    pub features: FeatureDict,
    /// The loaded structure whose sequence the batch was built from (`features from=NAME`):
    /// predictions take its chain and residue numbers, so they score against it residue by residue.
    pub numbered_like: Option<String>,
}

/// Everything loaded for a prediction. The query sequence and every MSA have the same number of
/// columns (the query is an MSA's first row), which [`Inputs::check_msa`] and
/// [`Inputs::check_sequence`] enforce before anything is stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    pub sequence: Option<LoadedSequence>,
    /// In load order; a name appears once.
    pub msas: Vec<LoadedMsa>,
    pub template_hits: Option<LoadedTemplateHits>,
    pub structures: BTreeMap<String, Structure>,
    /// The batch built by `features`.
    pub batch: Option<Batch>,
    /// The training set `train` draws from.
    pub dataset: Option<LoadedDataset>,
}

impl Inputs {
    /// Fails when `msa` cannot belong to the loaded sequence.
    pub fn check_msa(&self, name: &str, msa: &Msa) -> Result<()> {
        if let Some(loaded) = &self.sequence {
            let length = loaded.record.sequence.chars().count();
            if msa.num_columns() != length {
                bail!(
                    "MSA '{name}' has {} columns but the loaded sequence has {length} residues",
                    msa.num_columns()
                );
            }
        }
        Ok(())
    }

    /// Fails when a loaded MSA cannot belong to `sequence`.
    pub fn check_sequence(&self, sequence: &str) -> Result<()> {
        let length = sequence.chars().count();
        if let Some(other) = self.msas.iter().find(|m| m.msa.num_columns() != length) {
            bail!(
                "the sequence has {length} residues but the loaded MSA '{}' has {} columns \
                 (`reset` to start over)",
                other.name,
                other.msa.num_columns()
            );
        }
        Ok(())
    }

    /// The structure called `name`, or an error listing the loaded ones.
    pub fn structure(&self, name: &str) -> Result<&Structure> {
        match self.structures.get(name) {
            Some(structure) => Ok(structure),
            None if self.structures.is_empty() => bail!("no structure '{name}': none is loaded (`load FILE.pdb`)"),
            None => bail!(
                "no structure '{name}'; loaded: {}",
                self.structures.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// Data-pipeline settings. Defaults are AlphaFold's initial-training values (Jumper et al.
/// (2021) Suppl. Table 4: crop size 256, 128 MSA clusters, 1024 extra sequences).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataConfig {
    /// Residues per training crop (`N_res`).
    pub crop_size: usize,
    /// MSA cluster centres kept (`N_seq`).
    pub msa_depth: usize,
    /// Extra MSA sequences kept (`N_extra_seq`).
    pub extra_msa: usize,
    /// Seed of the data pipeline's sampling.
    pub seed: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self { crop_size: 256, msa_depth: 128, extra_msa: 1024, seed: 0 }
    }
}

impl DataConfig {
    /// `(setting, value)` pairs for display.
    pub fn rows(&self) -> Vec<[String; 2]> {
        vec![
            ["crop_size".into(), self.crop_size.to_string()],
            ["msa_depth".into(), self.msa_depth.to_string()],
            ["extra_msa".into(), self.extra_msa.to_string()],
            ["seed".into(), self.seed.to_string()],
        ]
    }
}
