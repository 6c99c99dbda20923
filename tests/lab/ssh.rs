//! hoist over SSH through the lab's gateway, on real OpenSSH servers.

use std::path::Path;

use crate::common::{Lab, lab, lab_exclusive, recap};

/// A scratch directory with a playbook.
fn project(playbook: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("site.yml"), playbook).expect("write playbook");
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read fixture").flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy fixture");
        }
    }
}

/// A lab host's address, from the lab's ssh_config.
fn host_address(lab: &Lab, name: &str) -> String {
    let text = std::fs::read_to_string(lab.ssh_config()).expect("ssh_config");
    let mut current = false;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next().map(str::to_ascii_lowercase).as_deref() {
            Some("host") => current = words.any(|w| w == name),
            Some("hostname") if current => return words.next().unwrap_or_default().to_owned(),
            _ => {}
        }
    }
    panic!("{name} not in the lab's ssh_config")
}

/// Every file under `root` on `host`: path, type, mode and content digest.
fn remote_snapshot(lab: &Lab, host: &str, root: &str) -> String {
    let r = lab.ssh(
        host,
        "root",
        &format!(
            "cd {root} && find . -printf '%p %y %m %l\\n' | sort && find . -type f | sort | xargs -r sha1sum"
        ),
    );
    assert_eq!(r.code, 0, "{r:?}");
    r.stdout
}

#[test]
fn engine_modules_through_the_gateway_change_once_and_match_ansible() {
    let Some(lab) = lab() else { return };
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mixed"),
        dir.path(),
    );
    let inv = lab.inventory();
    let inv = inv.to_str().unwrap();
    let args = ["-i", inv, "-l", "web:app", "-e", "root=/srv/hoist-mixed"];

    let d = lab.hoist(dir.path(), &[&["diff", "site.yml"][..], &args].concat());
    assert_eq!(d.code, 2, "{d:?}");
    let first = lab.hoist(dir.path(), &[&["apply", "site.yml"][..], &args].concat());
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(recap(&first, "web1")[..5], [21, 16, 0, 0, 1], "{first:?}");
    let second = lab.hoist(dir.path(), &[&["apply", "site.yml"][..], &args].concat());
    assert_eq!(second.code, 0, "{second:?}");
    for host in ["web1", "web2", "app1", "app2"] {
        assert_eq!(recap(&second, host)[1], 0, "{host} unchanged: {second:?}");
    }
    let after = lab.hoist(dir.path(), &[&["diff", "site.yml"][..], &args].concat());
    assert_eq!(after.code, 0, "{after:?}");

    // ansible-playbook on an identical host leaves identical files.
    let have_ansible = std::process::Command::new("ansible-playbook")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_ansible {
        assert!(
            std::env::var_os("CI").is_none(),
            "ansible-playbook must be installed on CI"
        );
        return;
    }
    let mut cmd = std::process::Command::new("ansible-playbook");
    cmd.current_dir(dir.path())
        .args([
            "site.yml",
            "-i",
            inv,
            "-l",
            "db1",
            "-e",
            "root=/srv/hoist-mixed",
        ])
        .args(["-e", "ansible_python_interpreter=/usr/bin/python3"])
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_HOME", dir.path().join(".ansible-home"))
        .env("ANSIBLE_LOCAL_TEMP", dir.path().join(".ansible-tmp"));
    let a = crate::common::run(cmd);
    assert_eq!(a.code, 0, "{a:?}");
    assert_eq!(
        recap(&a, "db1"),
        recap(&first, "web1"),
        "same results per task"
    );
    assert_eq!(
        remote_snapshot(&lab, "db1", "/srv/hoist-mixed"),
        remote_snapshot(&lab, "web1", "/srv/hoist-mixed")
    );
}

