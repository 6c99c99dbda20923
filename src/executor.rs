//! The apply stage: runs loaded plays against inventory hosts, hosts in
//! parallel up to `forks`, one host's failure never stopping others. The
//! linear strategy runs every host through a task before the next task
//! starts; the free strategy gives each host a lane (an executor holding
//! only that host's state) that runs the play at its own pace.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use futures::future::join_all;
use indexmap::IndexMap;
use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr, ValueKind};
use tokio::sync::Semaphore;

use crate::connection::cache::StatCache;
use crate::connection::link::{self, ConnSpec, HostLink};
use crate::connection::overlay::Overlay;
use crate::connection::shell::Become;
use crate::connection::ssh::{SshOptions, SshPool};
use crate::connection::{Connection, WithEnv};
use crate::inventory::Inventory;
use crate::journal::{Journal, PlayKey};
use crate::modules::{Args, FileDiff, ModuleCtx, ModuleError, TaskEnv};
use crate::playbook::{
    Block, BlockKind, HostOrder, Inherit, Item, LoopKind, LoopSpec, Play, Playbook, RoleCtx,
    Strategy, Task,
};
use crate::report::{HostResult, LoopEnd, Reporter, Stats, Status};
use crate::tags::{TagFilter, TagValues};
use crate::template::{Templar, VarScope, py_str, vmap};

/// Everything the command line decides about a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub check: bool,
    pub diff: bool,
    /// `hoist diff`: check mode that no task can turn off for a module that
    /// could write.
    pub read_only: bool,
    pub forks: usize,
    pub limit: Option<String>,
    pub extra_vars: IndexMap<String, Value>,
    pub connection: Option<String>,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub verbosity: u8,
    /// `-u`: the remote user when the inventory names none.
    pub remote_user: Option<String>,
    /// `--private-key`.
    pub private_key: Option<String>,
    /// `--ssh-config FILE` instead of ~/.ssh/config.
    pub ssh_config: Option<PathBuf>,
    /// `ssh_args` from ansible.cfg / `ANSIBLE_SSH_ARGS`: the default of
    /// `ansible_ssh_args`.
    pub ssh_args: Option<String>,
    pub ssh: SshOptions,
    /// `-b/--become`, `--become-user`, `--become-method`, `-K`.
    pub become_: bool,
    pub become_user: Option<String>,
    pub become_method: Option<String>,
    pub become_password: Option<String>,
    /// `--start-at-task`: tasks before the first with this name are skipped.
    pub start_at_task: Option<String>,
    /// The pending-handler journal (see [`crate::journal`]); none for
    /// ad-hoc runs.
    pub journal: Option<Arc<Journal>>,
    /// `--forget-pending-handlers`: handlers an earlier run left pending
    /// are dropped instead of run.
    pub forget_pending: bool,
}

/// How a run ended.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub stats: IndexMap<String, Stats>,
    pub any_changed: bool,
    pub any_failed: bool,
    pub any_unreachable: bool,
    /// The run stopped on an error that is not a host's (a play keyword or
    /// tag that cannot be templated), with this exit code and no recap.
    pub fatal: Option<i32>,
}

struct HostState {
    name: String,
    inv_vars: Arc<IndexMap<String, Value>>,
    /// set_fact results and registered variables.
    facts: Arc<IndexMap<String, Value>>,
    /// Gathered facts (setup), below play vars.
    gathered: Arc<IndexMap<String, Value>>,
    /// Vars loaded from the current play's vars_files.
    play_files: IndexMap<String, Value>,
    /// Set by `meta: clear_host_errors`, read when a block's `always`
    /// ends on a failing host.
    cleared: bool,
    /// Sent to a rescue by another host's failure under any_errors_fatal.
    swept: bool,
    /// Roles an `include_role` with `public: true` ran on this host in the
    /// current play: their defaults and vars join the play's from then on.
    public_roles: Vec<Arc<RoleCtx>>,
    /// Role keys (`RoleCtx::key`) of the current play with a task that ran
    /// (ok, changed or failed) on this host, and those it completed: a use
    /// of a completed one is skipped, silently, unless it allows
    /// duplicates.
    roles_ran: HashSet<String>,
    roles_done: HashSet<String>,
    /// Failures (not ignored) so far.
    failures: u32,
    /// When (see [`tick`]) the host last failed.
    failed_at: u64,
    /// The recap's failed and unreachable counts when
    /// `meta: clear_host_errors` last forgave them: only more fail the run.
    forgiven: (u32, u32),
    /// Where the host would pick up again if revived (see [`Resume`]).
    resume: Option<Resume>,
    /// Revived: waits for the walk to reach its place.
    dormant: Option<Resume>,
    failed: bool,
    unreachable: bool,
    ended: bool,
    /// Handlers (by index in the play) this host has been notified for.
    notified: Vec<bool>,
    /// Open connections (its own, and delegated ones) with the variables
    /// they were opened with.
    links: Vec<(ConnSpec, HostLink)>,
    /// A connection of `links` with `become`, per become settings.
    become_conns: HashMap<(usize, Become), Arc<dyn Connection>>,
    /// Predicted changes while in check mode.
    overlay: Arc<Overlay>,
    /// The last failed task and its result (`ansible_failed_task`/`_result`).
    last_failure: Option<(Value, Value)>,
    /// Registered variables of tasks check mode could not run (commands).
    unpredicted: Vec<String>,
    /// Facts this host's tasks set on other hosts (`delegate_facts`), until
    /// the executor hands them over.
    outbox: Vec<(String, FactSet)>,
    stats: Stats,
}

/// Facts a task sets, by layer (see [`ItemOutcome`]).
#[derive(Clone, Debug, Default)]
struct FactSet {
    facts: IndexMap<String, Value>,
    gathered: IndexMap<String, Value>,
}

impl FactSet {
    /// A host's variables and facts as they are now.
    fn of(st: &HostState) -> FactSet {
        let gathered = st
            .gathered
            .iter()
            .filter(|(k, _)| *k != "ansible_facts")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        FactSet {
            facts: (*st.facts).clone(),
            gathered,
        }
    }

    /// What differs from `before` (everything without it).
    fn changed_since(self, before: Option<&FactSet>) -> FactSet {
        let new = |old: Option<&IndexMap<String, Value>>, now: IndexMap<String, Value>| {
            now.into_iter()
                .filter(|(k, v)| old.is_none_or(|o| o.get(k) != Some(v)))
                .collect()
        };
        FactSet {
            facts: new(before.map(|b| &b.facts), self.facts),
            gathered: new(before.map(|b| &b.gathered), self.gathered),
        }
    }

    fn take(out: &mut ItemOutcome) -> FactSet {
        FactSet {
            facts: std::mem::take(&mut out.facts),
            gathered: std::mem::take(&mut out.gathered),
        }
    }

    fn is_empty(&self) -> bool {
        self.facts.is_empty() && self.gathered.is_empty()
    }

    fn merge(&mut self, other: FactSet) {
        self.facts.extend(other.facts);
        self.gathered.extend(other.gathered);
    }
}

/// Modules that never change a host, so `check_mode: false` may run them
/// for real even under `hoist diff`.
pub(crate) const READ_ONLY_MODULES: &[&str] =
    &["stat", "debug", "set_fact", "assert", "fail", "meta"];

/// Meta actions ansible-core's linear strategy runs per host; the others
/// run once, for the first host.
const META_PER_HOST: &[&str] = &[
    "noop",
    "reset_connection",
    "end_host",
    "flush_handlers",
    "end_role",
];

/// Meta actions that ignore `when` (with a warning).
const META_UNCONDITIONAL: &[&str] = &["noop", "refresh_inventory", "reset_connection"];

/// What command and shell say when check mode skips them.
const CANNOT_PREDICT: &str = "Command would have run if not in check mode";

/// Modules whose check mode is their real logic run against the overlay
/// of predicted changes (see `connection::overlay`).
pub(crate) const PREDICTABLE_MODULES: &[&str] = &[
    "file",
    "copy",
    "template",
    "lineinfile",
    "blockinfile",
    "replace",
    "ini_file",
    "assemble",
];

/// Modules that must start while the host may be unreachable: their task
/// gets a connection that is opened by its first command.
const LAZY_CONNECTION_MODULES: &[&str] = &["wait_for_connection"];

/// A call that cannot change the host although its module could: `uri`
/// with GET or HEAD and no `dest` (what a health check or a version probe
/// does), so `check_mode: false` runs it under `hoist diff` too.
fn read_only_call(module: &str, args: &Args) -> bool {
    match module {
        "uri" => {
            let method = args.str_or("method", "GET").to_ascii_uppercase();
            (method == "GET" || method == "HEAD") && !args.has("dest")
        }
        _ => false,
    }
}

/// Modules whose action plugin (not the module) refuses check mode.
const ACTION_NO_CHECK_MODE: &[&str] = &["uri"];

/// What a single run of a task (or one loop item) produced.
struct ItemOutcome {
    status: Status,
    result: IndexMap<String, Value>,
    diffs: Vec<FileDiff>,
    ignored: bool,
    /// Variables set on the host: set_fact, include_vars.
    facts: IndexMap<String, Value>,
    /// Facts for the host's fact layer: what modules return in
    /// `ansible_facts` (setup), set_fact with `cacheable`.
    gathered: IndexMap<String, Value>,
    /// How the result names its host when the task is delegated:
    /// `web1 -> db1`, `web1 -> db1(10.0.0.5)` (the default callback's
    /// `host_label`).
    delegated: Option<String>,
}

impl ItemOutcome {
    /// A failure raised by an error (a condition or an argument that could
    /// not be templated), not reported by the module: ansible-core marks
    /// its result with `exception`.
    fn error(msg: impl Into<String>) -> ItemOutcome {
        let mut out = ItemOutcome::failed(msg);
        out.result
            .insert("exception".into(), Value::from(NO_TRACEBACK));
        out
    }

    fn failed(msg: impl Into<String>) -> ItemOutcome {
        let mut result = IndexMap::new();
        result.insert("changed".into(), Value::from(false));
        result.insert("failed".into(), Value::from(true));
        result.insert("msg".into(), Value::from(msg.into()));
        ItemOutcome {
            delegated: None,
            status: Status::Failed,
            result,
            diffs: Vec::new(),
            ignored: false,
            facts: IndexMap::new(),
            gathered: IndexMap::new(),
        }
    }
}

/// Per-play context shared by every host's task run.
struct PlayCtx<'a> {
    play: &'a Play,
    templar: Arc<Templar>,
    opts: &'a RunOptions,
    reporter: &'a Reporter,
    inventory: Arc<RwLock<Inventory>>,
    /// The magic `groups`, rebuilt when add_host/group_by change the inventory.
    groups: Arc<RwLock<Value>>,
    /// Hosts whose inventory variables add_host/group_by changed.
    changed_hosts: Mutex<Vec<String>>,
    play_hosts: Vec<String>,
    /// Every host the play selected, in all batches, failed ones too
    /// (what clear_facts and clear_host_errors act on).
    all_hosts: Vec<String>,
    /// Hosts of the play that failed or became unreachable (Ansible's
    /// `play._removed_hosts`), refreshed before each task.
    removed: RwLock<Vec<String>>,
    omit: String,
    playbook_dir: PathBuf,
    pool: Arc<SshPool>,
    /// Answers to the play's vars_prompt.
    prompted: IndexMap<String, Value>,
    limits: Arc<Limits>,
    /// The free strategy: this context is one host's lane.
    free: bool,
    /// host_pinned: the lane holds a fork from its first task to its last.
    pinned: bool,
    /// The free strategy: a lane ended the batch (end_play, end_batch), so
    /// every lane stops.
    over: Arc<AtomicBool>,
    /// The free strategy: when (see [`tick`]) a lane last ran
    /// `meta: clear_host_errors`, for the hosts of the other lanes.
    cleared_at: Arc<AtomicU64>,
    /// The play's templated tags, rendered when the batch started.
    tags: Arc<TagValues>,
    /// The play in the pending-handler journal (when there is one).
    journal_key: Option<PlayKey>,
}

impl PlayCtx<'_> {
    /// The context of one host's lane under the free strategy.
    fn lane<'b>(&'b self, reporter: &'b Reporter) -> PlayCtx<'b> {
        PlayCtx {
            play: self.play,
            templar: self.templar.clone(),
            opts: self.opts,
            reporter,
            inventory: self.inventory.clone(),
            groups: self.groups.clone(),
            changed_hosts: Mutex::new(Vec::new()),
            play_hosts: self.play_hosts.clone(),
            all_hosts: self.all_hosts.clone(),
            removed: RwLock::new(Vec::new()),
            omit: self.omit.clone(),
            playbook_dir: self.playbook_dir.clone(),
            pool: self.pool.clone(),
            prompted: self.prompted.clone(),
            limits: self.limits.clone(),
            tags: self.tags.clone(),
            journal_key: self.journal_key.clone(),
            free: true,
            pinned: self.play.strategy == Strategy::HostPinned,
            over: self.over.clone(),
            cleared_at: self.cleared_at.clone(),
        }
    }
}

/// What bounds how many hosts run tasks at once in a batch.
struct Limits {
    /// `--forks`: hosts running any task.
    forks: Arc<Semaphore>,
    /// `throttle:`: hosts running one task, per task (by where it is
    /// written) and limit.
    throttles: Mutex<HashMap<(String, usize), Arc<Semaphore>>>,
}

impl Limits {
    fn new(forks: usize) -> Limits {
        Limits {
            forks: Arc::new(Semaphore::new(forks.max(1))),
            throttles: Mutex::new(HashMap::new()),
        }
    }

    /// The semaphore of a task throttled to `n` hosts.
    fn throttle(&self, task: &Task, n: usize) -> Arc<Semaphore> {
        let mut map = self.throttles.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((task.span.to_string(), n))
            .or_insert_with(|| Arc::new(Semaphore::new(n)))
            .clone()
    }
}

/// Where the walk through a play's items is, which tells where a failing
/// host would pick up again if `meta: clear_host_errors` revives it.
#[derive(Default)]
struct Walk {
    /// Indices from the play's section lists down to the current item.
    pos: Vec<usize>,
    /// How deep ansible-core would nest the block the current list belongs
    /// to: 0 for a play section's blocks and the blocks of its roles.
    depth: usize,
    /// The current list is a part (block, rescue, always) of a `block:`,
    /// not a file's task list (where consecutive tasks form a block).
    part: bool,
    /// In a file's task list: the index of the last task of the run of
    /// tasks (no blocks) the current item belongs to.
    group_end: usize,
    /// The items of the includes being run, by the include's position.
    captures: Vec<(Vec<usize>, Arc<Vec<Item>>)>,
}

/// Where a failed host picks up again if `meta: clear_host_errors`
/// revives it: right after the item at `after`, with the included items
/// on the way there. ansible-core keeps a failed host's place in the
/// task list; a revived host leaves the block it failed in (or whose
/// `always` it ran) and goes on with what follows it. A failure in a
/// play section's own blocks leaves no such place.
#[derive(Clone, Debug)]
struct Resume {
    after: Vec<usize>,
    captures: Vec<(Vec<usize>, Arc<Vec<Item>>)>,
    /// The host's failure count when recorded: a later failure that
    /// records no place voids it.
    failures: u32,
}

/// A clock that orders failures and `meta: clear_host_errors` across the
/// lanes of the free strategy.
fn tick() -> u64 {
    static CLOCK: AtomicU64 = AtomicU64::new(1);
    CLOCK.fetch_add(1, Ordering::Relaxed)
}

/// Hosts' inventory variables, computed once per run (shared by lanes).
type InvCache = HashMap<String, Arc<IndexMap<String, Value>>>;

pub struct Executor<'a> {
    /// The inventory, which add_host and group_by change during the run.
    inventory: Arc<RwLock<Inventory>>,
    templar: Arc<Templar>,
    opts: &'a RunOptions,
    reporter: &'a Reporter,
    states: IndexMap<String, HostState>,
    groups: Arc<RwLock<Value>>,
    /// SSH connections of the run (gateways shared by their hosts).
    pool: Arc<SshPool>,
    inv_cache: Arc<Mutex<InvCache>>,
    /// The free strategy: every host's variables as its lane last left
    /// them, for `hostvars` in the other lanes.
    board: Arc<Mutex<IndexMap<String, HostSnapshot>>>,
    /// This executor runs one host's lane of the free strategy.
    lane: bool,
    /// Facts `delegate_facts` gave hosts this executor holds no state for
    /// yet; they join the host's state when it is made.
    inbox: Arc<Mutex<IndexMap<String, FactSet>>>,
    /// Set when any_errors_fatal or max_fail_percentage stops the play:
    /// later batches do not run.
    abort_play: bool,
    /// How many blocks with a rescue the current task is inside.
    rescue_depth: usize,
    /// How many roles loaded at run time (a role including itself) the
    /// current task is inside, to stop a recursion without end.
    deferred_depth: usize,
    /// How many `include_tasks` the current task is inside, to stop a file
    /// that includes itself before the stack runs out.
    include_depth: usize,
    /// Where the walk through the play's items is.
    walk: Walk,
    /// Set when the playbook stops (ansible-core's `break_play`): the play
    /// was aborted for failures, or every host of a batch failed. Later
    /// plays of the playbook do not run.
    abort_run: bool,
    /// Whether `--start-at-task`'s task has been reached.
    started: bool,
    /// An error stopped the run (see [`RunSummary::fatal`]).
    fatal: Option<i32>,
    /// `batch_check` tasks that failed, reported after the recap.
    gate_failures: Vec<GateFailure>,
    /// Hosts of the batch with handlers an earlier run left pending, to
    /// run before the play's first section.
    restored: Vec<String>,
    /// The plays of this run in the journal, for the report of what is
    /// still pending at the end.
    journal_plays: Vec<PlayKey>,
    /// Check mode found handlers an earlier run left pending: the apply
    /// would run them, so there are changes pending whatever the check of
    /// each one predicts (a command's cannot be).
    pending_would_run: bool,
}

/// A host whose `batch_check` failed: which check, where, and why.
#[derive(Clone, Debug)]
pub struct GateFailure {
    pub host: String,
    pub task: String,
    pub msg: String,
}

fn omit_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "__omit_place_holder__{:x}",
        nanos ^ u128::from(std::process::id())
    )
}

impl<'a> Executor<'a> {
    pub fn new(
        inventory: &'a Inventory,
        templar: Arc<Templar>,
        opts: &'a RunOptions,
        reporter: &'a Reporter,
    ) -> Self {
        let groups = vmap(
            inventory
                .groups_map()
                .into_iter()
                .map(|(g, hosts)| (g, Value::from(hosts))),
        );
        Executor {
            inventory: Arc::new(RwLock::new(inventory.clone())),
            templar,
            opts,
            reporter,
            states: IndexMap::new(),
            groups: Arc::new(RwLock::new(groups)),
            pool: Arc::new(SshPool::new(opts.ssh.clone())),
            inv_cache: Arc::new(Mutex::new(HashMap::new())),
            board: Arc::new(Mutex::new(IndexMap::new())),
            lane: false,
            inbox: Arc::new(Mutex::new(IndexMap::new())),
            abort_play: false,
            abort_run: false,
            rescue_depth: 0,
            deferred_depth: 0,
            include_depth: 0,
            walk: Walk::default(),
            started: opts.start_at_task.is_none(),
            fatal: None,
            gate_failures: Vec::new(),
            restored: Vec::new(),
            journal_plays: Vec::new(),
            pending_would_run: false,
        }
    }

    /// A host's inventory variables, computed once per run.
    fn inv_vars(&self, host: &str) -> Arc<IndexMap<String, Value>> {
        if let Ok(mut cache) = self.inv_cache.lock() {
            return cache
                .entry(host.to_owned())
                .or_insert_with(|| Arc::new(inv_read(&self.inventory).host_vars(host)))
                .clone();
        }
        Arc::new(inv_read(&self.inventory).host_vars(host))
    }

