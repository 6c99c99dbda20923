//! File operations as POSIX shell scripts, for any transport that can run a
//! command line: SSH exec channels, and `become` (sudo/su) on any host.
//!
//! Every path and argument is single-quoted by [`quote`]; nothing a user or
//! a host controls is ever interpreted by the remote shell.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::trace;
use super::{
    ConnError, ConnResult, Connection, ExecOutput, ExecRequest, FileAttrs, FileKind, FileStat,
};

/// Runs one shell command line on a host.
#[async_trait]
pub trait ScriptRunner: Send + Sync {
    /// Runs `command` with `/bin/sh -c` semantics, feeding `stdin`.
    async fn run(&self, command: &str, stdin: Option<&[u8]>) -> ConnResult<ExecOutput>;
    /// Runs a short script of hoist's own, with no standard input, that
    /// leaves nothing running (a probe, a chmod): the SSH transport runs it
    /// in the shell it keeps open on the host instead of a new exec
    /// channel. Anything else runs it as [`ScriptRunner::run`].
    async fn run_short(&self, command: &str) -> ConnResult<ExecOutput> {
        self.run(command, None).await
    }
    /// A short description for messages (`ssh root@web1`, `local`).
    fn describe(&self) -> String;
    /// Copies `data` into a new file at `path` (mode 0600) by a file
    /// transfer protocol; `Ok(false)` when the transport has none, so the
    /// caller falls back to piping the data into a command.
    async fn upload(&self, _path: &str, _data: &[u8]) -> ConnResult<bool> {
        Ok(false)
    }
    /// How commands reach the host (see [`Connection::transport`]).
    fn transport(&self) -> &'static str {
        "unknown"
    }
    /// Tells the task's trace how the host is reached, once per task
    /// (`ESTABLISH … CONNECTION`, `-vvv`).
    async fn establish(&self) {}
    /// Drops the transport's connection and opens a new one now (see
    /// [`Connection::reconnect`]).
    async fn reconnect(&self, _connect_timeout: Option<std::time::Duration>) -> ConnResult<()> {
        Ok(())
    }
}

/// Files at least this big go by file transfer when the transport has one.
pub const UPLOAD_THRESHOLD: usize = 64 * 1024;

/// Single-quotes a word for the POSIX shell.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// An argv as one shell command line.
pub fn join_argv(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// How to run commands as another user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Become {
    pub method: String,
    pub user: String,
    pub password: Option<String>,
    pub flags: Option<String>,
}

/// Wraps every command in `sudo` or `su`.
pub struct BecomeRunner {
    inner: Arc<dyn ScriptRunner>,
    spec: Become,
    /// Whether sudo needs the password (probed once with `sudo -n true`).
    needs_password: OnceCell<bool>,
}

impl BecomeRunner {
    pub fn new(inner: Arc<dyn ScriptRunner>, spec: Become) -> BecomeRunner {
        BecomeRunner {
            inner,
            spec,
            needs_password: OnceCell::new(),
        }
    }
}

impl BecomeRunner {
    /// Hands a wrapped command to the inner runner, short when it can be.
    async fn pass(
        &self,
        wrapped: String,
        stdin: Option<&[u8]>,
        short: bool,
    ) -> ConnResult<ExecOutput> {
        match stdin {
            None if short => self.inner.run_short(&wrapped).await,
            _ => self.inner.run(&wrapped, stdin).await,
        }
    }

    /// Runs `command` as the become user; `short` as [`ScriptRunner::run_short`]
    /// (not with a password: sudo reads it on standard input).
    async fn go(&self, command: &str, stdin: Option<&[u8]>, short: bool) -> ConnResult<ExecOutput> {
        let user = quote(&self.spec.user);
        let flags = self.spec.flags.clone().unwrap_or_else(|| "-H".to_owned());
        match self.spec.method.as_str() {
            "sudo" => {
                let needs = *self
                    .needs_password
                    .get_or_try_init(|| async {
                        let probe = format!("sudo -n {flags} -u {user} -- /bin/sh -c true");
                        let out = self.inner.run(&probe, None).await?;
                        trace::emit(trace::DETAILS, || {
                            trace::TraceEvent::Detail(format!(
                                "BECOME: probed `{probe}`: rc={} (a password is {}needed)",
                                out.rc,
                                if out.rc == 0 { "not " } else { "" }
                            ))
                        });
                        Ok::<bool, ConnError>(out.rc != 0)
                    })
                    .await?;
                if !needs {
                    trace::once("become", trace::DETAILS, || {
                        trace::TraceEvent::Detail(format!(
                            "BECOME: runs commands as `sudo -n {flags} -u {user} -- /bin/sh -c <command>`"
                        ))
                    });
                    let wrapped =
                        format!("sudo -n {flags} -u {user} -- /bin/sh -c {}", quote(command));
                    return self.pass(wrapped, stdin, short).await;
                }
                let Some(pw) = &self.spec.password else {
                    return Err(ConnError::failed(
                        "Missing sudo password (use -K/--ask-become-pass or set ansible_become_password)",
                    ));
                };
                // -k: never use cached credentials, so sudo always reads the
                // password line and the command gets exactly the rest of stdin.
                // The password goes on standard input, which no trace shows.
                trace::once("become", trace::DETAILS, || {
                    trace::TraceEvent::Detail(format!(
                        "BECOME: runs commands as `sudo -k -S -p '' {flags} -u {user} -- /bin/sh -c <command>`, \
                         the password first on its standard input (not shown)"
                    ))
                });
                let wrapped = format!(
                    "sudo -k -S -p '' {flags} -u {user} -- /bin/sh -c {}",
                    quote(command)
                );
                let mut data = Vec::with_capacity(pw.len() + 1 + stdin.map_or(0, <[u8]>::len));
                data.extend_from_slice(pw.as_bytes());
                data.push(b'\n');
                if let Some(s) = stdin {
                    data.extend_from_slice(s);
                }
                let out = self.inner.run(&wrapped, Some(&data)).await?;
                let err = String::from_utf8_lossy(&out.stderr);
                if out.rc != 0
                    && (err.contains("incorrect password") || err.contains("Sorry, try again"))
                {
                    return Err(ConnError::failed("Incorrect sudo password"));
                }
                Ok(out)
            }
            "su" => {
                if self.spec.password.is_some() {
                    return Err(ConnError::failed(
                        "become_method su with a password needs a terminal; use sudo, or connect as root",
                    ));
                }
                trace::once("become", trace::DETAILS, || {
                    trace::TraceEvent::Detail(format!(
                        "BECOME: runs commands as `su -s /bin/sh {user} -c <command>`"
                    ))
                });
                let wrapped = format!("su -s /bin/sh {user} -c {}", quote(command));
                self.pass(wrapped, stdin, short).await
            }
            other => Err(ConnError::failed(format!(
                "become_method '{other}' is not supported (hoist supports sudo and su)"
            ))),
        }
    }
}

