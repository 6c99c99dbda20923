//! System helpers: finding tools, running commands, looking at processes,
//! mounts and network namespaces.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::state::Proc;

/// PATH for everything the lab runs.
pub const SAFE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
pub const SSHD: &str = "/usr/sbin/sshd";
pub const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";

/// Absolute paths of the programs the lab uses.
#[derive(Debug, Clone)]
pub struct Tools {
    pub ip: PathBuf,
    pub nsenter: PathBuf,
    pub unshare: PathBuf,
    pub setsid: PathBuf,
    pub mount: PathBuf,
    pub umount: PathBuf,
    pub ssh_keygen: PathBuf,
    pub sshd: PathBuf,
}

/// Finds `name` on PATH or in the usual system directories.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(SAFE_PATH.split(':'))
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn need(name: &str, package: &str) -> Result<PathBuf, String> {
    which(name).ok_or_else(|| {
        format!("'{name}' was not found: install {package} (apt-get install -y {package})")
    })
}

impl Tools {
    /// Checks for everything `hoist lab` needs (full = also what `up` needs).
    pub fn find(full: bool) -> Result<Tools, String> {
        let ip = need("ip", "iproute2")?;
        let nsenter = need("nsenter", "util-linux")?;
        let unshare = need("unshare", "util-linux")?;
        let setsid = need("setsid", "util-linux")?;
        let mount = need("mount", "mount")?;
        let umount = need("umount", "mount")?;
        let sshd = PathBuf::from(SSHD);
        let ssh_keygen = if full {
            if !is_executable(&sshd) {
                return Err(format!(
                    "{SSHD} was not found: install openssh-server (apt-get install -y openssh-server)"
                ));
            }
            for (tool, package) in [
                ("useradd", "passwd"),
                ("usermod", "passwd"),
                ("chpasswd", "passwd"),
            ] {
                need(tool, package)?;
            }
            need("ssh-keygen", "openssh-client")?
        } else {
            which("ssh-keygen").unwrap_or_else(|| PathBuf::from("ssh-keygen"))
        };
        Ok(Tools {
            ip,
            nsenter,
            unshare,
            setsid,
            mount,
            umount,
            ssh_keygen,
            sshd,
        })
    }
}

/// Is the effective user root?
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Does the kernel know overlayfs?
pub fn overlay_supported() -> bool {
    fs::read_to_string("/proc/filesystems")
        .map(|t| {
            t.lines()
                .any(|l| l.split_whitespace().last() == Some("overlay"))
        })
        .unwrap_or(false)
}

/// Runs a command to completion; Ok(stdout) or Err("what: stderr").
pub fn run(cmd: &mut Command) -> Result<String, String> {
    let what = describe(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .env("PATH", SAFE_PATH)
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let err = err.trim();
        Err(format!(
            "`{what}` failed ({}){}{err}",
            out.status,
            if err.is_empty() { "" } else { ": " }
        ))
    }
}

/// The command line, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

impl Tools {
    /// Runs `ip ARGS...`, in namespace `netns` when given.
    pub fn ip(&self, netns: Option<&str>, args: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new(&self.ip);
        if let Some(ns) = netns {
            cmd.args(["-n", ns]);
        }
        run(cmd.args(args))
    }
}

/// Is there a network namespace of this name (from `ip netns add`)?
pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Names of all named network namespaces.
pub fn netns_list() -> Vec<String> {
    fs::read_dir("/run/netns")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Pids of the processes in a network namespace (`ip netns pids`).
pub fn netns_pids(tools: &Tools, name: &str) -> Vec<u32> {
    if !netns_exists(name) {
        return Vec::new();
    }
    run(Command::new(&tools.ip).args(["netns", "pids", name]))
        .map(|out| {
            out.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// (state, start time) of a process, from /proc/PID/stat.
pub fn proc_stat(pid: u32) -> Option<(char, u64)> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses /proc/PID/stat text: the state (field 3) and start time (field 22).
pub fn parse_stat(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// The processes descended from `pid` (children, grandchildren, ...).
pub fn descendants(pid: u32) -> Vec<Proc> {
    let mut table: Vec<(u32, u32, u64)> = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Some((ppid, start)) = fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|t| parse_ppid_start(&t))
            {
                table.push((p, ppid, start));
            }
        }
    }
    descendants_in(pid, &table)
}

/// Descendants of `root` in a (pid, ppid, start) table.
fn descendants_in(root: u32, table: &[(u32, u32, u64)]) -> Vec<Proc> {
    let mut out: Vec<Proc> = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid, start) in table {
            if ppid == parent && pid != root && !out.iter().any(|p| p.pid == pid) {
                out.push(Proc { pid, start });
                frontier.push(pid);
            }
        }
    }
    out
}

