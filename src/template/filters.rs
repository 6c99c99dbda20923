//! Ansible's filters and tests for minijinja.
//!
//! [`register`] installs Ansible's filters, tests and the `lookup`/`query`
//! functions on a minijinja [`Environment`], replacing minijinja builtins
//! whose semantics differ from Jinja2/Ansible (Python `str()` formatting,
//! `int` parsing, `default(x, true)`, errors on undefined input, ...).
//!
//! The submodules hold the pieces that emulate Python: [`pyfmt`] (repr, `%`
//! formatting), [`pyjson`] (`json.dumps`), [`yaml_dump`] (PyYAML's emitter),
//! [`yaml_load`] (YAML 1.1 loading), [`crate::pyre`] (Python regexes),
//! `pyrandom` (CPython's Mersenne Twister) and [`version`].

mod data;
mod jtests;
mod lookups;
pub mod pyfmt;
pub mod pyjson;
mod pyrandom;
mod strings;
pub mod version;
pub mod yaml_dump;
pub mod yaml_load;

use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs, from_args};
use minijinja::{Environment, Error, ErrorKind, State};

/// Result type of filters.
pub(crate) type R = Result<Value, Error>;

/// Register all Ansible filters and tests (overriding minijinja builtins where Ansible differs).
pub fn register(env: &mut Environment<'static>) {
    strings::register(env);
    data::register(env);
    jtests::register(env);
    lookups::register(env);
}

/// Python's repr() of a value: strings 'single-quoted' with Python escaping rules, True/False/None,
/// lists [..], dicts {'k': v}, ints, floats as Python prints them (1.0, 0.5, 1e+20 ...).
/// Shuffles in place as Python's unseeded `random.shuffle` does.
pub fn shuffle<T>(items: &mut [T]) {
    pyrandom::PyRandom::unseeded().shuffle(items);
}

pub fn py_repr(v: &Value) -> String {
    pyfmt::py_repr(v)
}

/// Python's str(): strings as-is, everything else as py_repr.
pub fn py_str(v: &Value) -> String {
    pyfmt::py_str(v)
}

/// Ansible's boolean coercion (the `bool` filter): true for True, 'yes', 'on', '1', 'true', 'y', 't', 1
/// (case-insensitive for strings); false otherwise.
///
/// This is the lenient coercion of `ansible.module_utils.parsing.convert_bool`;
/// the `bool` filter itself follows ansible-core and does not accept `y`/`t`.
pub fn ansible_bool(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Bool => v.is_true(),
        ValueKind::String => matches!(
            v.as_str()
                .unwrap_or_default()
                .trim()
                .to_lowercase()
                .as_str(),
            "yes" | "on" | "1" | "true" | "y" | "t"
        ),
        ValueKind::Number => f64::try_from(v.clone()).is_ok_and(|f| f == 1.0),
        _ => false,
    }
}

/// YAML dump as Ansible's to_yaml / to_nice_yaml (PyYAML safe_dump output with default_flow_style=False for nice, indent param)
pub fn to_yaml(v: &Value, nice: bool, indent: usize) -> Result<String, Error> {
    let opts = yaml_dump::YamlOptions {
        default_flow_style: if nice { Some(false) } else { None },
        indent,
        ..yaml_dump::YamlOptions::default()
    };
    yaml_dump::dump(v, &opts)
}

// ---------------------------------------------------------------------------
// helpers shared by the submodules
// ---------------------------------------------------------------------------

/// An "invalid operation" error with a message.
pub(crate) fn op_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The error raised when an undefined value reaches a filter that needs a
/// value.  It carries the undefined value's origin so the engine can name
/// the variable.
pub(crate) fn undefined_error(v: &Value) -> Error {
    match v.get_attr("__hoist_undefined__") {
        Err(e) if e.kind() == ErrorKind::UndefinedError => e,
        _ => Error::new(ErrorKind::UndefinedError, "undefined value"),
    }
}

/// Fails with an undefined error if `v` is undefined.
pub(crate) fn defined(v: &Value) -> Result<(), Error> {
    if v.is_undefined() {
        Err(undefined_error(v))
    } else {
        Ok(())
    }
}

/// True for Python lists/tuples (and lazy iterables), not strings or dicts.
pub(crate) fn is_list(v: &Value) -> bool {
    matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable)
}

pub(crate) fn is_map(v: &Value) -> bool {
    v.kind() == ValueKind::Map
}

