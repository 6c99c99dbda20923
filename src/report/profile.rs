//! `--profile`: the slowest tasks after the recap, in the layout of the
//! `ansible.posix.profile_tasks` callback's summary (a line per task, its
//! name padded with dashes, its time in seconds; slowest first, the top
//! 20), then the whole run's time.
//!
//! A task's time is the wall time from its banner to its last result.
//! When it runs more than once (serial batches, lanes of the free
//! strategy, a role used twice) the times are joined: overlapping runs
//! count once, separate ones add up.

use std::time::{Duration, Instant};

use indexmap::IndexMap;

use super::TaskRef;
use crate::connection::trace::Trips;

/// How many tasks the summary lists (profile_tasks' `output_limit`).
pub const LIMIT: usize = 20;

/// The columns profile_tasks fills when the output is not a terminal.
const COLUMNS: usize = 79;

pub struct Profile {
    started: Instant,
    /// Per task (its place): its name and the runs seen, as (banner, last
    /// result).
    tasks: IndexMap<String, (String, Vec<(Instant, Instant)>)>,
    /// Per task (its place): its name and the round trips per host.
    trips: IndexMap<String, (String, IndexMap<String, Trips>)>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile::new()
    }
}

impl Profile {
    pub fn new() -> Profile {
        Profile {
            started: Instant::now(),
            tasks: IndexMap::new(),
            trips: IndexMap::new(),
        }
    }

    /// `task` cost `trips` on `host` (one loop item or the whole task).
    pub fn count(&mut self, task: &TaskRef, host: &str, trips: Trips) {
        let key = format!("{}\u{0}{}", task.id, task.name);
        let entry = self
            .trips
            .entry(key)
            .or_insert_with(|| (task.name.clone(), IndexMap::new()));
        let t = entry.1.entry(host.to_owned()).or_default();
        t.execs += trips.execs;
        t.sftp += trips.sftp;
    }

    /// `ROUND TRIPS`: per task, the commands and SFTP requests per host
    /// (mean, and the most on one host), most first; then the run's totals.
    pub fn trips_text(&self, limit: usize) -> String {
        let mut rows: Vec<(&str, u64, u64, usize, u64)> = self
            .trips
            .values()
            .map(|(name, hosts)| {
                let execs: u64 = hosts.values().map(|t| t.execs).sum();
                let sftp: u64 = hosts.values().map(|t| t.sftp).sum();
                let max = hosts.values().map(|t| t.execs + t.sftp).max().unwrap_or(0);
                (name.as_str(), execs, sftp, hosts.len(), max)
            })
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.1 + r.2));
        let mut text = format!("{}\n", super::stars("ROUND TRIPS"));
        text.push_str("commands + SFTP requests per host (mean), the most on one host\n");
        for (name, execs, sftp, hosts, max) in rows.iter().take(limit) {
            let n = (*hosts).max(1) as f64;
            let value = format!(
                " {:.1} + {:.1} (max {max})",
                *execs as f64 / n,
                *sftp as f64 / n
            );
            let width = COLUMNS.saturating_sub(value.len()).max(name.len() + 2);
            text.push_str(&format!("{:-<width$}{value}\n", format!("{name} ")));
        }
        let (execs, sftp): (u64, u64) = rows.iter().fold((0, 0), |a, r| (a.0 + r.1, a.1 + r.2));
        let hosts: std::collections::HashSet<&String> =
            self.trips.values().flat_map(|(_, h)| h.keys()).collect();
        text.push_str(&format!(
            "{}\nTotal: {execs} commands and {sftp} SFTP requests on {} hosts\n\n",
            "-".repeat(COLUMNS),
            hosts.len()
        ));
        text
    }

    /// `task` (shown at `task.started`) has a result now.
    pub fn touch(&mut self, task: &TaskRef) {
        self.touch_at(task, Instant::now());
    }

    fn touch_at(&mut self, task: &TaskRef, now: Instant) {
        let key = format!("{}\u{0}{}", task.id, task.name);
        let entry = self
            .tasks
            .entry(key)
            .or_insert_with(|| (task.name.clone(), Vec::new()));
        match entry.1.iter_mut().find(|(s, _)| *s == task.started) {
            Some(run) => run.1 = run.1.max(now),
            None => entry.1.push((task.started, now.max(task.started))),
        }
    }

    /// Each task's time, slowest first (ties in run order).
    pub fn times(&self) -> Vec<(&str, Duration)> {
        let mut out: Vec<(&str, Duration)> = self
            .tasks
            .values()
            .map(|(name, runs)| (name.as_str(), joined(runs)))
            .collect();
        out.sort_by_key(|t| std::cmp::Reverse(t.1));
        out
    }

    /// The summary: a `TASKS RECAP` banner, a line of `=`, the slowest
    /// `limit` tasks, and the run's total.
    pub fn text(&self, limit: usize) -> String {
        let mut text = format!("{}\n", super::stars("TASKS RECAP"));
        text.push_str(&format!("{} \n", "=".repeat(COLUMNS)));
        for (name, time) in self.times().into_iter().take(limit) {
            text.push_str(&line(name, time));
        }
        text.push_str(&format!("{}\n", "-".repeat(COLUMNS)));
        text.push_str(&line("Total", self.started.elapsed()));
        text.push('\n');
        text
    }
}

