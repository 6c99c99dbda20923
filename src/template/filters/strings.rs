//! String, regex, path, encoding, hashing and serialization filters.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use md5::Md5;
use minijinja::value::{Rest, Tuple, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind};
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::pyfmt::{self, PercentArgs, py_type_name, splitlines, str_repr};
use super::pyjson::{self, JsonOptions};
use super::yaml_dump::{self, YamlOptions};
use super::yaml_load;
use super::{
    R, bind, bind_extra, defined, is_list, is_map, list_items, map_pairs, op_err, py_list, py_repr,
    py_str, split_args, str_value,
};
use crate::pyre::{self, Anchor};

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("default", f_default);
    env.add_filter("d", f_default);
    env.add_filter("mandatory", f_mandatory);
    env.add_filter("bool", f_bool);
    env.add_filter("int", f_int);
    env.add_filter("float", f_float);
    env.add_filter("string", f_string);
    env.add_filter("length", f_length);
    env.add_filter("count", f_length);
    env.add_filter("join", f_join);
    env.add_filter("lower", f_lower);
    env.add_filter("upper", f_upper);
    env.add_filter("capitalize", f_capitalize);
    env.add_filter("title", f_title);
    env.add_filter("trim", f_trim);
    env.add_filter("replace", f_replace);
    env.add_filter("center", f_center);
    env.add_filter("wordcount", f_wordcount);
    env.add_filter("indent", f_indent);
    env.add_filter("truncate", f_truncate);
    env.add_filter("split", f_split);
    env.add_filter("format", f_format);
    env.add_filter("type_debug", f_type_debug);
    env.add_filter("regex_replace", f_regex_replace);
    env.add_filter("regex_search", f_regex_search);
    env.add_filter("regex_findall", f_regex_findall);
    env.add_filter("regex_escape", f_regex_escape);
    env.add_filter("basename", f_basename);
    env.add_filter("dirname", f_dirname);
    env.add_filter("expanduser", f_expanduser);
    env.add_filter("expandvars", f_expandvars);
    env.add_filter("realpath", f_realpath);
    env.add_filter("relpath", f_relpath);
    env.add_filter("normpath", f_normpath);
    env.add_filter("path_join", f_path_join);
    env.add_filter("splitext", f_splitext);
    env.add_filter("commonpath", f_commonpath);
    env.add_filter("win_basename", f_win_basename);
    env.add_filter("win_dirname", f_win_dirname);
    env.add_filter("win_splitdrive", f_win_splitdrive);
    env.add_filter("to_json", f_to_json);
    env.add_filter("to_nice_json", f_to_nice_json);
    env.add_filter("from_json", f_from_json);
    env.add_filter("to_yaml", f_to_yaml);
    env.add_filter("to_nice_yaml", f_to_nice_yaml);
    env.add_filter("from_yaml", f_from_yaml);
    env.add_filter("from_yaml_all", f_from_yaml_all);
    env.add_filter("b64encode", f_b64encode);
    env.add_filter("b64decode", f_b64decode);
    env.add_filter("quote", f_quote);
    env.add_filter("comment", f_comment);
    env.add_filter("hash", f_hash);
    env.add_filter("checksum", f_sha1);
    env.add_filter("sha1", f_sha1);
    env.add_filter("md5", f_md5);
    env.add_filter("to_uuid", f_to_uuid);
    env.add_filter("urlencode", f_urlencode);
    env.add_filter("urlsplit", f_urlsplit);
    env.add_filter("strftime", f_strftime);
    env.add_filter("filesizeformat", f_filesizeformat);
    env.add_filter("pprint", f_pprint);
}

/// `str()` of a defined value.
fn text(v: &Value) -> Result<String, Error> {
    defined(v)?;
    Ok(py_str(v))
}

// ---------------------------------------------------------------------------
// core
// ---------------------------------------------------------------------------

fn f_default(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("default", args, &["default_value", "boolean"])?;
    let default_value = b.val(0).cloned().unwrap_or_else(|| Value::from(""));
    let boolean = b.flag(1, false);
    if value.is_undefined() || (boolean && !value.is_true()) {
        Ok(default_value)
    } else {
        Ok(value)
    }
}

fn f_mandatory(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("mandatory", args, &["msg"])?;
    if value.is_undefined() {
        if let Some(msg) = b.opt_string(0) {
            return Err(op_err(msg));
        }
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "Mandatory variable not defined.",
        ));
    }
    Ok(value)
}

/// The `bool` filter as ansible-core implements it.
pub(super) fn filter_bool(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Bool => v.is_true(),
        ValueKind::String => matches!(
            v.as_str().unwrap_or_default().to_lowercase().as_str(),
            "yes" | "on" | "true" | "1"
        ),
        ValueKind::Number => f64::try_from(v.clone()).is_ok_and(|f| f == 1.0),
        _ => false,
    }
}

fn f_bool(value: Value) -> R {
    defined(&value)?;
    Ok(Value::from(filter_bool(&value)))
}

/// Removes single underscores between digits like Python's number parsers;
/// `None` if underscores are misplaced.
fn strip_underscores(s: &str, is_digit: impl Fn(char) -> bool) -> Option<String> {
    if !s.contains('_') {
        return Some(s.to_string());
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            let prev_ok = i > 0 && is_digit(chars[i - 1]);
            let next_ok = chars.get(i + 1).is_some_and(|&n| is_digit(n));
            if !prev_ok || !next_ok {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Python's `int(s, base)`.
pub(super) fn py_int_parse(s: &str, base: u32) -> Option<i128> {
    let s = s.trim();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = rest.to_ascii_lowercase();
    let (radix, digits): (u32, &str) = match base {
        0 => {
            if let Some(d) = lower.strip_prefix("0x") {
                (16, d)
            } else if let Some(d) = lower.strip_prefix("0o") {
                (8, d)
            } else if let Some(d) = lower.strip_prefix("0b") {
                (2, d)
            } else {
                let d = lower.as_str();
                let stripped = d.replace('_', "");
                if stripped.len() > 1
                    && stripped.starts_with('0')
                    && stripped.chars().any(|c| c != '0')
                {
                    return None;
                }
                (10, d)
            }
        }
        16 => (16, lower.strip_prefix("0x").unwrap_or(&lower)),
        8 => (8, lower.strip_prefix("0o").unwrap_or(&lower)),
        2 => (2, lower.strip_prefix("0b").unwrap_or(&lower)),
        3..=36 => (base, lower.as_str()),
        _ => return None,
    };
    // a prefix may be followed by an underscore: 0x_1f
    let had_prefix = digits.len() != lower.len();
    let digits = if had_prefix {
        digits.strip_prefix('_').unwrap_or(digits)
    } else {
        digits
    };
    let clean = strip_underscores(digits, |c| c.is_digit(radix))?;
    if clean.is_empty() || !clean.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = i128::from_str_radix(&clean, radix).ok()?;
    Some(if neg { -n } else { n })
}

/// Python's `float(s)`.
pub(super) fn py_float_parse(s: &str) -> Option<f64> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if lower.len() - body.len() > 1 {
        return None;
    }
    let neg = lower.starts_with('-');
    let special = match body {
        "inf" | "infinity" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    };
    if let Some(f) = special {
        return Some(if neg { -f } else { f });
    }
    if !body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-' | '_'))
    {
        return None;
    }
    let clean = strip_underscores(&lower, |c| c.is_ascii_digit())?;
    clean.parse::<f64>().ok()
}

fn int_value(n: i128) -> Value {
    match i64::try_from(n) {
        Ok(i) => Value::from(i),
        Err(_) => Value::from(n),
    }
}

fn f_int(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("int", args, &["default", "base"])?;
    let default = b.val(0).cloned().unwrap_or_else(|| Value::from(0));
    let base = b.int(1, 10)?;
    let from_float = |f: f64| -> R {
        if f.is_nan() {
            Ok(default.clone())
        } else if f.is_infinite() {
            Err(op_err("cannot convert float infinity to integer"))
        } else {
            Ok(int_value(f.trunc() as i128))
        }
    };
    match value.kind() {
        ValueKind::Bool => Ok(Value::from(value.is_true() as i64)),
        ValueKind::Number => {
            if value.is_integer() {
                Ok(value)
            } else {
                from_float(f64::try_from(value.clone()).unwrap_or(0.0))
            }
        }
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default();
            let base = u32::try_from(base).unwrap_or(u32::MAX);
            if let Some(n) = py_int_parse(s, base) {
                return Ok(int_value(n));
            }
            match py_float_parse(s) {
                Some(f) if f.is_finite() => Ok(int_value(f.trunc() as i128)),
                _ => Ok(default),
            }
        }
        _ => Ok(default),
    }
}

fn f_float(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("float", args, &["default"])?;
    let default = b.val(0).cloned().unwrap_or_else(|| Value::from(0.0));
    Ok(match value.kind() {
        ValueKind::Bool => Value::from(if value.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => Value::from(f64::try_from(value.clone()).unwrap_or(0.0)),
        ValueKind::String => match py_float_parse(value.as_str().unwrap_or_default()) {
            Some(f) => Value::from(f),
            None => default,
        },
        _ => default,
    })
}

fn f_string(value: Value) -> R {
    defined(&value)?;
    if value.kind() == ValueKind::String {
        return Ok(value);
    }
    Ok(str_value(py_str(&value)))
}

fn f_length(value: Value) -> R {
    defined(&value)?;
    let n = match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().chars().count(),
        ValueKind::Bytes => value.as_bytes().map(|b| b.len()).unwrap_or(0),
        ValueKind::Seq | ValueKind::Map => value.len().unwrap_or_else(|| list_items(&value).len()),
        ValueKind::Iterable => list_items(&value).len(),
        _ => {
            return Err(op_err(format!(
                "object of type '{}' has no len()",
                py_type_name(&value)
            )));
        }
    };
    Ok(Value::from(n))
}

fn f_join(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("join", args, &["d", "attribute"])?;
    let sep = b.string(0, "");
    let items = py_list(&value)?;
    let attr = b.opt_string(1);
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        let item = match &attr {
            Some(a) => super::get_path(&item, a),
            None => item,
        };
        defined(&item)?;
        parts.push(py_str(&item));
    }
    Ok(str_value(parts.join(&sep)))
}

