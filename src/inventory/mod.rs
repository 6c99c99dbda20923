//! Inventories: Ansible INI and YAML formats, group_vars/host_vars, host patterns.
//!
//! The model follows ansible-core's `InventoryData`: groups and hosts in
//! creation order, `all` and `ungrouped` always present, every group without
//! a parent made a child of `all`, hosts without a group put in `ungrouped`.
//! Group host lists are walked breadth-first (a group's own hosts, then its
//! children's), which is the order `all`, `groups[...]` and patterns return.
//!
//! Sources (`-i`): a host list (`a,b,`), a file (YAML for `.yml`/`.yaml`/
//! `.json`; no extension: YAML if it parses to a mapping, else INI; anything
//! else INI), or a directory (every entry, sorted, recursively, skipping
//! hidden files, `group_vars`/`host_vars`/`vars_plugins` and ignored
//! extensions). `group_vars/` and `host_vars/` beside each source (beside a
//! file, inside a directory) are loaded too; see [`Inventory::host_vars`]
//! for the precedence.

mod addr;
mod ini;
mod literal;
mod pattern;
mod vars;
mod yamlinv;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use indexmap::{IndexMap, IndexSet};
use minijinja::Value;

use crate::error::{Diagnostic, Span};

pub use addr::{LOCALHOST, expand_hostpattern, parse_address};
pub use literal::ini_value;

use vars::VarsDir;

/// One place that sets a variable: where (the key's file:line:col; `None`
/// for values hoist derives, such as `inventory_file`) and to what.
#[derive(Clone, Debug)]
pub struct VarDef {
    pub at: Option<Span>,
    pub value: Value,
}

/// Every place a layer sets each of its variables, in the order they were
/// read (the last one is the layer's value).
pub type Defs = IndexMap<String, Vec<VarDef>>;

/// One layer of a host's variables that sets a given variable.
#[derive(Clone, Debug)]
pub struct VarSource {
    /// What the layer is, e.g. `group_vars/web` or `inventory host vars`.
    pub layer: String,
    pub at: Option<Span>,
    pub value: Value,
}

/// A host of the inventory.
#[derive(Clone, Debug)]
pub struct Host {
    pub name: String,
    /// Variables set on the host by the inventory source itself: inline INI
    /// vars, YAML host vars, `ansible_port` from `name:port`, and
    /// `inventory_file` / `inventory_dir` (the source that first named it).
    pub vars: IndexMap<String, Value>,
    /// Groups the host was put in directly (not their ancestors).
    groups: IndexSet<String>,
    /// Where `vars` are set.
    defs: Defs,
}

#[derive(Clone, Debug, Default)]
struct Group {
    hosts: IndexSet<String>,
    children: IndexSet<String>,
    parents: IndexSet<String>,
    vars: IndexMap<String, Value>,
    /// Where `vars` are set.
    defs: Defs,
    priority: i64,
    depth: usize,
}

/// The inventory: hosts, groups, their variables, and the group_vars /
/// host_vars directories that apply.
#[derive(Clone, Debug)]
pub struct Inventory {
    groups: IndexMap<String, Group>,
    hosts: IndexMap<String, Host>,
    /// The first host named `localhost`, `127.0.0.1` or `::1`: it stands in
    /// for the implicit localhost.
    localhost: Option<String>,
    /// `group_vars/` + `host_vars/` beside the inventory sources, in order.
    inventory_vars: Vec<VarsDir>,
    /// `group_vars/` + `host_vars/` beside playbooks, in order.
    playbook_vars: Vec<VarsDir>,
    warnings: Vec<Diagnostic>,
    /// The `-i` sources, for [`Inventory::reload`].
    sources: Vec<String>,
    /// What add_host and group_by did, in order, for [`Inventory::reload`].
    runtime: Vec<RuntimeChange>,
}

/// One `add_host` or `group_by` change.
#[derive(Clone, Debug)]
struct RuntimeChange {
    host: String,
    groups: Vec<String>,
    parents: Vec<String>,
    vars: IndexMap<String, Value>,
}

/// What `inventory_file` / `inventory_dir` are for hosts a source adds.
#[derive(Clone, Debug)]
struct SourceCtx {
    file: Value,
    dir: Value,
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory::empty()
    }
}

/// Extensions Ansible skips in an inventory directory
/// (`INVENTORY_IGNORE_EXTS` of ansible-core 2.19).
const IGNORED_EXTS: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

fn ignored_in_dir(name: &str) -> bool {
    name.starts_with('.')
        || matches!(name, "host_vars" | "group_vars" | "vars_plugins")
        || IGNORED_EXTS.iter().any(|e| name.ends_with(e))
}

/// Python's `os.path.splitext(name)[1]` (leading dots are not separators).
fn extension(name: &str) -> &str {
    let lead = name.len() - name.trim_start_matches('.').len();
    match name[lead..].rfind('.') {
        Some(i) => &name[lead + i..],
        None => "",
    }
}

