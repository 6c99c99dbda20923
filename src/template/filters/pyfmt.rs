//! Python-compatible value formatting: `repr()`, `str()`, float repr and the
//! `%` string formatting operator used by Jinja's `format` filter.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// Maximum nesting depth rendered by `repr()` before giving up.
const MAX_DEPTH: usize = 200;

/// Formats a float like Python's `repr(float)` (shortest round-trip form).
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let (negative, digits, exp) = shortest_digits(f);
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        out.push_str(&fixed_from_digits(&digits, exp, true));
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format_exponent(exp));
    }
    out
}

/// Splits a finite, non-zero float into (negative, significant digits, exponent)
/// using the shortest representation that round-trips.
fn shortest_digits(f: f64) -> (bool, String, i32) {
    let s = format!("{:e}", f);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    (negative, digits, exp)
}

/// Renders digits `d1d2d3...` with value `d1.d2d3 * 10^exp` in fixed notation.
fn fixed_from_digits(digits: &str, exp: i32, force_point: bool) -> String {
    let decpt = exp + 1;
    let len = digits.len() as i32;
    if decpt <= 0 {
        format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
    } else if decpt >= len {
        let mut s = format!("{}{}", digits, "0".repeat((decpt - len) as usize));
        if force_point {
            s.push_str(".0");
        }
        s
    } else {
        format!(
            "{}.{}",
            &digits[..decpt as usize],
            &digits[decpt as usize..]
        )
    }
}

/// Python style exponent suffix: `e+05`, `e-10`, `e+100`.
fn format_exponent(exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("e{}{:02}", sign, exp.abs())
}

/// Returns true if the character would be printed verbatim by Python's `repr()`.
fn is_py_printable(c: char) -> bool {
    let cp = c as u32;
    if cp < 0x20 || (0x7f..0xa0).contains(&cp) {
        return false;
    }
    if cp < 0x7f {
        return true;
    }
    !matches!(cp,
        0xa0 | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x1680
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f
        | 0x3000 | 0xd800..=0xdfff | 0xe000..=0xf8ff | 0xfeff | 0xfff9..=0xfffb
        | 0x110bd | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        | 0xf0000..=0x10ffff)
}

/// Python's `repr()` of a string.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_py_printable(c) => out.push(c),
            c => {
                let cp = c as u32;
                if cp <= 0xff {
                    out.push_str(&format!("\\x{:02x}", cp));
                } else if cp <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", cp));
                } else {
                    out.push_str(&format!("\\U{:08x}", cp));
                }
            }
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of a value.
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, v, 0);
    out
}

/// Python's `str()` of a value: strings as-is, everything else as `repr()`.
pub fn py_str(v: &Value) -> String {
    match v.kind() {
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        ValueKind::Undefined => String::new(),
        _ => py_repr(v),
    }
}

/// Formats a number value (int or float) like Python.
pub fn number_repr(v: &Value) -> String {
    if v.is_integer() {
        v.to_string()
    } else if let Ok(f) = f64::try_from(v.clone()) {
        float_repr(f)
    } else {
        v.to_string()
    }
}

fn write_repr(out: &mut String, v: &Value, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("...");
        return;
    }
    match v.kind() {
        ValueKind::Undefined => out.push_str("Undefined"),
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&number_repr(v)),
        ValueKind::String => out.push_str(&str_repr(v.as_str().unwrap_or_default())),
        ValueKind::Bytes => {
            out.push_str("b'");
            for &b in v.as_bytes().unwrap_or_default() {
                match b {
                    b'\\' => out.push_str("\\\\"),
                    b'\'' => out.push_str("\\'"),
                    b'\n' => out.push_str("\\n"),
                    b'\r' => out.push_str("\\r"),
                    b'\t' => out.push_str("\\t"),
                    0x20..=0x7e => out.push(b as char),
                    _ => out.push_str(&format!("\\x{:02x}", b)),
                }
            }
            out.push('\'');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(iter) = v.try_iter() {
                for (idx, key) in iter.enumerate() {
                    if idx > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &key, depth + 1);
                    out.push_str(": ");
                    let val = v.get_item(&key).unwrap_or(Value::UNDEFINED);
                    write_repr(out, &val, depth + 1);
                }
            }
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let tuple = v.is_tuple();
            out.push(if tuple { '(' } else { '[' });
            let mut count = 0;
            if let Ok(iter) = v.try_iter() {
                for (idx, item) in iter.enumerate() {
                    if idx > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &item, depth + 1);
                    count += 1;
                }
            }
            if tuple {
                if count == 1 {
                    out.push(',');
                }
                out.push(')');
            } else {
                out.push(']');
            }
        }
        _ => out.push_str(&v.to_string()),
    }
}

