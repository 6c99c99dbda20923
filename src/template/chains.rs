//! Chained lookups on undefined values, where Ansible allows them.
//!
//! hoist renders with minijinja's `Strict` undefined, which matches
//! ansible-core 2.19 almost everywhere: comparing, testing the truth of,
//! iterating, printing or filtering an undefined value is an error naming
//! it. The exception is Ansible's chainable undefined: `a.b.c` where `a` (or
//! `a.b`) is undefined is itself undefined rather than an error, so that
//! `a.b.c | default(x)` and `a.b.c is defined` work. `Strict` fails on the
//! attribute lookup already, so before compiling, a lookup chain that is the
//! operand of `is defined`, `is undefined` (also with `not`) or of the
//! `default`/`d` filter is rewritten into a call of a filter that walks the
//! chain and yields undefined at the first missing step:
//! `a.b['c'] | default(1)` becomes `(a | __hoist_chain('b', 'c')) | default(1)`.
//!
//! Only plain chains are rewritten: a name followed by `.attr` and `[expr]`
//! steps, possibly in parentheses. A chain with a call or a slice in it is
//! left alone.

use std::borrow::Cow;

use minijinja::Error;
use minijinja::value::{Rest, Value, ValueKind};

/// Name of the filter that walks a lookup chain.
pub(crate) const CHAIN_FILTER: &str = "__hoist_chain";

/// Operator words: a `[` after them opens a list, a `(` a group.
const KEYWORDS: &[&str] = &["in", "and", "or", "not", "if", "else", "elif", "is"];

/// Constants: never the base of a chain.
const CONSTANTS: &[&str] = &["true", "false", "none", "True", "False", "None"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    Number,
    Str,
    /// An opening bracket; the index of its closing token, if any.
    Open(Option<usize>),
    /// A closing bracket; the index of its opening token, if any.
    Close(Option<usize>),
    Punct,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Tokenizes code from `i` up to the closing delimiter `end` (outside
/// brackets), or to the end when `end` is empty. Returns the tokens and the
/// offset where the code stops (at the delimiter).
fn tokenize(src: &str, mut i: usize, end: &str) -> (Vec<Tok>, usize) {
    let b = src.as_bytes();
    let mut toks: Vec<Tok> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if open.is_empty() && !end.is_empty() {
            let rest = &src[i..];
            let modifier = matches!(c, b'-' | b'+') && rest[1..].starts_with(end);
            if rest.starts_with(end) || modifier {
                return (toks, i);
            }
        }
        let start = i;
        let kind = if c == b'\'' || c == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != c {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            i = (j + 1).min(b.len());
            Kind::Str
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && is_ident_byte(b[i]) {
                i += 1;
            }
            Kind::Ident
        } else if c.is_ascii_digit() {
            let after_dot = toks
                .last()
                .is_some_and(|t| t.kind == Kind::Punct && &src[t.start..t.end] == ".");
            while i < b.len() && (is_ident_byte(b[i]) || (!after_dot && b[i] == b'.')) {
                i += 1;
            }
            Kind::Number
        } else if matches!(c, b'(' | b'[' | b'{') {
            i += 1;
            open.push(toks.len());
            Kind::Open(None)
        } else if matches!(c, b')' | b']' | b'}') {
            i += 1;
            let opener = open.pop();
            if let Some(o) = opener {
                toks[o].kind = Kind::Open(Some(toks.len()));
            }
            Kind::Close(opener)
        } else {
            i += src[i..].chars().next().map_or(1, char::len_utf8);
            Kind::Punct
        };
        toks.push(Tok {
            kind,
            start,
            end: i,
        });
    }
    (toks, b.len())
}

/// One step of a chain.
enum Step {
    /// `.name` (or `.0`, an index).
    Attr(usize),
    /// `[expr]`: the tokens between the brackets.
    Item(usize, usize),
}

/// A chain found before a test or filter: its source range and its
/// replacement.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

fn text<'a>(src: &'a str, t: &Tok) -> &'a str {
    &src[t.start..t.end]
}

/// True when the token ends an operand, so a `[` after it subscripts it and
/// a `(` calls it.
fn ends_operand(src: &str, t: &Tok) -> bool {
    match t.kind {
        Kind::Ident => !KEYWORDS.contains(&text(src, t)),
        Kind::Number | Kind::Str | Kind::Close(_) => true,
        _ => false,
    }
}

