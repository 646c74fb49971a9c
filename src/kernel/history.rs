//! The kernel's input history for `history_request` (messaging protocol 5.3, "History"):
//! one entry per executed cell that asked to be stored, numbered by its execution count.
//! Access types follow IPython's `HistoryManager`: `tail` (the last n), `range` (lines
//! start..stop of a session) and `search` (a glob over the input, `*` and `?`, optionally
//! unique, the last n matches).
use serde_json::{json, Value};

/// The session number this kernel reports; front ends may also say 0 for "the current one".
pub const SESSION_NUMBER: u64 = 1;
/// IPython's default for `tail` without `n`.
const DEFAULT_TAIL: usize = 10;

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub line: u64,
    pub input: String,
    pub output: String,
}

#[derive(Debug, Default)]
pub struct History {
    entries: Vec<Entry>,
}

impl History {
    pub fn record(&mut self, line: u64, input: &str, output: String) {
        self.entries.push(Entry { line, input: input.to_string(), output });
    }

    /// The `history_reply` content for a `history_request`'s content.
    pub fn reply(&self, request: &Value) -> Value {
        let n = request["n"].as_u64().map(|n| n as usize);
        let selected: Vec<&Entry> = match request["hist_access_type"].as_str().unwrap_or("tail") {
            "range" => self.range(request),
            "search" => self.search(
                request["pattern"].as_str().unwrap_or("*"),
                request["unique"].as_bool().unwrap_or(false),
                n,
            ),
            _ => last(self.entries.iter().collect(), Some(n.unwrap_or(DEFAULT_TAIL))),
        };
        let with_output = request["output"].as_bool().unwrap_or(false);
        let history: Vec<Value> = selected
            .into_iter()
            .map(|entry| {
                if with_output {
                    json!([SESSION_NUMBER, entry.line, [entry.input, entry.output]])
                } else {
                    json!([SESSION_NUMBER, entry.line, entry.input])
                }
            })
            .collect();
        json!({"status": "ok", "history": history})
    }

    fn range(&self, request: &Value) -> Vec<&Entry> {
        let session = request["session"].as_i64().unwrap_or(0);
        if session != 0 && session != SESSION_NUMBER as i64 {
            return Vec::new();
        }
        let start = request["start"].as_u64().unwrap_or(1);
        let stop = request["stop"].as_u64().unwrap_or(u64::MAX);
        self.entries.iter().filter(|e| e.line >= start && e.line < stop).collect()
    }

    fn search(&self, pattern: &str, unique: bool, n: Option<usize>) -> Vec<&Entry> {
        let pattern: Vec<char> = pattern.chars().collect();
        let mut found: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| glob_matches(&pattern, &e.input.chars().collect::<Vec<_>>()))
            .collect();
        if unique {
            // Keep the latest occurrence of each input, in history order.
            let mut seen = std::collections::HashSet::new();
            found.reverse();
            found.retain(|e| seen.insert(e.input.as_str()));
            found.reverse();
        }
        last(found, n)
    }
}

fn last(entries: Vec<&Entry>, n: Option<usize>) -> Vec<&Entry> {
    let skip = n.map_or(0, |n| entries.len().saturating_sub(n));
    entries.into_iter().skip(skip).collect()
}

/// Whole-string glob match with `*` (any run) and `?` (one character), as SQLite's GLOB.
fn glob_matches(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|skip| glob_matches(rest, &text[skip..])),
        Some((p, rest)) => match text.split_first() {
            Some((t, text_rest)) if *p == '?' || p == t => glob_matches(rest, text_rest),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> History {
        let mut history = History::default();
        for (line, input) in [(1, "device"), (2, "echo hi"), (3, "device"), (4, "threads")] {
            history.record(line, input, format!("out {line}"));
        }
        history
    }

    fn inputs(reply: &Value) -> Vec<String> {
        reply["history"].as_array().unwrap().iter().map(|e| e[2].to_string()).collect()
    }

    #[test]
    fn tail_range_and_search() {
        let history = sample();
        let tail = history.reply(&json!({"hist_access_type": "tail", "n": 2, "output": false}));
        assert_eq!(inputs(&tail), ["\"device\"", "\"threads\""]);
        assert_eq!(tail["history"][0][1], 3);
        let range = history.reply(&json!({"hist_access_type": "range", "session": 1, "start": 2, "stop": 3}));
        assert_eq!(inputs(&range), ["\"echo hi\""]);
        let other_session = history.reply(&json!({"hist_access_type": "range", "session": 7, "start": 1}));
        assert_eq!(inputs(&other_session).len(), 0);
        let search = history.reply(&json!({"hist_access_type": "search", "pattern": "dev*"}));
        assert_eq!(search["history"].as_array().unwrap().len(), 2);
        let unique = history.reply(&json!({"hist_access_type": "search", "pattern": "*e*", "unique": true}));
        assert_eq!(inputs(&unique), ["\"echo hi\"", "\"device\"", "\"threads\""]);
        let with_output = history.reply(&json!({"hist_access_type": "tail", "n": 1, "output": true}));
        assert_eq!(with_output["history"][0][2], json!(["threads", "out 4"]));
    }

    #[test]
    fn glob_wildcards() {
        let matches = |p: &str, t: &str| glob_matches(&p.chars().collect::<Vec<_>>(), &t.chars().collect::<Vec<_>>());
        assert!(matches("dev*", "device"));
        assert!(matches("d?vice", "device"));
        assert!(!matches("dev", "device"));
        assert!(matches("*", ""));
    }
}
