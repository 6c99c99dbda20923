//! INI inventory values: Ansible passes every `key=value` value (inline host
//! vars and `[group:vars]` lines alike) through Python's `ast.literal_eval`
//! and keeps the raw string when that fails. So `1` is an int, `True` a
//! bool, `'1'` a string, `[1, 2]` a list, `{'a': 1}` a dict, `1, 2` a list
//! (a tuple), while `yes`, `1.2.3` or `hello world` stay strings.
//!
//! This module is a small Python expression reader for exactly the literal
//! subset `literal_eval` accepts.

use indexmap::IndexMap;
use minijinja::Value;

/// The value of an INI `key=value` right-hand side, as Ansible computes it.
pub fn ini_value(text: &str) -> Value {
    literal_eval(text).unwrap_or_else(|| Value::from(text))
}

/// `ast.literal_eval`, with tuples and sets made lists and complex numbers,
/// bytes and `...` made strings (as Ansible's INI plugin does). `None` when
/// Python would raise.
pub fn literal_eval(text: &str) -> Option<Value> {
    let chars: Vec<char> = text.trim_start_matches([' ', '\t']).chars().collect();
    let mut p = Reader { s: &chars, i: 0 };
    let first = p.expr()?;
    p.ws();
    let value = if p.peek() == Some(',') {
        let mut items = vec![first];
        while p.eat(',') {
            p.ws();
            if p.at_end() {
                break;
            }
            items.push(p.expr()?);
            p.ws();
        }
        Lit::List(items)
    } else {
        first
    };
    p.ws();
    if !p.at_end() {
        return None;
    }
    value.into_value()
}

