//! Batch mode end to end: the `helixfold` binary running scripts (`helixfold run`), command
//! strings (`-c`) and standard input, through every command's happy path and every kind of
//! failure, checking stdout, stderr, exit codes and the reported line.
use helixfold::testing::shared_data;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const DEMO_PDB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/1a8o.pdb");

/// Residues of chain A in examples/data/1a8o.pdb: ATOM records of residues 151–220 (the file's
/// SEQRES declares 70 residues and every one is observed).
const DEMO_RESIDUES: usize = 70;

fn helixfold(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helixfold")).args(args).current_dir(cwd).output().expect("binary runs")
}

struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            code: output.status.code(),
        }
    }
}

/// Writes `text` as `script.hf` in `dir` and runs it there.
fn run_script(dir: &Path, text: &str) -> Run {
    std::fs::write(dir.join("script.hf"), text).unwrap();
    helixfold(&["run", "script.hf"], dir).into()
}

fn succeeded(run: &Run) {
    assert_eq!(run.code, Some(0), "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
}

/// Fails at `line` of script.hf with `command` and a cause containing `cause`; nothing after
/// that command ran.
fn failed_at(run: &Run, line: usize, command: &str, cause: &str) {
    assert_eq!(run.code, Some(1), "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let prefix = format!("error: script.hf:{line}: {command}: ");
    assert!(run.stderr.starts_with(&prefix), "expected {prefix:?}, stderr:\n{}", run.stderr);
    assert!(run.stderr.contains(cause), "expected {cause:?}, stderr:\n{}", run.stderr);
    assert!(!run.stdout.contains("NEVER"), "a command after the failure ran:\n{}", run.stdout);
}

/// The value in a two-column table row `name  value` of `text`.
fn table_value<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(name).filter(|rest| rest.starts_with("  ")).map(str::trim))
        .unwrap_or_else(|| panic!("no row {name} in:\n{text}"))
}

#[test]
fn the_demo_script_scores_its_protein_against_itself_and_writes_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"), dir.path().join("examples")).unwrap();
    let run: Run = helixfold(&["run", "examples/demo.hf"], dir.path()).into();
    succeeded(&run);
    assert!(run.stdout.contains(&format!("loaded structure '1a8o': {DEMO_RESIDUES} residues")), "{}", run.stdout);
    // Identical structures: every similarity is 1 and the RMSD 0, by definition of the metrics.
    for (metric, value) in [("TM-score", "1.0000"), ("GDT-TS", "1.0000"), ("GDT-HA", "1.0000"), ("lDDT-Cα", "1.0000"), ("RMSD (Å)", "0.000")] {
        assert_eq!(table_value(&run.stdout, metric), value, "{metric}");
    }
    let pdb = helixfold::data::pdb::read_pdb(&dir.path().join("out/demo/1a8o.pdb")).unwrap();
    let original = helixfold::data::pdb::read_pdb(Path::new(DEMO_PDB)).unwrap();
    assert_eq!(pdb, original);
    let cif = std::fs::read_to_string(dir.path().join("out/demo/1a8o.cif")).unwrap();
    assert!(cif.starts_with("data_") && cif.contains("_atom_site."), "{}", &cif[..cif.len().min(200)]);
}

#[test]
fn a_saved_mmcif_loads_back_and_scores_against_the_pdb() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_script(
        dir.path(),
        &format!("load {DEMO_PDB} name=native\nsave native copy.cif\nload copy.cif name=copy\neval copy native\nshow inputs\n"),
    );
    succeeded(&run);
    assert!(run.stdout.contains(&format!("loaded structure 'copy': {DEMO_RESIDUES} residues, chains A")), "{}", run.stdout);
    assert_eq!(table_value(&run.stdout, "common residues"), DEMO_RESIDUES.to_string());
    assert_eq!(table_value(&run.stdout, "TM-score"), "1.0000");
}

