//! The file-oriented system modules over SSH on real hosts: cron (user
//! crontabs through `crontab`, cron files), replace, ini_file, find, slurp
//! and fetch. Each playbook runs twice (the second run changes nothing) and,
//! where ansible-core has the module, once with ansible-playbook on another
//! host, whose resulting files must be identical.

use std::path::Path;

use crate::common::{Lab, Run, lab, project, recap};

/// ansible-playbook on `host`, or `None` where it is not installed.
fn ansible_on(lab: &Lab, dir: &Path, host: &str) -> Option<Run> {
    let have = std::process::Command::new("ansible-playbook")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "ansible-playbook must be installed on CI"
        );
        return None;
    }
    let mut cmd = std::process::Command::new("ansible-playbook");
    cmd.current_dir(dir)
        .args(["site.yml", "-i"])
        .arg(lab.inventory())
        .args(["-l", host])
        .args(["-e", "ansible_python_interpreter=/usr/bin/python3"])
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_HOME", dir.join(".ansible-home"))
        .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible-tmp"));
    Some(crate::common::run(cmd))
}

const CRON_PLAY: &str = r#"- hosts: all
  gather_facts: false
  vars:
    cf: /etc/cron.d/hoist-t-cron-file
  tasks:
    - cron: {name: "hoist-t-cron nightly $x 'q\"", minute: "0", hour: "1", job: "/bin/echo 'a $HOME'"}
    - cron: {name: hoist-t-cron-reboot, special_time: reboot, job: /bin/true, disabled: true}
    - cron: {name: HOIST_T_CRON_VAR, env: true, job: "a b"}
    - cron: {name: hoist-t-cron-gone, job: /bin/false}
      when: false
    - cron: {name: hoist-t-cron-gone, state: absent}
    - cron: {name: hoist-t-cron-file, cron_file: "{{ cf }}", user: root, minute: "*/5", job: "run it"}
    - cron: {name: hoist-t-cron-deploy, user: deploy, job: /bin/date}
    # The login user's own crontab (no -u).
    - cron: {name: hoist-t-cron-self, job: /bin/id}
      vars: {ansible_user: deploy}
"#;

