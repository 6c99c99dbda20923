//! The pending-handler journal: handlers notified but not run because a
//! host failed or the run was interrupted are recorded in `.hoist/` beside
//! the inventory, reported, and run first by the next apply of the play
//! (`--forget-pending-handlers` drops them; check mode never writes).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Project, recap};

const PLAYBOOK: &str = r#"
- name: release
  hosts: all
  gather_facts: false
  tasks:
    - name: configuration
      copy:
        content: "version {{ version }}\n"
        dest: "{{ root }}/app.conf"
      notify: restart app
    - name: smoke test
      fail:
        msg: the new configuration does not pass
      when: broken | bool
    - name: slow step
      command: sleep 30
      when: slow | bool
  handlers:
    - name: restart app
      shell: echo "restarted with $(cat {{ root }}/app.conf)" >> {{ root }}/restarts
    - name: never notified
      shell: echo never >> {{ root }}/never
"#;

fn project() -> Project {
    let p = Project::new();
    p.write("site.yml", PLAYBOOK);
    p
}

fn vars(version: u32, broken: bool) -> Vec<String> {
    vec![
        "-e".into(),
        format!("version={version}"),
        "-e".into(),
        format!("broken={broken}"),
        "-e".into(),
        "slow=false".into(),
    ]
}

fn apply(p: &Project, cmd: &str, args: &[String], extra: &[&str]) -> crate::common::Run {
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend_from_slice(extra);
    p.hoist(cmd, &all)
}

fn journal(p: &Project) -> Option<String> {
    std::fs::read_to_string(p.path().join(".hoist/pending-handlers.json")).ok()
}

