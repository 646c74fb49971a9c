//! End-to-end tests of `helixfold score`: the binary on real structure pairs against the
//! TM-score program's own numbers (and DeepMind's `lddt.py` for lDDT-Ca), and its behaviour on
//! bad input.
use helixfold::testing::shared_data;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn helixfold(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helixfold")).args(args).output().expect("binary runs")
}

fn json_scores(model: &Path, native: &Path) -> Value {
    let output = helixfold(&["score", model.to_str().unwrap(), native.to_str().unwrap(), "--json"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "helixfold score failed: {stderr}");
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON object")
}

fn number(value: &Value, key: &str) -> f64 {
    value[key].as_f64().unwrap_or_else(|| panic!("no number {key} in {value}"))
}

/// lDDT-Ca of each expected.json `tmscore` pair (by model file) from DeepMind's
/// `alphafold.model.lddt.lddt` (alphafold 2.0.0 in the project's `.venv`):
/// `.venv/bin/python tests/support/lddt_reference.py tmscore/MODEL tmscore/NATIVE`.
const ALPHAFOLD_LDDT_CA: [(&str, f64); 2] = [("PDB1.pdb", 0.327891), ("2pel_chainA.pdb", 0.180839)];

#[test]
fn scores_match_the_tm_score_program() {
    let Some(dir) = shared_data("tmscore") else { return };
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let rows = expected["tmscore"].as_array().expect("tmscore rows");
    assert!(!rows.is_empty());
    for row in rows {
        let model = dir.join(row["model"].as_str().unwrap());
        let native = dir.join(row["native"].as_str().unwrap());
        let got = json_scores(&model, &native);
        let context = format!("{} vs {}: {got}", model.display(), native.display());
        // expected.json prints TM-score and GDT to 4 decimals, RMSD to 3 and d0 to 2.
        for (key, expected_key, tolerance) in [
            ("tm_score", "tm", 1e-3),
            ("gdt_ts", "gdt_ts", 1e-3),
            ("gdt_ha", "gdt_ha", 1e-3),
            ("rmsd", "rmsd_common", 1e-3),
            ("d0", "d0", 5e-3),
        ] {
            let difference = (number(&got, key) - number(row, expected_key)).abs();
            assert!(difference <= tolerance, "{key} off by {difference}; {context}");
        }
        assert_eq!(got["common_residues"], row["common"], "{context}");
        let model_name = row["model"].as_str().unwrap();
        let (_, lddt_ca) = ALPHAFOLD_LDDT_CA
            .iter()
            .find(|(name, _)| *name == model_name)
            .unwrap_or_else(|| panic!("no lDDT-Ca reference for {model_name}"));
        let difference = (number(&got, "lddt_ca") - lddt_ca).abs();
        assert!(difference <= 1e-4, "lddt_ca off by {difference}; {context}");
    }
}

#[test]
fn text_report_has_the_tm_score_layout() {
    let Some(dir) = shared_data("tmscore") else { return };
    let output = helixfold(&[
        "score",
        dir.join("PDB1.pdb").to_str().unwrap(),
        dir.join("PDB2.pdb").to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    // The lines `TMscore PDB1.pdb PDB2.pdb` prints (Debian tm-align 20190822), as recorded in
    // /work/shared/data/tmscore/expected.json.
    for line in [
        "Number of residues in common=  166",
        "RMSD of  the common residues=   18.378",
        "TM-score    = 0.1679  (d0= 4.80)",
        "GDT-TS-score= 0.1220",
        "GDT-HA-score= 0.0783",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let Some(native) = shared_data("tmscore/PDB2.pdb") else { return };
    let missing = "/nonexistent/helixfold/model.pdb";
    let output = helixfold(&["score", missing, native.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(missing), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn malformed_pdb_is_an_error_naming_it() {
    let Some(native) = shared_data("tmscore/PDB2.pdb") else { return };
    let dir = tempfile::tempdir().unwrap();
    let malformed = dir.path().join("malformed.pdb");
    std::fs::write(
        &malformed,
        "ATOM      1  CA  ALA A   1      11.104   abc.de   5.000  1.00 20.00           C\n",
    )
    .unwrap();
    let output = helixfold(&["score", malformed.to_str().unwrap(), native.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(malformed.to_str().unwrap()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn usage_errors_exit_with_status_one() {
    let output = helixfold(&["score", "only-one-file.pdb"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: "));
}

/// The T1026 native with every atom of residue `r` moved by a pseudo-random offset of at most
/// `amplitude` milli-Å per axis, residues after 100 moved a further `shift` milli-Å along x,
/// and residues numbered a multiple of `drop_every` removed. Integer milli-Å arithmetic keeps
/// the written file exactly reproducible.
fn perturbed_pdb(native: &str, amplitude: i64, shift: i64, drop_every: i32) -> String {
    let mut out = String::new();
    for line in native.lines() {
        if !line.starts_with("ATOM") {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let residue: i32 = line[22..26].trim().parse().unwrap();
        if residue % drop_every == 0 {
            continue;
        }
        out.push_str(&line[..30]);
        for axis in 0..3i64 {
            let field = &line[30 + 8 * axis as usize..38 + 8 * axis as usize];
            let mut milli = (field.trim().parse::<f64>().unwrap() * 1000.0).round() as i64;
            milli +=
                (residue as i64 * 7919 + axis * 104729).rem_euclid(2 * amplitude + 1) - amplitude;
            if axis == 0 && residue > 100 {
                milli += shift;
            }
            out.push_str(&format!("{:8.3}", milli as f64 / 1000.0));
        }
        out.push_str(&line[54..]);
        out.push('\n');
    }
    out
}

#[test]
fn perturbed_t1026_matches_the_tm_score_program() {
    let Some(native) = shared_data("casp14_demo/T1026/native.pdb") else { return };
    let native_text = std::fs::read_to_string(&native).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // (amplitude, shift, drop_every) -> (common, RMSD, TM-score, GDT-TS, GDT-HA) as printed by
    // `TMscore T1026_<amplitude>_<shift>_<drop_every>.pdb casp14_demo/T1026/native.pdb`
    // (Debian tm-align 20190822+dfsg-2) on the file this function writes, and lDDT-Ca from
    // `.venv/bin/python tests/support/lddt_reference.py T1026_<...>.pdb native.pdb`.
    let cases = [
        ((500, 0, 11), (133, 0.501, 0.8998, 0.9110, 0.8236, 0.938229)),
        ((2000, 3000, 7), (125, 2.574, 0.6629, 0.6027, 0.4144, 0.560362)),
        ((4000, 12000, 5), (117, 7.205, 0.3369, 0.3185, 0.2055, 0.406595)),
    ];
    for ((amplitude, shift, drop_every), (common, rmsd, tm, gdt_ts, gdt_ha, lddt_ca)) in cases {
        let model = dir.path().join(format!("T1026_{amplitude}_{shift}_{drop_every}.pdb"));
        std::fs::write(&model, perturbed_pdb(&native_text, amplitude, shift, drop_every)).unwrap();
        let got = json_scores(&model, &native);
        assert_eq!(got["common_residues"], common, "{got}");
        assert_eq!(got["native_length"], 146, "{got}");
        for (key, expected) in
            [("rmsd", rmsd), ("tm_score", tm), ("gdt_ts", gdt_ts), ("gdt_ha", gdt_ha)]
        {
            let difference = (number(&got, key) - expected).abs();
            assert!(difference <= 1e-3, "{key} off by {difference}: {got}");
        }
        let difference = (number(&got, "lddt_ca") - lddt_ca).abs();
        assert!(difference <= 1e-4, "lddt_ca off by {difference}: {got}");
    }
}
