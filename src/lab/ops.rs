//! The lab's operations: up, down, status, cut/heal, stop/start, exec.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::plan::{self, GATEWAY, GATEWAY_GROUP, MAX_TARGETS, Net};
use super::render;
use super::state::{
    CLIENT_KEY_FILE, FS_DIR, HOST_KEY_TYPES, HOSTS_DIR, HostState, INVENTORY_FILE,
    KNOWN_HOSTS_FILE, LabState, OVERLAY_DIRS, Proc, SSH_CONFIG_FILE, STATE_FILE, write_atomic,
};
use super::sys::{self, SAFE_PATH, SFTP_SERVER, Tools};

pub type Result<T> = std::result::Result<T, String>;

/// `println!` that ignores a closed stdout (`hoist lab status | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

const LOCK_FILE: &str = "lab.lock";
const HOLDER_TIMEOUT: Duration = Duration::from_secs(60);
const SSHD_TIMEOUT: Duration = Duration::from_secs(20);

/// Options of `hoist lab up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub count: usize,
    pub groups: String,
    pub force: bool,
    pub net: Option<u8>,
}

fn warn(msg: &str) {
    eprintln!("[WARNING]: {msg}");
}

/// Checks root, and the tools (all of them for `up`).
pub fn preflight(full: bool) -> Result<Tools> {
    if !sys::is_root() {
        return Err("hoist lab needs root (run it with sudo)".to_string());
    }
    let tools = Tools::find(full)?;
    if full && !sys::overlay_supported() {
        return Err(
            "this kernel does not support overlayfs, which hoist lab needs for the hosts' \
             filesystems (try `modprobe overlay`)"
                .to_string(),
        );
    }
    Ok(tools)
}

/// Holds `<dir>/lab.lock` so two `hoist lab` commands don't race on one lab.
struct DirLock(#[allow(dead_code)] File);

fn lock_dir(dir: &Path) -> Result<DirLock> {
    let path = dir.join(LOCK_FILE);
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    f.lock()
        .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    Ok(DirLock(f))
}

/// The lab dir as an absolute path (canonical when it exists), checked.
fn lab_dir(dir: &Path) -> Result<PathBuf> {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("cannot get the current directory: {e}"))?
            .join(dir)
    };
    let abs = fs::canonicalize(&abs).unwrap_or(abs);
    let s = abs.to_string_lossy();
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._+-".contains(c))
    {
        return Err(format!(
            "lab dir '{s}': use only letters, digits and / . _ + - in its path"
        ));
    }
    for bad in ["/run", "/proc", "/sys", "/dev"] {
        if s == bad || s.starts_with(&format!("{bad}/")) {
            return Err(format!(
                "the lab dir cannot be under {bad} (hosts get their own {bad})"
            ));
        }
    }
    if abs.parent().is_none() {
        return Err("the lab dir cannot be /".to_string());
    }
    Ok(abs)
}

fn load_lab(dir: &Path) -> Result<LabState> {
    LabState::load(dir)?.ok_or_else(|| {
        format!(
            "no lab in {} (create one with `hoist lab up N{}`)",
            dir.display(),
            dir_flag(dir)
        )
    })
}

/// ` --dir DIR` unless DIR is the default.
fn dir_flag(dir: &Path) -> String {
    if dir == Path::new(super::DEFAULT_DIR) {
        String::new()
    } else {
        format!(" --dir {}", dir.display())
    }
}

// ---------------------------------------------------------------- up

pub fn up(dir: &Path, opts: &UpOptions) -> Result<()> {
    let tools = preflight(true)?;
    if !Path::new(SFTP_SERVER).exists() {
        warn(&format!(
            "{SFTP_SERVER} not found: sftp will not work on the lab hosts"
        ));
    }
    if sys::which("sudo").is_none() {
        warn(
            "sudo is not installed: deploy and deploypw will have no sudo (apt-get install -y sudo)",
        );
    }
    let groups = plan::parse_groups(&opts.groups)?;
    if opts.count > MAX_TARGETS {
        return Err(format!(
            "a lab holds at most {MAX_TARGETS} targets (asked for {})",
            opts.count
        ));
    }
    let dir = lab_dir(dir)?;
    if let Ok(meta) = fs::metadata(&dir)
        && !meta.is_dir()
    {
        return Err(format!("{} exists and is not a directory", dir.display()));
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dir = lab_dir(&dir)?;
    let _lock = lock_dir(&dir)?;
    if let Some(old) = LabState::load(&dir)? {
        if !opts.force {
            return Err(format!(
                "a lab already exists in {0} (see `hoist lab status{1}`; remove it with \
                 `hoist lab down{1}`, or use `hoist lab up --force` to recreate it)",
                dir.display(),
                dir_flag(&dir)
            ));
        }
        out!("Removing the existing lab in {}", dir.display());
        let problems = teardown(&old, &tools);
        if !problems.is_empty() {
            return Err(format!(
                "could not remove the existing lab: {}",
                problems.join("; ")
            ));
        }
        remove_files(&dir, true)?;
    }
    let stray: Vec<String> = fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != LOCK_FILE)
        .collect();
    if !stray.is_empty() {
        return Err(format!(
            "{} is not empty and holds no lab ({}): use an empty or new directory",
            dir.display(),
            stray.join(", ")
        ));
    }
    let net = choose_net(opts.net, &tools)?;
    let hosts = plan::plan(net, opts.count, &groups)?;
    let mut lab = LabState::new(&dir, net, &groups, hosts);
    lab.save()?;
    let t0 = Instant::now();
    if let Err(e) = build(&mut lab, &tools) {
        eprintln!("hoist lab up failed; removing what it made");
        let problems = teardown(&lab, &tools);
        for p in &problems {
            warn(p);
        }
        if problems.is_empty() {
            let _ = remove_files(&dir, false);
        }
        return Err(e);
    }
    print_up(&lab, t0.elapsed());
    Ok(())
}

