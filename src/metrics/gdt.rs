//! Global Distance Test scores, GDT-TS and GDT-HA (Zemla, Nucleic Acids Res. 31:3370, 2003),
//! as the TM-score program (`TMscore.f`, Zhang & Skolnick 2004) reports them.
//!
//! For each cutoff c, GDT wants the largest fraction of residues that some superposition brings
//! within c Å of the native. The TM-score program approximates that maximum over the
//! superpositions its TM-score search visits ([`crate::metrics::tm_score::tm_score_search`]),
//! taking the maximum separately for each cutoff, counting distances `≤ c`, and dividing by
//! the native's length:
//! - GDT-TS = mean of the fractions under 1, 2, 4 and 8 Å;
//! - GDT-HA = mean of the fractions under 0.5, 1, 2 and 4 Å.
use super::superposition::Vec3;
use super::tm_score::{tm_score_search, TmScore};

/// Every cutoff either score uses, in Å, ascending.
pub const GDT_CUTOFFS: [f64; 5] = [0.5, 1.0, 2.0, 4.0, 8.0];

/// GDT fractions and their two standard means.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gdt {
    /// Best fraction of the native's residues within each of [`GDT_CUTOFFS`].
    pub fractions: [f64; 5],
    /// Mean of the fractions under 1, 2, 4, 8 Å.
    pub ts: f64,
    /// Mean of the fractions under 0.5, 1, 2, 4 Å.
    pub ha: f64,
}

/// Keeps, for each cutoff, the most residues any observed superposition put within it.
#[derive(Debug, Clone, Default)]
pub struct GdtCounter {
    best_counts: [usize; 5],
}

impl GdtCounter {
    /// Takes the pair distances (Å) under one superposition.
    pub fn observe(&mut self, distances: &[f64]) {
        for (best, cutoff) in self.best_counts.iter_mut().zip(GDT_CUTOFFS) {
            let count = distances.iter().filter(|&&d| d <= cutoff).count();
            *best = (*best).max(count);
        }
    }

    /// The scores, normalised by the native's length (0 for an empty native).
    pub fn finish(&self, native_length: usize) -> Gdt {
        let fractions = if native_length == 0 {
            [0.0; 5]
        } else {
            self.best_counts.map(|count| count as f64 / native_length as f64)
        };
        Gdt {
            fractions,
            ts: fractions[1..5].iter().sum::<f64>() / 4.0,
            ha: fractions[0..4].iter().sum::<f64>() / 4.0,
        }
    }
}

/// GDT of `model[i]` against `native[i]` (pairs already matched), normalised by
/// `native_length`, with the TM-score search; also returns that search's [`TmScore`].
///
/// # Panics
/// When `model` and `native` differ in length.
pub fn gdt(model: &[Vec3], native: &[Vec3], native_length: usize) -> (Gdt, TmScore) {
    let mut counter = GdtCounter::default();
    let tm = tm_score_search(model, native, native_length, |distances| counter.observe(distances));
    (counter.finish(native_length), tm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::test_traces::helix;


    #[test]
    fn counts_the_best_superposition_per_cutoff() {
        let mut counter = GdtCounter::default();
        counter.observe(&[0.4, 0.9, 3.0, 9.0]);
        counter.observe(&[0.6, 1.0, 1.5, 7.9]);
        // Per cutoff the best of the two: ≤0.5: 1, ≤1: 2, ≤2: 3 (second), ≤4: 3, ≤8: 4 (second).
        let gdt = counter.finish(5);
        assert_eq!(gdt.fractions, [0.2, 0.4, 0.6, 0.6, 0.8]);
        assert!((gdt.ts - (0.4 + 0.6 + 0.6 + 0.8) / 4.0).abs() < 1e-12);
        assert!((gdt.ha - (0.2 + 0.4 + 0.6 + 0.6) / 4.0).abs() < 1e-12);
    }

    #[test]
    fn displaced_tail_is_excluded_at_every_cutoff() {
        // 40 residues, the last 10 moved 100 Å: every cutoff holds exactly the 30 unmoved ones.
        let native = helix(40);
        let mut model = native.clone();
        for point in &mut model[30..] {
            point[1] -= 100.0;
        }
        let (gdt, _) = gdt(&model, &native, 40);
        for fraction in gdt.fractions {
            assert!((fraction - 0.75).abs() < 1e-12, "{:?}", gdt.fractions);
        }
        assert!((gdt.ts - 0.75).abs() < 1e-12);
        assert!((gdt.ha - 0.75).abs() < 1e-12);
    }
}
