//! Structure file I/O on real data: every PDB and mmCIF file in the shared data parses, agrees
//! atom for atom with independent readers (Biopython and gemmi, run from the project's `.venv`
//! through `tests/support/structure_facts.py`), broken files fail with errors naming the file and
//! line, and what the writers produce reads back identically here, in Biopython and in gemmi.
use helixfold::data::mmcif::{mmcif_chain_to_protein, read_mmcif, MmcifObject};
use helixfold::data::mmcif_writer::to_mmcif_string;
use helixfold::data::pdb::{read_pdb, read_pdb_structure, to_pdb_string};
use helixfold::data::protein::Protein;
use helixfold::residue_constants::{ATOM_TYPES, RESTYPES};
use helixfold::testing::shared_data;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `[chain, residue number, insertion code, one-letter code, atom name, x, y, z, B-factor]`,
/// the rows `structure_facts.py` prints.
#[derive(Debug, Clone, PartialEq)]
struct AtomRow {
    chain: String,
    number: i64,
    icode: String,
    residue: String,
    atom: String,
    xyz: [f64; 3],
    b: f64,
}

const PDB_FILES: &[&str] = &[
    "alphafold_testdata/glucagon.pdb",
    "alphafold_testdata/2rbg.pdb",
    "alphafold_testdata/5nmu.pdb",
    "casp14_demo/T1026/native.pdb",
    "casp14_demo/T1037/native.pdb",
    "tmscore/2pel_chainA.pdb",
    "tmscore/3cna_chainA.pdb",
    "tmscore/PDB1.pdb",
    "tmscore/PDB2.pdb",
    "helixfold_train_demo/distill/distill_pdb/X8FLY0.pdb.gz",
    "helixfold_train_demo/distill/distill_pdb/X8FMJ8.pdb.gz",
    "helixfold_train_demo/distill/distill_pdb/X8K8S1.pdb.gz",
    "helixfold_train_demo/distill/distill_pdb/Y0KK22.pdb.gz",
    "helixfold_train_demo/distill/distill_pdb/Z4X8S6.pdb.gz",
    "helixfold_train_demo/distill/distill_pdb/Z4YNJ9.pdb.gz",
];

const MMCIF_FILES: &[&str] = &[
    "openfold_mini/mmcif/1psm.cif",
    "openfold_mini/mmcif/2crb.cif",
    "openfold_mini/mmcif/2q2k.cif",
    "openfold_mini/mmcif/3u8v.cif",
    "openfold_mini/mmcif/3zee.cif",
    "openfold_mini/mmcif/4i6p.cif",
    "openfold_mini/mmcif/4zey.cif",
    "openfold_mini/mmcif/5kc1.cif",
    "helixfold_train_demo/mmcif/102l.cif",
    "helixfold_train_demo/mmcif/150l.cif",
];

/// The project's Python (gemmi, Biopython); `None` skips outside CI, as `shared_data` does.
fn python() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} is missing (CI is set, so this is a failure)",
            path.display()
        );
    }
    eprintln!("SKIPPED: {} is missing", path.display());
    None
}

fn independent_reading(python: &Path, mode: &str, path: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/structure_facts.py");
    let output = Command::new(python)
        .arg(&script)
        .arg(mode)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{mode} {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn rows_from_json(value: &Value) -> Vec<AtomRow> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let f = |i: usize| row[i].as_f64().unwrap();
            AtomRow {
                chain: row[0].as_str().unwrap().trim().to_string(),
                number: row[1].as_i64().unwrap(),
                icode: row[2].as_str().unwrap().trim().to_string(),
                residue: row[3].as_str().unwrap().to_string(),
                atom: row[4].as_str().unwrap().to_string(),
                xyz: [f(5), f(6), f(7)],
                b: f(8),
            }
        })
        .collect()
}