/// Picks the lab number: the given one if free, else the first free one.
fn choose_net(want: Option<u8>, tools: &Tools) -> Result<Net> {
    let netns = sys::netns_list();
    let addrs = tools.ip(None, &["-o", "addr", "show"]).unwrap_or_default();
    let routes = tools
        .ip(None, &["-4", "route", "show", "table", "all"])
        .unwrap_or_default();
    let in_use = |n: Net| -> Option<String> {
        let prefix = format!("hoist-{}-", n.0);
        if let Some(ns) = netns.iter().find(|x| x.starts_with(&prefix)) {
            return Some(format!("network namespace {ns} exists"));
        }
        if Path::new("/sys/class/net").join(n.machine_if()).exists() {
            return Some(format!("interface {} exists", n.machine_if()));
        }
        for m in n.address_markers() {
            if addrs.contains(&m) || routes.contains(&m) {
                return Some(format!("this machine already uses {m}x"));
            }
        }
        None
    };
    match want {
        Some(n) => match in_use(Net(n)) {
            Some(why) => Err(format!("lab network {n} is in use: {why}")),
            None => Ok(Net(n)),
        },
        None => (0..=255u8)
            .map(Net)
            .find(|n| in_use(*n).is_none())
            .ok_or_else(|| "all 256 lab networks are in use".to_string()),
    }
}

/// Makes the lab; `lab` is saved as pids are recorded. On error the caller
/// tears down.
fn build(lab: &mut LabState, tools: &Tools) -> Result<()> {
    let dir = lab.dir();
    // Keys: start ssh-keygen for everything now, collect later.
    let mut keygens: Vec<(Child, String)> = Vec::new();
    keygens.push(keygen(
        tools,
        "ed25519",
        &dir.join(CLIENT_KEY_FILE),
        "hoist-lab",
    )?);
    for h in &lab.hosts {
        let hd = lab.host_dir(&h.name);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&hd)
            .map_err(|e| format!("cannot create {}: {e}", hd.display()))?;
        for t in HOST_KEY_TYPES {
            let path = hd.join(format!("ssh_host_{t}_key"));
            keygens.push(keygen(tools, t, &path, &format!("root@{}", h.name))?);
        }
    }
    // The tmpfs for the overlays' upper and work dirs.
    let fsdir = dir.join(FS_DIR);
    fs::create_dir_all(&fsdir).map_err(|e| format!("cannot create {}: {e}", fsdir.display()))?;
    sys::run(
        Command::new(&tools.mount)
            .args(["-t", "tmpfs", "-o", "mode=0700", "hoist-lab"])
            .arg(&fsdir),
    )
    .map_err(|e| format!("cannot mount the lab's tmpfs: {e}"))?;
    for h in &lab.hosts {
        for d in OVERLAY_DIRS {
            let real = Path::new("/").join(d);
            let Ok(meta) = fs::metadata(&real) else {
                continue;
            };
            let base = fsdir.join(&h.name).join(d);
            for sub in ["upper", "work"] {
                let p = base.join(sub);
                fs::create_dir_all(&p)
                    .map_err(|e| format!("cannot create {}: {e}", p.display()))?;
            }
            // The merged root takes the upper dir's owner and mode (/tmp is 1777).
            let upper = base.join("upper");
            std::os::unix::fs::chown(&upper, Some(meta.uid()), Some(meta.gid()))
                .and_then(|_| {
                    fs::set_permissions(&upper, fs::Permissions::from_mode(meta.mode() & 0o7777))
                })
                .map_err(|e| format!("cannot set up {}: {e}", upper.display()))?;
        }
    }
    setup_network(lab, tools)?;
    // Wait for the keys.
    for (mut child, what) in keygens {
        let out = child.wait().map_err(|e| format!("{what}: {e}"))?;
        if !out.success() {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut err);
            }
            return Err(format!("`{what}` failed ({out}): {}", err.trim()));
        }
    }
    let client_pub = read_pub(&dir.join(format!("{CLIENT_KEY_FILE}.pub")))?;
    let mut host_keys: Vec<Vec<String>> = Vec::new();
    for h in &lab.hosts {
        let hd = lab.host_dir(&h.name);
        let mut keys = Vec::new();
        for t in HOST_KEY_TYPES {
            keys.push(read_pub(&hd.join(format!("ssh_host_{t}_key.pub")))?);
        }
        host_keys.push(keys);
        let cfg = hd.join("sshd_config");
        write_atomic(
            &cfg,
            render::sshd_config(&h.name, SFTP_SERVER).as_bytes(),
            0o644,
        )?;
    }
    // Holders: mount and UTS namespaces with the overlays, users set up.
    let idx: Vec<usize> = (0..lab.hosts.len()).collect();
    start_holders(lab, tools, &idx, &client_pub, "init")?;
    start_sshds(lab, tools, &idx)?;
    // The gateway must answer from this machine.
    let gw = lab.hosts[0].address.clone();
    check_ssh_banner(&gw)?;
    // Client files.
    let python = Some("/usr/bin/python3").filter(|p| Path::new(p).exists());
    write_atomic(
        &dir.join(INVENTORY_FILE),
        render::inventory(lab, python).as_bytes(),
        0o644,
    )?;
    write_atomic(
        &dir.join(SSH_CONFIG_FILE),
        render::ssh_config(lab).as_bytes(),
        0o644,
    )?;
    write_atomic(
        &dir.join(KNOWN_HOSTS_FILE),
        render::known_hosts(lab, &host_keys).as_bytes(),
        0o644,
    )?;
    lab.status = "up".to_string();
    lab.save()
}

