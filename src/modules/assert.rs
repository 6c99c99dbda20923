//! `assert`: check conditions, failing with `fail_msg` when one is false.

use async_trait::async_trait;
use minijinja::Value;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};

pub struct Assert;

static SPEC: ModuleSpec = ModuleSpec {
    name: "assert",
    params: &[
        Param::new("that", ParamType::Raw).required(),
        Param::new("fail_msg", ParamType::Raw).aliases(&["msg"]),
        Param::new("success_msg", ParamType::Raw),
        Param::new("quiet", ParamType::Bool),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: true,
    summary: "Fail the task when one of its conditions is false.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[],
};

#[async_trait]
impl Module for Assert {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        // A single condition stays whole (the action plugin wraps it in a
        // list; it is not split on commas as list arguments are).
        let that: Vec<Value> = match args.get("that") {
            Some(v) if v.kind() == minijinja::value::ValueKind::Seq => {
                v.try_iter().map(|it| it.collect()).unwrap_or_default()
            }
            Some(v) => vec![v.clone()],
            None => Vec::new(),
        };
        for cond in &that {
            let text = match cond.as_str() {
                Some(s) => s.to_owned(),
                None => crate::template::py_str(cond),
            };
            let ok = if cond.as_str().is_none() {
                cond.is_true()
            } else {
                ctx.env.cond(&text).map_err(ModuleError::Failed)?
            };
            if !ok {
                let mut out = Outcome::failure("Assertion failed");
                if let Some(m) = args.get("fail_msg") {
                    out.msg = Some(crate::template::py_str(m));
                }
                // The condition as written (a YAML boolean stays one).
                out.set("assertion", cond.clone());
                out.set("evaluated_to", Value::from(false));
                return Ok(out);
            }
        }
        let mut out = Outcome::changed(false);
        out.msg = Some(
            args.get("success_msg")
                .map(crate::template::py_str)
                .unwrap_or_else(|| "All assertions passed".into()),
        );
        Ok(out)
    }
}