#[test]
fn sequences_and_msas_load_and_show_their_lengths_and_depths() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("query.fasta"), ">query test protein\nMKVL\nAAG\n").unwrap();
    std::fs::write(dir.path().join("hits.a3m"), ">query\nMKVLAAG\n>hit1\nMKaaILAA-\n>hit2\n-KVLAAG\n").unwrap();
    std::fs::write(
        dir.path().join("hits.sto"),
        "# STOCKHOLM 1.0\nquery MKVLAAG\nhitA  MK-LAAG\nhitB  MKVLA-G\nhitC  ---LAAG\n//\n",
    )
    .unwrap();
    let run = run_script(dir.path(), "load query.fasta\nload hits.a3m\nload hits.sto name=uniref90\nshow inputs\n");
    succeeded(&run);
    assert!(run.stdout.contains("loaded sequence 'query test protein': 7 residues"), "{}", run.stdout);
    assert!(run.stdout.contains("loaded MSA 'hits': 3 sequences × 7 columns"), "{}", run.stdout);
    assert!(run.stdout.contains("loaded MSA 'uniref90': 4 sequences × 7 columns"), "{}", run.stdout);
    let rows: Vec<Vec<&str>> = run.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert!(rows.contains(&vec!["msa", "hits", "7", "3", "hits.a3m"]), "{}", run.stdout);
    assert!(rows.contains(&vec!["msa", "uniref90", "7", "4", "hits.sto"]), "{}", run.stdout);
}

#[test]
fn the_shared_query_inputs_load_with_their_depths() {
    let Some(query) = shared_data("openfold_mini/query") else { return };
    let a3m = std::fs::read_to_string(query.join("bfd_uniclust_hits.a3m")).unwrap();
    let a3m_depth = a3m.lines().filter(|l| l.starts_with('>')).count();
    let sto = std::fs::read_to_string(query.join("uniref90_hits.sto")).unwrap();
    let mut sto_names: Vec<&str> = sto
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("//") && l.split_whitespace().count() == 2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    sto_names.sort();
    sto_names.dedup();
    let hhr = std::fs::read_to_string(query.join("pdb70_hits.hhr")).unwrap();
    let hits = hhr.lines().filter(|l| l.starts_with("No ")).count();
    let script = format!(
        "load {q}/short.fasta\nload {q}/bfd_uniclust_hits.a3m name=bfd\nload {q}/uniref90_hits.sto\nload {q}/pdb70_hits.hhr\nshow inputs\n",
        q = query.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let run = run_script(dir.path(), &script);
    succeeded(&run);
    // short.fasta's query has 73 residues (the hhr's `Match_columns 73`).
    assert!(run.stdout.contains("loaded sequence 'query': 73 residues"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("MSA 'bfd': {a3m_depth} sequences × 73 columns")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("MSA 'uniref90_hits': {} sequences × 73 columns", sto_names.len())), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("template hits: {hits}")), "{}", run.stdout);
}

#[test]
fn a_pae_attaches_to_its_structure_and_saves_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let n = DEMO_RESIDUES;
    let rows: Vec<String> = (0..n)
        .map(|i| format!("[{}]", (0..n).map(|j| format!("{}", i.abs_diff(j) % 30)).collect::<Vec<_>>().join(",")))
        .collect();
    let json = format!("[{{\"predicted_aligned_error\":[{}],\"max_predicted_aligned_error\":31.75}}]", rows.join(","));
    std::fs::write(dir.path().join("pae.json"), &json).unwrap();
    let run = run_script(dir.path(), &format!("load {DEMO_PDB} name=model\nload pae.json name=model\nsave model out/pae.json\n"));
    succeeded(&run);
    assert!(run.stdout.contains(&format!("loaded PAE of 'model': {n} × {n}")), "{}", run.stdout);
    let written = helixfold::data::pae_json::read_pae_json(&dir.path().join("out/pae.json")).unwrap();
    let original = helixfold::data::pae_json::parse_pae_json(&json).unwrap();
    assert_eq!(written, original);
}

#[test]
fn data_settings_are_validated_and_shown_by_show_config() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_script(dir.path(), "data crop_size=384 \\\n  msa_depth=512 extra_msa=5120\ndata seed=7\nshow config\n");
    succeeded(&run);
    let config = run.stdout.rsplit("setting").next().unwrap();
    for (name, value) in [("crop_size", "384"), ("msa_depth", "512"), ("extra_msa", "5120"), ("seed", "7"), ("device", "cpu")] {
        assert_eq!(table_value(config, name), value, "{name}");
    }
}

#[test]
fn general_commands_run_in_batch() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_script(dir.path(), "help\nhelp load\necho hello\necho warn stream=stderr\nthreads 1\ndevice cpu\nhistory 3\nreset\n");
    succeeded(&run);
    for expected in ["load", "eval", "save", "kind=<fasta|a3m|sto|hhr|pdb|cif|pae|dataset>", "hello", "threads: 1", "device: cpu", "5  threads 1", "session reset"] {
        assert!(run.stdout.contains(expected), "no {expected:?} in:\n{}", run.stdout);
    }
    assert_eq!(run.stderr, "warn\n");
}

