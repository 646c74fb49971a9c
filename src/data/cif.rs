//! CIF 1.1 syntax (Hall, Allen & Brown (1991) Acta Cryst. A47, 655; the STAR/CIF grammar the
//! wwPDB's mmCIF files use): data blocks, `_tag value` pairs, `loop_` tables, quoted strings,
//! `;`-delimited text fields and `#` comments, read into one tag → values table per block, as
//! Biopython's `MMCIF2Dict` gives AlphaFold (`alphafold/data/mmcif_parsing.py` reads everything
//! through it).
//!
//! Tags are matched case-insensitively (CIF tags are), values keep their case. Unlike
//! `MMCIF2Dict`, every value remembers its line, so that the mmCIF layer can point at the exact
//! line of a bad value, and a repeated tag is an error rather than a silent overwrite.
use super::text_file::read_text_file;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;

/// One `data_` block: every tag with its column of values (length 1 for a plain pair).
#[derive(Debug, Clone, Default)]
pub struct CifBlock {
    pub name: String,
    tags: Vec<String>,
    columns: Vec<Vec<String>>,
    value_lines: Vec<Vec<usize>>,
    index: HashMap<String, usize>,
}

impl CifBlock {
    /// Tags in file order, lower-cased (`_atom_site.cartn_x`).
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(String::as_str)
    }

    /// All values of a tag (like `MMCIF2Dict[tag]`).
    pub fn values(&self, tag: &str) -> Option<&[String]> {
        self.index
            .get(&tag.to_ascii_lowercase())
            .map(|&i| self.columns[i].as_slice())
    }

    /// The first value of a tag.
    pub fn first(&self, tag: &str) -> Option<&str> {
        self.values(tag).and_then(|v| v.first()).map(String::as_str)
    }

    /// Line (1-based) of a tag's `row`-th value.
    pub fn value_line(&self, tag: &str, row: usize) -> Option<usize> {
        let column = *self.index.get(&tag.to_ascii_lowercase())?;
        self.value_lines[column].get(row).copied()
    }

    /// The category `prefix` (e.g. `_entity_poly_seq.`) as a table; `None` when the block has no
    /// tag of that category, an error when its columns differ in length.
    pub fn table(&self, prefix: &str) -> Result<Option<CifTable<'_>>> {
        let prefix = prefix.to_ascii_lowercase();
        let columns: Vec<usize> = (0..self.tags.len())
            .filter(|&i| self.tags[i].starts_with(&prefix))
            .collect();
        let Some(&first) = columns.first() else {
            return Ok(None);
        };
        let rows = self.columns[first].len();
        if let Some(&odd) = columns.iter().find(|&&c| self.columns[c].len() != rows) {
            bail!(
                "line {}: {} has {} values but {} has {rows}",
                self.value_lines[odd].first().copied().unwrap_or(0),
                self.tags[odd],
                self.columns[odd].len(),
                self.tags[first]
            );
        }
        Ok(Some(CifTable {
            block: self,
            prefix,
            rows,
        }))
    }

    fn insert(&mut self, tag: &Token, values: Vec<String>, lines: Vec<usize>) -> Result<()> {
        let key = tag.text.to_ascii_lowercase();
        if self.index.contains_key(&key) {
            bail!(
                "line {}: tag {} appears twice in block data_{}",
                tag.line,
                tag.text,
                self.name
            );
        }
        self.index.insert(key.clone(), self.tags.len());
        self.tags.push(key);
        self.columns.push(values);
        self.value_lines.push(lines);
        Ok(())
    }
}

/// The rows of one category (all tags sharing a prefix), with columns looked up by their name
/// after the prefix.
pub struct CifTable<'a> {
    block: &'a CifBlock,
    prefix: String,
    rows: usize,
}

impl<'a> CifTable<'a> {
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Column `name` (`"cartn_x"` for `_atom_site.Cartn_x`), if present.
    pub fn column(&self, name: &str) -> Option<&'a [String]> {
        self.block.values(&format!("{}{name}", self.prefix))
    }

    /// Column `name`, or an error naming the missing tag.
    pub fn required(&self, name: &str) -> Result<&'a [String]> {
        self.column(name).with_context(|| {
            format!(
                "the {} table has no {}{name} column",
                self.prefix, self.prefix
            )
        })
    }

    /// Line of row `row` in column `name` (0 when unknown), for error messages.
    pub fn line(&self, name: &str, row: usize) -> usize {
        self.block
            .value_line(&format!("{}{name}", self.prefix), row)
            .unwrap_or(0)
    }
}

/// Whether a value is set: CIF writes `?` for unknown and `.` for not applicable.
pub fn is_set(value: &str) -> bool {
    value != "?" && value != "."
}

