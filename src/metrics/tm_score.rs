//! TM-score with a known residue correspondence, computed as the TM-score program does
//! (Zhang & Skolnick, Proteins 57:702, 2004; Zhang lab's `TMscore.f`, the program Debian ships
//! in `tm-align`).
//!
//! `TM = max over superpositions of (1/L_N) Σ_i 1 / (1 + (d_i/d0)²)`, summed over the common
//! residues, normalised by the native's length `L_N`, with
//! `d0 = 1.24·(L_N − 15)^(1/3) − 1.8` (0.5 when `L_N ≤ 15` or when the formula gives less).
//!
//! The maximum is searched heuristically, exactly in the program's order:
//! 1. seed fragment lengths `n, n/2, n/4, …` (integer halving, at most five) down to
//!    `min(4, n)`, which always ends the list; `n` = number of common residues;
//! 2. every start position of a seed fragment of each length along the common residues;
//! 3. superpose on the seed, collect residues closer than `d0_search − 1` (widened by 0.5 Å
//!    until at least 3 are collected, when `n > 3`), then up to 20 times superpose on the
//!    collected set and re-collect with cutoff `d0_search + 1`, stopping early when the set no
//!    longer changes; `d0_search = clamp(d0, 4.5, 8)`.
//!
//! Every superposition visited is scored; the TM-score is the best. Other scores that the
//! program takes from the same search (GDT, see [`crate::metrics::gdt`]) observe the
//! distances of every visited superposition through [`tm_score_search`].
//!
//! Checked against the program on random perturbations of the CASP14 natives (T1026, T1037,
//! fragments of 4 to 404 residues): TM-score, GDT and RMSD agree to the printed digits. One
//! known difference: two points fix a rotation only up to a spin about their axis, so where a
//! superposition rests on two pairs (possible only with at most three common residues) this
//! code and the program's `u3b` may pick different rotations and scores differ slightly.
use super::superposition::{squared_distance, superpose, superposed_rmsd, Superposition, Vec3};

/// Seed fragments never shrink below this many residues (`L_ini_min`).
const MIN_SEED_LENGTH: usize = 4;
/// At most this many seed lengths (`n_init_max`).
const MAX_SEED_LENGTHS: usize = 6;
/// Extension iterations per seed (`n_it`).
const MAX_EXTENSIONS: usize = 20;
/// The collection cutoff widens by this much until it collects enough residues.
const CUTOFF_WIDENING: f64 = 0.5;
/// Residues a superposition must collect before the cutoff stops widening.
const MIN_COLLECTED: usize = 3;
/// Bounds of the search's distance scale `d0_search` (Å).
const D0_SEARCH_MIN: f64 = 4.5;
const D0_SEARCH_MAX: f64 = 8.0;
/// A seed's superposition collects residues within `d0_search − SEED_CUTOFF_OFFSET` Å, each
/// extension within `d0_search + EXTENSION_CUTOFF_OFFSET` Å.
const SEED_CUTOFF_OFFSET: f64 = 1.0;
const EXTENSION_CUTOFF_OFFSET: f64 = 1.0;

/// The outcome of a TM-score search.
#[derive(Debug, Clone, PartialEq)]
pub struct TmScore {
    /// Best TM-score, normalised by the native's length.
    pub score: f64,
    /// Distance scale d0 in Å.
    pub d0: f64,
    /// Number of residue pairs compared.
    pub common_residues: usize,
    /// RMSD in Å of all common residues after superposing on all of them.
    pub rmsd_common: f64,
    /// The superposition (model onto native) that gives [`TmScore::score`].
    pub superposition: Superposition,
}

/// TM-score's distance scale for a native of `native_length` residues.
pub fn d0_for_length(native_length: usize) -> f64 {
    const D0_MIN: f64 = 0.5;
    if native_length <= 15 {
        return D0_MIN;
    }
    (1.24 * ((native_length - 15) as f64).cbrt() - 1.8).max(D0_MIN)
}

