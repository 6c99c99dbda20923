//! Conformance with ansible-core: every playbook of `tests/conformance` (and
//! a few tag selections) runs with hoist and with ansible-playbook on two
//! copies of the same project, and both must
//!
//! - exit the same way (and as the case expects),
//! - print the same `PLAY`/`TASK`/`RUNNING HANDLER` banners in the same
//!   order, with the same result per host (status, delegation, loop item
//!   label, `...ignoring`) under each; hosts within a task are sorted,
//! - print the same recap, and
//! - leave the same files.
//!
//! The playbooks check their own outcomes with `assert`, so the same runs
//! also prove hoist's results right. Known differences are marked, never
//! silently accepted:
//!
//! - a behaviour hoist gets wrong is a task tagged `known_<name>`; the
//!   comparison skips every `known_*` tag, and `tests/conformance/README.md`
//!   documents each one with a reproducer. `cargo test conformance --
//!   --ignored` runs the comparison with them to see which still differ.
//! - an output difference is a [`Known`] relaxation listed on the cases it
//!   affects; a relaxation that a case no longer needs fails the test, so
//!   a fix in hoist shows up here.
//!
//! Runs when ansible-playbook is installed; on CI (`CI` set) a missing
//! ansible-playbook is a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{Run, have_ansible, snapshot};
use crate::conformance_cases::{
    ALL_KNOWN, CASES, Case, Known, args_skipping_known, copy_dir, known_tags, suite_dir,
};

fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A copy of the suite in a temporary directory, with `root/` for output.
struct Copy {
    dir: tempfile::TempDir,
}

impl Copy {
    fn new() -> Copy {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(&suite_dir(), dir.path());
        std::fs::create_dir_all(dir.path().join("root")).expect("root");
        Copy { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    fn command(&self, program: &str, pre: &[&str], case: &Case, args: &[String]) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.path())
            .args(pre)
            .arg(case.playbook)
            .args(["-i", "inventory", "-e"])
            .arg(format!("root={}", self.root().display()))
            .arg("-e")
            .arg(format!("ansible_python_interpreter={}", python()))
            .args(args)
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_STDOUT_CALLBACK", "default")
            // Pipes modules into Python instead of copying them: the same
            // results, a fifth less time.
            .env("ANSIBLE_PIPELINING", "1")
            .env("ANSIBLE_LOCAL_TEMP", self.path().join(".ansible-tmp"))
            .env("ANSIBLE_HOME", self.path().join(".ansible-home"));
        c
    }
}

/// One result line under a banner.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Line {
    /// ok, changed, skipping, fatal, failed, unreachable, included,
    /// retrying.
    status: String,
    /// The host; for `included:` the hosts, comma-separated.
    host: String,
    delegate: Option<String>,
    item: Option<String>,
    ignored: bool,
    /// For `included:`, the file (or role) name.
    file: Option<String>,
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "included: {file} for {}", self.host)?;
        } else {
            write!(f, "{}: [{}", self.status, self.host)?;
            if let Some(d) = &self.delegate {
                write!(f, " -> {d}")?;
            }
            write!(f, "]")?;
        }
        if let Some(i) = &self.item {
            write!(f, " (item={i})")?;
        }
        if self.ignored {
            write!(f, " ...ignoring")?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Banner {
    title: String,
    lines: Vec<Line>,
}

/// A run's output reduced to what both tools must agree on.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct Outline {
    banners: Vec<Banner>,
    recap: BTreeMap<String, [u32; 7]>,
}

impl Outline {
    fn render(&self) -> Vec<String> {
        let mut out = Vec::new();
        for b in &self.banners {
            out.push(b.title.clone());
            for l in &b.lines {
                out.push(format!("    {l}"));
            }
        }
        out.push("PLAY RECAP".into());
        for (h, n) in &self.recap {
            out.push(format!(
                "    {h}: ok={} changed={} unreachable={} failed={} skipped={} rescued={} ignored={}",
                n[0], n[1], n[2], n[3], n[4], n[5], n[6]
            ));
        }
        out
    }
}

