//! The command line: `hoist apply` and `hoist diff`, with ansible-playbook's
//! flags. This module parses arguments and wires the stages together:
//! load inventory → load and validate playbooks → run → exit code.

// Everything this file prints on standard error (load problems, errors,
// warnings) has the run's secrets masked, as the reporter's output has.
macro_rules! eprintln {
    ($($t:tt)*) => { $crate::secrets::eprintln(&format!($($t)*)) };
}
macro_rules! eprint {
    ($($t:tt)*) => { $crate::secrets::eprint(&format!($($t)*)) };
}

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args as ClapArgs, Parser, Subcommand};
use indexmap::IndexMap;
use minijinja::Value;

use crate::connection::ssh::SshOptions;
use crate::connection::ssh_config::StrictMode;
use crate::error::Diagnostic;
use crate::executor::{Executor, RunOptions, RunSummary};
use crate::inventory::{Inventory, VarSource};
use crate::playbook::{self, Playbook};
use crate::report::{Format, Reporter};
use crate::template::Templar;
use crate::yaml::{Node, NodeKind};

/// Exit codes, as ansible-playbook uses them.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const HOST_FAILED: i32 = 2;
    pub const CHANGES_PENDING: i32 = 2;
    pub const UNREACHABLE: i32 = 4;
    pub const PARSE_ERROR: i32 = 4;
    /// Bad or incomplete options: a bad ansible.cfg or `ANSIBLE_*`
    /// setting, or an ad-hoc module without its arguments (ansible's 5).
    pub const OPTIONS: i32 = 5;
    pub const INTERRUPTED: i32 = 99;
}

#[derive(Parser, Debug)]
#[command(
    name = "hoist",
    version,
    about = "Agentless configuration management that runs Ansible playbooks"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply playbooks to hosts (like ansible-playbook).
    Apply(RunArgs),
    /// Show what `apply` would change, changing nothing. Exit code 0: nothing
    /// would change; 2: changes pending; 1: error.
    Diff(RunArgs),
    /// Run one module on the hosts a pattern selects (like `ansible`):
    /// `hoist run web -m shell -a uptime`.
    Run(AdHocArgs),
    /// Show a host's variables; for one variable, every source that sets
    /// it (file:line:col), lowest precedence first, and which one wins.
    Vars(VarsArgs),
    /// Show the inventory as ansible-inventory does: `--list`, `--graph
    /// [GROUP]`, `--host HOST`.
    Inventory(InventoryArgs),
    /// Disposable local test hosts behind a gateway (root, Linux).
    Lab(crate::lab::LabArgs),
    /// Show the settings read from ansible.cfg and the environment.
    Config(ConfigArgs),
    /// Encrypt and decrypt Ansible Vault files and strings (like
    /// ansible-vault): create, edit, view, encrypt, decrypt, rekey,
    /// encrypt-string.
    Vault(crate::vault::cli::VaultCmd),
    /// Print a shell completion script (e.g. `hoist completions bash >
    /// /etc/bash_completion.d/hoist`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout (e.g. `hoist man | man -l -`).
    Man,
    /// Show the modules hoist has (like ansible-doc): `hoist doc --list`,
    /// `hoist doc copy` (parameters, check mode, diff, where hoist differs).
    Doc(DocArgs),
}

#[derive(ClapArgs, Debug, Clone)]
pub struct DocArgs {
    /// Every module, by its full name, with a one-line summary.
    #[arg(short = 'l', long = "list", conflicts_with = "modules")]
    pub list: bool,
    /// The modules to show (short or full names: `copy`,
    /// `ansible.builtin.copy`, `ansible.posix.sysctl`).
    #[arg(value_name = "MODULE", required_unless_present = "list")]
    pub modules: Vec<String>,
}

#[derive(ClapArgs, Debug, Clone)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Subcommand, Debug, Clone)]
pub enum ConfigAction {
    /// Every setting hoist reads, its value and where it came from (like
    /// `ansible-config dump`).
    Dump {
        /// Only the settings that differ from the defaults.
        #[arg(long = "only-changed", alias = "changed-only")]
        only_changed: bool,
    },
}

/// Where hosts and their variables come from: `-i` and `-e`.
#[derive(ClapArgs, Debug, Clone)]
pub struct InputArgs {
    /// Inventory file, directory or comma-separated host list (repeatable;
    /// default: `inventory` of ansible.cfg, ANSIBLE_INVENTORY, HOIST_INVENTORY).
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    pub inventory: Vec<String>,
    /// Extra variables: key=value pairs, YAML/JSON text, or @file (repeatable).
    #[arg(short = 'e', long = "extra-vars", value_name = "EXTRA_VARS")]
    pub extra_vars: Vec<String>,
    /// An environment variable whose value is a secret: never shown, and
    /// what is made from it (`lookup('env', NAME)`) neither (repeatable;
    /// also `secret_env` in the `[hoist]` section of ansible.cfg, and
    /// HOIST_SECRET_ENV=NAME1,NAME2).
    #[arg(long = "secret-env", value_name = "NAME")]
    pub secret_env: Vec<String>,
    #[command(flatten)]
    pub vault: crate::vault::cli::VaultArgs,
}

#[derive(ClapArgs, Debug, Clone)]
pub struct VarsArgs {
    /// The host (an inventory host name).
    #[arg(value_name = "HOST")]
    pub host: String,
    /// One variable to explain.
    #[arg(value_name = "VAR")]
    pub var: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Also the vars of this playbook's plays that target the host: role
    /// defaults and vars, play vars, vars_files, group_vars/host_vars
    /// beside it (repeatable).
    #[arg(short = 'p', long = "playbook", value_name = "PLAYBOOK")]
    pub playbooks: Vec<PathBuf>,
}

#[derive(ClapArgs, Debug, Clone)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["list", "graph", "host"])))]
pub struct InventoryArgs {
    /// Inventory file, directory or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    pub inventory: Vec<String>,
    /// Every group and host, with the hosts' variables (JSON).
    #[arg(long = "list")]
    pub list: bool,
    /// The tree of groups and hosts, from `all` or the group given.
    #[arg(long = "graph")]
    pub graph: bool,
    /// One host's variables (JSON).
    #[arg(long = "host", value_name = "HOST")]
    pub host: Option<String>,
    /// The group to start `--graph` at.
    #[arg(value_name = "GROUP")]
    pub group: Option<String>,
    /// With `--graph`: each host's and group's variables too.
    #[arg(long = "vars")]
    pub vars: bool,
    /// YAML instead of JSON (`--list`, `--host`).
    #[arg(short = 'y', long = "yaml")]
    pub yaml: bool,
    /// With `--list`: only the hosts this pattern selects.
    #[arg(short = 'l', long = "limit", value_name = "SUBSET")]
    pub limit: Option<String>,
    /// Write the inventory to this file instead of the screen.
    #[arg(long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub vault: crate::vault::cli::VaultArgs,
}

