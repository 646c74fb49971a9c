//! The rank-spawning harness of the multi-process tests (`parallel_gloo.rs`, `parallel_dap.rs`,
//! `parallel_nccl.rs`).
//!
//! A test plays every rank by re-running its own test binary (`current_exe`, the test's own
//! name, `--exact`) with [`ROLE`] set to `rank:world:port:out_dir`; such a child runs the rank's
//! part and writes what it computed into `out_dir`, and the parent compares (ignored tests too:
//! the ranks of a GPU test run the ignored test the parent runs). Every rendezvous uses a fresh
//! port, every group a short timeout, and the parent kills ranks that outlive [`RANK_LIMIT`], so
//! a failure never hangs the suite. Each test file uses part of it.
#![allow(dead_code)]
use helixfold::parallel::process_group::{Backend, ProcessGroup, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tch::{Kind, Tensor};

pub const ROLE: &str = "HELIXFOLD_PARALLEL_TEST_ROLE";
/// Collective and rendezvous timeout inside the ranks.
pub const GROUP_TIMEOUT: Duration = Duration::from_secs(20);
/// A rank still running after this is killed and the test fails.
pub const RANK_LIMIT: Duration = Duration::from_secs(240);

pub struct Role {
    pub rank: usize,
    pub world: usize,
    pub port: u16,
    pub out: PathBuf,
}

pub fn role() -> Option<Role> {
    let text = std::env::var(ROLE).ok()?;
    let mut parts = text.splitn(4, ':');
    let mut next = || parts.next().expect("malformed test role");
    Some(Role {
        rank: next().parse().unwrap(),
        world: next().parse().unwrap(),
        port: next().parse().unwrap(),
        out: PathBuf::from(next()),
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts ranks `0..world` of the test named `test` (this binary re-run on that test).
pub fn spawn_ranks(test: &str, world: usize, out: &Path) -> Vec<Child> {
    let port = free_port();
    (0..world)
        .map(|rank| {
            Command::new(std::env::current_exe().unwrap())
                .args([test, "--exact", "--include-ignored", "--nocapture", "--test-threads=1"])
                .env(ROLE, format!("{rank}:{world}:{port}:{}", out.display()))
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Waits for every child (killing all of them after [`RANK_LIMIT`]); true for each success.
pub fn wait_all(children: &mut [Child]) -> Vec<bool> {
    let started = Instant::now();
    let mut status = vec![None; children.len()];
    while status.iter().any(Option::is_none) {
        for (child, done) in children.iter_mut().zip(status.iter_mut()) {
            if done.is_none() {
                *done = child.try_wait().unwrap().map(|s| s.success());
            }
        }
        if started.elapsed() > RANK_LIMIT {
            for child in children.iter_mut() {
                let _ = child.kill();
            }
            panic!("ranks still running after {RANK_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    status.into_iter().map(Option::unwrap).collect()
}

pub fn run_ranks(test: &str, world: usize) -> tempfile::TempDir {
    run_ranks_prepared(test, world, |_| {})
}

/// [`run_ranks`] after `prepare` has written what the ranks read into their output folder.
pub fn run_ranks_prepared(test: &str, world: usize, prepare: impl FnOnce(&Path)) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    prepare(out.path());
    let mut children = spawn_ranks(test, world, out.path());
    assert_eq!(wait_all(&mut children), vec![true; world], "every rank of {test} succeeds");
    out
}

pub fn world_group(role: &Role) -> (Store, ProcessGroup) {
    tch::set_num_threads(1);
    let store = Store::connect("127.0.0.1", role.port, role.world, role.rank == 0, GROUP_TIMEOUT).unwrap();
    let group = ProcessGroup::new(Backend::Gloo, &store, role.rank, role.world, "127.0.0.1", GROUP_TIMEOUT).unwrap();
    (store, group)
}

pub fn values(tensor: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(&tensor.to_kind(Kind::Float).reshape([-1])).unwrap()
}

pub fn write_results(role: &Role, results: &BTreeMap<String, Vec<f32>>) {
    let path = role.out.join(format!("rank{}.json", role.rank));
    std::fs::write(path, serde_json::to_vec(results).unwrap()).unwrap();
}

pub fn read_results(out: &Path, rank: usize) -> BTreeMap<String, Vec<f32>> {
    serde_json::from_slice(&std::fs::read(out.join(format!("rank{rank}.json"))).unwrap()).unwrap()
}

/// One rank of a dead-peer test: after a first barrier on `group` (so both ranks are connected),
/// rank 1 tells the parent it is ready and waits to be killed, while rank 0 runs `survive`,
/// which must fail, and records how long that took and the error, for [`kill_rank_one`].
pub fn die_or_survive(role: &Role, group: &ProcessGroup, survive: impl FnOnce() -> anyhow::Result<()>) {
    group.barrier().unwrap();
    if role.rank == 1 {
        std::fs::write(role.out.join("ready"), b"").unwrap();
        std::thread::sleep(RANK_LIMIT);
        return;
    }
    let started = Instant::now();
    let error = format!("{:#}", survive().expect_err("the survivor's work with a dead peer fails"));
    write_results(role, &BTreeMap::from([("seconds".to_string(), vec![started.elapsed().as_secs_f32()])]));
    std::fs::write(role.out.join("error"), error).unwrap();
}

/// Runs `test`'s two ranks of [`die_or_survive`], kills rank 1 once it is ready, checks that
/// rank 0 exits normally within the group's timeout (plus 5 s), and returns its error.
pub fn kill_rank_one(test: &str) -> String {
    let out = tempfile::tempdir().unwrap();
    let mut children = spawn_ranks(test, 2, out.path());
    let started = Instant::now();
    while !out.path().join("ready").exists() {
        assert!(started.elapsed() < RANK_LIMIT, "rank 1 never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    children[1].kill().unwrap();
    children[1].wait().unwrap();
    let mut survivor = [children.remove(0)];
    assert_eq!(wait_all(&mut survivor), [true], "rank 0 reports the failure and exits normally");
    let seconds = read_results(out.path(), 0)["seconds"][0];
    let error = std::fs::read_to_string(out.path().join("error")).unwrap();
    assert!(f64::from(seconds) <= GROUP_TIMEOUT.as_secs_f64() + 5.0, "took {seconds} s: {error}");
    error
}
