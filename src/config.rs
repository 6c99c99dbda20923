//! Settings as Ansible reads them: `ansible.cfg` (INI, as Python's
//! configparser reads it), then `ANSIBLE_*` environment variables, then
//! hoist's own `HOIST_*` ones; the command line (in `cli`) overrides all.
//!
//! The config file is the first found of `$HOIST_CONFIG`,
//! `$ANSIBLE_CONFIG` (a file, or a directory holding `ansible.cfg`),
//! `./ansible.cfg` (skipped, with a warning, in a world-writable
//! directory), `~/.ansible.cfg` and `/etc/ansible/ansible.cfg`. Each setting
//! has ansible-core's type (`lib/ansible/config/base.yml`): integers as
//! Python's `Decimal` reads them, booleans non-strict (anything but a true
//! word is false), paths with `~` and `$VAR` expanded and, when they come
//! from the file, relative to the file's directory. Keys the table below
//! does not name are ignored, as Ansible ignores keys it does not know.
//!
//! Everything here is pure: the environment, the working directory and the
//! home directory are passed in ([`Env`]), so the rules are unit-tested.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use indexmap::IndexMap;

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// The config file and the line of the key.
    File(PathBuf, usize),
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(p, line) => write!(f, "{}:{line}", p.display()),
            Origin::Env(name) => write!(f, "env: {name}"),
        }
    }
}

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Setting<T> {
    fn default_of(value: T) -> Self {
        Setting {
            value,
            origin: Origin::Default,
        }
    }

    /// Whether the value is anything but the built-in default.
    pub fn is_set(&self) -> bool {
        self.origin != Origin::Default
    }
}

/// The effective settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    /// Warnings to show (a config file ignored in a world-writable directory).
    pub warnings: Vec<String>,
    /// `[defaults] inventory`: inventory sources (`-i` replaces them).
    pub inventory: Setting<Vec<String>>,
    pub remote_user: Setting<Option<String>>,
    pub forks: Setting<usize>,
    /// `[defaults] roles_path`; `None`: Ansible's default
    /// (`$ANSIBLE_HOME/roles:/usr/share/ansible/roles:/etc/ansible/roles`).
    pub roles_path: Setting<Vec<PathBuf>>,
    pub host_key_checking: Setting<bool>,
    pub private_key_file: Setting<Option<String>>,
    /// Connection timeout, seconds.
    pub timeout: Setting<u64>,
    /// `[defaults] vault_password_file`: a vault password file (or script).
    pub vault_password_file: Setting<Option<PathBuf>>,
    /// `[defaults] vault_identity_list`: vault ids (`label@source`) tried
    /// before the `--vault-id`s.
    pub vault_identity_list: Setting<Vec<String>>,
    /// `[defaults] vault_encrypt_identity`: the vault id to encrypt with.
    pub vault_encrypt_identity: Setting<Option<String>>,
    /// `[defaults] editor` (ANSIBLE_EDITOR, EDITOR): for `hoist vault
    /// create`/`edit`; `None`: `vi`.
    pub editor: Setting<Option<String>>,
    pub become_: Setting<bool>,
    pub become_user: Setting<String>,
    pub become_method: Setting<String>,
    /// `[ssh_connection] ssh_args` (the default of `ansible_ssh_args`).
    pub ssh_args: Setting<Option<String>>,
    /// hoist's own `[hoist] secret_env` (`HOIST_SECRET_ENV`): names of
    /// environment variables whose values are secrets (`,`-separated).
    pub secret_env: Setting<Vec<String>>,
}

/// What the resolution reads from the outside world.
pub struct Env<'a> {
    pub var: &'a dyn Fn(&str) -> Option<String>,
    pub cwd: PathBuf,
    pub home: Option<PathBuf>,
}

impl Env<'_> {
    /// The process's environment, working and home directories.
    pub fn process() -> Env<'static> {
        Env {
            var: &|name| std::env::var(name).ok(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
        }
    }
}

/// A config problem, located when it comes from the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: Option<Origin>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(Origin::File(p, line)) => write!(f, "{}:{line}: {}", p.display(), self.message),
            Some(o) => write!(f, "{o}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

// ---------------------------------------------------------------- INI

/// A parsed INI file: sections of keys (lower-cased) with their values and
/// lines, and the `[DEFAULT]` section every other section falls back to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ini {
    defaults: IndexMap<String, (String, usize)>,
    sections: IndexMap<String, IndexMap<String, (String, usize)>>,
}

impl Ini {
    /// A key's raw value and line, as `ConfigParser.get(section, key,
    /// raw=True)`: the section's own, else `[DEFAULT]`'s; nothing when the
    /// section is missing.
    pub fn get(&self, section: &str, key: &str) -> Option<(&str, usize)> {
        let sect = self.sections.get(section)?;
        let key = key.to_lowercase();
        sect.get(&key)
            .or_else(|| self.defaults.get(&key))
            .map(|(v, l)| (v.as_str(), *l))
    }
}

