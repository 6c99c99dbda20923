//! Python `re` compatibility on top of the `regex` crate.
//!
//! Python patterns are translated to the `regex` syntax where the two differ
//! (literal braces, `[` inside classes, `\Z`, octal escapes, ...).  Features
//! the `regex` crate cannot support (look-around, backreferences) produce a
//! clear error instead of silently matching something else.
//!
//! Text patterns ([`compile`]) serve the template filters and tests;
//! [`PyRegex`] matches bytes for the file modules (lineinfile, blockinfile),
//! with [`py_expand`] for `match.expand` templates.

use regex::{Captures, Regex};

/// What goes wrong compiling a pattern or expanding a replacement.
pub type Error = String;

fn re_err(msg: impl Into<String>) -> Error {
    msg.into()
}

/// How a compiled pattern is anchored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// `re.search`: anywhere.
    Search,
    /// `re.match`: at the start of the string.
    Match,
    /// `re.fullmatch`: the whole string.
    FullMatch,
}

/// Compiles a Python regular expression.
pub fn compile(
    pattern: &str,
    ignorecase: bool,
    multiline: bool,
    anchor: Anchor,
) -> Result<Regex, Error> {
    let translated = translate(pattern)?;
    let mut full = String::new();
    if ignorecase {
        full.push_str("(?i)");
    }
    if multiline {
        full.push_str("(?m)");
    }
    match anchor {
        Anchor::Search => full.push_str(&translated),
        Anchor::Match => {
            full.push_str("\\A(?:");
            full.push_str(&translated);
            full.push(')');
        }
        Anchor::FullMatch => {
            full.push_str("\\A(?:");
            full.push_str(&translated);
            full.push_str(")\\z");
        }
    }
    Regex::new(&full).map_err(|e| re_err(format!("invalid regular expression {pattern:?}: {e}")))
}

fn is_octal(c: char) -> bool {
    ('0'..='7').contains(&c)
}

/// Characters that have a special meaning in `regex` syntax outside classes.
fn is_rust_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

fn push_literal(out: &mut String, c: char, in_class: bool) {
    if c.is_whitespace() || c == '#' {
        out.push_str(&format!("\\x{{{:x}}}", c as u32));
    } else if is_rust_meta(c) || (in_class && c.is_ascii_punctuation() && c != '<' && c != '>') {
        out.push('\\');
        out.push(c);
    } else {
        out.push(c);
    }
}

fn take_hex(chars: &[char], i: &mut usize, n: usize, pattern: &str) -> Result<u32, Error> {
    let digits: String = chars.iter().skip(*i).take(n).collect();
    if digits.chars().count() != n || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(re_err(format!(
            "bad escape (incomplete hex) in {pattern:?}"
        )));
    }
    *i += n;
    u32::from_str_radix(&digits, 16).map_err(|_| re_err("bad hex escape"))
}

/// Translates an escape sequence starting after the backslash at `chars[*i]`.
fn translate_escape(
    chars: &[char],
    i: &mut usize,
    out: &mut String,
    in_class: bool,
    pattern: &str,
) -> Result<(), Error> {
    let Some(&c) = chars.get(*i) else {
        return Err(re_err(format!(
            "bad escape (end of pattern) in {pattern:?}"
        )));
    };
    *i += 1;
    match c {
        'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
            out.push('\\');
            out.push(c);
        }
        'A' | 'b' | 'B' if !in_class => {
            out.push('\\');
            out.push(c);
        }
        'b' => out.push_str("\\x08"),
        'Z' if !in_class => out.push_str("\\z"),
        'n' | 't' | 'r' | 'f' | 'v' | 'a' => {
            out.push('\\');
            out.push(c);
        }
        'x' => {
            let cp = take_hex(chars, i, 2, pattern)?;
            out.push_str(&format!("\\x{{{cp:x}}}"));
        }
        'u' => {
            let cp = take_hex(chars, i, 4, pattern)?;
            out.push_str(&format!("\\x{{{cp:x}}}"));
        }
        'U' => {
            let cp = take_hex(chars, i, 8, pattern)?;
            out.push_str(&format!("\\x{{{cp:x}}}"));
        }
        '0'..='9' => {
            // octal escape or group reference (in a class, always octal)
            let mut digits = String::from(c);
            if c == '0' || (in_class && is_octal(c)) {
                while digits.len() < 3 && chars.get(*i).is_some_and(|&d| is_octal(d)) {
                    digits.push(chars[*i]);
                    *i += 1;
                }
            } else if is_octal(c)
                && chars.get(*i).is_some_and(|&d| is_octal(d))
                && chars.get(*i + 1).is_some_and(|&d| is_octal(d))
            {
                digits.push(chars[*i]);
                digits.push(chars[*i + 1]);
                *i += 2;
            } else {
                return Err(re_err(format!(
                    "backreferences (\\{c}) are not supported in regular expression {pattern:?}"
                )));
            }
            let cp = u32::from_str_radix(&digits, 8).map_err(|_| re_err("bad octal escape"))?;
            if cp > 0o377 {
                return Err(re_err(format!(
                    "octal escape value \\{digits} outside of range 0-0o377"
                )));
            }
            out.push_str(&format!("\\x{{{cp:x}}}"));
        }
        c if c.is_ascii_alphanumeric() => {
            return Err(re_err(format!(
                "bad escape \\{c} in regular expression {pattern:?}"
            )));
        }
        c => push_literal(out, c, in_class),
    }
    Ok(())
}

