//! The reference site (`playbooks/site.yml` and `roles/`) end to end: hoist
//! applies it through the gateway to a dozen lab hosts (with `-D`, never
//! showing the vaulted db password), a second run and `hoist diff` find
//! nothing to change, and ansible-playbook applied to an identical lab
//! leaves the same files, accounts, kernel settings and services on one
//! host of each type, after the same per-host results. Then, on hoist's
//! lab: SSH reaches the targets only through the gateway, the app answers
//! its health check, the db backup and restore-test scripts work, and a
//! hand edit on one host is exactly what `hoist diff` reports (exit 2).
//!
//! The site needs labs of its own (its groups are lb, web, db and cache),
//! so this test brings up two and takes them down.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Run, lab, recap, run};

const HOIST: &str = env!("CARGO_BIN_EXE_hoist");

/// The hosts compared between the two labs: one of each type.
const COMPARED: &[&str] = &["gateway", "lb1", "web1", "db1", "cache1"];

/// The site's vault opens with this demo password file (committed).
pub(crate) const VAULT: [&str; 2] = ["--vault-password-file", "playbooks/vault-password.txt"];

/// Where a lab host sees the lab dir (its client key and known_hosts).
const INNER_LAB_DIR: &str = "/run/hoist-lab";

/// Every host of the site lab.
const ALL: &[&str] = &[
    "gateway", "lb1", "lb2", "lb3", "web1", "web2", "web3", "db1", "db2", "db3", "cache1",
    "cache2", "cache3",
];

/// A lab of its own, taken down when dropped (also when the test fails).
pub(crate) struct SiteLab {
    pub(crate) dir: PathBuf,
}

impl SiteLab {
    pub(crate) fn up(dir: PathBuf) -> SiteLab {
        let mut c = Command::new(HOIST);
        c.args(["lab", "up", "12", "--groups", "lb,web,db,cache", "--dir"])
            .arg(&dir);
        let r = run(c);
        assert_eq!(r.code, 0, "lab up: {r:?}");
        SiteLab { dir }
    }

    pub(crate) fn inventory(&self) -> PathBuf {
        self.dir.join("inventory.ini")
    }

    /// Runs a shell script inside a host's namespaces.
    pub(crate) fn exec(&self, host: &str, script: &str) -> Run {
        let mut c = Command::new(HOIST);
        c.args(["lab", "exec", host, "--dir"])
            .arg(&self.dir)
            .args(["--", "sh", "-c", script]);
        run(c)
    }

    /// The lab's addresses by name: each host's from the inventory, and the
    /// gateway's private address (the first of the targets' network).
    pub(crate) fn addresses(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.inventory()).expect("lab inventory");
        let mut out: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let name = w.next()?;
                let addr = w.find_map(|kv| kv.strip_prefix("ansible_host="))?;
                Some((name.to_owned(), addr.to_owned()))
            })
            .collect();
        let private = out
            .iter()
            .find(|(n, _)| n != "gateway")
            .and_then(|(_, a)| a.rsplit_once('.'))
            .map(|(net, _)| format!("{net}.1"))
            .expect("a target in the lab inventory");
        out.push(("gateway-private".into(), private));
        out
    }
}

impl Drop for SiteLab {
    fn drop(&mut self) {
        let _ = Command::new(HOIST)
            .args(["lab", "down", "--dir"])
            .arg(&self.dir)
            .output();
    }
}

pub(crate) fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What the site manages on a host, in a form two labs can be compared by:
/// paths with type, mode, owner, group, size and link target; the text of
/// text files and the digest of others;
/// accounts; live kernel settings; services and their rc links.
const SNAPSHOT: &str = r#"
paths="/etc/motd /etc/sudoers.d/50-ops /etc/sysctl.d/60-site.conf /etc/sysctl.d/61-cache.conf
/etc/cron.d /var/log/site /home/deployer /home/alice /etc/ssh/sshd_config.d/50-site.conf
/etc/logrotate.d/site /etc/systemd/timesyncd.conf.d /etc/site-metrics
/srv/artifacts /etc/init.d/artifacts /etc/init.d/shop /etc/haproxy /srv/shop
/etc/postgresql-site /var/lib/postgresql-site /var/backups/shop
/usr/local/sbin/shop-db-backup /usr/local/sbin/shop-db-restore-test /etc/redis-site.conf"
for p in $paths; do
  [ -e "$p" ] || continue
  find "$p" \( -type d -printf '%p %y %m %u %g %l\n' \) -o -printf '%p %y %m %u %g %s %l\n'
