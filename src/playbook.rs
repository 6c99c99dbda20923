//! The playbook model and its loader. Loading validates everything that can
//! be checked before a connection is made (keywords, modules, parameters,
//! handler names, Jinja syntax) and reports every problem at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::Value;
use minijinja::value::ValueKind;

use crate::error::{Diagnostic, Diagnostics, Span};
use crate::modules::{self, FreeForm, Module, ParamType};
use crate::template::{Templar, is_template};
use crate::yaml::{Node, NodeKind};

#[derive(Debug)]
pub struct Playbook {
    pub path: PathBuf,
    /// The playbook's directory (`playbook_dir`).
    pub dir: PathBuf,
    pub plays: Vec<Play>,
}

#[derive(Clone, Debug, Default)]
pub struct Play {
    pub name: String,
    pub span: Option<Span>,
    /// The host pattern (a list is joined with `,`).
    pub hosts: String,
    pub vars: IndexMap<String, Value>,
    /// Where each of `vars` is set (its key).
    pub vars_at: IndexMap<String, Span>,
    /// Each entry: candidate file names (the first that exists is used).
    pub vars_files: Vec<(Vec<String>, Span)>,
    pub pre_tasks: Vec<Item>,
    /// `roles:` — run before `tasks`, in the same section.
    pub roles: Vec<Item>,
    pub tasks: Vec<Item>,
    pub post_tasks: Vec<Item>,
    /// `batch_check:` (a hoist keyword): tasks run on every host of a
    /// batch after its tasks and handlers; a failure stops the play
    /// before the next batch.
    pub batch_check: Vec<Item>,
    pub handlers: Vec<Task>,
    pub gather_facts: Option<Value>,
    pub connection: Option<String>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub tags: Vec<String>,
    pub environment: Option<Value>,
    pub ignore_errors: Option<Value>,
    pub no_log: Option<Value>,
    pub any_errors_fatal: bool,
    pub force_handlers: bool,
    /// The play sets `force_handlers` itself, so `--force-handlers` (its
    /// default) does not apply.
    pub force_handlers_set: bool,
    /// `run_once:` for every task of the play that sets none.
    pub run_once: Option<Value>,
    pub become_: Option<Value>,
    pub become_user: Option<Value>,
    pub become_method: Option<Value>,
    pub become_flags: Option<Value>,
    pub remote_user: Option<Value>,
    /// The playbook file this play came from (for `playbook_dir`).
    pub dir: PathBuf,
    /// `serial:` batch sizes.
    pub serial: Option<Value>,
    /// `vars_prompt:` entries.
    pub prompts: Vec<VarPrompt>,
    /// `max_fail_percentage:` of a batch that may fail before the play stops.
    pub max_fail_percentage: Option<f64>,
    /// `max_failures:` (a hoist keyword): how many of the play's hosts, in
    /// all its batches, may fail before the play stops.
    pub max_failures: Option<u64>,
    /// `order:` — the order the play's hosts run in (and batches are cut).
    pub order: HostOrder,
    /// `throttle:` for every task of the play that sets none.
    pub throttle: Option<Value>,
    pub strategy: Strategy,
    /// A templated `strategy:` (and where), rendered when the play starts.
    pub strategy_template: Option<(String, Span)>,
    /// The implicit `Gathering Facts` task (the setup module with the play's
    /// gather_subset, gather_timeout and fact_path).
    pub facts_task: Option<Box<Task>>,
    /// Roles of `roles:` and `import_role` (dependencies first), in load
    /// order: their defaults and vars are visible to the whole play, as
    /// Ansible exposes them at parse time (`include_role` ones are not).
    pub exported_roles: Vec<Arc<RoleCtx>>,
}

impl Play {
    /// The play's task lists in the order they run (handlers apart).
    pub fn task_lists(&self) -> [&Vec<Item>; 5] {
        [
            &self.pre_tasks,
            &self.roles,
            &self.tasks,
            &self.post_tasks,
            &self.batch_check,
        ]
    }
}

/// The `strategy:` play keyword.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Every host finishes a task before any host starts the next.
    #[default]
    Linear,
    /// Every host runs the play's tasks as fast as it can.
    Free,
    /// Free, but a host that starts the play keeps its fork to the end.
    HostPinned,
}

impl Strategy {
    pub const NAMES: &[&str] = &["linear", "free", "host_pinned"];

    /// A strategy by its short or full (`ansible.builtin.`) name.
    pub fn from_name(text: &str) -> Option<Strategy> {
        let bare = text
            .strip_prefix("ansible.builtin.")
            .or_else(|| text.strip_prefix("ansible.legacy."))
            .unwrap_or(text);
        match bare {
            "linear" => Some(Strategy::Linear),
            "free" => Some(Strategy::Free),
            "host_pinned" => Some(Strategy::HostPinned),
            _ => None,
        }
    }
}

/// The `order:` play keyword.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HostOrder {
    /// As the host pattern selects them.
    #[default]
    Inventory,
    ReverseInventory,
    /// By name.
    Sorted,
    ReverseSorted,
    Shuffle,
}

impl HostOrder {
    pub const NAMES: &[&str] = &[
        "inventory",
        "reverse_inventory",
        "sorted",
        "reverse_sorted",
        "shuffle",
    ];

    pub fn from_name(s: &str) -> Option<HostOrder> {
        Some(match s {
            "inventory" => HostOrder::Inventory,
            "reverse_inventory" => HostOrder::ReverseInventory,
            "sorted" => HostOrder::Sorted,
            "reverse_sorted" => HostOrder::ReverseSorted,
            "shuffle" => HostOrder::Shuffle,
            _ => return None,
        })
    }
}

/// A role a task belongs to: where it lives and its variables.
#[derive(Debug, Default)]
pub struct RoleCtx {
    pub name: String,
    pub path: PathBuf,
    /// defaults/main.yml: the lowest precedence of all.
    pub defaults: IndexMap<String, Value>,
    /// vars/main.yml: above play vars.
    pub vars: IndexMap<String, Value>,
    /// Where each of `defaults` and `vars` is set (its key).
    pub defaults_at: IndexMap<String, Span>,
    pub vars_at: IndexMap<String, Span>,
    /// Parameters given where the role is used (`- role: x` + keys).
    pub params: IndexMap<String, Value>,
    /// What ansible-core's per-play role cache compares: the role's path,
    /// its params, and the `when`, `tags` and `vars` of its entry (or the
    /// `*_from` files of an import/include, which never equal an entry of
    /// `roles:` or `dependencies:`). A use whose key has completed on a
    /// host is skipped there, unless it allows duplicates.
    pub key: String,
    /// Runs even on hosts where its key has completed: `allow_duplicates`
    /// of the role's meta, or of the `import_role`/`include_role` (true
    /// unless set).
    pub allow_duplicates: bool,
}

/// One entry of a task list.
#[derive(Clone, Debug)]
pub enum Item {
    Task(Box<Task>),
    /// `block:` with `rescue:` and `always:` (also what `import_tasks`
    /// becomes). Its keywords are already pushed down into its tasks.
    Block(Box<Block>),
    /// `include_tasks`: expanded per host at run time.
    Include(Box<Task>),
    /// `include_role`: the role is loaded with the playbook; the include's
    /// `when` is evaluated once per host at run time.
    IncludeRole(Box<Task>, Vec<Item>),
}

#[derive(Clone, Debug)]
pub struct Block {
    pub name: Option<String>,
    pub span: Span,
    pub block: Vec<Item>,
    pub rescue: Vec<Item>,
    pub always: Vec<Item>,
    /// The block is one use of a role (its dependencies' blocks, then its
    /// tasks): a host that reaches its end, not failed, with a task of the
    /// role run, has completed the role (ansible-core's implicit
    /// `role_complete`).
    pub role: Option<Arc<RoleCtx>>,
    pub kind: BlockKind,
}

/// What a [`Block`] stands for, which decides where a host revived by
/// `meta: clear_host_errors` picks up again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BlockKind {
    /// A `block:` of the playbook.
    #[default]
    Explicit,
    /// What `import_tasks` or `import_role` brings in: ansible-core nests
    /// the imported blocks one level below the import.
    Import,
    /// A `roles:` entry or one use of a role: its blocks sit where it is
    /// used.
    Role,
}

impl Item {
    /// Every task below this item (blocks and includes walked, not expanded).
    pub fn tasks(&self) -> Vec<&Task> {
        match self {
            Item::Task(t) | Item::Include(t) => vec![t.as_ref()],
            Item::IncludeRole(t, items) => std::iter::once(t.as_ref())
                .chain(items.iter().flat_map(Item::tasks))
                .collect(),
            Item::Block(b) => b
                .block
                .iter()
                .chain(&b.rescue)
                .chain(&b.always)
                .flat_map(Item::tasks)
                .collect(),
        }
    }
}

/// Keywords a block or an import passes down to its tasks.
#[derive(Clone, Debug, Default)]
pub struct Inherit {
    pub when: Vec<Value>,
    pub tags: Vec<String>,
    pub vars: IndexMap<String, Value>,
    /// Include parameters (`vars:` of an `include_tasks`/`include_role`,
    /// its loop variable): ranked just below extra vars.
    pub params: IndexMap<String, Value>,
    pub become_: Option<Value>,
    pub become_user: Option<Value>,
    pub become_method: Option<Value>,
    pub become_flags: Option<Value>,
    pub remote_user: Option<Value>,
    pub ignore_errors: Option<Value>,
    pub environment: Option<Value>,
    pub no_log: Option<Value>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub connection: Option<String>,
    pub throttle: Option<Value>,
    /// `notify:` of a block (or an import): tasks without their own notify
    /// notify these handlers (ansible-core does not merge the lists).
    pub notify: Option<Vec<(String, Span)>>,
    pub delegate_to: Option<Value>,
    pub delegate_facts: Option<Value>,
    pub run_once: Option<Value>,
}

impl Inherit {
    /// What a task passes down when it is an import.
    pub fn from_task(t: &Task) -> Inherit {
        Inherit {
            when: t.when.clone(),
            tags: t.tags.clone(),
            vars: t.vars.clone(),
            params: t.params.clone(),
            become_: t.become_.clone(),
            become_user: t.become_user.clone(),
            become_method: t.become_method.clone(),
            become_flags: t.become_flags.clone(),
            remote_user: t.remote_user.clone(),
            ignore_errors: t.ignore_errors.clone(),
            environment: t.environment.clone(),
            no_log: t.no_log.clone(),
            check_mode: t.check_mode.clone(),
            diff: t.diff.clone(),
            connection: t.connection.clone(),
            throttle: t.throttle.clone(),
            notify: t.own_notify.then(|| t.notify.clone()),
            delegate_to: t.delegate_to.clone(),
            delegate_facts: t.delegate_facts.clone(),
            run_once: t.run_once.clone(),
        }
    }

    /// Applies these keywords to every task below `items`: conditions
    /// first, tags and vars merged (the task's own win), the rest only
    /// where the task sets nothing.
    pub fn apply(&self, items: &mut [Item]) {
        for item in items {
            match item {
                Item::Task(t) | Item::Include(t) => self.apply_task(t),
                Item::IncludeRole(t, _) => self.apply_task(t),
                Item::Block(b) => {
                    self.apply(&mut b.block);
                    self.apply(&mut b.rescue);
                    self.apply(&mut b.always);
                }
            }
        }
    }

    fn apply_task(&self, t: &mut Task) {
        let mut when = self.when.clone();
        when.append(&mut t.when);
        t.when = when;
        for tag in &self.tags {
            if !t.tags.contains(tag) {
                t.tags.push(tag.clone());
            }
        }
        let mut vars = self.vars.clone();
        vars.extend(std::mem::take(&mut t.vars));
        t.vars = vars;
        // An inner include's parameters win over an outer one's.
        let mut params = self.params.clone();
        params.extend(std::mem::take(&mut t.params));
        t.params = params;
        fn fill<T: Clone>(slot: &mut Option<T>, from: &Option<T>) {
            if slot.is_none() {
                slot.clone_from(from);
            }
        }
        fill(&mut t.become_, &self.become_);
        fill(&mut t.become_user, &self.become_user);
        fill(&mut t.become_method, &self.become_method);
        fill(&mut t.become_flags, &self.become_flags);
        fill(&mut t.remote_user, &self.remote_user);
        fill(&mut t.ignore_errors, &self.ignore_errors);
        fill(&mut t.environment, &self.environment);
        fill(&mut t.no_log, &self.no_log);
        fill(&mut t.check_mode, &self.check_mode);
        fill(&mut t.diff, &self.diff);
        fill(&mut t.connection, &self.connection);
        fill(&mut t.throttle, &self.throttle);
        fill(&mut t.delegate_to, &self.delegate_to);
        fill(&mut t.delegate_facts, &self.delegate_facts);
        fill(&mut t.run_once, &self.run_once);
        if !t.own_notify
            && let Some(notify) = &self.notify
        {
            t.notify.clone_from(notify);
            t.own_notify = true;
        }
    }
}