#[derive(ClapArgs, Debug, Clone)]
pub struct AdHocArgs {
    /// The hosts: an Ansible host pattern (`all`, `web:&prod`, `db*`).
    #[arg(value_name = "PATTERN")]
    pub pattern: String,
    /// The module to run.
    #[arg(short = 'm', long = "module-name", default_value = "command")]
    pub module: String,
    /// The module's arguments: `k=v k2=v2`, free-form text for
    /// command/shell/raw, or a JSON object.
    #[arg(short = 'a', long = "args", value_name = "MODULE_ARGS")]
    pub args: Option<String>,
    /// One line per host (ansible's `oneline` output).
    #[arg(short = 'o', long = "one-line")]
    pub one_line: bool,
    /// List the hosts the pattern selects, and stop.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(ClapArgs, Debug, Clone)]
pub struct RunArgs {
    /// Playbook files to run, in order.
    #[arg(required = true, value_name = "PLAYBOOK")]
    pub playbooks: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Only run tasks and plays tagged with these values (repeatable, comma-separated).
    #[arg(short = 't', long = "tags")]
    pub tags: Vec<String>,
    /// Skip tasks and plays tagged with these values.
    #[arg(long = "skip-tags")]
    pub skip_tags: Vec<String>,
    /// Run handlers even if a task fails (the default of the plays'
    /// `force_handlers`).
    #[arg(long = "force-handlers")]
    pub force_handlers: bool,
    /// Drop the handlers an earlier run left pending (a failed or
    /// interrupted run records them in .hoist/ beside the inventory, and
    /// the next apply of the play runs them first) instead of running them.
    #[arg(long = "forget-pending-handlers")]
    pub forget_pending_handlers: bool,
    /// Load and validate the playbooks and the inventory, and stop: exit 0
    /// when everything is valid, else the problems.
    #[arg(long = "syntax-check")]
    pub syntax_check: bool,
    /// List the hosts each play would run on, and stop.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,
    /// List the tasks each play would run, and stop.
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,
    /// List the tags of each play, and stop.
    #[arg(long = "list-tags")]
    pub list_tags: bool,
    /// Start the run at the first task with this name.
    #[arg(long = "start-at-task", value_name = "TASK_NAME")]
    pub start_at_task: Option<String>,
    /// After applying, apply the same playbooks again and fail (exit 2)
    /// if any task changes again, listing each with its diff (`apply`).
    #[arg(long = "verify-idempotent")]
    pub verify_idempotent: bool,
    /// Output format on stdout: ansible-playbook's text, or JSON Lines
    /// events for CI (see docs/events.md).
    #[arg(long = "output", value_name = "FORMAT", value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Also write a JUnit XML report to FILE at the end of the run (a
    /// testcase per host and task; in `diff`, a task that would change
    /// is a failure carrying its diff).
    #[arg(long = "junit", value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// After the recap, list the slowest tasks with their times (as the
    /// profile_tasks callback) and the run's total; text output only.
    #[arg(long = "profile")]
    pub profile: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// How to run tasks: hosts, connection, become, check and diff mode,
/// output (shared by `apply`, `diff` and `run`).
#[derive(ClapArgs, Debug, Clone)]
pub struct ExecArgs {
    /// Limit the selected hosts to a pattern.
    #[arg(short = 'l', long = "limit", value_name = "SUBSET")]
    pub limit: Option<String>,
    /// How many hosts to work on at once (default: `forks` of ansible.cfg,
    /// ANSIBLE_FORKS, HOIST_FORKS, else 5).
    #[arg(short = 'f', long = "forks")]
    pub forks: Option<usize>,
    /// Connection type to use (local, ssh).
    #[arg(short = 'c', long = "connection")]
    pub connection: Option<String>,
    /// Don't make any changes; predict them instead.
    #[arg(short = 'C', long = "check")]
    pub check: bool,
    /// Show the differences in changed files and templates.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,
    /// More output (-vvv for indented results).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Connect as this user when the inventory names none.
    #[arg(short = 'u', long = "user", value_name = "REMOTE_USER")]
    pub user: Option<String>,
    /// Private key file to authenticate with.
    #[arg(
        long = "private-key",
        alias = "key-file",
        value_name = "PRIVATE_KEY_FILE"
    )]
    pub private_key: Option<String>,
    /// OpenSSH client configuration file to use instead of ~/.ssh/config.
    #[arg(long = "ssh-config", value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Connection timeout in seconds (connect, authentication, channel
    /// open; default: `timeout` of ansible.cfg, ANSIBLE_TIMEOUT, else 10).
    #[arg(short = 'T', long = "timeout")]
    pub timeout: Option<u64>,
    /// Host key checking: strict (default), accept-new, or off. Also
    /// `host_key_checking = False` in ansible.cfg or
    /// ANSIBLE_HOST_KEY_CHECKING=False, as in Ansible.
    #[arg(long = "host-key-checking", value_name = "POLICY", value_parser = ["strict", "accept-new", "off"])]
    pub host_key_checking: Option<String>,
    /// Run operations with become (sudo by default).
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    /// The user to become (default root).
    #[arg(long = "become-user")]
    pub become_user: Option<String>,
    /// How to become: sudo or su.
    #[arg(long = "become-method")]
    pub become_method: Option<String>,
    /// Ask for the become (sudo) password.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// `ssh_args` from the config (no flag).
    #[arg(skip)]
    pub ssh_args: Option<String>,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let (mut args, diff_cmd) = match cli.command {
        Command::Apply(a) => (a, false),
        Command::Diff(a) => (a, true),
        Command::Run(a) => {
            return match runtime() {
                Ok(rt) => rt.block_on(adhoc(a)),
                Err(code) => code,
            };
        }
        Command::Lab(a) => return crate::lab::run(a),
        Command::Vars(mut a) => {
            let Some(config) = load_config(&mut a.input.inventory) else {
                return exit::ERROR;
            };
            if !a.input.vault.install(Some(&config)) {
                return exit::ERROR;
            }
            register_secret_env(&a.input.secret_env, &config);
            return vars(&a);
        }
        Command::Inventory(mut a) => {
            let Some(config) = load_config(&mut a.inventory) else {
                return exit::ERROR;
            };
            if !a.vault.install(Some(&config)) {
                return exit::ERROR;
            }
            register_secret_env(&[], &config);
            return inventory(&a);
        }
        Command::Vault(a) => return crate::vault::cli::run(a),
        Command::Config(a) => return config_cmd(&a),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "hoist", &mut out);
            return print_bytes(&out);
        }
        Command::Man => return man(),
        Command::Doc(a) => return doc(&a),
    };
    let error_code = if diff_cmd { exit::ERROR } else { exit::OPTIONS };
    let Some(config) = load_config(&mut args.input.inventory) else {
        return error_code;
    };
    register_secret_env(&args.input.secret_env, &config);
    args.exec.apply_config(&config);
    if !args.input.vault.install(Some(&config)) {
        return error_code;
    }
    match runtime() {
        Ok(rt) => rt.block_on(run(args, diff_cmd)),
        Err(code) => code,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("ERROR! cannot start the async runtime: {e}");
            exit::ERROR
        })
}

