//! `dnf` (and `yum`, which ansible-core 2.19 redirects to `dnf`): RPM
//! packages without Python's dnf bindings on the target. What is installed
//! comes from `rpm -q`; every change is made by the `dnf` command line
//! (`dnf5`, or `yum` where dnf is absent) with `-y`; what a transaction
//! installed and removed is the difference of `rpm -qa` before and after,
//! reported as Ansible's `results` (`Installed: name-[epoch:]ver-rel.arch`).
//! Check mode runs only queries (`rpm -q`, `dnf check-update` for
//! `latest`).

use std::collections::BTreeSet;

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;

use super::sysexec::{Ran, find_bin, missing_bin, run};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::template::vmap;

pub struct Dnf;

static SPEC: ModuleSpec = ModuleSpec {
    name: "dnf",
    params: &[
        Param::new("name", ParamType::List).aliases(&["pkg"]),
        Param::new("state", ParamType::Str).choices(&[
            "absent",
            "installed",
            "latest",
            "present",
            "removed",
        ]),
        Param::new("allow_downgrade", ParamType::Bool),
        Param::new("allowerasing", ParamType::Bool),
        Param::new("autoremove", ParamType::Bool),
        Param::new("best", ParamType::Bool),
        Param::new("bugfix", ParamType::Bool),
        Param::new("cacheonly", ParamType::Bool),
        Param::new("conf_file", ParamType::Str),
        Param::new("disable_excludes", ParamType::Str),
        Param::new("disable_gpg_check", ParamType::Bool),
        Param::new("disable_plugin", ParamType::List),
        Param::new("disablerepo", ParamType::List),
        Param::new("download_only", ParamType::Bool),
        Param::new("download_dir", ParamType::Str),
        Param::new("enable_plugin", ParamType::List),
        Param::new("enablerepo", ParamType::List),
        Param::new("exclude", ParamType::List),
        Param::new("installroot", ParamType::Str),
        Param::new("install_repoquery", ParamType::Bool),
        Param::new("install_weak_deps", ParamType::Bool),
        Param::new("list", ParamType::Str),
        Param::new("lock_timeout", ParamType::Int),
        Param::new("nobest", ParamType::Bool),
        Param::new("releasever", ParamType::Str),
        Param::new("security", ParamType::Bool),
        Param::new("skip_broken", ParamType::Bool),
        Param::new("sslverify", ParamType::Bool),
        Param::new("update_cache", ParamType::Bool).aliases(&["expire-cache"]),
        Param::new("update_only", ParamType::Bool),
        Param::new("validate_certs", ParamType::Bool),
        Param::new("use_backend", ParamType::Str)
            .choices(&["auto", "dnf", "yum", "yum4", "dnf4", "dnf5"]),
        Param::new("use", ParamType::Str),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[&["use", "use_backend"], &["name", "list"]],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Install, upgrade and remove RPM packages with the dnf command line.",
    check_note: "supported: only queries run (`rpm -q`, `dnf check-update` for `latest`), and \
                 the result names what would change",
    diff: DiffSupport::No,
    notes: &[
        "No Python dnf bindings on the target: what is installed comes from `rpm -q`, changes \
         are made by `dnf -y` (`dnf5`, or `yum` where dnf is absent), and `results` \
         (`Installed: …`, `Removed: …`) are the difference of `rpm -qa` before and after.",
        "`yum` is this module, as ansible-core redirects it.",
        "Refused: package groups and modules (`@…`), URLs and `list`. `lock_timeout`, \
         `install_repoquery` and `validate_certs` are accepted and ignored.",
    ],
};

/// The backends the dnf action accepts (`pkg_mgr` values).
const VALID_BACKENDS: &[&str] = &["yum", "yum4", "dnf", "dnf4", "dnf5"];

/// `rpm --queryformat` for one installed package: name, epoch (0 when
/// unset), version, release, arch.
pub const RPM_QF: &str = "%{NAME}\\t%|EPOCH?{%{EPOCH}}:{0}|\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n";

/// One line of [`RPM_QF`] output as dnf prints a package:
/// `name-[epoch:]version-release.arch` (the epoch only when not 0).
pub fn nevra(line: &str) -> Option<String> {
    let f: Vec<&str> = line.split('\t').collect();
    let [name, epoch, version, release, arch] = f.as_slice() else {
        return None;
    };
    if name.is_empty() {
        return None;
    }
    let epoch = match epoch.trim() {
        "" | "0" | "(none)" => String::new(),
        e => format!("{e}:"),
    };
    Some(format!("{name}-{epoch}{version}-{release}.{arch}"))
}

/// Every package `rpm -qa --qf RPM_QF` printed (not the `gpg-pubkey`
/// pseudo-packages imported keys show as).
pub fn parse_rpm_qa(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with("gpg-pubkey\t"))
        .filter_map(nevra)
        .collect()
}

