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
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
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
    summary: "Gather facts about the host.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "One read-only shell script reads /proc, /sys, /etc and a few commands (`uname`, \
         `id`, `ip` …) in one round trip; the facts are built on the controller with \
         ansible-core's names and shapes. No Python on the target.",
        "`gather_subset` selects among ansible-core's Linux collectors as ansible-core does; \
         `facter` and `ohai` gather nothing, and hardware, network and virtual facts are \
         gathered on Linux only.",
    ],
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
    let owner = |n: &str| {
        COLLECTORS
            .iter()
            .find(|c| c.name == n || c.ids.contains(&n))
    };

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
                "X" => p
                    .exists
                    .extend(content.lines().filter(|l| !l.is_empty()).map(str::to_owned)),
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
        self.file(path)
            .map(|s| s.lines().collect())
            .unwrap_or_default()
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
        Some(f) => f
            .to_uppercase()
            .chain(cs.flat_map(char::to_lowercase))
            .collect(),
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
                if let Some(n) = chars.next()
                    && n != '\n'
                {
                    cur.push(n);
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
    rel: (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ),
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
                static MINOR: OnceLock<Regex> = OnceLock::new();
                for line in p.file_lines("/etc/debian_version") {
                    if let Some(c) = re(&MINOR, r"(\d+)\.(\d+)").captures(line.trim()) {
                        set(&mut f, "distribution_minor_version", &c[2]);
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

// ---------------------------------------------------------------------------
// lsb, selinux, apparmor, chroot, fips, caps

fn lsb_facts(p: &Probe, f: &mut Facts) {
    let mut lsb: IndexMap<String, String> = IndexMap::new();
    if let Some(out) = p.cmd_ok("lsb_release") {
        for line in out.lines() {
            let Some((_, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim().to_owned();
            let key = if line.contains("LSB Version:") || line.contains("Release:") {
                "release"
            } else if line.contains("Distributor ID:") {
                "id"
            } else if line.contains("Description:") {
                "description"
            } else if line.contains("Codename:") {
                "codename"
            } else {
                continue;
            };
            lsb.insert(key.into(), value);
        }
    }
    if lsb.is_empty() {
        for line in p.file_lines("/etc/lsb-release") {
            let Some((_, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().to_owned();
            let key = if line.contains("DISTRIB_ID") {
                "id"
            } else if line.contains("DISTRIB_RELEASE") {
                "release"
            } else if line.contains("DISTRIB_DESCRIPTION") {
                "description"
            } else if line.contains("DISTRIB_CODENAME") {
                "codename"
            } else {
                continue;
            };
            lsb.insert(key.into(), value);
        }
    }
    if let Some(r) = lsb.get("release").cloned() {
        lsb.insert(
            "major_release".into(),
            r.split('.').next().unwrap_or("").to_owned(),
        );
    }
    let out: Facts = lsb
        .into_iter()
        .map(|(k, v)| {
            let v = strip_chars(&v, "'\"\\").to_owned();
            (k, Value::from(v))
        })
        .collect();
    f.insert("lsb".into(), obj(out));
}

fn selinux_facts(p: &Probe, f: &mut Facts) {
    let mut se: Facts = IndexMap::new();
    f.insert("selinux_python_present".into(), Value::from(true));
    match p
        .section("selinux")
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => {
            se.insert("status".into(), vs("disabled"));
        }
        Some(dir) => {
            let mode_name = |m: &str| match m {
                "1" | "enforcing" => "enforcing",
                "0" | "permissive" => "permissive",
                "-1" | "disabled" => "disabled",
                _ => "unknown",
            };
            se.insert("status".into(), vs("enabled"));
            se.insert(
                "policyvers".into(),
                p.file(&format!("{dir}/policyvers"))
                    .and_then(|v| v.parse::<i64>().ok())
                    .map(Value::from)
                    .unwrap_or_else(|| vs("unknown")),
            );
            let config: IndexMap<String, String> = p
                .file_lines("/etc/selinux/config")
                .into_iter()
                .filter(|l| !l.trim_start().starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            se.insert(
                "config_mode".into(),
                vs(config
                    .get("SELINUX")
                    .map(|m| mode_name(m))
                    .unwrap_or("unknown")),
            );
            se.insert(
                "mode".into(),
                vs(p.file(&format!("{dir}/enforce"))
                    .map(mode_name)
                    .unwrap_or("unknown")),
            );
            se.insert(
                "type".into(),
                vs(config
                    .get("SELINUXTYPE")
                    .map(String::as_str)
                    .unwrap_or("unknown")),
            );
        }
    }
    f.insert("selinux".into(), obj(se));
}

fn apparmor_facts(p: &Probe, f: &mut Facts) {
    let status = if p.exists("/sys/kernel/security/apparmor") {
        "enabled"
    } else {
        "disabled"
    };
    f.insert("apparmor".into(), vmap([("status", status)]));
}

fn chroot_facts(p: &Probe, env: &IndexMap<String, String>, f: &mut Facts) {
    let is_chroot = if env.get("debian_chroot").is_some_and(|v| !v.is_empty()) {
        true
    } else {
        let lines: Vec<&str> = p.section("chroot").unwrap_or("").lines().collect();
        let root = lines.first().copied().unwrap_or("").trim();
        let proc1 = lines.get(1).copied().unwrap_or("").trim();
        if !proc1.is_empty() {
            root != proc1
        } else {
            let fstype = lines.get(2).copied().unwrap_or("");
            let fs_root_ino = if fstype.contains("btrfs") {
                "256"
            } else if fstype.contains("xfs") {
                "128"
            } else {
                "2"
            };
            root.split_whitespace().nth(1) != Some(fs_root_ino)
        }
    };
    f.insert("is_chroot".into(), Value::from(is_chroot));
}

fn fips_facts(p: &Probe, f: &mut Facts) {
    f.insert(
        "fips".into(),
        Value::from(p.file("/proc/sys/crypto/fips_enabled") == Some("1")),
    );
}

fn caps_facts(p: &Probe, f: &mut Facts) {
    let mut enforced_v = vs("N/A");
    let mut caps_v = vs("N/A");
    if let Some(out) = p.cmd_ok("capsh") {
        let mut enforced = "NA";
        let mut caps: Vec<String> = Vec::new();
        for line in out.lines() {
            if line.starts_with("Current:") {
                if line.split(':').nth(1).unwrap_or("").trim() == "=ep" {
                    enforced = "False";
                } else {
                    enforced = "True";
                    caps = line
                        .split('=')
                        .nth(1)
                        .unwrap_or("")
                        .split(',')
                        .map(|c| c.trim().to_owned())
                        .collect();
                }
            }
        }
        enforced_v = vs(enforced);
        caps_v = list(caps);
    }
    f.insert("system_capabilities_enforced".into(), enforced_v);
    f.insert("system_capabilities".into(), caps_v);
}

// ---------------------------------------------------------------------------
// pkg_mgr, service_mgr, systemd

fn pkg_mgr_facts(p: &Probe, family: &str, f: &mut Facts) {
    const PKG_MGRS: &[(&str, &str)] = &[
        ("/usr/bin/rpm-ostree", "atomic_container"),
        ("/usr/bin/yum", "dnf"),
        ("/usr/bin/dnf-3", "dnf"),
        ("/usr/bin/dnf5", "dnf5"),
        ("/usr/bin/apt-get", "apt"),
        ("/usr/bin/zypper", "zypper"),
        ("/usr/sbin/urpmi", "urpmi"),
        ("/usr/bin/pacman", "pacman"),
        ("/bin/opkg", "opkg"),
        ("/usr/pkg/bin/pkgin", "pkgin"),
        ("/opt/local/bin/pkgin", "pkgin"),
        ("/opt/tools/bin/pkgin", "pkgin"),
        ("/opt/local/bin/port", "macports"),
        ("/usr/local/bin/brew", "homebrew"),
        ("/opt/homebrew/bin/brew", "homebrew"),
        ("/sbin/apk", "apk"),
        ("/usr/sbin/pkg", "pkgng"),
        ("/usr/sbin/swlist", "swdepot"),
        ("/usr/bin/emerge", "portage"),
        ("/usr/sbin/pkgadd", "svr4pkg"),
        ("/usr/bin/pkg", "pkg5"),
        ("/usr/bin/xbps-install", "xbps"),
        ("/usr/local/sbin/pkg", "pkgng"),
        ("/usr/bin/swupd", "swupd"),
        ("/usr/sbin/sorcery", "sorcery"),
        ("/usr/bin/installp", "installp"),
    ];
    let mut name = "unknown".to_owned();
    for (path, n) in PKG_MGRS {
        if family == "Altlinux" && *path == "/usr/bin/pkg" {
            continue;
        }
        if p.exists(path) {
            name = n.to_string();
        }
    }
    if family == "RedHat" {
        name = "unknown".into();
        if p.exists("/run/ostree-booted") {
            name = "atomic_container".into();
        } else {
            let real: HashMap<&str, &str> = p
                .section("realpath")
                .unwrap_or("")
                .lines()
                .filter_map(|l| l.split_once('\t'))
                .collect();
            for bin in ["/usr/bin/dnf", "/usr/bin/microdnf"] {
                if p.exists(bin) {
                    name = if real.get(bin) == Some(&"/usr/bin/dnf5") {
                        "dnf5".into()
                    } else {
                        "dnf".into()
                    };
                    break;
                }
            }
        }
    } else if family == "Debian" && name != "apt" {
        name = "apt".into();
    } else if family == "Altlinux" && name == "apt" {
        name = "apt_rpm".into();
    }
    if name == "apt" && p.exists("/usr/bin/rpm") {
        name = match p.cmd("rpm_apt") {
            Some((0, _)) => "apt_rpm".into(),
            _ => "apt".into(),
        };
    }
    f.insert("pkg_mgr".into(), Value::from(name));
}

fn systemd_canary(p: &Probe) -> bool {
    p.which("systemctl")
        && [
            "/run/systemd/system/",
            "/dev/.run/systemd/",
            "/dev/.systemd/",
        ]
        .iter()
        .any(|c| p.exists(c))
}

fn service_mgr_facts(p: &Probe, system: &str, distribution: &str, f: &mut Facts) {
    let mut proc_1: Option<String> = p.file("/proc/1/comm").map(str::to_owned);
    if proc_1.is_none() && p.raw("/proc/1/comm").is_none() {
        static PID: OnceLock<Regex> = OnceLock::new();
        if let Some((rc, out)) = p.cmd("ps1")
            && rc == 0
            && !out.trim().is_empty()
            && !re(&PID, r"^ *[0-9]+ ").is_match(out)
        {
            proc_1 = Some(out.to_owned());
        }
    }
    if proc_1.as_deref() == Some("COMMAND\n") {
        proc_1 = None;
    }
    if proc_1.is_none() {
        proc_1 = p.links.get("/sbin/init").cloned();
    }
    let proc_1 = proc_1
        .map(|s| s.rsplit('/').next().unwrap_or("").trim().to_owned())
        .filter(|s| s != "init" && !s.ends_with("sh"));
    let name = if let Some(p1) = proc_1 {
        match p1.as_str() {
            "procd" => "openwrt_init".to_owned(),
            "runit-init" => "runit".to_owned(),
            "svscan" => "svc".to_owned(),
            "openrc-init" => "openrc".to_owned(),
            _ => p1,
        }
    } else if system.contains("BSD") || system == "Bitrig" || system == "DragonFly" {
        "bsdinit".into()
    } else if system == "AIX" {
        "src".into()
    } else if system == "SunOS" {
        "smf".into()
    } else if distribution == "OpenWrt" {
        "openwrt_init".into()
    } else if distribution == "SMGL" {
        "simpleinit_msb".into()
    } else if system == "Linux" {
        let init_link = p
            .links
            .get("/sbin/init")
            .map(|t| t.rsplit('/').next().unwrap_or(""));
        if systemd_canary(p) {
            "systemd".into()
        } else if p.which("initctl") && p.exists("/etc/init/") {
            "upstart".into()
        } else if p.exists("/sbin/openrc") {
            "openrc".into()
        } else if p.which("systemctl") && init_link == Some("systemd") {
            "systemd".into()
        } else if p.exists("/etc/init.d/") {
            "sysvinit".into()
        } else if p.exists("/etc/dinit.d/") {
            "dinit".into()
        } else {
            "service".into()
        }
    } else {
        "service".into()
    };
    f.insert("service_mgr".into(), Value::from(name));
}

fn systemd_facts(p: &Probe, f: &mut Facts) {
    if !systemd_canary(p) {
        return;
    }
    let Some(out) = p.cmd_ok("systemctl") else {
        return;
    };
    let features = out.split('\n').nth(1).unwrap_or("");
    let Some(version) = out
        .split(' ')
        .nth(1)
        .and_then(|v| v.trim().parse::<i64>().ok())
    else {
        return;
    };
    f.insert(
        "systemd".into(),
        vmap([
            ("features", vs(features)),
            ("version", Value::from(version)),
        ]),
    );
}

// ---------------------------------------------------------------------------
// cmdline, date_time, env, loadavg, ssh_pub_keys, user

/// `shlex.split(data, posix=False)`.
fn shlex_nonposix(data: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = data.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else {
            break;
        };
        let mut tok = String::new();
        if c == '"' || c == '\'' {
            tok.push(c);
            chars.next();
            loop {
                match chars.next() {
                    Some(n) if n == c => {
                        tok.push(n);
                        break;
                    }
                    Some(n) => tok.push(n),
                    None => return None,
                }
            }
        } else {
            while let Some(&n) = chars.peek() {
                if n.is_whitespace() {
                    break;
                }
                tok.push(n);
                chars.next();
            }
        }
        out.push(tok);
    }
    Some(out)
}

fn cmdline_facts(p: &Probe, f: &mut Facts) {
    let Some(data) = p.file("/proc/cmdline") else {
        return;
    };
    let pieces = shlex_nonposix(data).unwrap_or_default();
    let mut simple: Facts = IndexMap::new();
    // proc_cmdline keeps every value of a repeated key, in a list.
    let mut proc: Facts = IndexMap::new();
    for piece in &pieces {
        match piece.split_once('=') {
            None => {
                simple.insert(piece.clone(), Value::from(true));
                proc.insert(piece.clone(), Value::from(true));
            }
            Some((k, v)) => {
                simple.insert(k.to_owned(), vs(v));
                match proc.get_mut(k) {
                    Some(existing) => {
                        let mut items: Vec<Value> =
                            if existing.kind() == minijinja::value::ValueKind::Seq {
                                existing.try_iter().map(|i| i.collect()).unwrap_or_default()
                            } else {
                                vec![existing.clone()]
                            };
                        items.push(vs(v));
                        *existing = Value::from(items);
                    }
                    None => {
                        proc.insert(k.to_owned(), vs(v));
                    }
                }
            }
        }
    }
    f.insert("cmdline".into(), obj(simple));
    f.insert("proc_cmdline".into(), obj(proc));
}

/// Days since 1970-01-01 to a civil date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn date_time_facts(p: &Probe, f: &mut Facts) {
    let text = p.section("date").unwrap_or("");
    let mut lines = text.lines();
    let w: Vec<&str> = lines.next().unwrap_or("").split('|').collect();
    if w.len() < 13 {
        return;
    }
    let (epoch, nanos) = (w[0], w[1]);
    let (year, month, day, hour, minute, second) = (w[2], w[3], w[4], w[5], w[6], w[7]);
    let micro = if nanos.len() >= 6 && nanos.chars().all(|c| c.is_ascii_digit()) {
        nanos[..6].to_owned()
    } else {
        "000000".to_owned()
    };
    let secs: i64 = epoch.parse().unwrap_or(0);
    let (uy, um, ud) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let utc = format!(
        "{uy:04}-{um:02}-{ud:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    let tz = w[11];
    // time.tzname[1]: the zone's daylight-saving name, or its only name.
    let zone = |l: Option<&str>| -> Option<(i64, String)> {
        let (off, name) = l?.split_once('|')?;
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let digits = off.trim_start_matches(['+', '-']);
        let n: i64 = digits.parse().ok()?;
        Some((sign * ((n / 100) * 60 + n % 100), name.to_owned()))
    };
    let jan = zone(lines.next());
    let jul = zone(lines.next());
    let tz_dst = match (jan, jul) {
        (Some((o1, n1)), Some((o2, n2))) if n1 != n2 => {
            if o2 > o1 {
                n2
            } else {
                n1
            }
        }
        (Some((_, n)), _) => n,
        _ => tz.to_owned(),
    };
    let dt = vmap([
        ("year", vs(year)),
        ("month", vs(month)),
        ("weekday", vs(w[12])),
        ("weekday_number", vs(w[8])),
        ("weeknumber", vs(w[9])),
        ("day", vs(day)),
        ("hour", vs(hour)),
        ("minute", vs(minute)),
        ("second", vs(second)),
        ("epoch", vs(epoch)),
        ("epoch_int", vs(epoch)),
        ("date", Value::from(format!("{year}-{month}-{day}"))),
        ("time", Value::from(format!("{hour}:{minute}:{second}"))),
        ("iso8601_micro", Value::from(format!("{utc}.{micro}Z"))),
        ("iso8601", Value::from(format!("{utc}Z"))),
        (
            "iso8601_basic",
            Value::from(format!("{year}{month}{day}T{hour}{minute}{second}{micro}")),
        ),
        (
            "iso8601_basic_short",
            Value::from(format!("{year}{month}{day}T{hour}{minute}{second}")),
        ),
        ("tz", vs(tz)),
        ("tz_dst", Value::from(tz_dst)),
        ("tz_offset", vs(w[10])),
    ]);
    f.insert("date_time".into(), dt);
}

/// The target's environment as the probe's shell got it.
fn target_env(p: &Probe) -> IndexMap<String, String> {
    let mut env = IndexMap::new();
    if let Some(raw) = p.section("env0") {
        for entry in raw.split('\0') {
            if let Some((k, v)) = entry.split_once('=') {
                env.insert(k.to_owned(), v.to_owned());
            }
        }
    } else if let Some(raw) = p.section("env") {
        let mut last: Option<String> = None;
        for line in raw.lines() {
            match line.split_once('=') {
                Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
                    env.insert(k.to_owned(), v.to_owned());
                    last = Some(k.to_owned());
                }
                _ => {
                    if let Some(k) = &last
                        && let Some(v) = env.get_mut(k)
                    {
                        v.push('\n');
                        v.push_str(line);
                    }
                }
            }
        }
    }
    env
}

fn loadavg_facts(p: &Probe, f: &mut Facts) {
    let Some(data) = p.file("/proc/loadavg") else {
        return;
    };
    let v: Vec<f64> = data
        .split_whitespace()
        .take(3)
        .filter_map(|s| s.parse().ok())
        .collect();
    if let [a, b, c] = v[..] {
        f.insert(
            "loadavg".into(),
            vmap([
                ("1m", Value::from(a)),
                ("5m", Value::from(b)),
                ("15m", Value::from(c)),
            ]),
        );
    }
}

fn ssh_pub_key_facts(p: &Probe, f: &mut Facts) {
    let mut keys: Facts = IndexMap::new();
    'dirs: for dir in ["/etc/ssh", "/etc/openssh", "/etc"] {
        for algo in ["dsa", "rsa", "ecdsa", "ed25519"] {
            let name = format!("ssh_host_key_{algo}_public");
            if keys.contains_key(&name) {
                break 'dirs;
            }
            if let Some(data) = p.file(&format!("{dir}/ssh_host_{algo}_key.pub")) {
                let mut w = data.split_whitespace();
                if let (Some(kind), Some(key)) = (w.next(), w.next()) {
                    keys.insert(name.clone(), vs(key));
                    keys.insert(format!("{name}_keytype"), vs(kind));
                }
            }
        }
    }
    f.extend(keys);
}

fn user_facts(p: &Probe, f: &mut Facts) {
    let lines: Vec<&str> = p.section("user").unwrap_or("").lines().collect();
    let num = |i: usize| -> Value {
        lines
            .get(i)
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map(Value::from)
            .unwrap_or_else(none)
    };
    let name = lines.get(4).copied().unwrap_or("");
    f.insert("user_id".into(), vs(name));
    let pw: Vec<&str> = lines.get(5).copied().unwrap_or("").split(':').collect();
    if pw.len() >= 7 {
        let id = |s: &str| s.parse::<i64>().map(Value::from).unwrap_or_else(|_| vs(s));
        f.insert("user_uid".into(), id(pw[2]));
        f.insert("user_gid".into(), id(pw[3]));
        f.insert("user_gecos".into(), vs(pw[4]));
        f.insert("user_dir".into(), vs(pw[5]));
        f.insert("user_shell".into(), vs(&pw[6..].join(":")));
    }
    f.insert("real_user_id".into(), num(1));
    f.insert("effective_user_id".into(), num(0));
    f.insert("real_group_id".into(), num(3));
    // Ansible reports os.getgid() here, the real group id.
    f.insert("effective_group_id".into(), num(3));
}

// ---------------------------------------------------------------------------
// virtual

fn virtual_facts(p: &Probe, f: &mut Facts) {
    let mut vtype: Option<String> = None;
    let mut role: Option<String> = None;
    let mut found = false;
    let mut host: BTreeSet<String> = BTreeSet::new();
    let mut guest: BTreeSet<String> = BTreeSet::new();
    macro_rules! hit {
        ($set:ident, $tech:expr, $ty:expr, $role:expr) => {{
            $set.insert($tech.to_string());
            if !found {
                vtype = Some($ty.to_string());
                role = Some($role.to_string());
                found = true;
            }
        }};
    }
    static DOCKER: OnceLock<Regex> = OnceLock::new();
    for line in p.file_lines("/proc/1/cgroup") {
        if re(&DOCKER, r"/docker(/|-[0-9a-f]+\.scope)").is_match(line) {
            hit!(guest, "docker", "docker", "guest");
        }
        if line.contains("/lxc/") || line.contains("/machine.slice/machine-lxc") {
            hit!(guest, "lxc", "lxc", "guest");
        }
        if line.contains("/system.slice/containerd.service") {
            hit!(guest, "containerd", "containerd", "guest");
        }
    }
    if let Some(env) = p.file("/proc/1/environ") {
        for entry in env.split('\0') {
            if entry.contains("container=lxc") {
                hit!(guest, "lxc", "lxc", "guest");
            }
            if entry.contains("container=podman") {
                hit!(guest, "podman", "podman", "guest");
            }
            if entry.starts_with("container=") && entry.len() > "container=".len() {
                hit!(guest, "container", "container", "guest");
            }
        }
    }
    if p.exists("/proc/vz") && !p.exists("/proc/lve") {
        vtype = Some("openvz".into());
        if p.exists("/proc/bc") {
            host.insert("openvz".into());
            if !found {
                role = Some("host".into());
            }
        } else {
            guest.insert("openvz".into());
            if !found {
                role = Some("guest".into());
            }
        }
        found = true;
    }
    let systemd_container = p.file("/run/systemd/container").map(str::to_owned);
    if let Some(c) = &systemd_container {
        hit!(guest, c, c, "guest");
    }
    if p.exists("/.dockerenv") || p.exists("/.dockerinit") {
        hit!(guest, "docker", "docker", "guest");
    }
    if ["docker", "lxc", "podman", "openvz", "containerd"]
        .iter()
        .any(|t| guest.contains(*t))
        || systemd_container.is_some()
    {
        guest.insert("container".into());
    }
    if p.exists("/proc/xen") {
        let is_host = p
            .file_lines("/proc/xen/capabilities")
            .iter()
            .any(|l| l.contains("control_d"));
        if is_host {
            host.insert("xen".into());
            if !found {
                vtype = Some("xen".into());
                role = Some("host".into());
            }
        } else if !found {
            vtype = Some("xen".into());
            role = Some("guest".into());
        }
        found = true;
    }
    let assumed_guest = !found;
    if assumed_guest {
        role = Some("guest".into());
    }
    macro_rules! guest_type {
        ($tech:expr, $ty:expr) => {{
            guest.insert($tech.to_string());
            if !found {
                vtype = Some($ty.to_string());
                found = true;
            }
        }};
    }
    const DMI: &str = "/sys/devices/virtual/dmi/id";
    let product_name = p.file(&format!("{DMI}/product_name"));
    let sys_vendor = p.file(&format!("{DMI}/sys_vendor"));
    let product_family = p.file(&format!("{DMI}/product_family"));
    let bios_vendor = p.file(&format!("{DMI}/bios_vendor"));
    if let Some(pn) = product_name
        && [
            "KVM",
            "KVM Server",
            "Bochs",
            "AHV",
            "CloudStack KVM Hypervisor",
        ]
        .contains(&pn)
    {
        guest_type!("kvm", "kvm");
    }
    if sys_vendor == Some("oVirt") {
        guest_type!("oVirt", "oVirt");
    }
    if sys_vendor == Some("Red Hat") {
        if product_family == Some("RHV") {
            guest_type!("RHV", "RHV");
        } else if product_name == Some("RHEV Hypervisor") {
            guest_type!("RHEV", "RHEV");
        }
    }
    if product_name.is_some_and(|n| n.starts_with("VMware")) {
        guest_type!("VMware", "VMware");
    }
    if matches!(product_name, Some("OpenStack Compute" | "OpenStack Nova")) {
        guest_type!("openstack", "openstack");
    }
    if bios_vendor == Some("Xen") {
        guest_type!("xen", "xen");
    }
    if bios_vendor == Some("innotek GmbH") {
        guest_type!("virtualbox", "virtualbox");
    }
    if matches!(
        bios_vendor,
        Some("Amazon EC2" | "DigitalOcean" | "Hetzner" | "Linode")
    ) {
        guest_type!("kvm", "kvm");
    }
    if matches!(
        sys_vendor,
        Some("QEMU" | "Amazon EC2" | "DigitalOcean" | "Google" | "Scaleway" | "Nutanix")
    ) {
        guest_type!("kvm", "kvm");
    }
    if sys_vendor == Some("KubeVirt") {
        guest_type!("KubeVirt", "KubeVirt");
    }
    if sys_vendor == Some("Microsoft Corporation") {
        guest_type!("VirtualPC", "VirtualPC");
    }
    if sys_vendor == Some("Parallels Software International Inc.") {
        guest_type!("parallels", "parallels");
    }
    if sys_vendor == Some("OpenStack Foundation") {
        guest_type!("openstack", "openstack");
    }
    if !found {
        role = None;
    }
    static VXID: OnceLock<Regex> = OnceLock::new();
    for line in p.file_lines("/proc/self/status") {
        if re(&VXID, r"^VxID:\s+\d+").is_match(line) {
            if !found {
                vtype = Some("linux_vserver".into());
            }
            static VXID0: OnceLock<Regex> = OnceLock::new();
            if re(&VXID0, r"^VxID:\s+0").is_match(line) {
                host.insert("linux_vserver".into());
                if !found {
                    role = Some("host".into());
                }
            } else {
                guest.insert("linux_vserver".into());
                if !found {
                    role = Some("guest".into());
                }
            }
            found = true;
        }
    }
    for line in p.file_lines("/proc/cpuinfo") {
        let starts = |k: &str, needle: &str| line.starts_with(k) && line.contains(needle);
        let (tech, ty) = if starts("model name", "QEMU Virtual CPU") {
            ("kvm".to_owned(), "kvm".to_owned())
        } else if starts("vendor_id", "User Mode Linux") || starts("model name", "UML") {
            ("uml".into(), "uml".into())
        } else if starts("machine", "CHRP IBM pSeries (emulated by qemu)") {
            ("kvm".into(), "kvm".into())
        } else if starts("vendor_id", "PowerVM Lx86") {
            ("powervm_lx86".into(), "powervm_lx86".into())
        } else if starts("vendor_id", "IBM/S390") {
            guest.insert("PR/SM".into());
            if !found {
                vtype = Some("PR/SM".into());
            }
            match p.cmd_ok("lscpu") {
                Some(out) => {
                    for l in out.lines() {
                        if let Some((k, v)) = l.split_once(':')
                            && k.trim() == "Hypervisor"
                        {
                            guest.insert(v.trim().to_owned());
                            if !found {
                                vtype = Some(v.trim().to_owned());
                            }
                        }
                    }
                }
                None => {
                    guest.insert("ibm_systemz".into());
                    if !found {
                        vtype = Some("ibm_systemz".into());
                    }
                }
            }
            if !found {
                role = Some(if vtype.as_deref() == Some("PR/SM") {
                    "LPAR".into()
                } else {
                    "guest".into()
                });
            }
            found = true;
            continue;
        } else {
            continue;
        };
        guest.insert(tech);
        if !found {
            vtype = Some(ty);
            role = Some("guest".into());
            found = true;
        }
    }
    if p.exists("/proc/modules") {
        let modules: Vec<&str> = p
            .file_lines("/proc/modules")
            .iter()
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        if modules.contains(&"kvm") {
            host.insert("kvm".into());
            if !found {
                vtype = Some("kvm".into());
                role = Some("host".into());
            }
            if p.exists("/rhev/") && p.section("vdsm").is_some_and(|s| !s.trim().is_empty()) {
                host.insert("RHEV".into());
                if !found {
                    vtype = Some("RHEV".into());
                }
            }
            found = true;
        }
        if modules.contains(&"vboxdrv") {
            host.insert("virtualbox".into());
            if !found {
                vtype = Some("virtualbox".into());
                role = Some("host".into());
                found = true;
            }
        }
        if modules.contains(&"virtio") {
            host.insert("kvm".into());
            if !found {
                vtype = Some("kvm".into());
                role = Some("guest".into());
                found = true;
            }
        }
    }
    if let Some(out) = p.cmd_ok("dmidecode") {
        let vendor: String = out
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::trim)
            .collect();
        if vendor.starts_with("VMware") {
            hit!(guest, "VMware", "VMware", "guest");
        }
        if out.contains("BHYVE") {
            hit!(guest, "bhyve", "bhyve", "guest");
        }
    }
    if p.exists("/dev/kvm") {
        hit!(host, "kvm", "kvm", "host");
    }
    if !found {
        vtype = Some("NA".into());
        role = Some("NA".into());
    }
    if let Some(t) = vtype {
        f.insert("virtualization_type".into(), Value::from(t));
    }
    if let Some(r) = role {
        f.insert("virtualization_role".into(), Value::from(r));
    }
    f.insert("virtualization_tech_guest".into(), list(guest));
    f.insert("virtualization_tech_host".into(), list(host));
}

// ---------------------------------------------------------------------------
// hardware

fn cpu_facts(p: &Probe, arch: &str, f: &mut Facts) {
    if !p.exists("/proc/cpuinfo") {
        return;
    }
    let xen = p.exists("/proc/xen")
        || p.file_lines("/sys/hypervisor/type")
            .first()
            .map(|l| l.trim())
            == Some("xen");
    let mut xen_paravirt = false;
    let mut processor: Vec<Value> = Vec::new();
    let mut flags: Option<Vec<Value>> = None;
    let (mut i, mut vendor_occ, mut model_occ, mut proc_occ) = (0i64, 0i64, 0i64, 0i64);
    let mut physid = String::from("0");
    let mut coreid = String::from("0");
    let mut sockets: IndexMap<String, i64> = IndexMap::new();
    let mut cores: IndexMap<String, i64> = IndexMap::new();
    let (mut zp, mut zmt) = (0i64, 0i64);
    for line in p.file_lines("/proc/cpuinfo") {
        let (key, val) = match line.split_once(':') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (line.trim(), ""),
        };
        if xen && key == "flags" && !val.contains("vme") {
            xen_paravirt = true;
        }
        if key == "flags" {
            flags = Some(val.split_whitespace().map(vs).collect());
        }
        match key {
            "model name" | "Processor" | "vendor_id" | "cpu" | "Vendor" | "processor" => {
                processor.push(vs(val));
                match key {
                    "vendor_id" => vendor_occ += 1,
                    "model name" => model_occ += 1,
                    "processor" => proc_occ += 1,
                    _ => {}
                }
                i += 1;
            }
            "physical id" => {
                physid = val.to_owned();
                sockets.entry(physid.clone()).or_insert(1);
            }
            "core id" => {
                coreid = val.to_owned();
                if !sockets.contains_key(&coreid) {
                    cores.insert(coreid.clone(), 1);
                }
            }
            "cpu cores" => {
                sockets.insert(physid.clone(), val.parse().unwrap_or(0));
            }
            "siblings" => {
                cores.insert(coreid.clone(), val.parse().unwrap_or(0));
            }
            "# processors" => zp = val.parse().unwrap_or(0),
            "max thread id" => zmt = val.parse::<i64>().unwrap_or(0) + 1,
            "ncpus active" => i = val.parse().unwrap_or(0),
            _ => {}
        }
    }
    if vendor_occ > 0 && vendor_occ == model_occ {
        i = vendor_occ;
    }
    if ["armv", "aarch", "ppc"].iter().any(|a| arch.starts_with(a)) {
        i = proc_occ;
    }
    f.insert("processor".into(), Value::from(processor));
    if let Some(fl) = flags {
        f.insert("flags".into(), Value::from(fl));
    }
    let nproc;
    if arch == "s390x" {
        f.insert("processor_count".into(), Value::from(1));
        let c = if zmt != 0 {
            py_round(zp as f64 / zmt as f64)
        } else {
            0
        };
        f.insert("processor_cores".into(), Value::from(c));
        f.insert("processor_threads_per_core".into(), Value::from(zmt));
        f.insert("processor_vcpus".into(), Value::from(zp));
        nproc = zp;
    } else if xen_paravirt {
        for k in ["processor_count", "processor_cores", "processor_vcpus"] {
            f.insert(k.into(), Value::from(i));
        }
        f.insert("processor_threads_per_core".into(), Value::from(1));
        nproc = i;
    } else {
        let count = if sockets.is_empty() {
            i
        } else {
            sockets.len() as i64
        };
        let per_socket = sockets.values().next().copied().filter(|v| *v != 0);
        let cores_n = per_socket.unwrap_or(1);
        let threads = match cores.values().next() {
            Some(&c) => py_round(c as f64 / cores_n as f64),
            None => py_round(1.0 / cores_n as f64),
        };
        f.insert("processor_count".into(), Value::from(count));
        f.insert("processor_cores".into(), Value::from(cores_n));
        f.insert("processor_threads_per_core".into(), Value::from(threads));
        f.insert(
            "processor_vcpus".into(),
            Value::from(threads * count * cores_n),
        );
        nproc = proc_occ;
    }
    let nproc = p
        .section("nproc")
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(nproc);
    f.insert("processor_nproc".into(), Value::from(nproc));
}

fn memory_facts(p: &Probe, f: &mut Facts) {
    if p.raw("/proc/meminfo").is_none() {
        return;
    }
    let mut stats: HashMap<String, i64> = HashMap::new();
    for line in p.file_lines("/proc/meminfo") {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let val = || {
            rest.trim()
                .split(' ')
                .next()
                .and_then(|v| v.parse::<i64>().ok())
                .map(|v| v.div_euclid(1024))
        };
        if ["MemTotal", "SwapTotal", "MemFree", "SwapFree"].contains(&key)
            && let Some(v) = val()
        {
            f.insert(format!("{}_mb", key.to_lowercase()), Value::from(v));
        }
        if [
            "MemTotal",
            "SwapTotal",
            "MemFree",
            "SwapFree",
            "Buffers",
            "Cached",
            "SwapCached",
        ]
        .contains(&key)
            && let Some(v) = val()
        {
            stats.insert(key.to_lowercase(), v);
        }
    }
    let g = |k: &str| stats.get(k).copied();
    let real_used = g("memtotal").zip(g("memfree")).map(|(t, fr)| t - fr);
    let nocache_free = match (g("cached"), g("memfree"), g("buffers")) {
        (Some(c), Some(fr), Some(b)) => Some(c + fr + b),
        _ => None,
    };
    let nocache_used = g("memtotal").zip(nocache_free).map(|(t, fr)| t - fr);
    let swap_used = g("swaptotal").zip(g("swapfree")).map(|(t, fr)| t - fr);
    let v = |x: Option<i64>| x.map(Value::from).unwrap_or_else(none);
    f.insert(
        "memory_mb".into(),
        vmap([
            (
                "real",
                vmap([
                    ("total", v(g("memtotal"))),
                    ("used", v(real_used)),
                    ("free", v(g("memfree"))),
                ]),
            ),
            (
                "nocache",
                vmap([("free", v(nocache_free)), ("used", v(nocache_used))]),
            ),
            (
                "swap",
                vmap([
                    ("total", v(g("swaptotal"))),
                    ("free", v(g("swapfree"))),
                    ("used", v(swap_used)),
                    ("cached", v(g("swapcached"))),
                ]),
            ),
        ]),
    );
}

/// (fact, /sys/devices/virtual/dmi/id file, dmidecode keyword)
const DMI_KEYS: &[(&str, &str, &str)] = &[
    ("bios_date", "bios_date", "bios-release-date"),
    ("bios_vendor", "bios_vendor", "bios-vendor"),
    ("bios_version", "bios_version", "bios-version"),
    ("board_asset_tag", "board_asset_tag", "baseboard-asset-tag"),
    ("board_name", "board_name", "baseboard-product-name"),
    ("board_serial", "board_serial", "baseboard-serial-number"),
    ("board_vendor", "board_vendor", "baseboard-manufacturer"),
    ("board_version", "board_version", "baseboard-version"),
    (
        "chassis_asset_tag",
        "chassis_asset_tag",
        "chassis-asset-tag",
    ),
    ("chassis_serial", "chassis_serial", "chassis-serial-number"),
    ("chassis_vendor", "chassis_vendor", "chassis-manufacturer"),
    ("chassis_version", "chassis_version", "chassis-version"),
    ("form_factor", "chassis_type", "chassis-type"),
    ("product_name", "product_name", "system-product-name"),
    ("product_serial", "product_serial", "system-serial-number"),
    ("product_uuid", "product_uuid", "system-uuid"),
    ("product_version", "product_version", "system-version"),
    ("system_vendor", "sys_vendor", "system-manufacturer"),
];

fn dmi_facts(p: &Probe, f: &mut Facts) {
    const FORM_FACTOR: &[&str] = &[
        "Unknown",
        "Other",
        "Unknown",
        "Desktop",
        "Low Profile Desktop",
        "Pizza Box",
        "Mini Tower",
        "Tower",
        "Portable",
        "Laptop",
        "Notebook",
        "Hand Held",
        "Docking Station",
        "All In One",
        "Sub Notebook",
        "Space-saving",
        "Lunch Box",
        "Main Server Chassis",
        "Expansion Chassis",
        "Sub Chassis",
        "Bus Expansion Chassis",
        "Peripheral Chassis",
        "RAID Chassis",
        "Rack Mount Chassis",
        "Sealed-case PC",
        "Multi-system",
        "CompactPCI",
        "AdvancedTCA",
        "Blade",
        "Blade Enclosure",
        "Tablet",
        "Convertible",
        "Detachable",
        "IoT Gateway",
        "Embedded PC",
        "Mini PC",
        "Stick PC",
    ];
    const DIR: &str = "/sys/devices/virtual/dmi/id";
    let sysfs = p.exists(&format!("{DIR}/product_name"));
    for &(fact, file, keyword) in DMI_KEYS {
        let value = if sysfs {
            match p.file(&format!("{DIR}/{file}")) {
                Some(data) if fact == "form_factor" => {
                    match data.parse::<usize>().ok().and_then(|n| FORM_FACTOR.get(n)) {
                        Some(name) => name.to_string(),
                        None => format!("unknown ({data})"),
                    }
                }
                Some(data) => data.to_owned(),
                None => "NA".into(),
            }
        } else {
            match p.cmd(&format!("dmi {keyword}")) {
                Some((0, out)) => out
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .collect::<Vec<_>>()
                    .concat(),
                _ => "NA".into(),
            }
        };
        f.insert(fact.into(), Value::from(value));
    }
}

fn sysinfo_facts(p: &Probe, f: &mut Facts) {
    let Some(data) = p.file("/proc/sysinfo") else {
        return;
    };
    let mut m: IndexMap<&str, String> = [
        "system_vendor",
        "product_version",
        "product_serial",
        "product_name",
        "product_uuid",
    ]
    .into_iter()
    .map(|k| (k, "NA".to_owned()))
    .collect();
    for line in data.lines() {
        if let Some(v) = cap1(r"^Manufacturer:\s+(.+)$", line) {
            m.insert("system_vendor", v);
        } else if let Some(v) = cap1(r"^Type:\s+(.+)$", line) {
            m.insert("product_name", v);
        } else if let Some(v) = cap1(r"^Sequence Code:\s+0+(.+)$", line) {
            m.insert("product_serial", v);
        }
    }
    for (k, v) in m {
        f.insert(k.into(), Value::from(v));
    }
}

fn uptime_facts(p: &Probe, f: &mut Facts) {
    if let Some(secs) = p
        .file("/proc/uptime")
        .and_then(|d| d.split(' ').next())
        .and_then(|s| s.parse::<f64>().ok())
    {
        f.insert("uptime_seconds".into(), Value::from(secs as i64));
    }
}

fn lvm_facts(p: &Probe, f: &mut Facts) {
    let Some((_, vg_out)) = p.cmd("vgs") else {
        f.insert("lvm".into(), vs("N/A"));
        return;
    };
    let fields = |l: &str| -> Vec<String> { l.trim().split(',').map(str::to_owned).collect() };
    let mut vgs: Facts = IndexMap::new();
    for line in vg_out.lines().filter(|l| !l.trim().is_empty()) {
        let it = fields(line);
        if it.len() < 4 {
            continue;
        }
        let n = it.len();
        vgs.insert(
            it[0].clone(),
            vmap([
                ("size_g", vs(&it[n - 2])),
                ("free_g", vs(&it[n - 1])),
                ("num_lvs", vs(&it[2])),
                ("num_pvs", vs(&it[1])),
            ]),
        );
    }
    let mut lvs: Facts = IndexMap::new();
    for line in p.cmd("lvs").map(|c| c.1).unwrap_or("").lines() {
        let it = fields(line);
        if it.len() >= 4 {
            lvs.insert(
                it[0].clone(),
                vmap([("size_g", vs(&it[3])), ("vg", vs(&it[1]))]),
            );
        }
    }
    let mut pvs: Facts = IndexMap::new();
    for line in p.cmd("pvs").map(|c| c.1).unwrap_or("").lines() {
        let it = fields(line);
        if it.len() >= 6 {
            pvs.insert(
                it[0].clone(),
                vmap([
                    ("size_g", vs(&it[4])),
                    ("free_g", vs(&it[5])),
                    ("vg", vs(&it[1])),
                ]),
            );
        }
    }
    f.insert(
        "lvm".into(),
        vmap([("lvs", obj(lvs)), ("vgs", obj(vgs)), ("pvs", obj(pvs))]),
    );
}

/// Octal escapes in /proc/mounts fields (`\040` is a space).
fn unescape_octal(s: &str) -> String {
    static OCT: OnceLock<Regex> = OnceLock::new();
    re(&OCT, r"\\[0-9]{3}")
        .replace_all(s, |c: &regex::Captures| {
            u32::from_str_radix(&c[0][1..], 8)
                .ok()
                .and_then(char::from_u32)
                .map(String::from)
                .unwrap_or_else(|| c[0].to_owned())
        })
        .into_owned()
}

fn mount_facts(p: &Probe, warnings: &mut Vec<String>, f: &mut Facts) {
    let Some(mtab) = p.section("mtab") else {
        return;
    };
    static BIND: OnceLock<Regex> = OnceLock::new();
    let mut bind_mounts: BTreeSet<String> = BTreeSet::new();
    if let Some(out) = p.cmd_ok("findmnt") {
        for line in out.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() >= 2 && re(&BIND, r"^.*\]").is_match(w[1]) {
                bind_mounts.insert(w[0].to_owned());
            }
        }
    }
    let mut uuids: HashMap<String, String> = HashMap::new();
    if let Some(out) = p.cmd_ok("lsblk") {
        for line in out.lines() {
            let line = line.trim();
            if let Some((dev, uuid)) = line.rsplit_once(char::is_whitespace) {
                let dev = dev.trim().to_owned();
                if !dev.is_empty() && !uuid.trim().is_empty() {
                    uuids.entry(dev).or_insert_with(|| uuid.trim().to_owned());
                }
            }
        }
    }
    let mut statfs: HashMap<String, (i32, Vec<u64>)> = HashMap::new();
    let mut udev: HashMap<String, String> = HashMap::new();
    for line in p.section("statfs").unwrap_or("").lines() {
        let parts: Vec<&str> = line.splitn(3, '\t').collect();
        if parts.len() < 3 {
            continue;
        }
        if parts[0] == "uuid" {
            if !parts[2].is_empty() {
                udev.insert(parts[1].to_owned(), parts[2].to_owned());
            }
            continue;
        }
        let nums = parts[2]
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        statfs.insert(parts[0].to_owned(), (parts[1].parse().unwrap_or(1), nums));
    }
    let mut mounts = Vec::new();
    for line in mtab.lines() {
        let raw: Vec<&str> = line.split_whitespace().collect();
        if raw.len() < 4 {
            continue;
        }
        let fields: Vec<String> = raw.iter().map(|s| unescape_octal(s)).collect();
        let (device, mount, fstype) = (&fields[0], &fields[1], &fields[2]);
        if !(device.starts_with('/') || device.starts_with('\\') || device.contains(":/"))
            || fstype == "none"
        {
            continue;
        }
        let num = |i: usize| -> i64 { fields.get(i).and_then(|s| s.parse().ok()).unwrap_or(0) };
        let mut options = fields[3].clone();
        if bind_mounts.contains(mount.as_str()) {
            options.push_str(",bind");
        }
        let mut m: Facts = IndexMap::new();
        m.insert("mount".into(), vs(mount));
        m.insert("device".into(), vs(device));
        m.insert("fstype".into(), vs(fstype));
        m.insert("options".into(), Value::from(options));
        m.insert("dump".into(), Value::from(num(4)));
        m.insert("passno".into(), Value::from(num(5)));
        match statfs.get(raw[1]) {
            Some((124, _)) => {
                warnings.push(format!(
                    "Timeout exceeded when getting mount info for {mount}"
                ));
                m.insert(
                    "note".into(),
                    vs("Could not get extra information due to timeout"),
                );
            }
            Some((_, n)) => {
                if let [frsize, bsize, blocks, bavail, _bfree, files, ffree] = n[..] {
                    m.insert("size_total".into(), Value::from(frsize * blocks));
                    m.insert("size_available".into(), Value::from(frsize * bavail));
                    m.insert("block_size".into(), Value::from(bsize));
                    m.insert("block_total".into(), Value::from(blocks));
                    m.insert("block_available".into(), Value::from(bavail));
                    m.insert(
                        "block_used".into(),
                        Value::from(blocks.saturating_sub(bavail)),
                    );
                    m.insert("inode_total".into(), Value::from(files));
                    m.insert("inode_available".into(), Value::from(ffree));
                    m.insert(
                        "inode_used".into(),
                        Value::from(files.saturating_sub(ffree)),
                    );
                }
                let uuid = uuids
                    .get(device.as_str())
                    .or_else(|| udev.get(raw[0]))
                    .cloned()
                    .unwrap_or_else(|| "N/A".into());
                m.insert("uuid".into(), Value::from(uuid));
            }
            None => {
                let uuid = uuids
                    .get(device.as_str())
                    .cloned()
                    .unwrap_or_else(|| "N/A".into());
                m.insert("uuid".into(), Value::from(uuid));
            }
        }
        mounts.push(obj(m));
    }
    f.insert("mounts".into(), Value::from(mounts));
}

fn device_facts(p: &Probe, f: &mut Facts) {
    let Some(blocks) = p.section("blocks") else {
        return;
    };
    let blocks: Vec<&str> = blocks.split_whitespace().collect();
    let pairs = |name: &str| -> Vec<(String, String)> {
        p.section(name)
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect()
    };
    // get_device_links: target basename -> sorted link names
    let link_map = |kind: &str| -> BTreeMap<String, BTreeSet<String>> {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (link, target) in pairs(&format!("links {kind}")) {
            if target.is_empty() {
                continue;
            }
            let base = target.rsplit('/').next().unwrap_or("").to_owned();
            m.entry(base).or_default().insert(link);
        }
        m
    };
    let mut masters: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (slave, master) in pairs("masters") {
        masters.entry(slave).or_default().insert(master);
    }
    let links: Vec<(&str, BTreeMap<String, BTreeSet<String>>)> = vec![
        ("ids", link_map("id")),
        ("uuids", link_map("uuid")),
        ("labels", link_map("label")),
        ("masters", masters),
    ];
    let links_for = |name: &str| -> Value {
        vmap(links.iter().map(|(kind, m)| {
            let v: Vec<Value> = m
                .get(name)
                .map(|s| s.iter().map(|x| vs(x)).collect())
                .unwrap_or_default();
            (kind.to_string(), Value::from(v))
        }))
    };
    let wwn: HashMap<String, String> = pairs("links id")
        .into_iter()
        .filter_map(|(link, target)| {
            let w = link.strip_prefix("wwn-")?.to_owned();
            Some((target.rsplit('/').next().unwrap_or("").to_owned(), w))
        })
        .collect();
    let uuid_of = |part: &str| -> Value {
        pairs("links uuid")
            .into_iter()
            .find(|(_, t)| t.rsplit('/').next() == Some(part))
            .map(|(u, _)| Value::from(u))
            .unwrap_or_else(none)
    };
    let holders = |kv: &[(String, String)]| -> Value {
        list(
            kv.iter()
                .filter(|(k, _)| k == "holder")
                .filter_map(|(_, v)| {
                    let (h, name) = v.split_once('\t')?;
                    if !h.starts_with("dm-") {
                        return None;
                    }
                    Some(Value::from(if name.is_empty() { h } else { name }))
                }),
        )
    };
    let lspci = p.cmd_ok("lspci").unwrap_or("");
    static PCI: OnceLock<Regex> = OnceLock::new();
    let mut devices: Facts = IndexMap::new();
    for block in blocks {
        let Some(text) = p.section(&format!("block {block}")) else {
            continue;
        };
        let kv: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        let get = |k: &str| -> Option<&str> {
            kv.iter()
                .find(|(a, _)| a == k)
                .map(|(_, b)| b.trim())
                .filter(|b| !b.is_empty())
        };
        let opt = |k: &str| get(k).map(vs).unwrap_or_else(none);
        let entries: Vec<&str> = get("entries").unwrap_or("").split_whitespace().collect();
        let (sysdir, virtual_) = match get("link") {
            Some(l) => (format!("/sys/block/{l}"), 1),
            None => (
                format!("/sys/block/{block}"),
                if entries.iter().any(|e| e.contains("device")) {
                    0
                } else {
                    1
                },
            ),
        };
        let mut d: Facts = IndexMap::new();
        d.insert("virtual".into(), Value::from(virtual_));
        d.insert("links".into(), links_for(block));
        d.insert("vendor".into(), opt("device/vendor"));
        d.insert("model".into(), opt("device/model"));
        d.insert("sas_address".into(), opt("device/sas_address"));
        d.insert("sas_device_handle".into(), opt("device/sas_device_handle"));
        if let Some(serial) = get("device/serial") {
            d.insert("serial".into(), vs(serial));
        }
        d.insert("removable".into(), opt("removable"));
        d.insert(
            "support_discard".into(),
            if get("queue/discard_max_hw_bytes") == Some("0") {
                vs("0")
            } else {
                opt("queue/discard_granularity")
            },
        );
        if let Some(w) = wwn.get(block) {
            d.insert("wwn".into(), vs(w));
        }
        let part_re = Regex::new(&format!("({}[p]?\\d+)", regex::escape(block))).ok();
        let mut partitions: Facts = IndexMap::new();
        for e in &entries {
            let Some(name) = part_re
                .as_ref()
                .and_then(|r| r.captures(e))
                .map(|c| c[1].to_owned())
            else {
                continue;
            };
            let pkv: Vec<(String, String)> = p
                .section(&format!("part {block} {name}"))
                .unwrap_or("")
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect();
            let pget = |k: &str| -> Option<String> {
                pkv.iter()
                    .find(|(a, _)| a == k)
                    .map(|(_, b)| b.trim().to_owned())
                    .filter(|b| !b.is_empty())
            };
            let sectorsize = pget("queue/logical_block_size")
                .or_else(|| pget("queue/hw_sector_size"))
                .map(Value::from)
                .unwrap_or_else(|| Value::from(512));
            let ss: i64 = sectorsize.to_string().parse().unwrap_or(512).max(1);
            let size: i64 = pget("size").and_then(|s| s.parse().ok()).unwrap_or(0);
            let sectors = size * 512 / ss;
            let mut part: Facts = IndexMap::new();
            part.insert("links".into(), links_for(&name));
            part.insert(
                "start".into(),
                pget("start").map(Value::from).unwrap_or(Value::from(0)),
            );
            part.insert("sectorsize".into(), sectorsize);
            part.insert("sectors".into(), Value::from(sectors));
            part.insert(
                "size".into(),
                Value::from(bytes_to_human(sectors as f64 * ss as f64)),
            );
            part.insert("uuid".into(), uuid_of(&name));
            part.insert("holders".into(), holders(&pkv));
            partitions.insert(name, obj(part));
        }
        d.insert("partitions".into(), obj(partitions));
        d.insert("rotational".into(), opt("queue/rotational"));
        static SCHED: OnceLock<Regex> = OnceLock::new();
        let sched = get("queue/scheduler")
            .and_then(|s| re(&SCHED, r"^.*?(\[(.*)\])").captures(s))
            .map(|c| c[2].to_owned())
            .unwrap_or_default();
        d.insert("scheduler_mode".into(), Value::from(sched));
        let sectorsize = get("queue/logical_block_size")
            .or_else(|| get("queue/hw_sector_size"))
            .map(vs)
            .unwrap_or_else(|| Value::from(512));
        let ss: i64 = sectorsize.to_string().parse().unwrap_or(512).max(1);
        let sectors = get("size").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0) * 512 / ss;
        d.insert("sectorsize".into(), sectorsize);
        d.insert("sectors".into(), Value::from(sectors));
        d.insert(
            "size".into(),
            Value::from(bytes_to_human(sectors as f64 * ss as f64)),
        );
        let mut host = String::new();
        if let Some(c) =
            re(&PCI, r"^.+/([a-f0-9]{4}:[a-f0-9]{2}:[0|1][a-f0-9]\.[0-7])/").captures(&sysdir)
            && !lspci.is_empty()
        {
            let id = &c[1];
            if let Some(l) = lspci.lines().find(|l| {
                l.strip_prefix(id)
                    .is_some_and(|r| r.starts_with(char::is_whitespace))
            }) {
                host = l[id.len()..].trim_start().to_owned();
            }
        }
        d.insert("host".into(), Value::from(host));
        d.insert("holders".into(), holders(&kv));
        devices.insert(block.to_owned(), obj(d));
    }
    f.insert("devices".into(), obj(devices));
    f.insert(
        "device_links".into(),
        vmap(links.iter().map(|(kind, m)| {
            (
                kind.to_string(),
                vmap(m.iter().map(|(k, v)| {
                    (
                        k.clone(),
                        Value::from(v.iter().map(|x| vs(x)).collect::<Vec<_>>()),
                    )
                })),
            )
        })),
    );
}

