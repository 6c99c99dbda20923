//! `service` and `systemd`/`systemd_service`: services as Ansible's modules
//! manage them. `service` picks its backend like Ansible's action plugin
//! (`use`, else the `service_mgr` fact): systemd hosts get the systemd
//! module; anything else gets the SysV path of Ansible's `LinuxService` —
//! `service NAME ACTION` (or `/etc/init.d/NAME ACTION`), status from the init
//! script's `status` (or a `ps` pattern) read as Ansible reads it, and
//! `update-rc.d` links for `enabled`. Control commands run detached from the
//! connection (their output goes through temporary files), so a daemon that
//! keeps its inherited descriptors open cannot hold the task.

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;

use super::command::{fnmatch, py_shlex_split};
use super::sysexec::{Ran, find_bin, run};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::FileKind;
use crate::template::vmap;

pub struct Service;
pub struct Systemd;
pub struct SystemdService;

static SERVICE_SPEC: ModuleSpec = ModuleSpec {
    name: "service",
    params: &[
        Param::new("name", ParamType::Str).required(),
        Param::new("state", ParamType::Str).choices(&[
            "started",
            "stopped",
            "reloaded",
            "restarted",
        ]),
        Param::new("sleep", ParamType::Int),
        Param::new("pattern", ParamType::Str),
        Param::new("enabled", ParamType::Bool),
        Param::new("runlevel", ParamType::Str),
        Param::new("arguments", ParamType::Str).aliases(&["args"]),
        Param::new("use", ParamType::Str),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[&["state", "enabled"]],
    check_mode: true,
    controller_only: false,
    summary: "Start, stop, restart or reload a service, and choose whether it starts at boot.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "The backend comes from `use` or the `service_mgr` fact: systemd hosts run the \
         `systemd` module; elsewhere SysV init scripts are driven by `service NAME ACTION` \
         (status read as Ansible reads it, or a `ps` `pattern`) and `enabled` by \
         `update-rc.d` links.",
        "Upstart, OpenRC, insserv and chkconfig are refused.",
        "Control commands run detached from the connection (their output goes through \
         temporary files), so a daemon that keeps inherited descriptors open cannot hold the \
         task.",
    ],
};

const SYSTEMD_PARAMS: &[Param] = &[
    Param::new("name", ParamType::Str).aliases(&["service", "unit"]),
    Param::new("state", ParamType::Str).choices(&["reloaded", "restarted", "started", "stopped"]),
    Param::new("enabled", ParamType::Bool),
    Param::new("force", ParamType::Bool),
    Param::new("masked", ParamType::Bool),
    Param::new("daemon_reload", ParamType::Bool).aliases(&["daemon-reload"]),
    Param::new("daemon_reexec", ParamType::Bool).aliases(&["daemon-reexec"]),
    Param::new("scope", ParamType::Str).choices(&["system", "user", "global"]),
    Param::new("no_block", ParamType::Bool),
];

const SYSTEMD_ONE_OF: &[&[&str]] = &[&[
    "state",
    "enabled",
    "masked",
    "daemon_reload",
    "daemon_reexec",
]];

static SYSTEMD_SPEC: ModuleSpec = ModuleSpec {
    name: "systemd",
    params: SYSTEMD_PARAMS,
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: SYSTEMD_ONE_OF,
    check_mode: true,
    controller_only: false,
    summary: "Manage systemd units: start, stop, restart, reload, enable, mask, reload the daemon.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &["`systemd_service` is the same module."],
};

static SYSTEMD_SERVICE_SPEC: ModuleSpec = ModuleSpec {
    name: "systemd_service",
    params: SYSTEMD_PARAMS,
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: SYSTEMD_ONE_OF,
    check_mode: true,
    controller_only: false,
    summary: "Manage systemd units: start, stop, restart, reload, enable, mask, reload the daemon.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &["`systemd` is the same module."],
};

const LANG_ENV: &[(&str, &str)] = &[("LANG", "C"), ("LC_ALL", "C"), ("LC_MESSAGES", "C")];

/// Runs "$@" detached (a new session when `setsid` exists), stdin from
/// /dev/null and output through temporary files, then prints that output:
/// Ansible's `daemonize=True`.
const DETACHED: &str = r#"o=$(mktemp) || exit 1
e=$(mktemp) || { rm -f "$o"; exit 1; }
if command -v setsid >/dev/null 2>&1; then set -- setsid "$@"; fi
"$@" </dev/null >"$o" 2>"$e"
rc=$?
cat "$o"; cat "$e" >&2
rm -f "$o" "$e"
exit $rc
"#;

