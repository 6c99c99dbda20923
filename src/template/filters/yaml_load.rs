//! A small YAML loader producing `minijinja::Value`s with PyYAML (YAML 1.1)
//! scalar resolution: `yes`/`no`/`on`/`off` booleans, octal `0755`, `0x1F`,
//! sexagesimal numbers, `~`/`null`, merge keys (`<<`) and anchors/aliases.
//! Ansible's `!unsafe` tag produces safe strings (hoist's "unsafe" marker).

use std::collections::HashMap;

use minijinja::value::Value;
use minijinja::{Error, ErrorKind};
use saphyr_parser::{Event, Parser, ScalarStyle, Tag as YTag};

use super::yaml_dump::{Tag, resolve_plain};

fn load_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn parse_int_body(s: &str, radix: u32) -> Option<i128> {
    if s.is_empty() {
        return None;
    }
    i128::from_str_radix(s, radix).ok()
}

/// PyYAML's `construct_yaml_int`.
pub fn construct_int(value: &str) -> Option<Value> {
    let v = value.replace('_', "");
    let (sign, body) = match v.chars().next()? {
        '-' => (-1i128, &v[1..]),
        '+' => (1, &v[1..]),
        _ => (1, &v[..]),
    };
    let n = if body == "0" {
        0
    } else if let Some(b) = body.strip_prefix("0b") {
        parse_int_body(b, 2)?
    } else if let Some(h) = body.strip_prefix("0x") {
        parse_int_body(h, 16)?
    } else if body.starts_with('0') {
        parse_int_body(body, 8)?
    } else if body.contains(':') {
        let mut total: i128 = 0;
        for part in body.split(':') {
            total = total
                .checked_mul(60)?
                .checked_add(part.parse::<i128>().ok()?)?;
        }
        total
    } else {
        body.parse::<i128>().ok()?
    };
    let n = sign * n;
    Some(match i64::try_from(n) {
        Ok(i) => Value::from(i),
        Err(_) => Value::from(n),
    })
}

/// PyYAML's `construct_yaml_float`.
pub fn construct_float(value: &str) -> Option<Value> {
    let v = value.replace('_', "").to_lowercase();
    let (sign, body) = match v.chars().next()? {
        '-' => (-1.0f64, &v[1..]),
        '+' => (1.0, &v[1..]),
        _ => (1.0, &v[..]),
    };
    let f = if body == ".inf" {
        f64::INFINITY
    } else if body == ".nan" {
        return Some(Value::from(f64::NAN));
    } else if body.contains(':') {
        let mut total = 0.0f64;
        for part in body.split(':') {
            total = total * 60.0 + part.parse::<f64>().ok()?;
        }
        total
    } else {
        let body = if body.ends_with('.') {
            format!("{body}0")
        } else if let Some((m, e)) = body.split_once('e') {
            if m.ends_with('.') {
                format!("{m}0e{e}")
            } else {
                body.to_string()
            }
        } else {
            body.to_string()
        };
        body.parse::<f64>().ok()?
    };
    Some(Value::from(sign * f))
}

fn construct_bool(value: &str) -> Value {
    Value::from(matches!(
        value.to_lowercase().as_str(),
        "yes" | "true" | "on"
    ))
}

fn resolve_scalar(value: &str, style: ScalarStyle, tag: Option<&YTag>) -> Result<Value, Error> {
    if let Some(tag) = tag {
        if tag.handle == "!" && tag.suffix == "unsafe" {
            return Ok(Value::from_safe_string(value.to_string()));
        }
        if tag.is_yaml_core_schema() || tag.handle == "!!" {
            return Ok(match tag.suffix.as_str() {
                "str" => Value::from(value),
                "int" => construct_int(value)
                    .ok_or_else(|| load_err(format!("invalid !!int value {value:?}")))?,
                "float" => construct_float(value)
                    .or_else(|| {
                        construct_int(value).map(|v| Value::from(f64::try_from(v).unwrap_or(0.0)))
                    })
                    .ok_or_else(|| load_err(format!("invalid !!float value {value:?}")))?,
                "bool" => construct_bool(value),
                "null" => Value::from(()),
                _ => Value::from(value),
            });
        }
        // unknown local tags (e.g. `!vault`): keep the text
        return Ok(Value::from(value));
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::from(value));
    }
    Ok(match resolve_plain(value) {
        Tag::Null => Value::from(()),
        Tag::Bool => construct_bool(value),
        Tag::Int => construct_int(value).unwrap_or_else(|| Value::from(value)),
        Tag::Float => construct_float(value).unwrap_or_else(|| Value::from(value)),
        _ => Value::from(value),
    })
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        unsafe_tag: bool,
        /// The node count when it started (for an anchor's size).
        start: usize,
    },
    Map {
        pairs: Vec<(Value, Value)>,
        /// Where each key is in `pairs`.
        index: HashMap<Value, usize>,
        merges: Vec<Value>,
        pending_key: Option<Value>,
        anchor: usize,
        unsafe_tag: bool,
        start: usize,
    },
}

