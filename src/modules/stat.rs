//! `stat`: facts about a path on the target, as Ansible's `stat` returns them.

use std::collections::VecDeque;

use async_trait::async_trait;
use md5::Md5;
use minijinja::Value;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::command::expand_path;
use super::lineinfile::py_dirname;
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::{ConnErrorKind, Connection, ExecRequest, FileKind, FileStat};
use crate::template::vmap;

pub struct Stat;

static SPEC: ModuleSpec = ModuleSpec {
    name: "stat",
    params: &[
        Param::new("path", ParamType::Path)
            .required()
            .aliases(&["dest", "name"]),
        Param::new("follow", ParamType::Bool),
        Param::new("get_checksum", ParamType::Bool),
        Param::new("get_mime", ParamType::Bool).aliases(&["mime", "mime_type", "mime-type"]),
        Param::new("get_attributes", ParamType::Bool).aliases(&["attr", "attributes"]),
        Param::new("checksum_algorithm", ParamType::Str)
            .aliases(&["checksum", "checksum_algo"])
            .choices(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Return facts about a path on the target: type, mode, owner, times, checksum …",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[],
};

/// Everything one shell round trip tells about the path: its stat (`st:`,
/// and `ln:` the target of a symlink not followed), the checksum when a
/// `<algo>sum` program is given and there (`sum:`), access for the
/// connecting user, `file` and `lsattr` output, and the stat fields
/// [`FileStat`] lacks.
const PROBE: &str = r#"p=$1
if [ "$4" = 1 ]; then f=-L; else f=; fi
if [ -e "$p" ] || [ -L "$p" ]; then
  s=$(stat $f -c "$6" -- "$p" 2>/dev/null) && echo "st:$s"
  if [ -z "$f" ] && [ -L "$p" ]; then echo "ln:$(readlink -- "$p")"; fi
fi
echo "probed"
if [ -n "$5" ] && [ -f "$p" ] && [ -r "$p" ] && { [ -n "$f" ] || [ ! -L "$p" ]; } \
  && command -v "$5" >/dev/null 2>&1; then
  s=$("$5" <"$p") && echo "sum:${s%% *}"
fi
a=
if [ -r "$p" ]; then a="${a}r"; fi
if [ -w "$p" ]; then a="${a}w"; fi
if [ -x "$p" ]; then a="${a}x"; fi
echo "access:$a"
if [ "$2" = 1 ] && command -v file >/dev/null 2>&1; then
  m=$(file -b --mime-type --mime-encoding -- "$p" 2>/dev/null) && echo "mime:$m"
fi
if [ "$3" = 1 ] && command -v lsattr >/dev/null 2>&1; then
  l=$(lsattr -vd -- "$p" 2>/dev/null) && echo "attr:$l"
fi
s=$(stat $f -c '%b %o %t %T' -- "$p" 2>/dev/null) && echo "stat:$s"
exit 0
"#;

#[derive(Debug, Default)]
struct Probe {
    /// `Some` when the probe ran: the path's stat, `None` when it is not there.
    stat: Option<Option<FileStat>>,
    checksum: Option<String>,
    readable: bool,
    writeable: bool,
    executable: bool,
    mime: Option<(String, String)>,
    attr: Option<(String, String)>,
    blocks: Option<(u64, u64, u64)>,
}

async fn probe(
    conn: &dyn Connection,
    path: &str,
    mime: bool,
    attr: bool,
    follow: bool,
    sum_program: &str,
) -> Result<Probe, ModuleError> {
    let flag = |b: bool| if b { "1" } else { "0" };
    let req = ExecRequest::argv([
        "/bin/sh",
        "-c",
        PROBE,
        "hoist-stat",
        path,
        flag(mime),
        flag(attr),
        flag(follow),
        sum_program,
        crate::connection::shell::STAT_FORMAT,
    ])
    .short();
    let out = match conn.exec(&req).await {
        Ok(o) => o,
        Err(e) if e.kind == ConnErrorKind::Unreachable => return Err(e.into()),
        Err(_) => return Ok(Probe::default()),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut p = Probe::default();
    let mut st_line = None;
    let mut link = None;
    for line in text.lines() {
        if line == "probed" {
            p.stat = Some(None);
        } else if let Some(s) = line.strip_prefix("st:") {
            st_line = Some(s.to_owned());
        } else if let Some(l) = line.strip_prefix("ln:") {
            link = Some(l.to_owned());
        } else if let Some(s) = line.strip_prefix("sum:") {
            p.checksum = Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        } else if let Some(a) = line.strip_prefix("access:") {
            p.readable = a.contains('r');
            p.writeable = a.contains('w');
            p.executable = a.contains('x');
        } else if let Some(m) = line.strip_prefix("mime:") {
            // "text/plain; charset=us-ascii"
            if let Some((t, cs)) = m.split_once(';')
                && let Some((_, charset)) = cs.split_once('=')
            {
                p.mime = Some((t.trim().to_owned(), charset.trim().to_owned()));
            }
        } else if let Some(l) = line.strip_prefix("attr:") {
            let mut f = l.split_whitespace();
            if let (Some(version), Some(flags)) = (f.next(), f.next()) {
                p.attr = Some((version.to_owned(), flags.replace('-', "")));
            }
        } else if let Some(s) = line.strip_prefix("stat:") {
            let f: Vec<&str> = s.split_whitespace().collect();
            if let [blocks, blksize, major, minor] = f[..]
                && let (Ok(b), Ok(bs), Ok(ma), Ok(mi)) = (
                    blocks.parse::<u64>(),
                    blksize.parse::<u64>(),
                    u64::from_str_radix(major, 16),
                    u64::from_str_radix(minor, 16),
                )
            {
                p.blocks = Some((b, bs, makedev(ma, mi)));
            }
        }
    }
    if p.stat.is_some()
        && let Some(l) = st_line
    {
        // Unparsable: unknown, so the caller asks the connection.
        p.stat = crate::connection::shell::parse_stat(&l, link).map(Some);
    }
    Ok(p)
}

/// glibc's `makedev`.
fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
}

/// Ansible's names for `lsattr` flags.
fn attribute_names(flags: &str) -> Vec<Value> {
    flags
        .chars()
        .filter_map(|c| {
            Some(match c {
                'A' => "noatime",
                'a' => "append",
                'c' => "compressed",
                'C' => "nocow",
                'd' => "nodump",
                'D' => "dirsync",
                'e' => "extents",
                'E' => "encrypted",
                'h' => "blocksize",
                'i' => "immutable",
                'I' => "indexed",
                'j' => "journalled",
                'N' => "inline",
                's' => "zero",
                'S' => "synchronous",
                't' => "notail",
                'T' => "blockroot",
                'u' => "undelete",
                'X' => "compressedraw",
                'Z' => "compresseddirty",
                _ => return None,
            })
        })
        .map(Value::from)
        .collect()
}

/// `os.path.realpath` through the connection (non-strict: missing parts are
/// kept as they are).
async fn realpath(conn: &dyn Connection, path: &str) -> Result<String, ModuleError> {
    let start = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{}/{path}", conn.home_dir().await?.trim_end_matches('/'))
    };
    let mut todo: VecDeque<String> = start.split('/').map(str::to_owned).collect();
    let mut resolved = String::new();
    let mut hops = 0;
    while let Some(part) = todo.pop_front() {
        if part.is_empty() || part == "." {
            continue;
        }
        if part == ".." {
            resolved = py_dirname(&resolved);
            if resolved == "/" {
                resolved.clear();
            }
            continue;
        }
        let candidate = format!("{resolved}/{part}");
        match conn.stat(&candidate, false).await? {
            Some(st) if st.kind == FileKind::Symlink && hops < 40 => {
                hops += 1;
                let target = st.link_target.unwrap_or_default();
                if target.starts_with('/') {
                    resolved.clear();
                }
                for t in target.split('/').rev() {
                    todo.push_front(t.to_owned());
                }
            }
            _ => resolved = candidate,
        }
    }
    Ok(if resolved.is_empty() {
        "/".into()
    } else {
        resolved
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(algo: &str, data: &[u8]) -> String {
    match algo {
        "md5" => hex(&Md5::digest(data)),
        "sha224" => hex(&Sha224::digest(data)),
        "sha256" => hex(&Sha256::digest(data)),
        "sha384" => hex(&Sha384::digest(data)),
        "sha512" => hex(&Sha512::digest(data)),
        _ => hex(&Sha1::digest(data)),
    }
}

fn base_fields(path: &str, st: &FileStat) -> Vec<(&'static str, Value)> {
    let m = st.mode;
    let bit = |b: u32| Value::from(m & b != 0);
    vec![
        ("exists", Value::from(true)),
        ("path", Value::from(path)),
        ("mode", Value::from(format!("{:04o}", m & 0o7777))),
        ("isdir", Value::from(st.kind == FileKind::Directory)),
        ("ischr", Value::from(st.kind == FileKind::CharDevice)),
        ("isblk", Value::from(st.kind == FileKind::BlockDevice)),
        ("isreg", Value::from(st.kind == FileKind::File)),
        ("isfifo", Value::from(st.kind == FileKind::Fifo)),
        ("islnk", Value::from(st.kind == FileKind::Symlink)),
        ("issock", Value::from(st.kind == FileKind::Socket)),
        ("uid", Value::from(st.uid)),
        ("gid", Value::from(st.gid)),
        ("size", Value::from(st.size)),
        ("inode", Value::from(st.inode)),
        ("dev", Value::from(st.dev)),
        ("nlink", Value::from(st.nlink)),
        ("atime", Value::from(st.atime)),
        ("mtime", Value::from(st.mtime)),
        ("ctime", Value::from(st.ctime)),
        ("wusr", bit(0o200)),
        ("rusr", bit(0o400)),
        ("xusr", bit(0o100)),
        ("wgrp", bit(0o020)),
        ("rgrp", bit(0o040)),
        ("xgrp", bit(0o010)),
        ("woth", bit(0o002)),
        ("roth", bit(0o004)),
        ("xoth", bit(0o001)),
        ("isuid", bit(0o4000)),
        ("isgid", bit(0o2000)),
    ]
}

#[async_trait]
impl Module for Stat {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let conn = ctx.conn;
        let path = expand_path(conn, &args.str_or("path", "")).await?;
        let follow = args.bool_or("follow", false);
        let get_mime = args.bool_or("get_mime", true);
        let get_attr = args.bool_or("get_attributes", true);
        let get_checksum = args.bool_or("get_checksum", true);
        let algo = args.str_or("checksum_algorithm", "sha1");

        // One round trip: the probe stats and checksums as well.
        let sum_program = match algo.as_str() {
            "md5" | "sha1" | "sha224" | "sha256" | "sha384" | "sha512" if get_checksum => {
                format!("{algo}sum")
            }
            _ => String::new(),
        };
        let mut pr = probe(conn, &path, get_mime, get_attr, follow, &sum_program).await?;
        if ctx.predict {
            // Predicting check mode: the probe saw the host as it is, not
            // the files earlier tasks would have written.
            pr.stat = None;
            pr.checksum = None;
        }
        let st = match pr.stat.take() {
            Some(st) => st,
            None => conn.stat(&path, follow).await?,
        };
        let Some(st) = st else {
            return Ok(Outcome::changed(false).with("stat", vmap([("exists", false)])));
        };
        let mut fields = base_fields(&path, &st);
        if let Some((blocks, blksize, rdev)) = pr.blocks {
            fields.push(("blocks", Value::from(blocks)));
            fields.push(("block_size", Value::from(blksize)));
            fields.push(("device_type", Value::from(rdev)));
        }
        fields.push(("readable", Value::from(pr.readable)));
        fields.push(("writeable", Value::from(pr.writeable)));
        fields.push(("executable", Value::from(pr.executable)));
        if st.kind == FileKind::Symlink {
            fields.push(("lnk_source", Value::from(realpath(conn, &path).await?)));
            fields.push((
                "lnk_target",
                Value::from(st.link_target.clone().unwrap_or_default()),
            ));
        }
        if let Some(o) = &st.owner {
            fields.push(("pw_name", Value::from(o.as_str())));
        }
        if let Some(g) = &st.group {
            fields.push(("gr_name", Value::from(g.as_str())));
        }
        if st.kind == FileKind::File && pr.readable && get_checksum {
            let sum = match pr.checksum.take() {
                Some(sum) => sum,
                None => digest(&algo, &conn.read_file(&path).await?.unwrap_or_default()),
            };
            fields.push(("checksum", Value::from(sum)));
        }
        if get_mime {
            let (t, cs) = pr
                .mime
                .clone()
                .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
            fields.push(("mimetype", Value::from(t)));
            fields.push(("charset", Value::from(cs)));
        }
        if get_attr {
            match &pr.attr {
                Some((version, flags)) => {
                    fields.push(("version", Value::from(version.as_str())));
                    fields.push(("attributes", Value::from(attribute_names(flags))));
                    fields.push(("attr_flags", Value::from(flags.as_str())));
                }
                None => {
                    fields.push(("version", Value::from(())));
                    fields.push(("attributes", Value::from(Vec::<Value>::new())));
                    fields.push(("attr_flags", Value::from("")));
                }
            }
        }
        Ok(Outcome::changed(false).with("stat", vmap(fields)))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::modules::testing::{TestEnv, run};

    async fn stat_of(dir: &std::path::Path, yaml: &str) -> Value {
        let e = TestEnv::new(dir, &[]);
        let out = run(&Stat, yaml, &e, false, false).await.unwrap();
        assert!(!out.changed && !out.failed);
        out.data.get("stat").cloned().unwrap()
    }

    fn get(v: &Value, k: &str) -> Value {
        v.get_attr(k).unwrap_or_default()
    }

    #[tokio::test]
    async fn regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.txt");
        std::fs::write(&f, "hello\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o4640)).unwrap();
        let st = stat_of(dir.path(), &format!("path: {}", f.display())).await;
        assert_eq!(get(&st, "exists"), Value::from(true));
        assert_eq!(get(&st, "path"), Value::from(f.display().to_string()));
        assert_eq!(get(&st, "mode"), Value::from("4640"));
        assert_eq!(get(&st, "isreg"), Value::from(true));
        assert_eq!(get(&st, "isdir"), Value::from(false));
        assert_eq!(get(&st, "islnk"), Value::from(false));
        assert_eq!(get(&st, "size"), Value::from(6));
        assert_eq!(get(&st, "rusr"), Value::from(true));
        assert_eq!(get(&st, "wusr"), Value::from(true));
        assert_eq!(get(&st, "xusr"), Value::from(false));
        assert_eq!(get(&st, "rgrp"), Value::from(true));
        assert_eq!(get(&st, "roth"), Value::from(false));
        assert_eq!(get(&st, "isuid"), Value::from(true));
        assert_eq!(get(&st, "isgid"), Value::from(false));
        assert_eq!(get(&st, "readable"), Value::from(true));
        assert_eq!(get(&st, "executable"), Value::from(false));
        assert_eq!(
            get(&st, "checksum"),
            Value::from("f572d396fae9206628714fb2ce00f72e94f2258f")
        );
        assert_eq!(get(&st, "nlink"), Value::from(1));
        assert!(!get(&st, "pw_name").is_undefined());
        assert!(!get(&st, "mtime").is_undefined());
        assert!(!get(&st, "mimetype").is_undefined());
        assert!(!get(&st, "attributes").is_undefined());
        let st = stat_of(
            dir.path(),
            &format!(
                "path: {}\nchecksum_algorithm: sha256\nget_mime: no",
                f.display()
            ),
        )
        .await;
        assert_eq!(
            get(&st, "checksum"),
            Value::from("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        );
        assert!(get(&st, "mimetype").is_undefined());
        let st = stat_of(
            dir.path(),
            &format!("path: {}\nget_checksum: false", f.display()),
        )
        .await;
        assert!(get(&st, "checksum").is_undefined());
    }

    #[tokio::test]
    async fn missing_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let st = stat_of(dir.path(), &format!("path: {}/nope", dir.path().display())).await;
        assert_eq!(st.len(), Some(1));
        assert_eq!(get(&st, "exists"), Value::from(false));
        let st = stat_of(dir.path(), &format!("path: {}", dir.path().display())).await;
        assert_eq!(get(&st, "isdir"), Value::from(true));
        assert_eq!(get(&st, "executable"), Value::from(true));
        assert!(get(&st, "checksum").is_undefined());
    }

    #[tokio::test]
    async fn symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::fs::write(real.join("target"), "x").unwrap();
        std::os::unix::fs::symlink("target", real.join("link")).unwrap();
        let link = format!("{}/link", real.display());
        let st = stat_of(dir.path(), &format!("path: {link}")).await;
        assert_eq!(get(&st, "islnk"), Value::from(true));
        assert_eq!(get(&st, "isreg"), Value::from(false));
        assert_eq!(get(&st, "lnk_target"), Value::from("target"));
        assert_eq!(
            get(&st, "lnk_source"),
            Value::from(format!("{}/target", real.display()))
        );
        assert!(get(&st, "checksum").is_undefined());
        let st = stat_of(dir.path(), &format!("path: {link}\nfollow: yes")).await;
        assert_eq!(get(&st, "islnk"), Value::from(false));
        assert_eq!(get(&st, "isreg"), Value::from(true));
        assert_eq!(get(&st, "size"), Value::from(1));
        assert!(get(&st, "lnk_source").is_undefined());
        assert_eq!(
            get(&st, "checksum"),
            Value::from("11f6ad8ec52a2984abaafd7c3b516503785c2072")
        );
    }
}
