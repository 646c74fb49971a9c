//! Global pairwise alignment of two protein sequences: Gotoh's affine-gap dynamic programme
//! (Gotoh (1982) J. Mol. Biol. 162:705) scored with BLOSUM62 (Henikoff & Henikoff (1992); the
//! NCBI table as Biopython ships it), gap cost `GAP_OPEN + GAP_EXTEND * length`, and end gaps free
//! so a fragment aligns inside a longer chain.
//!
//! AlphaFold re-aligns a template hit to the chain in its mmCIF file with the external `kalign`
//! program (`alphafold/data/templates.py` `_realign_pdb_template_to_query`); this crate does it in
//! Rust instead. AlphaFold only accepts such a re-alignment when 90 % of the shorter sequence is
//! identical, where every reasonable aligner finds the same answer.
//!
//! Memory: `3 * (len_a + 1) * (len_b + 1)` bytes of traceback plus two rows of scores.

/// Cost of opening a gap (paid once per gap, on top of [`GAP_EXTEND`] per residue).
pub const GAP_OPEN: i32 = 10;
/// Cost per gapped residue.
pub const GAP_EXTEND: i32 = 1;

/// Two sequences padded with `-` to a common length so that equal positions are aligned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairAlignment {
    pub first: String,
    pub second: String,
}

const BLOSUM62_ORDER: &[u8; 23] = b"ARNDCQEGHILKMFPSTWYVBZX";
#[rustfmt::skip]
const BLOSUM62: [[i8; 23]; 23] = [
    [ 4, -1, -2, -2,  0, -1, -1,  0, -2, -1, -1, -1, -1, -2, -1,  1,  0, -3, -2,  0, -2, -1,  0], // A
    [-1,  5,  0, -2, -3,  1,  0, -2,  0, -3, -2,  2, -1, -3, -2, -1, -1, -3, -2, -3, -1,  0, -1], // R
    [-2,  0,  6,  1, -3,  0,  0,  0,  1, -3, -3,  0, -2, -3, -2,  1,  0, -4, -2, -3,  3,  0, -1], // N
    [-2, -2,  1,  6, -3,  0,  2, -1, -1, -3, -4, -1, -3, -3, -1,  0, -1, -4, -3, -3,  4,  1, -1], // D
    [ 0, -3, -3, -3,  9, -3, -4, -3, -3, -1, -1, -3, -1, -2, -3, -1, -1, -2, -2, -1, -3, -3, -2], // C
    [-1,  1,  0,  0, -3,  5,  2, -2,  0, -3, -2,  1,  0, -3, -1,  0, -1, -2, -1, -2,  0,  3, -1], // Q
    [-1,  0,  0,  2, -4,  2,  5, -2,  0, -3, -3,  1, -2, -3, -1,  0, -1, -3, -2, -2,  1,  4, -1], // E
    [ 0, -2,  0, -1, -3, -2, -2,  6, -2, -4, -4, -2, -3, -3, -2,  0, -2, -2, -3, -3, -1, -2, -1], // G
    [-2,  0,  1, -1, -3,  0,  0, -2,  8, -3, -3, -1, -2, -1, -2, -1, -2, -2,  2, -3,  0,  0, -1], // H
    [-1, -3, -3, -3, -1, -3, -3, -4, -3,  4,  2, -3,  1,  0, -3, -2, -1, -3, -1,  3, -3, -3, -1], // I
    [-1, -2, -3, -4, -1, -2, -3, -4, -3,  2,  4, -2,  2,  0, -3, -2, -1, -2, -1,  1, -4, -3, -1], // L
    [-1,  2,  0, -1, -3,  1,  1, -2, -1, -3, -2,  5, -1, -3, -1,  0, -1, -3, -2, -2,  0,  1, -1], // K
    [-1, -1, -2, -3, -1,  0, -2, -3, -2,  1,  2, -1,  5,  0, -2, -1, -1, -1, -1,  1, -3, -1, -1], // M
    [-2, -3, -3, -3, -2, -3, -3, -3, -1,  0,  0, -3,  0,  6, -4, -2, -2,  1,  3, -1, -3, -3, -1], // F
    [-1, -2, -2, -1, -3, -1, -1, -2, -2, -3, -3, -1, -2, -4,  7, -1, -1, -4, -3, -2, -2, -1, -2], // P
    [ 1, -1,  1,  0, -1,  0,  0,  0, -1, -2, -2,  0, -1, -2, -1,  4,  1, -3, -2, -2,  0,  0,  0], // S
    [ 0, -1,  0, -1, -1, -1, -1, -2, -2, -1, -1, -1, -1, -2, -1,  1,  5, -2, -2,  0, -1, -1,  0], // T
    [-3, -3, -4, -4, -2, -2, -3, -2, -2, -3, -2, -3, -1,  1, -4, -3, -2, 11,  2, -3, -4, -3, -2], // W
    [-2, -2, -2, -3, -2, -1, -2, -3,  2, -1, -1, -2, -1,  3, -3, -2, -2,  2,  7, -1, -3, -2, -1], // Y
    [ 0, -3, -3, -3, -1, -2, -2, -3, -3,  3,  1, -2,  1, -1, -2, -2,  0, -3, -1,  4, -3, -2, -1], // V
    [-2, -1,  3,  4, -3,  0,  1, -1,  0, -3, -4,  0, -3, -3, -2,  0, -1, -4, -3, -3,  4,  1, -1], // B
    [-1,  0,  0,  1, -3,  3,  4, -2,  0, -3, -3,  1, -1, -3, -1,  0, -1, -3, -2, -2,  1,  4, -1], // Z
    [ 0, -1, -1, -1, -2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -2,  0,  0, -2, -1, -1, -1, -1, -1], // X
];