/// One `vars_prompt` entry.
#[derive(Clone, Debug)]
pub struct VarPrompt {
    pub name: String,
    pub prompt: String,
    pub default: Option<Value>,
    pub private: bool,
    pub confirm: bool,
    pub span: Span,
}

/// Where a loop's items come from.
#[derive(Clone, Debug)]
pub enum LoopKind {
    /// `loop:` — the items as given.
    Loop,
    /// `with_items:` — flattened one level.
    Items,
    /// `with_list:` — the list as given.
    List,
    /// `with_dict:` — `{key, value}` items.
    Dict,
    /// `with_indexed_items:` — `[index, item]` pairs.
    IndexedItems,
    /// `with_<lookup>:` — the items the lookup plugin returns for the terms
    /// (`with_fileglob`, `with_first_found`, `with_nested` …).
    Lookup(String),
}

/// Lookups usable as `with_<name>` loops.
pub const LOOP_LOOKUPS: &[&str] = &[
    "first_found",
    "fileglob",
    "together",
    "nested",
    "subelements",
    "sequence",
    "random_choice",
    "lines",
    "inventory_hostnames",
    "file",
    "env",
    "pipe",
    "template",
    "varnames",
    "vars",
    "ini",
];

#[derive(Clone, Debug)]
pub struct LoopSpec {
    pub kind: LoopKind,
    pub items: Value,
    /// The loop variable's name, or a template giving it.
    pub loop_var: String,
    /// The index variable's name, or a template giving it.
    pub index_var: Option<String>,
    pub label: Option<Value>,
    /// `extended`: a boolean or a template giving one.
    pub extended: Option<Value>,
    /// `extended_allitems` (default true): `ansible_loop.allitems`.
    pub extended_allitems: Option<Value>,
    /// `pause`: seconds (a float, or a template giving one) between items.
    pub pause: Option<Value>,
    /// `break_when`: conditions checked after each item; true ends the loop.
    pub break_when: Vec<Value>,
}

#[derive(Clone)]
pub struct Task {
    pub name: Option<String>,
    pub span: Span,
    pub module: &'static dyn Module,
    /// The module name as written (`ansible.builtin.copy`), for display.
    pub action: String,
    /// Arguments as written (templated at run time).
    pub args: IndexMap<String, Value>,
    /// `args:` given as one templated expression producing a dict.
    pub args_expr: Option<Value>,
    pub when: Vec<Value>,
    pub loop_: Option<LoopSpec>,
    pub register: Option<String>,
    /// Parameters of the includes that brought this task in (see
    /// [`Inherit::params`]).
    pub params: IndexMap<String, Value>,
    pub changed_when: Option<Vec<Value>>,
    pub failed_when: Option<Vec<Value>>,
    pub ignore_errors: Option<Value>,
    pub notify: Vec<(String, Span)>,
    /// The task sets `notify` itself (even to nothing), so a block's
    /// `notify` does not reach it.
    pub own_notify: bool,
    pub listen: Vec<String>,
    pub vars: IndexMap<String, Value>,
    pub environment: Option<Value>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub tags: Vec<String>,
    pub no_log: Option<Value>,
    pub connection: Option<String>,
    pub become_: Option<Value>,
    pub become_user: Option<Value>,
    pub become_method: Option<Value>,
    pub become_flags: Option<Value>,
    pub remote_user: Option<Value>,
    /// `timeout:` seconds for the task's action.
    pub timeout: Option<Value>,
    /// `throttle:` — at most this many hosts run the task at once (its
    /// own, or its block's, include's or role's).
    pub throttle: Option<Value>,
    /// The directory of the file the task is written in.
    pub dir: PathBuf,
    /// The role the task comes from.
    pub role: Option<Arc<RoleCtx>>,
    /// `delegate_to:` (or `local_action:`, which delegates to localhost).
    pub delegate_to: Option<Value>,
    pub delegate_facts: Option<Value>,
    pub run_once: Option<Value>,
    /// `until:` conditions, with `retries` and `delay` (seconds).
    pub until: Option<Vec<Value>>,
    pub retries: Option<Value>,
    pub delay: Option<Value>,
    /// An `include_role` of a role that is being loaded already (a role
    /// including itself, guarded by a condition): its role is loaded when
    /// it runs ([`load_included_role`]), as ansible-core loads every
    /// include_role.
    pub deferred: bool,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("name", &self.name)
            .field("action", &self.action)
            .field("span", &self.span)
            .finish()
    }
}

impl Task {
    /// The name shown in `TASK [...]`: the task's name, else the action.
    pub fn display_name(&self) -> String {
        // An unnamed include_role shows as `include_role : ROLE`, as Ansible does.
        if self.name.is_none()
            && self.module.spec().name == "include_role"
            && let Some(role) = self.args.get("name")
        {
            return format!("{} : {}", self.action, crate::template::py_str(role));
        }
        let name = self.name.clone().unwrap_or_else(|| self.action.clone());
        match &self.role {
            Some(r) => format!("{} : {name}", r.name),
            None => name,
        }
    }
}

const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "hosts",
    "vars_prompt",
    "roles",
    "serial",
    "vars",
    "vars_files",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "gather_facts",
    "gather_subset",
    "gather_timeout",
    "fact_path",
    "connection",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "become_exe",
    "check_mode",
    "diff",
    "tags",
    "environment",
    "ignore_errors",
    "ignore_unreachable",
    "no_log",
    "remote_user",
    "port",
    "any_errors_fatal",
    "force_handlers",
    "order",
    "collections",
    "debugger",
    "timeout",
    "throttle",
    "run_once",
    "strategy",
    "max_fail_percentage",
    // hoist's own: an absolute failure budget for the whole play, and a
    // health gate between batches.
    "max_failures",
    "batch_check",
];

/// Valid Ansible play keywords hoist does not run yet: refused, not ignored.
const PLAY_KEYWORDS_LATER: &[&str] = &["module_defaults"];

const TASK_KEYWORDS: &[&str] = &[
    "name",
    "delegate_to",
    "delegate_facts",
    "local_action",
    "run_once",
    "until",
    "retries",
    "delay",
    "when",
    "loop",
    "with_items",
    "with_dict",
    "with_list",
    "with_indexed_items",
    "loop_control",
    "register",
    "changed_when",
    "failed_when",
    "ignore_errors",
    "notify",
    "vars",
    "environment",
    "check_mode",
    "diff",
    "tags",
    "no_log",
    "args",
    "action",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "become_exe",
    "connection",
    "remote_user",
    "port",
    "timeout",
    "throttle",
    "any_errors_fatal",
    "collections",
    "debugger",
    "ignore_unreachable",
];

/// Valid Ansible task keywords hoist does not run yet.
const TASK_KEYWORDS_LATER: &[&str] = &[
    "block",
    "rescue",
    "always",
    "async",
    "poll",
    "with_flattened",
    "module_defaults",
];

/// Ansible modules and actions hoist does not have yet.
const MODULES_LATER: &[&str] = &[
    "include",
    "service",
    "systemd",
    "systemd_service",
    "package",
    "apt",
    "yum",
    "dnf",
    "user",
    "group",
    "get_url",
    "unarchive",
    "git",
    "pip",
    "replace",
    "find",
    "wait_for",
    "getent",
    "cron",
    "fetch",
    "slurp",
    "script",
    "raw",
    "uri",
    "pause",
    "reboot",
    "hostname",
    "tempfile",
    "assemble",
    "apt_repository",
    "apt_key",
    "rpm_key",
    "known_hosts",
    "package_facts",
    "service_facts",
    "wait_for_connection",
    "async_status",
    "sysctl",
    "mount",
    "iptables",
    "debconf",
    "expect",
    "validate_argument_spec",
];

/// The Ansible modules hoist knows by name and refuses: those of
/// [`MODULES_LATER`] it does not have (for the module reference).
pub fn modules_refused() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = MODULES_LATER
        .iter()
        .copied()
        .filter(|m| modules::lookup(m).is_none())
        .collect();
    names.sort_unstable();
    names
}

/// Which keys a task mapping may have besides its module.
const HANDLER_ONLY: &[&str] = &["listen"];

fn span_of(node: &Node) -> Span {
    node.span.clone()
}

/// Loads a playbook and everything it imports, validating it whole.
pub fn load(path: &Path, templar: &Templar) -> Result<Playbook, Vec<Diagnostic>> {
    let mut diags = Diagnostics::default();
    let mut plays = Vec::new();
    load_into(path, templar, &mut plays, &mut diags, 0);
    let dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    diags.into_result(Playbook {
        path: path.to_path_buf(),
        dir,
        plays,
    })
}

fn load_into(
    path: &Path,
    templar: &Templar,
    plays: &mut Vec<Play>,
    diags: &mut Diagnostics,
    depth: usize,
) {
    let root = match crate::yaml::load_file(path) {
        Ok(n) => n,
        Err(d) => {
            diags.push(d);
            return;
        }
    };
    let dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    load_plays(&root, &dir, templar, plays, diags, depth);
}

/// A playbook that is not a file: `hoist run`'s one-task play, as a YAML
/// node, validated as a file's plays are. `name` stands for its path;
/// `dir` is where relative paths start (the working directory).
pub fn load_node(
    root: &Node,
    name: &str,
    dir: &Path,
    templar: &Templar,
) -> Result<Playbook, Vec<Diagnostic>> {
    let mut diags = Diagnostics::default();
    let mut plays = Vec::new();
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    load_plays(root, &dir, templar, &mut plays, &mut diags, 0);
    diags.into_result(Playbook {
        path: PathBuf::from(name),
        dir,
        plays,
    })
}

fn load_plays(
    root: &Node,
    dir: &Path,
    templar: &Templar,
    plays: &mut Vec<Play>,
    diags: &mut Diagnostics,
    depth: usize,
) {
    let items = match &root.kind {
        NodeKind::Seq(items) => items,
        NodeKind::Null => {
            diags.push(Diagnostic::at(
                &root.span,
                "the playbook is empty; it must be a list of plays",
            ));
            return;
        }
        _ => {
            diags.push(Diagnostic::at(
                &root.span,
                format!(
                    "a playbook must be a list of plays, not a {}",
                    root.type_name()
                ),
            ));
            return;
        }
    };
    hide_no_log_lines(items);
    for item in items {
        if let Some(target) = item
            .get("import_playbook")
            .or_else(|| item.get("ansible.builtin.import_playbook"))
        {
            let Some(name) = target.as_str() else {
                diags.push(Diagnostic::at(
                    &target.span,
                    "import_playbook expects a file name",
                ));
                continue;
            };
            if depth > 20 {
                diags.push(Diagnostic::at(
                    &target.span,
                    "import_playbook nests too deeply (a cycle?)",
                ));
                continue;
            }
            let p = dir.join(name);
            if !p.exists() {
                diags.push(Diagnostic::at(
                    &target.span,
                    format!("imported playbook {} does not exist", p.display()),
                ));
                continue;
            }
            load_into(&p, templar, plays, diags, depth + 1);
            continue;
        }
        if let Some(play) = parse_play(item, templar, diags, dir) {
            plays.push(play);
        }
    }
}

