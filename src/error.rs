//! Located diagnostics: every user-facing load error carries a [`Span`]
//! (file:line:col) and is rendered with the source line and a caret.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

/// A location in a source file. `line` and `col` are 1-based; `len` is the
/// number of characters to underline (at least one caret is drawn).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: Arc<str>,
    pub line: usize,
    pub col: usize,
    pub len: usize,
}

impl Span {
    pub fn new(file: Arc<str>, line: usize, col: usize, len: usize) -> Span {
        Span {
            file,
            line,
            col,
            len,
        }
    }

    /// A span that points at a whole file rather than a place in it.
    pub fn file_only(file: &str) -> Span {
        Span {
            file: Arc::from(file),
            line: 0,
            col: 0,
            len: 0,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.col)
        }
    }
}

/// Source texts seen by the loaders, so diagnostics can quote the offending
/// line even for text that never lived in a file (`-e` values).
fn sources() -> &'static Mutex<HashMap<Arc<str>, Arc<str>>> {
    static SOURCES: OnceLock<Mutex<HashMap<Arc<str>, Arc<str>>>> = OnceLock::new();
    SOURCES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Remember the text of `file` for later snippets.
pub fn register_source(file: &Arc<str>, text: &str) {
    if let Ok(mut map) = sources().lock() {
        map.insert(file.clone(), Arc::from(text));
    }
}

fn source_line(file: &Arc<str>, line: usize) -> Option<String> {
    let text = sources().lock().ok()?.get(file).cloned()?;
    text.lines().nth(line.checked_sub(1)?).map(str::to_owned)
}

/// One problem found in user input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Option<Span>,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(span: Option<Span>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn at(span: &Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Some(span.clone()), message)
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a "did you mean" hint when `name` is close to one of `candidates`.
    pub fn suggest<'a>(self, name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        match did_you_mean(name, candidates) {
            Some(s) => self.with_help(format!("did you mean `{s}`?")),
            None => self,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        if let Some(span) = &self.span {
            let snippet = if span.line > 0 {
                source_line(&span.file, span.line)
            } else {
                None
            };
            match snippet {
                Some(text) => {
                    let num = span.line.to_string();
                    let pad = " ".repeat(num.len());
                    writeln!(f, "{pad}--> {span}")?;
                    writeln!(f, "{pad} |")?;
                    writeln!(f, "{num} | {}", text.trim_end())?;
                    let lead: String = text
                        .chars()
                        .take(span.col.saturating_sub(1))
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect();
                    let carets = "^".repeat(span.len.max(1));
                    writeln!(f, "{pad} | {lead}{carets}")?;
                }
                None => writeln!(f, "  --> {span}")?,
            }
        }
        if let Some(help) = &self.help {
            writeln!(f, "  = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// All problems found by one loading stage.
#[derive(Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }
    /// `Ok(v)` when nothing was reported, else every diagnostic.
    pub fn into_result<T>(self, v: T) -> Result<T, Vec<Diagnostic>> {
        if self.0.is_empty() {
            Ok(v)
        } else {
            Err(self.0)
        }
    }
}

/// The closest candidate to `name`, if one is close enough to be a typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let score = strsim::jaro_winkler(name, c);
        let dist = strsim::levenshtein(name, c);
        let close = score >= 0.85 || (dist <= 2 && dist < name.len().max(c.len()));
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let names = ["when", "register", "notify", "loop"];
        assert_eq!(did_you_mean("wehn", names), Some("when"));
        assert_eq!(did_you_mean("registr", names), Some("register"));
        assert_eq!(did_you_mean("banana", names), None);
    }

    #[test]
    fn renders_snippet_with_caret() {
        let file: Arc<str> = Arc::from("play.yml");
        register_source(&file, "- hosts: all\n  taskz:\n");
        let d = Diagnostic::at(&Span::new(file, 2, 3, 5), "unknown play keyword `taskz`")
            .suggest("taskz", ["tasks", "vars"]);
        let text = d.to_string();
        assert_eq!(
            text,
            "error: unknown play keyword `taskz`\n --> play.yml:2:3\n  |\n2 |   taskz:\n  |   ^^^^^\n  = help: did you mean `tasks`?\n"
        );
    }
}
