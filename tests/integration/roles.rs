//! Roles: layout, search paths, dependencies, precedence, handlers,
//! import_role and include_role.

use crate::common::{Project, host_results, recap};

fn role_project() -> Project {
    let p = Project::new();
    p.write(
        "roles/common/tasks/main.yml",
        "- copy: content=\"common {{ common_flavour }}\\n\" dest={{ root }}/common\n",
    );
    p.write("roles/common/defaults/main.yml", "common_flavour: plain\n");
    p.write(
        "roles/web/meta/main.yml",
        "dependencies:\n  - role: common\n    common_flavour: spicy\n",
    );
    p.write(
        "roles/web/defaults/main.yml",
        "http_port: 80\nlisten: \"0.0.0.0:{{ http_port }}\"\nfrom_defaults: defaults\nshadowed_by_inventory: defaults\n",
    );
    p.write(
        "roles/web/vars/main.yml",
        "from_vars: vars\nshadowed_by_role_vars: role-vars\n",
    );
    p.write(
        "roles/web/tasks/main.yml",
        r#"- name: configuration
  template: src=site.conf.j2 dest={{ root }}/site.conf
  notify: reload web
- name: static page
  copy: src=index.html dest={{ root }}/index.html
- import_tasks: extra.yml
"#,
    );
    p.write(
        "roles/web/tasks/extra.yml",
        "- copy: content=\"{{ role_name }}\\n\" dest={{ root }}/role_name\n",
    );
    p.write(
        "roles/web/tasks/other.yml",
        "- copy: content=\"other {{ http_port }}\\n\" dest={{ root }}/other\n",
    );
    p.write(
        "roles/web/templates/site.conf.j2",
        "listen {{ listen }}\n{{ from_defaults }} {{ from_vars }} {{ shadowed_by_inventory }} {{ shadowed_by_role_vars }}\n",
    );
    p.write("roles/web/files/index.html", "<h1>hi</h1>\n");
    p.write(
        "roles/web/handlers/main.yml",
        "- name: reload web\n  copy: content=reloaded dest={{ root }}/reloaded\n",
    );
    p.write(
        "hosts.ini",
        "localhost ansible_connection=local shadowed_by_inventory=inventory shadowed_by_role_vars=inventory\n",
    );
    p
}

#[test]
fn roles_run_with_dependencies_precedence_and_handlers() {
    let p = role_project();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  vars:
    shadowed_by_role_vars: play
  roles:
    - role: web
      http_port: 8080
  tasks:
    - import_role:
        name: web
        tasks_from: other
    - include_role:
        name: web
        tasks_from: other.yml
      when: false
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("common"), "common spicy\n");
    assert_eq!(
        p.read("site.conf"),
        "listen 0.0.0.0:8080\ndefaults vars inventory role-vars\n"
    );
    assert_eq!(p.read("index.html"), "<h1>hi</h1>\n");
    assert_eq!(p.read("role_name"), "web\n");
    assert_eq!(p.read("other"), "other 80\n");
    assert_eq!(p.read("reloaded"), "reloaded");
    assert!(r.stdout.contains("TASK [web : configuration]"), "{r:?}");
    assert!(
        r.stdout.contains("RUNNING HANDLER [web : reload web]"),
        "{r:?}"
    );
    assert!(r.stdout.contains("TASK [include_role : web]"), "{r:?}");
    // The numbers ansible-core 2.19 reports for this playbook.
    assert_eq!(recap(&r, "localhost")[..5], [6, 6, 0, 0, 1], "{r:?}");
    let again = p.apply();
    assert_eq!(recap(&again, "localhost")[1], 0, "{again:?}");
}

#[test]
fn missing_roles_are_load_errors() {
    let p = role_project();
    p.write(
        "site.yml",
        "- hosts: localhost\n  roles:\n    - nosuchrole\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("the role 'nosuchrole' was not found"),
        "{r:?}"
    );
    assert!(r.stderr.contains("site.yml:3:7"), "{r:?}");
}