/// TM-score of `model[i]` against `native[i]` (pairs already matched, e.g. by residue number),
/// normalised by `native_length` (the native's full length, which may exceed the pairs).
///
/// # Panics
/// When `model` and `native` differ in length.
pub fn tm_score(model: &[Vec3], native: &[Vec3], native_length: usize) -> TmScore {
    tm_score_search(model, native, native_length, |_| {})
}

/// [`tm_score`], also handing `observe` the model–native distance of every pair (in Å, in pair
/// order) under each superposition the search visits.
///
/// # Panics
/// When `model` and `native` differ in length.
pub fn tm_score_search(
    model: &[Vec3],
    native: &[Vec3],
    native_length: usize,
    mut observe: impl FnMut(&[f64]),
) -> TmScore {
    assert_eq!(model.len(), native.len(), "tm_score: model and native pair lists differ in length");
    let common = model.len();
    let d0 = d0_for_length(native_length);
    let (rmsd_common, _) = superposed_rmsd(model, native);
    let mut best = TmScore {
        score: 0.0,
        d0,
        common_residues: common,
        rmsd_common,
        superposition: Superposition::identity(),
    };
    if common == 0 || native_length == 0 {
        return best;
    }
    let scorer = Scorer { d0, native_length, common };
    let d0_search = d0.clamp(D0_SEARCH_MIN, D0_SEARCH_MAX);
    let mut best_score = f64::NEG_INFINITY;
    let mut distances = vec![0.0; common];
    // Scores one superposition, keeps it when it is the best so far, and returns the residues
    // it brings within `cutoff`.
    let mut consider = |transform: Superposition, cutoff: f64| -> Vec<usize> {
        for (k, distance) in distances.iter_mut().enumerate() {
            *distance = squared_distance(transform.apply(model[k]), native[k]).sqrt();
        }
        observe(&distances);
        let (score, collected) = scorer.score_and_collect(&distances, cutoff);
        if score > best_score {
            best_score = score;
            best.superposition = transform;
        }
        collected
    };

    for seed_length in seed_lengths(common) {
        for start in 0..=common - seed_length {
            let seed: Vec<usize> = (start..start + seed_length).collect();
            let mut collected =
                consider(superpose_subset(model, native, &seed), d0_search - SEED_CUTOFF_OFFSET);
            for iteration in 1..=MAX_EXTENSIONS {
                let transform = superpose_subset(model, native, &collected);
                let recollected = consider(transform, d0_search + EXTENSION_CUTOFF_OFFSET);
                if iteration == MAX_EXTENSIONS || recollected == collected {
                    break;
                }
                collected = recollected;
            }
        }
    }
    best.score = best_score;
    best
}

/// Seed fragment lengths: `n, n/2, n/4, …` until one reaches `min(4, n)`, at most six.
fn seed_lengths(common: usize) -> Vec<usize> {
    let shortest = MIN_SEED_LENGTH.min(common);
    let mut lengths = Vec::with_capacity(MAX_SEED_LENGTHS);
    for halvings in 0..MAX_SEED_LENGTHS - 1 {
        let length = common >> halvings;
        if length <= shortest {
            lengths.push(shortest);
            return lengths;
        }
        lengths.push(length);
    }
    lengths.push(shortest);
    lengths
}

fn superpose_subset(model: &[Vec3], native: &[Vec3], subset: &[usize]) -> Superposition {
    let mobile: Vec<Vec3> = subset.iter().map(|&k| model[k]).collect();
    let target: Vec<Vec3> = subset.iter().map(|&k| native[k]).collect();
    superpose(&mobile, &target)
}

/// The program's `score_fun`: the TM-score of one superposition and the residues it collects
/// for the next extension step.
struct Scorer {
    d0: f64,
    native_length: usize,
    common: usize,
}

