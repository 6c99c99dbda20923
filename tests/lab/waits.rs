//! Waiting modules over SSH through the gateway: `wait_for` on a port the
//! host serves, a port nothing serves, and a file another process writes
//! later on the host.

use crate::common::{lab, recap};

#[test]
fn wait_for_ports_and_files_on_lab_hosts() {
    let Some(lab) = lab() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("site.yml"),
        r#"- hosts: app2
  gather_facts: false
  tasks:
    - wait_for: port=22 timeout=5
      register: ssh
    - wait_for: port=22 host="{{ ansible_host }}" timeout=5
    - wait_for: port=1 state=stopped timeout=5
    - shell: (sleep 1; echo "ready 42" > "/tmp/hoist-t-wait $x") > /dev/null 2>&1 &
      environment: {x: "a'b"}
    - wait_for:
        path: "/tmp/hoist-t-wait a'b"
        search_regex: 'ready (\d+)'
        timeout: 10
      register: file
    - file: path="/tmp/hoist-t-wait a'b" state=absent
    - assert:
        that:
          - ssh.state == 'started' and ssh.port == 22
          - file.match_groups == ['42'] and file.state == 'file'
"#,
    )
    .expect("write playbook");
    let inv = lab.inventory();
    let r = lab.hoist(
        dir.path(),
        &["apply", "site.yml", "-i", inv.to_str().unwrap_or("")],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "app2")[3], 0, "{r:?}");
}
