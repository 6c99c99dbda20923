//! `lineinfile`: make sure a particular line is in a file (or is not),
//! following Ansible's algorithm byte for byte.
//!
//! Also home to the text-file helpers `blockinfile` shares: Python regular
//! expressions ([`PyRegex`]), `match.expand` ([`py_expand`]), backups,
//! `validate`, and owner/group/mode handling ([`check_file_attrs`]).

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use minijinja::Value;

use super::command::{exec_error, expand_path, expand_user_and_vars, py_shlex_split};
pub(crate) use super::copy::backup_local;
use super::{
    Args, DiffSupport, FileDiff, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult,
    ModuleSpec, Outcome, Param, ParamType,
};
use crate::connection::{Connection, ExecRequest, FileAttrs, FileKind};
use crate::pyre::{PyRegex, py_expand};

pub struct LineInFile;

static SPEC: ModuleSpec = ModuleSpec {
    name: "lineinfile",
    params: &[
        Param::new("path", ParamType::Path)
            .required()
            .aliases(&["dest", "destfile", "name"]),
        Param::new("state", ParamType::Str).choices(&["absent", "present"]),
        Param::new("regexp", ParamType::Str).aliases(&["regex"]),
        Param::new("search_string", ParamType::Str),
        Param::new("line", ParamType::Str).aliases(&["value"]),
        Param::new("insertafter", ParamType::Str),
        Param::new("insertbefore", ParamType::Str),
        Param::new("backrefs", ParamType::Bool),
        Param::new("create", ParamType::Bool),
        Param::new("backup", ParamType::Bool),
        Param::new("firstmatch", ParamType::Bool),
        Param::new("validate", ParamType::Str),
        // The file module's common arguments.
        Param::new("mode", ParamType::Mode),
        Param::new("owner", ParamType::Str),
        Param::new("group", ParamType::Str),
        Param::new("seuser", ParamType::Str),
        Param::new("serole", ParamType::Str),
        Param::new("setype", ParamType::Str),
        Param::new("selevel", ParamType::Str),
        Param::new("unsafe_writes", ParamType::Bool),
        Param::new("attributes", ParamType::Str).aliases(&["attr"]),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[
        &["insertbefore", "insertafter"],
        &["regexp", "search_string"],
        &["backrefs", "search_string"],
    ],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Make sure a line is in a file, or is not.",
    check_note: "",
    diff: DiffSupport::Yes,
    notes: &[super::file::NOTE_ATTRS_IGNORED],
};

#[async_trait]
impl Module for LineInFile {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let path = expand_path(ctx.conn, &args.str_or("path", "")).await?;
        let regexp = args.str("regexp");
        let search_string = args.str("search_string");
        let line = args.str("line");

        let mut warnings = Vec::new();
        if regexp.as_deref() == Some("") || search_string.as_deref() == Some("") {
            let what = if regexp.as_deref() == Some("") {
                "regular expression"
            } else {
                "search string"
            };
            let mut w = format!(
                "The {what} is an empty string, which will match every line in the file. This may have unintended consequences, such as replacing the last line in the file rather than appending."
            );
            if regexp.as_deref() == Some("") {
                w.push_str(" If this is desired, use '^' to match every line in the file and avoid this warning.");
            }
            warnings.push(w);
        }

        // Stats and content in one round trip (remembered for the task).
        let (_, st, _) = ctx.conn.stat_both_content(&path).await?;
        if st.as_ref().is_some_and(|s| s.kind == FileKind::Directory) {
            return Ok(Outcome::failure(format!("Path {path} is a directory !")).with("rc", 256));
        }

        let mut out = if args.str_or("state", "present") == "present" {
            if args.bool_or("backrefs", false) && regexp.is_none() {
                return Err(ModuleError::Failed(
                    "regexp is required with backrefs=true".into(),
                ));
            }
            let Some(line) = line else {
                return Err(ModuleError::Failed(
                    "line is required with state=present".into(),
                ));
            };
            let mut insertafter = args.str("insertafter");
            let insertbefore = args.str("insertbefore");
            if insertafter.is_none() && insertbefore.is_none() {
                insertafter = Some("EOF".into());
            }
            let opts = Present {
                path: &path,
                exists: st.is_some(),
                regexp: regexp.as_deref(),
                search_string: search_string.as_deref(),
                line: &line,
                insertafter: insertafter.as_deref(),
                insertbefore: insertbefore.as_deref(),
                create: args.bool_or("create", false),
                backup: args.bool_or("backup", false),
                backrefs: args.bool_or("backrefs", false),
                firstmatch: args.bool_or("firstmatch", false),
            };
            present(&opts, args, ctx).await?
        } else {
            if regexp.is_none() && search_string.is_none() && line.is_none() {
                return Err(ModuleError::Failed(
                    "one of line, search_string, or regexp is required with state=absent".into(),
                ));
            }
            absent(
                &path,
                st.is_some(),
                regexp.as_deref(),
                search_string.as_deref(),
                line.as_deref(),
                args,
                ctx,
            )
            .await?
        };
        if !warnings.is_empty() {
            out.set("warnings", Value::from(warnings));
        }
        Ok(out)
    }
}