fn f_lower(value: Value) -> R {
    Ok(str_value(text(&value)?.to_lowercase()))
}

fn f_upper(value: Value) -> R {
    Ok(str_value(text(&value)?.to_uppercase()))
}

/// Title case of a character (differs from upper case only for digraphs).
fn titlecase(c: char) -> String {
    match c {
        '\u{1c4}'..='\u{1c6}' => "\u{1c5}".into(),
        '\u{1c7}'..='\u{1c9}' => "\u{1c8}".into(),
        '\u{1ca}'..='\u{1cc}' => "\u{1cb}".into(),
        '\u{1f1}'..='\u{1f3}' => "\u{1f2}".into(),
        c => c.to_uppercase().collect(),
    }
}

/// Python's `str.capitalize()`.
fn py_capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => {
            let mut out = titlecase(first);
            out.push_str(&chars.as_str().to_lowercase());
            out
        }
        None => String::new(),
    }
}

fn capitalize_word(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(&chars.as_str().to_lowercase());
            out
        }
        None => String::new(),
    }
}

fn f_capitalize(value: Value) -> R {
    Ok(str_value(py_capitalize(&text(&value)?)))
}

fn f_title(value: Value) -> R {
    let s = text(&value)?;
    // Jinja splits at runs of `-`, whitespace and opening brackets
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    for c in s.chars() {
        if c == '-' || c.is_whitespace() || matches!(c, '(' | '{' | '[' | '<') {
            out.push_str(&capitalize_word(&word));
            word.clear();
            out.push(c);
        } else {
            word.push(c);
        }
    }
    out.push_str(&capitalize_word(&word));
    Ok(str_value(out))
}

fn f_trim(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("trim", args, &["chars"])?;
    let s = text(&value)?;
    let out = match b.opt_string(0) {
        Some(chars) => {
            let set: Vec<char> = chars.chars().collect();
            s.trim_matches(&set[..]).to_string()
        }
        None => s.trim().to_string(),
    };
    Ok(str_value(out))
}

fn f_replace(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("replace", args, &["old", "new", "count"])?;
    let s = text(&value)?;
    let old = b.string(0, "");
    let new = b.string(1, "");
    let count = b.opt_int(2)?;
    let out = match count {
        Some(n) if n >= 0 => s.replacen(&old, &new, n as usize),
        _ => s.replace(&old, &new),
    };
    Ok(str_value(out))
}

fn f_center(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("center", args, &["width"])?;
    let s = text(&value)?;
    let width = b.int(0, 80)?;
    super::check_size(width, "width")?;
    let len = s.chars().count() as i64;
    if width <= len {
        return Ok(str_value(s));
    }
    let marg = width - len;
    let left = marg / 2 + (marg & width & 1);
    let right = marg - left;
    Ok(str_value(format!(
        "{}{}{}",
        " ".repeat(left as usize),
        s,
        " ".repeat(right as usize)
    )))
}

fn f_wordcount(value: Value) -> R {
    let s = text(&value)?;
    let mut count = 0;
    let mut in_word = false;
    for c in s.chars() {
        let w = c.is_alphanumeric() || c == '_';
        if w && !in_word {
            count += 1;
        }
        in_word = w;
    }
    Ok(Value::from(count))
}

fn f_indent(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("indent", args, &["width", "first", "blank"])?;
    let s = text(&value)?;
    let indention = match b.opt(0) {
        Some(w) if w.kind() == ValueKind::String => py_str(w),
        Some(_) => " ".repeat(super::check_size(b.int(0, 4)?, "width")?),
        None => "    ".to_string(),
    };
    let first = b.flag(1, false);
    let blank = b.flag(2, false);
    let s = format!("{s}\n");
    let lines = splitlines(&s);
    let mut rv = if blank {
        lines.join(&format!("\n{indention}"))
    } else {
        let mut iter = lines.into_iter();
        let mut rv = iter.next().unwrap_or_default().to_string();
        let rest: Vec<String> = iter
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{indention}{l}")
                }
            })
            .collect();
        if !rest.is_empty() {
            rv.push('\n');
            rv.push_str(&rest.join("\n"));
        }
        rv
    };
    if first {
        rv = format!("{indention}{rv}");
    }
    Ok(str_value(rv))
}

