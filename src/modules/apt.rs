//! `apt`: Debian packages, as Ansible's `apt` module manages them, without
//! python-apt on the target: what is installed comes from `dpkg-query`, what
//! can be installed from `apt-cache policy`, and every change is made by
//! `apt-get` (or `dpkg -i` for local `.deb` files) with
//! `DEBIAN_FRONTEND=noninteractive`. Check mode runs the same commands with
//! `--simulate`, which changes nothing.

use std::cmp::Ordering;
use std::collections::HashMap;

use async_trait::async_trait;
use minijinja::Value;

use super::command::{add_lines, fnmatch};
use super::sysexec::{CmdLine, Ran, find_bin, missing_bin, run};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::FileAttrs;
use crate::template::vmap;

pub struct Apt;

static SPEC: ModuleSpec = ModuleSpec {
    name: "apt",
    params: &[
        Param::new("state", ParamType::Str).choices(&[
            "absent",
            "build-dep",
            "fixed",
            "latest",
            "present",
        ]),
        Param::new("update_cache", ParamType::Bool).aliases(&["update-cache"]),
        Param::new("update_cache_retries", ParamType::Int),
        Param::new("update_cache_retry_max_delay", ParamType::Int),
        Param::new("cache_valid_time", ParamType::Int),
        Param::new("purge", ParamType::Bool),
        Param::new("package", ParamType::List).aliases(&["pkg", "name"]),
        Param::new("deb", ParamType::Path),
        Param::new("default_release", ParamType::Str).aliases(&["default-release"]),
        Param::new("install_recommends", ParamType::Bool).aliases(&["install-recommends"]),
        Param::new("force", ParamType::Bool),
        Param::new("upgrade", ParamType::Str).choices(&["dist", "full", "no", "safe", "yes"]),
        Param::new("dpkg_options", ParamType::Str),
        Param::new("autoremove", ParamType::Bool),
        Param::new("autoclean", ParamType::Bool),
        Param::new("fail_on_autoremove", ParamType::Bool),
        Param::new("policy_rc_d", ParamType::Int),
        Param::new("only_upgrade", ParamType::Bool),
        Param::new("force_apt_get", ParamType::Bool),
        Param::new("clean", ParamType::Bool),
        Param::new("allow_unauthenticated", ParamType::Bool).aliases(&["allow-unauthenticated"]),
        Param::new("allow_downgrade", ParamType::Bool).aliases(&[
            "allow-downgrade",
            "allow_downgrades",
            "allow-downgrades",
        ]),
        Param::new("allow_change_held_packages", ParamType::Bool),
        Param::new("lock_timeout", ParamType::Int),
        Param::new("auto_install_module_deps", ParamType::Bool),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[&["deb", "package", "upgrade"]],
    required_one_of: &[&["autoremove", "deb", "package", "update_cache", "upgrade"]],
    check_mode: true,
    controller_only: false,
    summary: "Install, upgrade and remove Debian packages with apt-get and dpkg.",
    check_note: "supported: the same `apt-get` commands run with `--simulate`, which changes \
                 nothing",
    diff: DiffSupport::Partly(
        "apt-get's summary is in the result's `diff` value (`-v` shows \
                               it); nothing is printed as a diff",
    ),
    notes: &[
        "No python-apt on the target: installed versions come from `dpkg-query`, candidates \
         from `apt-cache policy`, and changes are made by `apt-get` (or `dpkg -i` for `deb:`) \
         with `DEBIAN_FRONTEND=noninteractive`.",
        "`deb:` takes a file on the target; a URL is refused (download it first, with `get_url`).",
        "`auto_install_module_deps` is accepted and ignored: nothing needs installing on the \
         target.",
    ],
};

const DPKG_OPTIONS: &str = "force-confdef,force-confold";
const APT_GET_ZERO: &str = "\n0 upgraded, 0 newly installed, 0 to remove";
const APTITUDE_ZERO: &str = "\n0 packages upgraded, 0 newly installed, 0 to remove";
const APT_LISTS_PATH: &str = "/var/lib/apt/lists";
const APT_UPDATE_SUCCESS_STAMP_PATH: &str = "/var/lib/apt/periodic/update-success-stamp";
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// The environment every apt command gets (Ansible's `APT_ENV_VARS`).
const APT_ENV: &[(&str, &str)] = &[
    ("DEBIAN_FRONTEND", "noninteractive"),
    ("DEBIAN_PRIORITY", "critical"),
    ("LANG", "C"),
    ("LC_ALL", "C"),
    ("LC_MESSAGES", "C"),
    ("LC_CTYPE", "C"),
    ("LANGUAGE", "C"),
];

#[async_trait]
impl Module for Apt {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let apt = match AptRun::new(args, ctx).await {
            Ok(a) => a,
            Err(Exit(o)) => return Ok(finish(o)),
        };
        let r = apt.main().await;
        apt.restore_policy_rc_d().await?;
        match r {
            Ok(o) | Err(Exit(o)) => Ok(finish(o)),
        }
    }
}

/// Adds `stdout_lines`/`stderr_lines` as Ansible's action plugins do.
fn finish(mut o: Outcome) -> Outcome {
    add_lines(&mut o);
    o
}

/// The module is done (`exit_json` or `fail_json`), or the host failed.
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

/// A failure with extra result keys.
fn fail_data(msg: impl Into<String>, data: Vec<(&str, Value)>) -> Exit {
    let mut o = Outcome::failure(msg);
    for (k, v) in data {
        o.set(k, v);
    }
    Exit(o)
}

/// Splits `name>=1.0` / `name=1.*` as Ansible's `package_split`.
fn package_split(spec: &str) -> (String, Option<&'static str>, Option<String>) {
    if let Some(i) = spec.find('=') {
        if i > 0 && spec.as_bytes()[i - 1] == b'>' {
            return (
                spec[..i - 1].to_owned(),
                Some(">="),
                Some(spec[i + 1..].to_owned()),
            );
        }
        return (
            spec[..i].to_owned(),
            Some("="),
            Some(spec[i + 1..].to_owned()),
        );
    }
    (spec.to_owned(), None, None)
}

/// Debian's version comparison (`dpkg --compare-versions`): epoch, then
/// upstream version, then revision, each compared as dpkg's `verrevcmp`.
pub(crate) fn version_compare(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) && !e.is_empty() => {
                (e.parse().unwrap_or(0), r)
            }
            _ => (0, v),
        };
        match rest.rfind('-') {
            Some(i) => (epoch, &rest[..i], &rest[i + 1..]),
            None => (epoch, rest, ""),
        }
    }
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => i32::from(c),
            Some(b'~') => -1,
            Some(c) => i32::from(c) + 256,
        }
    }
    fn verrevcmp(a: &str, b: &str) -> Ordering {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let mut first_diff = 0;
            while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit())
            {
                let ac = order(a.get(i).copied());
                let bc = order(b.get(j).copied());
                if ac != bc {
                    return ac.cmp(&bc);
                }
                i += 1;
                j += 1;
            }
            while i < a.len() && a[i] == b'0' {
                i += 1;
            }
            while j < b.len() && b[j] == b'0' {
                j += 1;
            }
            while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
                if first_diff == 0 {
                    first_diff = i32::from(a[i]) - i32::from(b[j]);
                }
                i += 1;
                j += 1;
            }
            if i < a.len() && a[i].is_ascii_digit() {
                return Ordering::Greater;
            }
            if j < b.len() && b[j].is_ascii_digit() {
                return Ordering::Less;
            }
            if first_diff != 0 {
                return first_diff.cmp(&0);
            }
        }
        Ordering::Equal
    }
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua, ub))
        .then_with(|| verrevcmp(ra, rb))
}

