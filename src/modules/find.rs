//! `find`: files matching criteria under directories, as Ansible's module
//! returns them (`files` with stat-like dicts, `matched`, `examined`,
//! `skipped_paths`).
//!
//! One `find -printf` run lists every path's tree with lstat data; the walk
//! order, `examined` count and filters of Ansible's `os.walk` loop are then
//! reproduced here. Checksums take one more command (`sha1sum -z …`), and
//! `contains` reads only the candidates that passed every other filter.

use std::collections::HashMap;

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;

use super::command::{expand_user_and_vars, fnmatch};
use super::fetch::normpath;
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType, is_string,
};
use crate::connection::ExecRequest;
use crate::pyre::{Anchor, PyRegex, compile};

pub struct Find;

static SPEC: ModuleSpec = ModuleSpec {
    name: "find",
    params: &[
        Param::new("paths", ParamType::List)
            .required()
            .aliases(&["name", "path"]),
        Param::new("patterns", ParamType::List).aliases(&["pattern"]),
        Param::new("excludes", ParamType::List).aliases(&["exclude"]),
        Param::new("contains", ParamType::Str),
        Param::new("read_whole_file", ParamType::Bool),
        Param::new("file_type", ParamType::Str).choices(&["any", "directory", "file", "link"]),
        Param::new("age", ParamType::Str),
        Param::new("age_stamp", ParamType::Str).choices(&["atime", "ctime", "mtime"]),
        Param::new("size", ParamType::Str),
        Param::new("recurse", ParamType::Bool),
        Param::new("hidden", ParamType::Bool),
        Param::new("follow", ParamType::Bool),
        Param::new("get_checksum", ParamType::Bool),
        Param::new("checksum_algorithm", ParamType::Str)
            .aliases(&["checksum", "checksum_algo"])
            .choices(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]),
        Param::new("use_regex", ParamType::Bool),
        Param::new("depth", ParamType::Int),
        Param::new("mode", ParamType::Raw),
        Param::new("exact_mode", ParamType::Bool),
        Param::new("encoding", ParamType::Str),
        Param::new("limit", ParamType::Int),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "List the files under directories that match name, age, size, type or content \
              criteria.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "One `find -printf` per task lists the trees (checksums take one more command); the \
         files, their order and `examined` are what Ansible's `os.walk` gives.",
    ],
};

/// Fields `find -printf` prints per entry, each followed by a NUL.
const PRINTF: &str =
    "%d\\0%y\\0%Y\\0%m\\0%U\\0%G\\0%u\\0%g\\0%s\\0%i\\0%D\\0%n\\0%A@\\0%T@\\0%C@\\0%p\\0";
const NFIELDS: usize = 16;

/// One entry `find` listed.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Entry {
    pub depth: usize,
    /// `lstat` type letter (`f`, `d`, `l`, `p`, `s`, `b`, `c`).
    pub kind: char,
    /// Type following symlinks (`d` for a link to a directory).
    pub kind_followed: char,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub user: String,
    pub group: String,
    pub size: u64,
    pub inode: u64,
    pub dev: u64,
    pub nlink: u64,
    pub atime: f64,
    pub mtime: f64,
    pub ctime: f64,
    pub path: String,
}

