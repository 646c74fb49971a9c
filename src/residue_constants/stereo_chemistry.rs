//! Literature stereo-chemistry the structural violation losses check against (Jumper et al.
//! (2021) Suppl. 1.9.11): within-residue bond lengths and angles (Engh & Huber), the peptide
//! bond between residues, and van der Waals radii for clashes.
//!
//! `stereo_chemical_props.txt` is DeepMind's data file `alphafold/common/stereo_chemical_props.txt`,
//! copied byte for byte from PyPI's `alphafold-colabfold` 2.3.27 wheel (the `alphafold==2.0.0`
//! wheel lacks it; sha256 24510899eeb49167cffedec8fa45363a4d08279c0c637a403b452f7d0ac09451),
//! licensed Apache-2.0 by DeepMind Technologies Limited. It is parsed at first use as
//! `residue_constants.py` `load_stereo_chemical_props` reads it, and
//! [`atom14_distance_bounds`] builds the bound tables as its `make_atom14_dists_bounds` does.
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};

use super::atom14::RESTYPE_NAME_TO_ATOM14_NAMES;
use super::{resname_index, ATOM14_NUM, RESTYPE_NUM, RESTYPE_NUM_WITH_X};

/// The embedded data file (see the module documentation for its provenance).
pub const STEREO_CHEMICAL_PROPS_TXT: &str = include_str!("stereo_chemical_props.txt");

/// Van der Waals radii (Å) by element, the first letter of a heavy atom's name
/// (`van_der_waals_radius`, from Wikipedia per residue_constants.py).
pub const VAN_DER_WAALS_RADIUS: [(char, f64); 4] =
    [('C', 1.7), ('N', 1.55), ('O', 1.52), ('S', 1.8)];

/// Van der Waals radius (Å) of a heavy atom, keyed by the first letter of its PDB name.
pub fn van_der_waals_radius(atom_name: &str) -> Option<f64> {
    let element = atom_name.chars().next()?;
    VAN_DER_WAALS_RADIUS
        .iter()
        .find(|(e, _)| *e == element)
        .map(|(_, r)| *r)
}

/// Length (Å) of the peptide bond C(i)-N(i+1): `[general, before proline]`
/// (`between_res_bond_length_c_n`).
pub const BETWEEN_RES_BOND_LENGTH_C_N: [f64; 2] = [1.329, 1.341];
/// Standard deviation (Å) of the peptide bond length: `[general, before proline]`
/// (`between_res_bond_length_stddev_c_n`).
pub const BETWEEN_RES_BOND_LENGTH_STDDEV_C_N: [f64; 2] = [0.014, 0.016];
/// Cosine of the angle C(i)-N(i+1)-CA(i+1): `[mean, stddev]` (121.352° ± 2.315°)
/// (`between_res_cos_angles_c_n_ca`). Note: unlike the bond lengths, not general/proline.
pub const BETWEEN_RES_COS_ANGLES_C_N_CA: [f64; 2] = [-0.5203, 0.0353];
/// Cosine of the angle CA(i)-C(i)-N(i+1): `[mean, stddev]` (116.568° ± 1.995°)
/// (`between_res_cos_angles_ca_c_n`).
pub const BETWEEN_RES_COS_ANGLES_CA_C_N: [f64; 2] = [-0.4473, 0.0311];

/// A bond (or a "virtual bond" spanning an angle) between two atoms of one residue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bond<'a> {
    pub atom1_name: &'a str,
    pub atom2_name: &'a str,
    /// Mean length (Å).
    pub length: f64,
    /// Standard deviation of the length (Å).
    pub stddev: f64,
}

/// A bond angle atom1-atom2-atom3 (atom2 at the vertex) within one residue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BondAngle<'a> {
    pub atom1_name: &'a str,
    pub atom2_name: &'a str,
    pub atom3_name: &'a str,
    /// Mean angle (radians).
    pub angle_rad: f64,
    /// Standard deviation of the angle (radians).
    pub stddev: f64,
}

