//! Predicted aligned error (PAE, Jumper et al. (2021) Suppl. 1.9.7) as the AlphaFold Protein
//! Structure Database's JSON: `[{"predicted_aligned_error": [[...]], "max_predicted_aligned_error":
//! x}]`, rows indexed by the aligned residue, written as DeepMind's
//! `alphafold/common/confidence.py::pae_json` does (values rounded to 2 decimals, no spaces).
//!
//! The reader also takes the database's first (2021) layout, `[{"residue1": [...], "residue2":
//! [...], "distance": [...], "max_predicted_aligned_error": x}]` with 1-based residue numbers, so
//! older downloads load too.
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A PAE matrix `[N_res, N_res]` in Å, row-major, with the largest value the model can predict.
#[derive(Debug, Clone, PartialEq)]
pub struct PaeMatrix {
    pub num_res: usize,
    /// `[N_res * N_res]`, entry `i * N_res + j` = expected error at residue `j` when aligned on `i`.
    pub values: Vec<f32>,
    pub max_predicted_aligned_error: f32,
}

impl PaeMatrix {
    /// Checks that `values` is `num_res × num_res` and finite.
    pub fn new(num_res: usize, values: Vec<f32>, max_predicted_aligned_error: f32) -> Result<Self> {
        if values.len() != num_res * num_res {
            bail!(
                "PAE of {num_res} residues needs {} values, got {}",
                num_res * num_res,
                values.len()
            );
        }
        if let Some(bad) = values
            .iter()
            .chain([&max_predicted_aligned_error])
            .find(|v| !v.is_finite())
        {
            bail!("PAE value {bad} is not finite");
        }
        Ok(Self {
            num_res,
            values,
            max_predicted_aligned_error,
        })
    }

    /// Entry `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> Option<f32> {
        (i < self.num_res && j < self.num_res).then(|| self.values[i * self.num_res + j])
    }
}

#[derive(Serialize, Deserialize)]
struct CurrentEntry {
    predicted_aligned_error: Vec<Vec<f64>>,
    max_predicted_aligned_error: f64,
}

#[derive(Deserialize)]
struct FirstReleaseEntry {
    residue1: Vec<usize>,
    residue2: Vec<usize>,
    distance: Vec<f64>,
    max_predicted_aligned_error: f64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Current(CurrentEntry),
    FirstRelease(FirstReleaseEntry),
}

fn round_2(value: f32) -> f64 {
    (f64::from(value) * 100.0).round() / 100.0
}

/// The AlphaFold DB JSON text of a PAE matrix.
pub fn pae_to_json(pae: &PaeMatrix) -> Result<String> {
    let rows = if pae.num_res == 0 {
        Vec::new()
    } else {
        pae.values.chunks(pae.num_res).collect()
    };
    let entry = CurrentEntry {
        predicted_aligned_error: rows
            .iter()
            .map(|row| row.iter().map(|&v| round_2(v)).collect())
            .collect(),
        max_predicted_aligned_error: f64::from(pae.max_predicted_aligned_error),
    };
    Ok(serde_json::to_string(&[entry])?)
}