/// `name ------- 1.23s`, as profile_tasks formats it:
/// `"{0:-<70}{1:->9}".format(name + " ", " %.02fs" % secs)`.
fn line(name: &str, time: Duration) -> String {
    let width = COLUMNS - 9;
    let secs = format!(" {:.2}s", time.as_secs_f64());
    format!("{:-<width$}{secs:->9}\n", format!("{name} "))
}

/// The time covered by `runs`, overlaps counted once.
fn joined(runs: &[(Instant, Instant)]) -> Duration {
    let mut runs = runs.to_vec();
    runs.sort();
    let mut total = Duration::ZERO;
    let mut current: Option<(Instant, Instant)> = None;
    for (s, e) in runs {
        current = match current {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    if let Some((cs, ce)) = current {
        total += ce - cs;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, id: &str, started: Instant) -> TaskRef {
        TaskRef {
            name: name.into(),
            file: "site.yml".into(),
            line: 1,
            handler: false,
            id: id.into(),
            started,
        }
    }

    #[test]
    fn round_trips_are_summed_per_task_and_host() {
        let now = Instant::now();
        let mut p = Profile::new();
        let copy = task("copy", "1", now);
        let stat = task("stat", "2", now);
        for h in ["a", "b"] {
            p.count(&copy, h, Trips { execs: 2, sftp: 3 });
        }
        // A loop's two items on one host add up.
        p.count(&stat, "a", Trips { execs: 1, sftp: 0 });
        p.count(&stat, "a", Trips { execs: 1, sftp: 0 });
        let text = p.trips_text(LIMIT);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ROUND TRIPS ****"), "{text}");
        assert!(
            lines[2].starts_with("copy ---") && lines[2].ends_with(" 2.0 + 3.0 (max 5)"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("stat ---") && lines[3].ends_with(" 2.0 + 0.0 (max 2)"),
            "{text}"
        );
        assert_eq!(lines[2].len(), COLUMNS, "{text}");
        assert!(
            text.contains("Total: 6 commands and 6 SFTP requests on 2 hosts"),
            "{text}"
        );
    }

    #[test]
    fn lines_as_profile_tasks_prints_them() {
        let l = line("sleep", Duration::from_millis(1234));
        assert_eq!(l.len(), 80);
        assert!(l.starts_with("sleep ------"));
        assert!(l.ends_with("--- 1.23s\n"));
    }

    #[test]
    fn runs_join_and_tasks_sort_slowest_first() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut p = Profile::new();
        let a = task("a", "x:1", t0);
        p.touch_at(&a, t0 + s(1));
        // A second lane's run of the same task overlaps the first.
        let a2 = task("a", "x:1", t0 + s(0));
        p.touch_at(&a2, t0 + s(2));
        // A later batch runs it again.
        let a3 = task("a", "x:1", t0 + s(10));
        p.touch_at(&a3, t0 + s(11));
        let b = task("b", "x:5", t0 + s(2));
        p.touch_at(&b, t0 + s(6));
        let times = p.times();
        assert_eq!(times, vec![("b", s(4)), ("a", s(3))]);
    }
}
