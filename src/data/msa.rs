//! Multiple sequence alignments as AlphaFold reads them: A3M (HHblits) and Stockholm (jackhmmer)
//! parsing into aligned sequences plus a deletion matrix, and the integer encoding of
//! `make_msa_features`. Behaviour follows DeepMind's `alphafold/data/parsers.py` (`parse_a3m`,
//! `parse_stockholm`) and `alphafold/data/pipeline.py` (`make_msa_features`), v2.0.0; the later
//! `truncate_stockholm_msa` (v2.1+) is [`Msa::truncate`].
//!
//! In both formats the first sequence is the query. `deletion_matrix[i][j]` is the number of
//! residues of sequence `i` that the alignment deleted just before aligned column `j`.
//!
//! Where AlphaFold would crash or silently produce a ragged array, these parsers return an error
//! naming the file and line: rows whose aligned length differs from the query's, characters
//! outside the alphabet, Stockholm lines that are not `name sequence`. `.` (a gap in an insert
//! column) is removed from A3M rows and read as `-` in Stockholm rows, which is what both formats
//! mean by it; AlphaFold would keep it as a column and fail when encoding it.
//!
//! AlphaFold's pipeline applies further Stockholm helpers (`deduplicate_stockholm_msa`,
//! `remove_empty_columns_from_stockholm_msa` using `#=GC RF`, `convert_stockholm_to_a3m`) only to
//! the HHsearch input it builds for the template search; they do not change the MSA features, so
//! they are not part of this module.
use super::fasta::{parse_records, RecordSyntax};
use super::text_file::{check_no_nul, read_text_file};
use anyhow::{bail, ensure, Context, Result};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// An alignment to the query (row 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Msa {
    /// `[N_seq]` aligned sequences, each of the query's length `N_res` (insertions removed).
    pub sequences: Vec<String>,
    /// `[N_seq, N_res]` residues deleted before each aligned column.
    pub deletion_matrix: Vec<Vec<i32>>,
    /// `[N_seq]` A3M header text, or Stockholm sequence name (with jackhmmer's `/start-end`).
    pub descriptions: Vec<String>,
}

impl Msa {
    /// Number of sequences, the query included.
    pub fn len(&self) -> usize {
        self.sequences.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }

    /// Number of aligned columns (the query length), 0 for an empty alignment.
    pub fn num_columns(&self) -> usize {
        self.sequences.first().map_or(0, |s| s.len())
    }

    /// The query alone, as AlphaFold runs in single-sequence mode.
    pub fn single_sequence(sequence: &str, description: &str) -> Self {
        Self {
            sequences: vec![sequence.to_string()],
            deletion_matrix: vec![vec![0; sequence.len()]],
            descriptions: vec![description.to_string()],
        }
    }

    /// Keeps the first `max_sequences` rows, as AlphaFold limits jackhmmer hits
    /// (`mgnify_max_hits` = 501, `uniref_max_hits` = 10000 in `pipeline.py`).
    pub fn truncate(&mut self, max_sequences: usize) {
        self.sequences.truncate(max_sequences);
        self.deletion_matrix.truncate(max_sequences);
        self.descriptions.truncate(max_sequences);
    }
}

/// A3M rows: aligned residues (upper case), gaps `-`, insertions (lower case), and `.`.
fn is_a3m_symbol(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '-' || c == '.'
}

const A3M_SYNTAX: RecordSyntax = RecordSyntax {
    format: "A3M",
    residue_ok: is_a3m_symbol,
    leading_comments: true,
};

/// Parses A3M `text`: lower-case letters are insertions relative to the query; each run of them
/// is counted into the deletion matrix at the next aligned column and then removed.
pub fn parse_a3m(text: &str, source: &str) -> Result<Msa> {
    let records = parse_records(text, source, &A3M_SYNTAX)?;
    let mut msa = Msa::default();
    for located in records {
        let mut aligned = String::with_capacity(located.record.sequence.len());
        let mut deletions = Vec::with_capacity(located.record.sequence.len());
        let mut pending_deletions = 0;
        for c in located.record.sequence.chars() {
            if c.is_ascii_lowercase() {
                pending_deletions += 1;
            } else if c != '.' {
                aligned.push(c);
                deletions.push(pending_deletions);
                pending_deletions = 0;
            }
        }
        if let Some(query) = msa.sequences.first() {
            ensure!(
                aligned.len() == query.len(),
                "{source}:{}: record '>{}' has {} aligned columns, the query has {}",
                located.header_line,
                located.record.description,
                aligned.len(),
                query.len()
            );
        }
        msa.sequences.push(aligned);
        msa.deletion_matrix.push(deletions);
        msa.descriptions.push(located.record.description);
    }
    Ok(msa)
}

