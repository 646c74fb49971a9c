//! mmCIF structure files as AlphaFold's data pipeline sees them: DeepMind's
//! `alphafold/data/mmcif_parsing.py` (`MmcifObject`: header, SEQRES per chain, the map from SEQRES
//! positions to observed residues) and `alphafold/data/templates.py::_get_atom_positions`
//! (a chain's atom37 coordinates, [`mmcif_chain_to_protein`]).
//!
//! Behaviour kept from AlphaFold:
//! - header: `structure_method` is the lower-cased `_exptl.method` values joined by `,`;
//!   `release_date` is the earliest `_pdbx_audit_revision_history.revision_date`; `resolution`
//!   reads `_refine.ls_d_res_high`, `_em_3d_reconstruction.resolution` and
//!   `_reflns.d_resolution_high` in that order, a later readable value replacing an earlier one,
//!   0.0 when none is readable;
//! - protein chains are the polymer entities of `_entity_poly_seq` with at least one monomer whose
//!   `_chem_comp.type` contains "peptide", expanded to their `_struct_asym` chains; results are
//!   keyed by author chain id (`auth_asym_id`);
//! - only the first model's atoms count; SEQRES index = `label_seq_id` − the chain's first `num`;
//!   `hetflag` is `" "`, `"W"` for water or `"H_<name>"` for other `HETATM` groups;
//! - atoms: alternate locations resolved as Biopython does (highest occupancy, first on ties),
//!   MSE's `SE` stored as `SD`, arginine `NH1`/`NH2` swapped when `NH1` is the farther from `CD`.
//!
//! Deliberate differences, each where AlphaFold would fail or misalign:
//! - one-letter SEQRES codes use [`one_letter_code`] (`MSE` → `M`); with Biopython ≥ 1.80,
//!   `PDBData.protein_letters_3to1` has only the 20 standard residues and turns `MSE` into `X`;
//! - microheterogeneity (two monomers at one `_entity_poly_seq.num`) keeps the first monomer,
//!   where AlphaFold appends both and shifts every later SEQRES index;
//! - a protein chain with no atom in the first model is left out (AlphaFold raises `KeyError`);
//! - a monomer missing from `_chem_comp` counts as peptide when it is a standard amino acid;
//! - at one SEQRES position, the first residue name seen wins (AlphaFold keeps the last).
//!
//! Why no `pdbtbx`: its mmCIF reader keeps only `_atom_site` and the unit cell, so it has no
//! `_entity_poly_seq`, release date or resolution, and no AlphaFold-style alternate-location
//! choice; the generic CIF dictionary in [`super::cif`] gives every category instead.
use super::cif::{is_set, read_cif, CifBlock, CifTable};
use super::protein::Protein;
use crate::residue_constants::{atom37_index, one_letter_code, restype_index, ATOM_TYPE_NUM};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Experiment metadata AlphaFold filters training and template structures on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MmcifHeader {
    /// Lower-cased experimental methods joined by `,` (e.g. `"x-ray diffraction"`).
    pub structure_method: String,
    /// Earliest revision date, `YYYY-MM-DD`; `None` when the file has no revision history.
    pub release_date: Option<String>,
    /// Resolution in Å; 0.0 when unknown (NMR).
    pub resolution: f64,
}

/// Where a SEQRES residue sits in the structure (author numbering).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResiduePosition {
    pub chain_id: String,
    pub residue_number: i32,
    pub insertion_code: char,
}

/// One SEQRES position of a chain: the observed residue, or a missing one.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidueAtPosition {
    /// `None` when the residue is missing from the structure.
    pub position: Option<ResiduePosition>,
    /// Three-letter residue name.
    pub name: String,
    pub is_missing: bool,
    /// `" "`, `"W"` (water) or `"H_<name>"` (hetero group), as in Biopython residue ids.
    pub hetflag: String,
}

