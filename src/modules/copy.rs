//! The `copy` module (placeholder until implemented).

use async_trait::async_trait;

use super::{Args, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec};

pub struct Copy;

static SPEC: ModuleSpec = ModuleSpec {
    name: "copy",
    params: &[],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
};

#[async_trait]
impl Module for Copy {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, _args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        Err(ModuleError::Failed("not implemented".into()))
    }
}
