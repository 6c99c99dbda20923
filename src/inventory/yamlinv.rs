//! The YAML inventory format, as ansible-core's `yaml` plugin reads it:
//! top-level keys are groups (usually just `all`); a group is a mapping (or
//! null) with `hosts`, `vars` and `children`; hosts are keys (ranges and
//! `:port` allowed) whose values are their vars or null; children are groups
//! again. A section given as a single string (`hosts: web1`) names one entry.
//!
//! Where Ansible only warns (an unknown key in a group, a group that is not a
//! mapping), hoist reports an error: those are always mistakes.

use minijinja::Value;

use crate::error::Diagnostic;
use crate::yaml::{Node, NodeKind};

use super::addr::expand_hostpattern;
use super::{Inventory, SourceCtx};

const SECTIONS: [&str; 3] = ["hosts", "vars", "children"];

/// Parses a YAML inventory document (a non-empty mapping) into `inv`.
pub(super) fn parse(
    inv: &mut Inventory,
    root: &Node,
    ctx: &SourceCtx,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(plugin) = root.get("plugin")
        && !plugin.is_null()
    {
        diags.push(
            Diagnostic::at(
                &plugin.span,
                format!(
                    "this is an inventory plugin configuration (`plugin: {}`); hoist reads only static INI and YAML inventories",
                    plugin.key_text()
                ),
            )
            .with_help("export it to a static file, e.g. `ansible-inventory -i FILE --list -y > inventory.yml`"),
        );
        return;
    }
    let Some(pairs) = root.as_map() else {
        return;
    };
    for (key, data) in pairs {
        parse_group(inv, key, data, ctx, diags);
    }
}

fn type_desc(node: &Node) -> &'static str {
    match node.kind {
        NodeKind::Seq(_) => "a list",
        NodeKind::Str(_) => "a string",
        NodeKind::Int(_) | NodeKind::Float(_) => "a number",
        NodeKind::Bool(_) => "a boolean",
        NodeKind::Null => "nothing",
        NodeKind::Map(_) => "a mapping",
    }
}

/// A group: adds it, its vars, hosts and children. Returns its name.
fn parse_group(
    inv: &mut Inventory,
    key: &Node,
    data: &Node,
    ctx: &SourceCtx,
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    let Some(name) = key.as_str().filter(|s| !s.is_empty()) else {
        diags.push(Diagnostic::at(
            &key.span,
            format!(
                "group names must be non-empty strings, found `{}`",
                key.key_text()
            ),
        ));
        return None;
    };
    let name = name.to_string();
    let pairs: &[(Node, Node)] = match &data.kind {
        NodeKind::Map(p) => p,
        NodeKind::Null => &[],
        _ => {
            let mut d = Diagnostic::at(
                &data.span,
                format!(
                    "group `{name}` must be a mapping with `hosts`, `vars` or `children`, found {}",
                    type_desc(data)
                ),
            );
            if matches!(data.kind, NodeKind::Seq(_)) {
                d = d.with_help(format!("list hosts as keys under `hosts:`:\n  {name}:\n    hosts:\n      host1:\n      host2:"));
            }
            diags.push(d);
            return None;
        }
    };
    inv.add_group(&name);

    for (k, v) in pairs {
        let Some(section) = k.as_str().filter(|s| SECTIONS.contains(s)) else {
            let key_name = k.key_text();
            let d = Diagnostic::at(
                &k.span,
                format!("unknown key `{key_name}` in group `{name}`: only `hosts`, `vars` and `children` are valid"),
            )
            .suggest(&key_name, SECTIONS);
            let d = if d.help.is_none() {
                d.with_help("a group's hosts go under `hosts:`, its variables under `vars:`, its subgroups under `children:`")
            } else {
                d
            };
            diags.push(d);
            continue;
        };
        // `hosts: web1` means `hosts: {web1: null}`.
        let entries: Vec<(&Node, Option<&Node>)> = match &v.kind {
            NodeKind::Null => continue,
            NodeKind::Str(_) => vec![(v, None)],
            NodeKind::Map(p) => p.iter().map(|(a, b)| (a, Some(b))).collect(),
            _ => {
                let mut d = Diagnostic::at(
                    &v.span,
                    format!(
                        "Invalid \"{section}\" entry for \"{name}\" group, requires a dictionary, found {} instead",
                        type_desc(v)
                    ),
                );
                if section != "vars" && matches!(v.kind, NodeKind::Seq(_)) {
                    d = d.with_help(format!(
                        "write each entry as a key ending in `:`, not as a list item:\n  {section}:\n    name1:\n    name2:"
                    ));
                }
                diags.push(d);
                continue;
            }
        };
        match section {
            "vars" => {
                for (vk, vv) in entries {
                    let value = match vv.map(Node::to_value).transpose() {
                        Ok(v) => v.unwrap_or_else(|| Value::from(())),
                        Err(e) => {
                            diags.push(e);
                            continue;
                        }
                    };
                    let at = Some(vk.span.clone());
                    if let Err(e) = inv.set_group_var(&name, vk.key_text(), value, at) {
                        diags.push(Diagnostic::at(vv.map_or(&vk.span, |n| &n.span), e));
                    }
                }
            }
            "children" => {
                for (ck, cv) in entries {
                    let null = Node {
                        span: ck.span.clone(),
                        tag: None,
                        kind: NodeKind::Null,
                    };
                    if let Some(child) = parse_group(inv, ck, cv.unwrap_or(&null), ctx, diags)
                        && let Err(e) = inv.add_child(&name, &child)
                    {
                        diags.push(Diagnostic::at(&ck.span, e));
                    }
                }
            }
            _ => {
                for (hk, hv) in entries {
                    parse_host(inv, &name, hk, hv, ctx, diags);
                }
            }
        }
    }
    Some(name)
}

fn parse_host(
    inv: &mut Inventory,
    group: &str,
    key: &Node,
    value: Option<&Node>,
    ctx: &SourceCtx,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(pattern) = key.as_str() else {
        diags.push(Diagnostic::at(
            &key.span,
            format!(
                "Host pattern {} must be a string. Enclose integers/floats in quotation marks.",
                key.key_text()
            ),
        ));
        return;
    };
    let (names, port) = match expand_hostpattern(pattern) {
        Ok(v) => v,
        Err(e) => {
            diags.push(Diagnostic::at(
                &key.span,
                format!("invalid host pattern '{pattern}': {e}"),
            ));
            return;
        }
    };
    let mut vars = Vec::new();
    match value.map(|v| (&v.kind, v)) {
        None | Some((NodeKind::Null, _)) => {}
        Some((NodeKind::Map(pairs), _)) => {
            for (vk, vv) in pairs {
                match vv.to_value() {
                    Ok(val) => vars.push((vk.key_text(), val, vk.span.clone())),
                    Err(e) => diags.push(e),
                }
            }
        }
        Some((_, v)) => {
            diags.push(
                Diagnostic::at(
                    &v.span,
                    format!(
                        "the variables of host `{pattern}` must be a mapping, found {}",
                        type_desc(v)
                    ),
                )
                .with_help(format!(
                    "write `{pattern}:` with nothing after it, or its variables indented below it"
                )),
            );
            return;
        }
    }
    for name in names {
        if let Err(e) = inv.add_host(&name, Some(group), port, ctx, Some(&key.span)) {
            diags.push(Diagnostic::at(&key.span, e));
            continue;
        }
        for (k, v, at) in &vars {
            inv.set_host_var(&name, k.clone(), v.clone(), Some(at.clone()));
        }
    }
}