/// Parses `find -printf PRINTF` output.
pub(crate) fn parse_entries(out: &[u8]) -> Vec<Entry> {
    let fields: Vec<String> = out
        .split(|&b| b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let mut entries = Vec::new();
    for chunk in fields.chunks(NFIELDS) {
        if chunk.len() < NFIELDS {
            break;
        }
        let num = |i: usize| chunk[i].trim().parse::<u64>().unwrap_or(0);
        let float = |i: usize| chunk[i].trim().parse::<f64>().unwrap_or(0.0);
        let letter = |i: usize| chunk[i].chars().next().unwrap_or('?');
        let uid = num(4);
        let gid = num(5);
        // find prints the number when the id has no name; Python's pwd
        // lookup fails then and Ansible reports "".
        let name = |s: &str, id: u64| {
            if s == id.to_string() {
                String::new()
            } else {
                s.to_owned()
            }
        };
        entries.push(Entry {
            depth: num(0) as usize,
            kind: letter(1),
            kind_followed: letter(2),
            mode: u32::from_str_radix(chunk[3].trim(), 8).unwrap_or(0),
            uid,
            gid,
            user: name(&chunk[6], uid),
            group: name(&chunk[7], gid),
            size: num(8),
            inode: num(9),
            dev: num(10),
            nlink: num(11),
            atime: float(12),
            mtime: float(13),
            ctime: float(14),
            path: chunk[15].clone(),
        });
    }
    entries
}

fn parse_age(s: &str) -> Option<f64> {
    parse_unit(
        s,
        &[
            ('s', 1),
            ('m', 60),
            ('h', 3600),
            ('d', 86400),
            ('w', 604_800),
        ],
    )
}

fn parse_size(s: &str) -> Option<f64> {
    parse_unit(
        s,
        &[
            ('b', 1),
            ('k', 1024),
            ('m', 1 << 20),
            ('g', 1 << 30),
            ('t', 1 << 40),
        ],
    )
}

/// `^(-?\d+)(unit)?$` on the lowercased text, times the unit.
fn parse_unit(s: &str, units: &[(char, i64)]) -> Option<f64> {
    let s = s.to_lowercase();
    let (num, mult) = match s.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let (_, m) = units.iter().find(|(u, _)| *u == c)?;
            (&s[..s.len() - 1], *m)
        }
        _ => (s.as_str(), 1),
    };
    let digits = num.strip_prefix('-').unwrap_or(num);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i128 = num.parse().ok()?;
    Some((n * i128::from(mult)) as f64)
}

/// The name filter: glob (`fnmatch`) or regex (`re.match`) patterns, then
/// excludes, as Ansible's `pfilter`.
struct NameFilter {
    globs: Vec<String>,
    exclude_globs: Vec<String>,
    regexes: Vec<regex::Regex>,
    exclude_regexes: Vec<regex::Regex>,
    use_regex: bool,
}

impl NameFilter {
    fn new(patterns: Vec<String>, excludes: Vec<String>, use_regex: bool) -> Result<Self, String> {
        let comp = |v: &[String]| -> Result<Vec<regex::Regex>, String> {
            v.iter()
                .map(|p| compile(p, false, false, Anchor::Match))
                .collect()
        };
        Ok(if use_regex {
            NameFilter {
                regexes: comp(&patterns)?,
                exclude_regexes: comp(&excludes)?,
                globs: Vec::new(),
                exclude_globs: Vec::new(),
                use_regex,
            }
        } else {
            NameFilter {
                globs: patterns,
                exclude_globs: excludes,
                regexes: Vec::new(),
                exclude_regexes: Vec::new(),
                use_regex,
            }
        })
    }

    fn matches(&self, name: &str) -> bool {
        if self.use_regex {
            self.regexes.iter().any(|r| r.is_match(name))
                && !self.exclude_regexes.iter().any(|r| r.is_match(name))
        } else {
            self.globs.iter().any(|p| fnmatch(name, p))
                && !self.exclude_globs.iter().any(|p| fnmatch(name, p))
        }
    }
}

