//! Multi-process tests over PyTorch's Gloo backend on the CPU: real processes, real sockets.
//!
//! A test plays every rank by re-running this test binary on itself (`current_exe`, the test's
//! own name, `--exact`) with [`ROLE`] set to `rank:world:port:out_dir`; such a child runs the
//! rank's part, writes what it computed into `out_dir`, and the parent compares with values it
//! computes itself from the same inputs. The `worker` tests run `helixfold worker` processes
//! instead. The harness is `support/ranks.rs`.
#[path = "support/ranks.rs"]
mod ranks;
#[path = "support/training.rs"]
mod training;

use helixfold::parallel::autograd::CommTape;
use helixfold::parallel::data_parallel::DataParallel;
use helixfold::parallel::layout::{Axis, ParallelLayout};
use helixfold::parallel::process_group::{Backend, ProcessGroup, ReduceOp};
use helixfold::parallel::workers::Cluster;
use helixfold::train::batches::BatchSource;
use helixfold::train::trainer::ClipScope;
use training::{flat_parameters, tiny_model, tiny_training, tiny_training_with};
use ranks::{die_or_survive, free_port, kill_rank_one, read_results, role, run_ranks, values, wait_all, world_group, write_results, Role, GROUP_TIMEOUT};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

/// Rank `r`'s input: `[2W, 3]`, distinct on every rank and row.
fn input(rank: usize, world: usize) -> Tensor {
    (Tensor::arange(6 * world as i64, (Kind::Float, Device::Cpu)) + 100.0 * rank as f64).view([2 * world as i64, 3])
}

/// Shared weights `[2, 3W]` of the autograd checks' losses.
fn weights(world: usize) -> Tensor {
    Tensor::arange(6 * world as i64, (Kind::Float, Device::Cpu)).view([2, 3 * world as i64]) / 7.0
}

fn collectives_rank(role: &Role) {
    let (store, group) = world_group(role);
    let group = std::sync::Arc::new(group);
    let (rank, world) = (role.rank, role.world);
    let x = input(rank, world);
    let mut results = BTreeMap::new();
    let mut put = |name: &str, t: Tensor| results.insert(name.to_string(), values(&t));
    put("sum", group.all_reduce(&x, ReduceOp::Sum).unwrap());
    put("average", group.all_reduce(&x, ReduceOp::Average).unwrap());
    put("max", group.all_reduce(&x, ReduceOp::Max).unwrap());
    put("gather", group.all_gather(&x).unwrap());
    put("reduce_scatter", group.reduce_scatter(&x, ReduceOp::Sum).unwrap());
    put("all_to_all", group.all_to_all(&x).unwrap());
    put("broadcast", group.broadcast(&x, 1).unwrap());
    group.barrier().unwrap();
    let first = group.all_reduce_async(&x, ReduceOp::Sum).unwrap();
    let second = group.all_reduce_async(&(&x * 2.0), ReduceOp::Sum).unwrap();
    put("async_second", second.wait().unwrap());
    put("async_first", first.wait().unwrap());
    // The layout's BP groups, created by every rank in the same order.
    let layout = ParallelLayout::new(world as u32 / 2, 1, 2).unwrap();
    let mut bp_group = None;
    for ranks in layout.axis_groups(Axis::Bp) {
        if ranks.contains(&rank) {
            bp_group =
                Some(ProcessGroup::subgroup(Backend::Gloo, &store, "bp", &ranks, rank, "127.0.0.1", GROUP_TIMEOUT).unwrap());
        }
    }
    put("bp_sum", bp_group.unwrap().all_reduce(&x, ReduceOp::Sum).unwrap());

    // Each autograd collective on its own input, all in one loss and one tape.
    let w = weights(world);
    let scale = (rank + 1) as f64;
    let to_gather = x.narrow(0, 0, 2).detach().set_requires_grad(true);
    let full = w.detach().set_requires_grad(true);
    let to_exchange = x.detach().set_requires_grad(true);
    let to_copy = x.narrow(0, 0, 1).detach().set_requires_grad(true);
    let to_reduce = x.narrow(0, 1, 1).detach().set_requires_grad(true);
    let mut tape = CommTape::new();
    let gathered = tape.gather(&group, &to_gather, 1).unwrap();
    let scattered = tape.scatter(&group, &full, 1).unwrap();
    let exchanged = tape.all_to_all(&group, &to_exchange, 0, 1).unwrap();
    let copied = tape.copy(&group, &to_copy).unwrap();
    let reduced = tape.reduce(&group, &to_reduce).unwrap();
    put("ad_gathered", gathered.shallow_clone());
    put("ad_exchanged", exchanged.shallow_clone());
    let loss = (&gathered * &w).sum(Kind::Float)
        + (&scattered * scale).sum(Kind::Float)
        + (&exchanged * &w).sum(Kind::Float)
        + (&copied * scale).sum(Kind::Float)
        + (&reduced * scale).sum(Kind::Float);
    assert_eq!(tape.len(), 5);
    tape.backward(&loss).unwrap();
    put("grad_gather", to_gather.grad());
    put("grad_scatter", full.grad());
    put("grad_all_to_all", to_exchange.grad());
    put("grad_copy", to_copy.grad());
    put("grad_reduce", to_reduce.grad());
    write_results(role, &results);
}

