//! HelixFold's training-set layout (PaddleHelix `apps/protein_folding/helixfold`, the
//! `helixfold_train_demo` data): precomputed raw features `features/<id>/features.pkl.gz`,
//! labels `mmcif/<pdb>.cif` (chain after the last `_` of the id), a cluster list and
//! `protein_id.mapping`. The self-distillation set has the same shape with
//! `distill_features/<id>/features.pkl.gz` and predicted structures `distill_pdb/<id>.pdb.gz`,
//! whose B-factor column is pLDDT: residues under 70 lose their atoms, and a chain whose mean
//! pLDDT is under 70 is skipped (Jumper et al. (2021) Suppl. 1.3, self-distillation filtering).
use super::clusters::{read_id_mapping, ClusterList};
use super::example::{Dataset, TrainingExample};
use crate::data::features::labels::mask_low_plddt_residues;
use crate::data::mmcif::{mmcif_chain_to_protein, read_mmcif};
use crate::data::pdb::read_pdb;
use crate::data::pickle::read_feature_pickle;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Per-residue and per-chain pLDDT threshold of the distillation set.
pub const MIN_DISTILLATION_PLDDT: f32 = 70.0;

/// Where the labels of a HelixFold set come from.
#[derive(Debug, Clone)]
enum Labels {
    /// Experimental structures: `<dir>/<pdb>.cif`.
    Mmcif(PathBuf),
    /// Predictions: `<dir>/<id>.pdb.gz`.
    Predictions(PathBuf),
}

/// A HelixFold training set on disk.
#[derive(Debug, Clone)]
pub struct HelixFoldDataset {
    clusters: Vec<Vec<String>>,
    mapping: HashMap<String, String>,
    features_dir: PathBuf,
    labels: Labels,
}

impl HelixFoldDataset {
    /// The PDB set under `root` (`features/`, `mmcif/`, `protein_id.mapping`) with the clusters
    /// of `cluster_list`.
    pub fn pdb_set(root: &Path, cluster_list: &Path) -> Result<Self> {
        Self::open(
            root,
            cluster_list,
            root.join("features"),
            Labels::Mmcif(root.join("mmcif")),
        )
    }

    /// The self-distillation set under `root` (`distill_features/`, `distill_pdb/`,
    /// `protein_id.mapping`).
    pub fn distillation_set(root: &Path, cluster_list: &Path) -> Result<Self> {
        Self::open(
            root,
            cluster_list,
            root.join("distill_features"),
            Labels::Predictions(root.join("distill_pdb")),
        )
    }

    fn open(
        root: &Path,
        cluster_list: &Path,
        features_dir: PathBuf,
        labels: Labels,
    ) -> Result<Self> {
        Ok(Self {
            clusters: ClusterList::read(cluster_list)?.clusters,
            mapping: read_id_mapping(&root.join("protein_id.mapping"))?,
            features_dir,
            labels,
        })
    }

    fn load_checked(&self, id: &str) -> Result<TrainingExample> {
        let feature_id = self.mapping.get(id).map_or(id, String::as_str);
        let raw = read_feature_pickle(&self.features_dir.join(feature_id).join("features.pkl.gz"))?;
        match &self.labels {
            Labels::Mmcif(dir) => {
                let Some((pdb, chain)) = feature_id.rsplit_once('_') else {
                    bail!("id {feature_id:?} is not `<pdb>_<chain>`");
                };
                let mmcif = read_mmcif(&dir.join(format!("{pdb}.cif")))?;
                let structure = mmcif_chain_to_protein(&mmcif, chain)?;
                TrainingExample::new(id, raw, &structure, mmcif.header.resolution as f32, false)
            }
            Labels::Predictions(dir) => {
                let mut structure = read_pdb(&dir.join(format!("{feature_id}.pdb.gz")))?;
                let mean_plddt = mask_low_plddt_residues(&mut structure, MIN_DISTILLATION_PLDDT);
                if mean_plddt < MIN_DISTILLATION_PLDDT {
                    bail!("mean pLDDT {mean_plddt:.1} is under {MIN_DISTILLATION_PLDDT}");
                }
                TrainingExample::new(id, raw, &structure, 0.0, true)
            }
        }
    }
}

impl Dataset for HelixFoldDataset {
    fn clusters(&self) -> &[Vec<String>] {
        &self.clusters
    }

    fn load(&self, id: &str) -> Result<TrainingExample> {
        self.load_checked(id)
            .with_context(|| format!("loading {id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::shared_data;

    #[test]
    fn loads_a_pdb_chain_with_its_mmcif_labels() {
        let Some(root) = shared_data("helixfold_train_demo") else {
            return;
        };
        let set =
            HelixFoldDataset::pdb_set(&root, &root.join("protein_clust/demo_clust.list")).unwrap();
        let example = set.load("102l_A").unwrap();
        // 102L is T4 lysozyme: 165 SEQRES residues (helixfold_train_demo/mmcif/102l.cif).
        assert_eq!(example.num_res(), 165);
        assert!(example.resolution > 0.0);
        assert!(!example.is_distillation);
        let labels = example.labels().unwrap();
        assert_eq!(labels["rigidgroups_gt_frames"].shape, vec![165, 8, 12]);
        assert!(set.load("999x_Z").is_err());
    }

    #[test]
    fn distillation_chains_are_plddt_filtered() {
        let Some(root) = shared_data("helixfold_train_demo/distill") else {
            return;
        };
        let set = HelixFoldDataset::distillation_set(&root, &root.join("demo_distill_clust.list"))
            .unwrap();
        let ca = 1;
        let mut loaded = 0;
        for id in set.clusters().iter().flatten() {
            let Ok(example) = set.load(id) else { continue };
            loaded += 1;
            assert!(example.is_distillation);
            for (mask, b_factors) in example
                .native
                .atom_mask
                .iter()
                .zip(&example.native.b_factors)
            {
                if mask[ca] > 0.0 {
                    assert!(b_factors[ca] >= MIN_DISTILLATION_PLDDT);
                }
            }
        }
        assert!(loaded > 0);
    }
}
