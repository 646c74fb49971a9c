//! Every metric of a model against its native at once, the numbers `helixfold score` reports:
//! TM-score, GDT-TS, GDT-HA and RMSD as the TM-score program computes them (one shared
//! superposition search), and lDDT-Cα as AlphaFold's `lddt.py` does, all on the Cα atoms of the
//! residues the two structures have in common ([`super::correspondence`]).
use super::correspondence::ca_pairs;
use super::gdt::GdtCounter;
use super::lddt::{lddt, LDDT_CUTOFF};
use super::tm_score::tm_score_search;
use crate::data::protein::Protein;
use anyhow::{bail, Result};
use serde::Serialize;

/// Scores of a model against a native. TM-score and GDT are normalised by the native's length;
/// lDDT-Cα is computed over the common residues.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StructureScores {
    /// TM-score in (0, 1].
    pub tm_score: f64,
    /// GDT-TS, mean of [`StructureScores::gdt_fractions`] at 1, 2, 4, 8 Å.
    pub gdt_ts: f64,
    /// GDT-HA, mean of [`StructureScores::gdt_fractions`] at 0.5, 1, 2, 4 Å.
    pub gdt_ha: f64,
    /// RMSD (Å) of the common Cα atoms after superposing on all of them.
    pub rmsd: f64,
    /// Global lDDT-Cα in [0, 1].
    pub lddt_ca: f64,
    /// Residues in both structures (with a Cα in both).
    pub common_residues: usize,
    /// TM-score's distance scale (Å) for the native's length.
    pub d0: f64,
    /// Residues of the model with a Cα.
    pub model_length: usize,
    /// Residues of the native with a Cα.
    pub native_length: usize,
    /// Fractions of the native within 0.5, 1, 2, 4, 8 Å (`gdt::GDT_CUTOFFS`).
    pub gdt_fractions: [f64; 5],
}

/// Scores `model` against `native`. Fails when the structures share no residue.
pub fn score_structures(model: &Protein, native: &Protein) -> Result<StructureScores> {
    let pairs = ca_pairs(model, native)?;
    if pairs.model.is_empty() {
        bail!(
            "the model ({} residues) and the native ({} residues) have no residues in common \
             (residues correspond by chain, residue number and insertion code)",
            pairs.model_length,
            pairs.native_length
        );
    }
    let mut gdt = GdtCounter::default();
    let tm = tm_score_search(&pairs.model, &pairs.native, pairs.native_length, |distances| {
        gdt.observe(distances)
    });
    let gdt = gdt.finish(pairs.native_length);
    let present = vec![true; pairs.native.len()];
    let lddt_ca = lddt(&pairs.model, &pairs.native, &present, LDDT_CUTOFF).global;
    Ok(StructureScores {
        tm_score: tm.score,
        gdt_ts: gdt.ts,
        gdt_ha: gdt.ha,
        rmsd: tm.rmsd_common,
        lddt_ca,
        common_residues: tm.common_residues,
        d0: tm.d0,
        model_length: pairs.model_length,
        native_length: pairs.native_length,
        gdt_fractions: gdt.fractions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::correspondence::CA_ATOM_INDEX;
    use crate::metrics::tm_score::d0_for_length;
    use crate::residue_constants::ATOM_TYPE_NUM;

    /// One chain of `n` residues numbered from 1, Cα on a helix-like trace, moved by `shift`
    /// from residue `shift_from` on.
    fn chain(n: usize, shift_from: usize, shift: [f32; 3]) -> Protein {
        let mut p = Protein { chain_ids: vec!["A".into()], ..Default::default() };
        for i in 0..n {
            let t = i as f32 * 100f32.to_radians();
            let mut ca = [2.3 * t.cos(), 2.3 * t.sin(), 1.5 * i as f32];
            if i >= shift_from {
                ca = [ca[0] + shift[0], ca[1] + shift[1], ca[2] + shift[2]];
            }
            let mut positions = [[0.0f32; 3]; ATOM_TYPE_NUM];
            let mut mask = [0.0f32; ATOM_TYPE_NUM];
            positions[CA_ATOM_INDEX] = ca;
            mask[CA_ATOM_INDEX] = 1.0;
            p.aatype.push(0);
            p.atom_positions.push(positions);
            p.atom_mask.push(mask);
            p.residue_index.push(i as i32 + 1);
            p.insertion_code.push(' ');
            p.chain_index.push(0);
            p.b_factors.push([0.0; ATOM_TYPE_NUM]);
        }
        p
    }

    #[test]
    fn identical_structures_score_perfectly() {
        let native = chain(30, 30, [0.0; 3]);
        let scores = score_structures(&native, &native).unwrap();
        assert!((scores.tm_score - 1.0).abs() < 1e-12);
        assert!((scores.gdt_ts - 1.0).abs() < 1e-12 && (scores.gdt_ha - 1.0).abs() < 1e-12);
        assert!((scores.lddt_ca - 1.0).abs() < 1e-12);
        assert!(scores.rmsd < 1e-6);
        assert_eq!((scores.common_residues, scores.native_length), (30, 30));
    }

    #[test]
    fn a_far_tail_and_a_truncated_model_score_by_hand() {
        // Native: 40 residues. Model: the first 36 only, residues 31..36 moved 100 Å away.
        // Common residues 36; best superposition fits residues 1..30 exactly, so
        // TM = (30 + 6 / (1 + (100/d0)²)) / 40 and every GDT fraction is 30/40.
        let native = chain(40, 40, [0.0; 3]);
        let model = chain(36, 30, [0.0, 0.0, 100.0]);
        let scores = score_structures(&model, &native).unwrap();
        let d0 = d0_for_length(40);
        let expected_tm = (30.0 + 6.0 / (1.0 + (100.0f64 / d0).powi(2))) / 40.0;
        assert!(
            (scores.tm_score - expected_tm).abs() < 1e-6,
            "{} vs {expected_tm}",
            scores.tm_score
        );
        assert!((scores.gdt_ts - 0.75).abs() < 1e-12 && (scores.gdt_ha - 0.75).abs() < 1e-12);
        assert_eq!(
            (scores.common_residues, scores.model_length, scores.native_length),
            (36, 36, 40)
        );
    }

    #[test]
    fn no_common_residue_is_an_error() {
        let native = chain(10, 10, [0.0; 3]);
        let mut model = native.clone();
        model.residue_index.iter_mut().for_each(|n| *n += 100);
        let message = format!("{:#}", score_structures(&model, &native).unwrap_err());
        assert!(message.contains("no residues in common"), "{message}");
    }
}
