//! `hoist inventory`: the inventory as ansible-inventory 2.19 shows it.
//! `--list` (JSON, or YAML with `--yaml`), `--graph [GROUP]` (with
//! `--vars`), `--host HOST`. This module builds the text; the reporter
//! prints it.
//!
//! As ansible-inventory (without `--export`): a host's variables are
//! everything the inventory gives it, group variables folded in with
//! Ansible's precedence ([`Inventory::host_vars`]), less the internal
//! variables (`inventory_file`, `inventory_dir` …); a group's variables are
//! its own and its `group_vars/` ones.

use indexmap::{IndexMap, IndexSet};
use minijinja::Value;

use crate::inventory::Inventory;
use crate::template::filters::pyjson::{self, JsonOptions};
use crate::template::filters::yaml_dump::{self, YamlOptions};

/// ansible-core's `INTERNAL_STATIC_VARS`: never shown by ansible-inventory.
const INTERNAL_VARS: [&str; 33] = [
    "ansible_async_path",
    "ansible_collection_name",
    "ansible_config_file",
    "ansible_dependent_role_names",
    "ansible_diff_mode",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_play_batch",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_role_names",
    "ansible_playbook_python",
    "ansible_role_name",
    "ansible_role_names",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "hostvars",
    "playbook_dir",
    "play_hosts",
    "role_name",
    "role_names",
    "role_path",
    "role_uuid",
];

fn remove_internal(mut vars: IndexMap<String, Value>) -> IndexMap<String, Value> {
    vars.retain(|k, _| !INTERNAL_VARS.contains(&k.as_str()));
    vars
}

/// A host's variables as ansible-inventory shows them.
pub fn host_vars(inv: &Inventory, host: &str) -> IndexMap<String, Value> {
    remove_internal(inv.host_vars(host))
}

/// A group's variables as `--graph --vars` shows them.
pub fn group_vars(inv: &Inventory, group: &str) -> IndexMap<String, Value> {
    remove_internal(inv.group_vars(group))
}

fn map(entries: IndexMap<String, Value>) -> Value {
    crate::template::vmap(entries)
}

/// JSON as ansible-inventory dumps it: `json.dumps(sort_keys=True,
/// indent=4)`, non-ASCII characters as they are.
pub fn json(v: &Value) -> String {
    let opts = JsonOptions {
        indent: Some("    ".into()),
        sort_keys: true,
        item_separator: ",".into(),
        ensure_ascii: false,
        ..JsonOptions::default()
    };
    pyjson::dumps(v, &opts).unwrap_or_else(|_| "{}".into())
}

/// YAML as ansible-inventory dumps it: PyYAML block style, keys sorted.
/// (PyYAML's anchors for objects shared between hosts are not made: the
/// values are the same, written out each time.)
pub fn yaml(v: &Value) -> String {
    let opts = YamlOptions {
        default_flow_style: Some(false),
        ..YamlOptions::default()
    };
    let text = yaml_dump::dump(v, &opts).unwrap_or_else(|_| "{}\n".into());
    // display.display adds the newline the dump already ends with.
    text.strip_suffix('\n').map(str::to_owned).unwrap_or(text)
}

/// `--list`: ansible-inventory's `json_inventory` of the `all` group for
/// the `available` hosts.
pub fn list_json(inv: &Inventory, available: &[String]) -> Value {
    let avail: IndexSet<&str> = available.iter().map(String::as_str).collect();
    let mut results: IndexMap<String, Value> = IndexMap::new();
    let mut seen: IndexSet<String> = IndexSet::new();
    json_group(inv, "all", &avail, &mut seen, &mut results);
    let mut hostvars = IndexMap::new();
    for h in available {
        let vars = host_vars(inv, h);
        if !vars.is_empty() {
            hostvars.insert(h.clone(), map(vars));
        }
    }
    let mut meta = IndexMap::new();
    meta.insert("hostvars".to_owned(), map(hostvars));
    meta.insert("profile".to_owned(), Value::from("inventory_legacy"));
    results.insert("_meta".into(), map(meta));
    map(results)
}

