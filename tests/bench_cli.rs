//! `helixfold bench infer` from the command line: a tiny run writes its JSON line, and a
//! reference request the JAX side cannot serve fails with a message naming the preset.
use std::process::Command;

fn helixfold() -> Command {
    Command::new(env!("CARGO_BIN_EXE_helixfold"))
}

#[test]
fn bench_infer_tiny_writes_a_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.jsonl");
    let output = helixfold()
        .args(["bench", "infer", "--preset", "tiny", "--length", "12", "--msa", "3", "--extra-msa", "5"])
        .args(["--templates", "2", "--recycles", "1", "--repeats", "2", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("s/recycle") && stdout.contains("peak RSS"), "{stdout}");
    let line: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&json).unwrap().trim()).unwrap();
    assert_eq!(line["preset"], "tiny");
    assert_eq!(line["length"], 12);
    assert_eq!(line["pass_seconds"].as_array().unwrap().len(), 2);
    assert!(line["seconds_per_recycle"].as_f64().unwrap() > 0.0);
    assert!(line["peak_memory_mib"].as_f64().unwrap() > 0.0);
    assert!(line["reference"].is_null());
}

#[test]
fn bench_infer_rejects_a_reference_for_our_own_presets_and_bad_sizes() {
    let output = helixfold()
        .args(["bench", "infer", "--preset", "tiny", "--length", "8", "--reference", "jax"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("preset 'tiny'") && stderr.contains("DeepMind's presets"), "{stderr}");
    let output = helixfold().args(["bench", "infer", "--preset", "tiny", "--length", "0"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("at least one residue"), "{stderr}");
}

#[test]
fn bench_plot_times_each_plot() {
    let output = helixfold().args(["bench", "plot", "--length", "40"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.starts_with("40 residues"), "{stdout}");
    assert!(stdout.lines().skip(1).count() >= 2 && stdout.contains(" s\n"), "{stdout}");
}
