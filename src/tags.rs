//! Tag selection as ansible-core does it (`Taggable.evaluate_tags`): a
//! task's tags — its own, its blocks', role's and imports', and the play's
//! — are templated with the play's host-less variables, then matched
//! against `--tags` and `--skip-tags`. The executor and the listings
//! (`--list-tasks`, `--list-tags`) share this code.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::Value;
use minijinja::value::ValueKind;

use crate::playbook::{Item, Play, Task};
use crate::template::{Templar, VarScope, is_template, py_str};

/// `--tags` and `--skip-tags`.
#[derive(Clone, Debug, Default)]
pub struct TagFilter {
    only: Vec<String>,
    skip: Vec<String>,
}

impl TagFilter {
    /// The selection of a run: no `--tags` means `all`.
    pub fn new(only: &[String], skip: &[String]) -> TagFilter {
        let only = if only.is_empty() {
            vec!["all".to_owned()]
        } else {
            only.to_vec()
        };
        TagFilter {
            only,
            skip: skip.to_vec(),
        }
    }

    /// The selection of a listing: `--list-tags` without `--tags` or
    /// `--skip-tags` lists `never` tasks' tags too (ansible-playbook then
    /// selects `never,all`).
    pub fn listing(only: &[String], skip: &[String], list_tags: bool) -> TagFilter {
        if list_tags && only.is_empty() && skip.is_empty() {
            return TagFilter::new(&["never".to_owned(), "all".to_owned()], &[]);
        }
        TagFilter::new(only, skip)
    }

    /// Whether a task with these (rendered) tags runs.
    pub fn selects(&self, tags: &[String]) -> bool {
        let untagged = tags.iter().all(|t| t == "untagged");
        let has = |t: &str| tags.iter().any(|x| x == t) || (untagged && t == "untagged");
        let only = |t: &str| self.only.iter().any(|x| x == t);
        let skip = |t: &str| self.skip.iter().any(|x| x == t);
        let run = has("always")
            || (only("all") && !has("never"))
            || self.only.iter().any(|t| has(t))
            || (only("tagged") && !untagged && !has("never"));
        if !run || self.skip.is_empty() {
            return run;
        }
        if skip("all") {
            return has("always") && !skip("always");
        }
        !(self.skip.iter().any(|t| has(t)) || (skip("tagged") && !untagged))
    }
}

