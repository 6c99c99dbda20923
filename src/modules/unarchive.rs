//! `unarchive`: unpacks a tar (plain, gzip, bzip2, xz, zstd) or zip archive
//! into an existing directory on the target with the target's own `tar` or
//! `unzip`, as Ansible's unarchive does. The archive comes from the
//! controller (uploaded to a temporary file on the target and removed
//! afterwards), or is already on the target with `remote_src` (a URL there
//! is downloaded with the target's `curl`).
//!
//! Idempotency is Ansible's: for tar, `tar --diff` against the destination
//! (a missing file, a different mtime, mode, owner or symlink means a
//! change); for zip, each `zipinfo` entry is compared with what is on disk
//! (type, mtime, size, CRC-32, mode, owner, group). Check mode reports that
//! comparison without extracting anything, for zip and for the tar formats
//! (where Ansible's tar handlers skip the task).

use std::collections::HashMap;

use async_trait::async_trait;
use minijinja::Value;

use super::command::{expand_path, fnmatch};
use super::file::{
    AttrDiff, COMMON, FileArgs, SResult, add_path_info, fail, fail_with, finish, join, lookup_gid,
    lookup_uid, refuse_unsupported, set_fs_attributes_if_different, target_umask,
};
use super::sysexec::{best_parsable_locale, find_bin};
use super::{
    Args, DiffSupport, FileDiff, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::{ExecRequest, FileKind, FileStat};
use crate::template::vmap;

pub struct Unarchive;

static PARAMS: [Param; 22] = [
    Param::new("src", ParamType::Path).required(),
    Param::new("dest", ParamType::Path).required(),
    Param::new("remote_src", ParamType::Bool),
    Param::new("copy", ParamType::Bool),
    Param::new("creates", ParamType::Path),
    Param::new("list_files", ParamType::Bool),
    Param::new("keep_newer", ParamType::Bool),
    Param::new("exclude", ParamType::List),
    Param::new("include", ParamType::List),
    Param::new("extra_opts", ParamType::List),
    Param::new("validate_certs", ParamType::Bool),
    Param::new("io_buffer_size", ParamType::Int),
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
    name: "unarchive",
    params: &PARAMS,
    free_form: FreeForm::None,
    mutually_exclusive: &[&["include", "exclude"], &["copy", "remote_src"]],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Unpack a tar or zip archive from the controller, the target or a URL into a \
              directory on the target.",
    check_note: "supported: the archive is compared with the destination and nothing is \
                 extracted, for zip and for the tar formats (Ansible skips tar archives)",
    diff: DiffSupport::Yes,
    notes: &[
        "Uses the target's `tar` (gzip, bzip2, xz, zstd) and `unzip`/`zipinfo`. An archive \
         from the controller goes to a temporary directory on the target and is removed \
         afterwards; a URL with `remote_src` is downloaded with the target's `curl`.",
        "`io_buffer_size` is accepted and ignored.",
        super::file::NOTE_ATTRS_REFUSED,
    ],
};

/// Ansible's archive handlers, in the order `pick_handler` tries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Zip,
    Tgz,
    Tar,
    TarBzip,
    TarXz,
    TarZstd,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Zip,
        Kind::Tgz,
        Kind::Tar,
        Kind::TarBzip,
        Kind::TarXz,
        Kind::TarZstd,
    ];

    fn name(self, zip_z: bool) -> &'static str {
        match self {
            Kind::Zip if zip_z => "ZipZArchive",
            Kind::Zip => "ZipArchive",
            Kind::Tgz => "TgzArchive",
            Kind::Tar => "TarArchive",
            Kind::TarBzip => "TarBzipArchive",
            Kind::TarXz => "TarXzArchive",
            Kind::TarZstd => "TarZstdArchive",
        }
    }

    fn zipflag(self) -> Option<&'static str> {
        match self {
            Kind::Tgz => Some("-z"),
            Kind::TarBzip => Some("-j"),
            Kind::TarXz => Some("-J"),
            Kind::TarZstd => Some("--use-compress-program=zstd"),
            Kind::Zip | Kind::Tar => None,
        }
    }
}

/// What a command printed.
struct Ran {
    rc: i32,
    out: String,
    err: String,
}