/// The items of a list-like value.
pub(crate) fn list_items(v: &Value) -> Vec<Value> {
    v.try_iter().map(|i| i.collect()).unwrap_or_default()
}

/// Python's `list(v)`: characters of a string, keys of a dict, items of a list.
pub(crate) fn py_list(v: &Value) -> Result<Vec<Value>, Error> {
    defined(v)?;
    match v.kind() {
        ValueKind::String | ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            Ok(list_items(v))
        }
        _ => Err(op_err(format!(
            "'{}' object is not iterable",
            pyfmt::py_type_name(v)
        ))),
    }
}

/// The key/value pairs of a mapping, in order.
pub(crate) fn map_pairs(v: &Value) -> Vec<(Value, Value)> {
    let mut out = Vec::new();
    if let Ok(iter) = v.try_iter() {
        for key in iter {
            let val = v.get_item(&key).unwrap_or(Value::UNDEFINED);
            out.push((key, val));
        }
    }
    out
}

/// Looks a key up in a mapping; `None` if missing.
pub(crate) fn map_get(v: &Value, key: &str) -> Option<Value> {
    if !is_map(v) {
        return None;
    }
    v.get_item(&Value::from(key))
        .ok()
        .filter(|x| !x.is_undefined())
}

/// Jinja's attribute getter: dotted paths, integer parts index sequences.
pub(crate) fn get_path(v: &Value, path: &str) -> Value {
    let mut cur = v.clone();
    for part in path.split('.') {
        let next = if let Ok(idx) = part.parse::<i64>() {
            if is_map(&cur) {
                cur.get_item(&Value::from(idx))
                    .ok()
                    .filter(|x| !x.is_undefined())
                    .or_else(|| cur.get_item(&Value::from(part)).ok())
            } else {
                cur.get_item(&Value::from(idx)).ok()
            }
        } else {
            cur.get_item(&Value::from(part)).ok()
        };
        cur = next.unwrap_or(Value::UNDEFINED);
        if cur.is_undefined() {
            break;
        }
    }
    cur
}

/// Marks every string in a value as safe (hoist's `!unsafe`: never templated).
pub(crate) fn wrap_unsafe(v: &Value) -> Value {
    match v.kind() {
        ValueKind::String => {
            if v.is_safe() {
                v.clone()
            } else {
                Value::from_safe_string(v.as_str().unwrap_or_default().to_string())
            }
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = list_items(v).iter().map(wrap_unsafe).collect();
            if v.is_tuple() {
                Value::from(minijinja::value::Tuple::from(items))
            } else {
                Value::from(items)
            }
        }
        ValueKind::Map => Value::from_pairs(
            map_pairs(v)
                .into_iter()
                .map(|(k, val)| (wrap_unsafe(&k), wrap_unsafe(&val))),
        ),
        _ => v.clone(),
    }
}

/// Converts a number-ish value to an i64 (ints, integral floats, bools,
/// numeric strings).
pub(crate) fn to_i64(v: &Value) -> Option<i64> {
    match v.kind() {
        ValueKind::Bool => Some(v.is_true() as i64),
        ValueKind::Number => {
            if v.is_integer() {
                i64::try_from(v.clone()).ok()
            } else {
                let f = f64::try_from(v.clone()).ok()?;
                (f.fract() == 0.0 && f.is_finite()).then_some(f as i64)
            }
        }
        ValueKind::String => v.as_str()?.trim().parse().ok(),
        _ => None,
    }
}

/// Arguments bound to a Python-style signature (positional or keyword).
pub(crate) struct Bound {
    fname: &'static str,
    names: &'static [&'static str],
    vals: Vec<Option<Value>>,
    /// Keyword arguments not in the signature (only when allowed).
    pub extra: Vec<(String, Value)>,
}

/// Binds filter arguments to parameter names like Python does.
pub(crate) fn bind(
    fname: &'static str,
    args: Rest<ValueOrKwargs>,
    names: &'static [&'static str],
) -> Result<Bound, Error> {
    bind_impl(fname, args.into_values(), names, false)
}

/// Like [`bind`] but collects unknown keyword arguments into `extra`.
pub(crate) fn bind_extra(
    fname: &'static str,
    args: Rest<ValueOrKwargs>,
    names: &'static [&'static str],
) -> Result<Bound, Error> {
    bind_impl(fname, args.into_values(), names, true)
}

