//! Loops and `until`/`retries` as ansible-core 2.19 runs them. The expected
//! lines and values were taken from ansible-playbook's output for the same
//! playbooks.

use crate::common::{Project, Run, recap};

/// The result lines (`ok:`, `changed:`, `skipping:`, `fatal:`, `failed:`,
/// `FAILED - RETRYING:`, `...ignoring`) under each task banner, each cut
/// before its ` => ` result.
fn lines(r: &Run) -> Vec<String> {
    let mut out = Vec::new();
    for l in r.stdout.lines() {
        let l = l.trim_end();
        if l.starts_with("TASK [") {
            out.push(l.trim_end_matches('*').trim_end().to_owned());
            continue;
        }
        let result = [
            "ok: ",
            "changed: ",
            "skipping: ",
            "fatal: ",
            "failed: ",
            "FAILED - RETRYING: ",
            "...ignoring",
        ]
        .iter()
        .any(|p| l.starts_with(p));
        if result {
            let cut = match l.find(" => (item=") {
                Some(i) => match l[i + 1..].find(" => ") {
                    Some(j) => &l[..i + 1 + j],
                    None => l,
                },
                None => l.split(" => ").next().unwrap_or(l),
            };
            out.push(cut.trim_end().to_owned());
        }
    }
    out
}

/// Runs the project's playbook with hoist, or with ansible-playbook when
/// `HOIST_LOOPS_WITH_ANSIBLE` is set (to check the expectations).
fn apply(p: &Project) -> Run {
    if std::env::var_os("HOIST_LOOPS_WITH_ANSIBLE").is_none() {
        return p.apply();
    }
    p.write(
        "hosts.ini",
        "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
    );
    let mut c = std::process::Command::new("ansible-playbook");
    c.current_dir(p.path())
        .args(["site.yml", "-i", "hosts.ini", "-e"])
        .arg(format!("root={}", p.root().display()))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_STDOUT_CALLBACK", "default")
        .env("ANSIBLE_LOCAL_TEMP", p.path().join(".ansible-tmp"))
        .env("ANSIBLE_HOME", p.path().join(".ansible-home"));
    crate::common::run(c)
}

fn project(tasks: &str) -> Project {
    let p = Project::new();
    p.write(
        "site.yml",
        &format!("- hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}"),
    );
    p
}