/// The parent pid (field 4) and start time (field 22) from /proc/PID/stat.
fn parse_ppid_start(text: &str) -> Option<(u32, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

/// Records a process we just started.
pub fn proc_of(pid: u32) -> Proc {
    Proc {
        pid,
        start: proc_stat(pid).map(|s| s.1).unwrap_or(0),
    }
}

/// Is this process (same pid and start time) still running (not a zombie)?
pub fn alive(p: &Proc) -> bool {
    matches!(proc_stat(p.pid), Some((state, start)) if start == p.start && state != 'Z' && state != 'X')
}

/// Sends a signal by pid (through the shell's `kill`).
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("/bin/sh")
        .args([
            "-c",
            "kill -s \"$0\" \"$1\" 2>/dev/null",
            sig,
            &pid.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops a recorded process: SIGTERM, then SIGKILL after `grace`. Only
/// signals it when pid and start time still match. True if it is gone.
pub fn terminate(p: &Proc, grace: Duration) -> bool {
    if !alive(p) {
        return true;
    }
    signal(p.pid, "TERM");
    if wait_gone(std::slice::from_ref(p), grace) {
        return true;
    }
    if alive(p) {
        signal(p.pid, "KILL");
    }
    wait_gone(std::slice::from_ref(p), Duration::from_secs(2))
}

/// Waits until none of the processes is alive.
pub fn wait_gone(procs: &[Proc], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !procs.iter().any(alive) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(20));
    }
}

/// Is `path` a mount point in this mount namespace? Returns its fs type.
pub fn mount_at(path: &Path) -> Option<(String, String)> {
    let want = path.to_string_lossy();
    let text = fs::read_to_string("/proc/self/mounts").ok()?;
    text.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.len() > 2 && unescape_mount(f[1]) == want).then(|| (f[0].to_string(), f[2].to_string()))
    })
}

fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Is something listening on TCP port 22 in the network namespace of `pid`?
pub fn listening_on_22(pid: u32) -> bool {
    ["tcp", "tcp6"].iter().any(|f| {
        fs::read_to_string(format!("/proc/{pid}/net/{f}"))
            .map(|t| {
                t.lines().skip(1).any(|l| {
                    let c: Vec<&str> = l.split_whitespace().collect();
                    c.len() > 3 && c[1].ends_with(":0016") && c[3] == "0A"
                })
            })
            .unwrap_or(false)
    })
}

/// Admin state ("UP" flag) and operstate of an interface, via `ip -j`.
pub fn link_state(tools: &Tools, netns: Option<&str>, ifname: &str) -> Option<(bool, String)> {
    if let Some(ns) = netns
        && !netns_exists(ns)
    {
        return None;
    }
    let out = tools
        .ip(netns, &["-j", "link", "show", "dev", ifname])
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&out).ok()?;
    let link = v.get(0)?;
    let up = link
        .get("flags")?
        .as_array()?
        .iter()
        .any(|f| f.as_str() == Some("UP"));
    let oper = link
        .get("operstate")
        .and_then(|o| o.as_str())
        .unwrap_or("UNKNOWN");
    Some((up, oper.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing() {
        let text = "1234 (sshd: a) b) S 1 1234 1234 0 -1 4194560 300 0 0 0 0 0 0 0 20 0 1 0 98765 1000 200 18446744073709551615";
        assert_eq!(parse_stat(text), Some(('S', 98765)));
        assert_eq!(parse_stat("garbage"), None);
        let me = proc_of(std::process::id());
        assert!(alive(&me));
        assert!(!alive(&Proc {
            pid: me.pid,
            start: me.start + 1
        }));
    }

    #[test]
    fn descendants_follow_the_tree() {
        let table = [
            (10, 1, 0),
            (11, 10, 5),
            (12, 11, 6),
            (13, 1, 7),
            (14, 10, 8),
        ];
        let mut got: Vec<u32> = descendants_in(10, &table).iter().map(|p| p.pid).collect();
        got.sort();
        assert_eq!(got, [11, 12, 14]);
        assert!(descendants_in(13, &table).is_empty());
        let text = "5 (a b) S 42 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0";
        assert_eq!(parse_ppid_start(text), Some((42, 777)));
    }

    #[test]
    fn finds_sh() {
        assert!(which("sh").is_some());
        assert!(which("surely-not-a-program-xyz").is_none());
    }
}
