//! `apt_repository`: one-line apt sources (`deb …`/`deb-src …`) in
//! /etc/apt/sources.list and /etc/apt/sources.list.d/*.list, as Ansible's
//! module keeps them: lines are read as its `SourcesList` parses them, a new
//! source goes to a file named after its host and path (or `filename`), an
//! existing disabled copy is enabled instead, and removing drops every
//! enabled copy (a file left empty is deleted). PPA shorthands are not
//! supported (they need Launchpad).

use async_trait::async_trait;
use minijinja::Value;

use super::sysexec::{find_bin, run};
use super::{
    Args, DiffSupport, FileDiff, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult,
    ModuleSpec, Outcome, Param, ParamType,
};
use crate::connection::{FileAttrs, FileKind};

pub struct AptRepository;

static SPEC: ModuleSpec = ModuleSpec {
    name: "apt_repository",
    params: &[
        Param::new("repo", ParamType::Str).required(),
        Param::new("state", ParamType::Str).choices(&["absent", "present"]),
        Param::new("mode", ParamType::Mode),
        Param::new("update_cache", ParamType::Bool).aliases(&["update-cache"]),
        Param::new("update_cache_retries", ParamType::Int),
        Param::new("update_cache_retry_max_delay", ParamType::Int),
        Param::new("filename", ParamType::Str),
        Param::new("install_python_apt", ParamType::Bool),
        Param::new("validate_certs", ParamType::Bool),
        Param::new("codename", ParamType::Str),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Add and remove one-line apt sources in sources.list and sources.list.d.",
    check_note: "",
    diff: DiffSupport::Yes,
    notes: &[
        "Files and lines are handled as Ansible's module handles them (file names from the \
         repository's host and path or `filename`, enabling a disabled copy, deleting a file \
         left empty), without python-apt on the target.",
        "`ppa:` shorthands are refused (they need Launchpad): give the `deb` line. `codename` \
         and `validate_certs` (used for PPAs) and `install_python_apt` are accepted and \
         ignored.",
    ],
};

const SOURCELIST: &str = "/etc/apt/sources.list";
const SOURCEPARTS: &str = "/etc/apt/sources.list.d";

/// One line of a sources file as `SourcesList._parse` reads it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Line {
    valid: bool,
    enabled: bool,
    source: String,
    comment: String,
}

pub(crate) fn parse_line(line: &str) -> Line {
    let mut line = line.trim();
    let mut enabled = true;
    if let Some(rest) = line.strip_prefix('#') {
        enabled = false;
        line = rest;
    }
    let mut comment = String::new();
    let mut body = line;
    if let Some(i) = line.find('#')
        && i > 0
    {
        comment = line[i + 1..].trim().to_owned();
        body = &line[..i];
    }
    let mut source = body.trim().to_owned();
    let mut valid = false;
    let chunks: Vec<&str> = source.split_whitespace().collect();
    if let Some(first) = chunks.first()
        && (*first == "deb" || *first == "deb-src")
    {
        valid = true;
        source = chunks.join(" ");
    }
    Line {
        valid,
        enabled,
        source,
        comment,
    }
}

/// How Ansible writes a line back.
fn render_line(l: &Line) -> String {
    let mut s = String::new();
    if !l.enabled {
        s.push_str("# ");
    }
    s.push_str(&l.source);
    if !l.comment.is_empty() {
        s.push_str(" # ");
        s.push_str(&l.comment);
    }
    s.push('\n');
    s
}

fn render(lines: &[Line]) -> String {
    lines.iter().map(render_line).collect()
}

/// The file a new source goes to: `filename` + `.list`, or its host and
/// path with everything but letters and digits turned into `_`.
pub(crate) fn suggest_filename(source: &str, filename: Option<&str>) -> String {
    let name = match filename {
        Some(f) => f.to_owned(),
        None => {
            let no_opts = regex_lite_strip_brackets(source);
            let no_scheme = strip_schemes(&no_opts);
            let parts: Vec<&str> = no_scheme
                .split_whitespace()
                .filter(|p| *p != "deb" && *p != "deb-src")
                .collect();
            let first = parts.first().copied().unwrap_or("");
            let first = first.split_once('@').map(|(_, h)| h).unwrap_or(first);
            let cleaned: String = first
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
                .collect();
            cleaned.split_whitespace().collect::<Vec<_>>().join("_")
        }
    };
    let file = format!("{name}.list");
    if file.contains('/') {
        file
    } else {
        format!("{SOURCEPARTS}/{file}")
    }
}