fn mark_unsafe(v: Value) -> Value {
    super::wrap_unsafe(&v)
}

fn map_pairs(v: &Value) -> Vec<(Value, Value)> {
    let mut out = Vec::new();
    if let Ok(iter) = v.try_iter() {
        for k in iter {
            let val = v.get_item(&k).unwrap_or(Value::UNDEFINED);
            out.push((k, val));
        }
    }
    out
}

fn finish_map(pairs: Vec<(Value, Value)>, merges: Vec<Value>) -> Result<Value, Error> {
    if merges.is_empty() {
        return Ok(Value::from_pairs(pairs));
    }
    // explicit keys win over merged keys; earlier merge sources win over later ones
    let mut merged: Vec<(Value, Value)> = Vec::new();
    let mut index: HashMap<Value, usize> = HashMap::new();
    for src in merges {
        let sources: Vec<Value> = if src.kind() == minijinja::value::ValueKind::Map {
            vec![src]
        } else if src.kind() == minijinja::value::ValueKind::Seq {
            src.try_iter().map(|i| i.collect()).unwrap_or_default()
        } else {
            return Err(load_err(
                "while constructing a mapping: expected a mapping or list of mappings for merging",
            ));
        };
        for s in sources {
            if s.kind() != minijinja::value::ValueKind::Map {
                return Err(load_err(
                    "while constructing a mapping: expected a mapping for merging",
                ));
            }
            for (k, v) in map_pairs(&s) {
                if !index.contains_key(&k) {
                    index.insert(k.clone(), merged.len());
                    merged.push((k, v));
                }
            }
        }
    }
    let mut result = merged;
    for (k, v) in pairs {
        if let Some(slot) = index.get(&k).and_then(|i| result.get_mut(*i)) {
            slot.1 = v;
        } else {
            index.insert(k.clone(), result.len());
            result.push((k, v));
        }
    }
    Ok(Value::from_pairs(result))
}

fn is_unsafe_tag(tag: &Option<std::borrow::Cow<'_, YTag>>) -> bool {
    tag.as_ref()
        .is_some_and(|t| t.handle == "!" && t.suffix == "unsafe")
}

/// Parses all documents of a YAML stream.
pub fn load_all(src: &str) -> Result<Vec<Value>, Error> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Anchored values with their sizes (nodes, aliases expanded): the
    // same limits as hoist's own loader (crate::yaml), so that an alias
    // bomb or a deep document fails here instead of in what uses it.
    let mut anchors: HashMap<usize, (Value, usize)> = HashMap::new();
    let mut nodes: usize = 0;
    let count = |nodes: &mut usize, n: usize| {
        *nodes = nodes.saturating_add(n);
        if *nodes > crate::yaml::MAX_NODES {
            Err(load_err(format!(
                "YAML document too large: more than {} values, aliases expanded",
                crate::yaml::MAX_NODES
            )))
        } else {
            Ok(())
        }
    };
    let mut current_doc: Option<Value> = None;
    let mut in_doc = false;

    let parser = Parser::new_from_str(src);
    for item in parser {
        let (event, _span) = item.map_err(|e| {
            load_err(format!(
                "YAML parse error: {} (line {}, column {})",
                e.info(),
                e.marker().line(),
                e.marker().col() + 1
            ))
        })?;
        let mut produced: Option<Value> = None;
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {
                in_doc = true;
                current_doc = None;
                anchors.clear();
            }
            Event::DocumentEnd => {
                if in_doc {
                    docs.push(current_doc.take().unwrap_or(Value::from(())));
                }
                in_doc = false;
            }
            Event::Alias(id) => {
                let (v, size) = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| load_err("found undefined alias"))?;
                count(&mut nodes, size)?;
                produced = Some(v);
            }
            Event::Scalar(value, style, anchor, tag) => {
                let v = resolve_scalar(&value, style, tag.as_deref())?;
                count(&mut nodes, 1)?;
                if anchor > 0 {
                    anchors.insert(anchor, (v.clone(), 1));
                }
                // merge key marker
                let is_merge =
                    style == ScalarStyle::Plain && tag.is_none() && value.as_ref() == "<<";
                if is_merge
                    && let Some(Frame::Map { pending_key, .. }) = stack.last_mut()
                    && pending_key.is_none()
                {
                    *pending_key = Some(Value::from_safe_string("\u{0}<<merge>>".into()));
                    continue;
                }
                produced = Some(v);
            }
            Event::SequenceStart(..) | Event::MappingStart(..)
                if stack.len() >= crate::yaml::MAX_DEPTH =>
            {
                return Err(load_err(format!(
                    "YAML document nested too deeply (more than {} levels of lists and mappings)",
                    crate::yaml::MAX_DEPTH
                )));
            }
            Event::SequenceStart(anchor, tag) => {
                count(&mut nodes, 1)?;
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    unsafe_tag: is_unsafe_tag(&tag),
                    start: nodes,
                });
            }
            Event::MappingStart(anchor, tag) => {
                count(&mut nodes, 1)?;
                stack.push(Frame::Map {
                    start: nodes,
                    index: HashMap::new(),
                    pairs: Vec::new(),
                    merges: Vec::new(),
                    pending_key: None,
                    anchor,
                    unsafe_tag: is_unsafe_tag(&tag),
                });
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    items,
                    anchor,
                    unsafe_tag,
                    start,
                }) => {
                    let mut v = Value::from(items);
                    if unsafe_tag {
                        v = mark_unsafe(v);
                    }
                    if anchor > 0 {
                        anchors.insert(anchor, (v.clone(), nodes - start + 1));
                    }
                    produced = Some(v);
                }
                _ => return Err(load_err("YAML parse error: unbalanced sequence")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    pairs,
                    merges,
                    anchor,
                    unsafe_tag,
                    start,
                    ..
                }) => {
                    let mut v = finish_map(pairs, merges)?;
                    if unsafe_tag {
                        v = mark_unsafe(v);
                    }
                    if anchor > 0 {
                        anchors.insert(anchor, (v.clone(), nodes - start + 1));
                    }
                    produced = Some(v);
                }
                _ => return Err(load_err("YAML parse error: unbalanced mapping")),
            },
        }
        if let Some(v) = produced {
            match stack.last_mut() {
                None => current_doc = Some(v),
                Some(Frame::Seq { items, .. }) => items.push(v),
                Some(Frame::Map {
                    pairs,
                    index,
                    merges,
                    pending_key,
                    ..
                }) => match pending_key.take() {
                    None => *pending_key = Some(v),
                    Some(k) => {
                        if k.is_safe() && k.as_str() == Some("\u{0}<<merge>>") {
                            merges.push(v);
                        } else if let Some(slot) = index.get(&k).and_then(|i| pairs.get_mut(*i)) {
                            slot.1 = v;
                        } else {
                            index.insert(k.clone(), pairs.len());
                            pairs.push((k, v));
                        }
                    }
                },
            }
        }
    }
    if in_doc {
        docs.push(current_doc.take().unwrap_or(Value::from(())));
    }
    Ok(docs)
}