/// Parses INI text as `configparser.ConfigParser(inline_comment_prefixes=
/// (';',))` does: `#`/`;` comment lines, ` ;` inline comments, `key = value`
/// or `key: value`, indented continuation lines (blank lines inside a value
/// kept, trailing ones dropped), case-insensitive keys, case-sensitive
/// section names, no duplicate sections or keys. Errors carry the line.
pub fn parse_ini(text: &str) -> Result<Ini, (usize, String)> {
    let mut ini = Ini::default();
    // The current section: None before the first header, Some(None) for
    // [DEFAULT], Some(Some(name)) otherwise.
    let mut cur: Option<Option<String>> = None;
    let mut seen_sections: Vec<String> = Vec::new();
    let mut seen_keys: Vec<(String, String)> = Vec::new();
    // The option being read and its pieces, for continuation lines.
    let mut opt: Option<(String, Vec<String>, usize)> = None;
    let mut indent_level = 0usize;
    let mut first_error: Option<(usize, String)> = None;

    fn flush(
        ini: &mut Ini,
        cur: &Option<Option<String>>,
        opt: &mut Option<(String, Vec<String>, usize)>,
    ) {
        if let (Some(sect), Some((name, parts, line))) = (cur, opt.take()) {
            let value = parts.join("\n").trim_end().to_owned();
            let map = match sect {
                None => &mut ini.defaults,
                Some(s) => ini.sections.entry(s.clone()).or_default(),
            };
            map.insert(name, (value, line));
        }
    }

    for (idx, raw) in text.split('\n').enumerate() {
        let lineno = idx + 1;
        // Inline comments: ';' at the start or after whitespace.
        let mut comment_start: Option<usize> = None;
        let mut prev_space = true;
        for (i, c) in raw.char_indices() {
            if c == ';' && prev_space {
                comment_start = Some(i);
                break;
            }
            prev_space = c.is_whitespace();
        }
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            comment_start = Some(0);
        }
        let value = raw[..comment_start.unwrap_or(raw.len())].trim();
        if value.is_empty() {
            // A blank line (not a comment) inside a value is kept.
            if comment_start.is_none()
                && let Some((_, parts, _)) = opt.as_mut()
            {
                parts.push(String::new());
            }
            continue;
        }
        let cur_indent = raw.len() - raw.trim_start().len();
        if opt.is_some() && cur_indent > indent_level {
            if let Some((_, parts, _)) = opt.as_mut() {
                parts.push(value.to_owned());
            }
            continue;
        }
        indent_level = cur_indent;
        flush(&mut ini, &cur, &mut opt);
        if let Some(header) = section_header(value) {
            if header == "DEFAULT" {
                cur = Some(None);
            } else {
                if seen_sections.iter().any(|s| s == header) {
                    return Err((lineno, format!("section '{header}' appears more than once")));
                }
                seen_sections.push(header.to_owned());
                ini.sections.entry(header.to_owned()).or_default();
                cur = Some(Some(header.to_owned()));
            }
            continue;
        }
        let Some(sect) = &cur else {
            return Err((
                lineno,
                format!("`{value}` comes before any [section] header"),
            ));
        };
        match value.find(['=', ':']) {
            Some(pos) if !value[..pos].trim_end().is_empty() => {
                let name = value[..pos].trim_end().to_lowercase();
                let v = value[pos + 1..].trim().to_owned();
                let sect_name = sect.clone().unwrap_or_else(|| "DEFAULT".into());
                let key = (sect_name.clone(), name.clone());
                if seen_keys.contains(&key) {
                    return Err((
                        lineno,
                        format!("key '{name}' appears more than once in section [{sect_name}]"),
                    ));
                }
                seen_keys.push(key);
                opt = Some((name, vec![v], lineno));
            }
            _ => {
                // configparser collects these and raises at the end.
                if first_error.is_none() {
                    first_error = Some((lineno, format!("`{value}` is not a `key = value` line")));
                }
            }
        }
    }
    flush(&mut ini, &cur, &mut opt);
    match first_error {
        Some(e) => Err(e),
        None => Ok(ini),
    }
}

/// `[name]` (configparser's `\[(?P<header>.+)\]`, matched at the start).
fn section_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

// ---------------------------------------------------------------- types

