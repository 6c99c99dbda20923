//! `hoist vars HOST [VAR]`: the sources it lists are the real ones, with
//! file:line:col, and the value it says wins is the one tasks see.

use std::process::Command;

use crate::common::{Project, Run, run};

fn vars(p: &Project, args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(p.path()).arg("vars").args(args);
    run(c)
}

/// An inventory where `port` is set in six places and `workers` in a
/// group_vars directory, plus a playbook with a role.
fn project() -> Project {
    let p = Project::new();
    p.write(
        "inv/hosts",
        "[web]\nweb1 port=81 ansible_connection=local\nweb2 ansible_connection=local\n\n[web:vars]\nport=80\nmotd=\"hi {{ inventory_hostname }}\"\n\n[all:vars]\nport=70\n",
    );
    p.write("inv/group_vars/web/10-a.yml", "port: 8000\n");
    p.write(
        "inv/group_vars/web/20-b.yml",
        "# b\nport: 8001\nworkers: 4\n",
    );
    p.write("inv/host_vars/web1.yml", "---\nport: 9000\n");
    p.write("roles/app/defaults/main.yml", "app_user: www\nport: 1\n");
    p.write("roles/app/vars/main.yml", "app_dir: /srv/app\n");
    p.write(
        "roles/app/tasks/main.yml",
        "- copy:\n    dest: \"{{ root }}/{{ inventory_hostname }}\"\n    content: \"{{ port }} {{ app_user }} {{ app_dir }} {{ motd }}\\n\"\n",
    );
    p.write(
        "site.yml",
        "- name: Web\n  hosts: web\n  gather_facts: false\n  vars:\n    motd: from play\n  roles:\n    - app\n- name: Rest\n  hosts: all\n  gather_facts: false\n  tasks: []\n",
    );
    p
}

#[test]
fn one_variable_lists_every_source_in_precedence_order() {
    let p = project();
    let r = vars(&p, &["-i", "inv/hosts", "web1", "port"]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "web1: port = 9000", "{r:?}");
    let rows: Vec<Vec<&str>> = lines[2..]
        .iter()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .collect();
    let expected = [
        ["inventory group vars [all]", "inv/hosts:10:1", "70"],
        ["inventory group vars [web]", "inv/hosts:6:1", "80"],
        ["group_vars/web", "inv/group_vars/web/10-a.yml:1:1", "8000"],
        ["group_vars/web", "inv/group_vars/web/20-b.yml:2:1", "8001"],
        ["inventory host vars", "inv/hosts:2:6", "81"],
        ["* host_vars/web1", "inv/host_vars/web1.yml:2:1", "9000"],
    ];
    assert_eq!(rows.len(), expected.len(), "{r:?}");
    for (row, want) in rows.iter().zip(expected) {
        let row: Vec<&str> = row.iter().map(|s| s.trim_start_matches("  ")).collect();
        assert_eq!(row, want, "{r:?}");
    }
    // The other host has no host-level sources: the group_vars dir wins.
    let r = vars(&p, &["-i", "inv/hosts", "web2", "port"]);
    assert!(r.stdout.starts_with("web2: port = 8001\n"), "{r:?}");
}

#[test]
fn listing_shows_each_winner_and_renders_templates_on_request() {
    let p = project();
    let r = vars(&p, &["-i", "inv/hosts", "web1"]);
    assert_eq!(r.code, 0, "{r:?}");
    let line = |name: &str| {
        r.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {r:?}"))
            .to_owned()
    };
    assert!(line("port").contains("= 9000    # host_vars/web1, inv/host_vars/web1.yml:2:1"));
    assert!(line("workers").contains("= 4    # group_vars/web, inv/group_vars/web/20-b.yml:3:1"));
    assert!(line("group_names").contains("[\"web\"]"));
    let r = vars(&p, &["-i", "inv/hosts", "web2", "motd"]);
    assert!(
        r.stdout.contains("rendered: \"hi web2\""),
        "templates are rendered for the host: {r:?}"
    );
}

