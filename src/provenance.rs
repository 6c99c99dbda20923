//! `hoist vars`: where a host's variables come from.
//!
//! A [`Chain`] lists every place that sets a variable for one host, lowest
//! precedence first, in Ansible's order: defaults of the play's roles, the
//! inventory's layers (see [`Inventory::var_sources`]), play vars,
//! vars_files, vars of the play's roles, extra vars. The last source of a
//! name is the value the host gets. Without playbooks there is one chain
//! (inventory and extra vars); with them there is one per play that
//! targets the host, since each play has its own vars. Facts, `set_fact`
//! and registered variables only exist at run time and are not listed.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::Value;

use crate::error::Span;
use crate::inventory::{Inventory, VarSource};
use crate::playbook::{Play, Playbook};
use crate::template::{Templar, VarScope, is_template, py_str};
use crate::yaml::NodeKind;

/// The sources of a host's variables in one context.
#[derive(Debug)]
pub struct Chain {
    /// The play this chain is for: its name and where it starts (`None`
    /// when no playbook was given).
    pub play: Option<(String, Option<Span>)>,
    /// Every (variable, source), lowest precedence first.
    pub sources: Vec<(String, VarSource)>,
    /// Variables hoist sets itself (`inventory_hostname`, `group_names` …).
    pub magic: Vec<(String, Value)>,
}

impl Chain {
    /// The sources of one variable, lowest precedence first.
    pub fn of(&self, name: &str) -> Vec<&VarSource> {
        self.sources
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, s)| s)
            .collect()
    }

    /// Each variable with the source that wins, sorted by name.
    pub fn winners(&self) -> Vec<(&str, &VarSource)> {
        let mut out: IndexMap<&str, &VarSource> = IndexMap::new();
        for (n, s) in &self.sources {
            out.insert(n.as_str(), s);
        }
        out.sort_keys();
        out.into_iter().collect()
    }

    /// Every variable name (sources and magic), for suggestions.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.sources.iter().map(|(n, _)| n.as_str()).collect();
        names.extend(self.magic.iter().map(|(n, _)| n.as_str()));
        names
    }

    /// A variable's final value with templates rendered against the
    /// chain's variables (as a task would see it before any fact exists).
    pub fn rendered(&self, templar: &Arc<Templar>, name: &str) -> Option<Result<Value, String>> {
        let winner = self.of(name).pop()?.value.clone();
        let mut vars: IndexMap<String, Value> = self
            .sources
            .iter()
            .map(|(n, s)| (n.clone(), s.value.clone()))
            .collect();
        vars.extend(self.magic.iter().cloned());
        let scope = VarScope::new(templar.clone(), vars);
        Some(scope.render_value(&winner))
    }
}

/// The chains of `host`: one for the inventory alone when `playbooks` is
/// empty, else one per play whose `hosts` select it. `extra` are the `-e`
/// variables. `None` when the inventory has no such host.
pub fn chains(
    inv: &Inventory,
    playbooks: &[Playbook],
    extra: &[(String, VarSource)],
    host: &str,
    templar: &Arc<Templar>,
) -> Option<Vec<Chain>> {
    if !inv.has_host(host) && !inv.is_implicit_localhost(host) {
        return None;
    }
    let magic = magic(inv, host);
    let inventory = inv.var_sources(host);
    let plays: Vec<&Play> = playbooks
        .iter()
        .flat_map(|pb| &pb.plays)
        .filter(|p| targets(inv, p, host, extra, templar))
        .collect();
    if playbooks.is_empty() {
        let mut sources = inventory;
        sources.extend(extra.iter().cloned());
        return Some(vec![Chain {
            play: None,
            sources,
            magic,
        }]);
    }
    let chains = plays
        .into_iter()
        .map(|play| {
            let roles = &play.exported_roles;
            let mut sources = Vec::new();
            for r in roles {
                let layer = format!("role defaults [{}]", r.name);
                sources.extend(role_layer(&layer, &r.defaults, &r.defaults_at));
            }
            sources.extend(inventory.iter().cloned());
            sources.extend(role_layer("play vars", &play.vars, &play.vars_at));
            sources.extend(vars_files(play, &sources, templar));
            for r in roles {
                let layer = format!("role vars [{}]", r.name);
                sources.extend(role_layer(&layer, &r.vars, &r.vars_at));
            }
            sources.extend(extra.iter().cloned());
            Chain {
                play: Some((play.name.clone(), play.span.clone())),
                sources,
                magic: magic.clone(),
            }
        })
        .collect();
    Some(chains)
}

fn magic(inv: &Inventory, host: &str) -> Vec<(String, Value)> {
    let short = host.split('.').next().unwrap_or(host);
    vec![
        ("inventory_hostname".into(), Value::from(host)),
        ("inventory_hostname_short".into(), Value::from(short)),
        ("group_names".into(), Value::from(inv.group_names(host))),
    ]
}

/// True when the play's `hosts` pattern selects `host` (a templated
/// pattern is rendered with the extra vars, as Ansible does before any host
/// exists).
fn targets(
    inv: &Inventory,
    play: &Play,
    host: &str,
    extra: &[(String, VarSource)],
    templar: &Arc<Templar>,
) -> bool {
    let pattern = if is_template(&play.hosts) {
        let vars = extra.iter().map(|(n, s)| (n.clone(), s.value.clone()));
        let scope = VarScope::new(templar.clone(), vars.collect());
        match scope.render(&play.hosts) {
            Ok(v) => py_str(&v),
            Err(_) => return false,
        }
    } else {
        play.hosts.clone()
    };
    inv.select(&pattern)
        .is_ok_and(|hosts| hosts.iter().any(|h| h == host))
}

fn role_layer(
    layer: &str,
    vars: &IndexMap<String, Value>,
    at: &IndexMap<String, Span>,
) -> Vec<(String, VarSource)> {
    vars.iter()
        .map(|(k, v)| {
            let src = VarSource {
                layer: layer.to_owned(),
                at: at.get(k).cloned(),
                value: v.clone(),
            };
            (k.clone(), src)
        })
        .collect()
}

/// The play's `vars_files`: for each entry the first candidate that exists
/// (names rendered with the variables known so far).
fn vars_files(
    play: &Play,
    known: &[(String, VarSource)],
    templar: &Arc<Templar>,
) -> Vec<(String, VarSource)> {
    let vars = known.iter().map(|(n, s)| (n.clone(), s.value.clone()));
    let scope = VarScope::new(templar.clone(), vars.collect());
    let mut out = Vec::new();
    for (candidates, _) in &play.vars_files {
        let found = candidates.iter().find_map(|c| {
            let name = scope.render(c).ok().map(|v| py_str(&v))?;
            let path = play.dir.join(name);
            path.is_file().then_some(path)
        });
        if let Some(path) = found {
            out.extend(file_vars(&path));
        }
    }
    out
}

fn file_vars(path: &Path) -> Vec<(String, VarSource)> {
    let Ok(node) = crate::yaml::load_file(path) else {
        return Vec::new();
    };
    let NodeKind::Map(pairs) = &node.kind else {
        return Vec::new();
    };
    let layer = format!("vars_files ({})", path.display());
    pairs
        .iter()
        .filter_map(|(k, v)| {
            let value = v.to_value().ok()?;
            let at = Some(k.span.clone());
            let layer = layer.clone();
            Some((k.key_text(), VarSource { layer, at, value }))
        })
        .collect()
}