/// What `apt-cache policy` says about one package.
#[derive(Clone, Debug, Default, PartialEq)]
struct Policy {
    candidate: Option<String>,
    /// Every version apt knows, as listed in the version table.
    versions: Vec<String>,
}

/// Parses `apt-cache policy a b …` output into a map by package name.
fn parse_policy(text: &str) -> HashMap<String, Policy> {
    let mut map = HashMap::new();
    let mut cur: Option<(String, Policy)> = None;
    let mut in_table = false;
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            if let Some((n, p)) = cur.take() {
                map.insert(n, p);
            }
            cur = Some((line[..line.len() - 1].to_owned(), Policy::default()));
            in_table = false;
            continue;
        }
        let Some((_, p)) = cur.as_mut() else { continue };
        let t = line.trim();
        if let Some(c) = t.strip_prefix("Candidate:") {
            let c = c.trim();
            p.candidate = (c != "(none)" && !c.is_empty()).then(|| c.to_owned());
        } else if t.starts_with("Version table:") {
            in_table = true;
        } else if in_table {
            // " *** 1.0-1 500" or "     1.0-1 500"; source lines are indented further.
            let body = line
                .strip_prefix(" *** ")
                .or_else(|| line.strip_prefix("     ").filter(|r| !r.starts_with(' ')));
            if let Some(v) = body.and_then(|b| b.split_whitespace().next()) {
                p.versions.push(v.to_owned());
            }
        }
    }
    if let Some((n, p)) = cur {
        map.insert(n, p);
    }
    map
}

/// What `dpkg-query -W` says about one package.
#[derive(Clone, Debug, PartialEq)]
struct Installed {
    arch: String,
    /// Third word of `Status` (`installed`, `config-files`, `not-installed` …).
    state: String,
    version: String,
}

/// Parses `dpkg-query -W -f '${Package}\t${Architecture}\t${Status}\t${Version}\n'`.
fn parse_dpkg_query(text: &str) -> Vec<(String, Installed)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let name = f.next()?.to_owned();
            let arch = f.next()?.to_owned();
            let status = f.next()?;
            let version = f.next()?.to_owned();
            let state = status.split_whitespace().nth(2)?.to_owned();
            Some((
                name,
                Installed {
                    arch,
                    state,
                    version,
                },
            ))
        })
        .collect()
}

/// The `Reverse Provides:` section of `apt-cache showpkg`: package names.
fn parse_reverse_provides(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut on = false;
    for line in text.lines() {
        if line.starts_with("Reverse Provides:") {
            on = true;
            continue;
        }
        if on
            && let Some(n) = line.split_whitespace().next()
            && !out.iter().any(|o| o == n)
        {
            out.push(n.to_owned());
        }
    }
    out
}

/// `package_status`: whether a package is installed, whether the installed
/// version satisfies the spec, what version could be installed, and whether
/// files remain (for purge).
#[derive(Clone, Debug, PartialEq)]
struct Status {
    installed: bool,
    version_ok: bool,
    /// `Some(None)`: installable, but apt picks the version (virtual packages).
    installable: Option<Option<String>>,
    has_files: bool,
}

/// `package_status` for a package apt has versions of (or that dpkg has
/// installed): `inst` from dpkg, `pol` from `apt-cache policy`.
fn compute_status(
    inst: Option<&Installed>,
    pol: Option<&Policy>,
    cmp: Option<&str>,
    version: Option<&str>,
) -> Status {
    let installed = inst.is_some_and(|i| i.state == "installed");
    let has_files = inst.is_some_and(|i| i.state != "not-installed" && !i.state.is_empty());
    // The best version: the candidate, or with `=` the highest matching one.
    let best = pol.and_then(|pol| match (cmp, version) {
        (Some("="), Some(v)) => pol
            .versions
            .iter()
            .filter(|x| fnmatch(x, v))
            .max_by(|a, b| version_compare(a, b))
            .cloned(),
        _ => pol.candidate.clone(),
    });
    let mut version_ok = false;
    let installable;
    if installed {
        let iv = inst.map(|i| i.version.clone()).unwrap_or_default();
        let better = |ok: &dyn Fn(&str) -> bool| {
            best.as_ref()
                .filter(|b| **b != iv && ok(b))
                .map(|b| Some(b.clone()))
        };
        match (cmp, version) {
            (Some("="), Some(v)) => {
                version_ok = fnmatch(&iv, v);
                installable = better(&|b| fnmatch(b, v));
            }
            (Some(_), Some(v)) => {
                version_ok = version_compare(&iv, v) != Ordering::Less;
                installable = better(&|b| version_compare(b, v) != Ordering::Less);
            }
            _ => {
                version_ok = true;
                installable = better(&|_| true);
            }
        }
    } else {
        installable = best.map(Some);
    }
    Status {
        installed,
        version_ok,
        installable,
        has_files,
    }
}

/// `(package, architecture)` of every entry of apt's `extended_states`
/// marked `Auto-Installed: 1`.
fn parse_auto_installed(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut pkg = None;
        let mut arch = String::new();
        let mut auto = false;
        for line in stanza.lines() {
            if let Some((k, v)) = line.split_once(':') {
                match k.trim() {
                    "Package" => pkg = Some(v.trim().to_owned()),
                    "Architecture" => arch = v.trim().to_owned(),
                    "Auto-Installed" => auto = v.trim() == "1",
                    _ => {}
                }
            }
        }
        if let Some(p) = pkg
            && auto
        {
            out.push((p, arch));
        }
    }
    out
}

/// python-apt's failure text for dependencies apt cannot satisfy, from
/// `apt-get -s install FILE` lines like `pkg : Depends: dep (>= 1) but it
/// is not installable`.
fn unsatisfiable_deps(out: &str) -> String {
    let mut msg = String::new();
    for line in out.lines() {
        for kind in ["Depends: ", "PreDepends: "] {
            if let Some(i) = line.find(kind) {
                let rest = &line[i + kind.len()..];
                let dep = rest.split(" but ").next().unwrap_or(rest).trim();
                msg.push_str(&format!("Dependency is not satisfiable: {dep}\n"));
            }
        }
    }
    msg
}

/// A deb822 control paragraph (`dpkg --field FILE`) as a field map.
fn parse_control(text: &str) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = HashMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(k) = &last
                && let Some(v) = map.get_mut(k)
            {
                v.push('\n');
                v.push_str(line);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            map.insert(k.to_owned(), v.trim().to_owned());
            last = Some(k.to_owned());
        }
    }
    map
}

