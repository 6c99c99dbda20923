//! `validate_argument_spec`: check variables and given arguments against an
//! argument spec, as ansible-core's `ArgumentSpecValidator` does. Roles with
//! `meta/argument_specs.yml` (or `argument_specs:` in `meta/main.yml`) get
//! an implicit first task that calls it (see `playbook::argspec_task`).
//!
//! The checks, their order and their messages follow ansible-core 2.19:
//! aliases, unsupported parameters, `required`, types (with Ansible's
//! conversions), `choices`, `elements`, then each nested `options` with its
//! `mutually_exclusive`, `required_together`, `required_one_of`,
//! `required_if` and `required_by`. Defaults are applied only while
//! checking: they never become variables.

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use minijinja::value::ValueKind;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};
use crate::template::{py_repr, py_str};

pub struct ValidateArgumentSpec;

static SPEC: ModuleSpec = ModuleSpec {
    name: "validate_argument_spec",
    params: &[
        Param::new("argument_spec", ParamType::Raw).required(),
        Param::new("provided_arguments", ParamType::Raw),
        Param::new("validate_args_context", ParamType::Raw),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: true,
    summary: "Check variables and arguments against an argument spec.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "Roles with `meta/argument_specs.yml` (or `argument_specs:` in meta/main.yml) get it \
         as an implicit first task, as in ansible-core. Spec defaults are applied only while \
         checking: they never become variables.",
    ],
};

#[async_trait]
impl Module for ValidateArgumentSpec {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let context = args
            .get("validate_args_context")
            .cloned()
            .unwrap_or_else(empty_map);
        let spec = args.get("argument_spec").cloned().unwrap_or_default();
        if spec.kind() != ValueKind::Map {
            return Ok(Outcome::failure(format!(
                "Task failed: Incorrect type for argument_spec, expected dict and got <class '{}'>",
                tagged_class(&spec)
            )));
        }
        let provided = args
            .get("provided_arguments")
            .cloned()
            .unwrap_or_else(empty_map);
        if provided.kind() != ValueKind::Map {
            return Ok(Outcome::failure(format!(
                "Task failed: Incorrect type for provided_arguments, expected dict and got <class '{}'>",
                tagged_class(&provided)
            )));
        }
        // The spec's names that are variables, then the given arguments.
        let mut params = IndexMap::new();
        for name in map_keys(&spec) {
            if let Some(v) = ctx.env.var(&name)? {
                params.insert(name, v);
            }
        }
        params.extend(to_params(&provided));
        let errors = validate(&spec, params);
        if errors.is_empty() {
            let mut out = Outcome::changed(false);
            out.msg = Some("The arg spec validation passed".into());
            out.set("validate_args_context", context);
            return Ok(out);
        }
        let mut out = Outcome::failure(format!(
            "Validation of arguments failed:\n{}",
            errors.join("\n")
        ));
        out.set("argument_spec_data", spec);
        out.set(
            "argument_errors",
            Value::from(errors.into_iter().map(Value::from).collect::<Vec<_>>()),
        );
        out.set("validate_args_context", context);
        Ok(out)
    }
}

fn empty_map() -> Value {
    crate::template::vmap(Vec::<(String, Value)>::new())
}

/// A mapping's keys as strings (Python dict keys of a YAML mapping).
fn map_keys(v: &Value) -> Vec<String> {
    if v.kind() != ValueKind::Map {
        return Vec::new();
    }
    v.try_iter()
        .map(|it| it.map(|k| py_str(&k)).collect())
        .unwrap_or_default()
}

/// A mapping as an ordered parameter map.
fn to_params(v: &Value) -> Params {
    let mut out = Params::new();
    if let Ok(keys) = v.try_iter() {
        for k in keys {
            let item = v.get_item(&k).unwrap_or_default();
            out.insert(py_str(&k), item);
        }
    }
    out
}

type Params = IndexMap<String, Value>;

/// An option's attribute (`type`, `default` …); None when absent or null,
/// as Python's `spec.get(key)` is.
fn attr(opts: &Value, key: &str) -> Option<Value> {
    if opts.kind() != ValueKind::Map {
        return None;
    }
    opts.get_attr(key)
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_none())
}

fn attr_true(opts: &Value, key: &str) -> bool {
    attr(opts, key).is_some_and(|v| v.is_true())
}

fn attr_str(opts: &Value, key: &str) -> Option<String> {
    attr(opts, key).map(|v| py_str(&v))
}

/// Python's `type(v).__name__` for a value that came through templating.
pub fn native_type(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::String => "str",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        ValueKind::None | ValueKind::Undefined => "NoneType",
        _ => "object",
    }
}

/// The class ansible-core 2.19 names for a value loaded from YAML (its
/// strings, numbers and containers carry origin tags).
fn tagged_class(v: &Value) -> String {
    let tagged = |n: &str| format!("ansible.module_utils._internal._datatag._AnsibleTagged{n}");
    match native_type(v) {
        "str" => tagged("Str"),
        "int" => tagged("Int"),
        "float" => tagged("Float"),
        "list" => tagged("List"),
        "dict" => tagged("Dict"),
        other => other.to_owned(),
    }
}

fn is_int(v: &Value) -> bool {
    v.kind() == ValueKind::Number && v.is_integer()
}

