//! What a command produces: typed values that each front end renders its own way (the REPL
//! prints text, the Jupyter kernel sends MIME bundles).
use serde::Serialize;

/// One piece of command output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    /// Plain text, printed as is.
    Text(String),
    /// A table with a header row; rendered aligned in terminals and as HTML in notebooks.
    Table { headers: Vec<String>, rows: Vec<Vec<String>> },
    /// A picture: SVG and/or PNG bytes, with a text fallback; `path` when it was written to a file.
    Image {
        title: String,
        svg: Option<String>,
        #[serde(skip)]
        png: Option<Vec<u8>>,
        path: Option<String>,
    },
    /// Something the user should notice that did not stop the command.
    Warning(String),
    /// Text meant for the error stream (shown as stderr by every front end).
    Stderr(String),
    /// How far a long command has got: `done` of `total` steps of `label`. Reports of one
    /// command invocation share `id`; front ends update one display per id. `metrics` are the
    /// step's numbers by name (training: `step`, `loss` and each loss term), for front ends
    /// that plot them as they come.
    Progress { id: String, label: String, done: u64, total: u64, message: String, metrics: Vec<(String, f64)> },
}

impl Output {
    /// A table from string-like cells.
    pub fn table<H: ToString, C: ToString>(headers: &[H], rows: Vec<Vec<C>>) -> Self {
        Output::Table {
            headers: headers.iter().map(ToString::to_string).collect(),
            rows: rows
                .into_iter()
                .map(|row| row.into_iter().map(|c| c.to_string()).collect())
                .collect(),
        }
    }

    /// The `text/plain` rendering.
    pub fn to_text(&self) -> String {
        match self {
            Output::Text(text) => text.clone(),
            Output::Warning(text) => format!("warning: {text}"),
            Output::Stderr(text) => text.clone(),
            Output::Progress { label, done, total, message, .. } if message.is_empty() => {
                format!("{label}: {done}/{total}")
            }
            Output::Progress { label, done, total, message, .. } => format!("{label}: {done}/{total} {message}"),
            Output::Table { headers, rows } => render_table(headers, rows),
            Output::Image { title, path, .. } => match path {
                Some(path) => format!("[{title}: {path}]"),
                None => format!("[{title}]"),
            },
        }
    }

    /// The `text/html` rendering (tables as HTML, everything else escaped text).
    pub fn to_html(&self) -> String {
        match self {
            Output::Table { headers, rows } => {
                let mut html = String::from("<table><thead><tr>");
                for h in headers {
                    html.push_str(&format!("<th>{}</th>", escape_html(h)));
                }
                html.push_str("</tr></thead><tbody>");
                for row in rows {
                    html.push_str("<tr>");
                    for cell in row {
                        html.push_str(&format!("<td>{}</td>", escape_html(cell)));
                    }
                    html.push_str("</tr>");
                }
                html.push_str("</tbody></table>");
                html
            }
            Output::Progress { done, total, .. } => {
                format!("<progress value=\"{done}\" max=\"{total}\"></progress> {}", escape_html(&self.to_text()))
            }
            other => format!("<pre>{}</pre>", escape_html(&other.to_text())),
        }
    }
}

fn render_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let columns = headers.len().max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let mut widths = vec![0usize; columns];
    for row in std::iter::once(headers).chain(rows.iter().map(Vec::as_slice)) {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |row: &[String]| {
        let cells: Vec<String> = (0..columns)
            .map(|i| {
                let cell = row.get(i).map(String::as_str).unwrap_or("");
                format!("{cell:<width$}", width = widths[i])
            })
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(headers)];
    out.push(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
    out.extend(rows.iter().map(|r| line(r)));
    out.join("\n")
}

/// Escapes `&`, `<`, `>` and quotes for HTML text and attributes.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_in_text_and_escape_in_html() {
        let table = Output::table(&["name", "value"], vec![vec!["a", "1"], vec!["long<name>", "22"]]);
        assert_eq!(
            table.to_text(),
            "name        value\n----------  -----\na           1\nlong<name>  22"
        );
        assert!(table.to_html().contains("<td>long&lt;name&gt;</td>"));
    }
}
