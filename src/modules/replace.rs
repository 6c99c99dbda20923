//! `replace`: replace every match of a Python regular expression in a file
//! (optionally only between `after` and `before`), as Ansible's module does:
//! the file is decoded with `encoding`, the pattern compiled with
//! `re.MULTILINE`, and `re.subn` applied to the section.

use async_trait::async_trait;
use minijinja::Value;

use super::command::expand_path;
use super::lineinfile::{backup_local, check_file_attrs, resolve_links, write_changes};
use super::{
    Args, DiffSupport, FileDiff, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult,
    ModuleSpec, Outcome, Param, ParamType,
};
use crate::connection::FileKind;
use crate::pyre::{Anchor, compile, subn};

pub struct Replace;

static SPEC: ModuleSpec = ModuleSpec {
    name: "replace",
    params: &[
        Param::new("path", ParamType::Path)
            .required()
            .aliases(&["dest", "destfile", "name"]),
        Param::new("regexp", ParamType::Str).required(),
        Param::new("replace", ParamType::Str),
        Param::new("after", ParamType::Str),
        Param::new("before", ParamType::Str),
        Param::new("backup", ParamType::Bool),
        Param::new("validate", ParamType::Str),
        Param::new("encoding", ParamType::Str),
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
    summary: "Replace every match of a regular expression in a file.",
    check_note: "",
    diff: DiffSupport::Yes,
    notes: &[super::file::NOTE_ATTRS_IGNORED],
};

/// Bytes a strict decoder rejects are kept as characters of this private
/// range (as Python's `surrogateescape` keeps them as lone surrogates), so
/// they survive the round trip unchanged.
const ESCAPE_BASE: u32 = 0x10_FF00;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Utf8,
    Latin1,
    Ascii,
}

impl Encoding {
    /// Python's codec lookup for the encodings hoist supports.
    pub(crate) fn lookup(name: &str) -> Result<Encoding, String> {
        let norm: String = name
            .trim()
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c == '_' || c == ' ' { '-' } else { c })
            .collect();
        match norm.as_str() {
            "utf-8" | "utf8" | "u8" | "utf" | "cp65001" => Ok(Encoding::Utf8),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "8859" | "cp819" | "l1"
            | "iso-ir-100" | "latin" => Ok(Encoding::Latin1),
            "ascii" | "us-ascii" | "646" | "us" => Ok(Encoding::Ascii),
            _ => Err(format!("unknown encoding: {name}")),
        }
    }

    fn escaped(b: u8) -> char {
        char::from_u32(ESCAPE_BASE + u32::from(b)).unwrap_or('\u{FFFD}')
    }

    pub(crate) fn decode(self, data: &[u8]) -> String {
        match self {
            Encoding::Latin1 => data.iter().map(|&b| char::from(b)).collect(),
            Encoding::Ascii => data
                .iter()
                .map(|&b| {
                    if b < 0x80 {
                        char::from(b)
                    } else {
                        Encoding::escaped(b)
                    }
                })
                .collect(),
            Encoding::Utf8 => {
                let mut out = String::with_capacity(data.len());
                for chunk in data.utf8_chunks() {
                    out.push_str(chunk.valid());
                    out.extend(chunk.invalid().iter().map(|&b| Encoding::escaped(b)));
                }
                out
            }
        }
    }

    pub(crate) fn encode(self, text: &str) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            let cp = u32::from(c);
            if (ESCAPE_BASE + 0x80..=ESCAPE_BASE + 0xFF).contains(&cp) {
                out.push((cp - ESCAPE_BASE) as u8);
                continue;
            }
            match self {
                Encoding::Utf8 => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Encoding::Latin1 | Encoding::Ascii => {
                    let limit = if self == Encoding::Latin1 {
                        0x100
                    } else {
                        0x80
                    };
                    if cp >= limit {
                        let name = if self == Encoding::Latin1 {
                            "latin-1"
                        } else {
                            "ascii"
                        };
                        return Err(format!(
                            "'{name}' codec can't encode character '\\u{cp:04x}': ordinal not in range({limit})"
                        ));
                    }
                    out.push(cp as u8);
                }
            }
        }
        Ok(out)
    }
}

/// What replacing does to a text: the new text and the number of
/// replacements, or `None` when nothing changes; `Err(msg)` (not a failure)
/// when `after`/`before` do not match.
pub(crate) enum Replaced {
    Changed(String, usize),
    Unchanged,
    NoSection(String),
}