/// Translates a Python regular expression into `regex` crate syntax.
pub fn translate(pattern: &str) -> Result<String, Error> {
    translate_opts(pattern, false)
}

/// [`translate`]; with `line_dollar`, `$` also matches before any newline
/// (`(?m:$)`), which is Python's `$` exactly when the text is one line
/// with its line ending (lineinfile, blockinfile) or under `re.MULTILINE`.
fn translate_opts(pattern: &str, line_dollar: bool) -> Result<String, Error> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => translate_escape(&chars, &mut i, &mut out, false, pattern)?,
            '[' => {
                out.push('[');
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                let mut closed = false;
                while i < chars.len() {
                    let c = chars[i];
                    i += 1;
                    match c {
                        ']' => {
                            out.push(']');
                            closed = true;
                            break;
                        }
                        '\\' => translate_escape(&chars, &mut i, &mut out, true, pattern)?,
                        '-' => {
                            if chars.get(i) == Some(&'-') || chars.get(i) == Some(&']') {
                                out.push_str("\\-");
                            } else {
                                out.push('-');
                            }
                        }
                        '[' | '&' | '~' => {
                            out.push('\\');
                            out.push(c);
                        }
                        c => out.push(c),
                    }
                }
                if !closed {
                    return Err(re_err(format!(
                        "unterminated character set in regular expression {pattern:?}"
                    )));
                }
            }
            '(' => {
                if chars.get(i) == Some(&'?') {
                    let rest: String = chars[i + 1..].iter().take(3).collect();
                    if rest.starts_with('#') {
                        // comment group: skip
                        while i < chars.len() && chars[i] != ')' {
                            i += 1;
                        }
                        i += 1;
                        continue;
                    }
                    if rest.starts_with("P=") {
                        return Err(re_err(format!(
                            "named backreferences are not supported in regular expression {pattern:?}"
                        )));
                    }
                    if rest.starts_with('=')
                        || rest.starts_with('!')
                        || rest.starts_with("<=")
                        || rest.starts_with("<!")
                    {
                        return Err(re_err(format!(
                            "look-ahead/look-behind assertions are not supported in regular expression {pattern:?}"
                        )));
                    }
                    if rest.starts_with('(') {
                        return Err(re_err(format!(
                            "conditional groups are not supported in regular expression {pattern:?}"
                        )));
                    }
                    if rest.starts_with('>') {
                        return Err(re_err(format!(
                            "atomic groups are not supported in regular expression {pattern:?}"
                        )));
                    }
                    if rest.starts_with("P<") || rest.starts_with('<') || rest.starts_with(':') {
                        out.push('(');
                        continue;
                    }
                    // inline flags: drop the ones `regex` doesn't know
                    out.push_str("(?");
                    i += 1;
                    while i < chars.len() && chars[i] != ')' && chars[i] != ':' {
                        let f = chars[i];
                        if !matches!(f, 'a' | 'u' | 'L') {
                            out.push(f);
                        }
                        i += 1;
                    }
                    if out.ends_with("(?") && chars.get(i) == Some(&')') {
                        // all flags removed: drop the empty group
                        out.truncate(out.len() - 2);
                        i += 1;
                    }
                    continue;
                }
                out.push('(');
            }
            '{' => {
                // valid quantifier?
                let mut j = i;
                let mut lo = String::new();
                let mut hi = String::new();
                let mut comma = false;
                let mut valid = false;
                while j < chars.len() {
                    let d = chars[j];
                    if d.is_ascii_digit() {
                        if comma {
                            hi.push(d);
                        } else {
                            lo.push(d);
                        }
                    } else if d == ',' && !comma {
                        comma = true;
                    } else if d == '}' {
                        valid = !lo.is_empty() || comma;
                        break;
                    } else {
                        break;
                    }
                    j += 1;
                }
                if valid && !out.is_empty() {
                    let lo = if lo.is_empty() { "0".to_string() } else { lo };
                    out.push('{');
                    out.push_str(&lo);
                    if comma {
                        out.push(',');
                        out.push_str(&hi);
                    }
                    out.push('}');
                    i = j + 1;
                } else {
                    out.push_str("\\{");
                }
            }
            '}' => out.push_str("\\}"),
            '$' if line_dollar => out.push_str("(?m:$)"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Iterates over matches with Python 3.7+ semantics: an empty match directly
/// following a previous match is allowed, but not at the position of a
/// previous empty match.
pub fn py_captures_iter<'t>(re: &Regex, text: &'t str) -> Vec<Captures<'t>> {
    let mut rv = Vec::new();
    let mut pos = 0;
    let mut must_advance = false;
    while pos <= text.len() {
        let Some(caps) = re.captures_at(text, pos) else {
            break;
        };
        let Some(m) = caps.get(0) else {
            break;
        };
        if must_advance && m.start() == pos && m.end() == pos {
            // retry one character further
            let next = text[pos..].chars().next().map(|c| pos + c.len_utf8());
            match next {
                Some(next) => {
                    match re.captures_at(text, next) {
                        Some(c2) => {
                            let Some(m2) = c2.get(0) else { break };
                            must_advance = m2.start() == m2.end();
                            pos = m2.end();
                            rv.push(c2);
                        }
                        None => break,
                    }
                    continue;
                }
                None => break,
            }
        }
        must_advance = m.start() == m.end();
        pos = m.end();
        rv.push(caps);
    }
    rv
}

