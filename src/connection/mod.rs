//! How hoist reaches a host. Modules run on the controller and act on the
//! target only through [`Connection`]; the `local` connection implements it
//! with direct system calls, the SSH transport with remote commands.

use async_trait::async_trait;
use std::fmt;

pub mod cache;
pub mod known_hosts;
pub mod link;
pub mod local;
pub mod overlay;
pub mod shell;
pub mod ssh;
pub mod ssh_config;
pub mod trace;

/// What a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    File,
    Directory,
    Symlink,
    Fifo,
    Socket,
    BlockDevice,
    CharDevice,
}

impl FileKind {
    /// The name Ansible's file module reports as `state`.
    pub fn ansible_state(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Directory => "directory",
            FileKind::Symlink => "link",
            _ => "file",
        }
    }
}

/// The result of `lstat`/`stat` on the target.
#[derive(Clone, Debug, PartialEq)]
pub struct FileStat {
    pub kind: FileKind,
    /// Permission bits including setuid/setgid/sticky (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub size: u64,
    pub mtime: f64,
    pub atime: f64,
    pub ctime: f64,
    pub inode: u64,
    pub dev: u64,
    pub nlink: u64,
    /// The symlink's target, for symlinks.
    pub link_target: Option<String>,
}

/// A path's `lstat`, its `stat` and its content's SHA-1 (see
/// [`Connection::stat_both_checksum`]).
pub type StatsAndSum = (Option<FileStat>, Option<FileStat>, Option<String>);

/// A path's `lstat`, its `stat` and, for a regular file, its content (see
/// [`Connection::stat_both_content`]).
pub type StatsAndContent = (Option<FileStat>, Option<FileStat>, Option<Vec<u8>>);

/// SHA-1 in lowercase hex, as Ansible's `checksum` reports it.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    lower_hex(&Sha1::digest(data))
}

fn lower_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// [`sha1_hex`] for data that may be large (a file to copy): it yields to
/// the runtime every MiB, so other hosts go on and a Ctrl-C is seen while
/// a big file is hashed (every host's work shares one task).
pub async fn sha1_hex_yielding(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    for chunk in data.chunks(1 << 20) {
        h.update(chunk);
        if data.len() > chunk.len() {
            tokio::task::yield_now().await;
        }
    }
    lower_hex(&h.finalize())
}

