//! HHsearch / HHblits result files (`.hhr`), read as DeepMind's `alphafold/data/parsers.py`
//! `parse_hhr` does: the summary table is skipped and every hit paragraph (from a line starting
//! `No ` to the next) becomes a [`TemplateHit`] holding its alignment to the query.
//!
//! Alignment blocks come in fixed-width rows: `Q <name, padded to 17 columns> start seq end (len)`
//! for the query and `T ...` for the template; the `ss_dssp`, `ss_pred` and `Consensus` rows are
//! ignored. Where AlphaFold asserts or raises on malformed input, this parser returns an error
//! naming the source and line; it also rejects a hit paragraph without alignment rows or whose
//! query and template rows differ in length (a truncated file).
use super::text_file::{check_no_nul, read_text_file};
use anyhow::{bail, ensure, Context, Result};
use std::path::Path;

/// One HHsearch hit: the template's alignment to a stretch of the query.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateHit {
    /// Rank in the file (`No 1` is 1).
    pub index: usize,
    /// The header after `>`: `<pdb id>_<chain> <description>`.
    pub name: String,
    pub aligned_cols: usize,
    pub sum_probs: f32,
    /// Aligned query residues with `-` gaps, `[L_aln]`.
    pub query: String,
    /// Aligned template residues with `-` gaps, `[L_aln]`.
    pub hit_sequence: String,
    /// `[L_aln]` 0-based position in the full query of each aligned query residue, -1 at gaps.
    pub indices_query: Vec<i32>,
    /// `[L_aln]` 0-based position in the template sequence of each template residue, -1 at gaps.
    pub indices_hit: Vec<i32>,
}

/// Parses an `.hhr` text; `source` (usually the file name) prefixes every error.
pub fn parse_hhr(text: &str, source: &str) -> Result<Vec<TemplateHit>> {
    check_no_nul(text, source)?;
    let lines: Vec<&str> = text.lines().collect();
    let Some(first) = lines.iter().position(|l| !l.trim().is_empty()) else {
        bail!("{source}: empty input, expected an HHsearch .hhr file");
    };
    ensure!(
        lines[first].starts_with("Query"),
        "{source}:{}: expected the 'Query' header line of an HHsearch .hhr file, got {:?}",
        first + 1,
        lines[first]
    );
    let mut starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("No "))
        .map(|(i, _)| i)
        .collect();
    starts.push(lines.len());
    starts
        .windows(2)
        .map(|bounds| parse_hit(&lines[bounds[0]..bounds[1]], bounds[0], source))
        .collect()
}

/// Reads and parses an `.hhr` file.
pub fn read_hhr(path: &Path) -> Result<Vec<TemplateHit>> {
    parse_hhr(&read_text_file(path)?, &path.display().to_string())
}

/// Columns taken by `Q <name>` / `T <name>` before the alignment row's numbers.
const NAME_COLUMNS: usize = 17;