/// BLOSUM62 score of two residue letters; letters outside the table score as `X`.
fn substitution_score(a: u8, b: u8) -> i32 {
    let index = |c: u8| {
        let upper = c.to_ascii_uppercase();
        BLOSUM62_ORDER
            .iter()
            .position(|&r| r == upper)
            .unwrap_or(BLOSUM62_ORDER.len() - 1)
    };
    i32::from(BLOSUM62[index(a)][index(b)])
}

/// Which of the three Gotoh states a cell's best path arrives from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `a[i-1]` aligned to `b[j-1]`.
    Match,
    /// `a[i-1]` against a gap.
    GapInB,
    /// `b[j-1]` against a gap.
    GapInA,
}

const NEG_INF: i32 = i32::MIN / 4;

/// Best of the three states, ties broken in the order Match, GapInB, GapInA.
fn best(scores: [i32; 3]) -> (i32, State) {
    let states = [State::Match, State::GapInB, State::GapInA];
    let mut pick = 0;
    for k in 1..3 {
        if scores[k] > scores[pick] {
            pick = k;
        }
    }
    (scores[pick], states[pick])
}

/// Aligns `a` and `b` globally with free end gaps (see the module doc).
pub fn align_global(a: &str, b: &str) -> PairAlignment {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (n, m) = (a.len(), b.len());
    let width = m + 1;
    let cell = |i: usize, j: usize| i * width + j;
    // For each state, the state its best path came from (all cells), and the best scores of
    // the previous and the current row.
    let mut from = [
        vec![State::Match; (n + 1) * width],
        vec![State::Match; (n + 1) * width],
        vec![State::Match; (n + 1) * width],
    ];
    let (match_, gap_b, gap_a) = (0, 1, 2);
    // Row 0: leading gaps in `a` are free.
    let mut previous = [vec![NEG_INF; width], vec![NEG_INF; width], vec![0; width]];
    previous[match_][0] = 0;
    previous[gap_a][0] = NEG_INF;
    for j in 1..=m {
        from[gap_a][cell(0, j)] = State::GapInA;
    }
    let mut current = [
        vec![NEG_INF; width],
        vec![NEG_INF; width],
        vec![NEG_INF; width],
    ];
    // Trailing gaps are free: the path may end anywhere on the last row or column.
    let mut end = (0, m, best([previous[0][m], previous[1][m], previous[2][m]]));
    let open = GAP_OPEN + GAP_EXTEND;
    for i in 1..=n {
        // Leading gaps in `b` are free.
        current[match_][0] = NEG_INF;
        current[gap_b][0] = 0;
        current[gap_a][0] = NEG_INF;
        from[gap_b][cell(i, 0)] = State::GapInB;
        for j in 1..=m {
            let (prev, state) = best([
                previous[match_][j - 1],
                previous[gap_b][j - 1],
                previous[gap_a][j - 1],
            ]);
            current[match_][j] = prev + substitution_score(a[i - 1], b[j - 1]);
            from[match_][cell(i, j)] = state;

            let (prev, state) = best([
                previous[match_][j] - open,
                previous[gap_b][j] - GAP_EXTEND,
                previous[gap_a][j] - open,
            ]);
            current[gap_b][j] = prev;
            from[gap_b][cell(i, j)] = state;

            let (prev, state) = best([
                current[match_][j - 1] - open,
                current[gap_b][j - 1] - open,
                current[gap_a][j - 1] - GAP_EXTEND,
            ]);
            current[gap_a][j] = prev;
            from[gap_a][cell(i, j)] = state;
        }
        let row_end = best([current[0][m], current[1][m], current[2][m]]);
        if row_end.0 > end.2 .0 {
            end = (i, m, row_end);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    let [last_match, last_gap_b, last_gap_a] = &previous;
    let last_row = last_match.iter().zip(last_gap_b).zip(last_gap_a).take(m);
    for (j, ((&in_match, &in_gap_b), &in_gap_a)) in last_row.enumerate() {
        let last_row = best([in_match, in_gap_b, in_gap_a]);
        if last_row.0 > end.2 .0 {
            end = (n, j, last_row);
        }
    }
    let (mut i, mut j, (_, mut state)) = end;

    // Columns are collected from the end backwards.
    let mut first: Vec<u8> = Vec::with_capacity(n + m);
    let mut second: Vec<u8> = Vec::with_capacity(n + m);
    for &residue in a[i..].iter().rev() {
        first.push(residue);
        second.push(b'-');
    }
    for &residue in b[j..].iter().rev() {
        first.push(b'-');
        second.push(residue);
    }
    while i > 0 && j > 0 {
        let c = cell(i, j);
        match state {
            State::Match => {
                first.push(a[i - 1]);
                second.push(b[j - 1]);
                state = from[match_][c];
                i -= 1;
                j -= 1;
            }
            State::GapInB => {
                first.push(a[i - 1]);
                second.push(b'-');
                state = from[gap_b][c];
                i -= 1;
            }
            State::GapInA => {
                first.push(b'-');
                second.push(b[j - 1]);
                state = from[gap_a][c];
                j -= 1;
            }
        }
    }
    for &residue in a[..i].iter().rev() {
        first.push(residue);
        second.push(b'-');
    }
    for &residue in b[..j].iter().rev() {
        first.push(b'-');
        second.push(residue);
    }
    first.reverse();
    second.reverse();
    PairAlignment {
        first: String::from_utf8_lossy(&first).into_owned(),
        second: String::from_utf8_lossy(&second).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ungapped(s: &str) -> String {
        s.replace('-', "")
    }

    #[test]
    fn blosum62_entries_match_the_ncbi_table() {
        // Spot checks against NCBI's BLOSUM62: W/W 11, C/C 9, A/R -1, I/V 3, unknown as X.
        assert_eq!(substitution_score(b'W', b'W'), 11);
        assert_eq!(substitution_score(b'C', b'C'), 9);
        assert_eq!(substitution_score(b'A', b'R'), -1);
        assert_eq!(substitution_score(b'I', b'V'), 3);
        assert_eq!(substitution_score(b'U', b'A'), 0);
        for (row, values) in BLOSUM62.iter().enumerate() {
            for (column, value) in values.iter().enumerate() {
                assert_eq!(*value, BLOSUM62[column][row], "BLOSUM62 is symmetric");
            }
        }
    }

    #[test]
    fn fragment_aligns_inside_a_longer_chain_without_end_gap_cost() {
        let chain = "MSTLAEVYTIIEDAEQECRKGDFTNAKAKYQEAIEVLGPQNENLS";
        let fragment = "NAKAKYQEAIEVLGPQN";
        let aln = align_global(fragment, chain);
        assert_eq!(ungapped(&aln.first), fragment);
        assert_eq!(ungapped(&aln.second), chain);
        let start = chain.find(fragment).unwrap();
        assert_eq!(&aln.first[start..start + fragment.len()], fragment);
        assert_eq!(aln.first.len(), chain.len());
    }

    #[test]
    fn mutation_and_insertion_are_placed_by_hand_derived_alignment() {
        // The second sequence has one substitution (K->R) and one inserted residue (G) after
        // "EEAISCHRKA"; a single gap there keeps every other column identical, and moving it
        // would pair A or T with G (BLOSUM62 0 and -2) for no gain.
        let a = "EEAISCHRKATTYLSEAMKL";
        let b = "EEAISCHRRAGTTYLSEAMKL";
        let aln = align_global(a, b);
        assert_eq!(aln.first, "EEAISCHRKA-TTYLSEAMKL");
        assert_eq!(aln.second, b);
    }

    #[test]
    fn end_gaps_are_free() {
        // With free end gaps, one leading gap (cost 0) beats an internal gap (cost 11) even at
        // the price of two mismatched columns: E/A -1 and A/G 0 instead of E/E 5 and A/A 4.
        let aln = align_global("EEAISCH", "EEAGISCH");
        assert_eq!(aln.first, "-EEAISCH");
    }

    #[test]
    fn empty_sequences_align_to_gaps() {
        let aln = align_global("", "ACD");
        assert_eq!((aln.first.as_str(), aln.second.as_str()), ("---", "ACD"));
        let aln = align_global("AC", "");
        assert_eq!((aln.first.as_str(), aln.second.as_str()), ("AC", "--"));
    }
}