fn check_collectives(out: &Path, world: usize) {
    let inputs: Vec<Tensor> = (0..world).map(|r| input(r, world)).collect();
    let sum = inputs.iter().fold(inputs[0].zeros_like(), |acc, t| acc + t);
    let gathered = Tensor::cat(&inputs, 0);
    let w = weights(world);
    let blocks = |t: &Tensor, r: usize| t.narrow(0, 2 * r as i64, 2);
    for rank in 0..world {
        let got = read_results(out, rank);
        let x = &inputs[rank];
        let scale = (rank + 1) as f64;
        let bp_partner = rank ^ 1;
        let triangle = (world * (world + 1) / 2) as f64;
        let expected: Vec<(&str, Tensor)> = vec![
            ("sum", sum.shallow_clone()),
            ("average", &sum / world as f64),
            ("max", inputs[world - 1].shallow_clone()),
            ("gather", gathered.shallow_clone()),
            ("reduce_scatter", blocks(&sum, rank)),
            ("all_to_all", Tensor::cat(&inputs.iter().map(|t| blocks(t, rank)).collect::<Vec<_>>(), 0)),
            ("broadcast", inputs[1].shallow_clone()),
            ("async_first", sum.shallow_clone()),
            ("async_second", &sum * 2.0),
            ("bp_sum", x + &inputs[bp_partner]),
            ("ad_gathered", Tensor::cat(&inputs.iter().map(|t| t.narrow(0, 0, 2)).collect::<Vec<_>>(), 1)),
            ("ad_exchanged", Tensor::cat(&inputs.iter().map(|t| blocks(t, rank)).collect::<Vec<_>>(), 1)),
            // d/dx of Σ w ⊙ gather(x): this rank's columns of w.
            ("grad_gather", w.narrow(1, 3 * rank as i64, 3)),
            // Every rank r's block of the replicated input has weight r+1.
            (
                "grad_scatter",
                Tensor::cat(&(0..world).map(|r| Tensor::full([2, 3], (r + 1) as f64, (Kind::Float, Device::Cpu))).collect::<Vec<_>>(), 1),
            ),
            // Rank r's rows 2r'..2r'+2 went to rank r' as its columns 3r..3r+3, weighted there by w.
            ("grad_all_to_all", w.narrow(1, 3 * rank as i64, 3).repeat([world as i64, 1])),
            ("grad_copy", Tensor::full([1, 3], triangle, (Kind::Float, Device::Cpu))),
            ("grad_reduce", Tensor::full([1, 3], scale, (Kind::Float, Device::Cpu))),
        ];
        for (name, want) in expected {
            let have = got.get(name).unwrap_or_else(|| panic!("rank {rank} did not report {name}"));
            let want = values(&want);
            assert_eq!(have.len(), want.len(), "rank {rank} {name}: length");
            for (h, w) in have.iter().zip(&want) {
                // Small integers and their sums are exact in fp32; the autograd weights are
                // multiples of 1/7, compared to 1e-6.
                assert!((h - w).abs() <= 1e-6 * w.abs().max(1.0), "rank {rank} {name}: {have:?} vs {want:?}");
            }
        }
    }
}

#[test]
fn collectives_on_two_ranks() {
    if let Some(role) = role() {
        return collectives_rank(&role);
    }
    let out = run_ranks("collectives_on_two_ranks", 2);
    check_collectives(out.path(), 2);
}

#[test]
fn collectives_on_four_ranks() {
    if let Some(role) = role() {
        return collectives_rank(&role);
    }
    let out = run_ranks("collectives_on_four_ranks", 4);
    check_collectives(out.path(), 4);
}

const DP_SEED: u64 = 5;

fn data_parallel_rank(role: &Role) {
    let (_store, group) = world_group(role);
    let (mut trainer, mut source) = tiny_training(&tiny_model(None), DP_SEED).expect("the parent checked the shared data");
    // Small buckets, so that the gradient crosses in many pieces.
    trainer.set_data_parallel(Some(DataParallel::new(group).with_bucket_elements(4096))).unwrap();
    let examples = trainer.data_parallel().unwrap().shard(trainer.data_position(), 1);
    let batch = source.batch(examples.start).unwrap();
    let report = trainer.step(&batch).unwrap();
    assert_eq!(trainer.data_position(), role.world as u64);
    let mut results = BTreeMap::new();
    results.insert("parameters".to_string(), values(&flat_parameters(&trainer)));
    results.insert("loss".to_string(), vec![report.loss as f32]);
    write_results(role, &results);
}