/// Parses one hit paragraph; `first_line` is the 0-based line index of its `No` line.
fn parse_hit(lines: &[&str], first_line: usize, source: &str) -> Result<TemplateHit> {
    let at = |offset: usize| format!("{source}:{}", first_line + offset + 1);
    ensure!(
        lines.len() >= 3,
        "{}: hit paragraph is truncated (fewer than 3 lines)",
        at(0)
    );
    let index = lines[0]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse::<usize>().ok())
        .with_context(|| format!("{}: expected 'No <hit number>', got {:?}", at(0), lines[0]))?;
    let Some(name) = lines[1].strip_prefix('>') else {
        bail!(
            "{}: expected the hit's '>' name line, got {:?}",
            at(1),
            lines[1]
        );
    };
    let (aligned_cols, sum_probs) = parse_summary(lines[2]).with_context(|| at(2))?;

    let mut hit = TemplateHit {
        index,
        name: name.to_string(),
        aligned_cols,
        sum_probs,
        query: String::new(),
        hit_sequence: String::new(),
        indices_query: Vec::new(),
        indices_hit: Vec::new(),
    };
    let mut block_length: Option<usize> = None;
    for (offset, line) in lines.iter().enumerate().skip(3) {
        if let Some(row) = alignment_row(line, 'Q') {
            let row = parse_alignment_row(row).with_context(|| at(offset))?;
            let gaps = row.sequence.bytes().filter(|&b| b == b'-').count();
            let residues = row.end.checked_sub(row.start);
            ensure!(
                residues.map(|n| n + gaps) == Some(row.sequence.len()),
                "{}: query row covers residues {}-{} with {gaps} gaps but holds {} symbols",
                at(offset),
                row.start,
                row.end,
                row.sequence.len()
            );
            block_length = Some(row.sequence.len());
            push_residue_indices(&row.sequence, row.start, &mut hit.indices_query);
            hit.query.push_str(&row.sequence);
        } else if let Some(row) = alignment_row(line, 'T') {
            let row = parse_alignment_row(row).with_context(|| at(offset))?;
            let Some(expected) = block_length else {
                bail!("{}: template row before any query row", at(offset));
            };
            ensure!(
                row.sequence.len() == expected,
                "{}: template row holds {} symbols, its query row {expected}",
                at(offset),
                row.sequence.len()
            );
            push_residue_indices(&row.sequence, row.start, &mut hit.indices_hit);
            hit.hit_sequence.push_str(&row.sequence);
        }
    }
    ensure!(
        !hit.query.is_empty(),
        "{}: hit {index} has no alignment rows (truncated?)",
        at(0)
    );
    ensure!(
        hit.query.len() == hit.hit_sequence.len(),
        "{}: hit {index} has {} aligned query symbols but {} template symbols (truncated?)",
        at(0),
        hit.query.len(),
        hit.hit_sequence.len()
    );
    Ok(hit)
}

/// `Aligned_cols` and `Sum_probs` of the line
/// `Probab=.. E-value=.. Score=.. Aligned_cols=.. Identities=..% Similarity=.. Sum_probs=..
/// Template_Neff=..`, all of whose fields must be present and numeric.
fn parse_summary(line: &str) -> Result<(usize, f32)> {
    const KEYS: [&str; 8] = [
        "Probab",
        "E-value",
        "Score",
        "Aligned_cols",
        "Identities",
        "Similarity",
        "Sum_probs",
        "Template_Neff",
    ];
    let fields: Vec<(&str, &str)> = line
        .split_whitespace()
        .filter_map(|field| field.split_once('='))
        .collect();
    let value = |key: &str| -> Result<f64> {
        let raw = fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.trim_end_matches('%'))
            .with_context(|| format!("hit summary line lacks {key}=: {line:?}"))?;
        raw.parse::<f64>()
            .with_context(|| format!("{key}={raw} is not a number in {line:?}"))
    };
    for key in KEYS {
        value(key)?;
    }
    let aligned_cols = value("Aligned_cols")?;
    ensure!(
        aligned_cols >= 0.0 && aligned_cols.fract() == 0.0,
        "Aligned_cols={aligned_cols} is not a count"
    );
    Ok((aligned_cols as usize, value("Sum_probs")? as f32))
}

/// The part after the name columns of a `Q`/`T` sequence row; `None` for other lines, including
/// the `ss_dssp`, `ss_pred` and `Consensus` rows.
fn alignment_row(line: &str, kind: char) -> Option<&str> {
    let rest = line.strip_prefix(kind)?.strip_prefix(' ')?;
    if ["ss_dssp", "ss_pred", "Consensus"]
        .iter()
        .any(|skip| rest.starts_with(skip))
    {
        return None;
    }
    Some(line.get(NAME_COLUMNS..).unwrap_or(""))
}

struct AlignmentRow {
    /// 0-based index of the first residue.
    start: usize,
    /// 1-based index of the last residue (= 0-based end, exclusive).
    end: usize,
    sequence: String,
}

