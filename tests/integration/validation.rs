//! Bad input is refused before anything runs, with every mistake located.

use crate::common::Project;

#[test]
fn every_mistake_is_reported_with_its_location_and_exit_4() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  taskz: []
  tasks:
    - name: typo in a keyword
      copy: content=x dest={{ root }}/x
      whn: true
    - name: unknown module
      copi:
        dest: /tmp/x
    - name: unknown parameter
      copy:
        content: x
        dets: /tmp/x
    - name: missing required parameter
      template:
        src: t.j2
    - name: wrong type
      copy:
        content: x
        dest: /tmp/y
        force: maybe
    - name: bad jinja
      debug:
        msg: "{{ foo }"
    - name: unknown handler
      copy: content=x dest={{ root }}/y
      notify: restart nginx
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    let expect = [
        (
            "site.yml:3:3",
            "`taskz` is not a valid play keyword",
            Some("did you mean `tasks`?"),
        ),
        (
            "site.yml:7:7",
            "`whn` is neither a task keyword nor a module",
            Some("did you mean `when`?"),
        ),
        (
            "site.yml:9:7",
            "`copi` is neither a task keyword nor a module",
            Some("did you mean `copy`?"),
        ),
        (
            "site.yml:14:9",
            "unsupported parameter `dets` for module copy",
            Some("did you mean `dest`?"),
        ),
        (
            "site.yml:12:7",
            "missing required parameter `dest` for module copy",
            None,
        ),
        (
            "site.yml:16:7",
            "missing required parameter `dest` for module template",
            None,
        ),
        ("site.yml:22:9", "unable to convert to bool", None),
        ("site.yml:25:14", "invalid Jinja", None),
        (
            "site.yml:28:15",
            "the handler 'restart nginx' is notified but no handler",
            None,
        ),
    ];
    for (loc, msg, help) in expect {
        let at = r
            .stderr
            .find(&format!("--> {loc}"))
            .unwrap_or_else(|| panic!("no error at {loc}: {r:?}"));
        let before = &r.stderr[..at];
        let start = before.rfind("\nerror: ").map(|i| i + 1).unwrap_or(0);
        let block_end = r.stderr[at..]
            .find("\nerror: ")
            .map(|e| at + e)
            .unwrap_or(r.stderr.len());
        let block = &r.stderr[start..block_end];
        assert!(block.contains(msg), "{loc}: expected {msg:?} in {block}");
        if let Some(h) = help {
            assert!(block.contains(h), "{loc}: expected {h:?} in {block}");
        }
        assert!(block.contains('^'), "{loc}: caret in {block}");
    }
    assert!(r.stderr.contains("9 problems found"), "{r:?}");
    assert!(r.stdout.is_empty(), "nothing ran: {r:?}");
    assert!(!p.root().join("x").exists());
}

#[test]
fn yaml_syntax_errors_are_located() {
    let p = Project::new();
    p.write(
        "site.yml",
        "- hosts: localhost\n  tasks:\n    - debug: msg=[1, 2\n      bad: [\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("YAML syntax error"), "{r:?}");
    assert!(r.stderr.contains("--> site.yml:"), "{r:?}");
}

#[test]
fn inventory_and_playbook_errors_are_reported_together() {
    let p = Project::new();
    p.write("hosts.ini", "[web\nweb1\n");
    p.write(
        "site.yml",
        "- hosts: all\n  tasks:\n    - nosuchmodule: {}\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("hosts.ini:1:"), "{r:?}");
    assert!(r.stderr.contains("site.yml:3:7"), "{r:?}");
}

#[test]
fn diff_reports_load_errors_with_exit_1() {
    let p = Project::new();
    p.write(
        "site.yml",
        "- hosts: localhost\n  tasks:\n    - debug: {msg: hi, bogus: 1}\n",
    );
    let r = p.diff();
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("site.yml:3:24"), "{r:?}");
}
