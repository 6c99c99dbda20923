//! `blockinfile`: insert, update or remove a block of lines between marker
//! lines, following Ansible's algorithm byte for byte.

use async_trait::async_trait;

use super::command::expand_path;
use super::lineinfile::{
    backup_local, check_file_attrs, content_diff, lossy, makedirs, py_dirname, resolve_links,
    splitlines_keepends, write_changes,
};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::FileKind;
use crate::pyre::PyRegex;

pub struct BlockInFile;

static SPEC: ModuleSpec = ModuleSpec {
    name: "blockinfile",
    params: &[
        Param::new("path", ParamType::Path)
            .required()
            .aliases(&["dest", "destfile", "name"]),
        Param::new("state", ParamType::Str).choices(&["absent", "present"]),
        Param::new("marker", ParamType::Str),
        Param::new("block", ParamType::Str).aliases(&["content"]),
        Param::new("insertafter", ParamType::Str),
        Param::new("insertbefore", ParamType::Str),
        Param::new("create", ParamType::Bool),
        Param::new("backup", ParamType::Bool),
        Param::new("validate", ParamType::Str),
        Param::new("marker_begin", ParamType::Str),
        Param::new("marker_end", ParamType::Str),
        Param::new("append_newline", ParamType::Bool),
        Param::new("prepend_newline", ParamType::Bool),
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
    mutually_exclusive: &[&["insertbefore", "insertafter"]],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Insert, update or remove a block of lines between marker lines in a file.",
    check_note: "",
    diff: DiffSupport::Yes,
    notes: &[super::file::NOTE_ATTRS_IGNORED],
};

#[async_trait]
impl Module for BlockInFile {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let conn = ctx.conn;
        let path = expand_path(conn, &args.str_or("path", "")).await?;
        // Stats and content in one round trip (remembered for the task).
        let (_, st, _) = conn.stat_both_content(&path).await?;
        if st.as_ref().is_some_and(|s| s.kind == FileKind::Directory) {
            return Ok(Outcome::failure(format!("Path {path} is a directory !")).with("rc", 256));
        }
        let exists = st.is_some();
        let (original, mut lines) = if exists {
            let data = conn.read_file(&path).await?.unwrap_or_default();
            let lines = splitlines_keepends(&data);
            (Some(data), lines)
        } else {
            if !args.bool_or("create", false) {
                return Ok(
                    Outcome::failure(format!("Path {path} does not exist !")).with("rc", 257)
                );
            }
            if !ctx.check_mode {
                let dir = py_dirname(&path);
                makedirs(conn, &dir).await.map_err(|e| {
                    let text = match e {
                        ModuleError::Failed(m) | ModuleError::Unreachable(m) => m,
                    };
                    ModuleError::Failed(format!("Error creating {dir} Error: {text}"))
                })?;
            }
            (None, Vec::new())
        };

        let present = args.str_or("state", "present") == "present";
        if !present && !exists {
            let mut out = Outcome::changed(false);
            out.msg = Some(format!("File {path} not present"));
            return Ok(out);
        }

        let mut insertafter = args.str("insertafter");
        let insertbefore = args.str("insertbefore");
        if insertafter.is_none() && insertbefore.is_none() {
            insertafter = Some("EOF".into());
        }
        let insertre = match (&insertafter, &insertbefore) {
            (Some(a), _) if a != "EOF" => Some(PyRegex::new(a).map_err(ModuleError::Failed)?),
            (_, Some(b)) if b != "BOF" => Some(PyRegex::new(b).map_err(ModuleError::Failed)?),
            _ => None,
        };

        let marker = args.str_or("marker", "# {mark} ANSIBLE MANAGED BLOCK");
        let marker0 = format!(
            "{}\n",
            marker.replace("{mark}", &args.str_or("marker_begin", "BEGIN"))
        )
        .into_bytes();
        let marker1 = format!(
            "{}\n",
            marker.replace("{mark}", &args.str_or("marker_end", "END"))
        )
        .into_bytes();
        let mut block = args.str_or("block", "").into_bytes();
        let blocklines: Vec<Vec<u8>> = if present && !block.is_empty() {
            if !block.ends_with(b"\n") {
                block.push(b'\n');
            }
            let mut v = vec![marker0.clone()];
            v.extend(splitlines_keepends(&block));
            v.push(marker1.clone());
            v
        } else {
            Vec::new()
        };

        // The last lines equal to each marker.
        let mut n0: Option<usize> = None;
        let mut n1: Option<usize> = None;
        for (i, l) in lines.iter().enumerate() {
            if *l == marker0 {
                n0 = Some(i);
            }
            if *l == marker1 {
                n1 = Some(i);
            }
        }
        let mut n0 = match (n0, n1) {
            (Some(a), Some(b)) if a < b => {
                lines.drain(a..=b);
                a
            }
            (Some(a), Some(b)) => {
                lines.drain(b..=a);
                b
            }
            _ => {
                if let Some(re) = &insertre {
                    let mut pos: Option<usize> = None;
                    if re.multiline {
                        if let Some(orig) = &original
                            && let Some((start, end)) = re.find(orig)
                        {
                            let upto = if insertafter.is_some() { end } else { start };
                            pos = Some(orig[..upto].iter().filter(|&&b| b == b'\n').count());
                        }
                    } else {
                        for (i, l) in lines.iter().enumerate() {
                            if re.is_match(l) {
                                pos = Some(i);
                            }
                        }
                    }
                    match pos {
                        None => lines.len(),
                        Some(p) if insertafter.is_some() => p + 1,
                        Some(p) => p,
                    }
                } else if insertbefore.is_some() {
                    0
                } else {
                    lines.len()
                }
            }
        };
        let n0_clamped = n0.min(lines.len());
        n0 = n0_clamped;

        // A line separator before the block.
        if n0 > 0 && !lines[n0 - 1].ends_with(b"\n") {
            lines[n0 - 1].push(b'\n');
        }
        if args.bool_or("prepend_newline", false) && present && n0 != 0 && lines[n0 - 1] != b"\n" {
            lines.insert(n0, b"\n".to_vec());
            n0 += 1;
        }
        let block_len = blocklines.len();
        lines.splice(n0..n0, blocklines);
        if args.bool_or("append_newline", false) && present {
            let after_block = n0 + block_len;
            if after_block < lines.len() && lines[after_block] != b"\n" {
                lines.insert(after_block, b"\n".to_vec());
            }
        }
        let result = lines.concat();

        let (changed, msg) = match &original {
            Some(o) if *o == result => (false, String::new()),
            None => (true, "File created".to_owned()),
            Some(_) if block_len == 0 => (true, "Block removed".to_owned()),
            Some(_) => (true, "Block inserted".to_owned()),
        };
        let mut changed = changed;
        let mut msg = msg;
        let mut out = Outcome::changed(changed);
        if ctx.diff {
            let before = original.as_deref().map(lossy).unwrap_or_default();
            let after = lossy(&result);
            if before != after {
                out.diffs.push(content_diff(&path, before, after));
            }
        }

        if changed && !ctx.check_mode {
            if args.bool_or("backup", false) && exists {
                let b = backup_local(conn, &path).await?;
                out.set("backup_file", b);
            }
            let real = resolve_links(conn, &path).await?;
            write_changes(ctx, args.str("validate").as_deref(), &real, &result).await?;
        }
        if ctx.check_mode && !exists {
            out.msg = Some(msg);
            return Ok(out);
        }
        check_file_attrs(ctx, args, &path, &mut changed, &mut msg, &mut out.diffs).await?;
        out.changed = changed;
        out.msg = Some(msg);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;
    use crate::modules::FileDiff;
    use crate::modules::testing::{TestEnv, run};

    async fn bif(dir: &Path, yaml: &str, check: bool, diff: bool) -> Outcome {
        let e = TestEnv::new(dir, &[]);
        run(&BlockInFile, yaml, &e, check, diff).await.unwrap()
    }

    fn setup(content: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.conf");
        std::fs::write(&f, content).unwrap();
        (dir, f)
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[tokio::test]
    async fn inserts_updates_and_removes() {
        let (dir, f) = setup("a\nb");
        let p = f.display();
        let y = format!("path: {p}\nblock: |\n  x=1\n  y=2\n");
        let out = bif(dir.path(), &y, false, false).await;
        assert!(out.changed && !out.failed, "{out:?}");
        assert_eq!(out.msg.as_deref(), Some("Block inserted"));
        assert_eq!(
            read(&f),
            "a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\ny=2\n# END ANSIBLE MANAGED BLOCK\n"
        );
        let out = bif(dir.path(), &y, false, false).await;
        assert!(!out.changed);
        assert_eq!(out.msg.as_deref(), Some(""));
        // Update in place.
        let out = bif(
            dir.path(),
            &format!("path: {p}\nblock: 'z=3'"),
            false,
            false,
        )
        .await;
        assert_eq!(out.msg.as_deref(), Some("Block inserted"));
        assert_eq!(
            read(&f),
            "a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nz=3\n# END ANSIBLE MANAGED BLOCK\n"
        );
        // Remove, by state or by an empty block.
        let out = bif(
            dir.path(),
            &format!("path: {p}\nstate: absent"),
            false,
            false,
        )
        .await;
        assert_eq!(out.msg.as_deref(), Some("Block removed"));
        assert_eq!(read(&f), "a\nb\n");
        let out = bif(
            dir.path(),
            &format!("path: {p}\nstate: absent"),
            false,
            false,
        )
        .await;
        assert!(!out.changed);
        bif(dir.path(), &format!("path: {p}\nblock: q"), false, false).await;
        let out = bif(dir.path(), &format!("path: {p}\nblock: ''"), false, false).await;
        assert_eq!(out.msg.as_deref(), Some("Block removed"));
        assert_eq!(read(&f), "a\nb\n");
    }

    #[tokio::test]
    async fn custom_markers_and_positions() {
        let (dir, f) = setup("first\n[section]\nkey=1\n[end]\n");
        let p = f.display();
        let y = format!(
            "path: {p}\nmarker: '; {{mark}} managed'\nmarker_begin: START\nmarker_end: STOP\nblock: 'k2=2'\ninsertafter: '^\\[section\\]'"
        );
        let out = bif(dir.path(), &y, false, false).await;
        assert!(out.changed);
        assert_eq!(
            read(&f),
            "first\n[section]\n; START managed\nk2=2\n; STOP managed\nkey=1\n[end]\n"
        );
        assert!(!bif(dir.path(), &y, false, false).await.changed);
        let y = format!("path: {p}\nblock: top\ninsertbefore: BOF\nmarker: '# {{mark}} T'");
        bif(dir.path(), &y, false, false).await;
        assert!(read(&f).starts_with("# BEGIN T\ntop\n# END T\nfirst\n"));
        let y =
            format!("path: {p}\nblock: pre\ninsertbefore: '^\\[end\\]'\nmarker: '# {{mark}} P'");
        bif(dir.path(), &y, false, false).await;
        assert!(read(&f).ends_with("key=1\n# BEGIN P\npre\n# END P\n[end]\n"));
        // A regexp that matches nothing appends at the end.
        let y = format!("path: {p}\nblock: tail\ninsertbefore: '^nomatch'\nmarker: '# {{mark}} N'");
        bif(dir.path(), &y, false, false).await;
        assert!(read(&f).ends_with("[end]\n# BEGIN N\ntail\n# END N\n"));
    }

    #[tokio::test]
    async fn multiline_insertafter() {
        let (dir, f) = setup("a\nb\nc\n");
        let y = format!("path: {}\nblock: X\ninsertafter: '(?m)^b$'", f.display());
        bif(dir.path(), &y, false, false).await;
        assert_eq!(
            read(&f),
            "a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nX\n# END ANSIBLE MANAGED BLOCK\nc\n"
        );
    }

    #[tokio::test]
    async fn blank_line_options() {
        let (dir, f) = setup("a\nz\n");
        let y = format!(
            "path: {}\nblock: X\ninsertafter: '^a'\nprepend_newline: yes\nappend_newline: yes",
            f.display()
        );
        bif(dir.path(), &y, false, false).await;
        assert_eq!(
            read(&f),
            "a\n\n# BEGIN ANSIBLE MANAGED BLOCK\nX\n# END ANSIBLE MANAGED BLOCK\n\nz\n"
        );
        let out = bif(dir.path(), &y, false, false).await;
        assert!(!out.changed);
    }

    #[tokio::test]
    async fn create_check_mode_diff_and_attrs() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("d/new.conf");
        let p = f.display();
        let out = bif(dir.path(), &format!("path: {p}\nblock: x"), false, false).await;
        assert!(out.failed);
        assert_eq!(
            out.msg.as_deref(),
            Some(format!("Path {p} does not exist !").as_str())
        );
        let out = bif(
            dir.path(),
            &format!("path: {p}\nblock: x\ncreate: true"),
            true,
            true,
        )
        .await;
        assert!(out.changed);
        assert_eq!(out.msg.as_deref(), Some("File created"));
        assert!(!dir.path().join("d").exists());
        assert_eq!(
            out.diffs,
            vec![FileDiff {
                before_header: format!("{p} (content)"),
                after_header: format!("{p} (content)"),
                before: String::new(),
                after: "# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n".into(),
            }]
        );
        let out = bif(
            dir.path(),
            &format!("path: {p}\nblock: x\ncreate: true\nmode: '0640'"),
            false,
            false,
        )
        .await;
        assert_eq!(
            out.msg.as_deref(),
            Some("File created and ownership, perms or SE linux context changed")
        );
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(
            read(&f),
            "# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"
        );
        // Check mode on an existing file changes nothing.
        let out = bif(dir.path(), &format!("path: {p}\nblock: y"), true, true).await;
        assert!(out.changed);
        assert_eq!(
            read(&f),
            "# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"
        );
        assert_eq!(
            out.diffs[0].after,
            "# BEGIN ANSIBLE MANAGED BLOCK\ny\n# END ANSIBLE MANAGED BLOCK\n"
        );
        // As in Ansible, a missing file fails even with state=absent unless create is set.
        let out = bif(
            dir.path(),
            &format!("path: {p}.none\nstate: absent"),
            false,
            false,
        )
        .await;
        assert!(out.failed);
        let out = bif(
            dir.path(),
            &format!("path: {p}.none\nstate: absent\ncreate: yes"),
            false,
            false,
        )
        .await;
        assert!(!out.changed && !out.failed);
        assert_eq!(
            out.msg.as_deref(),
            Some(format!("File {p}.none not present").as_str())
        );
    }

    #[tokio::test]
    async fn backup_and_validate() {
        let (dir, f) = setup("a\n");
        let p = f.display();
        let out = bif(
            dir.path(),
            &format!("path: {p}\nblock: b\nbackup: yes"),
            false,
            false,
        )
        .await;
        let backup = out
            .data
            .get("backup_file")
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(read(Path::new(&backup)), "a\n");
        let e = TestEnv::new(dir.path(), &[]);
        let err = run(
            &BlockInFile,
            &format!("path: {p}\nblock: c\nvalidate: 'grep -q NOPE %s'"),
            &e,
            false,
            false,
        )
        .await
        .unwrap_err();
        assert!(matches!(&err, ModuleError::Failed(m) if m.starts_with("failed to validate")));
        assert_eq!(
            read(&f),
            "a\n# BEGIN ANSIBLE MANAGED BLOCK\nb\n# END ANSIBLE MANAGED BLOCK\n"
        );
    }

    #[tokio::test]
    async fn crlf_and_missing_newline() {
        let (dir, f) = setup("a\r\nb");
        let y = format!("path: {}\nblock: x", f.display());
        bif(dir.path(), &y, false, false).await;
        assert_eq!(
            read(&f),
            "a\r\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"
        );
        assert!(!bif(dir.path(), &y, false, false).await.changed);
    }
}