/// Writes `pae` to `path` as AlphaFold DB JSON.
pub fn write_pae_json(path: &Path, pae: &PaeMatrix) -> Result<()> {
    std::fs::write(path, pae_to_json(pae)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Parses AlphaFold DB PAE JSON (either layout).
pub fn parse_pae_json(text: &str) -> Result<PaeMatrix> {
    let entries: Vec<Entry> = serde_json::from_str(text).context(
        "not AlphaFold DB PAE JSON (a list holding one object with \"predicted_aligned_error\" and \
         \"max_predicted_aligned_error\")",
    )?;
    let [entry] = <[Entry; 1]>::try_from(entries).map_err(|entries| {
        anyhow::anyhow!(
            "expected one PAE object in the list, found {}",
            entries.len()
        )
    })?;
    match entry {
        Entry::Current(current) => {
            let num_res = current.predicted_aligned_error.len();
            if let Some((i, row)) = current
                .predicted_aligned_error
                .iter()
                .enumerate()
                .find(|(_, r)| r.len() != num_res)
            {
                bail!(
                    "PAE row {i} has {} values; a {num_res}-residue matrix needs {num_res}",
                    row.len()
                );
            }
            let values = current
                .predicted_aligned_error
                .into_iter()
                .flatten()
                .map(|v| v as f32)
                .collect();
            PaeMatrix::new(num_res, values, current.max_predicted_aligned_error as f32)
        }
        Entry::FirstRelease(first) => {
            let count = first.distance.len();
            if first.residue1.len() != count || first.residue2.len() != count {
                bail!(
                    "residue1, residue2 and distance differ in length ({}, {}, {count})",
                    first.residue1.len(),
                    first.residue2.len()
                );
            }
            let num_res = (count as f64).sqrt().round() as usize;
            if num_res * num_res != count {
                bail!("{count} PAE values do not form a square matrix");
            }
            let mut values = vec![f32::NAN; count];
            for ((&i, &j), &d) in first
                .residue1
                .iter()
                .zip(&first.residue2)
                .zip(&first.distance)
            {
                if !(1..=num_res).contains(&i) || !(1..=num_res).contains(&j) {
                    bail!("residue pair ({i}, {j}) outside 1..={num_res}");
                }
                values[(i - 1) * num_res + (j - 1)] = d as f32;
            }
            PaeMatrix::new(num_res, values, first.max_predicted_aligned_error as f32)
                .context("the residue pairs do not cover the whole matrix")
        }
    }
}

/// Reads an AlphaFold DB PAE JSON file.
pub fn read_pae_json(path: &Path) -> Result<PaeMatrix> {
    let text = super::text_file::read_text_file(path)?;
    parse_pae_json(&text).with_context(|| format!("reading PAE JSON file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_alphafold_db_layout_and_reads_it_back() {
        let pae = PaeMatrix::new(2, vec![0.25, 1.234, 30.0, 0.5], 31.75).unwrap();
        let json = pae_to_json(&pae).unwrap();
        // Layout of `confidence.pae_json` in DeepMind's alphafold/common/confidence.py.
        assert_eq!(
            json,
            r#"[{"predicted_aligned_error":[[0.25,1.23],[30.0,0.5]],"max_predicted_aligned_error":31.75}]"#
        );
        let back = parse_pae_json(&json).unwrap();
        assert_eq!(back.num_res, 2);
        assert_eq!(back.get(0, 1), Some(1.23));
        assert_eq!(back.get(1, 0), Some(30.0));
        assert_eq!(back.max_predicted_aligned_error, 31.75);
        assert_eq!(back.get(2, 0), None);
    }

    #[test]
    fn reads_the_first_release_layout() {
        let json = r#"[{"residue1":[1,1,2,2],"residue2":[1,2,1,2],"distance":[0.0,3.5,4.5,0.0],"max_predicted_aligned_error":31.75}]"#;
        let pae = parse_pae_json(json).unwrap();
        assert_eq!(pae.values, vec![0.0, 3.5, 4.5, 0.0]);
    }

    #[test]
    fn malformed_json_is_an_error() {
        for bad in [
            "",
            "[]",
            r#"[{"predicted_aligned_error":[[1.0,2.0],[3.0]],"max_predicted_aligned_error":31.75}]"#,
            r#"[{"predicted_aligned_error":[[1.0]]}]"#,
            r#"[{"residue1":[1,1],"residue2":[1,1],"distance":[0.0,1.0],"max_predicted_aligned_error":1}]"#,
            "[{\"predicted_aligned_error\":[[1.0,",
        ] {
            assert!(parse_pae_json(bad).is_err(), "{bad:?}");
        }
        let err = format!(
            "{:#}",
            parse_pae_json("[{\"predicted_aligned_error\":\n[[1.0,").unwrap_err()
        );
        assert!(err.contains("line 2"), "{err}");
    }
}
