//! `import_tasks` and `include_tasks`. The loader expands imports; the
//! executor runs includes; these specs only declare what they accept.

use async_trait::async_trait;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
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
    summary: "Insert a task file's tasks here when the playbook loads.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[],
};

static INCLUDE: ModuleSpec = ModuleSpec {
    name: "include_tasks",
    params: PARAMS,
    free_form: FreeForm::Whole("file"),
    mutually_exclusive: &[],
    required_one_of: &[&["file"]],
    check_mode: true,
    controller_only: true,
    summary: "Run a task file's tasks here; whether and how often is decided for each host \
              when the task runs.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[],
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

pub struct ImportRole;
pub struct IncludeRole;

static ROLE_PARAMS: &[Param] = &[
    Param::new("name", ParamType::Str).required(),
    Param::new("tasks_from", ParamType::Str),
    Param::new("vars_from", ParamType::Str),
    Param::new("defaults_from", ParamType::Str),
    Param::new("handlers_from", ParamType::Str),
    Param::new("public", ParamType::Bool),
    Param::new("apply", ParamType::Dict),
    Param::new("allow_duplicates", ParamType::Bool),
    Param::new("rolespec_validate", ParamType::Bool),
];

static IMPORT_ROLE: ModuleSpec = ModuleSpec {
    name: "import_role",
    params: ROLE_PARAMS,
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: true,
    summary: "Insert a role's tasks here when the playbook loads.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "The role's name cannot be a template: roles are loaded, and validated, with the playbook.",
        "`rolespec_validate` is accepted and ignored: a role with an argument spec is always \
         validated.",
    ],
};

static INCLUDE_ROLE: ModuleSpec = ModuleSpec {
    name: "include_role",
    params: ROLE_PARAMS,
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: true,
    summary: "Run a role here; whether and how often is decided when the task runs.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "The role's name cannot be a template: the role is loaded, and validated, with the \
         playbook (a role that includes itself is loaded when that include runs).",
        "`rolespec_validate` is accepted and ignored: a role with an argument spec is always \
         validated.",
    ],
};

#[async_trait]
impl Module for ImportRole {
    fn spec(&self) -> &'static ModuleSpec {
        &IMPORT_ROLE
    }
    async fn run(&self, _args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        Ok(Outcome::changed(false))
    }
}

#[async_trait]
impl Module for IncludeRole {
    fn spec(&self) -> &'static ModuleSpec {
        &INCLUDE_ROLE
    }
    async fn run(&self, _args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        Ok(Outcome::changed(false))
    }
}
