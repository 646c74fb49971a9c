//! OpenFold's training-set layout (`aqlaboratory/openfold`, `openfold/data/data_modules.py`):
//! `alignments/<pdb>_<chain>/` with `uniref90_hits.sto`, `bfd_uniclust_hits.a3m` and
//! `mgnify_hits.sto` (any may be absent), and `mmcif/<pdb>.cif`. The query is the chain's SEQRES;
//! the MSAs are combined as AlphaFold's `DataPipeline.process` does (UniRef90 first, then BFD,
//! then MGnify; UniRef90 capped at 10000 hits and MGnify at 501). Without a cluster list each
//! chain is its own cluster.
use super::clusters::ClusterList;
use super::example::{Dataset, TrainingExample};
use crate::data::features::sequence_features::make_raw_features;
use crate::data::mmcif::{mmcif_chain_to_protein, read_mmcif};
use crate::data::msa::{read_a3m, read_stockholm, Msa};
use crate::residue_constants::RESTYPES;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// `uniref_max_hits` of AlphaFold's `pipeline.py`.
const UNIREF_MAX_HITS: usize = 10000;
/// `mgnify_max_hits` of AlphaFold's `pipeline.py`.
const MGNIFY_MAX_HITS: usize = 501;

/// An OpenFold training set on disk.
#[derive(Debug, Clone)]
pub struct OpenFoldDataset {
    clusters: Vec<Vec<String>>,
    alignments_dir: PathBuf,
    mmcif_dir: PathBuf,
}