#[test]
fn two_hop_chain_and_shell_metacharacters() {
    let Some(lab) = lab() else { return };
    let p = project(
        r#"- hosts: all
  gather_facts: false
  tasks:
    - copy:
        content: "through two hops\n"
        dest: "/tmp/chain dir; $(x) 'q' & |.txt"
    - command: cat "/tmp/chain dir; $(x) 'q' & |.txt"
      register: out
      changed_when: false
    - assert:
        that: out.stdout == 'through two hops'
"#,
    );
    let key = lab.key();
    let known = lab.dir.join("known_hosts");
    // cache1, reached through the gateway and then web1.
    let cache1_addr = host_address(&lab, "cache1");
    let inv = format!(
        "chained ansible_host={cache1_addr} ansible_user=root ansible_ssh_private_key_file={} \
         ansible_ssh_common_args='-F {} -J gateway,web1 -o UserKnownHostsFile={}'\n",
        key.display(),
        lab.ssh_config().display(),
        known.display()
    );
    std::fs::write(p.path().join("hosts"), inv).unwrap();
    let r = lab.hoist(p.path(), &["apply", "site.yml", "-i", "hosts"]);
    assert_eq!(r.code, 0, "{r:?}");
    let check = lab.ssh(
        "cache1",
        "root",
        "cat \"/tmp/chain dir; \\$(x) 'q' & |.txt\"",
    );
    assert_eq!(check.stdout, "through two hops\n", "{check:?}");
}

#[test]
fn changed_and_unknown_host_keys_are_refused_before_anything_is_sent() {
    let Some(lab) = lab() else { return };
    let p = project(
        "- hosts: web3\n  gather_facts: false\n  tasks:\n    - copy: content=x dest=/tmp/refused-key\n",
    );
    // A known_hosts where web3's address carries another host's key.
    let known = std::fs::read_to_string(lab.dir.join("known_hosts")).unwrap();
    let (web3, app3) = (host_address(&lab, "web3"), host_address(&lab, "app3"));
    let mut forged = String::new();
    let mut forged_line = 0;
    for line in known.lines() {
        let mut f = line.split_whitespace();
        let names = f.next().unwrap_or("");
        if names.split(',').any(|n| n == web3 || n == "web3") {
            continue;
        }
        forged.push_str(line);
        forged.push('\n');
        if names.split(',').any(|n| n == app3) && forged_line == 0 {
            let rest: Vec<&str> = f.collect();
            forged.push_str(&format!("{web3},web3 {}\n", rest.join(" ")));
            forged_line = forged.lines().count();
        }
    }
    let kh = p.path().join("known_hosts");
    std::fs::write(&kh, &forged).unwrap();
    let r = lab.hoist(
        p.path(),
        &[
            "apply",
            "site.yml",
            "-i",
            lab.inventory().to_str().unwrap(),
            "-e",
            &format!(
                "ansible_ssh_extra_args='-o UserKnownHostsFile={}'",
                kh.display()
            ),
        ],
    );
    assert_eq!(r.code, 4, "unreachable: {r:?}");
    assert!(r.stdout.contains("UNREACHABLE"), "{r:?}");
    assert!(r.stdout.contains("HAS CHANGED"), "{r:?}");
    assert!(
        r.stdout
            .contains(&format!("{}:{forged_line}", kh.display())),
        "the stored key's file:line: {r:?}"
    );
    assert_eq!(recap(&r, "web3")[2], 1);
    let untouched = lab.ssh(
        "web3",
        "root",
        "test ! -e /tmp/refused-key && echo untouched",
    );
    assert_eq!(untouched.stdout, "untouched\n", "{untouched:?}");

    // Unknown: a known_hosts without web3 at all.
    let without: String = known
        .lines()
        .filter(|l| {
            !l.split_whitespace()
                .next()
                .unwrap_or("")
                .split(',')
                .any(|n| n == web3 || n == "web3")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&kh, without).unwrap();
    let r = lab.hoist(
        p.path(),
        &[
            "apply",
            "site.yml",
            "-i",
            lab.inventory().to_str().unwrap(),
            "-e",
            &format!(
                "ansible_ssh_extra_args='-o UserKnownHostsFile={}'",
                kh.display()
            ),
        ],
    );
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stdout.contains("is not known"), "{r:?}");
}

