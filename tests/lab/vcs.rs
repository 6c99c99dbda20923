//! unarchive and git over SSH on real hosts: archives built here (names with
//! spaces, quotes and `$`) unpacked from the controller and with
//! `remote_src`, and a bare repository made on the host cloned, updated,
//! checked out at a tag, a sha and shallow. Each playbook's second run
//! changes nothing; check mode predicts without writing.

use std::path::Path;
use std::process::Command;

use crate::common::{lab, recap};

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .current_dir(dir)
        .args(["-c", script])
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const WEIRD: &str = "d i$r/it's \"q\" $x.txt";

const UNARCHIVE_PLAY: &str = r#"- hosts: all
  gather_facts: false
  vars:
    base: /var/tmp/hoist-t-vcs-unarchive
  tasks:
    - file: {path: "{{ base }}/{{ item }}", state: directory}
      loop: [tgz, txz, zip, remote, zipremote]
    - copy: {src: a.tar.xz, dest: "{{ base }}/arch $x.tar.xz"}
    - copy: {src: a.zip, dest: "{{ base }}/arch 'q'.zip"}
    - unarchive: {src: a.tar.gz, dest: "{{ base }}/tgz", mode: "u=rwX,go=rX"}
    - unarchive: {src: a.tar.xz, dest: "{{ base }}/txz", list_files: true}
      register: txz
    - unarchive: {src: a.zip, dest: "{{ base }}/zip", owner: deploy}
    - unarchive: {src: "{{ base }}/arch $x.tar.xz", dest: "{{ base }}/remote", remote_src: true}
    - unarchive: {src: "{{ base }}/arch 'q'.zip", dest: "{{ base }}/zipremote", remote_src: true}
    - unarchive: {src: a.tar.gz, dest: "{{ base }}/zip", creates: "{{ base }}/tgz"}
    - assert:
        that:
          - txz.handler == 'TarArchive'
          - "'./d i$r/it\\'s \"q\" $x.txt' in txz.files"
      when: not ansible_check_mode
"#;

