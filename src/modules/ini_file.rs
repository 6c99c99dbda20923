//! `ini_file` (community.general): options in INI files, following that
//! module's line algorithm: a fake section header stands for the global
//! section, options are matched active or commented (`#`/`;`), new options
//! go after the section's last non-blank, non-comment line, a missing
//! section is appended at the end.

use async_trait::async_trait;
use minijinja::Value;
use regex::Regex;

use super::command::expand_path;
use super::lineinfile::{backup_local, check_file_attrs, makedirs, py_dirname, resolve_links};
use super::{
    Args, DiffSupport, FileDiff, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult,
    ModuleSpec, Outcome, Param, ParamType,
};
use crate::connection::FileAttrs;
use crate::template::{py_str, vmap};

pub struct IniFile;

static SPEC: ModuleSpec = ModuleSpec {
    name: "ini_file",
    params: &[
        Param::new("path", ParamType::Path)
            .required()
            .aliases(&["dest"]),
        Param::new("section", ParamType::Str),
        Param::new("section_has_values", ParamType::List),
        Param::new("option", ParamType::Str),
        Param::new("value", ParamType::Str),
        Param::new("values", ParamType::List),
        Param::new("backup", ParamType::Bool),
        Param::new("state", ParamType::Str).choices(&["absent", "present"]),
        Param::new("exclusive", ParamType::Bool),
        Param::new("no_extra_spaces", ParamType::Bool),
        Param::new("ignore_spaces", ParamType::Bool),
        Param::new("allow_no_value", ParamType::Bool),
        Param::new("modify_inactive_option", ParamType::Bool),
        Param::new("create", ParamType::Bool),
        Param::new("follow", ParamType::Bool),
        // The file module's common arguments.
        Param::new("mode", ParamType::Mode),
        Param::new("owner", ParamType::Str),
        Param::new("group", ParamType::Str),
        Param::new("seuser", ParamType::Str),
        Param::new("serole", ParamType::Str),
        Param::new("setype", ParamType::Str),
        Param::new("selevel", ParamType::Str),
        Param::new("unsafe_writes", ParamType::Bool),
        Param::new("attributes", ParamType::Str).aliases(&["attr"]),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[&["value", "values"]],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Set, change or remove options and sections in INI files.",
    check_note: "",
    diff: DiffSupport::Yes,
    notes: &[super::file::NOTE_ATTRS_IGNORED],
};

const FAKE_SECTION: &str = "ad01e11446efb704fcdbdb21f2c43757423d91c5";

/// One `section_has_values` condition.
#[derive(Clone, Debug)]
pub(crate) struct HasValues {
    pub option: String,
    pub values: Vec<String>,
}

/// What to do to the file's text.
#[derive(Clone, Debug)]
pub(crate) struct IniEdit {
    pub section: Option<String>,
    pub section_has_values: Option<Vec<HasValues>>,
    pub option: Option<String>,
    pub values: Vec<String>,
    pub present: bool,
    pub exclusive: bool,
    pub no_extra_spaces: bool,
    pub ignore_spaces: bool,
    pub allow_no_value: bool,
    pub modify_inactive_option: bool,
}

/// The captures of the option-line pattern that matter: whether the
/// line is commented out (group 2) and the value (group 8).
struct OptMatch {
    commented: bool,
    value: String,
}

/// `( |\t)*([#;]?)( |\t)*(OPTION)( |\t)*(=|$)( |\t)*(.*)` with `re.match`;
/// `active` leaves out the comment marker.
fn opt_regex(option: &str, active: bool) -> Regex {
    let marker = if active { "()" } else { "([#;]?)" };
    let pat = format!(
        r"\A[ \t]*{marker}[ \t]*(?:{})[ \t]*(?:=|\z)[ \t]*(.*)",
        regex::escape(option)
    );
    // The escaped option is a valid pattern, so this cannot fail; fall
    // back to a pattern that never matches all the same.
    Regex::new(&pat).unwrap_or_else(|_| Regex::new(r"[^\s\S]").expect("static pattern"))
}

struct Matcher {
    any: Regex,
    active: Regex,
}

impl Matcher {
    fn new(option: &str) -> Matcher {
        Matcher {
            any: opt_regex(option, false),
            active: opt_regex(option, true),
        }
    }
    fn find(re: &Regex, line: &str) -> Option<OptMatch> {
        // `$` in Python matches before the line's newline; `.*` stops there.
        let body = line.strip_suffix('\n').unwrap_or(line);
        let c = re.captures(body)?;
        Some(OptMatch {
            commented: c.get(1).is_some_and(|m| !m.as_str().is_empty()),
            value: c.get(2).map(|m| m.as_str().to_owned()).unwrap_or_default(),
        })
    }
    fn opt(&self, line: &str) -> Option<OptMatch> {
        Matcher::find(&self.any, line)
    }
    fn active_opt(&self, line: &str) -> Option<OptMatch> {
        Matcher::find(&self.active, line)
    }
}

fn blank_or_comment(line: &str) -> bool {
    let body = line.strip_suffix('\n').unwrap_or(line);
    let t = body.trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with('#') || t.starts_with(';')
}

fn has_values(conds: Option<&[HasValues]>, lines: &[String]) -> bool {
    let Some(conds) = conds else { return true };
    conds.iter().all(|c| {
        let m = Matcher::new(&c.option);
        lines.iter().any(|l| {
            m.opt(l)
                .is_some_and(|o| c.values.is_empty() || c.values.contains(&o.value))
        })
    })
}

/// Python's text-mode `readlines()` of a UTF-8 (BOM allowed) file:
/// universal newlines, every line ending in `\n` but maybe the last.
pub(crate) fn read_lines(data: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    text.split_inclusive('\n').map(str::to_owned).collect()
}

/// Applies the edit to the file's lines: (changed, msg, new lines).
pub(crate) fn do_ini(mut lines: Vec<String>, e: &IniEdit) -> (bool, &'static str, Vec<String>) {
    let mut values: Vec<String> = Vec::new();
    for v in &e.values {
        if !values.contains(v) {
            values.push(v.clone());
        }
    }
    let mut changed = false;
    if lines.is_empty() {
        lines.push("\n".into());
    }
    if let Some(last) = lines.last_mut()
        && !last.ends_with('\n')
    {
        last.push('\n');
        changed = true;
    }
    lines.insert(0, format!("[{FAKE_SECTION}]"));
    lines.push("[".into());
    let section = e
        .section
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| FAKE_SECTION.to_owned());
    let conds = e.section_has_values.as_deref();
    let mut within = false;
    let (mut start, mut end) = (0usize, 0usize);
    let mut msg = "OK";
    let assign = |o: &str, v: &str| {
        if e.no_extra_spaces {
            format!("{o}={v}\n")
        } else {
            format!("{o} = {v}\n")
        }
    };
    let section_re = Regex::new(&format!(r"\A\[\s*{}\s*\]", regex::escape(section.trim()))).ok();
    for (i, line) in lines.iter().enumerate() {
        if within && line.starts_with('[') {
            if has_values(conds, &lines[start..i]) {
                end = i;
                break;
            }
            within = false;
            start = 0;
            end = 0;
        }
        if section_re.as_ref().is_some_and(|r| r.is_match(line)) {
            within = true;
            start = i;
        }
    }
    let before: Vec<String> = lines[..start].to_vec();
    let mut sec: Vec<String> = lines[start..end].to_vec();
    let after: Vec<String> = lines[end..].to_vec();
    let mut changed_lines = vec![false; sec.len()];
    let m = e.option.as_deref().map(Matcher::new);
    let matches = |m: &Matcher, l: &str| {
        if e.modify_inactive_option {
            m.opt(l)
        } else {
            m.active_opt(l)
        }
    };
    let mut no_value_present = false;

    let update = |sec: &mut Vec<String>,
                  changed_lines: &mut Vec<bool>,
                  m: &Matcher,
                  i: usize,
                  newline: String,
                  changed: &mut bool,
                  msg: &mut &'static str| {
        let mut option_changed = None;
        if e.ignore_spaces
            && let Some(old) = m.opt(&sec[i])
            && !old.commented
        {
            let new_value = m.opt(&newline).map(|n| n.value);
            option_changed = Some(Some(old.value) != new_value);
        }
        let option_changed = option_changed.unwrap_or(sec[i] != newline);
        if option_changed {
            sec[i] = newline;
            *changed = true;
            *msg = "option changed";
        }
        changed_lines[i] = true;
    };

    if let (true, Some(option), Some(m)) = (e.present, e.option.as_deref(), m.as_ref()) {
        for i in 0..sec.len() {
            let Some(found) = matches(m, &sec[i]) else {
                continue;
            };
            if !values.is_empty() && values.contains(&found.value) {
                let newline = if found.value.is_empty() && e.allow_no_value {
                    no_value_present = true;
                    format!("{option}\n")
                } else {
                    assign(option, &found.value)
                };
                update(
                    &mut sec,
                    &mut changed_lines,
                    m,
                    i,
                    newline,
                    &mut changed,
                    &mut msg,
                );
                values.retain(|v| *v != found.value);
            } else if values.is_empty() && e.allow_no_value {
                update(
                    &mut sec,
                    &mut changed_lines,
                    m,
                    i,
                    format!("{option}\n"),
                    &mut changed,
                    &mut msg,
                );
                no_value_present = true;
                break;
            }
        }
    }
    if e.present && e.exclusive && !e.allow_no_value {
        let option = e.option.as_deref().unwrap_or("");
        let m = Matcher::new(option);
        if !values.is_empty() {
            for i in 0..sec.len() {
                if !changed_lines[i] && matches(&m, &sec[i]).is_some() {
                    let v = values.remove(0);
                    update(
                        &mut sec,
                        &mut changed_lines,
                        &m,
                        i,
                        assign(option, &v),
                        &mut changed,
                        &mut msg,
                    );
                    if values.is_empty() {
                        break;
                    }
                }
            }
        }
        let mut i = sec.len();
        while i > 1 {
            i -= 1;
            if !changed_lines[i] && matches(&m, &sec[i]).is_some() {
                sec.remove(i);
                changed_lines.remove(i);
                changed = true;
                msg = "option changed";
            }
        }
    }
    if e.present {
        for idx in (1..=sec.len()).rev() {
            if !blank_or_comment(&sec[idx - 1]) {
                if let Some(option) = e.option.as_deref() {
                    if !values.is_empty() {
                        for v in values.iter().rev() {
                            sec.insert(idx, assign(option, v));
                            msg = "option added";
                            changed = true;
                        }
                    } else if e.allow_no_value && !no_value_present {
                        sec.insert(idx, format!("{option}\n"));
                        msg = "option added";
                        changed = true;
                    }
                }
                break;
            }
        }
    } else if let Some(m) = m.as_ref() {
        let keep: Vec<String> = if e.exclusive {
            sec.iter()
                .filter(|l| m.active_opt(l).is_none())
                .cloned()
                .collect()
        } else if !values.is_empty() {
            sec.iter()
                .filter(|l| !m.active_opt(l).is_some_and(|o| values.contains(&o.value)))
                .cloned()
                .collect()
        } else {
            sec.clone()
        };
        if keep != sec {
            changed = true;
            msg = "option changed";
            sec = keep;
        }
    } else if !sec.is_empty() {
        sec.clear();
        msg = "section removed";
        changed = true;
    }

    let mut out: Vec<String> = before;
    out.extend(sec);
    out.extend(after);
    if !out.is_empty() {
        out.remove(0);
    }
    out.pop();
    if !within && e.present {
        out.push(format!("[{section}]\n"));
        msg = "section and option added";
        if let Some(conds) = conds {
            for c in conds {
                if Some(c.option.as_str()) != e.option.as_deref() {
                    if !c.values.is_empty() {
                        for v in &c.values {
                            out.push(assign(&c.option, v));
                        }
                    } else if e.allow_no_value {
                        out.push(format!("{}\n", c.option));
                    }
                } else if !e.exclusive {
                    for v in &c.values {
                        if !values.contains(v) {
                            values.push(v.clone());
                        }
                    }
                }
            }
        }
        match e.option.as_deref() {
            Some(option) if !values.is_empty() => {
                for v in &values {
                    out.push(assign(option, v));
                }
            }
            Some(option) if e.allow_no_value => out.push(format!("{option}\n")),
            _ => msg = "only section added",
        }
        changed = true;
    }
    (changed, msg, out)
}

