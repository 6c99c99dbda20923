//! Control flow: blocks with rescue/always, import_tasks, include_tasks.

use crate::common::{Project, app_hosts, host_results, recap};

#[test]
fn block_rescue_always_as_ansible() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: protected
      block:
        - copy: content=one dest={{ root }}/one
        - command: /bin/false
        - copy: content=never dest={{ root }}/never
      rescue:
        - copy:
            content: "rescued {{ ansible_failed_task.name }} rc={{ ansible_failed_result.rc }}\n"
            dest: "{{ root }}/rescued"
      always:
        - copy: content=always dest={{ root }}/always
    - name: conditions and tags pass down
      when: false
      tags: [skipme]
      block:
        - copy: content=x dest={{ root }}/not-run
    - block:
        - fail: msg="no rescue here"
      always:
        - copy: content=still dest={{ root }}/always2
    - copy: content=x dest={{ root }}/after-failure
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(p.read("one"), "one");
    assert!(!p.root().join("never").exists());
    // Ansible names an unnamed task "" here.
    assert_eq!(p.read("rescued"), "rescued  rc=1\n");
    assert_eq!(p.read("always"), "always");
    assert!(!p.root().join("not-run").exists());
    assert_eq!(p.read("always2"), "still");
    assert!(!p.root().join("after-failure").exists());
    let [ok, _changed, _, failed, skipped, rescued, _] = recap(&r, "localhost");
    // The same numbers ansible-core reports for this playbook.
    assert_eq!((ok, failed, skipped, rescued), (4, 1, 1, 1), "{r:?}");
}

#[test]
fn import_and_include_tasks() {
    let p = Project::new();
    p.write(
        "tasks/common.yml",
        "- copy:\n    content: \"{{ greeting }} {{ item | default('-') }}\\n\"\n    dest: \"{{ root }}/{{ item | default('common') }}\"\n- import_tasks: nested.yml\n",
    );
    p.write(
        "tasks/nested.yml",
        "- copy: content=nested dest={{ root }}/nested-{{ item | default('x') }}\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  vars:
    greeting: hello
  tasks:
    - import_tasks: tasks/common.yml
      vars:
        greeting: imported
    - include_tasks: tasks/common.yml
      loop: [a, b]
    - include_tasks: "tasks/{{ which }}.yml"
      vars:
        which: nested
        item: dyn
    - include_tasks: tasks/common.yml
      when: false
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("common"), "imported -\n");
    assert_eq!(p.read("a"), "hello a\n");
    assert_eq!(p.read("b"), "hello b\n");
    assert_eq!(p.read("nested-a"), "nested");
    assert_eq!(p.read("nested-dyn"), "nested");
    assert!(r.stdout.contains("included: "), "{r:?}");
    assert!(r.stdout.contains("for localhost => (item=a)"), "{r:?}");
    let again = p.apply();
    assert_eq!(recap(&again, "localhost")[1], 0, "{again:?}");
}

#[test]
fn import_errors_are_located_at_load_time() {
    let p = Project::new();
    p.write("tasks/bad.yml", "- copi: content=x dest=/tmp/x\n");
    p.write(
        "site.yml",
        "- hosts: localhost\n  tasks:\n    - import_tasks: tasks/bad.yml\n    - import_tasks: tasks/missing.yml\n    - block:\n        - debug: msg=x\n      recsue: []\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("tasks/bad.yml:1:3"), "{r:?}");
    assert!(
        r.stderr.contains("'tasks/missing.yml' was not found"),
        "{r:?}"
    );
    assert!(r.stderr.contains("did you mean `rescue`?"), "{r:?}");
}

#[test]
fn lookup_loops_and_until_retries() {
    let p = Project::new();
    p.write("files/a.conf", "a");
    p.write("files/b.conf", "b");
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  vars:
    users:
      - name: alice
        keys: [k1, k2]
      - name: bob
        keys: [k3]
  tasks:
    - copy: src={{ item }} dest={{ root }}/
      with_fileglob: ["{{ playbook_dir }}/files/*.conf"]
    - copy: content="{{ item.0 }}{{ item.1 }}" dest={{ root }}/nested-{{ item.0 }}{{ item.1 }}
      with_nested: [[x, y], [1, 2]]
    - copy: content="{{ item.0.name }}:{{ item.1 }}" dest={{ root }}/key-{{ item.1 }}
      with_subelements: [ "{{ users }}", keys ]
    - copy: content="{{ item }}" dest={{ root }}/seq-{{ item }}
      with_sequence: start=1 end=3 format=n%02d
    - copy: content="{{ item }}" dest={{ root }}/first
      with_first_found:
        - "{{ playbook_dir }}/files/missing.conf"
        - "{{ playbook_dir }}/files/b.conf"
    - shell: "n=$(cat {{ root }}/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{ root }}/count; echo $n"
      register: counter
      until: counter.stdout | int >= 3
      retries: 5
      delay: 0
    - assert:
        that: counter.attempts == 3
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("a.conf"), "a");
    assert_eq!(p.read("nested-y2"), "y2");
    assert_eq!(p.read("key-k3"), "bob:k3");
    assert_eq!(p.read("seq-n02"), "n02");
    assert!(p.read("first").ends_with("files/b.conf"));
    assert_eq!(p.read("count"), "3\n");
    assert_eq!(
        r.stdout.matches("FAILED - RETRYING: [localhost]").count(),
        2,
        "{r:?}"
    );
}