/// Ansible's `statinfo` dict for an entry, after `path`.
fn statinfo(e: &Entry) -> IndexMap<String, Value> {
    let m = e.mode;
    let bit = |b: u32| Value::from(m & b != 0);
    let mut r = IndexMap::new();
    let mut put = |k: &str, v: Value| {
        r.insert(k.to_owned(), v);
    };
    put("path", Value::from(e.path.as_str()));
    put("mode", Value::from(format!("{:04o}", m & 0o7777)));
    put("isdir", Value::from(e.kind == 'd'));
    put("ischr", Value::from(e.kind == 'c'));
    put("isblk", Value::from(e.kind == 'b'));
    put("isreg", Value::from(e.kind == 'f'));
    put("isfifo", Value::from(e.kind == 'p'));
    put("islnk", Value::from(e.kind == 'l'));
    put("issock", Value::from(e.kind == 's'));
    put("uid", Value::from(e.uid));
    put("gid", Value::from(e.gid));
    put("size", Value::from(e.size));
    put("inode", Value::from(e.inode));
    put("dev", Value::from(e.dev));
    put("nlink", Value::from(e.nlink));
    put("atime", Value::from(e.atime));
    put("mtime", Value::from(e.mtime));
    put("ctime", Value::from(e.ctime));
    put("gr_name", Value::from(e.group.as_str()));
    put("pw_name", Value::from(e.user.as_str()));
    put("wusr", bit(0o200));
    put("rusr", bit(0o400));
    put("xusr", bit(0o100));
    put("wgrp", bit(0o020));
    put("rgrp", bit(0o040));
    put("xgrp", bit(0o010));
    put("woth", bit(0o002));
    put("roth", bit(0o004));
    put("xoth", bit(0o001));
    put("isuid", bit(0o4000));
    put("isgid", bit(0o2000));
    r
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn parent(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) => "/",
        Some(i) => &p[..i],
        None => "",
    }
}

/// One of the `paths` as `find` walked it: its entries grouped by parent
/// directory, each group in directory order.
struct Tree<'a> {
    by_parent: HashMap<&'a str, Vec<&'a Entry>>,
}

/// The entries of the tree in `os.walk` order (topdown: a directory's
/// files, then its directories; then each directory's own walk), with how
/// many entries every visited directory held.
fn walk_order<'a>(
    tree: &Tree<'a>,
    top: &'a str,
    recurse: bool,
    follow: bool,
) -> Vec<Vec<&'a Entry>> {
    let mut out = Vec::new();
    let mut stack = vec![top];
    while let Some(dir) = stack.pop() {
        let entries = tree.by_parent.get(dir).cloned().unwrap_or_default();
        let is_dir = |e: &&Entry| e.kind_followed == 'd' || e.kind == 'd';
        let (dirs, files): (Vec<&Entry>, Vec<&Entry>) = entries.into_iter().partition(is_dir);
        let mut group = files;
        group.extend(dirs.iter().copied());
        out.push(group);
        if !recurse {
            break;
        }
        for d in dirs.iter().rev() {
            if follow || d.kind != 'l' {
                stack.push(d.path.as_str());
            }
        }
    }
    out
}

struct Opts {
    names: NameFilter,
    file_type: String,
    age: Option<f64>,
    age_stamp: String,
    size: Option<f64>,
    mode: Option<u32>,
    exact_mode: bool,
    depth: Option<usize>,
    limit: Option<usize>,
    hidden: bool,
    recurse: bool,
    follow: bool,
}

impl Opts {
    fn age_ok(&self, e: &Entry, now: f64) -> bool {
        let Some(age) = self.age else { return true };
        let t = match self.age_stamp.as_str() {
            "atime" => e.atime,
            "ctime" => e.ctime,
            _ => e.mtime,
        };
        if age >= 0.0 {
            now - t >= age.abs()
        } else {
            now - t <= age.abs()
        }
    }
    fn size_ok(&self, e: &Entry) -> bool {
        let Some(size) = self.size else { return true };
        let s = e.size as f64;
        if size >= 0.0 {
            s >= size
        } else {
            s <= size.abs()
        }
    }
    fn mode_ok(&self, e: &Entry) -> bool {
        let Some(mode) = self.mode else { return true };
        let m = e.mode & 0o7777;
        if self.exact_mode {
            m == mode
        } else {
            m & mode != 0
        }
    }
    /// The filters that need no file content; `Some(check_contents)`
    /// when the entry is a candidate.
    fn candidate(&self, e: &Entry, now: f64) -> Option<bool> {
        let name = basename(&e.path);
        let common = || self.names.matches(name) && self.age_ok(e, now) && self.mode_ok(e);
        match self.file_type.as_str() {
            "any" => (common() && (e.kind != 'f' || self.size_ok(e))).then_some(false),
            "directory" => (e.kind == 'd' && common()).then_some(false),
            "link" => (e.kind == 'l' && common()).then_some(false),
            _ => (e.kind == 'f' && common() && self.size_ok(e)).then_some(true),
        }
    }
}

