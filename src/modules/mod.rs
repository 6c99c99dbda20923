//! Task modules. Every module is one file here, implements [`Module`], and
//! is listed in [`registry`]. Modules run on the controller and touch the
//! target only through [`Connection`], so each works the same locally and
//! over SSH.
//!
//! A module declares its parameters in a [`ModuleSpec`]; the loader uses the
//! spec to refuse unknown, missing or mistyped parameters before anything
//! runs, and the executor uses it to bind templated values into [`Args`].

use std::path::PathBuf;

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use minijinja::value::ValueKind;

use crate::connection::{ConnError, ConnErrorKind, Connection};

pub mod apt;
pub mod apt_repository;
pub mod args;
pub mod assemble;
pub mod assert;
pub mod authorized_key;
pub mod blockinfile;
pub mod command;
pub mod copy;
pub mod cron;
pub mod debug;
pub mod dnf;
pub mod fail;
pub mod fetch;
pub mod file;
pub mod find;
pub mod get_url;
pub mod getent;
pub mod git;
pub mod group;
pub mod hostname;
pub mod http;
pub mod include;
pub mod include_vars;
pub mod ini_file;
pub mod inventory_mod;
pub mod known_hosts;
pub mod lineinfile;
pub mod meta;
pub mod package;
pub mod pause;
pub mod ping;
pub mod raw;
pub mod reboot;
pub mod reference;
pub mod replace;
pub mod script;
pub mod service;
pub mod set_fact;
pub mod setup;
pub mod shell;
pub mod slurp;
pub mod stat;
pub mod sysctl;
pub mod sysexec;
pub mod tempfile;
pub mod template;
pub mod unarchive;
pub mod uri;
pub mod user;
pub mod validate_argument_spec;
pub mod wait_for;
pub mod wait_for_connection;

pub use args::Args;

/// The declared type of a parameter. Values are coerced as Ansible's
/// argument spec does (`"yes"` is a valid bool, `8` a valid str …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    Str,
    Bool,
    Int,
    Float,
    /// A string with `~` expanded on the target.
    Path,
    /// A list; a comma-separated string is split.
    List,
    Dict,
    /// Octal int (`0644` in YAML is already 420) or a string (`"0644"`, `"u+rw"`).
    Mode,
    /// Anything, unconverted.
    Raw,
}

impl ParamType {
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Str => "str",
            ParamType::Bool => "bool",
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Path => "path",
            ParamType::List => "list",
            ParamType::Dict => "dict",
            ParamType::Mode => "raw",
            ParamType::Raw => "raw",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub ty: ParamType,
    pub required: bool,
    /// Allowed values for str params (empty: anything).
    pub choices: &'static [&'static str],
}

impl Param {
    pub const fn new(name: &'static str, ty: ParamType) -> Param {
        Param {
            name,
            aliases: &[],
            ty,
            required: false,
            choices: &[],
        }
    }
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Param {
        self.aliases = aliases;
        self
    }
    pub const fn required(mut self) -> Param {
        self.required = true;
        self
    }
    pub const fn choices(mut self, choices: &'static [&'static str]) -> Param {
        self.choices = choices;
        self
    }
}

/// How a module takes a free-form string (`command: ls -l`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeForm {
    /// Only `k=v` pairs are accepted in string form.
    None,
    /// The text goes to `_raw_params`; `k=v` pairs whose key is one of the
    /// module's parameters are taken out first (command, shell).
    Raw,
    /// The whole text goes to the named parameter (`fail: msg`, `meta: flush_handlers`).
    Whole(&'static str),
}

/// What `--diff` shows for a module (for the module reference).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffSupport {
    /// Nothing.
    No,
    /// What the module changed (or would change).
    Yes,
    /// Only what the text says.
    Partly(&'static str),
}

