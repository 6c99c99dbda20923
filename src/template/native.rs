//! Rendering a whole template the way ansible-core 2.19 does.
//!
//! ansible-core renders with Jinja's native mode and its own `concat`:
//!
//! * The source is lexed with Jinja's defaults: every newline (`\r\n`, `\r`)
//!   becomes `\n`, and one trailing newline is dropped.
//! * The template's output is a list of nodes: each piece of template data and
//!   each `{{ … }}` result. Nodes whose value is `None` are dropped (so `None`
//!   prints as nothing: `"[{{ none }}]"` is `[]`); an empty string is a node.
//! * No node gives `None`; exactly one node gives that node's value with its
//!   type (so `"{{ port }}\n"` is the integer `port`, and
//!   `"{% if x %}{{ [1] }}{% endif %}"` a list); several nodes are joined as
//!   Python `str()`s, tuples in them printed as lists and `omit` as nothing.
//! * When the result is a string, the trailing `\n`s the template had and
//!   the result lacks are appended again (`"{{ name }}\n"` keeps its newline).
//!
//! minijinja writes output instead of returning nodes, so the formatter
//! records each `{{ … }}` value it prints, and a counting writer tells the
//! values that reached the top level from those captured by a macro, a
//! `{% set %}` block or a `{% filter %}` block. (A macro's result is a
//! string here; ansible-core gives its one node's native value.)

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;

use indexmap::IndexMap;
use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Value};

use super::filters::py_str;
use super::{pymethods, rewrite};

/// The prefix of the `omit` placeholder (`__omit_place_holder__<hex>`).
const OMIT_PREFIX: &str = "__omit_place_holder__";

/// What one render printed at its top level.
#[derive(Default)]
struct Recorder {
    /// Bytes that reached the render's own writer.
    written: Rc<Cell<usize>>,
    /// Values of `{{ … }}` blocks printed at the top level (non-empty text).
    top: Vec<Value>,
    /// Bytes those values printed.
    top_bytes: usize,
    /// `{{ … }}` blocks that printed nothing but are nodes ('' and `omit`),
    /// at the top level or not (an empty write cannot tell).
    empties: usize,
}

thread_local! {
    /// One recorder per render in progress on this thread; a variable
    /// templated lazily during a render is a render of its own, pushed on top.
    static RECORDERS: RefCell<Vec<Recorder>> = const { RefCell::new(Vec::new()) };
}

/// Pops the render's recorder even when rendering fails.
struct RecorderGuard {
    popped: bool,
}

impl RecorderGuard {
    fn push() -> (RecorderGuard, Rc<Cell<usize>>) {
        let written = Rc::new(Cell::new(0));
        RECORDERS.with(|r| {
            r.borrow_mut().push(Recorder {
                written: written.clone(),
                ..Recorder::default()
            })
        });
        (RecorderGuard { popped: false }, written)
    }

    fn finish(mut self) -> Option<Recorder> {
        self.popped = true;
        RECORDERS.with(|r| r.borrow_mut().pop())
    }
}

impl Drop for RecorderGuard {
    fn drop(&mut self) {
        if !self.popped {
            RECORDERS.with(|r| r.borrow_mut().pop());
        }
    }
}

/// The render's writer: keeps the output and counts what reached it.
struct CountingWriter {
    buf: Vec<u8>,
    written: Rc<Cell<usize>>,
}

impl io::Write for CountingWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        self.written.set(self.written.get() + data.len());
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The environment's formatter: prints values as Python's `str()`, `None`
/// and `omit` as nothing, refuses undefined values, and records what it
/// printed for the render in progress.
pub(crate) fn formatter(
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
    if value.is_none() {
        return Ok(());
    }
    // Computed before touching the recorders: printing a lazy value may
    // template variables, which pushes recorders of its own.
    let text = match value.as_str() {
        Some(s) if s.starts_with(OMIT_PREFIX) => String::new(),
        _ => match untuple(value) {
            Some(v) => py_str(&v),
            None => py_str(value),
        },
    };
    if text.is_empty() {
        RECORDERS.with(|r| {
            if let Some(rec) = r.borrow_mut().last_mut() {
                rec.empties += 1;
            }
        });
        return Ok(());
    }
    let counter = RECORDERS.with(|r| r.borrow().last().map(|rec| rec.written.clone()));
    let before = counter.as_ref().map(|c| c.get());
    out.write_str(&text)
        .map_err(|_| Error::new(ErrorKind::WriteFailure, "write failed"))?;
    if let (Some(counter), Some(before)) = (counter, before)
        && counter.get() > before
    {
        RECORDERS.with(|r| {
            if let Some(rec) = r.borrow_mut().last_mut() {
                rec.top.push(value.clone());
                rec.top_bytes += text.len();
            }
        });
    }
    Ok(())
}

