//! Python's `str`, `list` and `dict` methods in templates, as Jinja exposes
//! them to Ansible (`l.index(2)`, `s.rsplit(',', 1)`, `d.update(x)` …).
//!
//! minijinja-contrib's `pycompat` gives the common ones; [`unknown_method_callback`]
//! adds the rest and is tried first.
//!
//! Mutation (`{% set _ = items.append(x) %}`, the idiom ansible-core's
//! porting guide recommends for building lists) needs containers that can
//! change, and minijinja's values cannot. A template that calls a mutating
//! method is therefore rewritten before it is compiled
//! ([`super::rewrite`]) so that its lists and dicts go through
//! `__hoist_mut` ([`make_mut`]), which makes a [`MutList`] or [`MutDict`].
//! What a render returns is [`freeze`]d back to plain values.

use std::sync::{Arc, Mutex, MutexGuard};

use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

use super::filters::pyfmt::py_type_name;
use super::filters::{bind_values, py_repr};

/// Name of the global function the rewrite inserts.
pub(crate) const MUT_FN: &str = "__hoist_mut";

/// Methods that change a list or a dict in place.
pub(crate) const MUTATORS: &[&str] = &[
    "append",
    "extend",
    "insert",
    "pop",
    "remove",
    "reverse",
    "sort",
    "clear",
    "update",
    "setdefault",
    "popitem",
];

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn no_args(method: &str, args: &[Value]) -> Result<(), Error> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::TooManyArguments,
            format!("{method}() takes no arguments ({} given)", args.len()),
        ))
    }
}

// ---------------------------------------------------------------------------
// mutable containers
// ---------------------------------------------------------------------------

/// A list a template can change in place.
#[derive(Debug, Default)]
pub(crate) struct MutList(Mutex<Vec<Value>>);

/// A dict a template can change in place.
#[derive(Debug, Default)]
pub(crate) struct MutDict(Mutex<IndexMap<Value, Value>>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MutList {
    fn items(&self) -> Vec<Value> {
        lock(&self.0).clone()
    }
}

impl MutDict {
    fn pairs(&self) -> Vec<(Value, Value)> {
        lock(&self.0)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl Object for MutList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(&self.0).get(key.as_usize()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(lock(&self.0).len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        list_mutator(self, method, args)
    }
}

impl Object for MutDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(&self.0).get(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(lock(&self.0).keys().cloned().collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        dict_mutator(self, method, args)
    }
}

/// `__hoist_mut(v)`: a list or dict the template can change (the same
/// object when it already is one, as Python's names alias); anything else
/// unchanged. Only plain dicts are copied: lazy mappings (the variable
/// scope, `hostvars`) would be evaluated whole.
pub(crate) fn make_mut(v: Value) -> Value {
    if v.downcast_object_ref::<MutList>().is_some() || v.downcast_object_ref::<MutDict>().is_some()
    {
        return v;
    }
    match v.kind() {
        ValueKind::Seq | ValueKind::Iterable if !v.is_tuple() => match v.try_iter() {
            Ok(iter) => Value::from_object(MutList(Mutex::new(iter.collect()))),
            Err(_) => v,
        },
        ValueKind::Map => match v.downcast_object_ref::<IndexMap<Value, Value>>() {
            Some(map) => Value::from_object(MutDict(Mutex::new(map.clone()))),
            None => v,
        },
        _ => v,
    }
}

/// Nesting depth past which [`freeze`] stops (a list appended to itself
/// is a cycle).
const MAX_DEPTH: usize = 200;

/// True when `v` holds a mutable container anywhere in plain containers.
fn has_mut(v: &Value, depth: usize) -> bool {
    if v.downcast_object_ref::<MutList>().is_some() || v.downcast_object_ref::<MutDict>().is_some()
    {
        return true;
    }
    if depth > MAX_DEPTH {
        return false;
    }
    if let Some(items) = v.downcast_object_ref::<Vec<Value>>() {
        return items.iter().any(|i| has_mut(i, depth + 1));
    }
    if let Some(map) = v.downcast_object_ref::<IndexMap<Value, Value>>() {
        return map.values().any(|i| has_mut(i, depth + 1));
    }
    false
}

/// Turns the mutable containers in a render's result back into plain
/// values, so nothing outside templating ever sees them.
pub(crate) fn freeze(v: &Value) -> Value {
    freeze_at(v, 0)
}

fn freeze_at(v: &Value, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        // What Python prints for a container inside itself.
        if v.downcast_object_ref::<MutList>().is_some() {
            return Value::from("[...]");
        }
        if v.downcast_object_ref::<MutDict>().is_some() {
            return Value::from("{...}");
        }
        return v.clone();
    }
    if !has_mut(v, depth) {
        return v.clone();
    }
    let items = if let Some(list) = v.downcast_object_ref::<MutList>() {
        Some(list.items())
    } else {
        v.downcast_object_ref::<Vec<Value>>().cloned()
    };
    if let Some(items) = items {
        return Value::from(
            items
                .iter()
                .map(|i| freeze_at(i, depth + 1))
                .collect::<Vec<_>>(),
        );
    }
    let pairs = if let Some(dict) = v.downcast_object_ref::<MutDict>() {
        Some(dict.pairs())
    } else {
        v.downcast_object_ref::<IndexMap<Value, Value>>().map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>()
        })
    };
    match pairs {
        Some(pairs) => Value::from(
            pairs
                .into_iter()
                .map(|(k, v)| (k, freeze_at(&v, depth + 1)))
                .collect::<IndexMap<_, _>>(),
        ),
        None => v.clone(),
    }
}