/// Python's `os.path.expandvars`: `$NAME` and `${NAME}` of set variables;
/// unset ones are left as written.
fn expand_vars(s: &str, env: &Env<'_>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match (!name.is_empty()).then(|| (env.var)(name)).flatten() {
            Some(v) => {
                out.push_str(&v);
                rest = &after[consumed..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Lexical `os.path.normpath` (no symlinks followed).
fn normpath(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() && !p.is_absolute() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// ansible-core's `resolve_path`: `{{CWD}}`, `$VAR`, `~`, then relative to
/// `base`, normalized.
pub fn resolve_path(value: &str, base: &Path, env: &Env<'_>) -> PathBuf {
    let value = value.replace("{{CWD}}", &env.cwd.to_string_lossy());
    let value = expand_vars(&value, env);
    let expanded = match (value.strip_prefix('~'), &env.home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            home.join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(&value),
    };
    normpath(&base.join(expanded))
}

/// Python's `Decimal(s)` with a zero fractional part, as ansible-core's
/// `integer` type reads a string.
fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim().replace('_', "");
    if let Ok(n) = t.parse::<i64>() {
        return Some(n);
    }
    let f: f64 = t.parse().ok()?;
    // "inf"/"nan" are Decimals but not integers.
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// ansible-core's non-strict boolean: true words are true, all else false.
pub fn parse_bool(s: &str) -> bool {
    matches!(
        s.trim().to_lowercase().as_str(),
        "y" | "yes" | "on" | "1" | "true" | "t"
    )
}

/// ansible-core's `unquote` of a string read from an INI file.
fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

// ---------------------------------------------------------------- resolution

/// One setting's definition, from ansible-core's base.yml (and the ssh
/// connection plugin's options for those it also reads).
struct Def {
    /// ansible-core's name (what `ansible-config dump` prints).
    name: &'static str,
    /// `(section, key)`: the last present wins, as in ansible-core.
    ini: &'static [(&'static str, &'static str)],
    /// The last set wins, as in ansible-core.
    env: &'static [&'static str],
}

impl Def {
    /// hoist's variables: `HOIST_` in place of `ANSIBLE_`.
    fn hoist_env(&self) -> impl Iterator<Item = String> + '_ {
        self.env.iter().map(|e| match e.strip_prefix("ANSIBLE_") {
            Some(rest) => format!("HOIST_{rest}"),
            // A setting of hoist's own has no ANSIBLE_ name.
            None => (*e).to_owned(),
        })
    }
}

const INVENTORY: Def = Def {
    name: "DEFAULT_HOST_LIST",
    ini: &[("defaults", "inventory")],
    env: &["ANSIBLE_INVENTORY"],
};
const REMOTE_USER: Def = Def {
    name: "DEFAULT_REMOTE_USER",
    ini: &[("defaults", "remote_user")],
    env: &["ANSIBLE_REMOTE_USER"],
};
const FORKS: Def = Def {
    name: "DEFAULT_FORKS",
    ini: &[("defaults", "forks")],
    env: &["ANSIBLE_FORKS"],
};
const ROLES_PATH: Def = Def {
    name: "DEFAULT_ROLES_PATH",
    ini: &[("defaults", "roles_path")],
    env: &["ANSIBLE_ROLES_PATH"],
};
const HOST_KEY_CHECKING: Def = Def {
    name: "HOST_KEY_CHECKING",
    ini: &[
        ("defaults", "host_key_checking"),
        ("ssh_connection", "host_key_checking"),
    ],
    env: &["ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_HOST_KEY_CHECKING"],
};
const PRIVATE_KEY_FILE: Def = Def {
    name: "DEFAULT_PRIVATE_KEY_FILE",
    ini: &[("defaults", "private_key_file")],
    env: &["ANSIBLE_PRIVATE_KEY_FILE"],
};
const TIMEOUT: Def = Def {
    name: "DEFAULT_TIMEOUT",
    ini: &[("defaults", "timeout"), ("ssh_connection", "timeout")],
    env: &["ANSIBLE_TIMEOUT", "ANSIBLE_SSH_TIMEOUT"],
};
const VAULT_PASSWORD_FILE: Def = Def {
    name: "DEFAULT_VAULT_PASSWORD_FILE",
    ini: &[("defaults", "vault_password_file")],
    env: &["ANSIBLE_VAULT_PASSWORD_FILE"],
};
const VAULT_IDENTITY_LIST: Def = Def {
    name: "DEFAULT_VAULT_IDENTITY_LIST",
    ini: &[("defaults", "vault_identity_list")],
    env: &["ANSIBLE_VAULT_IDENTITY_LIST"],
};
const VAULT_ENCRYPT_IDENTITY: Def = Def {
    name: "DEFAULT_VAULT_ENCRYPT_IDENTITY",
    ini: &[("defaults", "vault_encrypt_identity")],
    env: &["ANSIBLE_VAULT_ENCRYPT_IDENTITY"],
};
const EDITOR: Def = Def {
    name: "EDITOR",
    ini: &[("defaults", "editor")],
    env: &["ANSIBLE_EDITOR", "EDITOR"],
};
const BECOME: Def = Def {
    name: "DEFAULT_BECOME",
    ini: &[("privilege_escalation", "become")],
    env: &["ANSIBLE_BECOME"],
};
const BECOME_USER: Def = Def {
    name: "DEFAULT_BECOME_USER",
    ini: &[("privilege_escalation", "become_user")],
    env: &["ANSIBLE_BECOME_USER"],
};
const BECOME_METHOD: Def = Def {
    name: "DEFAULT_BECOME_METHOD",
    ini: &[("privilege_escalation", "become_method")],
    env: &["ANSIBLE_BECOME_METHOD"],
};
const SSH_ARGS: Def = Def {
    name: "SSH_ARGS",
    ini: &[("ssh_connection", "ssh_args")],
    env: &["ANSIBLE_SSH_ARGS"],
};
const SECRET_ENV: Def = Def {
    name: "HOIST_SECRET_ENV",
    ini: &[("hoist", "secret_env")],
    env: &["HOIST_SECRET_ENV"],
};

/// A raw value found for a setting.
struct Raw {
    text: String,
    origin: Origin,
}

struct Resolver<'a> {
    env: &'a Env<'a>,
    file: Option<(PathBuf, Ini)>,
}

impl Resolver<'_> {
    /// The raw value, as ansible-core picks it: `HOIST_*`, then `ANSIBLE_*`
    /// (the last set of each list), then the file (the last key present).
    fn raw(&self, def: &Def) -> Option<Raw> {
        let from_env = |names: Vec<String>| {
            names
                .into_iter()
                .filter_map(|n| (self.env.var)(&n).map(|v| (n, v)))
                .next_back()
        };
        if let Some((n, v)) = from_env(def.hoist_env().collect())
            .or_else(|| from_env(def.env.iter().map(|s| (*s).to_owned()).collect()))
        {
            return Some(Raw {
                text: v,
                origin: Origin::Env(n),
            });
        }
        let (path, ini) = self.file.as_ref()?;
        def.ini
            .iter()
            .filter_map(|(s, k)| ini.get(s, k))
            .next_back()
            .map(|(v, line)| Raw {
                text: v.to_owned(),
                origin: Origin::File(path.clone(), line),
            })
    }

    /// Where relative paths of a value start: the file's directory, or the
    /// working directory.
    fn base(&self, origin: &Origin) -> PathBuf {
        match origin {
            Origin::File(p, _) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
            _ => self.env.cwd.clone(),
        }
    }

    fn error(def: &Def, raw: &Raw, what: &str) -> ConfigError {
        let key = def.ini.first().map_or(def.name, |(_, k)| k);
        ConfigError {
            origin: Some(raw.origin.clone()),
            message: format!("invalid value for {key}: '{}' is not {what}", raw.text),
        }
    }

    /// An integer setting; an empty environment variable means the default
    /// (as in ansible-core).
    fn int(&self, def: &Def, default: i64, min: i64) -> Result<Setting<i64>, ConfigError> {
        let Some(raw) = self.raw(def) else {
            return Ok(Setting::default_of(default));
        };
        if matches!(raw.origin, Origin::Env(_)) && raw.text.is_empty() {
            return Ok(Setting::default_of(default));
        }
        match parse_int(&raw.text) {
            Some(n) if n >= min => Ok(Setting {
                value: n,
                origin: raw.origin,
            }),
            Some(_) => Err(Self::error(
                def,
                &raw,
                &format!("an integer of at least {min}"),
            )),
            None => Err(Self::error(def, &raw, "an integer")),
        }
    }

    fn bool(&self, def: &Def, default: bool) -> Setting<bool> {
        match self.raw(def) {
            Some(raw) => Setting {
                value: parse_bool(&raw.text),
                origin: raw.origin,
            },
            None => Setting::default_of(default),
        }
    }

    /// A string setting; empty means unset. From the file, one pair of
    /// quotes around it is removed (ansible-core unquotes only string
    /// results: a quoted integer is an error, a quoted path keeps them).
    fn string(&self, def: &Def) -> Setting<Option<String>> {
        match self.raw(def) {
            Some(mut raw) if !raw.text.is_empty() => {
                if matches!(raw.origin, Origin::File(..)) {
                    raw.text = unquote(&raw.text).to_owned();
                }
                Setting {
                    value: Some(raw.text).filter(|t| !t.is_empty()),
                    origin: raw.origin,
                }
            }
            _ => Setting::default_of(None),
        }
    }

    /// A `list` setting (`,`-separated, items trimmed, empty ones left
    /// out); unset is empty.
    fn list(&self, def: &Def) -> Setting<Vec<String>> {
        match self.raw(def) {
            Some(raw) => Setting {
                value: raw
                    .text
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                origin: raw.origin,
            },
            None => Setting::default_of(Vec::new()),
        }
    }

    /// A `path` setting; empty means unset.
    fn path(&self, def: &Def) -> Setting<Option<PathBuf>> {
        match self.raw(def) {
            Some(raw) if !raw.text.is_empty() => Setting {
                value: Some(resolve_path(&raw.text, &self.base(&raw.origin), self.env)),
                origin: raw.origin,
            },
            _ => Setting::default_of(None),
        }
    }

    /// A `pathlist` (`,`-separated) or `pathspec` (`:`-separated) setting.
    fn paths(&self, def: &Def, sep: char) -> Option<Setting<Vec<PathBuf>>> {
        let raw = self.raw(def)?;
        let base = self.base(&raw.origin);
        let value = raw
            .text
            .split(sep)
            .map(|p| if sep == ',' { p.trim() } else { p })
            // ansible-core turns an empty item of a `,` list (`hosts,`)
            // into the base directory itself, an inventory no one means.
            .filter(|p| sep != ',' || !p.is_empty())
            .map(|p| resolve_path(p, &base, self.env))
            .collect();
        Some(Setting {
            value,
            origin: raw.origin,
        })
    }
}

