//! `fetch`: copy a file from the target to the controller, under
//! `dest/HOST/PATH` (or straight to `dest` with `flat`), as Ansible's fetch
//! action does. The controller-side file is written atomically.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use minijinja::Value;

use super::command::expand_path;
use super::copy::sha1_hex;
use super::slurp::slurp;
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::template::py_str;

pub struct Fetch;

static SPEC: ModuleSpec = ModuleSpec {
    name: "fetch",
    params: &[
        Param::new("src", ParamType::Str).required(),
        Param::new("dest", ParamType::Str).required(),
        Param::new("flat", ParamType::Bool),
        Param::new("fail_on_missing", ParamType::Bool),
        Param::new("validate_checksum", ParamType::Bool),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Copy a file from the target to the controller.",
    check_note: "skipped, as in Ansible",
    diff: DiffSupport::No,
    notes: &["The copy on the controller is written atomically."],
};

/// Python's `os.path.normpath` for POSIX paths.
pub(crate) fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        2
    } else if p.starts_with('/') {
        1
    } else {
        0
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if initial == 0 {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    let out = format!("{}{joined}", "/".repeat(initial));
    if out.is_empty() { ".".into() } else { out }
}

fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `data` to `dest` on the controller through a temporary file in
/// the same directory, so `dest` is never half-written.
fn write_atomic(dest: &Path, data: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = dest.parent().unwrap_or(Path::new("."));
    let base = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{base}.hoist-fetch-{}-{n}.tmp",
        std::process::id()
    ));
    let res = std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, dest));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

fn fail(msg: impl Into<String>) -> Outcome {
    Outcome::failure(msg)
}

#[async_trait]
impl Module for Fetch {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        if ctx.check_mode || ctx.predict {
            let mut out = Outcome::changed(false);
            out.skipped = true;
            out.msg = Some("check mode not (yet) supported for this module".into());
            return Ok(out);
        }
        let conn = ctx.conn;
        let flat = args.bool_or("flat", false);
        let fail_on_missing = args.bool_or("fail_on_missing", true);
        let validate_checksum = args.bool_or("validate_checksum", true);
        let src = expand_path(conn, &args.str_or("src", "")).await?;
        let dest = args.str_or("dest", "");

        let data = match slurp(conn, &src).await {
            Ok(d) => d,
            Err(ModuleError::Unreachable(m)) => return Err(ModuleError::Unreachable(m)),
            Err(ModuleError::Failed(m)) => {
                let msg = if m.contains("not found") {
                    "the remote file does not exist, not transferring, ignored".to_owned()
                } else if m.to_ascii_lowercase().starts_with("source is a directory") {
                    "remote file is a directory, fetch cannot work on directories".to_owned()
                } else {
                    m
                };
                let mut out = Outcome::changed(false);
                out.msg = Some(msg);
                if fail_on_missing {
                    out.failed = true;
                } else {
                    out.set("file", src.as_str());
                }
                return Ok(out);
            }
        };
        let remote_checksum = crate::connection::sha1_hex_yielding(&data).await;

        let base_dir = || -> PathBuf {
            ctx.env
                .var("playbook_dir")
                .ok()
                .flatten()
                .map(|v| PathBuf::from(py_str(&v)))
                .or_else(|| std::env::current_dir().ok())
                .unwrap_or_else(|| PathBuf::from("."))
        };
        let dwim = |p: &str| -> String {
            if p.starts_with('/') {
                p.to_owned()
            } else {
                base_dir().join(p).to_string_lossy().into_owned()
            }
        };
        let dest = if flat {
            let mut dest = dest;
            if Path::new(&dest).is_dir() && !dest.ends_with('/') {
                return Ok(fail(
                    "dest is an existing directory, use a trailing slash if you want to fetch src into that directory",
                ));
            }
            if dest.ends_with('/') {
                let base = src.rsplit('/').next().unwrap_or("");
                dest = format!("{dest}{base}");
                if Path::new(&dest).is_dir() {
                    return Ok(fail(format!(
                        "calculated dest '{dest}' is an existing directory, use another path that does not point to an existing directory"
                    )));
                }
            }
            dwim(&dest)
        } else {
            format!("{}/{}/{}", dwim(&dest), ctx.host, src)
        };
        let dest = normpath(&dest);
        let dest_path = Path::new(&dest);