#[async_trait]
impl Module for Find {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let conn = ctx.conn;
        if let Some(m) = args.get("mode")
            && !m.is_none()
            && !is_string(m)
        {
            let ty = match m.kind() {
                minijinja::value::ValueKind::Number => {
                    if m.as_i64().is_some() {
                        "int"
                    } else {
                        "float"
                    }
                }
                minijinja::value::ValueKind::Bool => "bool",
                _ => "object",
            };
            return Ok(Outcome::failure(format!(
                "argument 'mode' is not a string and conversion is not allowed, value is of type {ty}"
            )));
        }
        let use_regex = args.bool_or("use_regex", false);
        let mut patterns = args.str_list("patterns").unwrap_or_default();
        if patterns.is_empty() {
            patterns.push(if use_regex { ".*" } else { "*" }.to_owned());
        }
        let excludes = args.str_list("excludes").unwrap_or_default();
        let age = match args.str("age") {
            None => None,
            Some(a) => match parse_age(&a) {
                Some(v) => Some(v),
                None => {
                    return Ok(Outcome::failure("failed to process age").with("age", a));
                }
            },
        };
        let size = match args.str("size") {
            None => None,
            Some(s) => match parse_size(&s) {
                Some(v) => Some(v),
                None => {
                    return Ok(Outcome::failure("failed to process size").with("size", s));
                }
            },
        };
        let limit = match args.int("limit") {
            Some(n) if n <= 0 => {
                return Ok(Outcome::failure(format!(
                    "limit cannot be {n} (use None for unlimited)"
                )));
            }
            Some(n) => Some(n as usize),
            None => None,
        };
        let mode = match args.str("mode").filter(|m| !m.is_empty()) {
            None => None,
            Some(m) => Some(match u32::from_str_radix(&m, 8) {
                Ok(v) => v & 0o7777,
                Err(_) => super::args::parse_mode(&Value::from(m.as_str()), 0, false)
                    .map_err(ModuleError::Failed)?,
            }),
        };
        let opts = Opts {
            names: NameFilter::new(patterns, excludes, use_regex).map_err(ModuleError::Failed)?,
            file_type: args.str_or("file_type", "file"),
            age,
            age_stamp: args.str_or("age_stamp", "mtime"),
            size,
            mode,
            exact_mode: args.bool_or("exact_mode", true),
            depth: args.int("depth").filter(|d| *d > 0).map(|d| d as usize),
            limit,
            hidden: args.bool_or("hidden", false),
            recurse: args.bool_or("recurse", false),
            follow: args.bool_or("follow", false),
        };
        let contains = args.str("contains");
        let read_whole = args.bool_or("read_whole_file", false);
        let encoding = args.str("encoding");
        if let Some(enc) = &encoding {
            super::replace::Encoding::lookup(enc).map_err(ModuleError::Failed)?;
        }
        let contains_re = match &contains {
            None => None,
            Some(p) if read_whole => Some(Contains::Whole(
                compile(p, false, false, Anchor::Search).map_err(ModuleError::Failed)?,
            )),
            Some(p) => Some(Contains::Lines(
                PyRegex::new(&format!("\\A(?:{p})")).map_err(ModuleError::Failed)?,
            )),
        };

        let raw_paths = args.str_list("paths").unwrap_or_default();
        let paths = expand_user_and_vars(conn, raw_paths).await?;