#[test]
fn delegate_to_local_action_and_run_once() {
    let p = Project::new();
    p.write(
        "hosts.ini",
        "ghost ansible_connection=bogus who=ghost\n[pair]\np1 ansible_connection=local\np2 ansible_connection=local\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: ghost
  gather_facts: false
  tasks:
    - copy:
        content: "written for {{ inventory_hostname }} ({{ who }})\n"
        dest: "{{ root }}/delegated"
      delegate_to: localhost
    - local_action: copy content=local dest={{ root }}/local-action
- hosts: pair
  gather_facts: false
  tasks:
    - shell: echo $$
      register: once
      run_once: true
    - copy:
        content: "{{ once.stdout }}\n"
        dest: "{{ root }}/once-{{ inventory_hostname }}"
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("delegated"), "written for ghost (ghost)\n");
    assert_eq!(p.read("local-action"), "local");
    assert_eq!(p.read("once-p1"), p.read("once-p2"));
    let shell_task = r.stdout.split("TASK [shell]").nth(1).unwrap_or_default();
    let shell_task = shell_task.split("TASK [").next().unwrap_or_default();
    assert_eq!(shell_task.matches("changed: [").count(), 1, "{r:?}");
}

#[test]
fn include_vars_file_dir_and_name() {
    let p = Project::new();
    p.write("vars/main.yml", "colour: blue\nsize: 3\n");
    p.write("vars/env/10-base.yml", "region: eu\n");
    p.write("vars/env/20-over.yml", "region: us\nzone: b\n");
    p.write("vars/env/skip.txt", "notloaded: yes\n");
    p.write(
        "vars/env/sub/30-deep.json",
        "{\"deep\": 1, \"zone\": \"c\"}\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - include_vars: main.yml
    - name: a file of another extension fails the task
      include_vars:
        dir: vars/env
      register: bad
      ignore_errors: true
    - name: unless unknown extensions are ignored
      include_vars:
        dir: vars/env
        ignore_unknown_extensions: true
      register: all_files
    - name: or the file is ignored, and only some names match, one level down
      include_vars:
        dir: vars/env
        ignore_files: [skip.txt]
        files_matching: '^[12]'
        depth: 1
        name: matched
    - include_vars:
        file: main.yml
        name: settings
    - copy:
        content: "{{ colour }} {{ size }} {{ region }} {{ zone }} {{ deep }} {{ settings.colour }} {{ notloaded | default('-') }} {{ matched }} {{ all_files.ansible_included_var_files | map('basename') | list }} {{ bad.ansible_included_var_files | map('basename') | list }}\n"
        dest: "{{ root }}/vars"
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    // ansible-core 2.19: the directory's own files in name order, then its
    // subdirectories'; a .txt file fails the task after the files before it.
    assert_eq!(
        p.read("vars"),
        "blue 3 us c 1 blue - {'region': 'us', 'zone': 'b'} ['10-base.yml', '20-over.yml', '30-deep.json'] ['10-base.yml', '20-over.yml']\n"
    );
    let bad = format!(
        "{}/vars/env/skip.txt does not have a valid extension: yaml, yml, json",
        p.path().display()
    );
    assert!(r.stdout.contains(&bad), "{r:?}");
    assert_eq!(crate::common::recap(&r, "localhost"), [6, 1, 0, 0, 0, 0, 1]);
}

#[test]
fn serial_runs_the_play_in_batches() {
    let p = Project::new();
    app_hosts(&p, 5);
    p.write(
        "site.yml",
        r#"- name: rolling
  hosts: app
  gather_facts: false
  serial: [1, "50%"]
  tasks:
    - shell: echo "{{ ansible_play_batch | join(',') }}" >> {{ root }}/batches
      run_once: true
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("batches"), "h1\nh2,h3\nh4,h5\n");
    assert_eq!(r.stdout.matches("PLAY [rolling]").count(), 3, "{r:?}");
}

/// Check mode does not lie: a task that uses the result of a command
/// check mode could not run is skipped with the reason, not failed.
#[test]
fn check_mode_skips_tasks_that_depend_on_unpredicted_commands() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - command: cat /etc/hostname
      register: host_name
    - copy:
        content: "{{ host_name.stdout }}\n"
        dest: "{{ root }}/name"
    - copy: content=plain dest={{ root }}/plain
"#,
    );
    let d = p.diff();
    assert_eq!(d.code, 2, "{d:?}");
    assert!(!d.stdout.contains("fatal"), "{d:?}");
    let [_, changed, _, failed, skipped, _, _] = recap(&d, "localhost");
    assert_eq!((changed, failed, skipped), (1, 0, 2), "{d:?}");
    let v = p.hoist("diff", &["-v"]);
    assert!(v.stdout.contains("depends on 'host_name'"), "{v:?}");
    let a = p.apply();
    assert_eq!(a.code, 0, "{a:?}");
}

#[test]
fn vars_prompt_uses_extra_vars_or_defaults_without_a_terminal() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  vars_prompt:
    - name: release
      prompt: Which release?
      default: "1.0"
      private: false
    - name: token
      prompt: Token
  tasks:
    - copy: content="{{ release }} {{ token }}" dest={{ root }}/answers
"#,
    );
    let r = p.hoist("apply", &["-e", "token=abc"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("answers"), "1.0 abc");
    let r = p.apply();
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("vars_prompt 'token' needs an answer"),
        "{r:?}"
    );
    assert!(r.stderr.contains("site.yml:8:7"), "{r:?}");
}

#[test]
fn max_fail_percentage_stops_later_batches() {
    let p = Project::new();
    app_hosts(&p, 4);
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  serial: 2
  max_fail_percentage: 0
  tasks:
    - fail: msg=broken
      when: inventory_hostname == 'h2'
    - copy: content=x dest={{ root }}/{{ inventory_hostname }}
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 2, "{r:?}");
    for h in ["h1", "h2", "h3", "h4"] {
        assert!(
            !p.root().join(h).exists(),
            "{h} did not get past the failure: {r:?}"
        );
    }
}

