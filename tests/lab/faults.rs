//! Faults on real hosts: a full filesystem under a write, Ctrl-C in the
//! middle of large copies (once, and twice). The link, sshd, gateway, host
//! key and authentication faults are in `ssh.rs`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{Lab, Run, lab_exclusive, project, recap};

/// Runs `sh -c script` inside a lab host's namespaces, as root.
fn on_host(lab: &Lab, host: &str, script: &str) -> Run {
    let dir = lab.dir.to_str().expect("utf-8 lab dir");
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.args(["lab", "--dir", dir, "exec", host, "sh", "-c", script]);
    crate::common::run(c)
}

/// A project holding `playbook` and a copy of the lab's inventory, so the
/// pending-handler journal (kept beside the inventory) is the test's own.
fn own_project(lab: &Lab, playbook: &str) -> tempfile::TempDir {
    let p = project(playbook);
    std::fs::copy(lab.inventory(), p.path().join("inventory.ini")).expect("copy inventory");
    p
}

/// The lab's hosts as `hoist lab` records them (lab.json): name, netns,
/// veths …
fn lab_hosts(lab: &Lab) -> Vec<serde_json::Value> {
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.dir.join("lab.json")).expect("lab.json"))
            .expect("lab.json is JSON");
    match state["hosts"].take() {
        serde_json::Value::Array(hosts) => hosts,
        other => panic!("lab.json: hosts is not a list: {other}"),
    }
}

/// How many processes run in the hosts' network namespaces (sshd
/// listeners, holders, and whatever hoist's sessions left behind).
fn processes_on(lab: &Lab, hosts: &[&str]) -> usize {
    let mut n = 0;
    for h in lab_hosts(lab) {
        if !hosts.contains(&h["name"].as_str().unwrap_or_default()) {
            continue;
        }
        let ns = h["netns"].as_str().expect("netns");
        let out = Command::new("ip")
            .args(["netns", "pids", ns])
            .output()
            .expect("ip netns pids");
        n += String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .count();
    }
    n
}

