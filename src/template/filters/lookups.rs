//! The `lookup()` / `query()` / `q()` template functions and the lookup
//! plugins hoist supports: `env`, `file`, `vars`, `items`, `list`, `dict`,
//! `first_found`, `pipe`, `lines`, `fileglob`, `sequence`, `indexed_items`,
//! `together`, `nested`, `subelements`, `random_choice`, `varnames` and
//! `template`.
//!
//! Results are marked unsafe (safe strings in minijinja terms), as Ansible
//! does, so file contents or command output are never templated again.

use std::path::{Path, PathBuf};

use minijinja::value::{Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State};

use super::pyfmt::{PercentArgs, percent_format};
use super::strings::{basename, dirname, expanduser, py_int_parse};
use super::{
    R, ctx_var, is_list, is_map, list_items, map_get, map_pairs, py_str, split_args, wrap_unsafe,
};
use crate::pyre::{self, Anchor};

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_function("lookup", fn_lookup);
    env.add_function("query", fn_query);
    env.add_function("q", fn_query);
    // Ansible's `undef(hint)`: an undefined value. As a bare name it is a
    // function, so `undef is defined` is true, as in ansible-core.
    env.add_function("undef", |_hint: minijinja::value::Rest<Value>| {
        Value::UNDEFINED
    });
    env.add_filter("fileglob", f_fileglob);
}

fn lookup_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn fn_lookup(state: &State, name: String, args: Rest<ValueOrKwargs>) -> R {
    run(state, &name, args.into_values(), false)
}

fn fn_query(state: &State, name: String, args: Rest<ValueOrKwargs>) -> R {
    run(state, &name, args.into_values(), true)
}

fn run(state: &State, name: &str, args: Vec<Value>, mut wantlist: bool) -> R {
    let (terms, kw) = split_args(args)?;
    for t in &terms {
        super::defined(t)?;
    }
    let mut errors = "strict".to_string();
    let mut allow_unsafe = false;
    let mut opts = Vec::new();
    for (k, v) in kw {
        match k.as_str() {
            "wantlist" => wantlist = wantlist || v.is_true(),
            "errors" => errors = py_str(&v),
            "allow_unsafe" => allow_unsafe = v.is_true(),
            _ => opts.push((k, v)),
        }
    }
    if !matches!(errors.as_str(), "strict" | "warn" | "ignore") {
        return Err(lookup_err(
            "Invalid setting for 'errors' option, valid options are 'strict', 'warn' and 'ignore'",
        ));
    }
    let name = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    let ctx = Lookup { state, opts };
    let ran = match ctx.dispatch(name, terms) {
        Ok(r) => r,
        Err(e) => {
            if errors == "strict" {
                return Err(e);
            }
            return Ok(if wantlist {
                Value::from(Vec::<Value>::new())
            } else {
                Value::from(())
            });
        }
    };
    // A lookup that reads a secret (a `--secret-env` variable, a file of
    // secrets) taints the render; a generated password is one.
    for v in &ran {
        if name == "password" {
            crate::secrets::register_value(v);
        }
        crate::secrets::note(v);
    }
    let ran: Vec<Value> = if allow_unsafe {
        ran
    } else {
        ran.iter().map(wrap_unsafe).collect()
    };
    if wantlist || ran.is_empty() {
        return Ok(Value::from(ran));
    }
    if ran.iter().all(|v| v.kind() == ValueKind::String) {
        let joined = ran
            .iter()
            .map(|v| v.as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(",");
        return Ok(if allow_unsafe {
            Value::from(joined)
        } else {
            Value::from_safe_string(joined)
        });
    }
    if ran.len() == 1 {
        return Ok(ran.into_iter().next().unwrap_or(Value::from(())));
    }
    Ok(Value::from(ran))
}

struct Lookup<'a, 'b, 'c> {
    state: &'a State<'b, 'c>,
    opts: Vec<(String, Value)>,
}