fn str_list(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<String> {
    match &node.kind {
        NodeKind::Null => Vec::new(),
        NodeKind::Str(s) => vec![s.clone()],
        NodeKind::Seq(items) => items
            .iter()
            .filter_map(|i| match &i.kind {
                NodeKind::Str(s) => Some(s.clone()),
                NodeKind::Int(n) => Some(n.to_string()),
                _ => {
                    diags.push(Diagnostic::at(
                        &i.span,
                        format!("{what} entries must be strings"),
                    ));
                    None
                }
            })
            .collect(),
        NodeKind::Int(n) => vec![n.to_string()],
        _ => {
            diags.push(Diagnostic::at(
                &node.span,
                format!("{what} must be a string or a list of strings"),
            ));
            Vec::new()
        }
    }
}

fn to_value(node: &Node, diags: &mut Diagnostics) -> Value {
    match node.to_value() {
        Ok(v) => v,
        Err(d) => {
            diags.push(d);
            Value::UNDEFINED
        }
    }
}

fn vars_map(node: &Node, what: &str, diags: &mut Diagnostics) -> IndexMap<String, Value> {
    vars_map_at(node, what, diags).0
}

/// A vars mapping, and where each variable is set.
type VarsAt = (IndexMap<String, Value>, IndexMap<String, Span>);

fn vars_map_at(node: &Node, what: &str, diags: &mut Diagnostics) -> VarsAt {
    let mut out = IndexMap::new();
    let mut at = IndexMap::new();
    match &node.kind {
        NodeKind::Null => {}
        NodeKind::Map(pairs) => {
            for (k, v) in pairs {
                let name = k.key_text();
                if !is_identifier(&name) {
                    diags.push(Diagnostic::at(
                        &k.span,
                        format!("invalid variable name `{name}` in {what}"),
                    ));
                    continue;
                }
                at.insert(name.clone(), k.span.clone());
                out.insert(name, to_value(v, diags));
            }
        }
        _ => diags.push(Diagnostic::at(
            &node.span,
            format!("{what} must be a mapping"),
        )),
    }
    (out, at)
}

/// Ansible's rule for variable names.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// ansible-core's `validate_variable_name`, for names given at run time
/// (a templated `set_fact` key, `loop_var`): an ASCII identifier that Jinja
/// does not read as a constant.
pub fn valid_variable_name(s: &str) -> bool {
    s.is_ascii()
        && is_identifier(s)
        && !matches!(
            s,
            "true" | "false" | "none" | "True" | "False" | "None" | "not"
        )
}

/// ansible-core's message for a name [`valid_variable_name`] refuses.
pub fn invalid_variable_name(s: &str) -> String {
    format!(
        "Invalid variable name {}. Variable names must be strings starting with a letter or underscore character, and contain only letters, numbers and underscores.",
        crate::template::py_repr(&Value::from(s))
    )
}

/// A bool-ish keyword: a YAML bool, or a template evaluated at run time.
fn flag(node: &Node, key: &str, diags: &mut Diagnostics) -> Option<Value> {
    match &node.kind {
        NodeKind::Bool(_) | NodeKind::Null => Some(to_value(node, diags)),
        NodeKind::Str(s) if is_template(s) => Some(to_value(node, diags)),
        NodeKind::Str(s) => match crate::modules::args::to_bool(&Value::from(s.as_str())) {
            Some(b) => Some(Value::from(b)),
            None => {
                diags.push(Diagnostic::at(
                    &node.span,
                    format!("`{key}` must be a boolean, got '{s}'"),
                ));
                None
            }
        },
        NodeKind::Int(i) => Some(Value::from(*i != 0)),
        _ => {
            diags.push(Diagnostic::at(
                &node.span,
                format!("`{key}` must be a boolean"),
            ));
            None
        }
    }
}

/// `throttle:`: a whole number (0 means no limit) or a template giving one.
fn throttle(node: &Node, diags: &mut Diagnostics) -> Option<Value> {
    match &node.kind {
        NodeKind::Int(n) if *n >= 0 => Some(Value::from(*n)),
        NodeKind::Str(s) if is_template(s) => Some(to_value(node, diags)),
        NodeKind::Str(s) if s.trim().parse::<u32>().is_ok() => {
            s.trim().parse::<u32>().ok().map(Value::from)
        }
        _ => {
            diags.push(Diagnostic::at(
                &node.span,
                "`throttle` must be a whole number of hosts (0 for no limit)",
            ));
            None
        }
    }
}

/// `strategy:`: linear, free or host_pinned (by short or full name), or a
/// template rendered when the play starts.
fn strategy(node: &Node, play: &mut Play, templar: &Templar, diags: &mut Diagnostics) {
    let text = scalar_string(node, "strategy", diags).unwrap_or_default();
    if is_template(&text) {
        if let Err(e) = templar.check_syntax(&text) {
            diags.push(Diagnostic::at(
                &node.span,
                format!("invalid Jinja in this string: {e}"),
            ));
        }
        play.strategy_template = Some((text, node.span.clone()));
        return;
    }
    play.strategy = Strategy::from_name(&text).unwrap_or_else(|| {
        let bare = text
            .strip_prefix("ansible.builtin.")
            .or_else(|| text.strip_prefix("ansible.legacy."))
            .unwrap_or(&text);
        diags.push(
            Diagnostic::at(
                &node.span,
                format!(
                    "the strategy '{text}' is not supported: hoist runs linear, free and host_pinned"
                ),
            )
            .suggest(bare, Strategy::NAMES.iter().copied()),
        );
        Strategy::Linear
    });
}

/// `order:`: one of ansible-core's names, checked when the playbook loads
/// (ansible-core only fails when the play starts).
fn host_order(node: &Node, diags: &mut Diagnostics) -> HostOrder {
    let text = scalar_string(node, "order", diags).unwrap_or_default();
    match HostOrder::from_name(&text) {
        Some(o) => o,
        None => {
            diags.push(
                Diagnostic::at(
                    &node.span,
                    format!(
                        "invalid `order` '{text}': it must be one of {}",
                        HostOrder::NAMES.join(", ")
                    ),
                )
                .suggest(&text, HostOrder::NAMES.iter().copied()),
            );
            HostOrder::Inventory
        }
    }
}

fn scalar_string(node: &Node, key: &str, diags: &mut Diagnostics) -> Option<String> {
    match &node.kind {
        NodeKind::Str(s) => Some(s.clone()),
        NodeKind::Int(i) => Some(i.to_string()),
        NodeKind::Float(f) => Some(crate::template::pyfmt::float_repr(*f)),
        NodeKind::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
        NodeKind::Null => None,
        _ => {
            diags.push(Diagnostic::at(
                &node.span,
                format!("`{key}` must be a string"),
            ));
            None
        }
    }
}

fn unknown_keyword(
    key: &Node,
    name: &str,
    known: &[&str],
    later: &[&str],
    what: &str,
) -> Diagnostic {
    if later.contains(&name) {
        return Diagnostic::at(
            &key.span,
            format!("`{name}` is a valid Ansible {what} keyword that hoist does not support yet"),
        );
    }
    Diagnostic::at(&key.span, format!("`{name}` is not a valid {what} keyword"))
        .suggest(name, known.iter().copied())
}

fn parse_play(node: &Node, templar: &Templar, diags: &mut Diagnostics, dir: &Path) -> Option<Play> {
    let Some(pairs) = node.as_map() else {
        diags.push(Diagnostic::at(
            &node.span,
            format!("a play must be a mapping, not a {}", node.type_name()),
        ));
        return None;
    };
    let mut play = Play {
        span: Some(node.span.clone()),
        dir: dir.to_path_buf(),
        ..Play::default()
    };
    let mut handlers_node = None;
    let mut roles_node = None;
    let mut task_lists: Vec<(&str, &Node)> = Vec::new();
    let mut have_hosts = false;
    for (k, v) in pairs {
        let key = k.key_text();
        match key.as_str() {
            "name" => play.name = scalar_string(v, "name", diags).unwrap_or_default(),
            "hosts" => {
                have_hosts = true;
                play.hosts = str_list(v, "hosts", diags).join(",");
                if play.hosts.is_empty() {
                    diags.push(Diagnostic::at(&v.span, "`hosts` is empty"));
                }
            }
            "vars" => (play.vars, play.vars_at) = vars_map_at(v, "play vars", diags),
            "vars_files" => {
                let entries: Vec<&Node> = match &v.kind {
                    NodeKind::Seq(items) => items.iter().collect(),
                    NodeKind::Null => Vec::new(),
                    _ => vec![v],
                };
                for e in entries {
                    let names = str_list(e, "vars_files", diags);
                    play.vars_files.push((names, e.span.clone()));
                }
            }
            "pre_tasks" | "tasks" | "post_tasks" | "batch_check" => task_lists.push((
                match key.as_str() {
                    "pre_tasks" => "pre_tasks",
                    "tasks" => "tasks",
                    "batch_check" => "batch_check",
                    _ => "post_tasks",
                },
                v,
            )),
            "handlers" => handlers_node = Some(v),
            "roles" => roles_node = Some(v),
            "serial" => play.serial = Some(to_value(v, diags)),
            "vars_prompt" => play.prompts = parse_prompts(v, diags),
            "max_fail_percentage" => match &v.kind {
                NodeKind::Int(n) => play.max_fail_percentage = Some(*n as f64),
                NodeKind::Float(f) => play.max_fail_percentage = Some(*f),
                _ => diags.push(Diagnostic::at(
                    &v.span,
                    "`max_fail_percentage` must be a number",
                )),
            },
            "max_failures" => match &v.kind {
                NodeKind::Int(n) if *n >= 0 => play.max_failures = Some(n.unsigned_abs()),
                _ => diags.push(Diagnostic::at(
                    &v.span,
                    "`max_failures` must be a whole number of hosts (0 or more)",
                )),
            },
            "order" => play.order = host_order(v, diags),
            "throttle" => play.throttle = throttle(v, diags),
            "gather_facts" => play.gather_facts = flag(v, &key, diags),
            "connection" => play.connection = scalar_string(v, &key, diags),
            "check_mode" => play.check_mode = flag(v, &key, diags),
            "diff" => play.diff = flag(v, &key, diags),
            "tags" => play.tags = tag_list(v, diags),
            "environment" => play.environment = Some(to_value(v, diags)),
            "ignore_errors" => play.ignore_errors = flag(v, &key, diags),
            "no_log" => play.no_log = flag(v, &key, diags),
            "any_errors_fatal" => {
                play.any_errors_fatal = flag(v, &key, diags).is_some_and(|b| b.is_true())
            }
            "force_handlers" => {
                play.force_handlers = flag(v, &key, diags).is_some_and(|b| b.is_true());
                play.force_handlers_set = true;
            }
            "run_once" => play.run_once = flag(v, &key, diags),
            "become" => play.become_ = flag(v, &key, diags),
            "become_user" => play.become_user = Some(to_value(v, diags)),
            "become_method" => play.become_method = Some(to_value(v, diags)),
            "become_flags" => play.become_flags = Some(to_value(v, diags)),
            "remote_user" => play.remote_user = Some(to_value(v, diags)),
            "strategy" => strategy(v, &mut play, templar, diags),
            k if PLAY_KEYWORDS.contains(&k) => {}
            _ => diags.push(unknown_keyword(
                k,
                &key,
                PLAY_KEYWORDS,
                PLAY_KEYWORDS_LATER,
                "play",
            )),
        }
    }
    if !have_hosts {
        diags.push(Diagnostic::at(&node.span, "the play has no `hosts`"));
    }
    let mut checker = Checker {
        templar,
        diags,
        dir: dir.to_path_buf(),
        play_dir: dir.to_path_buf(),
        depth: 0,
        role_handlers: Vec::new(),
        dynamic_handlers: Vec::new(),
        exported: Vec::new(),
        including: 0,
        include_stack: Vec::new(),
    };
    if let Some(h) = handlers_node {
        play.handlers = parse_task_list(h, true, &mut checker)
            .iter()
            .flat_map(|i| i.tasks().into_iter().cloned())
            .collect();
    }
    if let Some(r) = roles_node {
        play.roles = parse_roles(r, &mut checker);
    }
    // The implicit fact gathering, as a setup task built from the play's
    // gather_* keywords.
    if play
        .gather_facts
        .as_ref()
        .is_none_or(|g| !matches!(g.kind(), ValueKind::Bool) || g.is_true())
    {
        let mut text = String::from("name: Gathering Facts\nsetup:\n");
        for key in ["gather_subset", "gather_timeout", "fact_path"] {
            if let Some(v) = node.get(key) {
                let json =
                    serde_json::to_string(&v.to_value().unwrap_or_default()).unwrap_or_default();
                text.push_str(&format!("  {key}: {json}\n"));
            }
        }
        if let Ok(n) = crate::yaml::load_str(&text, &format!("{} (gather_facts)", node.span.file)) {
            play.facts_task = parse_task(&n, false, &mut checker).map(Box::new);
        }
    }
    for (which, list) in task_lists {
        let tasks = parse_task_list(list, false, &mut checker);
        match which {
            "pre_tasks" => play.pre_tasks = tasks,
            "tasks" => play.tasks = tasks,
            "batch_check" => play.batch_check = tasks,
            _ => play.post_tasks = tasks,
        }
    }
    // ansible-core compiles role handlers ahead of the play's own.
    let own = std::mem::take(&mut play.handlers);
    play.handlers = std::mem::take(&mut checker.role_handlers);
    play.handlers.extend(own);
    play.handlers.append(&mut checker.dynamic_handlers);
    play.exported_roles = std::mem::take(&mut checker.exported);
    if play.strategy != Strategy::Linear {
        refuse_host_loop_bypass(&play, checker.diags);
    }
    // Every notify must name a handler or a listen topic.
    let mut names: Vec<String> = Vec::new();
    for h in &play.handlers {
        if let Some(n) = &h.name {
            names.push(n.clone());
        }
        names.extend(h.listen.iter().cloned());
    }
    let all_tasks: Vec<&Task> = play
        .task_lists()
        .into_iter()
        .flatten()
        .flat_map(Item::tasks)
        .chain(&play.handlers)
        .collect();
    // A block's notify is on each of its tasks: report it once.
    let mut reported: Vec<&Span> = Vec::new();
    for t in all_tasks {
        for (n, span) in &t.notify {
            if !names.iter().any(|x| x == n) && !is_template(n) && !reported.contains(&span) {
                reported.push(span);
                checker.diags.push(
                    Diagnostic::at(
                        span,
                        format!("the handler '{n}' is notified but no handler of this play has that name or listens to it"),
                    )
                    .suggest(n, names.iter().map(String::as_str)),
                );
            }
        }
    }
    for v in play.vars.values() {
        checker.check_templates_value(v, &node.span);
    }
    Some(play)
}

/// add_host runs once for the play, which the free strategy cannot do
/// (ansible-core stops the run when it reaches one).
fn refuse_host_loop_bypass(play: &Play, diags: &mut Diagnostics) {
    for t in host_loop_bypasses(play) {
        diags.push(Diagnostic::at(&t.span, ADD_HOST_FREE));
    }
}

/// The play's tasks that bypass the host loop (add_host), which the free
/// strategies cannot run.
pub fn host_loop_bypasses(play: &Play) -> Vec<&Task> {
    play.pre_tasks
        .iter()
        .chain(&play.roles)
        .chain(&play.tasks)
        .chain(&play.post_tasks)
        .flat_map(Item::tasks)
        .chain(&play.handlers)
        .filter(|t| t.module.spec().name == "add_host")
        .collect()
}

/// Why add_host cannot run under the free strategy.
pub const ADD_HOST_FREE: &str = "The 'add_host' module bypasses the host loop, which is not supported by the free strategy (it would run for every host); use the linear strategy for this play";

const PROMPT_KEYS: &[&str] = &[
    "name",
    "prompt",
    "default",
    "private",
    "confirm",
    "encrypt",
    "salt_size",
    "salt",
    "unsafe",
];

fn parse_prompts(node: &Node, diags: &mut Diagnostics) -> Vec<VarPrompt> {
    let Some(items) = node.as_seq() else {
        diags.push(Diagnostic::at(&node.span, "`vars_prompt` must be a list"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(pairs) = item.as_map() else {
            diags.push(Diagnostic::at(
                &item.span,
                "a vars_prompt entry must be a mapping",
            ));
            continue;
        };
        for (k, _) in pairs {
            let key = k.key_text();
            if !PROMPT_KEYS.contains(&key.as_str()) {
                diags.push(
                    Diagnostic::at(&k.span, format!("`{key}` is not a vars_prompt key"))
                        .suggest(&key, PROMPT_KEYS.iter().copied()),
                );
            }
        }
        let Some(name) = item
            .get("name")
            .and_then(Node::as_str)
            .filter(|n| is_identifier(n))
        else {
            diags.push(Diagnostic::at(
                &item.span,
                "a vars_prompt entry needs a `name` that is a variable name",
            ));
            continue;
        };
        if item.get("encrypt").is_some() {
            diags.push(Diagnostic::at(
                &item.span,
                "vars_prompt `encrypt` is not supported yet",
            ));
        }
        let bool_key = |k: &str, default: bool| match item.get(k).map(|v| &v.kind) {
            Some(NodeKind::Bool(b)) => *b,
            _ => default,
        };
        out.push(VarPrompt {
            name: name.to_owned(),
            prompt: item
                .get("prompt")
                .and_then(Node::as_str)
                .unwrap_or(name)
                .to_owned(),
            default: item.get("default").map(|d| to_value(d, diags)),
            private: bool_key("private", true),
            confirm: bool_key("confirm", false),
            span: item.span.clone(),
        });
    }
    out
}

/// `notify:`: one handler name or a list of them (a name may be a template).
fn notify_list(node: &Node, diags: &mut Diagnostics) -> Vec<(String, Span)> {
    let items: Vec<&Node> = match &node.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        NodeKind::Null => Vec::new(),
        _ => vec![node],
    };
    let mut out = Vec::new();
    for i in items {
        match i.as_str() {
            Some(s) => out.push((s.to_owned(), span_of(i))),
            None => diags.push(Diagnostic::at(
                &i.span,
                "`notify` entries must be handler names",
            )),
        }
    }
    out
}

/// `tags:` as ansible-core reads it: a string is split at commas, a
/// list's entries are tags as they are (templates are rendered when the
/// play runs).
fn tag_list(node: &Node, diags: &mut Diagnostics) -> Vec<String> {
    let tags = str_list(node, "tags", diags);
    match &node.kind {
        NodeKind::Seq(_) => tags,
        _ => tags.iter().flat_map(|t| split_tags(t)).collect(),
    }
}

fn split_tags(s: &str) -> Vec<String> {
    s.split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

struct Checker<'a> {
    templar: &'a Templar,
    diags: &'a mut Diagnostics,
    /// Directory of the file being read (relative imports start here).
    dir: PathBuf,
    /// The playbook's directory (imports fall back to it).
    play_dir: PathBuf,
    /// Import nesting, to stop cycles.
    depth: usize,
    /// Handlers that roles bring into the play.
    role_handlers: Vec<Task>,
    /// Handlers that `include_role` brings (after the play's own).
    dynamic_handlers: Vec<Task>,
    /// Roles whose variables the play exposes (see `Play::exported_roles`).
    exported: Vec<Arc<RoleCtx>>,
    /// How many `include_role` loads are under way (their roles, and their
    /// dependencies, are not exported).
    including: usize,
    /// The `include_role` loads under way (role and entry files), to defer
    /// a role that includes itself.
    include_stack: Vec<String>,
}

impl Checker<'_> {
    /// Reports Jinja syntax errors in every string of a node.
    fn check_templates(&mut self, node: &Node) {
        if node.tag.as_deref() == Some("!unsafe") {
            return;
        }
        match &node.kind {
            NodeKind::Str(s) => {
                if let Err(e) = self.templar.check_syntax(s) {
                    self.diags.push(Diagnostic::at(
                        &node.span,
                        format!("invalid Jinja in this string: {e}"),
                    ));
                }
            }
            NodeKind::Seq(items) => items.iter().for_each(|i| self.check_templates(i)),
            NodeKind::Map(pairs) => pairs.iter().for_each(|(_, v)| self.check_templates(v)),
            _ => {}
        }
    }

    fn check_templates_value(&mut self, v: &Value, span: &Span) {
        if v.is_safe() {
            return;
        }
        if let Some(s) = v.as_str() {
            if let Err(e) = self.templar.check_syntax(s) {
                self.diags
                    .push(Diagnostic::at(span, format!("invalid Jinja: {e}")));
            }
        } else if let Ok(it) = v.try_iter() {
            for item in it {
                self.check_templates_value(&item, span);
                if let Ok(inner) = v.get_item(&item)
                    && !inner.is_undefined()
                {
                    self.check_templates_value(&inner, span);
                }
            }
        }
    }

    /// Checks a conditional expression's syntax.
    fn check_expression(&mut self, node: &Node) {
        if let NodeKind::Str(s) = &node.kind {
            let expr = s.trim();
            let inner = expr
                .strip_prefix("{{")
                .and_then(|e| e.strip_suffix("}}"))
                .unwrap_or(expr);
            if let Err(e) = self.templar.check_syntax(&format!("{{{{ {inner} }}}}")) {
                self.diags.push(Diagnostic::at(
                    &node.span,
                    format!("invalid conditional: {e}"),
                ));
            }
        }
    }
}

fn conditions(node: &Node, checker: &mut Checker) -> Vec<Value> {
    let items: Vec<&Node> = match &node.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        NodeKind::Null => Vec::new(),
        _ => vec![node],
    };
    items
        .into_iter()
        .map(|n| {
            checker.check_expression(n);
            to_value(n, checker.diags)
        })
        .collect()
}