#[test]
fn accept_new_records_every_host_once_when_many_connect_at_once() {
    let Some(lab) = lab() else { return };
    let p = project(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: hostname\n      changed_when: false\n",
    );
    let kh = p.path().join("fresh_known_hosts");
    let r = lab.hoist(
        p.path(),
        &[
            "apply",
            "site.yml",
            "-f",
            "50",
            "-i",
            lab.inventory().to_str().unwrap(),
            "--host-key-checking",
            "accept-new",
            "-e",
            &format!(
                "ansible_ssh_extra_args='-o UserKnownHostsFile={}'",
                kh.display()
            ),
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let text = std::fs::read_to_string(&kh).unwrap();
    let mut names: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    let total = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), total, "each host recorded once: {text}");
    let hosts = r.stdout.lines().filter(|l| l.contains(" : ok=")).count();
    assert_eq!(total, hosts, "one line per host: {text}");
    // A second run with the same file is strict-clean.
    let again = lab.hoist(
        p.path(),
        &[
            "apply",
            "site.yml",
            "-i",
            lab.inventory().to_str().unwrap(),
            "-e",
            &format!(
                "ansible_ssh_extra_args='-o UserKnownHostsFile={}'",
                kh.display()
            ),
        ],
    );
    assert_eq!(again.code, 0, "{again:?}");
}

#[test]
fn wrong_user_and_bad_key_are_unreachable_with_a_reason() {
    let Some(lab) = lab() else { return };
    let p = project("- hosts: web1\n  gather_facts: false\n  tasks:\n    - command: hostname\n");
    let inv = lab.inventory();
    let r = lab.hoist(
        p.path(),
        &[
            "apply",
            "site.yml",
            "-i",
            inv.to_str().unwrap(),
            "-e",
            "ansible_user=nosuchuser",
        ],
    );
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stdout.contains("Permission denied"), "{r:?}");
    // The lab's ssh_config names the lab key for every host (OpenSSH would
    // offer it too), so use a copy without IdentityFile lines.
    let stripped: String = std::fs::read_to_string(lab.ssh_config())
        .unwrap()
        .lines()
        .filter(|l| {
            !l.trim_start()
                .to_ascii_lowercase()
                .starts_with("identityfile")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let cfg = p.path().join("ssh_config");
    std::fs::write(&cfg, stripped).unwrap();
    let other = p.path().join("other_key");
    let k = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(k.success());
    let r = lab.hoist(
        p.path(),
        &[
            "apply",
            "site.yml",
            "-i",
            inv.to_str().unwrap(),
            "-e",
            &format!("ansible_ssh_private_key_file={}", other.display()),
            "-e",
            &format!("ansible_ssh_common_args='-F {}'", cfg.display()),
        ],
    );
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stdout.contains("Permission denied"), "{r:?}");
}