/// An atom of the first model, alternate location already chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct MmcifAtom {
    /// `label_atom_id`, e.g. `CA`.
    pub name: String,
    pub position: [f32; 3],
    pub occupancy: f32,
    pub b_factor: f32,
}

/// An observed residue of the first model.
#[derive(Debug, Clone, PartialEq)]
pub struct MmcifResidue {
    pub name: String,
    pub atoms: Vec<MmcifAtom>,
}

/// A residue's identity in the structure: author chain, hetflag, author number, insertion code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResidueKey {
    pub position: ResiduePosition,
    pub hetflag: String,
}

/// A parsed mmCIF file (AlphaFold's `mmcif_parsing.MmcifObject`).
#[derive(Debug, Clone)]
pub struct MmcifObject {
    /// A name for the file, e.g. the PDB id.
    pub file_id: String,
    pub header: MmcifHeader,
    /// One-letter SEQRES sequence per author chain id (non-standard residues as `X`).
    pub chain_to_seqres: BTreeMap<String, String>,
    /// Per author chain id, entry `i` describes SEQRES position `i`.
    pub seqres_to_structure: BTreeMap<String, Vec<ResidueAtPosition>>,
    /// The first model's residues of the protein chains.
    pub structure: HashMap<ResidueKey, MmcifResidue>,
    /// Every category of the data block (AlphaFold's `raw_string`, the `MMCIF2Dict`).
    pub raw: CifBlock,
}

impl MmcifObject {
    /// The observed residue at a SEQRES position (`None` for missing residues).
    pub fn residue(&self, at: &ResidueAtPosition) -> Option<&MmcifResidue> {
        let position = at.position.clone()?;
        self.structure.get(&ResidueKey {
            position,
            hetflag: at.hetflag.clone(),
        })
    }
}

/// Reads a `.cif` or `.cif.gz` file; `file_id` is the file name up to its first dot (`3u8v`).
pub fn read_mmcif(path: &Path) -> Result<MmcifObject> {
    let blocks = read_cif(path)?;
    let file_id = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('.').next())
        .unwrap_or_default()
        .to_string();
    let block = blocks.into_iter().next().context("no data block")?;
    mmcif_from_block(block, &file_id)
        .with_context(|| format!("reading mmCIF file {}", path.display()))
}

/// Parses mmCIF text (the first data block); errors name the line.
pub fn parse_mmcif(text: &str, file_id: &str) -> Result<MmcifObject> {
    let block = super::cif::parse_cif(text)?
        .into_iter()
        .next()
        .context("no data block")?;
    mmcif_from_block(block, file_id)
}

/// A SEQRES monomer: residue name and its `_entity_poly_seq.num`.
struct Monomer {
    name: String,
    num: i64,
}