#[derive(Debug)]
pub struct ModuleSpec {
    pub name: &'static str,
    pub params: &'static [Param],
    pub free_form: FreeForm,
    /// Each group: at most one of these may be given.
    pub mutually_exclusive: &'static [&'static [&'static str]],
    /// Each group: at least one of these must be given.
    pub required_one_of: &'static [&'static [&'static str]],
    /// Whether the module can predict its changes in check mode. Modules that
    /// cannot are skipped in check mode, as in Ansible.
    pub check_mode: bool,
    /// Runs on the controller without touching the host (debug, set_fact…).
    pub controller_only: bool,
    /// What the module does, in one line (`hoist doc --list`, the module
    /// reference in docs/modules.md).
    pub summary: &'static str,
    /// How the module behaves in check mode, when the generic words
    /// (supported, predicted, skipped) would not say it; empty otherwise.
    pub check_note: &'static str,
    /// What `--diff` shows for the module.
    pub diff: DiffSupport,
    /// Where hoist's module differs from Ansible's or goes beyond it: one
    /// Markdown paragraph each, in the module reference.
    pub notes: &'static [&'static str],
}

impl ModuleSpec {
    /// The parameter a name or alias refers to.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params
            .iter()
            .find(|p| p.name == name || p.aliases.contains(&name))
    }

    /// Every accepted name, aliases included (for "did you mean").
    pub fn all_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.params
            .iter()
            .flat_map(|p| std::iter::once(p.name).chain(p.aliases.iter().copied()))
    }
}

/// A unified diff to show for one object the task changed (or would).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileDiff {
    pub before_header: String,
    pub after_header: String,
    pub before: String,
    pub after: String,
}

/// The headers that mark a [`FileDiff`] as prepared text (Ansible's
/// `diff: {prepared: ...}`), shown as it is instead of as a unified diff.
const PREPARED: &str = "\u{0}prepared";

impl FileDiff {
    /// Text a module prepared itself (git's `git diff`, unarchive's
    /// itemized changes), shown as it is.
    pub fn prepared(text: impl Into<String>) -> FileDiff {
        FileDiff {
            before_header: PREPARED.into(),
            after_header: PREPARED.into(),
            before: String::new(),
            after: text.into(),
        }
    }

    /// The prepared text, when this diff is one.
    pub fn prepared_text(&self) -> Option<&str> {
        (self.before_header == PREPARED && self.after_header == PREPARED)
            .then_some(self.after.as_str())
    }
}

/// What a module run produced.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub changed: bool,
    pub failed: bool,
    pub skipped: bool,
    pub msg: Option<String>,
    /// Module-specific return values (`rc`, `stdout`, `path`, `stat` …).
    pub data: IndexMap<String, Value>,
    pub diffs: Vec<FileDiff>,
    /// Variables to set on the host (`set_fact`, `ansible_facts`).
    pub facts: IndexMap<String, Value>,
}

impl Outcome {
    pub fn changed(changed: bool) -> Outcome {
        Outcome {
            changed,
            ..Outcome::default()
        }
    }
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Outcome {
        self.data.insert(key.to_owned(), value.into());
        self
    }
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.data.insert(key.to_owned(), value.into());
    }
    pub fn failure(msg: impl Into<String>) -> Outcome {
        Outcome {
            failed: true,
            msg: Some(msg.into()),
            ..Outcome::default()
        }
    }
}

/// A module could not do its job.
#[derive(Clone, Debug)]
pub enum ModuleError {
    /// The task fails on this host with this message.
    Failed(String),
    /// The host stopped answering.
    Unreachable(String),
}

impl From<ConnError> for ModuleError {
    fn from(e: ConnError) -> ModuleError {
        match e.kind {
            ConnErrorKind::Unreachable => ModuleError::Unreachable(e.msg),
            ConnErrorKind::Failed => ModuleError::Failed(e.msg),
        }
    }
}

impl From<String> for ModuleError {
    fn from(e: String) -> ModuleError {
        ModuleError::Failed(e)
    }
}

pub type ModuleResult = Result<Outcome, ModuleError>;

/// What the executor offers a module besides the connection: templating with
/// the task's variables and the controller-side search paths.
pub trait TaskEnv: Send + Sync {
    /// Evaluates a bare Jinja expression (`debug: var=`, `assert: that=`).
    fn eval(&self, expr: &str) -> Result<Value, String>;
    /// Evaluates a conditional as `when:` does.
    fn cond(&self, expr: &str) -> Result<bool, String>;
    /// Renders a whole template file's text (read from `file`) with the
    /// task's variables plus `extra` ones (template_path, ansible_managed …);
    /// templates it includes are searched for as Ansible does.
    fn render_template(
        &self,
        text: &str,
        extra: &[(&str, Value)],
        file: &std::path::Path,
    ) -> Result<String, String>;
    /// Finds a controller-side file for `src:` the way Ansible does: relative
    /// to the role's or playbook's `kind` directory (`files`, `templates`),
    /// then the directory itself. Absolute paths are returned as they are.
    fn find_file(&self, kind: &str, name: &str) -> Option<PathBuf>;
    /// The templated value of the variable `name`, if it is one of the
    /// task's variables (`validate_argument_spec` reads options from them).
    fn var(&self, name: &str) -> Result<Option<Value>, String>;
}

