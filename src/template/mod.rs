//! Jinja templating with Ansible semantics, built on minijinja.
//!
//! * A string that is one whole `{{ expression }}` keeps the expression's
//!   native type; anything else renders to a string.
//! * Printing an undefined value is an error naming the variable, while
//!   `a.b.c | default(x)` chains work (minijinja's `Chainable` undefined plus a
//!   formatter that refuses to print undefined).
//! * Values print as Python prints them (`True`, `None`, `['a']`).
//! * Variables are templated lazily when looked up, as Ansible's are: a var
//!   whose value is `"{{ other }}"` yields other's value ([`VarScope`]).
//! * Strings marked safe (from YAML `!unsafe`) are never templated.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};

pub mod filters;

pub use filters::pyfmt;
pub use filters::{py_repr, py_str};

/// Builds an ordered map value (minijinja's `FromIterator` makes sequences).
pub fn vmap<K: Into<Value>, V: Into<Value>>(pairs: impl IntoIterator<Item = (K, V)>) -> Value {
    let map: IndexMap<Value, Value> = pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    Value::from(map)
}

/// True when a string contains Jinja markup that templating would change.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// If `s` is exactly one `{{ expression }}`, the expression.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") || inner.contains("{#")
    {
        return None;
    }
    Some(inner.trim())
}

/// The Jinja environment shared by a whole run.
pub struct Templar {
    env: Environment<'static>,
}

impl Default for Templar {
    fn default() -> Self {
        Templar::new()
    }
}

fn formatter(
    out: &mut minijinja::Output,
    _state: &mut minijinja::State,
    value: &Value,
) -> Result<(), Error> {
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "undefined value printed",
        ));
    }
    out.write_str(&py_str(value))
        .map_err(|_| Error::new(ErrorKind::WriteFailure, "write failed"))
}

impl Templar {
    pub fn new() -> Templar {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_formatter(formatter);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        filters::register(&mut env);
        Templar { env }
    }

    /// Checks the Jinja syntax of a string without rendering it.
    pub fn check_syntax(&self, s: &str) -> Result<(), String> {
        if !is_template(s) {
            return Ok(());
        }
        if let Some(expr) = single_expression(s)
            && self.env.compile_expression(expr).is_ok()
        {
            return Ok(());
        }
        self.env
            .template_from_str(s)
            .map(|_| ())
            .map_err(|e| describe(&e))
    }

    /// Templates one string. A single whole expression keeps its type.
    pub fn render_str(&self, s: &str, scope: &Value) -> Result<Value, String> {
        if !is_template(s) {
            return Ok(Value::from(s));
        }
        if let Some(expr) = single_expression(s)
            && let Ok(compiled) = self.env.compile_expression(expr)
        {
            let v = compiled
                .eval(scope)
                .map_err(|e| self.explain(&e, s, scope))?;
            if v.is_undefined() {
                return Err(self.undefined_message(s, scope));
            }
            return Ok(v);
        }
        self.render_text(s, scope).map(Value::from)
    }

    /// Renders text (a template file, or a string with several expressions).
    pub fn render_text(&self, text: &str, scope: &Value) -> Result<String, String> {
        let tmpl = self.env.template_from_str(text).map_err(|e| describe(&e))?;
        tmpl.render(scope)
            .map_err(|e| self.explain(&e, text, scope))
    }

    /// Templates a value recursively (lists, dict keys and values). Safe
    /// (`!unsafe`) strings are left alone.
    pub fn render_value(&self, v: &Value, scope: &Value) -> Result<Value, String> {
        match v.kind() {
            ValueKind::String => {
                if v.is_safe() {
                    return Ok(v.clone());
                }
                match v.as_str() {
                    Some(s) if is_template(s) => self.render_str(s, scope),
                    _ => Ok(v.clone()),
                }
            }
            ValueKind::Seq => {
                let mut out = Vec::new();
                for item in v.try_iter().map_err(|e| e.to_string())? {
                    out.push(self.render_value(&item, scope)?);
                }
                Ok(Value::from(out))
            }
            ValueKind::Map => {
                let mut out = Vec::new();
                for key in v.try_iter().map_err(|e| e.to_string())? {
                    let val = v.get_item(&key).unwrap_or_default();
                    out.push((
                        self.render_value(&key, scope)?,
                        self.render_value(&val, scope)?,
                    ));
                }
                Ok(vmap(out))
            }
            _ => Ok(v.clone()),
        }
    }