fn f_truncate(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("truncate", args, &["length", "killwords", "end", "leeway"])?;
    let s = text(&value)?;
    let length = b.int(0, 255)?.max(0) as usize;
    let killwords = b.flag(1, false);
    let end = b.string(2, "...");
    let leeway = b.int(3, 5)?.max(0) as usize;
    let end_len = end.chars().count();
    if length < end_len {
        return Err(op_err(format!(
            "expected length >= {end_len}, got {length}"
        )));
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= length + leeway {
        return Ok(str_value(s));
    }
    let head: String = chars[..length - end_len].iter().collect();
    if killwords {
        return Ok(str_value(format!("{head}{end}")));
    }
    let head = match head.rsplit_once(' ') {
        Some((a, _)) => a.to_string(),
        None => head,
    };
    Ok(str_value(format!("{head}{end}")))
}

/// Python's `str.split(sep, maxsplit)`.
pub(super) fn py_split(s: &str, sep: Option<&str>, maxsplit: i64) -> Result<Vec<String>, Error> {
    let limit = if maxsplit < 0 {
        usize::MAX
    } else {
        maxsplit as usize
    };
    match sep {
        Some("") => Err(op_err("empty separator")),
        Some(sep) => {
            if limit == usize::MAX {
                Ok(s.split(sep).map(str::to_string).collect())
            } else {
                Ok(s.splitn(limit + 1, sep).map(str::to_string).collect())
            }
        }
        None => {
            let mut out = Vec::new();
            let mut rest = s.trim_start();
            while !rest.is_empty() {
                if out.len() == limit {
                    out.push(rest.to_string());
                    break;
                }
                match rest.find(char::is_whitespace) {
                    Some(idx) => {
                        out.push(rest[..idx].to_string());
                        rest = rest[idx..].trim_start();
                    }
                    None => {
                        out.push(rest.to_string());
                        break;
                    }
                }
            }
            Ok(out)
        }
    }
}

fn f_split(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("split", args, &["sep", "maxsplit"])?;
    let s = text(&value)?;
    let sep = b.opt_string(0);
    let maxsplit = b.int(1, -1)?;
    let parts = py_split(&s, sep.as_deref(), maxsplit)?;
    Ok(Value::from(parts))
}

fn f_format(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let fmt = text(&value)?;
    let (pos, kw) = split_args(args.into_values())?;
    if !pos.is_empty() && !kw.is_empty() {
        return Err(op_err(
            "can't handle positional and keyword arguments at the same time",
        ));
    }
    let out = if kw.is_empty() {
        pyfmt::percent_format(&fmt, PercentArgs::Positional(&pos))?
    } else {
        let map = Value::from_pairs(kw);
        pyfmt::percent_format(&fmt, PercentArgs::Mapping(&map))?
    };
    Ok(str_value(out))
}

fn f_type_debug(value: Value) -> R {
    Ok(Value::from(py_type_name(&value)))
}

/// Jinja's `filesizeformat`.
fn f_filesizeformat(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("filesizeformat", args, &["binary"])?;
    let bytes = match value.kind() {
        ValueKind::Number | ValueKind::Bool => {
            f64::try_from(value.clone()).unwrap_or(value.is_true() as i64 as f64)
        }
        ValueKind::String => {
            py_float_parse(value.as_str().unwrap_or_default()).ok_or_else(|| {
                op_err(format!(
                    "could not convert string to float: {}",
                    str_repr(value.as_str().unwrap_or_default())
                ))
            })?
        }
        _ => {
            return Err(op_err(format!(
                "float() argument must be a string or a real number, not '{}'",
                py_type_name(&value)
            )));
        }
    };
    let binary = b.flag(0, false);
    let base = if binary { 1024f64 } else { 1000f64 };
    let prefixes: [&str; 8] = if binary {
        ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
    } else {
        ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    };
    if bytes == 1.0 {
        return Ok(Value::from("1 Byte"));
    }
    if bytes < base {
        return Ok(Value::from(format!("{} Bytes", bytes.trunc() as i128)));
    }
    let mut unit = base;
    let mut prefix = prefixes[0];
    for (i, p) in prefixes.iter().enumerate() {
        unit = base.powi(i as i32 + 2);
        prefix = p;
        if bytes < unit {
            break;
        }
    }
    Ok(Value::from(format!(
        "{} {prefix}",
        pyfmt::fmt_fixed(base * bytes / unit, 1, false)
    )))
}

/// Jinja's `pprint` (Python's `pformat` for values that fit on a line).
fn f_pprint(value: Value) -> R {
    defined(&value)?;
    Ok(str_value(py_repr(&value)))
}

// ---------------------------------------------------------------------------
// regex
// ---------------------------------------------------------------------------

fn f_regex_replace(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind(
        "regex_replace",
        args,
        &[
            "pattern",
            "replacement",
            "ignorecase",
            "multiline",
            "count",
            "mandatory_count",
        ],
    )?;
    let s = text(&value)?;
    let pattern = b.string(0, "");
    let replacement = b.string(1, "");
    let re = pyre::compile(&pattern, b.flag(2, false), b.flag(3, false), Anchor::Search)
        .map_err(super::regex_error)?;
    let count = b.int(4, 0)?.max(0) as usize;
    let mandatory = b.int(5, 0)?;
    let (out, subs) = pyre::subn(&re, &replacement, &s, count).map_err(super::regex_error)?;
    if mandatory != 0 && mandatory != subs as i64 {
        return Err(op_err(format!(
            "'{pattern}' should match {mandatory} times, but matches {subs} times in '{s}'"
        )));
    }
    Ok(str_value(out))
}

enum GroupRef {
    Index(usize),
    Name(String),
}

fn f_regex_search(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let s = text(&value)?;
    let (pos, kw) = split_args(args.into_values())?;
    let mut pos = pos.into_iter();
    let pattern = pos.next().map(|p| py_str(&p)).ok_or_else(|| {
        Error::new(
            ErrorKind::MissingArgument,
            "regex_search() requires a regex",
        )
    })?;
    let mut groups = Vec::new();
    for arg in pos {
        let a = py_str(&arg);
        if let Some(rest) = a.strip_prefix("\\g<") {
            let name = rest
                .split_once('>')
                .map(|(n, _)| n)
                .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace))
                .ok_or_else(|| op_err("Unknown argument"))?;
            match name.parse::<usize>() {
                Ok(n) => groups.push(GroupRef::Index(n)),
                Err(_) => groups.push(GroupRef::Name(name.to_string())),
            }
        } else if let Some(rest) = a.strip_prefix('\\') {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            let n = digits
                .parse::<usize>()
                .map_err(|_| op_err("Unknown argument"))?;
            groups.push(GroupRef::Index(n));
        } else {
            return Err(op_err("Unknown argument"));
        }
    }
    let flag = |name: &str| {
        kw.iter()
            .find(|(k, _)| k == name)
            .is_some_and(|(_, v)| v.is_true())
    };
    let re = pyre::compile(
        &pattern,
        flag("ignorecase"),
        flag("multiline"),
        Anchor::Search,
    )
    .map_err(super::regex_error)?;
    let Some(caps) = re.captures(&s) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(str_value(
            caps.get(0)
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        ));
    }
    let mut items = Vec::new();
    for g in groups {
        let m = match &g {
            GroupRef::Index(i) => {
                if *i >= re.captures_len() {
                    return Err(op_err(format!("no such group: {i}")));
                }
                caps.get(*i)
            }
            GroupRef::Name(n) => {
                if !re.capture_names().any(|x| x == Some(n.as_str())) {
                    return Err(op_err(format!("no such group: {n}")));
                }
                caps.name(n)
            }
        };
        items.push(match m {
            Some(m) => Value::from(m.as_str()),
            None => Value::from(()),
        });
    }
    Ok(Value::from(items))
}

fn f_regex_findall(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("regex_findall", args, &["regex", "multiline", "ignorecase"])?;
    let s = text(&value)?;
    let pattern = b.string(0, "");
    let re = pyre::compile(&pattern, b.flag(2, false), b.flag(1, false), Anchor::Search)
        .map_err(super::regex_error)?;
    let ngroups = re.captures_len() - 1;
    let mut out = Vec::new();
    for caps in pyre::py_captures_iter(&re, &s) {
        let g = |i: usize| Value::from(caps.get(i).map(|m| m.as_str()).unwrap_or(""));
        out.push(match ngroups {
            0 => g(0),
            1 => g(1),
            n => Value::from(Tuple::from((1..=n).map(g).collect::<Vec<_>>())),
        });
    }
    Ok(Value::from(out))
}

fn f_regex_escape(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("regex_escape", args, &["re_type"])?;
    let s = text(&value)?;
    let special: &str = match b.string(0, "python").as_str() {
        "python" => return Ok(str_value(pyre::escape(&s))),
        "posix_basic" => "].[^$*\\",
        "posix_extended" => "^$.*+?[]|(){}\\",
        other => return Err(op_err(format!("Invalid regex type ({other})"))),
    };
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(str_value(out))
}

// ---------------------------------------------------------------------------
// paths
// ---------------------------------------------------------------------------

pub(super) fn basename(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

pub(super) fn dirname(p: &str) -> String {
    let i = p.rfind('/').map_or(0, |i| i + 1);
    let head = &p[..i];
    if !head.is_empty() && !head.chars().all(|c| c == '/') {
        head.trim_end_matches('/').to_string()
    } else {
        head.to_string()
    }
}

fn home_dir(user: Option<&str>) -> Option<String> {
    match user {
        None => std::env::var("HOME").ok().or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir.to_string_lossy().into_owned())
        }),
        Some(name) => nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(|u| u.dir.to_string_lossy().into_owned()),
    }
}

/// Python's `os.path.expanduser`.
pub(super) fn expanduser(p: &str) -> String {
    if !p.starts_with('~') {
        return p.to_string();
    }
    let end = p.find('/').unwrap_or(p.len());
    let user = &p[1..end];
    let home = if user.is_empty() {
        home_dir(None)
    } else {
        home_dir(Some(user))
    };
    match home {
        Some(h) => {
            let h = if h == "/" {
                ""
            } else {
                h.trim_end_matches('/')
            };
            let rest = &p[end..];
            let joined = format!("{h}{rest}");
            if joined.is_empty() {
                "/".into()
            } else {
                joined
            }
        }
        None => p.to_string(),
    }
}

/// Python's `os.path.expandvars`.
pub(super) fn expandvars(p: &str) -> String {
    if !p.contains('$') {
        return p.to_string();
    }
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len());
    let mut i = 0;
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        if chars[i] != '$' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let (name, end) = if chars.get(i + 1) == Some(&'{') {
            match chars[i + 2..].iter().position(|&c| c == '}') {
                Some(rel) => (
                    chars[i + 2..i + 2 + rel].iter().collect::<String>(),
                    i + 3 + rel,
                ),
                None => (String::new(), i + 1),
            }
        } else {
            let mut j = i + 1;
            while j < chars.len() && is_name(chars[j]) {
                j += 1;
            }
            (chars[i + 1..j].iter().collect(), j)
        };
        match (!name.is_empty())
            .then(|| std::env::var(&name).ok())
            .flatten()
        {
            Some(val) => {
                out.push_str(&val);
                i = end;
            }
            None => {
                out.push('$');
                i += 1;
            }
        }
    }
    out
}

/// Python's `os.path.normpath` (POSIX).
pub(super) fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        2
    } else if p.starts_with('/') {
        1
    } else {
        0
    };
    let mut comps: Vec<&str> = Vec::new();
    for c in p.split('/') {
        if c.is_empty() || c == "." {
            continue;
        }
        if c != ".." || (initial == 0 && comps.is_empty()) || comps.last() == Some(&"..") {
            comps.push(c);
        } else if !comps.is_empty() {
            comps.pop();
        }
    }
    let joined = comps.join("/");
    let out = format!("{}{}", "/".repeat(initial), joined);
    if out.is_empty() { ".".into() } else { out }
}

fn abspath(p: &str) -> String {
    if p.starts_with('/') {
        normpath(p)
    } else {
        let cwd = std::env::current_dir()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "/".into());
        normpath(&format!("{cwd}/{p}"))
    }
}

/// Python's `os.path.join`.
pub(super) fn path_join(parts: &[String]) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if part.starts_with('/') {
            out = part.clone();
        } else if i == 0 || out.is_empty() || out.ends_with('/') {
            out.push_str(part);
        } else {
            out.push('/');
            out.push_str(part);
        }
    }
    out
}