/// Reads a `.cif` or `.cif.gz` file.
pub fn read_cif(path: &Path) -> Result<Vec<CifBlock>> {
    let text = read_text_file(path)?;
    parse_cif(&text).with_context(|| format!("reading CIF file {}", path.display()))
}

/// Parses CIF text into its data blocks; errors name the line.
pub fn parse_cif(text: &str) -> Result<Vec<CifBlock>> {
    let mut tokens = Lexer::new(text).peekable();
    let mut blocks: Vec<CifBlock> = Vec::new();
    while let Some(token) = tokens.next() {
        let token = token?;
        match token.kind {
            TokenKind::DataBlock => blocks.push(CifBlock {
                name: token.text["data_".len()..].to_string(),
                ..CifBlock::default()
            }),
            TokenKind::Tag => {
                let Some(block) = blocks.last_mut() else {
                    bail!(
                        "line {}: tag {} comes before any data_ block",
                        token.line,
                        token.text
                    );
                };
                match tokens.next().transpose()? {
                    Some(value) if value.kind == TokenKind::Value => {
                        block.insert(&token, vec![value.text], vec![value.line])?
                    }
                    _ => bail!("line {}: tag {} has no value", token.line, token.text),
                }
            }
            TokenKind::Loop => {
                let Some(block) = blocks.last_mut() else {
                    bail!("line {}: loop_ comes before any data_ block", token.line);
                };
                let mut tags = Vec::new();
                while let Some(Ok(next)) = tokens.peek() {
                    if next.kind != TokenKind::Tag {
                        break;
                    }
                    tags.push(tokens.next().transpose()?.context("tag vanished")?);
                }
                if tags.is_empty() {
                    bail!("line {}: loop_ has no tags", token.line);
                }
                let mut columns = vec![Vec::new(); tags.len()];
                let mut lines = vec![Vec::new(); tags.len()];
                let mut count = 0usize;
                while let Some(next) = tokens.peek() {
                    match next {
                        Ok(value) if value.kind == TokenKind::Value => {}
                        Ok(_) => break,
                        Err(_) => {
                            tokens.next().transpose()?;
                            break;
                        }
                    }
                    let value = tokens.next().transpose()?.context("value vanished")?;
                    columns[count % tags.len()].push(value.text);
                    lines[count % tags.len()].push(value.line);
                    count += 1;
                }
                if !count.is_multiple_of(tags.len()) {
                    bail!(
                        "line {}: loop_ of {} has {} tags but {count} values, not a whole number of rows \
                         (truncated file?)",
                        token.line,
                        tags[0].text,
                        tags.len()
                    );
                }
                for ((tag, column), column_lines) in tags.iter().zip(columns).zip(lines) {
                    block.insert(tag, column, column_lines)?;
                }
            }
            TokenKind::Value => bail!("line {}: value {:?} has no tag", token.line, token.text),
            TokenKind::Reserved => {
                bail!(
                    "line {}: {} is not supported in mmCIF data files",
                    token.line,
                    token.text
                )
            }
        }
    }
    if blocks.is_empty() {
        bail!("no data_ block (empty input, or not a CIF file)");
    }
    Ok(blocks)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    DataBlock,
    Loop,
    Tag,
    Value,
    /// `save_`, `global_`, `stop_`: dictionary syntax that data files do not use.
    Reserved,
}