/// Parses `start sequence end (length)`.
fn parse_alignment_row(row: &str) -> Result<AlignmentRow> {
    let fields: Vec<&str> = row.split_whitespace().collect();
    let [start, sequence, end, length] = fields.as_slice() else {
        bail!("expected '<start> <aligned sequence> <end> (<length>)', got {row:?}");
    };
    let number = |text: &str| {
        text.parse::<usize>()
            .with_context(|| format!("{text:?} is not a residue number in {row:?}"))
    };
    let start = number(start)?;
    ensure!(
        start >= 1,
        "residue numbers start at 1, got {start} in {row:?}"
    );
    let end = number(end)?;
    ensure!(
        length.starts_with('(') && length.ends_with(')') && length.len() > 2,
        "expected '(<length>)' at the end of {row:?}"
    );
    number(&length[1..length.len() - 1])?;
    ensure!(
        sequence
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-'),
        "aligned sequence {sequence:?} holds symbols other than upper-case letters and '-'"
    );
    Ok(AlignmentRow {
        start: start - 1,
        end,
        sequence: sequence.to_string(),
    })
}

/// Appends the 0-based sequence index of each residue of `aligned` (from `start`), -1 at gaps.
fn push_residue_indices(aligned: &str, start: usize, indices: &mut Vec<i32>) {
    let mut next = start as i32;
    for symbol in aligned.bytes() {
        if symbol == b'-' {
            indices.push(-1);
        } else {
            indices.push(next);
            next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::shared_data;

    const TWO_BLOCK_HIT: &str = "\
Query         query
Match_columns 12

 No Hit                             Prob E-value P-value  Score    SS Cols Query HMM  Template HMM
  1 1ABC_A made up                  50.0     1.0     0.1   10.0   0.0    8    2-9      5-11  (20)

No 1
>1ABC_A made up; protein
Probab=50.00  E-value=1  Score=10.00  Aligned_cols=8  Identities=50%  Similarity=0.5  Sum_probs=6.5  Template_Neff=1.0

Q query             2 ACD-E   5 (12)
Q Consensus         2 acd-e   5 (12)
T Consensus         5 AC-GE   8 (20)
T 1ABC_A            5 AC-GE   8 (20)
T ss_pred             HHHHH
Confidence            12345

Q query             6 FGHI   9 (12)
T 1ABC_A            9 FG-I  11 (20)
";

    #[test]
    fn hand_made_hit_indices_follow_gaps_across_blocks() {
        let hits = parse_hhr(TWO_BLOCK_HIT, "mem.hhr").unwrap();
        assert_eq!(hits.len(), 1);
        let hit = &hits[0];
        assert_eq!(hit.index, 1);
        assert_eq!(hit.name, "1ABC_A made up; protein");
        assert_eq!(hit.aligned_cols, 8);
        assert_eq!(hit.sum_probs, 6.5);
        assert_eq!(hit.query, "ACD-EFGHI");
        assert_eq!(hit.hit_sequence, "AC-GEFG-I");
        // Query residues 2..=9 (1-based) with a gap in the 4th column.
        assert_eq!(hit.indices_query, vec![1, 2, 3, -1, 4, 5, 6, 7, 8]);
        // Template residues 5..=8 then 9..=11, gaps at columns 3 and 8.
        assert_eq!(hit.indices_hit, vec![4, 5, -1, 6, 7, 8, 9, -1, 10]);
    }

    #[test]
    fn openfold_pdb70_hits() {
        let Some(path) = shared_data("openfold_mini/query/pdb70_hits.hhr") else {
            return;
        };
        let hits = read_hhr(&path).unwrap();
        // The summary table of the file lists 10 hits.
        assert_eq!(hits.len(), 10);
        assert_eq!(
            hits.iter().map(|h| h.index).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );
        // Values below are read off the file's "No 1" and "No 10" paragraphs.
        let first = &hits[0];
        assert!(
            first.name.starts_with("1HF9_B ATPASE INHIBITOR"),
            "{}",
            first.name
        );
        assert_eq!(first.aligned_cols, 22);
        assert_eq!(first.sum_probs, 13.1);
        assert_eq!(first.query, "AEHHHKAAEHHEQAAKHHHAAA");
        assert_eq!(first.hit_sequence, "ISHHAKEIERLQKEIERHKQSI");
        assert_eq!(first.indices_query, (6..28).collect::<Vec<i32>>());
        assert_eq!(first.indices_hit, (9..31).collect::<Vec<i32>>());
        let last = &hits[9];
        assert!(
            last.name.starts_with("2Q2K_A Hypothetical protein/DN"),
            "{}",
            last.name
        );
        assert_eq!(last.aligned_cols, 17);
        assert_eq!(last.sum_probs, 0.0);
        assert_eq!(last.hit_sequence, "HIREALRRYIEEIGENP");
        assert_eq!(last.indices_hit, (53..70).collect::<Vec<i32>>());
        assert_eq!(last.indices_query, (55..72).collect::<Vec<i32>>());
        for hit in &hits {
            assert_eq!(hit.query.len(), hit.hit_sequence.len(), "hit {}", hit.index);
            assert_eq!(hit.indices_query.len(), hit.query.len());
            assert_eq!(hit.indices_hit.len(), hit.hit_sequence.len());
        }
    }

    #[test]
    fn truncated_file_is_an_error_naming_the_file() {
        // Cut after the query row of the first block: the hit has no template row.
        let cut = TWO_BLOCK_HIT.find("Q Consensus").unwrap();
        let err = parse_hhr(&TWO_BLOCK_HIT[..cut], "cut.hhr").unwrap_err();
        assert!(format!("{err:#}").starts_with("cut.hhr:7:"), "{err:#}");
        // Cut inside the summary line.
        let cut = TWO_BLOCK_HIT.find("Sum_probs").unwrap();
        let err = parse_hhr(&TWO_BLOCK_HIT[..cut], "sum.hhr").unwrap_err();
        assert!(format!("{err:#}").starts_with("sum.hhr:9"), "{err:#}");
        // Cut inside an alignment row.
        let cut = TWO_BLOCK_HIT.find("FG-I").unwrap();
        let err = parse_hhr(&TWO_BLOCK_HIT[..cut], "row.hhr").unwrap_err();
        assert!(format!("{err:#}").starts_with("row.hhr:19"), "{err:#}");
    }

    #[test]
    fn row_length_mismatch_is_an_error() {
        let broken =
            TWO_BLOCK_HIT.replace("T 1ABC_A            9 FG-I", "T 1ABC_A            9 FGI");
        let err = parse_hhr(&broken, "m.hhr").unwrap_err();
        assert!(format!("{err:#}").starts_with("m.hhr:19:"), "{err:#}");
        let broken = TWO_BLOCK_HIT.replace(
            "Q query             6 FGHI   9",
            "Q query             6 FGHI  10",
        );
        assert!(parse_hhr(&broken, "n.hhr").is_err());
    }

    #[test]
    fn other_formats_and_garbage_are_rejected() {
        let err = parse_hhr("", "e.hhr").unwrap_err().to_string();
        assert!(err.starts_with("e.hhr:") && err.contains("empty"), "{err}");
        let err = parse_hhr(">a\nMKV\n", "f.hhr").unwrap_err().to_string();
        assert!(err.starts_with("f.hhr:1:"), "{err}");
        let err = parse_hhr("Query x\n\0\0", "b.hhr").unwrap_err().to_string();
        assert!(err.contains("b.hhr") && err.contains("NUL"), "{err}");
    }

    #[test]
    fn file_without_hits_gives_no_hits() {
        let hits = parse_hhr("Query         query\nMatch_columns 12\n", "none.hhr").unwrap();
        assert!(hits.is_empty());
    }
}
