//! The conformance suite (`tests/conformance`) over SSH: every case runs
//! with hoist on three lab hosts through the gateway (under the suite's
//! host names, so its group_vars and host_vars apply), its asserts must
//! hold (only the hosts the case expects end failed), and a second run of
//! an idempotent case changes nothing. The `known_*` tasks (hoist bugs,
//! see tests/conformance/README.md) are skipped as in the local
//! comparison with ansible-playbook.

use std::path::Path;

use crate::common::{Lab, lab, recap};
use crate::conformance_cases::{CASES, Case, args_skipping_known, copy_dir, suite_dir};

/// The suite's hosts and the lab hosts that play them (present in any lab
/// with the default groups, from 4 hosts up).
const HOSTS: &[(&str, &str)] = &[
    ("alpha", "app1"),
    ("beta.example.com", "db1"),
    ("gamma", "cache1"),
];

/// A lab host's address, from the lab's inventory.
fn address(lab: &Lab, name: &str) -> String {
    let text = std::fs::read_to_string(lab.inventory()).expect("lab inventory");
    text.lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(name))
                .then(|| w.find_map(|kv| kv.strip_prefix("ansible_host=").map(str::to_owned)))
                .flatten()
        })
        .unwrap_or_else(|| panic!("{name} is not in the lab's inventory"))
}

/// The suite's inventory with each host reached over SSH instead of the
/// local connection.
fn lab_inventory(lab: &Lab, suite_ini: &str) -> String {
    let mut text = suite_ini.to_owned();
    for (ours, theirs) in HOSTS {
        let from = format!("\n{ours} ansible_connection=local");
        assert!(text.contains(&from), "{ours} in the suite's inventory");
        text = text.replace(
            &from,
            &format!("\n{ours} ansible_host={}", address(lab, theirs)),
        );
    }
    format!(
        "{text}\n[all:vars]\nansible_user=root\nansible_ssh_private_key_file={}\nansible_ssh_common_args='-F {}'\n",
        lab.key().display(),
        lab.ssh_config().display()
    )
}

/// A host's recap numbers, if it has a recap line (hosts a case never
/// targets have none).
fn recap_of(r: &crate::common::Run, host: &str) -> Option<[u32; 7]> {
    r.stdout
        .lines()
        .any(|l| l.split_whitespace().next() == Some(host) && l.contains(" : ok="))
        .then(|| recap(r, host))
}

fn run_case(lab: &Lab, name: &str, case: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&suite_dir(), dir.path());
    let ini = dir.path().join("inventory/hosts.ini");
    let suite_ini = std::fs::read_to_string(&ini).expect("suite inventory");
    std::fs::write(&ini, lab_inventory(lab, &suite_ini)).expect("lab inventory");
    let root = format!("{ROOT}/{name}");
    let ctl = dir.path().join("controller");
    let mut args: Vec<String> = [
        "apply",
        case.playbook,
        "-i",
        "inventory",
        "-e",
        &format!("root={root}"),
        "-e",
        &format!("ctl={}", ctl.display()),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(args_skipping_known(case));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let expected_code = if case.failed.is_empty() { 0 } else { 2 };
    let check = |label: &str, r: &crate::common::Run| -> Result<(), String> {
        if r.code != expected_code {
            return Err(format!(
                "{label}: exit {} (expected {expected_code})",
                r.code
            ));
        }
        for (host, _) in HOSTS {
            let Some([_, _, unreachable, failed, ..]) = recap_of(r, host) else {
                continue;
            };
            if unreachable != 0 || (failed != 0) != case.failed.contains(host) {
                return Err(format!(
                    "{label}: {host} ended with unreachable={unreachable} failed={failed}"
                ));
            }
        }
        Ok(())
    };
    let first = lab.hoist(dir.path(), &argv);
    check("first run", &first).map_err(|e| format!("{name}: {e}\n{first:?}"))?;
    if case.idempotent {
        let second = lab.hoist(dir.path(), &argv);
        check("second run", &second).map_err(|e| format!("{name}: {e}\n{second:?}"))?;
        for (host, _) in HOSTS {
            if recap_of(&second, host).is_some_and(|n| n[1] != 0) {
                return Err(format!("{name}: the second run changed {host}\n{second:?}"));
            }
        }
    }
    Ok(())
}

/// Where the cases write on the lab hosts (one directory per case).
const ROOT: &str = "/srv/hoist-conformance";

#[test]
fn conformance_suite_over_ssh() {
    let Some(lab) = lab() else { return };
    assert!(Path::new(&lab.inventory()).exists(), "lab inventory");
    for (_, host) in HOSTS {
        let r = lab.ssh(host, "root", &format!("rm -rf {ROOT}"));
        assert_eq!(r.code, 0, "cleaning {host}: {r:?}");
    }
    // The cases write under their own directories, so a few run side by
    // side (not all: sshd refuses bursts of new connections).
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((name, case)) = CASES.get(i) else {
                        break;
                    };
                    if let Err(e) = run_case(&lab, name, case) {
                        failures.lock().unwrap_or_else(|p| p.into_inner()).push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