/// Python's `==` between plain data (True == 1 == 1.0).
fn py_eq(a: &Value, b: &Value) -> bool {
    let num = |v: &Value| match v.kind() {
        ValueKind::Bool => Some(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        _ => None,
    };
    match (a.kind(), b.kind()) {
        (ValueKind::None | ValueKind::Undefined, ValueKind::None | ValueKind::Undefined) => true,
        (ValueKind::String, ValueKind::String) => a.as_str() == b.as_str(),
        (ValueKind::Seq, ValueKind::Seq) => {
            let (x, y) = (seq(a), seq(b));
            x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| py_eq(p, q))
        }
        (ValueKind::Map, ValueKind::Map) => {
            let (x, y) = (to_params(a), to_params(b));
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

fn seq(v: &Value) -> Vec<Value> {
    v.try_iter().map(|it| it.collect()).unwrap_or_default()
}

fn contains(list: &[Value], v: &Value) -> bool {
    list.iter().any(|c| py_eq(c, v))
}

const BOOLEANS_TRUE: &[&str] = &["y", "yes", "on", "1", "true", "t"];
const BOOLEANS_FALSE: &[&str] = &["n", "no", "off", "0", "false", "f"];

/// ansible-core's `boolean()` (strict): the message lists the valid values
/// (ansible-core prints them from a set, in no fixed order).
fn to_boolean(v: &Value) -> Result<bool, String> {
    match v.kind() {
        ValueKind::Bool => return Ok(v.is_true()),
        ValueKind::String => {
            let s = v.as_str().unwrap_or("").trim().to_lowercase();
            if BOOLEANS_TRUE.contains(&s.as_str()) {
                return Ok(true);
            }
            if BOOLEANS_FALSE.contains(&s.as_str()) {
                return Ok(false);
            }
        }
        ValueKind::Number => match f64::try_from(v.clone()) {
            Ok(1.0) => return Ok(true),
            Ok(0.0) => return Ok(false),
            _ => {}
        },
        _ => {}
    }
    let valid: Vec<String> = ["0", "1"]
        .into_iter()
        .map(str::to_owned)
        .chain(
            BOOLEANS_TRUE
                .iter()
                .chain(BOOLEANS_FALSE)
                .map(|s| format!("'{s}'")),
        )
        .collect();
    Err(format!(
        "The value '{}' is not a valid boolean. Valid booleans include: {}",
        py_str(v),
        valid.join(", ")
    ))
}

/// Removes `_` digit separators as Python's number parsers allow them:
/// only single ones between two digits.
fn strip_underscores(s: &str) -> Option<String> {
    if !s.contains('_') {
        return Some(s.to_owned());
    }
    let b = s.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if *c == b'_'
            && !(i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            return None;
        }
    }
    Some(s.replace('_', ""))
}

/// Python's `int(decimal.Decimal(s))` when the decimal has no fractional
/// part: `Ok(Some(n))`; integral but beyond i64: `Ok(None)`; not a number
/// or with a fraction: `Err`.
fn decimal_int(s: &str) -> Result<Option<i64>, ()> {
    let s = strip_underscores(s.trim()).ok_or(())?;
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s.as_str()),
    };
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().map_err(|_| ())?),
        None => (body, 0),
    };
    let (int_part, frac) = match mant.split_once('.') {
        Some((a, b)) => (a, b),
        None => (mant, ""),
    };
    if (int_part.is_empty() && frac.is_empty())
        || !int_part.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return Err(());
    }
    let mut digits: String = format!("{int_part}{frac}");
    let mut exp = exp - frac.len() as i64;
    while digits.ends_with('0') && digits.len() > 1 {
        digits.pop();
        exp += 1;
    }
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(Some(0));
    }
    if exp < 0 {
        return Err(());
    }
    if exp > 30 {
        return Ok(None);
    }
    let mut n: i128 = digits.parse().map_err(|_| ())?;
    for _ in 0..exp {
        n = n.checked_mul(10).ok_or(())?;
    }
    if neg {
        n = -n;
    }
    Ok(i64::try_from(n).ok())
}

/// Python's `float(s)` for a string.
fn py_float(s: &str) -> Option<f64> {
    let s = strip_underscores(s.trim())?;
    let lower = s.to_ascii_lowercase();
    let bare = lower.trim_start_matches(['+', '-']);
    if bare.starts_with("inf") && bare != "inf" && bare != "infinity" {
        return None;
    }
    s.parse::<f64>().ok()
}

/// `human_to_bytes()`: "10M", "1 KB", "2Mb" (bits) …
fn human_to_bytes(s: &str, isbits: bool) -> Option<i64> {
    let s = s.trim_end();
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, rest) = s.split_at(num_end);
    // `[0-9]*\.?[0-9]+`
    let valid_num = match num.split_once('.') {
        Some((a, b)) => !b.is_empty() && !b.contains('.') && a.bytes().all(|c| c.is_ascii_digit()),
        None => !num.is_empty(),
    };
    if !valid_num {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let unit = rest.trim_start();
    if unit.is_empty() {
        return Some(n.round() as i64);
    }
    if !unit.bytes().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let key = unit.chars().next()?.to_ascii_uppercase();
    let order = "BKMGTPEZY".find(key)?;
    if unit.len() > 1 {
        let names = [
            "byte", "kilobyte", "megabyte", "gigabyte", "terabyte", "petabyte", "exabyte",
        ];
        let (full, short) = match names.get(order) {
            Some(n) if isbits => (n.replace("byte", "bit"), format!("{key}b")),
            Some(n) => (n.to_string(), format!("{key}B")),
            None => return None,
        };
        let short = match (key, isbits) {
            ('B', true) => "b".to_owned(),
            ('B', false) => "B".to_owned(),
            _ => short,
        };
        if unit.to_lowercase() != full && unit != short {
            return None;
        }
    }
    Some((n * 1024f64.powi(order as i32)) as i64)
}