/// Reads and parses an A3M file.
pub fn read_a3m(path: &Path) -> Result<Msa> {
    parse_a3m(&read_text_file(path)?, &path.display().to_string())
}

/// Parses a Stockholm alignment (possibly in several blocks): rows of the same name are joined;
/// the query is the first name. Columns where the query has a gap are dropped; residues a
/// sequence has in those columns are counted as deletions before the next kept column.
pub fn parse_stockholm(text: &str, source: &str) -> Result<Msa> {
    check_no_nul(text, source)?;
    let mut names: Vec<String> = Vec::new();
    let mut rows: Vec<String> = Vec::new();
    let mut row_of_name: HashMap<String, usize> = HashMap::new();
    let mut saw_header = false;
    for (index, raw_line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = raw_line.trim();
        if line.starts_with("# STOCKHOLM") {
            saw_header = true;
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(name), Some(part), None) = (fields.next(), fields.next(), fields.next()) else {
            bail!("{source}:{line_number}: expected '<name> <aligned sequence>', got {line:?}");
        };
        if let Some((column, c)) = part
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphabetic() || *c == '-' || *c == '.'))
        {
            bail!(
                "{source}:{line_number}: {c:?} at position {} of {name}'s row is not an \
                 alignment symbol",
                column + 1
            );
        }
        let row = *row_of_name.entry(name.to_string()).or_insert_with(|| {
            names.push(name.to_string());
            rows.push(String::new());
            rows.len() - 1
        });
        rows[row].extend(part.chars().map(|c| if c == '.' { '-' } else { c }));
    }
    if rows.is_empty() {
        if saw_header {
            bail!("{source}: Stockholm alignment has no sequences");
        }
        bail!("{source}: no Stockholm alignment rows found (empty or not a Stockholm file)");
    }
    let query: Vec<char> = rows[0].chars().collect();
    let mut msa = Msa::default();
    for (name, row) in names.into_iter().zip(&rows) {
        let row: Vec<char> = row.chars().collect();
        ensure!(
            row.len() == query.len(),
            "{source}: row {name} has {} columns, the query row {} has {} (truncated file?)",
            row.len(),
            msa.descriptions
                .first()
                .map_or(name.as_str(), |q| q.as_str()),
            query.len()
        );
        let mut aligned = String::new();
        let mut deletions = Vec::new();
        let mut pending_deletions = 0;
        for (&residue, &query_residue) in row.iter().zip(&query) {
            if query_residue != '-' {
                aligned.push(residue);
                deletions.push(pending_deletions);
                pending_deletions = 0;
            } else if residue != '-' {
                pending_deletions += 1;
            }
        }
        msa.sequences.push(aligned);
        msa.deletion_matrix.push(deletions);
        msa.descriptions.push(name);
    }
    Ok(msa)
}

/// An alignment file by its extension: Stockholm for `.sto`/`.stockholm`, A3M otherwise.
pub fn read_alignment(path: &Path) -> Result<Msa> {
    let is_stockholm = path.extension().is_some_and(|e| e == "sto" || e == "stockholm");
    if is_stockholm {
        read_stockholm(path)
    } else {
        read_a3m(path)
    }
}

/// Reads and parses a Stockholm file.
pub fn read_stockholm(path: &Path) -> Result<Msa> {
    parse_stockholm(&read_text_file(path)?, &path.display().to_string())
}

