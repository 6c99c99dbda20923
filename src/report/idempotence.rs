//! `hoist apply --verify-idempotent`: the results of the second run that
//! changed something, and the report that lists them.

use serde_json::Value as Json;

use super::{Format, Reporter, TaskRef, diff_json, diff_text, stars};
use crate::modules::FileDiff;

/// A task (or loop item) that changed again on the second run.
#[derive(Clone, Debug)]
pub struct Change {
    pub host: String,
    pub task: String,
    pub file: String,
    pub line: usize,
    pub handler: bool,
    pub item: Option<String>,
    pub diffs: Vec<FileDiff>,
}

impl Change {
    pub(super) fn new(
        task: &Option<TaskRef>,
        host: &str,
        item: Option<&str>,
        diffs: &[FileDiff],
    ) -> Change {
        let (name, file, line, handler) = match task {
            Some(t) => (t.name.clone(), t.file.clone(), t.line, t.handler),
            None => (String::new(), String::new(), 0, false),
        };
        Change {
            host: host.to_owned(),
            task: name,
            file,
            line,
            handler,
            item: item.map(str::to_owned),
            diffs: diffs.to_vec(),
        }
    }

    /// `host: task (file:line)`, with the loop item when there is one.
    fn label(&self) -> String {
        let kind = if self.handler { "handler " } else { "" };
        let mut s = format!("{}: {kind}{}", self.host, self.task);
        if let Some(i) = &self.item {
            s.push_str(&format!(" (item={i})"));
        }
        if !self.file.is_empty() {
            s.push_str(&format!(" ({}:{})", self.file, self.line));
        }
        s
    }
}

impl Reporter {
    /// The second run of `--verify-idempotent` starts.
    pub fn idempotence_start(&self) {
        if self.format == Format::Json {
            self.emit_raw(&Reporter::event_line("idempotence_start", vec![]));
            return;
        }
        self.emit_raw(&format!(
            "{}\n",
            stars("IDEMPOTENCE CHECK [applying the same playbooks again: nothing may change]")
        ));
    }

    /// A reporter for the second run: the same output and format, which
    /// keeps what changed, and shows diffs inline only when `show_diffs`
    /// (`-D` was given); the list at the end has them anyway.
    pub fn second_run(&self, show_diffs: bool) -> Reporter {
        let mut r = Reporter::new_shared(self.out.clone(), self.verbosity).with_format(self.format);
        r.warned = self.warned.clone();
        r.changes = Some(Default::default());
        r.hide_diffs = !show_diffs;
        r.colour = self.colour;
        r
    }

    /// What changed in a run kept by [`Reporter::second_run`].
    pub fn changes(&self) -> Vec<Change> {
        match &self.changes {
            Some(c) => match c.lock() {
                Ok(c) => c.clone(),
                Err(p) => p.into_inner().clone(),
            },
            None => Vec::new(),
        }
    }

    /// The verdict of `--verify-idempotent`: each task that changed again,
    /// with its diff; also a failure of the JUnit report.
    pub fn idempotence_result(&self, changes: &[Change]) {
        self.with_junit_do(|j| j.idempotence(changes));
        if self.format == Format::Json {
            let list: Vec<Json> = changes
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "host": c.host,
                        "task": c.task,
                        "file": c.file,
                        "line": c.line,
                        "handler": c.handler,
                        "item": c.item,
                        "diff": diff_json(&c.diffs),
                    })
                })
                .collect();
            self.emit_raw(&Reporter::event_line(
                "idempotence",
                vec![
                    ("idempotent", Json::from(changes.is_empty())),
                    ("changed", Json::Array(list)),
                ],
            ));
            return;
        }
        if changes.is_empty() {
            self.emit_raw("IDEMPOTENCE CHECK PASSED: the second run changed nothing.\n\n");
            return;
        }
        let n = changes.len();
        let mut text = format!(
            "IDEMPOTENCE CHECK FAILED: {n} result{} changed on the second run:\n",
            if n == 1 { "" } else { "s" }
        );
        for c in changes {
            text.push_str(&format!("  {}\n", c.label()));
            let diff = diff_text(&c.diffs);
            for l in diff.lines() {
                if l.is_empty() {
                    text.push('\n');
                } else {
                    text.push_str(&format!("    {l}\n"));
                }
            }
        }
        text.push('\n');
        self.emit_raw(&text);
    }
}