/// Roles of `roles:` and `import_role` publish their defaults and vars to
/// the whole play at load time (pre_tasks included; a later role's defaults
/// over an earlier one's; a task's own role over both), as ansible-core
/// does; `include_role` ones stay private. Results checked against
/// ansible-playbook 2.19.
#[test]
fn play_roles_publish_defaults_and_vars_to_the_play() {
    let p = Project::new();
    for r in ["a", "b", "c", "private"] {
        p.write(
            &format!("roles/{r}/defaults/main.yml"),
            &format!("x: {r}_def\nonly_{r}: yes\n"),
        );
        p.write(
            &format!("roles/{r}/vars/main.yml"),
            &format!("y: {r}_var\n"),
        );
        p.write(
            &format!("roles/{r}/tasks/main.yml"),
            &format!("- copy:\n    content: \"{{{{ x }}}} {{{{ y }}}}\\n\"\n    dest: \"{{{{ root }}}}/in_{r}_{{{{ tag | default('') }}}}\"\n"),
        );
    }
    p.write("roles/varsonly/vars/main.yml", "from_varsonly: here\n");
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  pre_tasks:
    - copy: content="{{ x }} {{ y }} {{ from_varsonly }}\n" dest={{ root }}/pre
  roles: [a, b, varsonly]
  tasks:
    - include_role: name=private
    - copy: content="{{ only_private | default('undefined') }}\n" dest={{ root }}/after_private
    - include_role:
        name: private
        public: true
      vars: {tag: public}
    - copy: content="{{ only_private | default('undefined') }} {{ y }}\n" dest={{ root }}/after_public
    - import_role: name=c
- hosts: localhost
  gather_facts: false
  tasks:
    - copy: content="{{ x | default('undefined') }}\n" dest={{ root }}/play2
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("pre"), "c_def c_var here\n");
    assert_eq!(p.read("in_a_"), "a_def a_var\n");
    assert_eq!(p.read("in_b_"), "b_def b_var\n");
    assert_eq!(p.read("in_private_"), "private_def private_var\n");
    assert_eq!(p.read("after_private"), "undefined\n");
    assert_eq!(p.read("after_public"), "True private_var\n");
    assert_eq!(p.read("in_c_"), "c_def c_var\n");
    assert_eq!(p.read("play2"), "undefined\n");
}

