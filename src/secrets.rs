//! The run's secrets: plaintexts hoist must never print. Whatever learns a
//! secret (a decrypted vault value, a `no_log` task's arguments, a
//! `--secret-env` variable, a value rendered from a secret) registers it
//! here; every place that writes output for people or machines passes its
//! text through [`redact`], which shows each occurrence as [`MASK`].
//!
//! Matching is by exact substring (leftmost-longest). Values shorter than
//! [`MIN_LEN`] characters are not matched inside other text: masking every
//! `1` or `no` in the output would hide everything and protect nothing.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret looks like in output.
pub const MASK: &str = "********";

/// The shortest secret that is masked inside other text.
pub const MIN_LEN: usize = 4;

#[derive(Default)]
struct Registry {
    secrets: Vec<String>,
    matcher: Option<Arc<AhoCorasick>>,
}

fn registry() -> &'static RwLock<Registry> {
    static REGISTRY: std::sync::OnceLock<RwLock<Registry>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(Registry::default()))
}

/// Remembers `secret` (and each of its lines, for output that splits
/// text into lines) so that it is masked from now on.
pub fn register(secret: &str) {
    let mut parts: Vec<&str> = vec![secret];
    if secret.contains('\n') {
        parts.extend(secret.lines());
    }
    // Lines are matched without their indentation; blank text is no
    // secret (masking every run of spaces would protect nothing).
    let parts: Vec<&str> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| if i == 0 { p } else { p.trim() })
        .map(|p| p.trim_end_matches('\r'))
        .filter(|p| p.trim().chars().count() >= MIN_LEN)
        .collect();
    if parts.is_empty() {
        return;
    }
    // A secret learned while a template renders taints what it renders.
    taint();
    // The forms output may show the value in: as written inside JSON or
    // Python string literals, and inside a shell's single quotes.
    let parts: Vec<String> = parts.iter().flat_map(|p| escaped_forms(p)).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let mut reg = match registry().write() {
        Ok(r) => r,
        Err(p) => p.into_inner(),
    };
    let mut added = false;
    for p in parts {
        if !reg.secrets.iter().any(|s| s == p) {
            reg.secrets.push(p.to_owned());
            added = true;
        }
    }
    if added {
        reg.matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&reg.secrets)
            .ok()
            .map(Arc::new);
    }
}

/// Whether any secret is known (when none is, nothing needs checking).
pub fn any() -> bool {
    registry().read().map_or(true, |r| !r.secrets.is_empty())
}

fn matcher() -> Option<Arc<AhoCorasick>> {
    registry().read().ok().and_then(|r| r.matcher.clone())
}

/// Whether `text` contains a registered secret.
pub fn contains(text: &str) -> bool {
    matcher().is_some_and(|m| m.is_match(text))
}

/// `text` with every registered secret in it shown as [`MASK`].
pub fn redact(text: &str) -> Cow<'_, str> {
    match matcher() {
        Some(m) if m.is_match(text) => {
            let masks = vec![MASK; m.patterns_len()];
            Cow::Owned(m.replace_all(text, &masks))
        }
        _ => Cow::Borrowed(text),
    }
}

/// `p` and the ways output may write it escaped: inside a JSON string,
/// a Python `repr` (either quote) and a shell's single quotes.
fn escaped_forms(p: &str) -> Vec<String> {
    let mut forms = vec![p.to_owned()];
    let mut add = |f: String| {
        if !forms.contains(&f) {
            forms.push(f);
        }
    };
    let json = serde_json::to_string(p).unwrap_or_default();
    if json.len() >= 2 {
        add(json[1..json.len() - 1].to_owned());
    }
    let mut py = String::new();
    for c in p.chars() {
        match c {
            '\\' => py.push_str("\\\\"),
            '\n' => py.push_str("\\n"),
            '\r' => py.push_str("\\r"),
            '\t' => py.push_str("\\t"),
            c => py.push(c),
        }
    }
    add(py.replace('\'', "\\'"));
    add(py.replace('"', "\\\""));
    add(p.replace('\'', "'\\''"));
    add(p.replace('\'', "'\"'\"'"));
    forms
}