/// Builds the AlphaFold view of one data block.
pub fn mmcif_from_block(block: CifBlock, file_id: &str) -> Result<MmcifObject> {
    let header = read_header(&block)?;
    let protein_chains = protein_chains(&block)?;
    if protein_chains.is_empty() {
        bail!("no protein chains (no _entity_poly_seq entity of peptide monomers)");
    }
    let atom_table = block
        .table("_atom_site.")?
        .context("no _atom_site table (no coordinates)")?;
    let atoms = AtomSiteColumns::new(&atom_table)?;

    let chain_index: HashMap<&str, usize> = protein_chains
        .iter()
        .enumerate()
        .map(|(i, (label, _))| (label.as_str(), i))
        .collect();
    let mut author_chain: Vec<Option<String>> = vec![None; protein_chains.len()];
    let mut observed: Vec<Vec<Option<ResidueAtPosition>>> = protein_chains
        .iter()
        .map(|(_, monomers)| vec![None; monomers.len()])
        .collect();
    let mut structure: HashMap<ResidueKey, MmcifResidue> = HashMap::new();
    let first_model = atoms.model.and_then(|models| models.first());
    let first_nums: Vec<i64> = protein_chains
        .iter()
        .map(|(_, monomers)| monomers.iter().map(|m| m.num).min().unwrap_or(1))
        .collect();

    for row in 0..atom_table.len() {
        if let (Some(models), Some(first)) = (atoms.model, first_model) {
            if &models[row] != first {
                continue;
            }
        }
        let Some(&chain) = chain_index.get(atoms.label_asym[row].as_str()) else {
            continue;
        };
        let line = atom_table.line("label_asym_id", row);
        let auth_chain = &atoms.auth_asym[row];
        match &author_chain[chain] {
            None => author_chain[chain] = Some(auth_chain.clone()),
            Some(known) if known != auth_chain => bail!(
                "line {line}: chain {} is author chain {known} but this atom says {auth_chain}",
                atoms.label_asym[row]
            ),
            Some(_) => {}
        }
        let residue_name = &atoms.comp[row];
        let hetflag = if atoms.group[row] == "HETATM" {
            if residue_name == "HOH" || residue_name == "WAT" {
                "W".to_string()
            } else {
                format!("H_{residue_name}")
            }
        } else {
            " ".to_string()
        };
        let residue_number: i32 = atoms.auth_seq[row].parse().with_context(|| {
            format!(
                "line {line}: auth_seq_id {:?} is not an integer",
                atoms.auth_seq[row]
            )
        })?;
        let insertion_code = atoms
            .insertion_code
            .map(|codes| codes[row].as_str())
            .filter(|code| is_set(code))
            .and_then(|code| code.chars().next())
            .unwrap_or(' ');
        let (_, monomers) = &protein_chains[chain];
        let first_num = first_nums[chain];
        let seqres_index = atoms.label_seq[row]
            .parse::<i64>()
            .ok()
            .map(|num| num - first_num)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < monomers.len())
            .with_context(|| {
                format!(
                    "line {line}: label_seq_id {:?} is not a position of chain {}'s {} residues",
                    atoms.label_seq[row],
                    atoms.label_asym[row],
                    monomers.len()
                )
            })?;
        let position = ResiduePosition {
            chain_id: auth_chain.clone(),
            residue_number,
            insertion_code,
        };
        let slot = &mut observed[chain][seqres_index];
        if slot.is_none() {
            *slot = Some(ResidueAtPosition {
                position: Some(position.clone()),
                name: residue_name.clone(),
                is_missing: false,
                hetflag: hetflag.clone(),
            });
        }
        let atom = atoms.atom(&atom_table, row)?;
        let residue = structure
            .entry(ResidueKey { position, hetflag })
            .or_insert_with(|| MmcifResidue {
                name: residue_name.clone(),
                atoms: Vec::new(),
            });
        if residue.name != *residue_name {
            continue;
        }
        match residue.atoms.iter_mut().find(|a| a.name == atom.name) {
            Some(existing) if atom.occupancy > existing.occupancy => *existing = atom,
            Some(_) => {}
            None => residue.atoms.push(atom),
        }
    }

    let mut chain_to_seqres = BTreeMap::new();
    let mut seqres_to_structure = BTreeMap::new();
    for (((_, monomers), author), residues) in protein_chains.iter().zip(author_chain).zip(observed)
    {
        let Some(author) = author else { continue };
        if chain_to_seqres.contains_key(&author) {
            bail!("author chain {author} holds more than one protein chain");
        }
        let sequence: String = monomers
            .iter()
            .map(|m| one_letter_code(&m.name).unwrap_or('X'))
            .collect();
        let mapping: Vec<ResidueAtPosition> = residues
            .into_iter()
            .zip(monomers)
            .map(|(seen, monomer)| {
                seen.unwrap_or_else(|| ResidueAtPosition {
                    position: None,
                    name: monomer.name.clone(),
                    is_missing: true,
                    hetflag: " ".to_string(),
                })
            })
            .collect();
        chain_to_seqres.insert(author.clone(), sequence);
        seqres_to_structure.insert(author, mapping);
    }
    Ok(MmcifObject {
        file_id: file_id.to_string(),
        header,
        chain_to_seqres,
        seqres_to_structure,
        structure,
        raw: block,
    })
}