/// Modules whose results `ansible` shows as text (`MODULE_NO_JSON`).
fn text_output_module(name: &str) -> bool {
    let short = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .or_else(|| name.strip_prefix("ansible.windows."))
        .unwrap_or(name);
    matches!(
        short,
        "command" | "shell" | "raw" | "win_command" | "win_shell"
    )
}

/// `hoist run PATTERN -m MODULE -a ARGS`: a one-task play built in memory
/// (as `ansible` builds it: `hosts: PATTERN`, `gather_facts: false`),
/// validated and run as a playbook's, with `ansible`'s output and exit
/// codes (0; 2 a host failed; 4 a host unreachable or invalid input; 5
/// a bad option).
pub async fn adhoc(mut args: AdHocArgs) -> i32 {
    let Some(config) = load_config(&mut args.input.inventory) else {
        return exit::OPTIONS;
    };
    register_secret_env(&args.input.secret_env, &config);
    args.exec.apply_config(&config);
    if !args.input.vault.install(Some(&config)) {
        return exit::ERROR;
    }
    let templar = Arc::new(Templar::new());
    let module = args.module.trim().to_owned();
    let raw_args = args.args.clone().unwrap_or_default();
    let reporter = Reporter::adhoc(
        args.exec.verbose,
        crate::report::AdHoc {
            text_output: text_output_module(&module),
            one_line: args.one_line,
        },
    );
    // Colour as ansible's minimal/oneline callbacks (no bars for `run`).
    let reporter = {
        use std::io::IsTerminal;
        let env = |name: &str| std::env::var(name).ok();
        let tty = std::io::stdout().is_terminal();
        let out = crate::report::colour::enabled(&env, tty);
        let err = crate::report::colour::enabled(&env, tty && std::io::stderr().is_terminal());
        reporter.with_colour(out, err)
    };
    let mut problems: Vec<Diagnostic> = Vec::new();
    let extra_vars = parse_extra_vars(&args.input.extra_vars).unwrap_or_else(|mut d| {
        problems.append(&mut d);
        IndexMap::new()
    });
    let inventory = Inventory::load(&args.input.inventory).unwrap_or_else(|mut d| {
        problems.append(&mut d);
        Inventory::default()
    });
    // The arguments: a JSON object, or text (k=v pairs, or the free-form
    // command) that the loader splits as a playbook's.
    let task_args = {
        let t = raw_args.trim();
        let json = (t.starts_with('{') && t.ends_with('}'))
            .then(|| serde_json::from_str::<serde_json::Value>(t).ok())
            .flatten()
            .filter(|j| j.is_object());
        match json {
            Some(j) => j,
            None if raw_args.is_empty() => serde_json::json!({}),
            None => serde_json::Value::String(raw_args.clone()),
        }
    };
    let mut task = serde_json::Map::new();
    task.insert(module.clone(), task_args);
    let play = serde_json::json!([{
        "name": "Ansible Ad-Hoc",
        "hosts": args.pattern,
        "gather_facts": false,
        "tasks": [task],
    }]);
    let origin = format!("<adhoc '{module}' task>");
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let playbook = match crate::yaml::load_str(&play.to_string(), &origin) {
        Ok(node) => match playbook::load_node(&node, &origin, &cwd, &templar) {
            Ok(pb) => Some(pb),
            Err(mut d) => {
                problems.append(&mut d);
                None
            }
        },
        Err(d) => {
            problems.push(d);
            None
        }
    };
    if !problems.is_empty() {
        for p in &problems {
            eprint!("{p}");
        }
        let n = problems.len();
        eprintln!(
            "ERROR! {n} problem{} found; nothing was run.",
            if n == 1 { "" } else { "s" }
        );
        return exit::PARSE_ERROR;
    }
    let Some(playbook) = playbook else {
        return exit::PARSE_ERROR;
    };
    for w in inventory.warnings() {
        reporter.warning(&w.message);
    }
    let mut hosts = inventory.select(&args.pattern).unwrap_or_else(|e| {
        reporter.warning(&e);
        Vec::new()
    });
    if hosts.is_empty() {
        reporter.warning(&format!(
            "Could not match supplied host pattern, ignoring: {}",
            args.pattern
        ));
    }
    if let Some(l) = &args.exec.limit {
        match inventory.limit(hosts, l) {
            Ok(h) => hosts = h,
            Err(e) => {
                reporter.error(&e);
                return exit::ERROR;
            }
        }
    }
    if args.list_hosts {
        reporter.host_list(&hosts);
        return exit::OK;
    }
    let short = module.rsplit('.').next().unwrap_or_default();
    let needs_args = [
        "command",
        "raw",
        "script",
        "shell",
        "win_command",
        "win_shell",
    ];
    if needs_args.contains(&short) && raw_args.trim().is_empty() {
        let mut msg = format!("No argument passed to {module} module");
        if args.pattern.ends_with(".yml") {
            msg.push_str(" (did you mean to run ansible-playbook?)");
        }
        reporter.error(&msg);
        return exit::OPTIONS;
    }
    if matches!(short, "import_playbook") {
        reporter.error(&format!(
            "'{module}' is not a valid action for ad-hoc commands"
        ));
        return exit::OPTIONS;
    }
    if hosts.is_empty() {
        reporter.warning("No hosts matched, nothing to do");
        return exit::OK;
    }
    let what = Selection {
        junit: None,
        verify_idempotent: false,
        tags: Vec::new(),
        skip_tags: Vec::new(),
        start_at_task: None,
        diff_cmd: false,
        journal: None,
        forget_pending: false,
    };
    let playbooks = [playbook];
    execute(
        &args.exec, &what, &playbooks, &inventory, templar, extra_vars, &reporter,
    )
    .await
}

