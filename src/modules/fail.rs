//! `fail`: fail the task with a message.

use async_trait::async_trait;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};

pub struct Fail;

static SPEC: ModuleSpec = ModuleSpec {
    name: "fail",
    params: &[Param::new("msg", ParamType::Raw)],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: true,
    summary: "Fail the task with a message.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[],
};

#[async_trait]
impl Module for Fail {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        let msg = args
            .str("msg")
            .unwrap_or_else(|| "Failed as requested from task".into());
        Ok(Outcome::failure(msg))
    }
}
