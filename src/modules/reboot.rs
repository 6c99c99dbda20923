//! `reboot`: reboot the host and wait for it to come back, as Ansible's
//! action plugin does on the controller: read the boot id, run the reboot
//! command (a dropped connection counts as success), then retry — with a
//! new connection after each connection failure, and exponential backoff —
//! until the boot id differs, then until the test command succeeds.
//!
//! It never runs over a `local` connection (that would reboot the
//! controller), nor over one whose transport it does not know.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use minijinja::Value;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};
use crate::connection::{ConnErrorKind, ExecRequest};

pub struct Reboot;

static SPEC: ModuleSpec = ModuleSpec {
    name: "reboot",
    params: &[
        Param::new("boot_time_command", ParamType::Str),
        Param::new("connect_timeout", ParamType::Int),
        Param::new("msg", ParamType::Str),
        Param::new("post_reboot_delay", ParamType::Int),
        Param::new("pre_reboot_delay", ParamType::Int),
        Param::new("reboot_command", ParamType::Str),
        Param::new("reboot_timeout", ParamType::Int),
        Param::new("search_paths", ParamType::List),
        Param::new("test_command", ParamType::Str),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Reboot the host and wait until it is back.",
    check_note: "reports changed and reboots nothing (as Ansible)",
    diff: DiffSupport::No,
    notes: &[
        "Runs on the controller, as Ansible's action does: reads the boot id, runs the reboot \
         command (`shutdown -r 0 \"MSG\"` found in `search_paths`, or `reboot_command`), then \
         retries with backoff, reconnecting, until the boot id changes and `test_command` \
         succeeds.",
        "Refused over a `local` connection (it would reboot the controller).",
    ],
};

pub const DEFAULT_REBOOT_TIMEOUT: u64 = 600;
pub const DEFAULT_TEST_COMMAND: &str = "whoami";
pub const DEFAULT_BOOT_TIME_COMMAND: &str = "cat /proc/sys/kernel/random/boot_id";
pub const DEFAULT_REBOOT_MESSAGE: &str = "Reboot initiated by Ansible";
pub const DEFAULT_SEARCH_PATHS: &[&str] =
    &["/sbin", "/bin", "/usr/sbin", "/usr/bin", "/usr/local/sbin"];
/// The longest pause between two attempts (plus up to a second of jitter).
const MAX_FAIL_SLEEP: u64 = 12;

/// A message in double quotes as Ansible writes it into the shutdown
/// command (`"Reboot initiated by Ansible"`), with the characters the shell
/// would still interpret inside double quotes escaped.
pub fn dquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The shutdown program and its arguments for a Linux distribution (by its
/// os-release `ID`), as Ansible's per-distribution tables give them:
/// `shutdown -r {minutes} "{msg}"`, Alpine's bare `reboot`, Void's `+{minutes}`.
pub fn default_shutdown(os_id: &str, pre_reboot_delay: u64, msg: &str) -> (&'static str, String) {
    let minutes = pre_reboot_delay / 60;
    match os_id {
        "alpine" => ("reboot", String::new()),
        "void" => ("shutdown", format!("-r +{minutes} {}", dquote(msg))),
        _ => ("shutdown", format!("-r {minutes} {}", dquote(msg))),
    }
}

/// `reboot_command` split as Ansible splits it: the program (the first
/// word, at the first space) and the rest, unchanged.
pub fn split_reboot_command(cmd: &str) -> (&str, &str) {
    match cmd.split_once(' ') {
        Some((bin, rest)) => (bin, rest),
        None => (cmd, ""),
    }
}

/// The command line Ansible runs: `{path} {args}` (a trailing space when
/// there are no arguments, as Ansible's format leaves it).
pub fn reboot_command_line(path: &str, args: &str) -> String {
    format!("{path} {args}")
}

/// How long to wait after the `fail_count`-th failure: 1, 2, 4, 8, then 12
/// seconds, each plus `jitter` (0..1 s), as Ansible's backoff.
pub fn backoff(fail_count: u32, jitter: f64) -> Duration {
    let base = 2u64.saturating_pow(fail_count.min(16));
    Duration::from_secs_f64(base.min(MAX_FAIL_SLEEP) as f64 + jitter.clamp(0.0, 1.0))
}

/// A list of strings as Python prints it (`['/sbin', '/bin']`).
fn py_list(items: &[String]) -> String {
    let v: Vec<Value> = items.iter().map(|s| Value::from(s.as_str())).collect();
    crate::template::filters::py_repr(&Value::from(v))
}

/// Up to a second, from the clock (the backoff's randomness).
fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

/// Why one attempt failed.
enum Miss {
    /// The host could not be reached: the next attempt reconnects.
    Conn(String),
    Other(String),
}

/// Settings of one run.
struct Run<'a> {
    ctx: &'a ModuleCtx<'a>,
    boot_time_command: String,
    test_command: String,
    connect_timeout: Option<Duration>,
}

impl Run<'_> {
    /// Runs a command line with `/bin/sh -c`, as Ansible's low-level execute.
    async fn sh(&self, cmd: &str) -> Result<(i32, String, String), Miss> {
        self.ctx.conn.forget_cached();
        let req = ExecRequest::argv(["/bin/sh", "-c", cmd]);
        match self.ctx.conn.exec(&req).await {
            Ok(o) => Ok((
                o.rc,
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )),
            Err(e) if e.kind == ConnErrorKind::Unreachable => Err(Miss::Conn(e.msg)),
            Err(e) => Err(Miss::Other(e.msg)),
        }
    }

    async fn boot_time(&self) -> Result<String, Miss> {
        let (rc, out, err) = self.sh(&self.boot_time_command).await?;
        if rc != 0 {
            return Err(Miss::Other(format!(
                "reboot: failed to get host boot time info, rc: {rc}, stdout: {out}, stderr: {err}"
            )));
        }
        Ok(out.trim().to_owned())
    }

    async fn check_boot_time(&self, previous: &str) -> Result<(), Miss> {
        if let Some(t) = self.connect_timeout {
            self.ctx
                .conn
                .reconnect(Some(t))
                .await
                .map_err(|e| Miss::Conn(e.msg))?;
        }
        let now = self.boot_time().await?;
        if now.is_empty() || now == previous {
            return Err(Miss::Other("boot time has not changed".into()));
        }
        Ok(())
    }

    async fn run_test_command(&self) -> Result<(), Miss> {
        let (rc, out, err) = self.sh(&self.test_command).await?;
        if rc != 0 {
            return Err(Miss::Other(format!("Test command failed: {err} {out}")));
        }
        Ok(())
    }

    /// Retries `what` until it succeeds or `timeout` passes; Ansible's
    /// message when it does not.
    async fn until_success<F, Fut>(&self, desc: &str, timeout: u64, what: F) -> Result<(), String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), Miss>>,
    {
        let deadline = Instant::now() + Duration::from_secs(timeout);
        let mut fails = 0u32;
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let limit = left.max(self.connect_timeout.unwrap_or(Duration::from_secs(10)));
            match tokio::time::timeout(limit, what()).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(Miss::Conn(_))) | Err(_) => {
                    // As Ansible resets the connection after a connection failure.
                    let _ = self.ctx.conn.reconnect(self.connect_timeout).await;
                }
                Ok(Err(Miss::Other(_))) => {}
            }
            tokio::time::sleep(backoff(fails, jitter())).await;
            fails += 1;
        }
        Err(format!("Timed out waiting for {desc} (timeout={timeout})"))
    }
}

