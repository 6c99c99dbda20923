//! `include_vars`: load variables from YAML/JSON files on the controller.
//! The executor does the loading (it knows the search paths and sets the
//! variables); this file declares the arguments.

use async_trait::async_trait;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};

pub struct IncludeVars;

static SPEC: ModuleSpec = ModuleSpec {
    name: "include_vars",
    params: &[
        Param::new("file", ParamType::Str).aliases(&["_raw_params"]),
        Param::new("dir", ParamType::Str),
        Param::new("name", ParamType::Str),
        Param::new("depth", ParamType::Int),
        Param::new("files_matching", ParamType::Str),
        Param::new("ignore_files", ParamType::List),
        Param::new("extensions", ParamType::List),
        Param::new("ignore_unknown_extensions", ParamType::Bool),
        Param::new("hash_behaviour", ParamType::Str).choices(&["replace", "merge"]),
    ],
    free_form: FreeForm::Whole("file"),
    mutually_exclusive: &[&["file", "dir"]],
    required_one_of: &[&["file", "dir"]],
    check_mode: true,
    controller_only: true,
    summary: "Load variables from YAML or JSON files, or a directory of them, on the controller.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "`hash_behaviour: merge` is accepted and ignored: loaded variables replace existing \
         ones of the same name.",
    ],
};

#[async_trait]
impl Module for IncludeVars {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, _args: &Args, _ctx: &ModuleCtx<'_>) -> ModuleResult {
        Ok(Outcome::changed(false))
    }
}

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use minijinja::Value;
use minijinja::value::ValueKind;

use crate::template::py_str;

/// The variables of a vars file: a mapping (an empty file is none).
pub fn load_file(path: &Path) -> Result<IndexMap<String, Value>, String> {
    let node = crate::yaml::load_file(path).map_err(|d| d.to_string())?;
    if node.is_null() {
        return Ok(IndexMap::new());
    }
    let v = node.to_value().map_err(|d| d.to_string())?;
    if v.kind() != ValueKind::Map {
        return Err(format!(
            "{} must be stored as a dictionary/hash",
            path.display()
        ));
    }
    let mut out = IndexMap::new();
    if let Ok(keys) = v.try_iter() {
        for k in keys {
            let val = v.get_item(&k).unwrap_or_default();
            out.insert(py_str(&k), val);
        }
    }
    Ok(out)
}

/// What `include_vars: {dir: …}` loaded: the variables (of the
/// directories loaded whole, when it failed), the files read, and why it
/// failed.
#[derive(Debug, Default)]
pub struct DirLoad {
    pub vars: IndexMap<String, Value>,
    pub files: Vec<String>,
    pub error: Option<String>,
}