/// Waits (up to 10 s) for the hosts' process count to come back to
/// `baseline`; returns the last count.
fn settles_to(lab: &Lab, hosts: &[&str], baseline: usize) -> usize {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let n = processes_on(lab, hosts);
        if n == baseline || Instant::now() > end {
            return n;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sha1_of(path: &Path) -> String {
    let out = Command::new("sha1sum").arg(path).output().expect("sha1sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_full_filesystem_fails_the_write_and_keeps_the_old_file() {
    let Some(lab) = lab_exclusive() else { return };
    // A 64 KiB tmpfs over the destination directory, nearly full.
    let setup = on_host(
        &lab,
        "db1",
        "set -e; mkdir -p /srv/full; mountpoint -q /srv/full || mount -t tmpfs -o size=64k tmpfs /srv/full; \
         rm -rf /srv/full/* /srv/full/.[!.]*; echo old-big > /srv/full/big; echo old-small > /srv/full/small; \
         head -c 50000 /dev/zero > /srv/full/filler",
    );
    assert_eq!(setup.code, 0, "{setup:?}");
    let p = own_project(
        &lab,
        r#"- hosts: db1
  gather_facts: false
  tasks:
    - name: big (over SFTP)
      copy: src=big.bin dest=/srv/full/big
      ignore_errors: true
    - name: small (piped)
      copy: content="{{ 'x' * 30000 }}" dest=/srv/full/small
      ignore_errors: true
    - name: template
      template: src=site.yml dest=/srv/full/small
"#,
    );
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(p.path().join("big.bin"), big).expect("big.bin");
    let r = lab.hoist(p.path(), &["apply", "site.yml", "-i", "inventory.ini"]);
    let after = on_host(
        &lab,
        "db1",
        "cat /srv/full/big /srv/full/small; ls -A /srv/full; umount /srv/full; rmdir /srv/full",
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(recap(&r, "db1")[..4], [2, 0, 0, 1], "{r:?}");
    // Each task says which file and why (in its error and its result).
    for f in ["big", "small"] {
        let why = format!("cannot write /srv/full/{f}: cat: write error: No space left on device");
        assert!(r.stdout.contains(&why), "{why}: {r:?}");
    }
    assert_eq!(
        r.stdout.matches("No space left on device").count(),
        6,
        "{r:?}"
    );
    assert!(!r.stdout.contains("panicked"), "{r:?}");
    assert_eq!(
        after.stdout, "old-big\nold-small\nbig\nfiller\nsmall\n",
        "the old files are intact and no temporary file is left: {after:?}"
    );
}

/// A run of `site.yml` whose output is read as it comes; `interrupt` is
/// called (with the child's pid) once a line containing `when` appears.
fn apply_interrupted(dir: &Path, when: &str, interrupt: impl FnOnce(u32)) -> (Run, Instant) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .current_dir(dir)
        .args(["apply", "site.yml", "-i", "inventory.ini", "-f", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hoist");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let started = Instant::now();
    let mut seen = false;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        if line.contains(when) {
            seen = true;
            break;
        }
    }
    assert!(seen, "the run never reached {when:?}");
    interrupt(child.id());
    let signalled = Instant::now();
    // Bounded: a hung run fails the test instead of hanging it.
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("hoist did not end after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let ended = Instant::now();
    let stdout = reader.join().expect("reader");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
        secs: (ended - signalled).as_secs_f64(),
    };
    (run, ended)
}

/// Waits (up to 60 s) until some host has a temporary file of the large
/// copy: a write is under way.
fn until_a_copy_is_under_way(lab: &Lab) {
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        for h in COPY_HOSTS {
            if on_host(lab, h, "ls -A /srv | grep -q '^\\.huge\\.hoist-'").code == 0 {
                return;
            }
        }
    }
    panic!("no copy began within 60 s");
}

fn sigint(pid: u32) {
    let ok = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -INT {pid}");
}

const COPY_HOSTS: [&str; 6] = ["web1", "web2", "web3", "app1", "app2", "app3"];

const COPY_PLAY: &str = r#"- hosts: web:app
  gather_facts: false
  tasks:
    - command: "true"
      notify: restart
    - name: large copy
      copy: src=huge.bin dest=/srv/huge
    - command: touch /srv/after
  handlers:
    - name: restart
      command: touch /srv/handled
"#;

/// Sets up the hosts (an old /srv/huge) and the project for the copy play.
fn copy_project(lab: &Lab) -> (tempfile::TempDir, String) {
    for h in COPY_HOSTS {
        let r = on_host(
            lab,
            h,
            "rm -f /srv/after /srv/handled /srv/.huge.hoist-*; echo old > /srv/huge",
        );
        assert_eq!(r.code, 0, "{r:?}");
    }
    let p = own_project(lab, COPY_PLAY);
    // 16 MB that does not compress: a couple of seconds per host here.
    let mut data = Vec::with_capacity(16_000_000);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while data.len() < 16_000_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    let path = p.path().join("huge.bin");
    std::fs::write(&path, &data).expect("huge.bin");
    let sum = sha1_of(&path);
    (p, sum)
}

/// Per host: the sha1 of /srv/huge ("old\n" has its own), and the other
/// files the play would leave in /srv.
fn host_state(lab: &Lab, host: &str) -> (String, String) {
    let r = on_host(
        lab,
        host,
        "sha1sum /srv/huge | cut -d' ' -f1; ls -A /srv | grep -E '^(after|handled|\\.huge)' || true",
    );
    let mut lines = r.stdout.lines();
    let sum = lines.next().unwrap_or_default().to_string();
    let rest: Vec<&str> = lines.collect();
    (sum, rest.join(" "))
}

fn old_sha1() -> String {
    let out = Command::new("sh")
        .args(["-c", "echo old | sha1sum | cut -d' ' -f1"])
        .output()
        .expect("sha1sum");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The copy play, sent `signals` SIGINTs 0.2 s apart once a copy is under
/// way on some host.
struct Interrupted {
    project: tempfile::TempDir,
    run: Run,
    old_sum: String,
    new_sum: String,
    /// The hosts' process count before the run.
    at_rest: usize,
}

fn interrupt_copies(lab: &Lab, signals: usize) -> Interrupted {
    let (project, new_sum) = copy_project(lab);
    let at_rest = processes_on(lab, &COPY_HOSTS);
    let (run, _) = apply_interrupted(project.path(), "TASK [large copy]", |pid| {
        until_a_copy_is_under_way(lab);
        for i in 0..signals {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(200));
            }
            sigint(pid);
        }
    });
    Interrupted {
        project,
        run,
        old_sum: old_sha1(),
        new_sum,
        at_rest,
    }
}

#[test]
fn ctrl_c_lets_running_writes_finish_journals_handlers_and_exits_99() {
    let Some(lab) = lab_exclusive() else { return };
    let Interrupted {
        project: p,
        run: r,
        old_sum,
        new_sum,
        at_rest,
    } = interrupt_copies(&lab, 1);
    assert_eq!(r.code, 99, "{r:?}");
    assert!(r.stderr.contains("User interrupted execution"), "{r:?}");
    assert!(
        r.stderr.contains("file writes already under way")
            || r.stderr.contains("file write already under way"),
        "copies were under way: {r:?}"
    );
    // Every destination is the old file or the whole new one; no temporary
    // file is left; nothing after the interrupted task started.
    let mut new_ones = 0;
    for h in COPY_HOSTS {
        let (sum, rest) = host_state(&lab, h);
        assert!(
            sum == old_sum || sum == new_sum,
            "{h}: /srv/huge is neither the old nor the new file ({sum}): {r:?}"
        );
        new_ones += usize::from(sum == new_sum);
        assert_eq!(rest, "", "{h}: leftovers or later tasks: {r:?}");
    }
    assert!(new_ones >= 1, "the writes under way were finished: {r:?}");
    assert_eq!(
        settles_to(&lab, &COPY_HOSTS, at_rest),
        at_rest,
        "nothing hoist started is left running on the hosts: {r:?}"
    );
    // The handler notified before the interrupt is journaled for every host.
    let journal = std::fs::read_to_string(p.path().join(".hoist/pending-handlers.json"))
        .expect("journal written");
    for h in COPY_HOSTS {
        assert!(journal.contains(&format!("\"{h}\"")), "{h}: {journal}");
    }
    assert!(r.stdout.contains("PENDING HANDLERS"), "{r:?}");
    // The next apply runs them first, and finishes the copies.
    let again = crate::common::run({
        let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
        c.current_dir(p.path())
            .args(["apply", "site.yml", "-i", "inventory.ini", "-f", "10"]);
        c
    });
    assert_eq!(again.code, 0, "{again:?}");
    for h in COPY_HOSTS {
        let (sum, rest) = host_state(&lab, h);
        assert_eq!(sum, new_sum, "{h}: {again:?}");
        assert_eq!(rest, "after handled", "{h}: {again:?}");
    }
}

#[test]
fn a_second_ctrl_c_stops_at_once() {
    let Some(lab) = lab_exclusive() else { return };
    let Interrupted {
        project: _p,
        run: r,
        old_sum,
        new_sum,
        at_rest,
    } = interrupt_copies(&lab, 2);
    assert_eq!(r.code, 99, "{r:?}");
    assert!(r.stderr.contains("stopped at once"), "{r:?}");
    // 0.2 s between the two, and the second is obeyed at once.
    assert!(r.secs < 2.0, "{r:?}");
    for h in COPY_HOSTS {
        let (sum, _) = host_state(&lab, h);
        assert!(
            sum == old_sum || sum == new_sum,
            "{h}: a rename is all or nothing ({sum}): {r:?}"
        );
        on_host(&lab, h, "rm -f /srv/.huge.hoist-* /srv/huge");
    }
    assert_eq!(
        settles_to(&lab, &COPY_HOSTS, at_rest),
        at_rest,
        "nothing hoist started is left running on the hosts: {r:?}"
    );
}

/// Puts a host's saved sshd keys back and restarts its sshd, whatever the
/// test's outcome.
struct RestoreKeys<'a> {
    lab: &'a Lab,
    host: &'static str,
    saved: tempfile::TempDir,
}

impl Drop for RestoreKeys<'_> {
    fn drop(&mut self) {
        let hd = self.lab.dir.join("hosts").join(self.host);
        for e in std::fs::read_dir(self.saved.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::copy(e.path(), hd.join(e.file_name()));
        }
        self.lab.lab_cmd(&["stop", self.host]);
        self.lab.lab_cmd(&["start", self.host]);
    }
}