// ---------------------------------------------------------------------------
// dns, fibre_channel_wwn, iscsi, nvme

fn dns_facts(p: &Probe, f: &mut Facts) {
    let mut dns: Facts = IndexMap::new();
    let text = p.file("/etc/resolv.conf").unwrap_or("");
    let mut nameservers: Vec<Value> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.starts_with(';') || line.trim().is_empty() {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        match tokens[0] {
            "nameserver" => {
                nameservers.extend(tokens[1..].iter().map(|t| vs(t)));
                dns.insert("nameservers".into(), Value::from(nameservers.clone()));
            }
            "domain" if tokens.len() > 1 => {
                dns.insert("domain".into(), vs(tokens[1]));
            }
            "search" => {
                dns.insert("search".into(), list(tokens[1..].iter().map(|t| vs(t))));
            }
            "sortlist" => {
                dns.insert("sortlist".into(), list(tokens[1..].iter().map(|t| vs(t))));
            }
            "options" => {
                let opts: Facts = tokens[1..]
                    .iter()
                    .map(|o| match o.split_once(':') {
                        Some((k, v)) if !v.is_empty() => (k.to_owned(), vs(v)),
                        Some((k, _)) => (k.to_owned(), Value::from(true)),
                        None => (o.to_string(), Value::from(true)),
                    })
                    .collect();
                dns.insert("options".into(), obj(opts));
            }
            _ => {}
        }
    }
    f.insert("dns".into(), obj(dns));
}

