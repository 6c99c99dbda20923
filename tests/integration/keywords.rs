//! Keywords ansible-core accepts in more places or templates: block-level
//! `notify`/`delegate_to`/`delegate_facts`/`run_once`, templated variable
//! names (`set_fact` keys, `loop_var`), templated `strategy` and `tags`.
//! Expected values are ansible-core 2.19's on the same playbooks.

use crate::common::Project;

/// Local hosts h1..hN in group `app`, and `ctl` beside them.
fn app_hosts(p: &Project, n: usize) {
    let hosts: String = (1..=n)
        .map(|i| format!("h{i} ansible_connection=local\n"))
        .collect();
    p.write(
        "hosts.ini",
        &format!("[app]\n{hosts}[other]\nctl ansible_connection=local\n"),
    );
}

/// The banners and per-host lines of a run, without blank lines and
/// result bodies.
fn outline(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| {
            l.starts_with("TASK [")
                || l.starts_with("RUNNING HANDLER [")
                || l.starts_with("ok: [")
                || l.starts_with("changed: [")
                || l.starts_with("skipping: [")
                || l.starts_with("fatal: [")
        })
        .map(|l| match l.find(" => ") {
            Some(i) => l[..i].to_owned(),
            None => l.trim_end_matches(&['*', ' '][..]).to_owned(),
        })
        .collect()
}

#[test]
fn block_notify_delegate_to_delegate_facts_and_run_once_reach_its_tasks() {
    let p = Project::new();
    app_hosts(&p, 2);
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  tasks:
    - name: a notifying block
      notify: h1
      block:
        - name: changes
          command: "true"
        - name: own notify
          command: "true"
          notify: h2
    - name: a task's empty notify wins
      notify: h3
      block:
        - block:
            - name: notifies nothing
              command: "true"
              notify: []
    - name: a delegated block
      delegate_to: ctl
      delegate_facts: true
      block:
        - name: delegated
          command: "true"
        - name: facts to ctl
          set_fact:
            given: "{{ inventory_hostname }}"
          when: inventory_hostname == 'h2'
    - name: a run_once block
      run_once: true
      block:
        - name: once
          command: echo {{ inventory_hostname }}
          register: once
    - name: results
      copy:
        content: "{{ once.stdout }} {{ hostvars['ctl'].given }} {{ given | default('-') }}\n"
        dest: "{{ root }}/{{ inventory_hostname }}"
  handlers:
    - name: h1
      debug: msg=h1
    - name: h2
      debug: msg=h2
    - name: h3
      debug: msg=h3
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    let mut lines = outline(&r.stdout);
    // Hosts within a task in any order: sort each task's lines.
    let mut sorted = Vec::new();
    let mut group: Vec<String> = Vec::new();
    for l in lines.drain(..) {
        if l.starts_with("TASK [") || l.starts_with("RUNNING HANDLER [") {
            group.sort();
            sorted.append(&mut group);
            sorted.push(l);
        } else {
            group.push(l);
        }
    }
    group.sort();
    sorted.append(&mut group);
    let expected = [
        "TASK [changes]",
        "changed: [h1]",
        "changed: [h2]",
        "TASK [own notify]",
        "changed: [h1]",
        "changed: [h2]",
        "TASK [notifies nothing]",
        "changed: [h1]",
        "changed: [h2]",
        "TASK [delegated]",
        "changed: [h1 -> ctl]",
        "changed: [h2 -> ctl]",
        "TASK [facts to ctl]",
        "ok: [h2 -> ctl]",
        "skipping: [h1]",
        "TASK [once]",
        "changed: [h1]",
        "TASK [results]",
        "changed: [h1]",
        "changed: [h2]",
        "RUNNING HANDLER [h1]",
        "ok: [h1]",
        "ok: [h2]",
        "RUNNING HANDLER [h2]",
        "ok: [h1]",
        "ok: [h2]",
    ];
    assert_eq!(sorted, expected, "{r:?}");
    assert_eq!(p.read("h1"), "h1 h2 -\n");
    assert_eq!(p.read("h2"), "h1 h2 -\n");
}

