//! `script`: a script from the controller (found under `files/` as
//! Ansible's action does) copied to a fresh directory on the target, run
//! there with its arguments through the shell, and removed.

use async_trait::async_trait;

use super::command::{add_lines, py_shlex_quote, py_shlex_split};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::{ExecRequest, FileAttrs};

pub struct Script;

static SPEC: ModuleSpec = ModuleSpec {
    name: "script",
    params: &[
        Param::new("_raw_params", ParamType::Str),
        Param::new("cmd", ParamType::Str),
        Param::new("creates", ParamType::Str),
        Param::new("removes", ParamType::Str),
        Param::new("chdir", ParamType::Str),
        Param::new("executable", ParamType::Str),
        Param::new("decrypt", ParamType::Bool),
    ],
    free_form: FreeForm::Raw,
    mutually_exclusive: &[&["_raw_params", "cmd"]],
    required_one_of: &[&["_raw_params", "cmd"]],
    check_mode: true,
    controller_only: false,
    summary: "Copy a script from the controller to the target, run it there, and remove it.",
    check_note: "skipped; with `creates` or `removes` it reports whether the script would \
                 run, and runs nothing (as Ansible)",
    diff: DiffSupport::No,
    notes: &[
        "Runs through `/bin/sh -c` without a terminal, so stdout keeps `\\n` line ends and \
         stderr stays apart (Ansible uses `ssh -tt`); hoist quotes the copied script's path \
         itself.",
    ],
};

fn skip(msg: String) -> Outcome {
    let mut out = Outcome::changed(false);
    out.skipped = true;
    out.msg = Some(msg);
    out
}

/// Where the first shell word of `s` ends (the first whitespace outside
/// quotes).
fn first_word_end(s: &str) -> usize {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"'), '\\') | (None, '\\') => escaped = true,
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => return i,
            _ => {}
        }
    }
    s.len()
}

