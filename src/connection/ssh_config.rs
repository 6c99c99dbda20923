//! How to reach a host, decided the way OpenSSH's `ssh(1)` decides it.
//!
//! [`SshConfig`] reads `ssh_config(5)` files and [`SshConfig::resolve`] turns
//! a host name into an [`SshTarget`]: host name, port, user, identity files,
//! jump hosts, known-hosts files and host key policy.
//!
//! # Semantics (as OpenSSH)
//!
//! * **First obtained value wins.** Command-line options ([`Overrides`]) are
//!   read first, then the configuration file(s) from top to bottom; a value
//!   that has been set is never replaced. Host-specific blocks therefore go
//!   first and `Host *` defaults last. Exceptions: `IdentityFile` and
//!   `CertificateFile` accumulate (duplicates dropped); `ProxyJump` and
//!   `ProxyCommand` share one slot (whichever comes first wins, the other is
//!   ignored, `none` included).
//! * **`Host` patterns** (`*`, `?`, `!negation`) are matched against the name
//!   given to [`SshConfig::resolve`] exactly as typed (case-sensitive, as
//!   OpenSSH's `match_pattern`). A block applies when at least one positive
//!   pattern matches and no negated pattern does.
//! * **`Match`** supports `all`, `host` (the host name obtained so far, after
//!   `HostName`, case-insensitive), `originalhost` (the name as given),
//!   `user` (the remote user obtained so far, or the local user),
//!   `localuser`, `tagged` (`Tag`), `canonical` and `final`, each optionally
//!   negated with `!`, with comma-separated pattern lists. When a `Match
//!   final` line is reached, the files are read a second time (OpenSSH's
//!   "final pass") with `HostName` fixed to the resolved host name; in that
//!   pass `Host` patterns match that host name and `canonical`/`final` are
//!   true. hoist does not canonicalize host names (`CanonicalizeHostname` is
//!   ignored). **Conservative deviation:** `exec`, `localnetwork`, `version`,
//!   `sessiontype` and `command` cannot be evaluated by hoist (it never runs
//!   commands while reading configuration); a `Match` line using them never
//!   matches, whether negated or not, and [`SshConfig::warnings`] says so.
//!   Unknown criteria are parse errors, as in OpenSSH.
//! * **`Include`** takes one or more glob patterns (`*`, `?`, `[...]`), `~`
//!   expanded; relative paths are relative to `~/.ssh` (or `/etc/ssh` for
//!   [`SshConfig::load_system`]). Files are read in sorted order; patterns
//!   that match nothing are ignored. An `Include` inside a `Host`/`Match`
//!   block is conditional: when the block does not apply, nothing in the
//!   included files applies (not even their own `Host` blocks), and the
//!   including file's block state is restored after the `Include`. Included
//!   files must not be writable by others (OpenSSH's permission check).
//!   Nesting is limited to 16 levels.
//! * **Syntax:** `Key value`, `Key=value`, `Key = value`; keywords are
//!   case-insensitive; arguments may be double- or single-quoted, `\"`,
//!   `\'`, `\\` are escapes; `#` starts a comment at the beginning of a line
//!   or of a word. Unknown keywords are ignored (OpenSSH would refuse them)
//!   and reported by [`SshConfig::warnings`]. Values of the keywords hoist
//!   interprets are checked while loading, also in blocks that do not apply
//!   (as OpenSSH does); errors read `file:line: message`.
//! * **Tokens** are expanded as OpenSSH documents them: `HostName` accepts
//!   `%h` and `%%`; `IdentityFile`, `CertificateFile`, `UserKnownHostsFile`
//!   accept `%%`, `%C`, `%d`, `%h`, `%i`, `%k`, `%L`, `%l`, `%n`, `%p`, `%r`,
//!   `%u`, `~` and `${ENV}` (a path naming a missing variable is dropped);
//!   `ProxyJump` accepts `%%`, `%h`, `%n`, `%p`, `%r`. Unknown tokens are
//!   left as they are.
//!
//! # Ansible inventory variables
//!
//! Ansible's ssh connection runs `ssh [ssh_args] [-o Port=ansible_port]
//! [-o IdentityFile=ansible_ssh_private_key_file] [-o User=ansible_user]
//! [-o ConnectTimeout=timeout] [ssh_common_args] [ssh_extra_args]
//! ansible_host`. The variables therefore win over `ssh_config` (they are
//! command-line options) and the destination given to ssh — the name `Host`
//! patterns see — is `ansible_host` (or the inventory name when unset). To
//! reproduce that exactly: build [`Overrides`] from `ansible_ssh_args` with
//! [`parse_ssh_args`], [`Overrides::push`] the variables, [`Overrides::extend`]
//! with the parsed common and extra args, and resolve `ansible_host`.
//! [`Overrides::set`] gives a value the highest priority outright (useful to
//! map `ansible_host` onto `HostName` while resolving the inventory name).

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha1::{Digest, Sha1};

/// OpenSSH's `READCONF_MAX_DEPTH`.
const MAX_INCLUDE_DEPTH: usize = 16;
/// OpenSSH's `SSH_MAX_IDENTITY_FILES`.
const MAX_IDENTITY_FILES: usize = 100;

/// Everything needed to open an SSH connection to one host.
#[derive(Clone, Debug, PartialEq)]
pub struct SshTarget {
    /// The name asked for (`Host` patterns are matched against it).
    pub alias: String,
    /// `HostName` (with `%h` expanded), default: the alias. Lower-cased
    /// unless it is an IP address, as ssh does.
    pub hostname: String,
    /// Default 22.
    pub port: u16,
    /// `None`: the local user name (what ssh would use).
    pub user: Option<String>,
    /// `~`, `${ENV}` and tokens expanded. When no `IdentityFile` is
    /// configured, OpenSSH's defaults (`~/.ssh/id_rsa`, `id_ecdsa`,
    /// `id_ecdsa_sk`, `id_ed25519`, `id_ed25519_sk`); files that do not exist
    /// are to be skipped silently by the caller, as ssh does.
    pub identity_files: Vec<PathBuf>,
    pub identities_only: bool,
    /// Jump hosts, first hop first. Empty = direct (also for `ProxyJump
    /// none`). Each jump host is itself resolved through ssh_config by the
    /// caller (see [`JumpHost::overrides`]).
    pub proxy_jump: Vec<JumpHost>,
    /// `UserKnownHostsFile` (several allowed), default `~/.ssh/known_hosts
    /// ~/.ssh/known_hosts2`; `none` gives an empty list. New keys are
    /// recorded in the first one.
    pub known_hosts_files: Vec<PathBuf>,
    /// `None`: not configured (OpenSSH's default is `ask`).
    pub strict_host_key_checking: Option<StrictMode>,
    /// `None` also for `ConnectTimeout 0`/`none`.
    pub connect_timeout: Option<Duration>,
    /// `None` also for `ServerAliveInterval 0` (disabled).
    pub server_alive_interval: Option<Duration>,
    pub server_alive_count_max: Option<u32>,
    /// `HostKeyAlias` (lower-cased): the name to look host keys up under,
    /// instead of the host name and port. See [`SshTarget::host_key_name`].
    pub host_key_alias: Option<String>,
    /// `GlobalKnownHostsFile`, default `/etc/ssh/ssh_known_hosts
    /// /etc/ssh/ssh_known_hosts2`. Consulted after the user files, never
    /// written.
    pub global_known_hosts_files: Vec<PathBuf>,
    /// `HashKnownHosts yes`: new known-hosts lines should be hashed.
    pub hash_known_hosts: bool,
    /// A `ProxyCommand` (other than `none`) that won the proxy slot. hoist
    /// cannot run it: the caller must refuse the host with "ProxyCommand is
    /// not supported; use ProxyJump".
    pub proxy_command: Option<String>,
}

impl SshTarget {
    /// The name and port to look this host's key up under in known_hosts:
    /// `HostKeyAlias` as is (port ignored, as ssh does), else host name and
    /// port.
    pub fn host_key_name(&self) -> (&str, u16) {
        match &self.host_key_alias {
            Some(alias) => (alias.as_str(), 22),
            None => (self.hostname.as_str(), self.port),
        }
    }

    /// The user known-hosts files followed by the global ones: what to load
    /// for checking a host key.
    pub fn all_known_hosts_files(&self) -> Vec<PathBuf> {
        let mut files = self.known_hosts_files.clone();
        files.extend(self.global_known_hosts_files.iter().cloned());
        files
    }
}

/// One `ProxyJump` hop: `[user@]host[:port]` or `ssh://[user@]host[:port]`.
#[derive(Clone, Debug, PartialEq)]
pub struct JumpHost {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl JumpHost {
    /// Parses one hop. IPv6 addresses need brackets: `[::1]:2222`.
    pub fn parse(spec: &str) -> Result<JumpHost, String> {
        let bad = |why: &str| format!("invalid ProxyJump host '{spec}': {why}");
        if spec.is_empty() {
            return Err(bad("empty host"));
        }
        if spec.chars().any(char::is_whitespace) {
            return Err(bad("contains whitespace"));
        }
        let scheme = "ssh://";
        let rest = if spec
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        {
            let rest = &spec[scheme.len()..];
            let rest = rest.strip_suffix('/').unwrap_or(rest);
            if rest.contains('/') {
                return Err(bad("an ssh:// URI may not have a path"));
            }
            rest
        } else {
            spec
        };
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, hostport)) => {
                if user.is_empty() {
                    return Err(bad("empty user name"));
                }
                (Some(user.to_string()), hostport)
            }
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport).map_err(|why| bad(&why))?;
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        Ok(JumpHost { user, host, port })
    }

    /// The options ssh gives the connection to this hop (`-l user -p port`):
    /// they win over the hop's own ssh_config entries.
    pub fn overrides(&self) -> Overrides {
        let mut o = Overrides::default();
        if let Some(port) = self.port {
            o.push("port", &port.to_string());
        }
        if let Some(user) = &self.user {
            o.push("user", user);
        }
        o
    }
}

impl std::fmt::Display for JumpHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        match (self.host.contains(':'), self.port) {
            (true, Some(port)) => write!(f, "[{}]:{port}", self.host),
            (false, Some(port)) => write!(f, "{}:{port}", self.host),
            (_, None) => write!(f, "{}", self.host),
        }
    }
}

/// `host`, `host:port`, `[host]:port`, `[v6addr]`.
fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unterminated '['")?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("unexpected '{after}' after ']'")),
            },
        }
    } else {
        match s.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => Some(parse_port(p)?),
        None => None,
    };
    Ok((host.to_string(), port))
}

/// Parses a `ProxyJump` value: a comma-separated list of hops, first hop
/// first, or `none` (no jump host).
pub fn parse_proxy_jump(value: &str) -> Result<Vec<JumpHost>, String> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    value.split(',').map(JumpHost::parse).collect()
}

/// `StrictHostKeyChecking`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrictMode {
    /// `yes`, and `ask` (hoist cannot ask).
    Yes,
    /// `accept-new`: record unknown hosts, refuse changed keys.
    AcceptNew,
    /// `no`/`off`: record unknown hosts; changed keys are still the caller's
    /// decision.
    No,
}