fn json_group(
    inv: &Inventory,
    group: &str,
    avail: &IndexSet<&str>,
    seen: &mut IndexSet<String>,
    results: &mut IndexMap<String, Value>,
) {
    let (hosts, children) = inv.group_members(group).unwrap_or_default();
    let mut entry: IndexMap<String, Value> = IndexMap::new();
    if group != "all" {
        let hosts: Vec<Value> = hosts
            .iter()
            .filter(|h| avail.contains(h.as_str()))
            .map(|h| Value::from(h.as_str()))
            .collect();
        if !hosts.is_empty() {
            entry.insert("hosts".into(), Value::from(hosts));
        }
    }
    let mut kids = Vec::new();
    for c in &children {
        kids.push(Value::from(c.as_str()));
        if !seen.contains(c) {
            json_group(inv, c, avail, seen, results);
            seen.insert(c.clone());
        }
    }
    if !kids.is_empty() {
        entry.insert("children".into(), Value::from(kids));
    }
    if !entry.is_empty() {
        results.insert(group.to_owned(), map(entry));
    }
}

/// `--list --yaml`: ansible-inventory's `yaml_inventory`: the groups as a
/// tree under `all`, each host's variables under the first group that
/// lists it.
pub fn list_yaml(inv: &Inventory, available: &[String]) -> Value {
    let avail: IndexSet<&str> = available.iter().map(String::as_str).collect();
    let mut seen_hosts = IndexSet::new();
    let mut seen_groups = IndexSet::new();
    map(yaml_group(
        inv,
        "all",
        &avail,
        &mut seen_hosts,
        &mut seen_groups,
    ))
}

fn yaml_group(
    inv: &Inventory,
    group: &str,
    avail: &IndexSet<&str>,
    seen_hosts: &mut IndexSet<String>,
    seen_groups: &mut IndexSet<String>,
) -> IndexMap<String, Value> {
    let (hosts, children) = inv.group_members(group).unwrap_or_default();
    let mut entry: IndexMap<String, Value> = IndexMap::new();
    let mut kids: IndexMap<String, Value> = IndexMap::new();
    for c in &children {
        if c == "all" {
            continue;
        }
        if seen_groups.contains(c) {
            kids.insert(c.clone(), map(IndexMap::new()));
        } else {
            kids.extend(yaml_group(inv, c, avail, seen_hosts, seen_groups));
            seen_groups.insert(c.clone());
        }
    }
    if !kids.is_empty() {
        entry.insert("children".into(), map(kids));
    }
    if group != "all" {
        let mut hs: IndexMap<String, Value> = IndexMap::new();
        for h in hosts.iter().filter(|h| avail.contains(h.as_str())) {
            let vars = if seen_hosts.insert(h.clone()) {
                host_vars(inv, h)
            } else {
                IndexMap::new()
            };
            hs.insert(h.clone(), map(vars));
        }
        if !hs.is_empty() {
            entry.insert("hosts".into(), map(hs));
        }
    }
    let mut out = IndexMap::new();
    if !entry.is_empty() {
        out.insert(group.to_owned(), map(entry));
    }
    out
}

/// `--graph [GROUP]`: the tree of `@group:` lines with `|--`; with
/// `show_vars`, `{name = value}` lines (Python's `str` of the value) for
/// each host and group. `None` for an unknown group.
pub fn graph(inv: &Inventory, group: &str, show_vars: bool) -> Option<String> {
    if !inv.group_exists(group) {
        return None;
    }
    let mut lines = Vec::new();
    graph_group(inv, group, 0, show_vars, &mut lines);
    Some(lines.join("\n"))
}

fn graph_name(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_owned()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

fn graph_vars(vars: IndexMap<String, Value>, depth: usize, lines: &mut Vec<String>) {
    let mut vars: Vec<(String, Value)> = vars.into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in vars {
        let text = format!("{{{k} = {}}}", crate::template::filters::py_str(&v));
        lines.push(graph_name(&text, depth));
    }
}

fn graph_group(
    inv: &Inventory,
    group: &str,
    depth: usize,
    show_vars: bool,
    lines: &mut Vec<String>,
) {
    lines.push(graph_name(&format!("@{group}:"), depth));
    let (hosts, children) = inv.group_members(group).unwrap_or_default();
    let depth = depth + 1;
    for c in &children {
        graph_group(inv, c, depth, show_vars, lines);
    }
    if group != "all" {
        for h in &hosts {
            lines.push(graph_name(h, depth));
            if show_vars {
                graph_vars(host_vars(inv, h), depth + 1, lines);
            }
        }
    }
    if show_vars {
        graph_vars(group_vars(inv, group), depth, lines);
    }
}