fn parse_task_list(node: &Node, handlers: bool, checker: &mut Checker) -> Vec<Item> {
    match &node.kind {
        NodeKind::Null => Vec::new(),
        NodeKind::Seq(items) => {
            hide_no_log_lines(items);
            items
                .iter()
                .filter_map(|t| parse_item(t, handlers, checker))
                .collect()
        }
        _ => {
            checker.diags.push(Diagnostic::at(
                &node.span,
                format!("a task list must be a list, not a {}", node.type_name()),
            ));
            Vec::new()
        }
    }
}

/// Marks the source lines of each `no_log` item of a list of tasks or
/// plays (up to the next item) as never to be quoted in error output.
fn hide_no_log_lines(items: &[Node]) {
    for (i, item) in items.iter().enumerate() {
        let hides = item
            .get("no_log")
            .is_some_and(|v| !matches!(v.kind, NodeKind::Bool(false) | NodeKind::Null));
        if !hides {
            continue;
        }
        let to = match items.get(i + 1) {
            Some(next) if next.span.file == item.span.file => next.span.line.saturating_sub(1),
            _ => last_line(item),
        };
        crate::error::hide_lines(&item.span.file, item.span.line, to.max(item.span.line));
    }
}

/// The last source line a node's text reaches.
fn last_line(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Seq(items) => items.iter().map(last_line).max().unwrap_or(node.span.line),
        NodeKind::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| last_line(k).max(last_line(v)))
            .max()
            .unwrap_or(node.span.line),
        // A block scalar runs a line further per line of its text.
        NodeKind::Str(s) => node.span.line + s.matches('\n').count(),
        _ => node.span.line,
    }
}

/// Keys a `block:` entry may have.
const BLOCK_KEYWORDS: &[&str] = &[
    "block",
    "rescue",
    "always",
    "name",
    "when",
    "tags",
    "vars",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "become_exe",
    "remote_user",
    "ignore_errors",
    "ignore_unreachable",
    "environment",
    "no_log",
    "check_mode",
    "diff",
    "connection",
    "any_errors_fatal",
    "collections",
    "debugger",
    "port",
    "timeout",
    "throttle",
    "notify",
    "delegate_to",
    "delegate_facts",
    "run_once",
];

fn parse_item(node: &Node, handler: bool, checker: &mut Checker) -> Option<Item> {
    if node.get("block").is_some() {
        return parse_block(node, handler, checker);
    }
    let task = parse_task(node, handler, checker)?;
    match task.module.spec().name {
        "import_tasks" => import_tasks(node, task, handler, checker),
        "import_role" => role_task(node, task, checker),
        "include_role" => {
            check_include_keywords(node, "IncludeRole", checker.diags);
            role_task(node, task, checker)
        }
        "include_tasks" => {
            check_include_keywords(node, "TaskInclude", checker.diags);
            if handler {
                checker.diags.push(Diagnostic::at(
                    &node.span,
                    "include_tasks in handlers is not supported",
                ));
            }
            Some(Item::Include(Box::new(task)))
        }
        _ => Some(Item::Task(Box::new(task))),
    }
}

fn parse_block(node: &Node, handler: bool, checker: &mut Checker) -> Option<Item> {
    let pairs = node.as_map()?;
    let mut block = Block {
        name: None,
        span: node.span.clone(),
        block: Vec::new(),
        rescue: Vec::new(),
        always: Vec::new(),
        role: None,
        kind: BlockKind::Explicit,
    };
    let mut inherit = Inherit::default();
    for (k, v) in pairs {
        let key = k.key_text();
        match key.as_str() {
            "block" => block.block = parse_task_list(v, handler, checker),
            "rescue" => block.rescue = parse_task_list(v, handler, checker),
            "always" => block.always = parse_task_list(v, handler, checker),
            "name" => block.name = scalar_string(v, "name", checker.diags),
            "when" => inherit.when = conditions(v, checker),
            "tags" => inherit.tags = tag_list(v, checker.diags),
            "vars" => {
                checker.check_templates(v);
                inherit.vars = vars_map(v, "block vars", checker.diags);
            }
            "become" => inherit.become_ = flag(v, &key, checker.diags),
            "become_user" => inherit.become_user = Some(to_value(v, checker.diags)),
            "become_method" => inherit.become_method = Some(to_value(v, checker.diags)),
            "become_flags" => inherit.become_flags = Some(to_value(v, checker.diags)),
            "remote_user" => inherit.remote_user = Some(to_value(v, checker.diags)),
            "ignore_errors" => inherit.ignore_errors = flag(v, &key, checker.diags),
            "environment" => inherit.environment = Some(to_value(v, checker.diags)),
            "no_log" => inherit.no_log = flag(v, &key, checker.diags),
            "check_mode" => inherit.check_mode = flag(v, &key, checker.diags),
            "diff" => inherit.diff = flag(v, &key, checker.diags),
            "connection" => inherit.connection = scalar_string(v, &key, checker.diags),
            "throttle" => inherit.throttle = throttle(v, checker.diags),
            "notify" => inherit.notify = Some(notify_list(v, checker.diags)),
            "delegate_to" => {
                checker.check_templates(v);
                inherit.delegate_to = Some(to_value(v, checker.diags));
            }
            "delegate_facts" => inherit.delegate_facts = flag(v, &key, checker.diags),
            "run_once" => inherit.run_once = flag(v, &key, checker.diags),
            k if BLOCK_KEYWORDS.contains(&k) => {}
            other => checker.diags.push(
                Diagnostic::at(&k.span, format!("`{other}` is not a valid block keyword"))
                    .suggest(other, BLOCK_KEYWORDS.iter().copied()),
            ),
        }
    }
    inherit.apply(&mut block.block);
    inherit.apply(&mut block.rescue);
    inherit.apply(&mut block.always);
    Some(Item::Block(Box::new(block)))
}

