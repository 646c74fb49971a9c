//! Distogram plots: the expected Cβ–Cβ distance map and the contact map P(d < 8 Å).
//!
//! AlphaFold's distogram head (Jumper et al. (2021) Suppl. 1.9.8) gives logits `[N_res, N_res,
//! n_bins]` over `n_bins = len(bin_edges) + 1` bins: bin 0 is `d < edges[0]`, bin k is
//! `edges[k-1] ≤ d < edges[k]`, the last is `d ≥ edges[-1]` (`alphafold/model/modules.py`,
//! `DistogramHead`: 63 edges from 2.3125 to 21.6875 Å). Bin centres for the expectation are the
//! edge midpoints, with the two open bins centred half a bin width beyond the outer edges.
//! Native contacts use Cβ (Cα for glycine) closer than 8 Å, the CASP contact definition.
use anyhow::{ensure, Result};

use super::colour::{BLUES, VIRIDIS};
use super::figure::{render, Figure};
use super::heatmap::{flatten_square, ColourBar, Heatmap};
use crate::data::protein::Protein;
use crate::residue_constants::{ATOM_TYPES, RESTYPE_3};

/// Distance below which two residues are in contact (Å).
pub const CONTACT_CUTOFF: f32 = 8.0;

/// `reduce` applied to each residue pair's softmax probabilities (`[n_bins]`) of row-major
/// `logits` `[N_res, N_res, n_bins]`, as an `[N_res][N_res]` matrix, after checking the shapes
/// against the bin edges. One scratch buffer serves every pair (10⁶ pairs at 1,000 residues).
fn reduce_pairs(
    logits: &[f32],
    bin_edges: &[f32],
    reduce: impl Fn(&[f32]) -> f32,
) -> Result<Vec<Vec<f32>>> {
    ensure!(
        bin_edges.len() >= 2,
        "distogram: {} bin edges, need at least 2",
        bin_edges.len()
    );
    ensure!(
        bin_edges.windows(2).all(|w| w[0] < w[1]),
        "distogram: bin edges are not strictly increasing"
    );
    let n_bins = bin_edges.len() + 1;
    ensure!(
        !logits.is_empty() && logits.len() % n_bins == 0,
        "distogram: {} logits is not a multiple of {n_bins} bins ({} edges + 1)",
        logits.len(),
        bin_edges.len()
    );
    let pairs = logits.len() / n_bins;
    let n_res = (pairs as f64).sqrt().round() as usize;
    ensure!(
        n_res * n_res == pairs,
        "distogram: {pairs} residue pairs is not a square N_res × N_res"
    );
    let mut probs = vec![0.0f32; n_bins];
    let values: Vec<f32> = logits
        .chunks_exact(n_bins)
        .map(|pair| {
            let max = pair.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut total = 0.0;
            for (p, &l) in probs.iter_mut().zip(pair) {
                *p = (l - max).exp();
                total += *p;
            }
            probs.iter_mut().for_each(|p| *p /= total);
            reduce(&probs)
        })
        .collect();
    Ok(values.chunks(n_res).map(<[f32]>::to_vec).collect())
}

/// Expected distance (Å) per residue pair, `[N_res][N_res]`, from distogram `logits`
/// (`[N_res, N_res, n_bins]`, row-major) and `bin_edges` (`[n_bins - 1]`).
pub fn expected_distances(logits: &[f32], bin_edges: &[f32]) -> Result<Vec<Vec<f32>>> {
    let (first, last) = match bin_edges {
        [first, second, .., last] => (
            *first - (second - first) / 2.0,
            *last + (second - first) / 2.0,
        ),
        _ => anyhow::bail!("distogram: {} bin edges, need at least 2", bin_edges.len()),
    };
    let centres: Vec<f32> = std::iter::once(first)
        .chain(bin_edges.windows(2).map(|w| (w[0] + w[1]) / 2.0))
        .chain(std::iter::once(last))
        .collect();
    reduce_pairs(logits, bin_edges, |probs| {
        probs.iter().zip(&centres).map(|(p, c)| p * c).sum()
    })
}

