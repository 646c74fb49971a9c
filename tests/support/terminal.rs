//! A program in a real pseudo-terminal, for the interactive tests: it runs inside a detached
//! tmux session (its own server socket per test), keys go in with `send-keys`, and the screen is
//! read back with `capture-pane`.
// Each test file includes this module and uses part of it.
#![allow(dead_code)]
use std::process::Command;
use std::time::{Duration, Instant};

/// How long to wait for the screen to show something (the binary loads libtorch at start, and
/// Jupyter clients start a kernel, which takes seconds on a busy machine).
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// One program in its own tmux server; the server is killed on drop.
pub struct Terminal {
    socket: String,
}

impl Terminal {
    /// Starts the shell line `command` in a 120×50 terminal and waits for `ready` on screen.
    /// After the program exits the pane prints `EXIT=<status>` and stays open so the test can
    /// read it. `None` (test skipped) when tmux is not installed outside CI.
    pub fn start(name: &str, command: &str, ready: &str) -> Option<Self> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "tmux is required for the terminal tests in CI");
            eprintln!("SKIPPED: tmux is not installed");
            return None;
        }
        let terminal = Terminal { socket: format!("helixfold-test-{}-{name}", std::process::id()) };
        let line = format!("{command}; echo EXIT=$?; sleep 60");
        terminal.tmux(&["-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "50", &line]);
        terminal.wait_for(ready);
        Some(terminal)
    }

    fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("tmux runs");
        assert!(output.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Sends keys: literal text, or tmux key names such as `Enter`, `Tab`, `Up`, `C-c`, `C-d`.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// The whole screen and scrollback, with wrapped lines joined.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", "0"])
    }

    /// Waits until `text` appears on screen; returns the screen.
    pub fn wait_for(&self, text: &str) -> String {
        self.wait_until(text, |screen| screen.contains(text))
    }

    /// Waits until `text` appears on screen at least `times` times.
    pub fn wait_for_count(&self, text: &str, times: usize) -> String {
        self.wait_until(text, |screen| screen.matches(text).count() >= times)
    }

    /// Waits for an interrupted `train`'s summary ("… (interrupted); run at step N; …") and
    /// returns N with the screen.
    pub fn wait_for_interrupted_training(&self) -> (u64, String) {
        const MARK: &str = "(interrupted); run at step ";
        let screen = self.wait_for(MARK);
        let steps = screen
            .split(MARK)
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no step count on screen:\n{screen}"));
        (steps, screen)
    }

    /// After an interrupted `train` of `steps` steps: `show training` reports those steps, the
    /// session still answers `echo`, and Ctrl-D ends the program with status 0.
    pub fn check_training_kept_and_exit(&self, steps: u64) {
        self.keys(&["show training", "Enter"]);
        let screen = self.wait_for("steps this session");
        let row = screen.lines().find(|l| l.starts_with("steps ")).unwrap_or_else(|| panic!("{screen}"));
        assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["steps", steps.to_string().as_str()], "{screen}");
        self.keys(&["echo alive", "Enter"]);
        self.wait_for("\nalive\n");
        self.keys(&["C-d"]);
        self.wait_for("EXIT=0");
    }

    pub fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
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
