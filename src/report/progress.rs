//! The terminal mode of `hoist apply`/`hoist diff` (text output on a
//! terminal): one overall bar (host×task results done of an estimated
//! total that grows when includes, loops or handlers add work), a capped
//! set of lines for the hosts still working with their task and how long
//! it has run, and the reporter's usual text printed above the bars.
//!
//! All printing goes through [`Progress::print`], which hides the bars,
//! runs the write and draws them again, so lines never interleave with
//! bars. [`Progress::finish`] (also run on drop) clears the bars for good:
//! the screen ends with the text alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::playbook::{Item, Playbook};

/// How many working hosts get a line of their own; the rest are counted
/// on one more line.
pub const MAX_LINES: usize = 8;

/// How often the host lines' times and the spinner are refreshed.
const TICK: Duration = Duration::from_millis(200);

pub struct Progress {
    multi: MultiProgress,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    ticker: Mutex<Option<JoinHandle<()>>>,
    colour: bool,
}

struct State {
    overall: ProgressBar,
    /// The host lines shown now, top to bottom.
    lines: Vec<ProgressBar>,
    /// Hosts working now: their task and since when, in start order.
    running: IndexMap<String, (String, Instant)>,
    done: u64,
    estimate: u64,
    /// The task the overall bar names (the last banner).
    task: String,
    /// Bars show from the first banner on (nothing before: a become
    /// password prompt has the terminal to itself).
    live: bool,
    /// A prompt has the terminal: no bars meanwhile.
    held: bool,
    finished: bool,
    /// The terminal's modes before the bars showed (see [`quiet_echo`]).
    saved: Option<nix::sys::termios::Termios>,
}

impl Progress {
    /// Bars on standard output, for a run of about `estimate` host×task
    /// results.
    pub fn new(estimate: u64, colour: bool) -> Arc<Progress> {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
        let overall = multi.add(ProgressBar::new(estimate.max(1)));
        let template = if colour {
            "{spinner:.green} [{elapsed_precise}] [{bar:40.cyan/blue}] {pos}/{len} {wide_msg}"
        } else {
            "{spinner} [{elapsed_precise}] [{bar:40}] {pos}/{len} {wide_msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            overall.set_style(style.progress_chars("=> "));
        }
        let state = Arc::new(Mutex::new(State {
            overall,
            lines: Vec::new(),
            running: IndexMap::new(),
            done: 0,
            estimate,
            task: String::new(),
            live: false,
            held: false,
            finished: false,
            saved: None,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let state = state.clone();
            let stop = stop.clone();
            let multi = multi.clone();
            std::thread::Builder::new()
                .name("hoist-progress".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        if let Ok(mut st) = state.lock() {
                            if st.finished {
                                break;
                            }
                            st.overall.tick();
                            st.render(&multi, colour);
                        }
                    }
                })
                .ok()
        };
        Arc::new(Progress {
            multi,
            state,
            stop,
            ticker: Mutex::new(ticker),
            colour,
        })
    }

    /// Runs `write` (which prints to standard output) with the bars out of
    /// the way; they are drawn again below what it printed.
    pub fn print<R>(&self, write: impl FnOnce() -> R) -> R {
        self.multi.suspend(write)
    }

    /// A task's banner: the overall bar names it (and the bars show from
    /// the first one on).
    pub fn task(&self, name: &str) {
        self.with_state(|st, multi, colour| {
            st.task = name.to_owned();
            if !st.live {
                st.live = true;
                st.saved = quiet_echo();
                if !st.held {
                    multi.set_draw_target(ProgressDrawTarget::stdout());
                }
            }
            st.render(multi, colour);
        });
    }

    /// With `on`, hides the bars while something else (a prompt) uses the
    /// terminal; with `!on`, shows them again.
    pub fn hold(&self, on: bool) {
        self.with_state(|st, multi, colour| {
            st.held = on;
            if !st.live {
                return;
            }
            if on {
                let _ = multi.clear();
                multi.set_draw_target(ProgressDrawTarget::hidden());
            } else {
                multi.set_draw_target(ProgressDrawTarget::stdout());
                st.render(multi, colour);
            }
        });
    }

    /// `host` starts working on `task`.
    pub fn started(&self, host: &str, task: &str) {
        self.with_state(|st, multi, colour| {
            st.running
                .insert(host.to_owned(), (task.to_owned(), Instant::now()));
            st.render(multi, colour);
        });
    }

    /// `host` is through its task (all its results are printed).
    pub fn finished(&self, host: &str) {
        self.with_state(|st, multi, colour| {
            if st.running.shift_remove(host).is_some() {
                st.done += 1;
            }
            st.render(multi, colour);
        });
    }

