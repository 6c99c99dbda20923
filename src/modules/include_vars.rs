//! `include_vars`: load variables from YAML/JSON files on the controller.
//! The executor does the loading (it knows the search paths and sets the
//! variables); this file declares the arguments.

use async_trait::async_trait;

use super::{
    Args, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param, ParamType,
};

pub struct IncludeVars;

static SPEC: ModuleSpec = ModuleSpec {
    name: "include_vars",
    params: &[
        Param::new("file", ParamType::Str).aliases(&["_raw_params"]),
        Param::new("dir", ParamType::Str),
        Param::new("name", ParamType::Str),
        Param::new("depth", ParamType::Int),
        Param::new("files_matching", ParamType::Str),
        Param::new("ignore_files", ParamType::List),
        Param::new("extensions", ParamType::List),
        Param::new("ignore_unknown_extensions", ParamType::Bool),
        Param::new("hash_behaviour", ParamType::Str).choices(&["replace", "merge"]),
    ],
    free_form: FreeForm::Whole("file"),
    mutually_exclusive: &[&["file", "dir"]],
    required_one_of: &[&["file", "dir"]],
    check_mode: true,
    controller_only: true,
};

#[async_trait]
impl Module for IncludeVars {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, _args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        Ok(Outcome::changed(false))
    }
}
