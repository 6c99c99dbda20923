//! The text of connection traces (`-vv` and more, see
//! [`crate::connection::trace`]): one line per event, prefixed with the
//! host as Ansible's `<host>` lines are, written through the reporter's
//! output so that a free-strategy lane's pending banner comes first.
//!
//! Events arrive already censored for `no_log` and without standard
//! input; this only shortens long output.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use crate::connection::trace::{Shown, TraceEvent, TraceSink};

use super::Out;

/// Output shown of each stream of a command, in bytes; the rest is
/// counted, not shown.
pub const MAX_SHOWN: usize = 1000;

/// A pending lane banner: (task id, text), as [`super::Reporter`] keeps it.
pub(super) type Pending = Arc<Mutex<Option<(String, String)>>>;

/// The reporter's end of the traces.
pub(super) struct TraceWriter {
    pub(super) out: Arc<Mutex<Out>>,
    pub(super) lane: Option<Pending>,
    /// The terminal's bars: traces print above them, as results do.
    pub(super) progress: Option<Arc<super::progress::Progress>>,
}

impl TraceSink for TraceWriter {
    fn trace(&self, host: &str, event: &TraceEvent) {
        let text = trace_line(host, event);
        let pending = self
            .lane
            .as_ref()
            .and_then(|l| l.lock().ok().and_then(|b| b.clone()));
        let write = || super::write_out(&self.out, pending, &text);
        match &self.progress {
            Some(p) => p.print(write),
            None => write(),
        }
    }
}

/// One event as a line of text (with its newline).
pub fn trace_line(host: &str, event: &TraceEvent) -> String {
    let mut s = format!("<{host}> ");
    match event {
        TraceEvent::Connection(msg) | TraceEvent::Detail(msg) => s.push_str(msg),
        TraceEvent::Exec { id, command, stdin } => {
            let _ = write!(s, "EXEC #{id}: ");
            match command {
                Some(c) => s.push_str(c),
                None => s.push_str("(command hidden: no_log)"),
            }
            if *stdin && command.is_some() {
                s.push_str("  [stdin: not shown]");
            }
        }
        TraceEvent::Done {
            id,
            rc,
            elapsed,
            stdout,
            stderr,
        } => {
            let _ = write!(s, "#{id} rc={rc} ({:.3}s)", elapsed.as_secs_f64());
            if *stdout == Shown::Hidden && *stderr == Shown::Hidden {
                s.push_str(" (output hidden: no_log)");
            } else {
                let _ = write!(s, " stdout={} stderr={}", shown(stdout), shown(stderr));
            }
        }
        TraceEvent::Error { id, msg } => {
            let _ = write!(s, "#{id} failed to run: ");
            match msg {
                Some(m) => s.push_str(m),
                None => s.push_str("(error hidden: no_log)"),
            }
        }
    }
    s.push('\n');
    s
}

fn shown(out: &Shown) -> String {
    match out {
        Shown::Bytes(b) => quoted(b, MAX_SHOWN),
        Shown::FileContent(n) => format!("<{n} bytes of file content, not shown>"),
        Shown::Hidden => "(hidden: no_log)".to_owned(),
    }
}

/// Bytes as one quoted line, `'…'` with escapes as Python's repr writes
/// them (`\n`, `\t`, `\\`, `\'`, `\xNN` for other control bytes and for
/// bytes that are not UTF-8), shortened to `max` bytes with a count of
/// the rest.
pub fn quoted(bytes: &[u8], max: usize) -> String {
    // Masked before it is shortened: a cut never leaves half a secret.
    let bytes = &*crate::secrets::redact_bytes(bytes);
    let (head, rest) = if bytes.len() > max {
        // Cut on a character boundary when the text is UTF-8 there.
        let mut cut = max;
        while cut > 0 && cut < bytes.len() && (bytes[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        (&bytes[..cut], bytes.len() - cut)
    } else {
        (bytes, 0)
    };
    let mut s = String::with_capacity(head.len() + 2);
    s.push('\'');
    for chunk in head.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                '\\' => s.push_str("\\\\"),
                '\'' => s.push_str("\\'"),
                c if c.is_control() => {
                    let _ = write!(s, "\\x{:02x}", c as u32);
                }
                c => s.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s.push('\'');
    if rest > 0 {
        let _ = write!(s, "… ({rest} more bytes not shown)");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn quotes_and_shortens() {
        assert_eq!(quoted(b"hi\n", 100), r"'hi\n'");
        assert_eq!(quoted(b"it's \\ \x01\xff", 100), r"'it\'s \\ \x01\xff'");
        assert_eq!(quoted(b"abcdef", 3), "'abc'… (3 more bytes not shown)");
        // Never a half character.
        assert_eq!(quoted("aé".as_bytes(), 2), "'a'… (2 more bytes not shown)");
    }

    #[test]
    fn lines_as_shown() {
        let exec = TraceEvent::Exec {
            id: 2,
            command: Some("exec echo hi".into()),
            stdin: true,
        };
        assert_eq!(
            trace_line("web1", &exec),
            "<web1> EXEC #2: exec echo hi  [stdin: not shown]\n"
        );
        let done = TraceEvent::Done {
            id: 2,
            rc: 0,
            elapsed: Duration::from_millis(12),
            stdout: Shown::Bytes(b"hi\n".to_vec()),
            stderr: Shown::FileContent(7),
        };
        assert_eq!(
            trace_line("web1", &done),
            "<web1> #2 rc=0 (0.012s) stdout='hi\\n' stderr=<7 bytes of file content, not shown>\n"
        );
        let hidden = TraceEvent::Exec {
            id: 3,
            command: Some("x".into()),
            stdin: false,
        }
        .censored()
        .unwrap();
        assert_eq!(
            trace_line("web1", &hidden),
            "<web1> EXEC #3: (command hidden: no_log)\n"
        );
    }
}
