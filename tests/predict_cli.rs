//! `helixfold predict` end to end on CASP14 target T1026's AlphaFold `features.pkl`
//! (/work/shared/data/casp14_demo/T1026, 172 residues) with random parameters of the `tiny`
//! preset and small MSA sizes (the full model with 5120 extra rows is too slow for a test), and
//! its errors on bad parameter files.
use helixfold::data::npz::read_npz;
use helixfold::testing::shared_data;
use std::path::Path;
use std::process::{Command, Output};
use tch::Tensor;

const T1026_RESIDUES: usize = 172;

fn helixfold(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helixfold")).args(args).output().unwrap()
}

/// `helixfold predict INPUT --preset PRESET` with small MSA sizes into `out`.
fn predict(input: &Path, preset: &str, recycles: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "predict",
        input.to_str().unwrap(),
        "--preset",
        preset,
        "--recycles",
        recycles,
        "--max-extra-msa",
        "8",
        "--max-msa-clusters",
        "8",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    helixfold(&args)
}

fn predict_t1026(features: &Path, out: &Path, extra: &[&str]) -> Output {
    predict(features, "tiny", "1", out, extra)
}

#[test]
fn predict_writes_every_output_with_alphafold_shapes() {
    let Some(features) = shared_data("casp14_demo/T1026/features.pkl") else { return };
    let out = tempfile::tempdir().unwrap();
    let run = predict_t1026(&features, out.path(), &[]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let dir = out.path();

    let pdb = std::fs::read_to_string(dir.join("ranked_0.pdb")).unwrap();
    let ca_lines = pdb.lines().filter(|l| l.starts_with("ATOM") && &l[12..16] == " CA ").count();
    assert_eq!(ca_lines, T1026_RESIDUES);

    // ColabFold's pictures next to the PDB: PNG files (the signature of the PNG specification).
    for picture in ["coverage.png", "plddt.png", "pae.png"] {
        let bytes = std::fs::read(dir.join(picture)).unwrap_or_else(|e| panic!("{picture}: {e}"));
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000, "{picture}");
    }

    let pae: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("pae.json")).unwrap()).unwrap();
    let rows = pae[0]["predicted_aligned_error"].as_array().unwrap();
    assert_eq!(rows.len(), T1026_RESIDUES);

    let ranking: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ranking_debug.json")).unwrap()).unwrap();
    let mean_plddt = ranking["plddts"]["tiny"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&mean_plddt), "{mean_plddt}");

    let timings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("timings.json")).unwrap()).unwrap();
    for stage in ["features", "parameter loading", "predict"] {
        assert!(timings[stage].as_f64().unwrap() >= 0.0, "{stage}");
    }

    let outputs = read_npz(&dir.join("outputs.npz")).unwrap();
    let n = T1026_RESIDUES;
    for (name, shape) in [
        ("distogram/logits", vec![n, n, 64]),
        ("predicted_lddt/logits", vec![n, 50]),
        ("predicted_aligned_error/logits", vec![n, n, 64]),
        ("experimentally_resolved/logits", vec![n, 37]),
        ("structure_module/final_atom_positions", vec![n, 37, 3]),
        ("structure_module/final_atom_mask", vec![n, 37]),
        ("plddt", vec![n]),
        ("predicted_aligned_error", vec![n, n]),
        ("ptm", vec![]),
    ] {
        assert_eq!(outputs[name].shape, shape, "{name}");
    }
}

/// A parameter array of the wrong shape (the structure module's initial projection, which the
/// tiny preset has as [16, 16]) must be named in the error.
#[test]
fn bad_parameter_files_are_errors_naming_the_array() {
    let Some(features) = shared_data("casp14_demo/T1026/features.pkl") else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = "alphafold/alphafold_iteration/structure_module/initial_projection//weights";
    let params = dir.path().join("wrong_shape.npz");
    Tensor::write_npz(&[(key, Tensor::zeros([3, 3], (tch::Kind::Float, tch::Device::Cpu)))], &params).unwrap();
    let run = predict_t1026(&features, &dir.path().join("out"), &["--params", params.to_str().unwrap()]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains(&format!("array '{key}' has shape [3, 3]")), "{stderr}");

    let bytes = std::fs::read(&params).unwrap();
    let truncated = dir.path().join("truncated.npz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let run = predict_t1026(&features, &dir.path().join("out2"), &["--params", truncated.to_str().unwrap()]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("truncated.npz"), "{stderr}");
}

/// A FASTA query alone with a preset that embeds templates (model_1): the pipeline supplies
/// the empty template set AlphaFold's gives when no template is found, padded to the preset's
/// four masked-out templates, and the full network runs.
#[test]
fn fasta_input_runs_a_template_preset_without_templates() {
    let dir = tempfile::tempdir().unwrap();
    let fasta = dir.path().join("query.fasta");
    std::fs::write(&fasta, ">query\nMKTAYIAKQRQISFVKSHFSRQ\n").unwrap();
    let out = dir.path().join("out");
    let run = predict(&fasta, "model_1", "0", &out, &[]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let pdb = std::fs::read_to_string(out.join("ranked_0.pdb")).unwrap();
    let residues = pdb.lines().filter(|l| l.starts_with("ATOM") && &l[12..16] == " CA ").count();
    assert_eq!(residues, 22);
}
