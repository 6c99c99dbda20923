//! The reporter: the only code that writes to the terminal during a run.
//! Output follows ansible-playbook's default callback so that people and
//! scripts used to it can read hoist's.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use minijinja::Value;
use serde_json::Value as Json;

use crate::error::Span;
use crate::modules::FileDiff;
use crate::report::idempotence::Change;
use crate::report::junit::Junit;
use crate::report::profile::Profile;
use crate::report::progress::Progress;

pub mod colour;
pub mod gate;
pub mod idempotence;
pub mod junit;
pub mod pending;
pub mod profile;
pub mod progress;
pub mod trace;

/// The version of the JSON event schema (`docs/events.schema.json`);
/// every event carries it.
pub const EVENTS_VERSION: u64 = 1;

/// How a run's output is written: ansible-playbook's text, or JSON Lines
/// events (`--output json`, see docs/events.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// Per-host counters shown in the recap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// How one task (or loop item) ended on one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
    Unreachable,
}

/// What `--list-hosts/--list-tasks/--list-tags` show of one play.
pub struct PlayListing {
    pub number: usize,
    pub pattern: String,
    pub name: String,
    pub tags: Vec<String>,
    pub hosts: Vec<String>,
    /// The listed tasks with their tags (sorted); None when the listing
    /// stopped at this play.
    pub tasks: Option<Vec<(String, Vec<String>)>>,
}

fn tag_list(tags: &[String]) -> String {
    format!("[{}]", tags.join(", "))
}

/// `hoist run`'s output: ansible's `minimal` callback, or with `-o` its
/// `oneline` callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdHoc {
    /// The module is command, shell or raw: results show rc and the
    /// output as text, not JSON (ansible's `MODULE_NO_JSON`).
    pub text_output: bool,
    pub one_line: bool,
}

pub struct Reporter {
    out: Arc<Mutex<Out>>,
    pub verbosity: u8,
    /// Set for `hoist run`: results as `ansible` prints them, no banners
    /// and no recap.
    adhoc: Option<AdHoc>,
    /// Warnings already given by [`Reporter::warning_once`].
    warned: Arc<Mutex<HashSet<String>>>,
    /// A lane of the free strategy (see [`Reporter::lane`]): the banner of
    /// the task it runs, as (task id, text).
    lane: Option<trace::Pending>,
    format: Format,
    /// The task whose results come now (each lane has its own).
    current: Mutex<Option<TaskRef>>,
    /// `--junit`: the records of the run, shared by the lanes.
    junit: Option<Arc<Mutex<Junit>>>,
    /// The terminal's bars (see [`progress`]), shared by the lanes.
    progress: Option<Arc<Progress>>,
    /// Colour on stdout, and on stderr (see [`colour::enabled`]).
    colour: (bool, bool),
    /// `--profile`: the tasks' times, shared by the lanes.
    profile: Option<Arc<Mutex<Profile>>>,
    /// The second run of `--verify-idempotent`: what changed.
    changes: Option<Arc<Mutex<Vec<Change>>>>,
    /// Diffs are kept (in `changes`) but not shown.
    hide_diffs: bool,
}

/// The task results are reported for: its banner name, where it is, and
/// when its banner was shown.
#[derive(Clone, Debug)]
pub struct TaskRef {
    pub name: String,
    pub file: String,
    pub line: usize,
    pub handler: bool,
    pub id: String,
    pub started: Instant,
}

/// One result of a task (or of one loop item) on one host, as the
/// executor hands it to the reporter.
pub struct HostResult<'a> {
    /// The host, or `host -> delegate` for a delegated task.
    pub host: &'a str,
    pub status: Status,
    /// The loop item's label, for a loop item's result.
    pub item: Option<&'a str>,
    /// The result dict, already censored for `no_log`.
    pub result: &'a IndexMap<String, Value>,
    /// debug and assert: the result is always shown.
    pub verbose_always: bool,
    /// A failure that `ignore_errors` ignores.
    pub ignored: bool,
    /// Diffs to show (only in diff mode, never for `no_log`).
    pub diffs: &'a [FileDiff],
    /// How long the task (or item) ran, when the executor knows.
    pub duration: Option<Duration>,
    /// A failure's `[ERROR]:` headline (`Task failed: …`) and where the
    /// task is, shown above its result line as ansible-core 2.19 does.
    pub error: Option<(&'a str, &'a Span)>,
}

/// How a loop ended on a host, after its items' results.
pub struct LoopEnd<'a> {
    pub host: &'a str,
    pub status: Status,
    /// The line the default callback closes the loop with, if any.
    pub line: Option<&'a IndexMap<String, Value>>,
    /// The loop's message (`All items completed` …).
    pub msg: &'a str,
    pub changed: bool,
    /// Its failures are ignored: `...ignoring` follows.
    pub ignored: bool,
    pub duration: Duration,
}

/// The reporter's writer: every byte of run output passes here, with
/// the run's secrets masked ([`crate::secrets`]). A write is one whole
/// text (a line, a banner, an event), so a secret is never split between
/// two writes; JSON events stay valid JSON (masked inside their values).
struct Redacting(Box<dyn Write + Send>);

impl Write for Redacting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !crate::secrets::any() {
            return self.0.write(buf);
        }
        match std::str::from_utf8(buf) {
            Ok(text) => self
                .0
                .write_all(crate::secrets::redact_json_lines(text).as_bytes())?,
            Err(_) => self.0.write_all(&crate::secrets::redact_bytes(buf))?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The terminal, and the id of the task whose banner it shows last.
struct Out {
    w: Box<dyn Write + Send>,
    last_banner: String,
}

/// Writes `text`, after a lane's pending banner (`(task id, banner)`)
/// unless that banner was the last one written.
fn write_out(out: &Mutex<Out>, pending: Option<(String, String)>, text: &str) {
    if let Ok(mut out) = out.lock() {
        if let Some((id, banner)) = pending
            && out.last_banner != id
        {
            let _ = out.w.write_all(banner.as_bytes());
            out.last_banner = id;
        }
        let _ = out.w.write_all(text.as_bytes());
        let _ = out.w.flush();
    }
}

fn stars(prefix: &str) -> String {
    // ansible: `"%s %s" % (msg, "*" * max(3, columns - len(msg)))`, with
    // 79 columns when the output is not a terminal: 80 characters in all.
    let n = 79usize.saturating_sub(prefix.chars().count()).max(3);
    format!("{prefix} {}", "*".repeat(n))
}

/// Converts a template value to JSON for display.
pub fn to_json(v: &Value) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}