/// The stereo-chemical tables, each indexed by residue type (`RESTYPES` order; `UNK`, row 20,
/// is empty).
#[derive(Debug, Clone)]
pub struct StereoChemicalProps<'a> {
    /// Bonds as listed in the file's first section.
    pub residue_bonds: [Vec<Bond<'a>>; RESTYPE_NUM_WITH_X],
    /// Each angle turned into the distance between its outer atoms by the law of cosines, with
    /// its standard deviation propagated from the two bonds and the angle (errors assumed
    /// uncorrelated).
    pub residue_virtual_bonds: [Vec<Bond<'a>>; RESTYPE_NUM_WITH_X],
    /// Angles as listed in the file's second section.
    pub residue_bond_angles: [Vec<BondAngle<'a>>; RESTYPE_NUM_WITH_X],
}

/// The embedded `stereo_chemical_props.txt`, parsed once.
pub fn stereo_chemical_props() -> &'static StereoChemicalProps<'static> {
    static PROPS: OnceLock<StereoChemicalProps<'static>> = OnceLock::new();
    PROPS.get_or_init(|| {
        parse_stereo_chemical_props(
            STEREO_CHEMICAL_PROPS_TXT,
            "embedded stereo_chemical_props.txt",
        )
        .expect("the embedded stereo_chemical_props.txt parses (checked by its tests)")
    })
}

/// Parses the format of `stereo_chemical_props.txt`: a bond section (header line, then
/// `ATOM1-ATOM2 RESNAME mean stddev` lines, closed by a line `-`), a blank line, an angle section
/// (header, `ATOM1-ATOM2-ATOM3 RESNAME mean_deg stddev_deg`, closed by `-`). What follows (a
/// non-bonded distance table) is ignored, as AlphaFold ignores it. `source` names the text in
/// errors.
pub fn parse_stereo_chemical_props<'a>(
    text: &'a str,
    source: &str,
) -> Result<StereoChemicalProps<'a>> {
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
    let mut props = StereoChemicalProps {
        residue_bonds: Default::default(),
        residue_virtual_bonds: Default::default(),
        residue_bond_angles: Default::default(),
    };
    for (line_number, fields) in section_rows(&mut lines, "Bond", source)? {
        let (restype, atoms, mean, stddev) = parse_row::<2>(&fields, line_number, source)?;
        props.residue_bonds[restype].push(Bond {
            atom1_name: atoms[0],
            atom2_name: atoms[1],
            length: mean,
            stddev,
        });
    }
    for (line_number, fields) in section_rows(&mut lines, "Angle", source)? {
        let (restype, atoms, mean, stddev) = parse_row::<3>(&fields, line_number, source)?;
        let angle = BondAngle {
            atom1_name: atoms[0],
            atom2_name: atoms[1],
            atom3_name: atoms[2],
            angle_rad: mean.to_radians(),
            stddev: stddev.to_radians(),
        };
        let virtual_bond = virtual_bond(&props.residue_bonds[restype], &angle)
            .with_context(|| format!("{source}, line {line_number}"))?;
        props.residue_bond_angles[restype].push(angle);
        props.residue_virtual_bonds[restype].push(virtual_bond);
    }
    Ok(props)
}

/// The whitespace-split data rows of the next section: skips blank lines, checks that the header
/// starts with `header`, and reads up to the closing `-` line.
fn section_rows<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    header: &str,
    source: &str,
) -> Result<Vec<(usize, Vec<&'a str>)>> {
    let Some((header_line, header_text)) = lines.find(|(_, l)| !l.trim().is_empty()) else {
        bail!("{source}: ended before the {header:?} section");
    };
    if header_text.split_whitespace().next() != Some(header) {
        bail!("{source}, line {header_line}: expected a {header:?} header, found {header_text:?}");
    }
    let mut rows = Vec::new();
    for (line_number, line) in lines.by_ref() {
        if line.trim() == "-" {
            return Ok(rows);
        }
        rows.push((line_number, line.split_whitespace().collect()));
    }
    bail!("{source}: the {header:?} section (from line {header_line}) has no closing '-' line")
}

