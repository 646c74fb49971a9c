//! The session engine: one persistent state (device, data, model, optimiser, outputs,
//! history) driven by the command language. The REPL, batch mode and the Jupyter kernel are
//! thin front ends over [`Session::execute`].
//!
//! Every command either completes or leaves the session as it was: handlers validate and
//! compute before they mutate, and a panic inside a handler (a libtorch exception surfaces as
//! one through tch's non-`f_` calls) is caught and reported as an error.
pub mod args;
pub mod commands;
pub mod completion;
pub mod context;
pub mod model_state;
pub mod output;
pub mod script;
pub mod state;
pub mod table;

use anyhow::{anyhow, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tch::Device;

pub use context::Context;
pub use model_state::ModelState;
pub use output::Output;
pub use state::{DataConfig, Inputs, Structure};

/// A failed command: which one (1-based position on the line), its text, and why.
#[derive(Debug, thiserror::Error)]
#[error("{command}: {cause:#}")]
pub struct CommandError {
    pub index: usize,
    pub command: String,
    pub cause: anyhow::Error,
}

/// How long one command took, and whether it succeeded (`show timing`).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandTiming {
    pub command: String,
    pub elapsed: Duration,
    pub succeeded: bool,
}

/// How a front end answers a command's question (Jupyter's `input_request`): the prompt in,
/// the line typed out, or an error (interrupted while waiting, the front end went away).
pub type Prompter = Box<dyn FnMut(&str) -> Result<String> + Send>;