fn keygen(tools: &Tools, kind: &str, path: &Path, comment: &str) -> Result<(Child, String)> {
    let mut cmd = Command::new(&tools.ssh_keygen);
    cmd.args(["-q", "-t", kind, "-N", "", "-C", comment]);
    match kind {
        "rsa" => {
            cmd.args(["-b", "2048"]);
        }
        "ecdsa" => {
            cmd.args(["-b", "256"]);
        }
        _ => {}
    }
    cmd.arg("-f").arg(path);
    let what = sys::describe(&cmd);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run ssh-keygen: {e}"))?;
    Ok((child, what))
}

fn read_pub(path: &Path) -> Result<String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text.trim().to_string())
}

/// Namespaces, the bridge, veths, addresses and routes.
fn setup_network(lab: &LabState, tools: &Tools) -> Result<()> {
    let sw = lab.switch_netns.as_str();
    let net_err = |e: String| format!("cannot set up the lab network: {e}");
    let ip = |ns: Option<&str>, args: &[&str]| tools.ip(ns, args).map(|_| ()).map_err(net_err);
    ip(None, &["netns", "add", sw])?;
    ip(Some(sw), &["link", "set", "lo", "up"])?;
    ip(Some(sw), &["link", "add", &lab.bridge, "type", "bridge"])?;
    ip(Some(sw), &["link", "set", &lab.bridge, "up"])?;
    for h in &lab.hosts {
        ip(None, &["netns", "add", &h.netns])?;
        ip(Some(&h.netns), &["link", "set", "lo", "up"])?;
        for v in &h.veths {
            let outer_ns = v.outer_netns.as_deref();
            ip(
                outer_ns,
                &[
                    "link", "add", &v.outer, "type", "veth", "peer", "name", &v.inner, "netns",
                    &h.netns,
                ],
            )?;
            match outer_ns {
                None => {
                    ip(
                        None,
                        &["addr", "add", &lab.machine_address, "dev", &v.outer],
                    )?;
                    ip(None, &["link", "set", "dev", &v.outer, "up"])?;
                }
                Some(ns) => ip(
                    Some(ns),
                    &["link", "set", "dev", &v.outer, "master", &lab.bridge, "up"],
                )?,
            }
            ip(
                Some(&h.netns),
                &["addr", "add", &v.address, "dev", &v.inner],
            )?;
            ip(Some(&h.netns), &["link", "set", "dev", &v.inner, "up"])?;
        }
        ip(
            Some(&h.netns),
            &["route", "add", "default", "via", &h.default_via],
        )?;
    }
    Ok(())
}