/// `max_failures` (hoist's): the failures of all batches count against
/// one budget; one more than it allows stops the play. (A batch whose
/// hosts all fail stops it anyway, as in Ansible: batches of two here.)
#[test]
fn max_failures_is_a_budget_across_batches() {
    let p = Project::new();
    app_hosts(&p, 6);
    let play = |budget: u32| {
        format!(
            r#"- hosts: app
  gather_facts: false
  serial: 2
  max_failures: {budget}
  tasks:
    - fail: msg=broken
      when: inventory_hostname in ['h2', 'h3']
    - copy: content=x dest={{{{ root }}}}/{{{{ inventory_hostname }}}}
"#
        )
    };
    // Two failures within a budget of two: every batch runs.
    p.write("site.yml", &play(2));
    let r = p.apply();
    assert_eq!(r.code, 2, "{r:?}");
    for h in ["h1", "h4", "h5", "h6"] {
        assert!(p.root().join(h).exists(), "{h} ran: {r:?}");
        std::fs::remove_file(p.root().join(h)).expect("rm");
    }
    // A budget of one: h3's failure is one too many; the play stops
    // there, before h4's next task and the last batch.
    p.write("site.yml", &play(1));
    let r = p.apply();
    assert_eq!(r.code, 2, "{r:?}");
    assert!(p.root().join("h1").exists(), "{r:?}");
    for h in ["h4", "h5", "h6"] {
        assert!(!p.root().join(h).exists(), "{h} did not run: {r:?}");
    }
    assert!(
        r.stderr
            .contains("more hosts of the play failed than max_failures (1) allows"),
        "{r:?}"
    );
    assert_eq!(recap(&r, "h3")[3], 1, "{r:?}");
    assert!(!r.stdout.contains("h5 "), "{r:?}");
    // Not a number of hosts: refused at load, with its place.
    p.write(
        "site.yml",
        "- hosts: app\n  gather_facts: false\n  max_failures: some\n  tasks: []\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("site.yml:3:17"), "{r:?}");
    assert!(
        r.stderr.contains("`max_failures` must be a whole number"),
        "{r:?}"
    );
}

#[test]
fn add_host_and_group_by_change_the_inventory_for_later_plays() {
    let p = Project::new();
    p.write(
        "hosts.ini",
        "[app]\na1 ansible_connection=local tier=gold\na2 ansible_connection=local tier=silver\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  tasks:
    - add_host:
        name: added
        groups: [dynamic]
        ansible_connection: local
        colour: green
    - group_by:
        key: "tier_{{ tier }}"
    - assert:
        that:
          - "'added' in groups['dynamic']"
          - hostvars['added'].colour == 'green'
- hosts: dynamic
  gather_facts: false
  tasks:
    - copy: content="{{ colour }}" dest={{ root }}/added
- hosts: tier_gold
  gather_facts: false
  tasks:
    - copy: content="{{ inventory_hostname }}" dest={{ root }}/gold
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("added"), "green");
    assert_eq!(p.read("gold"), "a1");
    let add_task = r.stdout.split("TASK [add_host]").nth(1).unwrap_or_default();
    let add_task = add_task.split("TASK [").next().unwrap_or_default();
    assert_eq!(
        add_task.matches(": [").count(),
        1,
        "add_host runs once: {r:?}"
    );
}

#[test]
fn meta_end_batch_and_end_play_with_when_as_ansible() {
    let p = Project::new();
    app_hosts(&p, 4);
    p.write(
        "site.yml",
        r#"- name: batches
  hosts: app
  gather_facts: false
  serial: 2
  tasks:
    - command: "true"
      notify: h
    # Run once: the first host of the batch decides for all of them.
    - meta: end_batch
      when: inventory_hostname in ['h1', 'h4']
    - shell: echo {{ inventory_hostname }} >> {{ root }}/after-end-batch
  handlers:
    - name: h
      shell: echo {{ inventory_hostname }} >> {{ root }}/handlers
- name: ended
  hosts: app
  gather_facts: false
  serial: 2
  tasks:
    - meta: end_play
      when: inventory_hostname == 'h2'
    - meta: end_play
      when: inventory_hostname == 'h1'
    - shell: echo {{ inventory_hostname }} >> {{ root }}/after-end-play
- name: next
  hosts: app
  gather_facts: false
  tasks:
    - shell: echo {{ inventory_hostname }} >> {{ root }}/next
"#,
    );
    let r = p.hoist("apply", &["-f", "1"]);
    assert_eq!(r.code, 0, "{r:?}");
    // h1 ended the first batch (no handlers either); h3 did not end the second.
    assert_eq!(p.read("after-end-batch"), "h3\nh4\n");
    assert_eq!(p.read("handlers"), "h3\nh4\n");
    // end_play ends the later batches too; the next play runs everywhere.
    assert!(!p.root().join("after-end-play").exists(), "{r:?}");
    assert_eq!(p.read("next"), "h1\nh2\nh3\nh4\n");
    assert_eq!(r.stdout.matches("PLAY [ended]").count(), 1, "{r:?}");
    // A skipped meta task shows for the host that decided, uncounted.
    assert!(r.stdout.contains("TASK [meta] ***"), "{r:?}");
    assert_eq!(r.stdout.matches("skipping: [h3]").count(), 1, "{r:?}");
    assert_eq!(r.stdout.matches("skipping: [h1]").count(), 1, "{r:?}");
    assert_eq!(recap(&r, "h1"), [2, 2, 0, 0, 0, 0, 0], "{r:?}");
    assert_eq!(recap(&r, "h3"), [4, 4, 0, 0, 0, 0, 0], "{r:?}");
}

#[test]
fn meta_skip_reason_is_ansibles() {
    let p = Project::new();
    app_hosts(&p, 2);
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  tasks:
    - meta: end_host
      when: inventory_hostname == 'h1'
    - meta: end_batch
      when: false
    - meta: noop
      when: false
    - meta: noop
      when: false
"#,
    );
    let r = p.hoist("apply", &["-v"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(r#"skipping: [h2] => {"msg": "end_host conditional evaluated to false, continuing execution for h2", "skip_reason": "end_host conditional evaluated to False, continuing execution for h2"}"#),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(r#"skipping: [h2] => {"msg": "end_batch", "skip_reason": "end_batch conditional evaluated to False, continuing current batch"}"#),
        "{r:?}"
    );
    // noop ignores `when`, warning once; it prints a banner per host.
    assert_eq!(
        r.stderr
            .matches("[WARNING]: noop task does not support when conditional")
            .count(),
        1,
        "{r:?}"
    );
    // end_host: 2 banners; end_batch: 1; each noop: 1 (h1 has ended).
    assert_eq!(r.stdout.matches("TASK [meta]").count(), 5, "{r:?}");
}

#[test]
fn meta_end_host_drops_its_handlers() {
    let p = Project::new();
    app_hosts(&p, 2);
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  tasks:
    - command: "true"
      notify: h
    - meta: end_host
      when: inventory_hostname == 'h1'
    - shell: echo {{ inventory_hostname }} >> {{ root }}/after
  handlers:
    - name: h
      shell: echo {{ inventory_hostname }} >> {{ root }}/handlers
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("after"), "h2\n");
    assert_eq!(p.read("handlers"), "h2\n");
}

#[test]
fn meta_clear_host_errors_brings_hosts_back_in_later_plays() {
    let p = Project::new();
    app_hosts(&p, 2);
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  tasks:
    - fail: msg=boom
      when: inventory_hostname == 'h1'
    - meta: clear_host_errors
    # As in ansible-core, h1 does not resume this play: it failed in the
    # play's own tasks, not in a block it could leave.
    - shell: echo {{ inventory_hostname }} >> {{ root }}/same-play
- hosts: app
  gather_facts: false
  tasks:
    - shell: echo {{ inventory_hostname }} >> {{ root }}/next-play
"#,
    );
    let r = p.hoist("apply", &["-f", "1"]);
    // The failure still counts in the recap, but no longer in the exit
    // code: ansible-core forgets the failed hosts (rc 0).
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("same-play"), "h2\n");
    assert_eq!(p.read("next-play"), "h1\nh2\n");
    assert_eq!(recap(&r, "h1"), [1, 1, 0, 1, 0, 0, 0], "{r:?}");
}

