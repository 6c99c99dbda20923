//! What a connection did, for `-vv` and more: the commands it ran with
//! their exit codes and output, how it reached the host, and lower-level
//! steps. The connection layer never prints; it hands [`TraceEvent`]s to
//! the [`Tracer`] the executor set for the task running on the host (a
//! tokio task-local, so every command a task causes, on whichever shared
//! connection, is told to the right host line, and nothing is told outside
//! a task). The reporter implements [`TraceSink`] and writes them.
//!
//! No secret reaches a sink, whatever the verbosity:
//! * standard input is never part of an event (a become password, a
//!   `curl -K -` config, file content piped into `cat` travel only there);
//! * words a module marks as secret ([`super::ExecRequest::hidden`]) and
//!   `environment:` values are replaced before an event is made;
//! * the content of files read or written is summarized as a size;
//! * under `no_log`, [`Tracer::emit`] strips every command, output and
//!   detail before the sink sees the event: only connection facts remain.
//!
//! With no tracer set, or one whose level is below an event's, the event
//! is not even built ([`emit`] takes a closure).

use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The verbosity each kind of event needs.
pub const COMMANDS: u8 = 2;
pub const CONNECTION: u8 = 3;
pub const DETAILS: u8 = 4;

/// Where events go (the reporter).
pub trait TraceSink: Send + Sync {
    /// One event about `host`, already censored for `no_log`.
    fn trace(&self, host: &str, event: &TraceEvent);
}

/// What a command printed, as a trace shows it.
#[derive(Clone, Debug, PartialEq)]
pub enum Shown {
    /// The bytes, for the reporter to quote (and shorten).
    Bytes(Vec<u8>),
    /// Only how many bytes: the content of a file.
    FileContent(usize),
    /// Nothing: the task has `no_log`.
    Hidden,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TraceEvent {
    /// How the host is reached (`-vvv`): the connection's user, address,
    /// gateway, host key, authentication, reuse. Never a secret, so also
    /// told under `no_log`.
    Connection(String),
    /// A command line sent to the host (`-vv`); `None` under `no_log`.
    /// `id` pairs it with its [`TraceEvent::Done`].
    Exec {
        id: u64,
        command: Option<String>,
        /// It got data on its standard input (never shown).
        stdin: bool,
    },
    /// How a command ended (`-vv`).
    Done {
        id: u64,
        rc: i32,
        elapsed: Duration,
        stdout: Shown,
        stderr: Shown,
    },
    /// A command could not be run at all (`-vv`): the connection's error.
    Error { id: u64, msg: Option<String> },
    /// A lower-level step (`-vvvv`): channels, SFTP transfers, become
    /// wrapping. Dropped under `no_log`.
    Detail(String),
}

impl TraceEvent {
    fn level(&self) -> u8 {
        match self {
            TraceEvent::Connection(_) => CONNECTION,
            TraceEvent::Exec { .. } | TraceEvent::Done { .. } | TraceEvent::Error { .. } => {
                COMMANDS
            }
            TraceEvent::Detail(_) => DETAILS,
        }
    }

    /// The event as a `no_log` task may show it (`None`: not at all).
    pub fn censored(self) -> Option<TraceEvent> {
        match self {
            TraceEvent::Connection(_) => Some(self),
            TraceEvent::Exec { id, stdin, .. } => Some(TraceEvent::Exec {
                id,
                command: None,
                stdin,
            }),
            TraceEvent::Done {
                id, rc, elapsed, ..
            } => Some(TraceEvent::Done {
                id,
                rc,
                elapsed,
                stdout: Shown::Hidden,
                stderr: Shown::Hidden,
            }),
            TraceEvent::Error { id, .. } => Some(TraceEvent::Error { id, msg: None }),
            TraceEvent::Detail(_) => None,
        }
    }
}

/// The trace of one task (one loop item) on one host.
pub struct Tracer {
    host: String,
    level: u8,
    no_log: bool,
    /// None: only counting (`--profile` below `-vv`).
    sink: Option<Arc<dyn TraceSink>>,
    next_id: AtomicU64,
    /// What was told once in this task already (see [`once`]).
    told: Mutex<Vec<&'static str>>,
    /// Commands run (exec channels or local processes) and SFTP
    /// operations, whatever the level (see [`count`]).
    execs: AtomicU64,
    sftp: AtomicU64,
}

/// What a connection does that costs a round trip, counted for
/// `--profile`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trip {
    /// A command: an exec channel (SSH) or a process (local).
    Exec,
    /// An SFTP request (open, write, close, remove).
    Sftp,
}