/// Rows of a protein's present atoms; `numbering` maps a residue to its author chain, number and
/// insertion code (PDB proteins carry them, mmCIF chains use SEQRES positions).
fn rows_from_protein(
    protein: &Protein,
    numbering: impl Fn(usize) -> Option<(String, i64, char)>,
) -> Vec<AtomRow> {
    let mut rows = Vec::new();
    for i in 0..protein.len() {
        let Some((chain, number, icode)) = numbering(i) else {
            continue;
        };
        for (slot, atom) in ATOM_TYPES.iter().enumerate() {
            if protein.atom_mask[i][slot] < 0.5 {
                continue;
            }
            let [x, y, z] = protein.atom_positions[i][slot];
            rows.push(AtomRow {
                chain: chain.trim().to_string(),
                number,
                icode: icode.to_string().trim().to_string(),
                residue: RESTYPES
                    .get(protein.aatype[i])
                    .copied()
                    .unwrap_or('X')
                    .to_string(),
                atom: atom.to_string(),
                xyz: [x as f64, y as f64, z as f64],
                b: protein.b_factors[i][slot] as f64,
            });
        }
    }
    rows
}

fn pdb_numbering(protein: &Protein) -> impl Fn(usize) -> Option<(String, i64, char)> + '_ {
    |i| {
        Some((
            protein.chain_ids[protein.chain_index[i]].clone(),
            protein.residue_index[i] as i64,
            protein.insertion_code[i],
        ))
    }
}

fn mmcif_numbering<'a>(
    mmcif: &'a MmcifObject,
    chain: &'a str,
) -> impl Fn(usize) -> Option<(String, i64, char)> + 'a {
    move |i| {
        let position = mmcif.seqres_to_structure[chain][i].position.as_ref()?;
        Some((
            position.chain_id.clone(),
            position.residue_number as i64,
            position.insertion_code,
        ))
    }
}

/// Sorts rows for comparison. Arginine's NH1/NH2 compare as a pair: AlphaFold's reader renames
/// them when a file has them swapped, and the independent readers do not.
fn canonical(mut rows: Vec<AtomRow>) -> Vec<AtomRow> {
    for row in &mut rows {
        if row.residue == "R" && (row.atom == "NH1" || row.atom == "NH2") {
            row.atom = "NH".to_string();
        }
    }
    rows.sort_by(|a, b| {
        (&a.chain, a.number, &a.icode, &a.atom)
            .cmp(&(&b.chain, b.number, &b.icode, &b.atom))
            .then(a.xyz[0].total_cmp(&b.xyz[0]))
    });
    rows
}

/// Same atoms, coordinates within `xyz_tolerance` Å, B-factors within `b_tolerance`.
fn assert_same_atoms(
    what: &str,
    ours: Vec<AtomRow>,
    theirs: Vec<AtomRow>,
    xyz_tolerance: f64,
    b_tolerance: f64,
) {
    let (ours, theirs) = (canonical(ours), canonical(theirs));
    assert_eq!(ours.len(), theirs.len(), "{what}: atom counts differ");
    assert!(!ours.is_empty(), "{what}: no atoms");
    for (a, b) in ours.iter().zip(&theirs) {
        let key = |r: &AtomRow| {
            (
                r.chain.clone(),
                r.number,
                r.icode.clone(),
                r.residue.clone(),
                r.atom.clone(),
            )
        };
        assert_eq!(key(a), key(b), "{what}");
        let dx = (0..3)
            .map(|k| (a.xyz[k] - b.xyz[k]).abs())
            .fold(0.0, f64::max);
        assert!(dx <= xyz_tolerance, "{what}: {a:?} vs {b:?}");
        assert!((a.b - b.b).abs() <= b_tolerance, "{what}: B {a:?} vs {b:?}");
    }
}