#[test]
fn play_run_once_applies_to_its_tasks() {
    let p = Project::new();
    app_hosts(&p, 2);
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  run_once: true
  tasks:
    - name: once
      command: echo {{ inventory_hostname }}
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        outline(&r.stdout),
        ["TASK [once]", "changed: [h1]"],
        "{r:?}"
    );
}

#[test]
fn include_keywords_ansible_refuses_and_block_keyword_mistakes_are_located() {
    let p = Project::new();
    p.write("inc.yml", "- debug: msg=x\n");
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - include_tasks: inc.yml
      become: true
    - include_role:
        name: r
      delegate_to: localhost
    - notfy: h
      block:
        - debug: msg=x
    - notify: nosuch
      block:
        - debug: msg=x
        - debug: msg=y
  handlers:
    - name: h
      debug: msg=h
"#,
    );
    p.write("roles/r/tasks/main.yml", "- debug: msg=r\n");
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    for (at, msg) in [
        (
            "site.yml:5:7",
            "`become` is not a valid keyword for include_tasks",
        ),
        (
            "site.yml:8:7",
            "`delegate_to` is not a valid keyword for include_role",
        ),
        ("site.yml:9:7", "`notfy` is not a valid block keyword"),
        ("site.yml:12:15", "the handler 'nosuch' is notified"),
    ] {
        assert!(r.stderr.contains(&format!("--> {at}")), "{at}: {r:?}");
        assert!(r.stderr.contains(msg), "{msg}: {r:?}");
    }
    assert!(r.stderr.contains("did you mean `notify`?"), "{r:?}");
    // The block's notify is reported once, not once per task.
    assert_eq!(r.stderr.matches("'nosuch'").count(), 1, "{r:?}");
    assert!(r.stderr.contains("4 problems found"), "{r:?}");
}

#[test]
fn templated_set_fact_names_and_loop_var_are_rendered_and_checked() {
    let p = Project::new();
    p.write(
        "inc.yml",
        "- set_fact:\n    seen: \"{{ seen + [thing] }}\"\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  vars:
    var_name: dyn
    lvname: thing
    seen: []
  tasks:
    - set_fact: "{{ 'x' + item }}={{ item }}"
      loop: [a, b]
    - set_fact:
        "{{ var_name }}": value
        "{{ var_name }}_2": 2
        plain: 3
    - debug: msg="{{ thing }}"
      loop: [1, 2]
      loop_control:
        loop_var: "{{ lvname }}"
        index_var: "{{ 'i' ~ 'dx' }}"
      register: r
    - include_tasks: inc.yml
      loop: [x, y]
      loop_control:
        loop_var: "{{ lvname }}"
    - copy:
        content: "{{ xa }} {{ xb }} {{ dyn }} {{ dyn_2 | type_debug }} {{ plain }} {{ r.results | map(attribute='thing') | list }} {{ r.results[1].ansible_loop_var }} {{ r.results[1].idx }} {{ seen }}\n"
        dest: "{{ root }}/out"
    - set_fact:
        "{{ 'bad-name' }}": 1
      ignore_errors: true
    - set_fact: "{{ '1x' }}=1"
      ignore_errors: true
    - set_fact:
        "{{ undefined_thing }}": 1
      ignore_errors: true
    - debug: msg="{{ item }}"
      loop: [4]
      loop_control:
        loop_var: "{{ 'None' }}"
      ignore_errors: true
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("out"), "a b value int 3 [1, 2] thing 1 ['x', 'y']\n");
    assert!(
        r.stdout.contains("Invalid variable name 'bad-name'."),
        "{r:?}"
    );
    assert!(r.stdout.contains("Invalid variable name '1x'."), "{r:?}");
    assert!(r.stdout.contains("'undefined_thing' is undefined"), "{r:?}");
    assert!(r.stdout.contains("Invalid variable name 'None'."), "{r:?}");
    // ansible-core: ok=12 ... ignored=4.
    assert_eq!(
        crate::common::recap(&r, "localhost"),
        [12, 1, 0, 0, 0, 0, 4]
    );
}

