//! `-vvv` and `-vvvv` over SSH: how a host is reached (gateway, host key,
//! authentication, reuse), channels, SFTP and become, and never a secret.

use crate::common::{lab, project};

const PLAYBOOK: &str = r#"- hosts: web1
  gather_facts: false
  tasks:
    - name: first
      command: hostname
      changed_when: false
    - name: big file
      copy:
        content: "{{ 'c0ntent-s3cret;' * 5000 }}"
        dest: /tmp/hoist-verbosity-big.txt
    - name: hidden
      shell: "echo pw=hunter2-s3cret"
      no_log: true
      changed_when: false
    - name: as root
      command: id -un
      become: true
      changed_when: false
"#;

#[test]
fn connection_details_and_no_secret_over_ssh() {
    let Some(lab) = lab() else { return };
    let p = project(PLAYBOOK);
    let inv = lab.inventory();
    let inv = inv.to_str().expect("utf-8 path");
    let r = lab.hoist(
        p.path(),
        &[
            "apply",
            "site.yml",
            "-i",
            inv,
            "-vvvv",
            "-e",
            "ansible_user=deploypw",
            "-e",
            "ansible_become_password=hoist-lab",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let out = &r.stdout;
    let dir = lab.dir.display().to_string();
    // Each task names the user, as Ansible's ESTABLISH line.
    assert_eq!(
        out.matches("<web1> ESTABLISH SSH CONNECTION FOR USER: deploypw\n")
            .count(),
        4,
        "{r:?}"
    );
    // The first connects through the gateway, checking both host keys.
    assert!(
        out.contains("<web1> SSH: opening a connection to the jump host gateway\n"),
        "{r:?}"
    );
    let target = out
        .lines()
        .find(|l| l.starts_with("<web1> SSH: connecting to deploypw@"))
        .unwrap_or_else(|| panic!("no connecting line: {r:?}"));
    assert!(
        target.contains(" port 22, through the gateway root@"),
        "{target}"
    );
    let keys: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("<web1> SSH: host key of "))
        .collect();
    assert_eq!(keys.len(), 2, "gateway and target: {r:?}");
    for k in &keys {
        assert!(
            k.contains(" ssh-ed25519 SHA256:")
                && k.contains(&format!(" matches {dir}/known_hosts:")),
            "{k}"
        );
    }
    assert!(
        out.contains(&format!(
            "<web1> SSH: authenticated as deploypw with the key file {dir}/id_ed25519; connected to deploypw@"
        )),
        "{r:?}"
    );
    // Later tasks reuse it.
    assert_eq!(
        out.matches("<web1> SSH: reusing the open connection to deploypw@")
            .count(),
        3,
        "{r:?}"
    );
    // -vvvv: channels, the big file by SFTP with its size, become.
    assert!(out.contains("<web1> SSH: channel "), "{r:?}");
    assert!(
        out.contains("<web1> SFTP: PUT 75000 bytes TO /tmp/.hoist-verbosity-big.txt.hoist-"),
        "{r:?}"
    );
    assert!(
        out.contains("<web1> BECOME: runs commands as `sudo -k -S -p '' -H -u root -- /bin/sh -c <command>`, the password first on its standard input (not shown)\n"),
        "{r:?}"
    );
    assert!(out.contains(r"stdout='root\n'"), "{r:?}");
    assert!(
        out.contains("<web1> EXEC #1: (command hidden: no_log)\n"),
        "{r:?}"
    );
    // No secret: not the become password, not the file's content, not
    // what a no_log task ran (the lab's directory may contain the word
    // `hoist-lab`, so it is left out first).
    let all = format!("{}{}", r.stdout, r.stderr).replace(&dir, "<lab>");
    for secret in ["hoist-lab", "c0ntent-s3cret", "hunter2-s3cret"] {
        assert!(!all.contains(secret), "shows {secret}: {r:?}");
    }
    let cleanup = lab.ssh("web1", "root", "rm -f /tmp/hoist-verbosity-big.txt");
    assert_eq!(cleanup.code, 0, "{cleanup:?}");
}