fn detached_argv(cmd: &[String]) -> Vec<String> {
    let mut argv = vec![
        "/bin/sh".to_owned(),
        "-c".into(),
        DETACHED.to_owned(),
        "hoist-service".into(),
    ];
    argv.extend(cmd.iter().cloned());
    argv
}

/// The module is done (`exit_json`/`fail_json`).
struct Exit(Outcome);

impl From<ModuleError> for Exit {
    fn from(e: ModuleError) -> Exit {
        Exit(Outcome::failure(match e {
            ModuleError::Failed(m) | ModuleError::Unreachable(m) => m,
        }))
    }
}

impl From<crate::connection::ConnError> for Exit {
    fn from(e: crate::connection::ConnError) -> Exit {
        Exit::from(ModuleError::from(e))
    }
}

type R<T> = Result<T, Exit>;

fn fail(msg: impl Into<String>) -> Exit {
    Exit(Outcome::failure(msg))
}

fn done(r: R<Outcome>) -> ModuleResult {
    match r {
        Ok(o) | Err(Exit(o)) => Ok(o),
    }
}

fn check(ctx: &ModuleCtx<'_>) -> bool {
    ctx.check_mode || ctx.predict
}

/// Whether systemd runs the host (`is_systemd_managed`): systemctl exists
/// and a systemd runtime directory does, or PID 1 is systemd.
async fn systemd_managed(ctx: &ModuleCtx<'_>) -> Result<bool, ModuleError> {
    if find_bin(ctx, "systemctl").await?.is_none() {
        return Ok(false);
    }
    for canary in [
        "/run/systemd/system/",
        "/dev/.run/systemd/",
        "/dev/.systemd/",
    ] {
        if ctx.conn.stat(canary, true).await?.is_some() {
            return Ok(true);
        }
    }
    let comm = ctx.conn.read_file("/proc/1/comm").await.ok().flatten();
    Ok(comm.is_some_and(|c| String::from_utf8_lossy(&c).trim() == "systemd"))
}

/// A non-empty string value.
fn text(v: Option<Value>) -> Option<String> {
    v.filter(|v| !v.is_undefined() && !v.is_none())
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string())
        })
        .filter(|s| !s.is_empty())
}

/// The `service_mgr` fact, from gathered facts or gathered now.
async fn service_mgr(ctx: &ModuleCtx<'_>) -> Result<Option<String>, ModuleError> {
    let facts = ctx.env.var("ansible_facts").ok().flatten();
    if let Some(m) = text(facts.and_then(|f| f.get_attr("service_mgr").ok())) {
        return Ok(Some(m));
    }
    let mut raw = IndexMap::new();
    raw.insert("gather_subset".to_owned(), Value::from(vec!["!all"]));
    raw.insert(
        "filter".to_owned(),
        Value::from(vec!["ansible_service_mgr"]),
    );
    let setup = &super::setup::Setup;
    let args = Args::bind(setup.spec(), &raw)?;
    let got = setup.run(&args, ctx).await?;
    Ok(text(got.facts.get("ansible_service_mgr").cloned()))
}

#[async_trait]
impl Module for Service {
    fn spec(&self) -> &'static ModuleSpec {
        &SERVICE_SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let chosen = args.str("use").filter(|u| !u.is_empty() && u != "auto");
        let mgr = match chosen {
            Some(u) => Some(u),
            None => service_mgr(ctx).await?,
        };
        let mgr = mgr.map(|m| {
            m.strip_prefix("ansible.builtin.")
                .or_else(|| m.strip_prefix("ansible.legacy."))
                .unwrap_or(&m)
                .to_owned()
        });
        if mgr.as_deref() == Some("systemd") {
            // Ansible's action plugin drops what systemd does not use.
            let mut warnings = Vec::new();
            let mut raw = IndexMap::new();
            for key in ["name", "state", "enabled"] {
                if let Some(v) = args.get(key) {
                    raw.insert(key.to_owned(), v.clone());
                }
            }
            for unused in ["pattern", "runlevel", "sleep", "arguments"] {
                if args.has(unused) {
                    warnings.push(format!(
                        "Ignoring \"{unused}\" as it is not used in \"systemd\""
                    ));
                }
            }
            let sargs = Args::bind(&SYSTEMD_SPEC, &raw)?;
            let mut out = done(systemd(&sargs, ctx).await)?;
            if !warnings.is_empty() {
                out.set("warnings", Value::from(warnings));
            }
            return Ok(out);
        }
        done(sysv(args, ctx).await)
    }
}

