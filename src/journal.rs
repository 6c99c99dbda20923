//! The pending-handler journal: handlers a host was notified for but that
//! never ran — the host failed, the play stopped, the run was interrupted —
//! are recorded on the controller, so the next `hoist apply` of the same
//! play runs them first instead of forgetting them (Ansible forgets: a
//! config changed, the restart never happened, and the next run sees
//! nothing to do).
//!
//! The journal is one JSON file, `.hoist/pending-handlers.json` beside the
//! inventory. An entry is written the moment a handler is notified (so
//! Ctrl-C or a crash keeps it) and removed once the handler has run on the
//! host. Check mode reads it and never writes it.
//!
//! ```json
//! {"version": 1,
//!  "plays": {"/site/deploy.yml :: Rolling release": {
//!     "playbook": "/site/deploy.yml", "play": "Rolling release",
//!     "hosts": {"web2": ["restart app"]}}}}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value as Json, json};

/// The journal's file name, under [`DIR`].
pub const FILE: &str = "pending-handlers.json";
/// The directory beside the inventory that holds hoist's controller state.
pub const DIR: &str = ".hoist";

/// Which play an entry belongs to: its playbook file and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlayKey {
    pub playbook: String,
    pub play: String,
}

impl PlayKey {
    fn id(&self) -> String {
        format!("{} :: {}", self.playbook, self.play)
    }
}

/// Handlers left pending for one host of one play.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub play: PlayKey,
    pub host: String,
    pub handlers: Vec<String>,
}

#[derive(Debug, Default)]
struct Data {
    /// Play → host → handler names, in notification order.
    plays: BTreeMap<PlayKey, BTreeMap<String, Vec<String>>>,
}

/// The journal of one run.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// False in check mode: the file is read, never written.
    write: bool,
    data: Mutex<Data>,
    /// Why the journal could not be read or written (reported once).
    problem: Mutex<Option<String>>,
}

/// Where the journal of an inventory lives: `.hoist/` in the directory of
/// the first inventory source that is a path (the directory itself when it
/// is one), else in the current directory.
pub fn path_for(inventory: &[String]) -> PathBuf {
    let base = inventory
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .map(|p| {
            if p.is_dir() {
                p.to_path_buf()
            } else {
                p.parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."))
            }
        })
        .unwrap_or_else(|| PathBuf::from("."));
    base.join(DIR).join(FILE)
}