impl Lookup<'_, '_, '_> {
    fn opt(&self, name: &str) -> Option<&Value> {
        self.opts.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    fn check_opts(&self, plugin: &str, allowed: &[&str]) -> Result<(), Error> {
        for (k, _) in &self.opts {
            if !allowed.contains(&k.as_str()) {
                return Err(lookup_err(format!(
                    "Unrecognized option '{k}' for the {plugin} lookup"
                )));
            }
        }
        Ok(())
    }

    fn dispatch(&self, name: &str, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        match name {
            "env" => self.env(terms),
            "file" => self.file(terms),
            "vars" => self.vars(terms),
            "items" => Ok(flatten_one(terms)),
            "list" => Ok(terms),
            "dict" => self.dict(terms),
            "first_found" => self.first_found(terms),
            "pipe" => self.pipe(terms, false),
            "lines" => self.pipe(terms, true),
            "fileglob" => self.fileglob(terms),
            "sequence" => self.sequence(terms),
            "indexed_items" => Ok(flatten_one(terms)
                .into_iter()
                .enumerate()
                .map(|(i, v)| Value::from(minijinja::value::Tuple::from(vec![Value::from(i), v])))
                .collect()),
            "together" => self.together(terms),
            "nested" => self.nested(terms),
            "subelements" => self.subelements(terms),
            "random_choice" => {
                if terms.is_empty() {
                    return Ok(terms);
                }
                let mut rng = super::pyrandom::PyRandom::unseeded();
                let idx = rng.randbelow(terms.len() as u128) as usize;
                Ok(vec![terms[idx].clone()])
            }
            "varnames" => self.varnames(terms),
            "template" => self.template(terms),
            "password" => self.password(terms),
            "inventory_hostnames" => self.inventory_hostnames(terms),
            "ini" => self.ini(terms),
            other => Err(lookup_err(format!(
                "lookup plugin ({other}) not found or not supported by hoist"
            ))),
        }
    }

    // -- search paths -----------------------------------------------------

    fn search_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Some(sp) = ctx_var(self.state, "ansible_search_path")
            && is_list(&sp)
        {
            dirs.extend(list_items(&sp).iter().map(|p| PathBuf::from(py_str(p))));
        }
        if dirs.is_empty() {
            for var in ["role_path", "playbook_dir"] {
                if let Some(v) = ctx_var(self.state, var)
                    && v.kind() == ValueKind::String
                {
                    dirs.push(PathBuf::from(py_str(&v)));
                }
            }
        }
        if dirs.is_empty()
            && let Ok(cwd) = std::env::current_dir()
        {
            dirs.push(cwd);
        }
        dirs
    }

    /// Ansible's `find_file_in_search_path`: `<dir>/<subdir>/<name>` then
    /// `<dir>/<name>` for each search directory.
    fn find_file(&self, subdir: &str, name: &str) -> Option<PathBuf> {
        let name = expanduser(name);
        let p = Path::new(&name);
        if p.is_absolute() {
            return p.exists().then(|| p.to_path_buf());
        }
        for d in self.search_dirs() {
            for cand in [d.join(subdir).join(&name), d.join(&name)] {
                if cand.exists() {
                    return Some(cand);
                }
            }
        }
        None
    }

    fn base_dir(&self) -> PathBuf {
        ctx_var(self.state, "playbook_dir")
            .map(|v| PathBuf::from(py_str(&v)))
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    // -- plugins ----------------------------------------------------------

    fn env(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        self.check_opts("env", &["default"])?;
        let default = self
            .opt("default")
            .cloned()
            .unwrap_or_else(|| Value::from(""));
        Ok(terms
            .iter()
            .map(|t| {
                let name = py_str(t);
                let name = name
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                match std::env::var(&name) {
                    Ok(v) => Value::from(v),
                    Err(_) => default.clone(),
                }
            })
            .collect())
    }

    fn file(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        self.check_opts("file", &["rstrip", "lstrip"])?;
        let rstrip = self.opt("rstrip").is_none_or(|v| v.is_true());
        let lstrip = self.opt("lstrip").is_some_and(|v| v.is_true());
        let mut out = Vec::new();
        for t in terms {
            let name = py_str(&t);
            let path = self
                .find_file("files", &name)
                .ok_or_else(|| lookup_err(format!("could not locate file in lookup: {name}")))?;
            let bytes = std::fs::read(&path)
                .map_err(|e| lookup_err(format!("could not read file {}: {e}", path.display())))?;
            let mut content = String::from_utf8_lossy(&bytes).into_owned();
            if rstrip {
                content = content.trim_end().to_string();
            }
            if lstrip {
                content = content.trim_start().to_string();
            }
            out.push(Value::from(content));
        }
        Ok(out)
    }

    fn vars(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        self.check_opts("vars", &["default"])?;
        let mut out = Vec::new();
        for t in terms {
            let name = py_str(&t);
            let found = ctx_var(self.state, &name).or_else(|| {
                let host = ctx_var(self.state, "inventory_hostname")?;
                let hv = ctx_var(self.state, "hostvars")?;
                let h = hv.get_item(&host).ok()?;
                h.get_item(&Value::from(name.as_str()))
                    .ok()
                    .filter(|v| !v.is_undefined())
            });
            match found {
                Some(v) => out.push(v),
                None => match self.opt("default") {
                    Some(d) => out.push(d.clone()),
                    None => {
                        return Err(Error::new(
                            ErrorKind::UndefinedError,
                            format!("No variable found with this name: {name}"),
                        ));
                    }
                },
            }
        }
        Ok(out)
    }

    fn dict(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        for t in terms {
            if !is_map(&t) {
                return Err(lookup_err(format!(
                    "the 'dict' lookup plugin expects a dictionary, got '{}' of type <class '{}'>)",
                    py_str(&t),
                    super::pyfmt::ansible_class_path(&t)
                )));
            }
            for (k, v) in map_pairs(&t) {
                out.push(Value::from_pairs(vec![
                    (Value::from("key"), k),
                    (Value::from("value"), v),
                ]));
            }
        }
        Ok(out)
    }

    fn first_found(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        self.check_opts("first_found", &["files", "paths", "skip"])?;
        let mut skip = self.opt("skip").is_some_and(|v| v.is_true());
        let mut candidates: Vec<String> = Vec::new();
        let split = |v: &Value, seps: &[char]| -> Vec<String> {
            let items = if is_list(v) {
                list_items(v)
            } else {
                vec![v.clone()]
            };
            items
                .iter()
                .flat_map(|i| {
                    py_str(i)
                        .split(seps)
                        .map(str::to_string)
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let add = |files: Vec<String>, paths: Vec<String>, out: &mut Vec<String>| {
            if paths.is_empty() {
                out.extend(files);
            } else {
                for p in &paths {
                    for f in &files {
                        out.push(super::strings::path_join(&[p.clone(), f.clone()]));
                    }
                }
            }
        };
        let global_files = self.opt("files").map(|v| split(v, &[',', ';']));
        let global_paths = self
            .opt("paths")
            .map(|v| split(v, &[',', ':', ';']))
            .unwrap_or_default();
        let mut stack: Vec<Value> = terms.into_iter().rev().collect();
        let mut any_term = false;
        while let Some(term) = stack.pop() {
            any_term = true;
            if is_map(&term) {
                let files = map_get(&term, "files")
                    .map(|v| split(&v, &[',', ';']))
                    .unwrap_or_default();
                let paths = map_get(&term, "paths")
                    .map(|v| split(&v, &[',', ':', ';']))
                    .unwrap_or_default();
                if map_get(&term, "skip").is_some_and(|v| v.is_true()) {
                    skip = true;
                }
                add(files, paths, &mut candidates);
            } else if is_list(&term) {
                for item in list_items(&term).into_iter().rev() {
                    stack.push(item);
                }
            } else {
                add(
                    split(&term, &[',', ';']),
                    global_paths.clone(),
                    &mut candidates,
                );
            }
        }
        if !any_term && let Some(files) = global_files {
            add(files, global_paths, &mut candidates);
        }
        for cand in candidates {
            if let Some(p) = self.find_file("files", &cand) {
                return Ok(vec![Value::from(p.to_string_lossy().into_owned())]);
            }
        }
        if skip {
            return Ok(Vec::new());
        }
        Err(lookup_err("No file was found when using first_found."))
    }

    fn pipe(&self, terms: Vec<Value>, lines: bool) -> Result<Vec<Value>, Error> {
        let plugin = if lines { "lines" } else { "pipe" };
        self.check_opts(plugin, &[])?;
        let mut out = Vec::new();
        for t in terms {
            let cmd = py_str(&t);
            let output = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(&cmd)
                .current_dir(self.base_dir())
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| lookup_err(format!("lookup_plugin.{plugin}({cmd}) failed: {e}")))?;
            let code = output.status.code().unwrap_or(-1);
            if code != 0 {
                return Err(lookup_err(format!(
                    "lookup_plugin.{plugin}({cmd}) returned {code}"
                )));
            }
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            if lines {
                out.extend(
                    super::pyfmt::splitlines(&stdout)
                        .into_iter()
                        .map(Value::from),
                );
            } else {
                out.push(Value::from(stdout.trim_end().to_string()));
            }
        }
        Ok(out)
    }

    fn fileglob(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        self.check_opts("fileglob", &[])?;
        let mut out = Vec::new();
        for t in terms {
            let term = py_str(&t);
            let file_part = basename(&term).to_string();
            let dirs: Vec<PathBuf> = if file_part != term {
                let d = dirname(&term);
                match self.find_file("files", &d) {
                    Some(p) => vec![p],
                    None => Vec::new(),
                }
            } else {
                self.search_dirs()
                    .into_iter()
                    .flat_map(|d| [d.join("files"), d])
                    .collect()
            };
            for d in dirs {
                let pattern = format!("{}/{}", d.to_string_lossy(), file_part);
                let found = glob_files(&pattern);
                if !found.is_empty() {
                    out.extend(found.into_iter().map(Value::from));
                    break;
                }
            }
        }
        Ok(out)
    }

    fn sequence(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        for t in terms {
            let term = py_str(&t);
            let mut spec = SequenceSpec::default();
            if !spec.parse_simple_args(&term)? {
                spec.parse_kv_args(&term)?;
            }
            for (k, v) in &self.opts {
                spec.set(k, &py_str(v))?;
            }
            out.extend(spec.generate()?.into_iter().map(Value::from));
        }
        Ok(out)
    }

    fn together(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        if terms.is_empty() {
            return Err(lookup_err(
                "with_together requires at least one element in each list",
            ));
        }
        let lists: Vec<Vec<Value>> = terms.iter().map(list_items).collect();
        let n = lists.iter().map(Vec::len).max().unwrap_or(0);
        Ok((0..n)
            .map(|i| {
                Value::from(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or(Value::from(())))
                        .collect::<Vec<_>>(),
                )
            })
            .collect())
    }

    fn nested(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        if terms.is_empty() {
            return Err(lookup_err(
                "with_nested requires at least one element in the nested list",
            ));
        }
        let mut result: Vec<Vec<Value>> = vec![Vec::new()];
        for t in &terms {
            let items = if is_list(t) {
                list_items(t)
            } else {
                vec![t.clone()]
            };
            let mut next = Vec::new();
            for prefix in &result {
                for item in &items {
                    let mut p = prefix.clone();
                    p.push(item.clone());
                    next.push(p);
                }
            }
            result = next;
        }
        Ok(result.into_iter().map(Value::from).collect())
    }

    /// `subelements`: (item, subitem) pairs for the list under a (dotted)
    /// key of each item, as ansible-core's plugin pairs them: the key is
    /// removed from the item, items (or a whole registered result) marked
    /// `skipped` are left out, and bad terms are refused with its messages.
    fn subelements(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        let terms_err = |msg: &str| {
            lookup_err(format!(
                "subelements lookup expects a list of two or three items,{}{msg}",
                if msg.is_empty() { "" } else { " " }
            ))
        };
        if !(2..=3).contains(&terms.len()) {
            return Err(terms_err(""));
        }
        let (data, key) = (&terms[0], &terms[1]);
        let Some(key) = key.as_str().filter(|_| is_list(data) || is_map(data)) else {
            return Err(terms_err(
                "first a dict or a list, second a string pointing to the subkey",
            ));
        };
        let path: Vec<&str> = key.split('.').collect();
        // Anything but `False` under `skipped` skips, as in Python's
        // `x.get('skipped', False) is not False`.
        let skipped = |v: &Value| {
            map_get(v, "skipped").is_some_and(|s| s.kind() != ValueKind::Bool || s.is_true())
        };
        let elements = if is_map(data) {
            if skipped(data) {
                return Ok(Vec::new());
            }
            map_pairs(data).into_iter().map(|(_, v)| v).collect()
        } else {
            list_items(data)
        };
        let skip_missing = match terms.get(2) {
            None => false,
            Some(flags) if is_map(flags) => map_get(flags, "skip_missing")
                .and_then(|v| crate::modules::args::to_bool(&v))
                .unwrap_or(false),
            Some(flags) => {
                let ty = super::pyfmt::ansible_type_name(flags);
                let known = match flags.kind() {
                    ValueKind::String => flags.as_str().is_some_and(str::is_empty),
                    ValueKind::Seq => list_items(flags)
                        .iter()
                        .all(|f| f.as_str() == Some("skip_missing")),
                    _ => return Err(lookup_err(format!("'{ty}' object is not iterable"))),
                };
                return Err(if known {
                    lookup_err(format!("'{ty}' object has no attribute 'get'"))
                } else {
                    terms_err("the optional third item must be a dict with flags skip_missing")
                });
            }
        };
        let mut out = Vec::new();
        for item in elements {
            if !is_map(&item) {
                return Err(lookup_err(format!(
                    "subelements lookup expects a dictionary, got '{}'",
                    py_str(&item)
                )));
            }
            if skipped(&item) {
                continue;
            }
            // Walk the keys as the plugin does (a key equal to the last
            // one counts as the last), then take the list out of its dict.
            let mut cur = item.clone();
            let mut walked: Vec<&str> = Vec::new();
            let mut taken: Option<(&str, Vec<Value>)> = None;
            let last = path.last().copied().unwrap_or_default();
            for &k in &path {
                let Some(v) = map_get(&cur, k) else {
                    if skip_missing {
                        continue;
                    }
                    return Err(lookup_err(format!(
                        "could not find '{k}' key in iterated item '{}'",
                        py_str(&cur)
                    )));
                };
                if k != last {
                    if !is_map(&v) {
                        if skip_missing {
                            continue;
                        }
                        return Err(lookup_err(format!(
                            "the key {k} should point to a dictionary, got '{}'",
                            py_str(&v)
                        )));
                    }
                    walked.push(k);
                    cur = v;
                } else if v.kind() != ValueKind::Seq {
                    return Err(lookup_err(format!(
                        "the key {k} should point to a list, got '{}'",
                        py_str(&v)
                    )));
                } else {
                    cur = without_key(&cur, k);
                    taken = Some((k, list_items(&v)));
                }
            }
            let Some((_, sublist)) = taken else {
                continue;
            };
            let item = replace_at(&item, &walked, cur);
            for v in sublist {
                out.push(Value::from(vec![item.clone(), v]));
            }
        }
        Ok(out)
    }

    fn varnames(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        let names = self.state.known_variables();
        let mut out = Vec::new();
        for t in terms {
            let re = pyre::compile(&py_str(&t), false, false, Anchor::Search)
                .map_err(super::regex_error)?;
            for n in &names {
                if re.is_match(n) && !out.iter().any(|v: &Value| v.as_str() == Some(n.as_ref())) {
                    out.push(Value::from(n.as_ref()));
                }
            }
        }
        Ok(out)
    }

    /// `password`: a random password, stored in (and read back from) a file
    /// unless the path is `/dev/null`.
    fn password(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        for t in terms {
            let term = py_str(&t);
            let mut parts = term.splitn(2, ' ');
            let path = parts.next().unwrap_or_default().to_string();
            let mut params: Vec<(String, String)> = parts.next().map(parse_kv).unwrap_or_default();
            for (k, v) in &self.opts {
                params.push((k.clone(), py_str(v)));
            }
            let mut length = 20usize;
            let mut chars_spec = vec![
                "ascii_letters".to_string(),
                "digits".to_string(),
                ".,:-_".to_string(),
            ];
            let mut seed: Option<String> = None;
            for (k, v) in &params {
                match k.as_str() {
                    "length" => {
                        let n: i64 = v
                            .trim()
                            .parse()
                            .map_err(|_| lookup_err(format!("invalid password length: {v}")))?;
                        length = super::check_size(n, "password length")?;
                    }
                    "chars" => chars_spec = split_chars_spec(v),
                    "seed" => seed = Some(v.clone()),
                    "encrypt" | "salt" | "ident" => {
                        if k == "encrypt" && !v.is_empty() && v != "None" {
                            return Err(lookup_err(
                                "the password lookup's 'encrypt' option is not supported by hoist",
                            ));
                        }
                    }
                    other => {
                        return Err(lookup_err(format!(
                            "Unrecognized value(s) for the password lookup: {other}"
                        )));
                    }
                }
            }
            let file = if path == "/dev/null" {
                None
            } else if Path::new(&path).is_absolute() {
                Some(PathBuf::from(&path))
            } else {
                Some(self.base_dir().join(&path))
            };
            if let Some(f) = &file
                && let Ok(content) = std::fs::read_to_string(f)
            {
                let content = content.trim_end_matches(['\n', '\r']);
                let plain = match content.find(" salt=") {
                    Some(i) => &content[..i],
                    None => content,
                };
                out.push(Value::from(plain.to_string()));
                continue;
            }
            let chars: Vec<char> = candidate_chars(&chars_spec);
            if chars.is_empty() {
                return Err(lookup_err("password lookup: no candidate characters"));
            }
            let mut rng = match &seed {
                Some(s) => super::pyrandom::PyRandom::from_str(s),
                None => super::pyrandom::PyRandom::unseeded(),
            };
            let password: String = (0..length)
                .map(|_| chars[rng.randbelow(chars.len() as u128) as usize])
                .collect();
            if let Some(f) = &file {
                if let Some(parent) = f.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        lookup_err(format!("could not create {}: {e}", parent.display()))
                    })?;
                }
                std::fs::write(f, format!("{password}\n"))
                    .map_err(|e| lookup_err(format!("could not write {}: {e}", f.display())))?;
            }
            out.push(Value::from(password));
        }
        Ok(out)
    }

    /// `inventory_hostnames`: hosts matching a pattern, from the `groups` variable.
    fn inventory_hostnames(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        let groups = ctx_var(self.state, "groups")
            .filter(is_map)
            .ok_or_else(|| {
                lookup_err("inventory_hostnames: the 'groups' variable is not available")
            })?;
        let all: Vec<String> = map_get(&groups, "all")
            .map(|v| list_items(&v).iter().map(py_str).collect())
            .unwrap_or_default();
        let resolve = |pat: &str| -> Vec<String> {
            if let Some(g) = map_get(&groups, pat) {
                return list_items(&g).iter().map(py_str).collect();
            }
            if pat.contains(['*', '?', '[']) {
                let p: Vec<char> = pat.chars().collect();
                let mut hosts: Vec<String> = Vec::new();
                for (gname, members) in map_pairs(&groups) {
                    if component_match(&p, &py_str(&gname).chars().collect::<Vec<_>>()) {
                        for h in list_items(&members) {
                            let h = py_str(&h);
                            if !hosts.contains(&h) {
                                hosts.push(h);
                            }
                        }
                    }
                }
                for h in &all {
                    if component_match(&p, &h.chars().collect::<Vec<_>>()) && !hosts.contains(h) {
                        hosts.push(h.clone());
                    }
                }
                return hosts;
            }
            if all.iter().any(|h| h == pat) {
                return vec![pat.to_string()];
            }
            Vec::new()
        };
        let mut out: Vec<String> = Vec::new();
        for t in terms {
            let pattern = py_str(&t);
            let mut selected: Vec<String> = Vec::new();
            for part in pattern
                .split([':', ','])
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                if let Some(p) = part.strip_prefix('!') {
                    let ex = resolve(p);
                    selected.retain(|h| !ex.contains(h));
                } else if let Some(p) = part.strip_prefix('&') {
                    let keep = resolve(p);
                    selected.retain(|h| keep.contains(h));
                } else {
                    for h in resolve(part) {
                        if !selected.contains(&h) {
                            selected.push(h);
                        }
                    }
                }
            }
            for h in selected {
                if !out.contains(&h) {
                    out.push(h);
                }
            }
        }
        Ok(out.into_iter().map(Value::from).collect())
    }

    /// `ini`: a value from an INI (or Java properties) file.
    fn ini(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        for t in terms {
            let term = py_str(&t);
            let mut params: Vec<(String, String)> = Vec::new();
            let mut key = String::new();
            for (i, tok) in shlex::split(&term)
                .unwrap_or_else(|| term.split_whitespace().map(str::to_string).collect())
                .into_iter()
                .enumerate()
            {
                match tok.split_once('=') {
                    Some((k, v))
                        if i > 0
                            || [
                                "section",
                                "file",
                                "default",
                                "re",
                                "type",
                                "encoding",
                                "case_sensitive",
                                "allow_no_value",
                            ]
                            .contains(&k) =>
                    {
                        params.push((k.to_string(), v.to_string()))
                    }
                    _ if i == 0 => key = tok,
                    _ => return Err(lookup_err(format!("ini lookup: invalid parameter {tok}"))),
                }
            }
            for (k, v) in &self.opts {
                params.push((k.clone(), py_str(v)));
            }
            let get = |name: &str, default: &str| {
                params
                    .iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| default.to_string())
            };
            let kind = get("type", "ini");
            let file = get(
                "file",
                if kind == "properties" {
                    "ansible.properties"
                } else {
                    "ansible.ini"
                },
            );
            let section = get("section", "global");
            let default = get("default", "");
            let use_re = super::ansible_bool(&Value::from(get("re", "false")));
            let case_sensitive = super::ansible_bool(&Value::from(get("case_sensitive", "false")));
            let path = self
                .find_file("files", &file)
                .ok_or_else(|| lookup_err(format!("could not locate file in lookup: {file}")))?;
            let content = std::fs::read_to_string(&path)
                .map_err(|e| lookup_err(format!("could not read {}: {e}", path.display())))?;
            let entries = parse_ini(&content, kind == "properties", case_sensitive);
            let wanted_section = if kind == "properties" {
                "java_properties"
            } else {
                section.as_str()
            };
            let section_entries: Vec<&(String, String, String)> = entries
                .iter()
                .filter(|(s, _, _)| s == wanted_section)
                .collect();
            if kind != "properties"
                && !entries.iter().any(|(s, _, _)| s == wanted_section)
                && !content.contains(&format!("[{section}]"))
            {
                return Err(lookup_err(format!(
                    "section '{section}' not found in {file}"
                )));
            }
            if use_re {
                let re =
                    pyre::compile(&key, false, false, Anchor::Match).map_err(super::regex_error)?;
                for (_, k, v) in section_entries {
                    if re.is_match(k) {
                        out.push(Value::from(v.clone()));
                    }
                }
            } else {
                let lookup_key = if case_sensitive {
                    key.clone()
                } else {
                    key.to_lowercase()
                };
                match section_entries
                    .iter()
                    .rev()
                    .find(|(_, k, _)| *k == lookup_key)
                {
                    Some((_, _, v)) => out.push(Value::from(v.clone())),
                    None => out.push(Value::from(default.clone())),
                }
            }
        }
        Ok(out)
    }

    fn template(&self, terms: Vec<Value>) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        for t in terms {
            let name = py_str(&t);
            let path = self.find_file("templates", &name).ok_or_else(|| {
                lookup_err(format!(
                    "the template file {name} could not be found for the lookup"
                ))
            })?;
            let source = std::fs::read_to_string(&path)
                .map_err(|e| lookup_err(format!("could not read {}: {e}", path.display())))?;
            let names = self.state.known_variables();
            let mut pairs: Vec<(Value, Value)> = Vec::new();
            for n in &names {
                if let Some(v) = self.state.lookup(n) {
                    pairs.push((Value::from(n.as_ref()), v));
                }
            }
            for (k, v) in &self.opts {
                if k == "template_vars" && is_map(v) {
                    pairs.extend(map_pairs(v));
                }
            }
            let ctx = Value::from_pairs(pairs);
            // Templates it includes are searched for as Ansible's lookup
            // does: the file's directory, then the search path.
            let mut dirs: Vec<PathBuf> = path.parent().map(Path::to_path_buf).into_iter().collect();
            dirs.extend(crate::template::loader::search_dirs(&self.search_dirs()));
            let mut env = self.state.env().clone();
            let missing = crate::template::loader::install(&mut env, dirs.clone());
            let rendered =
                crate::template::native::render(&env, &source, &ctx).map_err(|e| {
                    match (e.kind(), missing.message(&dirs)) {
                        (minijinja::ErrorKind::TemplateNotFound, Some(m)) => lookup_err(m),
                        _ => e,
                    }
                })?;
            out.push(rendered);
        }
        Ok(out)
    }
}