/// Ansible's `unfrackpath(path, follow=False)`: `~` expanded, made
/// absolute, `.`/`..` removed lexically (symlinks are kept).
fn unfrack(src: &str) -> PathBuf {
    let expanded = match (src.strip_prefix('~'), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            PathBuf::from(format!("{}{rest}", Path::new(&home).display()))
        }
        _ => PathBuf::from(src),
    };
    let abs = if expanded.is_absolute() {
        expanded
    } else {
        std::env::current_dir().unwrap_or_default().join(expanded)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Python's `int(value)` for `ansible_group_priority`.
fn py_int(v: &Value) -> Option<i64> {
    if let Ok(i) = i64::try_from(v.clone()) {
        return Some(i);
    }
    if let Some(b) = v.as_str() {
        let t = b.trim().replace('_', "");
        return t.parse().ok();
    }
    match v.kind() {
        minijinja::value::ValueKind::Bool => Some(v.is_true() as i64),
        minijinja::value::ValueKind::Number => f64::try_from(v.clone())
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| f.trunc() as i64),
        _ => None,
    }
}

fn merge(into: &mut IndexMap<String, Value>, from: Option<&IndexMap<String, Value>>) {
    if let Some(from) = from {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// Sets a variable and records where it was set.
fn set_var(
    vars: &mut IndexMap<String, Value>,
    defs: &mut Defs,
    key: String,
    value: Value,
    at: Option<Span>,
) {
    let def = VarDef {
        at,
        value: value.clone(),
    };
    defs.entry(key.clone()).or_default().push(def);
    vars.insert(key, value);
}

/// One layer of a host's variables.
struct Layer<'a> {
    what: String,
    vars: Cow<'a, IndexMap<String, Value>>,
    defs: Option<&'a Defs>,
}

/// A host name resolved: an inventory host, or the implicit localhost.
enum Who<'a> {
    Inv(&'a Host),
    Implicit(&'a str),
}

impl Inventory {
    /// An inventory with only `all` and `ungrouped` (and the implicit localhost).
    fn empty() -> Inventory {
        let mut inv = Inventory {
            groups: IndexMap::new(),
            hosts: IndexMap::new(),
            localhost: None,
            inventory_vars: Vec::new(),
            playbook_vars: Vec::new(),
            warnings: Vec::new(),
            sources: Vec::new(),
            runtime: Vec::new(),
        };
        inv.add_group("all");
        inv.add_group("ungrouped");
        let _ = inv.add_child("all", "ungrouped");
        inv
    }

    /// Loads the `-i` sources, in order: a file (YAML or INI, told apart by
    /// extension and content as ansible-core's plugin chain does), a
    /// directory (every entry, sorted, recursively; hidden files,
    /// `group_vars`/`host_vars`/`vars_plugins` and ignored extensions such as
    /// `.retry`, `.orig`, `.cfg`, `~` skipped), or a host list `h1,h2,` /
    /// `localhost,`. Then `group_vars/` and `host_vars/` beside each path
    /// source (beside a file, inside a directory). No sources: an empty
    /// inventory (only the implicit localhost). Every problem is returned at
    /// once, each located; a path that does not exist is a file-level error.
    /// Inventory scripts, inventory plugin configurations and TOML files are
    /// refused with an explanation.
    pub fn load(sources: &[String]) -> Result<Inventory, Vec<Diagnostic>> {
        let mut inv = Inventory::empty();
        inv.sources = sources.to_vec();
        let mut diags = Vec::new();
        let mut var_dirs: Vec<PathBuf> = Vec::new();
        for src in sources {
            if src.is_empty() {
                continue;
            }
            if src.contains(',') && !Path::new(src).exists() {
                inv.parse_host_list(src, &mut diags);
                continue;
            }
            let path = unfrack(src);
            if path.is_dir() {
                inv.parse_dir(&path, &mut diags);
                var_dirs.push(path);
            } else if path.is_file() {
                inv.parse_file(&path, &mut diags);
                var_dirs.push(path.parent().map(Path::to_path_buf).unwrap_or_default());
            } else {
                let shown = path.display().to_string();
                let mut d = Diagnostic::new(
                    Some(Span::file_only(&shown)),
                    format!(
                        "Unable to parse {shown} as an inventory source: no such file or directory"
                    ),
                );
                if !src.contains('/') {
                    d = d.with_help(format!(
                        "to use `{src}` as a host name rather than a file, end it with a comma: `-i {src},`"
                    ));
                }
                diags.push(d);
            }
        }
        inv.reconcile();
        for dir in var_dirs {
            let loaded = inv.load_vars_dir(&dir, &mut diags);
            inv.inventory_vars.push(loaded);
        }
        if diags.is_empty() {
            Ok(inv)
        } else {
            Err(diags)
        }
    }

    /// Parses `text` as one inventory file named `name` would be parsed by
    /// [`Inventory::load`] (as YAML when `yaml`, else as INI), without
    /// reading anything from disk (no `group_vars/`/`host_vars/`).
    ///
    /// For the fuzz targets ([`crate::fuzzing`]).
    pub(crate) fn parse_text(
        text: &str,
        name: &str,
        yaml: bool,
    ) -> Result<Inventory, Vec<Diagnostic>> {
        let mut inv = Inventory::empty();
        let mut diags = Vec::new();
        let file: Arc<str> = Arc::from(name);
        crate::error::register_source(&file, text);
        let ctx = SourceCtx {
            file: Value::from(name),
            dir: Value::from(()),
        };
        if yaml {
            match crate::yaml::load_str(text, name) {
                Ok(root) => yamlinv::parse(&mut inv, &root, &ctx, &mut diags),
                Err(d) => diags.push(d),
            }
        } else {
            ini::parse(&mut inv, text, &file, &ctx, &mut diags);
        }
        inv.reconcile();
        if diags.is_empty() {
            Ok(inv)
        } else {
            Err(diags)
        }
    }

    /// `meta: refresh_inventory`: the sources and playbook variable
    /// directories read again from disk, then the add_host and group_by
    /// changes made so far applied again (ansible-core keeps them since
    /// 2.14).
    pub fn reload(&self) -> Result<Inventory, Vec<Diagnostic>> {
        let mut fresh = Inventory::load(&self.sources)?;
        for pv in &self.playbook_vars {
            fresh.add_playbook_vars_dir(&pv.dir)?;
        }
        for c in &self.runtime {
            fresh
                .add_runtime(&c.host, &c.groups, &c.parents, c.vars.clone())
                .map_err(|e| vec![Diagnostic::new(None, e)])?;
        }
        Ok(fresh)
    }

    /// Loads `group_vars/` and `host_vars/` in a playbook's directory; they
    /// take precedence over the inventory-adjacent ones, as in Ansible.
    /// Adding the same directory twice is a no-op; on error nothing is added.
    pub fn add_playbook_vars_dir(&mut self, dir: &Path) -> Result<(), Vec<Diagnostic>> {
        let dir = unfrack(&dir.to_string_lossy());
        if self.playbook_vars.iter().any(|d| d.dir == dir) {
            return Ok(());
        }
        let mut diags = Vec::new();
        let loaded = self.load_vars_dir(&dir, &mut diags);
        if !diags.is_empty() {
            return Err(diags);
        }
        self.playbook_vars.push(loaded);
        Ok(())
    }

    /// Host names matching an Ansible host pattern, without duplicates, in
    /// the order ansible-core gives them (what its `order: inventory` means):
    /// pattern after pattern, each group's own hosts before its children's.
    /// Supports `all`, `*`, group or host names, `a:b` and `a,b` (union),
    /// `a:&b` (intersection), `a:!b` (exclusion; with only `&`/`!` parts,
    /// from `all`), wildcards `web*.example.com`, `~regex` (anchored at the
    /// start, as `re.match`), and `group[0]`, `group[-1]`, `group[1:3]`
    /// (inclusive), `group[1:]` subscripts. Unknown names match nothing (the
    /// caller warns). `localhost`, `127.0.0.1` and `::1` match the implicit
    /// localhost when the inventory has no such host. Errors: an invalid
    /// regex, a subscript past the end.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, String> {
        self.evaluate(&pattern::split_host_pattern(pattern))
    }

    /// Applies `--limit` to a selection: the same pattern syntax, plus
    /// `@file` (one pattern per line, blank lines ignored). Keeps the order
    /// of `hosts`; the implicit localhost stays only if the limit names it.
    pub fn limit(&self, hosts: Vec<String>, limit: &str) -> Result<Vec<String>, String> {
        let mut subset = Vec::new();
        for p in pattern::split_host_pattern(limit) {
            if let Some(file) = p.strip_prefix('@') {
                let path = Path::new(file);
                if !path.exists() {
                    return Err(format!("Unable to find limit file {file}"));
                }
                if !path.is_file() {
                    return Err(format!(
                        "Limit starting with \"@\" must be a file, not a directory: {file}"
                    ));
                }
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read limit file {file}: {e}"))?;
                subset.extend(text.split('\n').map(|l| l.trim().to_string()));
            } else {
                subset.push(p);
            }
        }
        let allowed: HashSet<String> = self.evaluate(&subset)?.into_iter().collect();
        Ok(hosts.into_iter().filter(|h| allowed.contains(h)).collect())
    }

    /// The variables of a host with Ansible's precedence, lowest first:
    /// inventory-file group vars (`all`, then the host's groups by depth,
    /// then `ansible_group_priority`, then name), inventory `group_vars/all`,
    /// playbook `group_vars/all`, inventory `group_vars/<group>` (same group
    /// order), playbook `group_vars/<group>`, inventory-file host vars,
    /// inventory `host_vars/<host>`, playbook `host_vars/<host>`. Later wins
    /// (top-level keys replace, no deep merge).
    ///
    /// With several inventory sources (or playbook directories), each layer
    /// takes them in order, and inside one directory the groups in the order
    /// above (as ansible-core's vars plugins do). The implicit localhost has
    /// the `all` layers and `ansible_connection: local` as a host var. An
    /// unknown host has no variables.
    pub fn host_vars(&self, host: &str) -> IndexMap<String, Value> {
        let mut out = IndexMap::new();
        for layer in self.layers(host) {
            merge(&mut out, Some(&layer.vars));
        }
        out
    }

    /// Every variable of [`Inventory::host_vars`] with each place that sets
    /// it, lowest precedence first (the last one for a name is the value
    /// the host gets). A layer that sets a name several times (two files of
    /// a `group_vars/web/` directory, a host listed twice) gives one source
    /// per place.
    pub fn var_sources(&self, host: &str) -> Vec<(String, VarSource)> {
        let mut out = Vec::new();
        for layer in self.layers(host) {
            for (name, value) in layer.vars.iter() {
                match layer.defs.and_then(|d| d.get(name)) {
                    Some(defs) if !defs.is_empty() => {
                        out.extend(defs.iter().map(|d| {
                            let src = VarSource {
                                layer: layer.what.clone(),
                                at: d.at.clone(),
                                value: d.value.clone(),
                            };
                            (name.clone(), src)
                        }));
                    }
                    _ => out.push((
                        name.clone(),
                        VarSource {
                            layer: layer.what.clone(),
                            at: None,
                            value: value.clone(),
                        },
                    )),
                }
            }
        }
        out
    }

    /// The layers of a host's variables in precedence order, lowest first.
    fn layers(&self, host: &str) -> Vec<Layer<'_>> {
        let mut out = Vec::new();
        let Some(who) = self.resolve(host) else {
            return out;
        };
        let groups = match &who {
            Who::Inv(h) => self.sorted_groups(h),
            Who::Implicit(_) => Vec::new(),
        };
        let group_layer = |g: &str| {
            self.groups.get(g).map(|grp| Layer {
                what: format!("inventory group vars [{g}]"),
                vars: Cow::Borrowed(&grp.vars),
                defs: Some(&grp.defs),
            })
        };
        out.extend(group_layer("all"));
        for g in &groups {
            out.extend(group_layer(g));
        }
        for dirs in [&self.inventory_vars, &self.playbook_vars] {
            for d in dirs {
                out.extend(Self::dir_layer(d, "all", true));
            }
        }
        for dirs in [&self.inventory_vars, &self.playbook_vars] {
            for d in dirs {
                for g in &groups {
                    out.extend(Self::dir_layer(d, g, true));
                }
            }
        }
        let name = match who {
            Who::Inv(h) => {
                out.push(Layer {
                    what: "inventory host vars".into(),
                    vars: Cow::Borrowed(&h.vars),
                    defs: Some(&h.defs),
                });
                h.name.as_str()
            }
            Who::Implicit(name) => {
                let mut vars = IndexMap::new();
                vars.insert("ansible_connection".into(), Value::from("local"));
                out.push(Layer {
                    what: "implicit localhost".into(),
                    vars: Cow::Owned(vars),
                    defs: None,
                });
                name
            }
        };
        for dirs in [&self.inventory_vars, &self.playbook_vars] {
            for d in dirs {
                out.extend(Self::dir_layer(d, name, false));
            }
        }
        out
    }

    /// `group_vars/<name>` or `host_vars/<name>` of one directory.
    fn dir_layer<'a>(d: &'a VarsDir, name: &str, group: bool) -> Option<Layer<'a>> {
        let (vars, defs, sub) = if group {
            (d.groups.get(name)?, d.group_defs.get(name), "group_vars")
        } else {
            (d.hosts.get(name)?, d.host_defs.get(name), "host_vars")
        };
        Some(Layer {
            what: format!("{sub}/{name}"),
            vars: Cow::Borrowed(vars),
            defs,
        })
    }

    /// Sorted group names of a host, excluding `all` (the magic
    /// `group_names`). As in Ansible, a host in no group is in `ungrouped`,
    /// and that name is listed; the implicit localhost has none.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let Some(Who::Inv(h)) = self.resolve(host) else {
            return Vec::new();
        };
        let mut names: Vec<String> = self
            .host_group_closure(h)
            .into_iter()
            .filter(|g| *g != "all")
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    /// The magic `groups`: every group (`all` and `ungrouped` included, in
    /// creation order) → its hosts, its own first, then its descendants'
    /// level by level (as ansible-core's `Group.get_hosts`).
    pub fn groups_map(&self) -> IndexMap<String, Vec<String>> {
        self.groups
            .keys()
            .map(|g| (g.clone(), self.group_hosts(g)))
            .collect()
    }

    /// Every host name, in the order of the `all` group.
    pub fn hosts(&self) -> Vec<String> {
        self.group_hosts("all")
    }

    /// True for a host of the inventory (not the implicit localhost).
    pub fn has_host(&self, name: &str) -> bool {
        self.hosts.contains_key(name)
    }

    /// True for a group of the inventory, `all` and `ungrouped` included.
    pub fn group_exists(&self, name: &str) -> bool {
        self.groups.contains_key(name)
    }

    /// A host of the inventory.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.get(name)
    }

    /// Every group name, in creation order (`all` and `ungrouped` first).
    pub fn group_list(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }

    /// The variables the inventory source sets on a group (`[g:vars]`, YAML
    /// `vars:`), without group_vars files.
    pub fn group_own_vars(&self, group: &str) -> Option<&IndexMap<String, Value>> {
        self.groups.get(group).map(|g| &g.vars)
    }

    /// A group's own hosts and its child groups, each in the order they
    /// were added (ansible-core's `group.hosts` and `group.child_groups`).
    pub fn group_members(&self, group: &str) -> Option<(Vec<String>, Vec<String>)> {
        let g = self.groups.get(group)?;
        Some((
            g.hosts.iter().cloned().collect(),
            g.children.iter().cloned().collect(),
        ))
    }

    /// A group's variables as ansible-inventory shows them: the inventory
    /// source's own, then `group_vars/<group>` beside each source, and
    /// `ansible_group_priority` when it is not 1.
    pub fn group_vars(&self, group: &str) -> IndexMap<String, Value> {
        let mut out = IndexMap::new();
        let Some(g) = self.groups.get(group) else {
            return out;
        };
        merge(&mut out, Some(&g.vars));
        for d in &self.inventory_vars {
            merge(&mut out, d.groups.get(group));
        }
        if g.priority != 1 {
            out.insert("ansible_group_priority".into(), Value::from(g.priority));
        }
        out
    }

    /// True when `name` would be served by the implicit localhost (a
    /// `localhost`-like name the inventory does not define).
    pub fn is_implicit_localhost(&self, name: &str) -> bool {
        matches!(self.resolve(name), Some(Who::Implicit(_)))
    }

    /// Non-fatal findings (a host and a group of the same name, duplicate
    /// localhost entries, a `group_vars` that is a file …).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    // ---- evaluation -------------------------------------------------------

    fn resolve(&self, name: &str) -> Option<Who<'_>> {
        if let Some(h) = self.hosts.get(name) {
            return Some(Who::Inv(h));
        }
        if LOCALHOST.contains(&name) {
            return Some(
                match self.localhost.as_ref().and_then(|l| self.hosts.get(l)) {
                    Some(h) => Who::Inv(h),
                    None => Who::Implicit(
                        LOCALHOST
                            .iter()
                            .find(|l| **l == name)
                            .copied()
                            .unwrap_or("localhost"),
                    ),
                },
            );
        }
        None
    }

    /// Ansible's `_evaluate_patterns`.
    fn evaluate(&self, patterns: &[String]) -> Result<Vec<String>, String> {
        let mut hosts: Vec<String> = Vec::new();
        for p in pattern::order_patterns(patterns) {
            if self.hosts.contains_key(&p) {
                hosts.push(p);
                continue;
            }
            let that = self.match_one(&p)?;
            if p.starts_with('!') {
                let that: HashSet<&String> = that.iter().collect();
                hosts.retain(|h| !that.contains(h));
            } else if p.starts_with('&') {
                let that: HashSet<&String> = that.iter().collect();
                hosts.retain(|h| that.contains(h));
            } else {
                let existing: HashSet<String> = hosts.iter().cloned().collect();
                hosts.extend(that.into_iter().filter(|h| !existing.contains(h)));
            }
        }
        let mut seen = HashSet::new();
        hosts.retain(|h| seen.insert(h.clone()));
        Ok(hosts)
    }

    /// One pattern without its `&`/`!`, subscript applied.
    fn match_one(&self, pattern: &str) -> Result<Vec<String>, String> {
        let pattern = pattern.strip_prefix(['&', '!']).unwrap_or(pattern);
        let (expr, sub) = pattern::split_subscript(pattern);
        let hosts = self.enumerate_matches(&expr)?;
        pattern::apply_subscript(hosts, sub, pattern)
    }

    /// Ansible's `_enumerate_matches`: hosts of every group whose name
    /// matches, plus hosts whose name matches when no group did or the
    /// pattern is a wildcard/regex; then the implicit localhost.
    fn enumerate_matches(&self, pattern: &str) -> Result<Vec<String>, String> {
        if pattern.is_empty() {
            return Ok(Vec::new());
        }
        let re = pattern::compile(pattern)?;
        let mut results = Vec::new();
        let matching_groups: Vec<&String> = self.groups.keys().filter(|g| re.is_match(g)).collect();
        for g in &matching_groups {
            results.extend(self.group_hosts(g));
        }
        if matching_groups.is_empty()
            || pattern.starts_with('~')
            || pattern.contains(['.', '?', '*', '['])
        {
            results.extend(self.hosts.keys().filter(|h| re.is_match(h)).cloned());
        }
        if results.is_empty() && LOCALHOST.contains(&pattern) {
            match &self.localhost {
                Some(l) => results.push(l.clone()),
                None => results.push(pattern.to_string()),
            }
        }
        Ok(results)
    }

    /// A group's hosts: its own, then its descendants' level by level.
    fn group_hosts(&self, group: &str) -> Vec<String> {
        let Some(start) = self.groups.get_key_value(group).map(|(k, _)| k.as_str()) else {
            return Vec::new();
        };
        let mut order: Vec<&str> = vec![start];
        let mut seen: HashSet<&str> = HashSet::from([start]);
        let mut level = vec![start];
        while !level.is_empty() {
            let mut next = Vec::new();
            for g in level {
                for c in &self.groups[g].children {
                    if seen.insert(c.as_str()) {
                        order.push(c);
                        next.push(c.as_str());
                    }
                }
            }
            level = next;
        }
        let mut hosts = Vec::new();
        let mut seen_h: HashSet<&str> = HashSet::new();
        for g in order {
            for h in &self.groups[g].hosts {
                if seen_h.insert(h) {
                    hosts.push(h.clone());
                }
            }
        }
        hosts
    }

    fn ancestors(&self, group: &str) -> HashSet<&str> {
        let mut out: HashSet<&str> = HashSet::new();
        let mut todo: Vec<&str> = vec![group];
        while let Some(g) = todo.pop() {
            if let Some(grp) = self.groups.get(g) {
                for p in &grp.parents {
                    if out.insert(p) {
                        todo.push(p);
                    }
                }
            }
        }
        out
    }

    /// The host's groups with all their ancestors (`all` included).
    fn host_group_closure<'a>(&'a self, host: &'a Host) -> HashSet<&'a str> {
        let mut out: HashSet<&str> = HashSet::new();
        for g in &host.groups {
            out.insert(g.as_str());
            out.extend(self.ancestors(g));
        }
        out
    }

    /// The host's groups except `all`, sorted as ansible-core's
    /// `sort_groups`: by depth, then `ansible_group_priority`, then name.
    fn sorted_groups<'a>(&'a self, host: &'a Host) -> Vec<&'a str> {
        let mut groups: Vec<&str> = self
            .host_group_closure(host)
            .into_iter()
            .filter(|g| *g != "all")
            .collect();
        groups.sort_by(|a, b| {
            let (ga, gb) = (&self.groups[*a], &self.groups[*b]);
            (ga.depth, ga.priority, *a).cmp(&(gb.depth, gb.priority, *b))
        });
        groups
    }

    /// `add_host` and `group_by` at run time: puts `host` (created when
    /// new, with `vars` set on it) into each of `groups` (created when new,
    /// under `parents`).
    pub fn add_runtime(
        &mut self,
        host: &str,
        groups: &[String],
        parents: &[String],
        vars: IndexMap<String, Value>,
    ) -> Result<(), String> {
        self.runtime.push(RuntimeChange {
            host: host.to_owned(),
            groups: groups.to_vec(),
            parents: parents.to_vec(),
            vars: vars.clone(),
        });
        for g in groups.iter().chain(parents) {
            self.add_group(g);
        }
        for g in groups {
            for p in parents {
                self.add_child(p, g)?;
            }
        }
        let src = SourceCtx {
            file: Value::from(()),
            dir: Value::from(()),
        };
        if groups.is_empty() {
            self.add_host(host, None, None, &src, None)?;
        }
        for g in groups {
            self.add_host(host, Some(g), None, &src, None)?;
        }
        for (k, v) in vars {
            self.set_host_var(host, k, v, None);
        }
        self.reconcile();
        Ok(())
    }

    // ---- building ---------------------------------------------------------

    fn add_group(&mut self, name: &str) {
        if !self.groups.contains_key(name) {
            self.groups.insert(
                name.to_string(),
                Group {
                    priority: 1,
                    ..Group::default()
                },
            );
        }
    }

    /// Adds a host (once) and puts it in `group`. The port is only recorded
    /// when the host is new, as ansible-core does.
    fn add_host(
        &mut self,
        name: &str,
        group: Option<&str>,
        port: Option<i64>,
        src: &SourceCtx,
        span: Option<&Span>,
    ) -> Result<(), String> {
        if name.is_empty() {
            return Err("invalid empty host name".into());
        }
        if let Some(g) = group
            && !self.groups.contains_key(g)
        {
            return Err(format!("could not find group {g} in inventory"));
        }
        if !self.hosts.contains_key(name) {
            self.hosts.insert(
                name.to_string(),
                Host {
                    name: name.to_string(),
                    vars: IndexMap::new(),
                    groups: IndexSet::new(),
                    defs: Defs::new(),
                },
            );
            if let Some(p) = port {
                self.set_host_var(name, "ansible_port".into(), Value::from(p), span.cloned());
            }
            self.set_host_var(name, "inventory_file".into(), src.file.clone(), None);
            self.set_host_var(name, "inventory_dir".into(), src.dir.clone(), None);
            if LOCALHOST.contains(&name) {
                match &self.localhost {
                    None => self.localhost = Some(name.to_string()),
                    Some(first) => self.warnings.push(Diagnostic::new(
                        span.cloned(),
                        format!("A duplicate localhost-like entry was found ({name}). First found localhost was {first}"),
                    )),
                }
            }
        }
        if let Some(g) = group {
            if let Some(grp) = self.groups.get_mut(g) {
                grp.hosts.insert(name.to_string());
            }
            if let Some(h) = self.hosts.get_mut(name) {
                h.groups.insert(g.to_string());
            }
        }
        Ok(())
    }

    fn set_host_var(&mut self, host: &str, key: String, value: Value, at: Option<Span>) {
        if let Some(h) = self.hosts.get_mut(host) {
            set_var(&mut h.vars, &mut h.defs, key, value, at);
        }
    }

    /// Sets a group variable; `ansible_group_priority` sets the priority.
    fn set_group_var(
        &mut self,
        group: &str,
        key: String,
        value: Value,
        at: Option<Span>,
    ) -> Result<(), String> {
        let Some(g) = self.groups.get_mut(group) else {
            return Err(format!("could not find group {group} in inventory"));
        };
        if key == "ansible_group_priority" {
            g.priority = py_int(&value).ok_or_else(|| {
                format!(
                    "ansible_group_priority must be an integer, got `{}`",
                    crate::template::py_str(&value)
                )
            })?;
        } else {
            set_var(&mut g.vars, &mut g.defs, key, value, at);
        }
        Ok(())
    }

    /// Makes `child` a child group of `parent`, refusing loops.
    fn add_child(&mut self, parent: &str, child: &str) -> Result<(), String> {
        if parent == child {
            return Err(format!("group '{child}' cannot be a child of itself"));
        }
        if !self.groups.contains_key(parent) || !self.groups.contains_key(child) {
            return Err(format!("{child} is not a known group"));
        }
        if self.ancestors(parent).contains(child) {
            return Err(format!(
                "Adding group '{child}' as child to '{parent}' creates a recursive dependency loop."
            ));
        }
        if let Some(p) = self.groups.get_mut(parent) {
            p.children.insert(child.to_string());
        }
        if let Some(c) = self.groups.get_mut(child) {
            c.parents.insert(parent.to_string());
        }
        Ok(())
    }

    /// ansible-core's `reconcile_inventory`: orphan groups go under `all`,
    /// hosts with no group into `ungrouped` (and out of it when they have
    /// another); then group depths.
    fn reconcile(&mut self) {
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for g in &names {
            if g != "all" && self.groups[g.as_str()].parents.is_empty() {
                let _ = self.add_child("all", g);
            }
        }
        let host_names: Vec<String> = self.hosts.keys().cloned().collect();
        for h in &host_names {
            let closure: Vec<String> = self
                .host_group_closure(&self.hosts[h.as_str()])
                .into_iter()
                .map(str::to_string)
                .collect();
            if closure.iter().any(|g| g == "ungrouped") {
                if closure.iter().any(|g| g != "all" && g != "ungrouped") {
                    if let Some(u) = self.groups.get_mut("ungrouped") {
                        u.hosts.shift_remove(h);
                    }
                    if let Some(host) = self.hosts.get_mut(h.as_str()) {
                        host.groups.shift_remove("ungrouped");
                    }
                }
            } else if closure.is_empty() || (closure.len() == 1 && closure[0] == "all") {
                if let Some(u) = self.groups.get_mut("ungrouped") {
                    u.hosts.insert(h.clone());
                }
                if let Some(host) = self.hosts.get_mut(h.as_str()) {
                    host.groups.insert("ungrouped".into());
                }
            }
        }
        for h in &host_names {
            if self.groups.contains_key(h) {
                self.warnings.push(Diagnostic::new(
                    None,
                    format!("Found both group and host with same name: {h}"),
                ));
            }
        }
        // Depth: the longest path from `all`.
        let mut depth: HashMap<String, usize> = HashMap::new();
        fn depth_of(inv: &Inventory, g: &str, memo: &mut HashMap<String, usize>) -> usize {
            if let Some(d) = memo.get(g) {
                return *d;
            }
            let d = inv.groups[g]
                .parents
                .iter()
                .map(|p| depth_of(inv, p, memo) + 1)
                .max()
                .unwrap_or(0);
            memo.insert(g.to_string(), d);
            d
        }
        for g in &names {
            depth_of(self, g, &mut depth);
        }
        for (g, d) in depth {
            if let Some(grp) = self.groups.get_mut(&g) {
                grp.depth = d;
            }
        }
    }

    // ---- sources ----------------------------------------------------------

    /// `host1,host2,`: each name (with an optional port, no ranges) in
    /// `ungrouped`.
    fn parse_host_list(&mut self, src: &str, diags: &mut Vec<Diagnostic>) {
        let ctx = SourceCtx {
            file: Value::from(src),
            dir: Value::from(()),
        };
        for h in src.split(',') {
            let h = h.trim();
            if h.is_empty() {
                continue;
            }
            let (name, port) = match parse_address(h, false) {
                Ok((n, p)) => (n, p),
                Err(_) => (h.to_string(), None),
            };
            if !self.hosts.contains_key(&name)
                && let Err(e) = self.add_host(&name, Some("ungrouped"), port, &ctx, None)
            {
                diags.push(Diagnostic::new(None, format!("in host list `{src}`: {e}")));
            }
        }
    }

    fn parse_dir(&mut self, dir: &Path, diags: &mut Vec<Diagnostic>) {
        let entries = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                let shown = dir.display().to_string();
                diags.push(Diagnostic::new(
                    Some(Span::file_only(&shown)),
                    format!("cannot read inventory directory {shown}: {e}"),
                ));
                return;
            }
        };
        let mut names: Vec<std::ffi::OsString> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            let text = name.to_string_lossy();
            if ignored_in_dir(&text) {
                continue;
            }
            let path = dir.join(&name);
            if path.is_dir() {
                self.parse_dir(&path, diags);
            } else {
                self.parse_file(&path, diags);
            }
        }
    }

    /// One inventory file, by extension and content as Ansible's plugin
    /// chain (host_list, script, auto, yaml, ini) would take it.
    fn parse_file(&mut self, path: &Path, diags: &mut Vec<Diagnostic>) {
        let shown = path.display().to_string();
        let file: Arc<str> = Arc::from(shown.as_str());
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                diags.push(Diagnostic::new(
                    Some(Span::file_only(&shown)),
                    format!("Unable to parse {shown} as an inventory source: {e}"),
                ));
                return;
            }
        };
        // A vaulted inventory is decrypted, as Ansible's loader does; its
        // lines are never quoted (the guard hides them when parsing ends).
        let (bytes, hidden) = if crate::vault::is_encrypted(&bytes) {
            match crate::yaml::decrypt_vault_file(&bytes, &shown) {
                Ok((plain, hidden)) => (plain.to_vec(), Some(hidden)),
                Err(d) => {
                    diags.push(d);
                    return;
                }
            }
        } else {
            (bytes, None)
        };
        let vaulted = hidden.is_some();
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                diags.push(crate::yaml::utf8_diagnostic(
                    &shown,
                    e.as_bytes(),
                    e.utf8_error(),
                ));
                return;
            }
        };
        crate::error::register_source(&file, &text);
        let ctx = SourceCtx {
            file: Value::from(shown.clone()),
            dir: Value::from(
                path.parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
        };

        if text.starts_with("#!") && is_executable(path) {
            diags.push(Diagnostic::new(
                Some(Span::new(file, 1, 1, text.lines().next().map_or(1, |l| l.chars().count()))),
                format!("{shown} is an executable inventory script; hoist does not run inventory scripts"),
            ).with_help("export it to a static file, e.g. `ansible-inventory -i SCRIPT --list -y > inventory.yml`"));
            return;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ext = extension(&name);
        if ext == ".toml" {
            diags.push(Diagnostic::new(
                Some(Span::file_only(&shown)),
                format!("{shown}: TOML inventories are not supported; use the YAML or INI format"),
            ));
            return;
        }
        if matches!(ext, "" | ".yml" | ".yaml" | ".json") {
            match crate::yaml::load_str(&text, &shown) {
                Ok(root) if root.as_map().is_some_and(|m| !m.is_empty()) => {
                    if vaulted {
                        crate::yaml::register_leaves(&root);
                    }
                    yamlinv::parse(self, &root, &ctx, diags);
                    return;
                }
                Ok(root) if !ext.is_empty() => {
                    let found = if root.is_null() || root.as_map().is_some() {
                        "the file is empty".to_string()
                    } else {
                        format!("found a {}", root.type_name())
                    };
                    let span = if root.is_null() {
                        Span::file_only(&shown)
                    } else {
                        root.span.clone()
                    };
                    diags.push(
                        Diagnostic::at(
                            &span,
                            format!("YAML inventory must be a mapping of groups, {found}"),
                        )
                        .with_help(
                            "start with `all:` and put `hosts:`, `vars:` and `children:` under it",
                        ),
                    );
                    return;
                }
                Err(e) if !ext.is_empty() => {
                    diags.push(e);
                    return;
                }
                Err(e) => {
                    // No extension and not YAML: INI, unless INI fails too
                    // and the text looks like YAML.
                    let mut ini_diags = Vec::new();
                    ini::parse(self, &text, &file, &ctx, &mut ini_diags);
                    if !ini_diags.is_empty() && looks_like_yaml(&text) {
                        diags.push(e);
                    } else {
                        diags.extend(ini_diags);
                    }
                    return;
                }
                Ok(_) => {}
            }
        }
        if vaulted {
            register_ini_values(&text);
        }
        ini::parse(self, &text, &file, &ctx, diags);
    }

    fn load_vars_dir(&mut self, dir: &Path, diags: &mut Vec<Diagnostic>) -> VarsDir {
        let groups: Vec<String> = self.groups.keys().cloned().collect();
        let mut hosts: Vec<String> = self.hosts.keys().cloned().collect();
        for l in LOCALHOST {
            if !self.hosts.contains_key(l) {
                hosts.push(l.to_string());
            }
        }
        vars::load_dir(dir, &groups, &hosts, diags, &mut self.warnings)
    }
}

/// Every value of a decrypted INI inventory is a secret (host and group
/// names are not): `k=v` on host lines and in `[group:vars]` sections, as
/// written and unquoted.
fn register_ini_values(text: &str) {
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with(['#', ';', '[']) {
            continue;
        }
        let words = shlex::split(l).unwrap_or_default();
        let values = words
            .iter()
            .filter_map(|w| w.split_once('=').map(|(_, v)| v))
            .chain(l.split_once('=').map(|(_, v)| v.trim()));
        for v in values {
            crate::secrets::register(v);
            crate::secrets::register(v.trim_matches(['"', '\'']));
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// A file without extension that failed both parsers: report the YAML error
/// if it reads like YAML (a `---` start or a `key:` first line).
fn looks_like_yaml(text: &str) -> bool {
    let Some(first) = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
    else {
        return false;
    };
    first.starts_with("---")
        || (!first.starts_with('[') && (first.ends_with(':') || first.contains(": ")))
}