/// Runs `argv` in `locale` (Ansible's best parsable one, so the output
/// can be parsed; `None`: the session's own).
async fn run_in(
    ctx: &ModuleCtx<'_>,
    argv: &[String],
    cwd: Option<&str>,
    read_only: bool,
    locale: Option<&str>,
) -> SResult<Ran> {
    let mut req = ExecRequest::argv(argv.iter().cloned());
    if let Some(l) = locale {
        req.env = ["LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE"]
            .iter()
            .map(|k| (k.to_string(), l.to_owned()))
            .collect();
    }
    req.read_only = read_only;
    req.chdir = cwd.map(str::to_owned);
    let o = ctx.conn.exec(&req).await?;
    Ok(Ran {
        rc: o.rc,
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    })
}

async fn run(
    ctx: &ModuleCtx<'_>,
    argv: &[String],
    cwd: Option<&str>,
    read_only: bool,
) -> SResult<Ran> {
    run_in(ctx, argv, cwd, read_only, None).await
}

/// Python's `codecs.escape_decode` as text (GNU tar escapes unusual bytes
/// in names it lists: `\\`, `\n`, octal `\303\251` …).
fn escape_decode(s: &str) -> String {
    String::from_utf8_lossy(&super::assemble::escape_decode(s)).into_owned()
}

/// CRC-32 (IEEE, as zip stores it).
fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (n, slot) in table.iter_mut().enumerate() {
        let mut c = n as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *slot = c;
    }
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc = table[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc ^ 0xFFFF_FFFF
}

/// Ansible's `_permstr_to_octal`: `rw-r--r--` → 0o644, less the umask.
fn permstr_to_octal(modestr: &str, umask: u32) -> u32 {
    let mut mode = 0;
    for (i, c) in modestr.chars().rev().take(9).enumerate() {
        if matches!(c, 'r' | 'w' | 'x' | 's' | 't') {
            mode += 1 << i;
        }
    }
    mode & !umask
}

/// `([r-][w-][SsTtx-]){3}` at the start of a permission string.
fn perm_format_ok(s: &str) -> bool {
    let c: Vec<char> = s.chars().collect();
    if c.len() < 9 {
        return false;
    }
    (0..3).all(|g| {
        matches!(c[g * 3], 'r' | '-')
            && matches!(c[g * 3 + 1], 'w' | '-')
            && matches!(c[g * 3 + 2], 'S' | 's' | 'T' | 't' | 'x' | '-')
    })
}

/// Python's `str.split(None, maxsplit)`.
fn split_ws(s: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if parts.len() == max {
            parts.push(rest);
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = rest[i..].trim_start();
            }
            None => {
                parts.push(rest);
                break;
            }
        }
    }
    parts
}

/// What `is_unarchived` found.
struct Check {
    unarchived: bool,
    diff: String,
}

/// The target user the commands run as.
struct RunUser {
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
}

struct Handler<'a> {
    ctx: &'a ModuleCtx<'a>,
    kind: Kind,
    /// `tar` for the tar kinds, `unzip` for zip.
    cmd: String,
    /// `zipinfo`, or `unzip` with `-Z` (ZipZArchive).
    zipinfo: Vec<String>,
    zip_z: bool,
    src: String,
    dest: String,
    opts: Vec<String>,
    excludes: Vec<String>,
    include_files: Vec<String>,
    keep_newer: bool,
    fa: FileArgs,
    files: Vec<String>,
    check: bool,
    /// Ansible's best parsable locale on the target, for tar.
    locale: String,
}

