//! `setup`: Ansible's fact gathering, without Python on the target.
//!
//! One read-only POSIX sh script ([`SCRIPT`]) runs on the target and prints
//! the raw sources (files under `/proc`, `/sys` and `/etc`, and the output of
//! `uname`, `id`, `ip`, `stat -f`, `date` …) in named sections; the facts are
//! then built here with ansible-core's names, types and shapes. Which parts
//! run follows `gather_subset` exactly as Ansible selects its collectors, and
//! `filter` keeps the facts whose names match one of its fnmatch patterns.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;
use regex::Regex;

use super::{
    Args, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};
use crate::connection::ExecRequest;
use crate::template::vmap;

/// The probe run on the target (see the file for its output format).
const SCRIPT: &str = include_str!("setup_script.sh");

pub struct Setup;

static SPEC: ModuleSpec = ModuleSpec {
    name: "setup",
    params: &[
        Param::new("gather_subset", ParamType::List),
        Param::new("gather_timeout", ParamType::Int),
        Param::new("filter", ParamType::List),
        Param::new("fact_path", ParamType::Path),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
};

/// Facts keyed by name.
pub type Facts = IndexMap<String, Value>;

/// The `ansible_facts` dict Ansible keeps next to the injected variables:
/// every fact with its `ansible_` prefix stripped (`ansible_local` keeps its
/// name), as ansible-core's `namespace_facts`.
pub fn facts_namespace(facts: &IndexMap<String, Value>) -> Value {
    vmap(facts.iter().map(|(k, v)| {
        let key = match k.strip_prefix("ansible_") {
            Some(short) if k != "ansible_local" => short,
            _ => k.as_str(),
        };
        (key.to_owned(), v.clone())
    }))
}

// ---------------------------------------------------------------------------
// Collector selection (ansible.module_utils.facts.collector)

/// One of Ansible's fact collectors on Linux: its name, the other names
/// `gather_subset` accepts for it, and the collectors it needs.
struct Collector {
    name: &'static str,
    ids: &'static [&'static str],
    requires: &'static [&'static str],
}

const fn col(
    name: &'static str,
    ids: &'static [&'static str],
    requires: &'static [&'static str],
) -> Collector {
    Collector {
        name,
        ids,
        requires,
    }
}

/// Ansible's Linux collectors, in `default_collectors` order.
const COLLECTORS: &[Collector] = &[
    col(
        "platform",
        &[
            "system",
            "kernel",
            "kernel_version",
            "machine",
            "python_version",
            "architecture",
            "machine_id",
        ],
        &[],
    ),
    col(
        "distribution",
        &[
            "distribution_version",
            "distribution_release",
            "distribution_major_version",
            "os_family",
        ],
        &[],
    ),
    col("lsb", &[], &[]),
    col("selinux", &[], &[]),
    col("apparmor", &[], &[]),
    col("chroot", &["is_chroot"], &[]),
    col("fips", &[], &[]),
    col("python", &[], &[]),
    col(
        "caps",
        &["system_capabilities", "system_capabilities_enforced"],
        &[],
    ),
    col("pkg_mgr", &[], &["distribution"]),
    col("service_mgr", &[], &["platform", "distribution"]),
    col("cmdline", &[], &[]),
    col("date_time", &[], &[]),
    col("env", &[], &[]),
    col("loadavg", &[], &[]),
    col(
        "ssh_pub_keys",
        &[
            "ssh_host_pub_keys",
            "ssh_host_key_dsa_public",
            "ssh_host_key_rsa_public",
            "ssh_host_key_ecdsa_public",
            "ssh_host_key_ed25519_public",
        ],
        &[],
    ),
    col(
        "user",
        &[
            "user_id",
            "user_uid",
            "user_gid",
            "user_gecos",
            "user_dir",
            "user_shell",
            "real_user_id",
            "effective_user_id",
            "effective_group_ids",
        ],
        &[],
    ),
    col("systemd", &[], &[]),
    col(
        "virtual",
        &[
            "virtualization_type",
            "virtualization_role",
            "virtualization_tech_guest",
            "virtualization_tech_host",
        ],
        &[],
    ),
    col(
        "hardware",
        &[
            "devices",
            "mounts",
            "processor",
            "processor_cores",
            "processor_count",
        ],
        &["platform"],
    ),
    col("dns", &[], &[]),
    col("fibre_channel_wwn", &[], &[]),
    col("iscsi", &[], &[]),
    col("nvme", &[], &[]),
    col(
        "network",
        &[
            "interfaces",
            "default_ipv4",
            "default_ipv6",
            "all_ipv4_addresses",
            "all_ipv6_addresses",
        ],
        &["distribution", "platform"],
    ),
    col("local", &[], &[]),
    col("facter", &["facter"], &[]),
    col("ohai", &[], &[]),
];

/// What `min` means (the setup module's `minimal_gather_subset`).
const MINIMAL: &[&str] = &[
    "apparmor",
    "caps",
    "cmdline",
    "date_time",
    "distribution",
    "dns",
    "env",
    "fips",
    "local",
    "lsb",
    "pkg_mgr",
    "platform",
    "python",
    "selinux",
    "service_mgr",
    "ssh_pub_keys",
    "user",
];

