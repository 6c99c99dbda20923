//! reboot, wait_for_connection and dnf/yum on lab hosts.
//!
//! SAFETY: the lab hosts share this machine's kernel, so the default reboot
//! command would reboot the machine itself. Every reboot task here sets
//! `reboot_command` to a command that only leaves a marker file; the test
//! then plays the reboot: it stops the host's sshd (ending its sessions),
//! starts it again and writes a new "boot id" to the file the task uses as
//! `boot_time_command`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Lab, Run, lab, project, recap};

fn spawn(lab: &Lab, dir: &Path, extra: &[&str]) -> Child {
    let inv = lab.inventory();
    Command::new(env!("CARGO_BIN_EXE_hoist"))
        .current_dir(dir)
        .args(["apply", "site.yml", "-i", inv.to_str().unwrap_or("")])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hoist")
}

fn finish(child: Child, started: Instant) -> Run {
    let out = child.wait_with_output().expect("wait for hoist");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        secs: started.elapsed().as_secs_f64(),
    }
}

/// The pid of a lab host's sshd (its pid file in the lab dir).
fn sshd_pid(lab: &Lab, host: &str) -> String {
    std::fs::read_to_string(lab.dir.join("hosts").join(host).join("sshd.pid"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Waits until `path` exists on `host` (the playbook got there).
fn wait_for_file(lab: &Lab, host: &str, path: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let test = format!("test -e '{}'", path.replace('\'', r"'\''"));
    loop {
        if lab.ssh(host, "root", &test).code == 0 {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("hoist ended ({st}) before {path} appeared on {host}");
        }
        assert!(Instant::now() < deadline, "{path} never appeared on {host}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Stops the host's sshd (its open sessions end too), waits, starts it.
fn bounce_sshd(lab: &Lab, host: &str, down: Duration) {
    let r = lab.lab_cmd(&["stop", host]);
    assert_eq!(r.code, 0, "{r:?}");
    std::thread::sleep(down);
    let r = lab.lab_cmd(&["start", host]);
    assert_eq!(r.code, 0, "{r:?}");
}

/// A directory name with a space, a quote and a `$`.
const RB_DIR: &str = "/tmp/hoist boot 'rb' $x";

const REBOOT_PLAY: &str = r#"- hosts: web2
  gather_facts: false
  vars:
    dir: "/tmp/hoist boot 'rb' $x"
  tasks:
    - reboot:
        # Never the default: that would reboot the machine the lab runs on.
        reboot_command: /usr/bin/touch "/tmp/hoist boot 'rb' \$x/requested"
        boot_time_command: cat "/tmp/hoist boot 'rb' \$x/bootid"
        reboot_timeout: 90
        connect_timeout: 5
      register: r
    - command: cat "{{ dir }}/bootid"
      register: after
    - file: path="{{ dir }}/requested" state=absent
    - assert:
        that:
          - r is changed
          - r.rebooted
          - r.elapsed >= 2
          - after.stdout == expected
"#;

const CHECK_PLAY: &str = r#"- hosts: web2
  gather_facts: false
  tasks:
    - reboot:
        reboot_command: /usr/bin/touch "/tmp/hoist boot 'rb' \$x/requested"
        boot_time_command: cat "/tmp/hoist boot 'rb' \$x/bootid"
      register: r
    - assert:
        that:
          - r is changed and r.rebooted and r.elapsed == 0
"#;

#[test]
fn reboot_waits_for_the_host_to_come_back_and_always_changes() {
    let Some(lab) = lab() else { return };
    let q = RB_DIR.replace('\'', r"'\''");
    let setup = lab.ssh(
        "web2",
        "root",
        &format!("mkdir -p '{q}' && echo boot-1 > '{q}/bootid' && rm -f '{q}/requested'"),
    );
    assert_eq!(setup.code, 0, "{setup:?}");
    let p = project(REBOOT_PLAY);

    // Check mode: changed, and nothing runs (no marker, same sshd).
    let pid0 = sshd_pid(&lab, "web2");
    let c = project(CHECK_PLAY);
    let inv = lab.inventory();
    let r = lab.hoist(
        c.path(),
        &[
            "apply",
            "site.yml",
            "-i",
            inv.to_str().unwrap_or(""),
            "--check",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "web2")[..4], [2, 1, 0, 0], "{r:?}");
    let marker = lab.ssh("web2", "root", &format!("test -e '{q}/requested'"));
    assert_ne!(marker.code, 0, "check mode ran the reboot command");
    assert_eq!(sshd_pid(&lab, "web2"), pid0);

    // Two real runs: each one reboots (never idempotent).
    for boot in ["boot-2", "boot-3"] {
        let before = sshd_pid(&lab, "web2");
        let started = Instant::now();
        let expected = format!("expected={boot}");
        let mut child = spawn(&lab, p.path(), &["-e", &expected]);
        wait_for_file(&lab, "web2", &format!("{RB_DIR}/requested"), &mut child);
        bounce_sshd(&lab, "web2", Duration::from_secs(2));
        let w = lab.ssh("web2", "root", &format!("echo {boot} > '{q}/bootid'"));
        assert_eq!(w.code, 0, "{w:?}");
        // The task was still waiting through the outage and the old boot id.
        let waiting = matches!(child.try_wait(), Ok(None));
        let r = finish(child, started);
        assert!(waiting, "hoist ended before the host came back: {r:?}");
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(recap(&r, "web2")[..4], [4, 3, 0, 0], "{r:?}");
        let after = sshd_pid(&lab, "web2");
        assert!(!after.is_empty() && after != before, "sshd restarted");
    }
    let clean = lab.ssh("web2", "root", &format!("rm -rf '{q}'"));
    assert_eq!(clean.code, 0, "{clean:?}");
}

#[test]
fn reboot_refuses_the_controller_and_reports_a_failing_command() {
    let Some(lab) = lab() else { return };
    let p = project(
        r#"- hosts: web2
  gather_facts: false
  tasks:
    - reboot:
        # Harmless even if it ran: it must not run at all.
        reboot_command: /bin/true
      delegate_to: localhost
      register: local
      ignore_errors: true
    - reboot:
        reboot_command: /bin/false
        boot_time_command: echo same
      register: bad
      ignore_errors: true
    - reboot:
        reboot_command: "no-such-reboot-$x"
        boot_time_command: echo same
        search_paths: ["/nonexistent dir"]
      register: missing
      ignore_errors: true
    - reboot:
        reboot_command: /bin/true
        boot_time_command: "exit 3"
      register: noboot
      ignore_errors: true
    - reboot:
        reboot_command: /bin/true
        boot_time_command: echo same
        reboot_timeout: 2
      register: stuck
      ignore_errors: true
    - assert:
        that:
          - local is failed and not local.rebooted and local.elapsed == 0
          - local.msg == 'Running reboot with local connection would reboot the control node.'
          - bad is failed and not bad.rebooted
          - "bad.msg == \"Reboot command failed. Error was: ', '\""
          - missing is failed
          - "missing.msg == 'Unable to find command \"no-such-reboot-$x\" in search paths: [\\'/nonexistent dir\\']'"
          - noboot is failed and noboot.reboot == false
          - "noboot.msg.startswith('reboot: failed to get host boot time info, rc: 3')"
          - stuck is failed and stuck.rebooted
          - stuck.msg == 'Timed out waiting for last boot time check (timeout=2)'
"#,
    );
    let inv = lab.inventory();
    let r = lab.hoist(
        p.path(),
        &["apply", "site.yml", "-i", inv.to_str().unwrap_or("")],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "web2")[3], 0, "{r:?}");
    assert_eq!(recap(&r, "web2")[6], 5, "{r:?}");
}

#[test]
fn wait_for_connection_waits_out_a_stopped_sshd_and_times_out_with_ansibles_message() {
    let Some(lab) = lab() else { return };
    let p = project(
        r#"- hosts: app2
  gather_facts: false
  tasks:
    - wait_for_connection:
      check_mode: true
      register: checked
    - file: path=/tmp/hoist-boot-wfc state=directory
    - file: path=/tmp/hoist-boot-wfc/go state=touch
    - wait_for_connection: delay=3 sleep=1 timeout=60 connect_timeout=3
      register: w
    - file: path=/tmp/hoist-boot-wfc state=absent
    - assert:
        that:
          - checked is skipped
          - w is not changed and w is not failed
          - w.elapsed >= 4
- hosts: app2
  gather_facts: false
  vars:
    ansible_port: 2
  tasks:
    - wait_for_connection: timeout=3 connect_timeout=2
      register: down
      ignore_errors: true
    - assert:
        that:
          - down is failed and down is not changed
          - "down.msg.startswith('timed out waiting for ping module test: ')"
          - down.elapsed >= 3
"#,
    );
    let before = sshd_pid(&lab, "app2");
    let started = Instant::now();
    let mut child = spawn(&lab, p.path(), &[]);
    wait_for_file(&lab, "app2", "/tmp/hoist-boot-wfc/go", &mut child);
    // The touch task may still be reading the file's attributes back: let
    // it end (well inside wait_for_connection's 3 s delay).
    std::thread::sleep(Duration::from_millis(700));
    // Down for longer than the task's delay: its first attempts fail.
    bounce_sshd(&lab, "app2", Duration::from_secs(5));
    // Still waiting when sshd is back (the elapsed check is in the play).
    let waiting = matches!(child.try_wait(), Ok(None));
    let r = finish(child, started);
    assert!(waiting, "hoist ended while sshd was down: {r:?}");
    assert_eq!(r.code, 0, "{r:?}");
    let after = sshd_pid(&lab, "app2");
    assert!(!after.is_empty() && after != before, "sshd restarted");
    assert_eq!(recap(&r, "app2"), [7, 3, 0, 0, 1, 0, 1], "{r:?}");
}

#[test]
fn dnf_and_yum_fail_clearly_on_a_host_without_them() {
    let Some(lab) = lab() else { return };
    let p = project(
        r#"- hosts: app2
  gather_facts: false
  tasks:
    - yum: name="it's $x" state=present
      register: yum
      ignore_errors: true
    - ansible.builtin.dnf: name=foo state=latest use_backend=dnf
      register: dnf
      ignore_errors: true
    - package: name=foo state=present use=yum
      register: pkg
      ignore_errors: true
    - assert:
        that:
          - yum is failed and yum is not changed
          - yum.msg[0].startswith('Could not detect which major revision of dnf is in use')
          - dnf is failed
          - dnf.msg.startswith('Failed to find required executable "dnf"')
          - pkg is failed
          - pkg.msg[0].startswith('Could not detect which major revision of dnf is in use')
"#,
    );
    let inv = lab.inventory();
    let r = lab.hoist(
        p.path(),
        &["apply", "site.yml", "-i", inv.to_str().unwrap_or("")],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "app2")[..4], [4, 0, 0, 0], "{r:?}");
}

/// Stand-ins for `rpm` and `dnf` (the lab hosts are Debian, real dnf does
/// not run there): shell scripts keeping a package list in a state dir, so
/// the module's whole flow runs over SSH — queries, argv, results, check
/// mode, idempotency. They go to app2's own /usr/local/sbin (each lab host
/// has its own /usr overlay) and are removed at the end.
const FAKE_RPM: &str = r#"#!/bin/sh
S=/var/lib/hoist-t-fake-rpm
mode=
while [ $# -gt 0 ]; do
  case "$1" in
    -qa) mode=all ;;
    -q) mode=one ;;
    --qf|--root) shift ;;
    --whatprovides) ;;
    --) shift; break ;;
    *) break ;;
  esac
  shift
