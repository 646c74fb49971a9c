//! What a running command may use besides the session: a sink for outputs it reports while it
//! runs (progress of long commands, intermediate tables) and the id that names this invocation
//! in progress reports, so a front end can update one display per command.
use super::output::Output;

/// A command invocation's channel to the front end.
pub struct Context<'a> {
    id: String,
    sink: &'a mut dyn FnMut(&Output),
}

impl<'a> Context<'a> {
    /// `id` names this invocation uniquely (the session combines the command's name, a token of
    /// the session and a running count).
    pub fn new(id: String, sink: &'a mut dyn FnMut(&Output)) -> Self {
        Self { id, sink }
    }

    /// Hands `output` to the front end now, before the command finishes.
    pub fn emit(&mut self, output: Output) {
        (self.sink)(&output);
    }

    /// Reports that `done` of `total` steps of `label` have finished.
    pub fn progress(&mut self, label: &str, done: u64, total: u64, message: String) {
        self.progress_with_metrics(label, done, total, message, Vec::new());
    }

    /// [`Context::progress`] with the step's numbers by name, for live plots.
    pub fn progress_with_metrics(&mut self, label: &str, done: u64, total: u64, message: String, metrics: Vec<(String, f64)>) {
        let id = self.id.clone();
        self.emit(Output::Progress { id, label: label.to_string(), done, total, message, metrics });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_carries_the_invocation_id() {
        let mut seen = Vec::new();
        let mut sink = |output: &Output| seen.push(output.clone());
        let mut context = Context::new("infer-3".into(), &mut sink);
        context.progress("infer", 1, 2, "0.5 s".into());
        assert_eq!(
            seen,
            vec![Output::Progress { id: "infer-3".into(), label: "infer".into(), done: 1, total: 2, message: "0.5 s".into(), metrics: Vec::new() }]
        );
    }
}