#[test]
fn templated_names_with_bad_jinja_are_refused_at_load() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - set_fact:
        "{{ name ": 1
    - debug: msg=x
      loop: [1]
      loop_control:
        loop_var: "{{ x }"
    - debug: msg=x
      loop: [1]
      loop_control:
        loop_var: not-a-name
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("--> site.yml:5:9"), "{r:?}");
    assert!(r.stderr.contains("--> site.yml:9:19"), "{r:?}");
    assert!(r.stderr.contains("--> site.yml:13:19"), "{r:?}");
    assert!(
        r.stderr.contains("`loop_var` must be a variable name"),
        "{r:?}"
    );
}

/// A playbook with roles, blocks, includes, meta, never and templated tags,
/// whose listings are compared with ansible-playbook 2.19's.
fn listing_project() -> Project {
    let p = Project::new();
    p.write(
        "hosts.ini",
        "localhost ansible_connection=local hv=fromhost\n",
    );
    p.write("roles/r/defaults/main.yml", "rd: roledefault\n");
    p.write(
        "roles/r/tasks/main.yml",
        "- name: role task\n  debug: msg=r\n  tags: [\"{{ rd }}\"]\n- debug: msg=unnamed\n",
    );
    p.write("inc.yml", "- debug: msg=inc\n");
    p.write(
        "site.yml",
        r#"- name: listed
  hosts: localhost
  gather_facts: false
  tags: [ptag]
  vars:
    pv: playvar
  roles:
    - role: r
      tags: [rtag]
    - r
  tasks:
    - name: z task
      debug: msg=x
      tags: [zeta, alpha, Beta, "10", "9"]
    - ansible.builtin.debug: msg=unnamed-fqcn
    - meta: flush_handlers
    - name: never task
      debug: msg=n
      tags: [never, nev]
    - name: blk
      tags: [btag]
      block:
        - name: in block
          debug: msg=b
      rescue:
        - name: in rescue
          debug: msg=r
          tags: [rescuetag]
      always:
        - name: in always
          debug: msg=a
    - name: templated
      debug: msg=t
      tags: ["{{ pv }}", "{{ ev | default('noev') }}", "{{ hv | default('nohv') }}", "a,b"]
    - include_tasks: inc.yml
      tags: [itag]
    - include_role: {name: r}
- hosts: localhost
  gather_facts: false
  tasks:
    - name: t
      debug: msg=x
"#,
    );
    p
}

fn list(p: &Project, args: &[&str]) -> String {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(p.path())
        .args(["apply", "site.yml", "-i", "hosts.ini"])
        .args(args);
    let r = crate::common::run(c);
    assert_eq!(r.code, 0, "{r:?}");
    r.stdout
}

#[test]
fn list_tasks_selects_sorts_and_renders_tags_as_ansible_playbook() {
    let p = listing_project();
    // ansible-playbook 2.19 --list-tasks
    assert_eq!(
        list(&p, &["--list-tasks"]),
        "
playbook: site.yml

  play #1 (localhost): listed\tTAGS: [ptag]
    tasks:
      r : role task\tTAGS: [ptag, roledefault, rtag]
      debug\tTAGS: [ptag, rtag]
      r : role task\tTAGS: [ptag, roledefault]
      debug\tTAGS: [ptag]
      z task\tTAGS: [10, 9, Beta, alpha, ptag, zeta]
      ansible.builtin.debug\tTAGS: [ptag]
      meta\tTAGS: [ptag]
      in block\tTAGS: [btag, ptag]
      templated\tTAGS: [a,b, noev, nohv, playvar, ptag]
      include_tasks\tTAGS: [itag, ptag]
      include_role\tTAGS: [ptag]

  play #2 (localhost): localhost\tTAGS: []
    tasks:
      t\tTAGS: []
"
    );
    assert_eq!(
        list(&p, &["--list-tasks", "-t", "zeta,playvar"]),
        "
playbook: site.yml

  play #1 (localhost): listed\tTAGS: [ptag]
    tasks:
      z task\tTAGS: [10, 9, Beta, alpha, ptag, zeta]
      templated\tTAGS: [a,b, noev, nohv, playvar, ptag]

  play #2 (localhost): localhost\tTAGS: []
    tasks:
"
    );
    assert_eq!(
        list(&p, &["--list-tasks", "-t", "never"]),
        "
playbook: site.yml

  play #1 (localhost): listed\tTAGS: [ptag]
    tasks:
      never task\tTAGS: [nev, never, ptag]

  play #2 (localhost): localhost\tTAGS: []
    tasks:
"
    );
    assert_eq!(
        list(
            &p,
            &["--list-tasks", "--skip-tags", "rtag,btag", "-e", "ev=extra"]
        ),
        "
playbook: site.yml

  play #1 (localhost): listed\tTAGS: [ptag]
    tasks:
      r : role task\tTAGS: [ptag, roledefault]
      debug\tTAGS: [ptag]
      z task\tTAGS: [10, 9, Beta, alpha, ptag, zeta]
      ansible.builtin.debug\tTAGS: [ptag]
      meta\tTAGS: [ptag]
      templated\tTAGS: [a,b, extra, nohv, playvar, ptag]
      include_tasks\tTAGS: [itag, ptag]
      include_role\tTAGS: [ptag]

  play #2 (localhost): localhost\tTAGS: []
    tasks:
      t\tTAGS: []
"
    );
}

