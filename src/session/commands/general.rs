//! Session-wide commands: help, echo, device, threads, history, reset, sleep.
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::table::{self, COMMANDS};
use crate::session::Session;
use anyhow::{bail, Result};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub fn help(_session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    if let Some(name) = args.text("command") {
        return match table::find(name) {
            Some(command) => Ok(vec![Output::Text(command.help_text())]),
            None => bail!("no command '{name}' (type `help` for the list)"),
        };
    }
    let rows = COMMANDS.iter().map(|c| vec![c.name, c.summary]).collect();
    Ok(vec![Output::table(&["command", "what it does"], rows)])
}

pub fn echo(_session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let text = args.text("text").unwrap_or_default().to_string();
    Ok(vec![match args.text("stream") {
        Some("stderr") => Output::Stderr(text),
        _ => Output::Text(text),
    }])
}

pub fn device(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    if let Some(name) = args.text("name") {
        let requested = crate::device::parse_device(name)?;
        // In a job, each rank computes on its own CUDA device.
        session.device = session.parallel_groups().map_or(requested, |groups| groups.placement().device_for(requested));
    }
    Ok(vec![Output::Text(format!("device: {}", describe_device(session.device)))])
}

pub(crate) fn describe_device(device: tch::Device) -> String {
    match device {
        tch::Device::Cpu => "cpu".into(),
        tch::Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}"),
    }
}

pub fn threads(_session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    if let Some(count) = args.int("count") {
        tch::set_num_threads(count as i32);
    }
    Ok(vec![Output::Text(format!("threads: {}", tch::get_num_threads()))])
}

pub fn history(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let all = session.history.len();
    let shown = args.int("last").map_or(all, |n| (n as usize).min(all));
    let rows = session.history[all - shown..]
        .iter()
        .enumerate()
        .map(|(i, line)| vec![(all - shown + i + 1).to_string(), line.clone()])
        .collect();
    Ok(vec![Output::table(&["#", "command"], rows)])
}

/// What `reset` asks before discarding the session's state.
pub const RESET_QUESTION: &str = "discard the session state (inputs, model, parameters, training run, outputs)? [y/N] ";

/// Asks for confirmation where the front end can ask and `force=true` is not given, as IPython's
/// `%reset` does (`-f` skips the question, and without stdin it proceeds).
pub fn reset(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    if !args.flag("force").unwrap_or(false) {
        if let Some(answer) = session.ask(RESET_QUESTION)? {
            if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
                return Ok(vec![Output::Text("reset cancelled: the session is unchanged".into())]);
            }
        }
    }
    let keep_device = session.device;
    let (history, timings) = if args.flag("history").unwrap_or(false) {
        (Vec::new(), Vec::new())
    } else {
        (std::mem::take(&mut session.history), std::mem::take(&mut session.timings))
    };
    let prompter = session.prompter.take();
    // The job (its groups and workers) and its layout outlive a reset: every rank runs the same reset.
    let job = session.job.take();
    let layout = std::mem::take(&mut session.model.parallel);
    *session = Session { device: keep_device, history, timings, interrupt: session.interrupt_flag(), prompter, job, ..Session::new() };
    session.model.parallel = layout;
    Ok(vec![Output::Text("session reset".into())])
}

/// How often `sleep` looks at the interrupt flag.
const INTERRUPT_POLL: Duration = Duration::from_millis(10);

pub fn sleep(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let seconds = args.float("seconds").unwrap_or(0.0);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    loop {
        if session.interrupt.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Vec::new());
        }
        std::thread::sleep(INTERRUPT_POLL.min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(session: &mut Session, line: &str) -> Vec<Output> {
        session.execute(line).unwrap_or_else(|(_, e)| panic!("{line}: {e}"))
    }

    #[test]
    fn help_lists_every_command_and_describes_one() {
        let mut session = Session::new();
        let text = run(&mut session, "help")[0].to_text();
        for command in COMMANDS {
            assert!(text.contains(command.name));
        }
        let text = run(&mut session, "help echo")[0].to_text();
        assert!(text.starts_with("echo <text> [stream=<stdout|stderr>]"), "{text}");
    }

    #[test]
    fn echo_goes_to_the_requested_stream() {
        let mut session = Session::new();
        assert_eq!(run(&mut session, "echo hi stream=stderr"), vec![Output::Stderr("hi".into())]);
    }

    #[test]
    fn history_shows_the_last_commands_with_numbers() {
        let mut session = Session::new();
        run(&mut session, "echo a; echo b");
        let text = run(&mut session, "history 2")[0].to_text();
        assert!(text.contains("2  echo b") && text.contains("3  history 2"), "{text}");
    }

    #[test]
    fn reset_asks_when_it_can_and_force_skips_the_question() {
        let mut session = Session::new();
        run(&mut session, "data seed=7");
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let answers = std::sync::Mutex::new(vec!["yes", "n"]);
        let log = std::sync::Arc::clone(&asked);
        session.set_prompter(Some(Box::new(move |question: &str| {
            log.lock().unwrap().push(question.to_string());
            Ok(answers.lock().unwrap().pop().unwrap_or("").to_string())
        })));
        assert_eq!(run(&mut session, "reset")[0].to_text(), "reset cancelled: the session is unchanged");
        assert_eq!(session.data_config().seed, 7);
        assert_eq!(run(&mut session, "reset")[0].to_text(), "session reset");
        assert_ne!(session.data_config().seed, 7);
        run(&mut session, "data seed=7; reset force=true");
        assert_ne!(session.data_config().seed, 7);
        assert_eq!(*asked.lock().unwrap(), vec![RESET_QUESTION, RESET_QUESTION], "force=true must not ask");
        session.set_prompter(None);
        run(&mut session, "data seed=7; reset");
        assert_ne!(session.data_config().seed, 7, "without a prompter reset proceeds");
    }

    #[test]
    fn sleep_waits_and_stops_when_interrupted() {
        let mut session = Session::new();
        let started = Instant::now();
        assert!(run(&mut session, "sleep 0.05").is_empty());
        assert!(started.elapsed() >= Duration::from_millis(50));
        let flag = session.interrupt_flag();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            flag.store(true, Ordering::SeqCst);
        });
        let started = Instant::now();
        let (_, error) = session.execute("sleep 30").unwrap_err();
        setter.join().unwrap();
        assert!(error.to_string().contains("interrupted"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
