//! `assemble`: a file made of the fragments in a directory (sorted by
//! name), on the target (`remote_src`, the default) or from the controller
//! (then written as copy does), as Ansible's action and module do.

use async_trait::async_trait;
use minijinja::Value;

use super::command::expand_path;
use super::copy::{CopyOpts, Source, copy_file, sha1_hex};
use super::file::{add_path_info, finish};
use super::lineinfile::{backup_local, check_file_attrs, write_changes};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::{Connection, FileKind};
use crate::pyre::{Anchor, compile};

pub struct Assemble;

static SPEC: ModuleSpec = ModuleSpec {
    name: "assemble",
    params: &[
        Param::new("src", ParamType::Path).required(),
        Param::new("dest", ParamType::Path).required(),
        Param::new("delimiter", ParamType::Str),
        Param::new("backup", ParamType::Bool),
        Param::new("remote_src", ParamType::Bool),
        Param::new("regexp", ParamType::Str),
        Param::new("ignore_hidden", ParamType::Bool),
        Param::new("validate", ParamType::Str),
        Param::new("decrypt", ParamType::Bool),
        Param::new("follow", ParamType::Bool),
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
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Build a file from the fragments in a directory, in name order.",
    check_note: "",
    diff: DiffSupport::Partly(
        "changes of mode and owner; the content's diff only with \
                               `remote_src: false`",
    ),
    notes: &[
        "`follow` is accepted and ignored: a link at `dest` is always followed.",
        super::file::NOTE_ATTRS_IGNORED,
    ],
};

/// Python's `codecs.escape_decode` (bytes string escapes).
pub(crate) fn escape_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        match c {
            b'\n' => {}
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                let mut k = 0;
                while k < 2 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    k += 1;
                }
                out.push((v & 0xff) as u8);
            }
            b'x' if i + 1 < b.len() && b[i].is_ascii_hexdigit() && b[i + 1].is_ascii_hexdigit() => {
                let hex = std::str::from_utf8(&b[i..i + 2]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                i += 2;
            }
            c => {
                out.push(b'\\');
                out.push(c);
            }
        }
    }
    out
}

/// Joins fragments as `assemble_from_fragments`: a newline after a
/// fragment without one, the delimiter (with its own newline) between.
pub(crate) fn join_fragments(frags: &[Vec<u8>], delimiter: Option<&str>) -> Vec<u8> {
    let delim = delimiter.filter(|d| !d.is_empty()).map(escape_decode);
    let mut out = Vec::new();
    let mut add_newline = false;
    for (n, f) in frags.iter().enumerate() {
        if add_newline {
            out.push(b'\n');
        }
        if n > 0
            && let Some(d) = &delim
        {
            out.extend_from_slice(d);
            if d.last() != Some(&b'\n') {
                out.push(b'\n');
            }
        }
        out.extend_from_slice(f);
        add_newline = !f.ends_with(b"\n");
    }
    out
}

struct Select {
    regexp: Option<regex::Regex>,
    ignore_hidden: bool,
}

impl Select {
    fn wants(&self, name: &str) -> bool {
        self.regexp.as_ref().is_none_or(|r| r.is_match(name))
            && !(self.ignore_hidden && name.starts_with('.'))
    }
}

async fn remote_fragments(
    conn: &dyn Connection,
    src: &str,
    sel: &Select,
) -> Result<Vec<Vec<u8>>, ModuleError> {
    let mut frags = Vec::new();
    for name in conn.list_dir(src).await? {
        if !sel.wants(&name) {
            continue;
        }
        let path = format!("{}/{name}", src.trim_end_matches('/'));
        if conn
            .stat(&path, true)
            .await?
            .is_none_or(|s| s.kind != FileKind::File)
        {
            continue;
        }
        frags.push(conn.read_file(&path).await?.unwrap_or_default());
    }
    Ok(frags)
}