/// Python's `os.path.realpath` (non-strict).
pub(super) fn realpath(p: &str) -> String {
    let abs = abspath(p);
    if let Ok(c) = std::fs::canonicalize(&abs) {
        return c.to_string_lossy().into_owned();
    }
    // resolve the longest existing prefix, keep the rest lexically
    let comps: Vec<&str> = abs.split('/').filter(|c| !c.is_empty()).collect();
    for cut in (0..comps.len()).rev() {
        let prefix = format!("/{}", comps[..cut].join("/"));
        if let Ok(c) = std::fs::canonicalize(&prefix) {
            let base = c.to_string_lossy().into_owned();
            let rest = comps[cut..].join("/");
            return normpath(&format!("{base}/{rest}"));
        }
    }
    abs
}

fn f_basename(value: Value) -> R {
    Ok(str_value(basename(&text(&value)?).to_string()))
}

fn f_dirname(value: Value) -> R {
    Ok(str_value(dirname(&text(&value)?)))
}

fn f_expanduser(value: Value) -> R {
    Ok(str_value(expanduser(&text(&value)?)))
}

fn f_expandvars(value: Value) -> R {
    Ok(str_value(expandvars(&text(&value)?)))
}

fn f_realpath(value: Value) -> R {
    Ok(str_value(realpath(&text(&value)?)))
}

fn f_normpath(value: Value) -> R {
    Ok(str_value(normpath(&text(&value)?)))
}

fn f_relpath(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("relpath", args, &["start"])?;
    let path = text(&value)?;
    if path.is_empty() {
        return Err(op_err("no path specified"));
    }
    let start = b.string(0, ".");
    let path = abspath(&path);
    let start = abspath(&start);
    let pc: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let sc: Vec<&str> = start.split('/').filter(|c| !c.is_empty()).collect();
    let common = pc.iter().zip(sc.iter()).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; sc.len() - common];
    parts.extend(&pc[common..]);
    if parts.is_empty() {
        return Ok(Value::from("."));
    }
    Ok(str_value(parts.join("/")))
}

fn f_path_join(value: Value) -> R {
    defined(&value)?;
    match value.kind() {
        ValueKind::String => Ok(value),
        ValueKind::Seq | ValueKind::Iterable => {
            let parts: Vec<String> = list_items(&value).iter().map(py_str).collect();
            Ok(str_value(path_join(&parts)))
        }
        _ => Err(op_err(format!(
            "|path_join expects string or sequence, got <class '{}'> instead.",
            py_type_name(&value)
        ))),
    }
}

/// Python's `os.path.splitext` (POSIX).
pub(super) fn splitext(p: &str) -> (String, String) {
    let sep = p.rfind('/').map_or(0, |i| i + 1);
    let Some(dot) = p.rfind('.') else {
        return (p.to_string(), String::new());
    };
    if dot > sep {
        // leading dots of the file name don't start an extension
        let name = &p[sep..dot];
        if name.chars().any(|c| c != '.') {
            return (p[..dot].to_string(), p[dot..].to_string());
        }
    }
    (p.to_string(), String::new())
}

fn f_splitext(value: Value) -> R {
    let (a, b) = splitext(&text(&value)?);
    Ok(Value::from(Tuple::from(vec![
        Value::from(a),
        Value::from(b),
    ])))
}

fn f_commonpath(value: Value) -> R {
    defined(&value)?;
    if !is_list(&value) {
        return Err(op_err(format!(
            "|commonpath expects sequence, got <class '{}'> instead.",
            py_type_name(&value)
        )));
    }
    let paths: Vec<String> = list_items(&value).iter().map(py_str).collect();
    if paths.is_empty() {
        return Err(op_err("commonpath() arg is an empty sequence"));
    }
    let abs = paths[0].starts_with('/');
    if paths.iter().any(|p| p.starts_with('/') != abs) {
        return Err(op_err("Can't mix absolute and relative paths"));
    }
    let split: Vec<Vec<&str>> = paths
        .iter()
        .map(|p| {
            p.split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect()
        })
        .collect();
    let mut common: Vec<&str> = split[0].clone();
    for s in &split[1..] {
        let n = common
            .iter()
            .zip(s.iter())
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(n);
    }
    let prefix = if abs { "/" } else { "" };
    Ok(str_value(format!("{prefix}{}", common.join("/"))))
}

fn win_splitdrive(p: &str) -> (String, String) {
    let norm = p.replace('/', "\\");
    if norm.starts_with("\\\\") && !norm.starts_with("\\\\\\") {
        // UNC path: \\server\share
        let rest = &norm[2..];
        if let Some(i) = rest.find('\\') {
            let after = &rest[i + 1..];
            let j = after.find('\\').map_or(after.len(), |j| j);
            if j > 0 {
                let end = 2 + i + 1 + j;
                return (p[..end].to_string(), p[end..].to_string());
            }
        }
        return (String::new(), p.to_string());
    }
    let chars: Vec<char> = p.chars().collect();
    if chars.len() >= 2 && chars[1] == ':' {
        let cut = chars[0].len_utf8() + 1;
        return (p[..cut].to_string(), p[cut..].to_string());
    }
    (String::new(), p.to_string())
}

fn f_win_splitdrive(value: Value) -> R {
    let (a, b) = win_splitdrive(&text(&value)?);
    Ok(Value::from(Tuple::from(vec![
        Value::from(a),
        Value::from(b),
    ])))
}

fn f_win_basename(value: Value) -> R {
    let s = text(&value)?;
    let (_, rest) = win_splitdrive(&s);
    let i = rest.rfind(['/', '\\']).map_or(0, |i| i + 1);
    Ok(str_value(rest[i..].to_string()))
}

fn f_win_dirname(value: Value) -> R {
    let s = text(&value)?;
    let (drive, rest) = win_splitdrive(&s);
    let i = rest.rfind(['/', '\\']).map_or(0, |i| i + 1);
    let head = &rest[..i];
    let head = if !head.is_empty() && !head.chars().all(|c| c == '/' || c == '\\') {
        head.trim_end_matches(['/', '\\'])
    } else {
        head
    };
    Ok(str_value(format!("{drive}{head}")))
}

// ---------------------------------------------------------------------------
// serialization
// ---------------------------------------------------------------------------

fn json_options(b: &super::Bound, mut opts: JsonOptions) -> Result<JsonOptions, Error> {
    let mut separators_given = false;
    for (key, v) in &b.extra {
        match key.as_str() {
            "indent" => {
                opts.indent = if v.is_none() {
                    None
                } else if v.kind() == ValueKind::String {
                    Some(py_str(v))
                } else {
                    let n = super::to_i64(v)
                        .ok_or_else(|| op_err("to_json: indent must be an integer or string"))?;
                    Some(" ".repeat(n.max(0) as usize))
                };
            }
            "sort_keys" => opts.sort_keys = v.is_true(),
            "ensure_ascii" => opts.ensure_ascii = v.is_true(),
            "allow_nan" => opts.allow_nan = v.is_true(),
            "skipkeys" => opts.skipkeys = v.is_true(),
            "separators" => {
                if v.is_none() {
                    continue;
                }
                let items = list_items(v);
                if items.len() != 2 {
                    return Err(op_err("to_json: separators must be a pair of strings"));
                }
                opts.item_separator = py_str(&items[0]);
                opts.key_separator = py_str(&items[1]);
                separators_given = true;
            }
            "check_circular" | "vault_to_text" | "preprocess_unsafe" | "profile" => {}
            other => {
                return Err(Error::new(
                    ErrorKind::TooManyArguments,
                    format!("to_json() got an unexpected keyword argument '{other}'"),
                ));
            }
        }
    }
    if opts.indent.is_some() && !separators_given && opts.item_separator == ", " {
        opts.item_separator = ",".into();
    }
    Ok(opts)
}

fn f_to_json(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind_extra("to_json", args, &[])?;
    let opts = json_options(&b, JsonOptions::default())?;
    Ok(str_value(pyjson::dumps(&value, &opts)?))
}

fn f_to_nice_json(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let mut b = bind_extra("to_nice_json", args, &["indent", "sort_keys"])?;
    b.extra.retain(|(k, _)| k != "separators");
    let mut opts = json_options(&b, JsonOptions::default())?;
    opts.indent = match b.opt(0) {
        Some(v) if v.kind() == ValueKind::String => Some(py_str(v)),
        _ => Some(" ".repeat(b.int(0, 4)?.max(0) as usize)),
    };
    opts.sort_keys = b.flag(1, true);
    opts.item_separator = ",".into();
    opts.key_separator = ": ".into();
    Ok(str_value(pyjson::dumps(&value, &opts)?))
}

fn f_from_json(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let _ = bind_extra("from_json", args, &["profile"])?;
    match value.as_str() {
        Some(s) => pyjson::loads(s),
        None => Err(op_err(format!(
            "the JSON object must be str, bytes or bytearray, not {}",
            py_type_name(&value)
        ))),
    }
}

