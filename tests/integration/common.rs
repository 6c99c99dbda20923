//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A scratch project: a directory with a playbook, an inventory naming
/// `localhost` with the local connection, and a `root` directory the
/// playbook writes into (passed as the `root` extra var).
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("root")).expect("root dir");
        std::fs::write(
            dir.path().join("hosts.ini"),
            "localhost ansible_connection=local\n",
        )
        .expect("inventory");
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The directory the playbooks change (`{{ root }}`).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Runs `hoist <cmd> site.yml -i hosts.ini -e root=<root> <extra...>`.
    pub fn hoist(&self, cmd: &str, extra: &[&str]) -> Run {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
        c.current_dir(self.path())
            .arg(cmd)
            .arg("site.yml")
            .arg("-i")
            .arg("hosts.ini")
            .arg("-e")
            .arg(format!("root={}", self.root().display()));
        c.args(extra);
        run(c)
    }

    pub fn apply(&self) -> Run {
        self.hoist("apply", &[])
    }

    pub fn diff(&self) -> Run {
        self.hoist("diff", &[])
    }
}

pub fn run(mut c: Command) -> Run {
    let out = c.output().expect("run hoist");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The recap numbers for a host: (ok, changed, unreachable, failed, skipped, rescued, ignored).
pub fn recap(run: &Run, host: &str) -> [u32; 7] {
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with(host) && l.contains(" : ok="))
        .unwrap_or_else(|| panic!("no recap line for {host} in {run:?}"));
    let mut nums = [0u32; 7];
    for (i, part) in line
        .split_whitespace()
        .filter(|p| p.contains('='))
        .enumerate()
        .take(7)
    {
        nums[i] = part
            .split('=')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(999);
    }
    nums
}

/// One host's results in the order they were printed: `TASK STATUS` for
/// each of its result lines (`TASK` the banner's title), `TASK included`
/// for an include that names it.
pub fn host_results(stdout: &str, host: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut title = "";
    for line in stdout.lines() {
        if let Some(rest) = line
            .strip_prefix("TASK [")
            .or_else(|| line.strip_prefix("RUNNING HANDLER ["))
        {
            title = rest.split(']').next().unwrap_or_default();
        } else if let Some(rest) = line.strip_prefix("included: ") {
            let hosts = rest.rsplit(" for ").next().unwrap_or_default();
            if hosts.split(", ").any(|h| h == host) {
                out.push(format!("{title} included"));
            }
        } else if let Some((status, rest)) = line.split_once(": [")
            && rest.starts_with(&format!("{host}]"))
            && ["ok", "changed", "skipping", "fatal", "failed"].contains(&status)
        {
            out.push(format!("{title} {status}"));
        }
    }
    out
}

/// Every file under `dir` with its kind, mode and content (or link target),
/// for comparing trees.
pub fn snapshot(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(dir)
                .map(|r| r.display().to_string())
                .unwrap_or_default();
            let Ok(md) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let mode = md.mode() & 0o7777;
            if md.file_type().is_symlink() {
                let t = std::fs::read_link(&p)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                out.push(format!("{rel} link -> {t}"));
            } else if md.is_dir() {
                out.push(format!("{rel} dir {mode:o}"));
                stack.push(p);
            } else {
                let content = std::fs::read(&p).unwrap_or_default();
                out.push(format!(
                    "{rel} file {mode:o} {:?}",
                    String::from_utf8_lossy(&content)
                ));
            }
        }
    }
    out.sort();
    out
}

/// Writes `playbook` as the project's `site.yml` and runs the idempotency
/// cycle on localhost: `diff` shows `expect_hunk` and writes nothing, the
/// first apply changes, the second changes nothing, `diff` after exits 0.
pub fn idempotency_cycle(p: Project, playbook: &str, expect_hunk: &str) -> Project {
    p.write("site.yml", playbook);
    let before = snapshot(&p.root());
    let d = p.diff();
    assert_eq!(d.code, 2, "diff before: {d:?}");
    assert!(
        d.stdout.contains(expect_hunk),
        "diff shows {expect_hunk:?}: {d:?}"
    );
    assert_eq!(snapshot(&p.root()), before, "diff must not write");
    let a = p.apply();
    assert_eq!(a.code, 0, "first apply: {a:?}");
    assert!(recap(&a, "localhost")[1] > 0, "first apply changes: {a:?}");
    let b = p.apply();
    assert_eq!(b.code, 0, "second apply: {b:?}");
    assert_eq!(
        recap(&b, "localhost")[1],
        0,
        "second apply changes nothing: {b:?}"
    );
    let d2 = p.diff();
    assert_eq!(d2.code, 0, "diff after: {d2:?}");
    p
}

/// Whether ansible-core (`ansible-playbook`) is installed, for the
/// comparisons with it. On CI (`CI` set) it must be: a comparison never
/// skips there.
pub fn have_ansible() -> bool {
    let ok = Command::new("ansible-playbook")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "ansible-core must be installed on CI"
        );
        eprintln!("ansible-core not installed; skipping the comparison with it");
    }
    ok
}

/// An inventory of `n` local hosts `h1`…`hN` in the group `app`.
pub fn app_hosts(p: &Project, n: usize) {
    let hosts: String = (1..=n)
        .map(|i| format!("h{i} ansible_connection=local\n"))
        .collect();
    p.write("hosts.ini", &format!("[app]\n{hosts}"));
}