fn result(changed: bool, rebooted: bool, elapsed: u64) -> Outcome {
    Outcome::changed(changed)
        .with("elapsed", elapsed)
        .with("rebooted", rebooted)
}

/// The shutdown program's full path: as given when absolute, else the
/// first of `search_paths` that has it (Ansible runs `find` there).
async fn find_shutdown(
    ctx: &ModuleCtx<'_>,
    bin: &str,
    search_paths: &[String],
) -> Result<String, String> {
    if bin.starts_with('/') {
        return Ok(bin.to_owned());
    }
    for dir in search_paths {
        let p = format!("{}/{bin}", dir.trim_end_matches('/'));
        if let Ok(Some(_)) = ctx.conn.stat(&p, false).await {
            return Ok(p);
        }
    }
    Err(format!(
        "Unable to find command \"{bin}\" in search paths: {}",
        py_list(search_paths)
    ))
}

/// The os-release `ID` of the host (empty when unknown).
async fn os_id(ctx: &ModuleCtx<'_>) -> String {
    let text = match ctx.conn.read_file("/etc/os-release").await {
        Ok(Some(t)) => String::from_utf8_lossy(&t).into_owned(),
        _ => return String::new(),
    };
    text.lines()
        .find_map(|l| l.strip_prefix("ID="))
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_owned())
        .unwrap_or_default()
}