/// The keywords ansible-core accepts on `include_tasks` and `include_role`
/// (their other keywords would apply to the include, not to the tasks it
/// brings, so ansible-core refuses them), besides `with_<lookup>`.
const INCLUDE_KEYWORDS: &[&str] = &[
    "action",
    "args",
    "collections",
    "debugger",
    "ignore_errors",
    "loop",
    "loop_control",
    "name",
    "no_log",
    "register",
    "run_once",
    "tags",
    "timeout",
    "vars",
    "when",
];

/// Refuses the keywords ansible-core refuses on a dynamic include
/// ("'become' is not a valid attribute for a TaskInclude").
fn check_include_keywords(node: &Node, class: &str, diags: &mut Diagnostics) {
    let Some(pairs) = node.as_map() else {
        return;
    };
    for (k, _) in pairs {
        let key = k.key_text();
        let allowed = INCLUDE_KEYWORDS.contains(&key.as_str())
            || key.starts_with("with_")
            || !(TASK_KEYWORDS.contains(&key.as_str())
                || TASK_KEYWORDS_LATER.contains(&key.as_str()));
        if !allowed {
            let what = if class == "IncludeRole" {
                "include_role"
            } else {
                "include_tasks"
            };
            diags.push(
                Diagnostic::at(
                    &k.span,
                    format!(
                        "`{key}` is not a valid keyword for {what} ('{key}' is not a valid attribute for a {class}); use `apply:` to give keywords to the included tasks"
                    ),
                )
                .suggest(&key, INCLUDE_KEYWORDS.iter().copied()),
            );
        }
    }
}

/// Keys of a `roles:` entry that are keywords, not role parameters.
const ROLE_ENTRY_KEYWORDS: &[&str] = &[
    "role",
    "name",
    "vars",
    "when",
    "tags",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "remote_user",
    "ignore_errors",
    "environment",
    "no_log",
    "check_mode",
    "diff",
    "connection",
    "delegate_to",
    "delegate_facts",
    "any_errors_fatal",
    "collections",
    "port",
    "timeout",
    "throttle",
    "debugger",
    "run_once",
    "module_defaults",
    "ignore_unreachable",
    "become_exe",
];

fn parse_roles(node: &Node, checker: &mut Checker) -> Vec<Item> {
    let Some(entries) = node.as_seq() else {
        checker
            .diags
            .push(Diagnostic::at(&node.span, "`roles` must be a list"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries {
        let Some((name, inherit, params)) = role_entry(e, checker) else {
            continue;
        };
        let provided = direct_params(e, &params);
        let spec = RoleSpec {
            inherited: IndexMap::new(),
            name,
            params,
            tasks_from: None,
            vars_from: None,
            defaults_from: None,
            handlers_from: None,
            provided,
            ident: entry_ident(&inherit, e),
            allow_duplicates: None,
        };
        if let Some(mut items) = load_role(&spec, &e.span, checker) {
            inherit.apply(&mut items);
            out.push(Item::Block(Box::new(Block {
                name: Some(spec.name.clone()),
                span: e.span.clone(),
                block: items,
                rescue: Vec::new(),
                always: Vec::new(),
                role: None,
                kind: BlockKind::Role,
            })));
        }
    }
    out
}

/// A `roles:` or `dependencies:` entry: the role's name, the keywords its
/// tasks inherit (`when`, `tags`, `become` …) and its parameters (`vars`
/// and the other keys).
fn role_entry(
    e: &Node,
    checker: &mut Checker,
) -> Option<(String, Inherit, IndexMap<String, Value>)> {
    Some(match &e.kind {
        NodeKind::Str(s) => (s.clone(), Inherit::default(), IndexMap::new()),
        NodeKind::Map(pairs) => {
            let Some(name) = e
                .get("role")
                .or_else(|| e.get("name"))
                .and_then(Node::as_str)
            else {
                checker.diags.push(Diagnostic::at(
                    &e.span,
                    "a role entry needs `role:` (the role's name)",
                ));
                return None;
            };
            let mut inherit = Inherit::default();
            let mut params = IndexMap::new();
            for (k, v) in pairs {
                let key = k.key_text();
                match key.as_str() {
                    "role" | "name" => {}
                    "when" => inherit.when = conditions(v, checker),
                    "tags" => inherit.tags = tag_list(v, checker.diags),
                    "vars" => params.extend(vars_map(v, "role vars", checker.diags)),
                    "become" => inherit.become_ = flag(v, &key, checker.diags),
                    "become_user" => inherit.become_user = Some(to_value(v, checker.diags)),
                    "become_method" => inherit.become_method = Some(to_value(v, checker.diags)),
                    "remote_user" => inherit.remote_user = Some(to_value(v, checker.diags)),
                    "ignore_errors" => inherit.ignore_errors = flag(v, &key, checker.diags),
                    "environment" => inherit.environment = Some(to_value(v, checker.diags)),
                    "no_log" => inherit.no_log = flag(v, &key, checker.diags),
                    "check_mode" => inherit.check_mode = flag(v, &key, checker.diags),
                    "diff" => inherit.diff = flag(v, &key, checker.diags),
                    "connection" => inherit.connection = scalar_string(v, &key, checker.diags),
                    "throttle" => inherit.throttle = throttle(v, checker.diags),
                    "delegate_to" => {
                        checker.check_templates(v);
                        inherit.delegate_to = Some(to_value(v, checker.diags));
                    }
                    "delegate_facts" => inherit.delegate_facts = flag(v, &key, checker.diags),
                    "run_once" => inherit.run_once = flag(v, &key, checker.diags),
                    k if ROLE_ENTRY_KEYWORDS.contains(&k) => {}
                    other if is_identifier(other) => {
                        params.insert(other.to_owned(), to_value(v, checker.diags));
                    }
                    other => checker.diags.push(Diagnostic::at(
                        &k.span,
                        format!("invalid role parameter `{other}`"),
                    )),
                }
            }
            (name.to_owned(), inherit, params)
        }
        _ => {
            checker.diags.push(Diagnostic::at(
                &e.span,
                "a role entry must be a name or a mapping",
            ));
            return None;
        }
    })
}

struct RoleSpec {
    name: String,
    params: IndexMap<String, Value>,
    /// Params of the roles that depend on this one (ansible-core's dep
    /// chain): visible below its own, not part of its identity.
    inherited: IndexMap<String, Value>,
    tasks_from: Option<String>,
    vars_from: Option<String>,
    defaults_from: Option<String>,
    handlers_from: Option<String>,
    /// The parameters the role's argument spec checks as given arguments:
    /// an entry's own keys in `roles:` or `dependencies:` (not its `vars:`);
    /// none for `import_role`/`include_role`.
    provided: IndexMap<String, Value>,
    /// The rest of the role's cache key (see [`RoleCtx::key`]): the entry's
    /// `when` and `tags`, or the import/include and its `*_from` files.
    ident: String,
    /// `allow_duplicates` of an `import_role`/`include_role` (which
    /// overrides the role's meta).
    allow_duplicates: Option<bool>,
}

/// The cache-key part of a `roles:` or `dependencies:` entry: its `when`,
/// `tags` and `vars` (which the params have merged, but ansible-core tells
/// apart).
fn entry_ident(inherit: &Inherit, entry: &Node) -> String {
    let vars = entry
        .get("vars")
        .map(|v| crate::template::py_repr(&to_value(v, &mut Diagnostics::default())));
    format!(
        "entry|{}|{:?}|{vars:?}",
        crate::template::py_repr(&Value::from(inherit.when.clone())),
        inherit.tags
    )
}

/// The configured roles path (`roles_path` in ansible.cfg,
/// `ANSIBLE_ROLES_PATH`, `HOIST_ROLES_PATH`), set once by the command line.
static ROLES_PATH: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();

/// Sets the roles path for this process (see [`crate::config`]); the first
/// call wins.
pub fn set_roles_path(dirs: Vec<PathBuf>) {
    let _ = ROLES_PATH.set(dirs);
}

/// The roles path: the configured one, else ansible-core's default.
fn roles_path() -> Vec<PathBuf> {
    match ROLES_PATH.get() {
        Some(dirs) => dirs.clone(),
        None => crate::config::default_roles_path(&crate::config::Env::process()),
    }
}

/// Where a role named `name` lives: `roles/` beside the playbook, the
/// roles path, then the playbook's directory itself (as ansible-core
/// searches).
fn find_role(name: &str, play_dir: &Path) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.is_dir().then(|| p.to_path_buf());
    }
    let mut dirs = vec![play_dir.join("roles")];
    dirs.extend(roles_path());
    dirs.push(play_dir.to_path_buf());
    dirs.into_iter().map(|d| d.join(name)).find(|d| d.is_dir())
}

/// `dir/main.yml` (or .yaml, no extension, or a directory of files).
fn role_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    [
        format!("{stem}.yml"),
        format!("{stem}.yaml"),
        stem.to_owned(),
    ]
    .iter()
    .map(|n| dir.join(n))
    .find(|p| p.is_file())
}

fn role_vars_file(path: &Path, checker: &mut Checker) -> VarsAt {
    match crate::yaml::load_file(path) {
        Ok(n) if n.is_null() => VarsAt::default(),
        Ok(n) => vars_map_at(&n, "role variables", checker.diags),
        Err(d) => {
            checker.diags.push(d);
            VarsAt::default()
        }
    }
}

/// Loads a role: its dependencies first, then its tasks, each task knowing
/// its role; its handlers go to the play.
fn load_role(spec: &RoleSpec, span: &Span, checker: &mut Checker) -> Option<Vec<Item>> {
    let Some(path) = find_role(&spec.name, &checker.play_dir) else {
        checker.diags.push(Diagnostic::at(
            span,
            format!(
                "the role '{}' was not found in {}/roles, the roles path ({}) or {}",
                spec.name,
                checker.play_dir.display(),
                roles_path()
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":"),
                checker.play_dir.display()
            ),
        ));
        return None;
    };
    if checker.depth > 32 {
        checker.diags.push(Diagnostic::at(
            span,
            "role dependencies nest too deeply (a cycle?)",
        ));
        return None;
    }
    let mut items = Vec::new();
    // meta/main.yml: dependencies and allow_duplicates.
    let mut allow_duplicates = false;
    if let Some(meta) = role_file(&path.join("meta"), "main") {
        match crate::yaml::load_file(&meta) {
            Ok(m) => {
                allow_duplicates = m
                    .get("allow_duplicates")
                    .is_some_and(|v| matches!(v.kind, NodeKind::Bool(true)));
                if let Some(deps) = m.get("dependencies").and_then(Node::as_seq) {
                    checker.depth += 1;
                    for d in deps {
                        // Its keywords (`when`, `tags` …) reach its tasks.
                        let Some((name, inherit, params)) = role_entry(d, checker) else {
                            continue;
                        };
                        let mut inherited = spec.inherited.clone();
                        inherited.extend(spec.params.clone());
                        let provided = direct_params(d, &params);
                        let dep = RoleSpec {
                            name,
                            params,
                            inherited,
                            tasks_from: None,
                            vars_from: None,
                            defaults_from: None,
                            handlers_from: None,
                            provided,
                            ident: entry_ident(&inherit, d),
                            allow_duplicates: None,
                        };
                        if let Some(mut dep_items) = load_role(&dep, &d.span, checker) {
                            inherit.apply(&mut dep_items);
                            items.append(&mut dep_items);
                        }
                    }
                    checker.depth -= 1;
                }
            }
            Err(d) => checker.diags.push(d),
        }
    }
    // Every use is loaded; ansible-core skips a repeated one per host at
    // run time (see `RoleCtx::key`).
    let key = format!(
        "{}|{}|{}",
        path.display(),
        crate::template::py_repr(&crate::template::vmap(spec.params.clone())),
        spec.ident
    );
    let (defaults, defaults_at) = role_file(
        &path.join("defaults"),
        spec.defaults_from.as_deref().unwrap_or("main"),
    )
    .map(|f| role_vars_file(&f, checker))
    .unwrap_or_default();
    let (vars, vars_at) = role_file(
        &path.join("vars"),
        spec.vars_from.as_deref().unwrap_or("main"),
    )
    .map(|f| role_vars_file(&f, checker))
    .unwrap_or_default();
    let ctx = Arc::new(RoleCtx {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| spec.name.clone()),
        path: path.clone(),
        defaults,
        vars,
        defaults_at,
        vars_at,
        params: {
            let mut params = spec.inherited.clone();
            params.extend(spec.params.clone());
            params
        },
        allow_duplicates: spec.allow_duplicates.unwrap_or(allow_duplicates),
        key,
    });
    // The play exposes each role of its cache once.
    if checker.including == 0 && !checker.exported.iter().any(|r| r.key == ctx.key) {
        checker.exported.push(ctx.clone());
    }
    let tasks_name = spec.tasks_from.as_deref().unwrap_or("main");
    let tasks_name = tasks_name
        .strip_suffix(".yml")
        .or_else(|| tasks_name.strip_suffix(".yaml"))
        .unwrap_or(tasks_name);
    let entry = spec.tasks_from.as_deref().unwrap_or("main");
    let mut validation = argspec_task(&path, entry, &ctx.name, spec.provided.clone(), checker)
        .map(|t| Item::Task(Box::new(t)));
    if let Some(f) = role_file(&path.join("tasks"), tasks_name) {
        if let Some(mut role_items) = load_items(&f, false, checker) {
            role_items.splice(0..0, validation.take());
            set_role(&mut role_items, &ctx);
            items.append(&mut role_items);
        }
    } else if spec.tasks_from.is_some() {
        checker.diags.push(Diagnostic::at(
            span,
            format!("the role '{}' has no tasks file '{tasks_name}'", spec.name),
        ));
    }
    // A role without tasks still checks its arguments.
    if let Some(mut t) = validation {
        set_role(std::slice::from_mut(&mut t), &ctx);
        items.push(t);
    }
    let handlers_name = spec.handlers_from.as_deref().unwrap_or("main");
    if let Some(f) = role_file(&path.join("handlers"), handlers_name)
        && let Some(mut handler_items) = load_items(&f, true, checker)
    {
        set_role(&mut handler_items, &ctx);
        // A role used several times brings its handlers once: statically
        // loaded ones ahead of the play's handlers; an include_role's after
        // them, moved there if the role was loaded before (ansible-core adds
        // them when the include runs, and a notify finds the last copy).
        for h in handler_items.iter().flat_map(Item::tasks) {
            if checker.including > 0 {
                checker.role_handlers.retain(|x| x.span != h.span);
                checker.dynamic_handlers.retain(|x| x.span != h.span);
                checker.dynamic_handlers.push(h.clone());
            } else if !checker.role_handlers.iter().any(|x| x.span == h.span)
                && !checker.dynamic_handlers.iter().any(|x| x.span == h.span)
            {
                checker.role_handlers.push(h.clone());
            }
        }
    }
    Some(vec![Item::Block(Box::new(Block {
        name: Some(spec.name.clone()),
        span: span.clone(),
        block: items,
        rescue: Vec::new(),
        always: Vec::new(),
        role: Some(ctx),
        kind: BlockKind::Role,
    }))])
}