/// Python's `ast.literal_eval` for a dict literal, near enough: the text as
/// a Jinja expression without variables.
fn literal_dict(s: &str) -> Option<Value> {
    let env = minijinja::Environment::new();
    let expr = env.compile_expression(s).ok()?;
    let v = expr.eval(()).ok()?;
    (v.kind() == ValueKind::Map).then_some(v)
}

fn from_json(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::from(()),
        J::Bool(b) => Value::from(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => Value::from(s.as_str()),
        J::Array(a) => Value::from(a.iter().map(from_json).collect::<Vec<_>>()),
        J::Object(o) => crate::template::vmap(o.iter().map(|(k, v)| (k.clone(), from_json(v)))),
    }
}

/// `check_type_dict`: a dict, JSON or a Python literal, or `k=v` pairs.
fn to_dict(v: &Value) -> Result<Value, String> {
    match v.kind() {
        ValueKind::Map => Ok(v.clone()),
        ValueKind::String => {
            let s = v.as_str().unwrap_or("");
            if s.starts_with('{') {
                if let Ok(j) = serde_json::from_str::<serde_json::Value>(s) {
                    return Ok(from_json(&j));
                }
                return literal_dict(s)
                    .ok_or_else(|| "unable to evaluate string as dictionary".to_owned());
            }
            if !s.contains('=') {
                return Err("dictionary requested, could not parse JSON or key=value".into());
            }
            let mut fields = Vec::new();
            let mut field = String::new();
            let mut quote: Option<char> = None;
            let mut escape = false;
            for c in s.trim().chars() {
                if escape {
                    field.push(c);
                    escape = false;
                } else if c == '\\' {
                    escape = true;
                } else if quote.is_none() && (c == '\'' || c == '"') {
                    quote = Some(c);
                } else if quote == Some(c) {
                    quote = None;
                } else if quote.is_none() && (c == ',' || c == ' ') {
                    if !field.is_empty() {
                        fields.push(std::mem::take(&mut field));
                    }
                } else {
                    field.push(c);
                }
            }
            if !field.is_empty() {
                fields.push(field);
            }
            let mut out: Vec<(String, Value)> = Vec::new();
            for f in fields {
                let Some((k, val)) = f.split_once('=') else {
                    return Err(
                        "unable to evaluate string in the \"key=value\" format as dictionary"
                            .into(),
                    );
                };
                out.retain(|(x, _)| x != k);
                out.push((k.to_owned(), Value::from(val)));
            }
            Ok(crate::template::vmap(out))
        }
        _ => Err(format!(
            "<class '{}'> cannot be converted to a dict",
            tagged_class(v)
        )),
    }
}

fn expand_user(s: &str) -> String {
    match (s.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => s.to_owned(),
    }
}

/// One of ansible-core's type checkers (`check_type_*`): the converted
/// value, or the reason it cannot be converted.
pub fn check_type(wanted: &str, v: &Value) -> Result<Value, String> {
    let class_err = |what: &str| {
        format!(
            "<class '{}'> cannot be converted to {what}",
            tagged_class(v)
        )
    };
    match wanted {
        "str" | "path" => {
            let s = match v.kind() {
                ValueKind::String => {
                    return Ok(if wanted == "path" {
                        Value::from(expand_user(v.as_str().unwrap_or("")))
                    } else {
                        v.clone()
                    });
                }
                ValueKind::None | ValueKind::Undefined => String::new(),
                _ => py_str(v),
            };
            Ok(Value::from(if wanted == "path" {
                expand_user(&s)
            } else {
                s
            }))
        }
        "list" => match v.kind() {
            ValueKind::Seq | ValueKind::Iterable => Ok(Value::from(seq(v))),
            ValueKind::String => Ok(Value::from(
                v.as_str()
                    .unwrap_or("")
                    .split(',')
                    .map(Value::from)
                    .collect::<Vec<_>>(),
            )),
            ValueKind::Number | ValueKind::Bool => Ok(Value::from(vec![Value::from(py_str(v))])),
            _ => Err(class_err("a list")),
        },
        "dict" => to_dict(v),
        "bool" => match v.kind() {
            ValueKind::Bool | ValueKind::String | ValueKind::Number => {
                to_boolean(v).map(Value::from)
            }
            _ => Err(class_err("a bool")),
        },
        "int" => {
            if is_int(v) || v.kind() == ValueKind::Bool {
                return Ok(v.clone());
            }
            let bad = || format!("\"{}\" cannot be converted to an int", py_repr(v));
            match v.kind() {
                ValueKind::String => match decimal_int(v.as_str().unwrap_or("")) {
                    Ok(Some(n)) => Ok(Value::from(n)),
                    Ok(None) => Ok(v.clone()),
                    Err(()) => Err(bad()),
                },
                ValueKind::Number => {
                    let f = f64::try_from(v.clone()).map_err(|_| bad())?;
                    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18 {
                        Ok(Value::from(f as i64))
                    } else {
                        Err(bad())
                    }
                }
                _ => Err(bad()),
            }
        }
        "float" => match v.kind() {
            ValueKind::Number if !v.is_integer() => Ok(v.clone()),
            ValueKind::Number => f64::try_from(v.clone())
                .map(Value::from)
                .map_err(|_| class_err("a float")),
            ValueKind::Bool => Ok(Value::from(if v.is_true() { 1.0 } else { 0.0 })),
            ValueKind::String => py_float(v.as_str().unwrap_or(""))
                .map(Value::from)
                .ok_or_else(|| class_err("a float")),
            _ => Err(class_err("a float")),
        },
        "raw" => Ok(v.clone()),
        "json" | "jsonarg" => match v.kind() {
            ValueKind::String => Ok(Value::from(v.as_str().unwrap_or("").trim())),
            ValueKind::Seq | ValueKind::Map => serde_json::to_string(v)
                .map(Value::from)
                .map_err(|_| class_err("a json string")),
            _ => Err(class_err("a json string")),
        },
        "bytes" | "bits" => {
            let isbits = wanted == "bits";
            human_to_bytes(&py_str(v), isbits)
                .map(Value::from)
                .ok_or_else(|| {
                    class_err(if isbits {
                        "a Bit value"
                    } else {
                        "a Byte value"
                    })
                })
        }
        _ => Err("'NoneType' object is not callable".into()),
    }
}