#[test]
fn until_counts_attempts_and_retries_as_ansible() {
    let p = project(
        r#"    - name: until never
      shell: "echo x >> {{ root }}/never; exit 0"
      register: never
      until: never.rc == 1
      retries: 2
      delay: 0
      ignore_errors: true
    - name: default retries
      shell: "echo x >> {{ root }}/default"
      register: d
      until: d.rc == 1
      delay: 0
      ignore_errors: true
    - name: retries zero
      command: /bin/true
      register: once
      until: once.rc == 1
      retries: 0
    - name: negative retries
      command: /bin/true
      register: neg
      until: neg.rc == 1
      retries: "{{ -1 }}"
      delay: 0
    - name: retries without until
      shell: "echo x >> {{ root }}/bare; test $(wc -l < {{ root }}/bare) -ge 2"
      register: bare
      retries: 3
      delay: 0
    - name: failed_when sees attempts
      command: /bin/true
      register: fw
      until: fw is not failed
      failed_when: fw.attempts < 2
      retries: 3
      delay: 0.1
    - name: results
      assert:
        that:
          - never is failed
          - never.attempts == 2
          - d.attempts == 3
          - once is not failed
          - once.attempts is not defined
          - neg.attempts is not defined
          - bare is not failed
          - bare.attempts == 2
          - fw.attempts == 2
"#,
    );
    let r = apply(&p);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("never").lines().count(), 3, "{r:?}");
    assert_eq!(p.read("default").lines().count(), 4, "{r:?}");
    assert_eq!(p.read("bare").lines().count(), 2, "{r:?}");
    assert_eq!(
        lines(&r),
        [
            "TASK [until never]",
            "FAILED - RETRYING: [localhost]: until never (2 retries left).",
            "FAILED - RETRYING: [localhost]: until never (1 retries left).",
            "fatal: [localhost]: FAILED!",
            "...ignoring",
            "TASK [default retries]",
            "FAILED - RETRYING: [localhost]: default retries (3 retries left).",
            "FAILED - RETRYING: [localhost]: default retries (2 retries left).",
            "FAILED - RETRYING: [localhost]: default retries (1 retries left).",
            "fatal: [localhost]: FAILED!",
            "...ignoring",
            "TASK [retries zero]",
            "changed: [localhost]",
            "TASK [negative retries]",
            "changed: [localhost]",
            "TASK [retries without until]",
            "FAILED - RETRYING: [localhost]: retries without until (3 retries left).",
            "changed: [localhost]",
            "TASK [failed_when sees attempts]",
            "FAILED - RETRYING: [localhost]: failed_when sees attempts (3 retries left).",
            "changed: [localhost]",
            "TASK [results]",
            "ok: [localhost]",
        ],
        "{r:?}"
    );
    assert!(r.stdout.contains(r#"FAILED! => {"attempts": 2, "#), "{r:?}");
    assert_eq!(recap(&r, "localhost"), [7, 6, 0, 0, 0, 0, 2]);
}

#[test]
fn bad_retries_and_delay_fail_the_task() {
    let p = project(
        r#"    - name: bad retries
      command: /bin/true
      register: r
      until: r.rc == 1
      retries: abc
      ignore_errors: true
    - name: bad delay
      command: /bin/true
      register: r
      until: r.rc == 1
      retries: 1
      delay: abc
      ignore_errors: true
    - name: float retries
      command: /bin/true
      register: r
      until: r.rc == 1
      retries: 1.7
      ignore_errors: true
    - name: whole float and string retries
      command: /bin/true
      register: r
      until: r.rc == 1
      retries: "2.0"
      delay: "0"
      ignore_errors: true
"#,
    );
    let r = apply(&p);
    assert_eq!(r.code, 0, "{r:?}");
    for msg in [
        "Error processing keyword 'retries': The value 'abc' could not be converted to 'int'.",
        "Error processing keyword 'delay': The value 'abc' could not be converted to 'float'.",
        "Error processing keyword 'retries': The value 1.7 could not be converted to 'int'.",
    ] {
        assert!(r.stdout.contains(msg), "{msg}: {r:?}");
    }
    assert_eq!(
        r.stdout.matches("FAILED - RETRYING: [localhost]").count(),
        2,
        "{r:?}"
    );
    assert_eq!(recap(&r, "localhost"), [4, 1, 0, 0, 0, 0, 4]);
}

#[test]
fn a_false_when_skips_a_loop_over_an_undefined_variable() {
    let p = project(
        r#"    - name: when false
      debug: msg="{{ item }}"
      loop: "{{ not_defined_anywhere }}"
      when: false
      register: r1
    - name: when false, with_items
      debug: msg="{{ item }}"
      with_items: "{{ not_defined_anywhere }}"
      when: false
    - name: when true
      debug: msg="{{ item }}"
      loop: "{{ not_defined_anywhere }}"
      when: true
      ignore_errors: true
      register: r3
    - name: not a list, when false
      debug: msg="{{ item }}"
      loop: "{{ {'a': 1} }}"
      when: false
      ignore_errors: true
    - name: results
      assert:
        that:
          - r1 is skipped
          - r1.skip_reason == 'Conditional result was False'
          - r1.false_condition == False
          - r1.results is not defined
          - r3 is failed
          - "'is undefined' in r3.msg"
"#,
    );
    let r = apply(&p);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        lines(&r),
        [
            "TASK [when false]",
            "skipping: [localhost]",
            "TASK [when false, with_items]",
            "skipping: [localhost]",
            "TASK [when true]",
            "fatal: [localhost]: FAILED!",
            "...ignoring",
            "TASK [not a list, when false]",
            "fatal: [localhost]: FAILED!",
            "...ignoring",
            "TASK [results]",
            "ok: [localhost]",
        ],
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("The `loop` value must resolve to a 'list', not 'dict'."),
        "{r:?}"
    );
    assert_eq!(recap(&r, "localhost"), [3, 0, 0, 0, 2, 0, 2]);
}