/// `re.sub(r'\[[^\]]+\]', '', s)`.
fn regex_lite_strip_brackets(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('[') {
        match rest[i + 1..].find(']') {
            Some(j) if j > 0 => {
                out.push_str(&rest[..i]);
                rest = &rest[i + 1 + j + 1..];
            }
            _ => {
                out.push_str(&rest[..=i]);
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `re.sub(r'\w+://', '', s)`.
fn strip_schemes(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let head = &rest[..i];
        let word_start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
            .last()
            .map(|(k, _)| k);
        match word_start {
            Some(k) => {
                out.push_str(&head[..k]);
            }
            None => {
                out.push_str(head);
                out.push_str("://");
            }
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out
}

/// Every sources file and its parsed lines, in load order.
type Files = Vec<(String, Vec<Line>)>;

/// Adds `source` as Ansible's `_add_valid_source`; returns the new file's
/// name when one was started.
pub(crate) fn add_source(files: &mut Files, source: &str, file: &str) -> bool {
    let mut found = false;
    for (_, lines) in files.iter_mut() {
        for l in lines.iter_mut() {
            if l.valid && l.source == source {
                l.enabled = true;
                found = true;
            }
        }
    }
    if found {
        return false;
    }
    let new_line = Line {
        valid: true,
        enabled: true,
        source: source.to_owned(),
        comment: String::new(),
    };
    match files.iter_mut().find(|(f, _)| f == file) {
        Some((_, lines)) => {
            lines.push(new_line);
            false
        }
        None => {
            files.push((file.to_owned(), vec![new_line]));
            true
        }
    }
}

pub(crate) fn remove_source(files: &mut Files, source: &str) {
    for (_, lines) in files.iter_mut() {
        lines.retain(|l| !(l.valid && l.enabled && l.source == source));
    }
}

/// What `dump` gives: files with at least one line.
fn dump(files: &Files) -> Vec<(String, String)> {
    files
        .iter()
        .filter(|(_, l)| !l.is_empty())
        .map(|(f, l)| (f.clone(), render(l)))
        .collect()
}

async fn load(ctx: &ModuleCtx<'_>) -> Result<Files, ModuleError> {
    let mut paths = Vec::new();
    if ctx
        .conn
        .stat(SOURCELIST, true)
        .await?
        .is_some_and(|s| s.kind == FileKind::File)
    {
        paths.push(SOURCELIST.to_owned());
    }
    let mut names = ctx.conn.list_dir(SOURCEPARTS).await.unwrap_or_default();
    names.sort();
    for n in names {
        if n.ends_with(".list") && !n.starts_with('.') {
            paths.push(format!("{SOURCEPARTS}/{n}"));
        }
    }
    let mut files = Vec::new();
    for p in paths {
        let Some(data) = ctx.conn.read_file(&p).await? else {
            continue;
        };
        let text = String::from_utf8_lossy(&data);
        let lines = text.lines().map(parse_line).collect();
        files.push((p, lines));
    }
    Ok(files)
}

#[async_trait]
impl Module for AptRepository {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let repo = args.str("repo").unwrap_or_default();
        let state = args.str_or("state", "present");
        let check = ctx.check_mode || ctx.predict;
        if repo.is_empty() {
            return Ok(Outcome::failure(
                "Please set argument 'repo' to a non-empty value",
            ));
        }
        if repo.starts_with("ppa:") {
            return Ok(Outcome::failure(
                "PPA repositories (ppa:…) need Launchpad and are not supported by hoist; give the deb line",
            ));
        }
        let parsed = parse_line(&repo);
        if !parsed.valid || !parsed.enabled {
            let mut line = repo.trim();
            if let Some(r) = line.strip_prefix('#') {
                line = r;
            }
            if let Some(i) = line.find('#').filter(|i| *i > 0) {
                line = &line[..i];
            }
            return Ok(Outcome::failure(format!(
                "Invalid repository string: {line}"
            )));
        }
        let mut files = load(ctx).await?;
        let before = dump(&files);
        let mut new_file = None;
        match state.as_str() {
            "present" => {
                let file = suggest_filename(&parsed.source, args.str("filename").as_deref());
                if add_source(&mut files, &parsed.source, &file) {
                    new_file = Some(file);
                }
            }
            _ => remove_source(&mut files, &parsed.source),
        }
        let after = dump(&files);
        let changed = before != after;
        let get = |d: &[(String, String)], f: &str| {
            d.iter().find(|(n, _)| n == f).map(|(_, t)| t.clone())
        };
        let added: Vec<String> = after
            .iter()
            .filter(|(f, _)| get(&before, f).is_none())
            .map(|(f, _)| f.clone())
            .collect();
        let removed: Vec<String> = before
            .iter()
            .filter(|(f, _)| get(&after, f).is_none())
            .map(|(f, _)| f.clone())
            .collect();
        let mut out = Outcome::changed(changed);
        if changed && ctx.diff {
            for f in added.iter().chain(removed.iter()) {
                out.diffs.push(FileDiff {
                    before_header: if get(&before, f).is_some() {
                        f.clone()
                    } else {
                        "/dev/null".into()
                    },
                    after_header: if get(&after, f).is_some() {
                        f.clone()
                    } else {
                        "/dev/null".into()
                    },
                    before: get(&before, f).unwrap_or_default(),
                    after: get(&after, f).unwrap_or_default(),
                });
            }
        }
        if changed && !check {
            // Write what changed; a file left without lines goes away.
            let mut written: Vec<(String, Option<Vec<u8>>)> = Vec::new();
            for (f, lines) in &files {
                let old = get(&before, f);
                let new = (!lines.is_empty()).then(|| render(lines));
                if old == new {
                    continue;
                }
                let target = match ctx.conn.stat(f, false).await? {
                    Some(st) if st.kind == FileKind::Symlink => st
                        .link_target
                        .map(|t| {
                            if t.starts_with('/') {
                                t
                            } else {
                                format!("{SOURCEPARTS}/{t}")
                            }
                        })
                        .unwrap_or_else(|| f.clone()),
                    _ => f.clone(),
                };
                written.push((target.clone(), ctx.conn.read_file(&target).await?));
                match new {
                    Some(text) => {
                        let mode = if new_file.as_deref() == Some(f.as_str()) {
                            match args.get("mode") {
                                Some(m) => super::args::parse_mode(m, 0o644, false)?,
                                None => 0o644,
                            }
                        } else {
                            ctx.conn
                                .stat(&target, true)
                                .await?
                                .map(|s| s.mode)
                                .unwrap_or(0o644)
                        };
                        let attrs = FileAttrs {
                            mode: Some(mode),
                            ..FileAttrs::default()
                        };
                        ctx.conn
                            .write_file(&target, text.as_bytes(), &attrs)
                            .await?;
                    }
                    None => {
                        if ctx.conn.stat(f, false).await?.is_some() {
                            ctx.conn.remove(f, false).await?;
                        }
                    }
                }
            }
            if args.bool_or("update_cache", true)
                && let Err(msg) = update(args, ctx).await
            {
                // Put the files back as they were.
                for (path, old) in written {
                    match old {
                        Some(data) => {
                            ctx.conn
                                .write_file(&path, &data, &FileAttrs::default())
                                .await?
                        }
                        None => ctx.conn.remove(&path, false).await?,
                    }
                }
                return Ok(Outcome::failure(msg));
            }
        }
        let diff: Vec<Value> = out
            .diffs
            .iter()
            .map(|d| {
                crate::template::vmap([
                    ("before", Value::from(d.before.as_str())),
                    ("after", Value::from(d.after.as_str())),
                    ("before_header", Value::from(d.before_header.as_str())),
                    ("after_header", Value::from(d.after_header.as_str())),
                ])
            })
            .collect();
        out.set("diff", Value::from(diff));
        out.set("repo", repo.as_str());
        out.set("sources_added", Value::from(added));
        out.set("sources_removed", Value::from(removed));
        out.set("state", state.as_str());
        Ok(out)
    }
}

/// `apt-get update` with Ansible's retries; `Err` is the failure message.
async fn update(args: &Args, ctx: &ModuleCtx<'_>) -> Result<(), String> {
    let apt_get = match find_bin(ctx, "apt-get").await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(super::sysexec::missing_bin("apt-get")),
        Err(ModuleError::Failed(m) | ModuleError::Unreachable(m)) => return Err(m),
    };
    let retries = args.int("update_cache_retries").unwrap_or(5).max(1);
    let max_delay = args.int("update_cache_retry_max_delay").unwrap_or(12);
    let env = [
        ("LANG", "C"),
        ("LC_ALL", "C"),
        ("DEBIAN_FRONTEND", "noninteractive"),
    ];
    let mut err = String::new();
    for attempt in 0..retries {
        let r = run(
            ctx,
            &[apt_get.clone(), "update".into(), "-q".into()],
            &env,
            false,
        )
        .await
        .map_err(|e| match e {
            ModuleError::Failed(m) | ModuleError::Unreachable(m) => m,
        })?;
        let failed = r.rc != 0
            || r.stderr
                .lines()
                .any(|l| l.contains("Failed to fetch") || l.contains("Some index files failed"));
        if !failed {
            return Ok(());
        }
        err = r
            .stderr
            .lines()
            .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
            .collect::<Vec<_>>()
            .join(", ");
        if attempt + 1 < retries {
            let delay = (2f64.powi(attempt.min(30) as i32)).min(max_delay as f64);
            tokio::time::sleep(std::time::Duration::from_secs_f64(delay.max(0.0))).await;
        }
    }
    let err = if err.is_empty() {
        "unknown reason".to_owned()
    } else {
        err
    };
    Err(format!(
        "Failed to update apt cache after {retries} retries: {err}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_render_as_ansible() {
        let l = parse_line("  deb   http://x/debian  stable main # mine ");
        assert!(l.valid && l.enabled);
        assert_eq!(l.source, "deb http://x/debian stable main");
        assert_eq!(l.comment, "mine");
        assert_eq!(render_line(&l), "deb http://x/debian stable main # mine\n");
        let d = parse_line("#deb-src http://x/ s main");
        assert!(d.valid && !d.enabled);
        assert_eq!(render_line(&d), "# deb-src http://x/ s main\n");
        let c = parse_line("# just a comment");
        assert!(!c.valid);
        assert_eq!(render_line(&c), "# just a comment\n");
        assert_eq!(render_line(&parse_line("")), "\n");
    }

    #[test]
    fn filenames_follow_the_source() {
        assert_eq!(
            suggest_filename(
                "deb http://dl.google.com/linux/chrome/deb/ stable main",
                None
            ),
            "/etc/apt/sources.list.d/dl_google_com_linux_chrome_deb.list"
        );
        assert_eq!(
            suggest_filename(
                "deb [arch=amd64 signed-by=/k.gpg] https://user:pw@repo.example.org/apt x main",
                None
            ),
            "/etc/apt/sources.list.d/repo_example_org_apt.list"
        );
        assert_eq!(
            suggest_filename("deb http://x/ s main", Some("my repo")),
            "/etc/apt/sources.list.d/my repo.list"
        );
    }

    #[test]
    fn add_enables_a_disabled_copy_and_remove_drops_enabled_ones() {
        let mut files: Files = vec![(
            "/etc/apt/sources.list".into(),
            vec![
                parse_line("# deb http://x/ s main"),
                parse_line("deb http://y/ s main"),
            ],
        )];
        assert!(!add_source(
            &mut files,
            "deb http://x/ s main",
            "/etc/apt/sources.list.d/x.list"
        ));
        assert_eq!(
            render(&files[0].1),
            "deb http://x/ s main\ndeb http://y/ s main\n"
        );
        assert!(add_source(
            &mut files,
            "deb http://z/ s main",
            "/etc/apt/sources.list.d/z.list"
        ));
        remove_source(&mut files, "deb http://y/ s main");
        assert_eq!(render(&files[0].1), "deb http://x/ s main\n");
        remove_source(&mut files, "deb http://z/ s main");
        assert_eq!(dump(&files).len(), 1);
    }
}
