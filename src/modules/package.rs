//! `package`: the generic package module. As Ansible's action plugin does,
//! it picks the backend from `use`, then `ansible_package_use`, then the
//! `pkg_mgr` fact (gathering just that fact when facts were not gathered),
//! and runs that module with the task's other arguments. hoist has the
//! `apt` and `dnf` (also for `yum` and `dnf5`) backends; any other package
//! manager is refused by name.

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};

pub struct Package;

static SPEC: ModuleSpec = ModuleSpec {
    name: "package",
    params: &[
        Param::new("name", ParamType::List).required(),
        Param::new("state", ParamType::Str).required(),
        Param::new("use", ParamType::Str),
        // Ansible hands every other argument to the backend, so apt's own
        // options work through package too (apt validates them).
        Param::new("update_cache", ParamType::Raw).aliases(&["update-cache"]),
        Param::new("update_cache_retries", ParamType::Raw),
        Param::new("update_cache_retry_max_delay", ParamType::Raw),
        Param::new("cache_valid_time", ParamType::Raw),
        Param::new("purge", ParamType::Raw),
        Param::new("deb", ParamType::Raw),
        Param::new("default_release", ParamType::Raw).aliases(&["default-release"]),
        Param::new("install_recommends", ParamType::Raw).aliases(&["install-recommends"]),
        Param::new("force", ParamType::Raw),
        Param::new("upgrade", ParamType::Raw),
        Param::new("dpkg_options", ParamType::Raw),
        Param::new("autoremove", ParamType::Raw),
        Param::new("autoclean", ParamType::Raw),
        Param::new("fail_on_autoremove", ParamType::Raw),
        Param::new("policy_rc_d", ParamType::Raw),
        Param::new("only_upgrade", ParamType::Raw),
        Param::new("force_apt_get", ParamType::Raw),
        Param::new("clean", ParamType::Raw),
        Param::new("allow_unauthenticated", ParamType::Raw).aliases(&["allow-unauthenticated"]),
        Param::new("allow_downgrade", ParamType::Raw).aliases(&[
            "allow-downgrade",
            "allow_downgrades",
            "allow-downgrades",
        ]),
        Param::new("allow_change_held_packages", ParamType::Raw),
        Param::new("lock_timeout", ParamType::Raw),
        Param::new("auto_install_module_deps", ParamType::Raw),
        // dnf's own options.
        Param::new("allowerasing", ParamType::Raw),
        Param::new("best", ParamType::Raw),
        Param::new("bugfix", ParamType::Raw),
        Param::new("cacheonly", ParamType::Raw),
        Param::new("conf_file", ParamType::Raw),
        Param::new("disable_excludes", ParamType::Raw),
        Param::new("disable_gpg_check", ParamType::Raw),
        Param::new("disable_plugin", ParamType::Raw),
        Param::new("disablerepo", ParamType::Raw),
        Param::new("download_dir", ParamType::Raw),
        Param::new("download_only", ParamType::Raw),
        Param::new("enable_plugin", ParamType::Raw),
        Param::new("enablerepo", ParamType::Raw),
        Param::new("exclude", ParamType::Raw),
        Param::new("install_weak_deps", ParamType::Raw),
        Param::new("installroot", ParamType::Raw),
        Param::new("nobest", ParamType::Raw),
        Param::new("releasever", ParamType::Raw),
        Param::new("security", ParamType::Raw),
        Param::new("skip_broken", ParamType::Raw),
        Param::new("sslverify", ParamType::Raw),
        Param::new("update_only", ParamType::Raw),
        Param::new("validate_certs", ParamType::Raw),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Install or remove packages with the host's package manager (apt or dnf).",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "The backend comes from `use`, `ansible_package_use` or the `pkg_mgr` fact (gathered \
         when facts were not): `apt`, or `dnf` for dnf, dnf5 and yum; any other package \
         manager is refused. Every other parameter goes to the backend, which checks it.",
    ],
};

/// The package managers hoist has a module for.
const BACKENDS: &[&str] = &["apt", "dnf", "dnf5", "yum"];

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

/// Which backend to use: `use`, `ansible_package_use`, the `pkg_mgr` fact,
/// or the fact gathered now.
async fn backend(args: &Args, ctx: &ModuleCtx<'_>) -> Result<String, Outcome> {
    let chosen = args.str("use").filter(|u| !u.is_empty() && u != "auto");
    if let Some(u) = chosen {
        return Ok(u);
    }
    if let Some(u) = text(ctx.env.var("ansible_package_use").ok().flatten()) {
        return Ok(u);
    }
    let facts = ctx.env.var("ansible_facts").ok().flatten();
    if let Some(m) = text(facts.and_then(|f| f.get_attr("pkg_mgr").ok())) {
        return Ok(m);
    }
    // No facts: gather only pkg_mgr, as Ansible runs setup for it.
    let mut raw = IndexMap::new();
    raw.insert("gather_subset".to_owned(), Value::from(vec!["!all"]));
    raw.insert("filter".to_owned(), Value::from(vec!["ansible_pkg_mgr"]));
    let setup = &super::setup::Setup;
    let sargs = Args::bind(setup.spec(), &raw).map_err(Outcome::failure)?;
    let got = match setup.run(&sargs, ctx).await {
        Ok(o) => o,
        Err(e) => {
            let msg = match e {
                super::ModuleError::Failed(m) | super::ModuleError::Unreachable(m) => m,
            };
            return Err(Outcome::failure(format!(
                "Failed to fetch ansible_pkg_mgr to determine the package action backend: {msg}"
            )));
        }
    };
    if got.failed {
        return Err(Outcome::failure(format!(
            "Failed to fetch ansible_pkg_mgr to determine the package action backend: {}",
            got.msg.unwrap_or_default()
        )));
    }
    match text(got.facts.get("ansible_pkg_mgr").cloned()) {
        Some(m) => Ok(m),
        None => Err(Outcome::failure(
            "Could not detect a package manager. Try using the \"use\" option.",
        )),
    }
}

#[async_trait]
impl Module for Package {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let name = match backend(args, ctx).await {
            Ok(n) => n,
            Err(o) => return Ok(o),
        };
        let short = name
            .strip_prefix("ansible.builtin.")
            .or_else(|| name.strip_prefix("ansible.legacy."))
            .unwrap_or(&name)
            .to_owned();
        if !BACKENDS.contains(&short.as_str()) {
            return Ok(Outcome::failure(format!(
                "The package module cannot manage packages with \"{name}\": hoist has a module \
                 only for {} (set \"use\" to one of them, or use a command task)",
                BACKENDS.join(", ")
            )));
        }
        // dnf5 and yum are the dnf module (which finds its backend itself).
        let short = match short.as_str() {
            "dnf5" | "yum" => "dnf".to_owned(),
            _ => short,
        };
        let Some(module) = super::lookup(&short) else {
            return Ok(Outcome::failure(format!(
                "Could not find a matching action for the \"{name}\" package manager."
            )));
        };
        let mut raw = IndexMap::new();
        for p in SPEC.params.iter().filter(|p| p.name != "use") {
            if let Some(v) = args.get(p.name) {
                raw.insert(p.name.to_owned(), v.clone());
            }
        }
        let bargs = match Args::bind(module.spec(), &raw) {
            Ok(a) => a,
            Err(e) => return Ok(Outcome::failure(e)),
        };
        module.run(&bargs, ctx).await
    }
}