/// A parsed literal before conversion; `Complex` is kept apart because only
/// `real ± imag` may combine numbers.
#[derive(Clone, Debug)]
enum Lit {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(Vec<u8>),
    Ellipsis,
    List(Vec<Lit>),
    Set(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

impl Lit {
    fn is_num(&self) -> bool {
        matches!(self, Lit::Int(_) | Lit::Float(_) | Lit::Complex(..))
    }
    fn hashable(&self) -> bool {
        !matches!(self, Lit::List(_) | Lit::Set(_) | Lit::Dict(_))
    }
    fn into_value(self) -> Option<Value> {
        Some(match self {
            Lit::None => Value::from(()),
            Lit::Bool(b) => Value::from(b),
            Lit::Int(i) => match i64::try_from(i) {
                Ok(v) => Value::from(v),
                Err(_) => Value::from(i),
            },
            Lit::Float(f) => Value::from(f),
            Lit::Complex(re, im) => Value::from(complex_str(re, im)),
            Lit::Str(s) => Value::from(s),
            Lit::Bytes(b) => Value::from(String::from_utf8_lossy(&b).into_owned()),
            Lit::Ellipsis => Value::from("..."),
            Lit::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(item.into_value()?);
                }
                Value::from(out)
            }
            Lit::Set(items) => {
                // A Python set: unique members (order is arbitrary in Python).
                let mut out: Vec<Value> = Vec::new();
                for item in items {
                    if !item.hashable() {
                        return None;
                    }
                    let v = item.into_value()?;
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                Value::from(out)
            }
            Lit::Dict(pairs) => {
                let mut map: IndexMap<Value, Value> = IndexMap::new();
                for (k, v) in pairs {
                    if !k.hashable() {
                        return None;
                    }
                    let key = k.into_value()?;
                    map.insert(key, v.into_value()?);
                }
                crate::template::vmap(map)
            }
        })
    }
}

/// `str(complex)` as Python prints it.
fn complex_str(re: f64, im: f64) -> String {
    fn num(f: f64) -> String {
        if f.fract() == 0.0 && f.is_finite() && f.abs() < 1e16 {
            format!("{}", f as i64)
        } else {
            format!("{f}")
        }
    }
    if re == 0.0 && !re.is_sign_negative() {
        format!("{}j", num(im))
    } else {
        let sign = if im < 0.0 || (im == 0.0 && im.is_sign_negative()) {
            '-'
        } else {
            '+'
        };
        format!("({}{sign}{}j)", num(re), num(im.abs()))
    }
}

struct Reader<'a> {
    s: &'a [char],
    i: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }
    fn peek_at(&self, n: usize) -> Option<char> {
        self.s.get(self.i + n).copied()
    }
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    /// Skips blanks, `#` comments and backslash-newline continuations.
    fn ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\x0c' | '\n' | '\r' => self.i += 1,
                '#' => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                '\\' if matches!(self.peek_at(1), Some('\n')) => self.i += 2,
                _ => break,
            }
        }
    }

    /// An expression: a literal, a signed number, or `real ± imaginary`.
    fn expr(&mut self) -> Option<Lit> {
        self.ws();
        let left = self.signed()?;
        // BinOp: only `(signed) real +/- complex` is allowed.
        let save = self.i;
        self.ws();
        if let Some(op @ ('+' | '-')) = self.peek() {
            self.i += 1;
            self.ws();
            let right = self.number()?;
            let (Lit::Int(_) | Lit::Float(_), Lit::Complex(0.0, im)) = (&left, &right) else {
                return None;
            };
            let re = match left {
                Lit::Int(i) => i as f64,
                Lit::Float(f) => f,
                _ => return None,
            };
            let im = if op == '+' { *im } else { -*im };
            return Some(Lit::Complex(re, im));
        }
        self.i = save;
        Some(left)
    }

    fn signed(&mut self) -> Option<Lit> {
        match self.peek() {
            Some(op @ ('+' | '-')) => {
                self.i += 1;
                self.ws();
                let n = self.number()?;
                Some(if op == '+' {
                    n
                } else {
                    match n {
                        Lit::Int(i) => Lit::Int(-i),
                        Lit::Float(f) => Lit::Float(-f),
                        Lit::Complex(re, im) => Lit::Complex(-re, -im),
                        _ => return None,
                    }
                })
            }
            _ => self.atom(),
        }
    }

    /// A number token only (what `-` and `+` may apply to).
    fn number(&mut self) -> Option<Lit> {
        let c = self.peek()?;
        if c.is_ascii_digit() || (c == '.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit())) {
            let n = self.number_token()?;
            n.is_num().then_some(n)
        } else {
            None
        }
    }

    fn atom(&mut self) -> Option<Lit> {
        let c = self.peek()?;
        if c.is_ascii_digit() || (c == '.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit())) {
            return self.number_token();
        }
        if c == '.' && self.peek_at(1) == Some('.') && self.peek_at(2) == Some('.') {
            self.i += 3;
            return Some(Lit::Ellipsis);
        }
        match c {
            '[' => {
                self.i += 1;
                let items = self.items(']')?;
                Some(Lit::List(items))
            }
            '(' => {
                self.i += 1;
                self.ws();
                if self.eat(')') {
                    return Some(Lit::List(Vec::new()));
                }
                let first = self.expr()?;
                self.ws();
                if self.eat(')') {
                    return Some(first);
                }
                if !self.eat(',') {
                    return None;
                }
                let mut items = vec![first];
                items.extend(self.items(')')?);
                Some(Lit::List(items))
            }
            '{' => {
                self.i += 1;
                self.ws();
                if self.eat('}') {
                    return Some(Lit::Dict(Vec::new()));
                }
                let first = self.expr()?;
                self.ws();
                if self.eat(':') {
                    let value = self.expr()?;
                    let mut pairs = vec![(first, value)];
                    loop {
                        self.ws();
                        if self.eat('}') {
                            break;
                        }
                        if !self.eat(',') {
                            return None;
                        }
                        self.ws();
                        if self.eat('}') {
                            break;
                        }
                        let k = self.expr()?;
                        self.ws();
                        if !self.eat(':') {
                            return None;
                        }
                        let v = self.expr()?;
                        pairs.push((k, v));
                    }
                    Some(Lit::Dict(pairs))
                } else {
                    let mut items = vec![first];
                    if !self.eat('}') {
                        if !self.eat(',') {
                            return None;
                        }
                        items.extend(self.items('}')?);
                    }
                    Some(Lit::Set(items))
                }
            }
            '\'' | '"' => self.strings(),
            c if c.is_alphabetic() || c == '_' => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.i += 1;
                }
                let word: String = self.s[start..self.i].iter().collect();
                if matches!(self.peek(), Some('\'' | '"')) && is_string_prefix(&word) {
                    self.i = start;
                    return self.strings();
                }
                match word.as_str() {
                    "True" => Some(Lit::Bool(true)),
                    "False" => Some(Lit::Bool(false)),
                    "None" => Some(Lit::None),
                    "set" => {
                        // `set()` is the one call literal_eval accepts.
                        self.ws();
                        if !self.eat('(') {
                            return None;
                        }
                        self.ws();
                        self.eat(')').then_some(Lit::Set(Vec::new()))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Comma-separated expressions up to `close` (already past the opener).
    fn items(&mut self, close: char) -> Option<Vec<Lit>> {
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.expr()?);
            self.ws();
            if self.eat(close) {
                return Some(items);
            }
            if !self.eat(',') {
                return None;
            }
        }
    }

    fn number_token(&mut self) -> Option<Lit> {
        let start = self.i;
        let hex = self.peek() == Some('0') && matches!(self.peek_at(1), Some('x' | 'X'));
        while let Some(c) = self.peek() {
            let prev = if self.i > start {
                Some(self.s[self.i - 1])
            } else {
                None
            };
            let sign_ok = !hex && matches!(c, '+' | '-') && matches!(prev, Some('e' | 'E'));
            if c.is_alphanumeric() || c == '_' || c == '.' || sign_ok {
                self.i += 1;
            } else {
                break;
            }
        }
        let tok: String = self.s[start..self.i].iter().collect();
        parse_number(&tok)
    }

    /// One or more adjacent string literals, concatenated.
    fn strings(&mut self) -> Option<Lit> {
        let mut text = String::new();
        let mut bytes: Option<Vec<u8>> = None;
        let mut any = false;
        loop {
            self.ws();
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                self.i += 1;
            }
            let prefix: String = self.s[start..self.i]
                .iter()
                .collect::<String>()
                .to_ascii_lowercase();
            if !matches!(self.peek(), Some('\'' | '"')) || !is_string_prefix(&prefix) {
                self.i = start;
                break;
            }
            if prefix.contains('f') {
                // An f-string is a JoinedStr, which literal_eval refuses.
                return None;
            }
            let raw = prefix.contains('r');
            let is_bytes = prefix.contains('b');
            let body = self.string_body()?;
            if any && (bytes.is_some() != is_bytes) {
                return None; // cannot mix bytes and str literals
            }
            any = true;
            if is_bytes {
                if !body.is_ascii() {
                    return None;
                }
                let decoded = if raw {
                    body.into_bytes()
                } else {
                    unescape_bytes(&body)?
                };
                bytes.get_or_insert_with(Vec::new).extend(decoded);
            } else {
                text.push_str(&if raw { body } else { unescape_str(&body)? });
            }
        }
        if !any {
            return None;
        }
        Some(match bytes {
            Some(b) => Lit::Bytes(b),
            None => Lit::Str(text),
        })
    }

    /// The raw text between the quotes (escapes untouched).
    fn string_body(&mut self) -> Option<String> {
        let q = self.peek()?;
        let triple = self.peek_at(1) == Some(q) && self.peek_at(2) == Some(q);
        self.i += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            if c == '\\' {
                out.push(c);
                self.i += 1;
                out.push(self.peek()?);
                self.i += 1;
                continue;
            }
            if c == q {
                if !triple {
                    self.i += 1;
                    return Some(out);
                }
                if self.peek_at(1) == Some(q) && self.peek_at(2) == Some(q) {
                    self.i += 3;
                    return Some(out);
                }
            }
            if c == '\n' && !triple {
                return None;
            }
            out.push(c);
            self.i += 1;
        }
    }
}