/// A parsed replacement template (Python `re.sub` syntax).
pub enum ReplPart {
    Lit(String),
    Group(usize),
}

/// Parses a Python replacement template (`\1`, `\g<1>`, `\g<name>`, `\n`...).
pub fn parse_replacement(repl: &str, re: &Regex) -> Result<Vec<ReplPart>, Error> {
    let chars: Vec<char> = repl.chars().collect();
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let group_count = re.captures_len();
    let check_group = |n: usize| -> Result<usize, Error> {
        if n >= group_count {
            Err(re_err(format!(
                "invalid group reference {n} in replacement {repl:?}"
            )))
        } else {
            Ok(n)
        }
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            lit.push(c);
            continue;
        }
        let Some(&e) = chars.get(i) else {
            return Err(re_err(format!(
                "bad escape (end of pattern) in replacement {repl:?}"
            )));
        };
        i += 1;
        let mut group = None;
        match e {
            'g' => {
                if chars.get(i) != Some(&'<') {
                    return Err(re_err(format!("missing < in replacement {repl:?}")));
                }
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && chars[j] != '>' {
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(re_err(format!(
                        "missing >, unterminated name in replacement {repl:?}"
                    )));
                }
                let name: String = chars[start..j].iter().collect();
                i = j + 1;
                let idx = if let Ok(n) = name.parse::<usize>() {
                    check_group(n)?
                } else {
                    re.capture_names()
                        .position(|n| n == Some(name.as_str()))
                        .ok_or_else(|| {
                            re_err(format!(
                                "unknown group name '{name}' in replacement {repl:?}"
                            ))
                        })?
                };
                group = Some(idx);
            }
            '0' => {
                let mut digits = String::from("0");
                while digits.len() < 3 && chars.get(i).is_some_and(|&d| is_octal(d)) {
                    digits.push(chars[i]);
                    i += 1;
                }
                let cp = u32::from_str_radix(&digits, 8).unwrap_or(0);
                lit.push(char::from_u32(cp).unwrap_or('\0'));
            }
            '1'..='9' => {
                let mut digits = String::from(e);
                if chars.get(i).is_some_and(|d| d.is_ascii_digit()) {
                    // three octal digits form an octal escape
                    if is_octal(e)
                        && chars.get(i).is_some_and(|&d| is_octal(d))
                        && chars.get(i + 1).is_some_and(|&d| is_octal(d))
                    {
                        let oct: String = [e, chars[i], chars[i + 1]].iter().collect();
                        i += 2;
                        let cp = u32::from_str_radix(&oct, 8).unwrap_or(0);
                        lit.push(char::from_u32(cp).unwrap_or('\0'));
                        continue;
                    }
                    digits.push(chars[i]);
                    i += 1;
                }
                let n: usize = digits.parse().unwrap_or(0);
                group = Some(check_group(n)?);
            }
            'n' => lit.push('\n'),
            't' => lit.push('\t'),
            'r' => lit.push('\r'),
            'f' => lit.push('\x0c'),
            'v' => lit.push('\x0b'),
            'a' => lit.push('\x07'),
            'b' => lit.push('\x08'),
            '\\' => lit.push('\\'),
            e if e.is_ascii_alphabetic() => {
                return Err(re_err(format!("bad escape \\{e} in replacement {repl:?}")));
            }
            e => {
                lit.push('\\');
                lit.push(e);
            }
        }
        if let Some(g) = group {
            if !lit.is_empty() {
                parts.push(ReplPart::Lit(std::mem::take(&mut lit)));
            }
            parts.push(ReplPart::Group(g));
        }
    }
    if !lit.is_empty() {
        parts.push(ReplPart::Lit(lit));
    }
    Ok(parts)
}