/// The config file to read, as ansible-core finds it, and a warning when a
/// `./ansible.cfg` is skipped because its directory is world-writable.
/// `is_world_writable` and `readable_file` are the filesystem checks.
pub fn find_config_file(
    env: &Env<'_>,
    is_world_writable: &dyn Fn(&Path) -> bool,
    readable_file: &dyn Fn(&Path) -> bool,
) -> (Option<PathBuf>, Option<String>) {
    let mut candidates = Vec::new();
    let mut from_env = None;
    for var in ["HOIST_CONFIG", "ANSIBLE_CONFIG"] {
        if let Some(v) = (env.var)(var) {
            let mut p = resolve_path(&v, &env.cwd, env);
            if p.is_dir() {
                p.push("ansible.cfg");
            }
            from_env = Some(p.clone());
            candidates.push(p);
            break;
        }
    }
    let cwd_cfg = env.cwd.join("ansible.cfg");
    let mut skipped_cwd = false;
    if is_world_writable(&env.cwd) {
        skipped_cwd = readable_file(&cwd_cfg);
    } else {
        candidates.push(cwd_cfg);
    }
    if let Some(home) = &env.home {
        candidates.push(home.join(".ansible.cfg"));
    }
    candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
    let found = candidates.into_iter().find(|p| readable_file(p));
    let used_env = from_env.is_some() && found == from_env;
    let warning = (skipped_cwd && !used_env).then(|| {
        format!(
            "hoist is being run in a world writable directory ({}), ignoring it as an ansible.cfg source.",
            env.cwd.display()
        )
    });
    (found, warning)
}

