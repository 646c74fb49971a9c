//! PDB format (wwPDB "Atomic Coordinate Entry Format" v3.3, fixed columns) to and from
//! [`Protein`].
//!
//! Reading follows what AlphaFold gets from Biopython's `PDBParser` in DeepMind's
//! `alphafold/common/protein.py::from_pdb_string`, with the choices AlphaFold's training data
//! pipeline makes for mmCIF (`alphafold/data/mmcif_parsing.py`, `templates.py`):
//! - only the first model (everything after the first `ENDMDL` or the second `MODEL` is ignored);
//! - alternate locations: per atom the highest occupancy wins, the first one on ties (Biopython's
//!   `DisorderedAtom` rule); a point mutation (one residue number, two residue names) keeps the
//!   residue name seen first;
//! - `MSE` (selenomethionine, a `HETATM` record) reads as `MET`, its `SE` atom as `SD`;
//! - residues that are not one of the 20 standard amino acids are skipped (waters, ligands,
//!   `UNK`), as are all other `HETATM` records, atoms outside atom37 (hydrogens) and residues
//!   left with no atom37 atom (AlphaFold's `np.sum(mask) < 0.5` rule);
//! - insertion codes are kept (AlphaFold refuses them), so `52` and `52A` are two residues;
//! - `SEQRES` records are kept per chain ([`PdbStructure::seqres`]);
//! - gzip-compressed files (`.pdb.gz`) read transparently.
//!
//! Writing matches `protein.to_pdb` (multimer version): `MODEL 1`, one `ATOM` line per present
//! atom with the residue's B-factor (pLDDT for predictions), `TER` after each chain, `ENDMDL`,
//! `END`, lines padded to 80 columns.
//!
//! Why not the `pdbtbx` crate: it keeps every conformer of an alternate location rather than
//! choosing one, has no MSE→MET rule, and its mmCIF side reads only `_atom_site` and the unit cell
//! (no `_entity_poly_seq`, no release date, no resolution), which AlphaFold's pipeline needs; the
//! fixed-column format is small enough to read here exactly as AlphaFold does.
use super::protein::Protein;
use super::text_file::read_text_file;
use crate::residue_constants::{
    atom37_index, one_letter_code, restype_index, ATOM_TYPES, ATOM_TYPE_NUM,
};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A PDB file's first model as a [`Protein`] plus the sequences its header declares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PdbStructure {
    pub protein: Protein,
    /// `SEQRES` residue names (three-letter, as written) per chain identifier; empty when the
    /// file has no `SEQRES` records.
    pub seqres: BTreeMap<String, Vec<String>>,
}

impl PdbStructure {
    /// One-letter `SEQRES` sequence of a chain (`MSE` as `M`, other non-standard residues `X`).
    pub fn seqres_sequence(&self, chain_id: &str) -> Option<String> {
        self.seqres.get(chain_id).map(|names| {
            names
                .iter()
                .map(|name| one_letter_code(name).unwrap_or('X'))
                .collect()
        })
    }
}

/// Reads every chain of a `.pdb` or `.pdb.gz` file.
pub fn read_pdb(path: &Path) -> Result<Protein> {
    Ok(read_pdb_structure(path)?.protein)
}

/// Reads a `.pdb` or `.pdb.gz` file with its `SEQRES` records.
pub fn read_pdb_structure(path: &Path) -> Result<PdbStructure> {
    let text = read_text_file(path)?;
    parse_pdb(&text).with_context(|| format!("reading PDB file {}", path.display()))
}