fn parse_strict(v: &str) -> Result<StrictMode, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "ask" => Ok(StrictMode::Yes),
        "accept-new" => Ok(StrictMode::AcceptNew),
        "no" | "off" | "false" => Ok(StrictMode::No),
        _ => Err(format!(
            "invalid StrictHostKeyChecking value '{v}' (expected yes, accept-new, no, off or ask)"
        )),
    }
}

/// Options that take precedence over the configuration files: ssh's `-o`,
/// `-p`, `-l`, `-i`, `-J`, and Ansible's inventory variables.
///
/// Like ssh's command line they are read in order before the files, so for
/// each keyword the first entry wins (`IdentityFile` entries accumulate).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `(keyword lower-cased, value)`. The value is in ssh_config syntax (what
    /// follows the keyword on a configuration line: it may be quoted).
    pub options: Vec<(String, String)>,
}

impl Overrides {
    pub fn new() -> Overrides {
        Overrides::default()
    }

    /// Adds `key value` after the existing entries (lower priority than
    /// them, higher than any file). `value` is taken literally (quoted as
    /// needed).
    pub fn push(&mut self, key: &str, value: &str) -> &mut Overrides {
        self.options
            .push((key.to_ascii_lowercase(), quote_value(value)));
        self
    }

    /// Gives `key value` the highest priority: earlier entries for `key` are
    /// removed and the new one goes first. For `IdentityFile` the others stay
    /// (they accumulate) and the new one is tried first. Use it for values
    /// that must win over everything, e.g. Ansible's `ansible_host` mapped to
    /// `HostName`, `ansible_port` → `Port`, `ansible_user` → `User`,
    /// `ansible_ssh_private_key_file` → `IdentityFile` (in Ansible these win
    /// over ssh_config; see the module documentation for their exact rank
    /// relative to `ansible_ssh_args`).
    pub fn set(&mut self, key: &str, value: &str) -> &mut Overrides {
        let key = key.to_ascii_lowercase();
        if !accumulates(&key) {
            self.options.retain(|(k, _)| *k != key);
        }
        self.options.insert(0, (key, quote_value(value)));
        self
    }

    /// Appends `other`'s entries after ours (lower priority).
    pub fn extend(&mut self, other: Overrides) -> &mut Overrides {
        self.options.extend(other.options);
        self
    }

    /// The value that wins for `key` (unquoted first argument), if any.
    pub fn get(&self, key: &str) -> Option<String> {
        let key = key.to_ascii_lowercase();
        self.options
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| split_args(v).ok())
            .and_then(|args| args.into_iter().next())
    }

    /// Checks every entry as ssh checks `-o` options (values of the keywords
    /// hoist interprets, `ProxyCommand`, keywords not allowed on the command
    /// line). [`SshConfig::resolve`] ignores entries that fail this check.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in &self.options {
            check_command_line_option(key, value)?;
        }
        Ok(())
    }
}

/// Keywords whose values accumulate rather than first-wins.
fn accumulates(key: &str) -> bool {
    matches!(key, "identityfile" | "certificatefile")
}

/// Quotes a literal value for ssh_config syntax when needed.
fn quote_value(v: &str) -> String {
    let plain = !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '#'));
    if plain {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Parses Ansible's `ansible_ssh_common_args` / `ansible_ssh_extra_args` /
/// `ansible_ssh_args` (shell-quoted ssh command-line options).
///
/// Returns the `-F` configuration file (last one wins, `~` expanded; `-F none`
/// gives `none`, which [`SshConfig::load`] reads as an empty configuration)
/// and the options in command-line order. Understood: `-F`, `-o Key=Value` /
/// `-oKey=Value` / `-o "Key Value"`, `-J`, `-i`, `-p`, `-l`, `-P tag`.
/// Accepted and ignored: `-4 -6 -q -v -C -T -t -A -a -x -X -Y -k -g` and
/// `-c -m -b -B -E -S -e` with their argument; flags may be bundled
/// (`-4Cq`, `-p22`). `-o` keywords with no meaning for hoist (ControlMaster,
/// ControlPersist, ControlPath, ForwardAgent, Compression, LogLevel, …) are
/// accepted and kept (resolution ignores them). Errors: `ProxyCommand` other
/// than `none` ("ProxyCommand is not supported; use ProxyJump"), unknown
/// keywords, invalid values, a second `-J`, any other option (port
/// forwarding, `-W`, …) and non-option words.
pub fn parse_ssh_args(args: &str) -> Result<(Option<PathBuf>, Overrides), String> {
    let words =
        shlex::split(args).ok_or_else(|| format!("unbalanced quotes in ssh arguments: {args}"))?;
    let mut config = None;
    let mut overrides = Overrides::default();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        let Some(cluster) = word
            .strip_prefix('-')
            .filter(|c| !c.is_empty() && *c != "-")
        else {
            return Err(format!(
                "unexpected argument '{word}' in ssh arguments (only ssh options are allowed)"
            ));
        };
        for (pos, opt) in cluster.char_indices() {
            match opt {
                '4' | '6' | 'q' | 'v' | 'C' | 'T' | 't' | 'A' | 'a' | 'x' | 'X' | 'Y' | 'k'
                | 'g' => continue,
                'F' | 'o' | 'J' | 'i' | 'p' | 'l' | 'P' | 'c' | 'm' | 'b' | 'B' | 'E' | 'S'
                | 'e' => {}
                'L' | 'R' | 'D' => {
                    return Err(format!(
                        "ssh option -{opt}: port forwarding is not supported by hoist"
                    ));
                }
                _ => return Err(format!("unsupported ssh option -{opt}")),
            }
            let rest = &cluster[pos + opt.len_utf8()..];
            let value = if !rest.is_empty() {
                rest.to_string()
            } else if i < words.len() {
                i += 1;
                words[i - 1].clone()
            } else {
                return Err(format!("ssh option -{opt} requires an argument"));
            };
            match opt {
                'F' => config = Some(PathBuf::from(tilde_expand(&value, &home_dir()))),
                'o' => {
                    let (key, rest) = split_keyword(&value)
                        .ok_or_else(|| format!("ssh option -o needs Key=Value, got '{value}'"))?;
                    let key = key.to_ascii_lowercase();
                    check_command_line_option(&key, rest)?;
                    overrides.options.push((key, rest.to_string()));
                }
                'J' => {
                    if overrides.options.iter().any(|(k, _)| k == "proxyjump") {
                        return Err("only a single -J option is permitted".into());
                    }
                    if overrides.options.iter().any(|(k, _)| k == "proxycommand") {
                        return Err("cannot specify -J with ProxyCommand".into());
                    }
                    parse_proxy_jump(&value).map_err(|e| format!("ssh option -J: {e}"))?;
                    overrides.push("proxyjump", &value);
                }
                'i' => {
                    overrides.push("identityfile", &value);
                }
                'p' => {
                    parse_port(&value).map_err(|e| format!("ssh option -p: {e}"))?;
                    overrides.push("port", &value);
                }
                'l' => {
                    overrides.push("user", &value);
                }
                'P' => {
                    overrides.push("tag", &value);
                }
                _ => {} // accepted, no meaning for hoist
            }
            break;
        }
    }
    Ok((config, overrides))
}

/// Checks one command-line option (`-o key value`).
fn check_command_line_option(key: &str, value: &str) -> Result<(), String> {
    match key {
        "host" | "match" | "include" => {
            return Err(format!("{key} is not allowed as a command-line option"));
        }
        "proxycommand" => {
            let args = split_args(value).unwrap_or_default();
            if args.len() == 1 && args[0].eq_ignore_ascii_case("none") {
                return Ok(());
            }
            return Err("ProxyCommand is not supported; use ProxyJump".into());
        }
        _ => {}
    }
    if !is_known_keyword(key) {
        let suggestion = keyword_suggestion(key);
        return Err(format!("unknown ssh option '{key}'{suggestion}"));
    }
    let args = split_args(value).map_err(|e| format!("ssh option {key}: {e}"))?;
    check_directive(key, &args).map_err(|e| format!("ssh option {key}: {e}"))
}

/// ` (did you mean HostName?)` for a keyword (lowercase) close to a known
/// one; empty otherwise, and for anything too long to be a typo.
fn keyword_suggestion(key: &str) -> String {
    KNOWN_KEYWORDS
        .iter()
        .filter(|_| key.len() <= 100)
        .map(|k| (strsim::jaro_winkler(k, key), *k))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean {k}?)"))
        .unwrap_or_default()
}

/// A configuration file's text; one that is not UTF-8 is refused with the
/// place of its first bad byte (`file:line:col`).
fn utf8_text(path: &Path, bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let d =
            crate::yaml::utf8_diagnostic(&path.display().to_string(), e.as_bytes(), e.utf8_error());
        match d.span {
            Some(span) => format!("{span}: {}", d.message),
            None => d.message,
        }
    })
}

/// The local facts tokens and `~` refer to.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalEnv {
    pub user: String,
    pub uid: u32,
    pub home: PathBuf,
    /// Fully qualified local host name (`%l`); `%L` is its first label.
    pub hostname: String,
}

impl LocalEnv {
    /// The running user (`$HOME` for the home directory).
    pub fn current() -> LocalEnv {
        let uid = nix::unistd::getuid();
        let pw = nix::unistd::User::from_uid(uid).ok().flatten();
        let user = pw
            .as_ref()
            .map(|p| p.name.clone())
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| uid.to_string());
        let hostname = ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_string())
            .find(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        LocalEnv {
            user,
            uid: uid.as_raw(),
            home: home_dir(),
            hostname,
        }
    }
}

/// `$HOME`, else the password database, else `/`.
fn home_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|p| p.dir)
        .unwrap_or_else(|| PathBuf::from("/"))
}

#[derive(Clone, Debug)]
enum Item {
    Host(Vec<(bool, String)>),
    Match(Vec<Criterion>),
    /// The included files, each as its items.
    Include(Vec<Vec<Item>>),
    Set {
        key: String,
        args: Vec<String>,
        raw: String,
    },
}

#[derive(Clone, Debug)]
struct Criterion {
    negated: bool,
    kind: CritKind,
}

#[derive(Clone, Debug)]
enum CritKind {
    All,
    Canonical,
    Final,
    Host(String),
    OriginalHost(String),
    User(String),
    LocalUser(String),
    Tagged(String),
    /// exec, localnetwork, version, sessiontype, command: never matches.
    Unsupported,
}

/// A parsed set of ssh_config files.
#[derive(Clone, Debug, Default)]
pub struct SshConfig {
    /// Every file read (main files and includes), for messages.
    files: Vec<PathBuf>,
    /// The main files in reading order, each as its items.
    roots: Vec<Vec<Item>>,
    warnings: Vec<String>,
}

impl SshConfig {
    /// No configuration at all: every value is a default or an override.
    pub fn empty() -> SshConfig {
        SshConfig::default()
    }

    /// Reads a user configuration file (`~/.ssh/config` or ssh's `-F FILE`):
    /// relative `Include`s are looked up in `~/.ssh`. A missing file is an
    /// error; the name `none` (ssh's `-F none`) gives an empty configuration.
    pub fn load(path: &Path) -> Result<SshConfig, String> {
        if path == Path::new("none") {
            return Ok(SshConfig::empty());
        }
        let mut cfg = SshConfig::default();
        cfg.add_file(path, &home_dir().join(".ssh"), false)?;
        Ok(cfg)
    }

