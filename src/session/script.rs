//! Batch mode: a script of commands (`helixfold run SCRIPT`, `helixfold -c "cmd; cmd"`).
//! One command line per line; `#` starts a comment line; a line ending in `\` continues on
//! the next. Execution stops at the first failing command and reports its line number.
use super::{CommandError, Output, Session};

/// A failure inside a script: where, and the command's error.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}:{line}: {error}")]
pub struct ScriptError {
    pub source_name: String,
    pub line: usize,
    pub error: CommandError,
}

/// Runs `text` line by line, handing every output to `sink` as soon as its command finishes, and
/// what a command reports while it runs ([`Output::Progress`]) as it happens.
pub fn run_script(
    session: &mut Session,
    text: &str,
    source_name: &str,
    sink: &mut dyn FnMut(&Output),
) -> Result<(), ScriptError> {
    let mut pending = String::new();
    let mut first_line = 0;
    for (index, raw) in text.lines().enumerate() {
        let line_number = index + 1;
        let trimmed = raw.trim();
        if pending.is_empty() {
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            first_line = line_number;
        }
        // The backslash-newline stays for the command parser, which reads it as the REPL's
        // multi-line input: a word break outside quotes, nothing inside them.
        if trimmed.ends_with('\\') && !trimmed.ends_with("\\\\") {
            pending.push_str(trimmed);
            pending.push('\n');
            continue;
        }
        pending.push_str(trimmed);
        let command = std::mem::take(&mut pending);
        match session.execute_streaming(&command, &mut *sink) {
            Ok(outputs) => outputs.iter().for_each(&mut *sink),
            Err((outputs, error)) => {
                outputs.iter().for_each(&mut *sink);
                return Err(ScriptError { source_name: source_name.to_string(), line: first_line, error });
            }
        }
    }
    if !pending.is_empty() {
        if let Err((outputs, error)) = session.execute_streaming(&pending, &mut *sink) {
            outputs.iter().for_each(&mut *sink);
            return Err(ScriptError { source_name: source_name.to_string(), line: first_line, error });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_until_the_first_failure_and_names_its_line() {
        let script = "# a comment\necho one\n\necho \"two \\\n  three\"\nbogus\necho never\n";
        let mut printed = Vec::new();
        let mut session = Session::new();
        let error = run_script(&mut session, script, "demo.hf", &mut |o| printed.push(o.to_text())).unwrap_err();
        assert_eq!(printed, vec!["one", "two three"]);
        assert_eq!(error.line, 6);
        assert!(error.to_string().starts_with("demo.hf:6: bogus: unknown command"), "{error}");
    }
}
