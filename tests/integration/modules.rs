//! Every engine-core module through the real binary: the first apply
//! changes, the second changes nothing, `diff` before shows the change and
//! writes nothing, `diff` after exits 0.

use crate::common::{Project, idempotency_cycle, recap, snapshot};

/// Runs the whole idempotency cycle for a task list and returns the project.
fn cycle(tasks: &str, expect_hunk: &str) -> Project {
    let p = Project::new();
    p.write(
        "templates/t.j2",
        "name={{ name }}\n{% for i in range(3) %}\nline {{ i }}\n{% endfor %}\n",
    );
    p.write("files/src.txt", "from files\n");
    idempotency_cycle(
        p,
        &format!(
            "- hosts: localhost\n  gather_facts: false\n  vars:\n    name: hoist\n  tasks:\n{tasks}"
        ),
        expect_hunk,
    )
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).expect("stat").mode() & 0o7777
}

#[test]
fn file_module() {
    let p = cycle(
        r#"    - file: path={{ root }}/d/e state=directory mode=0770
    - file:
        path: "{{ root }}/f"
        state: touch
        mode: u=rw,g=r
        modification_time: preserve
        access_time: preserve
    - file: src=f dest={{ root }}/l state=link
    - file: src={{ root }}/f dest={{ root }}/h state=hard
    - file: path={{ root }}/d mode=g+w recurse=yes
"#,
        "\"state\": \"directory\"",
    );
    let root = p.root();
    assert_eq!(mode(&root.join("d/e")), 0o770);
    assert_eq!(
        mode(&root.join("f")),
        0o644,
        "o keeps its bits: u=rw,g=r leaves o alone"
    );
    assert_eq!(
        std::fs::read_link(root.join("l")).unwrap().to_str(),
        Some("f")
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(root.join("h")).unwrap().ino(),
        std::fs::metadata(root.join("f")).unwrap().ino()
    );
}

#[test]
fn file_absent() {
    let p = Project::new();
    std::fs::create_dir_all(p.root().join("gone/deep")).unwrap();
    std::fs::write(p.root().join("gone/deep/x"), "x").unwrap();
    p.write("site.yml", "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - file: path={{ root }}/gone state=absent\n");
    let d = p.diff();
    assert_eq!(d.code, 2, "{d:?}");
    assert!(p.root().join("gone/deep/x").exists());
    assert_eq!(p.apply().code, 0);
    assert!(!p.root().join("gone").exists());
    let again = p.apply();
    assert_eq!(recap(&again, "localhost")[1], 0, "{again:?}");
}

#[test]
fn copy_module() {
    let p = cycle(
        r#"    - copy: src=src.txt dest={{ root }}/a.txt mode=0600
    - copy:
        content: "inline {{ name }}\n"
        dest: "{{ root }}/b.txt"
    - file: path={{ root }}/dir state=directory
    - copy: src=src.txt dest={{ root }}/dir/
"#,
        "+inline hoist",
    );
    assert_eq!(p.read("a.txt"), "from files\n");
    assert_eq!(mode(&p.root().join("a.txt")), 0o600);
    assert_eq!(p.read("b.txt"), "inline hoist\n");
    assert_eq!(p.read("dir/src.txt"), "from files\n");
}

#[test]
fn copy_replaces_content_with_backup_and_shows_diff() {
    let p = Project::new();
    std::fs::write(p.root().join("conf"), "a\nold\nc\n").unwrap();
    p.write(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - copy:\n        content: \"a\\nnew\\nc\\n\"\n        dest: \"{{ root }}/conf\"\n        backup: yes\n",
    );
    let d = p.diff();
    assert_eq!(d.code, 2);
    assert!(d.stdout.contains("-old\n+new\n"), "{d:?}");
    assert_eq!(
        std::fs::read_to_string(p.root().join("conf")).unwrap(),
        "a\nold\nc\n"
    );
    let a = p.hoist("apply", &["--diff"]);
    assert!(a.stdout.contains("-old\n+new\n"), "{a:?}");
    assert_eq!(p.read("conf"), "a\nnew\nc\n");
    let backups: Vec<_> = std::fs::read_dir(p.root())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("conf."))
        .collect();
    assert_eq!(backups.len(), 1, "one backup file");
    assert_eq!(
        std::fs::read_to_string(backups[0].path()).unwrap(),
        "a\nold\nc\n"
    );
}

