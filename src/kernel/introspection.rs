//! Replies that need no session state (messaging protocol 5.3, "Kernel info", "Completion",
//! "Introspection", "Code completeness"), all generated from the command table, so they are
//! answered at once even while a cell runs. Jupyter counts `cursor_pos` in Unicode code
//! points; the session's completion works on byte offsets within one line.
use crate::session::{args, completion, table};
use serde_json::{json, Value};

/// The `kernel_info_reply` content.
pub fn kernel_info() -> Value {
    json!({
        "status": "ok",
        "protocol_version": super::message::PROTOCOL_VERSION,
        "implementation": "helixfold",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": {
            "name": "helixfold",
            "version": env!("CARGO_PKG_VERSION"),
            "mimetype": "text/x-helixfold",
            "file_extension": ".hf",
            "codemirror_mode": "shell",
            "pygments_lexer": "shell",
        },
        "banner": format!("helixfold {} — HelixFold (AlphaFold2) on libtorch; type `help` for commands", env!("CARGO_PKG_VERSION")),
        "debugger": false,
        "help_links": [],
    })
}

/// Byte offset of the `cursor`-th code point (the end when past it).
fn byte_offset(code: &str, cursor: usize) -> usize {
    code.char_indices().nth(cursor).map_or(code.len(), |(offset, _)| offset)
}

fn code_points(code: &str, byte_offset: usize) -> usize {
    code.get(..byte_offset).map_or(0, |before| before.chars().count())
}

/// The `complete_reply` content: completion within the cursor's line.
pub fn complete(code: &str, cursor_pos: usize) -> Value {
    let cursor = byte_offset(code, cursor_pos);
    let line_start = code[..cursor].rfind('\n').map_or(0, |i| i + 1);
    let line_end = code[cursor..].find('\n').map_or(code.len(), |i| cursor + i);
    let (start, matches) = completion::complete(&code[line_start..line_end], cursor - line_start);
    json!({
        "status": "ok",
        "matches": matches,
        "cursor_start": code_points(code, line_start + start),
        "cursor_end": code_points(code, cursor),
        "metadata": {},
    })
}

/// The `inspect_reply` content: the help of the command whose text holds the cursor.
pub fn inspect(code: &str, cursor_pos: usize) -> Value {
    let cursor = byte_offset(code, cursor_pos);
    let line_start = code[..cursor].rfind('\n').map_or(0, |i| i + 1);
    let command_start = code[line_start..cursor].rfind(';').map_or(line_start, |i| line_start + i + 1);
    let name = code[command_start..].split(|c: char| c.is_whitespace() || c == ';').find(|w| !w.is_empty());
    match name.and_then(table::find) {
        Some(command) => json!({
            "status": "ok",
            "found": true,
            "data": {"text/plain": command.help_text()},
            "metadata": {},
        }),
        None => json!({"status": "ok", "found": false, "data": {}, "metadata": {}}),
    }
}

/// The `is_complete_reply` content: `incomplete` while the last line is open (quote or
/// trailing `\`), `invalid` when a line does not split or names an unknown command. A `%%rust`
/// cell is always `complete` (its Rust is checked when it runs).
pub fn is_complete(code: &str) -> Value {
    if super::rust_cells::parse(code).is_some() {
        return json!({"status": "complete"});
    }
    let last_line = code.trim_end().lines().last().unwrap_or("");
    if !args::is_complete(last_line) {
        return json!({"status": "incomplete", "indent": ""});
    }
    let mut continued = false;
    for line in code.lines() {
        let trimmed = line.trim();
        let starts_command = !continued;
        continued = trimmed.ends_with('\\');
        if !starts_command || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let known = match args::split_commands(trimmed.trim_end_matches('\\')) {
            Ok(commands) => commands.iter().all(|words| words.first().and_then(|w| table::find(w)).is_some()),
            Err(_) => false,
        };
        if !known {
            return json!({"status": "invalid"});
        }
    }
    json!({"status": "complete"})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_within_the_cursor_line_in_code_points() {
        let reply = complete("echo é\nhe", 9);
        assert_eq!(reply["matches"], json!(["help"]));
        assert_eq!((reply["cursor_start"].as_u64(), reply["cursor_end"].as_u64()), (Some(7), Some(9)));
        let keys = complete("echo hi st", 10);
        assert_eq!(keys["matches"], json!(["stream="]));
        assert_eq!(keys["cursor_start"], 8);
    }

    #[test]
    fn inspects_the_command_under_the_cursor() {
        let reply = inspect("device; echo hi", 10);
        assert_eq!(reply["found"], true);
        assert!(reply["data"]["text/plain"].as_str().unwrap().starts_with("echo <text>"));
        assert_eq!(inspect("nosuch", 2)["found"], false);
        assert_eq!(inspect("", 0)["found"], false);
    }

    #[test]
    fn classifies_completeness() {
        assert_eq!(is_complete("echo hi\ndevice")["status"], "complete");
        assert_eq!(is_complete("echo \"open")["status"], "incomplete");
        assert_eq!(is_complete("echo a \\")["status"], "incomplete");
        assert_eq!(is_complete("echo a \\\n  b")["status"], "complete");
        assert_eq!(is_complete("# note\nnosuch 1")["status"], "invalid");
        assert_eq!(is_complete("")["status"], "complete");
        assert_eq!(is_complete("%%rust tensors=plddt\nlet x = \"open")["status"], "complete");
    }
}