/// `key=value key2="v w"` parameters.
fn parse_kv(s: &str) -> Vec<(String, String)> {
    shlex::split(s)
        .unwrap_or_else(|| s.split_whitespace().map(str::to_string).collect())
        .into_iter()
        .filter_map(|tok| {
            tok.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Splits the password lookup's `chars` value (`,,` is a literal comma).
fn split_chars_spec(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                cur.push(',');
            } else {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Expands Python `string` module constant names into characters.
fn candidate_chars(spec: &[String]) -> Vec<char> {
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const DIGITS: &str = "0123456789";
    let mut s = String::new();
    for item in spec {
        match item.as_str() {
            "ascii_letters" | "letters" => {
                s.push_str(LOWER);
                s.push_str(UPPER);
            }
            "ascii_lowercase" | "lowercase" => s.push_str(LOWER),
            "ascii_uppercase" | "uppercase" => s.push_str(UPPER),
            "digits" => s.push_str(DIGITS),
            "hexdigits" => s.push_str("0123456789abcdefABCDEF"),
            "octdigits" => s.push_str("01234567"),
            "punctuation" => s.push_str("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
            other => s.push_str(other),
        }
    }
    s.chars().filter(|&c| c != '"' && c != '\'').collect()
}

/// Parses INI (or Java properties) content into (section, key, value).
fn parse_ini(
    content: &str,
    properties: bool,
    case_sensitive: bool,
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut section = if properties {
        "java_properties".to_string()
    } else {
        String::new()
    };
    for raw in content.lines() {
        let line = raw.trim();
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with(';')
            || (properties && line.starts_with('!'))
        {
            continue;
        }
        if !properties && line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].trim().to_string();
            continue;
        }
        let idx = if properties {
            line.find(['=', ':'])
                .or_else(|| line.find(char::is_whitespace))
        } else {
            line.find(['=', ':'])
        };
        let (k, v) = match idx {
            Some(i) => (line[..i].trim(), line[i + 1..].trim()),
            None => (line, ""),
        };
        let k = if case_sensitive {
            k.to_string()
        } else {
            k.to_lowercase()
        };
        out.push((section.clone(), k, v.to_string()));
    }
    out
}

/// A copy of dict `v` without `key`.
fn without_key(v: &Value, key: &str) -> Value {
    crate::template::vmap(
        map_pairs(v)
            .into_iter()
            .filter(|(k, _)| k.as_str() != Some(key)),
    )
}

/// A copy of dict `v` with the dict at the key path `path` replaced by
/// `new` (`v` itself replaced when the path is empty).
fn replace_at(v: &Value, path: &[&str], new: Value) -> Value {
    let Some((first, rest)) = path.split_first() else {
        return new;
    };
    crate::template::vmap(map_pairs(v).into_iter().map(|(k, x)| {
        if k.as_str() == Some(first) {
            let inner = replace_at(&x, rest, new.clone());
            (k, inner)
        } else {
            (k, x)
        }
    }))
}

fn flatten_one(terms: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for t in terms {
        if is_list(&t) {
            out.extend(list_items(&t));
        } else {
            out.push(t);
        }
    }
    out
}

#[derive(Default)]
struct SequenceSpec {
    start: i128,
    end: Option<i128>,
    count: Option<i128>,
    stride: i128,
    format: String,
}

fn seq_int(s: &str, what: &str) -> Result<i128, Error> {
    py_int_parse(s, 0).ok_or_else(|| lookup_err(format!("can't parse {what}={s} as integer")))
}

impl SequenceSpec {
    fn reset(&mut self) {
        self.start = 1;
        self.end = None;
        self.count = None;
        self.stride = 1;
        self.format = "%d".into();
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), Error> {
        match key {
            "start" => self.start = seq_int(value, key)?,
            "end" => self.end = Some(seq_int(value, key)?),
            "count" => self.count = Some(seq_int(value, key)?),
            "stride" => self.stride = seq_int(value, key)?,
            "format" => self.format = value.to_string(),
            other => {
                return Err(lookup_err(format!(
                    "unrecognized arguments to with_sequence: ['{other}']"
                )));
            }
        }
        Ok(())
    }

    fn parse_kv_args(&mut self, term: &str) -> Result<(), Error> {
        for part in shlex::split(term)
            .unwrap_or_else(|| term.split_whitespace().map(str::to_string).collect())
        {
            let Some((k, v)) = part.split_once('=') else {
                return Err(lookup_err(format!(
                    "can't parse arg {part}=None as integer"
                )));
            };
            self.set(k, v)?;
        }
        Ok(())
    }

    /// The shortcut form `[start-]end[/stride][:format]`.
    fn parse_simple_args(&mut self, term: &str) -> Result<bool, Error> {
        self.reset();
        let num = r"(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)";
        let pattern = format!(r"^(?:({num})-)?({num})(?:/({num}))?(?::(.+))?$");
        let Ok(re) = regex::Regex::new(&pattern) else {
            return Ok(false);
        };
        let Some(c) = re.captures(term.trim()) else {
            return Ok(false);
        };
        if let Some(s) = c.get(1) {
            self.start = seq_int(s.as_str(), "start")?;
        }
        if let Some(e) = c.get(2) {
            self.end = Some(seq_int(e.as_str(), "end")?);
        }
        if let Some(s) = c.get(3) {
            self.stride = seq_int(s.as_str(), "stride")?;
        }
        if let Some(f) = c.get(4) {
            self.format = f.as_str().to_string();
        }
        Ok(true)
    }

    fn generate(&mut self) -> Result<Vec<String>, Error> {
        if let Some(count) = self.count {
            if self.end.is_some() {
                return Err(lookup_err(
                    "can't specify both count and end in with_sequence",
                ));
            }
            if count == 0 {
                return Ok(Vec::new());
            }
            let end = count
                .checked_mul(self.stride)
                .and_then(|x| x.checked_add(self.start))
                .and_then(|x| x.checked_sub(1))
                .ok_or_else(|| lookup_err("with_sequence: count too large"))?;
            self.end = Some(end);
        }
        let Some(end) = self.end else {
            return Err(lookup_err("must specify count or end in with_sequence"));
        };
        if self.stride > 0 && end < self.start {
            return Err(lookup_err("to count backwards make stride negative"));
        }
        if self.stride < 0 && end > self.start {
            return Err(lookup_err("to count forward don't make stride negative"));
        }
        if self.stride == 0 {
            return Ok(Vec::new());
        }
        let stop = if self.stride > 0 {
            end.checked_add(1)
        } else {
            end.checked_sub(1)
        }
        .ok_or_else(|| lookup_err("with_sequence: end out of range"))?;
        let mut out = Vec::new();
        let mut i = self.start;
        while (self.stride > 0 && i < stop) || (self.stride < 0 && i > stop) {
            let v = Value::from(i as i64);
            out.push(
                percent_format(&self.format, PercentArgs::Positional(&[v])).map_err(|e| {
                    lookup_err(format!(
                        "problem formatting {i} with {}: {e}",
                        super::pyfmt::str_repr(&self.format)
                    ))
                })?,
            );
            if out.len() > 1_000_000 {
                return Err(lookup_err("with_sequence: too many items"));
            }
            i = match i.checked_add(self.stride) {
                Some(n) => n,
                None => break,
            };
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------
// globbing
// ---------------------------------------------------------------------------

/// fnmatch-style matching of one path component (`*`, `?`, `[...]`).
fn component_match(pattern: &[char], name: &[char]) -> bool {
    if pattern.is_empty() {
        return name.is_empty();
    }
    match pattern[0] {
        '*' => (0..=name.len()).any(|i| component_match(&pattern[1..], &name[i..])),
        '?' => !name.is_empty() && component_match(&pattern[1..], &name[1..]),
        '[' => {
            let Some(close) = pattern
                .iter()
                .skip(2)
                .position(|&c| c == ']')
                .map(|p| p + 2)
            else {
                return !name.is_empty()
                    && name[0] == '['
                    && component_match(&pattern[1..], &name[1..]);
            };
            if name.is_empty() {
                return false;
            }
            let mut set = &pattern[1..close];
            let negate = matches!(set.first(), Some('!'));
            if negate {
                set = &set[1..];
            }
            let c = name[0];
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    if set[i] <= c && c <= set[i + 2] {
                        hit = true;
                    }
                    i += 3;
                } else {
                    if set[i] == c {
                        hit = true;
                    }
                    i += 1;
                }
            }
            hit != negate && component_match(&pattern[close + 1..], &name[1..])
        }
        p => !name.is_empty() && name[0] == p && component_match(&pattern[1..], &name[1..]),
    }
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Python's `glob.glob` restricted to regular files, sorted.
pub(super) fn glob_files(pattern: &str) -> Vec<String> {
    let absolute = pattern.starts_with('/');
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let mut current: Vec<String> = vec![if absolute { "/".into() } else { String::new() }];
    for (idx, comp) in comps.iter().enumerate() {
        let last = idx + 1 == comps.len();
        let mut next = Vec::new();
        for base in &current {
            let join = |name: &str| {
                if base.is_empty() {
                    name.to_string()
                } else if base.ends_with('/') {
                    format!("{base}{name}")
                } else {
                    format!("{base}/{name}")
                }
            };
            if !has_magic(comp) {
                let p = join(comp);
                if (last && Path::new(&p).exists()) || (!last && Path::new(&p).is_dir()) {
                    next.push(p);
                }
                continue;
            }
            let dir = if base.is_empty() { "." } else { base.as_str() };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let pat: Vec<char> = comp.chars().collect();
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') || comp.starts_with('.'))
                .filter(|n| component_match(&pat, &n.chars().collect::<Vec<_>>()))
                .collect();
            names.sort();
            for n in names {
                let p = join(&n);
                if last || Path::new(&p).is_dir() {
                    next.push(p);
                }
            }
        }
        current = next;
    }
    current
        .into_iter()
        .filter(|p| Path::new(p).is_file())
        .collect()
}

fn f_fileglob(value: Value) -> R {
    super::defined(&value)?;
    let pattern = py_str(&value);
    Ok(Value::from(
        glob_files(&pattern)
            .into_iter()
            .map(Value::from)
            .collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{eval, render_ctx};
    use super::*;

    fn tmpdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "hoist-lookup-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let _ = std::fs::create_dir_all(d.join("files"));
        d
    }

    #[test]
    fn test_lookup_basic() {
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(
            eval("lookup('env', 'PATH')"),
            super::super::pyfmt::str_repr(&path)
        );
        assert_eq!(eval("lookup('env', 'HOIST_NOPE_NOPE')"), "''");
        assert_eq!(eval("lookup('env', 'HOIST_NOPE_NOPE', default='d')"), "'d'");
        assert_eq!(
            eval("query('env', 'PATH')"),
            format!("[{}]", super::super::pyfmt::str_repr(&path))
        );
        assert_eq!(eval("lookup('items', [1, 2], 3)"), "[1, 2, 3]");
        assert_eq!(eval("q('list', 'a', 'b')"), "['a', 'b']");
        assert_eq!(eval("lookup('list', 'a', 'b')"), "'a,b'");
        assert_eq!(eval("lookup('vars', 's')"), "'Hello World'");
        assert!(eval("lookup('vars', 'nope')").starts_with("ERROR"));
        assert_eq!(eval("lookup('vars', 'nope', default=1)"), "1");
        assert_eq!(
            eval("query('dict', {'a': 1})"),
            "[{'key': 'a', 'value': 1}]"
        );
        assert_eq!(eval("lookup('sequence', 'start=1 end=3')"), "'1,2,3'");
        assert_eq!(
            eval("query('sequence', 'start=0 end=10 stride=5 format=web%02d')"),
            "['web00', 'web05', 'web10']"
        );
        assert_eq!(eval("query('sequence', '4-6/2')"), "['4', '6']");
        assert_eq!(eval("query('sequence', 'count=3')"), "['1', '2', '3']");
        assert_eq!(eval("query('sequence', '0x0a-0x0c:%x')"), "['a', 'b', 'c']");
        assert_eq!(
            eval("lookup('pipe', 'echo hi; echo there')"),
            "'hi\\nthere'"
        );
        assert_eq!(eval("query('lines', 'printf \"a\\nb\\n\"')"), "['a', 'b']");
        assert!(eval("lookup('pipe', 'exit 3')").starts_with("ERROR"));
        assert_eq!(eval("lookup('pipe', 'exit 3', errors='ignore')"), "None");
        assert_eq!(eval("query('pipe', 'exit 3', errors='warn')"), "[]");
        assert_eq!(
            eval("query('indexed_items', ['a', 'b'])"),
            "[(0, 'a'), (1, 'b')]"
        );
        assert_eq!(
            eval("query('together', [1, 2], ['a'])"),
            "[[1, 'a'], [2, None]]"
        );
        assert_eq!(
            eval("query('nested', [1, 2], ['a'])"),
            "[[1, 'a'], [2, 'a']]"
        );
        assert!(eval("lookup('nope', 'x')").starts_with("ERROR"));
        assert!(eval("lookup('env', missing)").starts_with("ERROR"));
    }

    #[test]
    fn test_lookup_files() {
        let d = tmpdir();
        let _ = std::fs::write(d.join("files/a.txt"), "content {{ x }}\n\n");
        let _ = std::fs::write(d.join("b.txt"), "B");
        let _ = std::fs::write(d.join("files/c.conf"), "C");
        let dir = d.to_string_lossy().into_owned();
        let ctx = serde_json::json!({"playbook_dir": dir});
        let r = |t: &str| render_ctx(t, ctx.clone()).unwrap_or_else(|e| format!("ERROR: {e}"));
        assert_eq!(r("{{ lookup('file', 'a.txt') }}"), "content {{ x }}");
        assert_eq!(
            r("{{ lookup('file', 'a.txt', rstrip=false) | length }}"),
            "17"
        );
        assert_eq!(r("{{ lookup('file', 'b.txt') }}"), "B");
        assert_eq!(r("{{ lookup('file', 'a.txt') is safe }}"), "True");
        assert!(r("{{ lookup('file', 'missing.txt') }}").starts_with("ERROR"));
        assert_eq!(
            r("{{ lookup('first_found', ['nope.txt', 'b.txt']) | basename }}"),
            "b.txt"
        );
        assert_eq!(
            r(
                "{{ lookup('first_found', {'files': ['x', 'a.txt'], 'paths': [playbook_dir ~ '/files']}) | basename }}"
            ),
            "a.txt"
        );
        assert!(r("{{ lookup('first_found', ['nope']) }}").starts_with("ERROR"));
        assert_eq!(r("{{ query('first_found', ['nope'], skip=true) }}"), "[]");
        assert_eq!(
            r("{{ query('fileglob', '*.conf') | map('basename') | list }}"),
            "['c.conf']"
        );
        assert_eq!(
            r("{{ (playbook_dir ~ '/files/*.txt') | fileglob | map('basename') | list }}"),
            "['a.txt']"
        );
        let _ = std::fs::create_dir_all(d.join("templates"));
        let _ = std::fs::write(
            d.join("templates/t.j2"),
            "dir={{ playbook_dir | basename }}",
        );
        assert_eq!(
            r("{{ lookup('template', 't.j2') }}"),
            format!("dir={}", basename(&dir))
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn test_lookup_password_ini_inventory() {
        let d = tmpdir();
        let dir = d.to_string_lossy().into_owned();
        let _ = std::fs::write(
            d.join("files/creds.ini"),
            "[global]\nuser = root\n[db]\nName: app\npassword=secret\n",
        );
        let _ = std::fs::write(d.join("files/app.properties"), "a.b=1\nc: two\n");
        let ctx = serde_json::json!({
            "playbook_dir": dir,
            "groups": {"all": ["h1", "h2", "h3"], "web": ["h1", "h2"], "db": ["h3"]},
        });
        let r = |t: &str| render_ctx(t, ctx.clone()).unwrap_or_else(|e| format!("ERROR: {e}"));
        assert_eq!(r("{{ lookup('ini', 'user file=creds.ini') }}"), "root");
        assert_eq!(
            r("{{ lookup('ini', 'name section=db file=creds.ini') }}"),
            "app"
        );
        assert_eq!(
            r("{{ lookup('ini', 'password', section='db', file='creds.ini') }}"),
            "secret"
        );
        assert_eq!(
            r("{{ lookup('ini', 'nope section=db file=creds.ini default=x') }}"),
            "x"
        );
        assert_eq!(
            r("{{ query('ini', 'pass.* section=db file=creds.ini re=true') }}"),
            "['secret']"
        );
        assert_eq!(
            r("{{ lookup('ini', 'a.b type=properties file=app.properties') }}"),
            "1"
        );
        assert_eq!(
            r("{{ query('inventory_hostnames', 'web') }}"),
            "['h1', 'h2']"
        );
        assert_eq!(
            r("{{ query('inventory_hostnames', 'all:!db') }}"),
            "['h1', 'h2']"
        );
        assert_eq!(r("{{ query('inventory_hostnames', 'all:&db') }}"), "['h3']");
        assert_eq!(r("{{ query('inventory_hostnames', 'h*3') }}"), "['h3']");
        assert_eq!(
            r("{{ lookup('password', '/dev/null length=12') | length }}"),
            "12"
        );
        // seeded passwords match Ansible's (CPython's random.Random(seed).choice)
        assert_eq!(
            r("{{ lookup('password', '/dev/null chars=digits length=5 seed=x') }}"),
            "59971"
        );
        assert_eq!(
            r("{{ lookup('password', '/dev/null length=12 seed=myseed') }}"),
            "0MuyBT:n9PJ0"
        );
        let first = r("{{ lookup('password', 'creds/pw length=8') }}");
        assert_eq!(first.len(), 8);
        assert_eq!(r("{{ lookup('password', 'creds/pw length=8') }}"), first);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn test_glob_match() {
        let m = |p: &str, n: &str| {
            component_match(
                &p.chars().collect::<Vec<_>>(),
                &n.chars().collect::<Vec<_>>(),
            )
        };
        assert!(m("*.txt", "a.txt"));
        assert!(!m("*.txt", "a.conf"));
        assert!(m("a?c", "abc"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[!a-c]x", "bx"));
    }
}