/// Lines of apt-get output between its preamble and its summary, as
/// Ansible's `parse_diff` shows them.
fn parse_diff(out: &str) -> Value {
    let lines: Vec<&str> = out.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == "Resolving dependencies...")
        .or_else(|| {
            lines
                .iter()
                .position(|l| *l == "Reading state information...")
        })
        .map(|i| i as isize)
        .unwrap_or(-1);
    let end = lines
        .iter()
        .position(|l| {
            let t = l.trim_start_matches(|c: char| c.is_ascii_digit());
            t.len() < l.len() && (t.starts_with(" upgraded") || t.starts_with(" packages upgraded"))
        })
        .unwrap_or(lines.len());
    let s = (start + 1) as usize;
    let e = (end + 1).min(lines.len());
    let text = if s <= e {
        lines[s..e].join("\n")
    } else {
        String::new()
    };
    vmap([("prepared", Value::from(text))])
}

struct AptRun<'a> {
    args: &'a Args,
    ctx: &'a ModuleCtx<'a>,
    check: bool,
    apt_get: String,
    aptitude: Option<String>,
    /// `-o "Dpkg::Options::=--…" … -o DPkg::Lock::Timeout=N`, as argv and text.
    dpkg_argv: Vec<String>,
    dpkg_shown: String,
    force: bool,
    autoremove: bool,
    fail_on_autoremove: bool,
    install_recommends: Option<bool>,
    allow_unauthenticated: bool,
    allow_downgrade: bool,
    allow_change_held: bool,
    default_release: Option<String>,
    /// The original `/usr/sbin/policy-rc.d` when `policy_rc_d` replaced it.
    policy_backup: std::sync::Mutex<Option<Option<Vec<u8>>>>,
}

fn expand_dpkg_options(opts: &str) -> (Vec<String>, String) {
    let mut argv = Vec::new();
    let mut shown = String::new();
    for o in opts.split(',') {
        argv.push("-o".to_owned());
        argv.push(format!("Dpkg::Options::=--{o}"));
        shown.push_str(&format!(" -o \"Dpkg::Options::=--{o}\""));
    }
    (argv, shown.trim().to_owned())
}

impl<'a> AptRun<'a> {
    async fn new(args: &'a Args, ctx: &'a ModuleCtx<'a>) -> R<AptRun<'a>> {
        let apt_get = find_bin(ctx, "apt-get")
            .await?
            .ok_or_else(|| fail(missing_bin("apt-get")))?;
        let aptitude = find_bin(ctx, "aptitude").await?;
        let lock_timeout = args.int("lock_timeout").unwrap_or(60);
        let opts = args
            .str("dpkg_options")
            .unwrap_or_else(|| DPKG_OPTIONS.to_owned());
        let (mut dpkg_argv, dpkg_shown) = expand_dpkg_options(&opts);
        dpkg_argv.push("-o".into());
        dpkg_argv.push(format!("DPkg::Lock::Timeout={lock_timeout}"));
        let dpkg_shown = format!("{dpkg_shown} -o DPkg::Lock::Timeout={lock_timeout}");
        Ok(AptRun {
            args,
            ctx,
            check: ctx.check_mode || ctx.predict,
            apt_get,
            aptitude,
            dpkg_argv,
            dpkg_shown,
            force: args.bool_or("force", false),
            autoremove: args.bool_or("autoremove", false),
            fail_on_autoremove: args.bool_or("fail_on_autoremove", false),
            install_recommends: args.bool("install_recommends"),
            allow_unauthenticated: args.bool_or("allow_unauthenticated", false),
            allow_downgrade: args.bool_or("allow_downgrade", false),
            allow_change_held: args.bool_or("allow_change_held_packages", false),
            default_release: args.str("default_release").filter(|s| !s.is_empty()),
            policy_backup: std::sync::Mutex::new(None),
        })
    }

    async fn sh(&self, argv: &[String], read_only: bool) -> R<Ran> {
        Ok(run(self.ctx, argv, APT_ENV, read_only).await?)
    }

    /// Runs a command that changes packages: read-only (simulated) in check
    /// mode, with `policy-rc.d` in place when asked.
    async fn change(&self, argv: &[String]) -> R<Ran> {
        self.install_policy_rc_d().await?;
        self.sh(argv, self.check).await
    }

    async fn install_policy_rc_d(&self) -> R<()> {
        let Some(code) = self.args.int("policy_rc_d") else {
            return Ok(());
        };
        if self.check {
            return Ok(());
        }
        if self
            .policy_backup
            .lock()
            .map(|g| g.is_some())
            .unwrap_or(true)
        {
            return Ok(());
        }
        let old = self.ctx.conn.read_file(POLICY_RC_D).await?;
        let attrs = FileAttrs {
            mode: Some(0o755),
            ..FileAttrs::default()
        };
        self.ctx
            .conn
            .write_file(
                POLICY_RC_D,
                format!("#!/bin/sh\nexit {code}\n").as_bytes(),
                &attrs,
            )
            .await
            .map_err(|_| fail("Failed to create or chmod /usr/sbin/policy-rc.d"))?;
        if let Ok(mut g) = self.policy_backup.lock() {
            *g = Some(old);
        }
        Ok(())
    }

    async fn restore_policy_rc_d(&self) -> Result<(), ModuleError> {
        let saved = self.policy_backup.lock().ok().and_then(|mut g| g.take());
        match saved {
            None => Ok(()),
            Some(Some(data)) => {
                let attrs = FileAttrs {
                    mode: Some(0o755),
                    ..FileAttrs::default()
                };
                Ok(self.ctx.conn.write_file(POLICY_RC_D, &data, &attrs).await?)
            }
            Some(None) => Ok(self.ctx.conn.remove(POLICY_RC_D, false).await?),
        }
    }

    async fn main(&self) -> R<Outcome> {
        let args = self.args;
        if args.bool_or("clean", false) {
            let (out, err) = self.aptclean().await?;
            if args.list("package").is_none()
                && matches!(args.str("upgrade").as_deref(), None | Some("no"))
                && args.str("deb").is_none()
            {
                let mut o = Outcome::changed(true);
                o.msg = Some(out.clone());
                o.set("stdout", out.as_str());
                o.set("stderr", err);
                o.set("diff", self.diff_of(&out));
                return Ok(o);
            }
        }
        let upgrade = args.str("upgrade").filter(|u| u != "no");

        // The cache.
        let (mut mtime, now) = self.cache_mtime().await?;
        let mut updated_cache = false;
        let update = args.bool_or("update_cache", false);
        let valid = args.int("cache_valid_time").unwrap_or(0);
        if update || valid != 0 {
            if mtime + valid < now {
                self.update_cache().await?;
                let (post, _) = self.cache_mtime().await?;
                if self.check || post != mtime {
                    updated_cache = true;
                }
                mtime = post;
            }
            if args.list("package").is_none() && upgrade.is_none() && args.str("deb").is_none() {
                return Ok(Outcome::changed(updated_cache)
                    .with("cache_updated", updated_cache)
                    .with("cache_update_time", mtime));
            }
        }

        if let Some(mode) = &upgrade {
            return self.upgrade(mode).await;
        }

        if let Some(deb) = args.str("deb") {
            if args.str_or("state", "present") != "present" {
                return Err(fail("deb only supports state=present"));
            }
            if deb.contains("://") {
                return Err(fail(format!(
                    "deb: '{deb}' is a URL; hoist does not download packages in the apt module. \
                     Fetch it to the host first (get_url or copy) and give its path"
                )));
            }
            return self.install_deb(&deb).await;
        }

        let unfiltered = args.str_list("package").unwrap_or_default();
        let packages: Vec<String> = unfiltered
            .iter()
            .filter(|p| *p != "*")
            .map(|p| p.trim().to_owned())
            .collect();
        let all_installed = unfiltered.iter().any(|p| p == "*");
        let state = args.str_or("state", "present");
        if state == "latest" && all_installed {
            if !packages.is_empty() {
                return Err(fail(
                    "unable to install additional packages when upgrading all installed packages",
                ));
            }
            return self.upgrade("yes").await;
        }
        if let Some(bad) = packages.iter().find(|p| p.matches('=').count() > 1) {
            return Err(fail(format!("invalid package spec: {bad}")));
        }
        if packages.is_empty() {
            if args.bool_or("autoclean", false) {
                return self.cleanup("autoclean").await;
            }
            if self.autoremove {
                return self.cleanup("autoremove").await;
            }
        }
        match state.as_str() {
            "absent" => self.remove(&packages).await,
            _ => {
                // Ansible's `install` result (success or not) gets the cache
                // keys; failures raised inside it (no such package) do not.
                let mut o = self.install(&packages, &state).await?;
                o.set("cache_updated", updated_cache);
                o.set("cache_update_time", mtime);
                Ok(o)
            }
        }
    }

    fn diff_of(&self, out: &str) -> Value {
        if self.ctx.diff {
            parse_diff(out)
        } else {
            vmap(std::iter::empty::<(&str, Value)>())
        }
    }

    /// The cache's age: the mtime of the update stamp or the lists
    /// directory (0 when neither exists), and the target's clock.
    async fn cache_mtime(&self) -> R<(i64, i64)> {
        let mut mtime = 0;
        for p in [APT_UPDATE_SUCCESS_STAMP_PATH, APT_LISTS_PATH] {
            if let Some(st) = self.ctx.conn.stat(p, true).await? {
                mtime = st.mtime as i64;
                break;
            }
        }
        let r = self.sh(&["date".into(), "+%s".into()], true).await?;
        let now = r.stdout.trim().parse::<i64>().unwrap_or(i64::MAX);
        Ok((mtime, now))
    }

    async fn update_cache(&self) -> R<()> {
        if self.check {
            return Ok(());
        }
        let retries = self.args.int("update_cache_retries").unwrap_or(5).max(1);
        let max_delay = self.args.int("update_cache_retry_max_delay").unwrap_or(12);
        let mut warnings: Vec<String> = Vec::new();
        let mut err = String::new();
        for attempt in 0..retries {
            let argv = vec![self.apt_get.clone(), "update".into(), "-q".into()];
            let r = self.sh(&argv, false).await?;
            let fetch_failed = r
                .stderr
                .lines()
                .any(|l| l.contains("Failed to fetch") || l.contains("Some index files failed"));
            if r.rc == 0 && !fetch_failed {
                return Ok(());
            }
            err = r
                .stderr
                .lines()
                .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
                .collect::<Vec<_>>()
                .join(", ");
            if err.is_empty() {
                err = r.stderr.trim().to_owned();
            }
            warnings.push(format!(
                "Failed to update cache after {} retries due to {err}, retrying",
                attempt + 1
            ));
            if attempt + 1 < retries {
                let jitter = (std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_millis())
                    .unwrap_or(0)) as f64
                    / 1000.0;
                let mut delay = 2f64.powi(attempt.min(30) as i32) + jitter;
                if delay > max_delay as f64 {
                    delay = max_delay as f64 + jitter;
                }
                tokio::time::sleep(std::time::Duration::from_secs_f64(delay.max(0.0))).await;
                warnings.push(format!(
                    "Sleeping for {} seconds, before attempting to refresh the cache again",
                    delay.round() as i64
                ));
            }
        }
        let err = if err.is_empty() {
            "unknown reason".to_owned()
        } else {
            err
        };
        Err(fail_data(
            format!("Failed to update apt cache after {retries} retries: {err}"),
            vec![("warnings", Value::from(warnings))],
        ))
    }

