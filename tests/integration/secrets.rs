//! Secrets never reach output: a playbook uses a secret from
//! `--secret-env` (and one from a `no_log` set_fact) everywhere a value
//! can show — a templated task name, a template with a diff, a loop item
//! and its label, a debug message, a failing command's output, a
//! registered result, values derived with filters — and every output
//! mode of every command is searched for the plaintexts.

use std::process::Command;

use base64::Engine as _;

use crate::common::{Project, Run, run};

const VAR: &str = "HOIST_TEST_DB_PASS";
const DB_PASS: &str = "Hunter2-Sw0rdf1sh-991";
const TOKEN: &str = "tok-Zq81-kept-quiet";
const MASK: &str = "********";

const PLAYBOOK: &str = r#"
- hosts: all
  gather_facts: false
  vars:
    db_pass: "{{ lookup('env', 'HOIST_TEST_DB_PASS') }}"
  tasks:
    - name: Keep a token
      set_fact:
        api_token: tok-Zq81-kept-quiet
      no_log: true

    - name: Derive values
      set_fact:
        pass_b64: "{{ db_pass | b64encode }}"
        pass_upper: "{{ db_pass | upper }}"
        token_b64: "{{ api_token | b64encode }}"
        token_joined: "{{ 'pre-' ~ api_token ~ '-post' }}"

    - name: "Configure with {{ db_pass }}"
      debug:
        msg: "password {{ db_pass }} token {{ api_token }} b64 {{ pass_b64 }}"

    - name: Render the config
      template:
        src: app.conf.j2
        dest: "{{ root }}/app.conf"

    - name: Loop over secrets
      debug:
        msg: "item is {{ item }}"
      loop:
        - "{{ db_pass }}"
        - "{{ api_token }}"
        - "{{ pass_upper }}"
        - "{{ token_b64 }}"
      loop_control:
        label: "label {{ item }}"

    - name: Fail loudly
      shell: "echo 'stdout has {{ db_pass }}'; echo 'stderr has {{ token_joined }}' >&2; exit 3"
      register: failed_cmd
      ignore_errors: true

    - name: Show the registered result
      debug:
        var: failed_cmd

    - name: Show what it said
      debug:
        msg: "{{ failed_cmd.stdout | upper }} / {{ failed_cmd.stderr }}"

    - name: No secret on the command line
      shell: |
        if tr '\0' ' ' < /proc/$$/cmdline | grep -qF -- "$HOIST_TEST_DB_PASS"; then echo LEAKED; else echo CLEAN; fi
        : {{ db_pass }}
      register: cmdline
      changed_when: false

    - name: The command ran without the secret on its command line
      assert:
        that: cmdline.stdout == 'CLEAN'
"#;

const TEMPLATE: &str = "user = app\n\
password = {{ db_pass }}\n\
encoded = {{ db_pass | b64encode }}\n\
token = {{ api_token | upper }}\n";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Every plaintext the run knows, and what the playbook derives from them.
fn plaintexts() -> Vec<String> {
    vec![
        DB_PASS.to_owned(),
        b64(DB_PASS),
        DB_PASS.to_uppercase(),
        TOKEN.to_owned(),
        TOKEN.to_uppercase(),
        b64(TOKEN),
        format!("pre-{TOKEN}-post"),
        // Halves would show a secret cut in two (a shortened trace).
        DB_PASS[..DB_PASS.len() / 2].to_owned(),
        DB_PASS[DB_PASS.len() / 2..].to_owned(),
    ]
}

fn project() -> Project {
    let p = Project::new();
    p.write("site.yml", PLAYBOOK);
    p.write("templates/app.conf.j2", TEMPLATE);
    p.write(
        "hosts.ini",
        "localhost ansible_connection=local \
         inv_secret=\"{{ lookup('env', 'HOIST_TEST_DB_PASS') | b64encode }}\"\n",
    );
    p
}

/// Fails naming the output and the plaintext when any output holds one.
fn assert_clean(what: &str, text: &str) {
    for secret in plaintexts() {
        assert!(
            !text.contains(&secret),
            "{what} shows the secret {secret:?}:\n{text}"
        );
    }
}

fn assert_run_clean(what: &str, r: &Run) {
    assert_clean(&format!("{what} (stdout)"), &r.stdout);
    assert_clean(&format!("{what} (stderr)"), &r.stderr);
}