#[test]
fn template_module() {
    let p = cycle(
        r#"    - template: src=t.j2 dest={{ root }}/t.conf mode=0644
"#,
        "+name=hoist",
    );
    assert_eq!(p.read("t.conf"), "name=hoist\nline 0\nline 1\nline 2\n");
}

#[test]
fn lineinfile_module() {
    let p = Project::new();
    std::fs::write(p.root().join("cfg"), "# config\nport=1\nhost=a\n").unwrap();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - lineinfile: path={{ root }}/cfg regexp='^port=' line=port=2
    - lineinfile: path={{ root }}/cfg line='added=yes' insertafter='^# config'
    - lineinfile: path={{ root }}/cfg regexp='^host=' state=absent
"#,
    );
    let d = p.diff();
    assert_eq!(d.code, 2, "{d:?}");
    assert!(d.stdout.contains("-port=1\n"), "{d:?}");
    assert_eq!(
        std::fs::read_to_string(p.root().join("cfg")).unwrap(),
        "# config\nport=1\nhost=a\n"
    );
    assert_eq!(p.apply().code, 0);
    assert_eq!(p.read("cfg"), "# config\nadded=yes\nport=2\n");
    let again = p.apply();
    assert_eq!(recap(&again, "localhost")[1], 0, "{again:?}");
    assert_eq!(p.diff().code, 0);
}

#[test]
fn blockinfile_module() {
    let p = cycle(
        r##"    - blockinfile:
        path: "{{ root }}/motd"
        create: true
        marker: "# {mark} hoist"
        block: |
          one
          two
"##,
        "+one",
    );
    assert_eq!(p.read("motd"), "# BEGIN hoist\none\ntwo\n# END hoist\n");
}

#[test]
fn command_and_shell_modules() {
    let p = cycle(
        r#"    - command: touch "{{ root }}/with space; 'q' & |"
      args:
        creates: "{{ root }}/with space; 'q' & |"
    - shell: printf '%s' "$GREETING" > {{ root }}/env.txt
      args:
        creates: "{{ root }}/env.txt"
      environment:
        GREETING: hi there
    - command:
        argv: [sh, -c, 'echo "$0" > "$1"', "a b", "{{ root }}/argv.txt"]
        creates: "{{ root }}/argv.txt"
"#,
        "",
    );
    assert!(
        p.root().join("with space; 'q' & |").exists(),
        "arguments reach the program literally"
    );
    assert_eq!(p.read("env.txt"), "hi there");
    assert_eq!(p.read("argv.txt"), "a b\n");
}

#[test]
fn stat_debug_assert_set_fact_fail_are_read_only() {
    let p = Project::new();
    std::fs::write(p.root().join("s"), "12345").unwrap();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - stat: path={{ root }}/s
      register: s
    - set_fact:
        size: "{{ s.stat.size }}"
    - assert:
        that: [s.stat.exists, size | int == 5, s.stat.checksum == '8cb2237d0679ca88db6464eac60da96345513964']
        success_msg: fine
    - debug: var=size
    - fail: msg="not reached"
      when: size | int != 5
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "localhost"), [4, 0, 0, 0, 1, 0, 0], "{r:?}");
    assert!(r.stdout.contains("\"size\": 5"), "{r:?}");
    assert_eq!(p.diff().code, 0);
}