    /// Runs every play of every playbook and prints the recap.
    pub async fn run(mut self, playbooks: &[Playbook]) -> RunSummary {
        'plays: for pb in playbooks {
            self.abort_run = false;
            for play in &pb.plays {
                self.run_play(play, &pb.dir).await;
                if self.fatal.is_some() {
                    break 'plays;
                }
                if self.abort_run {
                    break;
                }
            }
        }
        let mut summary = RunSummary {
            fatal: self.fatal,
            ..RunSummary::default()
        };
        summary.any_changed |= self.pending_would_run;
        for (name, st) in &self.states {
            summary.any_changed |= st.stats.changed > 0;
            // Failures `meta: clear_host_errors` forgave do not count.
            summary.any_failed |= st.stats.failed > st.forgiven.0;
            summary.any_unreachable |= st.stats.unreachable > st.forgiven.1;
            summary.stats.insert(name.clone(), st.stats.clone());
        }
        if self.fatal.is_none() {
            self.reporter.recap(&summary.stats);
            self.reporter.gate_failures(&self.gate_failures);
            if let Some(j) = &self.opts.journal {
                if let Some(problem) = j.take_problem() {
                    self.reporter.warning(&problem);
                }
                self.reporter
                    .pending_handlers(&j.pending_in(&self.journal_plays), j.path());
            }
        }
        summary
    }

    /// The play's variables without a host (see [`crate::tags::play_vars`]),
    /// for its keywords and tags.
    fn base_scope(
        &self,
        play: &Play,
        dir: &std::path::Path,
        prompted: &IndexMap<String, Value>,
    ) -> Arc<VarScope> {
        let groups = self.groups.read().map(|g| g.clone()).unwrap_or_default();
        let magic = crate::tags::play_magic(
            play,
            dir,
            groups,
            &self.opts.tags,
            &self.opts.skip_tags,
            self.opts.check,
            self.opts.diff,
        );
        let vars = crate::tags::play_vars(
            play,
            dir,
            prompted,
            &self.opts.extra_vars,
            &magic,
            &self.templar,
        );
        VarScope::new(self.templar.clone(), vars)
    }

    async fn run_play(&mut self, play: &Play, dir: &std::path::Path) {
        // A templated strategy is rendered before the play starts.
        let resolved;
        let play = match self.resolve_strategy(play, dir) {
            Ok(None) => play,
            Ok(Some(s)) => {
                resolved = Play {
                    strategy: s,
                    ..play.clone()
                };
                &resolved
            }
            Err((code, e)) => {
                self.reporter.error(&e);
                self.fatal = Some(code);
                return;
            }
        };
        let no_prompts = IndexMap::new();
        let pattern = match self.base_scope(play, dir, &no_prompts).render(&play.hosts) {
            Ok(v) => py_str(&v),
            Err(e) => {
                self.reporter.play(&play.name);
                self.reporter
                    .warning(&format!("cannot template the play's hosts: {e}"));
                return;
            }
        };
        let title = if play.name.is_empty() {
            pattern.clone()
        } else {
            play.name.clone()
        };
        self.reporter.play(&title);
        let selected = inv_read(&self.inventory).select(&pattern);
        let mut hosts = match selected {
            Ok(h) if h.is_empty() => {
                self.reporter.warning(&format!(
                    "Could not match supplied host pattern, ignoring: {pattern}"
                ));
                h
            }
            Ok(h) => h,
            Err(e) => {
                self.reporter.warning(&e);
                Vec::new()
            }
        };
        if let Some(limit) = &self.opts.limit {
            let limited = inv_read(&self.inventory).limit(hosts, limit);
            hosts = match limited {
                Ok(h) => h,
                Err(e) => {
                    self.reporter.warning(&e);
                    Vec::new()
                }
            };
        }
        order_hosts(play.order, &mut hosts);
        let selected = hosts.clone();
        hosts.retain(|h| {
            self.states
                .get(h)
                .is_none_or(|s| !s.failed && !s.unreachable)
        });
        if hosts.is_empty() {
            self.reporter.no_hosts();
            return;
        }
        let prompted = match self.prompt_vars(play) {
            Ok(p) => p,
            Err(e) => {
                self.reporter.error(&e);
                for h in &hosts {
                    let st = self.state(h);
                    st.failed = true;
                    st.stats.failed += 1;
                }
                return;
            }
        };
        let batches = match &play.serial {
            Some(v) => match self.base_scope(play, dir, &prompted).render_value(v) {
                Ok(v) => batches(&hosts, &v),
                Err(e) => {
                    self.reporter
                        .warning(&format!("cannot template serial: {e}"));
                    vec![hosts.clone()]
                }
            },
            None => vec![hosts.clone()],
        };
        self.abort_play = false;
        for (i, batch) in batches.into_iter().enumerate() {
            if self.abort_play {
                break;
            }
            if i > 0 {
                self.reporter.play(&title);
            }
            let batch: Vec<String> = batch
                .into_iter()
                .filter(|h| {
                    self.states
                        .get(h)
                        .is_none_or(|s| !s.failed && !s.unreachable)
                })
                .collect();
            if batch.is_empty() {
                continue;
            }
            self.run_batch(play, dir, batch.clone(), &selected, &prompted)
                .await;
            if self.fatal.is_some() {
                return;
            }
            // Every host of the batch failed: the playbook stops, as
            // ansible-core's PlaybookExecutor does.
            let down = |h: &String| {
                self.states
                    .get(h)
                    .is_some_and(|s| s.failed || s.unreachable)
            };
            if batch.iter().all(down) {
                self.abort_run = true;
            }
            if self.abort_run {
                break;
            }
        }
    }

    /// A templated `strategy:`, rendered with the play's host-less
    /// variables: None when the play's own holds. Errors as
    /// ansible-playbook exits on them: 4 when the template fails, 1 for an
    /// unknown strategy.
    fn resolve_strategy(
        &self,
        play: &Play,
        dir: &std::path::Path,
    ) -> Result<Option<Strategy>, (i32, String)> {
        let Some((text, span)) = &play.strategy_template else {
            return Ok(None);
        };
        let rendered = self
            .base_scope(play, dir, &IndexMap::new())
            .render(text)
            .map_err(|e| {
                (
                    crate::cli::exit::PARSE_ERROR,
                    format!("{span}: Error processing keyword 'strategy': {e}"),
                )
            })?;
        let name = py_str(&rendered);
        let strategy = crate::playbook::Strategy::from_name(&name).ok_or_else(|| {
            (
                crate::cli::exit::ERROR,
                format!(
                    "{span}: Invalid play strategy specified: {name} (hoist runs linear, free and host_pinned)"
                ),
            )
        })?;
        if strategy != Strategy::Linear
            && let Some(t) = crate::playbook::host_loop_bypasses(play).first()
        {
            return Err((
                crate::cli::exit::ERROR,
                format!("{}: {}", t.span, crate::playbook::ADD_HOST_FREE),
            ));
        }
        Ok(Some(strategy))
    }

    /// After add_host/group_by: the `groups` variable and the changed
    /// hosts' inventory variables are rebuilt.
    fn refresh_inventory_changes(&mut self, ctx: &PlayCtx<'_>) {
        let changed: Vec<String> = match ctx.changed_hosts.lock() {
            Ok(mut c) => std::mem::take(&mut *c),
            Err(_) => Vec::new(),
        };
        if !changed.is_empty() {
            self.rebuild_inventory_views(changed);
        }
    }

    /// `meta: refresh_inventory`: the inventory read again; on error the
    /// old one stays, with a warning.
    fn reload_inventory(&mut self) {
        let fresh = inv_read(&self.inventory).reload();
        match fresh {
            Ok(inv) => {
                *self.inventory.write().unwrap_or_else(|p| p.into_inner()) = inv;
                let all: Vec<String> = self.states.keys().cloned().collect();
                if let Ok(mut cache) = self.inv_cache.lock() {
                    cache.clear();
                }
                self.rebuild_inventory_views(all);
            }
            Err(diags) => {
                for d in diags {
                    let at = d.span.map(|s| format!("{s}: ")).unwrap_or_default();
                    self.reporter.warning(&format!(
                        "the inventory was not refreshed: {at}{}",
                        d.message
                    ));
                }
            }
        }
    }

    /// The `groups` variable and `changed` hosts' inventory variables,
    /// rebuilt from the inventory.
    fn rebuild_inventory_views(&mut self, changed: Vec<String>) {
        let groups = vmap(
            inv_read(&self.inventory)
                .groups_map()
                .into_iter()
                .map(|(g, hosts)| (g, Value::from(hosts))),
        );
        if let Ok(mut g) = self.groups.write() {
            *g = groups;
        }
        for h in changed {
            if let Ok(mut cache) = self.inv_cache.lock() {
                cache.remove(&h);
            }
            let fresh = self.inv_vars(&h);
            if let Some(st) = self.states.get_mut(&h) {
                st.inv_vars = fresh;
            }
        }
    }

    /// A task's `TASK [...]` (or `RUNNING HANDLER [...]`) banner.
    /// The `TASK [...]` banner, the name templated with the first host's
    /// variables as ansible-core does.
    fn banner(&self, ctx: &PlayCtx<'_>, task: &Task, handler: bool, first: Option<&String>) {
        let raw = task.display_name();
        let name = match first.and_then(|h| self.states.get(h)) {
            Some(st) if crate::template::is_template(&raw) => {
                templated_name(&raw, &task_scope(ctx, st, Some(task)))
            }
            _ => raw,
        };
        self.reporter.task(&name, handler, &task.span);
    }

    /// The host's state, created on first use.
    fn state(&mut self, h: &str) -> &mut HostState {
        if let Some(i) = self.states.get_index_of(h) {
            return &mut self.states[i];
        }
        let st = self.new_state(h);
        self.states.entry(h.to_owned()).or_insert(st)
    }

    /// A new host state, with the facts other hosts' tasks gave it.
    fn new_state(&self, h: &str) -> HostState {
        let mut st = HostState::new(h, self.inv_vars(h));
        let given = self.inbox.lock().ok().and_then(|mut i| i.shift_remove(h));
        if let Some(set) = given {
            st.absorb(set);
        }
        st
    }

    /// Hands the facts in hosts' outboxes (`delegate_facts`) to their
    /// hosts, or to the inbox for hosts without a state here.
    fn deliver_facts(&mut self) {
        let mut mail: Vec<(String, FactSet)> = Vec::new();
        for st in self.states.values_mut() {
            mail.append(&mut st.outbox);
        }
        for (to, set) in mail {
            match self.states.get_mut(&to) {
                Some(st) => st.absorb(set),
                None => {
                    if let Ok(mut inbox) = self.inbox.lock() {
                        inbox.entry(to).or_default().merge(set);
                    }
                }
            }
        }
    }

    /// Answers to `vars_prompt`, asked once per play on the terminal; `-e`
    /// values answer without asking; without a terminal the default is used
    /// or the play stops with a clear error.
    fn prompt_vars(&self, play: &Play) -> Result<IndexMap<String, Value>, String> {
        use std::io::IsTerminal;
        let mut out = IndexMap::new();
        for p in &play.prompts {
            if self.opts.extra_vars.contains_key(&p.name) {
                continue;
            }
            let interactive = std::io::stdin().is_terminal();
            let default = p.default.as_ref().map(py_str);
            if !interactive {
                match default {
                    Some(d) => {
                        out.insert(p.name.clone(), Value::from(d));
                        continue;
                    }
                    None => {
                        return Err(format!(
                            "{}: vars_prompt '{}' needs an answer, but there is no terminal and no default; give it with -e {}=...",
                            p.span, p.name, p.name
                        ));
                    }
                }
            }
            let shown = match &default {
                Some(d) => format!("{} [{d}]: ", p.prompt),
                None => format!("{}: ", p.prompt),
            };
            let ask = |text: &str| {
                if p.private {
                    crate::prompt::secret(text)
                } else {
                    crate::prompt::line(text)
                }
            };
            let mut answer = ask(&shown).map_err(|e| format!("vars_prompt '{}': {e}", p.name))?;
            if p.confirm {
                let again = ask(&format!("confirm {shown}"))
                    .map_err(|e| format!("vars_prompt '{}': {e}", p.name))?;
                if again != answer {
                    return Err(format!(
                        "vars_prompt '{}': the values entered do not match",
                        p.name
                    ));
                }
            }
            if answer.is_empty()
                && let Some(d) = default
            {
                answer = d;
            }
            out.insert(p.name.clone(), Value::from(answer));
        }
        Ok(out)
    }

    /// Runs a play on one batch of hosts (all of them without `serial`).
    async fn run_batch(
        &mut self,
        play: &Play,
        dir: &std::path::Path,
        hosts: Vec<String>,
        selected: &[String],
        prompted: &IndexMap<String, Value>,
    ) {
        for h in &hosts {
            if !self.states.contains_key(h) {
                let st = self.new_state(h);
                self.states.insert(h.clone(), st);
            }
            if let Some(st) = self.states.get_mut(h) {
                st.notified = vec![false; play.handlers.len()];
                st.ended = false;
                st.play_files.clear();
                st.public_roles.clear();
                st.roles_ran.clear();
                st.roles_done.clear();
                st.resume = None;
                st.dormant = None;
            }
        }
        // Templated tags are rendered when the batch starts, as
        // ansible-core's play iterator does; one that fails stops the run.
        let tags = match TagValues::new(play, self.base_scope(play, dir, prompted)) {
            Ok(t) => Arc::new(t),
            Err(e) => {
                self.reporter.error(&e);
                self.fatal = Some(crate::cli::exit::ERROR);
                return;
            }
        };
        let ctx = PlayCtx {
            play,
            templar: self.templar.clone(),
            opts: self.opts,
            reporter: self.reporter,
            inventory: self.inventory.clone(),
            groups: self.groups.clone(),
            changed_hosts: Mutex::new(Vec::new()),
            play_hosts: hosts.clone(),
            all_hosts: selected.to_vec(),
            removed: RwLock::new(Vec::new()),
            omit: omit_token(),
            playbook_dir: dir.to_path_buf(),
            pool: self.pool.clone(),
            prompted: prompted.clone(),
            limits: Arc::new(Limits::new(self.opts.forks)),
            free: false,
            pinned: false,
            over: Arc::new(AtomicBool::new(false)),
            cleared_at: Arc::new(AtomicU64::new(0)),
            tags,
            journal_key: self.opts.journal.as_ref().and_then(|_| play_key(play)),
        };
        // vars_files, per host (their names may use host variables).
        if !play.vars_files.is_empty() {
            let mut cache: HashMap<PathBuf, Result<IndexMap<String, Value>, String>> =
                HashMap::new();
            for h in &hosts {
                let Some(st) = self.states.get_mut(h) else {
                    continue;
                };
                match load_vars_files(&ctx, st, &mut cache) {
                    Ok(missing) => {
                        for m in missing {
                            self.reporter.warning_once(&format!(
                                "vars file {m} was not found; going on without it, as ansible-core does"
                            ));
                        }
                    }
                    Err(e) => {
                        st.failed = true;
                        st.stats.failed += 1;
                        let mut r = IndexMap::new();
                        r.insert("msg".into(), Value::from(e));
                        self.reporter
                            .result(h, Status::Failed, None, &r, false, false);
                    }
                }
            }
        }
        if let Some(key) = &ctx.journal_key
            && !self.journal_plays.contains(key)
        {
            self.journal_plays.push(key.clone());
        }
        self.restored = self.restore_pending(&ctx, &hosts);
        match play.strategy {
            Strategy::Linear => self.run_tasks(&ctx, &hosts).await,
            Strategy::Free | Strategy::HostPinned => self.run_free(&ctx, &hosts).await,
        }
    }

    /// Fact gathering, then the play's sections, each followed by its
    /// handlers, on `hosts` together.
    async fn run_tasks(&mut self, ctx: &PlayCtx<'_>, hosts: &[String]) {
        let play = ctx.play;
        if let Some(facts) = &play.facts_task {
            let gather = match (
                &play.gather_facts,
                hosts.first().and_then(|h| self.states.get(h)),
            ) {
                (Some(v), Some(st)) => value_bool(v, &task_scope(ctx, st, None)).unwrap_or(true),
                _ => true,
            };
            // Hosts that already failed (on their vars_files) gather nothing.
            let active = self.active(hosts);
            if gather && selected_facts(ctx) && !active.is_empty() {
                self.banner(ctx, facts, false, active.first());
                self.run_on_hosts(ctx, facts, &active).await;
            }
        }
        self.run_restored(ctx).await;
        if self.run_sections(ctx, hosts).await {
            return;
        }
        // Hosts `meta: clear_host_errors` revived pick up at their own
        // place once the others are through the play: ansible-core's
        // linear strategy then goes back to the first task a host waits
        // at. They may be revived again, so this repeats (a bounded
        // number of times).
        for _ in 0..64 {
            let revived: Vec<(String, u32)> = hosts
                .iter()
                .filter_map(|h| {
                    let st = self.states.get(h)?;
                    st.dormant.as_ref().map(|r| (h.clone(), r.failures))
                })
                .collect();
            if revived.is_empty() {
                break;
            }
            let names: Vec<String> = revived.iter().map(|(h, _)| h.clone()).collect();
            let ended = self.run_sections(ctx, &names).await;
            // A place the walk did not come by again ends the host's play.
            for (h, failures) in &revived {
                if let Some(st) = self.states.get_mut(h)
                    && (ended || st.dormant.as_ref().is_some_and(|r| r.failures == *failures))
                {
                    st.dormant = None;
                    st.ended = true;
                }
            }
            if ended {
                break;
            }
        }
    }

    /// Handlers an earlier run left pending, before anything else of the
    /// play (after fact gathering).
    async fn run_restored(&mut self, ctx: &PlayCtx<'_>) {
        let restored = std::mem::take(&mut self.restored);
        if !restored.is_empty() {
            self.flush_handlers(ctx, &restored).await;
        }
    }

    /// The play's sections on `hosts`, each followed by its handlers; true
    /// when the play was ended.
    async fn run_sections(&mut self, ctx: &PlayCtx<'_>, hosts: &[String]) -> bool {
        let play = ctx.play;
        let sections: [&[&[Item]]; 3] = [
            &[&play.pre_tasks],
            &[&play.roles, &play.tasks],
            &[&play.post_tasks],
        ];
        let mut list = 0;
        for section in sections {
            for items in section {
                self.walk = Walk {
                    pos: vec![list],
                    ..Walk::default()
                };
                list += 1;
                if self.run_items(ctx, items, hosts).await {
                    return true;
                }
            }
            // Every host failed: the play is over (ansible-core says
            // nothing), after the handlers with force_handlers.
            let revived = hosts
                .iter()
                .any(|h| self.states.get(h).is_some_and(|s| s.dormant.is_some()));
            if self.active(&ctx.play_hosts).is_empty() && !revived {
                if ctx.play.force_handlers {
                    self.flush_handlers(ctx, &ctx.play_hosts).await;
                }
                return false;
            }
            self.flush_handlers(ctx, &ctx.play_hosts).await;
        }
        self.run_batch_check(ctx, hosts, list).await
    }

    /// How many of `hosts` failed or became unreachable.
    fn count_down(&self, hosts: &[String]) -> usize {
        hosts
            .iter()
            .filter(|h| {
                self.states
                    .get(*h)
                    .is_some_and(|s| s.failed || s.unreachable)
            })
            .count()
    }

    /// `batch_check`: the play's health gate, on the batch's hosts still
    /// up after its tasks and handlers. A host that fails it stops the
    /// play: the next batch does not start. True when the play was ended.
    async fn run_batch_check(&mut self, ctx: &PlayCtx<'_>, hosts: &[String], list: usize) -> bool {
        let checks = &ctx.play.batch_check;
        let active = self.active(hosts);
        if checks.is_empty() || active.is_empty() {
            return false;
        }
        self.walk = Walk {
            pos: vec![list],
            ..Walk::default()
        };
        let ended = self.run_items(ctx, checks, &active).await;
        // What the checks notified (a load balancer to reload once the
        // host is back in it) runs now, as after any section.
        if !ended {
            self.flush_handlers(ctx, &active).await;
        }
        let mut failed = false;
        for h in &active {
            let Some(st) = self.states.get(h) else {
                continue;
            };
            if !st.failed && !st.unreachable {
                continue;
            }
            failed = true;
            let (task, msg) = match &st.last_failure {
                Some((task, result)) => (
                    task.get_attr("name")
                        .ok()
                        .filter(|n| !n.is_undefined() && !n.is_none())
                        .map(|n| py_str(&n))
                        .unwrap_or_default(),
                    result
                        .get_attr("msg")
                        .ok()
                        .filter(|m| !m.is_undefined() && !m.is_none())
                        .map(|m| py_str(&m))
                        .unwrap_or_default(),
                ),
                None => (String::new(), "the host became unreachable".to_owned()),
            };
            self.gate_failures.push(GateFailure {
                host: h.clone(),
                task,
                msg,
            });
        }
        if failed {
            self.abort_play = true;
        }
        ended
    }

    /// The free strategy: every host runs the play in its own lane (its
    /// own executor holding only its state), all lanes at once, bounded by
    /// the batch's forks; the states come back when every lane is done.
    async fn run_free(&mut self, ctx: &PlayCtx<'_>, hosts: &[String]) {
        if ctx.play.max_fail_percentage.is_some() {
            self.reporter.warning_once("Using max_fail_percentage with the free strategy is not supported, as tasks are executed independently on each host");
        }
        if ctx.play.max_failures.is_some() {
            self.reporter.warning_once("Using max_failures with the free strategy is not supported, as tasks are executed independently on each host");
        }
        self.run_restored(ctx).await;
        let mut lane_hosts = self.active(hosts);
        for _ in 0..64 {
            self.run_lanes(ctx, &lane_hosts).await;
            // A lane ran `meta: clear_host_errors`: the hosts that failed
            // before it are forgiven, and those with a place to go back to
            // run the play again from there, each in its lane.
            let cleared = ctx.cleared_at.swap(0, Ordering::Relaxed);
            if cleared == 0 {
                break;
            }
            lane_hosts.clear();
            for h in hosts {
                let Some(st) = self.states.get_mut(h) else {
                    continue;
                };
                if !st.failed || st.unreachable || st.failed_at > cleared {
                    continue;
                }
                st.failed = false;
                st.forgiven = (st.stats.failed, st.stats.unreachable);
                match st.resume.take() {
                    Some(r) if r.failures == st.failures => {
                        st.dormant = Some(r);
                        lane_hosts.push(h.clone());
                    }
                    _ => st.ended = true,
                }
            }
            if lane_hosts.is_empty() {
                break;
            }
        }
        // The health gate waits for every lane: the batch's hosts check
        // together, as under the linear strategy.
        self.run_batch_check(ctx, hosts, 4).await;
    }

    /// Runs the play on `hosts`, each in its own lane.
    async fn run_lanes(&mut self, ctx: &PlayCtx<'_>, hosts: &[String]) {
        self.publish_all();
        let taken: Vec<HostState> = hosts.iter().filter_map(|h| self.take_state(h)).collect();
        let reporters: Vec<Reporter> = taken.iter().map(|_| self.reporter.lane()).collect();
        let contexts: Vec<PlayCtx<'_>> = reporters.iter().map(|r| ctx.lane(r)).collect();
        let mut lanes: Vec<Executor<'_>> = taken
            .into_iter()
            .zip(&reporters)
            .map(|(st, r)| self.lane(r, st))
            .collect();
        let runs = lanes
            .iter_mut()
            .zip(&contexts)
            .map(|(lane, lctx)| async move {
                let _pinned = match lctx.pinned {
                    true => Some(lctx.limits.forks.acquire().await),
                    false => None,
                };
                let own: Vec<String> = lane.states.keys().cloned().collect();
                lane.run_tasks(lctx, &own).await;
            });
        join_all(runs).await;
        self.merge_lanes(lanes);
    }

    /// A host's state, moved out (for a lane) with a placeholder left.
    fn take_state(&mut self, h: &str) -> Option<HostState> {
        let st = self.states.get_mut(h)?;
        let placeholder = HostState::new(h, st.inv_vars.clone());
        Some(std::mem::replace(st, placeholder))
    }

    /// The lanes' host states back, with what the lanes changed.
    fn merge_lanes(&mut self, lanes: Vec<Executor<'_>>) {
        for lane in lanes {
            self.abort_play |= lane.abort_play;
            self.abort_run |= lane.abort_run;
            self.started |= lane.started;
            for (name, st) in lane.states {
                self.states.insert(name, st);
            }
        }
        if let Ok(mut board) = self.board.lock() {
            board.clear();
        }
        // Lanes may have changed the inventory (group_by, refresh_inventory).
        let all: Vec<String> = self.states.keys().cloned().collect();
        self.rebuild_inventory_views(all);
        self.deliver_facts();
        self.collect_facts();
    }

    /// An executor for one host's lane: it shares the run's inventory,
    /// caches, connections and facts mailboxes, and holds only `st`.
    fn lane<'b>(&self, reporter: &'b Reporter, st: HostState) -> Executor<'b>
    where
        'a: 'b,
    {
        let mut states = IndexMap::new();
        states.insert(st.name.clone(), st);
        Executor {
            inventory: self.inventory.clone(),
            templar: self.templar.clone(),
            opts: self.opts,
            reporter,
            states,
            groups: self.groups.clone(),
            pool: self.pool.clone(),
            inv_cache: self.inv_cache.clone(),
            board: self.board.clone(),
            lane: true,
            inbox: self.inbox.clone(),
            abort_play: false,
            abort_run: false,
            rescue_depth: 0,
            deferred_depth: 0,
            include_depth: 0,
            walk: Walk::default(),
            started: self.started,
            fatal: None,
            gate_failures: Vec::new(),
            restored: Vec::new(),
            journal_plays: Vec::new(),
            pending_would_run: false,
        }
    }

    /// The free strategy: every host's variables, for the lanes' hostvars.
    fn publish_all(&self) {
        if let Ok(mut board) = self.board.lock() {
            for (name, st) in &self.states {
                board.insert(name.clone(), HostSnapshot::of(st));
            }
        }
    }

    /// Facts other hosts' tasks left in the inbox for hosts held here.
    fn collect_facts(&mut self) {
        let Ok(mut inbox) = self.inbox.lock() else {
            return;
        };
        for (name, st) in self.states.iter_mut() {
            if let Some(set) = inbox.shift_remove(name) {
                st.absorb(set);
            }
        }
    }

    /// Hosts of `hosts` that can still run tasks.
    fn active(&self, hosts: &[String]) -> Vec<String> {
        hosts
            .iter()
            .filter(|h| {
                self.states
                    .get(*h)
                    .is_some_and(|s| !s.failed && !s.unreachable && !s.ended && s.dormant.is_none())
            })
            .cloned()
            .collect()
    }

    /// Runs a task list on `hosts`; true when the play was ended
    /// (`meta: end_play`, no hosts left, any_errors_fatal).
    async fn run_items(&mut self, ctx: &PlayCtx<'_>, items: &[Item], hosts: &[String]) -> bool {
        for (i, item) in items.iter().enumerate() {
            if ctx.over.load(Ordering::Relaxed) {
                for st in self.states.values_mut() {
                    st.ended = true;
                }
                return true;
            }
            let removed: Vec<String> = ctx
                .all_hosts
                .iter()
                .filter(|h| {
                    self.states
                        .get(*h)
                        .is_some_and(|s| s.failed || s.unreachable)
                })
                .cloned()
                .collect();
            if let Ok(mut r) = ctx.removed.write() {
                *r = removed;
            }
            if !self.walk.part {
                // ansible-core groups a file's consecutive tasks (imports
                // and includes too) into a block; `block:`s and roles stand
                // on their own.
                let own = |x: &Item| matches!(x, Item::Block(b) if b.kind != BlockKind::Import);
                self.walk.group_end = match item {
                    x if own(x) => i,
                    _ => items[i..]
                        .iter()
                        .position(own)
                        .map_or(items.len() - 1, |k| i + k - 1),
                };
            }
            self.walk.pos.push(i);
            let ended = match item {
                Item::Task(task) => self.run_task(ctx, task, hosts).await,
                Item::Block(block) => Box::pin(self.run_block(ctx, block, hosts)).await,
                Item::Include(task) => Box::pin(self.run_include(ctx, task, hosts)).await,
                Item::IncludeRole(task, role_items) => {
                    Box::pin(self.run_include_role(ctx, task, role_items, hosts)).await
                }
            };
            // Revived hosts whose place this is join the walk.
            for h in hosts {
                if let Some(st) = self.states.get_mut(h)
                    && st
                        .dormant
                        .as_ref()
                        .is_some_and(|r| r.after == self.walk.pos)
                {
                    st.dormant = None;
                }
            }
            self.walk.pos.pop();
            if ended {
                return true;
            }
        }
        false
    }

    /// Revived hosts of `hosts` whose place is below the current item.
    fn resuming_below(&self, hosts: &[String], part: Option<usize>) -> Vec<String> {
        let mut below = self.walk.pos.clone();
        below.extend(part);
        hosts
            .iter()
            .filter(|h| {
                self.states.get(*h).is_some_and(|st| {
                    st.dormant
                        .as_ref()
                        .is_some_and(|r| r.after.len() > below.len() && r.after.starts_with(&below))
                })
            })
            .cloned()
            .collect()
    }

    /// Where a host failing at the current item would pick up again, if
    /// anywhere: after the block it fails in — a `block:`, or the run of
    /// tasks of a file it is in — unless that block is one of the play's
    /// own.
    fn resume_here(&self) -> Option<Resume> {
        if self.walk.depth == 0 {
            return None;
        }
        let n = self.walk.pos.len();
        let after = if self.walk.part {
            self.walk.pos.get(..n.checked_sub(2)?)?.to_vec()
        } else {
            let mut after = self.walk.pos.get(..n.checked_sub(1)?)?.to_vec();
            after.push(self.walk.group_end);
            after
        };
        Some(Resume {
            after,
            captures: self.walk.captures.clone(),
            failures: 0,
        })
    }

    /// Records where the hosts of `hosts` that failed at the current item
    /// would pick up again.
    fn record_failures(&mut self, hosts: &[String]) {
        let resume = self.resume_here();
        for h in hosts {
            if let Some(st) = self.states.get_mut(h)
                && st.failed
            {
                st.resume = resume.clone().map(|r| Resume {
                    failures: st.failures,
                    ..r
                });
            }
        }
    }

    /// Runs an include's items (the included file, or the role) on
    /// `hosts`, one level below the include.
    async fn run_included(
        &mut self,
        ctx: &PlayCtx<'_>,
        items: Arc<Vec<Item>>,
        hosts: &[String],
    ) -> bool {
        let saved = (self.walk.depth, self.walk.part);
        self.walk.depth += 1;
        self.walk.part = false;
        self.walk
            .captures
            .push((self.walk.pos.clone(), items.clone()));
        let ended = self.run_items(ctx, &items, hosts).await;
        self.walk.captures.pop();
        (self.walk.depth, self.walk.part) = saved;
        ended
    }

    /// Revived hosts whose place is inside this include go back into the
    /// items it gave them.
    async fn resume_included(&mut self, ctx: &PlayCtx<'_>, hosts: &[String]) -> bool {
        let mut groups: Vec<(Arc<Vec<Item>>, Vec<String>)> = Vec::new();
        for h in self.resuming_below(hosts, None) {
            let Some(items) = self.states.get(&h).and_then(|st| {
                let r = st.dormant.as_ref()?;
                let (_, items) = r.captures.iter().find(|(p, _)| *p == self.walk.pos)?;
                Some(items.clone())
            }) else {
                continue;
            };
            match groups.iter_mut().find(|(i, _)| Arc::ptr_eq(i, &items)) {
                Some((_, hs)) => hs.push(h),
                None => groups.push((items, vec![h])),
            }
        }
        for (items, group_hosts) in groups {
            if self.run_included(ctx, items, &group_hosts).await {
                return true;
            }
        }
        false
    }

    async fn run_task(&mut self, ctx: &PlayCtx<'_>, task: &Task, hosts: &[String]) -> bool {
        crate::interrupt::checkpoint().await;
        if !self.started {
            // As ansible-playbook matches: the task's name, or `role : name`.
            let wanted = ctx.opts.start_at_task.as_deref().unwrap_or_default();
            if task.name.as_deref() == Some(wanted) || task.display_name() == wanted {
                self.started = true;
            } else {
                return false;
            }
        }
        if !selected_by_tags(task, ctx) {
            return false;
        }
        let pending = self.role_pending(task, hosts);
        let hosts = pending.as_slice();
        if task.module.spec().name == "meta" {
            return self.run_meta(ctx, task, hosts).await;
        }
        let active = self.active(hosts);
        if active.is_empty() {
            return false;
        }
        self.banner(ctx, task, false, active.first());
        if ctx.free {
            let ended = self.run_task_free(ctx, task, &active).await;
            self.record_failures(&active);
            return ended;
        }
        // pause bypasses the host loop: the first host runs it, alone.
        let bypass = task.module.spec().name == "pause";
        if bypass {
            self.announce_pause(ctx, task, &active[0]);
        }
        // add_host bypasses the host loop (runs once) unless it loops.
        let run_once = bypass
            || (task.module.spec().name == "add_host" && task.loop_.is_none())
            || match (
                task.run_once.as_ref().or(ctx.play.run_once.as_ref()),
                self.states.get(&active[0]),
            ) {
                (Some(v), Some(st)) => {
                    value_bool(v, &task_scope(ctx, st, Some(task))).unwrap_or(false)
                }
                _ => false,
            };
        if run_once {
            // One host runs it; every host gets its registered result and facts.
            let first = active[0].clone();
            let before = self.states.get(&first).map(FactSet::of);
            self.run_on_hosts(ctx, task, std::slice::from_ref(&first))
                .await;
            let Some(st) = self.states.get(&first) else {
                return false;
            };
            let failed = st.failed;
            let changed = FactSet::of(st).changed_since(before.as_ref());
            for h in active.iter().skip(1).filter(|_| !bypass) {
                if let Some(st) = self.states.get_mut(h) {
                    st.absorb(changed.clone());
                    if failed {
                        st.failed = true;
                    }
                }
            }
        } else {
            self.run_on_hosts(ctx, task, &active).await;
        }
        self.record_failures(&active);
        self.refresh_inventory_changes(ctx);
        let failed = self.count_down(&ctx.play_hosts);
        let too_many = ctx
            .play
            .max_fail_percentage
            .is_some_and(|pct| failed as f64 * 100.0 / ctx.play_hosts.len().max(1) as f64 > pct);
        // `max_failures`: the play's budget, counted over all its batches.
        let over_budget = ctx.play.max_failures.is_some_and(|budget| {
            u64::try_from(self.count_down(&ctx.all_hosts)).unwrap_or(u64::MAX) > budget
        });
        if over_budget
            && !too_many
            && let Some(budget) = ctx.play.max_failures
        {
            self.reporter.error(&format!(
                "more hosts of the play failed than max_failures ({budget}) allows; the play stops"
            ));
        }
        let too_many = too_many || over_budget;
        let fatal = ctx.play.any_errors_fatal
            && active
                .iter()
                .any(|h| self.states.get(h).is_some_and(|s| s.failed));
        if fatal && !too_many && self.rescue_depth > 0 {
            // Inside a block with a rescue, ansible-core sends every host
            // of the task to the rescue instead of ending the play; the
            // hosts that did not fail are neither failed nor rescued.
            for h in &active {
                if let Some(st) = self.states.get_mut(h)
                    && !st.failed
                    && !st.unreachable
                {
                    st.failed = true;
                    st.swept = true;
                }
            }
            return false;
        }
        if too_many || fatal {
            self.abort_play = true;
            self.abort_run = true;
            for h in &ctx.play_hosts {
                if let Some(s) = self.states.get_mut(h) {
                    s.ended = true;
                }
            }
            return true;
        }
        false
    }

    /// A task in a lane of the free strategy: run_once and
    /// any_errors_fatal cannot apply (ansible-core warns and runs the task
    /// anyway), add_host cannot run, and no failure count ends the play.
    async fn run_task_free(&mut self, ctx: &PlayCtx<'_>, task: &Task, hosts: &[String]) -> bool {
        if task.module.spec().name == "add_host" {
            for h in hosts {
                if let Some(st) = self.states.get_mut(h) {
                    fail_host_task(
                        ctx,
                        task,
                        st,
                        &located(task, crate::playbook::ADD_HOST_FREE),
                    );
                }
            }
            return false;
        }
        let run_once = match (
            task.run_once.as_ref().or(ctx.play.run_once.as_ref()),
            hosts.first().and_then(|h| self.states.get(h)),
        ) {
            (Some(v), Some(st)) => value_bool(v, &task_scope(ctx, st, Some(task))).unwrap_or(false),
            _ => false,
        };
        if run_once {
            self.reporter.warning_once("Using run_once with the free strategy is not currently supported. This task will still be executed for every host in the inventory list.");
        }
        if ctx.play.any_errors_fatal {
            self.reporter.warning_once("Using any_errors_fatal with the free strategy is not supported, as tasks are executed independently on each host");
        }
        self.run_on_hosts(ctx, task, hosts).await;
        self.refresh_inventory_changes(ctx);
        // Let the other lanes on (a task may finish without waiting).
        tokio::task::yield_now().await;
        false
    }

    /// `block` / `rescue` / `always`, as Ansible runs them.
    async fn run_block(&mut self, ctx: &PlayCtx<'_>, block: &Block, hosts: &[String]) -> bool {
        // Revived hosts whose place is inside come along, and join there.
        let below = self.resuming_below(hosts, None);
        let active = self.active(hosts);
        let entered: Vec<String> = hosts
            .iter()
            .filter(|h| active.contains(h) || below.contains(h))
            .cloned()
            .collect();
        if entered.is_empty() {
            return false;
        }
        let outer = (self.walk.depth, self.walk.part);
        let inner = match block.kind {
            BlockKind::Explicit if outer.1 => (outer.0 + 1, true),
            BlockKind::Explicit => (outer.0, true),
            BlockKind::Import => (outer.0 + 1, false),
            BlockKind::Role => (outer.0, false),
        };
        let rescuable = usize::from(!block.rescue.is_empty());
        self.rescue_depth += rescuable;
        let mut ended = self.run_part(ctx, &block.block, &entered, 0, inner).await;
        self.rescue_depth -= rescuable;
        let failed: Vec<String> = entered
            .iter()
            .filter(|h| {
                self.states
                    .get(*h)
                    .is_some_and(|s| s.failed && !s.unreachable)
            })
            .cloned()
            .collect();
        if !ended && !block.rescue.is_empty() && !failed.is_empty() {
            for h in &failed {
                if let Some(st) = self.states.get_mut(h) {
                    st.failed = false;
                    if std::mem::take(&mut st.swept) {
                        continue;
                    }
                    st.stats.failed = st.stats.failed.saturating_sub(1);
                    // ansible-core counts a host as rescued when it enters
                    // the rescue, whether or not the rescue then succeeds.
                    st.stats.rescued += 1;
                    if let Some((task, result)) = st.last_failure.clone() {
                        st.facts_extend(
                            [
                                ("ansible_failed_task".to_owned(), task),
                                ("ansible_failed_result".to_owned(), result),
                            ]
                            .into_iter()
                            .collect(),
                        );
                    }
                }
            }
            let below = self.resuming_below(hosts, Some(1));
            let rescuing: Vec<String> = hosts
                .iter()
                .filter(|h| failed.contains(h) || below.contains(h))
                .cloned()
                .collect();
            ended = self.run_part(ctx, &block.rescue, &rescuing, 1, inner).await;
        }
        if !block.always.is_empty() {
            // always runs on every host that entered, failed or not.
            let still_failed: Vec<String> = entered
                .iter()
                .filter(|h| {
                    self.states
                        .get(*h)
                        .is_some_and(|s| s.failed && !s.unreachable)
                })
                .cloned()
                .collect();
            let mut failures = Vec::new();
            for h in &still_failed {
                if let Some(st) = self.states.get_mut(h) {
                    st.failed = false;
                    st.cleared = false;
                    failures.push(st.failures);
                }
            }
            let always_ended = self.run_part(ctx, &block.always, &entered, 2, inner).await;
            for (h, before) in still_failed.iter().zip(failures) {
                if let Some(st) = self.states.get_mut(h) {
                    // meta: clear_host_errors in the always lets it go on.
                    st.failed = !std::mem::take(&mut st.cleared);
                    // Revived later, it goes on after this block (even a
                    // block of the play's own), unless the always failed.
                    if st.failed && st.failures == before {
                        st.resume = Some(Resume {
                            after: self.walk.pos.clone(),
                            captures: self.walk.captures.clone(),
                            failures: st.failures,
                        });
                    }
                }
            }
            ended |= always_ended;
        }
        if let Some(role) = &block.role {
            // The role's implicit `role_complete`: on the hosts that got
            // here with one of its tasks run.
            for h in &entered {
                if let Some(st) = self.states.get_mut(h)
                    && !st.failed
                    && !st.unreachable
                    && !st.ended
                    && st.roles_ran.contains(&role.key)
                {
                    st.roles_done.insert(role.key.clone());
                }
            }
        }
        ended
    }

    /// `include_tasks`: per host, the file (and loop item) it names; hosts
    /// including the same file with the same item run it together.
    /// One part (0 block, 1 rescue, 2 always) of a block, with the walk's
    /// depth and list kind inside it.
    async fn run_part(
        &mut self,
        ctx: &PlayCtx<'_>,
        items: &[Item],
        hosts: &[String],
        part: usize,
        (depth, in_part): (usize, bool),
    ) -> bool {
        let saved = (self.walk.depth, self.walk.part);
        (self.walk.depth, self.walk.part) = (depth, in_part);
        self.walk.pos.push(part);
        let ended = self.run_items(ctx, items, hosts).await;
        self.walk.pos.pop();
        (self.walk.depth, self.walk.part) = saved;
        ended
    }

    async fn run_include(&mut self, ctx: &PlayCtx<'_>, task: &Task, hosts: &[String]) -> bool {
        // Revived hosts go back into what the include gave them, after the
        // others have run it.
        let resumed = self.resuming_below(hosts, None);
        let fresh: Vec<String> = hosts
            .iter()
            .filter(|h| !resumed.contains(h))
            .cloned()
            .collect();
        if self.run_include_fresh(ctx, task, &fresh).await {
            return true;
        }
        self.resume_included(ctx, hosts).await
    }

    async fn run_include_fresh(
        &mut self,
        ctx: &PlayCtx<'_>,
        task: &Task,
        hosts: &[String],
    ) -> bool {
        if !selected_by_tags(task, ctx) {
            return false;
        }
        let active = self.active(&self.role_pending(task, hosts));
        if active.is_empty() {
            return false;
        }
        self.banner(ctx, task, false, active.first());
        let (active, censored) = self.include_hosts(ctx, task, active);
        // (path, item label, item) -> hosts, in first-seen order.
        let mut groups: IndexMap<(PathBuf, String), IncludeGroup> = IndexMap::new();
        for h in &active {
            let Some(st) = self.states.get(h) else {
                continue;
            };
            let scope = task_scope(ctx, st, Some(task));
            // A looped include checks `when` per item, as Ansible does.
            let looped = task.loop_.is_some();
            match eval_when(task, &scope) {
                _ if looped => {}
                Ok(true) => {}
                Ok(false) => {
                    self.include_skipped(h);
                    continue;
                }
                Err(e) => {
                    self.include_failed(ctx, task, h, &located(task, &e));
                    continue;
                }
            }
            let items: Vec<Option<Value>> = match &task.loop_ {
                None => vec![None],
                Some(_) => match loop_items(task, &scope) {
                    Ok(items) => items.into_iter().map(Some).collect(),
                    Err(e) => {
                        self.include_failed(ctx, task, h, &located(task, &e));
                        continue;
                    }
                },
            };
            if items.is_empty() {
                // An empty loop skips the include, as in Ansible.
                self.include_skipped(h);
                continue;
            }
            // The loop with a templated loop_var/index_var rendered.
            let resolved = match resolved_loop(task, &scope) {
                Ok(l) => l,
                Err(e) => {
                    self.include_failed(ctx, task, h, &located(task, &e));
                    continue;
                }
            };
            let mut failed = false;
            let mut count = 0;
            for (index, item) in items.into_iter().enumerate() {
                let (item_scope, extra) = match (&item, &resolved) {
                    (Some(v), Some(lp)) => {
                        let extra = loop_vars(lp, v, index);
                        (scope.with_extra(extra.clone()), extra)
                    }
                    _ => (scope.clone(), Vec::new()),
                };
                if let (true, Some(v)) = (looped, &item) {
                    match eval_when(task, &item_scope) {
                        Ok(true) => {}
                        Ok(false) => {
                            let label = item_label(task, &item_scope, v);
                            self.include_item_skipped(h, &label);
                            continue;
                        }
                        Err(e) => {
                            self.include_failed(ctx, task, h, &located(task, &e));
                            failed = true;
                            break;
                        }
                    }
                }
                count += 1;
                let file = task
                    .args
                    .get("file")
                    .or_else(|| task.args.get("_raw_params"));
                let name = match file.map(|f| item_scope.render_value(f)) {
                    Some(Ok(v)) => py_str(&v),
                    Some(Err(e)) => {
                        self.include_failed(ctx, task, h, &located(task, &undefined_opt(&e)));
                        failed = true;
                        break;
                    }
                    None => String::new(),
                };
                let Some(path) =
                    crate::playbook::resolve_task_file(&name, &task.dir, &ctx.playbook_dir)
                else {
                    self.include_failed(
                        ctx,
                        task,
                        h,
                        &located(task, &format!("Could not find or access '{name}'")),
                    );
                    failed = true;
                    break;
                };
                let label = item
                    .as_ref()
                    .map(|v| item_label(task, &item_scope, v))
                    .unwrap_or_default();
                groups
                    .entry((path, label))
                    .or_insert_with(|| (extra, Vec::new()))
                    .1
                    .push(h.clone());
            }
            // A looped include is one ok per included item, as in Ansible;
            // when every item was skipped, the include is skipped.
            if !failed {
                self.include_counted(task, h, count);
            }
        }
        // Ansible reports every include, then runs them one after another.
        for ((path, label), (_, group_hosts)) in &groups {
            self.reporter.included(
                &path.display().to_string(),
                group_hosts,
                include_label(label, censored),
            );
        }
        for ((path, _), (extra, group_hosts)) in groups {
            if self.include_depth >= MAX_INCLUDE_DEPTH {
                let msg = located(
                    task,
                    &format!(
                        "include_tasks nests too deeply (more than {MAX_INCLUDE_DEPTH} levels): {} includes itself, directly or through other files, without end",
                        path.display()
                    ),
                );
                for h in &group_hosts {
                    self.include_failed(ctx, task, h, &msg);
                }
                continue;
            }
            let mut items =
                match crate::playbook::load_task_file(&path, &ctx.playbook_dir, &ctx.templar) {
                    Ok(items) => items,
                    Err(diags) => {
                        let text: String = diags.iter().map(|d| d.to_string()).collect();
                        for h in &group_hosts {
                            self.include_failed(ctx, task, h, &text);
                        }
                        continue;
                    }
                };
            // The include's vars and loop item reach every included task
            // (as include parameters); its `when` and `tags` applied to the
            // include itself only. Tasks included from a role's task file
            // belong to that role.
            let mut inherit = include_inherit(task);
            inherit.params.extend(extra);
            inherit.apply(&mut items);
            if let Some(role) = &task.role {
                crate::playbook::set_role(&mut items, role);
            }
            self.include_depth += 1;
            let ended = self.run_included(ctx, Arc::new(items), &group_hosts).await;
            self.include_depth -= 1;
            if ended {
                return true;
            }
        }
        false
    }

    /// `include_role`: its `when` once per host, then the role's tasks on
    /// the hosts that pass, with the include's vars and `apply` keywords.
    async fn run_include_role(
        &mut self,
        ctx: &PlayCtx<'_>,
        task: &Task,
        items: &[Item],
        hosts: &[String],
    ) -> bool {
        if task.deferred {
            return Box::pin(self.run_deferred_role(ctx, task, hosts)).await;
        }
        let resumed = self.resuming_below(hosts, None);
        let fresh: Vec<String> = hosts
            .iter()
            .filter(|h| !resumed.contains(h))
            .cloned()
            .collect();
        if self.run_include_role_fresh(ctx, task, items, &fresh).await {
            return true;
        }
        self.resume_included(ctx, hosts).await
    }

    /// ansible-core's announcement of a timed pause, before it waits.
    fn announce_pause(&self, ctx: &PlayCtx<'_>, task: &Task, first: &str) {
        let Some(st) = self.states.get(first) else {
            return;
        };
        let scope = task_scope(ctx, st, Some(task));
        let mut raw: IndexMap<String, Value> = IndexMap::new();
        for (k, v) in &task.args {
            if let Ok(r) = scope.render_value(v) {
                raw.insert(k.clone(), r);
            }
        }
        let Ok(args) = crate::modules::Args::bind(task.module.spec(), &raw) else {
            return;
        };
        if let Ok(Some(secs)) = crate::modules::pause::pause_seconds(&args) {
            let mut text = format!("Pausing for {secs} seconds\n");
            if args.get("prompt").is_some() {
                text.push_str("(ctrl+C then 'C' = continue early, ctrl+C then 'A' = abort)\r\n");
            }
            self.reporter.note(&text);
        }
    }

    /// An `include_role` of a role that includes itself: the role is
    /// loaded now, then runs as any include_role.
    async fn run_deferred_role(
        &mut self,
        ctx: &PlayCtx<'_>,
        task: &Task,
        hosts: &[String],
    ) -> bool {
        let loaded = if self.deferred_depth >= 64 {
            Err("include_role nests too deeply: the role includes itself without end".to_owned())
        } else {
            crate::playbook::load_included_role(task, &task.span, &ctx.playbook_dir, &ctx.templar)
                .map_err(|diags| diags.iter().map(|d| d.to_string()).collect())
        };
        match loaded {
            Ok(items) => {
                let mut now = task.clone();
                now.deferred = false;
                self.deferred_depth += 1;
                let ended = self.run_include_role(ctx, &now, &items, hosts).await;
                self.deferred_depth -= 1;
                ended
            }
            Err(msg) => {
                if !selected_by_tags(task, ctx) {
                    return false;
                }
                let active = self.active(hosts);
                if active.is_empty() {
                    return false;
                }
                self.banner(ctx, task, false, active.first());
                for h in &active {
                    self.include_failed(ctx, task, h, &msg);
                }
                false
            }
        }
    }

    async fn run_include_role_fresh(
        &mut self,
        ctx: &PlayCtx<'_>,
        task: &Task,
        items: &[Item],
        hosts: &[String],
    ) -> bool {
        if !selected_by_tags(task, ctx) {
            return false;
        }
        let active = self.active(&self.role_pending(task, hosts));
        if active.is_empty() {
            return false;
        }
        self.banner(ctx, task, false, active.first());
        let (active, censored) = self.include_hosts(ctx, task, active);
        let role = task
            .args
            .get("name")
            .or_else(|| task.args.get("role"))
            .map(py_str)
            .unwrap_or_default();
        // item label -> (loop var binding, hosts), in first-seen order.
        let mut groups: IndexMap<String, IncludeGroup> = IndexMap::new();
        for h in active {
            let Some(st) = self.states.get(&h) else {
                continue;
            };
            let scope = task_scope(ctx, st, Some(task));
            let looped = task.loop_.is_some();
            match eval_when(task, &scope) {
                _ if looped => {}
                Ok(true) => {}
                Ok(false) => {
                    self.include_skipped(&h);
                    continue;
                }
                Err(e) => {
                    self.include_failed(ctx, task, &h, &located(task, &e));
                    continue;
                }
            }
            let loop_items: Vec<Option<Value>> = match &task.loop_ {
                None => vec![None],
                Some(_) => match loop_items(task, &scope) {
                    Ok(items) => items.into_iter().map(Some).collect(),
                    Err(e) => {
                        self.include_failed(ctx, task, &h, &located(task, &e));
                        continue;
                    }
                },
            };
            if loop_items.is_empty() {
                self.include_skipped(&h);
                continue;
            }
            let resolved = match resolved_loop(task, &scope) {
                Ok(l) => l,
                Err(e) => {
                    self.include_failed(ctx, task, &h, &located(task, &e));
                    continue;
                }
            };
            let mut count = 0;
            let mut failed = false;
            for (index, item) in loop_items.into_iter().enumerate() {
                let (label, extra) = match (&item, &resolved) {
                    (Some(v), Some(lp)) => {
                        let extra = loop_vars(lp, v, index);
                        let item_scope = scope.with_extra(extra.clone());
                        let label = item_label(task, &item_scope, v);
                        match eval_when(task, &item_scope) {
                            Ok(true) => {}
                            Ok(false) => {
                                self.include_item_skipped(&h, &label);
                                continue;
                            }
                            Err(e) => {
                                self.include_failed(ctx, task, &h, &located(task, &e));
                                failed = true;
                                break;
                            }
                        }
                        (label, extra)
                    }
                    _ => (String::new(), Vec::new()),
                };
                count += 1;
                groups
                    .entry(label)
                    .or_insert_with(|| (extra, Vec::new()))
                    .1
                    .push(h.clone());
            }
            if !failed {
                self.include_counted(task, &h, count);
            }
        }
        for (label, (_, group_hosts)) in &groups {
            self.reporter
                .included(&role, group_hosts, include_label(label, censored));
        }
        if task
            .args
            .get("public")
            .and_then(crate::modules::args::to_bool)
            == Some(true)
        {
            self.publish_roles(items, &groups);
        }
        for (_, (extra, group_hosts)) in groups {
            let mut items = items.to_vec();
            let mut inherit = include_inherit(task);
            inherit.params.extend(extra);
            inherit.apply(&mut items);
            if self.run_included(ctx, Arc::new(items), &group_hosts).await {
                return true;
            }
        }
        false
    }

    /// The hosts an include runs for (only the first with `run_once`), and
    /// whether its `no_log` hides its item labels.
    fn include_hosts(
        &self,
        ctx: &PlayCtx<'_>,
        task: &Task,
        active: Vec<String>,
    ) -> (Vec<String>, bool) {
        let Some(st) = active.first().and_then(|h| self.states.get(h)) else {
            return (active, false);
        };
        let scope = task_scope(ctx, st, Some(task));
        let no_log = is_no_log(ctx, task, &scope);
        let once = task
            .run_once
            .as_ref()
            .or(ctx.play.run_once.as_ref())
            .is_some_and(|v| value_bool(v, &scope).unwrap_or(false));
        match (once, active.first()) {
            (true, Some(first)) => (vec![first.clone()], no_log),
            _ => (active, no_log),
        }
    }

    /// `include_role` with `public: true`: the role (and its
    /// dependencies) publish their defaults and vars to the rest of the
    /// play on the hosts that include it.
    fn publish_roles(&mut self, items: &[Item], groups: &IndexMap<String, IncludeGroup>) {
        let mut roles: Vec<Arc<RoleCtx>> = Vec::new();
        for t in items.iter().flat_map(Item::tasks) {
            if let Some(r) = &t.role
                && !roles.iter().any(|x| Arc::ptr_eq(x, r))
            {
                roles.push(r.clone());
            }
        }
        for h in groups.values().flat_map(|(_, hosts)| hosts) {
            if let Some(st) = self.states.get_mut(h) {
                for r in &roles {
                    if !st.public_roles.iter().any(|x| Arc::ptr_eq(x, r)) {
                        st.public_roles.push(r.clone());
                    }
                }
            }
        }
    }

    /// An include whose `when` is false on a host.
    fn include_skipped(&mut self, host: &str) {
        let r = false_condition_skip();
        self.reporter
            .result(host, Status::Skipped, None, &r, false, false);
        if let Some(st) = self.states.get_mut(host) {
            st.stats.skipped += 1;
        }
    }

    /// One loop item of an include whose `when` is false on a host.
    fn include_item_skipped(&mut self, host: &str, label: &str) {
        let r = false_condition_skip();
        self.reporter
            .result(host, Status::Skipped, Some(label), &r, false, false);
    }

    /// A (looped) include ran `count` items on a host: one ok each, as
    /// ansible-core counts; none at all (every item skipped) is a skip.
    fn include_counted(&mut self, task: &Task, host: &str, count: u32) {
        if count == 0 {
            self.include_skipped(host);
        } else if let Some(st) = self.states.get_mut(host) {
            st.stats.ok += count;
            role_ran(st, task);
        }
    }

    /// `hosts` without those where the task's role has completed and
    /// may not run again: ansible-core passes over such a task for them
    /// without a word.
    fn role_pending(&self, task: &Task, hosts: &[String]) -> Vec<String> {
        let Some(role) = task.role.as_ref().filter(|r| !r.allow_duplicates) else {
            return hosts.to_vec();
        };
        hosts
            .iter()
            .filter(|h| {
                self.states
                    .get(*h)
                    .is_none_or(|st| !st.roles_done.contains(&role.key))
            })
            .cloned()
            .collect()
    }

    fn include_failed(&mut self, ctx: &PlayCtx<'_>, task: &Task, host: &str, msg: &str) {
        let _ = ctx;
        let mut r = IndexMap::new();
        r.insert("changed".into(), Value::from(false));
        r.insert("msg".into(), Value::from(msg));
        let ignored = false;
        self.reporter
            .result(host, Status::Failed, None, &r, false, ignored);
        let resume = self.resume_here();
        if let Some(st) = self.states.get_mut(host) {
            st.stats.failed += 1;
            st.failures += 1;
            st.failed_at = tick();
            st.failed = true;
            st.resume = resume.map(|r| Resume {
                failures: st.failures,
                ..r
            });
            st.last_failure = Some((
                vmap([
                    ("name", Value::from(task.name.clone().unwrap_or_default())),
                    ("action", Value::from(task.action.as_str())),
                ]),
                vmap(r),
            ));
        }
    }

    /// A meta task, as ansible-core's linear strategy runs it: a banner
    /// and the action per host for some actions, once (for the first
    /// host, whose `when` decides) for the others; a false `when` prints
    /// a skip that no stats count. True when the batch or play ended.
    async fn run_meta(&mut self, ctx: &PlayCtx<'_>, task: &Task, hosts: &[String]) -> bool {
        let action = task.args.get("_raw_params").map(py_str).unwrap_or_default();
        let active = self.active(hosts);
        let targets = if META_PER_HOST.contains(&action.as_str()) {
            active
        } else {
            active.into_iter().take(1).collect()
        };
        let mut flush = Vec::new();
        let mut ended = false;
        for h in targets {
            self.banner(ctx, task, false, Some(&h));
            if META_UNCONDITIONAL.contains(&action.as_str()) {
                if !task.when.is_empty() {
                    self.reporter
                        .warning_once(&format!("{action} task does not support when conditional"));
                }
            } else {
                let scope = match self.states.get(&h) {
                    Some(st) => task_scope(ctx, st, Some(task)),
                    None => continue,
                };
                match eval_when(task, &scope) {
                    Ok(true) => {}
                    Ok(false) => {
                        let r = meta_skipped(&action, &h);
                        self.reporter
                            .result(&h, Status::Skipped, None, &r, false, false);
                        continue;
                    }
                    Err(e) => {
                        self.include_failed(ctx, task, &h, &located(task, &e));
                        continue;
                    }
                }
            }
            match action.as_str() {
                "flush_handlers" => flush.push(h),
                "end_host" => {
                    self.state(&h).ended = true;
                    self.drop_pending(ctx, &h);
                }
                "reset_connection" => {
                    let st = self.state(&h);
                    st.become_conns.clear();
                    st.links.clear();
                }
                "clear_facts" => self.clear_facts(ctx),
                "clear_host_errors" => self.clear_host_errors(ctx),
                "refresh_inventory" => self.reload_inventory(),
                "end_batch" | "end_play" => {
                    for p in &ctx.play_hosts {
                        let Some(st) = self.states.get_mut(p) else {
                            continue;
                        };
                        st.ended = true;
                        // A host that failed before keeps what it owes.
                        if !st.failed && !st.unreachable {
                            self.drop_pending(ctx, p);
                        }
                    }
                    self.abort_play |= action == "end_play";
                    // Under the free strategy every lane stops.
                    ctx.over.store(true, Ordering::Relaxed);
                    ended = true;
                }
                // noop; end_role is accepted and does nothing yet.
                _ => {}
            }
        }
        if !flush.is_empty() {
            self.flush_handlers(ctx, &flush).await;
        }
        ended
    }

    /// `meta: clear_facts`: the gathered facts (and cacheable set_fact
    /// facts) of the play's hosts are forgotten; other set_fact variables
    /// stay.
    fn clear_facts(&mut self, ctx: &PlayCtx<'_>) {
        let mut inbox = self.inbox.lock().unwrap_or_else(|p| p.into_inner());
        for h in &ctx.all_hosts {
            if let Some(st) = self.states.get_mut(h) {
                st.gathered = Arc::new(IndexMap::new());
            }
            if let Some(set) = inbox.get_mut(h) {
                set.gathered.clear();
            }
        }
    }

    /// `meta: clear_host_errors`: the play's failed and unreachable hosts
    /// are no longer failed, so later plays run them; as in ansible-core
    /// they do not resume the current play.
    fn clear_host_errors(&mut self, ctx: &PlayCtx<'_>) {
        // Under the free strategy the other lanes' hosts are revived when
        // the lanes are done (see `run_free`).
        ctx.cleared_at.fetch_max(tick(), Ordering::Relaxed);
        for h in &ctx.all_hosts {
            if let Some(st) = self.states.get_mut(h) {
                // A host in a block's `always` after a failed rescue is
                // failing but still running: it goes on with the play.
                st.cleared = true;
                // What failed so far no longer fails the run.
                st.forgiven = (st.stats.failed, st.stats.unreachable);
                if st.failed || st.unreachable {
                    // A failed host with a place to go back to waits for
                    // the walk to reach it; the others are back for the
                    // next plays only.
                    let resume = st
                        .resume
                        .take()
                        .filter(|r| r.failures == st.failures && !st.unreachable);
                    let here = ctx.play_hosts.contains(h);
                    st.failed = false;
                    st.unreachable = false;
                    match resume {
                        Some(r) if here && !ctx.free => st.dormant = Some(r),
                        _ => st.ended |= here,
                    }
                }
            }
        }
    }

    /// Runs every handler some host was notified for, in definition order.
    async fn flush_handlers(&mut self, ctx: &PlayCtx<'_>, of: &[String]) {
        for (idx, handler) in ctx.play.handlers.iter().enumerate() {
            crate::interrupt::checkpoint().await;
            // A host that ended (end_host) runs no more handlers.
            let hosts: Vec<String> = of
                .iter()
                .filter(|h| {
                    self.states.get(*h).is_some_and(|s| {
                        s.notified.get(idx).copied().unwrap_or(false)
                            && !s.ended
                            && s.dormant.is_none()
                            && (ctx.play.force_handlers || (!s.failed && !s.unreachable))
                    })
                })
                .cloned()
                .collect();
            for h in &hosts {
                if let Some(st) = self.states.get_mut(h)
                    && let Some(n) = st.notified.get_mut(idx)
                {
                    *n = false;
                }
            }
            if hosts.is_empty() {
                continue;
            }
            self.banner(ctx, handler, true, hosts.first());
            self.run_on_hosts(ctx, handler, &hosts).await;
            // It ran (whatever it did): no longer pending.
            if let (Some(j), Some(key)) = (&self.opts.journal, &ctx.journal_key) {
                for h in &hosts {
                    j.ran(key, h, &handler_label(handler, idx));
                }
            }
        }
    }

    /// The play ended for `host` on purpose (`end_host`, `end_batch`,
    /// `end_play`): its notified handlers are dropped, not pending.
    fn drop_pending(&self, ctx: &PlayCtx<'_>, host: &str) {
        if let (Some(j), Some(key)) = (&self.opts.journal, &ctx.journal_key) {
            j.forget(key, host);
        }
    }

    /// Handlers an earlier run left pending for the batch's hosts, from
    /// the journal: marked notified (to run before the play's first
    /// section), or with `--forget-pending-handlers` dropped. The hosts
    /// that have some to run.
    fn restore_pending(&mut self, ctx: &PlayCtx<'_>, hosts: &[String]) -> Vec<String> {
        let (Some(j), Some(key)) = (&self.opts.journal, &ctx.journal_key) else {
            return Vec::new();
        };
        let mut restored = Vec::new();
        for h in hosts {
            let names = j.pending(key, h);
            if names.is_empty() {
                continue;
            }
            if self.opts.forget_pending {
                self.reporter.warning(&format!(
                    "{h}: forgetting handlers an earlier run left pending: {}",
                    names.join(", ")
                ));
                j.forget(key, h);
                continue;
            }
            let Some(st) = self.states.get_mut(h) else {
                continue;
            };
            let mut found = Vec::new();
            for name in &names {
                let idx = ctx
                    .play
                    .handlers
                    .iter()
                    .enumerate()
                    .position(|(i, t)| handler_label(t, i) == *name);
                match idx.and_then(|i| st.notified.get_mut(i)) {
                    Some(n) => {
                        *n = true;
                        found.push(name.clone());
                    }
                    None => {
                        self.reporter.warning(&format!(
                            "{h}: the play has no handler '{name}' any more, which an earlier run left pending; forgetting it"
                        ));
                        j.ran(key, h, name);
                    }
                }
            }
            if !found.is_empty() {
                self.reporter.warning(&format!(
                    "{h}: running first the handlers an earlier run left pending: {}",
                    found.join(", ")
                ));
                restored.push(h.clone());
            }
        }
        self.pending_would_run |= self.opts.check && !restored.is_empty();
        restored
    }

    /// What `hostvars` shows: every inventory host (also those no play
    /// has reached yet, with their inventory variables, as in Ansible),
    /// other lanes' hosts as they last left them, facts delegate_facts
    /// gave, and the hosts held here.
    fn hostvars_snapshot(&self) -> IndexMap<String, HostSnapshot> {
        let empty: Arc<IndexMap<String, Value>> = Arc::new(IndexMap::new());
        let mut snapshot: IndexMap<String, HostSnapshot> = IndexMap::new();
        let names = inv_read(&self.inventory).hosts();
        for name in names {
            let inv_vars = self.inv_vars(&name);
            snapshot.insert(name, HostSnapshot::new(&inv_vars, &empty, &empty));
        }
        if self.lane
            && let Ok(board) = self.board.lock()
        {
            snapshot.extend(board.iter().map(|(h, s)| (h.clone(), s.clone())));
        }
        let given: Vec<(String, FactSet)> = self
            .inbox
            .lock()
            .map(|i| i.iter().map(|(h, f)| (h.clone(), f.clone())).collect())
            .unwrap_or_default();
        for (name, set) in given {
            let mut st = HostState::new(&name, self.inv_vars(&name));
            if let Some(base) = snapshot.get(&name) {
                st.inv_vars = base.inv_vars.clone();
                st.gathered = base.gathered.clone();
                st.facts = base.facts.clone();
            }
            st.absorb(set);
            snapshot.insert(name, HostSnapshot::of(&st));
        }
        for (n, st) in &self.states {
            snapshot.insert(n.clone(), HostSnapshot::of(st));
        }
        snapshot
    }

    async fn run_on_hosts(&mut self, ctx: &PlayCtx<'_>, task: &Task, hosts: &[String]) {
        crate::interrupt::checkpoint().await;
        if self.lane {
            self.collect_facts();
        }
        let snapshot = self.hostvars_snapshot();
        let snapshot = Arc::new(snapshot);
        // Hosts start in the order given (the play's `order:`).
        let rank: HashMap<&str, usize> = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.as_str(), i))
            .collect();
        let mut running: Vec<(usize, &mut HostState)> = self
            .states
            .iter_mut()
            .filter_map(|(name, st)| rank.get(name.as_str()).map(|i| (*i, st)))
            .collect();
        running.sort_by_key(|(i, _)| *i);
        let mut futs = Vec::new();
        for (_, st) in running {
            let snapshot = snapshot.clone();
            futs.push(async move {
                // The task's throttle first, then a fork: no host holds a
                // fork while it waits for its turn at the task.
                let throttle = match throttle_of(ctx, task, st) {
                    Ok(t) => t,
                    Err(e) => return fail_host_task(ctx, task, st, &e),
                };
                let _turn = match &throttle {
                    Some(sem) => Some(sem.acquire().await),
                    None => None,
                };
                // A pinned lane holds its fork already.
                let _fork = match ctx.pinned {
                    true => None,
                    false => Some(ctx.limits.forks.acquire().await),
                };
                ctx.reporter.host_started(&st.name);
                run_host_task(ctx, task, st, snapshot).await;
                ctx.reporter.host_finished(&st.name);
            });
        }
        join_all(futs).await;
        self.deliver_facts();
        if self.lane {
            self.publish_all();
        }
    }
}

