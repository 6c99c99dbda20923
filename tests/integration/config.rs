//! ansible.cfg, `ANSIBLE_*` and `HOIST_*` settings, `hoist config dump`,
//! shell completions and the man page.

use std::path::Path;
use std::process::Command;

use crate::common::{Project, Run, recap, run};

/// Every variable that would leak settings into these tests.
const SETTINGS_ENV: &[&str] = &[
    "ANSIBLE_CONFIG",
    "HOIST_CONFIG",
    "ANSIBLE_INVENTORY",
    "ANSIBLE_REMOTE_USER",
    "ANSIBLE_FORKS",
    "ANSIBLE_ROLES_PATH",
    "ANSIBLE_HOST_KEY_CHECKING",
    "ANSIBLE_SSH_HOST_KEY_CHECKING",
    "ANSIBLE_PRIVATE_KEY_FILE",
    "ANSIBLE_TIMEOUT",
    "ANSIBLE_SSH_TIMEOUT",
    "ANSIBLE_VAULT_PASSWORD_FILE",
    "ANSIBLE_SSH_ARGS",
    "ANSIBLE_BECOME",
    "ANSIBLE_BECOME_USER",
    "ANSIBLE_BECOME_METHOD",
    "HOIST_INVENTORY",
    "HOIST_REMOTE_USER",
    "HOIST_FORKS",
    "HOIST_ROLES_PATH",
    "HOIST_HOST_KEY_CHECKING",
    "HOIST_PRIVATE_KEY_FILE",
    "HOIST_TIMEOUT",
    "HOIST_VAULT_PASSWORD_FILE",
    "HOIST_SSH_ARGS",
];

/// `hoist ARGS` in `dir`, with a clean environment for settings and a
/// home directory without ~/.ansible.cfg.
fn hoist_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(dir).args(args);
    for v in SETTINGS_ENV {
        c.env_remove(v);
    }
    c.env("HOME", dir.join("home"));
    for (k, v) in env {
        c.env(k, v);
    }
    run(c)
}

const SITE: &str = r#"
- hosts: all
  gather_facts: false
  roles:
    - greet
  tasks:
    - debug:
        msg: "forks={{ ansible_forks }}"
"#;

/// A project whose ansible.cfg names the inventory, forks, remote user and
/// roles path, all relative to the config file.
fn project() -> Project {
    let p = Project::new();
    p.write(
        "ansible.cfg",
        "# the team's settings\n[defaults]\ninventory = inventory/hosts.ini\nforks: 3 ; inline comment\n\
         remote_user = cfguser\nroles_path = my_roles:/nonexistent\nunknown_key = ignored\n\
         \n[ssh_connection]\nssh_args = -o Port=1\n",
    );
    p.write(
        "inventory/hosts.ini",
        "[web]\nlocalhost ansible_connection=local\n\n[ssh]\nfar ansible_host=127.0.0.1 ansible_connection=ssh\n",
    );
    p.write(
        "my_roles/greet/tasks/main.yml",
        "- debug:\n    msg: hello from the configured roles path\n",
    );
    p.write("site.yml", SITE);
    p
}