/// `{% include %}`/`{% import %}` in a template find other templates as
/// Ansible's template action does (files and messages taken from
/// ansible-core 2.19): under `templates/` of the search path, then the
/// template's own directory; a `..` name is refused and a missing one lists
/// where it was looked for.
#[test]
fn template_includes_follow_the_search_path() {
    let p = Project::new();
    p.write(
        "templates/sub/main.j2",
        "main {{ name }}\n{% include \"sibling.j2\" %}\n\n{% include \"top.j2\" %}\n\n\
         {% import \"sub/m.j2\" as m %}\n{{ m.f(2) }}\n{% include \"gone.j2\" ignore missing %}\n",
    );
    p.write("templates/sub/sibling.j2", "sib\n");
    p.write("templates/top.j2", "top {{ name }}\n");
    p.write(
        "templates/sub/m.j2",
        "{% macro f(n) %}n={{ n }}{% endmacro %}\n",
    );
    p.write("templates/up.j2", "{% include \"../top.j2\" %}\n");
    p.write("templates/lost.j2", "{% include \"lost/x.j2\" %}\n");
    p.write(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  vars: {name: hoist}\n  tasks:\n\
         \x20   - template: src=sub/main.j2 dest={{ root }}/out\n\
         \x20   - template: src=up.j2 dest={{ root }}/up\n      ignore_errors: true\n\
         \x20   - template: src=lost.j2 dest={{ root }}/lost\n      ignore_errors: true\n\
         \x20   - copy: content=\"{{ lookup('template', 'sub/main.j2') }}\" dest={{ root }}/looked\n",
    );
    let a = p.apply();
    assert_eq!(a.code, 0, "{a:?}");
    assert_eq!(p.read("out"), "main hoist\nsib\ntop hoist\nn=2\n");
    assert_eq!(p.read("looked"), p.read("out"));
    assert!(
        a.stdout
            .contains(r#""msg": "Error rendering template: ../top.j2""#),
        "{a:?}"
    );
    let dir = p.path().display().to_string();
    let paths = format!(
        "'{dir}/templates', '{dir}', '{dir}/templates', '{dir}', '{dir}/templates/templates', '{dir}/templates'"
    );
    assert!(
        a.stdout.contains(&format!(
            "Error rendering template: 'lost/x.j2' not found in search paths: {paths}"
        )),
        "{a:?}"
    );
    assert_eq!(recap(&a, "localhost")[6], 2, "{a:?}");
    assert_eq!(recap(&p.apply(), "localhost")[1], 0);
}

/// `pause` runs once, for the first host (it bypasses the host loop as in
/// ansible-core: only that host has its result), announces a timed pause
/// as ansible-playbook does, and refuses a prompt nobody can answer.
#[test]
fn pause_waits_once_and_refuses_a_prompt_without_a_terminal() {
    let p = Project::new();
    p.write(
        "hosts.ini",
        "a ansible_connection=local\nb ansible_connection=local\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - pause: seconds=1
      register: p
    - copy: content="{{ p.stdout }}|{{ p.delta }}|{{ p.user_input }}" dest={{ root }}/paused
      when: inventory_hostname == 'a'
    - copy: content="{{ p is defined }}" dest={{ root }}/b-has-it
      when: inventory_hostname == 'b'
    - pause: {minutes: 0.02, prompt: "Enter"}
    - pause:
        prompt: "Type it"
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 2, "{r:?}");
    assert!(p.read("paused").starts_with("Paused for 1."), "{r:?}");
    assert!(p.read("paused").ends_with("|1|"), "{r:?}");
    assert_eq!(p.read("b-has-it"), "False");
    assert_eq!(
        r.stdout.matches("Pausing for 1 seconds\n").count(),
        2,
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("(ctrl+C then 'C' = continue early, ctrl+C then 'A' = abort)\r\n"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(
            "pause cannot ask 'Type it': there is no terminal to answer it (stdin is not interactive)"
        ),
        "{r:?}"
    );
    assert_eq!(r.stdout.matches("ok: [b]").count(), 0, "{r:?}");
}

/// `wait_for` on a path (appearing later, with a regex and its groups,
/// absent), a port (open, closed, drained) and a bare timeout, with the
/// results and messages ansible-core 2.19 gives for the same playbook.
#[test]
fn wait_for_paths_and_ports_as_ansible() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = Project::new();
    p.write(
        "site.yml",
        &format!(
            r#"- hosts: localhost
  gather_facts: false
  tasks:
    - shell: (sleep 1; echo "app v2.7 ready" > "{{{{ root }}}}/late file") > /dev/null 2>&1 &
    - wait_for:
        path: "{{{{ root }}}}/late file"
        search_regex: 'v(?P<major>\d+)\.(\d+)'
        timeout: 10
      register: w1
    - wait_for: path="{{{{ root }}}}/late file" state=absent timeout=1
      ignore_errors: true
    - wait_for: port={open} timeout=5
      register: w2
    - wait_for: port={closed} state=stopped timeout=2
    - wait_for: port={closed} timeout=1 msg="custom {{{{ 1 + 1 }}}}"
      ignore_errors: true
    - wait_for: port={closed} state=drained timeout=1
    - wait_for: timeout=1
      register: w3
    - copy:
        dest: "{{{{ root }}}}/results"
        content: |
          {{{{ w1.state }}}} {{{{ w1.match_groups }}}} {{{{ w1.match_groupdict }}}} {{{{ w1.size }}}}
          {{{{ w2.state }}}} {{{{ w2.port }}}} {{{{ w2.path }}}} {{{{ w2.match_groups }}}}
          {{{{ w3 | dict2items | map(attribute='key') | sort | join(',') }}}}
"#
        ),
    );
    let r = p.apply();
    drop(listener);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        p.read("results"),
        format!(
            "file ['2', '7'] {{'major': '2'}} 15\nstarted {open}  []\n\
             changed,elapsed,failed,match_groupdict,match_groups,path,port,search_regex,state\n"
        )
    );
    let root = p.root().display().to_string();
    assert!(
        r.stdout.contains(&format!(
            "\"msg\": \"Timeout when waiting for {root}/late file to be absent.\"}}"
        )),
        "{r:?}"
    );
    assert!(r.stdout.contains("\"msg\": \"custom 2\"}"), "{r:?}");
    assert_eq!(recap(&r, "localhost")[6], 2, "{r:?}");
}