/// The parameters a role entry gives as its own keys (not under `vars:`).
fn direct_params(e: &Node, params: &IndexMap<String, Value>) -> IndexMap<String, Value> {
    params
        .iter()
        .filter(|(k, _)| e.as_map().is_some() && e.get(k).is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// ansible-core's implicit first task of a role entry point (`main` or the
/// `tasks_from` name) that has an argument spec — in
/// `meta/argument_specs.yml`, else under `argument_specs:` in
/// `meta/main.yml`: `validate_argument_spec` on the role's variables and its
/// parameters, tagged `always`.
fn argspec_task(
    path: &Path,
    entry: &str,
    role: &str,
    provided: IndexMap<String, Value>,
    checker: &mut Checker,
) -> Option<Task> {
    let meta = path.join("meta");
    let own_file = ["yml", "yaml", "json"]
        .iter()
        .map(|ext| meta.join(format!("argument_specs.{ext}")))
        .find(|p| p.is_file());
    let from_main = own_file.is_none();
    let file = own_file.or_else(|| role_file(&meta, "main"))?;
    let root = match crate::yaml::load_file(&file) {
        Ok(n) => n,
        Err(d) => {
            // meta/main.yml's problems are reported where it is loaded.
            if !from_main {
                checker.diags.push(d);
            }
            return None;
        }
    };
    let node = root.as_map().and(root.get("argument_specs"))?.get(entry)?;
    let spec = to_value(node, checker.diags);
    // An empty (or null) entry point has nothing to check.
    if !spec.is_true() {
        return None;
    }
    if node.as_map().is_none() {
        checker.diags.push(Diagnostic::at(
            &node.span,
            format!("the argument spec of entry point '{entry}' must be a mapping"),
        ));
        return None;
    }
    let mut name = format!("Validating arguments against arg spec '{entry}'");
    if let Some(d) = node.get("short_description") {
        name.push_str(" - ");
        name.push_str(&crate::template::py_str(&to_value(d, checker.diags)));
    }
    let options = match node.get("options") {
        Some(o) => to_value(o, checker.diags),
        None => crate::template::vmap(Vec::<(String, Value)>::new()),
    };
    let role_path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let context = crate::template::vmap([
        ("type", Value::from("role")),
        ("name", Value::from(role)),
        ("argument_spec_name", Value::from(entry)),
        (
            "path",
            Value::from(role_path.to_string_lossy().into_owned()),
        ),
    ]);
    let mut args = IndexMap::new();
    args.insert("argument_spec".to_owned(), options);
    args.insert(
        "provided_arguments".to_owned(),
        crate::template::vmap(provided),
    );
    args.insert("validate_args_context".to_owned(), context);
    Some(Task {
        name: Some(name),
        span: node.span.clone(),
        module: crate::modules::lookup("validate_argument_spec")?,
        action: "ansible.builtin.validate_argument_spec".to_owned(),
        args,
        args_expr: None,
        when: Vec::new(),
        loop_: None,
        register: None,
        params: IndexMap::new(),
        changed_when: None,
        failed_when: None,
        ignore_errors: None,
        notify: Vec::new(),
        own_notify: false,
        listen: Vec::new(),
        vars: IndexMap::new(),
        environment: None,
        check_mode: None,
        diff: None,
        tags: vec!["always".to_owned()],
        no_log: None,
        connection: None,
        become_: None,
        become_user: None,
        become_method: None,
        become_flags: None,
        remote_user: None,
        timeout: None,
        throttle: None,
        dir: meta,
        role: None,
        delegate_to: None,
        delegate_facts: None,
        run_once: None,
        until: None,
        retries: None,
        delay: None,
        deferred: false,
    })
}

/// Makes every task below `items` without a role belong to `role`.
pub fn set_role(items: &mut [Item], role: &Arc<RoleCtx>) {
    for item in items {
        match item {
            Item::Task(t) | Item::Include(t) => {
                if t.role.is_none() {
                    t.role = Some(role.clone());
                }
            }
            Item::IncludeRole(t, _) => {
                if t.role.is_none() {
                    t.role = Some(role.clone());
                }
            }
            Item::Block(b) => {
                set_role(&mut b.block, role);
                set_role(&mut b.rescue, role);
                set_role(&mut b.always, role);
            }
        }
    }
}

/// `import_role` (expanded here) and `include_role` (loaded here, its
/// `when` evaluated at run time).
fn role_task(node: &Node, task: Task, checker: &mut Checker) -> Option<Item> {
    let arg = |k: &str| task.args.get(k).map(crate::template::py_str);
    let name = arg("name")?;
    if is_template(&name) {
        checker.diags.push(Diagnostic::at(
            &node.span,
            "the role name cannot use variables (hoist loads roles with the playbook)",
        ));
        return None;
    }
    if task.loop_.is_some() && task.module.spec().name == "import_role" {
        checker.diags.push(Diagnostic::at(&node.span, "You cannot use loops on 'import_role' statements. You should use 'include_role' instead."));
        return None;
    }
    let spec = RoleSpec {
        inherited: IndexMap::new(),
        name,
        params: task.vars.clone(),
        tasks_from: arg("tasks_from"),
        vars_from: arg("vars_from"),
        defaults_from: arg("defaults_from"),
        handlers_from: arg("handlers_from"),
        provided: IndexMap::new(),
        ident: format!(
            "include|{:?}|{:?}|{:?}|{:?}",
            arg("tasks_from"),
            arg("vars_from"),
            arg("defaults_from"),
            arg("handlers_from")
        ),
        allow_duplicates: Some(
            task.args
                .get("allow_duplicates")
                .and_then(crate::modules::args::to_bool)
                .unwrap_or(true),
        ),
    };
    let dynamic = task.module.spec().name == "include_role";
    let key = format!("{}|{}", spec.name, spec.ident);
    if dynamic && checker.include_stack.contains(&key) {
        // The role includes itself: load it when the include runs.
        let mut task = task;
        task.deferred = true;
        return Some(Item::IncludeRole(Box::new(task), Vec::new()));
    }
    checker.including += usize::from(dynamic);
    if dynamic {
        checker.include_stack.push(key);
    }
    let loaded = load_role(&spec, &node.span, checker);
    if dynamic {
        checker.include_stack.pop();
    }
    checker.including -= usize::from(dynamic);
    let mut items = loaded?;
    if dynamic {
        return Some(Item::IncludeRole(Box::new(task), items));
    }
    Inherit::from_task(&task).apply(&mut items);
    Some(Item::Block(Box::new(Block {
        name: task.name.clone(),
        span: task.span.clone(),
        block: items,
        rescue: Vec::new(),
        always: Vec::new(),
        role: None,
        kind: BlockKind::Import,
    })))
}

/// Finds a task file the way Ansible does: beside the current file, then
/// beside the playbook.
fn find_task_file(name: &str, dir: &Path, play_dir: &Path) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    [
        dir.join(name),
        dir.join("tasks").join(name),
        play_dir.join(name),
        play_dir.join("tasks").join(name),
    ]
    .into_iter()
    .find(|c| c.is_file())
}

fn import_tasks(node: &Node, task: Task, handler: bool, checker: &mut Checker) -> Option<Item> {
    let file = task
        .args
        .get("file")
        .or_else(|| task.args.get("_raw_params"))
        .map(crate::template::py_str)?;
    if task.loop_.is_some() {
        checker.diags.push(Diagnostic::at(
            &node.span,
            "You cannot use loops on 'import_tasks' statements. You should use 'include_tasks' instead.",
        ));
        return None;
    }
    if is_template(&file) {
        checker.diags.push(Diagnostic::at(
            &node.span,
            "import_tasks is resolved when the playbook is loaded, so its file name cannot use variables; use include_tasks",
        ));
        return None;
    }
    let Some(path) = find_task_file(&file, &checker.dir, &checker.play_dir) else {
        checker.diags.push(Diagnostic::at(
            &node.span,
            format!("the imported task file '{file}' was not found"),
        ));
        return None;
    };
    if checker.depth > 32 {
        checker.diags.push(Diagnostic::at(
            &node.span,
            "import_tasks nests too deeply (a cycle?)",
        ));
        return None;
    }
    let mut items = load_items(&path, handler, checker)?;
    Inherit::from_task(&task).apply(&mut items);
    Some(Item::Block(Box::new(Block {
        name: task.name.clone(),
        span: task.span.clone(),
        block: items,
        rescue: Vec::new(),
        always: Vec::new(),
        role: None,
        kind: BlockKind::Import,
    })))
}

fn load_items(path: &Path, handler: bool, checker: &mut Checker) -> Option<Vec<Item>> {
    let root = match crate::yaml::load_file(path) {
        Ok(n) => n,
        Err(d) => {
            checker.diags.push(d);
            return None;
        }
    };
    let saved = std::mem::replace(
        &mut checker.dir,
        path.parent().map(Path::to_path_buf).unwrap_or_default(),
    );
    checker.depth += 1;
    let items = parse_task_list(&root, handler, checker);
    checker.depth -= 1;
    checker.dir = saved;
    Some(items)
}

/// Loads a task file at run time (`include_tasks`), validated as the
/// playbook was.
pub fn load_task_file(
    path: &Path,
    play_dir: &Path,
    templar: &Templar,
) -> Result<Vec<Item>, Vec<Diagnostic>> {
    let mut diags = Diagnostics::default();
    let mut checker = Checker {
        templar,
        diags: &mut diags,
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        play_dir: play_dir.to_path_buf(),
        depth: 1,
        role_handlers: Vec::new(),
        dynamic_handlers: Vec::new(),
        exported: Vec::new(),
        including: 1,
        include_stack: Vec::new(),
    };
    let items = load_items(path, false, &mut checker).unwrap_or_default();
    diags.into_result(items)
}

/// Loads the role of a deferred `include_role` ([`Task::deferred`]) when it
/// runs, validated as the playbook was. Its handlers were loaded with the
/// first load of the role.
pub fn load_included_role(
    task: &Task,
    node_span: &Span,
    play_dir: &Path,
    templar: &Templar,
) -> Result<Vec<Item>, Vec<Diagnostic>> {
    let mut diags = Diagnostics::default();
    let mut checker = Checker {
        templar,
        diags: &mut diags,
        dir: task.dir.clone(),
        play_dir: play_dir.to_path_buf(),
        depth: 1,
        role_handlers: Vec::new(),
        dynamic_handlers: Vec::new(),
        exported: Vec::new(),
        including: 0,
        include_stack: Vec::new(),
    };
    let mut fresh = task.clone();
    fresh.deferred = false;
    let node = Node {
        kind: NodeKind::Null,
        span: node_span.clone(),
        tag: None,
    };
    let items = match role_task(&node, fresh, &mut checker) {
        Some(Item::IncludeRole(_, items)) => items,
        _ => Vec::new(),
    };
    diags.into_result(items)
}

/// Resolves an include's file name against the including task's directory
/// and the playbook's.
pub fn resolve_task_file(name: &str, dir: &Path, play_dir: &Path) -> Option<PathBuf> {
    find_task_file(name, dir, play_dir)
}

/// Splits `k=v` text as Ansible's split_args does: on whitespace outside
/// quotes and Jinja blocks, keeping quotes in the pieces.
/// Joins [`split_args`] tokens back as Ansible's join_args does: a space
/// between tokens, none after a line break.
pub fn join_args(tokens: &[String]) -> String {
    let mut out = String::new();
    for t in tokens {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push(' ');
        }
        out.push_str(t);
    }
    out.trim_end_matches('\n').to_owned()
}

