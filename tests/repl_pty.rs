//! The interactive REPL driven through a real pseudo-terminal: `helixfold repl` runs inside a
//! detached tmux session ([`terminal::Terminal`]). Covers Tab completion, history recall with the Up
//! arrow, a command continued over two lines with a trailing `\`, Ctrl-C while idle (a hint,
//! then exit on the second Ctrl-C or on Ctrl-D) and the history file `$HELIXFOLD_HISTORY`.
#[path = "support/terminal.rs"]
mod terminal;

use std::path::Path;
use terminal::Terminal;

/// `helixfold repl` with `history` as its history file, at its prompt.
fn start_repl(name: &str, history: &Path) -> Option<Terminal> {
    let command = format!("env HELIXFOLD_HISTORY='{}' '{}' repl", history.display(), env!("CARGO_BIN_EXE_helixfold"));
    Terminal::start(name, &command, "helixfold> ")
}

#[test]
fn completion_recall_continuation_and_ctrl_c_twice() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    let Some(terminal) = start_repl("main", &history) else { return };

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
    let Some(terminal) = start_repl("recall", &history) else { return };

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
    let Some(terminal) = start_repl("train", &dir.path().join("history")) else { return };
    let setup = format!("load {}/mmcif/1psm.cif name=native; model tiny templates=false; params init", root.display());
    terminal.keys(&[&setup, "Enter"]);
    terminal.wait_for("parameters of tiny");
    terminal.keys(&["train step 1000 warmup=0", "Enter"]);
    terminal.wait_for("/1000 step 2:");
    terminal.keys(&["C-c"]);
    let (steps, screen) = terminal.wait_for_interrupted_training();
    assert!((3..1000).contains(&steps), "{steps} steps; screen:\n{screen}");

    terminal.check_training_kept_and_exit(steps);
}
