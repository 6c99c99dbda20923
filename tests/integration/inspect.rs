//! Inspecting without running, and ad-hoc tasks: `hoist inventory` against
//! `ansible-inventory`, `hoist apply --syntax-check` against
//! `ansible-playbook --syntax-check`, `hoist run` against `ansible` on
//! localhost. The comparisons run when ansible-core is installed (on CI,
//! `CI` set, it must be).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{Run, have_ansible, run};

/// An Ansible tool run in `dir` with its state kept there too.
pub(crate) fn ansible(dir: &Path, program: &str, args: &[&str]) -> Run {
    let mut c = Command::new(program);
    c.current_dir(dir)
        .args(args)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "False")
        .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible-tmp"))
        .env("ANSIBLE_HOME", dir.join(".ansible-home"));
    run(c)
}

fn hoist(dir: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(dir).args(args);
    run(c)
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(p, text).expect("write");
}

/// Three inventories: INI with children, vars and ranges plus
/// group_vars/host_vars files; YAML with nesting, priorities and
/// non-ASCII text; a directory mixing YAML and INI with vars directories.
fn inventories(dir: &Path) -> Vec<&'static str> {
    write(
        dir,
        "ini/hosts",
        "lone ansible_host=1.2.3.4\n\
         [web]\n\
         web[01:03].example.com http_port=80\n\
         db1 x=1\n\
         \n\
         [db]\n\
         db1 ansible_port=2222 y=\"str\" z=3.5 w=True\n\
         [empty]\n\
         \n\
         [app:children]\n\
         web\n\
         db\n\
         \n\
         [app:vars]\n\
         ntp=pool.ntp.org\n\
         list=[1,2]\n\
         \n\
         [all:vars]\n\
         top=1\n",
    );
    write(
        dir,
        "ini/group_vars/web.yml",
        "gv_web: hello\nhttp_port: 8080\n",
    );
    write(dir, "ini/host_vars/db1.yml", "hv: {a: 1, b: [x, null]}\n");
    write(
        dir,
        "hosts.yml",
        "all:\n\
        \x20 vars:\n\
        \x20   env: prod\n\
        \x20 hosts:\n\
        \x20   bastion:\n\
        \x20     ansible_host: 10.0.0.1\n\
        \x20 children:\n\
        \x20   lb:\n\
        \x20     hosts:\n\
        \x20       lb[a:c]:\n\
        \x20     vars:\n\
        \x20       ansible_group_priority: 5\n\
        \x20       weight: 2\n\
        \x20   dbs:\n\
        \x20     children:\n\
        \x20       primary:\n\
        \x20         hosts:\n\
        \x20           pg1: {role: primary, city: Zürich}\n\
        \x20       replica:\n\
        \x20         hosts:\n\
        \x20           pg2:\n\
        \x20           pg3: {extra: [1, {x: null}]}\n\
        \x20   none: {}\n",
    );
    write(
        dir,
        "dir/01-hosts.yml",
        "all:\n  children:\n    lb:\n      hosts:\n        lb1:\n        lb2:\n    dbs:\n      hosts:\n        pg1:\n",
    );
    write(
        dir,
        "dir/02-more.ini",
        "[lb]\nlb3\n[dbs:vars]\ndb_port=5432\n[web]\nw1\n[web:children]\nlb\n",
    );
    write(dir, "dir/group_vars/all/main.yml", "shared: from_all\n");
    write(
        dir,
        "dir/group_vars/lb.yaml",
        "weight: 9\nnested:\n  k: [x, y]\n",
    );
    write(dir, "dir/host_vars/pg1.json", "{\"json_var\": true}");
    vec!["ini/hosts", "hosts.yml", "dir", "a,b,localhost"]
}

fn same(what: &str, a: &Run, h: &Run) {
    assert_eq!(a.code, 0, "{what}: ansible-inventory {a:?}");
    assert_eq!(h.code, 0, "{what}: hoist {h:?}");
    assert_eq!(h.stdout, a.stdout, "{what}: hoist's output differs");
}