fn opt_str(args: &Args, name: &str) -> Option<String> {
    args.get(name).filter(|v| !v.is_none()).map(py_str)
}

fn parse_has_values(args: &Args) -> Result<Option<Vec<HasValues>>, String> {
    let Some(list) = args.list("section_has_values") else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for item in list {
        let get = |k: &str| {
            item.get_attr(k)
                .ok()
                .filter(|v| !v.is_none() && !v.is_undefined())
        };
        let Some(option) = get("option") else {
            return Err("missing required arguments: option found in section_has_values".into());
        };
        let value = get("value");
        let values = get("values");
        if value.is_some() && values.is_some() {
            return Err(
                "parameters are mutually exclusive: value|values found in section_has_values"
                    .into(),
            );
        }
        let values = match (value, values) {
            (Some(v), _) => vec![py_str(&v)],
            (None, Some(vs)) => match vs.try_iter() {
                Ok(it) => it.map(|v| py_str(&v)).collect(),
                Err(_) => vec![py_str(&vs)],
            },
            (None, None) => Vec::new(),
        };
        out.push(HasValues {
            option: py_str(&option),
            values,
        });
    }
    Ok(Some(out))
}

#[async_trait]
impl Module for IniFile {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let conn = ctx.conn;
        let path = expand_path(conn, &args.str_or("path", "")).await?;
        let present = args.str_or("state", "present") == "present";
        let allow_no_value = args.bool_or("allow_no_value", false);
        let value = opt_str(args, "value");
        let values = args.str_list("values");
        if present
            && !allow_no_value
            && value.is_none()
            && values.as_ref().is_none_or(Vec::is_empty)
        {
            return Err(ModuleError::Failed(
                "Parameter 'value(s)' must be defined if state=present and allow_no_value=False."
                    .into(),
            ));
        }
        let values = match value {
            Some(v) => vec![v],
            None => values.unwrap_or_default(),
        };
        let edit = IniEdit {
            section: opt_str(args, "section"),
            section_has_values: parse_has_values(args).map_err(ModuleError::Failed)?,
            option: opt_str(args, "option"),
            values,
            present,
            exclusive: args.bool_or("exclusive", true),
            no_extra_spaces: args.bool_or("no_extra_spaces", false),
            ignore_spaces: args.bool_or("ignore_spaces", false),
            allow_no_value,
            modify_inactive_option: args.bool_or("modify_inactive_option", true),
        };
        let target = if args.bool_or("follow", false) {
            resolve_links(conn, &path).await?
        } else {
            path.clone()
        };
        let lines = match conn.read_file(&target).await? {
            Some(data) => read_lines(&data),
            None => {
                if !args.bool_or("create", true) {
                    return Ok(
                        Outcome::failure(format!("Destination {target} does not exist!"))
                            .with("rc", 257),
                    );
                }
                let dir = py_dirname(&target);
                if !ctx.check_mode && !dir.is_empty() {
                    makedirs(conn, &dir).await?;
                }
                Vec::new()
            }
        };
        let before = lines.concat();
        let (mut changed, msg, new_lines) = do_ini(lines, &edit);
        let after = new_lines.concat();
        let header = format!("{target} (content)");
        let (dbefore, dafter) = if ctx.diff {
            (before.clone(), after.clone())
        } else {
            (String::new(), String::new())
        };
        let mut out = Outcome::changed(false);
        out.set(
            "diff",
            vmap([
                ("before", Value::from(dbefore.as_str())),
                ("after", Value::from(dafter.as_str())),
                ("before_header", Value::from(header.as_str())),
                ("after_header", Value::from(header.as_str())),
            ]),
        );
        if ctx.diff && changed {
            out.diffs.push(FileDiff {
                before_header: header.clone(),
                after_header: header,
                before: dbefore,
                after: dafter,
            });
        }
        if changed && !ctx.check_mode {
            if args.bool_or("backup", false) {
                let b = backup_local(conn, &target).await?;
                out.set("backup_file", b);
            }
            conn.write_file(&target, after.as_bytes(), &FileAttrs::default())
                .await?;
        }
        // As in Ansible, file attributes count only outside check mode.
        if !ctx.check_mode && !ctx.predict && conn.stat(&path, true).await?.is_some() {
            let mut m = String::new();
            let mut diffs = Vec::new();
            check_file_attrs(ctx, args, &path, &mut changed, &mut m, &mut diffs).await?;
        }
        out.changed = changed;
        out.msg = Some(msg.to_owned());
        out.set("path", path);
        if let Err(e) = super::file::add_path_info(ctx, &mut out).await {
            return super::file::finish(Err(e));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(section: Option<&str>, option: Option<&str>, values: &[&str]) -> IniEdit {
        IniEdit {
            section: section.map(str::to_owned),
            section_has_values: None,
            option: option.map(str::to_owned),
            values: values.iter().map(|s| s.to_string()).collect(),
            present: true,
            exclusive: true,
            no_extra_spaces: false,
            ignore_spaces: false,
            allow_no_value: false,
            modify_inactive_option: true,
        }
    }

    fn apply(text: &str, e: &IniEdit) -> (bool, &'static str, String) {
        let (c, m, l) = do_ini(read_lines(text.as_bytes()), e);
        (c, m, l.concat())
    }

    #[test]
    fn adds_changes_and_removes() {
        let e = edit(Some("main"), Some("port"), &["80"]);
        assert_eq!(
            apply("", &e),
            (
                true,
                "section and option added",
                "\n[main]\nport = 80\n".into()
            )
        );
        assert_eq!(
            apply("[main]\nport = 80\n", &e),
            (false, "OK", "[main]\nport = 80\n".into())
        );
        assert_eq!(
            apply("[main]\n# port = 1\nx=1\n\n[b]\n", &e),
            (
                true,
                "option changed",
                "[main]\nport = 80\nx=1\n\n[b]\n".into()
            )
        );
        let mut e2 = e.clone();
        e2.modify_inactive_option = false;
        assert_eq!(
            apply("[main]\n# port = 1\nx=1\n\n[b]\n", &e2),
            (
                true,
                "option added",
                "[main]\n# port = 1\nx=1\nport = 80\n\n[b]\n".into()
            )
        );
        // Global section (no section).
        let g = edit(None, Some("top"), &["1"]);
        assert_eq!(
            apply("a=1\n[s]\nb=2\n", &g),
            (true, "option added", "a=1\ntop = 1\n[s]\nb=2\n".into())
        );
        // Multiple values, exclusive.
        let mv = edit(Some("s"), Some("k"), &["1", "2"]);
        assert_eq!(
            apply("[s]\nk = 1\nk = 3\nk = 4\n", &mv),
            (true, "option changed", "[s]\nk = 1\nk = 2\n".into())
        );
        let mut absent = edit(Some("s"), Some("k"), &[]);
        absent.present = false;
        assert_eq!(
            apply("[s]\nk = 1\n#k = 2\nj=1\n", &absent),
            (true, "option changed", "[s]\n#k = 2\nj=1\n".into())
        );
        let mut sec_absent = edit(Some("s"), None, &[]);
        sec_absent.present = false;
        assert_eq!(
            apply("[a]\nx=1\n[s]\nk = 1\n[t]\n", &sec_absent),
            (true, "section removed", "[a]\nx=1\n[t]\n".into())
        );
        let mut nes = edit(Some("s"), Some("k"), &["v"]);
        nes.no_extra_spaces = true;
        assert_eq!(
            apply("[s]\nk = v", &nes),
            (true, "option changed", "[s]\nk=v\n".into())
        );
        nes.no_extra_spaces = false;
        nes.ignore_spaces = true;
        assert_eq!(
            apply("[s]\nk=v\n", &nes),
            (false, "OK", "[s]\nk=v\n".into())
        );
        let mut nv = edit(Some("s"), Some("flag"), &[]);
        nv.allow_no_value = true;
        assert_eq!(
            apply("[s]\nk=v\n", &nv),
            (true, "option added", "[s]\nk=v\nflag\n".into())
        );
        assert!(!apply("[s]\nk=v\nflag\n", &nv).0);
    }
}