/// `hoist <args>` in the project, with the secret in the environment.
fn hoist(p: &Project, args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(p.path()).env(VAR, DB_PASS).args(args);
    run(c)
}

fn root_var(p: &Project) -> String {
    format!("root={}", p.root().display())
}

/// A playbook run in every output mode: nothing shows a plaintext, and
/// the mask shows where the values would have been.
#[test]
fn no_output_mode_shows_a_secret() {
    let p = project();
    let root = root_var(&p);
    let base = [
        "site.yml",
        "-i",
        "hosts.ini",
        "-e",
        root.as_str(),
        "--secret-env",
        VAR,
    ];
    let with = |cmd: &str, extra: &[&str]| {
        let mut args = vec![cmd];
        args.extend(base);
        args.extend(extra);
        hoist(&p, &args)
    };

    // Text, with diffs: the template's lines, the banner, the labels.
    let text = with("apply", &["-D"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert_run_clean("apply -D", &text);
    assert!(text.stdout.contains(&format!("TASK [{MASK}]")), "{text:?}");
    assert!(
        text.stdout.contains(&format!("+password = {MASK}"))
            || text.stdout.contains(&format!("+{MASK}")),
        "the diff masks the password line: {text:?}"
    );
    assert!(text.stdout.contains(&format!("(item={MASK})")), "{text:?}");
    assert!(
        text.stdout
            .contains(&format!("\"stdout\": \"stdout has {MASK}\"")),
        "{text:?}"
    );
    // The host got the real values.
    let conf = p.read("app.conf");
    assert!(
        conf.contains(DB_PASS) && conf.contains(&b64(DB_PASS)),
        "{conf}"
    );
    assert!(conf.contains(&TOKEN.to_uppercase()), "{conf}");

    // Every connection trace.
    let vvvv = with("apply", &["-D", "-vvvv"]);
    assert_eq!(vvvv.code, 0, "{vvvv:?}");
    assert_run_clean("apply -vvvv", &vvvv);
    assert!(vvvv.stdout.contains("EXEC"), "{vvvv:?}");
    assert!(vvvv.stdout.contains(MASK), "{vvvv:?}");

    // JSON events stay JSON, and mask inside their values.
    let junit = p.path().join("report.xml");
    let junit_arg = junit.display().to_string();
    let json = with("apply", &["--output", "json", "--junit", &junit_arg]);
    assert_eq!(json.code, 0, "{json:?}");
    assert_run_clean("apply --output json", &json);
    let mut masked = 0;
    for line in json.stdout.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if event.to_string().contains(MASK) {
            masked += 1;
        }
    }
    assert!(masked >= 5, "{json:?}");

    // The JUnit report stays well-formed.
    let xml = std::fs::read_to_string(&junit).expect("junit report");
    assert_clean("the JUnit report", &xml);
    assert!(xml.contains(MASK), "{xml}");
    assert!(xml.matches("<testcase").count() >= 5, "{xml}");

    // hoist diff (check and diff mode).
    let diff = with("diff", &[]);
    assert_run_clean("hoist diff", &diff);
    assert!(diff.stdout.contains(MASK), "{diff:?}");
}

/// `hoist vars` and `hoist run` mask the secret too.
#[test]
fn vars_and_run_show_no_secret() {
    let p = project();
    let vars = hoist(
        &p,
        &[
            "vars",
            "localhost",
            "inv_secret",
            "-i",
            "hosts.ini",
            "--secret-env",
            VAR,
        ],
    );
    assert_eq!(vars.code, 0, "{vars:?}");
    assert_run_clean("hoist vars", &vars);
    assert!(
        vars.stdout.contains(&format!("rendered: \"{MASK}\"")),
        "{vars:?}"
    );
    let all = hoist(
        &p,
        &[
            "vars",
            "localhost",
            "-i",
            "hosts.ini",
            "-p",
            "site.yml",
            "--secret-env",
            VAR,
        ],
    );
    assert_run_clean("hoist vars (all)", &all);

    let debug = hoist(
        &p,
        &[
            "run",
            "localhost",
            "-i",
            "hosts.ini",
            "-m",
            "debug",
            "-a",
            "msg={{ lookup('env', 'HOIST_TEST_DB_PASS') | upper }}",
            "--secret-env",
            VAR,
        ],
    );
    assert_eq!(debug.code, 0, "{debug:?}");
    assert_run_clean("hoist run -m debug", &debug);
    assert!(
        debug.stdout.contains(&format!("\"msg\": \"{MASK}\"")),
        "{debug:?}"
    );

    let shell = hoist(
        &p,
        &[
            "run",
            "localhost",
            "-i",
            "hosts.ini",
            "-m",
            "shell",
            "-a",
            "echo {{ lookup('env', 'HOIST_TEST_DB_PASS') }}; exit 1",
            "--secret-env",
            VAR,
            "-vvvv",
        ],
    );
    assert_eq!(shell.code, 2, "{shell:?}");
    assert_run_clean("hoist run -m shell -vvvv", &shell);
    assert!(shell.stdout.contains(MASK), "{shell:?}");
}

/// The `secret_env` setting (ansible.cfg `[hoist]`, or HOIST_SECRET_ENV)
/// works as `--secret-env` does; without either, the value is just a
/// value (which shows the test can see a leak).
#[test]
fn secret_env_setting_registers_the_variable() {
    let p = project();
    let root = root_var(&p);
    let args = ["apply", "site.yml", "-i", "hosts.ini", "-e", root.as_str()];

    let plain = hoist(&p, &args);
    assert!(plain.stdout.contains(DB_PASS), "{plain:?}");

    p.write(
        "ansible.cfg",
        "[hoist]\nsecret_env = OTHER_NAME, HOIST_TEST_DB_PASS\n",
    );
    let cfg = hoist(&p, &args);
    assert_eq!(cfg.code, 0, "{cfg:?}");
    assert_run_clean("secret_env in ansible.cfg", &cfg);
    assert!(cfg.stderr.contains("OTHER_NAME is not set"), "{cfg:?}");
    std::fs::remove_file(p.path().join("ansible.cfg")).expect("rm ansible.cfg");

    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(p.path())
        .env(VAR, DB_PASS)
        .env("HOIST_SECRET_ENV", VAR)
        .args(args);
    let env = run(c);
    assert_eq!(env.code, 0, "{env:?}");
    assert_run_clean("HOIST_SECRET_ENV", &env);
}

const INLINE: &str = "inline-Vault-Secret-4411";

/// The same playbook with its password from Ansible Vault: a whole
/// vaulted group_vars file (`db_pass`) and an inline `!vault` value
/// (`inline_secret`), both made with `hoist vault`. No output mode shows
/// either plaintext or what is derived from them.
#[test]
fn vault_values_show_nowhere() {
    let p = project();
    let playbook = PLAYBOOK.replace(
        "  vars:\n    db_pass: \"{{ lookup('env', 'HOIST_TEST_DB_PASS') }}\"\n",
        "",
    );
    assert_ne!(playbook, PLAYBOOK, "the env lookup is gone");
    p.write(
        "site.yml",
        &format!(
            "{playbook}\n    - name: Inline value\n      debug:\n        msg: \"inline {{{{ inline_secret }}}} {{{{ inline_secret | b64encode }}}}\"\n"
        ),
    );
    p.write("hosts.ini", "localhost ansible_connection=local\n");
    p.write("vault-pw", "correct horse battery\n");
    let vault = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
        c.current_dir(p.path())
            .arg("vault")
            .args(args)
            .args(["--vault-password-file", "vault-pw"]);
        run(c)
    };
    p.write(
        "group_vars/all/secret.yml",
        &format!("db_pass: {DB_PASS}\n"),
    );
    let r = vault(&["encrypt", "group_vars/all/secret.yml"]);
    assert_eq!(r.code, 0, "{r:?}");
    let sealed =
        std::fs::read_to_string(p.path().join("group_vars/all/secret.yml")).expect("vaulted file");
    assert!(
        sealed.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"),
        "{sealed}"
    );
    let r = vault(&["encrypt-string", INLINE, "--name", "inline_secret"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("inline_secret: !vault |"), "{r:?}");
    p.write("group_vars/all/inline.yml", &r.stdout);

    let root = root_var(&p);
    let with = |cmd: &str, extra: &[&str]| {
        let mut args = vec![
            cmd,
            "site.yml",
            "-i",
            "hosts.ini",
            "-e",
            root.as_str(),
            "--vault-password-file",
            "vault-pw",
        ];
        args.extend(extra);
        hoist(&p, &args)
    };
    let mut secrets = plaintexts();
    secrets.extend([INLINE.to_owned(), b64(INLINE)]);
    let clean = |what: &str, text: &str| {
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{what} shows {s:?}:\n{text}");
        }
    };
    let text = with("apply", &["-D"]);
    assert_eq!(text.code, 0, "{text:?}");
    clean("apply -D", &format!("{}{}", text.stdout, text.stderr));
    assert!(text.stdout.contains(&format!("TASK [{MASK}]")), "{text:?}");
    // What is rendered from a secret is a secret as a whole.
    assert!(
        text.stdout.contains(&format!(
            "TASK [Inline value] {}\nok: [localhost] => {{\n    \"msg\": \"{MASK}\"\n}}",
            "*".repeat(60)
        )),
        "{text:?}"
    );
    let conf = p.read("app.conf");
    assert!(
        conf.contains(DB_PASS),
        "the host gets the real value: {conf}"
    );

    let junit = p.path().join("report.xml");
    let junit_arg = junit.display().to_string();
    for extra in [
        vec!["-D", "-vvvv"],
        vec!["--output", "json", "--junit", junit_arg.as_str()],
    ] {
        let r = with("apply", &extra);
        assert_eq!(r.code, 0, "{r:?}");
        clean(
            &format!("apply {extra:?}"),
            &format!("{}{}", r.stdout, r.stderr),
        );
        assert!(r.stdout.contains(MASK), "{r:?}");
    }
    let xml = std::fs::read_to_string(&junit).expect("junit report");
    clean("the JUnit report", &xml);
    let r = with("diff", &[]);
    clean("hoist diff", &format!("{}{}", r.stdout, r.stderr));

    for args in [
        vec!["vars", "localhost", "db_pass"],
        vec!["vars", "localhost", "inline_secret"],
        vec!["vars", "localhost"],
    ] {
        let mut all = args.clone();
        all.extend(["-i", "hosts.ini", "--vault-password-file", "vault-pw"]);
        let r = hoist(&p, &all);
        assert_eq!(r.code, 0, "{r:?}");
        clean(
            &format!("hoist {args:?}"),
            &format!("{}{}", r.stdout, r.stderr),
        );
        assert!(r.stdout.contains(MASK), "{r:?}");
    }
}