#[test]
fn inventory_list_graph_host_match_ansible_inventory() {
    if !have_ansible() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for inv in inventories(dir) {
        let mut cases: Vec<Vec<&str>> =
            vec![vec!["--list"], vec!["--graph"], vec!["--graph", "--vars"]];
        match inv {
            "ini/hosts" => {
                cases.push(vec!["--graph", "app"]);
                cases.push(vec!["--host", "db1"]);
                cases.push(vec!["--list", "--limit", "web"]);
            }
            "hosts.yml" => {
                cases.push(vec!["--graph", "dbs", "--vars"]);
                cases.push(vec!["--host", "pg1"]);
                cases.push(vec!["--host", "lbb"]);
            }
            "dir" => cases.push(vec!["--host", "lb3"]),
            _ => {}
        }
        for case in cases {
            let mut args = vec!["-i", inv];
            args.extend(&case);
            let a = ansible(dir, "ansible-inventory", &args);
            let mut hargs = vec!["inventory"];
            hargs.extend(&args);
            let h = hoist(dir, &hargs);
            let what = format!("-i {inv} {}", case.join(" "));
            if case[0] == "--list" || case[0] == "--host" {
                let pa: serde_json::Value =
                    serde_json::from_str(&a.stdout).unwrap_or_else(|e| panic!("{what}: {e}"));
                let ph: serde_json::Value = serde_json::from_str(&h.stdout)
                    .unwrap_or_else(|e| panic!("{what}: hoist's JSON: {e}\n{h:?}"));
                assert_eq!(ph, pa, "{what}: the JSON differs");
            }
            same(&what, &a, &h);
        }
    }
}

/// YAML text as JSON, through PyYAML (ansible-core's own dependency), so
/// that PyYAML's anchors for shared values compare as the values.
fn yaml_as_json(text: &str) -> serde_json::Value {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("python3");
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn inventory_yaml_matches_ansible_inventory() {
    if !have_ansible() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for inv in inventories(dir) {
        for case in [vec!["--list", "--yaml"], vec!["--host", "pg1", "--yaml"]] {
            if case[0] == "--host" && inv != "hosts.yml" {
                continue;
            }
            let mut args = vec!["-i", inv];
            args.extend(&case);
            let a = ansible(dir, "ansible-inventory", &args);
            let mut hargs = vec!["inventory"];
            hargs.extend(&args);
            let h = hoist(dir, &hargs);
            assert_eq!((a.code, h.code), (0, 0), "{a:?}\n{h:?}");
            assert_eq!(
                yaml_as_json(&h.stdout),
                yaml_as_json(&a.stdout),
                "-i {inv} {}: the YAML differs\n{h:?}",
                case.join(" ")
            );
        }
    }
}

#[test]
fn inventory_errors_and_output_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    inventories(dir);
    let h = hoist(dir, &["inventory", "-i", "ini/hosts", "--host", "nope"]);
    assert_eq!(h.code, 5, "{h:?}");
    assert!(
        h.stderr.contains("You must pass a single valid host"),
        "{h:?}"
    );
    let h = hoist(dir, &["inventory", "-i", "ini/hosts", "--graph", "nope"]);
    assert_eq!(h.code, 5, "{h:?}");
    assert!(
        h.stderr.contains("Pattern must be valid group name"),
        "{h:?}"
    );
    let h = hoist(dir, &["inventory", "-i", "ini/hosts"]);
    assert_eq!(h.code, 2, "no action is a usage error: {h:?}");
    let h = hoist(dir, &["inventory", "-i", "missing.ini", "--list"]);
    assert_eq!(h.code, 1, "{h:?}");
    let shown = hoist(dir, &["inventory", "-i", "ini/hosts", "--list"]);
    let h = hoist(
        dir,
        &[
            "inventory",
            "-i",
            "ini/hosts",
            "--list",
            "--output",
            "out.json",
        ],
    );
    assert_eq!(h.code, 0, "{h:?}");
    assert_eq!(h.stdout, "");
    let written = std::fs::read_to_string(dir.join("out.json")).expect("out.json");
    assert_eq!(format!("{written}\n"), shown.stdout);
    // ansible-inventory's --graph --vars shows each host's variables with
    // Python's str() of the value.
    let g = hoist(
        dir,
        &["inventory", "-i", "ini/hosts", "--graph", "db", "--vars"],
    );
    assert!(
        g.stdout
            .contains("  |  |--{hv = {'a': 1, 'b': ['x', None]}}\n"),
        "{g:?}"
    );
    assert!(g.stdout.contains("  |  |--{w = True}\n"), "{g:?}");
}

const SITE: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n";
const LOCAL: &str =
    "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n";