    /// Evaluates a bare expression (`when:`, `debug: var=`). A whole
    /// `{{ expr }}` is accepted too, as Ansible does with a warning.
    pub fn eval(&self, expr: &str, scope: &Value) -> Result<Value, String> {
        let expr = expr.trim();
        let expr = single_expression(expr).unwrap_or(expr);
        let compiled = self
            .env
            .compile_expression(expr)
            .map_err(|e| describe(&e))?;
        compiled
            .eval(scope)
            .map_err(|e| self.explain(&e, expr, scope))
    }

    /// Evaluates a conditional. Undefined results are errors naming the variable.
    pub fn cond(&self, expr: &str, scope: &Value) -> Result<bool, String> {
        let v = self.eval(expr, scope)?;
        if v.is_undefined() {
            return Err(self.undefined_message(expr, scope));
        }
        Ok(truthy(&v))
    }

    fn explain(&self, e: &Error, source: &str, scope: &Value) -> String {
        if e.kind() == ErrorKind::UndefinedError {
            return self.undefined_message(source, scope);
        }
        if let Some(scope) = scope.downcast_object_ref::<VarScope>()
            && let Some(inner) = scope.take_error()
        {
            return inner;
        }
        describe(e)
    }

    /// Names the first undefined variable a template refers to, as Ansible's
    /// "'x' is undefined" does.
    fn undefined_message(&self, source: &str, scope: &Value) -> String {
        if let Some(s) = scope.downcast_object_ref::<VarScope>()
            && let Some(inner) = s.take_error()
        {
            return inner;
        }
        let names: HashSet<String> =
            match single_expression(source).map(|e| self.env.compile_expression(e)) {
                Some(Ok(expr)) => expr.undeclared_variables(true),
                _ => match self.env.compile_expression(source.trim()) {
                    Ok(expr) if !source.contains("{{") => expr.undeclared_variables(true),
                    _ => match self.env.template_from_str(source) {
                        Ok(t) => t.undeclared_variables(true),
                        Err(_) => HashSet::new(),
                    },
                },
            };
        let mut names: Vec<String> = names.into_iter().collect();
        names.sort();
        for name in &names {
            let mut parts = name.split('.');
            let Some(first) = parts.next() else { continue };
            let mut cur = scope.get_attr(first).unwrap_or_default();
            if cur.is_undefined() {
                return format!("'{first}' is undefined");
            }
            let mut path = first.to_owned();
            for part in parts {
                let next = cur.get_attr(part).unwrap_or_default();
                if next.is_undefined() {
                    let ty = match cur.kind() {
                        ValueKind::Map => "dict",
                        ValueKind::Seq => "list",
                        ValueKind::String => "str",
                        _ => "object",
                    };
                    return format!("'{path}' has no attribute '{part}' (object of type '{ty}')");
                }
                path.push('.');
                path.push_str(part);
                cur = next;
            }
        }
        "a variable in the template is undefined".into()
    }
}

/// Jinja truthiness, with Python's rules for strings and containers.
pub fn truthy(v: &Value) -> bool {
    v.is_true()
}

fn describe(e: &Error) -> String {
    let mut msg = match (e.kind(), e.detail()) {
        // minijinja says "filter changed is unknown"; Ansible "No filter
        // named 'changed'."
        (
            ErrorKind::UnknownFilter
            | ErrorKind::UnknownTest
            | ErrorKind::UnknownFunction
            | ErrorKind::UnknownMethod,
            Some(d),
        ) => match d
            .strip_suffix(" is unknown")
            .and_then(|r| r.split_once(' '))
        {
            Some((what, name)) => format!("No {what} named '{name}'."),
            None => format!("{}: {d}", kind_text(e.kind())),
        },
        (k, Some(d)) => format!("{}: {d}", kind_text(k)),
        (k, None) => kind_text(k).to_owned(),
    };
    if let Some(line) = e.line()
        && e.kind() == ErrorKind::SyntaxError
    {
        msg.push_str(&format!(" (template line {line})"));
    }
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        msg.push_str(&format!(": {inner}"));
        src = inner.source();
    }
    msg
}

fn kind_text(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::SyntaxError => "template syntax error",
        ErrorKind::UndefinedError => "undefined value",
        ErrorKind::UnknownFilter => "unknown filter",
        ErrorKind::UnknownTest => "unknown test",
        ErrorKind::UnknownFunction => "unknown function",
        ErrorKind::UnknownMethod => "unknown method",
        ErrorKind::InvalidOperation => "invalid operation",
        ErrorKind::MissingArgument => "missing argument",
        ErrorKind::TooManyArguments => "too many arguments",
        _ => "template error",
    }
}

