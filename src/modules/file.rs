//! `file`: manage files, directories, links and their attributes, as
//! Ansible's `ansible.builtin.file` does.
//!
//! The helpers shared with `copy` and `template` live here too: applying
//! `mode`/`owner`/`group` as Ansible's `set_fs_attributes_if_different`
//! does, the `path` info Ansible adds to every file result, the file-module
//! diff dictionaries, `realpath` on the target, creating directory chains and
//! timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use minijinja::value::ValueKind;

use super::args::parse_mode;
use super::{
    Args, DiffSupport, FileDiff, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult,
    ModuleSpec, Outcome, Param, ParamType,
};
use crate::connection::{ConnError, Connection, ExecRequest, FileKind, FileStat};
use crate::template::pyfmt::float_repr;
use crate::template::{py_str, vmap};

pub struct File;

/// Parameters every file-handling module accepts (Ansible's
/// `FILE_COMMON_ARGUMENTS`).
pub(crate) const COMMON: [Param; 9] = [
    Param::new("mode", ParamType::Mode),
    Param::new("owner", ParamType::Str),
    Param::new("group", ParamType::Str),
    Param::new("seuser", ParamType::Str),
    Param::new("serole", ParamType::Str),
    Param::new("setype", ParamType::Str),
    Param::new("selevel", ParamType::Str),
    Param::new("unsafe_writes", ParamType::Bool),
    Param::new("attributes", ParamType::Str).aliases(&["attr"]),
];

static PARAMS: [Param; 19] = [
    Param::new("path", ParamType::Path)
        .aliases(&["dest", "name"])
        .required(),
    Param::new("state", ParamType::Str).choices(&[
        "absent",
        "directory",
        "file",
        "hard",
        "link",
        "touch",
    ]),
    Param::new("src", ParamType::Path),
    Param::new("recurse", ParamType::Bool),
    Param::new("force", ParamType::Bool),
    Param::new("follow", ParamType::Bool),
    Param::new("modification_time", ParamType::Str),
    Param::new("modification_time_format", ParamType::Str),
    Param::new("access_time", ParamType::Str),
    Param::new("access_time_format", ParamType::Str),
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    COMMON[4],
    COMMON[5],
    COMMON[6],
    COMMON[7],
    COMMON[8],
];

static SPEC: ModuleSpec = ModuleSpec {
    name: "file",
    params: &PARAMS,
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Manage files, directories and links, and their mode, owner and times.",
    check_note: "",
    diff: DiffSupport::Yes,
    notes: &[super::file::NOTE_ATTRS_REFUSED],
};

/// Ansible's default time format for `modification_time`/`access_time`.
pub(crate) const DEFAULT_TIME_FORMAT: &str = "%Y%m%d%H%M.%S";

// ---------------------------------------------------------------------------
// Errors

/// Why a file operation stopped: a module failure with Ansible's result
/// keys (`path`, `src` …), or a connection/module error.
#[derive(Debug)]
pub(crate) enum Stop {
    Fail(Box<Outcome>),
    Module(ModuleError),
}

impl From<ModuleError> for Stop {
    fn from(e: ModuleError) -> Stop {
        Stop::Module(e)
    }
}

impl From<ConnError> for Stop {
    fn from(e: ConnError) -> Stop {
        Stop::Module(e.into())
    }
}

pub(crate) type SResult<T> = Result<T, Stop>;

/// A failure with a message.
pub(crate) fn fail(msg: impl Into<String>) -> Stop {
    Stop::Fail(Box::new(Outcome::failure(msg)))
}

/// A failure with a message and extra result keys.
pub(crate) fn fail_with(msg: impl Into<String>, data: &[(&str, Value)]) -> Stop {
    let mut out = Outcome::failure(msg);
    for (k, v) in data {
        out.set(k, v.clone());
    }
    Stop::Fail(Box::new(out))
}

/// Turns an internal result into what [`Module::run`] returns.
pub(crate) fn finish(r: SResult<Outcome>) -> ModuleResult {
    match r {
        Ok(o) => Ok(o),
        Err(Stop::Fail(o)) => Ok(*o),
        Err(Stop::Module(e)) => Err(e),
    }
}

// ---------------------------------------------------------------------------
// Paths

/// Python's `os.path.join` for two parts.
pub(crate) fn join(a: &str, b: &str) -> String {
    if b.starts_with('/') || a.is_empty() {
        b.to_owned()
    } else if a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// Python's `os.path.dirname`.
pub(crate) fn dirname(p: &str) -> String {
    match p.rfind('/') {
        None => String::new(),
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_owned()
            } else {
                trimmed.to_owned()
            }
        }
    }
}

/// Python's `os.path.basename`.
pub(crate) fn basename(p: &str) -> String {
    match p.rfind('/') {
        None => p.to_owned(),
        Some(i) => p[i + 1..].to_owned(),
    }
}

/// Expands a leading `~` with the target user's home directory.
pub(crate) async fn expand_user(ctx: &ModuleCtx<'_>, path: &str) -> SResult<String> {
    if path == "~" {
        return Ok(ctx.conn.home_dir().await?);
    }
    if let Some(rest) = path.strip_prefix("~/") {
        let home = ctx.conn.home_dir().await?;
        return Ok(join(&home, rest));
    }
    Ok(path.to_owned())
}

pub(crate) async fn lstat(ctx: &ModuleCtx<'_>, path: &str) -> SResult<Option<FileStat>> {
    Ok(ctx.conn.stat(path, false).await?)
}

pub(crate) async fn stat(ctx: &ModuleCtx<'_>, path: &str) -> SResult<Option<FileStat>> {
    Ok(ctx.conn.stat(path, true).await?)
}

pub(crate) async fn exists(ctx: &ModuleCtx<'_>, path: &str) -> SResult<bool> {
    Ok(stat(ctx, path).await?.is_some())
}

pub(crate) async fn is_dir(ctx: &ModuleCtx<'_>, path: &str) -> SResult<bool> {
    Ok(stat(ctx, path)
        .await?
        .is_some_and(|s| s.kind == FileKind::Directory))
}

/// Ansible's `get_state`: absent, link, directory, hard (a file with more
/// than one link) or file.
pub(crate) async fn get_state(ctx: &ModuleCtx<'_>, path: &str) -> SResult<&'static str> {
    let Some(l) = lstat(ctx, path).await? else {
        return Ok("absent");
    };
    Ok(match l.kind {
        FileKind::Symlink => "link",
        FileKind::Directory => "directory",
        _ if l.nlink > 1 => "hard",
        _ => "file",
    })
}

/// `os.path.realpath` evaluated on the target: every symlink resolved,
/// missing components kept as they are.
pub(crate) async fn realpath(ctx: &ModuleCtx<'_>, path: &str) -> SResult<String> {
    realpath_on(ctx.conn, path).await
}

/// [`realpath`] through any connection (the controller's own files too).
pub(crate) async fn realpath_on(conn: &dyn Connection, path: &str) -> SResult<String> {
    if let Some(real) = conn.realpath(path).await? {
        return Ok(real);
    }
    let mut absolute = path.starts_with('/');
    let mut resolved: Vec<String> = Vec::new();
    let mut pending: std::collections::VecDeque<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    let mut hops = 0;
    let render = |absolute: bool, parts: &[String]| {
        let joined = parts.join("/");
        if absolute {
            format!("/{joined}")
        } else if joined.is_empty() {
            ".".to_owned()
        } else {
            joined
        }
    };
    while let Some(c) = pending.pop_front() {
        if c == "." {
            continue;
        }
        if c == ".." {
            if resolved.last().is_some_and(|l| l != "..") {
                resolved.pop();
            } else if !absolute {
                resolved.push(c);
            }
            continue;
        }
        let mut candidate_parts = resolved.clone();
        candidate_parts.push(c.clone());
        let candidate = render(absolute, &candidate_parts);
        match conn.stat(&candidate, false).await? {
            Some(st) if st.kind == FileKind::Symlink && hops < 40 => {
                hops += 1;
                let target = st.link_target.unwrap_or_default();
                if target.starts_with('/') {
                    absolute = true;
                    resolved.clear();
                }
                for part in target.split('/').filter(|p| !p.is_empty()).rev() {
                    pending.push_front(part.to_owned());
                }
            }
            _ => resolved.push(c),
        }
    }
    Ok(render(absolute, &resolved))
}

// ---------------------------------------------------------------------------
// Python-compatible JSON (for file diffs and `content:` dicts)

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_into(v: &Value, indent: Option<usize>, sort_keys: bool, level: usize, out: &mut String) {
    let (item_sep, newline) = match indent {
        Some(_) => (",", true),
        None => (", ", false),
    };
    let pad = |lvl: usize| " ".repeat(indent.unwrap_or(0) * lvl);
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if v.is_integer() {
                out.push_str(&v.to_string());
            } else {
                match f64::try_from(v.clone()) {
                    Ok(f) if f.is_nan() => out.push_str("NaN"),
                    Ok(f) if f.is_infinite() => {
                        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" })
                    }
                    Ok(f) => out.push_str(&float_repr(f)),
                    Err(_) => out.push_str(&v.to_string()),
                }
            }
        }
        ValueKind::String => json_str(v.as_str().unwrap_or_default(), out),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter().map(|it| it.collect()).unwrap_or_default();
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                if newline {
                    out.push('\n');
                    out.push_str(&pad(level + 1));
                }
                json_into(item, indent, sort_keys, level + 1, out);
            }
            if newline {
                out.push('\n');
                out.push_str(&pad(level));
            }
            out.push(']');
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = v.try_iter().map(|it| it.collect()).unwrap_or_default();
            if keys.is_empty() {
                out.push_str("{}");
                return;
            }
            if sort_keys {
                keys.sort_by_key(py_str);
            }
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                if newline {
                    out.push('\n');
                    out.push_str(&pad(level + 1));
                }
                json_str(&py_str(k), out);
                out.push_str(": ");
                json_into(
                    &v.get_item(k).unwrap_or_default(),
                    indent,
                    sort_keys,
                    level + 1,
                    out,
                );
            }
            if newline {
                out.push('\n');
                out.push_str(&pad(level));
            }
            out.push('}');
        }
        _ => json_str(&py_str(v), out),
    }
}