#[test]
fn syntax_check_as_ansible_playbook() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write(dir, "hosts.ini", LOCAL);
    write(dir, "site.yml", SITE);
    write(
        dir,
        "bad.yml",
        "- hosts: all\n  tasks:\n    - debugx: msg=hi\n",
    );
    let h = hoist(
        dir,
        &[
            "apply",
            "-i",
            "hosts.ini",
            "site.yml",
            "site.yml",
            "--syntax-check",
        ],
    );
    assert_eq!(h.code, 0, "{h:?}");
    assert_eq!(h.stdout, "\nplaybook: site.yml\n\nplaybook: site.yml\n");
    let bad = hoist(
        dir,
        &["apply", "-i", "hosts.ini", "bad.yml", "--syntax-check"],
    );
    assert_eq!(bad.code, 4, "{bad:?}");
    assert_eq!(bad.stdout, "");
    assert!(bad.stderr.contains("debugx"), "{bad:?}");
    let missing = hoist(
        dir,
        &["apply", "-i", "hosts.ini", "nope.yml", "--syntax-check"],
    );
    assert_eq!(missing.code, 1, "{missing:?}");
    let d = hoist(
        dir,
        &["diff", "-i", "hosts.ini", "bad.yml", "--syntax-check"],
    );
    assert_eq!(d.code, 1, "diff's error code: {d:?}");
    if !have_ansible() {
        return;
    }
    for (args, code) in [
        (vec!["site.yml", "site.yml"], 0),
        (vec!["bad.yml"], 4),
        (vec!["nope.yml"], 1),
    ] {
        let mut all = vec!["-i", "hosts.ini", "--syntax-check"];
        all.extend(&args);
        let a = ansible(dir, "ansible-playbook", &all);
        let mut hargs = vec!["apply"];
        hargs.extend(&all);
        let h = hoist(dir, &hargs);
        assert_eq!((a.code, h.code), (code, code), "{a:?}\n{h:?}");
        if code == 0 {
            assert_eq!(h.stdout, a.stdout);
        }
    }
}

/// ansible 2.19 also prints a failed task's error on stdout, before the
/// result (`[ERROR]: Task failed: …`, its origin and the task); hoist does
/// not (the result line says it). Drops that block.
fn without_task_errors(stdout: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    let mut after_task = false;
    for line in stdout.split_inclusive('\n') {
        if line.starts_with("[ERROR]: Task failed") {
            skipping = true;
            continue;
        }
        if skipping {
            if after_task && line.trim().is_empty() {
                skipping = false;
                after_task = false;
            } else if line.starts_with("{'action'") {
                after_task = true;
            }
            continue;
        }
        out.push_str(line);
    }
    out
}