/// `include_vars` with `dir`, as ansible-core's action does it: the
/// directories walked in name order (files sorted in each) down to `depth`
/// (0: all); a file is skipped when `files_matching` does not find its name
/// or an `ignore_files` pattern matches the end of its name; any other file
/// must have one of the `extensions` (yaml, yml, json), else the task fails
/// ("… does not have a valid extension: …") unless
/// `ignore_unknown_extensions` skips it. An error in the options is the
/// `Err`.
pub fn load_dir(dir: &Path, args: &IndexMap<String, Value>) -> Result<DirLoad, String> {
    let depth = match args.get("depth") {
        None => 0,
        Some(v) if v.is_none() => 0,
        Some(v) => i64::try_from(v.clone())
            .ok()
            .or_else(|| py_str(v).trim().parse().ok())
            .ok_or_else(|| format!("depth: '{}' is not a whole number", py_str(v)))?,
    };
    let matching = match args.get("files_matching").filter(|v| !v.is_none()) {
        Some(p) => Some(
            crate::pyre::compile(&py_str(p), false, false, crate::pyre::Anchor::Search)
                .map_err(|e| format!("files_matching: {e}"))?,
        ),
        None => None,
    };
    // A string of patterns is split at whitespace.
    let ignore_patterns: Vec<String> = match args.get("ignore_files") {
        Some(v) if v.kind() == ValueKind::String => {
            py_str(v).split_whitespace().map(str::to_owned).collect()
        }
        Some(v) if v.kind() == ValueKind::Seq => v
            .try_iter()
            .map(|it| it.map(|p| py_str(&p)).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut ignore = Vec::new();
    for p in &ignore_patterns {
        let re = crate::pyre::compile(&format!("{p}$"), false, false, crate::pyre::Anchor::Search)
            .map_err(|_| format!("Invalid regular expression: {p}"))?;
        ignore.push(re);
    }
    // ansible-core turns a string into its characters (`list(str)`).
    let extensions: Vec<String> = match args.get("extensions") {
        None => vec!["yaml".into(), "yml".into(), "json".into()],
        Some(v) if v.kind() == ValueKind::String => py_str(v).chars().map(String::from).collect(),
        Some(v) if v.kind() == ValueKind::Seq => v
            .try_iter()
            .map(|it| it.map(|e| py_str(&e)).collect())
            .unwrap_or_default(),
        Some(_) => {
            return Err("Invalid type for \"extensions\" option, it must be a list".into());
        }
    };
    let ignore_unknown = args
        .get("ignore_unknown_extensions")
        .and_then(crate::modules::args::to_bool)
        .unwrap_or(false);

    let mut out = DirLoad::default();
    for (root, names) in walk(dir, depth) {
        let mut dir_vars = IndexMap::new();
        for name in names {
            if matching.as_ref().is_some_and(|m| !m.is_match(&name)) {
                continue;
            }
            let path = root.join(&name);
            if !path.exists() || ignore.iter().any(|re| re.is_match(&name)) {
                continue;
            }
            let valid = extensions.iter().any(|e| *e == python_extension(&name));
            if !valid {
                if ignore_unknown {
                    continue;
                }
                out.error = Some(format!(
                    "{} does not have a valid extension: {}",
                    path.display(),
                    extensions.join(", ")
                ));
                return Ok(out);
            }
            match load_file(&path) {
                Ok(vars) => {
                    out.files.push(path.display().to_string());
                    dir_vars.extend(vars);
                }
                Err(e) => {
                    out.error = Some(e);
                    return Ok(out);
                }
            }
        }
        out.vars.extend(dir_vars);
    }
    Ok(out)
}

/// The directories under `dir` (itself first) in name order, each with its
/// file names sorted, down to `depth` levels (0: all), links followed.
fn walk(dir: &Path, depth: i64) -> Vec<(PathBuf, Vec<String>)> {
    let mut dirs: Vec<(PathBuf, Vec<String>)> = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 1i64)];
    let mut seen: Vec<PathBuf> = Vec::new();
    while let Some((d, level)) = stack.pop() {
        // A link back up the tree would walk forever.
        if let Ok(real) = std::fs::canonicalize(&d) {
            if seen.contains(&real) {
                continue;
            }
            seen.push(real);
        }
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut files = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                if depth == 0 || level < depth {
                    stack.push((path, level + 1));
                }
            } else {
                files.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        files.sort();
        dirs.push((d, files));
    }
    // As ansible-core sorts os.walk's output: by the directory's path.
    dirs.sort_by(|a, b| a.0.to_string_lossy().cmp(&b.0.to_string_lossy()));
    dirs
}

/// The extension as Python's `os.path.splitext` gives it (without the
/// dot): leading dots do not start one, so `.hidden` has none.
fn python_extension(name: &str) -> &str {
    let rest = name.trim_start_matches('.');
    match rest.rfind('.') {
        Some(i) => &rest[i + 1..],
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::python_extension;

    #[test]
    fn extensions_as_python_splitext() {
        assert_eq!(python_extension("a.yml"), "yml");
        assert_eq!(python_extension("a.tar.gz"), "gz");
        assert_eq!(python_extension(".hidden"), "");
        assert_eq!(python_extension(".hidden.yml"), "yml");
        assert_eq!(python_extension("README"), "");
        assert_eq!(python_extension("a."), "");
    }
}