impl OpenFoldDataset {
    /// The set under `root` (`alignments/`, `mmcif/`); `cluster_list` groups the chain ids,
    /// otherwise every alignment directory is a cluster of its own.
    pub fn open(root: &Path, cluster_list: Option<&Path>) -> Result<Self> {
        let alignments_dir = root.join("alignments");
        let clusters = match cluster_list {
            Some(path) => ClusterList::read(path)?,
            None => {
                let mut ids = Vec::new();
                let entries = std::fs::read_dir(&alignments_dir)
                    .with_context(|| format!("listing {}", alignments_dir.display()))?;
                for entry in entries {
                    let entry =
                        entry.with_context(|| format!("listing {}", alignments_dir.display()))?;
                    if entry.path().is_dir() {
                        ids.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
                ids.sort();
                if ids.is_empty() {
                    bail!("{}: no alignment directories", alignments_dir.display());
                }
                ClusterList::singletons(ids)
            }
        };
        Ok(Self {
            clusters: clusters.clusters,
            alignments_dir,
            mmcif_dir: root.join("mmcif"),
        })
    }

    fn load_checked(&self, id: &str) -> Result<TrainingExample> {
        let Some((pdb, chain)) = id.rsplit_once('_') else {
            bail!("id {id:?} is not `<pdb>_<chain>`");
        };
        let mmcif = read_mmcif(&self.mmcif_dir.join(format!("{pdb}.cif")))?;
        let structure = mmcif_chain_to_protein(&mmcif, chain)?;
        let sequence: String = structure
            .aatype
            .iter()
            .map(|&a| RESTYPES.get(a).copied().unwrap_or('X'))
            .collect();
        let msas = self.read_msas(id)?;
        if msas.iter().all(Msa::is_empty) {
            bail!("the MSA is empty");
        }
        for msa in &msas {
            let query = msa
                .sequences
                .first()
                .map(String::as_str)
                .unwrap_or_default();
            if !query.eq_ignore_ascii_case(&sequence) {
                bail!(
                    "the alignment's query {query:?} is not the structure's sequence {sequence:?}"
                );
            }
        }
        let msa_refs: Vec<&Msa> = msas.iter().collect();
        let raw = make_raw_features(&sequence, id, &msa_refs)?;
        TrainingExample::new(id, raw, &structure, mmcif.header.resolution as f32, false)
    }

    /// The chain's alignments that exist, in AlphaFold's order, non-empty ones only.
    fn read_msas(&self, id: &str) -> Result<Vec<Msa>> {
        let dir = self.alignments_dir.join(id);
        let mut msas = Vec::new();
        let sources: [(&str, Option<usize>); 3] = [
            ("uniref90_hits.sto", Some(UNIREF_MAX_HITS)),
            ("bfd_uniclust_hits.a3m", None),
            ("mgnify_hits.sto", Some(MGNIFY_MAX_HITS)),
        ];
        for (name, max_hits) in sources {
            let path = dir.join(name);
            if !path.exists() {
                continue;
            }
            let mut msa = if name.ends_with(".a3m") {
                read_a3m(&path)?
            } else {
                read_stockholm(&path)?
            };
            if let Some(max_hits) = max_hits {
                msa.truncate(max_hits);
            }
            if !msa.is_empty() {
                msas.push(msa);
            }
        }
        Ok(msas)
    }
}

impl Dataset for OpenFoldDataset {
    fn clusters(&self) -> &[Vec<String>] {
        &self.clusters
    }

    fn load(&self, id: &str) -> Result<TrainingExample> {
        self.load_checked(id)
            .with_context(|| format!("loading {id}"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::array::FeatureDict;
    use crate::data::datasets::prefetch::Prefetcher;
    use crate::data::datasets::sampler::TrainingSampler;
    use crate::testing::shared_data;
    use std::sync::Arc;

    /// A copy of `openfold_mini`'s 1psm (alignments and mmCIF) under `root`, as `<id>`.
    pub(crate) fn copy_1psm(source: &Path, root: &Path, id: &str) {
        let alignments = root.join("alignments").join(id);
        std::fs::create_dir_all(&alignments).unwrap();
        std::fs::create_dir_all(root.join("mmcif")).unwrap();
        for name in [
            "bfd_uniclust_hits.a3m",
            "uniref90_hits.sto",
            "mgnify_hits.sto",
        ] {
            std::fs::copy(
                source.join("alignments/1psm_A").join(name),
                alignments.join(name),
            )
            .unwrap();
        }
        let pdb = id.rsplit_once('_').unwrap().0;
        std::fs::copy(
            source.join("mmcif/1psm.cif"),
            root.join("mmcif").join(format!("{pdb}.cif")),
        )
        .unwrap();
    }

    #[test]
    fn loads_1psm_with_all_three_alignments() {
        let Some(root) = shared_data("openfold_mini") else {
            return;
        };
        let set = OpenFoldDataset::open(&root, None).unwrap();
        assert!(set.clusters().iter().any(|c| c == &["1psm_A".to_string()]));
        let example = set.load("1psm_A").unwrap();
        // The query of openfold_mini/alignments/1psm_A/bfd_uniclust_hits.a3m.
        assert_eq!(example.num_res(), 38);
        assert!(example.raw["msa"].shape[0] > 1);
        assert!(example.labels().is_ok());
    }

    /// A set of two copies of `openfold_mini`'s 1psm, `good_A` and `id`, where `break_copy`
    /// then damages `id`'s files (given the set's root and `openfold_mini`). `id` must fail to
    /// load with an error containing `reason`; the sampler and the prefetcher that feeds
    /// training report it as skipped, with that reason, and keep serving `good_A`.
    fn assert_reported_and_skipped(id: &str, break_copy: impl Fn(&Path, &Path), reason: &str) {
        let Some(source) = shared_data("openfold_mini") else {
            return;
        };
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        copy_1psm(&source, root, "good_A");
        copy_1psm(&source, root, id);
        break_copy(root, &source);
        let set = Arc::new(OpenFoldDataset::open(root, None).unwrap());
        let error = format!(
            "{:#}",
            set.load(id).expect_err("the broken copy must not load")
        );
        assert!(error.contains(reason), "{error}");

        let mut sampler = TrainingSampler::new(set.clone(), 5).unwrap();
        let mut warnings = Vec::new();
        for _ in 0..6 {
            assert_eq!(sampler.next_example(&mut warnings).unwrap().id, "good_A");
        }
        assert!(!warnings.is_empty());
        assert!(
            warnings
                .iter()
                .all(|w| w.id == id && w.reason.contains(reason)),
            "{warnings:?}"
        );

        let sampler = TrainingSampler::new(set, 5).unwrap();
        let mut prefetcher = Prefetcher::spawn(sampler, 1, |_, _| Ok(FeatureDict::new()));
        let mut warnings = Vec::new();
        for _ in 0..6 {
            assert_eq!(prefetcher.next_example(&mut warnings).unwrap().id, "good_A");
        }
        assert!(
            warnings
                .iter()
                .any(|w| w.id == id && w.reason.contains(reason)),
            "{warnings:?}"
        );
    }

    #[test]
    fn structure_missing_its_label_atoms_is_reported_and_skipped() {
        // Every CA coordinate row of the mmCIF removed (`label_atom_id` is the fourth
        // `_atom_site` column of 1psm.cif): no residue keeps a resolved backbone.
        assert_reported_and_skipped(
            "noatoms_A",
            |root, _| {
                let path = root.join("mmcif/noatoms.cif");
                let cif = std::fs::read_to_string(&path).unwrap();
                let stripped: String = cif
                    .lines()
                    .filter(|line| {
                        !(line.starts_with("ATOM") && line.split_whitespace().nth(3) == Some("CA"))
                    })
                    .map(|line| format!("{line}\n"))
                    .collect();
                std::fs::write(path, stripped).unwrap();
            },
            "N, CA and C",
        );
    }

    #[test]
    fn empty_msa_is_reported_and_skipped() {
        // No alignment file left at all, and an empty A3M as the only alignment.
        let remove_alignments = |dir: &Path, names: &[&str]| {
            for name in names {
                std::fs::remove_file(dir.join(name)).unwrap();
            }
        };
        assert_reported_and_skipped(
            "noalignments_A",
            |root, _| {
                remove_alignments(
                    &root.join("alignments/noalignments_A"),
                    &[
                        "bfd_uniclust_hits.a3m",
                        "uniref90_hits.sto",
                        "mgnify_hits.sto",
                    ],
                )
            },
            "the MSA is empty",
        );
        assert_reported_and_skipped(
            "emptya3m_A",
            |root, _| {
                let dir = root.join("alignments/emptya3m_A");
                remove_alignments(&dir, &["uniref90_hits.sto", "mgnify_hits.sto"]);
                std::fs::write(dir.join("bfd_uniclust_hits.a3m"), "").unwrap();
            },
            "empty input",
        );
    }

    #[test]
    fn structure_of_another_sequence_is_reported_and_skipped() {
        // 2crb's mmCIF (also in openfold_mini) under 1psm's alignments.
        assert_reported_and_skipped(
            "mismatch_A",
            |root, source| {
                std::fs::copy(
                    source.join("mmcif/2crb.cif"),
                    root.join("mmcif/mismatch.cif"),
                )
                .unwrap();
            },
            "not the structure's sequence",
        );
    }
}