/// Everything a module run may use.
pub struct ModuleCtx<'a> {
    pub conn: &'a dyn Connection,
    pub check_mode: bool,
    /// Check mode by prediction: `conn` is an overlay that keeps every
    /// write in memory, and the module runs its real logic against it
    /// (`check_mode` is false then). Modules must not run commands that could
    /// change the host, such as `validate`, while predicting.
    pub predict: bool,
    pub diff: bool,
    pub host: &'a str,
    pub env: &'a dyn TaskEnv,
}

#[async_trait]
pub trait Module: Send + Sync {
    fn spec(&self) -> &'static ModuleSpec;
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult;
}

static MODULES: &[&dyn Module] = &[
    &apt::Apt,
    &apt_repository::AptRepository,
    &assemble::Assemble,
    &assert::Assert,
    &authorized_key::AuthorizedKey,
    &blockinfile::BlockInFile,
    &command::Command,
    &copy::Copy,
    &cron::Cron,
    &debug::Debug,
    &dnf::Dnf,
    &fail::Fail,
    &fetch::Fetch,
    &file::File,
    &get_url::GetUrl,
    &getent::Getent,
    &git::Git,
    &group::Group,
    &find::Find,
    &hostname::Hostname,
    &include::ImportRole,
    &include::ImportTasks,
    &include::IncludeRole,
    &include::IncludeTasks,
    &include_vars::IncludeVars,
    &ini_file::IniFile,
    &inventory_mod::AddHost,
    &inventory_mod::GroupBy,
    &known_hosts::KnownHostsModule,
    &lineinfile::LineInFile,
    &meta::Meta,
    &pause::Pause,
    &ping::Ping,
    &package::Package,
    &service::Service,
    &service::Systemd,
    &service::SystemdService,
    &raw::Raw,
    &reboot::Reboot,
    &replace::Replace,
    &script::Script,
    &set_fact::SetFact,
    &setup::Setup,
    &shell::Shell,
    &slurp::Slurp,
    &stat::Stat,
    &sysctl::Sysctl,
    &template::Template,
    &unarchive::Unarchive,
    &uri::Uri,
    &user::User,
    &tempfile::TempFile,
    &validate_argument_spec::ValidateArgumentSpec,
    &wait_for::WaitFor,
    &wait_for_connection::WaitForConnection,
];

/// Modules from collections other than ansible.builtin, by full name.
static COLLECTION_MODULES: &[(&str, &str)] = &[
    ("community.general.ini_file", "ini_file"),
    ("ansible.posix.sysctl", "sysctl"),
    ("ansible.posix.authorized_key", "authorized_key"),
];

/// Modules ansible-core redirects to another one (`yum` is `dnf` since 2.17).
static REDIRECTS: &[(&str, &str)] = &[("yum", "dnf")];

/// Every module hoist knows.
pub fn registry() -> &'static [&'static dyn Module] {
    MODULES
}

/// Finds a module by short name or by `ansible.builtin.`/`ansible.legacy.` name.
pub fn lookup(name: &str) -> Option<&'static dyn Module> {
    let short = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .or_else(|| {
            // Collection modules hoist implements, by their full names.
            COLLECTION_MODULES
                .iter()
                .find(|(full, _)| *full == name)
                .map(|(_, short)| *short)
        })
        .unwrap_or(name);
    let short = REDIRECTS
        .iter()
        .find(|(from, _)| *from == short)
        .map_or(short, |(_, to)| *to);
    MODULES.iter().copied().find(|m| m.spec().name == short)
}

/// The collection a module belongs to in Ansible (`ansible.builtin`,
/// `ansible.posix` …), and so its fully qualified name's prefix.
pub fn collection_of(short: &str) -> &'static str {
    COLLECTION_MODULES
        .iter()
        .find(|(_, s)| *s == short)
        .and_then(|(full, _)| full.rsplit_once('.'))
        .map_or("ansible.builtin", |(coll, _)| coll)
}