fn local_fragments(src: &std::path::Path, sel: &Select) -> Result<Vec<Vec<u8>>, String> {
    let mut names: Vec<String> = std::fs::read_dir(src)
        .map_err(|e| format!("Source ({}) is not a directory: {e}", src.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut frags = Vec::new();
    for name in names {
        let path = src.join(&name);
        if !sel.wants(&name) || !path.is_file() {
            continue;
        }
        frags.push(std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok(frags)
}

fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[async_trait]
impl Module for Assemble {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let conn = ctx.conn;
        let src = args.str_or("src", "");
        let dest = expand_path(conn, &args.str_or("dest", "")).await?;
        let regexp = match args.str("regexp") {
            Some(r) => Some(
                compile(&r, false, false, Anchor::Search)
                    .map_err(|e| ModuleError::Failed(format!("Invalid Regexp ({e}) in \"{r}\"")))?,
            ),
            None => None,
        };
        let sel = Select {
            regexp,
            ignore_hidden: args.bool_or("ignore_hidden", false),
        };
        let delimiter = args.str("delimiter");
        let validate = args.str("validate").filter(|v| !v.is_empty());

        if !args.bool_or("remote_src", true) {
            // The action: fragments from the controller, written as copy.
            let Some(found) = ctx.env.find_file("files", &src) else {
                return Ok(Outcome::failure(format!(
                    "Could not find or access '{src}' on the Ansible Controller."
                )));
            };
            if !found.is_dir() {
                return Ok(Outcome::failure(format!(
                    "Source ({}) is not a directory",
                    found.display()
                )));
            }
            let mut frags = local_fragments(&found, &sel).map_err(ModuleError::Failed)?;
            if args.bool_or("decrypt", true) {
                for (i, frag) in frags.iter_mut().enumerate() {
                    let name = format!("{} (fragment {})", found.display(), i + 1);
                    *frag = crate::vault::decrypt_file_data(std::mem::take(frag), &name)
                        .map_err(ModuleError::Failed)?;
                }
            }
            let data = join_fragments(&frags, delimiter.as_deref());
            let source = Source {
                data,
                rel: "src".into(),
                diff_header: found.display().to_string(),
                is_content: false,
                src_report: None,
                src_mode: None,
                keep_stat: None,
            };
            let checksum = crate::connection::sha1_hex_yielding(&source.data).await;
            let md5 = md5_hex(&source.data);
            let opts = CopyOpts::from_args(args);
            let res = copy_file(ctx, &opts, &source, &dest).await.map(|o| {
                let mut o =
                    o.unwrap_or_else(|| Outcome::changed(false).with("dest", dest.as_str()));
                if !o.changed {
                    // Unchanged, Ansible's result names the dest and its sums.
                    o.data.shift_remove("diff");
                    o.data.shift_remove("path");
                    o.diffs.clear();
                    o.set("dest", dest.as_str());
                    o.set("checksum", checksum.as_str());
                    o.set("md5sum", md5.as_str());
                }
                o
            });
            return finish(res);
        }

        let src = expand_path(conn, &src).await?;
        match conn.stat(&src, true).await? {
            None => return Ok(Outcome::failure(format!("Source ({src}) does not exist"))),
            Some(s) if s.kind != FileKind::Directory => {
                return Ok(Outcome::failure(format!(
                    "Source ({src}) is not a directory"
                )));
            }
            Some(_) => {}
        }
        if let Some(v) = &validate
            && !v.contains("%s")
        {
            return Ok(Outcome::failure(format!("validate must contain %s: {v}")));
        }
        let frags = remote_fragments(conn, &src, &sel).await?;
        let data = join_fragments(&frags, delimiter.as_deref());
        let checksum = crate::connection::sha1_hex_yielding(&data).await;
        let mut out = Outcome::changed(false)
            .with("src", src.as_str())
            .with("dest", dest.as_str())
            .with("checksum", checksum.as_str())
            .with("md5sum", md5_hex(&data));
        let dest_data = conn.read_file(&dest).await?;
        let mut changed = false;
        if dest_data.as_deref().map(sha1_hex) != Some(checksum) {
            if args.bool_or("backup", false) && dest_data.is_some() && !ctx.check_mode {
                out.set("backup_file", Value::from(backup_local(conn, &dest).await?));
            }
            if !ctx.check_mode {
                let real = super::lineinfile::resolve_links(conn, &dest).await?;
                write_changes(ctx, validate.as_deref(), &real, &data).await?;
            }
            changed = true;
        }
        let mut msg = String::new();
        let mut diffs = Vec::new();
        check_file_attrs(ctx, args, &dest, &mut changed, &mut msg, &mut diffs).await?;
        out.changed = changed;
        out.msg = Some("OK".into());
        if let Err(e) = add_path_info(ctx, &mut out).await {
            return finish(Err(e));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{TestEnv, run};

    #[test]
    fn fragments_and_delimiters() {
        let f = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(join_fragments(&f(&["a\n", "b", "c\n"]), None), b"a\nb\nc\n");
        assert_eq!(
            join_fragments(&f(&["a", "b"]), Some("# --\\t")),
            b"a\n# --\t\nb"
        );
        assert_eq!(
            join_fragments(&f(&["a\n", "b\n"]), Some("--\\n")),
            b"a\n--\nb\n"
        );
        assert_eq!(escape_decode("\\x41\\101\\q"), b"AA\\q");
    }

    #[tokio::test]
    async fn remote_src_assembles_once() {
        let dir = tempfile::tempdir().unwrap();
        let frag = dir.path().join("frags $x");
        std::fs::create_dir_all(&frag).unwrap();
        std::fs::write(frag.join("10-b"), "b").unwrap();
        std::fs::write(frag.join("01-a"), "a\n").unwrap();
        std::fs::write(frag.join(".hidden"), "h\n").unwrap();
        std::fs::write(frag.join("20-skip.bak"), "s\n").unwrap();
        let dest = dir.path().join("out 'q'.conf");
        let e = TestEnv::new(dir.path(), &[]);
        let y = format!(
            "src: '{}'\ndest: \"{}\"\nregexp: '^[01]'\nignore_hidden: yes\ndelimiter: '## x'",
            frag.display(),
            dest.display()
        );
        let out = run(&Assemble, &y, &e, false, false).await.unwrap();
        assert!(out.changed, "{out:?}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "a\n## x\nb");
        assert_eq!(out.msg.as_deref(), Some("OK"));
        let out = run(&Assemble, &y, &e, false, false).await.unwrap();
        assert!(!out.changed);
    }
}