/// Python's index normalization for `insert` and slices: negative counts
/// from the end, the result is clamped to `0..=len`.
fn clamp_index(i: i64, len: usize) -> usize {
    let len = len as i64;
    let i = if i < 0 { i + len } else { i };
    i.clamp(0, len) as usize
}

fn int_arg(method: &str, v: &Value) -> Result<i64, Error> {
    if v.is_integer() || v.kind() == ValueKind::Bool {
        if let Ok(i) = i64::try_from(v.clone()) {
            return Ok(i);
        }
        return Ok(v.is_true() as i64);
    }
    Err(err(format!(
        "{method}(): '{}' object cannot be interpreted as an integer",
        py_type_name(v)
    )))
}

fn iter_values(method: &str, v: &Value) -> Result<Vec<Value>, Error> {
    match v.kind() {
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            Ok(v.try_iter().map(|i| i.collect()).unwrap_or_default())
        }
        ValueKind::String => Ok(v
            .as_str()
            .unwrap_or_default()
            .chars()
            .map(Value::from)
            .collect()),
        _ => Err(err(format!(
            "{method}(): '{}' object is not iterable",
            py_type_name(v)
        ))),
    }
}

fn list_mutator(list: &MutList, method: &str, args: &[Value]) -> Result<Value, Error> {
    match method {
        "append" => {
            let b = bind_values("append", args, &["object"])?;
            let item = b.val(0).cloned().ok_or_else(|| {
                Error::new(
                    ErrorKind::MissingArgument,
                    "list.append() takes exactly one argument (0 given)",
                )
            })?;
            lock(&list.0).push(item);
            Ok(Value::from(()))
        }
        "extend" => {
            let b = bind_values("extend", args, &["iterable"])?;
            let src = b.val(0).cloned().unwrap_or_default();
            let items = iter_values("extend", &src)?;
            lock(&list.0).extend(items);
            Ok(Value::from(()))
        }
        "insert" => {
            let b = bind_values("insert", args, &["index", "object"])?;
            let (Some(idx), Some(item)) = (b.val(0), b.val(1)) else {
                return Err(Error::new(
                    ErrorKind::MissingArgument,
                    "insert expected 2 arguments",
                ));
            };
            let idx = int_arg("insert", idx)?;
            let mut items = lock(&list.0);
            let at = clamp_index(idx, items.len());
            items.insert(at, item.clone());
            Ok(Value::from(()))
        }
        "pop" => {
            let b = bind_values("pop", args, &["index"])?;
            let idx = match b.val(0) {
                Some(v) => int_arg("pop", v)?,
                None => -1,
            };
            let mut items = lock(&list.0);
            if items.is_empty() {
                return Err(err("pop from empty list"));
            }
            let len = items.len() as i64;
            let at = if idx < 0 { idx + len } else { idx };
            if !(0..len).contains(&at) {
                return Err(err("pop index out of range"));
            }
            Ok(items.remove(at as usize))
        }
        "remove" => {
            let b = bind_values("remove", args, &["value"])?;
            let what = b.val(0).cloned().unwrap_or_default();
            let mut items = lock(&list.0);
            match items.iter().position(|x| *x == what) {
                Some(at) => {
                    items.remove(at);
                    Ok(Value::from(()))
                }
                None => Err(err("list.remove(x): x not in list")),
            }
        }
        "reverse" => {
            no_args("reverse", args)?;
            lock(&list.0).reverse();
            Ok(Value::from(()))
        }
        "sort" => {
            let b = bind_values("sort", args, &["reverse"])?;
            let reverse = b.flag(0, false);
            let mut items = lock(&list.0);
            items.sort();
            if reverse {
                items.reverse();
            }
            Ok(Value::from(()))
        }
        "clear" => {
            no_args("clear", args)?;
            lock(&list.0).clear();
            Ok(Value::from(()))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

fn dict_mutator(dict: &MutDict, method: &str, args: &[Value]) -> Result<Value, Error> {
    match method {
        "update" => {
            let (pos, kwargs) = super::filters::split_args(args.to_vec())?;
            if pos.len() > 1 {
                return Err(err(format!(
                    "update expected at most 1 argument, got {}",
                    pos.len()
                )));
            }
            let mut new: Vec<(Value, Value)> = Vec::new();
            if let Some(src) = pos.first() {
                if src.kind() == ValueKind::Map {
                    for key in src.try_iter()? {
                        let val = src.get_item(&key)?;
                        new.push((key, val));
                    }
                } else {
                    for (i, pair) in iter_values("update", src)?.into_iter().enumerate() {
                        let kv = iter_values("update", &pair).map_err(|_| {
                            err(format!(
                                "cannot convert dictionary update sequence element #{i} to a sequence"
                            ))
                        })?;
                        let [k, v] = <[Value; 2]>::try_from(kv).map_err(|kv| {
                            err(format!(
                                "dictionary update sequence element #{i} has length {}; 2 is required",
                                kv.len()
                            ))
                        })?;
                        new.push((k, v));
                    }
                }
            }
            new.extend(kwargs.into_iter().map(|(k, v)| (Value::from(k), v)));
            let mut map = lock(&dict.0);
            for (k, v) in new {
                map.insert(k, v);
            }
            Ok(Value::from(()))
        }
        "pop" => {
            let b = bind_values("pop", args, &["key", "default"])?;
            let key = b.val(0).cloned().ok_or_else(|| {
                Error::new(
                    ErrorKind::MissingArgument,
                    "pop expected at least 1 argument, got 0",
                )
            })?;
            match lock(&dict.0).shift_remove(&key) {
                Some(v) => Ok(v),
                None => b
                    .val(1)
                    .cloned()
                    .ok_or_else(|| err(format!("KeyError: {}", py_repr(&key)))),
            }
        }
        "setdefault" => {
            let b = bind_values("setdefault", args, &["key", "default"])?;
            let key = b.val(0).cloned().ok_or_else(|| {
                Error::new(
                    ErrorKind::MissingArgument,
                    "setdefault expected at least 1 argument, got 0",
                )
            })?;
            let default = b.val(1).cloned().unwrap_or(Value::from(()));
            Ok(lock(&dict.0).entry(key).or_insert(default).clone())
        }
        "popitem" => {
            no_args("popitem", args)?;
            match lock(&dict.0).pop() {
                Some((k, v)) => Ok(Value::from(minijinja::value::Tuple::from(vec![k, v]))),
                None => Err(err("popitem(): dictionary is empty")),
            }
        }
        "clear" => {
            no_args("clear", args)?;
            lock(&dict.0).clear();
            Ok(Value::from(()))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

// ---------------------------------------------------------------------------
// methods of any value
// ---------------------------------------------------------------------------

/// The environment's method fallback: hoist's Python methods, then
/// minijinja-contrib's.
pub(crate) fn unknown_method_callback(
    state: &mut State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            format!("undefined value has no method named {method}"),
        ));
    }
    let ours = match value.kind() {
        ValueKind::String => str_method(value.as_str().unwrap_or_default(), method, args),
        ValueKind::Seq => seq_method(value, method, args),
        ValueKind::Map => map_method(value, method, args),
        _ => None,
    };
    match ours {
        Some(result) => result,
        None => minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args),
    }
}

fn mutation_refused(kind: &str, method: &str) -> Error {
    err(format!(
        "{kind}.{method}(): hoist can change a {kind} in place only when the same \
         template made it (with a literal or {{% set %}}), not a {kind} from a variable"
    ))
}

fn seq_method(v: &Value, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    Some(match method {
        "index" => list_index(v, args),
        "copy" => no_args("copy", args).map(|_| {
            Value::from(
                v.try_iter()
                    .map(|i| i.collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
        }),
        m if MUTATORS.contains(&m) && !v.is_tuple() => Err(mutation_refused("list", m)),
        _ => return None,
    })
}

fn map_method(v: &Value, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    Some(match method {
        "copy" => no_args("copy", args).and_then(|_| {
            let mut map = IndexMap::new();
            for key in v.try_iter()? {
                let val = v.get_item(&key)?;
                map.insert(key, val);
            }
            Ok(Value::from(map))
        }),
        m if MUTATORS.contains(&m) => Err(mutation_refused("dict", m)),
        _ => return None,
    })
}

/// `list.index(x[, start[, end]])`.
fn list_index(v: &Value, args: &[Value]) -> Result<Value, Error> {
    let b = bind_values("index", args, &["value", "start", "stop"])?;
    let what = b.val(0).cloned().ok_or_else(|| {
        Error::new(
            ErrorKind::MissingArgument,
            "index expected at least 1 argument, got 0",
        )
    })?;
    let items: Vec<Value> = v.try_iter()?.collect();
    let start = match b.val(1) {
        Some(x) => clamp_index(int_arg("index", x)?, items.len()),
        None => 0,
    };
    let stop = match b.val(2) {
        Some(x) => clamp_index(int_arg("index", x)?, items.len()),
        None => items.len(),
    };
    (start..stop.max(start))
        .find(|&i| items[i] == what)
        .map(Value::from)
        .ok_or_else(|| err(format!("{} is not in list", py_repr(&what))))
}

/// Byte offsets of a Python `[start:end]` slice (in characters) of `s`.
fn char_slice(s: &str, start: Option<i64>, end: Option<i64>) -> (usize, usize) {
    let offsets: Vec<usize> = s
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect();
    let len = offsets.len() - 1;
    let a = start.map_or(0, |i| clamp_index(i, len));
    let b = end.map_or(len, |i| clamp_index(i, len)).max(a);
    (offsets[a], offsets[b])
}

fn opt_int(method: &str, v: Option<&Value>) -> Result<Option<i64>, Error> {
    match v {
        None => Ok(None),
        Some(x) if x.is_none() => Ok(None),
        Some(x) => int_arg(method, x).map(Some),
    }
}

fn str_arg<'a>(method: &str, v: Option<&'a Value>) -> Result<&'a str, Error> {
    match v {
        Some(x) => x
            .as_str()
            .ok_or_else(|| err(format!("{method}(): must be str, not {}", py_type_name(x)))),
        None => Err(Error::new(
            ErrorKind::MissingArgument,
            format!("{method}() takes at least 1 argument (0 given)"),
        )),
    }
}

/// `find`/`rfind`/`index`/`rindex`/`count` with Python's optional
/// `start`/`end`.
fn str_search(s: &str, method: &str, args: &[Value]) -> Result<Value, Error> {
    let b = bind_values(
        match method {
            "find" => "find",
            "rfind" => "rfind",
            "index" => "index",
            "rindex" => "rindex",
            _ => "count",
        },
        args,
        &["sub", "start", "end"],
    )?;
    let sub = str_arg(method, b.val(0))?;
    let (a, z) = char_slice(s, opt_int(method, b.val(1))?, opt_int(method, b.val(2))?);
    let hay = &s[a..z];
    let chars_before = |byte: usize| s[..a + byte].chars().count() as i64;
    match method {
        "count" => Ok(Value::from(hay.matches(sub).count())),
        "find" | "index" => match hay.find(sub) {
            Some(at) => Ok(Value::from(chars_before(at))),
            None if method == "find" => Ok(Value::from(-1)),
            None => Err(err("substring not found")),
        },
        _ => match hay.rfind(sub) {
            Some(at) => Ok(Value::from(chars_before(at))),
            None if method == "rfind" => Ok(Value::from(-1)),
            None => Err(err("substring not found")),
        },
    }
}

/// Python's whitespace for `split()`/`strip()` without arguments.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn rsplit(s: &str, sep: Option<&str>, maxsplit: i64) -> Result<Vec<Value>, Error> {
    let mut parts: Vec<&str> = Vec::new();
    match sep {
        Some("") => return Err(err("empty separator")),
        Some(sep) => {
            let mut rest = s;
            loop {
                if maxsplit >= 0 && parts.len() as i64 >= maxsplit {
                    parts.push(rest);
                    break;
                }
                match rest.rfind(sep) {
                    Some(at) => {
                        parts.push(&rest[at + sep.len()..]);
                        rest = &rest[..at];
                    }
                    None => {
                        parts.push(rest);
                        break;
                    }
                }
            }
        }
        None => {
            let mut rest = s.trim_end_matches(py_space);
            while !rest.is_empty() {
                if maxsplit >= 0 && parts.len() as i64 >= maxsplit {
                    parts.push(rest);
                    break;
                }
                match rest.rfind(py_space) {
                    Some(at) => {
                        let ws_len = rest[at..].chars().next().map_or(1, char::len_utf8);
                        parts.push(&rest[at + ws_len..]);
                        rest = rest[..at].trim_end_matches(py_space);
                    }
                    None => {
                        parts.push(rest);
                        break;
                    }
                }
            }
        }
    }
    parts.reverse();
    Ok(parts.into_iter().map(Value::from).collect())
}

fn fill_char(method: &str, v: Option<&Value>) -> Result<char, Error> {
    match v {
        None => Ok(' '),
        Some(x) => {
            let s = x.as_str().unwrap_or_default();
            let mut chars = s.chars();
            match (chars.next(), chars.next(), x.as_str()) {
                (Some(c), None, Some(_)) => Ok(c),
                _ => Err(err(format!(
                    "{method}(): The fill character must be exactly one character long"
                ))),
            }
        }
    }
}

fn width_arg(method: &str, v: Option<&Value>) -> Result<usize, Error> {
    let w = match v {
        Some(x) => int_arg(method, x)?,
        None => {
            return Err(Error::new(
                ErrorKind::MissingArgument,
                format!("{method}() takes at least 1 argument (0 given)"),
            ));
        }
    };
    super::filters::check_size(w, "width")
}

fn pad(s: &str, width: usize, fill: char, left: usize) -> String {
    let len = s.chars().count();
    let total = width.saturating_sub(len);
    let left = left.min(total);
    let mut out = String::with_capacity(s.len() + total);
    out.extend(std::iter::repeat_n(fill, left));
    out.push_str(s);
    out.extend(std::iter::repeat_n(fill, total - left));
    out
}

fn is_title(s: &str) -> bool {
    let mut cased = false;
    let mut prev_cased = false;
    for c in s.chars() {
        if c.is_uppercase() {
            if prev_cased {
                return false;
            }
            prev_cased = true;
            cased = true;
        } else if c.is_lowercase() {
            if !prev_cased {
                return false;
            }
            prev_cased = true;
            cased = true;
        } else {
            prev_cased = false;
        }
    }
    cased
}

fn str_method(s: &str, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let partition = |sep: &str, right: bool| -> Result<Value, Error> {
        if sep.is_empty() {
            return Err(err("empty separator"));
        }
        let found = if right { s.rfind(sep) } else { s.find(sep) };
        let parts = match found {
            Some(at) => [&s[..at], sep, &s[at + sep.len()..]],
            None if right => ["", "", s],
            None => [s, "", ""],
        };
        Ok(Value::from(minijinja::value::Tuple::from(
            parts.map(Value::from).to_vec(),
        )))
    };
    Some(match method {
        "find" | "rfind" | "index" | "rindex" | "count" => str_search(s, method, args),
        "rsplit" => bind_values("rsplit", args, &["sep", "maxsplit"]).and_then(|b| {
            let sep = match b.val(0) {
                None => None,
                Some(x) if x.is_none() => None,
                Some(x) => Some(str_arg("rsplit", Some(x))?),
            };
            let maxsplit = opt_int("rsplit", b.val(1))?.unwrap_or(-1);
            rsplit(s, sep, maxsplit).map(Value::from)
        }),
        "zfill" => bind_values("zfill", args, &["width"]).and_then(|b| {
            let width = width_arg("zfill", b.val(0))?;
            let (sign, digits) = match s.chars().next() {
                Some(c @ ('+' | '-')) => (c.to_string(), &s[1..]),
                _ => (String::new(), s),
            };
            let fill = width.saturating_sub(s.chars().count());
            Ok(Value::from(format!("{sign}{}{digits}", "0".repeat(fill))))
        }),
        "center" | "ljust" | "rjust" => {
            bind_values("center", args, &["width", "fillchar"]).and_then(|b| {
                let width = width_arg(method, b.val(0))?;
                let fill = fill_char(method, b.val(1))?;
                let marg = width.saturating_sub(s.chars().count());
                let left = match method {
                    "ljust" => 0,
                    "rjust" => marg,
                    // CPython: marg / 2 + (marg & width & 1)
                    _ => marg / 2 + (marg & width & 1),
                };
                Ok(Value::from(pad(s, width, fill, left)))
            })
        }
        "swapcase" => no_args(method, args).map(|_| {
            Value::from(
                s.chars()
                    .flat_map(|c| {
                        if c.is_uppercase() {
                            c.to_lowercase().collect::<Vec<_>>()
                        } else if c.is_lowercase() {
                            c.to_uppercase().collect()
                        } else {
                            vec![c]
                        }
                    })
                    .collect::<String>(),
            )
        }),
        "casefold" => no_args(method, args).map(|_| Value::from(s.to_lowercase())),
        "istitle" => no_args(method, args).map(|_| Value::from(is_title(s))),
        "partition" => str_arg(method, args.first()).and_then(|sep| partition(sep, false)),
        "rpartition" => str_arg(method, args.first()).and_then(|sep| partition(sep, true)),
        "removeprefix" => {
            str_arg(method, args.first()).map(|p| Value::from(s.strip_prefix(p).unwrap_or(s)))
        }
        "removesuffix" => {
            str_arg(method, args.first()).map(|p| Value::from(s.strip_suffix(p).unwrap_or(s)))
        }
        "join" => bind_values("join", args, &["iterable"]).and_then(|b| {
            let src = b.val(0).cloned().unwrap_or_default();
            let items = iter_values("join", &src)?;
            let mut parts = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(x) => parts.push(x.to_owned()),
                    None => {
                        return Err(err(format!(
                            "sequence item {i}: expected str instance, {} found",
                            py_type_name(item)
                        )));
                    }
                }
            }
            Ok(Value::from(parts.join(s)))
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_inside_itself_freezes_without_overflowing() {
        let list = Arc::new(MutList(Mutex::new(vec![Value::from(1)])));
        let v = Value::from_dyn_object(list.clone());
        lock(&list.0).push(v.clone());
        let frozen = freeze(&v);
        assert!(frozen.downcast_object_ref::<Vec<Value>>().is_some());
        let mut cur = frozen;
        let mut depth = 0;
        while cur.kind() == ValueKind::Seq {
            cur = cur.get_item(&Value::from(1)).unwrap_or_default();
            depth += 1;
        }
        assert_eq!(cur.as_str(), Some("[...]"));
        assert_eq!(depth, MAX_DEPTH + 1);
    }

    #[test]
    fn rsplit_is_pythons() {
        let r = |s: &str, sep: Option<&str>, n: i64| -> Vec<String> {
            rsplit(s, sep, n)
                .unwrap_or_default()
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        };
        assert_eq!(r("a,b,c", Some(","), 1), ["a,b", "c"]);
        assert_eq!(r("a,b,c", Some(","), -1), ["a", "b", "c"]);
        assert_eq!(r("  a b  c ", None, 1), ["  a b", "c"]);
        assert_eq!(r("  a b  c ", None, -1), ["a", "b", "c"]);
        assert_eq!(r("", None, -1), Vec::<String>::new());
        assert_eq!(r(",a,", Some(","), -1), ["", "a", ""]);
    }
}