fn restarts(p: &Project) -> Vec<String> {
    std::fs::read_to_string(p.root().join("restarts"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_failed_run_leaves_its_handlers_pending_and_the_next_apply_runs_them_first() {
    let p = project();
    let failed = apply(&p, "apply", &vars(2, true), &[]);
    assert_eq!(failed.code, 2, "{failed:?}");
    assert!(restarts(&p).is_empty(), "the failed host ran no handler");
    let j = journal(&p).expect("a journal beside the inventory");
    let parsed: serde_json::Value = serde_json::from_str(&j).expect("JSON");
    let play = parsed["plays"]
        .as_object()
        .and_then(|m| m.values().next())
        .expect("one play");
    assert_eq!(play["play"], "release");
    assert!(
        play["playbook"]
            .as_str()
            .is_some_and(|f| f.ends_with("/site.yml")),
        "{j}"
    );
    assert_eq!(
        play["hosts"]["localhost"],
        serde_json::json!(["restart app"])
    );
    let block = failed
        .stdout
        .split("PENDING HANDLERS")
        .nth(1)
        .unwrap_or_else(|| panic!("a pending-handlers block after the recap: {failed:?}"));
    assert!(
        block.contains("localhost : restart app (play 'release' of site.yml)")
            && block.contains("--forget-pending-handlers"),
        "{failed:?}"
    );
    assert!(
        failed.stdout.find("PLAY RECAP") < failed.stdout.find("PENDING HANDLERS"),
        "{failed:?}"
    );

    // Fixed: nothing in the tasks changes, but the restart that never
    // happened runs before them.
    let fixed = apply(&p, "apply", &vars(2, false), &[]);
    assert_eq!(fixed.code, 0, "{fixed:?}");
    assert_eq!(restarts(&p), vec!["restarted with version 2"]);
    let handler = fixed
        .stdout
        .find("RUNNING HANDLER [restart app]")
        .expect("the handler ran");
    let first_task = fixed
        .stdout
        .find("TASK [configuration]")
        .expect("the tasks ran");
    assert!(
        handler < first_task,
        "pending handlers run first: {fixed:?}"
    );
    assert!(
        fixed.stderr.contains(
            "localhost: running first the handlers an earlier run left pending: restart app"
        ),
        "{fixed:?}"
    );
    assert!(!fixed.stdout.contains("PENDING HANDLERS"), "{fixed:?}");
    assert!(
        !p.root().join("never").exists(),
        "only what was pending ran"
    );
    assert_eq!(journal(&p), None, "nothing left pending, no journal left");

    // And then nothing more to do.
    let again = apply(&p, "apply", &vars(2, false), &[]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(recap(&again, "localhost")[1], 0, "{again:?}");
    assert_eq!(restarts(&p).len(), 1, "{again:?}");
}

#[test]
fn check_mode_reports_pending_handlers_as_changes_and_keeps_the_journal() {
    let p = project();
    assert_eq!(apply(&p, "apply", &vars(3, true), &[]).code, 2);
    let before = journal(&p).expect("journal");
    // The configuration is in place: only the pending restart is left, and
    // diff must say that apply would do something.
    let diff = apply(&p, "diff", &vars(3, false), &[]);
    assert_eq!(diff.code, 2, "changes pending: {diff:?}");
    assert!(
        diff.stdout.contains("RUNNING HANDLER [restart app]"),
        "{diff:?}"
    );
    assert!(
        diff.stderr
            .contains("running first the handlers an earlier run left pending: restart app"),
        "{diff:?}"
    );
    // The apply would run them: none would be left pending after it.
    assert!(!diff.stdout.contains("PENDING HANDLERS"), "{diff:?}");
    assert_eq!(journal(&p).as_deref(), Some(before.as_str()));
    assert!(restarts(&p).is_empty(), "check mode ran nothing");
    let check = apply(&p, "apply", &vars(3, false), &["--check"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert_eq!(journal(&p).as_deref(), Some(before.as_str()));
}

#[test]
fn forget_pending_handlers_drops_them_without_running_them() {
    let p = project();
    assert_eq!(apply(&p, "apply", &vars(4, true), &[]).code, 2);
    assert!(journal(&p).is_some());
    let run = apply(&p, "apply", &vars(4, false), &["--forget-pending-handlers"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(restarts(&p).is_empty(), "{run:?}");
    assert!(
        run.stderr
            .contains("localhost: forgetting handlers an earlier run left pending: restart app"),
        "{run:?}"
    );
    assert_eq!(journal(&p), None);
}

#[test]
fn handlers_that_ran_are_not_recorded_and_a_renamed_handler_is_forgotten() {
    let p = project();
    let ok = apply(&p, "apply", &vars(5, false), &[]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert_eq!(restarts(&p).len(), 1);
    assert_eq!(journal(&p), None, "{ok:?}");

    assert_eq!(apply(&p, "apply", &vars(6, true), &[]).code, 2);
    p.write(
        "site.yml",
        &PLAYBOOK.replace("restart app", "restart application"),
    );
    let run = apply(&p, "apply", &vars(6, false), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("the play has no handler 'restart app' any more"),
        "{run:?}"
    );
    assert_eq!(journal(&p), None);
}

#[test]
fn an_interrupted_run_keeps_what_it_notified() {
    let p = project();
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(p.path())
        .args(["apply", "site.yml", "-i", "hosts.ini", "-e"])
        .arg(format!("root={}", p.root().display()))
        .args(["-e", "version=7", "-e", "broken=false", "-e", "slow=true"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().expect("spawn hoist");
    // The configuration task notifies at once; the slow step then holds
    // the run.
    let start = Instant::now();
    while journal(&p).is_none() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        journal(&p).is_some(),
        "the journal is written as handlers are notified"
    );
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("User interrupted execution"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("localhost : restart app (play 'release' of site.yml)"),
        "{stdout}\n{stderr}"
    );
    assert!(restarts(&p).is_empty());
    // The next apply makes up for it.
    let next = apply(&p, "apply", &vars(7, false), &[]);
    assert_eq!(next.code, 0, "{next:?}");
    assert_eq!(restarts(&p), vec!["restarted with version 7"]);
    assert_eq!(journal(&p), None);
}

#[test]
fn a_play_ended_on_purpose_leaves_nothing_pending() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"
- name: ends
  hosts: all
  gather_facts: false
  tasks:
    - copy:
        content: "x\n"
        dest: "{{ root }}/f"
      notify: restart
    - meta: end_host
  handlers:
    - name: restart
      command: "true"
"#,
    );
    let run = p.apply();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains("RUNNING HANDLER"), "{run:?}");
    assert_eq!(journal(&p), None, "end_host drops the handlers: {run:?}");
}
