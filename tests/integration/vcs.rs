//! unarchive and git on the local connection, compared with ansible-playbook:
//! the same fixtures (archives and a bare repository with names holding
//! spaces, quotes and `$`) in two projects, the same runs (check, apply,
//! apply again, check again) with each tool, and the same per-task results
//! and recaps. (The repository's own path is plain: Ansible's git module
//! builds some commands as strings and splits them, so it cannot take a
//! repository path with spaces or quotes; hoist can, see tests/lab/vcs.rs.)

use std::path::Path;
use std::process::Command;

use crate::common::{Project, Run, have_ansible, host_results, recap, run};

const PLAY: &str = r#"- hosts: localhost
  gather_facts: false
  vars:
    odd: "a $b 'c\" d"
  tasks:
    - unarchive: {src: a.tar.gz, dest: "{{ root }}/tgz {{ odd }}", list_files: true}
      register: t
    - unarchive: {src: a.zip, dest: "{{ root }}/zip {{ odd }}", mode: "0750"}
      register: z
    - unarchive:
        src: "{{ root }}/arch {{ odd }}.tar.bz2"
        dest: "{{ root }}/bz {{ odd }}"
        remote_src: true
        exclude: ["*/sub.txt"]
    - unarchive: {src: a.zip, dest: "{{ root }}/zip {{ odd }}", creates: "{{ root }}/tgz {{ odd }}"}
    # A URL with remote_src is downloaded on the target (curl for hoist).
    - unarchive: {src: "file://{{ root }}/plain.zip", dest: "{{ root }}/url {{ odd }}", remote_src: true}
    - assert:
        that:
          - t.handler == 'TgzArchive'
          - z.handler == 'ZipArchive'
          - t.files | length == 5
          - "'./d i$r/it\\'s \"q\" $x.txt' in t.files"
      when: not ansible_check_mode
    - git: {repo: "{{ root }}/src.git", dest: "{{ root }}/co {{ odd }}"}
      register: g
    - git: {repo: "{{ root }}/src.git", dest: "{{ root }}/tag {{ odd }}", version: v1, depth: 1}
    - git: {repo: "{{ root }}/src.git", dest: "{{ root }}/bare.git", bare: true}
    - assert:
        that:
          - g.after | length == 40
          - g.before is none or g.before == g.after
"#;

const ODD: &str = "a $b 'c\" d";

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .current_dir(dir)
        .args(["-c", script])
        .env("ODD", ODD)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Archives under `files/` and in the root, destination directories, and a
/// bare repository with two commits and a tag.
fn project() -> Project {
    let p = Project::new();
    p.write("site.yml", PLAY);
    p.write("tree/d i$r/it's \"q\" $x.txt", "hello $x\n");
    p.write("tree/d i$r/sub.txt", "sub\n");
    p.write("tree/top.txt", "top\n");
    std::fs::create_dir_all(p.path().join("files")).expect("files");
    sh(
        p.path(),
        r#"set -e
        tar -czf files/a.tar.gz -C tree .
        (cd tree && zip -qr ../files/a.zip .)
        tar -cjf "root/arch $ODD.tar.bz2" -C tree .
        cp files/a.zip root/plain.zip
        for d in tgz zip bz url; do mkdir "root/$d $ODD"; done
        git init -q --bare -b main root/src.git
        git clone -q root/src.git work 2>/dev/null
        cd work
        git config user.email t@t; git config user.name t
        echo one > f.txt; git add f.txt; git commit -qm one; git tag v1
        echo two > f.txt; git commit -qam two
        git push -q origin main --tags"#,
    );
    p
}

fn ansible(p: &Project, extra: &[&str]) -> Run {
    let mut c = Command::new("ansible-playbook");
    c.current_dir(p.path())
        .args(["site.yml", "-i", "hosts.ini", "-e"])
        .arg(format!("root={}", p.root().display()))
        .args(["-e", "ansible_python_interpreter=/usr/bin/python3"])
        .args(extra)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_HOME", p.path().join(".ansible-home"))
        .env("ANSIBLE_LOCAL_TEMP", p.path().join(".ansible-tmp"));
    run(c)
}