/// How many round trips a task caused on a host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trips {
    pub execs: u64,
    pub sftp: u64,
}

impl Tracer {
    pub fn new(host: &str, level: u8, no_log: bool, sink: Arc<dyn TraceSink>) -> Tracer {
        Tracer {
            host: host.to_owned(),
            level,
            no_log,
            sink: Some(sink),
            next_id: AtomicU64::new(1),
            told: Mutex::new(Vec::new()),
            execs: AtomicU64::new(0),
            sftp: AtomicU64::new(0),
        }
    }

    /// A tracer that tells nothing and only counts round trips.
    pub fn counting(host: &str) -> Tracer {
        Tracer {
            host: host.to_owned(),
            level: 0,
            no_log: true,
            sink: None,
            next_id: AtomicU64::new(1),
            told: Mutex::new(Vec::new()),
            execs: AtomicU64::new(0),
            sftp: AtomicU64::new(0),
        }
    }

    /// The round trips counted so far.
    pub fn trips(&self) -> Trips {
        Trips {
            execs: self.execs.load(Ordering::Relaxed),
            sftp: self.sftp.load(Ordering::Relaxed),
        }
    }

    /// Hands `event` to the sink if the level asks for it, censored for
    /// `no_log`.
    pub fn emit(&self, event: TraceEvent) {
        if event.level() > self.level {
            return;
        }
        let event = if self.no_log {
            match event.censored() {
                Some(e) => e,
                None => return,
            }
        } else {
            event
        };
        if let Some(sink) = &self.sink {
            sink.trace(&self.host, &event);
        }
    }
}

tokio::task_local! {
    static CURRENT: Arc<Tracer>;
}

/// Runs `f` with `tracer` receiving the events of every connection it
/// uses (`None`: no tracing, at no cost).
pub async fn scope<F: Future>(tracer: Option<Arc<Tracer>>, f: F) -> F::Output {
    match tracer {
        Some(t) => CURRENT.scope(t, f).await,
        None => f.await,
    }
}

/// Counts one round trip of the current task's connection use.
pub fn count(trip: Trip) {
    let _ = CURRENT.try_with(|t| match trip {
        Trip::Exec => t.execs.fetch_add(1, Ordering::Relaxed),
        Trip::Sftp => t.sftp.fetch_add(1, Ordering::Relaxed),
    });
}

/// Whether events of `level` are wanted now.
pub fn enabled(level: u8) -> bool {
    CURRENT.try_with(|t| t.level >= level).unwrap_or(false)
}

/// Builds and hands on an event of `level` if the current task's tracer
/// wants it; otherwise `make` is not called.
pub fn emit(level: u8, make: impl FnOnce() -> TraceEvent) {
    let _ = CURRENT.try_with(|t| {
        if t.level >= level {
            t.emit(make());
        }
    });
}

/// Like [`emit`], but only the first time `key` is told in the current
/// task (a connection is described once per task, as Ansible's
/// `ESTABLISH`); whether it was emitted now.
pub fn once(key: &'static str, level: u8, make: impl FnOnce() -> TraceEvent) -> bool {
    CURRENT
        .try_with(|t| {
            if t.level < level {
                return false;
            }
            let first = match t.told.lock() {
                Ok(mut told) if !told.contains(&key) => {
                    told.push(key);
                    true
                }
                _ => false,
            };
            if first {
                t.emit(make());
            }
            first
        })
        .unwrap_or(false)
}

/// Marks `key` as told in the current task without telling anything
/// (see [`once`]).
pub fn mark(key: &'static str) {
    let _ = CURRENT.try_with(|t| {
        if let Ok(mut told) = t.told.lock()
            && !told.contains(&key)
        {
            told.push(key);
        }
    });
}

/// A command about to run: returns its id for [`finished`] when commands
/// are traced (`None` otherwise, and `command` is not called).
pub fn command(command: impl FnOnce() -> String, stdin: bool) -> Option<(u64, std::time::Instant)> {
    CURRENT
        .try_with(|t| {
            if t.level < COMMANDS {
                return None;
            }
            let id = t.next_id.fetch_add(1, Ordering::Relaxed);
            t.emit(TraceEvent::Exec {
                id,
                command: Some(command()),
                stdin,
            });
            Some((id, std::time::Instant::now()))
        })
        .ok()
        .flatten()
}