#[test]
fn list_tags_includes_never_unless_tags_are_selected_as_ansible_playbook() {
    let p = listing_project();
    assert_eq!(
        list(&p, &["--list-tags"]),
        "
playbook: site.yml

  play #1 (localhost): listed\tTAGS: [ptag]
      TASK TAGS: [10, 9, Beta, a,b, alpha, btag, itag, nev, never, noev, nohv, playvar, ptag, roledefault, rtag, zeta]

  play #2 (localhost): localhost\tTAGS: []
      TASK TAGS: []
"
    );
    assert_eq!(
        list(&p, &["--list-tags", "--list-tasks", "-t", "untagged"]),
        "
playbook: site.yml

  play #1 (localhost): listed\tTAGS: [ptag]
    tasks:
      TASK TAGS: [ptag]

  play #2 (localhost): localhost\tTAGS: []
    tasks:
      t\tTAGS: []
      TASK TAGS: []
"
    );
}

#[test]
fn templated_tags_use_play_and_extra_vars_not_host_or_task_vars() {
    let p = Project::new();
    p.write(
        "hosts.ini",
        "localhost ansible_connection=local hv=fromhost\n",
    );
    p.write(
        "inc.yml",
        "- name: included tag\n  debug: msg=inc\n  tags: [\"{{ iv | default('noiv') }}\", \"{{ hv | default('nohv') }}\"]\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  vars:
    pv: playtag
  tasks:
    - name: play var tag
      debug: msg=pv
      tags: "{{ pv }}"
    - name: extra var tag
      debug: msg=ev
      tags: ["{{ ev | default('noev') }}", other]
    - name: host var tag
      debug: msg=hv
      tags: "{{ hv | default('nohv') }}"
    - name: task var tag
      debug: msg=tv
      vars:
        tv: tasktag
      tags: "{{ tv | default('notv') }}"
    - name: list var
      debug: msg=lv
      tags: "{{ lv }}"
    - include_tasks: inc.yml
      vars: {iv: incvar}
      tags: always
"#,
    );
    let banners = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["-e", "ev=extratag", "-e", r#"{"lv": ["l1", "l2"]}"#];
        all.extend_from_slice(args);
        let r = p.hoist("apply", &all);
        assert_eq!(r.code, 0, "{r:?}");
        r.stdout
            .lines()
            .filter(|l| l.starts_with("TASK ["))
            .map(|l| l.trim_end_matches(&['*', ' '][..]).to_owned())
            .collect()
    };
    // As ansible-playbook 2.19 selects them.
    assert_eq!(
        banners(&["-t", "l2,tasktag,playtag,fromhost,nohv"]),
        [
            "TASK [play var tag]",
            "TASK [host var tag]",
            "TASK [list var]",
            "TASK [include_tasks]",
            "TASK [included tag]",
        ]
    );
    assert_eq!(
        banners(&["-t", "extratag,notv,incvar"]),
        [
            "TASK [extra var tag]",
            "TASK [task var tag]",
            "TASK [include_tasks]",
            "TASK [included tag]",
        ]
    );
    assert_eq!(
        banners(&["-t", "tasktag,fromhost,noiv"]),
        ["TASK [include_tasks]"]
    );
}