fn is_string_prefix(p: &str) -> bool {
    matches!(
        p.to_ascii_lowercase().as_str(),
        "" | "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf"
    )
}

fn digitpart(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_digit())
        && s.ends_with(|c: char| c.is_ascii_digit())
        && !s.contains("__")
        && s.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// Python's numeric literal grammar (ints without leading zeros, `0x`/`0o`/
/// `0b`, floats, `j` imaginaries, `_` between digits).
fn parse_number(tok: &str) -> Option<Lit> {
    let lower = tok.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            let digits = rest.strip_prefix('_').unwrap_or(rest);
            if digits.is_empty()
                || digits.ends_with('_')
                || digits.contains("__")
                || !digits.chars().all(|c| c == '_' || c.is_digit(radix))
            {
                return None;
            }
            return i128::from_str_radix(&digits.replace('_', ""), radix)
                .ok()
                .map(Lit::Int);
        }
    }
    if let Some(body) = lower.strip_suffix('j') {
        let f = parse_float(body)
            .or_else(|| digitpart(body).then(|| body.replace('_', "").parse().ok())?)?;
        return Some(Lit::Complex(0.0, f));
    }
    if digitpart(&lower) {
        let digits = lower.replace('_', "");
        if digits.len() > 1 && digits.starts_with('0') && digits.chars().any(|c| c != '0') {
            return None; // `01` is a SyntaxError in Python 3
        }
        return match digits.parse::<i128>() {
            Ok(i) => Some(Lit::Int(i)),
            Err(_) => None,
        };
    }
    parse_float(&lower).map(Lit::Float)
}