#[test]
fn ansible_cfg_in_the_project_dir() {
    let p = project();
    let r = hoist_in(p.path(), &["apply", "site.yml", "--limit", "web"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("hello from the configured roles path"),
        "{r:?}"
    );
    assert!(r.stdout.contains("\"msg\": \"forks=3\""), "{r:?}");
    assert_eq!(recap(&r, "localhost")[0], 2, "{r:?}");

    // remote_user and ssh_args reach the ssh connection (port 1 refuses).
    let r = hoist_in(p.path(), &["apply", "site.yml", "--limit", "far"], &[]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stdout.contains("cfguser@[127.0.0.1]:1:"), "{r:?}");
}

#[test]
fn inventory_and_adhoc_commands_read_the_config_too() {
    let p = project();
    let r = hoist_in(p.path(), &["inventory", "--graph"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("|--@web:\n  |  |--localhost\n"), "{r:?}");
    let r = hoist_in(p.path(), &["run", "web", "-m", "ping"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("localhost | SUCCESS => {"), "{r:?}");
    // ssh_args (port 1) reach ad-hoc connections as playbook ones.
    let r = hoist_in(p.path(), &["run", "far", "-m", "ping"], &[]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stdout.contains("cfguser@[127.0.0.1]:1:"), "{r:?}");
    // A bad setting is an option error (5), before anything runs.
    let r = hoist_in(
        p.path(),
        &["run", "web", "-m", "ping"],
        &[("ANSIBLE_FORKS", "x")],
    );
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("ANSIBLE_FORKS"), "{r:?}");
}

#[test]
fn environment_overrides_the_file_and_hoist_overrides_ansible() {
    let p = project();
    let args = ["apply", "site.yml", "--limit", "web"];
    let r = hoist_in(p.path(), &args, &[("ANSIBLE_FORKS", "7")]);
    assert!(r.stdout.contains("\"msg\": \"forks=7\""), "{r:?}");
    let r = hoist_in(
        p.path(),
        &args,
        &[("ANSIBLE_FORKS", "7"), ("HOIST_FORKS", "9")],
    );
    assert!(r.stdout.contains("\"msg\": \"forks=9\""), "{r:?}");
    // The command line beats all.
    let r = hoist_in(
        p.path(),
        &["apply", "site.yml", "--limit", "web", "-f", "11"],
        &[("ANSIBLE_FORKS", "7"), ("HOIST_FORKS", "9")],
    );
    assert!(r.stdout.contains("\"msg\": \"forks=11\""), "{r:?}");

    // The user: HOIST_ over ANSIBLE_ over the file; -u over all.
    let far = ["apply", "site.yml", "--limit", "far"];
    let r = hoist_in(p.path(), &far, &[("ANSIBLE_REMOTE_USER", "envuser")]);
    assert!(r.stdout.contains("envuser@[127.0.0.1]:1:"), "{r:?}");
    let r = hoist_in(
        p.path(),
        &far,
        &[
            ("ANSIBLE_REMOTE_USER", "envuser"),
            ("HOIST_REMOTE_USER", "hoistuser"),
        ],
    );
    assert!(r.stdout.contains("hoistuser@[127.0.0.1]:1:"), "{r:?}");
    let r = hoist_in(
        p.path(),
        &["apply", "site.yml", "--limit", "far", "-u", "flaguser"],
        &[("HOIST_REMOTE_USER", "hoistuser")],
    );
    assert!(r.stdout.contains("flaguser@[127.0.0.1]:1:"), "{r:?}");

    // An inventory from the environment is relative to the working
    // directory; -i replaces the configured one.
    p.write("other.ini", "otherhost ansible_connection=local\n");
    let r = hoist_in(
        p.path(),
        &["apply", "site.yml"],
        &[("ANSIBLE_INVENTORY", "other.ini")],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("ok: [otherhost]"), "{r:?}");
    p.write("flag.ini", "flaghost ansible_connection=local\n");
    let r = hoist_in(
        p.path(),
        &["apply", "site.yml", "-i", "flag.ini"],
        &[("HOIST_INVENTORY", "other.ini")],
    );
    assert!(r.stdout.contains("ok: [flaghost]"), "{r:?}");
    assert!(!r.stdout.contains("otherhost"), "{r:?}");
}

#[test]
fn ansible_config_paths_are_relative_to_the_file() {
    let p = project();
    // Run from elsewhere, with the config named by ANSIBLE_CONFIG: its
    // relative inventory and roles path still start at its directory.
    std::fs::create_dir_all(p.path().join("elsewhere")).expect("mkdir");
    let cfg = p.path().join("ansible.cfg");
    let r = hoist_in(
        &p.path().join("elsewhere"),
        &["apply", "../site.yml", "--limit", "web"],
        &[("ANSIBLE_CONFIG", cfg.to_str().expect("utf-8"))],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("hello from the configured roles path"),
        "{r:?}"
    );

    let r = hoist_in(
        &p.path().join("elsewhere"),
        &["config", "dump", "--only-changed"],
        &[("ANSIBLE_CONFIG", cfg.to_str().expect("utf-8"))],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let base = p.path().display().to_string();
    let at = |line: usize| format!("{base}/ansible.cfg:{line}");
    let expected = format!(
        "CONFIG_FILE() = {base}/ansible.cfg\n\
         DEFAULT_FORKS({}) = 3\n\
         DEFAULT_HOST_LIST({}) = ['{base}/inventory/hosts.ini']\n\
         DEFAULT_REMOTE_USER({}) = cfguser\n\
         DEFAULT_ROLES_PATH({}) = ['{base}/my_roles', '/nonexistent']\n\
         SSH_ARGS({}) = -o Port=1\n",
        at(4),
        at(3),
        at(5),
        at(6),
        at(10)
    );
    assert_eq!(r.stdout, expected, "{r:?}");
}

#[test]
fn host_key_checking_from_the_environment_shows_in_dump() {
    let p = project();
    let r = hoist_in(
        p.path(),
        &["config", "dump"],
        &[
            ("ANSIBLE_HOST_KEY_CHECKING", "False"),
            ("HOIST_TIMEOUT", "3"),
        ],
    );
    assert!(
        r.stdout
            .contains("HOST_KEY_CHECKING(env: ANSIBLE_HOST_KEY_CHECKING) = False\n"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("DEFAULT_TIMEOUT(env: HOIST_TIMEOUT) = 3\n"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("DEFAULT_BECOME_USER(default) = root\n"),
        "{r:?}"
    );
}

#[test]
fn a_bad_value_names_file_and_line() {
    let p = project();
    p.write("ansible.cfg", "[defaults]\n# comment\nforks = abc\n");
    let r = hoist_in(p.path(), &["apply", "site.yml"], &[]);
    assert_eq!(r.code, 5, "{r:?}");
    let want = format!(
        "ERROR! {}/ansible.cfg:3: invalid value for forks: 'abc' is not an integer",
        p.path().display()
    );
    assert!(r.stderr.contains(&want), "{r:?}");
    assert!(!r.stdout.contains("PLAY"), "{r:?}");
    // `hoist diff` says error with 1.
    let r = hoist_in(p.path(), &["diff", "site.yml"], &[]);
    assert_eq!(r.code, 1, "{r:?}");

    p.write("ansible.cfg", "[defaults]\nforks = 2\nnot a setting\n");
    let r = hoist_in(p.path(), &["apply", "site.yml"], &[]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("/ansible.cfg:3: "), "{r:?}");

    p.write("ansible.cfg", "[defaults]\nforks = 2\n");
    let r = hoist_in(
        p.path(),
        &["apply", "site.yml"],
        &[("ANSIBLE_TIMEOUT", "soon")],
    );
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr
            .contains("env: ANSIBLE_TIMEOUT: invalid value for timeout: 'soon' is not an integer"),
        "{r:?}"
    );
}

#[test]
fn world_writable_directory_is_not_a_config_source() {
    use std::os::unix::fs::PermissionsExt;
    let p = project();
    let open = p.path().join("open");
    std::fs::create_dir_all(&open).expect("mkdir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    std::fs::write(open.join("ansible.cfg"), "[defaults]\nforks = 4\n").expect("write");
    let r = hoist_in(&open, &["config", "dump", "--only-changed"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "CONFIG_FILE() = None\n", "{r:?}");
    assert!(
        r.stderr
            .contains("[WARNING]: hoist is being run in a world writable directory"),
        "{r:?}"
    );
}

#[test]
fn completions_name_the_subcommands_and_parse() {
    let dir = tempfile::tempdir().expect("tempdir");
    for shell in ["bash", "zsh", "fish"] {
        let r = hoist_in(dir.path(), &["completions", shell], &[]);
        assert_eq!(r.code, 0, "{r:?}");
        for sub in ["apply", "diff", "vars", "config", "completions", "man"] {
            assert!(r.stdout.contains(sub), "{shell} lacks {sub}");
        }
    }
    let r = hoist_in(dir.path(), &["completions", "bash"], &[]);
    let script = dir.path().join("hoist.bash");
    std::fs::write(&script, &r.stdout).expect("write");
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let r = hoist_in(dir.path(), &["completions", "tcsh"], &[]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn man_page_is_roff() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = hoist_in(dir.path(), &["man"], &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with(".TH hoist 1"), "{}", &r.stdout[..200]);
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH \"HOIST APPLY\"",
        ".SH FILES",
    ] {
        assert!(r.stdout.contains(section), "no {section}");
    }
    assert!(r.stdout.contains("\\-\\-forks"), "options are listed");
}