#[test]
fn become_with_and_without_a_password() {
    let Some(lab) = lab() else { return };
    let p = project(
        r#"- hosts: app1
  gather_facts: false
  become: true
  tasks:
    - command: id -un
      register: who
      changed_when: false
    - assert:
        that: who.stdout == 'root'
    - copy:
        content: "written as root by {{ ansible_user }}\n"
        dest: /root/become-{{ ansible_user }}.txt
        mode: "0600"
    - command: id -un
      become_user: deploy
      register: who2
      changed_when: false
    - assert:
        that: who2.stdout == 'deploy'
"#,
    );
    let inv = lab.inventory();
    let inv = inv.to_str().unwrap();
    let r = lab.hoist(
        p.path(),
        &["apply", "site.yml", "-i", inv, "-e", "ansible_user=deploy"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = lab.hoist(
        p.path(),
        &[
            "apply",
            "site.yml",
            "-i",
            inv,
            "-e",
            "ansible_user=deploypw",
            "-e",
            "ansible_become_password=hoist-lab",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let check = lab.ssh("app1", "root", "stat -c '%U %a' /root/become-deploypw.txt");
    assert_eq!(check.stdout, "root 600\n", "{check:?}");
    let r = lab.hoist(
        p.path(),
        &[
            "apply",
            "site.yml",
            "-i",
            inv,
            "-e",
            "ansible_user=deploypw",
            "-e",
            "ansible_become_password=wrong",
        ],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("Incorrect sudo password"), "{r:?}");
    let r = lab.hoist(
        p.path(),
        &[
            "apply",
            "site.yml",
            "-i",
            inv,
            "-e",
            "ansible_user=deploypw",
        ],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("Missing sudo password"), "{r:?}");
}

#[test]
fn a_cut_host_and_a_stopped_sshd_are_unreachable_while_others_finish() {
    let Some(lab) = lab_exclusive() else { return };
    let p = project(
        r#"- hosts: db
  gather_facts: false
  tasks:
    - command: "true"
    - command: sleep 4
    - copy: content=done dest=/tmp/after-cut
"#,
    );
    let inv = lab.inventory();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
        .current_dir(p.path())
        .args(["apply", "site.yml", "-i", inv.to_str().unwrap(), "-T", "5"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let start = std::time::Instant::now();
    assert_eq!(lab.lab_cmd(&["cut", "db2"]).code, 0);
    assert_eq!(lab.lab_cmd(&["stop", "db3"]).code, 0);
    let out = child.wait_with_output().unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(lab.lab_cmd(&["heal", "db2"]).code, 0);
    assert_eq!(lab.lab_cmd(&["start", "db3"]).code, 0);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let r = crate::common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        secs: elapsed,
    };
    assert!(elapsed < 40.0, "ended within the timeout: {r:?}");
    assert_eq!(recap(&r, "db1")[..4], [3, 3, 0, 0], "{r:?}");
    assert_eq!(recap(&r, "db2")[2], 1, "cut host unreachable: {r:?}");
    let db3 = recap(&r, "db3");
    assert!(db3[2] == 1 || db3[3] == 1, "stopped sshd: {r:?}");
}

#[test]
fn losing_the_gateway_makes_its_hosts_unreachable_not_hung() {
    let Some(lab) = lab_exclusive() else { return };
    let p = project(
        r#"- hosts: web
  gather_facts: false
  tasks:
    - command: "true"
    - command: sleep 4
    - command: "true"
"#,
    );
    let inv = lab.inventory();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
        .current_dir(p.path())
        .args(["apply", "site.yml", "-i", inv.to_str().unwrap(), "-T", "4"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let start = std::time::Instant::now();
    assert_eq!(lab.lab_cmd(&["cut", "gateway"]).code, 0);
    let out = child.wait_with_output().unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(lab.lab_cmd(&["heal", "gateway"]).code, 0);
    let r = crate::common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        secs: elapsed,
    };
    assert!(elapsed < 40.0, "ended within the timeout: {r:?}");
    assert_eq!(r.code, 4, "{r:?}");
    for host in ["web1", "web2", "web3"] {
        assert_eq!(recap(&r, host)[2], 1, "{host} unreachable: {r:?}");
    }
}

#[test]
fn a_task_timeout_fails_the_task_and_the_connection_goes_on() {
    let Some(lab) = lab() else { return };
    let p = project(
        r#"- hosts: app2
  gather_facts: false
  tasks:
    - command: sleep 60
      timeout: 2
      ignore_errors: true
    - command: echo still here
      register: after
    - assert:
        that: after.stdout == 'still here'
"#,
    );
    let r = lab.hoist(
        p.path(),
        &["apply", "site.yml", "-i", lab.inventory().to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("failed to execute in the expected time frame (2)"),
        "{r:?}"
    );
    assert!(r.secs < 30.0, "{r:?}");
}

/// Roles, blocks, includes, facts and delegation over SSH, as locally.
#[test]
fn playbook_language_over_ssh() {
    let Some(lab) = lab() else { return };
    let p = project(
        r#"- hosts: web
  become: false
  pre_tasks:
    - assert:
        that:
          - ansible_facts.os_family == ansible_os_family
          - ansible_hostname == inventory_hostname
  roles:
    - role: site
      site_port: 8081
  tasks:
    - block:
        - command: /bin/false
      rescue:
        - copy:
            content: "rescued on {{ inventory_hostname }}\n"
            dest: /srv/lang/rescued
    - include_tasks: extra.yml
      loop: [one, two]
    - copy:
        content: "{{ inventory_hostname }}\n"
        dest: "{{ lab_out }}/delegated-{{ inventory_hostname }}"
      delegate_to: localhost
"#,
    );
    std::fs::create_dir_all(p.path().join("roles/site/tasks")).unwrap();
    std::fs::create_dir_all(p.path().join("roles/site/defaults")).unwrap();
    std::fs::write(
        p.path().join("roles/site/defaults/main.yml"),
        "site_port: 80\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("roles/site/tasks/main.yml"),
        "- file: path=/srv/lang state=directory\n- copy: content=\"port {{ site_port }}\\n\" dest=/srv/lang/port\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("extra.yml"),
        "- copy: content=\"{{ item }}\\n\" dest=/srv/lang/{{ item }}\n",
    )
    .unwrap();
    let out = p.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let inv = lab.inventory();
    let args = ["apply", "site.yml", "-i", inv.to_str().unwrap(), "-e"];
    let lab_out = format!("lab_out={}", out.display());
    let r = lab.hoist(p.path(), &[&args[..], &[lab_out.as_str()]].concat());
    assert_eq!(r.code, 0, "{r:?}");
    for h in ["web1", "web2", "web3"] {
        let [ok, _, _, failed, _, rescued, _] = recap(&r, h);
        assert_eq!((failed, rescued), (0, 1), "{h}: {r:?}");
        assert!(ok >= 8, "{h}: {r:?}");
        let files = lab.ssh(
            h,
            "root",
            "cat /srv/lang/port /srv/lang/rescued /srv/lang/one /srv/lang/two",
        );
        assert_eq!(
            files.stdout,
            format!("port 8081\nrescued on {h}\none\ntwo\n"),
            "{files:?}"
        );
        assert_eq!(
            std::fs::read_to_string(out.join(format!("delegated-{h}"))).unwrap(),
            format!("{h}\n")
        );
    }
    let again = lab.hoist(p.path(), &[&args[..], &[lab_out.as_str()]].concat());
    for h in ["web1", "web2", "web3"] {
        // A failed (then rescued) command is not counted as a change.
        assert_eq!(recap(&again, h)[1], 0, "{h}: {again:?}");
    }
}

/// hoist's own short scripts (stats, reads, small changes) run in one
/// shell kept open per host. When that shell dies under it (killed on the
/// host), the next script runs in an exec channel instead, with the same
/// answer, and a new kept shell takes over after that.
#[test]
fn a_killed_kept_shell_is_replaced_without_a_failed_task() {
    let Some(lab) = lab() else { return };
    let p = project(
        r#"- hosts: cache2
  gather_facts: false
  tasks:
    - copy:
        content: "kept\n"
        dest: /tmp/hoist-kept-shell.txt
    - stat:
        path: /tmp/hoist-kept-shell.txt
      register: before
    - name: Kill this host's kept shell (the command has an exec channel of its own)
      shell: |
        me=$(readlink /proc/self/ns/net)
        n=0
        for d in /proc/[0-9]*; do
          [ "$(readlink $d/ns/net 2>/dev/null)" = "$me" ] || continue
          [ "$(tr '\0' ' ' < $d/cmdline 2>/dev/null)" = "/bin/sh " ] || continue
          kill -9 "${d#/proc/}" && n=$((n+1))
        done
        echo $n
      register: killed
    - stat:
        path: /tmp/hoist-kept-shell.txt
      register: after
    - lineinfile:
        path: /tmp/hoist-kept-shell.txt
        line: second
    - slurp:
        path: /tmp/hoist-kept-shell.txt
      register: content
    - assert:
        that:
          - killed.stdout | int >= 1
          - after.stat.exists
          - before.stat.checksum == after.stat.checksum
          - content.content | b64decode == "kept\nsecond\n"
    - file:
        path: /tmp/hoist-kept-shell.txt
        state: absent
"#,
    );
    let r = lab.hoist(
        p.path(),
        &[
            "apply",
            "site.yml",
            "-i",
            lab.inventory().to_str().unwrap(),
            "-vvvv",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("SSH: kept shell opened on"), "{r:?}");
    assert!(
        r.stdout.contains("failed (") && r.stdout.contains("; exec channel"),
        "the dead shell was noticed: {r:?}"
    );
    assert_eq!(
        r.stdout.matches("SSH: kept shell opened on").count(),
        2,
        "a new kept shell after the dead one: {r:?}"
    );
}