/// The persistent state behind every front end.
pub struct Session {
    device: Device,
    history: Vec<String>,
    timings: Vec<CommandTiming>,
    interrupt: Arc<AtomicBool>,
    inputs: Inputs,
    data_config: DataConfig,
    model: ModelState,
    /// Makes progress ids unique beyond this session: notebook displays outlive kernels, and a
    /// new display sharing an old one's id would update both.
    id_token: String,
    /// Commands started so far (never reset, unlike the history).
    invocations: u64,
    /// The multi-process job this session is a rank of (`parallel`): its process groups and,
    /// on rank 0, the workers that run every command too.
    job: Option<commands::parallel::Job>,
    /// Who answers questions, when the front end can ask the person using it.
    prompter: Option<Prompter>,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    pub fn new() -> Self {
        Self {
            device: Device::Cpu,
            history: Vec::new(),
            timings: Vec::new(),
            interrupt: Arc::new(AtomicBool::new(false)),
            inputs: Inputs::default(),
            data_config: DataConfig::default(),
            model: ModelState::default(),
            id_token: format!("{:x}", SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())),
            invocations: 0,
            job: None,
            prompter: None,
        }
    }

    /// Lets commands ask for confirmation through the front end (`None`: nobody can be asked).
    pub fn set_prompter(&mut self, prompter: Option<Prompter>) {
        self.prompter = prompter;
    }

    /// Asks the person at the front end `question`: the answer, or `None` when the front end
    /// cannot ask (batch scripts, a notebook run without stdin).
    pub fn ask(&mut self, question: &str) -> Result<Option<String>> {
        self.prompter.as_mut().map(|prompter| prompter(question)).transpose()
    }

    /// A flag that, once set, makes long commands stop at their next step boundary. Front ends
    /// set it from Ctrl-C or a Jupyter `interrupt_request`; the session clears it when a new
    /// line starts.
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.interrupt)
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// This rank's process groups, while the session is part of a multi-process job.
    pub fn parallel_groups(&self) -> Option<&crate::parallel::groups::ParallelGroups> {
        self.job.as_ref().map(commands::parallel::Job::groups)
    }

    /// Makes this session a worker's rank of the job `groups` belong to (`None`: no job).
    pub fn join_job(&mut self, groups: Option<crate::parallel::groups::ParallelGroups>) {
        self.job = groups.map(commands::parallel::Job::worker);
    }

    /// The loaded sequence, MSAs, template hits and structures.
    pub fn inputs(&self) -> &Inputs {
        &self.inputs
    }

    /// The data settings (`data`, `show config`).
    pub fn data_config(&self) -> &DataConfig {
        &self.data_config
    }

    /// The model, its parameters, runtime options, parallel layout and last prediction.
    pub fn model(&self) -> &ModelState {
        &self.model
    }

    /// Commands run so far (successful or not), oldest first.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Wall-clock time of every command run so far, oldest first.
    pub fn timings(&self) -> &[CommandTiming] {
        &self.timings
    }

    /// Runs every command on `line` (separated by `;`), stopping at the first failure. Outputs
    /// of the commands that ran are returned with the error so front ends can show both.
    /// Progress reports are dropped; [`Session::execute_streaming`] receives them.
    pub fn execute(&mut self, line: &str) -> std::result::Result<Vec<Output>, (Vec<Output>, CommandError)> {
        self.execute_streaming(line, &mut |_| {})
    }

    /// As [`Session::execute`], handing what commands report while they run
    /// ([`Output::Progress`], intermediate outputs) to `sink` as it happens.
    pub fn execute_streaming(
        &mut self,
        line: &str,
        sink: &mut dyn FnMut(&Output),
    ) -> std::result::Result<Vec<Output>, (Vec<Output>, CommandError)> {
        self.interrupt.store(false, Ordering::SeqCst);
        let commands = match args::split_commands(line) {
            Ok(commands) => commands,
            Err(cause) => {
                return Err((Vec::new(), CommandError { index: 1, command: line.trim().to_string(), cause }))
            }
        };
        let mut outputs = Vec::new();
        for (i, words) in commands.iter().enumerate() {
            let text = words.join(" ");
            self.history.push(text.clone());
            let started = Instant::now();
            let result = commands::parallel::on_every_rank(self, &text, |session| session.run_words(words, &mut *sink));
            self.timings.push(CommandTiming { command: text.clone(), elapsed: started.elapsed(), succeeded: result.is_ok() });
            match result {
                Ok(mut produced) => outputs.append(&mut produced),
                Err(cause) => return Err((outputs, CommandError { index: i + 1, command: text, cause })),
            }
        }
        Ok(outputs)
    }

    fn run_words(&mut self, words: &[String], sink: &mut dyn FnMut(&Output)) -> Result<Vec<Output>> {
        let (name, rest) = words.split_first().ok_or_else(|| anyhow!("empty command"))?;
        let spec = table::find(name).ok_or_else(|| {
            let suggestion = completion::closest_command(name)
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            anyhow!("unknown command '{name}'{suggestion} (type `help` for the list)")
        })?;
        let bound = args::Args::bind(spec.name, spec.args, rest)?;
        let run = spec.run;
        self.invocations += 1;
        let mut context = Context::new(format!("{}-{}-{}", spec.name, self.id_token, self.invocations), sink);
        crate::panics::catch_unwind_quietly(|| run(self, &bound, &mut context)).unwrap_or_else(|panic| {
            Err(anyhow!("{} (the session state is unchanged)", crate::panics::describe_panic(&*panic)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_commands_in_order_and_stops_at_the_first_failure() {
        let mut session = Session::new();
        let (outputs, error) = session.execute("echo one; nosuch; echo three").unwrap_err();
        assert_eq!(outputs, vec![Output::Text("one".into())]);
        assert_eq!(error.index, 2);
        assert!(error.to_string().contains("unknown command 'nosuch'"), "{error}");
        assert_eq!(session.history(), ["echo one", "nosuch"]);
    }

    #[test]
    fn suggests_a_close_command() {
        let mut session = Session::new();
        let (_, error) = session.execute("hepl").unwrap_err();
        assert!(error.to_string().contains("did you mean `help`?"), "{error}");
    }

    #[test]
    fn bad_device_keeps_the_previous_one() {
        let mut session = Session::new();
        assert!(session.execute("device tpu").is_err());
        assert_eq!(session.device(), Device::Cpu);
    }
}