/// Python's `str.splitlines()` (without keepends).
pub fn splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((idx, c)) = iter.next() {
        let is_break = matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if is_break {
            lines.push(&s[start..idx]);
            let mut end = idx + c.len_utf8();
            if c == '\r'
                && let Some(&(_, '\n')) = iter.peek()
            {
                iter.next();
                end += 1;
            }
            start = end;
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

// ---------------------------------------------------------------------------
// printf style formatting (`"%s" % args`)
// ---------------------------------------------------------------------------

fn fmt_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Python type name of a value (as used in error messages and `type_debug`).
pub fn py_type_name(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number => {
            if v.is_integer() {
                "int"
            } else {
                "float"
            }
        }
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq => {
            if v.is_tuple() {
                "tuple"
            } else {
                "list"
            }
        }
        ValueKind::Map => "dict",
        ValueKind::Iterable => "generator",
        _ => "object",
    }
}

/// The class ansible-core 2.19 gives a value read from YAML or variables,
/// as its plugins' error messages name it: strings and numbers carry origin
/// tags, lists and dicts are lazy templating containers.
pub fn ansible_type_name(v: &Value) -> &'static str {
    match py_type_name(v) {
        "str" => "_AnsibleTaggedStr",
        "int" => "_AnsibleTaggedInt",
        "float" => "_AnsibleTaggedFloat",
        "list" => "_AnsibleLazyTemplateList",
        "dict" => "_AnsibleLazyTemplateDict",
        other => other,
    }
}

/// [`ansible_type_name`] with its module, as Python's `type(v)` prints.
pub fn ansible_class_path(v: &Value) -> String {
    let name = ansible_type_name(v);
    if name.starts_with("_AnsibleTagged") {
        format!("ansible.module_utils._internal._datatag.{name}")
    } else if name.starts_with("_AnsibleLazy") {
        format!("ansible._internal._templating._lazy_containers.{name}")
    } else {
        name.to_owned()
    }
}

struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Arguments for the `%` operator: either positional values or a mapping.
pub enum PercentArgs<'a> {
    Positional(&'a [Value]),
    Mapping(&'a Value),
}

/// Implements Python's `format % args` operator.
pub fn percent_format(fmt: &str, args: PercentArgs<'_>) -> Result<String, Error> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut next_arg = 0usize;
    let positional: &[Value] = match args {
        PercentArgs::Positional(a) => a,
        PercentArgs::Mapping(_) => &[],
    };
    let mut take_arg = || -> Result<Value, Error> {
        let v = positional
            .get(next_arg)
            .cloned()
            .ok_or_else(|| fmt_err("not enough arguments for format string"))?;
        next_arg += 1;
        Ok(v)
    };
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        if i >= chars.len() {
            return Err(fmt_err("incomplete format"));
        }
        // mapping key
        let mut keyed: Option<Value> = None;
        if chars[i] == '(' {
            let mut depth = 1;
            let start = i + 1;
            i += 1;
            while i < chars.len() && depth > 0 {
                if chars[i] == '(' {
                    depth += 1;
                } else if chars[i] == ')' {
                    depth -= 1;
                }
                i += 1;
            }
            if depth > 0 {
                return Err(fmt_err("incomplete format key"));
            }
            let key: String = chars[start..i - 1].iter().collect();
            let map = match args {
                PercentArgs::Mapping(m) => m,
                PercentArgs::Positional(_) => {
                    return Err(fmt_err("format requires a mapping"));
                }
            };
            let v = map
                .get_item(&Value::from(key.as_str()))
                .unwrap_or(Value::UNDEFINED);
            if v.is_undefined() {
                return Err(fmt_err(format!("KeyError: {}", str_repr(&key))));
            }
            keyed = Some(v);
        }
        let mut spec = Spec {
            left: false,
            zero: false,
            plus: false,
            space: false,
            alt: false,
            width: None,
            precision: None,
        };
        while i < chars.len() {
            match chars[i] {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                _ => break,
            }
            i += 1;
        }
        if i < chars.len() && chars[i] == '*' {
            let w = take_arg()?;
            let w = i64::try_from(w).map_err(|_| fmt_err("* wants int"))?;
            if w < 0 {
                spec.left = true;
            }
            spec.width = Some(w.unsigned_abs() as usize);
            i += 1;
        } else {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i > start {
                let s: String = chars[start..i].iter().collect();
                spec.width = s.parse().ok();
            }
        }
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            if i < chars.len() && chars[i] == '*' {
                let p = take_arg()?;
                let p = i64::try_from(p).map_err(|_| fmt_err("* wants int"))?;
                spec.precision = Some(p.max(0) as usize);
                i += 1;
            } else {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                spec.precision = Some(s.parse().unwrap_or(0));
            }
        }
        if spec.width.is_some_and(|w| w > 10_000_000)
            || spec.precision.is_some_and(|p| p > 10_000_000)
        {
            return Err(fmt_err("width or precision too big"));
        }
        while i < chars.len() && matches!(chars[i], 'h' | 'l' | 'L') {
            i += 1;
        }
        if i >= chars.len() {
            return Err(fmt_err("incomplete format"));
        }
        let conv = chars[i];
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let arg = match keyed {
            Some(v) => v,
            None => take_arg()?,
        };
        let body = format_one(&arg, conv, &spec)?;
        out.push_str(&body);
    }
    if let PercentArgs::Positional(a) = args
        && next_arg < a.len()
    {
        return Err(fmt_err(
            "not all arguments converted during string formatting",
        ));
    }
    Ok(out)
}