/// precision, runtime and sleep set and show their values; a value outside the command's
/// choices or range and an unknown key are errors that list what is valid.
#[test]
fn runtime_settings_and_sleep_run_in_batch() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_script(dir.path(), "precision bf16\nruntime chunk_size=4 fused_attention=true recompute=true\nsleep 0.05\nshow config\n");
    succeeded(&run);
    assert!(run.stdout.contains("precision: bf16"), "{}", run.stdout);
    assert_eq!(table_value(&run.stdout, "chunk_size"), "4");
    assert_eq!(table_value(&run.stdout, "fused_attention"), "true");
    assert_eq!(table_value(&run.stdout, "recompute"), "true");
    for (command, cause) in [
        ("precision fp16", "expected one of fp32, bf16"),
        ("runtime chunk=4", "unknown key 'chunk'; valid keys: chunk_size, fused_attention, recompute"),
        ("sleep -1", "expected number 0..=86400"),
    ] {
        failed_at(&run_script(dir.path(), &format!("{command}\necho NEVER\n")), 1, command, cause);
    }
}

#[test]
fn command_strings_and_standard_input_run_the_same_language() {
    let dir = tempfile::tempdir().unwrap();
    let run: Run = helixfold(&["-c", &format!("load {DEMO_PDB}; show inputs")], dir.path()).into();
    succeeded(&run);
    assert!(run.stdout.contains("structure  1a8o"), "{}", run.stdout);

    let run: Run = helixfold(&["-c", "echo one; bogus; echo NEVER"], dir.path()).into();
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "one\n");
    assert!(run.stderr.starts_with("error: -c:1: bogus: unknown command 'bogus'"), "{}", run.stderr);

    let mut child = Command::new(env!("CARGO_BIN_EXE_helixfold"))
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"echo from-stdin\n\nnosuch\n").unwrap();
    let run: Run = child.wait_with_output().unwrap().into();
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "from-stdin\n");
    assert!(run.stderr.starts_with("error: <stdin>:3: nosuch: unknown command"), "{}", run.stderr);
}

#[test]
fn unknown_commands_keys_and_values_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_script(dir.path(), "# comment\necho ok\nshwo inputs\necho NEVER\n");
    failed_at(&run, 3, "shwo inputs", "unknown command 'shwo'; did you mean `show`?");
    assert_eq!(run.stdout, "ok\n");

    let run = run_script(dir.path(), "data colour=red\n");
    failed_at(&run, 1, "data colour=red", "unknown key 'colour'; valid keys: crop_size, msa_depth, extra_msa, seed");

    let run = run_script(dir.path(), "\ndata crop_size=big\necho NEVER\n");
    failed_at(&run, 2, "data crop_size=big", "crop_size=big: expected integer 16..=100000");

    let run = run_script(dir.path(), "show everything\n");
    failed_at(&run, 1, "show everything", "expected one of inputs, batch, config");

    let run = run_script(dir.path(), "load\n");
    failed_at(&run, 1, "load", "missing argument 'file'");
}

#[test]
fn missing_malformed_and_mistyped_files_are_reported_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.pdb"), "ATOM      1  N   MET A 151      19.594  xx.367\n").unwrap();
    std::fs::write(dir.path().join("seq.fasta"), ">q\nMKV\n").unwrap();
    std::fs::write(dir.path().join("two.fasta"), ">a\nMKV\n>b\nMKL\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello\n").unwrap();

    let run = run_script(dir.path(), "echo start\nload absent.pdb\necho NEVER\n");
    failed_at(&run, 2, "load absent.pdb", "cannot read absent.pdb");

    let run = run_script(dir.path(), "load broken.pdb\n");
    failed_at(&run, 1, "load broken.pdb", "reading PDB file broken.pdb: line 1: bad ATOM record");

    let run = run_script(dir.path(), "load seq.fasta kind=pdb\n");
    failed_at(&run, 1, "load seq.fasta kind=pdb", "no amino-acid residues");

    let run = run_script(dir.path(), "load notes.txt\n");
    failed_at(&run, 1, "load notes.txt", "cannot tell the file type of notes.txt from its extension");

    let run = run_script(dir.path(), "load two.fasta\n");
    failed_at(&run, 1, "load two.fasta", "holds 2 sequences");

    let run = run_script(dir.path(), "load seq.fasta chain=A\n");
    failed_at(&run, 1, "load seq.fasta chain=A", "chain= applies to structures");

    let run = run_script(dir.path(), &format!("load {DEMO_PDB} chain=Z\n"));
    failed_at(&run, 1, &format!("load {DEMO_PDB} chain=Z"), "no chain \"Z\"");
}

