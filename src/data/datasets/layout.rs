//! Opening a training set by its folder: which of the on-disk layouts it has (OpenFold's
//! `alignments/` + `mmcif/`, HelixFold's PDB set `features/` + `mmcif/`, HelixFold's
//! self-distillation set `distill_features/` + `distill_pdb/`), and its cluster list when the
//! layout needs one and none is named.
use super::{Dataset, HelixFoldDataset, OpenFoldDataset};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The on-disk layout of a training set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    OpenFold,
    HelixFoldPdb,
    HelixFoldDistillation,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::OpenFold => "openfold",
            Layout::HelixFoldPdb => "helixfold",
            Layout::HelixFoldDistillation => "helixfold distillation",
        }
    }

    /// The layout of the set under `root`, from the folders it has.
    pub fn detect(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            bail!("{}: not a folder", root.display());
        }
        let has = |name: &str| root.join(name).is_dir();
        Ok(if has("alignments") && has("mmcif") {
            Layout::OpenFold
        } else if has("features") && has("mmcif") {
            Layout::HelixFoldPdb
        } else if has("distill_features") && has("distill_pdb") {
            Layout::HelixFoldDistillation
        } else {
            bail!(
                "{}: not a training set: expected alignments/ and mmcif/ (OpenFold), features/ and mmcif/ \
                 (HelixFold) or distill_features/ and distill_pdb/ (HelixFold self-distillation)",
                root.display()
            )
        })
    }
}

/// The one `*.list` file in `dir`, or an error asking for `clusters=`.
fn only_cluster_list(dir: &Path) -> Result<PathBuf> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    let mut lists = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("listing {}", dir.display()))?.path();
        if path.extension().is_some_and(|e| e == "list") {
            lists.push(path);
        }
    }
    match lists.as_slice() {
        [only] => Ok(only.clone()),
        [] => bail!("{}: no cluster list (*.list); name one with clusters=FILE", dir.display()),
        _ => bail!("{}: {} cluster lists; choose one with clusters=FILE", dir.display(), lists.len()),
    }
}

/// A training set read from `root`, with its layout. `clusters` names the cluster list; without
/// it OpenFold sets make each chain its own cluster and HelixFold sets use their only `*.list`
/// (`protein_clust/` for the PDB set, the folder itself for the distillation set).
pub fn open_dataset(root: &Path, clusters: Option<&Path>) -> Result<(Layout, Arc<dyn Dataset>)> {
    let layout = Layout::detect(root)?;
    let dataset: Arc<dyn Dataset> = match layout {
        Layout::OpenFold => Arc::new(OpenFoldDataset::open(root, clusters)?),
        Layout::HelixFoldPdb => {
            let list = match clusters {
                Some(path) => path.to_path_buf(),
                None => only_cluster_list(&root.join("protein_clust"))?,
            };
            Arc::new(HelixFoldDataset::pdb_set(root, &list)?)
        }
        Layout::HelixFoldDistillation => {
            let list = match clusters {
                Some(path) => path.to_path_buf(),
                None => only_cluster_list(root)?,
            };
            Arc::new(HelixFoldDataset::distillation_set(root, &list)?)
        }
    };
    Ok((layout, dataset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::shared_data;

    #[test]
    fn the_shared_sets_open_with_their_layouts() {
        let Some(openfold) = shared_data("openfold_mini") else { return };
        let (layout, set) = open_dataset(&openfold, None).unwrap();
        // openfold_mini/alignments holds chain A of 8 entries (../shared/data/README.md).
        assert_eq!((layout, set.clusters().len()), (Layout::OpenFold, 8));
        let Some(helixfold) = shared_data("helixfold_train_demo") else { return };
        let (layout, set) = open_dataset(&helixfold, None).unwrap();
        assert_eq!(layout, Layout::HelixFoldPdb);
        assert!(!set.clusters().is_empty());
        let (layout, _) = open_dataset(&helixfold.join("distill"), None).unwrap();
        assert_eq!(layout, Layout::HelixFoldDistillation);
    }

    #[test]
    fn other_folders_are_refused_with_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_dataset(dir.path(), None).err().unwrap().to_string();
        assert!(err.contains("not a training set: expected alignments/ and mmcif/"), "{err}");
        std::fs::create_dir_all(dir.path().join("features")).unwrap();
        std::fs::create_dir_all(dir.path().join("mmcif")).unwrap();
        std::fs::create_dir_all(dir.path().join("protein_clust")).unwrap();
        let err = open_dataset(dir.path(), None).err().unwrap().to_string();
        assert!(err.contains("no cluster list (*.list); name one with clusters=FILE"), "{err}");
        let file = dir.path().join("file.txt");
        std::fs::write(&file, "x").unwrap();
        assert!(open_dataset(&file, None).err().unwrap().to_string().contains("not a folder"));
    }
}