fn pad(body: String, sign: &str, spec: &Spec, numeric: bool) -> String {
    let width = spec.width.unwrap_or(0);
    let len = body.chars().count() + sign.chars().count();
    if len >= width {
        return format!("{sign}{body}");
    }
    let fill = width - len;
    if spec.left {
        format!("{sign}{body}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        format!("{sign}{}{body}", "0".repeat(fill))
    } else {
        format!("{}{sign}{body}", " ".repeat(fill))
    }
}

fn sign_str(negative: bool, spec: &Spec) -> &'static str {
    if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn to_int_arg(v: &Value, conv: char) -> Result<i128, Error> {
    match v.kind() {
        ValueKind::Bool => Ok(v.is_true() as i128),
        ValueKind::Number => {
            if v.is_integer() {
                i128::try_from(v.clone()).map_err(|_| fmt_err("integer out of range"))
            } else if matches!(conv, 'd' | 'i' | 'u') {
                let f = f64::try_from(v.clone()).unwrap_or(0.0);
                if !f.is_finite() {
                    return Err(fmt_err("cannot convert float infinity/NaN to integer"));
                }
                Ok(f.trunc() as i128)
            } else {
                Err(fmt_err(format!(
                    "%{conv} format: an integer is required, not float"
                )))
            }
        }
        _ => Err(fmt_err(format!(
            "%{conv} format: a real number is required, not {}",
            py_type_name(v)
        ))),
    }
}

fn to_float_arg(v: &Value, conv: char) -> Result<f64, Error> {
    match v.kind() {
        ValueKind::Bool => Ok(v.is_true() as i64 as f64),
        ValueKind::Number => Ok(f64::try_from(v.clone()).unwrap_or(0.0)),
        _ => Err(fmt_err(format!(
            "%{conv} format: a real number is required, not {}",
            py_type_name(v)
        ))),
    }
}

fn format_one(arg: &Value, conv: char, spec: &Spec) -> Result<String, Error> {
    match conv {
        's' | 'r' | 'a' => {
            let mut s = if conv == 's' {
                py_str(arg)
            } else {
                py_repr(arg)
            };
            if conv == 'a' {
                s = s
                    .chars()
                    .map(|c| {
                        let cp = c as u32;
                        if cp < 0x80 {
                            c.to_string()
                        } else if cp <= 0xff {
                            format!("\\x{cp:02x}")
                        } else if cp <= 0xffff {
                            format!("\\u{cp:04x}")
                        } else {
                            format!("\\U{cp:08x}")
                        }
                    })
                    .collect();
            }
            if let Some(p) = spec.precision {
                s = s.chars().take(p).collect();
            }
            Ok(pad(s, "", spec, false))
        }
        'c' => {
            let s = if let Some(s) = arg.as_str() {
                if s.chars().count() != 1 {
                    return Err(fmt_err("%c requires int or char"));
                }
                s.to_string()
            } else {
                let n = to_int_arg(arg, 'c')?;
                u32::try_from(n)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| fmt_err("%c arg not in range(0x110000)"))?
                    .to_string()
            };
            Ok(pad(s, "", spec, false))
        }
        'd' | 'i' | 'u' | 'o' | 'x' | 'X' => {
            let n = to_int_arg(arg, conv)?;
            let negative = n < 0;
            let abs = n.unsigned_abs();
            let mut digits = match conv {
                'o' => format!("{abs:o}"),
                'x' => format!("{abs:x}"),
                'X' => format!("{abs:X}"),
                _ => abs.to_string(),
            };
            if let Some(p) = spec.precision
                && digits.len() < p
            {
                digits = format!("{}{}", "0".repeat(p - digits.len()), digits);
            }
            let mut sign = sign_str(negative, spec).to_string();
            if spec.alt {
                match conv {
                    'o' => sign.push_str("0o"),
                    'x' => sign.push_str("0x"),
                    'X' => sign.push_str("0X"),
                    _ => {}
                }
            }
            Ok(pad(digits, &sign, spec, true))
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let f = to_float_arg(arg, conv)?;
            let negative = f.is_sign_negative() && !f.is_nan();
            let sign = sign_str(negative, spec);
            let upper = conv.is_ascii_uppercase();
            if !f.is_finite() {
                let mut s = if f.is_nan() { "nan" } else { "inf" }.to_string();
                if upper {
                    s = s.to_uppercase();
                }
                return Ok(pad(s, sign, spec, false));
            }
            let prec = spec.precision.unwrap_or(6);
            let body = match conv.to_ascii_lowercase() {
                'f' => fmt_fixed(f.abs(), prec, spec.alt),
                'e' => fmt_exp(f.abs(), prec, spec.alt),
                _ => fmt_general(f.abs(), prec, spec.alt),
            };
            let body = if upper { body.to_uppercase() } else { body };
            Ok(pad(body, sign, spec, true))
        }
        other => Err(fmt_err(format!("unsupported format character '{other}'"))),
    }
}

/// `%.Nf` for a non-negative finite float.
pub fn fmt_fixed(f: f64, prec: usize, alt: bool) -> String {
    let mut s = format!("{:.*}", prec, f);
    if alt && prec == 0 {
        s.push('.');
    }
    s
}

/// `%.Ne` for a non-negative finite float.
pub fn fmt_exp(f: f64, prec: usize, alt: bool) -> String {
    let s = format!("{:.*e}", prec, f);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut mant = mant.to_string();
    if alt && prec == 0 {
        mant.push('.');
    }
    format!("{}{}", mant, format_exponent(exp))
}

