//! The reporter: the only code that writes to the terminal during a run.
//! Output follows ansible-playbook's default callback so that people and
//! scripts used to it can read hoist's.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use minijinja::Value;
use serde_json::Value as Json;

use crate::modules::FileDiff;

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
    lane: Option<Mutex<Option<(String, String)>>>,
}

/// The terminal, and the id of the task whose banner it shows last.
struct Out {
    w: Box<dyn Write + Send>,
    last_banner: String,
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
    dump(&to_json(v), false)
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
        Reporter {
            out: Arc::new(Mutex::new(Out {
                w: out,
                last_banner: String::new(),
            })),
            verbosity,
            adhoc: None,
            warned: Arc::new(Mutex::new(HashSet::new())),
            lane: None,
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
            lane: Some(Mutex::new(None)),
        }
    }

    /// Output about a task: a lane's pending banner goes first.
    fn emit(&self, text: &str) {
        let pending = self
            .lane
            .as_ref()
            .and_then(|l| l.lock().ok().and_then(|b| b.clone()));
        if let Ok(mut out) = self.out.lock() {
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

    /// Text that a command shows as it is (`hoist inventory`).
    pub fn text(&self, text: &str) {
        self.emit_raw(text);
    }

    /// Output about the run, not a task.
    fn emit_raw(&self, text: &str) {
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
        self.emit_raw(&format!("\n{}\n", stars(&format!("PLAY [{name}]"))));
    }

    /// A task's banner; `id` tells tasks with the same name apart.
    pub fn task(&self, name: &str, handler: bool, id: &str) {
        if self.adhoc.is_some() {
            return;
        }
        let kind = if handler { "RUNNING HANDLER" } else { "TASK" };
        let banner = format!("\n{}\n", stars(&format!("{kind} [{name}]")));
        match &self.lane {
            Some(lane) => {
                if let Ok(mut pending) = lane.lock() {
                    *pending = Some((id.to_owned(), banner));
                }
            }
            None => {
                if let Ok(mut out) = self.out.lock() {
                    let _ = out.w.write_all(banner.as_bytes());
                    let _ = out.w.flush();
                    out.last_banner = id.to_owned();
                }
            }
        }
    }

    /// A line an action shows before its result (`Pausing for 5 seconds`).
    pub fn note(&self, text: &str) {
        self.emit_raw(text);
    }

    pub fn no_hosts(&self) {
        if self.adhoc.is_some() {
            return;
        }
        self.emit_raw("skipping: no hosts matched\n");
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
        self.emit(&format!(
            "FAILED - RETRYING: [{host}]: {task} ({left} retries left).\n"
        ));
    }

    /// `...ignoring` after the items of a loop whose failure is ignored.
    pub fn ignoring(&self) {
        self.emit("...ignoring\n");
    }

    /// `included: FILE for HOST, HOST => (item=...)`
    pub fn included(&self, path: &str, hosts: &[String], item: Option<&str>) {
        if self.adhoc.is_some() {
            return;
        }
        let mut line = format!("included: {path} for {}", hosts.join(", "));
        if let Some(i) = item {
            line.push_str(&format!(" => (item={i})"));
        }
        self.emit(&format!("{line}\n"));
    }

    /// An error that stops the run, on standard error.
    pub fn error(&self, msg: &str) {
        eprintln!("ERROR! {msg}");
    }

    /// Warnings go to stderr, as ansible-playbook's do.
    pub fn warning(&self, msg: &str) {
        eprintln!("[WARNING]: {msg}");
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

    /// Prints the diffs of a task result. The executor hands over diffs
    /// only for tasks in diff mode (`--diff` or the `diff` keyword).
    pub fn diffs(&self, diffs: &[FileDiff]) {
        // As the default callback's `_get_diff`: each unified diff followed
        // by an empty line, prepared text as it is, and a final newline
        // when the whole does not end with one.
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
        if text.is_empty() {
            return;
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        self.emit(&text);
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
        let json = to_json(&crate::template::vmap(
            result.iter().map(|(k, v)| (k.as_str(), v.clone())),
        ));
        // The callback leaves these internal keys out.
        let json = match json {
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
        };
        let indent = verbose_always || self.verbosity > 2;
        if let Some(style) = self.adhoc {
            self.emit(&adhoc_line(host, status, result, &json, style, indent));
            return;
        }
        let show = |j: &Json| dump(j, indent);
        let line = match (status, item) {
            (Status::Failed, None) => format!("fatal: [{host}]: FAILED! => {}", show(&json)),
            (Status::Failed, Some(i)) => format!("failed: [{host}] (item={i}) => {}", show(&json)),
            (Status::Unreachable, None) => {
                format!("fatal: [{host}]: UNREACHABLE! => {}", show(&json))
            }
            (Status::Unreachable, Some(i)) => format!(
                "fatal: [{host}]: UNREACHABLE! (item={i}) => {}",
                show(&json)
            ),
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
                    if s == Status::Skipped && !(verbose_always || self.verbosity > 0) {
                        line.push(' ');
                    }
                }
                if verbose_always || self.verbosity > 0 {
                    line.push_str(&format!(" => {}", show(&json)));
                }
                line
            }
        };
        self.emit(&format!("{line}\n"));
        if ignored {
            self.emit("...ignoring\n");
        }
    }

    /// The closing recap, in ansible-playbook's exact layout.
    pub fn recap(&self, stats: &IndexMap<String, Stats>) {
        if self.adhoc.is_some() {
            return;
        }
        let mut text = format!("\n{}\n", stars("PLAY RECAP"));
        // Only hosts some result was counted for, as ansible-core's
        // `processed` hosts.
        let mut hosts: Vec<&String> = stats
            .iter()
            .filter(|(_, s)| **s != Stats::default())
            .map(|(h, _)| h)
            .collect();
        hosts.sort();
        for h in hosts {
            let s = &stats[h];
            text.push_str(&recap_line(h, s));
            text.push('\n');
        }
        text.push('\n');
        self.emit_raw(&text);
    }
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
