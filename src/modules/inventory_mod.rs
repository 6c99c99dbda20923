//! `add_host` and `group_by`: change the in-memory inventory for the rest
//! of the run. The executor applies them; these specs declare the arguments.

use async_trait::async_trait;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};

pub struct AddHost;
pub struct GroupBy;

/// add_host takes any other key as a host variable; the loader and the
/// executor know that, so the spec lists only the named parameters.
pub static ADD_HOST: ModuleSpec = ModuleSpec {
    name: "add_host",
    params: &[
        Param::new("name", ParamType::Str)
            .aliases(&["host", "hostname"])
            .required(),
        Param::new("groups", ParamType::List).aliases(&["group", "groupname"]),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: true,
    summary: "Add a host, with its groups and variables, to the in-memory inventory for the \
              rest of the run.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "Every key besides `name` and `groups` is a variable of the new host.",
        "A play with the `free` strategy that uses it is refused when the playbook loads \
         (ansible-core fails when the play gets there).",
    ],
};

static GROUP_BY: ModuleSpec = ModuleSpec {
    name: "group_by",
    params: &[
        Param::new("key", ParamType::Str).required(),
        Param::new("parents", ParamType::List),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: true,
    summary: "Put each host in a group named from its facts or variables.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[],
};

#[async_trait]
impl Module for AddHost {
    fn spec(&self) -> &'static ModuleSpec {
        &ADD_HOST
    }
    async fn run(&self, _args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        Ok(Outcome::changed(false))
    }
}

#[async_trait]
impl Module for GroupBy {
    fn spec(&self) -> &'static ModuleSpec {
        &GROUP_BY
    }
    async fn run(&self, _args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        Ok(Outcome::changed(false))
    }
}
