//! The file-oriented system modules (replace, slurp, fetch, find, ini_file,
//! tempfile, assemble …) through the real binary on the local connection:
//! `diff` predicts and writes nothing, the first apply changes, the second
//! changes nothing, and `diff` afterwards reports nothing to do.

use crate::common::{Project, idempotency_cycle};

/// A project whose `site.yml` runs `tasks` on localhost, with the
/// idempotency cycle already run; `expect_hunk` must be in the first diff.
fn cycle(files: &[(&str, &str)], tasks: &str, expect_hunk: &str) -> Project {
    let p = Project::new();
    for (rel, text) in files {
        p.write(rel, text);
    }
    idempotency_cycle(
        p,
        &format!(
            "- hosts: localhost\n  gather_facts: false\n  vars:\n    odd: \"a $b 'c\\\" d\"\n  tasks:\n{tasks}"
        ),
        expect_hunk,
    )
}

#[test]
fn replace_module() {
    let p = cycle(
        &[],
        r#"    - copy:
        dest: "{{ root }}/{{ odd }}.conf"
        content: "port 80\nport 81\n[s]\nport 82\n[t]\nport 83\n"
        force: false
    - replace:
        path: "{{ root }}/{{ odd }}.conf"
        regexp: '^port (?P<n>8\d)$'
        replace: 'port 9\g<n>'
        after: '\[s\]'
        before: '\[t\]'
      register: r
    - assert:
        that:
          - r.msg == ('1 replacements made' if r.changed else '')
          - r.rc == 0
    - replace:
        path: "{{ root }}/{{ odd }}.conf"
        regexp: '^port (8[01])$'
        replace: 'listen \1'
        mode: '0600'
      register: r2
    - assert:
        that:
          - not r2.changed or r2.msg == '2 replacements made and ownership, perms or SE linux context changed'
    - replace:
        path: "{{ root }}/{{ odd }}.conf"
        regexp: 'nothing'
        after: 'nomatch'
      register: r3
    - assert:
        that:
          - not r3.changed
          - r3.msg == 'Pattern for before/after params did not match the given file: nomatch(?P<subsection>.*)'
"#,
        "+port 982",
    );
    assert_eq!(
        p.read("a $b 'c\" d.conf"),
        "listen 80\nlisten 81\n[s]\nport 982\n[t]\nport 83\n"
    );
}

#[test]
fn slurp_and_fetch_modules() {
    let p = cycle(
        &[],
        r#"    - copy:
        dest: "{{ root }}/{{ odd }}.txt"
        content: "fetched\n"
    - slurp:
        src: "{{ root }}/{{ odd }}.txt"
      register: s
    - assert:
        that:
          - s.content | b64decode == 'fetched\n'
          - s.encoding == 'base64'
          - s.source == root ~ '/' ~ odd ~ '.txt'
      when: not ansible_check_mode
    - fetch:
        src: "{{ root }}/{{ odd }}.txt"
        dest: "{{ root }}/../fetched"
      register: f
    - assert:
        that:
          - f.dest == (root | dirname) ~ '/fetched/localhost' ~ root ~ '/' ~ odd ~ '.txt'
          - f.checksum == '62d407d0aa7cefbb1f030a4ab39ae580a0c4bcec'
          - f.md5sum is defined
      when: not ansible_check_mode
    - fetch:
        src: "{{ root }}/{{ odd }}.txt"
        dest: "{{ root }}/../flat/"
        flat: true
    - fetch:
        src: "{{ root }}/missing"
        dest: "{{ root }}/../fetched"
        fail_on_missing: false
      register: m
    - assert:
        that:
          - m.msg == 'the remote file does not exist, not transferring, ignored'
      when: not ansible_check_mode
"#,
        "+fetched",
    );
    let root = p.root();
    let fetched = p.path().join(format!(
        "fetched/localhost{}/a $b 'c\" d.txt",
        root.display()
    ));
    assert_eq!(std::fs::read_to_string(fetched).unwrap(), "fetched\n");
    assert_eq!(
        std::fs::read_to_string(p.path().join("flat/a $b 'c\" d.txt")).unwrap(),
        "fetched\n"
    );
}