/// With `-p`, each play that targets the host has its own chain: role
/// defaults lowest, play vars above the inventory, extra vars on top. The
/// winner is what the role's task writes.
#[test]
fn playbook_chains_match_what_tasks_see() {
    let p = project();
    let r = vars(
        &p,
        &[
            "-i",
            "inv/hosts",
            "-p",
            "site.yml",
            "-e",
            "app_dir=/opt",
            "web1",
            "app_dir",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .starts_with("web1 in play [Web] (site.yml:1:3): app_dir = \"/opt\"\n"),
        "{r:?}"
    );
    assert!(r.stdout.contains("role vars [app]"), "{r:?}");
    assert!(r.stdout.contains("roles/app/vars/main.yml:1:1"), "{r:?}");
    assert!(r.stdout.contains("* extra vars (-e app_dir=/opt)"), "{r:?}");
    assert!(
        r.stdout
            .contains("web1 in play [Rest] (site.yml:8:3): app_dir = \"/opt\""),
        "{r:?}"
    );

    let r = vars(
        &p,
        &["-i", "inv/hosts", "-p", "site.yml", "web2", "app_user"],
    );
    assert!(r.stdout.contains("app_user = \"www\""), "{r:?}");
    assert!(r.stdout.contains("* role defaults [app]"), "{r:?}");
    assert!(
        r.stdout
            .contains("in play [Rest] (site.yml:8:3): app_user is not defined")
    );

    // The winners are the values the role's task sees at run time.
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(p.path())
        .args(["apply", "site.yml", "-i", "inv/hosts", "-e"]);
    c.arg(format!("root={}", p.root().display()));
    let applied = run(c);
    assert_eq!(applied.code, 0, "{applied:?}");
    for host in ["web1", "web2"] {
        let mut want = Vec::new();
        for var in ["port", "app_user", "app_dir", "motd"] {
            let r = vars(&p, &["-i", "inv/hosts", "-p", "site.yml", host, var]);
            let first = r.stdout.lines().next().unwrap_or_default().to_owned();
            let value = first.rsplit(" = ").next().unwrap_or_default();
            want.push(value.trim_matches('"').to_owned());
        }
        assert_eq!(p.read(host), format!("{}\n", want.join(" ")), "{host}");
    }
}

#[test]
fn unknown_host_or_variable_is_an_error_with_a_suggestion() {
    let p = project();
    let r = vars(&p, &["-i", "inv/hosts", "web3"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("the inventory has no host 'web3'"),
        "{r:?}"
    );
    assert!(r.stderr.contains("did you mean `web1`?"), "{r:?}");
    let r = vars(&p, &["-i", "inv/hosts", "web1", "prot"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("'web1' has no variable 'prot'"), "{r:?}");
    assert!(r.stderr.contains("did you mean `port`?"), "{r:?}");
    let r = vars(&p, &["-i", "inv/nope", "web1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("inv/nope"), "{r:?}");
}

/// Registered results carry the keys ansible-core 2.19 gives them (its
/// lists for this playbook): `failed` on every result of a module that ran
/// (a check-mode skip too), none on results skipped by a condition.
#[test]
fn registered_results_have_ansibles_keys() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - command: "true"
      register: r1
    - command: "echo {{ item }}"
      loop: [1]
      register: r2
    - debug: msg=hi
      register: r3
    - set_fact: x=1
      register: r4
    - stat: path=/
      register: r5
    - assert: {that: [true]}
      register: r6
    - command: "true"
      register: r7
      when: false
    - debug: msg=x
      loop: [1]
      register: r8
      when: false
    - command: "true"
      register: r9
      check_mode: true
    - command: "false"
      register: r10
      failed_when: false
    - copy:
        dest: "{{ root }}/keys"
        content: |
          {% for n in range(1, 11) %}
          {% set v = lookup('vars', 'r' ~ n) %}
          r{{ n }} {{ v.keys() | sort | join(',') }}{% if v.results is defined %} ITEMS {{ v.results[0].keys() | reject('eq', 'invocation') | sort | join(',') }}{% endif %}{{ '' }}
          {% endfor %}
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        p.read("keys"),
        "r1 changed,cmd,delta,end,failed,msg,rc,start,stderr,stderr_lines,stdout,stdout_lines
r2 changed,msg,results,skipped ITEMS ansible_loop_var,changed,cmd,delta,end,failed,item,msg,rc,start,stderr,stderr_lines,stdout,stdout_lines
r3 changed,failed,msg
r4 ansible_facts,changed,failed
r5 changed,failed,stat
r6 changed,failed,msg
r7 changed,false_condition,skip_reason,skipped
r8 changed,msg,results,skipped ITEMS ansible_loop_var,changed,false_condition,item,skip_reason,skipped
r9 changed,cmd,delta,end,failed,msg,rc,skipped,start,stderr,stderr_lines,stdout,stdout_lines
r10 changed,cmd,delta,end,failed,failed_when_result,failed_when_suppressed_exception,msg,rc,start,stderr,stderr_lines,stdout,stdout_lines
"
    );
    // `failed: false` is not printed.
    assert!(!r.stdout.contains("\"failed\": false"), "{r:?}");
}
