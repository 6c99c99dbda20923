//! Ctrl-C: what a run does between the first interrupt and its end.
//!
//! The first SIGINT asks the run to stop ([`request`], called by the CLI):
//! from then on no task, loop item or handler starts ([`checkpoint`]) and no
//! file write begins ([`begin_write`]); writes already under way — a
//! temporary file beside the destination, then a rename — are let finish, so
//! every file is either the old one or the new one and no temporary file is
//! left. When none is under way ([`writes_done`]) the CLI drops the run,
//! which ends its commands and connections. A second SIGINT drops it at
//! once, whatever is under way.
//!
//! The state is process-wide (a signal is); [`Gate`] is the same logic as a
//! value, so it can be tested without touching the process's state.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

/// Whether a stop was asked for, and how many writes are under way.
pub struct Gate {
    requested: AtomicBool,
    writes: watch::Sender<usize>,
}

/// A write under way; dropping it (done, failed or abandoned) ends it.
pub struct Write<'a> {
    gate: &'a Gate,
}

impl Drop for Write<'_> {
    fn drop(&mut self) {
        self.gate.writes.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl Gate {
    pub fn new() -> Gate {
        Gate {
            requested: AtomicBool::new(false),
            writes: watch::channel(0).0,
        }
    }

    /// Asks the run to stop starting things.
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Returns at once unless a stop was asked for; then never (the run is
    /// dropped while waiting here).
    pub async fn checkpoint(&self) {
        if self.requested() {
            std::future::pending::<()>().await;
        }
    }

    /// Marks a write as under way until the guard is dropped; waits forever
    /// (see [`Gate::checkpoint`]) when a stop was asked for first.
    pub async fn begin_write(&self) -> Write<'_> {
        self.checkpoint().await;
        self.writes.send_modify(|n| *n += 1);
        Write { gate: self }
    }

    /// How many writes are under way.
    pub fn writes(&self) -> usize {
        *self.writes.borrow()
    }

    /// Returns when no write is under way.
    pub async fn writes_done(&self) {
        let mut rx = self.writes.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

static GATE: LazyLock<Gate> = LazyLock::new(Gate::new);

/// How many SIGINTs the process has had, counted by a task of its own (see
/// [`signals`]).
static SIGNALS: LazyLock<watch::Sender<u32>> = LazyLock::new(|| watch::channel(0).0);

/// The count of SIGINTs so far, to wait on. The first call (inside the
/// runtime) installs the handler and a task on the runtime's workers that
/// counts each signal as it comes: the run itself may be busy for a while
/// between two polls (hashing a large file, say), and two Ctrl-Cs in that
/// time must still count as two.
pub fn signals() -> std::io::Result<watch::Receiver<u32>> {
    static LISTENING: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut listening = LISTENING.lock().unwrap_or_else(|p| p.into_inner());
    if !*listening {
        let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        tokio::spawn(async move {
            while sigint.recv().await.is_some() {
                SIGNALS.send_modify(|n| *n += 1);
            }
        });
        *listening = true;
    }
    Ok(SIGNALS.subscribe())
}

/// The process's gate.
pub fn gate() -> &'static Gate {
    &GATE
}

/// See [`Gate::request`].
pub fn request() {
    GATE.request()
}

/// See [`Gate::checkpoint`].
pub async fn checkpoint() {
    GATE.checkpoint().await
}

/// See [`Gate::begin_write`].
pub async fn begin_write() -> Write<'static> {
    GATE.begin_write().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::timeout;

    #[tokio::test]
    async fn nothing_is_held_until_a_stop_is_asked_for() {
        let g = Gate::new();
        timeout(Duration::from_secs(1), g.checkpoint())
            .await
            .expect("checkpoint passes");
        let w = timeout(Duration::from_secs(1), g.begin_write())
            .await
            .expect("write begins");
        assert_eq!(g.writes(), 1);
        drop(w);
        assert_eq!(g.writes(), 0);
    }

    #[tokio::test]
    async fn after_a_stop_nothing_starts_and_running_writes_are_awaited() {
        let g = Gate::new();
        let w = g.begin_write().await;
        g.request();
        assert!(
            timeout(Duration::from_millis(50), g.checkpoint())
                .await
                .is_err(),
            "no task starts"
        );
        assert!(
            timeout(Duration::from_millis(50), g.begin_write())
                .await
                .is_err(),
            "no write begins"
        );
        assert_eq!(g.writes(), 1, "a write that never began is not counted");
        assert!(
            timeout(Duration::from_millis(50), g.writes_done())
                .await
                .is_err(),
            "the running write is awaited"
        );
        let end = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(w);
        };
        let (_, waited) = tokio::join!(end, timeout(Duration::from_secs(1), g.writes_done()));
        waited.expect("done once the write ends");
    }
}