    /// Reads a system-wide file (`/etc/ssh/ssh_config`): relative `Include`s
    /// are looked up in `/etc/ssh`.
    pub fn load_system(path: &Path) -> Result<SshConfig, String> {
        let mut cfg = SshConfig::default();
        cfg.add_file(path, Path::new("/etc/ssh"), false)?;
        Ok(cfg)
    }

    /// What ssh reads without `-F`: `~/.ssh/config` (if present; it must not
    /// be writable by others) and then `/etc/ssh/ssh_config` (if present).
    pub fn load_default() -> Result<SshConfig, String> {
        let mut cfg = SshConfig::default();
        let user = home_dir().join(".ssh").join("config");
        if user.exists() {
            cfg.add_file(&user, &home_dir().join(".ssh"), true)?;
        }
        let system = Path::new("/etc/ssh/ssh_config");
        if system.exists() {
            cfg.add_file(system, Path::new("/etc/ssh"), false)?;
        }
        Ok(cfg)
    }

    /// Parses configuration text; `origin` names it in messages. Relative
    /// `Include`s are looked up in `~/.ssh`.
    pub fn parse_str(text: &str, origin: &str) -> Result<SshConfig, String> {
        Self::parse_str_with_include_dir(text, origin, &home_dir().join(".ssh"))
    }

    fn parse_str_with_include_dir(
        text: &str,
        origin: &str,
        include_dir: &Path,
    ) -> Result<SshConfig, String> {
        let mut cfg = SshConfig::default();
        cfg.files.push(PathBuf::from(origin));
        let items = cfg.parse_text(text, 0, include_dir, 0)?;
        cfg.roots.push(items);
        Ok(cfg)
    }

    /// Things that were accepted but may not do what the file intends:
    /// unknown keywords, `Match` criteria hoist cannot evaluate (`file:line:
    /// ...`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Appends a file after those already read (its values have lower
    /// priority).
    fn add_file(
        &mut self,
        path: &Path,
        include_dir: &Path,
        check_perms: bool,
    ) -> Result<(), String> {
        if check_perms {
            check_permissions(path)?;
        }
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let text = utf8_text(path, bytes)?;
        let idx = self.files.len();
        self.files.push(path.to_path_buf());
        let items = self.parse_text(&text, idx, include_dir, 0)?;
        self.roots.push(items);
        Ok(())
    }

    fn parse_text(
        &mut self,
        text: &str,
        file: usize,
        include_dir: &Path,
        depth: usize,
    ) -> Result<Vec<Item>, String> {
        let mut items = Vec::new();
        let fname = self.files[file].display().to_string();
        for (n, line) in text.lines().enumerate() {
            let at = |msg: String| format!("{fname}:{}: {msg}", n + 1);
            let Some((keyword, rest)) = split_keyword(line) else {
                continue;
            };
            if keyword.is_empty() {
                return Err(at("missing keyword before '='".into()));
            }
            let key = keyword.to_ascii_lowercase();
            let args = split_args(rest).map_err(at)?;
            match key.as_str() {
                "host" => {
                    if args.is_empty() {
                        return Err(at("Host needs at least one pattern".into()));
                    }
                    let patterns = args
                        .iter()
                        .map(|a| match a.strip_prefix('!') {
                            Some(p) => (true, p.to_string()),
                            None => (false, a.clone()),
                        })
                        .collect();
                    items.push(Item::Host(patterns));
                }
                "match" => {
                    let (criteria, unsupported) = parse_match(&args).map_err(at)?;
                    if let Some(what) = unsupported {
                        let w = at(format!(
                            "Match {what} is not supported by hoist; this Match block never applies"
                        ));
                        self.warnings.push(w);
                    }
                    items.push(Item::Match(criteria));
                }
                "include" => {
                    if args.is_empty() {
                        return Err(at("Include needs at least one file".into()));
                    }
                    if depth + 1 > MAX_INCLUDE_DEPTH {
                        return Err(at("too many recursive configuration includes".into()));
                    }
                    let mut included = Vec::new();
                    for arg in &args {
                        let expanded = tilde_expand(arg, &home_dir());
                        let pattern = if expanded.starts_with('/') {
                            PathBuf::from(expanded)
                        } else {
                            include_dir.join(expanded)
                        };
                        for path in glob(&pattern) {
                            check_permissions(&path).map_err(at)?;
                            let text = match std::fs::read(&path) {
                                Ok(t) => utf8_text(&path, t)?,
                                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                                Err(e) => {
                                    return Err(at(format!(
                                        "cannot read included file {}: {e}",
                                        path.display()
                                    )));
                                }
                            };
                            let idx = self.files.len();
                            self.files.push(path.clone());
                            included.push(self.parse_text(&text, idx, include_dir, depth + 1)?);
                        }
                    }
                    items.push(Item::Include(included));
                }
                _ => {
                    if !is_known_keyword(&key) {
                        self.warnings.push(at(format!(
                            "unknown keyword '{keyword}' ignored{}",
                            keyword_suggestion(&key)
                        )));
                    }
                    check_directive(&key, &args).map_err(at)?;
                    items.push(Item::Set {
                        key,
                        args,
                        raw: rest.to_string(),
                    });
                }
            }
        }
        Ok(items)
    }

    /// Resolves `alias` as `ssh alias` would, with `overrides` as its
    /// command-line options.
    pub fn resolve(&self, alias: &str, overrides: &Overrides) -> SshTarget {
        self.resolve_with_env(alias, overrides, &LocalEnv::current())
    }

    /// [`SshConfig::resolve`] with explicit local facts (user, home, host
    /// name) for `~`, `%u`, `%d`, `%l`, `Match localuser`.
    pub fn resolve_with_env(
        &self,
        alias: &str,
        overrides: &Overrides,
        env: &LocalEnv,
    ) -> SshTarget {
        let mut ob = Obtained::default();
        for (key, value) in &overrides.options {
            if check_command_line_option(key, value).is_err() {
                continue;
            }
            if let Ok(args) = split_args(value) {
                ob.apply(key, &args, value);
            }
        }
        let mut pass = Pass {
            host: alias.to_string(),
            original: alias,
            post_canon: false,
            env,
        };
        for root in &self.roots {
            self.eval(root, true, false, &pass, &mut ob);
        }
        if ob.want_final {
            let host = final_hostname(&ob, alias);
            ob.first.insert("hostname".into(), vec![host.clone()]);
            pass.host = host;
            pass.post_canon = true;
            for root in &self.roots {
                self.eval(root, true, false, &pass, &mut ob);
            }
        }
        ob.build(alias, env)
    }

    /// Walks one file's items. `active`: the including block applies;
    /// `never_match`: OpenSSH's SSHCONF_NEVERMATCH (inside an `Include` from
    /// a block that does not apply).
    fn eval(
        &self,
        items: &[Item],
        active: bool,
        never_match: bool,
        pass: &Pass,
        ob: &mut Obtained,
    ) {
        let mut active = active;
        for item in items {
            match item {
                Item::Host(patterns) => {
                    active = !never_match && host_patterns_match(patterns, &pass.host);
                }
                Item::Match(criteria) => {
                    let m = eval_match(criteria, pass, ob);
                    active = !never_match && m;
                }
                Item::Include(files) => {
                    for f in files {
                        self.eval(f, active, never_match || !active, pass, ob);
                    }
                }
                Item::Set { key, args, raw } => {
                    if active {
                        ob.apply(key, args, raw);
                    }
                }
            }
        }
    }
}

/// One reading of the files.
struct Pass<'a> {
    /// What `Host` patterns match: the name as given, or in the final pass
    /// the resolved host name.
    host: String,
    /// The name as given (`Match originalhost`, `%n`).
    original: &'a str,
    /// The final pass (`Match canonical`/`final` are true).
    post_canon: bool,
    env: &'a LocalEnv,
}

/// The values obtained so far.
#[derive(Default)]
struct Obtained {
    /// First-wins keywords → their arguments.
    first: HashMap<String, Vec<String>>,
    identity_files: Vec<String>,
    certificate_files: Vec<String>,
    proxy: Option<Proxy>,
    want_final: bool,
}

enum Proxy {
    Jump(String),
    Command(String),
}

impl Obtained {
    fn apply(&mut self, key: &str, args: &[String], raw: &str) {
        let Some(first) = args.first() else {
            return;
        };
        match key {
            "identityfile" => {
                if !self.identity_files.contains(first)
                    && self.identity_files.len() < MAX_IDENTITY_FILES
                {
                    self.identity_files.push(first.clone());
                }
            }
            "certificatefile" => {
                if !self.certificate_files.contains(first) {
                    self.certificate_files.push(first.clone());
                }
            }
            "proxyjump" => {
                if self.proxy.is_none() {
                    self.proxy = Some(Proxy::Jump(first.clone()));
                }
            }
            "proxycommand" => {
                if self.proxy.is_none() {
                    let cmd = if args.len() == 1 && first.eq_ignore_ascii_case("none") {
                        "none".to_string()
                    } else {
                        raw.trim().to_string()
                    };
                    self.proxy = Some(Proxy::Command(cmd));
                }
            }
            _ => {
                self.first
                    .entry(key.to_string())
                    .or_insert_with(|| args.to_vec());
            }
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.first
            .get(key)
            .and_then(|a| a.first())
            .map(String::as_str)
    }

    fn build(self, alias: &str, env: &LocalEnv) -> SshTarget {
        let hostname = final_hostname(&self, alias);
        let port = self
            .get("port")
            .and_then(|p| parse_port(p).ok())
            .unwrap_or(22);
        let user = self.get("user").map(str::to_string);
        let ruser = user.clone().unwrap_or_else(|| env.user.clone());
        let host_key_alias = self.get("hostkeyalias").map(str::to_ascii_lowercase);
        let tokens = Tokens {
            hostname: &hostname,
            original: alias,
            port,
            ruser: &ruser,
            key_alias: host_key_alias.as_deref().unwrap_or(alias),
            env,
        };
        let file_tokens = "%CdhikLlnpru";

        let identity_files = if self.identity_files.is_empty() {
            [
                "id_rsa",
                "id_ecdsa",
                "id_ecdsa_sk",
                "id_ed25519",
                "id_ed25519_sk",
            ]
            .iter()
            .map(|f| env.home.join(".ssh").join(f))
            .collect()
        } else {
            self.identity_files
                .iter()
                .filter_map(|f| expand_path(f, file_tokens, &tokens))
                .collect()
        };

        let known_hosts_files = match self.first.get("userknownhostsfile") {
            Some(args) if args.len() == 1 && args[0].eq_ignore_ascii_case("none") => Vec::new(),
            Some(args) => args
                .iter()
                .filter_map(|f| expand_path(f, file_tokens, &tokens))
                .collect(),
            None => vec![
                env.home.join(".ssh/known_hosts"),
                env.home.join(".ssh/known_hosts2"),
            ],
        };
        let global_known_hosts_files = match self.first.get("globalknownhostsfile") {
            Some(args) if args.len() == 1 && args[0].eq_ignore_ascii_case("none") => Vec::new(),
            Some(args) => args
                .iter()
                .filter_map(|f| expand_path(f, "", &tokens))
                .collect(),
            None => vec![
                PathBuf::from("/etc/ssh/ssh_known_hosts"),
                PathBuf::from("/etc/ssh/ssh_known_hosts2"),
            ],
        };

        let (proxy_jump, proxy_command) = match &self.proxy {
            None => (Vec::new(), None),
            Some(Proxy::Jump(spec)) => {
                let expanded = percent_expand(spec, "hnpr", &tokens);
                // Validated while loading; should tokens make it invalid,
                // keep it as one hop so that connecting fails loudly instead
                // of silently going direct.
                let hops = parse_proxy_jump(&expanded).unwrap_or_else(|_| {
                    vec![JumpHost {
                        user: None,
                        host: expanded.clone(),
                        port: None,
                    }]
                });
                (hops, None)
            }
            Some(Proxy::Command(cmd)) if cmd.eq_ignore_ascii_case("none") => (Vec::new(), None),
            Some(Proxy::Command(cmd)) => (Vec::new(), Some(cmd.clone())),
        };

        let duration = |key: &str| {
            self.get(key)
                .and_then(|v| parse_time(v).ok().flatten())
                .filter(|d| !d.is_zero())
        };

        SshTarget {
            alias: alias.to_string(),
            hostname: hostname.clone(),
            port,
            user,
            identity_files,
            identities_only: self.get("identitiesonly").map(is_yes).unwrap_or(false),
            proxy_jump,
            known_hosts_files,
            strict_host_key_checking: self
                .get("stricthostkeychecking")
                .and_then(|v| parse_strict(v).ok()),
            connect_timeout: duration("connecttimeout"),
            server_alive_interval: duration("serveraliveinterval"),
            server_alive_count_max: self.get("serveralivecountmax").and_then(|v| v.parse().ok()),
            host_key_alias,
            global_known_hosts_files,
            hash_known_hosts: self.get("hashknownhosts").map(is_yes).unwrap_or(false),
            proxy_command,
        }
    }
}

/// `HostName` with `%h` expanded (or the alias), lower-cased unless it is an
/// address — what ssh connects to.
fn final_hostname(ob: &Obtained, alias: &str) -> String {
    let host = match ob.get("hostname") {
        Some(h) => expand_hostname(h, alias),
        None => alias.to_string(),
    };
    if host.parse::<IpAddr>().is_ok() {
        host
    } else {
        host.to_ascii_lowercase()
    }
}

fn expand_hostname(value: &str, host: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(host),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

fn is_yes(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "yes" | "true")
}

/// What tokens expand to.
struct Tokens<'a> {
    hostname: &'a str,
    original: &'a str,
    port: u16,
    ruser: &'a str,
    key_alias: &'a str,
    env: &'a LocalEnv,
}