/// HHblits' residue encoding, the `msa` feature's alphabet: 20 amino acids in alphabetical order
/// of one-letter code, 20 = unknown (`X`, and the rare `J`, `O`), 21 = gap. Ambiguity codes map to
/// one of their residues (`B` -> D, `Z` -> E, `U` selenocysteine -> C). Source: DeepMind's
/// `alphafold/common/residue_constants.py` `HHBLITS_AA_TO_ID`.
pub const HHBLITS_AA_TO_ID: [(char, i32); 27] = [
    ('A', 0),
    ('B', 2),
    ('C', 1),
    ('D', 2),
    ('E', 3),
    ('F', 4),
    ('G', 5),
    ('H', 6),
    ('I', 7),
    ('J', 20),
    ('K', 8),
    ('L', 9),
    ('M', 10),
    ('N', 11),
    ('O', 20),
    ('P', 12),
    ('Q', 13),
    ('R', 14),
    ('S', 15),
    ('T', 16),
    ('U', 1),
    ('V', 17),
    ('W', 18),
    ('X', 20),
    ('Y', 19),
    ('Z', 3),
    ('-', 21),
];

/// Number of classes of the HHblits encoding (20 amino acids, unknown, gap).
pub const HHBLITS_NUM_CLASSES: usize = 22;

/// The symbol of each HHblits id, `0..HHBLITS_NUM_CLASSES` (the inverse of [`HHBLITS_AA_TO_ID`]
/// on its canonical letters).
const HHBLITS_SYMBOLS: &[u8; HHBLITS_NUM_CLASSES] = b"ACDEFGHIKLMNPQRSTVWYX-";