/// The collectors a `gather_subset` selects, dependencies included, as
/// ansible-core's `collector_classes_from_gather_subset`.
fn select_collectors(subsets: &[String]) -> Result<BTreeSet<&'static str>, String> {
    let valid: BTreeSet<&'static str> = COLLECTORS
        .iter()
        .flat_map(|c| std::iter::once(c.name).chain(c.ids.iter().copied()))
        .collect();
    let minimal: BTreeSet<&'static str> = MINIMAL.iter().copied().collect();
    let owner = |n: &str| COLLECTORS.iter().find(|c| c.name == n || c.ids.contains(&n));

    let mut add: BTreeSet<&str> = BTreeSet::new();
    let mut exclude: BTreeSet<&str> = BTreeSet::new();
    let mut explicit: BTreeSet<&str> = BTreeSet::new();
    let all = std::iter::once("min").chain(subsets.iter().map(String::as_str));
    for subset in all {
        match subset {
            "min" => add.extend(&minimal),
            "all" => add.extend(&valid),
            _ => {
                if let Some(x) = subset.strip_prefix('!') {
                    match x {
                        "min" => exclude.extend(&minimal),
                        "all" => exclude.extend(valid.difference(&minimal)),
                        _ => {
                            if let Some(c) = COLLECTORS.iter().find(|c| c.name == x) {
                                exclude.extend(c.ids);
                            }
                            exclude.insert(x);
                        }
                    }
                } else {
                    if !valid.contains(subset) {
                        let names: Vec<&str> = valid.iter().copied().collect();
                        return Err(format!(
                            "Bad subset '{subset}' given to Ansible. gather_subset options allowed: all, {}",
                            names.join(", ")
                        ));
                    }
                    explicit.insert(subset);
                    add.insert(subset);
                }
            }
        }
    }
    if add.is_empty() {
        add.extend(&valid);
    }
    let mut chosen: BTreeSet<&'static str> = add
        .iter()
        .filter(|n| !exclude.contains(*n) || explicit.contains(*n))
        .filter_map(|n| owner(n).map(|c| c.name))
        .collect();
    loop {
        let missing: Vec<&'static str> = chosen
            .iter()
            .filter_map(|n| owner(n))
            .flat_map(|c| c.requires.iter().copied())
            .filter(|r| !chosen.contains(r))
            .collect();
        if missing.is_empty() {
            break;
        }
        chosen.extend(missing);
    }
    Ok(chosen)
}

/// Python's `fnmatch.fnmatch` on POSIX (case-sensitive): `*`, `?`,
/// `[seq]`, `[!seq]`.
fn fnmatch(name: &str, pat: &str) -> bool {
    let n: Vec<char> = name.chars().collect();
    let p: Vec<char> = pat.chars().collect();
    fn class(p: &[char], i: usize, c: char) -> Option<(bool, usize)> {
        // p[i] == '['; returns (matched, index after ']') or None when unclosed.
        let mut j = i + 1;
        let negate = j < p.len() && p[j] == '!';
        if negate {
            j += 1;
        }
        let start = j;
        let mut matched = false;
        while j < p.len() && (p[j] != ']' || j == start) {
            if j + 2 < p.len() && p[j + 1] == '-' && p[j + 2] != ']' {
                if p[j] <= c && c <= p[j + 2] {
                    matched = true;
                }
                j += 3;
            } else {
                if p[j] == c {
                    matched = true;
                }
                j += 1;
            }
        }
        if j >= p.len() {
            return None;
        }
        Some((matched != negate, j + 1))
    }
    fn go(n: &[char], p: &[char], mut i: usize, mut j: usize) -> bool {
        while j < p.len() {
            match p[j] {
                '*' => {
                    while j < p.len() && p[j] == '*' {
                        j += 1;
                    }
                    if j == p.len() {
                        return true;
                    }
                    return (i..=n.len()).any(|k| go(n, p, k, j));
                }
                '?' => {
                    if i >= n.len() {
                        return false;
                    }
                    i += 1;
                    j += 1;
                }
                '[' => {
                    if i >= n.len() {
                        return false;
                    }
                    match class(p, j, n[i]) {
                        Some((true, next)) => {
                            i += 1;
                            j = next;
                        }
                        Some((false, _)) => return false,
                        None => {
                            if n[i] != '[' {
                                return false;
                            }
                            i += 1;
                            j += 1;
                        }
                    }
                }
                c => {
                    if i >= n.len() || n[i] != c {
                        return false;
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        i == n.len()
    }
    go(&n, &p, 0, 0)
}

/// Whether `filter` keeps a fact, as `AnsibleFactCollector._filter`.
fn filter_keeps(name: &str, patterns: &[String]) -> bool {
    if patterns.is_empty() {
        return true;
    }
    patterns.iter().any(|f| {
        f.is_empty()
            || fnmatch(name, f)
            || (!(f.starts_with("ansible_") || f.starts_with("facter") || f.starts_with("ohai"))
                && fnmatch(name, &format!("ansible_{f}")))
    })
}

// ---------------------------------------------------------------------------
// The probe's output

#[derive(Debug, Default)]
struct Probe {
    sections: IndexMap<String, String>,
    exists: BTreeSet<String>,
    links: HashMap<String, String>,
    bins: HashMap<String, String>,
}

impl Probe {
    fn parse(out: &str) -> Probe {
        let mut p = Probe::default();
        for chunk in out.split("\n\x1e") {
            let Some((name, rest)) = chunk.split_once('\x1e') else {
                continue;
            };
            let content = rest.strip_prefix('\n').unwrap_or(rest);
            match name {
                "X" => p.exists.extend(
                    content
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned),
                ),
                "L" => {
                    for l in content.lines() {
                        if let Some((a, b)) = l.split_once('\t') {
                            p.links.insert(a.to_owned(), b.to_owned());
                        }
                    }
                }
                "B" => {
                    for l in content.lines() {
                        if let Some((a, b)) = l.split_once('=') {
                            p.bins.insert(a.to_owned(), b.to_owned());
                        }
                    }
                }
                _ => {
                    p.sections
                        .entry(name.to_owned())
                        .or_insert_with(|| content.to_owned());
                }
            }
        }
        p
    }

    fn section(&self, name: &str) -> Option<&str> {
        self.sections.get(name).map(String::as_str)
    }

    /// A file's whole content, when it is a readable regular file.
    fn raw(&self, path: &str) -> Option<&str> {
        self.section(&format!("F {path}"))
    }

    /// Ansible's `get_file_content`: stripped, `None` when empty.
    fn file(&self, path: &str) -> Option<&str> {
        self.raw(path).map(str::trim).filter(|s| !s.is_empty())
    }

    /// Ansible's `get_file_lines`.
    fn file_lines(&self, path: &str) -> Vec<&str> {
        self.file(path).map(|s| s.lines().collect()).unwrap_or_default()
    }

    fn exists(&self, path: &str) -> bool {
        self.exists.contains(path) || self.raw(path).is_some()
    }

    /// A command's exit status and standard output.
    fn cmd(&self, name: &str) -> Option<(i32, &str)> {
        let out = self.section(&format!("C {name}"))?;
        let rc = self
            .section(&format!("R {name}"))
            .and_then(|r| r.trim().parse().ok())
            .unwrap_or(-1);
        Some((rc, out))
    }

    /// A command's output when it exited 0.
    fn cmd_ok(&self, name: &str) -> Option<&str> {
        self.cmd(name).filter(|(rc, _)| *rc == 0).map(|(_, o)| o)
    }

    fn which(&self, name: &str) -> bool {
        self.bins.contains_key(name)
    }

    /// `KEY=value` lines of a section (first `=`).
    fn kv(&self, name: &str) -> IndexMap<String, String> {
        self.section(name)
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Small Python-alike helpers

fn vs(s: &str) -> Value {
    Value::from(s)
}

fn none() -> Value {
    Value::from(())
}

fn list<T: Into<Value>>(items: impl IntoIterator<Item = T>) -> Value {
    Value::from(items.into_iter().map(Into::into).collect::<Vec<Value>>())
}

fn obj(m: Facts) -> Value {
    vmap(m)
}

/// Python's `str.strip(chars)`.
fn strip_chars<'a>(s: &'a str, chars: &str) -> &'a str {
    s.trim_matches(|c| chars.contains(c))
}

/// Python's `str.capitalize()`.
fn capitalize(s: &str) -> String {
    let mut cs = s.chars();
    match cs.next() {
        Some(f) => f.to_uppercase().chain(cs.flat_map(char::to_lowercase)).collect(),
        None => String::new(),
    }
}

/// Python's `round()` (half to even) on a float.
fn py_round(x: f64) -> i64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        (2.0 * (x / 2.0).round()) as i64
    } else {
        r as i64
    }
}

/// ansible's `bytes_to_human`.
fn bytes_to_human(size: f64) -> String {
    const RANGES: &[(&str, u32)] = &[
        ("Y", 80),
        ("Z", 70),
        ("E", 60),
        ("P", 50),
        ("T", 40),
        ("G", 30),
        ("M", 20),
        ("K", 10),
        ("B", 0),
    ];
    let mut chosen = ("B", 0);
    for &(suffix, shift) in RANGES {
        chosen = (suffix, shift);
        if size >= 2f64.powi(shift as i32) {
            break;
        }
    }
    let limit = 2f64.powi(chosen.1 as i32);
    let suffix = if chosen.1 == 0 {
        "Bytes".to_owned()
    } else {
        format!("{}B", chosen.0)
    };
    format!("{:.2} {suffix}", size / limit)
}

/// `shlex.split` in POSIX mode with `whitespace_split` (os-release files).
fn shlex_posix(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_token = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_token {
                    out.push(std::mem::take(&mut cur));
                    in_token = false;
                }
            }
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                if in_token {
                    out.push(std::mem::take(&mut cur));
                    in_token = false;
                }
            }
            '\'' => {
                in_token = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_token = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.peek() {
                            Some(&n) if n == '"' || n == '\\' => {
                                cur.push(n);
                                chars.next();
                            }
                            _ => cur.push('\\'),
                        },
                        _ => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_token = true;
                if let Some(n) = chars.next() {
                    if n != '\n' {
                        cur.push(n);
                    }
                }
            }
            _ => {
                in_token = true;
                cur.push(c);
            }
        }
    }
    if in_token {
        out.push(cur);
    }
    out
}

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).expect("valid regex"))
}