fn read_header(block: &CifBlock) -> Result<MmcifHeader> {
    let structure_method = match block.table("_exptl.")? {
        Some(table) => table
            .column("method")
            .unwrap_or_default()
            .iter()
            .map(|m| m.to_lowercase())
            .collect::<Vec<_>>()
            .join(","),
        None => String::new(),
    };
    let release_date = block
        .values("_pdbx_audit_revision_history.revision_date")
        .and_then(|dates| dates.iter().filter(|d| is_set(d)).min().cloned());
    let mut resolution = 0.0;
    for tag in [
        "_refine.ls_d_res_high",
        "_em_3d_reconstruction.resolution",
        "_reflns.d_resolution_high",
    ] {
        if let Some(value) = block.first(tag).and_then(|v| v.parse::<f64>().ok()) {
            resolution = value;
        }
    }
    Ok(MmcifHeader {
        structure_method,
        release_date,
        resolution,
    })
}

/// Protein chains by label (`label_asym_id`) id, in `_entity_poly_seq` entity order, each with
/// its SEQRES monomers.
fn protein_chains(block: &CifBlock) -> Result<Vec<(String, Vec<Monomer>)>> {
    let Some(poly_seq) = block.table("_entity_poly_seq.")? else {
        return Ok(Vec::new());
    };
    let entity_ids = poly_seq.required("entity_id")?;
    let nums = poly_seq.required("num")?;
    let names = poly_seq.required("mon_id")?;
    let mut polymers: Vec<(String, Vec<Monomer>)> = Vec::new();
    for row in 0..poly_seq.len() {
        let num: i64 = nums[row].parse().with_context(|| {
            format!(
                "line {}: _entity_poly_seq.num {:?} is not an integer",
                poly_seq.line("num", row),
                nums[row]
            )
        })?;
        let entity = &entity_ids[row];
        let monomers = match polymers.iter().position(|(id, _)| id == entity) {
            Some(i) => &mut polymers[i].1,
            None => {
                polymers.push((entity.clone(), Vec::new()));
                &mut polymers.last_mut().context("just pushed")?.1
            }
        };
        if monomers.iter().all(|m| m.num != num) {
            monomers.push(Monomer {
                name: names[row].clone(),
                num,
            });
        }
    }

    let chem_comp_types: HashMap<&str, &str> = match block.table("_chem_comp.")? {
        Some(table) => table
            .required("id")?
            .iter()
            .map(String::as_str)
            .zip(table.required("type")?.iter().map(String::as_str))
            .collect(),
        None => HashMap::new(),
    };
    let is_peptide = |name: &str| match chem_comp_types.get(name) {
        Some(kind) => kind.to_lowercase().contains("peptide"),
        None => one_letter_code(name).is_some(),
    };

    let asym: Vec<(&str, &str)> = match block.table("_struct_asym.")? {
        Some(table) => table
            .required("id")?
            .iter()
            .map(String::as_str)
            .zip(table.required("entity_id")?.iter().map(String::as_str))
            .collect(),
        None => Vec::new(),
    };
    let mut chains = Vec::new();
    for (entity, monomers) in polymers {
        if !monomers.iter().any(|m| is_peptide(&m.name)) {
            continue;
        }
        let labels: Vec<&str> = asym
            .iter()
            .filter(|(_, e)| *e == entity)
            .map(|(id, _)| *id)
            .collect();
        for label in labels {
            let copy = monomers
                .iter()
                .map(|m| Monomer {
                    name: m.name.clone(),
                    num: m.num,
                })
                .collect();
            chains.push((label.to_string(), copy));
        }
    }
    Ok(chains)
}

