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

/// Line ranges of source files that belong to `no_log` tasks, blocks or
/// plays: never quoted in an error's context, whatever Ansible does.
type LineRanges = HashMap<Arc<str>, Vec<(usize, usize)>>;

fn hidden() -> &'static Mutex<LineRanges> {
    static HIDDEN: OnceLock<Mutex<LineRanges>> = OnceLock::new();
    HIDDEN.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Lines `from..=to` of `file` are a `no_log` item's: not to be quoted.
pub fn hide_lines(file: &Arc<str>, from: usize, to: usize) {
    if let Ok(mut map) = hidden().lock() {
        map.entry(file.clone()).or_default().push((from, to));
    }
}

fn is_hidden(file: &Arc<str>, line: usize) -> bool {
    // A poisoned registry hides everything rather than risk a secret.
    hidden().lock().map_or(true, |m| {
        m.get(file)
            .is_some_and(|r| r.iter().any(|(a, b)| (*a..=*b).contains(&line)))
    })
}

fn source_line(file: &Arc<str>, line: usize) -> Option<String> {
    let text = sources().lock().ok()?.get(file).cloned()?;
    text.lines().nth(line.checked_sub(1)?).map(str::to_owned)
}

/// Where a task is, as ansible-core 2.19 shows it under an `[ERROR]:`
/// line (its `SourceContext`): `Origin: FILE:LINE:COL`, an empty line, the
/// target line and up to two lines before it, numbered, and a caret with
/// `column N` under the column. An encrypted (vault) file is not quoted,
/// nor lines of a `no_log` task (see [`hide_lines`]): the context then
/// stops above them, or is left out when the target line is one.
pub fn origin_context(span: &Span) -> String {
    const CONTEXT_LINES: usize = 2;
    const MAX_WIDTH: usize = 120;
    const MARK: &str = "...";
    let path = std::path::absolute(&*span.file)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| span.file.to_string());
    let mut out = format!("Origin: {path}:{}:{}", span.line, span.col);
    if span.line == 0 {
        return out;
    }
    let on_disk = std::fs::read_to_string(&*span.file).ok();
    if on_disk
        .as_deref()
        .is_some_and(|t| t.starts_with("$ANSIBLE_VAULT;"))
    {
        out.push_str("\n\n(source not shown: content encrypted)");
        return out;
    }
    let text = sources()
        .lock()
        .ok()
        .and_then(|m| m.get(&span.file).map(|t| t.to_string()))
        .or(on_disk);
    let Some(text) = text else {
        return out;
    };
    if is_hidden(&span.file, span.line) {
        out.push_str("\n\n(source not shown: no_log)");
        return out;
    }
    let mut first = span.line.saturating_sub(1).saturating_sub(CONTEXT_LINES);
    while is_hidden(&span.file, first + 1) {
        first += 1;
    }
    let lines: Vec<&str> = text.lines().skip(first).take(span.line - first).collect();
    if lines.len() != span.line - first {
        out.push_str("\n\n(source not shown: file truncated)");
        return out;
    }
    let label = span.line.to_string().len();
    let max_len = MAX_WIDTH - label - 1;
    let mut usable = max_len;
    out.push('\n');
    for (i, line) in lines.iter().enumerate() {
        let mut line = line.replace('\t', " ");
        if line.chars().count() > max_len {
            line = line.chars().take(max_len - MARK.len()).collect::<String>() + MARK;
            usable = max_len - MARK.len();
        }
        let num = first + i + 1;
        let sep = if line.is_empty() { "" } else { " " };
        out.push_str(&format!("\n{num:>label$}{sep}{line}"));
    }
    if span.col >= 1 && span.col <= usable {
        let marker = format!("column {}", span.col);
        let idx = span.col - 1;
        let marker = if idx + 2 + marker.len() > max_len {
            format!(
                "{}{marker} ^",
                " ".repeat(idx.saturating_sub(marker.len() + 1))
            )
        } else {
            format!("{}^ {marker}", " ".repeat(idx))
        };
        out.push_str(&format!("\n{} {marker}", " ".repeat(label)));
    }
    out
}

/// At most this many characters of a source line are quoted.
const SNIPPET_WIDTH: usize = 120;