/// Python's `json.dumps(v, indent=indent, sort_keys=sort_keys)` with the
/// default `ensure_ascii=True` (and `(',', ': ')` separators when indenting).
pub(crate) fn py_json(v: &Value, indent: Option<usize>, sort_keys: bool) -> String {
    let mut out = String::new();
    json_into(v, indent, sort_keys, 0, &mut out);
    out
}

// ---------------------------------------------------------------------------
// Diffs

/// The `{'before': {...}, 'after': {...}}` dictionaries Ansible's file
/// module returns as `diff`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct AttrDiff {
    pub before: IndexMap<String, Value>,
    pub after: IndexMap<String, Value>,
}

impl AttrDiff {
    /// Ansible's `initial_diff` (without the `path_content` walk).
    pub(crate) fn initial(path: &str, state: &str, prev_state: &str) -> AttrDiff {
        let mut d = AttrDiff::default();
        d.before.insert("path".into(), Value::from(path));
        d.after.insert("path".into(), Value::from(path));
        if state != prev_state {
            d.before.insert("state".into(), Value::from(prev_state));
            d.after.insert("state".into(), Value::from(state));
        }
        d
    }

    pub(crate) fn set(&mut self, key: &str, before: Value, after: Value) {
        self.before.insert(key.to_owned(), before);
        self.after.insert(key.to_owned(), after);
    }

    pub(crate) fn value(&self) -> Value {
        let m =
            |map: &IndexMap<String, Value>| vmap(map.iter().map(|(k, v)| (k.as_str(), v.clone())));
        vmap([("before", m(&self.before)), ("after", m(&self.after))])
    }