done | sort
for p in $paths; do
  [ -e "$p" ] && find "$p" -type f
done | sort | while read -r f; do
  if grep -Iq . "$f" || [ ! -s "$f" ]; then
    echo "--- $f"; cat "$f"
  else
    sha256sum "$f"
  fi
done
# (The release's files keep the archive's times; static/ gets the health file.)
find /srv/shop/releases/shop-1.2.0 ! -path '*/static' ! -name health \
  -printf '%p mtime %TY-%Tm-%Td %TH:%TM\n' 2>/dev/null | sort
getent passwd deployer alice shop
getent group ops shop sudo
for u in deployer alice shop; do getent shadow "$u" | cut -d: -f1,2,4-; done
sysctl -n net.core.somaxconn net.ipv4.tcp_fin_timeout net.ipv4.tcp_tw_reuse \
  net.ipv4.tcp_keepalive_time net.ipv4.tcp_max_syn_backlog
ls /etc/rc2.d | grep -E 'shop|artifacts'
if [ -r /srv/shop/shared/app.conf ]; then
  a=$(sed -n 's/^address = //p' /srv/shop/shared/app.conf)
  curl -sS --max-time 5 "http://$a:8080/health"; echo "health $?"
fi
for s in shop artifacts; do
  [ -x /etc/init.d/$s ] && { /etc/init.d/$s status; echo "$s status $?"; }
done
true
"#;

fn snapshot(lab: &SiteLab, host: &str) -> String {
    let r = lab.exec(host, SNAPSHOT);
    assert_eq!(r.code, 0, "snapshot of {host}: {r:?}");
    // The labs differ only in their addresses: each becomes its host's name.
    let names: std::collections::HashMap<String, String> = lab
        .addresses()
        .into_iter()
        .map(|(name, addr)| (addr, name))
        .collect();
    let addr = regex::Regex::new(r"\b198\.1[89]\.\d+\.\d+\b").expect("regex");
    addr.replace_all(&r.stdout, |c: &regex::Captures<'_>| {
        match names.get(&c[0]) {
            Some(name) => format!("<{name}>"),
            None => c[0].to_owned(),
        }
    })
    .into_owned()
}

pub(crate) fn hoist_apply(lab: &SiteLab, extra: &[&str]) -> Run {
    let mut c = Command::new(HOIST);
    c.current_dir(repo())
        .args(["apply", "playbooks/site.yml", "-i"])
        .arg(lab.inventory())
        .args(VAULT)
        .args(extra);
    run(c)
}

fn hoist_diff(lab: &SiteLab) -> Run {
    let mut c = Command::new(HOIST);
    c.current_dir(repo())
        .args(["diff", "playbooks/site.yml", "-i"])
        .arg(lab.inventory())
        .args(VAULT);
    run(c)
}

/// The db password, from the site's vault.
fn db_password() -> String {
    let mut c = Command::new(HOIST);
    c.current_dir(repo())
        .args(["vault", "view", "playbooks/group_vars/all/vault.yml"])
        .args(VAULT);
    let r = run(c);
    assert_eq!(r.code, 0, "vault view: {r:?}");
    let pw = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("vault_db_password: "))
        .expect("vault_db_password in the vault")
        .trim()
        .to_owned();
    assert!(pw.len() >= 8, "{pw}");
    pw
}

/// `ssh root@ADDR hostname` run on a lab host, with the lab's client key.
fn ssh_from(lab: &SiteLab, from: &str, addr: &str) -> Run {
    lab.exec(
        from,
        &format!(
            "ssh -F /dev/null -i {INNER_LAB_DIR}/id_ed25519 -o IdentitiesOnly=yes \
             -o BatchMode=yes -o UserKnownHostsFile={INNER_LAB_DIR}/known_hosts \
             -o StrictHostKeyChecking=yes -o ConnectTimeout=5 root@{addr} hostname"
        ),
    )
}