    fn with_state(&self, f: impl FnOnce(&mut State, &MultiProgress, bool)) {
        if let Ok(mut st) = self.state.lock()
            && !st.finished
        {
            f(&mut st, &self.multi, self.colour);
        }
    }

    /// Clears every bar for good (before the recap, at the end of the run,
    /// on an error or an interrupt); printing still works afterwards.
    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(mut st) = self.state.lock()
            && !st.finished
        {
            st.finished = true;
            for line in st.lines.drain(..) {
                line.finish_and_clear();
                self.multi.remove(&line);
            }
            st.overall.finish_and_clear();
            self.multi.remove(&st.overall);
            if let Some(saved) = st.saved.take() {
                restore(&saved);
            }
        }
        let _ = self.multi.clear();
        let handle = self.ticker.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// Stops the terminal from echoing control characters (`^C`) while the
/// bars show, and returns its modes as they were. indicatif fills each bar
/// line to the last column and lets the terminal wrap; an echoed `^C`
/// would wrap to one more line the bars do not know of, and clearing them
/// on the interrupt would leave the top one behind.
fn quiet_echo() -> Option<nix::sys::termios::Termios> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdout = std::io::stdout();
    let saved = tcgetattr(&stdout).ok()?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHOCTL);
    tcsetattr(&stdout, SetArg::TCSANOW, &quiet).ok()?;
    Some(saved)
}

/// The terminal's modes back as [`quiet_echo`] found them.
fn restore(saved: &nix::sys::termios::Termios) {
    use nix::sys::termios::{SetArg, tcsetattr};
    let _ = tcsetattr(std::io::stdout(), SetArg::TCSANOW, saved);
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

impl State {
    /// Brings the bars up to date: the total (never below what is done and
    /// running), the host lines (at most [`MAX_LINES`], then `… and N
    /// more`).
    fn render(&mut self, multi: &MultiProgress, colour: bool) {
        let running = self.running.len() as u64;
        self.overall
            .set_length(self.estimate.max(self.done + running).max(1));
        self.overall.set_position(self.done);
        self.overall.set_message(self.task.clone());
        let shown = self.running.len().min(MAX_LINES);
        let more = self.running.len() - shown;
        let wanted = shown + usize::from(more > 0);
        while self.lines.len() > wanted {
            if let Some(line) = self.lines.pop() {
                line.finish_and_clear();
                multi.remove(&line);
            }
        }
        while self.lines.len() < wanted {
            let line = multi.add(ProgressBar::new_spinner());
            if let Ok(style) = ProgressStyle::with_template("  {wide_msg}") {
                line.set_style(style);
            }
            self.lines.push(line);
        }
        let width = self
            .running
            .keys()
            .take(shown)
            .map(|h| h.chars().count())
            .max()
            .unwrap_or(0);
        for (line, (host, (task, since))) in self.lines.iter().zip(self.running.iter()) {
            let secs = since.elapsed().as_secs();
            let host = format!("{host:<width$}");
            let host = if colour {
                super::colour::paint(&host, super::colour::OK)
            } else {
                host
            };
            line.set_message(format!("{host}  {task} ({secs}s)"));
        }
        if more > 0
            && let Some(last) = self.lines.last()
        {
            last.set_message(format!("… and {more} more"));
        }
    }
}

/// About how many host×task results a run has: for each play, the hosts
/// its pattern selects (with `--limit`) times its tasks (with fact
/// gathering, blocks and their `always`, an include counting once). Plays
/// whose hosts are templated count one host; the bar's total grows when
/// the run turns out bigger.
pub fn estimate(
    playbooks: &[Playbook],
    inventory: &crate::inventory::Inventory,
    limit: Option<&str>,
) -> u64 {
    let mut total = 0u64;
    for play in playbooks.iter().flat_map(|pb| pb.plays.iter()) {
        let hosts = match inventory.select(&play.hosts) {
            Ok(h) => match limit {
                Some(l) => inventory.limit(h, l).unwrap_or_default(),
                None => h,
            },
            Err(_) => Vec::new(),
        };
        let hosts = (hosts.len() as u64).max(u64::from(play.hosts.contains("{{")));
        let mut tasks = count(&play.pre_tasks) + count(&play.roles) + count(&play.tasks);
        tasks += count(&play.post_tasks);
        if play.facts_task.is_some() && play.gather_facts.as_ref().is_none_or(|v| v.is_true()) {
            tasks += 1;
        }
        total = total.saturating_add(hosts.saturating_mul(tasks));
    }
    total
}

fn count(items: &[Item]) -> u64 {
    items
        .iter()
        .map(|item| match item {
            Item::Task(_) | Item::Include(_) => 1,
            Item::Block(b) => count(&b.block) + count(&b.always),
            Item::IncludeRole(_, items) => count(items),
        })
        .sum()
}
