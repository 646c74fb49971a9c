//! The one command table: every command's name, arguments, help and handler. The parser,
//! `help`, completion and `docs/commands.md` are all generated from it.
use super::args::{ArgKind, ArgSpec, Args};
use super::commands;
use super::output::Output;
use super::Session;
use anyhow::Result;

/// A command of the language.
pub struct CommandSpec {
    pub name: &'static str,
    /// One line for `help`'s list.
    pub summary: &'static str,
    /// Paragraphs for `help NAME` and the docs.
    pub details: &'static str,
    pub args: &'static [ArgSpec],
    pub examples: &'static [&'static str],
    pub run: fn(&mut Session, &Args) -> Result<Vec<Output>>,
}

impl CommandSpec {
    /// `name <positional> [key=value] ...` as shown in help.
    pub fn usage(&self) -> String {
        let mut parts = vec![self.name.to_string()];
        for arg in self.args {
            let shown = if arg.positional {
                format!("<{}>", arg.name)
            } else {
                format!("{}=<{}>", arg.name, arg.kind.describe())
            };
            parts.push(if arg.required { shown } else { format!("[{shown}]") });
        }
        parts.join(" ")
    }

    /// The full help text of this command.
    pub fn help_text(&self) -> String {
        let mut text = format!("{}\n  {}\n", self.usage(), self.summary);
        if !self.details.is_empty() {
            text.push('\n');
            for line in self.details.lines() {
                text.push_str(&format!("  {line}\n"));
            }
        }
        if !self.args.is_empty() {
            text.push_str("\narguments:\n");
            for arg in self.args {
                let required = if arg.required { ", required" } else { "" };
                text.push_str(&format!(
                    "  {:<12} {} ({}{})\n",
                    arg.name,
                    arg.help,
                    arg.kind.describe(),
                    required
                ));
            }
        }
        if !self.examples.is_empty() {
            text.push_str("\nexamples:\n");
            for example in self.examples {
                text.push_str(&format!("  {example}\n"));
            }
        }
        text.trim_end().to_string()
    }
}

/// Finds a command by exact name.
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// The Markdown reference of every command (`docs/commands.md`).
pub fn markdown_reference() -> String {
    let mut md = String::from(
        "# Command reference\n\nGenerated from the command table (`src/session/table.rs`); a test keeps it \
         current. The REPL, batch mode (`helixfold run`, \
         `helixfold -c`) and the Jupyter kernel all accept these commands. Arguments are \
         positional or `key=value`; quote paths with spaces; `;` separates commands.\n",
    );
    for command in COMMANDS {
        md.push_str(&format!("\n## `{}`\n\n{}\n\n```text\n{}\n```\n", command.name, command.summary, command.help_text()));
    }
    md
}

const fn flag(name: &'static str, help: &'static str) -> ArgSpec {
    ArgSpec { name, kind: ArgKind::Bool, positional: false, required: false, help }
}

/// Every command, in the order `help` lists them.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "help",
        summary: "List the commands, or show one command's arguments and examples.",
        details: "",
        args: &[ArgSpec {
            name: "command",
            kind: ArgKind::Text,
            positional: true,
            required: false,
            help: "the command to describe",
        }],
        examples: &["help", "help load"],
        run: commands::general::help,
    },
    CommandSpec {
        name: "echo",
        summary: "Print text (to stdout, or to stderr with stream=stderr).",
        details: "Useful in scripts to label output.",
        args: &[
            ArgSpec { name: "text", kind: ArgKind::Text, positional: true, required: true, help: "what to print" },
            ArgSpec {
                name: "stream",
                kind: ArgKind::Choice(&["stdout", "stderr"]),
                positional: false,
                required: false,
                help: "where to print",
            },
        ],
        examples: &["echo \"hello, world\"", "echo oops stream=stderr"],
        run: commands::general::echo,
    },
    CommandSpec {
        name: "device",
        summary: "Show or set the compute device (cpu, cuda, cuda:N).",
        details: "CUDA needs a GPU and the full libtorch (TORCH_VARIANT=cuda); the session keeps its device when the switch fails.",
        args: &[ArgSpec { name: "name", kind: ArgKind::Text, positional: true, required: false, help: "cpu, cuda or cuda:N" }],
        examples: &["device", "device cpu"],
        run: commands::general::device,
    },
    CommandSpec {
        name: "threads",
        summary: "Show or set the number of CPU threads libtorch uses.",
        details: "",
        args: &[ArgSpec {
            name: "count",
            kind: ArgKind::Int { min: 1, max: 1024 },
            positional: true,
            required: false,
            help: "intra-op threads",
        }],
        examples: &["threads", "threads 2"],
        run: commands::general::threads,
    },
    CommandSpec {
        name: "history",
        summary: "Show the commands run in this session.",
        details: "",
        args: &[ArgSpec {
            name: "last",
            kind: ArgKind::Int { min: 1, max: i64::MAX },
            positional: true,
            required: false,
            help: "show only the last N",
        }],
        examples: &["history", "history 5"],
        run: commands::general::history,
    },
    CommandSpec {
        name: "reset",
        summary: "Forget loaded data, model and outputs (device and thread settings stay).",
        details: "",
        args: &[flag("history", "also clear the command history")],
        examples: &["reset", "reset history=true"],
        run: commands::general::reset,
    },
    CommandSpec {
        name: "sleep",
        summary: "Wait a number of seconds (stops early, with an error, when interrupted).",
        details: "Paces scripts and demonstrates interruption: Ctrl-C in the REPL or Interrupt in Jupyter ends it.",
        args: &[ArgSpec {
            name: "seconds",
            kind: ArgKind::Float { min: 0.0, max: 86400.0 },
            positional: true,
            required: true,
            help: "how long to wait",
        }],
        examples: &["sleep 0.5"],
        run: commands::general::sleep,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_help_mentions_every_argument() {
        let mut names: Vec<_> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
        for command in COMMANDS {
            let help = command.help_text();
            for arg in command.args {
                assert!(help.contains(arg.name), "help of {} lacks {}", command.name, arg.name);
            }
        }
    }

    #[test]
    fn docs_page_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/commands.md");
        let generated = markdown_reference();
        if std::env::var_os("HELIXFOLD_UPDATE_DOCS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/commands.md is stale: regenerate it with `HELIXFOLD_UPDATE_DOCS=1 cargo test docs_page`"
        );
    }
}