pub fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if quote.is_none() && c == '{' && matches!(next, Some('{') | Some('%') | Some('#')) {
            depth += 1;
            cur.push(c);
            if let Some(n) = next {
                cur.push(n);
            }
            i += 2;
            continue;
        }
        if quote.is_none() && depth > 0 && matches!(c, '}' | '%' | '#') && next == Some('}') {
            depth -= 1;
            cur.push(c);
            cur.push('}');
            i += 2;
            continue;
        }
        if c == '\\' && quote.is_some() {
            cur.push(c);
            if let Some(n) = next {
                cur.push(n);
            }
            i += 2;
            continue;
        }
        match quote {
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            None if (c == '"' || c == '\'') && depth == 0 => {
                quote = Some(c);
                cur.push(c);
            }
            // A line break ends a token and stays with it, so free-form
            // text keeps its lines (`shell: |` scripts), as Ansible's
            // split_args/join_args do.
            None if c == '\n' && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                if let Some(last) = out.last_mut() {
                    last.push('\n');
                }
            }
            None if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
        i += 1;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A `k=v` value as Ansible's parse_kv reads it: surrounding quotes
/// removed, then Python escape sequences (`\n`, `\t`, `\\`, `\"`, `\x41`,
/// `\u00e9` …) decoded.
fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    let inner = if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &s[1..s.len() - 1]
    } else {
        s
    };
    decode_escapes(inner)
}