pub(crate) fn address(lab: &SiteLab, host: &str) -> String {
    lab.addresses()
        .into_iter()
        .find(|(n, _)| n == host)
        .map(|(_, a)| a)
        .unwrap_or_else(|| panic!("no address for {host}"))
}

#[test]
fn site_playbook_converges_through_the_gateway_and_matches_ansible() {
    let Some(_shared) = lab() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let ours = SiteLab::up(tmp.path().join("hoist-site"));

    let first = hoist_apply(&ours, &["-D"]);
    assert_eq!(first.code, 0, "first apply: {first:?}");
    // The diffs of files rendered from the vaulted password are masked.
    let password = db_password();
    assert!(
        !first.stdout.contains(&password) && !first.stderr.contains(&password),
        "the db password was shown: {first:?}"
    );
    assert!(
        first
            .stdout
            .contains("env.j2\n@@ -0,0 +1,5 @@\n+********\n"),
        "the env file's diff, masked: {first:?}"
    );
    for host in ALL {
        let [ok, changed, unreachable, failed, ..] = recap(&first, host);
        assert!(ok > 0 && changed > 0, "{host} did work: {first:?}");
        assert_eq!((unreachable, failed), (0, 0), "{host}: {first:?}");
    }

    let second = hoist_apply(&ours, &[]);
    assert_eq!(second.code, 0, "second apply: {second:?}");
    for host in ALL {
        assert_eq!(
            recap(&second, host)[1],
            0,
            "{host} changed again: {second:?}"
        );
    }
    let diff = hoist_diff(&ours);
    assert_eq!(diff.code, 0, "diff after converging: {diff:?}");

    // The same site with ansible-playbook on an identical lab, for one host
    // of each type (the limit keeps every group whole, so templates that
    // list a group's hosts render alike).
    let theirs = SiteLab::up(tmp.path().join("ansible-site"));
    let mut c = Command::new("ansible-playbook");
    c.current_dir(repo())
        .args(["playbooks/site.yml", "-i"])
        .arg(theirs.inventory())
        .args(["-l", &COMPARED.join(",")])
        .args(VAULT)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_HOME", tmp.path().join(".ansible-home"))
        .env("ANSIBLE_LOCAL_TEMP", tmp.path().join(".ansible-tmp"));
    let reference = run(c);
    assert_eq!(reference.code, 0, "ansible-playbook: {reference:?}");

    for host in COMPARED {
        assert_eq!(
            recap(&first, host),
            recap(&reference, host),
            "{host}: per-host results differ\n--- hoist\n{first:?}\n--- ansible-playbook\n{reference:?}"
        );
        let (a, b) = (snapshot(&ours, host), snapshot(&theirs, host));
        assert!(a.contains("/srv") || a.contains("/etc/motd"), "{host}: {a}");
        if host.starts_with("web") {
            // The application answers over HTTP with the release it runs.
            assert!(a.contains("version=1.2.0\nhealth 0\n"), "{host}: {a}");
        }
        if a != b {
            let diff = similar::TextDiff::from_lines(&b, &a)
                .unified_diff()
                .header("ansible-playbook", "hoist")
                .to_string();
            panic!("{host}: the hosts differ\n{diff}");
        }
    }
    drop(theirs);

    ssh_only_through_the_gateway(&ours);
    db_backups_restore(&ours);
    drift_on_one_host(&ours);
}