// ---------------------------------------------------------------------------
// SysV (Ansible's LinuxService without systemd, upstart or OpenRC)

/// How a SysV status reply reads, as `LinuxService.get_service_status`.
pub(crate) fn sysv_running(name: &str, rc: i64, stdout: &str) -> Option<bool> {
    if matches!(rc, 1..=4 | 69) {
        return Some(false);
    }
    if stdout.matches('\n').count() <= 1 {
        let clean = stdout.to_lowercase().replace(&name.to_lowercase(), "");
        if clean.contains("stop") {
            return Some(false);
        } else if clean.contains("run") {
            return Some(!clean.contains("not "));
        } else if clean.contains("start") && !clean.contains("not ") {
            return Some(true);
        } else if clean.contains("could not access pid file")
            || clean.contains("is dead and pid file exists")
            || clean.contains("dead but subsys locked")
            || clean.contains("dead but pid file exists")
        {
            return Some(false);
        }
    }
    if rc == 0 {
        return Some(true);
    }
    None
}

/// Whether `ps auxww` output shows `pattern` (lines naming `pattern=` are
/// the module's own invocation in Ansible and are skipped).
pub(crate) fn ps_matches(ps: &str, pattern: &str) -> bool {
    ps.split('\n')
        .any(|l| l.contains(pattern) && !l.contains("pattern="))
}

struct Sysv<'a> {
    ctx: &'a ModuleCtx<'a>,
    name: String,
    /// `service` (run as `service NAME ACTION`) or the init script itself.
    svc_cmd: Vec<String>,
    arguments: Vec<String>,
}

impl Sysv<'_> {
    async fn control(&self, action: &str, read_only: bool) -> R<Ran> {
        let mut cmd = self.svc_cmd.clone();
        cmd.push(action.to_owned());
        cmd.extend(self.arguments.iter().cloned());
        // A status query starts nothing, so it runs as it is (no temporary
        // files, which check mode must not leave either).
        let argv = if read_only { cmd } else { detached_argv(&cmd) };
        Ok(run(self.ctx, &argv, LANG_ENV, read_only).await?)
    }
}

/// `S??NAME` links in /etc/rc?.d: (start links, kill links).
async fn rc_links(ctx: &ModuleCtx<'_>, name: &str) -> R<(bool, bool)> {
    let mut s = false;
    let mut k = false;
    let dirs = ctx.conn.list_dir("/etc").await.unwrap_or_default();
    for d in dirs {
        if !fnmatch(&d, "rc?.d") {
            continue;
        }
        let entries = ctx
            .conn
            .list_dir(&format!("/etc/{d}"))
            .await
            .unwrap_or_default();
        for e in entries {
            if fnmatch(&e, &format!("S??{name}")) {
                s = true;
            }
            if fnmatch(&e, &format!("K??{name}")) {
                k = true;
            }
        }
    }
    Ok((s, k))
}