/// `%.Ng` for a non-negative finite float.
pub fn fmt_general(f: f64, prec: usize, alt: bool) -> String {
    let p = if prec == 0 { 1 } else { prec };
    if f == 0.0 {
        let mut s = if alt {
            format!("{:.*}", p - 1, 0.0)
        } else {
            "0".to_string()
        };
        if alt && p == 1 {
            s.push('.');
        }
        return s;
    }
    let probe = format!("{:.*e}", p - 1, f);
    let exp: i32 = probe
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let mut s = if exp >= -4 && exp < p as i32 {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        format!("{:.*}", decimals, f)
    } else {
        let (mant, _) = probe.split_once('e').unwrap_or((&probe, ""));
        let mut mant = mant.to_string();
        if !alt && mant.contains('.') {
            mant = mant.trim_end_matches('0').trim_end_matches('.').to_string();
        }
        return format!("{}{}", mant, format_exponent(exp));
    };
    if !alt && s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    } else if alt && !s.contains('.') {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_float_repr() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(0.5), "0.5");
        assert_eq!(float_repr(1e20), "1e+20");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1234567890123456.0), "1234567890123456.0");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(0.00001), "1e-05");
        assert_eq!(float_repr(-1.5e-7), "-1.5e-07");
        assert_eq!(float_repr(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float_repr(f64::INFINITY), "inf");
        assert_eq!(float_repr(-0.0), "-0.0");
        assert_eq!(float_repr(123.456), "123.456");
    }

    #[test]
    fn test_repr() {
        let v = Value::from(minijinja::value::Serde(
            serde_json::json!([1, "a", true, null, 1.5, {"k": "it's"}]),
        ));
        assert_eq!(py_repr(&v), "[1, 'a', True, None, 1.5, {'k': \"it's\"}]");
        assert_eq!(str_repr("a\nb\\c\u{1}"), "'a\\nb\\\\c\\x01'");
        assert_eq!(str_repr("it's \"x\""), "'it\\'s \"x\"'");
        assert_eq!(str_repr("caf\u{e9}\u{a0}"), "'caf\u{e9}\\xa0'");
        assert_eq!(py_repr(&Value::from((1, "a"))), "(1, 'a')");
        assert_eq!(py_repr(&Value::from((1,))), "(1,)");
        assert_eq!(py_str(&Value::from("x")), "x");
    }

    #[test]
    fn test_percent() {
        let too_many = [Value::from(5), Value::from("x")];
        let err = percent_format("%d", PercentArgs::Positional(&too_many[..]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not all arguments converted during string formatting"));
        let args = [
            Value::from(5),
            Value::from("x"),
            Value::from(2.5),
            Value::from(12345.678),
            Value::from(255),
            Value::from(0.0001),
        ];
        assert_eq!(
            percent_format(
                "%03d|%-4s|%.2f|%.1e|%x|%%|%g",
                PercentArgs::Positional(&args[..])
            )
            .unwrap_or_default(),
            "005|x   |2.50|1.2e+04|ff|%|0.0001"
        );
        assert_eq!(fmt_general(1234567.0, 6, false), "1.23457e+06");
        assert_eq!(fmt_general(100000.0, 6, false), "100000");
        assert_eq!(fmt_general(0.5, 6, false), "0.5");
        assert_eq!(fmt_general(1e-5, 6, false), "1e-05");
    }

    #[test]
    fn test_splitlines() {
        assert_eq!(splitlines("a\nb\r\nc\rd\n"), vec!["a", "b", "c", "d"]);
        assert_eq!(splitlines(""), Vec::<&str>::new());
        assert_eq!(splitlines("a\n\nb"), vec!["a", "", "b"]);
    }
}

#[cfg(test)]
mod lead_tests {
    use super::*;

    #[test]
    fn floats_print_as_python() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(0.5), "0.5");
        assert_eq!(float_repr(1e20), "1e+20");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(0.00001), "1e-05");
        assert_eq!(float_repr(-2.5e-7), "-2.5e-07");
        assert_eq!(float_repr(123.456), "123.456");
        assert_eq!(float_repr(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn containers_print_as_python() {
        let v = crate::template::vmap([
            (
                "a",
                Value::from(vec![Value::from(1), Value::from("x'y"), Value::from(true)]),
            ),
            ("b", Value::from(())),
        ]);
        assert_eq!(py_repr(&v), r#"{'a': [1, "x'y", True], 'b': None}"#);
        assert_eq!(py_str(&Value::from("plain")), "plain");
        assert_eq!(py_repr(&Value::from("it's \"q\"")), r#"'it\'s "q"'"#);
        assert_eq!(py_repr(&Value::from("tab\there\n")), r"'tab\there\n'");
    }
}