fn fc_wwn_facts(p: &Probe, f: &mut Facts) {
    let mut wwns = Vec::new();
    for (name, content) in &p.sections {
        if let Some(path) = name.strip_prefix("F /sys/class/fc_host/")
            && path.ends_with("/port_name")
        {
            for line in content.trim().lines() {
                wwns.push(Value::from(line.trim_end().get(2..).unwrap_or("")));
            }
        }
    }
    f.insert("fibre_channel_wwn".into(), Value::from(wwns));
}

fn iscsi_facts(p: &Probe, f: &mut Facts) {
    let iqn = p
        .file("/etc/iscsi/initiatorname.iscsi")
        .unwrap_or("")
        .lines()
        .filter(|l| !(l.starts_with('#') || l.starts_with(';') || l.trim().is_empty()))
        .find_map(|l| l.strip_prefix("InitiatorName="))
        .unwrap_or("");
    f.insert("iscsi_iqn".into(), vs(iqn));
}

fn nvme_facts(p: &Probe, f: &mut Facts) {
    let nqn = p
        .file("/etc/nvme/hostnqn")
        .unwrap_or("")
        .lines()
        .filter(|l| !(l.starts_with('#') || l.starts_with(';') || l.trim().is_empty()))
        .find(|l| l.starts_with("nqn."))
        .unwrap_or("");
    f.insert("hostnqn".into(), vs(nqn));
}