done
touch "$S/db"
case $mode in
  all) cat "$S/db" ;;
  one)
    rc=0
    for p in "$@"; do
      awk -F'\t' -v p="$p" '$1==p || $1"-"$3==p || $1"-"$3"-"$4==p {print; f=1} END {exit !f}' "$S/db" \
        || { echo "package $p is not installed"; rc=1; }
    done
    exit $rc ;;
esac
"#;

const FAKE_DNF: &str = r#"#!/bin/sh
S=/var/lib/hoist-t-fake-rpm
for a in "$@"; do printf '[%s]' "$a" >> "$S/log"; done; echo >> "$S/log"
while [ $# -gt 0 ]; do case "$1" in -*) shift ;; *) break ;; esac; done
verb=$1; shift; [ "$1" = "--" ] && shift
touch "$S/db"
pick() { awk -F'\t' -v p="$1" '$1==p || $1"-"$3==p {print; exit}' "$S/repo"; }
has() { awk -F'\t' -v n="$1" '$1==n {f=1} END {exit !f}' "$S/db"; }
put() {
  n=$(printf '%s' "$1" | cut -f1)
  awk -F'\t' -v n="$n" '$1!=n' "$S/db" > "$S/db.new"; printf '%s\n' "$1" >> "$S/db.new"; mv "$S/db.new" "$S/db"
}
case $verb in
  install|upgrade)
    if [ $# -eq 0 ]; then set -- $(cut -f1 "$S/db"); fi
    for p in "$@"; do
      line=$(pick "$p")
      [ -n "$line" ] || { echo "No match for argument: $p" >&2; exit 1; }
      if [ "$verb" = upgrade ] && ! has "$(printf '%s' "$line" | cut -f1)"; then continue; fi
      put "$line"
    done ;;
  remove)
    for p in "$@"; do
      awk -F'\t' -v p="$p" '$1!=p' "$S/db" > "$S/db.new"; mv "$S/db.new" "$S/db"
    done ;;
  check-update)
    if [ $# -eq 0 ]; then set -- $(cut -f1 "$S/db"); fi
    for p in "$@"; do
      have=$(awk -F'\t' -v p="$p" '$1==p {print; exit}' "$S/db")
      new=$(pick "$p")
      [ -n "$have" ] && [ -n "$new" ] && [ "$have" != "$new" ] && exit 100
    done
    exit 0 ;;
esac
exit 0
"#;

#[test]
fn dnf_flow_with_stand_in_rpm_and_dnf_is_idempotent() {
    let Some(lab) = lab() else { return };
    let setup = format!(
        "set -e; S=/var/lib/hoist-t-fake-rpm; rm -rf $S; mkdir -p $S; \
         printf 'hoist-t-a\\t0\\t1.0\\t1\\tnoarch\\nhoist-t-b\\t2\\t3.1\\t4.el9\\tx86_64\\n' > $S/repo; \
         : > $S/db; \
         cat > /usr/local/sbin/rpm <<'EOF1'\n{FAKE_RPM}EOF1\n\
         cat > /usr/local/sbin/dnf <<'EOF2'\n{FAKE_DNF}EOF2\n\
         chmod 755 /usr/local/sbin/rpm /usr/local/sbin/dnf"
    );
    let r = lab.ssh("app2", "root", &setup);
    assert_eq!(r.code, 0, "{r:?}");
    let p = project(
        r#"- hosts: app2
  gather_facts: false
  tasks:
    - dnf:
        name: [hoist-t-a, hoist-t-b]
        use_backend: dnf
        enablerepo: "local $repo's"
        install_weak_deps: false
      check_mode: true
      register: predicted
    - dnf:
        name: [hoist-t-a, hoist-t-b]
        use_backend: dnf
        enablerepo: "local $repo's"
        install_weak_deps: false
      register: installed
    - dnf: name=hoist-t-a,hoist-t-b use_backend=dnf
      register: again
    - shell: printf 'hoist-t-a\t0\t1.1\t1\tnoarch\n' >> /var/lib/hoist-t-fake-rpm/repo.new;
        grep -v '^hoist-t-a' /var/lib/hoist-t-fake-rpm/repo >> /var/lib/hoist-t-fake-rpm/repo.new;
        mv /var/lib/hoist-t-fake-rpm/repo.new /var/lib/hoist-t-fake-rpm/repo
    - dnf: name=hoist-t-a state=latest use_backend=dnf
      check_mode: true
      register: latest_predicted
    - dnf: name=hoist-t-a state=latest use_backend=dnf
      register: latest
    - dnf: name=hoist-t-a state=latest use_backend=dnf
      register: latest_again
    - dnf:
        name: ["hoist-t it's $pkg", hoist-t-b]
        state: absent
        use_backend: dnf
      register: removed
    - dnf: name="hoist-t-none $x" use_backend=dnf
      register: unknown
      ignore_errors: true
    - yum: name="@Some Group" use_backend=dnf
      register: group
      ignore_errors: true
    - assert:
        that:
          - predicted is changed
          - "predicted.msg == 'Check mode: No changes made, but would have if not in check mode'"
          - "predicted.results == ['Installed: hoist-t-a', 'Installed: hoist-t-b']"
          - installed is changed and installed.rc == 0 and installed.msg == ''
          - "installed.results == ['Installed: hoist-t-a-1.0-1.noarch', 'Installed: hoist-t-b-2:3.1-4.el9.x86_64']"
          - again is not changed and again.msg == 'Nothing to do' and again.results == []
          - latest_predicted is changed
          - latest is changed
          - "latest.results == ['Installed: hoist-t-a-1.1-1.noarch', 'Removed: hoist-t-a-1.0-1.noarch']"
          - latest_again is not changed
          - removed is changed
          - "removed.results == [\"No match for argument: hoist-t it's $pkg\", 'Removed: hoist-t-b-2:3.1-4.el9.x86_64']"
          - unknown is failed and unknown.rc == 1
          - unknown.msg == 'Failed to install some of the specified packages'
          - "'No match for argument: hoist-t-none $x' in unknown.failures[0]"
          - group is failed and 'groups' in group.msg
"#,
    );
    let inv = lab.inventory();
    let r = lab.hoist(
        p.path(),
        &["apply", "site.yml", "-i", inv.to_str().unwrap_or("")],
    );
    let log = lab.ssh("app2", "root", "cat /var/lib/hoist-t-fake-rpm/log");
    let clean = lab.ssh(
        "app2",
        "root",
        "rm -rf /var/lib/hoist-t-fake-rpm /usr/local/sbin/rpm /usr/local/sbin/dnf",
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "app2")[3], 0, "{r:?}");
    assert_eq!(clean.code, 0, "{clean:?}");
    // Every option is one argv word, whatever it holds.
    assert!(
        log.stdout.lines().next().unwrap_or("").starts_with(
            "[-y][--enablerepo=local $repo's][--setopt=install_weak_deps=False][install][--][hoist-t-a][hoist-t-b]"
        ),
        "{}",
        log.stdout
    );
}