    async fn aptclean(&self) -> R<(String, String)> {
        if self.check {
            return Ok((String::new(), String::new()));
        }
        let r = self
            .sh(&[self.apt_get.clone(), "clean".into()], false)
            .await?;
        if r.rc != 0 {
            return Err(fail_data(
                "apt-get clean failed",
                vec![("stdout", Value::from(r.stdout)), ("rc", Value::from(r.rc))],
            ));
        }
        if !r.stderr.is_empty() {
            return Err(fail_data(
                format!("apt-get clean failed: {}", r.stderr),
                vec![("stdout", Value::from(r.stdout)), ("rc", Value::from(r.rc))],
            ));
        }
        Ok((r.stdout, r.stderr))
    }

    fn apt_get_base(&self) -> CmdLine {
        let mut c = CmdLine::new();
        c.words(&[self.apt_get.as_str()]);
        c
    }

    fn dpkg_opts(&self, c: &mut CmdLine) {
        c.shown_as(&self.dpkg_argv, &self.dpkg_shown);
    }

    /// `apt-cache policy` (with the default release) for these names.
    async fn policies(&self, names: &[String]) -> R<HashMap<String, Policy>> {
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        let mut argv = vec!["apt-cache".to_owned()];
        if let Some(rel) = &self.default_release {
            argv.push("-o".into());
            argv.push(format!("APT::Default-Release={rel}"));
        }
        argv.push("policy".into());
        argv.push("--".into());
        argv.extend(names.iter().cloned());
        let pol = self.sh(&argv, true).await?;
        if pol.rc != 0 {
            return Err(fail_data(
                format!("apt-cache policy failed: {}", pol.stderr.trim()),
                vec![("rc", Value::from(pol.rc))],
            ));
        }
        Ok(parse_policy(&pol.stdout))
    }

    /// What dpkg knows about these names (`name` or `name:arch`), by the
    /// name as given.
    async fn installed(&self, names: &[String]) -> R<HashMap<String, Installed>> {
        let mut map = HashMap::new();
        if names.is_empty() {
            return Ok(map);
        }
        let mut argv = vec![
            "dpkg-query".to_owned(),
            "-W".into(),
            "-f".into(),
            "${Package}\t${Architecture}\t${Status}\t${Version}\n".into(),
            "--".into(),
        ];
        argv.extend(names.iter().cloned());
        let q = self.sh(&argv, true).await?;
        let rows = parse_dpkg_query(&q.stdout);
        for name in names {
            let (base, arch) = match name.split_once(':') {
                Some((b, a)) => (b, Some(a)),
                None => (name.as_str(), None),
            };
            // An installed row wins over a config-files one of another arch.
            let mut found: Option<&Installed> = None;
            for (n, i) in &rows {
                if n == base
                    && arch.is_none_or(|a| a == i.arch || i.arch == "all")
                    && found.is_none_or(|f| f.state != "installed")
                {
                    found = Some(i);
                }
            }
            if let Some(i) = found {
                map.insert(name.clone(), i.clone());
            }
        }
        Ok(map)
    }