/// The `_atom_site` columns AlphaFold (through Biopython's `MMCIFParser`) reads.
struct AtomSiteColumns<'a> {
    group: &'a [String],
    atom_name: &'a [String],
    comp: &'a [String],
    label_asym: &'a [String],
    auth_asym: &'a [String],
    label_seq: &'a [String],
    auth_seq: &'a [String],
    insertion_code: Option<&'a [String]>,
    model: Option<&'a [String]>,
    x: &'a [String],
    y: &'a [String],
    z: &'a [String],
    occupancy: Option<&'a [String]>,
    b_factor: Option<&'a [String]>,
}

impl<'a> AtomSiteColumns<'a> {
    fn new(table: &CifTable<'a>) -> Result<Self> {
        Ok(Self {
            group: table.required("group_pdb")?,
            atom_name: table.required("label_atom_id")?,
            comp: table.required("label_comp_id")?,
            label_asym: table.required("label_asym_id")?,
            auth_asym: table.required("auth_asym_id")?,
            label_seq: table.required("label_seq_id")?,
            auth_seq: table.required("auth_seq_id")?,
            insertion_code: table.column("pdbx_pdb_ins_code"),
            model: table.column("pdbx_pdb_model_num"),
            x: table.required("cartn_x")?,
            y: table.required("cartn_y")?,
            z: table.required("cartn_z")?,
            occupancy: table.column("occupancy"),
            b_factor: table.column("b_iso_or_equiv"),
        })
    }

    fn atom(&self, table: &CifTable, row: usize) -> Result<MmcifAtom> {
        let number = |column: &str, values: &[String]| -> Result<f32> {
            values[row]
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| {
                    format!(
                        "line {}: _atom_site.{column} {:?} is not a number",
                        table.line(column, row),
                        values[row]
                    )
                })
        };
        let optional = |column: &str, values: Option<&[String]>, default: f32| -> Result<f32> {
            match values {
                Some(values) if is_set(&values[row]) => number(column, values),
                _ => Ok(default),
            }
        };
        Ok(MmcifAtom {
            name: self.atom_name[row].clone(),
            position: [
                number("cartn_x", self.x)?,
                number("cartn_y", self.y)?,
                number("cartn_z", self.z)?,
            ],
            occupancy: optional("occupancy", self.occupancy, 1.0)?,
            b_factor: optional("b_iso_or_equiv", self.b_factor, 0.0)?,
        })
    }
}

/// A chain as atom37 arrays over its whole SEQRES (AlphaFold's template and label coordinates):
/// residue `i` is SEQRES position `i`, numbered `i + 1` (the `label_seq_id` numbering, which is also
/// what a prediction's `residue_index + 1` gives), missing residues present with an all-zero mask,
/// `aatype` from the SEQRES letter.
pub fn mmcif_chain_to_protein(mmcif: &MmcifObject, chain_id: &str) -> Result<Protein> {
    let (Some(sequence), Some(mapping)) = (
        mmcif.chain_to_seqres.get(chain_id),
        mmcif.seqres_to_structure.get(chain_id),
    ) else {
        bail!(
            "{}: no protein chain {chain_id:?}; the protein chains are {:?}",
            mmcif.file_id,
            mmcif.chain_to_seqres.keys().collect::<Vec<_>>()
        );
    };
    let num_res = mapping.len();
    let mut protein = Protein {
        aatype: sequence.chars().map(restype_index).collect(),
        atom_positions: vec![[[0.0; 3]; ATOM_TYPE_NUM]; num_res],
        atom_mask: vec![[0.0; ATOM_TYPE_NUM]; num_res],
        residue_index: (1..=num_res as i32).collect(),
        insertion_code: vec![' '; num_res],
        chain_index: vec![0; num_res],
        chain_ids: vec![chain_id.to_string()],
        b_factors: vec![[0.0; ATOM_TYPE_NUM]; num_res],
    };
    for (i, at) in mapping.iter().enumerate() {
        let Some(residue) = mmcif.residue(at) else {
            continue;
        };
        for atom in &residue.atoms {
            let name = if residue.name == "MSE" && atom.name.eq_ignore_ascii_case("SE") {
                "SD"
            } else {
                atom.name.as_str()
            };
            let Some(slot) = atom37_index(name) else {
                continue;
            };
            protein.atom_positions[i][slot] = atom.position;
            protein.atom_mask[i][slot] = 1.0;
            protein.b_factors[i][slot] = atom.b_factor;
        }
        if residue.name == "ARG" {
            fix_arginine_naming(
                &mut protein.atom_positions[i],
                &mut protein.b_factors[i],
                &protein.atom_mask[i],
            );
        }
    }
    Ok(protein)
}