#[test]
fn commands_on_absent_or_unsuitable_structures_fail() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("seq.fasta"), ">q\nMKV\n").unwrap();
    std::fs::write(dir.path().join("wide.a3m"), ">q\nMKVL\n").unwrap();
    std::fs::write(dir.path().join("small.json"), "[{\"predicted_aligned_error\":[[0,1],[1,0]],\"max_predicted_aligned_error\":31.75}]").unwrap();
    let load = format!("load {DEMO_PDB} name=native\n");

    let run = run_script(dir.path(), &format!("{load}eval model native\n"));
    failed_at(&run, 2, "eval model native", "no structure 'model'; loaded: native");

    let run = run_script(dir.path(), &format!("{load}save native out.pdb\nsave native out.json\n"));
    failed_at(&run, 3, "save native out.json", "structure 'native' has no PAE");
    assert!(dir.path().join("out.pdb").exists());

    let run = run_script(dir.path(), &format!("{load}save native out.xyz\n"));
    failed_at(&run, 2, "save native out.xyz", "cannot tell the format of out.xyz");

    let run = run_script(dir.path(), &format!("{load}load small.json name=native\n"));
    failed_at(&run, 2, "load small.json name=native", &format!("covers 2 residues but structure 'native' has {DEMO_RESIDUES}"));

    let run = run_script(dir.path(), "load seq.fasta\nload wide.a3m\n");
    failed_at(&run, 2, "load wide.a3m", "MSA 'wide' has 4 columns but the loaded sequence has 3 residues");
}

#[test]
fn a_missing_script_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let run: Run = helixfold(&["run", "absent.hf"], dir.path()).into();
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.starts_with("error: cannot read script absent.hf"), "{}", run.stderr);
}


/// The whole session path of a prediction: inputs, features, a tiny random model, inference with
/// progress, scoring, plots and every output file. Random parameters predict no real fold, so
/// the scores are only checked to lie in their ranges; the files are read back.
#[test]
fn a_tiny_model_predicts_scores_plots_and_saves_the_demo_protein() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "load {DEMO_PDB} name=native chain=A\n\
         features from=native recycles=1\n\
         model tiny templates=false\n\
         params init seed=1\n\
         infer\n\
         show outputs\n\
         eval prediction native\n\
         plot plddt path=out/plddt.png\n\
         plot contacts native=native path=out/contacts.svg\n\
         save prediction out/prediction.pdb\n\
         save prediction out/pae.json\n\
         save prediction out/outputs.npz\n\
         params save out/tiny.safetensors\n"
    );
    let run = run_script(dir.path(), &script);
    succeeded(&run);
    assert_eq!(table_value(&run.stdout, "residues"), DEMO_RESIDUES.to_string());
    assert_eq!(table_value(&run.stdout, "recycles"), "1");
    // The progress of both iterations went to stderr, the last one certainly.
    assert!(run.stderr.contains("infer: 2/2 iteration 2 of 2"), "{}", run.stderr);
    let plddt: f64 = table_value(&run.stdout, "mean pLDDT").parse().unwrap();
    assert!((0.0..=100.0).contains(&plddt), "{plddt}");
    let tm: f64 = table_value(&run.stdout, "TM-score").parse().unwrap();
    assert!((0.0..=1.0).contains(&tm), "{tm}");
    // `features from=native` numbers the prediction like the native, so every residue pairs up.
    assert_eq!(table_value(&run.stdout, "common residues"), DEMO_RESIDUES.to_string());
    assert!(run.stdout.contains("plddt") && run.stdout.contains("[70, 70, 64]"), "{}", run.stdout);

    let out = dir.path().join("out");
    let png = std::fs::read(out.join("plddt.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(out.join("contacts.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("native"), "{}", &svg[..svg.len().min(200)]);
    let predicted = helixfold::data::pdb::read_pdb(&out.join("prediction.pdb")).unwrap();
    assert_eq!(predicted.len(), DEMO_RESIDUES);
    let pae = helixfold::data::pae_json::read_pae_json(&out.join("pae.json")).unwrap();
    assert_eq!(pae.num_res, DEMO_RESIDUES);
    let outputs = helixfold::data::npz::read_npz(&out.join("outputs.npz")).unwrap();
    assert_eq!(outputs["plddt"].shape, vec![DEMO_RESIDUES]);
    assert!(out.join("tiny.safetensors").is_file());
}