/// Reads ansible.cfg and the environment (see [`crate::config`]): prints
/// its warnings, sets the roles path and, when no `-i` was given, the
/// inventory. `None` after printing the error.
fn load_config(inventory: &mut Vec<String>) -> Option<crate::config::Config> {
    let config = match crate::config::Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ERROR! {e}");
            return None;
        }
    };
    for w in &config.warnings {
        eprintln!("[WARNING]: {w}");
    }
    playbook::set_roles_path(config.roles_path.value.clone());
    if inventory.is_empty() {
        inventory.clone_from(&config.inventory.value);
    }
    Some(config)
}

/// `--secret-env NAME` and the `secret_env` setting: the values of these
/// environment variables are the run's secrets from the start (see
/// [`crate::secrets`]). A name that is not set is only worth a warning.
fn register_secret_env(flags: &[String], config: &crate::config::Config) {
    let names = flags
        .iter()
        .flat_map(|f| f.split(','))
        .map(str::trim)
        .chain(config.secret_env.value.iter().map(String::as_str))
        .filter(|n| !n.is_empty());
    for name in names {
        match std::env::var(name) {
            Ok(v) => crate::secrets::register(&v),
            Err(_) => crate::secrets::eprintln(&format!(
                "[WARNING]: the secret environment variable {name} is not set"
            )),
        }
    }
}

impl ExecArgs {
    /// Fills what the command line left unset from the config; the
    /// command line wins.
    fn apply_config(&mut self, config: &crate::config::Config) {
        self.forks.get_or_insert(config.forks.value);
        self.timeout.get_or_insert(config.timeout.value);
        if self.user.is_none() {
            self.user.clone_from(&config.remote_user.value);
        }
        if self.private_key.is_none() {
            self.private_key.clone_from(&config.private_key_file.value);
        }
        if self.host_key_checking.is_none() && !config.host_key_checking.value {
            self.host_key_checking = Some("off".into());
        }
        self.become_ |= config.become_.value;
        if self.become_user.is_none() && config.become_user.is_set() {
            self.become_user = Some(config.become_user.value.clone());
        }
        if self.become_method.is_none() && config.become_method.is_set() {
            self.become_method = Some(config.become_method.value.clone());
        }
        self.ssh_args.clone_from(&config.ssh_args.value);
    }
}

/// `hoist config dump [--only-changed]`: `NAME(origin) = value` lines, as
/// `ansible-config dump` prints them (origins carry the file's line).
fn config_cmd(args: &ConfigArgs) -> i32 {
    let config = match crate::config::Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ERROR! {e}");
            return exit::OPTIONS;
        }
    };
    for w in &config.warnings {
        eprintln!("[WARNING]: {w}");
    }
    let ConfigAction::Dump { only_changed } = args.action;
    let file = config
        .file
        .as_ref()
        .map_or("None".to_owned(), |f| f.display().to_string());
    println!("CONFIG_FILE() = {file}");
    for (name, origin, value) in config.dump() {
        if only_changed && *origin == crate::config::Origin::Default {
            continue;
        }
        println!("{name}({origin}) = {value}");
    }
    exit::OK
}

/// `hoist man`: one man page, from the clap definition: the top-level
/// page, then a section for each subcommand (its synopsis, description and
/// options). The `.TH` title line comes first.
fn man() -> i32 {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    cmd.build();
    let mut page = String::new();
    if let Err(e) = man_page(&cmd, &mut page) {
        eprintln!("ERROR! cannot render the man page: {e}");
        return exit::ERROR;
    }
    print_bytes(page.as_bytes())
}

/// The FILES and ENVIRONMENT sections of the man page.
const MAN_FILES: &str = r#".SH FILES
The settings file is the first found of
.BR $HOIST_CONFIG ", " $ANSIBLE_CONFIG ,
.I ./ansible.cfg
(not in a world-writable directory),
.I ~/.ansible.cfg
and
.IR /etc/ansible/ansible.cfg ,
read as Ansible reads it.
.SH ENVIRONMENT
ANSIBLE_INVENTORY, ANSIBLE_REMOTE_USER, ANSIBLE_FORKS, ANSIBLE_ROLES_PATH,
ANSIBLE_HOST_KEY_CHECKING, ANSIBLE_PRIVATE_KEY_FILE, ANSIBLE_TIMEOUT,
ANSIBLE_VAULT_PASSWORD_FILE, ANSIBLE_BECOME, ANSIBLE_BECOME_USER,
ANSIBLE_BECOME_METHOD and ANSIBLE_SSH_ARGS override the settings file; the same
names with HOIST_ in place of ANSIBLE_ override those; command-line flags
override all.
.B hoist config dump
shows each setting and where it came from.
"#;

