//! Multi-record FASTA, as DeepMind's `alphafold/data/parsers.py` `parse_fasta` reads it: a record
//! is a `>` header line (its description) followed by sequence lines joined together; blank lines
//! are skipped and lines are stripped of surrounding whitespace.
//!
//! Unlike AlphaFold, which accepts anything, this parser rejects input that is not FASTA: an empty
//! file, text before the first `>`, a record with no sequence, and characters that are not residue
//! letters. Every error names the source and the line. The record reader is shared with the A3M
//! parser (`msa.rs`), whose alphabet differs.
use super::text_file::{check_no_nul, read_text_file};
use anyhow::{bail, Result};
use std::path::Path;

/// One FASTA record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastaRecord {
    /// Header text after `>`.
    pub description: String,
    /// Sequence lines joined, whitespace removed.
    pub sequence: String,
}

/// A record with the 1-based line number of its header, for error messages of formats built on
/// FASTA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocatedRecord {
    pub record: FastaRecord,
    pub header_line: usize,
}

/// What a FASTA-like format accepts.
pub(crate) struct RecordSyntax {
    /// Name of the format for error messages (`FASTA`, `A3M`).
    pub format: &'static str,
    /// Whether a sequence character is allowed.
    pub residue_ok: fn(char) -> bool,
    /// Whether lines starting with `#` before the first record are skipped (ColabFold writes a
    /// `#<lengths>\t<cardinalities>` line at the top of its A3M files).
    pub leading_comments: bool,
}

/// FASTA sequences: residue letters (any case) and `-` for aligned FASTA.
fn is_fasta_residue(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '-'
}

const FASTA_SYNTAX: RecordSyntax = RecordSyntax {
    format: "FASTA",
    residue_ok: is_fasta_residue,
    leading_comments: false,
};

/// Parses FASTA `text`; `source` (usually the file name) prefixes every error.
pub fn parse_fasta(text: &str, source: &str) -> Result<Vec<FastaRecord>> {
    Ok(parse_records(text, source, &FASTA_SYNTAX)?
        .into_iter()
        .map(|r| r.record)
        .collect())
}

/// Reads and parses a FASTA file.
pub fn read_fasta(path: &Path) -> Result<Vec<FastaRecord>> {
    parse_fasta(&read_text_file(path)?, &path.display().to_string())
}

/// Splits FASTA-like `text` into records, checking the syntax.
pub(crate) fn parse_records(
    text: &str,
    source: &str,
    syntax: &RecordSyntax,
) -> Result<Vec<LocatedRecord>> {
    check_no_nul(text, source)?;
    let format = syntax.format;
    let mut records: Vec<LocatedRecord> = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = raw_line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(description) = line.strip_prefix('>') {
            if let Some(previous) = records.last() {
                check_has_sequence(previous, source)?;
            }
            records.push(LocatedRecord {
                record: FastaRecord {
                    description: description.to_string(),
                    sequence: String::new(),
                },
                header_line: line_number,
            });
            continue;
        }
        let Some(current) = records.last_mut() else {
            if syntax.leading_comments && line.starts_with('#') {
                continue;
            }
            bail!("{source}:{line_number}: text before the first '>' header; this is not {format}");
        };
        for (column, c) in line.chars().enumerate() {
            if c.is_whitespace() {
                continue;
            }
            if !(syntax.residue_ok)(c) {
                bail!(
                    "{source}:{line_number}:{}: {c:?} is not a residue letter allowed in {format}",
                    column + 1
                );
            }
            current.record.sequence.push(c);
        }
    }
    match records.last() {
        None => bail!("{source}: empty input, no '>' record found; expected {format}"),
        Some(last) => check_has_sequence(last, source)?,
    }
    Ok(records)
}

fn check_has_sequence(record: &LocatedRecord, source: &str) -> Result<()> {
    if record.record.sequence.is_empty() {
        bail!(
            "{source}:{}: record '>{}' has no sequence (truncated file?)",
            record.header_line,
            record.record.description
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::shared_data;

    #[test]
    fn parses_multi_record_fasta_with_blank_lines_and_wrapping() {
        let text = ">first protein\nMKV\nLLA\n\n>second\r\nGG-\n";
        let records = parse_fasta(text, "mem.fasta").unwrap();
        assert_eq!(
            records,
            vec![
                FastaRecord {
                    description: "first protein".into(),
                    sequence: "MKVLLA".into()
                },
                FastaRecord {
                    description: "second".into(),
                    sequence: "GG-".into()
                },
            ]
        );
    }

    #[test]
    fn reads_casp14_targets() {
        // Lengths from the headers of the CASP14 FASTA files ("172 residues", "404 residues").
        for (target, length) in [("T1026", 172), ("T1037", 404)] {
            let Some(path) = shared_data(&format!("casp14_demo/{target}/{target}.fasta")) else {
                return;
            };
            let records = read_fasta(&path).unwrap();
            assert_eq!(records.len(), 1);
            assert!(
                records[0].description.starts_with(target),
                "{}",
                records[0].description
            );
            assert_eq!(records[0].sequence.len(), length);
        }
    }

    #[test]
    fn reads_openfold_query() {
        let Some(path) = shared_data("openfold_mini/query/short.fasta") else {
            return;
        };
        let records = read_fasta(&path).unwrap();
        // `short.fasta` holds one record, `>query`, of 73 residues (its .hhr says Match_columns 73).
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].description, "query");
        assert_eq!(records[0].sequence.len(), 73);
        assert!(records[0].sequence.starts_with("MAAHKGAEHH"));
    }

    #[test]
    fn empty_input_is_an_error() {
        let err = parse_fasta(" \n\n", "empty.fasta").unwrap_err().to_string();
        assert!(
            err.starts_with("empty.fasta:") && err.contains("empty input"),
            "{err}"
        );
    }

    #[test]
    fn text_before_first_header_names_the_line() {
        let err = parse_fasta("\nMKV\n>a\nMKV\n", "x.fasta")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("x.fasta:2:") && err.contains("before the first '>'"),
            "{err}"
        );
    }

    #[test]
    fn record_without_sequence_names_its_header_line() {
        let err = parse_fasta(">a\nMKV\n>b\n>c\nMK\n", "x.fasta")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("x.fasta:3:") && err.contains("'>b' has no sequence"),
            "{err}"
        );
        let err = parse_fasta(">a\nMKV\n>truncated", "y.fasta")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("y.fasta:3:"), "{err}");
    }

    #[test]
    fn non_residue_characters_name_line_and_column() {
        let err = parse_fasta(">a\nMKV\nMK7V\n", "x.fasta")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("x.fasta:3:3:") && err.contains("'7'"),
            "{err}"
        );
        let err = parse_fasta(">a\nMKÄ\n", "u.fasta").unwrap_err().to_string();
        assert!(err.starts_with("u.fasta:2:3:"), "{err}");
    }

    #[test]
    fn other_formats_are_rejected() {
        let pdb =
            "ATOM      1  N   MET A   1      11.104   6.134  -6.504  1.00  0.00           N\n";
        assert!(parse_fasta(pdb, "x.pdb").is_err());
        let nul = ">a\nMK\0V\n";
        let err = parse_fasta(nul, "bin").unwrap_err().to_string();
        assert!(err.contains("bin") && err.contains("NUL"), "{err}");
    }

    #[test]
    fn binary_file_is_reported_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.fasta");
        std::fs::write(&path, [0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00]).unwrap();
        let err = read_fasta(&path).unwrap_err().to_string();
        assert!(
            err.contains("garbage.fasta") && err.contains("byte offset"),
            "{err}"
        );
    }
}