impl Journal {
    /// Reads the journal at `path` (none yet is an empty journal). A file
    /// that cannot be read or parsed is reported by [`Journal::problem`]
    /// and treated as empty; it is only replaced when something is
    /// recorded.
    pub fn open(path: PathBuf, write: bool) -> Journal {
        let mut problem = None;
        let data = match std::fs::read_to_string(&path) {
            Ok(text) => match parse(&text) {
                Ok(d) => d,
                Err(e) => {
                    problem = Some(format!(
                        "the pending-handler journal {} is unreadable ({e}); starting a new one",
                        path.display()
                    ));
                    Data::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Data::default(),
            Err(e) => {
                problem = Some(format!(
                    "cannot read the pending-handler journal {}: {e}",
                    path.display()
                ));
                Data::default()
            }
        };
        Journal {
            path,
            write,
            data: Mutex::new(data),
            problem: Mutex::new(problem),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A problem reading or writing the file, once.
    pub fn take_problem(&self) -> Option<String> {
        self.problem.lock().ok().and_then(|mut p| p.take())
    }

    /// The handlers left pending for `host` in `play`.
    pub fn pending(&self, play: &PlayKey, host: &str) -> Vec<String> {
        self.data
            .lock()
            .ok()
            .and_then(|d| d.plays.get(play).and_then(|h| h.get(host)).cloned())
            .unwrap_or_default()
    }

    /// Records that `host` was notified for `handler` (written at once).
    pub fn notified(&self, play: &PlayKey, host: &str, handler: &str) {
        self.change(|d| {
            let list = d
                .plays
                .entry(play.clone())
                .or_default()
                .entry(host.to_owned())
                .or_default();
            if list.iter().any(|h| h == handler) {
                return false;
            }
            list.push(handler.to_owned());
            true
        });
    }

    /// Records that `handler` ran on `host`.
    pub fn ran(&self, play: &PlayKey, host: &str, handler: &str) {
        self.change(|d| remove(d, play, host, Some(handler)));
    }

    /// Drops every handler pending for `host` in `play`.
    pub fn forget(&self, play: &PlayKey, host: &str) {
        self.change(|d| remove(d, play, host, None));
    }

    /// What is pending for the given plays, by play then host.
    pub fn pending_in(&self, plays: &[PlayKey]) -> Vec<Pending> {
        let Ok(d) = self.data.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (play, hosts) in &d.plays {
            if !plays.contains(play) {
                continue;
            }
            for (host, handlers) in hosts {
                out.push(Pending {
                    play: play.clone(),
                    host: host.clone(),
                    handlers: handlers.clone(),
                });
            }
        }
        out
    }

    /// Applies `f`; when it changed something and the journal may be
    /// written, saves the file (removing it when nothing is left).
    fn change(&self, f: impl FnOnce(&mut Data) -> bool) {
        let Ok(mut d) = self.data.lock() else {
            return;
        };
        if !f(&mut d) || !self.write {
            return;
        }
        if let Err(e) = self.save(&d)
            && let Ok(mut p) = self.problem.lock()
        {
            *p = Some(format!(
                "cannot write the pending-handler journal {}: {e}",
                self.path.display()
            ));
        }
    }

    fn save(&self, d: &Data) -> std::io::Result<()> {
        if d.plays.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => {
                    // `.hoist/` goes too when nothing else is in it.
                    if let Some(dir) = self.path.parent() {
                        let _ = std::fs::remove_dir(dir);
                    }
                    Ok(())
                }
            };
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(&render(d)).unwrap_or_default() + "\n";
        crate::atomic::write_atomic(&self.path, text.as_bytes(), Some(0o600))
    }
}

fn remove(d: &mut Data, play: &PlayKey, host: &str, handler: Option<&str>) -> bool {
    let Some(hosts) = d.plays.get_mut(play) else {
        return false;
    };
    let Some(list) = hosts.get_mut(host) else {
        return false;
    };
    let before = list.len();
    match handler {
        Some(h) => list.retain(|x| x != h),
        None => list.clear(),
    }
    let changed = list.len() != before;
    if list.is_empty() {
        hosts.remove(host);
    }
    if hosts.is_empty() {
        d.plays.remove(play);
    }
    changed
}

fn render(d: &Data) -> Json {
    let plays: serde_json::Map<String, Json> = d
        .plays
        .iter()
        .map(|(k, hosts)| {
            (
                k.id(),
                json!({ "playbook": k.playbook, "play": k.play, "hosts": hosts }),
            )
        })
        .collect();
    json!({ "version": 1, "plays": plays })
}

fn parse(text: &str) -> Result<Data, String> {
    let v: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if v.get("version").and_then(Json::as_u64) != Some(1) {
        return Err("not a version 1 journal".into());
    }
    let mut d = Data::default();
    let plays = v
        .get("plays")
        .and_then(Json::as_object)
        .ok_or("no \"plays\" object")?;
    for entry in plays.values() {
        let field = |k: &str| entry.get(k).and_then(Json::as_str).map(str::to_owned);
        let (Some(playbook), Some(play)) = (field("playbook"), field("play")) else {
            return Err("a play without \"playbook\" and \"play\"".into());
        };
        let hosts = entry
            .get("hosts")
            .and_then(Json::as_object)
            .ok_or("a play without \"hosts\"")?;
        let mut map = BTreeMap::new();
        for (host, handlers) in hosts {
            let list: Vec<String> = handlers
                .as_array()
                .ok_or("a host's handlers are not a list")?
                .iter()
                .filter_map(|h| h.as_str().map(str::to_owned))
                .collect();
            if !list.is_empty() {
                map.insert(host.clone(), list);
            }
        }
        if !map.is_empty() {
            d.plays.insert(PlayKey { playbook, play }, map);
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(play: &str) -> PlayKey {
        PlayKey {
            playbook: "/site/deploy.yml".into(),
            play: play.into(),
        }
    }

    #[test]
    fn notified_handlers_are_written_at_once_and_removed_when_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DIR).join(FILE);
        let j = Journal::open(path.clone(), true);
        j.notified(&key("deploy"), "web2", "restart app");
        j.notified(&key("deploy"), "web2", "restart app");
        j.notified(&key("deploy"), "web2", "reload lb");
        // Another run sees them, in notification order, once each.
        let again = Journal::open(path.clone(), true);
        assert_eq!(
            again.pending(&key("deploy"), "web2"),
            vec!["restart app", "reload lb"]
        );
        assert!(again.pending(&key("other"), "web2").is_empty());
        again.ran(&key("deploy"), "web2", "restart app");
        assert_eq!(
            Journal::open(path.clone(), true).pending(&key("deploy"), "web2"),
            vec!["reload lb"]
        );
        // Nothing left: no file left.
        again.ran(&key("deploy"), "web2", "reload lb");
        assert!(!path.exists());
        assert!(
            !dir.path().join(DIR).exists(),
            "an empty .hoist/ is removed"
        );
        assert!(again.take_problem().is_none());
    }

    #[test]
    fn check_mode_reads_and_never_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE);
        Journal::open(path.clone(), true).notified(&key("p"), "db1", "restart");
        let before = std::fs::read_to_string(&path).expect("journal");
        let j = Journal::open(path.clone(), false);
        assert_eq!(j.pending(&key("p"), "db1"), vec!["restart"]);
        j.ran(&key("p"), "db1", "restart");
        j.notified(&key("p"), "db2", "restart");
        assert_eq!(std::fs::read_to_string(&path).expect("journal"), before);
    }

    #[test]
    fn forget_and_listing_by_play() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::open(dir.path().join(FILE), true);
        j.notified(&key("a"), "h1", "x");
        j.notified(&key("a"), "h2", "y");
        j.notified(&key("b"), "h1", "z");
        j.forget(&key("a"), "h1");
        let listed = j.pending_in(&[key("a")]);
        assert_eq!(
            listed,
            vec![Pending {
                play: key("a"),
                host: "h2".into(),
                handlers: vec!["y".into()],
            }]
        );
        assert_eq!(j.pending_in(&[key("a"), key("b")]).len(), 2);
    }

    #[test]
    fn an_unreadable_journal_is_reported_and_treated_as_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE);
        for text in [
            "{not json",
            r#"{"version": 7, "plays": {}}"#,
            r#"{"version":1}"#,
        ] {
            std::fs::write(&path, text).expect("write");
            let j = Journal::open(path.clone(), true);
            assert!(j.pending(&key("p"), "h").is_empty());
            let p = j.take_problem().expect("a problem");
            assert!(p.contains("unreadable"), "{p}");
        }
    }

    #[test]
    fn the_journal_lives_beside_the_inventory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inv = dir.path().join("hosts.ini");
        std::fs::write(&inv, "h\n").expect("write");
        assert_eq!(
            path_for(&[inv.display().to_string()]),
            dir.path().join(".hoist/pending-handlers.json")
        );
        assert_eq!(
            path_for(&[dir.path().display().to_string()]),
            dir.path().join(".hoist/pending-handlers.json")
        );
        assert_eq!(
            path_for(&["web1,web2,".into()]),
            PathBuf::from("./.hoist/pending-handlers.json")
        );
    }
}
