//! `shell`: run a command line through `/bin/sh -c` (or `executable`).
//! Ansible implements it as `command` with `_uses_shell`; so does hoist.

use async_trait::async_trait;

use super::command::{COMMAND_PARAMS, run_command};
use super::{Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec};

pub struct Shell;

static SPEC: ModuleSpec = ModuleSpec {
    name: "shell",
    params: COMMAND_PARAMS,
    free_form: FreeForm::Raw,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Run a command line through the shell on the target.",
    check_note: "skipped; with `creates` or `removes` it reports whether the command would \
                 run, and runs nothing (as Ansible)",
    diff: DiffSupport::No,
    notes: &[
        "A script that holds a secret of the run is passed in an environment variable and \
         evaluated there, so the secret never shows on the host's command line.",
    ],
};

#[async_trait]
impl Module for Shell {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        run_command(args, ctx, true).await
    }
}

#[cfg(test)]
mod tests {
    use minijinja::Value;

    use super::*;
    use crate::modules::Outcome;
    use crate::modules::testing::{TestEnv, run};

    fn s(out: &Outcome, key: &str) -> String {
        out.data
            .get(key)
            .map(crate::template::py_str)
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn runs_through_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        let e = TestEnv::new(dir.path(), &[]);
        let out = run(
            &Shell,
            "_raw_params: 'echo one; echo two >&2; X=3; echo \"$X\" | tr 3 4'",
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(!out.failed && out.changed, "{out:?}");
        assert_eq!(s(&out, "stdout"), "one\n4");
        assert_eq!(s(&out, "stderr"), "two");
        assert_eq!(
            out.data.get("stdout_lines").unwrap(),
            &Value::from(vec!["one", "4"])
        );
        assert_eq!(
            out.data.get("stderr_lines").unwrap(),
            &Value::from(vec!["two"])
        );
        // `cmd` is the string, not a list.
        assert_eq!(
            out.data.get("cmd").unwrap(),
            &Value::from("echo one; echo two >&2; X=3; echo \"$X\" | tr 3 4")
        );
    }

    #[tokio::test]
    async fn rc_and_failure() {
        let dir = tempfile::tempdir().unwrap();
        let e = TestEnv::new(dir.path(), &[]);
        let out = run(&Shell, "_raw_params: 'echo out; exit 3'", &e, false, false)
            .await
            .unwrap();
        assert!(out.failed && out.changed);
        assert_eq!(s(&out, "rc"), "3");
        assert_eq!(s(&out, "stdout"), "out");
        assert_eq!(out.msg.as_deref(), Some("non-zero return code"));
    }

    #[tokio::test]
    async fn executable_chdir_creates_and_check_mode() {
        let dir = tempfile::tempdir().unwrap();
        let e = TestEnv::new(dir.path(), &[]);
        let d = dir.path().display();
        let out = run(
            &Shell,
            &format!("cmd: pwd > out.txt\nchdir: {d}"),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(!out.failed, "{out:?}");
        let written = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
        assert_eq!(
            written.trim_end(),
            dir.path().canonicalize().unwrap().display().to_string()
        );
        let out = run(
            &Shell,
            &format!("cmd: echo again\ncreates: {d}/out.txt"),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(!out.changed);
        assert_eq!(
            out.msg.as_deref(),
            Some(format!("Did not run command since '{d}/out.txt' exists").as_str())
        );
        if std::path::Path::new("/bin/bash").exists() {
            let out = run(
                &Shell,
                "cmd: 'echo ${BASH_VERSION:+bash}'\nexecutable: /bin/bash",
                &e,
                false,
                false,
            )
            .await
            .unwrap();
            assert_eq!(s(&out, "stdout"), "bash");
        }
        let out = run(&Shell, &format!("cmd: touch {d}/nope"), &e, true, false)
            .await
            .unwrap();
        assert!(out.skipped);
        assert!(!dir.path().join("nope").exists());
        let out = run(&Shell, "cmd: cat\nstdin: piped", &e, false, false)
            .await
            .unwrap();
        assert_eq!(s(&out, "stdout"), "piped");
    }
}
