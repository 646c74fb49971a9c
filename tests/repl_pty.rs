//! The interactive REPL driven through a real pseudo-terminal: `helixfold repl` runs inside a
//! detached tmux session (its own server socket per test), keys go in with `send-keys`, and the
//! screen is read back with `capture-pane`. Covers Tab completion, history recall with the Up
//! arrow, a command continued over two lines with a trailing `\`, Ctrl-C while idle (a hint,
//! then exit on the second Ctrl-C or on Ctrl-D) and the history file `$HELIXFOLD_HISTORY`.
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long to wait for the screen to show something (the binary loads libtorch at start, which
/// takes seconds on a busy machine).
const TIMEOUT: Duration = Duration::from_secs(60);

/// One REPL in its own tmux server; the server is killed on drop.
struct Terminal {
    socket: String,
}

impl Terminal {
    /// Starts `helixfold repl` with `history` as its history file; after it exits the pane
    /// prints `EXIT=<status>` and stays open so the test can read it. `None` (test skipped)
    /// when tmux is not installed outside CI.
    fn start(name: &str, history: &Path) -> Option<Self> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "tmux is required for the REPL tests in CI");
            eprintln!("SKIPPED: tmux is not installed");
            return None;
        }
        let terminal = Terminal { socket: format!("helixfold-test-{}-{name}", std::process::id()) };
        let command = format!(
            "env HELIXFOLD_HISTORY='{}' '{}' repl; echo EXIT=$?; sleep 60",
            history.display(),
            env!("CARGO_BIN_EXE_helixfold")
        );
        terminal.tmux(&["-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "50", &command]);
        terminal.wait_for("helixfold> ");
        Some(terminal)
    }

    fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("tmux runs");
        assert!(output.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Sends keys: literal text, or tmux key names such as `Enter`, `Tab`, `Up`, `C-c`, `C-d`.
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// The whole screen and scrollback, with wrapped lines joined.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", "0"])
    }

    /// Waits until `text` appears on screen; returns the screen.
    fn wait_for(&self, text: &str) -> String {
        self.wait_until(text, |screen| screen.contains(text))
    }

    /// Waits until `text` appears on screen at least `times` times.
    fn wait_for_count(&self, text: &str, times: usize) -> String {
        self.wait_until(text, |screen| screen.matches(text).count() >= times)
    }

    fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(start.elapsed() < TIMEOUT, "timed out waiting for {what:?}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // Nothing is left to clean when the server is already gone.
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

#[test]
fn completion_recall_continuation_and_ctrl_c_twice() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    let Some(terminal) = Terminal::start("main", &history) else { return };

    // `he` + Tab completes to `help` (the only command starting so), shown on the prompt line
    // before Enter runs it.
    terminal.keys(&["he", "Tab"]);
    terminal.wait_for("helixfold> help");
    terminal.keys(&[" echo", "Enter"]);
    terminal.wait_for("echo <text> [stream=<stdout|stderr>]");

    terminal.keys(&["echo first", "Enter"]);
    terminal.wait_for("\nfirst\n");
    terminal.keys(&["Up"]);
    terminal.wait_for_count("helixfold> echo first", 2);
    terminal.keys(&["Enter"]);
    terminal.wait_for_count("\nfirst\n", 2);

    // A trailing backslash asks for another line; the two lines are one command.
    terminal.keys(&["data crop_size=64 \\", "Enter"]);
    terminal.keys(&["seed=5", "Enter"]);
    let screen = terminal.wait_for("seed       5");
    assert!(screen.contains("crop_size  64"), "{screen}");

    terminal.keys(&["C-c"]);
    terminal.wait_for("(press Ctrl-C again or Ctrl-D to exit)");
    terminal.keys(&["C-c"]);
    terminal.wait_for("EXIT=0");

    let saved = std::fs::read_to_string(&history).expect("history file written");
    for line in ["help echo", "echo first", "data crop_size=64"] {
        assert!(saved.contains(line), "history lacks {line:?}:\n{saved}");
    }
}

#[test]
fn history_from_an_earlier_session_is_recalled_and_ctrl_d_exits() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    // rustyline's history file format: a `#V2` header, then one entry per line.
    std::fs::write(&history, "#V2\necho remembered\n").unwrap();
    let Some(terminal) = Terminal::start("recall", &history) else { return };

    terminal.keys(&["Up"]);
    terminal.wait_for("helixfold> echo remembered");
    terminal.keys(&["Enter"]);
    terminal.wait_for("\nremembered\n");
    terminal.keys(&["echo later", "Enter"]);
    terminal.wait_for("\nlater\n");

    terminal.keys(&["C-c"]);
    terminal.wait_for("(press Ctrl-C again or Ctrl-D to exit)");
    terminal.keys(&["C-d"]);
    terminal.wait_for("EXIT=0");
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(saved.contains("echo remembered\necho later"), "{saved}");
}

/// Ctrl-C during a long `train step 1000` stops it at the next step boundary; `show training`
/// then reports the steps actually taken, and the session goes on. Trains the tiny preset on
/// 1psm (/work/shared/data/openfold_mini).
#[test]
fn ctrl_c_stops_training_early_and_the_session_stays_usable() {
    let Some(root) = helixfold::testing::shared_data("openfold_mini") else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some(terminal) = Terminal::start("train", &dir.path().join("history")) else { return };
    let setup = format!("load {}/mmcif/1psm.cif name=native; model tiny templates=false; params init", root.display());
    terminal.keys(&[&setup, "Enter"]);
    terminal.wait_for("parameters of tiny");
    terminal.keys(&["train step 1000 warmup=0", "Enter"]);
    terminal.wait_for("/1000 step 2:");
    terminal.keys(&["C-c"]);
    let screen = terminal.wait_for("(interrupted); run at step ");
    let steps: u64 = screen
        .split("(interrupted); run at step ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no step count on screen:\n{screen}"));
    assert!((3..1000).contains(&steps), "{steps} steps; screen:\n{screen}");

    terminal.keys(&["show training", "Enter"]);
    let screen = terminal.wait_for("steps this session");
    let row = screen.lines().find(|l| l.starts_with("steps ")).unwrap_or_else(|| panic!("{screen}"));
    assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["steps", steps.to_string().as_str()], "{screen}");
    terminal.keys(&["echo alive", "Enter"]);
    terminal.wait_for("\nalive\n");
    terminal.keys(&["C-d"]);
    terminal.wait_for("EXIT=0");
}