#[test]
fn meta_refresh_inventory_rereads_sources_and_keeps_add_host() {
    let p = Project::new();
    p.write("hosts.ini", "[app]\nh1 ansible_connection=local\n");
    p.write(
        "site.yml",
        r#"- hosts: h1
  gather_facts: false
  tasks:
    - add_host: name=added groups=app ansible_connection=local
    - shell: printf '[late]\nh9 ansible_connection=local colour=red\n' >> {{ playbook_dir }}/hosts.ini
    - meta: refresh_inventory
    - copy:
        content: "{{ groups.late }} {{ groups.app }} {{ hostvars.h9.colour }} {{ ansible_play_hosts }}\n"
        dest: "{{ root }}/groups"
- hosts: all
  gather_facts: false
  tasks:
    - shell: echo {{ inventory_hostname }} >> {{ root }}/all
"#,
    );
    let r = p.hoist("apply", &["-f", "1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("groups"), "['h9'] ['h1', 'added'] red ['h1']\n");
    let mut all: Vec<String> = p.read("all").lines().map(str::to_owned).collect();
    all.sort();
    assert_eq!(all, ["added", "h1", "h9"], "{r:?}");
}

#[test]
fn meta_clear_facts_forgets_gathered_facts_only() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: true
  gather_subset: [min]
  tasks:
    - set_fact: mine=kept
    - meta: clear_facts
    - copy:
        content: "{{ ansible_facts.hostname | default('cleared') }} {{ ansible_hostname | default('cleared') }} {{ mine }}\n"
        dest: "{{ root }}/facts"
    - meta: reset_connection
    - meta: noop
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("facts"), "cleared cleared kept\n");
}

#[test]
fn delegate_facts_gives_facts_to_the_delegated_host() {
    let p = Project::new();
    p.write(
        "hosts.ini",
        "[app]\nh1 ansible_connection=local\nh2 ansible_connection=local\n[aux]\nhelper ansible_connection=local\n",
    );
    p.write("vars/extra.yml", "from_file: yes\n");
    p.write(
        "site.yml",
        r#"- hosts: h1
  gather_facts: false
  tasks:
    - set_fact: given=1
      delegate_to: helper
      delegate_facts: true
      register: reg
    - set_fact: kept=1
      delegate_to: helper
    - setup:
        gather_subset: [min]
      delegate_to: helper
      delegate_facts: true
    - include_vars: vars/extra.yml
      delegate_to: helper
      delegate_facts: true
    - set_fact:
        per_item: "{{ item }}"
      delegate_to: "{{ item }}"
      delegate_facts: true
      loop: [h2, helper]
    - copy:
        content: |
          {{ hostvars.helper.given }} {{ given | default('-') }} {{ reg.ansible_facts.given }} {{ kept }}
          {{ hostvars.helper.ansible_facts.hostname is defined }} {{ ansible_facts.hostname | default('-') }}
          {{ hostvars.helper.from_file }} {{ from_file | default('-') }}
          {{ hostvars.h2.per_item }} {{ hostvars.helper.per_item }} {{ per_item | default('-') }}
        dest: "{{ root }}/h1"
- hosts: helper,h2
  gather_facts: false
  tasks:
    - copy:
        content: "{{ given | default('-') }} {{ ansible_facts.hostname is defined }} {{ from_file | default('-') }} {{ per_item }}\n"
        dest: "{{ root }}/{{ inventory_hostname }}"
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("h1"), "1 - 1 1\nTrue -\nTrue -\nh2 helper -\n");
    assert_eq!(p.read("helper"), "1 True True helper\n");
    assert_eq!(p.read("h2"), "- False - h2\n");
}