/// The first capture group of `pat` in `text`.
fn cap1(pat: &str, text: &str) -> Option<String> {
    Regex::new(pat)
        .ok()?
        .captures(text)?
        .get(1)
        .map(|m| m.as_str().to_owned())
}

// ---------------------------------------------------------------------------
// platform

struct Uname {
    system: String,
    release: String,
    version: String,
    machine: String,
    node: String,
}

fn uname(p: &Probe) -> Uname {
    let lines: Vec<&str> = p.section("uname").unwrap_or("").lines().collect();
    let get = |i: usize| lines.get(i).copied().unwrap_or("").to_owned();
    Uname {
        system: get(0),
        release: get(1),
        version: get(2),
        machine: get(3),
        node: get(4),
    }
}

struct PyInfo {
    executable: String,
    version: (i64, i64, i64, String, i64),
    kind: String,
    ssl: bool,
}

fn python_info(p: &Probe) -> Option<PyInfo> {
    let out = p.cmd_ok("python")?;
    let lines: Vec<&str> = out.lines().collect();
    let v: Vec<&str> = lines.get(1)?.split_whitespace().collect();
    let num = |i: usize| v.get(i).and_then(|s| s.parse().ok()).unwrap_or(0);
    Some(PyInfo {
        executable: lines.first()?.to_string(),
        version: (
            num(0),
            num(1),
            num(2),
            v.get(3).unwrap_or(&"final").to_string(),
            num(4),
        ),
        kind: lines.get(2).unwrap_or(&"").to_string(),
        ssl: lines.get(3) == Some(&"1"),
    })
}

/// `ansible_architecture` as the platform collector computes it.
fn architecture(machine: &str) -> String {
    static I86: OnceLock<Regex> = OnceLock::new();
    if machine != "x86_64" && re(&I86, r"i([3456]86|86pc)").is_match(machine) {
        "i386".into()
    } else {
        machine.into()
    }
}

