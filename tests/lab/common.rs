//! Helpers for the lab tests.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub secs: f64,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {} after {:.1}s\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.secs, self.stdout, self.stderr
        )
    }
}

/// Tests that cut links or stop servers take this lock exclusively; all
/// others share it, so no test sees another's sabotage.
static SABOTAGE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// The running lab, or `None` when the tests run outside `scripts/test`.
pub fn lab() -> Option<Lab> {
    lab_with(false)
}

/// The running lab, for a test that disrupts hosts.
pub fn lab_exclusive() -> Option<Lab> {
    lab_with(true)
}

fn lab_with(exclusive: bool) -> Option<Lab> {
    match std::env::var_os("HOIST_LAB_DIR") {
        Some(d) => Some(Lab {
            dir: PathBuf::from(d),
            _guard: if exclusive {
                Guard::Write(SABOTAGE.write().unwrap_or_else(|p| p.into_inner()))
            } else {
                Guard::Read(SABOTAGE.read().unwrap_or_else(|p| p.into_inner()))
            },
        }),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "on CI the lab tests must run (HOIST_LAB_DIR unset)"
            );
            eprintln!("HOIST_LAB_DIR is not set; skipping a lab test (run scripts/test)");
            None
        }
    }
}

pub struct Lab {
    pub dir: PathBuf,
    _guard: Guard,
}

enum Guard {
    Read(#[allow(dead_code)] std::sync::RwLockReadGuard<'static, ()>),
    Write(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>),
}

pub fn run(mut c: Command) -> Run {
    let start = std::time::Instant::now();
    let out = c.output().expect("run command");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        secs: start.elapsed().as_secs_f64(),
    }
}

impl Lab {
    pub fn inventory(&self) -> PathBuf {
        self.dir.join("inventory.ini")
    }
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    /// Runs a shell command on a lab host with the system's OpenSSH client.
    pub fn ssh(&self, host: &str, user: &str, command: &str) -> Run {
        let mut c = Command::new("ssh");
        c.arg("-F")
            .arg(self.ssh_config())
            .args(["-l", user, "-o", "BatchMode=yes", host, command]);
        run(c)
    }

    /// `hoist <args...>` with the lab's inventory unless the args give one.
    pub fn hoist(&self, cwd: &Path, args: &[&str]) -> Run {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
        c.current_dir(cwd).args(args);
        run(c)
    }

    /// `hoist apply site.yml` in `dir` with the lab's inventory, limited to
    /// `host`, plus `extra` arguments.
    pub fn apply_on(&self, dir: &Path, host: &str, extra: &[&str]) -> Run {
        let inv = self.inventory();
        let inv = inv.to_str().expect("utf-8 inventory path");
        self.hoist(
            dir,
            &[&["apply", "site.yml", "-i", inv, "-l", host][..], extra].concat(),
        )
    }

    pub fn lab_cmd(&self, args: &[&str]) -> Run {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
        c.arg("lab").args(args).arg("--dir").arg(&self.dir);
        run(c)
    }
}

/// A temporary project directory holding `playbook` as site.yml.
pub fn project(playbook: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("site.yml"), playbook).expect("write playbook");
    dir
}

/// The recap numbers for a host: (ok, changed, unreachable, failed, skipped, rescued, ignored).
pub fn recap(run: &Run, host: &str) -> [u32; 7] {
    let line = run
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(host) && l.contains(" : ok="))
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

/// The output without the playbook source lines quoted under a failure's
/// `Origin:` (a neighbouring task's literal arguments show there, as in
/// ansible-core 2.19), to check what modules and results print.
pub fn without_quoted_source(stdout: &str) -> String {
    let mut out = String::new();
    let mut quoting = false;
    for line in stdout.lines() {
        if line.starts_with("Origin: ") {
            quoting = true;
        } else if quoting && line.trim_start().starts_with("^ column") {
            quoting = false;
            continue;
        }
        if !quoting {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