/// Swaps `NH1`/`NH2` when `NH1` is farther from `CD` than `NH2` (the IUPAC convention names the
/// nitrogen cis to `CD` `NH1`; some depositions have them swapped), as `templates.py` does; the
/// B-factors move with the coordinates.
fn fix_arginine_naming(
    positions: &mut [[f32; 3]; ATOM_TYPE_NUM],
    b_factors: &mut [f32; ATOM_TYPE_NUM],
    mask: &[f32; ATOM_TYPE_NUM],
) {
    let (Some(cd), Some(nh1), Some(nh2)) =
        (atom37_index("CD"), atom37_index("NH1"), atom37_index("NH2"))
    else {
        return;
    };
    if [cd, nh1, nh2].iter().any(|&i| mask[i] < 0.5) {
        return;
    }
    let distance_squared =
        |a: [f32; 3], b: [f32; 3]| (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f32>();
    if distance_squared(positions[nh1], positions[cd])
        > distance_squared(positions[nh2], positions[cd])
    {
        positions.swap(nh1, nh2);
        b_factors.swap(nh1, nh2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two protein chains of one entity (A observed, C without atoms), a DNA entity, a water.
    /// Residue 1 of A has two conformers of CA, residue 2 is MSE, residue 3 an arginine whose
    /// NH1 is the farther from CD, residue 4 is missing; `num` 2 is microheterogeneous.
    const SAMPLE: &str = "data_test
_exptl.method 'X-RAY DIFFRACTION'
loop_
_pdbx_audit_revision_history.ordinal
_pdbx_audit_revision_history.revision_date
1 2001-02-03
2 1999-12-31
_refine.ls_d_res_high 2.5
_reflns.d_resolution_high 2.4
loop_
_entity_poly_seq.entity_id
_entity_poly_seq.num
_entity_poly_seq.mon_id
_entity_poly_seq.hetero
1 1 GLY n
1 2 MSE y
1 2 LEU y
1 3 ARG n
1 4 ALA n
2 1 DA n
loop_
_chem_comp.id
_chem_comp.type
GLY 'peptide linking'
MSE 'L-peptide linking'
LEU 'L-peptide linking'
ARG 'L-peptide linking'
ALA 'L-peptide linking'
DA 'DNA linking'
loop_
_struct_asym.id
_struct_asym.entity_id
A 1
C 1
D 2
W 3
loop_
_atom_site.group_PDB
_atom_site.label_atom_id
_atom_site.label_alt_id
_atom_site.label_comp_id
_atom_site.label_asym_id
_atom_site.label_seq_id
_atom_site.pdbx_PDB_ins_code
_atom_site.Cartn_x
_atom_site.Cartn_y
_atom_site.Cartn_z
_atom_site.occupancy
_atom_site.B_iso_or_equiv
_atom_site.auth_seq_id
_atom_site.auth_asym_id
_atom_site.pdbx_PDB_model_num
ATOM CA A GLY A 1 ? 1.0 0.0 0.0 0.3 10.0 10 X 1
ATOM CA B GLY A 1 ? 2.0 0.0 0.0 0.7 20.0 10 X 1
HETATM SE . MSE A 2 ? 3.0 0.0 0.0 1.0 30.0 11 X 1
ATOM CD . ARG A 3 A 0.0 0.0 0.0 1.0 40.0 11 X 1
ATOM NH1 . ARG A 3 A 5.0 0.0 0.0 1.0 41.0 11 X 1
ATOM NH2 . ARG A 3 A 2.0 0.0 0.0 1.0 42.0 11 X 1
ATOM P . DA D 1 ? 0.0 0.0 0.0 1.0 0.0 1 Y 1
HETATM O . HOH W . ? 0.0 0.0 0.0 1.0 0.0 100 X 1
ATOM CA . GLY A 1 ? 9.0 9.0 9.0 1.0 0.0 10 X 2
";

    #[test]
    fn reads_header_seqres_and_structure_like_alphafold() {
        let mmcif = parse_mmcif(SAMPLE, "test").unwrap();
        assert_eq!(mmcif.header.structure_method, "x-ray diffraction");
        assert_eq!(mmcif.header.release_date.as_deref(), Some("1999-12-31"));
        // AlphaFold's loop lets the last readable key win: _reflns after _refine.
        assert_eq!(mmcif.header.resolution, 2.4);
        // Chain C has no atoms and D is DNA: only author chain X remains.
        assert_eq!(mmcif.chain_to_seqres.len(), 1);
        assert_eq!(mmcif.chain_to_seqres["X"], "GMRA");
        let mapping = &mmcif.seqres_to_structure["X"];
        assert_eq!(mapping[1].hetflag, "H_MSE");
        assert_eq!(mapping[2].position.as_ref().unwrap().insertion_code, 'A');
        assert!(mapping[3].is_missing && mapping[3].position.is_none());
        assert_eq!(mapping[3].name, "ALA");
    }

    #[test]
    fn chain_protein_resolves_altlocs_selenium_and_arginine() {
        let mmcif = parse_mmcif(SAMPLE, "test").unwrap();
        let protein = mmcif_chain_to_protein(&mmcif, "X").unwrap();
        let index = |name| atom37_index(name).unwrap();
        assert_eq!(protein.residue_index, vec![1, 2, 3, 4]);
        assert_eq!(protein.aatype, vec![7, 12, 1, 0]);
        // The more occupied conformer, and only the first model's atoms.
        assert_eq!(protein.atom_positions[0][index("CA")], [2.0, 0.0, 0.0]);
        assert_eq!(protein.b_factors[0][index("CA")], 20.0);
        assert_eq!(protein.atom_positions[1][index("SD")], [3.0, 0.0, 0.0]);
        // NH1 was 5 Å from CD and NH2 2 Å: swapped, B-factors with them.
        assert_eq!(protein.atom_positions[2][index("NH1")], [2.0, 0.0, 0.0]);
        assert_eq!(protein.b_factors[2][index("NH1")], 42.0);
        assert_eq!(protein.atom_mask[3], [0.0; ATOM_TYPE_NUM]);
        let err = mmcif_chain_to_protein(&mmcif, "A").unwrap_err().to_string();
        assert!(err.contains("no protein chain \"A\""), "{err}");
    }

    #[test]
    fn bad_rows_name_their_line() {
        let bad_seq = SAMPLE.replace("ATOM CD . ARG A 3 A", "ATOM CD . ARG A 9 A");
        let err = parse_mmcif(&bad_seq, "t").unwrap_err().to_string();
        assert!(
            err.contains("line 56") && err.contains("label_seq_id \"9\""),
            "{err}"
        );
        let bad_number = SAMPLE.replace("11 X 1\nATOM NH1", "1x X 1\nATOM NH1");
        let err = parse_mmcif(&bad_number, "t").unwrap_err().to_string();
        assert!(
            err.contains("line 56") && err.contains("auth_seq_id \"1x\""),
            "{err}"
        );
        let no_protein = SAMPLE.replace(
            "1 1 GLY n\n1 2 MSE y\n1 2 LEU y\n1 3 ARG n\n1 4 ALA n\n",
            "",
        );
        let err = parse_mmcif(&no_protein, "t").unwrap_err().to_string();
        assert!(err.contains("no protein chains"), "{err}");
    }
}
