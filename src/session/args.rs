//! The command language's lexical layer and typed arguments.
//!
//! A command line is `NAME [positional ...] [key=value ...]`. Words split on whitespace; single
//! or double quotes group words (`load "my file.pdb"`), a backslash escapes the next character
//! inside double quotes and outside quotes; a backslash before a newline continues the command
//! on the next line. `;` outside quotes separates commands on one line.
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Splits a line into commands at unquoted `;`, then each command into words.
pub fn split_commands(line: &str) -> Result<Vec<Vec<String>>> {
    let mut commands = Vec::new();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => match chars.next() {
                // A continued line: the backslash-newline separates words outside quotes and
                // vanishes inside them.
                Some('\n') if quote.is_none() => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                Some('\n') => {}
                Some(escaped) => {
                    word.push(escaped);
                    in_word = true;
                }
                None => bail!("the line ends with a lone backslash"),
            },
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, ';') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        bail!("unterminated quote {q} in: {line}");
    }
    if in_word {
        words.push(word);
    }
    if !words.is_empty() {
        commands.push(words);
    }
    Ok(commands)
}

/// Whether the line is complete (no open quote and no trailing backslash): front ends ask
/// for more input otherwise.
pub fn is_complete(line: &str) -> bool {
    let trimmed = line.trim_end();
    if trimmed.ends_with('\\') && !trimmed.ends_with("\\\\") {
        return false;
    }
    !matches!(split_commands(line), Err(e) if e.to_string().starts_with("unterminated quote"))
}

/// The type of an argument's value, used for validation, help and completion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArgKind {
    /// A file or folder path (completed from the file system).
    Path,
    /// Free text.
    Text,
    /// An integer within `[min, max]`.
    Int { min: i64, max: i64 },
    /// A finite real number within `[min, max]`.
    Float { min: f64, max: f64 },
    /// `true`/`false` (also `on`/`off`, `yes`/`no`, `1`/`0`).
    Bool,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
}

impl ArgKind {
    /// A short description of what values are accepted.
    pub fn describe(&self) -> String {
        match self {
            ArgKind::Path => "path".into(),
            ArgKind::Text => "text".into(),
            ArgKind::Int { min, max } if *max == i64::MAX => format!("integer ≥ {min}"),
            ArgKind::Int { min, max } => format!("integer {min}..={max}"),
            ArgKind::Float { min, max } if max.is_infinite() => format!("number ≥ {min}"),
            ArgKind::Float { min, max } => format!("number {min}..={max}"),
            ArgKind::Bool => "true|false".into(),
            ArgKind::Choice(words) => words.join("|"),
        }
    }

    fn parse(&self, key: &str, raw: &str) -> Result<Value> {
        let value = match self {
            ArgKind::Path => Value::Path(PathBuf::from(raw)),
            ArgKind::Text => Value::Text(raw.to_string()),
            ArgKind::Int { min, max } => match raw.parse::<i64>() {
                Ok(n) if n >= *min && n <= *max => Value::Int(n),
                _ => bail!("{key}={raw}: expected {}", self.describe()),
            },
            ArgKind::Float { min, max } => match raw.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= *min && x <= *max => Value::Float(x),
                _ => bail!("{key}={raw}: expected {}", self.describe()),
            },
            ArgKind::Bool => match raw.to_ascii_lowercase().as_str() {
                "true" | "on" | "yes" | "1" => Value::Bool(true),
                "false" | "off" | "no" | "0" => Value::Bool(false),
                _ => bail!("{key}={raw}: expected true or false"),
            },
            ArgKind::Choice(words) => match words.iter().find(|w| w.eq_ignore_ascii_case(raw)) {
                Some(word) => Value::Text((*word).to_string()),
                None => bail!("{key}={raw}: expected one of {}", words.join(", ")),
            },
        };
        Ok(value)
    }
}

/// One argument of a command.
#[derive(Debug, Clone, Copy)]
pub struct ArgSpec {
    pub name: &'static str,
    pub kind: ArgKind,
    /// Given by position (in declaration order) rather than as `name=value`; it may also be
    /// given as `name=value`.
    pub positional: bool,
    pub required: bool,
    pub help: &'static str,
}

/// A parsed argument value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Path(PathBuf),
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Validated arguments of one command invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args {
    values: BTreeMap<&'static str, Value>,
}

