//! `-vv` … `-vvvv`: the commands hoist runs with their exit codes and
//! output, connection details and lower-level steps, and never a secret.

use std::process::Command;

use crate::common::{Project, Run, run};

const PLAYBOOK: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: loud
      shell: "echo marker-out; echo marker-err >&2; exit 3"
      ignore_errors: true
    - name: hidden
      shell: "echo pw=hunter2-s3cret"
      no_log: true
    - name: with env
      command: "true"
      environment:
        API_TOKEN: tok3n-s3cret
    - name: write
      copy:
        content: "c0ntent-s3cret\n"
        dest: "{{ root }}/out.txt"
"#;

fn project() -> Project {
    let p = Project::new();
    p.write("site.yml", PLAYBOOK);
    p
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The trace lines (`<host> …`) of a run's output.
fn traces(run: &Run) -> Vec<&str> {
    run.stdout.lines().filter(|l| l.starts_with('<')).collect()
}

/// The output between a task's banner and the next banner.
fn section<'a>(run: &'a Run, task: &str) -> &'a str {
    let start = run
        .stdout
        .find(&format!("TASK [{task}]"))
        .unwrap_or_else(|| panic!("no task {task}: {run:?}"));
    let rest = &run.stdout[start + 1..];
    let end = rest
        .find("\nTASK [")
        .or_else(|| rest.find("\nPLAY RECAP"))
        .unwrap_or(rest.len());
    &run.stdout[start..start + 1 + end]
}

#[test]
fn default_and_v_output_have_no_traces() {
    let p = project();
    for flags in [&[][..], &["-v"][..]] {
        let r = p.hoist("apply", flags);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(traces(&r).is_empty(), "{flags:?}: {r:?}");
        assert!(!r.stdout.contains("task path:"), "{r:?}");
        assert!(!r.stdout.contains("s3cret"), "{r:?}");
    }
}

#[test]
fn vv_shows_each_command_with_its_exit_code_and_output() {
    let p = project();
    let r = p.hoist("apply", &["-vv"]);
    assert_eq!(r.code, 0, "{r:?}");
    let site = std::fs::canonicalize(p.path().join("site.yml")).expect("site.yml");
    let loud = section(&r, "loud");
    assert!(
        loud.contains(&format!("\ntask path: {}:4\n", site.display())),
        "{loud}"
    );
    assert!(
        loud.contains(
            "<localhost> EXEC #1: /bin/sh -c 'echo marker-out; echo marker-err >&2; exit 3'\n"
        ),
        "{loud}"
    );
    assert!(
        loud.lines().any(|l| l.starts_with("<localhost> #1 rc=3 (")
            && l.ends_with(r"stdout='marker-out\n' stderr='marker-err\n'")),
        "{loud}"
    );
    // The trace comes before the task's result.
    let exec = loud.find("EXEC #1").unwrap_or(usize::MAX);
    let result = loud.find("fatal: [localhost]").unwrap_or(0);
    assert!(exec < result, "{loud}");
    // Connection details are for -vvv.
    assert!(!r.stdout.contains("ESTABLISH"), "{r:?}");
    // The copy of a local connection is made by system calls: no command.
    assert!(!section(&r, "write").contains("<localhost>"), "{r:?}");
}

#[test]
fn vvv_describes_the_connection_once_per_task_and_indents_results() {
    let p = project();
    let r = p.hoist("apply", &["-vvv"]);
    assert_eq!(r.code, 0, "{r:?}");
    let loud = section(&r, "loud");
    let establish = format!(
        "<localhost> ESTABLISH LOCAL CONNECTION FOR USER: {}\n",
        user()
    );
    assert_eq!(loud.matches(&establish).count(), 1, "{loud}");
    assert!(
        loud.find(&establish) < loud.find("EXEC #1"),
        "the connection is described first: {loud}"
    );
    assert!(loud.contains("    \"rc\": 3,\n"), "indented: {loud}");
    // Lower-level steps are for -vvvv.
    assert!(!r.stdout.contains("LOCAL: PUT"), "{r:?}");
}