#[test]
fn a_changed_host_key_and_a_refused_login_fail_only_their_hosts() {
    let Some(lab) = lab_exclusive() else { return };
    let p = own_project(
        &lab,
        "- hosts: db\n  gather_facts: false\n  tasks:\n    - copy: content={{ stamp }} dest=/tmp/fault-stamp\n",
    );
    let apply = |stamp: &str| {
        lab.hoist(
            p.path(),
            &[
                "apply",
                "site.yml",
                "-i",
                "inventory.ini",
                "-e",
                &format!("stamp={stamp}"),
            ],
        )
    };
    let first = apply("one");
    assert_eq!(first.code, 0, "{first:?}");

    // Between runs: db2 gets new host keys (as a reinstalled or a
    // different machine would), and db3 refuses the login.
    let hd = lab.dir.join("hosts").join("db2");
    let saved = tempfile::tempdir().expect("tempdir");
    let _restore = RestoreKeys {
        lab: &lab,
        host: "db2",
        saved,
    };
    for t in ["ed25519", "ecdsa", "rsa"] {
        let key = hd.join(format!("ssh_host_{t}_key"));
        for f in [key.clone(), key.with_extension("pub")] {
            std::fs::copy(&f, _restore.saved.path().join(f.file_name().expect("name")))
                .expect("save key");
            std::fs::remove_file(&f).expect("remove key");
        }
        let made = Command::new("ssh-keygen")
            .args(["-q", "-N", "", "-t", t, "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen");
        assert!(made.success());
    }
    assert_eq!(lab.lab_cmd(&["stop", "db2"]).code, 0);
    assert_eq!(lab.lab_cmd(&["start", "db2"]).code, 0);
    std::fs::create_dir_all(p.path().join("host_vars")).expect("host_vars");
    std::fs::write(
        p.path().join("host_vars/db3.yml"),
        "ansible_user: nosuchuser\n",
    )
    .expect("host_vars");

    let second = apply("two");
    assert_eq!(second.code, 4, "{second:?}");
    assert_eq!(recap(&second, "db1")[..4], [1, 1, 0, 0], "{second:?}");
    assert_eq!(recap(&second, "db2")[2], 1, "{second:?}");
    assert_eq!(recap(&second, "db3")[2], 1, "{second:?}");
    assert!(second.stdout.contains("HAS CHANGED"), "{second:?}");
    assert!(second.stdout.contains("Permission denied"), "{second:?}");
    for (h, want) in [("db1", "two"), ("db2", "one"), ("db3", "one")] {
        let r = on_host(&lab, h, "cat /tmp/fault-stamp");
        assert_eq!(r.stdout, want, "{h}: {second:?}");
    }
}

/// Slows what reaches a host to 8 Mbit/s (a token bucket on the switch's
/// end of its link) until dropped.
struct SlowLink {
    netns: String,
    dev: String,
}

impl SlowLink {
    fn new(lab: &Lab, host: &str) -> SlowLink {
        let h = lab_hosts(lab)
            .into_iter()
            .find(|h| h["name"] == host)
            .expect("host in lab.json");
        let veth = &h["veths"][0];
        let slow = SlowLink {
            netns: veth["outer_netns"]
                .as_str()
                .expect("outer netns")
                .to_owned(),
            dev: veth["outer"].as_str().expect("outer dev").to_owned(),
        };
        let ok = Command::new("ip")
            .args([
                "netns",
                "exec",
                &slow.netns,
                "tc",
                "qdisc",
                "replace",
                "dev",
                &slow.dev,
            ])
            .args([
                "root", "tbf", "rate", "8mbit", "burst", "32kbit", "latency", "400ms",
            ])
            .status()
            .expect("tc")
            .success();
        assert!(ok, "tc qdisc on {}", slow.dev);
        slow
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.netns,
                "tc",
                "qdisc",
                "del",
                "dev",
                &self.dev,
                "root",
            ])
            .status();
    }
}

