//! `import_tasks` and `include_tasks`. The loader expands imports; the
//! executor runs includes; these specs only declare what they accept.

use async_trait::async_trait;

use super::{
    Args, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param, ParamType,
};

pub struct ImportTasks;
pub struct IncludeTasks;

static PARAMS: &[Param] = &[
    Param::new("file", ParamType::Str).aliases(&["_raw_params"]),
    Param::new("apply", ParamType::Dict),
];

static IMPORT: ModuleSpec = ModuleSpec {
    name: "import_tasks",
    params: PARAMS,
    free_form: FreeForm::Whole("file"),
    mutually_exclusive: &[],
    required_one_of: &[&["file"]],
    check_mode: true,
    controller_only: true,
};

static INCLUDE: ModuleSpec = ModuleSpec {
    name: "include_tasks",
    params: PARAMS,
    free_form: FreeForm::Whole("file"),
    mutually_exclusive: &[],
    required_one_of: &[&["file"]],
    check_mode: true,
    controller_only: true,
};

#[async_trait]
impl Module for ImportTasks {
    fn spec(&self) -> &'static ModuleSpec {
        &IMPORT
    }
    async fn run(&self, _args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        Ok(Outcome::changed(false))
    }
}

#[async_trait]
impl Module for IncludeTasks {
    fn spec(&self) -> &'static ModuleSpec {
        &INCLUDE
    }
    async fn run(&self, _args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        Ok(Outcome::changed(false))
    }
}