/// Reads `ATOMS RESNAME mean stddev` with `N` dash-separated atom names.
fn parse_row<'a, const N: usize>(
    fields: &[&'a str],
    line_number: usize,
    source: &str,
) -> Result<(usize, [&'a str; N], f64, f64)> {
    let context = || format!("{source}, line {line_number}");
    let &[atoms, resname, mean, stddev] = fields else {
        bail!(
            "{}: expected 4 fields (atoms, residue, mean, stddev), found {}",
            context(),
            fields.len()
        );
    };
    let names: Vec<&str> = atoms.split('-').collect();
    let names: [&str; N] = names.try_into().map_err(|names: Vec<&str>| {
        anyhow::anyhow!(
            "{}: expected {N} atom names in {atoms:?}, found {}",
            context(),
            names.len()
        )
    })?;
    let restype = resname_index(resname)
        .filter(|r| *r < RESTYPE_NUM)
        .with_context(|| format!("{}: unknown residue {resname:?}", context()))?;
    let mean: f64 = mean
        .parse()
        .with_context(|| format!("{}: bad mean {mean:?}", context()))?;
    let stddev: f64 = stddev
        .parse()
        .with_context(|| format!("{}: bad stddev {stddev:?}", context()))?;
    Ok((restype, names, mean, stddev))
}

/// Distance between the outer atoms of `angle` from its two bonds (law of cosines), with the
/// first-order propagated standard deviation.
fn virtual_bond<'a>(bonds: &[Bond<'a>], angle: &BondAngle<'a>) -> Result<Bond<'a>> {
    let find = |a: &str, b: &str| {
        bonds
            .iter()
            .find(|bond| {
                (bond.atom1_name == a && bond.atom2_name == b)
                    || (bond.atom1_name == b && bond.atom2_name == a)
            })
            .with_context(|| format!("angle needs the bond {a}-{b}, which is not listed before it"))
    };
    let bond1 = find(angle.atom1_name, angle.atom2_name)?;
    let bond2 = find(angle.atom2_name, angle.atom3_name)?;
    let (b1, b2, gamma) = (bond1.length, bond2.length, angle.angle_rad);
    let length = (b1 * b1 + b2 * b2 - 2.0 * b1 * b2 * gamma.cos()).sqrt();
    let d_outer = 0.5 / length;
    let d_gamma = 2.0 * b1 * b2 * gamma.sin() * d_outer;
    let d_b1 = (2.0 * b1 - 2.0 * b2 * gamma.cos()) * d_outer;
    let d_b2 = (2.0 * b2 - 2.0 * b1 * gamma.cos()) * d_outer;
    let stddev = ((d_gamma * angle.stddev).powi(2)
        + (d_b1 * bond1.stddev).powi(2)
        + (d_b2 * bond2.stddev).powi(2))
    .sqrt();
    Ok(Bond {
        atom1_name: angle.atom1_name,
        atom2_name: angle.atom3_name,
        length,
        stddev,
    })
}