#[test]
fn with_lookups_take_their_terms_as_ansible() {
    let p = project(
        r#"    - name: with_list of a dict
      debug: msg="{{ item }}"
      with_list: "{{ {'key': 'value', 'k2': 'v2'} }}"
      register: wl
    - name: with_list of a string
      debug: msg="{{ item }}"
      with_list: abc
    - name: with_dict of two dicts
      debug: msg="{{ item }}"
      with_dict: [{a: 1}, {b: 2}]
    - name: with_dict of a list
      debug: msg="{{ item }}"
      with_dict: [1, 2]
      ignore_errors: true
      register: wd
    - name: with_indexed_items flattens
      debug: msg="{{ item }}"
      with_indexed_items: [[a, b], c]
    - name: results
      assert:
        that:
          - wl.results | length == 1
          - "wl.results[0].item == {'key': 'value', 'k2': 'v2'}"
          - wl.skipped == false
          - wd is failed
"#,
    );
    let r = apply(&p);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        lines(&r),
        [
            "TASK [with_list of a dict]",
            "ok: [localhost] => (item={'key': 'value', 'k2': 'v2'})",
            "TASK [with_list of a string]",
            "ok: [localhost] => (item=abc)",
            "TASK [with_dict of two dicts]",
            "ok: [localhost] => (item={'key': 'a', 'value': 1})",
            "ok: [localhost] => (item={'key': 'b', 'value': 2})",
            "TASK [with_dict of a list]",
            "fatal: [localhost]: FAILED!",
            "...ignoring",
            "TASK [with_indexed_items flattens]",
            "ok: [localhost] => (item=[0, 'a'])",
            "ok: [localhost] => (item=[1, 'b'])",
            "ok: [localhost] => (item=[2, 'c'])",
            "TASK [results]",
            "ok: [localhost]",
        ],
        "{r:?}"
    );
    assert!(
        r.stdout.contains(
            "The lookup plugin 'dict' failed: the 'dict' lookup plugin expects a dictionary, got '1' of type <class 'ansible.module_utils._internal._datatag._AnsibleTaggedInt'>)"
        ),
        "{r:?}"
    );
}

#[test]
fn loop_errors_honour_ignore_errors() {
    let p = project(
        r#"    - name: bad with_dict
      debug: msg="{{ item }}"
      with_dict: [1, 2]
      ignore_errors: true
    - name: the play goes on
      debug: msg=on
"#,
    );
    let r = apply(&p);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        lines(&r),
        [
            "TASK [bad with_dict]",
            "fatal: [localhost]: FAILED!",
            "...ignoring",
            "TASK [the play goes on]",
            "ok: [localhost]",
        ],
        "{r:?}"
    );
    assert_eq!(recap(&r, "localhost"), [2, 0, 0, 0, 0, 0, 1]);
}