    /// `package_status` when installing a package apt has no versions of:
    /// a virtual package is installable (apt picks a provider) unless its
    /// only provider is installed; anything else is unknown.
    async fn virtual_status(
        &self,
        name: &str,
        cmp: Option<&str>,
        version: Option<&str>,
    ) -> R<Status> {
        let show = self
            .sh(
                &[
                    "apt-cache".into(),
                    "showpkg".into(),
                    "--".into(),
                    name.to_owned(),
                ],
                true,
            )
            .await?;
        let providers = parse_reverse_provides(&show.stdout);
        if providers.is_empty() {
            return Err(fail(format!("No package matching '{name}' is available")));
        }
        if providers.len() == 1 {
            let p = providers[0].clone();
            let inst = self.installed(std::slice::from_ref(&p)).await?;
            let pols = self.policies(std::slice::from_ref(&p)).await?;
            let st = compute_status(inst.get(&p), pols.get(&p), cmp, version);
            if st.installed {
                return Ok(st);
            }
        }
        Ok(Status {
            installed: false,
            version_ok: false,
            installable: Some(None),
            has_files: false,
        })
    }

    /// Expands `foo*`-style names against every package apt knows.
    async fn expand_fnmatches(&self, specs: &[String]) -> R<Vec<String>> {
        let mut out = Vec::new();
        let mut all: Option<Vec<String>> = None;
        for spec in specs {
            let (name, _, _) = package_split(spec);
            if !name.chars().any(|c| "*?[]!".contains(c)) {
                out.push(spec.clone());
                continue;
            }
            if all.is_none() {
                let r = self
                    .sh(&["apt-cache".into(), "pkgnames".into()], true)
                    .await?;
                let mut names: Vec<String> = r.stdout.lines().map(str::to_owned).collect();
                names.sort();
                all = Some(names);
            }
            let names = all.as_deref().unwrap_or(&[]);
            let matches: Vec<String> = names
                .iter()
                .filter(|n| name.contains(':') || !n.contains(':'))
                .filter(|n| fnmatch(n, &name))
                .cloned()
                .collect();
            if matches.is_empty() {
                return Err(fail(format!("No package(s) matching '{name}' available")));
            }
            out.extend(matches);
        }
        Ok(out)
    }

    /// Ansible's `install`: `Ok` with the result (changed or not), `Err`
    /// with a failure.
    async fn install(&self, specs: &[String], state: &str) -> R<Outcome> {
        self.install_with(specs, state, &self.dpkg_argv, &self.dpkg_shown)
            .await
    }

    async fn install_with(
        &self,
        specs: &[String],
        state: &str,
        dpkg_argv: &[String],
        dpkg_shown: &str,
    ) -> R<Outcome> {
        let build_dep = state == "build-dep";
        let upgrade = state == "latest";
        let fixed = state == "fixed";
        let only_upgrade = self.args.bool_or("only_upgrade", false);
        let specs = self.expand_fnmatches(specs).await?;
        let mut pkgs: Vec<String> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let parsed: Vec<(String, Option<&str>, Option<String>)> =
            specs.iter().map(|s| package_split(s)).collect();
        let (insts, pols) = if build_dep {
            (HashMap::new(), HashMap::new())
        } else {
            let all: Vec<String> = parsed.iter().map(|(n, _, _)| n.clone()).collect();
            let insts = self.installed(&all).await?;
            // apt's view is only needed where the answer can depend on it:
            // not installed, a version asked for, or an upgrade.
            let need: Vec<String> = parsed
                .iter()
                .filter(|(n, cmp, _)| {
                    upgrade || cmp.is_some() || insts.get(n).is_none_or(|i| i.state != "installed")
                })
                .map(|(n, _, _)| n.clone())
                .collect();
            (insts, self.policies(&need).await?)
        };
        for (spec, (name, cmp, version)) in specs.iter().zip(&parsed) {
            if build_dep {
                pkgs.push(spec.clone());
                continue;
            }
            let (name, cmp) = (name.clone(), *cmp);
            names.push(name.clone());
            let inst = insts.get(&name);
            let pol = pols
                .get(&name)
                .or_else(|| name.split(':').next().and_then(|b| pols.get(b)));
            let installed_only =
                inst.is_some_and(|i| i.state == "installed") && cmp.is_none() && !upgrade;
            let real = pol.is_some_and(|p| !p.versions.is_empty());
            let st = if installed_only || real {
                compute_status(inst, pol, cmp, version.as_deref())
            } else {
                self.virtual_status(&name, cmp, version.as_deref()).await?
            };
            if !st.installed && only_upgrade {
                continue;
            }
            if !st.version_ok && st.installable.is_none() {
                return Ok(Outcome::failure(format!(
                    "no available installation candidate for {spec}"
                )));
            }
            if let Some(inst) = &st.installable
                && ((!st.installed && !only_upgrade) || upgrade || !st.version_ok)
            {
                match (inst, version) {
                    (Some(v), _) => pkgs.push(format!("{name}={v}")),
                    (None, Some(v)) => pkgs.push(format!("{name}={v}")),
                    (None, None) => pkgs.push(name.clone()),
                }
            } else if st.version_ok && st.installable.is_some() && cmp == Some("=") {
                pkgs.push(format!("{name}={}", version.clone().unwrap_or_default()));
            }
        }

        let mut out = Outcome::changed(false);
        if !pkgs.is_empty() {
            let mut c = self.apt_get_base();
            c.words(&["-y"]);
            c.shown_as(dpkg_argv, dpkg_shown);
            c.flag(only_upgrade, "--only-upgrade")
                .flag(fixed, "--fix-broken")
                .flag(self.force, "--force-yes");
            if !build_dep {
                c.flag(self.autoremove, "--auto-remove");
            }
            c.flag(self.fail_on_autoremove, "--no-remove")
                .flag(self.check, "--simulate");
            c.words(&[if build_dep { "build-dep" } else { "install" }]);
            let shown: Vec<String> = pkgs.iter().map(|p| format!("'{p}'")).collect();
            c.shown_as(&pkgs, &shown.join(" "));
            if let Some(rel) = &self.default_release {
                c.append(&["-t", rel.as_str()], &format!(" -t '{rel}'"));
            }
            match self.install_recommends {
                Some(false) => {
                    c.append(
                        &["-o", "APT::Install-Recommends=no"],
                        " -o APT::Install-Recommends=no",
                    );
                }
                Some(true) => {
                    c.append(
                        &["-o", "APT::Install-Recommends=yes"],
                        " -o APT::Install-Recommends=yes",
                    );
                }
                None => {}
            }
            if self.allow_unauthenticated {
                c.append(&["--allow-unauthenticated"], " --allow-unauthenticated");
            }
            if self.allow_downgrade {
                c.append(&["--allow-downgrades"], " --allow-downgrades");
            }
            if self.allow_change_held {
                c.append(
                    &["--allow-change-held-packages"],
                    " --allow-change-held-packages",
                );
            }
            let r = self.change(&c.argv).await?;
            if r.rc != 0 {
                let mut o = Outcome::failure(format!("'{}' failed: {}", c.display(), r.stderr));
                o.set("stdout", r.stdout);
                o.set("stderr", r.stderr);
                o.set("rc", r.rc);
                return Ok(o);
            }
            let changed = !build_dep || !r.stdout.contains(APT_GET_ZERO);
            out = Outcome::changed(changed);
            out.set("stdout", r.stdout.as_str());
            out.set("stderr", r.stderr);
            out.set("diff", self.diff_of(&r.stdout));
        }
        if !build_dep && !self.check {
            self.mark_manual(&names).await?;
        }
        Ok(out)
    }

