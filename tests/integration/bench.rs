//! The benchmark's site (bench/, issue 9) stays what docs/performance.md
//! says it is: 50 tasks in five plays, the same list for hoist and
//! ansible-playbook, and pyinfra's deploy has an operation for every task.
//! Nothing here is timed: the benchmark itself is `sudo bash bench/run`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Run, have_ansible, run};
use crate::inspect::ansible;

fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bench")
}

/// A lab-like inventory (one host per server type) in a scratch dir.
fn inventory(dir: &Path) -> PathBuf {
    let p = dir.join("inventory.ini");
    std::fs::write(
        &p,
        "[web]\nweb1\n[app]\napp1\n[db]\ndb1\n[cache]\ncache1\n\
         [targets:children]\nweb\napp\ndb\ncache\n",
    )
    .expect("inventory");
    p
}

/// The task lines of `--list-tasks` output ("role : name"), per play.
fn listed(out: &str) -> Vec<Vec<String>> {
    let mut plays: Vec<Vec<String>> = Vec::new();
    for line in out.lines() {
        if line.trim_start().starts_with("play #") {
            plays.push(Vec::new());
        } else if line.starts_with("      ")
            && let Some(p) = plays.last_mut()
        {
            let name = line.trim().split('\t').next().unwrap_or("").trim();
            p.push(name.to_string());
        }
    }
    plays
}

/// `hoist apply bench/site.yml --list-tasks` in a scratch directory with a
/// one-host inventory: the directory, the inventory, the site and the run.
fn list_bench_tasks() -> (tempfile::TempDir, PathBuf, PathBuf, Run) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let inv = inventory(tmp.path());
    let site = bench_dir().join("site.yml");
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.current_dir(tmp.path()).args([
        "apply",
        site.to_str().expect("utf-8 path"),
        "-i",
        inv.to_str().expect("utf-8 path"),
        "--list-tasks",
    ]);
    let r = run(c);
    assert_eq!(r.code, 0, "{r:?}");
    (tmp, inv, site, r)
}

#[test]
fn bench_site_has_fifty_tasks_as_ansible_lists_them() {
    let (tmp, inv, site, r) = list_bench_tasks();
    let plays = listed(&r.stdout);
    let per_play: Vec<usize> = plays.iter().map(Vec::len).collect();
    assert_eq!(per_play, vec![18, 8, 8, 8, 8], "{r:?}");
    if have_ansible() {
        let a = ansible(
            tmp.path(),
            "ansible-playbook",
            &[
                site.to_str().expect("utf-8 path"),
                "-i",
                inv.to_str().expect("utf-8 path"),
                "--list-tasks",
            ],
        );
        assert_eq!(a.code, 0, "{a:?}");
        assert_eq!(
            listed(&a.stdout),
            plays,
            "hoist and ansible-playbook list different tasks"
        );
    }
}

#[test]
fn pyinfra_deploy_has_an_operation_for_every_task() {
    let (_tmp, _inv, _site, r) = list_bench_tasks();
    let deploy = std::fs::read_to_string(bench_dir().join("pyinfra").join("deploy.py"))
        .expect("bench/pyinfra/deploy.py");
    let mut missing = Vec::new();
    for task in listed(&r.stdout).concat() {
        let name = task.split(" : ").nth(1).unwrap_or(&task);
        // an operation's name="NAME" or name=f"NAME (item)", or a stat's
        // fact with the task's name in its comment
        let found = deploy.contains(&format!("name=\"{name}\""))
            || deploy.contains(&format!("name=f\"{name} ("))
            || deploy.contains(&format!("# \"{name}\""));
        if !found {
            missing.push(name.to_string());
        }
    }
    assert!(missing.is_empty(), "no pyinfra operation for: {missing:?}");
}