#[test]
fn set_fact_cacheable_also_makes_a_fact() {
    let p = Project::new();
    p.write(
        "hosts.ini",
        "[app]\nh1 ansible_connection=local\nh2 ansible_connection=local\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  tasks:
    - set_fact:
        cached: c
        cacheable: true
    - set_fact: plain=p
    - set_fact: kv=k cacheable=yes
    - set_fact:
        once: o
        cacheable: "{{ 'yes' }}"
      run_once: true
    - copy:
        content: "{{ ansible_facts.cached }} {{ ansible_facts.plain | default('-') }} {{ ansible_facts.kv }} {{ ansible_facts.once }} {{ cached }}\n"
        dest: "{{ root }}/{{ inventory_hostname }}-first"
- hosts: app
  gather_facts: false
  tasks:
    - copy:
        content: "{{ hostvars.h2.ansible_facts.cached }} {{ hostvars.h2.plain }}\n"
        dest: "{{ root }}/{{ inventory_hostname }}-later"
    - meta: clear_facts
    # clear_facts forgets the fact, not the variable set_fact made.
    - copy:
        content: "{{ ansible_facts.cached | default('-') }} {{ cached }} {{ plain }}\n"
        dest: "{{ root }}/{{ inventory_hostname }}-cleared"
    - set_fact: bad=1 cacheable=maybe
      ignore_errors: true
      register: bad
    - assert:
        that: "'not a valid boolean' in bad.msg"
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    for h in ["h1", "h2"] {
        assert_eq!(p.read(&format!("{h}-first")), "c - k o c\n");
        assert_eq!(p.read(&format!("{h}-later")), "c p\n");
        assert_eq!(p.read(&format!("{h}-cleared")), "- c p\n");
    }
}

/// What ansible-playbook 2.19 does with ignored failures, delegated result
/// labels, the play-host magic variables under `serial` and the recap of
/// hosts nothing was counted for (expected values taken from its output on
/// the same playbook).
#[test]
fn result_labels_ignored_changes_and_play_host_lists_as_ansible() {
    let p = Project::new();
    p.write(
        "hosts.ini",
        "[g]\nh1 ansible_connection=local\nh2 ansible_connection=local ansible_host=127.0.0.1\nh3 ansible_connection=local\n[idle]\nnobody ansible_connection=local\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: g
  gather_facts: false
  serial: 2
  tasks:
    - fail: msg=boom
      when: inventory_hostname == 'h1'
    - command: /bin/false
      ignore_errors: true
      notify: never
    - debug: msg="{{ ansible_play_hosts }} {{ ansible_play_hosts_all }} {{ ansible_play_batch }} {{ play_hosts }}"
      when: inventory_hostname == 'h2'
    - command: "true"
      delegate_to: "{{ item }}"
      loop: [h2, h3]
      when: inventory_hostname == 'h3'
  handlers:
    - name: never
      debug: msg=notified
- hosts: idle
  gather_facts: false
  tasks:
    - debug: msg=untagged
      tags: [other]
"#,
    );
    let r = p.hoist("apply", &["--skip-tags", "other"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stdout
            .contains(r#""msg": "['h2', 'h3'] ['h1', 'h2', 'h3'] ['h2'] ['h2']""#),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("changed: [h3 -> h2(127.0.0.1)] => (item=h2)"),
        "{r:?}"
    );
    assert!(r.stdout.contains("changed: [h3] => (item=h3)"), "{r:?}");
    // A loop whose items were all skipped ends with the host's skip line.
    assert!(
        r.stdout
            .contains("skipping: [h2] => (item=h3) \nskipping: [h2]\n"),
        "{r:?}"
    );
    assert!(
        !r.stdout.contains("notified"),
        "ignored failures notify nothing: {r:?}"
    );
    // The ignored command counts as changed; `nobody` ran nothing.
    assert_eq!(recap(&r, "h2"), [2, 1, 0, 0, 2, 0, 1]);
    assert_eq!(recap(&r, "h3"), [2, 2, 0, 0, 2, 0, 1]);
    assert!(!r.stdout.contains("nobody "), "{r:?}");
    let banner = r
        .stdout
        .lines()
        .find(|l| l.starts_with("PLAY RECAP"))
        .unwrap_or("");
    assert_eq!(banner.len(), 80, "{r:?}");
}

/// Loops as ansible-playbook 2.19 reports them: an ignored item failure
/// makes the task ignored (and changed), all-skipped loops end with the
/// host's skip line, partly skipped ones do not.
#[test]
fn loop_results_count_and_print_as_ansible() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - command: "{{ item }}"
      loop: ["true", "false"]
      ignore_errors: true
    - command: "{{ item }}"
      loop: ["true", "false"]
      when: item == 'nope'
    - command: "{{ item }}"
      loop: ["true", "false"]
      when: item == 'true'
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "localhost"), [2, 2, 0, 0, 1, 0, 1]);
    assert_eq!(
        r.stdout.matches("skipping: [localhost]\n").count(),
        1,
        "{r:?}"
    );
    assert!(
        r.stdout.contains("failed: [localhost] (item=false) => "),
        "{r:?}"
    );
    assert!(r.stdout.contains("...ignoring\n"), "{r:?}");
}

