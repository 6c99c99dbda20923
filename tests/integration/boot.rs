//! reboot, wait_for_connection and dnf/yum over the local connection, with
//! the results ansible-playbook 2.19 gives for the same tasks on localhost.
//! (reboot is refused before anything runs; each task still sets a
//! harmless `reboot_command` in case it ever were not.)

use crate::common::{Project, host_results, recap};

#[test]
fn wait_for_connection_reboot_and_dnf_on_the_controller() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - wait_for_connection: timeout=5
      register: w
    - wait_for_connection:
      check_mode: true
      register: wc
    - reboot:
        reboot_command: /bin/true
      register: rb
      ignore_errors: true
    - reboot:
        reboot_command: /bin/true
      check_mode: true
      register: rbc
      ignore_errors: true
    - yum: name="it's $x"
      register: y
      ignore_errors: true
    - assert:
        that:
          - w is not changed and w is not failed and w.elapsed == 0
          - w.keys() | sort == ['changed', 'elapsed', 'failed']
          - wc is skipped
          - rb is failed and rb is not changed and not rb.rebooted and rb.elapsed == 0
          - rb.msg == 'Running reboot with local connection would reboot the control node.'
          - rbc is failed
          - y is failed
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "localhost"), [5, 0, 0, 0, 1, 0, 3], "{r:?}");
    assert_eq!(
        host_results(&r.stdout, "localhost"),
        [
            "wait_for_connection ok",
            "wait_for_connection skipping",
            "reboot fatal",
            "reboot fatal",
            "yum fatal",
            "assert ok"
        ],
        "{r:?}"
    );
}