#[async_trait]
impl Module for Reboot {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        // Never over a local connection: that would reboot the controller.
        match ctx.conn.transport() {
            "ssh" => {}
            "local" => {
                let mut out = result(false, false, 0);
                out.failed = true;
                out.msg = Some(
                    "Running reboot with local connection would reboot the control node.".into(),
                );
                return Ok(out);
            }
            other => {
                let mut out = result(false, false, 0);
                out.failed = true;
                out.msg = Some(format!(
                    "Running reboot over a {other} connection is not supported."
                ));
                return Ok(out);
            }
        }
        if ctx.check_mode || ctx.predict {
            return Ok(result(true, true, 0));
        }
        let delay = |name: &str| args.int(name).unwrap_or(0).max(0) as u64;
        let pre_reboot_delay = delay("pre_reboot_delay");
        let post_reboot_delay = delay("post_reboot_delay");
        let reboot_timeout = args
            .int("reboot_timeout")
            .map(|t| t.max(0) as u64)
            .unwrap_or(DEFAULT_REBOOT_TIMEOUT);
        let connect_timeout = args
            .int("connect_timeout")
            .filter(|t| *t > 0)
            .map(|t| Duration::from_secs(t as u64));
        let run = Run {
            ctx,
            boot_time_command: args
                .str("boot_time_command")
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| DEFAULT_BOOT_TIME_COMMAND.to_owned()),
            test_command: args
                .str("test_command")
                .unwrap_or_else(|| DEFAULT_TEST_COMMAND.to_owned()),
            connect_timeout,
        };

        let previous = match run.boot_time().await {
            Ok(b) => b,
            Err(Miss::Conn(m) | Miss::Other(m)) => {
                let mut out = Outcome::failure(m);
                // Ansible's key here is `reboot`, not `rebooted`.
                out.set("reboot", false);
                return Ok(out);
            }
        };

        let search_paths = args.str_list("search_paths").unwrap_or_else(|| {
            DEFAULT_SEARCH_PATHS
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        });
        let (bin, cmd_args) = match args.str("reboot_command") {
            Some(c) => {
                let (bin, rest) = split_reboot_command(&c);
                (bin.to_owned(), rest.to_owned())
            }
            None => {
                let msg = args
                    .str("msg")
                    .unwrap_or_else(|| DEFAULT_REBOOT_MESSAGE.to_owned());
                let (bin, a) = default_shutdown(&os_id(ctx).await, pre_reboot_delay, &msg);
                (bin.to_owned(), a)
            }
        };
        let path = match find_shutdown(ctx, &bin, &search_paths).await {
            Ok(p) => p,
            Err(m) => return Ok(Outcome::failure(m)),
        };
        let command = reboot_command_line(&path, &cmd_args);

        // The connection may drop under the command: that is the reboot.
        let ran =
            tokio::time::timeout(Duration::from_secs(reboot_timeout.max(1)), run.sh(&command))
                .await;
        let start = Instant::now();
        match ran {
            Ok(Ok((rc, out, err))) if rc != 0 => {
                let mut o = result(false, false, start.elapsed().as_secs());
                o.failed = true;
                o.msg = Some(format!(
                    "Reboot command failed. Error was: '{}, {}'",
                    out.trim(),
                    err.trim()
                ));
                return Ok(o);
            }
            Ok(Err(Miss::Other(m))) => return Ok(Outcome::failure(m)),
            Ok(Ok(_)) | Ok(Err(Miss::Conn(_))) | Err(_) => {}
        }

        if post_reboot_delay > 0 {
            tokio::time::sleep(Duration::from_secs(post_reboot_delay)).await;
        }
        let waited = async {
            run.until_success("last boot time check", reboot_timeout, || {
                run.check_boot_time(&previous)
            })
            .await?;
            run.until_success("post-reboot test command", reboot_timeout, || {
                run.run_test_command()
            })
            .await
        }
        .await;
        let elapsed = start.elapsed().as_secs();
        Ok(match waited {
            Ok(()) => result(true, true, elapsed),
            Err(m) => {
                let mut o = result(false, true, elapsed);
                o.failed = true;
                o.msg = Some(m);
                o
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_command_is_ansibles_shutdown_line() {
        // Built, never run: this is the command that would reboot a machine.
        let (bin, args) = default_shutdown("debian", 0, DEFAULT_REBOOT_MESSAGE);
        assert_eq!(bin, "shutdown");
        assert_eq!(
            reboot_command_line("/sbin/shutdown", &args),
            "/sbin/shutdown -r 0 \"Reboot initiated by Ansible\""
        );
        // Seconds become whole minutes, rounded down.
        assert_eq!(default_shutdown("ubuntu", 59, "m").1, "-r 0 \"m\"");
        assert_eq!(default_shutdown("ubuntu", 150, "m").1, "-r 2 \"m\"");
        assert_eq!(default_shutdown("void", 120, "m").1, "-r +2 \"m\"");
        assert_eq!(
            default_shutdown("alpine", 120, "m"),
            ("reboot", String::new())
        );
    }

    #[test]
    fn message_cannot_escape_its_quotes() {
        assert_eq!(
            dquote(r#"a "b" $HOME `x` \"#),
            r#""a \"b\" \$HOME \`x\` \\""#
        );
        assert_eq!(dquote("it's"), "\"it's\"");
    }

    #[test]
    fn reboot_command_splits_at_the_first_space() {
        assert_eq!(split_reboot_command("/tmp/x a b"), ("/tmp/x", "a b"));
        assert_eq!(split_reboot_command("reboot"), ("reboot", ""));
        assert_eq!(reboot_command_line("/sbin/reboot", ""), "/sbin/reboot ");
    }

    #[test]
    fn backoff_doubles_up_to_twelve_seconds() {
        let s: Vec<u64> = (0..7).map(|n| backoff(n, 0.0).as_secs()).collect();
        assert_eq!(s, [1, 2, 4, 8, 12, 12, 12]);
        assert!(backoff(100, 0.5) <= Duration::from_secs_f64(12.5));
    }

    #[test]
    fn search_paths_print_as_a_python_list() {
        let p: Vec<String> = DEFAULT_SEARCH_PATHS.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            py_list(&p),
            "['/sbin', '/bin', '/usr/sbin', '/usr/bin', '/usr/local/sbin']"
        );
    }
}