/// Looking inside the network in a script: `inspect` lists and summarises captures, `plot`
/// draws them to files (reusing the capture), and a bad selection stops the script at its line.
#[test]
fn inspect_and_network_plots_run_in_a_script() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "load {DEMO_PDB} name=native chain=A\n\
         features from=native recycles=1\n\
         model tiny templates=false\n\
         params init seed=1\n\
         inspect\n\
         inspect attention module=tri_start block=1 head=0 row=3\n\
         plot attention module=tri_start block=1 head=0 row=3 path=out/attention.png\n\
         inspect recycles\n\
         plot trajectory path=out/trajectory.svg\n\
         plot structure path=out/structure.png\n\
         inspect attention module=msa_col stack=template\n\
         echo NEVER\n"
    );
    let run = run_script(dir.path(), &script);
    // Inference progress precedes the error on stderr, so this checks what `failed_at` does
    // without its prefix test.
    assert_eq!(run.code, Some(1), "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("error: script.hf:11: inspect attention module=msa_col stack=template: the template stack has no msa_col attention"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("NEVER"), "{}", run.stdout);
    assert!(run.stdout.contains("attention module=tri_start"), "{}", run.stdout);
    assert!(run.stdout.contains("Triangle attention around the starting node"), "{}", run.stdout);
    assert!(run.stdout.contains("mean entropy (nats)"), "{}", run.stdout);
    assert!(run.stdout.contains("Cα RMSD to previous (Å)"), "{}", run.stdout);
    let out = dir.path().join("out");
    for png in ["attention.png", "structure.png"] {
        assert_eq!(&std::fs::read(out.join(png)).unwrap()[..8], b"\x89PNG\r\n\x1a\n", "{png}");
    }
    let svg = std::fs::read_to_string(out.join("trajectory.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Structure-module layer"), "{}", &svg[..svg.len().min(200)]);
}

#[test]
fn model_commands_fail_with_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    for (script, command, cause) in [
        ("infer\necho NEVER\n", "infer", "no batch: run `features` first"),
        ("plot plddt\necho NEVER\n", "plot plddt", "no prediction yet: run `infer` first"),
        ("model tiny\nparams load nothing.npz\necho NEVER\n", "params load nothing.npz", "no parameter file nothing.npz"),
        ("model tiny depth=3\necho NEVER\n", "model tiny depth=3", "unknown key 'depth'; valid keys: preset, evoformer_num_block"),
        ("parallel bp=3\necho NEVER\n", "parallel bp=3", "bp=3: expected integer 1..=2"),
    ] {
        let run = run_script(dir.path(), script);
        let line = script.lines().position(|l| l == command).unwrap() + 1;
        failed_at(&run, line, command, cause);
    }
}

/// Training in the session on 1psm (/work/shared/data/openfold_mini, 38 residues, with its
/// BFD alignment): steps report finite losses, run settings cannot change mid-run, a checkpoint
/// saves and resumes the run at its step, and the trained network runs `infer`.
#[test]
fn train_steps_checkpoint_and_resume_in_a_script() {
    let Some(root) = helixfold::testing::shared_data("openfold_mini") else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "load {root}/mmcif/1psm.cif name=native\n\
         load {root}/alignments/1psm_A/bfd_uniclust_hits.a3m\n\
         model tiny\nparams init seed=1\n\
         train step 3 lr=0.001 warmup=0\n\
         train step 1 lr=0.01\n",
        root = root.display()
    );
    let run = run_script(dir.path(), &script);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("3 step(s) on 'native'") && run.stdout.contains("run at step 3"), "{}", run.stdout);
    assert!(run.stderr.contains("lr apply to a new run: `train reset` first"), "{}", run.stderr);
    let loss: f64 = table_value(&run.stdout, "loss").parse().unwrap();
    assert!(loss.is_finite() && loss > 0.0, "{loss}");

    let script = format!(
        "load {root}/mmcif/1psm.cif name=native\n\
         model tiny templates=false\nparams init\n\
         train step 2 warmup=0\n\
         checkpoint save run.safetensors\n\
         train reset\n\
         checkpoint load run.safetensors\n\
         train step\n\
         features from=native\ninfer recycles=0\n",
        root = root.display()
    );
    let run = run_script(dir.path(), &script);
    succeeded(&run);
    assert!(run.stdout.contains("resumed the run from run.safetensors at step 2"), "{}", run.stdout);
    assert!(run.stdout.contains("1 step(s) on 'native'") && run.stdout.contains("run at step 3"), "{}", run.stdout);
    assert!(dir.path().join("run.safetensors").is_file());

    let run = run_script(dir.path(), "model tiny\nparams init\ntrain step\necho NEVER\n");
    failed_at(&run, 3, "train step", "no structure to train on");
}

