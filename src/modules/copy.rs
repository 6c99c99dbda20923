//! `copy`: put a file, a directory tree or inline content on the target, as
//! Ansible's `ansible.builtin.copy` (action plugin and module together) does.
//!
//! The single-file path ([`copy_file`]) is shared with `template`: compare
//! sha1 checksums, show a text diff, back up, validate, write atomically,
//! then apply mode/owner/group; when the content is already right only the
//! attributes are handled (Ansible then runs the file module, and so does
//! this, including its result and diff).

use async_trait::async_trait;
use md5::Md5;
use minijinja::Value;
use minijinja::value::ValueKind;
use sha1::Digest;

use super::file::{
    AttrDiff, COMMON, FileArgs, FileParams, SResult, add_path_info, basename,
    check_owner_group_exist, dirname, ensure_directory, ensure_file_attributes, ensure_symlink,
    exists, expand_user, fail, fail_with, finish, join, lstat, make_dirs, py_json, realpath,
    realpath_on, refuse_unsupported, set_fs_attributes_if_different, stat, target_umask,
    wanted_mode,
};
use super::{
    Args, DiffSupport, FileDiff, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult,
    ModuleSpec, Outcome, Param, ParamType,
};
use crate::connection::local::LocalConnection;
use crate::connection::{Connection, ExecRequest, FileAttrs, FileKind, FileStat};
use crate::template::py_str;

pub struct Copy;

static PARAMS: [Param; 21] = [
    Param::new("src", ParamType::Path),
    Param::new("content", ParamType::Raw),
    Param::new("dest", ParamType::Path).required(),
    Param::new("backup", ParamType::Bool),
    Param::new("force", ParamType::Bool).aliases(&["thirsty"]),
    Param::new("validate", ParamType::Str),
    Param::new("directory_mode", ParamType::Mode),
    Param::new("remote_src", ParamType::Bool),
    Param::new("local_follow", ParamType::Bool),
    Param::new("checksum", ParamType::Str),
    Param::new("follow", ParamType::Bool),
    Param::new("decrypt", ParamType::Bool),
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
    name: "copy",
    params: &PARAMS,
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Copy a file, a directory tree or inline content to the target.",
    check_note: "",
    diff: DiffSupport::Yes,
    notes: &[super::file::NOTE_ATTRS_REFUSED],
};

/// Ansible's `MAX_FILE_SIZE_FOR_DIFF` default.
const MAX_FILE_SIZE_FOR_DIFF: usize = 104_448;

/// Options of one copy (or template) task.
#[derive(Clone, Debug, Default)]
pub(crate) struct CopyOpts {
    /// mode/owner/group; `mode: preserve` is resolved per source file.
    pub fa: FileArgs,
    pub backup: bool,
    pub force: bool,
    pub validate: Option<String>,
    pub follow: bool,
    pub directory_mode: Option<Value>,
    pub checksum: Option<String>,
    /// `decrypt` (default true): a vault file from the controller is
    /// copied decrypted.
    pub decrypt: bool,
}

impl CopyOpts {
    pub(crate) fn from_args(args: &Args) -> CopyOpts {
        CopyOpts {
            fa: FileArgs::from_args(args),
            backup: args.bool_or("backup", false),
            force: args.bool_or("force", true),
            validate: args.str("validate").filter(|v| !v.is_empty()),
            follow: args.bool_or("follow", false),
            directory_mode: args.get("directory_mode").cloned(),
            checksum: args.str("checksum").filter(|c| !c.is_empty()),
            decrypt: args.bool_or("decrypt", true),
        }
    }

    fn preserve_mode(&self) -> bool {
        self.fa.mode.as_ref().and_then(|m| m.as_str()) == Some("preserve")
    }
}

/// One file's worth of content to put on the target.
#[derive(Clone, Debug, Default)]
pub(crate) struct Source {
    pub data: Vec<u8>,
    /// Name (or path relative to the copied tree) used below a directory dest.
    pub rel: String,
    /// Shown as `after: …` in the diff (the source path).
    pub diff_header: String,
    /// Inline `content:` (its diff is headed with the dest; a directory dest
    /// is refused).
    pub is_content: bool,
    /// `src` in the result.
    pub src_report: Option<String>,
    /// The source's permission bits (for `mode: preserve`).
    pub src_mode: Option<u32>,
    /// `remote_src`: the new file keeps the source's mode and times.
    pub keep_stat: Option<(u32, f64, f64)>,
}

pub(crate) use crate::connection::sha1_hex;