#[async_trait]
impl Module for Script {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let conn = ctx.conn;
        if let Some(c) = args.str("creates").filter(|c| !c.is_empty())
            && conn.stat(&c, true).await?.is_some()
        {
            return Ok(skip(format!("{c} exists, matching creates option")));
        }
        if let Some(r) = args.str("removes").filter(|r| !r.is_empty())
            && conn.stat(&r, true).await?.is_none()
        {
            return Ok(skip(format!("{r} does not exist, matching removes option")));
        }
        let chdir = args.str("chdir").filter(|c| !c.is_empty());
        if let Some(c) = &chdir
            && !c.starts_with('/')
        {
            return Ok(Outcome::failure(format!(
                "chdir {c} must be an absolute path for a Unix-aware remote node"
            )));
        }
        let raw = args
            .str("_raw_params")
            .or_else(|| args.str("cmd"))
            .unwrap_or_default();
        let raw = raw.trim();
        let parts = py_shlex_split(raw).map_err(ModuleError::Failed)?;
        let Some(first) = parts.first() else {
            return Ok(Outcome::failure("no script given"));
        };
        let Some(local) = ctx.env.find_file("files", first).filter(|p| p.is_file()) else {
            return Ok(Outcome::failure(format!(
                "Could not find or access '{first}' on the Ansible Controller."
            )));
        };
        if ctx.check_mode || ctx.predict {
            if args.str("creates").is_some() || args.str("removes").is_some() {
                return Ok(Outcome::changed(true));
            }
            return Ok(skip("Check mode is not supported for this task.".into()));
        }
        let data = std::fs::read(&local).map_err(|e| {
            ModuleError::Failed(format!("Could not read '{}': {e}", local.display()))
        })?;
        let data = if args.bool_or("decrypt", true) {
            crate::vault::decrypt_file_data(data, &local.display().to_string())
                .map_err(ModuleError::Failed)?
        } else {
            data
        };
        let base = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "script".into());

        let mk = conn
            .exec(&ExecRequest::argv([
                "mktemp",
                "-d",
                "--tmpdir",
                "hoist-script.XXXXXXXX",
            ]))
            .await?;
        if mk.rc != 0 {
            return Ok(Outcome::failure(format!(
                "Failed to create a temporary directory: {}",
                String::from_utf8_lossy(&mk.stderr).trim()
            )));
        }
        let tmpdir = String::from_utf8_lossy(&mk.stdout).trim_end().to_owned();
        let tmp_src = format!("{tmpdir}/{base}");
        let result = async {
            let attrs = FileAttrs {
                mode: Some(0o700),
                ..FileAttrs::default()
            };
            conn.write_file(&tmp_src, &data, &attrs).await?;
            // The first word (as typed, quotes and all) becomes the copy's
            // path, quoted; the arguments stay as they are.
            let target = format!(
                "{}{}",
                py_shlex_quote(&tmp_src),
                &raw[first_word_end(raw)..]
            );
            let line = match args.str("executable").filter(|e| !e.is_empty()) {
                Some(e) => format!("{e} {target}"),
                None => target,
            };
            let mut req = ExecRequest::argv(["/bin/sh", "-c", line.as_str()]);
            req.chdir = chdir.clone();
            // A just-written executable can be briefly "busy" when another
            // process forked while its file was open: try again then.
            let mut tries = 0;
            loop {
                let r = conn.exec(&req).await?;
                tries += 1;
                let busy =
                    r.rc == 126 && String::from_utf8_lossy(&r.stderr).contains("Text file busy");
                if !busy || tries >= 5 {
                    return Ok::<_, ModuleError>(r);
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 * tries)).await;
            }
        }
        .await;
        let _ = conn.remove(&tmpdir, true).await;
        let r = result?;
        let mut out = Outcome::changed(true)
            .with("rc", r.rc)
            .with("stdout", String::from_utf8_lossy(&r.stdout).into_owned())
            .with("stderr", String::from_utf8_lossy(&r.stderr).into_owned());
        add_lines(&mut out);
        if r.rc != 0 {
            out.failed = true;
            out.msg = Some("non-zero return code".into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{TestEnv, run};

    #[test]
    fn first_words() {
        assert_eq!(first_word_end("a.sh x"), 4);
        assert_eq!(first_word_end("'run me.sh' x"), 11);
        assert_eq!(first_word_end("run\\ me.sh x"), 10);
        assert_eq!(first_word_end("\"a b\"c d"), 6);
        assert_eq!(first_word_end("only"), 4);
    }

    #[tokio::test]
    async fn copies_runs_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("files")).unwrap();
        std::fs::write(
            dir.path().join("files/s.sh"),
            "#!/bin/sh\necho \"args: $1|$2\"; pwd; echo \"$0\" >&2\n",
        )
        .unwrap();
        let e = TestEnv::new(dir.path(), &[]);
        let work = dir.path().join("w");
        std::fs::create_dir_all(&work).unwrap();
        let y = format!("_raw_params: \"s.sh 'a $b' c\"\nchdir: {}", work.display());
        let out = run(&Script, &y, &e, false, false).await.unwrap();
        assert!(out.changed && !out.failed, "{out:?}");
        let stdout = out.data["stdout"].as_str().unwrap().to_owned();
        assert!(stdout.starts_with("args: a $b|c\n"), "{stdout}");
        assert!(stdout.contains(&work.canonicalize().unwrap().display().to_string()));
        let script = out.data["stderr"].as_str().unwrap().trim().to_owned();
        assert!(script.ends_with("/s.sh"));
        assert!(!std::path::Path::new(&script).exists(), "removed");
        let out = run(
            &Script,
            &format!("cmd: s.sh\ncreates: {}", work.display()),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.skipped);
        let out = run(&Script, "cmd: s.sh", &e, true, false).await.unwrap();
        assert!(out.skipped);
        assert_eq!(
            out.msg.as_deref(),
            Some("Check mode is not supported for this task.")
        );
        let out = run(&Script, "cmd: nope.sh", &e, false, false)
            .await
            .unwrap();
        assert!(out.failed);
    }
}
