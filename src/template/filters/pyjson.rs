//! Python `json.dumps` / `json.loads` compatible serialization.

use std::cmp::Ordering;

use minijinja::value::{Serde, Value, ValueKind};
use minijinja::{Error, ErrorKind};

use super::pyfmt::{float_repr, py_type_name};

fn json_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Options of Python's `json.dumps`.
#[derive(Clone, Debug)]
pub struct JsonOptions {
    /// `indent`: `None` for compact output, otherwise the per-level indent string.
    pub indent: Option<String>,
    pub sort_keys: bool,
    pub ensure_ascii: bool,
    pub allow_nan: bool,
    pub skipkeys: bool,
    pub item_separator: String,
    pub key_separator: String,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions {
            indent: None,
            sort_keys: false,
            ensure_ascii: true,
            allow_nan: true,
            skipkeys: false,
            item_separator: ", ".into(),
            key_separator: ": ".into(),
        }
    }
}

/// Writes a JSON string literal like Python's encoder.
pub fn encode_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if ensure_ascii && (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", unit));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn float_json(f: f64, opts: &JsonOptions) -> Result<String, Error> {
    if f.is_finite() {
        return Ok(float_repr(f));
    }
    if !opts.allow_nan {
        return Err(json_err(format!(
            "Out of range float values are not JSON compliant: {}",
            float_repr(f)
        )));
    }
    Ok(if f.is_nan() {
        "NaN".into()
    } else if f > 0.0 {
        "Infinity".into()
    } else {
        "-Infinity".into()
    })
}

fn number_json(v: &Value, opts: &JsonOptions) -> Result<String, Error> {
    if v.is_integer() {
        Ok(v.to_string())
    } else {
        float_json(f64::try_from(v.clone()).unwrap_or(0.0), opts)
    }
}

/// Compares two dict keys like Python's `sorted()` would.
pub fn py_key_cmp(a: &Value, b: &Value) -> Result<Ordering, Error> {
    match (a.kind(), b.kind()) {
        (ValueKind::String, ValueKind::String) => Ok(a
            .as_str()
            .unwrap_or_default()
            .cmp(b.as_str().unwrap_or_default())),
        (ValueKind::Number | ValueKind::Bool, ValueKind::Number | ValueKind::Bool) => {
            Ok(a.partial_cmp(b).unwrap_or(Ordering::Equal))
        }
        (ValueKind::None, ValueKind::None) => Ok(Ordering::Equal),
        _ => Err(json_err(format!(
            "'<' not supported between instances of '{}' and '{}'",
            py_type_name(a),
            py_type_name(b)
        ))),
    }
}

/// Sorts key/value pairs by key with Python semantics.
pub fn sort_pairs(pairs: &mut [(Value, Value)]) -> Result<(), Error> {
    let mut error = None;
    pairs.sort_by(|a, b| match py_key_cmp(&a.0, &b.0) {
        Ok(o) => o,
        Err(e) => {
            if error.is_none() {
                error = Some(e);
            }
            Ordering::Equal
        }
    });
    match error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn map_pairs(v: &Value) -> Vec<(Value, Value)> {
    let mut pairs = Vec::new();
    if let Ok(iter) = v.try_iter() {
        for key in iter {
            let val = v.get_item(&key).unwrap_or(Value::UNDEFINED);
            pairs.push((key, val));
        }
    }
    pairs
}

fn newline_indent(out: &mut String, opts: &JsonOptions, level: usize) {
    if let Some(ind) = &opts.indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

fn encode(out: &mut String, v: &Value, opts: &JsonOptions, level: usize) -> Result<(), Error> {
    if level > 500 {
        return Err(json_err(
            "maximum recursion depth exceeded while encoding JSON",
        ));
    }
    match v.kind() {
        ValueKind::Undefined => {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                "cannot serialize an undefined value to JSON",
            ));
        }
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&number_json(v, opts)?),
        ValueKind::String => encode_str(out, v.as_str().unwrap_or_default(), opts.ensure_ascii),
        ValueKind::Map => {
            let mut pairs = map_pairs(v);
            if pairs.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            if opts.sort_keys {
                sort_pairs(&mut pairs)?;
            }
            out.push('{');
            let mut first = true;
            for (k, val) in pairs {
                let key = match k.kind() {
                    ValueKind::String => k.as_str().unwrap_or_default().to_string(),
                    ValueKind::Number => number_json(&k, opts)?,
                    ValueKind::Bool => if k.is_true() { "true" } else { "false" }.to_string(),
                    ValueKind::None => "null".to_string(),
                    _ => {
                        if opts.skipkeys {
                            continue;
                        }
                        return Err(json_err(format!(
                            "keys must be str, int, float, bool or None, not {}",
                            py_type_name(&k)
                        )));
                    }
                };
                if !first {
                    out.push_str(&opts.item_separator);
                }
                first = false;
                newline_indent(out, opts, level + 1);
                encode_str(out, &key, opts.ensure_ascii);
                out.push_str(&opts.key_separator);
                encode(out, &val, opts, level + 1)?;
            }
            newline_indent(out, opts, level);
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter().map(|i| i.collect()).unwrap_or_default();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push_str(&opts.item_separator);
                }
                newline_indent(out, opts, level + 1);
                encode(out, item, opts, level + 1)?;
            }
            newline_indent(out, opts, level);
            out.push(']');
        }
        _ => {
            return Err(json_err(format!(
                "Object of type {} is not JSON serializable",
                py_type_name(v)
            )));
        }
    }
    Ok(())
}