pub(crate) fn replace_text(
    contents: &str,
    regexp: &str,
    replace: &str,
    after: Option<&str>,
    before: Option<&str>,
) -> Result<Replaced, String> {
    let after = after.filter(|s| !s.is_empty());
    let before = before.filter(|s| !s.is_empty());
    let pattern = match (after, before) {
        (Some(a), Some(b)) => format!("{a}(?P<subsection>.*?){b}"),
        (Some(a), None) => format!("{a}(?P<subsection>.*)"),
        (None, Some(b)) => format!("(?P<subsection>.*){b}"),
        (None, None) => String::new(),
    };
    let (start, end) = if pattern.is_empty() {
        (0, contents.len())
    } else {
        let section_re = compile(&format!("(?s){pattern}"), false, false, Anchor::Search)?;
        match section_re
            .captures(contents)
            .and_then(|c| c.name("subsection"))
        {
            Some(m) => (m.start(), m.end()),
            None => {
                return Ok(Replaced::NoSection(format!(
                    "Pattern for before/after params did not match the given file: {pattern}"
                )));
            }
        }
    };
    let section = &contents[start..end];
    let mre = compile(regexp, false, true, Anchor::Search)?;
    let (result, n) = subn(&mre, replace, section, 0)
        .map_err(|e| format!("Unable to process replace due to error: {e}"))?;
    if n > 0 && result != section {
        let mut full = String::with_capacity(contents.len() + result.len());
        full.push_str(&contents[..start]);
        full.push_str(&result);
        full.push_str(&contents[end..]);
        Ok(Replaced::Changed(full, n))
    } else {
        Ok(Replaced::Unchanged)
    }
}

#[async_trait]
impl Module for Replace {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let conn = ctx.conn;
        let path = expand_path(conn, &args.str_or("path", "")).await?;
        let encoding = Encoding::lookup(&args.str_or("encoding", "utf-8"))?;
        // Stats and content in one round trip (remembered for the task).
        let (_, st, _) = conn.stat_both_content(&path).await?;
        match &st {
            Some(s) if s.kind == FileKind::Directory => {
                return Ok(
                    Outcome::failure(format!("Path {path} is a directory !")).with("rc", 256)
                );
            }
            None => {
                return Ok(
                    Outcome::failure(format!("Path {path} does not exist !")).with("rc", 257)
                );
            }
            Some(_) => {}
        }
        let data = conn.read_file(&path).await?.unwrap_or_default();
        let contents = encoding.decode(&data);
        let regexp = args.str_or("regexp", "");
        let replace = args.str_or("replace", "");
        let replaced = replace_text(
            &contents,
            &regexp,
            &replace,
            args.str("after").as_deref(),
            args.str("before").as_deref(),
        )
        .map_err(ModuleError::Failed)?;
        let mut out = Outcome::changed(false).with("rc", 0);
        let (mut changed, mut msg) = match replaced {
            Replaced::NoSection(msg) => {
                out.msg = Some(msg);
                return Ok(out);
            }
            Replaced::Unchanged => (false, String::new()),
            Replaced::Changed(after, n) => {
                if ctx.diff {
                    // Ansible's replace returns one diff dict, not a list.
                    out.set(
                        "diff",
                        crate::template::vmap([
                            ("before_header", Value::from(path.as_str())),
                            ("before", Value::from(contents.as_str())),
                            ("after_header", Value::from(path.as_str())),
                            ("after", Value::from(after.as_str())),
                        ]),
                    );
                    out.diffs.push(FileDiff {
                        before_header: path.clone(),
                        after_header: path.clone(),
                        before: contents.clone(),
                        after: after.clone(),
                    });
                }
                if !ctx.check_mode {
                    let bytes = encoding.encode(&after).map_err(ModuleError::Failed)?;
                    if args.bool_or("backup", false) {
                        let b = backup_local(conn, &path).await?;
                        out.set("backup_file", b);
                    }
                    let real = resolve_links(conn, &path).await?;
                    write_changes(ctx, args.str("validate").as_deref(), &real, &bytes).await?;
                }
                (true, format!("{n} replacements made"))
            }
        };
        // Ansible's replace reports attribute changes without a diff.
        let mut attr_diffs = Vec::new();
        check_file_attrs(ctx, args, &path, &mut changed, &mut msg, &mut attr_diffs).await?;
        out.changed = changed;
        out.msg = Some(msg);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::modules::testing::{TestEnv, run};