/// DP=2, one example per rank, against one process accumulating both examples: the same
/// examples, the same random streams (seeded by the example's index in the step), the same
/// clipped gradients; the all-reduce sums two values (order-independent in IEEE arithmetic) and
/// divides by 2 as the accumulation does. So the updates must agree bit for bit.
#[test]
fn data_parallel_step_equals_accumulating_both_examples() {
    if let Some(role) = role() {
        return data_parallel_rank(&role);
    }
    tch::set_num_threads(1);
    let Some((mut single, mut source)) = tiny_training(&tiny_model(None), DP_SEED) else { return };
    let before = flat_parameters(&single);
    let batches = [source.batch(0).unwrap(), source.batch(1).unwrap()];
    single.step_accumulated(&batches).unwrap();
    let expected = values(&flat_parameters(&single));
    assert_ne!(values(&before), expected, "the step changes the parameters");
    let out = run_ranks("data_parallel_step_equals_accumulating_both_examples", 2);
    for rank in 0..2 {
        let got = &read_results(out.path(), rank)["parameters"];
        assert_eq!(got.len(), expected.len());
        let differing = got.iter().zip(&expected).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        assert_eq!(differing, 0, "rank {rank}: {differing} of {} parameters differ", expected.len());
    }
}

const BATCH_CLIP_SEED: u64 = 6;

/// The tiny trainer clipping the step's averaged gradient as a whole, with the data-parallel
/// reduction during (`overlap`) or after the last backward pass.
fn batch_clipped_training(overlap: bool) -> Option<(helixfold::train::Trainer, helixfold::train::batches::ExampleBatches)> {
    tiny_training_with(&tiny_model(None), BATCH_CLIP_SEED, |config| {
        config.clip_scope = ClipScope::Batch;
        config.overlap_reduction = overlap;
    })
}

/// The three runs of [`batch_clipped_dp_steps_overlapped_equal_post_backward_and_one_process`]
/// on one rank: `(overlap, examples per rank)`.
const BATCH_CLIP_RUNS: [(bool, usize); 3] = [(true, 1), (true, 2), (false, 2)];

fn batch_clip_rank(role: &Role) {
    let (_store, group) = world_group(role);
    let group = std::sync::Arc::new(group);
    let mut results = BTreeMap::new();
    for (overlap, per_rank) in BATCH_CLIP_RUNS {
        let (mut trainer, mut source) = batch_clipped_training(overlap).expect("the parent checked the shared data");
        // Small buckets: many of them, and variables straddling their edges.
        trainer.set_data_parallel(Some(DataParallel::new(std::sync::Arc::clone(&group)).with_bucket_elements(4096))).unwrap();
        let batches: Vec<_> = trainer.data_parallel().unwrap().shard(0, per_rank).map(|index| source.batch(index).unwrap()).collect();
        let report = trainer.step_accumulated(&batches).unwrap();
        results.insert(format!("parameters {overlap} {per_rank}"), values(&flat_parameters(&trainer)));
        results.insert(format!("grad_norm {overlap} {per_rank}"), vec![report.grad_norm as f32]);
    }
    // Two steps: the second overlapped reduction lays its buckets out in the arrival order the
    // first one recorded.
    for overlap in [true, false] {
        let (mut trainer, mut source) = batch_clipped_training(overlap).expect("the parent checked the shared data");
        trainer.set_data_parallel(Some(DataParallel::new(std::sync::Arc::clone(&group)).with_bucket_elements(4096))).unwrap();
        for _ in 0..2 {
            let examples = trainer.data_parallel().unwrap().shard(trainer.data_position(), 1);
            trainer.step(&source.batch(examples.start).unwrap()).unwrap();
        }
        results.insert(format!("two steps {overlap}"), values(&flat_parameters(&trainer)));
    }
    write_results(role, &results);
}

