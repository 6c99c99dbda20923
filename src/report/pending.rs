//! Handlers still pending at the end of a run (see [`crate::journal`]),
//! after the recap: which host, which play, and that the next apply of
//! the play runs them first.

use std::path::Path;

use serde_json::Value as Json;

use super::{Format, Reporter, stars};
use crate::journal::Pending;

impl Reporter {
    /// Nothing when no handler is pending.
    pub fn pending_handlers(&self, pending: &[Pending], journal: &Path) {
        if pending.is_empty() {
            return;
        }
        if self.format == Format::Json {
            let list: Vec<Json> = pending
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "host": p.host,
                        "playbook": p.play.playbook,
                        "play": p.play.play,
                        "handlers": p.handlers,
                    })
                })
                .collect();
            self.emit_raw(&Reporter::event_line(
                "pending_handlers",
                vec![
                    ("pending", Json::Array(list)),
                    ("journal", Json::from(journal.display().to_string())),
                ],
            ));
            return;
        }
        let mut text = format!(
            "{}\n",
            stars("PENDING HANDLERS [they run first on the next apply of their play]")
        );
        let cwd = std::env::current_dir().ok();
        for p in pending {
            let file = Path::new(&p.play.playbook);
            let file = cwd
                .as_deref()
                .and_then(|c| file.strip_prefix(c).ok())
                .unwrap_or(file);
            text.push_str(&format!(
                "{} : {} (play '{}' of {})\n",
                p.host,
                p.handlers.join(", "),
                p.play.play,
                file.display()
            ));
        }
        text.push_str(&format!(
            "Recorded in {}; --forget-pending-handlers drops them.\n\n",
            journal.display()
        ));
        self.emit_raw(&text);
    }
}