struct Present<'a> {
    path: &'a str,
    exists: bool,
    regexp: Option<&'a str>,
    search_string: Option<&'a str>,
    line: &'a str,
    insertafter: Option<&'a str>,
    insertbefore: Option<&'a str>,
    create: bool,
    backup: bool,
    backrefs: bool,
    firstmatch: bool,
}

fn rstrip_crlf(l: &[u8]) -> &[u8] {
    let mut end = l.len();
    while end > 0 && (l[end - 1] == b'\n' || l[end - 1] == b'\r') {
        end -= 1;
    }
    &l[..end]
}

fn ends_with_eol(lines: &[Vec<u8>]) -> bool {
    lines
        .last()
        .is_none_or(|l| matches!(l.last(), Some(b'\n') | Some(b'\r')))
}

fn with_nl(line: &[u8]) -> Vec<u8> {
    let mut v = line.to_vec();
    v.push(b'\n');
    v
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

async fn present(o: &Present<'_>, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
    let conn = ctx.conn;
    let path = o.path;
    let mut lines = if o.exists {
        readlines(&conn.read_file(path).await?.unwrap_or_default())
    } else {
        if !o.create {
            return Ok(
                Outcome::failure(format!("Destination {path} does not exist !")).with("rc", 257),
            );
        }
        if !ctx.check_mode {
            let dir = py_dirname(path);
            makedirs(conn, &dir).await.map_err(|e| {
                ModuleError::Failed(format!("Error creating {dir} ({})", err_text(&e)))
            })?;
        }
        Vec::new()
    };
    let before = ctx.diff.then(|| lossy(&lines.concat()));

    let bre_m = o
        .regexp
        .map(PyRegex::new)
        .transpose()
        .map_err(ModuleError::Failed)?;
    let bre_ins = match (o.insertafter, o.insertbefore) {
        (Some(a), _) if a != "BOF" && a != "EOF" => {
            Some(PyRegex::new(a).map_err(ModuleError::Failed)?)
        }
        (_, Some(b)) if b != "BOF" => Some(PyRegex::new(b).map_err(ModuleError::Failed)?),
        _ => None,
    };
    let line = o.line.as_bytes();
    let insertafter = o.insertafter.filter(|s| !s.is_empty());
    let insertbefore = o.insertbefore.filter(|s| !s.is_empty());

    // index0: the line the regexp/search string (or the exact line) is on;
    // index1: where insertafter/insertbefore says to insert.
    let mut index0: Option<usize> = None;
    let mut index1: Option<usize> = None;
    let mut matched = false;
    if let Some(re) = &bre_m {
        for (n, l) in lines.iter().enumerate() {
            if re.is_match(l) {
                index0 = Some(n);
                matched = true;
                if o.firstmatch {
                    break;
                }
            }
        }
    }
    if let Some(s) = o.search_string {
        for (n, l) in lines.iter().enumerate() {
            if contains(l, s.as_bytes()) {
                index0 = Some(n);
                matched = true;
                if o.firstmatch {
                    break;
                }
            }
        }
    }
    if !matched {
        for (n, l) in lines.iter().enumerate() {
            if line == rstrip_crlf(l) {
                index0 = Some(n);
            } else if let Some(ins) = &bre_ins
                && ins.is_match(l)
            {
                if insertafter.is_some() {
                    index1 = Some(n + 1);
                    if o.firstmatch {
                        break;
                    }
                }
                if insertbefore.is_some() {
                    index1 = Some(n);
                    if o.firstmatch {
                        break;
                    }
                }
            }
        }
    }

    let mut msg = String::new();
    let mut changed = false;
    let added = |msg: &mut String, changed: &mut bool| {
        *msg = "line added".into();
        *changed = true;
    };
    if let Some(i0) = index0 {
        let mut new_line = match (&bre_m, o.backrefs && o.regexp.is_some() && matched) {
            (Some(re), true) => py_expand(re, &lines[i0], line).map_err(ModuleError::Failed)?,
            _ => line.to_vec(),
        };
        if !new_line.ends_with(b"\n") {
            new_line.push(b'\n');
        }
        if lines[i0] != new_line {
            lines[i0] = new_line;
            msg = "line replaced".into();
            changed = true;
        }
    } else if o.backrefs {
        // Without a match there is nothing to fill the backreferences with.
    } else if o.insertbefore == Some("BOF") || o.insertafter == Some("BOF") {
        lines.insert(0, with_nl(line));
        added(&mut msg, &mut changed);
    } else if o.insertafter == Some("EOF") || index1.is_none() {
        if !ends_with_eol(&lines) {
            lines.push(b"\n".to_vec());
        }
        lines.push(with_nl(line));
        added(&mut msg, &mut changed);
    } else if let (Some(_), Some(i1)) = (insertafter, index1) {
        if lines.len() == i1 {
            if i1 == 0 || rstrip_crlf(&lines[i1 - 1]) != line {
                lines.push(with_nl(line));
                added(&mut msg, &mut changed);
            }
        } else if line != rstrip_crlf(&lines[i1]) {
            lines.insert(i1, with_nl(line));
            added(&mut msg, &mut changed);
        }
    } else if let Some(i1) = index1 {
        lines.insert(i1.min(lines.len()), with_nl(line));
        added(&mut msg, &mut changed);
    }

    let after = lines.concat();
    let mut out = Outcome::changed(changed);
    if let Some(before) = before {
        let after = lossy(&after);
        if before != after {
            out.diffs.push(content_diff(path, before, after));
        }
    }
    let mut backup_dest = String::new();
    if changed && !ctx.check_mode {
        if o.backup && conn.stat(path, true).await?.is_some() {
            backup_dest = backup_local(conn, path).await?;
        }
        let real = resolve_links(conn, path).await?;
        write_changes(ctx, args.str("validate").as_deref(), &real, &after).await?;
    }
    out.set("backup", backup_dest);
    if ctx.check_mode && !o.exists {
        out.msg = Some(msg);
        return Ok(out);
    }
    check_file_attrs(ctx, args, path, &mut changed, &mut msg, &mut out.diffs).await?;
    out.changed = changed;
    out.msg = Some(msg);
    Ok(out)
}

async fn absent(
    path: &str,
    exists: bool,
    regexp: Option<&str>,
    search_string: Option<&str>,
    line: Option<&str>,
    args: &Args,
    ctx: &ModuleCtx<'_>,
) -> ModuleResult {
    let conn = ctx.conn;
    if !exists {
        let mut out = Outcome::changed(false);
        out.msg = Some("file not present".into());
        return Ok(out);
    }
    let lines = readlines(&conn.read_file(path).await?.unwrap_or_default());
    let before = ctx.diff.then(|| lossy(&lines.concat()));
    let re = regexp
        .map(PyRegex::new)
        .transpose()
        .map_err(ModuleError::Failed)?;
    let line = line.unwrap_or("").as_bytes();
    let (found, kept): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
        lines.into_iter().partition(|l| match (&re, search_string) {
            (Some(re), _) => re.is_match(l),
            (None, Some(s)) => contains(l, s.as_bytes()),
            (None, None) => line == rstrip_crlf(l),
        });
    let mut changed = !found.is_empty();
    let after = kept.concat();
    let mut out = Outcome::changed(changed);
    if let Some(before) = before {
        let after = lossy(&after);
        if before != after {
            out.diffs.push(content_diff(path, before, after));
        }
    }
    let mut backup_dest = String::new();
    if changed && !ctx.check_mode {
        if args.bool_or("backup", false) {
            backup_dest = backup_local(conn, path).await?;
        }
        let real = resolve_links(conn, path).await?;
        write_changes(ctx, args.str("validate").as_deref(), &real, &after).await?;
    }
    let mut msg = if changed {
        format!("{} line(s) removed", found.len())
    } else {
        String::new()
    };
    check_file_attrs(ctx, args, path, &mut changed, &mut msg, &mut out.diffs).await?;
    out.changed = changed;
    out.msg = Some(msg);
    out.set("found", found.len());
    out.set("backup", backup_dest);
    Ok(out)
}

// ---------------------------------------------------------------------------
// Shared text-file helpers (also used by blockinfile)

pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn err_text(e: &ModuleError) -> String {
    match e {
        ModuleError::Failed(m) | ModuleError::Unreachable(m) => m.clone(),
    }
}

/// Python's `file.readlines()` on bytes: split after every `\n`.
pub(crate) fn readlines(data: &[u8]) -> Vec<Vec<u8>> {
    data.split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// Python's `bytes.splitlines(keepends=True)`: split after `\n`, `\r\n` or `\r`.
pub(crate) fn splitlines_keepends(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\n' => {
                out.push(data[start..=i].to_vec());
                start = i + 1;
            }
            b'\r' => {
                if data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                out.push(data[start..=i].to_vec());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < data.len() {
        out.push(data[start..].to_vec());
    }
    out
}

/// `os.path.dirname`.
pub(crate) fn py_dirname(p: &str) -> String {
    let i = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let head = &p[..i];
    if !head.is_empty() && !head.chars().all(|c| c == '/') {
        head.trim_end_matches('/').to_owned()
    } else {
        head.to_owned()
    }
}

/// The `{path} (content)` diff Ansible's file-editing modules return.
pub(crate) fn content_diff(path: &str, before: String, after: String) -> FileDiff {
    FileDiff {
        before_header: format!("{path} (content)"),
        after_header: format!("{path} (content)"),
        before,
        after,
    }
}

/// Follows symlinks at the end of `path` (as `os.path.realpath` does for
/// the final component) so writes replace the real file, not the link.
pub(crate) async fn resolve_links(
    conn: &dyn Connection,
    path: &str,
) -> Result<String, ModuleError> {
    let mut cur = path.to_owned();
    for _ in 0..40 {
        match conn.stat(&cur, false).await? {
            Some(st) if st.kind == FileKind::Symlink => {
                let target = st.link_target.unwrap_or_default();
                cur = if target.starts_with('/') {
                    target
                } else {
                    let dir = py_dirname(&cur);
                    if dir.is_empty() {
                        target
                    } else {
                        format!("{}/{target}", dir.trim_end_matches('/'))
                    }
                };
            }
            _ => return Ok(cur),
        }
    }
    Ok(cur)
}

/// `os.makedirs(dir)` for a directory that may not exist.
pub(crate) async fn makedirs(conn: &dyn Connection, dir: &str) -> Result<(), ModuleError> {
    let mut missing = Vec::new();
    let mut cur = dir.to_owned();
    while !cur.is_empty() && !cur.chars().all(|c| c == '/') {
        if conn.stat(&cur, true).await?.is_some() {
            break;
        }
        missing.push(cur.clone());
        cur = py_dirname(&cur);
    }
    for d in missing.into_iter().rev() {
        if let Err(e) = conn.mkdir(&d, 0o755).await {
            // Someone else may have made it meanwhile.
            if conn.stat(&d, true).await?.is_none() {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

fn validate_temp_name(dest: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = py_dirname(dest);
    let base = &dest[dest.rfind('/').map(|i| i + 1).unwrap_or(0)..];
    let name = format!(".{base}.hoist-validate-{}-{n}.tmp", std::process::id());
    if dir.is_empty() {
        name
    } else {
        format!("{}/{name}", dir.trim_end_matches('/'))
    }
}

/// Writes `data` to `dest` atomically, after running `validate` (with `%s`
/// standing for a temporary copy) when given; a failed validation leaves
/// `dest` untouched.
pub(crate) async fn write_changes(
    ctx: &ModuleCtx<'_>,
    validate: Option<&str>,
    dest: &str,
    data: &[u8],
) -> Result<(), ModuleError> {
    let conn = ctx.conn;
    // Predicting (check mode): validation is a command, so it is not run.
    let validate = validate.filter(|_| !ctx.predict);
    if let Some(validate) = validate {
        if !validate.contains("%s") {
            return Err(ModuleError::Failed(format!(
                "validate must contain %s: {validate}"
            )));
        }
        let tmp = validate_temp_name(dest);
        let attrs = FileAttrs {
            mode: Some(0o600),
            ..FileAttrs::default()
        };
        conn.write_file(&tmp, data, &attrs).await?;
        let result = async {
            // Split and expand first, then put the temporary file's name in:
            // it is the destination's name, which may hold quotes or `$`.
            let argv = py_shlex_split(validate).map_err(ModuleError::Failed)?;
            let argv: Vec<String> = expand_user_and_vars(conn, argv)
                .await?
                .iter()
                .map(|w| {
                    w.replace("%s", "\u{0}")
                        .replace("%%", "%")
                        .replace('\u{0}', &tmp)
                })
                .collect();
            if argv.is_empty() {
                return Err(ModuleError::Failed(format!(
                    "failed to validate: no command in '{validate}'"
                )));
            }
            match conn.exec(&ExecRequest::argv(argv.clone())).await {
                Ok(o) if o.rc == 0 => Ok(()),
                Ok(o) => Err(ModuleError::Failed(format!(
                    "failed to validate: rc:{} error:{}",
                    o.rc,
                    lossy(&o.stderr)
                ))),
                Err(e) => {
                    let (_, msg) = exec_error(&e, &argv)?;
                    Err(ModuleError::Failed(msg))
                }
            }
        }
        .await;
        let _ = conn.remove(&tmp, false).await;
        result?;
    }
    conn.write_file(dest, data, &FileAttrs::default()).await?;
    Ok(())
}

/// JSON as Ansible's callback prints a dict diff (sorted keys, indent 4).
fn json_diff(pairs: &[(&str, serde_json::Value)]) -> String {
    let mut sorted: Vec<&(&str, serde_json::Value)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut map = serde_json::Map::new();
    for (k, v) in sorted {
        map.insert((*k).to_owned(), v.clone());
    }
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if serde::Serialize::serialize(&serde_json::Value::Object(map), &mut ser).is_err() {
        return String::new();
    }
    let mut s = String::from_utf8_lossy(&buf).into_owned();
    s.push('\n');
    s
}

/// Ansible's `check_file_attrs`: applies `owner`, `group` and `mode` (only
/// reporting them in check mode), and appends "ownership, perms or SE linux
/// context changed" to the message when any differed.
pub(crate) async fn check_file_attrs(
    ctx: &ModuleCtx<'_>,
    args: &Args,
    path: &str,
    changed: &mut bool,
    msg: &mut String,
    diffs: &mut Vec<FileDiff>,
) -> Result<(), ModuleError> {
    let conn = ctx.conn;
    let owner = args.str("owner").filter(|s| !s.is_empty());
    let group = args.str("group").filter(|s| !s.is_empty());
    let mode = args.get("mode").cloned();
    if owner.is_none() && group.is_none() && mode.is_none() {
        return Ok(());
    }
    let Some(st) = conn.stat(path, true).await? else {
        return Ok(());
    };
    let mut before: Vec<(&str, serde_json::Value)> = Vec::new();
    let mut after: Vec<(&str, serde_json::Value)> = Vec::new();
    // A name the stat already gives is that owner or group: no lookup.
    if let Some(o) = owner.as_ref().filter(|o| st.owner.as_ref() != Some(*o)) {
        let uid = conn.lookup_user(o).await?.ok_or_else(|| {
            ModuleError::Failed(format!("chown failed: failed to look up user {o}"))
        })?;
        if uid != st.uid {
            before.push(("owner", st.uid.into()));
            after.push(("owner", uid.into()));
            if !ctx.check_mode {
                conn.chown(path, Some(o), None, true)
                    .await
                    .map_err(|e| ModuleError::Failed(format!("chown failed: {e}")))?;
            }
        }
    }
    if let Some(g) = group.as_ref().filter(|g| st.group.as_ref() != Some(*g)) {
        let gid = conn.lookup_group(g).await?.ok_or_else(|| {
            ModuleError::Failed(format!("chgrp failed: failed to look up group {g}"))
        })?;
        if gid != st.gid {
            before.push(("group", st.gid.into()));
            after.push(("group", gid.into()));
            if !ctx.check_mode {
                conn.chown(path, None, Some(g), true)
                    .await
                    .map_err(|e| ModuleError::Failed(format!("chgrp failed: {e}")))?;
            }
        }
    }
    if let Some(m) = &mode {
        let want = super::args::parse_mode(m, st.mode, st.kind == FileKind::Directory)
            .map_err(ModuleError::Failed)?;
        if want != st.mode {
            before.push(("mode", format!("0{:03o}", st.mode).into()));
            after.push(("mode", format!("0{want:03o}").into()));
            if !ctx.check_mode {
                conn.chmod(path, want).await?;
            }
        }
    }
    if !before.is_empty() {
        if *changed {
            msg.push_str(" and ");
        }
        *changed = true;
        msg.push_str("ownership, perms or SE linux context changed");
        if ctx.diff {
            diffs.push(FileDiff {
                before_header: format!("{path} (file attributes)"),
                after_header: format!("{path} (file attributes)"),
                before: json_diff(&before),
                after: json_diff(&after),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;
    use crate::modules::testing::{TestEnv, run};

    async fn lif(dir: &Path, yaml: &str, check: bool, diff: bool) -> Outcome {
        let e = TestEnv::new(dir, &[]);
        run(&LineInFile, yaml, &e, check, diff).await.unwrap()
    }

    fn setup(content: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.txt");
        std::fs::write(&f, content).unwrap();
        (dir, f)
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn regex_translation() {
        let r = PyRegex::new("^foo$").unwrap();
        assert!(r.is_match(b"foo\n"));
        assert!(r.is_match(b"foo"));
        assert!(!r.is_match(b"foo\r\n"));
        assert!(!r.is_match(b"foox\n"));
        let r = PyRegex::new(r"^server \{").unwrap();
        assert!(r.is_match(b"server {\n"));
        let r = PyRegex::new(r"^server {$").unwrap();
        assert!(r.is_match(b"server {\n"));
        let r = PyRegex::new(r"a{,2}b{2}c{1,}").unwrap();
        assert!(r.is_match(b"bbc"));
        let r = PyRegex::new(r"[[]x[]]").unwrap();
        assert!(r.is_match(b"[x]"));
        let r = PyRegex::new(r"\<tag\>").unwrap();
        assert!(r.is_match(b"<tag>"));
        let r = PyRegex::new(r"end\Z").unwrap();
        assert!(r.is_match(b"the end"));
        assert!(!r.is_match(b"the end\n"));
        let r = PyRegex::new(r"(?P<k>\w+)=(?#comment)(\d+)").unwrap();
        assert!(r.is_match(b"port=22"));
        assert!(PyRegex::new("(?m)^x").unwrap().multiline);
        assert!(!PyRegex::new("^x").unwrap().multiline);
        assert!(PyRegex::new(r"(a)\1").is_err());
        assert!(PyRegex::new(r"(?<=a)b").is_err());
        assert!(PyRegex::new(r"[abc").is_err());
        assert!(
            PyRegex::new("café")
                .unwrap()
                .is_match("un café\n".as_bytes())
        );
        assert!(PyRegex::new(r"caf\é").unwrap().is_match("café".as_bytes()));
        assert!(PyRegex::new("(?ai)^ABC").unwrap().is_match(b"abc"));
        assert!(PyRegex::new("(?a)x").unwrap().is_match(b"x"));
    }

    #[test]
    fn expand_like_python() {
        let r = PyRegex::new(r"^(?P<key>\w+)\s*=\s*(\d+)?(x)?").unwrap();
        let e = |t: &str| {
            py_expand(&r, b"port = 22\n", t.as_bytes()).map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(e(r"\1: \2").unwrap(), "port: 22");
        assert_eq!(e(r"\g<key>=\g<2>\3").unwrap(), "port=22");
        assert_eq!(e(r"a\tb\\c\.").unwrap(), "a\tb\\c\\.");
        assert_eq!(e(r"\101").unwrap(), "A");
        assert!(e(r"\9").is_err());
        assert!(e(r"\q").is_err());
        assert!(e(r"\g<nope>").is_err());
    }

    #[test]
    fn line_splitting() {
        assert_eq!(
            readlines(b"a\nb\r\nc"),
            vec![b"a\n".to_vec(), b"b\r\n".to_vec(), b"c".to_vec()]
        );
        assert_eq!(
            splitlines_keepends(b"a\rb\r\nc\n"),
            vec![b"a\r".to_vec(), b"b\r\n".to_vec(), b"c\n".to_vec()]
        );
        assert_eq!(py_dirname("/a/b"), "/a");
        assert_eq!(py_dirname("/a"), "/");
        assert_eq!(py_dirname("a"), "");
        assert_eq!(
            json_diff(&[("owner", 0.into()), ("mode", "0644".into())]),
            "{\n    \"mode\": \"0644\",\n    \"owner\": 0\n}\n"
        );
    }

    #[tokio::test]
    async fn appends_at_eof_and_is_idempotent() {
        let (dir, f) = setup("a\nb");
        let y = format!("path: {}\nline: c", f.display());
        let out = lif(dir.path(), &y, false, false).await;
        assert!(out.changed && !out.failed, "{out:?}");
        assert_eq!(out.msg.as_deref(), Some("line added"));
        assert_eq!(read(&f), "a\nb\nc\n");
        assert_eq!(out.data.get("backup").unwrap().as_str(), Some(""));
        let out = lif(dir.path(), &y, false, false).await;
        assert!(!out.changed);
        assert_eq!(out.msg.as_deref(), Some(""));
        assert_eq!(read(&f), "a\nb\nc\n");
    }

    #[tokio::test]
    async fn replaces_last_match_or_first_with_firstmatch() {
        let (dir, f) = setup("port=1\nx\nport=2\n");
        let y = format!("path: {}\nregexp: '^port='\nline: port=22", f.display());
        let out = lif(dir.path(), &y, false, false).await;
        assert_eq!(out.msg.as_deref(), Some("line replaced"));
        assert_eq!(read(&f), "port=1\nx\nport=22\n");
        assert!(!lif(dir.path(), &y, false, false).await.changed);

        std::fs::write(&f, "port=1\nx\nport=2\n").unwrap();
        let out = lif(dir.path(), &format!("{y}\nfirstmatch: true"), false, false).await;
        assert!(out.changed);
        assert_eq!(read(&f), "port=22\nx\nport=2\n");
    }

    #[tokio::test]
    async fn search_string_and_exact_line() {
        let (dir, f) = setup("# Listen 80\nListen 8080\n");
        let y = format!(
            "path: {}\nsearch_string: 'Listen 8080'\nline: Listen 9090",
            f.display()
        );
        let out = lif(dir.path(), &y, false, false).await;
        assert_eq!(out.msg.as_deref(), Some("line replaced"));
        assert_eq!(read(&f), "# Listen 80\nListen 9090\n");
        // As in Ansible, an exact line lacking its newline is rewritten with one.
        std::fs::write(&f, "a\nb").unwrap();
        let out = lif(
            dir.path(),
            &format!("path: {}\nline: b", f.display()),
            false,
            false,
        )
        .await;
        assert!(out.changed);
        assert_eq!(out.msg.as_deref(), Some("line replaced"));
        assert_eq!(read(&f), "a\nb\n");
        let out = lif(
            dir.path(),
            &format!("path: {}\nregexp: '^b'\nline: b", f.display()),
            false,
            false,
        )
        .await;
        assert!(!out.changed);
    }

    #[tokio::test]
    async fn insertafter_and_insertbefore() {
        let (dir, f) = setup("[main]\nx=1\n[other]\ny=2\n");
        let p = f.display();
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: new=1\ninsertafter: '^\\[main\\]'"),
            false,
            false,
        )
        .await;
        assert_eq!(out.msg.as_deref(), Some("line added"));
        assert_eq!(read(&f), "[main]\nnew=1\nx=1\n[other]\ny=2\n");
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: new=1\ninsertafter: '^\\[main\\]'"),
            false,
            false,
        )
        .await;
        assert!(!out.changed);
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: pre=0\ninsertbefore: '^\\['"),
            false,
            false,
        )
        .await;
        assert!(out.changed);
        // Last match wins without firstmatch.
        assert_eq!(read(&f), "[main]\nnew=1\nx=1\npre=0\n[other]\ny=2\n");
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: top\ninsertbefore: '^\\['\nfirstmatch: yes"),
            false,
            false,
        )
        .await;
        assert!(out.changed);
        assert_eq!(read(&f), "top\n[main]\nnew=1\nx=1\npre=0\n[other]\ny=2\n");
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: first\ninsertbefore: BOF"),
            false,
            false,
        )
        .await;
        assert!(out.changed);
        assert!(read(&f).starts_with("first\ntop\n"));
        // A regexp that matches nothing appends at the end.
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: last\ninsertafter: '^nomatch'"),
            false,
            false,
        )
        .await;
        assert!(out.changed);
        assert!(read(&f).ends_with("y=2\nlast\n"));
        // insertafter matching the last line of a file without a final
        // newline: Ansible appends to that line (a quirk kept for identical files).
        std::fs::write(&f, "a\nb").unwrap();
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: c\ninsertafter: '^b'"),
            false,
            false,
        )
        .await;
        assert!(out.changed);
        assert_eq!(read(&f), "a\nbc\n");
    }

    #[tokio::test]
    async fn regexp_with_insertafter_when_regexp_misses() {
        let (dir, f) = setup("a\nanchor\nz\n");
        let y = format!(
            "path: {}\nregexp: '^opt='\nline: opt=1\ninsertafter: '^anchor'",
            f.display()
        );
        let out = lif(dir.path(), &y, false, false).await;
        assert_eq!(out.msg.as_deref(), Some("line added"));
        assert_eq!(read(&f), "a\nanchor\nopt=1\nz\n");
        let out = lif(dir.path(), &y.replace("opt=1\n", "opt=2\n"), false, false).await;
        assert_eq!(out.msg.as_deref(), Some("line replaced"));
        assert_eq!(read(&f), "a\nanchor\nopt=2\nz\n");
    }

    #[tokio::test]
    async fn backrefs() {
        let (dir, f) = setup("PermitRootLogin yes # x\n");
        let p = f.display();
        let y = format!(
            "path: {p}\nregexp: '^(PermitRootLogin) (\\w+)(.*)$'\nline: '\\1 no\\3'\nbackrefs: yes"
        );
        let out = lif(dir.path(), &y, false, false).await;
        assert_eq!(out.msg.as_deref(), Some("line replaced"));
        assert_eq!(read(&f), "PermitRootLogin no # x\n");
        // No match: nothing changes, nothing is added.
        let y = format!("path: {p}\nregexp: '^Nope (.*)'\nline: '\\1'\nbackrefs: yes");
        let out = lif(dir.path(), &y, false, false).await;
        assert!(!out.changed);
        assert_eq!(read(&f), "PermitRootLogin no # x\n");
        let y = format!("path: {p}\nline: x\nbackrefs: yes");
        let e = TestEnv::new(dir.path(), &[]);
        let err = run(&LineInFile, &y, &e, false, false).await.unwrap_err();
        assert!(
            matches!(err, ModuleError::Failed(m) if m == "regexp is required with backrefs=true")
        );
    }

    #[tokio::test]
    async fn absent_removes_all_matches() {
        let (dir, f) = setup("keep\n#drop1\nkeep2\n#drop2");
        let p = f.display();
        let out = lif(
            dir.path(),
            &format!("path: {p}\nregexp: '^#'\nstate: absent"),
            false,
            false,
        )
        .await;
        assert!(out.changed);
        assert_eq!(out.msg.as_deref(), Some("2 line(s) removed"));
        assert_eq!(out.data.get("found").unwrap(), &Value::from(2));
        assert_eq!(read(&f), "keep\nkeep2\n");
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: keep2\nstate: absent"),
            false,
            false,
        )
        .await;
        assert_eq!(out.msg.as_deref(), Some("1 line(s) removed"));
        assert_eq!(read(&f), "keep\n");
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: keep2\nstate: absent"),
            false,
            false,
        )
        .await;
        assert!(!out.changed);
        assert_eq!(out.msg.as_deref(), Some(""));
        let out = lif(
            dir.path(),
            &format!("path: {p}.nope\nline: x\nstate: absent"),
            false,
            false,
        )
        .await;
        assert!(!out.changed);
        assert_eq!(out.msg.as_deref(), Some("file not present"));
    }

    #[tokio::test]
    async fn missing_file_and_create() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sub/dir/new.conf");
        let p = f.display();
        let out = lif(dir.path(), &format!("path: {p}\nline: x"), false, false).await;
        assert!(out.failed);
        assert_eq!(
            out.msg.as_deref(),
            Some(format!("Destination {p} does not exist !").as_str())
        );
        assert_eq!(out.data.get("rc").unwrap(), &Value::from(257));
        // Check mode: reports the change, creates nothing.
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: x\ncreate: yes"),
            true,
            true,
        )
        .await;
        assert!(out.changed);
        assert_eq!(out.msg.as_deref(), Some("line added"));
        assert!(!dir.path().join("sub").exists());
        assert_eq!(out.diffs.len(), 1);
        assert_eq!(out.diffs[0].after, "x\n");
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: x\ncreate: yes\nmode: '0600'"),
            false,
            false,
        )
        .await;
        assert!(out.changed);
        assert_eq!(
            out.msg.as_deref(),
            Some("line added and ownership, perms or SE linux context changed")
        );
        assert_eq!(read(&f), "x\n");
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: x\ncreate: yes\nmode: '0600'"),
            false,
            false,
        )
        .await;
        assert!(!out.changed);
        let out = lif(
            dir.path(),
            &format!("path: {}\nline: x", dir.path().display()),
            false,
            false,
        )
        .await;
        assert!(out.failed);
        assert_eq!(out.data.get("rc").unwrap(), &Value::from(256));
    }

    #[tokio::test]
    async fn check_mode_and_diff() {
        let (dir, f) = setup("a\nb\n");
        let p = f.display();
        let out = lif(
            dir.path(),
            &format!("path: {p}\nregexp: '^b'\nline: B\nmode: '0600'"),
            true,
            true,
        )
        .await;
        assert!(out.changed);
        assert_eq!(
            out.msg.as_deref(),
            Some("line replaced and ownership, perms or SE linux context changed")
        );
        assert_eq!(read(&f), "a\nb\n");
        assert_ne!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(out.diffs.len(), 2);
        assert_eq!(
            out.diffs[0],
            FileDiff {
                before_header: format!("{p} (content)"),
                after_header: format!("{p} (content)"),
                before: "a\nb\n".into(),
                after: "a\nB\n".into(),
            }
        );
        assert_eq!(out.diffs[1].before_header, format!("{p} (file attributes)"));
        assert!(out.diffs[1].after.contains("\"mode\": \"0600\""));
        // No diff requested, no diffs returned.
        let out = lif(
            dir.path(),
            &format!("path: {p}\nregexp: '^b'\nline: B"),
            true,
            false,
        )
        .await;
        assert!(out.changed && out.diffs.is_empty());
    }

    #[tokio::test]
    async fn backup_and_validate() {
        let (dir, f) = setup("a\n");
        let p = f.display();
        let out = lif(
            dir.path(),
            &format!("path: {p}\nline: b\nbackup: yes"),
            false,
            false,
        )
        .await;
        let backup = out.data.get("backup").unwrap().as_str().unwrap().to_owned();
        assert!(
            backup.starts_with(&format!("{p}.")) && backup.ends_with('~'),
            "{backup}"
        );
        assert_eq!(read(Path::new(&backup)), "a\n");
        assert_eq!(read(&f), "a\nb\n");

        let e = TestEnv::new(dir.path(), &[]);
        let y = format!("path: {p}\nline: c\nvalidate: 'grep -q ^zzz %s'");
        let err = run(&LineInFile, &y, &e, false, false).await.unwrap_err();
        assert!(
            matches!(&err, ModuleError::Failed(m) if m.starts_with("failed to validate: rc:1")),
            "{err:?}"
        );
        assert_eq!(read(&f), "a\nb\n");
        let y = format!("path: {p}\nline: c\nvalidate: 'grep -q ^c %s'");
        let out = run(&LineInFile, &y, &e, false, false).await.unwrap();
        assert!(out.changed);
        assert_eq!(read(&f), "a\nb\nc\n");
        let y = format!("path: {p}\nline: d\nvalidate: 'true'");
        let err = run(&LineInFile, &y, &e, false, false).await.unwrap_err();
        assert!(matches!(&err, ModuleError::Failed(m) if m == "validate must contain %s: true"));
        // No temporary files left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains("hoist")), "{names:?}");
    }

    #[tokio::test]
    async fn writes_through_symlinks() {
        let (dir, f) = setup("a\n");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        let out = lif(
            dir.path(),
            &format!("path: {}\nline: b", link.display()),
            false,
            false,
        )
        .await;
        assert!(out.changed);
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(read(&f), "a\nb\n");
    }

    #[tokio::test]
    async fn crlf_and_empty_files() {
        let (dir, f) = setup("a\r\nb\r\n");
        let p = f.display();
        let out = lif(dir.path(), &format!("path: {p}\nline: c"), false, false).await;
        assert!(out.changed);
        assert_eq!(read(&f), "a\r\nb\r\nc\n");
        // Ansible rewrites a matching CRLF line with "\n".
        let out = lif(dir.path(), &format!("path: {p}\nline: b"), false, false).await;
        assert_eq!(out.msg.as_deref(), Some("line replaced"));
        assert_eq!(read(&f), "a\r\nb\nc\n");
        std::fs::write(&f, "").unwrap();
        let out = lif(dir.path(), &format!("path: {p}\nline: only"), false, false).await;
        assert!(out.changed);
        assert_eq!(read(&f), "only\n");
        let out = lif(
            dir.path(),
            &format!("path: {p}\nregexp: ''\nline: only"),
            false,
            false,
        )
        .await;
        assert!(!out.changed);
        assert!(
            crate::template::py_str(out.data.get("warnings").unwrap()).contains("empty string")
        );
    }
}