/// Parses PDB text; errors name the line (the caller adds the file).
pub fn parse_pdb(text: &str) -> Result<PdbStructure> {
    let mut builder = ProteinBuilder::default();
    let mut seqres: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut models_started = 0;
    for (line_index, raw_line) in text.lines().enumerate() {
        let line_number = line_index + 1;
        let line = raw_line.trim_end_matches('\r');
        let record = column(line, 0, 6).trim_end();
        match record {
            "ATOM" | "HETATM" | "SEQRES" if !line.is_ascii() => {
                bail!("line {line_number}: {record} record has non-ASCII characters");
            }
            "MODEL" => {
                models_started += 1;
                if models_started > 1 {
                    break;
                }
            }
            "ENDMDL" | "END" => break,
            "SEQRES" => {
                let chain = column(line, 11, 12).to_string();
                let names = column(line, 19, 70).split_whitespace().map(str::to_string);
                seqres.entry(chain).or_default().extend(names);
            }
            // Hetero groups other than MSE are skipped unread: waters of large entries may be
            // numbered beyond what the residue-number columns hold as a decimal.
            "HETATM" if column(line, 17, 20).trim() != "MSE" => {}
            "ATOM" | "HETATM" => {
                let atom = AtomRecord::parse(line)
                    .with_context(|| format!("line {line_number}: bad {record} record"))?;
                builder.add(atom);
            }
            _ => {}
        }
    }
    let protein = builder.finish();
    if protein.is_empty() {
        bail!("no amino-acid residues: found no ATOM records of standard residues (is this a PDB file?)");
    }
    Ok(PdbStructure { protein, seqres })
}

/// Columns `start..end` (0-based, end exclusive) of an ASCII line, cut short at its end.
fn column(line: &str, start: usize, end: usize) -> &str {
    line.get(start..end.min(line.len())).unwrap_or("")
}

/// The fields of one `ATOM`/`HETATM` line that the atom37 representation uses.
struct AtomRecord {
    atom_name: String,
    residue_name: String,
    chain_id: String,
    residue_number: i32,
    insertion_code: char,
    position: [f32; 3],
    occupancy: f32,
    b_factor: f32,
}

impl AtomRecord {
    fn parse(line: &str) -> Result<Self> {
        if line.len() < 54 {
            bail!("{} columns, but coordinates need columns 31-54", line.len());
        }
        let number = |name: &str, start: usize, end: usize| -> Result<f32> {
            let text = column(line, start, end).trim();
            text.parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| {
                    format!(
                        "{name} (columns {}-{end}) {text:?} is not a number",
                        start + 1
                    )
                })
        };
        let optional = |name: &str, start: usize, end: usize, default: f32| -> Result<f32> {
            if column(line, start, end).trim().is_empty() {
                Ok(default)
            } else {
                number(name, start, end)
            }
        };
        let residue_text = column(line, 22, 26).trim();
        let residue_number = residue_text.parse::<i32>().with_context(|| {
            format!("residue number (columns 23-26) {residue_text:?} is not an integer")
        })?;
        Ok(Self {
            atom_name: column(line, 12, 16).trim().to_string(),
            residue_name: column(line, 17, 20).trim().to_string(),
            chain_id: column(line, 21, 22).to_string(),
            residue_number,
            insertion_code: column(line, 26, 27).chars().next().unwrap_or(' '),
            position: [
                number("x", 30, 38)?,
                number("y", 38, 46)?,
                number("z", 46, 54)?,
            ],
            occupancy: optional("occupancy", 54, 60, 1.0)?,
            b_factor: optional("B-factor", 60, 66, 0.0)?,
        })
    }
}

/// One residue being assembled from its atom records.
struct ResidueAtoms {
    chain: usize,
    residue_name: String,
    aatype: usize,
    residue_number: i32,
    insertion_code: char,
    positions: [[f32; 3]; ATOM_TYPE_NUM],
    mask: [f32; ATOM_TYPE_NUM],
    b_factors: [f32; ATOM_TYPE_NUM],
    occupancy: [f32; ATOM_TYPE_NUM],
}

#[derive(Default)]
struct ProteinBuilder {
    chain_ids: Vec<String>,
    residues: Vec<ResidueAtoms>,
    residue_lookup: HashMap<(usize, i32, char), usize>,
}