impl Args {
    /// Binds `words` (after the command name) to `specs`: positionals in order, then
    /// `key=value` pairs. Unknown keys, missing required arguments and bad values are errors
    /// that list what is valid.
    pub fn bind(command: &str, specs: &[ArgSpec], words: &[String]) -> Result<Self> {
        let mut values = BTreeMap::new();
        let mut positionals = specs.iter().filter(|s| s.positional);
        for word in words {
            let spec_and_raw = match word.split_once('=') {
                Some((key, raw)) if !key.is_empty() && !key.contains(['/', '.']) => {
                    match specs.iter().find(|s| s.name == key) {
                        Some(spec) => (spec, raw),
                        None => bail!(
                            "{command}: unknown key '{key}'; valid keys: {}",
                            specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                        ),
                    }
                }
                _ => match positionals.by_ref().find(|s| !values.contains_key(s.name)) {
                    Some(spec) => (spec, word.as_str()),
                    None => bail!("{command}: unexpected argument '{word}' (see `help {command}`)"),
                },
            };
            let (spec, raw) = spec_and_raw;
            if values.insert(spec.name, spec.kind.parse(spec.name, raw)?).is_some() {
                bail!("{command}: '{}' given twice", spec.name);
            }
        }
        if let Some(missing) = specs.iter().find(|s| s.required && !values.contains_key(s.name)) {
            bail!(
                "{command}: missing argument '{}' ({}): {}",
                missing.name,
                missing.kind.describe(),
                missing.help
            );
        }
        Ok(Self { values })
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }

    pub fn path(&self, name: &str) -> Option<&std::path::Path> {
        match self.values.get(name) {
            Some(Value::Path(p)) => Some(p),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(Value::Int(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn float(&self, name: &str) -> Option<f64> {
        match self.values.get(name) {
            Some(Value::Float(x)) => Some(*x),
            Some(Value::Int(n)) => Some(*n as f64),
            _ => None,
        }
    }

    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[ArgSpec] = &[
        ArgSpec { name: "file", kind: ArgKind::Path, positional: true, required: true, help: "input" },
        ArgSpec { name: "kind", kind: ArgKind::Choice(&["pdb", "cif"]), positional: false, required: false, help: "format" },
        ArgSpec { name: "n", kind: ArgKind::Int { min: 1, max: 10 }, positional: false, required: false, help: "count" },
    ];

    #[test]
    fn splits_quotes_escapes_and_semicolons() {
        let parsed = split_commands(r#"load "my file.pdb" kind=pdb; show 'a b'\ c;; echo x\;y"#).unwrap();
        assert_eq!(
            parsed,
            vec![
                vec!["load".to_string(), "my file.pdb".into(), "kind=pdb".into()],
                vec!["show".to_string(), "a b c".into()],
                vec!["echo".to_string(), "x;y".into()],
            ]
        );
        assert_eq!(
            split_commands("data crop_size=64 \\\nseed=3; echo \"a\\\nb\"").unwrap(),
            vec![
                vec!["data".to_string(), "crop_size=64".into(), "seed=3".into()],
                vec!["echo".to_string(), "ab".into()],
            ]
        );
        assert!(split_commands("echo \"open").unwrap_err().to_string().contains("unterminated quote"));
        assert!(!is_complete("echo \"open"));
        assert!(!is_complete("train step 3 \\"));
        assert!(is_complete("echo done"));
    }

    #[test]
    fn binds_positionals_and_keys_with_validation() {
        let words: Vec<String> = ["a.pdb", "n=3", "kind=CIF"].iter().map(|s| s.to_string()).collect();
        let args = Args::bind("load", SPECS, &words).unwrap();
        assert_eq!(args.path("file").unwrap(), std::path::Path::new("a.pdb"));
        assert_eq!(args.int("n"), Some(3));
        assert_eq!(args.text("kind"), Some("cif"));

        let err = |words: &[&str]| {
            let words: Vec<String> = words.iter().map(|s| s.to_string()).collect();
            Args::bind("load", SPECS, &words).unwrap_err().to_string()
        };
        assert!(err(&["a", "colour=red"]).contains("unknown key 'colour'; valid keys: file, kind, n"));
        assert!(err(&["a", "n=11"]).contains("n=11: expected integer 1..=10"));
        assert!(err(&["a", "kind=xyz"]).contains("expected one of pdb, cif"));
        assert!(err(&[]).contains("missing argument 'file'"));
        assert!(err(&["a", "b"]).contains("unexpected argument 'b'"));
    }
}