#[test]
fn unarchive_from_the_controller_and_remote_src_is_idempotent() {
    let Some(lab) = lab() else { return };
    let host = "db3";
    let base = "/var/tmp/hoist-t-vcs-unarchive";
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::write(p.join("site.yml"), UNARCHIVE_PLAY).expect("playbook");
    let tree = p.join("tree");
    std::fs::create_dir_all(tree.join("d i$r")).expect("tree");
    std::fs::write(tree.join(WEIRD), "hello $x\n").expect("file");
    std::fs::write(tree.join("top.txt"), "top\n").expect("file");
    std::fs::create_dir_all(p.join("files")).expect("files");
    sh(
        p,
        "tar -czf files/a.tar.gz -C tree . && tar -cJf files/a.tar.xz -C tree . \
         && (cd tree && zip -qr ../files/a.zip .)",
    );
    let r = lab.ssh(host, "root", &format!("rm -rf {base}"));
    assert_eq!(r.code, 0, "{r:?}");

    let first = lab.apply_on(p, host, &[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(recap(&first, host), [9, 8, 0, 0, 1, 0, 0], "{first:?}");
    let r = lab.ssh(
        host,
        "root",
        &format!(
            "cd {base} && for d in tgz txz zip remote zipremote; do cat \"$d/d i\\$r/it's \\\"q\\\" \\$x.txt\"; done; \
             stat -c '%U %a' zip/top.txt tgz/top.txt; ls -A zip; ls /tmp | grep -c hoist-unarchive"
        ),
    );
    assert_eq!(
        r.stdout,
        "hello $x\n".repeat(5) + "deploy 644\nroot 644\nd i$r\ntop.txt\n0\n",
        "{r:?}"
    );

    let second = lab.apply_on(p, host, &[]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(recap(&second, host), [9, 0, 0, 0, 1, 0, 0], "{second:?}");

    // Change what was unpacked: check mode sees the zip's missing file and
    // the tar.gz's changed one (Ansible skips tar formats in check mode;
    // hoist compares them, so a dry run sees the drift) and writes nothing.
    let r = lab.ssh(
        host,
        "root",
        &format!("cd {base} && rm zip/top.txt && echo changed > tgz/top.txt"),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let check = lab.apply_on(p, host, &["--check", "--diff"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert_eq!(recap(&check, host), [8, 2, 0, 0, 2, 0, 0], "{check:?}");
    assert!(check.stdout.contains(">f++++++.?? top.txt"), "{check:?}");
    let r = lab.ssh(
        host,
        "root",
        &format!("cd {base} && ls zip; cat tgz/top.txt"),
    );
    assert_eq!(r.stdout, "d i$r\nchanged\n", "{r:?}");

    let fix = lab.apply_on(p, host, &[]);
    assert_eq!(fix.code, 0, "{fix:?}");
    assert_eq!(recap(&fix, host), [9, 2, 0, 0, 1, 0, 0], "{fix:?}");
    let r = lab.ssh(
        host,
        "root",
        &format!("cat {base}/zip/top.txt {base}/tgz/top.txt"),
    );
    assert_eq!(r.stdout, "top\ntop\n", "{r:?}");
    let _ = lab.ssh(host, "root", &format!("rm -rf {base}"));
}

const GIT_PLAY: &str = r#"- hosts: all
  gather_facts: false
  vars:
    repo: "/var/tmp/hoist-t-vcs-git/src repo.git"
    d: "/var/tmp/hoist-t-vcs-git/co $x 'q'"
  tasks:
    - git: {repo: "{{ repo }}", dest: "{{ d }}/main", force: "{{ force | default(false) }}"}
    - git: {repo: "{{ repo }}", dest: "{{ d }}/tag", version: v1}
    - git: {repo: "{{ repo }}", dest: "{{ d }}/sha", version: "{{ sha1 }}"}
    - git: {repo: "{{ repo }}", dest: "{{ d }}/shallow", depth: 1}
"#;

#[test]
fn git_clones_updates_and_keeps_versions() {
    let Some(lab) = lab() else { return };
    let host = "cache2";
    let base = "/var/tmp/hoist-t-vcs-git";
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::write(p.join("site.yml"), GIT_PLAY).expect("playbook");
    let setup = format!(
        "set -e; b={base}; rm -rf $b; mkdir -p $b; git init -q --bare -b main \"$b/src repo.git\"; \
         git clone -q \"$b/src repo.git\" $b/work 2>/dev/null; cd $b/work; git config user.email t@t; \
         git config user.name t; echo one > f.txt; git add f.txt; git commit -qm one; git tag v1; \
         echo two > f.txt; git commit -qam two; git push -q origin main --tags; git rev-parse v1"
    );
    let r = lab.ssh(host, "root", &setup);
    assert_eq!(r.code, 0, "{r:?}");
    let sha1 = r.stdout.trim().to_owned();
    let sha_var = format!("sha1={sha1}");
    let run = |extra: &[&str]| lab.apply_on(p, host, &[&["-e", sha_var.as_str()], extra].concat());
    // The checkouts' directory, quoted for the remote shell.
    let d = format!("\"{base}/co \\$x 'q'\"");

    let check = run(&["--check", "--diff"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert_eq!(recap(&check, host), [4, 4, 0, 0, 0, 0, 0], "{check:?}");
    assert!(check.stdout.contains(">> Newly checked out"), "{check:?}");
    let r = lab.ssh(host, "root", &format!("test -e {d} || echo absent"));
    assert_eq!(r.stdout, "absent\n", "check mode clones nothing: {r:?}");

    let first = run(&[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(recap(&first, host), [4, 4, 0, 0, 0, 0, 0], "{first:?}");
    let r = lab.ssh(
        host,
        "root",
        &format!(
            "cd {d} && cat main/f.txt tag/f.txt sha/f.txt shallow/f.txt; \
             git -C shallow rev-list --count HEAD; git -C sha rev-parse HEAD"
        ),
    );
    assert_eq!(
        r.stdout,
        format!("two\none\none\ntwo\n1\n{sha1}\n"),
        "{r:?}"
    );

    let second = run(&[]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(recap(&second, host), [4, 0, 0, 0, 0, 0, 0], "{second:?}");

    // A new commit upstream: check mode sees it for the branches and
    // changes nothing; a real run updates them.
    let r = lab.ssh(
        host,
        "root",
        &format!(
            "set -e; cd {base}/work; echo three > f.txt; git commit -qam three; git push -q origin main"
        ),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let check = run(&["--check", "--diff"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert_eq!(recap(&check, host), [4, 2, 0, 0, 0, 0, 0], "{check:?}");
    let r = lab.ssh(host, "root", &format!("cat {d}/main/f.txt"));
    assert_eq!(r.stdout, "two\n", "{r:?}");
    let update = run(&["--diff"]);
    assert_eq!(update.code, 0, "{update:?}");
    assert_eq!(recap(&update, host), [4, 2, 0, 0, 0, 0, 0], "{update:?}");
    assert!(update.stdout.contains("+three"), "{update:?}");
    let r = lab.ssh(
        host,
        "root",
        &format!("cat {d}/main/f.txt {d}/shallow/f.txt {d}/tag/f.txt"),
    );
    assert_eq!(r.stdout, "three\nthree\none\n", "{r:?}");

    // Local changes: refused without force, thrown away with it.
    let r = lab.ssh(host, "root", &format!("echo local >> {d}/main/f.txt"));
    assert_eq!(r.code, 0, "{r:?}");
    let refused = run(&[]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert_eq!(recap(&refused, host)[3], 1, "{refused:?}");
    assert!(
        refused
            .stdout
            .contains("Local modifications exist in the destination: /var/tmp/hoist-t-vcs-git/co $x 'q'/main (force=no)."),
        "{refused:?}"
    );
    let forced = run(&["-e", "force=true"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert_eq!(recap(&forced, host), [4, 1, 0, 0, 0, 0, 0], "{forced:?}");
    let r = lab.ssh(host, "root", &format!("cat {d}/main/f.txt"));
    assert_eq!(r.stdout, "three\n", "{r:?}");
    let _ = lab.ssh(host, "root", &format!("rm -rf {base}"));
}

const GIT_SSH_PLAY: &str = r#"- hosts: all
  gather_facts: false
  vars:
    b: /var/tmp/hoist-t-vcs-ssh
    r: /var/tmp/hoist-t-vcs-ssh/served repo.git
  tasks:
    - copy: {src: "{{ key }}", dest: "{{ b }}/id $k 'q'", mode: "0600"}
    - git:
        repo: "ssh://root@db3{{ r | replace(' ', '%20') }}"
        dest: "{{ b }}/url"
        key_file: "{{ b }}/id $k 'q'"
        accept_hostkey: true
        ssh_opts: "-o UserKnownHostsFile={{ b }}/kh1"
    - git:
        repo: "root@db3:{{ r }}"
        dest: "{{ b }}/scp"
        key_file: "{{ b }}/id $k 'q'"
        accept_newhostkey: true
        ssh_opts: "-o UserKnownHostsFile={{ b }}/kh2"
    # An unknown host key without accept_*: BatchMode refuses, no prompt.
    - git:
        repo: "root@db3:{{ r }}"
        dest: "{{ b }}/refused"
        key_file: "{{ b }}/id $k 'q'"
        ssh_opts: "-o UserKnownHostsFile={{ b }}/kh3"
      ignore_errors: true
"#;

#[test]
fn git_over_ssh_with_a_key_file_and_host_key_acceptance() {
    let Some(lab) = lab() else { return };
    let (host, server) = ("cache2", "db3");
    let base = "/var/tmp/hoist-t-vcs-ssh";
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::write(p.join("site.yml"), GIT_SSH_PLAY).expect("playbook");
    let r = lab.ssh(
        server,
        "root",
        &format!(
            "set -e; b={base}; rm -rf $b; mkdir -p $b; git init -q --bare -b main \"$b/served repo.git\"; \
             git clone -q \"$b/served repo.git\" $b/work 2>/dev/null; cd $b/work; git config user.email t@t; \
             git config user.name t; echo served > f.txt; git add f.txt; git commit -qm one; \
             git push -q origin main; git rev-parse HEAD"
        ),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let sha = r.stdout.trim().to_owned();
    let r = lab.ssh(host, "root", &format!("rm -rf {base}; mkdir -p {base}"));
    assert_eq!(r.code, 0, "{r:?}");
    let key = lab.key();
    let key_var = format!("key={}", key.display());
    for (round, changed) in [("first", 3), ("second", 0)] {
        let run = lab.apply_on(p, host, &["-e", key_var.as_str(), "-v"]);
        assert_eq!(run.code, 0, "{round}: {run:?}");
        assert_eq!(
            recap(&run, host),
            [4, changed, 0, 0, 0, 0, 1],
            "{round}: {run:?}"
        );
        assert!(
            run.stdout.contains("Host key verification failed"),
            "{round}: {run:?}"
        );
        assert!(
            run.stdout.contains(&format!("\"after\": \"{sha}\"")),
            "{run:?}"
        );
    }
    let r = lab.ssh(
        host,
        "root",
        &format!("cat {base}/url/f.txt {base}/scp/f.txt; grep -c . {base}/kh1 {base}/kh2"),
    );
    assert!(r.stdout.starts_with("served\nserved\n"), "{r:?}");
    assert!(!r.stdout.contains(":0"), "host keys were recorded: {r:?}");
    let _ = lab.ssh(host, "root", &format!("rm -rf {base}"));
    let _ = lab.ssh(server, "root", &format!("rm -rf {base}"));
}