fn platform_facts(p: &Probe, u: &Uname, f: &mut Facts) {
    f.insert("system".into(), vs(&u.system));
    f.insert("kernel".into(), vs(&u.release));
    f.insert("kernel_version".into(), vs(&u.version));
    f.insert("machine".into(), vs(&u.machine));
    if let Some(py) = python_info(p) {
        let (a, b, c, _, _) = &py.version;
        f.insert("python_version".into(), Value::from(format!("{a}.{b}.{c}")));
    }
    // socket.getfqdn(): the first dotted name among the canonical name and
    // aliases of the host's address, else the canonical name.
    let fqdn = p
        .section("fqdn")
        .and_then(|s| s.lines().next())
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>())
        .filter(|names| !names.is_empty())
        .map(|names| {
            names
                .iter()
                .find(|n| n.contains('.'))
                .unwrap_or(&names[0])
                .to_string()
        })
        .unwrap_or_else(|| u.node.clone());
    f.insert("fqdn".into(), vs(&fqdn));
    f.insert(
        "hostname".into(),
        vs(u.node.split('.').next().unwrap_or("")),
    );
    f.insert("nodename".into(), vs(&u.node));
    let domain = fqdn.split('.').skip(1).collect::<Vec<_>>().join(".");
    f.insert("domain".into(), Value::from(domain));
    let bits = p
        .section("bits")
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let m = &u.machine;
            if m.contains("64") || m == "s390x" {
                "64".into()
            } else {
                "32".into()
            }
        });
    f.insert("userspace_bits".into(), vs(&bits));
    let arch = architecture(&u.machine);
    if u.machine == "x86_64" || arch == "i386" {
        match bits.as_str() {
            "64" => {
                f.insert("userspace_architecture".into(), vs("x86_64"));
            }
            "32" => {
                f.insert("userspace_architecture".into(), vs("i386"));
            }
            _ => {}
        }
    }
    f.insert("architecture".into(), Value::from(arch));
    if let Some(id) = p
        .file("/var/lib/dbus/machine-id")
        .or_else(|| p.file("/etc/machine-id"))
    {
        f.insert(
            "machine_id".into(),
            vs(id.lines().next().unwrap_or_default()),
        );
    }
}

fn python_facts(p: &Probe, f: &mut Facts) {
    let Some(py) = python_info(p) else {
        return;
    };
    let (major, minor, micro, level, serial) = py.version;
    let version = vmap([
        ("major", Value::from(major)),
        ("minor", Value::from(minor)),
        ("micro", Value::from(micro)),
        ("releaselevel", vs(&level)),
        ("serial", Value::from(serial)),
    ]);
    let info = list([
        Value::from(major),
        Value::from(minor),
        Value::from(micro),
        vs(&level),
        Value::from(serial),
    ]);
    f.insert(
        "python".into(),
        vmap([
            ("version", version),
            ("version_info", info),
            ("executable", vs(&py.executable)),
            ("has_sslcontext", Value::from(py.ssl)),
            (
                "type",
                if py.kind.is_empty() {
                    none()
                } else {
                    vs(&py.kind)
                },
            ),
        ]),
    );
}

// ---------------------------------------------------------------------------
// distribution (ansible's Distribution + the bundled `distro` library)

/// An os-release file as `distro` reads it: lower-cased keys, plus
/// `codename` taken from `VERSION_CODENAME`, `UBUNTU_CODENAME` or the
/// parenthesised part of `VERSION`.
fn os_release_props(text: &str) -> IndexMap<String, String> {
    let mut props = IndexMap::new();
    for tok in shlex_posix(text) {
        if let Some((k, v)) = tok.split_once('=') {
            props.insert(k.to_lowercase(), v.to_owned());
        }
    }
    static CODE: OnceLock<Regex> = OnceLock::new();
    if let Some(v) = props.get("version").cloned()
        && let Some(c) = re(&CODE, r"\((\D+)\)|,\s*(\D+)").captures(&v)
        && let Some(m) = c.get(1).or_else(|| c.get(2))
    {
        props.insert("codename".into(), m.as_str().to_owned());
        props.insert("release_codename".into(), m.as_str().to_owned());
    }
    if let Some(vc) = props.get("version_codename").cloned() {
        props.insert("codename".into(), vc);
    } else if let Some(uc) = props.get("ubuntu_codename").cloned() {
        props.insert("codename".into(), uc);
    }
    props
}

/// `distro`'s parse of a release line ("CentOS Linux release 7.9.2009
/// (Core)"): name, version_id, codename.
fn release_content(line: &str) -> (Option<String>, Option<String>, Option<String>) {
    static REV: OnceLock<Regex> = OnceLock::new();
    let rev: String = line.trim().chars().rev().collect();
    let r = re(
        &REV,
        r"^(?:[^)]*\)(.*)\()? *(?:STL )?([\d.+\-a-z]*\d) *(?:esaeler *)?(.+)",
    );
    let back = |s: &str| s.chars().rev().collect::<String>();
    match r.captures(&rev) {
        Some(c) => (
            c.get(3).map(|m| back(m.as_str())),
            c.get(2).map(|m| back(m.as_str())).filter(|s| !s.is_empty()),
            c.get(1).map(|m| back(m.as_str())).filter(|s| !s.is_empty()),
        ),
        None if !line.trim().is_empty() => (Some(line.trim().to_owned()), None, None),
        None => (None, None, None),
    }
}

/// What the `distro` library would say (id, version, codename), from the
/// files the probe read.
struct DistroGuess {
    id: String,
    os: IndexMap<String, String>,
    lsb: IndexMap<String, String>,
    /// name, version_id, codename, id of the first distro release file
    rel: (Option<String>, Option<String>, Option<String>, Option<String>),
    debian_version: String,
}