    /// The text `ansible-playbook --diff` shows for this diff: both sides as
    /// sorted, indented JSON. `None` when nothing differs.
    pub(crate) fn file_diff(&self) -> Option<FileDiff> {
        let m =
            |map: &IndexMap<String, Value>| vmap(map.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let before = py_json(&m(&self.before), Some(4), true) + "\n";
        let after = py_json(&m(&self.after), Some(4), true) + "\n";
        (before != after).then(|| FileDiff {
            before_header: "before".into(),
            after_header: "after".into(),
            before,
            after,
        })
    }

    /// Stores the diff in the result as Ansible does (`diff` key) and, in
    /// diff mode, as text to show.
    pub(crate) fn attach(&self, ctx: &ModuleCtx<'_>, out: &mut Outcome) {
        out.set("diff", self.value());
        if ctx.diff
            && let Some(d) = self.file_diff()
        {
            out.diffs.push(d);
        }
    }
}

/// `'0%03o' % mode`, as Ansible reports modes.
pub(crate) fn mode_str(mode: u32) -> String {
    format!("0{mode:03o}")
}

// ---------------------------------------------------------------------------
// Ownership and permissions

/// `mode`, `owner` and `group` as given to a module.
#[derive(Clone, Debug, Default)]
pub(crate) struct FileArgs {
    pub mode: Option<Value>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl FileArgs {
    pub(crate) fn from_args(args: &Args) -> FileArgs {
        FileArgs {
            mode: args.get("mode").cloned(),
            owner: args.str("owner").filter(|s| !s.is_empty()),
            group: args.str("group").filter(|s| !s.is_empty()),
        }
    }
}

/// The module reference's note for modules that call [`refuse_unsupported`].
pub(crate) const NOTE_ATTRS_REFUSED: &str = "`attributes` (chattr flags) is refused. The SELinux \
     parameters (`seuser`, `serole`, `setype`, `selevel`) and `unsafe_writes` are accepted and \
     ignored: every write is atomic.";

/// The module reference's note for the other modules with the file
/// module's common arguments.
pub(crate) const NOTE_ATTRS_IGNORED: &str = "`attributes` (chattr flags), the SELinux parameters \
     (`seuser`, `serole`, `setype`, `selevel`) and `unsafe_writes` are accepted and ignored: \
     every write is atomic.";

/// Parameters hoist accepts but cannot honour yet.
pub(crate) fn refuse_unsupported(args: &Args) -> SResult<()> {
    if args.str("attributes").is_some_and(|a| !a.is_empty()) {
        return Err(fail(
            "the 'attributes' parameter (chattr flags) is not supported by hoist",
        ));
    }
    Ok(())
}

/// Resolves `owner` to a uid (numbers are taken as they are).
pub(crate) async fn lookup_uid(ctx: &ModuleCtx<'_>, owner: &str) -> SResult<Option<u32>> {
    if let Ok(n) = owner.parse::<u32>() {
        return Ok(Some(n));
    }
    Ok(ctx.conn.lookup_user(owner).await?)
}

/// Resolves `group` to a gid (numbers are taken as they are).
pub(crate) async fn lookup_gid(ctx: &ModuleCtx<'_>, group: &str) -> SResult<Option<u32>> {
    if let Ok(n) = group.parse::<u32>() {
        return Ok(Some(n));
    }
    Ok(ctx.conn.lookup_group(group).await?)
}

/// In check mode Ansible only warns about a missing owner or group (an
/// earlier task may create it in a real run).
/// A name the path's stat already gives exists: no lookup for it.
pub(crate) async fn check_owner_group_exist(
    ctx: &ModuleCtx<'_>,
    path: &str,
    fa: &FileArgs,
    warnings: &mut Vec<String>,
) -> SResult<()> {
    let st = if fa.owner.is_some() || fa.group.is_some() {
        lstat(ctx, path).await?
    } else {
        None
    };
    let named = |n: Option<&String>, o: &str| n.is_some_and(|n| n == o);
    if let Some(o) = &fa.owner
        && !named(st.as_ref().and_then(|s| s.owner.as_ref()), o)
        && lookup_uid(ctx, o).await?.is_none()
    {
        warnings.push(format!(
            "failed to look up user {o}. Create user up to this point in real play"
        ));
    }
    if let Some(g) = &fa.group
        && !named(st.as_ref().and_then(|s| s.group.as_ref()), g)
        && lookup_gid(ctx, g).await?.is_none()
    {
        warnings.push(format!(
            "failed to look up group {g}. Create group up to this point in real play"
        ));
    }
    Ok(())
}

async fn absent_in_check_mode(ctx: &ModuleCtx<'_>, path: &str) -> SResult<bool> {
    Ok(ctx.check_mode && !exists(ctx, path).await?)
}

async fn lstat_required(ctx: &ModuleCtx<'_>, path: &str) -> SResult<FileStat> {
    lstat(ctx, path).await?.ok_or_else(|| {
        fail_with(
            format!("[Errno 2] No such file or directory: '{path}'"),
            &[("path", Value::from(path))],
        )
    })
}

async fn set_owner_if_different(
    ctx: &ModuleCtx<'_>,
    path: &str,
    owner: Option<&str>,
    changed: bool,
    diff: &mut AttrDiff,
) -> SResult<bool> {
    let Some(owner) = owner else {
        return Ok(changed);
    };
    if absent_in_check_mode(ctx, path).await? {
        return Ok(true);
    }
    let st = lstat_required(ctx, path).await?;
    // The stat names the owner already: the same name, the same owner
    // (no lookup on the host).
    if st.owner.as_deref() == Some(owner) {
        return Ok(changed);
    }
    let Some(uid) = lookup_uid(ctx, owner).await? else {
        return Err(fail_with(
            format!("chown failed: failed to look up user {owner}"),
            &[("path", Value::from(path))],
        ));
    };
    if st.uid == uid {
        return Ok(changed);
    }
    diff.set("owner", Value::from(st.uid), Value::from(uid));
    if ctx.check_mode {
        return Ok(true);
    }
    ctx.conn
        .chown(path, Some(&uid.to_string()), None, false)
        .await
        .map_err(|e| {
            fail_with(
                format!("chown failed: {}", e.msg),
                &[("path", Value::from(path))],
            )
        })?;
    Ok(true)
}

async fn set_group_if_different(
    ctx: &ModuleCtx<'_>,
    path: &str,
    group: Option<&str>,
    changed: bool,
    diff: &mut AttrDiff,
) -> SResult<bool> {
    let Some(group) = group else {
        return Ok(changed);
    };
    if absent_in_check_mode(ctx, path).await? {
        return Ok(true);
    }
    let st = lstat_required(ctx, path).await?;
    if st.group.as_deref() == Some(group) {
        return Ok(changed);
    }
    let Some(gid) = lookup_gid(ctx, group).await? else {
        return Err(fail_with(
            format!("chgrp failed: failed to look up group {group}"),
            &[("path", Value::from(path))],
        ));
    };
    if st.gid == gid {
        return Ok(changed);
    }
    diff.set("group", Value::from(st.gid), Value::from(gid));
    if ctx.check_mode {
        return Ok(true);
    }
    ctx.conn
        .chown(path, None, Some(&gid.to_string()), false)
        .await
        .map_err(|e| {
            fail_with(
                format!("chgrp failed: {}", e.msg),
                &[("path", Value::from(path))],
            )
        })?;
    Ok(true)
}

/// The numeric mode `mode:` asks for on a path with these current bits.
pub(crate) fn wanted_mode(mode: &Value, current: u32, is_dir: bool, path: &str) -> SResult<u32> {
    parse_mode(mode, current, is_dir).map_err(|e| {
        fail_with(
            "mode must be in octal or symbolic form",
            &[("path", Value::from(path)), ("details", Value::from(e))],
        )
    })
}

async fn set_mode_if_different(
    ctx: &ModuleCtx<'_>,
    path: &str,
    mode: Option<&Value>,
    changed: bool,
    diff: &mut AttrDiff,
) -> SResult<bool> {
    let Some(mode) = mode else { return Ok(changed) };
    if absent_in_check_mode(ctx, path).await? {
        return Ok(true);
    }
    let st = lstat_required(ctx, path).await?;
    let want = wanted_mode(mode, st.mode, st.kind == FileKind::Directory, path)?;
    if st.mode == want {
        return Ok(changed);
    }
    diff.set(
        "mode",
        Value::from(mode_str(st.mode)),
        Value::from(mode_str(want)),
    );
    if ctx.check_mode {
        return Ok(true);
    }
    ctx.conn.chmod(path, want).await.map_err(|e| {
        fail_with(
            "chmod failed",
            &[("path", Value::from(path)), ("details", Value::from(e.msg))],
        )
    })?;
    // A symlink's own mode cannot change on Linux: then nothing changed.
    let now = lstat_required(ctx, path).await?;
    Ok(changed || now.mode != st.mode)
}

/// Ansible's `set_fs_attributes_if_different` (owner, group, mode) on
/// `path` itself (callers resolve symlinks when following).
pub(crate) async fn set_fs_attributes_if_different(
    ctx: &ModuleCtx<'_>,
    path: &str,
    fa: &FileArgs,
    changed: bool,
    diff: &mut AttrDiff,
) -> SResult<bool> {
    let changed = set_owner_if_different(ctx, path, fa.owner.as_deref(), changed, diff).await?;
    let changed = set_group_if_different(ctx, path, fa.group.as_deref(), changed, diff).await?;
    set_mode_if_different(ctx, path, fa.mode.as_ref(), changed, diff).await
}

/// Ansible's `load_file_common_arguments` path choice: a symlink is
/// replaced by its target when following.
pub(crate) async fn attr_path(ctx: &ModuleCtx<'_>, path: &str, follow: bool) -> SResult<String> {
    if follow
        && lstat(ctx, path)
            .await?
            .is_some_and(|s| s.kind == FileKind::Symlink)
    {
        return realpath(ctx, path).await;
    }
    Ok(path.to_owned())
}

/// Adds what Ansible's `add_path_info` adds to a result naming `path` or
/// `dest`: uid, gid, owner, group, mode, state and size.
pub(crate) async fn add_path_info(ctx: &ModuleCtx<'_>, out: &mut Outcome) -> SResult<()> {
    let Some(path) = out
        .data
        .get("path")
        .or_else(|| out.data.get("dest"))
        .map(py_str)
    else {
        return Ok(());
    };
    let Some(followed) = stat(ctx, &path).await? else {
        return Ok(());
    };
    let Some(l) = lstat(ctx, &path).await? else {
        return Ok(());
    };
    out.set("uid", Value::from(l.uid));
    out.set("gid", Value::from(l.gid));
    out.set(
        "owner",
        Value::from(l.owner.clone().unwrap_or_else(|| l.uid.to_string())),
    );
    out.set(
        "group",
        Value::from(l.group.clone().unwrap_or_else(|| l.gid.to_string())),
    );
    out.set("mode", Value::from(mode_str(l.mode)));
    let state = match l.kind {
        FileKind::Symlink => "link",
        FileKind::Directory => "directory",
        _ if followed.nlink > 1 => "hard",
        _ => "file",
    };
    out.set("state", Value::from(state));
    out.set("size", Value::from(l.size));
    Ok(())
}

/// The target's umask (for the mode of directories hoist creates).
pub(crate) async fn target_umask(ctx: &ModuleCtx<'_>) -> u32 {
    if let Ok(out) = ctx
        .conn
        .exec(&ExecRequest::argv(["sh", "-c", "umask"]).short())
        .await
        && out.rc == 0
        && let Ok(m) = u32::from_str_radix(String::from_utf8_lossy(&out.stdout).trim(), 8)
    {
        return m & 0o777;
    }
    0o022
}

/// `mkdir -p` the way Ansible's file module creates a directory: each
/// missing component is created and then gets `fa` applied. Returns whether
/// anything was created or changed.
pub(crate) async fn make_dirs(
    ctx: &ModuleCtx<'_>,
    path: &str,
    fa: &FileArgs,
    diff: &mut AttrDiff,
) -> SResult<bool> {
    let mut changed = false;
    let mut cur = String::new();
    let mut umask = None;
    for part in path.trim_matches('/').split('/').filter(|p| !p.is_empty()) {
        cur = if cur.is_empty() && !path.starts_with('/') {
            part.to_owned()
        } else {
            format!("{cur}/{part}")
        };
        if exists(ctx, &cur).await? {
            continue;
        }
        let mask = match umask {
            Some(m) => m,
            None => {
                let m = target_umask(ctx).await;
                umask = Some(m);
                m
            }
        };
        if let Err(e) = ctx.conn.mkdir(&cur, 0o777 & !mask).await
            && !is_dir(ctx, &cur).await?
        {
            return Err(fail_with(
                format!("There was an issue creating {cur} as requested: {}", e.msg),
                &[("path", Value::from(path))],
            ));
        }
        changed = true;
        changed = set_fs_attributes_if_different(ctx, &cur, fa, changed, diff).await?;
    }
    Ok(changed)
}

// ---------------------------------------------------------------------------
// Timestamps

/// What to do with a timestamp: keep it, set it to now, or to a time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Stamp {
    Preserve,
    Now,
    At(f64),
}

pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Broken-down local time from [`strptime`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tm {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Python's `time.strptime` for the common directives (`%Y %y %m %d %H %I
/// %M %S %p %b %B %a %A %%`), with Python's error messages.
pub(crate) fn strptime(data: &str, format: &str) -> Result<Tm, String> {
    let names = |list: &[&str], short: bool| {
        let alts: Vec<String> = list
            .iter()
            .map(|n| {
                if short {
                    n[..3].to_owned()
                } else {
                    (*n).to_owned()
                }
            })
            .collect();
        alts.join("|")
    };
    let mut pattern = String::from("(?i)^");
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            let Some(d) = chars.next() else {
                return Err(format!("stray % in format '{format}'"));
            };
            let group = match d {
                'Y' => r"(?P<Y>\d\d\d\d)".to_owned(),
                'y' => r"(?P<y>\d\d)".to_owned(),
                'm' => r"(?P<m>1[0-2]|0[1-9]|[1-9])".to_owned(),
                'd' => r"(?P<d>3[01]|[12]\d|0[1-9]|[1-9]| [1-9])".to_owned(),
                'H' => r"(?P<H>2[0-3]|[0-1]\d|\d)".to_owned(),
                'I' => r"(?P<I>1[0-2]|0[1-9]|[1-9])".to_owned(),
                'M' => r"(?P<M>[0-5]\d|\d)".to_owned(),
                'S' => r"(?P<S>6[0-1]|[0-5]\d|\d)".to_owned(),
                'p' => "(?P<p>am|pm)".to_owned(),
                'b' | 'h' => format!("(?P<b>{})", names(&MONTHS, true)),
                'B' => format!("(?P<B>{})", names(&MONTHS, false)),
                'a' => format!("(?:{})", names(&DAYS, true)),
                'A' => format!("(?:{})", names(&DAYS, false)),
                '%' => "%".to_owned(),
                other => return Err(format!("'{other}' is a bad directive in format '{format}'")),
            };
            pattern.push_str(&group);
        } else if c.is_whitespace() {
            while chars.peek().is_some_and(|n| n.is_whitespace()) {
                chars.next();
            }
            pattern.push_str(r"\s+");
        } else {
            pattern.push_str(&regex::escape(&c.to_string()));
        }
    }
    let re = regex::Regex::new(&pattern).map_err(|e| format!("bad format '{format}': {e}"))?;
    let Some(caps) = re.captures(data) else {
        return Err(format!(
            "time data '{data}' does not match format '{format}'"
        ));
    };
    let end = caps.get(0).map(|m| m.end()).unwrap_or(0);
    if end != data.len() {
        return Err(format!("unconverted data remains: {}", &data[end..]));
    }
    let num = |name: &str| {
        caps.name(name)
            .and_then(|m| m.as_str().trim().parse::<u32>().ok())
    };
    let mut tm = Tm {
        year: 1900,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
    };
    if let Some(y) = num("Y") {
        tm.year = y as i32;
    } else if let Some(y) = num("y") {
        tm.year = if y <= 68 {
            2000 + y as i32
        } else {
            1900 + y as i32
        };
    }
    if let Some(m) = num("m") {
        tm.month = m;
    }
    for key in ["b", "B"] {
        if let Some(m) = caps.name(key) {
            let lower = m.as_str().to_ascii_lowercase();
            if let Some(i) = MONTHS
                .iter()
                .position(|n| n.starts_with(&lower[..3.min(lower.len())]))
            {
                tm.month = i as u32 + 1;
            }
        }
    }
    if let Some(d) = num("d") {
        tm.day = d;
    }
    if let Some(h) = num("H") {
        tm.hour = h;
    } else if let Some(h) = num("I") {
        let pm = caps
            .name("p")
            .is_some_and(|p| p.as_str().eq_ignore_ascii_case("pm"));
        tm.hour = match (h, pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, true) => h + 12,
            (h, false) => h,
        };
    }
    if let Some(m) = num("M") {
        tm.minute = m;
    }
    if let Some(s) = num("S") {
        tm.second = s;
    }
    if tm.day > days_in_month(tm.year, tm.month) {
        return Err("day is out of range for month".into());
    }
    Ok(tm)
}

