//! Ansible Vault: `hoist vault` against the real ansible-vault in both
//! directions (files and strings, 1.1 and 1.2, several ids, password
//! scripts), `edit` and its temporary file, and playbooks that read vaulted
//! files and values, compared with ansible-playbook.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::have_ansible;
use crate::common::{Project, Run, recap, run};
use crate::inspect::ansible;

fn hoist(dir: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(dir)
        .args(args)
        .env_remove("ANSIBLE_VAULT_PASSWORD_FILE")
        .env_remove("HOIST_VAULT_PASSWORD_FILE")
        .stdin(Stdio::null());
    run(c)
}

/// `hoist` with `input` on stdin.
fn hoist_stdin(dir: &Path, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hoist");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, text).expect("write");
    p
}

fn executable(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = write(dir, rel, text);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "{r:?}");
}

/// The envelope of an `encrypt-string` output, unindented.
fn envelope_of(yaml: &str) -> String {
    yaml.lines()
        .filter(|l| !l.contains("!vault"))
        .map(|l| format!("{}\n", l.trim()))
        .collect()
}

#[test]
fn files_interoperate_with_ansible_vault_both_ways() {
    if !have_ansible() {
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    write(d, "pw", "file-password\n");
    write(d, "pw-lab", "lab-password");
    let text = "db_password: s3cr3t-value\nlist:\n  - 1\n  - two\n";
    for (i, ids) in [
        vec!["--vault-password-file", "pw"],
        vec!["--vault-id", "lab@pw-lab"],
    ]
    .iter()
    .enumerate()
    {
        // hoist encrypts, ansible-vault decrypts.
        write(d, &format!("h{i}.yml"), text);
        let mut args = vec!["vault", "encrypt"];
        args.extend(ids.iter().copied());
        let name = format!("h{i}.yml");
        args.push(&name);
        ok(&hoist(d, &args));
        let vaulted = std::fs::read_to_string(d.join(&name)).expect("read");
        let header = if i == 0 {
            "$ANSIBLE_VAULT;1.1;AES256\n"
        } else {
            "$ANSIBLE_VAULT;1.2;AES256;lab\n"
        };
        assert!(vaulted.starts_with(header), "{vaulted}");
        assert!(
            vaulted
                .lines()
                .skip(1)
                .all(|l| l.len() <= 80 && !l.is_empty())
        );
        let mode = std::fs::metadata(d.join(&name))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "encrypted in place as ansible-vault: 0600"
        );
        let mut a = vec!["view"];
        a.extend(ids.iter().copied());
        a.push(&name);
        let r = ansible(d, "ansible-vault", &a);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(r.stdout, text);

        // ansible-vault encrypts, hoist decrypts (view, and decrypt to a file).
        let aname = format!("a{i}.yml");
        write(d, &aname, text);
        let mut a = vec!["encrypt"];
        a.extend(ids.iter().copied());
        a.push(&aname);
        let r = ansible(d, "ansible-vault", &a);
        assert_eq!(r.code, 0, "{r:?}");
        let mut args = vec!["vault", "view"];
        args.extend(ids.iter().copied());
        args.push(&aname);
        let r = hoist(d, &args);
        ok(&r);
        assert_eq!(r.stdout, text);
        let mut args = vec!["vault", "decrypt", "--output", "out.yml"];
        args.extend(ids.iter().copied());
        args.push(&aname);
        ok(&hoist(d, &args));
        assert_eq!(
            std::fs::read_to_string(d.join("out.yml")).expect("read"),
            text
        );
    }

    // A wrong password: an error naming the file, exit 1, nothing written.
    write(d, "bad", "not-it\n");
    let before = std::fs::read(d.join("a0.yml")).expect("read");
    let r = hoist(
        d,
        &["vault", "decrypt", "--vault-password-file", "bad", "a0.yml"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("Decryption failed (no vault secrets were found that could decrypt). for"),
        "{r:?}"
    );
    assert!(r.stderr.contains("a0.yml"), "{r:?}");
    assert_eq!(std::fs::read(d.join("a0.yml")).expect("read"), before);
    assert!(!r.stdout.contains("s3cr3t"));

    // rekey: the new password opens it for ansible-vault, the old no longer.
    write(d, "pw-new", "brand-new\n");
    ok(&hoist(
        d,
        &[
            "vault",
            "rekey",
            "--vault-password-file",
            "pw",
            "--new-vault-id",
            "next@pw-new",
            "a0.yml",
        ],
    ));
    let r = ansible(
        d,
        "ansible-vault",
        &["view", "--vault-id", "next@pw-new", "a0.yml"],
    );
    assert_eq!(r.stdout, text, "{r:?}");
    assert!(
        std::fs::read_to_string(d.join("a0.yml"))
            .expect("read")
            .starts_with("$ANSIBLE_VAULT;1.2;AES256;next\n")
    );
    let r = ansible(
        d,
        "ansible-vault",
        &["view", "--vault-password-file", "pw", "a0.yml"],
    );
    assert_ne!(r.code, 0);
}

#[test]
fn strings_interoperate_and_print_as_ansible_vault() {
    if !have_ansible() {
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    write(d, "pw", "string-pw\n");
    // hoist encrypts strings; ansible-vault decrypts them.
    let r = hoist(
        d,
        &[
            "vault",
            "encrypt-string",
            "--vault-id",
            "lab@pw",
            "--name",
            "db_pass",
            "inline-secret-value",
        ],
    );
    ok(&r);
    let mut lines = r.stdout.lines();
    assert_eq!(lines.next(), Some("db_pass: !vault |"));
    assert_eq!(
        lines.next(),
        Some("          $ANSIBLE_VAULT;1.2;AES256;lab")
    );
    assert!(lines.all(|l| l.starts_with("          ") && l.len() <= 90));
    assert!(r.stdout.ends_with('\n') && !r.stdout.ends_with("\n\n"));
    write(d, "h.vault", &envelope_of(&r.stdout));
    let r = ansible(
        d,
        "ansible-vault",
        &[
            "decrypt",
            "--vault-id",
            "lab@pw",
            "--output",
            "-",
            "h.vault",
        ],
    );
    assert_eq!(r.stdout, "inline-secret-value", "{r:?}");

    // ansible-vault encrypts a string (from stdin, with --stdin-name); hoist
    // decrypts it, and prints the same layout for the same input.
    let r = ansible(
        d,
        "ansible-vault",
        &[
            "encrypt_string",
            "--vault-password-file",
            "pw",
            "plain-arg",
            "--name",
            "x",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let theirs = r.stdout.clone();
    let r = hoist_stdin(
        d,
        &["vault", "decrypt", "--vault-password-file", "pw"],
        &envelope_of(&theirs),
    );
    ok(&r);
    assert_eq!(r.stdout, "plain-arg");
    let ours = hoist(
        d,
        &[
            "vault",
            "encrypt-string",
            "--vault-password-file",
            "pw",
            "plain-arg",
            "--name",
            "x",
        ],
    );
    ok(&ours);
    let shape = |s: &str| -> Vec<(usize, bool)> {
        s.lines()
            .map(|l| (l.len(), l.starts_with("          ")))
            .collect()
    };
    assert_eq!(shape(&ours.stdout), shape(&theirs));
    let r = hoist_stdin(
        d,
        &[
            "vault",
            "encrypt-string",
            "--vault-password-file",
            "pw",
            "--stdin-name",
            "from_stdin",
        ],
        "piped value",
    );
    ok(&r);
    assert!(r.stdout.starts_with("from_stdin: !vault |\n"), "{r:?}");
    write(d, "stdin.vault", &envelope_of(&r.stdout));
    let r = ansible(
        d,
        "ansible-vault",
        &["view", "--vault-password-file", "pw", "stdin.vault"],
    );
    assert_eq!(r.stdout, "piped value\n", "{r:?}");
    write(d, "s.vault", &envelope_of(&ours.stdout));
    let r = ansible(
        d,
        "ansible-vault",
        &["view", "--vault-password-file", "pw", "s.vault"],
    );
    assert_eq!(r.stdout, "plain-arg\n", "{r:?}");
}

#[test]
fn several_ids_scripts_and_client_scripts() {
    if !have_ansible() {
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    write(d, "pw-dev", "dev-pass\n");
    executable(d, "pw.sh", "#!/bin/sh\necho script-pass\n");
    executable(
        d,
        "vault-client",
        "#!/bin/sh\n[ \"$1\" = --vault-id ] || exit 3\ncase \"$2\" in prod) echo prod-pass;; *) echo \"no $2\" >&2; exit 2;; esac\n",
    );
    write(d, "dev.yml", "env: dev\n");
    write(d, "prod.yml", "env: prod\n");
    write(d, "scr.yml", "env: script\n");
    for (file, id) in [
        ("dev.yml", "dev@pw-dev"),
        ("prod.yml", "prod@vault-client"),
        ("scr.yml", "scr@pw.sh"),
    ] {
        let r = ansible(d, "ansible-vault", &["encrypt", "--vault-id", id, file]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    // All three ids at once; each file opens with its own.
    let ids = [
        "--vault-id",
        "dev@pw-dev",
        "--vault-id",
        "prod@vault-client",
        "--vault-id",
        "scr@pw.sh",
    ];
    for (file, want) in [
        ("dev.yml", "env: dev\n"),
        ("prod.yml", "env: prod\n"),
        ("scr.yml", "env: script\n"),
    ] {
        let mut args = vec!["vault", "view"];
        args.extend(ids);
        args.push(file);
        let r = hoist(d, &args);
        ok(&r);
        assert_eq!(r.stdout, want);
    }
    // The header's id is only a hint: a file whose header names `dev` but
    // was encrypted with prod's password still opens with all ids given.
    let prod = std::fs::read_to_string(d.join("prod.yml")).expect("read");
    write(d, "lied.yml", &prod.replacen(";prod\n", ";dev\n", 1));
    let mut args = vec!["vault", "view"];
    args.extend(ids);
    args.push("lied.yml");
    let r = hoist(d, &args);
    assert_eq!(r.stdout, "env: prod\n", "{r:?}");

    // Encrypting with several ids needs --encrypt-vault-id (exit 5 without).
    write(d, "new.yml", "fresh: 1\n");
    let mut args = vec!["vault", "encrypt"];
    args.extend(ids);
    args.push("new.yml");
    let r = hoist(d, &args);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr
            .contains("The vault-ids dev,prod,scr are available to encrypt"),
        "{r:?}"
    );
    args.extend(["--encrypt-vault-id", "prod"]);
    ok(&hoist(d, &args));
    let r = ansible(
        d,
        "ansible-vault",
        &["view", "--vault-id", "prod@vault-client", "new.yml"],
    );
    assert_eq!(r.stdout, "fresh: 1\n", "{r:?}");
    assert!(
        std::fs::read_to_string(d.join("new.yml"))
            .expect("read")
            .starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n")
    );

    // The environment's password file, as ANSIBLE_VAULT_PASSWORD_FILE.
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(d)
        .args(["vault", "view", "dev.yml"])
        .env("HOIST_VAULT_PASSWORD_FILE", d.join("pw-dev"))
        .stdin(Stdio::null());
    let r = run(c);
    assert_eq!(r.stdout, "env: dev\n", "{r:?}");

    // No password and no terminal: a clear error.
    let r = hoist(d, &["vault", "view", "dev.yml"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("no terminal"), "{r:?}");
}

/// An editor script: records the file it was given, then runs `body`.
fn editor(d: &Path, body: &str) -> PathBuf {
    executable(
        d,
        "editor.sh",
        &format!(
            "#!/bin/sh\necho \"$1\" > '{}'\nls -ld \"$(dirname \"$1\")\" > '{}'\n{body}\n",
            d.join("edited-path").display(),
            d.join("edited-dir").display()
        ),
    )
}

fn edit(d: &Path, file: &str, editor: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_hoist"))
        .current_dir(d)
        .args(["vault", "edit", "--vault-password-file", "pw", file])
        .env("EDITOR", editor)
        .env_remove("ANSIBLE_EDITOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hoist")
}

fn wait(child: std::process::Child) -> Run {
    let out = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The editor's temporary file (and its directory) no longer exist, and
/// the directory was private while it did.
fn temp_gone(d: &Path) {
    let tmp = std::fs::read_to_string(d.join("edited-path")).expect("editor ran");
    let tmp = PathBuf::from(tmp.trim());
    assert!(!tmp.exists(), "{} left behind", tmp.display());
    assert!(!tmp.parent().expect("dir").exists(), "temp dir left behind");
    let listing = std::fs::read_to_string(d.join("edited-dir")).expect("dir listing");
    assert!(listing.starts_with("drwx------"), "{listing}");
}

fn leftovers(d: &Path) -> Vec<String> {
    std::fs::read_dir(d)
        .expect("readdir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("hoist-vault") || n.ends_with(".tmp"))
        .collect()
}

#[test]
fn edit_writes_back_atomically_and_leaves_no_plaintext() {
    if !have_ansible() {
        return;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    write(d, "pw", "edit-pw\n");
    write(d, "s.yml", "a: 1\n");
    let r = ansible(
        d,
        "ansible-vault",
        &["encrypt", "--vault-id", "ops@pw", "s.yml"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    std::fs::set_permissions(d.join("s.yml"), std::fs::Permissions::from_mode(0o640))
        .expect("chmod");
    let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).expect("stat"));
    let before_ino = ino(&d.join("s.yml"));

    // The editor appends a line: the file is re-encrypted (same vault id,
    // same mode, a new inode: renamed over), ansible-vault reads it.
    let ed = editor(d, "echo 'b: 2' >> \"$1\"");
    let r = wait(edit(d, "s.yml", &ed));
    ok(&r);
    temp_gone(d);
    assert!(leftovers(d).is_empty(), "{:?}", leftovers(d));
    let text = std::fs::read_to_string(d.join("s.yml")).expect("read");
    assert!(
        text.starts_with("$ANSIBLE_VAULT;1.2;AES256;ops\n"),
        "{text}"
    );
    let mode = std::fs::metadata(d.join("s.yml"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    assert_ne!(ino(&d.join("s.yml")), before_ino);
    let r = ansible(
        d,
        "ansible-vault",
        &["view", "--vault-password-file", "pw", "s.yml"],
    );
    assert_eq!(r.stdout, "a: 1\nb: 2\n", "{r:?}");

    // The editor fails: nothing changes, the plaintext copy is gone.
    let before = std::fs::read(d.join("s.yml")).expect("read");
    let ed = editor(d, "echo 'c: 3' >> \"$1\"; exit 1");
    let r = wait(edit(d, "s.yml", &ed));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("was not changed"), "{r:?}");
    temp_gone(d);
    assert_eq!(std::fs::read(d.join("s.yml")).expect("read"), before);
    assert!(leftovers(d).is_empty());

    // hoist gets SIGTERM while the editor runs: the editor is stopped, the
    // file is unchanged and the plaintext copy removed.
    let ed = editor(d, "echo 'd: 4' >> \"$1\"; exec sleep 30");
    let child = edit(d, "s.yml", &ed);
    let pid = child.id();
    let started = std::time::Instant::now();
    while !d.join("edited-dir").exists()
        || std::fs::read_to_string(d.join("edited-dir"))
            .unwrap_or_default()
            .is_empty()
    {
        assert!(started.elapsed().as_secs() < 20, "editor never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let r = wait(child);
    assert_eq!(r.code, 128 + 15, "{r:?}");
    assert!(
        started.elapsed().as_secs() < 20,
        "the editor was not stopped"
    );
    temp_gone(d);
    assert_eq!(std::fs::read(d.join("s.yml")).expect("read"), before);
    assert!(leftovers(d).is_empty());
    assert!(!r.stdout.contains("a: 1") && !r.stderr.contains("a: 1"));

    // create: a new file through the editor (no tty: --skip-tty-check).
    let ed = editor(d, "echo 'made: here' > \"$1\"");
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(d)
        .args([
            "vault",
            "create",
            "--skip-tty-check",
            "--vault-password-file",
            "pw",
            "sub/new.yml",
        ])
        .env("EDITOR", &ed)
        .stdin(Stdio::null());
    let r = run(c);
    ok(&r);
    temp_gone(d);
    let r = ansible(
        d,
        "ansible-vault",
        &["view", "--vault-password-file", "pw", "sub/new.yml"],
    );
    assert_eq!(r.stdout, "made: here\n", "{r:?}");
}

/// The playbook project: vaulted group_vars, vars_files, include_vars,
/// copy and template sources, an inline `!vault` value.
fn vault_project(p: &Project) {
    let d = p.path();
    write(d, "pw", "play-password\n");
    write(
        d,
        "hosts.ini",
        "[web]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
    );
    let files = [
        ("group_vars/web.yml", "gv_secret: group-secret-1\n"),
        ("vars/secret.yml", "vf_secret: varsfile-secret-2\n"),
        ("vars/inc.yml", "iv_secret: included-secret-3\n"),
        ("files/secret.txt", "copied secret content 4\n"),
        (
            "templates/t.j2",
            "gv={{ gv_secret }} vf={{ vf_secret }} iv={{ iv_secret }} inl={{ inline_secret }}\n",
        ),
    ];
    for (rel, text) in files {
        write(d, rel, text);
        let r = hoist(d, &["vault", "encrypt", "--vault-password-file", "pw", rel]);
        ok(&r);
    }
    let inline = hoist(
        d,
        &[
            "vault",
            "encrypt-string",
            "--vault-password-file",
            "pw",
            "--name",
            "inline_secret",
            "inline-secret-5",
        ],
    );
    ok(&inline);
    let inline: String = inline
        .stdout
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect();
    write(
        d,
        "site.yml",
        &format!(
            "- hosts: web\n  gather_facts: false\n  vars_files: [vars/secret.yml]\n  vars:\n{inline}  tasks:\n    - include_vars: vars/inc.yml\n    - copy: {{src: secret.txt, dest: \"{{{{ root }}}}/copied.txt\"}}\n    - copy: {{src: secret.txt, dest: \"{{{{ root }}}}/raw.txt\", decrypt: false}}\n    - template: {{src: t.j2, dest: \"{{{{ root }}}}/t.txt\"}}\n    - copy: {{content: \"{{{{ [inline_secret is vault_encrypted, vf_secret is vault_encrypted, 'x' is vault_encrypted] | to_json }}}}\", dest: \"{{{{ root }}}}/tests.txt\"}}\n    - file: {{path: \"{{{{ root }}}}/ran\", state: touch}}\n"
        ),
    );
}

#[test]
fn playbook_reads_vaulted_files_and_values_like_ansible_playbook() {
    if !have_ansible() {
        return;
    }
    let p = Project::new();
    vault_project(&p);
    let r = p.hoist("apply", &["--vault-password-file", "pw"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "localhost")[3], 0);
    assert_eq!(
        p.read("t.txt"),
        "gv=group-secret-1 vf=varsfile-secret-2 iv=included-secret-3 inl=inline-secret-5\n"
    );
    assert_eq!(p.read("copied.txt"), "copied secret content 4\n");
    assert!(p.read("raw.txt").starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));

    // ansible-playbook, same project and password file, its own root.
    let theirs = p.path().join("theirs");
    std::fs::create_dir_all(&theirs).expect("mkdir");
    let root = format!("root={}", theirs.display());
    let a = ansible(
        p.path(),
        "ansible-playbook",
        &[
            "site.yml",
            "-i",
            "hosts.ini",
            "--vault-password-file",
            "pw",
            "-e",
            &root,
        ],
    );
    assert_eq!(a.code, 0, "{a:?}");
    // `is vault_encrypted`: true for an inline value only.
    assert_eq!(p.read("tests.txt"), "[true, false, false]");
    for f in ["t.txt", "copied.txt", "raw.txt", "tests.txt", "ran"] {
        assert_eq!(
            std::fs::read(theirs.join(f)).expect("ansible wrote it"),
            std::fs::read(p.root().join(f)).expect("hoist wrote it"),
            "{f}"
        );
    }
}

#[test]
fn wrong_or_missing_password_stops_before_anything_runs() {
    let p = Project::new();
    vault_project(&p);
    write(p.path(), "bad", "wrong-password\n");
    for extra in [vec!["--vault-password-file", "bad"], vec![]] {
        let r = p.hoist("apply", &extra);
        assert_eq!(r.code, 4, "{r:?}");
        assert!(!p.root().join("ran").exists());
        // Every vault file that cannot be opened, each with file:line:col.
        for f in ["group_vars/web.yml", "vars/secret.yml"] {
            let at = format!("{}:1:1", p.path().join(f).display());
            assert!(r.stderr.contains(&at), "{at} in {r:?}");
        }
        assert!(
            r.stderr
                .contains("ERROR! 2 problems found; nothing was run."),
            "{r:?}"
        );
        assert!(!r.stdout.contains("secret-") && !r.stderr.contains("secret-"));
    }
    let r = p.hoist("apply", &["--vault-password-file", "bad"]);
    assert!(
        r.stderr
            .contains("Decryption failed (no vault secrets were found that could decrypt).")
    );
    let r = p.hoist("apply", &[]);
    assert!(
        r.stderr
            .contains("Attempting to decrypt but no vault secrets found.")
    );
    assert!(r.stderr.contains("--vault-password-file"), "{r:?}");
}

#[test]
fn an_undecryptable_inline_value_fails_only_where_used() {
    let p = Project::new();
    let d = p.path();
    write(d, "pw", "right\n");
    write(d, "bad", "wrong\n");
    let v = hoist(
        d,
        &[
            "vault",
            "encrypt-string",
            "--vault-password-file",
            "pw",
            "--name",
            "s",
            "hush-value",
        ],
    );
    ok(&v);
    let vars: String = v.stdout.lines().map(|l| format!("    {l}\n")).collect();
    write(
        d,
        "site.yml",
        &format!(
            "- hosts: localhost\n  gather_facts: false\n  vars:\n{vars}  tasks:\n    - file: {{path: \"{{{{ root }}}}/before\", state: touch}}\n    - debug: var=s\n"
        ),
    );
    let r = p.hoist("apply", &["--vault-password-file", "bad"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(p.root().join("before").exists());
    assert!(
        r.stdout.contains("Attempt to use undecryptable variable"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("site.yml:4:8"),
        "the !vault value's place: {r:?}"
    );
    let r = p.hoist("apply", &["--vault-id", "x@pw"]);
    assert_eq!(r.code, 0, "{r:?}");
}