/// [`redact`] for bytes that may not be UTF-8 (command output).
pub fn redact_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    match matcher() {
        Some(m) if m.is_match(bytes) => {
            let masks = vec![MASK.as_bytes(); m.patterns_len()];
            Cow::Owned(m.replace_all_bytes(bytes, &masks))
        }
        _ => Cow::Borrowed(bytes),
    }
}

/// Masks secrets inside a JSON value: in every string and key, and a
/// number whose digits hold one becomes the mask (a string). What it
/// serializes to stays valid JSON.
pub fn redact_json(j: &mut serde_json::Value) {
    use serde_json::Value as Json;
    if !any() {
        return;
    }
    match j {
        Json::String(s) => {
            if let Cow::Owned(r) = redact(s) {
                *s = r;
            }
        }
        Json::Number(n) => {
            if contains(&n.to_string()) {
                *j = Json::from(MASK);
            }
        }
        Json::Array(items) => items.iter_mut().for_each(redact_json),
        Json::Object(map) => {
            if map.keys().any(|k| contains(k)) {
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    redact_json(&mut v);
                    map.insert(redact(&k).into_owned(), v);
                }
            } else {
                map.values_mut().for_each(redact_json);
            }
        }
        Json::Bool(_) | Json::Null => {}
    }
}

/// Redacts text made of JSON lines (events) so that each line stays
/// valid JSON: a line that holds a secret is parsed and masked inside its
/// values; text that is not JSON is masked as it is.
pub fn redact_json_lines(text: &str) -> Cow<'_, str> {
    if !contains(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        match serde_json::from_str::<serde_json::Value>(body) {
            Ok(mut j) if contains(body) => {
                redact_json(&mut j);
                out.push_str(&j.to_string());
                out.push_str(&line[body.len()..]);
            }
            Ok(_) => out.push_str(line),
            Err(_) => out.push_str(&redact(line)),
        }
    }
    Cow::Owned(out)
}

/// Writes `text` to stderr with its secrets masked (a closed stderr is
/// not worth a panic).
pub fn eprint(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(redact(text).as_bytes());
}

/// [`eprint`] with a newline.
pub fn eprintln(text: &str) {
    eprint(&format!("{text}\n"));
}

// ------------------------------------------------------------ taint