/// Seconds since the epoch of a local time on the target (`time.mktime`
/// there), asked of the target's `date`.
async fn target_mktime(ctx: &ModuleCtx<'_>, tm: &Tm) -> Option<f64> {
    let stamp = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.year, tm.month, tm.day, tm.hour, tm.minute, tm.second
    );
    let attempts = [
        vec!["date", "-d", stamp.as_str(), "+%s"],
        vec![
            "date",
            "-j",
            "-f",
            "%Y-%m-%d %H:%M:%S",
            stamp.as_str(),
            "+%s",
        ],
    ];
    for argv in attempts {
        if let Ok(out) = ctx.conn.exec(&ExecRequest::argv(argv).short()).await
            && out.rc == 0
            && let Ok(n) = String::from_utf8_lossy(&out.stdout).trim().parse::<i64>()
        {
            return Some(n as f64);
        }
    }
    None
}

/// Ansible's `get_timestamp_for_time`.
pub(crate) async fn timestamp_for(
    ctx: &ModuleCtx<'_>,
    value: &str,
    format: &str,
) -> SResult<Stamp> {
    match value {
        "preserve" => Ok(Stamp::Preserve),
        "now" => Ok(Stamp::Now),
        _ => {
            let bad = |why: &str| {
                fail(format!(
                    "Error while obtaining timestamp for time {value} using format {format}: {why}"
                ))
            };
            let tm = strptime(value, format).map_err(|e| bad(&e))?;
            let t = target_mktime(ctx, &tm)
                .await
                .ok_or_else(|| bad("cannot convert the local time on the target"))?;
            Ok(Stamp::At(t))
        }
    }
}

/// Ansible's `update_timestamp_for_file`.
pub(crate) async fn update_timestamp_for_file(
    ctx: &ModuleCtx<'_>,
    path: &str,
    mtime: Stamp,
    atime: Stamp,
    diff: &mut AttrDiff,
) -> SResult<bool> {
    if mtime == Stamp::Preserve && atime == Stamp::Preserve {
        return Ok(false);
    }
    let err = |msg: String| {
        fail_with(
            format!("Error while updating modification or access time: {msg}"),
            &[("path", Value::from(path))],
        )
    };
    let Some(st) = stat(ctx, path).await? else {
        return Err(err(format!(
            "[Errno 2] No such file or directory: '{path}'"
        )));
    };
    let t_now = now();
    let both_now = mtime == Stamp::Now && atime == Stamp::Now;
    let pick = |s: Stamp, prev: f64| match s {
        Stamp::Preserve => prev,
        Stamp::Now => t_now,
        Stamp::At(t) => t,
    };
    let new_m = pick(mtime, st.mtime);
    let new_a = pick(atime, st.atime);
    if !both_now && new_m == st.mtime && new_a == st.atime {
        return Ok(false);
    }
    if !ctx.check_mode {
        let target = realpath(ctx, path).await?;
        ctx.conn
            .set_times(&target, new_a, new_m)
            .await
            .map_err(|e| err(e.msg))?;
    }
    if new_m != st.mtime {
        diff.set("mtime", Value::from(st.mtime), Value::from(new_m));
    }
    if new_a != st.atime {
        diff.set("atime", Value::from(st.atime), Value::from(new_a));
    }
    Ok(true)
}

// ---------------------------------------------------------------------------
// The file module's states

/// Everything the file module's states work from.
#[derive(Clone, Debug)]
pub(crate) struct FileParams {
    pub path: String,
    pub src: Option<String>,
    pub fa: FileArgs,
    pub follow: bool,
    pub force: bool,
    pub recurse: bool,
    pub mtime: Stamp,
    pub atime: Stamp,
}

impl FileParams {
    pub(crate) fn new(path: &str, fa: FileArgs) -> FileParams {
        FileParams {
            path: path.to_owned(),
            src: None,
            fa,
            follow: true,
            force: false,
            recurse: false,
            mtime: Stamp::Preserve,
            atime: Stamp::Preserve,
        }
    }
}