// ---------------------------------------------------------------------------
// network (LinuxNetwork)

fn ipv4_details(address: &str, prefix: &str) -> Option<(String, String)> {
    let addr: std::net::Ipv4Addr = address.parse().ok()?;
    let len: u32 = prefix.parse().ok()?;
    if len > 32 {
        return None;
    }
    let mask: u32 = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let net = u32::from(addr) & mask;
    Some((
        std::net::Ipv4Addr::from(mask).to_string(),
        std::net::Ipv4Addr::from(net).to_string(),
    ))
}

/// Sets a key of a dict fact, keeping its place when it exists.
fn dict_set(m: &mut Facts, k: &str, v: Value) {
    m.insert(k.to_owned(), v);
}

fn network_facts(p: &Probe, os_family: &str, dist_version: &str, f: &mut Facts) {
    if p.section("ip").is_none() {
        return;
    }
    let mut default: [Facts; 2] = [IndexMap::new(), IndexMap::new()];
    let targets = ["8.8.8.8", "2404:6800:400a:800::1012"];
    for (i, name) in ["route4", "route6"].iter().enumerate() {
        if i == 1 && os_family == "RedHat" && dist_version.starts_with("4.") {
            continue;
        }
        let Some((_, out)) = p.cmd(name) else {
            continue;
        };
        let words: Vec<&str> = out
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if words.first() != Some(&targets[i]) {
            continue;
        }
        for w in 0..words.len().saturating_sub(1) {
            match words[w] {
                "dev" => dict_set(&mut default[i], "interface", vs(words[w + 1])),
                "src" => dict_set(&mut default[i], "address", vs(words[w + 1])),
                "via" if words[w + 1] != targets[i] => {
                    dict_set(&mut default[i], "gateway", vs(words[w + 1]))
                }
                _ => {}
            }
        }
    }
    let [mut default4, mut default6] = default;

    let mut interfaces: IndexMap<String, Facts> = IndexMap::new();
    let mut all4: Vec<Value> = Vec::new();
    let mut all6: Vec<Value> = Vec::new();
    let mut macaddress = String::new();
    let names: Vec<&str> = p
        .section("ifaces")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    for device in names {
        let Some(text) = p.section(&format!("if {device}")) else {
            continue;
        };
        let mut vals: HashMap<&str, &str> = HashMap::new();
        let mut has: BTreeSet<&str> = BTreeSet::new();
        let mut links: HashMap<&str, &str> = HashMap::new();
        for line in text.lines() {
            if let Some(k) = line.strip_suffix('?') {
                has.insert(k);
            } else if let Some((k, v)) = line.split_once('>') {
                links.insert(k, v);
            } else if let Some((k, v)) = line.split_once('=') {
                vals.insert(k, v.trim());
            }
        }
        let val = |k: &str| vals.get(k).copied().filter(|v| !v.is_empty());
        let mut d: Facts = IndexMap::new();
        d.insert("device".into(), vs(device));
        if has.contains("address") {
            macaddress = val("address").unwrap_or("").to_owned();
            if !macaddress.is_empty() && macaddress != "00:00:00:00:00:00" {
                d.insert("macaddress".into(), vs(&macaddress));
            }
        }
        if let Some(mtu) = val("mtu").and_then(|m| m.parse::<i64>().ok()) {
            d.insert("mtu".into(), Value::from(mtu));
        }
        if has.contains("operstate") {
            d.insert(
                "active".into(),
                Value::from(val("operstate") != Some("down")),
            );
        }
        if let Some(m) = links.get("module") {
            d.insert("module".into(), vs(m.rsplit('/').next().unwrap_or("")));
        }
        if has.contains("type") {
            let t = match val("type") {
                Some("1") => "ether",
                Some("32") => "infiniband",
                Some("512") => "ppp",
                Some("772") => "loopback",
                Some("65534") => "tunnel",
                _ => "unknown",
            };
            d.insert("type".into(), vs(t));
        }
        if has.contains("bridge") {
            d.insert("type".into(), vs("bridge"));
            d.insert(
                "interfaces".into(),
                list(links.get("brif").unwrap_or(&"").split_whitespace().map(vs)),
            );
            if has.contains("bridge/bridge_id") {
                d.insert("id".into(), vs(val("bridge/bridge_id").unwrap_or("")));
            }
            if has.contains("bridge/stp_state") {
                d.insert(
                    "stp".into(),
                    Value::from(val("bridge/stp_state") == Some("1")),
                );
            }
        }
        if has.contains("bonding") {
            let first = |k: &str| {
                val(k)
                    .unwrap_or("")
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_owned()
            };
            d.insert("type".into(), vs("bonding"));
            d.insert(
                "slaves".into(),
                list(
                    val("bonding/slaves")
                        .unwrap_or("")
                        .split_whitespace()
                        .map(vs),
                ),
            );
            d.insert("mode".into(), Value::from(first("bonding/mode")));
            d.insert("miimon".into(), Value::from(first("bonding/miimon")));
            d.insert("lacp_rate".into(), Value::from(first("bonding/lacp_rate")));
            if let Some(primary) = val("bonding/primary") {
                d.insert("primary".into(), vs(primary));
                if has.contains("bonding/all_slaves_active") {
                    d.insert(
                        "all_slaves_active".into(),
                        Value::from(val("bonding/all_slaves_active") == Some("1")),
                    );
                }
            }
        }
        if has.contains("bonding_slave") {
            d.insert(
                "perm_macaddress".into(),
                vs(val("bonding_slave/perm_hwaddr").unwrap_or("")),
            );
        }
        if has.contains("device") {
            d.insert(
                "pciid".into(),
                vs(links
                    .get("device")
                    .unwrap_or(&"")
                    .rsplit('/')
                    .next()
                    .unwrap_or("")),
            );
        }
        if let Some(speed) = val("speed").and_then(|s| s.parse::<i64>().ok()) {
            d.insert("speed".into(), Value::from(speed));
        }
        if let Some(flags) =
            val("flags").and_then(|s| i64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        {
            d.insert("promisc".into(), Value::from(flags & 0x0100 > 0));
        }
        interfaces.insert(device.to_owned(), d);

        let mut parse = |output: &str, secondary: bool| {
            for line in output.lines() {
                let words: Vec<&str> = line.split_whitespace().collect();
                if words.is_empty() {
                    continue;
                }
                if words[0] == "inet" && words.len() > 1 {
                    let (address, prefix, mut broadcast) = match words[1].split_once('/') {
                        Some((a, pfx)) => (a, pfx, ""),
                        None => (words[1], "32", ""),
                    };
                    if words[1].contains('/') && words.len() > 3 && words[2] == "brd" {
                        broadcast = words[3];
                    }
                    let Some((netmask, network)) = ipv4_details(address, prefix) else {
                        continue;
                    };
                    let entry = vmap([
                        ("address", vs(address)),
                        ("broadcast", vs(broadcast)),
                        ("netmask", vs(&netmask)),
                        ("network", vs(&network)),
                        ("prefix", vs(prefix)),
                    ]);
                    let iface = words[words.len() - 1];
                    if iface != device {
                        interfaces.insert(iface.to_owned(), IndexMap::new());
                    }
                    let it = interfaces.get_mut(iface).expect("just inserted");
                    if !secondary && !it.contains_key("ipv4") {
                        it.insert("ipv4".into(), entry.clone());
                    } else {
                        push_item(it, "ipv4_secondaries", entry.clone());
                    }
                    if secondary {
                        let dev = interfaces.get_mut(device).expect("device entry");
                        if !dev.contains_key("ipv4_secondaries") {
                            dev.insert("ipv4_secondaries".into(), list(Vec::<Value>::new()));
                        }
                        if device != iface {
                            push_item(dev, "ipv4_secondaries", entry);
                        }
                    }
                    if default4.get("address").and_then(Value::as_str) == Some(address) {
                        let dev = &interfaces[device];
                        dict_set(&mut default4, "broadcast", vs(broadcast));
                        dict_set(&mut default4, "netmask", vs(&netmask));
                        dict_set(&mut default4, "network", vs(&network));
                        dict_set(&mut default4, "prefix", vs(prefix));
                        dict_set(&mut default4, "macaddress", vs(&macaddress));
                        dict_set(
                            &mut default4,
                            "mtu",
                            dev.get("mtu").cloned().unwrap_or_else(none),
                        );
                        dict_set(
                            &mut default4,
                            "type",
                            dev.get("type").cloned().unwrap_or_else(|| vs("unknown")),
                        );
                        dict_set(&mut default4, "alias", vs(iface));
                    }
                    if !address.starts_with("127.") {
                        all4.push(vs(address));
                    }
                } else if words[0] == "inet6" && words.len() > 3 {
                    let (address, prefix, scope) = if words[2] == "peer" && words.len() > 5 {
                        (
                            words[1],
                            words[3].split_once('/').map(|x| x.1).unwrap_or(""),
                            words[5],
                        )
                    } else {
                        let (a, pfx) = words[1].split_once('/').unwrap_or((words[1], ""));
                        (a, pfx, words[3])
                    };
                    let dev = interfaces.get_mut(device).expect("device entry");
                    push_item(
                        dev,
                        "ipv6",
                        vmap([
                            ("address", vs(address)),
                            ("prefix", vs(prefix)),
                            ("scope", vs(scope)),
                        ]),
                    );
                    if default6.get("address").and_then(Value::as_str) == Some(address) {
                        let dev = &interfaces[device];
                        dict_set(&mut default6, "prefix", vs(prefix));
                        dict_set(&mut default6, "scope", vs(scope));
                        dict_set(&mut default6, "macaddress", vs(&macaddress));
                        dict_set(
                            &mut default6,
                            "mtu",
                            dev.get("mtu").cloned().unwrap_or_else(none),
                        );
                        dict_set(
                            &mut default6,
                            "type",
                            dev.get("type").cloned().unwrap_or_else(|| vs("unknown")),
                        );
                    }
                    if address != "::1" {
                        all6.push(vs(address));
                    }
                }
            }
        };
        match p.cmd(&format!("addrp {device}")) {
            Some((0, out)) => parse(out, false),
            _ => {
                if let Some(out) = p.cmd_ok(&format!("addra {device}")) {
                    parse(out, false);
                }
            }
        }
        if let Some(out) = p.cmd_ok(&format!("addrs {device}")) {
            parse(out, true);
        }
        let mut eth: Facts = IndexMap::new();
        if let Some(out) = p.cmd_ok(&format!("ethk {device}")) {
            let mut features: Facts = IndexMap::new();
            for line in out.trim().lines() {
                if line.is_empty() || line.ends_with(':') {
                    continue;
                }
                if let Some((k, v)) = line.split_once(": ")
                    && !v.is_empty()
                {
                    features.insert(k.trim().replace('-', "_"), vs(v.trim()));
                }
            }
            eth.insert("features".into(), obj(features));
        }
        if let Some(out) = p.cmd_ok(&format!("etht {device}")) {
            let grab = |prefix: &str| -> Value {
                let r = Regex::new(&format!(r"{prefix}(\w+)")).expect("valid regex");
                list(
                    r.captures_iter(out)
                        .map(|c| c[1].to_lowercase())
                        .collect::<Vec<_>>(),
                )
            };
            eth.insert("timestamping".into(), grab("SOF_TIMESTAMPING_"));
            eth.insert("hw_timestamp_filters".into(), grab("HWTSTAMP_FILTER_"));
            if let Some(n) =
                cap1(r"PTP Hardware Clock: (\d+)", out).and_then(|n| n.parse::<i64>().ok())
            {
                eth.insert("phc_index".into(), Value::from(n));
            }
        }
        if let Some(d) = interfaces.get_mut(device) {
            d.extend(eth);
        }
    }
    let interfaces: IndexMap<String, Facts> = interfaces
        .into_iter()
        .map(|(k, v)| (k.replace(':', "_"), v))
        .collect();
    let mut reach4: Vec<Value> = Vec::new();
    let mut reach6: Vec<Value> = Vec::new();
    for name in ["local4", "local6"] {
        for line in p.cmd_ok(name).unwrap_or("").lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() < 2 || words[0] != "local" {
                continue;
            }
            let a = vs(words[1]);
            let target = if words[1].contains(':') {
                &mut reach6
            } else {
                &mut reach4
            };
            if !target.contains(&a) {
                target.push(a);
            }
        }
    }
    f.insert("interfaces".into(), list(interfaces.keys().map(|k| vs(k))));
    for (name, d) in interfaces {
        f.insert(name, obj(d));
    }
    f.insert("default_ipv4".into(), obj(default4));
    f.insert("default_ipv6".into(), obj(default6));
    f.insert("all_ipv4_addresses".into(), Value::from(all4));
    f.insert("all_ipv6_addresses".into(), Value::from(all6));
    f.insert(
        "locally_reachable_ips".into(),
        vmap([("ipv4", Value::from(reach4)), ("ipv6", Value::from(reach6))]),
    );
}