/// The playbook stops, as ansible-core's does, when any_errors_fatal fires,
/// when every host of a play fails, and when every host of a serial batch
/// fails: later batches and plays do not run (checked against
/// ansible-playbook 2.19 on the same playbooks).
#[test]
fn playbook_stops_when_a_play_breaks() {
    let hosts = "[g]\nh1 ansible_connection=local\nh2 ansible_connection=local\nh3 ansible_connection=local\n";
    let second = "- hosts: g\n  gather_facts: false\n  tasks:\n    - debug: msg=play2\n";
    for (first, code, recap_h2) in [
        (
            "- hosts: g\n  gather_facts: false\n  any_errors_fatal: true\n  tasks:\n    - fail: msg=x\n      when: inventory_hostname == 'h1'\n",
            2,
            Some([0, 0, 0, 0, 1, 0, 0]),
        ),
        (
            "- hosts: h1\n  gather_facts: false\n  tasks:\n    - fail: msg=x\n",
            2,
            None,
        ),
        (
            "- hosts: g\n  gather_facts: false\n  serial: 1\n  tasks:\n    - fail: msg=x\n      when: inventory_hostname == 'h1'\n",
            2,
            None,
        ),
    ] {
        let p = Project::new();
        p.write("hosts.ini", hosts);
        p.write("site.yml", &format!("{first}{second}"));
        let r = p.apply();
        assert_eq!(r.code, code, "{r:?}");
        assert!(
            !r.stdout.contains("play2"),
            "the second play must not run: {r:?}"
        );
        assert_eq!(recap(&r, "h1"), [0, 0, 0, 1, 0, 0, 0], "{r:?}");
        match recap_h2 {
            Some(want) => assert_eq!(recap(&r, "h2"), want, "{r:?}"),
            None => assert!(!r.stdout.contains("\nh2 "), "{r:?}"),
        }
    }
}

/// Ansible 2.19: a host counts as rescued when it enters a rescue, even if
/// the rescue fails; `meta: clear_host_errors` in the `always` then lets it
/// go on with the play (its failure still counted); `force_handlers` runs
/// notified handlers on a host that failed afterwards.
#[test]
fn rescued_counts_clear_host_errors_and_force_handlers_as_ansible() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - block:
        - fail: msg=one
      rescue:
        - fail: msg=two
      always:
        - meta: clear_host_errors
    - copy: content="goes on\n" dest={{ root }}/goes-on
- hosts: localhost
  gather_facts: false
  force_handlers: true
  tasks:
    - command: "true"
      notify: h
    - fail: msg=boom
    - copy: content=never dest={{ root }}/never
  handlers:
    - name: h
      copy: content="handled\n" dest={{ root }}/handled
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(p.read("goes-on"), "goes on\n");
    assert_eq!(p.read("handled"), "handled\n");
    assert!(!p.root().join("never").exists());
    assert_eq!(recap(&r, "localhost"), [3, 3, 0, 2, 0, 1, 0]);
}

