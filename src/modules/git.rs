//! `git`: clones a repository onto the target and keeps a checkout at the
//! version asked for, as Ansible's git module does: clone when there is no
//! repository, otherwise fetch and switch; `before`/`after` are the HEAD
//! shas. Every git command is an argv run on the target in Ansible's best
//! parsable locale and with `GIT_TERMINAL_PROMPT=0`; check mode only looks
//! (`ls-remote`, `rev-parse`, `status`) and compares the remote sha with
//! the local HEAD.

use async_trait::async_trait;
use minijinja::Value;

use super::command::{add_lines, py_shlex_quote};
use super::file::{SResult, expand_user, fail, fail_with, finish, join};
use super::sysexec::{best_parsable_locale, find_bin, missing_bin};
use super::{
    Args, DiffSupport, FileDiff, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::{ExecRequest, FileKind};
use crate::template::vmap;

pub struct Git;

static SPEC: ModuleSpec = ModuleSpec {
    name: "git",
    params: &[
        Param::new("repo", ParamType::Str)
            .aliases(&["name"])
            .required(),
        Param::new("dest", ParamType::Path),
        Param::new("version", ParamType::Str),
        Param::new("remote", ParamType::Str),
        Param::new("refspec", ParamType::Str),
        Param::new("reference", ParamType::Str),
        Param::new("force", ParamType::Bool),
        Param::new("depth", ParamType::Int),
        Param::new("clone", ParamType::Bool),
        Param::new("update", ParamType::Bool),
        Param::new("verify_commit", ParamType::Bool),
        Param::new("gpg_allowlist", ParamType::List).aliases(&["gpg_whitelist"]),
        Param::new("accept_hostkey", ParamType::Bool),
        Param::new("accept_newhostkey", ParamType::Bool),
        Param::new("key_file", ParamType::Path),
        Param::new("ssh_opts", ParamType::Str),
        Param::new("executable", ParamType::Path),
        Param::new("bare", ParamType::Bool),
        Param::new("recursive", ParamType::Bool),
        Param::new("single_branch", ParamType::Bool),
        Param::new("track_submodules", ParamType::Bool),
        Param::new("umask", ParamType::Raw),
        Param::new("archive", ParamType::Path),
        Param::new("archive_prefix", ParamType::Str),
        Param::new("separate_git_dir", ParamType::Path),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[
        &["separate_git_dir", "bare"],
        &["accept_hostkey", "accept_newhostkey"],
    ],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Clone a git repository onto the target and check out a branch, tag or commit.",
    check_note: "supported: `git ls-remote` is compared with the local HEAD, and nothing changes",
    diff: DiffSupport::Yes,
    notes: &[
        "Every git command is an argv run with `GIT_TERMINAL_PROMPT=0`; `accept_hostkey`, \
         `accept_newhostkey`, `key_file` and `ssh_opts` go into `GIT_SSH_COMMAND`, for ssh \
         repositories only.",
        "Refused: `archive`, `separate_git_dir` and `verify_commit` (so `gpg_allowlist` does \
         nothing).",
    ],
};

/// What a git command printed.
struct Ran {
    rc: i32,
    stdout: String,
    stderr: String,
}

/// Whether a repository address is reached over ssh (`ssh://`,
/// `git+ssh://`, or scp-like `[user@]host:path`).
fn is_ssh_repo(repo: &str) -> bool {
    let lower = repo.to_ascii_lowercase();
    if let Some((scheme, _)) = lower.split_once("://") {
        return scheme.contains("ssh");
    }
    // scp-like syntax: a colon before any slash.
    match (repo.find(':'), repo.find('/')) {
        (Some(c), Some(s)) => c < s,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Ansible's `set_git_ssh_env`: the ssh command git runs, with the user's
/// `ssh_opts`, host key acceptance, batch mode and the key file (quoted:
/// git runs the command through the shell).
fn ssh_command(
    ssh_opts: Option<&str>,
    accept_hostkey: bool,
    accept_newhostkey: bool,
    key_file: Option<&str>,
) -> String {
    let mut opts = ssh_opts.unwrap_or_default().trim().to_owned();
    fn add(opts: &mut String, o: &str) {
        if !opts.contains(o) {
            opts.push_str(" -o ");
            opts.push_str(o);
        }
    }
    if accept_hostkey {
        add(&mut opts, "StrictHostKeyChecking=no");
    }
    if accept_newhostkey && !opts.contains("StrictHostKeyChecking=no") {
        add(&mut opts, "StrictHostKeyChecking=accept-new");
    }
    add(&mut opts, "BatchMode=yes");
    if let Some(key) = key_file {
        opts.push_str(" -i ");
        opts.push_str(&py_shlex_quote(key));
        add(&mut opts, "IdentitiesOnly=yes");
    }
    format!("ssh {}", opts.trim_start())
}

/// Ansible's `unfrackgitpath` without touching the filesystem: the path
/// normalised as `os.path.normpath` does, so `file:///x/` and `file:/x`
/// compare equal.
fn unfrack(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// Ansible's `head_splitter`: the branch name in a `HEAD` file's first line
/// (`ref: refs/heads/main`, `ref: refs/remotes/origin/main`).
fn head_splitter(raw: &str, remote: &str) -> Option<String> {
    let first = raw.lines().next()?.trim_end();
    let newref = first.split(' ').next_back()?;
    if newref.is_empty() {
        return None;
    }
    let branch = newref
        .strip_prefix(&format!("refs/remotes/{remote}/"))
        .or_else(|| newref.strip_prefix("refs/heads/"))
        .unwrap_or_else(|| newref.splitn(3, '/').last().unwrap_or(newref));
    Some(branch.to_owned())
}

struct GitRun<'a> {
    ctx: &'a ModuleCtx<'a>,
    git: String,
    env: Vec<(String, String)>,
    umask: Option<u32>,
    repo: String,
    remote: String,
    depth: Option<i64>,
    bare: bool,
    check: bool,
}

impl GitRun<'_> {
    /// Runs git with `args` in `cwd` (when it is a directory, as Ansible's
    /// `run_command` only changes into existing directories).
    async fn git(&self, args: &[&str], cwd: Option<&str>, read_only: bool) -> SResult<Ran> {
        let mut argv: Vec<String> = Vec::new();
        if let Some(u) = self.umask {
            // The umask applies to the git process only; the argv stays an
            // argv ("$@"), never a string for the shell.
            argv.extend([
                "/bin/sh".to_owned(),
                "-c".to_owned(),
                format!("umask {u:04o} && exec \"$@\""),
                "git".to_owned(),
            ]);
        }
        argv.push(self.git.clone());
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut req = ExecRequest::argv(argv);
        req.env = self.env.clone();
        req.read_only = read_only || self.check;
        if let Some(c) = cwd
            && self
                .ctx
                .conn
                .stat(c, true)
                .await?
                .is_some_and(|s| s.kind == FileKind::Directory)
        {
            req.chdir = Some(c.to_owned());
        }
        let o = self.ctx.conn.exec(&req).await?;
        Ok(Ran {
            rc: o.rc,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        })
    }

    /// The command line as Ansible reports it in `cmd`.
    fn cmd_line(&self, args: &[&str]) -> String {
        std::iter::once(self.git.as_str())
            .chain(args.iter().copied())
            .map(py_shlex_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `run_command(..., check_rc=True)`: a failure ends the module with
    /// the command's output.
    async fn git_ok(&self, args: &[&str], cwd: Option<&str>, read_only: bool) -> SResult<Ran> {
        let r = self.git(args, cwd, read_only).await?;
        if r.rc != 0 {
            return Err(fail_with(
                r.stderr.trim_end(),
                &[
                    ("cmd", Value::from(self.cmd_line(args))),
                    ("rc", Value::from(r.rc)),
                    ("stdout", Value::from(r.stdout.as_str())),
                    ("stderr", Value::from(r.stderr.as_str())),
                ],
            ));
        }
        Ok(r)
    }

    fn repo_path(&self, dest: &str) -> String {
        if self.bare {
            dest.to_owned()
        } else {
            join(dest, ".git")
        }
    }

    /// Ansible's `get_repo_path`: `.git` may be a file naming the real
    /// git directory (`gitdir: …`).
    async fn real_repo_path(&self, dest: &str) -> SResult<String> {
        let path = self.repo_path(dest);
        let conn = self.ctx.conn;
        if conn
            .stat(&path, true)
            .await?
            .is_some_and(|s| s.kind == FileKind::File)
        {
            let data = conn.read_file(&path).await?.unwrap_or_default();
            let text = String::from_utf8_lossy(&data);
            let bad = || {
                fail_with(
                    "Current repo does not have a valid reference to a separate Git dir or it refers to the invalid path",
                    &[(
                        "details",
                        Value::from(".git file has invalid git dir reference format"),
                    )],
                )
            };
            let Some((prefix, gitdir)) = text.trim_end().split_once("gitdir: ") else {
                return Err(bad());
            };
            if !prefix.is_empty() {
                return Err(bad());
            }
            let repo_path = if gitdir.starts_with('/') {
                gitdir.to_owned()
            } else {
                join(dest, gitdir)
            };
            if !conn
                .stat(&repo_path, true)
                .await?
                .is_some_and(|s| s.kind == FileKind::Directory)
            {
                return Err(fail_with(
                    "Current repo does not have a valid reference to a separate Git dir or it refers to the invalid path",
                    &[(
                        "details",
                        Value::from(format!("{repo_path} is not a directory")),
                    )],
                ));
            }
            return Ok(repo_path);
        }
        Ok(path)
    }

    async fn get_version(&self, dest: &str) -> SResult<String> {
        let r = self.git(&["rev-parse", "HEAD"], Some(dest), true).await?;
        Ok(r.stdout.trim_end_matches('\n').to_owned())
    }

    async fn has_local_mods(&self, dest: &str) -> SResult<bool> {
        if self.bare {
            return Ok(false);
        }
        // `status` may refresh the index; it only looks in check mode.
        let r = self
            .git(
                &["--no-optional-locks", "status", "--porcelain"],
                Some(dest),
                true,
            )
            .await?;
        Ok(r.stdout.lines().any(|l| !l.starts_with("??")))
    }

    async fn reset(&self, dest: &str) -> SResult<()> {
        self.git_ok(&["reset", "--hard", "HEAD"], Some(dest), false)
            .await?;
        Ok(())
    }

    async fn get_branches(&self, dest: &str) -> SResult<Vec<String>> {
        let r = self
            .git(&["branch", "--no-color", "-a"], Some(dest), true)
            .await?;
        if r.rc != 0 {
            return Err(fail_with(
                format!("Could not determine branch data - received {}", r.stdout),
                &[
                    ("stdout", Value::from(r.stdout.as_str())),
                    ("stderr", Value::from(r.stderr.as_str())),
                ],
            ));
        }
        Ok(r.stdout
            .split('\n')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    async fn is_local_branch(&self, dest: &str, branch: &str) -> SResult<bool> {
        let branches = self.get_branches(dest).await?;
        Ok(branches
            .iter()
            .any(|b| b == branch || *b == format!("* {branch}")))
    }

    async fn is_not_a_branch(&self, dest: &str) -> SResult<bool> {
        Ok(self.get_branches(dest).await?.iter().any(|b| {
            b.starts_with("* ")
                && (b.contains("no branch")
                    || b.contains("detached from")
                    || b.contains("detached at"))
        }))
    }

    async fn get_head_branch(&self, dest: &str) -> SResult<String> {
        let repo_path = self.real_repo_path(dest).await?;
        let headfile = if self.is_not_a_branch(dest).await? {
            format!("{repo_path}/refs/remotes/{}/HEAD", self.remote)
        } else {
            join(&repo_path, "HEAD")
        };
        // A missing file gives Python's None, which Ansible formats into
        // the commands that follow (and which then fail as they do there).
        let data = self.ctx.conn.read_file(&headfile).await?;
        Ok(data
            .and_then(|d| head_splitter(&String::from_utf8_lossy(&d), &self.remote))
            .unwrap_or_else(|| "None".to_owned()))
    }

    async fn is_remote_branch(&self, dest: &str, remote: &str, version: &str) -> SResult<bool> {
        let r = self
            .git_ok(
                &["ls-remote", remote, "-h", &format!("refs/heads/{version}")],
                Some(dest),
                true,
            )
            .await?;
        Ok(r.stdout.contains(version))
    }

    async fn is_remote_tag(&self, dest: &str, remote: &str, version: &str) -> SResult<bool> {
        let r = self
            .git_ok(
                &["ls-remote", remote, "-t", &format!("refs/tags/{version}")],
                Some(dest),
                true,
            )
            .await?;
        Ok(r.stdout.contains(version))
    }

    /// Ansible's `get_remote_head`: the sha `version` names on `remote`.
    async fn get_remote_head(&self, dest: &str, version: &str, remote: &str) -> SResult<String> {
        let cloning = remote == self.repo;
        let cwd = if cloning { None } else { Some(dest) };
        let mut tag = false;
        let args: Vec<String> = if version == "HEAD" {
            if cloning {
                vec![
                    "ls-remote".into(),
                    remote.into(),
                    "-h".into(),
                    "HEAD".into(),
                ]
            } else {
                let head = self.get_head_branch(dest).await?;
                vec![
                    "ls-remote".into(),
                    remote.into(),
                    "-h".into(),
                    format!("refs/heads/{head}"),
                ]
            }
        } else if self.is_remote_branch(dest, remote, version).await? {
            vec![
                "ls-remote".into(),
                remote.into(),
                "-h".into(),
                format!("refs/heads/{version}"),
            ]
        } else if self.is_remote_tag(dest, remote, version).await? {
            tag = true;
            vec![
                "ls-remote".into(),
                remote.into(),
                "-t".into(),
                format!("refs/tags/{version}*"),
            ]
        } else {
            // A sha: it cannot be looked up on the remote.
            return Ok(version.to_owned());
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = match cwd {
            Some(c) => self.git_ok(&args, Some(c), true).await?,
            None => self.git_ok(&args, None, true).await?,
        };
        if r.stdout.is_empty() {
            return Err(fail_with(
                format!("Could not determine remote revision for {version}"),
                &[
                    ("stdout", Value::from(r.stdout.as_str())),
                    ("stderr", Value::from(r.stderr.as_str())),
                    ("rc", Value::from(r.rc)),
                ],
            ));
        }
        let mut out = r.stdout.clone();
        if tag {
            // The dereferenced commit of an annotated tag wins.
            for line in r.stdout.split('\n') {
                if line.ends_with(&format!("{version}^{{}}")) {
                    out = line.to_owned();
                    break;
                } else if line.ends_with(version) {
                    out = line.to_owned();
                }
            }
        }
        Ok(out.split_whitespace().next().unwrap_or_default().to_owned())
    }

    async fn get_remote_url(&self, dest: &str) -> SResult<Option<String>> {
        let r = self
            .git(&["ls-remote", "--get-url", &self.remote], Some(dest), true)
            .await?;
        if r.rc != 0 {
            return Ok(None);
        }
        Ok(Some(r.stdout.trim_end_matches('\n').to_owned()))
    }

    fn same_url(&self, url: &str) -> bool {
        url == self.repo || unfrack(url) == unfrack(&self.repo)
    }

    /// Points `remote` at `repo`; whether its address changed.
    async fn set_remote_url(&self, dest: &str) -> SResult<bool> {
        let url = self.get_remote_url(dest).await?;
        if url.as_deref().is_some_and(|u| self.same_url(u)) {
            return Ok(false);
        }
        let r = self
            .git(
                &["remote", "set-url", &self.remote, &self.repo],
                Some(dest),
                false,
            )
            .await?;
        if r.rc != 0 {
            return Err(fail(format!(
                "Failed to set a new url {} for {}: {} {}",
                self.repo, self.remote, r.stdout, r.stderr
            )));
        }
        Ok(url.is_some())
    }

    async fn clone(
        &self,
        dest: &str,
        version: &str,
        reference: Option<&str>,
        refspec: Option<&str>,
        single_branch: bool,
    ) -> SResult<()> {
        let parent = super::file::dirname(dest);
        if !parent.is_empty() {
            let _ = self
                .ctx
                .conn
                .exec(&ExecRequest::argv(["mkdir", "-p", "--", parent.as_str()]))
                .await;
        }
        let mut args: Vec<String> = vec!["clone".into()];
        if self.bare {
            args.push("--bare".into());
        } else {
            args.extend(["--origin".into(), self.remote.clone()]);
        }
        let is_branch_or_tag = self.is_remote_branch(dest, &self.repo, version).await?
            || self.is_remote_tag(dest, &self.repo, version).await?;
        if let Some(depth) = self.depth.filter(|d| *d != 0) {
            if version == "HEAD" || refspec.is_some() {
                args.extend(["--depth".into(), depth.to_string()]);
            } else if is_branch_or_tag {
                args.extend(["--depth".into(), depth.to_string()]);
                args.extend(["--branch".into(), version.to_owned()]);
            }
            // Otherwise Ansible warns and ignores depth (a sha is not fetchable).
        }
        if let Some(r) = reference {
            args.extend(["--reference".into(), r.to_owned()]);
        }
        if single_branch {
            args.push("--single-branch".into());
            if is_branch_or_tag {
                args.extend(["--branch".into(), version.to_owned()]);
            }
        }
        args.extend([self.repo.clone(), dest.to_owned()]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.git_ok(&a, Some(&parent), false).await?;
        if self.bare && self.remote != "origin" {
            self.git_ok(
                &["remote", "add", &self.remote, &self.repo],
                Some(dest),
                false,
            )
            .await?;
        }
        if let Some(rs) = refspec {
            let mut args: Vec<String> = vec!["fetch".into()];
            if let Some(depth) = self.depth.filter(|d| *d != 0) {
                args.extend(["--depth".into(), depth.to_string()]);
            }
            args.extend([self.remote.clone(), rs.to_owned()]);
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            self.git_ok(&a, Some(dest), false).await?;
        }
        Ok(())
    }

    /// Ansible's `fetch`: downloads what `version` needs (everything, unless
    /// `depth` allows a minimal set of refs).
    async fn fetch(
        &self,
        dest: &str,
        version: &str,
        refspec: Option<&str>,
        force: bool,
    ) -> SResult<()> {
        self.set_remote_url(dest).await?;
        let mut fetch_cmd: Vec<String> = vec!["fetch".into()];
        let mut refspecs: Vec<String> = Vec::new();
        let depth = self.depth.filter(|d| *d != 0);
        if let Some(depth) = depth {
            let currenthead = self.get_head_branch(dest).await?;
            if let Some(rs) = refspec {
                refspecs.push(rs.to_owned());
            } else if version == "HEAD" {
                refspecs.push(currenthead);
            } else if self.is_remote_branch(dest, &self.repo, version).await? {
                if currenthead != version {
                    refspecs.push(format!("+refs/heads/{version}:refs/heads/{version}"));
                }
                refspecs.push(format!(
                    "+refs/heads/{version}:refs/remotes/{}/{version}",
                    self.remote
                ));
            } else if self.is_remote_tag(dest, &self.repo, version).await? {
                refspecs.push(format!("+refs/tags/{version}:refs/tags/{version}"));
            }
            if !refspecs.is_empty() {
                fetch_cmd.extend(["--depth".into(), depth.to_string()]);
            }
        }
        if depth.is_none() || refspecs.is_empty() {
            if self.bare {
                refspecs = vec![
                    "+refs/heads/*:refs/heads/*".into(),
                    "+refs/tags/*:refs/tags/*".into(),
                ];
            } else {
                fetch_cmd.push("--tags".into());
            }
            if let Some(rs) = refspec {
                refspecs.push(rs.to_owned());
            }
        }
        if force {
            fetch_cmd.push("--force".into());
        }
        fetch_cmd.push(self.remote.clone());
        fetch_cmd.extend(refspecs);
        let a: Vec<&str> = fetch_cmd.iter().map(String::as_str).collect();
        let r = self.git(&a, Some(dest), false).await?;
        if r.rc != 0 {
            return Err(fail_with(
                format!(
                    "Failed to download remote objects and refs: {} {}",
                    r.stdout, r.stderr
                ),
                &[(
                    "cmd",
                    Value::from(
                        std::iter::once(self.git.clone())
                            .chain(fetch_cmd.iter().cloned())
                            .collect::<Vec<_>>(),
                    ),
                )],
            ));
        }
        Ok(())
    }

    /// Ansible's `switch_version`: checks out `version` (a branch tracks
    /// its remote branch, a tag or sha is checked out detached).
    async fn switch_version(&self, dest: &str, version: &str) -> SResult<()> {
        let remote = self.remote.as_str();
        let checkout_fail = |what: String, r: &Ran, cmd: Option<String>| {
            let mut data = vec![
                ("stdout", Value::from(r.stdout.as_str())),
                ("stderr", Value::from(r.stderr.as_str())),
                ("rc", Value::from(r.rc)),
            ];
            if let Some(c) = cmd {
                data.push(("cmd", Value::from(c)));
            }
            fail_with(what, &data)
        };
        let (args, what): (Vec<String>, String) = if version == "HEAD" {
            let branch = self.get_head_branch(dest).await?;
            let r = self
                .git(&["checkout", "--force", &branch], Some(dest), false)
                .await?;
            if r.rc != 0 {
                return Err(checkout_fail(
                    format!("Failed to checkout branch {branch}"),
                    &r,
                    None,
                ));
            }
            (
                vec![
                    "reset".into(),
                    "--hard".into(),
                    format!("{remote}/{branch}"),
                    "--".into(),
                ],
                format!("Failed to checkout branch {branch}"),
            )
        } else if self.is_remote_branch(dest, remote, version).await? {
            if let Some(depth) = self.depth.filter(|d| *d != 0)
                && !self.is_local_branch(dest, version).await?
            {
                let r = self
                    .git(
                        &[
                            "fetch",
                            &format!("--depth={depth}"),
                            remote,
                            &format!("+refs/heads/{version}:refs/heads/{version}"),
                            &format!("+refs/heads/{version}:refs/remotes/{remote}/{version}"),
                        ],
                        Some(dest),
                        false,
                    )
                    .await?;
                if r.rc != 0 {
                    return Err(checkout_fail(
                        format!("Failed to fetch branch from remote: {version}"),
                        &r,
                        None,
                    ));
                }
            }
            if !self.is_local_branch(dest, version).await? {
                (
                    vec![
                        "checkout".into(),
                        "--track".into(),
                        "-b".into(),
                        version.to_owned(),
                        format!("{remote}/{version}"),
                    ],
                    format!("Failed to checkout {version}"),
                )
            } else {
                let r = self
                    .git(&["checkout", "--force", version], Some(dest), false)
                    .await?;
                if r.rc != 0 {
                    return Err(checkout_fail(
                        format!("Failed to checkout branch {version}"),
                        &r,
                        None,
                    ));
                }
                (
                    vec![
                        "reset".into(),
                        "--hard".into(),
                        format!("{remote}/{version}"),
                    ],
                    format!("Failed to checkout {version}"),
                )
            }
        } else {
            (
                vec!["checkout".into(), "--force".into(), version.to_owned()],
                format!("Failed to checkout {version}"),
            )
        };
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = self.git(&a, Some(dest), false).await?;
        if r.rc != 0 {
            return Err(checkout_fail(what, &r, Some(self.cmd_line(&a))));
        }
        Ok(())
    }

    /// Ansible's `get_diff`: the text `--diff` shows for the change.
    async fn get_diff(&self, dest: &str, before: Option<&str>, after: &str) -> SResult<String> {
        let Some(before) = before else {
            return Ok(format!(">> Newly checked out {after}"));
        };
        if before == after {
            return Ok(String::new());
        }
        // The objects must be there for `git diff` (check mode cannot fetch).
        if !self.check {
            self.fetch(dest, after, None, false).await?;
        }
        let r = self.git(&["diff", before, after], Some(dest), true).await?;
        Ok(if r.rc == 0 && !r.stdout.is_empty() {
            r.stdout
        } else if r.rc == 0 {
            format!(">> No visual differences between {before} and {after}")
        } else if !r.stderr.is_empty() {
            format!(
                ">> Failed to get proper diff between {before} and {after}:\n>> {}",
                r.stderr
            )
        } else {
            format!(">> Failed to get proper diff between {before} and {after}")
        })
    }

    /// Submodules: whether any is missing or not at its recorded commit
    /// (`git submodule status` marks them `-` and `+`).
    async fn submodules_outdated(&self, dest: &str) -> SResult<bool> {
        if self
            .ctx
            .conn
            .stat(&join(dest, ".gitmodules"), true)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let r = self
            .git(&["submodule", "status", "--recursive"], Some(dest), true)
            .await?;
        Ok(r.stdout
            .lines()
            .any(|l| l.starts_with('-') || l.starts_with('+')))
    }

    async fn submodule_update(&self, dest: &str, track: bool, force: bool) -> SResult<()> {
        self.git_ok(&["submodule", "sync"], Some(dest), false)
            .await?;
        let mut args = vec!["submodule", "update", "--init", "--recursive"];
        if track {
            args.push("--remote");
        }
        if force {
            args.push("--force");
        }
        self.git_ok(&args, Some(dest), false).await?;
        Ok(())
    }
}

/// The `diff` result value and the text `--diff` shows.
fn attach_diff(ctx: &ModuleCtx<'_>, out: &mut Outcome, text: String) {
    if text.is_empty() {
        return;
    }
    out.set("diff", vmap([("prepared", Value::from(text.as_str()))]));
    if ctx.diff {
        out.diffs.push(FileDiff::prepared(text));
    }
}

/// `umask`: a quoted octal string, as Ansible requires.
fn parse_umask(v: &Value) -> SResult<u32> {
    if !super::is_string(v) {
        return Err(fail("umask must be defined as a quoted octal integer"));
    }
    let text = v.to_string();
    u32::from_str_radix(text.trim(), 8)
        .ok()
        .filter(|n| *n <= 0o7777)
        .ok_or_else(|| {
            fail_with(
                "umask must be an octal integer",
                &[(
                    "details",
                    Value::from(format!("invalid literal for int() with base 8: '{text}'")),
                )],
            )
        })
}

async fn run_git(args: &Args, ctx: &ModuleCtx<'_>) -> SResult<Outcome> {
    let version = args.str_or("version", "HEAD");
    let remote = args.str_or("remote", "origin");
    let force = args.bool_or("force", false);
    let depth = args.int("depth");
    let update = args.bool_or("update", true);
    let allow_clone = args.bool_or("clone", true);
    let bare = args.bool_or("bare", false);
    let recursive = args.bool_or("recursive", true);
    let single_branch = args.bool_or("single_branch", false);
    let track_submodules = args.bool_or("track_submodules", false);
    let refspec = args.str("refspec").filter(|s| !s.is_empty());
    let reference = args.str("reference").filter(|s| !s.is_empty());
    for unsupported in ["archive", "separate_git_dir"] {
        if args.str(unsupported).is_some_and(|s| !s.is_empty()) {
            return Err(fail(format!(
                "the '{unsupported}' parameter is not supported by hoist"
            )));
        }
    }
    if args.str("archive_prefix").is_some() && args.str("archive").is_none() {
        return Err(fail(
            "missing parameter(s) required by 'archive_prefix': archive",
        ));
    }
    if args.bool_or("verify_commit", false) {
        return Err(fail(
            "the 'verify_commit' parameter (GPG signatures) is not supported by hoist",
        ));
    }
    let umask = match args.get("umask").filter(|v| !v.is_none()) {
        Some(v) => Some(parse_umask(v)?),
        None => None,
    };

    let git = match args.str("executable").filter(|s| !s.is_empty()) {
        Some(e) => e,
        None => find_bin(ctx, "git")
            .await?
            .ok_or_else(|| fail(missing_bin("git")))?,
    };

    // Local paths become file:// URLs (depth needs a protocol).
    let mut repo = args.str("repo").unwrap_or_default();
    let expanded = expand_user(ctx, &repo).await?;
    if expanded.starts_with('/') {
        repo = format!("file://{expanded}");
    }

    let locale = best_parsable_locale(ctx).await?;
    let mut env: Vec<(String, String)> = ["LANG", "LC_ALL", "LC_MESSAGES", "LC_CTYPE"]
        .iter()
        .map(|k| (k.to_string(), locale.clone()))
        .collect();
    env.push(("GIT_TERMINAL_PROMPT".into(), "0".into()));
    if is_ssh_repo(&repo) {
        let key = match args.str("key_file").filter(|k| !k.is_empty()) {
            Some(k) => Some(expand_user(ctx, &k).await?),
            None => None,
        };
        env.push((
            "GIT_SSH_COMMAND".into(),
            ssh_command(
                args.str("ssh_opts").as_deref(),
                args.bool_or("accept_hostkey", false),
                args.bool_or("accept_newhostkey", false),
                key.as_deref(),
            ),
        ));
    }

    let check = ctx.check_mode || ctx.predict;
    let g = GitRun {
        ctx,
        git,
        env,
        umask,
        repo: repo.clone(),
        remote: remote.clone(),
        depth,
        bare,
        check,
    };

    let dest = match args.str("dest").filter(|d| !d.is_empty()) {
        Some(d) => {
            let d = expand_user(ctx, &d).await?;
            let d = if d.starts_with('/') {
                d
            } else {
                join(&ctx.conn.home_dir().await?, &d)
            };
            Some(unfrack(&d))
        }
        None if allow_clone => {
            return Err(fail(
                "the destination directory must be specified unless clone=no",
            ));
        }
        None => None,
    };
    let gitconfig = match &dest {
        Some(d) => Some(join(&g.real_repo_path(d).await?, "config")),
        None => None,
    };
    let has_config = match &gitconfig {
        Some(c) => ctx.conn.stat(c, true).await?.is_some(),
        None => false,
    };
    let dest_s = dest.clone().unwrap_or_default();

    let mut out = Outcome::changed(false);
    out.set("before", Value::from(()));
    let mut before: Option<String> = None;
    let mut local_mods = false;
    let mut remote_url_changed = false;

    if (dest.is_some() && !has_config) || (dest.is_none() && !allow_clone) {
        if check || !allow_clone {
            let head = g.get_remote_head(&dest_s, &version, &repo).await?;
            out.changed = true;
            out.set("after", head.as_str());
            if ctx.diff {
                let text = g.get_diff(&dest_s, None, &head).await?;
                attach_diff(ctx, &mut out, text);
            }
            return Ok(out);
        }
        g.clone(
            &dest_s,
            &version,
            reference.as_deref(),
            refspec.as_deref(),
            single_branch,
        )
        .await?;
    } else if !update {
        let v = g.get_version(&dest_s).await?;
        out.set("before", v.as_str());
        out.set("after", v.as_str());
        return Ok(out);
    } else {
        local_mods = g.has_local_mods(&dest_s).await?;
        let b = g.get_version(&dest_s).await?;
        out.set("before", b.as_str());
        before = Some(b.clone());
        if local_mods {
            if !force {
                return Err(fail_with(
                    format!("Local modifications exist in the destination: {dest_s} (force=no)."),
                    &[("before", Value::from(b.as_str()))],
                ));
            }
            if !check {
                g.reset(&dest_s).await?;
                out.changed = true;
                out.msg = Some(format!(
                    "Local modifications exist in the destination: {dest_s}"
                ));
            }
        }
        if check {
            let url = g.get_remote_url(&dest_s).await?;
            remote_url_changed = url.is_some_and(|u| !u.is_empty() && !g.same_url(&u));
        } else {
            remote_url_changed = g.set_remote_url(&dest_s).await?;
        }
        out.set("remote_url_changed", remote_url_changed);
        if check {
            let head = g.get_remote_head(&dest_s, &version, &remote).await?;
            out.changed = b != head || remote_url_changed;
            out.set("after", head.as_str());
            if ctx.diff {
                let text = g.get_diff(&dest_s, Some(&b), &head).await?;
                attach_diff(ctx, &mut out, text);
            }
            return Ok(out);
        }
        g.fetch(&dest_s, &version, refspec.as_deref(), force)
            .await?;
    }

    if !bare {
        g.switch_version(&dest_s, &version).await?;
    }
    let mut submodules_updated = false;
    if recursive && !bare && g.submodules_outdated(&dest_s).await? {
        submodules_updated = true;
        out.set("submodules_changed", true);
        g.submodule_update(&dest_s, track_submodules, force).await?;
    }
    let after = g.get_version(&dest_s).await?;
    out.set("after", after.as_str());
    if before.as_deref() != Some(after.as_str())
        || local_mods
        || submodules_updated
        || remote_url_changed
    {
        out.changed = true;
        if ctx.diff {
            let text = g.get_diff(&dest_s, before.as_deref(), &after).await?;
            attach_diff(ctx, &mut out, text);
        }
    }
    Ok(out)
}

#[async_trait]
impl Module for Git {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let mut out = finish(run_git(args, ctx).await)?;
        // A failed command's output also comes as lines, as Ansible adds them.
        add_lines(&mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_repos() {
        assert!(is_ssh_repo("git@github.com:a/b.git"));
        assert!(is_ssh_repo("ssh://git@host/a.git"));
        assert!(is_ssh_repo("git+ssh://host/a.git"));
        assert!(!is_ssh_repo("https://host/a.git"));
        assert!(!is_ssh_repo("file:///srv/a.git"));
        assert!(!is_ssh_repo("/srv/a:b.git"));
    }

    #[test]
    fn ssh_commands() {
        assert_eq!(
            ssh_command(None, false, false, None),
            "ssh -o BatchMode=yes"
        );
        assert_eq!(
            ssh_command(Some("-p 2222"), true, false, Some("/k/my key")),
            "ssh -p 2222 -o StrictHostKeyChecking=no -o BatchMode=yes -i '/k/my key' -o IdentitiesOnly=yes"
        );
        assert_eq!(
            ssh_command(None, false, true, None),
            "ssh -o StrictHostKeyChecking=accept-new -o BatchMode=yes"
        );
    }

    #[test]
    fn normalises_urls() {
        assert_eq!(unfrack("file:///srv/a.git/"), "file:/srv/a.git");
        assert_eq!(unfrack("/srv/./x/../a"), "/srv/a");
        assert_eq!(unfrack("file:/srv/a.git"), unfrack("file:///srv/a.git"));
    }

    #[test]
    fn head_files() {
        assert_eq!(
            head_splitter("ref: refs/heads/main\n", "origin").as_deref(),
            Some("main")
        );
        assert_eq!(
            head_splitter("ref: refs/remotes/origin/feature/x\n", "origin").as_deref(),
            Some("feature/x")
        );
        assert_eq!(
            head_splitter("ref: refs/heads/feature/x\n", "origin").as_deref(),
            Some("feature/x")
        );
        assert_eq!(head_splitter("", "origin"), None);
    }
}
