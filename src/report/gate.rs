//! The verdict of `batch_check` (hoist's health gate between `serial`
//! batches), after the recap: which check failed on which host, and why.

use serde_json::Value as Json;

use super::{Format, Reporter, stars};
use crate::executor::GateFailure;

impl Reporter {
    /// Nothing when every gate passed.
    pub fn gate_failures(&self, failures: &[GateFailure]) {
        if failures.is_empty() {
            return;
        }
        if self.format == Format::Json {
            let list: Vec<Json> = failures
                .iter()
                .map(|f| serde_json::json!({ "host": f.host, "task": f.task, "msg": f.msg }))
                .collect();
            self.emit_raw(&Reporter::event_line(
                "batch_check_failed",
                vec![("failures", Json::Array(list))],
            ));
            return;
        }
        let mut text = format!(
            "{}\n",
            stars("BATCH CHECK FAILED [the play stopped before its next batch]")
        );
        for f in failures {
            let task = if f.task.is_empty() {
                "(unnamed check)"
            } else {
                &f.task
            };
            text.push_str(&format!("{} : {task}", f.host));
            if !f.msg.is_empty() {
                text.push_str(&format!(": {}", f.msg));
            }
            text.push('\n');
        }
        text.push('\n');
        self.emit_raw(&text);
    }
}