/// `include_role` with a loop: one `included:` line per item, printed
/// before the role runs, one ok per item; an empty loop skips; a role that
/// was included is still run by a later `import_role`. Output checked
/// against ansible-playbook 2.19.
#[test]
fn include_role_loops_report_like_ansible() {
    let p = Project::new();
    p.write(
        "roles/c/tasks/main.yml",
        "- copy: content=\"{{ item }}\\n\" dest={{ root }}/c_{{ item }}\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - include_role:
        name: c
      loop: [1, 2]
    - include_role: name=c
      loop: []
    - import_role: name=c
      vars: {item: 3}
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().filter(|l| !l.is_empty()).collect();
    let at = |s: &str| {
        lines
            .iter()
            .position(|l| *l == s)
            .unwrap_or_else(|| panic!("no {s:?} in {r:?}"))
    };
    assert!(
        at("included: c for localhost => (item=1)") + 1
            == at("included: c for localhost => (item=2)")
    );
    assert!(lines[at("included: c for localhost => (item=2)") + 1].starts_with("TASK [c : copy]"));
    assert_eq!(
        r.stdout.matches("skipping: [localhost]").count(),
        1,
        "{r:?}"
    );
    // `"{{ item }}\n"` with an integer item is the integer (ansible-core 2.19).
    assert_eq!(p.read("c_3"), "3");
    // 2 include items + 2 copies + the imported copy.
    assert_eq!(recap(&r, "localhost"), [5, 3, 0, 0, 1, 0, 0]);
}

/// `ansible_search_path`: the role, the task file's directory, the
/// playbook's (ansible-core 2.19's order).
#[test]
fn ansible_search_path_as_ansible() {
    let p = Project::new();
    p.write(
        "roles/sp/tasks/main.yml",
        "- copy: content=\"{{ ansible_search_path | join(',') }}\" dest={{ root }}/role\n",
    );
    p.write(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  roles: [sp]\n  tasks:\n    - copy: content=\"{{ ansible_search_path | join(',') }}\" dest={{ root }}/play\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    let d = p.path().display().to_string();
    assert_eq!(
        p.read("role"),
        format!("{d}/roles/sp,{d}/roles/sp/tasks,{d}")
    );
    assert_eq!(p.read("play"), d);
}

/// A role with `meta/argument_specs.yml` (which wins over `argument_specs:`
/// in `meta/main.yml`), one without tasks, and an entry point of
/// `tasks_from`.
fn argspec_project() -> Project {
    let p = Project::new();
    p.write(
        "roles/spec/meta/argument_specs.yml",
        "argument_specs:
  main:
    short_description: Spec role
    options:
      sp_name: {type: str, required: true}
      sp_port: {type: int, default: 80}
  alt:
    options:
      sp_level: {type: int, required: true}
",
    );
    p.write(
        "roles/spec/meta/main.yml",
        "argument_specs:\n  main:\n    options:\n      ignored: {required: true}\n",
    );
    p.write(
        "roles/spec/tasks/main.yml",
        "- copy: content=\"{{ sp_name }} {{ sp_port | default('unset') }}\\n\" dest={{ root }}/spec_{{ sp_name }}\n",
    );
    p.write(
        "roles/spec/tasks/alt.yml",
        "- copy: content=\"level {{ sp_level }}\\n\" dest={{ root }}/level\n",
    );
    p.write(
        "roles/notasks/meta/main.yml",
        "argument_specs:\n  main:\n    options:\n      n: {type: int, required: true}\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  roles:
    - role: spec
      sp_name: one
      tags: [t1]
      vars: {unrelated: 1}
    - role: notasks
      n: "1"
  tasks:
    - import_role: {name: spec, tasks_from: alt}
      vars: {sp_level: "2"}
"#,
    );
    p
}

/// Each role entry point with a spec starts with ansible-core's implicit
/// validation task, tagged `always`; the spec's defaults do not become
/// variables; a role's `vars:` are not checked as its parameters. Outputs
/// of ansible-playbook 2.19.
#[test]
fn role_argument_specs_add_a_validation_task() {
    let p = argspec_project();
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    let banners: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("TASK ["))
        .map(|l| l.trim_end_matches('*').trim_end())
        .collect();
    assert_eq!(
        banners,
        [
            "TASK [spec : Validating arguments against arg spec 'main' - Spec role]",
            "TASK [spec : copy]",
            "TASK [notasks : Validating arguments against arg spec 'main']",
            "TASK [spec : Validating arguments against arg spec 'alt']",
            "TASK [spec : copy]",
        ],
        "{r:?}"
    );
    assert_eq!(p.read("spec_one"), "one unset\n");
    assert_eq!(p.read("level"), "level 2\n");
    assert_eq!(recap(&r, "localhost"), [5, 2, 0, 0, 0, 0, 0], "{r:?}");

    let list = p.hoist("apply", &["--list-tasks"]);
    assert!(
        list.stdout.contains(
            "      spec : Validating arguments against arg spec 'main' - Spec role\tTAGS: [always, t1]\n      copy\tTAGS: [t1]\n      notasks : Validating arguments against arg spec 'main'\tTAGS: [always]\n      spec : Validating arguments against arg spec 'alt'\tTAGS: [always]\n      copy\tTAGS: []\n"
        ),
        "{list:?}"
    );

    let tagged = p.hoist("apply", &["-t", "nothing"]);
    assert_eq!(
        tagged.stdout.matches("Validating arguments").count(),
        3,
        "{tagged:?}"
    );
    assert_eq!(
        recap(&tagged, "localhost"),
        [3, 0, 0, 0, 0, 0, 0],
        "{tagged:?}"
    );
}

#[test]
fn role_argument_spec_failures_read_as_ansible() {
    let p = argspec_project();
    p.write(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  roles:\n    - role: spec\n      sp_name: [1]\n      sp_port: abc\n      bogus: 1\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 2, "{r:?}");
    let role_path = std::fs::canonicalize(p.path().join("roles/spec")).expect("role path");
    let fatal = format!(
        r#"fatal: [localhost]: FAILED! => {{"argument_errors": ["argument 'sp_port' is of type str and we were unable to convert to int: \"'abc'\" cannot be converted to an int", "bogus. Supported parameters include: sp_name, sp_port."], "argument_spec_data": {{"sp_name": {{"required": true, "type": "str"}}, "sp_port": {{"default": 80, "type": "int"}}}}, "changed": false, "msg": "Validation of arguments failed:\nargument 'sp_port' is of type str and we were unable to convert to int: \"'abc'\" cannot be converted to an int\nbogus. Supported parameters include: sp_name, sp_port.", "validate_args_context": {{"argument_spec_name": "main", "name": "spec", "path": "{}", "type": "role"}}}}"#,
        role_path.display()
    );
    assert!(r.stdout.contains(&fatal), "{r:?}\nwanted: {fatal}");
    assert_eq!(recap(&r, "localhost"), [0, 0, 0, 1, 0, 0, 0], "{r:?}");
}

#[test]
fn validate_argument_spec_module_checks_given_arguments_and_variables() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  vars:
    port: "8080"
    mode: medium
  tasks:
    - name: check
      ansible.builtin.validate_argument_spec:
        argument_spec:
          port: {type: int, required: true}
          mode: {type: str, choices: [fast, slow]}
          size: {type: int}
        provided_arguments:
          size: 1.5
      register: r
      ignore_errors: true
    - copy:
        content: "{{ r.argument_errors | to_json }} {{ r.validate_args_context }}"
        dest: "{{ root }}/errors"
    - validate_argument_spec:
        argument_spec: {port: {type: int}}
      register: ok
    - copy:
        content: "{{ ok.msg }}"
        dest: "{{ root }}/ok"
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        p.read("errors"),
        r#"["argument 'size' is of type float and we were unable to convert to int: \"1.5\" cannot be converted to an int", "value of mode must be one of: fast, slow, got: medium"] {}"#
    );
    assert_eq!(p.read("ok"), "The arg spec validation passed");
    assert_eq!(recap(&r, "localhost"), [4, 2, 0, 0, 0, 0, 1], "{r:?}");
}