impl DistroGuess {
    fn new(p: &Probe) -> DistroGuess {
        let os_text = p
            .raw("/etc/os-release")
            .or_else(|| p.raw("/usr/lib/os-release"))
            .unwrap_or("");
        let os = os_release_props(os_text);
        let mut lsb = IndexMap::new();
        if let Some(out) = p.cmd_ok("lsb_release") {
            for line in out.lines() {
                if let Some((k, v)) = line.split_once(':') {
                    lsb.insert(k.replace(' ', "_").to_lowercase(), v.trim().to_owned());
                }
            }
        }
        // The first /etc/*-release (or _version) file, by sorted name, that
        // parses, as distro's `_distro_release_info`.
        static BASE: OnceLock<Regex> = OnceLock::new();
        const IGNORE: &[&str] = &[
            "debian_version",
            "lsb-release",
            "oem-release",
            "os-release",
            "system-release",
            "plesk-release",
            "iredmail-release",
            "board-release",
            "ec2_version",
        ];
        let mut files: Vec<(&str, &str)> = p
            .sections
            .iter()
            .filter_map(|(k, v)| {
                let path = k.strip_prefix("F /etc/")?;
                (!path.contains('/')).then_some((path, v.as_str()))
            })
            .filter(|(b, _)| !IGNORE.contains(b))
            .collect();
        files.sort();
        let mut rel = (None, None, None, None);
        for (base, text) in files {
            let Some(m) = re(&BASE, r"^(\w+)[-_](release|version)$").captures(base) else {
                continue;
            };
            let (name, version, code) = release_content(text.lines().next().unwrap_or(""));
            if name.is_none() {
                continue;
            }
            let mut id = m[1].to_owned();
            if name
                .as_deref()
                .unwrap_or("")
                .to_lowercase()
                .contains("cloudlinux")
            {
                id = "cloudlinux".into();
            }
            rel = (name, version, code, Some(id));
            break;
        }
        let normalize = |s: &str, table: &[(&str, &str)]| {
            let s = s.to_lowercase().replace(' ', "_");
            table
                .iter()
                .find(|(k, _)| *k == s)
                .map(|(_, v)| v.to_string())
                .unwrap_or(s)
        };
        let id = if let Some(i) = os.get("id").filter(|s| !s.is_empty()) {
            normalize(i, &[("ol", "oracle"), ("opensuse-leap", "opensuse")])
        } else if let Some(i) = lsb.get("distributor_id").filter(|s| !s.is_empty()) {
            normalize(
                i,
                &[
                    ("enterpriseenterpriseas", "oracle"),
                    ("enterpriseenterpriseserver", "oracle"),
                    ("redhatenterpriseworkstation", "rhel"),
                    ("redhatenterpriseserver", "rhel"),
                    ("redhatenterprisecomputenode", "rhel"),
                ],
            )
        } else if let Some(i) = rel.3.as_deref().filter(|s| !s.is_empty()) {
            normalize(i, &[("redhat", "rhel")])
        } else {
            String::new()
        };
        let debian_version = p
            .raw("/etc/debian_version")
            .and_then(|s| s.lines().next())
            .unwrap_or("")
            .trim_end()
            .to_owned();
        DistroGuess {
            id,
            os,
            lsb,
            rel,
            debian_version,
        }
    }

    fn version(&self, best: bool) -> String {
        let get = |m: &IndexMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
        let mut versions = vec![
            get(&self.os, "version_id"),
            get(&self.lsb, "release"),
            self.rel.1.clone().unwrap_or_default(),
            release_content(&get(&self.os, "pretty_name"))
                .1
                .unwrap_or_default(),
            release_content(&get(&self.lsb, "description"))
                .1
                .unwrap_or_default(),
        ];
        let like = get(&self.os, "id_like");
        if self.id == "debian" || like.split_whitespace().any(|l| l == "debian") {
            versions.push(self.debian_version.clone());
        }
        let mut version = String::new();
        if best {
            for v in versions {
                if v.matches('.').count() > version.matches('.').count() || version.is_empty() {
                    version = v;
                }
            }
        } else if let Some(v) = versions.into_iter().find(|v| !v.is_empty()) {
            version = v;
        }
        version
    }

    /// ansible's `get_distribution()`.
    fn distribution(&self) -> String {
        match capitalize(&self.id).as_str() {
            "Amzn" => "Amazon".into(),
            "Rhel" => "Redhat".into(),
            "" => "OtherLinux".into(),
            d => d.into(),
        }
    }

    /// ansible's `get_distribution_version()`.
    fn distribution_version(&self) -> String {
        let version = self.version(false);
        match self.id.as_str() {
            "centos" => self
                .version(true)
                .split('.')
                .take(2)
                .collect::<Vec<_>>()
                .join("."),
            "debian" => self.version(true),
            _ => version,
        }
    }

    /// ansible's `get_distribution_codename()`.
    fn codename(&self) -> Option<String> {
        if let Some(c) = self.os.get("version_codename") {
            return Some(c.clone());
        }
        if let Some(c) = self.os.get("ubuntu_codename") {
            return Some(c.clone());
        }
        if self.id == "ubuntu"
            && let Some(c) = self.lsb.get("codename")
        {
            return Some(c.clone());
        }
        let c = match self.os.get("codename") {
            Some(c) => c.clone(),
            None => self
                .lsb
                .get("codename")
                .filter(|s| !s.is_empty())
                .cloned()
                .or_else(|| self.rel.2.clone())
                .unwrap_or_default(),
        };
        (!c.is_empty()).then_some(c)
    }
}

