//! The `local` connection: the controller itself is the target.

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use nix::unistd::{Gid, Group, Uid, User};

use super::trace;
use super::{
    ConnError, ConnResult, Connection, ExecOutput, ExecRequest, FileAttrs, FileKind, FileStat,
};

#[derive(Debug, Default)]
pub struct LocalConnection;

fn io_err(what: &str, path: &str, e: std::io::Error) -> ConnError {
    ConnError::failed(format!("{what} {path}: {e}"))
}

fn expand(path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return Path::new(&home).join(rest);
    }
    if path == "~"
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home);
    }
    PathBuf::from(path)
}

fn kind_of(ft: fs::FileType) -> FileKind {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_symlink() {
        FileKind::Symlink
    } else if ft.is_dir() {
        FileKind::Directory
    } else if ft.is_fifo() {
        FileKind::Fifo
    } else if ft.is_socket() {
        FileKind::Socket
    } else if ft.is_block_device() {
        FileKind::BlockDevice
    } else if ft.is_char_device() {
        FileKind::CharDevice
    } else {
        FileKind::File
    }
}

fn secs(s: i64, ns: i64) -> f64 {
    s as f64 + ns as f64 / 1e9
}

pub(crate) fn user_name(uid: u32) -> Option<String> {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

pub(crate) fn group_name(gid: u32) -> Option<String> {
    Group::from_gid(Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|g| g.name)
}

fn resolve_uid(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Some(n);
    }
    User::from_name(name).ok().flatten().map(|u| u.uid.as_raw())
}

fn resolve_gid(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Some(n);
    }
    Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

/// A temporary name beside `path`, unique within this process and across
/// processes.
fn temp_beside(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().unwrap_or(OsStr::new("file"));
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".hoist-{}-{n}.tmp", std::process::id()));
    path.with_file_name(tmp)
}

fn current_umask() -> u32 {
    // umask can only be read by setting it; restore it immediately.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    nix::sys::stat::umask(old);
    old.bits()
}

fn chown_path(
    path: &Path,
    owner: Option<&str>,
    group: Option<&str>,
    follow: bool,
) -> ConnResult<()> {
    let shown = path.display().to_string();
    let uid = match owner {
        Some(o) => Some(resolve_uid(o).ok_or_else(|| {
            ConnError::failed(format!("chown failed: failed to look up user {o}"))
        })?),
        None => None,
    };
    let gid = match group {
        Some(g) => Some(resolve_gid(g).ok_or_else(|| {
            ConnError::failed(format!("chgrp failed: failed to look up group {g}"))
        })?),
        None => None,
    };
    let res = if follow {
        std::os::unix::fs::chown(path, uid, gid)
    } else {
        std::os::unix::fs::lchown(path, uid, gid)
    };
    res.map_err(|e| io_err("chown failed on", &shown, e))
}

/// Describes the local connection once per task (`-vvv`), as Ansible's
/// `ESTABLISH LOCAL CONNECTION`.
pub(crate) fn establish() {
    trace::once("establish", trace::CONNECTION, || {
        trace::TraceEvent::Connection(format!(
            "ESTABLISH LOCAL CONNECTION FOR USER: {}",
            user_name(nix::unistd::getuid().as_raw()).unwrap_or_else(|| "?".into())
        ))
    });
}

/// A change the local connection makes by a system call, for the trace
/// (`-vvvv`). Reads are not told: copy reads its sources on the controller
/// through a `LocalConnection` too, which is not the host.
fn changing(make: impl FnOnce() -> String) {
    establish();
    trace::emit(trace::DETAILS, || {
        trace::TraceEvent::Detail(format!("LOCAL: {}", make()))
    });
}