#[test]
fn every_shared_pdb_file_agrees_with_biopython_and_gemmi() {
    let Some(python) = python() else { return };
    for relative in PDB_FILES {
        let Some(path) = shared_data(relative) else {
            return;
        };
        let protein = read_pdb(&path).unwrap();
        protein.check_consistent().unwrap();
        let ours = rows_from_protein(&protein, pdb_numbering(&protein));
        let biopython = rows_from_json(&independent_reading(&python, "biopython-pdb", &path));
        assert_same_atoms(
            &format!("{relative} vs Biopython"),
            ours.clone(),
            biopython,
            1e-4,
            1e-4,
        );
        // gemmi keeps the first alternate conformer rather than the most occupied one, so only
        // the atom identities are compared with it.
        let gemmi = rows_from_json(&independent_reading(&python, "gemmi", &path));
        assert_same_atoms(
            &format!("{relative} vs gemmi"),
            ours,
            gemmi,
            f64::INFINITY,
            f64::INFINITY,
        );
    }
}

#[test]
fn pdb_facts_checked_by_hand() {
    // Glucagon (PDB 1GCN): one chain of 29 residues; its SEQRES records spell the hormone.
    let Some(path) = shared_data("alphafold_testdata/glucagon.pdb") else {
        return;
    };
    let structure = read_pdb_structure(&path).unwrap();
    assert_eq!(structure.protein.len(), 29);
    assert_eq!(structure.protein.chain_ids, vec!["A".to_string()]);
    assert_eq!(
        structure.seqres_sequence("A").as_deref(),
        Some("HSQGTFTSDYSKYLDSRRAQDFVQWLMNT")
    );
    let observed: String = structure
        .protein
        .aatype
        .iter()
        .map(|&a| RESTYPES[a])
        .collect();
    assert_eq!(observed, "HSQGTFTSDYSKYLDSRRAQDFVQWLMNT");

    // CASP14 T1026 native (data README): 146 observed residues, blank chain id.
    let Some(path) = shared_data("casp14_demo/T1026/native.pdb") else {
        return;
    };
    let protein = read_pdb(&path).unwrap();
    assert_eq!(protein.len(), 146);
    assert_eq!(protein.chain_ids, vec![" ".to_string()]);

    // 5nmu: `grep -c '^TER' 5nmu.pdb` = 6 chains, read in file order (B first).
    let Some(path) = shared_data("alphafold_testdata/5nmu.pdb") else {
        return;
    };
    let protein = read_pdb(&path).unwrap();
    assert_eq!(protein.chain_ids.len(), 6);
    assert_eq!(protein.chain_ids[0], "B");
    let chain_b = protein.chain("B").unwrap();
    assert_eq!(chain_b.residue_index[0], 1);
}

#[test]
fn every_shared_mmcif_file_agrees_with_gemmi_and_biopython() {
    let Some(python) = python() else { return };
    for relative in MMCIF_FILES {
        let Some(path) = shared_data(relative) else {
            return;
        };
        let mmcif = read_mmcif(&path).unwrap();
        let facts = independent_reading(&python, "gemmi-mmcif-header", &path);
        let chains = facts["chains"].as_object().unwrap();
        let our_chains: Vec<&String> = mmcif.chain_to_seqres.keys().collect();
        let their_chains: Vec<&String> = chains.keys().collect();
        assert_eq!(our_chains, their_chains, "{relative}: protein chains");
        for (chain, fact) in chains {
            let mapping = &mmcif.seqres_to_structure[chain];
            assert_eq!(
                mmcif.chain_to_seqres[chain].len(),
                mapping.len(),
                "{relative} {chain}"
            );
            assert_eq!(
                mapping.len() as u64,
                fact["seqres_length"].as_u64().unwrap(),
                "{relative} {chain}"
            );
            let observed = mapping.iter().filter(|r| !r.is_missing).count() as u64;
            assert_eq!(
                observed,
                fact["observed"].as_u64().unwrap(),
                "{relative} {chain} observed"
            );
            let first = mapping.iter().find_map(|r| r.position.as_ref()).unwrap();
            assert_eq!(
                first.residue_number as i64,
                fact["first_observed"][0].as_i64().unwrap()
            );
        }
        assert_eq!(
            mmcif.header.release_date.as_deref(),
            facts["release_date"].as_str(),
            "{relative}"
        );
        assert_eq!(
            mmcif.header.structure_method,
            facts["structure_method"].as_str().unwrap(),
            "{relative}"
        );
        let resolution = facts["resolution"].as_f64().unwrap();
        assert!(
            (mmcif.header.resolution - resolution).abs() < 1e-6,
            "{relative}: {}",
            mmcif.header.resolution
        );

        let biopython = rows_from_json(&independent_reading(&python, "biopython-cif", &path));
        for chain in mmcif.chain_to_seqres.keys() {
            let protein = mmcif_chain_to_protein(&mmcif, chain).unwrap();
            assert_eq!(protein.len(), mmcif.chain_to_seqres[chain].len());
            let ours = rows_from_protein(&protein, mmcif_numbering(&mmcif, chain));
            let theirs: Vec<AtomRow> = biopython
                .iter()
                .filter(|r| r.chain == *chain)
                .cloned()
                .collect();
            assert_same_atoms(
                &format!("{relative} chain {chain} vs Biopython"),
                ours,
                theirs,
                1e-4,
                1e-4,
            );
        }
    }
}