/// Sorts object keys recursively (ansible's callback dumps with sort_keys).
fn sorted(j: Json) -> Json {
    match j {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().collect())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// JSON as Python's `json.dumps(..., sort_keys=True)`: `", "` and `": "`
/// separators, or four-space indentation.
pub fn dump(j: &Json, indent: bool) -> String {
    let j = sorted(j.clone());
    if indent {
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        if serde::Serialize::serialize(&j, &mut ser).is_err() {
            return j.to_string();
        }
        String::from_utf8_lossy(&buf).into_owned()
    } else {
        python_compact(&j)
    }
}

fn python_compact(j: &Json) -> String {
    match j {
        Json::Array(items) => {
            let parts: Vec<String> = items.iter().map(python_compact).collect();
            format!("[{}]", parts.join(", "))
        }
        Json::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", Json::String(k.clone()), python_compact(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

/// Where a variable source is, relative to the working directory when
/// under it.
fn source_place(src: &crate::inventory::VarSource) -> String {
    let Some(at) = &src.at else {
        return String::new();
    };
    let text = at.to_string();
    match std::env::current_dir() {
        Ok(cwd) => {
            let prefix = format!("{}/", cwd.display());
            text.strip_prefix(&prefix)
                .map(str::to_owned)
                .unwrap_or(text)
        }
        Err(_) => text,
    }
}

/// A variable's value on one line, as compact JSON.
fn one_line(v: &Value) -> String {
    let mut j = to_json(v);
    crate::secrets::redact_json(&mut j);
    dump(&j, false)
}

fn chain_title(host: &str, chain: &crate::provenance::Chain) -> String {
    match &chain.play {
        Some((name, Some(at))) => format!("{host} in play [{name}] ({at})"),
        Some((name, None)) => format!("{host} in play [{name}]"),
        None => host.to_owned(),
    }
}

impl Reporter {
    /// `hoist vars HOST`: every variable of the host with its value and
    /// the source that wins, per chain.
    pub fn vars_listing(&self, host: &str, chains: &[crate::provenance::Chain]) {
        let mut text = String::new();
        for chain in chains {
            text.push_str(&format!("{}\n", chain_title(host, chain)));
            let winners = chain.winners();
            let names = winners.iter().map(|(n, _)| *n);
            let magic = chain.magic.iter().map(|(n, _)| n.as_str());
            let width = names.chain(magic).map(str::len).max().unwrap_or(0);
            for (name, src) in winners {
                let place = source_place(src);
                let from = if place.is_empty() {
                    src.layer.clone()
                } else {
                    format!("{}, {place}", src.layer)
                };
                text.push_str(&format!(
                    "  {name:<width$} = {}    # {from}\n",
                    one_line(&src.value)
                ));
            }
            for (name, value) in &chain.magic {
                text.push_str(&format!(
                    "  {name:<width$} = {}    # magic variable\n",
                    one_line(value)
                ));
            }
        }
        self.emit(&text);
    }

    /// `hoist vars HOST VAR`: every source of one variable, lowest
    /// precedence first, the winner marked, per chain. `rendered` is the
    /// final value with templates rendered, when it differs.
    pub fn var_sources(
        &self,
        host: &str,
        name: &str,
        chains: &[(&crate::provenance::Chain, Option<Result<Value, String>>)],
    ) {
        let mut text = String::new();
        for (chain, rendered) in chains {
            let title = chain_title(host, chain);
            if let Some((_, value)) = chain.magic.iter().find(|(n, _)| n == name) {
                text.push_str(&format!(
                    "{title}: {name} = {}\n  a magic variable hoist sets for each host\n",
                    one_line(value)
                ));
                continue;
            }
            let sources = chain.of(name);
            let Some(winner) = sources.last() else {
                text.push_str(&format!("{title}: {name} is not defined\n"));
                continue;
            };
            text.push_str(&format!("{title}: {name} = {}\n", one_line(&winner.value)));
            match rendered {
                Some(Ok(v)) if v != &winner.value => {
                    text.push_str(&format!("  rendered: {}\n", one_line(v)));
                }
                Some(Err(e)) => text.push_str(&format!("  cannot render yet: {e}\n")),
                _ => {}
            }
            text.push_str("  sources, lowest precedence first (the last one wins):\n");
            let rows: Vec<(String, String, String)> = sources
                .iter()
                .map(|s| (s.layer.clone(), source_place(s), one_line(&s.value)))
                .collect();
            let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
            let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
            let last = rows.len().saturating_sub(1);
            for (i, (layer, place, value)) in rows.iter().enumerate() {
                let mark = if i == last { "*" } else { " " };
                text.push_str(&format!("  {mark} {layer:<w0$}  {place:<w1$}  {value}\n"));
            }
        }
        self.emit(&text);
    }

    pub fn new(out: Box<dyn Write + Send>, verbosity: u8) -> Reporter {
        Reporter::new_shared(
            Arc::new(Mutex::new(Out {
                w: Box::new(Redacting(out)),
                last_banner: String::new(),
            })),
            verbosity,
        )
    }

    fn new_shared(out: Arc<Mutex<Out>>, verbosity: u8) -> Reporter {
        Reporter {
            out,
            verbosity,
            adhoc: None,
            warned: Arc::new(Mutex::new(HashSet::new())),
            lane: None,
            format: Format::Text,
            current: Mutex::new(None),
            junit: None,
            progress: None,
            colour: (false, false),
            profile: None,
            changes: None,
            hide_diffs: false,
        }
    }

    /// Writes `format` instead of text.
    pub fn with_format(mut self, format: Format) -> Reporter {
        self.format = format;
        self
    }

    /// Also keeps the records of a JUnit report (`--junit`); with `drift`
    /// (`hoist diff`), a task that would change is a failure.
    pub fn with_junit(mut self, drift: bool) -> Reporter {
        self.junit = Some(Arc::new(Mutex::new(Junit::new(drift))));
        self
    }

    /// Writes the JUnit report of the run so far to `path`, atomically.
    pub fn write_junit(&self, path: &std::path::Path) -> Result<(), String> {
        let Some(j) = &self.junit else {
            return Ok(());
        };
        let xml = match j.lock() {
            Ok(j) => j.to_xml(),
            Err(p) => p.into_inner().to_xml(),
        };
        junit::write_atomic(path, &xml)
            .map_err(|e| format!("cannot write the JUnit report {}: {e}", path.display()))
    }

    fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// One JSON event: `version` and `type` first, then `fields`.
    fn event_line(kind: &str, fields: Vec<(&str, Json)>) -> String {
        let mut m = serde_json::Map::new();
        m.insert("version".into(), Json::from(EVENTS_VERSION));
        m.insert("type".into(), Json::from(kind));
        for (k, mut v) in fields {
            crate::secrets::redact_json(&mut v);
            m.insert(k.into(), v);
        }
        let mut line = Json::Object(m).to_string();
        line.push('\n');
        line
    }

    /// The task results come for now, with its place.
    fn current_task(&self) -> Option<TaskRef> {
        self.current.lock().ok().and_then(|c| c.clone())
    }

    /// The task fields of a result event.
    fn task_fields(task: &Option<TaskRef>) -> Vec<(&'static str, Json)> {
        match task {
            Some(t) => vec![
                ("task", Json::from(t.name.clone())),
                ("file", Json::from(t.file.clone())),
                ("line", Json::from(t.line)),
                ("handler", Json::from(t.handler)),
            ],
            None => vec![
                ("task", Json::Null),
                ("file", Json::Null),
                ("line", Json::Null),
                ("handler", Json::from(false)),
            ],
        }
    }

    fn with_junit_do(&self, f: impl FnOnce(&mut Junit)) {
        if let Some(j) = &self.junit
            && let Ok(mut j) = j.lock()
        {
            f(&mut j);
        }
    }

    /// A reporter for `hoist run` on standard output.
    pub fn adhoc(verbosity: u8, style: AdHoc) -> Reporter {
        Reporter {
            adhoc: Some(style),
            ..Reporter::stdout(verbosity)
        }
    }

    /// Whether debug results are shown cleaned (its message or variable
    /// alone), as every callback but ansible's `oneline` does.
    pub fn cleans_debug(&self) -> bool {
        !matches!(self.adhoc, Some(a) if a.one_line)
    }

    pub fn stdout(verbosity: u8) -> Reporter {
        Reporter::new(Box::new(std::io::stdout()), verbosity)
    }

    /// A reporter for one host running a play on its own (the free
    /// strategy): it writes to the same terminal, but prints a task's
    /// banner only before its next output, and only when the banner shown
    /// last is another task's (as ansible-core's default callback does).
    pub fn lane(&self) -> Reporter {
        Reporter {
            out: self.out.clone(),
            verbosity: self.verbosity,
            adhoc: self.adhoc,
            warned: self.warned.clone(),
            lane: Some(Arc::new(Mutex::new(None))),
            format: self.format,
            current: Mutex::new(self.current_task()),
            junit: self.junit.clone(),
            progress: self.progress.clone(),
            colour: self.colour,
            profile: self.profile.clone(),
            changes: self.changes.clone(),
            hide_diffs: self.hide_diffs,
        }
    }

    /// Output about a task: a lane's pending banner goes first.
    fn emit(&self, text: &str) {
        let pending = self
            .lane
            .as_ref()
            .and_then(|l| l.lock().ok().and_then(|b| b.clone()));
        self.on_terminal(|| self.emit_now(pending, text));
    }

    fn emit_now(&self, pending: Option<(String, String)>, text: &str) {
        write_out(&self.out, pending, text);
    }

    /// Text that a command shows as it is (`hoist inventory`).
    pub fn text(&self, text: &str) {
        self.emit_raw(text);
    }

    /// Output about the run, not a task.
    fn emit_raw(&self, text: &str) {
        self.on_terminal(|| self.emit_raw_now(text));
    }

    fn emit_raw_now(&self, text: &str) {
        if let Ok(mut out) = self.out.lock() {
            let _ = out.w.write_all(text.as_bytes());
            let _ = out.w.flush();
        }
    }

    pub fn play(&self, name: &str) {
        if self.adhoc.is_some() {
            return;
        }
        if let Ok(mut out) = self.out.lock() {
            out.last_banner.clear();
        }
        if let Ok(mut c) = self.current.lock() {
            *c = None;
        }
        self.with_junit_do(|j| j.play(name));
        if self.json() {
            self.emit_raw(&Self::event_line(
                "play_start",
                vec![("play", Json::from(name))],
            ));
            return;
        }
        self.emit_raw(&format!("\n{}\n", stars(&format!("PLAY [{name}]"))));
    }

    /// A task's banner; its span tells tasks with the same name apart.
    pub fn task(&self, name: &str, handler: bool, span: &Span) {
        let id = span.to_string();
        let task = TaskRef {
            name: name.to_owned(),
            file: span.file.to_string(),
            line: span.line,
            handler,
            id: id.clone(),
            started: Instant::now(),
        };
        let banner = if self.json() {
            let mut fields = Self::task_fields(&Some(task.clone()));
            fields.push(("id", Json::from(id.as_str())));
            Self::event_line("task_start", fields)
        } else {
            let kind = if handler { "RUNNING HANDLER" } else { "TASK" };
            // Masked before the stars are counted, so the banner keeps
            // its width.
            let name = crate::secrets::redact(name);
            format!("\n{}\n", stars(&format!("{kind} [{name}]"))) + &self.task_path(span)
        };
        let task = Some(task);
        self.time_task(&task);
        if let Ok(mut c) = self.current.lock() {
            *c = task;
        }
        if self.adhoc.is_some() {
            return;
        }
        let id = id.as_str();
        match &self.lane {
            Some(lane) => {
                if let Ok(mut pending) = lane.lock() {
                    *pending = Some((id.to_owned(), banner));
                }
            }
            None => self.on_terminal(|| {
                if let Ok(mut out) = self.out.lock() {
                    let _ = out.w.write_all(banner.as_bytes());
                    let _ = out.w.flush();
                    out.last_banner = id.to_owned();
                }
            }),
        }
        if let Some(p) = &self.progress {
            p.task(&crate::secrets::redact(name));
        }
    }

    /// A line an action shows before its result (`Pausing for 5 seconds`).
    pub fn note(&self, text: &str) {
        if self.json() {
            let text = text.trim_end_matches('\n');
            self.emit_raw(&Self::event_line("note", vec![("msg", Json::from(text))]));
            return;
        }
        self.emit_raw(text);
    }

    pub fn no_hosts(&self) {
        if self.adhoc.is_some() {
            return;
        }
        if self.json() {
            self.emit_raw(&Self::event_line("no_hosts", vec![]));
            return;
        }
        let line = self.paint("skipping: no hosts matched", colour::SKIP);
        self.emit_raw(&format!("{line}\n"));
    }

    /// The listing modes, in ansible-playbook's layout.
    pub fn listing(
        &self,
        playbook: &str,
        plays: &[PlayListing],
        hosts: bool,
        tasks: bool,
        tags: bool,
    ) {
        let mut out = format!("\nplaybook: {playbook}\n");
        for p in plays {
            let title = if p.name.is_empty() {
                p.pattern.clone()
            } else {
                p.name.clone()
            };
            // ansible-playbook joins the play's tags without a space.
            out.push_str(&format!(
                "\n  play #{} ({}): {}\tTAGS: [{}]\n",
                p.number,
                p.pattern,
                title,
                p.tags.join(",")
            ));
            if hosts {
                let patterns: Vec<String> =
                    p.pattern.split(',').map(|x| format!("'{x}'")).collect();
                out.push_str(&format!("    pattern: [{}]\n", patterns.join(", ")));
                out.push_str(&format!("    hosts ({}):\n", p.hosts.len()));
                for h in &p.hosts {
                    out.push_str(&format!("      {h}\n"));
                }
            }
            let Some(listed) = &p.tasks else {
                break;
            };
            if tasks {
                out.push_str("    tasks:\n");
                for (name, t) in listed {
                    out.push_str(&format!("      {name}\tTAGS: {}\n", tag_list(t)));
                }
            }
            if tags {
                let mut all: Vec<String> =
                    listed.iter().flat_map(|(_, t)| t.iter().cloned()).collect();
                all.extend(p.tags.iter().cloned());
                all.sort();
                all.dedup();
                out.push_str(&format!("      TASK TAGS: {}\n", tag_list(&all)));
            }
        }
        self.emit_raw(&out);
    }

    /// `hoist run --list-hosts`, as `ansible --list-hosts`.
    pub fn host_list(&self, hosts: &[String]) {
        let mut text = format!("  hosts ({}):\n", hosts.len());
        for h in hosts {
            text.push_str(&format!("    {h}\n"));
        }
        self.emit_raw(&text);
    }

    /// `--syntax-check` found nothing wrong with a playbook.
    pub fn syntax_ok(&self, playbook: &str) {
        self.emit_raw(&format!("\nplaybook: {playbook}\n"));
    }

    /// `FAILED - RETRYING: [host]: task (N retries left).`
    pub fn retrying(&self, host: &str, task: &str, left: u64) {
        if self.json() {
            let (host, delegated) = split_host(host);
            let mut fields = Self::task_fields(&self.current_task());
            fields.insert(0, ("host", Json::from(host)));
            fields.push(("delegated_to", delegated.map_or(Json::Null, Json::from)));
            fields.push(("retries_left", Json::from(left)));
            self.emit(&Self::event_line("retry", fields));
            return;
        }
        let line = format!("FAILED - RETRYING: [{host}]: {task} ({left} retries left).");
        self.emit(&format!("{}\n", self.paint(&line, colour::DEBUG)));
    }

    /// `included: FILE for HOST, HOST => (item=...)`
    pub fn included(&self, path: &str, hosts: &[String], item: Option<&str>) {
        if self.adhoc.is_some() {
            return;
        }
        let task = self.current_task();
        self.time_task(&task);
        self.with_junit_do(|j| {
            for h in hosts {
                j.record(
                    &task,
                    h,
                    Status::Ok,
                    false,
                    true,
                    None,
                    Duration::ZERO,
                    None,
                );
            }
        });
        if self.json() {
            let mut fields = Self::task_fields(&task);
            fields.push(("included", Json::from(path)));
            fields.push(("hosts", Json::from(hosts.to_vec())));
            fields.push(("item", item.map_or(Json::Null, Json::from)));
            self.emit(&Self::event_line("include", fields));
            return;
        }
        let mut line = format!("included: {path} for {}", hosts.join(", "));
        if let Some(i) = item {
            line.push_str(&format!(" => (item={i})"));
        }
        self.emit(&format!("{}\n", self.paint(&line, colour::INCLUDED)));
    }

    /// An error that stops the run, on standard error (and as an event).
    pub fn error(&self, msg: &str) {
        if self.json() {
            self.emit_raw(&Self::event_line("error", vec![("msg", Json::from(msg))]));
        }
        let text = self.paint_err(&format!("ERROR! {msg}"), colour::ERROR);
        self.on_terminal(|| crate::secrets::eprintln(&text));
    }

    /// Warnings go to stderr, as ansible-playbook's do (and as events).
    pub fn warning(&self, msg: &str) {
        if self.json() {
            self.emit_raw(&Self::event_line("warning", vec![("msg", Json::from(msg))]));
        }
        let text = self.paint_err(&format!("[WARNING]: {msg}"), colour::WARN);
        self.on_terminal(|| crate::secrets::eprintln(&text));
    }

    /// A warning given once per run, as ansible-core deduplicates them;
    /// it is about the run, so no pending banner goes first.
    pub fn warning_once(&self, msg: &str) {
        let first = self
            .warned
            .lock()
            .map(|mut w| w.insert(msg.to_owned()))
            .unwrap_or(true);
        if first {
            self.warning(msg);
        }
    }

    /// A task result's diffs as the default callback prints them. The
    /// executor hands over diffs only for tasks in diff mode (`--diff` or
    /// the `diff` keyword).
    pub fn diffs(&self, diffs: &[FileDiff]) {
        let text = diff_text(diffs);
        if !text.is_empty() {
            self.emit(&self.paint_diff(text));
        }
    }

    /// Prints one result line, as the default callback does.
    ///
    /// `item` is the loop item's label for loop results; `result` is the
    /// (already censored) result dict; `verbose_always` is set for debug.
    pub fn result(
        &self,
        host: &str,
        status: Status,
        item: Option<&str>,
        result: &IndexMap<String, Value>,
        verbose_always: bool,
        ignored: bool,
    ) {
        self.host_result(&HostResult {
            host,
            status,
            item,
            result,
            verbose_always,
            ignored,
            diffs: &[],
            duration: None,
            error: None,
        });
    }

    /// One result of a task or loop item on a host: its diffs and result
    /// line, or a `host_result` event.
    pub fn host_result(&self, r: &HostResult<'_>) {
        let mut json = shown_json(r.status, r.item, r.result);
        crate::secrets::redact_json(&mut json);
        let task = self.current_task();
        self.time_task(&task);
        if let Some(changes) = &self.changes
            && r.status == Status::Changed
            && let Ok(mut c) = changes.lock()
        {
            c.push(Change::new(&task, r.host, r.item, r.diffs));
        }
        let diffs = if self.hide_diffs { &[][..] } else { r.diffs };
        let r = &HostResult { diffs, ..*r };
        let duration = r
            .duration
            .or_else(|| task.as_ref().map(|t| t.started.elapsed()))
            .unwrap_or_default();
        let shows_result = r.verbose_always
            || self.verbosity > 0
            || matches!(r.status, Status::Failed | Status::Unreachable);
        let (host, delegated) = split_host(r.host);
        let changed =
            r.status == Status::Changed || r.result.get("changed").is_some_and(|c| c.is_true());
        let junit_failure = || {
            matches!(r.status, Status::Failed | Status::Unreachable)
                .then(|| failure_text(r.item, &json))
        };
        self.with_junit_do(|j| {
            j.record(
                &task,
                host,
                r.status,
                r.ignored,
                r.item.is_none(),
                junit_failure(),
                duration,
                (r.status == Status::Changed).then(|| diff_text(r.diffs)),
            );
        });
        if self.json() {
            let mut fields = vec![("host", Json::from(host))];
            fields.extend(Self::task_fields(&task));
            fields.push(("delegated_to", delegated.map_or(Json::Null, Json::from)));
            fields.push(("status", Json::from(status_word(r.status, r.ignored))));
            fields.push(("changed", Json::from(changed)));
            fields.push(("ignored", Json::from(r.ignored)));
            fields.push(("item", r.item.map_or(Json::Null, Json::from)));
            fields.push(("msg", msg_of(&json)));
            if let Some(rc) = json.get("rc").filter(|rc| rc.is_i64()) {
                fields.push(("rc", rc.clone()));
            }
            if r.result.contains_key("censored") {
                fields.push(("censored", Json::from(true)));
            }
            let diffs = diff_json(r.diffs);
            if !diffs.is_empty() {
                fields.push(("diff", Json::Array(diffs)));
            }
            if shows_result {
                fields.push(("result", sorted(json)));
            }
            fields.push(("duration_ms", Json::from(millis(duration))));
            self.emit(&Self::event_line("host_result", fields));
            return;
        }
        if let Some(style) = self.adhoc {
            let indent = r.verbose_always || self.verbosity > 2;
            let text = adhoc_line(r.host, r.status, r.result, &json, style, indent);
            let text = self.paint(&text, status_colour(r.status));
            self.emit(&format!("{}{text}", self.paint_diff(diff_text(r.diffs))));
            return;
        }
        let mut text = self.paint_diff(diff_text(r.diffs));
        if let Some((headline, origin)) = r.error {
            let block = format!(
                "[ERROR]: {headline}\n{}",
                crate::error::origin_context(origin)
            );
            text.push_str(&self.paint(&block, colour::ERROR));
            text.push_str("\n\n");
        }
        let line = self.text_line(r.host, r.status, r.item, &json, r.verbose_always);
        text.push_str(&self.paint(&line, status_colour(r.status)));
        text.push('\n');
        if r.ignored {
            text.push_str(&self.paint("...ignoring", colour::SKIP));
            text.push('\n');
        }
        self.emit(&text);
    }

    /// A result line of the default callback.
    fn text_line(
        &self,
        host: &str,
        status: Status,
        item: Option<&str>,
        json: &Json,
        verbose_always: bool,
    ) -> String {
        let indent = verbose_always || self.verbosity > 2;
        let show = |j: &Json| dump(j, indent);
        let verbose = verbose_always || self.verbosity > 0;
        match (status, item) {
            (Status::Failed, None) => format!("fatal: [{host}]: FAILED! => {}", show(json)),
            (Status::Failed, Some(i)) => format!("failed: [{host}] (item={i}) => {}", show(json)),
            (Status::Unreachable, None) => {
                format!("fatal: [{host}]: UNREACHABLE! => {}", show(json))
            }
            (Status::Unreachable, Some(i)) => {
                format!("fatal: [{host}]: UNREACHABLE! (item={i}) => {}", show(json))
            }
            (s, i) => {
                let word = match s {
                    Status::Changed => "changed",
                    Status::Skipped => "skipping",
                    _ => "ok",
                };
                let mut line = format!("{word}: [{host}]");
                if let Some(i) = i {
                    line.push_str(&format!(" => (item={i})"));
                    // The default callback leaves a space after skipped items.
                    if s == Status::Skipped && !verbose {
                        line.push(' ');
                    }
                }
                if verbose {
                    line.push_str(&format!(" => {}", show(json)));
                }
                line
            }
        }
    }

    /// The end of a loop on a host: the default callback's closing line
    /// when it prints one and `...ignoring`, or the task's `host_result`
    /// event (its items had theirs).
    pub fn loop_end(&self, end: &LoopEnd<'_>) {
        let task = self.current_task();
        self.time_task(&task);
        if let Some(line) = end.line
            && !self.json()
        {
            let mut json = shown_json(end.status, None, line);
            crate::secrets::redact_json(&mut json);
            let text = self.text_line(end.host, end.status, None, &json, false);
            self.emit(&format!(
                "{}\n",
                self.paint(&text, status_colour(end.status))
            ));
        }
        let ignored = end.ignored && end.status == Status::Failed;
        let (host, delegated) = split_host(end.host);
        self.with_junit_do(|j| {
            j.record(
                &task,
                host,
                end.status,
                ignored,
                true,
                None,
                end.duration,
                None,
            );
        });
        if !self.json() {
            if ignored {
                self.emit(&format!("{}\n", self.paint("...ignoring", colour::SKIP)));
            }
            return;
        }
        let mut fields = vec![("host", Json::from(host))];
        fields.extend(Self::task_fields(&task));
        fields.push(("delegated_to", delegated.map_or(Json::Null, Json::from)));
        fields.push(("status", Json::from(status_word(end.status, ignored))));
        fields.push(("changed", Json::from(end.changed)));
        fields.push(("ignored", Json::from(ignored)));
        fields.push(("item", Json::Null));
        fields.push(("msg", Json::from(end.msg)));
        fields.push(("loop", Json::from(true)));
        fields.push(("duration_ms", Json::from(millis(end.duration))));
        self.emit(&Self::event_line("host_result", fields));
    }

    /// The closing recap, in ansible-playbook's exact layout (or a
    /// `recap` event with the same numbers).
    pub fn recap(&self, stats: &IndexMap<String, Stats>) {
        if self.adhoc.is_some() {
            return;
        }
        // Only hosts some result was counted for, as ansible-core's
        // `processed` hosts.
        let mut hosts: Vec<&String> = stats
            .iter()
            .filter(|(_, s)| **s != Stats::default())
            .map(|(h, _)| h)
            .collect();
        hosts.sort();
        if self.json() {
            let mut m = serde_json::Map::new();
            for h in hosts {
                let s = &stats[h];
                m.insert(
                    h.clone(),
                    serde_json::json!({
                        "ok": s.ok,
                        "changed": s.changed,
                        "unreachable": s.unreachable,
                        "failed": s.failed,
                        "skipped": s.skipped,
                        "rescued": s.rescued,
                        "ignored": s.ignored,
                    }),
                );
            }
            self.emit_raw(&Self::event_line("recap", vec![("hosts", Json::Object(m))]));
            return;
        }
        // The bars go before the recap: the screen ends with text alone.
        self.end_progress();
        let mut text = format!("\n{}\n", stars("PLAY RECAP"));
        for h in hosts {
            let s = &stats[h];
            if self.colour.0 {
                text.push_str(&colour_recap_line(h, s));
            } else {
                text.push_str(&recap_line(h, s));
            }
            text.push('\n');
        }
        text.push('\n');
        if let Some(p) = &self.profile
            && let Ok(p) = p.lock()
        {
            text.push_str(&p.text(profile::LIMIT));
            text.push_str(&p.trips_text(profile::LIMIT));
        }
        self.emit_raw(&text);
    }

    /// Whether `--profile` is on (the executor counts round trips then).
    pub fn profiling(&self) -> bool {
        self.profile.is_some()
    }

    /// `--profile`: the current task cost `trips` on `host`.
    pub fn round_trips(&self, host: &str, trips: crate::connection::trace::Trips) {
        if let (Some(p), Some(t)) = (&self.profile, self.current_task())
            && let Ok(mut p) = p.lock()
        {
            p.count(&t, host, trips);
        }
    }

    /// Where connection traces go (`-vv` and more, text output only; JSON
    /// events leave them out): `None` when nothing is traced.
    pub fn trace_sink(&self) -> Option<Arc<dyn crate::connection::trace::TraceSink>> {
        if self.verbosity < crate::connection::trace::COMMANDS || self.json() {
            return None;
        }
        Some(Arc::new(trace::TraceWriter {
            out: self.out.clone(),
            lane: self.lane.clone(),
            progress: self.progress.clone(),
        }))
    }

    /// ansible-playbook's `task path: /abs/file.yml:LINE` line under a
    /// task's banner at `-vv` and more (empty otherwise).
    fn task_path(&self, span: &Span) -> String {
        if self.verbosity < 2 {
            return String::new();
        }
        let file = std::path::absolute(&*span.file)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| span.file.to_string());
        format!("task path: {file}:{}\n", span.line)
    }
}

/// The terminal: bars, colour and `--profile`.
impl Reporter {
    /// Colours the output (`out`: stdout, `err`: stderr) as
    /// ansible-playbook does on a terminal.
    pub fn with_colour(mut self, out: bool, err: bool) -> Reporter {
        self.colour = (out, err);
        self
    }

    /// Shows `progress`'s bars under the text (text output on a terminal).
    pub fn with_progress(mut self, progress: Arc<Progress>) -> Reporter {
        self.progress = Some(progress);
        self
    }

    /// Keeps the tasks' times, listed after the recap (`--profile`).
    pub fn with_profile(mut self) -> Reporter {
        self.profile = Some(Arc::new(Mutex::new(Profile::new())));
        self
    }

    /// Clears the bars for good (the run is over, or stops); what is
    /// printed afterwards is plain text.
    pub fn end_progress(&self) {
        if let Some(p) = &self.progress {
            p.finish();
        }
    }

    /// `host` starts running the current task (the executor says so once
    /// it holds a fork for it): its line shows under the bar.
    pub fn host_started(&self, host: &str) {
        if let Some(p) = &self.progress {
            let task = self.current_task().map(|t| t.name).unwrap_or_default();
            p.started(host, &crate::secrets::redact(&task));
        }
    }

    /// `host` is through the current task: its results are all out.
    pub fn host_finished(&self, host: &str) {
        if let Some(p) = &self.progress {
            p.finished(host);
        }
    }

    /// Runs `write` (which prints) with the bars out of its way.
    fn on_terminal<R>(&self, write: impl FnOnce() -> R) -> R {
        match &self.progress {
            Some(p) => p.print(write),
            None => write(),
        }
    }

    /// `text` in colour `code` on stdout, when there is colour.
    fn paint(&self, text: &str, code: &str) -> String {
        if self.colour.0 {
            colour::paint(text, code)
        } else {
            text.to_owned()
        }
    }

    /// `text` in colour `code` on stderr, when there is colour.
    fn paint_err(&self, text: &str, code: &str) -> String {
        if self.colour.1 {
            colour::paint(text, code)
        } else {
            text.to_owned()
        }
    }

    /// A unified diff, coloured when there is colour.
    fn paint_diff(&self, text: String) -> String {
        if self.colour.0 {
            colour::diff(&text)
        } else {
            text
        }
    }

    /// `--profile`: the task got a result (or its banner) now.
    fn time_task(&self, task: &Option<TaskRef>) {
        if let (Some(p), Some(t)) = (&self.profile, task)
            && let Ok(mut p) = p.lock()
        {
            p.touch(t);
        }
    }
}

/// The colour of a result line of `status`.
fn status_colour(status: Status) -> &'static str {
    match status {
        Status::Ok => colour::OK,
        Status::Changed => colour::CHANGED,
        Status::Skipped => colour::SKIP,
        Status::Failed => colour::ERROR,
        Status::Unreachable => colour::UNREACHABLE,
    }
}

/// A recap line in colour, as ansible-core's `hostcolor` and `colorize`:
/// the host red with failures, yellow with changes, else green, and each
/// count that is not zero in its colour.
fn colour_recap_line(host: &str, s: &Stats) -> String {
    let name = if s.failed != 0 || s.unreachable != 0 {
        colour::paint(host, colour::ERROR)
    } else if s.changed != 0 {
        colour::paint(host, colour::CHANGED)
    } else {
        colour::paint(host, colour::OK)
    };
    let count = |lead: &str, n: u32, code: &str| {
        let text = format!("{lead}={n:<4}");
        if n != 0 {
            colour::paint(&text, code)
        } else {
            text
        }
    };
    format!(
        "{name:<37} : {} {} {} {} {} {} {}",
        count("ok", s.ok, colour::OK),
        count("changed", s.changed, colour::CHANGED),
        count("unreachable", s.unreachable, colour::UNREACHABLE),
        count("failed", s.failed, colour::ERROR),
        count("skipped", s.skipped, colour::SKIP),
        count("rescued", s.rescued, colour::OK),
        count("ignored", s.ignored, colour::WARN),
    )
}

/// `host -> delegate(address)` split into the host and the delegate.
fn split_host(label: &str) -> (&str, Option<&str>) {
    match label.split_once(" -> ") {
        Some((h, d)) => (h, Some(d)),
        None => (label, None),
    }
}

fn status_word(status: Status, ignored: bool) -> &'static str {
    match status {
        Status::Failed if ignored => "ignored",
        Status::Ok => "ok",
        Status::Changed => "changed",
        Status::Skipped => "skipped",
        Status::Failed => "failed",
        Status::Unreachable => "unreachable",
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A result's `msg` as text (a non-text message as compact JSON).
fn msg_of(json: &Json) -> Json {
    match json.get("msg") {
        None | Some(Json::Null) => Json::Null,
        Some(Json::String(s)) => Json::from(s.as_str()),
        Some(other) => Json::from(dump(other, false)),
    }
}

/// What a JUnit failure says: the message, rc and stderr.
fn failure_text(item: Option<&str>, json: &Json) -> (String, String) {
    let msg = match msg_of(json) {
        Json::String(s) => s,
        _ if json.get("censored").is_some() => "the output has been hidden due to the fact that 'no_log: true' was specified for this result".to_owned(),
        _ => String::new(),
    };
    let mut text = String::new();
    if let Some(i) = item {
        text.push_str(&format!("item: {i}\n"));
    }
    if !msg.is_empty() {
        text.push_str(&format!("msg: {msg}\n"));
    }
    if let Some(rc) = json.get("rc") {
        text.push_str(&format!("rc: {rc}\n"));
    }
    for key in ["stdout", "stderr"] {
        if let Some(Json::String(s)) = json.get(key)
            && !s.is_empty()
        {
            text.push_str(&format!("{key}:\n{s}\n"));
        }
    }
    let message = match item {
        Some(i) => format!("(item={i}) {msg}"),
        None => msg,
    };
    (message, text)
}

/// The result dict as the default callback shows it: without internal
/// keys, nor what the line itself says.
fn shown_json(status: Status, item: Option<&str>, result: &IndexMap<String, Value>) -> Json {
    let json = to_json(&crate::template::vmap(
        result.iter().map(|(k, v)| (k.as_str(), v.clone())),
    ));
    match json {
        Json::Object(mut m) => {
            for k in [
                "invocation",
                "_ansible_no_log",
                "_ansible_verbose_always",
                "diff",
                "warnings",
                "exception",
            ] {
                m.shift_remove(k);
            }
            // A failure is evident from the line itself; a success
            // does not print `failed: false` either.
            if (status == Status::Failed && m.get("failed") == Some(&Json::Bool(true)))
                || m.get("failed") == Some(&Json::Bool(false))
            {
                m.shift_remove("failed");
            }
            // A skip is evident from the line too.
            if status == Status::Skipped && m.get("skipped") == Some(&Json::Bool(true)) {
                m.shift_remove("skipped");
            }
            if item.is_some() || status == Status::Ok || status == Status::Changed {
                m.shift_remove("_ansible_item_label");
            }
            Json::Object(m)
        }
        other => other,
    }
}

/// The diffs as the default callback's `_get_diff` prints them: each
/// unified diff followed by an empty line, prepared text as it is, and a
/// final newline when the whole does not end with one.
pub fn diff_text(diffs: &[FileDiff]) -> String {
    let mut text = String::new();
    for d in diffs {
        if let Some(prepared) = d.prepared_text() {
            text.push_str(prepared);
            continue;
        }
        if d.before == d.after {
            continue;
        }
        let bh = header("before", &d.before_header);
        let ah = header("after", &d.after_header);
        let unified = crate::diff::unified(&d.before, &d.after, &bh, &ah);
        if unified.is_empty() {
            continue;
        }
        text.push_str(&unified);
        if !unified.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The diffs of a `host_result` event: before/after with their headers,
/// or a module's prepared text.
fn diff_json(diffs: &[FileDiff]) -> Vec<Json> {
    diffs
        .iter()
        .filter_map(|d| {
            if let Some(p) = d.prepared_text() {
                return Some(serde_json::json!({ "prepared": p }));
            }
            (d.before != d.after).then(|| {
                serde_json::json!({
                    "before_header": header("before", &d.before_header),
                    "after_header": header("after", &d.after_header),
                    "before": d.before,
                    "after": d.after,
                })
            })
        })
        .collect()
}

/// One result of `hoist run`, as ansible's `minimal` callback (or with
/// `-o`, `oneline`) prints it; `raw` is the result, `json` what is shown of
/// it.
fn adhoc_line(
    host: &str,
    status: Status,
    raw: &IndexMap<String, Value>,
    json: &Json,
    style: AdHoc,
    indent: bool,
) -> String {
    let text = |k: &str| {
        raw.get(k)
            .filter(|v| !v.is_none() && !v.is_undefined())
            .map(crate::template::filters::py_str)
            .unwrap_or_default()
    };
    let rc = raw
        .get("rc")
        .map(crate::template::filters::py_str)
        .unwrap_or_else(|| "-1".into());
    // `minimal`: rc and the output as text under a header line.
    let generic = |caption: &str| {
        format!(
            "{host} | {caption} | rc={rc} >>\n{}{}{}\n",
            text("stdout"),
            text("stderr"),
            text("msg")
        )
    };
    // `oneline`: the same on one line, newlines escaped.
    let generic_line = |caption: &str| {
        let esc = |s: String| s.replace('\n', "\\n").replace('\r', "\\r");
        let stderr = text("stderr");
        let mut line = format!(
            "{host} | {caption} | rc={rc} | (stdout) {}",
            esc(text("stdout"))
        );
        if !stderr.is_empty() {
            line.push_str(&format!(" (stderr) {}", esc(stderr)));
        }
        line + "\n"
    };
    let state = if status == Status::Changed {
        "CHANGED"
    } else {
        "SUCCESS"
    };
    let module_failed = raw.contains_key("module_stderr");
    if style.one_line {
        let flat = dump_flat(json, indent);
        return match status {
            Status::Skipped => format!("{host} | SKIPPED\n"),
            Status::Unreachable => format!("{host} | UNREACHABLE!: {}\n", text("msg")),
            Status::Failed => {
                // ansible-core 2.19 gives every failure an exception.
                let first = if style.text_output && !module_failed {
                    generic_line("FAILED")
                } else {
                    "An exception occurred during task execution. To see the full traceback, use -vvv. The error was: (traceback unavailable)\n".to_owned()
                };
                format!("{first}{host} | FAILED! => {flat}\n")
            }
            _ if style.text_output => generic_line(state),
            _ => format!("{host} | {state} => {flat}\n"),
        };
    }
    match status {
        Status::Skipped => format!("{host} | SKIPPED\n"),
        Status::Unreachable => format!("{host} | UNREACHABLE! => {}\n", dump(json, true)),
        Status::Failed if style.text_output && !module_failed => generic("FAILED"),
        Status::Failed => format!("{host} | FAILED! => {}\n", dump(json, true)),
        _ if style.text_output => generic(state),
        _ => format!("{host} | {state} => {}\n", dump(json, true)),
    }
}

/// `json.dumps(indent=0 or 4, sort_keys=True)` with the newlines taken
/// out, as the `oneline` callback prints results.
fn dump_flat(j: &Json, indent: bool) -> String {
    let j = sorted(j.clone());
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(if indent { b"    " } else { b"" });
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if serde::Serialize::serialize(&j, &mut ser).is_err() {
        return j.to_string();
    }
    String::from_utf8_lossy(&buf).replace('\n', "")
}

fn header(word: &str, h: &str) -> String {
    if h.is_empty() {
        word.to_owned()
    } else if h.starts_with(word) {
        h.to_owned()
    } else {
        format!("{word}: {h}")
    }
}

/// `host : ok=N changed=N unreachable=N failed=N skipped=N rescued=N ignored=N`
/// with ansible-playbook's padding.
pub fn recap_line(host: &str, s: &Stats) -> String {
    format!(
        "{host:<26} : ok={:<4} changed={:<4} unreachable={:<4} failed={:<4} skipped={:<4} rescued={:<4} ignored={:<4}",
        s.ok, s.changed, s.unreachable, s.failed, s.skipped, s.rescued, s.ignored
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recap_matches_ansible_layout() {
        let s = Stats {
            ok: 2,
            changed: 1,
            ..Stats::default()
        };
        assert_eq!(
            recap_line("localhost", &s),
            "localhost                  : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   "
        );
    }

    #[test]
    fn json_dumps_like_python() {
        let j: Json = serde_json::json!({"msg": "x", "changed": false, "a": [1, 2]});
        assert_eq!(
            dump(&j, false),
            r#"{"a": [1, 2], "changed": false, "msg": "x"}"#
        );
        assert_eq!(
            dump(&serde_json::json!({"msg": "hi"}), true),
            "{\n    \"msg\": \"hi\"\n}"
        );
    }

    #[test]
    fn adhoc_lines_as_ansible_prints_them() {
        let mut raw = IndexMap::new();
        raw.insert("rc".to_owned(), Value::from(3));
        raw.insert("stdout".to_owned(), Value::from("a\nb"));
        raw.insert("stderr".to_owned(), Value::from("err"));
        raw.insert("msg".to_owned(), Value::from("non-zero return code"));
        let json = serde_json::json!({"rc": 3, "changed": true});
        let text = AdHoc {
            text_output: true,
            one_line: false,
        };
        assert_eq!(
            adhoc_line("h", Status::Failed, &raw, &json, text, false),
            "h | FAILED | rc=3 >>\na\nberrnon-zero return code\n"
        );
        let one = AdHoc {
            text_output: true,
            one_line: true,
        };
        assert_eq!(
            adhoc_line("h", Status::Changed, &raw, &json, one, false),
            "h | CHANGED | rc=3 | (stdout) a\\nb (stderr) err\n"
        );
        let json_style = AdHoc {
            text_output: false,
            one_line: true,
        };
        assert_eq!(
            adhoc_line("h", Status::Ok, &raw, &json, json_style, false),
            "h | SUCCESS => {\"changed\": true,\"rc\": 3}\n"
        );
        assert_eq!(
            adhoc_line("h", Status::Skipped, &raw, &json, text, false),
            "h | SKIPPED\n"
        );
    }

    #[test]
    fn banners_are_as_wide_as_ansibles() {
        assert_eq!(stars("PLAY [x]").len(), 80);
    }
}