/// Per-residue-type bounds on every intra-residue atom14 pair distance, `[21, 14, 14]` each,
/// symmetric, zero on the diagonal and for empty slots.
#[derive(Debug, Clone)]
pub struct Atom14DistanceBounds {
    /// Bonded pairs: mean - factor·stddev; other pairs: sum of van der Waals radii minus the
    /// overlap tolerance.
    pub lower_bound: [[[f32; ATOM14_NUM]; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
    /// Bonded pairs: mean + factor·stddev; other pairs: 1e10 (no upper bound).
    pub upper_bound: [[[f32; ATOM14_NUM]; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
    /// Bonded pairs: the literature standard deviation; other pairs 0.
    pub stddev: [[[f32; ATOM14_NUM]; ATOM14_NUM]; RESTYPE_NUM_WITH_X],
}

/// Distance bounds for the within-residue violation loss (`make_atom14_dists_bounds`); bonds
/// include the virtual bonds of the angles. AlphaFold's function defaults are
/// `overlap_tolerance = 1.5`, `bond_length_tolerance_factor = 15`; its loss passes the config's
/// `clash_overlap_tolerance` (1.5) and `violation_tolerance_factor` (12).
pub fn atom14_distance_bounds(
    overlap_tolerance: f64,
    bond_length_tolerance_factor: f64,
) -> Box<Atom14DistanceBounds> {
    let zeros = [[[0.0f32; ATOM14_NUM]; ATOM14_NUM]; RESTYPE_NUM_WITH_X];
    let mut bounds = Box::new(Atom14DistanceBounds {
        lower_bound: zeros,
        upper_bound: zeros,
        stddev: zeros,
    });
    let props = stereo_chemical_props();
    for restype in 0..RESTYPE_NUM {
        let names = &RESTYPE_NAME_TO_ATOM14_NAMES[restype];
        let radius = |name: &str| {
            van_der_waals_radius(name)
                .unwrap_or_else(|| panic!("atom14 table names {name} of unknown element"))
        };
        for (i, first) in names.iter().enumerate().filter(|(_, n)| !n.is_empty()) {
            for (j, second) in names.iter().enumerate().filter(|(_, n)| !n.is_empty()) {
                if i != j {
                    let lower = radius(first) + radius(second) - overlap_tolerance;
                    bounds.lower_bound[restype][i][j] = lower as f32;
                    bounds.upper_bound[restype][i][j] = 1e10;
                }
            }
        }
        let slot = |name: &str| {
            names.iter().position(|n| *n == name).unwrap_or_else(|| {
                panic!("stereo table names atom {name} absent from restype {restype}")
            })
        };
        let bonds = props.residue_bonds[restype]
            .iter()
            .chain(&props.residue_virtual_bonds[restype]);
        for bond in bonds {
            let (i, j) = (slot(bond.atom1_name), slot(bond.atom2_name));
            let spread = bond_length_tolerance_factor * bond.stddev;
            for (a, b) in [(i, j), (j, i)] {
                bounds.lower_bound[restype][a][b] = (bond.length - spread) as f32;
                bounds.upper_bound[restype][a][b] = (bond.length + spread) as f32;
                bounds.stddev[restype][a][b] = bond.stddev as f32;
            }
        }
    }
    bounds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::residue_constants::restype_index;

    #[test]
    fn embedded_file_parses_with_alphafolds_counts() {
        let props = stereo_chemical_props();
        // Counted by alphafold-colabfold 2.3.27 load_stereo_chemical_props(): 153 bonds and 174
        // angles over all residues; ALA has 4 bonds, 4 angles.
        let bonds: usize = props.residue_bonds.iter().map(Vec::len).sum();
        let angles: usize = props.residue_bond_angles.iter().map(Vec::len).sum();
        assert_eq!((bonds, angles), (153, 174));
        let ala = restype_index('A');
        assert_eq!(props.residue_bonds[ala].len(), 4);
        assert_eq!(props.residue_virtual_bonds[ala].len(), 4);
        assert!(props.residue_bonds[20].is_empty());
        // stereo_chemical_props.txt line 2: `CA-CB ALA 1.520 0.021`.
        assert_eq!(
            props.residue_bonds[ala][0],
            Bond {
                atom1_name: "CA",
                atom2_name: "CB",
                length: 1.520,
                stddev: 0.021
            }
        );
        // The angle section's `CG-SD-CE MET 100.2 1.6`.
        let met = &props.residue_bond_angles[restype_index('M')];
        let cg_sd_ce = met
            .iter()
            .find(|a| a.atom2_name == "SD" && a.atom3_name == "CE")
            .unwrap();
        assert!((cg_sd_ce.angle_rad - 100.2f64.to_radians()).abs() < 1e-12);
        assert!((cg_sd_ce.stddev - 1.6f64.to_radians()).abs() < 1e-12);
    }

    #[test]
    fn virtual_bond_of_alanine_n_ca_c_by_hand() {
        // ALA N-CA 1.459 ± 0.020, CA-C 1.525 ± 0.026, angle N-CA-C 111.0° ± 2.7° (file lines).
        let (b1, b2, gamma) = (1.459f64, 1.525f64, 111.0f64.to_radians());
        let length = (b1 * b1 + b2 * b2 - 2.0 * b1 * b2 * gamma.cos()).sqrt();
        let props = stereo_chemical_props();
        let n_c = props.residue_virtual_bonds[restype_index('A')]
            .iter()
            .find(|b| b.atom1_name == "N" && b.atom2_name == "C")
            .unwrap();
        assert!((n_c.length - length).abs() < 1e-12);
        // load_stereo_chemical_props() of alphafold-colabfold 2.3.27 prints
        // Bond('N', 'C', length=2.4594766632515768, stddev=0.04815196927693058).
        assert!((n_c.length - 2.4594766632515768).abs() < 1e-12);
        assert!((n_c.stddev - 0.04815196927693058).abs() < 1e-12);
    }

    #[test]
    fn atom14_bounds_of_alanine() {
        let bounds = atom14_distance_bounds(1.5, 15.0);
        let ala = restype_index('A');
        // N (slot 0) - CA (slot 1) is a bond: 1.459 ∓ 15 · 0.020.
        assert!((bounds.lower_bound[ala][0][1] - 1.159).abs() < 1e-6);
        assert!((bounds.upper_bound[ala][1][0] - 1.759).abs() < 1e-6);
        assert!((bounds.stddev[ala][0][1] - 0.020).abs() < 1e-7);
        // N - O (slot 3) is not bonded: 1.55 + 1.52 - 1.5 and no upper bound.
        assert!((bounds.lower_bound[ala][0][3] - 1.57).abs() < 1e-6);
        assert_eq!(bounds.upper_bound[ala][0][3], 1e10);
        assert_eq!(bounds.stddev[ala][0][3], 0.0);
        // make_atom14_dists_bounds() of alphafold-colabfold 2.3.27: ALA N-C lower 1.7371972,
        // upper 3.1817563 (virtual bond from the N-CA-C angle).
        assert!((bounds.lower_bound[ala][0][2] - 1.7371972).abs() < 1e-6);
        assert!((bounds.upper_bound[ala][0][2] - 3.1817563).abs() < 1e-6);
        // Diagonal, empty slots and UNK stay zero.
        assert_eq!(bounds.lower_bound[ala][0][0], 0.0);
        assert_eq!(bounds.lower_bound[ala][0][5], 0.0);
        assert!(bounds.upper_bound[20].iter().flatten().all(|b| *b == 0.0));
    }

    #[test]
    fn whole_bound_tables_match_alphafold_checksums() {
        // Sum of value * (flat index % 13 + 1) over each [21, 14, 14] table (upper bounds capped
        // at 100), computed with numpy from alphafold==2.0.0 make_atom14_dists_bounds(1.5, 12.0)
        // reading the same stereo_chemical_props.txt.
        let bounds = atom14_distance_bounds(1.5, 12.0);
        let checksum = |table: &[[[f32; ATOM14_NUM]; ATOM14_NUM]; RESTYPE_NUM_WITH_X]| -> f64 {
            let flat = table.iter().flatten().flatten();
            flat.enumerate()
                .map(|(k, v)| f64::from(v.min(100.0)) * (k % 13 + 1) as f64)
                .sum()
        };
        assert!((checksum(&bounds.lower_bound) - 16191.564222335815).abs() < 1e-2);
        assert!((checksum(&bounds.upper_bound) - 500781.04450416565).abs() < 1e-1);
        assert!((checksum(&bounds.stddev) - 142.88251337595284).abs() < 1e-4);
    }

    #[test]
    fn malformed_files_are_reported_with_line_numbers() {
        let short_row = "Bond Residue Mean StdDev\nCA-CB ALA 1.520\n-\n";
        let err = parse_stereo_chemical_props(short_row, "t.txt").unwrap_err();
        assert!(format!("{err:#}").contains("t.txt, line 2"), "{err:#}");
        let unknown_residue = "Bond Residue Mean StdDev\nCA-CB XYZ 1.5 0.02\n-\n";
        let err = parse_stereo_chemical_props(unknown_residue, "t.txt").unwrap_err();
        assert!(format!("{err:#}").contains("unknown residue"), "{err:#}");
        let missing_bond =
            "Bond R M S\nCA-CB ALA 1.5 0.02\n-\n\nAngle R M S\nN-CA-CB ALA 110 1\n-\n";
        let err = parse_stereo_chemical_props(missing_bond, "t.txt").unwrap_err();
        assert!(format!("{err:#}").contains("line 6"), "{err:#}");
        let unterminated = "Bond R M S\nCA-CB ALA 1.5 0.02\n";
        assert!(parse_stereo_chemical_props(unterminated, "t.txt").is_err());
        assert!(parse_stereo_chemical_props("", "t.txt").is_err());
    }

    #[test]
    fn van_der_waals_radii_by_element() {
        // residue_constants.py van_der_waals_radius: C 1.7, N 1.55, O 1.52, S 1.8.
        assert_eq!(van_der_waals_radius("CB"), Some(1.7));
        assert_eq!(van_der_waals_radius("OD1"), Some(1.52));
        assert_eq!(van_der_waals_radius("SD"), Some(1.8));
        assert_eq!(van_der_waals_radius(""), None);
    }
}