#[test]
fn a_copy_cut_by_its_timeout_leaves_the_old_file_and_no_temporary_file() {
    let Some(lab) = lab_exclusive() else { return };
    let r = on_host(&lab, "db2", "rm -f /srv/.big.hoist-*; echo old > /srv/big");
    assert_eq!(r.code, 0, "{r:?}");
    let p = own_project(
        &lab,
        r#"- hosts: db2
  gather_facts: false
  tasks:
    - copy: src=big.bin dest=/srv/big
      timeout: 2
      ignore_errors: true
    - command: "true"
"#,
    );
    // 4 MB at 8 Mbit/s: about four seconds, cut at two, mid-upload.
    let data: Vec<u8> = (0..4_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(p.path().join("big.bin"), data).expect("big.bin");
    let r = {
        let _slow = SlowLink::new(&lab, "db2");
        lab.hoist(
            p.path(),
            &["apply", "site.yml", "-i", "inventory.ini", "-vvvv"],
        )
    };
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("failed to execute in the expected time frame (2)"),
        "{r:?}"
    );
    assert!(
        !r.stdout.contains("SFTP: PUT"),
        "the upload was cut, not finished: {r:?}"
    );
    let end = Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left = on_host(
            &lab,
            "db2",
            "cat /srv/big; ls -A /srv | grep '^\\.big' || true",
        );
        if left.stdout == "old\n" || Instant::now() > end {
            break left;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(left.stdout, "old\n", "old file, no temporary file: {r:?}");
    on_host(&lab, "db2", "rm -f /srv/big");
}