fn man_page(cmd: &clap::Command, page: &mut String) -> std::io::Result<()> {
    let render = |f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| -> std::io::Result<String> {
        let mut out = Vec::new();
        f(&mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    };
    let top = clap_mangen::Man::new(cmd.clone());
    let text = render(&|w| top.render(w))?;
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.starts_with(".TH ")) {
        let title = lines.remove(i);
        lines.insert(0, title);
    }
    for l in lines {
        // Subcommands are sections of this page, not pages of their own.
        page.push_str(&l.replace("(1)", ""));
        page.push('\n');
    }
    let mut stack: Vec<clap::Command> = cmd.get_subcommands().cloned().collect();
    stack.reverse();
    while let Some(sub) = stack.pop() {
        if sub.get_name() == "help" || sub.is_hide_set() {
            continue;
        }
        let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_owned();
        page.push_str(&format!(".SH \"{}\"\n", name.to_uppercase()));
        let man = clap_mangen::Man::new(sub.clone());
        let mut parts = render(&|w| man.render_synopsis_section(w))?;
        parts += &render(&|w| man.render_description_section(w))?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            parts += &render(&|w| man.render_options_section(w))?;
        }
        for l in parts.lines() {
            if l.starts_with(".ie \\n(.g") || l.starts_with(".el .ds Aq") {
                continue;
            }
            match l.strip_prefix(".SH ") {
                Some(h) => page.push_str(&format!(".SS {h}\n")),
                None => {
                    page.push_str(l);
                    page.push('\n');
                }
            }
        }
        let mut children: Vec<clap::Command> = sub.get_subcommands().cloned().collect();
        children.reverse();
        stack.extend(children);
    }
    page.push_str(MAN_FILES);
    Ok(())
}

/// `hoist doc`: the module list, or each module's section of the module
/// reference (docs/modules.md). An unknown module is a bad option (exit 5),
/// with a "did you mean", and nothing is printed.
fn doc(args: &DocArgs) -> i32 {
    use crate::modules::reference;
    if args.list {
        return print_bytes(reference::list().as_bytes());
    }
    let mut text = String::new();
    let mut unknown = false;
    for name in &args.modules {
        match reference::find(name) {
            Some(m) => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&reference::section(m));
            }
            None => {
                unknown = true;
                let names = crate::modules::all_names();
                let hint = crate::error::did_you_mean(name, names.iter().map(String::as_str))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                eprintln!(
                    "ERROR! hoist has no module `{name}`{hint}; `hoist doc --list` lists them"
                );
            }
        }
    }
    if unknown {
        return exit::OPTIONS;
    }
    print_bytes(text.as_bytes())
}

/// Writes generated output to stdout; a closed pipe is not an error worth
/// a message.
fn print_bytes(bytes: &[u8]) -> i32 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("ERROR! cannot write to stdout: {e}");
            exit::ERROR
        }
    }
}

/// Loads, validates and runs; returns the exit code.
pub async fn run(args: RunArgs, diff_cmd: bool) -> i32 {
    let error_code = if diff_cmd {
        exit::ERROR
    } else {
        exit::PARSE_ERROR
    };
    if args.verify_idempotent && (diff_cmd || args.exec.check) {
        eprintln!(
            "ERROR! --verify-idempotent applies the playbooks twice; it cannot be used with {}",
            if diff_cmd { "hoist diff" } else { "--check" }
        );
        return if diff_cmd { exit::ERROR } else { exit::OPTIONS };
    }
    let templar = Arc::new(Templar::new());
    let mut problems: Vec<Diagnostic> = Vec::new();

    let extra_vars = match parse_extra_vars(&args.input.extra_vars) {
        Ok(v) => v,
        Err(mut d) => {
            problems.append(&mut d);
            IndexMap::new()
        }
    };
    let mut inventory = match Inventory::load(&args.input.inventory) {
        Ok(i) => Some(i),
        Err(mut d) => {
            problems.append(&mut d);
            None
        }
    };
    // As ansible-playbook: a playbook that does not exist stops everything
    // with exit 1, before anything else is read.
    let missing: Vec<&PathBuf> = args.playbooks.iter().filter(|p| !p.exists()).collect();
    if !missing.is_empty() {
        for path in missing {
            eprint!(
                "{}",
                Diagnostic::new(
                    None,
                    format!("the playbook {} could not be found", path.display()),
                )
            );
        }
        return exit::ERROR;
    }
    let mut playbooks: Vec<Playbook> = Vec::new();
    for path in &args.playbooks {
        match playbook::load(path, &templar) {
            Ok(pb) => playbooks.push(pb),
            Err(mut d) => problems.append(&mut d),
        }
    }
    problems.extend(crate::vault::check_vars_files(&playbooks));
    if let Some(inv) = inventory.as_mut() {
        let mut dirs: Vec<PathBuf> = playbooks.iter().map(|p| p.dir.clone()).collect();
        dirs.dedup();
        for dir in dirs {
            if let Err(mut d) = inv.add_playbook_vars_dir(&dir) {
                problems.append(&mut d);
            }
        }
    }
    if !problems.is_empty() {
        for p in &problems {
            eprint!("{p}");
        }
        let n = problems.len();
        eprintln!(
            "ERROR! {n} problem{} found; nothing was run.",
            if n == 1 { "" } else { "s" }
        );
        return error_code;
    }
    let Some(inventory) = inventory else {
        return error_code;
    };
    if args.force_handlers {
        // As ansible-core: the option is the default of the play keyword.
        for play in playbooks.iter_mut().flat_map(|pb| pb.plays.iter_mut()) {
            if !play.force_handlers_set {
                play.force_handlers = true;
            }
        }
    }
    for w in inventory.warnings() {
        eprintln!("[WARNING]: {}", w.message);
    }
    if args.syntax_check {
        let reporter = Reporter::stdout(args.exec.verbose);
        for pb in &playbooks {
            reporter.syntax_ok(&pb.path.display().to_string());
        }
        return exit::OK;
    }
    if args.list_hosts || args.list_tasks || args.list_tags {
        return list(&args, &playbooks, &inventory, &extra_vars, &templar);
    }

    let mut reporter = Reporter::stdout(args.exec.verbose).with_format(args.output);
    if args.junit.is_some() {
        reporter = reporter.with_junit(diff_cmd);
    }
    reporter = with_terminal(reporter, &args, &playbooks, &inventory);
    let what = Selection {
        junit: args.junit.clone(),
        verify_idempotent: args.verify_idempotent,
        tags: split_csv(&args.tags),
        skip_tags: split_csv(&args.skip_tags),
        start_at_task: args.start_at_task.clone(),
        diff_cmd,
        journal: Some(crate::journal::path_for(&args.input.inventory)),
        forget_pending: args.forget_pending_handlers,
    };
    execute(
        &args.exec, &what, &playbooks, &inventory, templar, extra_vars, &reporter,
    )
    .await
}