/// Roles for the de-duplication tests: `r` and `x` and `y` depend on `d`;
/// `s` runs on the host named by its `only` param; `f` fails on h1
/// (ignored with `ign`).
fn dedup_project() -> Project {
    let p = Project::new();
    p.write(
        "hosts.ini",
        "[app]\nh1 ansible_connection=local\nh2 ansible_connection=local\nh3 ansible_connection=local\n",
    );
    p.write("roles/d/tasks/main.yml", "- {name: d, debug: {msg: d}}\n");
    for r in ["r", "x", "y"] {
        p.write(&format!("roles/{r}/meta/main.yml"), "dependencies: [d]\n");
        p.write(
            &format!("roles/{r}/tasks/main.yml"),
            &format!("- {{name: {r}, debug: {{msg: {r}}}}}\n"),
        );
    }
    p.write(
        "roles/s/tasks/main.yml",
        "- {name: s, debug: {msg: s}, when: inventory_hostname == only}\n",
    );
    p.write(
        "roles/f/tasks/main.yml",
        r#"- name: f fails
  fail: {msg: boom}
  when: inventory_hostname == 'h1'
  ignore_errors: "{{ ign | default(false) }}"
- {name: f, debug: {msg: f}}
"#,
    );
    p
}

/// ansible-core 2.19 de-duplicates roles per host at run time: a use is
/// skipped (silently) on a host where an equal use — same name, params,
/// `when`, `tags`, `vars`, `*_from` files, and import/include or not —
/// has completed, unless it allows duplicates (`import_role` and
/// `include_role` do unless told `allow_duplicates: false`). A role
/// completes on a host that gets to its end with one of its tasks run:
/// not where `when` skipped all of them. Dependencies are uses of their
/// own, shared by every role (or include) that depends on them.
#[test]
fn roles_are_deduplicated_per_host_as_ansible() {
    let p = dedup_project();
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  roles:
    - {role: r, when: "inventory_hostname == 'h1'"}
    - {role: r, when: "inventory_hostname == 'h1'"}
    - {role: r, p: 1}
    - {role: r, p: 1}
    - {role: r, tags: [t1]}
    - x
    - y
    - {role: s, only: h2}
    - {role: s, only: h2}
  tasks:
    - include_role: {name: r}
    - include_role: {name: r, allow_duplicates: false}
    - import_role: {name: r, allow_duplicates: false}
    - import_role: {name: r}
- hosts: app
  gather_facts: false
  roles:
    - {role: r, when: "inventory_hostname == 'h1'"}
  tasks:
    - include_role: {name: r}
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    // Play 1: the second `r` (same `when`) and the second `r` with p=1
    // run nowhere new; `d` ran once per host (with the first `r` on h1,
    // with `r` p=1 on h2 and h3); `r` with tags is another use; `s` ran
    // on h2 only, so it runs again on h1 and h3; the first include_role
    // completes the include's key, which the next include and the
    // import (told no duplicates) then skip.
    // Play 2: a new role cache; include_role runs `d` where the play's
    // `r` (with its `when`) did not run it.
    let h1 = [
        "d : d ok",
        "r : r ok",
        "r : r ok",
        "r : r ok",
        "x : x ok",
        "y : y ok",
        "s : s skipping",
        "s : s skipping",
        "include_role : r included",
        "r : r ok",
        "include_role : r included",
        "r : r ok",
        "d : d ok",
        "r : r ok",
        "include_role : r included",
        "r : r ok",
    ];
    assert_eq!(host_results(&r.stdout, "h1"), h1, "{r:?}");
    for (host, s) in [
        ("h2", &["s : s ok"][..]),
        ("h3", &["s : s skipping"; 2][..]),
    ] {
        let mut want = vec![
            "d : d skipping",
            "r : r skipping",
            "d : d skipping",
            "r : r skipping",
            "d : d ok",
            "r : r ok",
            "r : r ok",
            "x : x ok",
            "y : y ok",
        ];
        want.extend(s);
        want.extend([
            "include_role : r included",
            "r : r ok",
            "include_role : r included",
            "r : r ok",
            "d : d skipping",
            "r : r skipping",
            "include_role : r included",
            "d : d ok",
            "r : r ok",
        ]);
        assert_eq!(host_results(&r.stdout, host), want, "{r:?}");
    }
}