struct HostSnapshot {
    inv_vars: Arc<IndexMap<String, Value>>,
    gathered: Arc<IndexMap<String, Value>>,
    facts: Arc<IndexMap<String, Value>>,
    /// `hostvars[h]`'s variables, merged once per task for every host that
    /// asks (at N hosts each reading every other's, N copies, not N²). A
    /// clone (a later task's snapshot) merges again.
    merged: std::sync::OnceLock<Arc<IndexMap<String, Value>>>,
}

impl Clone for HostSnapshot {
    fn clone(&self) -> HostSnapshot {
        HostSnapshot::new(&self.inv_vars, &self.gathered, &self.facts)
    }
}

impl HostSnapshot {
    fn new(
        inv_vars: &Arc<IndexMap<String, Value>>,
        gathered: &Arc<IndexMap<String, Value>>,
        facts: &Arc<IndexMap<String, Value>>,
    ) -> HostSnapshot {
        HostSnapshot {
            inv_vars: inv_vars.clone(),
            gathered: gathered.clone(),
            facts: facts.clone(),
            merged: std::sync::OnceLock::new(),
        }
    }

    fn of(st: &HostState) -> HostSnapshot {
        HostSnapshot::new(&st.inv_vars, &st.gathered, &st.facts)
    }
}

/// The magic `hostvars`: every host's variables, built lazily.
struct HostVars {
    templar: Arc<Templar>,
    hosts: Arc<IndexMap<String, HostSnapshot>>,
    /// Extra vars: ansible-core's hostvars[h] has them (but not the play's
    /// or its roles' vars).
    extra: Arc<IndexMap<String, Value>>,
    /// For the magic variables hostvars[h] has (`group_names`, `groups`).
    inventory: Arc<RwLock<Inventory>>,
    groups: Value,
    cache: Mutex<HashMap<String, Value>>,
}

