//! `group_vars/` and `host_vars/` directories, as ansible-core's
//! `host_group_vars` plugin reads them: for an entity `NAME`, the first of
//! `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` that exists; when that is a
//! directory, every file in it (recursively, sorted; hidden files, backups
//! `~` and other extensions skipped), merged in order. Each file must hold a
//! mapping; an empty one is ignored.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use minijinja::Value;

use crate::error::{Diagnostic, Span};
use crate::yaml::{Node, NodeKind};

use super::{Defs, extension, set_var};

const VARS_EXTS: [&str; 3] = [".yml", ".yaml", ".json"];

/// The variables found in one directory's `group_vars/` and `host_vars/`.
#[derive(Clone, Debug, Default)]
pub struct VarsDir {
    pub dir: PathBuf,
    pub groups: HashMap<String, IndexMap<String, Value>>,
    pub hosts: HashMap<String, IndexMap<String, Value>>,
    /// Where each group's / host's variables are set, file by file.
    pub group_defs: HashMap<String, Defs>,
    pub host_defs: HashMap<String, Defs>,
}

/// Loads the vars of the given groups and hosts found under `dir`.
pub fn load_dir(
    dir: &Path,
    groups: &[String],
    hosts: &[String],
    diags: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> VarsDir {
    let mut out = VarsDir {
        dir: dir.to_path_buf(),
        ..VarsDir::default()
    };
    for (sub, names, target, target_defs) in [
        ("group_vars", groups, &mut out.groups, &mut out.group_defs),
        ("host_vars", hosts, &mut out.hosts, &mut out.host_defs),
    ] {
        let base = dir.join(sub);
        if !base.exists() {
            continue;
        }
        if !base.is_dir() {
            let shown = base.display().to_string();
            warnings.push(Diagnostic::new(
                Some(Span::file_only(&shown)),
                format!("Found {sub} that is not a directory, skipping: {shown}"),
            ));
            continue;
        }
        let entries: HashSet<OsString> = match std::fs::read_dir(&base) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect(),
            Err(e) => {
                let shown = base.display().to_string();
                diags.push(Diagnostic::new(
                    Some(Span::file_only(&shown)),
                    format!("cannot read {shown}: {e}"),
                ));
                continue;
            }
        };
        for name in names {
            // ansible-core skips "chroot"-style names such as `/srv/jail`.
            if name.starts_with('/') {
                continue;
            }
            let files = find_vars_files(&base, name, &entries);
            let mut vars: IndexMap<String, Value> = IndexMap::new();
            let mut defs = Defs::new();
            let mut found = false;
            for f in files {
                if let Some(data) = load_vars_file(&f, diags) {
                    found = true;
                    for (k, value, at) in data {
                        set_var(&mut vars, &mut defs, k, value, Some(at));
                    }
                }
            }
            if found {
                target.insert(name.clone(), vars);
                target_defs.insert(name.clone(), defs);
            }
        }
    }
    out
}

fn find_vars_files(base: &Path, name: &str, entries: &HashSet<OsString>) -> Vec<PathBuf> {
    for ext in ["", VARS_EXTS[0], VARS_EXTS[1], VARS_EXTS[2]] {
        let candidate = format!("{name}{ext}");
        if !entries.contains(&OsString::from(&candidate)) {
            continue;
        }
        let path = base.join(&candidate);
        if path.is_dir() {
            return dir_files(&path);
        }
        if path.exists() {
            return vec![path];
        }
    }
    Vec::new()
}

fn dir_files(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<OsString> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect(),
        Err(_) => return Vec::new(),
    };
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let s = n.to_string_lossy();
        if s.starts_with('.') || s.ends_with('~') {
            continue;
        }
        let ext = extension(&s);
        let full = dir.join(&n);
        if full.is_dir() && ext.is_empty() {
            out.extend(dir_files(&full));
        } else if full.is_file() && (ext.is_empty() || VARS_EXTS.contains(&ext)) {
            out.push(full);
        }
    }
    out
}

/// The variables of one file, each with the place of its key; `None` when
/// the file is empty or broken (broken ones are reported).
fn load_vars_file(path: &Path, diags: &mut Vec<Diagnostic>) -> Option<Vec<(String, Value, Span)>> {
    let node = match crate::yaml::load_file(path) {
        Ok(n) => n,
        Err(e) => {
            diags.push(e);
            return None;
        }
    };
    match &node.kind {
        NodeKind::Map(pairs) => {
            let mut out = Vec::new();
            for (k, v) in pairs {
                match v.to_value() {
                    Ok(val) => {
                        out.push((k.key_text(), val, k.span.clone()));
                    }
                    Err(e) => diags.push(e),
                }
            }
            Some(out)
        }
        // Python skips falsy data: null, an empty list or string.
        NodeKind::Null => None,
        NodeKind::Seq(items) if items.is_empty() => None,
        NodeKind::Str(s) if s.is_empty() => None,
        _ => {
            diags.push(not_a_mapping(path, &node));
            None
        }
    }
}

fn not_a_mapping(path: &Path, node: &Node) -> Diagnostic {
    Diagnostic::at(
        &node.span,
        format!(
            "{} must contain a mapping of variable names to values, found a {}",
            path.display(),
            node.type_name()
        ),
    )
    .with_help("write variables as `name: value` lines")
}