#[test]
fn a_tag_that_cannot_be_templated_stops_the_run_after_the_play_banner() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: undefined tag
      debug: msg=u
      tags: "{{ nope }}"
    - name: other
      debug: msg=o
"#,
    );
    // ansible-playbook: exit 1, the PLAY banner and no task, no recap.
    let r = p.apply();
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("PLAY [localhost]"), "{r:?}");
    assert!(!r.stdout.contains("TASK ["), "{r:?}");
    assert!(!r.stdout.contains("PLAY RECAP"), "{r:?}");
    assert!(r.stderr.contains("site.yml:4:7"), "{r:?}");
    assert!(r.stderr.contains("'nope' is undefined"), "{r:?}");
    // The listing stops after the play's line, also with exit 1.
    let r = p.hoist("apply", &["--list-tasks"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.stdout,
        "\nplaybook: site.yml\n\n  play #1 (localhost): localhost\tTAGS: []\n"
    );
    // --list-hosts alone does not render tags.
    let r = p.hoist("apply", &["--list-hosts"]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn tag_selection_of_always_never_and_fact_gathering_as_ansible() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  tags: [ptag]
  tasks:
    - name: zeta
      debug: msg=x
      tags: zeta
    - name: always and never
      debug: msg=x
      tags: [always, never]
- hosts: localhost
  tasks:
    - name: untagged
      debug: msg=y
    - name: always
      debug: msg=y
      tags: always
"#,
    );
    let banners = |args: &[&str]| -> Vec<String> {
        let r = p.hoist("apply", args);
        assert_eq!(r.code, 0, "{r:?}");
        r.stdout
            .lines()
            .filter(|l| l.starts_with("TASK [") || l.starts_with("PLAY ["))
            .map(|l| l.trim_end_matches(&['*', ' '][..]).to_owned())
            .collect()
    };
    // ansible-core gathers facts in a tagged play only when the play's
    // tags are selected; `always` outranks `never`; `--skip-tags all`
    // keeps `always` tasks.
    assert_eq!(
        banners(&["-t", "zeta"]),
        [
            "PLAY [localhost]",
            "TASK [zeta]",
            "TASK [always and never]",
            "PLAY [localhost]",
            "TASK [Gathering Facts]",
            "TASK [always]",
        ]
    );
    assert_eq!(
        banners(&["--skip-tags", "all"]),
        [
            "PLAY [localhost]",
            "TASK [always and never]",
            "PLAY [localhost]",
            "TASK [Gathering Facts]",
            "TASK [always]",
        ]
    );
    assert_eq!(
        banners(&["--skip-tags", "always"]),
        [
            "PLAY [localhost]",
            "TASK [Gathering Facts]",
            "TASK [zeta]",
            "PLAY [localhost]",
            "TASK [untagged]",
        ]
    );
}