/// Ansible's OS_FAMILY map.
fn os_family(distribution: &str) -> String {
    const MAP: &[(&str, &[&str])] = &[
        (
            "RedHat",
            &[
                "RedHat",
                "RHEL",
                "Fedora",
                "CentOS",
                "Scientific",
                "SLC",
                "Ascendos",
                "CloudLinux",
                "PSBM",
                "OracleLinux",
                "OVS",
                "OEL",
                "Amazon",
                "Amzn",
                "Virtuozzo",
                "XenServer",
                "Alibaba",
                "EulerOS",
                "openEuler",
                "AlmaLinux",
                "Rocky",
                "TencentOS",
                "EuroLinux",
                "Kylin Linux Advanced Server",
                "MIRACLE",
            ],
        ),
        (
            "Debian",
            &[
                "Debian",
                "Ubuntu",
                "Raspbian",
                "Neon",
                "KDE neon",
                "Linux Mint",
                "SteamOS",
                "Devuan",
                "Kali",
                "Cumulus Linux",
                "Pop!_OS",
                "Parrot",
                "Pardus GNU/Linux",
                "Uos",
                "Deepin",
                "OSMC",
                "Linux Mint Debian Edition",
            ],
        ),
        (
            "Suse",
            &[
                "SuSE",
                "SLES",
                "SLED",
                "openSUSE",
                "openSUSE Tumbleweed",
                "SLES_SAP",
                "SUSE_LINUX",
                "openSUSE Leap",
                "ALP-Dolomite",
                "SL-Micro",
                "openSUSE MicroOS",
            ],
        ),
        ("Archlinux", &["Archlinux", "Antergos", "Manjaro"]),
        ("Mandrake", &["Mandrake", "Mandriva"]),
        (
            "Solaris",
            &["Solaris", "Nexenta", "OmniOS", "OpenIndiana", "SmartOS"],
        ),
        ("Slackware", &["Slackware"]),
        ("Altlinux", &["Altlinux"]),
        ("SMGL", &["SMGL"]),
        ("Gentoo", &["Gentoo", "Funtoo"]),
        ("Alpine", &["Alpine"]),
        ("AIX", &["AIX"]),
        ("HP-UX", &["HPUX"]),
        ("Darwin", &["MacOSX"]),
        ("FreeBSD", &["FreeBSD", "TrueOS"]),
        ("ClearLinux", &["Clear Linux OS", "Clear Linux Mix"]),
        (
            "DragonFly",
            &[
                "DragonflyBSD",
                "DragonFlyBSD",
                "Gentoo/DragonflyBSD",
                "Gentoo/DragonFlyBSD",
            ],
        ),
        ("NetBSD", &["NetBSD"]),
    ];
    MAP.iter()
        .find(|(_, names)| names.contains(&distribution))
        .map(|(family, _)| family.to_string())
        .unwrap_or_else(|| distribution.to_owned())
}

/// Distribution facts being assembled (all strings but one flag).
#[derive(Default)]
struct Dist {
    s: IndexMap<String, String>,
    parsed: Option<bool>,
}

impl Dist {
    fn set(&mut self, k: &str, v: impl Into<String>) {
        self.s.insert(k.to_owned(), v.into());
    }
    fn get(&self, k: &str) -> &str {
        self.s.get(k).map(String::as_str).unwrap_or("")
    }
}

type DistFile = (bool, IndexMap<String, String>);