/// Starts the holder process of each host in `which`, waits until each has
/// its overlays (and, in mode "init", users) set up, and records its pid.
fn start_holders(
    lab: &mut LabState,
    tools: &Tools,
    which: &[usize],
    client_pub: &str,
    mode: &str,
) -> Result<()> {
    let (tx, rx) = mpsc::channel::<(usize, Result<()>)>();
    for &i in which {
        let h = &lab.hosts[i];
        let hd = lab.host_dir(&h.name);
        let log_path = hd.join("setup.log");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let script = render::setup_script(lab, h, client_pub);
        let mut child = Command::new(&tools.setsid)
            .arg(&tools.ip)
            .args(["netns", "exec", &h.netns])
            .arg(&tools.unshare)
            .args([
                "--mount",
                "--uts",
                "--propagation",
                "private",
                "--",
                "/bin/sh",
                "-c",
            ])
            .arg(&script)
            .args(["hoist-lab-host", mode])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .env_clear()
            .env("PATH", SAFE_PATH)
            .env("LC_ALL", "C")
            .current_dir("/")
            .spawn()
            .map_err(|e| format!("cannot start host {}: {e}", h.name))?;
        // Record the pid at once, so a failure later still finds it.
        lab.hosts[i].holder = Some(sys::proc_of(child.id()));
        let stdout = child.stdout.take().expect("piped stdout");
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            let res = match BufReader::new(stdout).read_line(&mut line) {
                Ok(_) if line.trim() == "ready" => Ok(()),
                _ => match child.wait() {
                    Ok(st) => Err(format!("exited ({st})")),
                    Err(e) => Err(e.to_string()),
                },
            };
            let _ = tx.send((i, res));
        });
    }
    drop(tx);
    lab.save()?;
    let deadline = Instant::now() + HOLDER_TIMEOUT;
    let mut pending = which.len();
    let mut errors = Vec::new();
    while pending > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((_, Ok(()))) => pending -= 1,
            Ok((i, Err(e))) => {
                pending -= 1;
                let name = lab.hosts[i].name.clone();
                let log = tail(&lab.host_dir(&name).join("setup.log"));
                errors.push(setup_error(&name, &e, &log));
            }
            Err(_) => {
                errors.push(format!(
                    "{pending} host(s) did not finish setting up within {}s",
                    HOLDER_TIMEOUT.as_secs()
                ));
                break;
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

fn setup_error(name: &str, why: &str, log: &str) -> String {
    let hint = if log.contains("overlay")
        && (log.contains("unknown filesystem") || log.contains("wrong fs type"))
    {
        "\n  (overlayfs mounts failed: this kernel or filesystem does not support overlayfs as the lab needs it)"
    } else {
        ""
    };
    format!("host {name}: setting up failed, {why}:\n{log}{hint}")
}

/// The last lines of a log file, indented.
fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(12);
    lines[start..]
        .iter()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Starts sshd inside each listed host's namespaces; waits for its pid file.
fn start_sshds(lab: &mut LabState, tools: &Tools, which: &[usize]) -> Result<()> {
    let mut children: Vec<(usize, Child, PathBuf)> = Vec::new();
    for &i in which {
        let h = &lab.hosts[i];
        let holder = h.holder.filter(sys::alive).ok_or_else(|| {
            format!(
                "host {} is not running (its namespace holder is gone)",
                h.name
            )
        })?;
        let hd = lab.host_dir(&h.name);
        let pidfile = hd.join("sshd.pid");
        let _ = fs::remove_file(&pidfile);
        let log_path = hd.join("sshd.log");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let cfg = format!("{}/sshd_config", LabState::inner_host_dir(&h.name));
        let child = Command::new(&tools.setsid)
            .arg(&tools.nsenter)
            .args([
                "--target",
                &holder.pid.to_string(),
                "--mount",
                "--uts",
                "--net",
                "--",
            ])
            .arg(&tools.sshd)
            .args(["-D", "-e", "-f", &cfg])
            .stdin(Stdio::null())
            .stdout(log2)
            .stderr(log)
            .env_clear()
            .env("PATH", SAFE_PATH)
            .current_dir("/")
            .spawn()
            .map_err(|e| format!("cannot start sshd on {}: {e}", h.name))?;
        lab.hosts[i].sshd = Some(sys::proc_of(child.id()));
        children.push((i, child, pidfile));
    }
    lab.save()?;
    let deadline = Instant::now() + SSHD_TIMEOUT;
    let mut errors = Vec::new();
    while !children.is_empty() {
        let mut still = Vec::new();
        for (i, mut child, pidfile) in children {
            let name = lab.hosts[i].name.clone();
            let pid = fs::read_to_string(&pidfile)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok());
            if let Some(pid) = pid {
                lab.hosts[i].sshd = Some(sys::proc_of(pid));
                continue;
            }
            match child.try_wait() {
                Ok(Some(st)) => {
                    let log = tail(&lab.host_dir(&name).join("sshd.log"));
                    errors.push(format!("sshd on {name} exited ({st}):\n{log}"));
                }
                Ok(None) if Instant::now() < deadline => still.push((i, child, pidfile)),
                Ok(None) => {
                    let log = tail(&lab.host_dir(&name).join("sshd.log"));
                    errors.push(format!("sshd on {name} did not start in time:\n{log}"));
                }
                Err(e) => errors.push(format!("sshd on {name}: {e}")),
            }
        }
        children = still;
        if !children.is_empty() {
            sleep(Duration::from_millis(10));
        }
    }
    lab.save()?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// Connects to ADDR:22 and expects an SSH banner.
fn check_ssh_banner(addr: &str) -> Result<()> {
    let sa: SocketAddr = format!("{addr}:22")
        .parse()
        .map_err(|e| format!("bad address {addr}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = String::new();
    while Instant::now() < deadline {
        match TcpStream::connect_timeout(&sa, Duration::from_secs(2)) {
            Ok(mut s) => {
                let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
                let mut buf = [0u8; 64];
                match s.read(&mut buf) {
                    Ok(n) if buf[..n].starts_with(b"SSH-") => return Ok(()),
                    Ok(n) => {
                        last = format!("unexpected answer {:?}", String::from_utf8_lossy(&buf[..n]))
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        sleep(Duration::from_millis(50));
    }
    Err(format!(
        "the gateway's sshd at {addr}:22 does not answer from this machine: {last}"
    ))
}

fn print_up(lab: &LabState, took: Duration) {
    let dir = lab.dir();
    let df = dir_flag(&dir);
    out!(
        "hoist lab is up in {:.1}s: a gateway and {} target(s) in {}",
        took.as_secs_f64(),
        lab.hosts.len() - 1,
        dir.display()
    );
    for h in &lab.hosts {
        let via = if h.group == GATEWAY_GROUP {
            "reachable from this machine".to_string()
        } else {
            format!("group {}, through the gateway", h.group)
        };
        out!("  {:<10} {:<14} {via}", h.name, h.address);
    }
    let cfg = dir.join(SSH_CONFIG_FILE);
    let inv = dir.join(INVENTORY_FILE);
    let example = lab
        .targets()
        .next()
        .map(|h| h.name.as_str())
        .unwrap_or(GATEWAY);
    out!();
    out!(
        "Users: root and deploy (key {0}; deploy has passwordless sudo), deploypw (sudo password: hoist-lab)",
        lab.client_key
    );
    out!("  ssh -F {} {example}", cfg.display());
    out!("  hoist apply site.yml -i {}", inv.display());
    out!("  ansible-playbook -i {} site.yml", inv.display());
    out!("  hoist lab status{df}    (also: cut, heal, stop, start HOST; exec HOST [CMD])");
    out!("  hoist lab down{df}");
}

// ---------------------------------------------------------------- down

pub fn down(dir: &Path) -> Result<()> {
    let tools = preflight(false)?;
    let dir = lab_dir(dir)?;
    if !dir.join(STATE_FILE).exists() {
        out!("No lab in {}: nothing to do", dir.display());
        leftover_hint();
        return Ok(());
    }
    let _lock = lock_dir(&dir)?;
    let Some(lab) = LabState::load(&dir)? else {
        out!("No lab in {}: nothing to do", dir.display());
        return Ok(());
    };
    let problems = teardown(&lab, &tools);
    if !problems.is_empty() {
        return Err(format!(
            "could not remove everything (run `hoist lab down{}` again):\n  {}",
            dir_flag(&dir),
            problems.join("\n  ")
        ));
    }
    remove_files(&dir, false)?;
    out!("Removed the lab in {}", dir.display());
    Ok(())
}

fn leftover_hint() {
    let left: Vec<String> = sys::netns_list()
        .into_iter()
        .filter(|n| n.starts_with("hoist-"))
        .collect();
    if !left.is_empty() {
        warn(&format!(
            "network namespaces of other labs exist: {} (see their --dir)",
            left.join(", ")
        ));
    }
}

/// Removes the running parts of a lab: processes, namespaces, veths, the
/// tmpfs. Missing parts are fine. Returns what could not be removed.
fn teardown(lab: &LabState, tools: &Tools) -> Vec<String> {
    let mut problems = Vec::new();
    // 1. Our processes, by recorded pid (checked against their start time).
    let recorded: Vec<Proc> = lab
        .hosts
        .iter()
        .flat_map(|h| [h.sshd, h.holder])
        .flatten()
        .filter(sys::alive)
        .collect();
    for p in &recorded {
        sys::signal(p.pid, "TERM");
    }
    sys::wait_gone(&recorded, Duration::from_secs(3));
    for p in recorded.iter().filter(|p| sys::alive(p)) {
        sys::signal(p.pid, "KILL");
    }
    // 2. Anything else still inside the lab's network namespaces (sessions,
    //    daemons a playbook started, a holder whose pid was not recorded).
    let all_ns: Vec<&str> = lab
        .hosts
        .iter()
        .map(|h| h.netns.as_str())
        .chain([lab.switch_netns.as_str()])
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids: Vec<u32> = all_ns
            .iter()
            .flat_map(|ns| sys::netns_pids(tools, ns))
            .collect();
        let live: Vec<u32> = pids
            .into_iter()
            .filter(|p| matches!(sys::proc_stat(*p), Some((s, _)) if s != 'Z' && s != 'X'))
            .collect();
        if live.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            problems.push(format!(
                "processes still running in the lab's namespaces: {live:?}"
            ));
            break;
        }
        for p in live {
            sys::signal(p, "KILL");
        }
        sleep(Duration::from_millis(50));
    }
    // 3. The machine's end of the gateway link, then the namespaces (their
    //    veths go with them).
    if Path::new("/sys/class/net").join(&lab.machine_if).exists()
        && let Err(e) = tools.ip(None, &["link", "del", "dev", &lab.machine_if])
    {
        problems.push(e);
    }
    for ns in &all_ns {
        if sys::netns_exists(ns)
            && let Err(e) = tools.ip(None, &["netns", "del", ns])
        {
            problems.push(e);
        }
    }
    // 4. The tmpfs (overlays inside the hosts died with their holders).
    let tmpfs = PathBuf::from(&lab.tmpfs);
    let mut tries = 0;
    while let Some((src, fstype)) = sys::mount_at(&tmpfs) {
        if src != "hoist-lab" || fstype != "tmpfs" {
            problems.push(format!(
                "{} is a {fstype} mount of {src}, not the lab's tmpfs; left alone",
                tmpfs.display()
            ));
            break;
        }
        tries += 1;
        let lazy = tries > 20;
        let mut cmd = Command::new(&tools.umount);
        if lazy {
            cmd.arg("-l");
        }
        match sys::run(cmd.arg(&tmpfs)) {
            Ok(_) => {}
            Err(e) if lazy => {
                problems.push(e);
                break;
            }
            Err(_) => sleep(Duration::from_millis(50)),
        }
    }
    problems
}

/// Removes the files `up` wrote (and the dir, if that leaves it empty).
fn remove_files(dir: &Path, keep_dir: bool) -> Result<()> {
    let fsdir = dir.join(FS_DIR);
    if sys::mount_at(&fsdir).is_some() {
        return Err(format!("{} is still mounted", fsdir.display()));
    }
    let mut errors = Vec::new();
    for f in [
        INVENTORY_FILE.to_string(),
        SSH_CONFIG_FILE.to_string(),
        KNOWN_HOSTS_FILE.to_string(),
        CLIENT_KEY_FILE.to_string(),
        format!("{CLIENT_KEY_FILE}.pub"),
        "lab.tmp~".to_string(),
    ] {
        let p = dir.join(f);
        if let Err(e) = fs::remove_file(&p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            errors.push(format!("{}: {e}", p.display()));
        }
    }
    // The pending-handler journal of the lab's inventory goes with it.
    for d in [HOSTS_DIR, FS_DIR, crate::journal::DIR] {
        let p = dir.join(d);
        if let Err(e) = fs::remove_dir_all(&p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            errors.push(format!("{}: {e}", p.display()));
        }
    }
    if !errors.is_empty() {
        return Err(format!("cannot remove lab files: {}", errors.join("; ")));
    }
    let _ = fs::remove_file(dir.join(STATE_FILE));
    if !keep_dir {
        let _ = fs::remove_file(dir.join(LOCK_FILE));
        let _ = fs::remove_dir(dir);
    }
    Ok(())
}

// ---------------------------------------------------------------- status

/// What status finds out about one host.
#[derive(Debug, Clone, serde::Serialize)]
struct HostStatus {
    name: String,
    group: String,
    address: String,
    netns: String,
    netns_exists: bool,
    holder_running: bool,
    sshd_pid: Option<u32>,
    sshd_running: bool,
    sshd_listening: bool,
    /// "up", "cut" (its link is down) or "missing".
    link: String,
    link_if: String,
}

fn host_status(h: &HostState, tools: &Tools) -> HostStatus {
    let sshd_running = h.sshd.as_ref().is_some_and(sys::alive);
    let l = &h.link;
    let link = match sys::link_state(tools, l.netns.as_deref(), &l.ifname) {
        None => "missing",
        Some((false, _)) => "cut",
        Some((true, _)) => "up",
    };
    HostStatus {
        name: h.name.clone(),
        group: h.group.clone(),
        address: h.address.clone(),
        netns: h.netns.clone(),
        netns_exists: sys::netns_exists(&h.netns),
        holder_running: h.holder.as_ref().is_some_and(sys::alive),
        sshd_pid: h.sshd.map(|p| p.pid),
        sshd_running,
        sshd_listening: sshd_running && h.sshd.is_some_and(|p| sys::listening_on_22(p.pid)),
        link: link.to_string(),
        link_if: match &l.netns {
            None => l.ifname.clone(),
            Some(ns) => format!("{ns}/{}", l.ifname),
        },
    }
}

pub fn status(dir: &Path, json: bool) -> Result<bool> {
    let tools = preflight(false)?;
    let dir = lab_dir(dir)?;
    let lab = load_lab(&dir)?;
    let hosts: Vec<HostStatus> = lab.hosts.iter().map(|h| host_status(h, &tools)).collect();
    let healthy = lab.status == "up"
        && hosts
            .iter()
            .all(|h| h.holder_running && h.sshd_listening && h.link == "up");
    if json {
        let v = serde_json::json!({
            "dir": lab.dir,
            "status": lab.status,
            "net": lab.net,
            "uplink_net": lab.uplink_net,
            "lan_net": lab.lan_net,
            "healthy": healthy,
            "hosts": hosts,
        });
        out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(healthy);
    }
    out!(
        "lab in {} ({}): machine {} on {} <-> gateway; lab network {}",
        lab.dir,
        lab.status,
        lab.machine_address,
        lab.machine_if,
        lab.lan_net
    );
    out!(
        "{:<10} {:<8} {:<14} {:<18} {:<26} LINK",
        "HOST",
        "GROUP",
        "ADDRESS",
        "NETNS",
        "SSHD"
    );
    for h in &hosts {
        let sshd = if !h.netns_exists {
            "namespace missing".to_string()
        } else if !h.holder_running {
            "host stopped".to_string()
        } else if h.sshd_running {
            format!(
                "running (pid {}){}",
                h.sshd_pid.unwrap_or(0),
                if h.sshd_listening {
                    ""
                } else {
                    ", not listening"
                }
            )
        } else {
            "stopped".to_string()
        };
        out!(
            "{:<10} {:<8} {:<14} {:<18} {:<26} {} ({})",
            h.name,
            h.group,
            h.address,
            h.netns,
            sshd,
            h.link,
            h.link_if
        );
    }
    Ok(healthy)
}

// ---------------------------------------------------------------- cut/heal

pub fn set_link(dir: &Path, hosts: &[String], up: bool) -> Result<()> {
    let tools = preflight(false)?;
    let dir = lab_dir(dir)?;
    let _lock = lock_dir(&dir)?;
    let lab = load_lab(&dir)?;
    let idx: Vec<usize> = hosts
        .iter()
        .map(|n| lab.host_index(n))
        .collect::<Result<_>>()?;
    for i in idx {
        let h = &lab.hosts[i];
        let l = &h.link;
        let state = if up { "up" } else { "down" };
        tools.ip(
            l.netns.as_deref(),
            &["link", "set", "dev", &l.ifname, state],
        )?;
        if up {
            heal_fixups(&lab, h, &tools);
        }
        let what = if h.group == GATEWAY_GROUP {
            "link to this machine"
        } else {
            "link to the lab network"
        };
        out!("{}: {what} {}", h.name, if up { "healed" } else { "cut" });
    }
    Ok(())
}

/// After a link comes back: restore the default route (taking the
/// gateway's interface down dropped it), wait until both ends of the veth
/// report carrier, and forget neighbour entries that failed while the link
/// was cut (else the first connection fails at once with "No route to host").
fn heal_fixups(lab: &LabState, h: &HostState, tools: &Tools) {
    let _ = tools.ip(
        Some(&h.netns),
        &["route", "replace", "default", "via", &h.default_via],
    );
    let v = &h.veths[0];
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let inner = sys::link_state(tools, Some(&h.netns), &v.inner);
        let outer = sys::link_state(tools, v.outer_netns.as_deref(), &v.outer);
        let is_up = |s: &Option<(bool, String)>| matches!(s, Some((true, o)) if o == "UP");
        if is_up(&inner) && is_up(&outer) {
            break;
        }
        sleep(Duration::from_millis(20));
    }
    let _ = tools.ip(Some(&h.netns), &["neigh", "flush", "dev", &v.inner]);
    match &v.outer_netns {
        // The gateway: the machine's end of its link.
        None => {
            let _ = tools.ip(None, &["neigh", "flush", "dev", &v.outer]);
        }
        // A target: the gateway's entry for it.
        Some(_) => {
            if let Some(gw) = lab.hosts.iter().find(|x| x.group == GATEWAY_GROUP) {
                let _ = tools.ip(Some(&gw.netns), &["neigh", "flush", "to", &h.lan_address]);
            }
        }
    }
}

// ---------------------------------------------------------------- stop/start

/// Stops sshd on the hosts; with `keep_sessions` only the listener (as
/// `systemctl stop ssh` does), else its open sessions too, so connections
/// already made (hoist keeps one per host) drop as well.
pub fn stop(dir: &Path, hosts: &[String], keep_sessions: bool) -> Result<()> {
    let _tools = preflight(false)?;
    let dir = lab_dir(dir)?;
    let _lock = lock_dir(&dir)?;
    let mut lab = load_lab(&dir)?;
    let idx: Vec<usize> = hosts
        .iter()
        .map(|n| lab.host_index(n))
        .collect::<Result<_>>()?;
    let mut errors = Vec::new();
    for i in idx {
        let name = lab.hosts[i].name.clone();
        match lab.hosts[i].sshd.filter(sys::alive) {
            None => out!("{name}: sshd is not running"),
            Some(p) => {
                let sessions = if keep_sessions {
                    Vec::new()
                } else {
                    sys::descendants(p.pid)
                };
                for s in &sessions {
                    sys::signal(s.pid, "TERM");
                }
                let stopped = sys::terminate(&p, Duration::from_secs(3));
                if !sys::wait_gone(&sessions, Duration::from_secs(2)) {
                    for s in sessions.iter().filter(|s| sys::alive(s)) {
                        sys::signal(s.pid, "KILL");
                    }
                }
                if stopped {
                    match sessions.len() {
                        0 => out!("{name}: sshd stopped"),
                        n => out!("{name}: sshd stopped ({n} session process(es) ended)"),
                    }
                } else {
                    errors.push(format!("{name}: sshd (pid {}) does not stop", p.pid));
                    continue;
                }
            }
        }
        lab.hosts[i].sshd = None;
        let _ = fs::remove_file(lab.host_dir(&name).join("sshd.pid"));
    }
    lab.save()?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

pub fn start(dir: &Path, hosts: &[String]) -> Result<()> {
    let tools = preflight(false)?;
    let dir = lab_dir(dir)?;
    let _lock = lock_dir(&dir)?;
    let mut lab = load_lab(&dir)?;
    let idx: Vec<usize> = hosts
        .iter()
        .map(|n| lab.host_index(n))
        .collect::<Result<_>>()?;
    let mut revive = Vec::new();
    let mut launch = Vec::new();
    for &i in &idx {
        let h = &lab.hosts[i];
        if !sys::netns_exists(&h.netns) {
            return Err(format!(
                "{}: its network namespace {} is gone; recreate the lab (hoist lab up --force)",
                h.name, h.netns
            ));
        }
        let sshd = h.sshd.filter(sys::alive);
        if !h.holder.as_ref().is_some_and(sys::alive) {
            // The holder is gone: an sshd still running keeps the old mount
            // namespace; stop it so all processes share the new one.
            if let Some(p) = sshd
                && !sys::terminate(&p, Duration::from_secs(3))
            {
                return Err(format!("{}: sshd (pid {}) does not stop", h.name, p.pid));
            }
            revive.push(i);
            launch.push(i);
        } else if sshd.is_some() {
            out!("{}: sshd is already running", h.name);
        } else {
            launch.push(i);
        }
    }
    if !revive.is_empty() {
        // Same namespaces; the overlays are mounted again from the same
        // upper dirs on the lab's tmpfs, so the hosts keep their contents.
        let client_pub = read_pub(&dir.join(format!("{CLIENT_KEY_FILE}.pub")))?;
        start_holders(&mut lab, &tools, &revive, &client_pub, "remount")?;
    }
    start_sshds(&mut lab, &tools, &launch)?;
    for i in launch {
        let h = &lab.hosts[i];
        out!(
            "{}: sshd started (pid {})",
            h.name,
            h.sshd.map(|p| p.pid).unwrap_or(0)
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- exec

pub fn exec(dir: &Path, host: &str, command: &[String]) -> Result<i32> {
    let tools = preflight(false)?;
    let dir = lab_dir(dir)?;
    let lab = load_lab(&dir)?;
    let h = &lab.hosts[lab.host_index(host)?];
    let holder = h.holder.filter(sys::alive).ok_or_else(|| {
        format!(
            "host {} is not running (start it with `hoist lab start {}{}`)",
            h.name,
            h.name,
            dir_flag(&dir)
        )
    })?;
    let default = ["/bin/bash".to_string(), "-l".to_string()];
    let argv = if command.is_empty() {
        &default[..]
    } else {
        command
    };
    let st = Command::new(&tools.nsenter)
        .args([
            "--target",
            &holder.pid.to_string(),
            "--mount",
            "--uts",
            "--net",
            "--",
        ])
        .args(argv)
        .status()
        .map_err(|e| format!("cannot run nsenter: {e}"))?;
    Ok(st.code().unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::state::INNER_DIR;

    #[test]
    fn lab_dirs_are_checked() {
        assert!(lab_dir(Path::new("/var/tmp/hoist-lab-x")).is_ok());
        assert!(lab_dir(Path::new("/run/hoist")).is_err());
        assert!(lab_dir(Path::new("/proc")).is_err());
        assert!(lab_dir(Path::new("/tmp/a b")).is_err());
        assert!(lab_dir(Path::new("/tmp/a,b")).is_err());
        assert!(lab_dir(Path::new("/")).is_err());
        assert!(lab_dir(Path::new("rel")).unwrap().is_absolute());
    }

    #[test]
    fn dir_flag_only_when_not_default() {
        assert_eq!(dir_flag(Path::new(crate::lab::DEFAULT_DIR)), "");
        assert_eq!(dir_flag(Path::new("/tmp/l")), " --dir /tmp/l");
    }

    #[test]
    fn inner_dir_is_under_run() {
        assert!(INNER_DIR.starts_with("/run/"));
    }
}