impl Config {
    /// The settings from a config file's text (if any) and the
    /// environment. Errors name the file and line, or the variable.
    pub fn resolve(env: &Env<'_>, file: Option<(PathBuf, &str)>) -> Result<Config, ConfigError> {
        let (file_path, parsed) = match file {
            Some((path, text)) => {
                let ini = parse_ini(text).map_err(|(line, message)| ConfigError {
                    origin: Some(Origin::File(path.clone(), line)),
                    message,
                })?;
                (Some(path.clone()), Some((path, ini)))
            }
            None => (None, None),
        };
        let r = Resolver { env, file: parsed };
        let inventory = match r.paths(&INVENTORY, ',') {
            Some(s) => Setting {
                value: s
                    .value
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect(),
                origin: s.origin,
            },
            None => Setting::default_of(Vec::new()),
        };
        let roles_path = r
            .paths(&ROLES_PATH, ':')
            .unwrap_or_else(|| Setting::default_of(default_roles_path(env)));
        let forks = r.int(&FORKS, 5, 1)?;
        let timeout = r.int(&TIMEOUT, 10, 0)?;
        let string_or = |def: &Def, default: &str| {
            let s = r.string(def);
            Setting {
                value: s.value.unwrap_or_else(|| default.to_owned()),
                origin: s.origin,
            }
        };
        let private_key_file = r.path(&PRIVATE_KEY_FILE);
        Ok(Config {
            file: file_path,
            warnings: Vec::new(),
            inventory,
            remote_user: r.string(&REMOTE_USER),
            forks: Setting {
                value: usize::try_from(forks.value).unwrap_or(5),
                origin: forks.origin,
            },
            roles_path,
            host_key_checking: r.bool(&HOST_KEY_CHECKING, true),
            private_key_file: Setting {
                value: private_key_file
                    .value
                    .map(|p| p.to_string_lossy().into_owned()),
                origin: private_key_file.origin,
            },
            timeout: Setting {
                value: u64::try_from(timeout.value).unwrap_or(10),
                origin: timeout.origin,
            },
            vault_password_file: r.path(&VAULT_PASSWORD_FILE),
            vault_identity_list: {
                let raw = r.string(&VAULT_IDENTITY_LIST);
                Setting {
                    value: raw
                        .value
                        .map(|v| {
                            v.split(',')
                                .map(|s| s.trim().to_owned())
                                .filter(|s| !s.is_empty())
                                .collect()
                        })
                        .unwrap_or_default(),
                    origin: raw.origin,
                }
            },
            vault_encrypt_identity: r.string(&VAULT_ENCRYPT_IDENTITY),
            editor: r.string(&EDITOR),
            become_: r.bool(&BECOME, false),
            become_user: string_or(&BECOME_USER, "root"),
            become_method: string_or(&BECOME_METHOD, "sudo"),
            ssh_args: r.string(&SSH_ARGS),
            secret_env: r.list(&SECRET_ENV),
        })
    }