async fn apply_attrs(
    ctx: &ModuleCtx<'_>,
    p: &FileParams,
    path: &str,
    changed: bool,
    diff: &mut AttrDiff,
) -> SResult<bool> {
    let changed = set_fs_attributes_if_different(ctx, path, &p.fa, changed, diff).await?;
    let touched = update_timestamp_for_file(ctx, path, p.mtime, p.atime, diff).await?;
    Ok(changed || touched)
}

/// `state: file`: the path must exist; its attributes are set.
pub(crate) async fn ensure_file_attributes(
    ctx: &ModuleCtx<'_>,
    p: &FileParams,
) -> SResult<Outcome> {
    let mut path = p.path.clone();
    let mut prev_state = get_state(ctx, &path).await?;
    if prev_state != "file" && p.follow && prev_state == "link" {
        path = realpath(ctx, &path).await?;
        prev_state = get_state(ctx, &path).await?;
    }
    if prev_state != "file" && prev_state != "hard" {
        return Err(fail_with(
            format!("file ({path}) is {prev_state}, cannot continue"),
            &[
                ("path", Value::from(path.as_str())),
                ("state", Value::from(prev_state)),
            ],
        ));
    }
    let mut diff = AttrDiff::initial(&path, "file", prev_state);
    let target = attr_path(ctx, &path, p.follow).await?;
    let changed = apply_attrs(ctx, p, &target, false, &mut diff).await?;
    let mut out = Outcome::changed(changed).with("path", path.as_str());
    diff.attach(ctx, &mut out);
    Ok(out)
}

/// Applies attributes to everything below `root`, as Ansible's
/// `recursive_set_attributes` does.
async fn recursive_set_attributes(
    ctx: &ModuleCtx<'_>,
    root: &str,
    p: &FileParams,
) -> SResult<bool> {
    let mut changed = false;
    let mut scratch = AttrDiff::default();
    let mut stack = vec![root.to_owned()];
    let mut visited = 0usize;
    while let Some(dir) = stack.pop() {
        visited += 1;
        if visited > 100_000 {
            return Err(fail(format!(
                "Could not recursively set attributes on {root}. Original error was: 'too many levels of symbolic links'"
            )));
        }
        for name in ctx.conn.list_dir(&dir).await? {
            let full = join(&dir, &name);
            let Some(l) = lstat(ctx, &full).await? else {
                continue;
            };
            changed |=
                set_fs_attributes_if_different(ctx, &full, &p.fa, changed, &mut scratch).await?;
            if l.kind == FileKind::Symlink {
                if stat(ctx, &full).await?.is_some() {
                    changed |=
                        update_timestamp_for_file(ctx, &full, p.mtime, p.atime, &mut scratch)
                            .await?;
                }
                if p.follow {
                    let target = join(&dir, l.link_target.as_deref().unwrap_or(""));
                    if let Some(t) = stat(ctx, &target).await? {
                        if t.kind == FileKind::Directory {
                            stack.push(target.clone());
                        }
                        changed |= set_fs_attributes_if_different(
                            ctx,
                            &target,
                            &p.fa,
                            changed,
                            &mut scratch,
                        )
                        .await?;
                        changed |=
                            update_timestamp_for_file(ctx, &target, p.mtime, p.atime, &mut scratch)
                                .await?;
                    }
                }
            } else {
                changed |=
                    update_timestamp_for_file(ctx, &full, p.mtime, p.atime, &mut scratch).await?;
                if l.kind == FileKind::Directory {
                    stack.push(full);
                }
            }
        }
    }
    Ok(changed)
}

/// `state: directory`: creates the directory with its parents (each new one
/// gets mode/owner/group) or sets the attributes of an existing one.
pub(crate) async fn ensure_directory(ctx: &ModuleCtx<'_>, p: &FileParams) -> SResult<Outcome> {
    let mut path = p.path.clone();
    let mut prev_state = get_state(ctx, &path).await?;
    if p.follow && prev_state == "link" {
        path = realpath(ctx, &path).await?;
        prev_state = get_state(ctx, &path).await?;
    }
    let mut diff = AttrDiff::initial(&path, "directory", prev_state);
    if prev_state == "absent" {
        let mut out = Outcome::changed(true).with("path", path.as_str());
        if !ctx.check_mode {
            let mut changed = make_dirs(ctx, &path, &p.fa, &mut diff).await?;
            changed |= update_timestamp_for_file(ctx, &path, p.mtime, p.atime, &mut diff).await?;
            out.changed = changed;
        }
        diff.attach(ctx, &mut out);
        return Ok(out);
    }
    if prev_state != "directory" {
        return Err(fail_with(
            format!("{path} already exists as a {prev_state}"),
            &[("path", Value::from(path.as_str()))],
        ));
    }
    let mut changed = apply_attrs(ctx, p, &path, false, &mut diff).await?;
    if p.recurse {
        changed |= recursive_set_attributes(ctx, &path, p).await?;
    }
    let mut out = Outcome::changed(changed).with("path", path.as_str());
    diff.attach(ctx, &mut out);
    Ok(out)
}

/// `state: link`: a symlink at `path` pointing to `src`.
pub(crate) async fn ensure_symlink(ctx: &ModuleCtx<'_>, p: &FileParams) -> SResult<Outcome> {
    let path = p.path.as_str();
    let prev_state = get_state(ctx, path).await?;
    let mut src = p.src.clone();
    if src.is_none()
        && p.follow
        && exists(ctx, path).await?
        && let Some(l) = lstat(ctx, path).await?
        && let Some(t) = l.link_target
    {
        src = Some(t);
    }
    let base = if prev_state == "directory" {
        path.to_owned()
    } else {
        dirname(path)
    };
    let absrc = src.as_deref().map(|s| join(&base, s));
    if !p.force
        && let (Some(s), Some(abs)) = (src.as_deref(), absrc.as_deref())
        && !exists(ctx, abs).await?
    {
        return Err(fail_with(
            format!(
                "src file does not exist, use \"force=yes\" if you really want to create the link: {abs}"
            ),
            &[("path", Value::from(path)), ("src", Value::from(s))],
        ));
    }
    if prev_state == "directory" {
        if !p.force {
            return Err(fail_with(
                format!("refusing to convert from {prev_state} to symlink for {path}"),
                &[("path", Value::from(path))],
            ));
        }
        if !ctx.conn.list_dir(path).await?.is_empty() {
            return Err(fail_with(
                format!("the directory {path} is not empty, refusing to convert it"),
                &[("path", Value::from(path))],
            ));
        }
    } else if (prev_state == "file" || prev_state == "hard") && !p.force {
        return Err(fail_with(
            format!("refusing to convert from {prev_state} to symlink for {path}"),
            &[("path", Value::from(path))],
        ));
    }
    let mut diff = AttrDiff::initial(path, "link", prev_state);
    let mut changed = false;
    if prev_state == "link" {
        if let Some(s) = &src {
            let old = lstat(ctx, path)
                .await?
                .and_then(|l| l.link_target)
                .unwrap_or_default();
            if &old != s {
                diff.set("src", Value::from(old), Value::from(s.as_str()));
                changed = true;
            }
        }
    } else {
        if src.is_none() {
            return Err(fail("src is required for creating new symlinks"));
        }
        changed = true;
    }
    if changed && !ctx.check_mode {
        let target = src.as_deref().unwrap_or_default();
        if prev_state == "directory" {
            ctx.conn.remove(path, false).await.map_err(|e| {
                fail_with(
                    format!("Error while replacing: {}", e.msg),
                    &[("path", Value::from(path))],
                )
            })?;
        }
        ctx.conn.symlink(target, path).await.map_err(|e| {
            let what = if prev_state == "absent" {
                "linking"
            } else {
                "replacing"
            };
            fail_with(
                format!("Error while {what}: {}", e.msg),
                &[("path", Value::from(path))],
            )
        })?;
    }
    let mut out = Outcome::changed(changed).with("dest", path);
    out.set("src", src.as_deref().map(Value::from).unwrap_or_default());
    if ctx.check_mode && lstat(ctx, path).await?.is_none() {
        diff.attach(ctx, &mut out);
        return Ok(out);
    }
    let target = attr_path(ctx, path, p.follow).await?;
    let is_link = lstat(ctx, path)
        .await?
        .is_some_and(|l| l.kind == FileKind::Symlink);
    if p.follow && is_link && !exists(ctx, &target).await? {
        out.set(
            "warnings",
            Value::from(vec![Value::from(
                "Cannot set fs attributes on a non-existent symlink target. follow should be set to False to avoid this.",
            )]),
        );
    } else {
        changed = apply_attrs(ctx, p, &target, changed, &mut diff).await?;
    }
    out.changed = changed;
    diff.attach(ctx, &mut out);
    Ok(out)
}