/// The variables visible to one task on one host, templated lazily on
/// lookup and cached. Used as the root context of every render.
pub struct VarScope {
    templar: Arc<Templar>,
    vars: IndexMap<String, Value>,
    cache: Mutex<HashMap<String, Value>>,
    resolving: Mutex<HashSet<String>>,
    error: Mutex<Option<String>>,
}

impl std::fmt::Debug for VarScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VarScope")
            .field("vars", &self.vars.len())
            .finish()
    }
}

impl VarScope {
    pub fn new(templar: Arc<Templar>, vars: IndexMap<String, Value>) -> Arc<VarScope> {
        Arc::new(VarScope {
            templar,
            vars,
            cache: Mutex::new(HashMap::new()),
            resolving: Mutex::new(HashSet::new()),
            error: Mutex::new(None),
        })
    }

    /// The scope as a template context value.
    pub fn value(self: &Arc<Self>) -> Value {
        Value::from_dyn_object(self.clone())
    }

    /// The raw (untemplated) variables.
    pub fn raw(&self) -> &IndexMap<String, Value> {
        &self.vars
    }

    /// A new scope with `extra` variables on top of these.
    pub fn with_extra(&self, extra: impl IntoIterator<Item = (String, Value)>) -> Arc<VarScope> {
        let mut vars = self.vars.clone();
        for (k, v) in extra {
            vars.insert(k, v);
        }
        VarScope::new(self.templar.clone(), vars)
    }

    /// Looks a variable up, templating it if needed.
    pub fn lookup(self: &Arc<Self>, name: &str) -> Option<Value> {
        if let Some(v) = self.cache.lock().ok()?.get(name) {
            return Some(v.clone());
        }
        let raw = self.vars.get(name)?;
        if !needs_templating(raw) {
            return Some(raw.clone());
        }
        {
            let mut resolving = self.resolving.lock().ok()?;
            if !resolving.insert(name.to_owned()) {
                self.set_error(format!(
                    "recursive loop detected in template: variable '{name}' refers to itself"
                ));
                return Some(Value::UNDEFINED);
            }
        }
        let result = self.templar.render_value(raw, &self.value());
        if let Ok(mut r) = self.resolving.lock() {
            r.remove(name);
        }
        match result {
            Ok(v) => {
                if let Ok(mut c) = self.cache.lock() {
                    c.insert(name.to_owned(), v.clone());
                }
                Some(v)
            }
            Err(e) => {
                self.set_error(format!("while templating variable '{name}': {e}"));
                Some(Value::UNDEFINED)
            }
        }
    }

    fn set_error(&self, msg: String) {
        if let Ok(mut e) = self.error.lock()
            && e.is_none()
        {
            *e = Some(msg);
        }
    }

    fn take_error(&self) -> Option<String> {
        self.error.lock().ok()?.take()
    }

    /// Templates a string against this scope.
    pub fn render(self: &Arc<Self>, s: &str) -> Result<Value, String> {
        self.templar.render_str(s, &self.value())
    }

    /// Templates a value recursively against this scope.
    pub fn render_value(self: &Arc<Self>, v: &Value) -> Result<Value, String> {
        self.templar.render_value(v, &self.value())
    }

    /// Evaluates a bare expression against this scope.
    pub fn eval(self: &Arc<Self>, expr: &str) -> Result<Value, String> {
        self.templar.eval(expr, &self.value())
    }

    /// Evaluates a conditional against this scope.
    pub fn cond(self: &Arc<Self>, expr: &str) -> Result<bool, String> {
        self.templar.cond(expr, &self.value())
    }

    /// Renders a template file's text against this scope.
    pub fn render_text(self: &Arc<Self>, text: &str) -> Result<String, String> {
        self.templar.render_text(text, &self.value())
    }

    pub fn templar(&self) -> &Arc<Templar> {
        &self.templar
    }
}

/// True when a value holds a string that templating could change.
pub fn needs_templating(v: &Value) -> bool {
    match v.kind() {
        ValueKind::String => !v.is_safe() && v.as_str().is_some_and(is_template),
        ValueKind::Seq | ValueKind::Map => {
            if v.as_object()
                .is_some_and(|o| o.downcast_ref::<VarScope>().is_some())
            {
                return false;
            }
            match v.try_iter() {
                Ok(it) => it.into_iter().any(|item| {
                    needs_templating(&item)
                        || (v.kind() == ValueKind::Map
                            && needs_templating(&v.get_item(&item).unwrap_or_default()))
                }),
                Err(_) => false,
            }
        }
        _ => false,
    }
}