/// `apply`/`diff` on a terminal: colour as ansible-playbook's (unless
/// `NO_COLOR` or `ANSIBLE_NOCOLOR`; `ANSIBLE_FORCE_COLOR` forces it), and
/// for text output progress bars under the results; `--profile`.
fn with_terminal(
    mut reporter: Reporter,
    args: &RunArgs,
    playbooks: &[Playbook],
    inventory: &Inventory,
) -> Reporter {
    use crate::report::{colour, progress::Progress};
    use std::io::IsTerminal;
    let env = |name: &str| std::env::var(name).ok();
    let text = args.output == Format::Text;
    let stdout_tty = std::io::stdout().is_terminal();
    let out = text && colour::enabled(&env, stdout_tty);
    let err = colour::enabled(&env, stdout_tty && std::io::stderr().is_terminal());
    reporter = reporter.with_colour(out, err);
    if args.profile && text {
        reporter = reporter.with_profile();
    }
    let dumb = env("TERM").is_some_and(|t| t == "dumb");
    if text && stdout_tty && !dumb {
        let estimate =
            crate::report::progress::estimate(playbooks, inventory, args.exec.limit.as_deref());
        let progress = Progress::new(estimate, out);
        let weak = Arc::downgrade(&progress);
        crate::prompt::set_hold(Some(Box::new(move |on| {
            if let Some(p) = weak.upgrade() {
                p.hold(on);
            }
        })));
        reporter = reporter.with_progress(progress);
    }
    reporter
}

/// What of the playbooks runs, and how: `--tags`, `--skip-tags`,
/// `--start-at-task`; `diff_cmd` for `hoist diff`.
struct Selection {
    /// `--junit FILE` (`apply`, `diff`).
    junit: Option<PathBuf>,
    /// `--verify-idempotent` (`apply`).
    verify_idempotent: bool,
    tags: Vec<String>,
    skip_tags: Vec<String>,
    start_at_task: Option<String>,
    diff_cmd: bool,
    /// Where the pending-handler journal is (`apply`, `diff`).
    journal: Option<PathBuf>,
    /// `--forget-pending-handlers`.
    forget_pending: bool,
}

/// Runs `run` to its end, or until Ctrl-C (`None`). After the first
/// Ctrl-C nothing new starts, and file writes already under way finish
/// (so none is left half-written, nor its temporary file); then `run` is
/// dropped, which ends its commands and connections. A second Ctrl-C drops
/// it at once. See [`crate::interrupt`].
async fn until_interrupted(
    run: impl std::future::Future<Output = RunSummary>,
    reporter: &Reporter,
) -> Option<RunSummary> {
    let mut run = std::pin::pin!(run);
    let mut signals = match crate::interrupt::signals() {
        Ok(s) => s,
        Err(e) => {
            reporter.warning(&format!(
                "cannot listen for Ctrl-C ({e}); it will stop hoist at once"
            ));
            return Some(run.await);
        }
    };
    let before = *signals.borrow_and_update();
    tokio::select! {
        s = &mut run => return Some(s),
        _ = signals.wait_for(|n| *n > before) => {}
    }
    let gate = crate::interrupt::gate();
    gate.request();
    reporter.end_progress();
    reporter.error("User interrupted execution");
    let writes = gate.writes();
    if writes > 0 {
        reporter.warning(&format!(
            "finishing {writes} file write{} already under way; press Ctrl-C again to stop at once",
            if writes == 1 { "" } else { "s" }
        ));
        tokio::select! {
            _ = &mut run => {}
            _ = gate.writes_done() => {}
            _ = signals.wait_for(|n| *n > before + 1) => {
                reporter.warning("stopped at once: a file being written may have left its temporary file beside it");
            }
        }
    }
    None
}

/// After Ctrl-C: the handlers the interrupted run leaves pending (the
/// journal has them already: it is written as handlers are notified).
fn interrupted_pending(opts: &RunOptions, playbooks: &[Playbook], reporter: &Reporter) {
    if let Some(j) = &opts.journal {
        let plays = crate::executor::journal_plays(playbooks);
        reporter.pending_handlers(&j.pending_in(&plays), j.path());
    }
}

/// The run stage shared by `apply`, `diff` and `run`: connection options,
/// the executor, and the exit code (ansible-playbook's; `diff`: 0 in
/// sync, 2 changes pending, 1 error).
async fn execute(
    exec: &ExecArgs,
    what: &Selection,
    playbooks: &[Playbook],
    inventory: &Inventory,
    templar: Arc<Templar>,
    extra_vars: IndexMap<String, Value>,
    reporter: &Reporter,
) -> i32 {
    let diff_cmd = what.diff_cmd;
    let error_code = if diff_cmd {
        exit::ERROR
    } else {
        exit::PARSE_ERROR
    };
    let host_key_policy = match exec.host_key_checking.as_deref() {
        Some("strict") => Some(StrictMode::Yes),
        Some("accept-new") => Some(StrictMode::AcceptNew),
        Some("off") => Some(StrictMode::No),
        _ => None,
    };
    let become_password = if exec.ask_become_pass {
        match crate::prompt::secret("BECOME password: ") {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("ERROR! cannot read the become password from the terminal: {e}");
                return error_code;
            }
        }
    } else {
        None
    };
    let opts = RunOptions {
        check: exec.check || diff_cmd,
        diff: exec.diff || diff_cmd,
        read_only: diff_cmd,
        forks: exec.forks.unwrap_or(5).max(1),
        limit: exec.limit.clone(),
        extra_vars,
        connection: exec.connection.clone(),
        tags: what.tags.clone(),
        skip_tags: what.skip_tags.clone(),
        verbosity: exec.verbose,
        remote_user: exec.user.clone(),
        private_key: exec.private_key.clone(),
        ssh_config: exec.ssh_config.clone(),
        ssh_args: exec.ssh_args.clone(),
        ssh: SshOptions {
            timeout: std::time::Duration::from_secs(exec.timeout.unwrap_or(10).max(1)),
            host_key_policy,
        },
        become_: exec.become_,
        become_user: exec.become_user.clone(),
        become_method: exec.become_method.clone(),
        become_password,
        start_at_task: what.start_at_task.clone(),
        journal: what.journal.as_ref().map(|p| {
            Arc::new(crate::journal::Journal::open(
                p.clone(),
                !(exec.check || diff_cmd),
            ))
        }),
        forget_pending: what.forget_pending,
    };
    let executor = Executor::new(inventory, templar.clone(), &opts, reporter);
    let mut summary = until_interrupted(executor.run(playbooks), reporter).await;
    if summary.is_none() {
        interrupted_pending(&opts, playbooks, reporter);
    }
    // `--verify-idempotent`: a run that went well runs again from scratch
    // (new facts and connections, as a second ansible-playbook), with
    // diffs on so the list can show them.
    let mut changed_again = false;
    if what.verify_idempotent
        && let Some(first) = &summary
        && first.fatal.is_none()
        && !first.any_failed
        && !first.any_unreachable
    {
        reporter.idempotence_start();
        let second = reporter.second_run(exec.diff);
        let opts = RunOptions {
            diff: true,
            ..opts.clone()
        };
        let executor = Executor::new(inventory, templar, &opts, &second);
        summary = until_interrupted(executor.run(playbooks), reporter).await;
        if summary.is_none() {
            interrupted_pending(&opts, playbooks, reporter);
        }
        if summary.as_ref().is_some_and(|s| s.fatal.is_none()) {
            let changes = second.changes();
            changed_again = !changes.is_empty();
            reporter.idempotence_result(&changes);
        }
    }
    reporter.end_progress();
    // The JUnit report is written whatever happened, with what ran; a
    // report that cannot be written is an error of the run.
    let junit_failed = match &what.junit {
        Some(path) => match reporter.write_junit(path) {
            Ok(()) => false,
            Err(e) => {
                reporter.error(&e);
                true
            }
        },
        None => false,
    };
    let Some(summary) = summary else {
        return exit::INTERRUPTED;
    };
    if junit_failed {
        return exit::ERROR;
    }
    if let Some(code) = summary.fatal {
        return if diff_cmd { exit::ERROR } else { code };
    }
    if changed_again && !summary.any_unreachable {
        return exit::HOST_FAILED;
    }
    if diff_cmd {
        if summary.any_failed || summary.any_unreachable {
            exit::ERROR
        } else if summary.any_changed {
            exit::CHANGES_PENDING
        } else {
            exit::OK
        }
    } else if summary.any_unreachable {
        exit::UNREACHABLE
    } else if summary.any_failed {
        exit::HOST_FAILED
    } else {
        exit::OK
    }
}