/// `state: hard`: a hard link at `path` to `src`.
pub(crate) async fn ensure_hardlink(ctx: &ModuleCtx<'_>, p: &FileParams) -> SResult<Outcome> {
    let path = p.path.as_str();
    let prev_state = get_state(ctx, path).await?;
    let src = p.src.as_deref();
    if prev_state != "hard" && src.is_none() {
        return Err(fail("src is required for creating new hardlinks"));
    }
    let src_stat = match src {
        Some(s) => match stat(ctx, s).await? {
            Some(st) => Some(st),
            None => {
                return Err(fail_with(
                    "src does not exist",
                    &[("dest", Value::from(path)), ("src", Value::from(s))],
                ));
            }
        },
        None => None,
    };
    let same_inode = |st: &FileStat| {
        src_stat
            .as_ref()
            .is_some_and(|s| s.inode == st.inode && s.dev == st.dev)
    };
    let mut diff = AttrDiff::initial(path, "hard", prev_state);
    let mut changed = false;
    let cannot = |msg: String| {
        fail_with(
            msg,
            &[
                ("dest", Value::from(path)),
                ("src", Value::from(src.unwrap_or(""))),
            ],
        )
    };
    match prev_state {
        "absent" => changed = true,
        "link" => {
            let old = lstat(ctx, path)
                .await?
                .and_then(|l| l.link_target)
                .unwrap_or_default();
            if Some(old.as_str()) != src {
                diff.set("src", Value::from(old), Value::from(src.unwrap_or("")));
                changed = true;
            }
        }
        "hard" => {
            if src.is_some()
                && let Some(st) = stat(ctx, path).await?
                && !same_inode(&st)
            {
                changed = true;
                if !p.force {
                    return Err(cannot(
                        "Cannot link, different hard link exists at destination".into(),
                    ));
                }
            }
        }
        "file" => {
            changed = true;
            if !p.force {
                return Err(cannot(format!(
                    "Cannot link, {prev_state} exists at destination"
                )));
            }
        }
        _ => {
            // directory
            changed = true;
            if let Some(st) = stat(ctx, path).await? {
                if same_inode(&st) {
                    return Ok(Outcome::changed(false).with("path", path));
                }
                if !p.force {
                    return Err(cannot(
                        "Cannot link: different hard link exists at destination".into(),
                    ));
                }
            }
        }
    }
    if changed && !ctx.check_mode {
        let s = src.unwrap_or_default();
        if prev_state == "directory" {
            ctx.conn.remove(path, false).await.map_err(|e| {
                fail_with(
                    format!("Error while replacing: {}", e.msg),
                    &[("path", Value::from(path))],
                )
            })?;
        }
        ctx.conn.hardlink(s, path).await.map_err(|e| {
            let what = if prev_state == "absent" {
                "linking"
            } else {
                "replacing"
            };
            fail_with(
                format!("Error while {what}: {}", e.msg),
                &[("path", Value::from(path))],
            )
        })?;
    }
    let mut out = Outcome::changed(changed).with("dest", path);
    out.set("src", src.map(Value::from).unwrap_or_default());
    if ctx.check_mode && !exists(ctx, path).await? {
        diff.attach(ctx, &mut out);
        return Ok(out);
    }
    let target = attr_path(ctx, path, p.follow).await?;
    out.changed = apply_attrs(ctx, p, &target, changed, &mut diff).await?;
    diff.attach(ctx, &mut out);
    Ok(out)
}

/// `state: touch`: creates an empty file if missing and updates its times
/// (always "changed", as in Ansible).
pub(crate) async fn execute_touch(ctx: &ModuleCtx<'_>, p: &FileParams) -> SResult<Outcome> {
    let path = p.path.as_str();
    let prev_state = get_state(ctx, path).await?;
    let mut changed = false;
    if prev_state == "absent" {
        if ctx.check_mode {
            return Ok(Outcome::changed(true).with("dest", path));
        }
        ctx.conn
            .write_file(path, b"", &Default::default())
            .await
            .map_err(|e| {
                fail_with(
                    format!("Error, could not touch target: {}", e.msg),
                    &[("path", Value::from(path))],
                )
            })?;
        changed = true;
    }
    let mut diff = AttrDiff::initial(path, "touch", prev_state);
    let target = attr_path(ctx, path, p.follow).await?;
    let res = apply_attrs(ctx, p, &target, changed, &mut diff).await;
    let changed = match res {
        Ok(c) => c,
        Err(e) => {
            if prev_state == "absent" {
                let _ = ctx.conn.remove(path, false).await;
            }
            return Err(e);
        }
    };
    let mut out = Outcome::changed(changed).with("dest", path);
    diff.attach(ctx, &mut out);
    Ok(out)
}