thread_local! {
    /// Whether the render under way (if any) read a secret.
    static TAINTED: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` (a render) and says whether it read a secret: whether
/// [`taint`] was called (by a variable lookup that returned a secret, a
/// lookup plugin, or a secret registered meanwhile) while it ran. Nested
/// renders taint the ones around them.
pub fn track<R>(f: impl FnOnce() -> R) -> (R, bool) {
    let outer = TAINTED.with(|t| t.replace(Some(false)));
    let r = f();
    let tainted = TAINTED.with(|t| t.replace(outer)).unwrap_or(false);
    if tainted && outer.is_some() {
        taint();
    }
    (r, tainted)
}

/// The render under way read a secret.
pub fn taint() {
    TAINTED.with(|t| {
        if t.get().is_some() {
            t.set(Some(true));
        }
    });
}

/// A render read `v`: it is tainted if `v` holds a secret.
pub fn note(v: &minijinja::Value) {
    if any() && value_contains(v) {
        taint();
    }
}

/// The strings (keys too) and numbers of a template value, as text;
/// opaque objects (variable scopes) are not entered.
fn leaves(v: &minijinja::Value, depth: usize, f: &mut dyn FnMut(&str) -> bool) -> bool {
    use minijinja::value::ValueKind;
    if depth > 64 {
        return false;
    }
    match v.kind() {
        ValueKind::String => v.as_str().is_some_and(&mut *f),
        ValueKind::Number => f(&v.to_string()),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => {
            if v.downcast_object_ref::<crate::template::VarScope>()
                .is_some()
            {
                return false;
            }
            let Ok(items) = v.try_iter() else {
                return false;
            };
            let map = v.kind() == ValueKind::Map;
            for item in items {
                if leaves(&item, depth + 1, f) {
                    return true;
                }
                if map
                    && let Ok(val) = v.get_item(&item)
                    && leaves(&val, depth + 1, f)
                {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

/// Whether a template value holds a registered secret anywhere.
pub fn value_contains(v: &minijinja::Value) -> bool {
    any() && leaves(v, 0, &mut |s| contains(s))
}

/// Registers what a render of `source` made from a secret: each string
/// (and number) of `v`, line by line, except lines `source` has literally
/// (the template's own text, which is no secret). A source that only
/// names a variable (`r`, `{{ item.password }}`) copies a value whose
/// secrets are known already: nothing new is registered (registering
/// every leaf of a registered result would mask words like `changed`).
pub fn register_rendered(v: &minijinja::Value, source: &str) {
    if is_variable_path(source) {
        return;
    }
    values(v, 0, &mut |s, _| {
        if s.contains('\n') {
            for line in s.lines() {
                let line = line.trim();
                if !source.contains(line) {
                    register(line);
                }
            }
        } else if !source.contains(s.trim()) {
            register(s);
        }
    });
}

/// Whether a template or expression only names a variable, with
/// attributes or constant subscripts (`a.b['c'][0]`).
fn is_variable_path(source: &str) -> bool {
    let t = source.trim();
    let t = t
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .unwrap_or(t)
        .trim_matches('-')
        .trim();
    let first = t.chars().next();
    first.is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '\'' | '"'))
}

/// The strings and numbers among the values (not the keys) of a template
/// value, as text; opaque objects (variable scopes) are not entered.
fn values(v: &minijinja::Value, depth: usize, f: &mut dyn FnMut(&str, bool)) {
    use minijinja::value::ValueKind;
    if depth > 64 {
        return;
    }
    match v.kind() {
        ValueKind::String => f(v.as_str().unwrap_or_default(), false),
        ValueKind::Number => f(&v.to_string(), true),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => {
            if v.downcast_object_ref::<crate::template::VarScope>()
                .is_some()
            {
                return;
            }
            let map = v.kind() == ValueKind::Map;
            if let Ok(items) = v.try_iter() {
                for item in items {
                    if map {
                        values(&v.get_item(&item).unwrap_or_default(), depth + 1, f);
                    } else {
                        values(&item, depth + 1, f);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Registers every string of a template value (keys aside): a `no_log`
/// task's arguments.
pub fn register_strings(v: &minijinja::Value) {
    values(v, 0, &mut |s, number| {
        if !number {
            register(s);
        }
    });
}

/// Registers every string (and number) of a template value of at least
/// [`MIN_LEN`] characters: a value rendered from a secret.
pub fn register_value(v: &minijinja::Value) {
    leaves(v, 0, &mut |s| {
        register(s);
        false
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    // The registry is global: each test uses secrets of its own.
    #[test]
    fn masks_registered_values_longest_first() {
        assert_eq!(redact("pw=hunter2-a"), "pw=hunter2-a");
        register("hunter2-a");
        register("hunter2-abc");
        register("no");
        assert!(any());
        assert!(contains("x hunter2-a y"));
        assert_eq!(
            redact("a hunter2-abc b hunter2-a c no"),
            "a ******** b ******** c no"
        );
    }

    #[test]
    fn multi_line_secrets_mask_line_by_line_too() {
        register("first-line-xyz\nsecond-line-xyz\n");
        assert_eq!(redact("got: second-line-xyz"), format!("got: {MASK}"));
        assert_eq!(
            redact("first-line-xyz\nsecond-line-xyz\n"),
            format!("{MASK}")
        );
    }
}