impl Msa {
    /// An MSA from AlphaFold's `msa` feature: `[N_seq, N_res]` HHblits ids, row-major, no
    /// deletions or descriptions. An id outside the encoding is an error.
    pub fn from_hhblits_ids(ids: &[i64], num_res: usize) -> Result<Self> {
        ensure!(num_res > 0 && ids.len() % num_res == 0, "an msa of {} ids is not [N_seq, {num_res}]", ids.len());
        let sequences = ids
            .chunks(num_res)
            .map(|row| {
                row.iter()
                    .map(|&id| {
                        usize::try_from(id)
                            .ok()
                            .and_then(|i| HHBLITS_SYMBOLS.get(i))
                            .map(|&b| b as char)
                            .with_context(|| format!("msa id {id} is outside the HHblits encoding (0..{HHBLITS_NUM_CLASSES})"))
                    })
                    .collect::<Result<String>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = sequences.len();
        Ok(Self { sequences, deletion_matrix: vec![vec![0; num_res]; rows], descriptions: vec![String::new(); rows] })
    }
}

/// HHblits id of an aligned-sequence symbol; `None` for symbols outside the table (lower case
/// included, as in AlphaFold).
pub fn hhblits_aa_id(symbol: char) -> Option<i32> {
    HHBLITS_AA_TO_ID
        .iter()
        .find(|(c, _)| *c == symbol)
        .map(|&(_, id)| id)
}

/// The MSA features of AlphaFold's `make_msa_features`, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsaFeatures {
    /// `[N_seq, N_res]` HHblits ids ([`HHBLITS_AA_TO_ID`]); feature `msa`.
    pub msa: Vec<Vec<i32>>,
    /// `[N_seq, N_res]` feature `deletion_matrix_int`.
    pub deletion_matrix: Vec<Vec<i32>>,
    /// `N_seq` after deduplication; AlphaFold stores it repeated `N_res` times (`num_alignments`).
    pub num_alignments: usize,
}

/// Encodes several alignments of the same query into one MSA, as `make_msa_features` does: rows
/// are taken in order (MSA by MSA), and a sequence already seen (same aligned string, deletions
/// ignored) is skipped, so the first occurrence wins.
pub fn make_msa_features(msas: &[&Msa]) -> Result<MsaFeatures> {
    let Some(first) = msas.first() else {
        bail!("at least one MSA must be provided");
    };
    let num_res = first.num_columns();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut features = MsaFeatures {
        msa: Vec::new(),
        deletion_matrix: Vec::new(),
        num_alignments: 0,
    };
    for (msa_index, msa) in msas.iter().enumerate() {
        ensure!(
            !msa.is_empty(),
            "MSA {msa_index} must contain at least one sequence"
        );
        ensure!(
            msa.deletion_matrix.len() == msa.len(),
            "MSA {msa_index} has {} sequences but {} deletion rows",
            msa.len(),
            msa.deletion_matrix.len()
        );
        for (row, (sequence, deletions)) in
            msa.sequences.iter().zip(&msa.deletion_matrix).enumerate()
        {
            if !seen.insert(sequence.as_str()) {
                continue;
            }
            ensure!(
                sequence.len() == num_res && deletions.len() == num_res,
                "MSA {msa_index} row {row} has {} columns ({} deletion entries), the query has \
                 {num_res}",
                sequence.len(),
                deletions.len()
            );
            let ids = sequence
                .chars()
                .map(|c| {
                    hhblits_aa_id(c).ok_or_else(|| {
                        anyhow::anyhow!(
                            "MSA {msa_index} row {row}: {c:?} has no HHblits residue id"
                        )
                    })
                })
                .collect::<Result<Vec<i32>>>()?;
            features.msa.push(ids);
            features.deletion_matrix.push(deletions.clone());
        }
    }
    features.num_alignments = features.msa.len();
    Ok(features)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::shared_data;

    #[test]
    fn hhblits_ids_decode_back_to_the_aligned_rows() {
        let msa = parse_a3m(">q\nACDWY\n>h\nA-DxXY\n", "toy.a3m").unwrap();
        let features = make_msa_features(&[&msa]).unwrap();
        let ids: Vec<i64> = features.msa.iter().flatten().map(|&i| i as i64).collect();
        let decoded = Msa::from_hhblits_ids(&ids, 5).unwrap();
        assert_eq!(decoded.sequences, vec!["ACDWY", "A-DXY"]);
        let err = Msa::from_hhblits_ids(&[0, 22], 2).unwrap_err().to_string();
        assert!(err.contains("msa id 22 is outside"), "{err}");
        assert!(Msa::from_hhblits_ids(&[0, 1, 2], 2).is_err());
    }

    #[test]
    fn a3m_deletions_on_a_hand_made_alignment() {
        // Query ACDEF. Row 2: "a" before C and "gh" before E -> deletions [0,1,0,2,0] with the
        // gap at D kept as '-'. Row 3: insertion "kk" after the last column has no following
        // column, so it is dropped (AlphaFold's loop only records counts at aligned columns).
        let text = ">q\nACDEF\n>s1\nAaC-ghEF\n>s2\nA-DEFkk\n";
        let msa = parse_a3m(text, "mem.a3m").unwrap();
        assert_eq!(msa.sequences, vec!["ACDEF", "AC-EF", "A-DEF"]);
        assert_eq!(
            msa.deletion_matrix,
            vec![
                vec![0, 0, 0, 0, 0],
                vec![0, 1, 0, 2, 0],
                vec![0, 0, 0, 0, 0]
            ]
        );
        assert_eq!(msa.descriptions, vec!["q", "s1", "s2"]);
    }

    #[test]
    fn a3m_dots_are_removed_without_counting() {
        let msa = parse_a3m(">q\nAC\n>s\nA.c.C\n", "mem.a3m").unwrap();
        assert_eq!(msa.sequences[1], "AC");
        assert_eq!(msa.deletion_matrix[1], vec![0, 1]);
    }

    #[test]
    fn a3m_skips_colabfold_header_line() {
        let msa = parse_a3m("#10\t1\n>101\nYYDPETGTWY\n", "cf.a3m").unwrap();
        assert_eq!(msa.sequences, vec!["YYDPETGTWY"]);
    }

    #[test]
    fn a3m_row_of_wrong_length_names_its_line() {
        let err = parse_a3m(">q\nACDEF\n>s\nACDEF\n>bad\nACDxEF\nG\n", "x.a3m").unwrap_err();
        let err = err.to_string();
        assert!(
            err.starts_with("x.a3m:5:") && err.contains("6 aligned columns"),
            "{err}"
        );
    }

    #[test]
    fn a3m_rejects_empty_truncated_wrong_format_and_binary_input() {
        let err = parse_a3m("", "e.a3m").unwrap_err().to_string();
        assert!(err.starts_with("e.a3m:") && err.contains("empty"), "{err}");
        let err = parse_a3m(">q\nACD\n>s\n", "t.a3m").unwrap_err().to_string();
        assert!(
            err.starts_with("t.a3m:3:") && err.contains("no sequence"),
            "{err}"
        );
        let stockholm = "# STOCKHOLM 1.0\nq ACD\n//\n";
        let err = parse_a3m(stockholm, "s.a3m").unwrap_err().to_string();
        assert!(
            err.starts_with("s.a3m:2:") && err.contains("before the first '>'"),
            "{err}"
        );
        let err = parse_a3m(">q\nAC*D\n", "x.a3m").unwrap_err().to_string();
        assert!(err.starts_with("x.a3m:2:3:"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.a3m");
        std::fs::write(&path, [b'>', b'q', b'\n', 0x00, 0x9f, 0x92]).unwrap();
        let err = format!("{:#}", read_a3m(&path).unwrap_err());
        assert!(err.contains("garbage.a3m"), "{err}");
        let path = dir.path().join("garbage.sto");
        std::fs::write(&path, [0xff, 0xfe, b'q']).unwrap();
        let err = format!("{:#}", read_stockholm(&path).unwrap_err());
        assert!(err.contains("garbage.sto"), "{err}");
    }

    #[test]
    fn stockholm_drops_query_gap_columns_and_counts_deletions() {
        // Columns 3 and 6 (1-based) are gaps in the query. Row s1 has residues there: one
        // deletion before query column D, one before F. Row s2 has a gap in column 3 and its
        // own gap at E; '.' reads as a gap.
        let text = "# STOCKHOLM 1.0\n\
                    #=GS s1 DE something\n\
                    q   AC-DE-F\n\
                    s1  ACkDEmF\n\
                    s2  A.-D-.F\n\
                    #=GC RF xx.xx.x\n\
                    //\n";
        let msa = parse_stockholm(text, "mem.sto").unwrap();
        assert_eq!(msa.sequences, vec!["ACDEF", "ACDEF", "A-D-F"]);
        assert_eq!(
            msa.deletion_matrix,
            vec![
                vec![0, 0, 0, 0, 0],
                vec![0, 0, 1, 0, 1],
                vec![0, 0, 0, 0, 0]
            ]
        );
        assert_eq!(msa.descriptions, vec!["q", "s1", "s2"]);
    }

    #[test]
    fn stockholm_joins_blocks_by_name() {
        let text = "# STOCKHOLM 1.0\nq AC\ns A-\n\nq -D\ns ED\n//\n";
        let msa = parse_stockholm(text, "mem.sto").unwrap();
        assert_eq!(msa.sequences, vec!["ACD", "A-D"]);
        assert_eq!(msa.deletion_matrix[1], vec![0, 0, 1]);
    }

    #[test]
    fn stockholm_errors_name_the_file() {
        let err = parse_stockholm("", "e.sto").unwrap_err().to_string();
        assert!(err.starts_with("e.sto:"), "{err}");
        let err = parse_stockholm("# STOCKHOLM 1.0\n//\n", "h.sto")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("h.sto") && err.contains("no sequences"),
            "{err}"
        );
        let err = parse_stockholm("# STOCKHOLM 1.0\nq AC D\n", "f.sto")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f.sto:2:"), "{err}");
        let err = parse_stockholm("# STOCKHOLM 1.0\nq ACD\ns AC\n", "t.sto").unwrap_err();
        assert!(
            err.to_string().contains("t.sto") && err.to_string().contains("row s"),
            "{err}"
        );
        let err = parse_stockholm(">a\nACD\n", "fasta.sto")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("fasta.sto:1:"), "{err}");
        let err = parse_stockholm("q AC\0D\n", "bin.sto")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bin.sto") && err.contains("NUL"), "{err}");
    }

    #[test]
    fn truncate_keeps_the_first_rows_of_every_field() {
        let mut msa = parse_a3m(">q\nAC\n>a\nAcC\n>b\nA-\n", "mem.a3m").unwrap();
        msa.truncate(2);
        assert_eq!(msa.sequences, vec!["AC", "AC"]);
        assert_eq!(msa.deletion_matrix, vec![vec![0, 0], vec![0, 1]]);
        assert_eq!(msa.descriptions, vec!["q", "a"]);
        msa.truncate(10);
        assert_eq!(msa.len(), 2);
    }

    #[test]
    fn hhblits_table_covers_22_classes() {
        let mut ids: Vec<i32> = HHBLITS_AA_TO_ID.iter().map(|&(_, id)| id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids, (0..HHBLITS_NUM_CLASSES as i32).collect::<Vec<_>>());
        // ID_TO_HHBLITS_AA in residue_constants.py: 1 = C, 14 = R, 17 = V, 19 = Y.
        assert_eq!(hhblits_aa_id('C'), Some(1));
        assert_eq!(hhblits_aa_id('R'), Some(14));
        assert_eq!(hhblits_aa_id('V'), Some(17));
        assert_eq!(hhblits_aa_id('Y'), Some(19));
        assert_eq!(hhblits_aa_id('a'), None);
    }

    #[test]
    fn msa_features_deduplicate_in_order_first_wins() {
        let a = parse_a3m(">q\nAC\n>x\nA-\n>y\nAcC\n", "a").unwrap();
        let b = parse_a3m(">q2\nAC\n>z\nY-\n>x2\nAaaa-\n", "b").unwrap();
        let features = make_msa_features(&[&a, &b]).unwrap();
        // Rows: AC (a), A- (a), AC (a, with deletion: duplicate sequence, skipped), AC (b,
        // skipped), Y- (b), A- (b, skipped).
        assert_eq!(features.msa, vec![vec![0, 1], vec![0, 21], vec![19, 21]]);
        assert_eq!(features.deletion_matrix, vec![vec![0, 0]; 3]);
        assert_eq!(features.num_alignments, 3);
    }

    #[test]
    fn msa_features_reject_mismatched_lengths_and_unknown_symbols() {
        let a = parse_a3m(">q\nAC\n", "a").unwrap();
        let b = parse_a3m(">q\nACD\n", "b").unwrap();
        assert!(make_msa_features(&[&a, &b]).is_err());
        assert!(make_msa_features(&[]).is_err());
        let lower = Msa {
            sequences: vec!["Ac".into()],
            deletion_matrix: vec![vec![0, 0]],
            descriptions: vec!["q".into()],
        };
        assert!(make_msa_features(&[&lower]).is_err());
    }

    /// Sequence counts are `grep -c '^>'` of each file; the column counts are the query lengths
    /// of the entries in /work/shared/data/README.md; the deletion sums come from DeepMind's
    /// `parsers.parse_a3m` (alphafold 2.0.0 wheel) run on the same files.
    #[test]
    fn real_a3m_files_parse_with_expected_sizes() {
        let cases = [
            ("openfold_mini/query/bfd_uniclust_hits.a3m", 1024, 73, 239),
            (
                "openfold_mini/alignments/1psm_A/bfd_uniclust_hits.a3m",
                12,
                38,
                18,
            ),
            (
                "openfold_mini/alignments/2crb_A/bfd_uniclust_hits.a3m",
                416,
                97,
                928,
            ),
            (
                "openfold_mini/alignments/2q2k_A/bfd_uniclust_hits.a3m",
                4,
                70,
                1,
            ),
            (
                "openfold_mini/alignments/3u8v_A/bfd_uniclust_hits.a3m",
                734,
                93,
                2189,
            ),
            (
                "openfold_mini/alignments/3zee_A/bfd_uniclust_hits.a3m",
                840,
                84,
                3876,
            ),
            (
                "openfold_mini/alignments/4i6p_A/bfd_uniclust_hits.a3m",
                862,
                88,
                4132,
            ),
            (
                "openfold_mini/alignments/4zey_A/bfd_uniclust_hits.a3m",
                401,
                84,
                831,
            ),
            (
                "openfold_mini/alignments/5kc1_A/bfd_uniclust_hits.a3m",
                109,
                226,
                1198,
            ),
            ("colabfold/5AWL1.a3m", 1, 10, 0),
            ("colabfold/6A5J.a3m", 2, 13, 0),
        ];
        for (relative, num_seqs, num_cols, deletion_sum) in cases {
            let Some(path) = shared_data(relative) else {
                return;
            };
            let msa = read_a3m(&path).unwrap();
            assert_eq!(msa.len(), num_seqs, "{relative}");
            assert_eq!(msa.num_columns(), num_cols, "{relative}");
            assert!(
                msa.sequences.iter().all(|s| s.len() == num_cols),
                "{relative}"
            );
            assert!(
                msa.deletion_matrix.iter().all(|d| d.len() == num_cols),
                "{relative}"
            );
            let sum: i32 = msa.deletion_matrix.iter().flatten().sum();
            assert_eq!(sum, deletion_sum, "{relative}");
        }
    }

    /// Sequence counts are the distinct row names of each file (`grep -v '^#' | awk '{print $1}'
    /// | sort -u`); columns are the query lengths; the deletion sums come from DeepMind's
    /// `parsers.parse_stockholm` (alphafold 2.0.0 wheel) run on the same files.
    #[test]
    fn real_stockholm_files_parse_with_expected_sizes() {
        let cases = [
            ("openfold_mini/query/uniref90_hits.sto", 57, 73, 3),
            ("openfold_mini/query/mgnify_hits.sto", 59, 73, 3),
            (
                "openfold_mini/alignments/1psm_A/uniref90_hits.sto",
                20,
                38,
                0,
            ),
            ("openfold_mini/alignments/1psm_A/mgnify_hits.sto", 9, 38, 0),
            (
                "openfold_mini/alignments/2crb_A/uniref90_hits.sto",
                449,
                97,
                121,
            ),
            ("openfold_mini/alignments/2crb_A/mgnify_hits.sto", 19, 97, 1),
            (
                "openfold_mini/alignments/2q2k_A/uniref90_hits.sto",
                16,
                70,
                4,
            ),
            ("openfold_mini/alignments/2q2k_A/mgnify_hits.sto", 7, 70, 0),
            (
                "openfold_mini/alignments/3u8v_A/uniref90_hits.sto",
                479,
                93,
                824,
            ),
            (
                "openfold_mini/alignments/3u8v_A/mgnify_hits.sto",
                157,
                93,
                247,
            ),
            (
                "openfold_mini/alignments/3zee_A/uniref90_hits.sto",
                3206,
                84,
                409,
            ),
            ("openfold_mini/alignments/3zee_A/mgnify_hits.sto", 12, 84, 0),
            (
                "openfold_mini/alignments/4i6p_A/uniref90_hits.sto",
                3212,
                88,
                410,
            ),
            ("openfold_mini/alignments/4i6p_A/mgnify_hits.sto", 12, 88, 0),
            (
                "openfold_mini/alignments/4zey_A/uniref90_hits.sto",
                457,
                84,
                78,
            ),
            ("openfold_mini/alignments/4zey_A/mgnify_hits.sto", 17, 84, 0),
            // Two-block alignments: rows of the same name are joined.
            (
                "openfold_mini/alignments/5kc1_A/uniref90_hits.sto",
                43,
                226,
                138,
            ),
            ("openfold_mini/alignments/5kc1_A/mgnify_hits.sto", 3, 226, 2),
        ];
        for (relative, num_seqs, num_cols, deletion_sum) in cases {
            let Some(path) = shared_data(relative) else {
                return;
            };
            let msa = read_stockholm(&path).unwrap();
            assert_eq!(msa.len(), num_seqs, "{relative}");
            assert_eq!(msa.num_columns(), num_cols, "{relative}");
            assert_eq!(msa.descriptions[0], "query", "{relative}");
            assert!(
                msa.sequences.iter().all(|s| s.len() == num_cols),
                "{relative}"
            );
            let sum: i32 = msa.deletion_matrix.iter().flatten().sum();
            assert_eq!(sum, deletion_sum, "{relative}");
        }
    }

    #[test]
    fn query_msas_combine_into_features() {
        let (Some(uniref), Some(bfd), Some(mgnify), Some(fasta)) = (
            shared_data("openfold_mini/query/uniref90_hits.sto"),
            shared_data("openfold_mini/query/bfd_uniclust_hits.a3m"),
            shared_data("openfold_mini/query/mgnify_hits.sto"),
            shared_data("openfold_mini/query/short.fasta"),
        ) else {
            return;
        };
        let uniref = read_stockholm(&uniref).unwrap();
        let bfd = read_a3m(&bfd).unwrap();
        let mut mgnify = read_stockholm(&mgnify).unwrap();
        mgnify.truncate(501);
        let query = &crate::data::fasta::read_fasta(&fasta).unwrap()[0].sequence;
        assert_eq!(&uniref.sequences[0], query);
        assert_eq!(&bfd.sequences[0], query);
        let features = make_msa_features(&[&uniref, &bfd, &mgnify]).unwrap();
        // Reference: DeepMind's pipeline.make_msa_features (alphafold 2.0.0) on the same three
        // parsed alignments.
        assert_eq!(features.num_alignments, 1136);
        assert_eq!(features.deletion_matrix.iter().flatten().sum::<i32>(), 245);
        assert_eq!(features.msa[1][..5], [10, 0, 3, 6, 8]);
        assert!(features.msa.iter().all(|row| row.len() == 73));
    }
}