/// Expands the `%x` tokens whose letters are in `allowed` (and `%%`);
/// others stay as written.
fn percent_expand(s: &str, allowed: &str, t: &Tokens) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(tok) = chars.next() else {
            out.push('%');
            break;
        };
        if tok == '%' {
            out.push('%');
            continue;
        }
        if !allowed.contains(tok) {
            out.push('%');
            out.push(tok);
            continue;
        }
        let short_host = t.env.hostname.split('.').next().unwrap_or("");
        match tok {
            'C' => {
                let mut h = Sha1::new();
                h.update(t.env.hostname.as_bytes());
                h.update(t.hostname.as_bytes());
                h.update(t.port.to_string().as_bytes());
                h.update(t.ruser.as_bytes());
                for b in h.finalize() {
                    out.push_str(&format!("{b:02x}"));
                }
            }
            'd' => out.push_str(&t.env.home.to_string_lossy()),
            'h' => out.push_str(t.hostname),
            'i' => out.push_str(&t.env.uid.to_string()),
            'k' => out.push_str(t.key_alias),
            'L' => out.push_str(short_host),
            'l' => out.push_str(&t.env.hostname),
            'n' => out.push_str(t.original),
            'p' => out.push_str(&t.port.to_string()),
            'r' => out.push_str(t.ruser),
            'u' => out.push_str(&t.env.user),
            _ => {
                out.push('%');
                out.push(tok);
            }
        }
    }
    out
}

/// `~` expansion, then tokens, then `${VAR}`; `None` when a variable is
/// not set (ssh then ignores the setting).
fn expand_path(s: &str, allowed: &str, t: &Tokens) -> Option<PathBuf> {
    let s = tilde_expand(s, &t.env.home);
    let s = percent_expand(&s, allowed, t);
    env_expand(&s).map(PathBuf::from)
}

/// `${VAR}` expansion; `None` when a variable is not set.
fn env_expand(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[pos..]);
            return Some(out);
        };
        out.push_str(&std::env::var(&after[..end]).ok()?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// `~` and `~/x` → home; `~user/x` → that user's home (unchanged when the
/// user is unknown).
fn tilde_expand(s: &str, home: &Path) -> String {
    let Some(rest) = s.strip_prefix('~') else {
        return s.to_string();
    };
    let (user, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let dir = if user.is_empty() {
        home.to_path_buf()
    } else {
        match nix::unistd::User::from_name(user).ok().flatten() {
            Some(pw) => pw.dir,
            None => return s.to_string(),
        }
    };
    let dir = dir.to_string_lossy();
    let dir = dir.trim_end_matches('/');
    if tail.is_empty() {
        if dir.is_empty() {
            "/".to_string()
        } else {
            dir.to_string()
        }
    } else {
        format!("{dir}{tail}")
    }
}

/// ssh's rule for configuration files: owned by the user or root, not
/// writable by group or others.
fn check_permissions(path: &Path) -> Result<(), String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(()); // reading reports it
    };
    let uid = nix::unistd::getuid().as_raw();
    if (meta.uid() != 0 && meta.uid() != uid) || meta.mode() & 0o022 != 0 {
        return Err(format!("bad owner or permissions on {}", path.display()));
    }
    Ok(())
}

/// `Host` line: at least one positive pattern matches and no negated one.
fn host_patterns_match(patterns: &[(bool, String)], host: &str) -> bool {
    let mut matched = false;
    for (negated, pattern) in patterns {
        if wildmatch(pattern, host) {
            if *negated {
                return false;
            }
            matched = true;
        }
    }
    matched
}

/// OpenSSH's `match_pattern_list`: comma-separated patterns, `!` negates;
/// 1 = a positive match, 0 = none, -1 = a negated pattern matched.
fn match_pattern_list(s: &str, list: &str, case_insensitive: bool) -> i8 {
    let s = if case_insensitive {
        s.to_ascii_lowercase()
    } else {
        s.to_string()
    };
    let mut got = 0;
    for sub in list.split(',') {
        let (negated, pat) = match sub.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, sub),
        };
        let pat = if case_insensitive {
            pat.to_ascii_lowercase()
        } else {
            pat.to_string()
        };
        if wildmatch(&pat, &s) {
            if negated {
                return -1;
            }
            got = 1;
        }
    }
    got
}

/// ssh's glob: `*` any sequence, `?` one character; no classes.
pub(crate) fn wildmatch(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Parses `Match` arguments; also returns the first criterion hoist cannot
/// evaluate, for a warning.
fn parse_match(args: &[String]) -> Result<(Vec<Criterion>, Option<String>), String> {
    if args.is_empty() {
        return Err("Match needs at least one criterion".into());
    }
    let mut criteria = Vec::new();
    let mut unsupported = None;
    let mut i = 0;
    while i < args.len() {
        let (negated, name) = match args[i].strip_prefix('!') {
            Some(n) => (true, n.to_ascii_lowercase()),
            None => (false, args[i].to_ascii_lowercase()),
        };
        i += 1;
        let kind = match name.as_str() {
            "all" => CritKind::All,
            "canonical" => CritKind::Canonical,
            "final" => CritKind::Final,
            "host" | "originalhost" | "user" | "localuser" | "tagged" | "exec" | "localnetwork"
            | "version" | "sessiontype" | "command" => {
                let Some(arg) = args.get(i) else {
                    return Err(format!("Match {name} needs an argument"));
                };
                i += 1;
                let arg = arg.clone();
                match name.as_str() {
                    "host" => CritKind::Host(arg),
                    "originalhost" => CritKind::OriginalHost(arg),
                    "user" => CritKind::User(arg),
                    "localuser" => CritKind::LocalUser(arg),
                    "tagged" => CritKind::Tagged(arg),
                    _ => {
                        unsupported.get_or_insert(name.clone());
                        CritKind::Unsupported
                    }
                }
            }
            _ => return Err(format!("unsupported Match criterion '{}'", args[i - 1])),
        };
        criteria.push(Criterion { negated, kind });
    }
    let has_all = criteria.iter().any(|c| matches!(c.kind, CritKind::All));
    if has_all {
        let others_ok = criteria.iter().all(|c| {
            matches!(
                c.kind,
                CritKind::All | CritKind::Canonical | CritKind::Final
            )
        });
        if !others_ok
            || criteria
                .iter()
                .filter(|c| matches!(c.kind, CritKind::All))
                .count()
                > 1
        {
            return Err("'all' cannot be combined with other Match criteria".into());
        }
        if criteria
            .iter()
            .any(|c| matches!(c.kind, CritKind::All) && c.negated)
        {
            return Err("'all' cannot be negated".into());
        }
    }
    Ok((criteria, unsupported))
}

/// Evaluates a `Match` line with the values obtained so far. Every
/// criterion is evaluated (a `final` anywhere requests the final pass).
fn eval_match(criteria: &[Criterion], pass: &Pass, ob: &mut Obtained) -> bool {
    let mut result = true;
    for c in criteria {
        let r = match &c.kind {
            CritKind::All => true,
            CritKind::Canonical => pass.post_canon,
            CritKind::Final => {
                if !pass.post_canon {
                    ob.want_final = true;
                }
                pass.post_canon
            }
            CritKind::Host(list) => {
                let host = match ob.get("hostname") {
                    Some(h) => expand_hostname(h, &pass.host),
                    None => pass.host.clone(),
                };
                match_pattern_list(&host, list, true) == 1
            }
            CritKind::OriginalHost(list) => match_pattern_list(pass.original, list, true) == 1,
            CritKind::User(list) => {
                let user = ob.get("user").unwrap_or(&pass.env.user).to_string();
                match_pattern_list(&user, list, false) == 1
            }
            CritKind::LocalUser(list) => match_pattern_list(&pass.env.user, list, false) == 1,
            CritKind::Tagged(list) => {
                let tag = ob.get("tag").unwrap_or("").to_string();
                match_pattern_list(&tag, list, false) == 1
            }
            CritKind::Unsupported => {
                result = false;
                continue;
            }
        };
        if r == c.negated {
            result = false;
        }
    }
    result
}

/// Splits a configuration line into keyword and the rest (`Key value`,
/// `Key=value`, `Key = value`). `None` for blank and comment lines.
fn split_keyword(line: &str) -> Option<(&str, &str)> {
    let s = line.trim_start();
    if s.is_empty() || s.starts_with('#') {
        return None;
    }
    let end = s
        .find(|c: char| c == '=' || c.is_whitespace())
        .unwrap_or(s.len());
    let key = &s[..end];
    let mut rest = s[end..].trim_start();
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start();
    }
    Some((key, rest.trim_end()))
}