#[test]
fn mmcif_facts_from_the_data_readme() {
    // 3u8v: X-ray 1.9 Å, 93 SEQRES residues of which 83 are observed (shared data README).
    let Some(path) = shared_data("openfold_mini/mmcif/3u8v.cif") else {
        return;
    };
    let mmcif = read_mmcif(&path).unwrap();
    assert_eq!(mmcif.file_id, "3u8v");
    assert_eq!(mmcif.header.resolution, 1.9);
    assert_eq!(mmcif.header.structure_method, "x-ray diffraction");
    let chain_a = &mmcif.seqres_to_structure["A"];
    assert_eq!(chain_a.len(), 93);
    assert_eq!(chain_a.iter().filter(|r| !r.is_missing).count(), 83);
    let protein = mmcif_chain_to_protein(&mmcif, "A").unwrap();
    let unmasked = protein
        .atom_mask
        .iter()
        .filter(|m| m.iter().any(|&v| v > 0.5))
        .count();
    assert_eq!(unmasked, 83);
    assert_eq!(protein.residue_index.first(), Some(&1));
    assert_eq!(protein.residue_index.last(), Some(&93));

    // 4zey: three selenomethionines (`grep -c ' MSE n' 4zey.cif`) read as methionine with SD.
    let Some(path) = shared_data("openfold_mini/mmcif/4zey.cif") else {
        return;
    };
    let mmcif = read_mmcif(&path).unwrap();
    let sequence = &mmcif.chain_to_seqres["A"];
    assert_eq!(sequence.len(), 84);
    assert!(sequence.starts_with("GMEGPLNLAHQQ"), "{sequence}");
    let protein = mmcif_chain_to_protein(&mmcif, "A").unwrap();
    let sd = ATOM_TYPES.iter().position(|a| *a == "SD").unwrap();
    assert_eq!(protein.atom_mask[1][sd], 1.0);

    // 2q2k: chain F is DNA, so only the two protein chains A and B remain (README: X-ray, 70 aa).
    let Some(path) = shared_data("openfold_mini/mmcif/2q2k.cif") else {
        return;
    };
    let mmcif = read_mmcif(&path).unwrap();
    assert_eq!(mmcif.chain_to_seqres.keys().collect::<Vec<_>>(), ["A", "B"]);
    assert_eq!(mmcif.chain_to_seqres["A"].len(), 70);
}