/// Python's `re.subn`.
pub fn subn(re: &Regex, repl: &str, text: &str, count: usize) -> Result<(String, usize), Error> {
    let parts = parse_replacement(repl, re)?;
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut n = 0;
    for caps in py_captures_iter(re, text) {
        if count > 0 && n >= count {
            break;
        }
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        for part in &parts {
            match part {
                ReplPart::Lit(s) => out.push_str(s),
                ReplPart::Group(g) => {
                    if let Some(gm) = caps.get(*g) {
                        out.push_str(gm.as_str());
                    }
                }
            }
        }
        last = m.end();
        n += 1;
    }
    out.push_str(&text[last..]);
    Ok((out, n))
}

/// Python's `re.escape` (3.7+ semantics).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A Python (`re` module, bytes pattern) regular expression, translated to
/// the `regex` crate's syntax.
pub struct PyRegex {
    re: regex::bytes::Regex,
    /// The pattern sets `re.MULTILINE` globally (`(?m)` at its start).
    pub multiline: bool,
}

impl PyRegex {
    pub fn new(pattern: &str) -> Result<PyRegex, String> {
        let translated = translate_opts(pattern, true)
            .map_err(|e| format!("Invalid regular expression '{pattern}': {e}"))?;
        let re = regex::bytes::RegexBuilder::new(&translated)
            .unicode(false)
            .build()
            .or_else(|_| regex::bytes::RegexBuilder::new(&translated).build())
            .map_err(|e| {
                let detail = e.to_string();
                let last = detail.lines().last().unwrap_or("").trim().to_owned();
                format!("Invalid regular expression '{pattern}': {last}")
            })?;
        Ok(PyRegex {
            re,
            multiline: leading_flags(pattern).contains('m'),
        })
    }
    pub fn is_match(&self, hay: &[u8]) -> bool {
        self.re.is_match(hay)
    }
    /// `(start, end)` of the first match.
    pub fn find(&self, hay: &[u8]) -> Option<(usize, usize)> {
        self.re.find(hay).map(|m| (m.start(), m.end()))
    }
}

/// The flags of a leading `(?imsx)` group.
fn leading_flags(p: &str) -> String {
    let mut flags = String::new();
    let mut rest = p;
    while let Some(r) = rest.strip_prefix("(?") {
        let end = r
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(r.len());
        if r[end..].starts_with(')') {
            flags.push_str(&r[..end]);
            rest = &r[end + 1..];
        } else {
            break;
        }
    }
    flags
}