/// Splits arguments as ssh does: whitespace-separated words, `"..."` and
/// `'...'` quoting, `\"`, `\'`, `\\` (and `\ ` outside quotes) escapes, `#`
/// at the start of a word begins a comment.
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() || chars[i] == '#' {
            break;
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            if quote.is_none() && c.is_whitespace() {
                break;
            }
            if c == '\\' && i + 1 < chars.len() {
                let n = chars[i + 1];
                if matches!(n, '\'' | '"' | '\\') || (quote.is_none() && n == ' ') {
                    arg.push(n);
                    i += 2;
                    continue;
                }
            }
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => arg.push(c),
                None if c == '"' || c == '\'' => quote = Some(c),
                None => arg.push(c),
            }
            i += 1;
        }
        if quote.is_some() {
            return Err("unterminated quoted string".into());
        }
        out.push(arg);
    }
    Ok(out)
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("invalid port '{s}'")),
    }
}

/// ssh's time format: `90`, `90s`, `1m30s`, `1h`, `2d`, `1w`; `none` →
/// `None`.
fn parse_time(s: &str) -> Result<Option<Duration>, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let bad = || format!("invalid time value '{s}'");
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let mult = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604800,
            _ => return Err(bad()),
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        total = total
            .checked_add(n.checked_mul(mult).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() {
        let n: u64 = num.parse().map_err(|_| bad())?;
        total = total.checked_add(n).ok_or_else(bad)?;
    }
    Ok(Some(Duration::from_secs(total)))
}