/// The targets' sshd (reloaded by the site) lets logins in only from the
/// gateway's private address: root from the gateway gets in, root from
/// another target is refused by AllowUsers; the lab's deploy user still
/// gets in through the gateway from this machine.
fn ssh_only_through_the_gateway(lab: &SiteLab) {
    let web2 = address(lab, "web2");
    let via_gateway = ssh_from(lab, "gateway", &web2);
    assert_eq!(
        (via_gateway.code, via_gateway.stdout.trim()),
        (0, "web2"),
        "gateway -> web2: {via_gateway:?}"
    );
    let sideways = ssh_from(lab, "web1", &web2);
    assert_ne!(sideways.code, 0, "web1 -> web2 got in: {sideways:?}");
    assert!(
        sideways.stderr.contains("Permission denied"),
        "web1 -> web2: {sideways:?}"
    );
    let log = std::fs::read_to_string(lab.dir.join("hosts/web2/sshd.log")).expect("sshd.log");
    let web1 = address(lab, "web1");
    assert!(
        log.contains(&format!(
            "User root from {web1} not allowed because not listed in AllowUsers"
        )),
        "web2's sshd log: {log}"
    );
    let mut c = Command::new("ssh");
    c.arg("-F").arg(lab.dir.join("ssh_config")).args([
        "-l",
        "deploy",
        "-o",
        "BatchMode=yes",
        "web2",
        "id -un",
    ]);
    let deploy = run(c);
    assert_eq!(
        (deploy.code, deploy.stdout.trim()),
        (0, "deploy"),
        "deploy through the gateway: {deploy:?}"
    );
}

/// The db backup script keeps the newest backups, the restore test
/// restores the newest and checks it, and fails on a broken one.
fn db_backups_restore(lab: &SiteLab) {
    let r = lab.exec(
        "db1",
        "set -e; echo 'some rows' > /var/lib/postgresql-site/base.dat
         for i in 1 2 3 4 5 6 7 8 9; do /usr/local/sbin/shop-db-backup; done
         echo \"kept $(ls /var/backups/shop | wc -l)\"
         /usr/local/sbin/shop-db-restore-test",
    );
    assert_eq!(r.code, 0, "backup and restore test on db1: {r:?}");
    assert!(r.stdout.contains("kept 7\n"), "{r:?}");
    assert!(
        r.stdout.contains("restored and verified (5 files)"),
        "{r:?}"
    );
    let broken = lab.exec(
        "db1",
        "n=$(ls -1 /var/backups/shop/shop-db-*.tar.gz | sort | tail -n 1)
         head -c 200 \"$n\" > /tmp/part && cat /tmp/part > \"$n\"
         /usr/local/sbin/shop-db-restore-test",
    );
    assert_ne!(broken.code, 0, "a truncated backup passed: {broken:?}");
    // Back to a good newest backup.
    let again = lab.exec(
        "db1",
        "/usr/local/sbin/shop-db-backup && /usr/local/sbin/shop-db-restore-test",
    );
    assert_eq!(again.code, 0, "{again:?}");
}

/// A hand edit of a managed file on one host: `hoist diff` exits 2 and
/// shows exactly that file's diff on that host, and nothing else changes.
fn drift_on_one_host(lab: &SiteLab) {
    let edit = lab.exec(
        "cache2",
        "sed -i 's/^maxmemory 256mb$/maxmemory 512mb/' /etc/redis-site.conf && \
         grep -qx 'maxmemory 512mb' /etc/redis-site.conf",
    );
    assert_eq!(edit.code, 0, "{edit:?}");
    let diff = hoist_diff(lab);
    assert_eq!(diff.code, 2, "diff after a hand edit: {diff:?}");
    assert!(
        diff.stdout.contains(
            "--- before: /etc/redis-site.conf\n\
             +++ after: "
        ) && diff
            .stdout
            .contains(" port 6379\n-maxmemory 512mb\n+maxmemory 256mb\n maxmemory-policy"),
        "the drifted file's diff: {diff:?}"
    );
    assert_eq!(
        diff.stdout.matches("--- before").count(),
        1,
        "only one diff: {diff:?}"
    );
    let changed: Vec<&str> = diff
        .stdout
        .lines()
        .filter(|l| l.starts_with("changed: "))
        .collect();
    assert_eq!(changed, ["changed: [cache2]"], "{diff:?}");
    for host in ALL {
        let want = u32::from(*host == "cache2");
        assert_eq!(recap(&diff, host)[1], want, "{host}: {diff:?}");
    }
}