/// ansible-core finalizes the nodes it joins: tuples (and `dict.items()`
/// pairs) inside them print as lists. `None` when `v` has no tuple.
fn untuple(v: &Value) -> Option<Value> {
    untuple_at(v, 0)
}

fn untuple_at(v: &Value, depth: usize) -> Option<Value> {
    // Deeper than Python's repr would print (and a list made to hold
    // itself is a cycle).
    if depth > 200 {
        return None;
    }
    match v.kind() {
        ValueKind::Iterable => Some(Value::from(
            v.try_iter()
                .ok()?
                .map(|item| untuple_at(&item, depth + 1).unwrap_or(item))
                .collect::<Vec<_>>(),
        )),
        ValueKind::Seq => {
            let items: Vec<Value> = v.try_iter().ok()?.collect();
            let changed: Vec<Option<Value>> =
                items.iter().map(|i| untuple_at(i, depth + 1)).collect();
            if !v.is_tuple() && changed.iter().all(Option::is_none) {
                return None;
            }
            Some(Value::from(
                items
                    .into_iter()
                    .zip(changed)
                    .map(|(item, new)| new.unwrap_or(item))
                    .collect::<Vec<_>>(),
            ))
        }
        ValueKind::Map => {
            let keys: Vec<Value> = v.try_iter().ok()?.collect();
            let mut changed = false;
            let mut pairs = Vec::with_capacity(keys.len());
            for key in keys {
                let val = v.get_item(&key).unwrap_or_default();
                match untuple_at(&val, depth + 1) {
                    Some(new) => {
                        changed = true;
                        pairs.push((key, new));
                    }
                    None => pairs.push((key, val)),
                }
            }
            changed.then(|| Value::from(pairs.into_iter().collect::<IndexMap<_, _>>()))
        }
        _ => None,
    }
}

/// Jinja's lexer turns `\r\n` and `\r` into `\n`.
pub(crate) fn normalize_newlines(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\r') {
        std::borrow::Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// The `\n`s a string ends with (ansible-core counts only `\n`).
fn trailing_newlines(s: &str) -> usize {
    s.bytes().rev().take_while(|b| *b == b'\n').count()
}

/// Appends the trailing newlines of `source` that a string result lost, as
/// ansible-core's `preserve_trailing_newlines` does; other values pass.
pub(crate) fn restore_newlines(source: &str, v: Value) -> Value {
    let Some(s) = v.as_str() else { return v };
    let want = trailing_newlines(source);
    let have = trailing_newlines(s);
    if want <= have {
        return v;
    }
    let mut out = s.to_owned();
    out.push_str(&"\n".repeat(want - have));
    if v.is_safe() {
        Value::from_safe_string(out)
    } else {
        Value::from(out)
    }
}

/// Renders template text that Jinja's lexer already normalized and whose
/// trailing newline is already dropped, with ansible-core's node rules; no
/// newline restoring.
pub(crate) fn render_body(env: &Environment<'_>, body: &str, ctx: &Value) -> Result<Value, Error> {
    // A rewritten template that does not compile (a construct the rewrite
    // does not know) is compiled as written.
    let rewritten = rewrite::rewrite_template(body);
    let (tmpl, mutable) = match rewritten
        .as_ref()
        .and_then(|r| Some((env.template_from_str(&r.text).ok()?, r.mutable)))
    {
        Some(compiled) => compiled,
        None => (env.template_from_str(body)?, false),
    };
    let (guard, written) = RecorderGuard::push();
    let mut writer = CountingWriter {
        buf: Vec::new(),
        written,
    };
    let rendered = tmpl.render_captured_to(ctx.clone(), &mut writer);
    let rec = guard.finish();
    rendered?;
    let text = String::from_utf8(writer.buf)
        .map_err(|_| Error::new(ErrorKind::WriteFailure, "template output is not UTF-8"))?;
    let Some(rec) = rec else {
        return Ok(Value::from(text));
    };
    let value = if rec.top.len() == 1 && rec.empties == 0 && text.len() == rec.top_bytes {
        rec.top.into_iter().next().unwrap_or_default()
    } else if rec.top.is_empty() && rec.empties == 0 && text.is_empty() {
        Value::from(())
    } else {
        Value::from(text)
    };
    Ok(if mutable {
        pymethods::freeze(&value)
    } else {
        value
    })
}

/// Renders a whole template (a file, or a string that is more than one
/// `{{ expression }}`) as ansible-core does: the result keeps its type when
/// the output is one node.
pub fn render(env: &Environment<'_>, source: &str, ctx: &Value) -> Result<Value, Error> {
    let normalized = normalize_newlines(source);
    let body = normalized.strip_suffix('\n').unwrap_or(&normalized);
    let v = render_body(env, body, ctx)?;
    Ok(restore_newlines(source, v))
}