#[test]
fn templated_strategy_is_rendered_when_the_play_starts() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  strategy: "{{ s | default(play_strategy) }}"
  vars:
    play_strategy: linear
  tasks:
    - add_host:
        name: newhost
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    // add_host cannot run under free: the play does not start (exit 1).
    let r = p.hoist("apply", &["-e", "s=free"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("bypasses the host loop"), "{r:?}");
    let r = p.hoist("apply", &["-e", "s=bogus"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("Invalid play strategy specified: bogus"),
        "{r:?}"
    );
    // ansible-playbook: exit 4 before the PLAY banner.
    p.write(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  strategy: \"{{ nope }}\"\n  tasks:\n    - debug: msg=x\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(!r.stdout.contains("PLAY ["), "{r:?}");
    assert!(
        r.stderr
            .contains("site.yml:3:13: Error processing keyword 'strategy': 'nope' is undefined"),
        "{r:?}"
    );
}

#[test]
fn force_handlers_option_is_the_default_of_the_play_keyword() {
    let p = Project::new();
    app_hosts(&p, 2);
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  tasks:
    - command: "true"
      notify: h
    - fail: msg=x
      when: inventory_hostname == 'h1'
  handlers:
    - name: h
      debug: msg=handler-ran
- hosts: h2
  gather_facts: false
  force_handlers: false
  tasks:
    - command: "true"
      notify: h
    - fail: msg=x
  handlers:
    - name: h
      debug: msg=handler-not-forced
"#,
    );
    let handled = |args: &[&str]| -> Vec<String> {
        // Each run on its own: not the handlers the last one left pending.
        let _ = std::fs::remove_dir_all(p.path().join(".hoist"));
        let r = p.hoist("apply", args);
        assert_eq!(r.code, 2, "{r:?}");
        let mut hosts: Vec<String> = r
            .stdout
            .split("RUNNING HANDLER [h]")
            .skip(1)
            .flat_map(|part| {
                part.lines()
                    .take_while(|l| !l.starts_with("PLAY") && !l.starts_with("TASK"))
                    .filter(|l| l.starts_with("ok: ["))
                    .map(|l| l[5..l.find(']').unwrap_or(5)].to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        hosts.sort();
        hosts
    };
    // ansible-playbook 2.19: with --force-handlers the failed h1 runs the
    // first play's handler too; the second play's `force_handlers: false`
    // wins over the option.
    assert_eq!(handled(&[]), ["h2"]);
    assert_eq!(handled(&["--force-handlers"]), ["h1", "h2"]);
}

#[test]
fn a_dependency_entry_passes_its_when_and_tags_to_the_dependency() {
    let p = Project::new();
    p.write(
        "roles/a/meta/main.yml",
        "dependencies:\n  - role: b\n    tags: [fromdep]\n    when: dep_on | default(false)\n",
    );
    p.write("roles/a/tasks/main.yml", "- name: a task\n  debug: msg=a\n");
    p.write("roles/b/tasks/main.yml", "- name: b task\n  debug: msg=b\n");
    p.write(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  roles: [a]\n",
    );
    let lines = |args: &[&str]| -> Vec<String> {
        let r = p.hoist("apply", args);
        assert_eq!(r.code, 0, "{r:?}");
        r.stdout
            .lines()
            .filter(|l| {
                l.starts_with("TASK [") || l.starts_with("ok: [") || l.starts_with("skipping: [")
            })
            .map(|l| {
                l.split(" =>")
                    .next()
                    .unwrap_or(l)
                    .trim_end_matches(&['*', ' '][..])
                    .to_owned()
            })
            .collect()
    };
    // As ansible-playbook 2.19 runs it.
    assert_eq!(
        lines(&[]),
        [
            "TASK [b : b task]",
            "skipping: [localhost]",
            "TASK [a : a task]",
            "ok: [localhost]",
        ]
    );
    assert_eq!(
        lines(&["-t", "fromdep", "-e", r#"{"dep_on": true}"#]),
        ["TASK [b : b task]", "ok: [localhost]"]
    );
    let r = p.hoist("apply", &["--list-tasks"]);
    assert!(r.stdout.contains("b : b task\tTAGS: [fromdep]"), "{r:?}");
}

/// The `diff` keyword turns diff output on or off per task, with or
/// without `--diff`; each unified diff is followed by an empty line (as
/// ansible-playbook 2.19 prints them).
#[test]
fn diff_keyword_shows_or_hides_a_tasks_diff() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - copy: {content: "a\n", dest: "{{ root }}/f1"}
      diff: true
    - copy: {content: "b\n", dest: "{{ root }}/f2"}
    - copy: {content: "c\n", dest: "{{ root }}/f3"}
      diff: false
"#,
    );
    let root = p.root();
    let banner =
        "TASK [copy] ********************************************************************\n";
    let diff = |n: u32, c: char| {
        format!(
            "--- before\n+++ after: {}/f{n}\n@@ -0,0 +1 @@\n+{c}\n\n",
            root.display()
        )
    };
    let body = |shown: &[bool; 3]| {
        let mut s = String::new();
        for (i, (on, c)) in shown.iter().zip(['a', 'b', 'c']).enumerate() {
            s.push_str(banner);
            if *on {
                s.push_str(&diff(i as u32 + 1, c));
            }
            s.push_str("changed: [localhost]\n\n");
        }
        s
    };
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains(&body(&[true, false, false])), "{r:?}");
    for f in ["f1", "f2", "f3"] {
        std::fs::remove_file(root.join(f)).expect("remove");
    }
    let r = p.hoist("apply", &["--diff"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains(&body(&[true, true, false])), "{r:?}");
}
