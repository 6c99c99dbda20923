//! `debug`: print a message or a variable.

use async_trait::async_trait;
use minijinja::Value;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};

pub struct Debug;

static SPEC: ModuleSpec = ModuleSpec {
    name: "debug",
    params: &[
        Param::new("msg", ParamType::Raw),
        Param::new("var", ParamType::Str),
        Param::new("verbosity", ParamType::Int),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[&["msg", "var"]],
    required_one_of: &[],
    check_mode: true,
    controller_only: true,
    summary: "Print a message or the value of an expression.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "`verbosity` is accepted but not honoured yet: the message is always shown (Ansible \
         skips the task when the run is less verbose).",
    ],
};

#[async_trait]
impl Module for Debug {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let mut out = Outcome::changed(false);
        if let Some(var) = args.str("var") {
            // Ansible shows an undefined variable as a message rather than failing.
            let value = match ctx.env.eval(&var) {
                Ok(v) if !v.is_undefined() => v,
                // A value that cannot be decrypted fails, as in ansible-core.
                other => {
                    let err = match other {
                        Err(e) => Some(e),
                        Ok(_) => ctx.env.var(var.trim()).err(),
                    };
                    if let Some(e) =
                        err.filter(|e| e.contains("Attempt to use undecryptable variable"))
                    {
                        return Err(super::ModuleError::Failed(format!(
                            "Error while resolving `var` expression: {e}"
                        )));
                    }
                    Value::from("VARIABLE IS NOT DEFINED!")
                }
            };
            out.set(&var, value);
        } else {
            let msg = args
                .get("msg")
                .cloned()
                .unwrap_or_else(|| Value::from("Hello world!"));
            out.set("msg", msg);
        }
        Ok(out)
    }
}