/// Python's `match.expand(template)` for the first match of `re` in `hay`:
/// `\1`, `\g<1>`, `\g<name>`, and the `\n`-style escapes.
pub fn py_expand(re: &PyRegex, hay: &[u8], template: &[u8]) -> Result<Vec<u8>, String> {
    let caps = re.re.captures(hay).ok_or("no match")?;
    let group = |idx: usize| -> Result<Vec<u8>, String> {
        if idx >= caps.len() {
            return Err(format!("invalid group reference {idx}"));
        }
        Ok(caps
            .get(idx)
            .map(|m| m.as_bytes().to_vec())
            .unwrap_or_default())
    };
    let mut out = Vec::with_capacity(template.len());
    let mut i = 0;
    while i < template.len() {
        let b = template[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&n) = template.get(i + 1) else {
            return Err("bad escape (end of pattern)".into());
        };
        i += 2;
        match n {
            b'g' => {
                if template.get(i) != Some(&b'<') {
                    return Err("missing <".into());
                }
                let Some(len) = template[i + 1..].iter().position(|&x| x == b'>') else {
                    return Err("missing >, unterminated name".into());
                };
                let name = String::from_utf8_lossy(&template[i + 1..i + 1 + len]).into_owned();
                i += len + 2;
                let idx = if !name.is_empty() && name.bytes().all(|d| d.is_ascii_digit()) {
                    name.parse::<usize>().map_err(|e| e.to_string())?
                } else {
                    let names: Vec<Option<&str>> = re.re.capture_names().collect();
                    names
                        .iter()
                        .position(|n| *n == Some(name.as_str()))
                        .ok_or_else(|| format!("unknown group name '{name}'"))?
                };
                out.extend(group(idx)?);
            }
            b'0' => {
                let mut v: u32 = 0;
                let mut k = 0;
                while k < 2 && template.get(i).is_some_and(|d| (b'0'..=b'7').contains(d)) {
                    v = v * 8 + u32::from(template[i] - b'0');
                    i += 1;
                    k += 1;
                }
                out.push(v as u8);
            }
            b'1'..=b'9' => {
                let mut digits = vec![n];
                let mut octal = false;
                if let Some(&d2) = template.get(i)
                    && d2.is_ascii_digit()
                {
                    digits.push(d2);
                    i += 1;
                    if n <= b'7'
                        && d2 <= b'7'
                        && let Some(&d3) = template.get(i)
                        && (b'0'..=b'7').contains(&d3)
                    {
                        i += 1;
                        let v = u32::from(n - b'0') * 64
                            + u32::from(d2 - b'0') * 8
                            + u32::from(d3 - b'0');
                        if v > 0o377 {
                            return Err("octal escape value outside of range 0-0o377".into());
                        }
                        out.push(v as u8);
                        octal = true;
                    }
                }
                if !octal {
                    let idx: usize = String::from_utf8_lossy(&digits)
                        .parse()
                        .map_err(|_| "bad group")?;
                    out.extend(group(idx)?);
                }
            }
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'\\' => out.push(b'\\'),
            n if n.is_ascii_alphabetic() => return Err(format!("bad escape \\{}", n as char)),
            n => {
                out.push(b'\\');
                out.push(n);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(p: &str, r: &str, t: &str) -> String {
        let re = compile(p, false, false, Anchor::Search).unwrap_or_else(|e| panic!("{e}"));
        subn(&re, r, t, 0)
            .map(|x| x.0)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn test_translate() {
        assert_eq!(sub(r"a{", "b", "a{"), "b");
        assert_eq!(sub(r"[[]", "x", "a[b"), "axb");
        assert_eq!(sub(r"x*", "-", "abxd"), "-a-b--d-");
        assert_eq!(
            sub(r"^(\w+) (\w+)$", r"\2 \1", "hello world"),
            "world hello"
        );
        assert_eq!(sub(r"(?P<a>\d+)", r"<\g<a>|\g<1>>", "ab12"), "ab<12|12>");
        assert_eq!(sub(r"\.", r"\\", "a.b"), "a\\b");
        assert_eq!(sub(r"a{,2}", "x", "aaa"), "xxx");
        assert!(compile(r"(?<=a)b", false, false, Anchor::Search).is_err());
        assert!(compile(r"(a)\1", false, false, Anchor::Search).is_err());
        assert_eq!(escape("a.b*c d"), "a\\.b\\*c\\ d");
    }
}