    /// `apt-mark manual` for the names, as Ansible does after every install;
    /// only names apt marked automatic need it, so it runs only for those.
    async fn mark_manual(&self, names: &[String]) -> R<()> {
        let states = self
            .ctx
            .conn
            .read_file("/var/lib/apt/extended_states")
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let auto = parse_auto_installed(&states);
        let names: Vec<String> = names
            .iter()
            .filter(|n| {
                let (base, arch) = match n.split_once(':') {
                    Some((b, a)) => (b, Some(a)),
                    None => (n.as_str(), None),
                };
                auto.iter()
                    .any(|(p, a)| p == base && arch.is_none_or(|x| x == a))
            })
            .cloned()
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let Some(apt_mark) = find_bin(self.ctx, "apt-mark").await? else {
            return Ok(());
        };
        let mut argv = vec![apt_mark.clone(), "manual".into()];
        argv.extend(names.iter().cloned());
        let r = self.sh(&argv, false).await?;
        if r.rc != 0 {
            return Err(fail_data(
                format!(
                    "'{apt_mark} manual {}' failed: {}",
                    names.join(" "),
                    r.stderr
                ),
                vec![
                    ("stdout", Value::from(r.stdout)),
                    ("stderr", Value::from(r.stderr)),
                    ("rc", Value::from(r.rc)),
                ],
            ));
        }
        Ok(())
    }

    async fn remove(&self, specs: &[String]) -> R<Outcome> {
        let purge = self.args.bool_or("purge", false);
        let specs = self.expand_fnmatches(specs).await?;
        let parsed: Vec<(String, Option<&str>, Option<String>)> =
            specs.iter().map(|s| package_split(s)).collect();
        let all: Vec<String> = parsed.iter().map(|(n, _, _)| n.clone()).collect();
        let insts = self.installed(&all).await?;
        let mut pkgs = Vec::new();
        for (spec, (name, cmp, version)) in specs.iter().zip(&parsed) {
            // Removing needs no candidate: what dpkg knows decides.
            let st = compute_status(insts.get(name), None, *cmp, version.as_deref());
            if (st.installed && st.version_ok) || (st.has_files && purge) {
                pkgs.push(spec.clone());
            }
        }
        if pkgs.is_empty() {
            return Ok(Outcome::changed(false));
        }
        let mut c = self.apt_get_base();
        c.words(&["-q", "-y"]);
        self.dpkg_opts(&mut c);
        c.flag(purge, "--purge")
            .flag(self.force, "--force-yes")
            .flag(self.autoremove, "--auto-remove")
            .flag(self.check, "--simulate")
            .flag(self.allow_change_held, "--allow-change-held-packages");
        c.words(&["remove"]);
        let shown = pkgs
            .iter()
            .map(|p| format!("'{p}'"))
            .collect::<Vec<_>>()
            .join(" ");
        c.shown_as(&pkgs, &shown);
        let r = self.change(&c.argv).await?;
        if r.rc != 0 {
            return Err(fail_data(
                format!("'apt-get remove {shown}' failed: {}", r.stderr),
                vec![
                    ("stdout", Value::from(r.stdout)),
                    ("stderr", Value::from(r.stderr)),
                    ("rc", Value::from(r.rc)),
                ],
            ));
        }
        let mut o = Outcome::changed(true);
        o.set("stdout", r.stdout.as_str());
        o.set("stderr", r.stderr);
        o.set("diff", self.diff_of(&r.stdout));
        Ok(o)
    }

    async fn cleanup(&self, op: &str) -> R<Outcome> {
        let purge = self.args.bool_or("purge", false);
        let mut c = self.apt_get_base();
        c.words(&["-y"]);
        self.dpkg_opts(&mut c);
        c.flag(purge, "--purge").flag(self.force, "--force-yes");
        c.words(&[op]);
        c.flag(self.check, "--simulate");
        let r = self.change(&c.argv).await?;
        if r.rc != 0 {
            return Err(fail_data(
                format!("'apt-get {op}' failed: {}", r.stderr),
                vec![
                    ("stdout", Value::from(r.stdout)),
                    ("stderr", Value::from(r.stderr)),
                    ("rc", Value::from(r.rc)),
                ],
            ));
        }
        let marker = if op == "autoremove" {
            "The following packages will be REMOVED"
        } else {
            "Del "
        };
        let mut o = Outcome::changed(r.stdout.contains(marker));
        o.set("stdout", r.stdout.as_str());
        o.set("stderr", r.stderr);
        o.set("diff", self.diff_of(&r.stdout));
        Ok(o)
    }