/// Checks the value of a keyword hoist interprets (others are accepted as
/// they are).
fn check_directive(key: &str, args: &[String]) -> Result<(), String> {
    if args.is_empty() {
        return Err(format!("missing argument for {key}"));
    }
    let single = || {
        if args.len() > 1 {
            Err(format!("{key}: unexpected extra argument '{}'", args[1]))
        } else {
            Ok(())
        }
    };
    let v = args[0].as_str();
    match key {
        "port" => {
            single()?;
            parse_port(v)?;
        }
        "connecttimeout" | "serveraliveinterval" => {
            single()?;
            parse_time(v)?;
        }
        "serveralivecountmax" => {
            single()?;
            v.parse::<u32>()
                .map_err(|_| format!("invalid ServerAliveCountMax value '{v}'"))?;
        }
        "stricthostkeychecking" => {
            single()?;
            parse_strict(v)?;
        }
        "identitiesonly" | "hashknownhosts" => {
            single()?;
            if !matches!(
                v.to_ascii_lowercase().as_str(),
                "yes" | "no" | "true" | "false"
            ) {
                return Err(format!("invalid {key} value '{v}' (expected yes or no)"));
            }
        }
        "proxyjump" => {
            single()?;
            parse_proxy_jump(v)?;
        }
        "hostname" | "user" | "hostkeyalias" | "identityfile" | "certificatefile" => {
            single()?;
            if v.is_empty() {
                return Err(format!("empty value for {key}"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Filesystem glob for `Include`: `*`, `?`, `[...]` per path component,
/// results sorted; hidden names only match patterns starting with `.`.
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let has_magic = |s: &str| s.contains(['*', '?', '[']);
    let mut bases = vec![PathBuf::from(if pattern.is_absolute() { "/" } else { "" })];
    for comp in pattern.components() {
        let comp = comp.as_os_str().to_string_lossy();
        if comp == "/" {
            continue;
        }
        if !has_magic(&comp) {
            for b in &mut bases {
                b.push(comp.as_ref());
            }
            continue;
        }
        let mut next = Vec::new();
        for base in &bases {
            let Ok(entries) = std::fs::read_dir(if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base
            }) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with('.') && !comp.starts_with('.') {
                    continue;
                }
                if fnmatch(&comp, &name) {
                    next.push(base.join(&name));
                }
            }
        }
        bases = next;
    }
    let mut found: Vec<PathBuf> = bases.into_iter().filter(|p| p.exists()).collect();
    found.sort();
    found
}

/// Shell-style match of one name: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`.
fn fnmatch(pattern: &str, name: &str) -> bool {
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // p starts after '['; returns (matched, chars consumed incl. ']').
        let mut i = 0;
        let negate = matches!(p.first(), Some('!') | Some('^'));
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        while i < p.len() {
            if p[i] == ']' && !first {
                return Some((matched != negate, i + 1));
            }
            first = false;
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                if p[i] <= c && c <= p[i + 2] {
                    matched = true;
                }
                i += 3;
            } else {
                if p[i] == c {
                    matched = true;
                }
                i += 1;
            }
        }
        None
    }
    fn rec(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|k| rec(&p[1..], &t[k..])),
            Some('?') => !t.is_empty() && rec(&p[1..], &t[1..]),
            Some('[') => {
                if t.is_empty() {
                    return false;
                }
                match class(&p[1..], t[0]) {
                    Some((true, used)) => rec(&p[1 + used..], &t[1..]),
                    Some((false, _)) => false,
                    None => t[0] == '[' && rec(&p[1..], &t[1..]),
                }
            }
            Some(&c) => !t.is_empty() && t[0] == c && rec(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = name.chars().collect();
    rec(&p, &t)
}

fn is_known_keyword(key: &str) -> bool {
    KNOWN_KEYWORDS.contains(&key)
}

/// ssh_config(5) keywords (lower-cased), including deprecated and
/// platform-specific ones that ssh accepts.
const KNOWN_KEYWORDS: &[&str] = &[
    "host",
    "match",
    "include",
    "addkeystoagent",
    "addressfamily",
    "batchmode",
    "bindaddress",
    "bindinterface",
    "canonicaldomains",
    "canonicalizefallbacklocal",
    "canonicalizehostname",
    "canonicalizemaxdots",
    "canonicalizepermittedcnames",
    "casignaturealgorithms",
    "certificatefile",
    "challengeresponseauthentication",
    "channeltimeout",
    "checkhostip",
    "cipher",
    "ciphers",
    "clearallforwardings",
    "compression",
    "compressionlevel",
    "connectionattempts",
    "connecttimeout",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "dsaauthentication",
    "dynamicforward",
    "enableescapecommandline",
    "enablesshkeysign",
    "escapechar",
    "exitonforwardfailure",
    "fallbacktorsh",
    "fingerprinthash",
    "forkafterauthentication",
    "forwardagent",
    "forwardx11",
    "forwardx11timeout",
    "forwardx11trusted",
    "gatewayports",
    "globalknownhostsfile",
    "globalknownhostsfile2",
    "gssapiauthentication",
    "gssapiclientidentity",
    "gssapidelegatecredentials",
    "gssapikeyexchange",
    "gssapirenewalforcesrekey",
    "gssapiserveridentity",
    "gssapitrustdns",
    "gssapikexalgorithms",
    "hashknownhosts",
    "hostbasedacceptedalgorithms",
    "hostbasedauthentication",
    "hostbasedkeytypes",
    "hostkeyalgorithms",
    "hostkeyalias",
    "hostname",
    "identitiesonly",
    "identityagent",
    "identityfile",
    "identityfile2",
    "ignoreunknown",
    "ipqos",
    "kbdinteractiveauthentication",
    "kbdinteractivedevices",
    "keepalive",
    "kexalgorithms",
    "knownhostscommand",
    "localcommand",
    "localforward",
    "loglevel",
    "logverbose",
    "macs",
    "nohostauthenticationforlocalhost",
    "numberofpasswordprompts",
    "obscurekeystroketiming",
    "passwordauthentication",
    "permitlocalcommand",
    "permitremoteopen",
    "pkcs11provider",
    "port",
    "preferredauthentications",
    "protocol",
    "proxycommand",
    "proxyjump",
    "proxyusefdpass",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "pubkeyauthentication",
    "refuseconnection",
    "rekeylimit",
    "remotecommand",
    "remoteforward",
    "requesttty",
    "requiredrsasize",
    "revokedhostkeys",
    "rhostsauthentication",
    "rhostsrsaauthentication",
    "rsaauthentication",
    "securitykeyprovider",
    "sendenv",
    "serveralivecountmax",
    "serveraliveinterval",
    "sessiontype",
    "setenv",
    "skeyauthentication",
    "smartcarddevice",
    "stdinnull",
    "streamlocalbindmask",
    "streamlocalbindunlink",
    "stricthostkeychecking",
    "syslogfacility",
    "tag",
    "tcpkeepalive",
    "tisauthentication",
    "tunnel",
    "tunneldevice",
    "updatehostkeys",
    "usekeychain",
    "useprivilegedport",
    "user",
    "userknownhostsfile",
    "userknownhostsfile2",
    "useroaming",
    "usersh",
    "verifyhostkeydns",
    "versionaddendum",
    "visualhostkey",
    "warnweakcrypto",
    "xauthlocation",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> LocalEnv {
        LocalEnv {
            user: "alice".into(),
            uid: 1000,
            home: PathBuf::from("/home/alice"),
            hostname: "ctl.example.com".into(),
        }
    }

    fn cfg(text: &str) -> SshConfig {
        SshConfig::parse_str_with_include_dir(text, "test_config", Path::new("/nonexistent"))
            .unwrap_or_else(|e| panic!("parse failed: {e}"))
    }

    fn resolve(c: &SshConfig, alias: &str) -> SshTarget {
        c.resolve_with_env(alias, &Overrides::default(), &env())
    }

    fn err(text: &str) -> String {
        SshConfig::parse_str_with_include_dir(text, "test_config", Path::new("/nonexistent"))
            .expect_err("expected a parse error")
    }

    #[test]
    fn defaults_without_config() {
        let t =
            SshConfig::empty().resolve_with_env("Web1.Example.COM", &Overrides::default(), &env());
        assert_eq!(t.alias, "Web1.Example.COM");
        assert_eq!(t.hostname, "web1.example.com");
        assert_eq!(t.port, 22);
        assert_eq!(t.user, None);
        assert!(!t.identities_only);
        assert!(t.proxy_jump.is_empty());
        assert_eq!(t.proxy_command, None);
        assert_eq!(
            t.identity_files,
            [
                "id_rsa",
                "id_ecdsa",
                "id_ecdsa_sk",
                "id_ed25519",
                "id_ed25519_sk"
            ]
            .iter()
            .map(|f| PathBuf::from("/home/alice/.ssh").join(f))
            .collect::<Vec<_>>()
        );
        assert_eq!(
            t.known_hosts_files,
            vec![
                PathBuf::from("/home/alice/.ssh/known_hosts"),
                PathBuf::from("/home/alice/.ssh/known_hosts2")
            ]
        );
        assert_eq!(
            t.global_known_hosts_files,
            vec![
                PathBuf::from("/etc/ssh/ssh_known_hosts"),
                PathBuf::from("/etc/ssh/ssh_known_hosts2")
            ]
        );
        assert_eq!(t.strict_host_key_checking, None);
        assert_eq!(t.connect_timeout, None);
        assert_eq!(t.server_alive_interval, None);
        assert_eq!(t.server_alive_count_max, None);
        assert_eq!(t.host_key_name(), ("web1.example.com", 22));
        // IP addresses keep their case.
        let t = SshConfig::empty().resolve_with_env("FE80::1", &Overrides::default(), &env());
        assert_eq!(t.hostname, "FE80::1");
    }

    #[test]
    fn first_value_wins_and_host_star_supplies_defaults() {
        let c = cfg("
# comment
Host web1
    HostName 10.0.0.1
    Port 2201
Host web*
    Port 2299
    User webadmin
Host *
    User nobody
    Port 22
    ConnectTimeout 7
    StrictHostKeyChecking accept-new
");
        let t = resolve(&c, "web1");
        assert_eq!(t.hostname, "10.0.0.1");
        assert_eq!(t.port, 2201);
        assert_eq!(t.user.as_deref(), Some("webadmin"));
        assert_eq!(t.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(t.strict_host_key_checking, Some(StrictMode::AcceptNew));

        let t = resolve(&c, "web2");
        assert_eq!(t.hostname, "web2");
        assert_eq!(t.port, 2299);
        assert_eq!(t.user.as_deref(), Some("webadmin"));

        let t = resolve(&c, "db");
        assert_eq!(t.port, 22);
        assert_eq!(t.user.as_deref(), Some("nobody"));
    }

    #[test]
    fn host_star_first_overrides_everything() {
        // Defaults placed first win, as in OpenSSH.
        let c = cfg("Host *\n  Port 1\nHost web\n  Port 2\n");
        assert_eq!(resolve(&c, "web").port, 1);
    }

    #[test]
    fn syntax_variants() {
        let c = cfg("
HOST one two   # trailing comment
\tport=2222
  USER = \"bob smith\"
  IdentityFile '/keys/my key'
  identityfile /keys/k\\ 2
  HostName   \"real.example.com\"   # another comment
  ServerAliveInterval 1m30s
  ServerAliveCountMax 5
  IdentitiesOnly yes
  SomeUnknownKeyword whatever
");
        let t = resolve(&c, "two");
        assert_eq!(t.port, 2222);
        assert_eq!(t.user.as_deref(), Some("bob smith"));
        assert_eq!(t.hostname, "real.example.com");
        assert_eq!(
            t.identity_files,
            vec![PathBuf::from("/keys/my key"), PathBuf::from("/keys/k 2")]
        );
        assert_eq!(t.server_alive_interval, Some(Duration::from_secs(90)));
        assert_eq!(t.server_alive_count_max, Some(5));
        assert!(t.identities_only);
        assert_eq!(c.warnings().len(), 1);
        assert!(
            c.warnings()[0].contains("test_config:11")
                && c.warnings()[0].contains("SomeUnknownKeyword"),
            "{:?}",
            c.warnings()
        );
        // `one` matches too (several patterns on a Host line).
        assert_eq!(resolve(&c, "one").port, 2222);
        assert_eq!(resolve(&c, "three").port, 22);
    }

    #[test]
    fn host_patterns_negation_and_wildcards() {
        let c = cfg("
Host *.example.com !bastion.example.com
    User internal
Host !*.example.com
    User never
Host db? 10.0.*.*
    Port 5432
");
        assert_eq!(
            resolve(&c, "web.example.com").user.as_deref(),
            Some("internal")
        );
        assert_eq!(resolve(&c, "bastion.example.com").user, None);
        // Only a negated pattern: never matches.
        assert_eq!(resolve(&c, "other").user, None);
        assert_eq!(resolve(&c, "db1").port, 5432);
        assert_eq!(resolve(&c, "db12").port, 22);
        assert_eq!(resolve(&c, "10.0.3.4").port, 5432);
        // Host patterns are case-sensitive (OpenSSH match_pattern).
        assert_eq!(resolve(&c, "DB1").port, 22);
    }

    #[test]
    fn wildmatch_cases() {
        assert!(wildmatch("*", ""));
        assert!(wildmatch("a*b*c", "aXXbYYc"));
        assert!(!wildmatch("a*b*c", "aXXbYY"));
        assert!(wildmatch("a?c", "abc"));
        assert!(!wildmatch("a?c", "ac"));
        assert!(wildmatch("**x", "abx"));
        assert_eq!(
            match_pattern_list("web.EXAMPLE.com", "*.example.com,!db*", true),
            1
        );
        assert_eq!(
            match_pattern_list("db.example.com", "*.example.com,!db*", true),
            -1
        );
        assert_eq!(match_pattern_list("x", "a,b", true), 0);
    }

    #[test]
    fn identity_files_accumulate_and_tokens_expand() {
        let c = cfg("
Host web
    HostName Web.Example.com
    User deploy
    Port 2200
    IdentityFile ~/.ssh/%h_%r_%p
    IdentityFile %d/keys/%u-%n-%%.pem
    IdentityFile ~/.ssh/%h_%r_%p
    UserKnownHostsFile ~/.ssh/kh_%h /etc/kh_all
    HostKeyAlias WebAlias
Host *
    IdentityFile /shared/%L_%l_%i_%k
");
        let mut o = Overrides::default();
        o.push("identityfile", "/from/cmdline");
        let t = c.resolve_with_env("web", &o, &env());
        assert_eq!(t.hostname, "web.example.com");
        assert_eq!(
            t.identity_files,
            vec![
                PathBuf::from("/from/cmdline"),
                PathBuf::from("/home/alice/.ssh/web.example.com_deploy_2200"),
                PathBuf::from("/home/alice/keys/alice-web-%.pem"),
                PathBuf::from("/shared/ctl_ctl.example.com_1000_webalias"),
            ]
        );
        assert_eq!(
            t.known_hosts_files,
            vec![
                PathBuf::from("/home/alice/.ssh/kh_web.example.com"),
                PathBuf::from("/etc/kh_all")
            ]
        );
        assert_eq!(t.host_key_alias.as_deref(), Some("webalias"));
        assert_eq!(t.host_key_name(), ("webalias", 22));

        // %r without a configured user is the local user.
        let c = cfg("IdentityFile /k/%r\nHostName %h.internal\n");
        let t = resolve(&c, "app");
        assert_eq!(t.identity_files, vec![PathBuf::from("/k/alice")]);
        assert_eq!(t.hostname, "app.internal");
        assert_eq!(t.host_key_name(), ("app.internal", 22));
    }

    #[test]
    fn connection_hash_token() {
        let c = cfg("IdentityFile /c/%C\n");
        let t = resolve(&c, "h");
        let mut hasher = Sha1::new();
        hasher.update(b"ctl.example.comh22alice");
        let hex: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(t.identity_files, vec![PathBuf::from(format!("/c/{hex}"))]);
    }

    #[test]
    fn env_vars_in_paths() {
        let c = cfg("IdentityFile ${HOIST_SURELY_UNSET_VAR_42}/k\nIdentityFile /k2\n");
        let t = resolve(&c, "h");
        // The path naming a missing variable is dropped.
        assert_eq!(t.identity_files, vec![PathBuf::from("/k2")]);
        assert_eq!(
            env_expand("a${PATH}b").unwrap(),
            format!("a{}b", std::env::var("PATH").unwrap())
        );
        assert_eq!(env_expand("a${unterminated").unwrap(), "a${unterminated");
    }

    #[test]
    fn known_hosts_none_and_options() {
        let c = cfg("UserKnownHostsFile none\nGlobalKnownHostsFile /g1 /g2\nHashKnownHosts yes\n");
        let t = resolve(&c, "h");
        assert!(t.known_hosts_files.is_empty());
        assert_eq!(
            t.global_known_hosts_files,
            vec![PathBuf::from("/g1"), PathBuf::from("/g2")]
        );
        assert!(t.hash_known_hosts);
        assert_eq!(
            t.all_known_hosts_files(),
            vec![PathBuf::from("/g1"), PathBuf::from("/g2")]
        );
    }

    #[test]
    fn strict_modes_and_times() {
        for (v, m) in [
            ("yes", StrictMode::Yes),
            ("ask", StrictMode::Yes),
            ("accept-new", StrictMode::AcceptNew),
            ("no", StrictMode::No),
            ("off", StrictMode::No),
            ("Off", StrictMode::No),
        ] {
            let c = cfg(&format!("StrictHostKeyChecking {v}\n"));
            assert_eq!(resolve(&c, "h").strict_host_key_checking, Some(m), "{v}");
        }
        assert_eq!(parse_time("10").unwrap(), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_time("1h2m3s").unwrap(),
            Some(Duration::from_secs(3723))
        );
        assert_eq!(parse_time("1W").unwrap(), Some(Duration::from_secs(604800)));
        assert_eq!(parse_time("none").unwrap(), None);
        assert!(parse_time("10x").is_err());
        assert!(parse_time("m").is_err());
        // 0 disables.
        let c = cfg("ConnectTimeout 0\nServerAliveInterval 0\n");
        let t = resolve(&c, "h");
        assert_eq!(t.connect_timeout, None);
        assert_eq!(t.server_alive_interval, None);
    }

    #[test]
    fn proxy_jump_chains_and_none() {
        let c = cfg("
Host inner
    ProxyJump alice@gw1:2222,ssh://bob@gw2:2200/,[fe80::1]:2022,gw4
Host direct
    ProxyJump none
Host *
    ProxyJump default-gw
");
        let t = resolve(&c, "inner");
        assert_eq!(
            t.proxy_jump,
            vec![
                JumpHost {
                    user: Some("alice".into()),
                    host: "gw1".into(),
                    port: Some(2222)
                },
                JumpHost {
                    user: Some("bob".into()),
                    host: "gw2".into(),
                    port: Some(2200)
                },
                JumpHost {
                    user: None,
                    host: "fe80::1".into(),
                    port: Some(2022)
                },
                JumpHost {
                    user: None,
                    host: "gw4".into(),
                    port: None
                },
            ]
        );
        assert_eq!(t.proxy_jump[2].to_string(), "[fe80::1]:2022");
        assert_eq!(t.proxy_jump[0].to_string(), "alice@gw1:2222");
        assert!(resolve(&c, "direct").proxy_jump.is_empty());
        assert_eq!(
            resolve(&c, "other").proxy_jump,
            vec![JumpHost::parse("default-gw").unwrap()]
        );

        // -J none on the command line disables the configured jump.
        let (_, o) = parse_ssh_args("-J none").unwrap();
        assert!(
            c.resolve_with_env("inner", &o, &env())
                .proxy_jump
                .is_empty()
        );

        // A hop's -l/-p win over its config.
        let hop = &resolve(&c, "inner").proxy_jump[0];
        let c2 = cfg("Host gw1\n  User cfguser\n  Port 1\n");
        let t = c2.resolve_with_env(&hop.host, &hop.overrides(), &env());
        assert_eq!((t.user.as_deref(), t.port), (Some("alice"), 2222));
    }

    #[test]
    fn proxy_jump_parse_errors() {
        for bad in [
            "",
            "a,",
            "user@",
            "@host",
            "host:0",
            "host:x",
            "[::1",
            "a b",
            "ssh://h/path",
            "::1",
        ] {
            assert!(parse_proxy_jump(bad).is_err(), "{bad:?} should fail");
        }
        assert!(parse_proxy_jump("NONE").unwrap().is_empty());
        let e = err("Host x\n  ProxyJump a,,b\n");
        assert!(e.starts_with("test_config:2:"), "{e}");
    }

    /// Found by the ssh_config fuzz target: a non-ASCII character across
    /// the 6th byte (where `ssh://` would end) made the scheme check slice
    /// inside the character and panic.
    #[test]
    fn proxy_jump_non_ascii_near_the_scheme() {
        let hops = parse_proxy_jump("r\u{fffd}\u{fffd}").unwrap();
        assert_eq!(hops[0].host, "r\u{fffd}\u{fffd}");
        let e = parse_proxy_jump("ssh:/\u{e9}").unwrap_err();
        assert!(e.contains("ssh:/\u{e9}"), "{e}");
        let e = err("Host x\n  ProxyJump ssh:/\u{e9}x,,b\n");
        assert!(e.starts_with("test_config:2:"), "{e}");
    }

    #[test]
    fn proxy_jump_tokens() {
        let c = cfg("Host *.inner\n  ProxyJump %r@gw-%h\n  User deploy\n");
        let t = resolve(&c, "a.inner");
        assert_eq!(
            t.proxy_jump,
            vec![JumpHost {
                user: Some("deploy".into()),
                host: "gw-a.inner".into(),
                port: None
            }]
        );
        // As in OpenSSH, a port must be a number when the file is read.
        let e = err("Host *.inner\n  ProxyJump gw-%h:%p\n");
        assert!(
            e.starts_with("test_config:2:") && e.contains("invalid port"),
            "{e}"
        );
    }

    #[test]
    fn proxy_command_shares_the_slot_with_proxy_jump() {
        let c = cfg("
Host pc
    ProxyCommand ssh -W %h:%p gw
    ProxyJump ignored
Host pj
    ProxyJump gw
    ProxyCommand ignored
Host pcnone
    ProxyCommand none
Host *
    ProxyJump fallback
");
        let t = resolve(&c, "pc");
        assert_eq!(t.proxy_command.as_deref(), Some("ssh -W %h:%p gw"));
        assert!(t.proxy_jump.is_empty());
        let t = resolve(&c, "pj");
        assert_eq!(t.proxy_command, None);
        assert_eq!(t.proxy_jump.len(), 1);
        let t = resolve(&c, "pcnone");
        assert_eq!(t.proxy_command, None);
        assert!(t.proxy_jump.is_empty(), "ProxyCommand none wins the slot");
        // -o ProxyCommand=none disables a configured ProxyJump.
        let (_, o) = parse_ssh_args("-o ProxyCommand=none").unwrap();
        let t = c.resolve_with_env("pj", &o, &env());
        assert!(t.proxy_jump.is_empty());
        assert_eq!(t.proxy_command, None);
    }

    #[test]
    fn match_all_host_originalhost_user() {
        let c = cfg("
Host web
    HostName web.prod.example.com
Match host *.prod.example.com
    User produser
Match originalhost web
    Port 2200
Match user produser
    IdentitiesOnly yes
Match !host *.prod.example.com
    Port 1111
Match all
    ConnectTimeout 5
");
        let t = resolve(&c, "web");
        assert_eq!(t.user.as_deref(), Some("produser"));
        assert_eq!(t.port, 2200);
        assert!(t.identities_only);
        assert_eq!(t.connect_timeout, Some(Duration::from_secs(5)));
        let t = resolve(&c, "other");
        assert_eq!(t.user, None);
        assert_eq!(t.port, 1111);
        assert!(!t.identities_only);
        assert_eq!(t.connect_timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn match_localuser_and_tagged() {
        let c = cfg("
Match localuser alice
    User from-alice
Match tagged prod
    Port 2222
");
        let t = resolve(&c, "h");
        assert_eq!(t.user.as_deref(), Some("from-alice"));
        assert_eq!(t.port, 22);
        let (_, o) = parse_ssh_args("-P prod").unwrap();
        assert_eq!(c.resolve_with_env("h", &o, &env()).port, 2222);
    }

    #[test]
    fn match_final_rereads_with_the_resolved_hostname() {
        let c = cfg("
Match final host real.example.com
    User finaluser
Host web
    HostName REAL.example.com
Host real.example.com
    Port 2022
Host *
    IdentityFile /k
");
        let t = resolve(&c, "web");
        assert_eq!(t.hostname, "real.example.com");
        assert_eq!(t.user.as_deref(), Some("finaluser"));
        assert_eq!(t.port, 2022);
        assert_eq!(t.identity_files, vec![PathBuf::from("/k")]);
        // Without a final pass, Host matches only the name as given.
        let c = cfg("Host web\n  HostName real\nHost real\n  Port 2022\n");
        assert_eq!(resolve(&c, "web").port, 22);
        // `Match canonical` alone does not request the final pass.
        let c = cfg("Match canonical\n  Port 3\n");
        assert_eq!(resolve(&c, "web").port, 22);
        let c = cfg("Match canonical\n  Port 3\nMatch final\n  User u\n");
        let t = resolve(&c, "web");
        assert_eq!((t.port, t.user.as_deref()), (3, Some("u")));
    }

    #[test]
    fn match_unsupported_criteria_never_apply() {
        let c = cfg("
Match exec \"true\"
    User e1
Match !exec \"false\"
    User e2
Match host x,y localnetwork 10.0.0.0/8
    User e3
Host *
    User fallback
");
        let t = resolve(&c, "x");
        assert_eq!(t.user.as_deref(), Some("fallback"));
        assert_eq!(c.warnings().len(), 3, "{:?}", c.warnings());
        assert!(
            c.warnings()[0].starts_with("test_config:2:"),
            "{:?}",
            c.warnings()
        );
        assert!(c.warnings()[0].contains("exec"));
    }

    #[test]
    fn match_errors() {
        assert!(err("Match\n").starts_with("test_config:1:"));
        let e = err("Host a\n  Port 1\nMatch frobnicate x\n");
        assert!(
            e.starts_with("test_config:3:") && e.contains("frobnicate"),
            "{e}"
        );
        assert!(err("Match host\n").contains("needs an argument"));
        assert!(err("Match all host x\n").contains("'all'"));
        // `all` may follow canonical/final.
        cfg("Match final all\n  Port 1\n");
    }

    #[test]
    fn parse_errors_carry_file_and_line() {
        let cases = [
            ("Host a\n  Port 22\n  Port abc\n", 3, "invalid port"),
            ("Host a\n  Port 0\n", 2, "invalid port"),
            ("\n\nUser \"unterminated\n", 3, "unterminated"),
            ("Host\n", 1, "Host needs"),
            ("Port\n", 1, "missing argument"),
            ("=value\n", 1, "missing keyword"),
            ("StrictHostKeyChecking maybe\n", 1, "StrictHostKeyChecking"),
            ("ConnectTimeout soon\n", 1, "invalid time"),
            ("IdentitiesOnly sometimes\n", 1, "yes or no"),
            ("Port 22 23\n", 1, "extra argument"),
            ("Include\n", 1, "Include needs"),
            ("ServerAliveCountMax -1\n", 1, "ServerAliveCountMax"),
        ];
        for (text, line, what) in cases {
            let e = err(text);
            assert!(
                e.starts_with(&format!("test_config:{line}: ")) && e.contains(what),
                "{text:?} gave {e}"
            );
        }
        // Values are checked even in blocks that do not apply (as ssh does).
        assert!(err("Host never-used\n  Port 99999\n").starts_with("test_config:2:"));
    }

    #[test]
    fn include_globs_relative_paths_and_conditional_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).unwrap();
        std::fs::write(d.join("conf.d/10-web.conf"), "Host web\n  Port 1010\n").unwrap();
        std::fs::write(
            d.join("conf.d/20-db.conf"),
            "Host db\n  Port 2020\nHost web\n  Port 9999\n",
        )
        .unwrap();
        std::fs::write(d.join("conf.d/.hidden.conf"), "Host web\n  User hidden\n").unwrap();
        std::fs::write(d.join("conf.d/README"), "Host web\n  User readme\n").unwrap();
        std::fs::write(
            d.join("top.conf"),
            "Port 3030\nHost other\n  User inc_other\n",
        )
        .unwrap();
        std::fs::write(
            d.join("nested.conf"),
            format!("Include {}/conf.d/*.conf\n", d.display()),
        )
        .unwrap();

        let text = format!(
            "
Include conf.d/*.conf
Host foo
    Include {abs}/top.conf
    User after_include
Host bar
    Include top.conf
Include nested.conf missing-*.conf
Host *
    User default
",
            abs = d.display()
        );
        let c = SshConfig::parse_str_with_include_dir(&text, "main", d).unwrap();
        let t = resolve(&c, "web");
        assert_eq!(t.port, 1010);
        assert_eq!(t.user.as_deref(), Some("default"));
        assert_eq!(resolve(&c, "db").port, 2020);
        // foo: the included file's top-level Port applies; its `Host other`
        // closes the block only inside the included file.
        let t = resolve(&c, "foo");
        assert_eq!(t.port, 3030);
        assert_eq!(t.user.as_deref(), Some("after_include"));
        assert_eq!(resolve(&c, "bar").port, 3030);
        // `other`: the Include sits in a block that does not apply, so its
        // `Host other` never matches (OpenSSH's SSHCONF_NEVERMATCH).
        let t = resolve(&c, "other");
        assert_eq!(t.user.as_deref(), Some("default"));
        assert_eq!(t.port, 22);
        // Errors in included files name that file and line.
        std::fs::write(d.join("bad.conf"), "Host x\n  Port nope\n").unwrap();
        let e = SshConfig::parse_str_with_include_dir("Include bad.conf\n", "main", d).unwrap_err();
        assert!(
            e.starts_with(&format!("{}:2:", d.join("bad.conf").display())),
            "{e}"
        );
        // Recursion is bounded.
        std::fs::write(d.join("loop.conf"), "Include loop.conf\n").unwrap();
        let e =
            SshConfig::parse_str_with_include_dir("Include loop.conf\n", "main", d).unwrap_err();
        assert!(e.contains("too many recursive"), "{e}");
    }

    #[test]
    fn include_refuses_files_writable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("open.conf");
        std::fs::write(&f, "Port 1\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = SshConfig::parse_str_with_include_dir("Include open.conf\n", "main", dir.path())
            .unwrap_err();
        assert!(e.starts_with("main:1:") && e.contains("permissions"), "{e}");
    }

    #[test]
    fn load_from_file_and_none() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config");
        std::fs::write(&f, "Host a\n  Port 7\n  Port x\n").unwrap();
        let e = SshConfig::load(&f).unwrap_err();
        assert_eq!(e, format!("{}:3: invalid port 'x'", f.display()));
        std::fs::write(&f, "Host a\n  Port 7\n").unwrap();
        let c = SshConfig::load(&f).unwrap();
        assert_eq!(resolve(&c, "a").port, 7);
        assert!(SshConfig::load(&dir.path().join("missing")).is_err());
        let none = SshConfig::load(Path::new("none")).unwrap();
        assert_eq!(resolve(&none, "a").port, 22);
    }

    #[test]
    fn overrides_win_over_the_file() {
        let c = cfg(
            "Host web\n  Port 2200\n  User cfg\n  HostName cfg.example.com\n  IdentityFile /cfg/key\n",
        );
        let mut o = Overrides::new();
        o.push("port", "2222").push("user", "cli");
        let t = c.resolve_with_env("web", &o, &env());
        assert_eq!((t.port, t.user.as_deref()), (2222, Some("cli")));
        assert_eq!(t.hostname, "cfg.example.com");

        // Ansible inventory variables via set(): highest priority.
        let (_, mut o) = parse_ssh_args("-o Port=1 -o User=args -i /args/key").unwrap();
        o.set("port", "2201")
            .set("user", "inventory user")
            .set("hostname", "10.1.2.3")
            .set("identityfile", "/inv/key");
        assert_eq!(o.get("user").as_deref(), Some("inventory user"));
        let t = c.resolve_with_env("web", &o, &env());
        assert_eq!(t.port, 2201);
        assert_eq!(t.user.as_deref(), Some("inventory user"));
        assert_eq!(t.hostname, "10.1.2.3");
        assert_eq!(
            t.identity_files,
            vec![
                PathBuf::from("/inv/key"),
                PathBuf::from("/args/key"),
                PathBuf::from("/cfg/key")
            ]
        );
        assert!(o.validate().is_ok());

        // extend(): lower priority than what is already there.
        let mut a = Overrides::new();
        a.push("port", "1");
        let (_, b) = parse_ssh_args("-p 2 -o ConnectTimeout=3").unwrap();
        a.extend(b);
        let t = c.resolve_with_env("web", &a, &env());
        assert_eq!(
            (t.port, t.connect_timeout),
            (1, Some(Duration::from_secs(3)))
        );

        // Invalid override values are ignored by resolve, reported by validate.
        let mut bad = Overrides::new();
        bad.push("port", "http");
        assert!(bad.validate().is_err());
        assert_eq!(c.resolve_with_env("web", &bad, &env()).port, 2200);
    }

    #[test]
    fn command_line_first_wins_like_ssh() {
        // ssh: `-o User=x -l y` → x; `-p 5 -o Port=7` → 5 (all first-wins).
        let (_, o) = parse_ssh_args("-o User=x -l y -p 5 -o Port=7").unwrap();
        let t = SshConfig::empty().resolve_with_env("h", &o, &env());
        assert_eq!((t.user.as_deref(), t.port), (Some("x"), 5));
    }

    #[test]
    fn parse_ssh_args_forms() {
        let (file, o) = parse_ssh_args(
            "-F /etc/hoist/ssh_config -o Port=2222 -oUser=bob -o \"ConnectTimeout 10\" \
             -o 'IdentityFile=\"/k/with space\"' -o ControlMaster=auto -o ControlPersist=60s \
             -o ControlPath=/tmp/cp-%r -o ForwardAgent=yes -o Compression=yes -o LogLevel=ERROR \
             -o ServerAliveCountMax=4 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
             -4Cq -vvv -T -t -A -x -X -J jump1,jump2:2200 -i ~/.ssh/extra -l ignored -p 1",
        )
        .unwrap();
        assert_eq!(file, Some(PathBuf::from("/etc/hoist/ssh_config")));
        let t = SshConfig::empty().resolve_with_env("h", &o, &env());
        assert_eq!(t.port, 2222);
        assert_eq!(t.user.as_deref(), Some("bob"));
        assert_eq!(t.connect_timeout, Some(Duration::from_secs(10)));
        assert_eq!(
            t.identity_files,
            vec![
                PathBuf::from("/k/with space"),
                PathBuf::from("/home/alice/.ssh/extra")
            ]
        );
        assert_eq!(t.server_alive_count_max, Some(4));
        assert_eq!(t.strict_host_key_checking, Some(StrictMode::No));
        assert_eq!(t.known_hosts_files, vec![PathBuf::from("/dev/null")]);
        assert_eq!(
            t.proxy_jump,
            vec![
                JumpHost {
                    user: None,
                    host: "jump1".into(),
                    port: None
                },
                JumpHost {
                    user: None,
                    host: "jump2".into(),
                    port: Some(2200)
                },
            ]
        );
        // Ignored options are kept (harmless) and never affect the target.
        assert!(
            o.options
                .iter()
                .any(|(k, v)| k == "controlmaster" && v == "auto")
        );

        // Bundled option with attached argument, -F none, ~ in -F.
        let (file, o) = parse_ssh_args("-qp2200 -luser -F none").unwrap();
        assert_eq!(file, Some(PathBuf::from("none")));
        assert_eq!(o.get("port").as_deref(), Some("2200"));
        assert_eq!(o.get("user").as_deref(), Some("user"));
        let (file, _) = parse_ssh_args("-F ~/cfg").unwrap();
        assert_eq!(file, Some(home_dir().join("cfg")));
        assert_eq!(parse_ssh_args("").unwrap(), (None, Overrides::default()));
        // -o ProxyCommand=none is fine.
        let (_, o) = parse_ssh_args("-o ProxyCommand=none -o 'ProxyCommand \"none\"'").unwrap();
        let t = cfg("ProxyJump gw\n").resolve_with_env("h", &o, &env());
        assert!(t.proxy_jump.is_empty() && t.proxy_command.is_none());
    }

    #[test]
    fn parse_ssh_args_errors() {
        let cases = [
            (
                "-o ProxyCommand='ssh -W %h:%p gw'",
                "ProxyCommand is not supported; use ProxyJump",
            ),
            (
                "-o \"ProxyCommand nc %h %p\"",
                "ProxyCommand is not supported; use ProxyJump",
            ),
            ("-Z", "-Z"),
            ("-4Z", "-Z"),
            ("-L 8080:localhost:80", "port forwarding"),
            ("-W host:22", "-W"),
            ("-p", "requires an argument"),
            ("-p http", "invalid port"),
            ("-o Prot=22", "did you mean port"),
            ("-o Frobnicate=1", "unknown ssh option 'frobnicate'"),
            ("-o Port=x", "invalid port"),
            ("-o StrictHostKeyChecking=maybe", "StrictHostKeyChecking"),
            ("-J a -J b", "single -J"),
            ("-o ProxyJump=a -J b", "single -J"),
            ("-J 'bad host'", "whitespace"),
            ("-o Host=x", "not allowed"),
            ("-o Match=all", "not allowed"),
            ("-o Include=/x", "not allowed"),
            ("host.example.com", "unexpected argument"),
            ("-o 'User \"unterminated'", "unterminated"),
            ("-o \"unbalanced", "unbalanced quotes"),
            ("-o", "requires an argument"),
        ];
        for (args, what) in cases {
            match parse_ssh_args(args) {
                Ok(r) => panic!("{args:?} should fail, got {r:?}"),
                Err(e) => assert!(e.contains(what), "{args:?} gave {e:?}, expected {what:?}"),
            }
        }
    }

    #[test]
    fn quoting_round_trip() {
        for v in [
            "plain",
            "with space",
            "quote\"d",
            "back\\slash",
            "hash#tag",
            "",
            "it's",
        ] {
            let q = quote_value(v);
            assert_eq!(split_args(&q).unwrap(), vec![v.to_string()], "{v:?} → {q}");
        }
        assert_eq!(split_args("a # comment").unwrap(), vec!["a"]);
        assert_eq!(split_args("a#b").unwrap(), vec!["a#b"]);
        assert_eq!(split_args("'x y' \"z\"").unwrap(), vec!["x y", "z"]);
    }

    #[test]
    fn tilde_forms() {
        let home = Path::new("/home/alice");
        assert_eq!(tilde_expand("~", home), "/home/alice");
        assert_eq!(tilde_expand("~/x", home), "/home/alice/x");
        assert_eq!(tilde_expand("/abs/~", home), "/abs/~");
        assert_eq!(tilde_expand("~root/x", home), {
            let dir = nix::unistd::User::from_name("root").unwrap().unwrap().dir;
            format!("{}/x", dir.display())
        });
        assert_eq!(
            tilde_expand("~no_such_user_hoist/x", home),
            "~no_such_user_hoist/x"
        );
    }

    #[test]
    fn fnmatch_classes() {
        assert!(fnmatch("*.conf", "a.conf"));
        assert!(!fnmatch("*.conf", "a.confx"));
        assert!(fnmatch("[0-9]*", "10-x"));
        assert!(!fnmatch("[!0-9]*", "10-x"));
        assert!(fnmatch("a[bc]d", "acd"));
        assert!(fnmatch("a?d", "abd"));
    }

    /// Cross-checks resolution against the real `ssh -G` when it is
    /// installed (the test passes trivially otherwise).
    #[test]
    fn agrees_with_openssh_dash_g() {
        let Ok(out) = std::process::Command::new("ssh").arg("-V").output() else {
            return;
        };
        if !out.status.success() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let cfgfile = dir.path().join("config");
        std::fs::write(
            &cfgfile,
            "
Host web1
    HostName Web1.Example.COM
    Port 2201
Host web* !web9
    User webadmin
    ProxyJump gw1,bob@gw2:2222
Match host *.example.com
    Port 2299
    User matched
Match originalhost db
    ConnectTimeout 1m
    ProxyJump none
Match final host realdb
    User finaluser
Host db
    HostName realdb
Host realdb
    Port 3306
Host *
    User defaultuser
    ServerAliveInterval 30
    ServerAliveCountMax 7
    StrictHostKeyChecking accept-new
",
        )
        .unwrap();
        let ours = SshConfig::load(&cfgfile).unwrap();
        for (alias, args) in [
            ("web1", ""),
            ("web2", ""),
            ("web9", ""),
            ("db", ""),
            ("other", ""),
            ("web1", "-p 1234 -o User=cli"),
            ("db", "-o ProxyJump=x@j:9 -l someone"),
        ] {
            let mut cmd = std::process::Command::new("ssh");
            cmd.arg("-G").arg("-F").arg(&cfgfile);
            let words = shlex::split(args).unwrap();
            cmd.args(&words)
                .arg(alias)
                .stdin(std::process::Stdio::null());
            let Ok(out) = cmd.output() else {
                return;
            };
            if !out.status.success() {
                // An ssh too old for this file (e.g. no `Match final`).
                return;
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let get = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{k} ")))
                    .map(str::to_string)
            };
            let (_, o) = parse_ssh_args(args).unwrap();
            let t = ours.resolve(alias, &o);
            let ctx = format!("{alias} {args}");
            assert_eq!(get("hostname").unwrap(), t.hostname, "{ctx}");
            assert_eq!(get("port").unwrap(), t.port.to_string(), "{ctx}");
            assert_eq!(
                get("user").unwrap(),
                t.user.clone().unwrap_or_else(|| LocalEnv::current().user),
                "{ctx}"
            );
            let jumps: Vec<String> = t.proxy_jump.iter().map(|j| j.to_string()).collect();
            assert_eq!(
                get("proxyjump").unwrap_or_default(),
                jumps.join(","),
                "{ctx}"
            );
            assert_eq!(
                get("connecttimeout").unwrap(),
                t.connect_timeout
                    .map_or("none".into(), |d| d.as_secs().to_string()),
                "{ctx}"
            );
            assert_eq!(
                get("serveraliveinterval").unwrap(),
                t.server_alive_interval
                    .map_or("0".into(), |d| d.as_secs().to_string()),
                "{ctx}"
            );
            assert_eq!(get("stricthostkeychecking").unwrap(), "accept-new", "{ctx}");
        }
    }
}