#[test]
fn with_subelements_as_ansible() {
    let p = project(
        r#"    - name: key removed
      debug: msg="{{ item.0 }}"
      with_subelements:
        - "{{ users }}"
        - groups
      register: key
    - name: nested key
      debug: msg="{{ item.1 }}"
      with_subelements:
        - "{{ users }}"
        - info.keys
    - name: a dict of items
      debug: msg="{{ item.1 }}"
      with_subelements:
        - {a: {name: x, l: [1]}, b: {name: y, l: [2]}}
        - l
    - name: a skipped result
      debug: msg="{{ item }}"
      with_subelements:
        - {skipped: true, a: {name: x, l: [1]}}
        - l
    - name: skip_missing
      debug: msg="{{ item }}"
      with_subelements:
        - [{a: 1}, {l: 1}, {l: {m: [1]}}]
        - l.m
        - skip_missing: yes
    - name: results
      assert:
        that:
          - "key.results | map(attribute='msg') | list == [{'name': 'alice', 'info': {'keys': ['k1', 'k2']}}] * 2 + [{'name': 'bob', 'info': {'keys': ['k3']}}]"
          - users[0].groups == ['wheel', 'dev']
"#,
    );
    p.write(
        "host_vars/localhost.yml",
        r#"users:
  - name: alice
    groups: [wheel, dev]
    info: {keys: [k1, k2]}
  - name: bob
    groups: [dev]
    info: {keys: [k3]}
  - name: carol
    skipped: true
    groups: [x]
"#,
    );
    let r = apply(&p);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        lines(&r),
        [
            "TASK [key removed]",
            "ok: [localhost] => (item=[{'name': 'alice', 'info': {'keys': ['k1', 'k2']}}, 'wheel'])",
            "ok: [localhost] => (item=[{'name': 'alice', 'info': {'keys': ['k1', 'k2']}}, 'dev'])",
            "ok: [localhost] => (item=[{'name': 'bob', 'info': {'keys': ['k3']}}, 'dev'])",
            "TASK [nested key]",
            "ok: [localhost] => (item=[{'name': 'alice', 'groups': ['wheel', 'dev'], 'info': {}}, 'k1'])",
            "ok: [localhost] => (item=[{'name': 'alice', 'groups': ['wheel', 'dev'], 'info': {}}, 'k2'])",
            "ok: [localhost] => (item=[{'name': 'bob', 'groups': ['dev'], 'info': {}}, 'k3'])",
            "TASK [a dict of items]",
            "ok: [localhost] => (item=[{'name': 'x'}, 1])",
            "ok: [localhost] => (item=[{'name': 'y'}, 2])",
            "TASK [a skipped result]",
            "skipping: [localhost]",
            "TASK [skip_missing]",
            "ok: [localhost] => (item=[{'l': {}}, 1])",
            "TASK [results]",
            "ok: [localhost]",
        ],
        "{r:?}"
    );
}

#[test]
fn with_subelements_refuses_bad_terms_as_ansible() {
    let cases: &[(&str, &str)] = &[
        (
            "[abc, l]",
            "subelements lookup expects a list of two or three items, first a dict or a list, second a string pointing to the subkey",
        ),
        (
            "[[{l: [1]}], 3]",
            "subelements lookup expects a list of two or three items, first a dict or a list, second a string pointing to the subkey",
        ),
        (
            "[[{l: [1]}], l, abc]",
            "subelements lookup expects a list of two or three items, the optional third item must be a dict with flags skip_missing",
        ),
        (
            "[[{l: [1]}], l, [skip_missing]]",
            "'_AnsibleLazyTemplateList' object has no attribute 'get'",
        ),
        (
            "[[{l: [1]}], l, 5]",
            "'_AnsibleTaggedInt' object is not iterable",
        ),
        (
            "[[{l: [1]}], l, {}, 4]",
            "subelements lookup expects a list of two or three items,",
        ),
        (
            "[[{l: [1]}]]",
            "subelements lookup expects a list of two or three items,",
        ),
        (
            "[[1], l]",
            "subelements lookup expects a dictionary, got '1'",
        ),
        (
            "[[{a: 1}], l]",
            "could not find 'l' key in iterated item '{'a': 1}'",
        ),
        ("[[{l: 1}], l]", "the key l should point to a list, got '1'"),
        (
            "[[{l: 1}], l.m]",
            "the key l should point to a dictionary, got '1'",
        ),
        (
            "[[{l: 2}], l, {skip_missing: true}]",
            "the key l should point to a list, got '2'",
        ),
    ];
    let tasks: String = cases
        .iter()
        .enumerate()
        .map(|(i, (terms, _))| {
            format!(
                "    - name: case {i}\n      debug: msg=\"{{{{ item }}}}\"\n      with_subelements: {terms}\n      ignore_errors: true\n"
            )
        })
        .collect();
    let p = project(&tasks);
    let r = apply(&p);
    assert_eq!(r.code, 0, "{r:?}");
    for (i, (terms, msg)) in cases.iter().enumerate() {
        let banner = format!("TASK [case {i}]");
        let fatal = r
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with(&banner))
            .find(|l| l.starts_with("fatal: "))
            .unwrap_or_default();
        // ansible-playbook ends the message there, hoist says where the
        // task is after a blank line.
        let full = format!("\"msg\": \"The lookup plugin 'subelements' failed: {msg}");
        assert!(
            fatal.contains(&format!("{full}\"")) || fatal.contains(&format!("{full}\\n")),
            "{terms}: {full}\n{r:?}"
        );
    }
    let n = cases.len() as u32;
    assert_eq!(recap(&r, "localhost"), [n, 0, 0, 0, 0, 0, n]);
}