#[test]
fn unarchive_and_git_match_ansible() {
    let ours = project();
    let theirs = have_ansible().then(project);
    // Check mode: zip and git predict, and so do the tar formats in hoist
    // (Ansible skips them: its tar handlers do not support check mode, so
    // a dry run would miss a drifted tree). Otherwise the same results.
    // (mode, flags, our recap, Ansible's recap)
    #[allow(clippy::type_complexity)]
    let steps: [(&str, &[&str], [u32; 7], [u32; 7]); 4] = [
        (
            "check",
            &["--check", "--diff"],
            [8, 7, 0, 0, 2, 0, 0],
            [6, 5, 0, 0, 4, 0, 0],
        ),
        (
            "apply",
            &["--diff"],
            [9, 7, 0, 0, 1, 0, 0],
            [9, 7, 0, 0, 1, 0, 0],
        ),
        (
            "apply again",
            &[],
            [9, 0, 0, 0, 1, 0, 0],
            [9, 0, 0, 0, 1, 0, 0],
        ),
        (
            "check again",
            &["--check"],
            [8, 0, 0, 0, 2, 0, 0],
            [6, 0, 0, 0, 4, 0, 0],
        ),
    ];
    for (name, args, want, want_ansible) in steps {
        let h = ours.hoist("apply", args);
        assert_eq!(h.code, 0, "hoist {name}: {h:?}");
        assert_eq!(recap(&h, "localhost"), want, "hoist {name}: {h:?}");
        if let Some(t) = &theirs {
            let a = ansible(t, args);
            assert_eq!(a.code, 0, "ansible {name}: {a:?}");
            assert_eq!(
                recap(&a, "localhost"),
                want_ansible,
                "ansible {name}: {a:?}"
            );
            let ours = host_results(&h.stdout, "localhost");
            let theirs = host_results(&a.stdout, "localhost");
            let same = ours.len() == theirs.len()
                && ours.iter().zip(&theirs).all(|(o, t)| {
                    o == t
                        || (t == "unarchive skipping"
                            && args.contains(&"--check")
                            && (o == "unarchive changed" || o == "unarchive ok"))
                });
            assert!(
                same,
                "{name}\n--- hoist\n{}\n--- ansible\n{}",
                h.stdout, a.stdout
            );
        }
        if name == "check" {
            assert!(h.stdout.contains(">> Newly checked out"), "{h:?}");
            assert!(h.stdout.contains(">f++++++.?? top.txt"), "{h:?}");
        }
    }
    let root = ours.root();
    let read = |rel: &str| std::fs::read_to_string(root.join(rel)).unwrap_or_default();
    assert_eq!(
        read(&format!("tgz {ODD}/d i$r/it's \"q\" $x.txt")),
        "hello $x\n"
    );
    assert_eq!(read(&format!("co {ODD}/f.txt")), "two\n");
    assert_eq!(read(&format!("tag {ODD}/f.txt")), "one\n");
    assert!(!root.join(format!("bz {ODD}/d i$r/sub.txt")).exists());
    assert_eq!(read(&format!("bz {ODD}/top.txt")), "top\n");
    assert_eq!(read(&format!("url {ODD}/top.txt")), "top\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.join(format!("zip {ODD}/top.txt")))
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_default();
    assert_eq!(mode, 0o750);
    if let Some(t) = &theirs {
        assert_eq!(
            crate::common::snapshot(&t.root().join(format!("zip {ODD}"))),
            crate::common::snapshot(&root.join(format!("zip {ODD}")))
        );
        assert_eq!(
            crate::common::snapshot(&t.root().join(format!("bz {ODD}"))),
            crate::common::snapshot(&root.join(format!("bz {ODD}")))
        );
    }
}