fn yaml_options(b: &super::Bound, mut opts: YamlOptions) -> Result<YamlOptions, Error> {
    for (key, v) in &b.extra {
        match key.as_str() {
            "default_flow_style" => {
                opts.default_flow_style = if v.is_none() { None } else { Some(v.is_true()) }
            }
            "indent" => {
                if let Some(n) = super::to_i64(v) {
                    opts.indent = n.max(0) as usize;
                }
            }
            "width" => {
                if let Some(n) = super::to_i64(v) {
                    opts.width = n.max(0) as usize;
                }
            }
            "sort_keys" => opts.sort_keys = v.is_true(),
            "allow_unicode" => opts.allow_unicode = v.is_true(),
            "explicit_start" => opts.explicit_start = v.is_true(),
            "explicit_end" => opts.explicit_end = v.is_true(),
            "vault_behavior" | "encoding" | "line_break" | "canonical" => {}
            other => {
                return Err(Error::new(
                    ErrorKind::TooManyArguments,
                    format!("to_yaml() got an unexpected keyword argument '{other}'"),
                ));
            }
        }
    }
    Ok(opts)
}

fn f_to_yaml(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind_extra("to_yaml", args, &[])?;
    let opts = yaml_options(&b, YamlOptions::default())?;
    Ok(str_value(yaml_dump::dump(&value, &opts)?))
}

fn f_to_nice_yaml(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind_extra("to_nice_yaml", args, &["indent"])?;
    let base = YamlOptions {
        default_flow_style: Some(false),
        indent: b.int(0, 4)?.max(0) as usize,
        ..YamlOptions::default()
    };
    let opts = yaml_options(&b, base)?;
    Ok(str_value(yaml_dump::dump(&value, &opts)?))
}

fn f_from_yaml(value: Value) -> R {
    defined(&value)?;
    match value.kind() {
        ValueKind::None => Ok(value),
        ValueKind::String => yaml_load::load(value.as_str().unwrap_or_default()),
        _ => Ok(value),
    }
}

fn f_from_yaml_all(value: Value) -> R {
    defined(&value)?;
    match value.kind() {
        ValueKind::None => Ok(Value::from(Vec::<Value>::new())),
        ValueKind::String => Ok(Value::from(yaml_load::load_all(
            value.as_str().unwrap_or_default(),
        )?)),
        _ => Ok(value),
    }
}

// ---------------------------------------------------------------------------
// encodings, hashing, quoting
// ---------------------------------------------------------------------------

fn norm_encoding(enc: &str) -> String {
    enc.trim().to_lowercase().replace('_', "-")
}

/// Encodes text with a Python codec name.
pub(super) fn encode_text(s: &str, encoding: &str) -> Result<Vec<u8>, Error> {
    match norm_encoding(encoding).as_str() {
        "utf-8" | "utf8" | "u8" => Ok(s.as_bytes().to_vec()),
        "utf-16-le" | "utf-16le" => Ok(s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()),
        "utf-16-be" | "utf-16be" => Ok(s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()),
        "utf-16" | "utf16" => {
            let mut out = vec![0xff, 0xfe];
            out.extend(s.encode_utf16().flat_map(|u| u.to_le_bytes()));
            Ok(out)
        }
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" => s
            .chars()
            .map(|c| {
                u8::try_from(c as u32).map_err(|_| {
                    op_err(format!(
                        "'latin-1' codec can't encode character {}",
                        str_repr(&c.to_string())
                    ))
                })
            })
            .collect(),
        "ascii" | "us-ascii" => s
            .chars()
            .map(|c| {
                if c.is_ascii() {
                    Ok(c as u8)
                } else {
                    Err(op_err(format!(
                        "'ascii' codec can't encode character {}",
                        str_repr(&c.to_string())
                    )))
                }
            })
            .collect(),
        other => Err(op_err(format!("unknown encoding: {other}"))),
    }
}

/// Decodes bytes with a Python codec name.
pub(super) fn decode_text(b: &[u8], encoding: &str) -> Result<String, Error> {
    let utf16 = |units: Vec<u16>| {
        String::from_utf16(&units).map_err(|_| op_err("'utf-16' codec can't decode bytes"))
    };
    match norm_encoding(encoding).as_str() {
        "utf-8" | "utf8" | "u8" => String::from_utf8(b.to_vec())
            .map_err(|e| op_err(format!("'utf-8' codec can't decode bytes: {e}"))),
        "utf-16-le" | "utf-16le" => utf16(
            b.chunks(2)
                .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect(),
        ),
        "utf-16-be" | "utf-16be" => utf16(
            b.chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect(),
        ),
        "utf-16" | "utf16" => {
            if let Some(rest) = b.strip_prefix(&[0xfe, 0xff]) {
                decode_text(rest, "utf-16-be")
            } else {
                decode_text(b.strip_prefix(&[0xff, 0xfe]).unwrap_or(b), "utf-16-le")
            }
        }
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" => {
            Ok(b.iter().map(|&x| x as char).collect())
        }
        "ascii" | "us-ascii" => {
            if b.is_ascii() {
                Ok(b.iter().map(|&x| x as char).collect())
            } else {
                Err(op_err("'ascii' codec can't decode bytes"))
            }
        }
        other => Err(op_err(format!("unknown encoding: {other}"))),
    }
}

fn b64_engine(urlsafe: bool) -> GeneralPurpose {
    let config = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    if urlsafe {
        GeneralPurpose::new(&alphabet::URL_SAFE, config)
    } else {
        GeneralPurpose::new(&alphabet::STANDARD, config)
    }
}

fn f_b64encode(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("b64encode", args, &["encoding", "urlsafe"])?;
    let bytes = match value.as_bytes() {
        Some(raw) if value.kind() == ValueKind::Bytes => raw.to_vec(),
        _ => encode_text(&text(&value)?, &b.string(0, "utf-8"))?,
    };
    Ok(str_value(b64_engine(b.flag(1, false)).encode(bytes)))
}

fn f_b64decode(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("b64decode", args, &["encoding", "urlsafe"])?;
    let s = text(&value)?;
    let urlsafe = b.flag(1, false);
    // like Python's non-validating decoder: drop characters outside the alphabet
    let cleaned: String = s
        .chars()
        .filter(|c| {
            c.is_ascii_alphanumeric()
                || if urlsafe {
                    *c == '-' || *c == '_'
                } else {
                    *c == '+' || *c == '/'
                }
        })
        .collect();
    let bytes = b64_engine(urlsafe)
        .decode(cleaned.as_bytes())
        .map_err(|e| op_err(format!("b64decode: {e}")))?;
    Ok(str_value(decode_text(&bytes, &b.string(0, "utf-8"))?))
}

/// Python's `shlex.quote`.
pub(super) fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if s.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(c, '_' | '@' | '%' | '+' | '=' | ':' | ',' | '.' | '/' | '-')
    }) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

fn f_quote(value: Value) -> R {
    defined(&value)?;
    let s = if value.is_none() {
        String::new()
    } else {
        py_str(&value)
    };
    Ok(str_value(shell_quote(&s)))
}