/// Writes `text` under `dir` and returns the path.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn broken_files_fail_with_the_file_and_line() {
    let Some(pdb_path) = shared_data("alphafold_testdata/glucagon.pdb") else {
        return;
    };
    let Some(cif_path) = shared_data("openfold_mini/mmcif/3u8v.cif") else {
        return;
    };
    let pdb_text = std::fs::read_to_string(&pdb_path).unwrap();
    let cif_text = std::fs::read_to_string(&cif_path).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let error = |result: anyhow::Result<()>| format!("{:#}", result.unwrap_err());
    let pdb_error = |path: &Path| error(read_pdb(path).map(|_| ()));
    let cif_error = |path: &Path| error(read_mmcif(path).map(|_| ()));

    // A PDB cut in the middle of its 100th ATOM record.
    let atom_starts: Vec<usize> = pdb_text
        .match_indices("\nATOM")
        .map(|(i, _)| i + 1)
        .collect();
    let cut = &pdb_text[..atom_starts[99] + 40];
    let line = cut.lines().count();
    let err = pdb_error(&write(dir.path(), "cut.pdb", cut.as_bytes()));
    assert!(
        err.contains("cut.pdb") && err.contains(&format!("line {line}")),
        "{err}"
    );

    let err = pdb_error(&write(dir.path(), "empty.pdb", b""));
    assert!(
        err.contains("empty.pdb") && err.contains("no amino-acid residues"),
        "{err}"
    );

    let err = pdb_error(&write(
        dir.path(),
        "noise.pdb",
        &[0x00, 0x9f, 0x92, 0x96, 0xff, 0x10],
    ));
    assert!(err.contains("noise.pdb") && err.contains("line 1"), "{err}");

    // mmCIF `ATOM` rows are not PDB's fixed columns: the first one fails (line 707 of 3u8v.cif).
    let err = pdb_error(&cif_path);
    assert!(
        err.contains("3u8v.cif") && err.contains("line 707"),
        "{err}"
    );

    let err = cif_error(&pdb_path);
    assert!(
        err.contains("glucagon.pdb") && err.contains("line 1"),
        "{err}"
    );

    // An mmCIF cut in the middle of an _atom_site row.
    let atom_row = cif_text.find("\nATOM   500 ").unwrap() + 20;
    let err = cif_error(&write(
        dir.path(),
        "cut.cif",
        &cif_text.as_bytes()[..atom_row],
    ));
    assert!(
        err.contains("cut.cif") && err.contains("not a whole number of rows"),
        "{err}"
    );

    let err = cif_error(&write(dir.path(), "empty.cif", b""));
    assert!(
        err.contains("empty.cif") && err.contains("no data_ block"),
        "{err}"
    );

    let mut bad_number = cif_text.clone();
    let x = bad_number.find("\nATOM   1 ").unwrap() + 1;
    let line = bad_number[..x].lines().count() + 1;
    let row_end = x + bad_number[x..].find('\n').unwrap();
    let row = bad_number[x..row_end].to_string();
    let fields: Vec<&str> = row.split_whitespace().collect();
    let broken_row = row.replacen(fields[10], "1.2.3", 1);
    bad_number.replace_range(x..row_end, &broken_row);
    let err = cif_error(&write(dir.path(), "badx.cif", bad_number.as_bytes()));
    assert!(
        err.contains("badx.cif") && err.contains(&format!("line {line}")) && err.contains("1.2.3"),
        "{err}"
    );

    let Some(gz_path) = shared_data("helixfold_train_demo/distill/distill_pdb/X8FLY0.pdb.gz")
    else {
        return;
    };
    let gz = std::fs::read(gz_path).unwrap();
    let err = pdb_error(&write(dir.path(), "cut.pdb.gz", &gz[..gz.len() / 2]));
    assert!(err.contains("cut.pdb.gz") && err.contains("gzip"), "{err}");
}

/// pLDDT-like per-residue B-factors with two decimals: 50.25, 51.25, ...
fn with_plddt(mut protein: Protein) -> Protein {
    let plddt: Vec<f32> = (0..protein.len())
        .map(|i| 50.25 + (i % 50) as f32)
        .collect();
    protein.set_residue_b_factors(&plddt).unwrap();
    protein
}

