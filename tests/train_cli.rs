//! Training end to end on openfold_mini's 1psm chain A (/work/shared/data/openfold_mini: 38
//! residues, its mmCIF and BFD/Uniclust alignment) with the `tiny` preset: a resumed run repeats
//! the uninterrupted one bit for bit, a short run halves the backbone FAPE, and
//! `helixfold train` writes its metrics and checkpoints and names bad arguments.
use helixfold::model::config::ModelConfig;
use helixfold::testing::shared_data;
use helixfold::train::batches::{load_structure_example, training_data_config, BatchSource, ExampleBatches};
use helixfold::train::job::read_metrics;
use helixfold::train::run::{train_loop, LoopEnd, StopAt};
use helixfold::train::{Batch, StepReport, TrainConfig, Trainer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tch::Device;

/// 1psm's mmCIF and BFD alignment, when the shared data is present.
fn psm_files() -> Option<(PathBuf, PathBuf)> {
    let cif = shared_data("openfold_mini/mmcif/1psm.cif")?;
    let a3m = shared_data("openfold_mini/alignments/1psm_A/bfd_uniclust_hits.a3m")?;
    Some((cif, a3m))
}

/// The tiny preset on whole 1psm chains with small MSAs, and a source of its batches.
fn tiny_on_1psm(cif: &Path, a3m: &Path, seed: u64) -> (ModelConfig, TrainConfig, ExampleBatches) {
    let mut model = ModelConfig::tiny();
    model.data.crop_size = None;
    model.data.max_msa_clusters = 8;
    model.data.max_extra_msa = 16;
    let mut config = TrainConfig::alphafold(&model, seed);
    config.schedule.base_lr = 1e-3;
    config.schedule.warmup_steps = 10;
    let example = load_structure_example(cif, &[a3m.to_path_buf()]).unwrap();
    let data = training_data_config(&model).unwrap();
    (model, config, ExampleBatches { example, data, seed, device: Device::Cpu })
}

fn train(trainer: &mut Trainer, source: &mut ExampleBatches, steps: u64) -> Vec<StepReport> {
    (0..steps)
        .map(|_| {
            let batch = source.batch(trainer.data_position()).unwrap();
            trainer.step(&batch).unwrap()
        })
        .collect()
}

#[test]
fn resumed_training_repeats_the_uninterrupted_run_bit_for_bit() {
    let Some((cif, a3m)) = psm_files() else { return };
    let (model, config, mut source) = tiny_on_1psm(&cif, &a3m, 3);
    assert!(config.runtime.training, "dropout must be on for this test to mean anything");
    let mut straight = Trainer::new(&model, config.clone(), Device::Cpu).unwrap();
    let expected = train(&mut straight, &mut source, 4);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half.safetensors");
    let mut first = Trainer::new(&model, config, Device::Cpu).unwrap();
    let mut losses = train(&mut first, &mut source, 2);
    first.save_checkpoint(&path).unwrap();
    drop(first);
    let mut resumed = Trainer::from_checkpoint(&path, Device::Cpu).unwrap();
    assert_eq!((resumed.step_count(), resumed.data_position()), (2, 2));
    losses.extend(train(&mut resumed, &mut source, 2));

    for (a, b) in expected.iter().zip(&losses) {
        assert_eq!(a.loss.to_bits(), b.loss.to_bits(), "step {}: {} vs {}", a.step, a.loss, b.loss);
        assert_eq!(a.terms, b.terms);
        assert_eq!(a.recycles, b.recycles);
    }
    // The steps differ from one another (dropout, recycles, MSA sampling), so equality is not
    // trivial.
    assert_ne!(expected[2].loss, expected[3].loss);
}

#[test]
fn a_short_run_halves_the_backbone_fape() {
    // From random weights, 150 steps with a rate suited to this tiny network fitting one chain,
    // the unclamped FAPE (a global signal), no recycling and no violation term. Dropout stays on,
    // so the curve is noisy: compare the means of the first and last few steps.
    let Some((cif, a3m)) = psm_files() else { return };
    tch::set_num_threads(1);
    let (mut model, mut config, mut source) = tiny_on_1psm(&cif, &a3m, 0);
    model.heads.structure_module.structural_violation_loss_weight = 0.0;
    model.global_config.deterministic = true;
    config.max_recycle = 0;
    config.clamped_fape_probability = 0.0;
    config.schedule.base_lr = 1e-2;
    let mut trainer = Trainer::new(&model, config, Device::Cpu).unwrap();
    let fape: Vec<f64> = train(&mut trainer, &mut source, STEPS).iter().map(|r| r.terms["backbone_fape"]).collect();
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
    let (start, end) = (mean(&fape[..5]), mean(&fape[fape.len() - 10..]));
    assert!(end <= 0.5 * start, "backbone FAPE went from {start:.3} to {end:.3}: {fape:?}");
}

/// Steps of [`a_short_run_halves_the_backbone_fape`].
const STEPS: u64 = 150;

#[test]
fn the_loop_stops_between_steps_when_asked() {
    let Some((cif, a3m)) = psm_files() else { return };
    tch::set_num_threads(1);
    let (model, config, mut source) = tiny_on_1psm(&cif, &a3m, 5);
    let mut trainer = Trainer::new(&model, config, Device::Cpu).unwrap();
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    let end = train_loop(&mut trainer, &mut source, StopAt { steps: Some(10), deadline: None }, &interrupt, |trainer, _| {
        if trainer.step_count() == 2 {
            flag.store(true, Ordering::SeqCst);
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(end, LoopEnd::Interrupted);
    assert_eq!((trainer.step_count(), trainer.data_position()), (2, 2));
    // The interrupted trainer goes on: the step bound ends the next loop.
    interrupt.store(false, Ordering::SeqCst);
    let end = train_loop(&mut trainer, &mut source, StopAt { steps: Some(3), deadline: None }, &interrupt, |_, _| Ok(())).unwrap();
    assert_eq!((end, trainer.step_count()), (LoopEnd::StepsDone, 3));
}

#[test]
fn accumulating_one_example_twice_is_one_step_on_it() {
    // Without dropout, recycling draws or FAPE draws, the mean of two identical clipped
    // gradients is that gradient: two runs must agree exactly.
    let Some((cif, a3m)) = psm_files() else { return };
    tch::set_num_threads(1);
    let (mut model, mut config, mut source) = tiny_on_1psm(&cif, &a3m, 9);
    model.global_config.deterministic = true;
    config.max_recycle = 0;
    config.clamped_fape_probability = 1.0;
    let batch = source.batch(0).unwrap();
    let next = source.batch(1).unwrap();
    let mut single = Trainer::new(&model, config.clone(), Device::Cpu).unwrap();
    let mut doubled = Trainer::new(&model, config, Device::Cpu).unwrap();
    let a = single.step(&batch).unwrap();
    let same: Batch = batch.iter().map(|(k, v)| (k.clone(), v.shallow_clone())).collect();
    let b = doubled.step_accumulated(&[same, batch]).unwrap();
    assert_eq!(a.loss.to_bits(), b.loss.to_bits());
    assert_eq!(single.step(&next).unwrap().loss.to_bits(), doubled.step(&next).unwrap().loss.to_bits());
    assert_eq!(doubled.data_position(), 3);
}

fn helixfold(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helixfold")).args(args).output().unwrap()
}

#[test]
fn train_cli_writes_metrics_and_checkpoints_and_resumes() {
    let Some((cif, a3m)) = psm_files() else { return };
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let common = [
        "train", "--preset", "tiny", "--structure", cif.to_str().unwrap(), "--msa", a3m.to_str().unwrap(),
        "--crop", "0", "--max-msa-clusters", "8", "--max-extra-msa", "16", "--eval-every", "2", "--threads", "1",
        "--out", out_dir,
    ];
    let run = helixfold(&[&common[..], &["--steps", "2"]].concat());
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let checkpoint = out.path().join("checkpoint.safetensors");
    assert!(checkpoint.is_file() && out.path().join("average.safetensors").is_file());
    let resumed = helixfold(&[&common[..], &["--steps", "3", "--resume", checkpoint.to_str().unwrap()]].concat());
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));

    let metrics = read_metrics(&out.path().join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = metrics.iter().map(|m| m["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, [0, 1, 2]);
    for line in &metrics {
        for key in ["loss", "backbone_fape", "sidechain_fape", "distogram", "masked_msa", "lr", "grad_norm", "seconds"] {
            assert!(line[key].as_f64().is_some_and(f64::is_finite), "{key} in {line}");
        }
        for key in ["train_lddt_ca", "train_tm_score"] {
            assert!(line[key].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)), "{key} in {line}");
        }
    }
    // Evaluated after step 2 (index 1) and at the last step.
    assert!(metrics[0].get("lddt_ca").is_none());
    for line in &metrics[1..] {
        let lddt = line["lddt_ca"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&lddt), "{line}");
    }
}

/// `--recompute --chunk-size 4` reach the trainer (the checkpoint records them) and, as memory
/// techniques, leave the run's losses as they are without them, to float rounding (1e-5
/// relative: chunked sums reorder additions).
#[test]
fn train_cli_memory_techniques_keep_the_losses() {
    let Some((cif, a3m)) = psm_files() else { return };
    let common = [
        "train", "--preset", "tiny", "--structure", cif.to_str().unwrap(), "--msa", a3m.to_str().unwrap(),
        "--crop", "0", "--max-msa-clusters", "8", "--max-extra-msa", "16", "--threads", "1", "--steps", "2",
    ];
    let losses = |extra: &[&str]| -> (Vec<f64>, Trainer) {
        let out = tempfile::tempdir().unwrap();
        let run = helixfold(&[&common[..], extra, &["--out", out.path().to_str().unwrap()]].concat());
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let metrics = read_metrics(&out.path().join("metrics.jsonl")).unwrap();
        let trainer = Trainer::from_checkpoint(&out.path().join("checkpoint.safetensors"), Device::Cpu).unwrap();
        (metrics.iter().map(|m| m["loss"].as_f64().unwrap()).collect(), trainer)
    };
    let (plain, plain_trainer) = losses(&[]);
    let (techniques, trainer) = losses(&["--recompute", "--chunk-size", "4"]);
    assert!(!plain_trainer.config().runtime.recompute);
    assert!(trainer.config().runtime.recompute && trainer.config().runtime.chunk_size == Some(4));
    assert_eq!(plain.len(), 2);
    for (a, b) in plain.iter().zip(&techniques) {
        assert!((a - b).abs() <= 1e-5 * a.abs(), "{plain:?} vs {techniques:?}");
    }
}

#[test]
fn train_cli_names_bad_arguments() {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let missing = helixfold(&["train", "--preset", "tiny", "--structure", "/no/such.cif", "--steps", "1", "--out", out_dir]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/no/such.cif"));
    let preset = helixfold(&["train", "--preset", "huge", "--dataset", out_dir, "--steps", "1", "--out", out_dir]);
    assert!(!preset.status.success());
    assert!(String::from_utf8_lossy(&preset.stderr).contains("huge"));
    let no_length = helixfold(&["train", "--preset", "tiny", "--dataset", out_dir, "--out", out_dir]);
    assert!(!no_length.status.success());
    assert!(String::from_utf8_lossy(&no_length.stderr).contains("--steps"));
}
