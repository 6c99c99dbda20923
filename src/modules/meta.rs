//! `meta`: instructions to the executor (`flush_handlers`, `noop`, `end_play` …).
//! The executor carries them out; this file declares what is accepted.

use async_trait::async_trait;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};

pub struct Meta;

pub const ACTIONS: &[&str] = &[
    "flush_handlers",
    "noop",
    "refresh_inventory",
    "clear_facts",
    "clear_host_errors",
    "end_play",
    "end_host",
    "end_batch",
    "reset_connection",
    "end_role",
];

static SPEC: ModuleSpec = ModuleSpec {
    name: "meta",
    params: &[Param::new("_raw_params", ParamType::Str)
        .required()
        .choices(ACTIONS)],
    free_form: FreeForm::Whole("_raw_params"),
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: true,
    summary: "Steer the run: flush handlers, end a host, batch or play, clear facts or \
              failures, refresh the inventory, reset connections.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "`end_role` is accepted but does nothing yet.",
        "Under the free strategy, `clear_facts` and `clear_host_errors` act on the host that \
         runs them (ansible-core: every host of the play).",
    ],
};

#[async_trait]
impl Module for Meta {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, _args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        Ok(Outcome::changed(false))
    }
}