/// The account modules that are harmless on the controller: getent reads
/// (in check mode too), authorized_key predicts its change in check mode
/// for a user that need not exist when `path` is given, and writes nothing.
#[test]
fn getent_and_authorized_key_in_check_mode_locally() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - getent: {database: passwd, key: root}
      register: g
    - authorized_key:
        user: "hoist-t-nobody $x 'q'"
        key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK36yAEpkO2B4vZbcD1XMmxOkoVUClOWt+7B9vnUYgA8 c $x"
        path: "{{ root }}/dir $x 'q'/keys"
      check_mode: true
      register: ak
    - assert:
        that:
          - g is not changed and getent_passwd.root[1] == '0' and ansible_facts.getent_passwd.root[4] == '/root'
          - ak is changed
"#,
    );
    let before = snapshot(&p.root());
    let r = p.hoist("apply", &["--diff"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(
            "+ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK36yAEpkO2B4vZbcD1XMmxOkoVUClOWt+7B9vnUYgA8 c $x"
        ),
        "{r:?}"
    );
    assert_eq!(snapshot(&p.root()), before, "check mode writes nothing");
}

/// Free-form `shell: |` text keeps its lines (it ran as one line, the
/// newlines turned into spaces); a folded `command` stays one command line.
/// Results as ansible-playbook's.
#[test]
fn free_form_scripts_keep_their_lines() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - shell: |
        echo a
        echo "b  c"
        x=1; echo $x
      register: r
    - command: echo one
        two
      register: c
    - copy:
        content: "{{ r.stdout_lines | to_json }} {{ c.cmd | to_json }}"
        dest: "{{ root }}/out"
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        p.read("out"),
        r#"["a", "b  c", "1"] ["echo", "one", "two"]"#
    );
}
