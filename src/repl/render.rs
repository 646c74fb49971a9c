//! Terminal rendering of command outputs: text to stdout, warnings and stderr text to stderr,
//! tables aligned, images as the path of the file they were written to. Progress goes to stderr:
//! interactively as one line rewritten in place, in batch mode as occasional plain lines (the
//! first and last report of each command, and one at most every [`LOG_INTERVAL`] between).
use crate::session::Output;
use std::io::Write;
use std::time::{Duration, Instant};

/// The least time between two progress lines in batch mode.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressStyle {
    /// One line on a terminal, redrawn with a carriage return.
    Line,
    /// Plain lines for logs and pipes.
    Log,
}

/// Prints outputs as they arrive, remembering the state of the progress display.
#[derive(Debug)]
pub struct Renderer {
    style: ProgressStyle,
    /// Whether the progress line is drawn and not yet ended with a newline.
    line_open: bool,
    /// The id and time of the last progress line written in [`ProgressStyle::Log`].
    last_logged: Option<(String, Instant)>,
}

impl Renderer {
    pub fn new(style: ProgressStyle) -> Self {
        Self { style, line_open: false, last_logged: None }
    }

    pub fn show(&mut self, output: &Output) {
        if let Output::Progress { id, done, total, .. } = output {
            self.progress(output, id, done >= total);
            return;
        }
        self.end_line();
        match output {
            Output::Stderr(_) | Output::Warning(_) => eprintln!("{}", output.to_text()),
            _ => println!("{}", output.to_text()),
        }
    }

    /// Ends an open progress line (before an error message, say).
    pub fn end_line(&mut self) {
        if self.line_open {
            eprintln!();
            self.line_open = false;
        }
    }

    fn progress(&mut self, output: &Output, id: &str, finished: bool) {
        if let Some(text) = self.progress_text(output, id, finished) {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "{text}");
            let _ = stderr.flush();
        }
    }

    /// What a progress report writes to stderr, if anything, updating the display state.
    fn progress_text(&mut self, output: &Output, id: &str, finished: bool) -> Option<String> {
        match self.style {
            ProgressStyle::Line => {
                // Carriage return, the report, then erase what a longer previous report left.
                let mut text = format!("\r{}\u{1b}[K", output.to_text());
                self.line_open = !finished;
                if finished {
                    text.push('\n');
                }
                Some(text)
            }
            ProgressStyle::Log => {
                let due = match &self.last_logged {
                    Some((last_id, at)) => last_id != id || at.elapsed() >= LOG_INTERVAL,
                    None => true,
                };
                if !(due || finished) {
                    return None;
                }
                self.last_logged = Some((id.to_string(), Instant::now()));
                Some(format!("{}\n", output.to_text()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str, done: u64) -> Output {
        Output::Progress { id: id.into(), label: "infer".into(), done, total: 3, message: String::new(), metrics: Vec::new() }
    }

    fn texts(renderer: &mut Renderer, reports: &[(&str, u64)]) -> Vec<Option<String>> {
        reports
            .iter()
            .map(|&(id, done)| renderer.progress_text(&report(id, done), id, done >= 3))
            .collect()
    }

    #[test]
    fn a_terminal_redraws_one_line_and_ends_it_when_done() {
        let mut renderer = Renderer::new(ProgressStyle::Line);
        let shown = texts(&mut renderer, &[("a", 1), ("a", 2)]);
        assert_eq!(shown, [Some("\rinfer: 1/3\u{1b}[K".to_string()), Some("\rinfer: 2/3\u{1b}[K".to_string())]);
        assert!(renderer.line_open);
        assert_eq!(texts(&mut renderer, &[("a", 3)]), [Some("\rinfer: 3/3\u{1b}[K\n".to_string())]);
        assert!(!renderer.line_open);
    }

    #[test]
    fn a_log_gets_the_first_and_last_report_of_a_command() {
        let mut renderer = Renderer::new(ProgressStyle::Log);
        let shown = texts(&mut renderer, &[("a", 1), ("a", 2), ("a", 3), ("b", 1)]);
        assert_eq!(
            shown,
            [Some("infer: 1/3\n".to_string()), None, Some("infer: 3/3\n".to_string()), Some("infer: 1/3\n".to_string())]
        );
    }
}