/// Ansible's `results` for a transaction: what appeared (`Installed:`, or
/// `Downloaded:`) then what went away (`Removed:`).
pub fn transaction_results(
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
    install_word: &str,
) -> Vec<String> {
    let mut out: Vec<String> = after
        .difference(before)
        .map(|p| format!("{install_word}: {p}"))
        .collect();
    out.extend(before.difference(after).map(|p| format!("Removed: {p}")));
    out
}

/// What a `name` entry asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PkgSpec {
    /// A name, `name-version[-release]`, `name.arch`: `rpm -q` takes it.
    Plain(String),
    /// `name >= 1.2` and the like: a capability with a version.
    Provides(String),
    /// Shell-style wildcards: `rpm -qa` matches them.
    Glob(String),
    /// A local `.rpm` file on the target.
    File(String),
}

/// Sorts a `name` entry; groups, modules (`@...`) and URLs are refused.
pub fn parse_spec(s: &str) -> Result<PkgSpec, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("an empty package name was given".into());
    }
    if let Some(g) = s.strip_prefix('@') {
        return Err(format!(
            "hoist's dnf module does not manage groups, environments or modules (@{g}); \
             use a command task running `dnf group install`"
        ));
    }
    if s.contains("://") {
        return Err(format!(
            "hoist's dnf module does not download packages from URLs ({s}); \
             fetch it with get_url and install the local file"
        ));
    }
    if s.starts_with('/') && s.ends_with(".rpm") {
        return Ok(PkgSpec::File(s.to_owned()));
    }
    if ["<", ">", "="].iter().any(|op| s.contains(op)) {
        return Ok(PkgSpec::Provides(s.to_owned()));
    }
    if s.contains(['*', '?', '[']) {
        return Ok(PkgSpec::Glob(s.to_owned()));
    }
    Ok(PkgSpec::Plain(s.to_owned()))
}

/// The name part of `name-version[-release]` candidates, longest first:
/// every prefix that ends before a `-` followed by a digit.
pub fn name_candidates(spec: &str) -> Vec<String> {
    let b = spec.as_bytes();
    let mut out: Vec<String> = (1..b.len())
        .filter(|&i| b[i] == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        .map(|i| spec[..i].to_owned())
        .collect();
    out.reverse();
    out
}

/// Options of every dnf command, from the task's arguments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DnfOpts {
    pub conf_file: Option<String>,
    pub installroot: Option<String>,
    pub releasever: Option<String>,
    pub disable_gpg_check: bool,
    pub disablerepo: Vec<String>,
    pub enablerepo: Vec<String>,
    pub install_weak_deps: bool,
    pub exclude: Vec<String>,
    pub skip_broken: bool,
    pub best: Option<bool>,
    pub cacheonly: bool,
    pub disable_excludes: Option<String>,
    pub allowerasing: bool,
    pub security: bool,
    pub bugfix: bool,
    pub enable_plugin: Vec<String>,
    pub disable_plugin: Vec<String>,
    pub sslverify: bool,
    pub download_only: bool,
    pub download_dir: Option<String>,
    pub refresh: bool,
}