/// How the command [`command`] announced ended; `file_content`: its
/// standard output is a file's content, shown as a size only.
pub fn finished(
    started: Option<(u64, std::time::Instant)>,
    result: &super::ConnResult<super::ExecOutput>,
    file_content: bool,
) {
    let Some((id, at)) = started else { return };
    let event = match result {
        Ok(out) => TraceEvent::Done {
            id,
            rc: out.rc,
            elapsed: at.elapsed(),
            stdout: if file_content {
                Shown::FileContent(out.stdout.len())
            } else {
                Shown::Bytes(out.stdout.clone())
            },
            stderr: Shown::Bytes(out.stderr.clone()),
        },
        Err(e) => TraceEvent::Error {
            id,
            msg: Some(e.msg.clone()),
        },
    };
    emit(COMMANDS, || event);
}

/// `argv` as a shell command line for a trace, with the words in `hidden`
/// replaced.
pub fn shown_argv(argv: &[String], hidden: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if hidden
                .iter()
                .any(|h| !h.is_empty() && a.contains(h.as_str()))
            {
                "********".to_owned()
            } else {
                super::shell::quote(a)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Mutex<Vec<(String, TraceEvent)>>);
    impl TraceSink for Collect {
        fn trace(&self, host: &str, event: &TraceEvent) {
            self.0
                .lock()
                .unwrap()
                .push((host.to_owned(), event.clone()));
        }
    }

    fn run(level: u8, no_log: bool) -> Vec<(String, TraceEvent)> {
        let sink = Arc::new(Collect::default());
        let tracer = Tracer::new("web1", level, no_log, sink.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(scope(Some(Arc::new(tracer)), async {
            once("hi", CONNECTION, || TraceEvent::Connection("hello".into()));
            once("hi", CONNECTION, || TraceEvent::Connection("again".into()));
            let c = command(|| "echo s3cret".into(), true);
            let out = Ok(crate::connection::ExecOutput {
                rc: 3,
                stdout: b"s3cret\n".to_vec(),
                stderr: b"err".to_vec(),
            });
            finished(c, &out, false);
            emit(DETAILS, || TraceEvent::Detail("s3cret path".into()));
        }));
        sink.0.lock().unwrap().clone()
    }

    #[test]
    fn levels_choose_the_events() {
        assert!(run(1, false).is_empty());
        let two = run(2, false);
        assert_eq!(two.len(), 2, "{two:?}");
        assert_eq!(
            two[0].1,
            TraceEvent::Exec {
                id: 1,
                command: Some("echo s3cret".into()),
                stdin: true
            }
        );
        assert!(matches!(
            &two[1].1,
            TraceEvent::Done { id: 1, rc: 3, stdout: Shown::Bytes(b), .. } if b == b"s3cret\n"
        ));
        let three = run(3, false);
        assert_eq!(three.len(), 3, "described once: {three:?}");
        assert_eq!(
            three[0],
            ("web1".into(), TraceEvent::Connection("hello".into()))
        );
        assert_eq!(run(4, false).len(), 4);
    }

    #[test]
    fn no_log_leaves_no_command_output_or_detail() {
        let all = run(4, true);
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(!format!("{all:?}").contains("s3cret"), "{all:?}");
        assert!(matches!(
            &all[2].1,
            TraceEvent::Done {
                rc: 3,
                stdout: Shown::Hidden,
                stderr: Shown::Hidden,
                ..
            }
        ));
    }

    #[test]
    fn outside_a_task_nothing_is_built() {
        let mut built = false;
        emit(CONNECTION, || {
            built = true;
            TraceEvent::Detail(String::new())
        });
        assert!(!built);
        assert!(command(|| unreachable!(), false).is_none());
        assert!(!enabled(COMMANDS));
    }

    #[test]
    fn hidden_words_are_masked() {
        let argv = vec![
            "usermod".into(),
            "-p".into(),
            "$6$salt$hash".into(),
            "bob".into(),
        ];
        assert_eq!(
            shown_argv(&argv, &["$6$salt$hash".into()]),
            "usermod -p ******** bob"
        );
    }
}