fn decode_escapes(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let hex = |from: usize, n: usize| -> Option<char> {
        let digits: String = chars.get(from..from + n)?.iter().collect();
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
    };
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let n = chars[i + 1];
        let simple = match n {
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(ch) = simple {
            out.push(ch);
            i += 2;
            continue;
        }
        let decoded = match n {
            'x' => hex(i + 2, 2).map(|ch| (ch, 4)),
            'u' => hex(i + 2, 4).map(|ch| (ch, 6)),
            'U' => hex(i + 2, 8).map(|ch| (ch, 10)),
            '0'..='7' => {
                let digits: String = chars[i + 1..]
                    .iter()
                    .take(3)
                    .take_while(|d| ('0'..='7').contains(d))
                    .collect();
                u32::from_str_radix(&digits, 8)
                    .ok()
                    .and_then(char::from_u32)
                    .map(|ch| (ch, 1 + digits.len()))
            }
            _ => None,
        };
        match decoded {
            Some((ch, len)) => {
                out.push(ch);
                i += len;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Parameters command/shell accept inline in free-form text.
const RAW_INLINE: &[&str] = &[
    "creates",
    "removes",
    "chdir",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
];

/// Parses free-form module text into arguments.
fn parse_free_form(
    module: &'static dyn Module,
    text: &str,
    span: &Span,
    diags: &mut Diagnostics,
) -> IndexMap<String, Value> {
    let spec = module.spec();
    let mut args = IndexMap::new();
    match spec.free_form {
        FreeForm::Whole(param) => {
            args.insert(param.to_owned(), Value::from(text.trim()));
        }
        FreeForm::Raw => {
            let mut raw = Vec::new();
            for tok in split_args(text) {
                if let Some((k, v)) = tok.trim_end_matches('\n').split_once('=')
                    && RAW_INLINE.contains(&k)
                    && spec.param(k).is_some()
                {
                    args.insert(k.to_owned(), Value::from(unquote(v)));
                    continue;
                }
                raw.push(tok);
            }
            if !raw.is_empty() {
                args.insert("_raw_params".to_owned(), Value::from(join_args(&raw)));
            }
        }
        FreeForm::None => {
            for tok in split_args(text) {
                let tok = tok.trim_end_matches('\n');
                match tok.split_once('=') {
                    // set_fact's names may be templates (`"{{ n }}=v"`).
                    Some((k, v))
                        if !k.is_empty()
                            && (!k.contains(['{', ' '])
                                || (spec.name == "set_fact" && is_template(k))) =>
                    {
                        args.insert(k.to_owned(), Value::from(unquote(v)));
                    }
                    _ => {
                        diags.push(Diagnostic::at(
                            span,
                            format!(
                                "the {} module does not take free-form text; write `key=value` pairs or a mapping (got `{tok}`)",
                                spec.name
                            ),
                        ));
                        break;
                    }
                }
            }
        }
    }
    args
}

/// Checks literal argument values against the module's spec: unknown
/// names (with did-you-mean), missing required ones, values of the wrong type.
fn check_args(
    module: &'static dyn Module,
    args: &IndexMap<String, Value>,
    key_spans: &IndexMap<String, Span>,
    task_span: &Span,
    from_template: bool,
    diags: &mut Diagnostics,
) {
    let spec = module.spec();
    if spec.name == "add_host" {
        // Every key besides name and groups is a variable of the new host.
        if !from_template
            && !args
                .keys()
                .any(|k| matches!(k.as_str(), "name" | "host" | "hostname"))
        {
            diags.push(Diagnostic::at(
                task_span,
                "missing required parameter `name` for module add_host",
            ));
        }
        return;
    }
    if spec.name == "set_fact" {
        for k in args.keys() {
            let span = key_spans.get(k).unwrap_or(task_span);
            // A templated name is checked when it is rendered.
            if k != "cacheable" && !valid_variable_name(k) && !is_template(k) {
                diags.push(Diagnostic::at(
                    span,
                    format!("set_fact: `{k}` is not a valid variable name"),
                ));
            }
        }
        if args.keys().all(|k| k == "cacheable") && !from_template {
            diags.push(Diagnostic::at(
                task_span,
                "set_fact needs at least one variable to set",
            ));
        }
        return;
    }
    for (k, v) in args {
        let span = key_spans.get(k).unwrap_or(task_span);
        let Some(p) = spec.param(k) else {
            let mut names: Vec<&str> = spec.all_names().filter(|n| !n.starts_with('_')).collect();
            names.sort_unstable();
            let d = Diagnostic::at(
                span,
                format!("unsupported parameter `{k}` for module {}", spec.name),
            )
            .suggest(k, names.iter().copied());
            let d = if d.help.is_none() {
                d.with_help(format!("supported parameters: {}", names.join(", ")))
            } else {
                d
            };
            diags.push(d);
            continue;
        };
        if crate::template::needs_templating(v) || v.is_none() {
            continue;
        }
        if let Err(e) = crate::modules::args::coerce_for_check(p, v) {
            diags.push(Diagnostic::at(span, e));
        }
        if p.ty == ParamType::Mode
            && let Err(e) = crate::modules::args::parse_mode(v, 0o644, false)
        {
            diags.push(Diagnostic::at(span, e));
        }
    }
    if from_template {
        return;
    }
    for p in spec.params.iter().filter(|p| p.required) {
        let given = args
            .keys()
            .any(|k| spec.param(k).is_some_and(|q| q.name == p.name));
        if !given {
            let what = if p.name == "_raw_params" {
                format!("the {} module needs a command", spec.name)
            } else {
                format!(
                    "missing required parameter `{}` for module {}",
                    p.name, spec.name
                )
            };
            diags.push(Diagnostic::at(task_span, what));
        }
    }
    for group in spec.required_one_of {
        let given = args
            .keys()
            .any(|k| spec.param(k).is_some_and(|q| group.contains(&q.name)));
        if !given {
            let names: Vec<&str> = group.iter().map(|n| n.trim_start_matches('_')).collect();
            diags.push(Diagnostic::at(
                task_span,
                format!("module {} needs one of: {}", spec.name, names.join(", ")),
            ));
        }
    }
    for group in spec.mutually_exclusive {
        let given: Vec<&str> = group
            .iter()
            .copied()
            .filter(|n| {
                args.keys()
                    .any(|k| spec.param(k).is_some_and(|q| q.name == *n))
            })
            .collect();
        if given.len() > 1 {
            diags.push(Diagnostic::at(
                task_span,
                format!("parameters are mutually exclusive: {}", given.join(", ")),
            ));
        }
    }
}

fn parse_task(node: &Node, handler: bool, checker: &mut Checker) -> Option<Task> {
    let Some(pairs) = node.as_map() else {
        checker.diags.push(Diagnostic::at(
            &node.span,
            format!("a task must be a mapping, not a {}", node.type_name()),
        ));
        return None;
    };
    let diags_before = checker.diags.0.len();
    let mut module_keys: Vec<(&Node, &Node, &'static dyn Module)> = Vec::new();
    let mut name = None;
    let mut when = Vec::new();
    let mut loop_items: Option<(LoopKind, Value)> = None;
    let mut loop_control: Option<&Node> = None;
    let mut register = None;
    let mut changed_when = None;
    let mut failed_when = None;
    let mut ignore_errors = None;
    let mut notify = Vec::new();
    let mut own_notify = false;
    let mut listen = Vec::new();
    let mut vars = IndexMap::new();
    let mut environment = None;
    let mut check_mode = None;
    let mut diff = None;
    let mut tags = Vec::new();
    let mut no_log = None;
    let mut connection = None;
    let mut become_ = None;
    let mut become_user = None;
    let mut become_method = None;
    let mut become_flags = None;
    let mut remote_user = None;
    let mut timeout = None;
    let mut throttle_v = None;
    let mut until = None;
    let mut delegate_to = None;
    let mut delegate_facts = None;
    let mut run_once = None;
    let mut retries = None;
    let mut delay = None;
    let mut args_node: Option<&Node> = None;
    let mut action_node: Option<&Node> = None;
    for (k, v) in pairs {
        let key = k.key_text();
        match key.as_str() {
            "name" => name = scalar_string(v, "name", checker.diags),
            "when" => when = conditions(v, checker),
            k if k
                .strip_prefix("with_")
                .is_some_and(|n| LOOP_LOOKUPS.contains(&n)) =>
            {
                if loop_items.is_some() {
                    checker.diags.push(Diagnostic::at(
                        &k_span(k, pairs),
                        "a task can have only one loop",
                    ));
                }
                checker.check_templates(v);
                let name = key.trim_start_matches("with_").to_owned();
                loop_items = Some((LoopKind::Lookup(name), to_value(v, checker.diags)));
            }
            "loop" | "with_items" | "with_dict" | "with_list" | "with_indexed_items" => {
                if loop_items.is_some() {
                    checker
                        .diags
                        .push(Diagnostic::at(&k.span, "a task can have only one loop"));
                }
                checker.check_templates(v);
                let kind = match key.as_str() {
                    "loop" => LoopKind::Loop,
                    "with_items" => LoopKind::Items,
                    "with_dict" => LoopKind::Dict,
                    "with_list" => LoopKind::List,
                    _ => LoopKind::IndexedItems,
                };
                loop_items = Some((kind, to_value(v, checker.diags)));
            }
            "loop_control" => loop_control = Some(v),
            "register" => match v.as_str() {
                Some(s) if is_identifier(s) => register = Some(s.to_owned()),
                _ => checker.diags.push(Diagnostic::at(
                    &v.span,
                    "`register` must be a valid variable name",
                )),
            },
            "changed_when" => changed_when = Some(conditions(v, checker)),
            "failed_when" => failed_when = Some(conditions(v, checker)),
            "ignore_errors" => ignore_errors = flag(v, &key, checker.diags),
            "notify" => {
                notify = notify_list(v, checker.diags);
                own_notify = true;
            }
            "listen" if handler => listen = str_list(v, "listen", checker.diags),
            "vars" => {
                checker.check_templates(v);
                vars = vars_map(v, "task vars", checker.diags);
            }
            "environment" => {
                checker.check_templates(v);
                environment = Some(to_value(v, checker.diags));
            }
            "check_mode" => check_mode = flag(v, &key, checker.diags),
            "diff" => diff = flag(v, &key, checker.diags),
            "tags" => tags = tag_list(v, checker.diags),
            "no_log" => no_log = flag(v, &key, checker.diags),
            "connection" => connection = scalar_string(v, &key, checker.diags),
            "become" => become_ = flag(v, &key, checker.diags),
            "become_user" => become_user = Some(to_value(v, checker.diags)),
            "become_method" => become_method = Some(to_value(v, checker.diags)),
            "become_flags" => become_flags = Some(to_value(v, checker.diags)),
            "remote_user" => remote_user = Some(to_value(v, checker.diags)),
            "timeout" => match &v.kind {
                NodeKind::Int(n) if *n >= 0 => timeout = Some(Value::from(*n)),
                NodeKind::Str(s) if is_template(s) => timeout = Some(to_value(v, checker.diags)),
                _ => checker.diags.push(Diagnostic::at(
                    &v.span,
                    "`timeout` must be a number of seconds",
                )),
            },
            "throttle" => throttle_v = throttle(v, checker.diags),
            "until" => until = Some(conditions(v, checker)),
            "delegate_to" => {
                checker.check_templates(v);
                if matches!(v.kind, NodeKind::Seq(_) | NodeKind::Map(_)) {
                    checker.diags.push(Diagnostic::at(
                        &v.span,
                        format!(
                            "`delegate_to` must name one host (a string), not a {}",
                            v.type_name()
                        ),
                    ));
                }
                delegate_to = Some(to_value(v, checker.diags));
            }
            "delegate_facts" => delegate_facts = flag(v, &key, checker.diags),
            "run_once" => run_once = flag(v, &key, checker.diags),
            "local_action" => {
                action_node = Some(v);
                delegate_to = Some(Value::from("localhost"));
            }
            "retries" => retries = Some(to_value(v, checker.diags)),
            "delay" => delay = Some(to_value(v, checker.diags)),
            "args" => args_node = Some(v),
            "action" => action_node = Some(v),
            k if TASK_KEYWORDS.contains(&k) => {}
            other => {
                if let Some(m) = modules::lookup(other) {
                    module_keys.push((k, v, m));
                } else {
                    let bare = other
                        .strip_prefix("ansible.builtin.")
                        .or_else(|| other.strip_prefix("ansible.legacy."))
                        .unwrap_or(other);
                    let d = if TASK_KEYWORDS_LATER.contains(&other)
                        || (HANDLER_ONLY.contains(&other) && !handler)
                    {
                        if HANDLER_ONLY.contains(&other) {
                            Diagnostic::at(&k.span, format!("`{other}` is only valid on handlers"))
                        } else if matches!(other, "rescue" | "always") {
                            // A task with `block` is parsed as a block: this
                            // one has none.
                            Diagnostic::at(
                                &k.span,
                                format!("`{other}` belongs to a block: this task has no `block`"),
                            )
                            .with_help(format!(
                                "write `block:` with the tasks to run first, then `{other}:` beside it"
                            ))
                        } else {
                            unknown_keyword(k, other, TASK_KEYWORDS, TASK_KEYWORDS_LATER, "task")
                        }
                    } else if MODULES_LATER.contains(&bare) {
                        Diagnostic::at(
                            &k.span,
                            format!(
                                "`{other}` is an Ansible module that hoist does not support yet"
                            ),
                        )
                    } else {
                        let mut candidates: Vec<String> = modules::all_names();
                        candidates.extend(TASK_KEYWORDS.iter().map(|s| s.to_string()));
                        Diagnostic::at(
                            &k.span,
                            format!("`{other}` is neither a task keyword nor a module hoist knows"),
                        )
                        .suggest(other, candidates.iter().map(String::as_str))
                    };
                    checker.diags.push(d);
                }
            }
        }
    }
    if handler && name.is_none() && listen.is_empty() {
        checker.diags.push(Diagnostic::at(
            &node.span,
            "a handler needs a `name` (or `listen`) to be notified by",
        ));
    }
    // `action: module args` form.
    let mut action_text: Option<(String, Span)> = None;
    if let Some(a) = action_node {
        match &a.kind {
            NodeKind::Str(s) => {
                let (m, rest) = s
                    .trim()
                    .split_once(char::is_whitespace)
                    .unwrap_or((s.trim(), ""));
                match modules::lookup(m) {
                    Some(module) => {
                        module_keys.push((a, a, module));
                        action_text = Some((rest.trim().to_owned(), a.span.clone()));
                    }
                    None => checker.diags.push(
                        Diagnostic::at(&a.span, format!("`action` names an unknown module `{m}`"))
                            .suggest(m, modules::all_names().iter().map(String::as_str)),
                    ),
                }
            }
            NodeKind::Map(_) => match a
                .get("module")
                .and_then(Node::as_str)
                .and_then(modules::lookup)
            {
                Some(module) => module_keys.push((a, a, module)),
                None => checker.diags.push(Diagnostic::at(
                    &a.span,
                    "`action` needs a `module` key naming a known module",
                )),
            },
            _ => checker.diags.push(Diagnostic::at(
                &a.span,
                "`action` must be a string or a mapping",
            )),
        }
    }
    if module_keys.len() > 1 {
        let names: Vec<String> = module_keys.iter().map(|(k, _, _)| k.key_text()).collect();
        checker.diags.push(Diagnostic::at(
            &module_keys[1].0.span,
            format!("conflicting action statements: {}", names.join(", ")),
        ));
        return None;
    }
    let Some((mkey, mval, module)) = module_keys.pop() else {
        if checker.diags.0.len() == diags_before {
            checker.diags.push(Diagnostic::at(
                &node.span,
                "no module/action detected in task",
            ));
        }
        return None;
    };
    let action = if action_node.is_some_and(|a| std::ptr::eq(a, mkey)) {
        module.spec().name.to_owned()
    } else {
        mkey.key_text()
    };

    // Arguments: from the module key's value, then `args:` on top.
    let mut args: IndexMap<String, Value> = IndexMap::new();
    let mut key_spans: IndexMap<String, Span> = IndexMap::new();
    let mut from_template = false;
    let mut args_expr = None;
    checker.check_templates(mval);
    if let Some((text, span)) = &action_text {
        args = parse_free_form(module, text, span, checker.diags);
    } else {
        match &mval.kind {
            NodeKind::Null => {}
            NodeKind::Str(s) => {
                args = parse_free_form(module, s, &mval.span, checker.diags);
                for k in args.keys() {
                    key_spans.insert(k.clone(), mval.span.clone());
                }
            }
            NodeKind::Map(pairs) => {
                for (k, v) in pairs {
                    let key = k.key_text();
                    if action_node.is_some() && key == "module" {
                        continue;
                    }
                    key_spans.insert(key.clone(), k.span.clone());
                    args.insert(key, to_value(v, checker.diags));
                }
            }
            NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_)
                if matches!(module.spec().free_form, FreeForm::Whole(_) | FreeForm::Raw) =>
            {
                let text = mval.key_text();
                args = parse_free_form(module, &text, &mval.span, checker.diags);
            }
            _ => checker.diags.push(Diagnostic::at(
                &mval.span,
                format!(
                    "arguments of {} must be a mapping or `key=value` text",
                    module.spec().name
                ),
            )),
        }
    }
    if let Some(a) = args_node {
        checker.check_templates(a);
        match &a.kind {
            NodeKind::Map(pairs) => {
                for (k, v) in pairs {
                    let key = k.key_text();
                    key_spans.insert(key.clone(), k.span.clone());
                    args.insert(key, to_value(v, checker.diags));
                }
            }
            NodeKind::Str(s) if is_template(s) => {
                from_template = true;
                args_expr = Some(Value::from(s.as_str()));
            }
            _ => checker
                .diags
                .push(Diagnostic::at(&a.span, "`args` must be a mapping")),
        }
    }
    if module.spec().name == "set_fact" {
        for k in args.keys().filter(|k| is_template(k)) {
            if let Err(e) = checker.templar.check_syntax(k) {
                let span = key_spans.get(k).unwrap_or(&mkey.span);
                checker.diags.push(Diagnostic::at(
                    span,
                    format!("invalid Jinja in this variable name: {e}"),
                ));
            }
        }
    }
    check_args(
        module,
        &args,
        &key_spans,
        &mkey.span,
        from_template,
        checker.diags,
    );

    let loop_ = loop_items.map(|(kind, items)| {
        let mut spec = LoopSpec {
            kind,
            items,
            loop_var: "item".into(),
            index_var: None,
            label: None,
            extended: None,
            extended_allitems: None,
            pause: None,
            break_when: Vec::new(),
        };
        if let Some(lc) = loop_control {
            checker.check_templates(lc);
            parse_loop_control(lc, &mut spec, checker);
        }
        spec
    });
    if loop_.is_none()
        && let Some(lc) = loop_control
    {
        checker.diags.push(Diagnostic::at(
            &lc.span,
            "`loop_control` is only meaningful with a loop",
        ));
    }
    Some(Task {
        name,
        span: node.span.clone(),
        module,
        action,
        args,
        args_expr,
        when,
        loop_,
        register,
        // An include's own vars become its included tasks' include params.
        params: if matches!(module.spec().name, "include_tasks" | "include_role") {
            vars.clone()
        } else {
            IndexMap::new()
        },
        changed_when,
        failed_when,
        ignore_errors,
        notify,
        own_notify,
        listen,
        vars,
        environment,
        check_mode,
        diff,
        tags,
        no_log,
        connection,
        become_,
        become_user,
        become_method,
        become_flags,
        remote_user,
        timeout,
        throttle: throttle_v,
        dir: checker.dir.clone(),
        role: None,
        delegate_to,
        delegate_facts,
        run_once,
        until,
        retries,
        delay,
        deferred: false,
    })
}

const LOOP_CONTROL_KEYS: &[&str] = &[
    "loop_var",
    "index_var",
    "label",
    "pause",
    "extended",
    "extended_allitems",
    "break_when",
];

/// The span of key `k` in a mapping.
fn k_span(k: &str, pairs: &[(Node, Node)]) -> Span {
    pairs
        .iter()
        .find(|(key, _)| key.as_str() == Some(k))
        .map(|(key, _)| key.span.clone())
        .unwrap_or_else(|| Span::file_only("?"))
}

/// `loop_control.pause`: seconds between items (a number, or a template
/// giving one).
fn pause(node: &Node, diags: &mut Diagnostics) -> Option<Value> {
    match &node.kind {
        NodeKind::Int(_) | NodeKind::Float(_) => Some(to_value(node, diags)),
        NodeKind::Str(s) if is_template(s) || s.trim().parse::<f64>().is_ok() => {
            Some(to_value(node, diags))
        }
        _ => {
            diags.push(Diagnostic::at(
                &node.span,
                "`pause` must be a number of seconds",
            ));
            None
        }
    }
}

fn parse_loop_control(node: &Node, spec: &mut LoopSpec, checker: &mut Checker) {
    let Some(pairs) = node.as_map() else {
        let diags = &mut *checker.diags;
        diags.push(Diagnostic::at(
            &node.span,
            "`loop_control` must be a mapping",
        ));
        return;
    };
    for (k, v) in pairs {
        let key = k.key_text();
        if key == "break_when" {
            spec.break_when = conditions(v, checker);
            continue;
        }
        let diags = &mut *checker.diags;
        // A template is rendered once per host before the first item.
        let name = |what: &str, diags: &mut Diagnostics| match v.as_str() {
            Some(s) if valid_variable_name(s) || is_template(s) => Some(s.to_owned()),
            _ => {
                diags.push(Diagnostic::at(
                    &v.span,
                    format!("`{what}` must be a variable name"),
                ));
                None
            }
        };
        match key.as_str() {
            "loop_var" => {
                if let Some(n) = name("loop_var", diags) {
                    spec.loop_var = n;
                }
            }
            "index_var" => spec.index_var = name("index_var", diags),
            "label" => spec.label = Some(to_value(v, diags)),
            "extended" => spec.extended = flag(v, &key, diags),
            "extended_allitems" => spec.extended_allitems = flag(v, &key, diags),
            "pause" => spec.pause = pause(v, diags),
            _ => diags.push(
                Diagnostic::at(&k.span, format!("`{key}` is not a valid loop_control key"))
                    .suggest(&key, LOOP_CONTROL_KEYS.iter().copied()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_form_text_keeps_its_lines() {
        let toks = split_args("echo a\necho 'b\nc' chdir=/tmp\n\necho d");
        assert_eq!(join_args(&toks), "echo a\necho 'b\nc' chdir=/tmp\n\necho d");
        assert_eq!(join_args(&split_args("echo   a  b\n")), "echo a b");
    }

    #[test]
    fn split_args_keeps_quotes_and_jinja() {
        assert_eq!(
            split_args(r#"echo "a  b" 'c d' {{ x | default('y z') }} chdir=/tmp"#),
            vec![
                "echo",
                "\"a  b\"",
                "'c d'",
                "{{ x | default('y z') }}",
                "chdir=/tmp"
            ]
        );
    }

    #[test]
    fn kv_values_decode_escapes_as_ansible() {
        assert_eq!(unquote(r#""x\n""#), "x\n");
        assert_eq!(unquote(r"'a\tb'"), "a\tb");
        assert_eq!(unquote(r#""say \"hi\"""#), "say \"hi\"");
        assert_eq!(unquote(r"C:\\dir"), "C:\\dir");
        assert_eq!(unquote(r"\x41\u00e9\101"), "AéA");
        assert_eq!(unquote(r"keep \d and \q"), "keep \\d and \\q");
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("foo_1"));
        assert!(!is_identifier("1foo"));
        assert!(!is_identifier("a-b"));
    }
}