/// A play's variables without a host, as ansible-core templates play
/// keywords (`strategy`, `hosts`, `serial`) and tags with: the exported
/// roles' defaults, play vars (with vars_prompt answers), vars_files (an entry whose name needs an
/// undefined variable is left out), the exported roles' vars, extra vars
/// and the host-less magic variables.
pub fn play_vars(
    play: &Play,
    playbook_dir: &Path,
    prompted: &IndexMap<String, Value>,
    extra_vars: &IndexMap<String, Value>,
    magic: &[(String, Value)],
    templar: &Arc<Templar>,
) -> IndexMap<String, Value> {
    let mut vars: IndexMap<String, Value> = IndexMap::new();
    for r in &play.exported_roles {
        vars.extend(r.defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    vars.extend(play.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars.extend(prompted.iter().map(|(k, v)| (k.clone(), v.clone())));
    for (candidates, _) in &play.vars_files {
        let mut scope_vars = vars.clone();
        scope_vars.extend(extra_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        scope_vars.extend(magic.iter().cloned());
        let scope = VarScope::new(templar.clone(), scope_vars);
        for c in candidates {
            let Ok(name) = scope.render(c) else {
                break;
            };
            let path = playbook_dir.join(py_str(&name));
            if let Some(loaded) = vars_file(&path) {
                vars.extend(loaded);
                break;
            }
        }
    }
    for r in &play.exported_roles {
        vars.extend(r.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    vars.extend(extra_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars.extend(magic.iter().cloned());
    vars
}

/// A vars file's variables, or None when it cannot be read as a mapping.
fn vars_file(path: &Path) -> Option<IndexMap<String, Value>> {
    if !path.is_file() {
        return None;
    }
    let node = crate::yaml::load_file(path).ok()?;
    if node.is_null() {
        return Some(IndexMap::new());
    }
    let v = node.to_value().ok()?;
    if v.kind() != ValueKind::Map {
        return None;
    }
    let mut out = IndexMap::new();
    for k in v.try_iter().ok()? {
        let val = v.get_item(&k).unwrap_or_default();
        out.insert(py_str(&k), val);
    }
    Some(out)
}

/// The magic variables a play has without a host.
pub fn play_magic(
    play: &Play,
    playbook_dir: &Path,
    groups: Value,
    only: &[String],
    skip: &[String],
    check: bool,
    diff: bool,
) -> Vec<(String, Value)> {
    let run_tags = if only.is_empty() {
        vec!["all".to_owned()]
    } else {
        only.to_vec()
    };
    vec![
        (
            "playbook_dir".to_owned(),
            Value::from(playbook_dir.display().to_string()),
        ),
        (
            "ansible_play_name".to_owned(),
            Value::from(play.name.as_str()),
        ),
        ("groups".to_owned(), groups),
        ("ansible_run_tags".to_owned(), Value::from(run_tags)),
        ("ansible_skip_tags".to_owned(), Value::from(skip.to_vec())),
        ("ansible_check_mode".to_owned(), Value::from(check)),
        ("ansible_diff_mode".to_owned(), Value::from(diff)),
    ]
}

/// The tags of one template, flattened one level as ansible-core does
/// (`tags: "{{ list_var }}"` gives the list's items).
fn render_tag(scope: &Arc<VarScope>, tag: &str) -> Result<Vec<String>, String> {
    let v = scope.render(tag)?;
    Ok(match v.kind() {
        ValueKind::Seq => v
            .try_iter()
            .map(|it| it.map(|t| py_str(&t)).collect())
            .unwrap_or_default(),
        _ => vec![py_str(&v)],
    })
}

/// A play's templated tags, rendered when the play starts.
#[derive(Debug, Default)]
pub struct TagValues {
    scope: Option<Arc<VarScope>>,
    rendered: HashMap<String, Vec<String>>,
}

impl TagValues {
    /// Renders the templated tags of the play and of every task the play
    /// loads statically with the play's host-less variables; the first tag
    /// that cannot be rendered is the error (ansible-core stops the run).
    pub fn new(play: &Play, scope: Arc<VarScope>) -> Result<TagValues, String> {
        let mut out = TagValues {
            scope: Some(scope.clone()),
            rendered: HashMap::new(),
        };
        let mut render = |tags: &[String], at: &str| -> Result<(), String> {
            for t in tags.iter().filter(|t| is_template(t)) {
                if !out.rendered.contains_key(t) {
                    let r = render_tag(&scope, t)
                        .map_err(|e| format!("{at}: the tags cannot be templated: {e}"))?;
                    out.rendered.insert(t.clone(), r);
                }
            }
            Ok(())
        };
        let play_at = play
            .span
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default();
        render(&play.tags, &play_at)?;
        for t in static_tasks(play) {
            render(&t.tags, &t.span.to_string())?;
        }
        Ok(out)
    }

    /// A task's tags with the play's, rendered and without repeats. A
    /// template the play start did not see (a task of an include) is
    /// rendered now, with the task's variables on top of the play's;
    /// one that cannot be rendered stays as written.
    pub fn of(&self, task: &Task, play: &Play) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in task.tags.iter().chain(&play.tags) {
            let rendered = if !is_template(t) {
                vec![t.clone()]
            } else if let Some(r) = self.rendered.get(t) {
                r.clone()
            } else if let Some(scope) = &self.scope {
                let scope = scope.with_extra(task.vars.clone());
                render_tag(&scope, t).unwrap_or_else(|_| vec![t.clone()])
            } else {
                vec![t.clone()]
            };
            for r in rendered {
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
        out
    }

    /// The play's own tags, rendered.
    pub fn play_tags(&self, play: &Play) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &play.tags {
            let rendered = match self.rendered.get(t) {
                Some(r) => r.clone(),
                None => vec![t.clone()],
            };
            for r in rendered {
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
        out
    }
}

/// The tasks a play loads statically: its sections and their blocks,
/// imports and roles (not what `include_role` brings, which ansible-core
/// loads when the include runs).
fn static_tasks(play: &Play) -> Vec<&Task> {
    fn walk<'a>(items: &'a [Item], out: &mut Vec<&'a Task>) {
        for item in items {
            match item {
                Item::Task(t) | Item::Include(t) | Item::IncludeRole(t, _) => out.push(t),
                Item::Block(b) => {
                    walk(&b.block, out);
                    walk(&b.rescue, out);
                    walk(&b.always, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    for items in play.task_lists() {
        walk(items, &mut out);
    }
    out
}

/// What `--list-tasks` shows of a play's tasks, as ansible-playbook does:
/// the tasks `filter` selects, in order, walking the `block` part of blocks
/// only (not `rescue` or `always`) and not into includes, and listing a
/// role's tasks at each use (even those the run skips); each with its
/// name (`role : name`) or, unnamed, its action as written, and its tags
/// (the play's as written, and the rendered ones) sorted.
pub fn listed_tasks(
    play: &Play,
    values: &TagValues,
    filter: &TagFilter,
) -> Vec<(String, Vec<String>)> {
    fn walk(
        items: &[Item],
        play: &Play,
        values: &TagValues,
        filter: &TagFilter,
        out: &mut Vec<(String, Vec<String>)>,
    ) {
        for item in items {
            let task = match item {
                Item::Task(t) | Item::Include(t) | Item::IncludeRole(t, _) => t,
                Item::Block(b) => {
                    walk(&b.block, play, values, filter, out);
                    continue;
                }
            };
            let tags = values.of(task, play);
            if !filter.selects(&tags) {
                continue;
            }
            let name = match &task.name {
                Some(_) => task.display_name(),
                None => task.action.clone(),
            };
            let mut shown = tags;
            for t in &play.tags {
                if !shown.contains(t) {
                    shown.push(t.clone());
                }
            }
            shown.sort();
            out.push((name, shown));
        }
    }
    let mut out = Vec::new();
    for items in play.task_lists() {
        walk(items, play, values, filter, &mut out);
    }
    out
}
