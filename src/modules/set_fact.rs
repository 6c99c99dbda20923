//! `set_fact`: set host variables for the rest of the run.

use async_trait::async_trait;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};

pub struct SetFact;

/// set_fact takes arbitrary keys; the loader and the executor treat every
/// key except `cacheable` as a fact name, so the spec lists only that one.
pub static SPEC: ModuleSpec = ModuleSpec {
    name: "set_fact",
    params: &[Param::new("cacheable", ParamType::Bool)],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: true,
    summary: "Set variables on the host for the rest of the run.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "Every key besides `cacheable` is a variable to set. With `cacheable: true` the \
         variables are facts too (`ansible_facts.NAME`).",
    ],
};

#[async_trait]
impl Module for SetFact {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, _args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        // The executor handles set_fact itself, because its keys are free.
        Ok(Outcome::changed(false))
    }
}