/// A role completes on a host whose failure in it was ignored, not on one
/// that failed (even if a rescue outside caught it): the next equal use
/// runs there again.
#[test]
fn failed_roles_do_not_complete_ignored_failures_do() {
    let p = dedup_project();
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  tasks:
    - import_role: {name: f, allow_duplicates: false}
      vars: {ign: true}
    - import_role: {name: f, allow_duplicates: false}
      vars: {ign: true}
    - block:
        - import_role: {name: f, allow_duplicates: false}
      rescue:
        - {name: rescued, debug: {msg: rescued}}
    - include_role: {name: f, allow_duplicates: false}
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        host_results(&r.stdout, "h1"),
        [
            "f : f fails fatal",
            "f : f ok",
            "f : f fails fatal",
            "rescued ok",
            "include_role : f included",
            "f : f fails fatal",
        ],
        "{r:?}"
    );
    for host in ["h2", "h3"] {
        assert_eq!(
            host_results(&r.stdout, host),
            [
                "f : f fails skipping",
                "f : f ok",
                "f : f fails skipping",
                "f : f ok",
                "include_role : f included",
            ],
            "{r:?}"
        );
    }
    assert_eq!(recap(&r, "h1"), [4, 0, 0, 1, 0, 1, 1], "{r:?}");
}

/// A role entry's `vars` are part of its key apart from its params: the
/// same values given one way and then the other are two uses.
#[test]
fn role_entry_vars_and_params_are_different_uses() {
    let p = dedup_project();
    p.write(
        "site.yml",
        r#"- hosts: h1
  gather_facts: false
  roles:
    - {role: r, a: 1}
    - {role: r, vars: {a: 1}}
    - {role: r, vars: {a: 1}}
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        host_results(&r.stdout, "h1"),
        ["d : d ok", "r : r ok", "r : r ok"],
        "{r:?}"
    );
}

/// A role may include itself behind a condition: ansible-core loads an
/// include_role when it runs, so hoist defers such a role's load instead
/// of refusing the playbook. Banners and recap are ansible-playbook 2.19's;
/// a recursion without end fails the include with a reason.
#[test]
fn a_role_can_include_itself() {
    let p = Project::new();
    p.write(
        "roles/rec/tasks/main.yml",
        "- set_fact: depth=\"{{ (depth | default(0) | int) + 1 }}\"\n\
         - debug: msg=\"depth {{ depth }}\"\n\
         - include_role:\n    name: rec\n  when: depth | int < 3\n",
    );
    p.write(
        "roles/endless/tasks/main.yml",
        "- include_role: {name: endless}\n",
    );
    p.write(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  roles: [rec]\n\
         - hosts: localhost\n  gather_facts: false\n  roles: [endless]\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 2, "{r:?}");
    let banners: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("TASK ["))
        .map(|l| l.trim_end_matches('*').trim_end())
        .take(9)
        .collect();
    let mut want = Vec::new();
    for _ in 0..3 {
        want.extend([
            "TASK [rec : set_fact]",
            "TASK [rec : debug]",
            "TASK [include_role : rec]",
        ]);
    }
    assert_eq!(banners, want, "{r:?}");
    assert!(r.stdout.contains("\"msg\": \"depth 3\""), "{r:?}");
    assert_eq!(
        r.stdout.matches("included: rec for localhost").count(),
        2,
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("include_role nests too deeply: the role includes itself without end"),
        "{r:?}"
    );
    // ok=8 skipped=1 from the first play (as ansible-playbook), then 65
    // includes (64 roles loaded at run time) and the failure in the second.
    assert_eq!(recap(&r, "localhost"), [8 + 65, 0, 0, 1, 1, 0, 0], "{r:?}");
}
