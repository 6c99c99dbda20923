//! `tempfile`: a new temporary file or directory on the target, made by
//! `mktemp` (mode 0600 / 0700, as Python's mkstemp/mkdtemp).

use async_trait::async_trait;

use super::command::expand_path;
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::ExecRequest;

pub struct TempFile;

static SPEC: ModuleSpec = ModuleSpec {
    name: "tempfile",
    params: &[
        Param::new("state", ParamType::Str).choices(&["file", "directory"]),
        Param::new("path", ParamType::Path),
        Param::new("prefix", ParamType::Str),
        Param::new("suffix", ParamType::Str),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    // As in Ansible: skipped in check mode.
    check_mode: false,
    controller_only: false,
    summary: "Create a temporary file or directory on the target.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[],
};

/// Python's `repr()` of a string, for messages.
fn py_repr(s: &str) -> String {
    crate::template::py_repr(&minijinja::Value::from(s))
}

/// The `mktemp` argv for the options.
pub(crate) fn mktemp_argv(
    dir: bool,
    path: Option<&str>,
    prefix: &str,
    suffix: &str,
) -> Vec<String> {
    let mut argv = vec!["mktemp".to_owned()];
    if dir {
        argv.push("-d".into());
    }
    match path {
        Some(p) => argv.push(format!("--tmpdir={p}")),
        None => argv.push("--tmpdir".into()),
    }
    if !suffix.is_empty() {
        argv.push(format!("--suffix={suffix}"));
    }
    argv.push("--".into());
    argv.push(format!("{prefix}XXXXXXXX"));
    argv
}

#[async_trait]
impl Module for TempFile {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let prefix = args.str_or("prefix", "ansible.");
        let suffix = args.str_or("suffix", "");
        for (what, v) in [("prefix", &prefix), ("suffix", &suffix)] {
            if v.contains('/') {
                return Ok(Outcome::failure(format!(
                    "{what} must be a valid file name component, got {}",
                    py_repr(v)
                )));
            }
        }
        let path = match args.str("path") {
            Some(p) => Some(expand_path(ctx.conn, &p).await?),
            None => None,
        };
        let dir = args.str_or("state", "file") == "directory";
        let argv = mktemp_argv(dir, path.as_deref(), &prefix, &suffix);
        let r = ctx
            .conn
            .exec(&ExecRequest::argv(argv))
            .await
            .map_err(ModuleError::from)?;
        if r.rc != 0 {
            let err = String::from_utf8_lossy(&r.stderr).trim().to_owned();
            let why = err.rsplit(": ").next().unwrap_or("").to_owned();
            let errno = match why.as_str() {
                "No such file or directory" => "[Errno 2] ",
                "Permission denied" => "[Errno 13] ",
                "Not a directory" => "[Errno 20] ",
                "Read-only file system" => "[Errno 30] ",
                _ => "",
            };
            let base = path.clone().unwrap_or_else(|| "/tmp".into());
            let msg = if errno.is_empty() {
                err
            } else {
                format!(
                    "{errno}{why}: '{}/{prefix}XXXXXXXX{suffix}'",
                    base.trim_end_matches('/')
                )
            };
            return Ok(Outcome::failure(msg));
        }
        let created = String::from_utf8_lossy(&r.stdout)
            .trim_end_matches('\n')
            .to_owned();
        let mut out = Outcome::changed(true).with("path", created);
        if let Err(e) = super::file::add_path_info(ctx, &mut out).await {
            return super::file::finish(Err(e));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{TestEnv, run};

    #[tokio::test]
    async fn files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let e = TestEnv::new(dir.path(), &[]);
        let d = dir.path().display();
        let out = run(
            &TempFile,
            &format!("path: {d}\nprefix: \"a b$'\"\nsuffix: .x"),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed, "{out:?}");
        let p = out.data["path"].as_str().unwrap().to_owned();
        assert!(
            p.starts_with(&format!("{d}/a b$'")) && p.ends_with(".x"),
            "{p}"
        );
        assert_eq!(out.data["mode"].as_str(), Some("0600"));
        assert_eq!(out.data["state"].as_str(), Some("file"));
        let out = run(
            &TempFile,
            &format!("path: {d}\nstate: directory"),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert_eq!(out.data["mode"].as_str(), Some("0700"));
        assert!(std::path::Path::new(out.data["path"].as_str().unwrap()).is_dir());
        let out = run(&TempFile, &format!("path: {d}/nope"), &e, false, false)
            .await
            .unwrap();
        assert!(out.failed);
        assert_eq!(
            out.msg.as_deref(),
            Some(
                format!("[Errno 2] No such file or directory: '{d}/nope/ansible.XXXXXXXX'")
                    .as_str()
            )
        );
        let out = run(&TempFile, "prefix: a/b", &e, false, false)
            .await
            .unwrap();
        assert_eq!(
            out.msg.as_deref(),
            Some("prefix must be a valid file name component, got 'a/b'")
        );
    }
}