impl std::fmt::Debug for HostVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hostvars")
    }
}

impl Object for HostVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if let Some(v) = self.cache.lock().ok()?.get(name) {
            return Some(v.clone());
        }
        let snap = self.hosts.get(name)?;
        // ansible-core 2.19's hostvars[h]: h's inventory variables, facts,
        // set_fact/registered results, extra vars and some magic variables
        // (not play or role vars, nor the play-host lists). Everything
        // here is the same for every host of the task.
        let merged = snap.merged.get_or_init(|| {
            let mut vars = (*snap.inv_vars).clone();
            let pairs = |m: &Arc<IndexMap<String, Value>>| -> Vec<(String, Value)> {
                m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            };
            vars.extend(pairs(&snap.gathered));
            vars.extend(pairs(&snap.facts));
            vars.extend(pairs(&self.extra));
            vars.insert("groups".into(), self.groups.clone());
            let short = name.split('.').next().unwrap_or(name);
            vars.insert("inventory_hostname".into(), Value::from(name));
            vars.insert("inventory_hostname_short".into(), Value::from(short));
            let groups = inv_read(&self.inventory).group_names(name);
            vars.insert("group_names".into(), Value::from(groups));
            Arc::new(vars)
        });
        let scope = VarScope::shared(self.templar.clone(), merged.clone()).value();
        if let Ok(mut c) = self.cache.lock() {
            c.insert(name.to_owned(), scope.clone());
        }
        Some(scope)
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.hosts.keys().map(|k| Value::from(k.as_str())).collect())
    }
}