/// Like [`bind`] for the raw arguments of a method call.
pub(crate) fn bind_values(
    fname: &'static str,
    args: &[Value],
    names: &'static [&'static str],
) -> Result<Bound, Error> {
    bind_impl(fname, args.to_vec(), names, false)
}

/// Keyword arguments as ordered (name, value) pairs.
pub(crate) type KwPairs = Vec<(String, Value)>;

/// Splits raw arguments into positional values and keyword pairs.
pub(crate) fn split_args(args: Vec<Value>) -> Result<(Vec<Value>, KwPairs), Error> {
    let (pos, kwargs): (&[Value], Kwargs) = from_args(&args)?;
    let keys: Vec<String> = kwargs.args().map(|k| k.to_string()).collect();
    let mut kw = Vec::new();
    for key in keys {
        let v: Value = kwargs.get(&key)?;
        kw.push((key, v));
    }
    Ok((pos.to_vec(), kw))
}

fn bind_impl(
    fname: &'static str,
    args: Vec<Value>,
    names: &'static [&'static str],
    allow_extra: bool,
) -> Result<Bound, Error> {
    let (pos, kw) = split_args(args)?;
    if pos.len() > names.len() {
        return Err(Error::new(
            ErrorKind::TooManyArguments,
            format!(
                "{fname}() takes at most {} argument(s) ({} given)",
                names.len(),
                pos.len()
            ),
        ));
    }
    let mut vals: Vec<Option<Value>> = vec![None; names.len()];
    for (i, v) in pos.into_iter().enumerate() {
        vals[i] = Some(v);
    }
    let mut extra = Vec::new();
    for (key, v) in kw {
        if let Some(idx) = names.iter().position(|n| *n == key) {
            if vals[idx].is_some() {
                return Err(Error::new(
                    ErrorKind::TooManyArguments,
                    format!("{fname}() got multiple values for argument '{key}'"),
                ));
            }
            vals[idx] = Some(v);
        } else if allow_extra {
            extra.push((key, v));
        } else {
            return Err(Error::new(
                ErrorKind::TooManyArguments,
                format!("{fname}() got an unexpected keyword argument '{key}'"),
            ));
        }
    }
    Ok(Bound {
        fname,
        names,
        vals,
        extra,
    })
}

impl Bound {
    /// The raw argument (`none` included) if given.
    pub fn val(&self, i: usize) -> Option<&Value> {
        self.vals.get(i).and_then(|v| v.as_ref())
    }

    /// The argument if given and not `none`/undefined.
    pub fn opt(&self, i: usize) -> Option<&Value> {
        self.val(i).filter(|v| !v.is_none() && !v.is_undefined())
    }

    fn name(&self, i: usize) -> &'static str {
        self.names.get(i).copied().unwrap_or("?")
    }

    /// A flag argument (Python truthiness), `default` if not given.
    pub fn flag(&self, i: usize, default: bool) -> bool {
        match self.val(i) {
            Some(v) if !v.is_undefined() => v.is_true(),
            _ => default,
        }
    }

    /// A string argument (converted with `str()`), `default` if not given.
    pub fn string(&self, i: usize, default: &str) -> String {
        match self.opt(i) {
            Some(v) => py_str(v),
            None => default.to_string(),
        }
    }

    /// An optional string argument.
    pub fn opt_string(&self, i: usize) -> Option<String> {
        self.opt(i).map(py_str)
    }

    /// An integer argument.
    pub fn int(&self, i: usize, default: i64) -> Result<i64, Error> {
        match self.opt(i) {
            None => Ok(default),
            Some(v) => self.int_value(i, v),
        }
    }

    /// An optional integer argument.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, Error> {
        match self.opt(i) {
            None => Ok(None),
            Some(v) => self.int_value(i, v).map(Some),
        }
    }

    fn int_value(&self, i: usize, v: &Value) -> Result<i64, Error> {
        defined(v)?;
        to_i64(v).ok_or_else(|| {
            op_err(format!(
                "{}(): argument '{}' must be an integer, got {}",
                self.fname,
                self.name(i),
                py_repr(v)
            ))
        })
    }
}

/// Converts a safe-or-not string result back into a value.
pub(crate) fn str_value(s: String) -> Value {
    Value::from(s)
}

/// Largest size (padding width, repeat count, ...) a filter will build.
pub(crate) const MAX_SIZE: i64 = 10_000_000;

