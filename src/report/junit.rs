//! `--junit FILE`: a JUnit XML report of the run, built from the same
//! results the reporter writes. A testsuite per play, a testcase per
//! host × task (classname the host, name the task); failed and
//! unreachable results are failures, skipped ones `<skipped/>`. For
//! `hoist diff` (`drift`), a task that would change is a failure carrying
//! its diff, so that CI shows the drift.

use std::path::Path;
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use super::{Status, TaskRef};

pub struct Junit {
    drift: bool,
    suites: Vec<Suite>,
}

struct Suite {
    name: String,
    /// The `--verify-idempotent` suite: each case changed again.
    again: bool,
    started: Instant,
    ended: Instant,
    /// By (task id, host).
    cases: IndexMap<(String, String), Case>,
}

struct Case {
    name: String,
    classname: String,
    file: Option<String>,
    line: Option<usize>,
    status: Status,
    ignored: bool,
    time: Duration,
    /// (message, text) of each failed result (loop items have theirs).
    failures: Vec<(String, String)>,
    diff: String,
}

/// How bad a status is, to merge loop items: the worst one stands.
fn rank(s: Status) -> u8 {
    match s {
        Status::Skipped => 0,
        Status::Ok => 1,
        Status::Changed => 2,
        Status::Failed => 3,
        Status::Unreachable => 4,
    }
}

impl Junit {
    pub fn new(drift: bool) -> Junit {
        Junit {
            drift,
            suites: Vec::new(),
        }
    }

    /// A play starts (again, for its next serial batch: the same suite).
    pub fn play(&mut self, name: &str) {
        if self.suites.last().is_some_and(|s| s.name == name) {
            return;
        }
        let now = Instant::now();
        self.suites.push(Suite {
            name: name.to_owned(),
            again: false,
            started: now,
            ended: now,
            cases: IndexMap::new(),
        });
    }