fn magic_vars(ctx: &PlayCtx<'_>, host: &str, hostvars: Option<Value>) -> Vec<(String, Value)> {
    let short = host.split('.').next().unwrap_or(host).to_owned();
    // As ansible-core: every host of the play (`--limit` applied, all
    // batches), those not failed, and those not failed in this batch.
    let removed = ctx.removed.read().map(|r| r.clone()).unwrap_or_default();
    let keep = |hosts: &[String]| -> Value {
        let kept = hosts.iter().filter(|h| !removed.contains(h));
        Value::from(kept.cloned().collect::<Vec<String>>())
    };
    let all_hosts = Value::from(ctx.all_hosts.clone());
    let active = keep(&ctx.all_hosts);
    let batch = keep(&ctx.play_hosts);
    let mut v = vec![
        ("inventory_hostname".to_owned(), Value::from(host)),
        ("inventory_hostname_short".to_owned(), Value::from(short)),
        (
            "group_names".to_owned(),
            Value::from(inv_read(&ctx.inventory).group_names(host)),
        ),
        (
            "groups".to_owned(),
            ctx.groups.read().map(|g| g.clone()).unwrap_or_default(),
        ),
        (
            "playbook_dir".to_owned(),
            Value::from(ctx.playbook_dir.display().to_string()),
        ),
        ("ansible_play_hosts".to_owned(), active),
        ("ansible_play_hosts_all".to_owned(), all_hosts),
        ("ansible_play_batch".to_owned(), batch.clone()),
        ("play_hosts".to_owned(), batch),
        (
            "ansible_play_name".to_owned(),
            Value::from(ctx.play.name.as_str()),
        ),
        ("ansible_check_mode".to_owned(), Value::from(ctx.opts.check)),
        ("ansible_diff_mode".to_owned(), Value::from(ctx.opts.diff)),
        (
            "ansible_verbosity".to_owned(),
            Value::from(ctx.opts.verbosity),
        ),
        ("ansible_forks".to_owned(), Value::from(ctx.opts.forks)),
        (
            "ansible_run_tags".to_owned(),
            Value::from(if ctx.opts.tags.is_empty() {
                vec!["all".to_owned()]
            } else {
                ctx.opts.tags.clone()
            }),
        ),
        (
            "ansible_skip_tags".to_owned(),
            Value::from(ctx.opts.skip_tags.clone()),
        ),
        ("omit".to_owned(), Value::from(ctx.omit.as_str())),
        (
            "ansible_version".to_owned(),
            vmap([
                ("full", Value::from("2.19.0")),
                ("major", Value::from(2)),
                ("minor", Value::from(19)),
                ("revision", Value::from(0)),
                ("string", Value::from("2.19.0")),
            ]),
        ),
    ];
    if let Some(hv) = hostvars {
        v.push(("hostvars".to_owned(), hv));
    }
    v
}

/// Where relative lookups look (`ansible_search_path`): the role, the task
/// file's directory, the playbook's.
fn search_path(ctx: &PlayCtx<'_>, role: Option<&RoleCtx>, task: Option<&Task>) -> Vec<PathBuf> {
    let mut search: Vec<PathBuf> = Vec::new();
    let dirs = role
        .map(|r| r.path.clone())
        .into_iter()
        .chain(task.map(|t| t.dir.clone()))
        .chain(std::iter::once(ctx.playbook_dir.clone()));
    for d in dirs {
        if !d.as_os_str().is_empty() && !search.contains(&d) {
            search.push(d);
        }
    }
    search
}

/// The variables of `task` on a host, in Ansible's precedence order.
fn task_scope(ctx: &PlayCtx<'_>, st: &HostState, task: Option<&Task>) -> Arc<VarScope> {
    scope_with(ctx, st, task, None)
}