        // One `find` for every path: -H/-L makes a starting point that is a
        // link to a directory walk like os.walk does.
        let mut argv: Vec<String> =
            vec!["find".into(), if opts.follow { "-L" } else { "-H" }.into()];
        let mut starts = Vec::new();
        for p in &paths {
            // A path find would take for an expression gets a "./".
            let start = if p.starts_with('-') || p == "!" || p == "(" || p == ")" {
                format!("./{p}")
            } else {
                p.clone()
            };
            argv.push(start.clone());
            starts.push(start);
        }
        let maxdepth = match (opts.recurse, opts.depth) {
            (false, _) => Some(1),
            (true, Some(d)) => Some(d + 1),
            (true, None) => None,
        };
        if let Some(d) = maxdepth {
            argv.push("-maxdepth".into());
            argv.push(d.to_string());
        }
        argv.push("-printf".into());
        argv.push(PRINTF.into());
        let out = if paths.is_empty() {
            Default::default()
        } else {
            conn.exec(&ExecRequest::argv(argv).read_only()).await?
        };
        let entries = parse_entries(&out.stdout);
        let mut skipped: IndexMap<String, Value> = IndexMap::new();
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            // find: ‘/p/x’: Permission denied
            if let Some(rest) = line.strip_prefix("find: ")
                && let Some((quoted, why)) = rest.rsplit_once(": ")
            {
                let name = quoted.trim_matches(|c| c == '\'' || c == '‘' || c == '’');
                let errno = match why {
                    "Permission denied" => "[Errno 13] ",
                    "No such file or directory" => "[Errno 2] ",
                    "Operation not permitted" => "[Errno 1] ",
                    _ => "",
                };
                skipped.insert(
                    name.to_owned(),
                    Value::from(format!("{errno}{why}: '{name}'")),
                );
            }
        }

        // Split the listing by starting point (a depth-0 entry starts one).
        let mut per_start: Vec<Vec<Entry>> = Vec::new();
        for e in entries {
            if e.depth == 0 {
                per_start.push(vec![e]);
            } else if let Some(last) = per_start.last_mut() {
                last.push(e);
            }
        }
        let mut groups = per_start.into_iter().peekable();

        let now = super::file::now();
        let mut files: Vec<(Entry, bool)> = Vec::new();
        let mut looked = 0usize;
        let mut warnings: Vec<String> = Vec::new();
        let mut msg = "All paths examined";
        'paths: for (npath, start) in paths.iter().zip(&starts) {
            let group = match groups.peek() {
                Some(g) if g.first().is_some_and(|e| &e.path == start) => groups.next(),
                _ => None,
            };
            let Some(mut group) = group else {
                skipped.shift_remove(start.as_str());
                let why = format!("'{npath}' is not a directory");
                warnings.push(format!(
                    "Skipped '{npath}' path due to this access issue: {why}\n"
                ));
                skipped.insert(npath.clone(), Value::from(why));
                continue;
            };
            let top = group.remove(0);
            if top.kind != 'd' {
                let why = format!("'{npath}' is not a directory");
                warnings.push(format!(
                    "Skipped '{npath}' path due to this access issue: {why}\n"
                ));
                skipped.insert(npath.clone(), Value::from(why));
                continue;
            }
            // Paths as os.walk joins them, normalised as Ansible does.
            let prefix = start.trim_end_matches('/');
            for e in &mut group {
                let rel = e.path.strip_prefix(prefix).unwrap_or(&e.path);
                e.path = normpath(&format!("{}/{}", npath, rel.trim_start_matches('/')));
            }
            let top_path = normpath(npath);
            let mut tree = Tree {
                by_parent: HashMap::new(),
            };
            for e in &group {
                tree.by_parent.entry(parent(&e.path)).or_default().push(e);
            }
            for dir_entries in walk_order(&tree, &top_path, opts.recurse, opts.follow) {
                looked += dir_entries.len();
                for e in dir_entries {
                    if opts.depth.is_some_and(|d| e.depth > d) {
                        break;
                    }
                    if basename(&e.path).starts_with('.') && !opts.hidden {
                        continue;
                    }
                    if let Some(check) = opts.candidate(e, now) {
                        let keep = if check && let Some(re) = &contains_re {
                            let data = conn.read_file(&e.path).await.ok().flatten();
                            match data.map(|d| re.matches(&d, encoding.as_deref())) {
                                Some(Ok(hit)) => hit,
                                Some(Err(why)) => {
                                    warnings.push(format!(
                                        "Skipped '{npath}' path due to this access issue: {why}\n"
                                    ));
                                    skipped.insert(npath.clone(), Value::from(why));
                                    continue 'paths;
                                }
                                None => false,
                            }
                        } else {
                            true
                        };
                        if keep {
                            files.push((e.clone(), e.kind == 'f'));
                        }
                    }
                    if opts.limit.is_some_and(|l| files.len() == l) {
                        msg = "Limit of matches reached";
                        break;
                    }
                }
                if opts.limit.is_some_and(|l| files.len() == l) {
                    break;
                }
            }
        }
        if !warnings.is_empty() {
            msg = "Not all paths examined, check warnings for details";
        }

        let mut checksums: HashMap<String, String> = HashMap::new();
        if args.bool_or("get_checksum", false) {
            let regular: Vec<String> = files
                .iter()
                .filter(|(_, reg)| *reg)
                .map(|(e, _)| e.path.clone())
                .collect();
            if !regular.is_empty() {
                let algo = args.str_or("checksum_algorithm", "sha1");
                let mut argv = vec![format!("{algo}sum"), "-z".into(), "--".into()];
                argv.extend(regular);
                let out = conn.exec(&ExecRequest::argv(argv).read_only()).await?;
                for rec in out.stdout.split(|&b| b == 0) {
                    let rec = String::from_utf8_lossy(rec);
                    if let Some((sum, name)) = rec.split_once(' ') {
                        let name = name.strip_prefix(' ').or_else(|| name.strip_prefix('*'));
                        if let Some(name) = name {
                            checksums.insert(name.to_owned(), sum.to_owned());
                        }
                    }
                }
            }
        }
        let matched = files.len();
        let list: Vec<Value> = files
            .iter()
            .map(|(e, _)| {
                let mut r = statinfo(e);
                if let Some(sum) = checksums.get(&e.path) {
                    r.insert("checksum".into(), Value::from(sum.as_str()));
                }
                crate::template::vmap(r)
            })
            .collect();
        let mut out = Outcome::changed(false)
            .with("files", list)
            .with("matched", matched)
            .with("examined", looked)
            .with("skipped_paths", crate::template::vmap(skipped));
        out.msg = Some(msg.to_owned());
        if !warnings.is_empty() {
            out.set("warnings", Value::from(warnings));
        }
        Ok(out)
    }
}