impl Scorer {
    fn score_and_collect(&self, distances: &[f64], cutoff: f64) -> (f64, Vec<usize>) {
        let mut cutoff = cutoff;
        let collected = loop {
            let collected: Vec<usize> =
                (0..distances.len()).filter(|&k| distances[k] < cutoff).collect();
            if collected.len() >= MIN_COLLECTED || self.common <= MIN_COLLECTED {
                break collected;
            }
            cutoff += CUTOFF_WIDENING;
        };
        let sum: f64 = distances.iter().map(|d| 1.0 / (1.0 + (d / self.d0).powi(2))).sum();
        (sum / self.native_length as f64, collected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::test_traces::helix;


    #[test]
    fn d0_follows_the_published_formula() {
        // d0(166) = 1.24·151^(1/3) − 1.8 = 4.80 and d0(237) = 5.71: the values TMscore prints for
        // the two native lengths in /work/shared/data/tmscore/expected.json.
        assert!((d0_for_length(166) - 4.80).abs() < 5e-3);
        assert!((d0_for_length(237) - 5.71).abs() < 5e-3);
        assert_eq!(d0_for_length(15), 0.5);
        // 1.24·2^(1/3) − 1.8 = −0.24, below the floor.
        assert_eq!(d0_for_length(17), 0.5);
    }

    #[test]
    fn seed_lengths_halve_down_to_four() {
        assert_eq!(seed_lengths(166), vec![166, 83, 41, 20, 10, 4]);
        assert_eq!(seed_lengths(232), vec![232, 116, 58, 29, 14, 4]);
        assert_eq!(seed_lengths(20), vec![20, 10, 5, 4]);
        assert_eq!(seed_lengths(4), vec![4]);
        assert_eq!(seed_lengths(3), vec![3]);
        assert_eq!(seed_lengths(2000), vec![2000, 1000, 500, 250, 125, 4]);
    }

    #[test]
    fn rigidly_moved_copy_scores_one() {
        let native = helix(40);
        let motion = Superposition {
            rotation: [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [3.0, 1.0, -2.0],
        };
        let model: Vec<Vec3> = native.iter().map(|p| motion.apply(*p)).collect();
        let result = tm_score(&model, &native, native.len());
        assert!((result.score - 1.0).abs() < 1e-12);
        assert!(result.rmsd_common < 1e-9);
        assert_eq!(result.common_residues, 40);
    }

    #[test]
    fn displaced_tail_scores_by_hand() {
        // The last 10 of 40 residues are translated by 100 Å. The best superposition fits the
        // first 30 exactly and leaves the tail exactly 100 Å away, so
        // TM = (30 + 10 / (1 + (100/d0)²)) / 40 with d0 = d0(40).
        let native = helix(40);
        let mut model = native.clone();
        for point in &mut model[30..] {
            point[0] += 100.0;
        }
        let d0 = d0_for_length(40);
        let expected = (30.0 + 10.0 / (1.0 + (100.0 / d0).powi(2))) / 40.0;
        let result = tm_score(&model, &native, 40);
        assert!((result.score - expected).abs() < 1e-9, "{} vs {expected}", result.score);
    }

    #[test]
    fn normalises_by_the_native_length() {
        // Only 30 pairs in common out of a 60-residue native, all exact: TM = 30/60.
        let native = helix(30);
        let result = tm_score(&native, &native, 60);
        assert!((result.score - 0.5).abs() < 1e-12);
        assert_eq!(result.d0, d0_for_length(60));
    }

    #[test]
    fn no_common_residues_score_zero() {
        let result = tm_score(&[], &[], 50);
        assert_eq!(result.score, 0.0);
        assert_eq!(result.common_residues, 0);
    }

    #[test]
    fn observer_sees_every_visited_superposition() {
        let native = helix(8);
        let mut visits = 0;
        tm_score_search(&native, &native, 8, |distances| {
            assert_eq!(distances.len(), 8);
            visits += 1;
        });
        // Seeds: length 8 (1 start) and 4 (5 starts); each seed is scored once and extended at
        // least once before the collected set can repeat.
        assert!(visits >= 12, "visits {visits}");
    }
}
