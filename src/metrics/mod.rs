//! Structure comparison metrics: superposition and RMSD, TM-score, GDT and lDDT, as the
//! reference programs compute them (the TM-score program, AlphaFold's `lddt.py`), and their
//! application to two [`crate::data::protein::Protein`]s.
pub mod correspondence;
pub mod gdt;
pub mod lddt;
pub mod structure_scores;
pub mod superposition;
pub mod tm_score;

/// Point sets shared by the metric tests.
#[cfg(test)]
pub(crate) mod test_traces {
    use super::superposition::Vec3;

    /// A chiral, non-planar trace of `n` points (helix-like), so superpositions are unique.
    pub fn helix(n: usize) -> Vec<Vec3> {
        (0..n)
            .map(|i| {
                let t = i as f64 * 100f64.to_radians();
                [2.3 * t.cos(), 2.3 * t.sin(), 1.5 * i as f64]
            })
            .collect()
    }
}