/// The chain whose last token is `last`: the index of its first token and
/// its replacement, if it is a plain chain with at least one step.
fn chain_ending_at(src: &str, toks: &[Tok], last: usize) -> Option<(usize, String)> {
    let mut steps: Vec<Step> = Vec::new();
    let mut k = last;
    loop {
        let t = toks[k];
        match t.kind {
            Kind::Close(Some(open)) if text(src, &t) == "]" => {
                if open == 0 || !ends_operand(src, &toks[open - 1]) {
                    return None;
                }
                let inner = &toks[open + 1..k];
                let top_colon = inner.iter().any(|x| text(src, x) == ":");
                if inner.is_empty() || top_colon {
                    return None;
                }
                steps.push(Step::Item(open + 1, k));
                k = open - 1;
            }
            Kind::Close(Some(open)) if text(src, &t) == ")" => {
                // A parenthesized chain as a whole: `(a.b) is defined`.
                if !steps.is_empty()
                    || k == 0
                    || (open > 0 && ends_operand(src, &toks[open - 1]))
                    || open + 1 >= k
                {
                    return None;
                }
                let (first, inner) = chain_ending_at(src, toks, k - 1)?;
                return (first == open + 1).then_some((open, inner));
            }
            Kind::Ident | Kind::Number if k >= 2 && text(src, &toks[k - 1]) == "." => {
                steps.push(Step::Attr(k));
                k -= 2;
            }
            Kind::Ident => {
                let name = text(src, &t);
                let filter_or_test = k > 0 && matches!(text(src, &toks[k - 1]), "|" | "is" | ".");
                let not_a_base = KEYWORDS.contains(&name) || CONSTANTS.contains(&name);
                if steps.is_empty() || not_a_base || filter_or_test {
                    return None;
                }
                steps.reverse();
                let mut args: Vec<String> = Vec::new();
                for step in &steps {
                    args.push(match step {
                        Step::Attr(i) => {
                            let word = text(src, &toks[*i]);
                            if toks[*i].kind == Kind::Number {
                                word.to_owned()
                            } else {
                                format!("'{word}'")
                            }
                        }
                        Step::Item(from, to) => {
                            let inner = &src[toks[*from].start..toks[*to - 1].end];
                            rewrite_code(inner, 0, "").0.into_owned()
                        }
                    });
                }
                return Some((k, format!("({name} | {CHAIN_FILTER}({}))", args.join(", "))));
            }
            _ => return None,
        }
    }
}

/// True when the tokens from `i` on are a test or filter that accepts an
/// undefined operand: `is [not] defined`, `is [not] undefined`,
/// `| default`, `| d`.
fn accepts_undefined(src: &str, toks: &[Tok], i: usize) -> bool {
    let word = |j: usize| toks.get(j).map(|t| text(src, t));
    match word(i) {
        Some("is") => {
            let j = if word(i + 1) == Some("not") {
                i + 2
            } else {
                i + 1
            };
            matches!(word(j), Some("defined" | "undefined"))
        }
        Some("|") => matches!(word(i + 1), Some("default" | "d")),
        _ => false,
    }
}