    /// Finds and reads the config file, then resolves the settings from it
    /// and the process environment.
    pub fn load() -> Result<Config, ConfigError> {
        let env = Env::process();
        let (path, warning) = find_config_file(&env, &world_writable, &readable_file);
        let text = match &path {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| ConfigError {
                origin: None,
                message: format!("cannot read the config file {}: {e}", p.display()),
            })?),
            None => None,
        };
        let mut config = Config::resolve(&env, path.zip(text.as_deref()))?;
        config.warnings.extend(warning);
        Ok(config)
    }

    /// Every setting as `ansible-config dump` prints it: ansible-core's
    /// name, where the value came from, and the value.
    pub fn dump(&self) -> Vec<(&'static str, &Origin, String)> {
        fn list<T: AsRef<Path>>(v: &[T]) -> String {
            let items: Vec<String> = v
                .iter()
                .map(|p| format!("'{}'", p.as_ref().display()))
                .collect();
            format!("[{}]", items.join(", "))
        }
        fn opt<T: fmt::Display>(v: &Option<T>) -> String {
            v.as_ref().map_or("None".into(), |v| v.to_string())
        }
        let py_bool = |b: bool| if b { "True" } else { "False" }.to_owned();
        let mut out = vec![
            (
                BECOME.name,
                &self.become_.origin,
                py_bool(self.become_.value),
            ),
            (
                BECOME_METHOD.name,
                &self.become_method.origin,
                self.become_method.value.clone(),
            ),
            (
                BECOME_USER.name,
                &self.become_user.origin,
                self.become_user.value.clone(),
            ),
            (FORKS.name, &self.forks.origin, self.forks.value.to_string()),
            (
                INVENTORY.name,
                &self.inventory.origin,
                list(&self.inventory.value),
            ),
            (
                PRIVATE_KEY_FILE.name,
                &self.private_key_file.origin,
                opt(&self.private_key_file.value),
            ),
            (
                REMOTE_USER.name,
                &self.remote_user.origin,
                opt(&self.remote_user.value),
            ),
            (
                ROLES_PATH.name,
                &self.roles_path.origin,
                list(&self.roles_path.value),
            ),
            (
                TIMEOUT.name,
                &self.timeout.origin,
                self.timeout.value.to_string(),
            ),
            (
                VAULT_PASSWORD_FILE.name,
                &self.vault_password_file.origin,
                opt(&self
                    .vault_password_file
                    .value
                    .as_ref()
                    .map(|p| p.display().to_string())),
            ),
            (
                HOST_KEY_CHECKING.name,
                &self.host_key_checking.origin,
                py_bool(self.host_key_checking.value),
            ),
            (
                SSH_ARGS.name,
                &self.ssh_args.origin,
                opt(&self.ssh_args.value),
            ),
            (
                SECRET_ENV.name,
                &self.secret_env.origin,
                list(&self.secret_env.value),
            ),
            (
                VAULT_IDENTITY_LIST.name,
                &self.vault_identity_list.origin,
                list(&self.vault_identity_list.value),
            ),
            (
                VAULT_ENCRYPT_IDENTITY.name,
                &self.vault_encrypt_identity.origin,
                opt(&self.vault_encrypt_identity.value),
            ),
            (EDITOR.name, &self.editor.origin, opt(&self.editor.value)),
        ];
        out.sort_by_key(|(name, _, _)| *name);
        out
    }
}

/// ansible-core's default roles path: `$ANSIBLE_HOME/roles` (ANSIBLE_HOME
/// defaults to `~/.ansible`), `/usr/share/ansible/roles`,
/// `/etc/ansible/roles`.
pub fn default_roles_path(env: &Env<'_>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let home = (env.var)("ANSIBLE_HOME")
        .filter(|h| !h.is_empty())
        .map(|h| resolve_path(&h, &env.cwd, env))
        .or_else(|| env.home.as_ref().map(|h| h.join(".ansible")));
    if let Some(h) = home {
        out.push(h.join("roles"));
    }
    out.push(PathBuf::from("/usr/share/ansible/roles"));
    out.push(PathBuf::from("/etc/ansible/roles"));
    out
}

fn world_writable(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o002 != 0)
}