    async fn upgrade(&self, mode: &str) -> R<Outcome> {
        let use_apt_get = self.args.bool_or("force_apt_get", false) || self.aptitude.is_none();
        let aptitude = self.aptitude.clone().unwrap_or_default();
        let (cmd_path, is_apt_get, sub): (String, bool, Vec<&str>) =
            if mode == "dist" || (mode == "full" && use_apt_get) {
                (self.apt_get.clone(), true, vec!["dist-upgrade"])
            } else if mode == "full" {
                (aptitude, false, vec!["full-upgrade"])
            } else if use_apt_get {
                (
                    self.apt_get.clone(),
                    true,
                    vec!["upgrade", "--with-new-pkgs"],
                )
            } else {
                (aptitude, false, vec!["safe-upgrade"])
            };
        let mut warnings: Vec<String> = Vec::new();
        let mut c = CmdLine::new();
        c.words(&[cmd_path.as_str(), "-y"]);
        self.dpkg_opts(&mut c);
        if self.force {
            if is_apt_get {
                c.words(&["--force-yes"]);
            } else {
                c.words(&["--assume-yes", "--allow-untrusted"]);
            }
        } else {
            c.flag(false, "");
        }
        if self.fail_on_autoremove && !is_apt_get {
            warnings.push(
                "APTITUDE does not support '--no-remove', ignoring the 'fail_on_autoremove' parameter."
                    .into(),
            );
        }
        c.flag(self.fail_on_autoremove && is_apt_get, "--no-remove");
        c.flag(self.allow_unauthenticated, "--allow-unauthenticated");
        if self.allow_downgrade && !is_apt_get {
            warnings.push(
                "APTITUDE does not support '--allow-downgrades', ignoring the 'allow_downgrade' parameter."
                    .into(),
            );
        }
        c.flag(self.allow_downgrade && is_apt_get, "--allow-downgrades");
        c.flag(self.check, "--simulate");
        let mut sub_shown = sub.join(" ");
        let mut sub_argv: Vec<String> = sub.iter().map(|s| s.to_string()).collect();
        if is_apt_get {
            sub_shown.push(' ');
            if self.autoremove {
                sub_shown.push_str("--auto-remove");
                sub_argv.push("--auto-remove".into());
            }
        }
        c.shown_as(&sub_argv, &sub_shown);
        if let Some(rel) = &self.default_release {
            c.append(&["-t", rel.as_str()], &format!(" -t '{rel}'"));
        }
        let r = self.change(&c.argv).await?;
        let tool = if is_apt_get { &self.apt_get } else { &cmd_path };
        if r.rc != 0 {
            return Err(fail_data(
                format!("'{tool} {sub_shown}' failed: {}", r.stderr),
                vec![("stdout", Value::from(r.stdout)), ("rc", Value::from(r.rc))],
            ));
        }
        let zero = if is_apt_get {
            APT_GET_ZERO
        } else {
            APTITUDE_ZERO
        };
        let changed = !r.stdout.contains(zero);
        let mut o = Outcome::changed(changed);
        o.msg = Some(r.stdout.clone());
        o.set("stdout", r.stdout.as_str());
        o.set("stderr", r.stderr);
        if changed {
            o.set("diff", self.diff_of(&r.stdout));
        }
        if !warnings.is_empty() {
            o.set("warnings", Value::from(warnings));
        }
        Ok(o)
    }

    /// A `.deb` file's control fields.
    async fn deb_fields(&self, deb: &str) -> R<HashMap<String, String>> {
        let argv = vec!["dpkg".to_owned(), "--field".into(), deb.to_owned()];
        let r = self.sh(&argv, true).await?;
        let map = parse_control(&r.stdout);
        if r.rc != 0 || !map.contains_key("Package") {
            return Err(fail_data(
                format!("/usr/bin/dpkg --field {deb} Package failed"),
                vec![
                    ("stdout", Value::from(r.stdout)),
                    ("stderr", Value::from(r.stderr)),
                ],
            ));
        }
        Ok(map)
    }