/// The times of a command result vary from run to run.
fn without_times(text: &str) -> String {
    let re = regex::Regex::new(r#""(delta|start|end)": "[^"]*""#).expect("regex");
    re.replace_all(text, "\"$1\": \"…\"").into_owned()
}

#[test]
fn adhoc_output_and_exit_codes_as_ansible() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write(dir, "hosts.ini", LOCAL);
    let root = dir.join("root");
    std::fs::create_dir_all(&root).expect("root");
    let f = format!("path={}/touched state=touch mode=0644", root.display());
    let absent = format!("path={}/nodir/f state=file", root.display());
    let cases: Vec<Vec<String>> = vec![
        vec!["-a".into(), "echo hi".into()],
        vec![
            "-m".into(),
            "shell".into(),
            "-a".into(),
            "echo out; echo err >&2; exit 3".into(),
        ],
        vec![
            "-m".into(),
            "command".into(),
            "-a".into(),
            "echo a".into(),
            "-o".into(),
        ],
        vec![
            "-m".into(),
            "shell".into(),
            "-a".into(),
            "printf 'a\\nb'; exit 1".into(),
            "-o".into(),
        ],
        vec!["-m".into(), "raw".into(), "-a".into(), "echo raw".into()],
        vec!["-m".into(), "debug".into(), "-a".into(), "msg=x".into()],
        vec![
            "-m".into(),
            "debug".into(),
            "-a".into(),
            "msg=x".into(),
            "-o".into(),
        ],
        vec![
            "-m".into(),
            "debug".into(),
            "-a".into(),
            "{\"msg\": \"json\"}".into(),
        ],
        vec![
            "-m".into(),
            "debug".into(),
            "-a".into(),
            "var=foo".into(),
            "-e".into(),
            "foo=3".into(),
        ],
        vec!["-m".into(), "ping".into()],
        vec!["-m".into(), "ping".into(), "-o".into()],
        vec!["-m".into(), "ping".into(), "-a".into(), "data=crash".into()],
        vec!["-m".into(), "file".into(), "-a".into(), absent.clone()],
        vec!["-m".into(), "file".into(), "-a".into(), absent, "-o".into()],
        vec![
            "-m".into(),
            "command".into(),
            "-a".into(),
            "echo x".into(),
            "-C".into(),
        ],
        vec!["-m".into(), "file".into(), "-a".into(), f.clone()],
        vec!["--list-hosts".into()],
        vec!["nomatch".into(), "-m".into(), "ping".into()],
    ];
    let mut hoist_runs = Vec::new();
    for case in &cases {
        let pattern = if case[0] == "nomatch" {
            "nomatch"
        } else {
            "all"
        };
        let rest: Vec<&str> = case
            .iter()
            .map(String::as_str)
            .filter(|a| *a != "nomatch")
            .collect();
        let mut args = vec![pattern, "-i", "hosts.ini"];
        args.extend(&rest);
        let mut hargs = vec!["run"];
        hargs.extend(&args);
        hoist_runs.push((
            args.join(" "),
            hoist(dir, &hargs),
            args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        ));
    }
    // hoist-only expectations.
    let by = |what: &str| {
        hoist_runs
            .iter()
            .find(|(a, _, _)| a.contains(what))
            .map(|(_, r, _)| r)
            .unwrap_or_else(|| panic!("no case {what}"))
    };
    let r = by("echo hi");
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "localhost | CHANGED | rc=0 >>\nhi\n"),
        "{r:?}"
    );
    let r = by("exit 3");
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        r.stdout,
        "localhost | FAILED | rc=3 >>\nouterrnon-zero return code\n"
    );
    let r = by("nomatch");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("No hosts matched, nothing to do"),
        "{r:?}"
    );
    if !have_ansible() {
        return;
    }
    for (what, h, args) in &hoist_runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let a = ansible(dir, "ansible", &args);
        assert_eq!(
            h.code, a.code,
            "{what}: exit codes\nansible {a:?}\nhoist {h:?}"
        );
        assert_eq!(
            without_times(&h.stdout),
            without_times(&without_task_errors(&a.stdout)),
            "{what}: output\nansible {a:?}\nhoist {h:?}"
        );
    }
}

#[test]
fn adhoc_usage_errors_and_unreachable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    write(
        dir,
        "hosts.ini",
        &format!(
            "{LOCAL}[down]\ngone ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh\n"
        ),
    );
    let h = hoist(dir, &["run", "localhost", "-i", "hosts.ini"]);
    assert_eq!(h.code, 5, "{h:?}");
    assert!(
        h.stderr.contains("No argument passed to command module"),
        "{h:?}"
    );
    let h = hoist(
        dir,
        &["run", "localhost", "-i", "hosts.ini", "-m", "nosuchmodule"],
    );
    assert_eq!(h.code, 4, "refused before running: {h:?}");
    assert_eq!(h.stdout, "");
    let h = hoist(
        dir,
        &["run", "all", "-i", "hosts.ini", "-m", "ping", "-T", "3"],
    );
    assert_eq!(h.code, 4, "{h:?}");
    assert!(h.stdout.contains("localhost | SUCCESS => {"), "{h:?}");
    assert!(h.stdout.contains("gone | UNREACHABLE! => {"), "{h:?}");
    let h = hoist(
        dir,
        &[
            "run",
            "all",
            "-i",
            "hosts.ini",
            "-m",
            "ping",
            "-l",
            "down",
            "-o",
            "-T",
            "3",
        ],
    );
    assert_eq!(h.code, 4, "{h:?}");
    assert!(h.stdout.starts_with("gone | UNREACHABLE!: "), "{h:?}");
    if !have_ansible() {
        return;
    }
    let a = ansible(
        dir,
        "ansible",
        &["all", "-i", "hosts.ini", "-m", "ping", "-T", "3"],
    );
    assert_eq!(a.code, 4, "{a:?}");
    let a = ansible(dir, "ansible", &["localhost", "-i", "hosts.ini"]);
    assert_eq!(a.code, 5, "{a:?}");
}
