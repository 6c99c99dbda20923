//! Package modules on the local machine, in check mode only: they query
//! dpkg and apt and simulate, and must change nothing here.

use crate::common::{Project, recap};

#[test]
fn apt_check_mode_queries_and_simulates_without_changing_the_machine() {
    if !std::path::Path::new("/usr/bin/apt-get").exists()
        || !std::path::Path::new("/usr/bin/dpkg-query").exists()
    {
        eprintln!("no apt here; skipping");
        return;
    }
    let before = std::fs::read("/var/lib/dpkg/status").unwrap_or_default();
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: an installed package
      apt: name=dpkg
      register: have
    - name: a URL with quotes, spaces and $ is refused
      apt:
        deb: "http://127.0.0.1:9/it's a \"$pkg\".deb"
      register: url
      ignore_errors: true
    - name: unknown
      apt:
        name: "hoist-t-no such $pkg"
      register: unknown
      ignore_errors: true
    - name: a version spec dpkg has
      apt:
        name: "dpkg>=1.0"
      register: ge
    - assert:
        that:
          - have is not changed
          - have.cache_updated == false
          - url is failed
          - "'is a URL' in url.msg"
          - unknown is failed
          - "unknown.msg == \"No package matching 'hoist-t-no such $pkg' is available\""
          - ge is not changed
"#,
    );
    let r = p.diff();
    assert_eq!(recap(&r, "localhost")[3], 0, "{r:?}");
    assert!(r.stdout.contains("ok: [localhost]"), "{r:?}");
    let after = std::fs::read("/var/lib/dpkg/status").unwrap_or_default();
    assert!(before == after, "dpkg status changed");
}