/// " found in a -> b" (or nothing at the top level).
fn found_in(ctx: &[String]) -> String {
    if ctx.is_empty() {
        String::new()
    } else {
        format!(" found in {}", ctx.join(" -> "))
    }
}

/// The option names a term of `required_one_of` … names (a string is one).
fn term_names(term: &Value) -> Vec<String> {
    match term.kind() {
        ValueKind::Seq => seq(term).iter().map(py_str).collect(),
        _ => vec![py_str(term)],
    }
}

fn count_terms(term: &Value, params: &Params) -> usize {
    let mut names = term_names(term);
    names.sort();
    names.dedup();
    names.iter().filter(|n| params.contains_key(*n)).count()
}

fn given(params: &Params, name: &str) -> bool {
    params.get(name).is_some_and(|v| !v.is_none())
}

/// Validates `params` against `spec` (a mapping of option names to their
/// attributes) and returns every error message, in ansible-core's order.
pub fn validate(spec: &Value, mut params: Params) -> Vec<String> {
    let mut v = Validator::default();
    let aliases = match handle_aliases(spec, &mut params) {
        Ok(a) => a,
        Err(e) => {
            v.errors.push(e);
            IndexMap::new()
        }
    };
    if let Err(e) = no_log_scan(spec, &params) {
        v.errors.push(e);
    }
    if let Err(e) = v.unsupported(spec, &mut params, &aliases, &[]) {
        v.errors.push(e);
    }
    set_defaults(spec, &mut params, false);
    if let Some(e) = check_required(spec, &params, &[]) {
        v.errors.push(e);
    }
    v.check_types(spec, &mut params, &[]);
    v.check_values(spec, &mut params, &[]);
    set_defaults(spec, &mut params, true);
    v.sub_specs(spec, &mut params, &mut Vec::new());
    if !v.unknown.is_empty() {
        let mut names: Vec<String> = v.unknown.iter().map(|p| p.join(".")).collect();
        names.sort();
        names.dedup();
        let (supported, aliases) = v
            .unknown
            .last()
            .and_then(|p| v.supported.get(p))
            .cloned()
            .unwrap_or_default();
        let mut msg = format!(
            "{}. Supported parameters include: {}",
            names.join(", "),
            supported.join(", ")
        );
        if !aliases.is_empty() {
            msg.push_str(&format!(" ({})", aliases.join(", ")));
        }
        msg.push('.');
        v.errors.push(msg);
    }
    v.errors
}

#[derive(Default)]
struct Validator {
    errors: Vec<String>,
    /// Unsupported parameters, each as its path of option names.
    unknown: Vec<Vec<String>>,
    /// For each unsupported parameter, the options and aliases allowed there.
    supported: IndexMap<Vec<String>, (Vec<String>, Vec<String>)>,
}

/// Copies each alias's value to its option; the alias → option map.
fn handle_aliases(spec: &Value, params: &mut Params) -> Result<IndexMap<String, String>, String> {
    let mut out = IndexMap::new();
    for name in map_keys(spec) {
        let opts = spec.get_attr(&name).unwrap_or_default();
        if attr(&opts, "default").is_some() && attr_true(&opts, "required") {
            return Err(format!(
                "internal error: required and default are mutually exclusive for {name}"
            ));
        }
        let Some(aliases) = attr(&opts, "aliases") else {
            continue;
        };
        if aliases.kind() != ValueKind::Seq {
            return Err("internal error: aliases must be a list or tuple".into());
        }
        for alias in seq(&aliases).iter().map(py_str) {
            out.insert(alias.clone(), name.clone());
            if let Some(val) = params.get(&alias).cloned() {
                params.insert(name.clone(), val);
            }
        }
    }
    Ok(out)
}

/// ansible-core lists `no_log` values before checking anything; on the
/// way it converts nested options given as strings to dicts, and the first
/// one that is not a dict stops the walk with an error.
fn no_log_scan(spec: &Value, params: &Params) -> Result<(), String> {
    for name in map_keys(spec) {
        let opts = spec.get_attr(&name).unwrap_or_default();
        let Some(sub_spec) = attr(&opts, "options") else {
            continue;
        };
        let wanted = attr_str(&opts, "type").unwrap_or_default();
        let Some(value) = params.get(&name).filter(|v| !v.is_none()) else {
            continue;
        };
        let dicts = wanted == "dict"
            || (wanted == "list" && attr_str(&opts, "elements").as_deref() == Some("dict"));
        if !dicts {
            continue;
        }
        let elements = if value.kind() == ValueKind::Seq {
            seq(value)
        } else {
            vec![value.clone()]
        };
        for el in elements {
            let el = if el.kind() == ValueKind::String {
                to_dict(&el)?
            } else {
                el
            };
            if el.kind() != ValueKind::Map {
                let class = tagged_class(&el);
                let short = class.rsplit('.').next().unwrap_or(&class);
                return Err(format!(
                    "Value '{}' in the sub parameter field '{name}' must be a {wanted}, not '{short}'",
                    py_str(&el)
                ));
            }
            no_log_scan(&sub_spec, &to_params(&el))?;
        }
    }
    Ok(())
}