/// Every name `lookup` resolves to the module `short`: the short name, its
/// `ansible.builtin.`/`ansible.legacy.` forms, collection names and the
/// names ansible-core redirects to it (`yum` for `dnf`).
pub fn names_of(short: &str) -> Vec<String> {
    let mut bare = vec![short];
    bare.extend(
        REDIRECTS
            .iter()
            .filter(|(_, to)| *to == short)
            .map(|(from, _)| *from),
    );
    let mut names: Vec<String> = Vec::new();
    for b in bare {
        names.push(b.to_owned());
        names.push(format!("ansible.builtin.{b}"));
        names.push(format!("ansible.legacy.{b}"));
    }
    names.extend(
        COLLECTION_MODULES
            .iter()
            .filter(|(_, s)| *s == short)
            .map(|(full, _)| (*full).to_owned()),
    );
    names.retain(|n| lookup(n).is_some_and(|m| m.spec().name == short));
    names
}

/// Every name a module can be called by (for "did you mean").
pub fn all_names() -> Vec<String> {
    MODULES
        .iter()
        .flat_map(|m| {
            let n = m.spec().name;
            [n.to_owned(), format!("ansible.builtin.{n}")]
        })
        .chain(
            COLLECTION_MODULES
                .iter()
                .map(|(full, _)| (*full).to_owned()),
        )
        .chain(
            REDIRECTS
                .iter()
                .flat_map(|(from, _)| [(*from).to_owned(), format!("ansible.builtin.{from}")]),
        )
        .collect()
}

/// True when a value is a string (of any flavour).
pub fn is_string(v: &Value) -> bool {
    v.kind() == ValueKind::String
}

/// Helpers for module unit tests: a real [`crate::template::VarScope`] as the
/// task environment, files looked up under a base directory, and the real
/// local connection.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use indexmap::IndexMap;
    use minijinja::Value;

    use super::*;
    use crate::connection::local::LocalConnection;
    use crate::template::{Templar, VarScope};

    pub struct TestEnv {
        pub scope: Arc<VarScope>,
        pub base: PathBuf,
    }

    impl TestEnv {
        pub fn new(base: &Path, vars: &[(&str, Value)]) -> TestEnv {
            let vars = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            TestEnv {
                scope: VarScope::new(Arc::new(Templar::new()), vars),
                base: base.to_path_buf(),
            }
        }
    }

    impl TaskEnv for TestEnv {
        fn eval(&self, expr: &str) -> Result<Value, String> {
            self.scope.eval(expr)
        }
        fn cond(&self, expr: &str) -> Result<bool, String> {
            self.scope.cond(expr)
        }
        fn render_template(
            &self,
            text: &str,
            extra: &[(&str, Value)],
            file: &Path,
        ) -> Result<String, String> {
            let scope = self
                .scope
                .with_extra(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
            let mut search = vec![self.base.clone()];
            search.extend(file.parent().map(Path::to_path_buf));
            scope.render_file(text, &search)
        }
        fn var(&self, name: &str) -> Result<Option<Value>, String> {
            self.scope.var(name)
        }
        fn find_file(&self, kind: &str, name: &str) -> Option<PathBuf> {
            let p = Path::new(name);
            if p.is_absolute() {
                return Some(p.to_path_buf());
            }
            [self.base.join(kind).join(name), self.base.join(name)]
                .into_iter()
                .find(|c| c.exists())
        }
    }

    /// Binds `args` (YAML mapping text) for `module` and runs it locally.
    pub async fn run(
        module: &dyn Module,
        yaml_args: &str,
        env: &TestEnv,
        check: bool,
        diff: bool,
    ) -> ModuleResult {
        let node = crate::yaml::load_str(yaml_args, "<test>")
            .map_err(|d| ModuleError::Failed(d.to_string()))?;
        let value = node
            .to_value()
            .map_err(|d| ModuleError::Failed(d.to_string()))?;
        let mut raw = IndexMap::new();
        if let Ok(keys) = value.try_iter() {
            for k in keys {
                let v = value.get_item(&k).unwrap_or_default();
                raw.insert(k.to_string(), v);
            }
        }
        let args = Args::bind(module.spec(), &raw)?;
        let conn = LocalConnection;
        let ctx = ModuleCtx {
            conn: &conn,
            check_mode: check,
            predict: false,
            diff,
            host: "localhost",
            env,
        };
        module.run(&args, &ctx).await
    }
}