/// `[host]` or `[host -> delegate]` at the start of `s`: (host, delegate, rest).
fn host_part(s: &str) -> Option<(String, Option<String>, &str)> {
    let s = s.strip_prefix('[')?;
    let end = s.find(']')?;
    let inner = &s[..end];
    let (host, delegate) = match inner.split_once(" -> ") {
        Some((h, d)) => (h.to_owned(), Some(d.to_owned())),
        None => (inner.to_owned(), None),
    };
    Some((host, delegate, &s[end + 1..]))
}

/// The `(item=...)` label in the rest of a result line.
fn item_part(rest: &str) -> Option<String> {
    let start = rest.find("(item=")? + "(item=".len();
    let tail = &rest[start..];
    // The label ends at the `)` before ` => {...}` or at the line's end.
    let end = tail
        .find(") => ")
        .or_else(|| tail.rfind(')'))
        .unwrap_or(tail.len());
    Some(tail[..end].to_owned())
}

/// Reduces ansible-playbook's default-callback output (which hoist
/// follows) to banners, result lines and the recap. `project` is the
/// project directory, replaced by `<project>` in paths.
fn outline(stdout: &str, project: &Path) -> Outline {
    let project = project.display().to_string();
    let mut o = Outline::default();
    let mut in_recap = false;
    for raw in stdout.lines() {
        let line = raw.replace(&project, "<project>");
        let line = line.trim_end();
        if line.starts_with("PLAY RECAP") {
            in_recap = true;
            continue;
        }
        if in_recap {
            // The recap ends at its blank line; what hoist adds after it
            // (pending handlers, failed health gates) is not ansible's.
            if line.is_empty() && !o.recap.is_empty() {
                break;
            }
            if let Some((host, nums)) = line.split_once(" : ") {
                let mut n = [0u32; 7];
                for (i, part) in nums.split_whitespace().take(7).enumerate() {
                    n[i] = part
                        .split('=')
                        .nth(1)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(999);
                }
                o.recap.insert(host.trim().to_owned(), n);
            }
            continue;
        }
        if ["PLAY [", "TASK [", "RUNNING HANDLER ["]
            .iter()
            .any(|p| line.starts_with(p))
        {
            let title = line.trim_end_matches('*').trim_end().to_owned();
            o.banners.push(Banner {
                title,
                lines: Vec::new(),
            });
            continue;
        }
        let Some(banner) = o.banners.last_mut() else {
            continue;
        };
        if line == "...ignoring" {
            match banner.lines.last_mut() {
                // After a loop, ansible prints `...ignoring` on its own
                // once the host's last item is in, and other hosts' items
                // may come between: which host it belongs to is not in the
                // output, only that one host's loop failed and was ignored.
                Some(l) if l.item.is_some() => banner.lines.push(Line {
                    status: "ignored loop".into(),
                    host: String::new(),
                    delegate: None,
                    item: None,
                    ignored: true,
                    file: None,
                }),
                Some(l) => l.ignored = true,
                None => {}
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("included: ") {
            let (file, hosts) = rest.split_once(" for ").unwrap_or((rest, ""));
            let (hosts, item) = match hosts.split_once(" => (item=") {
                Some((h, i)) => (h, Some(i.trim_end_matches(')').to_owned())),
                None => (hosts, None),
            };
            // Ansible lists the hosts in the order they finished.
            let mut hosts: Vec<&str> = hosts.split(", ").collect();
            hosts.sort();
            banner.lines.push(Line {
                status: "included".into(),
                host: hosts.join(", "),
                delegate: None,
                item,
                ignored: false,
                file: Some(file.to_owned()),
            });
            continue;
        }
        if let Some(rest) = line.strip_prefix("FAILED - RETRYING: ") {
            if let Some((host, delegate, _)) = host_part(rest) {
                banner.lines.push(Line {
                    status: "retrying".into(),
                    host,
                    delegate,
                    item: None,
                    ignored: false,
                    file: None,
                });
            }
            continue;
        }
        for status in [
            "ok",
            "changed",
            "skipping",
            "fatal",
            "failed",
            "unreachable",
        ] {
            let Some(rest) = line.strip_prefix(status).and_then(|r| r.strip_prefix(": ")) else {
                continue;
            };
            let Some((host, delegate, rest)) = host_part(rest) else {
                continue;
            };
            banner.lines.push(Line {
                status: status.into(),
                host,
                delegate,
                item: item_part(rest),
                ignored: false,
                file: None,
            });
        }
    }
    // Hosts run in parallel: order each banner's lines by host, keeping
    // each host's own order (loop items, retries) and `included:` first.
    for b in &mut o.banners {
        b.lines.sort_by_key(|l| {
            (
                l.file.is_none(),
                if l.file.is_some() {
                    String::new()
                } else {
                    l.host.clone()
                },
            )
        });
    }
    o
}

/// Applies one relaxation to ansible's outline and hoist's (none is
/// needed today: every output difference found so far is fixed).
fn relax(k: Known, _ansible: &mut Outline, _hoist: &mut Outline) {
    match k {}
}

fn relaxed(mut ansible: Outline, mut hoist: Outline, known: &[Known]) -> (Outline, Outline) {
    let mut ks = known.to_vec();
    ks.sort();
    for k in ks {
        relax(k, &mut ansible, &mut hoist);
    }
    (ansible, hoist)
}

fn line_diff(a: &[String], b: &[String]) -> String {
    // A plain listing of both sides from the first difference on.
    let first = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = first.saturating_sub(3);
    let show = |v: &[String]| {
        v[from.min(v.len())..(first + 12).min(v.len())]
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "first difference at line {}\n--- ansible-playbook\n{}\n--- hoist\n{}",
        first + 1,
        show(a),
        show(b)
    )
}

/// Compares one case; `expectations` also checks the case's exit code,
/// failed hosts and idempotency (not with the known bugs included).
fn runs(name: &str, case: &Case, args: &[String], expectations: bool) -> Result<(), String> {
    let ours = Copy::new();
    let theirs = Copy::new();
    // ansible-playbook takes a few seconds: run it while hoist runs.
    let mut a = theirs.command("ansible-playbook", &[], case, args);
    let child = a
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ansible-playbook");
    let h = crate::common::run(ours.command(env!("CARGO_BIN_EXE_hoist"), &["apply"], case, args));
    let out = child.wait_with_output().expect("ansible-playbook");
    let a = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let mut problems = Vec::new();
    let expected_code = if case.failed.is_empty() { 0 } else { 2 };
    if expectations && a.code != expected_code {
        problems.push(format!(
            "ansible-playbook exited {} (the case expects {expected_code})",
            a.code
        ));
    }
    if h.code != a.code {
        problems.push(format!(
            "hoist exited {}, ansible-playbook {}",
            h.code, a.code
        ));
    }
    let ao = outline(&a.stdout, theirs.path());
    let ho = outline(&h.stdout, ours.path());
    let failed: Vec<&str> = ao
        .recap
        .iter()
        .filter(|(_, n)| n[3] != 0)
        .map(|(h, _)| h.as_str())
        .collect();
    if expectations && failed != case.failed {
        problems.push(format!(
            "ansible-playbook failed {failed:?}; the case expects {:?}",
            case.failed
        ));
    }
    let (ra, rh) = relaxed(ao.clone(), ho.clone(), case.known);
    if ra != rh {
        problems.push(format!(
            "output differs (known differences relaxed: {:?}): {}",
            case.known,
            line_diff(&ra.render(), &rh.render())
        ));
    } else {
        for k in case.known {
            let others: Vec<Known> = case.known.iter().copied().filter(|o| o != k).collect();
            let (ra, rh) = relaxed(ao.clone(), ho.clone(), &others);
            if ra == rh {
                problems.push(format!(
                    "known difference {k:?} no longer shows in this case: remove it from the case (and from tests/conformance/README.md if no case shows it)"
                ));
            }
        }
    }
    let (sa, sh) = (snapshot(&theirs.root()), snapshot(&ours.root()));
    if sa != sh {
        problems.push(format!("files differ: {}", line_diff(&sa, &sh)));
    }
    if problems.is_empty() && expectations && case.idempotent {
        let again =
            crate::common::run(ours.command(env!("CARGO_BIN_EXE_hoist"), &["apply"], case, args));
        let o = outline(&again.stdout, ours.path());
        let changed: Vec<&String> = o
            .recap
            .iter()
            .filter(|(_, n)| n[1] != 0)
            .map(|(h, _)| h)
            .collect();
        if again.code != h.code || !changed.is_empty() {
            problems.push(format!(
                "a second hoist run changed {changed:?} (exit {}):\n{}",
                again.code, again.stdout
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "conformance case {name} ({} {}):\n- {}\n\n=== ansible-playbook\n{a:?}\n\n=== hoist\n{h:?}",
        case.playbook,
        args.join(" "),
        problems.join("\n- ")
    ))
}

fn check(name: &str) {
    if !have_ansible() {
        return;
    }
    let case = &CASES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no case {name}"))
        .1;
    if let Err(e) = runs(name, case, &args_skipping_known(case), true) {
        panic!("{e}");
    }
}

#[test]
fn conformance_roles() {
    check("roles");
}

#[test]
fn conformance_includes() {
    check("includes");
}

#[test]
fn conformance_blocks() {
    check("blocks");
}

#[test]
fn conformance_loops() {
    check("loops");
}

#[test]
fn conformance_precedence() {
    check("precedence");
}

#[test]
fn conformance_magic() {
    check("magic");
}

#[test]
fn conformance_facts() {
    check("facts");
}

#[test]
fn conformance_delegation() {
    check("delegation");
}

#[test]
fn conformance_handlers() {
    check("handlers");
}

#[test]
fn conformance_templating() {
    check("templating");
}

#[test]
fn conformance_tags() {
    check("tags");
}

#[test]
fn conformance_tags_inner() {
    check("tags_inner");
}

#[test]
fn conformance_tags_includes() {
    check("tags_includes");
}

#[test]
fn conformance_tags_never() {
    check("tags_never");
}

#[test]
fn conformance_tags_untagged() {
    check("tags_untagged");
}

#[test]
fn conformance_tags_skip_play() {
    check("tags_skip_play");
}

/// Every case is run by a test above, every playbook has a case, and every
/// `known_*` tag and every [`Known`] is documented in the suite's README.
#[test]
fn conformance_cases_and_known_differences_are_listed() {
    let names: Vec<&str> = CASES.iter().map(|(n, _)| *n).collect();
    let source = include_str!("conformance.rs");
    for n in &names {
        assert!(
            source.contains(&format!("check(\"{n}\")")),
            "case {n} is run by no test"
        );
    }
    for e in std::fs::read_dir(suite_dir()).expect("suite").flatten() {
        let f = e.file_name().to_string_lossy().into_owned();
        if f.ends_with(".yml") {
            assert!(
                CASES.iter().any(|(_, c)| c.playbook == f),
                "{f} has no conformance case"
            );
        }
    }
    let readme = std::fs::read_to_string(suite_dir().join("README.md")).expect("README.md");
    for tag in known_tags() {
        assert!(
            readme.contains(&format!("`{tag}`")),
            "{tag} is not documented in tests/conformance/README.md"
        );
    }
    for k in ALL_KNOWN {
        assert!(
            readme.contains(&format!("`{k:?}`")),
            "Known::{k:?} is not documented in tests/conformance/README.md"
        );
    }
}

/// The comparison with the known hoist bugs included (`cargo test
/// conformance_known_bugs -- --ignored`): lists every case that still
/// differs, to see which `known_*` tags a fix lets go.
#[test]
#[ignore = "shows the known hoist bugs; run with --ignored"]
fn conformance_known_bugs() {
    if !have_ansible() {
        return;
    }
    let mut failures = Vec::new();
    for (name, case) in CASES {
        let args: Vec<String> = case.args.iter().map(|s| (*s).to_owned()).collect();
        if let Err(e) = runs(name, case, &args, false) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