#[test]
fn written_files_read_back_here_and_in_biopython_and_gemmi() {
    let Some(python) = python() else { return };
    let Some(glucagon) = shared_data("alphafold_testdata/glucagon.pdb") else {
        return;
    };
    let Some(two_chains) = shared_data("alphafold_testdata/2rbg.pdb") else {
        return;
    };
    let Some(with_gaps) = shared_data("openfold_mini/mmcif/3u8v.cif") else {
        return;
    };
    let gapped = mmcif_chain_to_protein(&read_mmcif(&with_gaps).unwrap(), "B").unwrap();
    let proteins = [
        ("glucagon", with_plddt(read_pdb(&glucagon).unwrap())),
        ("2rbg", with_plddt(read_pdb(&two_chains).unwrap())),
        ("3u8v_B", with_plddt(gapped)),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, protein) in proteins {
        let expected = rows_from_protein(&protein, pdb_numbering(&protein));

        let pdb_path = write(
            dir.path(),
            &format!("{name}.pdb"),
            to_pdb_string(&protein).unwrap().as_bytes(),
        );
        let reread = read_pdb(&pdb_path).unwrap();
        assert_same_atoms(
            &format!("{name}.pdb here"),
            rows_from_protein(&reread, pdb_numbering(&reread)),
            expected.clone(),
            5e-4,
            5e-3,
        );
        for mode in ["biopython-pdb", "gemmi"] {
            let theirs = rows_from_json(&independent_reading(&python, mode, &pdb_path));
            assert_same_atoms(
                &format!("{name}.pdb in {mode}"),
                theirs,
                expected.clone(),
                5e-4,
                5e-3,
            );
        }

        let cif_path = write(
            dir.path(),
            &format!("{name}.cif"),
            to_mmcif_string(&protein).unwrap().as_bytes(),
        );
        let mmcif = read_mmcif(&cif_path).unwrap();
        let mut reread_rows = Vec::new();
        for chain in &protein.chain_ids {
            let chain_protein = mmcif_chain_to_protein(&mmcif, chain).unwrap();
            assert_eq!(
                chain_protein.len(),
                protein.chain(chain).unwrap().len(),
                "{name} chain {chain}"
            );
            reread_rows.extend(rows_from_protein(
                &chain_protein,
                mmcif_numbering(&mmcif, chain),
            ));
        }
        assert_same_atoms(
            &format!("{name}.cif here"),
            reread_rows,
            expected.clone(),
            5e-4,
            5e-3,
        );
        for mode in ["biopython-cif", "gemmi"] {
            let theirs = rows_from_json(&independent_reading(&python, mode, &cif_path));
            assert_same_atoms(
                &format!("{name}.cif in {mode}"),
                theirs,
                expected.clone(),
                5e-4,
                5e-3,
            );
        }
    }
}

#[test]
fn truncated_or_corrupted_text_never_panics() {
    use helixfold::data::mmcif::parse_mmcif;
    use helixfold::data::pdb::parse_pdb;
    let Some(pdb_path) = shared_data("alphafold_testdata/2rbg.pdb") else {
        return;
    };
    let Some(cif_path) = shared_data("openfold_mini/mmcif/4zey.cif") else {
        return;
    };
    for path in [pdb_path, cif_path] {
        let text = std::fs::read_to_string(&path).unwrap();
        // Cut at 40 places spread over the file, and overwrite one byte at each of them.
        for step in 1..40 {
            let cut = text.len() * step / 40;
            let prefix = &text[..cut];
            let _ = parse_pdb(prefix);
            let _ = parse_mmcif(prefix, "cut");
            let mut corrupted = text.clone().into_bytes();
            corrupted[cut] = [b'\'', b';', b'\n', b'_', b'#', b'"', b'.', b'?'][step % 8];
            let corrupted = String::from_utf8(corrupted).unwrap();
            let _ = parse_pdb(&corrupted);
            let _ = parse_mmcif(&corrupted, "corrupted");
        }
    }
}
