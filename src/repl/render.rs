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
        match self.style {
            ProgressStyle::Line => {
                let mut stderr = std::io::stderr().lock();
                // Carriage return, the report, then erase what a longer previous report left.
                let _ = write!(stderr, "\r{}\u{1b}[K", output.to_text());
                let _ = stderr.flush();
                self.line_open = true;
                if finished {
                    drop(stderr);
                    self.end_line();
                }
            }
            ProgressStyle::Log => {
                let due = match &self.last_logged {
                    Some((last_id, at)) => last_id != id || at.elapsed() >= LOG_INTERVAL,
                    None => true,
                };
                if due || finished {
                    eprintln!("{}", output.to_text());
                    self.last_logged = Some((id.to_string(), Instant::now()));
                }
            }
        }
    }
}