#[test]
fn vvvv_shows_file_transfers_by_size_never_their_content() {
    let p = project();
    let r = p.hoist("apply", &["-vvvv"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("out.txt"), "c0ntent-s3cret\n");
    let write = section(&r, "write");
    let dest = p.root().join("out.txt");
    assert!(
        write.contains(&format!(
            "<localhost> LOCAL: PUT 15 bytes TO {} (a temporary file renamed over it)\n",
            dest.display()
        )),
        "{write}"
    );
    assert!(!r.stdout.contains("c0ntent-s3cret"), "{r:?}");
}

#[test]
fn no_log_and_environment_values_never_show_at_any_level() {
    let p = project();
    for v in ["-vv", "-vvv", "-vvvv"] {
        let r = p.hoist("apply", &[v]);
        assert_eq!(r.code, 0, "{r:?}");
        let hidden = section(&r, "hidden");
        assert!(
            hidden.contains("<localhost> EXEC #1: (command hidden: no_log)\n"),
            "{v}: {hidden}"
        );
        assert!(
            hidden
                .lines()
                .any(|l| l.starts_with("<localhost> #1 rc=0 (")
                    && l.ends_with("(output hidden: no_log)")),
            "{v}: {hidden}"
        );
        let env = section(&r, "with env");
        assert!(
            env.contains("<localhost> EXEC #1: API_TOKEN=<hidden> true\n"),
            "{v}: {env}"
        );
        for secret in ["hunter2-s3cret", "tok3n-s3cret", "c0ntent-s3cret"] {
            assert!(!r.stdout.contains(secret), "{v} shows {secret}: {r:?}");
            assert!(!r.stderr.contains(secret), "{v} shows {secret}: {r:?}");
        }
    }
}

/// A stand-in for sudo that always wants a password, read with `-S` from
/// its standard input, as the real one does; it runs the command only if
/// the password is right.
const FAKE_SUDO: &str = r#"#!/bin/sh
case " $* " in *" -n "*) echo "sudo: a password is required" >&2; exit 1;; esac
IFS= read -r pw
[ "$pw" = "b3come-pw-s3cret" ] || { echo "Sorry, try again." >&2; exit 1; }
while [ "$1" != "--" ]; do shift; done
shift
exec "$@"
"#;

#[test]
fn the_become_password_and_piped_content_never_show() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  become: true
  vars:
    ansible_become_password: b3come-pw-s3cret
  tasks:
    - name: as root
      command: echo ran-as-root
    - name: write
      copy:
        content: "c0ntent-s3cret\n"
        dest: "{{ root }}/out.txt"
    - name: edit
      lineinfile:
        path: "{{ root }}/out.txt"
        line: added
"#,
    );
    let sudo = p.write("bin/sudo", FAKE_SUDO);
    std::fs::set_permissions(&sudo, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        p.path().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(p.path())
        .env("PATH", path)
        .args(["apply", "site.yml", "-i", "hosts.ini", "-vvvv", "-e"])
        .arg(format!("root={}", p.root().display()));
    let r = run(c);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("out.txt"), "c0ntent-s3cret\nadded\n");
    let root = section(&r, "as root");
    assert!(
        root.contains("<localhost> BECOME: probed `sudo -n -H -u root -- /bin/sh -c true`: rc=1 (a password is needed)\n"),
        "{root}"
    );
    assert!(
        root.contains("BECOME: runs commands as `sudo -k -S -p '' -H -u root -- /bin/sh -c <command>`, the password first on its standard input (not shown)"),
        "{root}"
    );
    assert!(root.contains(r"stdout='ran-as-root\n'"), "{root}");
    // Through sudo, files are written by piping them into cat and read by
    // cat: the content shows as a size only.
    let write = section(&r, "write");
    assert!(
        write.contains("cat > \"$t\"") && write.contains("[stdin: not shown]"),
        "{write}"
    );
    let edit = section(&r, "edit");
    // (One read brings the stats and the 15 bytes of content.)
    assert!(
        edit.contains("bytes of file content, not shown>") && edit.contains("cat --"),
        "{edit}"
    );
    for secret in ["b3come-pw-s3cret", "c0ntent-s3cret"] {
        assert!(!r.stdout.contains(secret), "shows {secret}: {r:?}");
        assert!(!r.stderr.contains(secret), "shows {secret}: {r:?}");
    }
}

#[test]
fn json_output_carries_no_traces() {
    let p = project();
    let r = p.hoist("apply", &["-vvvv", "--output", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    for line in r.stdout.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not an event: {line}"
        );
    }
    assert!(!r.stdout.contains("EXEC #"), "{r:?}");
}

#[test]
fn adhoc_run_traces_its_command() {
    let p = Project::new();
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(p.path()).args([
        "run",
        "localhost",
        "-i",
        "hosts.ini",
        "-m",
        "command",
        "-a",
        "echo adhoc-out",
        "-vv",
    ]);
    let r = run(c);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("<localhost> EXEC #1: echo adhoc-out\n"),
        "{r:?}"
    );
    assert!(r.stdout.contains(r"stdout='adhoc-out\n'"), "{r:?}");
}
