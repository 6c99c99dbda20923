//! The INI inventory format, as ansible-core's `ini` plugin reads it.
//!
//! * Lines before any section are hosts of `ungrouped`.
//! * `[g]` holds hosts, `[g:children]` group names, `[g:vars]` `k=v` lines.
//! * A host line is split like a POSIX shell (`shlex`, `#` starts a
//!   comment): a host or range pattern (optionally `:port`), then `k=v`.
//! * Values, inline or in `:vars`, go through Python's `literal_eval`
//!   ([`ini_value`](super::literal::ini_value)).
//! * A group named in `[g:children]` must be declared somewhere in the file
//!   by a `[child]` or `[child:children]` section, and `[g:vars]` needs `g`
//!   to be declared; otherwise it is an error, as in Ansible.
//! * Lines starting with `#` or `;` are comments.

use std::sync::{Arc, OnceLock};

use indexmap::IndexMap;
use minijinja::Value;
use regex::Regex;

use crate::error::{Diagnostic, Span};

use super::addr::expand_hostpattern;
use super::literal::ini_value;
use super::{Inventory, SourceCtx};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Hosts,
    Children,
    Vars,
    /// After a broken section header: ignore lines until the next section.
    Skip,
}

/// A reference that must be resolved by a later declaration.
struct Pending {
    state: State,
    span: Span,
    parents: Vec<String>,
}

fn section_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").expect("static regex"))
}

fn groupname_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"^([^:\]\s]+)\s*(?:#.*)?$").expect("static regex"))
}

/// A token of a host line and the character column where it starts.
#[derive(Debug, PartialEq)]
pub(super) struct Token {
    pub text: String,
    pub col: usize,
}

/// Python's `shlex.split(line, comments=True)` (POSIX mode), keeping the
/// 0-based character offset of each token. Errors carry the offset too.
pub(super) fn shlex_split(line: &str) -> Result<Vec<Token>, (String, usize)> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut start: Option<usize> = None;
    let mut i = 0;
    let ws = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    while i < chars.len() {
        let c = chars[i];
        if ws(c) {
            if let Some(s) = start.take() {
                tokens.push(Token {
                    text: std::mem::take(&mut cur),
                    col: s,
                });
            }
            i += 1;
            continue;
        }
        if c == '#' {
            break;
        }
        if start.is_none() {
            start = Some(i);
        }
        match c {
            '\'' => {
                let open = i;
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(("No closing quotation".into(), open)),
                        Some('\'') => break,
                        Some(ch) => cur.push(*ch),
                    }
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                let open = i;
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(("No closing quotation".into(), open)),
                        Some('"') => break,
                        Some('\\') => {
                            let Some(next) = chars.get(i + 1) else {
                                return Err(("No closing quotation".into(), open));
                            };
                            if !matches!(next, '"' | '\\') {
                                cur.push('\\');
                            }
                            cur.push(*next);
                            i += 1;
                        }
                        Some(ch) => cur.push(*ch),
                    }
                    i += 1;
                }
                i += 1;
            }
            '\\' => {
                let Some(next) = chars.get(i + 1) else {
                    return Err(("No escaped character".into(), i));
                };
                cur.push(*next);
                i += 2;
            }
            _ => {
                cur.push(c);
                i += 1;
            }
        }
    }
    if let Some(s) = start {
        tokens.push(Token { text: cur, col: s });
    }
    Ok(tokens)
}