/// Lists a tree as Python's `os.walk` would (directories, files), for the
/// `path_content` of an absent diff.
async fn walk_tree(ctx: &ModuleCtx<'_>, root: &str) -> SResult<(Vec<String>, Vec<String>)> {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let mut subdirs = Vec::new();
        for name in ctx.conn.list_dir(&dir).await? {
            let full = join(&dir, &name);
            let Some(l) = lstat(ctx, &full).await? else {
                continue;
            };
            let is_dir = match l.kind {
                FileKind::Directory => true,
                FileKind::Symlink => is_dir(ctx, &full).await?,
                _ => false,
            };
            if is_dir {
                dirs.push(full.clone());
                if l.kind == FileKind::Directory {
                    subdirs.push(full);
                }
            } else {
                files.push(full);
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok((dirs, files))
}

/// `state: absent`: removes a file, link or whole tree.
pub(crate) async fn ensure_absent(ctx: &ModuleCtx<'_>, path: &str) -> SResult<Outcome> {
    let prev_state = get_state(ctx, path).await?;
    if prev_state == "absent" {
        return Ok(Outcome::changed(false)
            .with("path", path)
            .with("state", "absent"));
    }
    let mut diff = AttrDiff::initial(path, "absent", prev_state);
    if prev_state == "directory" {
        let (dirs, files) = walk_tree(ctx, path).await?;
        diff.before.insert(
            "path_content".into(),
            vmap([
                (
                    "directories",
                    Value::from(dirs.into_iter().map(Value::from).collect::<Vec<_>>()),
                ),
                (
                    "files",
                    Value::from(files.into_iter().map(Value::from).collect::<Vec<_>>()),
                ),
            ]),
        );
    }
    if !ctx.check_mode {
        if prev_state == "directory" {
            ctx.conn
                .remove(path, true)
                .await
                .map_err(|e| fail(format!("rmtree failed: {}", e.msg)))?;
        } else {
            ctx.conn.remove(path, false).await.map_err(|e| {
                fail_with(
                    format!("unlinking failed: {} ", e.msg),
                    &[("path", Value::from(path))],
                )
            })?;
        }
    }
    let mut out = Outcome::changed(true).with("path", path);
    diff.attach(ctx, &mut out);
    out.set("state", "absent");
    Ok(out)
}

/// Ansible's `keep_backward_compatibility_on_timestamps`.
fn default_stamp(given: Option<String>, state: &str) -> Option<String> {
    match given {
        Some(g) => Some(g),
        None if state == "touch" => Some("now".into()),
        None if matches!(state, "file" | "hard" | "directory" | "link") => Some("preserve".into()),
        None => None,
    }
}

async fn run_file(args: &Args, ctx: &ModuleCtx<'_>) -> SResult<Outcome> {
    refuse_unsupported(args)?;
    let mut path = expand_user(ctx, &args.str_or("path", "")).await?;
    let src = args.str("src");
    let recurse = args.bool_or("recurse", false);
    let mut state = args.str("state");

    // A directory as path for a hard link: the link goes inside it.
    if !matches!(state.as_deref(), Some("link") | Some("absent"))
        && is_dir(ctx, &path).await?
        && let Some(s) = &src
    {
        let base = basename(s);
        if !base.is_empty() {
            path = join(&path, &base);
        }
    }
    let prev_state = get_state(ctx, &path).await?;
    let state: String = match state.take() {
        Some(s) => s,
        None if prev_state != "absent" => prev_state.to_owned(),
        None if recurse => "directory".to_owned(),
        None => "file".to_owned(),
    };
    if recurse && state != "directory" {
        return Err(fail_with(
            "recurse option requires state to be 'directory'",
            &[("path", Value::from(path.as_str()))],
        ));
    }
    if src.is_some() && state != "link" && state != "hard" {
        return Err(fail_with(
            "src option requires state to be 'link' or 'hard'",
            &[("path", Value::from(path.as_str()))],
        ));
    }

    let fa = FileArgs::from_args(args);
    let mut warnings = Vec::new();
    if ctx.check_mode && state != "absent" {
        check_owner_group_exist(ctx, &path, &fa, &mut warnings).await?;
    }

    let mut p = FileParams::new(&path, fa);
    p.src = src;
    p.follow = args.bool_or("follow", true);
    p.force = args.bool_or("force", false);
    p.recurse = recurse;
    let mformat = args.str_or("modification_time_format", DEFAULT_TIME_FORMAT);
    let aformat = args.str_or("access_time_format", DEFAULT_TIME_FORMAT);
    if let Some(m) = default_stamp(args.str("modification_time"), &state) {
        p.mtime = timestamp_for(ctx, &m, &mformat).await?;
    }
    if let Some(a) = default_stamp(args.str("access_time"), &state) {
        p.atime = timestamp_for(ctx, &a, &aformat).await?;
    }

    let mut out = match state.as_str() {
        "file" => ensure_file_attributes(ctx, &p).await?,
        "directory" => ensure_directory(ctx, &p).await?,
        "link" => ensure_symlink(ctx, &p).await?,
        "hard" => ensure_hardlink(ctx, &p).await?,
        "touch" => execute_touch(ctx, &p).await?,
        _ => ensure_absent(ctx, &path).await?,
    };
    if !warnings.is_empty() {
        let mut all: Vec<Value> = out
            .data
            .get("warnings")
            .and_then(|w| w.try_iter().ok())
            .map(|it| it.collect())
            .unwrap_or_default();
        all.extend(warnings.into_iter().map(Value::from));
        out.set("warnings", Value::from(all));
    }
    add_path_info(ctx, &mut out).await?;
    Ok(out)
}

#[async_trait]
impl Module for File {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        finish(run_file(args, ctx).await)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;

    use super::*;
    use crate::modules::testing::{TestEnv, run};

    fn mode_of(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// The mode a new directory gets under the test process's umask.
    fn default_dir_mode(base: &Path) -> u32 {
        let probe = base.join(".probe-dir");
        std::fs::create_dir(&probe).unwrap();
        let m = mode_of(&probe);
        std::fs::remove_dir(&probe).unwrap();
        m
    }

    fn s(out: &Outcome, key: &str) -> String {
        out.data.get(key).map(py_str).unwrap_or_default()
    }

    #[tokio::test]
    async fn directory_created_with_parents_then_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let want = default_dir_mode(tmp.path());
        let target = tmp.path().join("a/b/c");
        let args = format!("path: {}\nstate: directory\n", target.display());

        // Check mode: reported, nothing created.
        let out = run(&File, &args, &env, true, true).await.unwrap();
        assert!(out.changed);
        assert!(!tmp.path().join("a").exists());

        let out = run(&File, &args, &env, false, true).await.unwrap();
        assert!(out.changed, "{out:?}");
        assert!(target.is_dir());
        assert_eq!(mode_of(&target), want);
        assert_eq!(mode_of(&tmp.path().join("a")), want);
        assert_eq!(s(&out, "state"), "directory");
        assert_eq!(s(&out, "mode"), mode_str(want));
        assert_eq!(s(&out, "path"), target.display().to_string());
        let p = target.display().to_string();
        assert_eq!(
            out.diffs,
            vec![FileDiff {
                before_header: "before".into(),
                after_header: "after".into(),
                before: format!("{{\n    \"path\": \"{p}\",\n    \"state\": \"absent\"\n}}\n"),
                after: format!("{{\n    \"path\": \"{p}\",\n    \"state\": \"directory\"\n}}\n"),
            }]
        );

        let out = run(&File, &args, &env, false, true).await.unwrap();
        assert!(!out.changed);
        assert!(out.diffs.is_empty());
    }

    #[tokio::test]
    async fn directory_mode_applies_to_every_new_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        std::fs::create_dir(tmp.path().join("keep")).unwrap();
        let before = mode_of(&tmp.path().join("keep"));
        let target = tmp.path().join("keep/x/y");
        let args = format!(
            "path: {}\nstate: directory\nmode: '0700'\n",
            target.display()
        );
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.changed);
        assert_eq!(mode_of(&tmp.path().join("keep/x")), 0o700);
        assert_eq!(mode_of(&target), 0o700);
        assert_eq!(mode_of(&tmp.path().join("keep")), before);
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(!out.changed);

        // Symbolic modes work relative to the current bits.
        let args = format!("path: {}\nmode: g+rx\n", target.display());
        let out = run(&File, &args, &env, false, true).await.unwrap();
        assert!(out.changed);
        assert_eq!(mode_of(&target), 0o750);
        assert!(out.diffs[0].before.contains("\"mode\": \"0700\""));
        assert!(out.diffs[0].after.contains("\"mode\": \"0750\""));
    }

    #[tokio::test]
    async fn state_file_on_missing_path_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let target = tmp.path().join("nope");
        let out = run(
            &File,
            &format!("path: {}\nstate: file\n", target.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.failed);
        assert_eq!(
            out.msg.as_deref(),
            Some(format!("file ({}) is absent, cannot continue", target.display()).as_str())
        );
        // Without state the default for a missing path is file too.
        let out = run(
            &File,
            &format!("path: {}\nmode: '0644'\n", target.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.failed);
        assert!(!target.exists());
    }

    #[tokio::test]
    async fn file_mode_and_check_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let f = tmp.path().join("f");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let args = format!("path: {}\nmode: '0600'\n", f.display());
        let out = run(&File, &args, &env, true, false).await.unwrap();
        assert!(out.changed);
        assert_eq!(mode_of(&f), 0o644);
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.changed);
        assert_eq!(mode_of(&f), 0o600);
        assert_eq!(s(&out, "state"), "file");
        assert_eq!(s(&out, "mode"), "0600");
        assert_eq!(out.data.get("size").and_then(|v| v.as_i64()), Some(1));
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(!out.changed);
        // A file where a directory is wanted is an error.
        let out = run(
            &File,
            &format!("path: {}\nstate: directory\n", f.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.failed);
        assert_eq!(
            out.msg.unwrap(),
            format!("{} already exists as a file", f.display())
        );
    }

    #[tokio::test]
    async fn owner_and_group() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let f = tmp.path().join("f");
        std::fs::write(&f, "x").unwrap();
        let md = std::fs::metadata(&f).unwrap();
        let me =
            crate::connection::local::user_name(md.uid()).unwrap_or_else(|| md.uid().to_string());
        let args = format!(
            "path: {}\nowner: {me}\ngroup: '{}'\n",
            f.display(),
            md.gid()
        );
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(!out.changed, "{out:?}");
        assert_eq!(
            out.data.get("uid").and_then(|v| v.as_i64()),
            Some(md.uid() as i64)
        );

        let args = format!("path: {}\nowner: no_such_user_hoist\n", f.display());
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.failed);
        assert_eq!(
            out.msg.as_deref(),
            Some("chown failed: failed to look up user no_such_user_hoist")
        );
        // In check mode a missing owner is a warning for absent paths.
        let args = format!(
            "path: {}/newdir\nstate: directory\nowner: no_such_user_hoist\n",
            tmp.path().display()
        );
        let out = run(&File, &args, &env, true, false).await.unwrap();
        assert!(out.changed && !out.failed);
        assert!(s(&out, "warnings").contains("failed to look up user no_such_user_hoist"));
    }

    #[tokio::test]
    async fn touch_always_changes_and_creates() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let f = tmp.path().join("t");
        let args = format!("path: {}\nstate: touch\nmode: '0640'\n", f.display());
        let out = run(&File, &args, &env, true, false).await.unwrap();
        assert!(out.changed);
        assert!(!f.exists());
        let out = run(&File, &args, &env, false, true).await.unwrap();
        assert!(out.changed);
        assert_eq!(std::fs::read(&f).unwrap(), b"");
        assert_eq!(mode_of(&f), 0o640);
        assert_eq!(s(&out, "dest"), f.display().to_string());
        assert!(out.diffs[0].after.contains("\"state\": \"touch\""));
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.changed);

        // Explicit times: set once, then idempotent.
        let args = format!(
            "path: {}\nstate: touch\nmodification_time: '202001021530.45'\naccess_time: preserve\n",
            f.display()
        );
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.changed);
        let m = std::fs::metadata(&f).unwrap();
        let local = strptime("202001021530.45", DEFAULT_TIME_FORMAT).unwrap();
        assert_eq!(local.year, 2020);
        assert_eq!(m.mtime_nsec(), 0);
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(!out.changed);
        let args = format!("path: {}\nmodification_time: '2020-01-02'\n", f.display());
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.failed);
        assert_eq!(
            out.msg.as_deref(),
            Some(
                "Error while obtaining timestamp for time 2020-01-02 using format %Y%m%d%H%M.%S: time data '2020-01-02' does not match format '%Y%m%d%H%M.%S'"
            )
        );
    }

    #[tokio::test]
    async fn absent_removes_tree_with_diff() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let d = tmp.path().join("d");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/f"), "x").unwrap();
        std::fs::write(d.join("g"), "y").unwrap();
        let args = format!("path: {}\nstate: absent\n", d.display());
        let out = run(&File, &args, &env, true, true).await.unwrap();
        assert!(out.changed);
        assert!(d.exists());
        let ds = d.display();
        assert_eq!(
            out.diffs[0].before,
            format!(
                "{{\n    \"path\": \"{ds}\",\n    \"path_content\": {{\n        \"directories\": [\n            \"{ds}/sub\"\n        ],\n        \"files\": [\n            \"{ds}/g\",\n            \"{ds}/sub/f\"\n        ]\n    }},\n    \"state\": \"directory\"\n}}\n"
            )
        );
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.changed);
        assert!(!d.exists());
        assert_eq!(s(&out, "state"), "absent");
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(!out.changed);
    }

    #[tokio::test]
    async fn symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        std::fs::write(tmp.path().join("real"), "data").unwrap();
        let link = tmp.path().join("ln");
        let args = format!("path: {}\nsrc: real\nstate: link\n", link.display());
        let out = run(&File, &args, &env, true, false).await.unwrap();
        assert!(out.changed);
        assert!(std::fs::symlink_metadata(&link).is_err());
        let out = run(&File, &args, &env, false, true).await.unwrap();
        assert!(out.changed, "{out:?}");
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("real"));
        assert_eq!(s(&out, "state"), "link");
        assert_eq!(s(&out, "mode"), "0777");
        assert_eq!(s(&out, "src"), "real");
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(!out.changed);

        // Retargeting shows the old and new src.
        std::fs::write(tmp.path().join("other"), "o").unwrap();
        let args2 = format!("path: {}\nsrc: other\nstate: link\n", link.display());
        let out = run(&File, &args2, &env, false, true).await.unwrap();
        assert!(out.changed);
        assert!(out.diffs[0].before.contains("\"src\": \"real\""));
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("other"));

        // A missing src needs force.
        let dangling = tmp.path().join("dangling");
        let args = format!(
            "path: {}\nsrc: /nonexistent/x\nstate: link\n",
            dangling.display()
        );
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.failed);
        assert!(
            out.msg
                .unwrap()
                .starts_with("src file does not exist, use \"force=yes\"")
        );
        let out = run(&File, &format!("{args}force: true\n"), &env, false, false)
            .await
            .unwrap();
        assert!(out.changed && !out.failed);
        assert_eq!(
            std::fs::read_link(&dangling).unwrap(),
            Path::new("/nonexistent/x")
        );

        // A regular file is only replaced with force.
        let f = tmp.path().join("plain");
        std::fs::write(&f, "p").unwrap();
        let args = format!("path: {}\nsrc: real\nstate: link\n", f.display());
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.failed);
        assert_eq!(
            out.msg.unwrap(),
            format!(
                "refusing to convert from file to symlink for {}",
                f.display()
            )
        );
        let out = run(&File, &format!("{args}force: yes\n"), &env, false, false)
            .await
            .unwrap();
        assert!(out.changed);
        assert!(
            std::fs::symlink_metadata(&f)
                .unwrap()
                .file_type()
                .is_symlink()
        );

        // Attributes follow the link to its target.
        let args = format!("path: {}\nmode: '0600'\n", link.display());
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.changed);
        assert_eq!(mode_of(&tmp.path().join("other")), 0o600);
    }

    #[tokio::test]
    async fn hard_links() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let real = tmp.path().join("real");
        std::fs::write(&real, "data").unwrap();
        let link = tmp.path().join("hl");
        let args = format!(
            "path: {}\nsrc: {}\nstate: hard\n",
            link.display(),
            real.display()
        );
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.changed, "{out:?}");
        assert_eq!(
            std::fs::metadata(&link).unwrap().ino(),
            std::fs::metadata(&real).unwrap().ino()
        );
        assert_eq!(s(&out, "state"), "hard");
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(!out.changed);
        let args = format!(
            "path: {}\nsrc: {}/missing\nstate: hard\n",
            link.display(),
            tmp.path().display()
        );
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.failed);
        assert_eq!(out.msg.as_deref(), Some("src does not exist"));
    }

    #[tokio::test]
    async fn recurse_sets_the_whole_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let d = tmp.path().join("tree");
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::write(d.join("a/b/f"), "x").unwrap();
        let args = format!(
            "path: {}\nstate: directory\nrecurse: true\nmode: u=rwX,g=rX,o=\n",
            d.display()
        );
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(out.changed);
        assert_eq!(mode_of(&d), 0o750);
        assert_eq!(mode_of(&d.join("a/b")), 0o750);
        assert_eq!(mode_of(&d.join("a/b/f")), 0o640);
        let out = run(&File, &args, &env, false, false).await.unwrap();
        assert!(!out.changed);
        let out = run(
            &File,
            &format!("path: {}\nrecurse: true\nstate: file\n", d.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.failed);
        assert_eq!(
            out.msg.as_deref(),
            Some("recurse option requires state to be 'directory'")
        );
    }

    #[test]
    fn strptime_like_python() {
        let t = strptime("202401021530.07", DEFAULT_TIME_FORMAT).unwrap();
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2024, 1, 2, 15, 30, 7)
        );
        let t = strptime("3 Feb 99 1:05 pm", "%d %b %y %I:%M %p").unwrap();
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute),
            (1999, 2, 3, 13, 5)
        );
        assert_eq!(
            strptime("2024010215300", "%Y%m%d%H%M").unwrap_err(),
            "unconverted data remains: 0"
        );
        assert!(strptime("20240230", "%Y%m%d").is_err());
        assert_eq!(
            strptime("x", "%Q").unwrap_err(),
            "'Q' is a bad directive in format '%Q'"
        );
    }

    #[test]
    fn json_like_python() {
        let v = vmap([
            ("b", Value::from(vec![Value::from(1), Value::from(1.5)])),
            ("a", Value::from("é\"")),
            ("c", vmap(Vec::<(&str, Value)>::new())),
        ]);
        assert_eq!(
            py_json(&v, None, false),
            r#"{"b": [1, 1.5], "a": "\u00e9\"", "c": {}}"#
        );
        assert_eq!(
            py_json(&v, Some(4), true),
            "{\n    \"a\": \"\\u00e9\\\"\",\n    \"b\": [\n        1,\n        1.5\n    ],\n    \"c\": {}\n}"
        );
        assert_eq!(py_json(&Value::from(3.0), None, false), "3.0");
    }

    #[test]
    fn path_helpers() {
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("/a"), "/");
        assert_eq!(dirname("a"), "");
        assert_eq!(basename("/a/b/"), "");
        assert_eq!(join("/a/", "b"), "/a/b");
        assert_eq!(join("/a", "/b"), "/b");
    }
}
