//! The session's `parallel` driving real multi-process jobs through the `helixfold` binary:
//! batch scripts (`helixfold run`), a REPL fed line by line on a pipe, and `helixfold worker`
//! processes started by the test for `launch=external`. Every job runs with a short `timeout=`
//! and every process is killed after [`PROCESS_LIMIT`], so a failure never hangs the suite.
use helixfold::testing::shared_data;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tch::Tensor;

/// A helixfold process still running after this is killed and the test fails.
const PROCESS_LIMIT: Duration = Duration::from_secs(300);

/// The PDB entry 1A8O in this repository (examples/data/README.md): 70 residues.
fn example_pdb() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/1a8o.pdb"))
}

fn helixfold() -> Command {
    Command::new(env!("CARGO_BIN_EXE_helixfold"))
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Waits for `child` (killing it after [`PROCESS_LIMIT`]) and collects its output.
fn finish(mut child: Child) -> Run {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > PROCESS_LIMIT {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!("helixfold still running after {PROCESS_LIMIT:?}:\n{}", String::from_utf8_lossy(&output.stdout));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `helixfold run script.hf` in `dir`.
fn run_script(dir: &Path, text: &str) -> Run {
    std::fs::write(dir.join("script.hf"), text).unwrap();
    let child = helixfold()
        .args(["run", "script.hf"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child)
}

fn succeeded(run: &Run) {
    assert_eq!(run.code, Some(0), "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Every tensor of a safetensors file, by name.
fn tensors(path: &Path) -> Vec<(String, Tensor)> {
    let mut named = Tensor::read_safetensors(path).unwrap();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

/// The intra-op threads `parallel dp=2` gives each of its ranks on this machine (the cores
/// shared out), so that a one-process run can use the same and round alike.
fn threads_per_rank(ranks: usize) -> usize {
    (std::thread::available_parallelism().map_or(1, usize::from) / ranks).max(1)
}

/// `parallel dp=2` with one example per rank against one process accumulating two examples,
/// on openfold_mini's 1psm chain A (/work/shared/data/openfold_mini) with its BFD alignment and
/// the tiny preset, training with `settings`: both take the examples at stream positions 0
/// and 1 with the random streams of examples 0 and 1 of the step, and average the two (the
/// all-reduce adds two values, which is exact in either order, then halves, as the
/// accumulation does). So the checkpoints (weights, Adam moments, weight average) agree bit for
/// bit.
fn dp2_step_equals_one_process_accumulating_both_examples(settings: &str) {
    let Some(root) = shared_data("openfold_mini") else { return };
    let dir = tempfile::tempdir().unwrap();
    let setup = format!(
        "load {root}/mmcif/1psm.cif name=native\n\
         load {root}/alignments/1psm_A/bfd_uniclust_hits.a3m\n\
         model tiny\nparams init seed=1\n",
        root = root.display()
    );
    let single = run_script(
        dir.path(),
        &format!("threads {}\n{setup}train step 1 warmup=0 seed=4 accumulation=2 {settings}\ncheckpoint save single.safetensors\n", threads_per_rank(2)),
    );
    succeeded(&single);
    let parallel = run_script(
        dir.path(),
        &format!("parallel dp=2 timeout=60\n{setup}train step 1 warmup=0 seed=4 {settings}\ncheckpoint save dp.safetensors\nparams save dp_params.safetensors\n"),
    );
    succeeded(&parallel);
    assert!(!parallel.stderr.contains("warning"), "no rank reported an error:\n{}", parallel.stderr);
    assert!(parallel.stdout.contains("wrote 28,746 parameters to dp_params.safetensors"), "rank 0 writes:\n{}", parallel.stdout);
    let (single, parallel) = (tensors(&dir.path().join("single.safetensors")), tensors(&dir.path().join("dp.safetensors")));
    assert_eq!(single.len(), parallel.len());
    for ((name, a), (other, b)) in single.iter().zip(&parallel) {
        assert_eq!(name, other);
        assert!(a.equal(b), "{name} differs between the dp=2 step and the accumulated step ({settings})");
    }
}

/// AlphaFold's clipping of each example's gradient: the reduction runs after the backward pass.
#[test]
fn a_dp2_step_equals_one_process_accumulating_both_examples() {
    dp2_step_equals_one_process_accumulating_both_examples("");
}

/// The average clipped as a whole (`clip=batch`): the reduction overlaps the last backward
/// pass on every rank.
#[test]
fn a_batch_clipped_dp2_step_equals_one_process_accumulating_both_examples() {
    dp2_step_equals_one_process_accumulating_both_examples("clip=batch");
}

/// A REPL on pipes: lines go in as they are written, everything it prints is collected.
struct Repl {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    seen: Arc<Mutex<String>>,
}

impl Repl {
    fn start(dir: &Path) -> Self {
        let mut child = helixfold()
            .arg("repl")
            .env("HELIXFOLD_HISTORY", dir.join("history"))
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let seen = Arc::new(Mutex::new(String::new()));
        for stream in [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())] {
            let seen = Arc::clone(&seen);
            // Raw chunks, not lines: the progress line is redrawn with carriage returns.
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0u8; 4096];
                while let Ok(read) = stream.read(&mut buffer) {
                    if read == 0 {
                        break;
                    }
                    seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..read]));
                }
            });
        }
        let stdin = child.stdin.take();
        Repl { child, stdin, seen }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("input is open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Ends the input, as Ctrl-D does.
    fn close_input(&mut self) {
        self.stdin = None;
    }

    fn text(&self) -> String {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until the output satisfies `done`; returns it.
    fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = self.text();
            if done(&text) {
                return text;
            }
            assert!(started.elapsed() < PROCESS_LIMIT, "never saw {what}:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Repl {
    fn drop(&mut self) {
        // Gone already when the test passed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The process id in rank `rank`'s row of `show parallel`'s rank table.
fn pid_of_rank(text: &str, rank: usize) -> Option<u32> {
    let header = text.lines().position(|line| line.split_whitespace().eq(["rank", "dp", "dap", "bp", "host", "pid", "device", "threads"]))?;
    text.lines().skip(header + 1).find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        (words.len() == 8 && words[0] == rank.to_string()).then(|| words[5].parse().ok()).flatten()
    })
}

/// A worker killed while `train step 50` runs: the session reports the lost worker within the
/// job's timeout (twice it: the step's collective fails, then the worker's heartbeat is
/// missed), returns to one process, and the next command works.
#[test]
fn a_worker_killed_during_training_is_reported_and_the_session_goes_on() {
    const TIMEOUT_S: u64 = 5;
    let dir = tempfile::tempdir().unwrap();
    let mut repl = Repl::start(dir.path());
    repl.send(&format!("parallel dp=2 timeout={TIMEOUT_S}"));
    let shown = repl.wait_until("the rank table", |text| pid_of_rank(text, 1).is_some());
    let worker = pid_of_rank(&shown, 1).unwrap();
    repl.send("model tiny");
    repl.send("params init");
    repl.send(&format!("load {} name=capsid", example_pdb().display()));
    repl.send("train step 50 warmup=0");
    repl.wait_until("a training step", |text| text.contains("step 1:"));
    let killed = Instant::now();
    assert!(Command::new("kill").args(["-9", &worker.to_string()]).status().unwrap().success());
    let text = repl.wait_until("the lost worker", |text| text.contains("stopped answering"));
    let seconds = killed.elapsed().as_secs_f64();
    assert!(seconds < 2.0 * TIMEOUT_S as f64 + 10.0, "took {seconds} s:\n{text}");
    assert!(text.contains("worker 1 stopped answering") && text.contains("the session runs in one process"), "{text}");
    repl.send("echo still here");
    repl.send("show parallel");
    let text = repl.wait_until("the next commands", |text| text.contains("still here") && text.matches("processes").count() >= 2);
    let last_table = &text[text.rfind("world size").unwrap()..];
    assert!(last_table.contains("processes   1"), "{text}");
    repl.close_input();
    let started = Instant::now();
    while repl.child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "the REPL did not end at end of input");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Workers started elsewhere (`launch=external`, here: a `helixfold worker` in another folder)
/// resolve relative paths in their own folder. Each folder holds a checkpoint of a run with a
/// different seed, so after `checkpoint load` the ranks' seeds differ, and `train` refuses to
/// start rather than train with mismatched random streams.
#[test]
fn external_workers_join_and_a_seed_mismatch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (here, there) = (dir.path().join("here"), dir.path().join("there"));
    std::fs::create_dir_all(&here).unwrap();
    std::fs::create_dir_all(&there).unwrap();
    let pdb = example_pdb();
    succeeded(&run_script(
        dir.path(),
        &format!(
            "model tiny crop_size=16\nparams init\nload {} name=capsid\n\
             train step 1 warmup=0 seed=3\ncheckpoint save here/run.safetensors\n\
             train reset\ntrain step 1 warmup=0 seed=4\ncheckpoint save there/run.safetensors\n",
            pdb.display()
        ),
    ));
    let port = free_port();
    std::fs::write(
        here.join("script.hf"),
        format!(
            "parallel dp=2 launch=external port={port} timeout=30\nshow parallel\nload {} name=capsid\ncheckpoint load run.safetensors\ntrain step 1\necho NEVER\n",
            pdb.display()
        ),
    )
    .unwrap();
    let session = helixfold()
        .args(["run", "script.hf"])
        .current_dir(&here)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let worker = helixfold()
        .args(["worker", "--rendezvous", &format!("127.0.0.1:{port}"), "--rank", "1", "--world", "2", "--timeout", "30"])
        .current_dir(&there)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = finish(session);
    let worker = finish(worker);
    assert_eq!(run.code, Some(1), "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("launch      external") && run.stdout.contains("processes   2"), "{}", run.stdout);
    assert!(run.stderr.contains("the ranks train with different seeds (rank 0 seed 3, rank 1 seed 4)"), "{}", run.stderr);
    assert!(!run.stdout.contains("NEVER"));
    assert_eq!(worker.code, Some(0), "the worker stops when the session ends:\n{}", worker.stderr);
}

/// Dynamic axial and branch parallelism driven by the session: `parallel bp=2` (two processes)
/// and `parallel dap=2 bp=2` (four) each take one training step on openfold_mini's 1psm chain A
/// with HelixFold's parallel Evoformer (`outer_product_mean=end`), cropped to 31 residues so
/// that DAP pads, and the saved checkpoint (weights, Adam moments, weight average) matches one
/// process taking the same step: the sharded passes reorder fp32 sums (see parallel_dap.rs and
/// parallel_bp.rs), and Adam's first step moves a parameter by at most `lr/ε` times a gradient
/// difference, so parameters agree to 2e-5 absolute and the rest to 1e-3 relative.
#[test]
fn dap_and_bp_training_steps_from_the_session_match_one_process() {
    let Some(root) = shared_data("openfold_mini") else { return };
    let dir = tempfile::tempdir().unwrap();
    let setup = format!(
        "load {root}/mmcif/1psm.cif name=native\n\
         load {root}/alignments/1psm_A/bfd_uniclust_hits.a3m\n\
         model tiny outer_product_mean=end\ndata crop_size=31\nparams init seed=1\n",
        root = root.display()
    );
    let train = "train step 1 warmup=0 seed=4\n";
    let single = run_script(dir.path(), &format!("threads 1\n{setup}{train}checkpoint save single.safetensors\n"));
    succeeded(&single);
    let expected = tensors(&dir.path().join("single.safetensors"));
    for (layout, processes) in [("bp=2", 2), ("dap=2 bp=2", 4)] {
        let run = run_script(
            dir.path(),
            &format!("parallel {layout} timeout=60\nshow parallel\n{setup}{train}checkpoint save sharded.safetensors\n"),
        );
        succeeded(&run);
        assert!(run.stdout.contains(&format!("processes   {processes}")), "{}", run.stdout);
        assert!(!run.stdout.contains("warning"), "no rank reported an error:\n{}", run.stdout);
        let sharded = tensors(&dir.path().join("sharded.safetensors"));
        assert_eq!(sharded.len(), expected.len());
        for ((name, a), (other, b)) in sharded.iter().zip(&expected) {
            assert_eq!(name, other);
            let (a, b) = (a.to_kind(tch::Kind::Float), b.to_kind(tch::Kind::Float));
            let worst = (&a - &b).abs().max().double_value(&[]);
            // Adam's moments (`optimizer/`) scale with the gradient and its square.
            let bound = if name.starts_with("optimizer/") { 1e-3 * b.abs().max().double_value(&[]) } else { 2e-5 };
            assert!(worst <= bound, "{layout}: {name} differs by {worst} (bound {bound})");
        }
    }
}

/// Inference sharded from the session: under `parallel dap=2 bp=2` (four processes) the demo
/// protein (PDB 1A8O, 70 residues: not a multiple of 4, so DAP pads) is predicted by the tiny
/// model with the parallel Evoformer after one training step (so that the structure module's
/// zero-initialised output layers have moved and the coordinates depend on the trunk), and the
/// saved atoms match one process's to 0.002 Å: the sharded passes reorder fp32 sums, which moves
/// coordinates of about 1 Å by around 1e-5 Å, below the PDB format's 0.001 Å but for a rounding
/// flip of its last digit.
#[test]
fn sharded_inference_from_the_session_matches_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let script = |out: &str| {
        format!(
            "model tiny outer_product_mean=end\nparams init seed=2\nload {} name=capsid\n\
             train step 1 warmup=0 seed=4 structure=capsid\nfeatures from=capsid recycles=1\ninfer\nsave prediction {out}\n",
            example_pdb().display()
        )
    };
    succeeded(&run_script(dir.path(), &script("single.pdb")));
    let sharded = run_script(dir.path(), &format!("parallel dap=2 bp=2 timeout=60\n{}", script("sharded.pdb")));
    succeeded(&sharded);
    assert!(sharded.stdout.contains("processes   4"), "{}", sharded.stdout);
    assert!(!sharded.stdout.contains("warning"), "no rank reported an error:\n{}", sharded.stdout);
    let coordinates = |file: &str| -> Vec<f64> {
        std::fs::read_to_string(dir.path().join(file))
            .unwrap()
            .lines()
            .filter(|line| line.starts_with("ATOM"))
            .flat_map(|line| [30..38, 38..46, 46..54].map(|columns| line[columns].trim().parse::<f64>().unwrap()))
            .collect()
    };
    let (single, sharded) = (coordinates("single.pdb"), coordinates("sharded.pdb"));
    assert_eq!(single.len(), sharded.len());
    assert!(single.len() > 1000 && single.iter().any(|x| x.abs() > 0.1), "the prediction has moved atoms");
    let worst = single.iter().zip(&sharded).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst <= 0.002, "coordinates differ by up to {worst} Å");
}