/// P(d < 8 Å) per residue pair, `[N_res][N_res]`: the summed probability of the bins whose upper
/// edge is at most [`CONTACT_CUTOFF`] (7.9375 Å with AlphaFold's edges).
pub fn contact_probabilities(logits: &[f32], bin_edges: &[f32]) -> Result<Vec<Vec<f32>>> {
    let contact_bins = bin_edges
        .iter()
        .filter(|&&edge| edge <= CONTACT_CUTOFF)
        .count();
    ensure!(
        contact_bins > 0,
        "distogram: no bin ends below {CONTACT_CUTOFF} Å"
    );
    reduce_pairs(logits, bin_edges, |probs| {
        probs[..contact_bins].iter().sum()
    })
}

/// Native contacts `[N_res][N_res]` of a structure: Cβ (Cα for glycine) closer than 8 Å.
/// Residues missing that atom have no contacts.
pub fn native_contacts(protein: &Protein) -> Result<Vec<Vec<bool>>> {
    let atom_index = |name: &str| ATOM_TYPES.iter().position(|&atom| atom == name);
    let (Some(ca), Some(cb)) = (atom_index("CA"), atom_index("CB")) else {
        anyhow::bail!("native contacts: atom37 has no CA or CB");
    };
    let glycine = RESTYPE_3.iter().position(|&name| name == "GLY");
    protein.check_consistent()?;
    let centres: Vec<Option<[f32; 3]>> = (0..protein.len())
        .map(|i| {
            let atom = if Some(protein.aatype[i]) == glycine {
                ca
            } else {
                cb
            };
            (protein.atom_mask[i][atom] > 0.5).then_some(protein.atom_positions[i][atom])
        })
        .collect();
    Ok(centres
        .iter()
        .map(|a| {
            centres
                .iter()
                .map(|b| match (a, b) {
                    (Some(a), Some(b)) => {
                        let d2: f32 = (0..3).map(|k| (a[k] - b[k]).powi(2)).sum();
                        d2 < CONTACT_CUTOFF * CONTACT_CUTOFF
                    }
                    _ => false,
                })
                .collect()
        })
        .collect())
}

/// The expected-distance map (`[N_res][N_res]` Å, e.g. from [`expected_distances`]).
pub fn distance_map(distances: &[Vec<f32>]) -> Result<Figure> {
    let values = flatten_square("distance map", distances)?;
    let max = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f32, f32::max);
    let n = distances.len();
    render(&Heatmap::from_values(
        "Expected distance (distogram)".to_string(),
        ("Residue", "Residue"),
        (n, n),
        &values,
        ColourBar {
            colormap: VIRIDIS,
            range: (0.0, max.max(1.0).ceil() as f64),
            label: "Distance (Å)".to_string(),
        },
    )?)
}

