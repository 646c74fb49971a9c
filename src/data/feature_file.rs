//! Opening a feature file whatever its format, told apart by its first bytes rather than its
//! name: a zip archive (`.npz`, `PK\x03\x04`), a gzip stream (`.pkl.gz`, `1f 8b`) or a pickle
//! (`.pkl`, protocol 2+ starts with `\x80`).
use super::array::FeatureDict;
use super::npz::read_npz;
use super::pickle::read_feature_pickle;
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::Path;

/// Reads `features.pkl`, `features.pkl.gz` or an `.npz` of features.
pub fn read_feature_file(path: &Path) -> Result<FeatureDict> {
    let name = path.display().to_string();
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot open {name}"))?;
    let read = file
        .read(&mut magic)
        .with_context(|| format!("cannot read {name}"))?;
    match &magic[..read] {
        [b'P', b'K', 3, 4] => read_npz(path),
        [0x1f, 0x8b, ..] | [0x80, ..] => read_feature_pickle(path),
        [] => bail!("{name}: empty file, not a feature file"),
        _ => bail!("{name}: not a feature file (expected a pickle, a gzipped pickle or an .npz)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::shared_data;

    #[test]
    fn every_format_is_recognised() {
        for (file, key) in [
            ("casp14_demo/T1026/features.pkl", "template_sequence"),
            (
                "helixfold_train_demo/features/150l_D/features.pkl.gz",
                "deletion_matrix_int",
            ),
            ("colabfold/single_5AWL_1.feat.npz", "msa_feat"),
        ] {
            let Some(path) = shared_data(file) else {
                return;
            };
            let features = read_feature_file(&path).unwrap();
            assert!(features.contains_key(key), "{file} lacks {key}");
        }
    }

    #[test]
    fn other_files_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello").unwrap();
        let err = read_feature_file(&text).unwrap_err();
        assert!(
            err.to_string().contains("notes.txt: not a feature file"),
            "{err}"
        );
        let empty = dir.path().join("empty.pkl");
        std::fs::write(&empty, "").unwrap();
        let err = read_feature_file(&empty).unwrap_err();
        assert!(err.to_string().contains("empty.pkl: empty file"), "{err}");
        let missing = dir.path().join("missing.pkl");
        let err = read_feature_file(&missing).unwrap_err();
        assert!(err.to_string().contains("cannot open"), "{err}");
    }
}