fn md5_hex(data: &[u8]) -> String {
    let mut h = Md5::new();
    h.update(data);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD@HH:MM:SS` of an epoch time, shifted by `offset` seconds.
pub(crate) fn format_time(secs: f64, offset: i64, sep: char) -> String {
    let t = secs.floor() as i64 + offset;
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}{sep}{:02}:{:02}:{:02}",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// Ansible's `backup_local`: a copy of `path` named
/// `{path}.{pid}.{YYYY-MM-DD@HH:MM:SS}~` with the same mode, owner and times.
pub(crate) async fn backup_local(conn: &dyn Connection, path: &str) -> Result<String, ModuleError> {
    // The pid and local time of the target, as the module's would be.
    let probe = conn
        .exec(&ExecRequest::argv(["sh", "-c", "echo $$; date '+%Y-%m-%d@%H:%M:%S'"]).short())
        .await;
    let fallback = || {
        (
            std::process::id().to_string(),
            format_time(super::file::now(), 0, '@'),
        )
    };
    let (pid, when) = match probe {
        Ok(out) if out.rc == 0 => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut lines = text.lines();
            let pid = lines.next().unwrap_or("").trim().to_owned();
            let when = lines.next().unwrap_or("").trim().to_owned();
            if pid.is_empty() || when.is_empty() {
                fallback()
            } else {
                (pid, when)
            }
        }
        _ => fallback(),
    };
    let backup = format!("{path}.{pid}.{when}~");
    let failed = |why: String| {
        ModuleError::Failed(format!(
            "Could not make backup of {path} to {backup}: {why}"
        ))
    };
    let data = conn
        .read_file(path)
        .await
        .map_err(|e| failed(e.msg))?
        .unwrap_or_default();
    let Some(st) = conn.stat(path, true).await? else {
        return Ok(String::new());
    };
    let attrs = FileAttrs {
        mode: Some(st.mode),
        owner: Some(st.uid.to_string()),
        group: Some(st.gid.to_string()),
    };
    if conn.write_file(&backup, &data, &attrs).await.is_err() {
        // Keeping the owner needs privileges; Ansible ignores EPERM too.
        let attrs = FileAttrs {
            mode: Some(st.mode),
            ..FileAttrs::default()
        };
        conn.write_file(&backup, &data, &attrs)
            .await
            .map_err(|e| failed(e.msg))?;
    }
    let _ = conn.set_times(&backup, st.atime, st.mtime).await;
    Ok(backup)
}

/// Python's `os.path.splitext(path)[1]`.
fn extension(path: &str) -> String {
    let base = basename(path);
    let stem = base.trim_start_matches('.');
    match stem.rfind('.') {
        Some(i) => stem[i..].to_owned(),
        None => String::new(),
    }
}

/// Runs `validate` (with `%s` replaced by `path`) on the target.
/// A failure carries what Ansible's does: the new content's `checksum`,
/// `exit_status`, and the output with its `_lines` lists.
async fn run_validate(ctx: &ModuleCtx<'_>, validate: &str, path: &str, data: &[u8]) -> SResult<()> {
    if !validate.contains("%s") {
        return Err(fail(format!("validate must contain %s: {validate}")));
    }
    let words = shlex::split(validate)
        .ok_or_else(|| fail(format!("cannot parse validate command: {validate}")))?;
    let argv: Vec<String> = words
        .iter()
        .map(|w| {
            w.replace("%s", "\u{0}")
                .replace("%%", "%")
                .replace('\u{0}', path)
        })
        .collect();
    let out = ctx
        .conn
        .exec(&ExecRequest::argv(argv))
        .await
        .map_err(|e| fail(e.msg))?;
    if out.rc != 0 {
        let mut failure = Outcome::failure("failed to validate");
        failure.set("checksum", sha1_hex(data));
        failure.set("exit_status", out.rc);
        failure.set("stdout", String::from_utf8_lossy(&out.stdout).into_owned());
        failure.set("stderr", String::from_utf8_lossy(&out.stderr).into_owned());
        super::command::add_lines(&mut failure);
        return Err(super::file::Stop::Fail(Box::new(failure)));
    }
    Ok(())
}

/// Ansible's `_get_diff_data` as a unified-diff pair; `None` when Ansible
/// would skip the diff (binary or larger than 104448 bytes).
async fn diff_data(
    ctx: &ModuleCtx<'_>,
    dest_file: &str,
    src: &Source,
) -> SResult<Option<FileDiff>> {
    let (before_header, before) = match stat(ctx, dest_file).await? {
        None => ("before".to_owned(), String::new()),
        Some(_) => {
            let data = ctx.conn.read_file(dest_file).await?.unwrap_or_default();
            if data.iter().take(8192).any(|b| *b == 0) {
                return Ok(None);
            }
            let size = lstat(ctx, dest_file)
                .await?
                .map(|l| l.size as usize)
                .unwrap_or(data.len());
            if size > MAX_FILE_SIZE_FOR_DIFF {
                return Ok(None);
            }
            (
                format!("before: {dest_file}"),
                String::from_utf8_lossy(&data).into_owned(),
            )
        }
    };
    if src.data.len() > MAX_FILE_SIZE_FOR_DIFF || src.data.contains(&0) {
        return Ok(None);
    }
    let after_header = if src.is_content {
        format!("after: {dest_file}")
    } else {
        format!("after: {}", src.diff_header)
    };
    Ok(Some(FileDiff {
        before_header,
        after_header,
        before,
        after: String::from_utf8_lossy(&src.data).into_owned(),
    }))
}

/// Writes the new content to `path`: validated first when asked, mode and
/// ownership applied before the file appears under its name.
async fn write_dest(
    ctx: &ModuleCtx<'_>,
    opts: &CopyOpts,
    fa: &FileArgs,
    src: &Source,
    path: &str,
    existing: Option<&FileStat>,
) -> SResult<()> {
    let existing = existing.filter(|e| e.kind != FileKind::Symlink);
    let base_mode = match (src.keep_stat, existing) {
        (Some((m, _, _)), _) => Some(m),
        (None, Some(e)) => Some(e.mode),
        (None, None) => None,
    };
    let mode = match &fa.mode {
        Some(v) => {
            // Only a symbolic mode depends on the bits the file would get.
            let octal = v.is_integer()
                || v.as_str()
                    .is_some_and(|s| s.trim().chars().all(|c| c.is_ascii_digit()));
            let base = match base_mode {
                Some(m) => m,
                None if octal => 0,
                None => 0o666 & !target_umask(ctx).await,
            };
            Some(wanted_mode(v, base, false, path)?)
        }
        None => src.keep_stat.map(|(m, _, _)| m),
    };
    let attrs = FileAttrs {
        mode,
        owner: fa.owner.clone(),
        group: fa.group.clone(),
    };
    let copy_failed = |why: String| {
        fail(format!(
            "failed to copy: {} to {path}: {why}",
            src.src_report.as_deref().unwrap_or(&src.diff_header)
        ))
    };
    if let Some(validate) = &opts.validate {
        let tmp = join(
            &dirname(path),
            &format!(
                ".{}.{}.{}.hoist-validate{}",
                basename(path),
                std::process::id(),
                super::file::now().to_bits() % 1_000_000_007,
                extension(path)
            ),
        );
        let tmp_attrs = FileAttrs {
            mode: attrs.mode.or(base_mode),
            ..attrs.clone()
        };
        ctx.conn
            .write_file(&tmp, &src.data, &tmp_attrs)
            .await
            .map_err(|e| copy_failed(e.msg))?;
        // Predicting (check mode): validation is a command, so it is not run.
        let res = if ctx.predict {
            Ok(())
        } else {
            run_validate(ctx, validate, &tmp, &src.data).await
        };
        let _ = ctx.conn.remove(&tmp, false).await;
        res?;
    }
    // Replacing a symlink (not followed): the link goes, a file takes its place.
    if lstat(ctx, path)
        .await?
        .is_some_and(|l| l.kind == FileKind::Symlink)
    {
        ctx.conn
            .remove(path, false)
            .await
            .map_err(|e| copy_failed(e.msg))?;
    }
    ctx.conn
        .write_file(path, &src.data, &attrs)
        .await
        .map_err(|e| copy_failed(e.msg))?;
    if let Some((_, atime, mtime)) = src.keep_stat {
        let _ = ctx.conn.set_times(path, atime, mtime).await;
    }
    Ok(())
}

/// Copies one file as Ansible's copy action + module do. `None` when the
/// destination exists and `force` is off (nothing to do, nothing run).
pub(crate) async fn copy_file(
    ctx: &ModuleCtx<'_>,
    opts: &CopyOpts,
    src: &Source,
    dest: &str,
) -> SResult<Option<Outcome>> {
    let mut fa = opts.fa.clone();
    if opts.preserve_mode() {
        fa.mode = src.src_mode.map(Value::from);
    }

    let mut dest_file = if dest.ends_with('/') {
        join(dest, &src.rel)
    } else {
        dest.to_owned()
    };
    // One round trip for the destination's stats and checksum (the
    // answers are remembered for the rest of the task).
    let (_, followed, _) = ctx.conn.stat_both_checksum(&dest_file).await?;
    if followed.is_some_and(|s| s.kind == FileKind::Directory) {
        if src.is_content {
            return Err(fail("can not use content with a dir as dest"));
        }
        dest_file = join(&dest_file, &src.rel);
    }
    let dest_status = ctx.conn.stat(&dest_file, opts.follow).await?;
    if dest_status.is_some() && !opts.force {
        return Ok(None);
    }

    let checksum_src = crate::connection::sha1_hex_yielding(&src.data).await;
    if let Some(expected) = &opts.checksum
        && expected != &checksum_src
    {
        return Err(fail_with(
            "Copied file does not match the expected checksum. Transfer failed.",
            &[
                ("checksum", Value::from(checksum_src.as_str())),
                ("expected_checksum", Value::from(expected.as_str())),
            ],
        ));
    }
    let checksum_dest = match &dest_status {
        Some(s) if s.kind == FileKind::File => ctx.conn.checksum(&dest_file).await?,
        _ => None,
    };

    if checksum_dest.as_deref() != Some(checksum_src.as_str()) {
        let mut diffs = Vec::new();
        if ctx.diff
            && let Some(d) = diff_data(ctx, &dest_file, src).await?
        {
            diffs.push(d);
        }
        if ctx.check_mode {
            let mut out = Outcome::changed(true);
            out.diffs = diffs;
            return Ok(Some(out));
        }

        // What the copy module does on the target.
        if dest.ends_with('/') {
            let parent = dirname(&dest_file);
            if !exists(ctx, &parent).await? {
                let dir_fa = FileArgs {
                    mode: opts.directory_mode.clone(),
                    ..fa.clone()
                };
                make_dirs(ctx, &parent, &dir_fa, &mut AttrDiff::default()).await?;
            }
        }
        let mut path = dest_file.clone();
        let mut existing = lstat(ctx, &path).await?;
        if stat(ctx, &path).await?.is_some() {
            if opts.follow
                && existing
                    .as_ref()
                    .is_some_and(|l| l.kind == FileKind::Symlink)
            {
                path = realpath(ctx, &path).await?;
                existing = lstat(ctx, &path).await?;
            }
        } else {
            let parent = dirname(&path);
            let parent = if parent.is_empty() {
                ".".to_owned()
            } else {
                parent
            };
            if !exists(ctx, &parent).await? {
                return Err(fail(format!(
                    "Destination directory {parent} does not exist"
                )));
            }
        }
        let mut backup_file = None;
        if opts.backup && stat(ctx, &path).await?.is_some() {
            backup_file = Some(backup_local(ctx.conn, &path).await?);
        }
        write_dest(ctx, opts, &fa, src, &path, existing.as_ref()).await?;
        let changed =
            set_fs_attributes_if_different(ctx, &path, &fa, true, &mut AttrDiff::default()).await?;

        let mut out = Outcome::changed(changed).with("dest", path.as_str());
        if let Some(s) = &src.src_report {
            out.set("src", s.as_str());
        }
        out.set("md5sum", md5_hex(&src.data));
        out.set("checksum", checksum_src.as_str());
        if let Some(b) = backup_file.filter(|b| !b.is_empty()) {
            out.set("backup_file", b);
        }
        add_path_info(ctx, &mut out).await?;
        out.diffs = diffs;
        return Ok(Some(out));
    }

    // Same content: the file module sets the attributes.
    let mut path = dest_file.clone();
    if opts.follow
        && lstat(ctx, &path)
            .await?
            .is_some_and(|l| l.kind == FileKind::Symlink)
    {
        path = realpath(ctx, &path).await?;
    }
    let mut warnings = Vec::new();
    if ctx.check_mode {
        check_owner_group_exist(ctx, &path, &fa, &mut warnings).await?;
    }
    let p = FileParams::new(&path, fa);
    let mut out = ensure_file_attributes(ctx, &p).await?;
    if !warnings.is_empty() {
        out.set(
            "warnings",
            Value::from(warnings.into_iter().map(Value::from).collect::<Vec<_>>()),
        );
    }
    add_path_info(ctx, &mut out).await?;
    out.set("checksum", checksum_src.as_str());
    if let Some(p) = out.data.get("path").cloned() {
        out.set("dest", p);
    }
    Ok(Some(out))
}

/// The text `content:` writes: strings as they are, lists and dicts as
/// JSON (Python's `json.dumps`), anything else as Python prints it.
pub(crate) fn content_bytes(v: &Value) -> Vec<u8> {
    match v.kind() {
        ValueKind::Map | ValueKind::Seq => py_json(v, None, false).into_bytes(),
        ValueKind::Bytes => v.as_bytes().unwrap_or_default().to_vec(),
        _ => py_str(v).into_bytes(),
    }
}

/// A source tree to copy: files, directories and symlinks with their paths
/// relative to the destination.
#[derive(Debug, Default)]
struct Tree {
    /// (full source path, relative destination path)
    files: Vec<(String, String)>,
    dirs: Vec<(String, String)>,
    /// (link target, relative destination path)
    links: Vec<(String, String)>,
}

/// Ansible's `_walk_dirs`: with `follow_links`, symlinks to files are
/// copied as files and symlinked directories are walked, unless that would
/// loop; otherwise links are kept as links. Without a trailing slash the
/// directory itself is part of each relative path.
async fn walk_dirs(conn: &dyn Connection, topdir: &str, follow_links: bool) -> SResult<Tree> {
    let mut tree = Tree::default();
    let trailing = topdir.ends_with('/');
    let top = if topdir.len() > 1 {
        topdir.trim_end_matches('/')
    } else {
        topdir
    };
    let rel_base = if trailing {
        String::new()
    } else {
        basename(top)
    };
    let Some(top_l) = conn.stat(top, false).await? else {
        return Err(fail(format!("could not find src={topdir}")));
    };
    if top_l.kind == FileKind::Symlink && !follow_links {
        tree.links
            .push((top_l.link_target.unwrap_or_default(), basename(top)));
        return Ok(tree);
    }
    let Some(top_st) = conn.stat(top, true).await? else {
        return Err(fail(format!("could not find src={topdir}")));
    };
    // (directory to list, its relative path, the (dev, ino) of the
    // directories being copied above it)
    let mut stack = vec![(top.to_owned(), rel_base, vec![(top_st.dev, top_st.inode)])];
    while let Some((dir, rel, parents)) = stack.pop() {
        let mut subdirs = Vec::new();
        for name in conn.list_dir(&dir).await? {
            let full = join(&dir, &name);
            let rel_path = join(&rel, &name);
            let Some(l) = conn.stat(&full, false).await? else {
                continue;
            };
            let followed = conn.stat(&full, true).await?;
            let is_dir = followed
                .as_ref()
                .is_some_and(|f| f.kind == FileKind::Directory);
            if l.kind == FileKind::Symlink {
                let target = l.link_target.clone().unwrap_or_default();
                if !follow_links {
                    tree.links.push((target, rel_path));
                    continue;
                }
                let real = realpath_on(conn, &full).await?;
                if !is_dir {
                    if followed.as_ref().is_some_and(|f| f.kind == FileKind::File) {
                        tree.files.push((real, rel_path));
                    } else {
                        tree.links.push((target, rel_path));
                    }
                    continue;
                }
                let Some(f) = followed else { continue };
                let key = (f.dev, f.inode);
                if parents.contains(&key) {
                    tree.links.push((target, rel_path));
                    continue;
                }
                // The directories between this link and the known tree.
                let mut new_parents = Vec::new();
                let mut cur = dir.clone();
                loop {
                    let Some(ps) = conn.stat(&cur, true).await? else {
                        break;
                    };
                    if parents.contains(&(ps.dev, ps.inode)) {
                        break;
                    }
                    new_parents.push((ps.dev, ps.inode));
                    let up = dirname(&cur);
                    if up == cur || up.is_empty() {
                        break;
                    }
                    cur = up;
                }
                if new_parents.contains(&key) {
                    tree.links.push((target, rel_path));
                } else {
                    tree.dirs.push((real.clone(), rel_path.clone()));
                    let mut all = parents.clone();
                    all.extend(new_parents);
                    subdirs.push((real, rel_path, all));
                }
            } else if l.kind == FileKind::Directory {
                tree.dirs.push((full.clone(), rel_path.clone()));
                subdirs.push((full, rel_path, parents.clone()));
            } else {
                tree.files.push((full, rel_path));
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(tree)
}

/// Copies a tree (or one file) read through `from` to the target.
async fn copy_tree(
    ctx: &ModuleCtx<'_>,
    opts: &CopyOpts,
    from: &dyn Connection,
    source: &str,
    dest: &str,
    follow_links: bool,
    remote: bool,
) -> SResult<Outcome> {
    let src_stat = from.stat(source, true).await?;
    let mut dest = dest.to_owned();
    let tree = if src_stat
        .as_ref()
        .is_some_and(|s| s.kind == FileKind::Directory)
    {
        let mut t = walk_dirs(from, source, follow_links).await?;
        if remote && !source.ends_with('/') {
            // The remote copy creates the directory itself even when empty.
            let top = source.trim_end_matches('/');
            t.dirs.insert(0, (top.to_owned(), basename(top)));
        }
        if !dest.ends_with('/') {
            dest.push('/');
        }
        t
    } else {
        Tree {
            files: vec![(source.to_owned(), basename(source))],
            ..Tree::default()
        }
    };

    let mut changed = false;
    let mut executed = false;
    let mut last = Outcome::changed(false);
    let mut diffs = Vec::new();
    let single_follow = opts.follow;
    for (full, rel) in &tree.files {
        let data = from
            .read_file(full)
            .await?
            .ok_or_else(|| fail(format!("could not find src={full}")))?;
        let data = if !remote && opts.decrypt {
            crate::vault::decrypt_file_data(data, full).map_err(fail)?
        } else {
            data
        };
        let st = from.stat(full, true).await?;
        let src = Source {
            data,
            rel: rel.clone(),
            diff_header: full.clone(),
            is_content: false,
            src_report: Some(full.clone()),
            src_mode: st.as_ref().map(|s| s.mode),
            keep_stat: if remote {
                st.as_ref().map(|s| (s.mode, s.atime, s.mtime))
            } else {
                None
            },
        };
        let mut file_opts = opts.clone();
        file_opts.follow = if tree.dirs.is_empty() {
            single_follow
        } else {
            false
        };
        let Some(mut out) = copy_file(ctx, &file_opts, &src, &dest).await? else {
            continue;
        };
        if out.failed {
            return Ok(out);
        }
        executed = true;
        changed |= out.changed;
        diffs.append(&mut out.diffs);
        last = out;
    }
    for (full, rel) in &tree.dirs {
        let path = join(&dest, rel);
        let mut fa = FileArgs {
            mode: opts.directory_mode.clone(),
            ..opts.fa.clone()
        };
        if remote && fa.mode.is_none() && !exists(ctx, &path).await? {
            fa.mode = from.stat(full, true).await?.map(|s| Value::from(s.mode));
        }
        let p = FileParams::new(&path, fa);
        let mut out = ensure_directory(ctx, &p).await?;
        add_path_info(ctx, &mut out).await?;
        executed = true;
        changed |= out.changed;
        diffs.append(&mut out.diffs);
        last = out;
    }
    for (target, rel) in &tree.links {
        let mut fa = opts.fa.clone();
        if opts.preserve_mode() {
            fa.mode = None;
        }
        let mut p = FileParams::new(&join(&dest, rel), fa);
        p.src = Some(target.clone());
        p.force = true;
        p.follow = tree.dirs.is_empty();
        let mut out = ensure_symlink(ctx, &p).await?;
        add_path_info(ctx, &mut out).await?;
        executed = true;
        changed |= out.changed;
        diffs.append(&mut out.diffs);
        last = out;
    }

    let mut out = if executed && tree.files.len() == 1 {
        if !last.data.contains_key("dest")
            && let Some(p) = last.data.get("path").cloned()
        {
            last.set("dest", p);
        }
        last
    } else {
        Outcome::changed(changed)
            .with("dest", dest.as_str())
            .with("src", source)
    };
    out.diffs = diffs;
    Ok(out)
}

async fn run_copy(args: &Args, ctx: &ModuleCtx<'_>) -> SResult<Outcome> {
    let src = args.str("src").filter(|s| !s.is_empty());
    let content = args
        .get("content")
        .filter(|c| !c.is_none() && !c.is_undefined());
    let dest = args.str("dest").unwrap_or_default();
    if src.is_none() && content.is_none() {
        return Err(fail("src (or content) is required"));
    }
    if dest.is_empty() {
        return Err(fail("dest is required"));
    }
    if src.is_some() && content.is_some() {
        return Err(fail("src and content are mutually exclusive"));
    }
    if content.is_some() && dest.ends_with('/') {
        return Err(fail("can not use content with a dir as dest"));
    }
    refuse_unsupported(args)?;
    let dest = expand_user(ctx, &dest).await?;
    let opts = CopyOpts::from_args(args);

    if let Some(content) = content {
        let source = Source {
            data: content_bytes(content),
            rel: "content".into(),
            diff_header: dest.clone(),
            is_content: true,
            src_report: None,
            // Ansible's content temp file is created 0600.
            src_mode: Some(0o600),
            keep_stat: None,
        };
        return Ok(match copy_file(ctx, &opts, &source, &dest).await? {
            Some(out) => out,
            None => Outcome::changed(false).with("dest", dest.as_str()),
        });
    }
    let src = src.unwrap_or_default();

    if args.bool_or("remote_src", false) {
        let src = expand_user(ctx, &src).await?;
        let Some(st) = stat(ctx, &src).await? else {
            return Err(fail(format!("Source {src} not found")));
        };
        if st.kind != FileKind::File && st.kind != FileKind::Directory {
            return Err(fail(format!(
                "Cannot copy invalid source '{src}': not a file"
            )));
        }
        let follow_links = args.bool_or("local_follow", false);
        return copy_tree(ctx, &opts, ctx.conn, &src, &dest, follow_links, true).await;
    }

    let trailing = src.ends_with('/');
    let not_found = || {
        // The copy action re-raises the lookup's error as its own.
        fail(format!(
            "Unexpected AnsibleActionFail error: Could not find or access '{src}' on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option"
        ))
    };
    let Some(found) = ctx.env.find_file("files", &src) else {
        return Err(not_found());
    };
    let found = std::path::absolute(&found).unwrap_or(found);
    let mut source = found.to_string_lossy().into_owned();
    if source.len() > 1 {
        source = source.trim_end_matches('/').to_owned();
    }
    if trailing && !source.ends_with('/') {
        source.push('/');
    }
    let local = LocalConnection;
    if local.stat(&source, true).await?.is_none() {
        return Err(not_found());
    }
    let follow_links = args.bool_or("local_follow", true);
    copy_tree(ctx, &opts, &local, &source, &dest, follow_links, false).await
}

#[async_trait]
impl Module for Copy {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        finish(run_copy(args, ctx).await)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;
    use crate::modules::testing::{TestEnv, run};

    fn mode_of(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn s(out: &Outcome, key: &str) -> String {
        out.data.get(key).map(py_str).unwrap_or_default()
    }

    /// The mode a new file gets under the test process's umask.
    fn default_file_mode(base: &Path) -> u32 {
        let probe = base.join(".probe");
        std::fs::write(&probe, "").unwrap();
        let m = mode_of(&probe);
        std::fs::remove_file(&probe).unwrap();
        m
    }

    #[tokio::test]
    async fn content_written_once_with_diff() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let dest = tmp.path().join("out.txt");
        let args = format!("dest: {}\ncontent: \"hello\\n\"\n", dest.display());

        let out = run(&Copy, &args, &env, true, true).await.unwrap();
        assert!(out.changed);
        assert!(!dest.exists());
        assert_eq!(
            out.diffs,
            vec![FileDiff {
                before_header: "before".into(),
                after_header: format!("after: {}", dest.display()),
                before: String::new(),
                after: "hello\n".into(),
            }]
        );

        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert!(out.changed, "{out:?}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\n");
        assert_eq!(mode_of(&dest), default_file_mode(tmp.path()));
        assert_eq!(
            s(&out, "checksum"),
            "f572d396fae9206628714fb2ce00f72e94f2258f"
        );
        assert_eq!(s(&out, "md5sum"), "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(s(&out, "dest"), dest.display().to_string());
        assert_eq!(s(&out, "state"), "file");
        assert_eq!(out.data.get("size").and_then(|v| v.as_i64()), Some(6));

        let out = run(&Copy, &args, &env, false, true).await.unwrap();
        assert!(!out.changed);
        assert!(out.diffs.is_empty());
        assert_eq!(
            s(&out, "checksum"),
            "f572d396fae9206628714fb2ce00f72e94f2258f"
        );

        // Changed content: diff against the old text; check mode leaves it.
        let args = format!("dest: {}\ncontent: \"bye\\n\"\n", dest.display());
        let out = run(&Copy, &args, &env, true, true).await.unwrap();
        assert!(out.changed);
        assert_eq!(
            out.diffs[0].before_header,
            format!("before: {}", dest.display())
        );
        assert_eq!(out.diffs[0].before, "hello\n");
        assert_eq!(out.diffs[0].after, "bye\n");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\n");
    }

    #[tokio::test]
    async fn mode_only_change_shows_file_diff() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let dest = tmp.path().join("f");
        std::fs::write(&dest, "same").unwrap();
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).unwrap();
        let args = format!("dest: {}\ncontent: same\nmode: '0600'\n", dest.display());
        let out = run(&Copy, &args, &env, true, true).await.unwrap();
        assert!(out.changed);
        assert_eq!(mode_of(&dest), 0o644);
        let out = run(&Copy, &args, &env, false, true).await.unwrap();
        assert!(out.changed);
        assert_eq!(mode_of(&dest), 0o600);
        assert_eq!(out.diffs.len(), 1);
        assert!(out.diffs[0].before.contains("\"mode\": \"0644\""));
        assert!(out.diffs[0].after.contains("\"mode\": \"0600\""));
        let out = run(&Copy, &args, &env, false, true).await.unwrap();
        assert!(!out.changed);
    }

    #[tokio::test]
    async fn existing_mode_is_kept_and_new_mode_applied_atomically() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let dest = tmp.path().join("f");
        std::fs::write(&dest, "old").unwrap();
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o640)).unwrap();
        let out = run(
            &Copy,
            &format!("dest: {}\ncontent: new\n", dest.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed);
        assert_eq!(mode_of(&dest), 0o640);
        assert_eq!(s(&out, "mode"), "0640");
        let out = run(
            &Copy,
            &format!("dest: {}\ncontent: newer\nmode: u+x\n", dest.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed);
        assert_eq!(mode_of(&dest), 0o740);
    }

    #[tokio::test]
    async fn src_file_into_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        std::fs::create_dir(tmp.path().join("files")).unwrap();
        std::fs::write(tmp.path().join("files/app.conf"), "k=v\n").unwrap();
        let target = tmp.path().join("target");

        // A trailing slash: the directory is created and the file goes in it.
        let args = format!("src: app.conf\ndest: {}/\n", target.display());
        let out = run(&Copy, &args, &env, false, true).await.unwrap();
        assert!(out.changed, "{out:?}");
        assert_eq!(
            std::fs::read_to_string(target.join("app.conf")).unwrap(),
            "k=v\n"
        );
        assert_eq!(
            s(&out, "dest"),
            target.join("app.conf").display().to_string()
        );
        assert_eq!(
            out.diffs[0].after_header,
            format!("after: {}", tmp.path().join("files/app.conf").display())
        );
        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert!(!out.changed);

        // An existing directory as dest without slash: same place.
        let args = format!("src: app.conf\ndest: {}\n", target.display());
        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert!(!out.changed);
        assert_eq!(
            s(&out, "dest"),
            target.join("app.conf").display().to_string()
        );

        // A missing parent without slash is an error.
        let args = format!(
            "src: app.conf\ndest: {}/no/such/file\n",
            tmp.path().display()
        );
        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert!(out.failed);
        assert_eq!(
            out.msg.unwrap(),
            format!(
                "Destination directory {}/no/such does not exist",
                tmp.path().display()
            )
        );
    }

    #[tokio::test]
    async fn directory_trees_follow_trailing_slash_rules() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let src = tmp.path().join("files/tree");
        std::fs::create_dir_all(src.join("sub/empty")).unwrap();
        std::fs::write(src.join("top.txt"), "t").unwrap();
        std::fs::write(src.join("sub/inner.txt"), "i").unwrap();
        std::os::unix::fs::symlink("top.txt", src.join("alias")).unwrap();

        let with_dir = tmp.path().join("d1");
        let args = format!(
            "src: tree\ndest: {}\ndirectory_mode: '0750'\n",
            with_dir.display()
        );
        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert!(out.changed, "{out:?}");
        assert_eq!(
            std::fs::read_to_string(with_dir.join("tree/sub/inner.txt")).unwrap(),
            "i"
        );
        assert!(with_dir.join("tree/sub/empty").is_dir());
        assert_eq!(mode_of(&with_dir.join("tree/sub")), 0o750);
        // local_follow (default): the link is copied as a file.
        assert!(
            std::fs::symlink_metadata(with_dir.join("tree/alias"))
                .unwrap()
                .is_file()
        );
        assert_eq!(s(&out, "dest"), format!("{}/", with_dir.display()));
        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert!(!out.changed, "{out:?}");

        let contents = tmp.path().join("d2");
        let args = format!(
            "src: tree/\ndest: {}\nlocal_follow: false\n",
            contents.display()
        );
        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert!(out.changed);
        assert_eq!(
            std::fs::read_to_string(contents.join("top.txt")).unwrap(),
            "t"
        );
        assert!(contents.join("sub/empty").is_dir());
        assert_eq!(
            std::fs::read_link(contents.join("alias")).unwrap(),
            Path::new("top.txt")
        );
        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert!(!out.changed);

        // Check mode on a fresh destination creates nothing.
        let fresh = tmp.path().join("d3");
        let out = run(
            &Copy,
            &format!("src: tree/\ndest: {}\n", fresh.display()),
            &env,
            true,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed);
        assert!(!fresh.exists());
    }

    #[tokio::test]
    async fn backup_force_and_missing_src() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let dest = tmp.path().join("conf");
        std::fs::write(&dest, "v1\n").unwrap();
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o604)).unwrap();

        let out = run(
            &Copy,
            &format!("dest: {}\ncontent: v2\nforce: false\n", dest.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(!out.changed);
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "v1\n");

        let out = run(
            &Copy,
            &format!("dest: {}\ncontent: v2\nbackup: true\n", dest.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed);
        let backup = s(&out, "backup_file");
        let re = regex::Regex::new(r"\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$").unwrap();
        assert!(
            backup.starts_with(&dest.display().to_string()) && re.is_match(&backup),
            "{backup}"
        );
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), "v1\n");
        assert_eq!(mode_of(Path::new(&backup)), 0o604);
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "v2");

        let out = run(
            &Copy,
            &format!("dest: {}\nsrc: nope.txt\n", dest.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.failed);
        assert!(out.msg.unwrap().starts_with(
            "Unexpected AnsibleActionFail error: Could not find or access 'nope.txt'"
        ));
        let out = run(
            &Copy,
            &format!("dest: {}\n", dest.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert_eq!(out.msg.as_deref(), Some("src (or content) is required"));
        let out = run(
            &Copy,
            &format!("dest: {}/\ncontent: x\n", tmp.path().display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert_eq!(
            out.msg.as_deref(),
            Some("can not use content with a dir as dest")
        );
    }

    #[tokio::test]
    async fn validate_gates_the_write() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let dest = tmp.path().join("v.conf");
        std::fs::write(&dest, "good\n").unwrap();
        let args = format!(
            "dest: {}\ncontent: \"bad\\n\"\nvalidate: grep -q good %s\n",
            dest.display()
        );
        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert!(out.failed);
        assert_eq!(out.msg.as_deref(), Some("failed to validate"));
        assert_eq!(
            out.data.get("exit_status").and_then(|v| v.as_i64()),
            Some(1)
        );
        // As Ansible's: the new content's checksum and the output's lines.
        assert_eq!(
            out.data.get("checksum").and_then(|v| v.as_str()),
            Some(sha1_hex(b"bad\n").as_str())
        );
        assert_eq!(out.data.get("stdout_lines").map(|v| v.len()), Some(Some(0)));
        assert!(out.data.contains_key("stderr_lines"));
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "good\n");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);

        let args = format!(
            "dest: {}\ncontent: \"good too\\n\"\nvalidate: grep -q good %s\n",
            dest.display()
        );
        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert!(out.changed && !out.failed, "{out:?}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "good too\n");

        let args = format!(
            "dest: {}\ncontent: other\nvalidate: 'true'\n",
            dest.display()
        );
        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert_eq!(out.msg.as_deref(), Some("validate must contain %s: true"));
    }

    #[tokio::test]
    async fn binary_content_has_no_diff() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        std::fs::create_dir(tmp.path().join("files")).unwrap();
        std::fs::write(tmp.path().join("files/blob"), b"a\0b").unwrap();
        let dest = tmp.path().join("blob");
        let out = run(
            &Copy,
            &format!("src: blob\ndest: {}\n", dest.display()),
            &env,
            false,
            true,
        )
        .await
        .unwrap();
        assert!(out.changed);
        assert!(out.diffs.is_empty());
        assert_eq!(std::fs::read(&dest).unwrap(), b"a\0b");
    }

    #[tokio::test]
    async fn symlinked_dest_and_follow() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let real = tmp.path().join("real");
        std::fs::write(&real, "old").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();

        let out = run(
            &Copy,
            &format!("dest: {}\ncontent: new\nfollow: true\n", link.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed);
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");

        // Not following: the link itself is replaced by a file.
        let out = run(
            &Copy,
            &format!("dest: {}\ncontent: new\n", link.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed);
        assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }

    #[tokio::test]
    async fn remote_src_keeps_source_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let src = tmp.path().join("script.sh");
        std::fs::write(&src, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o755)).unwrap();
        let dest = tmp.path().join("copy.sh");
        let args = format!(
            "src: {}\ndest: {}\nremote_src: true\n",
            src.display(),
            dest.display()
        );
        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert!(out.changed, "{out:?}");
        assert_eq!(mode_of(&dest), 0o755);
        let out = run(&Copy, &args, &env, false, false).await.unwrap();
        assert!(!out.changed);
        let out = run(
            &Copy,
            &format!(
                "src: {}/none\ndest: {}\nremote_src: true\n",
                tmp.path().display(),
                dest.display()
            ),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert_eq!(
            out.msg.unwrap(),
            format!("Source {}/none not found", tmp.path().display())
        );
    }

    #[tokio::test]
    async fn dict_content_is_json() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let dest = tmp.path().join("c.json");
        let out = run(
            &Copy,
            &format!("dest: {}\ncontent: {{a: 1, b: [x]}}\n", dest.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed);
        assert_eq!(
            std::fs::read_to_string(&dest).unwrap(),
            r#"{"a": 1, "b": ["x"]}"#
        );
    }

    #[test]
    fn time_formatting() {
        assert_eq!(format_time(0.0, 0, '@'), "1970-01-01@00:00:00");
        assert_eq!(
            format_time(1_700_000_000.5, 3600, ' '),
            "2023-11-14 23:13:20"
        );
        assert_eq!(extension("/etc/app.conf"), ".conf");
        assert_eq!(extension("/etc/.bashrc"), "");
    }
}
