//! Completion and suggestions, generated from the command table: command names, argument
//! keys (`key=`), choice values, and file paths for path arguments.
use super::args::ArgKind;
use super::table::{self, COMMANDS};
use std::path::Path;

/// Candidates for the word that ends at `cursor`; returns the byte offset where that word
/// starts and the replacements for it.
pub fn complete(line: &str, cursor: usize) -> (usize, Vec<String>) {
    let cursor = cursor.min(line.len());
    let before = line.get(..cursor).unwrap_or(line);
    let command_start = before.rfind(';').map_or(0, |i| i + 1);
    let segment = &before[command_start..];
    let word_start = segment.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let word = &segment[word_start..];
    let start = command_start + word_start;
    let mut words = segment[..word_start].split_whitespace();
    let Some(command_name) = words.next() else {
        return (start, prefixed(COMMANDS.iter().map(|c| c.name), word));
    };
    let Some(command) = table::find(command_name) else {
        return (start, Vec::new());
    };
    if let Some((key, value)) = word.split_once('=') {
        let Some(arg) = command.args.iter().find(|a| a.name == key) else {
            return (start, Vec::new());
        };
        let value_start = start + key.len() + 1;
        return (value_start, complete_value(arg.kind, value));
    }
    let given = words.count();
    let positional = command.args.iter().filter(|a| a.positional).nth(given);
    let mut candidates = positional.map_or_else(Vec::new, |arg| complete_value(arg.kind, word));
    candidates.extend(prefixed(
        command.args.iter().filter(|a| !a.positional).map(|a| a.name),
        word,
    )
    .into_iter()
    .map(|key| format!("{key}=")));
    (start, candidates)
}

fn complete_value(kind: ArgKind, partial: &str) -> Vec<String> {
    match kind {
        ArgKind::Choice(words) => prefixed(words.iter().copied(), partial),
        ArgKind::Bool => prefixed(["true", "false"].into_iter(), partial),
        ArgKind::Path => complete_path(partial),
        ArgKind::Text if partial.is_empty() => Vec::new(),
        ArgKind::Text => prefixed(COMMANDS.iter().map(|c| c.name), partial),
        ArgKind::Int { .. } | ArgKind::Float { .. } => Vec::new(),
    }
}

fn prefixed<'a>(names: impl Iterator<Item = &'a str>, prefix: &str) -> Vec<String> {
    names.filter(|n| n.starts_with(prefix)).map(str::to_string).collect()
}

/// Entries of the folder named by `partial`'s directory part that start with its file part;
/// folders get a trailing `/`.
fn complete_path(partial: &str) -> Vec<String> {
    let (dir, file_prefix) = match partial.rfind('/') {
        Some(i) => (&partial[..=i], &partial[i + 1..]),
        None => ("", partial),
    };
    let folder = if dir.is_empty() { Path::new(".") } else { Path::new(dir) };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut found: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            if !name.starts_with(file_prefix) || (name.starts_with('.') && !file_prefix.starts_with('.')) {
                return None;
            }
            let suffix = if entry.file_type().ok()?.is_dir() { "/" } else { "" };
            Some(format!("{dir}{name}{suffix}"))
        })
        .collect();
    found.sort();
    found
}

/// The command whose name is closest to `name` (edit distance ≤ 2), for "did you mean".
pub fn closest_command(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .map(|c| (edit_distance(name, c.name), c.name))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous_diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous_diagonal + usize::from(ca != *cb);
            previous_diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_commands_keys_and_choices() {
        assert_eq!(complete("he", 2), (0, vec!["help".to_string()]));
        assert_eq!(complete("echo hi st", 10), (8, vec!["stream=".to_string()]));
        assert_eq!(complete("echo hi stream=std", 18), (15, vec!["stdout".to_string(), "stderr".to_string()]));
        assert_eq!(complete("echo a; hi", 10), (8, vec!["history".to_string()]));
    }

    #[test]
    fn completes_paths_from_the_file_system() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("models")).unwrap();
        std::fs::write(dir.path().join("model.pdb"), "").unwrap();
        let partial = format!("{}/mod", dir.path().display());
        let found = complete_path(&partial);
        let root = dir.path().display();
        assert_eq!(found, vec![format!("{root}/model.pdb"), format!("{root}/models/")]);
    }

    #[test]
    fn edit_distance_matches_hand_counts() {
        assert_eq!(edit_distance("hepl", "help"), 2);
        assert_eq!(edit_distance("echo", "echo"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(closest_command("histroy"), Some("history"));
        assert_eq!(closest_command("zzzzzz"), None);
    }
}