impl DnfOpts {
    /// The command line options (each one argv word: values never meet a
    /// shell).
    pub fn argv(&self) -> Vec<String> {
        let mut a = vec!["-y".to_owned()];
        if let Some(c) = &self.conf_file {
            a.push(format!("--config={c}"));
        }
        if let Some(r) = self.installroot.as_ref().filter(|r| *r != "/") {
            a.push(format!("--installroot={r}"));
        }
        if let Some(r) = &self.releasever {
            a.push(format!("--releasever={r}"));
        }
        if self.disable_gpg_check {
            a.push("--nogpgcheck".into());
        }
        // Disabled first, then enabled, as Ansible applies them.
        a.extend(
            self.disablerepo
                .iter()
                .map(|r| format!("--disablerepo={r}")),
        );
        a.extend(self.enablerepo.iter().map(|r| format!("--enablerepo={r}")));
        if !self.install_weak_deps {
            a.push("--setopt=install_weak_deps=False".into());
        }
        a.extend(self.exclude.iter().map(|e| format!("--exclude={e}")));
        if self.skip_broken {
            a.push("--skip-broken".into());
        }
        match self.best {
            Some(true) => a.push("--best".into()),
            Some(false) => a.push("--nobest".into()),
            None => {}
        }
        if self.cacheonly {
            a.push("--cacheonly".into());
        }
        if let Some(d) = &self.disable_excludes {
            a.push(format!("--disableexcludes={d}"));
        }
        if self.allowerasing {
            a.push("--allowerasing".into());
        }
        if self.security {
            a.push("--security".into());
        }
        if self.bugfix {
            a.push("--bugfix".into());
        }
        a.extend(
            self.enable_plugin
                .iter()
                .map(|p| format!("--enableplugin={p}")),
        );
        a.extend(
            self.disable_plugin
                .iter()
                .map(|p| format!("--disableplugin={p}")),
        );
        if !self.sslverify {
            a.push("--setopt=sslverify=False".into());
        }
        if self.download_only {
            a.push("--downloadonly".into());
            if let Some(d) = &self.download_dir {
                a.push(format!("--destdir={d}"));
            }
        }
        if self.refresh {
            a.push("--refresh".into());
        }
        a
    }
}

/// `bin [options] verb [--] specs…`.
pub fn command_argv(bin: &str, opts: &DnfOpts, verb: &str, specs: &[String]) -> Vec<String> {
    let mut a = vec![bin.to_owned()];
    a.extend(opts.argv());
    a.push(verb.to_owned());
    if !specs.is_empty() {
        a.push("--".to_owned());
        a.extend(specs.iter().cloned());
    }
    a
}

/// `rpm [--root R] …`.
fn rpm_argv(rpm: &str, root: &Option<String>, rest: &[&str]) -> Vec<String> {
    let mut a = vec![rpm.to_owned()];
    if let Some(r) = root.as_ref().filter(|r| *r != "/") {
        a.push("--root".into());
        a.push(r.clone());
    }
    a.extend(rest.iter().map(|s| (*s).to_owned()));
    a
}

fn strs(items: &[String]) -> Value {
    Value::from(
        items
            .iter()
            .map(|s| Value::from(s.as_str()))
            .collect::<Vec<_>>(),
    )
}

/// Ansible's successful result.
fn done(changed: bool, msg: &str, results: &[String]) -> Outcome {
    let mut o = Outcome::changed(changed);
    o.msg = Some(msg.to_owned());
    o.set("results", strs(results));
    o.set("rc", 0);
    o
}

/// Ansible's failure result (`failure_response`).
fn failed(msg: &str, failures: &[String], rc: i64) -> Outcome {
    let mut o = Outcome::failure(msg);
    o.set("failures", strs(failures));
    o.set("results", strs(&[]));
    o.set("rc", rc);
    o
}

/// A failure with only `results: []` (Ansible's `fail_json(msg, results=[])`).
fn refused(msg: &str) -> Outcome {
    let mut o = Outcome::failure(msg);
    o.set("results", strs(&[]));
    o
}

/// The backend the task asks for (`use`, `use_backend`), else the
/// `pkg_mgr` fact; gathered now (and then also returned, as Ansible's
/// action returns it as a fact) when that is not a dnf backend.
async fn backend(args: &Args, ctx: &ModuleCtx<'_>) -> Result<(String, bool), Outcome> {
    let mut chosen = args
        .str("use")
        .or_else(|| args.str("use_backend"))
        .unwrap_or_else(|| "auto".to_owned());
    if chosen == "auto" || chosen == "yum" {
        let facts = ctx.env.var("ansible_facts").ok().flatten();
        if let Some(m) = facts
            .and_then(|f| f.get_attr("pkg_mgr").ok())
            .filter(|v| !v.is_undefined() && !v.is_none())
        {
            chosen = m
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| m.to_string());
        }
    }
    if VALID_BACKENDS.contains(&chosen.as_str()) {
        return Ok((chosen, false));
    }
    let mut raw = IndexMap::new();
    raw.insert("gather_subset".to_owned(), Value::from(vec!["!all"]));
    raw.insert("filter".to_owned(), Value::from(vec!["ansible_pkg_mgr"]));
    let setup = &super::setup::Setup;
    let sargs = Args::bind(setup.spec(), &raw).map_err(Outcome::failure)?;
    let got = setup.run(&sargs, ctx).await.map_err(|e| {
        Outcome::failure(format!(
            "Failed to fetch ansible_pkg_mgr to determine the dnf action backend: {}",
            match e {
                ModuleError::Failed(m) | ModuleError::Unreachable(m) => m,
            }
        ))
    })?;
    Ok(
        match got
            .facts
            .get("ansible_pkg_mgr")
            .and_then(|v| v.as_str().map(str::to_owned))
        {
            Some(m) if m != "auto" => (m, true),
            _ => ("auto".to_owned(), false),
        },
    )
}