/// Rewrites the code from `i` up to `end` (see [`tokenize`]); the rewritten
/// code and the offset where it stops.
fn rewrite_code<'a>(src: &'a str, i: usize, end: &str) -> (Cow<'a, str>, usize) {
    let (toks, stop) = tokenize(src, i, end);
    let mut edits: Vec<Edit> = Vec::new();
    for at in 1..toks.len() {
        if !accepts_undefined(src, &toks, at) {
            continue;
        }
        let Some((first, text)) = chain_ending_at(src, &toks, at - 1) else {
            continue;
        };
        let edit = Edit {
            start: toks[first].start,
            end: toks[at - 1].end,
            text,
        };
        // A chain inside this one (in a subscript) was rewritten with it.
        edits.retain(|e| e.start < edit.start || e.end > edit.end);
        edits.push(edit);
    }
    if edits.is_empty() {
        return (Cow::Borrowed(&src[i..stop]), stop);
    }
    let mut out = String::with_capacity(stop - i + 32 * edits.len());
    let mut at = i;
    for e in &edits {
        out.push_str(&src[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&src[at..stop]);
    (Cow::Owned(out), stop)
}

/// Rewrites the chains of a bare expression.
pub(crate) fn rewrite_expression(src: &str) -> Cow<'_, str> {
    if !might_chain(src) {
        return Cow::Borrowed(src);
    }
    rewrite_code(src, 0, "").0
}

/// Rewrites the chains in a template's `{{ … }}` and `{% … %}` tags.
pub(crate) fn rewrite_template(src: &str) -> Cow<'_, str> {
    if !might_chain(src) {
        return Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len() + 32);
    let mut changed = false;
    let mut i = 0;
    while i < src.len() {
        let Some(rel) = super::rewrite::find_tag_start(&src[i..]) else {
            out.push_str(&src[i..]);
            break;
        };
        let start = i + rel;
        out.push_str(&src[i..start]);
        let rest = &src[start..];
        if rest.starts_with("{#") {
            let end = rest.find("#}").map_or(src.len(), |e| start + e + 2);
            out.push_str(&src[start..end]);
            i = end;
        } else if rest.starts_with("{%")
            && let Some(end) = super::rewrite::raw_block_end(rest)
        {
            out.push_str(&rest[..end]);
            i = start + end;
        } else {
            let end = if rest.starts_with("{%") { "%}" } else { "}}" };
            out.push_str(&rest[..2]);
            let (code, stop) = rewrite_code(src, start + 2, end);
            changed |= matches!(code, Cow::Owned(_));
            out.push_str(&code);
            i = stop;
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(src)
    }
}

/// The variables a source looks up with literal steps, in the order they
/// appear: `d.a['b'][0]` is `("d", ["a", "b", 0])`. A step with a computed
/// key ends the chain; a method call drops its name.
pub(crate) fn literal_chains(src: &str) -> Vec<(String, Vec<Value>)> {
    let mut out = Vec::new();
    if src.contains("{{") || src.contains("{%") {
        let mut i = 0;
        while i < src.len() {
            let Some(rel) = super::rewrite::find_tag_start(&src[i..]) else {
                break;
            };
            let start = i + rel;
            let rest = &src[start..];
            if rest.starts_with("{#") {
                i = rest.find("#}").map_or(src.len(), |e| start + e + 2);
            } else if rest.starts_with("{%")
                && let Some(end) = super::rewrite::raw_block_end(rest)
            {
                i = start + end;
            } else {
                let end = if rest.starts_with("{%") { "%}" } else { "}}" };
                let (toks, stop) = tokenize(src, start + 2, end);
                // A block starts with its statement's name (`if`, `endfor`).
                let skip = usize::from(end == "%}");
                collect_chains(src, toks.get(skip..).unwrap_or_default(), &mut out);
                i = stop + end.len();
            }
        }
    } else {
        let (toks, _) = tokenize(src, 0, "");
        collect_chains(src, &toks, &mut out);
    }
    out
}

fn collect_chains(src: &str, toks: &[Tok], out: &mut Vec<(String, Vec<Value>)>) {
    let word = |j: usize| toks.get(j).map(|t| text(src, t));
    for (k, t) in toks.iter().enumerate() {
        let name = text(src, t);
        let after_dot_or_filter = k > 0 && matches!(word(k - 1), Some("." | "|" | "is"));
        let kwarg = word(k + 1) == Some("=");
        if t.kind != Kind::Ident
            || after_dot_or_filter
            || kwarg
            || word(k + 1) == Some("(")
            || KEYWORDS.contains(&name)
            || CONSTANTS.contains(&name)
        {
            continue;
        }
        let mut keys = Vec::new();
        let mut j = k + 1;
        loop {
            match (word(j), toks.get(j + 1), toks.get(j + 2)) {
                (Some("."), Some(n), _) if matches!(n.kind, Kind::Ident | Kind::Number) => {
                    if word(j + 2) == Some("(") {
                        break;
                    }
                    let w = text(src, n);
                    keys.push(match w.parse::<i64>() {
                        Ok(i) => Value::from(i),
                        Err(_) => Value::from(w),
                    });
                    j += 2;
                }
                (Some("["), Some(key), Some(close)) if text(src, close) == "]" => {
                    let lit = text(src, key);
                    let key = match key.kind {
                        Kind::Str if !lit.contains('\\') && lit.len() >= 2 => {
                            Value::from(&lit[1..lit.len() - 1])
                        }
                        Kind::Number => match lit.parse::<i64>() {
                            Ok(i) => Value::from(i),
                            Err(_) => break,
                        },
                        _ => break,
                    };
                    keys.push(key);
                    j += 3;
                }
                _ => break,
            }
        }
        out.push((name.to_owned(), keys));
    }
}

/// A cheap check: is there a test or filter a chain could precede?
fn might_chain(src: &str) -> bool {
    (src.contains("defined") || src.contains('|')) && (src.contains('.') || src.contains('['))
}

/// `base | __hoist_chain(k1, k2, …)`: `base.k1.k2…` with Ansible's
/// chainable undefined: undefined from the first step that is missing on.
pub(crate) fn chain_filter(base: &Value, keys: Rest<Value>) -> Result<Value, Error> {
    let mut cur = base.clone();
    for key in keys.iter() {
        if key.is_undefined() {
            return Err(super::filters::undefined_error(key));
        }
        if cur.is_undefined() {
            continue;
        }
        cur = step(&cur, key);
    }
    Ok(cur)
}

/// One lookup, as Jinja's `a.b` / `a[b]`: the item, else the attribute.
pub(crate) fn step(cur: &Value, key: &Value) -> Value {
    if let Ok(v) = cur.get_item(key)
        && !v.is_undefined()
    {
        return v;
    }
    if key.kind() == ValueKind::String
        && let Some(name) = key.as_str()
        && let Ok(v) = cur.get_attr(name)
    {
        return v;
    }
    Value::UNDEFINED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_before_defined_tests_and_default_are_rewritten() {
        let cases = [
            (
                "nope.x is defined",
                "(nope | __hoist_chain('x')) is defined",
            ),
            (
                "not a.b['c'] is not undefined",
                "not (a | __hoist_chain('b', 'c')) is not undefined",
            ),
            ("a.b | default(1)", "(a | __hoist_chain('b')) | default(1)"),
            ("a.b|d('x')", "(a | __hoist_chain('b'))|d('x')"),
            (
                "(a.b) | default(1)",
                "(a | __hoist_chain('b')) | default(1)",
            ),
            ("l.0.x is defined", "(l | __hoist_chain(0, 'x')) is defined"),
            (
                "a[b.c | default('k')].d | default(1)",
                "(a | __hoist_chain((b | __hoist_chain('c')) | default('k'), 'd')) | default(1)",
            ),
            ("x is defined and x.y == 1", "x is defined and x.y == 1"),
            ("nope is defined", "nope is defined"),
            ("a.b | upper", "a.b | upper"),
            ("a.b() is defined", "a.b() is defined"),
            ("a[1:2] | default([])", "a[1:2] | default([])"),
            ("[1][5] is defined", "[1][5] is defined"),
            ("x | first.y is defined", "x | first.y is defined"),
            ("'a.b' | default(1)", "'a.b' | default(1)"),
        ];
        for (src, want) in cases {
            assert_eq!(rewrite_expression(src), want, "{src}");
        }
        assert_eq!(
            rewrite_template(
                "{{ a.b | default('x') }} a.b is defined {% if c.d is defined %}{% endif %}"
            ),
            "{{ (a | __hoist_chain('b')) | default('x') }} a.b is defined {% if (c | __hoist_chain('d')) is defined %}{% endif %}"
        );
        assert_eq!(
            rewrite_template("{% raw %}{{ a.b | default(1) }}{% endraw %}{# a.b | d #}"),
            "{% raw %}{{ a.b | default(1) }}{% endraw %}{# a.b | d #}"
        );
    }

    #[test]
    fn literal_chains_in_order() {
        let got =
            literal_chains("x.a['b'][0] == y and z[k].c and lookup('env', 'H') and f(default=w)");
        let want = vec![
            (
                "x".to_owned(),
                vec![Value::from("a"), Value::from("b"), Value::from(0)],
            ),
            ("y".to_owned(), vec![]),
            ("z".to_owned(), vec![]),
            ("k".to_owned(), vec![]),
            ("w".to_owned(), vec![]),
        ];
        assert_eq!(got, want);
        let got = literal_chains("a {{ s.split(',') }} {% if d.k is defined %}{% endif %}");
        assert_eq!(
            got,
            vec![
                ("s".to_owned(), vec![]),
                ("d".to_owned(), vec![Value::from("k")])
            ]
        );
    }
}