#[test]
fn find_module() {
    let p = Project::new();
    let odd = p.root().join("t $x 'q\"");
    std::fs::create_dir_all(odd.join("sub/deep")).unwrap();
    std::fs::create_dir_all(odd.join(".hid")).unwrap();
    std::fs::write(odd.join("a.conf"), "key=1\nother\n").unwrap();
    std::fs::write(odd.join("b.txt"), "x").unwrap();
    std::fs::write(odd.join("sub/c.conf"), "nokey\n").unwrap();
    std::fs::write(odd.join("sub/deep/d.conf"), "key=2\n").unwrap();
    std::fs::write(odd.join(".hid/e.conf"), "").unwrap();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  vars:
    r: "{{ root }}/t $x 'q\""
  tasks:
    - find: {paths: "{{ r }}", patterns: '*.conf'}
      register: f1
    - find: {paths: "{{ r }}", patterns: '*.conf', recurse: true, contains: 'key='}
      register: f2
    - find: {paths: ["{{ r }}", "{{ r }}/nope"], recurse: true, depth: 1, file_type: directory}
      register: f3
    - find: {paths: "{{ r }}", patterns: '^[ab]\.', use_regex: true, get_checksum: true, size: 5}
      register: f4
    - assert:
        that:
          - f1.files | map(attribute='path') | list == [r ~ '/a.conf']
          - f1.examined == 4
          - f1.matched == 1
          - f1.msg == 'All paths examined'
          - f1.files[0].mode == '0644' or f1.files[0].mode == '0664'
          - f1.files[0].isreg and not f1.files[0].islnk
          - f1.files[0].size == 12
          - f2.files | map(attribute='path') | map('basename') | sort == ['a.conf', 'd.conf']
          - f2.examined == 8
          - f3.files | map(attribute='path') | list == [r ~ '/sub']
          - f3.msg == 'Not all paths examined, check warnings for details'
          - f3.skipped_paths[r ~ '/nope'] == "'" ~ r ~ "/nope' is not a directory"
          - f4.files | map(attribute='path') | list == [r ~ '/a.conf']
          - f4.files[0].checksum == '75bdb7d4293e9121100be7faead10161d3b78f6d'
          - not f1.changed
"#,
    );
    let a = p.apply();
    assert_eq!(a.code, 0, "{a:?}");
    assert!(a.stderr.contains("Skipped '"), "{a:?}");
}

#[test]
fn ini_file_module() {
    let p = cycle(
        &[(
            "root/app.ini",
            "; global\nname = x\n\n[main]\n# port = 1\nother=2\n\n[old]\nk=v\n",
        )],
        r#"    - ini_file:
        path: "{{ root }}/app.ini"
        section: main
        option: port
        value: "8080"
      register: r
    - assert:
        that:
          - r.msg == ('option changed' if r.changed else 'OK')
          - r.path == root ~ '/app.ini'
          - r.diff.before_header == root ~ '/app.ini (content)'
    - community.general.ini_file:
        path: "{{ root }}/app.ini"
        section: null
        option: "{{ odd }}"
        value: "{{ odd }}"
        no_extra_spaces: true
    - ini_file:
        path: "{{ root }}/app.ini"
        section: old
        state: absent
    - ini_file:
        path: "{{ root }}/sub/new.ini"
        section: s
        option: flag
        allow_no_value: true
        mode: '0600'
"#,
        "+port = 8080",
    );
    assert_eq!(
        p.read("app.ini"),
        "; global\nname = x\na $b 'c\" d=a $b 'c\" d\n\n[main]\nport = 8080\nother=2\n\n"
    );
    assert_eq!(p.read("sub/new.ini"), "\n[s]\nflag\n");
}

#[test]
fn cron_module_with_a_cron_file() {
    // An absolute cron_file keeps the test off the machine's crontabs.
    let p = cycle(
        &[],
        r#"    - cron:
        name: "{{ odd }}"
        cron_file: "{{ root }}/jobs"
        user: root
        minute: "*/10"
        job: "/bin/echo '{{ odd }}'"
      register: c
    - assert:
        that:
          - c.jobs == [odd]
          - c.cron_file == root ~ '/jobs'
          - c.warnings is undefined
    - cron:
        name: gone
        cron_file: "{{ root }}/other"
        state: absent
"#,
        "+*/10 * * * * root /bin/echo 'a $b 'c\" d'",
    );
    assert_eq!(
        p.read("jobs"),
        "#Ansible: a $b 'c\" d\n*/10 * * * * root /bin/echo 'a $b 'c\" d'\n"
    );
}