async fn sysv(args: &Args, ctx: &ModuleCtx<'_>) -> R<Outcome> {
    let name = args.str("name").unwrap_or_default();
    let state = args.str("state");
    let enable = args.bool("enabled");
    let check = check(ctx);
    let arguments = py_shlex_split(&args.str("arguments").unwrap_or_default()).map_err(fail)?;

    if systemd_managed(ctx).await? {
        // LinuxService drives systemctl here; the systemd module does the same.
        let mut raw = IndexMap::new();
        for key in ["name", "state", "enabled"] {
            if let Some(v) = args.get(key) {
                raw.insert(key.to_owned(), v.clone());
            }
        }
        let sargs = Args::bind(&SYSTEMD_SPEC, &raw).map_err(fail)?;
        return systemd(&sargs, ctx).await;
    }
    let initscript = format!("/etc/init.d/{name}");
    let has_initscript = !name.contains('/')
        && ctx
            .conn
            .stat(&initscript, true)
            .await?
            .is_some_and(|s| s.kind == FileKind::File);
    if find_bin(ctx, "initctl").await?.is_some()
        && ctx
            .conn
            .stat(&format!("/etc/init/{name}.conf"), true)
            .await?
            .is_some()
    {
        return Err(fail(format!(
            "{name} is an upstart job; hoist's service module manages SysV init scripts and systemd units only"
        )));
    }
    if find_bin(ctx, "rc-service").await?.is_some() {
        return Err(fail(
            "this host uses OpenRC (rc-service); hoist's service module manages SysV init scripts and systemd units only",
        ));
    }
    let mut enable_cmd = None;
    if has_initscript {
        for tool in ["update-rc.d", "insserv", "chkconfig"] {
            if let Some(p) = find_bin(ctx, tool).await? {
                enable_cmd = Some((tool, p));
                break;
            }
        }
    }
    let Some((enable_tool, enable_path)) = enable_cmd else {
        return Err(fail(format!(
            "Could not find the requested service {name}: host"
        )));
    };
    let svc_cmd = match find_bin(ctx, "service").await? {
        Some(s) => vec![s, name.clone()],
        None if has_initscript => vec![initscript.clone()],
        None => {
            return Err(fail(
                "cannot find 'service' binary or init script for service,  possible typo in service name?, aborting",
            ));
        }
    };
    let svc = Sysv {
        ctx,
        name: name.clone(),
        svc_cmd,
        arguments,
    };

    let mut out = Outcome::changed(false);
    out.set("name", name.as_str());
    let mut changed = false;
    if let Some(want) = enable {
        if enable_tool != "update-rc.d" {
            return Err(fail(format!(
                "enabling services with {enable_tool} is not supported by hoist (update-rc.d is)"
            )));
        }
        let (s_links, k_links) = rc_links(ctx, &name).await?;
        if want != s_links {
            changed = true;
            if !check {
                let upd = |a: &[&str]| {
                    let mut v = vec![enable_path.clone(), name.clone()];
                    v.extend(a.iter().map(|s| s.to_string()));
                    v
                };
                if want && !k_links {
                    let r = run(ctx, &upd(&["defaults"]), LANG_ENV, false).await?;
                    if r.rc != 0 {
                        return Err(fail(if r.stderr.is_empty() {
                            r.stdout
                        } else {
                            r.stderr
                        }));
                    }
                }
                let action = if want { "enable" } else { "disable" };
                let r = run(ctx, &upd(&[action]), LANG_ENV, false).await?;
                if r.rc != 0 {
                    return Err(fail(if r.stderr.is_empty() {
                        r.stdout
                    } else {
                        r.stderr
                    }));
                }
            }
        }
        out.set("enabled", want);
    }
    let Some(state) = state else {
        out.changed = changed;
        return Ok(out);
    };
    out.set("state", state.as_str());

    // Status.
    let running = match args.str("pattern").filter(|p| !p.is_empty()) {
        Some(pattern) => {
            let ps = find_bin(ctx, "ps")
                .await?
                .ok_or_else(|| fail(super::sysexec::missing_bin("ps")))?;
            let r = run(ctx, &[ps, "auxww".into()], LANG_ENV, true).await?;
            (r.rc == 0).then(|| ps_matches(&r.stdout, &pattern))
        }
        None => {
            let r = svc.control("status", true).await?;
            sysv_running(&svc.name, r.rc, &r.stdout)
        }
    };
    let Some(running) = running else {
        return Err(fail(
            "failed determining service state, possible typo of service name?",
        ));
    };
    let svc_change = match state.as_str() {
        "reloaded" | "started" if !running => true,
        "reloaded" | "stopped" if running => true,
        "restarted" => true,
        _ => false,
    };
    if check && svc_change {
        let mut o = Outcome::changed(true);
        o.msg = Some("service state changed".into());
        return Ok(o);
    }
    if svc_change {
        let action = match state.as_str() {
            "started" => "start",
            "reloaded" if !running => "start",
            "stopped" => "stop",
            "reloaded" => "reload",
            _ => "restart",
        };
        let r = if action == "restart" {
            let a = svc.control("stop", false).await?;
            if let Some(secs) = args.int("sleep").filter(|s| *s > 0) {
                tokio::time::sleep(std::time::Duration::from_secs(secs as u64)).await;
            }
            let b = svc.control("start", false).await?;
            if a.rc != 0 && b.rc == 0 {
                b
            } else {
                Ran {
                    rc: a.rc + b.rc,
                    stdout: a.stdout + &b.stdout,
                    stderr: a.stderr + &b.stderr,
                }
            }
        } else {
            svc.control(action, false).await?
        };
        if r.rc != 0 && !r.stderr.contains("Job is already running") {
            return Err(fail(if r.stderr.is_empty() {
                r.stdout
            } else {
                r.stderr
            }));
        }
    }
    out.changed = changed || svc_change;
    out.set(
        "state",
        if matches!(state.as_str(), "reloaded" | "restarted" | "started") {
            "started"
        } else {
            "stopped"
        },
    );
    Ok(out)
}