impl Handler<'_> {
    fn tar_args(&self, op: &str, with_owner: bool) -> Vec<String> {
        let mut cmd = vec![self.cmd.clone(), op.into(), "-C".into(), self.dest.clone()];
        if let Some(z) = self.kind.zipflag() {
            cmd.push(z.into());
        }
        if !self.opts.is_empty() {
            cmd.push("--show-transformed-names".into());
            cmd.extend(self.opts.iter().cloned());
        }
        if with_owner {
            if let Some(o) = &self.fa.owner {
                cmd.push(format!("--owner={o}"));
            }
            if let Some(g) = &self.fa.group {
                cmd.push(format!("--group={g}"));
            }
            if self.keep_newer {
                cmd.push("--keep-newer-files".into());
            }
        }
        cmd.extend(self.excludes.iter().map(|e| format!("--exclude={e}")));
        cmd.extend(["-f".into(), self.src.clone()]);
        cmd.extend(self.include_files.iter().cloned());
        cmd
    }

    /// The names in the archive (`files_in_archive`); an error text when
    /// the archive cannot be listed.
    async fn list(&mut self) -> SResult<Result<(), String>> {
        self.files.clear();
        if self.kind == Kind::Zip {
            let mut argv = self.zipinfo.clone();
            argv.extend(["-1".to_owned(), self.src.clone()]);
            let r = run(self.ctx, &argv, None, true).await?;
            if r.rc != 0 {
                return Ok(Err(format!(
                    "Unable to list files in the archive: {}",
                    r.err
                )));
            }
            for member in r.out.lines() {
                if !self.include_files.is_empty() {
                    for inc in &self.include_files {
                        if fnmatch(member, inc) {
                            self.files.push(member.to_owned());
                        }
                    }
                } else if !self.excludes.iter().any(|e| fnmatch(member, e)) {
                    self.files.push(member.to_owned());
                }
            }
            return Ok(Ok(()));
        }
        let argv = self.tar_args("--list", false);
        let r = run_in(self.ctx, &argv, Some(&self.dest), true, Some(&self.locale)).await?;
        if r.rc != 0 {
            return Ok(Err(format!(
                "Unable to list files in the archive: {}",
                r.err
            )));
        }
        for line in r.out.lines() {
            let name = escape_decode(line);
            let name = name.strip_prefix('/').unwrap_or(&name).to_owned();
            if !self.excludes.iter().any(|e| fnmatch(&name, e)) {
                self.files.push(name);
            }
        }
        Ok(Ok(()))
    }

    async fn is_unarchived(&mut self) -> SResult<Check> {
        if self.kind == Kind::Zip {
            self.zip_is_unarchived().await
        } else {
            self.tar_is_unarchived().await
        }
    }

    async fn run_user(&self) -> SResult<RunUser> {
        let r = run(
            self.ctx,
            &["sh".into(), "-c".into(), "id -u; id -g; id -G".into()],
            None,
            true,
        )
        .await?;
        let mut lines = r.out.lines();
        let mut num = || lines.next().and_then(|l| l.trim().parse::<u32>().ok());
        let uid = num().unwrap_or(0);
        let gid = num().unwrap_or(0);
        let groups = lines
            .next()
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|g| g.parse().ok())
            .collect();
        Ok(RunUser { uid, gid, groups })
    }

    /// TgzArchive.is_unarchived: `tar --diff`, keeping only the differences
    /// that extracting would fix and `owner`/`group`/`mode` do not.
    async fn tar_is_unarchived(&mut self) -> SResult<Check> {
        let argv = self.tar_args("--diff", true);
        let r = run_in(self.ctx, &argv, None, true, Some(&self.locale)).await?;
        let root = self.run_user().await?.uid == 0;
        let mut differs = false;
        for line in r.out.lines().chain(r.err.lines()) {
            if line.ends_with(": : Warning: Cannot stat: No such file or directory") {
                continue;
            }
            if (root && self.fa.owner.is_none() && line.ends_with(": Uid differs"))
                || (root && self.fa.group.is_none() && line.ends_with(": Gid differs"))
                || (self.fa.mode.is_none() && line.ends_with(": Mode differs"))
                || line.ends_with(": Mod time differs")
                || line.ends_with(": Warning: Cannot stat: No such file or directory")
                || line.contains(": Invalid owner")
                || line.contains(": Invalid group")
                || line.ends_with(": Symlink differs")
            {
                differs = true;
            }
        }
        Ok(Check {
            unarchived: !differs,
            diff: String::new(),
        })
    }

    /// The CRC-32 of each member, from `unzip -v`.
    async fn zip_crcs(&self) -> SResult<HashMap<String, u32>> {
        let r = run(
            self.ctx,
            &[self.cmd.clone(), "-v".into(), self.src.clone()],
            None,
            true,
        )
        .await?;
        let lines: Vec<&str> = r.out.lines().collect();
        let mut crcs = HashMap::new();
        if lines.len() > 5 {
            for line in &lines[3..lines.len() - 2] {
                let f = split_ws(line, 7);
                if f.len() == 8
                    && let Ok(crc) = u32::from_str_radix(f[6], 16)
                {
                    crcs.insert(f[7].to_owned(), crc);
                }
            }
        }
        Ok(crcs)
    }

    /// The CRC-32 of files on the target: gzip's trailer holds it, so one
    /// `gzip | tail -c 8` per file in one command (argv, never a string
    /// holding the names); a file it cannot read is read and summed here.
    async fn disk_crcs(&self, paths: &[String]) -> SResult<HashMap<String, u32>> {
        let mut crcs = HashMap::new();
        for chunk in paths.chunks(200) {
            let mut argv: Vec<String> = [
                "sh",
                "-c",
                "for f do gzip -1c < \"$f\" | tail -c 8 | od -An -tu1 -v | tr -s ' \\n' '  '; echo; done",
                "sh",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            argv.extend(chunk.iter().cloned());
            let r = run(self.ctx, &argv, None, true).await?;
            let lines: Vec<&str> = r.out.lines().collect();
            for (i, path) in chunk.iter().enumerate() {
                let bytes: Vec<u32> = lines
                    .get(i)
                    .map(|l| {
                        l.split_whitespace()
                            .filter_map(|n| n.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default();
                if bytes.len() == 8 {
                    let crc = bytes[0] | bytes[1] << 8 | bytes[2] << 16 | bytes[3] << 24;
                    crcs.insert(path.clone(), crc);
                } else if let Some(data) = self.ctx.conn.read_file(path).await? {
                    crcs.insert(path.clone(), crc32(&data));
                }
            }
        }
        Ok(crcs)
    }

    /// Epoch seconds of zipinfo's local `YYYYMMDD.HHMMSS` stamps, as the
    /// target's `mktime` sees them (one `date` for all of them).
    async fn zip_times(&self, stamps: &[String]) -> SResult<Vec<Option<f64>>> {
        if stamps.is_empty() {
            return Ok(Vec::new());
        }
        let mut input = String::new();
        for s in stamps {
            let b = s.as_bytes();
            let well_formed = b.len() == 15
                && b.iter().enumerate().all(|(i, c)| {
                    if i == 8 {
                        *c == b'.'
                    } else {
                        c.is_ascii_digit()
                    }
                });
            if well_formed {
                input.push_str(&format!(
                    "{}-{}-{} {}:{}:{}\n",
                    &s[0..4],
                    &s[4..6],
                    &s[6..8],
                    &s[9..11],
                    &s[11..13],
                    &s[13..15]
                ));
            } else {
                input.push_str("invalid\n");
            }
        }
        let mut req = ExecRequest::argv(["date", "-f", "-", "+%s"]).read_only();
        req.stdin = Some(input.into_bytes());
        let o = self.ctx.conn.exec(&req).await?;
        let text = String::from_utf8_lossy(&o.stdout);
        let mut vals: Vec<Option<f64>> = text.lines().map(|l| l.trim().parse().ok()).collect();
        vals.resize(stamps.len(), None);
        Ok(vals)
    }

    /// ZipArchive.is_unarchived: every entry zipinfo lists is compared with
    /// the file on disk; the differences become rsync-like itemized lines.
    async fn zip_is_unarchived(&mut self) -> SResult<Check> {
        let mut argv = self.zipinfo.clone();
        argv.extend(["-T".into(), "-s".into(), self.src.clone()]);
        if !self.excludes.is_empty() {
            argv.push("-x".into());
            argv.extend(self.excludes.iter().cloned());
        }
        argv.extend(self.include_files.iter().cloned());
        let r = run(self.ctx, &argv, None, true).await?;
        let mut unarchived = r.rc == 0;
        let umask = target_umask(self.ctx).await;
        let user = self.run_user().await?;
        let fut_uid = match &self.fa.owner {
            Some(o) => lookup_uid(self.ctx, o).await?.unwrap_or(user.uid),
            None => user.uid,
        };
        let fut_gid = match &self.fa.group {
            Some(g) => lookup_gid(self.ctx, g).await?.unwrap_or(user.gid),
            None => user.gid,
        };

        struct Entry {
            ztype: char,
            permstr: String,
            size: u64,
            stamp: String,
            path: String,
        }
        let mut entries = Vec::new();
        for line in r.out.lines() {
            let pcs = split_ws(line, 7);
            if pcs.len() != 8 {
                continue;
            }
            let plen = pcs[0].chars().count();
            if ![7, 8, 10].contains(&plen) || pcs[6].len() != 15 {
                continue;
            }
            let mut chars = pcs[0].chars();
            let ztype = chars.next().unwrap_or(' ');
            let permstr: String = chars.collect();
            if !"dl-?".contains(ztype) || !permstr.chars().all(|c| "rwxstah-".contains(c)) {
                continue;
            }
            let Ok(size) = pcs[3].parse::<u64>() else {
                continue;
            };
            entries.push(Entry {
                ztype,
                permstr,
                size,
                stamp: pcs[6].to_owned(),
                path: pcs[7].to_owned(),
            });
        }
        let times = self
            .zip_times(&entries.iter().map(|e| e.stamp.clone()).collect::<Vec<_>>())
            .await?;
        // Everything on disk first, so the CRC-32 of every same-size file
        // is computed in one command on the target.
        let mut stats: Vec<Option<FileStat>> = Vec::with_capacity(entries.len());
        for e in &entries {
            stats.push(
                self.ctx
                    .conn
                    .stat(&join(&self.dest, &e.path), false)
                    .await?,
            );
        }
        let same_size: Vec<String> = entries
            .iter()
            .zip(&stats)
            .filter(|(e, st)| {
                !e.path.ends_with('/')
                    && e.ztype != 'l'
                    && st
                        .as_ref()
                        .is_some_and(|s| s.kind == FileKind::File && s.size == e.size)
            })
            .map(|(e, _)| join(&self.dest, &e.path))
            .collect();
        let (want_crcs, disk_crcs) = if same_size.is_empty() {
            Default::default()
        } else {
            (self.zip_crcs().await?, self.disk_crcs(&same_size).await?)
        };
        let mut includes: Vec<String> = Vec::new();
        let mut diff = String::new();
        for ((e, timestamp), st) in entries.iter().zip(times).zip(stats) {
            let path = &e.path;
            if self.excludes.contains(path) {
                continue;
            }
            let ftype = if path.ends_with('/') {
                'd'
            } else if e.ztype == 'l' {
                'L'
            } else {
                'f'
            };
            let mut permstr = e.permstr.clone();
            let file_umask = if permstr.chars().count() == 6 {
                permstr = if path.ends_with('/') || permstr == "rwx---" {
                    "rwxrwxrwx".into()
                } else {
                    "rw-rw-rw-".into()
                };
                umask
            } else {
                0
            };
            if !perm_format_ok(&permstr) {
                return Err(fail(format!("ZIP info perm format incorrect, {permstr}")));
            }
            let full = join(&self.dest, path);
            let Some(st) = st else {
                includes.push(path.clone());
                diff.push_str(&format!(">{ftype}++++++.?? {path}\n"));
                continue;
            };
            let wrong_type = match ftype {
                'd' => st.kind != FileKind::Directory,
                'f' => st.kind != FileKind::File,
                _ => st.kind != FileKind::Symlink,
            };
            if wrong_type {
                includes.push(path.clone());
                diff.push_str(&format!("c{ftype}++++++.?? {path}\n"));
                if ftype == 'f' {
                    unarchived = false;
                }
                continue;
            }
            let mut itemized: Vec<char> = format!(".{ftype}.......??").chars().collect();
            let mut change = false;
            let regular = st.kind == FileKind::File;
            if regular {
                let ts = timestamp.unwrap_or(f64::NAN);
                if self.keep_newer {
                    if ts > st.mtime {
                        change = true;
                        itemized[4] = 't';
                    } else if ts < st.mtime {
                        // Newer on disk: left alone.
                        self.excludes.push(path.clone());
                        continue;
                    }
                } else if ts != st.mtime {
                    change = true;
                    itemized[4] = 't';
                }
                if e.size != st.size {
                    change = true;
                    itemized[3] = 's';
                    // Different sizes: different contents, without reading.
                    itemized[2] = 'c';
                } else {
                    let want = want_crcs.get(path);
                    if want.is_none() || want != disk_crcs.get(&full) {
                        change = true;
                        itemized[2] = 'c';
                    }
                }
            }
            if ftype != 'L' {
                let mode = match &self.fa.mode {
                    Some(m) => {
                        super::file::wanted_mode(m, st.mode, st.kind == FileKind::Directory, &full)?
                    }
                    None if e.ztype == '?' => permstr_to_octal(&permstr, 0),
                    None => permstr_to_octal(&permstr, file_umask),
                };
                if mode != st.mode & 0o7777 {
                    change = true;
                    itemized[5] = 'p';
                }
            }
            if user.uid != 0 && fut_uid != user.uid {
                return Err(fail(format!(
                    "Cannot change ownership of {path} to {}, as user {}",
                    self.fa.owner.clone().unwrap_or_default(),
                    user.uid
                )));
            }
            if st.uid != fut_uid {
                change = true;
                itemized[6] = 'o';
            }
            if user.uid != 0 && fut_gid != user.gid && !user.groups.contains(&fut_gid) {
                return Err(fail(format!(
                    "Cannot change group ownership of {path} to {}, as user {}",
                    self.fa.group.clone().unwrap_or_default(),
                    user.uid
                )));
            }
            if st.gid != fut_gid {
                change = true;
                itemized[6] = 'g';
            }
            if change {
                if !includes.contains(path) {
                    includes.push(path.clone());
                }
                diff.push_str(&format!("{} {path}\n", itemized.iter().collect::<String>()));
            }
        }
        if !includes.is_empty() {
            unarchived = false;
        }
        Ok(Check { unarchived, diff })
    }

    async fn unarchive(&self) -> SResult<(Vec<String>, Ran)> {
        let argv = if self.kind == Kind::Zip {
            let mut cmd = vec![self.cmd.clone(), "-o".into()];
            cmd.extend(self.opts.iter().cloned());
            cmd.push(self.src.clone());
            if !self.excludes.is_empty() {
                cmd.push("-x".into());
                cmd.extend(self.excludes.iter().cloned());
            }
            cmd.extend(self.include_files.iter().cloned());
            cmd.extend(["-d".into(), self.dest.clone()]);
            cmd
        } else {
            self.tar_args("--extract", true)
        };
        let locale = (self.kind != Kind::Zip).then_some(self.locale.as_str());
        let r = run_in(self.ctx, &argv, Some(&self.dest), false, locale).await?;
        Ok((argv, r))
    }
}

/// Ansible's `pick_handler`: the first handler that can list the archive;
/// the reasons each could not, or none when check mode stops at tar.
async fn pick_handler<'a>(
    ctx: &'a ModuleCtx<'a>,
    mut base: Handler<'a>,
) -> SResult<Result<Handler<'a>, Vec<String>>> {
    let mut reasons: Vec<String> = Vec::new();
    let mut reason = |r: String| {
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    };
    let unzip = find_bin(ctx, "unzip").await?;
    let zipinfo = find_bin(ctx, "zipinfo").await?;
    let tar = match find_bin(ctx, "gtar").await? {
        Some(t) => Some(t),
        None => find_bin(ctx, "tar").await?,
    };
    let mut gnu = None;
    for kind in Kind::ALL {
        base.kind = kind;
        if kind == Kind::Zip {
            let Some(unzip) = &unzip else {
                reason("Unable to find required 'unzip' or 'zipinfo' binary in the path.".into());
                continue;
            };
            base.cmd = unzip.clone();
            base.zip_z = zipinfo.is_none();
            base.zipinfo = match &zipinfo {
                Some(z) => vec![z.clone()],
                None => vec![unzip.clone(), "-Z".into()],
            };
            let r = run(
                ctx,
                &[unzip.clone(), "-l".into(), base.src.clone()],
                None,
                true,
            )
            .await?;
            if r.rc == 0 {
                match base.list().await? {
                    Ok(()) => return Ok(Ok(base)),
                    Err(e) => reason(format!("Command \"{unzip}\" could not handle archive: {e}")),
                }
            } else {
                reason(format!(
                    "Command \"{unzip}\" could not handle archive: {}",
                    r.err
                ));
            }
            continue;
        }
        // Ansible's tar handlers end the module as skipped in check mode
        // (its docs: check mode is limited to zip), so a dry run would miss
        // an unpacked tree that drifted. Listing and `tar --diff` change
        // nothing: check mode here says whether extracting would change
        // anything, as it does for zip.
        let Some(tar) = &tar else {
            reason("Unable to find required 'gtar' or 'tar' binary in the path".into());
            continue;
        };
        base.cmd = tar.clone();
        if gnu.is_none() {
            let r = run(ctx, &[tar.clone(), "--version".into()], None, true).await?;
            gnu = Some(r.out.contains("GNU"));
        }
        if gnu == Some(false) {
            reason(format!(
                "Command \"{tar}\" detected as tar type bsd. GNU tar required."
            ));
            continue;
        }
        match base.list().await? {
            Ok(()) if !base.files.is_empty() => return Ok(Ok(base)),
            Ok(()) => reason(format!(
                "Command \"{tar}\" found no files in archive. Empty archive files are not supported."
            )),
            Err(e) => reason(format!("Command \"{tar}\" could not handle archive: {e}")),
        }
    }
    Ok(Err(reasons))
}

/// Copies the controller's archive to a fresh temporary directory on the
/// target (also in check mode, as Ansible's action does: only the listing
/// and comparison run then, and the copy is removed afterwards).
async fn upload(ctx: &ModuleCtx<'_>, data: Vec<u8>) -> SResult<String> {
    let mut req = ExecRequest::argv([
        "sh",
        "-c",
        "umask 077 && d=$(mktemp -d \"${TMPDIR:-/tmp}/hoist-unarchive.XXXXXXXX\") && cat > \"$d/source\" && printf '%s' \"$d\"",
    ])
    .read_only();
    req.stdin = Some(data);
    let o = ctx.conn.exec(&req).await?;
    if o.rc != 0 {
        return Err(fail(format!(
            "Failed to transfer the archive: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim_end().to_owned())
}

/// Removes what [`upload`] or a download made.
async fn remove_tmp(ctx: &ModuleCtx<'_>, dir: &str) {
    let _ = ctx
        .conn
        .exec(&ExecRequest::argv(["rm", "-rf", "--", dir]).read_only())
        .await;
}

/// `remote_src` with a URL: downloaded with the target's curl.
async fn download(ctx: &ModuleCtx<'_>, url: &str, validate_certs: bool) -> SResult<String> {
    let Some(curl) = find_bin(ctx, "curl").await? else {
        return Err(fail(format!(
            "Failure downloading {url}, hoist needs curl on the target to download archives"
        )));
    };
    let dir = upload(ctx, Vec::new()).await?;
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|u| u.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .unwrap_or("download");
    let path = join(&dir, name);
    let mut argv = vec![curl, "-fsSL".to_owned()];
    if !validate_certs {
        argv.push("-k".into());
    }
    argv.extend(["-o".into(), path.clone(), "--".into(), url.to_owned()]);
    let r = run(ctx, &argv, None, true).await?;
    if r.rc != 0 {
        remove_tmp(ctx, &dir).await;
        return Err(fail(format!("Failure downloading {url}, {}", r.err.trim())));
    }
    Ok(path)
}

async fn run_unarchive(
    args: &Args,
    ctx: &ModuleCtx<'_>,
    tmp: &mut Option<String>,
) -> SResult<Outcome> {
    refuse_unsupported(args)?;
    let src_arg = args.str("src").unwrap_or_default();
    let dest_arg = args.str("dest").unwrap_or_default();
    let remote_src = match args.bool("copy") {
        Some(copy) => !copy,
        None => args.bool_or("remote_src", false),
    };
    if let Some(creates) = args.str("creates").filter(|c| !c.is_empty()) {
        let creates = expand_path(ctx.conn, &creates).await?;
        if ctx.conn.stat(&creates, true).await?.is_some() {
            let mut out = Outcome::changed(false);
            out.skipped = true;
            out.msg = Some(format!("skipped, since {creates} exists"));
            return Ok(out);
        }
    }
    let dest = expand_path(ctx.conn, &dest_arg).await?;
    let mut data = None;
    if !remote_src {
        let local = ctx
            .env
            .find_file("files", &src_arg)
            .filter(|p| p.is_file())
            .ok_or_else(|| {
                fail(format!(
                    "Could not find or access '{src_arg}' on the Ansible Controller."
                ))
            })?;
        let bytes = std::fs::read(&local)
            .map_err(|e| fail(format!("Could not read '{}': {e}", local.display())))?;
        data = Some(if args.bool_or("decrypt", true) {
            crate::vault::decrypt_file_data(bytes, &local.display().to_string()).map_err(fail)?
        } else {
            bytes
        });
    }
    if !ctx
        .conn
        .stat(&dest, true)
        .await?
        .is_some_and(|s| s.kind == FileKind::Directory)
    {
        return Err(fail(format!("dest '{dest}' must be an existing dir")));
    }
    let mut src = if let Some(data) = data {
        let dir = upload(ctx, data).await?;
        *tmp = Some(dir.clone());
        join(&dir, "source")
    } else {
        expand_path(ctx.conn, &src_arg).await?
    };

    // The module's part, on the target.
    let mut st: Option<FileStat> = ctx.conn.stat(&src, true).await?;
    if st.is_none() {
        if !remote_src {
            return Err(fail(format!("Source '{src}' failed to transfer")));
        } else if src.contains("://") {
            let path = download(ctx, &src, args.bool_or("validate_certs", true)).await?;
            *tmp = Some(super::file::dirname(&path));
            src = path;
            st = ctx.conn.stat(&src, true).await?;
        } else {
            return Err(fail(format!("Source '{src}' does not exist")));
        }
    }
    if st.as_ref().is_some_and(|s| s.size == 0) {
        return Err(fail(format!(
            "Invalid archive '{src}', the file is 0 bytes"
        )));
    }
    let fa = FileArgs::from_args(args);
    let base = Handler {
        ctx,
        kind: Kind::Zip,
        cmd: String::new(),
        zipinfo: Vec::new(),
        zip_z: false,
        src: src.clone(),
        dest: dest.clone(),
        opts: args.str_list("extra_opts").unwrap_or_default(),
        excludes: args.str_list("exclude").unwrap_or_default(),
        include_files: args.str_list("include").unwrap_or_default(),
        keep_newer: args.bool_or("keep_newer", false),
        fa: fa.clone(),
        files: Vec::new(),
        check: ctx.check_mode || ctx.predict,
        locale: best_parsable_locale(ctx).await?,
    };
    let mut h = match pick_handler(ctx, base).await? {
        Ok(h) => h,
        Err(reasons) => {
            return Err(fail(format!(
                "Failed to find handler for \"{src}\". Make sure the required command to extract the file is installed.\n{}",
                reasons.join("\n")
            )));
        }
    };
    let mut out = Outcome::changed(false)
        .with("handler", h.kind.name(h.zip_z))
        .with("dest", dest.as_str())
        .with("src", src.as_str());
    let check = h.is_unarchived().await?;
    if h.check {
        out.changed = !check.unarchived;
    } else if !check.unarchived {
        let (cmd, r) = h.unarchive().await?;
        out.set(
            "extract_results",
            vmap([
                ("cmd", Value::from(cmd)),
                ("rc", Value::from(r.rc)),
                ("out", Value::from(r.out.as_str())),
                ("err", Value::from(r.err.as_str())),
            ]),
        );
        if r.rc != 0 {
            let mut data: Vec<(&str, Value)> = out
                .data
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            data.push(("changed", Value::from(false)));
            return Err(fail_with(
                format!("failed to unpack {src} to {dest}"),
                &data,
            ));
        }
        out.changed = true;
    }
    if !check.diff.is_empty() {
        out.set(
            "diff",
            vmap([("prepared", Value::from(check.diff.as_str()))]),
        );
        if ctx.diff {
            out.diffs.push(FileDiff::prepared(check.diff.clone()));
        }
    }
    if !h.check && (fa.mode.is_some() || fa.owner.is_some() || fa.group.is_some()) {
        let mut scratch = AttrDiff::default();
        let mut top_folders: Vec<String> = Vec::new();
        for name in &h.files {
            let path = join(&dest, name);
            out.changed =
                set_fs_attributes_if_different(ctx, &path, &fa, out.changed, &mut scratch)
                    .await
                    .map_err(|e| unexpected(e, &out))?;
            if let Some((top, _)) = name.split_once('/')
                && !top_folders.iter().any(|t| t == top)
            {
                top_folders.push(top.to_owned());
            }
        }
        for top in &top_folders {
            let path = format!("{dest}/{top}");
            out.changed =
                set_fs_attributes_if_different(ctx, &path, &fa, out.changed, &mut scratch)
                    .await
                    .map_err(|e| unexpected(e, &out))?;
        }
    }
    if args.bool_or("list_files", false) {
        out.set("files", Value::from(h.files.clone()));
    }
    add_path_info(ctx, &mut out).await?;
    Ok(out)
}

/// A file that extracting should have made could not be changed.
fn unexpected(e: super::file::Stop, out: &Outcome) -> super::file::Stop {
    let msg = match &e {
        super::file::Stop::Fail(o) => o.msg.clone().unwrap_or_default(),
        super::file::Stop::Module(super::ModuleError::Failed(m)) => m.clone(),
        super::file::Stop::Module(_) => return e,
    };
    let data: Vec<(&str, Value)> = out
        .data
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    fail_with(
        format!("Unexpected error when accessing exploded file: {msg}"),
        &data,
    )
}

#[async_trait]
impl Module for Unarchive {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let mut tmp = None;
        let r = run_unarchive(args, ctx, &mut tmp).await;
        if let Some(dir) = tmp {
            remove_tmp(ctx, &dir).await;
        }
        finish(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_tar_escapes() {
        assert_eq!(escape_decode("a\\\\b"), "a\\b");
        assert_eq!(escape_decode("caf\\303\\251"), "café");
        assert_eq!(escape_decode("x\\ny"), "x\ny");
        assert_eq!(escape_decode("plain $x 'q'"), "plain $x 'q'");
        assert_eq!(escape_decode("odd\\q"), "odd\\q");
    }

    #[test]
    fn crc_and_modes() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(permstr_to_octal("rw-r--r--", 0), 0o644);
        assert_eq!(permstr_to_octal("rwxrwxrwx", 0o022), 0o755);
        assert_eq!(permstr_to_octal("rwsr-xr-x", 0), 0o755);
        assert!(perm_format_ok("rwxr-xr-x"));
        assert!(!perm_format_ok("rw-a--"));
    }

    #[test]
    fn splits_like_python() {
        assert_eq!(
            split_ws(
                "-rw-r--r--  3.0 unx  2 tx stor 20261124.050258 d i$r/it's $x.txt",
                7
            ),
            vec![
                "-rw-r--r--",
                "3.0",
                "unx",
                "2",
                "tx",
                "stor",
                "20261124.050258",
                "d i$r/it's $x.txt"
            ]
        );
        assert_eq!(split_ws("  a  b ", 7), vec!["a", "b"]);
    }
}