    fn text(contents: &str, re: &str, rep: &str, a: Option<&str>, b: Option<&str>) -> String {
        match replace_text(contents, re, rep, a, b).unwrap() {
            Replaced::Changed(t, _) => t,
            Replaced::Unchanged => contents.to_owned(),
            Replaced::NoSection(m) => m,
        }
    }

    #[test]
    fn multiline_backrefs_and_sections() {
        assert_eq!(
            text("a=1\nb=2\n", r"^(\w)=(\d)$", r"\2=\1", None, None),
            "1=a\n2=b\n"
        );
        assert_eq!(
            text(
                "x 1\ny 2\n",
                r"(?P<k>\w) (?P<v>\d)",
                r"\g<v>:\g<k>",
                None,
                None
            ),
            "1:x\n2:y\n"
        );
        let conf = "a=1\n[s]\na=1\n[t]\na=1\n";
        assert_eq!(
            text(conf, "^a=1$", "a=2", Some(r"\[s\]"), Some(r"\[t\]")),
            "a=1\n[s]\na=2\n[t]\na=1\n"
        );
        assert_eq!(
            text(conf, "^a=1$", "a=2", Some(r"\[s\]"), None),
            "a=1\n[s]\na=2\n[t]\na=2\n"
        );
        assert_eq!(
            text(conf, "^a=1$", "a=2", None, Some(r"\[s\]")),
            "a=2\n[s]\na=1\n[t]\na=1\n"
        );
        assert_eq!(
            text(conf, "a", "b", Some("nomatch"), None),
            "Pattern for before/after params did not match the given file: nomatch(?P<subsection>.*)"
        );
        // Replacing a match with itself is no change.
        assert!(matches!(
            replace_text("abc", "b", "b", None, None).unwrap(),
            Replaced::Unchanged
        ));
        assert!(matches!(
            replace_text("abc", "b", r"\2", None, None),
            Err(m) if m.starts_with("Unable to process replace due to error")
        ));
    }

    #[test]
    fn encodings_round_trip() {
        let raw = b"caf\xe9 \xff ok\n";
        let t = Encoding::Utf8.decode(raw);
        assert_eq!(Encoding::Utf8.encode(&t).unwrap(), raw);
        let t = Encoding::Latin1.decode(raw);
        assert!(t.starts_with("café"));
        assert_eq!(Encoding::Latin1.encode(&t).unwrap(), raw);
        assert!(Encoding::lookup("ebcdic-x").is_err());
        assert!(Encoding::lookup("UTF_8").is_ok());
    }

    async fn rep(dir: &Path, yaml: &str, check: bool, diff: bool) -> Outcome {
        let e = TestEnv::new(dir, &[]);
        run(&Replace, yaml, &e, check, diff).await.unwrap()
    }

    #[tokio::test]
    async fn replaces_checks_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a $b 'c\".conf");
        std::fs::write(&f, "port 80\nport 81\n").unwrap();
        let y = format!(
            "path: '{}'\nregexp: '^port (\\d+)$'\nreplace: 'port 9\\1'",
            f.display().to_string().replace('\'', "''")
        );
        let out = rep(dir.path(), &y, true, true).await;
        assert!(out.changed);
        assert_eq!(out.msg.as_deref(), Some("2 replacements made"));
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "port 80\nport 81\n");
        assert_eq!(out.diffs.len(), 1);
        assert_eq!(out.diffs[0].after, "port 980\nport 981\n");
        let out = rep(dir.path(), &format!("{y}\nbackup: yes"), false, false).await;
        assert!(out.changed);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "port 980\nport 981\n");
        let backup = out.data.get("backup_file").unwrap().to_string();
        assert_eq!(
            std::fs::read_to_string(backup).unwrap(),
            "port 80\nport 81\n"
        );
        let y2 = format!(
            "path: '{}'\nregexp: '^port 9(\\d+)$'\nreplace: 'port 9\\1'",
            f.display().to_string().replace('\'', "''")
        );
        let out = rep(dir.path(), &y2, false, false).await;
        assert!(!out.changed);
        assert_eq!(out.msg.as_deref(), Some(""));
        let out = rep(
            dir.path(),
            &format!("path: {}/nope\nregexp: x", dir.path().display()),
            false,
            false,
        )
        .await;
        assert!(out.failed);
        assert_eq!(out.data.get("rc").unwrap().to_string(), "257");
    }
}