/// `hoist vars HOST [VAR]`: exit 0, or 1 for bad input or an unknown host
/// or variable.
fn vars(args: &VarsArgs) -> i32 {
    let templar = Arc::new(Templar::new());
    let mut problems: Vec<Diagnostic> = Vec::new();
    let extra = extra_var_sources(&args.input.extra_vars).unwrap_or_else(|mut d| {
        problems.append(&mut d);
        Vec::new()
    });
    let mut inventory = Inventory::load(&args.input.inventory).unwrap_or_else(|mut d| {
        problems.append(&mut d);
        Inventory::default()
    });
    let mut playbooks = Vec::new();
    for path in &args.playbooks {
        match playbook::load(path, &templar) {
            Ok(pb) => {
                if let Err(mut d) = inventory.add_playbook_vars_dir(&pb.dir) {
                    problems.append(&mut d);
                }
                playbooks.push(pb);
            }
            Err(mut d) => problems.append(&mut d),
        }
    }
    if !problems.is_empty() {
        for p in &problems {
            eprint!("{p}");
        }
        return exit::ERROR;
    }
    let reporter = Reporter::stdout(0);
    let host = args.host.as_str();
    let Some(chains) = crate::provenance::chains(&inventory, &playbooks, &extra, host, &templar)
    else {
        let hosts = inventory.hosts();
        let d = Diagnostic::new(None, format!("the inventory has no host '{host}'"))
            .suggest(host, hosts.iter().map(String::as_str));
        eprint!("{d}");
        return exit::ERROR;
    };
    if chains.is_empty() {
        eprintln!("ERROR! no play of the playbooks targets '{host}'");
        return exit::ERROR;
    }
    let Some(name) = &args.var else {
        reporter.vars_listing(host, &chains);
        return exit::OK;
    };
    if chains.iter().all(|c| !c.names().contains(&name.as_str())) {
        let d = Diagnostic::new(None, format!("'{host}' has no variable '{name}'")).suggest(
            name,
            chains.iter().flat_map(|c| c.names()).collect::<Vec<_>>(),
        );
        eprint!("{d}");
        return exit::ERROR;
    }
    let explained: Vec<_> = chains
        .iter()
        .map(|c| (c, c.rendered(&templar, name)))
        .collect();
    reporter.var_sources(host, name, &explained);
    exit::OK
}

/// `hoist inventory`: exit 0; 1 when the inventory does not load or the
/// output file cannot be written; 5 (as ansible-inventory's option errors)
/// for a `--host` that is not one host or a `--graph` group that does not
/// exist.
fn inventory(args: &InventoryArgs) -> i32 {
    let inv = match Inventory::load(&args.inventory) {
        Ok(i) => i,
        Err(problems) => {
            for p in &problems {
                eprint!("{p}");
            }
            return exit::ERROR;
        }
    };
    let reporter = Reporter::stdout(0);
    for w in inv.warnings() {
        reporter.warning(&w.message);
    }
    if args.inventory.is_empty() {
        reporter.warning("No inventory was parsed, only implicit localhost is available");
    }
    let text = if let Some(pattern) = &args.host {
        let hosts = inv.select(pattern).unwrap_or_default();
        if hosts.is_empty() {
            reporter.warning(&format!(
                "Could not match supplied host pattern, ignoring: {pattern}"
            ));
        }
        let [host] = hosts.as_slice() else {
            reporter.error("You must pass a single valid host to --host parameter");
            return exit::OPTIONS;
        };
        let vars = crate::template::vmap(crate::inspect::host_vars(&inv, host));
        if args.yaml {
            crate::inspect::yaml(&vars)
        } else {
            crate::inspect::json(&vars)
        }
    } else if args.graph {
        let group = args.group.as_deref().unwrap_or("all");
        match crate::inspect::graph(&inv, group, args.vars) {
            Some(t) => t,
            None => {
                reporter.error("Pattern must be valid group name when using --graph");
                return exit::OPTIONS;
            }
        }
    } else {
        let mut hosts = inv.hosts();
        if let Some(l) = &args.limit {
            match inv.limit(hosts, l) {
                Ok(h) => hosts = h,
                Err(e) => {
                    reporter.error(&e);
                    return exit::ERROR;
                }
            }
        }
        if args.yaml {
            crate::inspect::yaml(&crate::inspect::list_yaml(&inv, &hosts))
        } else {
            crate::inspect::json(&crate::inspect::list_json(&inv, &hosts))
        }
    };
    // A file written with --output holds no secret either.
    let text = crate::secrets::redact(&text).into_owned();
    match &args.output {
        Some(path) => match crate::atomic::write_atomic(path, text.as_bytes(), None) {
            Ok(()) => exit::OK,
            Err(e) => {
                reporter.error(&format!(
                    "Unable to write to destination file {}: {e}",
                    path.display()
                ));
                exit::ERROR
            }
        },
        None => {
            reporter.text(&format!("{text}\n"));
            exit::OK
        }
    }
}

