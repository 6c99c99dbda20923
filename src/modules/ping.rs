//! `ping`: proves the host can be reached and run commands. Ansible's
//! module checks that Python runs; hoist needs no Python, so it runs
//! `true` on the host through the connection.

use async_trait::async_trait;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::ExecRequest;

pub struct Ping;

static SPEC: ModuleSpec = ModuleSpec {
    name: "ping",
    params: &[Param::new("data", ParamType::Str)],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Check that the host can be reached and can run a command.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "Runs `true` on the host, so no Python is needed (Ansible's checks that Python runs).",
    ],
};

#[async_trait]
impl Module for Ping {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let data = args.str_or("data", "pong");
        // As the module: `data=crash` fails on purpose (ansible-core 2.19
        // reports the module's exception with this message).
        if data == "crash" {
            return Err(ModuleError::Failed(
                "Task failed: Module failed: boom".into(),
            ));
        }
        let out = ctx
            .conn
            .exec(&ExecRequest::argv(["true"]).read_only())
            .await?;
        if out.rc != 0 {
            return Err(ModuleError::Failed(format!(
                "the host could not run `true` (rc={})",
                out.rc
            )));
        }
        Ok(Outcome::changed(false).with("ping", data))
    }
}