/// any_errors_fatal inside a block with a rescue: every host of the task
/// goes to the rescue (only the failed one counts as rescued) and the play
/// goes on, as ansible-playbook 2.19 does.
#[test]
fn any_errors_fatal_sends_every_host_to_the_rescue() {
    let p = Project::new();
    p.write(
        "hosts.ini",
        "[g]\nh1 ansible_connection=local\nh2 ansible_connection=local\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: g
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - block:
        - fail: msg=x
          when: inventory_hostname == 'h1'
        - copy: content=never dest={{ root }}/never-{{ inventory_hostname }}
      rescue:
        - copy: content=rescued dest={{ root }}/rescued-{{ inventory_hostname }}
    - copy: content=on dest={{ root }}/on-{{ inventory_hostname }}
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    for h in ["h1", "h2"] {
        assert_eq!(p.read(&format!("rescued-{h}")), "rescued");
        assert_eq!(p.read(&format!("on-{h}")), "on");
        assert!(!p.root().join(format!("never-{h}")).exists());
    }
    assert_eq!(recap(&r, "h1"), [2, 2, 0, 0, 0, 1, 0]);
    assert_eq!(recap(&r, "h2"), [2, 2, 0, 0, 1, 0, 0]);
}

/// ansible-core 2.19 goes on without a vars file none of whose candidates
/// exists (for some hosts or all); hoist does the same and says so on
/// stderr. Hosts that fail on a vars file gather no facts.
#[test]
fn missing_vars_files_are_skipped_with_a_warning() {
    let p = Project::new();
    p.write(
        "hosts.ini",
        "[g]\nh1 ansible_connection=local\nh2 ansible_connection=local\n",
    );
    p.write("vf_h1.yml", "a: from-file\n");
    p.write(
        "site.yml",
        r#"- hosts: g
  gather_facts: false
  vars_files:
    - "vf_{{ inventory_hostname }}.yml"
    - nothere.yml
  tasks:
    - copy: content="{{ a | default('none') }}" dest={{ root }}/{{ inventory_hostname }}
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(p.read("h1"), "from-file");
    assert_eq!(p.read("h2"), "none");
    assert!(
        r.stderr
            .contains("[WARNING]: vars file nothere.yml (site.yml:5:7) was not found"),
        "{r:?}"
    );
}

/// A looped include_tasks/include_role checks `when` per item (ansible-core
/// 2.19's output, line for line in the conformance spirit): skipped items
/// get their own skip line, an all-skipped include ends with the host's.
#[test]
fn looped_includes_check_when_per_item() {
    let p = Project::new();
    p.write(
        "inc.yml",
        "- copy: content=\"{{ item.n }}\" dest={{ root }}/inc-{{ item.n }}\n",
    );
    p.write(
        "roles/r/tasks/main.yml",
        "- copy: content=\"{{ item }}\" dest={{ root }}/role-{{ item }}\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - include_tasks: inc.yml
      loop: [{n: 1, en: false}, {n: 2, en: true}]
      when: item.en | bool
    - include_tasks: inc.yml
      loop: [{n: 3}]
      when: item.n == 5
    - include_role: name=r
      loop: [1, 2]
      when: item == 2
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("skipping: [localhost] => (item={'n': 1, 'en': False}) \nincluded: "),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("skipping: [localhost] => (item={'n': 3}) \nskipping: [localhost]\n"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(
            "skipping: [localhost] => (item=1) \nincluded: r for localhost => (item=2)\n"
        ),
        "{r:?}"
    );
    assert_eq!(p.read("inc-2"), "2");
    assert_eq!(p.read("role-2"), "2");
    assert!(!p.root().join("inc-1").exists() && !p.root().join("role-1").exists());
    assert_eq!(recap(&r, "localhost"), [4, 2, 0, 0, 1, 0, 0]);
}

/// A dynamic include's own `ignore_errors`, `no_log` and `run_once` are for
/// the include alone, as in ansible-core 2.19: included tasks fail
/// normally and log normally, a run_once include includes for the first
/// host only, and a no_log include censors its `included:` line.
#[test]
fn include_keywords_stay_with_the_include() {
    let p = Project::new();
    app_hosts(&p, 2);
    p.write(
        "inc.yml",
        "- name: inner fail\n  command: /bin/false\n  ignore_errors: \"{{ inventory_hostname == 'h2' }}\"\n\
         - name: inner after\n  shell: echo {{ inventory_hostname }} >> {{ root }}/after\n",
    );
    p.write(
        "once.yml",
        "- name: once inner\n  shell: echo {{ inventory_hostname }} >> {{ root }}/once\n\
         - name: shown\n  debug: msg=visible-{{ inventory_hostname }}\n",
    );
    p.write(
        "roles/r/tasks/main.yml",
        "- import_tasks: ../../../inc.yml\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  tasks:
    - include_tasks: once.yml
      run_once: true
    - include_tasks: once.yml
      no_log: true
    - include_role: {name: r}
      ignore_errors: true
      no_log: true
    - include_tasks: inc.yml
      ignore_errors: true
"#,
    );
    let r = p.hoist("apply", &["-f", "1"]);
    assert_eq!(r.code, 2, "{r:?}");
    // run_once: included for h1 only; no_log: every host, censored label.
    assert!(r.stdout.contains("once.yml for h1\n"), "{r:?}");
    assert!(
        r.stdout
            .contains("once.yml for h1, h2 => (item=(censored due to no_log))\n"),
        "{r:?}"
    );
    assert_eq!(p.read("once"), "h1\nh1\nh2\n");
    // The included tasks are not no_log.
    assert!(r.stdout.contains("\"msg\": \"visible-h2\""), "{r:?}");
    assert!(r.stdout.contains("\"cmd\": [\"/bin/false\"]"), "{r:?}");
    // The include's ignore_errors does not reach its tasks: h1 fails in the
    // role, h2 ignores by its own keyword and runs on.
    assert_eq!(p.read("after"), "h2\nh2\n");
    // The recap ansible-playbook 2.19 gives for this playbook.
    assert_eq!(recap(&r, "h1"), [7, 2, 0, 1, 0, 0, 0], "{r:?}");
    assert_eq!(recap(&r, "h2"), [9, 5, 0, 0, 0, 0, 2], "{r:?}");
}

/// Task banners template the name with the first host's variables; parts
/// that cannot be rendered show as ansible-core 2.19 shows them.
#[test]
fn task_banners_template_the_name_as_ansible() {
    let p = Project::new();
    app_hosts(&p, 2);
    p.write(
        "inc.yml",
        "- name: Gather for {{ item.path }}\n  debug: msg={{ item.path }}\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  vars: {v: play}
  tasks:
    - name: "host {{ inventory_hostname }} v={{ v }}"
      debug: msg=x
    - name: "loop {{ item }}"
      debug: msg={{ item }}
      loop: [1]
    - name: "mixed {{ v }} {{ nope }}"
      debug: msg=x
    - name: "filter {{ v | upper }} {{ 'a' if nope else 'b' }}"
      debug: msg=x
    - include_tasks: inc.yml
      loop: [{path: /etc/motd}]
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    let banners: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("TASK ["))
        .map(|l| l.trim_end_matches('*').trim_end())
        .collect();
    // ansible-playbook 2.19's banners for this playbook.
    assert_eq!(
        banners,
        [
            "TASK [host h1 v=play]",
            "TASK [loop << error 1 - 'item' is undefined >>]",
            "TASK [mixed play << error 1 - 'nope' is undefined >>]",
            "TASK [filter PLAY << error 1 - 'nope' is undefined >><< error 2 - template potentially truncated >>]",
            "TASK [include_tasks]",
            "TASK [Gather for /etc/motd]",
        ],
        "{r:?}"
    );
}

/// `meta: clear_host_errors` revives the play's failed hosts, as
/// ansible-core 2.19's linear strategy does: each picks up after the block
/// it failed in (a `block:`, or the run of tasks of an included file it
/// was in) or whose `always` it ran, once the other hosts are through the
/// play (handlers and post_tasks included). A host that failed in the
/// play's own tasks or in a block of the play without `always` has no
/// such place: it is back in the next play only. The cleared failures
/// still show in the recap, not in the exit code.
#[test]
fn meta_clear_host_errors_revives_hosts_at_their_own_place() {
    let p = Project::new();
    app_hosts(&p, 5);
    p.write(
        "inc.yml",
        r#"- name: h5 fails in an include
  fail: {msg: boom}
  when: inventory_hostname == 'h5'
- {name: after the failure in the include, debug: {msg: inc}}
- block:
    - {name: a block in the include, debug: {msg: inc-block}}
"#,
    );
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  tasks:
    - name: h3 fails in the play's own tasks
      fail: {msg: boom}
      when: inventory_hostname == 'h3'
    - include_tasks: inc.yml
    - name: a block of the play
      block:
        - name: h2 fails in a block of the play
          fail: {msg: boom}
          when: inventory_hostname == 'h2'
        - {name: rest of the play's block, debug: {msg: b}}
    - name: outer
      block:
        - name: nested
          block:
            - name: h4 fails in a nested block
              fail: {msg: boom}
              when: inventory_hostname == 'h4'
            - {name: rest of the nested block, debug: {msg: n}}
        - name: after the nested block
          debug: {msg: after}
          changed_when: true
          notify: handler
      always:
        - {name: outer always, debug: {msg: always}}
    - {name: before the clear, debug: {msg: before}}
    - name: clear
      meta: clear_host_errors
      when: inventory_hostname == 'h1'
    - {name: after the clear, debug: {msg: after}}
  post_tasks:
    - {name: post, debug: {msg: post}}
  handlers:
    - name: handler
      debug: {msg: handler}
- hosts: app
  gather_facts: false
  tasks:
    - {name: next play, debug: {msg: next}}
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        host_results(&r.stdout, "h2"),
        [
            "h3 fails in the play's own tasks skipping",
            "include_tasks included",
            "h5 fails in an include skipping",
            "after the failure in the include ok",
            "a block in the include ok",
            "h2 fails in a block of the play fatal",
            "next play ok",
        ],
        "{r:?}"
    );
    assert_eq!(
        host_results(&r.stdout, "h3"),
        ["h3 fails in the play's own tasks fatal", "next play ok"],
        "{r:?}"
    );
    // h4 ran the outer block's always: it goes on after that block.
    assert_eq!(
        host_results(&r.stdout, "h4"),
        [
            "h3 fails in the play's own tasks skipping",
            "include_tasks included",
            "h5 fails in an include skipping",
            "after the failure in the include ok",
            "a block in the include ok",
            "h2 fails in a block of the play skipping",
            "rest of the play's block ok",
            "h4 fails in a nested block fatal",
            "outer always ok",
            "before the clear ok",
            "clear skipping",
            "after the clear ok",
            "post ok",
            "next play ok",
        ],
        "{r:?}"
    );
    // h5 leaves the included tasks it failed among, not the include.
    assert_eq!(
        host_results(&r.stdout, "h5"),
        [
            "h3 fails in the play's own tasks skipping",
            "include_tasks included",
            "h5 fails in an include fatal",
            "a block in the include ok",
            "h2 fails in a block of the play skipping",
            "rest of the play's block ok",
            "h4 fails in a nested block skipping",
            "rest of the nested block ok",
            "after the nested block changed",
            "outer always ok",
            "before the clear ok",
            "after the clear ok",
            "handler ok",
            "post ok",
            "next play ok",
        ],
        "{r:?}"
    );
    // The revived hosts run after h1 is through the play, in step.
    let banners: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("TASK [") || l.starts_with("RUNNING HANDLER ["))
        .map(|l| l.trim_end_matches(&['*', ' '][..]))
        .collect();
    let tail = [
        "TASK [after the clear]",
        "RUNNING HANDLER [handler]",
        "TASK [post]",
        "TASK [a block in the include]",
        "TASK [h2 fails in a block of the play]",
        "TASK [rest of the play's block]",
        "TASK [h4 fails in a nested block]",
        "TASK [rest of the nested block]",
        "TASK [after the nested block]",
        "TASK [outer always]",
        "TASK [before the clear]",
        "TASK [clear]",
        "TASK [after the clear]",
        "RUNNING HANDLER [handler]",
        "TASK [post]",
        "TASK [next play]",
    ];
    assert!(banners.ends_with(&tail), "{banners:#?}");
    assert_eq!(recap(&r, "h4"), [9, 0, 0, 1, 3, 0, 0], "{r:?}");
    assert_eq!(recap(&r, "h5"), [11, 1, 0, 1, 3, 0, 0], "{r:?}");
}

/// A revived host picks up inside the block around the one it failed in,
/// and a failure there fails it again (and the run).
#[test]
fn meta_clear_host_errors_revived_hosts_fail_again() {
    let p = Project::new();
    app_hosts(&p, 2);
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  tasks:
    - name: outer
      block:
        - name: inner
          block:
            - name: h2 fails
              fail: {msg: boom}
              when: inventory_hostname == 'h2'
            - {name: rest of inner, debug: {msg: inner}}
        - name: h2 fails again
          fail: {msg: again}
          when: inventory_hostname == 'h2'
        - {name: rest of outer, debug: {msg: outer}}
    - name: clear
      meta: clear_host_errors
      when: inventory_hostname == 'h1'
    - {name: last, debug: {msg: last}}
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        host_results(&r.stdout, "h2"),
        ["h2 fails fatal", "h2 fails again fatal"],
        "{r:?}"
    );
    assert_eq!(recap(&r, "h2"), [0, 0, 0, 2, 0, 0, 0], "{r:?}");
}

/// Under the free strategy the hosts that failed before another host's
/// `meta: clear_host_errors` pick up at their own place too.
#[test]
fn meta_clear_host_errors_revives_hosts_under_the_free_strategy() {
    let p = Project::new();
    app_hosts(&p, 3);
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  strategy: free
  tasks:
    - {name: first, debug: {msg: first}}
    - name: outer
      block:
        - block:
            - name: h2 fails
              fail: {msg: boom}
              when: inventory_hostname == 'h2'
        - {name: after the inner block, debug: {msg: after}}
    - {name: then, debug: {msg: then}}
    - name: h1 waits
      command: sleep 1
      when: inventory_hostname == 'h1'
    - name: clear
      meta: clear_host_errors
      when: inventory_hostname == 'h1'
    - {name: last, debug: {msg: last}}
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        host_results(&r.stdout, "h2"),
        [
            "first ok",
            "h2 fails fatal",
            "after the inner block ok",
            "then ok",
            "h1 waits skipping",
            "clear skipping",
            "last ok",
        ],
        "{r:?}"
    );
    assert_eq!(recap(&r, "h2"), [4, 0, 0, 1, 1, 0, 0], "{r:?}");
}