/// `--list-hosts`, `--list-tasks`, `--list-tags`, in ansible-playbook's
/// layout: the tasks `--tags`/`--skip-tags` select, with their tags
/// rendered as when the play runs. A tag that cannot be rendered stops the
/// listing after its play's line, with exit 1, as ansible-playbook does.
fn list(
    args: &RunArgs,
    playbooks: &[Playbook],
    inventory: &Inventory,
    extra_vars: &IndexMap<String, Value>,
    templar: &Arc<Templar>,
) -> i32 {
    let reporter = Reporter::stdout(args.exec.verbose);
    let only = split_csv(&args.tags);
    let skip = split_csv(&args.skip_tags);
    let filter = crate::tags::TagFilter::listing(&only, &skip, args.list_tags);
    let groups = crate::template::vmap(
        inventory
            .groups_map()
            .into_iter()
            .map(|(g, hosts)| (g, Value::from(hosts))),
    );
    for pb in playbooks {
        let mut plays = Vec::new();
        let mut error = None;
        for (i, play) in pb.plays.iter().enumerate() {
            let mut hosts = inventory.select(&play.hosts).unwrap_or_default();
            if let Some(l) = &args.exec.limit {
                hosts = inventory.limit(hosts, l).unwrap_or_default();
            }
            let magic = crate::tags::play_magic(
                play,
                &play.dir,
                groups.clone(),
                &only,
                &skip,
                args.exec.check,
                args.exec.diff,
            );
            // A listing asks nothing: vars_prompt gives its defaults.
            let prompted: IndexMap<String, Value> = play
                .prompts
                .iter()
                .filter_map(|p| Some((p.name.clone(), p.default.clone()?)))
                .collect();
            let vars =
                crate::tags::play_vars(play, &play.dir, &prompted, extra_vars, &magic, templar);
            let scope = crate::template::VarScope::new(templar.clone(), vars);
            // Tags are only rendered for the task and tag listings.
            let tasks = if !(args.list_tasks || args.list_tags) {
                Some(Vec::new())
            } else {
                match crate::tags::TagValues::new(play, scope) {
                    Ok(values) => Some(crate::tags::listed_tasks(play, &values, &filter)),
                    Err(e) => {
                        error = Some(e);
                        None
                    }
                }
            };
            let mut tags: Vec<String> = Vec::new();
            for t in &play.tags {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            plays.push(crate::report::PlayListing {
                number: i + 1,
                pattern: play.hosts.clone(),
                name: play.name.clone(),
                tags,
                hosts,
                tasks,
            });
            if error.is_some() {
                break;
            }
        }
        reporter.listing(
            &pb.path.display().to_string(),
            &plays,
            args.list_hosts,
            args.list_tasks,
            args.list_tags,
        );
        if let Some(e) = error {
            reporter.error(&e);
            return exit::ERROR;
        }
    }
    exit::OK
}

fn split_csv(v: &[String]) -> Vec<String> {
    v.iter()
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `-e` values: `k=v k2=v2`, YAML/JSON text, or `@file`.
pub fn parse_extra_vars(items: &[String]) -> Result<IndexMap<String, Value>, Vec<Diagnostic>> {
    Ok(extra_var_sources(items)?
        .into_iter()
        .map(|(k, src)| (k, src.value))
        .collect())
}

/// `-e` values, each variable with where it was given: the `-e` argument
/// and, for `@file`, the file:line:col of its key.
pub fn extra_var_sources(items: &[String]) -> Result<Vec<(String, VarSource)>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let item = item.trim();
        let layer = format!("extra vars (-e {item})");
        let parsed: Result<Node, Diagnostic> = if let Some(file) = item.strip_prefix('@') {
            crate::yaml::load_file(std::path::Path::new(file))
        } else if item.starts_with('{') || item.starts_with('[') {
            crate::yaml::load_str(item, &format!("<extra-vars #{}>", n + 1))
        } else {
            for tok in playbook::split_args(item) {
                match tok.trim_end_matches('\n').split_once('=') {
                    Some((k, v)) if playbook::is_identifier(k) => {
                        let v = v.trim_matches(|c| c == '"' || c == '\'');
                        let src = VarSource {
                            layer: layer.clone(),
                            at: None,
                            value: Value::from(v),
                        };
                        out.push((k.to_owned(), src));
                    }
                    _ => {
                        problems.push(Diagnostic::new(
                            None,
                            format!("extra vars: `{tok}` is not a key=value pair"),
                        ));
                    }
                }
            }
            continue;
        };
        let node = match parsed {
            Ok(node) => node,
            Err(d) => {
                problems.push(d);
                continue;
            }
        };
        match &node.kind {
            NodeKind::Null => {}
            NodeKind::Map(pairs) => {
                let from_file = item.starts_with('@');
                for (k, v) in pairs {
                    match v.to_value() {
                        Ok(value) => {
                            let at = from_file.then(|| k.span.clone());
                            let layer = layer.clone();
                            out.push((k.key_text(), VarSource { layer, at, value }));
                        }
                        Err(d) => problems.push(d),
                    }
                }
            }
            _ => problems.push(Diagnostic::at(
                &node.span,
                format!(
                    "extra vars must be a mapping, not a {}: {item}",
                    node.type_name()
                ),
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn extra_vars_forms() {
        let v = parse_extra_vars(&["a=1 b='x y'".into(), r#"{"c": [1, 2], "a": "over"}"#.into()])
            .unwrap();
        assert_eq!(v["a"].as_str(), Some("over"));
        assert_eq!(v["b"].as_str(), Some("x y"));
        assert_eq!(v["c"].len(), Some(2));
        assert!(parse_extra_vars(&["novalue".into()]).is_err());
    }
}