#[async_trait]
impl ScriptRunner for BecomeRunner {
    async fn run(&self, command: &str, stdin: Option<&[u8]>) -> ConnResult<ExecOutput> {
        self.go(command, stdin, false).await
    }
    async fn run_short(&self, command: &str) -> ConnResult<ExecOutput> {
        self.go(command, None, true).await
    }

    fn describe(&self) -> String {
        format!(
            "{} ({} {})",
            self.inner.describe(),
            self.spec.method,
            self.spec.user
        )
    }
    fn transport(&self) -> &'static str {
        self.inner.transport()
    }
    async fn reconnect(&self, connect_timeout: Option<std::time::Duration>) -> ConnResult<()> {
        self.inner.reconnect(connect_timeout).await
    }
    async fn establish(&self) {
        self.inner.establish().await;
    }
}

/// Runs command lines on the controller with `/bin/sh -c`.
pub struct LocalRunner;

#[async_trait]
impl ScriptRunner for LocalRunner {
    async fn run(&self, command: &str, stdin: Option<&[u8]>) -> ConnResult<ExecOutput> {
        let req = ExecRequest {
            argv: vec!["/bin/sh".into(), "-c".into(), command.into()],
            stdin: stdin.map(<[u8]>::to_vec),
            ..ExecRequest::default()
        };
        super::local::run_request(&req).await
    }

    fn describe(&self) -> String {
        "local".into()
    }
    async fn establish(&self) {
        super::local::establish();
    }
    fn transport(&self) -> &'static str {
        "local"
    }
}

/// A [`Connection`] whose every operation is a shell script.
pub struct ShellConnection {
    runner: Arc<dyn ScriptRunner>,
    home: OnceCell<String>,
}

impl ShellConnection {
    pub fn new(runner: Arc<dyn ScriptRunner>) -> ShellConnection {
        ShellConnection {
            runner,
            home: OnceCell::new(),
        }
    }

    /// Runs a script; a non-zero exit becomes an error with its stderr.
    async fn script(
        &self,
        what: &str,
        script: &str,
        stdin: Option<&[u8]>,
    ) -> ConnResult<ExecOutput> {
        let out = self.run(script, stdin).await?;
        if out.rc != 0 {
            let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            return Err(ConnError::failed(if err.is_empty() {
                format!("{what} failed (exit {})", out.rc)
            } else {
                format!("{what}: {err}")
            }));
        }
        Ok(out)
    }

    /// Runs one of this connection's own scripts, told to the task's trace
    /// (`-vv`) as it is. Without standard input it is short (see
    /// [`ScriptRunner::run_short`]): these scripts leave nothing running.
    async fn run(&self, script: &str, stdin: Option<&[u8]>) -> ConnResult<ExecOutput> {
        self.traced(script, stdin, || script.to_owned(), false, true)
            .await
    }

    /// Runs a script, told to the task's trace as `shown` says (never its
    /// standard input; with `file_content`, its output only as a size);
    /// `short` as [`ScriptRunner::run_short`] when there is no input.
    async fn traced(
        &self,
        script: &str,
        stdin: Option<&[u8]>,
        shown: impl FnOnce() -> String,
        file_content: bool,
        short: bool,
    ) -> ConnResult<ExecOutput> {
        if trace::enabled(trace::CONNECTION) {
            self.runner.establish().await;
        }
        let started = trace::command(shown, stdin.is_some_and(|s| !s.is_empty()));
        let out = match stdin {
            None if short => self.runner.run_short(script).await,
            _ => self.runner.run(script, stdin).await,
        };
        trace::finished(started, &out, file_content);
        out
    }

    /// Expands a leading `~` the way the remote shell would.
    async fn path(&self, path: &str) -> ConnResult<String> {
        if path == "~" {
            return self.home_dir().await;
        }
        if let Some(rest) = path.strip_prefix("~/") {
            return Ok(format!(
                "{}/{rest}",
                self.home_dir().await?.trim_end_matches('/')
            ));
        }
        Ok(path.to_owned())
    }
}

fn parse_kind(raw_mode: u32) -> FileKind {
    match raw_mode & 0o170000 {
        0o040000 => FileKind::Directory,
        0o120000 => FileKind::Symlink,
        0o010000 => FileKind::Fifo,
        0o140000 => FileKind::Socket,
        0o060000 => FileKind::BlockDevice,
        0o020000 => FileKind::CharDevice,
        _ => FileKind::File,
    }
}

/// Parses one line of `stat -c '%f|%u|%g|%U|%G|%s|%.9Y|%.9X|%.9Z|%i|%d|%h'`.
pub(crate) fn parse_stat(line: &str, link_target: Option<String>) -> Option<FileStat> {
    let f: Vec<&str> = line.trim_end().splitn(12, '|').collect();
    if f.len() != 12 {
        return None;
    }
    let raw = u32::from_str_radix(f[0], 16).ok()?;
    let name = |s: &str| {
        if s == "UNKNOWN" {
            None
        } else {
            Some(s.to_owned())
        }
    };
    let kind = parse_kind(raw);
    Some(FileStat {
        kind,
        mode: raw & 0o7777,
        uid: f[1].parse().ok()?,
        gid: f[2].parse().ok()?,
        owner: name(f[3]),
        group: name(f[4]),
        size: f[5].parse().ok()?,
        mtime: f[6].parse().ok()?,
        atime: f[7].parse().ok()?,
        ctime: f[8].parse().ok()?,
        inode: f[9].parse().ok()?,
        dev: f[10].parse().ok()?,
        nlink: f[11].parse().ok()?,
        link_target: if kind == FileKind::Symlink {
            link_target
        } else {
            None
        },
    })
}

