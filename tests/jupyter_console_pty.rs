//! `jupyter console` (the Jupyter project's terminal client, pip `jupyter-console`) driving the
//! HelixFold kernel through a real pseudo-terminal ([`terminal::Terminal`]): the console starts
//! the kernel from the kernelspec installed into a temporary prefix, runs a command and shows
//! its output; Ctrl-C during a long `train step 1000` makes the console send an interrupt
//! (`interrupt_mode: message`, so an `interrupt_request` on control), the console gets its
//! prompt back, and `show training` reports exactly the steps taken: the session kept its state.
#[path = "support/jupyter.rs"]
mod jupyter;
#[path = "support/terminal.rs"]
mod terminal;

use std::time::Duration;
use terminal::Terminal;

#[test]
fn jupyter_console_runs_commands_and_ctrl_c_interrupts_training() {
    let Some(jupyter) = jupyter::Jupyter::install("helixfold-console") else { return };
    let command = format!(
        "env {} '{}' console --kernel {} --no-confirm-exit",
        jupyter.env_prefix(),
        jupyter::root().join(".venv/bin/jupyter").display(),
        jupyter.kernel
    );
    let Some(terminal) = Terminal::start("console", &command, "In [1]: ") else { return };

    terminal.keys(&["echo from-the-console", "Enter"]);
    terminal.wait_for("\nfrom-the-console\n");
    terminal.wait_for("In [2]: ");

    let demo = jupyter::root().join("examples/data/1a8o.pdb");
    let setup = format!("load {} name=native; model tiny templates=false; params init", demo.display());
    terminal.keys(&[&setup, "Enter"]);
    terminal.wait_for("parameters of tiny");
    terminal.wait_for("In [3]: ");

    // The console prints a display's first text (later updates are for notebooks), so the
    // first step's report shows that training runs; a few more steps pass before Ctrl-C.
    terminal.keys(&["train step 1000 warmup=0", "Enter"]);
    terminal.wait_for("train: 1/1000 step ");
    std::thread::sleep(Duration::from_secs(2));
    terminal.keys(&["C-c"]);
    let (steps, screen) = terminal.wait_for_interrupted_training();
    assert!((1..1000).contains(&steps), "{steps} steps; screen:\n{screen}");
    terminal.wait_for("In [4]: ");

    terminal.check_training_kept_and_exit(steps);
}