/// DP=2 with the step's gradient clipped as a whole (HelixFold's order: average, then clip):
/// - one example per rank, reduced during the backward pass, equals one process accumulating
///   both examples with the same clipping, bit for bit (the all-reduce adds two values, exact
///   in either order, then halves as the accumulation does);
/// - two examples per rank: the reduction during the backward pass (the first example's
///   gradient added to the second's in the hooks) equals the reduction after it, bit for bit;
/// - two steps: the second overlapped reduction, its buckets laid out in the arrival order of
///   the first, equals the reduction after the pass, bit for bit.
#[test]
fn batch_clipped_dp_steps_overlapped_equal_post_backward_and_one_process() {
    if let Some(role) = role() {
        return batch_clip_rank(&role);
    }
    tch::set_num_threads(1);
    let Some((mut single, mut source)) = batch_clipped_training(false) else { return };
    let report = single.step_accumulated(&[source.batch(0).unwrap(), source.batch(1).unwrap()]).unwrap();
    assert!(report.grad_norm > 0.1, "the clip (0.1) acts on this step: norm {}", report.grad_norm);
    let expected = values(&flat_parameters(&single));
    let out = run_ranks("batch_clipped_dp_steps_overlapped_equal_post_backward_and_one_process", 2);
    let same_bits = |a: &[f32], b: &[f32]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
    for rank in 0..2 {
        let results = read_results(out.path(), rank);
        assert!(same_bits(&results["parameters true 1"], &expected), "rank {rank}: the overlapped dp=2 step differs from one process");
        assert_eq!(results["grad_norm true 1"], [report.grad_norm as f32], "rank {rank}: the averaged gradient's norm");
        assert!(
            same_bits(&results["parameters true 2"], &results["parameters false 2"]),
            "rank {rank}: with two examples per rank the overlapped reduction differs from the post-backward one"
        );
        assert!(!same_bits(&results["parameters true 2"], &expected), "rank {rank}: four examples step differently from two");
        assert!(
            same_bits(&results["two steps true"], &results["two steps false"]),
            "rank {rank}: the second step, with buckets in arrival order, differs from the post-backward reduction"
        );
    }
}

fn dying_rank(role: &Role) {
    let (_store, group) = world_group(role);
    die_or_survive(role, &group, || group.all_reduce(&Tensor::ones([4], (Kind::Float, Device::Cpu)), ReduceOp::Sum).map(drop));
}

#[test]
fn a_rank_killed_mid_collective_is_an_error_within_the_timeout() {
    if let Some(role) = role() {
        return dying_rank(&role);
    }
    let error = kill_rank_one("a_rank_killed_mid_collective_is_an_error_within_the_timeout");
    assert!(error.contains("all_reduce"), "{error}");
}

fn helixfold_worker(port: u16, rank: usize, world: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_helixfold"))
        .args(["worker", "--rendezvous", &format!("127.0.0.1:{port}")])
        .args(["--rank", &rank.to_string(), "--world", &world.to_string(), "--timeout", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn workers_run_every_command_and_a_dead_worker_is_reported() {
    let port = free_port();
    let mut workers: Vec<Child> = (1..3).map(|rank| helixfold_worker(port, rank, 3)).collect();
    let timeout = Duration::from_secs(10);
    let mut cluster = Cluster::host(port, 3, Duration::from_secs(60)).unwrap().with_timeout(timeout);

    let index = cluster.dispatch("echo hello").unwrap();
    for report in cluster.collect(index).unwrap() {
        assert!(report.outcome.as_ref().is_ok_and(|text| text.contains("hello")), "{report:?}");
    }
    let index = cluster.dispatch("load /nonexistent/x.pdb").unwrap();
    for report in cluster.collect(index).unwrap() {
        assert!(report.outcome.as_ref().is_err_and(|e| e.contains("x.pdb")), "{report:?}");
    }

    workers[0].kill().unwrap();
    workers[0].wait().unwrap();
    let started = Instant::now();
    let index = cluster.dispatch("echo again").unwrap();
    let lost = format!("{:#}", cluster.collect(index).unwrap_err());
    assert!(started.elapsed() < timeout + Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(lost.contains("worker 1 stopped answering"), "{lost}");

    cluster.stop().unwrap();
    assert_eq!(wait_all(&mut workers[1..]), [true], "the live worker stops cleanly");
}

/// The session's `parallel dp=3` starts two `helixfold worker` processes that run the later
/// commands too, `show parallel` names each group's backend, and `parallel off` stops them.
#[test]
fn session_parallel_starts_and_stops_local_workers() {
    let output = Command::new(env!("CARGO_BIN_EXE_helixfold"))
        .args(["-c", "parallel dp=3; show parallel; echo everywhere; parallel off; show parallel"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let shown: Vec<&str> = stdout.lines().filter(|line| line.starts_with("processes")).collect();
    assert_eq!(shown.len(), 4, "{stdout}");
    assert!(shown[..2].iter().all(|line| line.ends_with(" 3")), "{stdout}");
    assert!(shown[2..].iter().all(|line| line.ends_with(" 1")), "{stdout}");
    assert!(stdout.contains("everywhere"), "{stdout}");
    assert!(!stdout.contains("warning"), "no rank reported an error: {stdout}");
    // CPU ranks: every group of this rank on Gloo.
    let groups: Vec<&str> = stdout.lines().filter(|line| line.starts_with("backends")).collect();
    assert!(!groups.is_empty() && groups.iter().all(|line| line.ends_with("world gloo, dp gloo, dap gloo, bp gloo")), "{stdout}");
}