    /// A result of `task` on `host`. `task_level`: the task's own result
    /// (its status stands), not a loop item's (merged with the others).
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        task: &Option<TaskRef>,
        host: &str,
        status: Status,
        ignored: bool,
        task_level: bool,
        failure: Option<(String, String)>,
        duration: Duration,
        diff: Option<String>,
    ) {
        if self.suites.is_empty() {
            self.play("");
        }
        let Some(suite) = self.suites.last_mut() else {
            return;
        };
        suite.ended = Instant::now();
        let id = task.as_ref().map(|t| t.id.clone()).unwrap_or_default();
        let case = suite
            .cases
            .entry((id, host.to_owned()))
            .or_insert_with(|| Case {
                name: task
                    .as_ref()
                    .map(|t| t.name.clone())
                    .unwrap_or_else(|| "(play)".to_owned()),
                classname: host.to_owned(),
                file: task.as_ref().map(|t| t.file.clone()),
                line: task.as_ref().map(|t| t.line),
                status,
                ignored,
                time: Duration::ZERO,
                failures: Vec::new(),
                diff: String::new(),
            });
        if task_level {
            case.status = status;
            case.ignored = ignored;
            case.time = case.time.max(duration);
        } else {
            if rank(status) > rank(case.status) {
                case.status = status;
            }
            case.time += duration;
        }
        if let Some(f) = failure {
            case.failures.push(f);
        }
        if let Some(d) = diff {
            case.diff.push_str(&d);
        }
    }

    /// The verdict of `--verify-idempotent`: a suite `idempotence` with a
    /// failed case for each task (host × task × item) that changed on the
    /// second run, carrying its diff; one passing case when none did.
    pub fn idempotence(&mut self, changes: &[super::idempotence::Change]) {
        let now = Instant::now();
        let mut suite = Suite {
            name: "idempotence".to_owned(),
            again: true,
            started: now,
            ended: now,
            cases: IndexMap::new(),
        };
        for c in changes {
            let name = match &c.item {
                Some(i) => format!("{} (item={i})", c.task),
                None => c.task.clone(),
            };
            let case = suite
                .cases
                .entry((format!("{}:{}:{name}", c.file, c.line), c.host.clone()))
                .or_insert_with(|| Case {
                    name,
                    classname: c.host.clone(),
                    file: Some(c.file.clone()).filter(|f| !f.is_empty()),
                    line: Some(c.line),
                    status: Status::Changed,
                    ignored: false,
                    time: Duration::ZERO,
                    failures: Vec::new(),
                    diff: String::new(),
                });
            case.diff.push_str(&super::diff_text(&c.diffs));
        }
        if changes.is_empty() {
            suite.cases.insert(
                (String::new(), String::new()),
                Case {
                    name: "the second run changed nothing".to_owned(),
                    classname: "idempotence".to_owned(),
                    file: None,
                    line: None,
                    status: Status::Ok,
                    ignored: false,
                    time: Duration::ZERO,
                    failures: Vec::new(),
                    diff: String::new(),
                },
            );
        }
        self.suites.push(suite);
    }

    pub fn to_xml(&self) -> String {
        let mut body = String::new();
        let (mut tests, mut failures, mut skipped) = (0, 0, 0);
        let mut time = Duration::ZERO;
        for s in &self.suites {
            let (t, f, k, xml) = self.suite_xml(s);
            tests += t;
            failures += f;
            skipped += k;
            time += s.ended.duration_since(s.started);
            body.push_str(&xml);
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"hoist\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">\n{body}</testsuites>\n",
            secs(time)
        )
    }

    fn suite_xml(&self, s: &Suite) -> (usize, usize, usize, String) {
        let (mut failures, mut skipped) = (0, 0);
        let mut cases = String::new();
        for c in s.cases.values() {
            let mut attrs = format!(
                "classname=\"{}\" name=\"{}\"",
                escape(&c.classname),
                escape(&c.name)
            );
            if let Some(f) = &c.file {
                attrs.push_str(&format!(" file=\"{}\"", escape(f)));
            }
            if let Some(l) = c.line.filter(|l| *l > 0) {
                attrs.push_str(&format!(" line=\"{l}\""));
            }
            attrs.push_str(&format!(" time=\"{}\"", secs(c.time)));
            let inner = match c.status {
                Status::Failed | Status::Unreachable if !c.ignored => {
                    failures += 1;
                    let kind = if c.status == Status::Failed {
                        "failed"
                    } else {
                        "unreachable"
                    };
                    let message = c
                        .failures
                        .iter()
                        .map(|(m, _)| m.as_str())
                        .find(|m| !m.is_empty())
                        .unwrap_or(kind);
                    let text: Vec<&str> = c.failures.iter().map(|(_, t)| t.as_str()).collect();
                    Some(format!(
                        "<failure type=\"{kind}\" message=\"{}\">{}</failure>",
                        escape(message),
                        escape(&text.join("\n"))
                    ))
                }
                Status::Failed | Status::Unreachable => {
                    let text: Vec<&str> = c.failures.iter().map(|(_, t)| t.as_str()).collect();
                    Some(format!(
                        "<system-out>{}</system-out>",
                        escape(&format!("...ignoring\n{}", text.join("\n")))
                    ))
                }
                // A change is a failure in `hoist diff` (drift) and in the
                // second run of `--verify-idempotent`, carrying its diff.
                Status::Changed if s.again || self.drift => {
                    failures += 1;
                    let (kind, message, no_diff) = if s.again {
                        (
                            "not-idempotent",
                            "changed on the second run",
                            "the task changed again; it shows no diff",
                        )
                    } else {
                        (
                            "changed",
                            "would change",
                            "the task would change; it shows no diff",
                        )
                    };
                    let text = if c.diff.is_empty() { no_diff } else { &c.diff };
                    Some(format!(
                        "<failure type=\"{kind}\" message=\"{message}\">{}</failure>",
                        escape(text)
                    ))
                }
                Status::Skipped => {
                    skipped += 1;
                    Some("<skipped/>".to_owned())
                }
                _ => None,
            };
            match inner {
                Some(i) => cases.push_str(&format!("    <testcase {attrs}>{i}</testcase>\n")),
                None => cases.push_str(&format!("    <testcase {attrs}/>\n")),
            }
        }
        let tests = s.cases.len();
        let xml = format!(
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">\n{cases}  </testsuite>\n",
            escape(&s.name),
            secs(s.ended.duration_since(s.started))
        );
        (tests, failures, skipped, xml)
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// Text for an XML attribute or element: the five markup characters as
/// entities, and characters XML 1.0 cannot hold (controls other than tab
/// and newlines) written as `\xNN`.
pub fn escape(s: &str) -> String {
    // The run's secrets are masked before the markup is escaped, so the
    // report stays well-formed.
    let s = crate::secrets::redact(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Writes `text` to `path` through a temporary file beside it, renamed
/// over it, so a reader never sees half a report; its directory is made
/// when missing.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    // As pytest's --junitxml: a missing directory is made.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    crate::atomic::write_atomic(path, text.as_bytes(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, id: &str) -> Option<TaskRef> {
        Some(TaskRef {
            name: name.into(),
            file: "site.yml".into(),
            line: 3,
            handler: false,
            id: id.into(),
            started: Instant::now(),
        })
    }

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            escape("a<b>&\"'\u{1b}[0m\n"),
            "a&lt;b&gt;&amp;&quot;&apos;\\x1b[0m\n"
        );
    }

    #[test]
    fn loop_items_merge_and_the_task_result_stands() {
        let mut j = Junit::new(false);
        j.play("p");
        let t = task("t", "site.yml:3:5");
        j.record(
            &t,
            "h",
            Status::Ok,
            false,
            false,
            None,
            Duration::ZERO,
            None,
        );
        let fail = Some(("boom".to_owned(), "msg: boom\n".to_owned()));
        j.record(
            &t,
            "h",
            Status::Failed,
            false,
            false,
            fail,
            Duration::ZERO,
            None,
        );
        let xml = j.to_xml();
        assert!(
            xml.contains("<failure type=\"failed\" message=\"boom\">"),
            "{xml}"
        );
        // The loop's failures were ignored.
        j.record(
            &t,
            "h",
            Status::Failed,
            true,
            true,
            None,
            Duration::ZERO,
            None,
        );
        let xml = j.to_xml();
        assert!(!xml.contains("<failure"), "{xml}");
        assert!(xml.contains("failures=\"0\""), "{xml}");
    }

    #[test]
    fn drift_is_a_failure_with_its_diff() {
        let mut j = Junit::new(true);
        j.play("p");
        let t = task("t", "site.yml:3:5");
        let diff = Some("--- before\n+++ after\n".to_owned());
        j.record(
            &t,
            "h",
            Status::Changed,
            false,
            true,
            None,
            Duration::ZERO,
            diff,
        );
        let xml = j.to_xml();
        assert!(xml.contains("type=\"changed\""), "{xml}");
        assert!(xml.contains("+++ after"), "{xml}");
    }
}