#[test]
fn tempfile_raw_and_script_modules() {
    let p = Project::new();
    p.write(
        "files/run me.sh",
        "#!/bin/sh\necho \"args: $1|$2\"; pwd\nexit ${3:-0}\n",
    );
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  vars:
    odd: "a $b 'c\" d"
  tasks:
    - tempfile: {path: "{{ root }}", prefix: "{{ odd }}.", suffix: .tmp}
      register: t
    - tempfile: {path: "{{ root }}", state: directory}
      register: td
    - raw: echo {{ odd | quote }} > {{ t.path | quote }}; echo done
      register: r
    - script: "'run me.sh' {{ odd | quote }} two"
      args: {chdir: "{{ td.path }}"}
      register: s
    - script: "'run me.sh' x y 5"
      register: s2
      ignore_errors: true
    - assert:
        that:
          - t.path.startswith(root ~ '/' ~ odd ~ '.') and t.path.endswith('.tmp')
          - t.mode == '0600' and t.state == 'file' and t.changed
          - td.mode == '0700' and td.state == 'directory'
          - r.stdout == 'done\n' and r.rc == 0 and r.changed
          - lookup('file', t.path) == odd
          - s.stdout_lines == ['args:' ~ ' ' ~ odd ~ '|two', td.path]
          - s2.rc == 5 and s2.msg == 'non-zero return code'
"#,
    );
    let a = p.apply();
    assert_eq!(a.code, 0, "{a:?}");
    // In check mode tempfile is skipped (and so has no path), as in Ansible.
    let d = p.diff();
    assert!(
        d.stdout.contains("TASK [tempfile] ****************************************************************\nskipping: [localhost]"),
        "{d:?}"
    );
}

#[test]
fn assemble_module() {
    let p = cycle(
        &[
            ("files/frags/01-a", "a\n"),
            ("files/frags/02-b", "b"),
            ("files/frags/.hidden", "h\n"),
            ("root/remote frags $x/10-x.conf", "x\n"),
            ("root/remote frags $x/20-y.conf", "y\n"),
            ("root/remote frags $x/30-z.bak", "z\n"),
        ],
        r#"    - assemble:
        src: frags
        dest: "{{ root }}/{{ odd }}.local"
        remote_src: false
        ignore_hidden: true
        delimiter: '# \x2d\x2d'
    - assemble:
        src: "{{ root }}/remote frags $x"
        dest: "{{ root }}/remote.conf"
        regexp: '\.conf$'
        mode: '0640'
      register: r
    - assert:
        that:
          - r.msg == 'OK'
          - r.mode == '0640'
      when: not ansible_check_mode
"#,
        "+# --",
    );
    assert_eq!(p.read("a $b 'c\" d.local"), "a\n# --\nb");
    assert_eq!(p.read("remote.conf"), "x\ny\n");
}

#[test]
fn known_hosts_module() {
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    let p = cycle(
        &[("root/kh", "old.example.com ssh-rsa AAAAB3Nza\n")],
        &format!(
            r#"    - known_hosts:
        name: git.example.com
        key: "git.example.com {key}"
        path: "{{{{ root }}}}/kh"
      register: k
    - assert:
        that:
          # add_path_info replaces state with the file's, as in Ansible.
          - ansible_check_mode or (k.name == 'git.example.com' and k.state == 'file')
          - "'git.example.com {key}\n' in k.diff.after"
    - known_hosts:
        name: hashed.example.com
        key: "hashed.example.com {key}"
        path: "{{{{ root }}}}/kh"
        hash_host: true
    - known_hosts:
        name: old.example.com
        path: "{{{{ root }}}}/kh"
        state: absent
"#
        ),
        "+git.example.com ssh-ed25519",
    );
    let text = p.read("kh");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], format!("git.example.com {key}"));
    assert!(
        lines[1].starts_with("|1|") && lines[1].ends_with(key),
        "{text}"
    );
    assert_eq!(
        p.read("kh.old"),
        format!("old.example.com ssh-rsa AAAAB3Nza\n{}\n", lines.join("\n"))
    );
}