/// Appends to a list-valued key of a dict fact (creating it).
fn push_item(m: &mut Facts, key: &str, item: Value) {
    let mut items: Vec<Value> = m
        .get(key)
        .and_then(|v| v.try_iter().ok())
        .map(|it| it.collect())
        .unwrap_or_default();
    items.push(item);
    m.insert(key.to_owned(), Value::from(items));
}

// ---------------------------------------------------------------------------
// local facts (fact_path/*.fact)

/// configparser-style INI: sections of lower-cased options; `None` when the
/// text is not INI (e.g. a key before any section).
fn parse_ini(text: &str) -> Option<Value> {
    let mut sections: IndexMap<String, Facts> = IndexMap::new();
    let mut defaults: Facts = IndexMap::new();
    let mut current: Option<String> = None;
    let mut last_key: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            last_key = None;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t'])
            && let (Some(sec), Some(k)) = (&current, &last_key)
        {
            let target = if sec == "DEFAULT" {
                &mut defaults
            } else {
                sections.get_mut(sec)?
            };
            let prev = target.get(k).map(|v| v.to_string()).unwrap_or_default();
            target.insert(k.clone(), Value::from(format!("{prev}\n{trimmed}")));
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            if name != "DEFAULT" {
                if sections.contains_key(name) {
                    return None;
                }
                sections.insert(name.to_owned(), IndexMap::new());
            }
            current = Some(name.to_owned());
            last_key = None;
            continue;
        }
        let sec = current.as_ref()?;
        let pos = trimmed.find(['=', ':']);
        let (k, v) = match pos {
            Some(i) => (trimmed[..i].trim(), trimmed[i + 1..].trim()),
            None => return None,
        };
        let k = k.to_lowercase();
        let target = if sec == "DEFAULT" {
            &mut defaults
        } else {
            sections.get_mut(sec)?
        };
        target.insert(k.clone(), vs(v));
        last_key = Some(k);
    }
    Some(vmap(sections.into_iter().map(|(name, mut opts)| {
        for (k, v) in &defaults {
            opts.entry(k.clone()).or_insert_with(|| v.clone());
        }
        (name, obj(opts))
    })))
}

fn local_fact_value(path: &str, out: &str, warnings: &mut Vec<String>) -> Value {
    if let Ok(v) = crate::template::filters::pyjson::loads(out) {
        return v;
    }
    match parse_ini(out) {
        Some(v) => v,
        None => {
            let msg = format!("error loading facts as JSON or ini - please check content: {path}");
            warnings.push(msg.clone());
            Value::from(msg)
        }
    }
}

fn local_facts(p: &Probe, warnings: &mut Vec<String>, f: &mut Facts) {
    let mut local: Facts = IndexMap::new();
    let mut files: BTreeMap<String, ()> = BTreeMap::new();
    for name in p.sections.keys() {
        for prefix in ["lfx ", "lfo ", "lff "] {
            if let Some(path) = name.strip_prefix(prefix) {
                files.insert(path.to_owned(), ());
            }
        }
    }
    for path in files.keys() {
        let base = path.rsplit('/').next().unwrap_or("").replace(".fact", "");
        let fact = if p.section(&format!("lfx {path}")).is_some() {
            let msg = format!("Could not stat fact ({path})");
            warnings.push(msg.clone());
            Value::from(msg)
        } else if let Some(out) = p.section(&format!("lfo {path}")) {
            let rc: i64 = p
                .section(&format!("lfr {path}"))
                .and_then(|r| r.trim().parse().ok())
                .unwrap_or(-1);
            if rc != 0 {
                let err = p.section(&format!("lfe {path}")).unwrap_or("");
                let msg = if rc == 124 {
                    format!("Could not execute fact script ({path}): timed out")
                } else {
                    format!("Failure executing fact script ({path}), rc: {rc}, err: {err}")
                };
                warnings.push(msg.clone());
                Value::from(msg)
            } else {
                local_fact_value(path, out, warnings)
            }
        } else {
            let out = p.section(&format!("lff {path}")).unwrap_or("").trim();
            local_fact_value(path, out, warnings)
        };
        local.insert(base, fact);
    }
    f.insert("local".into(), obj(local));
}

// ---------------------------------------------------------------------------
// Assembly