#[derive(Debug)]
struct Token {
    kind: TokenKind,
    text: String,
    line: usize,
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    failed: bool,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            line: 1,
            failed: false,
        }
    }

    fn at_line_start(&self) -> bool {
        self.pos == 0 || self.bytes[self.pos - 1] == b'\n'
    }

    /// Skips whitespace and comments; returns whether a token follows.
    fn skip_blank(&mut self) -> bool {
        while let Some(&byte) = self.bytes.get(self.pos) {
            match byte {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'#' => {
                    self.pos = self.text[self.pos..]
                        .find('\n')
                        .map_or(self.bytes.len(), |i| self.pos + i);
                }
                _ => return true,
            }
        }
        false
    }

    fn text_field(&mut self) -> Result<Token> {
        let start_line = self.line;
        let body_start = self.pos + 1;
        let Some(end) = self.text[body_start..].find("\n;").map(|i| body_start + i) else {
            bail!(
                "line {start_line}: text field opened with ';' is never closed (truncated file?)"
            );
        };
        let body = &self.text[body_start..end];
        self.line += body.matches('\n').count() + 1;
        self.pos = end + 2;
        let value = body.trim_end_matches('\r').to_string();
        Ok(Token {
            kind: TokenKind::Value,
            text: value,
            line: start_line,
        })
    }

    /// A quoted value ends at the same quote followed by whitespace or the end of input
    /// (CIF 1.1: a quote followed by a non-blank character is part of the value).
    fn quoted(&mut self, quote: u8) -> Result<Token> {
        let start = self.pos + 1;
        let mut i = start;
        while let Some(&byte) = self.bytes.get(i) {
            if byte == b'\n' {
                break;
            }
            if byte == quote
                && self
                    .bytes
                    .get(i + 1)
                    .is_none_or(|b| b.is_ascii_whitespace())
            {
                self.pos = i + 1;
                return Ok(Token {
                    kind: TokenKind::Value,
                    text: self.text[start..i].to_string(),
                    line: self.line,
                });
            }
            i += 1;
        }
        bail!(
            "line {}: quoted string starting with {} is not closed on its line",
            self.line,
            quote as char
        )
    }

    fn bare(&mut self) -> Token {
        let start = self.pos;
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| !b.is_ascii_whitespace())
        {
            self.pos += 1;
        }
        let word = &self.text[start..self.pos];
        let lower = word.to_ascii_lowercase();
        let kind = if word.starts_with('_') {
            TokenKind::Tag
        } else if lower.starts_with("data_") {
            TokenKind::DataBlock
        } else if lower == "loop_" {
            TokenKind::Loop
        } else if lower.starts_with("save_") || lower == "global_" || lower == "stop_" {
            TokenKind::Reserved
        } else {
            TokenKind::Value
        };
        Token {
            kind,
            text: word.to_string(),
            line: self.line,
        }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Result<Token>;

    fn next(&mut self) -> Option<Result<Token>> {
        if self.failed || !self.skip_blank() {
            return None;
        }
        let token = match self.bytes[self.pos] {
            b';' if self.at_line_start() => self.text_field(),
            quote @ (b'\'' | b'"') => self.quoted(quote),
            _ => Ok(self.bare()),
        };
        self.failed = token.is_err();
        Some(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "data_1ABC\n\
        # a comment\n\
        _entry.id 1ABC\n\
        _struct.title 'it''s quoted'\n\
        _exptl.method \"X-RAY DIFFRACTION\"\n\
        _struct.pdbx_descriptor\n\
        ;first line\n\
        second line\n\
        ;\n\
        loop_\n\
        _atom_site.id\n\
        _atom_site.label_atom_id\n\
        _atom_site.label_alt_id\n\
        1 N . 2 \"O5'\" ?\n\
        3 CA#x A\n";

    #[test]
    fn reads_pairs_quotes_text_fields_and_loops() {
        let blocks = parse_cif(SAMPLE).unwrap();
        assert_eq!(blocks.len(), 1);
        let block = &blocks[0];
        assert_eq!(block.name, "1ABC");
        assert_eq!(block.first("_entry.id"), Some("1ABC"));
        assert_eq!(block.first("_struct.title"), Some("it''s quoted"));
        assert_eq!(block.first("_EXPTL.METHOD"), Some("X-RAY DIFFRACTION"));
        assert_eq!(
            block.first("_struct.pdbx_descriptor"),
            Some("first line\nsecond line")
        );
        let atoms = block.table("_atom_site.").unwrap().unwrap();
        assert_eq!(atoms.len(), 3);
        assert_eq!(
            atoms.required("label_atom_id").unwrap(),
            ["N", "O5'", "CA#x"]
        );
        assert_eq!(atoms.required("label_alt_id").unwrap(), [".", "?", "A"]);
        assert_eq!(atoms.line("id", 2), 15);
        assert!(!is_set(&atoms.required("label_alt_id").unwrap()[0]));
        assert!(block.table("_refine.").unwrap().is_none());
        assert!(atoms
            .required("cartn_x")
            .unwrap_err()
            .to_string()
            .contains("_atom_site.cartn_x"));
    }

    #[test]
    fn malformed_input_names_the_line() {
        let cases = [
            (
                "data_x\nloop_\n_a.b\n_a.c\n1 2 3\n",
                "line 2",
                "not a whole number of rows",
            ),
            ("data_x\n_a.b\n;never closed\n", "line 3", "never closed"),
            ("data_x\n_a.b 'open\n", "line 2", "not closed"),
            ("data_x\n_a.b\n_a.c 1\n", "line 2", "has no value"),
            ("_a.b 1\n", "line 1", "before any data_ block"),
            ("data_x\n_a.b 1\n_A.B 2\n", "line 3", "appears twice"),
            ("data_x\nstray\n", "line 2", "has no tag"),
            ("", "", "no data_ block"),
        ];
        for (text, line, message) in cases {
            let err = parse_cif(text).unwrap_err().to_string();
            assert!(
                err.contains(line) && err.contains(message),
                "{text:?}: {err}"
            );
        }
    }
}