fn readable_file(p: &Path) -> bool {
    // ansible-core: os.path.exists and os.access(R_OK).
    p.exists() && nix::unistd::access(p, nix::unistd::AccessFlags::R_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_with(vars: &[(&str, &str)]) -> (HashMap<String, String>, PathBuf) {
        (
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            PathBuf::from("/work/dir"),
        )
    }

    fn resolve(vars: &[(&str, &str)], cfg: Option<&str>) -> Result<Config, ConfigError> {
        let (map, cwd) = env_with(vars);
        let get = move |n: &str| map.get(n).cloned();
        let env = Env {
            var: &get,
            cwd,
            home: Some(PathBuf::from("/home/u")),
        };
        Config::resolve(
            &env,
            cfg.map(|t| (PathBuf::from("/proj/conf/ansible.cfg"), t)),
        )
    }

    #[test]
    fn ini_like_configparser() {
        let ini = parse_ini(
            "# comment\n; also\n[defaults]\nForks = 7 ; inline\nremote_user: bob\nurl = http://x;y\n\
             ssh = a\n  b\n\n  c\n\n[DEFAULT]\nshared = s\n[other]\n  indented = yes\n",
        )
        .unwrap();
        assert_eq!(ini.get("defaults", "forks"), Some(("7", 4)));
        assert_eq!(ini.get("defaults", "REMOTE_USER"), Some(("bob", 5)));
        assert_eq!(ini.get("defaults", "url"), Some(("http://x;y", 6)));
        assert_eq!(ini.get("defaults", "ssh"), Some(("a\nb\n\nc", 7)));
        assert_eq!(ini.get("defaults", "shared"), Some(("s", 13)));
        assert_eq!(ini.get("other", "indented"), Some(("yes", 15)));
        assert_eq!(ini.get("missing", "shared"), None);
        // Only the first delimiter splits.
        let ini = parse_ini("[a]\nk = v = w\nx: y=z\n").unwrap();
        assert_eq!(ini.get("a", "k"), Some(("v = w", 2)));
        assert_eq!(ini.get("a", "x"), Some(("y=z", 3)));
    }

    #[test]
    fn ini_errors_have_lines() {
        assert_eq!(parse_ini("[a]\nforks\n").unwrap_err().0, 2);
        assert_eq!(parse_ini("forks = 1\n").unwrap_err().0, 1);
        assert_eq!(parse_ini("[a]\nk=1\nK=2\n").unwrap_err().0, 3);
        assert_eq!(parse_ini("[a]\n[b]\n[a]\n").unwrap_err().0, 3);
    }

    #[test]
    fn file_values_and_relative_paths() {
        let c = resolve(
            &[],
            Some(
                "[defaults]\ninventory = hosts, ../other ,/abs,\nforks = 7\nremote_user = \"bob\"\n\
                 roles_path = r1:../r2:~/r3\nprivate_key_file = keys/id\ntimeout = 30.0\n\
                 host_key_checking = maybe\nvault_password_file = vault.txt\nunknown = 1\n\
                 [privilege_escalation]\nbecome = yes\nbecome_user = admin\n\
                 [ssh_connection]\nssh_args = -o A=b\n  -o C=d\n",
            ),
        )
        .unwrap();
        assert_eq!(
            c.inventory.value,
            vec!["/proj/conf/hosts", "/proj/other", "/abs"]
        );
        assert_eq!(
            c.inventory.origin,
            Origin::File("/proj/conf/ansible.cfg".into(), 2)
        );
        assert_eq!(c.forks.value, 7);
        assert_eq!(c.remote_user.value.as_deref(), Some("bob"));
        assert_eq!(
            c.roles_path.value,
            vec![
                PathBuf::from("/proj/conf/r1"),
                "/proj/r2".into(),
                "/home/u/r3".into()
            ]
        );
        assert_eq!(
            c.private_key_file.value.as_deref(),
            Some("/proj/conf/keys/id")
        );
        assert_eq!(c.timeout.value, 30);
        assert!(!c.host_key_checking.value);
        assert_eq!(
            c.vault_password_file.value,
            Some(PathBuf::from("/proj/conf/vault.txt"))
        );
        assert!(c.become_.value);
        assert_eq!(c.become_user.value, "admin");
        assert_eq!(c.become_method.value, "sudo");
        assert!(!c.become_method.is_set());
        assert_eq!(c.ssh_args.value.as_deref(), Some("-o A=b\n-o C=d"));
    }

    #[test]
    fn env_over_file_and_hoist_over_ansible() {
        let cfg = "[defaults]\nforks = 7\nremote_user = bob\ninventory = hosts\n";
        let c = resolve(
            &[
                ("ANSIBLE_FORKS", "9"),
                ("ANSIBLE_REMOTE_USER", "carol"),
                ("HOIST_REMOTE_USER", "dave"),
                ("ANSIBLE_INVENTORY", "inv/a,inv/b"),
            ],
            Some(cfg),
        )
        .unwrap();
        assert_eq!(c.forks.value, 9);
        assert_eq!(c.forks.origin, Origin::Env("ANSIBLE_FORKS".into()));
        assert_eq!(c.remote_user.value.as_deref(), Some("dave"));
        assert_eq!(
            c.remote_user.origin,
            Origin::Env("HOIST_REMOTE_USER".into())
        );
        // Environment paths are relative to the working directory.
        assert_eq!(
            c.inventory.value,
            vec!["/work/dir/inv/a", "/work/dir/inv/b"]
        );
        // An empty variable of a typed setting means its default, even over
        // the file (ansible-core).
        let c = resolve(&[("ANSIBLE_FORKS", "")], Some(cfg)).unwrap();
        assert_eq!(c.forks, Setting::default_of(5));
        // Of a list of variables, the last set wins.
        let c = resolve(
            &[("ANSIBLE_TIMEOUT", "3"), ("ANSIBLE_SSH_TIMEOUT", "4")],
            None,
        )
        .unwrap();
        assert_eq!(c.timeout.value, 4);
        let c = resolve(&[("ANSIBLE_HOST_KEY_CHECKING", "False")], None).unwrap();
        assert!(!c.host_key_checking.value);
        let c = resolve(&[("HOIST_HOST_KEY_CHECKING", "yes")], None).unwrap();
        assert!(c.host_key_checking.value);
    }

    #[test]
    fn secret_env_names_from_the_hoist_section_or_hoist_secret_env() {
        let cfg = "[hoist]\nsecret_env = DB_PASS, , API_TOKEN\n";
        let c = resolve(&[], Some(cfg)).unwrap();
        assert_eq!(c.secret_env.value, vec!["DB_PASS", "API_TOKEN"]);
        assert!(matches!(c.secret_env.origin, Origin::File(_, 2)));
        let c = resolve(&[("HOIST_SECRET_ENV", "ONE,TWO")], Some(cfg)).unwrap();
        assert_eq!(c.secret_env.value, vec!["ONE", "TWO"]);
        assert_eq!(c.secret_env.origin, Origin::Env("HOIST_SECRET_ENV".into()));
        // No ANSIBLE_ name: it is hoist's own setting.
        let c = resolve(&[("ANSIBLE_SECRET_ENV", "X")], None).unwrap();
        assert!(c.secret_env.value.is_empty() && !c.secret_env.is_set());
    }

    #[test]
    fn defaults() {
        let c = resolve(&[("ANSIBLE_HOME", "/ah")], None).unwrap();
        assert_eq!(c.forks, Setting::default_of(5));
        assert_eq!(c.timeout.value, 10);
        assert!(c.host_key_checking.value);
        assert!(c.inventory.value.is_empty());
        assert_eq!(
            c.roles_path.value,
            vec![
                PathBuf::from("/ah/roles"),
                "/usr/share/ansible/roles".into(),
                "/etc/ansible/roles".into()
            ]
        );
        assert_eq!(c.become_user.value, "root");
    }

    #[test]
    fn bad_values_name_file_and_line() {
        let e = resolve(&[], Some("[defaults]\n\nforks = abc\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/proj/conf/ansible.cfg:3: invalid value for forks: 'abc' is not an integer"
        );
        let e = resolve(&[("ANSIBLE_TIMEOUT", "1.5")], None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "env: ANSIBLE_TIMEOUT: invalid value for timeout: '1.5' is not an integer"
        );
        assert!(resolve(&[("ANSIBLE_FORKS", "0")], None).is_err());
        // Quotes are only removed from strings (ansible-core).
        assert!(resolve(&[], Some("[defaults]\nforks = \"3\"\n")).is_err());
        let c = resolve(
            &[],
            Some("[defaults]\nprivate_key_file = 'k'\nhost_key_checking = \"yes\"\n"),
        )
        .unwrap();
        assert_eq!(c.private_key_file.value.as_deref(), Some("/proj/conf/'k'"));
        assert!(!c.host_key_checking.value);
        let e = resolve(&[], Some("[defaults]\nforks\n")).unwrap_err();
        assert!(
            e.to_string().starts_with("/proj/conf/ansible.cfg:2: "),
            "{e}"
        );
    }

    #[test]
    fn numbers_and_booleans() {
        assert_eq!(parse_int(" 12 "), Some(12));
        assert_eq!(parse_int("1e1"), Some(10));
        assert_eq!(parse_int("-3"), Some(-3));
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_int("abc"), None);
        for t in ["yes", "True", "on", "1", "t", "Y"] {
            assert!(parse_bool(t), "{t}");
        }
        for f in ["no", "false", "0", "maybe", ""] {
            assert!(!parse_bool(f), "{f}");
        }
    }

    #[test]
    fn config_file_order() {
        let (map, cwd) = env_with(&[("ANSIBLE_CONFIG", "~/custom.cfg")]);
        let get = move |n: &str| map.get(n).cloned();
        let env = Env {
            var: &get,
            cwd,
            home: Some(PathBuf::from("/home/u")),
        };
        let all = |_: &Path| true;
        let (f, w) = find_config_file(&env, &|_| false, &all);
        assert_eq!(f, Some(PathBuf::from("/home/u/custom.cfg")));
        assert_eq!(w, None);
        // A missing ANSIBLE_CONFIG falls through to ./ansible.cfg.
        let some = |p: &Path| p != Path::new("/home/u/custom.cfg");
        let (f, _) = find_config_file(&env, &|_| false, &some);
        assert_eq!(f, Some(PathBuf::from("/work/dir/ansible.cfg")));
        // World-writable working directory: skipped, with a warning.
        let (f, w) = find_config_file(&env, &|_| true, &some);
        assert_eq!(f, Some(PathBuf::from("/home/u/.ansible.cfg")));
        assert!(w.unwrap().contains("world writable directory (/work/dir)"));
        // With no variable and nothing else found, still the warning.
        let (map, cwd) = env_with(&[]);
        let get = move |n: &str| map.get(n).cloned();
        let env = Env {
            var: &get,
            cwd,
            home: None,
        };
        let only_cwd = |p: &Path| p == Path::new("/work/dir/ansible.cfg");
        let (f, w) = find_config_file(&env, &|_| true, &only_cwd);
        assert_eq!(f, None);
        assert!(w.is_some());
    }

    #[test]
    fn paths_expand() {
        let (map, cwd) = env_with(&[("X", "/x")]);
        let get = move |n: &str| map.get(n).cloned();
        let env = Env {
            var: &get,
            cwd,
            home: None,
        };
        let b = Path::new("/b");
        assert_eq!(resolve_path("$X/a", b, &env), PathBuf::from("/x/a"));
        assert_eq!(
            resolve_path("${X}/a/./c/..", b, &env),
            PathBuf::from("/x/a")
        );
        assert_eq!(
            resolve_path("$NOPE/a", b, &env),
            PathBuf::from("/b/$NOPE/a")
        );
        assert_eq!(
            resolve_path("{{CWD}}/a", b, &env),
            PathBuf::from("/work/dir/a")
        );
    }
}