    async fn install_deb(&self, debs: &str) -> R<Outcome> {
        let mut deps: Vec<String> = Vec::new();
        let mut to_install: Vec<String> = Vec::new();
        let foreign = self
            .sh(
                &["dpkg".into(), "--print-foreign-architectures".into()],
                true,
            )
            .await?;
        let multiarch = !foreign.stdout.trim().is_empty();
        for deb in debs.split(',') {
            if self.ctx.conn.stat(deb, true).await?.is_none() {
                return Err(fail(format!(
                    "Unable to install package: could not open {deb}: No such file or directory"
                )));
            }
            let fields = self.deb_fields(deb).await?;
            let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
            let name = field("Package");
            let version = field("Version");
            let key = if multiarch {
                format!("{name}:{}", field("Architecture"))
            } else {
                name.clone()
            };
            let insts = self.installed(std::slice::from_ref(&key)).await?;
            let installed = insts
                .get(&key)
                .filter(|i| i.state == "installed")
                .map(|i| i.version.clone());
            if let Some(iv) = &installed {
                if version_compare(&version, iv) == Ordering::Equal {
                    continue;
                }
                if version_compare(&version, iv) == Ordering::Less
                    && !self.force
                    && !self.allow_downgrade
                {
                    return Err(fail("A later version is already installed"));
                }
            }
            // What apt would have to install besides the file itself (a
            // package without dependencies needs no simulation).
            let has_deps = ["Depends", "Pre-Depends", "Conflicts", "Breaks"]
                .iter()
                .any(|k| fields.get(*k).is_some_and(|v| !v.is_empty()));
            let sim = if !has_deps {
                Ran::default()
            } else {
                self.sh(
                    &[
                        self.apt_get.clone(),
                        "-s".into(),
                        "-q".into(),
                        "--allow-downgrades".into(),
                        "install".into(),
                        deb.to_owned(),
                    ],
                    true,
                )
                .await?
            };
            if sim.rc != 0 {
                let unsat = unsatisfiable_deps(&sim.stdout);
                if !self.force && !unsat.is_empty() {
                    return Err(fail(unsat));
                }
                if !self.force {
                    let why: Vec<&str> = sim
                        .stdout
                        .lines()
                        .chain(sim.stderr.lines())
                        .filter(|l| l.contains("Depends:") || l.starts_with("E:"))
                        .map(str::trim)
                        .collect();
                    return Err(fail(format!(
                        "Unable to install package: {}",
                        if why.is_empty() {
                            sim.stderr.trim().to_owned()
                        } else {
                            why.join("; ")
                        }
                    )));
                }
            } else {
                for l in sim.stdout.lines() {
                    if let Some(rest) = l.strip_prefix("Inst ")
                        && let Some(n) = rest.split_whitespace().next()
                        && n != name
                        && n.split(':').next() != Some(name.as_str())
                    {
                        deps.push(n.to_owned());
                    }
                }
            }
            if self.install_recommends == Some(true) {
                let rec = field("Recommends");
                deps.extend(rec.split_whitespace().map(|s| s.trim().to_owned()));
            }
            to_install.push(deb.to_owned());
        }

        let mut changed = false;
        let mut stdout = String::new();
        let mut stderr = String::new();
        let mut diff_text: Option<String> = None;
        if !deps.is_empty() {
            let opts = self
                .args
                .str("dpkg_options")
                .unwrap_or_else(|| DPKG_OPTIONS.to_owned());
            let lock = self.args.int("lock_timeout").unwrap_or(60);
            let (mut argv, shown) = expand_dpkg_options(&opts);
            argv.push("-o".into());
            argv.push(format!("DPkg::Lock::Timeout={lock}"));
            let shown = format!("{shown} -o DPkg::Lock::Timeout={lock}");
            let o = self.install_with(&deps, "present", &argv, &shown).await?;
            if o.failed {
                return Err(Exit(o));
            }
            changed = o.changed;
            stdout = o
                .data
                .get("stdout")
                .map(|v| v.to_string())
                .unwrap_or_default();
            stderr = o
                .data
                .get("stderr")
                .map(|v| v.to_string())
                .unwrap_or_default();
            if let Some(p) = o.data.get("diff").and_then(|d| d.get_attr("prepared").ok())
                && !p.is_undefined()
            {
                diff_text = Some(p.to_string());
            }
        }
        if to_install.is_empty() {
            let mut o = Outcome::changed(changed);
            o.set("stdout", stdout.as_str());
            o.set("stderr", stderr);
            o.set(
                "diff",
                diff_text
                    .map(|d| vmap([("prepared", Value::from(d))]))
                    .unwrap_or(Value::from("")),
            );
            return Ok(o);
        }
        let opts = self
            .args
            .str("dpkg_options")
            .unwrap_or_else(|| DPKG_OPTIONS.to_owned());
        let mut argv = vec!["dpkg".to_owned()];
        argv.extend(opts.split(',').map(|o| format!("--{o}")));
        if self.check {
            argv.push("--simulate".into());
        }
        if self.force {
            argv.push("--force-all".into());
        }
        argv.push("-i".into());
        argv.extend(to_install.iter().cloned());
        let shown = argv.join(" ");
        let r = self.change(&argv).await?;
        stdout.push_str(&r.stdout);
        stderr.push_str(&r.stderr);
        let diff = match diff_text {
            Some(d) if self.ctx.diff => {
                vmap([("prepared", Value::from(format!("{d}\n\n{}", r.stdout)))])
            }
            _ => parse_diff(&r.stdout),
        };
        if r.rc != 0 {
            return Err(fail_data(
                format!("{shown} failed"),
                vec![
                    ("stdout", Value::from(stdout)),
                    ("stderr", Value::from(stderr)),
                ],
            ));
        }
        let mut o = Outcome::changed(true);
        o.set("stdout", stdout.as_str());
        o.set("stderr", stderr);
        o.set("diff", diff);
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_versions_compare_as_dpkg() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1:1.0", "2.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1.0-1", "1.0-2", Less),
            ("1.0-10", "1.0-9", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0.0", "1.0", Greater),
            ("0001.0", "1.0", Equal),
            ("1:9.2p1-2+deb12u10", "1:9.2p1-2+deb12u9", Greater),
            ("2.30-1", "2.3-1", Greater),
            ("1.0~~", "1.0~", Less),
        ] {
            assert_eq!(version_compare(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn package_specs_split_as_ansible() {
        assert_eq!(package_split("foo"), ("foo".into(), None, None));
        assert_eq!(
            package_split("foo=1.*"),
            ("foo".into(), Some("="), Some("1.*".into()))
        );
        assert_eq!(
            package_split("foo>=2"),
            ("foo".into(), Some(">="), Some("2".into()))
        );
    }

    #[test]
    fn policy_output_parses() {
        let text = "openssh-server:\n  Installed: 1:9.2p1-2+deb12u10\n  Candidate: 1:9.2p1-2+deb12u10\n  Version table:\n *** 1:9.2p1-2+deb12u10 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n        100 /var/lib/dpkg/status\n     1:9.2p1-2+deb12u9 500\n        500 http://x bookworm-security/main amd64 Packages\nmail-transport-agent:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n";
        let m = parse_policy(text);
        let o = &m["openssh-server"];
        assert_eq!(o.candidate.as_deref(), Some("1:9.2p1-2+deb12u10"));
        assert_eq!(o.versions, ["1:9.2p1-2+deb12u10", "1:9.2p1-2+deb12u9"]);
        let v = &m["mail-transport-agent"];
        assert_eq!(v.candidate, None);
        assert!(v.versions.is_empty());
    }

    #[test]
    fn dpkg_query_and_provides_parse() {
        let q = parse_dpkg_query(
            "openssh-server\tamd64\tinstall ok installed\t1:9.2\nfoo\tall\tdeinstall ok config-files\t1.0\n",
        );
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].1.state, "installed");
        assert_eq!(q[1].1.state, "config-files");
        let p = parse_reverse_provides(
            "Package: x\nReverse Provides: \nssmtp 2.64-11 (= )\npostfix 3.7 (= )\n",
        );
        assert_eq!(p, ["ssmtp", "postfix"]);
    }

    #[test]
    fn diff_is_the_middle_of_apt_output() {
        let out = "Reading package lists...\nBuilding dependency tree...\nReading state information...\nThe following NEW packages will be installed:\n  foo\n0 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\nInst foo\n";
        let d = parse_diff(out);
        assert_eq!(
            d.get_attr("prepared")
                .map(|v| v.to_string())
                .unwrap_or_default(),
            "The following NEW packages will be installed:\n  foo\n0 upgraded, 1 newly installed, 0 to remove and 0 not upgraded."
        );
    }

    #[test]
    fn dpkg_options_expand() {
        let (argv, shown) = expand_dpkg_options("force-confdef,force-confold");
        assert_eq!(
            argv,
            [
                "-o",
                "Dpkg::Options::=--force-confdef",
                "-o",
                "Dpkg::Options::=--force-confold"
            ]
        );
        assert_eq!(
            shown,
            "-o \"Dpkg::Options::=--force-confdef\" -o \"Dpkg::Options::=--force-confold\""
        );
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn unsatisfiable_dependencies_read_as_python_apt() {
        let out = "Reading package lists...\nSome packages could not be installed.\nThe following packages have unmet dependencies:\n hoist-t-dep-b : Depends: hoist-t-dep-a (>= 1.0) but it is not installable\n";
        assert_eq!(
            unsatisfiable_deps(out),
            "Dependency is not satisfiable: hoist-t-dep-a (>= 1.0)\n"
        );
    }

    #[test]
    fn auto_installed_and_control_parse() {
        let states = "Package: libfoo\nArchitecture: amd64\nAuto-Installed: 1\n\nPackage: bar\nArchitecture: all\nAuto-Installed: 0\n";
        assert_eq!(
            parse_auto_installed(states),
            [("libfoo".to_owned(), "amd64".to_owned())]
        );
        let c = parse_control("Package: x\nVersion: 1.0-1\nDescription: short\n long text\n");
        assert_eq!(c["Package"], "x");
        assert_eq!(c["Version"], "1.0-1");
        assert_eq!(c["Description"], "short\n long text");
    }

    fn inst(state: &str, v: &str) -> Installed {
        Installed {
            arch: "amd64".into(),
            state: state.into(),
            version: v.into(),
        }
    }

    #[test]
    fn status_follows_ansible_package_status() {
        let pol = Policy {
            candidate: Some("2.0-1".into()),
            versions: vec!["2.0-1".into(), "1.5-1".into(), "1.0-1".into()],
        };
        // Not installed: the candidate is installable.
        let s = compute_status(None, Some(&pol), None, None);
        assert!(!s.installed && s.installable == Some(Some("2.0-1".into())));
        // Installed at an older version: ok for present, upgradable.
        let i = inst("installed", "1.0-1");
        let s = compute_status(Some(&i), Some(&pol), None, None);
        assert!(s.installed && s.version_ok);
        assert_eq!(s.installable, Some(Some("2.0-1".into())));
        // A pinned glob picks the highest matching version.
        let s = compute_status(Some(&i), Some(&pol), Some("="), Some("1.*"));
        assert!(s.version_ok);
        assert_eq!(s.installable, Some(Some("1.5-1".into())));
        // >= an installed version that is too old.
        let s = compute_status(Some(&i), Some(&pol), Some(">="), Some("1.2"));
        assert!(!s.version_ok);
        // Config files left: not installed, but purge has work.
        let c = inst("config-files", "1.0-1");
        let s = compute_status(Some(&c), None, None, None);
        assert!(!s.installed && s.has_files && s.installable.is_none());
    }
}