/// Fails if a requested size is unreasonably large.
pub(crate) fn check_size(n: i64, what: &str) -> Result<usize, Error> {
    if n > MAX_SIZE {
        return Err(op_err(format!("{what} too big: {n}")));
    }
    Ok(n.max(0) as usize)
}

/// Gives the filter/test access to a variable of the template context.
pub(crate) fn ctx_var(state: &State, name: &str) -> Option<Value> {
    state.lookup(name).filter(|v| !v.is_undefined())
}

/// A Python-regex problem as a template error.
fn regex_error(msg: String) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::UndefinedBehavior;
    use minijinja::value::Serde;

    pub(crate) fn env() -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_formatter(|out, _state, value| {
            if value.is_undefined() {
                return Err(Error::new(
                    ErrorKind::UndefinedError,
                    "undefined value printed",
                ));
            }
            out.write_str(&py_str(value))
                .map_err(|_| Error::new(ErrorKind::WriteFailure, "write failed"))
        });
        register(&mut env);
        env
    }

    pub(crate) fn render_ctx(src: &str, ctx: serde_json::Value) -> Result<String, Error> {
        let env = env();
        env.render_str(src, Value::from(Serde(ctx)))
    }

    /// Renders a template with a few standard variables.
    pub(crate) fn render(src: &str) -> String {
        render_ctx(
            src,
            serde_json::json!({
                "d": {"b": 2, "a": 1},
                "l": [3, 1, 2],
                "s": "Hello World",
                "n": null,
                "users": [
                    {"name": "bob", "age": 30, "groups": ["wheel", "dev"]},
                    {"name": "alice", "age": 25, "groups": ["dev"]}
                ],
            }),
        )
        .unwrap_or_else(|e| format!("ERROR: {e:#}"))
    }

    /// Evaluates an expression and formats it with Python's `repr()`.
    pub(crate) fn eval(expr: &str) -> String {
        let env = env();
        let ctx = Value::from(Serde(serde_json::json!({
            "d": {"b": 2, "a": 1},
            "l": [3, 1, 2],
            "s": "Hello World",
            "n": null,
            "users": [
                {"name": "bob", "age": 30, "groups": ["wheel", "dev"]},
                {"name": "alice", "age": 25, "groups": ["dev"]}
            ],
        })));
        match env.compile_expression(expr).and_then(|e| e.eval(ctx)) {
            Ok(v) => py_repr(&v),
            Err(e) => format!("ERROR: {e:#}"),
        }
    }

    pub(crate) fn is_err(expr: &str) -> bool {
        eval(expr).starts_with("ERROR")
    }

    #[test]
    fn test_public_api() {
        let v = Value::from(Serde(serde_json::json!([1, "a", {"k": 1.0}])));
        assert_eq!(py_repr(&v), "[1, 'a', {'k': 1.0}]");
        assert_eq!(py_str(&Value::from("x")), "x");
        assert_eq!(py_str(&Value::from(true)), "True");
        assert!(ansible_bool(&Value::from("Yes")));
        assert!(ansible_bool(&Value::from("t")));
        assert!(ansible_bool(&Value::from(1)));
        assert!(!ansible_bool(&Value::from("no")));
        assert!(!ansible_bool(&Value::from(2)));
        let m = Value::from(Serde(serde_json::json!({"b": [1, 2], "a": "x"})));
        assert_eq!(
            to_yaml(&m, false, 2).unwrap_or_default(),
            "a: x\nb: [1, 2]\n"
        );
        assert_eq!(
            to_yaml(&m, true, 4).unwrap_or_default(),
            "a: x\nb:\n- 1\n- 2\n"
        );
    }

    #[test]
    fn test_python_formatting() {
        assert_eq!(render("{{ [1, 'a'] | string }}"), "[1, 'a']");
        assert_eq!(render("{{ True | string }}"), "True");
        assert_eq!(render("{{ 3.0 | string }}"), "3.0");
        assert_eq!(render("{{ 'abc' | int }}"), "0");
    }

    #[test]
    fn test_undefined_errors() {
        assert!(is_err("missing | int"));
        assert!(is_err("missing | upper"));
        assert!(is_err("missing | to_json"));
        assert!(is_err("missing | map('upper') | list"));
        assert_eq!(eval("missing | default('x')"), "'x'");
        assert_eq!(eval("missing.a.b | default('x')"), "'x'");
    }
}