/// Parses a single YAML document (an empty stream yields `None`).
pub fn load(src: &str) -> Result<Value, Error> {
    let docs = load_all(src)?;
    match docs.len() {
        0 => Ok(Value::from(())),
        1 => Ok(docs.into_iter().next().unwrap_or(Value::from(()))),
        _ => Err(load_err(
            "expected a single document in the stream but found another document",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::pyfmt::py_repr;
    use super::*;

    fn r(src: &str) -> String {
        load(src)
            .map(|v| py_repr(&v))
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn hostile_documents_fail_cleanly() {
        let deep = format!("{}x\n", "- ".repeat(10_000));
        let e = load(&deep).unwrap_err().to_string();
        assert!(e.contains("nested too deeply"), "{e}");
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (p, c) in "abcdefgh".chars().zip("bcdefghi".chars()) {
            bomb.push_str(&format!(
                "{c}: &{c} [{}]\n",
                vec![format!("*{p}"); 10].join(",")
            ));
        }
        let e = load(&bomb).unwrap_err().to_string();
        assert!(e.contains("too large"), "{e}");
        // Repeated keys: the last value, in the first place.
        assert_eq!(r("{a: 1, b: 2, a: 3}"), "{'a': 3, 'b': 2}");
        assert_eq!(
            r("{<<: {a: 1, c: 4}, a: 2, b: 3}"),
            "{'a': 2, 'c': 4, 'b': 3}"
        );
    }

    #[test]
    fn test_load() {
        assert_eq!(
            r("a: yes\nb: 0755\nc: 0x1F\nd: ~\ne: '1'\nf: 1.5\ng: [1, two]\nh: 1:30\n"),
            "{'a': True, 'b': 493, 'c': 31, 'd': None, 'e': '1', 'f': 1.5, 'g': [1, 'two'], 'h': 90}"
        );
        assert_eq!(r(""), "None");
        assert_eq!(r("- &x {a: 1}\n- *x\n"), "[{'a': 1}, {'a': 1}]");
        assert_eq!(
            r("base: &b {a: 1, b: 2}\nother:\n  <<: *b\n  b: 3\n"),
            "{'base': {'a': 1, 'b': 2}, 'other': {'a': 1, 'b': 3}}"
        );
        assert_eq!(r("x: !unsafe '{{ a }}'"), "{'x': '{{ a }}'}");
        assert_eq!(r("1e3"), "'1e3'");
        assert_eq!(r("key:\n"), "{'key': None}");
        assert!(load("a: [1").is_err());
        let docs = load_all("---\na: 1\n---\nb: 2\n").unwrap_or_default();
        assert_eq!(docs.len(), 2);
    }
}