        let local = std::fs::read(dest_path).ok();
        let local_checksum = local.as_deref().map(sha1_hex);
        let mut out = Outcome::changed(false);
        if local_checksum.as_deref() == Some(remote_checksum.as_str()) {
            out.set("md5sum", local.as_deref().map(md5_hex));
            out.set("file", src.as_str());
            out.set("dest", dest.as_str());
            out.set("checksum", local_checksum);
            return Ok(out);
        }
        if let Some(dir) = dest_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                ModuleError::Failed(format!("Failed to fetch the file: {}: {e}", dir.display()))
            })?;
        }
        write_atomic(dest_path, &data)
            .map_err(|e| ModuleError::Failed(format!("Failed to fetch the file: {e}")))?;
        let written = std::fs::read(dest_path).unwrap_or_default();
        let new_checksum = crate::connection::sha1_hex_yielding(&written).await;
        out.set("md5sum", md5_hex(&written));
        if validate_checksum && new_checksum != remote_checksum {
            out.failed = true;
            out.msg = Some("checksum mismatch".into());
            out.set("file", src.as_str());
        } else {
            out.changed = true;
        }
        out.set("dest", dest.as_str());
        out.set("remote_md5sum", Value::from(()));
        out.set("checksum", new_checksum);
        out.set("remote_checksum", remote_checksum);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{TestEnv, run};

    #[test]
    fn python_normpath() {
        assert_eq!(normpath("/a//b/./c/../d"), "/a/b/d");
        assert_eq!(normpath("a/../../b"), "../b");
        assert_eq!(normpath("/../x"), "/x");
        assert_eq!(normpath("//x"), "//x");
        assert_eq!(normpath(""), ".");
    }

    #[tokio::test]
    async fn host_layout_flat_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("s p $a 'q\".txt");
        std::fs::write(&src, "data\n").unwrap();
        let out_dir = dir.path().join("out");
        let e = TestEnv::new(dir.path(), &[]);
        let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "''"));
        let y = format!("src: {}\ndest: {}", q(&src), q(&out_dir));
        let out = run(&Fetch, &y, &e, false, false).await.unwrap();
        assert!(out.changed && !out.failed, "{out:?}");
        let want = format!("{}/localhost{}", out_dir.display(), src.display());
        assert_eq!(out.data["dest"].as_str(), Some(want.as_str()));
        assert_eq!(std::fs::read_to_string(&want).unwrap(), "data\n");
        assert_eq!(
            out.data["checksum"].as_str(),
            Some(sha1_hex(b"data\n").as_str())
        );
        assert_eq!(
            out.data["md5sum"].as_str(),
            Some(md5_hex(b"data\n").as_str())
        );
        let out = run(&Fetch, &y, &e, false, false).await.unwrap();
        assert!(!out.changed);
        assert_eq!(out.data["file"].as_str(), Some(src.to_str().unwrap()));

        // flat into a directory needs the trailing slash.
        std::fs::create_dir_all(dir.path().join("flat")).unwrap();
        let y = format!(
            "src: {}\ndest: {}\nflat: yes",
            q(&src),
            q(&dir.path().join("flat"))
        );
        let out = run(&Fetch, &y, &e, false, false).await.unwrap();
        assert!(out.failed);
        let y = format!(
            "src: {}\ndest: '{}/flat/'\nflat: yes",
            q(&src),
            dir.path().display()
        );
        let out = run(&Fetch, &y, &e, false, false).await.unwrap();
        assert!(out.changed, "{out:?}");
        assert!(
            dir.path()
                .join("flat")
                .join(src.file_name().unwrap())
                .is_file()
        );

        let y = format!("src: {}/nope\ndest: {}", dir.path().display(), q(&out_dir));
        let out = run(&Fetch, &y, &e, false, false).await.unwrap();
        assert!(out.failed);
        assert_eq!(
            out.msg.as_deref(),
            Some("the remote file does not exist, not transferring, ignored")
        );
        let out = run(
            &Fetch,
            &format!("{y}\nfail_on_missing: no"),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(!out.failed && !out.changed);
        // Check mode skips, as Ansible's action does.
        let out = run(&Fetch, &y, &e, true, false).await.unwrap();
        assert!(out.skipped);
    }
}