// ---------------------------------------------------------------------------
// systemd

#[async_trait]
impl Module for Systemd {
    fn spec(&self) -> &'static ModuleSpec {
        &SYSTEMD_SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        done(systemd(args, ctx).await)
    }
}

#[async_trait]
impl Module for SystemdService {
    fn spec(&self) -> &'static ModuleSpec {
        &SYSTEMD_SERVICE_SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        done(systemd(args, ctx).await)
    }
}

/// `systemctl` with the module's global options.
pub(crate) fn systemctl_base(
    systemctl: &str,
    scope: &str,
    no_block: bool,
    force: bool,
) -> Vec<String> {
    let mut v = vec![systemctl.to_owned()];
    if scope != "system" {
        v.push(format!("--{scope}"));
    }
    if no_block {
        v.push("--no-block".into());
    }
    if force {
        v.push("--force".into());
    }
    v
}

/// `systemctl show` output as a map; only `Exec*` values span lines.
pub(crate) fn parse_systemctl_show(text: &str) -> IndexMap<String, String> {
    let mut map = IndexMap::new();
    let mut multi: Option<(String, Vec<String>)> = None;
    for line in text.split('\n') {
        if let Some((k, mut buf)) = multi.take() {
            buf.push(line.to_owned());
            if line.trim_end().ends_with('}') {
                map.insert(k, buf.join("\n"));
            } else {
                multi = Some((k, buf));
            }
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.starts_with("Exec")
                && v.trim_start().starts_with('{')
                && !v.trim_end().ends_with('}')
            {
                multi = Some((k.to_owned(), vec![v.to_owned()]));
            } else {
                map.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    map
}

/// What `state` asks of a unit in `active_state`: the systemctl verb, if any.
pub(crate) fn systemd_action(state: &str, active_state: &str) -> Option<String> {
    let running = matches!(active_state, "active" | "activating");
    match state {
        "started" => (!running).then(|| "start".to_owned()),
        "stopped" => (running || active_state == "deactivating").then(|| "stop".to_owned()),
        _ if !running => Some("start".to_owned()),
        other => Some(other.trim_end_matches("ed").to_owned()),
    }
}

async fn systemd(args: &Args, ctx: &ModuleCtx<'_>) -> R<Outcome> {
    let check = check(ctx);
    let unit = args.str("name").filter(|s| !s.is_empty());
    for key in ["state", "enabled", "masked"] {
        if args.has(key) && unit.is_none() {
            return Err(fail(format!(
                "missing parameter(s) required by '{key}': name"
            )));
        }
    }
    if let Some(u) = &unit {
        for g in ["*", "?", "["] {
            if u.contains(g) {
                return Err(fail(format!(
                    "This module does not currently support using glob patterns, found '{g}' in service name: {u}"
                )));
            }
        }
    }
    let systemctl = find_bin(ctx, "systemctl")
        .await?
        .ok_or_else(|| fail(super::sysexec::missing_bin("systemctl")))?;
    let scope = args.str_or("scope", "system");
    let base = systemctl_base(
        &systemctl,
        &scope,
        args.bool_or("no_block", false),
        args.bool_or("force", false),
    );
    let mut env: Vec<(String, String)> = Vec::new();
    if scope != "system" {
        let id = run(ctx, &["id".into(), "-u".into()], &[], true).await?;
        env.push((
            "XDG_RUNTIME_DIR".into(),
            format!("/run/user/{}", id.stdout.trim()),
        ));
    }
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let sc = |extra: &[&str]| {
        let mut v = base.clone();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let mut out = Outcome::changed(false);
    out.set(
        "name",
        unit.clone().map(Value::from).unwrap_or(Value::from(())),
    );
    let mut warnings: Vec<String> = Vec::new();

    for (flag, verb) in [
        ("daemon_reload", "daemon-reload"),
        ("daemon_reexec", "daemon-reexec"),
    ] {
        if args.bool_or(flag, false) && !check {
            let r = run(ctx, &sc(&[verb]), &envs, false).await?;
            if r.rc != 0 {
                return Err(fail(format!(
                    "failure {} during {verb}: {}",
                    r.rc, r.stderr
                )));
            }
        }
    }
    let mut status: IndexMap<String, String> = IndexMap::new();
    if let Some(unit) = &unit {
        let is_initd = ctx
            .conn
            .stat(&format!("/etc/init.d/{unit}"), true)
            .await?
            .is_some_and(|s| s.mode & 0o111 != 0);
        let mut is_systemd = false;
        let show = run(ctx, &sc(&["show", unit]), &envs, true).await?;
        let ignored = |t: &str| {
            !t.contains('=') && (t.contains("ignoring request") || t.contains("ignoring command"))
        };
        if show.rc == 0 && !(ignored(&show.stdout) || ignored(&show.stderr)) {
            if !show.stdout.is_empty() {
                status = parse_systemctl_show(&show.stdout);
                let load = status.get("LoadState").map(String::as_str);
                is_systemd = load.is_some_and(|l| l != "not-found");
                let masked = load == Some("masked");
                if is_systemd
                    && !masked
                    && let Some(e) = status.get("LoadError")
                {
                    return Err(fail(format!("Error loading unit file '{unit}': {e}")));
                }
            }
        } else {
            let r = run(ctx, &sc(&["is-enabled", unit]), &envs, true).await?;
            const VALID: &[&str] = &[
                "enabled",
                "enabled-runtime",
                "linked",
                "linked-runtime",
                "masked",
                "masked-runtime",
                "static",
                "indirect",
                "disabled",
                "generated",
                "transient",
            ];
            if VALID.contains(&r.stdout.trim()) {
                is_systemd = true;
            } else {
                let r = run(ctx, &sc(&["list-unit-files", unit]), &envs, true).await?;
                is_systemd = r.rc == 0;
                if !is_systemd {
                    // Ansible runs bare systemctl with check_rc: a host
                    // without systemd fails with systemctl's own words.
                    let bare = vec![systemctl.clone()];
                    let r = run(ctx, &bare, &envs, true).await?;
                    if r.rc != 0 {
                        let mut o = Outcome::failure(r.stderr.trim_end());
                        o.set("cmd", systemctl.as_str());
                        o.set("rc", r.rc);
                        o.set("stdout", r.stdout);
                        o.set("stderr", r.stderr);
                        return Err(Exit(o));
                    }
                }
            }
        }
        let found = is_systemd || is_initd;
        if is_initd && !is_systemd {
            warnings.push(format!(
                "The service ({unit}) is actually an init script but the system is managed by systemd"
            ));
        }
        let missing = || fail(format!("Could not find the requested service {unit}: host"));
        if let Some(want) = args.bool("masked") {
            let r = run(ctx, &sc(&["is-enabled", unit]), &envs, true).await?;
            let masked = r.stdout.trim() == "masked";
            if masked != want {
                out.changed = true;
                let action = if want { "mask" } else { "unmask" };
                if !check {
                    let r = run(ctx, &sc(&[action, unit]), &envs, false).await?;
                    if r.rc != 0 {
                        if !found {
                            return Err(missing());
                        }
                        return Err(fail(format!(
                            "Failed to {action} the service ({unit}): {}",
                            r.stderr.trim()
                        )));
                    }
                }
            }
        }
        if let Some(want) = args.bool("enabled") {
            if !found {
                return Err(missing());
            }
            let action = if want { "enable" } else { "disable" };
            let r = run(ctx, &sc(&["is-enabled", unit, "-l"]), &envs, true).await?;
            let mut enabled = false;
            if r.rc == 0 {
                enabled = !matches!(
                    r.stdout.trim_end(),
                    "enabled-runtime" | "indirect" | "alias"
                );
            } else if r.rc == 1
                && scope == "system"
                && is_initd
                && !r.stdout.trim().ends_with("disabled")
            {
                enabled = rc_links(ctx, unit).await?.0;
            }
            out.set("enabled", enabled);
            if enabled != want {
                out.changed = true;
                if !check {
                    let r = run(ctx, &sc(&[action, unit]), &envs, false).await?;
                    if r.rc != 0 {
                        return Err(fail(format!(
                            "Unable to {action} service {unit}: {}{}",
                            r.stdout, r.stderr
                        )));
                    }
                }
                out.set("enabled", !enabled);
            }
        }
        if let Some(state) = args.str("state") {
            if !found {
                return Err(missing());
            }
            out.set("state", state.as_str());
            match status.get("ActiveState") {
                Some(active) => {
                    let action = systemd_action(&state, active);
                    if !matches!(state.as_str(), "started" | "stopped") {
                        out.set("state", "started");
                    }
                    if let Some(action) = action {
                        out.changed = true;
                        if !check {
                            let r = run(ctx, &sc(&[&action, unit]), &envs, false).await?;
                            if r.rc != 0 {
                                return Err(fail(format!(
                                    "Unable to {action} service {unit}: {}",
                                    r.stderr
                                )));
                            }
                        }
                    }
                }
                None => {
                    let mut o = Outcome::failure("Service is in unknown state");
                    o.set("status", status_value(&status));
                    return Err(Exit(o));
                }
            }
        }
    }
    out.set("status", status_value(&status));
    if !warnings.is_empty() {
        out.set("warnings", Value::from(warnings));
    }
    Ok(out)
}

fn status_value(status: &IndexMap<String, String>) -> Value {
    vmap(
        status
            .iter()
            .map(|(k, v)| (k.as_str(), Value::from(v.as_str()))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysv_status_reads_as_ansible() {
        assert_eq!(sysv_running("foo", 3, "foo is not running\n"), Some(false));
        assert_eq!(sysv_running("foo", 0, "foo is running\n"), Some(true));
        assert_eq!(sysv_running("foo", 0, "foo is not running\n"), Some(false));
        assert_eq!(sysv_running("foo", 0, ""), Some(true));
        assert_eq!(sysv_running("foo", 0, "stopped\n"), Some(false));
        assert_eq!(sysv_running("foo", 5, "weird\n"), None);
        assert_eq!(sysv_running("foo", 0, "a\nb\nc\n"), Some(true));
        assert_eq!(
            sysv_running("sshd", 0, "sshd dead but pid file exists"),
            Some(false)
        );
    }

    #[test]
    fn ps_pattern_skips_the_modules_own_line() {
        let ps = "root 1 x /usr/bin/mydaemon --x\nroot 2 y python pattern=mydaemon\n";
        assert!(ps_matches(ps, "mydaemon --x"));
        assert!(!ps_matches(
            "root 2 y python pattern=mydaemon\n",
            "mydaemon"
        ));
    }

    #[test]
    fn systemctl_commands_are_built_from_the_options() {
        assert_eq!(
            systemctl_base("/usr/bin/systemctl", "system", false, false),
            ["/usr/bin/systemctl"]
        );
        assert_eq!(
            systemctl_base("/bin/systemctl", "user", true, true),
            ["/bin/systemctl", "--user", "--no-block", "--force"]
        );
        assert_eq!(
            systemd_action("started", "inactive").as_deref(),
            Some("start")
        );
        assert_eq!(systemd_action("started", "active"), None);
        assert_eq!(systemd_action("started", "activating"), None);
        assert_eq!(
            systemd_action("stopped", "deactivating").as_deref(),
            Some("stop")
        );
        assert_eq!(systemd_action("stopped", "failed"), None);
        assert_eq!(
            systemd_action("restarted", "active").as_deref(),
            Some("restart")
        );
        assert_eq!(
            systemd_action("reloaded", "active").as_deref(),
            Some("reload")
        );
        assert_eq!(
            systemd_action("reloaded", "inactive").as_deref(),
            Some("start")
        );
    }

    #[test]
    fn systemctl_show_parses_multiline_exec_values() {
        let m = parse_systemctl_show(
            "Id=foo.service\nExecStart={ path=/bin/foo ; argv[]=/bin/foo\n  -x ; }\nDescription={weird\nActiveState=active\n",
        );
        assert_eq!(m["Id"], "foo.service");
        assert_eq!(
            m["ExecStart"],
            "{ path=/bin/foo ; argv[]=/bin/foo\n  -x ; }"
        );
        assert_eq!(m["Description"], "{weird");
        assert_eq!(m["ActiveState"], "active");
    }
}
