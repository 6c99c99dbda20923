//! `wait_for_connection`: wait until the host answers again, as Ansible's
//! action plugin does on the controller. Each attempt drops the host's
//! connection and opens a new one (Ansible's `connection.reset()`), then
//! runs a trivial command where Ansible runs the `ping` module (hoist needs
//! no Python on the target). The task's connection is opened lazily, so the
//! host may be down when the task starts.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};
use crate::connection::ExecRequest;

pub struct WaitForConnection;

static SPEC: ModuleSpec = ModuleSpec {
    name: "wait_for_connection",
    params: &[
        Param::new("connect_timeout", ParamType::Int),
        Param::new("delay", ParamType::Int),
        Param::new("sleep", ParamType::Int),
        Param::new("timeout", ParamType::Int),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Wait until the host answers again.",
    check_note: "skipped, as in Ansible",
    diff: DiffSupport::No,
    notes: &[
        "Each attempt reopens the host's connection and runs a trivial command (Ansible runs \
         the `ping` module); the task may start while the host is down.",
    ],
};

/// Seconds from a parameter (negative counts as none).
fn secs(args: &Args, name: &str, default: i64) -> u64 {
    args.int(name).unwrap_or(default).max(0) as u64
}

/// Ansible's message when the host did not answer in time.
pub fn timed_out_message(last_error: &str) -> String {
    format!("timed out waiting for ping module test: {last_error}")
}

/// One attempt: a new connection, then a command whose answer proves the
/// host runs commands (Ansible's ping module test).
async fn ping(ctx: &ModuleCtx<'_>, connect_timeout: Duration) -> Result<(), String> {
    ctx.conn.forget_cached();
    ctx.conn
        .reconnect(Some(connect_timeout))
        .await
        .map_err(|e| e.msg)?;
    let out = ctx
        .conn
        .exec(&ExecRequest::argv(["echo", "pong"]).read_only())
        .await
        .map_err(|e| e.msg)?;
    if out.rc == 0 && String::from_utf8_lossy(&out.stdout).trim() == "pong" {
        Ok(())
    } else {
        Err("ping test failed".to_owned())
    }
}

#[async_trait]
impl Module for WaitForConnection {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let connect_timeout = Duration::from_secs(secs(args, "connect_timeout", 5).max(1));
        let delay = secs(args, "delay", 0);
        let sleep = Duration::from_secs(secs(args, "sleep", 1));
        let timeout = Duration::from_secs(secs(args, "timeout", 600));
        if ctx.check_mode || ctx.predict {
            // Ansible returns only `skipped` here (no message).
            return Ok(Outcome {
                skipped: true,
                ..Outcome::default()
            });
        }
        let start = Instant::now();
        if delay > 0 {
            tokio::time::sleep(Duration::from_secs(delay)).await;
        }
        let deadline = Instant::now() + timeout;
        let mut last_error = String::new();
        let mut up = false;
        while Instant::now() < deadline {
            // An attempt never outlasts the timeout by more than a connect.
            let limit = deadline
                .saturating_duration_since(Instant::now())
                .max(connect_timeout);
            match tokio::time::timeout(limit, ping(ctx, connect_timeout)).await {
                Ok(Ok(())) => {
                    up = true;
                    break;
                }
                Ok(Err(e)) => last_error = e,
                Err(_) => last_error = format!("no answer within {} seconds", limit.as_secs()),
            }
            tokio::time::sleep(sleep).await;
        }
        let mut out = Outcome::changed(false);
        if !up {
            out.failed = true;
            out.msg = Some(timed_out_message(&last_error));
        }
        out.set("elapsed", start.elapsed().as_secs());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_ansibles() {
        assert_eq!(
            timed_out_message("Failed to connect to the host via ssh: refused"),
            "timed out waiting for ping module test: Failed to connect to the host via ssh: refused"
        );
    }
}