/// Ansible's answer when the host's package manager is not dnf or yum (a
/// tuple of two strings in ansible-core, shown as a list).
fn no_backend() -> Outcome {
    let mut o = Outcome {
        failed: true,
        ..Outcome::default()
    };
    o.set(
        "msg",
        Value::from(vec![
            Value::from(
                "Could not detect which major revision of dnf is in use, which is required \
                 to determine module backend.",
            ),
            Value::from(
                "You should manually specify use_backend to tell the module whether to use \
                 the dnf4 or dnf5 backend})",
            ),
        ]),
    );
    o
}

struct DnfRun<'a> {
    ctx: &'a ModuleCtx<'a>,
    bin: String,
    rpm: String,
    opts: DnfOpts,
}

impl DnfRun<'_> {
    async fn rpm(&self, rest: &[&str]) -> Result<Ran, ModuleError> {
        run(
            self.ctx,
            &rpm_argv(&self.rpm, &self.opts.installroot, rest),
            &[],
            true,
        )
        .await
    }

    /// Everything installed, as dnf names packages.
    async fn installed_set(&self) -> Result<BTreeSet<String>, ModuleError> {
        let r = self.rpm(&["-qa", "--qf", RPM_QF]).await?;
        Ok(parse_rpm_qa(&r.stdout))
    }

    /// Whether something installed matches the spec.
    async fn is_installed(&self, spec: &PkgSpec) -> Result<bool, ModuleError> {
        let r = match spec {
            PkgSpec::Plain(s) => self.rpm(&["-q", "--qf", RPM_QF, "--", s]).await?,
            PkgSpec::Provides(s) => {
                self.rpm(&["-q", "--qf", RPM_QF, "--whatprovides", "--", s])
                    .await?
            }
            PkgSpec::Glob(s) => self.rpm(&["-qa", "--qf", RPM_QF, "--", s]).await?,
            PkgSpec::File(f) => {
                let q = self
                    .rpm(&[
                        "-qp",
                        "--qf",
                        "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}",
                        "--",
                        f,
                    ])
                    .await?;
                if q.rc != 0 {
                    return Err(ModuleError::Failed(format!(
                        "cannot read the package file {f}: {}",
                        q.stderr.trim()
                    )));
                }
                self.rpm(&["-q", "--qf", RPM_QF, "--", q.stdout.trim()])
                    .await?
            }
        };
        Ok(r.rc == 0 && !parse_rpm_qa(&r.stdout).is_empty())
    }

    /// For `name-version`: whether another version of that name is
    /// installed (then, without allow_downgrade, dnf may only upgrade it).
    async fn other_version_installed(&self, spec: &str) -> Result<bool, ModuleError> {
        for name in name_candidates(spec) {
            let r = self.rpm(&["-q", "--qf", RPM_QF, "--", &name]).await?;
            if r.rc == 0 && !parse_rpm_qa(&r.stdout).is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether dnf has an update for installed packages (all when `specs`
    /// is empty): `check-update` exits 100 then.
    async fn has_update(&self, specs: &[String]) -> Result<bool, ModuleError> {
        let mut opts = self.opts.clone();
        opts.download_only = false;
        let mut argv = command_argv(&self.bin, &opts, "check-update", specs);
        argv.retain(|a| a != "-y");
        let r = run(self.ctx, &argv, &[], true).await?;
        Ok(r.rc == 100)
    }

    async fn dnf(&self, verb: &str, specs: &[String]) -> Result<Ran, ModuleError> {
        run(
            self.ctx,
            &command_argv(&self.bin, &self.opts, verb, specs),
            &[],
            false,
        )
        .await
    }
}

/// What a run would do.
#[derive(Default)]
struct Plan {
    install: Vec<String>,
    upgrade: Vec<String>,
    remove: Vec<String>,
    upgrade_all: bool,
    autoremove: bool,
    /// Results for specs that need nothing (`No match for argument: x`).
    notes: Vec<String>,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.install.is_empty()
            && self.upgrade.is_empty()
            && self.remove.is_empty()
            && !self.upgrade_all
            && !self.autoremove
    }
}

#[async_trait]
impl Module for Dnf {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let (backend, gathered) = match backend(args, ctx).await {
            Ok(b) => b,
            Err(o) => return Ok(o),
        };
        let mut out = if VALID_BACKENDS.contains(&backend.as_str()) {
            manage(&backend, args, ctx).await?
        } else {
            no_backend()
        };
        if gathered {
            // The fact the action gathered is the host's now.
            out.facts
                .insert("ansible_pkg_mgr".into(), Value::from(backend.as_str()));
            out.set("ansible_facts", vmap([("pkg_mgr", Value::from(backend))]));
        }
        Ok(out)
    }
}