#[test]
fn an_ignored_loop_failure_prints_ignoring_once_after_its_items() {
    let p = project(
        r#"    - name: first item fails
      command: "{{ item }}"
      loop: ["/bin/false", "/bin/true"]
      ignore_errors: true
      changed_when: false
    - name: ignored for one item only
      command: "{{ item }}"
      loop: ["/bin/false", "/bin/true"]
      ignore_errors: "{{ item == '/bin/false' }}"
      changed_when: false
"#,
    );
    let r = apply(&p);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        lines(&r),
        [
            "TASK [first item fails]",
            "failed: [localhost] (item=/bin/false)",
            "ok: [localhost] => (item=/bin/true)",
            "...ignoring",
            "TASK [ignored for one item only]",
            "failed: [localhost] (item=/bin/false)",
            "ok: [localhost] => (item=/bin/true)",
            "...ignoring",
        ],
        "{r:?}"
    );
    assert_eq!(recap(&r, "localhost"), [2, 0, 0, 0, 0, 0, 2]);
}

#[test]
fn loop_control_pause_extended_allitems_and_break_when() {
    let p = project(
        r#"    - name: no allitems
      debug: msg="{{ ansible_loop.allitems | default('none') }}"
      loop: [a, b]
      loop_control:
        extended: true
        extended_allitems: false
      register: e
    - name: paused
      debug: msg="{{ item }}"
      loop: [a, b, c]
      loop_control:
        pause: "{{ 0.4 }}"
    - name: break
      debug: msg="{{ item }}"
      loop: [1, 2, 3, 4]
      register: b
      loop_control:
        break_when:
          - b.msg == 2
    - name: the registered variable holds the previous item's result
      debug: msg="{{ p.item | default('none') }}"
      loop: [a, b, c]
      register: p
      loop_control:
        label: "{{ item }} {{ p.msg }}"
    - name: results
      assert:
        that:
          - e.results | map(attribute='msg') | list == ['none', 'none']
          - "e.results[0].ansible_loop == {'index': 1, 'index0': 0, 'first': true, 'last': false, 'length': 2, 'revindex': 2, 'revindex0': 1, 'nextitem': 'b'}"
          - e.results[1].ansible_loop.previtem == 'a'
          - e.results[1].ansible_loop.nextitem is not defined
          - b.results | map(attribute='item') | list == [1, 2]
          - p.results | map(attribute='msg') | list == ['none', 'a', 'b']
"#,
    );
    let start = std::time::Instant::now();
    let r = apply(&p);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(800),
        "two pauses of 0.4s: {:?}",
        start.elapsed()
    );
    assert_eq!(
        lines(&r),
        [
            "TASK [no allitems]",
            "ok: [localhost] => (item=a)",
            "ok: [localhost] => (item=b)",
            "TASK [paused]",
            "ok: [localhost] => (item=a)",
            "ok: [localhost] => (item=b)",
            "ok: [localhost] => (item=c)",
            "TASK [break]",
            "ok: [localhost] => (item=1)",
            "ok: [localhost] => (item=2)",
            "TASK [the registered variable holds the previous item's result]",
            "ok: [localhost] => (item=a none)",
            "ok: [localhost] => (item=b a)",
            "ok: [localhost] => (item=c b)",
            "TASK [results]",
            "ok: [localhost]",
        ],
        "{r:?}"
    );
}

#[test]
fn a_bad_pause_is_refused_at_load() {
    let p = project(
        r#"    - debug: msg="{{ item }}"
      loop: [a]
      loop_control:
        pause: soon
"#,
    );
    // ansible-playbook fails the task when it runs ("Error processing
    // keyword 'pause': The value 'soon' could not be converted to
    // 'float'."); hoist refuses such a playbook before running anything.
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("`pause` must be a number of seconds"),
        "{r:?}"
    );
}