/// Parses INI inventory text into `inv`, reporting every problem.
pub(super) fn parse(
    inv: &mut Inventory,
    text: &str,
    file: &Arc<str>,
    ctx: &SourceCtx,
    diags: &mut Vec<Diagnostic>,
) {
    let mut group = "ungrouped".to_string();
    let mut state = State::Hosts;
    let mut pending: IndexMap<String, Pending> = IndexMap::new();

    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        // 1-based column of the first character of `line` in `raw`.
        let base = raw[..raw.len() - raw.trim_start().len()].chars().count() + 1;
        let span =
            |col0: usize, len: usize| Span::new(file.clone(), lineno, base + col0, len.max(1));
        let whole = span(0, line.chars().count());

        if let Some(c) = section_re().captures(line) {
            let name = c[1].to_string();
            let kind = c.get(2).map(|m| m.as_str());
            let new_state = match kind {
                None | Some("hosts") => State::Hosts,
                Some("children") => State::Children,
                Some("vars") => State::Vars,
                Some(other) => {
                    let m = c.get(2).expect("matched");
                    let col0 = line[..m.start()].chars().count();
                    diags.push(
                        Diagnostic::at(
                            &span(col0, other.chars().count()),
                            format!("Section [{name}:{other}] has unknown type: {other}"),
                        )
                        .suggest(other, ["hosts", "children", "vars"])
                        .with_help_if_none(
                            "a section is `[group]`, `[group:children]` or `[group:vars]`",
                        ),
                    );
                    state = State::Skip;
                    continue;
                }
            };
            group = name;
            state = new_state;
            if !inv.groups.contains_key(&group) {
                if state == State::Vars && !pending.contains_key(&group) {
                    let col0 = 1;
                    pending.insert(
                        group.clone(),
                        Pending {
                            state,
                            span: span(col0, group.chars().count()),
                            parents: Vec::new(),
                        },
                    );
                }
                inv.add_group(&group);
            }
            if state != State::Vars
                && let Some(p) = pending.get(&group)
            {
                match p.state {
                    State::Children => add_pending_children(inv, &group, &mut pending, diags),
                    _ => {
                        pending.shift_remove(&group);
                    }
                }
            }
            continue;
        } else if line.starts_with('[') && line.ends_with(']') {
            diags.push(
                Diagnostic::at(&whole, format!("Invalid section entry: '{line}'"))
                    .with_help("make sure the section name has no spaces or other invalid characters: `[group]`, `[group:children]` or `[group:vars]`"),
            );
            state = State::Skip;
            continue;
        }

        match state {
            State::Skip => {}
            State::Hosts => host_line(inv, line, &group, ctx, &span, diags),
            State::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    diags.push(
                        Diagnostic::at(&whole, format!("Expected key=value, got: {line}"))
                            .with_help(format!(
                                "lines in a `[{group}:vars]` section are `name=value`"
                            )),
                    );
                    continue;
                };
                let key = k.trim();
                if key.is_empty() {
                    diags.push(Diagnostic::at(
                        &whole,
                        format!("missing variable name before `=` in: {line}"),
                    ));
                    continue;
                }
                let eq = k.chars().count();
                let lead = v.chars().count() - v.trim_start().chars().count();
                let value_span = span(eq + 1 + lead, v.trim().chars().count());
                let key_lead = k.chars().count() - k.trim_start().chars().count();
                let key_span = span(key_lead, key.chars().count());
                let value = ini_value(v.trim());
                if let Err(e) = inv.set_group_var(&group, key.to_string(), value, Some(key_span)) {
                    diags.push(Diagnostic::at(&value_span, e));
                }
            }
            State::Children => {
                let Some(c) = groupname_re().captures(line) else {
                    diags.push(
                        Diagnostic::at(&whole, format!("Expected group name, got: {line}"))
                            .with_help(format!("lines in a `[{group}:children]` section are group names, one per line")),
                    );
                    continue;
                };
                let child = c[1].to_string();
                let child_span = span(0, child.chars().count());
                if inv.groups.contains_key(&child) {
                    if let Err(e) = inv.add_child(&group, &child) {
                        diags.push(Diagnostic::at(&child_span, e));
                    }
                } else {
                    match pending.get_mut(&child) {
                        Some(p) => p.parents.push(group.clone()),
                        None => {
                            pending.insert(
                                child,
                                Pending {
                                    state: State::Children,
                                    span: child_span,
                                    parents: vec![group.clone()],
                                },
                            );
                        }
                    }
                }
            }
        }
    }

    for (name, p) in pending {
        let known: Vec<String> = inv.groups.keys().cloned().collect();
        let d = match p.state {
            State::Vars => Diagnostic::at(
                &p.span,
                format!("Section [{name}:vars] not valid for undefined group '{name}'"),
            )
            .with_help(format!(
                "declare the group with a `[{name}]` or `[{name}:children]` section"
            )),
            _ => {
                let parent = p.parents.last().cloned().unwrap_or_default();
                let d = Diagnostic::at(
                    &p.span,
                    format!("Section [{parent}:children] includes undefined group '{name}'"),
                )
                .suggest(&name, known.iter().map(String::as_str));
                if d.help.is_none() {
                    d.with_help(format!(
                        "declare it with a `[{name}]` section (it may be empty)"
                    ))
                } else {
                    d
                }
            }
        };
        diags.push(d);
    }
}

/// ansible-core's `_add_pending_children`.
fn add_pending_children(
    inv: &mut Inventory,
    group: &str,
    pending: &mut IndexMap<String, Pending>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut work = vec![group.to_string()];
    while let Some(g) = work.pop() {
        let Some(p) = pending.shift_remove(&g) else {
            continue;
        };
        for parent in &p.parents {
            if let Err(e) = inv.add_child(parent, &g) {
                diags.push(Diagnostic::at(&p.span, e));
            }
            if pending
                .get(parent)
                .is_some_and(|pp| pp.state == State::Children)
            {
                work.push(parent.clone());
            }
        }
    }
}

