//! `pause`: wait a number of seconds or minutes, or until the person at the
//! terminal presses enter. Like ansible-core's, it runs once for the play
//! (it bypasses the host loop: the first host runs it, alone).
//!
//! Without a terminal, ansible-core skips a prompt with a warning and goes
//! on; hoist refuses it instead, so an unattended run (CI) does not pass a
//! question nobody answered (issue 5 asks for a clear error). A timed pause
//! never needs an answer.

use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use minijinja::Value;

use super::command::{epoch_micros, py_datetime};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};

pub struct Pause;

static SPEC: ModuleSpec = ModuleSpec {
    name: "pause",
    params: &[
        Param::new("seconds", ParamType::Raw),
        Param::new("minutes", ParamType::Raw),
        Param::new("prompt", ParamType::Str),
        Param::new("echo", ParamType::Bool),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[&["minutes", "seconds"]],
    required_one_of: &[],
    check_mode: true,
    controller_only: true,
    summary: "Wait for a number of seconds or minutes, or until someone at the terminal \
              presses enter.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "It runs once for the play (the first host runs it), as in Ansible.",
        "A prompt with no terminal to answer it fails the task (ansible-playbook goes on \
         unanswered), so an unattended run never passes a question nobody answered.",
    ],
};

/// The default prompt of an untimed pause.
const DEFAULT_PROMPT: &str = "Press enter to continue, Ctrl+C to interrupt";

/// How long a pause waits, in whole seconds as ansible-core computes it
/// (`int(minutes * 60)`, `int(seconds)`); `None` when it waits for enter.
pub fn pause_seconds(args: &Args) -> Result<Option<u64>, String> {
    let number = |key: &str, scale: f64| -> Result<Option<u64>, String> {
        let Some(v) = args.get(key) else {
            return Ok(None);
        };
        let text = crate::template::py_str(v);
        let n: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("non-integer value given for prompt duration:\n{text}"))?;
        if !n.is_finite() || n < 0.0 {
            return Err(format!(
                "non-integer value given for prompt duration:\n{text}"
            ));
        }
        Ok(Some((n * scale) as u64))
    };
    Ok(match number("minutes", 60.0)? {
        Some(s) => Some(s),
        None => number("seconds", 1.0)?,
    })
}

#[async_trait]
impl Module for Pause {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        let timed = pause_seconds(args).map_err(ModuleError::Failed)?;
        let echo = args.bool_or("echo", true);
        let start = SystemTime::now();
        let clock = Instant::now();
        let mut user_input = String::new();
        match timed {
            Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            None => {
                use std::io::IsTerminal;
                let prompt = args
                    .str("prompt")
                    .unwrap_or_else(|| DEFAULT_PROMPT.to_owned());
                if !std::io::stdin().is_terminal() {
                    return Err(ModuleError::Failed(format!(
                        "pause cannot ask '{prompt}': there is no terminal to answer it (stdin is not interactive); give seconds: or minutes: for a timed pause, or run hoist from a terminal"
                    )));
                }
                let shown = format!("[pause]\n{prompt}:\n");
                let answer = tokio::task::spawn_blocking(move || {
                    if echo {
                        crate::prompt::line(&shown)
                    } else {
                        crate::prompt::secret(&shown)
                    }
                })
                .await
                .map_err(|e| ModuleError::Failed(format!("pause: {e}")))?
                .map_err(|e| ModuleError::Failed(format!("pause: {e}")))?;
                user_input = answer;
            }
        }
        let elapsed = clock.elapsed().as_secs_f64();
        let stop = SystemTime::now();
        let mut out = Outcome::changed(false);
        out.set("rc", 0);
        out.set("stderr", "");
        out.set("start", py_datetime(epoch_micros(start)));
        out.set("stop", py_datetime(epoch_micros(stop)));
        out.set("delta", elapsed as i64);
        out.set("echo", echo);
        out.set("user_input", Value::from(user_input));
        let shown = if args.get("seconds").is_some() {
            format!("Paused for {} seconds", round(elapsed, 2))
        } else {
            format!("Paused for {} minutes", round(elapsed / 60.0, 1))
        };
        out.set("stdout", shown);
        Ok(out)
    }
}

/// Python's `round(x, n)` printed as Python prints the float.
fn round(x: f64, digits: i32) -> String {
    let f = 10f64.powi(digits);
    crate::template::py_str(&Value::from((x * f).round() / f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{TestEnv, run};

    #[tokio::test]
    async fn a_timed_pause_waits_and_reports_as_ansible() {
        let tmp = tempfile::tempdir().unwrap();
        let env = TestEnv::new(tmp.path(), &[]);
        let out = run(&Pause, "seconds: 1\n", &env, false, false)
            .await
            .unwrap();
        assert!(!out.failed && !out.changed);
        let stdout = out
            .data
            .get("stdout")
            .and_then(|v| v.as_str().map(str::to_owned));
        assert!(
            stdout
                .as_deref()
                .unwrap_or_default()
                .starts_with("Paused for 1."),
            "{stdout:?}"
        );
        assert_eq!(out.data.get("delta").and_then(|v| v.as_i64()), Some(1));
        assert_eq!(
            out.data
                .get("user_input")
                .and_then(|v| v.as_str().map(str::to_owned))
                .as_deref(),
            Some("")
        );
    }

    #[test]
    fn elapsed_time_prints_as_python_rounds_it() {
        assert_eq!(round(1.0149, 2), "1.01");
        assert_eq!(round(0.0, 1), "0.0");
        assert_eq!(round(2.0, 2), "2.0");
    }
}