/// `prefix` and 128 random bits in hex: a marker no file content or
/// command output can hold by chance or by design.
pub(crate) fn random_marker(prefix: &str) -> ConnResult<String> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| ConnError::failed(format!("no random bytes: {e}")))?;
    Ok(format!(
        "{prefix}{}",
        raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// A command to run on the target.
#[derive(Clone, Debug, Default)]
pub struct ExecRequest {
    /// Run this argv directly (no shell involved).
    pub argv: Vec<String>,
    /// Data for the command's standard input.
    pub stdin: Option<Vec<u8>>,
    /// Working directory.
    pub chdir: Option<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// The command only looks (a probe such as `umask`, `date`, `env`); only
    /// such commands run while check mode predicts changes.
    pub read_only: bool,
    /// A short probe of hoist's own: no standard input, exits at once and
    /// leaves nothing running (never a user's command, a service start or
    /// a network call); the SSH transport may run it in the shell it keeps
    /// open on the host (see `ScriptRunner::run_short`).
    pub short: bool,
    /// Words of `argv` that are secret (a password hash): a `-vv` trace
    /// shows `********` for any argument that contains one.
    pub hidden: Vec<String>,
}

impl ExecRequest {
    pub fn argv<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> ExecRequest {
        ExecRequest {
            argv: argv.into_iter().map(Into::into).collect(),
            ..ExecRequest::default()
        }
    }

    /// Marks the command as one that changes nothing on the host.
    pub fn read_only(mut self) -> ExecRequest {
        self.read_only = true;
        self
    }

    /// Marks the command as a short probe (see [`ExecRequest::short`]);
    /// a short probe is read-only too.
    pub fn short(mut self) -> ExecRequest {
        self.read_only = true;
        self.short = true;
        self
    }

    /// Marks `word` as secret: never shown in a trace.
    pub fn hiding(mut self, word: impl Into<String>) -> ExecRequest {
        self.hidden.push(word.into());
        self
    }
}

#[derive(Clone, Debug, Default)]
pub struct ExecOutput {
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Ownership and permissions to apply to a written file before it becomes
/// visible under its final name.
#[derive(Clone, Debug, Default)]
pub struct FileAttrs {
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnErrorKind {
    /// The host cannot be reached at all (counts as UNREACHABLE).
    Unreachable,
    /// The operation failed on a reachable host.
    Failed,
}

#[derive(Clone, Debug)]
pub struct ConnError {
    pub kind: ConnErrorKind,
    pub msg: String,
}

impl ConnError {
    pub fn failed(msg: impl Into<String>) -> ConnError {
        ConnError {
            kind: ConnErrorKind::Failed,
            msg: msg.into(),
        }
    }
    pub fn unreachable(msg: impl Into<String>) -> ConnError {
        ConnError {
            kind: ConnErrorKind::Unreachable,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for ConnError {}

pub type ConnResult<T> = Result<T, ConnError>;

/// Primitive operations on a target host. Every path is absolute or relative
/// to the login user's home; nothing here ever passes a path through a shell
/// unquoted.
#[async_trait]
pub trait Connection: Send + Sync {
    /// Forgets what a cache in front of the host remembers, for a module
    /// that watches the host change by itself (`wait_for` polling).
    fn forget_cached(&self) {}
    /// How the host is reached: `local` (the controller itself), `ssh`.
    fn transport(&self) -> &'static str {
        "unknown"
    }
    /// Drops the connection to the host and opens a new one now (waiting at
    /// most `connect_timeout`, else the run's timeout), for a module that
    /// watches the host go away and come back (`wait_for_connection`,
    /// `reboot`), as Ansible's `connection.reset()`. Local: nothing to do.
    async fn reconnect(&self, _connect_timeout: Option<std::time::Duration>) -> ConnResult<()> {
        Ok(())
    }
    /// Runs a command and collects its output.
    async fn exec(&self, req: &ExecRequest) -> ConnResult<ExecOutput>;
    /// `lstat` (follow = false) or `stat`; `None` when the path does not exist.
    async fn stat(&self, path: &str, follow: bool) -> ConnResult<Option<FileStat>>;
    /// `lstat` and `stat` of `path` at once (what a module that looks at a
    /// path and at what it points to needs); a connection that can answer
    /// both in one round trip does.
    async fn stat_both(&self, path: &str) -> ConnResult<(Option<FileStat>, Option<FileStat>)> {
        Ok((self.stat(path, false).await?, self.stat(path, true).await?))
    }
    /// The SHA-1 of a regular file's content (links followed), in
    /// lowercase hex; `None` when the path is missing or not a regular
    /// file. A connection that can hash on the host does, so an unchanged
    /// file is never read over the wire.
    async fn checksum(&self, path: &str) -> ConnResult<Option<String>> {
        by_parts::checksum(self, path).await
    }
    /// [`Connection::stat_both`] and [`Connection::checksum`] at once (what
    /// `copy` and `template` ask of their destination); a connection that
    /// can answer in one round trip does.
    async fn stat_both_checksum(&self, path: &str) -> ConnResult<StatsAndSum> {
        by_parts::stat_both_checksum(self, path).await
    }
    /// [`Connection::stat_both`] and, for a regular file (links followed),
    /// its content, at once (what `lineinfile`, `blockinfile` and `replace`
    /// ask of their file); a connection that can answer in one round trip
    /// does.
    async fn stat_both_content(&self, path: &str) -> ConnResult<StatsAndContent> {
        by_parts::stat_both_content(self, path).await
    }
    /// Several whole files at once, each as [`Connection::read_file`]
    /// answers it (the user module's passwd, group and shadow); a
    /// connection that can read them in one round trip does.
    async fn read_files(&self, paths: &[&str]) -> ConnResult<Vec<ConnResult<Option<Vec<u8>>>>> {
        by_parts::read_files(self, paths).await
    }
    /// An absolute path with every symlink resolved and missing parts kept
    /// (Python's non-strict `os.path.realpath`) when the host can say it in
    /// one round trip (GNU `realpath -m`); `None`: the caller walks the path
    /// itself (no such program, a symlink loop, a relative path).
    async fn realpath(&self, _path: &str) -> ConnResult<Option<String>> {
        Ok(None)
    }
    /// The whole content of a file; `None` when it does not exist.
    async fn read_file(&self, path: &str) -> ConnResult<Option<Vec<u8>>>;
    /// Writes `data` to `path` atomically: a temporary file in the same
    /// directory gets the content and `attrs`, then is renamed over `path`.
    async fn write_file(&self, path: &str, data: &[u8], attrs: &FileAttrs) -> ConnResult<()>;
    /// Creates one directory (its parent must exist).
    async fn mkdir(&self, path: &str, mode: u32) -> ConnResult<()>;
    /// Sets permission bits (on the link itself is not possible on Linux, so
    /// `follow = false` on a symlink is a no-op).
    async fn chmod(&self, path: &str, mode: u32) -> ConnResult<()>;
    /// Changes owner and/or group by name or numeric id.
    async fn chown(
        &self,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
        follow: bool,
    ) -> ConnResult<()>;
    /// Creates (or atomically replaces) a symlink at `path` pointing to `target`.
    async fn symlink(&self, target: &str, path: &str) -> ConnResult<()>;
    /// Creates (or atomically replaces) a hard link at `path` to `target`.
    async fn hardlink(&self, target: &str, path: &str) -> ConnResult<()>;
    /// Removes a file, link or (with `recursive`) a directory tree.
    async fn remove(&self, path: &str, recursive: bool) -> ConnResult<()>;
    /// Renames within one filesystem.
    async fn rename(&self, from: &str, to: &str) -> ConnResult<()>;
    /// Names of the entries in a directory (no `.`/`..`), sorted.
    async fn list_dir(&self, path: &str) -> ConnResult<Vec<String>>;
    /// Sets access and modification times (seconds since the epoch).
    async fn set_times(&self, path: &str, atime: f64, mtime: f64) -> ConnResult<()>;
    /// Resolves a user name (or numeric string) to a uid on the target.
    async fn lookup_user(&self, name: &str) -> ConnResult<Option<u32>>;
    /// Resolves a group name (or numeric string) to a gid on the target.
    async fn lookup_group(&self, name: &str) -> ConnResult<Option<u32>>;
    /// The login user's home directory, for `~` expansion.
    async fn home_dir(&self) -> ConnResult<String>;
}

/// The combined answers built from the primitive operations: what a
/// connection without a faster way answers (the trait's defaults, and the
/// check-mode overlay once it holds predictions).
pub(crate) mod by_parts {
    use super::{ConnErrorKind, ConnResult, Connection, FileKind, StatsAndContent, StatsAndSum};

    pub(crate) async fn checksum<C: Connection + ?Sized>(
        c: &C,
        path: &str,
    ) -> ConnResult<Option<String>> {
        match c.stat(path, true).await? {
            Some(st) if st.kind == FileKind::File => match c.read_file(path).await? {
                Some(d) => Ok(Some(super::sha1_hex_yielding(&d).await)),
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }

    pub(crate) async fn stat_both_checksum<C: Connection + ?Sized>(
        c: &C,
        path: &str,
    ) -> ConnResult<StatsAndSum> {
        let (lstat, stat) = c.stat_both(path).await?;
        let sum = match &stat {
            Some(st) if st.kind == FileKind::File => c.checksum(path).await?,
            _ => None,
        };
        Ok((lstat, stat, sum))
    }

    pub(crate) async fn stat_both_content<C: Connection + ?Sized>(
        c: &C,
        path: &str,
    ) -> ConnResult<StatsAndContent> {
        let (lstat, stat) = c.stat_both(path).await?;
        let content = match &stat {
            Some(st) if st.kind == FileKind::File => c.read_file(path).await?,
            _ => None,
        };
        Ok((lstat, stat, content))
    }

    pub(crate) async fn read_files<C: Connection + ?Sized>(
        c: &C,
        paths: &[&str],
    ) -> ConnResult<Vec<ConnResult<Option<Vec<u8>>>>> {
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            match c.read_file(p).await {
                Err(e) if e.kind == ConnErrorKind::Unreachable => return Err(e),
                r => out.push(r),
            }
        }
        Ok(out)
    }
}

/// A connection whose commands all get extra environment variables (the
/// `environment:` keyword).
pub struct WithEnv<'a> {
    pub inner: &'a dyn Connection,
    pub env: Vec<(String, String)>,
}

#[async_trait]
impl Connection for WithEnv<'_> {
    fn forget_cached(&self) {
        self.inner.forget_cached();
    }
    fn transport(&self) -> &'static str {
        self.inner.transport()
    }
    async fn reconnect(&self, connect_timeout: Option<std::time::Duration>) -> ConnResult<()> {
        self.inner.reconnect(connect_timeout).await
    }
    async fn exec(&self, req: &ExecRequest) -> ConnResult<ExecOutput> {
        let mut req = req.clone();
        let mut env = self.env.clone();
        env.append(&mut req.env);
        req.env = env;
        self.inner.exec(&req).await
    }
    async fn stat(&self, path: &str, follow: bool) -> ConnResult<Option<FileStat>> {
        self.inner.stat(path, follow).await
    }
    async fn stat_both(&self, path: &str) -> ConnResult<(Option<FileStat>, Option<FileStat>)> {
        self.inner.stat_both(path).await
    }
    async fn checksum(&self, path: &str) -> ConnResult<Option<String>> {
        self.inner.checksum(path).await
    }
    async fn stat_both_checksum(&self, path: &str) -> ConnResult<StatsAndSum> {
        self.inner.stat_both_checksum(path).await
    }
    async fn stat_both_content(&self, path: &str) -> ConnResult<StatsAndContent> {
        self.inner.stat_both_content(path).await
    }
    async fn read_files(&self, paths: &[&str]) -> ConnResult<Vec<ConnResult<Option<Vec<u8>>>>> {
        self.inner.read_files(paths).await
    }
    async fn realpath(&self, path: &str) -> ConnResult<Option<String>> {
        self.inner.realpath(path).await
    }
    async fn read_file(&self, path: &str) -> ConnResult<Option<Vec<u8>>> {
        self.inner.read_file(path).await
    }
    async fn write_file(&self, path: &str, data: &[u8], attrs: &FileAttrs) -> ConnResult<()> {
        self.inner.write_file(path, data, attrs).await
    }
    async fn mkdir(&self, path: &str, mode: u32) -> ConnResult<()> {
        self.inner.mkdir(path, mode).await
    }
    async fn chmod(&self, path: &str, mode: u32) -> ConnResult<()> {
        self.inner.chmod(path, mode).await
    }
    async fn chown(
        &self,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
        follow: bool,
    ) -> ConnResult<()> {
        self.inner.chown(path, owner, group, follow).await
    }
    async fn symlink(&self, target: &str, path: &str) -> ConnResult<()> {
        self.inner.symlink(target, path).await
    }
    async fn hardlink(&self, target: &str, path: &str) -> ConnResult<()> {
        self.inner.hardlink(target, path).await
    }
    async fn remove(&self, path: &str, recursive: bool) -> ConnResult<()> {
        self.inner.remove(path, recursive).await
    }
    async fn rename(&self, from: &str, to: &str) -> ConnResult<()> {
        self.inner.rename(from, to).await
    }
    async fn list_dir(&self, path: &str) -> ConnResult<Vec<String>> {
        self.inner.list_dir(path).await
    }
    async fn set_times(&self, path: &str, atime: f64, mtime: f64) -> ConnResult<()> {
        self.inner.set_times(path, atime, mtime).await
    }
    async fn lookup_user(&self, name: &str) -> ConnResult<Option<u32>> {
        self.inner.lookup_user(name).await
    }
    async fn lookup_group(&self, name: &str) -> ConnResult<Option<u32>> {
        self.inner.lookup_group(name).await
    }
    async fn home_dir(&self) -> ConnResult<String> {
        self.inner.home_dir().await
    }
}