fn f_comment(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let s = text(&value)?;
    let b = bind_extra("comment", args, &["style"])?;
    let style = b.string(0, "plain");
    // (beginning, decoration, end)
    let (beginning, style_decoration, end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => {
            return Err(op_err(format!(
                "Invalid style '{other}'. Available styles: plain, erlang, c, cblock, xml"
            )));
        }
    };
    let kw = |name: &str| {
        b.extra
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let prepostfix = kw("decoration").map_or_else(|| style_decoration.to_string(), |v| py_str(&v));
    let newline = kw("newline").map_or_else(|| "\n".to_string(), |v| py_str(&v));
    let beginning = kw("beginning").map_or_else(|| beginning.to_string(), |v| py_str(&v));
    let prefix = kw("prefix").map_or_else(|| prepostfix.trim_end().to_string(), |v| py_str(&v));
    let postfix = kw("postfix").map_or_else(|| prepostfix.trim_end().to_string(), |v| py_str(&v));
    let decoration = kw("decoration").map_or_else(|| style_decoration.to_string(), |v| py_str(&v));
    let end = kw("end").map_or_else(|| end.to_string(), |v| py_str(&v));
    let count = |name: &str| -> Result<usize, Error> {
        match kw(name) {
            Some(v) => super::to_i64(&v)
                .map(|n| n.max(0) as usize)
                .ok_or_else(|| op_err(format!("comment: {name} must be an integer"))),
            None => Ok(1),
        }
    };
    let prefix_count = count("prefix_count")?;
    let postfix_count = count("postfix_count")?;
    for (k, _) in &b.extra {
        if !matches!(
            k.as_str(),
            "decoration"
                | "newline"
                | "beginning"
                | "prefix"
                | "postfix"
                | "end"
                | "prefix_count"
                | "postfix_count"
        ) {
            return Err(op_err(format!("comment: unknown parameter '{k}'")));
        }
    }

    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        let unit = if prefix != newline {
            format!("{prefix}{newline}")
        } else {
            newline.clone()
        };
        out.push_str(&unit.repeat(prefix_count));
    }
    let body = format!(
        "{decoration}{}",
        s.replace(&newline, &format!("{newline}{decoration}"))
    );
    let body = body.replace(
        &format!("{decoration}{newline}"),
        &format!("{}{newline}", decoration.trim_end()),
    );
    out.push_str(&body);
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(str_value(out))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex digest of `data` with a `hashlib` algorithm name.
pub(super) fn hash_hex(data: &[u8], algo: &str) -> Result<String, Error> {
    Ok(match algo.to_lowercase().replace('-', "").as_str() {
        "md5" => hex(&Md5::digest(data)),
        "sha1" => hex(&Sha1::digest(data)),
        "sha224" => hex(&Sha224::digest(data)),
        "sha256" => hex(&Sha256::digest(data)),
        "sha384" => hex(&Sha384::digest(data)),
        "sha512" => hex(&Sha512::digest(data)),
        other => return Err(op_err(format!("unsupported hash type {other}"))),
    })
}

fn f_hash(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("hash", args, &["hashtype"])?;
    let s = text(&value)?;
    Ok(str_value(hash_hex(s.as_bytes(), &b.string(0, "sha1"))?))
}

fn f_sha1(value: Value) -> R {
    Ok(str_value(hash_hex(text(&value)?.as_bytes(), "sha1")?))
}

fn f_md5(value: Value) -> R {
    Ok(str_value(hash_hex(text(&value)?.as_bytes(), "md5")?))
}

fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let s = s.trim();
    let s = s.strip_prefix("urn:").unwrap_or(s);
    let s = s.strip_prefix("uuid:").unwrap_or(s);
    let s = s.trim_start_matches('{').trim_end_matches('}');
    let hexstr: String = s.chars().filter(|&c| c != '-').collect();
    if hexstr.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(hexstr.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

fn f_to_uuid(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("to_uuid", args, &["namespace"])?;
    let name = text(&value)?;
    let ns_str = b.string(0, "361E6D51-FAEC-444A-9079-341386DA8E2E");
    let ns = parse_uuid(&ns_str).ok_or_else(|| {
        op_err(format!(
            "Invalid value '{ns_str}' for 'namespace': badly formed hexadecimal UUID string"
        ))
    })?;
    let mut h = Sha1::new();
    h.update(ns);
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut u = [0u8; 16];
    u.copy_from_slice(&digest[..16]);
    u[6] = (u[6] & 0x0f) | 0x50;
    u[8] = (u[8] & 0x3f) | 0x80;
    let x = hex(&u);
    Ok(str_value(format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )))
}

/// Python's `urllib.parse.quote` with the given extra safe characters.
pub(super) fn url_quote(s: &str, safe: &str, plus_spaces: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let c = b as char;
        if c.is_ascii_alphanumeric() || "_.-~".contains(c) || (b < 0x80 && safe.contains(c)) {
            out.push(c);
        } else if plus_spaces && c == ' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn f_urlencode(value: Value) -> R {
    defined(&value)?;
    let pairs: Option<Vec<(Value, Value)>> = if is_map(&value) {
        Some(map_pairs(&value))
    } else if is_list(&value) {
        let items = list_items(&value);
        items
            .iter()
            .map(|i| {
                let p = list_items(i);
                (is_list(i) && p.len() == 2).then(|| (p[0].clone(), p[1].clone()))
            })
            .collect()
    } else {
        None
    };
    match pairs {
        Some(pairs) => Ok(str_value(
            pairs
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        url_quote(&py_str(k), "", true),
                        url_quote(&py_str(v), "", true)
                    )
                })
                .collect::<Vec<_>>()
                .join("&"),
        )),
        None => Ok(str_value(url_quote(&py_str(&value), "/", false))),
    }
}

fn f_urlsplit(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("urlsplit", args, &["query"])?;
    let url = text(&value)?;
    let mut rest = url.as_str();
    let mut scheme = String::new();
    if let Some(i) = rest.find(':') {
        let cand = &rest[..i];
        if !cand.is_empty()
            && cand.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && cand
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            scheme = cand.to_lowercase();
            rest = &rest[i + 1..];
        }
    }
    let mut netloc = "";
    if let Some(r) = rest.strip_prefix("//") {
        let end = r.find(['/', '?', '#']).unwrap_or(r.len());
        netloc = &r[..end];
        rest = &r[end..];
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, netloc),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((a, b)) => (Value::from(a), Value::from(b)),
            None => (Value::from(u), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        match h.split_once(']') {
            Some((h, p)) => (h.to_string(), p.strip_prefix(':').unwrap_or("")),
            None => (h.to_string(), ""),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostport.to_string(), ""),
        }
    };
    let hostname = if host.is_empty() {
        Value::from(())
    } else {
        Value::from(host.to_lowercase())
    };
    let port = if port.is_empty() {
        Value::from(())
    } else {
        match port.parse::<u16>() {
            Ok(p) => Value::from(p),
            Err(_) => {
                return Err(op_err(format!(
                    "Port could not be cast to integer value as {}",
                    str_repr(port)
                )));
            }
        }
    };
    let parts: Vec<(&str, Value)> = vec![
        ("fragment", Value::from(fragment)),
        ("hostname", hostname),
        ("netloc", Value::from(netloc)),
        ("password", password),
        ("path", Value::from(path)),
        ("port", port),
        ("query", Value::from(query)),
        ("scheme", Value::from(scheme)),
        ("username", username),
    ];
    match b.opt_string(0) {
        Some(q) => parts
            .into_iter()
            .find(|(k, _)| *k == q)
            .map(|(_, v)| v)
            .ok_or_else(|| op_err(format!("urlsplit: unknown URL component: {q}"))),
        None => Ok(Value::from_pairs(parts)),
    }
}

// ---------------------------------------------------------------------------
// time
// ---------------------------------------------------------------------------

/// Python's `datetime.fromtimestamp(secs[, utc]).strftime(fmt)`.
pub(super) fn format_time(fmt: &str, secs: f64, utc: bool) -> Result<String, Error> {
    use nix::libc;
    if !secs.is_finite() || secs.abs() > 1e14 {
        return Err(op_err(format!("timestamp out of range: {secs}")));
    }
    let mut whole = secs.floor();
    let mut micros = ((secs - whole) * 1e6).round_ties_even() as u32;
    if micros >= 1_000_000 {
        whole += 1.0;
        micros -= 1_000_000;
    }
    // Python handles %f, %z and %Z itself before calling the C library
    let mut cfmt = String::with_capacity(fmt.len());
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            cfmt.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => cfmt.push_str(&format!("{micros:06}")),
            Some('z') => {
                if utc {
                    cfmt.push_str("+0000");
                }
            }
            Some('Z') => {
                if utc {
                    cfmt.push_str("UTC");
                }
            }
            Some(other) => {
                cfmt.push('%');
                cfmt.push(other);
            }
            None => cfmt.push('%'),
        }
    }
    if cfmt.is_empty() {
        return Ok(String::new());
    }
    let cstr = std::ffi::CString::new(cfmt)
        .map_err(|_| op_err("embedded null character in format string"))?;
    let t = whole as libc::time_t;
    // SAFETY: `tm` is a plain C struct for which all-zero bytes are valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers refer to live, properly aligned values.
    let res = unsafe {
        if utc {
            libc::gmtime_r(&t, &mut tm)
        } else {
            libc::localtime_r(&t, &mut tm)
        }
    };
    if res.is_null() {
        return Err(op_err(format!("timestamp out of range: {secs}")));
    }
    let mut size = 256usize;
    while size <= 1 << 20 {
        let mut buf = vec![0u8; size];
        // SAFETY: `buf` has `size` writable bytes, `cstr` is NUL terminated
        // and `tm` was filled in by gmtime_r/localtime_r above.
        let n = unsafe {
            libc::strftime(
                buf.as_mut_ptr() as *mut libc::c_char,
                size,
                cstr.as_ptr(),
                &tm,
            )
        };
        if n > 0 {
            buf.truncate(n);
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
        size *= 4;
    }
    // strftime legitimately produced an empty string (e.g. only `%p` in a locale without it)
    Ok(String::new())
}