/// Builds the facts the chosen collectors give from the probe's output,
/// with their `ansible_` names, filtered and sorted by name.
fn build_facts(
    p: &Probe,
    chosen: &BTreeSet<&str>,
    gather_subset: &[String],
    filter: &[String],
    warnings: &mut Vec<String>,
) -> Facts {
    let u = uname(p);
    let linux = u.system == "Linux";
    let dist = distribution_facts(p, &u);
    let dist_str = |k: &str| {
        dist.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let family = dist_str("os_family");
    let mut all: Facts = IndexMap::new();
    for c in COLLECTORS.iter().filter(|c| chosen.contains(c.name)) {
        let mut f: Facts = IndexMap::new();
        match c.name {
            "platform" => platform_facts(p, &u, &mut f),
            "distribution" => f.extend(dist.clone()),
            "lsb" => lsb_facts(p, &mut f),
            "selinux" => selinux_facts(p, &mut f),
            "apparmor" => apparmor_facts(p, &mut f),
            "chroot" => chroot_facts(p, &target_env(p), &mut f),
            "fips" => fips_facts(p, &mut f),
            "python" => python_facts(p, &mut f),
            "caps" => caps_facts(p, &mut f),
            "pkg_mgr" => pkg_mgr_facts(p, &family, &mut f),
            "service_mgr" => service_mgr_facts(p, &u.system, &dist_str("distribution"), &mut f),
            "cmdline" => cmdline_facts(p, &mut f),
            "date_time" => date_time_facts(p, &mut f),
            "env" => {
                let env = target_env(p);
                f.insert(
                    "env".into(),
                    vmap(env.into_iter().map(|(k, v)| (k, Value::from(v)))),
                );
            }
            "loadavg" => loadavg_facts(p, &mut f),
            "ssh_pub_keys" => ssh_pub_key_facts(p, &mut f),
            "user" => user_facts(p, &mut f),
            "systemd" => systemd_facts(p, &mut f),
            "virtual" if linux => virtual_facts(p, &mut f),
            "virtual" => {
                f.insert("virtualization_type".into(), vs(""));
                f.insert("virtualization_role".into(), vs(""));
                f.insert(
                    "virtualization_tech_guest".into(),
                    list(Vec::<Value>::new()),
                );
                f.insert("virtualization_tech_host".into(), list(Vec::<Value>::new()));
            }
            "hardware" if linux => {
                cpu_facts(p, &architecture(&u.machine), &mut f);
                memory_facts(p, &mut f);
                dmi_facts(p, &mut f);
                sysinfo_facts(p, &mut f);
                device_facts(p, &mut f);
                uptime_facts(p, &mut f);
                lvm_facts(p, &mut f);
                mount_facts(p, warnings, &mut f);
            }
            "dns" => dns_facts(p, &mut f),
            "fibre_channel_wwn" => fc_wwn_facts(p, &mut f),
            "iscsi" => iscsi_facts(p, &mut f),
            "nvme" => nvme_facts(p, &mut f),
            "network" if linux => {
                network_facts(p, &family, &dist_str("distribution_version"), &mut f)
            }
            "local" => local_facts(p, warnings, &mut f),
            _ => {}
        }
        for (k, v) in f {
            all.insert(format!("ansible_{k}"), v);
        }
    }
    all.insert(
        "gather_subset".into(),
        list(gather_subset.iter().map(|s| vs(s))),
    );
    all.insert("module_setup".into(), Value::from(true));
    all.retain(|k, _| filter_keeps(k, filter));
    all.sort_keys();
    all
}

#[async_trait]
impl Module for Setup {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let gather_subset = args
            .str_list("gather_subset")
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| vec!["all".to_owned()]);
        let filter = args.str_list("filter").unwrap_or_default();
        let timeout = args.int("gather_timeout").filter(|t| *t > 0).unwrap_or(10);
        let chosen = match select_collectors(&gather_subset) {
            Ok(c) => c,
            Err(e) => return Ok(Outcome::failure(e)),
        };
        let fact_path = match args.str("fact_path") {
            Some(fp) if chosen.contains("local") => {
                super::command::expand_path(ctx.conn, &fp).await?
            }
            Some(fp) => fp,
            None => "/etc/ansible/facts.d".to_owned(),
        };
        let names: Vec<&str> = chosen.iter().copied().collect();
        let names = names.join(" ");
        let timeout = timeout.to_string();
        let req = ExecRequest::argv([
            "/bin/sh",
            "-c",
            SCRIPT,
            "hoist-setup",
            &names,
            &fact_path,
            &timeout,
        ])
        .read_only();
        let out = ctx.conn.exec(&req).await?;
        let text = String::from_utf8_lossy(&out.stdout);
        let probe = Probe::parse(&text);
        if probe.section("end").is_none() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(ModuleError::Failed(format!(
                "fact gathering failed (rc={}): {}",
                out.rc,
                err.trim()
            )));
        }
        let mut warnings = Vec::new();
        let facts = build_facts(&probe, &chosen, &gather_subset, &filter, &mut warnings);
        let mut outcome = Outcome::changed(false);
        outcome.set("ansible_facts", vmap(facts.clone()));
        if !warnings.is_empty() {
            outcome.set("warnings", list(warnings));
        }
        outcome.facts = facts;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{TestEnv, run};
    use minijinja::value::ValueKind;

    async fn gather(yaml: &str) -> Outcome {
        let dir = tempfile::tempdir().unwrap();
        let e = TestEnv::new(dir.path(), &[]);
        run(&Setup, yaml, &e, false, false).await.unwrap()
    }

    fn get<'a>(facts: &'a Facts, k: &str) -> &'a Value {
        facts.get(k).unwrap_or_else(|| panic!("fact {k} missing"))
    }

    fn attr(v: &Value, k: &str) -> Value {
        v.get_attr(k).unwrap_or_default()
    }

    fn is_int(v: &Value) -> bool {
        v.kind() == ValueKind::Number && v.is_integer()
    }

    fn strs(v: &Value) -> Vec<String> {
        v.try_iter().unwrap().map(|x| x.to_string()).collect()
    }

    #[tokio::test]
    async fn gathers_this_debian_machine() {
        let out = gather("{}").await;
        assert!(!out.changed && !out.failed, "{:?}", out.msg);
        let f = &out.facts;
        if !std::path::Path::new("/etc/debian_version").exists() {
            return;
        }
        assert_eq!(get(f, "ansible_distribution"), &Value::from("Debian"));
        assert_eq!(get(f, "ansible_os_family"), &Value::from("Debian"));
        assert_eq!(get(f, "ansible_system"), &Value::from("Linux"));
        assert_eq!(get(f, "ansible_pkg_mgr"), &Value::from("apt"));
        let major = get(f, "ansible_distribution_major_version").to_string();
        let version = get(f, "ansible_distribution_version").to_string();
        assert!(version.starts_with(&major) && !major.is_empty());
        let debian = std::fs::read_to_string("/etc/debian_version").unwrap();
        if debian.starts_with("12.") {
            assert_eq!(major, "12");
            assert_eq!(version, debian.trim());
            assert_eq!(
                get(f, "ansible_distribution_release"),
                &Value::from("bookworm")
            );
        }
        let uts = nix::sys::utsname::uname().unwrap();
        let node = uts.nodename().to_string_lossy().to_string();
        assert_eq!(get(f, "ansible_nodename"), &Value::from(node.as_str()));
        assert_eq!(
            get(f, "ansible_hostname"),
            &Value::from(node.split('.').next().unwrap())
        );
        assert_eq!(
            get(f, "ansible_kernel"),
            &Value::from(uts.release().to_string_lossy().as_ref())
        );
        assert_eq!(
            get(f, "ansible_architecture"),
            &Value::from(uts.machine().to_string_lossy().as_ref())
        );
        for k in [
            "ansible_processor_count",
            "ansible_processor_cores",
            "ansible_processor_vcpus",
            "ansible_processor_nproc",
            "ansible_memtotal_mb",
            "ansible_memfree_mb",
            "ansible_swaptotal_mb",
            "ansible_uptime_seconds",
            "ansible_user_uid",
            "ansible_user_gid",
            "ansible_real_user_id",
            "ansible_effective_user_id",
        ] {
            assert!(is_int(get(f, k)), "{k} is {:?}", get(f, k));
        }
        assert!(i64::try_from(get(f, "ansible_processor_count").clone()).unwrap() >= 1);
        assert!(i64::try_from(get(f, "ansible_memtotal_mb").clone()).unwrap() > 0);
        let uid = nix::unistd::getuid().as_raw() as i64;
        assert_eq!(get(f, "ansible_user_uid"), &Value::from(uid));
        assert_eq!(get(f, "ansible_effective_user_id"), &Value::from(uid));
        assert_eq!(get(f, "ansible_userspace_bits").kind(), ValueKind::String);
        assert_eq!(get(f, "ansible_processor").kind(), ValueKind::Seq);
        let mem = get(f, "ansible_memory_mb");
        assert!(is_int(&attr(&attr(mem, "real"), "total")));

        let dt = get(f, "ansible_date_time");
        let epoch = attr(dt, "epoch");
        assert_eq!(epoch.kind(), ValueKind::String);
        let epoch = epoch.to_string();
        assert!(!epoch.is_empty() && epoch.chars().all(|c| c.is_ascii_digit()));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((epoch.parse::<i64>().unwrap() - now).abs() < 60);
        for k in [
            "date",
            "time",
            "year",
            "month",
            "day",
            "hour",
            "tz",
            "tz_offset",
        ] {
            assert_eq!(attr(dt, k).kind(), ValueKind::String, "date_time.{k}");
        }
        let iso = attr(dt, "iso8601").to_string();
        assert!(iso.ends_with('Z') && iso.len() == 20, "{iso}");
        assert_eq!(attr(dt, "iso8601_micro").to_string().len(), 27);

        assert!(!attr(get(f, "ansible_env"), "PATH").is_undefined());
        assert_eq!(
            attr(get(f, "ansible_selinux"), "status"),
            Value::from("disabled")
        );
        assert_eq!(get(f, "ansible_local").len(), Some(0));
        assert_eq!(
            get(f, "gather_subset"),
            &Value::from(vec![Value::from("all")])
        );
        assert_eq!(get(f, "module_setup"), &Value::from(true));
        assert_eq!(get(f, "ansible_service_mgr").kind(), ValueKind::String);
        assert_eq!(get(f, "ansible_mounts").kind(), ValueKind::Seq);
        assert_eq!(get(f, "ansible_lsb").kind(), ValueKind::Map);

        // network
        let ifaces = strs(get(f, "ansible_interfaces"));
        assert!(ifaces.contains(&"lo".to_owned()), "{ifaces:?}");
        let lo = get(f, "ansible_lo");
        assert_eq!(attr(lo, "device"), Value::from("lo"));
        assert_eq!(attr(lo, "type"), Value::from("loopback"));
        assert!(is_int(&attr(lo, "mtu")));
        assert_eq!(attr(&attr(lo, "ipv4"), "address"), Value::from("127.0.0.1"));
        assert_eq!(attr(&attr(lo, "ipv4"), "prefix"), Value::from("8"));
        let has_route = std::process::Command::new("ip")
            .args(["-4", "route", "get", "8.8.8.8"])
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout.contains(&b's'));
        let d4 = get(f, "ansible_default_ipv4");
        assert_eq!(d4.kind(), ValueKind::Map);
        if has_route {
            let addr = attr(d4, "address").to_string();
            assert!(addr.parse::<std::net::Ipv4Addr>().is_ok(), "{addr}");
            let iface = attr(d4, "interface").to_string();
            assert!(ifaces.contains(&iface));
            assert!(is_int(&attr(d4, "mtu")));
            assert_eq!(attr(d4, "prefix").kind(), ValueKind::String);
            assert!(!attr(d4, "netmask").is_undefined());
            assert!(strs(get(f, "ansible_all_ipv4_addresses")).contains(&addr));
            let dev = get(f, &format!("ansible_{iface}"));
            assert_eq!(attr(&attr(dev, "ipv4"), "address"), Value::from(addr));
        }

        // The module result carries the same facts under ansible_facts.
        let data = out.data.get("ansible_facts").unwrap();
        assert_eq!(
            attr(data, "ansible_distribution"),
            get(f, "ansible_distribution").clone()
        );
    }

    #[tokio::test]
    async fn gather_subset_selects_collectors() {
        let out = gather("gather_subset: min").await;
        let f = &out.facts;
        for k in [
            "ansible_distribution",
            "ansible_os_family",
            "ansible_hostname",
            "ansible_date_time",
            "ansible_env",
            "ansible_user_id",
            "ansible_pkg_mgr",
            "ansible_service_mgr",
            "ansible_lsb",
            "ansible_local",
            "ansible_fips",
            "ansible_dns",
        ] {
            assert!(f.contains_key(k), "min lacks {k}");
        }
        for k in [
            "ansible_processor_count",
            "ansible_mounts",
            "ansible_interfaces",
            "ansible_default_ipv4",
            "ansible_virtualization_type",
            "ansible_loadavg",
        ] {
            assert!(!f.contains_key(k), "min has {k}");
        }
        assert_eq!(
            get(f, "gather_subset"),
            &Value::from(vec![Value::from("min")])
        );

        // network needs distribution and platform, so they come along.
        let out = gather(r#"gather_subset: "!all,!min,network""#).await;
        let f = &out.facts;
        assert!(f.contains_key("ansible_interfaces"));
        assert!(f.contains_key("ansible_distribution"));
        assert!(f.contains_key("ansible_kernel"));
        assert!(!f.contains_key("ansible_env"));
        assert!(!f.contains_key("ansible_date_time"));

        let out = gather(r#"gather_subset: ["all", "!hardware", "!network"]"#).await;
        let f = &out.facts;
        assert!(!f.contains_key("ansible_mounts"));
        assert!(!f.contains_key("ansible_memtotal_mb"));
        assert!(!f.contains_key("ansible_interfaces"));
        assert!(f.contains_key("ansible_virtualization_role"));
        assert!(f.contains_key("ansible_env"));
        // As in Ansible, exclusions alone leave just the minimal set.
        let out = gather(r#"gather_subset: "!hardware""#).await;
        assert!(!out.facts.contains_key("ansible_virtualization_role"));
        assert!(out.facts.contains_key("ansible_env"));

        let out = gather("gather_subset: [bogus]").await;
        assert!(out.failed);
        assert!(
            out.msg
                .unwrap()
                .starts_with("Bad subset 'bogus' given to Ansible. gather_subset options allowed: all, all_ipv4_addresses, all_ipv6_addresses, apparmor,")
        );
    }

    #[tokio::test]
    async fn filter_keeps_matching_names() {
        let out = gather("filter: ansible_distribution*").await;
        let names: Vec<&str> = out.facts.keys().map(String::as_str).collect();
        assert!(names.contains(&"ansible_distribution"));
        assert!(names.contains(&"ansible_distribution_major_version"));
        assert!(names.iter().all(|n| n.starts_with("ansible_distribution")));
        // gather_subset and module_setup are filtered like any fact.
        assert!(!names.contains(&"module_setup"));

        // Without the prefix, the pattern is tried with ansible_ added.
        let out = gather("filter: [kernel, 'os_fam?ly']").await;
        let names: Vec<&str> = out.facts.keys().map(String::as_str).collect();
        assert_eq!(names, ["ansible_kernel", "ansible_os_family"]);

        let out = gather("filter: '*'").await;
        assert!(out.facts.contains_key("module_setup"));
    }

    #[tokio::test]
    async fn local_facts_from_fact_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("j.fact"), r#"{"a": 1, "b": [true, null, "x"]}"#).unwrap();
        std::fs::write(
            d.join("i.fact"),
            "[general]\nName = hoist\nmulti: one\n  two\n[DEFAULT]\ndd=1\n",
        )
        .unwrap();
        std::fs::write(d.join("e.fact"), "#!/bin/sh\necho '{\"exec\": true}'\n").unwrap();
        std::fs::write(d.join("bad.fact"), "#!/bin/sh\necho oops >&2\nexit 3\n").unwrap();
        std::fs::write(d.join("g.fact"), "no section here\n").unwrap();
        std::fs::write(d.join("ignored.txt"), "{}").unwrap();
        for x in ["e.fact", "bad.fact"] {
            std::fs::set_permissions(d.join(x), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let out = gather(&format!(
            "gather_subset: ['!all', '!min', local]\nfact_path: {}",
            d.display()
        ))
        .await;
        let names: Vec<&str> = out.facts.keys().map(String::as_str).collect();
        assert_eq!(names, ["ansible_local", "gather_subset", "module_setup"]);
        let local = get(&out.facts, "ansible_local");
        let mut keys: Vec<String> = strs(local);
        keys.sort();
        assert_eq!(keys, ["bad", "e", "g", "i", "j"]);
        assert_eq!(attr(&attr(local, "j"), "a"), Value::from(1));
        assert_eq!(
            attr(&attr(local, "j"), "b").to_string(),
            Value::from(vec![Value::from(true), Value::from(()), Value::from("x")]).to_string()
        );
        assert_eq!(attr(&attr(local, "e"), "exec"), Value::from(true));
        let general = attr(&attr(local, "i"), "general");
        assert_eq!(attr(&general, "name"), Value::from("hoist"));
        assert_eq!(attr(&general, "multi"), Value::from("one\ntwo"));
        assert_eq!(attr(&general, "dd"), Value::from("1"));
        let bad = path_msg(&attr(local, "bad"), d);
        assert_eq!(
            bad,
            "Failure executing fact script (D/bad.fact), rc: 3, err: oops\n"
        );
        assert_eq!(
            path_msg(&attr(local, "g"), d),
            "error loading facts as JSON or ini - please check content: D/g.fact"
        );
        let warnings = out.data.get("warnings").unwrap();
        assert_eq!(warnings.len(), Some(2));

        // A missing fact_path gives an empty dict.
        let out = gather("gather_subset: local\nfact_path: /nonexistent/facts.d").await;
        assert_eq!(get(&out.facts, "ansible_local").len(), Some(0));
    }

    fn path_msg(v: &Value, dir: &std::path::Path) -> String {
        v.to_string().replace(&dir.display().to_string(), "D")
    }

    #[tokio::test]
    async fn works_in_check_mode() {
        let dir = tempfile::tempdir().unwrap();
        let e = TestEnv::new(dir.path(), &[]);
        let out = run(&Setup, "gather_subset: min", &e, true, false)
            .await
            .unwrap();
        assert!(!out.failed && !out.changed);
        assert!(out.facts.contains_key("ansible_distribution"));
    }

    /// Runs setup through a shell-script connection (as over SSH), with
    /// `become` when given.
    async fn gather_via_shell(become_: Option<crate::connection::shell::Become>) -> Outcome {
        use crate::connection::shell::{BecomeRunner, LocalRunner, ScriptRunner, ShellConnection};
        use std::sync::Arc;
        let runner: Arc<dyn ScriptRunner> = match become_ {
            Some(b) => Arc::new(BecomeRunner::new(Arc::new(LocalRunner), b)),
            None => Arc::new(LocalRunner),
        };
        let conn = ShellConnection::new(runner);
        let dir = tempfile::tempdir().unwrap();
        let env = TestEnv::new(dir.path(), &[]);
        let raw = IndexMap::from([(
            "gather_subset".to_owned(),
            Value::from(vec![Value::from("all")]),
        )]);
        let args = Args::bind(Setup.spec(), &raw).unwrap();
        let ctx = ModuleCtx {
            conn: &conn,
            check_mode: false,
            predict: false,
            diff: false,
            host: "localhost",
            env: &env,
        };
        Setup.run(&args, &ctx).await.unwrap()
    }

    #[tokio::test]
    async fn works_through_a_shell_connection_and_become() {
        let out = gather_via_shell(None).await;
        assert!(!out.failed);
        let direct = gather("gather_subset: all").await;
        for k in [
            "ansible_distribution",
            "ansible_distribution_version",
            "ansible_hostname",
            "ansible_user_id",
            "ansible_interfaces",
            "ansible_processor",
        ] {
            assert_eq!(
                get(&out.facts, k).to_string(),
                get(&direct.facts, k).to_string(),
                "{k}"
            );
        }
        // become (su) to an unprivileged user, when this test runs as root
        let su = std::path::Path::new("/bin/su").exists()
            || std::path::Path::new("/usr/bin/su").exists();
        let nobody = std::fs::read_to_string("/etc/passwd")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("nobody:"));
        if !nix::unistd::geteuid().is_root() || !su || !nobody {
            return;
        }
        let out = gather_via_shell(Some(crate::connection::shell::Become {
            method: "su".into(),
            user: "nobody".into(),
            password: None,
            flags: None,
        }))
        .await;
        assert!(!out.failed, "{:?}", out.msg);
        assert_eq!(get(&out.facts, "ansible_user_id"), &Value::from("nobody"));
        let uid = get(&out.facts, "ansible_effective_user_id");
        assert!(is_int(uid) && uid != &Value::from(0));
        assert_eq!(
            get(&out.facts, "ansible_distribution").to_string(),
            get(&direct.facts, "ansible_distribution").to_string()
        );
        assert!(get(&out.facts, "ansible_memtotal_mb").is_integer());
    }

    #[test]
    fn namespace_strips_the_prefix() {
        let mut facts = Facts::new();
        facts.insert("ansible_distribution".into(), Value::from("Debian"));
        facts.insert("ansible_local".into(), vmap([("x", 1)]));
        facts.insert("module_setup".into(), Value::from(true));
        let ns = facts_namespace(&facts);
        assert_eq!(attr(&ns, "distribution"), Value::from("Debian"));
        assert_eq!(attr(&attr(&ns, "ansible_local"), "x"), Value::from(1));
        assert_eq!(attr(&ns, "module_setup"), Value::from(true));
        assert!(attr(&ns, "local").is_undefined());
        assert_eq!(ns.len(), Some(3));
    }

    #[test]
    fn subsets_follow_ansible() {
        let sel = |s: &[&str]| {
            let v: Vec<String> = s.iter().map(|x| x.to_string()).collect();
            select_collectors(&v)
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(sel(&["!all", "!min"]), Vec::<&str>::new());
        assert_eq!(
            sel(&["!all", "!min", "pkg_mgr"]),
            ["distribution", "pkg_mgr"]
        );
        assert_eq!(
            sel(&["!all", "!min", "distribution_version"]),
            ["distribution"]
        );
        assert_eq!(sel(&["!all", "!min", "hardware"]), ["hardware", "platform"]);
        let all = sel(&["all"]);
        assert_eq!(all.len(), COLLECTORS.len());
        let no_hw = sel(&["all", "!hardware", "!devices"]);
        assert!(!no_hw.contains(&"hardware") && no_hw.contains(&"network"));
        // "!all" keeps the minimal set; an explicit name wins over "!".
        let min = sel(&["!all"]);
        assert_eq!(min.len(), MINIMAL.len());
        let explicit = sel(&["!virtual", "virtual"]);
        assert!(explicit.contains(&"virtual"));
        assert!(select_collectors(&["nope".into()]).is_err());
    }

    #[test]
    fn fnmatch_like_python() {
        assert!(fnmatch("ansible_distribution", "ansible_dist*"));
        assert!(fnmatch("ansible_eth0", "ansible_eth?"));
        assert!(fnmatch("ansible_eth0", "ansible_eth[0-9]"));
        assert!(!fnmatch("ansible_eth0", "ansible_eth[!0-9]"));
        assert!(fnmatch("a[b", "a[b"));
        assert!(fnmatch("abc", "*"));
        assert!(!fnmatch("abc", "ab"));
        assert!(fnmatch("", "*"));
        assert!(fnmatch("a*c", "a*c"));
        assert!(filter_keeps("ansible_kernel", &["kernel".into()]));
        assert!(!filter_keeps("facter_x", &["x".into()]));
        assert!(filter_keeps("anything", &["".into()]));
    }

    #[test]
    fn small_helpers() {
        assert_eq!(bytes_to_human(0.0), "0.00 Bytes");
        assert_eq!(bytes_to_human(536870912.0 * 512.0), "256.00 GB");
        assert_eq!(bytes_to_human(1536.0), "1.50 KB");
        assert_eq!(py_round(0.5), 0);
        assert_eq!(py_round(1.5), 2);
        assert_eq!(py_round(2.5), 2);
        assert_eq!(py_round(0.4), 0);
        assert_eq!(capitalize("opensuse-leap"), "Opensuse-leap");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
        assert_eq!(
            shlex_posix("A=\"b c\" D='e' # note\nF=g\\ h"),
            ["A=b c", "D=e", "F=g h"]
        );
        assert_eq!(
            shlex_nonposix(r#"a=1 "b c" d"#).unwrap(),
            ["a=1", "\"b c\"", "d"]
        );
        assert!(shlex_nonposix("a \"b").is_none());
        assert_eq!(unescape_octal(r"/mnt/a\040b"), "/mnt/a b");
        assert_eq!(
            release_content("CentOS Linux release 7.9.2009 (Core)"),
            (
                Some("CentOS Linux".into()),
                Some("7.9.2009".into()),
                Some("Core".into())
            )
        );
    }

    // -----------------------------------------------------------------------
    // Parsing a fixed probe output, independent of this machine.

    fn sec(name: &str, content: &str) -> String {
        format!("\n\x1e{name}\x1e\n{content}")
    }

    fn all_collectors() -> BTreeSet<&'static str> {
        COLLECTORS.iter().map(|c| c.name).collect()
    }

    fn facts_of(text: &str) -> Facts {
        let p = Probe::parse(text);
        let mut w = Vec::new();
        build_facts(&p, &all_collectors(), &["all".into()], &[], &mut w)
    }

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU\nphysical id\t: 0\nsiblings\t: 4\ncore id\t\t: 0\ncpu cores\t: 2\nflags\t\t: fpu vme de\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU\nphysical id\t: 0\nsiblings\t: 4\ncore id\t\t: 0\ncpu cores\t: 2\nflags\t\t: fpu vme de\n\nprocessor\t: 2\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU\nphysical id\t: 1\nsiblings\t: 4\ncore id\t\t: 1\ncpu cores\t: 2\nflags\t\t: fpu vme de\n\nprocessor\t: 3\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU\nphysical id\t: 1\nsiblings\t: 4\ncore id\t\t: 1\ncpu cores\t: 2\nflags\t\t: fpu vme de\n";

    fn rocky_probe() -> String {
        let env = "HOME=/home/deploy\0PATH=/usr/bin:/bin\0LANG=en_US.UTF-8\0MULTI=a\nb\0";
        [
            sec("env0", env),
            sec(
                "uname",
                "Linux\n5.14.0-362.el9.x86_64\n#1 SMP PREEMPT_DYNAMIC Wed Nov 8 2023\nx86_64\nweb1.example.com\n",
            ),
            sec("bits", "64\n"),
            sec("fqdn", "10.0.0.5       web1.example.com web1\n"),
            sec("F /etc/machine-id", "0123456789abcdef\n"),
            sec("C python", "/usr/bin/python3\n3 9 18 final 0\ncpython\n1\n"),
            sec("R python", "0\n"),
            sec(
                "F /etc/os-release",
                "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n",
            ),
            sec("F /etc/redhat-release", "Rocky Linux release 9.3 (Blue Onyx)\n"),
            sec("F /etc/rocky-release", "Rocky Linux release 9.3 (Blue Onyx)\n"),
            sec("F /etc/system-release", "Rocky Linux release 9.3 (Blue Onyx)\n"),
            sec("X", "/usr/bin/dnf\n/usr/bin/yum\n/run/systemd/system/\n/etc/init.d/\n"),
            sec("realpath", "/usr/bin/dnf\t/usr/bin/dnf-3\n"),
            sec("F /proc/1/comm", "systemd\n"),
            sec("L", "/sbin/init\t../lib/systemd/systemd\n"),
            sec("B", "systemctl=/usr/bin/systemctl\n"),
            sec("C systemctl", "systemd 252 (252-18.el9)\n+PAM +AUDIT +SELINUX\n"),
            sec("R systemctl", "0\n"),
            sec(
                "F /proc/cmdline",
                "BOOT_IMAGE=(hd0,gpt2)/vmlinuz root=/dev/mapper/rl-root ro console=tty0 console=ttyS0,115200 quiet\n",
            ),
            sec(
                "date",
                "1700000000|123456789|2023|11|14|23|13|20|2|46|+0100|CET|Tuesday\n+0100|CET\n+0200|CEST\n",
            ),
            sec("F /proc/loadavg", "0.25 0.50 1.00 1/200 1234\n"),
            sec(
                "F /etc/ssh/ssh_host_ed25519_key.pub",
                "ssh-ed25519 AAAAkey root@web1\n",
            ),
            sec(
                "user",
                "1000\n1000\n1000\n1000\ndeploy\ndeploy:x:1000:1000:Deploy User:/home/deploy:/bin/bash\n",
            ),
            sec("F /proc/cpuinfo", CPUINFO),
            sec("F /sys/devices/virtual/dmi/id/product_name", "KVM\n"),
            sec("F /sys/devices/virtual/dmi/id/sys_vendor", "QEMU\n"),
            sec(
                "F /proc/meminfo",
                "MemTotal:        8000000 kB\nMemFree:         2048000 kB\nBuffers:          102400 kB\nCached:          1024000 kB\nSwapCached:            0 kB\nSwapTotal:       2097148 kB\nSwapFree:        2097148 kB\n",
            ),
            sec("F /proc/uptime", "12345.67 20000.00\n"),
            sec("nproc", "4\n"),
            sec("C findmnt", "/      /dev/vda1           xfs  rw\n/srv   /dev/vda1[/srv]     xfs  rw\n"),
            sec("R findmnt", "0\n"),
            sec("C lsblk", "/dev/vda\n/dev/vda1 1111-2222\n"),
            sec("R lsblk", "0\n"),
            sec(
                "mtab",
                "proc /proc proc rw 0 0\n/dev/vda1 / xfs rw,relatime 0 0\n/dev/vda1 /srv xfs rw,relatime 0 0\nnas:/export /mnt/my\\040share nfs4 rw 0 0\n",
            ),
            sec(
                "statfs",
                "/\t0\t4096 4096 1000 400 500 2000 1500\n/srv\t0\t4096 4096 1000 400 500 2000 1500\n/mnt/my\\040share\t124\t\n",
            ),
            sec(
                "F /etc/resolv.conf",
                "# generated\nsearch example.com corp.example.com\nnameserver 10.0.0.1\nnameserver 10.0.0.2\noptions ndots:2 rotate\n",
            ),
            sec("ip", "/usr/sbin/ip\n"),
            sec("C route4", "8.8.8.8 via 10.0.0.1 dev eth0 src 10.0.0.5 uid 1000 \n    cache \n"),
            sec("R route4", "0\n"),
            sec("C route6", ""),
            sec("R route6", "2\n"),
            sec("ifaces", "lo\neth0\n"),
            sec("if lo", "address=00:00:00:00:00:00\nmtu=65536\noperstate=unknown\ntype=772\nflags=0x9\naddress?\nmtu?\noperstate?\ntype?\nflags?\n"),
            sec(
                "C addrp lo",
                "1: lo: <LOOPBACK,UP> mtu 65536\n    inet 127.0.0.1/8 scope host lo\n    inet6 ::1/128 scope host \n",
            ),
            sec("R addrp lo", "0\n"),
            sec(
                "if eth0",
                "address=52:54:00:12:34:56\nmtu=1500\noperstate=up\ntype=1\nspeed=1000\nflags=0x1103\naddress?\nmtu?\noperstate?\ntype?\nspeed?\nflags?\ndevice?\nmodule>/sys/module/virtio_net\ndevice>../../../virtio0\n",
            ),
            sec(
                "C addrp eth0",
                "2: eth0: <BROADCAST,UP> mtu 1500\n    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\n    inet6 fe80::5054:ff:fe12:3456/64 scope link \n",
            ),
            sec("R addrp eth0", "0\n"),
            sec(
                "C addrs eth0",
                "2: eth0: <BROADCAST,UP> mtu 1500\n    inet 10.0.0.6/24 brd 10.0.0.255 scope global secondary eth0:1\n",
            ),
            sec("R addrs eth0", "0\n"),
            sec("C local4", "local 10.0.0.5 dev eth0 table local\nlocal 127.0.0.0/8 dev lo\nbroadcast 10.0.0.255 dev eth0\n"),
            sec("R local4", "0\n"),
            sec("end", ""),
        ]
        .concat()
    }

    #[test]
    fn parses_a_fixed_probe_output() {
        let f = facts_of(&rocky_probe());
        let s = |k: &str| get(&f, k).to_string();
        // platform
        assert_eq!(s("ansible_system"), "Linux");
        assert_eq!(s("ansible_kernel"), "5.14.0-362.el9.x86_64");
        assert_eq!(s("ansible_nodename"), "web1.example.com");
        assert_eq!(s("ansible_hostname"), "web1");
        assert_eq!(s("ansible_fqdn"), "web1.example.com");
        assert_eq!(s("ansible_domain"), "example.com");
        assert_eq!(s("ansible_userspace_bits"), "64");
        assert_eq!(s("ansible_userspace_architecture"), "x86_64");
        assert_eq!(s("ansible_machine_id"), "0123456789abcdef");
        assert_eq!(s("ansible_python_version"), "3.9.18");
        let py = get(&f, "ansible_python");
        assert_eq!(attr(&attr(py, "version"), "minor"), Value::from(9));
        assert_eq!(attr(py, "type"), Value::from("cpython"));
        // distribution
        assert_eq!(s("ansible_distribution"), "Rocky");
        assert_eq!(s("ansible_distribution_version"), "9.3");
        assert_eq!(s("ansible_distribution_major_version"), "9");
        assert_eq!(s("ansible_distribution_release"), "Blue Onyx");
        assert_eq!(s("ansible_distribution_file_path"), "/etc/redhat-release");
        assert_eq!(s("ansible_distribution_file_variety"), "RedHat");
        assert_eq!(
            get(&f, "ansible_distribution_file_parsed"),
            &Value::from(true)
        );
        assert_eq!(s("ansible_os_family"), "RedHat");
        assert_eq!(s("ansible_pkg_mgr"), "dnf");
        assert_eq!(s("ansible_service_mgr"), "systemd");
        let systemd = get(&f, "ansible_systemd");
        assert_eq!(attr(systemd, "version"), Value::from(252));
        assert_eq!(
            attr(systemd, "features"),
            Value::from("+PAM +AUDIT +SELINUX")
        );
        // lsb: neither lsb_release nor /etc/lsb-release
        assert_eq!(get(&f, "ansible_lsb").len(), Some(0));
        // cmdline
        let cmd = get(&f, "ansible_cmdline");
        assert_eq!(attr(cmd, "console"), Value::from("ttyS0,115200"));
        assert_eq!(attr(cmd, "quiet"), Value::from(true));
        let proc = get(&f, "ansible_proc_cmdline");
        assert_eq!(
            attr(proc, "console"),
            Value::from(vec![Value::from("tty0"), Value::from("ttyS0,115200")])
        );
        // date_time: local fields as the target prints them, iso8601 in UTC
        let dt = get(&f, "ansible_date_time");
        assert_eq!(attr(dt, "epoch"), Value::from("1700000000"));
        assert_eq!(attr(dt, "iso8601"), Value::from("2023-11-14T22:13:20Z"));
        assert_eq!(
            attr(dt, "iso8601_micro"),
            Value::from("2023-11-14T22:13:20.123456Z")
        );
        assert_eq!(
            attr(dt, "iso8601_basic"),
            Value::from("20231114T231320123456")
        );
        assert_eq!(attr(dt, "date"), Value::from("2023-11-14"));
        assert_eq!(attr(dt, "time"), Value::from("23:13:20"));
        assert_eq!(attr(dt, "tz"), Value::from("CET"));
        assert_eq!(attr(dt, "tz_dst"), Value::from("CEST"));
        assert_eq!(attr(dt, "tz_offset"), Value::from("+0100"));
        assert_eq!(attr(dt, "weekday"), Value::from("Tuesday"));
        assert_eq!(attr(dt, "weekday_number"), Value::from("2"));
        assert_eq!(attr(dt, "weeknumber"), Value::from("46"));
        // env, user
        let env = get(&f, "ansible_env");
        assert_eq!(attr(env, "HOME"), Value::from("/home/deploy"));
        assert_eq!(attr(env, "MULTI"), Value::from("a\nb"));
        assert_eq!(s("ansible_user_id"), "deploy");
        assert_eq!(get(&f, "ansible_user_uid"), &Value::from(1000));
        assert_eq!(s("ansible_user_gecos"), "Deploy User");
        assert_eq!(s("ansible_user_dir"), "/home/deploy");
        assert_eq!(s("ansible_user_shell"), "/bin/bash");
        // ssh keys
        assert_eq!(s("ansible_ssh_host_key_ed25519_public"), "AAAAkey");
        assert_eq!(
            s("ansible_ssh_host_key_ed25519_public_keytype"),
            "ssh-ed25519"
        );
        // loadavg
        assert_eq!(attr(get(&f, "ansible_loadavg"), "5m"), Value::from(0.5));
        // hardware
        assert_eq!(
            get(&f, "ansible_processor"),
            &Value::from(
                ["0", "GenuineIntel", "Intel(R) Xeon(R) CPU"]
                    .repeat(4)
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        if i % 3 == 0 {
                            Value::from((i / 3).to_string())
                        } else {
                            Value::from(*x)
                        }
                    })
                    .collect::<Vec<_>>()
            )
        );
        assert_eq!(get(&f, "ansible_processor_count"), &Value::from(2));
        assert_eq!(get(&f, "ansible_processor_cores"), &Value::from(2));
        assert_eq!(
            get(&f, "ansible_processor_threads_per_core"),
            &Value::from(2)
        );
        assert_eq!(get(&f, "ansible_processor_vcpus"), &Value::from(8));
        assert_eq!(get(&f, "ansible_processor_nproc"), &Value::from(4));
        assert_eq!(strs(get(&f, "ansible_flags")), ["fpu", "vme", "de"]);
        assert_eq!(get(&f, "ansible_memtotal_mb"), &Value::from(7812));
        assert_eq!(get(&f, "ansible_memfree_mb"), &Value::from(2000));
        assert_eq!(get(&f, "ansible_swaptotal_mb"), &Value::from(2047));
        let mem = get(&f, "ansible_memory_mb");
        assert_eq!(attr(&attr(mem, "real"), "used"), Value::from(5812));
        assert_eq!(attr(&attr(mem, "nocache"), "free"), Value::from(3100));
        assert_eq!(attr(&attr(mem, "swap"), "used"), Value::from(0));
        assert_eq!(get(&f, "ansible_uptime_seconds"), &Value::from(12345));
        assert_eq!(s("ansible_product_name"), "KVM");
        assert_eq!(s("ansible_system_vendor"), "QEMU");
        assert_eq!(s("ansible_bios_version"), "NA");
        assert_eq!(s("ansible_lvm"), "N/A");
        // virtual
        assert_eq!(s("ansible_virtualization_type"), "kvm");
        assert_eq!(s("ansible_virtualization_role"), "guest");
        assert_eq!(strs(get(&f, "ansible_virtualization_tech_guest")), ["kvm"]);
        // mounts: only real devices; bind mounts marked; sizes from statvfs
        let mounts: Vec<Value> = get(&f, "ansible_mounts").try_iter().unwrap().collect();
        assert_eq!(mounts.len(), 3);
        assert_eq!(attr(&mounts[0], "mount"), Value::from("/"));
        assert_eq!(attr(&mounts[0], "device"), Value::from("/dev/vda1"));
        assert_eq!(attr(&mounts[0], "fstype"), Value::from("xfs"));
        assert_eq!(attr(&mounts[0], "options"), Value::from("rw,relatime"));
        assert_eq!(attr(&mounts[0], "size_total"), Value::from(4_096_000));
        assert_eq!(attr(&mounts[0], "size_available"), Value::from(1_638_400));
        assert_eq!(attr(&mounts[0], "block_used"), Value::from(600));
        assert_eq!(attr(&mounts[0], "inode_used"), Value::from(500));
        assert_eq!(attr(&mounts[0], "uuid"), Value::from("1111-2222"));
        assert_eq!(attr(&mounts[0], "dump"), Value::from(0));
        assert_eq!(attr(&mounts[1], "options"), Value::from("rw,relatime,bind"));
        assert_eq!(attr(&mounts[2], "mount"), Value::from("/mnt/my share"));
        assert_eq!(
            attr(&mounts[2], "note"),
            Value::from("Could not get extra information due to timeout")
        );
        // dns
        let dns = get(&f, "ansible_dns");
        assert_eq!(strs(&attr(dns, "nameservers")), ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(
            strs(&attr(dns, "search")),
            ["example.com", "corp.example.com"]
        );
        assert_eq!(attr(&attr(dns, "options"), "ndots"), Value::from("2"));
        assert_eq!(attr(&attr(dns, "options"), "rotate"), Value::from(true));
        // network
        assert_eq!(
            strs(get(&f, "ansible_interfaces")),
            ["lo", "eth0", "eth0_1"]
        );
        let d4 = get(&f, "ansible_default_ipv4");
        assert_eq!(attr(d4, "address"), Value::from("10.0.0.5"));
        assert_eq!(attr(d4, "gateway"), Value::from("10.0.0.1"));
        assert_eq!(attr(d4, "interface"), Value::from("eth0"));
        assert_eq!(attr(d4, "alias"), Value::from("eth0"));
        assert_eq!(attr(d4, "netmask"), Value::from("255.255.255.0"));
        assert_eq!(attr(d4, "network"), Value::from("10.0.0.0"));
        assert_eq!(attr(d4, "broadcast"), Value::from("10.0.0.255"));
        assert_eq!(attr(d4, "prefix"), Value::from("24"));
        assert_eq!(attr(d4, "macaddress"), Value::from("52:54:00:12:34:56"));
        assert_eq!(attr(d4, "mtu"), Value::from(1500));
        assert_eq!(attr(d4, "type"), Value::from("ether"));
        assert_eq!(get(&f, "ansible_default_ipv6").len(), Some(0));
        let eth0 = get(&f, "ansible_eth0");
        assert_eq!(attr(eth0, "active"), Value::from(true));
        assert_eq!(attr(eth0, "promisc"), Value::from(true));
        assert_eq!(attr(eth0, "speed"), Value::from(1000));
        assert_eq!(attr(eth0, "module"), Value::from("virtio_net"));
        assert_eq!(attr(eth0, "pciid"), Value::from("virtio0"));
        assert_eq!(
            attr(&attr(eth0, "ipv4"), "address"),
            Value::from("10.0.0.5")
        );
        let sec6: Vec<Value> = attr(eth0, "ipv6").try_iter().unwrap().collect();
        assert_eq!(attr(&sec6[0], "scope"), Value::from("link"));
        assert_eq!(attr(&sec6[0], "prefix"), Value::from("64"));
        let secondaries: Vec<Value> = attr(eth0, "ipv4_secondaries").try_iter().unwrap().collect();
        assert_eq!(attr(&secondaries[0], "address"), Value::from("10.0.0.6"));
        let alias = get(&f, "ansible_eth0_1");
        let alias_sec: Vec<Value> = attr(alias, "ipv4_secondaries")
            .try_iter()
            .unwrap()
            .collect();
        assert_eq!(attr(&alias_sec[0], "address"), Value::from("10.0.0.6"));
        let lo = get(&f, "ansible_lo");
        assert!(attr(lo, "macaddress").is_undefined());
        assert_eq!(attr(lo, "type"), Value::from("loopback"));
        assert_eq!(
            strs(get(&f, "ansible_all_ipv4_addresses")),
            ["10.0.0.5", "10.0.0.6"]
        );
        assert_eq!(
            strs(get(&f, "ansible_all_ipv6_addresses")),
            ["fe80::5054:ff:fe12:3456"]
        );
        let reach = get(&f, "ansible_locally_reachable_ips");
        assert_eq!(strs(&attr(reach, "ipv4")), ["10.0.0.5", "127.0.0.0/8"]);
        // misc
        assert_eq!(get(&f, "ansible_fips"), &Value::from(false));
        assert_eq!(s("ansible_system_capabilities"), "N/A");
        assert_eq!(s("ansible_iscsi_iqn"), "");
        assert_eq!(get(&f, "ansible_is_chroot"), &Value::from(true));
        // every fact but the two meta ones is prefixed, and they are sorted
        let keys: Vec<&String> = f.keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(
            f.keys()
                .all(|k| k.starts_with("ansible_") || k == "gather_subset" || k == "module_setup")
        );
    }

    /// The distribution facts for a set of release files.
    fn dist_of(files: &[(&str, &str)], exists: &[&str]) -> Facts {
        let mut text = sec("uname", "Linux\n6.1.0\n#1 SMP\nx86_64\nhost\n");
        for (path, content) in files {
            text.push_str(&sec(&format!("F {path}"), content));
        }
        text.push_str(&sec("X", &exists.join("\n")));
        let p = Probe::parse(&text);
        distribution_facts(&p, &uname(&p))
    }

    fn ds(f: &Facts, k: &str) -> String {
        f.get(k)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "<none>".into())
    }

    #[test]
    fn distributions_like_ansible() {
        let ubuntu = dist_of(
            &[
                (
                    "/etc/os-release",
                    "PRETTY_NAME=\"Ubuntu 22.04.3 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.3 LTS (Jammy Jellyfish)\"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n",
                ),
                (
                    "/etc/lsb-release",
                    "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.3 LTS\"\n",
                ),
                ("/etc/debian_version", "bookworm/sid\n"),
            ],
            &[],
        );
        assert_eq!(ds(&ubuntu, "distribution"), "Ubuntu");
        assert_eq!(ds(&ubuntu, "distribution_version"), "22.04");
        assert_eq!(ds(&ubuntu, "distribution_major_version"), "22");
        assert_eq!(ds(&ubuntu, "distribution_release"), "jammy");
        assert_eq!(ds(&ubuntu, "distribution_file_variety"), "Debian");
        assert_eq!(ds(&ubuntu, "os_family"), "Debian");

        let debian = dist_of(
            &[
                (
                    "/etc/os-release",
                    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
                ),
                ("/etc/debian_version", "12.11\n"),
            ],
            &[],
        );
        assert_eq!(ds(&debian, "distribution"), "Debian");
        assert_eq!(ds(&debian, "distribution_version"), "12.11");
        assert_eq!(ds(&debian, "distribution_major_version"), "12");
        assert_eq!(ds(&debian, "distribution_minor_version"), "11");
        assert_eq!(ds(&debian, "distribution_release"), "bookworm");
        assert_eq!(ds(&debian, "distribution_file_path"), "/etc/os-release");

        let centos = dist_of(
            &[
                (
                    "/etc/os-release",
                    "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n",
                ),
                (
                    "/etc/centos-release",
                    "CentOS Linux release 7.9.2009 (Core)\n",
                ),
                (
                    "/etc/redhat-release",
                    "CentOS Linux release 7.9.2009 (Core)\n",
                ),
                (
                    "/etc/system-release",
                    "CentOS Linux release 7.9.2009 (Core)\n",
                ),
            ],
            &[],
        );
        assert_eq!(ds(&centos, "distribution"), "CentOS");
        assert_eq!(ds(&centos, "distribution_version"), "7.9");
        assert_eq!(ds(&centos, "distribution_major_version"), "7");
        assert_eq!(ds(&centos, "distribution_release"), "Core");
        assert_eq!(ds(&centos, "distribution_file_path"), "/etc/redhat-release");
        assert_eq!(ds(&centos, "os_family"), "RedHat");

        let rhel = dist_of(
            &[
                (
                    "/etc/os-release",
                    "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.3 (Plow)\"\nID=\"rhel\"\nVERSION_ID=\"9.3\"\n",
                ),
                (
                    "/etc/redhat-release",
                    "Red Hat Enterprise Linux release 9.3 (Plow)\n",
                ),
            ],
            &[],
        );
        assert_eq!(ds(&rhel, "distribution"), "RedHat");
        assert_eq!(ds(&rhel, "distribution_file_search_string"), "Red Hat");
        assert_eq!(ds(&rhel, "distribution_release"), "Plow");
        assert_eq!(ds(&rhel, "os_family"), "RedHat");

        let alpine = dist_of(
            &[
                (
                    "/etc/os-release",
                    "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n",
                ),
                ("/etc/alpine-release", "3.19.1\n"),
            ],
            &[],
        );
        assert_eq!(ds(&alpine, "distribution"), "Alpine");
        assert_eq!(ds(&alpine, "distribution_version"), "3.19.1");
        assert_eq!(ds(&alpine, "distribution_major_version"), "3");
        assert_eq!(ds(&alpine, "distribution_release"), "NA");
        assert_eq!(ds(&alpine, "os_family"), "Alpine");

        let arch = dist_of(
            &[
                (
                    "/etc/os-release",
                    "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n",
                ),
                ("/etc/arch-release", ""),
            ],
            &["/etc/arch-release"],
        );
        assert_eq!(ds(&arch, "distribution"), "Archlinux");
        assert_eq!(ds(&arch, "distribution_file_path"), "/etc/arch-release");
        assert_eq!(ds(&arch, "distribution_file_parsed"), "<none>");
        assert_eq!(ds(&arch, "os_family"), "Archlinux");

        let suse = dist_of(
            &[(
                "/etc/os-release",
                "NAME=\"openSUSE Leap\"\nVERSION=\"15.5\"\nID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\nVERSION_ID=\"15.5\"\nPRETTY_NAME=\"openSUSE Leap 15.5\"\n",
            )],
            &[],
        );
        assert_eq!(ds(&suse, "distribution"), "openSUSE Leap");
        assert_eq!(ds(&suse, "distribution_version"), "15.5");
        assert_eq!(ds(&suse, "distribution_major_version"), "15");
        assert_eq!(ds(&suse, "distribution_release"), "5");
        assert_eq!(ds(&suse, "os_family"), "Suse");

        let amazon = dist_of(
            &[(
                "/etc/os-release",
                "NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\nSUPPORT_END=\"2028-03-15\"\n",
            )],
            &[],
        );
        assert_eq!(ds(&amazon, "distribution"), "Amazon");
        assert_eq!(ds(&amazon, "distribution_version"), "2023");
        assert_eq!(ds(&amazon, "distribution_major_version"), "2023");
        assert_eq!(ds(&amazon, "distribution_minor_version"), "NA");
        assert_eq!(ds(&amazon, "os_family"), "RedHat");

        // Something unknown: os-release NAME, family = distribution.
        let other = dist_of(
            &[(
                "/etc/os-release",
                "NAME=\"Weird OS\"\nID=weird\nVERSION=\"1 (x)\"\n",
            )],
            &[],
        );
        assert_eq!(ds(&other, "distribution"), "Weird OS");
        assert_eq!(ds(&other, "distribution_version"), "1 (x)");
        assert_eq!(ds(&other, "os_family"), "Weird OS");
    }
}