fn set_defaults(spec: &Value, params: &mut Params, all: bool) {
    for name in map_keys(spec) {
        let opts = spec.get_attr(&name).unwrap_or_default();
        let default = attr(&opts, "default");
        if !params.contains_key(&name) && (default.is_some() || all) {
            params.insert(name, default.unwrap_or_else(|| Value::from(())));
        }
    }
}

fn check_required(spec: &Value, params: &Params, ctx: &[String]) -> Option<String> {
    let mut missing: Vec<String> = map_keys(spec)
        .into_iter()
        .filter(|n| {
            let opts = spec.get_attr(n).unwrap_or_default();
            attr_true(&opts, "required") && !params.contains_key(n)
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    missing.sort();
    Some(format!(
        "missing required arguments: {}{}",
        missing.join(", "),
        found_in(ctx)
    ))
}

fn check_mutually_exclusive(
    terms: Option<Value>,
    params: &Params,
    ctx: &[String],
) -> Option<String> {
    let terms = terms?;
    let hits: Vec<String> = seq(&terms)
        .iter()
        .filter(|t| count_terms(t, params) > 1)
        .map(|t| term_names(t).join("|"))
        .collect();
    (!hits.is_empty()).then(|| {
        format!(
            "parameters are mutually exclusive: {}{}",
            hits.join(", "),
            found_in(ctx)
        )
    })
}

fn check_required_together(
    terms: Option<Value>,
    params: &Params,
    ctx: &[String],
) -> Option<String> {
    for term in seq(&terms?) {
        let counts: Vec<usize> = term_names(&term)
            .iter()
            .map(|n| usize::from(params.contains_key(n)))
            .collect();
        if counts.iter().any(|c| *c > 0) && counts.contains(&0) {
            return Some(format!(
                "parameters are required together: {}{}",
                term_names(&term).join(", "),
                found_in(ctx)
            ));
        }
    }
    None
}

fn check_required_one_of(terms: Option<Value>, params: &Params, ctx: &[String]) -> Option<String> {
    for term in seq(&terms?) {
        if count_terms(&term, params) == 0 {
            return Some(format!(
                "one of the following is required: {}{}",
                term_names(&term).join(", "),
                found_in(ctx)
            ));
        }
    }
    None
}

fn check_required_if(reqs: Option<Value>, params: &Params, ctx: &[String]) -> Option<String> {
    for req in seq(&reqs?) {
        let parts = seq(&req);
        if parts.len() != 3 && parts.len() != 4 {
            continue;
        }
        let key = py_str(&parts[0]);
        let one_of = parts.get(3).is_some_and(Value::is_true);
        let needed = term_names(&parts[2]);
        if !params.get(&key).is_some_and(|v| py_eq(v, &parts[1])) {
            continue;
        }
        let missing: Vec<&String> = needed.iter().filter(|n| !params.contains_key(*n)).collect();
        let limit = if one_of { needed.len() } else { 0 };
        if !missing.is_empty() && missing.len() >= limit {
            let missing: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            return Some(format!(
                "{key} is {} but {} of the following are missing: {}{}",
                py_str(&parts[1]),
                if one_of { "any" } else { "all" },
                missing.join(", "),
                found_in(ctx)
            ));
        }
    }
    None
}

fn check_required_by(reqs: Option<Value>, params: &Params, ctx: &[String]) -> Option<String> {
    let reqs = reqs?;
    for key in map_keys(&reqs) {
        if !given(params, &key) {
            continue;
        }
        let needed = term_names(&reqs.get_attr(&key).unwrap_or_default());
        let missing: Vec<&str> = needed
            .iter()
            .filter(|n| !given(params, n))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Some(format!(
                "missing parameter(s) required by '{key}': {}{}",
                missing.join(", "),
                found_in(ctx)
            ));
        }
    }
    None
}

impl Validator {
    fn unsupported(
        &mut self,
        spec: &Value,
        params: &mut Params,
        aliases: &IndexMap<String, String>,
        ctx: &[String],
    ) -> Result<(), String> {
        let legal: Vec<String> = aliases.keys().cloned().chain(map_keys(spec)).collect();
        let mut found = Vec::new();
        let keys: Vec<String> = params.keys().cloned().collect();
        for k in keys {
            if legal.contains(&k) {
                continue;
            }
            let mut path = ctx.to_vec();
            path.push(k);
            // ansible-core works the aliases out again here, and an
            // internal error then drops this level's findings.
            let aliases = handle_aliases(spec, params)?;
            let mut supported: Vec<String> = map_keys(spec);
            supported.sort();
            let mut alias_names: Vec<String> = aliases.keys().cloned().collect();
            alias_names.sort();
            self.supported
                .insert(path.clone(), (supported, alias_names));
            found.push(path);
        }
        for p in found {
            if !self.unknown.contains(&p) {
                self.unknown.push(p);
            }
        }
        Ok(())
    }

    fn check_types(&mut self, spec: &Value, params: &mut Params, ctx: &[String]) {
        let within = if ctx.is_empty() {
            String::new()
        } else {
            format!(" found in '{}'.", ctx.join(" -> "))
        };
        for name in map_keys(spec) {
            let Some(value) = params.get(&name).cloned() else {
                continue;
            };
            let opts = spec.get_attr(&name).unwrap_or_default();
            if value.is_none() && !attr_true(&opts, "required") && attr(&opts, "default").is_none()
            {
                continue;
            }
            let wanted = attr_str(&opts, "type").unwrap_or_else(|| "str".into());
            let converted = check_type(&wanted, &value).and_then(|conv| {
                params.insert(name.clone(), conv.clone());
                let Some(el_type) = attr(&opts, "elements").filter(Value::is_true) else {
                    return Ok(());
                };
                let el_type = py_str(&el_type);
                let items: Vec<Value> = match conv.kind() {
                    ValueKind::Seq => seq(&conv),
                    ValueKind::String => {
                        self.errors.push(format!(
                            "Invalid type {wanted} for option '{}'{within}, elements value check is supported only with 'list' type",
                            py_str(&conv)
                        ));
                        conv.as_str()
                            .unwrap_or("")
                            .chars()
                            .map(|c| Value::from(c.to_string()))
                            .collect()
                    }
                    ValueKind::Map => {
                        self.errors.push(format!(
                            "Invalid type {wanted} for option '{}'{within}, elements value check is supported only with 'list' type",
                            py_str(&conv)
                        ));
                        seq(&conv)
                    }
                    _ => {
                        self.errors.push(format!(
                            "Invalid type {wanted} for option '{}'{within}, elements value check is supported only with 'list' type",
                            py_str(&conv)
                        ));
                        return Err(format!("'{}' object is not iterable", native_type(&conv)));
                    }
                };
                let mut kept = Vec::new();
                for item in items {
                    match check_type(&el_type, &item) {
                        Ok(x) => kept.push(x),
                        Err(e) => self.errors.push(format!(
                            "Elements value for option '{name}'{} is of type {} and we were unable to convert to {el_type}: {e}",
                            if ctx.is_empty() {
                                String::new()
                            } else {
                                format!(" found in '{}'", ctx.join(" -> "))
                            },
                            native_type(&item)
                        )),
                    }
                }
                params.insert(name.clone(), Value::from(kept));
                Ok(())
            });
            if let Err(e) = converted {
                self.errors.push(format!(
                    "argument '{name}' is of type {}{within} and we were unable to convert to {wanted}: {e}",
                    native_type(&value)
                ));
            }
        }
    }

    fn check_values(&mut self, spec: &Value, params: &mut Params, ctx: &[String]) {
        for name in map_keys(spec) {
            let opts = spec.get_attr(&name).unwrap_or_default();
            let Some(choices) = attr(&opts, "choices") else {
                continue;
            };
            if choices.kind() != ValueKind::Seq {
                self.errors.push(format!(
                    "internal error: choices for argument {name} are not iterable: {}{}",
                    py_str(&choices),
                    found_in(ctx)
                ));
                continue;
            }
            let Some(value) = params.get(&name).cloned() else {
                continue;
            };
            let choices = seq(&choices);
            let listed = choices.iter().map(py_str).collect::<Vec<_>>().join(", ");
            if value.kind() == ValueKind::Seq {
                let miss: Vec<String> = seq(&value)
                    .iter()
                    .filter(|x| !contains(&choices, x))
                    .map(py_str)
                    .collect();
                if !miss.is_empty() {
                    self.errors.push(format!(
                        "value of {name} must be one or more of: {listed}. Got no match for: {}{}",
                        miss.join(", "),
                        found_in(ctx)
                    ));
                }
                continue;
            }
            if contains(&choices, &value) {
                continue;
            }
            // "True"/"False" (a bool given for a str option) match the one
            // boolean word among the choices.
            let mut value = value;
            for (word, set) in [("False", BOOLEANS_FALSE), ("True", BOOLEANS_TRUE)] {
                if value.as_str() != Some(word) {
                    continue;
                }
                let num = if word == "True" { 1 } else { 0 };
                let mut overlap: Vec<Value> = Vec::new();
                for c in &choices {
                    let hit = match c.kind() {
                        ValueKind::String => set.contains(&c.as_str().unwrap_or("")),
                        ValueKind::Bool | ValueKind::Number => py_eq(c, &Value::from(num)),
                        _ => false,
                    };
                    if hit && !contains(&overlap, c) {
                        overlap.push(c.clone());
                    }
                }
                if let [one] = overlap.as_slice() {
                    value = one.clone();
                    params.insert(name.clone(), value.clone());
                }
            }
            if !contains(&choices, &value) {
                self.errors.push(format!(
                    "value of {name} must be one of: {listed}, got: {}{}",
                    py_str(&value),
                    found_in(ctx)
                ));
            }
        }
    }

    fn sub_specs(&mut self, spec: &Value, params: &mut Params, ctx: &mut Vec<String>) {
        for name in map_keys(spec) {
            let opts = spec.get_attr(&name).unwrap_or_default();
            let wanted = attr_str(&opts, "type").unwrap_or_default();
            let dicts = wanted == "dict"
                || (wanted == "list" && attr_str(&opts, "elements").as_deref() == Some("dict"));
            if !dicts {
                continue;
            }
            let sub_spec = attr(&opts, "options").filter(|s| s.kind() == ValueKind::Map);
            let Some(sub_spec) = sub_spec else {
                continue;
            };
            let missing = params.get(&name).is_none_or(Value::is_none);
            if missing {
                if attr_true(&opts, "apply_defaults") {
                    params.insert(name.clone(), empty_map());
                } else {
                    continue;
                }
            }
            let value = params.get(&name).cloned().unwrap_or_default();
            ctx.push(name.clone());
            let elements = if value.kind() == ValueKind::Seq {
                seq(&value)
            } else {
                vec![value]
            };
            for el in elements {
                if el.kind() != ValueKind::Map {
                    self.errors.push(format!(
                        "value of '{name}' must be of type dict or list of dicts"
                    ));
                    continue;
                }
                let mut sub = to_params(&el);
                let aliases = match handle_aliases(&sub_spec, &mut sub) {
                    Ok(a) => a,
                    Err(e) => {
                        self.errors.push(e);
                        IndexMap::new()
                    }
                };
                if let Err(e) = no_log_scan(&sub_spec, &sub) {
                    self.errors.push(e);
                }
                if let Err(e) = self.unsupported(&sub_spec, &mut sub, &aliases, ctx) {
                    self.errors.push(e);
                }
                let checks = [check_mutually_exclusive(
                    attr(&opts, "mutually_exclusive"),
                    &sub,
                    ctx,
                )];
                self.errors.extend(checks.into_iter().flatten());
                set_defaults(&sub_spec, &mut sub, false);
                if let Some(e) = check_required(&sub_spec, &sub, ctx) {
                    self.errors.push(e);
                }
                self.check_types(&sub_spec, &mut sub, ctx);
                self.check_values(&sub_spec, &mut sub, ctx);
                let checks = [
                    check_required_together(attr(&opts, "required_together"), &sub, ctx),
                    check_required_one_of(attr(&opts, "required_one_of"), &sub, ctx),
                    check_required_if(attr(&opts, "required_if"), &sub, ctx),
                    check_required_by(attr(&opts, "required_by"), &sub, ctx),
                ];
                self.errors.extend(checks.into_iter().flatten());
                set_defaults(&sub_spec, &mut sub, true);
                self.sub_specs(&sub_spec, &mut sub, ctx);
            }
            ctx.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        crate::yaml::load_str(text, "<test>")
            .and_then(|n| n.to_value())
            .expect("test YAML")
    }

    /// Validates YAML `params` against YAML `spec`.
    fn errors(spec: &str, params: &str) -> Vec<String> {
        validate(&yaml(spec), to_params(&yaml(params)))
    }

    #[test]
    fn conversions_follow_ansible_type_checkers() {
        let ok = |t: &str, v: Value| check_type(t, &v).expect(t);
        assert_eq!(ok("int", Value::from("42")), Value::from(42));
        assert_eq!(ok("int", Value::from(" 1e3 ")), Value::from(1000));
        assert_eq!(ok("int", Value::from("2.0")), Value::from(2));
        assert_eq!(ok("int", Value::from(3.0)), Value::from(3));
        assert_eq!(ok("int", Value::from(true)), Value::from(true));
        assert_eq!(ok("float", Value::from("1e3")), Value::from(1000.0));
        assert_eq!(ok("float", Value::from(true)), Value::from(1.0));
        assert_eq!(ok("bool", Value::from(" Yes ")), Value::from(true));
        assert_eq!(ok("bool", Value::from(0)), Value::from(false));
        assert_eq!(ok("str", Value::from(5)), Value::from("5"));
        assert_eq!(ok("str", Value::from(vec![1])), Value::from("[1]"));
        assert_eq!(ok("str", Value::from(())), Value::from(""));
        assert_eq!(
            ok("list", Value::from("a, b")),
            Value::from(vec!["a", " b"])
        );
        assert_eq!(ok("list", Value::from(true)), Value::from(vec!["True"]));
        assert_eq!(ok("list", Value::from(3.5)), Value::from(vec!["3.5"]));
        assert_eq!(
            ok("dict", Value::from("k=v x='a b'")),
            yaml("{k: v, x: a b}")
        );
        assert_eq!(ok("dict", Value::from("{\"a\": 1}")), yaml("{a: 1}"));
        assert_eq!(ok("dict", Value::from("{'a': [1]}")), yaml("{a: [1]}"));
        assert_eq!(ok("bits", Value::from("1Mb")), Value::from(1 << 20));
        assert_eq!(ok("bytes", Value::from("2 KB")), Value::from(2048));
        assert_eq!(ok("json", Value::from(vec![1])), Value::from("[1]"));
        assert_eq!(ok("raw", Value::from(vec![1])), Value::from(vec![1]));
    }

    #[test]
    fn conversion_failures_read_as_ansible() {
        let err = |t: &str, v: Value| check_type(t, &v).expect_err(t);
        assert_eq!(
            err("int", Value::from("abc")),
            "\"'abc'\" cannot be converted to an int"
        );
        assert_eq!(
            err("int", Value::from("0x10")),
            "\"'0x10'\" cannot be converted to an int"
        );
        assert_eq!(
            err("int", Value::from(1.5)),
            "\"1.5\" cannot be converted to an int"
        );
        assert_eq!(
            err("int", Value::from(Vec::<Value>::new())),
            "\"[]\" cannot be converted to an int"
        );
        assert_eq!(
            err("int", Value::from(())),
            "\"None\" cannot be converted to an int"
        );
        assert_eq!(
            err("float", Value::from("abc")),
            "<class 'ansible.module_utils._internal._datatag._AnsibleTaggedStr'> cannot be converted to a float"
        );
        assert_eq!(
            err("list", yaml("{a: 1}")),
            "<class 'ansible.module_utils._internal._datatag._AnsibleTaggedDict'> cannot be converted to a list"
        );
        assert!(
            err("bool", Value::from(2))
                .starts_with("The value '2' is not a valid boolean. Valid booleans include: ")
        );
        assert_eq!(
            err("dict", Value::from("notadict")),
            "dictionary requested, could not parse JSON or key=value"
        );
        assert_eq!(
            err("dict", Value::from("{\"a\": ")),
            "unable to evaluate string as dictionary"
        );
        assert_eq!(
            err("bytes", Value::from("zz")),
            "<class 'ansible.module_utils._internal._datatag._AnsibleTaggedStr'> cannot be converted to a Byte value"
        );
        assert_eq!(
            err("nonsense", Value::from(1)),
            "'NoneType' object is not callable"
        );
    }

    #[test]
    fn top_level_checks_in_ansible_order() {
        // Seen with ansible-core 2.19.14.
        let spec = "
nm: {type: str, required: true}
count: {type: int, default: 3}
flag: {type: bool}
mode: {type: str, choices: [a, b]}
items: {type: list, elements: int}
s1: {type: str, choices: [1, 2]}
onoff: {type: str, choices: ['yes', 'no']}
";
        let got = errors(
            spec,
            "{count: x, items: [a, 2], mode: c, s1: 1, onoff: true, extra: 1, flag: yes}",
        );
        assert_eq!(
            got,
            [
                "missing required arguments: nm",
                "argument 'count' is of type str and we were unable to convert to int: \"'x'\" cannot be converted to an int",
                "Elements value for option 'items' is of type str and we were unable to convert to int: \"'a'\" cannot be converted to an int",
                "value of mode must be one of: a, b, got: c",
                "value of s1 must be one of: 1, 2, got: 1",
                "extra. Supported parameters include: count, flag, items, mode, nm, onoff, s1.",
            ]
        );
        assert!(errors(spec, "{nm: [1], count: '7', items: '1,2'}").is_empty());
    }

    #[test]
    fn nested_options_and_their_constraints() {
        // Seen with ansible-core 2.19.14.
        let spec = "
users:
  type: list
  elements: dict
  options:
    name: {type: str, required: true, aliases: [login]}
    state: {type: str, choices: [present, absent], default: present}
    uid: {type: int}
    home: {type: path}
    shell: {type: str}
  required_if: [[state, absent, [uid, home]], [state, present, [uid, home], true]]
  required_together: [[home, shell]]
  required_one_of: [[uid, shell]]
  required_by: {home: [uid, shell]}
opts:
  type: dict
  apply_defaults: true
  options:
    level: {type: int, default: 1}
    inner:
      type: dict
      options:
        deep: {type: bool, required: true}
tags: {type: list, elements: str, choices: [a, b]}
";
        let params = "
users:
  - {login: bob, state: absent, uid: x}
  - {name: al, home: /h}
  - notadict
  - {state: bogus, extra: 1}
opts: {inner: {}}
tags: [a, c, d]
";
        assert_eq!(
            errors(spec, params),
            [
                "dictionary requested, could not parse JSON or key=value",
                "Elements value for option 'users' is of type str and we were unable to convert to dict: dictionary requested, could not parse JSON or key=value",
                "value of tags must be one or more of: a, b. Got no match for: c, d",
                "argument 'uid' is of type str found in 'users'. and we were unable to convert to int: \"'x'\" cannot be converted to an int",
                "state is absent but all of the following are missing: home found in users",
                "parameters are required together: home, shell found in users",
                "one of the following is required: uid, shell found in users",
                "missing parameter(s) required by 'home': uid, shell found in users",
                "missing required arguments: name found in users",
                "value of state must be one of: present, absent, got: bogus found in users",
                "one of the following is required: uid, shell found in users",
                "missing required arguments: deep found in opts -> inner",
                "users.extra. Supported parameters include: home, name, shell, state, uid (login).",
            ]
        );
        let spec = "conf: {type: dict, options: {x: {type: int}, y: {type: str}}, mutually_exclusive: [[x, y]]}";
        assert_eq!(
            errors(spec, "{conf: {x: '1', y: q}}"),
            ["parameters are mutually exclusive: x|y found in conf"]
        );
        assert_eq!(
            errors(spec, "{conf: 'x=1'}"),
            Vec::<String>::new(),
            "a k=v string is a dict"
        );
    }

    #[test]
    fn odd_specs_report_as_ansible() {
        // Seen with ansible-core 2.19.14.
        let spec = "
a: {type: str, aliases: [aa, ab]}
b: {type: str, elements: int}
d: {type: str, required: true, default: x}
";
        assert_eq!(
            errors(spec, "{aa: 1, zz: 2, b: '1,2'}"),
            [
                "internal error: required and default are mutually exclusive for d",
                "internal error: required and default are mutually exclusive for d",
                "Invalid type str for option '1,2', elements value check is supported only with 'list' type",
                "Elements value for option 'b' is of type str and we were unable to convert to int: \"','\" cannot be converted to an int",
            ]
        );
        // A null value is skipped unless required.
        assert_eq!(
            errors(
                "{n1: {type: int}, n2: {type: int, required: true}}",
                "{n1: null, n2: null}"
            ),
            [
                "argument 'n2' is of type NoneType and we were unable to convert to int: \"None\" cannot be converted to an int"
            ]
        );
        assert_eq!(
            errors("{x: {type: int, choices: [1, 2]}}", "{x: '2'}"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn number_parsers_match_python() {
        assert_eq!(decimal_int("1_000"), Ok(Some(1000)));
        assert_eq!(decimal_int("-0.0"), Ok(Some(0)));
        assert_eq!(decimal_int("1.50e1"), Ok(Some(15)));
        assert_eq!(decimal_int("1.5"), Err(()));
        assert_eq!(decimal_int("_1"), Err(()));
        assert_eq!(decimal_int(""), Err(()));
        assert_eq!(decimal_int("."), Err(()));
        assert_eq!(py_float(" -2.5 "), Some(-2.5));
        assert_eq!(py_float("1_0"), Some(10.0));
        assert_eq!(py_float("infinity"), Some(f64::INFINITY));
        assert_eq!(py_float("infx"), None);
        assert_eq!(human_to_bytes("1.5K", false), Some(1536));
        assert_eq!(human_to_bytes("1MB", true), None);
        assert_eq!(human_to_bytes("1 megabyte", false), Some(1 << 20));
        assert_eq!(human_to_bytes("5.", false), None);
    }
}