fn host_line(
    inv: &mut Inventory,
    line: &str,
    group: &str,
    ctx: &SourceCtx,
    span: &dyn Fn(usize, usize) -> Span,
    diags: &mut Vec<Diagnostic>,
) {
    let tokens = match shlex_split(line) {
        Ok(t) => t,
        Err((msg, col0)) => {
            diags.push(Diagnostic::at(
                &span(col0, 1),
                format!("Error parsing host definition '{line}': {msg}"),
            ));
            return;
        }
    };
    let Some((first, rest)) = tokens.split_first() else {
        return;
    };
    let host_span = span(first.col, first.text.chars().count());
    let (names, port) = match expand_hostpattern(&first.text) {
        Ok(v) => v,
        Err(e) => {
            diags.push(Diagnostic::at(
                &host_span,
                format!("invalid host pattern '{}': {e}", first.text),
            ));
            return;
        }
    };
    if first.text.trim().ends_with(':') && port.is_none() {
        diags.push(Diagnostic::at(
            &host_span,
            format!(
                "Invalid host pattern '{}' supplied, ending in ':' is not allowed, this character is reserved to provide a port.",
                first.text
            ),
        ));
        return;
    }
    if names.iter().any(|n| n.trim() == "---") {
        diags.push(
            Diagnostic::at(
                &host_span,
                format!("Invalid host pattern '{}' supplied, '---' is normally a sign this is a YAML file.", first.text),
            )
            .with_help("give YAML inventories a `.yml` or `.yaml` extension"),
        );
        return;
    }
    let mut vars: Vec<(String, Value, Span)> = Vec::new();
    let mut ok = true;
    for t in rest {
        let tspan = span(t.col, t.text.chars().count());
        match t.text.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                vars.push((k.to_string(), ini_value(v), span(t.col, k.chars().count())));
            }
            Some(_) => {
                diags.push(Diagnostic::at(
                    &tspan,
                    format!("missing variable name in `{}`", t.text),
                ));
                ok = false;
            }
            None => {
                diags.push(
                    Diagnostic::at(
                        &tspan,
                        format!(
                            "Expected key=value host variable assignment, got: {}",
                            t.text
                        ),
                    )
                    .with_help(
                        "host variables are `name=value`; quote values with spaces: `name=\"a b\"`",
                    ),
                );
                ok = false;
            }
        }
    }
    if !ok {
        return;
    }
    for name in names {
        if let Err(e) = inv.add_host(&name, Some(group), port, ctx, Some(&host_span)) {
            diags.push(Diagnostic::at(&host_span, e));
            continue;
        }
        for (k, v, at) in &vars {
            inv.set_host_var(&name, k.clone(), v.clone(), Some(at.clone()));
        }
    }
}

trait HelpIfNone {
    fn with_help_if_none(self, help: &str) -> Self;
}

impl HelpIfNone for Diagnostic {
    fn with_help_if_none(self, help: &str) -> Self {
        if self.help.is_none() {
            self.with_help(help)
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<(String, usize)> {
        shlex_split(s)
            .unwrap()
            .into_iter()
            .map(|t| (t.text, t.col))
            .collect()
    }

    #[test]
    fn shlex_posix_rules() {
        assert_eq!(
            split("h1 a=1 b=\"x y\" c='q'"),
            [
                ("h1".into(), 0),
                ("a=1".into(), 3),
                ("b=x y".into(), 7),
                ("c=q".into(), 15)
            ]
        );
        assert_eq!(split("h # comment"), [("h".to_string(), 0)]);
        // `#` inside a word ends it and starts a comment, as Python's shlex.
        assert_eq!(
            split("h pw=ab#cd"),
            [("h".to_string(), 0), ("pw=ab".to_string(), 2)]
        );
        assert_eq!(
            split("h pw='ab#cd'"),
            [("h".to_string(), 0), ("pw=ab#cd".to_string(), 2)]
        );
        assert_eq!(
            split(r#"h a="x\"y\z""#),
            [("h".to_string(), 0), (r#"a=x"y\z"#.to_string(), 2)]
        );
        assert_eq!(
            split(r"h a=x\ y"),
            [("h".to_string(), 0), ("a=x y".to_string(), 2)]
        );
        assert_eq!(
            split("h e=''"),
            [("h".to_string(), 0), ("e=".to_string(), 2)]
        );
        assert_eq!(
            shlex_split("h a='x").unwrap_err(),
            ("No closing quotation".to_string(), 4)
        );
    }
}