/// Python's `json.dumps(v, **opts)`.
pub fn dumps(v: &Value, opts: &JsonOptions) -> Result<String, Error> {
    let mut out = String::new();
    encode(&mut out, v, opts, 0)?;
    Ok(out)
}

/// Python's `json.loads` (NaN/Infinity are accepted as well).
pub fn loads(s: &str) -> Result<Value, Error> {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(json) => Ok(Value::from(Serde(json))),
        Err(e) => {
            // Python accepts NaN / Infinity literals; retry with those replaced
            if let Some(patched) = replace_special_literals(s)
                && let Ok(json) = serde_json::from_str::<serde_json::Value>(&patched)
            {
                return Ok(restore_special_floats(Value::from(Serde(json))));
            }
            Err(json_err(format!("failed to parse JSON: {e}")))
        }
    }
}

const NAN_MARK: &str = "\u{f8ff}nan";
const INF_MARK: &str = "\u{f8ff}inf";
const NEG_INF_MARK: &str = "\u{f8ff}-inf";

/// Replaces `NaN`, `Infinity` and `-Infinity` tokens outside of strings with
/// marker strings; `None` if there are none.
fn replace_special_literals(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut in_str = false;
    let mut escaped = false;
    let mut found = false;
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let special = [
            ("-Infinity", NEG_INF_MARK),
            ("Infinity", INF_MARK),
            ("NaN", NAN_MARK),
        ];
        if let Some((lit, mark)) = special.iter().find(|(lit, _)| rest.starts_with(lit)) {
            out.push('"');
            out.push_str(mark);
            out.push('"');
            rest = &rest[lit.len()..];
            found = true;
            continue;
        }
        if c == '"' {
            in_str = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    found.then_some(out)
}

fn restore_special_floats(v: Value) -> Value {
    match v.kind() {
        ValueKind::String => match v.as_str() {
            Some(NEG_INF_MARK) => Value::from(f64::NEG_INFINITY),
            Some(INF_MARK) => Value::from(f64::INFINITY),
            Some(NAN_MARK) => Value::from(f64::NAN),
            _ => v,
        },
        ValueKind::Seq => Value::from(
            v.try_iter()
                .map(|i| i.map(restore_special_floats).collect::<Vec<_>>())
                .unwrap_or_default(),
        ),
        ValueKind::Map => Value::from_pairs(
            map_pairs(&v)
                .into_iter()
                .map(|(k, val)| (k, restore_special_floats(val))),
        ),
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_dumps() {
        let v = Value::from(Serde(serde_json::json!({"b": [1, 2.0, "é"], "a": null})));
        assert_eq!(
            dumps(&v, &JsonOptions::default()).unwrap_or_default(),
            "{\"b\": [1, 2.0, \"\\u00e9\"], \"a\": null}"
        );
        let nice = JsonOptions {
            indent: Some("    ".into()),
            sort_keys: true,
            item_separator: ",".into(),
            ..JsonOptions::default()
        };
        assert_eq!(
            dumps(&v, &nice).unwrap_or_default(),
            "{\n    \"a\": null,\n    \"b\": [\n        1,\n        2.0,\n        \"\\u00e9\"\n    ]\n}"
        );
        let v = loads("{\"x\": NaN, \"y\": [\"NaN\", -Infinity]}").unwrap_or_default();
        assert_eq!(
            super::super::pyfmt::py_repr(&v.get_item(&Value::from("y")).unwrap_or_default()),
            "['NaN', -inf]"
        );
        assert!(
            v.get_item(&Value::from("x"))
                .ok()
                .and_then(|x| f64::try_from(x).ok())
                .is_some_and(|f| f.is_nan())
        );
    }
}