enum Contains {
    Whole(regex::Regex),
    Lines(PyRegex),
}

impl Contains {
    /// Whether a file's content matches, as Ansible's `contentfilter`.
    fn matches(&self, data: &[u8], encoding: Option<&str>) -> Result<bool, String> {
        let enc = encoding
            .map(super::replace::Encoding::lookup)
            .transpose()?
            .unwrap_or(super::replace::Encoding::Utf8);
        let text = match enc {
            super::replace::Encoding::Utf8 => std::str::from_utf8(data).map(str::to_owned).ok(),
            super::replace::Encoding::Ascii => data.is_ascii().then(|| enc.decode(data)),
            super::replace::Encoding::Latin1 => Some(enc.decode(data)),
        };
        let Some(text) = text else {
            return Err(format!(
                "Failed to read the file due to an encoding error. current encoding: {}",
                encoding.unwrap_or(
                    "None (default determined by the Python built-in function \"open\")"
                )
            ));
        };
        // Python's text mode reads universal newlines.
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        Ok(match self {
            // Python's `$` also matches before a final newline.
            Contains::Whole(re) => {
                re.is_match(&text) || text.strip_suffix('\n').is_some_and(|t| re.is_match(t))
            }
            Contains::Lines(re) => text
                .split_inclusive('\n')
                .any(|l| re.is_match(l.as_bytes())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{TestEnv, run};

    #[test]
    fn units() {
        assert_eq!(parse_age("2d"), Some(172_800.0));
        assert_eq!(parse_age("-1W"), Some(-604_800.0));
        assert_eq!(parse_age("10"), Some(10.0));
        assert_eq!(parse_age("1y"), None);
        assert_eq!(parse_size("1k"), Some(1024.0));
        assert_eq!(parse_size("-2m"), Some(-2_097_152.0));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn printf_output() {
        let fields = [
            "1", "f", "f", "4755", "0", "0", "root", "root", "12", "99", "2049", "1", "1.5", "2.5",
            "3.5", "/p/a b",
        ];
        let raw: Vec<u8> = fields
            .iter()
            .flat_map(|f| [f.as_bytes(), b"\0"].concat())
            .collect();
        let e = parse_entries(&raw);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].mode, 0o4755);
        assert_eq!(e[0].path, "/p/a b");
        assert_eq!(e[0].mtime, 2.5);
        let info = statinfo(&e[0]);
        assert_eq!(info["mode"].as_str(), Some("4755"));
        assert_eq!(info["isuid"], Value::from(true));
    }

    fn names(out: &Outcome) -> Vec<String> {
        out.data["files"]
            .try_iter()
            .unwrap()
            .map(|f| {
                let p = f.get_attr("path").unwrap().to_string();
                p.rsplit('/').next().unwrap().to_owned()
            })
            .collect()
    }

    #[tokio::test]
    async fn walks_filters_and_counts_as_ansible() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t $x 'q\"");
        std::fs::create_dir_all(root.join("sub/deep")).unwrap();
        std::fs::create_dir_all(root.join(".hid")).unwrap();
        std::fs::write(root.join("a.conf"), "key=1\nother\n").unwrap();
        std::fs::write(root.join("b.txt"), "x").unwrap();
        std::fs::write(root.join(".h.conf"), "").unwrap();
        std::fs::write(root.join("sub/c.conf"), "nokey\n").unwrap();
        std::fs::write(root.join("sub/deep/d.conf"), "key=2\n").unwrap();
        std::fs::write(root.join(".hid/e.conf"), "").unwrap();
        std::os::unix::fs::symlink("a.conf", root.join("l.conf")).unwrap();
        let e = TestEnv::new(dir.path(), &[]);
        let q = format!("'{}'", root.display().to_string().replace('\'', "''"));
        let go = |extra: &str| {
            let y = format!("paths: {q}\n{extra}");
            let e = &e;
            async move { run(&Find, &y, e, false, false).await.unwrap() }
        };
        let out = go("patterns: '*.conf'").await;
        assert_eq!(names(&out), ["a.conf"]);
        // a.conf b.txt .h.conf l.conf sub .hid
        assert_eq!(out.data["examined"], Value::from(6));
        assert_eq!(out.msg.as_deref(), Some("All paths examined"));
        let out = go("patterns: '*.conf'\nrecurse: yes").await;
        let mut n = names(&out);
        n.sort();
        assert_eq!(n, ["a.conf", "c.conf", "d.conf", "e.conf"]);
        assert_eq!(out.data["examined"], Value::from(10));
        let out =
            go("patterns: '*.conf'\nrecurse: yes\nhidden: yes\nfile_type: any\ncontains: 'key='")
                .await;
        let mut n = names(&out);
        n.sort();
        assert_eq!(
            n,
            [".h.conf", "a.conf", "c.conf", "d.conf", "e.conf", "l.conf"]
        );
        let out = go("patterns: '*.conf'\nrecurse: yes\ncontains: 'key='").await;
        let mut n = names(&out);
        n.sort();
        assert_eq!(n, ["a.conf", "d.conf"]);
        let out = go("recurse: yes\ndepth: 1\nfile_type: directory").await;
        assert_eq!(names(&out), ["sub"]);
        let out =
            go("patterns: ['^[ab]\\..*$']\nuse_regex: yes\nexcludes: 'b.*'\nget_checksum: yes")
                .await;
        assert_eq!(names(&out), ["a.conf"]);
        let f = out.data["files"].get_item_by_index(0).unwrap();
        assert_eq!(
            f.get_attr("checksum").unwrap().as_str(),
            Some(crate::modules::copy::sha1_hex(b"key=1\nother\n").as_str())
        );
        let out = go("file_type: link").await;
        assert_eq!(names(&out), ["l.conf"]);
        let out = go("size: 5\npatterns: '*'").await;
        assert_eq!(names(&out), ["a.conf"]);
        let out = run(
            &Find,
            &format!("paths: [{q}, '{}/nope']", dir.path().display()),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert_eq!(
            out.msg.as_deref(),
            Some("Not all paths examined, check warnings for details")
        );
        assert_eq!(out.data["matched"], Value::from(2));
    }
}