/// The contact map (`[N_res][N_res]` probabilities, e.g. from [`contact_probabilities`]); with
/// `native`, the lower triangle shows the native contacts (black) instead of predictions.
pub fn contact_map(probabilities: &[Vec<f32>], native: Option<&[Vec<bool>]>) -> Result<Figure> {
    let values = flatten_square("contact map", probabilities)?;
    let n = probabilities.len();
    let colour_bar = ColourBar {
        colormap: BLUES,
        range: (0.0, 1.0),
        label: "P(d < 8 Å)".to_string(),
    };
    let title = match native {
        Some(_) => "Contacts: predicted (upper) vs native (lower)",
        None => "Predicted contacts",
    };
    let mut heatmap = Heatmap::from_values(
        title.to_string(),
        ("Residue", "Residue"),
        (n, n),
        &values,
        colour_bar,
    )?;
    if let Some(native) = native {
        ensure!(
            native.len() == n && native.iter().all(|row| row.len() == n),
            "contact map: native contacts are not {n} × {n} like the predictions"
        );
        for (i, row) in native.iter().enumerate() {
            for (j, &contact) in row.iter().enumerate().take(i) {
                heatmap.cells[i * n + j] = if contact {
                    plotters::style::BLACK
                } else {
                    plotters::style::WHITE
                };
            }
        }
    }
    render(&heatmap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::figure::tests::{check_png, check_snapshot};

    /// AlphaFold's distogram edges: `linspace(2.3125, 21.6875, 63)`.
    fn alphafold_edges() -> Vec<f32> {
        (0..63).map(|i| 2.3125 + i as f32 * 0.3125).collect()
    }

    /// Logits `[n, n, 64]` putting nearly all mass in the bin holding |i − j| × 3.8 Å.
    fn chain_logits(n: usize) -> Vec<f32> {
        let edges = alphafold_edges();
        let mut logits = Vec::new();
        for i in 0..n {
            for j in 0..n {
                let d = (i as f32 - j as f32).abs() * 3.8;
                let bin = edges.iter().filter(|&&e| e <= d).count();
                logits.extend((0..64).map(|k| if k == bin { 20.0 } else { 0.0 }));
            }
        }
        logits
    }

    #[test]
    fn expectation_and_contacts_follow_the_peaked_bins() {
        let edges = alphafold_edges();
        let distances = expected_distances(&chain_logits(3), &edges).unwrap();
        // |0 − 1| × 3.8 = 3.8 Å lies in [3.5625, 3.875), centre 3.71875 Å; the peak holds
        // e^20 / (e^20 + 63) of the mass, so the expectation is within 0.01 Å of the centre.
        assert!(
            (distances[0][1] - 3.71875).abs() < 0.01,
            "{}",
            distances[0][1]
        );
        // 7.6 Å (one residue apart by two) is a contact, 11.4 Å is not.
        let contacts = contact_probabilities(&chain_logits(4), &edges).unwrap();
        assert!(
            contacts[0][2] > 0.99 && contacts[0][3] < 0.01,
            "{contacts:?}"
        );
    }

    #[test]
    fn shape_errors_are_reported() {
        let edges = alphafold_edges();
        assert!(expected_distances(&[0.0; 63], &edges).is_err());
        assert!(expected_distances(&[0.0; 64 * 3], &edges)
            .unwrap_err()
            .to_string()
            .contains("square"));
        assert!(contact_probabilities(&[0.0; 4], &[3.0, 2.0, 1.0]).is_err());
        assert!(contact_map(&[vec![0.5]], Some(&[vec![true, false]])).is_err());
    }

    #[test]
    fn distance_and_contact_snapshots() {
        let edges = alphafold_edges();
        let logits = chain_logits(16);
        check_snapshot(
            "distance_map",
            &distance_map(&expected_distances(&logits, &edges).unwrap()).unwrap(),
        );
        let native: Vec<Vec<bool>> = (0..16)
            .map(|i: i32| (0..16).map(|j: i32| (i - j).abs() <= 3).collect())
            .collect();
        let probs = contact_probabilities(&logits, &edges).unwrap();
        check_snapshot("contact_map", &contact_map(&probs, Some(&native)).unwrap());
    }

    #[test]
    fn native_contacts_of_glucagon_match_gemmi() {
        let Some(path) = crate::testing::shared_data("alphafold_testdata/glucagon.pdb") else {
            return;
        };
        let protein = crate::data::pdb::read_pdb(&path).unwrap();
        let contacts = native_contacts(&protein).unwrap();
        // 221 ordered pairs (diagonal included) within 8 Å: gemmi 0.7 on the same file, taking
        // CB (CA for GLY) of each residue of model 1, chain A and counting |p − q| < 8 Å.
        let count = contacts.iter().flatten().filter(|&&c| c).count();
        assert_eq!((contacts.len(), count), (29, 221));
        let probabilities: Vec<Vec<f32>> = contacts
            .iter()
            .map(|row| row.iter().map(|&c| c as u8 as f32 * 0.8).collect())
            .collect();
        check_png(&contact_map(&probabilities, Some(&contacts)).unwrap());
    }

    #[test]
    fn plots_a_colabfold_distogram() {
        let Some(path) = crate::testing::shared_data("colabfold/batch_6A5J.pred.npz") else {
            return;
        };
        let arrays = crate::plot::fixtures::read_npz_f32(
            &path,
            &["distogram/logits", "distogram/bin_edges"],
        );
        let (logits, edges) = (&arrays[0].0, &arrays[1].0);
        let distances = expected_distances(logits, edges).unwrap();
        assert_eq!(distances.len(), arrays[0].1[0]);
        // Neighbouring Cβ atoms are 4–7 Å apart in any protein; a distogram that says otherwise
        // was read wrongly.
        assert!((4.0..7.0).contains(&distances[0][1]), "{}", distances[0][1]);
        check_png(&distance_map(&distances).unwrap());
        check_png(&contact_map(&contact_probabilities(logits, edges).unwrap(), None).unwrap());
    }
}
