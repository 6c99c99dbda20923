//! `playbooks/deploy.yml`, the reference site's rolling release, on a site
//! lab of its own: the release rolls batch by batch, stops at a failing
//! health gate (a stray process answers on web2's port with the old
//! version), a re-run after the fix goes on, a host that fails after its
//! release switched (web3's configuration cannot be written) leaves its
//! restart pending, and the re-run after that fix runs the pending restart
//! first and finishes the rollout. Then nothing is left to do.

use std::process::Command;

use crate::common::{Run, lab, recap, run};
use crate::site::{SiteLab, VAULT, address, hoist_apply, repo};

const HOIST: &str = env!("CARGO_BIN_EXE_hoist");
const WEB: &[&str] = &["web1", "web2", "web3"];

fn deploy(lab: &SiteLab, cmd: &str, version: &str) -> Run {
    let mut c = Command::new(HOIST);
    c.current_dir(repo())
        .args([cmd, "playbooks/deploy.yml", "-i"])
        .arg(lab.inventory())
        .args(VAULT)
        .args(["-e", &format!("app_version={version}")]);
    run(c)
}

/// What a web host answers on /health (its running version), from the host.
fn running(lab: &SiteLab, host: &str) -> String {
    let addr = address(lab, host);
    let r = lab.exec(
        host,
        &format!(
            "python3 -c \"import urllib.request as u; print(u.urlopen('http://{addr}:8080/health', timeout=5).read().decode())\" 2>&1 | grep '^version=' || echo down"
        ),
    );
    r.stdout.trim().to_owned()
}

/// The app servers' lines of lb1's configuration (`server NAME ADDR check [disabled]`),
/// addresses left out.
fn lb_lines(lab: &SiteLab) -> Vec<String> {
    let r = lab.exec("lb1", "grep '^    server ' /etc/haproxy/haproxy.cfg");
    r.stdout
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let mut out = format!("{} {}", w.first().unwrap_or(&""), w.get(1).unwrap_or(&""));
            if l.trim_end().ends_with("disabled") {
                out.push_str(" disabled");
            }
            out
        })
        .collect()
}

fn journal(lab: &SiteLab) -> Option<String> {
    std::fs::read_to_string(lab.dir.join(".hoist/pending-handlers.json")).ok()
}

fn block<'a>(r: &'a Run, title: &str) -> &'a str {
    r.stdout
        .split(title)
        .nth(1)
        .map(|b| b.split("\n\n").next().unwrap_or(b))
        .unwrap_or_else(|| panic!("no {title} block: {r:?}"))
}

#[test]
fn deploy_rolls_batch_by_batch_stops_at_the_gate_and_finishes_with_pending_handlers() {
    let Some(_shared) = lab() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = SiteLab::up(tmp.path().join("deploy-site"));
    let first = hoist_apply(&site, &[]);
    assert_eq!(first.code, 0, "site: {first:?}");
    for h in WEB {
        assert_eq!(running(&site, h), "version=1.2.0", "{h} after the site");
    }

    // web2: a stray server holds the port and answers with the old version.
    let web2 = address(&site, "web2");
    let stray = site.exec(
        "web2",
        &format!(
            "/etc/init.d/shop stop && mkdir -p /tmp/stray && echo version=1.2.0 > /tmp/stray/health && \
             (setsid python3 -m http.server 8080 --bind {web2} --directory /tmp/stray \
              </dev/null >/dev/null 2>&1 & echo $! > /tmp/stray.pid) && sleep 1"
        ),
    );
    assert_eq!(stray.code, 0, "{stray:?}");
    // web3: its configuration cannot be written (a read-only bind mount).
    let ro = site.exec(
        "web3",
        "f=/srv/shop/shared/app.conf; mount --bind $f $f && mount -o remount,bind,ro $f",
    );
    assert_eq!(ro.code, 0, "{ro:?}");

    // 1. The canary goes out; web2 fails the gate; web3 is not touched.
    let stopped = deploy(&site, "apply", "1.3.0");
    assert_eq!(stopped.code, 2, "{stopped:?}");
    let gate = block(&stopped, "BATCH CHECK FAILED");
    assert!(
        gate.contains("web2 : The new release answers its health check"),
        "{stopped:?}"
    );
    assert!(
        !gate.contains("web1") && !gate.contains("web3"),
        "{stopped:?}"
    );
    assert_eq!(running(&site, "web1"), "version=1.3.0");
    assert_eq!(running(&site, "web3"), "version=1.2.0");
    assert!(
        !stopped
            .stdout
            .lines()
            .any(|l| l.starts_with("web3 ") && l.contains(" : ok=")),
        "web3's batch never started: {stopped:?}"
    );
    assert_eq!(
        lb_lines(&site),
        ["server web1", "server web2 disabled", "server web3"],
        "web2 stays out of the load balancers"
    );
    assert_eq!(journal(&site), None, "handlers ran: {stopped:?}");

    // 2. web2 fixed: it passes, web3's batch starts, and web3 fails after
    //    its release switched: its restart is owed.
    let kill = site.exec("web2", "kill $(cat /tmp/stray.pid)");
    assert_eq!(kill.code, 0, "{kill:?}");
    let second = deploy(&site, "apply", "1.3.0");
    assert_eq!(second.code, 2, "{second:?}");
    assert_eq!(running(&site, "web2"), "version=1.3.0", "{second:?}");
    assert_eq!(recap(&second, "web3")[3], 1, "web3 failed: {second:?}");
    let pending = block(&second, "PENDING HANDLERS");
    assert!(
        pending.contains(
            "web3 : restart app (play 'Rolling release of the application' of playbooks/deploy.yml)"
        ),
        "{second:?}"
    );
    assert!(journal(&site).is_some_and(|j| j.contains("web3")));
    assert_eq!(
        lb_lines(&site),
        ["server web1", "server web2", "server web3 disabled"]
    );
    // What apply would do now, hoist diff says (the pending restart too).
    let diff = deploy(&site, "diff", "1.3.0");
    assert_eq!(diff.code, 2, "{diff:?}");

    // 3. web3 fixed: its pending restart runs first, then the rollout ends.
    let umount = site.exec("web3", "umount /srv/shop/shared/app.conf");
    assert_eq!(umount.code, 0, "{umount:?}");
    let third = deploy(&site, "apply", "1.3.0");
    assert_eq!(third.code, 0, "{third:?}");
    assert!(
        third
            .stderr
            .contains("web3: running first the handlers an earlier run left pending"),
        "{third:?}"
    );
    for h in WEB {
        assert_eq!(running(&site, h), "version=1.3.0", "{h}: {third:?}");
    }
    assert_eq!(
        lb_lines(&site),
        ["server web1", "server web2", "server web3"]
    );
    assert_eq!(journal(&site), None, "{third:?}");

    // 4. Done: nothing changes, nothing would.
    let again = deploy(&site, "apply", "1.3.0");
    assert_eq!(again.code, 0, "{again:?}");
    for h in WEB {
        assert_eq!(recap(&again, h)[1], 0, "{h} changed again: {again:?}");
    }
    let diff = deploy(&site, "diff", "1.3.0");
    assert_eq!(diff.code, 0, "{diff:?}");
}