#[test]
fn cron_jobs_in_user_crontabs_and_cron_files_match_ansible() {
    let Some(lab) = lab() else { return };
    let p = project(CRON_PLAY);
    let cleanup = "crontab -r 2>/dev/null; crontab -r -u deploy 2>/dev/null; rm -f /etc/cron.d/hoist-t-cron-file; \
                   printf '0 3 * * * /bin/echo \"a $HOME\"\\n0 1 * * * /bin/echo '\"'\"'a $HOME'\"'\"'\\n' | crontab -";
    for host in ["cache2", "cache3"] {
        let r = lab.ssh(host, "root", cleanup);
        assert_eq!(r.code, 0, "{r:?}");
    }
    let check = lab.apply_on(p.path(), "cache2", &["--check", "--diff"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check
            .stdout
            .contains("+#Ansible: hoist-t-cron nightly $x 'q\""),
        "{check:?}"
    );
    let first = lab.apply_on(p.path(), "cache2", &[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(recap(&first, "cache2")[..5], [7, 6, 0, 0, 1], "{first:?}");
    let second = lab.apply_on(p.path(), "cache2", &[]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(recap(&second, "cache2")[1], 0, "{second:?}");

    let state = |host: &str| {
        let r = lab.ssh(
            host,
            "root",
            "crontab -l; echo ---; crontab -l -u deploy; echo ---; cat /etc/cron.d/hoist-t-cron-file; stat -c %a /etc/cron.d/hoist-t-cron-file",
        );
        assert_eq!(r.code, 0, "{r:?}");
        r.stdout
    };
    let ours = state("cache2");
    // The existing identical line is adopted under the job's name.
    assert!(
        ours.starts_with(
            "HOIST_T_CRON_VAR=\"a b\"\n0 3 * * * /bin/echo \"a $HOME\"\n#Ansible: hoist-t-cron nightly $x 'q\"\n0 1 * * * /bin/echo 'a $HOME'\n#Ansible: hoist-t-cron-reboot\n#@reboot /bin/true\n---\n"
        ),
        "{ours}"
    );
    assert!(
        ours.contains("---\n#Ansible: hoist-t-cron-deploy\n* * * * * /bin/date\n#Ansible: hoist-t-cron-self\n* * * * * /bin/id\n---\n"),
        "{ours}"
    );
    assert!(
        ours.ends_with("#Ansible: hoist-t-cron-file\n*/5 * * * * root run it\n644\n"),
        "{ours}"
    );
    if let Some(a) = ansible_on(&lab, p.path(), "cache3") {
        assert_eq!(a.code, 0, "{a:?}");
        assert_eq!(recap(&a, "cache3"), recap(&first, "cache2"), "{a:?}");
        assert_eq!(state("cache3"), ours);
    }
    for host in ["cache2", "cache3"] {
        lab.ssh(
            host,
            "root",
            "crontab -r; crontab -r -u deploy; rm -f /etc/cron.d/hoist-t-cron-file",
        );
    }
}

const FILES_PLAY: &str = r#"- hosts: all
  gather_facts: false
  vars:
    d: "/tmp/hoist-t-filemods/a $b 'c\""
  tasks:
    - file: {path: "{{ d }}/sub", state: directory}
    - copy: {dest: "{{ d }}/app.conf", content: "port 80\nport 81\n[s]\nport 82\n", force: false}
    - replace: {path: "{{ d }}/app.conf", regexp: '^port (8\d)$', replace: 'listen \1', before: '\[s\]'}
      register: r
    - find: {paths: "{{ d }}", patterns: '*.conf', recurse: true}
      register: f
    - slurp: {src: "{{ d }}/app.conf"}
      register: s
    - fetch: {src: "{{ d }}/app.conf", dest: fetched}
      register: fe
    - assert:
        that:
          - f.matched == 1
          - f.examined == 2
          - f.files[0].path == d ~ '/app.conf'
          - s.content | b64decode == 'listen 80\nlisten 81\n[s]\nport 82\n'
          - fe.dest.endswith('/fetched/' ~ inventory_hostname ~ d ~ '/app.conf')
"#;

#[test]
fn replace_find_slurp_fetch_over_ssh_match_ansible() {
    let Some(lab) = lab() else { return };
    let p = project(FILES_PLAY);
    for host in ["app2", "app3"] {
        lab.ssh(host, "root", "rm -rf /tmp/hoist-t-filemods");
    }
    let first = lab.apply_on(p.path(), "app2", &[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(recap(&first, "app2")[..4], [7, 4, 0, 0], "{first:?}");
    let second = lab.apply_on(p.path(), "app2", &[]);
    assert_eq!(recap(&second, "app2")[1], 0, "{second:?}");
    let fetched = p
        .path()
        .join("fetched/app2/tmp/hoist-t-filemods/a $b 'c\"/app.conf");
    assert_eq!(
        std::fs::read_to_string(fetched).unwrap(),
        "listen 80\nlisten 81\n[s]\nport 82\n"
    );
    let snap = |host: &str| {
        lab.ssh(
            host,
            "root",
            "cd /tmp/hoist-t-filemods && find . -printf '%p %y %m\\n' | sort && cat */app.conf",
        )
        .stdout
    };
    if let Some(a) = ansible_on(&lab, p.path(), "app3") {
        assert_eq!(a.code, 0, "{a:?}");
        assert_eq!(recap(&a, "app3"), recap(&first, "app2"), "{a:?}");
        assert_eq!(snap("app3"), snap("app2"));
    }
    for host in ["app2", "app3"] {
        lab.ssh(host, "root", "rm -rf /tmp/hoist-t-filemods");
    }
}

#[test]
fn ini_file_over_ssh_with_become() {
    let Some(lab) = lab() else { return };
    let p = project(
        r#"- hosts: all
  gather_facts: false
  remote_user: deploy
  become: true
  tasks:
    - ini_file: {path: /etc/hoist-t-ini/app.ini, section: "s $x 'q\"", option: k, value: "v 1", mode: '0640'}
    - community.general.ini_file: {path: /etc/hoist-t-ini/app.ini, section: null, option: top, value: "1"}
"#,
    );
    lab.ssh("db2", "root", "rm -rf /etc/hoist-t-ini");
    let first = lab.apply_on(p.path(), "db2", &[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(recap(&first, "db2")[1], 2, "{first:?}");
    let second = lab.apply_on(p.path(), "db2", &[]);
    assert_eq!(recap(&second, "db2")[1], 0, "{second:?}");
    let r = lab.ssh(
        "db2",
        "root",
        "stat -c '%a %U' /etc/hoist-t-ini/app.ini; cat /etc/hoist-t-ini/app.ini; rm -rf /etc/hoist-t-ini",
    );
    assert_eq!(
        r.stdout, "640 root\ntop = 1\n\n[s $x 'q\"]\nk = v 1\n",
        "{r:?}"
    );
}

#[test]
fn raw_script_and_tempfile_with_become() {
    let Some(lab) = lab() else { return };
    let p = project(
        r#"- hosts: all
  gather_facts: false
  vars: {ansible_user: deploy}
  become: true
  tasks:
    - tempfile: {prefix: "hoist-t-tmp $x.", state: directory}
      register: t
    - raw: id -un; echo "$0"
      args: {executable: /bin/bash}
      register: r
    - script: "who.sh 'a $b' {{ t.path | quote }}"
      args: {chdir: "{{ t.path }}"}
      register: s
    - file: {path: "{{ t.path }}", state: absent}
    - assert:
        that:
          - t.path.startswith('/tmp/hoist-t-tmp $x.')
          - t.owner == 'root' and t.mode == '0700'
          - r.stdout_lines == ['root', '/bin/bash']
          - s.stdout_lines == ['root', 'a $b', t.path, t.path]
"#,
    );
    std::fs::create_dir_all(p.path().join("files")).unwrap();
    std::fs::write(
        p.path().join("files/who.sh"),
        "#!/bin/sh\nid -un\necho \"$1\"\necho \"$2\"\npwd\n",
    )
    .unwrap();
    let r = lab.apply_on(p.path(), "web3", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "web3")[..4], [5, 4, 0, 0], "{r:?}");
}

#[test]
fn sysctl_sets_the_file_and_the_live_value_in_the_hosts_namespace() {
    let Some(lab) = lab() else { return };
    // net.* keys live in the host's network namespace; restored below.
    let p = project(
        r##"- hosts: all
  gather_facts: false
  vars:
    f: "/tmp/hoist-t-sysctl/s $x 'q\".conf"
  tasks:
    - file: {path: /tmp/hoist-t-sysctl, state: directory}
    - copy: {dest: "{{ f }}", content: "# keep\nnet.ipv4.tcp_keepalive_intvl = 75\n", force: false}
    - ansible.posix.sysctl:
        name: net.ipv4.tcp_keepalive_probes
        value: "7"
        sysctl_file: "{{ f }}"
        sysctl_set: true
"##,
    );
    let host = "db3";
    let first = lab.apply_on(p.path(), host, &[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(recap(&first, host)[1], 3, "{first:?}");
    let second = lab.apply_on(p.path(), host, &[]);
    assert_eq!(recap(&second, host)[1], 0, "{second:?}");
    let r = lab.ssh(
        host,
        "root",
        "sysctl -n net.ipv4.tcp_keepalive_probes; cat /tmp/hoist-t-sysctl/*.conf; \
         sysctl -w net.ipv4.tcp_keepalive_probes=9 >/dev/null; rm -rf /tmp/hoist-t-sysctl",
    );
    assert_eq!(
        r.stdout, "7\n# keep\nnet.ipv4.tcp_keepalive_intvl=75\nnet.ipv4.tcp_keepalive_probes=7\n",
        "{r:?}"
    );
}

#[test]
fn known_hosts_in_the_login_users_home() {
    let Some(lab) = lab() else { return };
    let p = project(
        r#"- hosts: all
  gather_facts: false
  vars: {ansible_user: deploy}
  tasks:
    - file: {path: ~/.ssh, state: directory, mode: '0700'}
    - known_hosts:
        name: hoist-t-kh.example.com
        key: "hoist-t-kh.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        path: ~/.ssh/hoist-t-known_hosts
        hash_host: true
"#,
    );
    let host = "web2";
    let first = lab.apply_on(p.path(), host, &[]);
    assert_eq!(first.code, 0, "{first:?}");
    let second = lab.apply_on(p.path(), host, &[]);
    assert_eq!(recap(&second, host)[1], 0, "{second:?}");
    let r = lab.ssh(
        host,
        "deploy",
        "ssh-keygen -F hoist-t-kh.example.com -f ~/.ssh/hoist-t-known_hosts | grep -c ssh-ed25519; \
         stat -c %U ~/.ssh/hoist-t-known_hosts; rm -f ~/.ssh/hoist-t-known_hosts",
    );
    assert_eq!(r.stdout, "1\ndeploy\n", "{r:?}");
}