/// The part of `line` to quote, around 1-based column `col`: the whole
/// line when short, else a window with `...` marks where it was cut. Also
/// the column and caret count within the window.
fn snippet_window(line: &str, col: usize, len: usize) -> (String, usize, usize) {
    const MARK: &str = "...";
    // Control characters (a NUL in a binary file) are shown as their
    // Unicode pictures, one column wide like them.
    let printable: String;
    let line = if line.chars().any(|c| c.is_control() && c != '\t') {
        printable = line
            .chars()
            .map(|c| match c {
                '\0'..='\x1f' if c != '\t' => char::from_u32(0x2400 + c as u32).unwrap_or('?'),
                c if c.is_control() && c != '\t' => '\u{fffd}',
                c => c,
            })
            .collect();
        printable.as_str()
    } else {
        line
    };
    let chars = line.chars().count();
    if chars <= SNIPPET_WIDTH {
        return (line.to_owned(), col, len);
    }
    let col = col.clamp(1, chars + 1);
    // Keep some context before the column, the rest after it.
    let start = col.saturating_sub(SNIPPET_WIDTH / 3).max(1) - 1;
    let take = SNIPPET_WIDTH.min(chars - start);
    let mut out = String::new();
    let mut shift = start;
    if start > 0 {
        out.push_str(MARK);
        shift = start.saturating_sub(MARK.len());
    }
    out.extend(line.chars().skip(start).take(take));
    if start + take < chars {
        out.push_str(MARK);
    }
    let new_col = col - shift;
    let room = (start + take + 1).saturating_sub(col).max(1);
    (out, new_col, len.min(room))
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
                    let (shown, col, len) = snippet_window(text.trim_end(), span.col, span.len);
                    writeln!(f, "{num} | {shown}")?;
                    let lead: String = shown
                        .chars()
                        .take(col.saturating_sub(1))
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect();
                    let carets = "^".repeat(len.max(1));
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
    // Nothing this long is a typo of a name (and comparing a 50 MB key
    // with every keyword would take minutes).
    if name.len() > 100 {
        return None;
    }
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

    /// The blocks ansible-core 2.19.14 printed for these files and places.
    #[test]
    fn origin_context_as_ansible_core() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pb.yml");
        let text = "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: fails\n      command: /bin/false\n\n    - name: in block\n      block:\n        - command: /bin/false\n    - name: x\n";
        std::fs::write(&path, text).expect("write");
        let file: Arc<str> = Arc::from(path.to_str().expect("utf-8"));
        let p = path.display();
        assert_eq!(
            origin_context(&Span::new(file.clone(), 4, 7, 1)),
            format!(
                "Origin: {p}:4:7\n\n2   gather_facts: false\n3   tasks:\n4     - name: fails\n        ^ column 7"
            )
        );
        // An empty line has no space after its number; numbers are right
        // aligned to the target's width.
        assert_eq!(
            origin_context(&Span::new(file.clone(), 10, 7, 1)),
            format!(
                "Origin: {p}:10:7\n\n 8       block:\n 9         - command: /bin/false\n10     - name: x\n         ^ column 7"
            )
        );
        assert_eq!(
            origin_context(&Span::new(file.clone(), 7, 7, 1)),
            format!(
                "Origin: {p}:7:7\n\n5       command: /bin/false\n6\n7     - name: in block\n        ^ column 7"
            )
        );
        // Lines of a no_log task are not quoted.
        hide_lines(&file, 5, 5);
        assert_eq!(
            origin_context(&Span::new(file.clone(), 7, 7, 1)),
            format!("Origin: {p}:7:7\n\n6\n7     - name: in block\n        ^ column 7")
        );
        hide_lines(&file, 7, 9);
        assert_eq!(
            origin_context(&Span::new(file.clone(), 7, 7, 1)),
            format!("Origin: {p}:7:7\n\n(source not shown: no_log)")
        );
        std::fs::write(&path, "$ANSIBLE_VAULT;1.1;AES256\n6162\n").expect("write");
        let f2: Arc<str> = Arc::from(format!("{}", p).as_str());
        assert_eq!(
            origin_context(&Span::new(f2, 1, 1, 1)),
            format!("Origin: {p}:1:1\n\n(source not shown: content encrypted)")
        );
    }

    #[test]
    fn long_lines_are_quoted_around_the_column() {
        let line = format!("{}X{}", "a".repeat(1000), "b".repeat(1000));
        let (shown, col, len) = snippet_window(&line, 1001, 5);
        assert!(
            shown.starts_with("...") && shown.ends_with("..."),
            "{shown}"
        );
        assert!(shown.chars().count() <= SNIPPET_WIDTH + 6);
        assert_eq!(shown.chars().nth(col - 1), Some('X'));
        assert_eq!(len, 5);
        // At the start: no leading mark.
        let (shown, col, _) = snippet_window(&line, 1, 1);
        assert_eq!((shown.chars().next(), col), (Some('a'), 1));
        assert!(shown.ends_with("..."));
        // At the very end (past the last character).
        let (shown, col, len) = snippet_window(&line, 2002, 1);
        assert!(shown.starts_with("...") && !shown.ends_with("..."));
        assert_eq!((shown.chars().count() + 1, len), (col, 1));
        // Control characters are shown as pictures.
        assert_eq!(snippet_window("a\0b\tc", 2, 1).0, "a\u{2400}b\tc");
        // Short lines are left alone.
        assert_eq!(snippet_window("abc", 2, 9), ("abc".into(), 2, 9));
    }

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