fn parse_dist_file(
    p: &Probe,
    guess: &DistroGuess,
    name: &str,
    data: &str,
    path: &str,
    collected: &Dist,
) -> DistFile {
    let mut f: IndexMap<String, String> = IndexMap::new();
    let search = match name {
        "OracleLinux" => Some("Oracle Linux"),
        "RedHat" => Some("Red Hat"),
        "Altlinux" => Some("ALT"),
        "SMGL" => Some("Source Mage GNU/Linux"),
        _ => None,
    };
    if let Some(s) = search {
        if data.contains(s) {
            f.insert("distribution".into(), name.into());
            f.insert("distribution_file_search_string".into(), s.into());
        } else {
            f.insert(
                "distribution".into(),
                data.split_whitespace().next().unwrap_or("").into(),
            );
        }
        return (true, f);
    }
    if name == "Archlinux" {
        if data.contains("Arch Linux") {
            f.insert("distribution".into(), name.into());
            return (true, f);
        }
        return (false, f);
    }
    let set = |f: &mut IndexMap<String, String>, k: &str, v: &str| {
        f.insert(k.to_owned(), v.to_owned());
    };
    match name {
        "Slackware" => {
            if !data.contains("Slackware") {
                return (false, f);
            }
            set(&mut f, "distribution", name);
            if let Some(v) = cap1(r"(\w+[.]\w+\+?)", data) {
                set(&mut f, "distribution_version", &v);
            }
            (true, f)
        }
        "Amazon" => {
            if !data.contains("Amazon") {
                return (false, f);
            }
            set(&mut f, "distribution", "Amazon");
            if path == "/etc/os-release" {
                if let Some(v) = cap1(r#"VERSION_ID="(.*)""#, data) {
                    set(&mut f, "distribution_version", &v);
                    let parts: Vec<&str> = v.split('.').collect();
                    let (major, minor) = if parts.len() > 1 {
                        (parts[0], parts[1])
                    } else {
                        (parts[0], "NA")
                    };
                    set(&mut f, "distribution_major_version", major);
                    set(&mut f, "distribution_minor_version", minor);
                }
            } else {
                let v = data
                    .split_whitespace()
                    .find(|w| w.chars().all(|c| c.is_ascii_digit()))
                    .unwrap_or("NA");
                set(&mut f, "distribution_version", v);
            }
            (true, f)
        }
        "OpenWrt" => {
            if !data.contains("OpenWrt") {
                return (false, f);
            }
            set(&mut f, "distribution", name);
            if let Some(v) = cap1(r#"DISTRIB_RELEASE="(.*)""#, data) {
                set(&mut f, "distribution_version", &v);
            }
            if let Some(v) = cap1(r#"DISTRIB_CODENAME="(.*)""#, data) {
                set(&mut f, "distribution_release", &v);
            }
            (true, f)
        }
        "Alpine" => {
            set(&mut f, "distribution", "Alpine");
            set(&mut f, "distribution_version", data);
            (true, f)
        }
        "SUSE" => {
            let lower = data.to_lowercase();
            if !lower.contains("suse") {
                return (false, f);
            }
            if path == "/etc/os-release" {
                for line in data.lines() {
                    if let Some(d) = cap1(r"^NAME=(.*)", line) {
                        set(&mut f, "distribution", d.trim_matches('"'));
                    }
                    if let Some(v) = cap1(r#"^VERSION_ID="?([0-9]+\.?[0-9]*)"?"#, line) {
                        set(&mut f, "distribution_version", &v);
                        set(
                            &mut f,
                            "distribution_major_version",
                            v.split('.').next().unwrap_or(""),
                        );
                    }
                    if lower.contains("open") {
                        if let Some(r) = cap1(r#"^VERSION_ID="?[0-9]+\.?([0-9]*)"?"#, line) {
                            set(&mut f, "distribution_release", &r);
                        }
                    } else if lower.contains("enterprise")
                        && line.contains("VERSION_ID")
                        && let Some(r) = cap1(r#"^VERSION_ID="?[0-9]+\.?([0-9]*)"?"#, line)
                    {
                        let r = if r.is_empty() { "0".to_owned() } else { r };
                        set(&mut f, "distribution_release", &r);
                    }
                }
            } else if path == "/etc/SuSE-release" {
                let lines: Vec<&str> = data.lines().collect();
                if lower.contains("open") {
                    if let Some(first) = lines.first() {
                        set(
                            &mut f,
                            "distribution",
                            first.split_whitespace().next().unwrap_or(""),
                        );
                    }
                    for line in &lines {
                        if let Some(r) = cap1(r"CODENAME *= *([^\n]+)", line) {
                            set(&mut f, "distribution_release", r.trim());
                        }
                    }
                } else if lower.contains("enterprise") {
                    if data.contains("Server") {
                        set(&mut f, "distribution", "SLES");
                    } else if data.contains("Desktop") {
                        set(&mut f, "distribution", "SLED");
                    }
                    for line in &lines {
                        if let Some(r) = cap1(r"PATCHLEVEL = ([0-9]+)", line) {
                            set(&mut f, "distribution_release", &r);
                            let v = format!("{}.{r}", collected.get("distribution_version"));
                            set(&mut f, "distribution_version", &v);
                        }
                    }
                }
            }
            if let Some(variant) = cap1(r#"(?m)^VARIANT_ID="?([^"\n]*)"?"#, data) {
                match variant.as_str() {
                    "server-sap" | "sles-sap" => set(&mut f, "distribution", "SLES_SAP"),
                    "transactional" => set(&mut f, "distribution", "SL-Micro"),
                    _ => {}
                }
            } else if let Some(target) = p.section("baseproduct") {
                let t = target.trim();
                if t.ends_with("SLES_SAP.prod") {
                    set(&mut f, "distribution", "SLES_SAP");
                } else if t.ends_with("SL-Micro.prod") {
                    set(&mut f, "distribution", "SL-Micro");
                }
            }
            (true, f)
        }
        "Debian" => {
            if data.contains("Debian") || data.contains("Raspbian") {
                set(&mut f, "distribution", "Debian");
                if let Some(r) = cap1(r"PRETTY_NAME=[^(]+ \(?([^)]+?)\)", data) {
                    set(&mut f, "distribution_release", &r);
                }
                for line in p.file_lines("/etc/debian_version") {
                    if let Some(c) = Regex::new(r"(\d+)\.(\d+)")
                        .ok()
                        .and_then(|r| r.captures(line.trim()).map(|c| c[2].to_owned()))
                    {
                        set(&mut f, "distribution_minor_version", &c);
                    }
                }
            } else if data.contains("Ubuntu") {
                set(&mut f, "distribution", "Ubuntu");
            } else if data.contains("SteamOS") {
                set(&mut f, "distribution", "SteamOS");
            } else if (path == "/etc/lsb-release" || path == "/etc/os-release")
                && (data.contains("Kali") || data.contains("Parrot"))
            {
                let d = if data.contains("Kali") {
                    "Kali"
                } else {
                    "Parrot"
                };
                set(&mut f, "distribution", d);
                if let Some(r) = cap1(r"DISTRIB_RELEASE=(.*)", data) {
                    set(&mut f, "distribution_release", &r);
                }
            } else if data.contains("Devuan") {
                set(&mut f, "distribution", "Devuan");
                if let Some(r) = cap1(r#"PRETTY_NAME="?[^("]+ \(?([^) "]+)\)?"#, data) {
                    set(&mut f, "distribution_release", &r);
                }
                if let Some(v) = cap1(r#"VERSION_ID="(.*)""#, data) {
                    set(&mut f, "distribution_version", &v);
                    set(&mut f, "distribution_major_version", &v);
                }
            } else if data.contains("Cumulus") {
                set(&mut f, "distribution", "Cumulus Linux");
                if let Some(v) = cap1(r"VERSION_ID=(.*)", data) {
                    set(&mut f, "distribution_version", &v);
                    set(
                        &mut f,
                        "distribution_major_version",
                        v.split('.').next().unwrap_or(""),
                    );
                }
                if let Some(r) = cap1(r#"VERSION="(.*)""#, data) {
                    set(&mut f, "distribution_release", &r);
                }
            } else if data.contains("Mint") {
                set(&mut f, "distribution", "Linux Mint");
                if let Some(v) = cap1(r#"VERSION_ID="(.*)""#, data) {
                    set(&mut f, "distribution_version", &v);
                    set(
                        &mut f,
                        "distribution_major_version",
                        v.split('.').next().unwrap_or(""),
                    );
                }
            } else if data.contains("UOS") || data.contains("Uos") || data.contains("uos") {
                set(&mut f, "distribution", "Uos");
                codename_and_version(&mut f, data);
            } else if data.contains("Deepin") || data.contains("deepin") {
                set(&mut f, "distribution", "Deepin");
                codename_and_version(&mut f, data);
            } else if data.contains("LMDE") {
                set(&mut f, "distribution", "Linux Mint Debian Edition");
            } else {
                return (false, f);
            }
            (true, f)
        }
        "Mandriva" => {
            if !data.contains("Mandriva") {
                return (false, f);
            }
            set(&mut f, "distribution", "Mandriva");
            if let Some(v) = cap1(r#"DISTRIB_RELEASE="(.*)""#, data) {
                set(&mut f, "distribution_version", &v);
            }
            if let Some(v) = cap1(r#"DISTRIB_CODENAME="(.*)""#, data) {
                set(&mut f, "distribution_release", &v);
            }
            (true, f)
        }
        "NA" => {
            for line in data.lines() {
                if let Some(d) = cap1(r"^NAME=(.*)", line) {
                    set(&mut f, "distribution", d.trim_matches('"'));
                }
                if let Some(v) = cap1(r"^VERSION=(.*)", line)
                    && collected.get("distribution_version") == "NA"
                {
                    set(&mut f, "distribution_version", v.trim_matches('"'));
                }
            }
            (true, f)
        }
        "Coreos" => {
            if guess.distribution().to_lowercase() != "coreos" || data.is_empty() {
                return (false, f);
            }
            if let Some(r) = cap1(r"^GROUP=(.*)", data) {
                set(&mut f, "distribution_release", r.trim_matches('"'));
            }
            (true, f)
        }
        "Flatcar" => {
            if guess.distribution().to_lowercase() != "flatcar" || data.is_empty() {
                return (false, f);
            }
            if let Some(v) = cap1(r"VERSION=(.*)", data) {
                let v = v.trim_matches('"');
                set(
                    &mut f,
                    "distribution_major_version",
                    v.split('.').next().unwrap_or(""),
                );
                set(&mut f, "distribution_version", v);
            }
            (true, f)
        }
        "ClearLinux" => {
            if let Some(n) = cap1(r#"NAME="(.*)""#, data) {
                if !n.contains("Clear Linux") {
                    return (false, f);
                }
                set(&mut f, "distribution", &n);
            }
            if let Some(v) = cap1(r"VERSION_ID=(.*)", data) {
                set(&mut f, "distribution_major_version", &v);
                set(&mut f, "distribution_version", &v);
            }
            if let Some(r) = cap1(r"ID=(.*)", data) {
                set(&mut f, "distribution_release", &r);
            }
            (true, f)
        }
        "CentOS" => {
            if data.contains("CentOS Stream") {
                set(&mut f, "distribution_release", "Stream");
                return (true, f);
            }
            if data.contains("TencentOS Server") {
                set(&mut f, "distribution", "TencentOS");
                return (true, f);
            }
            (false, f)
        }
        // Gentoo and the like have no parser in Ansible.
        _ => (false, f),
    }
}

fn codename_and_version(f: &mut IndexMap<String, String>, data: &str) {
    if let Some(r) = cap1(r#"VERSION_CODENAME="?([^"]+)"?"#, data) {
        f.insert("distribution_release".into(), r);
    }
    if let Some(v) = cap1(r#"VERSION_ID="(.*)""#, data) {
        f.insert(
            "distribution_major_version".into(),
            v.split('.').next().unwrap_or("").to_owned(),
        );
        f.insert("distribution_version".into(), v);
    }
}

/// The distribution facts, as `Distribution.get_distribution_facts`.
fn distribution_facts(p: &Probe, u: &Uname) -> Facts {
    let mut d = Dist::default();
    d.set("distribution", &u.system);
    d.set("distribution_release", &u.release);
    d.set("distribution_version", &u.version);
    if u.system == "Linux" {
        let guess = DistroGuess::new(p);
        let version = guess.distribution_version();
        let version = if version.is_empty() {
            "NA".to_owned()
        } else {
            version
        };
        let mut files = Dist::default();
        files.set("distribution", guess.distribution());
        files.set("distribution_version", &version);
        files.set(
            "distribution_release",
            guess.codename().unwrap_or_else(|| "NA".into()),
        );
        let major = version.split('.').next().unwrap_or("");
        files.set(
            "distribution_major_version",
            if major.is_empty() { "NA" } else { major },
        );
        const OSDIST: &[(&str, &str, bool)] = &[
            ("/etc/altlinux-release", "Altlinux", false),
            ("/etc/oracle-release", "OracleLinux", false),
            ("/etc/slackware-version", "Slackware", false),
            ("/etc/centos-release", "CentOS", false),
            ("/etc/redhat-release", "RedHat", false),
            ("/etc/vmware-release", "VMwareESX", true),
            ("/etc/openwrt_release", "OpenWrt", false),
            ("/etc/os-release", "Amazon", false),
            ("/etc/system-release", "Amazon", false),
            ("/etc/alpine-release", "Alpine", false),
            ("/etc/arch-release", "Archlinux", true),
            ("/etc/os-release", "Archlinux", false),
            ("/etc/os-release", "SUSE", false),
            ("/etc/SuSE-release", "SUSE", false),
            ("/etc/gentoo-release", "Gentoo", false),
            ("/etc/os-release", "Debian", false),
            ("/etc/lsb-release", "Debian", false),
            ("/etc/lsb-release", "Mandriva", false),
            ("/etc/sourcemage-release", "SMGL", false),
            ("/usr/lib/os-release", "ClearLinux", false),
            ("/etc/coreos/update.conf", "Coreos", false),
            ("/etc/os-release", "Flatcar", false),
            ("/etc/os-release", "NA", false),
        ];
        for &(path, name, allow_empty) in OSDIST {
            let raw = p.raw(path);
            let present = match raw {
                Some(r) => allow_empty || !r.is_empty(),
                None => allow_empty && p.exists(path),
            };
            if !present {
                continue;
            }
            if allow_empty {
                files.set("distribution", name);
                files.set("distribution_file_path", path);
                files.set("distribution_file_variety", name);
                break;
            }
            let data = strip_chars(raw.unwrap_or("").trim(), "'\"\\");
            let (parsed, facts) = parse_dist_file(p, &guess, name, data, path, &files);
            if parsed {
                files.set("distribution", name);
                files.set("distribution_file_path", path);
                files.set("distribution_file_variety", name);
                files.parsed = Some(true);
                for (k, v) in facts {
                    files.s.insert(k, v);
                }
                break;
            }
        }
        for (k, v) in files.s {
            d.s.insert(k, v);
        }
        d.parsed = files.parsed;
    }
    let family = os_family(d.get("distribution"));
    let mut out: Facts = d.s.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
    if let Some(parsed) = d.parsed {
        out.insert("distribution_file_parsed".into(), Value::from(parsed));
    }
    out.insert("os_family".into(), Value::from(family));
    out
}