impl ProteinBuilder {
    fn add(&mut self, atom: AtomRecord) {
        let Some(one_letter) = one_letter_code(&atom.residue_name) else {
            return;
        };
        let atom_name = if atom.residue_name == "MSE" && atom.atom_name == "SE" {
            "SD"
        } else {
            atom.atom_name.as_str()
        };
        let Some(slot) = atom37_index(atom_name) else {
            return;
        };
        let chain = match self.chain_ids.iter().position(|c| *c == atom.chain_id) {
            Some(chain) => chain,
            None => {
                self.chain_ids.push(atom.chain_id.clone());
                self.chain_ids.len() - 1
            }
        };
        let key = (chain, atom.residue_number, atom.insertion_code);
        let residue_slot = *self.residue_lookup.entry(key).or_insert_with(|| {
            self.residues.push(ResidueAtoms {
                chain,
                residue_name: atom.residue_name.clone(),
                aatype: restype_index(one_letter),
                residue_number: atom.residue_number,
                insertion_code: atom.insertion_code,
                positions: [[0.0; 3]; ATOM_TYPE_NUM],
                mask: [0.0; ATOM_TYPE_NUM],
                b_factors: [0.0; ATOM_TYPE_NUM],
                occupancy: [f32::NEG_INFINITY; ATOM_TYPE_NUM],
            });
            self.residues.len() - 1
        });
        let residue = &mut self.residues[residue_slot];
        if residue.residue_name != atom.residue_name || atom.occupancy <= residue.occupancy[slot] {
            return;
        }
        residue.positions[slot] = atom.position;
        residue.mask[slot] = 1.0;
        residue.b_factors[slot] = atom.b_factor;
        residue.occupancy[slot] = atom.occupancy;
    }

    /// Residues grouped by chain (chains in order of first appearance), each chain in file order.
    fn finish(self) -> Protein {
        let mut residues = self.residues;
        residues.sort_by_key(|r| r.chain);
        let used_chains: Vec<usize> = {
            let mut chains: Vec<usize> = residues.iter().map(|r| r.chain).collect();
            chains.dedup();
            chains
        };
        let mut protein = Protein {
            chain_ids: used_chains
                .iter()
                .map(|&c| self.chain_ids[c].clone())
                .collect(),
            ..Protein::default()
        };
        for residue in residues {
            let chain = used_chains
                .iter()
                .position(|&c| c == residue.chain)
                .unwrap_or(0);
            protein.aatype.push(residue.aatype);
            protein.atom_positions.push(residue.positions);
            protein.atom_mask.push(residue.mask);
            protein.residue_index.push(residue.residue_number);
            protein.insertion_code.push(residue.insertion_code);
            protein.chain_index.push(chain);
            protein.b_factors.push(residue.b_factors);
        }
        protein
    }
}

/// Chain letters AlphaFold's `protein.py` writes when a chain's own name does not fit PDB's
/// one column (`PDB_CHAIN_IDS`).
const PDB_CHAIN_LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The one-character chain names to write: the protein's own when they all fit, otherwise
/// AlphaFold's `A, B, ...` by chain order.
fn pdb_chain_letters(protein: &Protein) -> Result<Vec<char>> {
    let own: Vec<char> = protein
        .chain_ids
        .iter()
        .filter_map(|id| {
            let mut chars = id.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_alphanumeric() => Some(c),
                _ => None,
            }
        })
        .collect();
    let unique = own.iter().collect::<std::collections::HashSet<_>>().len() == own.len();
    if own.len() == protein.chain_ids.len() && unique {
        return Ok(own);
    }
    if protein.chain_ids.len() > PDB_CHAIN_LETTERS.len() {
        bail!(
            "{} chains do not fit PDB's one-character chain column (at most {})",
            protein.chain_ids.len(),
            PDB_CHAIN_LETTERS.len()
        );
    }
    Ok(PDB_CHAIN_LETTERS
        .chars()
        .take(protein.chain_ids.len())
        .collect())
}