/// Runs a command on the controller (untraced: the caller traces).
pub(crate) async fn run_request(req: &ExecRequest) -> ConnResult<ExecOutput> {
    let Some((prog, args)) = req.argv.split_first() else {
        return Err(ConnError::failed("no command given"));
    };
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args);
    if let Some(dir) = &req.chdir {
        cmd.current_dir(expand(dir));
    }
    for (k, v) in &req.env {
        cmd.env(k, v);
    }
    cmd.stdin(if req.stdin.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    });
    cmd.stdout(std::process::Stdio::piped());
    cmd.stderr(std::process::Stdio::piped());
    cmd.kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| {
        ConnError::failed(format!(
            "[Errno {}] {e}: '{prog}'",
            e.raw_os_error().unwrap_or(2)
        ))
    })?;
    if let Some(data) = &req.stdin
        && let Some(mut stdin) = child.stdin.take()
    {
        use tokio::io::AsyncWriteExt;
        let data = data.clone();
        tokio::spawn(async move {
            let _ = stdin.write_all(&data).await;
        });
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| ConnError::failed(format!("waiting for {prog}: {e}")))?;
    use std::os::unix::process::ExitStatusExt;
    let rc = out
        .status
        .code()
        .unwrap_or_else(|| -out.status.signal().unwrap_or(1));
    Ok(ExecOutput {
        rc,
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

#[async_trait]
impl Connection for LocalConnection {
    fn transport(&self) -> &'static str {
        "local"
    }
    async fn exec(&self, req: &ExecRequest) -> ConnResult<ExecOutput> {
        establish();
        let shown = || {
            let mut shown = String::new();
            if let Some(dir) = &req.chdir {
                shown.push_str(&format!("(in {}) ", dir));
            }
            for (k, _) in &req.env {
                shown.push_str(&format!("{k}=<hidden> "));
            }
            shown.push_str(&trace::shown_argv(&req.argv, &req.hidden));
            shown
        };
        let started = trace::command(shown, req.stdin.as_ref().is_some_and(|s| !s.is_empty()));
        trace::count(trace::Trip::Exec);
        let out = run_request(req).await;
        trace::finished(started, &out, false);
        out
    }

    async fn stat(&self, path: &str, follow: bool) -> ConnResult<Option<FileStat>> {
        let p = expand(path);
        let md = if follow {
            fs::metadata(&p)
        } else {
            fs::symlink_metadata(&p)
        };
        let md = match md {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOTDIR) => return Ok(None),
            Err(e) => return Err(io_err("cannot stat", path, e)),
        };
        let kind = kind_of(md.file_type());
        let link_target = if kind == FileKind::Symlink {
            fs::read_link(&p)
                .ok()
                .map(|t| String::from_utf8_lossy(t.as_os_str().as_bytes()).into_owned())
        } else {
            None
        };
        Ok(Some(FileStat {
            kind,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            owner: user_name(md.uid()),
            group: group_name(md.gid()),
            size: md.size(),
            mtime: secs(md.mtime(), md.mtime_nsec()),
            atime: secs(md.atime(), md.atime_nsec()),
            ctime: secs(md.ctime(), md.ctime_nsec()),
            inode: md.ino(),
            dev: md.dev(),
            nlink: md.nlink(),
            link_target,
        }))
    }

    async fn read_file(&self, path: &str) -> ConnResult<Option<Vec<u8>>> {
        match fs::read(expand(path)) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("cannot read", path, e)),
        }
    }

    async fn write_file(&self, path: &str, data: &[u8], attrs: &FileAttrs) -> ConnResult<()> {
        changing(|| {
            format!(
                "PUT {} bytes TO {path} (a temporary file renamed over it)",
                data.len()
            )
        });
        let dest = expand(path);
        let existing = fs::metadata(&dest).ok();
        let tmp = temp_beside(&dest);
        let result = (|| -> ConnResult<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(|e| io_err("cannot create temporary file for", path, e))?;
            f.write_all(data)
                .map_err(|e| io_err("cannot write", path, e))?;
            f.sync_all().map_err(|e| io_err("cannot sync", path, e))?;
            drop(f);
            let mode = match (attrs.mode, &existing) {
                (Some(m), _) => m,
                (None, Some(md)) => md.mode() & 0o7777,
                (None, None) => 0o666 & !current_umask(),
            };
            fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
                .map_err(|e| io_err("cannot chmod", path, e))?;
            // Keep the replaced file's ownership unless told otherwise.
            let keep_owner = existing.as_ref().map(|m| m.uid().to_string());
            let keep_group = existing.as_ref().map(|m| m.gid().to_string());
            let owner = attrs.owner.clone().or(keep_owner);
            let group = attrs.group.clone().or(keep_group);
            if owner.is_some() || group.is_some() {
                let tmp_md = fs::metadata(&tmp).map_err(|e| io_err("cannot stat", path, e))?;
                let want_uid = owner.as_deref().and_then(resolve_uid);
                let want_gid = group.as_deref().and_then(resolve_gid);
                if want_uid.is_some_and(|u| u != tmp_md.uid())
                    || want_gid.is_some_and(|g| g != tmp_md.gid())
                {
                    chown_path(&tmp, owner.as_deref(), group.as_deref(), true)?;
                }
            }
            fs::rename(&tmp, &dest)
                .map_err(|e| io_err("cannot rename temporary file onto", path, e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    async fn mkdir(&self, path: &str, mode: u32) -> ConnResult<()> {
        changing(|| format!("mkdir {path} (mode {mode:o})"));
        let p = expand(path);
        fs::create_dir(&p).map_err(|e| io_err("cannot create directory", path, e))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))
            .map_err(|e| io_err("cannot chmod", path, e))
    }

    async fn chmod(&self, path: &str, mode: u32) -> ConnResult<()> {
        changing(|| format!("chmod {mode:o} {path}"));
        let p = expand(path);
        match fs::symlink_metadata(&p) {
            Ok(md) if md.file_type().is_symlink() => Ok(()),
            _ => fs::set_permissions(&p, fs::Permissions::from_mode(mode))
                .map_err(|e| io_err("cannot chmod", path, e)),
        }
    }

    async fn chown(
        &self,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
        follow: bool,
    ) -> ConnResult<()> {
        changing(|| {
            format!(
                "chown {}:{} {path}",
                owner.unwrap_or_default(),
                group.unwrap_or_default()
            )
        });
        chown_path(&expand(path), owner, group, follow)
    }

    async fn symlink(&self, target: &str, path: &str) -> ConnResult<()> {
        changing(|| format!("symlink {path} -> {target}"));
        let dest = expand(path);
        let tmp = temp_beside(&dest);
        std::os::unix::fs::symlink(target, &tmp)
            .map_err(|e| io_err("cannot create symlink", path, e))?;
        fs::rename(&tmp, &dest).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err("cannot replace", path, e)
        })
    }

    async fn hardlink(&self, target: &str, path: &str) -> ConnResult<()> {
        changing(|| format!("hard link {path} to {target}"));
        let dest = expand(path);
        let tmp = temp_beside(&dest);
        fs::hard_link(expand(target), &tmp)
            .map_err(|e| io_err("cannot create hard link", path, e))?;
        fs::rename(&tmp, &dest).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err("cannot replace", path, e)
        })
    }

    async fn remove(&self, path: &str, recursive: bool) -> ConnResult<()> {
        changing(|| {
            format!(
                "remove {path}{}",
                if recursive { " (recursively)" } else { "" }
            )
        });
        let p = expand(path);
        let md = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("cannot stat", path, e)),
        };
        let res = if md.is_dir() {
            if recursive {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_dir(&p)
            }
        } else {
            fs::remove_file(&p)
        };
        res.map_err(|e| io_err("cannot remove", path, e))
    }

    async fn rename(&self, from: &str, to: &str) -> ConnResult<()> {
        changing(|| format!("rename {from} to {to}"));
        fs::rename(expand(from), expand(to)).map_err(|e| io_err("cannot rename", from, e))
    }

    async fn list_dir(&self, path: &str) -> ConnResult<Vec<String>> {
        let mut names: Vec<String> = fs::read_dir(expand(path))
            .map_err(|e| io_err("cannot list", path, e))?
            .filter_map(|e| e.ok())
            .map(|e| String::from_utf8_lossy(e.file_name().as_bytes()).into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    async fn set_times(&self, path: &str, atime: f64, mtime: f64) -> ConnResult<()> {
        changing(|| format!("set times of {path}"));
        use nix::sys::time::TimeSpec;
        let to_ts = |t: f64| TimeSpec::new(t.trunc() as i64, ((t.fract()) * 1e9) as i64);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &expand(path),
            &to_ts(atime),
            &to_ts(mtime),
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| ConnError::failed(format!("cannot set times on {path}: {e}")))
    }

    async fn lookup_user(&self, name: &str) -> ConnResult<Option<u32>> {
        Ok(resolve_uid(name))
    }

    async fn lookup_group(&self, name: &str) -> ConnResult<Option<u32>> {
        Ok(resolve_gid(name))
    }

    async fn home_dir(&self) -> ConnResult<String> {
        std::env::var("HOME").map_err(|_| ConnError::failed("HOME is not set"))
    }
}
