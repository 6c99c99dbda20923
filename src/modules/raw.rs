//! `raw`: a command line run as it is, with no module wrapper, as
//! Ansible's raw action does; `executable` runs it as `EXECUTABLE -c CMD`.

use async_trait::async_trait;

use super::command::add_lines;
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::ExecRequest;

pub struct Raw;

static SPEC: ModuleSpec = ModuleSpec {
    name: "raw",
    params: &[
        Param::new("_raw_params", ParamType::Str),
        Param::new("executable", ParamType::Str),
    ],
    free_form: FreeForm::Raw,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Run a command line on the target as it is, through `/bin/sh` (or `executable`).",
    check_note: "skipped, as in Ansible",
    diff: DiffSupport::No,
    notes: &[
        "Runs through `/bin/sh -c` without a terminal, so stdout keeps `\\n` line ends and \
         stderr stays apart (Ansible uses `ssh -tt`).",
    ],
};

#[async_trait]
impl Module for Raw {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        if ctx.check_mode || ctx.predict {
            let mut out = Outcome::changed(false);
            out.skipped = true;
            return Ok(out);
        }
        let cmd = args.str_or("_raw_params", "");
        // The text is the user's own shell command line, as with `shell`.
        let shell = args
            .str("executable")
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| "/bin/sh".to_owned());
        let r = ctx
            .conn
            .exec(&ExecRequest::argv([shell.as_str(), "-c", cmd.as_str()]))
            .await
            .map_err(ModuleError::from)?;
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
    use minijinja::Value;

    use super::*;
    use crate::modules::testing::{TestEnv, run};

    #[tokio::test]
    async fn runs_as_is_and_fails_on_rc() {
        let dir = tempfile::tempdir().unwrap();
        let e = TestEnv::new(dir.path(), &[]);
        let out = run(
            &Raw,
            "_raw_params: 'X=\"a $b\"; echo \"$X\"; echo e >&2'",
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed && !out.failed);
        assert_eq!(out.data["stdout"].as_str(), Some("a \n"));
        assert_eq!(out.data["stderr_lines"], Value::from(vec!["e"]));
        let out = run(&Raw, "_raw_params: exit 3", &e, false, false)
            .await
            .unwrap();
        assert!(out.failed);
        assert_eq!(out.msg.as_deref(), Some("non-zero return code"));
        let out = run(&Raw, "_raw_params: exit 3", &e, true, false)
            .await
            .unwrap();
        assert!(out.skipped && !out.changed);
    }
}