/// Checks that a value fits a fixed-width PDB field written with `{:>width.decimals}`.
fn check_fits(what: &str, value: f32, width: usize, decimals: usize) -> Result<()> {
    let written = format!("{value:.decimals$}");
    if !value.is_finite() || written.len() > width {
        bail!("{what} {value} does not fit PDB's {width}-column field");
    }
    Ok(())
}

/// Writes a protein as PDB text (AlphaFold's `protein.to_pdb` layout).
pub fn to_pdb_string(protein: &Protein) -> Result<String> {
    protein.check_consistent()?;
    if protein.is_empty() {
        bail!("cannot write an empty protein as PDB");
    }
    let chain_letters = pdb_chain_letters(protein)?;
    let mut lines = vec!["MODEL     1".to_string()];
    let mut serial = 1usize;
    for i in 0..protein.len() {
        let name3 = protein.residue_name(i)?;
        let chain = chain_letters[protein.chain_index[i]];
        let number = protein.residue_index[i];
        if !(-999..=9999).contains(&number) {
            bail!("residue number {number} does not fit PDB's 4-column field");
        }
        let icode = protein.insertion_code[i];
        for (slot, atom_name) in ATOM_TYPES.iter().enumerate() {
            if protein.atom_mask[i][slot] < 0.5 {
                continue;
            }
            let [x, y, z] = protein.atom_positions[i][slot];
            for (axis, value) in [("x", x), ("y", y), ("z", z)] {
                check_fits(
                    &format!("residue {number} atom {atom_name} {axis}"),
                    value,
                    8,
                    3,
                )?;
            }
            let b_factor = protein.b_factors[i][slot];
            check_fits(&format!("residue {number} B-factor"), b_factor, 6, 2)?;
            if serial > 99_999 {
                bail!("more than 99999 atoms do not fit PDB's serial number field");
            }
            let padded_name = if atom_name.len() == 4 {
                atom_name.to_string()
            } else {
                format!(" {atom_name}")
            };
            let element = &atom_name[..1];
            lines.push(format!(
                "{:<6}{serial:>5} {padded_name:<4} {name3:>3} {chain}{number:>4}{icode}   \
                 {x:>8.3}{y:>8.3}{z:>8.3}{:>6.2}{b_factor:>6.2}          {element:>2}",
                "ATOM", 1.0f32
            ));
            serial += 1;
        }
        let chain_ends =
            i + 1 == protein.len() || protein.chain_index[i + 1] != protein.chain_index[i];
        if chain_ends {
            lines.push(format!(
                "{:<6}{serial:>5}      {name3:>3} {chain}{number:>4}{icode}",
                "TER"
            ));
            serial += 1;
        }
    }
    lines.push("ENDMDL".to_string());
    lines.push("END".to_string());
    let mut text = String::new();
    for line in lines {
        text.push_str(&format!("{line:<80}\n"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of a test atom record; the rest of the line is fixed.
    struct Record {
        record: &'static str,
        name: &'static str,
        alt: char,
        residue: &'static str,
        chain: char,
        number: i32,
        x: f32,
        occupancy: f32,
        b: f32,
    }

    /// A `CA` atom of `GLY 1` in chain `A`, fully occupied.
    const GLY_CA: Record = Record {
        record: "ATOM",
        name: "CA",
        alt: ' ',
        residue: "GLY",
        chain: 'A',
        number: 1,
        x: 1.0,
        occupancy: 1.0,
        b: 0.0,
    };

    /// The record as a line in the wwPDB column layout (y = 2, z = 3).
    fn atom_line(r: Record) -> String {
        let padded = if r.name.len() == 4 {
            r.name.to_string()
        } else {
            format!(" {}", r.name)
        };
        format!(
            "{:<6}{:>5} {padded:<4}{}{:>3} {}{:>4}    {:>8.3}{:>8.3}{:>8.3}{:>6.2}{:>6.2}           {}",
            r.record, 1, r.alt, r.residue, r.chain, r.number, r.x, 2.0, 3.0, r.occupancy, r.b, &r.name[..1]
        )
    }

    #[test]
    fn alternate_locations_keep_the_highest_occupancy_then_the_first() {
        let text = [
            atom_line(Record {
                alt: 'A',
                residue: "SER",
                number: 5,
                occupancy: 0.40,
                b: 10.0,
                ..GLY_CA
            }),
            atom_line(Record {
                alt: 'B',
                residue: "SER",
                number: 5,
                x: 2.0,
                occupancy: 0.60,
                b: 11.0,
                ..GLY_CA
            }),
            atom_line(Record {
                name: "OG",
                alt: 'A',
                residue: "SER",
                number: 5,
                x: 3.0,
                occupancy: 0.50,
                b: 12.0,
                ..GLY_CA
            }),
            atom_line(Record {
                name: "OG",
                alt: 'B',
                residue: "SER",
                number: 5,
                x: 4.0,
                occupancy: 0.50,
                b: 13.0,
                ..GLY_CA
            }),
        ]
        .join("\n");
        let protein = parse_pdb(&text).unwrap().protein;
        let ca = atom37_index("CA").unwrap();
        let og = atom37_index("OG").unwrap();
        assert_eq!(protein.atom_positions[0][ca][0], 2.0);
        assert_eq!(protein.b_factors[0][ca], 11.0);
        assert_eq!(protein.atom_positions[0][og][0], 3.0);
    }

    #[test]
    fn selenomethionine_reads_as_methionine_and_hetero_groups_are_skipped() {
        let text = [
            atom_line(Record {
                record: "HETATM",
                residue: "MSE",
                b: 5.0,
                ..GLY_CA
            }),
            atom_line(Record {
                record: "HETATM",
                name: "SE",
                residue: "MSE",
                x: 2.0,
                b: 5.0,
                ..GLY_CA
            }),
            atom_line(Record {
                record: "HETATM",
                name: "O",
                residue: "HOH",
                number: 2,
                x: 3.0,
                b: 5.0,
                ..GLY_CA
            }),
            atom_line(Record {
                residue: "UNK",
                number: 3,
                x: 4.0,
                b: 5.0,
                ..GLY_CA
            }),
            atom_line(Record {
                record: "HETATM",
                residue: "ALA",
                number: 4,
                x: 4.0,
                b: 5.0,
                ..GLY_CA
            }),
        ]
        .join("\n");
        let protein = parse_pdb(&text).unwrap().protein;
        assert_eq!(protein.len(), 1);
        assert_eq!(protein.aatype, vec![restype_index('M')]);
        assert_eq!(protein.atom_mask[0][atom37_index("SD").unwrap()], 1.0);
        assert_eq!(
            protein.atom_positions[0][atom37_index("SD").unwrap()][0],
            2.0
        );
    }

    #[test]
    fn insertion_codes_models_and_chains() {
        let mut with_insertion = atom_line(Record {
            chain: 'B',
            number: 52,
            ..GLY_CA
        });
        with_insertion.replace_range(26..27, "A");
        let text = [
            "MODEL        1".to_string(),
            atom_line(Record {
                chain: 'B',
                number: 52,
                ..GLY_CA
            }),
            with_insertion,
            atom_line(GLY_CA),
            atom_line(Record {
                chain: 'B',
                number: 53,
                ..GLY_CA
            }),
            "ENDMDL".to_string(),
            "MODEL        2".to_string(),
            atom_line(Record {
                chain: 'C',
                ..GLY_CA
            }),
        ]
        .join("\n");
        let protein = parse_pdb(&text).unwrap().protein;
        assert_eq!(protein.chain_ids, vec!["B".to_string(), "A".to_string()]);
        assert_eq!(protein.residue_index, vec![52, 52, 53, 1]);
        assert_eq!(protein.insertion_code, vec![' ', 'A', ' ', ' ']);
        assert_eq!(protein.chain_index, vec![0, 0, 0, 1]);
    }

    #[test]
    fn seqres_records_are_kept_per_chain() {
        let text = format!(
            "SEQRES   1 A    3  MET MSE HOH\nSEQRES   2 A    3  GLY\n{}",
            atom_line(GLY_CA)
        );
        let structure = parse_pdb(&text).unwrap();
        assert_eq!(structure.seqres["A"], vec!["MET", "MSE", "HOH", "GLY"]);
        assert_eq!(structure.seqres_sequence("A").as_deref(), Some("MMXG"));
    }

    #[test]
    fn broken_records_name_the_line() {
        let good = atom_line(GLY_CA);
        let truncated = format!("{good}\n{}", &good[..40]);
        let err = format!("{:#}", parse_pdb(&truncated).unwrap_err());
        assert!(
            err.contains("line 2") && err.contains("coordinates need columns 31-54"),
            "{err}"
        );

        let mut bad_x = good.clone();
        bad_x.replace_range(30..38, "  abc.de");
        let err = format!("{:#}", parse_pdb(&bad_x).unwrap_err());
        assert!(
            err.contains("line 1") && err.contains("\"abc.de\" is not a number"),
            "{err}"
        );

        let err = format!("{:#}", parse_pdb(">query\nMKV\n").unwrap_err());
        assert!(err.contains("no amino-acid residues"), "{err}");
        assert!(parse_pdb("").is_err());
    }

    #[test]
    fn writer_lays_out_columns_like_alphafold() {
        let text = [
            atom_line(Record {
                name: "N",
                residue: "MET",
                ..GLY_CA
            }),
            atom_line(Record {
                residue: "MET",
                x: 1.5,
                ..GLY_CA
            }),
            atom_line(Record {
                chain: 'B',
                number: 7,
                x: -10.25,
                ..GLY_CA
            }),
        ]
        .join("\n");
        let mut protein = parse_pdb(&text).unwrap().protein;
        protein.set_residue_b_factors(&[87.5, 42.0]).unwrap();
        let written = to_pdb_string(&protein).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        // Expected lines composed from `protein.to_pdb`'s format string in DeepMind's
        // alphafold/common/protein.py, then padded to 80 columns as it does.
        let expected = [
            "MODEL     1",
            "ATOM      1  N   MET A   1       1.000   2.000   3.000  1.00 87.50           N",
            "ATOM      2  CA  MET A   1       1.500   2.000   3.000  1.00 87.50           C",
            "TER       3      MET A   1",
            "ATOM      4  CA  GLY B   7     -10.250   2.000   3.000  1.00 42.00           C",
            "TER       5      GLY B   7",
            "ENDMDL",
            "END",
        ];
        assert_eq!(lines.len(), expected.len());
        for (line, want) in lines.iter().zip(expected) {
            assert_eq!(line.trim_end(), want);
            assert_eq!(line.len(), 80);
        }
        let reread = parse_pdb(&written).unwrap().protein;
        assert_eq!(reread.atom_positions, protein.atom_positions);
        assert_eq!(reread.atom_mask, protein.atom_mask);
        assert_eq!(reread.chain_ids, protein.chain_ids);
        assert_eq!(reread.b_factors[0][atom37_index("N").unwrap()], 87.5);
        assert_eq!(reread.b_factors[1][atom37_index("CA").unwrap()], 42.0);
    }

    #[test]
    fn writer_refuses_values_that_do_not_fit() {
        let text = atom_line(GLY_CA);
        let mut protein = parse_pdb(&text).unwrap().protein;
        protein.atom_positions[0][1][0] = 123456.0;
        assert!(to_pdb_string(&protein)
            .unwrap_err()
            .to_string()
            .contains("does not fit"));
        protein.atom_positions[0][1][0] = 0.0;
        protein.aatype[0] = 21;
        assert!(to_pdb_string(&protein).is_err());
        assert!(to_pdb_string(&Protein::default()).is_err());
    }
}