/// A vaulted INI inventory: its values are secrets wherever they show.
#[test]
fn vaulted_ini_inventory_values_are_masked() {
    let p = Project::new();
    p.write("vault-pw", "ini inventory pw\n");
    p.write(
        "inventory.ini",
        "[web]\nlocalhost ansible_connection=local ini_secret=Ini-Secret-Value-77\n\n[web:vars]\ngroup_secret=\"Group Secret 2024\"\n",
    );
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(p.path()).args([
        "vault",
        "encrypt",
        "inventory.ini",
        "--vault-password-file",
        "vault-pw",
    ]);
    let r = run(c);
    assert_eq!(r.code, 0, "{r:?}");
    for args in [
        vec!["inventory", "-i", "inventory.ini", "--list"],
        vec!["inventory", "-i", "inventory.ini", "--host", "localhost"],
        vec!["vars", "localhost", "-i", "inventory.ini"],
    ] {
        let mut all = args.clone();
        all.extend(["--vault-password-file", "vault-pw"]);
        let r = hoist(&p, &all);
        assert_eq!(r.code, 0, "{r:?}");
        for s in ["Ini-Secret-Value-77", "Group Secret 2024"] {
            assert!(
                !r.stdout.contains(s) && !r.stderr.contains(s),
                "{args:?} shows {s}: {r:?}"
            );
        }
        assert!(r.stdout.contains(MASK), "{r:?}");
        assert!(r.stdout.contains("ini_secret"), "{r:?}");
    }
}

#[test]
fn a_no_log_task_masks_its_secret_not_its_owner_mode_or_path() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: Write the key
      copy:
        content: "key-Qx71-plain\n"
        dest: "{{ root }}/secret.key"
        mode: "0600"
        force: true
      no_log: true
    - name: Say what is ordinary
      debug:
        msg: "mode 0600 at {{ root }}/secret.key, force True, and key-Qx71-plain"
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stdout.contains("key-Qx71-plain"), "{r:?}");
    let root = p.root().display().to_string();
    assert!(
        r.stdout.contains(&format!(
            "mode 0600 at {root}/secret.key, force True, and {MASK}"
        )),
        "only the content is a secret: {r:?}"
    );
}