/// Training on a loaded training set (OpenFold's layout: /work/shared/data/openfold_mini, eight
/// chains each its own cluster) draws its examples from the set; `show inputs` lists the set and
/// `show training` what the run trains on; a folder that is no training set is refused.
#[test]
fn train_draws_from_a_loaded_training_set() {
    let Some(root) = helixfold::testing::shared_data("openfold_mini") else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "load {root}
show inputs
model tiny templates=false
params init
         train step 2 warmup=0 max_recycle=0
show training
load {empty} kind=dataset
echo NEVER
",
        root = root.display(),
        empty = dir.path().display()
    );
    let run = run_script(dir.path(), &script);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let error = format!("error: script.hf:7: load {0} kind=dataset: {0}: not a training set", dir.path().display());
    assert!(run.stderr.contains(&error), "{}", run.stderr);
    assert!(!run.stdout.contains("NEVER"));
    assert!(run.stdout.contains("training set (openfold layout): 8 chains in 8 clusters"), "{}", run.stdout);
    assert!(run.stdout.contains("openfold layout, 8 clusters"), "{}", run.stdout);
    let source = format!("training set {}", root.display());
    assert!(run.stdout.contains(&format!("2 step(s) on {source}")), "{}", run.stdout);
    assert_eq!(table_value(&run.stdout, "data"), source);
}

/// A sequence of `length` residues cycling through the 20 amino acids, as a FASTA file.
fn write_long_fasta(path: &Path, name: &str, length: usize) {
    let sequence: String = "ACDEFGHIKLMNPQRSTVWY".chars().cycle().take(length).collect();
    std::fs::write(path, format!(">{name}\n{sequence}\n")).unwrap();
}

/// Running out of memory is an error like any other. Under an address-space limit (`ulimit -v`,
/// 6 GB) the feature pipeline refuses a 20,000-residue batch before building it (Rust's
/// allocator would abort the process), and libtorch's refused allocation during a 3,000-residue
/// `infer` is reported as out of memory without its C++ stack; the interactive session keeps
/// what it had and the next prediction runs.
#[test]
fn running_out_of_memory_keeps_the_session() {
    let dir = tempfile::tempdir().unwrap();
    write_long_fasta(&dir.path().join("big.fasta"), "big", 20_000);
    write_long_fasta(&dir.path().join("mid.fasta"), "mid", 3_000);
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -v 6000000 && exec \"$0\" repl", env!("CARGO_BIN_EXE_helixfold")])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let commands = format!(
        "model tiny templates=false\nparams init\nload big.fasta\nfeatures\n\
         load mid.fasta\ndata msa_depth=8 extra_msa=8\nfeatures recycles=0\ninfer recycles=0\nshow inputs\n\
         load {DEMO_PDB} name=1a8o\nfeatures from=1a8o recycles=0\ninfer recycles=0\nshow outputs\n"
    );
    child.stdin.take().unwrap().write_all(commands.as_bytes()).unwrap();
    let run: Run = child.wait_with_output().unwrap().into();
    let context = format!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("error: features: processing the features of big.fasta: the processed batch of 20000 residues needs about"), "{context}");
    assert!(run.stderr.contains("error: infer recycles=0: out of memory: DefaultCPUAllocator: can't allocate memory"), "{context}");
    assert!(run.stderr.contains("(the session state is unchanged)"), "{context}");
    assert!(!run.stderr.contains("frame #") && !run.stderr.contains("panicked"), "{context}");
    assert!(run.stdout.contains("sequence  mid"), "{context}");
    assert!(run.stdout.contains("predicted_lddt"), "the last prediction's outputs are listed: {context}");
}