/// The module proper, with its backend known.
async fn manage(backend: &str, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
    // dnf5 has its own command; dnf 4 (and yum, which is dnf now) is
    // `dnf`, else the old `yum`.
    let wanted: &[&str] = if backend == "dnf5" {
        &["dnf5"]
    } else {
        &["dnf", "yum"]
    };
    let mut bin = None;
    for w in wanted {
        if let Some(p) = find_bin(ctx, w).await? {
            bin = Some(p);
            break;
        }
    }
    let Some(bin) = bin else {
        return Ok(refused(&missing_bin(wanted[0])));
    };
    let Some(rpm) = find_bin(ctx, "rpm").await? else {
        return Ok(refused(&missing_bin("rpm")));
    };
    if let Some(l) = args.str("list") {
        return Ok(refused(&format!(
            "hoist's dnf module does not list packages (list={l}); use a command task \
             running `dnf list`"
        )));
    }

    let names = args.str_list("name").unwrap_or_default();
    let download_only = args.bool_or("download_only", false);
    let update_cache = args.bool_or("update_cache", false);
    let opts = DnfOpts {
        conf_file: args.str("conf_file"),
        installroot: args.str("installroot"),
        releasever: args.str("releasever"),
        disable_gpg_check: args.bool_or("disable_gpg_check", false),
        disablerepo: args.str_list("disablerepo").unwrap_or_default(),
        enablerepo: args.str_list("enablerepo").unwrap_or_default(),
        install_weak_deps: args.bool_or("install_weak_deps", true),
        exclude: args.str_list("exclude").unwrap_or_default(),
        skip_broken: args.bool_or("skip_broken", false),
        best: match (args.bool("best"), args.bool("nobest")) {
            (Some(b), _) => Some(b),
            (None, Some(nb)) => Some(!nb),
            (None, None) => None,
        },
        cacheonly: args.bool_or("cacheonly", false),
        disable_excludes: args.str("disable_excludes"),
        allowerasing: args.bool_or("allowerasing", false),
        security: args.bool_or("security", false),
        bugfix: args.bool_or("bugfix", false),
        enable_plugin: args.str_list("enable_plugin").unwrap_or_default(),
        disable_plugin: args.str_list("disable_plugin").unwrap_or_default(),
        sslverify: args.bool_or("sslverify", true),
        download_only,
        download_dir: args.str("download_dir"),
        refresh: update_cache,
    };
    let check = ctx.check_mode || ctx.predict;
    let d = DnfRun {
        ctx,
        bin,
        rpm,
        opts,
    };

    if update_cache && names.is_empty() {
        if !check {
            let mut o = d.opts.clone();
            o.refresh = false;
            let argv = command_argv(&d.bin, &o, "makecache", &[]);
            let r = run(ctx, &argv, &[], false).await?;
            if r.rc != 0 {
                return Ok(failed(
                    &format!("Failed to synchronize repodata: {}", r.stderr.trim()),
                    &[],
                    1,
                ));
            }
        }
        return Ok(done(false, "Cache updated", &[]));
    }

    if !download_only {
        let id = run(ctx, &["id".to_owned(), "-u".to_owned()], &[], true).await?;
        if id.stdout.trim() != "0" {
            return Ok(refused("This command has to be run under the root user."));
        }
    }

    let autoremove = args.bool_or("autoremove", false);
    let mut state = args.str("state").unwrap_or_else(|| "installed".to_owned());
    if names.is_empty() && autoremove {
        state = "absent".into();
    }
    let allow_downgrade = args.bool_or("allow_downgrade", false);
    let update_only = args.bool_or("update_only", false);

    let mut plan = Plan::default();
    if names == ["*"] && state == "latest" {
        plan.upgrade_all = !check || d.has_update(&[]).await?;
    } else {
        for n in &names {
            let spec = match parse_spec(n) {
                Ok(s) => s,
                Err(m) => return Ok(refused(&m)),
            };
            let installed = d.is_installed(&spec).await?;
            match state.as_str() {
                "absent" | "removed" => {
                    if let PkgSpec::File(_) = spec {
                        return Ok(refused(
                            "Cannot remove paths -- please specify package name.",
                        ));
                    }
                    if installed {
                        plan.remove.push(n.clone());
                    } else {
                        plan.notes.push(format!("No match for argument: {n}"));
                    }
                }
                "latest" => {
                    if installed {
                        if !check || d.has_update(std::slice::from_ref(n)).await? {
                            plan.upgrade.push(n.clone());
                        }
                    } else if !update_only {
                        plan.install.push(n.clone());
                    }
                }
                _ => {
                    if installed {
                        continue;
                    }
                    match &spec {
                        PkgSpec::Plain(s)
                            if !allow_downgrade && d.other_version_installed(s).await? =>
                        {
                            // Ansible installs an older version only with
                            // allow_downgrade; a newer one is an upgrade.
                            plan.upgrade.push(n.clone())
                        }
                        _ => plan.install.push(n.clone()),
                    }
                }
            }
        }
        if autoremove && matches!(state.as_str(), "absent" | "removed") {
            plan.autoremove = true;
        }
    }

    if plan.is_empty() {
        return Ok(done(false, "Nothing to do", &plan.notes));
    }
    let install_word = if download_only {
        "Downloaded"
    } else {
        "Installed"
    };
    if check {
        // What dnf would resolve is not known without running it: the
        // results name the specs.
        let mut results = plan.notes.clone();
        results.extend(
            plan.install
                .iter()
                .chain(&plan.upgrade)
                .map(|p| format!("{install_word}: {p}")),
        );
        results.extend(plan.remove.iter().map(|p| format!("Removed: {p}")));
        let mut o = done(
            true,
            "Check mode: No changes made, but would have if not in check mode",
            &results,
        );
        if plan.autoremove && plan.remove.is_empty() {
            // Autoremove alone: nothing predicts it from rpm alone.
            o.changed = false;
            o.msg = Some("Nothing to do".into());
        }
        return Ok(o);
    }

    let before = d.installed_set().await?;
    let mut failures = Vec::new();
    let mut rc = 0;
    let mut steps: Vec<(&str, Vec<String>)> = Vec::new();
    if plan.upgrade_all {
        steps.push(("upgrade", Vec::new()));
    }
    if !plan.upgrade.is_empty() {
        steps.push(("upgrade", plan.upgrade.clone()));
    }
    if !plan.install.is_empty() {
        steps.push(("install", plan.install.clone()));
    }
    if !plan.remove.is_empty() {
        steps.push(("remove", plan.remove.clone()));
    }
    if plan.autoremove {
        steps.push(("autoremove", Vec::new()));
    }
    for (verb, specs) in &steps {
        let r = d.dnf(verb, specs).await?;
        if r.rc != 0 {
            rc = r.rc;
            let text = if r.stderr.trim().is_empty() {
                r.stdout.trim()
            } else {
                r.stderr.trim()
            };
            failures.push(format!("{} {}", specs.join(" "), text).trim().to_owned());
        }
    }
    let after = if download_only {
        before.clone()
    } else {
        d.installed_set().await?
    };
    if !failures.is_empty() {
        let msg = if matches!(state.as_str(), "absent" | "removed") {
            "Failed to remove some of the specified packages"
        } else {
            "Failed to install some of the specified packages"
        };
        return Ok(failed(msg, &failures, i64::from(rc.max(1) as i32)));
    }
    let mut results = plan.notes.clone();
    if download_only {
        results.extend(
            plan.install
                .iter()
                .chain(&plan.upgrade)
                .map(|p| format!("Downloaded: {p}")),
        );
    } else {
        results.extend(transaction_results(&before, &after, install_word));
    }
    let changed = download_only || before != after;
    Ok(done(
        changed,
        if changed { "" } else { "Nothing to do" },
        &results,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rpm_lines_print_as_dnf_packages() {
        assert_eq!(
            nevra("bash\t0\t5.1.8\t9.el9\tx86_64").as_deref(),
            Some("bash-5.1.8-9.el9.x86_64")
        );
        assert_eq!(
            nevra("perl-Errno\t1\t1.30\t480.el9\tx86_64").as_deref(),
            Some("perl-Errno-1:1.30-480.el9.x86_64")
        );
        assert_eq!(nevra("broken line"), None);
        let qa = "bash\t0\t5.1.8\t9.el9\tx86_64\n\
                  gpg-pubkey\t0\tfd431d51\t4ae0493b\t(none)\n\
                  tzdata\t0\t2024a\t1.el9\tnoarch\n";
        assert_eq!(
            parse_rpm_qa(qa),
            set(&["bash-5.1.8-9.el9.x86_64", "tzdata-2024a-1.el9.noarch"])
        );
    }

    #[test]
    fn results_say_what_the_transaction_did() {
        let before = set(&["a-1-1.x86_64", "b-1-1.noarch", "keep-1-1.noarch"]);
        let after = set(&["a-2-1.x86_64", "c-1.0-1.x86_64", "keep-1-1.noarch"]);
        assert_eq!(
            transaction_results(&before, &after, "Installed"),
            [
                "Installed: a-2-1.x86_64",
                "Installed: c-1.0-1.x86_64",
                "Removed: a-1-1.x86_64",
                "Removed: b-1-1.noarch"
            ]
        );
        assert!(transaction_results(&before, &before, "Installed").is_empty());
    }

    #[test]
    fn specs_are_sorted_and_groups_refused() {
        assert_eq!(parse_spec("httpd"), Ok(PkgSpec::Plain("httpd".into())));
        assert_eq!(
            parse_spec("httpd >= 2.4"),
            Ok(PkgSpec::Provides("httpd >= 2.4".into()))
        );
        assert_eq!(parse_spec("kernel-*"), Ok(PkgSpec::Glob("kernel-*".into())));
        assert_eq!(
            parse_spec("/tmp/a b.rpm"),
            Ok(PkgSpec::File("/tmp/a b.rpm".into()))
        );
        assert!(
            parse_spec("@Development Tools")
                .unwrap_err()
                .contains("groups")
        );
        assert!(parse_spec("https://x/y.rpm").is_err());
        assert!(parse_spec(" ").is_err());
    }

    #[test]
    fn versioned_names_split_before_a_digit() {
        assert_eq!(
            name_candidates("python3-libs-3.9.18-1.el9"),
            ["python3-libs-3.9.18", "python3-libs"]
        );
        assert!(name_candidates("httpd").is_empty());
        assert!(name_candidates("lib-foo").is_empty());
    }

    #[test]
    fn argv_keeps_every_value_one_word() {
        let opts = DnfOpts {
            conf_file: Some("/etc/my dnf.conf".into()),
            installroot: Some("/".into()),
            disable_gpg_check: true,
            disablerepo: vec!["*".into()],
            enablerepo: vec!["local $repo".into()],
            install_weak_deps: false,
            sslverify: true,
            refresh: true,
            ..DnfOpts::default()
        };
        assert_eq!(
            command_argv(
                "/usr/bin/dnf",
                &opts,
                "install",
                &["it's".into(), "-x".into()]
            ),
            [
                "/usr/bin/dnf",
                "-y",
                "--config=/etc/my dnf.conf",
                "--nogpgcheck",
                "--disablerepo=*",
                "--enablerepo=local $repo",
                "--setopt=install_weak_deps=False",
                "--refresh",
                "install",
                "--",
                "it's",
                "-x"
            ]
        );
        let plain = DnfOpts {
            install_weak_deps: true,
            sslverify: true,
            ..DnfOpts::default()
        };
        assert_eq!(
            command_argv("dnf", &plain, "autoremove", &[]),
            ["dnf", "-y", "autoremove"]
        );
        assert_eq!(
            rpm_argv("/usr/bin/rpm", &Some("/mnt/root".into()), &["-qa"]),
            ["/usr/bin/rpm", "--root", "/mnt/root", "-qa"]
        );
    }
}