impl Object for VarScope {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.lookup(key.as_str()?)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.vars.keys().map(|k| Value::from(k.as_str())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(pairs: &[(&str, Value)]) -> Arc<VarScope> {
        let vars = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        VarScope::new(Arc::new(Templar::new()), vars)
    }

    #[test]
    fn whole_expression_keeps_native_type() {
        let s = scope(&[("n", Value::from(3)), ("l", Value::from(vec![1, 2]))]);
        assert_eq!(s.render("{{ n + 1 }}").unwrap(), Value::from(4));
        assert_eq!(s.render("{{ l }}").unwrap().kind(), ValueKind::Seq);
        assert_eq!(s.render("n={{ n }}").unwrap(), Value::from("n=3"));
        assert_eq!(s.render("{{ l }}!").unwrap(), Value::from("[1, 2]!"));
    }

    #[test]
    fn booleans_and_none_print_as_python() {
        let s = scope(&[("t", Value::from(true)), ("z", Value::from(()))]);
        assert_eq!(
            s.render("{{ t }} {{ z }}").unwrap(),
            Value::from("True None")
        );
    }

    #[test]
    fn undefined_is_an_error_naming_the_variable() {
        let s = scope(&[("d", vmap([("a", 1)]))]);
        assert_eq!(s.render("x{{ nope }}").unwrap_err(), "'nope' is undefined");
        assert_eq!(s.render("{{ nope }}").unwrap_err(), "'nope' is undefined");
        assert!(
            s.render("{{ d.b }}")
                .unwrap_err()
                .contains("has no attribute 'b'")
        );
        assert_eq!(
            s.render("{{ nope.x.y | default('z') }}").unwrap(),
            Value::from("z")
        );
        assert!(!s.cond("nope is defined").unwrap());
        assert_eq!(s.cond("nope").unwrap_err(), "'nope' is undefined");
    }

    #[test]
    fn variables_are_templated_lazily_and_recursively() {
        let s = scope(&[
            ("base", Value::from(8000)),
            ("port", Value::from("{{ base + 80 }}")),
            ("url", Value::from("http://h:{{ port }}/")),
            ("cfg", vmap([("p", Value::from("{{ port }}"))])),
            ("loop_a", Value::from("{{ loop_a }}")),
        ]);
        assert_eq!(
            s.render("{{ url }}").unwrap(),
            Value::from("http://h:8080/")
        );
        assert_eq!(s.render("{{ cfg.p + 1 }}").unwrap(), Value::from(8081));
        assert!(
            s.render("{{ loop_a }}")
                .unwrap_err()
                .contains("recursive loop")
        );
    }

    #[test]
    fn unsafe_strings_are_never_templated() {
        let s = scope(&[("raw", Value::from_safe_string("{{ not_a_var }}".into()))]);
        assert_eq!(
            s.render("{{ raw }}").unwrap().as_str(),
            Some("{{ not_a_var }}")
        );
        let v = Value::from(vec![Value::from_safe_string("{{ x }}".into())]);
        assert_eq!(
            s.render_value(&v)
                .unwrap()
                .get_item(&Value::from(0))
                .unwrap()
                .as_str(),
            Some("{{ x }}")
        );
    }

    #[test]
    fn python_methods_work() {
        let s = scope(&[("csv", Value::from("a,b")), ("d", vmap([("k", 1)]))]);
        assert_eq!(
            s.render("{{ csv.split(',') | length }}").unwrap(),
            Value::from(2)
        );
        assert_eq!(
            s.render("{{ csv.startswith('a') }}").unwrap(),
            Value::from(true)
        );
        assert_eq!(
            s.render("{% for k, v in d.items() %}{{ k }}={{ v }}{% endfor %}")
                .unwrap(),
            Value::from("k=1")
        );
    }

    #[test]
    fn template_files_trim_blocks_and_keep_trailing_newline() {
        let s = scope(&[("items", Value::from(vec!["a", "b"]))]);
        let out = s
            .render_text("{% for i in items %}\n{{ i }}\n{% endfor %}\n")
            .unwrap();
        assert_eq!(out, "a\nb\n");
    }
}