fn f_strftime(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("strftime", args, &["second", "utc"])?;
    let fmt = text(&value)?;
    let secs = match b.opt(0) {
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
        Some(v) => {
            let parsed = match v.kind() {
                ValueKind::Number => f64::try_from(v.clone()).ok(),
                ValueKind::Bool => Some(v.is_true() as i64 as f64),
                ValueKind::String => py_float_parse(v.as_str().unwrap_or_default()),
                _ => None,
            };
            parsed
                .ok_or_else(|| op_err(format!("Invalid value for epoch value ({})", py_str(v))))?
        }
    };
    Ok(str_value(format_time(&fmt, secs, b.flag(1, false))?))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{eval, is_err, render};

    #[test]
    fn test_default_and_mandatory() {
        assert_eq!(eval("missing | default('x')"), "'x'");
        assert_eq!(eval("missing | d('x')"), "'x'");
        assert_eq!(eval("'' | default('x')"), "''");
        assert_eq!(eval("'' | default('x', true)"), "'x'");
        assert_eq!(eval("'' | default('x', boolean=true)"), "'x'");
        assert_eq!(eval("n | default('x')"), "None");
        assert_eq!(eval("missing | default"), "''");
        assert_eq!(eval("s | mandatory"), "'Hello World'");
        assert!(eval("missing | mandatory").contains("Mandatory variable not defined."));
        assert!(eval("missing | mandatory('need it')").contains("need it"));
    }

    #[test]
    fn test_bool_int_float() {
        assert_eq!(eval("'yes' | bool"), "True");
        assert_eq!(eval("'On' | bool"), "True");
        assert_eq!(eval("'1' | bool"), "True");
        assert_eq!(eval("1 | bool"), "True");
        assert_eq!(eval("'y' | bool"), "False");
        assert_eq!(eval("'no' | bool"), "False");
        assert_eq!(eval("0 | bool"), "False");
        assert_eq!(eval("'42' | int"), "42");
        assert_eq!(eval("' 42 ' | int"), "42");
        assert_eq!(eval("'42.7' | int"), "42");
        assert_eq!(eval("-3.9 | int"), "-3");
        assert_eq!(eval("'abc' | int"), "0");
        assert_eq!(eval("'abc' | int(7)"), "7");
        assert_eq!(eval("'abc' | int(default=7)"), "7");
        assert_eq!(eval("'0x1F' | int(base=16)"), "31");
        assert_eq!(eval("'1F' | int(0, 16)"), "31");
        assert_eq!(eval("'0b101' | int(base=2)"), "5");
        assert_eq!(eval("'1_000' | int"), "1000");
        assert_eq!(eval("true | int"), "1");
        assert_eq!(eval("n | int"), "0");
        assert_eq!(eval("'1.5' | float"), "1.5");
        assert_eq!(eval("'x' | float"), "0.0");
        assert_eq!(eval("3 | float"), "3.0");
        assert_eq!(eval("'1e3' | float"), "1000.0");
        assert_eq!(render("{{ 10 / 4 }}"), "2.5");
    }

    #[test]
    fn test_string_basics() {
        assert_eq!(eval("42 | string"), "'42'");
        assert_eq!(eval("n | string"), "'None'");
        assert_eq!(eval("d | string"), "\"{'b': 2, 'a': 1}\"");
        assert_eq!(eval("s | length"), "11");
        assert_eq!(eval("l | count"), "3");
        assert_eq!(eval("d | length"), "2");
        assert!(is_err("5 | length"));
        assert_eq!(eval("l | join(',')"), "'3,1,2'");
        assert_eq!(
            eval("[1, true, none, 1.5] | join(' ')"),
            "'1 True None 1.5'"
        );
        assert_eq!(eval("users | join(', ', attribute='name')"), "'bob, alice'");
        assert_eq!(eval("s | lower"), "'hello world'");
        assert_eq!(eval("s | upper"), "'HELLO WORLD'");
        assert_eq!(eval("'hELLO wORLD' | capitalize"), "'Hello world'");
        assert_eq!(
            eval("'hello big-world (foo)' | title"),
            "'Hello Big-World (Foo)'"
        );
        assert_eq!(eval("'  x  ' | trim"), "'x'");
        assert_eq!(eval("'xxaxx' | trim('x')"), "'a'");
        assert_eq!(eval("'aaa' | replace('a', 'b')"), "'bbb'");
        assert_eq!(eval("'aaa' | replace('a', 'b', 2)"), "'bba'");
        assert_eq!(eval("'ab' | center(5)"), "'  ab '");
        assert_eq!(eval("'abc' | center(6)"), "' abc  '");
        assert_eq!(eval("'hello, big world!' | wordcount"), "3");
        assert_eq!(eval("'a\\nb\\n\\nc' | indent(2)"), "'a\\n  b\\n\\n  c'");
        assert_eq!(eval("'a\\nb' | indent(2, true)"), "'  a\\n  b'");
        assert_eq!(
            eval("'a\\n\\nb' | indent(width='> ', blank=true)"),
            "'a\\n> \\n> b'"
        );
        assert_eq!(
            eval("'foo bar baz qux' | truncate(9, leeway=0)"),
            "'foo...'"
        );
        assert_eq!(
            eval("'foo bar baz qux' | truncate(9, true, leeway=0)"),
            "'foo ba...'"
        );
        assert_eq!(eval("'a b  c' | split"), "['a', 'b', 'c']");
        assert_eq!(eval("'a,b,,c' | split(',')"), "['a', 'b', '', 'c']");
        assert_eq!(eval("'a,b,c' | split(',', 1)"), "['a', 'b,c']");
        assert_eq!(eval("'%s-%03d-%.2f' | format('a', 7, 1.5)"), "'a-007-1.50'");
        assert_eq!(eval("'%(x)s!' | format(x='hi')"), "'hi!'");
        assert_eq!(eval("'%r' | format('a')"), "\"'a'\"");
        assert_eq!(eval("'x' | type_debug"), "'str'");
        assert_eq!(eval("1 | type_debug"), "'int'");
        assert_eq!(eval("1.5 | type_debug"), "'float'");
        assert_eq!(eval("true | type_debug"), "'bool'");
        assert_eq!(eval("n | type_debug"), "'NoneType'");
        assert_eq!(eval("l | type_debug"), "'list'");
        assert_eq!(eval("d | type_debug"), "'dict'");
        assert_eq!(eval("missing | type_debug"), "'AnsibleUndefined'");
    }

    #[test]
    fn test_regex_filters() {
        assert_eq!(
            eval("'ansible' | regex_replace('^a.*i(.*)$', 'a\\\\1')"),
            "'able'"
        );
        assert_eq!(
            eval("'foobar' | regex_replace('^f.*o(.*)$', '\\\\g<1>')"),
            "'bar'"
        );
        assert_eq!(
            eval(
                "'localhost:80' | regex_replace('^(?P<host>.+):(?P<port>\\\\d+)$', '\\\\g<host>, \\\\g<port>')"
            ),
            "'localhost, 80'"
        );
        assert_eq!(
            eval("'ABC' | regex_replace('b', 'x', ignorecase=true)"),
            "'AxC'"
        );
        assert_eq!(eval("'aaa' | regex_replace('a', 'b', count=2)"), "'bba'");
        assert!(is_err("'aaa' | regex_replace('a', 'b', mandatory_count=2)"));
        assert_eq!(
            eval("'a\\nb' | regex_replace('^', '# ', multiline=true)"),
            "'# a\\n# b'"
        );
        assert_eq!(eval("'foobar' | regex_search('o+')"), "'oo'");
        assert_eq!(eval("'foobar' | regex_search('x')"), "None");
        assert_eq!(
            eval(
                "'server1/database42' | regex_search('server([0-9]+)/database([0-9]+)', '\\\\1', '\\\\2')"
            ),
            "['1', '42']"
        );
        assert_eq!(
            eval(
                "'21/42' | regex_search('(?P<dividend>[0-9]+)/(?P<divisor>[0-9]+)', '\\\\g<dividend>', '\\\\g<divisor>')"
            ),
            "['21', '42']"
        );
        assert_eq!(
            eval("'FOO' | regex_search('foo', ignorecase=true)"),
            "'FOO'"
        );
        assert_eq!(
            eval("'a1b22c333' | regex_findall('\\\\d+')"),
            "['1', '22', '333']"
        );
        assert_eq!(
            eval("'k1=v1 k2=v2' | regex_findall('(\\\\w+)=(\\\\w+)')"),
            "[('k1', 'v1'), ('k2', 'v2')]"
        );
        assert_eq!(
            eval("'^f.*o(.*)$' | regex_escape"),
            "'\\\\^f\\\\.\\\\*o\\\\(\\\\.\\\\*\\\\)\\\\$'"
        );
        assert_eq!(
            eval("'^f.*o(.*)$' | regex_escape('posix_basic')"),
            "'\\\\^f\\\\.\\\\*o(\\\\.\\\\*)\\\\$'"
        );
        assert!(is_err("'x' | regex_replace('(?<=a)x', '')"));
    }

    #[test]
    fn test_path_filters() {
        assert_eq!(eval("'/etc/asdf/foo.txt' | basename"), "'foo.txt'");
        assert_eq!(eval("'/etc/asdf/' | basename"), "''");
        assert_eq!(eval("'/etc/asdf/foo.txt' | dirname"), "'/etc/asdf'");
        assert_eq!(eval("'/etc//' | dirname"), "'/etc'");
        assert_eq!(eval("'foo' | dirname"), "''");
        assert_eq!(eval("'/' | dirname"), "'/'");
        assert_eq!(eval("'/etc/x' | expanduser"), "'/etc/x'");
        assert!(!eval("'~/x' | expanduser").contains('~'));
        assert_eq!(
            eval("['/etc', 'x', 'y.conf'] | path_join"),
            "'/etc/x/y.conf'"
        );
        assert_eq!(eval("['a', '/etc', 'y'] | path_join"), "'/etc/y'");
        assert_eq!(eval("'a/b.tar.gz' | splitext"), "('a/b.tar', '.gz')");
        assert_eq!(eval("'.bashrc' | splitext"), "('.bashrc', '')");
        assert_eq!(eval("'/a/./b/../c//d' | normpath"), "'/a/c/d'");
        assert_eq!(eval("'/a/b/c' | relpath('/a/x')"), "'../b/c'");
        assert_eq!(eval("['/a/b/c', '/a/b/d'] | commonpath"), "'/a/b'");
        assert_eq!(eval("'C:\\\\Users\\\\x.txt' | win_basename"), "'x.txt'");
        assert_eq!(
            eval("'C:\\\\Users\\\\x.txt' | win_dirname"),
            "'C:\\\\Users'"
        );
        assert_eq!(
            eval("'C:\\\\Users' | win_splitdrive"),
            "('C:', '\\\\Users')"
        );
        assert_eq!(eval("'/' | realpath"), "'/'");
    }

    #[test]
    fn test_json_yaml() {
        assert_eq!(render("{{ d | to_json }}"), "{\"b\": 2, \"a\": 1}");
        assert_eq!(render("{{ 'é' | to_json }}"), "\"\\u00e9\"");
        assert_eq!(render("{{ 'é' | to_json(ensure_ascii=false) }}"), "\"é\"");
        assert_eq!(
            render("{{ d | to_json(sort_keys=true) }}"),
            "{\"a\": 1, \"b\": 2}"
        );
        assert_eq!(
            render("{{ [1, 2] | to_json(indent=2) }}"),
            "[\n  1,\n  2\n]"
        );
        assert_eq!(
            render("{{ d | to_nice_json }}"),
            "{\n    \"a\": 1,\n    \"b\": 2\n}"
        );
        assert_eq!(
            render("{{ {'x': [1, {'y': none}]} | to_nice_json(indent=2) }}"),
            "{\n  \"x\": [\n    1,\n    {\n      \"y\": null\n    }\n  ]\n}"
        );
        assert_eq!(
            eval("'{\"a\": [1, 2.5, true, null]}' | from_json"),
            "{'a': [1, 2.5, True, None]}"
        );
        assert!(is_err("'{bad' | from_json"));
        assert_eq!(render("{{ d | to_yaml }}"), "{a: 1, b: 2}\n");
        assert_eq!(
            render("{{ users | to_yaml }}"),
            "- age: 30\n  groups: [wheel, dev]\n  name: bob\n- age: 25\n  groups: [dev]\n  name: alice\n"
        );
        assert_eq!(
            render("{{ users | to_nice_yaml }}"),
            "-   age: 30\n    groups:\n    - wheel\n    - dev\n    name: bob\n-   age: 25\n    groups:\n    - dev\n    name: alice\n"
        );
        assert_eq!(
            render("{{ d | to_nice_yaml(indent=2, sort_keys=false) }}"),
            "b: 2\na: 1\n"
        );
        assert_eq!(render("{{ 'yes' | to_yaml }}"), "'yes'\n");
        assert_eq!(
            eval("'a: 1\\nb: [x, yes]' | from_yaml"),
            "{'a': 1, 'b': ['x', True]}"
        );
        assert_eq!(eval("n | from_yaml"), "None");
        assert_eq!(
            eval("'---\\na: 1\\n---\\n- 2\\n' | from_yaml_all"),
            "[{'a': 1}, [2]]"
        );
    }

    #[test]
    fn test_encoding_hash_quote() {
        assert_eq!(eval("'hello' | b64encode"), "'aGVsbG8='");
        assert_eq!(eval("'aGVsbG8=' | b64decode"), "'hello'");
        assert_eq!(eval("'aGVsbG8' | b64decode"), "'hello'");
        assert_eq!(eval("'ab' | b64encode(encoding='utf-16-le')"), "'YQBiAA=='");
        assert_eq!(eval("'YQBiAA==' | b64decode(encoding='utf-16-le')"), "'ab'");
        assert_eq!(
            eval("'\u{fb}\u{ff}' | b64encode(urlsafe=true)"),
            "'w7vDvw=='"
        );
        assert_eq!(
            eval("'test' | hash"),
            "'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3'"
        );
        assert_eq!(
            eval("'test' | hash('md5')"),
            "'098f6bcd4621d373cade4e832627b4f6'"
        );
        assert_eq!(
            eval("'test' | hash('sha256')"),
            "'9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'"
        );
        assert_eq!(
            eval("'test' | checksum"),
            "'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3'"
        );
        assert_eq!(
            eval("'test' | sha1"),
            "'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3'"
        );
        assert_eq!(eval("'test' | md5"), "'098f6bcd4621d373cade4e832627b4f6'");
        assert!(is_err("'test' | hash('nope')"));
        assert_eq!(eval("'hello world' | quote"), "\"'hello world'\"");
        assert_eq!(eval("\"it's\" | quote"), "'\\'it\\'\"\\'\"\\'s\\''");
        assert_eq!(eval("'/usr/bin' | quote"), "'/usr/bin'");
        assert_eq!(eval("'' | quote"), "\"''\"");
        assert_eq!(eval("n | quote"), "\"''\"");
        assert_eq!(
            eval("'www.example.com' | to_uuid"),
            "'69680a13-a686-5d20-a166-0e7b3b17ef84'"
        );
        assert_eq!(eval("'a b&c' | urlencode"), "'a%20b%26c'");
        assert_eq!(eval("{'a': 'x y', 'b': 1} | urlencode"), "'a=x+y&b=1'");
        assert_eq!(
            eval("'https://user:pw@Example.com:8080/p/a?q=1#f' | urlsplit"),
            "{'fragment': 'f', 'hostname': 'example.com', 'netloc': 'user:pw@Example.com:8080', 'password': 'pw', 'path': '/p/a', 'port': 8080, 'query': 'q=1', 'scheme': 'https', 'username': 'user'}"
        );
        assert_eq!(eval("'http://x.org/a' | urlsplit('path')"), "'/a'");
    }

    #[test]
    fn test_filesizeformat_pprint() {
        assert_eq!(eval("1 | filesizeformat"), "'1 Byte'");
        assert_eq!(eval("999 | filesizeformat"), "'999 Bytes'");
        assert_eq!(eval("1000 | filesizeformat"), "'1.0 kB'");
        assert_eq!(eval("1536 | filesizeformat(true)"), "'1.5 KiB'");
        assert_eq!(eval("3000000000 | filesizeformat"), "'3.0 GB'");
        assert_eq!(eval("d | pprint"), "\"{'b': 2, 'a': 1}\"");
    }

    #[test]
    fn test_strftime() {
        assert_eq!(
            eval("'%Y-%m-%d %H:%M:%S' | strftime(0, utc=true)"),
            "'1970-01-01 00:00:00'"
        );
        assert_eq!(
            eval("'%Y-%m-%dT%H:%M:%S.%f%z %Z %%f' | strftime('1500000000.25', true)"),
            "'2017-07-14T02:40:00.250000+0000 UTC %f'"
        );
        assert_eq!(eval("'%j' | strftime(86400 * 40, utc=true)"), "'041'");
        assert_eq!(eval("'%Y' | strftime | int > 2000"), "True");
        assert!(is_err("'%Y' | strftime('abc')"));
    }

    #[test]
    fn test_comment() {
        assert_eq!(
            render("{{ 'Plain style (default)' | comment }}"),
            "#\n# Plain style (default)\n#"
        );
        assert_eq!(
            render("{{ 'C style' | comment('c') }}"),
            "//\n// C style\n//"
        );
        assert_eq!(
            render("{{ 'C block style' | comment('cblock') }}"),
            "/*\n *\n * C block style\n *\n */"
        );
        assert_eq!(
            render("{{ 'Erlang style' | comment('erlang') }}"),
            "%\n% Erlang style\n%"
        );
        assert_eq!(
            render("{{ 'XML style' | comment('xml') }}"),
            "<!--\n -\n - XML style\n -\n-->"
        );
        assert_eq!(render("{{ 'a\\n\\nb' | comment }}"), "#\n# a\n#\n# b\n#");
        assert_eq!(
            render(
                "{{ 'Custom style' | comment('plain', prefix='#######\\n#', postfix='#\\n#######\\n   ###\\n    #') }}"
            ),
            "#######\n#\n# Custom style\n#\n#######\n   ###\n    #"
        );
        assert_eq!(render("{{ 'x' | comment(decoration='! ') }}"), "!\n! x\n!");
        assert!(render("{{ 'x' | comment('nope') }}").starts_with("ERROR"));
    }
}