fn parse_float(s: &str) -> Option<f64> {
    let (mantissa, exponent) = match s.find('e') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if let Some(e) = exponent {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        if !digitpart(digits) {
            return None;
        }
    }
    let ok_mantissa = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() || digitpart(int))
                && (frac.is_empty() || digitpart(frac))
                && !(int.is_empty() && frac.is_empty())
        }
        None => exponent.is_some() && digitpart(mantissa),
    };
    if !ok_mantissa {
        return None;
    }
    s.replace('_', "").parse::<f64>().ok()
}

fn hex_digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize) -> Option<u32> {
    let mut v = 0;
    for _ in 0..n {
        v = v * 16 + chars.next()?.to_digit(16)?;
    }
    Some(v)
}

fn octal(first: char, chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> u32 {
    let mut v = first.to_digit(8).unwrap_or(0);
    for _ in 0..2 {
        match chars.peek().and_then(|c| c.to_digit(8)) {
            Some(d) => {
                v = v * 8 + d;
                chars.next();
            }
            None => break,
        }
    }
    v
}

fn unescape_str(body: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        match e {
            '\n' => {}
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '0'..='7' => out.push(char::from_u32(octal(e, &mut chars))?),
            'x' => out.push(char::from_u32(hex_digits(&mut chars, 2)?)?),
            'u' => out.push(char::from_u32(hex_digits(&mut chars, 4)?)?),
            'U' => out.push(char::from_u32(hex_digits(&mut chars, 8)?)?),
            // `\N{NAME}` needs the Unicode name table; give up (raw string).
            'N' => return None,
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

fn unescape_bytes(body: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c as u8);
            continue;
        }
        let e = chars.next()?;
        match e {
            '\n' => {}
            '\\' => out.push(b'\\'),
            '\'' => out.push(b'\''),
            '"' => out.push(b'"'),
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            'v' => out.push(11),
            '0'..='7' => out.push((octal(e, &mut chars) & 0xff) as u8),
            'x' => out.push(hex_digits(&mut chars, 2)? as u8),
            other => {
                out.push(b'\\');
                out.push(other as u8);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::py_repr;

    fn ev(s: &str) -> String {
        py_repr(&ini_value(s))
    }

    #[test]
    fn scalars_as_python() {
        assert_eq!(ev("1"), "1");
        assert_eq!(ev("-42"), "-42");
        assert_eq!(ev("0x1f"), "31");
        assert_eq!(ev("1_000"), "1000");
        assert_eq!(ev("1.5"), "1.5");
        assert_eq!(ev("1e3"), "1000.0");
        assert_eq!(ev("True"), "True");
        assert_eq!(ev("None"), "None");
        assert_eq!(ev("'1'"), "'1'");
        assert_eq!(ev("\"a b\""), "'a b'");
        assert_eq!(ev("'a' \"b\""), "'ab'");
        assert_eq!(ev(r"'tab\there'"), "'tab\\there'");
        assert_eq!(ev(r"r'\d+'"), r"'\\d+'");
        assert_eq!(ev("b'raw'"), "'raw'");
    }

    #[test]
    fn non_literals_stay_strings() {
        for s in [
            "yes",
            "true",
            "01",
            "1.2.3",
            "hello world",
            "a=b",
            "",
            "56L",
            "{{ x }}",
            "--1",
            "f'x'",
            "-True",
            "/usr/bin/python3",
            "1 + 2",
            "abc#def",
        ] {
            assert_eq!(ini_value(s), Value::from(s), "{s}");
        }
    }

    #[test]
    fn containers() {
        assert_eq!(ev("[1, 'a', [True]]"), "[1, 'a', [True]]");
        assert_eq!(ev("(1,)"), "[1]");
        assert_eq!(ev("1, 2"), "[1, 2]");
        assert_eq!(ev("()"), "[]");
        assert_eq!(ev("{'a': 1, 'b': [2]}"), "{'a': 1, 'b': [2]}");
        assert_eq!(ev("{}"), "{}");
        assert_eq!(ev("{1, 2, 2}"), "[1, 2]");
        assert_eq!(ev("set()"), "[]");
        assert_eq!(ev("[1, 2,]"), "[1, 2]");
        assert_eq!(ev("{[1]: 2}"), "'{[1]: 2}'");
    }

    #[test]
    fn comments_and_complex() {
        // Python ignores a trailing comment, so `8080 # port` is an int.
        assert_eq!(ev("8080 # port"), "8080");
        assert_eq!(ev("hello # not a literal"), "'hello # not a literal'");
        assert_eq!(ev("1+2j"), "'(1+2j)'");
        assert_eq!(ev("2j"), "'2j'");
        assert_eq!(ev("..."), "'...'");
    }
}