pub(crate) const STAT_FORMAT: &str = "%f|%u|%g|%U|%G|%s|%.9Y|%.9X|%.9Z|%i|%d|%h";

/// The script behind `stat_both` for a quoted path: not a symlink, one
/// line (lstat = stat); a symlink, its lstat, its target, then the stat
/// of what it points to (an empty line when that does not exist); exit 3
/// when there is nothing at the path.
fn stat_both_script(p: &str) -> String {
    format!(
        "if [ -e {p} ] || [ -L {p} ]; then stat -c '{STAT_FORMAT}' -- {p} || exit 2; \
         if [ -L {p} ]; then readlink -- {p}; stat -L -c '{STAT_FORMAT}' -- {p} 2>/dev/null || echo; fi; \
         else exit 3; fi"
    )
}

/// How a script built on [`stat_both_script`] ended: `Ok(true)` when there
/// is nothing at the path (exit 3), `Ok(false)` when it ran, else the error
/// (`what` names the operation).
fn nothing_there(what: &str, path: &str, out: &ExecOutput) -> ConnResult<bool> {
    match out.rc {
        0 => Ok(false),
        3 => Ok(true),
        _ => Err(ConnError::failed(format!(
            "{what} {path}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// Whether a line of [`STAT_FORMAT`] output is a symlink's.
fn is_symlink_line(line: &[u8]) -> bool {
    let mode = line.split(|b| *b == b'|').next().unwrap_or_default();
    std::str::from_utf8(mode)
        .ok()
        .and_then(|m| u32::from_str_radix(m, 16).ok())
        .is_some_and(|raw| parse_kind(raw) == FileKind::Symlink)
}

/// Parses what [`stat_both_script`] printed.
fn parse_stat_both(path: &str, text: &str) -> ConnResult<(Option<FileStat>, Option<FileStat>)> {
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or_default();
    let bad = || ConnError::failed(format!("cannot parse stat output for {path}: {text}"));
    let target = lines.next().filter(|t| !t.is_empty()).map(str::to_owned);
    let lstat = parse_stat(first, target.clone()).ok_or_else(bad)?;
    if target.is_none() {
        return Ok((Some(lstat.clone()), Some(lstat)));
    }
    let followed = match lines.next().filter(|l| !l.trim().is_empty()) {
        Some(l) => Some(parse_stat(l, target).ok_or_else(bad)?),
        None => None,
    };
    Ok((Some(lstat), followed))
}

/// The hash of one `sha1sum` line (`\` first when the name was escaped).
fn parse_sha1sum(line: &[u8]) -> Option<String> {
    let line = line.strip_prefix(b"\\").unwrap_or(line);
    let hex = line.get(..40)?;
    hex.iter()
        .all(u8::is_ascii_hexdigit)
        .then(|| String::from_utf8_lossy(hex).to_ascii_lowercase())
}

/// A value unique within this run, for temporary names.
/// A temporary file uploaded for a write that has not been renamed yet.
/// If the write is abandoned (a task `timeout:`, a connection lost, a
/// second Ctrl-C), dropping this removes the file in the background.
struct Leftover {
    runner: Arc<dyn ScriptRunner>,
    path: Option<String>,
}

impl Drop for Leftover {
    fn drop(&mut self) {
        let Some(path) = self.path.take() else { return };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let runner = self.runner.clone();
        rt.spawn(async move {
            let _ = runner
                .run(&format!("rm -f -- {}", quote(&path)), None)
                .await;
        });
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (u64::from(std::process::id()) << 32) ^ N.fetch_add(1, Ordering::Relaxed)
}

/// A script that holds a secret, run without putting it on a command
/// line: the command reads the script's lines from standard input up to
/// an end line no script has, and evaluates them; the request's own
/// standard input follows, for the command the script runs. (The shell's
/// `read` takes one byte at a time from a pipe, so it never eats into
/// the data after the end line.)
pub(crate) fn script_on_stdin(script: &str, stdin: Option<&[u8]>) -> (String, Vec<u8>) {
    let end = format!("__HOIST_END_{:016x}", unique());
    let reader = format!(
        "__hoist_s=; while IFS= read -r __hoist_l; do \
         [ \"$__hoist_l\" = {end} ] && break; __hoist_s=\"$__hoist_s$__hoist_l\n\"; \
         done; eval \"$__hoist_s\""
    );
    let mut data = Vec::with_capacity(script.len() + end.len() + 2);
    data.extend_from_slice(script.as_bytes());
    data.push(b'\n');
    data.extend_from_slice(end.as_bytes());
    data.push(b'\n');
    if let Some(s) = stdin {
        data.extend_from_slice(s);
    }
    (reader, data)
}

/// The parent directory of a path as the remote shell sees it.
fn dirname(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => trimmed[..i].to_owned(),
        None => ".".into(),
    }
}

fn basename(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

#[async_trait]
impl Connection for ShellConnection {
    fn transport(&self) -> &'static str {
        self.runner.transport()
    }
    async fn reconnect(&self, connect_timeout: Option<std::time::Duration>) -> ConnResult<()> {
        self.runner.reconnect(connect_timeout).await
    }
    async fn exec(&self, req: &ExecRequest) -> ConnResult<ExecOutput> {
        if req.argv.is_empty() {
            return Err(ConnError::failed("no command given"));
        }
        let mut cmd = String::new();
        if let Some(dir) = &req.chdir {
            cmd.push_str(&format!("cd {} || exit 1; ", quote(&self.path(dir).await?)));
        }
        for (k, v) in &req.env {
            if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || k.is_empty() {
                return Err(ConnError::failed(format!(
                    "invalid environment variable name '{k}'"
                )));
            }
            cmd.push_str(&format!("{k}={} ", quote(v)));
        }
        // A missing program: report it as Python's subprocess would.
        cmd.push_str("exec ");
        cmd.push_str(&join_argv(&req.argv));
        // The trace shows environment values hidden (they often carry
        // tokens) and the words the module marked secret masked.
        let shown = || {
            let mut shown = String::new();
            if let Some(dir) = &req.chdir {
                shown.push_str(&format!("cd {} || exit 1; ", quote(dir)));
            }
            for (k, _) in &req.env {
                shown.push_str(&format!("{k}=<hidden> "));
            }
            shown.push_str("exec ");
            shown.push_str(&trace::shown_argv(&req.argv, &req.hidden));
            shown
        };
        // A secret never goes onto the host's command line (`ps` shows
        // it to every user there): the script travels on standard input.
        if crate::secrets::contains(&cmd) {
            let (reader, data) = script_on_stdin(&cmd, req.stdin.as_deref());
            return self.traced(&reader, Some(&data), shown, false, false).await;
        }
        self.traced(&cmd, req.stdin.as_deref(), shown, false, req.short)
            .await
    }

    async fn stat(&self, path: &str, follow: bool) -> ConnResult<Option<FileStat>> {
        let p = quote(&self.path(path).await?);
        let l = if follow { "-L " } else { "" };
        let script = format!(
            "if [ -e {p} ] || [ -L {p} ]; then stat {l}-c '{STAT_FORMAT}' -- {p} || exit 2; \
             if [ -L {p} ]; then readlink -- {p}; fi; else exit 3; fi"
        );
        let out = self.run(&script, None).await?;
        match out.rc {
            0 => {}
            3 => return Ok(None),
            _ => {
                // A dangling symlink followed: it "does not exist".
                if follow {
                    return Ok(None);
                }
                return Err(ConnError::failed(format!(
                    "cannot stat {path}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.split('\n');
        let first = lines.next().unwrap_or_default();
        let target = lines.next().filter(|t| !t.is_empty()).map(str::to_owned);
        parse_stat(first, target).map(Some).ok_or_else(|| {
            ConnError::failed(format!("cannot parse stat output for {path}: {first}"))
        })
    }

    async fn stat_both(&self, path: &str) -> ConnResult<(Option<FileStat>, Option<FileStat>)> {
        let p = quote(&self.path(path).await?);
        let out = self.run(&stat_both_script(&p), None).await?;
        if nothing_there("cannot stat", path, &out)? {
            return Ok((None, None));
        }
        parse_stat_both(path, &String::from_utf8_lossy(&out.stdout))
    }

    async fn checksum(&self, path: &str) -> ConnResult<Option<String>> {
        let p = quote(&self.path(path).await?);
        let script = format!(
            "[ -f {p} ] || exit 3; command -v sha1sum >/dev/null 2>&1 || exit 4; exec sha1sum -- {p}"
        );
        let out = self.run(&script, None).await?;
        match out.rc {
            0 => parse_sha1sum(&out.stdout)
                .map(Some)
                .ok_or_else(|| ConnError::failed(format!("cannot checksum {path}"))),
            3 => Ok(None),
            // No sha1sum on the host: read the file and hash it here.
            4 => Ok(self.read_file(path).await?.map(|d| super::sha1_hex(&d))),
            _ => Err(ConnError::failed(format!(
                "cannot read {path}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }

    async fn stat_both_checksum(&self, path: &str) -> ConnResult<super::StatsAndSum> {
        let p = quote(&self.path(path).await?);
        // The checksum line first ("-": not a regular file, "?": no
        // sha1sum there), then what `stat_both` prints.
        let script = format!(
            "if [ ! -f {p} ]; then echo -; elif command -v sha1sum >/dev/null 2>&1; then \
             sha1sum -- {p} || exit 2; else echo '?'; fi; {}",
            stat_both_script(&p)
        );
        let out = self.run(&script, None).await?;
        if nothing_there("cannot stat", path, &out)? {
            return Ok((None, None, None));
        }
        let Some(nl) = out.stdout.iter().position(|b| *b == b'\n') else {
            return Err(ConnError::failed(format!("cannot stat {path}: no output")));
        };
        let (first, rest) = out.stdout.split_at(nl + 1);
        let (lstat, stat) = parse_stat_both(path, &String::from_utf8_lossy(rest))?;
        let sum = match first {
            b"-\n" => None,
            b"?\n" => match &stat {
                Some(st) if st.kind == FileKind::File => {
                    self.read_file(path).await?.map(|d| super::sha1_hex(&d))
                }
                _ => None,
            },
            line => Some(
                parse_sha1sum(line)
                    .ok_or_else(|| ConnError::failed(format!("cannot checksum {path}")))?,
            ),
        };
        Ok((lstat, stat, sum))
    }

    async fn stat_both_content(&self, path: &str) -> ConnResult<super::StatsAndContent> {
        let p = quote(&self.path(path).await?);
        // What `stat_both` prints, then "C" and the content of a regular
        // file, or "N".
        let script = format!(
            "{}; if [ -f {p} ]; then echo C; exec cat -- {p}; fi; echo N",
            stat_both_script(&p)
        );
        let out = self
            .traced(&script, None, || script.clone(), true, true)
            .await?;
        if nothing_there("cannot read", path, &out)? {
            return Ok((None, None, None));
        }
        // One line, or three when the path is a symlink.
        let mut pos = 0;
        let line = |pos: &mut usize| -> Option<usize> {
            let nl = out.stdout[*pos..].iter().position(|b| *b == b'\n')?;
            *pos += nl + 1;
            Some(*pos)
        };
        let bad = || ConnError::failed(format!("cannot parse stat output for {path}"));
        line(&mut pos).ok_or_else(bad)?;
        if is_symlink_line(&out.stdout[..pos]) {
            line(&mut pos).ok_or_else(bad)?;
            line(&mut pos).ok_or_else(bad)?;
        }
        let (lstat, stat) = parse_stat_both(path, &String::from_utf8_lossy(&out.stdout[..pos]))?;
        let content = match out.stdout.get(pos..pos + 2) {
            Some(b"C\n") => Some(out.stdout[pos + 2..].to_vec()),
            Some(b"N\n") => None,
            _ => return Err(bad()),
        };
        Ok((lstat, stat, content))
    }

    async fn realpath(&self, path: &str) -> ConnResult<Option<String>> {
        if !path.starts_with('/') {
            return Ok(None);
        }
        let out = self
            .run(&format!("exec realpath -m -- {}", quote(path)), None)
            .await?;
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(real) = text.strip_suffix('\n') else {
            return Ok(None);
        };
        Ok((out.rc == 0 && real.starts_with('/') && !real.contains('\n')).then(|| real.to_owned()))
    }

    async fn read_files(&self, paths: &[&str]) -> ConnResult<Vec<ConnResult<Option<Vec<u8>>>>> {
        // Each file after a line "MARKER 0" (missing), "MARKER 1" (its
        // content follows) or "MARKER 2" (unreadable); the marker holds 128
        // random bits, so no file can hold it.
        let marker = super::random_marker("__hoist_file_")?;
        let mut script = String::new();
        for path in paths {
            let p = quote(&self.path(path).await?);
            script.push_str(&format!(
                "if [ ! -e {p} ]; then echo '{marker} 0'; elif [ -r {p} ] && [ ! -d {p} ]; then \
                 echo '{marker} 1'; cat -- {p}; else echo '{marker} 2'; fi; "
            ));
        }
        script.push_str("exit 0");
        let out = self
            .traced(&script, None, || script.clone(), true, true)
            .await?;
        if out.rc != 0 {
            return Err(ConnError::failed(format!(
                "cannot read {}: {}",
                paths.join(", "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let m = marker.as_bytes();
        let mut starts: Vec<usize> = out
            .stdout
            .windows(m.len())
            .enumerate()
            .filter(|(_, w)| *w == m)
            .map(|(i, _)| i)
            .collect();
        if starts.len() != paths.len() {
            return Err(ConnError::failed(format!(
                "cannot read {}: unexpected output",
                paths.join(", ")
            )));
        }
        starts.push(out.stdout.len());
        let mut files = Vec::with_capacity(paths.len());
        for (i, path) in paths.iter().enumerate() {
            let chunk = &out.stdout[starts[i] + m.len()..starts[i + 1]];
            files.push(match chunk.get(..3) {
                Some(b" 0\n") => Ok(None),
                Some(b" 1\n") => Ok(Some(chunk[3..].to_vec())),
                _ => Err(ConnError::failed(format!(
                    "cannot read {path}: Permission denied"
                ))),
            });
        }
        Ok(files)
    }

    async fn read_file(&self, path: &str) -> ConnResult<Option<Vec<u8>>> {
        let p = quote(&self.path(path).await?);
        let script = format!("[ -e {p} ] || exit 3; exec cat -- {p}");
        let out = self
            .traced(&script, None, || script.clone(), true, true)
            .await?;
        match out.rc {
            0 => Ok(Some(out.stdout)),
            3 => Ok(None),
            _ => Err(ConnError::failed(format!(
                "cannot read {path}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }

    async fn write_file(&self, path: &str, data: &[u8], attrs: &FileAttrs) -> ConnResult<()> {
        // A write under way is let finish after Ctrl-C (see `crate::interrupt`).
        let _writing = crate::interrupt::begin_write().await;
        let full = self.path(path).await?;
        let p = quote(&full);
        let tmpl = quote(&format!(
            "{}/.{}.hoist-XXXXXXXX",
            dirname(&full),
            basename(&full)
        ));
        // Big files travel by SFTP into a temporary name first; everything
        // else (and any transport without SFTP) is piped into `cat`.
        let mut leftover = Leftover {
            runner: self.runner.clone(),
            path: None,
        };
        let uploaded = if data.len() >= UPLOAD_THRESHOLD {
            let tmp = format!(
                "{}/.{}.hoist-{:x}.tmp",
                dirname(&full),
                basename(&full),
                unique()
            );
            leftover.path = Some(tmp.clone());
            match self.runner.upload(&tmp, data).await {
                Ok(true) => Some(tmp),
                Ok(false) | Err(_) => {
                    // Nothing made, or removed by the upload itself.
                    leftover.path = None;
                    None
                }
            }
        } else {
            None
        };
        let mut script = match &uploaded {
            Some(tmp) => format!("t={}; trap 'rm -f \"$t\"' EXIT; ", quote(tmp)),
            None => format!(
                "t=$(mktemp {tmpl}) || exit 1; trap 'rm -f \"$t\"' EXIT; cat > \"$t\" || exit 1; \
                 [ \"$(stat -c %s -- \"$t\")\" = {} ] || {{ echo 'the content arrived incomplete' >&2; exit 1; }}; ",
                data.len()
            ),
        };
        match attrs.mode {
            Some(m) => script.push_str(&format!("chmod {m:o} \"$t\" || exit 1; ")),
            None => script.push_str(&format!(
                "if [ -e {p} ]; then chmod --reference={p} \"$t\" || exit 1; \
                 else chmod $(printf %o $(( 0666 & ~0$(umask) ))) \"$t\" || exit 1; fi; "
            )),
        }
        let owner = attrs.owner.as_deref().map(quote);
        let group = attrs.group.as_deref().map(quote);
        match (owner, group) {
            (None, None) => script.push_str(&format!(
                "if [ -e {p} ]; then chown --reference={p} \"$t\" 2>/dev/null; fi; "
            )),
            (o, g) => {
                let spec = format!(
                    "{}{}",
                    o.unwrap_or_default(),
                    g.map(|g| format!(":{g}")).unwrap_or_default()
                );
                script.push_str(&format!("chown {spec} \"$t\" || exit 1; "));
            }
        }
        script.push_str(&format!("mv -Tf -- \"$t\" {p} || exit 1; trap - EXIT"));
        let stdin = if uploaded.is_some() { None } else { Some(data) };
        let done = self
            .script(&format!("cannot write {path}"), &script, stdin)
            .await
            .map(|_| ());
        // Renamed, or removed by the script's trap.
        leftover.path = None;
        done
    }

    async fn mkdir(&self, path: &str, mode: u32) -> ConnResult<()> {
        let p = quote(&self.path(path).await?);
        self.script(
            &format!("cannot create directory {path}"),
            &format!("mkdir -m {mode:o} -- {p}"),
            None,
        )
        .await
        .map(|_| ())
    }

    async fn chmod(&self, path: &str, mode: u32) -> ConnResult<()> {
        let p = quote(&self.path(path).await?);
        self.script(
            &format!("cannot chmod {path}"),
            &format!("[ -L {p} ] || chmod {mode:o} -- {p}"),
            None,
        )
        .await
        .map(|_| ())
    }

    async fn chown(
        &self,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
        follow: bool,
    ) -> ConnResult<()> {
        let p = quote(&self.path(path).await?);
        let spec = format!(
            "{}{}",
            owner.map(quote).unwrap_or_default(),
            group.map(|g| format!(":{}", quote(g))).unwrap_or_default()
        );
        if spec.is_empty() {
            return Ok(());
        }
        let h = if follow { "" } else { "-h " };
        self.script(
            &format!("chown failed on {path}"),
            &format!("chown {h}{spec} -- {p}"),
            None,
        )
        .await
        .map(|_| ())
    }

    async fn symlink(&self, target: &str, path: &str) -> ConnResult<()> {
        let full = self.path(path).await?;
        let p = quote(&full);
        let tmp = quote(&format!(
            "{}/.{}.hoist-link.$$",
            dirname(&full),
            basename(&full)
        ));
        let script = format!(
            "ln -s -- {} {tmp} && mv -Tf -- {tmp} {p} || {{ rm -f {tmp}; exit 1; }}",
            quote(target)
        );
        self.script(&format!("cannot create symlink {path}"), &script, None)
            .await
            .map(|_| ())
    }

    async fn hardlink(&self, target: &str, path: &str) -> ConnResult<()> {
        let full = self.path(path).await?;
        let p = quote(&full);
        let t = quote(&self.path(target).await?);
        let tmp = quote(&format!(
            "{}/.{}.hoist-link.$$",
            dirname(&full),
            basename(&full)
        ));
        let script =
            format!("ln -- {t} {tmp} && mv -Tf -- {tmp} {p} || {{ rm -f {tmp}; exit 1; }}");
        self.script(&format!("cannot create hard link {path}"), &script, None)
            .await
            .map(|_| ())
    }

    async fn remove(&self, path: &str, recursive: bool) -> ConnResult<()> {
        let p = quote(&self.path(path).await?);
        let dir_cmd = if recursive {
            format!("rm -rf -- {p}")
        } else {
            format!("rmdir -- {p}")
        };
        let script =
            format!("if [ -d {p} ] && [ ! -L {p} ]; then {dir_cmd}; else rm -f -- {p}; fi");
        self.script(&format!("cannot remove {path}"), &script, None)
            .await
            .map(|_| ())
    }

    async fn rename(&self, from: &str, to: &str) -> ConnResult<()> {
        let a = quote(&self.path(from).await?);
        let b = quote(&self.path(to).await?);
        self.script(
            &format!("cannot rename {from}"),
            &format!("mv -Tf -- {a} {b}"),
            None,
        )
        .await
        .map(|_| ())
    }

    async fn list_dir(&self, path: &str) -> ConnResult<Vec<String>> {
        let p = quote(&self.path(path).await?);
        let out = self
            .script(
                &format!("cannot list {path}"),
                &format!("find {p}/ -mindepth 1 -maxdepth 1 -printf '%f\\0'"),
                None,
            )
            .await?;
        let mut names: Vec<String> = out
            .stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    async fn set_times(&self, path: &str, atime: f64, mtime: f64) -> ConnResult<()> {
        let p = quote(&self.path(path).await?);
        let script =
            format!("touch -h -a -d @{atime:.9} -- {p} && touch -h -m -d @{mtime:.9} -- {p}");
        self.script(&format!("cannot set times on {path}"), &script, None)
            .await
            .map(|_| ())
    }

    async fn lookup_user(&self, name: &str) -> ConnResult<Option<u32>> {
        if let Ok(n) = name.parse::<u32>() {
            return Ok(Some(n));
        }
        let out = self.run(&format!("id -u -- {}", quote(name)), None).await?;
        Ok(if out.rc == 0 {
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        } else {
            None
        })
    }

    async fn lookup_group(&self, name: &str) -> ConnResult<Option<u32>> {
        if let Ok(n) = name.parse::<u32>() {
            return Ok(Some(n));
        }
        let out = self
            .run(&format!("getent group -- {}", quote(name)), None)
            .await?;
        if out.rc != 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.split(':').nth(2).and_then(|g| g.trim().parse().ok()))
    }

    async fn home_dir(&self) -> ConnResult<String> {
        self.home
            .get_or_try_init(|| async {
                let out = self.run("printf %s \"$HOME\"", None).await?;
                let home = String::from_utf8_lossy(&out.stdout).into_owned();
                if home.is_empty() {
                    Err(ConnError::failed("cannot find the remote home directory"))
                } else {
                    Ok(home)
                }
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_never_lets_the_shell_interpret() {
        assert_eq!(quote("plain/path-1.txt"), "plain/path-1.txt");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$HOME;rm -rf /"), "'$HOME;rm -rf /'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn parses_stat_lines() {
        let st = parse_stat(
            "81a4|0|0|root|root|12|1700000000.5|1700000001.000000000|1700000002.25|42|2049|1",
            None,
        )
        .unwrap();
        assert_eq!(st.kind, FileKind::File);
        assert_eq!(st.mode, 0o644);
        assert_eq!(st.mtime, 1700000000.5);
        let l = parse_stat("a1ff|0|0|root|root|3|1|1|1|7|2049|1", Some("foo".into())).unwrap();
        assert_eq!(
            (l.kind, l.link_target.as_deref()),
            (FileKind::Symlink, Some("foo"))
        );
        assert!(parse_stat("garbage", None).is_none());
    }

    /// A runner that records the command lines it was given.
    struct Recording(std::sync::Mutex<Vec<String>>);

    #[async_trait]
    impl ScriptRunner for Recording {
        async fn run(&self, command: &str, stdin: Option<&[u8]>) -> ConnResult<ExecOutput> {
            if let Ok(mut c) = self.0.lock() {
                c.push(command.to_owned());
            }
            LocalRunner.run(command, stdin).await
        }
        fn describe(&self) -> String {
            "recording".into()
        }
    }

    /// One round trip answers lstat and stat as two calls would: a file,
    /// a symlink to it, a dangling symlink, a missing path.
    #[tokio::test]
    async fn stat_both_answers_as_two_stats() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("f"), "12345").unwrap();
        std::os::unix::fs::symlink(d.join("f"), d.join("link")).unwrap();
        std::os::unix::fs::symlink(d.join("gone"), d.join("dangling")).unwrap();
        let runner = Arc::new(Recording(std::sync::Mutex::new(Vec::new())));
        let c = ShellConnection::new(runner.clone());
        for name in ["f", "link", "dangling", "missing"] {
            let p = d.join(name).display().to_string();
            let before = runner.0.lock().map(|r| r.len()).unwrap_or(0);
            let (lstat, stat) = c.stat_both(&p).await.unwrap();
            assert_eq!(
                runner.0.lock().map(|r| r.len()).unwrap_or(0),
                before + 1,
                "{name}"
            );
            assert_eq!(lstat, c.stat(&p, false).await.unwrap(), "{name}: lstat");
            assert_eq!(stat, c.stat(&p, true).await.unwrap(), "{name}: stat");
        }
        let (l, s) = c
            .stat_both(&d.join("link").display().to_string())
            .await
            .unwrap();
        let (l, s) = (l.unwrap(), s.unwrap());
        assert_eq!(
            (l.kind, s.kind, s.size),
            (FileKind::Symlink, FileKind::File, 5)
        );
    }

    /// One round trip answers stats and checksum as the separate calls
    /// would, and `checksum` agrees: a file, a link to it, a directory, a
    /// dangling link, a missing path, a name `sha1sum` escapes.
    #[tokio::test]
    async fn stat_both_checksum_answers_in_one_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("f"), "12345").unwrap();
        std::fs::write(d.join("back\\slash"), "x").unwrap();
        std::os::unix::fs::symlink(d.join("f"), d.join("link")).unwrap();
        std::os::unix::fs::symlink(d.join("gone"), d.join("dangling")).unwrap();
        std::fs::create_dir(d.join("dir")).unwrap();
        let runner = Arc::new(Recording(std::sync::Mutex::new(Vec::new())));
        let c = ShellConnection::new(runner.clone());
        for (name, content) in [
            ("f", Some(&b"12345"[..])),
            ("back\\slash", Some(b"x")),
            ("link", Some(b"12345")),
            ("dir", None),
            ("dangling", None),
            ("missing", None),
        ] {
            let p = d.join(name).display().to_string();
            let before = runner.0.lock().map(|r| r.len()).unwrap_or(0);
            let (lstat, stat, sum) = c.stat_both_checksum(&p).await.unwrap();
            assert_eq!(
                runner.0.lock().map(|r| r.len()).unwrap_or(0),
                before + 1,
                "{name}"
            );
            assert_eq!((lstat, stat), c.stat_both(&p).await.unwrap(), "{name}");
            let want = content.map(crate::connection::sha1_hex);
            assert_eq!(sum, want, "{name}");
            assert_eq!(c.checksum(&p).await.unwrap(), want, "{name}");
        }
    }

    /// Stats and content in one round trip, as the separate calls answer.
    #[tokio::test]
    async fn stat_both_content_answers_in_one_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("f"), b"a\nb\0\n\nC\n").unwrap();
        std::fs::write(d.join("empty"), b"").unwrap();
        std::os::unix::fs::symlink(d.join("f"), d.join("link")).unwrap();
        std::os::unix::fs::symlink(d.join("gone"), d.join("dangling")).unwrap();
        std::fs::create_dir(d.join("dir")).unwrap();
        let runner = Arc::new(Recording(std::sync::Mutex::new(Vec::new())));
        let c = ShellConnection::new(runner.clone());
        for name in ["f", "empty", "link", "dir", "dangling", "missing"] {
            let p = d.join(name).display().to_string();
            let before = runner.0.lock().map(|r| r.len()).unwrap_or(0);
            let (lstat, stat, content) = c.stat_both_content(&p).await.unwrap();
            assert_eq!(
                runner.0.lock().map(|r| r.len()).unwrap_or(0),
                before + 1,
                "{name}"
            );
            // (Reading the file may move its atime.)
            let no_atime = |s: Option<FileStat>| s.map(|s| FileStat { atime: 0.0, ..s });
            let (l2, s2) = c.stat_both(&p).await.unwrap();
            assert_eq!(
                (no_atime(lstat), no_atime(stat.clone())),
                (no_atime(l2), no_atime(s2)),
                "{name}"
            );
            let want = match stat {
                Some(s) if s.kind == FileKind::File => c.read_file(&p).await.unwrap(),
                _ => None,
            };
            assert_eq!(content, want, "{name}");
        }
    }

    /// `realpath -m` on the host answers as the walk over stats does
    /// (Python's non-strict realpath); a loop or a relative path is left
    /// to the walk.
    #[tokio::test]
    async fn realpath_on_the_host_matches_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        let d = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(d.join("real")).unwrap();
        std::fs::write(d.join("real/f"), "x").unwrap();
        std::os::unix::fs::symlink(d.join("real"), d.join("abs")).unwrap();
        std::os::unix::fs::symlink("real/f", d.join("rel")).unwrap();
        std::os::unix::fs::symlink("../nowhere/x", d.join("real/dangling")).unwrap();
        std::os::unix::fs::symlink("loop2", d.join("loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", d.join("loop2")).unwrap();
        let c = ShellConnection::new(Arc::new(LocalRunner));
        let local = crate::connection::local::LocalConnection;
        for p in [
            "abs/f",
            "rel",
            "abs/../rel",
            "real/dangling",
            "missing/../abs/f",
            "real/f/below",
            "abs/",
        ] {
            let p = format!("{}/{p}", d.display());
            let host = c.realpath(&p).await.unwrap();
            let walked = crate::modules::file::realpath_on(&local, &p).await.ok();
            assert_eq!(host, walked, "{p}");
        }
        let looped = format!("{}/loop1", d.display());
        let walked = crate::modules::file::realpath_on(&local, &looped)
            .await
            .ok();
        let host = c.realpath(&looped).await.unwrap();
        assert!(host.is_none() || host == walked, "{host:?} {walked:?}");
        assert_eq!(c.realpath("relative/path").await.unwrap(), None);
    }

    /// Several files in one round trip, each as `read_file` answers.
    #[tokio::test]
    async fn read_files_answers_in_one_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a"), b"no newline").unwrap();
        std::fs::write(d.join("b"), b"").unwrap();
        std::fs::write(d.join("c"), b"x\0y\n").unwrap();
        let runner = Arc::new(Recording(std::sync::Mutex::new(Vec::new())));
        let c = ShellConnection::new(runner.clone());
        let names = ["a", "missing", "b", "c"].map(|n| d.join(n).display().to_string());
        let paths: Vec<&str> = names.iter().map(String::as_str).collect();
        let got = c.read_files(&paths).await.unwrap();
        assert_eq!(runner.0.lock().map(|r| r.len()).unwrap_or(0), 1);
        for (p, r) in paths.iter().zip(got) {
            assert_eq!(r.unwrap(), c.read_file(p).await.unwrap(), "{p}");
        }
        let dirs = c.read_files(&[&d.display().to_string()]).await.unwrap();
        assert!(dirs[0].is_err(), "a directory is not readable as a file");
    }

    /// A command whose script holds a registered secret runs as it would
    /// on the command line (environment, chdir, its own stdin, exit
    /// code), but the command line the host sees has no secret.
    #[tokio::test]
    async fn secrets_travel_on_stdin_not_on_the_command_line() {
        let secret = "s3cr3t-on-the-cmdline-'q' \"d\"";
        crate::secrets::register(secret);
        let dir = tempfile::tempdir().unwrap();
        let runner = Arc::new(Recording(std::sync::Mutex::new(Vec::new())));
        let c = ShellConnection::new(runner.clone());
        let req = ExecRequest {
            argv: vec![
                "/bin/sh".into(),
                "-c".into(),
                format!(
                    "pwd; printf '%s\\n' \"$TOKEN\"; cat; echo '{}' | wc -c; exit 7",
                    "x".repeat(3)
                ),
            ],
            stdin: Some(b"line one\nline two\n".to_vec()),
            chdir: Some(dir.path().display().to_string()),
            env: vec![("TOKEN".into(), secret.into())],
            ..ExecRequest::default()
        };
        let out = c.exec(&req).await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.rc, 7, "{out:?}");
        assert_eq!(
            stdout,
            format!(
                "{}\n{secret}\nline one\nline two\n4\n",
                dir.path().display()
            )
        );
        let lines = runner.0.lock().unwrap().clone();
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains("s3cr3t"), "{}", lines[0]);
        // Without a secret, nothing changes.
        let plain = ExecRequest::argv(["echo", "plain-words"]);
        c.exec(&plain).await.unwrap();
        assert!(runner.0.lock().unwrap()[1].contains("plain-words"));
    }

    /// The shell implementation behaves as the native local one does, on a
    /// real shell, including names full of shell metacharacters.
    #[tokio::test]
    async fn shell_operations_on_a_real_shell() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let c = ShellConnection::new(Arc::new(LocalRunner));
        let weird = format!("{root}/a b; $(touch x) 'q' \"d\" `e` & | *");
        c.write_file(
            &weird,
            b"data\n",
            &FileAttrs {
                mode: Some(0o640),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(std::fs::read(&weird).unwrap(), b"data\n");
        assert!(!dir.path().join("x").exists(), "nothing was interpreted");
        let st = c.stat(&weird, true).await.unwrap().unwrap();
        assert_eq!((st.kind, st.mode, st.size), (FileKind::File, 0o640, 5));
        assert_eq!(c.read_file(&weird).await.unwrap().unwrap(), b"data\n");
        // Replacing keeps the mode when none is given.
        c.write_file(&weird, b"more\n", &FileAttrs::default())
            .await
            .unwrap();
        assert_eq!(c.stat(&weird, false).await.unwrap().unwrap().mode, 0o640);

        c.mkdir(&format!("{root}/d"), 0o750).await.unwrap();
        assert_eq!(
            c.stat(&format!("{root}/d"), false)
                .await
                .unwrap()
                .unwrap()
                .mode,
            0o750
        );
        c.symlink("d", &format!("{root}/l")).await.unwrap();
        let l = c.stat(&format!("{root}/l"), false).await.unwrap().unwrap();
        assert_eq!(
            (l.kind, l.link_target.as_deref()),
            (FileKind::Symlink, Some("d"))
        );
        c.hardlink(&weird, &format!("{root}/h")).await.unwrap();
        let linked = c.stat(&format!("{root}/h"), false).await.unwrap().unwrap();
        let original = c.stat(&weird, false).await.unwrap().unwrap();
        assert_eq!(linked.inode, original.inode);
        let names = c.list_dir(&root).await.unwrap();
        assert_eq!(names.len(), 4, "{names:?}");
        c.set_times(&format!("{root}/d"), 1_000_000_000.0, 1_100_000_000.5)
            .await
            .unwrap();
        let d = c.stat(&format!("{root}/d"), false).await.unwrap().unwrap();
        assert_eq!((d.atime, d.mtime), (1_000_000_000.0, 1_100_000_000.5));
        c.remove(&format!("{root}/d"), false).await.unwrap();
        assert!(c.stat(&format!("{root}/d"), false).await.unwrap().is_none());
        assert!(
            c.stat(&format!("{root}/missing"), true)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            c.read_file(&format!("{root}/missing"))
                .await
                .unwrap()
                .is_none()
        );

        let out = c
            .exec(&ExecRequest {
                argv: vec![
                    "sh".into(),
                    "-c".into(),
                    "printf '%s|%s' \"$1\" \"$V\"".into(),
                    "x".into(),
                    "$(echo no)".into(),
                ],
                env: vec![("V".into(), "a b'c".into())],
                chdir: Some(root.clone()),
                ..ExecRequest::default()
            })
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "$(echo no)|a b'c");
        assert_eq!(c.lookup_user("root").await.unwrap(), Some(0));
        assert_eq!(c.lookup_user("no-such-user-hoist").await.unwrap(), None);
    }
}