fn scope_with(
    ctx: &PlayCtx<'_>,
    st: &HostState,
    task: Option<&Task>,
    hosts: Option<Arc<IndexMap<String, HostSnapshot>>>,
) -> Arc<VarScope> {
    // Ansible's precedence, lowest first: role defaults (the play's roles',
    // then the task's own role's), inventory, play vars, vars_files, role
    // vars (likewise), block/task vars, facts and registered vars, role
    // params, extra vars.
    let role = task.and_then(|t| t.role.as_ref());
    let exported = || ctx.play.exported_roles.iter().chain(&st.public_roles);
    let mut vars: IndexMap<String, Value> = IndexMap::new();
    for r in exported().chain(role) {
        vars.extend(r.defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    vars.extend(st.inv_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars.extend(st.gathered.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars.extend(ctx.play.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars.extend(ctx.prompted.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars.extend(st.play_files.iter().map(|(k, v)| (k.clone(), v.clone())));
    for r in exported().chain(role) {
        vars.extend(r.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(t) = task {
        vars.extend(t.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    vars.extend(st.facts.iter().map(|(k, v)| (k.clone(), v.clone())));
    if let Some(r) = role {
        vars.extend(r.params.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(t) = task {
        vars.extend(t.params.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let search: Vec<String> = search_path(ctx, role.map(|r| r.as_ref()), task)
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    vars.insert("ansible_search_path".into(), Value::from(search));
    if let Some(r) = role {
        vars.insert("role_name".into(), Value::from(r.name.as_str()));
        vars.insert("ansible_role_name".into(), Value::from(r.name.as_str()));
        vars.insert(
            "role_path".into(),
            Value::from(r.path.display().to_string()),
        );
    }
    vars.extend(
        ctx.opts
            .extra_vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let hostvars = hosts.map(|h| {
        Value::from_object(HostVars {
            extra: Arc::new(ctx.opts.extra_vars.clone()),
            inventory: ctx.inventory.clone(),
            groups: ctx.groups.read().map(|g| g.clone()).unwrap_or_default(),
            templar: ctx.templar.clone(),
            hosts: h,
            cache: Mutex::new(HashMap::new()),
        })
    });
    vars.extend(magic_vars(ctx, &st.name, hostvars));
    VarScope::new(ctx.templar.clone(), vars)
}

/// Loads the play's vars_files for a host. A file none of whose
/// candidates exists is skipped (ansible-core 2.19 goes on without it);
/// its names are returned for a warning. Unreadable or malformed files are
/// errors.
fn load_vars_files(
    ctx: &PlayCtx<'_>,
    st: &mut HostState,
    cache: &mut HashMap<PathBuf, Result<IndexMap<String, Value>, String>>,
) -> Result<Vec<String>, String> {
    let mut missing = Vec::new();
    for (candidates, span) in &ctx.play.vars_files {
        let scope = task_scope(ctx, st, None);
        let mut found = None;
        for c in candidates {
            let name = scope
                .render(c)
                .map(|v| py_str(&v))
                .map_err(|e| format!("{span}: {e}"))?;
            let p = ctx.playbook_dir.join(&name);
            if p.exists() {
                found = Some(p);
                break;
            }
        }
        let Some(path) = found else {
            missing.push(format!("{} ({span})", candidates.join(" or ")));
            continue;
        };
        let loaded = cache
            .entry(path.clone())
            .or_insert_with(|| {
                let node = crate::yaml::load_file(&path).map_err(|d| d.to_string())?;
                if node.is_null() {
                    return Ok(IndexMap::new());
                }
                let v = node.to_value().map_err(|d| d.to_string())?;
                if v.kind() != ValueKind::Map {
                    return Err(format!(
                        "{}: a vars file must be a mapping, not a {}",
                        node.span,
                        node.type_name()
                    ));
                }
                let mut out = IndexMap::new();
                if let Ok(keys) = v.try_iter() {
                    for k in keys {
                        let val = v.get_item(&k).unwrap_or_default();
                        out.insert(py_str(&k), val);
                    }
                }
                Ok(out)
            })
            .clone()?;
        st.play_files.extend(loaded);
    }
    Ok(missing)
}

/// Puts a play's hosts in its `order:`; serial batches are cut from the
/// result, as ansible-core does.
fn order_hosts(order: HostOrder, hosts: &mut [String]) {
    match order {
        HostOrder::Inventory => {}
        HostOrder::ReverseInventory => hosts.reverse(),
        HostOrder::Sorted => hosts.sort(),
        HostOrder::ReverseSorted => {
            hosts.sort();
            hosts.reverse();
        }
        HostOrder::Shuffle => {
            crate::template::filters::shuffle(hosts);
        }
    }
}

/// Splits hosts into `serial` batches: a number, a percentage, or a list of
/// them whose last entry repeats.
fn batches(hosts: &[String], serial: &Value) -> Vec<Vec<String>> {
    let sizes: Vec<Value> = match serial.kind() {
        ValueKind::Seq => serial.try_iter().map(|it| it.collect()).unwrap_or_default(),
        _ => vec![serial.clone()],
    };
    let size_of = |v: &Value| -> usize {
        let text = py_str(v);
        let n = match text.trim().strip_suffix('%') {
            Some(pct) => {
                // ansible-core's pct_to_int: a share of all the play's
                // hosts, rounded down, but at least one.
                let pct: f64 = pct.trim().parse().unwrap_or(100.0);
                (((hosts.len() as f64) * pct / 100.0).floor() as usize).max(1)
            }
            None => text.trim().parse::<usize>().unwrap_or(0),
        };
        if n == 0 { hosts.len() } else { n }
    };
    let mut out = Vec::new();
    let mut rest: &[String] = hosts;
    let mut i = 0;
    while !rest.is_empty() {
        let size = sizes
            .get(i)
            .or(sizes.last())
            .map(size_of)
            .unwrap_or(rest.len())
            .max(1);
        let (now, later) = rest.split_at(size.min(rest.len()));
        out.push(now.to_vec());
        rest = later;
        i += 1;
    }
    out
}

/// What an include passes to the tasks it includes: its vars and its
/// `apply:` keywords, but not its own `when`, `tags` and other keywords
/// (those were for the include itself).
fn include_inherit(task: &Task) -> Inherit {
    let mut inherit = Inherit::from_task(task);
    inherit.when.clear();
    inherit.tags.clear();
    // Its `ignore_errors`, `no_log` and `run_once` are the include's own
    // too: ansible-core does not pass a dynamic include's keywords down.
    inherit.ignore_errors = None;
    inherit.no_log = None;
    inherit.run_once = None;
    // The include's own `vars:` (its `params`) are include parameters for
    // the included tasks; the vars of its blocks stay block vars.
    let Some(apply) = task.args.get("apply") else {
        return inherit;
    };
    let get = |key: &str| apply.get_attr(key).ok().filter(|v| !v.is_undefined());
    if let Some(tags) = get("tags") {
        inherit.tags = match tags.as_str() {
            Some(s) => split_tag_text(s),
            None => tags
                .try_iter()
                .map(|it| it.map(|t| py_str(&t)).collect())
                .unwrap_or_default(),
        };
    }
    // `apply:` keywords act as if set on a block around the included tasks.
    if let Some(vars) = get("vars")
        && let Ok(keys) = vars.try_iter()
    {
        for k in keys {
            let v = vars.get_item(&k).unwrap_or_default();
            inherit.vars.insert(py_str(&k), v);
        }
    }
    if let Some(w) = get("when") {
        match w.kind() {
            ValueKind::Seq => inherit.when.extend(w.try_iter().into_iter().flatten()),
            _ => inherit.when.push(w),
        }
    }
    for (key, slot) in [
        ("become", &mut inherit.become_),
        ("become_user", &mut inherit.become_user),
        ("become_method", &mut inherit.become_method),
        ("become_flags", &mut inherit.become_flags),
        ("remote_user", &mut inherit.remote_user),
        ("ignore_errors", &mut inherit.ignore_errors),
        ("environment", &mut inherit.environment),
        ("no_log", &mut inherit.no_log),
        ("check_mode", &mut inherit.check_mode),
        ("diff", &mut inherit.diff),
        ("throttle", &mut inherit.throttle),
    ] {
        if let Some(v) = get(key) {
            *slot = Some(v);
        }
    }
    inherit
}

/// A task name templated for its banner. As ansible-core 2.19 shows it, a
/// part that cannot be rendered becomes `<< error N - message >>`; an error
/// inside a larger expression also ends the name ("template potentially
/// truncated").
fn templated_name(raw: &str, scope: &Arc<VarScope>) -> String {
    if let Ok(v) = scope.render(raw) {
        return py_str(&v);
    }
    let mut out = String::new();
    let mut errors = 0;
    let mut rest = raw;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let segment = &rest[start..start + len + 2];
        rest = &rest[start + len + 2..];
        match scope.render(segment) {
            Ok(v) => out.push_str(&py_str(&v)),
            Err(e) => {
                errors += 1;
                let msg = e.lines().next().unwrap_or_default().to_owned();
                out.push_str(&format!("<< error {errors} - {msg} >>"));
                let expr = segment[2..segment.len() - 2].trim();
                let plain = !expr.is_empty()
                    && expr
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
                if !plain {
                    errors += 1;
                    out.push_str(&format!(
                        "<< error {errors} - template potentially truncated >>"
                    ));
                    return out;
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `=> (item=...)` label of an `included:` line: an include with
/// `no_log` shows ansible-core's censored label even without a loop.
fn include_label(label: &str, censored: bool) -> Option<&str> {
    if censored {
        Some("(censored due to no_log)")
    } else {
        (!label.is_empty()).then_some(label)
    }
}

/// The result an include shows when its `when` is false.
fn false_condition_skip() -> IndexMap<String, Value> {
    let mut r = IndexMap::new();
    r.insert("changed".into(), Value::from(false));
    r.insert(
        "skip_reason".into(),
        Value::from("Conditional result was False"),
    );
    r.insert("skipped".into(), Value::from(true));
    r
}

/// The variables one loop item sets (for a task, and registered in its
/// result; for an include, passed to the included tasks): the loop
/// variable and `loop_control.index_var`, with their `ansible_*_var` names.
fn loop_vars(lp: &crate::playbook::LoopSpec, item: &Value, index: usize) -> Vec<(String, Value)> {
    let mut extra = vec![
        (lp.loop_var.clone(), item.clone()),
        (
            "ansible_loop_var".to_owned(),
            Value::from(lp.loop_var.as_str()),
        ),
    ];
    if let Some(iv) = &lp.index_var {
        extra.push((iv.clone(), Value::from(index)));
        extra.push(("ansible_index_var".to_owned(), Value::from(iv.as_str())));
    }
    extra
}

/// Reads the inventory (a poisoned lock still holds a usable inventory).
fn inv_read(inv: &RwLock<Inventory>) -> std::sync::RwLockReadGuard<'_, Inventory> {
    inv.read().unwrap_or_else(|p| p.into_inner())
}

/// Hosts that include one file with one loop item: the item's variables
/// and the hosts.
type IncludeGroup = (Vec<(String, Value)>, Vec<String>);

fn split_tag_text(s: &str) -> Vec<String> {
    s.split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Fact gathering is tagged `always` in ansible-core, unless the play has
/// tags: then it has the play's.
fn selected_facts(ctx: &PlayCtx<'_>) -> bool {
    let tags = if ctx.play.tags.is_empty() {
        vec!["always".to_owned()]
    } else {
        ctx.tags.play_tags(ctx.play)
    };
    TagFilter::new(&ctx.opts.tags, &ctx.opts.skip_tags).selects(&tags)
}

/// Whether `--tags`/`--skip-tags` select this task (its tags and the
/// play's, rendered).
fn selected_by_tags(task: &Task, ctx: &PlayCtx<'_>) -> bool {
    TagFilter::new(&ctx.opts.tags, &ctx.opts.skip_tags).selects(&ctx.tags.of(task, ctx.play))
}

fn value_bool(v: &Value, scope: &Arc<VarScope>) -> Result<bool, String> {
    match v.as_str() {
        Some(s) => {
            let r = scope.render(s)?;
            Ok(crate::modules::args::to_bool(&r).unwrap_or_else(|| r.is_true()))
        }
        None => Ok(v.is_true()),
    }
}

/// Evaluates `when:`; Ok(false) means skip.
fn eval_when(task: &Task, scope: &Arc<VarScope>) -> Result<bool, String> {
    for cond in &task.when {
        if !eval_condition(cond, scope)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn eval_condition(cond: &Value, scope: &Arc<VarScope>) -> Result<bool, String> {
    match cond.as_str() {
        Some(s) => scope.cond(s),
        // ansible-core 2.19 takes booleans as they are and refuses other
        // non-strings.
        None if cond.kind() == ValueKind::Bool => Ok(cond.is_true()),
        None => Err("Conditional expressions must be strings.".into()),
    }
}

/// The first `when:` condition that is false, as written (`when: false`
/// gives the boolean, as ansible-core registers it).
fn false_condition(task: &Task, scope: &Arc<VarScope>) -> Value {
    for cond in &task.when {
        if !eval_condition(cond, scope).unwrap_or(true) {
            return cond.clone();
        }
    }
    Value::from("")
}

/// A run-time error message that names the task and where it is written.
fn located(task: &Task, msg: &str) -> String {
    format!(
        "{msg}\n\nThe error appears to be in '{}': line {}, column {} (task '{}')",
        task.span.file,
        task.span.line,
        task.span.col,
        task.display_name()
    )
}

/// Removes `omit` placeholders from arguments, at any depth.
fn strip_omit(v: &Value, omit: &str) -> Option<Value> {
    match v.kind() {
        ValueKind::String if v.as_str() == Some(omit) => None,
        ValueKind::Seq => Some(Value::from(
            v.try_iter()
                .map(|it| it.filter_map(|i| strip_omit(&i, omit)).collect::<Vec<_>>())
                .unwrap_or_default(),
        )),
        ValueKind::Map => {
            let mut pairs = Vec::new();
            if let Ok(keys) = v.try_iter() {
                for k in keys {
                    let val = v.get_item(&k).unwrap_or_default();
                    if let Some(val) = strip_omit(&val, omit) {
                        pairs.push((k, val));
                    }
                }
            }
            Some(vmap(pairs))
        }
        _ => Some(v.clone()),
    }
}

struct Env<'a> {
    scope: Arc<VarScope>,
    ctx: &'a PlayCtx<'a>,
    task: &'a Task,
}

impl TaskEnv for Env<'_> {
    fn eval(&self, expr: &str) -> Result<Value, String> {
        self.scope.eval(expr)
    }
    fn var(&self, name: &str) -> Result<Option<Value>, String> {
        self.scope.var(name)
    }
    fn cond(&self, expr: &str) -> Result<bool, String> {
        self.scope.cond(expr)
    }
    fn render_template(
        &self,
        text: &str,
        extra: &[(&str, Value)],
        file: &std::path::Path,
    ) -> Result<String, String> {
        let scope = self
            .scope
            .with_extra(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        // As the template action: `ansible_search_path`, the playbook's
        // directory, then the template's own.
        let mut search = search_path(self.ctx, self.task.role.as_deref(), Some(self.task));
        search.push(self.ctx.playbook_dir.clone());
        search.extend(file.parent().map(std::path::Path::to_path_buf));
        scope.render_file(text, &search)
    }
    fn find_file(&self, kind: &str, name: &str) -> Option<PathBuf> {
        let p = std::path::Path::new(name);
        if p.is_absolute() {
            return Some(p.to_path_buf());
        }
        // As Ansible searches: the role's directory, the including task
        // file's directory, then the playbook's.
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(r) = &self.task.role {
            dirs.push(r.path.clone());
        }
        dirs.push(self.task.dir.clone());
        dirs.push(self.ctx.playbook_dir.clone());
        dirs.iter()
            .flat_map(|d| [d.join(kind).join(name), d.join(name)])
            .find(|c| c.exists())
    }
}

/// A variable of the host as a string, if set.
fn var_str(scope: &Arc<VarScope>, name: &str) -> Option<String> {
    match scope.lookup(name) {
        Some(v) if !v.is_undefined() && !v.is_none() => Some(py_str(&v)),
        _ => None,
    }
}

/// The connection variables of a host, as Ansible reads them.
fn conn_spec(ctx: &PlayCtx<'_>, task: &Task, st: &HostState, scope: &Arc<VarScope>) -> ConnSpec {
    let kind = task
        .connection
        .clone()
        .or_else(|| ctx.opts.connection.clone())
        .or_else(|| var_str(scope, "ansible_connection"))
        .or_else(|| ctx.play.connection.clone())
        .unwrap_or_else(|| "ssh".into());
    let first = |names: &[&str]| names.iter().find_map(|n| var_str(scope, n));
    let user = first(&["ansible_user", "ansible_ssh_user"])
        .or_else(|| {
            task.remote_user
                .as_ref()
                .or(ctx.play.remote_user.as_ref())
                .and_then(|v| scope.render_value(v).ok())
                .map(|v| py_str(&v))
        })
        .or_else(|| ctx.opts.remote_user.clone());
    let host_key_checking = first(&["ansible_ssh_host_key_checking", "ansible_host_key_checking"])
        .and_then(|v| crate::modules::args::to_bool(&Value::from(v)));
    ConnSpec {
        kind,
        host: st.name.clone(),
        address: first(&["ansible_host", "ansible_ssh_host"]),
        port: first(&["ansible_port", "ansible_ssh_port"]).and_then(|p| p.parse().ok()),
        user,
        private_key: first(&["ansible_ssh_private_key_file", "ansible_private_key_file"])
            .or_else(|| ctx.opts.private_key.clone()),
        ssh_args: var_str(scope, "ansible_ssh_args")
            .or_else(|| ctx.opts.ssh_args.clone())
            .filter(|a| !a.trim().is_empty()),
        extra_ssh_args: ["ansible_ssh_common_args", "ansible_ssh_extra_args"]
            .iter()
            .filter_map(|n| var_str(scope, n))
            .filter(|a| !a.trim().is_empty())
            .collect(),
        host_key_checking,
        ssh_config: ctx.opts.ssh_config.clone(),
        timeout: first(&["ansible_ssh_timeout", "ansible_timeout"])
            .and_then(|t| t.parse::<u64>().ok())
            .map(std::time::Duration::from_secs),
    }
}

/// Whether and how the task becomes another user.
fn become_spec(
    ctx: &PlayCtx<'_>,
    task: &Task,
    scope: &Arc<VarScope>,
) -> Result<Option<Become>, String> {
    let flag = match task.become_.as_ref().or(ctx.play.become_.as_ref()) {
        Some(v) => value_bool(v, scope)?,
        None => match var_str(scope, "ansible_become") {
            Some(v) => crate::modules::args::to_bool(&Value::from(v)).unwrap_or(false),
            None => ctx.opts.become_,
        },
    };
    if !flag {
        return Ok(None);
    }
    let pick = |task_v: Option<&Value>,
                play_v: Option<&Value>,
                var: &str|
     -> Result<Option<String>, String> {
        match task_v.or(play_v) {
            Some(v) => Ok(Some(py_str(&scope.render_value(v)?))),
            None => Ok(var_str(scope, var)),
        }
    };
    let user = pick(
        task.become_user.as_ref(),
        ctx.play.become_user.as_ref(),
        "ansible_become_user",
    )?
    .or_else(|| ctx.opts.become_user.clone())
    .unwrap_or_else(|| "root".into());
    let method = pick(
        task.become_method.as_ref(),
        ctx.play.become_method.as_ref(),
        "ansible_become_method",
    )?
    .or_else(|| ctx.opts.become_method.clone())
    .unwrap_or_else(|| "sudo".into());
    let flags = pick(
        task.become_flags.as_ref(),
        ctx.play.become_flags.as_ref(),
        "ansible_become_flags",
    )?;
    let password = var_str(scope, "ansible_become_password")
        .or_else(|| var_str(scope, "ansible_become_pass"))
        .or_else(|| ctx.opts.become_password.clone());
    Ok(Some(Become {
        method,
        user,
        password,
        flags,
    }))
}

async fn connect(
    ctx: &PlayCtx<'_>,
    st: &mut HostState,
    task: &Task,
    scope: &Arc<VarScope>,
) -> Result<Arc<dyn Connection>, ModuleError> {
    let spec = match &task.delegate_to {
        Some(d) => {
            let target = scope.render_value(d).map_err(ModuleError::Failed)?;
            // A list would become a host name like `['a', 'b']`, to be
            // looked up in DNS.
            if matches!(
                target.kind(),
                minijinja::value::ValueKind::Seq
                    | minijinja::value::ValueKind::Map
                    | minijinja::value::ValueKind::Iterable
            ) {
                return Err(ModuleError::Failed(format!(
                    "delegate_to must name one host, not a {}: {}",
                    crate::template::pyfmt::py_type_name(&target),
                    py_str(&target)
                )));
            }
            delegate_spec(ctx, task, st, &py_str(&target))
        }
        None => {
            // A port that is not one would silently be ssh's default.
            if let Some(p) = ["ansible_port", "ansible_ssh_port"]
                .iter()
                .find_map(|n| var_str(scope, n))
                .filter(|p| p.trim().parse::<u16>().is_err())
            {
                return Err(ModuleError::Failed(format!(
                    "invalid ansible_port '{p}': a port is a number from 0 to 65535"
                )));
            }
            conn_spec(ctx, task, st, scope)
        }
    };
    // A module that waits for the host to come up connects by itself.
    let lazy = LAZY_CONNECTION_MODULES.contains(&task.module.spec().name);
    let index = match st.links.iter().position(|(s, _)| *s == spec) {
        Some(i) => i,
        None => {
            let opened = link::open(&spec, &ctx.pool, lazy).await;
            for w in ctx.pool.take_warnings() {
                ctx.reporter.warning(&w);
            }
            st.links.push((spec, opened?));
            st.links.len() - 1
        }
    };
    let link = st.links[index].1.clone();
    match become_spec(ctx, task, scope).map_err(ModuleError::Failed)? {
        None => Ok(link.conn.clone()),
        Some(b) => Ok(st
            .become_conns
            .entry((index, b.clone()))
            .or_insert_with(|| link.with_become(b))
            .clone()),
    }
}

/// The connection of a task delegated to `target`: the delegated host's
/// connection variables (localhost outside the inventory is local).
fn delegate_spec(ctx: &PlayCtx<'_>, task: &Task, st: &HostState, target: &str) -> ConnSpec {
    if target == st.name {
        let scope = task_scope(ctx, st, Some(task));
        return conn_spec(ctx, task, st, &scope);
    }
    let mut vars = inv_read(&ctx.inventory).host_vars(target);
    let implicit_local = !inv_read(&ctx.inventory).has_host(target)
        && matches!(target, "localhost" | "127.0.0.1" | "::1");
    if implicit_local {
        vars.insert("ansible_connection".into(), Value::from("local"));
    }
    vars.extend(
        ctx.opts
            .extra_vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    vars.insert("inventory_hostname".into(), Value::from(target));
    let scope = VarScope::new(ctx.templar.clone(), vars);
    let mut spec = conn_spec(ctx, task, st, &scope);
    spec.host = target.to_owned();
    if implicit_local {
        spec.kind = "local".into();
    }
    spec
}

/// The task's loop with a templated `loop_control.loop_var` or
/// `index_var` rendered, as ansible-core does once per host before the
/// first item; the name must be a valid variable name.
fn resolved_loop(task: &Task, scope: &Arc<VarScope>) -> Result<Option<LoopSpec>, String> {
    let Some(lp) = &task.loop_ else {
        return Ok(None);
    };
    let name = |n: &str| -> Result<String, String> {
        if !crate::template::is_template(n) {
            return Ok(n.to_owned());
        }
        let name = py_str(&scope.render(n)?);
        if crate::playbook::valid_variable_name(&name) {
            Ok(name)
        } else {
            Err(crate::playbook::invalid_variable_name(&name))
        }
    };
    let mut lp = lp.clone();
    lp.loop_var = name(&lp.loop_var)?;
    if let Some(iv) = &lp.index_var {
        lp.index_var = Some(name(iv)?);
    }
    Ok(Some(lp))
}

fn item_label(task: &Task, item_scope: &Arc<VarScope>, item: &Value) -> String {
    if let Some(l) = task.loop_.as_ref().and_then(|l| l.label.as_ref()) {
        if let Some(s) = l.as_str() {
            return item_scope
                .render(s)
                .map(|v| py_str(&v))
                .unwrap_or_else(|_| s.to_owned());
        }
        return py_str(l);
    }
    py_str(item)
}

/// A loop's `loop_control` settings that are templated once, before the
/// first item (as ansible-core post-validates them).
struct LoopControl {
    pause: f64,
    extended: bool,
    allitems: bool,
}

impl LoopControl {
    fn of(lp: &crate::playbook::LoopSpec, scope: &Arc<VarScope>) -> Result<LoopControl, String> {
        let flag = |v: &Option<Value>, default: bool| -> Result<bool, String> {
            match v {
                Some(v) => value_bool(v, scope),
                None => Ok(default),
            }
        };
        let pause = match &lp.pause {
            Some(v) => keyword_float(scope, "pause", v)?,
            None => 0.0,
        };
        Ok(LoopControl {
            pause: pause.max(0.0),
            extended: flag(&lp.extended, false)?,
            allitems: flag(&lp.extended_allitems, true)?,
        })
    }
}

/// `ansible_loop` for item `i` of `items` (`loop_control.extended`), with
/// ansible-core's keys: no `previtem` on the first item, no `nextitem` on
/// the last, `allitems` unless `extended_allitems` is false.
fn extended_loop_var(items: &[Value], i: usize, allitems: bool) -> Value {
    let n = items.len();
    let mut m: Vec<(&str, Value)> = vec![
        ("index", Value::from(i + 1)),
        ("index0", Value::from(i)),
        ("first", Value::from(i == 0)),
        ("last", Value::from(i + 1 == n)),
        ("length", Value::from(n)),
        ("revindex", Value::from(n - i)),
        ("revindex0", Value::from(n - i - 1)),
    ];
    if allitems {
        m.push(("allitems", Value::from(items.to_vec())));
    }
    if let Some(next) = items.get(i + 1) {
        m.push(("nextitem", next.clone()));
    }
    if i > 0
        && let Some(prev) = items.get(i - 1)
    {
        m.push(("previtem", prev.clone()));
    }
    vmap(m)
}

/// A loop whose items (or `loop_control`) could not be worked out. As in
/// ansible-core, when the loop refers to an undefined variable the task's
/// `when:` is checked first (without the loop variable) and a false one
/// skips the task; otherwise the task fails, which `ignore_errors` ignores.
fn loop_failed(
    ctx: &PlayCtx<'_>,
    task: &Task,
    st: &mut HostState,
    scope: &Arc<VarScope>,
    e: LoopError,
    no_log: bool,
    started: Option<Instant>,
) {
    let msg = match e {
        LoopError::Undefined(m) => {
            if let Ok(false) = eval_when(task, scope) {
                let out = skipped_by_when(task, scope);
                report_item(ctx, st, task, None, &out, no_log, false, started);
                finish(ctx, st, task, Status::Skipped, out.result, false, false);
                return;
            }
            m
        }
        LoopError::Other(m) => m,
    };
    let out = with_ignore(ctx, task, scope, ItemOutcome::failed(located(task, &msg)));
    report_item(ctx, st, task, None, &out, no_log, false, started);
    finish(
        ctx,
        st,
        task,
        Status::Failed,
        out.result,
        false,
        out.ignored,
    );
}

async fn run_host_task(
    ctx: &PlayCtx<'_>,
    task: &Task,
    st: &mut HostState,
    hosts: Arc<IndexMap<String, HostSnapshot>>,
) {
    // After Ctrl-C nothing new starts (see `crate::interrupt`).
    crate::interrupt::checkpoint().await;
    let started = Instant::now();
    let scope = scope_with(ctx, st, Some(task), Some(hosts));
    let no_log = is_no_log(ctx, task, &scope);
    // debug, and assert unless quiet, always show their result (the
    // action plugins set `_ansible_verbose_always`).
    let verbose_always = match task.module.spec().name {
        "debug" => true,
        "assert" => !task
            .args
            .get("quiet")
            .is_some_and(|q| value_bool(q, &scope).unwrap_or(false)),
        _ => false,
    };

    let (status, result, changed_any) = match &task.loop_ {
        None => {
            let mut out = run_item(ctx, task, st, &scope).await;
            if out.status == Status::Unreachable {
                st.unreachable = true;
            }
            report_item(
                ctx,
                st,
                task,
                None,
                &out,
                no_log,
                verbose_always,
                Some(started),
            );
            let changed = result_changed(&out);
            let facts = FactSet::take(&mut out);
            route_facts(task, st, &scope, facts);
            (out.status, out.result, changed)
        }
        Some(lp) => {
            let (items, control) = match build_loop(task, &scope).and_then(|items| {
                LoopControl::of(lp, &scope)
                    .map(|c| (items, c))
                    .map_err(LoopError::Other)
            }) {
                Ok(built) => built,
                Err(e) => return loop_failed(ctx, task, st, &scope, e, no_log, Some(started)),
            };
            if items.is_empty() {
                let mut r = IndexMap::new();
                r.insert("changed".into(), Value::from(false));
                r.insert("skipped".into(), Value::from(true));
                r.insert("skipped_reason".into(), Value::from("No items in the list"));
                r.insert("results".into(), Value::from(Vec::<Value>::new()));
                ctx.reporter
                    .result(&st.name, Status::Skipped, None, &r, false, false);
                finish(ctx, st, task, Status::Skipped, r, false, false);
                return;
            }
            let lp = &match resolved_loop(task, &scope) {
                Ok(Some(l)) => l,
                Ok(None) => lp.clone(),
                Err(e) => return fail_host_task(ctx, task, st, &located(task, &e)),
            };
            let mut results = Vec::new();
            let mut any_changed = false;
            let mut any_failed = false;
            // ansible-core ignores a loop's failure when every failed item
            // was to be ignored (`ignore_errors` is templated per item).
            let mut failures_ignored = true;
            let mut all_skipped = true;
            let mut any_unreachable = false;
            // The registered variable holds the previous item's result
            // while the loop runs, as in ansible-core.
            let mut registered: Option<Value> = None;
            for (i, item) in items.iter().enumerate() {
                if i > 0 && control.pause > 0.0 {
                    tokio::time::sleep(seconds(control.pause)).await;
                }
                let item_vars = loop_vars(lp, item, i);
                let mut extra = item_vars.clone();
                let ansible_loop = control
                    .extended
                    .then(|| extended_loop_var(&items, i, control.allitems));
                if let Some(al) = &ansible_loop {
                    extra.push(("ansible_loop".to_owned(), al.clone()));
                }
                if let (Some(reg), Some(prev)) = (&task.register, &registered) {
                    extra.push((reg.clone(), prev.clone()));
                }
                let item_scope = scope.with_extra(extra);
                let item_started = Instant::now();
                // Facts set by earlier items are visible to later ones.
                let mut out = run_item(ctx, task, st, &item_scope).await;
                out.result.extend(item_vars);
                if let Some(al) = ansible_loop {
                    out.result.insert("ansible_loop".into(), al);
                }
                // The label and `break_when` see this item's result.
                let item_scope = match &task.register {
                    Some(reg) => {
                        let this = vmap(out.result.clone());
                        registered = Some(this.clone());
                        item_scope.with_extra([(reg.clone(), this)])
                    }
                    None => item_scope,
                };
                let label = item_label(task, &item_scope, item);
                // Items never print `...ignoring`: the task does, once,
                // after its last item.
                if out.status == Status::Failed {
                    failures_ignored &= is_ignored(ctx, task, &item_scope);
                }
                out.ignored = false;
                report_item(
                    ctx,
                    st,
                    task,
                    Some(&label),
                    &out,
                    no_log,
                    verbose_always,
                    Some(item_started),
                );
                any_changed |= result_changed(&out);
                // An ignored item failure still fails the loop's result;
                // the task then counts as ignored, as in ansible-core.
                any_failed |= out.status == Status::Failed;
                any_unreachable |= out.status == Status::Unreachable;
                all_skipped &= out.status == Status::Skipped;
                route_facts(task, st, &item_scope, FactSet::take(&mut out));
                results.push(vmap(out.result.clone()));
                if any_unreachable {
                    break;
                }
                let mut stop = !lp.break_when.is_empty();
                for c in &lp.break_when {
                    match eval_condition(c, &item_scope) {
                        Ok(b) => stop &= b,
                        Err(e) => {
                            return loop_failed(
                                ctx,
                                task,
                                st,
                                &scope,
                                LoopError::Other(e),
                                no_log,
                                Some(started),
                            );
                        }
                    }
                }
                if stop {
                    break;
                }
            }
            let mut r = IndexMap::new();
            r.insert("changed".into(), Value::from(any_changed));
            if any_failed {
                r.insert("failed".into(), Value::from(true));
                r.insert("msg".into(), Value::from("One or more items failed"));
            } else if all_skipped {
                r.insert("skipped".into(), Value::from(true));
                r.insert("msg".into(), Value::from("All items skipped"));
            } else {
                r.insert("msg".into(), Value::from("All items completed"));
            }
            if !all_skipped {
                r.insert("skipped".into(), Value::from(false));
            }
            let by_error = results.iter().any(|r| {
                r.get_attr("exception")
                    .is_ok_and(|e| e.as_str() == Some(NO_TRACEBACK))
            });
            r.insert("results".into(), Value::from(results));
            let msg = r.get("msg").map(py_str).unwrap_or_default();
            // The default callback closes a loop in which an item failed
            // by an error with the task's own failure line, and an
            // all-skipped loop with the host's own skip line.
            let summary =
                IndexMap::from([("msg".to_owned(), Value::from("One or more items failed"))]);
            let (status, line) = if any_unreachable {
                st.unreachable = true;
                (Status::Unreachable, None)
            } else if any_failed {
                (Status::Failed, by_error.then_some(&summary))
            } else if all_skipped {
                (Status::Skipped, Some(&r))
            } else if any_changed {
                (Status::Changed, None)
            } else {
                (Status::Ok, None)
            };
            ctx.reporter.loop_end(&LoopEnd {
                host: &st.name,
                status,
                line,
                msg: &msg,
                changed: any_changed,
                ignored: any_failed && failures_ignored,
                duration: started.elapsed(),
            });
            if any_failed && !any_unreachable {
                finish(
                    ctx,
                    st,
                    task,
                    Status::Failed,
                    r,
                    any_changed,
                    failures_ignored,
                );
                return;
            }
            (status, r, any_changed)
        }
    };
    let ignored = status == Status::Failed && is_ignored(ctx, task, &scope);
    finish(ctx, st, task, status, result, changed_any, ignored);
}

/// What ansible-core registers as the `exception` of a failure raised by
/// an error.
const NO_TRACEBACK: &str = "(traceback unavailable)";

/// Whether a result says it changed something: a failed result may too
/// (a command that ran and exited non-zero), which counts as changed when
/// its failure is ignored, as in ansible-core's recap.
fn result_changed(out: &ItemOutcome) -> bool {
    out.status == Status::Changed
        || (out.status == Status::Failed && out.result.get("changed").is_some_and(|c| c.is_true()))
}

/// The semaphore bounding how many hosts run `task` at once, when its
/// `throttle` (or its play's) is below `--forks`.
fn throttle_of(
    ctx: &PlayCtx<'_>,
    task: &Task,
    st: &HostState,
) -> Result<Option<Arc<Semaphore>>, String> {
    let Some(v) = task.throttle.as_ref().or(ctx.play.throttle.as_ref()) else {
        return Ok(None);
    };
    let bad = |e: &str| {
        located(
            task,
            &format!("Failed to convert the throttle value to an integer: {e}"),
        )
    };
    let rendered = task_scope(ctx, st, Some(task))
        .render_value(v)
        .map_err(|e| bad(&e))?;
    let n = py_str(&rendered)
        .trim()
        .parse::<usize>()
        .map_err(|_| bad(&format!("'{}' is not a whole number", py_str(&rendered))))?;
    if n == 0 || n >= ctx.opts.forks {
        return Ok(None);
    }
    Ok(Some(ctx.limits.throttle(task, n)))
}

/// A task that failed on a host before it could run (`ignore_errors`
/// still applies, as in ansible-core).
fn fail_host_task(ctx: &PlayCtx<'_>, task: &Task, st: &mut HostState, msg: &str) {
    let scope = task_scope(ctx, st, Some(task));
    let out = with_ignore(ctx, task, &scope, ItemOutcome::failed(msg));
    let no_log = is_no_log(ctx, task, &scope);
    report_item(ctx, st, task, None, &out, no_log, false, None);
    finish(
        ctx,
        st,
        task,
        Status::Failed,
        out.result,
        false,
        out.ignored,
    );
}

/// `no_log`: the strings of the task's arguments are secrets from now on,
/// so they cannot show in later tasks' output, diffs or traces. A value
/// the module offers as a choice (`state: present`) is no secret.
fn no_log_secrets(spec: &crate::modules::ModuleSpec, raw: &IndexMap<String, Value>) {
    for (k, v) in raw {
        if !may_hold_a_secret(spec.param(k), v) {
            continue;
        }
        crate::secrets::register_strings(v);
    }
}

/// Whether a `no_log` task's argument may be the secret it protects. Not
/// a choice (`state: present`), a flag, a number, a mode, a path, or the
/// account a file belongs to: registering those would mask every later
/// `root` or `/etc` in the run's output. Anything else — `content`,
/// `password`, a `url`, a `set_fact` value, arguments of modules without
/// a spec — is registered.
fn may_hold_a_secret(param: Option<&crate::modules::Param>, v: &Value) -> bool {
    use crate::modules::ParamType;
    let Some(p) = param else {
        return true;
    };
    if v.as_str().is_some_and(|s| p.choices.contains(&s)) {
        return false;
    }
    let identifier = matches!(p.name, "owner" | "group" | "state");
    let plain_type = matches!(
        p.ty,
        ParamType::Bool | ParamType::Int | ParamType::Float | ParamType::Mode | ParamType::Path
    );
    !identifier && !plain_type
}

fn is_no_log(ctx: &PlayCtx<'_>, task: &Task, scope: &Arc<VarScope>) -> bool {
    task.no_log
        .as_ref()
        .or(ctx.play.no_log.as_ref())
        .map(|v| value_bool(v, scope).unwrap_or(true))
        .unwrap_or(false)
}

/// Puts a task's facts on its host, or with `delegate_facts` on the host
/// it was delegated to (through the host's outbox).
fn route_facts(task: &Task, st: &mut HostState, scope: &Arc<VarScope>, set: FactSet) {
    if set.is_empty() {
        return;
    }
    match delegated_facts_host(task, scope) {
        Some(target) if target != st.name => st.outbox.push((target, set)),
        _ => st.absorb(set),
    }
}

/// The host `delegate_facts: true` gives the task's facts to.
fn delegated_facts_host(task: &Task, scope: &Arc<VarScope>) -> Option<String> {
    let to = task.delegate_to.as_ref()?;
    if !value_bool(task.delegate_facts.as_ref()?, scope).unwrap_or(false) {
        return None;
    }
    scope.render_value(to).ok().map(|v| py_str(&v))
}

fn is_ignored(ctx: &PlayCtx<'_>, task: &Task, scope: &Arc<VarScope>) -> bool {
    task.ignore_errors
        .as_ref()
        .or(ctx.play.ignore_errors.as_ref())
        .map(|v| value_bool(v, scope).unwrap_or(false))
        .unwrap_or(false)
}

/// How deeply `include_tasks` may nest (as `include_role` of a role
/// including itself): a task file including itself would otherwise run
/// until the stack overflows.
const MAX_INCLUDE_DEPTH: usize = 64;

/// The journal's keys of every play of `playbooks`.
pub fn journal_plays(playbooks: &[Playbook]) -> Vec<PlayKey> {
    playbooks
        .iter()
        .flat_map(|pb| pb.plays.iter().filter_map(play_key))
        .collect()
}

/// A play's identity in the pending-handler journal: its playbook file
/// (absolute) and its name (its line when it has none).
fn play_key(play: &Play) -> Option<PlayKey> {
    let span = play.span.as_ref()?;
    let file = std::path::Path::new(&*span.file);
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    Some(PlayKey {
        playbook: file.display().to_string(),
        play: if play.name.is_empty() {
            format!("(play at line {})", span.line)
        } else {
            play.name.clone()
        },
    })
}

/// How the journal names a handler: its name, else its place.
fn handler_label(handler: &Task, idx: usize) -> String {
    handler
        .name
        .clone()
        .unwrap_or_else(|| format!("(handler #{})", idx + 1))
}

/// Records a task's final result on the host: stats, register, notify.
fn finish(
    ctx: &PlayCtx<'_>,
    st: &mut HostState,
    task: &Task,
    status: Status,
    result: IndexMap<String, Value>,
    changed: bool,
    ignored: bool,
) {
    match status {
        Status::Ok => st.stats.ok += 1,
        Status::Changed => {
            st.stats.ok += 1;
            st.stats.changed += 1;
        }
        Status::Skipped => st.stats.skipped += 1,
        Status::Failed if ignored => {
            st.stats.ok += 1;
            st.stats.ignored += 1;
            if changed {
                st.stats.changed += 1;
            }
        }
        Status::Failed => {
            st.stats.failed += 1;
            st.failures += 1;
            st.failed_at = tick();
            st.failed = true;
            st.last_failure = Some((
                vmap([
                    ("name", Value::from(task.name.clone().unwrap_or_default())),
                    ("action", Value::from(task.action.as_str())),
                ]),
                vmap(result.clone()),
            ));
        }
        Status::Unreachable => {
            st.stats.unreachable += 1;
            st.unreachable = true;
        }
    }
    if !matches!(status, Status::Skipped | Status::Unreachable) {
        role_ran(st, task);
    }
    if let Some(reg) = &task.register {
        let unpredicted = result
            .get("msg")
            .and_then(|m| m.as_str().map(str::to_owned))
            .as_deref()
            == Some(CANNOT_PREDICT);
        st.unpredicted.retain(|r| r != reg);
        if unpredicted {
            st.unpredicted.push(reg.clone());
        }
        Arc::make_mut(&mut st.facts).insert(reg.clone(), vmap(result));
    }
    // ansible-core notifies for changed results that did not fail; an
    // ignored failure counts as changed in the recap but notifies nothing.
    if changed && matches!(status, Status::Ok | Status::Changed) {
        for (name, _) in &task.notify {
            for (idx, h) in ctx.play.handlers.iter().enumerate() {
                if (h.name.as_deref() == Some(name.as_str()) || h.listen.iter().any(|l| l == name))
                    && let Some(n) = st.notified.get_mut(idx)
                {
                    *n = true;
                    if let (Some(j), Some(key)) = (&ctx.opts.journal, &ctx.journal_key) {
                        j.notified(key, &st.name, &handler_label(h, idx));
                    }
                }
            }
        }
    }
}

/// A task of a role ran on the host (the role counts as run there).
fn role_ran(st: &mut HostState, task: &Task) {
    if let Some(role) = &task.role
        && !st.roles_ran.contains(&role.key)
    {
        st.roles_ran.insert(role.key.clone());
    }
}

impl HostState {
    fn new(name: &str, inv_vars: Arc<IndexMap<String, Value>>) -> HostState {
        HostState {
            name: name.to_owned(),
            inv_vars,
            facts: Arc::new(IndexMap::new()),
            gathered: Arc::new(IndexMap::new()),
            play_files: IndexMap::new(),
            public_roles: Vec::new(),
            roles_ran: HashSet::new(),
            roles_done: HashSet::new(),
            failures: 0,
            failed_at: 0,
            forgiven: (0, 0),
            resume: None,
            dormant: None,
            cleared: false,
            swept: false,
            failed: false,
            unreachable: false,
            ended: false,
            notified: Vec::new(),
            links: Vec::new(),
            become_conns: HashMap::new(),
            overlay: Arc::new(Overlay::new()),
            last_failure: None,
            unpredicted: Vec::new(),
            outbox: Vec::new(),
            stats: Stats::default(),
        }
    }

    fn absorb(&mut self, set: FactSet) {
        self.gather(set.gathered);
        self.facts_extend(set.facts);
    }

    /// Gathered facts: host variables below play vars (as Ansible's "host
    /// facts"), and merged into `ansible_facts`.
    fn gather(&mut self, facts: IndexMap<String, Value>) {
        if facts.is_empty() {
            return;
        }
        let ns = crate::modules::setup::facts_namespace(&facts);
        let g = Arc::make_mut(&mut self.gathered);
        let mut merged: IndexMap<Value, Value> = IndexMap::new();
        if let Some(old) = g.get("ansible_facts")
            && let Ok(keys) = old.try_iter()
        {
            for k in keys {
                let v = old.get_item(&k).unwrap_or_default();
                merged.insert(k, v);
            }
        }
        if let Ok(keys) = ns.try_iter() {
            for k in keys {
                let v = ns.get_item(&k).unwrap_or_default();
                merged.insert(k, v);
            }
        }
        g.extend(facts);
        g.insert("ansible_facts".into(), Value::from(merged));
    }

    fn facts_extend(&mut self, facts: IndexMap<String, Value>) {
        if !facts.is_empty() {
            Arc::make_mut(&mut self.facts).extend(facts);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn report_item(
    ctx: &PlayCtx<'_>,
    st: &HostState,
    task: &Task,
    label: Option<&str>,
    out: &ItemOutcome,
    no_log: bool,
    verbose_always: bool,
    started: Option<Instant>,
) {
    if let Some(warnings) = out.result.get("warnings")
        && let Ok(items) = warnings.try_iter()
    {
        for w in items {
            ctx.reporter.warning(&py_str(&w));
        }
    }
    // As the default callback: diffs of changed results only.
    let diffs: &[crate::modules::FileDiff] = if !no_log && out.status == Status::Changed {
        &out.diffs
    } else {
        &[]
    };
    let shown: IndexMap<String, Value> = if no_log {
        let mut m = IndexMap::new();
        m.insert(
            "censored".to_owned(),
            Value::from("the output has been hidden due to the fact that 'no_log: true' was specified for this result"),
        );
        // What the result said of `changed`, failed or not.
        let changed =
            out.status == Status::Changed || out.result.get("changed").is_some_and(|c| c.is_true());
        m.insert("changed".to_owned(), Value::from(changed));
        m
    } else if verbose_always
        && ctx.reporter.cleans_debug()
        && task.module.spec().name == "debug"
        && out.status != Status::Failed
    {
        // The default callback shows debug's message alone, or its variable.
        let has_msg = out.result.contains_key("msg");
        out.result
            .iter()
            .filter(|(k, _)| {
                if has_msg {
                    matches!(
                        k.as_str(),
                        "msg" | "warnings" | "deprecations" | "exception"
                    )
                } else {
                    !matches!(k.as_str(), "changed" | "failed")
                }
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    } else {
        out.result.clone()
    };
    // Skips name the host alone, as the default callback does.
    let host = match (&out.delegated, out.status) {
        (Some(label), s) if s != Status::Skipped => label.as_str(),
        _ => st.name.as_str(),
    };
    let headline = error_headline(task, out, no_log);
    ctx.reporter.host_result(&HostResult {
        host,
        status: out.status,
        item: label,
        result: &shown,
        verbose_always: verbose_always && !no_log && out.status != Status::Skipped,
        ignored: out.ignored,
        diffs,
        duration: started.map(|t| t.elapsed()),
        error: headline.as_deref().map(|h| (h, &task.span)),
    });
}

/// Modules that are ansible-core action plugins doing their own work:
/// their failures are the action's, not a module's.
const ACTION_MODULES: &[&str] = &["raw", "script", "wait_for_connection", "reboot"];

/// The `[ERROR]:` headline ansible-core 2.19 prints above a failed or
/// unreachable result: `Task failed: ` and the error, which names where it
/// came from — `Module failed: MSG` (the module on the host), `Action
/// failed: MSG` (an action on the controller, or `failed_when`), or the
/// message alone for an error raised on the controller (templating, a
/// missing source file). With `no_log` the message is not shown.
fn error_headline(task: &Task, out: &ItemOutcome, no_log: bool) -> Option<String> {
    const HIDDEN: &str = "the output has been hidden due to the fact that 'no_log: true' was specified for this result";
    let msg = out
        .result
        .get("msg")
        .filter(|m| !m.is_undefined() && !m.is_none())
        .map(py_str);
    let shown = |m: &str| {
        if no_log {
            HIDDEN.to_owned()
        } else {
            m.to_owned()
        }
    };
    match out.status {
        Status::Unreachable => {
            let m = shown(msg.as_deref().unwrap_or("Unknown error."));
            Some(match m.strip_prefix("Task failed: ") {
                Some(_) => m,
                None => format!("Task failed: {m}"),
            })
        }
        Status::Failed => {
            let raised = out.result.contains_key("exception")
                || msg.as_deref().is_some_and(|m| {
                    ["Task failed: ", "Could not find or access ", "Unexpected "]
                        .iter()
                        .any(|p| m.starts_with(p))
                });
            if raised {
                // The location is in the Origin block below.
                let m = msg.unwrap_or_default();
                let m = m
                    .split_once("\n\nThe error appears to be in ")
                    .map_or(m.as_str(), |(m, _)| m);
                let m = shown(m);
                return Some(match m.strip_prefix("Task failed: ") {
                    Some(_) => m,
                    None => format!("Task failed: {m}"),
                });
            }
            let spec = task.module.spec();
            let action = spec.controller_only
                || ACTION_MODULES.contains(&spec.name)
                || out
                    .result
                    .get("failed_when_result")
                    .is_some_and(|v| v.is_true());
            let ctx = if action { "Action" } else { "Module" };
            Some(match msg {
                None => format!("Task failed: {ctx} failed: {}", shown("Unknown error.")),
                Some(m) if m.is_empty() => format!("Task failed: {ctx} failed."),
                Some(m) => format!("Task failed: {ctx} failed: {}", shown(&m)),
            })
        }
        _ => None,
    }
}

/// Why a loop's items could not be built.
enum LoopError {
    /// The loop refers to an undefined variable: ansible-core then checks
    /// the task's `when:` first, and a false one skips the task.
    Undefined(String),
    Other(String),
}

impl LoopError {
    fn message(self) -> String {
        match self {
            LoopError::Undefined(m) | LoopError::Other(m) => m,
        }
    }
}

/// Whether a templating error is ansible-core's `AnsibleUndefinedVariable`
/// (an undefined name, or a missing attribute or key).
fn is_undefined_error(e: &str) -> bool {
    e.contains("is undefined") || e.contains("has no attribute")
}

fn loop_items(task: &Task, scope: &Arc<VarScope>) -> Result<Vec<Value>, String> {
    build_loop(task, scope).map_err(LoopError::message)
}

/// A loop's items, as ansible-core builds them: `loop:` must give a list;
/// `with_<lookup>:` passes its terms (a list, or one term) to the lookup.
fn build_loop(task: &Task, scope: &Arc<VarScope>) -> Result<Vec<Value>, LoopError> {
    let Some(lp) = &task.loop_ else {
        return Ok(Vec::new());
    };
    let v = scope.render_value(&lp.items).map_err(|e| {
        if is_undefined_error(&e) {
            LoopError::Undefined(e)
        } else {
            LoopError::Other(e)
        }
    })?;
    if v.is_undefined() {
        return Err(LoopError::Undefined("the loop's list is undefined".into()));
    }
    let as_list = |v: &Value| -> Option<Vec<Value>> {
        match v.kind() {
            ValueKind::Seq | ValueKind::Iterable => v.try_iter().ok().map(|it| it.collect()),
            _ => None,
        }
    };
    // A lookup's terms: the list given, or the one value as a list.
    let terms = || as_list(&v).unwrap_or_else(|| vec![v.clone()]);
    // The `items` lookup: lists among the terms are flattened one level.
    let flattened = || {
        let mut out = Vec::new();
        for i in terms() {
            match as_list(&i) {
                Some(inner) if i.kind() == ValueKind::Seq => out.extend(inner),
                _ => out.push(i),
            }
        }
        out
    };
    match &lp.kind {
        LoopKind::Loop => as_list(&v).ok_or_else(|| {
            LoopError::Other(format!(
                "The `loop` value must resolve to a 'list', not '{}'.",
                crate::template::pyfmt::py_type_name(&v)
            ))
        }),
        LoopKind::List => Ok(terms()),
        LoopKind::Items => Ok(flattened()),
        LoopKind::IndexedItems => Ok(flattened()
            .into_iter()
            .enumerate()
            .map(|(i, x)| Value::from(vec![Value::from(i), x]))
            .collect()),
        LoopKind::Lookup(name) => {
            let with_terms = scope.with_extra([("__hoist_terms".to_owned(), Value::from(terms()))]);
            let failed = |e: &str| {
                let e = e.strip_prefix("invalid operation: ").unwrap_or(e);
                LoopError::Other(format!("The lookup plugin '{name}' failed: {e}"))
            };
            let found = with_terms
                .eval(&format!("query('{name}', *__hoist_terms)"))
                .map_err(|e| failed(&e))?;
            as_list(&found).ok_or_else(|| failed("the lookup did not return a list"))
        }
        LoopKind::Dict => {
            let mut out = Vec::new();
            for t in terms() {
                if t.kind() != ValueKind::Map {
                    return Err(LoopError::Other(format!(
                        "The lookup plugin 'dict' failed: the 'dict' lookup plugin expects a dictionary, got '{}' of type <class '{}'>)",
                        py_str(&t),
                        crate::template::pyfmt::ansible_class_path(&t)
                    )));
                }
                if let Ok(keys) = t.try_iter() {
                    for k in keys {
                        let val = t.get_item(&k).unwrap_or_default();
                        out.push(vmap([("key", k), ("value", val)]));
                    }
                }
            }
            Ok(out)
        }
    }
}

fn effective_flag(
    task_v: Option<&Value>,
    play_v: Option<&Value>,
    default: bool,
    scope: &Arc<VarScope>,
) -> Result<bool, String> {
    match task_v.or(play_v) {
        Some(v) => value_bool(v, scope),
        None => Ok(default),
    }
}

/// Runs the task (one loop item, or the whole task without a loop),
/// again while `until:` is false, up to `retries` times with `delay`.
async fn run_item(
    ctx: &PlayCtx<'_>,
    task: &Task,
    st: &mut HostState,
    scope: &Arc<VarScope>,
) -> ItemOutcome {
    let delegated = delegate_label(ctx, task, &st.name, scope);
    // `-vv` and more: what the connections do for this item is traced to
    // the reporter, under the result's host label and censored by no_log.
    // `--profile` counts the round trips (commands, SFTP requests) even
    // when nothing is traced.
    use crate::connection::trace::Tracer;
    let host = delegated.clone().unwrap_or_else(|| st.name.clone());
    let tracer = match ctx.reporter.trace_sink() {
        Some(sink) => {
            let no_log = is_no_log(ctx, task, scope);
            Some(Tracer::new(&host, ctx.reporter.verbosity, no_log, sink))
        }
        None if ctx.reporter.profiling() => Some(Tracer::counting(&host)),
        None => None,
    }
    .map(Arc::new);
    let mut out = crate::connection::trace::scope(
        tracer.clone(),
        run_item_retrying(ctx, task, st, scope, delegated.as_deref()),
    )
    .await;
    if let Some(t) = tracer {
        ctx.reporter.round_trips(&host, t.trips());
    }
    out.delegated = delegated;
    out
}

/// `host -> target` (with `(ansible_host)` when the target's differs from
/// its name) for a task delegated to another host, as ansible-core's
/// callbacks label results; `None` when not delegated elsewhere.
fn delegate_label(
    ctx: &PlayCtx<'_>,
    task: &Task,
    host: &str,
    scope: &Arc<VarScope>,
) -> Option<String> {
    let target = py_str(&scope.render_value(task.delegate_to.as_ref()?).ok()?);
    if target == host {
        return None;
    }
    let vars = inv_read(&ctx.inventory).host_vars(&target);
    let address = vars
        .get("ansible_host")
        .and_then(|v| scope.render_value(v).ok())
        .map(|v| py_str(&v))
        .unwrap_or_else(|| target.clone());
    Some(if address == target {
        format!("{host} -> {target}")
    } else {
        format!("{host} -> {target}({address})")
    })
}

async fn run_item_retrying(
    ctx: &PlayCtx<'_>,
    task: &Task,
    st: &mut HostState,
    scope: &Arc<VarScope>,
    delegated: Option<&str>,
) -> ItemOutcome {
    if let Some(skip) = unpredicted_dependency(task, st) {
        return skip;
    }
    // As ansible-core counts: one run plus `retries` (3 when an `until`
    // has no `retries`; a negative count is 0). With a single run there
    // is neither an `until` check nor an `attempts` key.
    let retries = match &task.retries {
        Some(v) => match scope.render_value(v) {
            Ok(v) if v.is_none() => None,
            Ok(v) => match keyword_int("retries", &v) {
                Ok(n) => Some(n.max(0) as u64),
                Err(e) => {
                    return with_ignore(ctx, task, scope, ItemOutcome::failed(located(task, &e)));
                }
            },
            Err(e) => return with_ignore(ctx, task, scope, ItemOutcome::failed(located(task, &e))),
        },
        None => None,
    };
    let until = task.until.as_deref().unwrap_or_default();
    let total = 1 + retries.unwrap_or(if until.is_empty() { 0 } else { 3 });
    if total == 1 {
        return run_item_once(ctx, task, st, scope, None).await;
    }
    let delay = match &task.delay {
        Some(v) => match keyword_float(scope, "delay", v) {
            Ok(d) if d < 0.0 => 1.0,
            Ok(d) => d,
            Err(e) => return with_ignore(ctx, task, scope, ItemOutcome::failed(located(task, &e))),
        },
        None => 5.0,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut out = run_item_once(ctx, task, st, scope, Some(attempt)).await;
        // Skipped, unreachable, or failed before the module ran (no
        // `attempts`): ansible-core does not retry these.
        if matches!(out.status, Status::Skipped | Status::Unreachable)
            || !out.result.contains_key("attempts")
        {
            return out;
        }
        // `until` sees the result only through the registered variable;
        // without `until`, the task is retried until it does not fail.
        let done = match until {
            [] => out.status != Status::Failed,
            until => {
                let cscope = match &task.register {
                    Some(reg) => scope.with_extra([(reg.clone(), vmap(out.result.clone()))]),
                    None => scope.clone(),
                };
                let mut done = true;
                for c in until {
                    match eval_condition(c, &cscope) {
                        Ok(b) => done &= b,
                        Err(e) => {
                            return with_ignore(
                                ctx,
                                task,
                                scope,
                                ItemOutcome::failed(located(task, &e)),
                            );
                        }
                    }
                }
                done
            }
        };
        if done {
            return out;
        }
        if attempt >= total {
            // ansible-core registers one attempt fewer than it made.
            out.result.insert("attempts".into(), Value::from(total - 1));
            out.status = Status::Failed;
            out.result.insert("failed".into(), Value::from(true));
            return with_ignore(ctx, task, scope, out);
        }
        ctx.reporter.retrying(
            delegated.unwrap_or(&st.name),
            &task.display_name(),
            total - attempt,
        );
        tokio::time::sleep(seconds(delay)).await;
    }
}

/// A duration of `secs` seconds (a non-negative, finite float), capped.
fn seconds(secs: f64) -> std::time::Duration {
    std::time::Duration::try_from_secs_f64(secs).unwrap_or(std::time::Duration::MAX)
}

/// A task keyword ansible-core converts to an int: whole numbers, also
/// as floats (`2.0`), strings (`" 2 "`, `"2.0"`) or booleans.
fn keyword_int(keyword: &str, v: &Value) -> Result<i64, String> {
    let whole = |f: f64| (f.fract() == 0.0 && f.is_finite()).then_some(f as i64);
    let n = match v.kind() {
        ValueKind::Bool => Some(i64::from(v.is_true())),
        ValueKind::Number => i64::try_from(v.clone())
            .ok()
            .or_else(|| f64::try_from(v.clone()).ok().and_then(whole)),
        ValueKind::String => {
            let t = v.as_str().unwrap_or_default().trim();
            t.parse::<i64>()
                .ok()
                .or_else(|| t.parse::<f64>().ok().and_then(whole))
        }
        _ => None,
    };
    n.ok_or_else(|| {
        format!(
            "Error processing keyword '{keyword}': The value {} could not be converted to 'int'.",
            crate::template::py_repr(v)
        )
    })
}

/// A task keyword ansible-core converts to a float (`delay`,
/// `loop_control.pause`), templated first.
fn keyword_float(scope: &Arc<VarScope>, keyword: &str, v: &Value) -> Result<f64, String> {
    let v = scope.render_value(v)?;
    let f = match v.kind() {
        ValueKind::Bool => Some(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        ValueKind::String => v.as_str().unwrap_or_default().trim().parse::<f64>().ok(),
        _ => None,
    };
    f.filter(|f| f.is_finite()).ok_or_else(|| {
        format!(
            "Error processing keyword '{keyword}': The value {} could not be converted to 'float'.",
            crate::template::py_repr(&v)
        )
    })
}

/// A task that uses the registered result of a command check mode could
/// not run is skipped, saying so: its outcome cannot be predicted either.
/// (Ansible's check mode hands such tasks an empty `stdout` and predicts a
/// change that will not happen, or fails with "has no attribute".)
fn unpredicted_dependency(task: &Task, st: &HostState) -> Option<ItemOutcome> {
    if st.unpredicted.is_empty() {
        return None;
    }
    let text = format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        task.args, task.when, task.changed_when, task.failed_when, task.vars, task.loop_
    );
    let name = st.unpredicted.iter().find(|n| {
        text.match_indices(n.as_str()).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            let after = text[i + n.len()..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })?;
    let mut r = IndexMap::new();
    r.insert("changed".into(), Value::from(false));
    r.insert("skipped".into(), Value::from(true));
    r.insert(
        "skip_reason".into(),
        Value::from(format!(
            "depends on '{name}', the result of a command check mode cannot predict"
        )),
    );
    Some(ItemOutcome {
        delegated: None,
        status: Status::Skipped,
        result: r,
        diffs: Vec::new(),
        ignored: false,
        facts: IndexMap::new(),
        gathered: IndexMap::new(),
    })
}

/// The result of a task (or loop item) whose `when:` is false.
fn skipped_by_when(task: &Task, scope: &Arc<VarScope>) -> ItemOutcome {
    let mut r = IndexMap::new();
    r.insert("changed".into(), Value::from(false));
    r.insert("false_condition".into(), false_condition(task, scope));
    r.insert(
        "skip_reason".into(),
        Value::from("Conditional result was False"),
    );
    r.insert("skipped".into(), Value::from(true));
    ItemOutcome {
        delegated: None,
        status: Status::Skipped,
        result: r,
        diffs: Vec::new(),
        ignored: false,
        facts: IndexMap::new(),
        gathered: IndexMap::new(),
    }
}

/// Runs the task once (one loop item, or the whole task without a loop).
/// `attempt` (under `until`/`retries`) is registered as `attempts` before
/// `changed_when` and `failed_when` are evaluated, as ansible-core does.
async fn run_item_once(
    ctx: &PlayCtx<'_>,
    task: &Task,
    st: &mut HostState,
    scope: &Arc<VarScope>,
    attempt: Option<u64>,
) -> ItemOutcome {
    crate::interrupt::checkpoint().await;
    // Facts registered by an earlier loop item must be visible: rebuild the
    // scope only when needed (the caller's scope already has the item).
    match eval_when(task, scope) {
        Ok(true) => {}
        Ok(false) => return skipped_by_when(task, scope),
        Err(e) => return with_ignore(ctx, task, scope, ItemOutcome::error(located(task, &e))),
    }
    let spec = task.module.spec();
    let mut check = match effective_flag(
        task.check_mode.as_ref(),
        ctx.play.check_mode.as_ref(),
        ctx.opts.check,
        scope,
    ) {
        Ok(b) => b,
        Err(e) => return ItemOutcome::failed(located(task, &e)),
    };
    // `hoist diff` never writes: `check_mode: false` holds only for
    // modules (or calls, see `read_only_call`) that cannot change a host.
    let forced_check = ctx.opts.read_only && !check && !READ_ONLY_MODULES.contains(&spec.name);
    if forced_check {
        check = true;
    }
    let diff = effective_flag(
        task.diff.as_ref(),
        ctx.play.diff.as_ref(),
        ctx.opts.diff,
        scope,
    )
    .unwrap_or(ctx.opts.diff);

    // Arguments.
    let mut raw: IndexMap<String, Value> = IndexMap::new();
    if let Some(expr) = &task.args_expr {
        match scope.render_value(expr) {
            Ok(v) if v.kind() == ValueKind::Map => {
                if let Ok(keys) = v.try_iter() {
                    for k in keys {
                        let val = v.get_item(&k).unwrap_or_default();
                        raw.insert(py_str(&k), val);
                    }
                }
            }
            Ok(v) => {
                return ItemOutcome::failed(located(
                    task,
                    &format!("`args` must be a dict, got {}", py_str(&v)),
                ));
            }
            Err(e) => {
                return with_ignore(
                    ctx,
                    task,
                    scope,
                    ItemOutcome::error(located(task, &undefined_opt(&e))),
                );
            }
        }
    }
    for (k, v) in &task.args {
        match scope.render_value(v) {
            Ok(rendered) => {
                if let Some(clean) = strip_omit(&rendered, &ctx.omit) {
                    raw.insert(k.clone(), clean);
                }
            }
            Err(e) => {
                return with_ignore(
                    ctx,
                    task,
                    scope,
                    ItemOutcome::error(located(task, &undefined_opt(&e))),
                );
            }
        }
    }

    if is_no_log(ctx, task, scope) {
        no_log_secrets(spec, &raw);
    }

    let outcome = if spec.name == "add_host" || spec.name == "group_by" {
        match change_inventory(ctx, spec.name, &st.name, &raw) {
            Ok((changed, result)) => {
                let mut r = result;
                r.insert("changed".into(), Value::from(changed));
                ItemOutcome {
                    delegated: None,
                    status: if changed { Status::Changed } else { Status::Ok },
                    result: r,
                    diffs: Vec::new(),
                    ignored: false,
                    facts: IndexMap::new(),
                    gathered: IndexMap::new(),
                }
            }
            Err(e) => return with_ignore(ctx, task, scope, ItemOutcome::failed(located(task, &e))),
        }
    } else if spec.name == "include_vars" {
        match include_vars(ctx, task, &raw) {
            Ok((facts, files)) => {
                let mut r = IndexMap::new();
                r.insert("ansible_facts".into(), vmap(facts.clone()));
                r.insert("ansible_included_var_files".into(), Value::from(files));
                r.insert("changed".into(), Value::from(false));
                ItemOutcome {
                    delegated: None,
                    status: Status::Ok,
                    result: r,
                    diffs: Vec::new(),
                    ignored: false,
                    facts,
                    gathered: IndexMap::new(),
                }
            }
            Err(out) => return with_ignore(ctx, task, scope, *out),
        }
    } else if spec.name == "set_fact" {
        match set_fact(raw, scope) {
            Ok(out) => out,
            Err(e) => return with_ignore(ctx, task, scope, ItemOutcome::failed(located(task, &e))),
        }
    } else {
        let args = match Args::bind(spec, &raw) {
            Ok(a) => a,
            Err(e) => return with_ignore(ctx, task, scope, ItemOutcome::failed(e)),
        };
        if forced_check && read_only_call(spec.name, &args) {
            check = false;
        }
        if check && !spec.check_mode {
            let mut r = IndexMap::new();
            r.insert("changed".into(), Value::from(false));
            r.insert("skipped".into(), Value::from(true));
            // Modules behind an action plugin that refuses check mode say
            // so in the action's words, naming the action as written.
            let msg = if ACTION_NO_CHECK_MODE.contains(&spec.name) {
                format!("This action ({}) does not support check mode.", task.action)
            } else {
                format!("remote module ({}) does not support check mode", spec.name)
            };
            r.insert("msg".into(), Value::from(msg));
            return ItemOutcome {
                delegated: None,
                status: Status::Skipped,
                result: r,
                diffs: Vec::new(),
                ignored: false,
                facts: IndexMap::new(),
                gathered: IndexMap::new(),
            };
        }
        let conn = match connect(ctx, st, task, scope).await {
            Ok(c) => c,
            Err(e) => return module_error(e),
        };
        let env_vars = match environment(ctx, task, scope) {
            Ok(e) => e,
            Err(e) => return with_ignore(ctx, task, scope, ItemOutcome::failed(located(task, &e))),
        };
        let wrapped = WithEnv {
            inner: conn.as_ref(),
            env: env_vars,
        };
        let env = Env {
            scope: scope.clone(),
            ctx,
            task,
        };
        // Check mode predicts through the host's overlay: file modules run
        // their real logic against it, the others see what it predicts.
        let cached = StatCache::new(&wrapped);
        let overlay = st.overlay.clone();
        let predicted = overlay.over(&cached);
        let (conn_ref, module_check, predict): (&dyn Connection, bool, bool) = if check {
            (&predicted, !PREDICTABLE_MODULES.contains(&spec.name), true)
        } else {
            (&cached, false, false)
        };
        let mctx = ModuleCtx {
            conn: conn_ref,
            check_mode: module_check,
            predict,
            diff,
            host: &st.name,
            env: &env,
        };
        let limit = match &task.timeout {
            Some(v) => match scope.render_value(v).map(|v| i64::try_from(v.clone()).ok()) {
                Ok(Some(n)) if n > 0 => Some(n as u64),
                Ok(_) => None,
                Err(e) => {
                    return with_ignore(ctx, task, scope, ItemOutcome::failed(located(task, &e)));
                }
            },
            None => None,
        };
        let ran = match limit {
            None => task.module.run(&args, &mctx).await,
            Some(secs) => match tokio::time::timeout(
                std::time::Duration::from_secs(secs),
                task.module.run(&args, &mctx),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(ModuleError::Failed(format!(
                    "The {} action failed to execute in the expected time frame ({secs}) and was terminated",
                    task.action
                ))),
            },
        };
        match ran {
            Ok(o) => {
                let mut r = IndexMap::new();
                r.insert("changed".into(), Value::from(o.changed));
                for (k, v) in o.data {
                    r.insert(k, v);
                }
                if let Some(m) = &o.msg {
                    r.insert("msg".into(), Value::from(m.as_str()));
                }
                if o.failed {
                    r.insert("failed".into(), Value::from(true));
                }
                if o.skipped {
                    r.insert("skipped".into(), Value::from(true));
                }
                // A module's own `diff` value (file's before/after dicts) wins.
                if diff && !o.diffs.is_empty() && !r.contains_key("diff") {
                    r.insert(
                        "diff".into(),
                        Value::from(
                            o.diffs
                                .iter()
                                .map(|d| {
                                    vmap([
                                        ("before", Value::from(d.before.as_str())),
                                        ("after", Value::from(d.after.as_str())),
                                        ("before_header", Value::from(d.before_header.as_str())),
                                        ("after_header", Value::from(d.after_header.as_str())),
                                    ])
                                })
                                .collect::<Vec<_>>(),
                        ),
                    );
                }
                let status = if o.failed {
                    Status::Failed
                } else if o.skipped {
                    Status::Skipped
                } else if o.changed {
                    Status::Changed
                } else {
                    Status::Ok
                };
                ItemOutcome {
                    delegated: None,
                    status,
                    result: r,
                    diffs: if diff { o.diffs } else { Vec::new() },
                    ignored: false,
                    facts: IndexMap::new(),
                    gathered: o.facts,
                }
            }
            Err(e) => module_error(e),
        }
    };
    if outcome.status == Status::Unreachable {
        return outcome;
    }
    let mut outcome = outcome;
    if let Some(n) = attempt {
        outcome.result.insert("attempts".into(), Value::from(n));
    }
    if outcome.status == Status::Skipped {
        // A module that skipped itself (check mode) ran: `failed` is set.
        if !outcome.result.contains_key("false_condition") {
            outcome
                .result
                .entry("failed".into())
                .or_insert(Value::from(false));
        }
        return outcome;
    }
    apply_conditions(ctx, task, scope, outcome)
}

/// `set_fact`: every argument but `cacheable` is a variable of the host;
/// with `cacheable` the facts also join the host's facts (`ansible_facts`),
/// which `meta: clear_facts` forgets while the variables stay.
/// A templated name is rendered and must be a valid variable name.
fn set_fact(raw: IndexMap<String, Value>, scope: &Arc<VarScope>) -> Result<ItemOutcome, String> {
    let mut facts = IndexMap::new();
    let mut cacheable = false;
    // ansible-core 2.19 keeps `k=v` values as strings (no yes/no coercion).
    for (k, v) in raw {
        if k == "cacheable" {
            cacheable = crate::modules::args::to_bool(&v).ok_or_else(|| {
                format!(
                    "cacheable: '{}' is not a valid boolean",
                    crate::template::py_str(&v)
                )
            })?;
            continue;
        }
        let k = if crate::template::is_template(&k) {
            let name = scope.render(&k).map_err(|e| undefined_opt(&e))?;
            let name = py_str(&name);
            if !crate::playbook::valid_variable_name(&name) {
                return Err(crate::playbook::invalid_variable_name(&name));
            }
            name
        } else {
            k
        };
        facts.insert(k, v);
    }
    let mut r = IndexMap::new();
    r.insert("ansible_facts".into(), vmap(facts.clone()));
    r.insert("changed".into(), Value::from(false));
    Ok(ItemOutcome {
        delegated: None,
        status: Status::Ok,
        result: r,
        diffs: Vec::new(),
        ignored: false,
        gathered: if cacheable {
            facts.clone()
        } else {
            IndexMap::new()
        },
        facts,
    })
}

/// `add_host` (a new host and its groups/vars) and `group_by` (this host
/// into a group); true when the inventory changed.
fn change_inventory(
    ctx: &PlayCtx<'_>,
    module: &str,
    host: &str,
    raw: &IndexMap<String, Value>,
) -> Result<(bool, IndexMap<String, Value>), String> {
    let list = |v: Option<&Value>| -> Vec<String> {
        match v {
            None => Vec::new(),
            Some(v) => match v.as_str() {
                Some(s) => s
                    .split(',')
                    .map(|x| x.trim().to_owned())
                    .filter(|x| !x.is_empty())
                    .collect(),
                None => v
                    .try_iter()
                    .map(|it| it.map(|x| py_str(&x)).collect())
                    .unwrap_or_default(),
            },
        }
    };
    let mut result = IndexMap::new();
    let (target, groups, parents, vars) = if module == "add_host" {
        let name = ["name", "host", "hostname"]
            .iter()
            .find_map(|k| raw.get(*k))
            .map(py_str)
            .ok_or("add_host needs a name")?;
        let groups = list(
            ["groups", "group", "groupname"]
                .iter()
                .find_map(|k| raw.get(*k)),
        );
        let vars: IndexMap<String, Value> = raw
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "name" | "host" | "hostname" | "groups" | "group" | "groupname"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        result.insert(
            "add_host".into(),
            vmap([
                ("host_name", Value::from(name.as_str())),
                ("groups", Value::from(groups.clone())),
                ("host_vars", vmap(vars.clone())),
            ]),
        );
        (name, groups, Vec::new(), vars)
    } else {
        let key = raw.get("key").map(py_str).ok_or("group_by needs a key")?;
        let mut parents = list(raw.get("parents"));
        if parents.is_empty() {
            parents.push("all".into());
        }
        result.insert("add_group".into(), Value::from(key.as_str()));
        result.insert("parent_groups".into(), Value::from(parents.clone()));
        (host.to_owned(), vec![key], parents, IndexMap::new())
    };
    let mut inv = ctx.inventory.write().unwrap_or_else(|p| p.into_inner());
    let before = (
        inv.has_host(&target),
        inv.group_names(&target),
        inv.host_vars(&target),
    );
    inv.add_runtime(&target, &groups, &parents, vars)?;
    let changed = before
        != (
            inv.has_host(&target),
            inv.group_names(&target),
            inv.host_vars(&target),
        );
    drop(inv);
    if let Ok(mut c) = ctx.changed_hosts.lock() {
        c.push(target);
    }
    Ok((changed, result))
}

/// `include_vars`: reads a file (or a directory of files) found in the
/// role's `vars/`, beside the task file, or beside the playbook.
/// What include_vars read: the variables and the files.
type IncludedVars = (IndexMap<String, Value>, Vec<String>);

/// `include_vars`: the variables and the files read, or the failed result.
fn include_vars(
    ctx: &PlayCtx<'_>,
    task: &Task,
    raw: &IndexMap<String, Value>,
) -> Result<IncludedVars, Box<ItemOutcome>> {
    let get = |k: &str| raw.get(k).map(py_str);
    let failed = |msg: String| Box::new(ItemOutcome::failed(msg));
    let mut bases: Vec<PathBuf> = Vec::new();
    if let Some(r) = &task.role {
        bases.push(r.path.join("vars"));
        bases.push(r.path.clone());
    }
    bases.push(task.dir.join("vars"));
    bases.push(task.dir.clone());
    bases.push(ctx.playbook_dir.join("vars"));
    bases.push(ctx.playbook_dir.clone());
    let find = |name: &str| -> Option<PathBuf> {
        let p = std::path::Path::new(name);
        if p.is_absolute() {
            return p.exists().then(|| p.to_path_buf());
        }
        bases.iter().map(|b| b.join(name)).find(|c| c.exists())
    };
    let (vars, names) = if let Some(f) = get("file").or_else(|| get("_raw_params")) {
        let path = find(&f)
            .ok_or_else(|| failed(located(task, &format!("Could not find or access '{f}'"))))?;
        let vars = crate::modules::include_vars::load_file(&path).map_err(failed)?;
        (vars, vec![path.display().to_string()])
    } else if let Some(d) = get("dir") {
        let dir = find(&d).ok_or_else(|| failed(format!("{d} directory does not exist")))?;
        if !dir.is_dir() {
            return Err(failed(format!("{} is not a directory", dir.display())));
        }
        let loaded = crate::modules::include_vars::load_dir(&dir, raw).map_err(failed)?;
        if let Some(e) = loaded.error {
            // As ansible-core: the reason in `message`, the files read so far.
            let mut out = failed(e.clone());
            out.result.insert("message".into(), Value::from(e));
            out.result.insert("ansible_facts".into(), vmap(loaded.vars));
            out.result.insert(
                "ansible_included_var_files".into(),
                Value::from(loaded.files),
            );
            return Err(out);
        }
        (loaded.vars, loaded.files)
    } else {
        (IndexMap::new(), Vec::new())
    };
    match get("name") {
        Some(n) => Ok(([(n, vmap(vars))].into_iter().collect(), names)),
        None => Ok((vars, names)),
    }
}

/// The result of a meta task whose `when` is false, in ansible-core's words.
fn meta_skipped(action: &str, host: &str) -> IndexMap<String, Value> {
    let why = match action {
        "flush_handlers" => format!(", not running handlers for {host}"),
        "clear_facts" => format!(", not clearing facts and fact cache for {host}"),
        "clear_host_errors" => format!(", not clearing host error state for {host}"),
        "end_batch" => ", continuing current batch".to_owned(),
        "end_play" => ", continuing play".to_owned(),
        "end_host" => format!(", continuing execution for {host}"),
        _ => String::new(),
    };
    let msg = if action == "end_host" {
        format!("end_host conditional evaluated to false, continuing execution for {host}")
    } else {
        action.to_owned()
    };
    let mut r = IndexMap::new();
    r.insert("msg".to_owned(), Value::from(msg));
    r.insert(
        "skip_reason".to_owned(),
        Value::from(format!("{action} conditional evaluated to False{why}")),
    );
    r
}

fn undefined_opt(e: &str) -> String {
    if e.contains("undefined") {
        format!("The task includes an option with an undefined variable. The error was: {e}")
    } else {
        format!("The task includes an option that could not be templated: {e}")
    }
}

fn module_error(e: ModuleError) -> ItemOutcome {
    match e {
        ModuleError::Failed(m) => ItemOutcome::failed(m),
        ModuleError::Unreachable(m) => {
            let mut r = IndexMap::new();
            r.insert("changed".into(), Value::from(false));
            // As ansible-core 2.19 words an unreachable host's error.
            let m = if m.starts_with("Task failed: ") {
                m
            } else {
                format!("Task failed: {m}")
            };
            r.insert("msg".into(), Value::from(m));
            r.insert("unreachable".into(), Value::from(true));
            ItemOutcome {
                delegated: None,
                status: Status::Unreachable,
                result: r,
                diffs: Vec::new(),
                ignored: false,
                facts: IndexMap::new(),
                gathered: IndexMap::new(),
            }
        }
    }
}

fn environment(
    ctx: &PlayCtx<'_>,
    task: &Task,
    scope: &Arc<VarScope>,
) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for env in [ctx.play.environment.as_ref(), task.environment.as_ref()]
        .into_iter()
        .flatten()
    {
        let v = scope.render_value(env)?;
        if v.kind() != ValueKind::Map {
            return Err(format!("environment must be a dict, got {}", py_str(&v)));
        }
        if let Ok(keys) = v.try_iter() {
            for k in keys {
                let val = v.get_item(&k).unwrap_or_default();
                let key = py_str(&k);
                out.retain(|(k2, _)| *k2 != key);
                out.push((key, py_str(&val)));
            }
        }
    }
    Ok(out)
}

/// Applies `changed_when`, `failed_when` and `ignore_errors`.
fn apply_conditions(
    ctx: &PlayCtx<'_>,
    task: &Task,
    scope: &Arc<VarScope>,
    mut out: ItemOutcome,
) -> ItemOutcome {
    // Every result of a module that ran has `failed`, as ansible-core
    // sets it before changed_when/failed_when see the result (a result
    // skipped by a condition has none).
    if !out.result.contains_key("failed") && !out.result.contains_key("false_condition") {
        out.result
            .insert("failed".into(), Value::from(out.status == Status::Failed));
    }
    if task.changed_when.is_some() || task.failed_when.is_some() {
        let result_value = vmap(out.result.clone());
        let mut extra: Vec<(String, Value)> = out
            .result
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(reg) = &task.register {
            extra.push((reg.clone(), result_value));
        }
        let cscope = scope.with_extra(extra);
        if let Some(conds) = &task.changed_when {
            let mut changed = true;
            for c in conds {
                match eval_condition(c, &cscope) {
                    Ok(b) => changed &= b,
                    Err(e) => {
                        return condition_failed(ctx, task, scope, out, "changed_when_result", e);
                    }
                }
            }
            if conds.is_empty() {
                changed = false;
            }
            out.result.insert("changed".into(), Value::from(changed));
            if out.status != Status::Failed {
                out.status = if changed { Status::Changed } else { Status::Ok };
            }
        }
        if let Some(conds) = &task.failed_when {
            let mut failed = !conds.is_empty();
            for c in conds {
                match eval_condition(c, &cscope) {
                    Ok(b) => failed &= b,
                    Err(e) => {
                        return condition_failed(ctx, task, scope, out, "failed_when_result", e);
                    }
                }
            }
            out.result
                .insert("failed_when_result".into(), Value::from(failed));
            // A module failure failed_when overrides is kept as ansible-core
            // keeps it: an exception it suppressed.
            if !failed && out.status == Status::Failed {
                out.result.insert(
                    "failed_when_suppressed_exception".into(),
                    Value::from(NO_TRACEBACK),
                );
            }
            out.result.insert("failed".into(), Value::from(failed));
            let changed = out.result.get("changed").is_some_and(|v| v.is_true());
            out.status = if failed {
                Status::Failed
            } else if changed {
                Status::Changed
            } else {
                Status::Ok
            };
        }
    }
    if out.status == Status::Failed {
        out.result.insert("failed".into(), Value::from(true));
    }
    with_ignore(ctx, task, scope, out)
}

/// A `changed_when`/`failed_when` that could not be evaluated fails the
/// task, keeping the module's result, with the error as the condition's
/// result (`failed_when_result`), as ansible-core 2.19 does.
fn condition_failed(
    ctx: &PlayCtx<'_>,
    task: &Task,
    scope: &Arc<VarScope>,
    mut out: ItemOutcome,
    key: &str,
    e: String,
) -> ItemOutcome {
    out.result.insert(key.into(), Value::from(e));
    out.result.insert("failed".into(), Value::from(true));
    out.status = Status::Failed;
    with_ignore(ctx, task, scope, out)
}

fn with_ignore(
    ctx: &PlayCtx<'_>,
    task: &Task,
    scope: &Arc<VarScope>,
    mut out: ItemOutcome,
) -> ItemOutcome {
    if out.status == Status::Failed && is_ignored(ctx, task, scope) {
        out.ignored = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(n: usize, serial: Value) -> Vec<usize> {
        let hosts: Vec<String> = (1..=n).map(|i| format!("h{i}")).collect();
        batches(&hosts, &serial).iter().map(Vec::len).collect()
    }

    #[test]
    fn serial_batches_are_cut_as_ansible_core_cuts_them() {
        let canary = || {
            Value::from(vec![
                Value::from(1),
                Value::from("25%"),
                Value::from("100%"),
            ])
        };
        // A share of all the play's hosts, rounded down, at least one.
        assert_eq!(sizes(3, canary()), [1, 1, 1]);
        assert_eq!(sizes(10, canary()), [1, 2, 7]);
        assert_eq!(sizes(10, Value::from("30%")), [3, 3, 3, 1]);
        assert_eq!(sizes(3, Value::from("10%")), [1, 1, 1]);
        // The last size repeats; 0 (not a percentage) is every host.
        assert_eq!(
            sizes(5, Value::from(vec![Value::from(1), Value::from(2)])),
            [1, 2, 2]
        );
        assert_eq!(sizes(4, Value::from(0)), [4]);
    }
}
